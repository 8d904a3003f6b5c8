//! Prometheus metrics, served as text at `/metrics` by [`super::http`].
//!
//! Every label value comes from a closed set known at compile time: reconcile error categories
//! ([`ErrorCategory`]), rollout phases ([`RolloutPhase::ALL`]), EC2 operations
//! ([`Ec2Operation::ALL`]) and call outcomes (`ok` or an [`ErrorKind`] label). No label is ever
//! built from an object's name or an error message, so the number of series is fixed (it is
//! printed by the exposition test) however many objects the cluster holds.
//!
//! Why a hand-written registry rather than the `prometheus-client` crate: because every label set
//! is a closed enum, each metric is a fixed array of atomics indexed by the enum, with no hashing
//! and no lock on the reconcile or EC2 path, and every series is exported from the start (at 0),
//! so `rate()` and absence alerts work from the first scrape. `prometheus-client` would bring
//! four crates (a derive macro among them) for label families built for dynamic label values we
//! do not have. The text format (version 0.0.4) is small and is checked line by line in the
//! tests below.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::api::RolloutPhase;
use crate::aws::budget::{BudgetObserver, RateCategory};
use crate::aws::observation::VpcObservations;
use crate::aws::{Ec2Operation, ErrorKind};

/// The `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the reconcile duration buckets: a reconcile is a handful of
/// Describe calls (tens to hundreds of milliseconds each), more with pagination or throttling.
pub const DURATION_BUCKETS: [f64; 12] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Why a reconcile failed: an AWS error kind, or one of the few failures that are not AWS's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCategory {
    /// An EC2 call failed.
    Aws(ErrorKind),
    /// The Kubernetes API refused or failed a call (status patch, finalizer update, Event).
    Kubernetes,
    /// The spec cannot be acted on (unknown VPC, subnet in another VPC, reserved tag key, ...).
    InvalidSpec,
    /// The EC2 client could not be set up (no region, bad endpoint URL, no credentials).
    AwsConfig,
}

/// Every [`ErrorKind`], in label order. [`kind_index`] keeps it exhaustive: a new variant does
/// not compile until it is placed here.
const ERROR_KINDS: [ErrorKind; 10] = [
    ErrorKind::Throttled,
    ErrorKind::NotYetVisible,
    ErrorKind::NotFound,
    ErrorKind::Duplicate,
    ErrorKind::IdempotencyMismatch,
    ErrorKind::Precondition,
    ErrorKind::AccessDenied,
    ErrorKind::Invalid,
    ErrorKind::Transient,
    ErrorKind::WaitingForApiBudget,
];

fn kind_index(kind: ErrorKind) -> usize {
    match kind {
        ErrorKind::Throttled => 0,
        ErrorKind::NotYetVisible => 1,
        ErrorKind::NotFound => 2,
        ErrorKind::Duplicate => 3,
        ErrorKind::IdempotencyMismatch => 4,
        ErrorKind::Precondition => 5,
        ErrorKind::AccessDenied => 6,
        ErrorKind::Invalid => 7,
        ErrorKind::Transient => 8,
        ErrorKind::WaitingForApiBudget => 9,
    }
}

const NON_AWS_CATEGORIES: usize = 3;
const CATEGORIES: usize = ERROR_KINDS.len() + NON_AWS_CATEGORIES;
/// `ok` plus one outcome per error kind.
const OUTCOMES: usize = 1 + ERROR_KINDS.len();
const OPERATIONS: usize = Ec2Operation::ALL.len();
const PHASES: usize = RolloutPhase::ALL.len();
const BUCKETS: usize = RateCategory::ALL.len();

fn bucket_index(category: RateCategory) -> usize {
    RateCategory::ALL
        .iter()
        .position(|c| *c == category)
        .expect("RateCategory::ALL lists every category")
}

impl ErrorCategory {
    /// Every category, in label order.
    pub fn all() -> impl Iterator<Item = ErrorCategory> {
        ERROR_KINDS.into_iter().map(ErrorCategory::Aws).chain([
            Self::Kubernetes,
            Self::InvalidSpec,
            Self::AwsConfig,
        ])
    }

