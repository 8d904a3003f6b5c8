//! Leader election on a `coordination.k8s.io/v1` Lease, so that two replicas are safe: only the
//! holder of the Lease reconciles; the others stand by and take over when it stops renewing.
//!
//! kube 5 ships no leader election, so this follows client-go's `leaderelection` package:
//!
//! - A candidate reads the Lease every `retry_period` (with jitter) and takes it when it does
//!   not exist, was released (no holder), or has not changed for `lease_duration` *as observed
//!   on this replica's own monotonic clock*. Expiry never compares the Lease's `renewTime` with
//!   the local wall clock, so skew between nodes cannot make two replicas lead.
//! - Every write carries the `resourceVersion` that was read (optimistic concurrency): of two
//!   replicas racing for the same Lease, the API server accepts one write and answers 409 to the
//!   other.
//! - The leader renews every `retry_period`. If it has not renewed successfully for
//!   `renew_deadline` (shorter than `lease_duration`, and counted from when the last successful
//!   renewal was *sent*, however late its answer came), it steps down *before* anyone else may
//!   take over, and [`LeaderElector::run`] returns [`ElectionEnd::LostLeadership`]: the caller
//!   must stop reconciling at once (exiting so that the pod restarts as a candidate is simplest).
//! - On shutdown the leader releases the Lease (no holder, 1 s duration), so a standby takes over
//!   at its next retry instead of waiting out the lease duration.
//!
//! The decisions are pure functions ([`decide`], [`Observation::update`], [`lease_to_write`],
//! [`released_lease`]); [`LeaderElector`] only does the reads and writes.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::sync::watch;

use super::http::ElectionState;

#[cfg(test)]
mod tests;

/// client-go's defaults (as used by kube-controller-manager and most controllers).
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);
/// Default Lease name.
pub const DEFAULT_LEASE_NAME: &str = "vpce-rollout";

/// Candidates wait `retry_period × [1, 1 + JITTER)` between attempts (client-go's factor), so
/// replicas started together do not hit the API server in lockstep.
const JITTER: f64 = 0.2;

/// Which Lease to hold, as whom, and the timings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    /// `holderIdentity`: unique per process (see [`default_identity`]).
    pub identity: String,
    /// How long a standby waits, after it last saw the Lease change, before taking it over.
    pub lease_duration: Duration,
    /// How long the leader keeps leading without a successful renewal.
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl LeaseConfig {
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            name: DEFAULT_LEASE_NAME.to_string(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
        }
    }

    /// The ordering that makes election safe: the leader gives up (`renew_deadline`) before a
    /// standby may take over (`lease_duration`), and gets more than one try to renew before it
    /// gives up.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.is_empty() || self.namespace.is_empty() || self.identity.is_empty() {
            return Err("leader election needs a Lease name, a namespace and an identity".into());
        }
        if self.lease_duration <= self.renew_deadline {
            return Err(format!(
                "the lease duration ({:?}) must be longer than the renew deadline ({:?})",
                self.lease_duration, self.renew_deadline
            ));
        }
        if self.renew_deadline.as_secs_f64() <= self.retry_period.as_secs_f64() * (1.0 + JITTER) {
            return Err(format!(
                "the renew deadline ({:?}) must be longer than {}× the retry period ({:?})",
                self.renew_deadline,
                1.0 + JITTER,
                self.retry_period
            ));
        }
        if self.lease_duration.as_secs() < 1 || self.lease_duration.subsec_nanos() != 0 {
            return Err(format!(
                "the lease duration ({:?}) must be a whole number of seconds (the Lease stores seconds)",
                self.lease_duration
            ));
        }
        Ok(())
    }
}

/// A process-unique `holderIdentity`: the pod name (`POD_NAME`, set by the chart from the
/// downward API) or the host name, plus a random suffix so that two processes on one host (or a
/// restarted container racing its predecessor) never share an identity.
pub fn default_identity() -> String {
    let base = std::env::var("POD_NAME")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "vpce-rollout".to_string());
    format!("{base}_{:08x}", random_u64() as u32)
}

/// The namespace of the Lease by default: the pod's own (`POD_NAMESPACE`, or the service
/// account's namespace file).
pub fn default_namespace() -> Option<String> {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A random number from the standard library's per-process random hasher keys (no extra crate
/// for a jitter and an identity suffix).
fn random_u64() -> u64 {
    RandomState::new().hash_one(Instant::now())
}

fn jittered(period: Duration) -> Duration {
    let unit = (random_u64() % 1_000_000) as f64 / 1_000_000.0;
    period.mul_f64(1.0 + JITTER * unit)
}

/// This replica's standing, published on a `watch` channel by [`LeaderElector::run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leadership {
    /// Not known yet, or the last attempt failed (API unreachable, forbidden).
    Unsettled,
    /// `holder` holds a valid Lease; this replica waits.
    StandingBy { holder: String },
    /// This replica holds the Lease: it may reconcile.
    Leading,
}

