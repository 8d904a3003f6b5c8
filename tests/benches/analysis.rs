//! Figure 1 of docs/performance.md: the analysis of a generated VPC of 20,000 ENIs, 5,000
//! security groups and 100,000 rules; reading its describe JSON; a straightforward reference
//! implementation (reference.rs) on the same world, which must give every client the same
//! verdict (asserted), and the ratio of their times; then the same at 1k, 5k, 20k and 50k ENIs,
//! to show the cost grows linearly. Prints numbers, never asserts on time:
//! `cargo bench --bench analysis`. Under `cargo test` (no `--bench`) it runs once on small worlds,
//! so that the agreement is checked with the other tests.

mod reference;

use std::time::{Duration, Instant};

use vpce_rollout::analysis::{Analysis, analyze};
use vpce_rollout::aws::sim::generate::{GeneratedVpc, Shape, generate};
use vpce_rollout::model::Snapshot;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Peak resident set size of this process (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The analysis, `runs` times: the median, and the last result.
fn time_analysis(world: &GeneratedVpc, runs: usize) -> (Duration, Analysis) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let analysis =
            analyze(&world.spec, Some(&world.owner), &world.snapshot).expect("the generated world is valid");
        times.push(start.elapsed());
        last = Some(analysis);
    }
    (median(times), last.expect("at least one run"))
}

/// The reference, `runs` times, checked against the analysis client by client: the median.
fn time_reference(world: &GeneratedVpc, analysis: &Analysis, runs: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let verdicts = reference::verdicts(&world.snapshot, &world.spec.vpc_id, analysis);
        times.push(start.elapsed());
        agree(analysis, &verdicts);
    }
    median(times)
}

/// Asserts that the reference gives every client the verdict the analysis gives.
fn agree(analysis: &Analysis, verdicts: &[reference::Verdict]) {
    assert_eq!(analysis.clients.len(), verdicts.len());
    let disagreements: Vec<String> = analysis
        .clients
        .iter()
        .zip(verdicts)
        .filter(|(c, r)| reference::verdict_of(c) != **r)
        .map(|(c, r)| {
            format!(
                "{}: analysis {:?}, reference {:?}",
                c.network_interface_id,
                reference::verdict_of(c),
                r
            )
        })
        .collect();
    assert!(
        disagreements.is_empty(),
        "{} of {} clients differ, e.g. {}",
        disagreements.len(),
        analysis.clients.len(),
        disagreements[..disagreements.len().min(3)].join("\n")
    );
}

fn figure_1(runs: usize) {
    let start = Instant::now();
    let world = generate(&Shape::FIGURE_1);
    let generated = start.elapsed();
    let json = world.describe_json();
    println!(
        "Figure 1 world (seed {}): {} ENIs, {} security groups, {} rules, {} subnets, {} network ACLs; \
         describe JSON {:.1} MB; generated in {:.0} ms",
        Shape::FIGURE_1.seed,
        world.snapshot.network_interfaces.len(),
        world.snapshot.security_groups.len(),
        world.rule_count(),
        world.snapshot.subnets.len(),
        world.snapshot.network_acls.len(),
        json.len() as f64 / 1e6,
        ms(generated)
    );

    let mut parse_times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let parsed = Snapshot::from_slice(&json).expect("the generated snapshot parses");
        parse_times.push(start.elapsed());
        assert_eq!(
            parsed.network_interfaces.len(),
            world.snapshot.network_interfaces.len()
        );
    }
    println!(
        "parse the describe JSON:   median {:7.1} ms over {runs} runs",
        ms(median(parse_times))
    );

    let (analysis_time, analysis) = time_analysis(&world, runs);
    let reference_time = time_reference(&world, &analysis, runs.min(3));
    let fixable: usize = analysis.remediation.rules.len();
    println!(
        "result: {} clients ({} blocked), {} excluded, {} rules proposed, {} blocks not fixable",
        analysis.clients.len(),
        analysis.blocked().count(),
        analysis.excluded.len(),
        fixable,
        analysis.remediation.unfixable.len()
    );
    println!(
        "analyze:                   median {:7.1} ms over {runs} runs (target 50 ms, one core)",
        ms(analysis_time)
    );
    println!(
        "reference (verdicts only): median {:7.1} ms over {} runs; agrees on all {} clients",
        ms(reference_time),
        runs.min(3),
        analysis.clients.len()
    );
    println!(
        "ratio reference / analyze: {:.1}x",
        reference_time.as_secs_f64() / analysis_time.as_secs_f64()
    );
}

fn size_table(sizes: &[usize], runs: usize) {
    println!();
    println!("Cost by size (figure 1's proportions: a group per 4 ENIs, 5 rules per ENI):");
    println!(
        "{:>7} {:>6} {:>7} {:>8} {:>11} {:>13} {:>13} {:>6}",
        "ENIs", "groups", "rules", "clients", "analyze ms", "µs per ENI", "reference ms", "ratio"
    );
    for &n in sizes {
        let world = generate(&Shape::scaled(n));
        let (analysis_time, analysis) = time_analysis(&world, runs);
        let reference_time = time_reference(&world, &analysis, 1);
        println!(
            "{:>7} {:>6} {:>7} {:>8} {:>11.1} {:>13.2} {:>13.1} {:>5.1}x",
            n,
            world.snapshot.security_groups.len(),
            world.rule_count(),
            analysis.clients.len(),
            ms(analysis_time),
            analysis_time.as_secs_f64() * 1e6 / n as f64,
            ms(reference_time),
            reference_time.as_secs_f64() / analysis_time.as_secs_f64()
        );
    }
}

/// `--once N`: builds the world of N ENIs (figure 1's proportions) and analyses it once, for
/// counting instructions (`valgrind --tool=callgrind
/// --toggle-collect='vpce_rollout::analysis::analyze_with_evidence'`).
fn once(n: usize) {
    let world = generate(&Shape::scaled(n));
    let analysis =
        analyze(&world.spec, Some(&world.owner), &world.snapshot).expect("the generated world is valid");
    println!(
        "{n} ENIs: {} clients ({} blocked), {} rules proposed, {} blocks not fixable",
        analysis.clients.len(),
        analysis.blocked().count(),
        analysis.remediation.rules.len(),
        analysis.remediation.unfixable.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--once") {
        once(
            args.get(i + 1)
                .and_then(|n| n.parse().ok())
                .expect("--once N (ENIs)"),
        );
        return;
    }
    let bench = args.iter().any(|a| a == "--bench");
    println!("load average at start: {}", load());
    if bench {
        figure_1(7);
        size_table(&[1_000, 5_000, 20_000, 50_000], 5);
    } else {
        // `cargo test`: once, on small worlds, for the agreement.
        size_table(&[1_000, 3_000], 1);
    }
    println!();
    println!("load average at end: {}", load());
    match peak_rss_mib() {
        Some(mib) => println!("peak RSS (VmHWM):          {mib:.1} MiB"),
        None => println!("peak RSS (VmHWM):          unavailable (no /proc/self/status)"),
    }
}
