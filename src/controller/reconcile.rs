//! The reconcile function kube-runtime calls for each InterfaceEndpoint, and its error policy.
//!
//! Steps, and whether they touch the world:
//! 1. the grant's verdict, from the cached grants, approvals and namespace labels
//!    ([`super::tenancy`]; no I/O, decided by [`crate::grants`]);
//! 2. finalizer (Kubernetes write): added before anything is created in AWS, so that deletion
//!    always gets to clean up (not while the object is observed only, or no grant admits it:
//!    nothing is created);
//! 3. [`engine::tenancy::reconcile_object`]: nothing for a Forbidden object; otherwise the EC2
//!    port of the region the endpoint was created in, `spec.region` before that
//!    ([`plan::location::region`]: an edited `spec.region` must not send the controller
//!    looking, or cleaning up, elsewhere), and one pass (EC2 reads and writes; the decisions
//!    inside are pure);
//! 4. report (Kubernetes writes): status by server-side apply, Events, metrics;
//! 5. finalizer removed once the engine says deletion is complete.
//!
//! kube-runtime's `finalizer()` helper is not used: it removes the finalizer as soon as cleanup
//! returns `Ok`, while cleanup here takes several passes (revoke rules, delete the endpoint,
//! wait while it is `deleting`), each an expected wait rather than an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use super::metrics::{ErrorCategory, Metrics};
use super::run::{Clock, ControllerSettings};
use super::tenancy::TenancyCache;
use super::writes;
use crate::api::conditions::{ConditionReason, ConditionType, find_condition};
use crate::api::{FINALIZER, InterfaceEndpoint, RolloutPhase};
use crate::aws::observation::VpcObservations;
use crate::aws::{Ec2Error, Ec2Provider};
use crate::engine::audit::{MutationCall, MutationOutcome};
use crate::engine::{self, ReconcileRequest};
use crate::logs::LogsProvider;
use crate::plan::{self, Config, Timing};

/// First delay after an error; doubles per consecutive error of the same object.
pub const BACKOFF_MIN: Duration = Duration::from_secs(2);
/// Longest delay between retries after errors.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// How long a reconcile waits for the grants, approvals and namespaces to be listed once before
/// it comes back later instead.
const TENANCY_LISTING_WAIT: Duration = Duration::from_secs(5);

/// What every reconcile shares.
pub struct Context<P: Ec2Provider + LogsProvider> {
    pub client: kube::Client,
    pub provider: P,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub timing: Timing,
    pub config: Config,
    pub clock: Clock,
    /// The grants, approvals and namespace labels verdicts are decided from.
    pub tenancy: TenancyCache,
    /// The VPCs' shared snapshots: one observation of a VPC serves every object in it.
    pub observations: Arc<VpcObservations>,
    /// Consecutive failures per object, for exponential backoff.
    failures: Mutex<HashMap<ObjectRef<InterfaceEndpoint>, u32>>,
}

impl<P: Ec2Provider + LogsProvider> Context<P> {
    /// `settings` gives the timing and the configuration every object shares.
    pub fn new(
        client: kube::Client,
        provider: P,
        recorder: Recorder,
        metrics: Arc<Metrics>,
        settings: &ControllerSettings,
        clock: Clock,
        tenancy: TenancyCache,
    ) -> Self {
        let observations = Arc::new(VpcObservations::new());
        metrics.watch_observations(observations.clone());
        Self {
            observations,
            client,
            provider,
            recorder,
            metrics,
            timing: settings.timing.clone(),
            config: settings.config.clone(),
            clock,
            tenancy,
            failures: Mutex::default(),
        }
    }

    fn succeeded(&self, obj: &InterfaceEndpoint) {
        self.failures
            .lock()
            .expect("failures lock")
            .remove(&ObjectRef::from_obj(obj));
    }

    /// Counts one more failure of `obj` and returns how long to wait before the next attempt.
    fn failed(&self, obj: &InterfaceEndpoint) -> Duration {
        let mut failures = self.failures.lock().expect("failures lock");
        let n = failures.entry(ObjectRef::from_obj(obj)).or_insert(0);
        *n = n.saturating_add(1);
        backoff(*n)
    }
}

/// `BACKOFF_MIN * 2^(n-1)`, capped at [`BACKOFF_MAX`].
pub fn backoff(consecutive_failures: u32) -> Duration {
    let exponent = consecutive_failures.saturating_sub(1).min(16);
    BACKOFF_MIN.saturating_mul(1 << exponent).min(BACKOFF_MAX)
}

/// Why a reconcile failed: retried with backoff, counted under [`ReconcileError::category`].
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the object has no namespace, name or uid yet")]
    MissingMetadata,
    #[error("Kubernetes API: {0}")]
    Kubernetes(#[from] kube::Error),
    #[error(transparent)]
    Aws(#[from] Ec2Error),
}

impl ReconcileError {
    /// A bounded label for metrics and logs.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::MissingMetadata | Self::Kubernetes(_) => ErrorCategory::Kubernetes,
            Self::Aws(e) => ErrorCategory::Aws(e.kind),
        }
    }
}

