//! The clients' access to an available endpoint, and what `spec.remediation` allows about it:
//! add the missing rules (`Auto`, or `Approval` once approved), wait for approval, or wait for
//! someone else (`Off`, network ACLs). When every client can reach the endpoint (or private DNS
//! is forced), [`super::dns`] decides the rest.

use std::collections::BTreeMap;

use super::{Action, EventNote, EventReason, PlanInput, Step, Timing, dns, not_ready, status};
use crate::analysis::{Analysis, Direction, RuleChange};
use crate::api::conditions::ConditionReason;
use crate::api::{InterfaceEndpointSpec, Owner, RemediationMode, RolloutPhase};
use crate::aws::{AuthorizeRules, NewRule, RulePeer};
use crate::model::{VpcEndpoint, tags_from};

/// Where approval of the plan stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalState {
    /// No missing rule has mode `Approval`.
    NotRequired,
    /// `spec.approval.planId` equals the plan id.
    Approved,
    /// No `spec.approval`.
    Awaiting,
    /// `spec.approval.planId` names another (earlier) plan.
    Stale { given: String },
}

/// An analysis seen through `spec.remediation` and `spec.approval`.
#[derive(Clone, Debug)]
pub struct Access<'a> {
    pub analysis: &'a Analysis,
    pub plan_id: String,
    pub approval: ApprovalState,
    pub blocked: usize,
    /// Missing rules by mode.
    pub auto: Vec<&'a RuleChange>,
    pub needs_approval: Vec<&'a RuleChange>,
    pub off: Vec<&'a RuleChange>,
}

impl<'a> Access<'a> {
    pub fn new(analysis: &'a Analysis, spec: &InterfaceEndpointSpec) -> Self {
        let modes = &spec.remediation;
        let by_mode = |mode| {
            analysis
                .remediation
                .rules
                .iter()
                .filter(move |r| r.mode(modes) == mode)
                .collect::<Vec<_>>()
        };
        let needs_approval = by_mode(RemediationMode::Approval);
        let plan_id = analysis.remediation.plan_id(modes);
        let approval = match (&spec.approval, needs_approval.is_empty()) {
            (_, true) => ApprovalState::NotRequired,
            (Some(a), false) if a.plan_id == plan_id => ApprovalState::Approved,
            (Some(a), false) => ApprovalState::Stale {
                given: a.plan_id.clone(),
            },
            (None, false) => ApprovalState::Awaiting,
        };
        Self {
            analysis,
            plan_id,
            approval,
            blocked: analysis.blocked().count(),
            auto: by_mode(RemediationMode::Auto),
            needs_approval,
            off: by_mode(RemediationMode::Off),
        }
    }

    /// The rules the controller may add now: `Auto` ones, and `Approval` ones once approved.
    pub fn rules_now(&self) -> Vec<&'a RuleChange> {
        let mut rules = self.auto.clone();
        if self.approval == ApprovalState::Approved {
            rules.extend(&self.needs_approval);
        }
        rules
    }

    /// Whether adding [`Access::rules_now`] leaves every client reachable.
    pub fn fixed_by_rules_now(&self) -> bool {
        self.off.is_empty()
            && self.analysis.remediation.unfixable.is_empty()
            && matches!(
                self.approval,
                ApprovalState::NotRequired | ApprovalState::Approved
            )
    }

    /// Whether an approval is what stands between the clients and the endpoint.
    pub fn awaits_approval(&self) -> bool {
        matches!(
            self.approval,
            ApprovalState::Awaiting | ApprovalState::Stale { .. }
        )
    }
}

