//! The endpoint's life before the clients matter: create the object's endpoint
//! ([`location::owned_endpoint`]; private DNS off), wait while EC2 catches up, re-create it after an out-of-band deletion,
//! poll while it is `pending`, and stop on states it never leaves.
//!
//! An endpoint that waits for its service's owner to accept it (or that they rejected) is
//! [`super::acceptance`]'s; once it is `available`, [`super::drift`] and [`super::access`] take
//! over.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::location::{self, absence_means_gone, is_deleting, owned_endpoint};
use super::preconditions::{Unmet, preconditions};
use super::{Action, EventNote, EventReason, PlanInput, Step, Timing, acceptance, drift, not_ready};
use crate::analysis::Analysis;
use crate::api::conditions::{ConditionReason, ConditionType, ConditionUpdate, find_condition};
use crate::api::{InterfaceEndpointSpec, Owner, RolloutPhase};
use crate::aws::CreateVpcEndpoint;
use crate::model::{VpcEndpoint, tags_from};

/// States an endpoint never leaves by itself: it will not become available (`rejected` is the
/// service owner's answer: [`acceptance`]).
const TERMINAL_STATES: [&str; 2] = ["failed", "expired"];

/// The CreateVpcEndpoint ClientToken for the `recreations`-th endpoint of `owner`.
///
/// EC2 answers a reused token with the endpoint it created for it, even one deleted since, so
/// every re-creation after an out-of-band deletion needs a token of its own. The counter lives
/// in `status.endpointRecreations`; if the status is lost, the first create returns the old
/// (deleted) endpoint, which the next pass recognises as gone and re-creates with the next
/// token. At most 13 + 36 + 11 characters, within EC2's 64.
pub fn client_token(owner: &Owner, recreations: u32) -> String {
    if recreations == 0 {
        owner.client_token()
    } else {
        format!("{}-{recreations}", owner.client_token())
    }
}

/// CreateVpcEndpoint for the spec: private DNS off (enabled later, once nobody would be cut
/// off), ownership (and cluster) tags plus the spec's tags.
pub fn create_request(
    spec: &InterfaceEndpointSpec,
    owner: &Owner,
    cluster: Option<&str>,
    recreations: u32,
) -> CreateVpcEndpoint {
    let mut tags = spec.tags.clone();
    tags.extend(super::cluster::tags(owner, cluster));
    CreateVpcEndpoint {
        vpc_id: spec.vpc_id.clone(),
        service_name: spec.service_name.clone(),
        subnet_ids: spec.subnet_ids.clone(),
        security_group_ids: spec.security_group_ids.clone(),
        policy_document: spec.policy.clone(),
        client_token: client_token(owner, recreations),
        service_region: spec.service_region.clone(),
        ip_address_type: spec.ip_address_type,
        dns_record_ip_type: spec.dns_options.as_ref().and_then(|d| d.dns_record_ip_type),
        subnet_configurations: spec.subnet_configurations.clone(),
        tags: tags_from(tags),
    }
}

/// The endpoint step: everything up to an `available` endpoint, then hands over.
pub(crate) fn decide<'a>(input: &PlanInput<'a>, analysis: &'a Analysis, timing: &Timing) -> Step<'a> {
    let Some(endpoint) = owned_endpoint(input) else {
        return missing(input, analysis, timing);
    };
    let state = endpoint.state_lower();
    let mut step = if endpoint.is_available() {
        return drift::decide(input, endpoint, analysis, timing);
    } else if acceptance::applies(endpoint) {
        acceptance::decide(input, endpoint, timing)
    } else if TERMINAL_STATES.contains(&state.as_str()) {
        failed(input, endpoint, &state, timing)
    } else if is_deleting(endpoint) {
        deleting_out_of_band(input, endpoint, timing)
    } else {
        provisioning(input, endpoint, &state, timing)
    };
    step.endpoint = Some(endpoint);
    step.analysis = Some(analysis);
    // While private DNS is being enabled the endpoint is `pending` but its ENIs are in place:
    // the clients' verdicts still hold.
    step.verified = step.phase == RolloutPhase::EnablingPrivateDns;
    step
}

