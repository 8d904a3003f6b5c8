//! The object's own security-group rules: the requests that add them (described and tagged as
//! the object's, [`authorize`]) and the ones found in the observed world ([`owned_rules`]).
//!
//! A leaf: the stages that add rules ([`super::access`], [`super::dns`], [`super::drift`]),
//! deletion and the status all build on it, and it builds on no stage.

use std::collections::BTreeMap;

use super::wording::rule_description;
use super::{Action, PlanInput};
use crate::analysis::{Direction, RuleChange};

use crate::aws::{AuthorizeRules, NewRule};
use crate::model::{SecurityGroupRule, tag_pairs};

/// One AuthorizeSecurityGroupIngress/Egress request per group and direction, every rule
/// described and tagged as the object's own (the tags are what deletion looks for), and the
/// cluster's.
pub fn authorize(rules: &[&RuleChange], input: &PlanInput<'_>) -> Action {
    let (spec, owner) = (input.spec, input.owner);
    let mut batches: BTreeMap<(&str, bool), Vec<NewRule>> = BTreeMap::new();
    for rule in rules {
        let egress = rule.direction == Direction::Egress;
        batches
            .entry((rule.group_id.as_str(), egress))
            .or_default()
            .push(NewRule {
                protocol: rule.protocol,
                from_port: i32::from(rule.from_port),
                to_port: i32::from(rule.to_port),
                peer: rule.peer.clone(),
                description: rule_description(rule, spec, owner),
            });
    }
    Action::AuthorizeRules(
        batches
            .into_iter()
            .map(|((group_id, egress), rules)| AuthorizeRules {
                group_id: group_id.to_string(),
                egress,
                rules,
                tags: super::cluster::ec2_tags(owner, input.config.cluster_name.as_deref()),
            })
            .collect(),
    )
}

/// Rules in the observed world carrying both ownership tags of the object, and no other
/// cluster's tag.
pub(crate) fn owned_rules<'a>(input: &PlanInput<'a>) -> impl Iterator<Item = &'a SecurityGroupRule> {
    let owner = input.owner;
    let ours = input.config.cluster_name.as_deref();
    input
        .world
        .security_group_rules
        .iter()
        .filter(move |r| owner.owns(tag_pairs(&r.tags)) && super::cluster::other(&r.tags, ours).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Check;
    use crate::plan::fixtures::*;

    #[test]
    fn rule_descriptions_use_only_characters_ec2_accepts() {
        let r = RuleChange::https(SG_VPCE, SG_ZABBIX, Check::EndpointIngress);
        let text = rule_description(&r, &spec(), &owner());
        let allowed = |c: char| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c);
        assert!(text.chars().all(allowed), "{text}");
        assert!(text.len() <= 255);
    }

    #[test]
    fn one_request_per_group_and_direction() {
        let rules = [
            RuleChange::https(SG_VPCE, SG_ZABBIX, Check::EndpointIngress),
            RuleChange::https(SG_VPCE, SG_LAMBDA, Check::EndpointIngress),
            RuleChange::https(SG_ZABBIX, SG_VPCE, Check::ClientEgress),
        ];
        let refs: Vec<&RuleChange> = rules.iter().collect();
        let (world, analysis, status) = (incident_world(), Ok(reachable_analysis()), Default::default());
        let Action::AuthorizeRules(batches) = authorize(&refs, &input(&world, &analysis, &status)) else {
            unreachable!()
        };
        let keys: Vec<_> = batches
            .iter()
            .map(|b| (b.group_id.as_str(), b.egress, b.rules.len()))
            .collect();
        assert_eq!(
            keys,
            [(SG_ZABBIX, true, 1), (SG_VPCE, false, 2)],
            "sorted by group"
        );
    }
}
