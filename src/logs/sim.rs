//! Simulated CloudWatch Logs: log groups in memory, read through the [`Logs`] port as the real
//! service answers (ResourceNotFoundException for a missing group, Insights in the subset of
//! [`super::insights`], FilterLogEvents with quoted-term patterns and paging), with injected
//! failures and a count of calls, for the demo, the simulation and tests.
//!
//! Records come from whoever writes them: tests, the demo and the simulation. Queries complete
//! at once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::insights::{self, Record};
use super::{
    FilterLogEvents, LogEvent, LogEvents, Logs, LogsError, LogsOperation, LogsProvider, QueryResults,
    QueryStatistics, QueryStatus, StartQuery,
};
use crate::aws::{AccountAccessError, AssumeRole, ProviderError};

/// Events FilterLogEvents returns in one page here (the real service: up to 10,000 or 1 MB).
const PAGE_EVENTS: usize = 1_000;

#[derive(Debug, Default)]
struct State {
    /// Group → events (stream, timestamp ms, message), in the order written.
    groups: BTreeMap<String, Vec<(String, i64, String)>>,
    queries: BTreeMap<String, QueryResults>,
    /// Failures to answer, per operation, in order (each answers one call).
    faults: BTreeMap<LogsOperation, Vec<(String, String)>>,
    calls: BTreeMap<LogsOperation, u32>,
    /// Whether Logs Insights is served: `false` answers StartQuery as a look-alike without it.
    insights_off: bool,
}

/// In-memory CloudWatch Logs of one region.
#[derive(Debug)]
pub struct SimLogs {
    region: String,
    state: Mutex<State>,
}

impl SimLogs {
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn create_log_group(&self, name: &str) {
        self.state().groups.entry(name.to_string()).or_default();
    }

    /// Writes events (timestamp ms, message) to a stream of a group, creating both as needed.
    pub fn put_events(&self, group: &str, stream: &str, events: impl IntoIterator<Item = (i64, String)>) {
        let mut state = self.state();
        let events_of = state.groups.entry(group.to_string()).or_default();
        events_of.extend(events.into_iter().map(|(t, m)| (stream.to_string(), t, m)));
    }

