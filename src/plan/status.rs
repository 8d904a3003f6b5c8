//! The status as the user reads it: endpoint facts, a bounded summary of the clients, the plan,
//! and all five conditions with a reason and a message every time.
//!
//! Sizes are bounded whatever the VPC: blocked clients are grouped by security groups and
//! failing checks (largest first, at most [`MAX_STATUS_GROUPS`], with [`MAX_GROUP_EXAMPLES`]
//! ENI ids each), the plan lists at most [`MAX_STATUS_RULES`] rules, and unfixable blocks are
//! grouped into at most [`MAX_STATUS_GROUPS`] lines. A VPC with 20,000 ENIs stays far below
//! the 100 KiB the issue allows (see the test below).

use std::collections::{BTreeMap, HashMap};

use super::approval::{Access, ApprovalState, plan_id};
use super::resolution;
use super::rules::owned_rules;
use super::wording::{
    all_clients_reach, blocked_examples, clients_cannot_reach, count, mismatched_approval, of_clients,
    peer_text, with_more,
};
use super::{Decision, PlanInput, RevokeRules, Step, events};
use crate::analysis::{Analysis, Check, ExclusionReason, RuleChange};
use crate::api::conditions::{ConditionReason, ConditionType, ConditionUpdate, set_condition};
use crate::api::{
    BlockedClientGroup, ClientSummary, EndpointNetworkInterface, ExclusionGroup, HANDED_OVER_FROM_TAG,
    InterfaceEndpointSpec, InterfaceEndpointStatus, MAX_EARLIER_PLAN_IDS, MAX_GROUP_EXAMPLES,
    MAX_STATUS_GROUPS, MAX_STATUS_RULES, PlanStatus, PlannedRule, RemediationMode, RemediationSpec,
    RolloutPhase, UnfixableBlock,
};
use crate::model::{NetworkInterface, SecurityGroupRule, VpcEndpoint, tag_pairs};

/// Turns a step into the decision: status views, the conditions the step left to derive,
/// and the Events (what was observed, the step's own, one per action, where the rollout
/// stands: [`events`]).
pub(crate) fn finish(input: &PlanInput<'_>, step: Step<'_>) -> Decision {
    let previous = input.status;
    let mut next = InterfaceEndpointStatus {
        phase: step.phase,
        observed_generation: input.generation,
        conditions: previous.conditions.clone(),
        endpoint_create_time: step.endpoint_create_time.clone(),
        endpoint_recreations: step.endpoint_recreations,
        ..Default::default()
    };
    // An endpoint found without a recorded location (a status from before it was recorded)
    // is recorded where it is found.
    let location = step.location.clone().or_else(|| {
        step.endpoint
            .map(|e| super::location::EndpointLocation::of_endpoint(e, input.region))
    });
    if let Some(location) = &location {
        location.record(&mut next);
    }
    // Until an endpoint is seen, a create that went unanswered may still have made one.
    if step.endpoint.is_none() {
        next.endpoint_create_unanswered_time = step.endpoint_create_unanswered_time.clone();
    }
    if let Some(endpoint) = step.endpoint {
        endpoint_facts(&mut next, endpoint, &input.world.network_interfaces);
        next.private_dns_off_since =
            resolution::off_since(endpoint, previous, input.seen_off, input.now).map(|t| t.to_string());
        next.private_dns_on_since =
            super::canary::on_since(Some(endpoint), previous, input.now).map(|t| t.to_string());
    } else if step.keep_previous_endpoint {
        next.endpoint_id = previous.endpoint_id.clone();
        next.endpoint_state = previous.endpoint_state.clone();
        next.private_dns_enabled = previous.private_dns_enabled;
        next.private_dns_off_since = previous.private_dns_off_since.clone();
        next.private_dns_off_unseen = previous.private_dns_off_unseen;
        next.private_dns_on_since = previous.private_dns_on_since.clone();
    }
    // Said while private DNS stays as the controller put it back: cleared when the spec turns
    // private DNS off, or the endpoint is another one.
    next.private_dns_reenabled_time = step
        .private_dns_reenabled_time
        .clone()
        .filter(|_| input.spec.private_dns.enabled)
        .filter(|_| {
            step.endpoint
                .is_none_or(|e| previous.endpoint_id.as_deref() == Some(e.vpc_endpoint_id.as_str()))
        });
    next.rollback = super::rollback::kept(input, &step);
    next.deletion_policy = Some(super::deletion::policy(input.spec, input.config));
    next.spec_tag_keys = if input.deleting {
        previous.spec_tag_keys.clone()
    } else {
        super::tags::recorded_keys(input.spec, previous, step.endpoint)
    };
    let service = input
        .world
        .service_details
        .iter()
        .find(|s| s.service_name == input.spec.service_name);
    next.private_dns_name = service.and_then(|s| s.private_dns_name()).map(str::to_string);
    next.acceptance_required = service.and_then(|s| s.acceptance_required);
    next.clients = step.analysis.map(|a| client_summary(a, &input.spec.remediation));
    let plan_analysis = step.plan_analysis.or(step.analysis);
    next.plan = if input.deleting {
        plan_status(None, input)
    } else {
        plan_status(plan_analysis, input)
    };
    next.last_verified_time = if step.verified {
        Some(input.now.to_string())
    } else {
        previous.last_verified_time.clone()
    };

    let access = plan_analysis.map(|a| Access::new(a, input.spec, previous.plan.as_ref(), &input.approver));
    let conditions = [
        step.conditions
            .endpoint
            .clone()
            .unwrap_or_else(|| endpoint_condition(step.endpoint, input.spec)),
        step.conditions
            .clients
            .clone()
            .unwrap_or_else(|| clients_condition(step.analysis, step.verified, step.endpoint)),
        step.conditions
            .approval
            .clone()
            .unwrap_or_else(|| approval_condition(access.as_ref())),
        step.conditions.dns.clone().unwrap_or_else(|| {
            dns_condition(
                step.endpoint,
                input.spec,
                next.private_dns_reenabled_time.as_deref(),
            )
        }),
        step.conditions
            .ready
            .clone()
            .unwrap_or_else(|| ready_condition(step.phase, step.endpoint, step.analysis, input.spec)),
    ];
    for update in &conditions {
        set_condition(&mut next.conditions, update, input.generation, input.now);
    }

    // While deleting, only what is done to AWS is news.
    let transitions = if input.deleting {
        events::Transitions::default()
    } else {
        events::transitions(previous, &next)
    };
    let mut notes = transitions.observed;
    // A step that reports Degraded (clients lost access) already names the blocked clients.
    if step
        .events
        .iter()
        .any(|e| e.reason == super::EventReason::Degraded)
    {
        notes.retain(|e| e.reason != super::EventReason::ClientsBlocked);
    }
    notes.extend(step.events);
    let first_action_event = notes.len();
    notes.extend(
        step.actions
            .iter()
            .filter_map(|a| events::for_action(a, input.spec)),
    );
    let action_events = first_action_event..notes.len();
    notes.extend(transitions.outcome);
    Decision {
        actions: step.actions,
        status: next,
        events: notes,
        action_events,
        requeue: step.requeue,
        finalized: step.finalized,
    }
}

