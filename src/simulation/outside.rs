//! Changes to the AWS account by anyone but the controller, drawn per seed: people with the
//! console (rules, ENIs, the endpoint itself), the owner of a service that requires acceptance,
//! and EC2 being slow or failing an endpoint. Each goes through the simulated world's
//! out-of-band helpers (`aws/sim/drift.rs`), never through the controller's port.

use std::time::Duration;

use super::report::{ChangeKind, FaultKind};
use super::rng::Rng;
use super::scenario::{self, CLIENT_GROUPS, ENDPOINT_GROUPS, PRIVATE_SUBNETS};
use crate::api::OWNER_TAG;
use crate::aws::sim::SimEc2;
use crate::aws::{AuthorizeRules, NewRule, RulePeer};
use crate::model::{Protocol, tag_pairs, tags_from};

/// What happened.
pub(crate) enum Happened {
    Change(ChangeKind, String),
    /// EC2 itself misbehaved (counted among the faults).
    Fault(FaultKind, String),
}

fn is_owned_by_someone(tags: &[crate::model::Tag]) -> bool {
    tag_pairs(tags).any(|(k, _)| k == OWNER_TAG)
}

/// Client ENIs: not the NAT gateway's, not an endpoint's.
fn client_enis(sim: &SimEc2) -> Vec<String> {
    sim.network_interfaces()
        .iter()
        .filter(|n| matches!(n.interface_type.as_deref(), Some("interface" | "lambda")))
        .map(|n| n.network_interface_id.clone())
        .collect()
}

