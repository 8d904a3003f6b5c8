//! Observe only, over the simulated world: whatever the rollout would do (create, add rules,
//! enable private DNS, repair a hand-made change, delete), the world's call log holds describe
//! calls only, and every status says the controller is observing only.

use super::tests::{Harness, ready_in};
use crate::api::{DeletionPolicy, RemediationMode, RolloutPhase};
use crate::plan::{Config, EventReason};

static OBSERVE: Config = Config {
    observe_only: true,
    default_deletion_policy: DeletionPolicy::Retain,
    cluster_name: None,
    pod_ip: None,
};

fn assert_observing(h: &Harness) {
    assert!(
        h.sim.mutations().is_empty(),
        "a mutation was made: {:?}",
        h.sim.mutations()
    );
    let observe = h.status.observe_only.as_ref().expect("every status says so");
    assert_eq!(observe.by, "--observe-only");
}

#[tokio::test]
async fn a_new_object_in_every_mode_is_planned_and_reported_and_nothing_is_created() {
    for mode in [
        RemediationMode::Auto,
        RemediationMode::Approval,
        RemediationMode::Off,
    ] {
        let mut h = Harness::new(mode);
        h.config = OBSERVE.clone();
        for _ in 0..20 {
            h.pass().await;
            assert_observing(&h);
        }
        assert!(
            h.phases.iter().all(|p| *p == RolloutPhase::Creating),
            "{mode:?}: {:?}",
            h.phases
        );
        let would = &h.status.observe_only.as_ref().unwrap().would_change;
        assert!(would[0].starts_with("CreateVpcEndpoint: "), "{would:?}");
        let reported = h
            .event_reasons()
            .iter()
            .filter(|r| **r == EventReason::WouldChange)
            .count();
        assert_eq!(reported, 1, "once, not on every pass: {:?}", h.event_reasons());
        assert!(!h.event_reasons().contains(&EventReason::EndpointCreated));
        assert_eq!(h.status.endpoint_create_time, None);
    }
}

#[tokio::test]
async fn a_serving_endpoint_is_watched_its_repair_and_deletion_reported_and_not_made() {
    // Rolled out by a controller that could act; then it restarts with --observe-only.
    let mut h = ready_in(RemediationMode::Auto).await;
    h.sim.clear_calls();
    h.config = OBSERVE.clone();
    h.pass().await;
    assert_observing(&h);
    assert_eq!(h.status.phase, RolloutPhase::Ready);
    assert!(h.status.observe_only.as_ref().unwrap().would_change.is_empty());

    // Someone revokes the rule that admits Zabbix: cut off, and the repair is only reported.
    let rule = h.owned_rules()[0].security_group_rule_id.clone();
    h.sim.revoke_rule_out_of_band(&rule).unwrap();
    h.pass().await;
    assert_observing(&h);
    assert_eq!(h.status.phase, RolloutPhase::Degraded);
    assert!(
        h.status.observe_only.as_ref().unwrap().would_change[0].starts_with("AuthorizeSecurityGroupIngress"),
        "{:?}",
        h.status.observe_only
    );
    assert!(h.owned_rules().is_empty(), "not re-added");

    // Deleted: nothing is deleted, and the finalizer stays (the deletion needs AWS calls).
    h.deleting = true;
    for _ in 0..5 {
        h.pass().await;
        assert_observing(&h);
    }
    assert_eq!(h.owned_endpoints().len(), 1);
    assert!(h.owned_endpoints()[0].private_dns_enabled);
    assert!(h.status.observe_only.as_ref().unwrap().would_change[0].contains("private DNS off"));

    // With Retain, deletion changes nothing in AWS anyway: it completes.
    h.edit(|spec| spec.deletion_policy = Some(DeletionPolicy::Retain));
    h.run_until_finalized(2).await;
    assert_observing(&h);
}
