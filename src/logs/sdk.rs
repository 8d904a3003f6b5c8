//! The CloudWatch Logs port over aws-sdk-cloudwatchlogs: what runs against a real account (and
//! against moto in the wire tests).
//!
//! Built from the EC2 adapter's configuration ([`crate::aws::sdk::SdkProvider`]): the same
//! credentials chain, HTTPS client (rustls with ring), retries, timeouts and endpoint URL
//! (`AWS_ENDPOINT_URL`, or `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` for this service alone), and in
//! another account the same assumed role session as the object's EC2 port.

use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::sync::{Arc, Mutex};

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_cloudwatchlogs::config::http::HttpResponse;
use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatchlogs::operation::RequestId;

use super::{
    FilterLogEvents, LogEvent, LogEvents, Logs, LogsError, LogsOperation as Op, LogsProvider, QueryResults,
    QueryStatistics, QueryStatus, StartQuery,
};
use crate::aws::sdk::SdkProvider;
use crate::aws::sdk::errors::{NO_CREDENTIALS, chain_message, find_source};
use crate::aws::{AccountAccessError, AssumeRole, ErrorKind, ProviderError};

/// FilterLogEvents returns at most 10,000 events a page.
const MAX_PAGE_EVENTS: usize = 10_000;

/// Completed queries kept per port: a controller reads each object's evidence over the same
/// window (its end rounded to [`crate::engine::evidence::REFRESH`]) until the window moves.
const REMEMBERED_QUERIES: usize = 256;
/// The query id of a remembered query.
const REMEMBERED: &str = "remembered:";

/// The CloudWatch Logs port for one region.
#[derive(Debug)]
pub struct SdkLogs {
    client: aws_sdk_cloudwatchlogs::Client,
    /// Completed Logs Insights queries by their request: the same StartQuery over the same
    /// window is answered from here (Logs Insights bills every query by the bytes it scans).
    remembered: Mutex<Remembered>,
}

#[derive(Debug, Default)]
struct Remembered {
    by_request: HashMap<(String, i64, i64, String), usize>,
    results: Vec<QueryResults>,
    /// Query ids started here, and their requests: a complete answer is remembered.
    started: HashMap<String, (String, i64, i64, String)>,
}

impl SdkLogs {
    pub fn new(client: aws_sdk_cloudwatchlogs::Client) -> Self {
        Self {
            client,
            remembered: Mutex::new(Remembered::default()),
        }
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, Remembered> {
        self.remembered.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The underlying SDK client (tests write log events with it; the port only reads).
    pub fn client(&self) -> &aws_sdk_cloudwatchlogs::Client {
        &self.client
    }
}

impl Logs for SdkLogs {
    fn region(&self) -> Option<String> {
        self.client.config().region().map(|r| r.to_string())
    }

    async fn start_query(&self, request: &StartQuery) -> Result<String, LogsError> {
        let key = (
            request.log_group_name.clone(),
            request.start_time,
            request.end_time,
            request.query_string.clone(),
        );
        if let Some(i) = self.remembered().by_request.get(&key) {
            return Ok(format!("{REMEMBERED}{i}"));
        }
        let out = self
            .client
            .start_query()
            .log_group_names(&request.log_group_name)
            .start_time(request.start_time)
            .end_time(request.end_time)
            .query_string(&request.query_string)
            .set_limit(request.limit.map(|l| l.min(10_000) as i32))
            .send()
            .await
            .map_err(|e| from_sdk(Op::StartQuery, e))?;
        let id = out
            .query_id()
            .map(str::to_string)
            .ok_or_else(|| unexpected(Op::StartQuery, "StartQuery answered without a queryId"))?;
        let mut remembered = self.remembered();
        if remembered.started.len() >= REMEMBERED_QUERIES {
            // Queries that never completed here (failed, or outwaited): forgotten.
            remembered.started.clear();
        }
        remembered.started.insert(id.clone(), key);
        Ok(id)
    }

    async fn get_query_results(&self, query_id: &str) -> Result<QueryResults, LogsError> {
        if let Some(i) = query_id
            .strip_prefix(REMEMBERED)
            .and_then(|i| i.parse::<usize>().ok())
            && let Some(results) = self.remembered().results.get(i)
        {
            return Ok(results.clone());
        }
        let out = self
            .client
            .get_query_results()
            .query_id(query_id)
            .send()
            .await
            .map_err(|e| from_sdk(Op::GetQueryResults, e))?;
        let rows = out
            .results()
            .iter()
            .map(|row| {
                row.iter()
                    .filter_map(|f| Some((f.field()?.to_string(), f.value()?.to_string())))
                    .filter(|(field, _)| field != "@ptr")
                    .collect::<BTreeMap<_, _>>()
            })
            .collect();
        let statistics = out
            .statistics()
            .map(|s| QueryStatistics {
                records_matched: s.records_matched(),
                records_scanned: s.records_scanned(),
                bytes_scanned: s.bytes_scanned(),
            })
            .unwrap_or_default();
        let results = QueryResults {
            status: out.status().map(|s| QueryStatus::parse(s.as_str())),
            rows,
            statistics,
        };
        if results.status == Some(QueryStatus::Complete) {
            let mut remembered = self.remembered();
            if let Some(key) = remembered.started.remove(query_id) {
                if remembered.results.len() >= REMEMBERED_QUERIES {
                    // A new window has begun long since: start over rather than keep old answers.
                    remembered.results.clear();
                    remembered.by_request.clear();
                }
                let i = remembered.results.len();
                remembered.results.push(results.clone());
                remembered.by_request.insert(key, i);
            }
        }
        Ok(results)
    }

    async fn filter_log_events(&self, request: &FilterLogEvents) -> Result<LogEvents, LogsError> {
        let mut read = LogEvents::default();
        let mut token: Option<String> = None;
        loop {
            let left = request.max_events.saturating_sub(read.events.len());
            if left == 0 {
                // The bound is reached; whether more events exist is unknown.
                return Ok(read);
            }
            let out = self
                .client
                .filter_log_events()
                .log_group_name(&request.log_group_name)
                .start_time(request.start_time_ms)
                .end_time(request.end_time_ms)
                .set_filter_pattern(request.filter_pattern.clone())
                .limit(left.min(MAX_PAGE_EVENTS) as i32)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| from_sdk(Op::FilterLogEvents, e))?;
            read.calls += 1;
            read.events.extend(out.events().iter().map(|e| LogEvent {
                timestamp_ms: e.timestamp().unwrap_or_default(),
                message: e.message().unwrap_or_default().to_string(),
                log_stream_name: e.log_stream_name().map(str::to_string),
            }));
            match out.next_token() {
                // FilterLogEvents may answer an empty page with a token (it searches by
                // stream): following it is how the scan reaches the rest.
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => {
                    read.complete = true;
                    return Ok(read);
                }
            }
        }
    }
}

impl LogsProvider for SdkProvider {
    type Logs = SdkLogs;

