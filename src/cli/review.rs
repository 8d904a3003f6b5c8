//! `vpce-rollout plan -o markdown`: the plan as a pull request's review comment. A one-line
//! verdict for every manifest the pull request changes, then one section per InterfaceEndpoint:
//! the blocked clients grouped by reason, the rules the controller would add by mode, what the
//! plan cannot fix, and the exact approval edit.
//!
//! Deterministic, so that a CI job can update its comment only when the plan changed: no
//! colour, no timestamps, no absolute paths beyond the ones given, everything in the analysis'
//! order (ENI ids, rule order, plan id). Lists longer than [`FOLD_AFTER`] rows are folded in
//! `<details>`, so a VPC with thousands of blocked clients still reads as a short comment.

use std::collections::BTreeMap;

use super::plan::{Outcome, Section, overall};
use crate::analysis::{Check, ClientVerdict, RuleChange};
use crate::api::RemediationMode;
use crate::plan::approval::{Access, ApprovalState, Approver};
use crate::plan::status::unfixable_blocks;
use crate::plan::wording::{count, of_clients, peer_text, port_range};

/// Rows shown before a list is folded into `<details>`.
pub const FOLD_AFTER: usize = 10;

/// The marker a CI job finds its own earlier comment by.
pub const MARKER: &str = "<!-- vpce-rollout plan -->";

/// The whole comment.
pub fn render(sections: &[Section], skipped: &[String]) -> String {
    let mut out = vec![MARKER.to_string(), verdict(sections)];
    for section in sections {
        out.push(String::new());
        out.push(render_section(section));
    }
    if !skipped.is_empty() {
        out.push(String::new());
        let lines: Vec<String> = skipped.iter().map(|s| format!("- {}", code_spans(s))).collect();
        out.push("Not InterfaceEndpoints, so not planned:".to_string());
        out.push(String::new());
        out.push(fold(&count(skipped.len(), "document"), &lines.join("\n")));
    }
    out.join("\n") + "\n"
}

/// `**vpce-rollout plan: ...** (exit N)`: the worst outcome, and how many endpoints have each.
fn verdict(sections: &[Section]) -> String {
    let worst = overall(sections);
    let headline = match (worst, sections.len()) {
        (_, 0) => "no InterfaceEndpoint in the manifests".to_string(),
        (Outcome::Reachable, n) => format!(
            "every client can reach its endpoint ({})",
            count(n, "InterfaceEndpoint")
        ),
        (Outcome::FixedByPlan, _) => "clients are blocked, and the plan fixes every one of them".to_string(),
        (Outcome::NotFixableByPlan, _) => "something blocks the rollout that the plan cannot fix".to_string(),
    };
    let mut by_outcome: BTreeMap<Outcome, usize> = BTreeMap::new();
    for s in sections {
        *by_outcome.entry(s.outcome()).or_default() += 1;
    }
    let tally = if sections.len() > 1 {
        let parts: Vec<String> = by_outcome
            .iter()
            .rev()
            .map(|(o, n)| format!("{n} {}", o.tally()))
            .collect();
        format!(
            " ({}: {})",
            count(sections.len(), "InterfaceEndpoint"),
            parts.join("; ")
        )
    } else {
        String::new()
    };
    format!(
        "**vpce-rollout plan: {headline}**{tally}, exit {}.",
        worst.exit_code()
    )
}

