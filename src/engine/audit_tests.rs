//! The audit trail on the simulated world: every change the engine makes has an Event and an
//! entry in the pass's outcome carrying the request id the world answered with, the account and
//! the region, call by call, including in a pass that fails halfway.

use super::audit::MutationOutcome;
use super::incident::{self, SUBNET_PRIVATE_A};
use super::tests::{Harness, ready_in};
use crate::api::{RemediationMode, RolloutPhase};
use crate::aws::Ec2Operation;
use crate::aws::sim::CallRecord;
use crate::model::{GroupIdentifier, NetworkInterface, SecurityGroup};
use crate::plan::{EventNote, EventReason};

/// A security group that allows no egress at all.
const SG_SILENT: &str = "sg-0123456789abcdef7";

/// `request id …, account …, region …` of a call the world logged.
fn trace_of(call: &CallRecord) -> String {
    format!(
        "request id {}, account 123456789012, region {}",
        call.request_id,
        incident::REGION
    )
}

/// The Events that name the request id of `call`.
fn events_of<'a>(events: &'a [EventNote], call: &CallRecord) -> Vec<&'a EventNote> {
    events
        .iter()
        .filter(|e| e.message.contains(&trace_of(call)))
        .collect()
}

/// A new client in a group that allows no egress: it needs the endpoint's group to admit it
/// and its own group to let it out, two rules in two groups, so two AWS calls of one action.
fn add_client_without_egress(h: &Harness) {
    h.sim.add_security_group(SecurityGroup {
        group_id: SG_SILENT.into(),
        vpc_id: Some(incident::VPC.into()),
        ..Default::default()
    });
    h.sim
        .add_network_interface(NetworkInterface {
            subnet_id: SUBNET_PRIVATE_A.into(),
            interface_type: Some("interface".into()),
            groups: vec![GroupIdentifier {
                group_id: SG_SILENT.into(),
                group_name: None,
            }],
            ..Default::default()
        })
        .unwrap();
}

#[tokio::test]
async fn every_change_of_a_rollout_and_its_deletion_has_one_event_with_its_request_id_account_and_region() {
    let mut h = ready_in(RemediationMode::Auto).await;
    h.edit(|s| s.remediation.client_egress = RemediationMode::Auto);
    add_client_without_egress(&h);
    h.run_until(RolloutPhase::Ready, 10).await;
    h.deleting = true;
    h.run_until_finalized(20).await;

    let changes = h.sim.mutations();
    let operations: Vec<Ec2Operation> = changes.iter().map(|c| c.operation).collect();
    for expected in [
        Ec2Operation::CreateVpcEndpoint,
        Ec2Operation::AuthorizeSecurityGroupIngress,
        Ec2Operation::AuthorizeSecurityGroupEgress,
        Ec2Operation::ModifyVpcEndpoint,
        Ec2Operation::RevokeSecurityGroupIngress,
        Ec2Operation::RevokeSecurityGroupEgress,
        Ec2Operation::DeleteVpcEndpoints,
    ] {
        assert!(operations.contains(&expected), "{expected}: {operations:?}");
    }
    for change in &changes {
        let events = events_of(&h.events, change);
        assert_eq!(events.len(), 1, "{change:?}: {:#?}", h.events);
        assert!(!events[0].warning);
    }
    // Rules went in and out in one call per group and direction, an Event each: Zabbix's
    // ingress, then the new client's egress and ingress; out, the egress and both ingresses.
    let count = |reason| h.events.iter().filter(|e| e.reason == reason).count();
    assert_eq!(count(EventReason::RulesAuthorized), 3, "{:#?}", h.events);
    assert_eq!(count(EventReason::RulesRevoked), 2, "{:#?}", h.events);
    let traced = h
        .events
        .iter()
        .filter(|e| e.message.contains("request id "))
        .count();
    assert_eq!(
        traced,
        changes.len(),
        "no Event names a call that changed nothing"
    );
}

