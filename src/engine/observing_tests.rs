//! Passes on the VPC's shared snapshot: what rests on it, and what is decided again on a fresh
//! one (the switch above all).

use std::sync::Arc;
use std::time::Duration;

use super::incident::{self, SUBNET_PRIVATE_A};
use super::tests::Harness;
use crate::api::{Owner, RemediationMode, RolloutPhase};
use crate::aws::Ec2Operation;
use crate::aws::observation::{Need, Service, Subscriber, VpcKey, VpcObservations};
use crate::aws::sim::aws_service;
use crate::model::{GroupIdentifier, NetworkInterface, SecurityGroup};
use crate::plan::Action;

fn shared(mut h: Harness) -> Harness {
    h.observations = Some(Arc::new(VpcObservations::new()));
    h
}

fn switches_private_dns_on(action: &Action) -> bool {
    matches!(action, Action::ModifyEndpoint(m) if m.private_dns_enabled == Some(true))
}

#[tokio::test]
async fn a_client_added_after_the_shared_snapshot_keeps_private_dns_off() {
    let mut h = shared(Harness::new(RemediationMode::Auto));
    // Up to the rules: the next pass would turn private DNS on.
    for _ in 0..20 {
        let out = h.pass().await;
        if out
            .performed
            .iter()
            .any(|a| matches!(a, Action::AuthorizeRules(_)))
        {
            break;
        }
    }
    assert!(!h.owned_endpoints()[0].private_dns_enabled);

    // Another object of the VPC refreshes the shared snapshot: it shows the rules just added.
    let observations = h.observations.clone().unwrap();
    let key = VpcKey {
        account: h.sim.config().account_id,
        region: Some(incident::REGION.into()),
        vpc_id: incident::VPC.into(),
    };
    let other = Subscriber {
        owner_tag: "team/other".into(),
        service: Service::new(incident::SERVICE, None),
    };
    let need = Need {
        now: h.sim.clock().timestamp(),
        max_age: h.timing.resync,
        begun_after: Some(observations.ticket()),
        forget_after: Duration::from_secs(900),
        despite_own_change: false,
    };
    observations.observe(&*h.sim, &key, &other, &need).await.unwrap();

    // Then a client appears that the endpoint's group does not admit.
    let group = SecurityGroup {
        group_id: "sg-0123456789abcdef7".into(),
        vpc_id: Some(incident::VPC.into()),
        ip_permissions_egress: incident::world().security_groups[2].ip_permissions_egress.clone(),
        ..Default::default()
    };
    h.sim.add_security_group(group.clone());
    h.sim
        .add_network_interface(NetworkInterface {
            subnet_id: SUBNET_PRIVATE_A.into(),
            interface_type: Some("interface".into()),
            groups: vec![GroupIdentifier {
                group_id: group.group_id.clone(),
                group_name: None,
            }],
            ..Default::default()
        })
        .unwrap();

    // On the shared snapshot, every client it knows can reach the endpoint: the switch. The
    // pass looks again before acting, sees the new client, and admits it instead.
    let before = observations.stats();
    let out = h.pass().await;
    let after = observations.stats();
    assert_eq!(
        after.shared,
        before.shared + 1,
        "the pass began on the shared snapshot"
    );
    assert_eq!(
        after.refreshes,
        before.refreshes + 1,
        "and looked again before acting"
    );
    assert!(
        !out.performed.iter().any(switches_private_dns_on),
        "{:?}",
        out.performed
    );
    assert!(!h.owned_endpoints()[0].private_dns_enabled);
    assert!(
        h.owned_rules()
            .iter()
            .any(|r| r.referenced_group_info.as_ref().map(|g| g.group_id.as_str())
                == Some(group.group_id.as_str())),
        "the new client's rule is added instead"
    );
    // Every pass checks that private DNS never went on with a blocked client.
    h.run_until(RolloutPhase::Ready, 10).await;
}

