//! The rollout state machine, pure: (spec, previous status, observed world, analysis) → the
//! next step ([`Decision`]): the actions to take, the status to report, the Events to record,
//! and when to look again.
//!
//! Nothing here calls AWS or Kubernetes or reads a clock; [`crate::engine`] does the I/O.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::analysis::{Analysis, AnalysisError};
use crate::api::{InterfaceEndpointSpec, InterfaceEndpointStatus, Owner};
use crate::aws::{AuthorizeRules, CreateVpcEndpoint, ModifyVpcEndpoint};
use crate::model::Snapshot;

/// Everything a decision depends on.
#[derive(Clone, Debug)]
pub struct PlanInput<'a> {
    pub spec: &'a InterfaceEndpointSpec,
    /// `metadata.generation`, reported as `observedGeneration`.
    pub generation: Option<i64>,
    pub owner: &'a Owner,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// The status as last written.
    pub status: &'a InterfaceEndpointStatus,
    /// The VPC as observed just now, including this object's own rules
    /// (`security_group_rules`, found by owner tag), the VPC's DNS attributes and the service.
    pub world: &'a Snapshot,
    /// `analysis::analyze` of `spec` over `world`.
    pub analysis: &'a Result<Analysis, AnalysisError>,
    pub now: Timestamp,
}

/// One change to the AWS world. The engine performs a decision's actions in order and stops
/// at the first failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// CreateVpcEndpoint with private DNS off.
    CreateEndpoint(CreateVpcEndpoint),
    /// ModifyVpcEndpoint: subnets, security groups, policy or private DNS.
    ModifyEndpoint(ModifyVpcEndpoint),
    /// Authorize rules, tagged as the object's own, one request per group and direction.
    AuthorizeRules(Vec<AuthorizeRules>),
    /// Revoke rules by id; only ever rules carrying this object's owner tags.
    RevokeRules(Vec<RevokeRules>),
    /// DeleteVpcEndpoints for the object's own endpoint.
    DeleteEndpoint { vpc_endpoint_id: String },
}

/// Rules of one group and direction to revoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokeRules {
    pub group_id: String,
    pub egress: bool,
    pub rule_ids: Vec<String>,
}

/// Why an Event is recorded. A closed set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventReason {
    EndpointCreated,
    EndpointAvailable,
    ClientsBlocked,
    PlanAwaitingApproval,
    RulesAuthorized,
    PrivateDnsEnabled,
    Ready,
    Degraded,
    RulesRevoked,
    EndpointDeleted,
    /// The spec does not fit the AWS world, or AWS refused a call.
    Failed,
}

impl EventReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndpointCreated => "EndpointCreated",
            Self::EndpointAvailable => "EndpointAvailable",
            Self::ClientsBlocked => "ClientsBlocked",
            Self::PlanAwaitingApproval => "PlanAwaitingApproval",
            Self::RulesAuthorized => "RulesAuthorized",
            Self::PrivateDnsEnabled => "PrivateDnsEnabled",
            Self::Ready => "Ready",
            Self::Degraded => "Degraded",
            Self::RulesRevoked => "RulesRevoked",
            Self::EndpointDeleted => "EndpointDeleted",
            Self::Failed => "Failed",
        }
    }
}

/// An Event to record: what happened, for people reading `kubectl describe`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventNote {
    pub reason: EventReason,
    pub warning: bool,
    pub message: String,
}

/// The next step.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The actions, in order. Empty when the step is to wait.
    pub actions: Vec<Action>,
    /// The status to write once the actions succeeded (phase, conditions, clients, plan).
    pub status: InterfaceEndpointStatus,
    /// Events to record once the actions succeeded.
    pub events: Vec<EventNote>,
    /// When to reconcile again (an expected wait is not an error).
    pub requeue: Duration,
    /// Deletion is complete: the finalizer may be removed.
    pub finalized: bool,
}

/// Requeue periods. Defaults are the controller's; tests and the demo use the same ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Right after a change, to observe its effect.
    pub after_change: Duration,
    /// First poll while the endpoint is `pending`; doubles up to `pending_max`.
    pub pending_min: Duration,
    pub pending_max: Duration,
    /// Waiting for approval or for someone else to open a path (spec changes wake us at once).
    pub waiting: Duration,
    /// Re-verification in Ready (`--resync`).
    pub resync: Duration,
    /// A created endpoint that describes cannot see yet is waited for this long before it is
    /// considered deleted out of band (EC2 is eventually consistent).
    pub visibility_window: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            after_change: Duration::from_secs(2),
            pending_min: Duration::from_secs(5),
            pending_max: Duration::from_secs(60),
            waiting: Duration::from_secs(60),
            resync: Duration::from_secs(300),
            visibility_window: Duration::from_secs(120),
        }
    }
}

/// Reports a failed EC2 call, pure: the status and Event that say what failed and why.
/// Used by the engine both when observing fails and when an action fails.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureReport {
    pub status: InterfaceEndpointStatus,
    pub events: Vec<EventNote>,
    /// `None` when the failure is expected to clear by itself (throttling, eventual
    /// consistency, transient): the caller backs off. `Some` for waits on a human.
    pub requeue: Option<Duration>,
}