/// Puts the endpoint CreateVpcEndpoint returned into the status: a fact from an action's
/// result (the decision could not know the id).
pub fn record_created(status: &mut InterfaceEndpointStatus, endpoint: &VpcEndpoint) {
    status.endpoint_create_unanswered_time = None;
    // Its ENIs were not observed yet: ids only.
    endpoint_facts(status, endpoint, &[]);
}

/// Records that EC2 accepted the deletion of the object's endpoint. The next pass may find it
/// already gone (a short `deleting`): known as going, its absence is the end of the deletion,
/// not an endpoint created moments ago that EC2 does not list yet.
pub fn record_deleting(status: &mut InterfaceEndpointStatus, vpc_endpoint_id: &str) {
    if status.endpoint_id.as_deref() == Some(vpc_endpoint_id) {
        status.endpoint_state = Some("deleting".to_string());
    }
}

/// Marks the plan's rules that an AuthorizeSecurityGroupIngress/Egress call added (or found
/// already there) as applied.
pub fn record_authorized(status: &mut InterfaceEndpointStatus, request: &crate::aws::AuthorizeRules) {
    let Some(plan) = status.plan.as_mut() else {
        return;
    };
    let direction = if request.egress { "egress" } else { "ingress" };
    for planned in plan
        .rules
        .iter_mut()
        .filter(|p| p.group_id == request.group_id && p.direction == direction)
    {
        let peer = planned.peer_group_id.as_deref().or(planned.cidr.as_deref());
        let added = request.rules.iter().any(|r| {
            Some(peer_text(&r.peer)) == peer
                && i32::from(planned.from_port) == r.from_port
                && i32::from(planned.to_port) == r.to_port
        });
        if added {
            planned.applied = true;
        }
    }
}

/// Records what a ModifyVpcEndpoint call changed that the status claims: private DNS turned
/// off is no longer reported on. Also after a failure that may have turned it off anyway
/// (see [`ErrorKind::may_have_taken_effect`]): the status never claims private DNS on when it
/// may be off. When it went off is not known (a call may land long after it was sent): the
/// record TTL starts at the first look that sees it off (`privateDnsOffUnseen`).
///
/// [`ErrorKind::may_have_taken_effect`]: crate::aws::ErrorKind::may_have_taken_effect
pub fn record_modified(status: &mut InterfaceEndpointStatus, request: &crate::aws::ModifyVpcEndpoint) {
    if status.endpoint_id.as_deref() != Some(request.vpc_endpoint_id.as_str()) {
        return;
    }
    if request.private_dns_enabled == Some(false) && status.private_dns_enabled {
        status.private_dns_enabled = false;
        status.private_dns_off_unseen = true;
        status.private_dns_on_since = None;
        if let Some(name) = &status.private_dns_name {
            status.dns_entries.retain(|d| d != name);
        }
    }
}