impl Leadership {
    pub fn is_leading(&self) -> bool {
        matches!(self, Self::Leading)
    }

    /// As `/readyz` sees it.
    pub fn election_state(&self) -> ElectionState {
        match self {
            Self::Unsettled => ElectionState::Unsettled,
            Self::StandingBy { .. } => ElectionState::StandingBy,
            Self::Leading => ElectionState::Leading,
        }
    }
}

/// The Lease, reduced to what the decision needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseView {
    /// `None` or empty: released.
    pub holder: Option<String>,
    /// The holder's promise: it renews within this (falls back to our own setting).
    pub lease_duration: Duration,
    pub resource_version: String,
}

impl LeaseView {
    pub fn of(lease: &Lease, default_duration: Duration) -> Self {
        let spec = lease.spec.as_ref();
        Self {
            holder: spec
                .and_then(|s| s.holder_identity.clone())
                .filter(|h| !h.is_empty()),
            lease_duration: spec
                .and_then(|s| s.lease_duration_seconds)
                .and_then(|s| u64::try_from(s).ok())
                .map(Duration::from_secs)
                .unwrap_or(default_duration),
            resource_version: lease.metadata.resource_version.clone().unwrap_or_default(),
        }
    }
}

/// When this replica last saw the Lease change (any write changes its `resourceVersion`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub resource_version: String,
    pub changed_at: Instant,
}

impl Observation {
    /// The observation after reading a Lease with `resource_version` at `now`: the time moves
    /// only when the Lease changed.
    pub fn update(previous: Option<&Observation>, resource_version: &str, now: Instant) -> Observation {
        match previous {
            Some(p) if p.resource_version == resource_version => p.clone(),
            _ => Observation {
                resource_version: resource_version.to_string(),
                changed_at: now,
            },
        }
    }
}

/// What to do with the Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No Lease exists: create it, holding it.
    Create,
    /// Released or expired: take it (a write with the read `resourceVersion`).
    Acquire,
    /// This replica holds it: renew.
    Renew,
    /// Another replica holds a valid Lease.
    Wait { holder: String, expires_in: Duration },
}

/// The decision, as a pure function of the Lease read, when it last changed (this replica's
/// clock), this replica's identity and now.
pub fn decide(
    lease: Option<&LeaseView>,
    observed: Option<&Observation>,
    identity: &str,
    now: Instant,
) -> Decision {
    let Some(lease) = lease else {
        return Decision::Create;
    };
    let Some(holder) = lease.holder.as_deref() else {
        return Decision::Acquire;
    };
    if holder == identity {
        return Decision::Renew;
    }
    // Without an observation of this very version, the Lease is as fresh as it gets: now.
    let changed_at = observed
        .filter(|o| o.resource_version == lease.resource_version)
        .map_or(now, |o| o.changed_at);
    let expires_at = changed_at + lease.lease_duration;
    if now >= expires_at {
        Decision::Acquire
    } else {
        Decision::Wait {
            holder: holder.to_string(),
            expires_in: expires_at - now,
        }
    }
}

/// Whether the leader must step down: it has not renewed since `last_renewed` for longer than
/// the renew deadline.
pub fn must_step_down(last_renewed: Instant, now: Instant, renew_deadline: Duration) -> bool {
    now.saturating_duration_since(last_renewed) >= renew_deadline
}

/// The spec to write when acquiring or renewing (client-go's record rules: `acquireTime` and a
/// transition count that move only when the holder changes).
pub fn lease_to_write(
    current: Option<&LeaseSpec>,
    identity: &str,
    lease_duration: Duration,
    now: Timestamp,
) -> LeaseSpec {
    let previous_holder = current.and_then(|s| s.holder_identity.as_deref());
    let transitions = current.and_then(|s| s.lease_transitions).unwrap_or(0);
    let renewing = previous_holder == Some(identity);
    LeaseSpec {
        holder_identity: Some(identity.to_string()),
        lease_duration_seconds: Some(i32::try_from(lease_duration.as_secs()).unwrap_or(i32::MAX)),
        acquire_time: if renewing {
            current
                .and_then(|s| s.acquire_time.clone())
                .or(Some(MicroTime(now)))
        } else {
            Some(MicroTime(now))
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(match (current, renewing) {
            (None, _) => 0,
            (Some(_), true) => transitions,
            (Some(_), false) => transitions.saturating_add(1),
        }),
        ..current.cloned().unwrap_or_default()
    }
}

/// The spec that releases the Lease: no holder and a 1 s duration (as client-go writes it), so
/// a standby acquires it at its next attempt.
pub fn released_lease(current: &LeaseSpec, now: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        ..current.clone()
    }
}

