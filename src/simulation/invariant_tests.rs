//! The checker itself: each invariant is reported when it is broken, and only then. The world
//! is the incident's, rolled out to Ready (Auto) by the real engine.

use std::time::Duration;

use futures::FutureExt;

use super::invariants::{Cause, Checker, Invariant, Touch, View, unsettled};
use crate::api::{InterfaceEndpointStatus, Owner, RemediationMode, RolloutPhase};
use crate::aws::Ec2Operation;
use crate::aws::sim::{SimClock, SimEc2};
use crate::engine::{self, ReconcileRequest, incident};
use crate::model::{SecurityGroupRule, tag_pairs, tags_from};
use crate::plan::Timing;

/// The incident's endpoint, Ready with private DNS on and the Zabbix agent admitted by the
/// controller's rule; the checker watches it from there.
struct Ready {
    sim: SimEc2,
    owner: Owner,
    status: InterfaceEndpointStatus,
    checker: Checker,
}

fn ready() -> Ready {
    let sim = SimEc2::new(&incident::world(), SimClock::new());
    let spec = incident::spec(RemediationMode::Auto);
    let owner = incident::owner();
    let timing = Timing::default();
    let mut status = InterfaceEndpointStatus::default();
    for _ in 0..40 {
        let request = ReconcileRequest {
            spec: &spec,
            generation: Some(1),
            owner: &owner,
            deleting: false,
            status: &status,
            config: &crate::plan::Config::default(),
            now: sim.clock().timestamp(),
            observations: None,
            resolver: None,
        };
        let outcome = engine::reconcile(&sim, &request, &timing)
            .now_or_never()
            .expect("the simulated world never waits");
        status = outcome.status;
        if status.phase == RolloutPhase::Ready {
            break;
        }
        sim.clock()
            .advance(outcome.requeue.unwrap_or(Duration::from_secs(5)));
    }
    assert_eq!(status.phase, RolloutPhase::Ready);
    let mut checker = Checker::new(crate::plan::Config {
        default_deletion_policy: crate::api::DeletionPolicy::Delete,
        ..Default::default()
    });
    checker.watch(&owner, &spec);
    checker.after_change(&mut View::new(&sim), sim.clock().now(), &Cause::Outside);
    // The controller's passes listed the endpoint with private DNS on.
    checker.looked(&sim.snapshot().vpc_endpoints);
    Ready {
        sim,
        owner,
        status,
        checker,
    }
}

impl Ready {
    fn zabbix_rule(&self) -> SecurityGroupRule {
        self.sim
            .rules()
            .into_iter()
            .find(|r| self.owner.owns(tag_pairs(&r.tags)))
            .expect("the controller's rule")
    }

    fn after(&mut self, cause: &Cause) -> Vec<Invariant> {
        self.checker
            .after_change(&mut View::new(&self.sim), self.sim.clock().now(), cause);
        self.checker.violations.iter().map(|v| v.invariant).collect()
    }

    fn by_the_controller(&self, operation: Ec2Operation) -> Cause {
        Cause::Controller {
            owner: self.owner.clone(),
            operation,
        }
    }
}

#[test]
fn the_controller_revoking_a_rule_a_client_uses_while_private_dns_is_on_breaks_invariant_2() {
    let mut r = ready();
    r.sim
        .revoke_rule_out_of_band(&r.zabbix_rule().security_group_rule_id)
        .unwrap();
    let cause = r.by_the_controller(Ec2Operation::RevokeSecurityGroupIngress);
    assert_eq!(r.after(&cause), [Invariant::NoPathRemovedWhileResolvable]);
    assert!(r.checker.violations[0].message.contains(incident::ENI_ZABBIX));
}

#[test]
fn someone_else_revoking_it_breaks_nothing_of_the_controllers() {
    let mut r = ready();
    r.sim
        .revoke_rule_out_of_band(&r.zabbix_rule().security_group_rule_id)
        .unwrap();
    assert_eq!(r.after(&Cause::Outside), []);
}

