//! The canary of issue 14 in the simulation: objects that name the VPC's flow logs
//! (`spec.verification.flowLogs`) with each `onReject` reaction, the clients' traffic that the
//! flow logs record, and people closing a client's path after the switch.
//!
//! Drawn from a stream of its own (as the bursts are), on about two seeds in five: a seed
//! without the canary runs as it did before it was modelled.
//!
//! - The world gains what the canary reads: a flow log of the VPC delivering to
//!   [`FLOW_LOG_GROUP`] (in the default format or a custom one; sometimes one DescribeFlowLogs
//!   does not list, read in the default format) and route tables (a rollback weighs who has a
//!   route to the internet: the first two private subnets through the NAT gateway, the third
//!   through it or through nothing).
//! - Traffic: every [`TRAFFIC_EVERY`], every client ENI of the VPC calls the service of each
//!   such object whose endpoint is available with private DNS on (the name leads every client
//!   there, whether the spec selects it or not); the connections the analysis finds blocked are
//!   written as REJECT records captured on the endpoint's ENIs (`aws::sim::logs`). Accepted
//!   connections are not written: the canary asks for REJECT records only, and a filter scan
//!   returns nothing else.
//! - Closings (change kind `ClientPathClosed`): one to three times in the chaos period,
//!   someone revokes an ingress rule of an endpoint security group, or gives a client ENI a
//!   group that does not reach the endpoint: the clients it served are cut off while private
//!   DNS leads them there, which only the flow logs show until the next look.

use std::time::Duration;

use super::report::Reaction;
use super::rng::Rng;
use super::scenario::{
    Declared, ENDPOINT_GROUPS, PRIVATE_SUBNETS, SG_BATCH, SG_SEALED, SUBNET_A, SUBNET_C, SUBNET_D,
    SUBNET_PUBLIC, VPC,
};
use crate::api::conditions::{ConditionType, find_condition};
use crate::api::{
    ClientSelection, FlowLogsVerification, InterfaceEndpointSpec, InterfaceEndpointStatus, OnReject, Owner,
    RejectAction, VerificationSpec,
};
use crate::aws::sim::SimEc2;
use crate::logs::records::DEFAULT_FLOW_LOG_FORMAT;
use crate::logs::sim::SimLogs;
use crate::model::Route;
use crate::plan::{EventNote, EventReason};

/// The log group the VPC's flow log delivers to.
pub(crate) const FLOW_LOG_GROUP: &str = "/vpc/flow-logs";

/// How often the clients' connections are recorded (a flow log's aggregation interval).
pub(crate) const TRAFFIC_EVERY: Duration = Duration::from_secs(60);

/// A custom format, with the packet's addresses and fields in another order.
const CUSTOM_FORMAT: &str = "${version} ${vpc-id} ${subnet-id} ${interface-id} ${pkt-srcaddr} \
     ${srcaddr} ${pkt-dstaddr} ${dstaddr} ${dstport} ${protocol} ${action} ${start} ${end}";

/// The canary of one seed.
#[derive(Debug)]
pub(crate) struct Canary {
    /// The `LogFormat` records are written in.
    format: &'static str,
    /// Whether DescribeFlowLogs lists the flow log (else the canary reads the default format,
    /// which the records are then written in).
    described: bool,
    /// Whether the third private subnet has a route to the internet.
    subnet_d_routed: bool,
    /// When someone closes a client's path, latest first.
    closings: Vec<Duration>,
    /// The next recording of the clients' connections.
    pub next_traffic: Duration,
    /// The closings' choices.
    rng: Rng,
}

impl Canary {
    /// Tags the canary's own stream of random numbers.
    const STREAM: u64 = 0x6361_6e61_7279; // "canary"

