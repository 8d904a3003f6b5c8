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
//! - `outside.rs`: everyone else's changes (rules, ENIs, the endpoint, private DNS, the service
//!   owner's acceptance, EC2 being slow or failing an endpoint);
//! - `invariants.rs`: invariants 1-7 of issue 9, with the real analysis as the oracle
//!   (`invariant_tests.rs` shows each one caught);
//! - `run.rs`: one seed's timeline: a chaos period (6-15 virtual minutes), then a quiet period
//!   in which nothing is injected and every object must settle ([`QUIET_BOUND`]);
//! - `report.rs`: counts by kind and the table; `trace.rs`: the step log; `rng.rs`: SplitMix64;
//! - [`throughput`]: a wave of new endpoints under EC2's request limits, through the API budget
//!   (figure 3 of issue 12: `cargo bench --bench api_budget`).
//!
//! The seeds test (`cargo test --lib simulation`) runs 2,000 seeds and prints the table;
//! `vpce-rollout simulate` runs any number.

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
use std::time::Instant;

pub use invariants::{Invariant, RECORD_TTL, Violation};
pub use report::{ChangeKind, FaultKind, Summary, Tally};
pub use run::{QUIET_BOUND, SeedOutcome, run_seed};

/// Runs `seeds` on `threads` threads (at least one) and adds them up. A seed with violations
/// is kept in the summary's examples; replay it with [`run_seed`] and a trace.
pub fn run_seeds(seeds: Range<u64>, threads: usize) -> Summary {
    let started = Instant::now();
    let threads = threads.max(1) as u64;
    let mut summary = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let seeds = seeds.clone();
                scope.spawn(move || {
                    let mut part = Summary::default();
                    for seed in seeds.filter(|s| s % threads == t) {
                        let outcome = run_seed(seed, false);
                        part.record(seed, &outcome.tally, &outcome.violations);
                    }
                    part
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
