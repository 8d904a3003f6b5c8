//! What the deterministic simulation (src/simulation, docs/reliability.md) found, one test per
//! finding, named with the seed that found it (`vpce-rollout simulate --seed N --trace` replayed
//! it at the time; `simulation::tests` replays every such seed). The status must never claim
//! more than AWS shows (invariant 7), and every object must settle once faults stop
//! (invariant 6).

use std::time::Duration;

use super::incident::SUBNET_PRIVATE_A;
use super::tests::{Harness, ready_in};
use crate::api::{RemediationMode, RolloutPhase};
use crate::aws::{Ec2Error, Ec2Operation, ErrorKind};
use crate::plan::Action;

/// Invariant 7 on the harness's last status: private DNS reported on is on, and every rule
/// reported in place exists in the simulated world.
fn assert_claims_hold(h: &Harness) {
    let world = h.sim.snapshot();
    if h.status.private_dns_enabled {
        let on = world
            .vpc_endpoints
            .iter()
            .any(|e| Some(&e.vpc_endpoint_id) == h.status.endpoint_id.as_ref() && e.private_dns_enabled);
        assert!(
            on,
            "the status says private DNS is on; EC2 shows it off or gone: {:?}",
            h.status
        );
    }
    for claimed in h.status.plan.iter().flat_map(|p| &p.rules).filter(|r| r.applied) {
        let exists = world.security_group_rules.iter().any(|r| {
            r.group_id == claimed.group_id
                && r.is_egress == (claimed.direction == "egress")
                && r.from_port == Some(i32::from(claimed.from_port))
                && r.referenced_group_info.as_ref().map(|g| &g.group_id) == claimed.peer_group_id.as_ref()
        });
        assert!(
            exists,
            "the status lists {claimed:?} as in place; EC2 has no such rule"
        );
    }
}

fn timeout(operation: Ec2Operation) -> Ec2Error {
    Ec2Error::new(
        ErrorKind::Transient,
        operation,
        "Timeout",
        "no response within the configured timeout",
    )
}

/// Seed 0: a spec edit turned private DNS off, and the status of that very pass still said on
/// (it reported the endpoint as observed before the call).
#[tokio::test]
async fn seed_0_the_pass_that_turns_private_dns_off_reports_it_off() {
    let mut h = ready_in(RemediationMode::Auto).await;
    h.edit(|s| s.private_dns.enabled = false);
    let out = h.pass().await;
    assert!(
        out.performed
            .iter()
            .any(|a| matches!(a, Action::ModifyEndpoint(m) if m.private_dns_enabled == Some(false)))
    );
    assert!(!h.status.private_dns_enabled);
    assert!(
        h.status.private_dns_off_unseen && h.status.private_dns_off_since.is_none(),
        "the record TTL starts at the next look, which sees it off"
    );
    assert_claims_hold(&h);
    h.pass().await;
    assert!(h.status.private_dns_off_since.is_some() && !h.status.private_dns_off_unseen);
}

/// Seed 0, the lost answer: a timeout after EC2 turned private DNS off cannot tell whether it
/// did, so the status no longer says it is on (and the next pass looks).
#[tokio::test]
async fn seed_0_a_timeout_after_private_dns_went_off_does_not_leave_it_reported_on() {
    let mut h = ready_in(RemediationMode::Auto).await;
    h.edit(|s| s.private_dns.enabled = false);
    let op = Ec2Operation::ModifyVpcEndpoint;
    h.sim.inject_lost_answer(op, timeout(op), 1);
    let out = h.pass().await;
    assert_eq!(out.error.map(|e| e.code), Some("Timeout".to_string()));
    assert!(!h.owned_endpoints()[0].private_dns_enabled, "EC2 did turn it off");
    assert!(!h.status.private_dns_enabled);
    assert_claims_hold(&h);
}

