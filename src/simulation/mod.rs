//! Deterministic simulation: the whole lifecycle of several objects, under faults, on virtual
//! time, checked against the controller's promises after every step.
//!
//! A seed is the whole recipe of a run: the world (`scenario.rs`), the objects and their specs,
//! which EC2 calls fail and how, when the process dies, when leadership moves, and what others
//! change in the account. The same seed gives the same run, step for step, so a violation is
//! replayed with `vpce-rollout simulate --seed N --trace` (docs/reliability.md).
//!
//! What runs for real: the engine ([`crate::engine::reconcile`]: observe, analyse, plan, act)
//! over the simulated EC2 world ([`crate::aws::sim`]). Around it:
//! - `controller.rs`: the controller's finalizer, status and requeue handling, a faithful model
//!   of `controller::reconcile` (why a model: see there), with crashes, failed status writes
//!   and leader changes between its steps;
//! - `port.rs`: the EC2 port of one pass: faults on any call (throttling, 5xx, timeouts before
//!   or after EC2 acted, a new endpoint listed late), the crash point, the call a leader change
//!   holds, and the invariant checks around every call that changes the world;
//! - `cluster.rs`: the objects as the API server holds them, and the app teams' edits;
//! - `canary.rs`: the canary of issue 14 on some seeds: objects naming the VPC's flow logs,
//!   the clients' rejected connections written as flow log records, and paths closed after
//!   the switch;
//! - `outside.rs`: everyone else's changes (rules, ENIs, the endpoint, private DNS, the service
//!   owner's acceptance, EC2 being slow or failing an endpoint);
//! - `invariants.rs`: invariants 1-7 of issue 9 and 8 (a rollback of the canary's holds),
//!   with the real analysis as the oracle
//!   (`invariant_tests.rs` shows each one caught);
//! - `run.rs`: one seed's timeline: a chaos period (6-15 virtual minutes), then a quiet period
//!   in which nothing is injected and every object must settle ([`QUIET_BOUND`]);
//! - `report.rs`: counts by kind and the table; `trace.rs`: the step log; `rng.rs`: SplitMix64;
//! - [`throughput`]: a wave of new endpoints under EC2's request limits, through the API budget
//!   (figure 3 of issue 12: `cargo bench --bench api_budget`).
//!
//! The seeds test (`cargo test --lib simulation`) runs 2,000 seeds and prints the table;
//! `vpce-rollout simulate` runs any number.

mod canary;
mod cluster;
mod controller;
mod invariants;
mod outside;
mod port;
mod report;
mod rng;
mod run;
mod scenario;
pub mod throughput;
mod trace;

#[cfg(test)]
mod invariant_tests;
#[cfg(test)]
mod tests;

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub use invariants::{Invariant, RECORD_TTL, Violation};
pub use report::{ChangeKind, FaultKind, Reaction, Summary, Tally, per_second};
pub use run::{QUIET_BOUND, SeedOutcome, run_seed};
pub use trace::clock;

/// Runs `seeds` on `threads` threads (at least one) and adds them up. A seed with violations
/// is kept in the summary's examples; replay it with [`run_seed`] and a trace.
pub fn run_seeds(seeds: Range<u64>, threads: usize) -> Summary {
    run_seeds_reporting(seeds, threads, |_| {})
}

/// How far a run of many seeds is, as [`run_seeds_reporting`] tells it after each seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Seeds finished.
    pub done: u64,
    /// Seeds to run.
    pub total: u64,
    /// Seeds finished with at least one violation.
    pub failed: u64,
}

/// [`run_seeds`], calling `progress` (from the worker threads) after each seed.
///
/// The threads take the next seed from one counter, so a long seed does not leave a thread
/// idle behind it; the summary does not depend on which thread ran which seed.
pub fn run_seeds_reporting(seeds: Range<u64>, threads: usize, progress: impl Fn(Progress) + Sync) -> Summary {
    let started = Instant::now();
    let total = seeds.end.saturating_sub(seeds.start);
    let next = AtomicU64::new(seeds.start);
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let mut summary = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let (next, done, failed, progress) = (&next, &done, &failed, &progress);
                let (start, end) = (seeds.start, seeds.end);
                scope.spawn(move || {
                    let mut part = Summary::default();
                    loop {
                        let seed = next.fetch_add(1, Ordering::Relaxed);
                        // `seed < start`: the counter wrapped past u64::MAX.
                        if seed >= end || seed < start {
                            break part;
                        }
                        let outcome = run_seed(seed, false);
                        part.record(seed, &outcome.tally, &outcome.violations);
                        let failed = if outcome.violations.is_empty() {
                            failed.load(Ordering::Relaxed)
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed) + 1
                        };
                        progress(Progress {
                            done: done.fetch_add(1, Ordering::Relaxed) + 1,
                            total,
                            failed,
                        });
                    }
                })
            })
            .collect();
        let mut total = Summary::default();
        for worker in workers {
            total.merge(worker.join().expect("a simulation thread panicked"));
        }
        total
    });
    summary.elapsed = started.elapsed();
    summary
}
