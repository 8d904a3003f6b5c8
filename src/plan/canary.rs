//! The canary after the switch: what the flow logs say the network did once private DNS went
//! on, and what it leads to. Pure: the engine reads the flow logs through the CloudWatch Logs
//! port (and the records' format through the EC2 port) and hands the read in.
//!
//! - [`on_since`]: when private DNS was first seen on (the window starts there).
//! - [`reaction`]: `spec.verification.onReject.action` in the window, `afterWindow` after it.
//! - [`with_rejects`]: under `Remediate`, every rejected source becomes an evidenced client of
//!   the analysis (an ENI of the VPC, or a client outside it), so the plan is recomputed with it
//!   and the rules the modes allow are added by the decision, at once.
//! - [`report`]: condition `Verified`, `status.verification`, and for a rejected source nothing
//!   fixes now, phase Degraded and a `TrafficRejected` Warning Event.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::wording::{count, sources_are, with_more};
use super::{EventNote, EventReason};
use crate::analysis::evidence::{Attribution, ClientEvidence, OutsideClient, Resolution, attribute};
use crate::analysis::{Analysis, ClientVerdict};
use crate::api::conditions::{
    ConditionReason, ConditionType, ConditionUpdate, find_condition, set_condition,
};
use crate::api::{
    InterfaceEndpointSpec, InterfaceEndpointStatus, MAX_STATUS_GROUPS, RejectAction, RejectedSource,
    RolloutPhase, VerificationSummary,
};
use crate::logs::flow::{FlowRejects, Reject};
use crate::model::{Snapshot, VpcEndpoint};

/// How often an object is looked at while its canary window is open (instead of `--resync`):
/// a rejected connection is acted on within one poll of its record reaching CloudWatch Logs.
pub const CANARY_POLL: Duration = Duration::from_secs(60);

/// Where the records' format came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatSource {
    /// The `LogFormat` of a flow log delivering to the group.
    DescribeFlowLogs,
    /// The default format: no flow log of the VPC delivers to the group, or DescribeFlowLogs
    /// could not be read (why, a sentence).
    Default(String),
}

/// One read of the flow logs the spec names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanaryRead {
    pub log_group_name: String,
    /// The canary window: from private DNS seen on, for `window`.
    pub window_start: Timestamp,
    pub window: Duration,
    /// The records read: from, to.
    pub read_from: Timestamp,
    pub read_to: Timestamp,
    pub format: FormatSource,
    /// What was found, or why nothing could be read (a sentence).
    pub outcome: Result<FlowRejects, String>,
}

impl CanaryRead {
    pub fn window_end(&self) -> Timestamp {
        self.window_start
            .checked_add(self.window)
            .unwrap_or(self.window_start)
    }
}

/// Since when private DNS has been seen on `endpoint`: as the last status recorded it (same
/// endpoint, seen on then too), else `now`; `None` while it is off.
pub fn on_since(
    endpoint: Option<&VpcEndpoint>,
    previous: &InterfaceEndpointStatus,
    now: Timestamp,
) -> Option<Timestamp> {
    let endpoint = endpoint.filter(|e| e.private_dns_enabled)?;
    let same = previous.endpoint_id.as_deref() == Some(endpoint.vpc_endpoint_id.as_str());
    let recorded = previous
        .private_dns_on_since
        .as_deref()
        .filter(|_| same && previous.private_dns_enabled)
        .and_then(|t| t.parse::<Timestamp>().ok());
    Some(recorded.unwrap_or(now))
}

/// Private DNS is off on `endpoint` although the last status saw it on since a time it
/// recorded: the pass that turned it off (a rollback) may have lost its status write, or
/// someone turned it off by hand. Under `onReject: Rollback` the canary reads that window once
/// more, so that a rollback whose status was lost is found again instead of undone.
pub fn seen_on_until_now(
    endpoint: Option<&VpcEndpoint>,
    previous: &InterfaceEndpointStatus,
    spec: &InterfaceEndpointSpec,
) -> Option<Timestamp> {
    let endpoint = endpoint.filter(|e| !e.private_dns_enabled)?;
    let rollback = spec
        .verification
        .as_ref()
        .is_some_and(|v| v.on_reject.action == RejectAction::Rollback);
    let same = previous.endpoint_id.as_deref() == Some(endpoint.vpc_endpoint_id.as_str());
    if !(rollback && same && previous.private_dns_enabled && previous.rollback.is_none()) {
        return None;
    }
    previous.private_dns_on_since.as_deref()?.parse().ok()
}