/// Takes the rules a RevokeSecurityGroupIngress/Egress call removed (or may have removed)
/// off the plan: the status no longer lists them as in place. `observed` are the rules as
/// observed, for their shape.
pub fn record_revoked(
    status: &mut InterfaceEndpointStatus,
    observed: &[SecurityGroupRule],
    batch: &RevokeRules,
) {
    let Some(plan) = status.plan.as_mut() else {
        return;
    };
    let revoked = observed
        .iter()
        .filter(|r| batch.rule_ids.contains(&r.security_group_rule_id));
    for rule in revoked {
        let gone = owned_planned(rule, &RemediationSpec::default());
        plan.rules.retain(|p| {
            !(p.applied
                && (&p.group_id, &p.direction, &p.protocol, p.from_port, p.to_port)
                    == (
                        &gone.group_id,
                        &gone.direction,
                        &gone.protocol,
                        gone.from_port,
                        gone.to_port,
                    )
                && (&p.peer_group_id, &p.cidr) == (&gone.peer_group_id, &gone.cidr))
        });
    }
}

/// Carries the facts a pass observed (and its completed actions established) onto the status
/// a failure report built from the last written one, which may no longer hold (a rule revoked
/// or an endpoint deleted by hand since, private DNS turned off by this very pass). The phase,
/// the conditions and the create bookkeeping stay the report's.
pub fn carry_observed_facts(report: &mut InterfaceEndpointStatus, observed: &InterfaceEndpointStatus) {
    report.endpoint_id = observed.endpoint_id.clone();
    report.endpoint_state = observed.endpoint_state.clone();
    report.private_dns_enabled = observed.private_dns_enabled;
    report.private_dns_name = observed.private_dns_name.clone();
    report.acceptance_required = observed.acceptance_required;
    report.private_dns_off_since = observed.private_dns_off_since.clone();
    report.private_dns_off_unseen = observed.private_dns_off_unseen;
    report.private_dns_on_since = observed.private_dns_on_since.clone();
    report.verification = observed.verification.clone();
    // A rollback whose turn-off may have taken effect is kept: it says why private DNS is off.
    if !observed.private_dns_enabled {
        report.rollback = observed.rollback.clone();
    }
    report.dns_entries = observed.dns_entries.clone();
    report.network_interfaces = observed.network_interfaces.clone();
    report.clients = observed.clients.clone();
    report.plan = observed.plan.clone();
    report.last_verified_time = observed.last_verified_time.clone();
    report.endpoint_vpc_id = observed.endpoint_vpc_id.clone();
    report.endpoint_service_name = observed.endpoint_service_name.clone();
    report.endpoint_region = observed.endpoint_region.clone();
}

/// The endpoint's id, state, DNS and ENIs (with subnet and address when `interfaces` shows them).
fn endpoint_facts(
    status: &mut InterfaceEndpointStatus,
    endpoint: &VpcEndpoint,
    interfaces: &[NetworkInterface],
) {
    status.endpoint_id = Some(endpoint.vpc_endpoint_id.clone());
    status.endpoint_state = endpoint.state.as_ref().map(|s| s.to_ascii_lowercase());
    status.private_dns_enabled = endpoint.private_dns_enabled;
    status.dns_entries = endpoint.dns_entries.iter().map(|d| d.dns_name.clone()).collect();
    status.network_interfaces = endpoint
        .network_interface_ids
        .iter()
        .map(|id| {
            let eni = interfaces.iter().find(|n| &n.network_interface_id == id);
            EndpointNetworkInterface {
                network_interface_id: id.clone(),
                subnet_id: eni.map(|n| n.subnet_id.clone()),
                private_ip_address: eni.and_then(|n| n.private_ip_address.clone()),
            }
        })
        .collect();
}

/// The mode that governs rules clearing `check`; `None` for checks no rule clears (NACLs).
fn mode_for(check: Check, modes: &RemediationSpec) -> Option<RemediationMode> {
    match check {
        Check::EndpointIngress => Some(modes.endpoint_ingress),
        Check::ClientEgress => Some(modes.client_egress),
        Check::ClientSubnetNacl | Check::EndpointSubnetNacl => None,
    }
}

/// Counts, and the blocked clients grouped by (security groups, failing checks), largest
/// group first, bounded.
pub fn client_summary(analysis: &Analysis, modes: &RemediationSpec) -> ClientSummary {
    let total = analysis.clients.len();
    // (security groups, failing checks) → (count, examples)
    type Groups<'a> = BTreeMap<(&'a [String], Vec<Check>), (u32, Vec<&'a str>)>;
    let mut groups: Groups<'_> = BTreeMap::new();
    for client in analysis.blocked() {
        let entry = groups
            .entry((client.security_group_ids.as_slice(), client.failing_checks()))
            .or_default();
        entry.0 += 1;
        if entry.1.len() < MAX_GROUP_EXAMPLES {
            entry.1.push(&client.network_interface_id);
        }
    }
    let blocked: u32 = groups.values().map(|g| g.0).sum();
    let mut listed: Vec<BlockedClientGroup> = groups
        .into_iter()
        .map(|((sgs, checks), (count, mut examples))| {
            examples.sort();
            BlockedClientGroup {
                security_group_ids: sgs.to_vec(),
                fixable: checks
                    .iter()
                    .all(|c| mode_for(*c, modes).is_some_and(|m| m != RemediationMode::Off)),
                reasons: checks.iter().map(|c| c.as_str().to_string()).collect(),
                count,
                network_interface_ids: examples.into_iter().map(str::to_string).collect(),
            }
        })
        .collect();
    // Largest first; the map order (security groups, checks) breaks ties, so the list is stable.
    listed.sort_by_key(|g| std::cmp::Reverse(g.count));
    let omitted = listed.len().saturating_sub(MAX_STATUS_GROUPS);
    listed.truncate(MAX_STATUS_GROUPS);
    let total = total as u32;
    let reachable = total - blocked;
    let (exclusions, omitted_exclusions) = exclusion_groups(analysis);
    ClientSummary {
        total,
        reachable,
        blocked,
        excluded: analysis.excluded.len() as u32,
        ready: format!("{reachable}/{total}"),
        groups: listed,
        omitted_groups: omitted as u32,
        exclusions,
        omitted_exclusions,
        evidence: None,
    }
}