/// Seed 3: deletion turned private DNS off and reported it on; its last pass revoked the rules
/// and still listed them as in place, lost answers and all.
#[tokio::test]
async fn seed_3_every_deletion_pass_reports_only_what_is_left() {
    let mut h = ready_in(RemediationMode::Auto).await;
    assert!(!h.owned_rules().is_empty());
    h.deleting = true;
    let op = Ec2Operation::RevokeSecurityGroupIngress;
    h.sim.inject_lost_answer(op, timeout(op), 1);
    for _ in 0..40 {
        let out = h.pass().await;
        assert_claims_hold(&h);
        if out.finalized {
            assert!(h.owned_rules().is_empty() && h.owned_endpoints().is_empty());
            return;
        }
    }
    panic!("not finalized: {:?}", h.phases);
}

/// Seed 74: the endpoint was deleted by hand, the next create failed, and the failure's status
/// (built from the last one written) said private DNS was still on for the endpoint gone.
#[tokio::test]
async fn seed_74_a_failed_call_reports_what_its_pass_saw_not_the_last_status() {
    let mut h = ready_in(RemediationMode::Auto).await;
    let gone = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim.delete_endpoint_out_of_band(&gone).unwrap();
    let op = Ec2Operation::CreateVpcEndpoint;
    h.sim
        .inject_error(op, "RequestLimitExceeded", "Request limit exceeded.", 1);
    let out = h.pass().await;
    assert_eq!(out.error.map(|e| e.kind), Some(ErrorKind::Throttled));
    assert!(!h.status.private_dns_enabled);
    assert_claims_hold(&h);
    h.run_until(RolloutPhase::Ready, 60).await;
}

/// Seed 59: an endpoint deleted by hand less than two minutes after its creation was taken
/// for one EC2 does not list yet, and the status kept saying its private DNS was on. An
/// endpoint the status saw with private DNS on was listed: its absence means it is gone.
#[tokio::test]
async fn seed_59_an_endpoint_seen_serving_and_then_missing_is_gone_not_unlisted() {
    let mut h = ready_in(RemediationMode::Auto).await;
    h.timing.visibility_window = Duration::from_secs(3600);
    let gone = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim.delete_endpoint_out_of_band(&gone).unwrap();
    let out = h.pass().await;
    assert!(
        matches!(out.performed.as_slice(), [Action::CreateEndpoint(_)]),
        "{:?}",
        out.performed
    );
    assert!(!h.status.private_dns_enabled);
    assert_claims_hold(&h);
}

/// Seed 977: a create whose answer was lost, a subnet edit, and the endpoint deleted by hand
/// again: the next create reused a ClientToken EC2 held for the old subnets, was answered
/// IdempotentParameterMismatch, waited for that endpoint, and tried the same token again,
/// for ever. The spent token is now counted as used.
#[tokio::test]
async fn seed_977_a_client_token_spent_on_other_parameters_is_not_tried_again_and_again() {
    let mut h = ready_in(RemediationMode::Auto).await;
    let first = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim.delete_endpoint_out_of_band(&first).unwrap();
    let op = Ec2Operation::CreateVpcEndpoint;
    h.sim.inject_lost_answer(op, timeout(op), 1);
    h.run_until(RolloutPhase::Ready, 80).await;

    h.edit(|s| s.subnet_ids = vec![SUBNET_PRIVATE_A.into()]);
    h.run_until(RolloutPhase::Ready, 40).await;
    let second = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim.delete_endpoint_out_of_band(&second).unwrap();
    h.run_until(RolloutPhase::Ready, 80).await;
    let endpoints = h.owned_endpoints();
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0].subnet_ids, [SUBNET_PRIVATE_A]);
}

/// Seed 20: EC2 did not list a new endpoint for 142 s; after two minutes the controller took
/// it for deleted and created a second one. AWS's guidance is to keep looking for up to about
/// five minutes, and so does the controller now.
#[tokio::test]
async fn seed_20_an_endpoint_ec2_lists_late_is_waited_for_not_created_twice() {
    let mut h = Harness::new(RemediationMode::Auto);
    let out = h.pass().await;
    assert!(matches!(out.performed.as_slice(), [Action::CreateEndpoint(_)]));
    let created = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim
        .hide_endpoint_out_of_band(&created, Duration::from_secs(280))
        .unwrap();
    h.run_until(RolloutPhase::Ready, 60).await;
    let endpoints = h.owned_endpoints();
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    assert_eq!(endpoints[0].vpc_endpoint_id, created);
    assert_eq!(h.mutations(Ec2Operation::CreateVpcEndpoint), 1);
}

