//! Rules shared between objects: which of a deleted object's rules another object's endpoint
//! still needs.
//!
//! Two endpoints (two services) may share a security group. The second one reaches Ready
//! without a rule of its own when the first one's rule already admits its clients; revoking
//! that rule when the first object is deleted would cut the second one's clients off. So
//! before revoking, the deleting object asks, for every other object's endpoint in the VPC
//! (found by its ownership tags, whatever its private DNS says: it may turn it on any moment),
//! whether removing its rules would block a client that reaches that endpoint now. A rule
//! that would is not revoked but handed over: its ownership tags are rewritten to name the
//! other object (and [`HANDED_OVER_FROM_TAG`] the deleted one), so that it is the other
//! object's to revoke when it is deleted in turn.
//!
//! Everything is decided from AWS alone (tags and the VPC's network), so it holds however long
//! ago the other object last reconciled. The clients of the other endpoint are taken to be
//! every ENI in the VPC that the default selection would capture: its spec may select fewer,
//! so a rule may be kept that it does not need (it then goes with that object), never the
//! other way round. Its ports (`spec.ports`) are not in AWS either: it is checked on 443 and on
//! every port the rules cover, each port alone (a client reaching it on 5432 and not on 443 is
//! still cut off by taking the 5432 rule away). Endpoints created outside vpce-rollout are not considered: nobody could
//! take the rule over.
//!
//! Pure, but it runs the analysis once per other endpoint and rule: the engine calls it
//! ([`successors`]) only for the last step of a deletion, and [`super::drift`] only for the
//! rules of ports a spec no longer names (rare: a ports edit, or a rule handed over on a port
//! the heir does not use).

use std::collections::BTreeSet;

use super::{PlanInput, location, rules};
use crate::analysis::{self, Analysis, Ports};
use crate::api::{DeletionPolicy, HANDED_OVER_FROM_TAG, InterfaceEndpointSpec, Owner};
use crate::model::{SecurityGroupRule, Snapshot, Tag, VpcEndpoint, tag_pairs, tags_from};

/// Another object whose endpoint still needs some of this object's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Successor {
    pub owner: Owner,
    /// The endpoint that needs them.
    pub endpoint_id: String,
    pub rule_ids: Vec<String>,
}

impl Successor {
    /// The tags that make the rules the successor's: its ownership tags, and who handed them
    /// over.
    pub fn tags(&self, from: &Owner) -> Vec<Tag> {
        let mut tags = tags_from(self.owner.tags());
        tags.push(Tag {
            key: HANDED_OVER_FROM_TAG.to_string(),
            value: from.owner_tag(),
        });
        tags
    }
}

/// The objects to hand this object's rules over to, for [`PlanInput::successors`]: empty
/// unless the object is being deleted with `deletionPolicy: Delete`, its endpoints are gone
/// (the rules are about to be revoked) and it still owns rules.
pub fn successors(input: &PlanInput<'_>) -> Vec<Successor> {
    if !input.deleting
        || super::deletion::policy(input.spec, input.config) != DeletionPolicy::Delete
        || location::owned_endpoints(input.world, input.owner)
            .next()
            .is_some()
    {
        return Vec::new();
    }
    let mine: Vec<&SecurityGroupRule> = rules::owned_rules(input).collect();
    if mine.is_empty() {
        return Vec::new();
    }
    needed_elsewhere(input.world, input.owner, mine)
}

/// For each other object's endpoint in `world` (by owner UID, then endpoint id), the rules of
/// `mine` it needs; the rules no other endpoint needs are the ones left out.
pub(crate) fn needed_elsewhere(
    world: &Snapshot,
    me: &Owner,
    mine: Vec<&SecurityGroupRule>,
) -> Vec<Successor> {
    let mut others: Vec<(Owner, &VpcEndpoint)> = world
        .vpc_endpoints
        .iter()
        .filter(|e| !matches!(e.state_lower().as_str(), "deleting" | "deleted"))
        .filter_map(|e| Some((Owner::from_tags(tag_pairs(&e.tags))?, e)))
        .filter(|(owner, _)| owner.uid != me.uid)
        .collect();
    others.sort_by(|a, b| (&a.0.uid, &a.1.vpc_endpoint_id).cmp(&(&b.0.uid, &b.1.vpc_endpoint_id)));

    // The rules that may go so far: removing all of them together cuts nobody off.
    let mut removable = mine;
    let mut successors = Vec::new();
    for (owner, endpoint) in others {
        let kept = needed_by(world, &owner, endpoint, &mut removable);
        if !kept.is_empty() {
            successors.push(Successor {
                owner,
                endpoint_id: endpoint.vpc_endpoint_id.clone(),
                rule_ids: kept,
            });
        }
    }
    successors
}

