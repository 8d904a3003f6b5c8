//! What a failed EC2 call means for the status: pure, from the previous status and the
//! classified error ([`ErrorKind`]).
//!
//! Failures that clear by themselves (throttling, eventual consistency, 5xx) keep the phase and
//! let the caller back off. Failures that need a person (IAM, an invalid request, a quota or a
//! DNS precondition) fail the rollout with a reason that says which, and wait. Either way the
//! Warning Event is recorded once, not on every retry.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::{EventNote, EventReason, FailureReport, Timing, not_ready};
use crate::api::conditions::{
    ConditionReason, ConditionType, ConditionUpdate, find_condition, set_condition,
};
use crate::api::{InterfaceEndpointStatus, RolloutPhase};
use crate::aws::{Ec2Error, Ec2Operation, ErrorKind};

/// Reports `error`, which stopped a reconcile (while observing, or in an action), against the
/// last written status.
pub fn report_failure(
    previous: &InterfaceEndpointStatus,
    generation: Option<i64>,
    error: &Ec2Error,
    now: Timestamp,
    timing: &Timing,
) -> FailureReport {
    let mut status = previous.clone();
    let op = error.operation;
    let what = format!("{op} failed ({}): {}", error.code, error.message);

    let (phase, reason, message, requeue): (RolloutPhase, ConditionReason, String, Option<Duration>) =
        match error.kind {
            ErrorKind::Throttled => (
                previous.phase,
                ConditionReason::Throttled,
                format!("EC2 throttled {op} ({}); retrying with backoff", error.code),
                None,
            ),
            ErrorKind::WaitingForApiBudget => (
                previous.phase,
                ConditionReason::WaitingForApiBudget,
                format!("Waiting for EC2 API budget: {}", error.message),
                Some(error.retry_after.unwrap_or(timing.after_change)),
            ),
            ErrorKind::Transient | ErrorKind::NotYetVisible | ErrorKind::NotFound | ErrorKind::Duplicate => (
                previous.phase,
                ConditionReason::TransientError,
                format!("{what}; retrying with backoff"),
                None,
            ),
            ErrorKind::IdempotencyMismatch if op == Ec2Operation::CreateVpcEndpoint => {
                // The token was used before with other parameters (the spec changed between a
                // create and its retry). The endpoint it created carries our tags: look for it
                // for a while; if it does not show up, the next create uses a new token.
                status.endpoint_create_time = Some(now.to_string());
                (
                    RolloutPhase::Creating,
                    ConditionReason::InProgress,
                    format!(
                        "CreateVpcEndpoint: the ClientToken was used before with other parameters; \
                         looking for that endpoint by its tags ({})",
                        error.message
                    ),
                    Some(timing.after_change),
                )
            }
            ErrorKind::AccessDenied => (
                RolloutPhase::Failed,
                ConditionReason::AccessDenied,
                format!(
                    "EC2 denied ec2:{op} ({}): {}. Allow ec2:{op} in the controller's IAM policy \
                     (see docs/iam-policy.json)",
                    error.code, error.message
                ),
                Some(timing.waiting),
            ),
            ErrorKind::Invalid | ErrorKind::IdempotencyMismatch => (
                RolloutPhase::Failed,
                ConditionReason::InvalidRequest,
                format!("EC2 rejected {what}"),
                Some(timing.waiting),
            ),
            ErrorKind::Precondition => {
                let reason = precondition_reason(error);
                (
                    RolloutPhase::Failed,
                    reason,
                    format!("EC2 refused {what}"),
                    Some(timing.waiting),
                )
            }
        };

    let event = if error.kind.is_retryable() || phase != RolloutPhase::Failed {
        EventReason::Retrying
    } else {
        EventReason::Failed
    };
    let failure = Failure {
        phase,
        reason,
        message,
        requeue,
    };
    let mut report = report(previous, status, generation, now, failure, event);
    if error.kind == ErrorKind::WaitingForApiBudget {
        // An expected wait, told by the status (its place in line changes from pass to pass):
        // no Event.
        report.events.clear();
    }
    report
}

