//! The clients' access to an available endpoint, and what `spec.remediation` allows about it:
//! add the missing rules (`Auto`, or `Approval` once approved), wait for approval, or wait for
//! someone else (`Off`, network ACLs). When every client can reach the endpoint (or private DNS
//! is forced), [`super::dns`] decides the rest.

use super::approval::{Access, ApprovalState};
use super::rules::authorize;
use super::wording::{blocked_sentence, count, what_is_needed};
use super::{PlanInput, Step, Timing, dns, not_ready};
use crate::analysis::Analysis;
use crate::api::RolloutPhase;
use crate::api::conditions::ConditionReason;
use crate::model::VpcEndpoint;

/// The access step for an available endpoint whose shape matches the spec.
pub(crate) fn decide<'a>(
    input: &PlanInput<'a>,
    endpoint: &'a VpcEndpoint,
    analysis: &'a Analysis,
    timing: &Timing,
) -> Step<'a> {
    let access = Access::new(analysis, input.spec, input.status.plan.as_ref(), &input.approver);
    // `force` waives the blocked clients, except the sources a rollback holds private DNS off
    // for (simulation seed 1).
    let forced = dns::forced(input.spec) && !super::rollback::holds(input.status, analysis);
    if access.blocked == 0 || forced {
        return dns::decide(input, endpoint, analysis, &access, timing);
    }

    // Private DNS on: blocked clients resolve the service to the endpoint and are cut off
    // *now*, so anything short of fixing it at once is Degraded.
    let serving = endpoint.private_dns_enabled;
    let rules_now = access.rules_now();
    let mut step = if !rules_now.is_empty() {
        // While private DNS is on the clients are cut off until the rules are in: Degraded.
        let phase = if serving {
            RolloutPhase::Degraded
        } else {
            RolloutPhase::Remediating
        };
        let mut step = Step::new(input, phase, timing.after_change);
        step.actions.push(authorize(&rules_now, input));
        let rules = count(rules_now.len(), "rule");
        let (reason, message) = if serving {
            (
                ConditionReason::ClientsBlocked,
                format!(
                    "Private DNS is on and {}: they are cut off; re-adding what spec.remediation \
                     allows ({rules})",
                    blocked_sentence(&access)
                ),
            )
        } else {
            (
                ConditionReason::InProgress,
                format!(
                    "Adding {rules} to reach {}; {}",
                    endpoint.vpc_endpoint_id,
                    blocked_sentence(&access)
                ),
            )
        };
        step.conditions.ready = Some(not_ready(reason, message));
        step
    } else if serving {
        let mut step = Step::new(input, RolloutPhase::Degraded, timing.waiting);
        let next = if dns::unwanted(input, endpoint) {
            dns::turn_off(&mut step, input, endpoint, timing);
            "turning it off, as spec.privateDns.enabled asks".to_string()
        } else {
            what_is_needed(&access)
        };
        let message = format!("Private DNS is on and {}; {next}", blocked_sentence(&access));
        step.conditions.ready = Some(not_ready(ConditionReason::ClientsBlocked, message));
        step
    } else if access.awaits_approval() {
        let mut step = Step::new(input, RolloutPhase::AwaitingApproval, timing.waiting);
        let reason = match access.approval {
            ApprovalState::Stale { reported, .. } => ApprovalState::mismatch_reason(reported),
            _ => ConditionReason::AwaitingApproval,
        };
        let message = format!(
            "Private DNS stays off: {}; {}",
            blocked_sentence(&access),
            what_is_needed(&access)
        );
        step.conditions.ready = Some(not_ready(reason, message));
        step
    } else {
        let mut step = Step::new(input, RolloutPhase::Blocked, timing.waiting);
        let message = format!(
            "Private DNS stays off: {}; {}",
            blocked_sentence(&access),
            what_is_needed(&access)
        );
        step.conditions.ready = Some(not_ready(ConditionReason::ClientsBlocked, message));
        step
    };
    step.endpoint = Some(endpoint);
    step.analysis = Some(analysis);
    step.verified = true;
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Check;
    use crate::api::conditions::ConditionType;
    use crate::api::{Approval, InterfaceEndpointSpec, RemediationMode, RemediationSpec};
    use crate::aws::RulePeer;
    use crate::plan::fixtures::*;
    use crate::plan::{Action, EventReason, decide};

    fn spec_with(
        ingress: RemediationMode,
        egress: RemediationMode,
        approval: Option<&str>,
    ) -> InterfaceEndpointSpec {
        InterfaceEndpointSpec {
            remediation: RemediationSpec {
                endpoint_ingress: ingress,
                client_egress: egress,
            },
            approval: approval.map(|id| Approval { plan_id: id.into() }),
            ..spec()
        }
    }

    fn available_status() -> crate::api::InterfaceEndpointStatus {
        let mut s = created_status(now_minus(600));
        s.phase = RolloutPhase::Provisioning;
        s
    }

    #[test]
    fn zabbix_agent_is_admitted_automatically_when_endpoint_ingress_is_auto() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(endpoint_analysis());
        let status = available_status();
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Remediating);
        let [Action::AuthorizeRules(batches)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(batches.len(), 1);
        let batch = &batches[0];
        assert_eq!((batch.group_id.as_str(), batch.egress), (SG_VPCE, false));
        assert_eq!(batch.rules[0].peer, RulePeer::Group(SG_ZABBIX.into()));
        assert_eq!((batch.rules[0].from_port, batch.rules[0].to_port), (443, 443));
        assert!(owner().owns(crate::model::tag_pairs(&batch.tags)));
        assert!(batch.rules[0].description.contains("monitoring/logs"));
        assert!(batch.rules[0].description.contains(SG_ZABBIX));
        assert!(!d.status.private_dns_enabled);
        assert_eq!(d.requeue, timing().after_change);
        let reasons: Vec<_> = d.events.iter().map(|e| e.reason).collect();
        assert!(reasons.contains(&EventReason::EndpointAvailable), "{reasons:?}");
        assert!(reasons.contains(&EventReason::ClientsBlocked), "{reasons:?}");
        assert!(reasons.contains(&EventReason::RulesAuthorized), "{reasons:?}");
    }

    #[test]
    fn egress_rules_wait_for_approval_while_auto_ingress_rules_are_added() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(two_way_analysis());
        let status = available_status();
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Remediating);
        let [Action::AuthorizeRules(batches)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(batches.len(), 1, "only the Auto ingress rule");
        assert!(!batches[0].egress);
        let plan = d.status.plan.as_ref().unwrap();
        assert!(plan.requires_approval);
        assert!(!plan.approved);
    }

    #[test]
    fn an_unapproved_plan_waits_with_its_id_and_the_exact_edit() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(endpoint_analysis());
        let spec = spec_with(RemediationMode::Approval, RemediationMode::Approval, None);
        let status = available_status();
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::AwaitingApproval);
        assert!(d.actions.is_empty());
        let id = d.status.plan.as_ref().unwrap().id.clone();
        let approved = condition(&d.status, ConditionType::PlanApproved);
        assert_eq!(approved.status, "False");
        assert_eq!(approved.reason, "AwaitingApproval");
        assert!(
            approved.message.contains(&format!("spec.approval.planId: {id}")),
            "{}",
            approved.message
        );
        let event = d
            .events
            .iter()
            .find(|e| e.reason == EventReason::PlanAwaitingApproval)
            .unwrap();
        assert!(event.message.contains(&id));
        assert_eq!(d.requeue, timing().waiting);

        let again = decide(&input_with(&spec, &world, &analysis, &d.status), &timing());
        assert!(
            !again
                .events
                .iter()
                .any(|e| e.reason == EventReason::PlanAwaitingApproval),
            "no event on resync"
        );
    }

    #[test]
    fn an_approved_plan_is_applied() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(endpoint_analysis());
        let id = endpoint_analysis()
            .remediation
            .plan_id(&spec_with(RemediationMode::Approval, RemediationMode::Approval, None).remediation);
        let spec = spec_with(RemediationMode::Approval, RemediationMode::Approval, Some(&id));
        let status = available_status();
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Remediating);
        assert!(matches!(d.actions.as_slice(), [Action::AuthorizeRules(_)]));
        assert!(d.status.plan.as_ref().unwrap().approved);
        assert_eq!(
            condition(&d.status, ConditionType::PlanApproved).reason,
            "PlanApproved"
        );
    }

    #[test]
    fn an_approval_of_an_earlier_plan_is_reported_with_both_ids() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(endpoint_analysis());
        let spec = spec_with(
            RemediationMode::Approval,
            RemediationMode::Approval,
            Some("0123456789"),
        );
        let mut status = available_status();
        status.plan = Some(crate::api::PlanStatus {
            id: "abcdefabcd".into(),
            earlier_ids: vec!["0123456789".into()],
            ..Default::default()
        });
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::AwaitingApproval);
        assert!(d.actions.is_empty());
        let c = condition(&d.status, ConditionType::PlanApproved);
        assert_eq!(c.reason, "StalePlanId");
        let plan = d.status.plan.as_ref().unwrap();
        assert!(
            c.message.starts_with(&format!(
                "spec.approval.planId 0123456789 approves an earlier plan; the current plan is {}",
                plan.id
            )),
            "{}",
            c.message
        );
        assert_eq!(condition(&d.status, ConditionType::Ready).reason, "StalePlanId");
        assert_eq!(plan.earlier_ids, ["abcdefabcd", "0123456789"], "newest first");
    }

    #[test]
    fn an_approval_id_never_issued_is_not_called_an_earlier_plan() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(endpoint_analysis());
        let spec = spec_with(
            RemediationMode::Approval,
            RemediationMode::Approval,
            Some("0123456789"),
        );
        let status = available_status();
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::AwaitingApproval);
        assert!(d.actions.is_empty());
        let c = condition(&d.status, ConditionType::PlanApproved);
        assert_eq!(c.reason, "UnknownPlanId");
        let id = &d.status.plan.as_ref().unwrap().id;
        assert!(
            c.message.starts_with(&format!(
                "spec.approval.planId 0123456789 is not a plan id this object reported; the \
                 current plan is {id}"
            )),
            "{}",
            c.message
        );
        assert!(!c.message.contains("earlier"), "{}", c.message);
        let ready = condition(&d.status, ConditionType::Ready);
        assert_eq!(ready.reason, "UnknownPlanId");
        assert!(!ready.message.contains("earlier"), "{}", ready.message);
        assert!(
            d.events
                .iter()
                .any(|e| e.reason == EventReason::PlanAwaitingApproval),
            "{:?}",
            d.events
        );

        // Reported once, it is an earlier plan from then on, whatever the plan becomes.
        let mut again = d.status.clone();
        again.plan.as_mut().unwrap().earlier_ids.push("0123456789".into());
        let d = decide(&input_with(&spec, &world, &analysis, &again), &timing());
        assert_eq!(
            condition(&d.status, ConditionType::PlanApproved).reason,
            "StalePlanId"
        );
    }

    #[test]
    fn earlier_plan_ids_are_bounded_and_never_repeat_the_current_one() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(endpoint_analysis());
        let spec = spec_with(RemediationMode::Approval, RemediationMode::Approval, None);
        let mut status = available_status();
        let current = decide(&input_with(&spec, &world, &analysis, &status), &timing())
            .status
            .plan
            .unwrap()
            .id;
        status.plan = Some(crate::api::PlanStatus {
            id: "0000000000".into(),
            earlier_ids: (1..=12)
                .map(|i| format!("{i:010}"))
                .chain([current.clone()])
                .collect(),
            ..Default::default()
        });
        let plan = decide(&input_with(&spec, &world, &analysis, &status), &timing())
            .status
            .plan
            .unwrap();
        assert_eq!(plan.id, current);
        assert_eq!(plan.earlier_ids.len(), crate::api::MAX_EARLIER_PLAN_IDS);
        assert_eq!(plan.earlier_ids[0], "0000000000");
        assert!(!plan.earlier_ids.contains(&current));
    }

    #[test]
    fn mode_off_never_touches_security_groups_and_blocks() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(endpoint_analysis());
        let spec = spec_with(RemediationMode::Off, RemediationMode::Off, None);
        let status = available_status();
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Blocked);
        assert!(d.actions.is_empty());
        let plan = d.status.plan.as_ref().unwrap();
        assert_eq!(plan.rules[0].mode, RemediationMode::Off);
        assert!(!plan.rules[0].applied);
        let [block] = plan.unfixable_blocks.as_slice() else {
            panic!("{:?}", plan.unfixable_blocks)
        };
        assert_eq!(
            (
                block.check.as_str(),
                block.count,
                block.network_interface_ids.as_slice()
            ),
            ("EndpointIngress", 1, &[ENI_ZABBIX.to_string()][..]),
            "the clients a rule of a mode Off would clear"
        );
        assert!(
            block.detail.contains("spec.remediation.endpointIngress is Off"),
            "{}",
            block.detail
        );
        let ready = condition(&d.status, ConditionType::Ready);
        assert!(ready.message.contains("by hand"), "{}", ready.message);
        assert!(ready.message.contains(ENI_ZABBIX), "{}", ready.message);
        assert!(!d.status.private_dns_enabled);
        assert_eq!(
            condition(&d.status, ConditionType::PrivateDnsEnabled).reason,
            "WaitingForClients"
        );
    }

    #[test]
    fn nacl_blocks_are_never_fixed_and_block_the_rollout() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(nacl_analysis());
        let status = available_status();
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Blocked);
        assert!(d.actions.is_empty());
        let plan = d.status.plan.as_ref().unwrap();
        let [block] = plan.unfixable_blocks.as_slice() else {
            panic!("{:?}", plan.unfixable_blocks)
        };
        assert_eq!(
            (
                block.check.as_str(),
                block.count,
                block.network_interface_ids.as_slice()
            ),
            ("ClientSubnetNacl", 1, &[ENI_ZABBIX.to_string()][..])
        );
        assert!(block.detail.contains("acl-0123"), "{}", block.detail);
        assert!(
            condition(&d.status, ConditionType::Ready)
                .message
                .contains("network ACLs")
        );
    }

    #[test]
    fn approval_comes_before_nacl_fixes_in_the_phase() {
        let world = with_endpoint(incident_world(), "available", false);
        let mut analysis = two_way_analysis();
        analysis
            .remediation
            .rules
            .retain(|r| r.clears == Check::ClientEgress);
        analysis.remediation.unfixable = nacl_analysis().remediation.unfixable;
        let analysis = Ok(analysis);
        let status = available_status();
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::AwaitingApproval);
        let ready = condition(&d.status, ConditionType::Ready);
        assert!(
            ready.message.contains("approve plan") && ready.message.contains("network ACLs"),
            "both needs are named: {}",
            ready.message
        );
    }

    #[test]
    fn a_rule_revoked_by_hand_while_private_dns_is_on_is_degraded_while_it_is_added_again() {
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(endpoint_analysis());
        let mut status = available_status();
        status.phase = RolloutPhase::Ready;
        status.private_dns_enabled = true;
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert!(matches!(d.actions.as_slice(), [Action::AuthorizeRules(_)]));
        assert_eq!(
            d.status.phase,
            RolloutPhase::Degraded,
            "cut off while it is repaired, however briefly"
        );
        let ready = condition(&d.status, ConditionType::Ready);
        assert_eq!(ready.reason, "ClientsBlocked");
        assert!(ready.message.contains(ENI_ZABBIX), "{}", ready.message);
        let degraded: Vec<_> = d
            .events
            .iter()
            .filter(|e| e.reason == EventReason::Degraded)
            .collect();
        assert_eq!(degraded.len(), 1, "{:?}", d.events);
        assert!(degraded[0].warning && degraded[0].message.contains("cut off"));
        assert!(
            d.status.private_dns_enabled,
            "private DNS is never disabled by the controller"
        );

        // While it lasts (the rule is not in place yet), Degraded again, without a new Event.
        let again = decide(&input(&world, &analysis, &d.status), &timing());
        assert_eq!(again.status.phase, RolloutPhase::Degraded);
        assert!(
            again.events.iter().all(|e| e.reason != EventReason::Degraded),
            "{:?}",
            again.events
        );
    }

    #[test]
    fn private_dns_the_spec_turned_off_is_turned_off_even_while_clients_wait_for_approval() {
        // Degraded (private DNS on, Zabbix cut off, its rule waits for approval): the user
        // reaches for spec.privateDns.enabled: false, which gives Zabbix the public name back.
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(endpoint_analysis());
        let mut spec = spec_with(RemediationMode::Approval, RemediationMode::Approval, None);
        spec.private_dns.enabled = false;
        let mut status = available_status();
        status.phase = RolloutPhase::Degraded;
        status.private_dns_enabled = true;
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        let [Action::ModifyEndpoint(m)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(m.private_dns_enabled, Some(false));
        assert_eq!(
            condition(&d.status, ConditionType::PrivateDnsEnabled).reason,
            "PrivateDnsNotRequested"
        );
        assert_eq!(d.requeue, timing().after_change);
    }

    #[test]
    fn a_new_blocked_client_after_ready_degrades_when_approval_is_needed() {
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(endpoint_analysis());
        let spec = spec_with(RemediationMode::Approval, RemediationMode::Approval, None);
        let mut status = available_status();
        status.phase = RolloutPhase::Ready;
        status.private_dns_enabled = true;
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Degraded);
        assert!(d.actions.is_empty(), "never disables private DNS by itself");
        let clients = condition(&d.status, ConditionType::ClientsReachable);
        assert!(clients.message.contains(ENI_ZABBIX), "{}", clients.message);
        let degraded: Vec<_> = d
            .events
            .iter()
            .filter(|e| e.reason == EventReason::Degraded)
            .collect();
        assert_eq!(degraded.len(), 1);
        assert!(
            degraded[0].message.contains(ENI_ZABBIX),
            "{}",
            degraded[0].message
        );

        let again = decide(&input_with(&spec, &world, &analysis, &d.status), &timing());
        assert!(again.events.is_empty(), "{:?}", again.events);
    }
}
