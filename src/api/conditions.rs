//! Typed conditions: a fixed set of types and reasons, and one way to set them.
//!
//! `lastTransitionTime` changes only when a condition's status changes, as Kubernetes API
//! conventions ask; reason, message and observedGeneration follow every update.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// The condition types the controller reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConditionType {
    /// An EndpointGrant admits the object (`status.grant` names it); False: the controller makes
    /// no AWS call for the object.
    Granted,
    /// The endpoint exists and is `available`.
    EndpointAvailable,
    /// Every discovered client can reach every endpoint ENI on tcp/443.
    ClientsReachable,
    /// The remediation plan needs no approval, or `spec.approval.planId` approves it.
    PlanApproved,
    /// Private DNS is enabled on the endpoint.
    PrivateDnsEnabled,
    /// The endpoint is as the spec asks and no client is cut off.
    Ready,
}

impl ConditionType {
    /// Every type, in the order status lists them.
    pub const ALL: [ConditionType; 6] = [
        Self::Granted,
        Self::EndpointAvailable,
        Self::ClientsReachable,
        Self::PlanApproved,
        Self::PrivateDnsEnabled,
        Self::Ready,
    ];

    /// The types every rollout decision sets ([`crate::plan`]); `Granted` is the tenancy's
    /// ([`crate::grants`]), set on every pass before the rollout is decided.
    pub const ROLLOUT: [ConditionType; 5] = [
        Self::EndpointAvailable,
        Self::ClientsReachable,
        Self::PlanApproved,
        Self::PrivateDnsEnabled,
        Self::Ready,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "Granted",
            Self::EndpointAvailable => "EndpointAvailable",
            Self::ClientsReachable => "ClientsReachable",
            Self::PlanApproved => "PlanApproved",
            Self::PrivateDnsEnabled => "PrivateDnsEnabled",
            Self::Ready => "Ready",
        }
    }
}

/// Every reason the controller puts on a condition. A closed set, so that alerts and metrics can
/// rely on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConditionReason {
    // Granted
    /// An EndpointGrant admits the object.
    Granted,
    /// No EndpointGrant covers the object's namespace.
    NoGrant,
    /// Grants cover the namespace, and none admits everything the object names.
    OutsideGrant,
    // EndpointAvailable
    /// No endpoint yet.
    EndpointNotCreated,
    /// CreateVpcEndpoint was called; waiting to see the endpoint.
    EndpointCreating,
    /// The endpoint is `pending` (or another transitional state).
    EndpointPending,
    /// The endpoint is `available`.
    EndpointAvailable,
    /// The endpoint is `failed`, `expired` or `deleted`.
    EndpointFailed,
    /// The endpoint is `pendingAcceptance`: the service's owner has not accepted it yet.
    EndpointPendingAcceptance,
    /// The endpoint waited for acceptance longer than `--acceptance-timeout`.
    AcceptanceTimedOut,
    /// The service's owner rejected the endpoint (`rejected`).
    EndpointRejected,
    /// The endpoint recorded in status no longer exists.
    EndpointMissing,
    // ClientsReachable
    /// Not verified yet (the endpoint is not available).
    NotVerified,
    /// Every client can reach the endpoint.
    AllClientsReachable,
    /// No ENI in the VPC is a client.
    NoClients,
    /// Some clients are blocked.
    ClientsBlocked,
    // PlanApproved
    /// No rule needs approval.
    ApprovalNotRequired,
    /// The plan waits for `spec.approval.planId`.
    AwaitingApproval,
    /// `spec.approval.planId` names an older plan.
    StalePlanId,
    /// `spec.approval.planId` names no plan this object reported (a typo, another object's id).
    UnknownPlanId,
    /// `spec.approval.planId` equals `status.plan.id`.
    PlanApproved,
    // PrivateDnsEnabled
    /// Private DNS is on.
    PrivateDnsOn,
    /// `spec.privateDns.enabled` is false.
    PrivateDnsNotRequested,
    /// Private DNS stays off while clients are blocked.
    WaitingForClients,
    /// Private DNS was enabled although clients are blocked (`spec.privateDns.force`).
    ForcedWithBlockedClients,
    /// Private DNS was turned off outside the controller.
    PrivateDnsDisabledOutOfBand,
    /// ModifyVpcEndpoint was called; waiting for the endpoint to report it.
    PrivateDnsEnabling,
    /// The VPC's `enableDnsSupport` is off.
    VpcDnsSupportDisabled,
    /// The VPC's `enableDnsHostnames` is off.
    VpcDnsHostnamesDisabled,
    /// Another endpoint of the same service in the VPC already has private DNS.
    ConflictingPrivateDns,
    /// The service offers no private DNS name.
    NoPrivateDnsName,
    // Ready, and errors on any condition
    /// Everything is as the spec asks.
    RolloutComplete,
    /// Work in progress; the phase says which.
    InProgress,
    /// The spec is invalid for the AWS world (unknown VPC, subnet in another VPC, ...).
    InvalidSpec,
    /// AWS refused the call for lack of permission.
    AccessDenied,
    /// AWS rejected the request as invalid.
    InvalidRequest,
    /// An AWS precondition or quota stops the rollout.
    PreconditionFailed,
    /// AWS throttled the controller; it backs off.
    Throttled,
    /// A transient AWS failure; the controller retries.
    TransientError,
    /// No EC2 client could be set up for the object (no region, bad endpoint URL).
    AwsConfiguration,
    /// STS AssumeRole of the grant's role failed: no other call was made.
    AssumeRoleFailed,
    /// The object is being deleted.
    Deleting,
}