/// Reports that no EC2 client could be set up for the object (no region configured, a bad
/// endpoint URL): nothing was called, so nothing changed; the rollout waits for the controller's
/// configuration or `spec.region` to be fixed.
pub fn report_configuration_failure(
    previous: &InterfaceEndpointStatus,
    generation: Option<i64>,
    problem: &str,
    now: Timestamp,
    timing: &Timing,
) -> FailureReport {
    let failure = Failure {
        phase: RolloutPhase::Failed,
        reason: ConditionReason::AwsConfiguration,
        message: format!("Cannot set up the EC2 client: {problem}"),
        requeue: Some(timing.waiting),
    };
    report(
        previous,
        previous.clone(),
        generation,
        now,
        failure,
        EventReason::Failed,
    )
}

/// Reports that STS refused or failed AssumeRole of the grant's role (`problem` says which role
/// and what STS answered): no other call was made, nothing changed; the rollout waits for the
/// role's trust policy (or the grant) to be fixed.
pub fn report_assume_role_failure(
    previous: &InterfaceEndpointStatus,
    generation: Option<i64>,
    problem: &str,
    now: Timestamp,
    timing: &Timing,
) -> FailureReport {
    let failure = Failure {
        phase: RolloutPhase::Failed,
        reason: ConditionReason::AssumeRoleFailed,
        message: format!(
            "{problem}. The role's trust policy must let the controller's identity call \
             sts:AssumeRole and sts:TagSession (with the grant's externalId, if any): docs/iam.md"
        ),
        requeue: Some(timing.waiting),
    };
    report(
        previous,
        previous.clone(),
        generation,
        now,
        failure,
        EventReason::Failed,
    )
}

/// How a failure is reported: the phase, Ready's reason and message, when to look again.
pub(crate) struct Failure {
    pub phase: RolloutPhase,
    pub reason: ConditionReason,
    pub message: String,
    pub requeue: Option<Duration>,
}

/// `status` (the last written one, with what the failure itself changed) in the failure's
/// phase, with Ready=False saying why, all five conditions set, and a Warning Event unless the
/// previous status already reported this very failure (recorded once, not on every retry).
pub(crate) fn report(
    previous: &InterfaceEndpointStatus,
    mut status: InterfaceEndpointStatus,
    generation: Option<i64>,
    now: Timestamp,
    failure: Failure,
    event: EventReason,
) -> FailureReport {
    let Failure {
        phase,
        reason,
        message,
        requeue,
    } = failure;
    status.observed_generation = generation;
    status.phase = phase;
    let unchanged = previous.phase == phase
        && find_condition(&previous.conditions, ConditionType::Ready)
            .is_some_and(|c| c.reason == reason.as_str() && c.message == message);
    let ready = not_ready(reason, message.clone());
    set_condition(&mut status.conditions, &ready, generation, now);
    if matches!(
        reason,
        ConditionReason::VpcDnsSupportDisabled
            | ConditionReason::VpcDnsHostnamesDisabled
            | ConditionReason::ConflictingPrivateDns
            | ConditionReason::NoPrivateDnsName
            | ConditionReason::NoGatewayEndpoint
    ) {
        let dns = ConditionUpdate::new(ConditionType::PrivateDnsEnabled, false, reason, message.clone());
        set_condition(&mut status.conditions, &dns, generation, now);
    }
    fill_missing_conditions(&mut status, generation, now);
    let events = if unchanged {
        Vec::new()
    } else {
        vec![EventNote {
            reason: event,
            warning: true,
            message,
        }]
    };
    FailureReport {
        status,
        events,
        requeue,
    }
}

