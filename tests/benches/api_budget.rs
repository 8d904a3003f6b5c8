//! Figure 3 of issue 12: rollout throughput under EC2's request limits. A wave of new
//! endpoints (each one CreateVpcEndpoint and one ModifyVpcEndpoint), every object's pass the
//! real engine over the simulated EC2 world with EC2's token buckets enforced, all of them
//! sharing one API budget, on virtual time. Prints numbers, never asserts on time:
//! `cargo bench --bench api_budget` (`-- 200 100` for the objects and the share in percent).

use vpce_rollout::aws::Ec2Operation;
use vpce_rollout::simulation::throughput::{WaveReport, rollout_wave};

fn print(title: &str, r: &WaveReport) {
    println!("{title}");
    println!("  objects                         {}", r.objects);
    println!("  Ready                           {}", r.ready);
    println!(
        "  achieved (virtual)              {:.1} s",
        r.achieved.as_secs_f64()
    );
    println!(
        "  bound (n - burst) / rate + prov {:.1} s  (share {:.0} %, provisioning {} s)",
        r.bound.as_secs_f64(),
        r.share * 100.0,
        r.provisioning_delay.as_secs()
    );
    println!("  ratio achieved / bound          {:.3}", r.ratio());
    println!(
        "  last CreateVpcEndpoint at       {:.1} s",
        r.last_create.as_secs_f64()
    );
    println!(
        "  last ModifyVpcEndpoint at       {:.1} s",
        r.last_modify.as_secs_f64()
    );
    println!(
        "  longest create -> Ready         {:.1} s",
        r.longest_create_to_ready.as_secs_f64()
    );
    println!("  passes                          {}", r.passes);
    println!("  failed passes                   {}", r.failed_passes);
    println!("  RequestLimitExceeded from EC2   {}", r.request_limit_exceeded);
    println!("  statuses naming a throttle      {}", r.throttled_statuses);
    println!(
        "  passes waiting for API budget   {}  (longest line {})",
        r.budget_waits, r.longest_line
    );
    for (category, tokens) in &r.tokens_waited {
        println!("  tokens waited for, {:<21} {tokens}", category.as_str());
    }
    let total: u64 = r.calls.values().sum();
    println!("  EC2 calls answered              {total}");
    for op in [Ec2Operation::CreateVpcEndpoint, Ec2Operation::ModifyVpcEndpoint] {
        println!(
            "    {:<29} {}",
            op.as_str(),
            r.calls.get(&op).copied().unwrap_or(0)
        );
    }
    let describes: u64 = r
        .calls
        .iter()
        .filter(|(op, _)| !op.is_mutation())
        .map(|(_, n)| n)
        .sum();
    println!("    describes                     {describes}");
}

fn main() {
    // `cargo bench` passes `--bench`; numbers are the objects and the share in percent.
    let numbers: Vec<f64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let objects = numbers.first().map_or(200, |n| *n as usize);
    let share = numbers.get(1).map_or(100.0, |s| *s) / 100.0;
    let started = std::time::Instant::now();
    let report = rollout_wave(objects, Some(share));
    print(
        &format!(
            "{objects} new endpoints through the API budget at {:.0} % share",
            share * 100.0
        ),
        &report,
    );
    println!("  (wall time {:.1} s)", started.elapsed().as_secs_f64());
    let within = report.ready == objects && report.ratio() <= 1.10 && report.failed_passes == 0;
    println!(
        "  target: all Ready within 10 % of the bound, zero failed, zero RequestLimitExceeded surfaced: {}",
        if within && report.throttled_statuses == 0 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!();
    let unbudgeted = rollout_wave(objects, None);
    print(
        &format!("{objects} new endpoints straight to EC2 (no budget), for comparison"),
        &unbudgeted,
    );
}
