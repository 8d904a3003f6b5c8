//! Figure 2 of issue 12: EC2 calls per resync for 1, 10, 100 and 1,000 Ready objects in one
//! VPC, each pass observing alone (before) and on the VPC's shared snapshot (after). Counts
//! the calls the simulated world logs (virtual time; nothing is timed):
//! `cargo bench --bench observation --profile test [-- [N ...] [--alone-up-to M]]` (virtual
//! time: the test profile gives the same counts without a release build).
//!
//! Every object has a service of its own (a VPC holds one endpoint with private DNS per
//! service). They are rolled out to Ready by a scheduler that wakes each object when its pass
//! asked to be requeued, as kube-runtime does, then run for three resyncs; the table gives the
//! calls per resync (every call the passes made, divided by three), the mutating calls among
//! them, and the ratio to one object's calls.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Duration;

use vpce_rollout::api::{InterfaceEndpointStatus, Owner, RemediationMode, RolloutPhase};
use vpce_rollout::aws::observation::VpcObservations;
use vpce_rollout::aws::sim::{SimClock, SimConfig, SimEc2, aws_service};
use vpce_rollout::aws::{Ec2Operation, MAX_FILTER_VALUES};
use vpce_rollout::engine::{ReconcileRequest, incident, reconcile};
use vpce_rollout::plan::{Config, Timing};

const COUNTS: [usize; 4] = [1, 10, 100, 1_000];
const RESYNCS: u32 = 3;

struct Object {
    spec: vpce_rollout::api::InterfaceEndpointSpec,
    owner: Owner,
    status: InterfaceEndpointStatus,
}

struct Run {
    sim: SimEc2,
    objects: Vec<Object>,
    observations: Option<VpcObservations>,
    timing: Timing,
    config: Config,
    /// (wake at, object), earliest first.
    queue: BinaryHeap<Reverse<(Duration, usize)>>,
}

impl Run {
    fn new(n: usize, shared: bool) -> Self {
        let config = SimConfig {
            interface_endpoints_per_vpc: n + 10,
            ..SimConfig::default().without_throttling()
        };
        let sim = SimEc2::with_config(&incident::world(), SimClock::new(), config);
        let objects = (0..n)
            .map(|i| {
                let service = format!("com.amazonaws.{}.svc{i}", incident::REGION);
                sim.add_service(aws_service(
                    incident::REGION,
                    &format!("svc{i}"),
                    &["ap-northeast-1a", "ap-northeast-1c"],
                ));
                let mut spec = incident::spec(RemediationMode::Auto);
                spec.service_name = service;
                Object {
                    spec,
                    owner: Owner {
                        name: format!("svc{i}"),
                        uid: format!("00000000-0000-0000-0000-{i:012}"),
                        ..incident::owner()
                    },
                    status: InterfaceEndpointStatus::default(),
                }
            })
            .collect();
        let queue = (0..n).map(|i| Reverse((Duration::ZERO, i))).collect();
        Self {
            sim,
            objects,
            observations: shared.then(VpcObservations::new),
            timing: Timing::default(),
            config: Config::default(),
            queue,
        }
    }

    /// Runs passes in wake order until virtual time `until`.
    fn run_until(&mut self, until: Duration) {
        while let Some(Reverse((at, i))) = self.queue.peek().copied() {
            if at > until {
                break;
            }
            self.queue.pop();
            let now = self.sim.clock().now();
            if at > now {
                self.sim.clock().advance(at - now);
            }
            let object = &self.objects[i];
            let request = ReconcileRequest {
                spec: &object.spec,
                generation: Some(1),
                owner: &object.owner,
                deleting: false,
                status: &object.status,
                config: &self.config,
                now: self.sim.clock().timestamp(),
                observations: self.observations.as_ref(),
                resolver: None,
            };
            let outcome = futures::executor::block_on(reconcile(&self.sim, &request, &self.timing));
            let wait = outcome.requeue.unwrap_or(Duration::from_secs(2));
            self.objects[i].status = outcome.status;
            let next = self.sim.clock().now() + wait;
            self.queue.push(Reverse((next, i)));
        }
        let now = self.sim.clock().now();
        if until > now {
            self.sim.clock().advance(until - now);
        }
    }

