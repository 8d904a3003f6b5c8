//! `vpce-rollout plan -f ENDPOINT.yaml [-f DIR ...] [--snapshot FILE] [-o table|json|markdown]`:
//! the analysis the controller would make, for every InterfaceEndpoint in the manifests. With
//! `--snapshot`, offline: no cluster, no AWS account. Without it, each VPC is read live from
//! the account the environment's credentials name (docs/aws.md), the same observation the
//! controller makes; nothing is changed.
//!
//! One exit code for all the endpoints, the worst ([`Outcome`]): 0 when every client can reach
//! its endpoint, 2 when clients are blocked and the plan fixes every one of them (the
//! controller adds the rules itself, or once approved), 3 when something the plan cannot fix
//! stands in the way (network ACLs, a mode set to Off, a group it may not change, a private DNS
//! precondition or the service owner's acceptance: the controller's own checks), 1 on error
//! (an unreadable manifest, document or snapshot, a spec that does not fit the snapshot).

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use clap::{Args, ValueEnum};
use ipnet::IpNet;
use serde::Serialize;

use super::live::{LiveTarget, observe_live};
use super::manifest::{self, Entry, Manifest};
use super::review;
use super::table::{Colour, Style, Table};
use super::{exit, fail};
use crate::analysis::{
    Analysis, Check, ClientVerdict, Ports, RuleChange, RuleScope, Source, analyze_with_evidence,
    owned_endpoint, service_region_problem, unobserved_endpoint_interfaces,
};
use crate::api::{Owner, RemediationMode, UnfixableBlock};
use crate::aws::RulePeer;
use crate::aws::sdk::{SdkOptions, SdkProvider};
use crate::logs::{LogsPort, QueryPolling};
use crate::model::{Snapshot, SnapshotError};
use crate::plan::approval::plan_id;
use crate::plan::preconditions::{Unmet, acceptance, unmet};
use crate::plan::status::unfixable_blocks;
use crate::plan::wording::{count, peer_text, port_range};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// InterfaceEndpoint manifests: a file (several documents, `---` between them), a
    /// directory (its .yaml, .yml and .json files) or `-` for standard input; repeat the option
    /// for more. Objects of other kinds are skipped with a note.
    #[arg(short = 'f', long = "filename", value_name = "ENDPOINT.yaml", required = true)]
    pub files: Vec<PathBuf>,
    /// The VPC as `aws ec2 describe-*` (or `vpce-rollout snapshot`) prints it, merged into one
    /// JSON object (docs/snapshot.md), or given as several files (repeat the option), each key
    /// in one file only. Without it, the VPC is read live (read-only EC2 calls).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Vec<PathBuf>,
    /// `table` for people, `json` for programs, `markdown` for a pull request's review comment.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Markdown,
}

/// What one InterfaceEndpoint's plan means for a pipeline, worst last: the exit code is the
/// worst over every endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Outcome {
    /// Every client can reach the endpoint, and nothing blocks the switch to private DNS.
    Reachable,
    /// Clients are blocked, and the plan fixes every one of them: the controller adds the
    /// rules itself (`Auto`) or once the plan is approved (`Approval`).
    FixedByPlan,
    /// Something the plan cannot fix: a client blocked by a network ACL, by a rule whose mode
    /// is `Off`, or by a rule on a group the controller may not change; or a private DNS
    /// precondition, or the service owner's acceptance, that blocks the switch.
    NotFixableByPlan,
}

impl Outcome {
    /// The exit code: 0, 2, 3 ([`exit`]).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Reachable => exit::OK,
            Outcome::FixedByPlan => exit::BLOCKED,
            Outcome::NotFixableByPlan => exit::NOT_FIXABLE,
        }
    }

    /// `all reachable`, `fixed by the plan`, `not fixable by the plan`: how many endpoints have
    /// each outcome.
    pub fn tally(self) -> &'static str {
        match self {
            Outcome::Reachable => "all reachable",
            Outcome::FixedByPlan => "fixed by the plan",
            Outcome::NotFixableByPlan => "not fixable by the plan",
        }
    }

    /// `all clients reachable`, `blocked, fixed by the plan`, `not fixable by the plan`.
    pub fn text(self) -> &'static str {
        match self {
            Outcome::Reachable => "all clients reachable",
            Outcome::FixedByPlan => "blocked, fixed by the plan",
            Outcome::NotFixableByPlan => "not fixable by the plan",
        }
    }
}

