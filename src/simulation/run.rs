//! One seed: the world, the objects, and the timeline of virtual time on which passes, outside
//! changes and user edits happen, then the quiet period in which nothing is injected any more.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::canary::Canary;
use super::cluster::{Cluster, Object};
use super::invariants::{Cause, Checker, View, Violation, unsettled};
use super::outside::{self, Happened};
use super::port::{Shared, lock};
use super::report::{ChangeKind, FaultKind, Tally};
use super::rng::Rng;
use super::scenario::{self, Declared, Scenario};
use super::trace::Trace;
use crate::aws::Ec2Operation;
use crate::aws::budget::{REQUEST_RATE_LIMITS, RateCategory};
use crate::aws::sim::{SimClock, SimEc2, SimProvider};
use crate::plan::{Config, Timing};

/// How long the controller has, once faults and outside changes stop, to bring every object
/// to Ready or a documented terminal reason (invariant 6). Covers the slowest EC2 seeds: an
/// endpoint kept `pending` or `deleting` for 20 minutes past a 15-minute delay.
pub const QUIET_BOUND: Duration = Duration::from_secs(60 * 60);

/// How long a standby waits before taking the Lease over (`--leader-election-lease-duration`).
pub(crate) const LEASE_DURATION: Duration = Duration::from_secs(15);

/// What the controller process keeps in memory, lost on a restart or a leader change.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// Consecutive failures per object (the backoff of `controller::reconcile::error_policy`).
    pub failures: BTreeMap<String, u32>,
    /// When each object is reconciled next (kube-runtime's scheduler).
    pub wake: BTreeMap<String, Duration>,
    /// The VPCs' shared snapshots, as `controller::reconcile::Context` keeps them.
    pub observations: std::sync::Arc<crate::aws::observation::VpcObservations>,
}

impl Memory {
    fn next_due(&self) -> Option<(Duration, String)> {
        self.wake.iter().map(|(uid, t)| (*t, uid.clone())).min()
    }

    /// A watch event: reconcile at `at`, unless already due earlier.
    pub(crate) fn wake_soon(&mut self, uid: &str, at: Duration) {
        let t = self.wake.entry(uid.to_string()).or_insert(at);
        *t = (*t).min(at);
    }
}

/// The result of one seed.
#[derive(Debug)]
pub struct SeedOutcome {
    pub seed: u64,
    pub tally: Tally,
    pub violations: Vec<Violation>,
    /// The step log (empty unless asked for).
    pub trace: Vec<String>,
}

pub(crate) struct Run {
    pub rng: Rng,
    pub clock: SimClock,
    pub sim: Arc<SimEc2>,
    pub provider: Arc<SimProvider>,
    pub shared: Arc<Mutex<Shared>>,
    pub cluster: Cluster,
    pub memory: Memory,
    pub timing: Timing,
    /// The controller's flags.
    pub config: Config,
    /// Objects the users have not applied yet, latest first.
    declared: Vec<Declared>,
    /// Objects deleted for good, which a user may create again (same name, new UID).
    gone: Vec<Object>,
    chaos_until: Duration,
    pub quiet: bool,
    next_change: Duration,
    /// When another tool in the account empties EC2's buckets of a category of actions, and
    /// for how long; latest first.
    bursts: Vec<Burst>,
    /// The canary's flow logs, traffic and closings, on the seeds that draw it.
    canary: Option<Canary>,
    /// Objects reconciled since the quiet period began.
    pub seen_quiet: BTreeSet<String>,
}

