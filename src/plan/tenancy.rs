//! The tenancy's verdict in the status ([`crate::grants`] decides it): the `Granted` condition
//! and `status.grant` on every pass ([`record_verdict`]), and the whole report of an object no
//! grant admits ([`report_forbidden`]: phase Forbidden, Ready=False with the same reason, one
//! Warning Event, no AWS call).
//!
//! What the status recorded about the endpoint (its id, location, account) is kept as it was:
//! deletion cleans up there, grant or not.

use k8s_openapi::jiff::Timestamp;

use super::failure::{Failure, report};
use super::{EventNote, EventReason, FailureReport, Timing};
use crate::api::conditions::{ConditionType, ConditionUpdate, find_condition, set_condition};
use crate::api::{InterfaceEndpointStatus, RolloutPhase};

/// Sets the `Granted` condition and `status.grant` in the status a pass wrote; the Event of an
/// object admitted after it was not (or on its first pass).
pub fn record_verdict(
    status: &mut InterfaceEndpointStatus,
    previous: &InterfaceEndpointStatus,
    granted: &ConditionUpdate,
    grant: Option<&str>,
    generation: Option<i64>,
    now: Timestamp,
) -> Option<EventNote> {
    set_condition(&mut status.conditions, granted, generation, now);
    status.grant = grant.map(str::to_string);
    let was_granted =
        find_condition(&previous.conditions, ConditionType::Granted).is_some_and(|c| c.status == "True");
    (granted.status && !was_granted).then(|| EventNote {
        reason: EventReason::Granted,
        warning: false,
        message: granted.message.clone(),
    })
}

/// Where the object acts: the role assumed in another account (`None`: the controller's own
/// identity) and the external id it is assumed with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActingAs {
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
}

impl ActingAs {
    /// Where an object whose endpoint exists must act: where it was created, whatever the
    /// grants say now. `None` before the endpoint exists.
    pub fn recorded(status: &InterfaceEndpointStatus) -> Option<Self> {
        status.endpoint_vpc_id.as_ref()?;
        Some(Self {
            role_arn: status.endpoint_role_arn.clone(),
            external_id: status.endpoint_external_id.clone(),
        })
    }
}

/// Records, in the status a pass wrote, the account its endpoint lives in and the role that
/// reaches it. `acting` is where the pass acted (once recorded, always the recorded role:
/// [`ActingAs::recorded`]); `account` the account it acted in, when known: kept once recorded
/// (an endpoint recorded before accounts were gets the account of the pass, which acted where it
/// was created).
pub fn record_account(
    status: &mut InterfaceEndpointStatus,
    previous: &InterfaceEndpointStatus,
    acting: &ActingAs,
    account: Option<String>,
) {
    if status.endpoint_vpc_id.is_none() {
        return;
    }
    status.endpoint_role_arn = acting.role_arn.clone();
    status.endpoint_external_id = acting.external_id.clone();
    status.endpoint_account_id = previous.endpoint_account_id.clone().or(account);
}

