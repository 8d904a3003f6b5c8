//! The demo's act after the switch: the rollout is Ready and private DNS is on; seconds later
//! someone removes the rule that admits the Zabbix agent (the week-long incident of the brief,
//! the other way round). The VPC's flow log records the agent's rejected connections to the
//! endpoint; the canary (`spec.verification`) reads them at its next poll, names the source,
//! its network interface and the missing rule, and puts the rule back. Each pass is the
//! controller's ([`reconcile_with_logs`] over the simulated world and its CloudWatch Logs).
//! [`rollback`] plays the same act under `onReject: Rollback`: private DNS is turned off at the
//! first poll (the VPC's route tables show every subnet reaching the internet through the NAT
//! gateway, so nobody is cut off by it), the rule goes back, and private DNS goes on again.

use std::io::Write;
use std::time::Duration;

use super::{DemoError, MAX_PASSES, phase_text};
use crate::api::conditions::{ConditionType, find_condition};
use crate::api::{
    FlowLogsVerification, InterfaceEndpointStatus, OnReject, RejectAction, RemediationMode, RolloutPhase,
    VerificationSpec,
};
use crate::aws::sim::{SimClock, SimEc2};
use crate::cli::table::{Colour, Style};
use crate::engine::{ReconcileOutcome, ReconcileRequest, incident, reconcile_with_logs};
use crate::logs::sim::SimLogs;
use crate::plan::Timing;

/// Where the VPC's flow log delivers.
const FLOW_LOG_GROUP: &str = "/vpc/flow-logs/vpc-0f3e5a7c9b1d24680";

/// How the act ended, for the tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanarySummary {
    /// Virtual time from the rule's removal to the pass that put it back.
    pub caught_after: Duration,
    /// The `Verified` reasons, pass by pass after the removal.
    pub verified: Vec<String>,
    pub phase: RolloutPhase,
}

struct Act {
    style: Style,
    sim: SimEc2,
    logs: SimLogs,
    spec: crate::api::InterfaceEndpointSpec,
    owner: crate::api::Owner,
    status: InterfaceEndpointStatus,
    timing: Timing,
}

impl Act {
    fn pass(&mut self) -> ReconcileOutcome {
        let request = ReconcileRequest {
            spec: &self.spec,
            generation: Some(1),
            owner: &self.owner,
            deleting: false,
            status: &self.status,
            config: &Default::default(),
            observations: None,
            resolver: None,
            now: self.sim.clock().timestamp(),
        };
        let outcome =
            futures::executor::block_on(reconcile_with_logs(&self.sim, &self.logs, &request, &self.timing));
        self.status = outcome.status.clone();
        outcome
    }

    fn show(&self, outcome: &ReconcileOutcome, verbose: bool, out: &mut dyn Write) -> std::io::Result<()> {
        let s = self.style;
        let t = format!("[t+{:>4}s]", self.sim.clock().now().as_secs());
        let ready = find_condition(&outcome.status.conditions, ConditionType::Ready);
        writeln!(
            out,
            "{} {} {}",
            s.paint(Colour::Dim, &t),
            phase_text(s, outcome.status.phase),
            ready.map(|c| c.message.as_str()).unwrap_or_default()
        )?;
        if !verbose {
            return Ok(());
        }
        let pad = " ".repeat(12);
        if let Some(v) = find_condition(&outcome.status.conditions, ConditionType::Verified) {
            super::write_condition(out, s, &pad, v)?;
        }
        for action in &outcome.performed {
            writeln!(
                out,
                "{pad}{} {}",
                s.paint(Colour::Bold, "→"),
                super::describe(action)
            )?;
        }
        super::write_events(out, s, &pad, &outcome.events)
    }

    fn wait(&self, outcome: &ReconcileOutcome) {
        self.sim
            .clock()
            .advance(outcome.requeue.unwrap_or(self.timing.pending_min));
    }
}

/// The act under `onReject: Remediate` (the default): the rule is put back at the first poll.
pub fn run(style: Style, out: &mut dyn Write) -> Result<CanarySummary, DemoError> {
    play(style, out, RejectAction::Remediate)
}

/// The act under `onReject: Rollback`: private DNS off at the first poll, on again once the rule
/// is back.
pub fn rollback(style: Style, out: &mut dyn Write) -> Result<CanarySummary, DemoError> {
    play(style, out, RejectAction::Rollback)
}