/// No endpoint of ours is listed: create one, or wait for the one just created to show up.
fn missing<'a>(input: &PlanInput<'a>, analysis: &'a Analysis, timing: &Timing) -> Step<'a> {
    let previous = input.status;
    let created_at = previous
        .endpoint_create_time
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok());
    if let Some(created_at) = created_at
        && !absence_means_gone(previous)
        && elapsed(created_at, input.now) < timing.visibility_window
    {
        // EC2 is eventually consistent: DescribeVpcEndpoints may not list an endpoint for a
        // while after CreateVpcEndpoint returned it. Creating again would be answered with the
        // same endpoint anyway (same token), but waiting costs nothing and keeps calls down.
        let mut step = Step::new(input, RolloutPhase::Creating, pending_backoff(input, timing));
        step.keep_previous_endpoint = true;
        step.analysis = Some(analysis);
        let which = previous.endpoint_id.as_deref().unwrap_or("the endpoint");
        let waited = elapsed(created_at, input.now).as_secs();
        step.conditions.endpoint = Some(ConditionUpdate::new(
            ConditionType::EndpointAvailable,
            false,
            ConditionReason::EndpointCreating,
            format!("CreateVpcEndpoint returned {which} {waited}s ago; waiting for EC2 to list it"),
        ));
        step.conditions.ready = Some(not_ready(
            ConditionReason::InProgress,
            format!("Creating the endpoint: waiting for EC2 to list {which}"),
        ));
        return step;
    }

    // An endpoint that could never get the private DNS the spec asks for is billed for
    // nothing: what EC2 will refuse at the end is checked now, and nothing is created.
    if input.spec.private_dns.enabled
        && let Err(unmet) = preconditions(input.spec, input.world, None)
    {
        return not_created(input, analysis, unmet, timing);
    }

    // An earlier incarnation existed (or a create was answered for a token already used):
    // this one needs a token of its own.
    let earlier = previous.endpoint_id.is_some() || previous.endpoint_create_time.is_some();
    let recreations = previous.endpoint_recreations + u32::from(earlier);
    let mut step = Step::new(input, RolloutPhase::Creating, timing.after_change);
    step.analysis = Some(analysis);
    step.endpoint_create_time = Some(input.now.to_string());
    step.endpoint_recreations = recreations;
    step.location = Some(location::EndpointLocation::of_spec(input.spec, input.region));
    step.actions.push(Action::CreateEndpoint(create_request(
        input.spec,
        input.owner,
        input.config.cluster_name.as_deref(),
        recreations,
    )));
    let (reason, endpoint_message) = match previous.endpoint_id.as_deref() {
        Some(old) => {
            step.events.push(EventNote {
                reason: EventReason::Degraded,
                warning: true,
                message: format!(
                    "Endpoint {old} was deleted outside the controller; creating a new one (private DNS off)"
                ),
            });
            (
                ConditionReason::EndpointMissing,
                format!("Endpoint {old} was deleted outside the controller; creating a new one"),
            )
        }
        None => (
            ConditionReason::EndpointCreating,
            format!(
                "Creating an endpoint for {} in {} with private DNS off",
                input.spec.service_name, input.spec.vpc_id
            ),
        ),
    };
    step.conditions.endpoint = Some(ConditionUpdate::new(
        ConditionType::EndpointAvailable,
        false,
        reason,
        endpoint_message.clone(),
    ));
    step.conditions.ready = Some(not_ready(reason, endpoint_message));
    step
}

/// Phase Failed, nothing created: private DNS could not be enabled on the endpoint. Waits for
/// the world (or the spec) to change; a spec edit wakes the controller at once.
fn not_created<'a>(input: &PlanInput<'a>, analysis: &'a Analysis, unmet: Unmet, timing: &Timing) -> Step<'a> {
    let mut step = Step::new(input, RolloutPhase::Failed, timing.waiting);
    step.analysis = Some(analysis);
    let spec = input.spec;
    step.conditions.endpoint = Some(ConditionUpdate::new(
        ConditionType::EndpointAvailable,
        false,
        ConditionReason::EndpointNotCreated,
        format!(
            "No endpoint for {} is created in {}: private DNS could not be enabled on it",
            spec.service_name, spec.vpc_id
        ),
    ));
    step.conditions.dns = Some(ConditionUpdate::new(
        ConditionType::PrivateDnsEnabled,
        false,
        unmet.reason,
        unmet.message.clone(),
    ));
    step.conditions.ready = Some(not_ready(
        unmet.reason,
        format!("Not creating an endpoint: {}", unmet.message),
    ));
    step
}

