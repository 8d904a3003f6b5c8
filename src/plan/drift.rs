//! The endpoint's shape (subnets, security groups, policy) differs from the spec, or the object
//! owns rules for ports `spec.ports` no longer names (a ports edit).
//!
//! While private DNS is off, and has been for the record TTL ([`super::resolution`]), nobody
//! resolves the service to the endpoint, so a change cuts nobody off and is applied at once;
//! until the TTL has passed it waits. Once private DNS is on, a change of subnets or security
//! groups, or the revocation of rules, changes who can reach the endpoint: the world as it would
//! be after the change ([`world_as_specified`], pure) is analysed first, and the change is
//! applied only if no client would be blocked, after adding the rules the modes allow;
//! otherwise it is held, with the reason, until the plan is approved or the path is opened by
//! someone else. So a rule of `8080-8082` left by a ports edit to `[8080, 8081]` is revoked only
//! once a rule for `8080-8081` is in place, and ports added by an edit are the access stage's
//! like any missing path.

use std::collections::BTreeSet;

use serde_json::Value;

use super::access;
use super::approval::{Access, ApprovalState};
use super::resolution::{self, Resolution};
use super::rules::{self, authorize};
use super::wording::{blocked_sentence, count, what_is_needed};
use super::{
    Action, EventNote, EventReason, HandOver, PlanInput, RevokeRules, Step, Timing, dns, location, not_ready,
    sharing, validate,
};
use crate::analysis::{self, Analysis, Ports};
use crate::api::conditions::ConditionReason;
use crate::api::{DnsRecordIpType, InterfaceEndpointSpec, IpAddressType, RolloutPhase};
use crate::aws::ModifyVpcEndpoint;
use crate::model::{SecurityGroupIdentifier, SecurityGroupRule, Snapshot, VpcEndpoint};

/// How the endpoint, and the object's rules, must change to match the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecChange {
    pub modify: ModifyVpcEndpoint,
    /// The object's rules for ports `spec.ports` no longer names ([`spec_change_in`]).
    pub revoke: Vec<RevokeRules>,
    /// Those of them another object's endpoint needs: handed over to it, not revoked.
    pub hand_over: Vec<HandOver>,
    /// `subnets +subnet-a -subnet-b; security groups +sg-c; policy`, for messages.
    pub summary: String,
}

impl SpecChange {
    /// No change yet to `endpoint`, for the parts found later to add to.
    fn nothing_for(endpoint: &VpcEndpoint) -> Self {
        SpecChange {
            modify: ModifyVpcEndpoint {
                vpc_endpoint_id: endpoint.vpc_endpoint_id.clone(),
                ..Default::default()
            },
            revoke: Vec::new(),
            hand_over: Vec::new(),
            summary: String::new(),
        }
    }

    /// Whether the change can change who reaches the endpoint (subnets, security groups, rules
    /// revoked; the policy decides what API calls may do, not whether packets arrive).
    pub fn changes_reachability(&self) -> bool {
        let m = &self.modify;
        !(m.add_subnet_ids.is_empty()
            && m.remove_subnet_ids.is_empty()
            && m.add_security_group_ids.is_empty()
            && m.remove_security_group_ids.is_empty()
            && m.ip_address_type.is_none()
            && m.dns_record_ip_type.is_none()
            && m.private_dns_only_for_inbound_resolver_endpoint.is_none()
            && m.subnet_configurations.is_empty()
            && self.revoke.is_empty())
    }

    /// Whether the endpoint itself changes (ModifyVpcEndpoint).
    pub fn modifies_endpoint(&self) -> bool {
        let m = &self.modify;
        !(m.add_subnet_ids.is_empty()
            && m.remove_subnet_ids.is_empty()
            && m.add_security_group_ids.is_empty()
            && m.remove_security_group_ids.is_empty()
            && m.policy_document.is_none()
            && !m.reset_policy
            && m.ip_address_type.is_none()
            && m.dns_record_ip_type.is_none()
            && m.private_dns_only_for_inbound_resolver_endpoint.is_none()
            && m.subnet_configurations.is_empty())
    }

    /// The calls that apply the change, in order: the hand-overs, the endpoint, then the
    /// revocations.
    fn actions(&self) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.hand_over.is_empty() {
            actions.push(Action::HandOverRules(self.hand_over.clone()));
        }
        if self.modifies_endpoint() {
            actions.push(Action::ModifyEndpoint(self.modify.clone()));
        }
        if !self.revoke.is_empty() {
            actions.push(Action::RevokeRules(self.revoke.clone()));
        }
        actions
    }
}

