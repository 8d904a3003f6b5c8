//! The rollout state machine, pure: (spec, previous status, observed world, analysis) → the
//! next step ([`Decision`]): the actions to take, the status to report, the Events to record,
//! and when to look again.
//!
//! Nothing here calls AWS or Kubernetes or reads a clock; [`crate::engine`] does the I/O.
//!
//! Where each decision is made:
//! - [`deletion`]: the object is being deleted (revoke own rules, delete or retain the endpoint).
//! - [`location`]: which endpoint is the object's and where it lives (recorded at creation;
//!   observed and cleaned up there), and spec edits of its VPC, service or region, which
//!   would move it: refused.
//! - [`validate`]: spec problems the API server cannot see (reserved tags, a bad policy, ...).
//! - [`adoption`]: an endpoint that exists already: taken over (`spec.adopt`, a restored
//!   object), claimed for this cluster, or left alone (another object's, another cluster's).
//! - [`endpoint`]: the endpoint's life: create (private DNS off), wait while EC2 catches up,
//!   re-create after an out-of-band deletion, poll while `pending`, failed states.
//! - [`acceptance`]: the endpoint waits for its service's owner to accept it (or they
//!   rejected it): who must act, and a timeout.
//! - [`drift`]: subnets, security groups or policy differ from the spec; the world as it would
//!   be after the change, so that a change never cuts clients off either.
//! - [`access`]: the clients' reachability and the remediation modes: add rules, wait for
//!   approval, or wait for someone else.
//! - [`dns`]: private DNS: preconditions, enabling it only when nobody would be cut off.
//! - [`cut_off`]: after the stages: clients cut off while private DNS is on make the rollout
//!   Degraded, also in the pass that repairs it.
//! - [`rollback`]: after that, the canary's `onReject: Rollback`: private DNS turned off for
//!   sources the flow logs show cut off, unless it cuts off more clients than it restores, and
//!   held off (phase RolledBack) until their plan is applied.
//! - [`tags`]: after the endpoint stages, edits of `spec.tags` are applied to the endpoint
//!   (CreateTags, DeleteTags of the keys the spec dropped).
//! - [`approval`], [`rules`], [`wording`], [`preconditions`], [`cluster`]: leaves the stages share,
//!   depending on no stage: the analysis seen through the remediation modes and the approval,
//!   the object's own rules, the wording of counts, lists and blocked clients, and what private
//!   DNS needs (checked before creating an endpoint, and again before enabling it), and the tags
//!   that say whose cluster a resource is.
//!
//! The rollout stages hand over in one direction (location → validate → adoption → endpoint → drift →
//! access → dns, or endpoint → acceptance) and share wording, rules and the approval view
//! through the leaves, never through each other; [`status`] and [`events`] turn the step into
//! the decision.
//! - [`status`]: the status views (clients summary, plan, conditions), bounded in size.
//! - [`events`]: Events, on transitions only.
//! - [`failure`]: what a failed EC2 call means for the status ([`report_failure`]).
//! - [`observe_only`]: last, when the controller or the spec says to observe only: the
//!   decision's AWS calls are withheld and reported as what it would do.
//! - [`tenancy`]: the grant's verdict in the status (`Granted`, `status.grant`), and the report
//!   of an object no grant admits (phase Forbidden, no AWS call).
//!
//! Phase precedence when several things hold at once (the phase says what happens next, or
//! what the user must do next): the controller acting (Creating, Remediating,
//! EnablingPrivateDns) before the user approving (AwaitingApproval: an approval can be acted
//! on at once) before someone else fixing the network (Blocked: NACLs or a mode set to Off).
//! Once private DNS is on, blocked clients are cut off *now*, so a wait on a human is
//! reported as Degraded, with the plan and approval conditions saying what is needed.