/// Seed 1582: someone turned private DNS on by hand on an endpoint its service's owner had not
/// accepted yet; deleting the object then waited for ever for it to be `available` to turn
/// private DNS off first. A `pendingAcceptance` endpoint passes no traffic: it is deleted at
/// once.
#[tokio::test]
async fn seed_1582_an_endpoint_never_accepted_is_deleted_whatever_its_private_dns_flag() {
    let mut h = super::acceptance_tests::partner_rollout();
    h.run_until(RolloutPhase::AwaitingAcceptance, 10).await;
    let waiting = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim.set_private_dns_out_of_band(&waiting, true).unwrap();
    h.deleting = true;
    h.run_until_finalized(20).await;
    assert!(h.owned_endpoints().is_empty(), "{:?}", h.owned_endpoints());
}

/// Seed 2278: a deletion's ModifyVpcEndpoint (private DNS off) timed out; the status recorded
/// private DNS as off since that moment, and when a deposed leader's identical call landed
/// seconds later, the endpoint was deleted less than a record TTL after private DNS really
/// went off. When a call whose answer is lost takes effect is unknown: the TTL starts at the
/// first look that sees private DNS off.
#[tokio::test]
async fn seed_2278_the_record_ttl_starts_when_private_dns_is_seen_off_not_when_a_call_timed_out() {
    let mut h = ready_in(RemediationMode::Auto).await;
    let endpoint = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.deleting = true;
    let op = Ec2Operation::ModifyVpcEndpoint;
    h.sim.inject_fault(op, timeout(op), 1);
    let out = h.pass().await;
    assert_eq!(out.error.map(|e| e.code), Some("Timeout".to_string()));
    assert!(!h.status.private_dns_enabled, "it may be off: not claimed on");
    assert!(h.owned_endpoints()[0].private_dns_enabled, "it is still on");

    // The same call, sent by the leader that lost its Lease, lands now.
    h.sim.clock().advance(Duration::from_secs(50));
    h.sim.set_private_dns_out_of_band(&endpoint, false).unwrap();
    let off_at = h.sim.clock().now();
    h.run_until_finalized(40).await;
    let deleted_at = h
        .sim
        .calls()
        .iter()
        .find(|c| c.operation == Ec2Operation::DeleteVpcEndpoints && c.succeeded())
        .map(|c| c.at)
        .expect("deleted");
    assert!(
        deleted_at >= off_at + h.timing.private_dns_ttl,
        "deleted {:?} after private DNS went off",
        deleted_at - off_at
    );
}

/// Seed 1950: a CreateVpcEndpoint timed out after EC2 made the endpoint (a deposed leader's
/// call, landing late), and the object was deleted before EC2 listed it: the deletion saw no
/// endpoint, finished, and left it behind. A create left unanswered is now waited for, as one
/// answered moments ago is.
#[tokio::test]
async fn seed_1950_deletion_waits_for_an_endpoint_a_create_left_unanswered_may_have_made() {
    let mut h = Harness::new(RemediationMode::Auto);
    let op = Ec2Operation::CreateVpcEndpoint;
    h.sim.inject_lost_answer(op, timeout(op), 1);
    let out = h.pass().await;
    assert_eq!(out.error.map(|e| e.code), Some("Timeout".to_string()));
    let made = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim
        .hide_endpoint_out_of_band(&made, Duration::from_secs(200))
        .unwrap();
    h.deleting = true;
    h.run_until_finalized(80).await;
    assert!(h.owned_endpoints().is_empty(), "{:?}", h.owned_endpoints());
}

