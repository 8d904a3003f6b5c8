//! Rollout throughput under EC2's request limits (figure 3 of issue 12): a wave of new
//! endpoints in one account and region, every object's pass the real engine
//! ([`crate::engine::reconcile`]) over the simulated world with EC2's token buckets enforced,
//! through one [`AccountBudget`] shared by all of them, on virtual time.
//!
//! Each object asks for an endpoint of its own service with private DNS on: one
//! CreateVpcEndpoint and, once the endpoint is `available`, one ModifyVpcEndpoint. The world's
//! endpoint security group admits the whole VPC, so no rule is needed. The passes run one at a
//! time, the object due first first (as the controller's queue would serve them); a pass that
//! waits in line for a token moves the clock. An object requeues as its pass says; a pass that
//! failed backs off as the controller does ([`backoff`]).
//!
//! The bound: the creates alone need `(n - burst) / rate` seconds of the create bucket
//! (burst and rate at the budget's share), and the last endpoint then provisions. The
//! modifies have a bucket of their own and follow the creates.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::api::conditions::{ConditionReason, ConditionType, find_condition};
use crate::api::{InterfaceEndpointSpec, InterfaceEndpointStatus, Owner, RemediationMode, RolloutPhase};
use crate::aws::Ec2Operation;
use crate::aws::budget::{AccountBudget, BudgetObserver, BudgetedEc2, RateCategory, rate_limit};
use crate::aws::sim::{CallOutcome, SimClock, SimConfig, SimEc2, aws_service};
use crate::controller::reconcile::backoff;
use crate::engine::{ReconcileRequest, incident, reconcile};
use crate::model::{IpPermission, IpRange, Protocol, Snapshot};
use crate::plan::{Action, Config, Timing};

/// What a wave did.
#[derive(Clone, Debug, Default)]
pub struct WaveReport {
    pub objects: usize,
    /// The budget's share of EC2's figures.
    pub share: f64,
    /// Objects Ready at the end.
    pub ready: usize,
    /// Virtual time from the wave's start until the last object was Ready.
    pub achieved: Duration,
    /// `(n - burst) / rate` of the create bucket at the share, plus one provisioning delay.
    pub bound: Duration,
    /// The provisioning delay of the world.
    pub provisioning_delay: Duration,
    /// Passes run, and passes whose outcome was an error (the controller would back off).
    pub passes: usize,
    pub failed_passes: usize,
    /// Passes that ended waiting for the budget (an expected wait, with a place in line).
    pub budget_waits: usize,
    /// The highest place in line a status reported.
    pub longest_line: usize,
    /// When the last CreateVpcEndpoint and the last ModifyVpcEndpoint were answered.
    pub last_create: Duration,
    pub last_modify: Duration,
    /// The longest time from an object's create to its Ready.
    pub longest_create_to_ready: Duration,
    /// EC2 calls answered, by operation.
    pub calls: BTreeMap<Ec2Operation, u64>,
    /// `RequestLimitExceeded` answers of the simulated EC2 (its own buckets).
    pub request_limit_exceeded: u64,
    /// Tokens calls waited for in line or across passes, by bucket category.
    pub tokens_waited: BTreeMap<RateCategory, u64>,
    /// Statuses written whose Ready condition said Throttled or named RequestLimitExceeded.
    pub throttled_statuses: usize,
}

impl WaveReport {
    /// `achieved / bound`.
    pub fn ratio(&self) -> f64 {
        self.achieved.as_secs_f64() / self.bound.as_secs_f64()
    }
}

/// Counts the budget's waits by category.
#[derive(Default)]
struct Waits {
    tokens: [AtomicU64; RateCategory::ALL.len()],
}

impl BudgetObserver for Waits {
    fn waited(&self, category: RateCategory, tokens: u32) {
        let i = RateCategory::ALL.iter().position(|c| *c == category).unwrap_or(0);
        self.tokens[i].fetch_add(u64::from(tokens), Ordering::Relaxed);
    }
    fn throttled(&self, _: RateCategory) {}
    fn share(&self, _: usize, _: f64) {}
}

fn service(i: usize) -> String {
    format!("svc{i:03}")
}