impl ConditionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "Granted",
            Self::NoGrant => "NoGrant",
            Self::OutsideGrant => "OutsideGrant",
            Self::EndpointNotCreated => "EndpointNotCreated",
            Self::EndpointCreating => "EndpointCreating",
            Self::EndpointPending => "EndpointPending",
            Self::EndpointAvailable => "EndpointAvailable",
            Self::EndpointFailed => "EndpointFailed",
            Self::EndpointPendingAcceptance => "EndpointPendingAcceptance",
            Self::AcceptanceTimedOut => "AcceptanceTimedOut",
            Self::EndpointRejected => "EndpointRejected",
            Self::EndpointMissing => "EndpointMissing",
            Self::NotVerified => "NotVerified",
            Self::AllClientsReachable => "AllClientsReachable",
            Self::NoClients => "NoClients",
            Self::ClientsBlocked => "ClientsBlocked",
            Self::ApprovalNotRequired => "ApprovalNotRequired",
            Self::AwaitingApproval => "AwaitingApproval",
            Self::StalePlanId => "StalePlanId",
            Self::UnknownPlanId => "UnknownPlanId",
            Self::PlanApproved => "PlanApproved",
            Self::PrivateDnsOn => "PrivateDnsOn",
            Self::PrivateDnsNotRequested => "PrivateDnsNotRequested",
            Self::WaitingForClients => "WaitingForClients",
            Self::ForcedWithBlockedClients => "ForcedWithBlockedClients",
            Self::PrivateDnsDisabledOutOfBand => "PrivateDnsDisabledOutOfBand",
            Self::PrivateDnsEnabling => "PrivateDnsEnabling",
            Self::VpcDnsSupportDisabled => "VpcDnsSupportDisabled",
            Self::VpcDnsHostnamesDisabled => "VpcDnsHostnamesDisabled",
            Self::ConflictingPrivateDns => "ConflictingPrivateDns",
            Self::NoPrivateDnsName => "NoPrivateDnsName",
            Self::RolloutComplete => "RolloutComplete",
            Self::InProgress => "InProgress",
            Self::InvalidSpec => "InvalidSpec",
            Self::AccessDenied => "AccessDenied",
            Self::InvalidRequest => "InvalidRequest",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::Throttled => "Throttled",
            Self::TransientError => "TransientError",
            Self::AwsConfiguration => "AwsConfiguration",
            Self::AssumeRoleFailed => "AssumeRoleFailed",
            Self::Deleting => "Deleting",
        }
    }
}