pub mod acceptance;
pub mod access;
pub mod adoption;
pub mod approval;
pub mod canary;
pub mod cluster;
pub mod cut_off;
pub mod deletion;
pub mod dns;
pub mod drift;
pub mod endpoint;
pub mod events;
pub mod evidence;
pub mod failure;
pub mod location;
pub mod observe_only;
pub mod preconditions;
pub mod resolution;
pub mod resolves;
pub mod rollback;
pub mod rules;
pub mod sharing;
pub mod status;
pub mod tags;
pub mod tenancy;
pub mod validate;
pub mod wording;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod ports_tests;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::analysis::{Analysis, AnalysisError};
use crate::api::conditions::{ConditionReason, ConditionType, ConditionUpdate};
use crate::api::{
    DeletionPolicy, InterfaceEndpointSpec, InterfaceEndpointStatus, Owner, RolloutPhase, closed_set,
};
use crate::aws::{AuthorizeRules, CreateVpcEndpoint, ModifyVpcEndpoint};
use crate::model::{Snapshot, VpcEndpoint};

pub use failure::{report_assume_role_failure, report_configuration_failure, report_failure};

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
    /// It is the VPC the endpoint was created in ([`location::vpc`]), even if the spec names
    /// another now.
    pub world: &'a Snapshot,
    /// The region `world` was observed in (the EC2 port's); `None` when the port does not know.
    pub region: Option<&'a str>,
    /// `analysis::analyze` of `spec` over `world`.
    pub analysis: &'a Result<Analysis, AnalysisError>,
    /// What the controller's configuration decides for every object.
    pub config: &'a Config,
    /// `analysis::analyze` of `spec` over [`drift::world_as_specified`]: the world as it would
    /// be once the endpoint's subnets and security groups match the spec. `None` when that
    /// function says there is nothing to analyse (they match, or private DNS is off). Needed to
    /// change a serving endpoint without cutting clients off.
    pub analysis_as_specified: Option<&'a Result<Analysis, AnalysisError>>,
    /// Other objects whose endpoints still need some of this object's rules
    /// ([`sharing::successors`]): computed only for the last step of a deletion, empty
    /// otherwise. Those rules are handed over instead of revoked.
    pub successors: &'a [sharing::Successor],
    /// Who approves the object's plans; `spec.approval` holds the approving id either way
    /// (under [`approval::Approver::Platform`] the engine puts a PlanApproval's id there).
    pub approver: approval::Approver,
    /// Under the canary's `onReject: Rollback`, with private DNS on and rejected sources cut
    /// off: who turning it off restores and cuts off ([`rollback::weigh`]); `None` otherwise.
    pub rollback: Option<&'a rollback::Weighing>,
    /// What the controller's looks saw of private DNS, whichever object's pass looked: for each
    /// endpoint a look saw serving, since when it has been seen off ([`resolution::SeenOff`]).
    pub seen_off: &'a resolution::SeenOff,
    pub now: Timestamp,
}

/// What the controller's configuration (its flags, the chart's values) decides for every
/// object, as opposed to what one object's spec says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// `--observe-only`: change nothing in AWS, for any object ([`observe_only`]).
    pub observe_only: bool,
    /// `--default-deletion-policy`: what deleting an object whose spec names no
    /// `deletionPolicy` does ([`deletion::policy`]).
    pub default_deletion_policy: DeletionPolicy,
    /// `--cluster-name`: the name in the cluster tag of everything this controller creates or
    /// takes over; an endpoint tagged with another cluster's is never touched ([`cluster`]).
    pub cluster_name: Option<String>,
    /// `--pod-ip`: the controller's own address. Where it is a network interface's in the
    /// endpoint's VPC, the controller resolves the service's private DNS name itself
    /// ([`resolves`]); `None`: no such check.
    pub pod_ip: Option<std::net::IpAddr>,
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
    /// CreateTags on rules of this object that another object's endpoint still needs: from
    /// now on their ownership tags name that object ([`sharing`]).
    HandOverRules(Vec<HandOver>),
    /// DeleteVpcEndpoints for the object's own endpoint.
    DeleteEndpoint { vpc_endpoint_id: String },
    /// CreateTags on an endpoint that exists already: it becomes this object's (adopted, or
    /// made by an earlier object of the same name) and this cluster's ([`adoption`]).
    TagEndpoint(TagEndpoint),
    /// CreateTags on the rules an earlier object of the same name added: they become this
    /// object's ([`adoption`]).
    TagRules(TagRules),
    /// CreateTags on the object's endpoint: the `spec.tags` it lacks, or carries with another
    /// value ([`tags`]).
    SetEndpointTags {
        vpc_endpoint_id: String,
        tags: Vec<crate::model::Tag>,
    },
    /// DeleteTags on the object's endpoint: keys dropped from `spec.tags` ([`tags`]); never an
    /// ownership key, never a tag the spec did not set.
    RemoveEndpointTags {
        vpc_endpoint_id: String,
        keys: Vec<String>,
    },
}

