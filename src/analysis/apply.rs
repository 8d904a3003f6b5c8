//! The world as it would be with some rules added: pure, for the property test ("the plan
//! fixes what it says it fixes") and for the state machine's expectations.

use super::{Direction, RuleChange};
use crate::aws::RulePeer;
use crate::model::{IpPermission, IpRange, Ipv6Range, PrefixListId, Snapshot, UserIdGroupPair};

/// `snapshot` with `rules` added to their groups' `IpPermissions` / `IpPermissionsEgress`.
///
/// A rule identical to one already there is not added twice (EC2 answers
/// `InvalidPermission.Duplicate`); a rule for a group the snapshot does not hold is dropped,
/// since EC2 would refuse it too. `SecurityGroupRules` (the controller's own rules, with ids)
/// is left alone: the rules have no id until EC2 assigns one.
pub fn apply_rules(snapshot: &Snapshot, rules: &[RuleChange]) -> Snapshot {
    let mut out = snapshot.clone();
    for rule in rules {
        let Some(group) = out
            .security_groups
            .iter_mut()
            .find(|g| g.group_id == rule.group_id)
        else {
            continue;
        };
        let permission = permission(rule);
        let list = match rule.direction {
            Direction::Ingress => &mut group.ip_permissions,
            Direction::Egress => &mut group.ip_permissions_egress,
        };
        if !list.contains(&permission) {
            list.push(permission);
        }
    }
    out
}

fn permission(rule: &RuleChange) -> IpPermission {
    let mut p = IpPermission {
        ip_protocol: rule.protocol,
        from_port: Some(i32::from(rule.from_port)),
        to_port: Some(i32::from(rule.to_port)),
        ..Default::default()
    };
    match &rule.peer {
        RulePeer::Group(g) => p.user_id_group_pairs.push(UserIdGroupPair {
            group_id: g.clone(),
            ..Default::default()
        }),
        RulePeer::CidrIpv4(c) => p.ip_ranges.push(IpRange {
            cidr_ip: c.clone(),
            description: None,
        }),
        RulePeer::CidrIpv6(c) => p.ipv6_ranges.push(Ipv6Range {
            cidr_ipv6: c.clone(),
            description: None,
        }),
        RulePeer::PrefixList(id) => p.prefix_list_ids.push(PrefixListId {
            prefix_list_id: id.clone(),
            description: None,
        }),
    }
    p
}