impl Run {
    fn new(seed: u64, keep_trace: bool) -> Run {
        let mut rng = Rng::new(seed);
        let Scenario {
            snapshot,
            config,
            controller,
            mut objects,
        } = Scenario::generate(&mut rng);
        let clock = SimClock::new();
        let sim = Arc::new(SimEc2::with_config(&snapshot, clock.clone(), config));
        let shared = Shared {
            rng: rng.fork(),
            faults_on: true,
            describe_fault_rate: 0.04 * (rng.below(101) as f64 / 100.0),
            mutation_fault_rate: 0.3 * (rng.below(101) as f64 / 100.0),
            tally: Tally::default(),
            checker: Checker::new(controller.clone()),
            trace: Trace::new(keep_trace),
        };
        objects.sort_by_key(|d| std::cmp::Reverse(d.created_at));
        let chaos_until = rng.between(Duration::from_secs(360), Duration::from_secs(900));
        let next_change = rng.between(Duration::from_secs(30), Duration::from_secs(180));
        let bursts = Burst::draw(seed, chaos_until);
        let canary = Canary::draw(seed, &mut objects, chaos_until);
        let provider = Arc::new(SimProvider::new(sim.clone()));
        if let Some(canary) = &canary {
            canary.prepare(&sim, provider.sim_logs());
        }
        let mut shared = shared;
        shared.tally.canary_seeds = u64::from(canary.is_some());
        Run {
            rng,
            clock,
            provider,
            sim,
            shared: Arc::new(Mutex::new(shared)),
            cluster: Cluster::default(),
            memory: Memory::default(),
            timing: Timing::default(),
            config: controller,
            declared: objects,
            gone: Vec::new(),
            chaos_until,
            quiet: false,
            next_change,
            bursts,
            canary,
            seen_quiet: BTreeSet::new(),
        }
    }

    pub(crate) fn log(&self, line: impl FnOnce() -> String) {
        let now = self.clock.now();
        lock(&self.shared).trace.log(now, line);
    }

    pub(crate) fn now(&self) -> Duration {
        self.clock.now()
    }

    fn advance_to(&self, t: Duration) {
        let now = self.clock.now();
        if t > now {
            self.clock.advance(t - now);
        }
    }

    pub(crate) fn fault(&self, kind: FaultKind) {
        lock(&self.shared).tally.fault(kind);
    }

    fn change(&self, kind: ChangeKind) {
        lock(&self.shared).tally.change(kind);
    }

    pub(crate) fn step(&self) {
        lock(&self.shared).tally.steps += 1;
    }

    /// The world changed outside the controller: checks invariants 3 and 5, and takes the new
    /// paths as the clients' (outside changes may cut clients off).
    pub(crate) fn check_world(&self) {
        let mut world = View::new(&self.sim);
        let now = self.clock.now();
        lock(&self.shared)
            .checker
            .after_change(&mut world, now, &Cause::Outside);
    }

