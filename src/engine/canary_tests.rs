//! The canary on the simulated world: flow log records written by the world's clients (ACCEPT
//! or REJECT by the world as it is) into the simulated CloudWatch Logs, read by the engine once
//! private DNS is on.

use std::time::Duration;

use super::incident::{ENI_LAMBDA, ENI_ZABBIX, PRIVATE_DNS_NAME, SG_ENDPOINT, SG_ZABBIX, VPC};
use super::tests::Harness;
use crate::api::conditions::find_condition;
use crate::api::{
    ClientEvidenceSpec, ClientScope, ConditionType, FlowLogsVerification, OnReject, RejectAction,
    RemediationMode, ResolverQueryLogs, RolloutPhase, VerificationSpec,
};
use crate::aws::Ec2Operation;
use crate::logs::LogsOperation;
use crate::logs::records::DEFAULT_FLOW_LOG_FORMAT;
use crate::model::SecurityGroupRule;
use crate::plan::canary::CANARY_POLL;
use crate::plan::{Action, EventReason};

const FLOW_GROUP: &str = "/vpc/flow-logs";
const QUERY_GROUP: &str = "/aws/route53resolver/incident";
/// A custom format, so that reading it by the default one would find nothing.
const FORMAT: &str = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${dstport} ${action} ${start} ${end}";

fn with_canary(mode: RemediationMode, action: RejectAction) -> Harness {
    let mut h = Harness::new(mode);
    h.spec.verification = Some(VerificationSpec {
        flow_logs: FlowLogsVerification {
            log_group_name: FLOW_GROUP.into(),
            window: "15m".into(),
        },
        on_reject: OnReject {
            action,
            after_window: RejectAction::Alert,
            force: false,
        },
    });
    h.sim.create_flow_log(VPC, FLOW_GROUP, Some(FORMAT));
    h.regions.sim_logs().create_log_group(FLOW_GROUP);
    h
}

/// `enis` connect to the endpoint now: a flow record per endpoint ENI, ACCEPT or REJECT as the
/// world stands.
fn connect(h: &Harness, enis: &[&str]) {
    let records = h.sim.flow_log_records(&h.spec, &h.owner, enis, FORMAT);
    assert!(!records.is_empty());
    h.regions.sim_logs().put_events(FLOW_GROUP, "eni-all", records);
}

fn verified(h: &Harness) -> (String, String, String) {
    let c = find_condition(&h.status.conditions, ConditionType::Verified).expect("condition Verified");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

fn admits_zabbix(rule: &SecurityGroupRule) -> bool {
    rule.group_id == SG_ENDPOINT
        && !rule.is_egress
        && rule.referenced_group_info.as_ref().map(|g| g.group_id.as_str()) == Some(SG_ZABBIX)
}

fn rejected_events(h: &Harness) -> usize {
    h.events
        .iter()
        .filter(|e| e.reason == EventReason::TrafficRejected && e.warning)
        .count()
}

#[tokio::test]
async fn a_rule_revoked_by_hand_right_after_the_switch_is_caught_and_put_back_within_one_poll() {
    let mut h = with_canary(RemediationMode::Auto, RejectAction::Remediate);
    h.run_until(RolloutPhase::Ready, 40).await;
    let (status, reason, _) = verified(&h);
    assert_eq!((status.as_str(), reason.as_str()), ("True", "NoRejectedTraffic"));
    assert!(h.status.private_dns_on_since.is_some());
    let summary = h.status.verification.clone().expect("status.verification");
    assert_eq!(summary.log_format_from, "DescribeFlowLogs");
    assert_eq!(summary.reaction, "Remediate");

    let rule = h.owned_rules().into_iter().find(admits_zabbix).unwrap();
    h.sim
        .revoke_rule_out_of_band(&rule.security_group_rule_id)
        .unwrap();
    connect(&h, &[ENI_ZABBIX, ENI_LAMBDA]);

    let out = h.pass().await;
    assert!(matches!(out.performed.as_slice(), [Action::AuthorizeRules(_)]));
    assert_eq!(out.status.phase, RolloutPhase::Degraded);
    assert!(out.requeue.unwrap() <= CANARY_POLL, "{:?}", out.requeue);
    let (status, reason, message) = verified(&h);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "RejectsRemediated"));
    assert!(
        message.contains(ENI_ZABBIX) && message.contains("10.0."),
        "{message}"
    );
    assert!(
        message.contains("EndpointIngress"),
        "names the missing rule: {message}"
    );
    assert_eq!(rejected_events(&h), 1);
    let rejected = &h.status.verification.as_ref().unwrap().rejected;
    assert_eq!(
        rejected.len(),
        1,
        "the Lambda's connections were accepted: {rejected:?}"
    );
    assert_eq!(rejected[0].client.as_deref(), Some(ENI_ZABBIX));

    // The next poll: the records are still in the window, and the source reaches it now.
    h.run_until(RolloutPhase::Ready, 5).await;
    let (status, reason, _) = verified(&h);
    assert_eq!((status.as_str(), reason.as_str()), ("True", "RejectsResolved"));
    assert!(h.owned_rules().iter().any(admits_zabbix));
    assert!(
        h.sim
            .calls()
            .iter()
            .any(|c| c.operation == Ec2Operation::DescribeFlowLogs)
    );
    assert!(h.regions.sim_logs().calls(LogsOperation::FilterLogEvents) >= 2);
}

