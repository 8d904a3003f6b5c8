//! The CloudWatch Logs port: every CloudWatch Logs call the evidence and canary readers make, as
//! one trait, like the EC2 port ([`crate::aws::Ec2`]).
//!
//! The readers need two ways in: a Logs Insights query (StartQuery, then GetQueryResults until
//! it is done) that aggregates on AWS's side, so that a week of Resolver query logs comes back
//! as one row per client instead of millions of records; and a bounded FilterLogEvents scan
//! where Insights cannot serve (a look-alike without it, a few minutes of flow logs). Both are
//! reads of named log groups; the IAM policy grants exactly these actions on those groups.
//!
//! Two implementations: [`sdk`] (aws-sdk-cloudwatchlogs, the real thing, also against moto in
//! the wire tests) and [`sim`] (in-memory log groups on the simulated clock, with the Insights
//! subset the readers use). Both classify errors into [`ErrorKind`], the EC2 port's kinds, so
//! that retries, backoff and condition reasons are decided the same way. Nothing here decides
//! anything.

pub mod flow;
pub mod insights;
pub mod records;
pub mod resolver;
pub mod sdk;
pub mod sim;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::aws::{AccountAccessError, AssumeRole, ErrorKind, ProviderError};

/// Every CloudWatch Logs operation the port performs: a bounded label set, and the IAM actions
/// (`logs:<name>`) the policy grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogsOperation {
    StartQuery,
    GetQueryResults,
    FilterLogEvents,
}

impl LogsOperation {
    pub const ALL: [LogsOperation; 3] = [Self::StartQuery, Self::GetQueryResults, Self::FilterLogEvents];

    /// The CloudWatch Logs API action name (also the IAM action after `logs:`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StartQuery => "StartQuery",
            Self::GetQueryResults => "GetQueryResults",
            Self::FilterLogEvents => "FilterLogEvents",
        }
    }

    /// Whether IAM authorizes the action on a log group (so the policy can name the groups).
    /// GetQueryResults takes a query id, not a group: IAM authorizes it on `*` only, and it
    /// returns only what a StartQuery on a granted group produced.
    pub fn is_scoped_to_log_groups(self) -> bool {
        !matches!(self, Self::GetQueryResults)
    }
}

impl fmt::Display for LogsOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed CloudWatch Logs call, classified like [`crate::aws::Ec2Error`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("CloudWatch Logs {operation} failed ({code}): {message}")]
pub struct LogsError {
    pub kind: ErrorKind,
    pub operation: LogsOperation,
    /// The service's error code (`ResourceNotFoundException`, ...) or a short description of a
    /// transport failure.
    pub code: String,
    pub message: String,
    /// The id AWS gave the failed request, when it reached AWS.
    pub request_id: Option<String>,
}

impl LogsError {
    pub fn new(
        kind: ErrorKind,
        operation: LogsOperation,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            operation,
            code: code.into(),
            message: message.into(),
            request_id: None,
        }
    }

    /// An error from a CloudWatch Logs error code, classified by [`classify`] (shared by the
    /// SDK adapter and the simulated logs).
    pub fn from_code(operation: LogsOperation, code: impl Into<String>, message: impl Into<String>) -> Self {
        let code = code.into();
        let message = message.into();
        Self {
            kind: classify(&code, &message),
            operation,
            code,
            message,
            request_id: None,
        }
    }

    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }
}

/// Classifies a CloudWatch Logs error code. Unknown codes are `Invalid` (never retried in a
/// loop), as for EC2; the codes CloudWatch Logs shares with other services (`ThrottlingException`,
/// `AccessDeniedException`, `InternalFailure`) go through the EC2 table.
pub fn classify(code: &str, message: &str) -> ErrorKind {
    match code {
        "ResourceNotFoundException" => ErrorKind::NotFound,
        // StartQuery: "the maximum number of concurrent queries" (30 per account by default, an
        // account-wide budget shared with the people using the console): it clears by itself.
        "LimitExceededException" => ErrorKind::Throttled,
        "ServiceUnavailableException" | "ServiceUnavailable" | "InternalServerException" => {
            ErrorKind::Transient
        }
        // Credentials the service does not know or that expired: a deployment problem.
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "MissingAuthenticationToken" => ErrorKind::AccessDenied,
        "InvalidParameterException" | "MalformedQueryException" | "InvalidOperationException" => {
            ErrorKind::Invalid
        }
        other => crate::aws::errors::classify(other, message),
    }
}

/// StartQuery: one Logs Insights query over one log group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartQuery {
    pub log_group_name: String,
    /// Epoch seconds, inclusive (Logs Insights' unit).
    pub start_time: i64,
    /// Epoch seconds, inclusive.
    pub end_time: i64,
    pub query_string: String,
    /// Most rows returned (Logs Insights allows up to 10,000).
    pub limit: Option<u32>,
}

/// Where a Logs Insights query stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryStatus {
    Scheduled,
    Running,
    Complete,
    Failed,
    Cancelled,
    Timeout,
    /// Anything else CloudWatch Logs answers (`Unknown`, a status added later).
    Other(String),
}

