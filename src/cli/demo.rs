//! `vpce-rollout demo`: the incident from the brief, replayed by the real engine on the
//! simulated EC2 world, on virtual time. No cluster, no AWS account, no network; a few
//! milliseconds of real time.
//!
//! The loop is the controller's: reconcile, write the status, record the Events, wait the
//! requeue (here: advance the virtual clock). It runs in `Auto` mode, then in `Approval` mode
//! (printing the plan and the exact approval edit, then applying it), shows each step as it
//! happens, and ends with the object as `kubectl get vpce -o yaml` would show it; then
//! ([`tenancy`]) two teams ask for the same endpoint and the grants admit one of them: the
//! other is Forbidden and makes no AWS call; then ([`canary`]) a rule removed by hand right after
//! the switch is caught by the canary on VPC Flow Logs at its first poll and put back.

mod canary;
mod tenancy;

use std::fmt::Write as _;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::ObjectMeta;

use super::table::{Colour, Style, Table};
use crate::api::{
    Approval, FINALIZER, InterfaceEndpoint, InterfaceEndpointSpec, InterfaceEndpointStatus, Owner,
    RemediationMode, RolloutPhase,
};
use crate::aws::sim::{SimClock, SimEc2};
use crate::engine::{ReconcileRequest, incident, reconcile};
use crate::plan::{Action, Timing};

/// Most reconcile passes per run: far more than a rollout takes, so a stuck demo says so.
const MAX_PASSES: usize = 100;

/// Which remediation modes to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoMode {
    /// `endpointIngress: Auto`: the controller adds the missing rule by itself.
    Auto,
    /// `endpointIngress: Approval`: the controller waits for the plan to be approved.
    Approval,
    /// Both, one after the other.
    Both,
    /// Grants: a denied object next to a granted one.
    Grants,
    /// After the switch: a rule removed by hand is caught by the canary on VPC Flow Logs.
    Canary,
    /// The same under `onReject: Rollback`: private DNS off until the rule is back.
    Rollback,
    /// Auto, Approval, grants, then the canary.
    All,
}

