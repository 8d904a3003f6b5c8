//! Rollouts sharing one EC2 API budget: a rollout whose create waits for a token says so in
//! its status, with its place in line, and is not an error.

use std::sync::Arc;
use std::time::Duration;

use super::incident;
use super::{ReconcileRequest, reconcile};
use crate::api::conditions::{ConditionType, find_condition};
use crate::api::{InterfaceEndpointStatus, Owner, RemediationMode};
use crate::aws::budget::{AccountBudget, BudgetedEc2, NoObserver};
use crate::aws::sim::{SimClock, SimConfig, SimEc2, aws_service};
use crate::aws::{Ec2Operation, ErrorKind};
use crate::plan::{Config, Timing};

#[test]
fn a_create_waiting_for_the_budget_reports_its_place_in_line_and_requeues_without_an_error() {
    let mut world = incident::world();
    let names = ["sts", "monitoring", "ssm"];
    for name in names {
        world.service_details.push(aws_service(
            incident::REGION,
            name,
            &["ap-northeast-1a", "ap-northeast-1c"],
        ));
    }
    let clock = SimClock::new();
    let sim = Arc::new(SimEc2::with_config(&world, clock.clone(), SimConfig::default()));
    // Half of EC2's figures: two create tokens, then one every 6.67 s.
    let ec2 = BudgetedEc2::new(
        sim.clone(),
        Arc::new(AccountBudget::new(0.5)),
        Arc::new(clock.clone()),
        Arc::new(NoObserver),
    );
    let config = Config::default();
    let timing = Timing::default();
    let pass = |name: &str, status: &InterfaceEndpointStatus| {
        let mut spec = incident::spec(RemediationMode::Approval);
        spec.service_name = format!("com.amazonaws.{}.{name}", incident::REGION);
        let owner = Owner {
            namespace: "apps".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
        };
        let request = ReconcileRequest {
            spec: &spec,
            generation: Some(1),
            owner: &owner,
            deleting: false,
            status,
            config: &config,
            now: clock.timestamp(),
            observations: None,
            resolver: None,
        };
        futures::executor::block_on(reconcile(&ec2, &request, &timing))
    };
    let creates = || {
        sim.calls()
            .iter()
            .filter(|c| c.operation == Ec2Operation::CreateVpcEndpoint)
            .count()
    };
    let fresh = InterfaceEndpointStatus::default();
    for name in &names[..2] {
        let outcome = pass(name, &fresh);
        assert!(
            outcome.status.endpoint_id.is_some(),
            "{name}: {:?}",
            outcome.error
        );
    }
    assert_eq!(creates(), 2);

    let waiting = pass(names[2], &fresh);
    assert_eq!(creates(), 2, "no call without a token");
    assert_eq!(waiting.error, None, "an expected wait, not an error");
    assert_eq!(waiting.requeue, Some(Duration::from_millis(6667)));
    assert!(
        waiting.events.is_empty(),
        "the status says it; no Event on every pass"
    );
    let ready = find_condition(&waiting.status.conditions, ConditionType::Ready).unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "WaitingForApiBudget")
    );
    assert_eq!(
        ready.message,
        "Waiting for EC2 API budget: CreateVpcEndpoint: number 1 of 1 in line for the tokens of this \
         account and region; next try in 6.7 s"
    );
    assert_eq!(waiting.status.endpoint_id, None);

    // Back when told: its token is there.
    clock.advance(Duration::from_millis(6667));
    let created = pass(names[2], &waiting.status);
    assert_eq!(created.error.map(|e| e.kind), None::<ErrorKind>);
    assert!(created.status.endpoint_id.is_some());
    assert_eq!(creates(), 3);
    assert!(
        sim.calls().iter().all(|c| c.succeeded()),
        "EC2 never throttled anyone"
    );
}

#[test]
fn ec2_throttling_a_create_is_a_wait_for_the_budget_not_a_failure() {
    let clock = SimClock::new();
    let sim = Arc::new(SimEc2::with_config(
        &incident::world(),
        clock.clone(),
        SimConfig::default(),
    ));
    let ec2 = BudgetedEc2::new(
        sim.clone(),
        Arc::new(AccountBudget::new(0.5)),
        Arc::new(clock.clone()),
        Arc::new(NoObserver),
    );
    // Another tool spent the account's create tokens.
    sim.inject_error(
        Ec2Operation::CreateVpcEndpoint,
        "RequestLimitExceeded",
        "Request limit exceeded.",
        1,
    );
    let spec = incident::spec(RemediationMode::Approval);
    let owner = incident::owner();
    let config = Config::default();
    let status = InterfaceEndpointStatus::default();
    let request = ReconcileRequest {
        spec: &spec,
        generation: Some(1),
        owner: &owner,
        deleting: false,
        status: &status,
        config: &config,
        now: clock.timestamp(),
        observations: None,
        resolver: None,
    };
    let outcome = futures::executor::block_on(reconcile(&ec2, &request, &Timing::default()));
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.requeue, Some(Duration::from_secs(1)));
    let ready = find_condition(&outcome.status.conditions, ConditionType::Ready).unwrap();
    assert_eq!(ready.reason, "WaitingForApiBudget");
    assert!(
        ready.message.contains("EC2 throttled CreateVpcEndpoint"),
        "{}",
        ready.message
    );
    assert_eq!(ec2.budget().share(clock.now()), 0.25, "the share shrank");

    clock.advance(Duration::from_secs(1));
    let request = ReconcileRequest {
        status: &outcome.status,
        now: clock.timestamp(),
        ..request
    };
    let created = futures::executor::block_on(reconcile(&ec2, &request, &Timing::default()));
    assert_eq!(created.error, None);
    assert!(created.status.endpoint_id.is_some(), "created on the next pass");
}