/// Under `scope: Evidence` the Zabbix agent, which never resolved the name in the lookback, is
/// not checked and private DNS goes on without it: the configuration (and the evidence) missed
/// it. Its REJECTs make it a client.
fn missed_by_the_evidence(action: RejectAction) -> Harness {
    let mut h = with_canary(RemediationMode::Auto, action);
    h.spec.clients.evidence = Some(ClientEvidenceSpec {
        resolver_query_logs: Some(ResolverQueryLogs {
            log_group_name: QUERY_GROUP.into(),
            lookback: "7d".into(),
        }),
    });
    h.spec.clients.scope = ClientScope::Evidence;
    let records = h.sim.resolver_query_records(&[ENI_LAMBDA], PRIVATE_DNS_NAME);
    h.regions.sim_logs().put_events(QUERY_GROUP, "vpc", records);
    h.sim.clock().advance(Duration::from_secs(3600));
    h
}

#[tokio::test]
async fn a_client_the_evidence_missed_is_added_and_given_its_rule_when_rejected() {
    let mut h = missed_by_the_evidence(RejectAction::Remediate);
    h.run_until(RolloutPhase::Ready, 40).await;
    assert!(
        !h.owned_rules().iter().any(admits_zabbix),
        "not evidenced, not checked"
    );
    connect(&h, &[ENI_ZABBIX]);

    let out = h.pass().await;
    assert!(
        matches!(out.performed.as_slice(), [Action::AuthorizeRules(_)]),
        "{:?}",
        out.performed
    );
    assert!(h.owned_rules().iter().any(admits_zabbix));
    let (_, reason, _) = verified(&h);
    assert_eq!(reason, "RejectsRemediated");
    h.run_until(RolloutPhase::Ready, 5).await;
    assert_eq!(verified(&h).1, "RejectsResolved");
}

#[tokio::test]
async fn under_alert_a_rejected_client_degrades_with_one_warning_and_nothing_changes() {
    let mut h = missed_by_the_evidence(RejectAction::Alert);
    h.run_until(RolloutPhase::Ready, 40).await;
    connect(&h, &[ENI_ZABBIX]);
    let before = h.sim.mutations().len();

    for _ in 0..3 {
        let out = h.pass().await;
        assert!(out.performed.is_empty(), "{:?}", out.performed);
        assert_eq!(out.status.phase, RolloutPhase::Degraded);
    }
    assert_eq!(h.sim.mutations().len(), before, "no AWS change");
    let (status, reason, message) = verified(&h);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "ClientsRejected"));
    assert!(message.contains("onReject: Alert"), "{message}");
    let ready = find_condition(&h.status.conditions, ConditionType::Ready).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "ClientsRejected")
    );
    assert_eq!(rejected_events(&h), 1, "one Warning for one set of sources");
}

#[tokio::test]
async fn after_the_window_a_reject_is_alerted_not_remediated() {
    let mut h = missed_by_the_evidence(RejectAction::Remediate);
    h.run_until(RolloutPhase::Ready, 40).await;
    h.sim.clock().advance(Duration::from_secs(16 * 60));
    connect(&h, &[ENI_ZABBIX]);
    let out = h.pass().await;
    assert!(out.performed.is_empty(), "{:?}", out.performed);
    assert_eq!(out.status.phase, RolloutPhase::Degraded);
    assert_eq!(h.status.verification.as_ref().unwrap().reaction, "Alert");
    assert_eq!(verified(&h).1, "ClientsRejected");
}

