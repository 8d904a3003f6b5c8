//! One reconcile pass over the EC2 port, without Kubernetes: observe → plan → act → report.
//!
//! - observe (EC2, read-only): [`observe_vpc`] describes the VPC, this object's own rules (by
//!   UID tag), the VPC's DNS attributes and the service. The VPC and service are the ones the
//!   endpoint was created for once it was ([`plan::location`]), and `ec2` must be the port of
//!   the region it was created in ([`plan::location::region`]): an edited spec is reported,
//!   never followed.
//! - analyse (pure): [`analysis::analyze`] of the spec over the observation, and, for a change
//!   of subnets or security groups while private DNS is on, over the world as it would be once
//!   the endpoint matches the spec ([`plan::drift::world_as_specified`] says when).
//!   For the last step of a deletion, which of the object's rules another object's endpoint
//!   still needs ([`plan::sharing::successors`]).
//! - plan (pure): [`plan::decide`] picks the next step.
//! - act (EC2, writes): [`act`] performs the decision's actions in order, stopping at the first
//!   failure. Results that are facts (the new endpoint's id) go into the status through pure
//!   functions of [`plan::status`]; a failure is reported by [`plan::report_failure`]. Every
//!   mutation call is recorded with its request id, account and region ([`audit`]): each call
//!   that succeeded gets its Event, the pass's outcome lists them all for the log.
//!
//! The caller (the controller, the demo, the tests) writes `status`, records `events`,
//! requeues, removes the finalizer when `finalized`, and backs off on `error`. The time comes
//! from the request, so a simulated clock drives everything in tests and the demo.

#[cfg(test)]
mod acceptance_tests;
mod act;
pub mod audit;
#[cfg(test)]
mod audit_tests;
#[cfg(test)]
mod bad_input_tests;
pub mod incident;
#[cfg(test)]
mod observe_only_tests;
#[cfg(test)]
mod tests;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::analysis;
use crate::api::{InterfaceEndpointSpec, InterfaceEndpointStatus, Owner};
use crate::aws::observe::{ObserveScope, observe_vpc};
use crate::aws::{AccountUnknown, Ec2, Ec2Error, Ec2Operation, ErrorKind};
use crate::plan::{self, Action, Config, EventNote, PlanInput, Timing};
use audit::{MutationCall, Trail};

/// One object, as the controller sees it.
#[derive(Clone, Debug)]
pub struct ReconcileRequest<'a> {
    pub spec: &'a InterfaceEndpointSpec,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    pub owner: &'a Owner,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// The status as last written (empty for a new object, or after a lost status).
    pub status: &'a InterfaceEndpointStatus,
    /// What the controller's configuration decides for every object.
    pub config: &'a Config,
    pub now: Timestamp,
}

/// What one pass did and what to do next.
#[derive(Clone, Debug, PartialEq)]
pub struct ReconcileOutcome {
    /// The status to write.
    pub status: InterfaceEndpointStatus,
    /// The Events to record.
    pub events: Vec<EventNote>,
    /// When to look again; `None` after an error that clears by itself: back off per object.
    pub requeue: Option<Duration>,
    /// Deletion is complete: remove the finalizer.
    pub finalized: bool,
    /// The EC2 failure that stopped the pass (its `kind.as_str()` is the bounded metric label).
    pub error: Option<Ec2Error>,
    /// The actions performed (all of the decision's, or those before the failure), for logs
    /// and the demo.
    pub performed: Vec<Action>,
    /// Every AWS mutation call of the pass, in order, with its request id, account and region
    /// (the audit trail; the controller logs each).
    pub mutations: Vec<MutationCall>,
}

