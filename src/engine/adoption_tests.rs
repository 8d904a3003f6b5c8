//! Endpoints that exist already, over the simulated world: one made by Terraform is adopted,
//! verified and from then on managed (its pre-existing rules never revoked); a restored object
//! takes over its earlier endpoint and rules instead of making a second; another cluster's
//! object of the same name is kept off both.

use super::incident::{self, SG_ENDPOINT, SG_ZABBIX, SUBNET_PRIVATE_A, SUBNET_PRIVATE_C};
use super::tests::Harness;
use crate::api::{Adopt, CLUSTER_TAG, DeletionPolicy, Owner, RemediationMode, RolloutPhase, UID_TAG};
use crate::aws::{CreateVpcEndpoint, Ec2, Ec2Operation};
use crate::model::{Tag, tags_from};
use crate::plan::{Config, EventReason};

fn cluster(name: &str) -> Config {
    Config {
        cluster_name: Some(name.into()),
        ..Config::default()
    }
}

fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

/// The incident's endpoint as Terraform made it a while ago: private DNS on, the endpoint's
/// group admitting the Lambda only (the incident), none of vpce-rollout's tags.
async fn made_by_terraform(h: &Harness) -> String {
    let created = h
        .sim
        .create_vpc_endpoint(&CreateVpcEndpoint {
            vpc_id: incident::VPC.into(),
            service_name: incident::SERVICE.into(),
            subnet_ids: vec![SUBNET_PRIVATE_A.into(), SUBNET_PRIVATE_C.into()],
            security_group_ids: vec![SG_ENDPOINT.into()],
            policy_document: None,
            client_token: "terraform-20240101".into(),
            service_region: None,
            ip_address_type: None,
            dns_record_ip_type: None,
            subnet_configurations: Vec::new(),
            tags: tags_from([("ManagedBy", "terraform")]),
        })
        .await
        .unwrap();
    let id = created.value.vpc_endpoint_id;
    h.sim.clock().advance(std::time::Duration::from_secs(600));
    h.sim.set_private_dns_out_of_band(&id, true).unwrap();
    h.sim.clock().advance(std::time::Duration::from_secs(600));
    h.sim.clear_calls();
    id
}

#[tokio::test]
async fn an_endpoint_made_by_terraform_is_adopted_its_cut_off_client_fixed_and_then_managed() {
    let mut h = Harness::new(RemediationMode::Auto);
    let id = made_by_terraform(&h).await;
    let lambda_rule = h
        .sim
        .rules()
        .into_iter()
        .find(|r| r.group_id == SG_ENDPOINT && !r.is_egress)
        .expect("the incident's rule admitting the Lambda, Terraform's");
    h.config = cluster("blue");
    h.edit(|spec| {
        spec.adopt = Some(Adopt {
            vpc_endpoint_id: id.clone(),
        })
    });
    h.run_until(RolloutPhase::Ready, 20).await;

    // Private DNS was on and the Zabbix agent cut off: the pass that takes the endpoint over
    // says so first (Degraded rather than Adopting), the next one adds the rule.
    assert_eq!(
        h.phases,
        [
            RolloutPhase::Degraded,
            RolloutPhase::Degraded,
            RolloutPhase::Ready
        ]
    );
    let first: Vec<EventReason> = h.events.iter().take(3).map(|e| e.reason).collect();
    assert_eq!(
        first,
        [
            EventReason::EndpointAvailable,
            EventReason::Degraded,
            EventReason::EndpointAdopted
        ]
    );
    assert_eq!(
        h.mutations(Ec2Operation::CreateVpcEndpoint),
        0,
        "no second endpoint"
    );
    let endpoints = h.owned_endpoints();
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0].vpc_endpoint_id, id);
    assert_eq!(tag(&endpoints[0].tags, CLUSTER_TAG), Some("blue"));
    assert_eq!(
        tag(&endpoints[0].tags, "ManagedBy"),
        Some("terraform"),
        "its own tags stay"
    );
    assert!(
        h.sim
            .mutations()
            .iter()
            .all(|c| c.operation != Ec2Operation::ModifyVpcEndpoint),
        "private DNS was never toggled: {:?}",
        h.sim.mutations()
    );
    assert!(h.owned_rules().iter().any(|r| {
        r.group_id == SG_ENDPOINT
            && r.referenced_group_info.as_ref().map(|g| g.group_id.as_str()) == Some(SG_ZABBIX)
    }));
    assert!(h.event_reasons().contains(&EventReason::EndpointAdopted));

    // Managed from now on: deleting the object deletes it and the rule the controller added,
    // and never Terraform's rule.
    h.deleting = true;
    h.run_until_finalized(30).await;
    assert!(
        h.sim
            .endpoints()
            .iter()
            .all(|e| e.state_lower() == "deleted" || e.vpc_endpoint_id != id),
        "{:?}",
        h.sim.endpoints()
    );
    assert!(h.owned_rules().is_empty());
    assert!(
        h.sim
            .rules()
            .iter()
            .any(|r| r.security_group_rule_id == lambda_rule.security_group_rule_id),
        "a rule that existed before is never the object's"
    );
}