/// [`spec_change`], and the object's rules for ports `spec.ports` no longer names
/// ([`rules::stale_port_rules`]) to revoke. Such a rule may be what another object's endpoint
/// reaches its clients through (a rule handed over to this object when a third was deleted,
/// while this object's endpoint had that endpoint's security group): that one is handed over
/// to the other object ([`sharing`]), as a deletion would, and only the others are revoked.
pub fn spec_change_in(input: &PlanInput<'_>, endpoint: &VpcEndpoint) -> Option<SpecChange> {
    let change = with_new_addresses(
        spec_change(input.spec, endpoint),
        readdressed(input.spec, endpoint, input.world),
        endpoint,
    );
    let stale = rules::stale_port_rules(input);
    if stale.is_empty() {
        return change;
    }
    let mut change = change.unwrap_or_else(|| SpecChange::nothing_for(endpoint));
    let heirs = sharing::needed_elsewhere(input.world, input.owner, stale.clone());
    let handed: BTreeSet<&str> = heirs
        .iter()
        .flat_map(|s| s.rule_ids.iter().map(String::as_str))
        .collect();
    let revoked: Vec<&SecurityGroupRule> = stale
        .iter()
        .copied()
        .filter(|r| !handed.contains(r.security_group_rule_id.as_str()))
        .collect();
    let gone = rules::ports_no_longer_named(&stale, &Ports::of(input.spec));
    let mut parts = Vec::new();
    if !heirs.is_empty() {
        let to: Vec<String> = heirs.iter().map(|s| s.owner.owner_tag()).collect();
        parts.push(format!(
            "hand {} for {} over to {}, whose endpoint needs them",
            count(handed.len(), "rule"),
            gone.tcp(),
            to.join(", ")
        ));
    }
    if !revoked.is_empty() {
        parts.push(format!(
            "revoke {} for {}, no longer in spec.ports",
            count(revoked.len(), "rule"),
            rules::ports_no_longer_named(&revoked, &Ports::of(input.spec)).tcp()
        ));
    }
    let part = parts.join("; ");
    change.summary = if change.summary.is_empty() {
        part
    } else {
        format!("{}; {part}", change.summary)
    };
    change.hand_over = heirs
        .iter()
        .map(|s| HandOver {
            to: s.owner.owner_tag(),
            endpoint_id: s.endpoint_id.clone(),
            rule_ids: s.rule_ids.clone(),
            tags: s.tags(input.owner),
        })
        .collect();
    change.revoke = rules::revoke(&revoked);
    Some(change)
}

/// The subnet configurations of subnets the endpoint keeps whose interface, as the world shows
/// it, does not have the addresses they name. EC2 applies each by replacing that subnet's
/// interface, which interrupts the endpoint in the subnet. A subnet whose interface the world
/// does not show is left until it does.
pub fn readdressed(
    spec: &InterfaceEndpointSpec,
    endpoint: &VpcEndpoint,
    world: &Snapshot,
) -> Vec<crate::api::SubnetConfiguration> {
    let same = |have: &str, want: &str| matches!((have.parse::<std::net::IpAddr>(), want.parse::<std::net::IpAddr>()), (Ok(h), Ok(w)) if h == w);
    spec.subnet_configurations
        .iter()
        .filter(|c| endpoint.subnet_ids.contains(&c.subnet_id) && spec.subnet_ids.contains(&c.subnet_id))
        .filter(|c| {
            let Some(eni) = world.network_interfaces.iter().find(|n| {
                n.subnet_id == c.subnet_id && endpoint.network_interface_ids.contains(&n.network_interface_id)
            }) else {
                return false;
            };
            let v4_differs = c.ipv4.as_deref().is_some_and(|want| {
                !eni.private_ip_address
                    .as_deref()
                    .is_some_and(|have| same(have, want))
            });
            let v6_differs = c
                .ipv6
                .as_deref()
                .is_some_and(|want| !eni.ipv6_addresses.iter().any(|a| same(&a.ipv6_address, want)));
            v4_differs || v6_differs
        })
        .cloned()
        .collect()
}

/// `change` with the interfaces of `readdressed` subnets replaced (ModifyVpcEndpoint
/// SubnetConfigurations), said in the summary as the interruption it is.
fn with_new_addresses(
    change: Option<SpecChange>,
    readdressed: Vec<crate::api::SubnetConfiguration>,
    endpoint: &VpcEndpoint,
) -> Option<SpecChange> {
    if readdressed.is_empty() {
        return change;
    }
    let mut change = change.unwrap_or_else(|| SpecChange::nothing_for(endpoint));
    let part = super::wording::interfaces_replaced(&readdressed);
    change.summary = if change.summary.is_empty() {
        part
    } else {
        format!("{}; {part}", change.summary)
    };
    change.modify.subnet_configurations.extend(readdressed);
    change.modify.subnet_configurations.sort();
    Some(change)
}