/// An endpoint to tag as the object's, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagEndpoint {
    pub vpc_endpoint_id: String,
    /// Both ownership tags, and the cluster's when the controller has a name.
    pub tags: Vec<crate::model::Tag>,
    pub takeover: Takeover,
}

/// Why an existing endpoint is tagged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Takeover {
    /// `spec.adopt.vpcEndpointId` names it.
    Adopt,
    /// It carries the owner tag of this object with an earlier UID: the object was restored or
    /// re-created.
    Restore { earlier_uid: String },
    /// It is this object's already, made before the controller had a cluster name.
    Claim,
}

/// Rules to tag as the object's, in one CreateTags request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagRules {
    pub rule_ids: Vec<String>,
    /// The ownership tags the rules carry now, the earlier object's: the adapter retags only
    /// rules that carry these values.
    pub earlier_owner_tags: Vec<crate::model::Tag>,
    pub tags: Vec<crate::model::Tag>,
}

/// Rules of one group and direction to revoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokeRules {
    pub group_id: String,
    pub egress: bool,
    pub rule_ids: Vec<String>,
}

/// Rules handed over to another object, in one CreateTags request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandOver {
    /// `<namespace>/<name>` of the object that takes them.
    pub to: String,
    /// Its endpoint, which needs them.
    pub endpoint_id: String,
    pub rule_ids: Vec<String>,
    /// Its ownership tags and [`crate::api::HANDED_OVER_FROM_TAG`].
    pub tags: Vec<crate::model::Tag>,
}

