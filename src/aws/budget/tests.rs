//! The budget's arithmetic on explicit times, and the port behind it over the simulated world
//! (EC2's buckets enforced, virtual time).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;
use crate::aws::sim::{SimClock, SimConfig, SimEc2};
use crate::aws::{Ec2, EndpointFilter, ErrorKind};
use crate::engine::incident;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn granted(a: &Admission) -> bool {
    matches!(a, Admission::Granted { .. })
}

fn wait(a: Admission) -> BudgetWait {
    match a {
        Admission::Wait(w) => w,
        Admission::Granted { .. } => panic!("granted, expected a wait"),
    }
}

#[test]
fn every_operation_has_exactly_one_bucket_in_the_category_ec2_lists_it_under() {
    use Ec2Operation as Op;
    use RateCategory::*;
    for op in Ec2Operation::ALL {
        let rows = REQUEST_RATE_LIMITS.iter().filter(|r| r.operation == op).count();
        assert_eq!(rows, 1, "{op}");
        let expected = match op {
            Op::DescribeVpcs
            | Op::DescribeVpcAttribute
            | Op::DescribeSubnets
            | Op::DescribeSecurityGroups
            | Op::DescribeSecurityGroupRules
            | Op::DescribeNetworkInterfaces
            | Op::DescribeNetworkAcls
            | Op::DescribeVpcEndpoints
            | Op::DescribeVpcEndpointServices
            | Op::DescribeManagedPrefixLists
            | Op::GetManagedPrefixListEntries
            | Op::DescribeFlowLogs
            | Op::DescribeRouteTables => NonMutating,
            Op::CreateVpcEndpoint | Op::ModifyVpcEndpoint | Op::DeleteVpcEndpoints => VpcEndpoint,
            Op::AuthorizeSecurityGroupIngress | Op::RevokeSecurityGroupIngress => SecurityGroupIngress,
            Op::AuthorizeSecurityGroupEgress
            | Op::RevokeSecurityGroupEgress
            | Op::CreateTags
            | Op::DeleteTags => Mutating,
        };
        let row = rate_limit(op);
        assert_eq!(row.category, expected, "{op}");
        assert_eq!((row.capacity, row.refill_per_second), expected.figures(), "{op}");
        // Only describes are non-mutating; only mutations are in the mutating buckets.
        assert_eq!(
            op.is_mutation(),
            !matches!(expected, NonMutating | UnfilteredUnpaginated),
            "{op}"
        );
    }
}

#[test]
fn the_categories_hold_ec2s_published_figures() {
    assert_eq!(RateCategory::NonMutating.figures(), (100.0, 20.0));
    assert_eq!(RateCategory::UnfilteredUnpaginated.figures(), (50.0, 10.0));
    assert_eq!(RateCategory::Mutating.figures(), (50.0, 5.0));
    assert_eq!(RateCategory::SecurityGroupIngress.figures(), (50.0, 5.0));
    assert_eq!(RateCategory::VpcEndpoint.figures(), (4.0, 0.3));
    // Every describe of the port is filtered by vpc-id (or by ids, names, tags).
    assert!(
        REQUEST_RATE_LIMITS
            .iter()
            .all(|r| r.category != RateCategory::UnfilteredUnpaginated)
    );
    let scarce: Vec<_> = RateCategory::ALL.iter().filter(|c| !c.waits_in_line()).collect();
    assert_eq!(scarce, [&RateCategory::VpcEndpoint]);
}

#[test]
fn at_half_share_the_create_bucket_holds_two_tokens_and_refills_at_0_15_per_second() {
    let budget = AccountBudget::new(0.5);
    let op = Ec2Operation::CreateVpcEndpoint;
    assert!(granted(&budget.try_take(op, 1, "a", Duration::ZERO)));
    assert!(granted(&budget.try_take(op, 1, "b", Duration::ZERO)));
    let w = wait(budget.try_take(op, 1, "c", Duration::ZERO));
    assert_eq!((w.position, w.waiting), (1, 1));
    // 1 / 0.15 s = 6.67 s, rounded up to the next millisecond.
    assert_eq!(w.after, Duration::from_millis(6667));
    assert!(!granted(&budget.try_take(op, 1, "c", secs(6.6))));
    assert!(granted(&budget.try_take(op, 1, "c", secs(6.67))));
}

