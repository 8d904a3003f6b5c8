//! Reading Route 53 Resolver query logs: which source addresses resolved the service's private
//! DNS name (or a name under it) in a window, each counted, with the last time it was seen.
//!
//! Logs Insights first: one aggregate query (`stats count(*), max(@timestamp) by srcaddr,
//! srcids.instance, srcids.resolver_endpoint`), one StartQuery and a few GetQueryResults, a row
//! per source however many records; it bills the bytes it scans. Where Insights is not served
//! (StartQuery refused as an unknown or invalid operation), a FilterLogEvents scan for the name
//! as a quoted term, bounded by `max_scan_events`; the records are counted here, and a scan the
//! bound cut short says so (`complete: false`: what it found is a lower bound).

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::insights::{self, Aggregate, Command, Condition, Query};
use super::{
    FilterLogEvents, LogEvent, Logs, LogsError, QueryPolling, QueryStatistics, StartQuery, run_query,
};
use crate::analysis::evidence::Resolution;
use crate::aws::ErrorKind;

/// Logs Insights returns at most this many rows.
pub const MAX_ROWS: u32 = 10_000;
/// Fields of the aggregate's rows.
const QUERIES: &str = "queries";
const LAST_SEEN: &str = "lastSeen";
const SRCADDR: &str = "srcaddr";
const INSTANCE: &str = "srcids.instance";
const RESOLVER_ENDPOINT: &str = "srcids.resolver_endpoint";

/// How the records were read, and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadMethod {
    /// One Logs Insights aggregate: what it scanned (the bill) and matched.
    Insights(QueryStatistics),
    /// A FilterLogEvents scan: events read, calls made, and whether it read them all.
    Scan {
        events: usize,
        calls: u32,
        complete: bool,
    },
}

/// The resolutions of the service's name in the window.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolverQueries {
    pub resolutions: Vec<Resolution>,
    pub method: ReadMethod,
}

/// The window and bounds of one read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadWindow {
    pub log_group_name: String,
    /// The service's private DNS name (`logs.ap-northeast-1.amazonaws.com`); a leading `*.`
    /// (a wildcard name) reads every name under the rest.
    pub dns_name: String,
    /// Epoch milliseconds, inclusive.
    pub start_ms: i64,
    pub end_ms: i64,
    /// The most events a FilterLogEvents scan reads.
    pub max_scan_events: usize,
}

/// The name without a trailing dot or a leading wildcard, lower case.
fn base_name(dns_name: &str) -> String {
    let name = dns_name.trim().trim_end_matches('.').to_ascii_lowercase();
    name.strip_prefix("*.").map(str::to_string).unwrap_or(name)
}

/// Whether a record's `query_name` is the name or a name under it (case-insensitive; the
/// Resolver logs names with their trailing dot).
pub fn matches_name(query_name: &str, dns_name: &str) -> bool {
    let base = base_name(dns_name);
    let name = query_name.trim_end_matches('.').to_ascii_lowercase();
    name == base || name.ends_with(&format!(".{base}"))
}

/// The regex of [`matches_name`], for Logs Insights (no `|`: it separates commands).
pub fn name_regex(dns_name: &str) -> String {
    let escaped = regex::escape(&base_name(dns_name));
    format!(r"(?i)^(.*\.)?{escaped}\.?$")
}

/// The aggregate query.
pub fn aggregate_query(dns_name: &str) -> Query {
    Query {
        commands: vec![
            Command::Filter(vec![Condition::Like("query_name".into(), name_regex(dns_name))]),
            Command::Stats {
                aggregates: vec![
                    (Aggregate::Count, QUERIES.into()),
                    (Aggregate::Max("@timestamp".into()), LAST_SEEN.into()),
                ],
                by: vec![SRCADDR.into(), INSTANCE.into(), RESOLVER_ENDPOINT.into()],
            },
            Command::Limit(MAX_ROWS),
        ],
    }
}

fn non_empty(value: Option<&String>) -> Option<String> {
    value.filter(|v| !v.is_empty() && v.as_str() != "null").cloned()
}