/// Options of `vpce-rollout demo`.
#[derive(Clone, Debug, clap::Args)]
pub struct DemoArgs {
    /// Which remediation mode to replay the incident in.
    #[arg(long, value_enum, default_value = "all")]
    pub mode: DemoMode,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSummary {
    pub mode: RemediationMode,
    pub phase: RolloutPhase,
    pub passes: usize,
    pub virtual_time: Duration,
}

/// The demo could not finish (a bug: the rollout should always reach Ready here).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("writing the output failed: {0}")]
    Io(#[from] io::Error),
    #[error("the {mode:?} run did not reach Ready within {passes} passes (stuck in {phase})")]
    Stuck {
        mode: RemediationMode,
        phase: RolloutPhase,
        passes: usize,
    },
}

/// Runs the demo on stdout (colour on a terminal unless `NO_COLOR` is set).
pub fn run(args: &DemoArgs) -> ExitCode {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match run_to(args.mode, Style::detect(), &mut out) {
        Ok(_) => ExitCode::from(super::exit::OK),
        // `vpce-rollout demo | head`: the reader has seen enough.
        Err(DemoError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(super::exit::OK),
        Err(e) => super::fail(e),
    }
}

/// Runs the demo, writing to `out`.
pub fn run_to(mode: DemoMode, style: Style, out: &mut dyn Write) -> Result<Vec<RunSummary>, DemoError> {
    introduce(style, out)?;
    let modes: &[RemediationMode] = match mode {
        DemoMode::Auto => &[RemediationMode::Auto],
        DemoMode::Approval => &[RemediationMode::Approval],
        DemoMode::Both | DemoMode::All => &[RemediationMode::Auto, RemediationMode::Approval],
        DemoMode::Grants | DemoMode::Canary | DemoMode::Rollback => &[],
    };
    let mut summaries = Vec::new();
    for (i, mode) in modes.iter().enumerate() {
        summaries.push(Rollout::new(*mode, style).run(i + 1, out)?);
    }
    if matches!(mode, DemoMode::Grants | DemoMode::All) {
        tenancy::run(style, out)?;
    }
    if matches!(mode, DemoMode::Canary | DemoMode::All) {
        canary::run(style, out)?;
    }
    if mode == DemoMode::Rollback {
        canary::rollback(style, out)?;
    }
    Ok(summaries)
}

/// The phase, padded, coloured by what it asks of the reader.
fn phase_text(s: Style, phase: RolloutPhase) -> String {
    let text = format!("{:<18}", phase.as_str());
    match phase {
        RolloutPhase::Ready => s.paint(Colour::Green, &text),
        RolloutPhase::Failed | RolloutPhase::Degraded => s.paint(Colour::Red, &text),
        RolloutPhase::AwaitingApproval | RolloutPhase::AwaitingAcceptance | RolloutPhase::Blocked => {
            s.paint(Colour::Yellow, &text)
        }
        _ => s.paint(Colour::Bold, &text),
    }
}

fn introduce(s: Style, out: &mut dyn Write) -> io::Result<()> {
    let w = incident::world();
    writeln!(
        out,
        "{}",
        s.paint(
            Colour::Bold,
            "vpce-rollout demo: the incident, replayed on a simulated EC2 world (virtual time, no network)"
        )
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "VPC {} (10.0.0.0/16, enableDnsSupport and enableDnsHostnames on), default network ACLs:",
        incident::VPC
    )?;
    for eni in &w.network_interfaces {
        let groups: Vec<String> = eni
            .groups
            .iter()
            .map(|g| format!("{} ({})", g.group_id, g.group_name.as_deref().unwrap_or("?")))
            .collect();
        writeln!(
            out,
            "  {}  {:<12} {:<11} {}  {}",
            eni.network_interface_id,
            eni.interface_type.as_deref().unwrap_or("interface"),
            eni.private_ip_address.as_deref().unwrap_or("-"),
            groups.join(", "),
            s.paint(Colour::Dim, eni.description.as_deref().unwrap_or_default())
        )?;
    }
    writeln!(
        out,
        "  endpoint security group {} (logs-endpoint) admits tcp/443 only from {} (ingest-lambda)",
        incident::SG_ENDPOINT,
        incident::SG_LAMBDA
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "A CloudWatch Logs endpoint created with private DNS on would make {} resolve to it for",
        incident::PRIVATE_DNS_NAME
    )?;
    writeln!(
        out,
        "every ENI in the VPC, and the Zabbix agent ({}) would quietly lose CloudWatch.",
        incident::ENI_ZABBIX
    )?;
    writeln!(
        out,
        "vpce-rollout creates it with private DNS off, checks every client first, and fixes the path."
    )?;
    Ok(())
}

/// One object rolled out on a fresh simulated world.
struct Rollout {
    mode: RemediationMode,
    style: Style,
    sim: SimEc2,
    owner: Owner,
    spec: InterfaceEndpointSpec,
    generation: i64,
    status: InterfaceEndpointStatus,
    timing: Timing,
}

impl Rollout {
    fn new(mode: RemediationMode, style: Style) -> Self {
        Self {
            mode,
            style,
            sim: SimEc2::new(&incident::world(), SimClock::new()),
            owner: incident::owner(),
            spec: incident::spec(mode),
            generation: 1,
            status: InterfaceEndpointStatus::default(),
            timing: Timing::default(),
        }
    }

    fn run(mut self, number: usize, out: &mut dyn Write) -> Result<RunSummary, DemoError> {
        let s = self.style;
        writeln!(out)?;
        let mode = format!("{:?}", self.mode);
        writeln!(
            out,
            "{}",
            s.paint(Colour::Bold, &format!(
                "━━ Run {number}: spec.remediation.endpointIngress: {mode} ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━"
            ))
        )?;
        writeln!(out, "kubectl apply -f - <<EOF")?;
        out.write_all(self.object().manifest_yaml().as_bytes())?;
        writeln!(out, "EOF")?;
        writeln!(out)?;

        let mut approved = false;
        for pass in 1..=MAX_PASSES {
            let previous = self.status.clone();
            let request = ReconcileRequest {
                spec: &self.spec,
                generation: Some(self.generation),
                owner: &self.owner,
                deleting: false,
                status: &self.status,
                config: &Default::default(),
                now: self.sim.clock().timestamp(),
                observations: None,
                resolver: None,
            };
            let outcome = futures::executor::block_on(reconcile(&self.sim, &request, &self.timing));
            self.status = outcome.status.clone();
            self.show_pass(&previous, &outcome, out)?;

            match self.status.phase {
                RolloutPhase::Ready => {
                    self.finish(pass, out)?;
                    return Ok(RunSummary {
                        mode: self.mode,
                        phase: RolloutPhase::Ready,
                        passes: pass,
                        virtual_time: self.sim.clock().now(),
                    });
                }
                RolloutPhase::AwaitingApproval if !approved => {
                    self.approve(out)?;
                    approved = true;
                    // A spec edit wakes the controller at once.
                    continue;
                }
                _ => {}
            }
            self.sim
                .clock()
                .advance(outcome.requeue.unwrap_or(self.timing.pending_min));
        }
        Err(DemoError::Stuck {
            mode: self.mode,
            phase: self.status.phase,
            passes: MAX_PASSES,
        })
    }

    fn show_pass(
        &self,
        previous: &InterfaceEndpointStatus,
        outcome: &crate::engine::ReconcileOutcome,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let s = self.style;
        let t = format!("[t+{:>4}s]", self.sim.clock().now().as_secs());
        let ready = condition(&outcome.status.conditions, "Ready");
        writeln!(
            out,
            "{} {} {}",
            s.paint(Colour::Dim, &t),
            phase_text(s, outcome.status.phase),
            ready.map(|c| c.message.as_str()).unwrap_or_default()
        )?;
        let pad = " ".repeat(12);
        // What was checked: the conditions that changed in this pass.
        for c in &outcome.status.conditions {
            if c.type_ == "Ready" {
                continue;
            }
            let before = condition(&previous.conditions, &c.type_);
            if before.is_some_and(|b| b.status == c.status && b.reason == c.reason && b.message == c.message)
            {
                continue;
            }
            write_condition(out, s, &pad, c)?;
        }
        for action in &outcome.performed {
            writeln!(out, "{pad}{} {}", s.paint(Colour::Bold, "→"), describe(action))?;
        }
        if let Some(error) = &outcome.error {
            writeln!(
                out,
                "{pad}{} {error} [{}]",
                s.paint(Colour::Red, "!"),
                error.kind.as_str()
            )?;
        }
        write_events(out, s, &pad, &outcome.events)
    }

    /// Prints the plan and the exact approval edit, then applies it as a Git commit would.
    fn approve(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let s = self.style;
        let Some(plan) = self.status.plan.clone() else {
            return Ok(());
        };
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            s.paint(
                Colour::Bold,
                &format!("The plan waits for approval. Review plan {}:", plan.id)
            )
        )?;
        for rule in plan.rules.iter().filter(|r| !r.applied) {
            let peer = rule
                .peer_group_id
                .as_deref()
                .or(rule.cidr.as_deref())
                .unwrap_or("?");
            let preposition = if rule.direction == "ingress" { "from" } else { "to" };
            writeln!(
                out,
                "  {} {} {} {}-{} {preposition} {peer}  (mode {:?})",
                rule.group_id, rule.direction, rule.protocol, rule.from_port, rule.to_port, rule.mode
            )?;
        }
        for block in &plan.unfixable_blocks {
            writeln!(
                out,
                "  unfixable: {}: {} ({} client(s): {})",
                block.check,
                block.detail,
                block.count,
                block.network_interface_ids.join(", ")
            )?;
        }
        writeln!(out, "Approve it in Git by adding to the InterfaceEndpoint:")?;
        writeln!(
            out,
            "{}",
            s.paint(
                Colour::Bold,
                &format!("  spec:\n    approval:\n      planId: \"{}\"", plan.id)
            )
        )?;
        writeln!(out, "or, equivalently:")?;
        writeln!(
            out,
            "{}",
            s.paint(Colour::Bold, &format!(
                "  kubectl -n {} patch vpce {} --type merge -p '{{\"spec\":{{\"approval\":{{\"planId\":\"{}\"}}}}}}'",
                self.owner.namespace, self.owner.name, plan.id
            ))
        )?;
        writeln!(
            out,
            "{}",
            s.paint(Colour::Dim, "Applying that edit (metadata.generation 1 → 2).")
        )?;
        writeln!(out)?;
        self.spec.approval = Some(Approval { plan_id: plan.id });
        self.generation += 1;
        Ok(())
    }

    fn finish(&self, passes: usize, out: &mut dyn Write) -> io::Result<()> {
        let s = self.style;
        let world = self.sim.snapshot();
        let owned: Vec<_> = world
            .security_group_rules
            .iter()
            .filter(|r| self.owner.owns(crate::model::tag_pairs(&r.tags)))
            .collect();
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            s.paint(
                Colour::Green,
                &format!(
                    "Ready after {}s of virtual time and {passes} reconcile passes.",
                    self.sim.clock().now().as_secs()
                )
            )
        )?;
        for rule in owned {
            let peer = rule
                .referenced_group_info
                .as_ref()
                .map_or("?", |g| g.group_id.as_str());
            writeln!(
                out,
                "  rule {} on {}: {} tcp/{} from {} (tagged {}={})",
                rule.security_group_rule_id,
                rule.group_id,
                if rule.is_egress { "egress" } else { "ingress" },
                crate::plan::wording::port_range(rule.from_port.unwrap_or(0), rule.to_port.unwrap_or(65535)),
                peer,
                crate::api::OWNER_TAG,
                self.owner.owner_tag()
            )?;
        }
        writeln!(
            out,
            "  private DNS on: {} now resolves to {} for every client, and every client can reach it.",
            incident::PRIVATE_DNS_NAME,
            self.status.endpoint_id.as_deref().unwrap_or("the endpoint")
        )?;
        writeln!(out)?;
        writeln!(out, "$ kubectl -n {} get vpce", self.owner.namespace)?;
        let mut table = Table::new(&["NAME", "PHASE", "ENDPOINT", "PRIVATE DNS", "CLIENTS", "AGE"]);
        let cell = |text: &str| (text.to_string(), None);
        table.row(vec![
            cell(&self.owner.name),
            cell(self.status.phase.as_str()),
            cell(self.status.endpoint_id.as_deref().unwrap_or("<none>")),
            cell(&self.status.private_dns_enabled.to_string()),
            cell(
                self.status
                    .clients
                    .as_ref()
                    .map_or("<none>", |c| c.ready.as_str()),
            ),
            cell(&format!("{}s", self.sim.clock().now().as_secs())),
        ]);
        out.write_all(table.render(Style::plain(), "").as_bytes())?;
        writeln!(out)?;
        writeln!(
            out,
            "$ kubectl -n {} get vpce {} -o yaml",
            self.owner.namespace, self.owner.name
        )?;
        out.write_all(self.object().full_yaml().as_bytes())?;
        Ok(())
    }

