//! Events: one per change, never one per resync.
//!
//! Two sources: the actions of a decision (one Event per action as planned: [`for_action`]; the
//! engine records one per AWS call it made, with the call's request id, account and region:
//! [`for_call`], the audit trail), and transitions between the previous and the next status
//! ([`transitions`]: the endpoint became available, clients became blocked, a plan waits for
//! approval, the rollout became Ready, Degraded or Failed). Comparing statuses makes Events
//! idempotent: a resync that changes nothing records nothing.
//!
//! One pass records them in the order it works: what it observed (available, blocked,
//! Degraded), what it did (the actions), then where the rollout stands (a plan waiting for
//! approval, Ready, Failed). `kubectl describe` lists Events of the same second in that order.

use super::wording::{count, peer_text, rule_line, tag_list, with_more};
use super::{Action, EventNote, EventReason, Takeover};
use crate::api::conditions::{ConditionType, find_condition};
use crate::api::{InterfaceEndpointSpec, InterfaceEndpointStatus, RolloutPhase};
use crate::aws::CallTrace;
use crate::model::VpcEndpoint;

fn note(reason: EventReason, warning: bool, message: String) -> EventNote {
    EventNote {
        reason,
        warning,
        message,
    }
}

/// The Event for one AWS call that succeeded (`action` is that call: one batch of a multi-batch
/// action), ending with where CloudTrail has it.
pub fn for_call(action: &Action, spec: &InterfaceEndpointSpec, trace: &CallTrace) -> Option<EventNote> {
    for_action(action, spec).map(|note| traced(note, trace))
}

/// `note`, its message ending with where CloudTrail has the call it reports (a mutation that
/// succeeded, or the one whose failure it reports).
pub fn traced(mut note: EventNote, trace: &CallTrace) -> EventNote {
    note.message = format!("{} ({trace})", note.message);
    note
}

