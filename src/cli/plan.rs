//! `vpce-rollout plan -f ENDPOINT.yaml [--snapshot FILE] [-o table|json]`: the analysis the
//! controller would make. With `--snapshot`, offline: no cluster, no AWS account. Without it, the
//! VPC is read live from the account the environment's credentials name (docs/aws.md), the
//! same observation the controller makes; nothing is changed.
//!
//! Exit code 0 when every client can reach the endpoint, 2 when some are blocked, 1 on error
//! (unreadable manifest or snapshot, a spec that does not fit the snapshot, or a VPC where the
//! controller could not enable private DNS).

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use ipnet::IpNet;
use serde::Serialize;

use super::live::{LiveTarget, observe_live};
use super::manifest::{self, Manifest};
use super::table::{Colour, Style, Table};
use super::{exit, fail};
use crate::analysis::{
    Analysis, ClientVerdict, RuleChange, Source, analyze, owned_endpoint, unobserved_endpoint_interfaces,
};
use crate::api::{Owner, RemediationMode, UnfixableBlock};
use crate::aws::RulePeer;
use crate::model::{Snapshot, SnapshotError};
use crate::plan::approval::plan_id;
use crate::plan::preconditions::preconditions;
use crate::plan::status::unfixable_blocks;
use crate::plan::wording::{count, peer_text, port_range};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The InterfaceEndpoint manifest (`-` reads standard input).
    #[arg(short = 'f', long = "filename", value_name = "ENDPOINT.yaml")]
    pub file: PathBuf,
    /// The VPC as `aws ec2 describe-*` (or `vpce-rollout snapshot`) prints it, merged into one
    /// JSON object (docs/snapshot.md), or given as several files (repeat the option), each key
    /// in one file only. Without it, the VPC is read live (read-only EC2 calls).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Vec<PathBuf>,
    /// `table` for people, `json` for programs.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

pub fn run(args: &PlanArgs) -> ExitCode {
    let manifest = match manifest::read(&args.file) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let owner = manifest.owner();
    let (snapshot, source) = match args.snapshot.as_slice() {
        [] => match observe_live_vpc(&manifest, &owner) {
            Ok(s) => (s, format!("the live VPC {}", manifest.spec.vpc_id)),
            Err(e) => return fail(e),
        },
        paths => match read_snapshot(paths) {
            Ok(s) => s,
            Err(e) => return fail(e),
        },
    };
    let analysis = match analyze(&manifest.spec, Some(&owner), &snapshot) {
        Ok(a) => a,
        Err(e) => {
            return fail(format_args!("{} does not fit {source}: {e}", args.file.display(),));
        }
    };
    // What the controller checks before creating the endpoint and before enabling private
    // DNS: a plan it would refuse is an error here too, not a verdict on the clients.
    if manifest.spec.private_dns.enabled {
        let own = owned_endpoint(&manifest.spec, Some(&owner), &snapshot).map(|e| e.vpc_endpoint_id.as_str());
        if let Err(unmet) = preconditions(&manifest.spec, &snapshot, own) {
            return fail(format_args!(
                "private DNS cannot be enabled for {} in {source} ({}): {}",
                args.file.display(),
                unmet.reason.as_str(),
                unmet.message
            ));
        }
    }

    let text = match args.output {
        OutputFormat::Json => {
            let report = PlanReport::new(&manifest, &analysis);
            serde_json::to_string_pretty(&report).expect("a report always serializes") + "\n"
        }
        OutputFormat::Table => render_table(
            &args.file.display().to_string(),
            &manifest,
            &analysis,
            &snapshot,
            Style::detect(),
        ),
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not an error worth a message.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return fail(format_args!("cannot write the plan: {e}"));
        }
    }
    if analysis.all_reachable() {
        ExitCode::from(exit::OK)
    } else {
        ExitCode::from(exit::BLOCKED)
    }
}

/// The snapshot in `paths` (errors name the file), and how to name it in messages.
fn read_snapshot(paths: &[PathBuf]) -> Result<(Snapshot, String), String> {
    let refs: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
    let snapshot = Snapshot::from_files(&refs).map_err(|e| match &e {
        // Concatenated describe outputs: say how to pass them instead.
        SnapshotError::InFile { source, .. } if matches!(**source, SnapshotError::Trailing { .. }) => {
            format!("{e}, or give each describe output its own --snapshot")
        }
        _ => e.to_string(),
    })?;
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Ok((snapshot, format!("the snapshot {}", shown.join(" + "))))
}

