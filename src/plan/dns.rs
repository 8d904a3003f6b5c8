//! Private DNS: the last step, and the one that can cut clients off.
//!
//! Reached only when every client can reach the endpoint, or when `spec.privateDns.force`
//! says to go ahead anyway. Private DNS is enabled only after its preconditions hold (VPC DNS
//! attributes, a private DNS name offered by the service, no other endpoint of the service with
//! private DNS in the VPC); it is disabled only because the spec says so.

use super::approval::Access;
use super::preconditions::preconditions;
use super::resolution;
use super::rules::authorize;
use super::wording::{blocked_sentence, count, record_serving_first, what_is_needed};
use super::{Action, EventNote, EventReason, PlanInput, Step, Timing, not_ready};
use crate::analysis::Analysis;
use crate::api::conditions::{ConditionReason, ConditionType, ConditionUpdate};
use crate::api::{DnsOptions, InterfaceEndpointSpec, RolloutPhase};
use crate::aws::ModifyVpcEndpoint;
use crate::model::VpcEndpoint;

/// The private DNS step for an available endpoint whose clients can all reach it (or forced).
pub(crate) fn decide<'a>(
    input: &PlanInput<'a>,
    endpoint: &'a VpcEndpoint,
    analysis: &'a Analysis,
    access: &Access<'a>,
    timing: &Timing,
) -> Step<'a> {
    let mut step = if !input.spec.private_dns.enabled {
        not_requested(input, endpoint, timing)
    } else if endpoint.private_dns_enabled {
        serving(input, endpoint, access, timing)
    } else {
        enable(input, endpoint, access, timing)
    };
    step.endpoint = Some(endpoint);
    step.analysis = Some(analysis);
    step.verified = true;
    step
}

fn not_requested<'a>(input: &PlanInput<'a>, endpoint: &VpcEndpoint, timing: &Timing) -> Step<'a> {
    let id = &endpoint.vpc_endpoint_id;
    if endpoint.private_dns_enabled {
        let mut step = Step::new(input, RolloutPhase::Ready, timing.after_change);
        turn_off(&mut step, input, endpoint, timing);
        return step;
    }
    let mut step = Step::new(input, RolloutPhase::Ready, timing.resync);
    step.conditions.dns = Some(ConditionUpdate::new(
        ConditionType::PrivateDnsEnabled,
        false,
        ConditionReason::PrivateDnsNotRequested,
        format!("Private DNS is off on {id}, as spec.privateDns.enabled asks"),
    ));
    step
}

/// Whether the spec asks for private DNS even while clients are blocked. `force` forces
/// private DNS on; it forces nothing while the spec asks private DNS off.
pub(crate) fn forced(spec: &InterfaceEndpointSpec) -> bool {
    spec.private_dns.enabled && spec.private_dns.force
}

/// Whether private DNS is on although `spec.privateDns.enabled` is false: then turning it off
/// comes before anything else that waits (blocked clients, a held spec change). It cuts nobody
/// off, since the service's name resolves publicly again, and it is what the spec asks.
pub(crate) fn unwanted(input: &PlanInput<'_>, endpoint: &VpcEndpoint) -> bool {
    endpoint.private_dns_enabled && !input.spec.private_dns.enabled
}

/// Turns private DNS off in `step`: the only way the controller ever does, because
/// `spec.privateDns.enabled` is false. Only once the last status shows it on
/// ([`resolution::status_shows_serving`]); until then the pass writes the status that does.
pub(crate) fn turn_off(step: &mut Step<'_>, input: &PlanInput<'_>, endpoint: &VpcEndpoint, timing: &Timing) {
    let id = &endpoint.vpc_endpoint_id;
    step.requeue = timing.after_change;
    if !resolution::status_shows_serving(endpoint, input.status) {
        step.conditions.dns = Some(ConditionUpdate::new(
            ConditionType::PrivateDnsEnabled,
            true,
            ConditionReason::PrivateDnsNotRequested,
            format!(
                "spec.privateDns.enabled is false: {}",
                record_serving_first(endpoint)
            ),
        ));
        return;
    }
    step.actions.push(Action::ModifyEndpoint(turning_off(endpoint)));
    step.conditions.dns = Some(ConditionUpdate::new(
        ConditionType::PrivateDnsEnabled,
        false,
        ConditionReason::PrivateDnsNotRequested,
        format!("Disabling private DNS on {id}: spec.privateDns.enabled is false"),
    ));
}

