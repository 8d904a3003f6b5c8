//! Typed conditions: a fixed set of types and reasons, and one way to set them.
//!
//! `lastTransitionTime` changes only when a condition's status changes, as Kubernetes API
//! conventions ask; reason, message and observedGeneration follow every update.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use super::closed_set;

closed_set! {
    /// The condition types the controller reports, each meaning what holds when it is True.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum ConditionType {
        Granted => "An EndpointGrant admits the object (`status.grant` names it); while it is False the \
            controller makes no AWS call for the object.",
        EndpointAvailable => "The endpoint exists and is `available`.",
        ClientsReachable => "Every discovered client can reach every network interface of the endpoint \
            on every port of `spec.ports` (tcp/443 unless the spec says otherwise).",
        PlanApproved => "Nothing waits for approval: no rule needs it, or `spec.approval.planId` approves \
            the plan.",
        PrivateDnsEnabled => "Private DNS is enabled on the endpoint.",
        Ready => "The endpoint is as the spec asks and no client is cut off.",
        EvidenceRead => "The Resolver query logs `spec.clients.evidence` names were read for the \
            lookback (`status.clients.evidence` says what they show); set only when the spec names \
            evidence.",
        Verified => "The flow logs `spec.verification` names show no connection to the endpoint \
            rejected now (`status.verification` says what was read); set once private DNS is on, \
            only when the spec names them.",
        ResolvesToEndpoint => "The service's private DNS name, resolved by the controller itself inside \
            the endpoint's VPC, answers with the endpoint's addresses only; set once private DNS is on, \
            only when the controller knows its own address (`--pod-ip`). Unknown when it does not run \
            in the endpoint's VPC or the lookup failed.",
    }
}

impl ConditionType {
    /// The types every rollout decision sets ([`crate::plan`]); `Granted` is the tenancy's
    /// ([`crate::grants`]), set on every pass before the rollout is decided.
    pub const ROLLOUT: [ConditionType; 5] = [
        Self::EndpointAvailable,
        Self::ClientsReachable,
        Self::PlanApproved,
        Self::PrivateDnsEnabled,
        Self::Ready,
    ];
}

