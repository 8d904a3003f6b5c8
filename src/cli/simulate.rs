//! `vpce-rollout simulate`: the deterministic simulation (`crate::simulation`) from the command
//! line. Runs any number of seeds on the cores there are and prints what they added up to, or
//! replays one seed with its step log. No cluster, no AWS account, no network.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::simulation::{self, Progress, SeedOutcome, Summary, Violation, clock, per_second};

/// How often a long run says how far it is (on stderr).
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// How many failing seeds are replayed to name what each broke; the rest are only listed.
const FAILURES_EXPLAINED: usize = 20;

/// Options of `vpce-rollout simulate`.
#[derive(Clone, Debug, clap::Args)]
pub struct SimulateArgs {
    /// How many seeds to run
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub seeds: u64,
    /// The first seed to run (seeds FROM..FROM+N)
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub from: u64,
    /// Threads to run seeds on [default: the cores available]
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Replay this one seed (and print its step log with --trace)
    #[arg(long, value_name = "N", conflicts_with_all = ["seeds", "from", "threads"])]
    pub seed: Option<u64>,
    /// Print the step log of the seed replayed (with --seed)
    #[arg(long, requires = "seed")]
    pub trace: bool,
}

pub fn run(args: &SimulateArgs) -> ExitCode {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = match args.seed {
        Some(seed) => replay(seed, args.trace, &mut out),
        None => {
            let Some(end) = args.from.checked_add(args.seeds) else {
                return super::fail(format!(
                    "--from {} --seeds {} runs past the last seed ({})",
                    args.from,
                    args.seeds,
                    u64::MAX
                ));
            };
            let threads = args.threads.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                usize::from,
            );
            many(args.from..end, threads, &mut out)
        }
    };
    exit_code(written)
}

/// Exit 0 when no seed failed, 1 when some did (they are named above) or the output failed.
fn exit_code(written: io::Result<usize>) -> ExitCode {
    match written {
        Ok(0) => ExitCode::from(super::exit::OK),
        Ok(failed) => super::fail(format!(
            "{failed} seed{} broke an invariant (replay with the commands above)",
            if failed == 1 { "" } else { "s" }
        )),
        // `vpce-rollout simulate --seed N --trace | head`: the reader has seen enough.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(super::exit::OK),
        Err(e) => super::fail(format!("writing the output failed: {e}")),
    }
}

/// The command that replays `seed` with its trace.
fn replay_command(seed: u64) -> String {
    format!("vpce-rollout simulate --seed {seed} --trace")
}

/// Runs `seeds`, prints the table and each failing seed; returns how many seeds failed.
fn many(seeds: std::ops::Range<u64>, threads: usize, out: &mut dyn Write) -> io::Result<usize> {
    writeln!(
        out,
        "vpce-rollout simulate: seeds {}..{} on {threads} thread{}",
        seeds.start,
        seeds.end,
        if threads == 1 { "" } else { "s" }
    )?;
    out.flush()?;
    let started = Instant::now();
    let last = Mutex::new(started);
    let summary = simulation::run_seeds_reporting(seeds, threads, |p| {
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= PROGRESS_EVERY && p.done < p.total {
            *last = Instant::now();
            eprintln!("{}", progress_line(p, started.elapsed()));
        }
    });
    writeln!(out)?;
    write!(out, "{summary}")?;
    failures(&summary, |seed| simulation::run_seed(seed, false).violations, out)?;
    Ok(summary.failed_seeds.len())
}

/// `simulate: 4000 of 100000 seeds (4%), 0 failed, 65 seeds/s, about 25 min left`.
fn progress_line(p: Progress, elapsed: Duration) -> String {
    let rate = p.done as f64 / elapsed.as_secs_f64().max(1e-9);
    let left = (p.total - p.done) as f64 / rate.max(1e-9);
    format!(
        "simulate: {} of {} seeds ({}%), {} failed, {} seeds/s, about {} left",
        p.done,
        p.total,
        p.done * 100 / p.total.max(1),
        p.failed,
        per_second(rate),
        if left >= 90.0 {
            format!("{:.0} min", left / 60.0)
        } else {
            format!("{left:.0} s")
        }
    )
}

/// Names each failing seed, what it broke first (`violations` replays a seed), and the command
/// that replays it with its trace.
fn failures(
    summary: &Summary,
    violations: impl Fn(u64) -> Vec<Violation>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let failed = &summary.failed_seeds;
    if failed.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "failing seeds ({}):", failed.len())?;
    for &seed in failed.iter().take(FAILURES_EXPLAINED) {
        match violations(seed).first() {
            Some(v) => writeln!(
                out,
                "  seed {seed}: invariant {} at {}: {}",
                v.invariant.title(),
                clock(v.at),
                v.message
            )?,
            None => writeln!(
                out,
                "  seed {seed}: no violation when run alone (a bug in the simulation)"
            )?,
        }
        writeln!(out, "    replay: {}", replay_command(seed))?;
    }
    if failed.len() > FAILURES_EXPLAINED {
        let rest: Vec<String> = failed[FAILURES_EXPLAINED..].iter().map(u64::to_string).collect();
        writeln!(out, "  and seeds {} (replay each the same way)", rest.join(", "))?;
    }
    Ok(())
}