    async fn logs(&self, region: Option<&str>) -> Result<Arc<SdkLogs>, ProviderError> {
        self.logs_for(region)
    }

    async fn logs_as(
        &self,
        region: Option<&str>,
        role: &AssumeRole,
    ) -> Result<Arc<SdkLogs>, AccountAccessError> {
        self.logs_for_role(region, role).await
    }
}

fn unexpected(op: Op, what: &str) -> LogsError {
    LogsError::new(
        ErrorKind::Invalid,
        op,
        crate::aws::sdk::errors::UNEXPECTED_RESPONSE,
        what,
    )
}

/// Classifies a failed SDK call, keeping the id AWS gave the request.
fn from_sdk<E>(op: Op, err: SdkError<E, HttpResponse>) -> LogsError
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let request_id = err.request_id().map(str::to_string);
    let error = match &err {
        SdkError::ServiceError(context) => match context.err().code() {
            Some(code) => LogsError::from_code(op, code, context.err().message().unwrap_or_default()),
            None => {
                let status = context.raw().status().as_u16();
                let kind = match status {
                    429 => ErrorKind::Throttled,
                    500..=599 => ErrorKind::Transient,
                    _ => ErrorKind::Invalid,
                };
                LogsError::new(kind, op, format!("HTTP{status}"), chain_message(&err))
            }
        },
        SdkError::DispatchFailure(failure) => {
            if let Some(credentials) = find_source::<CredentialsError>(&err) {
                let kind = match credentials {
                    CredentialsError::CredentialsNotLoaded(_) => ErrorKind::AccessDenied,
                    CredentialsError::InvalidConfiguration(_) => ErrorKind::Invalid,
                    _ => ErrorKind::Transient,
                };
                LogsError::new(kind, op, NO_CREDENTIALS, chain_message(&err))
            } else if failure.is_user() {
                LogsError::new(ErrorKind::Invalid, op, "InvalidRequest", chain_message(&err))
            } else {
                let code = if failure.is_timeout() {
                    "Timeout"
                } else {
                    "ConnectionFailed"
                };
                LogsError::new(ErrorKind::Transient, op, code, chain_message(&err))
            }
        }
        SdkError::ConstructionFailure(_) => {
            LogsError::new(ErrorKind::Invalid, op, "InvalidRequest", chain_message(&err))
        }
        SdkError::TimeoutError(_) => LogsError::new(
            ErrorKind::Transient,
            op,
            "Timeout",
            "no response within the configured timeout",
        ),
        _ => LogsError::new(ErrorKind::Transient, op, "ResponseError", chain_message(&err)),
    };
    error.with_request_id(request_id)
}