#[test]
fn deleting_the_endpoint_within_a_record_ttl_of_private_dns_off_breaks_invariant_2_and_after_it_does_not() {
    for (wait, broken) in [(Duration::from_secs(30), true), (Duration::from_secs(61), false)] {
        let mut r = ready();
        let id = r.status.endpoint_id.clone().unwrap();
        r.sim.set_private_dns_out_of_band(&id, false).unwrap();
        r.after(&r.by_the_controller(Ec2Operation::ModifyVpcEndpoint));
        r.sim.clock().advance(wait);
        r.sim.start_deleting_endpoint_out_of_band(&id).unwrap();
        let found = r.after(&r.by_the_controller(Ec2Operation::DeleteVpcEndpoints));
        assert_eq!(!found.is_empty(), broken, "{wait:?}: {found:?}");
    }
}

#[test]
fn the_controller_turning_private_dns_on_while_a_client_is_blocked_breaks_invariant_1() {
    let mut r = ready();
    let id = r.status.endpoint_id.clone().unwrap();
    r.sim.set_private_dns_out_of_band(&id, false).unwrap();
    r.sim.clock().advance(Duration::from_secs(120));
    r.after(&Cause::Outside);
    r.sim
        .revoke_rule_out_of_band(&r.zabbix_rule().security_group_rule_id)
        .unwrap();
    r.after(&Cause::Outside);
    r.sim.set_private_dns_out_of_band(&id, true).unwrap();
    let found = r.after(&r.by_the_controller(Ec2Operation::ModifyVpcEndpoint));
    assert_eq!(found, [Invariant::PrivateDnsOnlyWhenReachable]);
}

#[test]
fn touching_a_rule_without_the_objects_tags_breaks_invariant_4_unless_the_tags_are_already_there() {
    let mut r = ready();
    let rule = r.zabbix_rule();
    let world = View::new(&r.sim);
    let now = r.sim.clock().now();
    let ids = [rule.security_group_rule_id.clone()];
    let stranger = Owner {
        uid: "00000000-0000-4000-8000-000000000000".into(),
        ..r.owner.clone()
    };
    r.checker.before_mutation(
        &world,
        now,
        &r.owner,
        Ec2Operation::RevokeSecurityGroupIngress,
        &Touch::Revoked(&ids),
    );
    assert!(r.checker.violations.is_empty(), "its own rule");
    let op = Ec2Operation::CreateTags;
    r.checker
        .before_mutation(&world, now, &stranger, op, &Touch::TaggedRules(&ids, &rule.tags));
    assert!(
        r.checker.violations.is_empty(),
        "tags it already carries change nothing"
    );
    let other = tags_from([("vpce-rollout.dev/owner", "apps/other")]);
    r.checker
        .before_mutation(&world, now, &stranger, op, &Touch::TaggedRules(&ids, &other));
    r.checker.before_mutation(
        &world,
        now,
        &stranger,
        Ec2Operation::RevokeSecurityGroupIngress,
        &Touch::Revoked(&ids),
    );
    let found: Vec<Invariant> = r.checker.violations.iter().map(|v| v.invariant).collect();
    assert_eq!(found, [Invariant::OnlyOwnResourcesTouched; 2]);
}

#[test]
fn a_status_claiming_what_aws_does_not_show_breaks_invariant_7() {
    let mut r = ready();
    let world = View::new(&r.sim);
    let now = r.sim.clock().now();
    r.checker
        .status_written(&world, now, &r.owner, &r.status, None, true);
    assert!(r.checker.violations.is_empty(), "{:?}", r.checker.violations);

    r.sim
        .revoke_rule_out_of_band(&r.zabbix_rule().security_group_rule_id)
        .unwrap();
    let id = r.status.endpoint_id.clone().unwrap();
    r.sim.set_private_dns_out_of_band(&id, false).unwrap();
    let world = View::new(&r.sim);
    // A pass that could not look re-states what was written: no new claim.
    r.checker
        .status_written(&world, now, &r.owner, &r.status, Some(&r.status), false);
    assert!(r.checker.violations.is_empty());
    // A pass that looked claims what it saw.
    r.checker
        .status_written(&world, now, &r.owner, &r.status, Some(&r.status), true);
    let found: Vec<Invariant> = r.checker.violations.iter().map(|v| v.invariant).collect();
    assert_eq!(
        found,
        [Invariant::StatusClaimsHold; 2],
        "{:?}",
        r.checker.violations
    );
}