/// The change that makes `endpoint` match `spec`, if any (private DNS aside: [`super::dns`]).
pub fn spec_change(spec: &InterfaceEndpointSpec, endpoint: &VpcEndpoint) -> Option<SpecChange> {
    let groups: Vec<String> = endpoint.groups.iter().map(|g| g.group_id.clone()).collect();
    let (add_subnet_ids, remove_subnet_ids) = difference(&spec.subnet_ids, &endpoint.subnet_ids);
    let (add_security_group_ids, remove_security_group_ids) = difference(&spec.security_group_ids, &groups);
    // Added subnets' interfaces get the addresses the spec fixes for them, as at creation.
    let subnet_configurations = spec
        .subnet_configurations
        .iter()
        .filter(|c| add_subnet_ids.contains(&c.subnet_id))
        .cloned()
        .collect();
    let mut modify = ModifyVpcEndpoint {
        subnet_configurations,
        vpc_endpoint_id: endpoint.vpc_endpoint_id.clone(),
        add_subnet_ids,
        remove_subnet_ids,
        add_security_group_ids,
        remove_security_group_ids,
        ..Default::default()
    };
    let observed = endpoint.policy_document.as_deref();
    match spec.policy.as_deref() {
        // EC2 returns the document reformatted: compare as JSON, not as text.
        Some(wanted) if json(Some(wanted)) != json(observed) => {
            modify.policy_document = Some(wanted.to_string());
        }
        None if observed.is_some_and(|p| !is_full_access_policy(p)) => modify.reset_policy = true,
        _ => {}
    }
    // Compared only when the spec names them: absent, EC2's choice (or someone else's edit)
    // stands. EC2 modifies both in place (ModifyVpcEndpoint IpAddressType, DnsOptions).
    let observed_addresses = endpoint.ip_address_type.as_deref();
    if let Some(wanted) = spec.ip_address_type
        && observed_addresses != Some(wanted.as_str())
    {
        modify.ip_address_type = Some(wanted);
    }
    let observed_records = endpoint
        .dns_options
        .as_ref()
        .and_then(|d| d.dns_record_ip_type.as_deref());
    if let Some(wanted) = spec.dns_options.as_ref().and_then(|d| d.dns_record_ip_type)
        && observed_records != Some(wanted.as_str())
    {
        modify.dns_record_ip_type = Some(wanted);
    }
    // A new address type the endpoint's records do not fit, with no records in the spec: the
    // records of that address type are asked for with it, so the request is one EC2 accepts
    // rather than one whose outcome rests on EC2 adjusting the records by itself.
    if let Some(addresses) = modify.ip_address_type
        && modify.dns_record_ip_type.is_none()
        && let Some(records) = observed_records.and_then(DnsRecordIpType::parse)
        && !records.allowed_with().contains(&addresses)
    {
        modify.dns_record_ip_type = Some(match addresses {
            IpAddressType::Ipv6 => DnsRecordIpType::Ipv6,
            IpAddressType::Ipv4 | IpAddressType::Dualstack => DnsRecordIpType::Ipv4,
        });
    }
    // Compared once private DNS is on (EC2 takes it only then; the request that turns private
    // DNS on sets it), and only when the spec names it. Either way it moves clients: true stops
    // redirecting the VPC's clients, false starts.
    let observed_inbound_only = endpoint
        .dns_options
        .as_ref()
        .and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint)
        .unwrap_or(false);
    if endpoint.private_dns_enabled
        && let Some(wanted) = spec
            .dns_options
            .as_ref()
            .and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint)
        && wanted != observed_inbound_only
    {
        modify.private_dns_only_for_inbound_resolver_endpoint = Some(wanted);
    }
    let mut parts = Vec::new();
    let list = |add: &[String], remove: &[String]| {
        add.iter()
            .map(|a| format!("+{a}"))
            .chain(remove.iter().map(|r| format!("-{r}")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !(modify.add_subnet_ids.is_empty() && modify.remove_subnet_ids.is_empty()) {
        parts.push(format!(
            "subnets {}",
            list(&modify.add_subnet_ids, &modify.remove_subnet_ids)
        ));
    }
    if !(modify.add_security_group_ids.is_empty() && modify.remove_security_group_ids.is_empty()) {
        parts.push(format!(
            "security groups {}",
            list(&modify.add_security_group_ids, &modify.remove_security_group_ids)
        ));
    }
    if modify.policy_document.is_some() {
        parts.push("policy".to_string());
    }
    if let Some(t) = modify.ip_address_type {
        parts.push(format!("IP address type {}", t.as_str()));
    }
    if let Some(r) = modify.dns_record_ip_type {
        parts.push(format!("DNS records {}", r.as_str()));
    }
    if let Some(on) = modify.private_dns_only_for_inbound_resolver_endpoint {
        parts.push(format!("private DNS only for Resolver inbound endpoints {on}"));
    }
    if modify.reset_policy {
        parts.push("policy reset to full access".to_string());
    }
    (!parts.is_empty()).then(|| SpecChange {
        modify,
        revoke: Vec::new(),
        hand_over: Vec::new(),
        summary: parts.join("; "),
    })
}

/// `(wanted - have, have - wanted)`, each in the order of its list.
fn difference(wanted: &[String], have: &[String]) -> (Vec<String>, Vec<String>) {
    let w: BTreeSet<&String> = wanted.iter().collect();
    let h: BTreeSet<&String> = have.iter().collect();
    let mut add: Vec<String> = wanted.iter().filter(|x| !h.contains(x)).cloned().collect();
    let mut remove: Vec<String> = have.iter().filter(|x| !w.contains(x)).cloned().collect();
    add.dedup();
    remove.dedup();
    (add, remove)
}

fn json(text: Option<&str>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

/// Whether `document` is the default endpoint policy: one statement allowing every action on
/// every resource to every principal, without conditions.
pub fn is_full_access_policy(document: &str) -> bool {
    let Some(doc) = json(Some(document)) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(s)) => s.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return false,
    };
    let star = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s == "*",
        Some(Value::Array(a)) => a.len() == 1 && a[0] == "*",
        _ => false,
    };
    let [statement] = statements.as_slice() else {
        return false;
    };
    let principal = match statement.get("Principal") {
        Some(Value::Object(p)) => p.len() == 1 && star(p.get("AWS")),
        other => star(other),
    };
    statement.get("Effect").and_then(Value::as_str) == Some("Allow")
        && star(statement.get("Action"))
        && star(statement.get("Resource"))
        && principal
        && statement.get("Condition").is_none()
        && statement.get("NotAction").is_none()
}