#[tokio::test]
async fn in_an_action_that_fails_halfway_the_call_that_succeeded_keeps_its_event() {
    let mut h = ready_in(RemediationMode::Auto).await;
    h.edit(|s| s.remediation.client_egress = RemediationMode::Auto);
    add_client_without_egress(&h);
    // One action, two calls: the new client's egress (its group sorts first), then the
    // endpoint's ingress, which EC2 refuses.
    h.sim.inject_error(
        Ec2Operation::AuthorizeSecurityGroupIngress,
        "UnauthorizedOperation",
        "You are not authorized to perform this operation.",
        1,
    );
    let before = h.sim.calls().len();
    let out = h.pass().await;
    assert_eq!(out.error.as_ref().map(|e| e.kind.as_str()), Some("AccessDenied"));

    let calls: Vec<CallRecord> = h.sim.calls()[before..]
        .iter()
        .filter(|c| c.operation.is_mutation())
        .cloned()
        .collect();
    let [egress, ingress] = calls.as_slice() else {
        panic!("two calls: {calls:?}")
    };
    assert!(egress.succeeded() && !ingress.succeeded(), "{calls:?}");

    let authorized = events_of(&out.events, egress);
    assert_eq!(authorized.len(), 1, "{:#?}", out.events);
    assert_eq!(authorized[0].reason, EventReason::RulesAuthorized);
    assert!(
        authorized[0].message.contains(SG_SILENT),
        "{}",
        authorized[0].message
    );
    let failed = events_of(&out.events, ingress);
    assert_eq!(failed.len(), 1, "{:#?}", out.events);
    assert!(failed[0].warning && failed[0].reason == EventReason::Failed);

    let outcomes: Vec<(Ec2Operation, bool)> = out
        .mutations
        .iter()
        .map(|m| (m.operation, m.outcome == MutationOutcome::Made))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Ec2Operation::AuthorizeSecurityGroupEgress, true),
            (Ec2Operation::AuthorizeSecurityGroupIngress, false)
        ]
    );
    assert_eq!(
        out.mutations[0].trace.request_id.as_deref(),
        Some(egress.request_id.as_str())
    );
    assert_eq!(
        out.mutations[1].trace.request_id.as_deref(),
        Some(ingress.request_id.as_str())
    );
}

#[tokio::test]
async fn turning_private_dns_off_is_an_event_with_its_request_id() {
    let mut h = ready_in(RemediationMode::Auto).await;
    h.edit(|s| s.private_dns.enabled = false);
    let before = h.sim.calls().len();
    let out = h.pass().await;
    let off: Vec<CallRecord> = h.sim.calls()[before..]
        .iter()
        .filter(|c| c.is_mutation())
        .cloned()
        .collect();
    let [off] = off.as_slice() else {
        panic!("one change: {off:?}")
    };
    assert_eq!(off.operation, Ec2Operation::ModifyVpcEndpoint);
    let events = events_of(&out.events, off);
    assert_eq!(events.len(), 1, "{:#?}", out.events);
    assert_eq!(events[0].reason, EventReason::PrivateDnsDisabled);
    assert!(events[0].message.contains("spec.privateDns.enabled"));
}

#[tokio::test]
async fn a_rule_already_in_place_changes_nothing_and_gets_no_event() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.run_until(RolloutPhase::Provisioning, 10).await;
    h.sim.inject_error(
        Ec2Operation::AuthorizeSecurityGroupIngress,
        "InvalidPermission.Duplicate",
        "the specified rule already exists",
        1,
    );
    let mut tried = None;
    for _ in 0..10 {
        let out = h.pass().await;
        if out
            .mutations
            .iter()
            .any(|m| m.operation.as_str().starts_with("Authorize"))
        {
            tried = Some(out);
            break;
        }
    }
    let out = tried.expect("the rule is asked for");
    let refused = &out.mutations[0];
    assert!(matches!(refused.outcome, MutationOutcome::AlreadyInPlace(_)));
    assert!(
        out.events
            .iter()
            .all(|e| e.reason != EventReason::RulesAuthorized),
        "{:#?}",
        out.events
    );
}