#[test]
fn an_object_left_with_a_rule_after_its_deletion_breaks_invariant_5() {
    let mut r = ready();
    let id = r.status.endpoint_id.clone().unwrap();
    r.sim.delete_endpoint_out_of_band(&id).unwrap();
    r.checker.finalized(&r.owner);
    assert_eq!(r.after(&Cause::Outside), [Invariant::NothingLeftAfterDeletion]);
}

#[test]
fn resting_states_are_the_documented_ones() {
    let r = ready();
    assert_eq!(unsettled(&r.status), None);
    let mut creating = r.status.clone();
    creating.phase = RolloutPhase::Creating;
    assert!(unsettled(&creating).is_some());
}

#[test]
fn a_second_endpoint_of_the_same_object_breaks_invariant_3() {
    let mut r = ready();
    let mut second =
        crate::plan::endpoint::create_request(&incident::spec(RemediationMode::Auto), &r.owner, None, 7);
    second.subnet_ids.truncate(1);
    crate::aws::Ec2::create_vpc_endpoint(&r.sim, &second)
        .now_or_never()
        .unwrap()
        .unwrap();
    assert_eq!(r.after(&Cause::Outside), [Invariant::OneEndpointPerObject]);
}

/// The controller turns private DNS off; 90 s later someone turns it on and off again 20 s
/// apart, `look` standing for what the controller's looks listed in between; 5 s later the
/// controller deletes the endpoint. What the checker finds of that deletion.
fn toggled_by_hand_then_deleted(look: impl FnOnce(&mut Ready, &str)) -> Vec<Invariant> {
    let mut r = ready();
    let id = r.status.endpoint_id.clone().unwrap();
    r.sim.set_private_dns_out_of_band(&id, false).unwrap();
    r.after(&r.by_the_controller(Ec2Operation::ModifyVpcEndpoint));
    r.sim.clock().advance(Duration::from_secs(90));
    r.sim.set_private_dns_out_of_band(&id, true).unwrap();
    r.after(&Cause::Outside);
    look(&mut r, &id);
    r.sim.clock().advance(Duration::from_secs(20));
    r.sim.set_private_dns_out_of_band(&id, false).unwrap();
    r.after(&Cause::Outside);
    r.sim.clock().advance(Duration::from_secs(5));
    r.sim.start_deleting_endpoint_out_of_band(&id).unwrap();
    r.after(&r.by_the_controller(Ec2Operation::DeleteVpcEndpoints))
}

#[test]
fn private_dns_on_and_off_again_behind_the_controllers_back_is_not_its_to_wait_for() {
    // No look of the controller's between the two toggles.
    assert_eq!(toggled_by_hand_then_deleted(|_, _| {}), []);
}

#[test]
fn once_the_controller_has_seen_private_dns_on_the_record_ttl_counts_after_it_goes_off() {
    let found = toggled_by_hand_then_deleted(|r, _| r.checker.looked(&r.sim.snapshot().vpc_endpoints));
    assert_eq!(found, [Invariant::NoPathRemovedWhileResolvable]);
}

