//! One reconcile pass over the EC2 port, without Kubernetes: observe → plan → act → report.
//!
//! - observe (EC2, read-only): the VPC, this object's own rules (by owner tag), the VPC's DNS
//!   attributes and the service: described by the pass itself
//!   ([`crate::aws::observe::observe_vpc`]), or the VPC's snapshot shared by every object in it
//!   ([`crate::aws::observation`]) when it may serve ([`observing`] says when, and why a shared
//!   snapshot never decides a change). The VPC and service are the ones the endpoint was
//!   created for once it was ([`plan::location`]), and `ec2` must be the port of the region it
//!   was created in ([`plan::location::region`]): an edited spec is reported, never followed.
//! - analyse (pure): [`analysis::analyze`] of the spec over the observation, and, for a change
//!   of subnets or security groups while private DNS is on, over the world as it would be once
//!   the endpoint matches the spec ([`plan::drift::world_as_specified`] says when).
//!   For the last step of a deletion, which of the object's rules another object's endpoint
//!   still needs ([`plan::sharing::successors`]).
//! - plan (pure): [`plan::decide`] picks the next step.
//! - act (EC2, writes): [`act`] performs the decision's actions in order, stopping at the first
//!   failure. Results that are facts (the new endpoint's id, rules added, private DNS turned
//!   off, rules revoked) go into the status through pure functions of [`plan::status`], so that
//!   it never claims what this pass took away; a failure is reported by
//!   [`plan::report_failure`], with the facts this pass observed rather than the last pass's. Every
//!   mutation call is recorded with its request id, account and region ([`audit`]): each call
//!   that succeeded gets its Event, the pass's outcome lists them all for the log.
//!
//! The controller's pass is [`tenancy::reconcile_object`]: the grant's verdict first (a refused
//! object gets no AWS call), then the port of where the object acts, then the pass bounded by the
//! grant ([`reconcile_admitted`]: remediation ceilings, the groups rules may be added to, who
//! approves). [`reconcile`] is the pass bounded by nothing but the spec (the demo, tests).
//!
//! The caller (the controller, the demo, the tests) writes `status`, records `events`,
//! requeues, removes the finalizer when `finalized`, and backs off on `error`. The time comes
//! from the request, so a simulated clock drives everything in tests and the demo.

#[cfg(test)]
mod acceptance_tests;
mod act;
#[cfg(test)]
mod address_family_tests;
#[cfg(test)]
mod adoption_tests;
pub mod audit;
#[cfg(test)]
mod audit_tests;
#[cfg(test)]
mod bad_input_tests;
#[cfg(test)]
mod budget_tests;
pub mod canary;
#[cfg(test)]
mod canary_tests;
pub mod evidence;
#[cfg(test)]
mod evidence_tests;
#[cfg(test)]
mod inbound_only_tests;
pub mod incident;
#[cfg(test)]
mod observe_only_tests;
mod observing;
#[cfg(test)]
mod observing_tests;
#[cfg(test)]
mod ports_tests;
#[cfg(test)]
mod resolves_tests;
#[cfg(test)]
mod simulation_findings_tests;
#[cfg(test)]
mod subnet_configuration_tests;
pub mod tenancy;
#[cfg(test)]
mod tenancy_tests;
#[cfg(test)]
mod tests;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::analysis::{self, RuleScope};
use crate::api::{ApprovedBy, InterfaceEndpointSpec, InterfaceEndpointStatus, Owner, RejectAction};
use crate::aws::observation::VpcObservations;
use crate::aws::{AccountUnknown, Ec2, Ec2Error, Ec2Operation, ErrorKind};
use crate::grants::{Admission, GrantedGroups};
use crate::logs::{Logs, NoLogs, QueryPolling};
use crate::model::Snapshot;
use crate::plan::approval::Approver;
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
    /// The VPCs' shared snapshots (the controller's); `None`: the pass observes alone.
    pub observations: Option<&'a VpcObservations>,
    /// Resolves names where the controller runs, for condition `ResolvesToEndpoint`
    /// ([`plan::resolves`]; only with `--pod-ip`); `None`: no such check.
    pub resolver: Option<&'a dyn crate::dns::Resolver>,
}