/// The VPC of the spec as the account shows it now (region: the spec's, else the environment's).
fn observe_live_vpc(manifest: &Manifest, owner: &Owner) -> Result<Snapshot, String> {
    let spec = &manifest.spec;
    let target = LiveTarget {
        vpc_id: &spec.vpc_id,
        region: spec.region.as_deref(),
        service_name: Some(&spec.service_name),
        owner: (!owner.uid.is_empty()).then_some(owner),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(observe_live(&target)).map_err(|e| e.to_string())
}

/// `10.0.1.10` for a single address, the CIDR otherwise.
fn show_net(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// `10.0.2.10`, or `10.0.2.10 +2` for a client that also sends from two more addresses or
/// prefixes (`-o json` lists them all; a blocked one's reasons name the failing ones).
fn show_address(c: &ClientVerdict) -> String {
    match c.sources.len() {
        0 | 1 => c.address.to_string(),
        n => format!("{} +{}", c.address, n - 1),
    }
}

/// The `-o json` document.
#[derive(Debug, Serialize)]
pub struct PlanReport {
    /// Sorted by ENI id.
    pub clients: Vec<ClientReport>,
    pub excluded: Vec<ExcludedReport>,
    pub plan: RemediationReport,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientReport {
    pub network_interface_id: String,
    pub security_group_ids: Vec<String>,
    pub subnet_id: String,
    /// The primary address.
    pub address: IpAddr,
    /// Every address and prefix the client sends from, primary first.
    pub addresses: Vec<String>,
    /// `Reachable` or `Blocked`.
    pub verdict: &'static str,
    pub reasons: Vec<ReasonReport>,
}

/// One failing check towards one destination.
#[derive(Debug, Serialize)]
pub struct ReasonReport {
    /// `EndpointIngress`, `ClientEgress`, `ClientSubnetNacl` or `EndpointSubnetNacl`.
    pub check: &'static str,
    /// The endpoint ENI address, or the whole subnet CIDR before the endpoint exists.
    pub destination: String,
    /// The client's addresses and prefixes the check fails for; absent for the checks about the
    /// destination only (`ClientEgress`, `ClientSubnetNacl`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<String>,
    pub detail: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExcludedReport {
    pub network_interface_id: String,
    /// `Detached`, `ServiceInterface`, ... ([`crate::analysis::ExclusionReason::code`]).
    pub kind: &'static str,
    pub reason: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemediationReport {
    /// The plan id, as `status.plan.id` ([`crate::api::PLAN_ID_MEANING`]).
    pub id: String,
    pub rules: Vec<RuleReport>,
    /// The blocks the controller cannot fix, in the shape of `status.plan.unfixableBlocks`,
    /// with every client.
    pub unfixable_blocks: Vec<UnfixableBlock>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleReport {
    pub group_id: String,
    /// `ingress` or `egress`.
    pub direction: &'static str,
    pub protocol: String,
    pub from_port: u16,
    pub to_port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_list_id: Option<String>,
}

impl RuleReport {
    fn new(rule: &RuleChange) -> RuleReport {
        let (mut peer_group_id, mut cidr, mut prefix_list_id) = (None, None, None);
        match &rule.peer {
            RulePeer::Group(g) => peer_group_id = Some(g.clone()),
            RulePeer::CidrIpv4(c) | RulePeer::CidrIpv6(c) => cidr = Some(c.clone()),
            RulePeer::PrefixList(p) => prefix_list_id = Some(p.clone()),
        }
        RuleReport {
            group_id: rule.group_id.clone(),
            direction: rule.direction.as_str(),
            protocol: rule.protocol.as_aws(),
            from_port: rule.from_port,
            to_port: rule.to_port,
            peer_group_id,
            cidr,
            prefix_list_id,
        }
    }
}

impl PlanReport {
    pub fn new(manifest: &Manifest, analysis: &Analysis) -> PlanReport {
        let clients = analysis
            .clients
            .iter()
            .map(|c| ClientReport {
                network_interface_id: c.network_interface_id.clone(),
                security_group_ids: c.security_group_ids.clone(),
                subnet_id: c.subnet_id.clone(),
                address: c.address,
                addresses: c.sources.iter().map(Source::text).collect(),
                verdict: verdict(c),
                reasons: c
                    .blocks
                    .iter()
                    .map(|b| ReasonReport {
                        check: b.check.as_str(),
                        destination: show_net(&b.destination),
                        from: b.sources.iter().map(Source::text).collect(),
                        detail: b.detail.clone(),
                    })
                    .collect(),
            })
            .collect();
        let excluded = analysis
            .excluded
            .iter()
            .map(|e| ExcludedReport {
                network_interface_id: e.network_interface_id.clone(),
                kind: e.reason.code(),
                reason: e.reason.to_string(),
            })
            .collect();
        let remediation = &analysis.remediation;
        let modes = &manifest.spec.remediation;
        PlanReport {
            clients,
            excluded,
            plan: RemediationReport {
                id: plan_id(Some(remediation), &[], modes),
                rules: remediation.rules.iter().map(RuleReport::new).collect(),
                unfixable_blocks: unfixable_blocks(analysis, modes, usize::MAX),
            },
        }
    }
}

fn verdict(c: &ClientVerdict) -> &'static str {
    if c.is_reachable() { "Reachable" } else { "Blocked" }
}

/// The table output: destinations, clients, why the blocked ones are blocked, exclusions, a
/// summary, and the plan with the exact approval edit when rules wait for approval.
pub fn render_table(
    file: &str,
    manifest: &Manifest,
    analysis: &Analysis,
    snapshot: &Snapshot,
    style: Style,
) -> String {
    let spec = &manifest.spec;
    let mut out = Vec::<String>::new();

    let heading = |text: &str| style.paint(Colour::Bold, text);
    match &analysis.endpoint_id {
        Some(id) => out.push(format!(
            "{} {id} ({}) in {}",
            heading("Endpoint"),
            spec.service_name,
            spec.vpc_id
        )),
        None => out.push(format!(
            "{} not created yet ({} in {}): checking the whole subnets it will use",
            heading("Endpoint"),
            spec.service_name,
            spec.vpc_id
        )),
    }
    let mut destinations = Table::new(&["DESTINATION", "ENI", "SUBNET", "SECURITY GROUPS"]);
    for d in &analysis.destinations {
        destinations.row(vec![
            (show_net(&d.net), None),
            (
                d.network_interface_id
                    .clone()
                    .unwrap_or_else(|| "(whole subnet)".into()),
                None,
            ),
            (d.subnet_id.clone(), None),
            (d.security_group_ids.join(","), None),
        ]);
    }
    out.push(destinations.render(style, "  "));
    if let Some(endpoint) = owned_endpoint(spec, Some(&manifest.owner()), snapshot) {
        let missing = unobserved_endpoint_interfaces(endpoint, snapshot);
        if !missing.is_empty() {
            out.push(style.paint(
                Colour::Yellow,
                &format!(
                    "  note: the snapshot does not describe {} of {}; their subnets are checked whole",
                    missing.join(", "),
                    endpoint.vpc_endpoint_id
                ),
            ));
        }
    }
    out.push(String::new());

    if analysis.clients.is_empty() {
        out.push("No clients: no ENI in the VPC would be captured by private DNS.".into());
    } else {
        let mut clients = Table::new(&[
            "CLIENT",
            "TYPE",
            "SUBNET",
            "ADDRESS",
            "SECURITY GROUPS",
            "VERDICT",
        ]);
        for c in &analysis.clients {
            let verdict = if c.is_reachable() {
                ("Reachable".to_string(), Some(Colour::Green))
            } else {
                let checks: Vec<&str> = c.failing_checks().iter().map(|k| k.as_str()).collect();
                (format!("Blocked: {}", checks.join(", ")), Some(Colour::Red))
            };
            clients.row(vec![
                (c.network_interface_id.clone(), None),
                (c.interface_type.clone(), None),
                (c.subnet_id.clone(), None),
                (show_address(c), None),
                (c.security_group_ids.join(","), None),
                verdict,
            ]);
        }
        out.push(clients.render(style, ""));
    }

    let blocked: Vec<&ClientVerdict> = analysis.blocked().collect();
    if !blocked.is_empty() {
        out.push(String::new());
        out.push(heading("Why blocked:"));
        let mut why = Table::new(&["CLIENT", "TO", "CHECK", "DETAIL"]);
        for c in &blocked {
            for b in &c.blocks {
                why.row(vec![
                    (c.network_interface_id.clone(), None),
                    (show_net(&b.destination), None),
                    (b.check.as_str().to_string(), Some(Colour::Red)),
                    (b.detail.clone(), None),
                ]);
            }
        }
        out.push(why.render(style, "  "));
    }

    if !analysis.excluded.is_empty() {
        out.push(String::new());
        out.push(heading(&format!("Excluded ({}):", analysis.excluded.len())));
        let mut excluded = Table::new(&["ENI", "REASON"]);
        for e in &analysis.excluded {
            excluded.row(vec![
                (e.network_interface_id.clone(), Some(Colour::Dim)),
                (e.reason.to_string(), Some(Colour::Dim)),
            ]);
        }
        out.push(excluded.render(style, "  "));
    }

    let remediation = &analysis.remediation;
    let unfixable_clients: std::collections::BTreeSet<&str> = remediation
        .unfixable
        .iter()
        .map(|u| u.network_interface_id.as_str())
        .collect();
    out.push(String::new());
    let summary = format!(
        "{}: {} reachable, {} blocked ({} fixable by the plan, {} not), {} excluded.",
        count(analysis.clients.len(), "client"),
        analysis.clients.len() - blocked.len(),
        blocked.len(),
        blocked.len() - unfixable_clients.len(),
        unfixable_clients.len(),
        count(analysis.excluded.len(), "ENI"),
    );
    let colour = if blocked.is_empty() {
        Colour::Green
    } else {
        Colour::Red
    };
    out.push(style.paint(colour, &summary));

    if remediation.rules.is_empty() && remediation.unfixable.is_empty() {
        out.push("No rules needed.".into());
        return out.join("\n") + "\n";
    }

    let modes = &spec.remediation;
    let plan_id = plan_id(Some(remediation), &[], modes);
    if !remediation.rules.is_empty() {
        out.push(String::new());
        out.push(heading(&format!(
            "Plan {plan_id}: {}",
            count(remediation.rules.len(), "rule")
        )));
        let mut rules = Table::new(&["GROUP", "DIRECTION", "PROTOCOL", "PORTS", "PEER", "MODE"]);
        for r in &remediation.rules {
            let ports = port_range(i32::from(r.from_port), i32::from(r.to_port));
            let peer = peer_text(&r.peer).to_string();
            let mode = match r.mode(modes) {
                RemediationMode::Auto => ("Auto: the controller adds it".to_string(), Some(Colour::Green)),
                RemediationMode::Approval => {
                    ("Approval: added once approved".to_string(), Some(Colour::Yellow))
                }
                RemediationMode::Off => (
                    "Off: never added by the controller".to_string(),
                    Some(Colour::Red),
                ),
            };
            rules.row(vec![
                (r.group_id.clone(), None),
                (r.direction.as_str().to_string(), None),
                (r.protocol.as_aws(), None),
                (ports, None),
                (peer, None),
                mode,
            ]);
        }
        out.push(rules.render(style, "  "));

        if remediation.rules_needing_approval(modes).next().is_some() {
            let approved = spec.approval.as_ref().is_some_and(|a| a.plan_id == plan_id);
            if approved {
                out.push(format!("Approved: spec.approval.planId in {file} is {plan_id}."));
            } else {
                out.push(format!("To approve, set in {file}:"));
                out.push(format!("  spec:\n    approval:\n      planId: \"{plan_id}\""));
            }
        }
        if remediation
            .rules
            .iter()
            .any(|r| r.mode(modes) == RemediationMode::Off)
        {
            out.push(
                "Rules in mode Off must be added by someone else (or allow them in spec.remediation)."
                    .to_string(),
            );
        }
    }

    if !remediation.unfixable.is_empty() {
        out.push(String::new());
        out.push(heading(
            "Not fixable by the controller (it never changes network ACLs; details above):",
        ));
        let mut unfixable = Table::new(&["CLIENT", "CHECK"]);
        for u in &remediation.unfixable {
            unfixable.row(vec![
                (u.network_interface_id.clone(), None),
                (u.check.as_str().to_string(), Some(Colour::Red)),
            ]);
        }
        out.push(unfixable.render(style, "  "));
    }
    out.join("\n") + "\n"
}