/// The incident's VPC, its endpoint security group admitting the whole VPC on 443, and `n`
/// AWS services.
fn world(n: usize) -> Snapshot {
    let mut world = incident::world();
    for group in &mut world.security_groups {
        if group.group_id == incident::SG_ENDPOINT {
            group.ip_permissions.push(IpPermission {
                ip_protocol: Protocol::Tcp,
                from_port: Some(443),
                to_port: Some(443),
                ip_ranges: vec![IpRange {
                    cidr_ip: "10.0.0.0/16".into(),
                    description: Some("the whole VPC".into()),
                }],
                ..Default::default()
            });
        }
    }
    for i in 0..n {
        world.service_details.push(aws_service(
            incident::REGION,
            &service(i),
            &["ap-northeast-1a", "ap-northeast-1c"],
        ));
    }
    world
}

struct Object {
    owner: Owner,
    spec: InterfaceEndpointSpec,
    status: InterfaceEndpointStatus,
    failures: u32,
    created_at: Option<Duration>,
    ready_at: Option<Duration>,
}

/// Runs a wave of `n` new endpoints through a budget at `share` of EC2's figures (see the
/// module docs), or with `None` straight to EC2 (no budget: the bound is then EC2's own).
/// Gives up at four times the bound (the report then counts fewer Ready objects).
pub fn rollout_wave(n: usize, share: Option<f64>) -> WaveReport {
    let clock = SimClock::new();
    let mut config = SimConfig::default();
    // A raised quota (the default is 50 per VPC): the figure is about request rates.
    config.interface_endpoints_per_vpc = n + 1;
    let sim = Arc::new(SimEc2::with_config(&world(n), clock.clone(), config.clone()));
    let waits = Arc::new(Waits::default());
    let budgeted = share.map(|share| {
        BudgetedEc2::new(
            sim.clone(),
            Arc::new(AccountBudget::new(share)),
            Arc::new(clock.clone()),
            waits.clone(),
        )
    });
    let share = share.unwrap_or(1.0);
    let create = rate_limit(Ec2Operation::CreateVpcEndpoint);
    let (burst, rate) = (
        (create.capacity * share).max(1.0),
        create.refill_per_second * share,
    );
    let bound = Duration::from_secs_f64((n as f64 - burst).max(0.0) / rate) + config.provisioning_delay;

    let mut objects: Vec<Object> = (0..n)
        .map(|i| {
            let mut spec = incident::spec(RemediationMode::Approval);
            spec.service_name = format!("com.amazonaws.{}.{}", incident::REGION, service(i));
            Object {
                owner: Owner {
                    namespace: "wave".into(),
                    name: service(i),
                    uid: format!("00000000-0000-4000-8000-{i:012}"),
                },
                spec,
                status: InterfaceEndpointStatus::default(),
                failures: 0,
                created_at: None,
                ready_at: None,
            }
        })
        .collect();
    let timing = Timing::default();
    let controller = Config::default();
    let mut report = WaveReport {
        objects: n,
        share,
        bound,
        provisioning_delay: config.provisioning_delay,
        ..WaveReport::default()
    };
    // (due, object): every object is applied at the start.
    let mut due: BTreeSet<(Duration, usize)> = (0..n).map(|i| (Duration::ZERO, i)).collect();
    let give_up = bound * 4;
    while let Some((at, i)) = due.pop_first() {
        if at > give_up {
            break;
        }
        if at > clock.now() {
            clock.advance(at - clock.now());
        }
        let object = &mut objects[i];
        let request = ReconcileRequest {
            spec: &object.spec,
            generation: Some(1),
            owner: &object.owner,
            deleting: false,
            status: &object.status,
            config: &controller,
            now: clock.timestamp(),
            observations: None,
            resolver: None,
        };
        let outcome = match &budgeted {
            Some(port) => futures::executor::block_on(reconcile(port, &request, &timing)),
            None => futures::executor::block_on(reconcile(&*sim, &request, &timing)),
        };
        report.passes += 1;
        if let Some(ready) = find_condition(&outcome.status.conditions, ConditionType::Ready) {
            if ready.reason == ConditionReason::Throttled.as_str()
                || ready.message.contains("RequestLimitExceeded")
            {
                report.throttled_statuses += 1;
            }
            if ready.reason == ConditionReason::WaitingForApiBudget.as_str() {
                report.budget_waits += 1;
                if let Some(place) = place_in_line(&ready.message) {
                    report.longest_line = report.longest_line.max(place);
                }
            }
        }
        if outcome
            .performed
            .iter()
            .any(|a| matches!(a, Action::CreateEndpoint(_)))
        {
            object.created_at.get_or_insert(clock.now());
        }
        object.status = outcome.status;
        let next = match (outcome.error, outcome.requeue) {
            (Some(_), requeue) => {
                report.failed_passes += 1;
                object.failures += 1;
                requeue.unwrap_or_else(|| backoff(object.failures))
            }
            (None, requeue) => {
                object.failures = 0;
                requeue.unwrap_or(timing.resync)
            }
        };
        if object.status.phase == RolloutPhase::Ready {
            object.ready_at = Some(clock.now());
            continue;
        }
        due.insert((clock.now() + next, i));
    }
    report.ready = objects.iter().filter(|o| o.ready_at.is_some()).count();
    report.achieved = objects
        .iter()
        .filter_map(|o| o.ready_at)
        .max()
        .unwrap_or_default();
    report.longest_create_to_ready = objects
        .iter()
        .filter_map(|o| Some(o.ready_at? - o.created_at?))
        .max()
        .unwrap_or_default();
    for call in sim.calls() {
        *report.calls.entry(call.operation).or_default() += 1;
        if call.succeeded() {
            match call.operation {
                Ec2Operation::CreateVpcEndpoint => report.last_create = report.last_create.max(call.at),
                Ec2Operation::ModifyVpcEndpoint => report.last_modify = report.last_modify.max(call.at),
                _ => {}
            }
        }
        if matches!(&call.outcome, CallOutcome::Failed { code, .. } if code == "RequestLimitExceeded") {
            report.request_limit_exceeded += 1;
        }
    }
    for (category, tokens) in RateCategory::ALL.iter().zip(&waits.tokens) {
        report
            .tokens_waited
            .insert(*category, tokens.load(Ordering::Relaxed));
    }
    report
}