/// `n` objects in the incident's VPC, each with a service of its own (one VPC holds one
/// endpoint with private DNS per service), rolled out to Ready on one shared registry.
async fn ready_objects(n: usize) -> Vec<Harness> {
    let first = shared(Harness::new(RemediationMode::Auto));
    let mut objects = Vec::new();
    for i in 0..n {
        let service = format!("com.amazonaws.{}.svc{i}", incident::REGION);
        first.sim.add_service(aws_service(
            incident::REGION,
            &format!("svc{i}"),
            &["ap-northeast-1a", "ap-northeast-1c"],
        ));
        let mut spec = first.spec.clone();
        spec.service_name = service;
        let owner = Owner {
            name: format!("svc{i}"),
            uid: format!("uid-{i}"),
            ..incident::owner()
        };
        objects.push(first.beside(spec, owner));
    }
    // Side by side, as the controller runs them.
    for _ in 0..100 {
        for h in objects
            .iter_mut()
            .filter(|h| h.status.phase != RolloutPhase::Ready)
        {
            h.pass_now().await;
        }
        if objects.iter().all(|h| h.status.phase == RolloutPhase::Ready) {
            return objects;
        }
        first.sim.clock().advance(Duration::from_secs(5));
    }
    panic!(
        "not all Ready: {:?}",
        objects.iter().map(|h| h.status.phase).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn ready_objects_in_one_vpc_share_one_refresh_per_resync_and_change_nothing() {
    let mut objects = ready_objects(4).await;
    let sim = objects[0].sim.clone();
    let resync = objects[0].timing.resync;
    for round in 0..3 {
        sim.clock().advance(resync);
        sim.clear_calls();
        for h in &mut objects {
            let out = h.pass_now().await;
            assert_eq!(out.status.phase, RolloutPhase::Ready);
            assert_eq!(out.requeue, Some(resync));
        }
        let calls = sim.calls();
        let enis = calls
            .iter()
            .filter(|c| c.operation == Ec2Operation::DescribeNetworkInterfaces)
            .count();
        assert_eq!(enis, 1, "round {round}: one refresh for the four objects");
        assert!(
            sim.mutations().is_empty(),
            "round {round}: nothing changes at steady state"
        );
    }
}

#[tokio::test]
async fn a_pending_endpoint_is_looked_at_by_id_and_the_vpc_described_again_once_it_moved() {
    let mut h = shared(Harness::new(RemediationMode::Auto));
    let out = h.pass().await;
    assert!(
        out.performed
            .iter()
            .any(|a| matches!(a, Action::CreateEndpoint(_)))
    );
    h.sim.clear_calls();
    let mut looks_by_id = 0;
    for _ in 0..30 {
        h.pass().await;
        let calls = h.sim.calls();
        h.sim.clear_calls();
        let count = |op| calls.iter().filter(|c| c.operation == op).count();
        let full = count(Ec2Operation::DescribeNetworkInterfaces) > 0;
        if !full {
            // Only the endpoint, by id: EC2 still provisions it.
            assert_eq!(calls.len(), 1, "{calls:?}");
            assert_eq!(count(Ec2Operation::DescribeVpcEndpoints), 1);
            looks_by_id += 1;
        }
        let available = h.owned_endpoints()[0].state.as_deref() == Some("available");
        if available && full {
            // It moved: the VPC was described again, and the rollout goes on.
            assert!(looks_by_id >= 1, "the polls while pending looked by id");
            return;
        }
    }
    panic!("the endpoint never became available");
}

/// After its own change, the pass looks at what it changed (here its endpoint, by id) on top
/// of the shared snapshot, instead of describing the whole VPC again; it rests on that when it
/// has nothing more to do or say.
#[tokio::test]
async fn after_its_own_change_a_pass_looks_at_what_it_changed_not_at_the_whole_vpc() {
    let mut h = shared(Harness::new(RemediationMode::Auto));
    h.run_until(RolloutPhase::Ready, 40).await;
    h.spec.tags.insert("cost-center".into(), "payments".into());
    let out = h.pass_now().await;
    assert!(
        out.performed
            .iter()
            .any(|a| matches!(a, Action::SetEndpointTags { .. })),
        "{:?}",
        out.performed
    );
    let refreshes = h.observations.as_ref().unwrap().stats().refreshes;
    h.sim.clock().advance(Duration::from_secs(2));
    h.sim.clear_calls();
    let out = h.pass_now().await;
    let calls = h.sim.calls();
    assert_eq!(
        calls.iter().map(|c| c.operation).collect::<Vec<_>>(),
        vec![Ec2Operation::DescribeVpcEndpoints],
        "the endpoint by id, and nothing else"
    );
    assert_eq!(h.observations.as_ref().unwrap().stats().refreshes, refreshes);
    assert!(out.performed.is_empty(), "{:?}", out.performed);
    assert!(out.restated);
    assert_eq!(out.status.phase, RolloutPhase::Ready);
    assert_eq!(
        h.owned_endpoints()[0]
            .tags
            .iter()
            .filter(|t| t.key == "cost-center")
            .count(),
        1
    );
}

/// Rules it added are looked at by their group: the pass sees them (and does not add them
/// again); what it then does, it decides on a refresh begun within the pass.
#[tokio::test]
async fn after_adding_rules_the_next_pass_sees_them_through_their_group() {
    let mut h = shared(Harness::new(RemediationMode::Auto));
    let mut authorized = None;
    for _ in 0..20 {
        let out = h.pass().await;
        if let Some(Action::AuthorizeRules(requests)) = out
            .performed
            .iter()
            .find(|a| matches!(a, Action::AuthorizeRules(_)))
        {
            authorized = Some(requests.clone());
            break;
        }
    }
    let authorized = authorized.expect("the rollout adds rules");
    h.sim.clear_calls();
    let out = h.pass_now().await;
    let calls = h.sim.calls();
    let rules_calls = calls
        .iter()
        .take_while(|c| c.operation != Ec2Operation::DescribeNetworkInterfaces)
        .filter(|c| c.operation == Ec2Operation::DescribeSecurityGroupRules)
        .count();
    assert_eq!(
        rules_calls, 1,
        "the groups' rules before anything else: {calls:?}"
    );
    assert!(
        !out.performed
            .iter()
            .any(|a| matches!(a, Action::AuthorizeRules(_))),
        "the rules are not added again: {:?}",
        out.performed
    );
    assert!(authorized.iter().all(|r| !r.rules.is_empty()));
    h.run_until(RolloutPhase::Ready, 20).await;
}
