//! Evidence on the simulated world: Resolver query log records written by the world's clients
//! into the simulated CloudWatch Logs, read by the engine's observe step.

use std::time::Duration;

use super::incident::{self, ENI_LAMBDA, ENI_ZABBIX, PRIVATE_DNS_NAME};
use super::tests::Harness;
use crate::api::conditions::find_condition;
use crate::api::{
    ClientEvidenceSpec, ClientScope, ConditionType, RemediationMode, ResolverQueryLogs, RolloutPhase,
};
use crate::logs::LogsOperation;

const GROUP: &str = "/aws/route53resolver/incident";

fn with_evidence(scope: ClientScope) -> Harness {
    let mut h = Harness::new(RemediationMode::Approval);
    h.spec.clients.evidence = Some(ClientEvidenceSpec {
        resolver_query_logs: Some(ResolverQueryLogs {
            log_group_name: GROUP.into(),
            lookback: "7d".into(),
        }),
    });
    h.spec.clients.scope = scope;
    h
}

/// `enis` resolve the service's name now, then an hour passes (the read window ends up to 10
/// minutes in the past).
fn resolve(h: &Harness, enis: &[&str]) {
    let records = h.sim.resolver_query_records(enis, PRIVATE_DNS_NAME);
    h.regions.sim_logs().put_events(GROUP, "vpc", records);
    h.sim.clock().advance(Duration::from_secs(3600));
}

#[tokio::test]
async fn under_scope_evidence_only_the_clients_that_resolve_the_name_are_checked_and_the_rest_are_listed() {
    let mut h = with_evidence(ClientScope::Evidence);
    resolve(&h, &[ENI_LAMBDA]);
    // Zabbix is blocked by the endpoint's group (it admits the Lambda only) but never resolved
    // the name in the lookback: under scope Evidence it is not checked, and nothing waits for it.
    h.run_until(RolloutPhase::Ready, 40).await;
    let clients = h.status.clients.clone().expect("clients in status");
    assert_eq!((clients.total, clients.blocked), (1, 0), "{clients:?}");
    let not_evidenced = clients
        .exclusions
        .iter()
        .find(|e| e.reason == "NotEvidenced")
        .expect("the others are listed, not dropped");
    assert_eq!(not_evidenced.network_interface_ids, [ENI_ZABBIX]);
    let evidence = clients.evidence.expect("the evidence summary");
    assert_eq!((evidence.evidenced, evidence.not_evidenced), (1, 1));
    assert_eq!(evidence.clients[0].network_interface_id, ENI_LAMBDA);
    assert_eq!(evidence.method, "LogsInsights");
    let read = find_condition(&h.status.conditions, ConditionType::EvidenceRead).expect("condition");
    assert_eq!(
        (read.status.as_str(), read.reason.as_str()),
        ("True", "EvidenceRead")
    );
    assert!(h.regions.sim_logs().calls(LogsOperation::StartQuery) >= 1);
}

#[tokio::test]
async fn a_client_that_resolves_the_name_is_checked_and_its_block_waits_for_approval() {
    let mut h = with_evidence(ClientScope::Evidence);
    resolve(&h, &[ENI_LAMBDA, ENI_ZABBIX]);
    h.run_until(RolloutPhase::AwaitingApproval, 40).await;
    let clients = h.status.clients.clone().unwrap();
    assert_eq!((clients.total, clients.blocked), (2, 1));
    assert_eq!(clients.evidence.unwrap().evidenced, 2);
}

#[tokio::test]
async fn when_the_logs_cannot_be_read_every_client_is_checked_and_the_condition_says_why() {
    let mut h = with_evidence(ClientScope::Evidence);
    // No such log group in the simulated CloudWatch Logs.
    h.run_until(RolloutPhase::AwaitingApproval, 40).await;
    let clients = h.status.clients.clone().unwrap();
    assert_eq!(
        (clients.total, clients.blocked),
        (2, 1),
        "configuration only: Zabbix is checked"
    );
    assert!(clients.evidence.is_none());
    let read = find_condition(&h.status.conditions, ConditionType::EvidenceRead).unwrap();
    assert_eq!(
        (read.status.as_str(), read.reason.as_str()),
        ("False", "EvidenceUnreadable")
    );
    assert!(
        read.message.contains(GROUP) && read.message.contains("NotFound"),
        "{}",
        read.message
    );
}

#[tokio::test]
async fn a_client_outside_the_vpc_is_checked_as_far_as_aws_shows_its_path() {
    let mut h = with_evidence(ClientScope::All);
    resolve(&h, &[ENI_LAMBDA]);
    let record = h.sim.inbound_query_record(
        incident::VPC,
        "rslvr-in-0onprem",
        "192.168.10.4".parse().unwrap(),
        PRIVATE_DNS_NAME,
    );
    h.regions.sim_logs().put_events(GROUP, "vpc", [record]);
    h.sim.clock().advance(Duration::from_secs(3600));
    h.run_until(RolloutPhase::AwaitingApproval, 40).await;
    let clients = h.status.clients.clone().unwrap();
    let evidence = clients.evidence.clone().unwrap();
    assert_eq!(evidence.outside, 1);
    let outside = evidence
        .clients
        .iter()
        .find(|c| c.network_interface_id == "outside:192.168.10.4")
        .expect("listed with its evidence");
    assert!(
        !outside.reachable,
        "the endpoint's group admits only the Lambda's group"
    );
    let plan = h.status.plan.clone().unwrap();
    assert!(
        plan.unfixable_blocks.iter().any(|b| b
            .network_interface_ids
            .contains(&"outside:192.168.10.4".to_string())),
        "no rule of the controller's can refer to it: said, not fixed: {:?}",
        plan.unfixable_blocks
    );
}