/// One InterfaceEndpoint's plan, as every output shows it.
pub struct Section {
    /// `file` or `file, document 2`.
    pub place: String,
    pub manifest: Manifest,
    pub analysis: Analysis,
    /// This object's endpoint and the ENIs of it the VPC as read does not describe (their
    /// subnets are checked whole), when there are any: all the outputs need of the VPC besides
    /// the analysis, so that the VPC is freed before they are written.
    pub unobserved_interfaces: Option<(String, Vec<String>)>,
    /// What will block the switch to private DNS whatever the rules: the preconditions the
    /// controller checks, and the acceptance the service's owner must give.
    pub blockers: Vec<Unmet>,
}

impl Section {
    pub fn new(place: String, manifest: Manifest, snapshot: &Snapshot, analysis: Analysis) -> Section {
        let spec = &manifest.spec;
        let owner = manifest.owner();
        let own = owned_endpoint(spec, Some(&owner), snapshot);
        let mut blockers = Vec::new();
        if spec.private_dns.enabled {
            // The controller's own decision, all of it: it stops at the first.
            blockers = unmet(spec, snapshot, own.map(|e| e.vpc_endpoint_id.as_str()));
        }
        blockers.extend(acceptance(spec, snapshot, own));
        let unobserved_interfaces = own
            .map(|e| {
                (
                    e.vpc_endpoint_id.clone(),
                    unobserved_endpoint_interfaces(e, snapshot)
                        .into_iter()
                        .map(str::to_string)
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, missing)| !missing.is_empty());
        Section {
            place,
            manifest,
            analysis,
            blockers,
            unobserved_interfaces,
        }
    }

    /// The plan's id, as `status.plan.id` will show it.
    pub fn plan_id(&self) -> String {
        plan_id(
            Some(&self.analysis.remediation),
            &[],
            &self.manifest.spec.remediation,
        )
    }

    /// Whether the plan fixes `client` (no network ACL block, no rule of mode Off, no rule
    /// the controller may not add).
    pub fn fixes(&self, client: &ClientVerdict) -> bool {
        let modes = &self.manifest.spec.remediation;
        let unfixable = self
            .analysis
            .remediation
            .unfixable
            .iter()
            .any(|u| u.network_interface_id == client.network_interface_id);
        !unfixable
            && client.failing_checks().iter().all(|check| match check {
                Check::EndpointIngress => modes.endpoint_ingress != RemediationMode::Off,
                Check::ClientEgress => modes.client_egress != RemediationMode::Off,
                Check::ClientSubnetNacl | Check::EndpointSubnetNacl => false,
            })
    }

    pub fn outcome(&self) -> Outcome {
        if !self.blockers.is_empty() || self.analysis.blocked().any(|c| !self.fixes(c)) {
            Outcome::NotFixableByPlan
        } else if self.analysis.all_reachable() {
            Outcome::Reachable
        } else {
            Outcome::FixedByPlan
        }
    }
}

/// The worst outcome of `sections`; `Reachable` when there are none.
pub fn overall(sections: &[Section]) -> Outcome {
    sections
        .iter()
        .map(Section::outcome)
        .max()
        .unwrap_or(Outcome::Reachable)
}

pub fn run(args: &PlanArgs) -> ExitCode {
    let documents = match manifest::read_all(&args.files) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    // Read once for every manifest; a live VPC is read for each manifest.
    let offline = match args.snapshot.as_slice() {
        [] => None,
        paths => match read_snapshot(paths) {
            Ok((snapshot, source)) => Some((Rc::new(snapshot), source)),
            Err(e) => return fail(e),
        },
    };
    let mut sections = Vec::new();
    let mut skipped = Vec::new();
    for document in documents {
        let place = document.place();
        let manifest = match document.entry {
            Entry::Endpoint(m) => m,
            Entry::Skipped(what) => {
                skipped.push(format!("{place}: {what} is not an InterfaceEndpoint; skipped"));
                continue;
            }
        };
        let owner = manifest.owner();
        let (snapshot, source) = match &offline {
            Some((snapshot, source)) => (snapshot.clone(), source.clone()),
            None => match observe_live_vpc(&manifest, &owner) {
                Ok(s) => (Rc::new(s), format!("the live VPC {}", manifest.spec.vpc_id)),
                Err(e) => return fail(format_args!("{place}: {e}")),
            },
        };
        // The evidence the spec names: read live as the controller reads it; a snapshot file holds
        // none, and then every client is checked, as the controller does when it cannot read it.
        let evidence = if offline.is_none() {
            read_live_evidence(&manifest, &snapshot)
        } else {
            manifest
                .spec
                .clients
                .evidence
                .as_ref()
                .and_then(|e| e.resolver_query_logs.as_ref())
                .map(|logs| crate::plan::evidence::EvidenceRead {
                    log_group_name: logs.log_group_name.clone(),
                    lookback: logs.lookback.clone(),
                    outcome: Err("a snapshot file holds no query logs".into()),
                })
        };
        if let Some(Err(why)) = evidence.as_ref().map(|e| &e.outcome) {
            eprintln!(
                "note: {place}: evidence not read ({why}): every client the configuration shows is checked"
            );
        }
        let spec = crate::plan::evidence::effective_spec(&manifest.spec, evidence.as_ref());
        let attribution = evidence.as_ref().and_then(|e| e.attribution());
        let analysis =
            match analyze_with_evidence(&spec, Some(&owner), &snapshot, &RuleScope::default(), attribution) {
                Ok(a) => a,
                Err(e) => return fail(format_args!("{place} does not fit {source}: {e}")),
            };
        // Observed live, the service was asked for in its region; a snapshot file says something
        // about it only when it holds ServiceDetails.
        let services_known = offline.is_none() || !snapshot.service_details.is_empty();
        if services_known && let Some(problem) = service_region_problem(&manifest.spec, &snapshot) {
            return fail(format_args!("{place} does not fit {source}: {problem}"));
        }
        sections.push(Section::new(place, manifest, &snapshot, analysis));
    }
    // Every output is made from the sections alone: the VPC's tens of megabytes go first.
    drop(offline);

    let code = overall(&sections).exit_code();
    // Written as it is made, through one buffer: the report of a 20,000-ENI VPC is tens of
    // megabytes, which a string would hold whole in memory before the first byte went out.
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = match args.output {
        OutputFormat::Json => {
            for note in &skipped {
                eprintln!("note: {note}");
            }
            let reports: Vec<PlanReport> = sections.iter().map(PlanReport::of).collect();
            drop(sections);
            write_json(&mut stdout, &reports)
        }
        OutputFormat::Table => {
            for note in &skipped {
                eprintln!("note: {note}");
            }
            write_tables(&mut stdout, &sections, Style::detect())
        }
        OutputFormat::Markdown => stdout.write_all(review::render(&sections, &skipped).as_bytes()),
    };
    if let Err(e) = written.and_then(|()| stdout.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not an error worth a message.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return fail(format_args!("cannot write the plan: {e}"));
        }
    }
    ExitCode::from(code)
}

