//! `spec.ports` end to end on the simulated world: rules for a service on other ports, a ports
//! edit after Ready that takes a port out of a range, and a deletion that hands a 5432 rule over
//! to the object whose endpoint needs it.

use std::time::Duration;

use super::incident;
use super::tests::{Harness, delete_beside};
use crate::api::{InterfaceEndpointSpec, Owner, RemediationMode, RolloutPhase};
use crate::model::SecurityGroupRule;
use crate::plan::EventReason;

fn ports(rule: &SecurityGroupRule) -> (Option<i32>, Option<i32>) {
    (rule.from_port, rule.to_port)
}

/// The incident's endpoint on `ports`, Auto, rolled out.
async fn ready_on(ports: &[u16]) -> Harness {
    let mut h = Harness::new(RemediationMode::Auto);
    h.edit(|s| s.ports = ports.to_vec());
    h.run_until(RolloutPhase::Ready, 40).await;
    h
}

#[tokio::test]
async fn a_service_on_contiguous_ports_gets_one_rule_per_client_group() {
    let h = ready_on(&[8082, 8080, 8081]).await;
    let rules = h.owned_rules();
    // The Lambda's 443 rule does not serve 8080-8082: both client groups get one.
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert!(
        rules.iter().all(|r| ports(r) == (Some(8080), Some(8082))),
        "{rules:?}"
    );
    assert!(h.owned_endpoints()[0].private_dns_enabled);
}

#[tokio::test]
async fn a_port_taken_out_after_ready_is_replaced_then_revoked_and_nobody_loses_a_path() {
    let mut h = ready_on(&[8080, 8081, 8082]).await;
    let before: Vec<String> = h
        .owned_rules()
        .into_iter()
        .map(|r| r.security_group_rule_id)
        .collect();
    h.watch_paths = true;
    h.edit(|s| s.ports = vec![8080, 8081]);
    for _ in 0..6 {
        h.pass().await;
        h.sim.clock().advance(Duration::from_secs(5));
    }
    assert_eq!(h.status.phase, RolloutPhase::Ready, "{:?}", h.phases);
    let rules = h.owned_rules();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert!(
        rules.iter().all(|r| ports(r) == (Some(8080), Some(8081))),
        "{rules:?}"
    );
    assert!(rules.iter().all(|r| !before.contains(&r.security_group_rule_id)));
    assert!(h.event_reasons().contains(&EventReason::RulesRevoked));
    // Adding a port back is an ordinary missing path: one more rule each, nothing revoked.
    let revocations = h
        .event_reasons()
        .iter()
        .filter(|r| **r == EventReason::RulesRevoked)
        .count();
    h.edit(|s| s.ports = vec![8080, 8081, 9090]);
    for _ in 0..6 {
        h.pass().await;
        h.sim.clock().advance(Duration::from_secs(5));
    }
    assert_eq!(h.status.phase, RolloutPhase::Ready, "{:?}", h.phases);
    assert_eq!(h.owned_rules().len(), 4);
    assert_eq!(
        h.event_reasons()
            .iter()
            .filter(|r| **r == EventReason::RulesRevoked)
            .count(),
        revocations
    );
}

#[tokio::test]
async fn a_5432_rule_another_objects_endpoint_needs_is_handed_over_not_revoked() {
    let mut world = incident::world();
    world.service_details.push(crate::aws::sim::aws_service(
        incident::REGION,
        "monitoring",
        &["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"],
    ));
    let mut first = Harness::on(
        crate::aws::sim::SimEc2::new(&world, crate::aws::sim::SimClock::new()),
        RemediationMode::Auto,
    );
    first.edit(|s| s.ports = vec![5432]);
    first.run_until(RolloutPhase::Ready, 40).await;
    assert_eq!(first.owned_rules().len(), 2);
    let second_spec = InterfaceEndpointSpec {
        service_name: format!("com.amazonaws.{}.monitoring", incident::REGION),
        ports: vec![5432],
        ..incident::spec(RemediationMode::Auto)
    };
    let mut second = first.beside(
        second_spec,
        Owner {
            namespace: "data".into(),
            name: "replica".into(),
            uid: "0b7e3c1d-2f4a-4c5b-8d6e-9f0a1b2c3d4e".into(),
        },
    );
    second.run_until(RolloutPhase::Ready, 40).await;
    assert!(
        second.owned_rules().is_empty(),
        "the first object's rules admit its clients"
    );
    first.watch_paths = true;
    second.watch_paths = true;
    // On 443 alone the second endpoint would not need the 5432 rules: checked on 5432, it does.
    delete_beside(&mut first, &mut second).await;
    assert_eq!(second.owned_rules().len(), 2);
    assert!(!first.event_reasons().contains(&EventReason::RulesRevoked));
}