/// A pass that makes the endpoint and whose status never lands (the controller dies before
/// writing it, the write fails, or the object's deletion overtakes it): the status stays as
/// it was before the pass, and EC2 does not list the new endpoint yet. Returns its id.
async fn create_and_lose_the_status(h: &mut Harness) -> String {
    let before = h.status.clone();
    let out = h.pass().await;
    assert!(
        out.performed
            .iter()
            .any(|a| matches!(a, Action::CreateEndpoint(_))),
        "{:?}",
        out.performed
    );
    h.status = before;
    let made = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim
        .hide_endpoint_out_of_band(&made, Duration::from_secs(200))
        .unwrap();
    made
}

/// Deletes the object and runs the deletion to its end: nothing of it may be left.
async fn delete_and_leave_nothing(h: &mut Harness) {
    h.deleting = true;
    h.run_until_finalized(80).await;
    assert!(
        h.owned_endpoints().is_empty(),
        "left behind: {:?}; phases {:?}",
        h.owned_endpoints(),
        h.phases
    );
}

/// Seed 2447: a throttled first pass wrote its status (Pending); the next pass's
/// CreateVpcEndpoint succeeded and the controller died before writing that pass's status. The
/// object was deleted a moment later, before EC2 listed the endpoint: nothing in the status
/// said a create had happened, the deletion saw no endpoint, finished, and left it behind
/// (no deletionPolicy in the spec, the controller's default Delete). The deletion's first pass that sees
/// no endpoint now waits the visibility window for one to show up.
#[tokio::test]
async fn seed_2447_a_create_whose_pass_status_was_lost_is_waited_for_by_the_deletion() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.spec.deletion_policy = None;
    h.config.default_deletion_policy = crate::api::DeletionPolicy::Delete;
    let op = Ec2Operation::DescribeVpcEndpoints;
    h.sim
        .inject_error(op, "RequestLimitExceeded", "Request limit exceeded.", 1);
    let out = h.pass().await;
    assert_eq!(out.error.map(|e| e.kind), Some(ErrorKind::Throttled));
    assert_eq!(h.status.phase, RolloutPhase::Pending);
    create_and_lose_the_status(&mut h).await;
    delete_and_leave_nothing(&mut h).await;
}

/// Seed 9677: the object's very first pass made the endpoint, and the controller died before
/// the status write: the object had no status at all when it was deleted (deletionPolicy
/// Delete) seven seconds later, and its endpoint, not listed yet, was left behind.
#[tokio::test]
async fn seed_9677_an_object_deleted_before_its_first_status_landed_leaves_no_endpoint() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.spec.deletion_policy = Some(crate::api::DeletionPolicy::Delete);
    create_and_lose_the_status(&mut h).await;
    assert_eq!(h.status, Default::default(), "no status landed");
    delete_and_leave_nothing(&mut h).await;
}

/// Seed 13010: as seed 9677, and the deletion's first pass failed (DescribeNetworkAcls
/// unavailable) before it decided anything: the second pass, the first to decide, must still
/// wait for the endpoint the lost pass made.
#[tokio::test]
async fn seed_13010_a_deletion_whose_first_pass_failed_still_waits_for_an_unlisted_endpoint() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.spec.deletion_policy = Some(crate::api::DeletionPolicy::Delete);
    create_and_lose_the_status(&mut h).await;
    h.deleting = true;
    let op = Ec2Operation::DescribeNetworkAcls;
    h.sim
        .inject_error(op, "Unavailable", "The service is unavailable.", 1);
    let out = h.pass().await;
    assert_eq!(out.error.map(|e| e.kind), Some(ErrorKind::Transient));
    assert!(!out.finalized);
    delete_and_leave_nothing(&mut h).await;
}