/// `-o json`: the report of the one InterfaceEndpoint, or an array of them when the manifests
/// hold another number; keys sorted (the reports' fields are declared in that order), written
/// as they are serialized.
fn write_json(out: &mut impl Write, reports: &[PlanReport]) -> std::io::Result<()> {
    match reports {
        [one] => serde_json::to_writer_pretty(&mut *out, one)?,
        all => serde_json::to_writer_pretty(&mut *out, all)?,
    }
    out.write_all(b"\n")
}

/// The tables of every section, each under its place when there are several, written section
/// by section.
fn write_tables(stdout: &mut impl Write, sections: &[Section], style: Style) -> std::io::Result<()> {
    for (i, section) in sections.iter().enumerate() {
        let mut out = String::new();
        if sections.len() > 1 {
            if i > 0 {
                out.push('\n');
            }
            let m = &section.manifest;
            out.push_str(&style.paint(
                Colour::Bold,
                &format!("== {}/{} ({}) ==", m.namespace, m.name, section.place),
            ));
            out.push('\n');
        }
        stdout.write_all(out.as_bytes())?;
        let table = render_table(
            &section.place,
            &section.manifest,
            &section.analysis,
            section.unobserved_interfaces.as_ref(),
            style,
        );
        stdout.write_all(table.as_bytes())?;
        drop(table);
        let mut out = String::new();
        if !section.blockers.is_empty() {
            out.push('\n');
            out.push_str(&style.paint(
                Colour::Bold,
                "Blocks the switch to private DNS (not fixable by the plan):",
            ));
            out.push('\n');
            for b in &section.blockers {
                out.push_str(&format!("  {}: {}\n", b.reason.as_str(), b.message));
            }
        }
        stdout.write_all(out.as_bytes())?;
    }
    if sections.is_empty() {
        stdout.write_all(b"No InterfaceEndpoint in the manifests.\n")?;
    }
    Ok(())
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

/// The evidence the spec names, read live as the controller reads it; `None` when it names none.
fn read_live_evidence(
    manifest: &Manifest,
    snapshot: &Snapshot,
) -> Option<crate::plan::evidence::EvidenceRead> {
    manifest.spec.clients.evidence.as_ref()?;
    let spec = &manifest.spec;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let logs = match SdkProvider::from_environment(spec.region.as_deref(), SdkOptions::default()).await {
            Ok(provider) => match provider.logs_for(spec.region.as_deref()) {
                Ok(port) => LogsPort::Ready(port),
                Err(e) => LogsPort::Unavailable(e.to_string()),
            },
            Err(e) => LogsPort::Unavailable(e.to_string()),
        };
        let now = k8s_openapi::jiff::Timestamp::now();
        crate::engine::evidence::observe(&logs, spec, snapshot, &spec.vpc_id, now, QueryPolling::default())
            .await
    })
}