/// The observed world as it would be once the object's endpoint has the spec's subnets and
/// security groups and the object's rules for ports the spec no longer names are revoked, for
/// [`PlanInput::analysis_as_specified`]. Pure.
///
/// `None` whenever [`decide`] would not read its analysis, so that the caller analyses a second
/// world only for a change that could cut clients off: when the endpoint already has them (or
/// only its policy differs), when there is no available endpoint, while private DNS is off
/// (nobody resolves the service to the endpoint, so the change is applied at once), and while
/// the object is being deleted.
///
/// Security groups are swapped in place. Subnets removed take their endpoint ENIs with them.
/// Subnets added have no ENI address yet, so the endpoint is then left out altogether and
/// the analysis checks the spec's subnets' whole CIDRs and security groups, as before the
/// endpoint existed: stricter than needed, never looser.
pub fn world_as_specified(input: &PlanInput<'_>) -> Option<Snapshot> {
    let (spec, world) = (input.spec, input.world);
    if input.deleting {
        return None;
    }
    // The endpoint the analysis takes for the object's (available first, lowest id).
    let current = location::owned_endpoints(world, input.owner)
        .filter(|e| e.vpc_id == spec.vpc_id && e.service_name == spec.service_name && e.is_available())
        .min_by_key(|e| e.vpc_endpoint_id.as_str())?;
    if !current.private_dns_enabled {
        return None;
    }
    let change = spec_change_in(input, current)?;
    if !change.changes_reachability() {
        return None;
    }
    let id = current.vpc_endpoint_id.clone();
    // The rules it revokes; those it hands over stay.
    let revoked: BTreeSet<&str> = change
        .revoke
        .iter()
        .flat_map(|b| b.rule_ids.iter().map(String::as_str))
        .collect();
    let stale: Vec<&SecurityGroupRule> = rules::stale_port_rules(input)
        .into_iter()
        .filter(|r| revoked.contains(r.security_group_rule_id.as_str()))
        .collect();
    let mut after = analysis::without_rules(world, &stale);
    if !change.modifies_endpoint() {
        return Some(after);
    }
    // IPv6 addresses an address type change would add do not exist yet either: the whole
    // subnets' CIDRs of the records' families are checked instead.
    let adds_addresses = change
        .modify
        .ip_address_type
        .is_some_and(|t| t != IpAddressType::Ipv4 && current.ip_address_type.as_deref() != Some("dualstack"));
    // Interfaces replaced for new fixed addresses (SubnetConfigurations) likewise: the analysis
    // checks the spec's addresses for them as before the endpoint existed. The endpoint's
    // interfaces go with it then, so that an address the spec keeps is not taken for another
    // interface's.
    if !change.modify.add_subnet_ids.is_empty()
        || adds_addresses
        || !change.modify.subnet_configurations.is_empty()
    {
        after.vpc_endpoints.retain(|e| e.vpc_endpoint_id != id);
        if !spec.subnet_configurations.is_empty() {
            after
                .network_interfaces
                .retain(|n| !current.network_interface_ids.contains(&n.network_interface_id));
        }
        return Some(after);
    }
    let removed: BTreeSet<&String> = change.modify.remove_subnet_ids.iter().collect();
    let gone: BTreeSet<String> = world
        .network_interfaces
        .iter()
        .filter(|n| current.network_interface_ids.contains(&n.network_interface_id))
        .filter(|n| removed.contains(&n.subnet_id))
        .map(|n| n.network_interface_id.clone())
        .collect();
    let groups: Vec<SecurityGroupIdentifier> = spec
        .security_group_ids
        .iter()
        .map(|g| SecurityGroupIdentifier {
            group_id: g.clone(),
            group_name: None,
        })
        .collect();
    for e in after.vpc_endpoints.iter_mut().filter(|e| e.vpc_endpoint_id == id) {
        e.subnet_ids = spec.subnet_ids.clone();
        e.groups = groups.clone();
        if let Some(t) = change.modify.ip_address_type {
            e.ip_address_type = Some(t.as_str().to_string());
        }
        if let Some(r) = change.modify.dns_record_ip_type {
            e.dns_options = Some(crate::model::EndpointDnsOptions {
                dns_record_ip_type: Some(r.as_str().to_string()),
                ..e.dns_options.clone().unwrap_or_default()
            });
        }
        if let Some(on) = change.modify.private_dns_only_for_inbound_resolver_endpoint {
            e.dns_options = Some(crate::model::EndpointDnsOptions {
                private_dns_only_for_inbound_resolver_endpoint: Some(on),
                ..e.dns_options.clone().unwrap_or_default()
            });
        }
        e.network_interface_ids.retain(|n| !gone.contains(n));
    }
    after
        .network_interfaces
        .retain(|n| !gone.contains(&n.network_interface_id));
    for n in after
        .network_interfaces
        .iter_mut()
        .filter(|n| current.network_interface_ids.contains(&n.network_interface_id))
    {
        n.groups = groups
            .iter()
            .map(|g| crate::model::GroupIdentifier {
                group_id: g.group_id.clone(),
                group_name: None,
            })
            .collect();
    }
    Some(after)
}

/// The drift step for an available endpoint: apply a spec change when it is safe, otherwise
/// hold it; without a change, go on to the clients' access.
pub(crate) fn decide<'a>(
    input: &PlanInput<'a>,
    endpoint: &'a VpcEndpoint,
    analysis: &'a Analysis,
    timing: &Timing,
) -> Step<'a> {
    let Some(change) = spec_change_in(input, endpoint) else {
        return access::decide(input, endpoint, analysis, timing);
    };
    let id = &endpoint.vpc_endpoint_id;
    let resolution = resolution::of(endpoint, input.status, input.seen_off, input.now, timing);
    let mut step = if !resolution.may_lead_clients_here() || !change.changes_reachability() {
        let mut step = Step::new(input, RolloutPhase::Verifying, timing.after_change);
        step.actions.extend(change.actions());
        step.conditions.ready = Some(not_ready(
            ConditionReason::InProgress,
            format!(
                "Applying the spec to {id} ({}); the clients are verified again once EC2 reports it",
                change.summary
            ),
        ));
        step
    } else if let Resolution::Cached { remaining } = resolution {
        // Private DNS went off moments ago: clients may still hold answers that lead them to
        // the endpoint's current interfaces and groups. The change waits for them to expire.
        let mut step = Step::new(input, RolloutPhase::Verifying, remaining.max(timing.after_change));
        step.conditions.ready = Some(not_ready(
            ConditionReason::InProgress,
            format!(
                "Spec change to {id} ({}) waits {} s: private DNS went off less than the record TTL \
                 ago, and clients may still resolve the service to {id}",
                change.summary,
                remaining.as_secs_f64().ceil()
            ),
        ));
        step
    } else {
        match input.analysis_as_specified {
            Some(Ok(after)) => serving_change(input, endpoint, after, &change, timing),
            Some(Err(error)) => return validate::invalid_spec(input, &error.to_string(), timing),
            None => {
                // The caller did not analyse the changed world: never apply a change blind.
                let mut step = Step::new(input, RolloutPhase::Blocked, timing.waiting);
                step.conditions.ready = Some(not_ready(
                    ConditionReason::InProgress,
                    format!(
                        "Spec change to {id} ({}) held: the world after the change was not analysed",
                        change.summary
                    ),
                ));
                step
            }
        }
    };
    step.endpoint = Some(endpoint);
    step.analysis = Some(analysis);
    step.verified = true;
    step
}

