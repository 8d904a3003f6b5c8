//! The object is being deleted (`metadata.deletionTimestamp` is set, the finalizer holds it).
//!
//! `deletionPolicy: Retain` leaves the endpoint and the object's rules in AWS. `Delete`
//! revokes the rules carrying both ownership tags of this object (and no other rule, whoever
//! else refers to the same groups), then deletes the object's endpoints, waits while they are
//! `deleting`, and lets the finalizer go once nothing of the object is left. Absence in AWS
//! counts as done, so the finalizer can always complete.

use std::collections::BTreeMap;

use super::rules::owned_rules;
use super::wording::count;
use super::{Action, PlanInput, RevokeRules, Step, Timing, endpoint, location, not_ready};
use crate::api::conditions::ConditionReason;
use crate::api::{DeletionPolicy, RolloutPhase};

pub(crate) fn decide<'a>(input: &PlanInput<'a>, timing: &Timing) -> Step<'a> {
    let mut step = Step::new(input, RolloutPhase::Deleting, timing.after_change);
    step.endpoint = location::owned_endpoint(input);
    let message = match input.spec.deletion_policy {
        DeletionPolicy::Retain => {
            step.finalized = true;
            let owned = owned_rules(input).count();
            let kept = step.endpoint.map_or_else(
                || "no endpoint".to_string(),
                |e| format!("endpoint {}", e.vpc_endpoint_id),
            );
            format!(
                "deletionPolicy is Retain: {kept} and {} of this object are left in place",
                count(owned, "rule")
            )
        }
        DeletionPolicy::Delete => delete(input, timing, &mut step),
    };
    step.conditions.ready = Some(not_ready(ConditionReason::Deleting, message));
    step
}