closed_set! {
    /// Why an Event is recorded, each meaning when it is. A closed set.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum EventReason {
        EndpointCreated => "CreateVpcEndpoint made the endpoint (private DNS off).",
        EndpointAvailable => "The endpoint became `available` (once per endpoint).",
        AwaitingAcceptance => "The endpoint started waiting for the service's owner to accept it (names \
            the service, its owner and the command they run).",
        ClientsBlocked => "Clients became blocked, or a new group of blocked clients appeared.",
        PlanAwaitingApproval => "A plan waits for `spec.approval.planId`, or the plan changed.",
        RulesAuthorized => "One AuthorizeSecurityGroupIngress/Egress call added rules (one group, one \
            direction).",
        PrivateDnsEnabled => "ModifyVpcEndpoint turned private DNS on (every call, also when asked again).",
        PrivateDnsDisabled => "ModifyVpcEndpoint turned private DNS off, because `spec.privateDns.enabled` \
            is false, the object is being deleted, or the canary rolled back (`onReject: Rollback`).",
        EndpointModified => "ModifyVpcEndpoint changed subnets, security groups or the policy to match the \
            spec.",
        EndpointTagsUpdated => "CreateTags or DeleteTags applied an edit of `spec.tags` to the endpoint: \
            tags set or changed, or keys dropped from the spec deleted (tags others set are left alone).",
        RulesRevoked => "One RevokeSecurityGroupIngress/Egress call removed the object's rules of one group.",
        RulesHandedOver => "A deleted object handed rules another object's endpoint still needs over to \
            that object (CreateTags) instead of revoking them.",
        RulesTakenOver => "This object's status first lists rules a deleted object handed over to it.",
        EndpointDeleted => "DeleteVpcEndpoints accepted the deletion.",
        Ready => "The rollout became Ready.",
        Degraded => "Clients are cut off while private DNS is on, or the endpoint was deleted outside \
            the controller.",
        PrivateDnsReenabled => "Private DNS was turned off outside the controller (the console, the \
            CLI) and is turned on again, because `spec.privateDns.enabled` is true; setting it to false \
            is the emergency brake that holds.",
        ForcedWithBlockedClients => "Private DNS is enabled, or a spec change applied, with blocked clients \
            (`spec.privateDns.force`).",
        TrafficRejected => "The flow logs show connections to the endpoint rejected since private DNS \
            went on (the canary, `spec.verification`), once per distinct set of sources: names each \
            source, its network interface, the missing rule and the reaction.",
        ResolvesElsewhere => "The service's private DNS name, resolved by the controller inside the \
            endpoint's VPC, stopped answering with the endpoint's addresses only (condition \
            `ResolvesToEndpoint` False): names the answers.",
        RolledBack => "The canary turned private DNS off (`onReject: Rollback`) because connections to \
            the endpoint were rejected: names each source, who the rollback restores and who it cuts off.",
        RollbackRefused => "The canary did not turn private DNS off although `onReject` says `Rollback`: \
            it would cut off more clients (subnets without a route to the internet) than it restores; \
            once per distinct set of sources.",
        Failed => "The rollout cannot go on (the `Ready` condition says why), once per distinct failure.",
        Retrying => "A throttled or transient EC2 failure, once per distinct failure; the controller \
            retries with backoff.",
        EndpointAdopted => "CreateTags made an endpoint that existed already this object's \
            (`spec.adopt`, or found by its owner tag after a restore), or this cluster's.",
        RulesAdopted => "CreateTags made the rules an earlier object of the same name added this \
            object's.",
        WouldChange => "Observing only (`--observe-only` or `spec.observeOnly`): the AWS calls the \
            controller would make now and does not, each time they differ from the last ones reported.",
        Forbidden => "No EndpointGrant admits the object (the `Granted` condition says why), once per \
            distinct refusal; the controller makes no AWS call for it.",
        Granted => "An EndpointGrant admits the object, on its first pass or after it was not admitted \
            (names the grant and the account).",
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
    /// Where in `events` the actions' Events are (one per action, as planned). The engine
    /// replaces them with one per AWS call it made, each with the call's request id, account
    /// and region ([`events::for_call`]): the audit trail.
    pub action_events: std::ops::Range<usize>,
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
    /// considered deleted out of band (EC2 is eventually consistent: AWS's guidance is to keep
    /// looking, backing off, for up to about five minutes; giving up sooner would create a
    /// second endpoint).
    pub visibility_window: Duration,
    /// The TTL of the service's private DNS records (AWS service names use 60 s): once private
    /// DNS is off, clients may still resolve the name to the endpoint for this long, so rules
    /// they need are revoked, and paths narrowed, only after it ([`resolution`]).
    pub private_dns_ttl: Duration,
    /// How long an endpoint may wait for the service's owner to accept it (from its creation)
    /// before the rollout is reported Failed (`--acceptance-timeout`): a wait on another team
    /// or company that nobody watches is a failure someone must hear about.
    pub acceptance_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            after_change: Duration::from_secs(2),
            pending_min: Duration::from_secs(5),
            pending_max: Duration::from_secs(60),
            waiting: Duration::from_secs(60),
            resync: Duration::from_secs(300),
            visibility_window: Duration::from_secs(300),
            private_dns_ttl: Duration::from_secs(60),
            acceptance_timeout: Duration::from_secs(24 * 3600),
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

/// Decides the next step for one object. Pure: same input, same decision.
pub fn decide(input: &PlanInput<'_>, timing: &Timing) -> Decision {
    let step = if input.deleting {
        deletion::decide(input, timing)
    } else {
        rollout(input, timing)
    };
    observe_only::withhold(input, status::finish(input, step), timing)
}

fn rollout<'a>(input: &PlanInput<'a>, timing: &Timing) -> Step<'a> {
    // First: the analysis is of the spec over the world where the endpoint is, which is not
    // the one the spec names if it moved.
    if let Some(problem) = location::moved(input) {
        return validate::invalid_spec(input, &problem, timing);
    }
    // Then the spec by itself, before what it says about the world.
    if let Some(problem) = validate::spec_problem(input) {
        return validate::invalid_spec(input, &problem, timing);
    }
    let analysis = match input.analysis {
        Ok(analysis) => analysis,
        Err(error) => return validate::invalid_spec(input, &error.to_string(), timing),
    };
    // The world the engine observed asked for the service in its region: not listed there is
    // not offered to this region.
    if let Some(problem) = crate::analysis::service_region_problem(input.spec, input.world) {
        return validate::invalid_spec(input, &problem, timing);
    }
    // An endpoint that exists already, not yet (or not only) this object's: taken over, or
    // left alone.
    let step = match adoption::decide(input, analysis, timing) {
        Some(step) => step,
        None => tags::applied(
            input,
            adoption::claim(input, endpoint::decide(input, analysis, timing)),
        ),
    };
    rollback::decided(input, cut_off::reported(input, step), timing)
}