fn play(style: Style, out: &mut dyn Write, action: RejectAction) -> Result<CanarySummary, DemoError> {
    let s = style;
    let rolls_back = action == RejectAction::Rollback;
    writeln!(out)?;
    let title = if rolls_back {
        "━━ After the switch, onReject: Rollback: private DNS off until the removed rule is back ━━"
    } else {
        "━━ After the switch: a canary on VPC Flow Logs catches a rule removed by hand ━━━━━━━━━━━"
    };
    writeln!(out, "{}", s.paint(Colour::Bold, title))?;
    let mut spec = incident::spec(RemediationMode::Auto);
    spec.verification = Some(VerificationSpec {
        flow_logs: FlowLogsVerification {
            log_group_name: FLOW_LOG_GROUP.into(),
            window: "15m".into(),
        },
        on_reject: OnReject {
            action,
            ..OnReject::default()
        },
    });
    let sim = SimEc2::new(&incident::world(), SimClock::new());
    sim.create_flow_log(incident::VPC, FLOW_LOG_GROUP, None);
    if rolls_back {
        // The incident VPC's routes: the public subnet through the internet gateway, the
        // private ones through the NAT gateway; the main table holds only the local route.
        use crate::model::Route;
        sim.create_route_table(incident::VPC, true, &[], vec![]);
        sim.create_route_table(
            incident::VPC,
            false,
            &[incident::SUBNET_PUBLIC],
            vec![Route::default_via("igw-0f1e2d3c4b5a69788")],
        );
        sim.create_route_table(
            incident::VPC,
            false,
            &[incident::SUBNET_PRIVATE_A, incident::SUBNET_PRIVATE_C],
            vec![Route::default_via("nat-0c1d2e3f4a5b6c7d8")],
        );
    }
    let logs = SimLogs::new(incident::REGION);
    logs.create_log_group(FLOW_LOG_GROUP);
    let reaction = if rolls_back {
        "onReject: Rollback (every private subnet reaches the internet through the NAT gateway)"
    } else {
        "onReject: Remediate (the default)"
    };
    writeln!(
        out,
        "The Auto run's endpoint, with a canary: spec.verification.flowLogs.logGroupName: {FLOW_LOG_GROUP}\n\
         (the VPC's flow log, default format), window: 15m, {reaction}."
    )?;
    let mut act = Act {
        style,
        sim,
        logs,
        spec,
        owner: incident::owner(),
        status: InterfaceEndpointStatus::default(),
        timing: Timing::default(),
    };

    let mut next_poll = None;
    for _ in 0..MAX_PASSES {
        let outcome = act.pass();
        act.show(&outcome, false, out)?;
        if outcome.status.phase == RolloutPhase::Ready {
            next_poll = Some(act.sim.clock().now() + outcome.requeue.unwrap_or_default());
            break;
        }
        act.wait(&outcome);
    }
    let Some(next_poll) = next_poll else {
        return Err(DemoError::Stuck {
            mode: RemediationMode::Auto,
            phase: act.status.phase,
            passes: MAX_PASSES,
        });
    };
    let poll = act.status.verification.as_ref().map(|v| v.window_end.clone());
    writeln!(
        out,
        "Private DNS is on; the canary reads the flow logs every minute until {}.",
        poll.unwrap_or_default()
    )?;

    // Right after the switch, someone tidies up the endpoint's security group by hand.
    let rule = act
        .sim
        .snapshot()
        .security_group_rules
        .into_iter()
        .find(|r| {
            r.group_id == incident::SG_ENDPOINT
                && r.referenced_group_info.as_ref().map(|g| g.group_id.as_str()) == Some(incident::SG_ZABBIX)
        })
        .expect("the rule the Auto run added");
    act.sim.clock().advance(Duration::from_secs(5));
    let removed_at = act.sim.clock().now();
    act.sim
        .revoke_rule_out_of_band(&rule.security_group_rule_id)
        .expect("the rule exists");
    writeln!(out)?;
    writeln!(
        out,
        "{} $ aws ec2 revoke-security-group-ingress --group-id {} --security-group-rule-ids {}",
        s.paint(Colour::Dim, &format!("[t+{:>4}s]", removed_at.as_secs())),
        incident::SG_ENDPOINT,
        rule.security_group_rule_id
    )?;
    // The agent's next connections are refused; the flow log delivers their records.
    act.sim.clock().advance(Duration::from_secs(20));
    let records = act.sim.flow_log_records(
        &act.spec,
        &act.owner,
        &[incident::ENI_ZABBIX],
        crate::logs::records::DEFAULT_FLOW_LOG_FORMAT,
    );
    writeln!(
        out,
        "{} the Zabbix agent's connections are refused; the flow log delivers to {FLOW_LOG_GROUP}:",
        s.paint(
            Colour::Dim,
            &format!("[t+{:>4}s]", act.sim.clock().now().as_secs())
        ),
    )?;
    for (_, record) in &records {
        writeln!(out, "            {record}")?;
    }
    act.logs.put_events(FLOW_LOG_GROUP, "eni-all", records);
    writeln!(out)?;
    // The controller looks again at its next poll (the requeue the Ready pass asked for).
    let now = act.sim.clock().now();
    act.sim.clock().advance(next_poll.saturating_sub(now));

    let mut verified = Vec::new();
    let mut caught_after = None;
    for _ in 0..MAX_PASSES {
        let outcome = act.pass();
        act.show(&outcome, true, out)?;
        if let Some(v) = find_condition(&outcome.status.conditions, ConditionType::Verified) {
            verified.push(v.reason.clone());
        }
        if caught_after.is_none() && !outcome.performed.is_empty() {
            caught_after = Some(act.sim.clock().now() - removed_at);
        }
        act.wait(&outcome);
        if caught_after.is_some() && outcome.status.phase == RolloutPhase::Ready {
            break;
        }
    }
    let caught_after = caught_after.ok_or(DemoError::Stuck {
        mode: RemediationMode::Auto,
        phase: act.status.phase,
        passes: MAX_PASSES,
    })?;
    writeln!(out)?;
    let done = if rolls_back {
        format!(
            "Rolled back {}s after the rule was removed, at the canary's first poll; private DNS went on again \
             once the rule was back, and the canary window started again.",
            caught_after.as_secs()
        )
    } else {
        format!(
            "Caught and fixed {}s after the rule was removed, at the canary's first poll: minutes, not a week.",
            caught_after.as_secs()
        )
    };
    writeln!(out, "{}", s.paint(Colour::Green, &done))?;
    writeln!(
        out,
        "$ kubectl -n {} get vpce {} -o jsonpath='{{.status.verification}}'",
        act.owner.namespace, act.owner.name
    )?;
    let summary = serde_json::to_string_pretty(&act.status.verification).unwrap_or_default();
    writeln!(out, "{summary}")?;
    Ok(CanarySummary {
        caught_after,
        verified,
        phase: act.status.phase,
    })
}
