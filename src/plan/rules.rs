//! The object's own security-group rules: the requests that add them (described and tagged as
//! the object's, [`authorize`]), the ones found in the observed world ([`owned_rules`]), and
//! those for ports `spec.ports` no longer names ([`stale_port_rules`], revoked by [`revoke`]).
//!
//! A leaf: the stages that add rules ([`super::access`], [`super::dns`], [`super::drift`]),
//! deletion and the status all build on it, and it builds on no stage.

use std::collections::BTreeMap;

use super::wording::rule_description;
use super::{Action, PlanInput, RevokeRules};
use crate::analysis::{Direction, Ports, RuleChange};

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

/// The object's own rules that reach a port `spec.ports` does not name: left from a ports edit
/// (a rule of `8080-8082` once the spec says `[8080, 8081]`). A rule for 443 under the default
/// `[443]` is never stale: the rules of the 443 days are the rules for `[443]`.
pub(crate) fn stale_port_rules<'a>(input: &PlanInput<'a>) -> Vec<&'a SecurityGroupRule> {
    let ports = Ports::of(input.spec);
    if ports.is_empty() {
        return Vec::new();
    }
    owned_rules(input)
        .filter(|r| {
            let port = |p: Option<i32>| p.and_then(|p| u16::try_from(p).ok());
            match (port(r.from_port), port(r.to_port)) {
                (Some(from), Some(to)) => !ports.covers(from, to),
                // Every port (protocol -1, or no ports): never one the controller adds.
                _ => true,
            }
        })
        .collect()
}

/// One RevokeSecurityGroupIngress/Egress request per group and direction.
pub(crate) fn revoke(rules: &[&SecurityGroupRule]) -> Vec<RevokeRules> {
    let mut batches: BTreeMap<(&str, bool), Vec<String>> = BTreeMap::new();
    for rule in rules {
        batches
            .entry((rule.group_id.as_str(), rule.is_egress))
            .or_default()
            .push(rule.security_group_rule_id.clone());
    }
    batches
        .into_iter()
        .map(|((group_id, egress), rule_ids)| RevokeRules {
            group_id: group_id.to_string(),
            egress,
            rule_ids,
        })
        .collect()
}

/// The ports `rules` reach that `spec.ports` does not name, for messages.
pub(crate) fn ports_no_longer_named(rules: &[&SecurityGroupRule], spec_ports: &Ports) -> Ports {
    let mut ports = Vec::new();
    for rule in rules {
        let (from, to) = (rule.from_port.unwrap_or(0), rule.to_port.unwrap_or(65535));
        let (from, to) = (from.clamp(0, 65535) as u16, to.clamp(0, 65535) as u16);
        // A wide range is named by its ends, not listed.
        if to.saturating_sub(from) <= crate::api::MAX_PORTS as u16 {
            ports.extend(from..=to);
        } else {
            ports.extend([from, to]);
        }
    }
    Ports::new(ports).minus(spec_ports)
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