/// Seed 31304 of the reference run (and 11 more of its 15 failing seeds): the pass that turned
/// private DNS on lost its status (the controller died before writing it), so the status still
/// said EnablingPrivateDns with private DNS off. The object was deleted: its first deletion
/// pass turned private DNS off and its status write failed; the next pass found private DNS
/// off with nothing recorded, took the endpoint for one no name had ever led to, and deleted
/// it 2 s later, while clients still held answers pointing at it. Now private DNS is turned off
/// only from a status that shows it on: the deletion writes that status first.
#[tokio::test]
async fn seed_31304_private_dns_on_that_the_status_never_showed_is_waited_out_before_deletion() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.watch_paths = true;
    for _ in 0..40 {
        let before = h.status.clone();
        let out = h.pass().await;
        if out
            .performed
            .iter()
            .any(|a| matches!(a, Action::ModifyEndpoint(m) if m.private_dns_enabled == Some(true)))
        {
            h.status = before;
            break;
        }
    }
    assert!(h.owned_endpoints()[0].private_dns_enabled, "{:?}", h.phases);
    assert!(!h.status.private_dns_enabled, "its status was lost");
    // EC2 finishes applying it before the next pass, which is the deletion's.
    h.sim.clock().advance(Duration::from_secs(120));
    assert!(h.owned_endpoints()[0].is_available());

    h.deleting = true;
    let mut turned_off = None;
    for _ in 0..80 {
        let before = h.status.clone();
        let now = h.sim.clock().now();
        let out = h.pass().await;
        if out
            .performed
            .iter()
            .any(|a| matches!(a, Action::ModifyEndpoint(m) if m.private_dns_enabled == Some(false)))
        {
            // The write of the turn-off's status fails.
            h.status = before;
            turned_off = Some(now);
        }
        if out
            .performed
            .iter()
            .any(|a| matches!(a, Action::DeleteEndpoint { .. }))
        {
            let off = turned_off.expect("private DNS was turned off first");
            assert!(
                now - off >= Duration::from_secs(60),
                "deleted {:?} after private DNS went off",
                now - off
            );
        }
        if h.status.phase == RolloutPhase::Deleting && out.finalized {
            break;
        }
    }
    assert!(
        turned_off.is_some() && h.owned_endpoints().is_empty(),
        "{:?}",
        h.phases
    );
}

/// Seeds 32342 and 60607 of the reference run: a rule the endpoint of one object relied on
/// belonged to another object, for a port that object's spec did not name (it had been handed
/// over to it when a third object was deleted, while someone had put the first endpoint's
/// security group on its endpoint). Revoking the rules of ports no longer named checked only
/// the object's own clients, and cut the first object's clients off while private DNS was on.
/// Such a rule is now handed over to the object whose endpoint needs it, as a deletion does.
#[tokio::test]
async fn seed_32342_a_rule_of_a_port_no_longer_named_that_another_endpoint_needs_is_handed_over() {
    let (mut logs, mut monitoring) = super::tests::two_objects_sharing_a_group().await;
    let rule = logs.owned_rules().remove(0);
    // The logs object's own clients need a rule for 8443 now, which it adds: only the other
    // object's clients are watched.
    logs.watch_paths = false;
    logs.edit(|s| s.ports = vec![8443]);
    for _ in 0..30 {
        logs.pass().await;
        monitoring.check_no_client_loses_its_path();
        if logs.status.phase == RolloutPhase::Ready
            && !logs
                .owned_rules()
                .iter()
                .any(|r| r.security_group_rule_id == rule.security_group_rule_id)
        {
            break;
        }
    }
    assert_eq!(logs.status.phase, RolloutPhase::Ready, "{:?}", logs.phases);
    assert!(
        monitoring
            .owned_rules()
            .iter()
            .any(|r| r.security_group_rule_id == rule.security_group_rule_id),
        "the 443 rule is the monitoring object's now: {:?}",
        monitoring.owned_rules()
    );
    assert!(
        logs.event_reasons()
            .contains(&crate::plan::EventReason::RulesHandedOver),
        "{:?}",
        logs.events
    );
}