    fn run(mut self) -> SeedOutcome {
        loop {
            let now = self.now();
            if !self.quiet && now >= self.chaos_until {
                self.quiet = true;
                lock(&self.shared).faults_on = false;
                self.log(|| "faults and outside changes stop; the quiet period begins".into());
            }
            if self.quiet && (self.all_settled() || now >= self.chaos_until + QUIET_BOUND) {
                break;
            }
            let create = self.declared.last().map(|d| d.created_at);
            let change = (!self.quiet).then_some(self.next_change);
            let burst = self.bursts.last().filter(|_| !self.quiet).map(|b| b.at);
            let closing = self
                .canary
                .as_ref()
                .and_then(Canary::next_closing)
                .filter(|_| !self.quiet);
            let traffic = self.canary.as_ref().map(|c| c.next_traffic);
            let pass = self.memory.next_due();
            let next = [
                create,
                change,
                burst,
                closing,
                traffic,
                pass.as_ref().map(|p| p.0),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else { break };
            let next = if self.quiet {
                next.min(self.chaos_until + QUIET_BOUND)
            } else {
                next.min(self.chaos_until)
            };
            self.advance_to(next);
            if !self.quiet && next >= self.chaos_until {
                continue;
            }
            if create == Some(next) {
                let declared = self.declared.pop().expect("due");
                self.create(declared.owner, declared.spec);
            } else if burst == Some(next) {
                let burst = self.bursts.pop().expect("due");
                self.burst(&burst);
            } else if traffic == Some(next) {
                self.record_traffic();
            } else if closing == Some(next) {
                self.close_path();
            } else if change == Some(next) {
                self.outside_event();
                self.next_change = next
                    + self
                        .rng
                        .between(Duration::from_secs(10), Duration::from_secs(180));
            } else if let Some((t, uid)) = pass
                && t == next
            {
                if self.quiet {
                    self.seen_quiet.insert(uid.clone());
                }
                let chaos = !self.quiet;
                self.pass(&uid, chaos);
            }
        }
        self.finish()
    }

    fn all_settled(&self) -> bool {
        self.cluster.objects.iter().all(|(uid, o)| {
            !o.deleting
                && self.seen_quiet.contains(uid)
                && o.status.as_ref().is_some_and(|s| unsettled(s).is_none())
        })
    }

    fn finish(self) -> SeedOutcome {
        let now = self.now();
        let mut shared = lock(&self.shared);
        for o in self.cluster.objects.values() {
            let status = o.status.clone().unwrap_or_default();
            if o.deleting {
                shared.checker.not_deleted(now, &o.owner, &status);
            } else {
                shared.checker.settled(now, &o.owner, &status);
            }
        }
        shared.tally.virtual_time = now;
        let violations = std::mem::take(&mut shared.checker.violations);
        let trace = std::mem::take(&mut shared.trace).into_lines();
        SeedOutcome {
            seed: 0,
            tally: shared.tally.clone(),
            violations,
            trace,
        }
    }

    /// A user applies an object: it is reconciled at once.
    fn create(&mut self, owner: crate::api::Owner, spec: crate::api::InterfaceEndpointSpec) {
        self.step();
        self.change(ChangeKind::ObjectCreated);
        let uid = owner.uid.clone();
        self.log(|| {
            format!(
                "user creates {} (uid {}): {:?}",
                owner.owner_tag(),
                owner.uid,
                spec
            )
        });
        lock(&self.shared).checker.watch(&owner, &spec);
        self.cluster.objects.insert(uid.clone(), Object::new(owner, spec));
        let now = self.now();
        self.memory.wake_soon(&uid, now);
    }

    /// An outside change, a user edit, or (rarely) a deleted object created again.
    fn outside_event(&mut self) {
        let roll = self.rng.below(100);
        if roll < 4 && !self.gone.is_empty() {
            let i = self.rng.below(self.gone.len());
            let old = self.gone.remove(i);
            let owner = scenario::owner_named(&mut self.rng, &old.owner.namespace, &old.owner.name);
            self.create(owner, old.spec);
            return;
        }
        if roll < 40 {
            let Some(edit) = self.cluster.edit(&mut self.rng) else {
                return;
            };
            self.step();
            self.change(edit.kind);
            let now = self.now();
            if edit.removed {
                self.log(|| format!("user: {} (no finalizer yet: gone at once)", edit.text));
                return;
            }
            let object = &self.cluster.objects[&edit.uid];
            let (owner, spec) = (object.owner.clone(), object.spec.clone());
            self.log(|| format!("user on {}: {}", owner.owner_tag(), edit.text));
            lock(&self.shared).checker.watch(&owner, &spec);
            self.memory.wake_soon(&edit.uid, now);
            return;
        }
        for _ in 0..3 {
            if let Some(happened) = outside::change(&self.sim, &mut self.rng) {
                self.step();
                match happened {
                    Happened::Change(kind, text) => {
                        self.change(kind);
                        self.log(|| text);
                    }
                    Happened::Fault(kind, text) => {
                        self.fault(kind);
                        self.log(|| text);
                    }
                }
                self.check_world();
                return;
            }
        }
    }

    /// Another tool in the account spends every token of EC2's buckets for a category of
    /// actions for a while (the buckets are the account's): the controller's calls of them are
    /// throttled by EC2 itself, whatever its own budget.
    fn burst(&mut self, burst: &Burst) {
        self.step();
        self.change(ChangeKind::RequestTokensSpent);
        let operations = burst.operations();
        self.sim
            .spend_request_tokens_out_of_band(&operations, burst.duration);
        self.log(|| {
            format!(
                "another tool in the account spends every token of EC2's {} buckets for {}s ({})",
                burst.category.as_str(),
                burst.duration.as_secs(),
                operations
                    .iter()
                    .map(|o| o.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    }

    /// The clients' connections of the last minute, as the flow logs record them.
    fn record_traffic(&mut self) {
        let Some(canary) = self.canary.as_mut() else {
            return;
        };
        let objects = self.cluster.objects.values().map(|o| (&o.owner, &o.spec));
        let written = canary.record_traffic(&self.sim, self.provider.sim_logs(), objects);
        if written > 0 {
            lock(&self.shared).tally.reject_records += written;
            self.log(|| format!("the flow logs record {written} rejected connections to endpoints"));
        }
    }

    /// Someone closes a client's path (after the switch, usually).
    fn close_path(&mut self) {
        let Some(canary) = self.canary.as_mut() else {
            return;
        };
        let Some(text) = canary.close_path(&self.sim) else {
            return;
        };
        self.step();
        self.change(ChangeKind::ClientPathClosed);
        self.log(|| text);
        self.check_world();
    }

    /// The object is gone from the cluster for good (its finalizer removed).
    pub(crate) fn forget(&mut self, uid: &str) {
        self.memory.wake.remove(uid);
        self.memory.failures.remove(uid);
        if let Some(object) = self.cluster.objects.remove(uid) {
            lock(&self.shared).checker.finalized(&object.owner);
            self.gone.push(object);
        }
    }
}

/// Another tool calling EC2 in the same account and region (Terraform, an autoscaler, a
/// script) at or above a bucket's refill rate: EC2's buckets of `category` stay empty from `at`
/// for `duration`.
#[derive(Clone, Copy, Debug)]
struct Burst {
    at: Duration,
    duration: Duration,
    category: RateCategory,
}

impl Burst {
    /// The categories of the actions the controller calls.
    const CATEGORIES: [RateCategory; 4] = [
        RateCategory::NonMutating,
        RateCategory::Mutating,
        RateCategory::SecurityGroupIngress,
        RateCategory::VpcEndpoint,
    ];

    /// The bursts of seed `seed` (on about a third of the seeds, one to three in the chaos
    /// period), latest first. Drawn from a stream of their own: a seed without bursts runs as
    /// it did before they were modelled.
    fn draw(seed: u64, chaos_until: Duration) -> Vec<Burst> {
        let mut rng = Rng::new(seed).fork_for(Self::STREAM);
        if !rng.chance(0.35) {
            return Vec::new();
        }
        let mut bursts: Vec<Burst> = (0..1 + rng.below(3))
            .map(|_| {
                let at = rng.between(
                    Duration::from_secs(20),
                    chaos_until.saturating_sub(Duration::from_secs(5)),
                );
                let duration = rng
                    .between(Duration::from_secs(5), Duration::from_secs(60))
                    .min(chaos_until.saturating_sub(at));
                let category = *rng.pick(&Self::CATEGORIES).expect("not empty");
                Burst {
                    at,
                    duration,
                    category,
                }
            })
            .collect();
        bursts.sort_by_key(|b| std::cmp::Reverse(b.at));
        bursts
    }

    /// Tags the bursts' own stream of random numbers.
    const STREAM: u64 = 0x6275_7273_7473; // "bursts"

    fn operations(&self) -> Vec<Ec2Operation> {
        REQUEST_RATE_LIMITS
            .iter()
            .filter(|r| r.category == self.category)
            .map(|r| r.operation)
            .collect()
    }
}

/// Runs one seed; `keep_trace` keeps the step log.
pub fn run_seed(seed: u64, keep_trace: bool) -> SeedOutcome {
    let mut outcome = Run::new(seed, keep_trace).run();
    outcome.seed = seed;
    outcome
}
