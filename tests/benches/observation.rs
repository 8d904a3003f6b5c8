//! Figure 2 of issue 12: EC2 calls per resync for 1, 10, 100 and 1,000 Ready objects in one
//! VPC, each pass observing alone (before) and on the VPC's shared snapshot (after). Counts
//! the calls the simulated world logs (virtual time; nothing is timed):
//! `cargo bench --bench observation --profile test [-- [N ...] [--alone-up-to M] [--one-at-a-time]]` (virtual
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
use vpce_rollout::engine::{ReconcileOutcome, ReconcileRequest, incident, reconcile};
use vpce_rollout::plan::{Config, Timing};

#[path = "port.rs"]
mod port;
use port::Port;

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

    /// Runs passes in wake order until virtual time `until`, one at a time.
    fn run_until(&mut self, until: Duration) {
        while let Some(Reverse((at, i))) = self.queue.peek().copied() {
            if at > until {
                break;
            }
            self.queue.pop();
            self.advance_to(at);
            let port = Port::new(&self.sim);
            let outcome = futures::executor::block_on(reconcile(&port, &self.request(i), &self.timing));
            self.done(i, outcome);
        }
        self.advance_to(until);
    }

    /// Like [`Run::run_until`], but the passes due at the same moment run together, interleaving
    /// at their EC2 calls as the controller's concurrent passes do (kube-runtime reconciles
    /// objects concurrently): passes that need a fresh snapshot at the same moment join one
    /// refresh instead of each making its own. The rollout of N objects in one VPC otherwise
    /// costs N² (each of N objects' acting passes describing a VPC that holds every object's
    /// endpoint), which took too long at 1,000 objects. The steady state is measured one pass at
    /// a time, as before.
    fn run_together_until(&mut self, until: Duration) {
        while let Some(Reverse((at, _))) = self.queue.peek().copied() {
            if at > until {
                break;
            }
            let mut due = Vec::new();
            while let Some(Reverse((next, i))) = self.queue.peek().copied()
                && next == at
            {
                self.queue.pop();
                due.push(i);
            }
            self.advance_to(at);
            let port = Port::yielding(&self.sim);
            let requests: Vec<ReconcileRequest<'_>> = due.iter().map(|&i| self.request(i)).collect();
            let passes = requests.iter().map(|r| reconcile(&port, r, &self.timing));
            let outcomes = futures::executor::block_on(futures::future::join_all(passes));
            drop(requests);
            for (i, outcome) in due.into_iter().zip(outcomes) {
                self.done(i, outcome);
            }
        }
        self.advance_to(until);
    }

    fn advance_to(&self, at: Duration) {
        let now = self.sim.clock().now();
        if at > now {
            self.sim.clock().advance(at - now);
        }
    }

    fn request(&self, i: usize) -> ReconcileRequest<'_> {
        let object = &self.objects[i];
        ReconcileRequest {
            spec: &object.spec,
            generation: Some(1),
            owner: &object.owner,
            deleting: false,
            status: &object.status,
            config: &self.config,
            now: self.sim.clock().timestamp(),
            observations: self.observations.as_ref(),
            resolver: None,
        }
    }

    fn done(&mut self, i: usize, outcome: ReconcileOutcome) {
        let wait = outcome.requeue.unwrap_or(Duration::from_secs(2));
        self.objects[i].status = outcome.status;
        let next = self.sim.clock().now() + wait;
        self.queue.push(Reverse((next, i)));
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

/// `together`: the rollout's passes due at the same moment run together ([`Run::run_together_until`]).
fn measure(n: usize, shared: bool, together: bool) -> Row {
    let mut run = Run::new(n, shared);
    let step = Duration::from_secs(60);
    let mut t = Duration::ZERO;
    while !run.all_ready() {
        t += step;
        if t >= Duration::from_secs(6 * 3600) {
            let mut phases: BTreeMap<String, usize> = BTreeMap::new();
            for o in &run.objects {
                *phases.entry(format!("{:?}", o.status.phase)).or_insert(0) += 1;
            }
            let stuck = run.objects.iter().find(|o| o.status.phase != RolloutPhase::Ready);
            let why = stuck.map(|o| {
                o.status
                    .conditions
                    .iter()
                    .map(|c| format!("{} {} {}: {}", c.type_, c.status, c.reason, c.message))
                    .collect::<Vec<_>>()
            });
            panic!("{n} objects not Ready after six hours: phases {phases:?}; one of them: {why:#?}");
        }
        if together {
            run.run_together_until(t);
        } else {
            run.run_until(t);
        }
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

/// `[N ...] [--alone-up-to M] [--one-at-a-time]`: the object counts (1, 10, 100 and 1,000 by
/// default); the largest count also run with every object observing alone (all by default;
/// each such run rolls N objects out describing the VPC on every pass, which takes long for
/// 1,000); the rollout's passes one at a time instead of together (as before: N² for N
/// objects; the steady state is measured one pass at a time either way). Cargo's own `--bench`
/// is ignored.
fn arguments() -> (Vec<usize>, usize, bool) {
    let mut counts = Vec::new();
    let mut alone_up_to = usize::MAX;
    let mut together = true;
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(arg) = args.next() {
        if arg == "--one-at-a-time" {
            together = false;
        } else if arg == "--alone-up-to" {
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
    (counts, alone_up_to, together)
}

fn main() {
    let (counts, alone_up_to, together) = arguments();
    println!(
        "EC2 calls per resync ({}s) of N Ready objects in one VPC, averaged over {RESYNCS} resyncs",
        Timing::default().resync.as_secs()
    );
    println!("(the simulated world counts a describe once, however many pages AWS would answer in)");
    println!();
    // One object observing alone: the unit of the target (at most twice its calls).
    println!(
        "(rolled out with the passes due at the same moment {}; the resyncs one pass at a time)",
        if together { "together" } else { "one at a time" }
    );
    println!();
    let one = measure(1, false, together);
    assert_eq!(one.mutations, 0, "one Ready object changes nothing");
    println!("one object alone: {:.1} calls per resync", one.calls);
    println!();
    println!(
        "{:>6} | {:>14} | {:>14} | {:>10} | {:>18} | {:>10}",
        "N", "alone: calls", "shared: calls", "shared/one", "shared: mutations", "alone/shared"
    );
    for (i, &n) in counts.iter().enumerate() {
        let shared = measure(n, true, together);
        let alone = (n <= alone_up_to).then(|| measure(n, false, together));
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