    /// The object as the API server would hold it now.
    fn object(&self) -> ObjectView {
        let mut object = InterfaceEndpoint::new(&self.owner.name, self.spec.clone());
        object.metadata = ObjectMeta {
            name: Some(self.owner.name.clone()),
            namespace: Some(self.owner.namespace.clone()),
            uid: Some(self.owner.uid.clone()),
            generation: Some(self.generation),
            creation_timestamp: Some(Time(crate::aws::sim::clock::SIM_EPOCH)),
            finalizers: Some(vec![FINALIZER.to_string()]),
            ..Default::default()
        };
        object.status = Some(self.status.clone());
        ObjectView(object)
    }
}

struct ObjectView(InterfaceEndpoint);

impl ObjectView {
    /// What a person writes: apiVersion, kind, metadata name and namespace, spec.
    fn manifest_yaml(&self) -> String {
        let value = serde_json::json!({
            "apiVersion": super::manifest::api_version(),
            "kind": super::manifest::KIND,
            "metadata": {"name": self.0.metadata.name, "namespace": self.0.metadata.namespace},
            "spec": self.0.spec,
        });
        serde_yaml::to_string(&value).unwrap_or_default()
    }

    /// Everything, as `kubectl get -o yaml` prints it.
    fn full_yaml(&self) -> String {
        serde_yaml::to_string(&self.0).unwrap_or_default()
    }
}