/// Replays one seed: its trace (if asked), its violations and its table. Returns 1 when it
/// broke an invariant, else 0.
fn replay(seed: u64, trace: bool, out: &mut dyn Write) -> io::Result<usize> {
    let started = Instant::now();
    let SeedOutcome {
        tally,
        violations,
        trace: lines,
        ..
    } = simulation::run_seed(seed, trace);
    let mut summary = Summary::default();
    summary.record(seed, &tally, &violations);
    summary.elapsed = started.elapsed();
    writeln!(out, "vpce-rollout simulate: seed {seed}")?;
    if trace {
        writeln!(out)?;
        for line in &lines {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out)?;
    write!(out, "{summary}")?;
    if violations.is_empty() {
        return Ok(0);
    }
    writeln!(out)?;
    writeln!(out, "violations ({}):", violations.len())?;
    for v in &violations {
        writeln!(
            out,
            "  invariant {} at {}: {}",
            v.invariant.title(),
            clock(v.at),
            v.message
        )?;
    }
    if !trace {
        writeln!(out, "  the step log: {}", replay_command(seed))?;
    }
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::{Invariant, Tally};

    fn broke_7(seed: u64) -> Vec<Violation> {
        vec![Violation {
            invariant: Invariant::StatusClaimsHold,
            at: Duration::from_millis(61_500),
            message: format!("status of seed {seed} reports sgr-1 added; AWS has no such rule"),
        }]
    }

    fn listed(failed: &[u64]) -> String {
        let mut summary = Summary::default();
        for seed in 0..=failed.iter().copied().max().unwrap_or(0) + 1 {
            let violations = if failed.contains(&seed) {
                broke_7(seed)
            } else {
                Vec::new()
            };
            summary.record(seed, &Tally::default(), &violations);
        }
        let mut out = Vec::new();
        failures(&summary, broke_7, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn each_failing_seed_is_named_with_what_it_broke_and_the_command_that_replays_it() {
        assert_eq!(
            listed(&[3, 9]),
            "\nfailing seeds (2):\n\
             \x20 seed 3: invariant 7 status claims more than AWS shows at 00:01:01.500: status of seed 3 reports sgr-1 added; AWS has no such rule\n\
             \x20   replay: vpce-rollout simulate --seed 3 --trace\n\
             \x20 seed 9: invariant 7 status claims more than AWS shows at 00:01:01.500: status of seed 9 reports sgr-1 added; AWS has no such rule\n\
             \x20   replay: vpce-rollout simulate --seed 9 --trace\n"
        );
        assert_eq!(listed(&[]), "");
    }

    #[test]
    fn past_twenty_failing_seeds_the_others_are_listed_by_number() {
        let failed: Vec<u64> = (100..125).collect();
        let text = listed(&failed);
        assert!(text.starts_with("\nfailing seeds (25):\n"), "{text}");
        assert_eq!(text.matches("    replay: ").count(), FAILURES_EXPLAINED);
        assert!(text.contains("  seed 119: invariant 7"), "{text}");
        assert!(
            text.ends_with("  and seeds 120, 121, 122, 123, 124 (replay each the same way)\n"),
            "{text}"
        );
    }

    #[test]
    fn a_failing_seed_exits_1_and_a_closed_pipe_0() {
        assert_eq!(exit_code(Ok(0)), ExitCode::from(crate::cli::exit::OK));
        assert_eq!(exit_code(Ok(1)), ExitCode::from(crate::cli::exit::ERROR));
        assert_eq!(exit_code(Ok(3)), ExitCode::from(crate::cli::exit::ERROR));
        let closed = io::Error::from(io::ErrorKind::BrokenPipe);
        assert_eq!(exit_code(Err(closed)), ExitCode::from(crate::cli::exit::OK));
        let full = io::Error::from(io::ErrorKind::StorageFull);
        assert_eq!(exit_code(Err(full)), ExitCode::from(crate::cli::exit::ERROR));
    }

    #[test]
    fn progress_says_how_far_how_fast_and_how_long_is_left() {
        let p = Progress {
            done: 4_000,
            total: 100_000,
            failed: 2,
        };
        assert_eq!(
            progress_line(p, Duration::from_secs(50)),
            "simulate: 4000 of 100000 seeds (4%), 2 failed, 80 seeds/s, about 20 min left"
        );
        let p = Progress {
            done: 900,
            total: 1_000,
            ..p
        };
        assert_eq!(
            progress_line(p, Duration::from_secs(9)),
            "simulate: 900 of 1000 seeds (90%), 2 failed, 100 seeds/s, about 1 s left"
        );
        let p = Progress {
            done: 7,
            total: 2_000,
            ..p
        };
        assert_eq!(
            progress_line(p, Duration::from_secs(14)),
            "simulate: 7 of 2000 seeds (0%), 2 failed, 0.50 seeds/s, about 66 min left"
        );
        assert_eq!(per_second(4.54), "4.5");
    }
}