fn provisioning<'a>(input: &PlanInput<'a>, endpoint: &VpcEndpoint, state: &str, timing: &Timing) -> Step<'a> {
    // A modification (private DNS) can send an available endpoint back to `pending` briefly;
    // the rollout is still enabling private DNS then, not provisioning.
    let phase = if input.status.phase == RolloutPhase::EnablingPrivateDns {
        RolloutPhase::EnablingPrivateDns
    } else {
        RolloutPhase::Provisioning
    };
    let mut step = Step::new(input, phase, pending_backoff(input, timing));
    let state = if state.is_empty() {
        "in an unknown state"
    } else {
        state
    };
    let message = format!(
        "Endpoint {} is {state}; waiting for it to become available",
        endpoint.vpc_endpoint_id
    );
    step.conditions.endpoint = Some(ConditionUpdate::new(
        ConditionType::EndpointAvailable,
        false,
        ConditionReason::EndpointPending,
        message.clone(),
    ));
    step.conditions.ready = Some(not_ready(ConditionReason::InProgress, message));
    step
}

fn failed<'a>(input: &PlanInput<'a>, endpoint: &VpcEndpoint, state: &str, timing: &Timing) -> Step<'a> {
    let mut step = Step::new(input, RolloutPhase::Failed, timing.waiting);
    let message = format!(
        "Endpoint {} is {state} and will not become available; check the service name and the \
         account's access to it, then delete the endpoint (or this object) to start over",
        endpoint.vpc_endpoint_id
    );
    step.conditions.endpoint = Some(ConditionUpdate::new(
        ConditionType::EndpointAvailable,
        false,
        ConditionReason::EndpointFailed,
        message.clone(),
    ));
    step.conditions.ready = Some(not_ready(ConditionReason::EndpointFailed, message));
    step
}

/// Someone else is deleting the endpoint: report it, wait until it is gone, then re-create.
fn deleting_out_of_band<'a>(input: &PlanInput<'a>, endpoint: &VpcEndpoint, timing: &Timing) -> Step<'a> {
    let mut step = Step::new(input, RolloutPhase::Degraded, pending_backoff(input, timing));
    let message = format!(
        "Endpoint {} is being deleted outside the controller; a new one is created once it is gone",
        endpoint.vpc_endpoint_id
    );
    step.conditions.endpoint = Some(ConditionUpdate::new(
        ConditionType::EndpointAvailable,
        false,
        ConditionReason::EndpointMissing,
        message.clone(),
    ));
    step.conditions.ready = Some(not_ready(ConditionReason::EndpointMissing, message));
    step
}

/// Poll interval while waiting for the endpoint: `pending_min`, doubling with the time already
/// waited (since `EndpointAvailable` turned False, or since the endpoint was created if that
/// came later), up to `pending_max`. Stateless, so a restart does not reset it: after waiting
/// 0-10 s poll every 5 s, 10-20 s every 10 s, ...
///
/// `EndpointAvailable` is False from a new object's first pass: a rollout that waited long
/// before its create (for approval, for a token of the EC2 API budget) would otherwise poll its
/// new endpoint at the longest interval, and see it available up to `pending_max` late.
pub(crate) fn pending_backoff(input: &PlanInput<'_>, timing: &Timing) -> Duration {
    let created = input
        .status
        .endpoint_create_time
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok());
    let since = find_condition(&input.status.conditions, ConditionType::EndpointAvailable)
        .filter(|c| c.status == "False")
        .map(|c| {
            created.map_or(c.last_transition_time.0, |created| {
                c.last_transition_time.0.max(created)
            })
        });
    let waited = since.map_or(Duration::ZERO, |t| elapsed(t, input.now));
    let mut interval = timing.pending_min;
    while interval * 2 <= waited && interval < timing.pending_max {
        interval *= 2;
    }
    interval.min(timing.pending_max)
}