    /// The canary of seed `seed`, if it has one: `spec.verification` drawn on some of
    /// `objects` (at least one).
    pub(crate) fn draw(seed: u64, objects: &mut [Declared], chaos_until: Duration) -> Option<Canary> {
        let mut rng = Rng::new(seed).fork_for(Self::STREAM);
        if !rng.chance(0.4) || objects.is_empty() {
            return None;
        }
        let first = rng.below(objects.len());
        for (i, object) in objects.iter_mut().enumerate() {
            if i == first || rng.chance(0.5) {
                draw_verification(&mut rng, &mut object.spec);
            }
        }
        let (format, described) = match rng.below(4) {
            0 => (DEFAULT_FLOW_LOG_FORMAT, false),
            1 => (CUSTOM_FORMAT, true),
            _ => (DEFAULT_FLOW_LOG_FORMAT, true),
        };
        let mut closings: Vec<Duration> = (0..1 + rng.below(3))
            .map(|_| {
                rng.between(
                    Duration::from_secs(240).min(chaos_until),
                    chaos_until.saturating_sub(Duration::from_secs(5)),
                )
            })
            .collect();
        closings.sort_by_key(|t| std::cmp::Reverse(*t));
        Some(Canary {
            format,
            described,
            subnet_d_routed: rng.chance(0.5),
            closings,
            next_traffic: TRAFFIC_EVERY,
            rng,
        })
    }

    /// What the canary reads, set up in the world before the run.
    pub(crate) fn prepare(&self, sim: &SimEc2, logs: &SimLogs) {
        logs.create_log_group(FLOW_LOG_GROUP);
        if self.described {
            let custom = (self.format != DEFAULT_FLOW_LOG_FORMAT).then_some(self.format);
            sim.create_flow_log(VPC, FLOW_LOG_GROUP, custom);
        }
        let to = |gateway: Option<&str>, nat: Option<&str>| Route {
            destination_cidr_block: Some("0.0.0.0/0".into()),
            gateway_id: gateway.map(str::to_string),
            nat_gateway_id: nat.map(str::to_string),
            state: Some("active".into()),
            ..Route::default()
        };
        let nat = "nat-0c1d2e3f4a5b6c7d8";
        sim.create_route_table(VPC, false, &[SUBNET_PUBLIC], vec![to(Some("igw-0a1b2c3d"), None)]);
        let mut routed = vec![SUBNET_A, SUBNET_C];
        if self.subnet_d_routed {
            routed.push(SUBNET_D);
        }
        sim.create_route_table(VPC, false, &routed, vec![to(None, Some(nat))]);
        // The main table (the third subnet's unless routed above): no way out of the VPC.
        sim.create_route_table(VPC, true, &[], vec![]);
    }

    /// When someone closes a client's path next (during the chaos period only).
    pub(crate) fn next_closing(&self) -> Option<Duration> {
        self.closings.last().copied()
    }

    /// Someone closes a client's path: an ingress rule of an endpoint group revoked, or a
    /// client ENI given a group that does not reach the endpoint. `None` when there is nothing
    /// to close.
    pub(crate) fn close_path(&mut self, sim: &SimEc2) -> Option<String> {
        self.closings.pop();
        let rng = &mut self.rng;
        if rng.chance(0.5) {
            let rules: Vec<(String, String)> = sim
                .rules()
                .iter()
                .filter(|r| !r.is_egress && ENDPOINT_GROUPS.contains(&r.group_id.as_str()))
                .map(|r| (r.security_group_rule_id.clone(), r.group_id.clone()))
                .collect();
            if let Some((id, group)) = rng.pick(&rules).cloned() {
                sim.revoke_rule_out_of_band(&id).ok()?;
                return Some(format!(
                    "someone revokes ingress rule {id} of endpoint group {group}: the clients it admitted are cut off"
                ));
            }
        }
        let clients: Vec<String> = sim
            .network_interfaces()
            .iter()
            .filter(|n| matches!(n.interface_type.as_deref(), Some("interface" | "lambda")))
            .filter(|n| PRIVATE_SUBNETS.contains(&n.subnet_id.as_str()))
            .map(|n| n.network_interface_id.clone())
            .collect();
        let id = rng.pick(&clients)?.clone();
        let group = *rng.pick(&[SG_SEALED, SG_BATCH])?;
        sim.set_network_interface_groups_out_of_band(&id, &[group]).ok()?;
        Some(format!(
            "someone sets the groups of {id} to [{group}], which does not reach the endpoints"
        ))
    }