#[test]
fn at_full_share_a_describe_bucket_bursts_100_then_allows_20_per_second() {
    let budget = AccountBudget::new(1.0);
    let op = Ec2Operation::DescribeNetworkInterfaces;
    for i in 0..100 {
        assert!(
            granted(&budget.try_take(op, 1, &format!("c{i}"), Duration::ZERO)),
            "{i}"
        );
    }
    assert!(!granted(&budget.try_take(op, 1, "late", Duration::ZERO)));
    let mut later = 0;
    for i in 0..30 {
        if granted(&budget.try_take(op, 1, &format!("d{i}"), secs(1.0))) {
            later += 1;
        }
    }
    assert_eq!(
        later,
        20 - 1,
        "20 refilled in a second, one of them for the caller in line"
    );
    // Another action's bucket is untouched (EC2 keeps one per action).
    assert!(granted(&budget.try_take(
        Ec2Operation::DescribeSubnets,
        1,
        "x",
        Duration::ZERO
    )));
}

#[test]
fn a_two_token_request_passes_even_when_the_share_shrinks_the_bucket_below_two() {
    let budget = AccountBudget::new(0.01);
    let op = Ec2Operation::DescribeVpcAttribute;
    assert!(granted(&budget.try_take(op, 2, "a", Duration::ZERO)));
    let w = wait(budget.try_take(op, 2, "b", Duration::ZERO));
    // 2 tokens at 0.2 per second.
    assert_eq!(w.after, Duration::from_millis(10_001));
    assert!(granted(&budget.try_take(op, 2, "b", secs(10.001))));
}

#[test]
fn a_throttle_halves_the_share_which_recovers_a_tenth_every_ten_seconds_after_a_minute() {
    let mut share = Share::new(0.5);
    assert_eq!(share.at(Duration::ZERO), 0.5);
    share.throttled(secs(100.0));
    assert_eq!(share.at(secs(100.0)), 0.25);
    assert_eq!(
        share.at(secs(159.9)),
        0.25,
        "held for a minute after the throttle"
    );
    assert!((share.at(secs(160.0)) - 0.30).abs() < 1e-9);
    assert!((share.at(secs(175.0)) - 0.35).abs() < 1e-9);
    assert_eq!(
        share.at(secs(300.0)),
        0.5,
        "back to the configured share, never above"
    );
    // Throttles in a row halve it again, down to an eighth of the configured share.
    let mut share = Share::new(0.5);
    for t in 0..10 {
        share.throttled(secs(f64::from(t)));
    }
    assert_eq!(share.at(secs(10.0)), 0.5 / 8.0);
    // A throttle during recovery halves what the share had recovered to.
    let mut share = Share::new(1.0);
    share.throttled(Duration::ZERO);
    share.throttled(secs(85.0));
    assert!(
        (share.at(secs(85.0)) - 0.4).abs() < 1e-9,
        "{}",
        share.at(secs(85.0))
    );
}

#[test]
fn a_shrunk_share_slows_the_buckets_down() {
    let budget = AccountBudget::new(1.0);
    let op = Ec2Operation::ModifyVpcEndpoint;
    for key in ["a", "b", "c", "d"] {
        assert!(granted(&budget.try_take(op, 1, key, Duration::ZERO)));
    }
    budget.throttled(Duration::ZERO);
    assert_eq!(budget.share(Duration::ZERO), 0.5);
    // One token at 0.15 per second instead of 0.3.
    assert_eq!(
        wait(budget.try_take(op, 1, "e", Duration::ZERO)).after,
        Duration::from_millis(6667)
    );
}

#[test]
fn an_object_asking_again_and_again_keeps_its_place_and_never_gets_ahead_of_another() {
    let budget = AccountBudget::new(1.0);
    let op = Ec2Operation::CreateVpcEndpoint;
    for key in ["x1", "x2", "x3", "x4"] {
        assert!(granted(&budget.try_take(op, 1, key, Duration::ZERO)));
    }
    // `hammer` retries every 100 ms from t=0; `quiet` asks once at t=0.5 s and comes back when
    // told to.
    assert_eq!(wait(budget.try_take(op, 1, "hammer", Duration::ZERO)).position, 1);
    let mut quiet = None;
    let mut hammer_granted = Vec::new();
    let mut quiet_granted = None;
    for tick in 1..200 {
        let now = Duration::from_millis(100 * tick);
        if granted(&budget.try_take(op, 1, "hammer", now)) {
            hammer_granted.push(now);
        }
        if now == Duration::from_millis(500) {
            let w = wait(budget.try_take(op, 1, "quiet", now));
            assert_eq!((w.position, w.waiting), (2, 2), "behind the one that came first");
            quiet = Some(now + w.after);
        }
        if let Some(back) = quiet
            && quiet_granted.is_none()
            && now >= back
        {
            assert!(granted(&budget.try_take(op, 1, "quiet", now)), "at {now:?}");
            quiet_granted = Some(now);
        }
    }
    // Two tokens after 6.67 s: one for each, whatever the hammering.
    assert_eq!(hammer_granted.first(), Some(&Duration::from_millis(3400)));
    let quiet_granted = quiet_granted.expect("the quiet object got its token");
    assert!(quiet_granted <= Duration::from_millis(6700), "{quiet_granted:?}");
    // The hammering object is granted again only after the quiet one (it asks anew each
    // time, so it queues behind it).
    assert!(hammer_granted.iter().filter(|t| **t < quiet_granted).count() == 1);
}