/// Whether the VPC holds security groups or network interfaces of several accounts (a shared
/// VPC, RAM): then which one the controller acts in matters.
fn several_owners(world: &Snapshot) -> bool {
    let vpc_owner = world.vpcs.first().and_then(|v| v.owner_id.as_deref());
    let owners = world
        .security_groups
        .iter()
        .filter_map(|g| g.owner_id.as_deref())
        .chain(
            world
                .network_interfaces
                .iter()
                .filter_map(|n| n.owner_id.as_deref()),
        );
    let mut first = vpc_owner;
    for owner in owners {
        match first {
            Some(f) if f != owner => return true,
            None => first = Some(owner),
            _ => {}
        }
    }
    false
}

/// The groups the remediation may add rules to: the grant's (unbounded without one), of the
/// account the controller acts in (`account`, when the VPC is shared).
fn rule_scope(admission: Option<&Admission>, account: Option<String>) -> RuleScope {
    let Some(a) = admission else {
        return RuleScope {
            account,
            ..RuleScope::default()
        };
    };
    let only = |groups: &GrantedGroups| match groups {
        GrantedGroups::Any => None,
        GrantedGroups::Only(groups) => Some(groups.clone()),
    };
    RuleScope {
        endpoint_groups: only(&a.endpoint_groups),
        client_groups: only(&a.client_groups),
        grant: Some(a.grant.clone()),
        account,
    }
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
    /// The pass rested on the VPC's shared snapshot, taken before it: it changed nothing, and
    /// its status claims nothing the last one did not (only `lastVerifiedTime` moves, to when
    /// the snapshot was taken).
    pub restated: bool,
}

/// One reconcile pass, bounded by nothing but the spec (the demo, tests of the rollout itself;
/// the controller's passes are [`tenancy::reconcile_object`]'s). Never panics on AWS input;
/// every failure ends up in the outcome.
pub async fn reconcile<E: Ec2>(ec2: &E, request: &ReconcileRequest<'_>, timing: &Timing) -> ReconcileOutcome {
    pass(ec2, &NoLogs, request, None, timing).await
}

/// [`reconcile`], reading the evidence the spec names (`spec.clients.evidence`) through `logs`.
pub async fn reconcile_with_logs<E: Ec2, L: Logs>(
    ec2: &E,
    logs: &L,
    request: &ReconcileRequest<'_>,
    timing: &Timing,
) -> ReconcileOutcome {
    pass(ec2, logs, request, None, timing).await
}

/// One reconcile pass within what `admission` (the object's EndpointGrant) lets the controller
/// do: its remediation ceilings, the groups rules may be added to, who approves. Deletion is
/// never bounded: what the object owns is always cleaned up.
pub async fn reconcile_admitted<E: Ec2, L: Logs>(
    ec2: &E,
    logs: &L,
    request: &ReconcileRequest<'_>,
    admission: &Admission,
    timing: &Timing,
) -> ReconcileOutcome {
    pass(ec2, logs, request, Some(admission), timing).await
}