/// The reaction that applies at `now`: the window's, or `afterWindow` once it is over.
pub fn reaction(spec: &InterfaceEndpointSpec, read: &CanaryRead, now: Timestamp) -> RejectAction {
    let on_reject = spec
        .verification
        .as_ref()
        .map(|v| v.on_reject.clone())
        .unwrap_or_default();
    if now < read.window_end() {
        on_reject.action
    } else {
        on_reject.after_window
    }
}

/// Whether the canary window is open at `now` (the object is then looked at every
/// [`CANARY_POLL`]).
pub fn in_window(read: &CanaryRead, now: Timestamp) -> bool {
    now < read.window_end()
}

/// The evidence the analysis runs with under `Remediate` (and `Rollback`): the query log
/// evidence (if any) with every rejected source added, an ENI of the VPC by its address, or
/// else a client outside the VPC. `None` when there is nothing to add to (no evidence, no
/// reject).
pub fn with_rejects(
    evidence: Option<&Attribution>,
    read: &CanaryRead,
    world: &Snapshot,
    vpc_id: &str,
) -> Option<Attribution> {
    match &read.outcome {
        Ok(found) => with_sources(evidence, &found.rejects, world, vpc_id),
        Err(_) => evidence.cloned(),
    }
}

/// [`with_rejects`] of rejected sources however known (a read, or those a rollback holds).
pub fn with_sources(
    evidence: Option<&Attribution>,
    rejects: &[Reject],
    world: &Snapshot,
    vpc_id: &str,
) -> Option<Attribution> {
    if rejects.is_empty() {
        return evidence.cloned();
    }
    let mut merged = evidence.cloned().unwrap_or_default();
    let resolutions: Vec<Resolution> = rejects
        .iter()
        .map(|r| Resolution {
            address: r.srcaddr,
            instance_id: None,
            resolver_endpoint_id: None,
            queries: r.records,
            last_seen_ms: Some(r.last_seen_ms),
        })
        .collect();
    let found = attribute(&resolutions, world, vpc_id);
    for (eni, evidence) in found.by_interface {
        let entry = merged
            .by_interface
            .entry(eni)
            .or_insert_with(ClientEvidence::default);
        entry.queries += evidence.queries;
        entry.last_seen_ms = entry.last_seen_ms.max(evidence.last_seen_ms);
    }
    // A source no ENI of the VPC holds is outside it (a peered VPC, on-premises through a
    // VPN): checked as far as AWS shows its path, like a client seen through an inbound
    // Resolver endpoint.
    for r in found.unmatched {
        if merged.outside.iter().any(|o| o.address == r.address) {
            continue;
        }
        merged.outside.push(OutsideClient {
            address: r.address,
            resolver_endpoint_ids: Vec::new(),
            evidence: ClientEvidence {
                queries: r.queries,
                last_seen_ms: r.last_seen_ms,
            },
        });
    }
    merged.outside.sort_by_key(|o| o.address);
    Some(merged)
}

/// `15m`, `2h`, `90s`.
fn humantime(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn rfc3339(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The client the analysis knows at `address`.
pub(crate) fn client_at<'a>(analysis: Option<&'a Analysis>, address: IpAddr) -> Option<&'a ClientVerdict> {
    analysis?
        .clients
        .iter()
        .find(|c| c.address == address || c.sources.iter().any(|s| s.net.contains(&address)))
}

/// One rejected source in a sentence: who, where, how often, and what is missing.
fn source_sentence(reject: &Reject, client: Option<&ClientVerdict>) -> String {
    let who = match client {
        Some(c) => format!("{} ({})", reject.srcaddr, c.network_interface_id),
        None => format!(
            "{} (not a client the analysis checks: excluded by spec.clients)",
            reject.srcaddr
        ),
    };
    let to = reject.endpoint_interface_id.as_deref().unwrap_or("the endpoint");
    let missing = match client {
        Some(c) if c.is_reachable() => "reaches it now".to_string(),
        Some(c) => {
            let details: Vec<String> = c
                .blocks
                .iter()
                .map(|b| format!("{}: {}", b.check.as_str(), b.detail))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            format!("missing: {}", details.join("; "))
        }
        None => "not checked".to_string(),
    };
    format!(
        "{who}: {} to {to} on tcp/{}, last at {}; {missing}",
        count(reject.records as usize, "REJECT record"),
        reject.dstport,
        rfc3339(reject.last_seen_ms)
    )
}

