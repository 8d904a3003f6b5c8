//! The controller's pass for one object: its grant's verdict first, then the EC2 port of where
//! the object acts, then [`reconcile_admitted`] (or, while deleting, [`reconcile`]).
//!
//! - Forbidden (no grant admits the object): no AWS call at all, not even a describe; the
//!   status says why ([`plan::tenancy::report_forbidden`]).
//! - Admitted: the pass is bounded by the [`Admission`]; the status names the grant.
//! - Deleting: what the object owns is cleaned up, grant or not, where it was created. An
//!   object that never got as far as creating anything (no location recorded) and that no
//!   grant admits is let go without a call.

use super::{ReconcileOutcome, ReconcileRequest, reconcile, reconcile_admitted};
use crate::aws::Ec2Provider;
use crate::grants::{Admission, Verdict};
use crate::plan::{self, Timing};

/// One pass for one object under `verdict` (see the module docs). Never panics on AWS input;
/// every failure ends up in the outcome.
pub async fn reconcile_object<P: Ec2Provider>(
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
    if !request.deleting {
        outcome.events.extend(event);
    }
    outcome
}

/// The pass of an admitted object, or of one being deleted: the port of where it acts, then
/// the pass (bounded by the admission; unbounded while deleting).
async fn pass<P: Ec2Provider>(
    provider: &P,
    request: &ReconcileRequest<'_>,
    admission: Option<&Admission>,
    timing: &Timing,
) -> ReconcileOutcome {
    let previous = request.status;
    let failure = |problem: &str| {
        let report =
            plan::report_configuration_failure(previous, request.generation, problem, request.now, timing);
        let requeue = report.requeue.or(Some(timing.waiting));
        without_calls(report.status, report.events, requeue, false)
    };
    // Acting in another account (a grant's `aws.roleArn`) needs STS AssumeRole, which this
    // build does not do yet: never act in the controller's own account in its place.
    if let Some(admission) = admission
        && let Some(aws) = &admission.aws
    {
        return failure(&format!(
            "EndpointGrant {} acts in another account (aws.roleArn {}), which this version of the \
             controller cannot do yet; nothing is called",
            admission.grant, aws.role_arn
        ));
    }
    let region = plan::location::region(request.spec, previous);
    let ec2 = match provider.client(region).await {
        Ok(ec2) => ec2,
        Err(problem) => return failure(&problem.0),
    };
    match admission {
        Some(admission) => reconcile_admitted(&*ec2, request, admission, timing).await,
        None => reconcile(&*ec2, request, timing).await,
    }
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
    }
}