/// One reconcile pass. Never panics on AWS input; every failure ends up in the outcome.
pub async fn reconcile<E: Ec2>(ec2: &E, request: &ReconcileRequest<'_>, timing: &Timing) -> ReconcileOutcome {
    let spec = request.spec;
    let owner = request.owner;

    // observe: EC2 reads, where the endpoint was created (the spec's VPC before that).
    let scope = ObserveScope {
        service_name: Some(plan::location::service_name(spec, request.status)),
        owner: Some(owner),
    };
    let vpc_id = plan::location::vpc(spec, request.status);
    let region = ec2.region();
    let world = match observe_vpc(ec2, vpc_id, scope).await {
        Ok(world) => world,
        Err(error) => return failed(request, error, timing, None, Vec::new()),
    };

    // analyse and plan: pure.
    let analysis = analysis::analyze(spec, Some(owner), &world);
    let mut input = PlanInput {
        spec,
        generation: request.generation,
        owner,
        deleting: request.deleting,
        status: request.status,
        world: &world,
        region: region.as_deref(),
        analysis: &analysis,
        config: request.config,
        analysis_as_specified: None,
        successors: &[],
        now: request.now,
    };
    let analysis_as_specified =
        plan::drift::world_as_specified(&input).map(|after| analysis::analyze(spec, Some(owner), &after));
    input.analysis_as_specified = analysis_as_specified.as_ref();
    let successors = plan::sharing::successors(&input);
    input.successors = &successors;
    let decision = plan::decide(&input, timing);

    // act: EC2 writes, in order, stopping at the first failure.
    // Asked only when something is to be changed (the port caches it).
    let account = if decision.actions.is_empty() {
        Err(AccountUnknown("no change was made".into()))
    } else {
        ec2.account().await
    };
    let mut trail = Trail::new(spec, account, region);
    let mut status = decision.status;
    for (done, action) in decision.actions.iter().enumerate() {
        match act::perform(ec2, action, owner, &mut trail).await {
            Ok(act::Performed::Created(endpoint)) => plan::status::record_created(&mut status, &endpoint),
            Ok(act::Performed::Authorized(requests)) => {
                for request in &requests {
                    plan::status::record_authorized(&mut status, request);
                }
            }
            Ok(act::Performed::Deleted(id)) => plan::status::record_deleting(&mut status, &id),
            Ok(act::Performed::Done) => {}
            Err(error) => {
                // The calls before this one did happen, batch by batch: their Events are kept.
                let completed = decision.actions[..done].to_vec();
                return failed(request, error, timing, Some(trail), completed);
            }
        }
    }
    // The planned Events of the actions give way to one per call made, with its trace.
    let mut events = decision.events;
    events.splice(decision.action_events, trail.events);
    ReconcileOutcome {
        status,
        events,
        requeue: Some(decision.requeue),
        finalized: decision.finalized,
        error: None,
        performed: decision.actions,
        mutations: trail.calls,
    }
}

/// The outcome of a pass that an EC2 failure stopped; `trail` holds the mutation calls made
/// before (and the one that failed), `None` when observing failed.
fn failed(
    request: &ReconcileRequest<'_>,
    error: Ec2Error,
    timing: &Timing,
    trail: Option<Trail<'_>>,
    performed: Vec<Action>,
) -> ReconcileOutcome {
    let report = plan::report_failure(request.status, request.generation, &error, request.now, timing);
    let (mut events, mutations, trace) = match trail {
        Some(trail) => {
            let trace = trail.trace_of_failure(&error).cloned();
            (trail.events, trail.calls, trace)
        }
        None => (Vec::<EventNote>::new(), Vec::new(), None),
    };
    // The failed mutation is in CloudTrail too (with its errorCode): its Event says where.
    events.extend(report.events.into_iter().map(|note| match &trace {
        Some(trace) => plan::events::traced(note, trace),
        None => note,
    }));
    // A ClientToken already used with other parameters is an expected wait (the endpoint is
    // looked for by its tags next time), not an error to back off from.
    let expected =
        error.kind == ErrorKind::IdempotencyMismatch && error.operation == Ec2Operation::CreateVpcEndpoint;
    ReconcileOutcome {
        status: report.status,
        events,
        requeue: report.requeue,
        finalized: false,
        error: (!expected).then_some(error),
        performed,
        mutations,
    }
}
