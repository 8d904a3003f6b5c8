//! A service whose owner accepts endpoints by hand, on the simulated world: the rollout waits
//! for them, names them, gives up after the acceptance timeout (and goes on if they accept
//! later), and fails when they reject the endpoint.

use std::time::Duration;

use super::incident;
use super::tests::Harness;
use crate::api::RolloutPhase;
use crate::api::{InterfaceEndpointStatus, RemediationMode};
use crate::aws::sim::partner_service;
use crate::plan::EventReason;

const OWNER: &str = "210987654321";

/// The incident, with the endpoint for a partner's service that requires acceptance.
pub(super) fn partner_rollout() -> Harness {
    let mut h = Harness::new(RemediationMode::Auto);
    let service = partner_service(
        incident::REGION,
        "vpce-svc-0123456789abcdef0",
        OWNER,
        "api.partner.example",
        &["ap-northeast-1a", "ap-northeast-1c"],
    );
    h.sim.add_service(service.clone());
    h.edit(|s| s.service_name = service.service_name.clone());
    h
}

fn ready_reason(status: &InterfaceEndpointStatus) -> String {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.reason.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_rollout_waits_for_the_service_owner_then_goes_on_once_they_accept() {
    let mut h = partner_rollout();
    h.run_until(RolloutPhase::AwaitingAcceptance, 10).await;
    let endpoint = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    let changes = h.sim.mutations().len();
    for _ in 0..5 {
        h.pass().await;
    }
    assert_eq!(h.status.phase, RolloutPhase::AwaitingAcceptance);
    assert_eq!(ready_reason(&h.status), "EndpointPendingAcceptance");
    assert_eq!(h.sim.mutations().len(), changes, "nothing to do but wait");
    let waiting: Vec<_> = h
        .events
        .iter()
        .filter(|e| e.reason == EventReason::AwaitingAcceptance)
        .collect();
    assert_eq!(waiting.len(), 1, "{:?}", h.event_reasons());
    assert!(
        waiting[0].message.contains(&endpoint) && waiting[0].message.contains(OWNER),
        "{}",
        waiting[0].message
    );

    h.sim.accept_endpoint(&endpoint).unwrap();
    h.run_until(RolloutPhase::Ready, 40).await;
    assert!(h.owned_endpoints()[0].private_dns_enabled);
    assert!(h.event_reasons().contains(&EventReason::EndpointAvailable));
}

#[tokio::test]
async fn an_endpoint_the_owner_rejects_fails_the_rollout_saying_so() {
    let mut h = partner_rollout();
    h.run_until(RolloutPhase::AwaitingAcceptance, 10).await;
    let endpoint = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim.reject_endpoint(&endpoint).unwrap();
    h.pass().await;
    assert_eq!(h.status.phase, RolloutPhase::Failed);
    assert_eq!(ready_reason(&h.status), "EndpointRejected");
    let failed = h.events.iter().find(|e| e.reason == EventReason::Failed).unwrap();
    assert!(
        failed.warning && failed.message.contains("rejected endpoint"),
        "{}",
        failed.message
    );
}

#[tokio::test]
async fn waiting_longer_than_the_acceptance_timeout_fails_and_an_acceptance_after_it_still_rolls_out() {
    let mut h = partner_rollout();
    h.timing.acceptance_timeout = Duration::from_secs(3600);
    h.run_until(RolloutPhase::AwaitingAcceptance, 10).await;
    h.sim.clock().advance(Duration::from_secs(3600));
    h.pass().await;
    assert_eq!(h.status.phase, RolloutPhase::Failed);
    assert_eq!(ready_reason(&h.status), "AcceptanceTimedOut");
    assert_eq!(
        h.owned_endpoints().len(),
        1,
        "the endpoint is left for the owner to accept"
    );

    let endpoint = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim.accept_endpoint(&endpoint).unwrap();
    h.run_until(RolloutPhase::Ready, 40).await;
}
