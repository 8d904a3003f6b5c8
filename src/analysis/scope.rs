//! Which security groups the remediation may add rules to ([`RuleScope`]): an EndpointGrant's
//! endpoint and client groups, and, in a shared VPC, only the groups of the account the
//! controller acts in. A block whose only fix is a rule outside the scope is reported as not
//! fixable, saying why; the analysis itself (who is blocked, and by what) does not change.

use std::collections::BTreeSet;

use super::Direction;

/// The bounds of the rules the remediation proposes. The default bounds nothing (the `plan`
/// command, and objects outside any tenancy).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleScope {
    /// Endpoint security groups ingress rules may be added to; `None`: any.
    pub endpoint_groups: Option<BTreeSet<String>>,
    /// Client security groups egress rules may be added to; `None`: any.
    pub client_groups: Option<BTreeSet<String>>,
    /// The EndpointGrant that draws the group bounds, named in the messages.
    pub grant: Option<String>,
    /// The account the controller acts in: a group another account owns (a shared VPC, RAM) is
    /// never edited. `None`: not known, every group's owner is taken as the controller's.
    pub account: Option<String>,
}

impl RuleScope {
    /// Why no rule may be added to `group_id` (owned by `owner`, as EC2 describes it) in
    /// `direction`; `None` when one may.
    pub fn refuses(&self, group_id: &str, owner: Option<&str>, direction: Direction) -> Option<String> {
        if let (Some(account), Some(owner)) = (&self.account, owner)
            && account != owner
        {
            return Some(format!(
                "{group_id} belongs to account {owner}, not to {account} where the controller acts (a \
                 shared VPC): another account's security groups are never edited; its owner must add the rule"
            ));
        }
        let (granted, field) = match direction {
            Direction::Ingress => (&self.endpoint_groups, "endpointSecurityGroupIds"),
            Direction::Egress => (&self.client_groups, "clientSecurityGroupIds"),
        };
        match granted {
            Some(groups) if !groups.contains(group_id) => Some(format!(
                "not granted: {group_id} is not in {}'s {field}, so the controller never edits it",
                self.grant.as_deref().map_or_else(
                    || "the EndpointGrant".to_string(),
                    |g| format!("EndpointGrant {g}")
                )
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_outside_the_grant_or_of_another_account_are_refused_with_why() {
        let scope = RuleScope {
            endpoint_groups: Some(["sg-e".to_string()].into()),
            client_groups: Some(["sg-c".to_string()].into()),
            grant: Some("team-a".into()),
            account: Some("111111111111".into()),
        };
        assert_eq!(
            scope.refuses("sg-e", Some("111111111111"), Direction::Ingress),
            None
        );
        assert_eq!(scope.refuses("sg-c", None, Direction::Egress), None);
        let not_granted = scope.refuses("sg-x", None, Direction::Egress).unwrap();
        assert_eq!(
            not_granted,
            "not granted: sg-x is not in EndpointGrant team-a's clientSecurityGroupIds, so the controller never edits it"
        );
        assert!(
            scope
                .refuses("sg-c", None, Direction::Ingress)
                .unwrap()
                .contains("endpointSecurityGroupIds"),
            "a client group is not an endpoint group"
        );
        let shared = scope
            .refuses("sg-c", Some("222222222222"), Direction::Egress)
            .unwrap();
        assert!(
            shared.starts_with("sg-c belongs to account 222222222222, not to 111111111111"),
            "{shared}"
        );
        assert_eq!(
            RuleScope::default().refuses("sg-x", Some("222222222222"), Direction::Egress),
            None
        );
    }
}