/// The aggregate's rows as resolutions; rows without a parsable source address are left out
/// (a record the Resolver wrote without one says nothing about a client).
pub fn rows_to_resolutions(rows: &[BTreeMap<String, String>]) -> Vec<Resolution> {
    let mut out: Vec<Resolution> = rows
        .iter()
        .filter_map(|row| {
            let address: IpAddr = row.get(SRCADDR)?.parse().ok()?;
            Some(Resolution {
                address,
                instance_id: non_empty(row.get(INSTANCE)),
                resolver_endpoint_id: non_empty(row.get(RESOLVER_ENDPOINT)),
                queries: row.get(QUERIES).and_then(|q| q.parse().ok()).unwrap_or(1),
                last_seen_ms: row.get(LAST_SEEN).and_then(|t| insights::parse_timestamp(t)),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.address, &a.instance_id, &a.resolver_endpoint_id).cmp(&(
            b.address,
            &b.instance_id,
            &b.resolver_endpoint_id,
        ))
    });
    out
}

/// Query log records (JSON, as the Resolver writes them) counted per source, as the aggregate
/// would; records of other names, and lines that are not query log records, are left out.
pub fn records_to_resolutions(events: &[LogEvent], dns_name: &str) -> Vec<Resolution> {
    let mut by_key: BTreeMap<(IpAddr, Option<String>, Option<String>), (u64, i64)> = BTreeMap::new();
    for event in events {
        let Ok(record) = serde_json::from_str::<serde_json::Value>(&event.message) else {
            continue;
        };
        let Some(name) = record["query_name"].as_str() else {
            continue;
        };
        if !matches_name(name, dns_name) {
            continue;
        }
        let Some(address) = record["srcaddr"].as_str().and_then(|a| a.parse().ok()) else {
            continue;
        };
        let text = |v: &serde_json::Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        let key = (
            address,
            text(&record["srcids"]["instance"]),
            text(&record["srcids"]["resolver_endpoint"]),
        );
        let entry = by_key.entry(key).or_insert((0, event.timestamp_ms));
        entry.0 += 1;
        entry.1 = entry.1.max(event.timestamp_ms);
    }
    by_key
        .into_iter()
        .map(
            |((address, instance_id, resolver_endpoint_id), (queries, last))| Resolution {
                address,
                instance_id,
                resolver_endpoint_id,
                queries,
                last_seen_ms: Some(last),
            },
        )
        .collect()
}

/// Whether StartQuery's failure means Insights is not served here (so a scan may serve), as
/// opposed to the group, the permissions or the service failing (which a scan would meet too).
fn insights_unavailable(error: &LogsError) -> bool {
    error.kind == ErrorKind::Invalid
        && matches!(
            error.code.as_str(),
            "InvalidOperationException" | "UnknownOperationException" | "UnrecognizedOperation" | "HTTP404"
        )
}

/// Reads the resolutions of the service's name in the window: Logs Insights, or a bounded scan
/// where Insights is not served.
pub async fn read<L: Logs>(
    logs: &L,
    window: &ReadWindow,
    polling: QueryPolling,
) -> Result<ResolverQueries, LogsError> {
    let request = StartQuery {
        log_group_name: window.log_group_name.clone(),
        start_time: window.start_ms.div_euclid(1000),
        end_time: window.end_ms.div_euclid(1000),
        query_string: insights::render(&aggregate_query(&window.dns_name)),
        limit: Some(MAX_ROWS),
    };
    match run_query(logs, &request, polling).await {
        Ok(results) => Ok(ResolverQueries {
            resolutions: rows_to_resolutions(&results.rows),
            method: ReadMethod::Insights(results.statistics),
        }),
        Err(e) if insights_unavailable(&e) => {
            let scan = FilterLogEvents {
                log_group_name: window.log_group_name.clone(),
                start_time_ms: window.start_ms,
                end_time_ms: window.end_ms,
                filter_pattern: Some(format!("\"{}\"", base_name(&window.dns_name))),
                max_events: window.max_scan_events,
            };
            let read = logs.filter_log_events(&scan).await?;
            Ok(ResolverQueries {
                resolutions: records_to_resolutions(&read.events, &window.dns_name),
                method: ReadMethod::Scan {
                    events: read.events.len(),
                    calls: read.calls,
                    complete: read.complete,
                },
            })
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogsOperation;
    use crate::logs::sim::SimLogs;

    fn record(name: &str, addr: &str, srcids: serde_json::Value) -> String {
        serde_json::json!({"query_name": name, "srcaddr": addr, "srcids": srcids, "query_type": "A"})
            .to_string()
    }

    fn window() -> ReadWindow {
        ReadWindow {
            log_group_name: "/resolver".into(),
            dns_name: "logs.ap-northeast-1.amazonaws.com".into(),
            start_ms: 0,
            end_ms: 1_000_000,
            max_scan_events: 10_000,
        }
    }

    fn logs() -> SimLogs {
        let logs = SimLogs::new("ap-northeast-1");
        logs.put_events(
            "/resolver",
            "vpc-1",
            [
                (
                    1_000,
                    record(
                        "logs.ap-northeast-1.amazonaws.com.",
                        "10.0.1.10",
                        serde_json::json!({"instance": "i-1"}),
                    ),
                ),
                (
                    9_000,
                    record(
                        "Logs.AP-northeast-1.amazonaws.com.",
                        "10.0.1.10",
                        serde_json::json!({"instance": "i-1"}),
                    ),
                ),
                (
                    2_000,
                    record(
                        "x.logs.ap-northeast-1.amazonaws.com.",
                        "192.168.0.4",
                        serde_json::json!({"resolver_endpoint": "rslvr-in-1"}),
                    ),
                ),
                (
                    3_000,
                    record(
                        "logs.ap-northeast-1.amazonaws.com.evil.example.",
                        "10.0.1.66",
                        serde_json::json!({}),
                    ),
                ),
                (
                    4_000,
                    record(
                        "ec2.ap-northeast-1.amazonaws.com.",
                        "10.0.1.11",
                        serde_json::json!({}),
                    ),
                ),
                (5_000, "not json".to_string()),
            ],
        );
        logs
    }

    #[test]
    fn the_name_or_names_under_it_match_and_nothing_that_only_contains_it() {
        let name = "logs.ap-northeast-1.amazonaws.com";
        assert!(matches_name("logs.ap-northeast-1.amazonaws.com.", name));
        assert!(matches_name("a.b.LOGS.ap-northeast-1.amazonaws.com", name));
        assert!(!matches_name("xlogs.ap-northeast-1.amazonaws.com.", name));
        assert!(!matches_name(
            "logs.ap-northeast-1.amazonaws.com.evil.example.",
            name
        ));
        assert!(matches_name(
            "bucket.s3.us-east-1.amazonaws.com.",
            "*.s3.us-east-1.amazonaws.com"
        ));
        let re = regex::Regex::new(&name_regex(name)).unwrap();
        for q in [
            "logs.ap-northeast-1.amazonaws.com.",
            "a.b.LOGS.ap-northeast-1.amazonaws.com",
            "xlogs.ap-northeast-1.amazonaws.com.",
            "logs.ap-northeast-1.amazonaws.com.evil.example.",
        ] {
            assert_eq!(
                re.is_match(q),
                matches_name(q, name),
                "{q}: the regex and the scan agree"
            );
        }
        assert!(!name_regex(name).contains('|'));
    }

    #[tokio::test]
    async fn insights_and_the_scan_find_the_same_resolutions() {
        let logs = logs();
        let insights = read(&logs, &window(), QueryPolling::default()).await.unwrap();
        assert!(matches!(insights.method, ReadMethod::Insights(_)));
        assert_eq!(logs.calls(LogsOperation::FilterLogEvents), 0);

        let no_insights = self::logs();
        no_insights.without_insights();
        let scan = read(&no_insights, &window(), QueryPolling::default())
            .await
            .unwrap();
        assert!(
            matches!(scan.method, ReadMethod::Scan { complete: true, .. }),
            "{:?}",
            scan.method
        );
        assert_eq!(insights.resolutions.len(), 2, "{:?}", insights.resolutions);
        let eni = &insights.resolutions[0];
        assert_eq!(eni.address.to_string(), "10.0.1.10");
        assert_eq!(
            (eni.queries, eni.last_seen_ms),
            (2, Some(9_000)),
            "the name in any case"
        );
        assert_eq!(eni.instance_id.as_deref(), Some("i-1"));
        assert_eq!(
            insights.resolutions[1].resolver_endpoint_id.as_deref(),
            Some("rslvr-in-1")
        );
        // Filter pattern terms are case-sensitive: the scan misses the name queried in capitals
        // (a documented limit of the fallback), and finds the rest as Insights does.
        assert_eq!(scan.resolutions[0].queries, 1);
        assert_eq!(scan.resolutions[1], insights.resolutions[1]);
    }

    #[tokio::test]
    async fn a_denied_read_is_an_error_not_a_scan() {
        let logs = logs();
        logs.fail_next(LogsOperation::StartQuery, "AccessDeniedException", "no");
        let err = read(&logs, &window(), QueryPolling::default()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::AccessDenied);
        assert_eq!(logs.calls(LogsOperation::FilterLogEvents), 0);
    }
}
