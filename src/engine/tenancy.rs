//! The controller's pass for one object: its grant's verdict first, then the EC2 port of where
//! the object acts, then [`reconcile_admitted`] (or, while deleting, [`reconcile`]).
//!
//! - Forbidden (no grant admits the object): no AWS call at all, not even a describe; the
//!   status says why ([`plan::tenancy::report_forbidden`]).
//! - Admitted: the pass is bounded by the [`Admission`]; the status names the grant.
//! - Deleting: what the object owns is cleaned up, grant or not, where it was created. An
//!   object that never got as far as creating anything (no location recorded) and that no
//!   grant admits is let go without a call.
//!
//! Where the object acts: the region and account its endpoint was created in (recorded in the
//! status with the role that reaches it), the spec's region and the grant's `aws` before that.
//! In another account every call goes through the role, assumed for this object (session named
//! and tagged after it); a failed AssumeRole is reported (`AssumeRoleFailed`) and nothing else
//! is called.

use super::{ReconcileOutcome, ReconcileRequest, reconcile, reconcile_admitted};
use crate::aws::{AccountAccessError, AssumeRole, Ec2, Ec2Provider};
use crate::grants::{Admission, Verdict};
use crate::logs::{LogsPort, LogsProvider};
use crate::plan::tenancy::ActingAs;
use crate::plan::{self, Timing};

/// One pass for one object under `verdict` (see the module docs). Never panics on AWS input;
/// every failure ends up in the outcome.
pub async fn reconcile_object<P: Ec2Provider + LogsProvider>(
    provider: &P,
    request: &ReconcileRequest<'_>,
    verdict: &Verdict,
    timing: &Timing,
) -> ReconcileOutcome {
    let previous = request.status;
    let granted = verdict.condition();
    let admission = match verdict {
        Verdict::Admitted(admission) => Some(admission),
        Verdict::Forbidden(_) => None,
    };
    if admission.is_none() {
        if !request.deleting {
            let report =
                plan::tenancy::report_forbidden(previous, request.generation, &granted, request.now, timing);
            return without_calls(report.status, report.events, report.requeue, false);
        }
        if previous.endpoint_vpc_id.is_none() && previous.endpoint_id.is_none() {
            // Never admitted far enough to create anything: nothing of its is in AWS.
            let mut status = previous.clone();
            status.phase = crate::api::RolloutPhase::Deleting;
            return without_calls(status, Vec::new(), None, true);
        }
    }

    let mut outcome = pass(provider, request, admission, timing).await;
    let grant = admission.map(|a| a.grant.as_str());
    let event = plan::tenancy::record_verdict(
        &mut outcome.status,
        previous,
        &granted,
        grant,
        request.generation,
        request.now,
    );
    // Admitted comes first: what the pass then did, it did under the grant.
    if let (Some(event), false) = (event, request.deleting) {
        outcome.events.insert(0, event);
    }
    outcome
}

/// The pass of an admitted object, or of one being deleted: the port of where it acts (the
/// region and account its endpoint was created in, the spec's and the grant's before that),
/// then the pass (bounded by the admission; unbounded while deleting), then the account it
/// acted in recorded with the endpoint.
async fn pass<P: Ec2Provider + LogsProvider>(
    provider: &P,
    request: &ReconcileRequest<'_>,
    admission: Option<&Admission>,
    timing: &Timing,
) -> ReconcileOutcome {
    let previous = request.status;
    let region = plan::location::region(request.spec, previous);
    let aws = admission.and_then(|a| a.aws.as_ref());
    let granted = ActingAs {
        role_arn: aws.map(|aws| aws.role_arn.clone()),
        external_id: aws.and_then(|aws| aws.external_id.clone()),
    };
    // Once the endpoint exists, where it was created: with the grant's external id while a
    // grant names that role (the platform may rotate it), the one recorded last without one.
    let acting = match ActingAs::recorded(previous) {
        Some(recorded) if admission.is_some() && recorded.role_arn == granted.role_arn => granted,
        Some(recorded) => recorded,
        None => granted,
    };
    let port = match &acting.role_arn {
        Some(role_arn) => {
            let role = AssumeRole::for_object(role_arn, acting.external_id.as_deref(), request.owner);
            provider.client_as(region, &role).await
        }
        None => provider.client(region).await.map_err(AccountAccessError::from),
    };
    let ec2 = match port {
        Ok(ec2) => ec2,
        Err(problem) => {
            let report = match &problem {
                AccountAccessError::Configuration(p) => plan::report_configuration_failure(
                    previous,
                    request.generation,
                    &p.0,
                    request.now,
                    timing,
                ),
                AccountAccessError::AssumeRole { .. } => plan::report_assume_role_failure(
                    previous,
                    request.generation,
                    &problem.to_string(),
                    request.now,
                    timing,
                ),
            };
            let requeue = report.requeue.or(Some(timing.waiting));
            return without_calls(report.status, report.events, requeue, false);
        }
    };
    let mut outcome = match admission {
        Some(admission) => {
            // The CloudWatch Logs port of the same region and account, for the evidence and the
            // canary's flow logs the spec names (asked for only then).
            let logs = if request.spec.clients.evidence.is_some() || request.spec.verification.is_some() {
                let port = match &acting.role_arn {
                    Some(role_arn) => {
                        let role =
                            AssumeRole::for_object(role_arn, acting.external_id.as_deref(), request.owner);
                        provider.logs_as(region, &role).await.map_err(|e| e.to_string())
                    }
                    None => provider.logs(region).await.map_err(|e| e.to_string()),
                };
                match port {
                    Ok(port) => LogsPort::Ready(port),
                    Err(why) => LogsPort::Unavailable(why),
                }
            } else {
                LogsPort::Unavailable("no evidence or flow logs are named".into())
            };
            reconcile_admitted(&*ec2, &logs, request, admission, timing).await
        }
        None => reconcile(&*ec2, request, timing).await,
    };
    // Asked only once the endpoint is recorded without its account (the port caches it).
    let account = if outcome.status.endpoint_vpc_id.is_some() && previous.endpoint_account_id.is_none() {
        ec2.account().await.ok()
    } else {
        None
    };
    plan::tenancy::record_account(&mut outcome.status, previous, &acting, account);
    outcome
}

fn without_calls(
    status: crate::api::InterfaceEndpointStatus,
    events: Vec<plan::EventNote>,
    requeue: Option<std::time::Duration>,
    finalized: bool,
) -> ReconcileOutcome {
    ReconcileOutcome {
        status,
        events,
        requeue,
        finalized,
        error: None,
        performed: Vec::new(),
        mutations: Vec::new(),
        restated: false,
    }
}
