//! A ports edit after Ready: the object's rules for ports `spec.ports` no longer names are
//! revoked only once no client needs them, on the world as specified; the rules of the 443
//! days stay the rules for the default `[443]`.

use super::drift::world_as_specified;
use super::fixtures::*;
use super::{Action, RevokeRules, decide};
use crate::analysis::analyze;
use crate::api::conditions::ConditionType;
use crate::api::{
    InterfaceEndpointSpec, InterfaceEndpointStatus, RemediationMode, RemediationSpec, RolloutPhase,
};
use crate::model::{IpPermission, Protocol, SecurityGroupRule, Snapshot, UserIdGroupPair};

const RULE_ZABBIX: &str = "sgr-0000000000000000a";
const RULE_LAMBDA: &str = "sgr-0000000000000000b";

fn ready_status() -> InterfaceEndpointStatus {
    let mut s = created_status(now_minus(3600));
    s.phase = RolloutPhase::Ready;
    s.endpoint_state = Some("available".into());
    s.private_dns_enabled = true;
    s
}

fn ranged(rule: SecurityGroupRule, from: i32, to: i32) -> SecurityGroupRule {
    SecurityGroupRule {
        from_port: Some(from),
        to_port: Some(to),
        ..rule
    }
}

/// The incident VPC with the endpoint (private DNS `serving`) and the object's two ingress rules
/// on the endpoint group for tcp `from..=to`, admitting Zabbix and the Lambda.
fn world_with_rules(serving: bool, (from, to): (i32, i32)) -> Snapshot {
    let mut world = with_endpoint(incident_world(), "available", serving);
    world.security_group_rules = vec![
        ranged(owned_rule(RULE_ZABBIX, SG_VPCE, false, SG_ZABBIX), from, to),
        ranged(owned_rule(RULE_LAMBDA, SG_VPCE, false, SG_LAMBDA), from, to),
    ];
    let endpoint_group = world
        .security_groups
        .iter_mut()
        .find(|g| g.group_id == SG_VPCE)
        .unwrap();
    endpoint_group.ip_permissions.push(IpPermission {
        ip_protocol: Protocol::Tcp,
        from_port: Some(from),
        to_port: Some(to),
        user_id_group_pairs: [SG_ZABBIX, SG_LAMBDA]
            .map(|g| UserIdGroupPair {
                group_id: g.into(),
                ..Default::default()
            })
            .to_vec(),
        ..Default::default()
    });
    world
}

fn spec_on(ports: &[u16], ingress: RemediationMode) -> InterfaceEndpointSpec {
    InterfaceEndpointSpec {
        ports: ports.to_vec(),
        remediation: RemediationSpec {
            endpoint_ingress: ingress,
            ..Default::default()
        },
        ..spec()
    }
}

/// The decision with both analyses real: the world as observed, and as specified.
fn decide_on(
    spec: &InterfaceEndpointSpec,
    world: &Snapshot,
    status: &InterfaceEndpointStatus,
) -> super::Decision {
    let analysis = analyze(spec, Some(&owner()), world);
    let mut input = input_with(spec, world, &analysis, status);
    let after = world_as_specified(&input).map(|w| analyze(spec, Some(&owner()), &w));
    input.analysis_as_specified = after.as_ref();
    decide(&input, &timing())
}

fn revoked(batches: &[RevokeRules]) -> Vec<&str> {
    batches
        .iter()
        .flat_map(|b| b.rule_ids.iter().map(String::as_str))
        .collect()
}

#[test]
fn the_rules_of_the_443_days_are_the_rules_for_the_default_ports() {
    let world = world_with_rules(true, (443, 443));
    let spec = spec_on(&[443], RemediationMode::Auto);
    let input_analysis = analyze(&spec, Some(&owner()), &world);
    let status = ready_status();
    let input = input_with(&spec, &world, &input_analysis, &status);
    assert!(world_as_specified(&input).is_none(), "nothing to change");
    let d = decide_on(&spec, &world, &status);
    assert!(d.actions.is_empty(), "{:?}", d.actions);
    assert_eq!(d.status.phase, RolloutPhase::Ready);
}