    /// Records the clients' connections to the endpoints of `objects` that name the flow logs
    /// and serve with private DNS on: the rejected ones, as REJECT records in the flow log
    /// group. Returns how many records were written.
    pub(crate) fn record_traffic<'a>(
        &mut self,
        sim: &SimEc2,
        logs: &SimLogs,
        objects: impl Iterator<Item = (&'a Owner, &'a InterfaceEndpointSpec)>,
    ) -> u64 {
        self.next_traffic += TRAFFIC_EVERY;
        let mut written = 0;
        let endpoints = sim.endpoints();
        let mut clients: Option<Vec<String>> = None;
        for (owner, spec) in objects {
            if spec.verification.is_none() {
                continue;
            }
            let serving = endpoints.iter().any(|e| {
                owner.owns(crate::model::tag_pairs(&e.tags))
                    && e.private_dns_enabled
                    && e.state_lower() == "available"
            });
            if !serving {
                continue;
            }
            let clients = clients.get_or_insert_with(|| {
                sim.network_interfaces()
                    .iter()
                    .filter(|n| matches!(n.interface_type.as_deref(), Some("interface" | "lambda")))
                    .map(|n| n.network_interface_id.clone())
                    .collect()
            });
            let ids: Vec<&str> = clients.iter().map(String::as_str).collect();
            // The name leads every client of the VPC to the endpoint, selected or not.
            let everyone = InterfaceEndpointSpec {
                clients: ClientSelection::default(),
                ..spec.clone()
            };
            let rejected: Vec<(i64, String)> = sim
                .flow_log_records(&everyone, owner, &ids, self.format)
                .into_iter()
                .filter(|(_, r)| r.split_whitespace().any(|f| f == "REJECT"))
                .collect();
            written += rejected.len() as u64;
            logs.put_events(FLOW_LOG_GROUP, VPC, rejected);
        }
        written
    }
}

/// `spec.verification` with a reaction, a window and `afterWindow` drawn; sometimes
/// `privateDns.force` (private DNS then goes on with clients blocked, whom the canary sees).
fn draw_verification(rng: &mut Rng, spec: &mut InterfaceEndpointSpec) {
    let (action, force) = match rng.below(6) {
        0 | 1 => (RejectAction::Remediate, false),
        2 => (RejectAction::Alert, false),
        3 | 4 => (RejectAction::Rollback, false),
        _ => (RejectAction::Rollback, true),
    };
    let after_window = match rng.below(4) {
        0 => RejectAction::Remediate,
        1 => RejectAction::Rollback,
        _ => RejectAction::Alert,
    };
    let window = *rng.pick(&["5m", "10m", "15m"]).expect("not empty");
    spec.verification = Some(VerificationSpec {
        flow_logs: FlowLogsVerification {
            log_group_name: FLOW_LOG_GROUP.into(),
            window: window.into(),
        },
        on_reject: OnReject {
            action,
            after_window,
            force,
        },
    });
    if rng.chance(0.15) {
        spec.private_dns.force = true;
    }
}

/// The canary's reaction a pass reports, from its Events: each is recorded once per distinct
/// set of cut-off sources.
pub(crate) fn reactions(events: &[EventNote], status: &InterfaceEndpointStatus) -> Vec<Reaction> {
    let verified = find_condition(&status.conditions, ConditionType::Verified).map(|c| c.reason.as_str());
    events
        .iter()
        .filter_map(|e| match e.reason {
            EventReason::RolledBack => Some(Reaction::RolledBack),
            EventReason::RollbackRefused => Some(Reaction::RollbackRefused),
            EventReason::TrafficRejected => match verified {
                Some("RejectsRemediated") => Some(Reaction::Remediated),
                _ => Some(Reaction::Alerted),
            },
            _ => None,
        })
        .collect()
}