/// Revoke, then delete, then wait; returns the Ready message.
fn delete<'a>(input: &PlanInput<'a>, timing: &Timing, step: &mut Step<'a>) -> String {
    // Ownership is checked again on each rule's own tags, whatever filter found it: a rule
    // without both tags of this object is never revoked.
    let mut revoke: BTreeMap<(String, bool), Vec<String>> = BTreeMap::new();
    for rule in owned_rules(input) {
        revoke
            .entry((rule.group_id.clone(), rule.is_egress))
            .or_default()
            .push(rule.security_group_rule_id.clone());
    }
    let owned: Vec<_> = location::owned_endpoints(input.world, input.owner).collect();
    let to_delete: Vec<&str> = owned
        .iter()
        .filter(|e| !location::is_deleting(e))
        .map(|e| e.vpc_endpoint_id.as_str())
        .collect();
    let deleting: Vec<&str> = owned
        .iter()
        .filter(|e| location::is_deleting(e))
        .map(|e| e.vpc_endpoint_id.as_str())
        .collect();

    let rules = revoke.values().map(Vec::len).sum::<usize>();
    if !revoke.is_empty() {
        step.actions.push(Action::RevokeRules(
            revoke
                .into_iter()
                .map(|((group_id, egress), rule_ids)| RevokeRules {
                    group_id,
                    egress,
                    rule_ids,
                })
                .collect(),
        ));
    }
    for id in &to_delete {
        step.actions.push(Action::DeleteEndpoint {
            vpc_endpoint_id: id.to_string(),
        });
    }
    if !step.actions.is_empty() {
        let mut what = Vec::new();
        if rules > 0 {
            what.push(format!("revoking {}", count(rules, "rule")));
        }
        if !to_delete.is_empty() {
            what.push(format!("deleting {}", to_delete.join(", ")));
        }
        return format!("Deleting: {}", what.join(", then "));
    }
    if !deleting.is_empty() {
        step.requeue = endpoint::pending_backoff(input, timing);
        return format!("Deleting: waiting for EC2 to delete {}", deleting.join(", "));
    }
    // An endpoint created moments ago may not be listed yet: finalizing now would leave it
    // behind. The wait is bounded by the visibility window, so the finalizer still completes.
    let previous = input.status;
    let just_created = previous
        .endpoint_create_time
        .as_deref()
        .and_then(|t| t.parse().ok())
        .is_some_and(|t| endpoint::elapsed(t, input.now) < timing.visibility_window);
    if let Some(id) = previous.endpoint_id.as_deref()
        && just_created
        && !location::seen_going(previous)
    {
        step.keep_previous_endpoint = true;
        step.requeue = endpoint::pending_backoff(input, timing);
        return format!("Deleting: waiting for EC2 to list {id}, created moments ago");
    }
    step.finalized = true;
    "Deleted: no endpoint or rule of this object is left".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::conditions::ConditionType;
    use crate::api::{InterfaceEndpointSpec, OWNER_TAG, UID_TAG};
    use crate::model::{SecurityGroupRule, Snapshot, tags_from};
    use crate::plan::fixtures::*;
    use crate::plan::{Decision, EventReason, decide};

    fn deleting(
        spec: &InterfaceEndpointSpec,
        world: &Snapshot,
        status: &crate::api::InterfaceEndpointStatus,
    ) -> Decision {
        let analysis = Ok(endpoint_analysis());
        let mut i = input_with(spec, world, &analysis, status);
        i.deleting = true;
        decide(&i, &timing())
    }

    fn world_with_rules() -> Snapshot {
        let mut world = with_endpoint(incident_world(), "available", true);
        world.security_group_rules = vec![
            owned_rule("sgr-0000000000000000a", SG_VPCE, false, SG_ZABBIX),
            owned_rule("sgr-0000000000000000b", SG_ZABBIX, true, SG_VPCE),
            // Same owner name, another UID (a re-created object): not ours.
            SecurityGroupRule {
                tags: tags_from([(OWNER_TAG, "monitoring/logs"), (UID_TAG, "another-uid")]),
                ..owned_rule("sgr-0000000000000000c", SG_VPCE, false, SG_LAMBDA)
            },
            // Untagged: someone else's.
            SecurityGroupRule {
                tags: vec![],
                ..owned_rule("sgr-0000000000000000d", SG_VPCE, false, SG_LAMBDA)
            },
        ];
        world
    }

    #[test]
    fn deletion_revokes_only_rules_with_both_owner_tags_then_deletes_the_endpoint() {
        let world = world_with_rules();
        let d = deleting(&spec(), &world, &Default::default());
        assert_eq!(d.status.phase, RolloutPhase::Deleting);
        assert!(!d.finalized);
        let [
            Action::RevokeRules(revoke),
            Action::DeleteEndpoint { vpc_endpoint_id },
        ] = d.actions.as_slice()
        else {
            panic!("{:?}", d.actions)
        };
        let mut ids: Vec<&str> = revoke
            .iter()
            .flat_map(|r| r.rule_ids.iter().map(String::as_str))
            .collect();
        ids.sort();
        assert_eq!(ids, ["sgr-0000000000000000a", "sgr-0000000000000000b"]);
        assert_eq!(vpc_endpoint_id, ENDPOINT);
        let reasons: Vec<_> = d.events.iter().map(|e| e.reason).collect();
        assert_eq!(reasons, [EventReason::RulesRevoked, EventReason::EndpointDeleted]);
        assert!(d.status.plan.is_some(), "the owned rules are still reported");
    }

    #[test]
    fn deletion_waits_while_the_endpoint_is_deleting() {
        let mut world = with_endpoint(incident_world(), "deleting", false);
        world.security_group_rules.clear();
        let d = deleting(&spec(), &world, &Default::default());
        assert!(d.actions.is_empty());
        assert!(!d.finalized);
        assert!(
            condition(&d.status, ConditionType::Ready)
                .message
                .contains(ENDPOINT)
        );
    }

    #[test]
    fn deletion_is_finalized_when_nothing_is_left_in_aws() {
        let mut world = with_endpoint(incident_world(), "deleted", false);
        world.security_group_rules = vec![SecurityGroupRule {
            tags: vec![],
            ..owned_rule("sgr-0000000000000000d", SG_VPCE, false, SG_LAMBDA)
        }];
        let d = deleting(&spec(), &world, &created_status(now_minus(3600)));
        assert!(d.actions.is_empty());
        assert!(d.finalized);
    }

    #[test]
    fn deletion_of_an_object_whose_vpc_is_gone_is_finalized() {
        let d = deleting(&spec(), &Snapshot::default(), &Default::default());
        assert!(d.actions.is_empty());
        assert!(d.finalized);
    }

    #[test]
    fn deletion_waits_briefly_for_an_endpoint_created_moments_ago() {
        let world = incident_world();
        let d = deleting(&spec(), &world, &created_status(now_minus(10)));
        assert!(d.actions.is_empty());
        assert!(!d.finalized);
        let d = deleting(&spec(), &world, &created_status(now_minus(600)));
        assert!(d.finalized, "the wait is bounded");
    }

    #[test]
    fn an_endpoint_seen_deleting_and_now_gone_is_done_even_moments_after_its_creation() {
        let mut status = created_status(now_minus(30));
        status.endpoint_state = Some("deleting".into());
        let d = deleting(&spec(), &incident_world(), &status);
        assert!(d.finalized);
    }

    #[test]
    fn retain_leaves_everything_in_place_and_finalizes() {
        let world = world_with_rules();
        let spec = InterfaceEndpointSpec {
            deletion_policy: DeletionPolicy::Retain,
            ..spec()
        };
        let d = deleting(&spec, &world, &Default::default());
        assert!(d.actions.is_empty());
        assert!(d.finalized);
        let message = &condition(&d.status, ConditionType::Ready).message;
        assert!(
            message.contains(ENDPOINT) && message.contains("2 rules"),
            "{message}"
        );
    }

    #[test]
    fn deletion_also_removes_an_endpoint_of_a_previous_service_name() {
        let world = with_endpoint(incident_world(), "available", false);
        let spec = InterfaceEndpointSpec {
            service_name: "com.amazonaws.ap-northeast-1.monitoring".into(),
            ..spec()
        };
        let d = deleting(&spec, &world, &Default::default());
        assert!(matches!(d.actions.as_slice(), [Action::DeleteEndpoint { .. }]));
    }
}