/// Seed 40804 of the reference run (invariant 3): the endpoint was deleted by hand; the pass
/// that re-created it (the object's second ClientToken) died before writing its status, and
/// the retry's CreateVpcEndpoint failed (503). That failure's status carried over "no endpoint"
/// from what its pass saw, dropping the id of the endpoint deleted by hand, and so the count
/// of earlier endpoints: the next create took the first token again, which EC2 no longer
/// answers with the deleted endpoint, and made a second endpoint beside the one the lost pass
/// had made. A failed create now leaves the status's count as it was: its retry takes the
/// same token.
#[tokio::test]
async fn seed_40804_the_retry_of_a_failed_create_takes_the_same_client_token() {
    let mut h = ready_in(RemediationMode::Auto).await;
    // The status knows the endpoint by its id only, as when the pass that created it lost its
    // status and a later pass found it by its tags: no create time.
    h.status.endpoint_create_time = None;
    let gone = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim.delete_endpoint_out_of_band(&gone).unwrap();
    let before = h.status.clone();
    let out = h.pass().await;
    let [Action::CreateEndpoint(first)] = out.performed.as_slice() else {
        panic!("{:?}", out.performed)
    };
    let token = first.client_token.clone();
    h.status = before;
    // EC2 does not list the new endpoint yet.
    let made = h
        .owned_endpoints()
        .into_iter()
        .find(|e| e.vpc_endpoint_id != gone)
        .expect("the new endpoint")
        .vpc_endpoint_id;
    h.sim
        .hide_endpoint_out_of_band(&made, Duration::from_secs(200))
        .unwrap();
    let op = Ec2Operation::CreateVpcEndpoint;
    h.sim
        .inject_error(op, "ServiceUnavailable", "Service Unavailable", 1);
    let out = h.pass().await;
    assert_eq!(out.error.map(|e| e.kind), Some(ErrorKind::Transient));
    for _ in 0..80 {
        let out = h.pass().await;
        for a in &out.performed {
            if let Action::CreateEndpoint(c) = a {
                assert_eq!(c.client_token, token, "the retry takes the same token");
            }
        }
        assert!(h.owned_endpoints().len() <= 1, "{:?}", h.owned_endpoints());
        if h.status.phase == RolloutPhase::Ready {
            break;
        }
    }
    assert_eq!(h.status.phase, RolloutPhase::Ready, "{:?}", h.phases);
    assert_eq!(h.owned_endpoints().len(), 1);
}

/// Seed 74593 of the reference run (invariant 2): while an object was being deleted and
/// waited out the record TTL after turning private DNS off, someone turned private DNS on by
/// hand and off again 48 s later, both between two of its passes. Another object's pass looked
/// at the VPC meanwhile and saw it on: clients resolved the name to the endpoint then. The
/// deleting object's next pass found private DNS off, the TTL over since the turn-off its
/// status recorded, and deleted the endpoint 2 s after the second toggle. The looks of every
/// object are now remembered per endpoint, and the TTL runs from the first look that found
/// private DNS off again.
#[tokio::test]
async fn seed_74593_private_dns_on_that_another_objects_look_saw_is_waited_out_before_deletion() {
    let observations = Some(std::sync::Arc::new(
        crate::aws::observation::VpcObservations::new(),
    ));
    let (mut logs, mut monitoring) =
        super::tests::two_objects_sharing_a_group_in(super::incident::world(), observations).await;
    let endpoint = logs.owned_endpoints()[0].vpc_endpoint_id.clone();
    logs.deleting = true;
    // The deletion turns private DNS off, and records the look that sees it off.
    for _ in 0..10 {
        logs.pass().await;
        if logs.status.private_dns_off_since.is_some() {
            break;
        }
    }
    assert!(
        logs.status.private_dns_off_since.is_some() && !logs.owned_endpoints()[0].private_dns_enabled,
        "{:?}",
        logs.phases
    );
    // Between two of its passes: on by hand, seen by the other object's look, off again.
    logs.sim.set_private_dns_out_of_band(&endpoint, true).unwrap();
    logs.sim
        .clock()
        .advance(logs.timing.resync + Duration::from_secs(1));
    monitoring.pass_now().await;
    logs.sim.clock().advance(Duration::from_secs(48));
    logs.sim.set_private_dns_out_of_band(&endpoint, false).unwrap();
    let off_by_hand = logs.sim.clock().now();
    logs.sim.clock().advance(Duration::from_secs(2));
    for _ in 0..40 {
        let now = logs.sim.clock().now();
        let out = logs.pass().await;
        if out
            .performed
            .iter()
            .any(|a| matches!(a, Action::DeleteEndpoint { .. }))
        {
            assert!(
                now - off_by_hand >= Duration::from_secs(60),
                "deleted {:?} after private DNS went off by hand",
                now - off_by_hand
            );
        }
        if out.finalized {
            break;
        }
    }
    assert!(logs.owned_endpoints().is_empty(), "{:?}", logs.phases);
}