#[tokio::test]
async fn without_a_flow_log_on_the_group_the_default_format_is_read_and_said() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.spec.verification = Some(VerificationSpec {
        flow_logs: FlowLogsVerification {
            log_group_name: FLOW_GROUP.into(),
            window: "15m".into(),
        },
        on_reject: OnReject::default(),
    });
    h.regions.sim_logs().create_log_group(FLOW_GROUP);
    h.run_until(RolloutPhase::Ready, 40).await;
    let (status, reason, message) = verified(&h);
    assert_eq!((status.as_str(), reason.as_str()), ("True", "NoRejectedTraffic"));
    assert!(message.contains("default format"), "{message}");
    let records = h
        .sim
        .flow_log_records(&h.spec, &h.owner, &[ENI_ZABBIX], DEFAULT_FLOW_LOG_FORMAT);
    assert!(records.iter().all(|(_, r)| r.contains("ACCEPT")));

    // A group that does not exist: the condition says the flow logs could not be read.
    h.edit(|s| s.verification.as_mut().unwrap().flow_logs.log_group_name = "/nowhere".into());
    h.pass().await;
    let (status, reason, message) = verified(&h);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "FlowLogsUnreadable")
    );
    assert!(message.contains("/nowhere"), "{message}");
    assert_eq!(
        h.status.phase,
        RolloutPhase::Ready,
        "an unread canary cuts nobody off"
    );
}

/// The incident's route tables: the public subnet through an internet gateway, the private
/// ones through the NAT gateway, or (`isolated`) on the main table without a default route.
fn route_tables(h: &Harness, isolated: &[&str]) {
    use super::incident::{SUBNET_PRIVATE_A, SUBNET_PRIVATE_C, SUBNET_PUBLIC};
    use crate::model::Route;
    h.sim.create_route_table(VPC, true, &[], vec![]);
    h.sim.create_route_table(
        VPC,
        false,
        &[SUBNET_PUBLIC],
        vec![Route::default_via("igw-0f1e2d3c4b5a69788")],
    );
    let private: Vec<&str> = [SUBNET_PRIVATE_A, SUBNET_PRIVATE_C]
        .into_iter()
        .filter(|s| !isolated.contains(s))
        .collect();
    h.sim.create_route_table(
        VPC,
        false,
        &private,
        vec![Route::default_via("nat-0c1d2e3f4a5b6c7d8")],
    );
}

fn events_of(h: &Harness, reason: EventReason) -> usize {
    h.events.iter().filter(|e| e.reason == reason).count()
}

#[tokio::test]
async fn under_rollback_a_rejected_client_turns_private_dns_off_at_once_until_its_rule_is_in() {
    let mut h = with_canary(RemediationMode::Auto, RejectAction::Rollback);
    route_tables(&h, &[]);
    h.run_until(RolloutPhase::Ready, 40).await;
    let first_window = h.status.private_dns_on_since.clone().unwrap();
    let rule = h.owned_rules().into_iter().find(admits_zabbix).unwrap();
    h.sim
        .revoke_rule_out_of_band(&rule.security_group_rule_id)
        .unwrap();
    connect(&h, &[ENI_ZABBIX, ENI_LAMBDA]);

    let out = h.pass().await;
    assert!(
        matches!(out.performed.as_slice(), [Action::ModifyEndpoint(m)] if m.private_dns_enabled == Some(false)),
        "private DNS off at once, and only that: {:?}",
        out.performed
    );
    assert_eq!(out.status.phase, RolloutPhase::RolledBack);
    assert!(!h.status.private_dns_enabled && h.status.private_dns_off_unseen);
    let (status, reason, message) = verified(&h);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "RolledBack"));
    assert!(
        message.contains(ENI_ZABBIX)
            && message.contains("restores 1 rejected source")
            && message.contains("cuts off 0 clients"),
        "{message}"
    );
    assert_eq!(events_of(&h, EventReason::RolledBack), 1);
    assert_eq!(
        events_of(&h, EventReason::PrivateDnsDisabled),
        1,
        "the call's own Event"
    );
    let held = h.status.rollback.clone().expect("status.rollback");
    assert_eq!(held.rejected.len(), 1);
    assert_eq!(held.rejected[0].client.as_deref(), Some(ENI_ZABBIX));
    assert!(
        h.sim
            .calls()
            .iter()
            .any(|c| c.operation == Ec2Operation::DescribeRouteTables)
    );

    // With private DNS off the canary reads nothing; the rollback held in the status keeps the
    // Zabbix agent a client: its rule goes back (Auto), then private DNS goes on again.
    let out = h.pass().await;
    assert!(
        matches!(out.performed.as_slice(), [Action::AuthorizeRules(_)]),
        "{:?}",
        out.performed
    );
    assert_eq!(
        verified(&h).1,
        "RolledBack",
        "Verified says why private DNS is off"
    );
    h.run_until(RolloutPhase::Ready, 10).await;
    assert!(h.owned_rules().iter().any(admits_zabbix));
    assert!(h.status.private_dns_enabled);
    assert!(h.status.rollback.is_none(), "ended once private DNS is seen on");
    assert_ne!(
        h.status.private_dns_on_since.as_deref(),
        Some(first_window.as_str()),
        "the canary window starts again"
    );
    assert_eq!(
        verified(&h).1,
        "NoRejectedTraffic",
        "the old records are before the new window"
    );
    assert_eq!(
        events_of(&h, EventReason::PrivateDnsReenabled),
        0,
        "turned on again as the controller's own rollback ends, not as an out-of-band change"
    );
}

