//! The evidence part of observe: the Resolver query logs the spec names, read through the
//! CloudWatch Logs port for the lookback ending now, and mapped to the VPC just observed. What
//! the read found, or why it could not read, goes to [`plan::evidence`] (pure).

use k8s_openapi::jiff::Timestamp;

use crate::analysis::evidence::{attribute, parse_lookback};
use crate::api::InterfaceEndpointSpec;
use crate::logs::resolver::{self, ReadMethod, ReadWindow};
use crate::logs::{Logs, QueryPolling};
use crate::model::Snapshot;
use crate::plan::evidence::{EvidenceRead, Found, Method};

/// How often an object's evidence moves forward: the window ends at `now` rounded down to
/// this, so that the passes in between (every few seconds while a rollout acts) repeat the same
/// read, which the SDK adapter answers from the completed query instead of scanning again.
pub const REFRESH: std::time::Duration = std::time::Duration::from_secs(600);

/// The most query log events a FilterLogEvents scan reads (where Logs Insights is not served):
/// ten pages of the API's largest.
pub const MAX_SCAN_EVENTS: usize = 100_000;

/// Reads the evidence `spec` names; `None` when it names none.
pub async fn observe<L: Logs>(
    logs: &L,
    spec: &InterfaceEndpointSpec,
    world: &Snapshot,
    vpc_id: &str,
    now: Timestamp,
    polling: QueryPolling,
) -> Option<EvidenceRead> {
    let source = spec.clients.evidence.as_ref()?.resolver_query_logs.as_ref()?;
    let mut read = EvidenceRead {
        log_group_name: source.log_group_name.clone(),
        lookback: source.lookback.clone(),
        outcome: Err(String::new()),
    };
    let lookback = match parse_lookback(&source.lookback) {
        Ok(l) => l,
        Err(why) => {
            read.outcome = Err(why);
            return Some(read);
        }
    };
    let service = world
        .service_details
        .iter()
        .find(|s| s.service_name == spec.service_name)
        .and_then(|s| s.private_dns_name());
    let Some(dns_name) = service else {
        read.outcome = Err(format!(
            "the private DNS name of {} is not known (the service was not described, or offers none)",
            spec.service_name
        ));
        return Some(read);
    };
    let refresh = REFRESH.as_millis() as i64;
    let end_ms = now.as_millisecond().div_euclid(refresh) * refresh;
    let window = ReadWindow {
        log_group_name: source.log_group_name.clone(),
        dns_name: dns_name.to_string(),
        start_ms: end_ms - lookback.as_millis() as i64,
        end_ms,
        max_scan_events: MAX_SCAN_EVENTS,
    };
    read.outcome = match resolver::read(logs, &window, polling).await {
        Ok(found) => {
            let (method, complete, bytes_scanned) = match found.method {
                ReadMethod::Insights(stats) => {
                    (Method::LogsInsights, true, stats.bytes_scanned.max(0.0) as u64)
                }
                ReadMethod::Scan { complete, .. } => (Method::FilterLogEvents, complete, 0),
            };
            Ok(Found {
                attribution: attribute(&found.resolutions, world, vpc_id),
                method,
                complete,
                bytes_scanned,
            })
        }
        Err(e) => Err(format!("{} ({})", e, e.kind.as_str())),
    };
    Some(read)
}