/// The Event for an action that succeeded.
pub fn for_action(action: &Action, spec: &InterfaceEndpointSpec) -> Option<EventNote> {
    match action {
        Action::CreateEndpoint(create) => Some(note(
            EventReason::EndpointCreated,
            false,
            format!(
                "Creating an endpoint for {} in {} (subnets {}; security groups {}) with private DNS off",
                create.service_name,
                create.vpc_id,
                create.subnet_ids.join(", "),
                create.security_group_ids.join(", ")
            ),
        )),
        Action::ModifyEndpoint(modify) => match modify.private_dns_enabled {
            Some(true) => Some(note(
                EventReason::PrivateDnsEnabled,
                false,
                format!(
                    "Enabled private DNS on {}: the service's name now resolves to the endpoint in {}",
                    modify.vpc_endpoint_id, spec.vpc_id
                ),
            )),
            Some(false) => Some(note(
                EventReason::PrivateDnsDisabled,
                false,
                format!(
                    "Disabled private DNS on {}{}: the service's name resolves to its public endpoint \
                     again in {}",
                    modify.vpc_endpoint_id,
                    if spec.private_dns.enabled {
                        ""
                    } else {
                        ", as spec.privateDns.enabled asks"
                    },
                    spec.vpc_id
                ),
            )),
            None => {
                let mut parts = Vec::new();
                for (what, ids) in [
                    ("added subnets", &modify.add_subnet_ids),
                    ("removed subnets", &modify.remove_subnet_ids),
                    ("added security groups", &modify.add_security_group_ids),
                    ("removed security groups", &modify.remove_security_group_ids),
                ] {
                    if !ids.is_empty() {
                        parts.push(format!("{what} {}", ids.join(", ")));
                    }
                }
                if modify.policy_document.is_some() {
                    parts.push("set the policy from spec.policy".into());
                }
                if modify.reset_policy {
                    parts.push("reset the policy to full access".into());
                }
                Some(note(
                    EventReason::EndpointModified,
                    false,
                    format!(
                        "Changed {} to match the spec: {}",
                        modify.vpc_endpoint_id,
                        parts.join("; ")
                    ),
                ))
            }
        },
        Action::AuthorizeRules(batches) => {
            let lines: Vec<String> = batches
                .iter()
                .flat_map(|b| {
                    b.rules.iter().map(move |r| {
                        rule_line(
                            &b.group_id,
                            b.egress,
                            &r.protocol,
                            r.from_port,
                            r.to_port,
                            peer_text(&r.peer),
                        )
                    })
                })
                .collect();
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            Some(note(
                EventReason::RulesAuthorized,
                false,
                format!(
                    "Authorized {} tagged as this object's: {}",
                    count(lines.len(), "rule"),
                    with_more(&refs, lines.len())
                ),
            ))
        }
        Action::RevokeRules(batches) => {
            let lines: Vec<String> = batches
                .iter()
                .flat_map(|b| {
                    let direction = if b.egress { "egress" } else { "ingress" };
                    b.rule_ids
                        .iter()
                        .map(move |id| format!("{id} ({} {direction})", b.group_id))
                })
                .collect();
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            Some(note(
                EventReason::RulesRevoked,
                false,
                format!(
                    "Revoked {} owned by this object: {}",
                    count(lines.len(), "rule"),
                    with_more(&refs, lines.len())
                ),
            ))
        }
        Action::HandOverRules(handovers) => {
            let lines: Vec<String> = handovers
                .iter()
                .map(|h| {
                    format!(
                        "{} to {} (its endpoint {} needs {})",
                        h.rule_ids.join(", "),
                        h.to,
                        h.endpoint_id,
                        if h.rule_ids.len() == 1 { "it" } else { "them" }
                    )
                })
                .collect();
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let rules = handovers.iter().map(|h| h.rule_ids.len()).sum();
            Some(note(
                EventReason::RulesHandedOver,
                false,
                format!(
                    "Kept {} another object's endpoint still needs, and handed {} over instead of revoking: {}",
                    count(rules, "rule"),
                    if rules == 1 { "it" } else { "them" },
                    with_more(&refs, lines.len())
                ),
            ))
        }
        Action::TagEndpoint(t) => {
            let tags = tag_list(&t.tags);
            let what = match &t.takeover {
                Takeover::Adopt => format!(
                    "Took over endpoint {}, named by spec.adopt.vpcEndpointId: tagged it as this object's ({})",
                    t.vpc_endpoint_id, tags
                ),
                Takeover::Restore { earlier_uid } => format!(
                    "Took over endpoint {}, made by an earlier object of the same name (UID {earlier_uid}): \
                     tagged it as this object's ({})",
                    t.vpc_endpoint_id, tags
                ),
                Takeover::Claim => format!(
                    "Tagged endpoint {} as this cluster's ({})",
                    t.vpc_endpoint_id, tags
                ),
            };
            Some(note(EventReason::EndpointAdopted, false, what))
        }
        Action::TagRules(t) => {
            let ids: Vec<&str> = t.rule_ids.iter().map(String::as_str).collect();
            Some(note(
                EventReason::RulesAdopted,
                false,
                format!(
                    "Took over {} an earlier object of the same name added: {}",
                    count(ids.len(), "rule"),
                    with_more(&ids, ids.len())
                ),
            ))
        }
        Action::SetEndpointTags {
            vpc_endpoint_id,
            tags,
        } => {
            let pairs: Vec<String> = tags.iter().map(|t| format!("{}={}", t.key, t.value)).collect();
            Some(note(
                EventReason::EndpointTagsUpdated,
                false,
                format!(
                    "Tagged endpoint {vpc_endpoint_id} as spec.tags asks: {}",
                    pairs.join(", ")
                ),
            ))
        }
        Action::RemoveEndpointTags {
            vpc_endpoint_id,
            keys,
        } => Some(note(
            EventReason::EndpointTagsUpdated,
            false,
            format!(
                "Deleted from endpoint {vpc_endpoint_id} the tags spec.tags no longer names: {}",
                keys.join(", ")
            ),
        )),
        Action::DeleteEndpoint { vpc_endpoint_id } => Some(note(
            EventReason::EndpointDeleted,
            false,
            format!("Deleting endpoint {vpc_endpoint_id}"),
        )),
    }
}

