//! Evidence in a pass: what the Resolver query logs showed (or why they could not be read),
//! which clients the analysis checks because of it, and how the status reports it. Pure: the
//! engine reads the logs through the CloudWatch Logs port and hands the result in.
//!
//! - [`effective_spec`]: `scope: Evidence` narrows the clients only on a complete read; on an
//!   unreadable or incomplete one every client the configuration shows is checked (falling back
//!   never hides a client).
//! - [`report`]: condition `EvidenceRead` and `status.clients.evidence`.

use std::borrow::Cow;

use k8s_openapi::jiff::Timestamp;

use crate::analysis::Analysis;
use crate::analysis::evidence::Attribution;
use crate::api::conditions::{ConditionUpdate, set_condition};
use crate::api::{
    ClientScope, ConditionReason, ConditionType, EvidenceSummary, EvidencedClient, InterfaceEndpointSpec,
    InterfaceEndpointStatus, MAX_GROUP_EXAMPLES, MAX_STATUS_GROUPS,
};

/// How the query logs were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// One Logs Insights aggregate query.
    LogsInsights,
    /// A bounded FilterLogEvents scan (Logs Insights not served).
    FilterLogEvents,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LogsInsights => "LogsInsights",
            Self::FilterLogEvents => "FilterLogEvents",
        }
    }
}

/// What the query logs showed, mapped to the VPC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub attribution: Attribution,
    pub method: Method,
    /// Whether every record of the lookback was read.
    pub complete: bool,
    pub bytes_scanned: u64,
}

/// One read of the evidence the spec names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceRead {
    pub log_group_name: String,
    pub lookback: String,
    /// What was found, or why nothing could be read (a sentence).
    pub outcome: Result<Found, String>,
}

impl EvidenceRead {
    /// The mapped evidence, when it was read.
    pub fn attribution(&self) -> Option<&Attribution> {
        self.outcome.as_ref().ok().map(|f| &f.attribution)
    }
}

/// The spec the analysis runs with: `scope: Evidence` holds only on a complete read.
pub fn effective_spec<'s>(
    spec: &'s InterfaceEndpointSpec,
    read: Option<&EvidenceRead>,
) -> Cow<'s, InterfaceEndpointSpec> {
    let complete = read.is_some_and(|r| r.outcome.as_ref().is_ok_and(|f| f.complete));
    if spec.clients.scope == ClientScope::Evidence && !complete {
        let mut all = spec.clone();
        all.clients.scope = ClientScope::All;
        Cow::Owned(all)
    } else {
        Cow::Borrowed(spec)
    }
}

fn rfc3339(ms: i64) -> Option<String> {
    Timestamp::from_millisecond(ms).ok().map(|t| t.to_string())
}

/// The evidence summary of `analysis` (the analysis run with the evidence).
pub fn summary(read: &EvidenceRead, found: &Found, analysis: &Analysis, now: Timestamp) -> EvidenceSummary {
    let inside = analysis.clients.iter().filter(|c| !c.is_outside());
    let evidenced = inside.clone().filter(|c| c.evidence.is_some()).count();
    let checked_without: Vec<&str> = inside
        .filter(|c| c.evidence.is_none())
        .map(|c| c.network_interface_id.as_str())
        .collect();
    let excluded_without: Vec<&str> = analysis
        .excluded
        .iter()
        .filter(|e| e.reason == crate::analysis::ExclusionReason::NotEvidenced)
        .map(|e| e.network_interface_id.as_str())
        .collect();
    let mut with: Vec<EvidencedClient> = analysis
        .clients
        .iter()
        .filter_map(|c| {
            let e = c.evidence.as_ref()?;
            Some(EvidencedClient {
                network_interface_id: c.network_interface_id.clone(),
                address: c.address.to_string(),
                queries: e.queries,
                last_seen: e.last_seen_ms.and_then(rfc3339),
                reachable: c.is_reachable(),
            })
        })
        .collect();
    with.sort_by(|a, b| {
        (std::cmp::Reverse(a.queries), &a.network_interface_id)
            .cmp(&(std::cmp::Reverse(b.queries), &b.network_interface_id))
    });
    with.truncate(MAX_STATUS_GROUPS);
    let mut examples: Vec<String> = checked_without
        .iter()
        .chain(&excluded_without)
        .take(MAX_GROUP_EXAMPLES)
        .map(|s| s.to_string())
        .collect();
    examples.sort();
    EvidenceSummary {
        log_group_name: read.log_group_name.clone(),
        lookback: read.lookback.clone(),
        read_time: now.to_string(),
        method: found.method.as_str().to_string(),
        complete: found.complete,
        bytes_scanned: found.bytes_scanned,
        evidenced: evidenced as u32,
        not_evidenced: (checked_without.len() + excluded_without.len()) as u32,
        outside: found.attribution.outside.len() as u32,
        unmatched: found.attribution.unmatched.len() as u32,
        clients: with,
        not_evidenced_examples: examples,
    }
}

