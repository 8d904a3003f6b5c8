//! Spec problems the API server's schema cannot see: tag keys reserved for ownership, a policy
//! that is not JSON, two subnets in one Availability Zone. Each one is `InvalidSpec`: phase
//! Failed, one Warning Event, no AWS change. (The analysis reports what does not fit the VPC:
//! an unknown subnet or security group, ...; [`super::location`] a VPC, service or region
//! changed under an existing endpoint, with the same report.)

use std::collections::BTreeMap;

use super::{PlanInput, Step, Timing, location, not_ready};
use crate::api::conditions::{ConditionReason, ConditionType, ConditionUpdate};
use crate::api::{GROUP, RolloutPhase};

/// Tags AWS allows per resource, minus the controller's two ownership tags.
const MAX_SPEC_TAGS: usize = 48;

/// The first problem with the spec, as a sentence naming the field.
pub(crate) fn spec_problem(input: &PlanInput<'_>) -> Option<String> {
    let spec = input.spec;
    let reserved = format!("{GROUP}/");
    for (key, value) in &spec.tags {
        if key.starts_with(&reserved) {
            return Some(format!(
                "spec.tags: key {key} is reserved for the controller's ownership tags"
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Some(format!(
                "spec.tags: key {key} uses the aws: prefix, which AWS reserves"
            ));
        }
        if key.is_empty() || key.chars().count() > 128 {
            return Some(format!("spec.tags: key {key:?} must be 1 to 128 characters"));
        }
        if value.chars().count() > 256 {
            return Some(format!(
                "spec.tags: the value of {key} is longer than 256 characters"
            ));
        }
    }
    if spec.tags.len() > MAX_SPEC_TAGS {
        return Some(format!(
            "spec.tags has {} tags; AWS allows 50 per endpoint, 2 of which are the controller's",
            spec.tags.len()
        ));
    }
    if let Some(policy) = &spec.policy {
        match serde_json::from_str::<serde_json::Value>(policy) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => return Some("spec.policy must be a JSON object (an IAM policy document)".into()),
            Err(e) => return Some(format!("spec.policy is not valid JSON: {e}")),
        }
    }
    for (field, ids) in [
        ("spec.subnetIds", &spec.subnet_ids),
        ("spec.securityGroupIds", &spec.security_group_ids),
    ] {
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = ids.iter().find(|id| !seen.insert(id.as_str())) {
            return Some(format!("{field} lists {dup} twice"));
        }
    }
    let mut zones: BTreeMap<&str, &str> = BTreeMap::new();
    for subnet_id in &spec.subnet_ids {
        let zone = input
            .world
            .subnets
            .iter()
            .find(|s| &s.subnet_id == subnet_id)
            .and_then(|s| {
                s.availability_zone_id
                    .as_deref()
                    .or(s.availability_zone.as_deref())
            });
        if let Some(zone) = zone
            && let Some(other) = zones.insert(zone, subnet_id)
        {
            return Some(format!(
                "spec.subnetIds: {other} and {subnet_id} are both in {zone}; an endpoint takes at most \
                 one subnet per Availability Zone"
            ));
        }
    }
    None
}

/// Phase Failed with reason InvalidSpec; nothing is changed. Spec edits wake the controller at
/// once, so the requeue is only a safety net.
pub(crate) fn invalid_spec<'a>(input: &PlanInput<'a>, problem: &str, timing: &Timing) -> Step<'a> {
    let mut step = Step::new(input, RolloutPhase::Failed, timing.waiting);
    step.endpoint = location::owned_endpoint(input);
    let message = format!("Invalid spec: {problem}");
    step.conditions.ready = Some(not_ready(ConditionReason::InvalidSpec, message.clone()));
    step.conditions.clients = Some(ConditionUpdate::new(
        ConditionType::ClientsReachable,
        false,
        ConditionReason::NotVerified,
        format!("Not verified: {message}"),
    ));
    step.conditions.approval = Some(ConditionUpdate::new(
        ConditionType::PlanApproved,
        false,
        ConditionReason::NotVerified,
        "No plan while the spec is invalid",
    ));
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::AnalysisError;
    use crate::api::InterfaceEndpointSpec;
    use crate::plan::fixtures::*;
    use crate::plan::{EventReason, decide};

    fn failed_with(spec: &InterfaceEndpointSpec, world: &crate::model::Snapshot) -> crate::plan::Decision {
        let analysis = Ok(preview_analysis());
        let status = Default::default();
        let d = decide(&input_with(spec, world, &analysis, &status), &timing());
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert_eq!(d.status.phase, RolloutPhase::Failed);
        d
    }

    fn ready_message(d: &crate::plan::Decision) -> String {
        let c = condition(&d.status, ConditionType::Ready);
        assert_eq!(c.reason, "InvalidSpec");
        c.message.clone()
    }

    #[test]
    fn an_analysis_error_is_an_invalid_spec_with_one_warning_and_no_action() {
        let world = incident_world();
        let analysis = Err(AnalysisError::SubnetNotFound("subnet-0dead".into()));
        let status = Default::default();
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert!(d.actions.is_empty());
        assert_eq!(d.status.phase, RolloutPhase::Failed);
        assert!(ready_message(&d).contains("subnet-0dead"));
        assert_eq!(d.requeue, timing().waiting);
        assert_eq!(d.events.len(), 1);
        assert_eq!(d.events[0].reason, EventReason::Failed);
        assert!(d.events[0].warning && d.events[0].message.contains("subnet-0dead"));
        assert_eq!(d.status.conditions.len(), 5);

        let again = decide(&input(&world, &analysis, &d.status), &timing());
        assert!(
            again.events.is_empty(),
            "the warning is not repeated: {:?}",
            again.events
        );
    }

    #[test]
    fn reserved_tag_keys_are_an_invalid_spec() {
        let mut spec = spec();
        spec.tags
            .insert("vpce-rollout.dev/owner".into(), "someone/else".into());
        let d = failed_with(&spec, &incident_world());
        assert!(ready_message(&d).contains("vpce-rollout.dev/owner"));
    }

    #[test]
    fn a_policy_that_is_not_json_is_an_invalid_spec() {
        let spec = InterfaceEndpointSpec {
            policy: Some("{not json".into()),
            ..spec()
        };
        let d = failed_with(&spec, &incident_world());
        assert!(ready_message(&d).contains("spec.policy"));
    }

    #[test]
    fn two_subnets_in_one_zone_are_an_invalid_spec() {
        let spec = InterfaceEndpointSpec {
            subnet_ids: vec![SUBNET_APP.into(), SUBNET_PUBLIC.into()],
            ..spec()
        };
        let d = failed_with(&spec, &incident_world());
        assert!(ready_message(&d).contains("ap-northeast-1a"));
    }
}