async fn pass<E: Ec2, L: Logs>(
    ec2: &E,
    logs: &L,
    request: &ReconcileRequest<'_>,
    admission: Option<&Admission>,
    timing: &Timing,
) -> ReconcileOutcome {
    let region = ec2.region();
    // Deletion is never bounded by the grant.
    let admission = admission.filter(|_| !request.deleting);

    // observe: EC2 reads, where the endpoint was created (the spec's VPC before that): the
    // VPC's shared snapshot when it may serve (see `observing`), this pass's own otherwise.
    let mut look = observing::Look::begin(ec2, request, timing).await;
    let world = match look.first(ec2).await {
        Ok(world) => world,
        Err(error) => return failed(request, error, timing, None, Vec::new()),
    };
    let mut decision = think(ec2, logs, request, admission, &world, &look.seen_off(), timing).await;
    // Whatever the pass is to do or say (a call, a status, an Event, the finalizer) is decided
    // on a snapshot begun within it, as if nothing were shared: a shared snapshot may be older
    // than something that happened meanwhile (a client added, a rule revoked, private DNS
    // turned off), and private DNS must never go on, nor a rule go, on the strength of it.
    let world = if look.must_look_again(&world, &decision) {
        match look.fresh(ec2).await {
            Ok(fresh) => {
                decision = think(ec2, logs, request, admission, &fresh, &look.seen_off(), timing).await;
                fresh
            }
            Err(error) => return failed(request, error, timing, None, Vec::new()),
        }
    } else {
        world
    };
    observing::Look::stamp(&world, &mut decision);
    let restated = look.rests_on_shared(&world);
    let mut outcome = carry_out(ec2, request, decision, &world, region, timing).await;
    outcome.restated = restated;
    look.end(&outcome);
    outcome
}