/// `namespace/name`: how logs and the phase gauge's bookkeeping name an object (never a
/// metric label).
pub fn object_key(obj: &InterfaceEndpoint) -> String {
    format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any())
}

/// kube-runtime's reconcile callback.
pub async fn reconcile<P: Ec2Provider + LogsProvider>(
    obj: Arc<InterfaceEndpoint>,
    ctx: Arc<Context<P>>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let span = tracing::info_span!("reconcile", object = %object_key(&obj));
    let result = tracing::Instrument::instrument(reconcile_object(&obj, &ctx), span).await;
    let category = match &result {
        Ok(Pass { failure, .. }) => *failure,
        Err(e) => Some(e.category()),
    };
    ctx.metrics.observe_reconcile(started.elapsed(), category);
    match result {
        Ok(pass) => {
            if pass.failure.is_none() {
                ctx.succeeded(&obj);
            }
            Ok(pass.action)
        }
        Err(e) => Err(e),
    }
}

/// kube-runtime's error callback: exponential backoff per object.
pub fn error_policy<P: Ec2Provider + LogsProvider>(
    obj: Arc<InterfaceEndpoint>,
    error: &ReconcileError,
    ctx: Arc<Context<P>>,
) -> Action {
    let delay = ctx.failed(&obj);
    tracing::warn!(
        object = %object_key(&obj),
        category = error.category().as_str(),
        %error,
        retry_in = ?delay,
        "reconcile failed"
    );
    Action::requeue(delay)
}

/// A pass that ended as expected; `failure` counts a wait on a person (invalid spec, IAM) in
/// the error metrics without backing off.
struct Pass {
    action: Action,
    failure: Option<ErrorCategory>,
}

async fn reconcile_object<P: Ec2Provider + LogsProvider>(
    obj: &InterfaceEndpoint,
    ctx: &Context<P>,
) -> Result<Pass, ReconcileError> {
    let owner = obj.owner().ok_or(ReconcileError::MissingMetadata)?;
    let api: Api<InterfaceEndpoint> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    let key = object_key(obj);
    let deleting = obj.meta().deletion_timestamp.is_some();
    let has_finalizer = obj.finalizers().iter().any(|f| f == FINALIZER);

    if deleting && !has_finalizer {
        // Cleaned up already (or never created anything): nothing left to do.
        ctx.metrics.forget_object(&key);
        return Ok(Pass {
            action: Action::await_change(),
            failure: None,
        });
    }
    match tokio::time::timeout(TENANCY_LISTING_WAIT, ctx.tenancy.ready()).await {
        Ok(true) => {}
        // The caches' writers are gone: the controller is stopping.
        Ok(false) => {
            return Ok(Pass {
                action: Action::await_change(),
                failure: None,
            });
        }
        // Not listed yet (the API server is slow or refusing): come back rather than hold the
        // object, and a graceful shutdown, for as long as the listing takes.
        Err(_) => {
            return Ok(Pass {
                action: Action::requeue(TENANCY_LISTING_WAIT),
                failure: None,
            });
        }
    }
    let verdict = ctx.tenancy.verdict(obj, ctx.provider.default_region().as_deref());
    // An object observed only, or that no grant admits, gets no finalizer: nothing is created
    // for it, so nothing needs cleaning up, and deleting it (or uninstalling the controller)
    // leaves AWS as it is. (One admitted before keeps the finalizer it got then.)
    let admitted = matches!(verdict, crate::grants::Verdict::Admitted(_));
    let added = if !deleting && admitted && plan::observe_only::by(&obj.spec, &ctx.config).is_none() {
        writes::add_finalizer(&api, obj).await?
    } else {
        None
    };
    // The object as this pass read it (with the finalizer): the status write carries its
    // resourceVersion, so that a status decided from an overtaken read never lands.
    let read = added.as_ref().unwrap_or(obj);

    let previous = obj.status.clone().unwrap_or_default();
    let generation = obj.meta().generation;
    let now = (ctx.clock)();
    let request = ReconcileRequest {
        spec: &obj.spec,
        generation,
        owner: &owner,
        deleting,
        status: &previous,
        config: &ctx.config,
        now,
        observations: Some(&ctx.observations),
        resolver: Some(&crate::dns::SystemResolver),
    };
    let outcome = engine::tenancy::reconcile_object(&ctx.provider, &request, &verdict, &ctx.timing).await;
    for call in &outcome.mutations {
        log_mutation(call);
    }
    let written = match report_status(&api, read, ctx, &key, &outcome.status, &outcome.events).await? {
        StatusWrite::Overtaken => return Ok(overtaken(ctx)),
        StatusWrite::Unchanged => None,
        StatusWrite::Landed(written) => Some(*written),
    };
    tracing::debug!(
        phase = %outcome.status.phase,
        requeue = ?outcome.requeue,
        finalized = outcome.finalized,
        error = outcome.error.as_ref().map(|e| e.kind.as_str()),
        "reconciled"
    );

    if deleting && outcome.finalized {
        // The status write just above changed the resourceVersion: the finalizer patch carries
        // the written one, or a normal deletion would end in a 409 and a counted error.
        writes::remove_finalizer(&api, written.as_ref().unwrap_or(read)).await?;
        ctx.metrics.forget_object(&key);
        tracing::info!("cleanup complete; finalizer removed");
        return Ok(Pass {
            action: Action::await_change(),
            failure: None,
        });
    }

    match (outcome.error, outcome.requeue) {
        // Throttling, eventual consistency, 5xx: back off.
        (Some(error), None) => Err(ReconcileError::Aws(error)),
        // A failure that waits on a person: counted, not retried faster than `waiting`.
        (Some(error), Some(wait)) => Ok(Pass {
            action: Action::requeue(wait),
            failure: Some(ErrorCategory::Aws(error.kind)),
        }),
        (None, wait) => {
            let failure = waits_on_a_person(&outcome.status);
            Ok(Pass {
                action: Action::requeue(wait.unwrap_or(ctx.timing.resync)),
                failure,
            })
        }
    }
}