    /// Every event of a group (what a test wrote, or the simulated world).
    pub fn events(&self, group: &str) -> Vec<LogEvent> {
        self.state()
            .groups
            .get(group)
            .map(|events| {
                events
                    .iter()
                    .map(|(s, t, m)| LogEvent {
                        timestamp_ms: *t,
                        message: m.clone(),
                        log_stream_name: Some(s.clone()),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The next call of `operation` fails with this CloudWatch Logs error code and message.
    pub fn fail_next(&self, operation: LogsOperation, code: &str, message: &str) {
        self.state()
            .faults
            .entry(operation)
            .or_default()
            .push((code.to_string(), message.to_string()));
    }

    /// StartQuery answers as a look-alike without Logs Insights does (`InvalidOperationException`).
    pub fn without_insights(&self) {
        self.state().insights_off = true;
    }

    /// How many calls of `operation` were made (failed ones included).
    pub fn calls(&self, operation: LogsOperation) -> u32 {
        self.state().calls.get(&operation).copied().unwrap_or(0)
    }

    /// Counts the call and answers an injected failure, if one is queued.
    fn gate(&self, state: &mut State, operation: LogsOperation) -> Result<(), LogsError> {
        *state.calls.entry(operation).or_default() += 1;
        if let Some(queue) = state.faults.get_mut(&operation)
            && !queue.is_empty()
        {
            let (code, message) = queue.remove(0);
            return Err(LogsError::from_code(operation, code, message));
        }
        Ok(())
    }
}

fn not_found(operation: LogsOperation, group: &str) -> LogsError {
    LogsError::from_code(
        operation,
        "ResourceNotFoundException",
        format!("The specified log group does not exist: {group}"),
    )
}

impl Logs for SimLogs {
    fn region(&self) -> Option<String> {
        Some(self.region.clone())
    }

    async fn start_query(&self, request: &StartQuery) -> Result<String, LogsError> {
        let op = LogsOperation::StartQuery;
        let mut state = self.state();
        self.gate(&mut state, op)?;
        if state.insights_off {
            return Err(LogsError::from_code(
                op,
                "InvalidOperationException",
                "Logs Insights is not served here",
            ));
        }
        let Some(events) = state.groups.get(&request.log_group_name) else {
            return Err(not_found(op, &request.log_group_name));
        };
        let query = insights::parse(&request.query_string)
            .map_err(|e| LogsError::from_code(op, "MalformedQueryException", e))?;
        let (from, to) = (request.start_time * 1000, request.end_time * 1000 + 999);
        let in_range: Vec<Record<'_>> = events
            .iter()
            .filter(|(_, t, _)| (from..=to).contains(t))
            .map(|(s, t, m)| Record {
                timestamp_ms: *t,
                message: m,
                log_stream: s,
            })
            .collect();
        let bytes: usize = in_range.iter().map(|r| r.message.len()).sum();
        let scanned = in_range.len();
        let mut rows = insights::execute(&query, &in_range)
            .map_err(|e| LogsError::from_code(op, "MalformedQueryException", e))?;
        if let Some(limit) = request.limit {
            rows.truncate(limit as usize);
        }
        let id = format!("sim-query-{}", state.queries.len() + 1);
        let results = QueryResults {
            status: Some(QueryStatus::Complete),
            statistics: QueryStatistics {
                records_matched: rows.len() as f64,
                records_scanned: scanned as f64,
                bytes_scanned: bytes as f64,
            },
            rows,
        };
        state.queries.insert(id.clone(), results);
        Ok(id)
    }

    async fn get_query_results(&self, query_id: &str) -> Result<QueryResults, LogsError> {
        let op = LogsOperation::GetQueryResults;
        let mut state = self.state();
        self.gate(&mut state, op)?;
        state.queries.get(query_id).cloned().ok_or_else(|| {
            LogsError::from_code(
                op,
                "ResourceNotFoundException",
                format!("Query does not exist: {query_id}"),
            )
        })
    }

    async fn filter_log_events(&self, request: &FilterLogEvents) -> Result<LogEvents, LogsError> {
        let op = LogsOperation::FilterLogEvents;
        let mut read = LogEvents::default();
        let mut state = self.state();
        let term = request.filter_pattern.as_deref().map(quoted_term).transpose()?;
        let matching: Vec<LogEvent> = {
            let Some(events) = state.groups.get(&request.log_group_name) else {
                self.gate(&mut state, op)?;
                return Err(not_found(op, &request.log_group_name));
            };
            let mut matching: Vec<LogEvent> = events
                .iter()
                .filter(|(_, t, _)| (request.start_time_ms..=request.end_time_ms).contains(t))
                .filter(|(_, _, m)| term.as_deref().is_none_or(|term| m.contains(term)))
                .map(|(s, t, m)| LogEvent {
                    timestamp_ms: *t,
                    message: m.clone(),
                    log_stream_name: Some(s.clone()),
                })
                .collect();
            matching.sort_by_key(|e| e.timestamp_ms);
            matching
        };
        // One call per page, as the adapter pages.
        for page in matching.chunks(PAGE_EVENTS) {
            self.gate(&mut state, op)?;
            read.calls += 1;
            let left = request.max_events - read.events.len();
            read.events.extend(page.iter().take(left).cloned());
            if read.events.len() >= request.max_events {
                read.complete = read.events.len() == matching.len();
                return Ok(read);
            }
        }
        if read.calls == 0 {
            self.gate(&mut state, op)?;
            read.calls = 1;
        }
        read.complete = true;
        Ok(read)
    }
}

/// The one filter pattern the readers send: a quoted term (`"logs.ap-northeast-1.amazonaws.com"`).
fn quoted_term(pattern: &str) -> Result<String, LogsError> {
    pattern
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .map(str::to_string)
        .ok_or_else(|| {
            LogsError::from_code(
                LogsOperation::FilterLogEvents,
                "InvalidParameterException",
                format!("the simulated logs filter by one quoted term only, not {pattern:?}"),
            )
        })
}

/// The simulated logs serve every region and account asked for (one set of log groups).
impl LogsProvider for Arc<SimLogs> {
    type Logs = SimLogs;

    async fn logs(&self, _region: Option<&str>) -> Result<Arc<SimLogs>, ProviderError> {
        Ok(self.clone())
    }

    async fn logs_as(
        &self,
        _region: Option<&str>,
        _role: &AssumeRole,
    ) -> Result<Arc<SimLogs>, AccountAccessError> {
        Ok(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ErrorKind;
    use crate::logs::{QueryPolling, run_query};

    fn record(name: &str, addr: &str) -> String {
        serde_json::json!({"query_name": name, "srcaddr": addr, "srcids": {"instance": "i-1"}}).to_string()
    }

    #[tokio::test]
    async fn an_insights_aggregate_counts_queries_per_source_and_reports_what_it_scanned() {
        let logs = SimLogs::new("ap-northeast-1");
        logs.put_events(
            "/resolver",
            "vpc-1",
            [
                (10_000, record("logs.ap-northeast-1.amazonaws.com.", "10.0.1.10")),
                (20_000, record("logs.ap-northeast-1.amazonaws.com.", "10.0.1.10")),
                (30_000, record("ec2.ap-northeast-1.amazonaws.com.", "10.0.1.11")),
            ],
        );
        let request = StartQuery {
            log_group_name: "/resolver".into(),
            start_time: 0,
            end_time: 100,
            query_string: "filter query_name = 'logs.ap-northeast-1.amazonaws.com.' \
                | stats count(*) as queries, max(@timestamp) as lastSeen by srcaddr"
                .into(),
            limit: None,
        };
        let results = run_query(&logs, &request, QueryPolling::default()).await.unwrap();
        assert_eq!(results.rows.len(), 1);
        assert_eq!(results.rows[0]["queries"], "2");
        assert_eq!(results.statistics.records_scanned, 3.0);
        assert!(results.statistics.bytes_scanned > 100.0);
        assert_eq!(logs.calls(LogsOperation::StartQuery), 1);
        assert_eq!(logs.calls(LogsOperation::GetQueryResults), 1);
    }

    #[tokio::test]
    async fn a_missing_group_an_injected_denial_and_no_insights_are_classified() {
        let logs = SimLogs::new("ap-northeast-1");
        let request = StartQuery {
            log_group_name: "/nope".into(),
            start_time: 0,
            end_time: 1,
            query_string: "stats count(*) as n".into(),
            limit: None,
        };
        let err = logs.start_query(&request).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
        logs.create_log_group("/nope");
        logs.fail_next(
            LogsOperation::StartQuery,
            "AccessDeniedException",
            "not authorized",
        );
        assert_eq!(
            logs.start_query(&request).await.unwrap_err().kind,
            ErrorKind::AccessDenied
        );
        logs.without_insights();
        assert_eq!(
            logs.start_query(&request).await.unwrap_err().kind,
            ErrorKind::Invalid
        );
    }

    #[tokio::test]
    async fn a_filter_scan_stops_at_its_bound_and_says_it_is_incomplete() {
        let logs = SimLogs::new("ap-northeast-1");
        logs.put_events(
            "/resolver",
            "s",
            (0..2_500).map(|i| (i, record("logs.ap-northeast-1.amazonaws.com.", "10.0.1.10"))),
        );
        logs.put_events(
            "/resolver",
            "s",
            [(5, record("ec2.ap-northeast-1.amazonaws.com.", "10.0.1.9"))],
        );
        let mut request = FilterLogEvents {
            log_group_name: "/resolver".into(),
            start_time_ms: 0,
            end_time_ms: 10_000,
            filter_pattern: Some("\"logs.ap-northeast-1.amazonaws.com\"".into()),
            max_events: 1_500,
        };
        let read = logs.filter_log_events(&request).await.unwrap();
        assert_eq!((read.events.len(), read.complete, read.calls), (1_500, false, 2));
        request.max_events = 10_000;
        let read = logs.filter_log_events(&request).await.unwrap();
        assert_eq!((read.events.len(), read.complete, read.calls), (2_500, true, 3));
    }
}
