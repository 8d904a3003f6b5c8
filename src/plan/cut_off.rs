//! Clients cut off while private DNS is on: whatever the stages decided to do about it, the
//! rollout is Degraded for as long as it lasts.
//!
//! Private DNS makes every client resolve the service to the endpoint, so a blocked client is
//! cut off *now*. A hand-made change can do that (the endpoint's security groups swapped, a
//! rule revoked, a new client): the stages repair what they may (put the spec's groups back,
//! re-add the rules), and the pass that repairs it still reports it, as phase Degraded and a
//! Degraded Warning Event, even if the repair takes a second. Only the clients as observed now
//! count (not those after a held change), and not when the spec forces private DNS on with
//! blocked clients: that is asked for, and reported as such.

use super::approval::Access;
use super::wording::blocked_sentence;
use super::{PlanInput, Step, not_ready};
use crate::api::RolloutPhase;
use crate::api::conditions::ConditionReason;

/// `step`, Degraded if clients are cut off now; the Ready message says so, then what the step
/// does about it.
pub(crate) fn reported<'a>(input: &PlanInput<'a>, mut step: Step<'a>) -> Step<'a> {
    let (Some(endpoint), Some(analysis)) = (step.endpoint, step.analysis) else {
        return step;
    };
    let forced = input.spec.private_dns.enabled && input.spec.private_dns.force;
    if step.phase == RolloutPhase::Degraded
        || forced
        || !endpoint.is_available()
        || !endpoint.private_dns_enabled
    {
        return step;
    }
    let access = Access::new(analysis, input.spec, input.status.plan.as_ref(), &input.approver);
    if access.blocked == 0 {
        return step;
    }
    let doing = step
        .conditions
        .ready
        .take()
        .map(|c| lower_first(&c.message))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "repairing it".to_string());
    step.phase = RolloutPhase::Degraded;
    step.conditions.ready = Some(not_ready(
        ConditionReason::ClientsBlocked,
        format!(
            "Private DNS is on and {}: they are cut off; {doing}",
            blocked_sentence(&access)
        ),
    ));
    step
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::conditions::ConditionType;
    use crate::api::{InterfaceEndpointSpec, PrivateDnsSpec};
    use crate::model::{SecurityGroupIdentifier, Snapshot};
    use crate::plan::fixtures::*;
    use crate::plan::{Action, EventReason, decide};

    /// A group that admits nobody.
    const SG_BY_HAND: &str = "sg-0ddddddddddddddd1";

    /// The serving endpoint after someone swapped its security group for SG_BY_HAND.
    fn swapped_by_hand() -> Snapshot {
        let mut world = with_endpoint(incident_world(), "available", true);
        world.vpc_endpoints[0].groups = vec![SecurityGroupIdentifier {
            group_id: SG_BY_HAND.into(),
            group_name: None,
        }];
        for eni in world
            .network_interfaces
            .iter_mut()
            .filter(|n| n.network_interface_id == ENI_VPCE)
        {
            eni.groups = vec![group(SG_BY_HAND)];
        }
        world
    }

    fn ready_status() -> crate::api::InterfaceEndpointStatus {
        let mut status = created_status(now_minus(3600));
        status.phase = RolloutPhase::Ready;
        status.endpoint_state = Some("available".into());
        status.private_dns_enabled = true;
        status
    }

    #[test]
    fn security_groups_swapped_by_hand_while_serving_are_degraded_in_the_pass_that_puts_them_back() {
        let world = swapped_by_hand();
        // As observed: Zabbix is cut off. With the spec's group back: nobody is.
        let now = Ok(endpoint_analysis());
        let after = Ok(reachable_analysis());
        let status = ready_status();
        let mut i = input(&world, &now, &status);
        i.analysis_as_specified = Some(&after);
        let d = decide(&i, &timing());

        let [Action::ModifyEndpoint(m)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(
            (
                m.add_security_group_ids.as_slice(),
                m.remove_security_group_ids.as_slice()
            ),
            (&[SG_VPCE.to_string()][..], &[SG_BY_HAND.to_string()][..])
        );
        assert_eq!(d.status.phase, RolloutPhase::Degraded);
        let ready = condition(&d.status, ConditionType::Ready);
        assert_eq!(ready.reason, "ClientsBlocked");
        assert!(
            ready.message.contains(ENI_ZABBIX) && ready.message.contains("applying the spec"),
            "{}",
            ready.message
        );
        let warnings: Vec<EventReason> = d.events.iter().filter(|e| e.warning).map(|e| e.reason).collect();
        assert_eq!(warnings, [EventReason::Degraded], "{:?}", d.events);
        assert!(d.events.iter().any(|e| e.reason == EventReason::EndpointModified));
    }

    #[test]
    fn a_spec_change_while_nobody_is_cut_off_is_not_degraded() {
        // The same change asked for in the spec, while the world as it is serves everyone.
        let world = with_endpoint(incident_world(), "available", true);
        let spec = InterfaceEndpointSpec {
            security_group_ids: vec![SG_BY_HAND.into()],
            ..spec()
        };
        let now = Ok(reachable_analysis());
        let after = Ok(reachable_analysis());
        let status = ready_status();
        let mut i = input_with(&spec, &world, &now, &status);
        i.analysis_as_specified = Some(&after);
        let d = decide(&i, &timing());
        assert!(matches!(d.actions.as_slice(), [Action::ModifyEndpoint(_)]));
        assert_ne!(d.status.phase, RolloutPhase::Degraded);
        assert!(d.events.iter().all(|e| !e.warning), "{:?}", d.events);
    }

    #[test]
    fn private_dns_forced_on_with_blocked_clients_is_what_the_spec_asks_not_degraded() {
        let spec = InterfaceEndpointSpec {
            private_dns: PrivateDnsSpec {
                enabled: true,
                force: true,
            },
            ..spec()
        };
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(nacl_analysis());
        let status = ready_status();
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Ready);
    }
}