/// One condition, one line: a tick when it is True, its type, reason and message.
fn write_condition(
    out: &mut dyn Write,
    s: Style,
    pad: &str,
    c: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition,
) -> io::Result<()> {
    let mark = if c.status == "True" {
        s.paint(Colour::Green, "✓")
    } else {
        s.paint(Colour::Yellow, "·")
    };
    writeln!(
        out,
        "{pad}{mark} {:<18} {}: {}",
        c.type_,
        c.reason,
        s.paint(Colour::Dim, &c.message)
    )
}

/// The pass's Events, one line each, Warnings marked.
fn write_events(
    out: &mut dyn Write,
    s: Style,
    pad: &str,
    events: &[crate::plan::EventNote],
) -> io::Result<()> {
    for event in events {
        let kind = if event.warning {
            s.paint(Colour::Yellow, "Warning")
        } else {
            "Normal ".to_string()
        };
        writeln!(
            out,
            "{pad}{kind} {} {}",
            s.paint(Colour::Bold, event.reason.as_str()),
            event.message
        )?;
    }
    Ok(())
}

fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// One line per action, in EC2's terms.
fn describe(action: &Action) -> String {
    match action {
        Action::CreateEndpoint(c) => format!(
            "CreateVpcEndpoint {} in {} subnets {} security groups {} (private DNS off, ClientToken {})",
            c.service_name,
            c.vpc_id,
            c.subnet_ids.join(","),
            c.security_group_ids.join(","),
            c.client_token
        ),
        Action::ModifyEndpoint(m) => {
            let mut text = format!("ModifyVpcEndpoint {}", m.vpc_endpoint_id);
            if let Some(on) = m.private_dns_enabled {
                let _ = write!(text, " PrivateDnsEnabled={on}");
            }
            for (what, ids) in [
                ("AddSubnetIds", &m.add_subnet_ids),
                ("RemoveSubnetIds", &m.remove_subnet_ids),
                ("AddSecurityGroupIds", &m.add_security_group_ids),
                ("RemoveSecurityGroupIds", &m.remove_security_group_ids),
            ] {
                if !ids.is_empty() {
                    let _ = write!(text, " {what}={}", ids.join(","));
                }
            }
            text
        }
        Action::AuthorizeRules(batches) => batches
            .iter()
            .map(|b| {
                let op = if b.egress {
                    "AuthorizeSecurityGroupEgress"
                } else {
                    "AuthorizeSecurityGroupIngress"
                };
                let rules: Vec<String> = b
                    .rules
                    .iter()
                    .map(|r| {
                        format!(
                            "{}/{} {}",
                            r.protocol,
                            r.from_port,
                            crate::plan::wording::peer_text(&r.peer)
                        )
                    })
                    .collect();
                format!(
                    "{op} {} [{}] tagged as this object's",
                    b.group_id,
                    rules.join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        Action::HandOverRules(handovers) => handovers
            .iter()
            .map(|h| {
                format!(
                    "CreateTags {} (handed over to {}, whose endpoint {} needs them)",
                    h.rule_ids.join(","),
                    h.to,
                    h.endpoint_id
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        Action::RevokeRules(batches) => batches
            .iter()
            .map(|b| format!("RevokeSecurityGroupRules {} {}", b.group_id, b.rule_ids.join(",")))
            .collect::<Vec<_>>()
            .join("; "),
        Action::DeleteEndpoint { vpc_endpoint_id } => format!("DeleteVpcEndpoints {vpc_endpoint_id}"),
        Action::TagEndpoint(t) => format!("CreateTags {} (taken over)", t.vpc_endpoint_id),
        Action::TagRules(t) => format!("CreateTags {} (taken over)", t.rule_ids.join(",")),
        Action::SetEndpointTags {
            vpc_endpoint_id,
            tags,
        } => format!(
            "CreateTags {vpc_endpoint_id} {} (spec.tags)",
            tags.iter()
                .map(|t| format!("{}={}", t.key, t.value))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Action::RemoveEndpointTags {
            vpc_endpoint_id,
            keys,
        } => {
            format!(
                "DeleteTags {vpc_endpoint_id} {} (dropped from spec.tags)",
                keys.join(",")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo(mode: DemoMode) -> (Vec<RunSummary>, String) {
        let mut out = Vec::new();
        let summaries = run_to(mode, Style::plain(), &mut out).unwrap();
        (summaries, String::from_utf8(out).unwrap())
    }

    #[test]
    fn the_demo_ends_ready_in_both_modes_with_the_rule_and_private_dns() {
        let (summaries, text) = demo(DemoMode::Both);
        assert_eq!(summaries.len(), 2);
        for s in &summaries {
            assert_eq!(s.phase, RolloutPhase::Ready);
            assert!(s.virtual_time > Duration::from_secs(60), "{s:?}");
        }
        assert!(!text.contains('\x1b'), "no colour unless asked");
        assert!(text.contains("AuthorizeSecurityGroupIngress"));
        assert!(text.contains("PrivateDnsEnabled=true"));
        assert!(
            text.contains("privateDnsEnabled: true"),
            "the final status is printed"
        );
        assert!(text.contains("kind: InterfaceEndpoint"));
        assert!(text.contains(incident::ENI_ZABBIX));
    }

    #[test]
    fn the_canary_catches_a_rule_removed_after_the_switch_within_one_poll_and_fixes_it() {
        let mut out = Vec::new();
        let summary = canary::run(Style::plain(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(summary.caught_after <= Duration::from_secs(60), "{summary:?}");
        assert_eq!(
            summary.verified,
            ["RejectsRemediated", "RejectsResolved"],
            "{text}"
        );
        assert_eq!(summary.phase, RolloutPhase::Ready);
        assert!(
            text.contains("REJECT OK"),
            "the flow log records are printed: {text}"
        );
        assert!(text.contains("Warning TrafficRejected"), "{text}");
        assert!(text.contains("AuthorizeSecurityGroupIngress"), "{text}");
        assert!(text.contains("\"reachableNow\": true"), "{text}");
    }

    #[test]
    fn under_rollback_the_canary_turns_private_dns_off_at_its_first_poll_until_the_rule_is_back() {
        let mut out = Vec::new();
        let summary = canary::rollback(Style::plain(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(summary.caught_after <= Duration::from_secs(60), "{summary:?}");
        assert_eq!(
            summary.verified.first().map(String::as_str),
            Some("RolledBack"),
            "{text}"
        );
        assert_eq!(summary.phase, RolloutPhase::Ready);
        assert!(text.contains("Warning RolledBack"), "{text}");
        assert!(text.contains("RolledBack"), "{text}");
        assert!(text.contains("AuthorizeSecurityGroupIngress"), "{text}");
        assert!(text.contains("restores 1 rejected source"), "{text}");
    }

    #[test]
    fn the_approval_run_prints_the_plan_and_the_exact_edit() {
        let (_, text) = demo(DemoMode::Approval);
        let plan_line = text
            .lines()
            .find(|l| l.starts_with("The plan waits for approval. Review plan "))
            .expect(&text);
        let id = plan_line
            .trim_start_matches("The plan waits for approval. Review plan ")
            .trim_end_matches(':');
        assert!(text.contains(&format!("planId: \"{id}\"")));
        assert!(text.contains(&format!(
            "kubectl -n platform patch vpce cloudwatch-logs --type merge -p '{{\"spec\":{{\"approval\":{{\"planId\":\"{id}\"}}}}}}'"
        )));
        // Private DNS was turned on only after the approval edit.
        let approval_at = text.find("Applying that edit").unwrap();
        let dns_at = text.find("PrivateDnsEnabled=true").unwrap();
        assert!(approval_at < dns_at);
    }
}