/// A condition's value before it is merged into status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionUpdate {
    pub type_: ConditionType,
    pub status: bool,
    pub reason: ConditionReason,
    pub message: String,
}

impl ConditionUpdate {
    pub fn new(
        type_: ConditionType,
        status: bool,
        reason: ConditionReason,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason,
            message: message.into(),
        }
    }
}

/// Sets `update` in `conditions`, keeping `lastTransitionTime` when the status is unchanged,
/// and keeps the list in [`ConditionType::ALL`] order with foreign types after.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    update: &ConditionUpdate,
    generation: Option<i64>,
    now: Timestamp,
) {
    let status = if update.status { "True" } else { "False" };
    let message = if update.message.is_empty() {
        update.reason.as_str().to_string()
    } else {
        update.message.clone()
    };
    match conditions.iter_mut().find(|c| c.type_ == update.type_.as_str()) {
        Some(existing) => {
            if existing.status != status {
                existing.last_transition_time = Time(now);
            }
            existing.status = status.to_string();
            existing.reason = update.reason.as_str().to_string();
            existing.message = message;
            existing.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: update.type_.as_str().to_string(),
            status: status.to_string(),
            reason: update.reason.as_str().to_string(),
            message,
            observed_generation: generation,
            last_transition_time: Time(now),
        }),
    }
    let rank = |c: &Condition| {
        ConditionType::ALL
            .iter()
            .position(|t| t.as_str() == c.type_)
            .unwrap_or(ConditionType::ALL.len())
    };
    conditions.sort_by_key(rank);
}

/// The condition of `type_`, if set.
pub fn find_condition(conditions: &[Condition], type_: ConditionType) -> Option<&Condition> {
    conditions.iter().find(|c| c.type_ == type_.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let mut conditions = Vec::new();
        let blocked = ConditionUpdate::new(
            ConditionType::ClientsReachable,
            false,
            ConditionReason::ClientsBlocked,
            "1 client blocked",
        );
        set_condition(&mut conditions, &blocked, Some(1), at(100));
        let still_blocked = ConditionUpdate {
            message: "2 clients blocked".into(),
            ..blocked.clone()
        };
        set_condition(&mut conditions, &still_blocked, Some(2), at(200));
        let c = find_condition(&conditions, ConditionType::ClientsReachable).unwrap();
        assert_eq!(c.last_transition_time, Time(at(100)));
        assert_eq!(c.message, "2 clients blocked");
        assert_eq!(c.observed_generation, Some(2));

        let reachable = ConditionUpdate::new(
            ConditionType::ClientsReachable,
            true,
            ConditionReason::AllClientsReachable,
            "",
        );
        set_condition(&mut conditions, &reachable, Some(2), at(300));
        let c = find_condition(&conditions, ConditionType::ClientsReachable).unwrap();
        assert_eq!(c.last_transition_time, Time(at(300)));
        assert_eq!(c.status, "True");
        assert_eq!(c.message, "AllClientsReachable", "message is never empty");
    }

    #[test]
    fn conditions_keep_a_stable_order() {
        let mut conditions = Vec::new();
        for t in [
            ConditionType::Ready,
            ConditionType::EndpointAvailable,
            ConditionType::PlanApproved,
        ] {
            set_condition(
                &mut conditions,
                &ConditionUpdate::new(t, true, ConditionReason::InProgress, "x"),
                None,
                at(1),
            );
        }
        let types: Vec<_> = conditions.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["EndpointAvailable", "PlanApproved", "Ready"]);
    }
}