/// What the decision of this pass does about the rejected sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassActs<'a> {
    /// The decision adds rules.
    pub adds_rules: bool,
    /// Under `Rollback`: who turning private DNS off restores and cuts off
    /// ([`super::rollback::weigh`]).
    pub rollback: Option<&'a super::rollback::Weighing>,
    /// The decision turns private DNS off.
    pub turns_off: bool,
    /// The controller or the spec says to observe only.
    pub observing_only: bool,
}

/// Sets condition `Verified` and `status.verification` from this pass's read; for a rejected
/// source that nothing fixes now, phase Degraded (over Ready), `Ready` False and a
/// `TrafficRejected` Warning Event (once per distinct set of such sources). Returns the
/// requeue: at most [`CANARY_POLL`] while the window is open.
#[allow(clippy::too_many_arguments)]
pub fn report(
    status: &mut InterfaceEndpointStatus,
    events: &mut Vec<EventNote>,
    previous: &InterfaceEndpointStatus,
    read: &CanaryRead,
    reaction: RejectAction,
    analysis: Option<&Analysis>,
    acts: PassActs<'_>,
    generation: Option<i64>,
    now: Timestamp,
    requeue: Duration,
) -> Duration {
    let requeue = if in_window(read, now) {
        requeue.min(CANARY_POLL)
    } else {
        requeue
    };
    // No read times in the messages: each read moves them, and a message that changes at every
    // pass would be news at every pass (status.verification has them).
    let window = if in_window(read, now) {
        format!(
            "flow logs {} since private DNS went on ({})",
            read.log_group_name, read.window_start
        )
    } else {
        format!(
            "flow logs {} of the last {}",
            read.log_group_name,
            humantime(read.window)
        )
    };
    let found = match &read.outcome {
        Err(why) => {
            let update = ConditionUpdate::new(
                ConditionType::Verified,
                false,
                ConditionReason::FlowLogsUnreadable,
                format!("The {window} could not be read: {why}; nothing is known of rejected traffic"),
            );
            set_condition(&mut status.conditions, &update, generation, now);
            status.verification = previous.verification.clone();
            return requeue;
        }
        Ok(found) => found,
    };
    let mut sources: Vec<(&Reject, Option<&ClientVerdict>)> = found
        .rejects
        .iter()
        .map(|r| (r, client_at(analysis, r.srcaddr)))
        .collect();
    sources.sort_by_key(|(r, _)| std::cmp::Reverse(r.last_seen_ms));
    let unresolved: Vec<&(&Reject, Option<&ClientVerdict>)> = sources
        .iter()
        .filter(|(_, c)| !c.is_some_and(|c| c.is_reachable()))
        .collect();
    status.verification = Some(VerificationSummary {
        log_group_name: read.log_group_name.clone(),
        window_start: read.window_start.to_string(),
        window_end: read.window_end().to_string(),
        reaction: reaction.as_str().to_string(),
        read_from: read.read_from.to_string(),
        read_to: read.read_to.to_string(),
        read_time: now.to_string(),
        log_format_from: match &read.format {
            FormatSource::DescribeFlowLogs => "DescribeFlowLogs".to_string(),
            FormatSource::Default(_) => "Default".to_string(),
        },
        records_read: found.records_read as u32,
        complete: found.complete,
        rejected: sources
            .iter()
            .take(MAX_STATUS_GROUPS)
            .map(|(r, c)| RejectedSource {
                address: r.srcaddr.to_string(),
                client: c.map(|c| c.network_interface_id.clone()),
                endpoint_network_interface_id: r.endpoint_interface_id.clone(),
                port: r.dstport,
                records: r.records,
                last_seen: rfc3339(r.last_seen_ms),
                reachable_now: c.is_some_and(|c| c.is_reachable()),
            })
            .collect(),
    });
    let bound = if found.complete {
        ""
    } else {
        " (the scan stopped at its bound: there may be more)"
    };
    let format_note = match &read.format {
        FormatSource::DescribeFlowLogs => String::new(),
        FormatSource::Default(why) => format!("; records read in the default format ({why})"),
    };
    let sentences = |list: &[&(&Reject, Option<&ClientVerdict>)]| {
        let all: Vec<String> = list.iter().map(|(r, c)| source_sentence(r, *c)).collect();
        let shown: Vec<&str> = all.iter().take(3).map(String::as_str).collect();
        with_more(&shown, all.len())
    };
    // The spec's ports, as the analysis read them (tcp/443 by default).
    let traffic = analysis.map_or_else(|| "its ports".to_string(), |a| a.ports.tcp());
    let (ok, reason, message) = if found.rejects.is_empty() {
        (
            true,
            ConditionReason::NoRejectedTraffic,
            format!(
                "No connection to the endpoint on {traffic} was rejected in the {window} ({} read{bound}){format_note}",
                count(found.records_read, "REJECT record")
            ),
        )
    } else if unresolved.is_empty() {
        let all: Vec<&(&Reject, Option<&ClientVerdict>)> = sources.iter().collect();
        (
            true,
            ConditionReason::RejectsResolved,
            format!(
                "Connections to the endpoint were rejected in the {window}, and every source reaches it now: {}{format_note}",
                sentences(&all)
            ),
        )
    } else if let (RejectAction::Rollback, Some(weighing), true) = (reaction, acts.rollback, acts.turns_off) {
        (
            false,
            ConditionReason::RolledBack,
            format!(
                "{} cut off since private DNS went on, turning private DNS off (onReject: Rollback{}); {}; it \
                 stays off until the plan for them is applied: {}{format_note}",
                sources_are(unresolved.len()),
                if weighing.forced() { ", force" } else { "" },
                weighing.sentence(),
                sentences(&unresolved)
            ),
        )
    } else if let (RejectAction::Rollback, Some(weighing), false) =
        (reaction, acts.rollback, weighing_rolls_back(acts.rollback))
    {
        let adding = if acts.adds_rules {
            "; adding the rules the remediation modes allow"
        } else {
            ""
        };
        (
            false,
            ConditionReason::RollbackRefused,
            format!(
                "{} cut off since private DNS went on; rollback refused (onReject: Rollback): {}, more \
                 than it restores, so private DNS stays on (onReject.force: true rolls back anyway){adding}: \
                 {}{format_note}",
                sources_are(unresolved.len()),
                weighing.sentence(),
                sentences(&unresolved)
            ),
        )
    } else if acts.adds_rules {
        (
            false,
            ConditionReason::RejectsRemediated,
            format!(
                "{} cut off since private DNS went on, adding the rules the remediation modes allow now (onReject: {}): {}{format_note}",
                sources_are(unresolved.len()),
                reaction.as_str(),
                sentences(&unresolved)
            ),
        )
    } else {
        let why = match reaction {
            RejectAction::Alert => "onReject: Alert, the canary changes nothing".to_string(),
            RejectAction::Remediate => {
                "no rule the remediation modes allow fixes it now (status.plan says what is needed)"
                    .to_string()
            }
            RejectAction::Rollback if acts.rollback.is_some() && acts.observing_only => {
                "onReject: Rollback, observing only: private DNS would be turned off".to_string()
            }
            RejectAction::Rollback if acts.rollback.is_some() => {
                "onReject: Rollback: the last status does not show private DNS on, recording that \
                 first, then turning it off"
                    .to_string()
            }
            RejectAction::Rollback => {
                "onReject: Rollback, but no source the analysis checks is cut off: the spec excludes them"
                    .to_string()
            }
        };
        (
            false,
            ConditionReason::ClientsRejected,
            format!(
                "{} cut off since private DNS went on ({why}): {}{format_note}",
                sources_are(unresolved.len()),
                sentences(&unresolved)
            ),
        )
    };
    set_condition(
        &mut status.conditions,
        &ConditionUpdate::new(ConditionType::Verified, ok, reason, message.clone()),
        generation,
        now,
    );
    if ok {
        return requeue;
    }
    if matches!(
        reason,
        ConditionReason::ClientsRejected | ConditionReason::RollbackRefused
    ) && !(reason == ConditionReason::RollbackRefused && acts.adds_rules)
    {
        if status.phase == RolloutPhase::Ready {
            status.phase = RolloutPhase::Degraded;
        }
        set_condition(
            &mut status.conditions,
            &ConditionUpdate::new(ConditionType::Ready, false, reason, message.clone()),
            generation,
            now,
        );
    }
    // Once per distinct set of cut-off sources (and reason): the records go on for minutes.
    let cut_off = |s: &InterfaceEndpointStatus| -> BTreeSet<String> {
        s.verification
            .iter()
            .flat_map(|v| {
                v.rejected
                    .iter()
                    .filter(|r| !r.reachable_now)
                    .map(|r| r.address.clone())
            })
            .collect()
    };
    let same_reason = find_condition(&previous.conditions, ConditionType::Verified)
        .is_some_and(|c| c.reason == reason.as_str());
    if !(same_reason && cut_off(previous) == cut_off(status)) {
        events.push(EventNote {
            reason: match reason {
                ConditionReason::RolledBack => EventReason::RolledBack,
                ConditionReason::RollbackRefused => EventReason::RollbackRefused,
                _ => EventReason::TrafficRejected,
            },
            warning: true,
            message,
        });
    }
    requeue
}