fn render_section(section: &Section) -> String {
    let m = &section.manifest;
    let spec = &m.spec;
    let analysis = &section.analysis;
    let access = Access::new(analysis, spec, None, &Approver::Namespace);
    let mut out = Vec::new();
    out.push(format!(
        "### `{}/{}` ({})",
        m.namespace,
        m.name,
        code_spans(&section.place)
    ));
    out.push(String::new());
    out.push(section_verdict(section, &access));
    out.push(String::new());
    let endpoint = match &analysis.endpoint_id {
        Some(id) => format!("Endpoint `{id}`"),
        None => "Endpoint not created yet".to_string(),
    };
    let blocked = analysis.blocked().count();
    out.push(format!(
        "{endpoint} for `{}` in `{}`: {}, {} reachable, {} blocked; {} excluded.",
        spec.service_name,
        spec.vpc_id,
        count(analysis.clients.len(), "client"),
        analysis.clients.len() - blocked,
        blocked,
        count(analysis.excluded.len(), "ENI"),
    ));

    if blocked > 0 {
        out.push(String::new());
        out.push("#### Blocked clients, by reason".to_string());
        out.push(blocked_groups(section));
    }
    if !analysis.remediation.rules.is_empty() {
        out.push(String::new());
        out.push("#### Rules the controller would add".to_string());
        out.push(rules_by_mode(section, &access));
    }
    let not_fixable = not_fixable(section);
    if !not_fixable.is_empty() {
        out.push(String::new());
        out.push("#### Not fixable by the plan".to_string());
        out.push(not_fixable);
    }
    if !access.needs_approval.is_empty() {
        out.push(String::new());
        out.push("#### Approval".to_string());
        out.push(String::new());
        out.push(approval(section, &access));
    }
    if !analysis.excluded.is_empty() {
        out.push(String::new());
        let rows: Vec<String> = analysis
            .excluded
            .iter()
            .map(|e| {
                format!(
                    "| `{}` | {} |",
                    e.network_interface_id,
                    cell(&e.reason.to_string())
                )
            })
            .collect();
        let table = format!(
            "| ENI | Why it is not a client |\n| --- | --- |\n{}",
            rows.join("\n")
        );
        out.push(details(
            &format!("{} excluded", count(analysis.excluded.len(), "ENI")),
            &table,
        ));
    }
    out.join("\n")
}

/// The section's one line: what happens to its clients, and what must happen first.
fn section_verdict(section: &Section, access: &Access<'_>) -> String {
    let analysis = &section.analysis;
    let total = analysis.clients.len();
    let blocked = analysis.blocked().count();
    let id = section.plan_id();
    let outcome = section.outcome();
    let clients = if blocked == 0 {
        format!(
            "all {} can reach the endpoint on {}",
            count(total, "client"),
            analysis.ports.tcp()
        )
    } else {
        format!(
            "{} cannot reach the endpoint on {}",
            of_clients(blocked, total),
            analysis.ports.tcp()
        )
    };
    let detail = match outcome {
        Outcome::Reachable => "nothing to add".to_string(),
        Outcome::FixedByPlan => {
            let needs = access.needs_approval.len();
            let rules = analysis.remediation.rules.len();
            if needs == 0 || access.approval == ApprovalState::Approved {
                format!("plan `{id}` ({}) fixes every one of them", count(rules, "rule"))
            } else if needs == rules {
                format!(
                    "plan `{id}` ({}) fixes every one of them once approved",
                    count(rules, "rule")
                )
            } else {
                format!(
                    "plan `{id}` ({}) fixes every one of them once approved ({needs} of them wait for approval)",
                    count(rules, "rule")
                )
            }
        }
        Outcome::NotFixableByPlan => {
            let unfixable = analysis.blocked().filter(|c| !section.fixes(c)).count();
            let mut parts = Vec::new();
            if unfixable > 0 {
                parts.push(format!("the plan cannot fix {unfixable} of them"));
            }
            if !section.blockers.is_empty() {
                let reasons: Vec<String> = section
                    .blockers
                    .iter()
                    .map(|b| format!("`{}`", b.reason.as_str()))
                    .collect();
                parts.push(format!(
                    "the switch to private DNS is blocked ({})",
                    reasons.join(", ")
                ));
            }
            parts.join("; ")
        }
    };
    format!("**{}**: {clients}; {detail}.", capitalised(outcome.text()))
}