impl QueryStatus {
    pub fn parse(text: &str) -> Self {
        match text {
            "Scheduled" => Self::Scheduled,
            "Running" => Self::Running,
            "Complete" => Self::Complete,
            "Failed" => Self::Failed,
            "Cancelled" => Self::Cancelled,
            "Timeout" => Self::Timeout,
            other => Self::Other(other.to_string()),
        }
    }

    /// Whether the query is still being worked on (polling again can change the answer).
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Scheduled | Self::Running)
    }
}

impl fmt::Display for QueryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scheduled => f.write_str("Scheduled"),
            Self::Running => f.write_str("Running"),
            Self::Complete => f.write_str("Complete"),
            Self::Failed => f.write_str("Failed"),
            Self::Cancelled => f.write_str("Cancelled"),
            Self::Timeout => f.write_str("Timeout"),
            Self::Other(s) => f.write_str(s),
        }
    }
}

/// What a query scanned: the Logs Insights bill is by bytes scanned.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QueryStatistics {
    pub records_matched: f64,
    pub records_scanned: f64,
    pub bytes_scanned: f64,
}

/// GetQueryResults: the status, the rows so far (all of them once `Complete`), the statistics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueryResults {
    pub status: Option<QueryStatus>,
    /// One map per row, field name → value, as Logs Insights returns them (`@ptr` left out).
    pub rows: Vec<BTreeMap<String, String>>,
    pub statistics: QueryStatistics,
}

/// FilterLogEvents over one log group, read page by page up to `max_events`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterLogEvents {
    pub log_group_name: String,
    /// Epoch milliseconds, inclusive (FilterLogEvents' unit).
    pub start_time_ms: i64,
    /// Epoch milliseconds, inclusive.
    pub end_time_ms: i64,
    /// A CloudWatch Logs filter pattern (e.g. a quoted term); `None` returns every event.
    pub filter_pattern: Option<String>,
    /// The bound of the scan: no more events than this are read.
    pub max_events: usize,
}

/// One log event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEvent {
    /// Epoch milliseconds.
    pub timestamp_ms: i64,
    pub message: String,
    pub log_stream_name: Option<String>,
}

/// What a bounded FilterLogEvents scan read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogEvents {
    pub events: Vec<LogEvent>,
    /// `false` when the bound stopped the scan before CloudWatch Logs ran out of events: the
    /// events are a prefix, what they say is a lower bound.
    pub complete: bool,
    /// FilterLogEvents calls made.
    pub calls: u32,
}

/// Every CloudWatch Logs call the readers make. Implementations are cheap to share (`&self`)
/// and classify every error into [`ErrorKind`].
pub trait Logs: Send + Sync {
    /// The region this port reads in (a port serves one region).
    fn region(&self) -> Option<String>;

    /// StartQuery: the query's id.
    fn start_query(&self, request: &StartQuery) -> impl Future<Output = Result<String, LogsError>> + Send;

    /// GetQueryResults of a query this port started.
    fn get_query_results(
        &self,
        query_id: &str,
    ) -> impl Future<Output = Result<QueryResults, LogsError>> + Send;

    /// FilterLogEvents, every page until `max_events` events are read or none are left.
    fn filter_log_events(
        &self,
        request: &FilterLogEvents,
    ) -> impl Future<Output = Result<LogEvents, LogsError>> + Send;
}

/// Code of every call to [`NoLogs`].
pub const NO_LOGS_PORT: &str = "NoCloudWatchLogs";

/// The port of a run that reads no logs (a pass over a snapshot file, a test of the rollout
/// alone): every call is refused, so a spec that names evidence is told it could not be read,
/// and the analysis falls back to the configuration.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLogs;

impl NoLogs {
    fn refuse(operation: LogsOperation) -> LogsError {
        LogsError::new(
            ErrorKind::Invalid,
            operation,
            NO_LOGS_PORT,
            "this run has no CloudWatch Logs client",
        )
    }
}

impl Logs for NoLogs {
    fn region(&self) -> Option<String> {
        None
    }

    async fn start_query(&self, _request: &StartQuery) -> Result<String, LogsError> {
        Err(Self::refuse(LogsOperation::StartQuery))
    }

    async fn get_query_results(&self, _query_id: &str) -> Result<QueryResults, LogsError> {
        Err(Self::refuse(LogsOperation::GetQueryResults))
    }

    async fn filter_log_events(&self, _request: &FilterLogEvents) -> Result<LogEvents, LogsError> {
        Err(Self::refuse(LogsOperation::FilterLogEvents))
    }
}

impl LogsProvider for NoLogs {
    type Logs = NoLogs;

    async fn logs(&self, _region: Option<&str>) -> Result<Arc<NoLogs>, ProviderError> {
        Ok(Arc::new(NoLogs))
    }

    async fn logs_as(
        &self,
        _region: Option<&str>,
        _role: &AssumeRole,
    ) -> Result<Arc<NoLogs>, AccountAccessError> {
        Ok(Arc::new(NoLogs))
    }
}

/// A provider's port, or why there is none (no region, a refused AssumeRole): every call of an
/// unavailable port is refused with that reason.
#[derive(Debug)]
pub enum LogsPort<L> {
    Ready(Arc<L>),
    Unavailable(String),
}