#[test]
fn a_place_is_given_up_when_its_holder_does_not_come_back() {
    let budget = AccountBudget::new(1.0);
    let op = Ec2Operation::DeleteVpcEndpoints;
    for key in ["a", "b", "c", "d"] {
        assert!(granted(&budget.try_take(op, 1, key, Duration::ZERO)));
    }
    let gone = wait(budget.try_take(op, 1, "deleted-object", Duration::ZERO));
    assert_eq!(gone.position, 1);
    let w = wait(budget.try_take(op, 1, "next", Duration::ZERO));
    assert_eq!(w.position, 2);
    // The first never comes back: after its time plus the grace, the second moves up.
    let late = gone.after + Duration::from_secs(31);
    assert!(granted(&budget.try_take(op, 1, "next", late)));
    // Leaving gives the place up at once.
    for key in ["x1", "x2", "x3"] {
        assert!(granted(&budget.try_take(op, 1, key, late)));
    }
    let w = wait(budget.try_take(op, 1, "y", late));
    assert_eq!(w.position, 1);
    budget.leave(op, "y");
    assert_eq!(wait(budget.try_take(op, 1, "z", late)).position, 1);
}

/// Counts what the budget reports.
#[derive(Default)]
struct Counts {
    waited: AtomicU32,
    throttled: AtomicU32,
    share_permille: AtomicU32,
}

impl BudgetObserver for Counts {
    fn waited(&self, _: RateCategory, tokens: u32) {
        self.waited.fetch_add(tokens, Ordering::Relaxed);
    }
    fn throttled(&self, _: RateCategory) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }
    fn share(&self, _: usize, share: f64) {
        self.share_permille
            .store((share * 1000.0).round() as u32, Ordering::Relaxed);
    }
}

fn throttling_world() -> Arc<SimEc2> {
    Arc::new(SimEc2::with_config(
        &incident::world(),
        SimClock::new(),
        SimConfig::default().instant(),
    ))
}

fn budgeted(sim: &Arc<SimEc2>, share: f64, counts: &Arc<Counts>) -> BudgetedEc2<SimEc2> {
    BudgetedEc2::new(
        sim.clone(),
        Arc::new(AccountBudget::new(share)),
        Arc::new(sim.clock().clone()),
        counts.clone(),
    )
}

fn run<F: Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}

use std::future::Future;

#[test]
fn without_the_budget_the_simulated_ec2_throttles_a_burst_and_with_it_never_does() {
    let sim = throttling_world();
    let filter = EndpointFilter::default();
    let mut throttled = 0;
    for _ in 0..150 {
        if let Err(e) = run(sim.describe_vpc_endpoints(&filter)) {
            assert_eq!(
                (e.kind, e.code.as_str()),
                (ErrorKind::Throttled, "RequestLimitExceeded")
            );
            throttled += 1;
        }
    }
    assert_eq!(throttled, 50, "100 burst, nothing refilled in zero time");

    let sim = throttling_world();
    let counts = Arc::new(Counts::default());
    let ec2 = budgeted(&sim, 1.0, &counts);
    let start = sim.clock().now();
    for _ in 0..150 {
        run(ec2.describe_vpc_endpoints(&filter)).expect("waits for its token instead");
    }
    assert!(sim.calls().iter().all(|c| c.succeeded()));
    // 50 beyond the burst at 20 per second: 2.5 s of virtual time spent waiting in line.
    let waited = sim.clock().now() - start;
    assert!(waited >= secs(2.5) && waited < secs(2.6), "{waited:?}");
    assert_eq!(counts.waited.load(Ordering::Relaxed), 50);
    assert_eq!(counts.throttled.load(Ordering::Relaxed), 0);
}