/// `sg-… ingress tcp/443 from sg-…`.
fn describe_planned(rule: &crate::api::PlannedRule) -> String {
    let peer = rule
        .peer_group_id
        .as_deref()
        .or(rule.cidr.as_deref())
        .unwrap_or("?");
    rule_line(
        &rule.group_id,
        rule.direction == "egress",
        &rule.protocol,
        i32::from(rule.from_port),
        i32::from(rule.to_port),
        peer,
    )
}

/// The EndpointCreated Event once EC2 has answered with the endpoint.
pub fn endpoint_created(endpoint: &VpcEndpoint, trace: &CallTrace) -> EventNote {
    let created = note(
        EventReason::EndpointCreated,
        false,
        format!(
            "Created endpoint {} for {} in {} (subnets {}) with private DNS off",
            endpoint.vpc_endpoint_id,
            endpoint.service_name,
            endpoint.vpc_id,
            endpoint.subnet_ids.join(", ")
        ),
    );
    traced(created, trace)
}

fn reason_of(status: &InterfaceEndpointStatus, t: ConditionType) -> Option<&str> {
    find_condition(&status.conditions, t).map(|c| c.reason.as_str())
}

fn message_of(status: &InterfaceEndpointStatus, t: ConditionType) -> String {
    find_condition(&status.conditions, t)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// Keys of the blocked-client groups in a status.
fn group_keys(status: &InterfaceEndpointStatus) -> Vec<(&[String], &[String])> {
    status
        .clients
        .iter()
        .flat_map(|c| &c.groups)
        .map(|g| (g.security_group_ids.as_slice(), g.reasons.as_slice()))
        .collect()
}

/// The Events for what changed between the last written status and the next one.
#[derive(Debug, Default)]
pub(crate) struct Transitions {
    /// What the pass observed (the endpoint became available, clients blocked or cut off):
    /// recorded before the Events of the pass's actions.
    pub observed: Vec<EventNote>,
    /// Where the rollout stands after the pass (a plan waiting for approval, Ready, Failed):
    /// recorded after them.
    pub outcome: Vec<EventNote>,
}

/// Events for what changed between the last written status and the next one.
pub(crate) fn transitions(previous: &InterfaceEndpointStatus, next: &InterfaceEndpointStatus) -> Transitions {
    let mut notes = Vec::new();
    let phase_changed = previous.phase != next.phase;

    // Announced once per endpoint: enabling private DNS makes EC2 show the endpoint `pending`
    // for a while, which is not news when it is `available` again.
    let available = |s: &InterfaceEndpointStatus| s.endpoint_state.as_deref() == Some("available");
    let announced = available(previous)
        || !matches!(
            previous.phase,
            RolloutPhase::Pending
                | RolloutPhase::Creating
                | RolloutPhase::Provisioning
                | RolloutPhase::AwaitingAcceptance
        );
    if available(next) && (previous.endpoint_id != next.endpoint_id || !announced) {
        notes.push(note(
            EventReason::EndpointAvailable,
            false,
            message_of(next, ConditionType::EndpointAvailable),
        ));
    }

    if next.phase == RolloutPhase::Degraded && phase_changed {
        notes.push(note(
            EventReason::Degraded,
            true,
            message_of(next, ConditionType::Ready),
        ));
    } else if reason_of(next, ConditionType::ClientsReachable) == Some("ClientsBlocked") {
        let was_blocked = reason_of(previous, ConditionType::ClientsReachable) == Some("ClientsBlocked");
        let known = group_keys(previous);
        let new_group = group_keys(next).iter().any(|k| !known.contains(k));
        if !was_blocked || new_group {
            notes.push(note(
                EventReason::ClientsBlocked,
                true,
                message_of(next, ConditionType::ClientsReachable),
            ));
        }
    }
    let observed = std::mem::take(&mut notes);

    let awaiting = |s: &InterfaceEndpointStatus| {
        matches!(
            reason_of(s, ConditionType::PlanApproved),
            Some("AwaitingApproval" | "StalePlanId" | "UnknownPlanId")
        )
    };
    let plan_id = |s: &InterfaceEndpointStatus| s.plan.as_ref().map(|p| p.id.clone());
    if awaiting(next)
        && (!awaiting(previous)
            || plan_id(previous) != plan_id(next)
            || reason_of(previous, ConditionType::PlanApproved)
                != reason_of(next, ConditionType::PlanApproved))
    {
        notes.push(note(
            EventReason::PlanAwaitingApproval,
            false,
            message_of(next, ConditionType::PlanApproved),
        ));
    }

    if next.phase == RolloutPhase::Failed {
        let same = !phase_changed
            && reason_of(previous, ConditionType::Ready) == reason_of(next, ConditionType::Ready)
            && message_of(previous, ConditionType::Ready) == message_of(next, ConditionType::Ready);
        if !same {
            notes.push(note(
                EventReason::Failed,
                true,
                message_of(next, ConditionType::Ready),
            ));
        }
    }

    // Rules a deleted object handed over to this one: announced once, when the status first
    // lists them.
    let handed_over = |s: &InterfaceEndpointStatus| -> Vec<(String, String)> {
        s.plan
            .iter()
            .flat_map(|p| &p.rules)
            .filter_map(|r| Some((r.handed_over_from.clone()?, describe_planned(r))))
            .collect()
    };
    let known = handed_over(previous);
    let taken: Vec<(String, String)> = handed_over(next)
        .into_iter()
        .filter(|r| !known.contains(r))
        .collect();
    if !taken.is_empty() {
        let mut from: Vec<&str> = taken.iter().map(|(f, _)| f.as_str()).collect();
        from.dedup();
        let rules: Vec<&str> = taken.iter().map(|(_, r)| r.as_str()).collect();
        notes.push(note(
            EventReason::RulesTakenOver,
            false,
            format!(
                "Took over {} from {} (deleted), because this object's endpoint needs {}: {}; \
                 {} now this object's and {} revoked when it is deleted",
                count(taken.len(), "rule"),
                from.join(", "),
                if taken.len() == 1 { "it" } else { "them" },
                with_more(&rules, rules.len()),
                if taken.len() == 1 { "it is" } else { "they are" },
                if taken.len() == 1 { "is" } else { "are" },
            ),
        ));
    }

    if next.phase == RolloutPhase::Ready && phase_changed {
        notes.push(note(
            EventReason::Ready,
            false,
            message_of(next, ConditionType::Ready),
        ));
    }
    Transitions {
        observed,
        outcome: notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{RemediationMode, RemediationSpec};
    use crate::plan::decide;
    use crate::plan::fixtures::*;

    fn reasons(d: &crate::plan::Decision) -> Vec<EventReason> {
        d.events.iter().map(|e| e.reason).collect()
    }

    #[test]
    fn action_events_follow_what_was_observed_and_precede_where_the_rollout_stands() {
        let approval = InterfaceEndpointSpec {
            remediation: RemediationSpec {
                endpoint_ingress: RemediationMode::Approval,
                client_egress: RemediationMode::Approval,
            },
            ..spec()
        };
        // The pass that creates the endpoint in Approval mode: created, then the plan waits.
        let world = incident_world();
        let analysis = Ok(preview_analysis());
        let status = Default::default();
        let d = decide(&input_with(&approval, &world, &analysis, &status), &timing());
        assert_eq!(
            reasons(&d),
            [EventReason::EndpointCreated, EventReason::PlanAwaitingApproval]
        );

        // Auto ingress rules added while an egress rule waits: seen, done, then what is left.
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(two_way_analysis());
        let mut status = created_status(now_minus(600));
        status.phase = RolloutPhase::Provisioning;
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(
            reasons(&d),
            [
                EventReason::EndpointAvailable,
                EventReason::ClientsBlocked,
                EventReason::RulesAuthorized,
                EventReason::PlanAwaitingApproval
            ]
        );
    }
}