impl<L: Logs> LogsPort<L> {
    fn refuse(why: &str, operation: LogsOperation) -> LogsError {
        LogsError::new(ErrorKind::Invalid, operation, NO_LOGS_PORT, why.to_string())
    }
}

impl<L: Logs> Logs for LogsPort<L> {
    fn region(&self) -> Option<String> {
        match self {
            Self::Ready(l) => l.region(),
            Self::Unavailable(_) => None,
        }
    }

    async fn start_query(&self, request: &StartQuery) -> Result<String, LogsError> {
        match self {
            Self::Ready(l) => l.start_query(request).await,
            Self::Unavailable(why) => Err(Self::refuse(why, LogsOperation::StartQuery)),
        }
    }

    async fn get_query_results(&self, query_id: &str) -> Result<QueryResults, LogsError> {
        match self {
            Self::Ready(l) => l.get_query_results(query_id).await,
            Self::Unavailable(why) => Err(Self::refuse(why, LogsOperation::GetQueryResults)),
        }
    }

    async fn filter_log_events(&self, request: &FilterLogEvents) -> Result<LogEvents, LogsError> {
        match self {
            Self::Ready(l) => l.filter_log_events(request).await,
            Self::Unavailable(why) => Err(Self::refuse(why, LogsOperation::FilterLogEvents)),
        }
    }
}

/// Makes CloudWatch Logs ports per region, with the controller's identity or a role assumed in
/// another account (the same role, session and credentials as the object's EC2 port).
pub trait LogsProvider: Send + Sync + 'static {
    type Logs: Logs + 'static;

    fn logs(
        &self,
        region: Option<&str>,
    ) -> impl Future<Output = Result<Arc<Self::Logs>, ProviderError>> + Send;

    fn logs_as(
        &self,
        region: Option<&str>,
        role: &AssumeRole,
    ) -> impl Future<Output = Result<Arc<Self::Logs>, AccountAccessError>> + Send;
}

/// How long to wait for a Logs Insights query: polls of GetQueryResults, `interval` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryPolling {
    pub attempts: u32,
    pub interval: Duration,
}

impl Default for QueryPolling {
    /// Up to 15 s: an aggregate over a week of one VPC's query logs takes seconds.
    fn default() -> Self {
        Self {
            attempts: 30,
            interval: Duration::from_millis(500),
        }
    }
}

/// Code of a query that was still running when the polling bound ran out.
pub const QUERY_STILL_RUNNING: &str = "QueryStillRunning";
/// Code of a query that ended otherwise than `Complete`.
pub const QUERY_NOT_COMPLETE: &str = "QueryNotComplete";

/// Runs one Logs Insights query to its end: StartQuery, then GetQueryResults until the query is
/// done or `polling` runs out (then a retryable error: the next pass asks again). The first
/// poll is immediate: look-alikes and small groups answer at once.
pub async fn run_query<L: Logs>(
    logs: &L,
    request: &StartQuery,
    polling: QueryPolling,
) -> Result<QueryResults, LogsError> {
    let id = logs.start_query(request).await?;
    for attempt in 0..polling.attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(polling.interval).await;
        }
        let results = logs.get_query_results(&id).await?;
        match &results.status {
            Some(QueryStatus::Complete) => return Ok(results),
            Some(status) if !status.is_pending() => {
                return Err(LogsError::new(
                    ErrorKind::Transient,
                    LogsOperation::GetQueryResults,
                    QUERY_NOT_COMPLETE,
                    format!(
                        "Logs Insights query {id} on {} ended {status}",
                        request.log_group_name
                    ),
                ));
            }
            _ => {}
        }
    }
    Err(LogsError::new(
        ErrorKind::Transient,
        LogsOperation::GetQueryResults,
        QUERY_STILL_RUNNING,
        format!(
            "Logs Insights query {id} on {} still running after {} polls {:?} apart",
            request.log_group_name, polling.attempts, polling.interval
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudwatch_logs_codes_fall_into_the_ec2_ports_kinds() {
        for (code, kind) in [
            ("ResourceNotFoundException", ErrorKind::NotFound),
            ("AccessDeniedException", ErrorKind::AccessDenied),
            ("UnrecognizedClientException", ErrorKind::AccessDenied),
            ("ThrottlingException", ErrorKind::Throttled),
            ("LimitExceededException", ErrorKind::Throttled),
            ("ServiceUnavailableException", ErrorKind::Transient),
            ("InternalFailure", ErrorKind::Transient),
            ("MalformedQueryException", ErrorKind::Invalid),
            ("InvalidParameterException", ErrorKind::Invalid),
            ("SomethingNew", ErrorKind::Invalid),
        ] {
            assert_eq!(classify(code, ""), kind, "{code}");
        }
    }

    #[test]
    fn only_get_query_results_is_not_scoped_to_a_log_group() {
        let unscoped: Vec<_> = LogsOperation::ALL
            .into_iter()
            .filter(|op| !op.is_scoped_to_log_groups())
            .collect();
        assert_eq!(unscoped, [LogsOperation::GetQueryResults]);
    }
}