#[test]
fn a_throttle_is_absorbed_retried_after_a_wait_and_shrinks_the_share() {
    let sim = throttling_world();
    let counts = Arc::new(Counts::default());
    let ec2 = budgeted(&sim, 0.5, &counts);
    sim.inject_error(
        Ec2Operation::DescribeSubnets,
        "RequestLimitExceeded",
        "Request limit exceeded.",
        2,
    );
    let start = sim.clock().now();
    let subnets = run(ec2.describe_subnets(incident::VPC)).expect("retried until it passes");
    assert_eq!(subnets.len(), 3);
    assert_eq!(sim.calls().len(), 3);
    // 1 s, then 2 s.
    assert_eq!(sim.clock().now() - start, Duration::from_secs(3));
    assert_eq!(counts.throttled.load(Ordering::Relaxed), 2);
    assert_eq!(counts.share_permille.load(Ordering::Relaxed), 125);
    assert_eq!(ec2.budget().share(sim.clock().now()), 0.125);

    // Throttled again and again: an expected wait, never a failure.
    sim.inject_error(
        Ec2Operation::DescribeSubnets,
        "RequestLimitExceeded",
        "Request limit exceeded.",
        3,
    );
    let error = run(ec2.describe_subnets(incident::VPC)).expect_err("gives up for this pass");
    assert_eq!(error.kind, ErrorKind::WaitingForApiBudget);
    assert_eq!(error.retry_after, Some(Duration::from_secs(4)));
    assert!(
        error
            .message
            .contains("EC2 throttled DescribeSubnets (RequestLimitExceeded, 3 times)"),
        "{}",
        error.message
    );
}

#[test]
fn a_scarce_call_without_a_token_is_not_made_and_says_its_place_in_line() {
    let sim = throttling_world();
    let counts = Arc::new(Counts::default());
    let ec2 = budgeted(&sim, 0.5, &counts);
    let ids = |n: &str| vec![format!("vpce-{n}")];
    // Two tokens at half share; the third waits without a call.
    for n in ["a", "b"] {
        run(ec2.delete_vpc_endpoints(&ids(n))).expect("EC2 answers (per item)");
    }
    let before = sim.calls().len();
    let error = run(ec2.delete_vpc_endpoints(&ids("c"))).expect_err("no token");
    assert_eq!(sim.calls().len(), before, "nothing sent");
    assert_eq!(error.kind, ErrorKind::WaitingForApiBudget);
    assert_eq!(error.request_id, None);
    assert_eq!(error.retry_after, Some(Duration::from_millis(6667)));
    assert_eq!(
        error.message,
        "DeleteVpcEndpoints: number 1 of 1 in line for the tokens of this account and region; next try in 6.7 s"
    );
    let second = run(ec2.delete_vpc_endpoints(&ids("d"))).expect_err("no token");
    assert!(
        second.message.contains("number 2 of 2 in line"),
        "{}",
        second.message
    );
    // Back when told: its token is there, and it counts as waited for.
    sim.clock().advance(Duration::from_millis(6667));
    run(ec2.delete_vpc_endpoints(&ids("c"))).expect("its turn");
    assert_eq!(counts.waited.load(Ordering::Relaxed), 1);
}

#[test]
fn a_throttled_endpoint_call_is_not_retried_in_the_pass_but_waits_and_shrinks_the_share() {
    let sim = throttling_world();
    let counts = Arc::new(Counts::default());
    let ec2 = budgeted(&sim, 0.5, &counts);
    sim.inject_error(
        Ec2Operation::DeleteVpcEndpoints,
        "RequestLimitExceeded",
        "Request limit exceeded.",
        1,
    );
    let error = run(ec2.delete_vpc_endpoints(&["vpce-a".to_string()])).expect_err("throttled");
    assert_eq!(sim.calls().len(), 1, "tried once");
    assert_eq!(error.kind, ErrorKind::WaitingForApiBudget);
    assert_eq!(error.retry_after, Some(Duration::from_secs(1)));
    assert!(
        error.request_id.is_some(),
        "EC2's request id is kept for CloudTrail"
    );
    assert!(
        error
            .message
            .contains("EC2 throttled DeleteVpcEndpoints (RequestLimitExceeded)")
            && error.message.contains("share of the budget is now 25 %"),
        "{}",
        error.message
    );
    assert_eq!(counts.throttled.load(Ordering::Relaxed), 1);
    assert_eq!(counts.share_permille.load(Ordering::Relaxed), 250);
}