/// How [`LeaderElector::run`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionEnd {
    /// Shutdown was asked; the Lease was released if this replica held it.
    ShutDown,
    /// The Lease could not be renewed within the renew deadline, or another replica took it:
    /// stop reconciling now.
    LostLeadership,
}

/// Reads and writes the Lease; keeps what it observed between attempts.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    observed: Option<Observation>,
}

impl LeaderElector {
    /// Fails when the timings are unsafe (see [`LeaseConfig::validate`]).
    pub fn new(client: kube::Client, config: LeaseConfig) -> Result<Self, String> {
        config.validate()?;
        Ok(Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
        })
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// One attempt: read the Lease, and create, acquire or renew it when [`decide`] allows.
    /// A lost race (409 from the API server) is not an error: another replica won.
    pub async fn try_acquire_or_renew(&mut self) -> Result<Leadership, kube::Error> {
        let current = self.api.get_opt(&self.config.name).await?;
        let now = Instant::now();
        let view = current
            .as_ref()
            .map(|l| LeaseView::of(l, self.config.lease_duration));
        if let Some(v) = &view {
            self.observed = Some(Observation::update(
                self.observed.as_ref(),
                &v.resource_version,
                now,
            ));
        }
        let decision = decide(view.as_ref(), self.observed.as_ref(), &self.config.identity, now);
        let spec = |current: Option<&LeaseSpec>| {
            lease_to_write(
                current,
                &self.config.identity,
                self.config.lease_duration,
                Timestamp::now(),
            )
        };
        let written = match (decision, current) {
            (Decision::Wait { holder, .. }, _) => return Ok(Leadership::StandingBy { holder }),
            (Decision::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec(None)),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (Decision::Acquire | Decision::Renew, Some(mut lease)) => {
                // `lease.metadata.resourceVersion` is the one read: the write fails with 409 if
                // anyone wrote in between.
                lease.spec = Some(spec(lease.spec.as_ref()));
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
            (Decision::Acquire | Decision::Renew, None) => unreachable!("decide() creates a missing Lease"),
        };
        match written {
            Ok(lease) => {
                let rv = lease.metadata.resource_version.unwrap_or_default();
                self.observed = Some(Observation::update(self.observed.as_ref(), &rv, Instant::now()));
                Ok(Leadership::Leading)
            }
            Err(kube::Error::Api(status)) if status.is_conflict() || status.is_already_exists() => {
                tracing::debug!(lease = %self.config.name, "another replica wrote the Lease first");
                // Re-read next time; until then the winner is unknown but someone leads.
                Ok(Leadership::StandingBy {
                    holder: String::new(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Releases the Lease if this replica holds it; `Ok(false)` when it did not.
    pub async fn release(&mut self) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            return Ok(false);
        };
        let holds = lease.spec.as_ref().and_then(|s| s.holder_identity.as_deref())
            == Some(self.config.identity.as_str());
        if !holds {
            return Ok(false);
        }
        lease.spec = Some(released_lease(
            lease.spec.as_ref().expect("held above"),
            Timestamp::now(),
        ));
        self.api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await?;
        Ok(true)
    }

    /// Campaigns, then leads until the Lease is lost or `shutdown` resolves. Publishes every
    /// change of standing on `state`.
    pub async fn run(
        mut self,
        state: watch::Sender<Leadership>,
        shutdown: impl Future<Output = ()>,
    ) -> ElectionEnd {
        tokio::pin!(shutdown);
        let publish = |new: Leadership| {
            state.send_if_modified(|current| {
                let changed = *current != new;
                *current = new;
                changed
            });
        };

        // Candidate: try every retry period until the Lease is ours. kube's client has no read
        // timeout, so an attempt is bounded here: a replica whose API server stopped answering
        // cannot take over, and must say so (not ready) rather than go on claiming to stand by;
        // nor may such an attempt hold up shutdown.
        let mut renewed_at = loop {
            let started = Instant::now();
            let attempt = tokio::time::timeout(self.config.renew_deadline, self.try_acquire_or_renew());
            let outcome = tokio::select! {
                outcome = attempt => outcome,
                () = &mut shutdown => return ElectionEnd::ShutDown,
            };
            match outcome {
                Ok(Ok(Leadership::Leading)) => break started,
                Ok(Ok(standby)) => publish(standby),
                Ok(Err(e)) => {
                    tracing::warn!(lease = %self.config.name, error = %e, "cannot read or acquire the leader Lease");
                    publish(Leadership::Unsettled);
                }
                Err(_) => {
                    tracing::warn!(lease = %self.config.name, timeout = ?self.config.renew_deadline, "reading or acquiring the leader Lease timed out");
                    publish(Leadership::Unsettled);
                }
            }
            tokio::select! {
                () = tokio::time::sleep(jittered(self.config.retry_period)) => {}
                () = &mut shutdown => return ElectionEnd::ShutDown,
            }
        };
        tracing::info!(lease = %self.config.name, identity = %self.config.identity, "acquired the leader Lease");
        publish(Leadership::Leading);

        // Leader: renew every retry period; step down once the renew deadline passes. A renewal
        // counts from when it was sent, not from when its answer came: the write landed in
        // between, and a standby that read it may take over `lease_duration` after it landed, so
        // only a deadline counted from the sending stays ahead of that however slow the answer.
        // Nothing keeps this replica leading past the deadline: not a renewal that hangs, nor a
        // retry period that would only wake it after the deadline.
        loop {
            let deadline = renewed_at + self.config.renew_deadline;
            let wake = deadline.min(Instant::now() + self.config.retry_period);
            tokio::select! {
                () = tokio::time::sleep_until(wake.into()) => {}
                () = &mut shutdown => {
                    match tokio::time::timeout(self.config.retry_period, self.release()).await {
                        Ok(Ok(_)) => tracing::info!(lease = %self.config.name, "released the leader Lease"),
                        Ok(Err(e)) => tracing::warn!(error = %e, "could not release the leader Lease; a standby takes over when it expires"),
                        Err(_) => tracing::warn!("releasing the leader Lease timed out; a standby takes over when it expires"),
                    }
                    publish(Leadership::Unsettled);
                    return ElectionEnd::ShutDown;
                }
            }
            if must_step_down(renewed_at, Instant::now(), self.config.renew_deadline) {
                tracing::error!(lease = %self.config.name, deadline = ?self.config.renew_deadline, "could not renew the leader Lease in time; stepping down");
                break;
            }
            let started = Instant::now();
            match tokio::time::timeout_at(deadline.into(), self.try_acquire_or_renew()).await {
                Ok(Ok(Leadership::Leading)) => renewed_at = started,
                Ok(Ok(other)) => {
                    tracing::warn!(lease = %self.config.name, now = ?other, "another replica holds the leader Lease; stepping down");
                    break;
                }
                Ok(Err(e)) => {
                    tracing::warn!(lease = %self.config.name, error = %e, "renewing the leader Lease failed")
                }
                Err(_) => tracing::warn!(lease = %self.config.name, "renewing the leader Lease timed out"),
            }
        }
        publish(Leadership::Unsettled);
        ElectionEnd::LostLeadership
    }
}

#[cfg(test)]
mod decision_tests {
    use super::*;

    const ME: &str = "pod-a_1";
    const OTHER: &str = "pod-b_2";

    fn view(holder: Option<&str>, rv: &str) -> LeaseView {
        LeaseView {
            holder: holder.map(str::to_string),
            lease_duration: Duration::from_secs(15),
            resource_version: rv.to_string(),
        }
    }

    #[test]
    fn a_missing_lease_is_created() {
        assert_eq!(decide(None, None, ME, Instant::now()), Decision::Create);
    }

    #[test]
    fn a_released_lease_is_acquired_at_once() {
        let now = Instant::now();
        assert_eq!(decide(Some(&view(None, "7")), None, ME, now), Decision::Acquire);
        let empty = LeaseView {
            holder: None,
            ..view(Some(""), "7")
        };
        assert_eq!(decide(Some(&empty), None, ME, now), Decision::Acquire);
    }

    #[test]
    fn the_holder_renews_its_own_lease() {
        assert_eq!(
            decide(Some(&view(Some(ME), "3")), None, ME, Instant::now()),
            Decision::Renew
        );
    }

    #[test]
    fn a_lease_held_by_another_is_waited_on_until_it_stops_changing_for_its_duration() {
        let t0 = Instant::now();
        let lease = view(Some(OTHER), "10");
        let seen = Observation::update(None, "10", t0);
        assert_eq!(
            decide(Some(&lease), Some(&seen), ME, t0 + Duration::from_secs(5)),
            Decision::Wait {
                holder: OTHER.into(),
                expires_in: Duration::from_secs(10)
            }
        );
        assert_eq!(
            decide(Some(&lease), Some(&seen), ME, t0 + Duration::from_secs(15)),
            Decision::Acquire
        );
    }

    #[test]
    fn a_renewal_seen_by_the_standby_restarts_the_wait() {
        let t0 = Instant::now();
        let first = Observation::update(None, "10", t0);
        let same = Observation::update(Some(&first), "10", t0 + Duration::from_secs(9));
        assert_eq!(
            same.changed_at, t0,
            "an unchanged Lease keeps its observation time"
        );
        let renewed = Observation::update(Some(&same), "11", t0 + Duration::from_secs(12));
        assert_eq!(renewed.changed_at, t0 + Duration::from_secs(12));
        let lease = view(Some(OTHER), "11");
        assert!(matches!(
            decide(Some(&lease), Some(&renewed), ME, t0 + Duration::from_secs(20)),
            Decision::Wait { .. }
        ));
    }

    #[test]
    fn expiry_ignores_the_lease_timestamps_so_clock_skew_cannot_split_the_brain() {
        // The holder's renewTime says "an hour ago" (its clock is off): a standby that has just
        // started still waits a full lease duration of its own time.
        let t0 = Instant::now();
        let lease = view(Some(OTHER), "10");
        assert!(matches!(
            decide(Some(&lease), None, ME, t0),
            Decision::Wait { .. }
        ));
    }

    #[test]
    fn the_leader_steps_down_once_the_renew_deadline_passes() {
        let t0 = Instant::now();
        let deadline = Duration::from_secs(10);
        assert!(!must_step_down(t0, t0 + Duration::from_secs(9), deadline));
        assert!(must_step_down(t0, t0 + Duration::from_secs(10), deadline));
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn acquiring_moves_acquire_time_and_counts_a_transition_renewing_does_not() {
        let created = lease_to_write(None, ME, Duration::from_secs(15), at(100));
        assert_eq!(created.holder_identity.as_deref(), Some(ME));
        assert_eq!(created.lease_duration_seconds, Some(15));
        assert_eq!(created.lease_transitions, Some(0));

        let renewed = lease_to_write(Some(&created), ME, Duration::from_secs(15), at(102));
        assert_eq!(renewed.acquire_time, Some(MicroTime(at(100))));
        assert_eq!(renewed.renew_time, Some(MicroTime(at(102))));
        assert_eq!(renewed.lease_transitions, Some(0));

        let taken = lease_to_write(Some(&renewed), OTHER, Duration::from_secs(15), at(130));
        assert_eq!(taken.holder_identity.as_deref(), Some(OTHER));
        assert_eq!(taken.acquire_time, Some(MicroTime(at(130))));
        assert_eq!(taken.lease_transitions, Some(1));
    }

    #[test]
    fn releasing_clears_the_holder_and_shortens_the_lease() {
        let held = lease_to_write(None, ME, Duration::from_secs(15), at(100));
        let released = released_lease(&held, at(110));
        assert_eq!(released.holder_identity, None);
        assert_eq!(released.lease_duration_seconds, Some(1));
        assert_eq!(released.lease_transitions, held.lease_transitions);
        let view = LeaseView::of(
            &Lease {
                metadata: ObjectMeta::default(),
                spec: Some(released),
            },
            DEFAULT_LEASE_DURATION,
        );
        assert_eq!(
            decide(Some(&view), None, OTHER, Instant::now()),
            Decision::Acquire
        );
    }

    #[test]
    fn unsafe_timings_are_refused_with_the_reason() {
        let mut config = LeaseConfig::new("ops", ME);
        assert_eq!(config.validate(), Ok(()));
        config.renew_deadline = Duration::from_secs(15);
        assert!(
            config
                .validate()
                .unwrap_err()
                .contains("longer than the renew deadline")
        );
        config.renew_deadline = Duration::from_secs(2);
        assert!(config.validate().unwrap_err().contains("retry period"));
        config.renew_deadline = DEFAULT_RENEW_DEADLINE;
        config.lease_duration = Duration::from_millis(15_500);
        assert!(config.validate().unwrap_err().contains("whole number of seconds"));
    }

    #[test]
    fn identities_are_unique_per_process_even_on_one_host() {
        assert_ne!(default_identity(), default_identity());
    }
}