/// A change of subnets or security groups while private DNS is on.
fn serving_change<'a>(
    input: &PlanInput<'a>,
    endpoint: &VpcEndpoint,
    after: &'a Analysis,
    change: &SpecChange,
    timing: &Timing,
) -> Step<'a> {
    let id = &endpoint.vpc_endpoint_id;
    let access = Access::new(after, input.spec, input.status.plan.as_ref(), &input.approver);
    let rules_now = if access.blocked > 0 {
        access.rules_now()
    } else {
        Vec::new()
    };
    let apply = access.blocked == 0 || access.fixed_by_rules_now() || dns::forced(input.spec);
    if !apply && dns::unwanted(input, endpoint) {
        // Held while private DNS is on, but the spec turns it off too: off first, then the
        // change cuts nobody off and is applied on the next pass.
        let mut step = Step::new(input, RolloutPhase::Verifying, timing.after_change);
        dns::turn_off(&mut step, input, endpoint, timing);
        step.conditions.ready = Some(not_ready(
            ConditionReason::InProgress,
            format!(
                "Disabling private DNS on {id} as spec.privateDns.enabled asks, then applying the spec ({})",
                change.summary
            ),
        ));
        return step;
    }
    let phase = match (apply, rules_now.is_empty()) {
        (_, false) => RolloutPhase::Remediating,
        (true, true) => RolloutPhase::Verifying,
        (false, true) if access.awaits_approval() => RolloutPhase::AwaitingApproval,
        (false, true) => RolloutPhase::Blocked,
    };
    let requeue = if apply || !rules_now.is_empty() {
        timing.after_change
    } else {
        timing.waiting
    };
    let mut step = Step::new(input, phase, requeue);
    step.plan_analysis = Some(after);
    if !rules_now.is_empty() {
        step.actions.push(authorize(&rules_now, input));
    }
    if apply {
        // The rules first: the engine stops at the first failed call, so a rule is never revoked
        // before its replacement is in.
        step.actions.extend(change.actions());
        if access.blocked > 0 && !access.fixed_by_rules_now() {
            step.events.push(EventNote {
                reason: EventReason::ForcedWithBlockedClients,
                warning: true,
                message: format!(
                    "Applying the spec to {id} ({}) although afterwards {} (spec.privateDns.force)",
                    change.summary,
                    blocked_sentence(&access)
                ),
            });
        }
        step.conditions.ready = Some(not_ready(
            ConditionReason::InProgress,
            format!("Applying the spec to {id} ({})", change.summary),
        ));
    } else {
        let reason = match access.approval {
            ApprovalState::Stale { reported, .. } => ApprovalState::mismatch_reason(reported),
            ApprovalState::Awaiting => ConditionReason::AwaitingApproval,
            _ => ConditionReason::ClientsBlocked,
        };
        step.conditions.ready = Some(not_ready(
            reason,
            format!(
                "Spec change to {id} ({}) held while private DNS is on: afterwards {}; {}",
                change.summary,
                blocked_sentence(&access),
                what_is_needed(&access)
            ),
        ));
    }
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Check, RuleChange};
    use crate::api::RemediationMode;
    use crate::api::conditions::ConditionType;
    use crate::plan::fixtures::*;
    use crate::plan::{Action, decide};

    const SG_NEW: &str = "sg-0ccccccccccccccc1";

    fn spec_with_sg(sg: &str) -> InterfaceEndpointSpec {
        InterfaceEndpointSpec {
            security_group_ids: vec![sg.into()],
            ..spec()
        }
    }

    fn ready_status() -> crate::api::InterfaceEndpointStatus {
        let mut s = created_status(now_minus(3600));
        s.phase = RolloutPhase::Ready;
        s.endpoint_state = Some("available".into());
        s.private_dns_enabled = true;
        s
    }

    #[test]
    fn a_changed_security_group_is_applied_at_once_while_private_dns_is_off() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(reachable_analysis());
        let spec = spec_with_sg(SG_NEW);
        let status = created_status(now_minus(600));
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Verifying);
        let [Action::ModifyEndpoint(m)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(m.add_security_group_ids, [SG_NEW]);
        assert_eq!(m.remove_security_group_ids, [SG_VPCE]);
        assert_eq!(m.private_dns_enabled, None);
        assert!(d.events.iter().any(|e| e.reason == EventReason::EndpointModified));
    }

    #[test]
    fn a_spec_change_that_would_cut_clients_off_is_held_while_private_dns_is_on() {
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(reachable_analysis());
        // After the swap the new SG admits nobody, and rules for it need approval.
        let mut spec = spec_with_sg(SG_NEW);
        spec.remediation.endpoint_ingress = RemediationMode::Approval;
        let after = Ok(analysis_with(
            Some(ENDPOINT),
            &[Check::EndpointIngress],
            vec![RuleChange::https(SG_NEW, SG_ZABBIX, Check::EndpointIngress)],
            vec![],
        ));
        let status = ready_status();
        let mut i = input_with(&spec, &world, &analysis, &status);
        i.analysis_as_specified = Some(&after);
        let d = decide(&i, &timing());
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert_eq!(d.status.phase, RolloutPhase::AwaitingApproval);
        let ready = condition(&d.status, ConditionType::Ready);
        assert!(ready.message.contains("held"), "{}", ready.message);
        assert!(ready.message.contains(ENI_ZABBIX), "{}", ready.message);
        let plan = d.status.plan.as_ref().unwrap();
        assert_eq!(
            plan.rules[0].group_id, SG_NEW,
            "the plan is the one for after the change"
        );
        assert!(d.status.private_dns_enabled);

        // Approving that plan adds its rule and applies the change in one step.
        let id = plan.id.clone();
        spec.approval = Some(crate::api::Approval { plan_id: id });
        let mut i = input_with(&spec, &world, &analysis, &d.status);
        i.analysis_as_specified = Some(&after);
        let d = decide(&i, &timing());
        assert!(matches!(
            d.actions.as_slice(),
            [Action::AuthorizeRules(_), Action::ModifyEndpoint(_)]
        ));
    }

    #[test]
    fn a_held_change_waits_for_private_dns_to_go_off_when_the_spec_turns_it_off() {
        // The SG swap would cut Zabbix off while private DNS is on; the spec also turns private
        // DNS off, after which the swap cuts nobody off. Private DNS goes off first.
        let analysis = Ok(reachable_analysis());
        let mut spec = spec_with_sg(SG_NEW);
        spec.remediation.endpoint_ingress = RemediationMode::Approval;
        spec.private_dns.enabled = false;
        let after = Ok(analysis_with(
            Some(ENDPOINT),
            &[Check::EndpointIngress],
            vec![RuleChange::https(SG_NEW, SG_ZABBIX, Check::EndpointIngress)],
            vec![],
        ));
        let serving = with_endpoint(incident_world(), "available", true);
        let status = ready_status();
        let mut i = input_with(&spec, &serving, &analysis, &status);
        i.analysis_as_specified = Some(&after);
        let d = decide(&i, &timing());
        let [Action::ModifyEndpoint(m)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(m.private_dns_enabled, Some(false));
        assert!(m.add_security_group_ids.is_empty(), "{m:?}");
        assert_eq!(d.requeue, timing().after_change);
        // `force` forces private DNS on; with it off, there is nothing to force.
        let forced = InterfaceEndpointSpec {
            private_dns: crate::api::PrivateDnsSpec {
                enabled: false,
                force: true,
            },
            ..spec.clone()
        };
        let mut i = input_with(&forced, &serving, &analysis, &status);
        i.analysis_as_specified = Some(&after);
        assert_eq!(decide(&i, &timing()).actions, d.actions);

        // Once it is off, the change waits for cached answers to expire (the record TTL since
        // the first look that saw it off), then is applied.
        let dark = with_endpoint(incident_world(), "available", false);
        let d = decide(&input_with(&spec, &dark, &analysis, &d.status), &timing());
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert_eq!(d.requeue, timing().private_dns_ttl);
        let mut later = d.status.clone();
        later.private_dns_off_since = Some(now_minus(60).to_string());
        let d = decide(&input_with(&spec, &dark, &analysis, &later), &timing());
        let [Action::ModifyEndpoint(m)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(m.add_security_group_ids, [SG_NEW]);
    }

    #[test]
    fn a_spec_change_blocked_by_nacls_is_held_as_blocked() {
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(reachable_analysis());
        let spec = spec_with_sg(SG_NEW);
        let after = Ok(nacl_analysis());
        let status = ready_status();
        let mut i = input_with(&spec, &world, &analysis, &status);
        i.analysis_as_specified = Some(&after);
        let d = decide(&i, &timing());
        assert!(d.actions.is_empty());
        assert_eq!(d.status.phase, RolloutPhase::Blocked);
    }

    #[test]
    fn a_spec_change_is_never_applied_blind_while_private_dns_is_on() {
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(reachable_analysis());
        let spec = spec_with_sg(SG_NEW);
        let status = ready_status();
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert!(d.actions.is_empty());
    }

    #[test]
    fn a_safe_spec_change_is_applied_while_private_dns_is_on() {
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(reachable_analysis());
        let spec = spec_with_sg(SG_NEW);
        let after = Ok(reachable_analysis());
        let status = ready_status();
        let mut i = input_with(&spec, &world, &analysis, &status);
        i.analysis_as_specified = Some(&after);
        let d = decide(&i, &timing());
        assert!(matches!(d.actions.as_slice(), [Action::ModifyEndpoint(_)]));
    }

    #[test]
    fn policies_are_compared_as_json_and_reset_only_when_not_full_access() {
        let mut endpoint = with_endpoint(incident_world(), "available", false).vpc_endpoints[0].clone();
        endpoint.policy_document = Some(
            r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#.into(),
        );
        assert_eq!(spec_change(&spec(), &endpoint), None);
        let reformatted = InterfaceEndpointSpec {
            policy: Some(
                r#"{ "Statement": [ {"Resource":"*","Action":"*","Principal":"*","Effect":"Allow"} ],
                    "Version": "2008-10-17" }"#
                    .into(),
            ),
            ..spec()
        };
        assert_eq!(spec_change(&reformatted, &endpoint), None);
        endpoint.policy_document =
            Some(r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#.into());
        let change = spec_change(&spec(), &endpoint).unwrap();
        assert!(change.modify.reset_policy);
        assert!(!change.changes_reachability());
    }

    #[test]
    fn the_address_type_and_dns_records_are_compared_when_the_spec_names_them_and_change_paths() {
        use crate::api::{DnsOptions, DnsRecordIpType, IpAddressType};
        let mut endpoint = with_endpoint(incident_world(), "available", true).vpc_endpoints[0].clone();
        endpoint.ip_address_type = Some("ipv4".into());
        endpoint.dns_options = Some(crate::model::EndpointDnsOptions {
            dns_record_ip_type: Some("ipv4".into()),
            private_dns_only_for_inbound_resolver_endpoint: Some(false),
        });
        // Not named: EC2's (or someone's) choice stands.
        assert_eq!(spec_change(&spec(), &endpoint), None);
        let named = |t: IpAddressType, r: DnsRecordIpType| InterfaceEndpointSpec {
            ip_address_type: Some(t),
            dns_options: Some(DnsOptions {
                dns_record_ip_type: Some(r),
                ..Default::default()
            }),
            ..spec()
        };
        assert_eq!(
            spec_change(&named(IpAddressType::Ipv4, DnsRecordIpType::Ipv4), &endpoint),
            None
        );
        let change = spec_change(
            &named(IpAddressType::Dualstack, DnsRecordIpType::Dualstack),
            &endpoint,
        )
        .unwrap();
        assert_eq!(change.modify.ip_address_type, Some(IpAddressType::Dualstack));
        assert_eq!(change.modify.dns_record_ip_type, Some(DnsRecordIpType::Dualstack));
        assert_eq!(change.summary, "IP address type dualstack; DNS records dualstack");
        assert!(change.changes_reachability(), "clients take other paths");
        assert!(change.modifies_endpoint());
        // Back to ipv4 from dual-stack records with none in the spec: ipv4 records are asked
        // for with it (dualstack ones do not fit ipv4 addresses).
        let mut dual_endpoint = endpoint.clone();
        dual_endpoint.ip_address_type = Some("dualstack".into());
        dual_endpoint.dns_options.as_mut().unwrap().dns_record_ip_type = Some("dualstack".into());
        let to_ipv4 = InterfaceEndpointSpec {
            ip_address_type: Some(IpAddressType::Ipv4),
            ..spec()
        };
        let change = spec_change(&to_ipv4, &dual_endpoint).unwrap();
        assert_eq!(change.modify.dns_record_ip_type, Some(DnsRecordIpType::Ipv4));
        assert_eq!(change.summary, "IP address type ipv4; DNS records ipv4");
        // Records that fit stay unnamed.
        dual_endpoint.dns_options.as_mut().unwrap().dns_record_ip_type = Some("ipv4".into());
        let change = spec_change(&to_ipv4, &dual_endpoint).unwrap();
        assert_eq!(change.modify.dns_record_ip_type, None);

        // Checked in the world as specified: new IPv6 addresses do not exist yet, so the endpoint
        // is left out (the subnets' CIDRs of both families are checked); records alone change
        // in place.
        let mut world = with_endpoint(incident_world(), "available", true);
        world.vpc_endpoints[0] = endpoint.clone();
        let dual = named(IpAddressType::Dualstack, DnsRecordIpType::Dualstack);
        let after = as_specified(&dual, &world, false).unwrap();
        assert!(after.vpc_endpoints.is_empty(), "{:?}", after.vpc_endpoints);
        world.vpc_endpoints[0].ip_address_type = Some("dualstack".into());
        let records_only = named(IpAddressType::Dualstack, DnsRecordIpType::Ipv6);
        let after = as_specified(&records_only, &world, false).unwrap();
        assert_eq!(
            after.vpc_endpoints[0]
                .dns_options
                .as_ref()
                .and_then(|d| d.dns_record_ip_type.as_deref()),
            Some("ipv6")
        );
    }

    #[test]
    fn private_dns_only_for_inbound_endpoints_is_compared_once_private_dns_is_on() {
        use crate::api::DnsOptions;
        let named = |on: bool| InterfaceEndpointSpec {
            dns_options: Some(DnsOptions {
                private_dns_only_for_inbound_resolver_endpoint: Some(on),
                ..Default::default()
            }),
            ..spec()
        };
        // Private DNS off: it is set with the request that turns private DNS on, not here.
        let off = with_endpoint(incident_world(), "available", false).vpc_endpoints[0].clone();
        assert_eq!(spec_change(&named(true), &off), None);
        // On, reported off (EC2 reports nothing until it is set): a change that moves clients.
        let mut world = with_endpoint(incident_world(), "available", true);
        let on = world.vpc_endpoints[0].clone();
        assert_eq!(spec_change(&named(false), &on), None, "absent is false");
        assert_eq!(spec_change(&spec(), &on), None, "not named: left alone");
        let change = spec_change(&named(true), &on).unwrap();
        assert_eq!(
            change.modify.private_dns_only_for_inbound_resolver_endpoint,
            Some(true)
        );
        assert_eq!(
            change.summary,
            "private DNS only for Resolver inbound endpoints true"
        );
        assert!(change.changes_reachability() && change.modifies_endpoint());
        // Back to false: checked in the world as specified, where the endpoint carries it.
        world.vpc_endpoints[0].dns_options = Some(crate::model::EndpointDnsOptions {
            private_dns_only_for_inbound_resolver_endpoint: Some(true),
            ..Default::default()
        });
        let change = spec_change(&named(false), &world.vpc_endpoints[0]).unwrap();
        assert_eq!(
            change.modify.private_dns_only_for_inbound_resolver_endpoint,
            Some(false)
        );
        let after = as_specified(&named(false), &world, false).unwrap();
        assert_eq!(
            after.vpc_endpoints[0]
                .dns_options
                .as_ref()
                .and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint),
            Some(false)
        );
    }

    /// The world as specified for `spec`, from the object's point of view in `world`.
    fn as_specified(spec: &InterfaceEndpointSpec, world: &Snapshot, deleting: bool) -> Option<Snapshot> {
        let analysis = Ok(reachable_analysis());
        let status = ready_status();
        let mut i = input_with(spec, world, &analysis, &status);
        i.deleting = deleting;
        world_as_specified(&i)
    }

    #[test]
    fn the_world_as_specified_swaps_groups_or_drops_the_endpoint_for_new_subnets() {
        let world = with_endpoint(incident_world(), "available", true);
        assert!(as_specified(&spec(), &world, false).is_none());

        let after = as_specified(&spec_with_sg(SG_NEW), &world, false).unwrap();
        let e = &after.vpc_endpoints[0];
        assert_eq!(e.groups[0].group_id, SG_NEW);
        let eni = after
            .network_interfaces
            .iter()
            .find(|n| n.network_interface_id == ENI_VPCE)
            .unwrap();
        assert_eq!(eni.groups[0].group_id, SG_NEW);

        let more_subnets = InterfaceEndpointSpec {
            subnet_ids: vec![SUBNET_APP.into(), SUBNET_PUBLIC.into()],
            ..spec()
        };
        let after = as_specified(&more_subnets, &world, false).unwrap();
        assert!(after.vpc_endpoints.is_empty());
    }

    fn fixed_at(subnet: &str, ipv4: &str) -> InterfaceEndpointSpec {
        InterfaceEndpointSpec {
            subnet_configurations: vec![crate::api::SubnetConfiguration {
                subnet_id: subnet.into(),
                ipv4: Some(ipv4.into()),
                ipv6: None,
            }],
            ..spec()
        }
    }

    #[test]
    fn a_new_fixed_address_of_a_kept_subnet_replaces_its_interface_as_a_serving_change() {
        let world = with_endpoint(incident_world(), "available", true);
        let endpoint = &world.vpc_endpoints[0];
        // The address the interface has: nothing to change, and not "in use" (it is the
        // endpoint's own); another interface's address is.
        assert!(readdressed(&fixed_at(SUBNET_APP, "10.0.1.100"), endpoint, &world).is_empty());
        crate::analysis::analyze(&fixed_at(SUBNET_APP, "10.0.1.100"), Some(&owner()), &world).unwrap();
        let taken = crate::analysis::analyze(&fixed_at(SUBNET_APP, "10.0.1.30"), Some(&owner()), &world);
        assert_eq!(
            taken.unwrap_err().to_string(),
            format!(
                "spec.subnetConfigurations: 10.0.1.30 for subnet {SUBNET_APP} is in use by {ENI_ZABBIX} (primary \
                 private IPv4); EC2 would refuse the endpoint"
            )
        );
        let moved = fixed_at(SUBNET_APP, "10.0.1.101");
        assert_eq!(readdressed(&moved, endpoint, &world), moved.subnet_configurations);
        // An interface the world does not show is waited for, not replaced blind.
        let mut unseen = world.clone();
        unseen
            .network_interfaces
            .retain(|n| n.network_interface_id != ENI_VPCE);
        assert!(readdressed(&moved, endpoint, &unseen).is_empty());

        let analysis = Ok(reachable_analysis());
        let status = ready_status();
        let input = input_with(&moved, &world, &analysis, &status);
        let change = spec_change_in(&input, endpoint).unwrap();
        assert_eq!(change.modify.subnet_configurations, moved.subnet_configurations);
        assert!(change.modify.add_subnet_ids.is_empty());
        assert!(change.changes_reachability() && change.modifies_endpoint());
        assert_eq!(
            change.summary,
            format!(
                "interface of subnet {SUBNET_APP} for 10.0.1.101 replaced (the endpoint is interrupted in that \
                 subnet meanwhile)"
            )
        );
        // Checked as before the endpoint existed: the endpoint and its interfaces left out, so
        // the analysis takes the spec's addresses for the subnets.
        let after = as_specified(&moved, &world, false).unwrap();
        assert!(after.vpc_endpoints.is_empty());
        assert!(
            after
                .network_interfaces
                .iter()
                .all(|n| n.network_interface_id != ENI_VPCE)
        );
        let analysis = crate::analysis::analyze(&moved, Some(&owner()), &after).unwrap();
        let destinations: Vec<String> = analysis.destinations.iter().map(|d| d.net.to_string()).collect();
        assert_eq!(destinations, ["10.0.1.101/32"]);
    }

    #[test]
    fn an_added_subnet_s_interface_gets_its_fixed_address_in_the_same_modify() {
        let world = with_endpoint(incident_world(), "available", false);
        let spec = InterfaceEndpointSpec {
            subnet_ids: vec![SUBNET_APP.into(), SUBNET_PUBLIC.into()],
            ..fixed_at(SUBNET_PUBLIC, "10.0.0.200")
        };
        let change = spec_change(&spec, &world.vpc_endpoints[0]).unwrap();
        assert_eq!(change.modify.add_subnet_ids, [SUBNET_PUBLIC]);
        assert_eq!(change.modify.subnet_configurations, spec.subnet_configurations);
        assert_eq!(change.summary, format!("subnets +{SUBNET_PUBLIC}"));
    }

    #[test]
    fn the_world_as_specified_is_built_only_for_a_change_that_could_cut_clients_off() {
        let change = spec_with_sg(SG_NEW);
        let serving = with_endpoint(incident_world(), "available", true);
        assert!(as_specified(&change, &serving, false).is_some());
        // Private DNS off: the change is applied at once; deleting: it is never applied.
        let dark = with_endpoint(incident_world(), "available", false);
        assert!(as_specified(&change, &dark, false).is_none());
        assert!(as_specified(&change, &serving, true).is_none());
        // Only the policy differs: nobody's packets change path.
        let policy = InterfaceEndpointSpec {
            policy: Some(r#"{"Statement":[]}"#.into()),
            ..spec()
        };
        assert!(as_specified(&policy, &serving, false).is_none());
    }
}