/// What became of a pass's status.
enum StatusWrite {
    /// It was the status already: nothing written.
    Unchanged,
    /// Written; the object as written.
    Landed(Box<InterfaceEndpoint>),
    /// Refused: the object changed since the pass read it (409).
    Overtaken,
}

/// Writes the status when it changed, records the Events and the phase gauge. The Events are
/// recorded even when the write is overtaken: they tell what was done in AWS.
async fn report_status<P: Ec2Provider + LogsProvider>(
    api: &Api<InterfaceEndpoint>,
    read: &InterfaceEndpoint,
    ctx: &Context<P>,
    key: &str,
    status: &crate::api::InterfaceEndpointStatus,
    events: &[plan::EventNote],
) -> Result<StatusWrite, ReconcileError> {
    let written = if read.status.as_ref() == Some(status) {
        StatusWrite::Unchanged
    } else {
        match writes::apply_status(api, read, status).await {
            Ok(written) => StatusWrite::Landed(Box::new(written)),
            Err(e) if writes::is_conflict(&e) => StatusWrite::Overtaken,
            Err(e) => return Err(e.into()),
        }
    };
    writes::publish_events(&ctx.recorder, read, events).await;
    if !matches!(written, StatusWrite::Overtaken) {
        ctx.metrics.set_phase(key, status.phase);
    }
    Ok(written)
}

/// The pass's status was refused because the object changed since it was read (a spec edit
/// during the pass, another replica's write): what the pass did in AWS is seen by the next
/// one, which reads the object anew. Expected, not an error.
fn overtaken<P: Ec2Provider + LogsProvider>(ctx: &Context<P>) -> Pass {
    tracing::debug!("the object changed during the pass; its status is decided again");
    Pass {
        action: Action::requeue(ctx.timing.after_change),
        failure: None,
    }
}

/// One line per AWS mutation call, with what finds it in CloudTrail as fields (`request_id`,
/// `account`, `region`), inside the reconcile span that names the object.
fn log_mutation(call: &MutationCall) {
    let trace = &call.trace;
    let request_id = trace.request_id.as_deref().unwrap_or("none");
    let account = match &trace.account {
        Ok(account) => account.clone(),
        Err(why) => format!("unknown ({why})"),
    };
    let region = trace.region.as_deref().unwrap_or("unknown");
    match &call.outcome {
        MutationOutcome::Made => tracing::info!(
            operation = %call.operation,
            target = call.target(),
            action = ?call.action,
            request_id,
            account,
            region,
            "AWS change made"
        ),
        MutationOutcome::AlreadyInPlace(error) => tracing::info!(
            operation = %call.operation,
            target = call.target(),
            action = ?call.action,
            request_id,
            account,
            region,
            code = %error.code,
            "AWS change already in place"
        ),
        MutationOutcome::Failed(error) => tracing::warn!(
            operation = %call.operation,
            target = call.target(),
            action = ?call.action,
            request_id,
            account,
            region,
            %error,
            "AWS change failed"
        ),
    }
}

/// The error category of a pass that ended Failed on something a person must fix without any
/// EC2 call failing: the spec, or the controller's AWS configuration.
pub(crate) fn waits_on_a_person(status: &crate::api::InterfaceEndpointStatus) -> Option<ErrorCategory> {
    if status.phase != RolloutPhase::Failed {
        return None;
    }
    let reason = find_condition(&status.conditions, ConditionType::Ready).map(|c| c.reason.as_str());
    match reason {
        Some(r) if r == ConditionReason::InvalidSpec.as_str() => Some(ErrorCategory::InvalidSpec),
        Some(r)
            if r == ConditionReason::AwsConfiguration.as_str()
                || r == ConditionReason::AssumeRoleFailed.as_str() =>
        {
            Some(ErrorCategory::AwsConfig)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(2), Duration::from_secs(4));
        assert_eq!(backoff(5), Duration::from_secs(32));
        assert_eq!(backoff(9), BACKOFF_MAX);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }
}