/// The VPC of the spec as the account shows it now (region: the spec's, else the environment's).
fn observe_live_vpc(manifest: &Manifest, owner: &Owner) -> Result<Snapshot, String> {
    let spec = &manifest.spec;
    let target = LiveTarget {
        vpc_id: &spec.vpc_id,
        region: spec.region.as_deref(),
        service_name: Some(&spec.service_name),
        service_region: spec.service_region.as_deref(),
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

/// The `-o json` document of one InterfaceEndpoint.
///
/// The fields of these report types are declared in the order of their JSON keys, sorted (as
/// the output has always had them): the report is written straight from them, with no JSON
/// value tree in between (a test checks that both give the same bytes).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanReport {
    /// Sorted by ENI id.
    pub clients: Vec<ClientReport>,
    pub excluded: Vec<ExcludedReport>,
    /// The manifest file, and the document when the file holds several.
    pub file: String,
    pub name: String,
    pub namespace: String,
    /// `Reachable`, `FixedByPlan` or `NotFixableByPlan` (exit code 0, 2, 3).
    pub outcome: Outcome,
    pub plan: RemediationReport,
    /// What blocks the switch to private DNS whatever the rules, with the condition reason
    /// the controller would report.
    pub switch_blockers: Vec<BlockerReport>,
}

#[derive(Debug, Serialize)]
pub struct BlockerReport {
    pub message: String,
    pub reason: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientReport {
    /// The primary address.
    pub address: IpAddr,
    /// Every address and prefix the client sends from, primary first.
    pub addresses: Vec<String>,
    /// What the Resolver query logs show of it (when the spec names them and they were read):
    /// queries of the service's name in the lookback, and the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceReport>,
    pub network_interface_id: String,
    pub reasons: Vec<ReasonReport>,
    pub security_group_ids: Vec<String>,
    pub subnet_id: String,
    /// `Reachable` or `Blocked`.
    pub verdict: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceReport {
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    pub queries: u64,
}

fn evidence_report(c: &ClientVerdict) -> Option<EvidenceReport> {
    let e = c.evidence.as_ref()?;
    Some(EvidenceReport {
        queries: e.queries,
        last_seen: e
            .last_seen_ms
            .and_then(|ms| k8s_openapi::jiff::Timestamp::from_millisecond(ms).ok())
            .map(|t| t.to_string()),
    })
}

/// One failing check towards one destination.
#[derive(Debug, Serialize)]
pub struct ReasonReport {
    /// `EndpointIngress`, `ClientEgress`, `ClientSubnetNacl` or `EndpointSubnetNacl`.
    pub check: &'static str,
    /// The endpoint ENI address, or the whole subnet CIDR before the endpoint exists.
    pub destination: String,
    pub detail: String,
    /// The client's addresses and prefixes the check fails for; absent for the checks about the
    /// destination only (`ClientEgress`, `ClientSubnetNacl`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<String>,
    /// The ports of `spec.ports` the check fails on.
    pub ports: Ports,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExcludedReport {
    /// `Detached`, `ServiceInterface`, ... ([`crate::analysis::ExclusionReason::code`]).
    pub kind: &'static str,
    pub network_interface_id: String,
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
    pub unfixable_blocks: Vec<UnfixableReport>,
}

/// A [`UnfixableBlock`] of the status, its keys in order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnfixableReport {
    pub check: String,
    pub count: u32,
    pub detail: String,
    pub network_interface_ids: Vec<String>,
}

impl From<UnfixableBlock> for UnfixableReport {
    fn from(b: UnfixableBlock) -> UnfixableReport {
        UnfixableReport {
            check: b.check,
            count: b.count,
            detail: b.detail,
            network_interface_ids: b.network_interface_ids,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// `ingress` or `egress`.
    pub direction: &'static str,
    pub from_port: u16,
    pub group_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_group_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_list_id: Option<String>,
    pub protocol: String,
    pub to_port: u16,
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
    pub fn of(section: &Section) -> PlanReport {
        let manifest = &section.manifest;
        let analysis = &section.analysis;
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
                        ports: b.ports.clone(),
                        from: b.sources.iter().map(Source::text).collect(),
                        detail: b.detail.clone(),
                    })
                    .collect(),
                evidence: evidence_report(c),
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
            file: section.place.clone(),
            namespace: manifest.namespace.clone(),
            name: manifest.name.clone(),
            outcome: section.outcome(),
            switch_blockers: section
                .blockers
                .iter()
                .map(|b| BlockerReport {
                    reason: b.reason.as_str(),
                    message: b.message.clone(),
                })
                .collect(),
            clients,
            excluded,
            plan: RemediationReport {
                id: plan_id(Some(remediation), &[], modes),
                rules: remediation.rules.iter().map(RuleReport::new).collect(),
                unfixable_blocks: unfixable_blocks(analysis, modes, usize::MAX)
                    .into_iter()
                    .map(UnfixableReport::from)
                    .collect(),
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
    unobserved_interfaces: Option<&(String, Vec<String>)>,
    style: Style,
) -> String {
    let spec = &manifest.spec;
    let mut out = Vec::<String>::new();

    let heading = |text: &str| style.paint(Colour::Bold, text);
    match &analysis.endpoint_id {
        Some(id) => out.push(format!(
            "{} {id} ({}) in {}, clients on {}",
            heading("Endpoint"),
            spec.service_name,
            spec.vpc_id,
            analysis.ports.tcp()
        )),
        None => out.push(format!(
            "{} not created yet ({} in {}, clients on {}): checking the whole subnets it will use",
            heading("Endpoint"),
            spec.service_name,
            spec.vpc_id,
            analysis.ports.tcp()
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
    if let Some((endpoint_id, missing)) = unobserved_interfaces {
        out.push(style.paint(
            Colour::Yellow,
            &format!(
                "  note: the snapshot does not describe {} of {endpoint_id}; their subnets are checked whole",
                missing.join(", "),
            ),
        ));
    }
    out.push(String::new());

    if analysis.clients.is_empty() {
        out.push("No clients: no ENI in the VPC would be captured by private DNS.".into());
    } else {
        let with_evidence = spec.clients.evidence.is_some();
        let mut columns = vec![
            "CLIENT",
            "TYPE",
            "SUBNET",
            "ADDRESS",
            "SECURITY GROUPS",
            "VERDICT",
        ];
        if with_evidence {
            columns.push("EVIDENCE");
        }
        let mut clients = Table::new(&columns);
        for c in &analysis.clients {
            let verdict = if c.is_reachable() {
                ("Reachable".to_string(), Some(Colour::Green))
            } else {
                let checks: Vec<&str> = c.failing_checks().iter().map(|k| k.as_str()).collect();
                (format!("Blocked: {}", checks.join(", ")), Some(Colour::Red))
            };
            let mut row = vec![
                (c.network_interface_id.clone(), None),
                (c.interface_type.clone(), None),
                (c.subnet_id.clone(), None),
                (show_address(c), None),
                (c.security_group_ids.join(","), None),
                verdict,
            ];
            if with_evidence {
                row.push(match evidence_report(c) {
                    Some(e) => (
                        format!(
                            "{} {}, last {}",
                            e.queries,
                            if e.queries == 1 { "query" } else { "queries" },
                            e.last_seen.as_deref().unwrap_or("unknown")
                        ),
                        None,
                    ),
                    None => ("none".to_string(), Some(Colour::Dim)),
                });
            }
            clients.row(row);
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
        out.push(heading("Not fixable by the controller:"));
        let mut unfixable = Table::new(&["CLIENT", "CHECK", "WHY"]);
        for u in &remediation.unfixable {
            // An ACL block's why is the block itself, shown above; the others say here why no
            // rule is proposed (a group not granted, another account's, EC2's rules quota).
            let why = if u.check.is_fixable() {
                u.detail.clone()
            } else {
                "the controller never changes network ACLs (see above)".to_string()
            };
            unfixable.row(vec![
                (u.network_interface_id.clone(), None),
                (u.check.as_str().to_string(), Some(Colour::Red)),
                (why, None),
            ]);
        }
        out.push(unfixable.render(style, "  "));
    }
    out.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report with every optional key present, and two of each list.
    fn full_report() -> PlanReport {
        let reason = ReasonReport {
            check: "EndpointIngress",
            destination: "10.0.1.5".into(),
            detail: "no ingress rule".into(),
            from: vec!["10.0.2.10".into(), "10.0.2.48/28".into()],
            ports: Ports::new([443, 8080]),
        };
        let client = ClientReport {
            address: "10.0.2.10".parse().unwrap(),
            addresses: vec!["10.0.2.10".into(), "2600:1f14::10".into()],
            evidence: Some(EvidenceReport {
                last_seen: Some("2026-12-07T22:00:00Z".into()),
                queries: 3,
            }),
            network_interface_id: "eni-1".into(),
            reasons: vec![
                reason,
                ReasonReport {
                    check: "ClientEgress",
                    destination: "10.0.1.0/24".into(),
                    detail: "no egress rule".into(),
                    from: vec![],
                    ports: Ports::https(),
                },
            ],
            security_group_ids: vec!["sg-a".into(), "sg-b".into()],
            subnet_id: "subnet-1".into(),
            verdict: "Blocked",
        };
        let rule = RuleReport {
            cidr: Some("10.0.0.0/16".into()),
            direction: "ingress",
            from_port: 443,
            group_id: "sg-vpce".into(),
            peer_group_id: Some("sg-a".into()),
            prefix_list_id: Some("pl-1".into()),
            protocol: "tcp".into(),
            to_port: 443,
        };
        PlanReport {
            clients: vec![client],
            excluded: vec![ExcludedReport {
                kind: "Detached",
                network_interface_id: "eni-2".into(),
                reason: "detached".into(),
            }],
            file: "endpoint.yaml".into(),
            name: "logs".into(),
            namespace: "platform".into(),
            outcome: Outcome::NotFixableByPlan,
            plan: RemediationReport {
                id: "0123456789".into(),
                rules: vec![rule],
                unfixable_blocks: vec![UnfixableReport::from(UnfixableBlock {
                    check: "ClientSubnetNacl".into(),
                    detail: "acl-1 rule 100 denies".into(),
                    count: 2,
                    network_interface_ids: vec!["eni-3".into(), "eni-4".into()],
                })],
            },
            switch_blockers: vec![BlockerReport {
                message: "the VPC has DNS hostnames off".into(),
                reason: "DnsHostnamesDisabled",
            }],
        }
    }

    #[test]
    fn the_json_report_written_straight_has_its_keys_sorted_as_a_json_value_has_them() {
        let report = full_report();
        let straight = serde_json::to_string_pretty(&report).unwrap();
        let value = serde_json::to_string_pretty(&serde_json::to_value(&report).unwrap()).unwrap();
        assert_eq!(straight, value);
        let mut written = Vec::new();
        write_json(&mut written, std::slice::from_ref(&report)).unwrap();
        assert_eq!(String::from_utf8(written).unwrap(), value + "\n");
        let two = [full_report(), full_report()];
        let mut written = Vec::new();
        write_json(&mut written, &two).unwrap();
        let value = serde_json::to_string_pretty(&serde_json::to_value(&two).unwrap()).unwrap();
        assert_eq!(String::from_utf8(written).unwrap(), value + "\n");
    }
}