#[test]
fn a_port_taken_out_of_a_range_gets_its_replacement_rules_before_the_old_ones_go() {
    // 8080-8082 in place; the spec now says 8080-8081: revoking the old rules alone would cut
    // both clients off on 8080-8081.
    let world = world_with_rules(true, (8080, 8082));
    let spec = spec_on(&[8080, 8081], RemediationMode::Auto);
    let d = decide_on(&spec, &world, &ready_status());
    let [Action::AuthorizeRules(added), Action::RevokeRules(gone)] = d.actions.as_slice() else {
        panic!("{:?}", d.actions)
    };
    let ports: Vec<(i32, i32)> = added
        .iter()
        .flat_map(|b| b.rules.iter().map(|r| (r.from_port, r.to_port)))
        .collect();
    assert_eq!(ports, [(8080, 8081), (8080, 8081)]);
    assert_eq!(revoked(gone), [RULE_ZABBIX, RULE_LAMBDA]);
    assert_eq!(d.status.phase, RolloutPhase::Remediating);
    let ready = condition(&d.status, ConditionType::Ready);
    assert!(
        ready
            .message
            .contains("revoke 2 rules for tcp/8082, no longer in spec.ports"),
        "{}",
        ready.message
    );
}

#[test]
fn a_port_taken_out_is_held_while_the_replacement_waits_for_approval() {
    let world = world_with_rules(true, (8080, 8082));
    let spec = spec_on(&[8080, 8081], RemediationMode::Approval);
    let d = decide_on(&spec, &world, &ready_status());
    assert!(d.actions.is_empty(), "nothing revoked: {:?}", d.actions);
    assert_eq!(d.status.phase, RolloutPhase::AwaitingApproval);
    let ready = condition(&d.status, ConditionType::Ready);
    assert_eq!(ready.reason, "AwaitingApproval");
    assert!(
        ready.message.contains("held while private DNS is on"),
        "{}",
        ready.message
    );
    // The plan to approve is the replacement's: once approved, the same pass adds and revokes.
    let plan = d.status.plan.as_ref().expect("a plan");
    let approved = InterfaceEndpointSpec {
        approval: Some(crate::api::Approval {
            plan_id: plan.id.clone(),
        }),
        ..spec
    };
    let d = decide_on(&approved, &world, &d.status);
    assert!(
        matches!(
            d.actions.as_slice(),
            [Action::AuthorizeRules(_), Action::RevokeRules(_)]
        ),
        "{:?}",
        d.actions
    );
}

#[test]
fn a_port_no_client_needs_any_more_is_revoked_at_once() {
    // 8443 beside 443: the 8443 rules go, nothing to add (443 is open by hand-made rules).
    let mut world = world_with_rules(true, (8443, 8443));
    world
        .security_groups
        .iter_mut()
        .find(|g| g.group_id == SG_VPCE)
        .unwrap()
        .ip_permissions
        .push(IpPermission {
            ip_protocol: Protocol::Tcp,
            from_port: Some(443),
            to_port: Some(443),
            user_id_group_pairs: vec![UserIdGroupPair {
                group_id: SG_ZABBIX.into(),
                ..Default::default()
            }],
            ..Default::default()
        });
    let spec = spec_on(&[443], RemediationMode::Auto);
    let d = decide_on(&spec, &world, &ready_status());
    let [Action::RevokeRules(gone)] = d.actions.as_slice() else {
        panic!("{:?}", d.actions)
    };
    assert_eq!(revoked(gone), [RULE_ZABBIX, RULE_LAMBDA]);
}

#[test]
fn while_private_dns_is_off_a_ports_edit_revokes_at_once() {
    let world = world_with_rules(false, (8080, 8082));
    let spec = spec_on(&[8080, 8081], RemediationMode::Approval);
    let status = created_status(now_minus(600));
    let d = decide_on(&spec, &world, &status);
    let [Action::RevokeRules(gone)] = d.actions.as_slice() else {
        panic!("{:?}", d.actions)
    };
    assert_eq!(revoked(gone), [RULE_ZABBIX, RULE_LAMBDA]);
    assert_eq!(d.status.phase, RolloutPhase::Verifying);
}