/// The ENIs that are not clients grouped by reason, largest first, at most
/// [`MAX_STATUS_GROUPS`], and how many reasons were left out. Linear in the ENIs: a reason's
/// words are written once per distinct reason, and those are few (a table row, a `spec.clients`
/// entry each).
fn exclusion_groups(analysis: &Analysis) -> (Vec<ExclusionGroup>, u32) {
    let mut groups: HashMap<&ExclusionReason, (u32, Vec<&str>)> = HashMap::new();
    for e in &analysis.excluded {
        let entry = groups.entry(&e.reason).or_default();
        entry.0 += 1;
        if entry.1.len() < MAX_GROUP_EXAMPLES {
            entry.1.push(&e.network_interface_id);
        }
    }
    let mut listed: Vec<ExclusionGroup> = groups
        .into_iter()
        .map(|(reason, (count, examples))| ExclusionGroup {
            reason: reason.code().to_string(),
            message: reason.to_string(),
            count,
            network_interface_ids: examples.into_iter().map(str::to_string).collect(),
        })
        .collect();
    // Largest first, then by reason and words, so the list is stable.
    listed.sort_by(|a, b| {
        (std::cmp::Reverse(a.count), &a.reason, &a.message).cmp(&(
            std::cmp::Reverse(b.count),
            &b.reason,
            &b.message,
        ))
    });
    let omitted = listed.len().saturating_sub(MAX_STATUS_GROUPS);
    listed.truncate(MAX_STATUS_GROUPS);
    (listed, omitted as u32)
}

/// The plan in status: the missing rules (`applied: false`), then the object's own rules
/// present in AWS (`applied: true`), bounded; `None` when there is nothing to add, nothing
/// owned and nothing unfixable to report.
pub fn plan_status(analysis: Option<&Analysis>, input: &PlanInput<'_>) -> Option<PlanStatus> {
    let spec = input.spec;
    let modes = &spec.remediation;
    let owned: Vec<&SecurityGroupRule> = owned_rules(input).collect();
    let missing: &[RuleChange] = analysis.map_or(&[], |a| a.remediation.rules.as_slice());
    let mut unfixable_blocks = analysis
        .map(|a| unfixable_blocks(a, modes, MAX_GROUP_EXAMPLES))
        .unwrap_or_default();
    if missing.is_empty() && owned.is_empty() && unfixable_blocks.is_empty() {
        return None;
    }
    let omitted_unfixable_blocks = unfixable_blocks.len().saturating_sub(MAX_STATUS_GROUPS) as u32;
    unfixable_blocks.truncate(MAX_STATUS_GROUPS);
    let id = plan_id(analysis.map(|a| &a.remediation), &owned, modes);
    let requires_approval = missing.iter().any(|r| r.mode(modes) == RemediationMode::Approval);
    // Mirrors the PlanApproved condition: nothing waits for approval. (Once approved rules are
    // in place the plan has a new id, and "approved: false" would read as a refused approval.)
    let approved = !requires_approval || spec.approval.as_ref().is_some_and(|a| a.plan_id == id);
    let mut rules: Vec<PlannedRule> = missing.iter().map(|r| planned(r, modes)).collect();
    let mut applied: Vec<PlannedRule> = owned.iter().map(|r| owned_planned(r, modes)).collect();
    applied.sort();
    rules.extend(applied);
    let omitted_rules = rules.len().saturating_sub(MAX_STATUS_RULES) as u32;
    rules.truncate(MAX_STATUS_RULES);
    // The ids reported before, so that an approval of one of them is called an earlier plan and
    // an id never reported is not.
    let mut earlier_ids: Vec<String> = Vec::new();
    if let Some(previous) = &input.status.plan {
        for earlier in std::iter::once(&previous.id).chain(&previous.earlier_ids) {
            if *earlier != id && !earlier_ids.contains(earlier) && earlier_ids.len() < MAX_EARLIER_PLAN_IDS {
                earlier_ids.push(earlier.clone());
            }
        }
    }
    Some(PlanStatus {
        id,
        earlier_ids,
        requires_approval,
        approved,
        rules,
        omitted_rules,
        unfixable_blocks,
        omitted_unfixable_blocks,
    })
}

fn planned(rule: &RuleChange, modes: &RemediationSpec) -> PlannedRule {
    let (peer_group_id, cidr) = match &rule.peer {
        crate::aws::RulePeer::Group(g) => (Some(g.clone()), None),
        other => (None, Some(peer_text(other).to_string())),
    };
    PlannedRule {
        group_id: rule.group_id.clone(),
        direction: rule.direction.as_str().to_string(),
        protocol: rule.protocol.as_aws(),
        from_port: rule.from_port,
        to_port: rule.to_port,
        peer_group_id,
        cidr,
        mode: rule.mode(modes),
        applied: false,
        handed_over_from: None,
    }
}

