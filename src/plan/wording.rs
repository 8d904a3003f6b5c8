//! The wording that several stages share: counts ("3 rules", "1 of 2 clients"), lists with
//! "and N more", rule lines, peers, port ranges and tags, the traffic the clients send, and the
//! sentences about blocked clients and what they need.
//!
//! A leaf: it depends on the analysis, the API and EC2 types and the [`Access`] view (itself a
//! leaf), never on a stage, so that a stage's messages read the same wherever they are built
//! and a stage never asks another for words. The stages (access, dns, drift, cut_off,
//! deletion), the reports (status, events, observe_only) and `vpce-rollout plan` take their
//! shared wording from here; wording only one file uses stays in that file.

use crate::analysis::{Analysis, ClientVerdict, Direction, Ports, RuleChange};
use crate::api::{InterfaceEndpointSpec, Owner};
use crate::aws::RulePeer;
use crate::model::ServiceDetail;

use super::approval::{Access, ApprovalState, Approver};

/// How many blocked ENIs a condition or Event message names before "and N more".
pub(crate) const MESSAGE_EXAMPLES: usize = 3;

/// `a, b, c and 7 more`.
pub(crate) fn with_more(examples: &[&str], total: usize) -> String {
    let shown = examples.len().min(MESSAGE_EXAMPLES);
    let mut text = examples[..shown].join(", ");
    if total > shown {
        text.push_str(&format!(" and {} more", total - shown));
    }
    text
}

/// A few blocked clients with their security groups and failing checks, and the rest counted:
/// `eni-0b… [sg-0b…] EndpointIngress; eni-0c… [...] ...; and 12 more`. A client blocked on only
/// some of the spec's ports says which: `EndpointIngress (tcp/8443)`.
pub(crate) fn blocked_examples(analysis: &Analysis) -> String {
    let blocked: Vec<&ClientVerdict> = analysis.blocked().take(MESSAGE_EXAMPLES).collect();
    let total = analysis.blocked().count();
    let mut parts: Vec<String> = blocked
        .iter()
        .map(|c| {
            let checks: Vec<&str> = c.failing_checks().iter().map(|k| k.as_str()).collect();
            let ports = c.failing_ports();
            let some_ports = if ports == analysis.ports {
                String::new()
            } else {
                format!(" ({})", ports.tcp())
            };
            format!(
                "{} [{}] {}{some_ports}",
                c.network_interface_id,
                c.security_group_ids.join(","),
                checks.join("+")
            )
        })
        .collect();
    if total > parts.len() {
        parts.push(format!("and {} more", total - parts.len()));
    }
    parts.join("; ")
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

/// `1 source is`, `2 sources are` (the canary's rejected sources).
pub(crate) fn sources_are(n: usize) -> String {
    if n == 1 {
        "1 source is".to_string()
    } else {
        format!("{n} sources are")
    }
}

/// `1 of 2 clients`.
pub(crate) fn of_clients(n: usize, total: usize) -> String {
    format!("{n} of {}", count(total, "client"))
}

/// `1 of 2 clients cannot reach vpce-0a… on tcp/443` (the spec's ports).
pub(crate) fn clients_cannot_reach(blocked: usize, total: usize, target: &str, ports: &Ports) -> String {
    format!(
        "{} cannot reach {target} on {}",
        of_clients(blocked, total),
        ports.tcp()
    )
}

/// `All 2 clients can reach vpce-0a… on tcp/443` (the spec's ports).
pub(crate) fn all_clients_reach(total: usize, target: &str, ports: &Ports) -> String {
    format!(
        "All {} can reach {target} on {}",
        count(total, "client"),
        ports.tcp()
    )
}

/// "1 of 2 clients cannot reach the endpoint on tcp/443 (eni-0b… sg-0b…: EndpointIngress)".
pub(crate) fn blocked_sentence(access: &Access<'_>) -> String {
    format!(
        "{} ({})",
        clients_cannot_reach(
            access.blocked,
            access.analysis.clients.len(),
            "the endpoint",
            &access.analysis.ports
        ),
        blocked_examples(access.analysis)
    )
}

/// What an approval that is not the current plan's id approves: an earlier plan, or, for an id
/// this object never reported, nothing.
pub(crate) fn mismatched_approval(approver: &Approver, given: &str, reported: bool) -> String {
    let field = approver.field();
    if reported {
        format!("{field} {given} approves an earlier plan")
    } else {
        format!("{field} {given} is not a plan id this object reported")
    }
}

/// What must happen for the blocked clients, in the order the user should do it.
pub(crate) fn what_is_needed(access: &Access<'_>) -> String {
    let mut needs = Vec::new();
    match &access.approval {
        ApprovalState::Awaiting => needs.push(match &access.approver {
            Approver::Namespace => format!(
                "approve plan {} ({}) with spec.approval.planId: {}",
                access.plan_id,
                count(access.needs_approval.len(), "rule"),
                access.plan_id
            ),
            platform => format!(
                "approve plan {} ({}): {}",
                access.plan_id,
                count(access.needs_approval.len(), "rule"),
                platform.how_to_approve(&access.plan_id)
            ),
        }),
        ApprovalState::Stale { given, reported } => needs.push(format!(
            "{}; the current plan is {} ({})",
            mismatched_approval(&access.approver, given, *reported),
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
            "fix the network ACLs ({}, see status.plan.unfixableBlocks); the controller never changes NACLs",
            count(unfixable.len(), "block")
        ));
    }
    if needs.is_empty() {
        "waiting for the added rules to take effect".to_string()
    } else {
        needs.join("; ")
    }
}

/// `443`, `1024-65535`.
pub(crate) fn port_range(from: i32, to: i32) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from}-{to}")
    }
}