#[tokio::test]
async fn a_rollback_that_cuts_off_more_than_it_restores_is_refused_until_forced_and_then_held() {
    use super::incident::{SUBNET_PRIVATE_A, SUBNET_PRIVATE_C};
    let mut h = with_canary(RemediationMode::Approval, RejectAction::Rollback);
    // Neither private subnet reaches the internet: private DNS off would cut the Lambda off
    // and give the Zabbix agent nothing.
    route_tables(&h, &[SUBNET_PRIVATE_A, SUBNET_PRIVATE_C]);
    h.spec.clients.exclude.network_interface_ids = vec![ENI_ZABBIX.into()];
    h.run_until(RolloutPhase::Ready, 40).await;
    // The Zabbix agent was left out of the spec, then brought back in right after the switch
    // (a client the rollout did not check): its connections are rejected.
    h.edit(|s| s.clients.exclude.network_interface_ids.clear());
    connect(&h, &[ENI_ZABBIX]);
    let before = h.sim.mutations().len();

    for _ in 0..2 {
        let out = h.pass().await;
        assert!(out.performed.is_empty(), "{:?}", out.performed);
        assert_eq!(out.status.phase, RolloutPhase::Degraded);
    }
    assert_eq!(h.sim.mutations().len(), before);
    let (_, reason, message) = verified(&h);
    assert_eq!(reason, "RollbackRefused");
    assert!(
        message.contains(ENI_LAMBDA) && message.contains("onReject.force: true"),
        "{message}"
    );
    assert_eq!(
        events_of(&h, EventReason::RollbackRefused),
        1,
        "once per set of sources"
    );
    assert!(h.status.rollback.is_none());

    h.edit(|s| s.verification.as_mut().unwrap().on_reject.force = true);
    let out = h.pass().await;
    assert!(
        matches!(out.performed.as_slice(), [Action::ModifyEndpoint(m)] if m.private_dns_enabled == Some(false)),
        "{:?}",
        out.performed
    );
    let held = h.status.rollback.clone().unwrap();
    assert!(held.forced);
    assert!(
        held.cut_off.iter().any(|c| c.starts_with(ENI_LAMBDA)),
        "{:?}",
        held.cut_off
    );

    // Held off while the plan waits for approval, pass after pass.
    for _ in 0..3 {
        let out = h.pass().await;
        assert!(out.performed.is_empty(), "{:?}", out.performed);
        assert_eq!(out.status.phase, RolloutPhase::RolledBack);
    }
    assert!(!h.status.private_dns_enabled);
    assert_eq!(h.status.rollback.as_ref(), Some(&held));
    assert_eq!(verified(&h).1, "RolledBack");
}

#[tokio::test]
async fn a_rollback_whose_status_write_was_lost_is_found_again_not_undone() {
    let mut h = with_canary(RemediationMode::Auto, RejectAction::Rollback);
    route_tables(&h, &[]);
    h.run_until(RolloutPhase::Ready, 40).await;
    // From now on the rule waits for an approval: the rollback holds.
    h.edit(|s| s.remediation.endpoint_ingress = RemediationMode::Approval);
    let rule = h.owned_rules().into_iter().find(admits_zabbix).unwrap();
    h.sim
        .revoke_rule_out_of_band(&rule.security_group_rule_id)
        .unwrap();
    connect(&h, &[ENI_ZABBIX]);
    let written = h.status.clone();
    let out = h.pass().await;
    assert!(matches!(out.performed.as_slice(), [Action::ModifyEndpoint(_)]));
    // The controller dies before writing the status: the next pass starts from the last one,
    // which saw private DNS on and knows of no rollback.
    h.status = written;
    let out = h.pass().await;
    assert!(
        out.performed.is_empty(),
        "not turned on again: {:?}",
        out.performed
    );
    assert_eq!(out.status.phase, RolloutPhase::RolledBack);
    let held = h.status.rollback.clone().expect("the rollback found again");
    assert_eq!(held.rejected[0].client.as_deref(), Some(ENI_ZABBIX));
    assert_eq!(verified(&h).1, "RolledBack");
    assert_eq!(events_of(&h, EventReason::PrivateDnsReenabled), 0);
    // From now on it holds like any rollback.
    for _ in 0..2 {
        let out = h.pass().await;
        assert!(out.performed.is_empty(), "{:?}", out.performed);
        assert_eq!(out.status.phase, RolloutPhase::RolledBack);
    }
    assert!(!h.status.private_dns_enabled);
}