/// One table per distinct set of failing checks, saying whether the plan fixes those clients.
fn blocked_groups(section: &Section) -> String {
    let modes = &section.manifest.spec.remediation;
    let approved = section
        .manifest
        .spec
        .approval
        .as_ref()
        .is_some_and(|a| a.plan_id == section.plan_id());
    let mut groups: BTreeMap<(Vec<Check>, &'static str), Vec<&ClientVerdict>> = BTreeMap::new();
    for client in section.analysis.blocked() {
        let checks = client.failing_checks();
        let fix = if !section.fixes(client) {
            "not fixable by the plan"
        } else if checks
            .iter()
            .any(|c| mode_of(*c, modes) == Some(RemediationMode::Approval))
            && !approved
        {
            "fixed by the plan once approved"
        } else {
            "fixed by the plan"
        };
        groups.entry((checks, fix)).or_default().push(client);
    }
    let mut out = Vec::new();
    for ((checks, fix), clients) in groups {
        let names: Vec<&str> = checks.iter().map(|c| c.as_str()).collect();
        out.push(String::new());
        out.push(format!(
            "**{}**: {}, {fix}.",
            names.join(" + "),
            count(clients.len(), "client")
        ));
        out.push(String::new());
        let rows: Vec<String> = clients
            .iter()
            .map(|c| {
                // One sentence per cause: the same block towards every endpoint ENI reads once.
                let mut why: Vec<&str> = Vec::new();
                for b in &c.blocks {
                    if !why.contains(&b.detail.as_str()) {
                        why.push(&b.detail);
                    }
                }
                format!(
                    "| `{}` | {} | `{}` | {} | {} |",
                    c.network_interface_id,
                    c.interface_type,
                    c.subnet_id,
                    c.security_group_ids
                        .iter()
                        .map(|g| format!("`{g}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    cell(&why.join("; "))
                )
            })
            .collect();
        let table = format!(
            "| Client | Type | Subnet | Security groups | Why |\n| --- | --- | --- | --- | --- |\n{}",
            rows.join("\n")
        );
        out.push(fold(&count(clients.len(), "client"), &table));
    }
    out.join("\n")
}

fn mode_of(check: Check, modes: &crate::api::RemediationSpec) -> Option<RemediationMode> {
    match check {
        Check::EndpointIngress => Some(modes.endpoint_ingress),
        Check::ClientEgress => Some(modes.client_egress),
        Check::ClientSubnetNacl | Check::EndpointSubnetNacl => None,
    }
}

/// The missing rules, one table per mode.
fn rules_by_mode(section: &Section, access: &Access<'_>) -> String {
    let id = section.plan_id();
    let mut out = Vec::new();
    for (rules, heading) in [
        (
            &access.auto,
            "**Auto**: the controller adds them by itself.".to_string(),
        ),
        (
            &access.needs_approval,
            match access.approval {
                ApprovalState::Approved => {
                    format!("**Approval**: approved (`spec.approval.planId` is `{id}`).")
                }
                _ => format!("**Approval**: added once `spec.approval.planId` is `{id}`."),
            },
        ),
        (
            &access.off,
            "**Off**: never added by the controller; add them by hand, or allow them in `spec.remediation`."
                .to_string(),
        ),
    ] {
        if rules.is_empty() {
            continue;
        }
        out.push(String::new());
        out.push(format!("{heading} {}:", capitalised(&count(rules.len(), "rule"))));
        out.push(String::new());
        let rows: Vec<String> = rules.iter().map(|r| rule_row(r)).collect();
        let table = format!(
            "| Security group | Direction | Protocol | Ports | Peer |\n| --- | --- | --- | --- | --- |\n{}",
            rows.join("\n")
        );
        out.push(fold(&count(rules.len(), "rule"), &table));
    }
    out.join("\n")
}

fn rule_row(rule: &RuleChange) -> String {
    format!(
        "| `{}` | {} | {} | {} | `{}` |",
        rule.group_id,
        rule.direction.as_str(),
        rule.protocol.as_aws(),
        port_range(i32::from(rule.from_port), i32::from(rule.to_port)),
        peer_text(&rule.peer)
    )
}

/// The blocks no rule of the plan clears (the status' `unfixableBlocks`, every client), and
/// what blocks the switch to private DNS.
fn not_fixable(section: &Section) -> String {
    let blocks = unfixable_blocks(&section.analysis, &section.manifest.spec.remediation, usize::MAX);
    let mut out = Vec::new();
    if !blocks.is_empty() {
        out.push(String::new());
        out.push(
            "The controller never changes network ACLs, nor adds a rule whose mode is Off, on a group \
             it may not change, or past EC2's quota of rules per group:"
                .to_string(),
        );
        out.push(String::new());
        let rows: Vec<String> = blocks
            .iter()
            .map(|b| {
                let ids: Vec<String> = b.network_interface_ids.iter().map(|i| format!("`{i}`")).collect();
                let clients = if ids.len() > FOLD_AFTER {
                    format!(
                        "{}, {} and {} more",
                        b.count,
                        ids[..FOLD_AFTER].join(", "),
                        ids.len() - FOLD_AFTER
                    )
                } else {
                    format!("{}: {}", b.count, ids.join(", "))
                };
                format!("| {} | {} | {} |", b.check, clients, cell(&b.detail))
            })
            .collect();
        let table = format!(
            "| Check | Clients | Cause |\n| --- | --- | --- |\n{}",
            rows.join("\n")
        );
        out.push(fold(&count(blocks.len(), "cause"), &table));
    }
    if !section.blockers.is_empty() {
        out.push(String::new());
        out.push(
            "What will block the switch to private DNS (the controller reports it and waits):".to_string(),
        );
        out.push(String::new());
        for b in &section.blockers {
            out.push(format!("- `{}`: {}", b.reason.as_str(), code_spans(&b.message)));
        }
    }
    out.join("\n")
}

/// The exact edit that approves the plan, or that it is approved.
fn approval(section: &Section, access: &Access<'_>) -> String {
    let id = section.plan_id();
    let m = &section.manifest;
    let file = &section.place;
    match &access.approval {
        ApprovalState::Approved => format!(
            "Approved: `spec.approval.planId` of `{}/{}` in {} is `{id}`.",
            m.namespace,
            m.name,
            code_spans(file)
        ),
        state => {
            let now = match state {
                ApprovalState::Stale { given, .. } => format!(
                    " (it is `{given}` now, which is not this plan's id: the plan changed, or the id is mistyped)"
                ),
                _ => String::new(),
            };
            format!(
                "To approve plan `{id}` ({}), commit this edit to `{}/{}` in {}{now}:\n\n\
                 ```yaml\nspec:\n  approval:\n    planId: \"{id}\"\n```\n\n\
                 The controller adds these rules once the edit is applied, and only these: a later \
                 change to the VPC or the spec makes another plan, which needs its own approval.",
                count(access.needs_approval.len(), "rule"),
                m.namespace,
                m.name,
                code_spans(file)
            )
        }
    }
}

/// `text`, or a table folded in `<details>` with `summary` when it has more than
/// [`FOLD_AFTER`] rows (lines after the header).
fn fold(summary: &str, text: &str) -> String {
    let rows = text.lines().filter(|l| !l.starts_with("| ---")).count();
    if rows > FOLD_AFTER + 1 {
        details(summary, text)
    } else {
        text.to_string()
    }
}

fn details(summary: &str, body: &str) -> String {
    format!("<details><summary>{summary}</summary>\n\n{body}\n\n</details>")
}

/// A table cell: no line breaks, no column separators.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A file name or message as inline code when it is a single word (a path), else as is with
/// its table-breaking characters escaped.
fn code_spans(text: &str) -> String {
    if !text.contains(char::is_whitespace) && !text.contains('`') {
        format!("`{text}`")
    } else {
        cell(text)
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}