/// The rules of `removable` that `endpoint` needs, taken out of `removable`. Security-group
/// rules only ever allow, so removing fewer rules than a set that cuts nobody off cuts nobody
/// off: rules are added to the removal set one at a time and kept whenever adding them would
/// block a client.
fn needed_by(
    world: &Snapshot,
    owner: &Owner,
    endpoint: &VpcEndpoint,
    removable: &mut Vec<&SecurityGroupRule>,
) -> Vec<String> {
    // Per port at stake: the spec on that port alone, and the clients that reach it there now.
    let mut checks: Vec<(InterfaceEndpointSpec, BTreeSet<String>)> = Vec::new();
    for port in ports_at_stake(removable).iter() {
        let spec = spec_of(endpoint, port);
        let Ok(now) = analysis::analyze(&spec, Some(owner), world) else {
            // Its reachability cannot be told: keep everything for it.
            return removable
                .drain(..)
                .map(|r| r.security_group_rule_id.clone())
                .collect();
        };
        let reachable: BTreeSet<String> = reachable(&now).into_iter().map(str::to_string).collect();
        if !reachable.is_empty() {
            checks.push((spec, reachable));
        }
    }
    if checks.is_empty() {
        return Vec::new();
    }
    let cuts = |rules: &[&SecurityGroupRule]| {
        let after_world = analysis::without_rules(world, rules);
        checks.iter().any(
            |(spec, reachable)| match analysis::analyze(spec, Some(owner), &after_world) {
                Ok(after) => after
                    .blocked()
                    .any(|c| reachable.contains(&c.network_interface_id)),
                Err(_) => true,
            },
        )
    };
    if !cuts(removable) {
        return Vec::new();
    }
    let mut safe: Vec<&SecurityGroupRule> = Vec::new();
    let mut kept = Vec::new();
    for rule in removable.iter() {
        let mut candidate = safe.clone();
        candidate.push(rule);
        if cuts(&candidate) {
            kept.push(rule.security_group_rule_id.clone());
        } else {
            safe = candidate;
        }
    }
    *removable = safe;
    kept
}

fn reachable(analysis: &Analysis) -> BTreeSet<&str> {
    let blocked: BTreeSet<&str> = analysis
        .blocked()
        .map(|c| c.network_interface_id.as_str())
        .collect();
    analysis
        .clients
        .iter()
        .map(|c| c.network_interface_id.as_str())
        .filter(|id| !blocked.contains(id))
        .collect()
}

/// The ports another endpoint may be used on, as far as `rules` matter: 443, and every port the
/// rules cover (a rule of a range wider than `spec.ports` allows, which the controller never
/// adds, counts by its ends).
fn ports_at_stake(rules: &[&SecurityGroupRule]) -> Ports {
    let mut ports = vec![crate::api::DEFAULT_PORT];
    for rule in rules {
        let (Some(from), Some(to)) = (rule.from_port, rule.to_port) else {
            continue;
        };
        let (Ok(from), Ok(to)) = (u16::try_from(from), u16::try_from(to)) else {
            continue;
        };
        if to.saturating_sub(from) < crate::api::MAX_PORTS as u16 {
            ports.extend(from..=to);
        } else {
            ports.extend([from, to]);
        }
    }
    Ports::new(ports)
}

/// A spec for another object's endpoint as AWS shows it, with the default client selection,
/// checked on `port`.
fn spec_of(endpoint: &VpcEndpoint, port: u16) -> InterfaceEndpointSpec {
    let groups: Vec<&str> = endpoint.groups.iter().map(|g| g.group_id.as_str()).collect();
    serde_json::from_value(serde_json::json!({
        "vpcId": endpoint.vpc_id,
        "serviceName": endpoint.service_name,
        "subnetIds": endpoint.subnet_ids,
        "securityGroupIds": groups,
        "ports": [port],
    }))
    .expect("a spec of plain strings deserializes")
}