/// One change, drawn by `rng`; `None` when the drawn kind has nothing to act on.
pub(crate) fn change(sim: &SimEc2, rng: &mut Rng) -> Option<Happened> {
    // EC2 itself and the service's owner know every endpoint; people act on what the console
    // lists.
    let all_endpoints = sim.endpoints();
    let endpoints: Vec<(String, String)> = all_endpoints
        .iter()
        .map(|e| (e.vpc_endpoint_id.clone(), e.state_lower()))
        .collect();
    let listed: Vec<(String, bool)> = sim
        .listed_endpoints()
        .iter()
        .map(|e| (e.vpc_endpoint_id.clone(), e.private_dns_enabled))
        .collect();
    match rng.below(16) {
        0 | 1 => {
            let owned: Vec<String> = sim
                .rules()
                .iter()
                .filter(|r| is_owned_by_someone(&r.tags))
                .map(|r| r.security_group_rule_id.clone())
                .collect();
            let id = rng.pick(&owned)?.clone();
            sim.revoke_rule_out_of_band(&id).ok()?;
            Some(Happened::Change(
                ChangeKind::OwnedRuleRevoked,
                format!("someone revokes the controller's rule {id}"),
            ))
        }
        2 => {
            let (group, egress, peer) = if rng.chance(0.6) {
                (*rng.pick(&ENDPOINT_GROUPS)?, false, *rng.pick(&CLIENT_GROUPS)?)
            } else {
                (*rng.pick(&CLIENT_GROUPS)?, true, *rng.pick(&ENDPOINT_GROUPS)?)
            };
            let request = AuthorizeRules {
                group_id: group.into(),
                egress,
                rules: vec![NewRule {
                    protocol: Protocol::Tcp,
                    from_port: 443,
                    to_port: 443,
                    peer: RulePeer::Group(peer.into()),
                    description: "added by hand".into(),
                }],
                tags: tags_from([("team", "network")]),
            };
            sim.authorize_out_of_band(&request).ok()?;
            let way = if egress { "egress" } else { "ingress" };
            Some(Happened::Change(
                ChangeKind::ForeignRuleAdded,
                format!("someone adds {way} tcp/443 on {group} for {peer}"),
            ))
        }
        3 => {
            let foreign: Vec<String> = sim
                .rules()
                .iter()
                .filter(|r| !is_owned_by_someone(&r.tags))
                .filter(|r| {
                    (ENDPOINT_GROUPS.contains(&r.group_id.as_str()) && !r.is_egress)
                        || (CLIENT_GROUPS.contains(&r.group_id.as_str()) && r.is_egress)
                })
                .map(|r| r.security_group_rule_id.clone())
                .collect();
            let id = rng.pick(&foreign)?.clone();
            sim.revoke_rule_out_of_band(&id).ok()?;
            Some(Happened::Change(
                ChangeKind::ForeignRuleRemoved,
                format!("someone revokes the foreign rule {id}"),
            ))
        }
        4 | 5 => {
            let kind = 1 + rng.below(4);
            let subnet = rng.pick(&PRIVATE_SUBNETS)?;
            let eni = sim
                .add_network_interface(scenario::client(kind, subnet, None))
                .ok()?;
            Some(Happened::Change(
                ChangeKind::BlockingClientAdded,
                format!(
                    "an instance starts: {} in {subnet} with {:?}",
                    eni.network_interface_id,
                    eni.groups.iter().map(|g| &g.group_id).collect::<Vec<_>>()
                ),
            ))
        }
        6 => {
            let id = rng.pick(&client_enis(sim))?.clone();
            sim.remove_network_interface(&id).ok()?;
            Some(Happened::Change(
                ChangeKind::ClientRemoved,
                format!("an instance terminates: {id}"),
            ))
        }
        7 => {
            let id = rng.pick(&client_enis(sim))?.clone();
            let mut groups = vec![*rng.pick(&CLIENT_GROUPS)?];
            if rng.chance(0.3) {
                groups.push(*rng.pick(&CLIENT_GROUPS)?);
                groups.dedup();
            }
            sim.set_network_interface_groups_out_of_band(&id, &groups).ok()?;
            Some(Happened::Change(
                ChangeKind::ClientGroupsSwapped,
                format!("someone sets the groups of {id} to {groups:?}"),
            ))
        }
        8 => {
            let id = rng.pick(&client_enis(sim))?.clone();
            let added = sim
                .assign_free_addresses_out_of_band(&id, 1 + rng.below(2))
                .ok()?;
            Some(Happened::Change(
                ChangeKind::SecondaryAddressesAdded,
                format!("someone assigns {added:?} to {id}"),
            ))
        }
        9 => {
            let (id, _) = rng.pick(&listed)?.clone();
            if rng.chance(0.5) {
                sim.start_deleting_endpoint_out_of_band(&id).ok()?;
            } else {
                sim.delete_endpoint_out_of_band(&id).ok()?;
            }
            Some(Happened::Change(
                ChangeKind::EndpointDeleted,
                format!("someone deletes endpoint {id}"),
            ))
        }
        10 => {
            let (id, _) = rng.pick(&listed)?.clone();
            let groups = [*rng.pick(&ENDPOINT_GROUPS)?];
            sim.set_endpoint_groups_out_of_band(&id, &groups).ok()?;
            Some(Happened::Change(
                ChangeKind::EndpointGroupsSwapped,
                format!("someone sets the groups of endpoint {id} to {groups:?}"),
            ))
        }
        11 => {
            let (id, on) = rng.pick(&listed)?.clone();
            sim.set_private_dns_out_of_band(&id, !on).ok()?;
            Some(Happened::Change(
                ChangeKind::PrivateDnsToggled,
                format!(
                    "someone turns private DNS {} on {id}",
                    if on { "off" } else { "on" }
                ),
            ))
        }
        12 => {
            let waiting: Vec<String> = endpoints
                .iter()
                .filter(|(_, s)| s == "pendingacceptance")
                .map(|(id, _)| id.clone())
                .collect();
            let id = rng.pick(&waiting)?.clone();
            if rng.chance(0.75) {
                sim.accept_endpoint(&id).ok()?;
                Some(Happened::Change(
                    ChangeKind::ConnectionAccepted,
                    format!("the service owner accepts {id}"),
                ))
            } else {
                sim.reject_endpoint(&id).ok()?;
                Some(Happened::Change(
                    ChangeKind::ConnectionRejected,
                    format!("the service owner rejects {id}"),
                ))
            }
        }
        13 | 14 => {
            let (id, state) = rng.pick(&endpoints)?.clone();
            let extra = rng.between(Duration::from_secs(120), Duration::from_secs(1200));
            let kind = match state.as_str() {
                "pending" => FaultKind::StuckPending,
                "deleting" => FaultKind::LingeringDeleting,
                _ => return None,
            };
            sim.stall_endpoint_out_of_band(&id, extra).ok()?;
            Some(Happened::Fault(
                kind,
                format!("EC2 keeps {id} {state} {}s longer", extra.as_secs()),
            ))
        }
        _ => {
            // Provisioning fails, not private DNS association: an endpoint that never served.
            let pending: Vec<String> = all_endpoints
                .iter()
                .filter(|e| e.state_lower() == "pending" && !e.private_dns_enabled)
                .map(|e| e.vpc_endpoint_id.clone())
                .collect();
            let id = rng.pick(&pending)?.clone();
            sim.fail_endpoint_out_of_band(&id).ok()?;
            Some(Happened::Fault(
                FaultKind::EndpointFailed,
                format!("EC2 fails endpoint {id}"),
            ))
        }
    }
}