/// `now - since`, zero when the clock went backwards.
pub(crate) fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(since)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tag_pairs;
    use crate::plan::fixtures::*;
    use crate::plan::{Action, decide};

    #[test]
    fn a_missing_endpoint_is_created_with_private_dns_off_and_owner_tags() {
        let world = incident_world();
        let analysis = Ok(preview_analysis());
        let status = Default::default();
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Creating);
        let [Action::CreateEndpoint(create)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(create.client_token, owner().client_token());
        assert_eq!(create.subnet_ids, vec![SUBNET_APP.to_string()]);
        assert!(owner().owns(tag_pairs(&create.tags)));
        assert!(
            create
                .tags
                .iter()
                .any(|t| t.key == "team" && t.value == "platform")
        );
        assert_eq!(
            d.status.endpoint_create_time.as_deref(),
            Some(now().to_string().as_str())
        );
        assert_eq!(d.requeue, timing().after_change);
        assert_eq!(d.events.len(), 1);
        assert_eq!(d.events[0].reason, EventReason::EndpointCreated);
    }

    #[test]
    fn no_endpoint_is_created_while_another_serves_the_private_dns_name() {
        // The second object for a service used to create a billable endpoint and only then
        // fail, at the step that enables private DNS.
        let mut world = with_endpoint(incident_world(), "available", true);
        world.vpc_endpoints[0].vpc_endpoint_id = "vpce-0ffffffffffffffff".into();
        world.vpc_endpoints[0].tags = tags_from([(crate::api::OWNER_TAG, "payments/logs")]);
        let analysis = Ok(preview_analysis());
        let status = Default::default();
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert_eq!(d.status.phase, RolloutPhase::Failed);
        let ready = condition(&d.status, ConditionType::Ready);
        assert_eq!(ready.reason, "ConflictingPrivateDns");
        assert!(
            ready.message.starts_with(
                "Not creating an endpoint: Endpoint vpce-0ffffffffffffffff (managed by the \
                 InterfaceEndpoint payments/logs by its vpce-rollout.dev/owner tag) already serves"
            ),
            "{}",
            ready.message
        );
        assert_eq!(
            condition(&d.status, ConditionType::EndpointAvailable).reason,
            "EndpointNotCreated"
        );
        assert_eq!(
            condition(&d.status, ConditionType::PrivateDnsEnabled).reason,
            "ConflictingPrivateDns"
        );
        assert_eq!(d.status.endpoint_create_time, None);
        assert!(
            d.events
                .iter()
                .any(|e| e.reason == EventReason::Failed && e.warning)
        );

        // Without private DNS in the spec there is no conflict: the endpoint is created.
        let spec = InterfaceEndpointSpec {
            private_dns: crate::api::PrivateDnsSpec {
                enabled: false,
                force: false,
            },
            ..spec()
        };
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert!(matches!(d.actions.as_slice(), [Action::CreateEndpoint(_)]));
    }

    #[test]
    fn creation_does_not_wait_for_blocked_clients() {
        let world = incident_world();
        let analysis = Ok(preview_analysis());
        assert!(!analysis.as_ref().unwrap().all_reachable());
        let status = Default::default();
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert!(matches!(d.actions[0], Action::CreateEndpoint(_)));
    }

    #[test]
    fn an_endpoint_created_moments_ago_but_not_listed_yet_is_waited_for_not_created_again() {
        let world = incident_world();
        let analysis = Ok(preview_analysis());
        let status = created_status(now_minus(30));
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert_eq!(d.status.phase, RolloutPhase::Creating);
        assert_eq!(d.status.endpoint_id.as_deref(), Some(ENDPOINT));
        assert_eq!(d.requeue, timing().pending_min);
        assert!(d.events.is_empty());
    }

    #[test]
    fn an_endpoint_created_after_a_long_wait_is_polled_from_the_shortest_interval() {
        let world = incident_world();
        let analysis = Ok(preview_analysis());
        // Not available since the object's first pass, an hour ago (it waited for approval,
        // or for the API budget); created 30 s ago.
        let mut status = created_status(now_minus(30));
        status.conditions.push(cond(
            ConditionType::EndpointAvailable,
            false,
            "EndpointNotCreated",
            now_minus(3600),
        ));
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.requeue, timing().pending_min * 4, "30 s waited: every 20 s");
        let mut long_ago = created_status(now_minus(200));
        long_ago.conditions = status.conditions.clone();
        let d = decide(&input(&world, &analysis, &long_ago), &timing());
        assert_eq!(d.requeue, timing().pending_max);
    }

    #[test]
    fn an_endpoint_deleted_out_of_band_is_reported_and_recreated_with_a_new_client_token() {
        let world = incident_world();
        let analysis = Ok(preview_analysis());
        let mut status = created_status(now_minus(3600));
        status.phase = RolloutPhase::Ready;
        let d = decide(&input(&world, &analysis, &status), &timing());
        let [Action::CreateEndpoint(create)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(create.client_token, format!("{}-1", owner().client_token()));
        assert_eq!(d.status.endpoint_recreations, 1);
        assert_eq!(
            d.status.endpoint_id, None,
            "the old id is not reported as current"
        );
        let degraded = d
            .events
            .iter()
            .find(|e| e.reason == EventReason::Degraded)
            .unwrap();
        assert!(
            degraded.warning && degraded.message.contains(ENDPOINT),
            "{degraded:?}"
        );
        assert_eq!(
            condition(&d.status, ConditionType::EndpointAvailable).reason,
            "EndpointMissing"
        );
    }

    #[test]
    fn an_endpoint_returned_deleted_by_an_idempotent_create_is_recreated_at_once() {
        let world = incident_world();
        let analysis = Ok(preview_analysis());
        let mut status = created_status(now_minus(5));
        status.endpoint_state = Some("deleted".into());
        let d = decide(&input(&world, &analysis, &status), &timing());
        let [Action::CreateEndpoint(create)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert!(create.client_token.ends_with("-1"));
    }

    #[test]
    fn client_tokens_stay_within_ec2_limits() {
        let token = client_token(&owner(), u32::MAX);
        assert!(token.len() <= 64, "{token}");
        assert_ne!(client_token(&owner(), 1), client_token(&owner(), 2));
    }

    #[test]
    fn a_pending_endpoint_is_polled_with_backoff_doubling_to_a_cap() {
        let world = with_endpoint(incident_world(), "pending", false);
        let analysis = Ok(endpoint_analysis());
        let t = timing();
        let waits = [(0, 5), (7, 5), (10, 10), (25, 20), (45, 40), (90, 60), (5000, 60)];
        for (waited, expect) in waits {
            let mut status = created_status(now_minus(waited));
            status.phase = RolloutPhase::Provisioning;
            status.conditions = vec![cond(
                ConditionType::EndpointAvailable,
                false,
                "EndpointPending",
                now_minus(waited),
            )];
            let d = decide(&input(&world, &analysis, &status), &t);
            assert_eq!(d.status.phase, RolloutPhase::Provisioning);
            assert!(d.actions.is_empty());
            assert_eq!(d.requeue, Duration::from_secs(expect), "after waiting {waited}s");
        }
    }

    #[test]
    fn a_failed_endpoint_fails_the_rollout_with_a_warning_once() {
        for state in ["failed", "expired"] {
            let world = with_endpoint(incident_world(), state, false);
            let analysis = Ok(endpoint_analysis());
            let status = created_status(now_minus(60));
            let d = decide(&input(&world, &analysis, &status), &timing());
            assert_eq!(d.status.phase, RolloutPhase::Failed);
            assert!(d.actions.is_empty());
            let ready = condition(&d.status, ConditionType::Ready);
            assert_eq!(ready.reason, "EndpointFailed");
            assert!(ready.message.contains(state), "{}", ready.message);
            assert_eq!(d.events.len(), 1);
            assert!(d.events[0].warning);

            let again = decide(&input(&world, &analysis, &d.status), &timing());
            assert!(again.events.is_empty(), "no event on resync: {:?}", again.events);
        }
    }

    #[test]
    fn an_endpoint_being_deleted_out_of_band_is_degraded_and_waited_for() {
        let world = with_endpoint(incident_world(), "deleting", true);
        let analysis = Ok(endpoint_analysis());
        let mut status = created_status(now_minus(3600));
        status.phase = RolloutPhase::Ready;
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Degraded);
        assert!(d.actions.is_empty());
        assert!(d.events.iter().any(|e| e.reason == EventReason::Degraded));
    }
}