/// analyse and plan: pure, within what the grant allows (the account is asked only in a shared
/// VPC, and cached by the port).
async fn think<E: Ec2, L: Logs>(
    ec2: &E,
    logs: &L,
    request: &ReconcileRequest<'_>,
    admission: Option<&Admission>,
    world: &Snapshot,
    seen_off: &plan::resolution::SeenOff,
    timing: &Timing,
) -> plan::Decision {
    let spec = request.spec;
    let owner = request.owner;
    let region = ec2.region();
    // In a shared VPC, groups of other accounts are never edited: which is ours is asked only
    // when the VPC holds any (the port caches it).
    let account = if several_owners(world) {
        ec2.account().await.ok()
    } else {
        None
    };
    let rules = rule_scope(admission, account);
    // observe, the evidence: the Resolver query logs the spec names (not while deleting: who
    // calls the service no longer matters then).
    let evidence = if request.deleting {
        None
    } else {
        let vpc_id = plan::location::vpc(spec, request.status);
        evidence::observe(logs, spec, world, vpc_id, request.now, QueryPolling::default()).await
    };
    // observe, the canary: once private DNS is on, the flow logs the spec names.
    let canary = if request.deleting {
        None
    } else {
        let vpc_id = plan::location::vpc(spec, request.status);
        canary::observe(ec2, logs, spec, request.status, world, vpc_id, request.now).await
    };
    let reaction = canary
        .as_ref()
        .map(|read| plan::canary::reaction(spec, read, request.now));
    let evidence_spec = plan::evidence::effective_spec(spec, evidence.as_ref());
    // Under Remediate and Rollback, the rejected sources are clients of the analysis
    // (evidenced); so are those a rollback holds private DNS off for.
    let vpc_id = plan::location::vpc(spec, request.status);
    let attribution = match (&canary, reaction) {
        (Some(read), Some(RejectAction::Remediate | RejectAction::Rollback)) => plan::canary::with_rejects(
            evidence.as_ref().and_then(|e| e.attribution()),
            read,
            world,
            vpc_id,
        ),
        _ => evidence.as_ref().and_then(|e| e.attribution()).cloned(),
    };
    let held = plan::rollback::held_sources(request.status);
    let attribution = if held.is_empty() || request.deleting {
        attribution
    } else {
        plan::canary::with_sources(attribution.as_ref(), &held, world, vpc_id)
    };
    let analysis =
        analysis::analyze_with_evidence(&evidence_spec, Some(owner), world, &rules, attribution.as_ref());
    // observe, the route tables: only under Rollback with a source cut off, to weigh who
    // turning private DNS off restores and who it cuts off.
    let weighing = match (&canary, reaction, analysis.as_ref()) {
        (Some(read), Some(RejectAction::Rollback), Ok(found)) if plan::rollback::any_cut_off(found, read) => {
            let force = spec.verification.as_ref().is_some_and(|v| v.on_reject.force);
            let tables = ec2.describe_route_tables(vpc_id).await;
            let tables = match &tables {
                Ok(tables) => Ok(tables.as_slice()),
                Err(e) => Err(format!("DescribeRouteTables failed: {}", e.message)),
            };
            plan::rollback::weigh(
                found,
                read,
                tables.as_ref().map_err(String::as_str).copied(),
                force,
            )
        }
        _ => None,
    };
    let mut input = PlanInput {
        spec,
        generation: request.generation,
        owner,
        deleting: request.deleting,
        status: request.status,
        world,
        region: region.as_deref(),
        analysis: &analysis,
        config: request.config,
        analysis_as_specified: None,
        successors: &[],
        approver: Approver::Namespace,
        rollback: weighing.as_ref(),
        seen_off,
        now: request.now,
    };
    let analysis_as_specified = plan::drift::world_as_specified(&input).map(|after| {
        analysis::analyze_with_evidence(&evidence_spec, Some(owner), &after, &rules, attribution.as_ref())
    });
    input.analysis_as_specified = analysis_as_specified.as_ref();
    let successors = plan::sharing::successors(&input);
    input.successors = &successors;
    // The spec as the grant lets the controller act on it: its remediation ceilings, and under
    // approvedBy: Platform the platform's approval of the current plan.
    let effective = admission.map(|a| {
        let ids: Vec<String> = std::iter::once(&analysis)
            .chain(analysis_as_specified.as_ref())
            .filter_map(|r| r.as_ref().ok())
            .map(|an| an.remediation.plan_id(&a.remediation))
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        a.effective_spec(spec, &ids)
    });
    if let (Some(effective), Some(a)) = (&effective, admission) {
        input.spec = effective;
        if a.approved_by == ApprovedBy::Platform {
            input.approver = Approver::Platform {
                namespace: owner.namespace.clone(),
                name: owner.name.clone(),
            };
        }
    }
    let mut decision = plan::decide(&input, timing);
    // What the evidence read found is part of what the pass says (so a new read is looked at
    // again like any other status change).
    match &evidence {
        Some(read) => plan::evidence::report(
            &mut decision.status,
            spec,
            read,
            analysis.as_ref().ok(),
            request.generation,
            request.now,
        ),
        None => plan::evidence::clear(&mut decision.status),
    }
    // So is what the canary read, and what it leads to.
    match (&canary, reaction) {
        (Some(read), Some(reaction)) => {
            let acts =
                plan::canary::PassActs {
                    adds_rules: decision
                        .actions
                        .iter()
                        .any(|a| matches!(a, Action::AuthorizeRules(_))),
                    rollback: weighing.as_ref(),
                    // This pass turns private DNS off, or records a rollback it finds already done.
                    turns_off: decision.actions.iter().any(
                        |a| matches!(a, Action::ModifyEndpoint(m) if m.private_dns_enabled == Some(false)),
                    ) || (decision.status.rollback.is_some() && request.status.rollback.is_none()),
                    observing_only: plan::observe_only::by(spec, request.config).is_some(),
                };
            decision.requeue = plan::canary::report(
                &mut decision.status,
                &mut decision.events,
                request.status,
                read,
                reaction,
                analysis.as_ref().ok(),
                acts,
                request.generation,
                request.now,
                decision.requeue,
            );
        }
        _ => {
            plan::canary::clear(&mut decision.status);
            // While a rollback holds private DNS off, the canary reads nothing: `Verified`
            // says why it is off.
            plan::rollback::report_held(&mut decision.status, request.generation, request.now);
        }
    }
    // observe, DNS: once private DNS is on, what the service's name resolves to where the
    // controller runs, when that is inside the endpoint's VPC.
    let endpoint = decision
        .status
        .endpoint_id
        .as_deref()
        .and_then(|id| world.vpc_endpoints.iter().find(|e| e.vpc_endpoint_id == id));
    let question = match request.resolver {
        Some(_) => plan::resolves::question(request.config, world, endpoint, request.deleting),
        None => plan::resolves::Question::None,
    };
    let answer = match (&question, request.resolver) {
        (plan::resolves::Question::Resolve { name, .. }, Some(resolver)) => Some(resolver.lookup(name).await),
        _ => None,
    };
    plan::resolves::report(
        &mut decision.status,
        &mut decision.events,
        request.status,
        &question,
        answer.as_ref(),
        request.generation,
        request.now,
    );
    decision
}