    /// The `category` label: the [`ErrorKind`]'s for AWS errors; the others spelled as the
    /// condition reasons that report them (`InvalidSpec`, `AwsConfiguration`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aws(kind) => kind.as_str(),
            Self::Kubernetes => "Kubernetes",
            Self::InvalidSpec => "InvalidSpec",
            Self::AwsConfig => "AwsConfiguration",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Aws(kind) => kind_index(kind),
            Self::Kubernetes => ERROR_KINDS.len(),
            Self::InvalidSpec => ERROR_KINDS.len() + 1,
            Self::AwsConfig => ERROR_KINDS.len() + 2,
        }
    }
}

impl From<ErrorKind> for ErrorCategory {
    fn from(kind: ErrorKind) -> Self {
        Self::Aws(kind)
    }
}

fn operation_index(op: Ec2Operation) -> usize {
    Ec2Operation::ALL
        .iter()
        .position(|o| *o == op)
        .expect("Ec2Operation::ALL lists every operation")
}

fn phase_index(phase: RolloutPhase) -> usize {
    RolloutPhase::ALL
        .iter()
        .position(|p| *p == phase)
        .expect("RolloutPhase::ALL lists every phase")
}

fn outcome_label(index: usize) -> &'static str {
    if index == 0 {
        "ok"
    } else {
        ERROR_KINDS[index - 1].as_str()
    }
}

