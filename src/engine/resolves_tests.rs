//! Condition `ResolvesToEndpoint` through the engine, on the simulated world and its resolver:
//! the controller resolves the service's private DNS name itself once private DNS is on, only
//! from inside the endpoint's VPC.

use super::incident::{self, ENI_ZABBIX, PRIVATE_DNS_NAME};
use super::tests::{Harness, ready_in};
use crate::api::conditions::{ConditionType, find_condition};
use crate::api::{RemediationMode, RolloutPhase};
use crate::plan::EventReason;

/// The controller runs on the zabbix agent's instance (its address is that ENI's).
fn inside(h: &mut Harness) {
    h.config.pod_ip = Some("10.0.10.23".parse().unwrap());
    assert!(h.sim.snapshot().network_interfaces.iter().any(
        |n| n.network_interface_id == ENI_ZABBIX && n.private_ip_address.as_deref() == Some("10.0.10.23")
    ));
}

fn resolves(h: &Harness) -> Option<(String, String, String)> {
    find_condition(&h.status.conditions, ConditionType::ResolvesToEndpoint)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

#[tokio::test]
async fn once_private_dns_is_on_the_name_resolves_to_the_endpoint_where_the_controller_runs() {
    let mut h = Harness::new(RemediationMode::Auto);
    inside(&mut h);
    h.run_until(RolloutPhase::Ready, 40).await;
    let (status, reason, message) = resolves(&h).expect("the condition, once private DNS is on");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "ResolvesToEndpoint"),
        "{message}"
    );
    let endpoint = h.owned_endpoints().remove(0);
    for address in h.sim.snapshot().endpoint_addresses(&endpoint) {
        assert!(message.contains(&address.to_string()), "{message}");
    }
    // Nothing new on the next pass: the same condition, no Event.
    let before = h.status.conditions.clone();
    let out = h.pass().await;
    assert_eq!(out.status.conditions, before);
    assert!(out.events.is_empty(), "{:?}", out.events);
}

#[tokio::test]
async fn a_name_that_answers_elsewhere_is_said_with_a_warning_and_the_rollout_stays_ready() {
    let mut h = Harness::new(RemediationMode::Auto);
    inside(&mut h);
    h.run_until(RolloutPhase::Ready, 40).await;
    // Someone made a private hosted zone for the name, associated with the VPC.
    h.resolver
        .answer_out_of_band(PRIVATE_DNS_NAME, Ok(vec!["10.0.99.9".parse().unwrap()]));
    let out = h.pass().await;
    let (status, reason, message) = resolves(&h).unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "ResolvesElsewhere"),
        "{message}"
    );
    assert!(message.contains("10.0.99.9"), "{message}");
    assert!(
        out.events
            .iter()
            .any(|e| e.reason == EventReason::ResolvesElsewhere && e.warning),
        "{:?}",
        out.events
    );
    assert_eq!(h.status.phase, RolloutPhase::Ready, "it cuts nobody off");
    assert!(out.performed.is_empty());
    // Once: the next pass finds the same and says nothing.
    let out = h.pass().await;
    assert!(out.events.is_empty(), "{:?}", out.events);
    // The zone is gone: true again.
    h.resolver
        .answer_out_of_band(PRIVATE_DNS_NAME, h.resolver_answer_of_the_endpoint());
    h.pass().await;
    assert_eq!(resolves(&h).unwrap().0, "True");
}

#[tokio::test]
async fn from_outside_the_vpc_it_says_it_cannot_check_and_without_an_address_nothing() {
    let mut h = ready_in(RemediationMode::Auto).await;
    assert_eq!(resolves(&h), None, "no --pod-ip: no check, no condition");
    h.config.pod_ip = Some("192.0.2.44".parse().unwrap());
    h.pass().await;
    let (status, reason, message) = resolves(&h).unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("Unknown", "NotInEndpointVpc"),
        "{message}"
    );
    assert!(message.contains(incident::VPC), "{message}");
}

#[tokio::test]
async fn a_failed_lookup_is_unknown_and_private_dns_off_removes_the_condition() {
    let mut h = Harness::new(RemediationMode::Auto);
    inside(&mut h);
    h.run_until(RolloutPhase::Ready, 40).await;
    h.resolver
        .answer_out_of_band(PRIVATE_DNS_NAME, Err("no answer within 5 s".into()));
    h.pass().await;
    let (status, reason, _) = resolves(&h).unwrap();
    assert_eq!((status.as_str(), reason.as_str()), ("Unknown", "DnsLookupFailed"));
    h.edit(|s| s.private_dns.enabled = false);
    for _ in 0..5 {
        h.pass().await;
    }
    assert!(!h.owned_endpoints()[0].private_dns_enabled);
    assert_eq!(resolves(&h), None, "{:?}", h.status.conditions);
}
