//! The audit trail of a pass: every AWS mutation call it made, with the request id AWS gave it,
//! the account and the region, so that each change can be found in CloudTrail.
//!
//! Calls are recorded as they are made, one by one: a batch of an action that succeeded keeps
//! its Event even when a later batch of the same action fails. A call that succeeded gets its
//! Event here (worded by [`plan::events`]); a call refused because its change was in place
//! already (a duplicate rule, a rule already gone) changed nothing and gets none; the call whose failure stops the pass is
//! reported by [`plan::report_failure`] with its trace. The controller logs every call.

use crate::api::InterfaceEndpointSpec;
use crate::aws::{AccountUnknown, CallTrace, Ec2Error, Ec2Operation, Receipt};
use crate::model::VpcEndpoint;
use crate::plan::{self, Action, EventNote};

/// One AWS mutation call of a pass.
#[derive(Clone, Debug, PartialEq)]
pub struct MutationCall {
    pub operation: Ec2Operation,
    /// The call, as an action of its own: one group's batch of rules, or one rule when a batch
    /// is retried rule by rule.
    pub action: Action,
    pub trace: CallTrace,
    pub outcome: MutationOutcome,
}

/// How a mutation call ended.
#[derive(Clone, Debug, PartialEq)]
pub enum MutationOutcome {
    /// AWS made the change.
    Made,
    /// AWS refused it because it was in place already (a duplicate rule, a rule already gone):
    /// nothing changed, and the engine went on.
    AlreadyInPlace(Ec2Error),
    Failed(Ec2Error),
}

impl MutationCall {
    /// What the call changed (or tried to): the endpoint, or the security group.
    pub fn target(&self) -> &str {
        match &self.action {
            Action::CreateEndpoint(create) => &create.vpc_id,
            Action::ModifyEndpoint(modify) => &modify.vpc_endpoint_id,
            Action::DeleteEndpoint { vpc_endpoint_id } => vpc_endpoint_id,
            Action::AuthorizeRules(batches) => batches.first().map_or("", |b| b.group_id.as_str()),
            Action::RevokeRules(batches) => batches.first().map_or("", |b| b.group_id.as_str()),
            Action::HandOverRules(handovers) => handovers
                .first()
                .and_then(|h| h.rule_ids.first())
                .map_or("", String::as_str),
            Action::TagEndpoint(t) => &t.vpc_endpoint_id,
            Action::TagRules(t) => t.rule_ids.first().map_or("", String::as_str),
            Action::SetEndpointTags { vpc_endpoint_id, .. }
            | Action::RemoveEndpointTags { vpc_endpoint_id, .. } => vpc_endpoint_id,
        }
    }
}

/// The EC2 action a call of `action` makes (a call carries one group and direction).
fn operation(action: &Action) -> Ec2Operation {
    match action {
        Action::CreateEndpoint(_) => Ec2Operation::CreateVpcEndpoint,
        Action::ModifyEndpoint(_) => Ec2Operation::ModifyVpcEndpoint,
        Action::DeleteEndpoint { .. } => Ec2Operation::DeleteVpcEndpoints,
        Action::AuthorizeRules(b) => Ec2Operation::authorize(b.first().is_some_and(|r| r.egress)),
        Action::RevokeRules(b) => Ec2Operation::revoke(b.first().is_some_and(|r| r.egress)),
        Action::HandOverRules(_)
        | Action::TagEndpoint(_)
        | Action::TagRules(_)
        | Action::SetEndpointTags { .. } => Ec2Operation::CreateTags,
        Action::RemoveEndpointTags { .. } => Ec2Operation::DeleteTags,
    }
}

/// The calls of one pass, and the Events of those that succeeded, in order.
pub(super) struct Trail<'a> {
    spec: &'a InterfaceEndpointSpec,
    account: Result<String, AccountUnknown>,
    region: Option<String>,
    pub calls: Vec<MutationCall>,
    pub events: Vec<EventNote>,
}

impl<'a> Trail<'a> {
    pub fn new(
        spec: &'a InterfaceEndpointSpec,
        account: Result<String, AccountUnknown>,
        region: Option<String>,
    ) -> Self {
        Self {
            spec,
            account,
            region,
            calls: Vec::new(),
            events: Vec::new(),
        }
    }

    fn trace(&self, request_id: Option<String>) -> CallTrace {
        CallTrace {
            request_id,
            account: self.account.clone(),
            region: self.region.clone(),
        }
    }

    /// A call of `action` that succeeded.
    pub fn succeeded(&mut self, action: Action, request_id: Option<String>) {
        let trace = self.trace(request_id);
        self.events
            .extend(plan::events::for_call(&action, self.spec, &trace));
        self.push(action, trace, MutationOutcome::Made);
    }

    /// CreateVpcEndpoint answered with `endpoint`: its Event names what EC2 made.
    pub fn created(&mut self, action: Action, endpoint: &VpcEndpoint, request_id: Option<String>) {
        let trace = self.trace(request_id);
        self.events.push(plan::events::endpoint_created(endpoint, &trace));
        self.push(action, trace, MutationOutcome::Made);
    }

    /// A call of `action` that failed.
    pub fn failed(&mut self, action: Action, error: &Ec2Error) {
        let trace = self.trace(error.request_id.clone());
        self.push(action, trace, MutationOutcome::Failed(error.clone()));
    }

    /// A call of `action` that AWS refused because what it asked for was in place already.
    pub fn already_in_place(&mut self, action: Action, error: &Ec2Error) {
        let trace = self.trace(error.request_id.clone());
        self.push(action, trace, MutationOutcome::AlreadyInPlace(error.clone()));
    }

    /// Records a call of `action` by its result; the error passes through.
    pub fn record<T>(
        &mut self,
        action: &Action,
        result: Result<Receipt<T>, Ec2Error>,
    ) -> Result<T, Ec2Error> {
        match result {
            Ok(receipt) => {
                self.succeeded(action.clone(), receipt.request_id);
                Ok(receipt.value)
            }
            Err(error) => {
                self.failed(action.clone(), &error);
                Err(error)
            }
        }
    }

    /// The trace of the last call, when it is the one that failed with `error`.
    pub fn trace_of_failure(&self, error: &Ec2Error) -> Option<&CallTrace> {
        self.calls
            .last()
            .filter(|call| call.outcome == MutationOutcome::Failed(error.clone()))
            .map(|call| &call.trace)
    }

    fn push(&mut self, action: Action, trace: CallTrace, outcome: MutationOutcome) {
        let operation = match &outcome {
            MutationOutcome::Made => operation(&action),
            MutationOutcome::AlreadyInPlace(e) | MutationOutcome::Failed(e) => e.operation,
        };
        self.calls.push(MutationCall {
            operation,
            action,
            trace,
            outcome,
        });
    }
}