closed_set! {
    /// Every reason the controller puts on a condition. A closed set, so that alerts and metrics
    /// can rely on it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum ConditionReason {
        // Granted
        Granted => "An EndpointGrant admits the object.",
        NoGrant => "No EndpointGrant covers the object's namespace.",
        OutsideGrant => "Grants cover the namespace, and none admits everything the object names (the \
            message names the refused field and value).",
        // EndpointAvailable
        EndpointNotCreated => "No endpoint yet (or none is created: the message says why).",
        EndpointCreating => "CreateVpcEndpoint was called; waiting for EC2 to list the endpoint.",
        EndpointPending => "The endpoint is `pending` (or another transitional state).",
        EndpointAvailable => "The endpoint is `available`.",
        EndpointFailed => "The endpoint is `failed` or `expired` and will not become available.",
        EndpointPendingAcceptance => "The endpoint is `pendingAcceptance`: the service's owner has not \
            accepted it yet.",
        AcceptanceTimedOut => "The endpoint waited for acceptance longer than `--acceptance-timeout`.",
        EndpointRejected => "The service's owner rejected the endpoint (`rejected`).",
        AdoptionRefused => "An endpoint that exists already cannot be taken over (not in the VPC, \
            another service, another object's, a state it never leaves, ...: the message says which); \
            nothing is changed or created.",
        ManagedByAnotherCluster => "The endpoint carries another cluster's tag \
            (`vpce-rollout.dev/cluster`): this controller never changes or deletes it.",
        EndpointMissing => "The endpoint the status names was deleted, or is being deleted, outside the \
            controller; a new one is created once it is gone.",
        // ClientsReachable
        NotVerified => "Not verified yet (the endpoint is not available).",
        AllClientsReachable => "Every client can reach the endpoint.",
        NoClients => "No network interface in the VPC is a client.",
        ClientsBlocked => "Some clients are blocked (on `Ready`: they are cut off, or private DNS was \
            forced on with them).",
        // PlanApproved
        ApprovalNotRequired => "No rule needs approval.",
        AwaitingApproval => "The plan waits for `spec.approval.planId`.",
        StalePlanId => "`spec.approval.planId` names an earlier plan of this object.",
        UnknownPlanId => "`spec.approval.planId` names no plan this object reported (a typo, another \
            object's id).",
        PlanApproved => "`spec.approval.planId` equals `status.plan.id`.",
        // EvidenceRead
        EvidenceRead => "The Resolver query logs were read: every client is reported with or without \
            queries of the service's name in the lookback.",
        EvidenceIncomplete => "The Resolver query logs were read by a scan that stopped at its bound \
            (Logs Insights is not served): clients shown with evidence have it, others may have it too; \
            under `scope: Evidence` every client is checked.",
        EvidenceUnreadable => "The Resolver query logs could not be read (the message says why: the log \
            group, IAM, CloudWatch Logs); the analysis falls back to the configuration: every client is \
            checked.",
        // Verified
        NoRejectedTraffic => "The flow logs show no connection to the endpoint rejected in the read \
            window.",
        RejectsResolved => "Connections to the endpoint were rejected in the read window, and every \
            rejected source reaches it now (a rule was added since).",
        RejectsRemediated => "Connections to the endpoint are rejected; this pass adds the rules the \
            remediation modes allow (the message names each source, its network interface and the \
            missing rule).",
        ClientsRejected => "Connections to the endpoint are rejected and nothing the controller may do \
            fixes it now (`onReject: Alert`, a mode that waits for approval or is `Off`, a source \
            it cannot add a rule for): the phase is Degraded; the message names each source, its \
            network interface and the missing rule.",
        RolledBack => "Connections to the endpoint are rejected and `onReject` says `Rollback`: private \
            DNS is turned off (or was, and stays off until the plan for the rejected sources is applied; \
            the message names each source, and the clients that lost their path because their subnets \
            have no route to the internet).",
        RollbackRefused => "Connections to the endpoint are rejected and `onReject` says `Rollback`, but \
            turning private DNS off would cut off more clients (subnets without a route to the internet, \
            named in the message) than it restores: it stays on (set `onReject.force: true` to roll back \
            anyway); the phase is Degraded.",
        FlowLogsUnreadable => "The flow logs could not be read (the message says why: the log group, \
            IAM, CloudWatch Logs); nothing is known of rejected traffic.",
        // ResolvesToEndpoint
        ResolvesToEndpoint => "The service's private DNS name resolves to the endpoint's addresses where \
            the controller runs, inside the endpoint's VPC.",
        ResolvesElsewhere => "The service's private DNS name resolves (also) to addresses that are not \
            the endpoint's where the controller runs, inside the endpoint's VPC: a private hosted zone \
            for the name, a DNS server of the VPC's DHCP options, or a cache; clients there do not \
            use the endpoint (the message names the answers).",
        DnsLookupFailed => "The controller could not resolve the service's private DNS name (the message \
            says why); nothing is known of what clients resolve.",
        NotInEndpointVpc => "The controller does not run inside the endpoint's VPC (its own address, \
            `--pod-ip`, is no network interface's there): what clients there resolve cannot be checked \
            from here.",
        // PrivateDnsEnabled
        PrivateDnsOn => "Private DNS is on.",
        PrivateDnsNotRequested => "`spec.privateDns.enabled` is false.",
        WaitingForClients => "Private DNS stays off while clients are blocked.",
        ForcedWithBlockedClients => "Private DNS is on although clients are blocked, because \
            `spec.privateDns.force` asks for it.",
        PrivateDnsDisabledOutOfBand => "Private DNS was turned off outside the controller and is being \
            turned on again, as `spec.privateDns.enabled` asks.",
        PrivateDnsEnabling => "ModifyVpcEndpoint was called; waiting for the endpoint to report private \
            DNS on.",
        VpcDnsSupportDisabled => "The VPC's `enableDnsSupport` is off.",
        VpcDnsHostnamesDisabled => "The VPC's `enableDnsHostnames` is off.",
        ConflictingPrivateDns => "Another endpoint of the service in the VPC already serves its private \
            DNS name.",
        NoPrivateDnsName => "The service offers no private DNS name.",
        NoGatewayEndpoint => "`spec.dnsOptions.privateDnsOnlyForInboundResolverEndpoint` is true and the \
            VPC has no gateway endpoint of the service, which EC2 requires (clients in the VPC are to \
            go through it).",
        // Ready, and failures on any condition
        RolloutComplete => "Everything is as the spec asks.",
        InProgress => "Work in progress; the phase says which.",
        InvalidSpec => "The spec cannot be acted on (a field the API server would refuse, an unknown \
            VPC, a subnet of another VPC, a moved VPC, service or region, ...).",
        AccessDenied => "EC2 refused a call for lack of permission; the message names the IAM action.",
        InvalidRequest => "EC2 rejected a request as invalid.",
        PreconditionFailed => "An EC2 precondition or quota stops the rollout.",
        Throttled => "EC2 throttled the controller; it backs off.",
        WaitingForApiBudget => "The next EC2 call waits for the controller's share of the account's EC2 API \
            budget (`--ec2-api-share`): the message names the call, its place in line and when it is \
            tried again. An expected wait, not a failure.",
        TransientError => "A transient EC2 failure; the controller retries with backoff.",
        AwsConfiguration => "No EC2 client could be set up for the object (no region, a bad endpoint URL).",
        AssumeRoleFailed => "STS AssumeRole of the grant's role failed: no other call was made.",
        Deleting => "The object is being deleted; the message says which step.",
    }
}

/// A condition's value before it is merged into status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionUpdate {
    pub type_: ConditionType,
    pub status: bool,
    pub reason: ConditionReason,
    pub message: String,
    /// Status `Unknown` (then `status` is ignored): the controller cannot tell.
    pub unknown: bool,
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
            unknown: false,
        }
    }

    /// A condition the controller cannot tell either way: status `Unknown`.
    pub fn unknown(type_: ConditionType, reason: ConditionReason, message: impl Into<String>) -> Self {
        Self {
            unknown: true,
            ..Self::new(type_, false, reason, message)
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
    let status = match (update.unknown, update.status) {
        (true, _) => "Unknown",
        (false, true) => "True",
        (false, false) => "False",
    };
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