/// A step as the submodules decide it; [`status::finish`] turns it into a [`Decision`] (status
/// views, the conditions left unset, transition Events).
#[derive(Debug)]
pub(crate) struct Step<'a> {
    pub phase: RolloutPhase,
    pub actions: Vec<Action>,
    pub requeue: Duration,
    /// Events that are not action results nor phase transitions (e.g. an out-of-band change).
    pub events: Vec<EventNote>,
    /// Conditions set by the step; the others are derived from what was observed.
    pub conditions: Conditions,
    pub finalized: bool,
    /// The object's endpoint as observed just now.
    pub endpoint: Option<&'a VpcEndpoint>,
    /// Keep the endpoint id and state of the previous status (an endpoint EC2 does not list yet).
    pub keep_previous_endpoint: bool,
    /// The analysis whose clients the status reports.
    pub analysis: Option<&'a Analysis>,
    /// The analysis whose plan the status reports, when not `analysis` (a held spec change).
    pub plan_analysis: Option<&'a Analysis>,
    /// The clients were verified against an available endpoint.
    pub verified: bool,
    pub endpoint_create_time: Option<String>,
    /// Since when a CreateVpcEndpoint may have made an endpoint whose id is not known (its
    /// answer or its pass's status was lost); kept until an endpoint is seen.
    pub endpoint_create_unanswered_time: Option<String>,
    pub endpoint_recreations: u32,
    /// Where the endpoint was created; `None` until then (an observed endpoint is recorded as
    /// it is found).
    pub location: Option<location::EndpointLocation>,
    /// When private DNS was last turned on again after someone turned it off by hand.
    pub private_dns_reenabled_time: Option<String>,
    /// The canary's rollback this step keeps ([`rollback::kept`] says until when).
    pub rollback: Option<crate::api::RollbackStatus>,
}

impl<'a> Step<'a> {
    /// A step in `phase` that carries over the creation bookkeeping of the previous status.
    pub(crate) fn new(input: &PlanInput<'a>, phase: RolloutPhase, requeue: Duration) -> Self {
        Self {
            phase,
            actions: Vec::new(),
            requeue,
            events: Vec::new(),
            conditions: Conditions::default(),
            finalized: false,
            endpoint: None,
            keep_previous_endpoint: false,
            analysis: None,
            plan_analysis: None,
            verified: false,
            endpoint_create_time: input.status.endpoint_create_time.clone(),
            endpoint_create_unanswered_time: input.status.endpoint_create_unanswered_time.clone(),
            endpoint_recreations: input.status.endpoint_recreations,
            location: location::EndpointLocation::recorded(input.status),
            private_dns_reenabled_time: input.status.private_dns_reenabled_time.clone(),
            rollback: input.status.rollback.clone(),
        }
    }
}

/// Ready=False: the rollout is not where the spec asks, and `message` says why.
pub(crate) fn not_ready(reason: ConditionReason, message: impl Into<String>) -> ConditionUpdate {
    ConditionUpdate::new(ConditionType::Ready, false, reason, message)
}

/// The five conditions; `None` means "derive from what was observed" (see [`status`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Conditions {
    pub endpoint: Option<ConditionUpdate>,
    pub clients: Option<ConditionUpdate>,
    pub approval: Option<ConditionUpdate>,
    pub dns: Option<ConditionUpdate>,
    pub ready: Option<ConditionUpdate>,
}