fn owned_planned(rule: &SecurityGroupRule, modes: &RemediationSpec) -> PlannedRule {
    let port = |p: Option<i32>, all: u16| p.and_then(|p| u16::try_from(p).ok()).unwrap_or(all);
    PlannedRule {
        group_id: rule.group_id.clone(),
        direction: if rule.is_egress { "egress" } else { "ingress" }.to_string(),
        protocol: rule.ip_protocol.as_aws(),
        from_port: port(rule.from_port, 0),
        to_port: port(rule.to_port, u16::MAX),
        peer_group_id: rule.referenced_group_info.as_ref().map(|g| g.group_id.clone()),
        cidr: rule
            .cidr_ipv4
            .clone()
            .or_else(|| rule.cidr_ipv6.clone())
            .or_else(|| rule.prefix_list_id.clone()),
        mode: if rule.is_egress {
            modes.client_egress
        } else {
            modes.endpoint_ingress
        },
        applied: true,
        handed_over_from: tag_pairs(&rule.tags)
            .find(|(k, _)| *k == HANDED_OVER_FROM_TAG)
            .map(|(_, v)| v.to_string()),
    }
}

/// The blocks the controller will not fix, grouped by check and cause, most clients first:
/// network ACL blocks by their detail, and the clients a rule of a mode set to `Off` would
/// clear. At most `examples` ENI ids each. The status and `vpce-rollout plan -o json` report
/// them in this one shape.
pub fn unfixable_blocks(
    analysis: &Analysis,
    modes: &RemediationSpec,
    examples: usize,
) -> Vec<UnfixableBlock> {
    let mut by_cause: BTreeMap<(Check, String), (u32, Vec<String>)> = BTreeMap::new();
    let mut add = |check: Check, detail: String, eni: &str| {
        let entry = by_cause.entry((check, detail)).or_default();
        entry.0 += 1;
        if entry.1.len() < examples {
            entry.1.push(eni.to_string());
        }
    };
    for u in &analysis.remediation.unfixable {
        add(u.check, u.detail.clone(), &u.network_interface_id);
    }
    for (check, field, mode) in [
        (Check::EndpointIngress, "endpointIngress", modes.endpoint_ingress),
        (Check::ClientEgress, "clientEgress", modes.client_egress),
    ] {
        let rules = analysis
            .remediation
            .rules
            .iter()
            .filter(|r| r.clears == check)
            .count();
        if mode != RemediationMode::Off || rules == 0 {
            continue;
        }
        let detail = format!(
            "spec.remediation.{field} is Off: add the {} with mode Off in status.plan.rules by hand",
            count(rules, "rule")
        );
        for client in analysis
            .blocked()
            .filter(|c| c.blocks.iter().any(|b| b.check == check))
        {
            add(check, detail.clone(), &client.network_interface_id);
        }
    }
    let mut blocks: Vec<UnfixableBlock> = by_cause
        .into_iter()
        .map(|((check, detail), (count, mut ids))| {
            ids.sort();
            UnfixableBlock {
                check: check.as_str().to_string(),
                detail,
                count,
                network_interface_ids: ids,
            }
        })
        .collect();
    // Most clients first; the map order (check, detail) breaks ties, so the list is stable.
    blocks.sort_by_key(|b| std::cmp::Reverse(b.count));
    blocks
}

fn endpoint_condition(endpoint: Option<&VpcEndpoint>, spec: &InterfaceEndpointSpec) -> ConditionUpdate {
    let t = ConditionType::EndpointAvailable;
    match endpoint {
        None => ConditionUpdate::new(
            t,
            false,
            ConditionReason::EndpointNotCreated,
            format!("No endpoint for {} in {} yet", spec.service_name, spec.vpc_id),
        ),
        Some(e) if e.is_available() => ConditionUpdate::new(
            t,
            true,
            ConditionReason::EndpointAvailable,
            format!(
                "{} is available with {} in {}",
                e.vpc_endpoint_id,
                count(e.network_interface_ids.len(), "network interface"),
                e.subnet_ids.join(", ")
            ),
        ),
        Some(e) => ConditionUpdate::new(
            t,
            false,
            ConditionReason::EndpointPending,
            format!("{} is {}", e.vpc_endpoint_id, e.state_lower()),
        ),
    }
}