#[test]
fn a_look_that_did_not_list_the_endpoint_saw_nothing_of_its_private_dns() {
    // The look in the middle listed another endpoint by id only.
    let found = toggled_by_hand_then_deleted(|r, id| {
        let others: Vec<_> = r
            .sim
            .snapshot()
            .vpc_endpoints
            .into_iter()
            .filter(|e| e.vpc_endpoint_id != id)
            .collect();
        r.checker.looked(&others);
    });
    assert_eq!(found, []);
}

/// The incident's endpoint rolled back for the Zabbix agent: private DNS off, and a status
/// holding the rollback written; the spec forces private DNS (so invariant 1 says nothing).
fn rolled_back_for_zabbix() -> (Ready, String, crate::api::RollbackStatus) {
    let mut r = ready();
    let mut spec = incident::spec(RemediationMode::Auto);
    spec.private_dns.force = true;
    r.checker.watch(&r.owner, &spec);
    let id = r.status.endpoint_id.clone().unwrap();
    r.sim.set_private_dns_out_of_band(&id, false).unwrap();
    r.after(&r.by_the_controller(Ec2Operation::ModifyVpcEndpoint));
    let zabbix = r
        .sim
        .network_interfaces()
        .into_iter()
        .find(|n| n.network_interface_id == incident::ENI_ZABBIX)
        .and_then(|n| n.private_ip_address)
        .unwrap();
    let rollback = crate::api::RollbackStatus {
        time: "2025-01-01T00:10:00Z".into(),
        endpoint_id: id.clone(),
        rejected: vec![crate::api::RejectedSource {
            address: zabbix,
            client: Some(incident::ENI_ZABBIX.into()),
            ..Default::default()
        }],
        cut_off: vec![],
        forced: false,
    };
    r.write_rollback(&rollback);
    (r, id, rollback)
}

impl Ready {
    /// A status holding `rollback` lands (private DNS off, as it is).
    fn write_rollback(&mut self, rollback: &crate::api::RollbackStatus) {
        let mut status = self.status.clone();
        status.private_dns_enabled = false;
        status.rollback = Some(rollback.clone());
        let now = self.sim.clock().now();
        self.checker
            .status_written(&View::new(&self.sim), now, &self.owner, &status, None, true);
    }
}

#[test]
fn the_controller_turning_private_dns_on_past_a_rollback_whose_source_is_blocked_breaks_invariant_8_forced_or_not()
 {
    let (mut r, id, _) = rolled_back_for_zabbix();
    r.sim
        .revoke_rule_out_of_band(&r.zabbix_rule().security_group_rule_id)
        .unwrap();
    r.after(&Cause::Outside);
    r.sim.set_private_dns_out_of_band(&id, true).unwrap();
    let found = r.after(&r.by_the_controller(Ec2Operation::ModifyVpcEndpoint));
    assert_eq!(found, [Invariant::RollbackHolds]);
    assert!(r.checker.violations[0].message.contains(incident::ENI_ZABBIX));
}

/// Seed 103: the status of the pass that ended a rollback (private DNS on again, its source
/// reaching the endpoint) still carried it, written after the call; it does not hold again.
#[test]
fn a_rollback_ended_by_private_dns_on_with_its_sources_reaching_the_endpoint_holds_no_more() {
    let (mut r, id, rollback) = rolled_back_for_zabbix();
    r.sim.set_private_dns_out_of_band(&id, true).unwrap();
    assert_eq!(r.after(&r.by_the_controller(Ec2Operation::ModifyVpcEndpoint)), []);
    r.write_rollback(&rollback);
    // Off by hand, the Zabbix agent cut off, and private DNS forced on again: no rollback holds.
    r.sim.set_private_dns_out_of_band(&id, false).unwrap();
    r.after(&Cause::Outside);
    r.sim
        .revoke_rule_out_of_band(&r.zabbix_rule().security_group_rule_id)
        .unwrap();
    r.after(&Cause::Outside);
    r.sim.set_private_dns_out_of_band(&id, true).unwrap();
    assert_eq!(r.after(&r.by_the_controller(Ec2Operation::ModifyVpcEndpoint)), []);
}