    fn all_ready(&self) -> bool {
        self.objects.iter().all(|o| o.status.phase == RolloutPhase::Ready)
    }
}

struct Row {
    n: usize,
    calls: f64,
    mutations: usize,
    by_operation: BTreeMap<Ec2Operation, usize>,
}

fn measure(n: usize, shared: bool) -> Row {
    let mut run = Run::new(n, shared);
    let step = Duration::from_secs(60);
    let mut t = Duration::ZERO;
    while !run.all_ready() {
        t += step;
        assert!(
            t < Duration::from_secs(6 * 3600),
            "{n} objects not Ready after six hours"
        );
        run.run_until(t);
    }
    // Steady state: every object Ready, each requeued a resync after its last pass.
    run.sim.clear_calls();
    let resync = run.timing.resync;
    run.run_until(t + resync * RESYNCS);
    assert!(run.all_ready());
    let calls = run.sim.calls();
    let mut by_operation = BTreeMap::new();
    for call in &calls {
        *by_operation.entry(call.operation).or_insert(0) += 1;
    }
    Row {
        n,
        calls: calls.len() as f64 / f64::from(RESYNCS),
        mutations: calls.iter().filter(|c| c.operation.is_mutation()).count(),
        by_operation,
    }
}

/// `[N ...] [--alone-up-to M]`: the object counts (1, 10, 100 and 1,000 by default), and the
/// largest count also run with every object observing alone (all by default; each such run
/// rolls N objects out describing the VPC on every pass, which takes long for 1,000 in a
/// debug build). Cargo's own `--bench` is ignored.
fn arguments() -> (Vec<usize>, usize) {
    let mut counts = Vec::new();
    let mut alone_up_to = usize::MAX;
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        if arg == "--alone-up-to" {
            let m = args.next().and_then(|m| m.parse().ok());
            alone_up_to = m.expect("--alone-up-to takes an object count");
        } else {
            counts.push(
                arg.parse()
                    .unwrap_or_else(|_| panic!("not an object count: {arg}")),
            );
        }
    }
    if counts.is_empty() {
        counts = COUNTS.to_vec();
    }
    (counts, alone_up_to)
}

fn main() {
    let (counts, alone_up_to) = arguments();
    println!(
        "EC2 calls per resync ({}s) of N Ready objects in one VPC, averaged over {RESYNCS} resyncs",
        Timing::default().resync.as_secs()
    );
    println!("(the simulated world counts a describe once, however many pages AWS would answer in)");
    println!();
    // One object observing alone: the unit of the target (at most twice its calls).
    let one = measure(1, false);
    assert_eq!(one.mutations, 0, "one Ready object changes nothing");
    println!("one object alone: {:.1} calls per resync", one.calls);
    println!();
    println!(
        "{:>6} | {:>14} | {:>14} | {:>10} | {:>18} | {:>10}",
        "N", "alone: calls", "shared: calls", "shared/one", "shared: mutations", "alone/shared"
    );
    for (i, &n) in counts.iter().enumerate() {
        let shared = measure(n, true);
        let alone = (n <= alone_up_to).then(|| measure(n, false));
        let (alone_calls, ratio) = match &alone {
            Some(alone) => {
                assert_eq!(alone.mutations, 0, "{n} Ready objects alone change nothing");
                (
                    format!("{:.1}", alone.calls),
                    format!("{:.1}", alone.calls / shared.calls),
                )
            }
            None => ("not run".to_string(), "-".to_string()),
        };
        println!(
            "{:>6} | {:>14} | {:>14.1} | {:>10.2} | {:>18} | {:>10}",
            shared.n,
            alone_calls,
            shared.calls,
            shared.calls / one.calls,
            shared.mutations,
            ratio,
        );
        if i + 1 == counts.len() {
            println!();
            println!("shared, N = {n}, calls per resync by operation:");
            for (op, count) in &shared.by_operation {
                println!("  {op:<28} {:>8.1}", *count as f64 / f64::from(RESYNCS));
            }
            println!(
                "  (owned rules of every object: one DescribeSecurityGroupRules per {MAX_FILTER_VALUES} objects)"
            );
        }
    }
}