/// Sets condition `EvidenceRead` and `status.clients.evidence` from this pass's read, over the
/// analysis the decision was made on (`None` when the analysis failed: the condition alone).
pub fn report(
    status: &mut InterfaceEndpointStatus,
    spec: &InterfaceEndpointSpec,
    read: &EvidenceRead,
    analysis: Option<&Analysis>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let evidence_scope = spec.clients.scope == ClientScope::Evidence;
    let update = match &read.outcome {
        Err(why) => ConditionUpdate::new(
            ConditionType::EvidenceRead,
            false,
            ConditionReason::EvidenceUnreadable,
            format!(
                "Resolver query logs {} could not be read: {why}; every client the configuration shows is checked",
                read.log_group_name
            ),
        ),
        Ok(found) if !found.complete => ConditionUpdate::new(
            ConditionType::EvidenceRead,
            false,
            ConditionReason::EvidenceIncomplete,
            format!(
                "Resolver query logs {} were scanned up to the bound of the scan, not over the whole lookback {}{}",
                read.log_group_name,
                read.lookback,
                if evidence_scope {
                    "; every client the configuration shows is checked"
                } else {
                    ""
                }
            ),
        ),
        Ok(found) => {
            let a = &found.attribution;
            ConditionUpdate::new(
                ConditionType::EvidenceRead,
                true,
                ConditionReason::EvidenceRead,
                format!(
                    "{} network interfaces and {} clients outside the VPC resolved the service's name in the last {} ({}){}",
                    a.by_interface.len(),
                    a.outside.len(),
                    read.lookback,
                    found.method.as_str(),
                    if evidence_scope {
                        "; only they are checked (scope: Evidence)"
                    } else {
                        ""
                    }
                ),
            )
        }
    };
    set_condition(&mut status.conditions, &update, generation, now);
    if let (Ok(found), Some(analysis), Some(clients)) = (&read.outcome, analysis, status.clients.as_mut()) {
        clients.evidence = Some(summary(read, found, analysis, now));
    }
}

/// No evidence is named (any more): no `EvidenceRead` condition, no summary.
pub fn clear(status: &mut InterfaceEndpointStatus) {
    status
        .conditions
        .retain(|c| c.type_ != ConditionType::EvidenceRead.as_str());
    if let Some(clients) = status.clients.as_mut() {
        clients.evidence = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::evidence::{ClientEvidence, OutsideClient};
    use crate::plan::fixtures;

    fn read(outcome: Result<Found, String>) -> EvidenceRead {
        EvidenceRead {
            log_group_name: "/resolver".into(),
            lookback: "7d".into(),
            outcome,
        }
    }

    fn found(complete: bool) -> Found {
        let mut attribution = Attribution::default();
        attribution.by_interface.insert(
            fixtures::ENI_ZABBIX.into(),
            ClientEvidence {
                queries: 12,
                last_seen_ms: Some(1_796_600_000_000),
            },
        );
        attribution.outside.push(OutsideClient {
            address: "192.168.0.4".parse().unwrap(),
            resolver_endpoint_ids: vec!["rslvr-in-1".into()],
            evidence: ClientEvidence {
                queries: 3,
                last_seen_ms: None,
            },
        });
        Found {
            attribution,
            method: Method::LogsInsights,
            complete,
            bytes_scanned: 4096,
        }
    }

    fn evidence_spec() -> InterfaceEndpointSpec {
        let mut spec = fixtures::spec();
        spec.clients.scope = ClientScope::Evidence;
        spec
    }

    #[test]
    fn scope_evidence_narrows_only_on_a_complete_read() {
        let spec = evidence_spec();
        assert_eq!(
            effective_spec(&spec, Some(&read(Ok(found(true))))).clients.scope,
            ClientScope::Evidence
        );
        for fallback in [
            None,
            Some(read(Ok(found(false)))),
            Some(read(Err("AccessDenied".into()))),
        ] {
            assert_eq!(
                effective_spec(&spec, fallback.as_ref()).clients.scope,
                ClientScope::All,
                "{fallback:?}: never fewer clients than the configuration shows"
            );
        }
    }

    #[test]
    fn an_unreadable_log_group_is_a_condition_saying_the_analysis_fell_back() {
        let mut status = InterfaceEndpointStatus::default();
        let spec = evidence_spec();
        report(
            &mut status,
            &spec,
            &read(Err("the log group does not exist".into())),
            None,
            Some(1),
            Timestamp::UNIX_EPOCH,
        );
        let c = &status.conditions[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            ("EvidenceRead", "False", "EvidenceUnreadable")
        );
        assert!(
            c.message.contains("does not exist") && c.message.contains("every client"),
            "{}",
            c.message
        );
    }

    #[test]
    fn the_summary_counts_clients_with_and_without_evidence_and_lists_them() {
        let mut analysis = fixtures::endpoint_analysis();
        for client in &mut analysis.clients {
            client.evidence = found(true)
                .attribution
                .evidence_of(&client.network_interface_id)
                .cloned();
        }
        let r = read(Ok(found(true)));
        let summary = summary(&r, r.outcome.as_ref().unwrap(), &analysis, Timestamp::UNIX_EPOCH);
        assert_eq!(summary.evidenced, 1);
        assert_eq!(summary.not_evidenced as usize, analysis.clients.len() - 1);
        assert_eq!(summary.outside, 1);
        assert_eq!(summary.clients[0].network_interface_id, fixtures::ENI_ZABBIX);
        assert_eq!(summary.clients[0].queries, 12);
        assert!(
            summary.clients[0]
                .last_seen
                .as_deref()
                .is_some_and(|t| t.starts_with("2026-"))
        );
        assert_eq!(summary.method, "LogsInsights");
    }
}