fn clients_condition(
    analysis: Option<&Analysis>,
    verified: bool,
    endpoint: Option<&VpcEndpoint>,
) -> ConditionUpdate {
    let t = ConditionType::ClientsReachable;
    let Some(a) = analysis else {
        return ConditionUpdate::new(
            t,
            false,
            ConditionReason::NotVerified,
            "Not verified: the clients are checked while the endpoint is available",
        );
    };
    let total = a.clients.len();
    let blocked = a.blocked().count();
    if !verified {
        return ConditionUpdate::new(
            t,
            false,
            ConditionReason::NotVerified,
            format!(
                "Verified once the endpoint is available (preview: {} would be blocked)",
                of_clients(blocked, total)
            ),
        );
    }
    let id = endpoint.map_or("the endpoint", |e| e.vpc_endpoint_id.as_str());
    if total == 0 {
        return ConditionUpdate::new(
            t,
            true,
            ConditionReason::NoClients,
            format!(
                "No ENI in the VPC is a client ({} excluded)",
                count(a.excluded.len(), "ENI")
            ),
        );
    }
    if blocked == 0 {
        return ConditionUpdate::new(
            t,
            true,
            ConditionReason::AllClientsReachable,
            all_clients_reach(total, id, &a.ports),
        );
    }
    ConditionUpdate::new(
        t,
        false,
        ConditionReason::ClientsBlocked,
        format!(
            "{}: {}",
            clients_cannot_reach(blocked, total, id, &a.ports),
            blocked_examples(a)
        ),
    )
}

fn approval_condition(access: Option<&Access<'_>>) -> ConditionUpdate {
    let t = ConditionType::PlanApproved;
    let Some(access) = access else {
        return ConditionUpdate::new(t, false, ConditionReason::NotVerified, "No plan yet");
    };
    let rules = |n: usize| count(n, "rule");
    let listed = |rules: &[&RuleChange]| {
        let lines: Vec<String> = rules.iter().map(|r| r.canonical()).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        with_more(&refs, rules.len())
    };
    match &access.approval {
        ApprovalState::NotRequired if access.auto.is_empty() => ConditionUpdate::new(
            t,
            true,
            ConditionReason::ApprovalNotRequired,
            "No rule needs approval",
        ),
        ApprovalState::NotRequired => ConditionUpdate::new(
            t,
            true,
            ConditionReason::ApprovalNotRequired,
            format!(
                "No rule needs approval ({} to add in mode Auto)",
                rules(access.auto.len())
            ),
        ),
        ApprovalState::Approved => ConditionUpdate::new(
            t,
            true,
            ConditionReason::PlanApproved,
            format!(
                "{} approves plan {} ({})",
                access.approver.field(),
                access.plan_id,
                rules(access.needs_approval.len())
            ),
        ),
        ApprovalState::Awaiting => ConditionUpdate::new(
            t,
            false,
            ConditionReason::AwaitingApproval,
            format!(
                "Plan {} adds {} needing approval ({}); to approve, {}",
                access.plan_id,
                rules(access.needs_approval.len()),
                listed(&access.needs_approval),
                access.approver.how_to_approve(&access.plan_id)
            ),
        ),
        ApprovalState::Stale { given, reported } => ConditionUpdate::new(
            t,
            false,
            ApprovalState::mismatch_reason(*reported),
            format!(
                "{}; the current plan is {} ({}: {}); to approve it, {}",
                mismatched_approval(&access.approver, given, *reported),
                access.plan_id,
                rules(access.needs_approval.len()),
                listed(&access.needs_approval),
                access.approver.how_to_approve(&access.plan_id)
            ),
        ),
    }
}

fn dns_condition(
    endpoint: Option<&VpcEndpoint>,
    spec: &InterfaceEndpointSpec,
    reenabled: Option<&str>,
) -> ConditionUpdate {
    let t = ConditionType::PrivateDnsEnabled;
    match endpoint {
        Some(e) if e.private_dns_enabled => {
            let again = reenabled.map_or_else(String::new, |at| {
                format!(
                    ". It was turned off outside the controller and turned on again at {at}, because \
                     spec.privateDns.enabled is true; to keep it off, set spec.privateDns.enabled: false"
                )
            });
            ConditionUpdate::new(
                t,
                true,
                ConditionReason::PrivateDnsOn,
                format!(
                    "Private DNS is on: the service's name resolves to {} in the VPC{again}",
                    e.vpc_endpoint_id
                ),
            )
        }
        _ if !spec.private_dns.enabled => ConditionUpdate::new(
            t,
            false,
            ConditionReason::PrivateDnsNotRequested,
            "Private DNS stays off: spec.privateDns.enabled is false",
        ),
        _ => ConditionUpdate::new(
            t,
            false,
            ConditionReason::WaitingForClients,
            "Private DNS stays off until every client can reach the endpoint",
        ),
    }
}