/// Seed 1 (the canary, issue 14): `privateDns.force` with `onReject: Rollback`. The canary
/// turned private DNS off for a source its flow logs showed rejected, and the very next pass
/// turned it on again: the sources a rollback holds are clients of the analysis so that "never
/// on while a client is blocked" keeps private DNS off until their plan is applied, and
/// `force` waived exactly that rule. It flapped at every canary window. `force` accepts the
/// clients the user knew blocked, not the ones the canary rolled back for.
#[tokio::test]
async fn seed_1_private_dns_forced_on_does_not_undo_a_rollback_before_its_sources_reach_the_endpoint() {
    use super::incident::{ENI_LAMBDA, ENI_ZABBIX, SG_ENDPOINT, SG_ZABBIX, VPC};
    use crate::api::{FlowLogsVerification, OnReject, RejectAction, VerificationSpec};
    use crate::logs::records::DEFAULT_FLOW_LOG_FORMAT;

    const FLOW: &str = "/vpc/flow-logs";
    let mut h = super::tests::Harness::new(RemediationMode::Auto);
    h.spec.private_dns.force = true;
    h.spec.verification = Some(VerificationSpec {
        flow_logs: FlowLogsVerification {
            log_group_name: FLOW.into(),
            window: "15m".into(),
        },
        // No route tables here: every client counts as cut off by a rollback, so it is forced.
        on_reject: OnReject {
            action: RejectAction::Rollback,
            after_window: RejectAction::Alert,
            force: true,
        },
    });
    h.sim.create_flow_log(VPC, FLOW, None);
    h.regions.sim_logs().create_log_group(FLOW);
    h.run_until(RolloutPhase::Ready, 40).await;
    // From now on the Zabbix agent's rule waits for an approval.
    h.edit(|s| s.remediation.endpoint_ingress = RemediationMode::Approval);
    h.run_until(RolloutPhase::Ready, 5).await;
    let zabbix_rule = h
        .owned_rules()
        .into_iter()
        .find(|r| {
            r.group_id == SG_ENDPOINT
                && !r.is_egress
                && r.referenced_group_info.as_ref().map(|g| g.group_id.as_str()) == Some(SG_ZABBIX)
        })
        .expect("the Zabbix agent's rule");
    h.sim
        .revoke_rule_out_of_band(&zabbix_rule.security_group_rule_id)
        .unwrap();
    let records = h.sim.flow_log_records(
        &h.spec,
        &h.owner,
        &[ENI_ZABBIX, ENI_LAMBDA],
        DEFAULT_FLOW_LOG_FORMAT,
    );
    h.regions.sim_logs().put_events(FLOW, "eni-all", records);

    let out = h.pass().await;
    assert_eq!(out.status.phase, RolloutPhase::RolledBack);
    assert!(!h.owned_endpoints()[0].private_dns_enabled, "rolled back");
    for _ in 0..6 {
        let out = h.pass().await;
        assert!(
            !h.owned_endpoints()[0].private_dns_enabled,
            "private DNS went on again while the rejected Zabbix agent is still blocked: {:?}",
            out.performed
        );
        assert_eq!(
            out.status.phase,
            RolloutPhase::RolledBack,
            "{:?}",
            out.status.conditions
        );
        assert!(h.status.rollback.is_some(), "the rollback holds");
    }
}