/// act: EC2 writes, in order, stopping at the first failure.
async fn carry_out<E: Ec2>(
    ec2: &E,
    request: &ReconcileRequest<'_>,
    decision: plan::Decision,
    world: &Snapshot,
    region: Option<String>,
    timing: &Timing,
) -> ReconcileOutcome {
    let spec = request.spec;
    let owner = request.owner;
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
            Ok(act::Performed::Done) => record_removal(&mut status, action, world),
            Err(error) => {
                // What the failed action may have removed anyway (the batches of a revoke
                // before the one that failed, or all of it with the answer lost) is no longer
                // claimed either.
                if matches!(action, Action::RevokeRules(_)) || error.kind.may_have_taken_effect() {
                    record_removal(&mut status, action, world);
                }
                // The calls before this one did happen, batch by batch: their Events are kept,
                // and the status reports what this pass saw and did, not the last pass.
                let creating = matches!(action, Action::CreateEndpoint(_));
                let spent_token = creating && error.kind == ErrorKind::IdempotencyMismatch;
                let unanswered = creating && error.kind.may_have_taken_effect();
                let completed = decision.actions[..done].to_vec();
                let mut outcome = failed(request, error, timing, Some(trail), completed);
                plan::status::carry_observed_facts(&mut outcome.status, &status);
                if unanswered {
                    // It may have made an endpoint EC2 does not list yet: deletion waits for it.
                    outcome.status.endpoint_create_unanswered_time = Some(request.now.to_string());
                }
                if creating && !spent_token {
                    // The next create's ClientToken is counted from the status as it was
                    // before this pass, the id of an endpoint deleted by hand included: carried
                    // over as "none seen", it would count one incarnation fewer, and a retry
                    // would take an older token than this create's, which an earlier attempt
                    // whose status never landed may have spent on an endpoint of its own (a
                    // second endpoint: seed 40804). The retry takes this create's token, which
                    // EC2 answers with that attempt's endpoint.
                    outcome.status.endpoint_id = request.status.endpoint_id.clone();
                }
                if spent_token {
                    // EC2 holds that ClientToken for other parameters (the spec changed since
                    // it was first used): counted as used, the next create (once the endpoint
                    // it made has not shown up) takes the next token, not this one forever.
                    outcome.status.endpoint_recreations = status.endpoint_recreations;
                }
                return outcome;
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
        restated: false,
    }
}

/// Takes what `action` removed (private DNS turned off, rules revoked) out of the status's
/// claims: the status never claims what this pass took away.
fn record_removal(status: &mut InterfaceEndpointStatus, action: &Action, world: &crate::model::Snapshot) {
    match action {
        Action::ModifyEndpoint(request) => plan::status::record_modified(status, request),
        Action::RevokeRules(batches) => {
            for batch in batches {
                plan::status::record_revoked(status, &world.security_group_rules, batch);
            }
        }
        _ => {}
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
    // looked for by its tags next time), not an error to back off from; so is a call the API
    // budget holds back (the status says its place in line, the requeue when it comes).
    let expected = (error.kind == ErrorKind::IdempotencyMismatch
        && error.operation == Ec2Operation::CreateVpcEndpoint)
        || error.kind == ErrorKind::WaitingForApiBudget;
    ReconcileOutcome {
        status: report.status,
        events,
        requeue: report.requeue,
        finalized: false,
        error: (!expected).then_some(error),
        performed,
        mutations,
        restated: false,
    }
}