fn ready_condition(
    phase: RolloutPhase,
    endpoint: Option<&VpcEndpoint>,
    analysis: Option<&Analysis>,
    spec: &InterfaceEndpointSpec,
) -> ConditionUpdate {
    let t = ConditionType::Ready;
    if phase != RolloutPhase::Ready {
        return ConditionUpdate::new(t, false, ConditionReason::InProgress, format!("Phase {phase}"));
    }
    let id = endpoint.map_or("The endpoint", |e| e.vpc_endpoint_id.as_str());
    let clients = analysis.map_or(0, |a| a.clients.len());
    let dns = if spec.private_dns.enabled {
        "private DNS on"
    } else {
        "private DNS off as the spec asks"
    };
    ConditionUpdate::new(
        t,
        true,
        ConditionReason::RolloutComplete,
        format!(
            "{id} is available, all {} can reach it, {dns}",
            count(clients, "client")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{ExcludedInterface, Remediation, Unfixable};
    use crate::plan::decide;
    use crate::plan::fixtures::*;

    #[test]
    fn blocked_clients_are_grouped_by_security_groups_and_checks_largest_first() {
        let mut a = endpoint_analysis();
        a.clients.push(verdict(
            "eni-0c1",
            &[SG_LAMBDA],
            "10.0.1.41",
            "interface",
            &[Check::ClientEgress],
        ));
        a.clients.push(verdict(
            "eni-0c2",
            &[SG_LAMBDA],
            "10.0.1.42",
            "interface",
            &[Check::ClientEgress],
        ));
        let s = client_summary(&a, &RemediationSpec::default());
        assert_eq!((s.total, s.reachable, s.blocked, s.excluded), (4, 1, 3, 1));
        assert_eq!(s.ready, "1/4");
        assert_eq!(s.groups.len(), 2);
        assert_eq!(s.groups[0].count, 2);
        assert_eq!(s.groups[0].reasons, ["ClientEgress"]);
        assert_eq!(s.groups[0].network_interface_ids, ["eni-0c1", "eni-0c2"]);
        assert_eq!(s.groups[1].network_interface_ids, [ENI_ZABBIX]);
        assert!(s.groups[1].fixable);
    }

    #[test]
    fn exclusions_are_counted_by_reason_with_a_few_examples_largest_first() {
        let mut a = endpoint_analysis();
        let rds = not_a_client(crate::analysis::Sign::ManagedDescription("RDSNetworkInterface"));
        for i in 0..7 {
            a.excluded.push(ExcludedInterface {
                network_interface_id: format!("eni-0d{i}"),
                reason: ExclusionReason::ServiceInterface(rds),
            });
        }
        a.excluded.push(ExcludedInterface {
            network_interface_id: "eni-0e1".into(),
            reason: ExclusionReason::Detached,
        });
        let s = client_summary(&a, &RemediationSpec::default());
        assert_eq!(s.excluded, 9);
        let groups: Vec<(&str, u32, usize)> = s
            .exclusions
            .iter()
            .map(|g| (g.reason.as_str(), g.count, g.network_interface_ids.len()))
            .collect();
        assert_eq!(
            groups,
            [
                ("ServiceInterface", 7, 5),
                ("Detached", 1, 1),
                ("ServiceInterface", 1, 1)
            ],
            "RDS ENIs, a detached ENI, the NAT gateway"
        );
        assert!(
            s.exclusions[0].message.starts_with("Amazon RDS ("),
            "{:?}",
            s.exclusions[0]
        );
        assert!(
            s.exclusions[2].message.starts_with("NAT gateway ("),
            "{:?}",
            s.exclusions[2]
        );
        assert_eq!(s.omitted_exclusions, 0);
    }

    #[test]
    fn the_plan_lists_missing_rules_then_the_objects_own_rules() {
        let mut world = with_endpoint(incident_world(), "available", false);
        world.security_group_rules = vec![
            owned_rule("sgr-0000000000000000a", SG_VPCE, false, SG_LAMBDA),
            // A foreign rule with only one of the tags is not ours.
            SecurityGroupRule {
                tags: crate::model::tags_from([(crate::api::OWNER_TAG, "monitoring/logs")]),
                ..owned_rule("sgr-0000000000000000b", SG_VPCE, false, SG_ZABBIX)
            },
        ];
        let analysis = Ok(endpoint_analysis());
        let status = Default::default();
        let i = input(&world, &analysis, &status);
        let plan = plan_status(analysis.as_ref().ok(), &i).unwrap();
        assert_eq!(plan.rules.len(), 2);
        assert!(!plan.rules[0].applied);
        assert_eq!(plan.rules[0].peer_group_id.as_deref(), Some(SG_ZABBIX));
        assert_eq!(plan.rules[0].mode, RemediationMode::Auto);
        assert!(plan.rules[1].applied);
        assert_eq!(plan.rules[1].peer_group_id.as_deref(), Some(SG_LAMBDA));
        assert!(!plan.requires_approval);
        assert_eq!(
            plan.id,
            endpoint_analysis()
                .remediation
                .plan_id(&RemediationSpec::default())
        );
    }

    #[test]
    fn there_is_no_plan_when_nothing_is_missing_or_owned() {
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(reachable_analysis());
        let status = Default::default();
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.status.plan, None);
    }

    #[test]
    fn every_decision_sets_all_five_conditions_with_reason_and_message() {
        let worlds = [
            incident_world(),
            with_endpoint(incident_world(), "pending", false),
            with_endpoint(incident_world(), "available", false),
            with_endpoint(incident_world(), "available", true),
            with_endpoint(incident_world(), "failed", false),
        ];
        let analyses = [
            Ok(endpoint_analysis()),
            Ok(two_way_analysis()),
            Ok(nacl_analysis()),
            Ok(reachable_analysis()),
            Err(crate::analysis::AnalysisError::VpcNotFound(VPC.into())),
        ];
        for world in &worlds {
            for analysis in &analyses {
                for deleting in [false, true] {
                    let status = Default::default();
                    let mut i = input(world, analysis, &status);
                    i.deleting = deleting;
                    let d = decide(&i, &timing());
                    let types: Vec<&str> = d.status.conditions.iter().map(|c| c.type_.as_str()).collect();
                    assert_eq!(
                        types,
                        ConditionType::ROLLOUT.map(|t| t.as_str()),
                        "{:?}",
                        d.status.phase
                    );
                    for c in &d.status.conditions {
                        assert!(!c.reason.is_empty() && !c.message.is_empty(), "{c:?}");
                        assert_eq!(c.observed_generation, Some(1));
                    }
                    assert_eq!(d.status.observed_generation, Some(1));
                }
            }
        }
    }

    /// 20,000 client ENIs (and 5,000 that are not clients, for more reasons than the status
    /// lists): 400 security groups of 50 ENIs each, half blocked (hundreds of groups),
    /// each needing its own rule, some also blocked by a NACL.
    fn huge_analysis() -> Analysis {
        let mut clients = Vec::new();
        let mut rules = Vec::new();
        let mut unfixable = Vec::new();
        for g in 0..400u32 {
            let sg = format!("sg-{g:017x}");
            let blocked = g % 2 == 0;
            for i in 0..50u32 {
                let n = g * 50 + i;
                let id = format!("eni-{n:017x}");
                let ip = format!("10.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255);
                let mut checks = vec![];
                if blocked {
                    checks.push(Check::EndpointIngress);
                    if g % 10 == 0 {
                        checks.push(Check::ClientSubnetNacl);
                        unfixable.push(Unfixable {
                            network_interface_id: id.clone(),
                            check: Check::ClientSubnetNacl,
                            detail: format!("acl-{:017x} rule 100 denies tcp/443 to 10.0.1.100", g),
                        });
                    }
                }
                clients.push(verdict(&id, &[sg.as_str()], &ip, "interface", &checks));
            }
            if blocked {
                rules.push(RuleChange::https(SG_VPCE, &sg, Check::EndpointIngress));
            }
        }
        // And 5,000 ENIs that are not clients, for 34 reasons: every row of the table, detached
        // ENIs, and a spec excluding 12 security groups.
        let mut reasons: Vec<ExclusionReason> = crate::analysis::NOT_CLIENTS
            .iter()
            .map(ExclusionReason::ServiceInterface)
            .collect();
        reasons.push(ExclusionReason::Detached);
        reasons.extend((0..12).map(|g| ExclusionReason::ExcludedSecurityGroup(format!("sg-{g:017x}"))));
        let excluded = (0..5_000u32)
            .map(|n| ExcludedInterface {
                network_interface_id: format!("eni-1{n:016x}"),
                reason: reasons[n as usize % reasons.len()].clone(),
            })
            .collect();
        Analysis {
            clients,
            excluded,
            remediation: Remediation { rules, unfixable },
            ..endpoint_analysis()
        }
    }

    #[test]
    fn the_status_for_a_vpc_with_20000_enis_serialises_well_under_100_kib() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(huge_analysis());
        let status = Default::default();
        let spec = crate::api::InterfaceEndpointSpec {
            remediation: RemediationSpec {
                endpoint_ingress: RemediationMode::Approval,
                client_egress: RemediationMode::Approval,
            },
            ..spec()
        };
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        let json = serde_json::to_string(&d.status).unwrap();
        let yaml = serde_yaml::to_string(&d.status).unwrap();
        println!(
            "status for 20,000 ENIs: {} bytes JSON, {} bytes YAML",
            json.len(),
            yaml.len()
        );
        assert!(json.len() < 32 * 1024, "status JSON is {} bytes", json.len());
        assert!(yaml.len() < 48 * 1024, "status YAML is {} bytes", yaml.len());
        let clients = d.status.clients.as_ref().unwrap();
        assert_eq!((clients.total, clients.blocked), (20_000, 10_000));
        assert_eq!(clients.groups.len(), MAX_STATUS_GROUPS);
        assert_eq!(clients.omitted_groups, 200 - MAX_STATUS_GROUPS as u32);
        assert_eq!(clients.excluded, 5_000);
        assert_eq!(clients.exclusions.len(), MAX_STATUS_GROUPS);
        assert!(clients.omitted_exclusions > 0);
        assert!(
            clients
                .exclusions
                .iter()
                .all(|g| g.network_interface_ids.len() <= MAX_GROUP_EXAMPLES)
        );
        assert!(
            clients
                .groups
                .iter()
                .all(|g| g.network_interface_ids.len() <= MAX_GROUP_EXAMPLES)
        );
        let plan = d.status.plan.as_ref().unwrap();
        assert_eq!(plan.rules.len(), MAX_STATUS_RULES);
        assert_eq!(plan.omitted_rules, 200 - MAX_STATUS_RULES as u32);
        assert_eq!(plan.unfixable_blocks.len(), MAX_STATUS_GROUPS);
        assert_eq!(
            plan.omitted_unfixable_blocks as usize,
            40 - MAX_STATUS_GROUPS,
            "one cause per NACL, 40 NACLs"
        );
        assert!(
            plan.unfixable_blocks
                .iter()
                .all(|b| b.network_interface_ids.len() <= MAX_GROUP_EXAMPLES)
        );
        for c in &d.status.conditions {
            assert!(c.message.len() < 2048, "{}: {} bytes", c.type_, c.message.len());
        }
        for e in &d.events {
            assert!(
                e.message.len() < 1024,
                "{:?}: {} bytes",
                e.reason,
                e.message.len()
            );
        }
    }
}