/// The controller's metrics. Shared as `Arc<Metrics>`; every method takes `&self`.
#[derive(Debug)]
pub struct Metrics {
    reconciles: AtomicU64,
    reconcile_errors: [AtomicU64; CATEGORIES],
    /// Per bucket (not cumulative; summed at render time), then the `+Inf` overflow.
    duration_buckets: [AtomicU64; DURATION_BUCKETS.len() + 1],
    duration_sum_micros: AtomicU64,
    ec2_calls: [[AtomicU64; OUTCOMES]; OPERATIONS],
    /// The last phase reported per object key (`namespace/name`). The keys never leave this
    /// map: only the per-phase counts are exported.
    phases: Mutex<HashMap<String, RolloutPhase>>,
    leader: AtomicBool,
    /// Tokens of calls that had to wait for them, by the bucket's category.
    budget_tokens_waited: [AtomicU64; BUCKETS],
    /// `RequestLimitExceeded` answers the API budget absorbed, by the bucket's category.
    budget_throttles: [AtomicU64; BUCKETS],
    /// The configured share (f64 bits), and the current share of each account and region's
    /// budget by the budget's id (as many as accounts times regions; never a label).
    budget_share_configured: AtomicU64,
    budget_shares: Mutex<HashMap<usize, f64>>,
    /// The VPCs' shared snapshots, once the controller runs.
    observations: OnceLock<Arc<VpcObservations>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            reconciles: AtomicU64::new(0),
            reconcile_errors: std::array::from_fn(|_| AtomicU64::new(0)),
            duration_buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            duration_sum_micros: AtomicU64::new(0),
            ec2_calls: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            phases: Mutex::new(HashMap::new()),
            leader: AtomicBool::new(false),
            budget_tokens_waited: std::array::from_fn(|_| AtomicU64::new(0)),
            budget_throttles: std::array::from_fn(|_| AtomicU64::new(0)),
            budget_share_configured: AtomicU64::new(1.0f64.to_bits()),
            budget_shares: Mutex::new(HashMap::new()),
            observations: OnceLock::new(),
        }
    }

    /// Reports the VPCs' shared snapshots (their counts are read at each scrape).
    pub fn watch_observations(&self, observations: Arc<VpcObservations>) {
        let _ = self.observations.set(observations);
    }

    /// Records one finished reconcile: its duration, and its error category if it failed.
    /// Expected waits (endpoint pending, awaiting approval) are successes.
    pub fn observe_reconcile(&self, duration: Duration, error: Option<ErrorCategory>) {
        self.reconciles.fetch_add(1, Ordering::Relaxed);
        if let Some(category) = error {
            self.reconcile_errors[category.index()].fetch_add(1, Ordering::Relaxed);
        }
        let secs = duration.as_secs_f64();
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(DURATION_BUCKETS.len());
        self.duration_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.duration_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Records one EC2 call and its outcome (`None` = success).
    pub fn observe_ec2_call(&self, operation: Ec2Operation, error: Option<ErrorKind>) {
        let outcome = error.map_or(0, |kind| 1 + kind_index(kind));
        self.ec2_calls[operation_index(operation)][outcome].fetch_add(1, Ordering::Relaxed);
    }

    /// Records the phase an object is in now (replacing the one reported before).
    pub fn set_phase(&self, object_key: &str, phase: RolloutPhase) {
        let mut phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        match phases.get_mut(object_key) {
            Some(p) => *p = phase,
            None => {
                phases.insert(object_key.to_string(), phase);
            }
        }
    }

    /// Forgets an object that is gone (its finalizer completed).
    pub fn forget_object(&self, object_key: &str) {
        let mut phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        phases.remove(object_key);
    }

    /// Forgets every object `keep` refuses (those no longer in the controller's cache).
    pub fn retain_objects(&self, keep: impl Fn(&str) -> bool) {
        let mut phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        phases.retain(|key, _| keep(key));
    }

    /// The share of each account's EC2 API budget the controller is configured to take (the
    /// share gauge until a budget reports).
    pub fn set_budget_share(&self, share: f64) {
        self.budget_share_configured
            .store(share.to_bits(), Ordering::Relaxed);
    }

    /// The lowest current share over every account and region's budget.
    fn budget_share(&self) -> f64 {
        let shares = self.budget_shares.lock().unwrap_or_else(|e| e.into_inner());
        shares
            .values()
            .copied()
            .reduce(f64::min)
            .unwrap_or_else(|| f64::from_bits(self.budget_share_configured.load(Ordering::Relaxed)))
    }

    /// Records whether this replica holds the leader Lease.
    pub fn set_leader(&self, leading: bool) {
        self.leader.store(leading, Ordering::Relaxed);
    }

    fn phase_counts(&self) -> [u64; PHASES] {
        let phases = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        let mut counts = [0u64; PHASES];
        for phase in phases.values() {
            counts[phase_index(*phase)] += 1;
        }
        counts
    }

    /// The metrics in the Prometheus text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        // About 19 KB at zero, most of it the EC2 call series (operations × outcomes): one
        // allocation holds the whole exposition, even with large counter values.
        let mut out = String::with_capacity(24 * 1024);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);

        header(
            &mut out,
            "vpce_rollout_reconciles_total",
            "counter",
            "Reconciles of InterfaceEndpoint objects, successful or not.",
        );
        sample(
            &mut out,
            "vpce_rollout_reconciles_total",
            &[],
            load(&self.reconciles),
        );

        header(
            &mut out,
            "vpce_rollout_reconcile_errors_total",
            "counter",
            "Failed reconciles by error category (an EC2 call's, Kubernetes, InvalidSpec, AwsConfiguration).",
        );
        for category in ErrorCategory::all() {
            sample(
                &mut out,
                "vpce_rollout_reconcile_errors_total",
                &[("category", category.as_str())],
                load(&self.reconcile_errors[category.index()]),
            );
        }

        header(
            &mut out,
            "vpce_rollout_reconcile_duration_seconds",
            "histogram",
            "Duration of one reconcile pass (observe, plan, act, report).",
        );
        // f64's Display prints what Prometheus clients print: `0.5`, `1`, `60`.
        let mut cumulative = 0;
        for (i, le) in DURATION_BUCKETS.iter().enumerate() {
            cumulative += load(&self.duration_buckets[i]);
            bucket(&mut out, le, cumulative);
        }
        cumulative += load(&self.duration_buckets[DURATION_BUCKETS.len()]);
        bucket(&mut out, &"+Inf", cumulative);
        let sum = load(&self.duration_sum_micros) as f64 / 1e6;
        let _ = writeln!(out, "vpce_rollout_reconcile_duration_seconds_sum {sum}");
        sample(
            &mut out,
            "vpce_rollout_reconcile_duration_seconds_count",
            &[],
            cumulative,
        );

        header(
            &mut out,
            "vpce_rollout_objects",
            "gauge",
            "InterfaceEndpoint objects by the rollout phase last reported.",
        );
        for (phase, count) in RolloutPhase::ALL.iter().zip(self.phase_counts()) {
            sample(
                &mut out,
                "vpce_rollout_objects",
                &[("phase", phase.as_str())],
                count,
            );
        }

        header(
            &mut out,
            "vpce_rollout_ec2_calls_total",
            "counter",
            "EC2 API calls by operation and outcome (ok, or the error category: Throttled, AccessDenied, ...), after the SDK's own retries.",
        );
        for op in Ec2Operation::ALL {
            for (outcome, count) in self.ec2_calls[operation_index(op)].iter().enumerate() {
                sample(
                    &mut out,
                    "vpce_rollout_ec2_calls_total",
                    &[("operation", op.as_str()), ("outcome", outcome_label(outcome))],
                    load(count),
                );
            }
        }

        let shared = self.observations.get().map(|o| o.stats()).unwrap_or_default();
        header(
            &mut out,
            "vpce_rollout_vpc_snapshot_refreshes_total",
            "counter",
            "Refreshes of a VPC's shared snapshot (every describe of the VPC), by outcome (ok, failed).",
        );
        for (outcome, count) in [("ok", shared.refreshes), ("failed", shared.failed_refreshes)] {
            sample(
                &mut out,
                "vpce_rollout_vpc_snapshot_refreshes_total",
                &[("outcome", outcome)],
                count,
            );
        }
        header(
            &mut out,
            "vpce_rollout_vpc_snapshot_shared_total",
            "counter",
            "Passes served by a VPC's shared snapshot, or by a refresh in flight, without a refresh of their own.",
        );
        sample(
            &mut out,
            "vpce_rollout_vpc_snapshot_shared_total",
            &[],
            shared.shared,
        );
        header(
            &mut out,
            "vpce_rollout_vpc_snapshots",
            "gauge",
            "VPCs (per account and region) with a shared snapshot.",
        );
        sample(&mut out, "vpce_rollout_vpc_snapshots", &[], shared.vpcs);
        header(
            &mut out,
            "vpce_rollout_vpc_snapshot_objects",
            "gauge",
            "Objects referring to a VPC's shared snapshot.",
        );
        sample(&mut out, "vpce_rollout_vpc_snapshot_objects", &[], shared.objects);

        header(
            &mut out,
            "vpce_rollout_ec2_budget_tokens_waited_total",
            "counter",
            "Tokens of the controller's EC2 API budget that calls had to wait for (in line, or told to come back), by bucket category.",
        );
        for category in RateCategory::ALL {
            sample(
                &mut out,
                "vpce_rollout_ec2_budget_tokens_waited_total",
                &[("bucket", category.as_str())],
                load(&self.budget_tokens_waited[bucket_index(category)]),
            );
        }
        header(
            &mut out,
            "vpce_rollout_ec2_budget_throttles_total",
            "counter",
            "RequestLimitExceeded answers the EC2 API budget absorbed (each shrinks the share for a while), by bucket category.",
        );
        for category in RateCategory::ALL {
            sample(
                &mut out,
                "vpce_rollout_ec2_budget_throttles_total",
                &[("bucket", category.as_str())],
                load(&self.budget_throttles[bucket_index(category)]),
            );
        }
        header(
            &mut out,
            "vpce_rollout_ec2_budget_share",
            "gauge",
            "The share of the account's EC2 API budget the controller takes now (the lowest over accounts and regions): the configured one, less after throttling.",
        );
        let _ = writeln!(out, "vpce_rollout_ec2_budget_share {}", self.budget_share());

        header(
            &mut out,
            "vpce_rollout_leader",
            "gauge",
            "1 while this replica holds the leader Lease (or runs without leader election), else 0.",
        );
        sample(
            &mut out,
            "vpce_rollout_leader",
            &[],
            u64::from(self.leader.load(Ordering::Relaxed)),
        );
        out
    }
}

