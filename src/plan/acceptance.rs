//! An endpoint of a service whose owner accepts endpoints by hand (AcceptanceRequired, as
//! PrivateLink services of other accounts often are): EC2 shows it `pendingAcceptance` until
//! the owner accepts it, or `rejected` once they refuse it.
//!
//! Nothing the controller can do moves it on, so the step says who must act: the service and
//! its owner (DescribeVpcEndpointServices' `Owner`, an account id), and the command they run.
//! Waiting is AwaitingAcceptance, with an Event when it starts. Past
//! [`Timing::acceptance_timeout`] from the endpoint's creation the rollout is Failed
//! (`AcceptanceTimedOut`): someone must chase the owner, or give up by deleting the object. It
//! is still watched, so an acceptance after that goes on by itself. A rejection fails the
//! rollout (`EndpointRejected`).

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

pub use super::preconditions::{PENDING_ACCEPTANCE, REJECTED};
use super::wording::{accept_command, service_owner};
use super::{EventNote, EventReason, PlanInput, Step, Timing, not_ready};
use crate::api::RolloutPhase;
use crate::api::conditions::{ConditionReason, ConditionType, ConditionUpdate};
use crate::model::VpcEndpoint;

/// Whether this stage decides for `endpoint` (it waits for acceptance, or was rejected).
pub fn applies(endpoint: &VpcEndpoint) -> bool {
    matches!(endpoint.state_lower().as_str(), PENDING_ACCEPTANCE | REJECTED)
}

/// The acceptance step for an endpoint that waits for acceptance or was rejected.
pub(crate) fn decide<'a>(input: &PlanInput<'a>, endpoint: &VpcEndpoint, timing: &Timing) -> Step<'a> {
    let service = input
        .world
        .service_details
        .iter()
        .find(|s| s.service_name == endpoint.service_name);
    let owner = service_owner(service);
    let id = &endpoint.vpc_endpoint_id;
    let name = &endpoint.service_name;
    if endpoint.state_lower() == REJECTED {
        let message = format!(
            "The owner of {name} ({owner}) rejected endpoint {id}; ask them to accept connections \
             from this account, then delete the endpoint (or this object) to start over"
        );
        return failed(input, ConditionReason::EndpointRejected, message, timing);
    }

    let since = created_at(input, endpoint);
    let deadline = since.and_then(|t| t.checked_add(timing.acceptance_timeout).ok());
    let accept = accept_command(service, id);
    if let Some(deadline) = deadline
        && input.now >= deadline
    {
        let message = format!(
            "Endpoint {id} has waited since {} for the owner of {name} ({owner}) to accept it, \
             longer than the acceptance timeout ({}); ask them to accept it ({accept}, in their \
             account). The rollout goes on by itself once they do; to give up, delete this object",
            since.map(|t| t.to_string()).unwrap_or_default(),
            duration_text(timing.acceptance_timeout)
        );
        return failed(input, ConditionReason::AcceptanceTimedOut, message, timing);
    }

    let mut step = Step::new(input, RolloutPhase::AwaitingAcceptance, timing.waiting);
    let until = deadline.map_or(String::new(), |d| {
        format!("; the rollout fails at {d} if they have not")
    });
    let message = format!(
        "Endpoint {id} waits for the owner of {name} ({owner}) to accept it: {accept}, in their \
         account{until}"
    );
    if input.status.phase != RolloutPhase::AwaitingAcceptance {
        step.events.push(EventNote {
            reason: EventReason::AwaitingAcceptance,
            warning: false,
            message: message.clone(),
        });
    }
    step.conditions.endpoint = Some(ConditionUpdate::new(
        ConditionType::EndpointAvailable,
        false,
        ConditionReason::EndpointPendingAcceptance,
        message.clone(),
    ));
    step.conditions.ready = Some(not_ready(ConditionReason::EndpointPendingAcceptance, message));
    step
}

fn failed<'a>(input: &PlanInput<'a>, reason: ConditionReason, message: String, timing: &Timing) -> Step<'a> {
    let mut step = Step::new(input, RolloutPhase::Failed, timing.waiting);
    step.conditions.endpoint = Some(ConditionUpdate::new(
        ConditionType::EndpointAvailable,
        false,
        reason,
        message.clone(),
    ));
    step.conditions.ready = Some(not_ready(reason, message));
    step
}

/// When the endpoint was created: EC2's `CreationTimestamp`, else the create recorded in the
/// status. Either survives a restart, so the timeout does not start over.
fn created_at(input: &PlanInput<'_>, endpoint: &VpcEndpoint) -> Option<Timestamp> {
    endpoint
        .creation_timestamp
        .as_deref()
        .or(input.status.endpoint_create_time.as_deref())
        .and_then(|t| t.parse().ok())
}