/// The status of an object no grant admits: the last written one (what it recorded about the
/// endpoint stays), phase Forbidden, `Granted` and Ready False with the refusal's reason and
/// message, and a Warning Event when the refusal is new. `granted` is the verdict's condition.
pub fn report_forbidden(
    previous: &InterfaceEndpointStatus,
    generation: Option<i64>,
    granted: &ConditionUpdate,
    now: Timestamp,
    timing: &Timing,
) -> FailureReport {
    let mut status = previous.clone();
    record_verdict(&mut status, previous, granted, None, generation, now);
    let failure = Failure {
        phase: RolloutPhase::Forbidden,
        reason: granted.reason,
        message: granted.message.clone(),
        // A grant change requeues the objects it covers at once; this is the resync.
        requeue: Some(timing.resync),
    };
    report(previous, status, generation, now, failure, EventReason::Forbidden)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::conditions::ConditionReason;
    use crate::plan::fixtures::{condition, now, timing};

    fn refusal(message: &str) -> ConditionUpdate {
        ConditionUpdate::new(ConditionType::Granted, false, ConditionReason::NoGrant, message)
    }

    #[test]
    fn a_forbidden_object_keeps_what_it_recorded_and_warns_once() {
        let previous = InterfaceEndpointStatus {
            phase: RolloutPhase::Ready,
            endpoint_id: Some("vpce-0123456789abcdef0".into()),
            endpoint_vpc_id: Some("vpc-0a1b2c3d4e5f60718".into()),
            private_dns_enabled: true,
            grant: Some("team-a".into()),
            ..Default::default()
        };
        let report = report_forbidden(
            &previous,
            Some(2),
            &refusal("No EndpointGrant covers namespace team-a"),
            now(),
            &timing(),
        );
        let s = &report.status;
        assert_eq!(s.phase, RolloutPhase::Forbidden);
        assert_eq!(s.grant, None);
        assert_eq!(
            s.endpoint_id, previous.endpoint_id,
            "deletion still finds what it owns"
        );
        assert_eq!(s.endpoint_vpc_id, previous.endpoint_vpc_id);
        assert!(s.private_dns_enabled, "reported as last seen: nothing was called");
        for t in [ConditionType::Granted, ConditionType::Ready] {
            let c = condition(s, t);
            assert_eq!(
                (c.status.as_str(), c.reason.as_str()),
                ("False", "NoGrant"),
                "{t:?}"
            );
            assert_eq!(c.message, "No EndpointGrant covers namespace team-a");
        }
        assert_eq!(report.events.len(), 1);
        assert!(report.events[0].warning);
        assert_eq!(report.events[0].reason, EventReason::Forbidden);
        assert_eq!(report.requeue, Some(timing().resync));

        let again = report_forbidden(
            &report.status,
            Some(2),
            &refusal("No EndpointGrant covers namespace team-a"),
            now(),
            &timing(),
        );
        assert!(again.events.is_empty(), "the same refusal is not news");
        assert_eq!(again.status, report.status);
        let other = report_forbidden(
            &report.status,
            Some(3),
            &refusal("something else"),
            now(),
            &timing(),
        );
        assert_eq!(other.events.len(), 1, "a new refusal is");
    }

    #[test]
    fn the_account_is_recorded_with_the_endpoint_and_kept_whatever_the_grants_say_later() {
        let role = ActingAs {
            role_arn: Some("arn:aws:iam::111122223333:role/vpce-rollout".into()),
            external_id: Some("platform-7f3a".into()),
        };
        let before = InterfaceEndpointStatus::default();
        let mut created = InterfaceEndpointStatus {
            endpoint_vpc_id: Some("vpc-0a1b2c3d4e5f60718".into()),
            ..Default::default()
        };
        record_account(&mut created, &before, &role, Some("111122223333".into()));
        assert_eq!(created.endpoint_role_arn, role.role_arn);
        assert_eq!(created.endpoint_external_id, role.external_id);
        assert_eq!(created.endpoint_account_id.as_deref(), Some("111122223333"));
        assert_eq!(ActingAs::recorded(&created), Some(role.clone()));

        // A later pass acts through the recorded role and keeps the recorded account.
        let mut next = InterfaceEndpointStatus {
            endpoint_vpc_id: created.endpoint_vpc_id.clone(),
            ..Default::default()
        };
        let acting = ActingAs::recorded(&created).unwrap();
        record_account(&mut next, &created, &acting, Some("999999999999".into()));
        assert_eq!(ActingAs::recorded(&next), Some(role));
        assert_eq!(next.endpoint_account_id.as_deref(), Some("111122223333"));

        // No endpoint: nothing to record.
        let mut none = InterfaceEndpointStatus::default();
        record_account(
            &mut none,
            &before,
            &ActingAs::default(),
            Some("111122223333".into()),
        );
        assert_eq!(none, InterfaceEndpointStatus::default());
        assert_eq!(ActingAs::recorded(&none), None);
    }

    #[test]
    fn an_admission_is_recorded_with_an_event_when_it_is_new() {
        let admitted = ConditionUpdate::new(
            ConditionType::Granted,
            true,
            ConditionReason::Granted,
            "Admitted by EndpointGrant team-a",
        );
        let previous = InterfaceEndpointStatus::default();
        let mut status = previous.clone();
        let event =
            record_verdict(&mut status, &previous, &admitted, Some("team-a"), Some(1), now()).unwrap();
        assert_eq!((event.reason, event.warning), (EventReason::Granted, false));
        assert_eq!(status.grant.as_deref(), Some("team-a"));
        assert_eq!(condition(&status, ConditionType::Granted).status, "True");
        let mut next = status.clone();
        assert_eq!(
            record_verdict(&mut next, &status, &admitted, Some("team-a"), Some(1), now()),
            None
        );
    }
}