/// The access step for an available endpoint whose shape matches the spec.
pub(crate) fn decide<'a>(
    input: &PlanInput<'a>,
    endpoint: &'a VpcEndpoint,
    analysis: &'a Analysis,
    timing: &Timing,
) -> Step<'a> {
    let access = Access::new(analysis, input.spec);
    if access.blocked == 0 || dns::forced(input.spec) {
        return dns::decide(input, endpoint, analysis, &access, timing);
    }

    // Private DNS on: blocked clients resolve the service to the endpoint and are cut off
    // *now*, so anything short of fixing it at once is Degraded.
    let serving = endpoint.private_dns_enabled;
    let rules_now = access.rules_now();
    let mut step = if !rules_now.is_empty() {
        let mut step = Step::new(input, RolloutPhase::Remediating, timing.after_change);
        step.actions.push(authorize(&rules_now, input.spec, input.owner));
        let message = format!(
            "Adding {} to reach {}; {}",
            count(rules_now.len(), "rule"),
            endpoint.vpc_endpoint_id,
            blocked_sentence(&access)
        );
        step.conditions.ready = Some(not_ready(ConditionReason::InProgress, message));
        step
    } else if serving {
        let mut step = Step::new(input, RolloutPhase::Degraded, timing.waiting);
        let next = if dns::unwanted(input, endpoint) {
            dns::turn_off(&mut step, endpoint, timing);
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
            ApprovalState::Stale { .. } => ConditionReason::StalePlanId,
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
    if serving && matches!(input.status.phase, RolloutPhase::Ready) && step.phase != RolloutPhase::Degraded {
        // Re-remediating after Ready: say that clients lost access (the Degraded phase
        // transition would say it otherwise).
        step.events.push(EventNote {
            reason: EventReason::Degraded,
            warning: true,
            message: format!(
                "Private DNS is on and {}; re-adding what spec.remediation allows",
                blocked_sentence(&access)
            ),
        });
    }
    step.endpoint = Some(endpoint);
    step.analysis = Some(analysis);
    step.verified = true;
    step
}

/// One AuthorizeSecurityGroupIngress/Egress request per group and direction, every rule
/// described and tagged as the object's own (the tags are what deletion looks for).
pub fn authorize(rules: &[&RuleChange], spec: &InterfaceEndpointSpec, owner: &Owner) -> Action {
    let mut batches: BTreeMap<(&str, bool), Vec<NewRule>> = BTreeMap::new();
    for rule in rules {
        let egress = rule.direction == Direction::Egress;
        batches
            .entry((rule.group_id.as_str(), egress))
            .or_default()
            .push(NewRule {
                protocol: rule.protocol,
                from_port: i32::from(rule.from_port),
                to_port: i32::from(rule.to_port),
                peer: rule.peer.clone(),
                description: description(rule, spec, owner),
            });
    }
    Action::AuthorizeRules(
        batches
            .into_iter()
            .map(|((group_id, egress), rules)| AuthorizeRules {
                group_id: group_id.to_string(),
                egress,
                rules,
                tags: tags_from(owner.tags()),
            })
            .collect(),
    )
}

/// Who added the rule and why, in the characters EC2 accepts in descriptions, at most 255.
fn description(rule: &RuleChange, spec: &InterfaceEndpointSpec, owner: &Owner) -> String {
    let peer = peer_text(&rule.peer);
    let service = spec.service_name.as_str();
    let text = match rule.direction {
        Direction::Ingress => format!(
            "vpce-rollout {}: clients in {peer} to the {service} endpoint, tcp {}",
            owner.owner_tag(),
            rule.from_port
        ),
        Direction::Egress => format!(
            "vpce-rollout {}: to the {service} endpoint ({peer}), tcp {}",
            owner.owner_tag(),
            rule.from_port
        ),
    };
    text.chars().take(255).collect()
}

pub(crate) fn peer_text(peer: &RulePeer) -> &str {
    match peer {
        RulePeer::Group(g) => g,
        RulePeer::CidrIpv4(c) | RulePeer::CidrIpv6(c) => c,
        RulePeer::PrefixList(p) => p,
    }
}

/// `3 rules`, `1 rule`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// "1 of 2 clients cannot reach the endpoint on tcp/443 (eni-0b… sg-0b…: EndpointIngress)".
pub(crate) fn blocked_sentence(access: &Access<'_>) -> String {
    format!(
        "{} of {} cannot reach the endpoint on tcp/443 ({})",
        access.blocked,
        count(access.analysis.clients.len(), "client"),
        status::blocked_examples(access.analysis)
    )
}

/// What must happen for the blocked clients, in the order the user should do it.
pub(crate) fn what_is_needed(access: &Access<'_>) -> String {
    let mut needs = Vec::new();
    match &access.approval {
        ApprovalState::Awaiting => needs.push(format!(
            "approve plan {} ({}) with spec.approval.planId: {}",
            access.plan_id,
            count(access.needs_approval.len(), "rule"),
            access.plan_id
        )),
        ApprovalState::Stale { given } => needs.push(format!(
            "spec.approval.planId {given} approves an earlier plan; the current plan is {} ({})",
            access.plan_id,
            count(access.needs_approval.len(), "rule")
        )),
        ApprovalState::NotRequired | ApprovalState::Approved => {}
    }
    if !access.off.is_empty() {
        needs.push(format!(
            "add {} by hand (spec.remediation is Off for them, see status.plan.rules)",
            count(access.off.len(), "rule")
        ));
    }
    let unfixable = &access.analysis.remediation.unfixable;
    if !unfixable.is_empty() {
        needs.push(format!(
            "fix the network ACLs ({}, see status.plan.unfixable); the controller never changes NACLs",
            count(unfixable.len(), "block")
        ));
    }
    if needs.is_empty() {
        "waiting for the added rules to take effect".to_string()
    } else {
        needs.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Check;
    use crate::api::conditions::ConditionType;
    use crate::api::{Approval, RemediationSpec};
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
    fn rule_descriptions_use_only_characters_ec2_accepts() {
        let r = RuleChange::https(SG_VPCE, SG_ZABBIX, Check::EndpointIngress);
        let text = description(&r, &spec(), &owner());
        let allowed = |c: char| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c);
        assert!(text.chars().all(allowed), "{text}");
        assert!(text.len() <= 255);
    }

    #[test]
    fn one_request_per_group_and_direction() {
        let rules = [
            RuleChange::https(SG_VPCE, SG_ZABBIX, Check::EndpointIngress),
            RuleChange::https(SG_VPCE, SG_LAMBDA, Check::EndpointIngress),
            RuleChange::https(SG_ZABBIX, SG_VPCE, Check::ClientEgress),
        ];
        let refs: Vec<&RuleChange> = rules.iter().collect();
        let Action::AuthorizeRules(batches) = authorize(&refs, &spec(), &owner()) else {
            unreachable!()
        };
        let keys: Vec<_> = batches
            .iter()
            .map(|b| (b.group_id.as_str(), b.egress, b.rules.len()))
            .collect();
        assert_eq!(
            keys,
            [(SG_ZABBIX, true, 1), (SG_VPCE, false, 2)],
            "sorted by group"
        );
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
    fn a_stale_approval_is_reported_with_both_ids() {
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
        assert_eq!(c.reason, "StalePlanId");
        let id = &d.status.plan.as_ref().unwrap().id;
        assert!(
            c.message.contains("0123456789") && c.message.contains(id.as_str()),
            "{}",
            c.message
        );
        assert_eq!(condition(&d.status, ConditionType::Ready).reason, "StalePlanId");
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
        assert!(
            plan.unfixable[0].contains("ClientSubnetNacl"),
            "{:?}",
            plan.unfixable
        );
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
    fn a_rule_removed_after_ready_is_added_again_in_auto_mode() {
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(endpoint_analysis());
        let mut status = available_status();
        status.phase = RolloutPhase::Ready;
        status.private_dns_enabled = true;
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Remediating);
        assert!(matches!(d.actions.as_slice(), [Action::AuthorizeRules(_)]));
        assert!(
            d.events
                .iter()
                .any(|e| e.reason == EventReason::Degraded && e.warning)
        );
        assert!(
            d.status.private_dns_enabled,
            "private DNS is never disabled by the controller"
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