/// `24h`, `90m`, `45s`: the largest unit that divides the duration.
fn duration_text(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ServiceDetail;
    use crate::plan::decide;
    use crate::plan::fixtures::*;

    const OWNER: &str = "210987654321";

    /// The incident world with the object's endpoint in `state`, created an hour ago, for a
    /// service of account OWNER that requires acceptance.
    fn world_with(state: &str) -> crate::model::Snapshot {
        let mut world = with_endpoint(incident_world(), state, false);
        world.vpc_endpoints[0].creation_timestamp = Some(now_minus(3600).to_string());
        let service = &mut world.service_details[0];
        service.acceptance_required = Some(true);
        service.owner = Some(OWNER.into());
        service.service_id = Some("vpce-svc-0partner".into());
        world
    }

    fn timing_with_timeout(timeout: Duration) -> Timing {
        Timing {
            acceptance_timeout: timeout,
            ..timing()
        }
    }

    #[test]
    fn pending_acceptance_waits_naming_the_service_and_its_owner_with_one_event() {
        let world = world_with("pendingAcceptance");
        let analysis = Ok(endpoint_analysis());
        let status = created_status(now_minus(3600));
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::AwaitingAcceptance);
        assert!(d.actions.is_empty());
        assert_eq!(d.requeue, timing().waiting);
        let ready = condition(&d.status, ConditionType::Ready);
        assert_eq!(ready.reason, "EndpointPendingAcceptance");
        for needed in [
            ENDPOINT,
            SERVICE,
            "account 210987654321",
            "accept-vpc-endpoint-connections --service-id vpce-svc-0partner",
        ] {
            assert!(ready.message.contains(needed), "{needed}: {}", ready.message);
        }
        assert_eq!(
            condition(&d.status, ConditionType::EndpointAvailable).reason,
            "EndpointPendingAcceptance"
        );
        let reasons: Vec<EventReason> = d.events.iter().map(|e| e.reason).collect();
        assert_eq!(reasons, [EventReason::AwaitingAcceptance]);
        assert!(!d.events[0].warning);

        let again = decide(&input(&world, &analysis, &d.status), &timing());
        assert!(again.events.is_empty(), "{:?}", again.events);
        assert_eq!(
            again.status.conditions, d.status.conditions,
            "nothing moves while waiting"
        );
    }

    #[test]
    fn pending_acceptance_past_the_timeout_fails_with_a_clear_reason_and_keeps_watching() {
        let world = world_with("pendingAcceptance");
        let analysis = Ok(endpoint_analysis());
        let mut status = created_status(now_minus(3600));
        status.phase = RolloutPhase::AwaitingAcceptance;
        let t = timing_with_timeout(Duration::from_secs(3600));
        let d = decide(&input(&world, &analysis, &status), &t);
        assert_eq!(d.status.phase, RolloutPhase::Failed);
        assert!(d.actions.is_empty(), "nothing is deleted behind anyone's back");
        assert_eq!(d.requeue, t.waiting, "still watched: an acceptance later goes on");
        let ready = condition(&d.status, ConditionType::Ready);
        assert_eq!(ready.reason, "AcceptanceTimedOut");
        for needed in [ENDPOINT, "account 210987654321", "1h", "delete this object"] {
            assert!(ready.message.contains(needed), "{needed}: {}", ready.message);
        }
        let failed: Vec<&EventNote> = d
            .events
            .iter()
            .filter(|e| e.reason == EventReason::Failed)
            .collect();
        assert_eq!(failed.len(), 1, "{:?}", d.events);
        assert!(failed[0].warning);

        // A minute short of the timeout, it still waits.
        let t = timing_with_timeout(Duration::from_secs(3660));
        let d = decide(&input(&world, &analysis, &status), &t);
        assert_eq!(d.status.phase, RolloutPhase::AwaitingAcceptance);
    }

    #[test]
    fn a_rejected_endpoint_fails_saying_the_service_owner_rejected_it() {
        let world = world_with("rejected");
        let analysis = Ok(endpoint_analysis());
        let mut status = created_status(now_minus(3600));
        status.phase = RolloutPhase::AwaitingAcceptance;
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Failed);
        let ready = condition(&d.status, ConditionType::Ready);
        assert_eq!(ready.reason, "EndpointRejected");
        assert!(
            ready.message.contains("The owner of")
                && ready.message.contains("(account 210987654321) rejected"),
            "{}",
            ready.message
        );
        assert!(
            d.events
                .iter()
                .any(|e| e.reason == EventReason::Failed && e.warning)
        );
    }

    #[test]
    fn the_owner_is_named_as_ec2_gives_it() {
        let aws = ServiceDetail {
            owner: Some("amazon".into()),
            ..Default::default()
        };
        assert_eq!(service_owner(Some(&aws)), "amazon");
        assert_eq!(service_owner(None), "owner unknown");
        assert_eq!(duration_text(Duration::from_secs(24 * 3600)), "24h");
        assert_eq!(duration_text(Duration::from_secs(90 * 60)), "90m");
    }
}