/// Which precondition EC2 named. EC2 reports private-DNS preconditions as generic
/// InvalidParameter errors; the message is the only place the cause is named.
fn precondition_reason(error: &Ec2Error) -> ConditionReason {
    let message = error.message.to_ascii_lowercase();
    if error.code == "PrivateDnsNameConflict" || message.contains("conflicting") {
        ConditionReason::ConflictingPrivateDns
    } else if message.contains("enablednssupport") {
        ConditionReason::VpcDnsSupportDisabled
    } else if message.contains("enablednshostnames") {
        ConditionReason::VpcDnsHostnamesDisabled
    } else if message.contains("gateway endpoint") {
        ConditionReason::NoGatewayEndpoint
    } else if message.contains("no private dns name") || message.contains("does not support") {
        ConditionReason::NoPrivateDnsName
    } else {
        ConditionReason::PreconditionFailed
    }
}

/// A failure before any status was written still reports all five conditions.
fn fill_missing_conditions(status: &mut InterfaceEndpointStatus, generation: Option<i64>, now: Timestamp) {
    let defaults = [
        (
            ConditionType::EndpointAvailable,
            ConditionReason::EndpointNotCreated,
            "Not observed yet",
        ),
        (
            ConditionType::ClientsReachable,
            ConditionReason::NotVerified,
            "Not verified yet",
        ),
        (
            ConditionType::PlanApproved,
            ConditionReason::NotVerified,
            "No plan yet",
        ),
        (
            ConditionType::PrivateDnsEnabled,
            ConditionReason::WaitingForClients,
            "Private DNS stays off until every client can reach the endpoint",
        ),
    ];
    for (t, reason, message) in defaults {
        if find_condition(&status.conditions, t).is_none() {
            let update = ConditionUpdate::new(t, false, reason, message);
            set_condition(&mut status.conditions, &update, generation, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::*;

    fn error(kind: ErrorKind, op: Ec2Operation, code: &str, message: &str) -> Ec2Error {
        Ec2Error::new(kind, op, code, message)
    }

    fn ready_status() -> InterfaceEndpointStatus {
        let mut s = created_status(now_minus(3600));
        s.phase = RolloutPhase::Ready;
        s
    }

    #[test]
    fn a_missing_region_fails_the_rollout_once_and_waits() {
        let r = report_configuration_failure(
            &InterfaceEndpointStatus::default(),
            Some(1),
            "no region",
            now(),
            &timing(),
        );
        assert_eq!(r.status.phase, RolloutPhase::Failed);
        assert_eq!(r.requeue, Some(timing().waiting));
        let ready = condition(&r.status, ConditionType::Ready);
        assert_eq!(ready.reason, "AwsConfiguration");
        assert!(ready.message.contains("no region"), "{}", ready.message);
        assert_eq!(r.status.conditions.len(), 5);
        assert_eq!(r.events.len(), 1);
        let again = report_configuration_failure(&r.status, Some(1), "no region", now(), &timing());
        assert!(again.events.is_empty(), "recorded once, not on every retry");
    }

    #[test]
    fn throttling_keeps_the_phase_and_lets_the_caller_back_off() {
        let e = error(
            ErrorKind::Throttled,
            Ec2Operation::DescribeNetworkInterfaces,
            "RequestLimitExceeded",
            "Request limit exceeded.",
        );
        let r = report_failure(&ready_status(), Some(2), &e, now(), &timing());
        assert_eq!(r.status.phase, RolloutPhase::Ready);
        assert_eq!(r.requeue, None);
        let ready = condition(&r.status, ConditionType::Ready);
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "Throttled")
        );
        assert_eq!(r.status.conditions.len(), 5);
        assert_eq!(r.events.len(), 1);
        assert!(r.events[0].warning);
        assert_eq!(r.events[0].reason, EventReason::Retrying);

        let again = report_failure(&r.status, Some(2), &e, now(), &timing());
        assert!(
            again.events.is_empty(),
            "deduplicated against the previous status"
        );
    }

    #[test]
    fn transient_and_eventual_consistency_errors_keep_the_phase() {
        for kind in [ErrorKind::Transient, ErrorKind::NotYetVisible] {
            let e = error(kind, Ec2Operation::DescribeVpcEndpoints, "InternalError", "oops");
            let r = report_failure(&ready_status(), Some(1), &e, now(), &timing());
            assert_eq!(r.status.phase, RolloutPhase::Ready, "{kind:?}");
            assert_eq!(r.requeue, None);
            assert_eq!(
                condition(&r.status, ConditionType::Ready).reason,
                "TransientError"
            );
        }
    }

    #[test]
    fn access_denied_fails_and_names_the_iam_action() {
        let e = error(
            ErrorKind::AccessDenied,
            Ec2Operation::AuthorizeSecurityGroupIngress,
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        );
        let r = report_failure(&ready_status(), Some(1), &e, now(), &timing());
        assert_eq!(r.status.phase, RolloutPhase::Failed);
        let ready = condition(&r.status, ConditionType::Ready);
        assert_eq!(ready.reason, "AccessDenied");
        assert!(
            ready.message.contains("ec2:AuthorizeSecurityGroupIngress"),
            "{}",
            ready.message
        );
        assert_eq!(r.requeue, Some(timing().waiting));
        assert_eq!(r.events[0].reason, EventReason::Failed);
    }

    #[test]
    fn an_invalid_request_fails_with_invalid_request() {
        let e = error(
            ErrorKind::Invalid,
            Ec2Operation::CreateVpcEndpoint,
            "InvalidParameter",
            "subnet-1 is not in vpc-2",
        );
        let r = report_failure(&Default::default(), Some(1), &e, now(), &timing());
        assert_eq!(r.status.phase, RolloutPhase::Failed);
        let ready = condition(&r.status, ConditionType::Ready);
        assert_eq!(ready.reason, "InvalidRequest");
        assert!(ready.message.contains("subnet-1 is not in vpc-2"));
        assert_eq!(r.status.conditions.len(), 5, "all five even on a first failure");
    }

    #[test]
    fn preconditions_get_the_matching_reason() {
        for (code, message, reason) in [
            (
                "InvalidParameter",
                "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to true",
                "VpcDnsSupportDisabled",
            ),
            (
                "InvalidParameter",
                "private-dns-enabled cannot be set because there is already a conflicting DNS domain",
                "ConflictingPrivateDns",
            ),
            (
                "RulesPerSecurityGroupLimitExceeded",
                "The maximum number of rules per security group has been reached.",
                "PreconditionFailed",
            ),
            (
                "VpcEndpointLimitExceeded",
                "The maximum number of VPC endpoints has been reached.",
                "PreconditionFailed",
            ),
        ] {
            let e = error(
                ErrorKind::Precondition,
                Ec2Operation::ModifyVpcEndpoint,
                code,
                message,
            );
            let r = report_failure(&ready_status(), Some(1), &e, now(), &timing());
            assert_eq!(r.status.phase, RolloutPhase::Failed);
            assert_eq!(
                condition(&r.status, ConditionType::Ready).reason,
                reason,
                "{code}"
            );
            assert!(condition(&r.status, ConditionType::Ready).message.contains(code));
        }
    }

    #[test]
    fn an_idempotency_mismatch_on_create_looks_for_the_endpoint_by_tag() {
        let e = error(
            ErrorKind::IdempotencyMismatch,
            Ec2Operation::CreateVpcEndpoint,
            "IdempotentParameterMismatch",
            "token reused",
        );
        let r = report_failure(&Default::default(), Some(1), &e, now(), &timing());
        assert_eq!(r.status.phase, RolloutPhase::Creating);
        assert_eq!(
            r.status.endpoint_create_time.as_deref(),
            Some(now().to_string().as_str())
        );
        assert_eq!(r.requeue, Some(timing().after_change));
    }
}