/// The request that turns private DNS off on `endpoint`: with
/// `PrivateDnsOnlyForInboundResolverEndpoint` off too when the endpoint has it on (EC2 keeps
/// private DNS on while it is).
pub(crate) fn turning_off(endpoint: &VpcEndpoint) -> ModifyVpcEndpoint {
    let inbound_only = endpoint
        .dns_options
        .as_ref()
        .and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint)
        == Some(true);
    ModifyVpcEndpoint {
        vpc_endpoint_id: endpoint.vpc_endpoint_id.clone(),
        private_dns_enabled: Some(false),
        private_dns_only_for_inbound_resolver_endpoint: inbound_only.then_some(false),
        ..Default::default()
    }
}

fn serving<'a>(
    input: &PlanInput<'a>,
    endpoint: &VpcEndpoint,
    access: &Access<'a>,
    timing: &Timing,
) -> Step<'a> {
    if access.blocked == 0 {
        return Step::new(input, RolloutPhase::Ready, timing.resync);
    }
    // Forced: private DNS is on with blocked clients, as the spec asked. Still add what the
    // modes allow, and still ask for approval: forcing does not make the plan unnecessary.
    let forced = ConditionUpdate::new(
        ConditionType::PrivateDnsEnabled,
        true,
        ConditionReason::ForcedWithBlockedClients,
        format!(
            "Private DNS is on (spec.privateDns.force) while {}",
            blocked_sentence(access)
        ),
    );
    let rules_now = access.rules_now();
    let mut step = if !rules_now.is_empty() {
        let mut step = Step::new(input, RolloutPhase::Remediating, timing.after_change);
        step.actions.push(authorize(&rules_now, input));
        step.conditions.ready = Some(not_ready(
            ConditionReason::InProgress,
            format!(
                "Adding {} for the blocked clients",
                count(rules_now.len(), "rule")
            ),
        ));
        step
    } else if access.awaits_approval() {
        let mut step = Step::new(input, RolloutPhase::AwaitingApproval, timing.waiting);
        step.conditions.ready = Some(not_ready(
            ConditionReason::AwaitingApproval,
            format!(
                "Private DNS is forced on while {}; {}",
                blocked_sentence(access),
                what_is_needed(access)
            ),
        ));
        step
    } else {
        let mut step = Step::new(input, RolloutPhase::Ready, timing.resync);
        step.conditions.ready = Some(ConditionUpdate::new(
            ConditionType::Ready,
            true,
            ConditionReason::ForcedWithBlockedClients,
            format!(
                "{} is available with private DNS forced on; {}; {}",
                endpoint.vpc_endpoint_id,
                blocked_sentence(access),
                what_is_needed(access)
            ),
        ));
        step
    };
    step.conditions.dns = Some(forced);
    step
}