#[tokio::test]
async fn a_restored_object_takes_its_endpoint_over_and_another_cluster_s_object_of_the_same_name_cannot() {
    let mut blue = Harness::new(RemediationMode::Auto);
    blue.config = cluster("blue");
    blue.run_until(RolloutPhase::Ready, 40).await;
    let endpoint = blue.owned_endpoints()[0].vpc_endpoint_id.clone();
    assert_eq!(tag(&blue.owned_endpoints()[0].tags, CLUSTER_TAG), Some("blue"));
    assert_eq!(blue.owned_rules().len(), 1);

    // Velero restores the object: a new UID, no status, the same cluster.
    let restored_owner = Owner {
        uid: "d1f0c4a2-9e8b-4c7d-a6f5-0e1d2c3b4a59".into(),
        ..incident::owner()
    };
    let mut restored = blue.beside(blue.spec.clone(), restored_owner.clone());
    restored.config = cluster("blue");
    blue.sim.clear_calls();
    restored.run_until(RolloutPhase::Ready, 20).await;
    assert_eq!(
        restored.phases[0],
        RolloutPhase::Adopting,
        "{:?}",
        restored.phases
    );
    assert_eq!(restored.mutations(Ec2Operation::CreateVpcEndpoint), 0);
    let endpoints = restored.owned_endpoints();
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0].vpc_endpoint_id, endpoint);
    let rules = restored.owned_rules();
    assert_eq!(rules.len(), 1, "the earlier object's rule is the restored one's");
    assert_eq!(tag(&rules[0].tags, UID_TAG), Some(restored_owner.uid.as_str()));
    assert!(restored.event_reasons().contains(&EventReason::RulesAdopted));

    // A second cluster applies the same manifests: its object of the same name is refused.
    let green_owner = Owner {
        uid: "0a9b8c7d-6e5f-4a3b-8c1d-2e3f4a5b6c7d".into(),
        ..incident::owner()
    };
    let mut green = blue.beside(blue.spec.clone(), green_owner);
    green.config = cluster("green");
    blue.sim.clear_calls();
    for _ in 0..3 {
        green.pass().await;
    }
    assert_eq!(green.status.phase, RolloutPhase::Failed);
    let ready = green
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready.reason, "ManagedByAnotherCluster", "{}", ready.message);
    assert!(ready.message.contains("cluster blue"), "{}", ready.message);
    assert!(green.sim.mutations().is_empty(), "{:?}", green.sim.mutations());

    // The restored object deletes what it took over, the rule included.
    restored.spec.deletion_policy = Some(DeletionPolicy::Delete);
    restored.deleting = true;
    restored.run_until_finalized(30).await;
    assert!(restored.owned_rules().is_empty());
    assert!(
        !restored.sim.rules().iter().any(|r| r.group_id == SG_ENDPOINT
            && r.referenced_group_info
                .as_ref()
                .is_some_and(|g| g.group_id == SG_ZABBIX)),
        "revoked"
    );
}