/// `3` in "... number 3 of 12 in line ...".
fn place_in_line(message: &str) -> Option<usize> {
    let rest = &message[message.find("number ")? + "number ".len()..];
    rest.split(' ').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wave_of_new_endpoints_is_paced_by_the_budget_and_never_throttled_by_ec2() {
        let report = rollout_wave(12, Some(1.0));
        assert_eq!(report.ready, 12, "{report:?}");
        assert_eq!(report.failed_passes, 0, "{report:?}");
        assert_eq!(report.request_limit_exceeded, 0, "{report:?}");
        assert_eq!(report.throttled_statuses, 0, "{report:?}");
        assert_eq!(report.calls[&Ec2Operation::CreateVpcEndpoint], 12);
        assert_eq!(report.calls[&Ec2Operation::ModifyVpcEndpoint], 12);
        // 8 creates beyond the burst of 4 waited for their tokens, each told its place.
        assert!(report.budget_waits >= 8, "{report:?}");
        assert!(report.longest_line >= 8, "{report:?}");
        assert!(
            report.tokens_waited[&RateCategory::VpcEndpoint] >= 8,
            "{report:?}"
        );
        // (12 - 4) / 0.3 s + 60 s = 86.7 s: the creates cannot go faster.
        assert!(
            report.achieved >= report.bound - report.provisioning_delay,
            "{report:?}"
        );
    }

    #[test]
    fn without_the_budget_the_same_wave_is_throttled_by_ec2() {
        let report = rollout_wave(12, None);
        assert!(report.request_limit_exceeded > 0, "{report:?}");
        assert!(report.throttled_statuses > 0, "{report:?}");
    }

    #[test]
    fn at_half_share_the_wave_takes_twice_as_long_and_is_still_never_throttled() {
        let report = rollout_wave(12, Some(0.5));
        assert_eq!(
            (report.ready, report.failed_passes, report.request_limit_exceeded),
            (12, 0, 0)
        );
        // (12 - 2) / 0.15 s = 66.7 s of creates.
        assert!(report.achieved >= Duration::from_secs(66), "{report:?}");
    }

    #[test]
    fn the_place_in_line_is_read_from_the_status_message() {
        assert_eq!(
            place_in_line("Waiting for EC2 API budget: CreateVpcEndpoint: number 3 of 12 in line for ..."),
            Some(3)
        );
        assert_eq!(place_in_line("EC2 throttled DescribeVpcs"), None);
    }
}