fn enable<'a>(
    input: &PlanInput<'a>,
    endpoint: &VpcEndpoint,
    access: &Access<'a>,
    timing: &Timing,
) -> Step<'a> {
    let id = &endpoint.vpc_endpoint_id;
    if let Err(unmet) = preconditions(input.spec, input.world, Some(&endpoint.vpc_endpoint_id)) {
        let mut step = Step::new(input, RolloutPhase::Failed, timing.waiting);
        step.conditions.dns = Some(ConditionUpdate::new(
            ConditionType::PrivateDnsEnabled,
            false,
            unmet.reason,
            unmet.message.clone(),
        ));
        step.conditions.ready = Some(not_ready(unmet.reason, unmet.message));
        return step;
    }

    let mut step = Step::new(input, RolloutPhase::EnablingPrivateDns, timing.after_change);
    // EC2 applies the modification asynchronously; until the endpoint reports it, asking again
    // is harmless (same request). Each call gets its own Event (the audit trail has no gaps);
    // what the pass observed is said the first time only.
    let first = input.status.phase != RolloutPhase::EnablingPrivateDns;
    let rules_now = if access.blocked > 0 {
        access.rules_now()
    } else {
        Vec::new()
    };
    if !rules_now.is_empty() {
        step.actions.push(authorize(&rules_now, input));
    }
    step.actions.push(Action::ModifyEndpoint(ModifyVpcEndpoint {
        vpc_endpoint_id: id.clone(),
        private_dns_enabled: Some(true),
        // EC2 takes it only with private DNS on: set in the same request.
        private_dns_only_for_inbound_resolver_endpoint: DnsOptions::inbound_only(
            input.spec.dns_options.as_ref(),
        )
        .then_some(true),
        ..Default::default()
    }));

    let turned_off_by_hand =
        input.status.private_dns_enabled && input.status.endpoint_id.as_deref() == Some(id.as_str());
    let (reason, message) = if turned_off_by_hand {
        (
            ConditionReason::PrivateDnsDisabledOutOfBand,
            format!(
                "Private DNS on {id} was turned off outside the controller; turning it on again, as \
                 spec.privateDns.enabled asks (set it to false to keep it off)"
            ),
        )
    } else {
        (
            ConditionReason::PrivateDnsEnabling,
            format!("Enabling private DNS on {id}; waiting for the endpoint to report it"),
        )
    };
    if turned_off_by_hand && first {
        step.private_dns_reenabled_time = Some(input.now.to_string());
        step.events.push(EventNote {
            reason: EventReason::PrivateDnsReenabled,
            warning: true,
            message: format!(
                "Private DNS on {id} was turned off outside the controller; turning it on again because \
                 spec.privateDns.enabled is true. To keep it off, set spec.privateDns.enabled: false"
            ),
        });
    }
    if access.blocked > 0 && first {
        step.events.push(EventNote {
            reason: EventReason::ForcedWithBlockedClients,
            warning: true,
            message: format!(
                "Enabling private DNS on {id} although {} (spec.privateDns.force)",
                blocked_sentence(access)
            ),
        });
    }
    step.conditions.dns = Some(ConditionUpdate::new(
        ConditionType::PrivateDnsEnabled,
        false,
        reason,
        message,
    ));
    let clients = if access.blocked > 0 {
        format!("forced with {}", blocked_sentence(access))
    } else {
        format!(
            "all {} can reach it",
            count(access.analysis.clients.len(), "client")
        )
    };
    let doing = if turned_off_by_hand {
        format!(
            "Turning private DNS on again on {id}: it was turned off outside the controller, and \
             spec.privateDns.enabled is true (set it to false to keep it off)"
        )
    } else {
        format!("Enabling private DNS on {id}")
    };
    step.conditions.ready = Some(not_ready(
        ConditionReason::InProgress,
        format!("{doing}: {clients}"),
    ));
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{PrivateDnsSpec, RemediationMode, RemediationSpec};
    use crate::model::{AttributeBoolean, Snapshot};
    use crate::plan::fixtures::*;
    use crate::plan::{Action, EventReason, decide};

    fn verified_status() -> crate::api::InterfaceEndpointStatus {
        let mut s = created_status(now_minus(600));
        s.phase = RolloutPhase::Remediating;
        s.endpoint_state = Some("available".into());
        s
    }

    fn dns_modify(d: &crate::plan::Decision) -> Option<bool> {
        d.actions.iter().find_map(|a| match a {
            Action::ModifyEndpoint(m) => m.private_dns_enabled,
            _ => None,
        })
    }

    #[test]
    fn private_dns_is_enabled_once_every_client_can_reach_the_endpoint() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(reachable_analysis());
        let status = verified_status();
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::EnablingPrivateDns);
        assert_eq!(dns_modify(&d), Some(true));
        assert_eq!(d.actions.len(), 1);
        assert!(
            d.events
                .iter()
                .any(|e| e.reason == EventReason::PrivateDnsEnabled)
        );
        assert_eq!(
            condition(&d.status, ConditionType::PrivateDnsEnabled).reason,
            "PrivateDnsEnabling"
        );
        assert_eq!(
            condition(&d.status, ConditionType::ClientsReachable).status,
            "True"
        );

        let again = decide(&input(&world, &analysis, &d.status), &timing());
        assert_eq!(dns_modify(&again), Some(true), "asks again until EC2 reports it");
        let reasons: Vec<EventReason> = again.events.iter().map(|e| e.reason).collect();
        assert_eq!(
            reasons,
            [EventReason::PrivateDnsEnabled],
            "each call is in the audit trail, nothing else is said again"
        );
    }

    #[test]
    fn the_rollout_is_ready_once_the_endpoint_reports_private_dns() {
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(reachable_analysis());
        let mut status = verified_status();
        status.phase = RolloutPhase::EnablingPrivateDns;
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Ready);
        assert!(d.actions.is_empty());
        assert!(d.status.private_dns_enabled);
        assert_eq!(d.requeue, timing().resync);
        assert_eq!(d.status.private_dns_name.as_deref(), Some(DNS_NAME));
        for t in ConditionType::ROLLOUT {
            assert_eq!(condition(&d.status, t).status, "True", "{t:?}");
        }
        assert!(d.events.iter().any(|e| e.reason == EventReason::Ready));
        let again = decide(&input(&world, &analysis, &d.status), &timing());
        assert!(again.events.is_empty(), "{:?}", again.events);
        assert_eq!(again.status.conditions, d.status.conditions);
    }

    #[test]
    fn private_dns_is_never_enabled_while_a_client_is_blocked() {
        for analysis in [endpoint_analysis(), two_way_analysis(), nacl_analysis()] {
            for ingress in [
                RemediationMode::Auto,
                RemediationMode::Approval,
                RemediationMode::Off,
            ] {
                let spec = InterfaceEndpointSpec {
                    remediation: RemediationSpec {
                        endpoint_ingress: ingress,
                        client_egress: RemediationMode::Approval,
                    },
                    ..spec()
                };
                let world = with_endpoint(incident_world(), "available", false);
                let analysis = Ok(analysis.clone());
                let status = verified_status();
                let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
                assert_eq!(dns_modify(&d), None, "{ingress:?}: {:?}", d.actions);
            }
        }
    }

    #[test]
    fn force_enables_private_dns_with_blocked_clients_and_warns() {
        let spec = InterfaceEndpointSpec {
            private_dns: PrivateDnsSpec {
                enabled: true,
                force: true,
            },
            ..spec()
        };
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(nacl_analysis());
        let status = verified_status();
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert_eq!(dns_modify(&d), Some(true));
        let warning = d
            .events
            .iter()
            .find(|e| e.reason == EventReason::ForcedWithBlockedClients)
            .unwrap();
        assert!(
            warning.warning && warning.message.contains(ENI_ZABBIX),
            "{warning:?}"
        );

        let on = with_endpoint(incident_world(), "available", true);
        let d = decide(&input_with(&spec, &on, &analysis, &d.status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Ready);
        assert_eq!(
            condition(&d.status, ConditionType::PrivateDnsEnabled).reason,
            "ForcedWithBlockedClients"
        );
        assert_eq!(
            condition(&d.status, ConditionType::ClientsReachable).status,
            "False"
        );
    }

    #[test]
    fn private_dns_disabled_in_the_spec_stays_off_and_is_turned_off_when_on() {
        let spec = InterfaceEndpointSpec {
            private_dns: PrivateDnsSpec {
                enabled: false,
                force: false,
            },
            ..spec()
        };
        let analysis = Ok(reachable_analysis());
        let status = verified_status();
        let off = with_endpoint(incident_world(), "available", false);
        let d = decide(&input_with(&spec, &off, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Ready);
        assert!(d.actions.is_empty());
        assert_eq!(
            condition(&d.status, ConditionType::PrivateDnsEnabled).reason,
            "PrivateDnsNotRequested"
        );
        assert_eq!(condition(&d.status, ConditionType::Ready).status, "True");

        let on = with_endpoint(incident_world(), "available", true);
        let seen_on = serving_status();
        let d = decide(&input_with(&spec, &on, &analysis, &seen_on), &timing());
        assert_eq!(dns_modify(&d), Some(false));
    }

    /// Found on while the last status does not show it (the status of the pass that turned it
    /// on was lost): this pass writes a status that shows it, the next turns it off, so that
    /// the look after the turn-off starts the record TTL even if that pass's status is lost
    /// too (seeds 31304 and others of the reference run).
    #[test]
    fn private_dns_found_on_that_the_status_does_not_show_is_recorded_before_it_is_turned_off() {
        let spec = InterfaceEndpointSpec {
            private_dns: PrivateDnsSpec {
                enabled: false,
                force: false,
            },
            ..spec()
        };
        let analysis = Ok(reachable_analysis());
        let on = with_endpoint(incident_world(), "available", true);
        let d = decide(&input_with(&spec, &on, &analysis, &verified_status()), &timing());
        assert_eq!(dns_modify(&d), None, "{:?}", d.actions);
        assert!(d.status.private_dns_enabled, "the status now shows it on");
        assert_eq!(d.requeue, timing().after_change);
        assert!(
            condition(&d.status, ConditionType::PrivateDnsEnabled)
                .message
                .contains("recording that first"),
            "{:?}",
            d.status.conditions
        );
        let d = decide(&input_with(&spec, &on, &analysis, &d.status), &timing());
        assert_eq!(dns_modify(&d), Some(false), "the next pass turns it off");
    }

    #[test]
    fn private_dns_only_for_inbound_endpoints_is_set_with_private_dns_and_unset_with_it() {
        let inbound = |m: &ModifyVpcEndpoint| m.private_dns_only_for_inbound_resolver_endpoint;
        let modify = |d: &crate::plan::Decision| -> ModifyVpcEndpoint {
            d.actions
                .iter()
                .find_map(|a| match a {
                    Action::ModifyEndpoint(m) => Some(m.clone()),
                    _ => None,
                })
                .expect("a ModifyVpcEndpoint")
        };
        let spec = InterfaceEndpointSpec {
            dns_options: Some(DnsOptions {
                private_dns_only_for_inbound_resolver_endpoint: Some(true),
                ..Default::default()
            }),
            ..spec()
        };
        let mut world = with_endpoint(incident_world(), "available", false);
        world.vpc_endpoints.push(VpcEndpoint {
            vpc_endpoint_id: "vpce-0gateway000000000".into(),
            vpc_endpoint_type: Some("Gateway".into()),
            vpc_id: VPC.into(),
            service_name: SERVICE.into(),
            state: Some("available".into()),
            ..Default::default()
        });
        let analysis = Ok(reachable_analysis());
        let d = decide(
            &input_with(&spec, &world, &analysis, &verified_status()),
            &timing(),
        );
        let enabling = modify(&d);
        assert_eq!(
            (enabling.private_dns_enabled, inbound(&enabling)),
            (Some(true), Some(true))
        );
        // Without it in the spec the request names nothing of it.
        let d = decide(&input(&world, &analysis, &verified_status()), &timing());
        assert_eq!(inbound(&modify(&d)), None);
        // Turned off (the spec): both in one request when the endpoint has it on.
        let mut on = world.clone();
        on.vpc_endpoints[0].private_dns_enabled = true;
        on.vpc_endpoints[0].dns_options = Some(crate::model::EndpointDnsOptions {
            private_dns_only_for_inbound_resolver_endpoint: Some(true),
            ..Default::default()
        });
        let off = InterfaceEndpointSpec {
            private_dns: PrivateDnsSpec {
                enabled: false,
                force: false,
            },
            dns_options: None,
            ..spec.clone()
        };
        let d = decide(&input_with(&off, &on, &analysis, &serving_status()), &timing());
        let disabling = modify(&d);
        assert_eq!(
            (disabling.private_dns_enabled, inbound(&disabling)),
            (Some(false), Some(false))
        );
        assert_eq!(
            inbound(&turning_off(
                &with_endpoint(incident_world(), "available", true).vpc_endpoints[0]
            )),
            None
        );
    }

    #[test]
    fn private_dns_turned_off_by_hand_is_re_enabled_and_reported() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(reachable_analysis());
        let mut status = verified_status();
        status.phase = RolloutPhase::Ready;
        status.private_dns_enabled = true;
        let d = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(dns_modify(&d), Some(true));
        assert_eq!(
            condition(&d.status, ConditionType::PrivateDnsEnabled).reason,
            "PrivateDnsDisabledOutOfBand"
        );
        assert!(
            d.events
                .iter()
                .any(|e| e.reason == EventReason::PrivateDnsReenabled && e.warning),
            "{:?}",
            d.events
        );
        assert!(
            d.events.iter().all(|e| e.reason != EventReason::Degraded),
            "nobody is cut off while private DNS is off: {:?}",
            d.events
        );
        assert_eq!(d.status.private_dns_reenabled_time, Some(now().to_string()));
        assert!(
            condition(&d.status, ConditionType::Ready)
                .message
                .starts_with("Turning private DNS on again"),
            "the Ready message says why"
        );
    }

    #[test]
    fn each_unmet_precondition_is_a_condition_reason_and_no_mutation() {
        type BreakIt = fn(&mut Snapshot);
        let cases: [(&str, BreakIt); 4] = [
            ("VpcDnsSupportDisabled", |w| {
                w.vpc_attributes.get_mut(VPC).unwrap().enable_dns_support = Some(AttributeBoolean(false))
            }),
            ("VpcDnsHostnamesDisabled", |w| {
                w.vpc_attributes.get_mut(VPC).unwrap().enable_dns_hostnames = Some(AttributeBoolean(false))
            }),
            ("NoPrivateDnsName", |w| {
                w.service_details[0].private_dns_name = None
            }),
            ("ConflictingPrivateDns", |w| {
                let mut other = w.vpc_endpoints[0].clone();
                other.vpc_endpoint_id = "vpce-0ffffffffffffffff".into();
                other.tags.clear();
                other.private_dns_enabled = true;
                w.vpc_endpoints.push(other);
            }),
        ];
        for (reason, break_it) in cases {
            let mut world = with_endpoint(incident_world(), "available", false);
            break_it(&mut world);
            let analysis = Ok(reachable_analysis());
            let status = verified_status();
            let d = decide(&input(&world, &analysis, &status), &timing());
            assert!(d.actions.is_empty(), "{reason}: {:?}", d.actions);
            assert_eq!(d.status.phase, RolloutPhase::Failed, "{reason}");
            assert_eq!(
                condition(&d.status, ConditionType::PrivateDnsEnabled).reason,
                reason
            );
            assert_eq!(condition(&d.status, ConditionType::Ready).reason, reason);
            assert!(
                d.events
                    .iter()
                    .any(|e| e.reason == EventReason::Failed && e.warning)
            );
        }
    }
}