/// Whether the weighing (if any) lets the rollback go ahead.
fn weighing_rolls_back(weighing: Option<&super::rollback::Weighing>) -> bool {
    weighing.is_none_or(|w| w.rolls_back())
}

/// No read this pass (no flow logs named, private DNS off, deleting): no `Verified`, no summary.
pub fn clear(status: &mut InterfaceEndpointStatus) {
    status
        .conditions
        .retain(|c| c.type_ != ConditionType::Verified.as_str());
    status.verification = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{FlowLogsVerification, OnReject, VerificationSpec};
    use crate::plan::fixtures::*;

    #[test]
    fn the_window_starts_when_private_dns_is_first_seen_on_and_restarts_after_it_was_off() {
        let world = with_endpoint(incident_world(), "available", true);
        let endpoint = &world.vpc_endpoints[0];
        let mut previous = created_status(now_minus(3600));
        assert_eq!(on_since(Some(endpoint), &previous, now()), Some(now()));
        previous.private_dns_enabled = true;
        previous.private_dns_on_since = Some(now_minus(300).to_string());
        assert_eq!(on_since(Some(endpoint), &previous, now()), Some(now_minus(300)));
        previous.private_dns_enabled = false;
        assert_eq!(
            on_since(Some(endpoint), &previous, now()),
            Some(now()),
            "off in between"
        );
        let off = with_endpoint(incident_world(), "available", false);
        assert_eq!(on_since(Some(&off.vpc_endpoints[0]), &previous, now()), None);
    }

    #[test]
    fn the_reaction_is_the_windows_then_after_windows() {
        let mut spec = spec();
        spec.verification = Some(VerificationSpec {
            flow_logs: FlowLogsVerification {
                log_group_name: "/flow".into(),
                window: "15m".into(),
            },
            on_reject: OnReject::default(),
        });
        let r = canary_read(&[]);
        assert_eq!(reaction(&spec, &r, now()), RejectAction::Remediate);
        assert_eq!(
            reaction(&spec, &r, now_minus(120 - 900)),
            RejectAction::Alert,
            "15 minutes after the switch"
        );
    }

    #[test]
    fn a_rejected_source_is_an_eni_of_the_vpc_or_a_client_outside_it() {
        let world = incident_world();
        let merged = with_rejects(
            None,
            &canary_read(&[("10.0.1.30", 3), ("172.16.4.9", 2)]),
            &world,
            VPC,
        )
        .expect("evidence");
        assert_eq!(merged.evidence_of(ENI_ZABBIX).map(|e| e.queries), Some(3));
        assert_eq!(merged.outside.len(), 1);
        assert_eq!(merged.outside[0].address.to_string(), "172.16.4.9");
        assert!(merged.outside[0].resolver_endpoint_ids.is_empty());
        assert_eq!(
            with_rejects(None, &canary_read(&[]), &world, VPC),
            None,
            "nothing to add"
        );
    }

    #[test]
    fn a_cut_off_source_under_alert_degrades_ready_once_per_set_of_sources() {
        let analysis = endpoint_analysis();
        let mut previous = created_status(now_minus(3600));
        previous.phase = RolloutPhase::Ready;
        let mut status = previous.clone();
        let mut events = Vec::new();
        let r = canary_read(&[("10.0.1.30", 4)]);
        let acts = PassActs {
            adds_rules: false,
            rollback: None,
            turns_off: false,
            observing_only: false,
        };
        let requeue = report(
            &mut status,
            &mut events,
            &previous,
            &r,
            RejectAction::Alert,
            Some(&analysis),
            acts,
            Some(1),
            now(),
            Duration::from_secs(300),
        );
        assert_eq!(requeue, CANARY_POLL);
        assert_eq!(status.phase, RolloutPhase::Degraded);
        let verified = condition(&status, ConditionType::Verified);
        assert_eq!(verified.reason, "ClientsRejected");
        assert!(
            verified.message.starts_with("1 source is cut off"),
            "{}",
            verified.message
        );
        assert!(verified.message.contains(ENI_ZABBIX), "{}", verified.message);
        assert_eq!(condition(&status, ConditionType::Ready).reason, "ClientsRejected");
        assert_eq!(events.len(), 1);

        // The same source again: no second Event.
        let again_previous = status.clone();
        let mut again = again_previous.clone();
        let mut more = Vec::new();
        report(
            &mut again,
            &mut more,
            &again_previous,
            &r,
            RejectAction::Alert,
            Some(&analysis),
            acts,
            Some(1),
            now(),
            Duration::from_secs(300),
        );
        assert!(more.is_empty());
    }
}
