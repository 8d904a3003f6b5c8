//! An invalid spec: phase Failed with reason InvalidSpec, one Warning Event, no AWS change.
//!
//! The problems come from the one validation `plan` uses too ([`validation::spec_problems`]:
//! the CRD schema, which an object can reach the controller without, and what no schema can
//! say), from the analysis (what does not fit the VPC: an unknown subnet, two subnets in one
//! Availability Zone, ...), and from [`super::location`] (a VPC, service or region changed under
//! an existing endpoint).

use super::{PlanInput, Step, Timing, location, not_ready};
use crate::api::conditions::{ConditionReason, ConditionType, ConditionUpdate};
use crate::api::{RolloutPhase, validation};

/// The spec's problems as one sentence naming each field, if any.
pub(crate) fn spec_problem(input: &PlanInput<'_>) -> Option<String> {
    let problems = validation::spec_problems(input.spec);
    (!problems.is_empty()).then(|| problems.join("; "))
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
    fn a_service_region_the_service_is_not_offered_from_is_an_invalid_spec_and_nothing_is_created() {
        let spec = InterfaceEndpointSpec {
            service_region: Some("us-east-1".into()),
            ..spec()
        };
        // The engine asked for the service as offered from us-east-1: not listed.
        let mut world = incident_world();
        world.service_details.clear();
        let d = failed_with(&spec, &world);
        assert_eq!(
            ready_message(&d),
            format!(
                "Invalid spec: spec.serviceRegion: {SERVICE} is not offered from us-east-1 to this \
                 VPC's region (DescribeVpcEndpointServices with ServiceRegions us-east-1 does not list \
                 it): the service does not offer cross-region access to this region, or does not exist \
                 in us-east-1"
            )
        );
        // Listed from there: created with its ServiceRegion.
        let mut world = incident_world();
        world.service_details[0].service_region = Some("us-east-1".into());
        let analysis = Ok(preview_analysis());
        let status = Default::default();
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        let [crate::plan::Action::CreateEndpoint(create)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(create.service_region.as_deref(), Some("us-east-1"));
        assert_eq!(d.status.endpoint_service_region.as_deref(), Some("us-east-1"));
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
    fn what_the_crd_schema_refuses_is_an_invalid_spec_here_too() {
        // Not every API server validates (or the object predates a schema change): the
        // controller holds the spec to the same schema `plan` does.
        let spec = InterfaceEndpointSpec {
            approval: Some(crate::api::Approval {
                plan_id: "not-a-plan".into(),
            }),
            subnet_ids: vec![SUBNET_APP.into(), SUBNET_APP.into()],
            ..spec()
        };
        let d = failed_with(&spec, &incident_world());
        assert_eq!(
            ready_message(&d),
            format!(
                "Invalid spec: spec.approval.planId: \"not-a-plan\" does not match \
                 ^[0-9a-f]{{6,64}}$; spec.subnetIds lists {SUBNET_APP} twice"
            )
        );
    }
}