/// One rule of a security group: `sg-… ingress tcp/443 from sg-…`.
pub(crate) fn rule_line(
    group_id: &str,
    egress: bool,
    protocol: impl std::fmt::Display,
    from: i32,
    to: i32,
    peer: &str,
) -> String {
    let (direction, preposition) = if egress {
        ("egress", "to")
    } else {
        ("ingress", "from")
    };
    format!(
        "{group_id} {direction} {protocol}/{} {preposition} {peer}",
        port_range(from, to)
    )
}

/// `key=value, key=value`.
pub(crate) fn tag_list(tags: &[crate::model::Tag]) -> String {
    let pairs: Vec<String> = tags.iter().map(|t| format!("{}={}", t.key, t.value)).collect();
    pairs.join(", ")
}

/// Who owns a service, for the messages that ask them to act: `account 210987654321`,
/// `amazon`, or that the owner is not known (the service was not described).
pub(crate) fn service_owner(service: Option<&ServiceDetail>) -> String {
    match service.and_then(|s| s.owner.as_deref()) {
        Some(owner) if !owner.is_empty() && owner.chars().all(|c| c.is_ascii_digit()) => {
            format!("account {owner}")
        }
        Some(owner) if !owner.is_empty() => owner.to_string(),
        _ => "owner unknown".to_string(),
    }
}

/// The command the owner of `service` runs to accept `endpoint_id`.
pub(crate) fn accept_command(service: Option<&ServiceDetail>, endpoint_id: &str) -> String {
    format!(
        "aws ec2 accept-vpc-endpoint-connections --service-id {} --vpc-endpoint-ids {endpoint_id}",
        service
            .and_then(|s| s.service_id.as_deref())
            .unwrap_or("<service id>")
    )
}

/// Who added the rule and why, in the characters EC2 accepts in descriptions, at most 255.
pub(crate) fn rule_description(rule: &RuleChange, spec: &InterfaceEndpointSpec, owner: &Owner) -> String {
    let peer = peer_text(&rule.peer);
    let service = spec.service_name.as_str();
    let text = match rule.direction {
        Direction::Ingress => format!(
            "vpce-rollout {}: clients in {peer} to the {service} endpoint, tcp {}",
            owner.owner_tag(),
            port_range(rule.from_port.into(), rule.to_port.into())
        ),
        Direction::Egress => format!(
            "vpce-rollout {}: to the {service} endpoint ({peer}), tcp {}",
            owner.owner_tag(),
            port_range(rule.from_port.into(), rule.to_port.into())
        ),
    };
    text.chars().take(255).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(1, "rule"), "1 rule");
        assert_eq!(count(0, "rule"), "0 rules");
        assert_eq!(of_clients(1, 2), "1 of 2 clients");
        assert_eq!(of_clients(0, 1), "0 of 1 client");
    }

    #[test]
    fn client_sentences_name_the_target_and_the_traffic() {
        assert_eq!(
            clients_cannot_reach(1, 2, "vpce-0a", &Ports::https()),
            "1 of 2 clients cannot reach vpce-0a on tcp/443"
        );
        assert_eq!(
            all_clients_reach(1, "the endpoint", &Ports::new([5432, 8080, 8081])),
            "All 1 client can reach the endpoint on tcp/5432 and 8080-8081"
        );
    }

    #[test]
    fn a_rule_line_reads_from_its_peer_for_ingress_and_to_it_for_egress() {
        assert_eq!(
            rule_line("sg-1", false, "tcp", 443, 443, "sg-2"),
            "sg-1 ingress tcp/443 from sg-2"
        );
        assert_eq!(
            rule_line("sg-1", true, "tcp", 1024, 65535, "10.0.0.0/16"),
            "sg-1 egress tcp/1024-65535 to 10.0.0.0/16"
        );
    }

    #[test]
    fn long_lists_are_cut_after_the_examples() {
        assert_eq!(with_more(&["a", "b", "c", "d"], 10), "a, b, c and 7 more");
        assert_eq!(with_more(&["a"], 1), "a");
    }
}

/// Why a pass that would turn private DNS off on `endpoint` writes the status first
/// ([`super::resolution::status_shows_serving`]).
pub(crate) fn record_serving_first(endpoint: &crate::model::VpcEndpoint) -> String {
    format!(
        "private DNS is on on {} but the last status does not show it: recording that first, then \
         turning it off",
        endpoint.vpc_endpoint_id
    )
}

/// A replacement of endpoint interfaces for the addresses `spec.subnetConfigurations` fixes:
/// `interface of subnet-a replaced for 10.0.1.10 (the endpoint is interrupted in that subnet
/// meanwhile)`, for the spec change's summary.
pub(crate) fn interfaces_replaced(configs: &[crate::api::SubnetConfiguration]) -> String {
    let each: Vec<String> = configs
        .iter()
        .map(|c| {
            let addresses: Vec<&str> = [c.ipv4.as_deref(), c.ipv6.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            format!("{} for {}", c.subnet_id, addresses.join(" and "))
        })
        .collect();
    let (noun, that) = if configs.len() == 1 {
        ("interface of subnet", "that subnet")
    } else {
        ("interfaces of subnets", "those subnets")
    };
    format!(
        "{noun} {} replaced (the endpoint is interrupted in {that} meanwhile)",
        each.join(", ")
    )
}