impl BudgetObserver for Metrics {
    fn waited(&self, category: RateCategory, tokens: u32) {
        self.budget_tokens_waited[bucket_index(category)].fetch_add(u64::from(tokens), Ordering::Relaxed);
    }

    fn throttled(&self, category: RateCategory) {
        self.budget_throttles[bucket_index(category)].fetch_add(1, Ordering::Relaxed);
    }

    fn share(&self, budget: usize, share: f64) {
        let mut shares = self.budget_shares.lock().unwrap_or_else(|e| e.into_inner());
        shares.insert(budget, share);
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Label values here are fixed identifiers (no quotes, backslashes or newlines), so they need
/// no escaping; a test checks every one against the label grammar.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{v}\"");
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

fn bucket(out: &mut String, le: &dyn std::fmt::Display, count: u64) {
    let _ = writeln!(
        out,
        "vpce_rollout_reconcile_duration_seconds_bucket{{le=\"{le}\"}} {count}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// One parsed sample line.
    #[derive(Debug)]
    struct Sample {
        name: String,
        labels: BTreeMap<String, String>,
        value: f64,
    }

    /// Parses the 0.0.4 text format strictly: every line is a HELP, a TYPE or a sample; every
    /// sample belongs to a family declared by HELP and TYPE before it; no series repeats.
    fn parse(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
        let name_re = regex::Regex::new(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$").unwrap();
        let sample_re = regex::Regex::new(
            r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*)\})? (\S+)$"#,
        )
        .unwrap();
        let mut types = BTreeMap::new();
        let mut helped = BTreeSet::new();
        let mut samples = Vec::new();
        let mut series = BTreeSet::new();
        assert!(text.ends_with('\n'), "the exposition ends with a newline");
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect("HELP has a text");
                assert!(name_re.is_match(name), "{line}");
                assert!(!help.is_empty(), "{line}");
                assert!(helped.insert(name.to_string()), "HELP repeated: {line}");
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                assert!(helped.contains(name), "TYPE before HELP: {line}");
                assert!(
                    types.insert(name.to_string(), kind.to_string()).is_none(),
                    "{line}"
                );
            } else {
                let caps = sample_re
                    .captures(line)
                    .unwrap_or_else(|| panic!("not a sample: {line:?}"));
                let name = caps[1].to_string();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| {
                        name.strip_suffix(s)
                            .filter(|f| types.get(*f).map(String::as_str) == Some("histogram"))
                    })
                    .unwrap_or(&name)
                    .to_string();
                assert!(types.contains_key(&family), "sample before its TYPE: {line}");
                let labels: BTreeMap<String, String> = caps
                    .get(3)
                    .map(|m| {
                        m.as_str()
                            .split(',')
                            .map(|kv| {
                                let (k, v) = kv.split_once('=').unwrap();
                                (k.to_string(), v.trim_matches('"').to_string())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let value: f64 = caps[5].parse().unwrap_or_else(|_| panic!("bad value: {line}"));
                assert!(
                    series.insert(format!("{name}{labels:?}")),
                    "series repeated: {line}"
                );
                samples.push(Sample { name, labels, value });
            }
        }
        (types, samples)
    }

    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        samples
            .iter()
            .find(|s| s.name == name && s.labels == want)
            .unwrap_or_else(|| panic!("no sample {name}{want:?}"))
            .value
    }

    #[test]
    fn a_fresh_registry_exports_every_series_at_zero_in_valid_text_format() {
        let text = Metrics::new().render();
        let (types, samples) = parse(&text);
        assert_eq!(types["vpce_rollout_reconciles_total"], "counter");
        assert_eq!(types["vpce_rollout_reconcile_duration_seconds"], "histogram");
        assert_eq!(types["vpce_rollout_objects"], "gauge");
        let ec2: Vec<_> = samples
            .iter()
            .filter(|s| s.name == "vpce_rollout_ec2_calls_total")
            .collect();
        assert_eq!(ec2.len(), Ec2Operation::ALL.len() * OUTCOMES);
        let phases: Vec<_> = samples
            .iter()
            .filter(|s| s.name == "vpce_rollout_objects")
            .collect();
        assert_eq!(phases.len(), RolloutPhase::ALL.len());
        // Every counter and gauge at zero, but the budget's share: whole until configured.
        let (share, rest): (Vec<_>, Vec<_>) = samples
            .iter()
            .partition(|s| s.name == "vpce_rollout_ec2_budget_share");
        assert_eq!(share.len(), 1);
        assert_eq!(share[0].value, 1.0);
        assert!(rest.iter().all(|s| s.value == 0.0));
        println!("{} series in all", samples.len());
    }

    #[test]
    fn the_budget_reports_waits_and_throttles_by_bucket_and_the_lowest_share() {
        let m = Metrics::new();
        m.set_budget_share(0.5);
        let value = |name: &str, bucket: Option<&str>| {
            let (_, samples) = parse(&m.render());
            samples
                .iter()
                .find(|s| s.name == name && s.labels.get("bucket").map(String::as_str) == bucket)
                .unwrap_or_else(|| panic!("{name} {bucket:?}"))
                .value
        };
        assert_eq!(
            value("vpce_rollout_ec2_budget_share", None),
            0.5,
            "the configured share"
        );
        m.waited(RateCategory::VpcEndpoint, 1);
        m.waited(RateCategory::NonMutating, 2);
        m.waited(RateCategory::NonMutating, 2);
        m.throttled(RateCategory::Mutating);
        m.share(1, 0.5);
        m.share(2, 0.25);
        assert_eq!(
            value("vpce_rollout_ec2_budget_tokens_waited_total", Some("VpcEndpoint")),
            1.0
        );
        assert_eq!(
            value("vpce_rollout_ec2_budget_tokens_waited_total", Some("NonMutating")),
            4.0
        );
        assert_eq!(
            value("vpce_rollout_ec2_budget_throttles_total", Some("Mutating")),
            1.0
        );
        assert_eq!(
            value("vpce_rollout_ec2_budget_throttles_total", Some("VpcEndpoint")),
            0.0
        );
        assert_eq!(
            value("vpce_rollout_ec2_budget_share", None),
            0.25,
            "the lowest budget's"
        );
        m.share(2, 0.5);
        assert_eq!(value("vpce_rollout_ec2_budget_share", None), 0.5, "recovered");
    }

    #[test]
    fn reconciles_are_counted_with_their_error_category_and_duration() {
        let m = Metrics::new();
        m.observe_reconcile(Duration::from_millis(40), None);
        m.observe_reconcile(Duration::from_millis(300), Some(ErrorKind::Throttled.into()));
        m.observe_reconcile(Duration::from_secs(120), Some(ErrorCategory::Kubernetes));
        let (_, s) = parse(&m.render());
        assert_eq!(value(&s, "vpce_rollout_reconciles_total", &[]), 3.0);
        assert_eq!(
            value(
                &s,
                "vpce_rollout_reconcile_errors_total",
                &[("category", "Throttled")]
            ),
            1.0
        );
        assert_eq!(
            value(
                &s,
                "vpce_rollout_reconcile_errors_total",
                &[("category", "Kubernetes")]
            ),
            1.0
        );
        assert_eq!(
            value(
                &s,
                "vpce_rollout_reconcile_errors_total",
                &[("category", "InvalidSpec")]
            ),
            0.0
        );
        let bucket = |le: &str| {
            value(
                &s,
                "vpce_rollout_reconcile_duration_seconds_bucket",
                &[("le", le)],
            )
        };
        assert_eq!(bucket("0.025"), 0.0);
        assert_eq!(bucket("0.05"), 1.0);
        assert_eq!(bucket("0.5"), 2.0);
        assert_eq!(bucket("60"), 2.0, "two minutes is past the last finite bucket");
        assert_eq!(bucket("+Inf"), 3.0);
        assert_eq!(
            value(&s, "vpce_rollout_reconcile_duration_seconds_count", &[]),
            3.0
        );
        assert!((value(&s, "vpce_rollout_reconcile_duration_seconds_sum", &[]) - 120.34).abs() < 1e-9);
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_the_count() {
        let m = Metrics::new();
        for ms in [1, 5, 20, 70, 700, 3000, 7000, 45_000, 90_000] {
            m.observe_reconcile(Duration::from_millis(ms), None);
        }
        let (_, s) = parse(&m.render());
        let buckets: Vec<f64> = s
            .iter()
            .filter(|x| x.name == "vpce_rollout_reconcile_duration_seconds_bucket")
            .map(|x| x.value)
            .collect();
        assert_eq!(buckets.len(), DURATION_BUCKETS.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
        assert_eq!(*buckets.last().unwrap(), 9.0);
    }

    #[test]
    fn objects_by_phase_follow_each_objects_latest_phase() {
        let m = Metrics::new();
        m.set_phase("team-a/logs", RolloutPhase::Creating);
        m.set_phase("team-b/logs", RolloutPhase::Creating);
        m.set_phase("team-a/logs", RolloutPhase::AwaitingApproval);
        m.set_phase("team-c/sts", RolloutPhase::Ready);
        m.forget_object("team-c/sts");
        let text = m.render();
        assert!(!text.contains("team-"), "object names never reach a label");
        let (_, s) = parse(&text);
        let phase = |p: &str| value(&s, "vpce_rollout_objects", &[("phase", p)]);
        assert_eq!(phase("Creating"), 1.0);
        assert_eq!(phase("AwaitingApproval"), 1.0);
        assert_eq!(phase("Ready"), 0.0);
    }

    #[test]
    fn objects_that_left_the_cache_leave_the_phase_gauge() {
        let m = Metrics::new();
        m.set_phase("team-a/logs", RolloutPhase::Ready);
        m.set_phase("team-b/logs", RolloutPhase::Degraded);
        m.retain_objects(|key| key == "team-a/logs");
        let (_, s) = parse(&m.render());
        let phase = |p: &str| value(&s, "vpce_rollout_objects", &[("phase", p)]);
        assert_eq!(phase("Ready"), 1.0);
        assert_eq!(phase("Degraded"), 0.0);
    }

    #[test]
    fn ec2_calls_are_counted_by_operation_and_outcome_with_throttles_visible() {
        let m = Metrics::new();
        m.observe_ec2_call(Ec2Operation::DescribeNetworkInterfaces, None);
        m.observe_ec2_call(Ec2Operation::DescribeNetworkInterfaces, None);
        m.observe_ec2_call(
            Ec2Operation::DescribeNetworkInterfaces,
            Some(ErrorKind::Throttled),
        );
        m.observe_ec2_call(Ec2Operation::CreateVpcEndpoint, Some(ErrorKind::AccessDenied));
        let (_, s) = parse(&m.render());
        let calls = |op: &str, outcome: &str| {
            value(
                &s,
                "vpce_rollout_ec2_calls_total",
                &[("operation", op), ("outcome", outcome)],
            )
        };
        assert_eq!(calls("DescribeNetworkInterfaces", "ok"), 2.0);
        assert_eq!(calls("DescribeNetworkInterfaces", "Throttled"), 1.0);
        assert_eq!(calls("CreateVpcEndpoint", "AccessDenied"), 1.0);
        assert_eq!(calls("CreateVpcEndpoint", "ok"), 0.0);
    }

    #[test]
    fn leader_gauge_follows_the_lease() {
        let m = Metrics::new();
        m.set_leader(true);
        let (_, s) = parse(&m.render());
        assert_eq!(value(&s, "vpce_rollout_leader", &[]), 1.0);
        m.set_leader(false);
        let (_, s) = parse(&m.render());
        assert_eq!(value(&s, "vpce_rollout_leader", &[]), 0.0);
    }

    #[test]
    fn every_category_label_is_distinct() {
        let labels: BTreeSet<_> = ErrorCategory::all().map(ErrorCategory::as_str).collect();
        assert_eq!(labels.len(), CATEGORIES);
        for (i, c) in ErrorCategory::all().enumerate() {
            assert_eq!(c.index(), i);
        }
    }
}
