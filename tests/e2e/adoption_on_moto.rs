//! The walk-through of docs/operations.md, "From Terraform to vpce-rollout, and back", with the
//! real binary on moto: an endpoint Terraform made is previewed in observe-only, taken over
//! (tagged, never re-created, private DNS never toggled), then handed back (Retain, the object
//! deleted, the endpoint and its rules intact); a re-created object of the same name takes it
//! over again by its tags, and once those tags are removed (as `terraform apply` does when
//! Terraform owns it again) the controller leaves it alone.

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification, VpcEndpointType};
use kube::api::Api;
use vpce_rollout::api::{CLUSTER_TAG, InterfaceEndpoint, OWNER_TAG, RolloutPhase, UID_TAG};
use vpce_rollout::aws::{Ec2, EndpointFilter};
use vpce_rollout::model::VpcEndpoint;

use crate::bench::{Bench, MotoBench, logs_service};
use crate::binary_on_moto::{Binary, PATIENCE, example_for, free_port};
use crate::harness::{self, assert_events, create_namespace, wait_for, wait_gone};

const NS: &str = "platform-network";

fn tag<'a>(endpoint: &'a VpcEndpoint, key: &str) -> Option<&'a str> {
    endpoint
        .tags
        .iter()
        .find(|t| t.key == key)
        .map(|t| t.value.as_str())
}

fn phase_is(phase: RolloutPhase) -> impl Fn(&InterfaceEndpoint) -> bool {
    move |o| o.status.as_ref().is_some_and(|s| s.phase == phase)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_made_by_terraform_is_taken_over_and_handed_back() {
    let (cluster, client) = harness::cluster().await;
    harness::grant_everything(&client).await;
    let kubeconfig = cluster.kubeconfig_path().to_path_buf();
    let kubectl = cluster.kubectl();
    create_namespace(&client, NS).await;
    let bench = MotoBench::incident().await;

    // What Terraform made: private DNS on, the endpoint's group admitting the Lambda only.
    let made = bench
        .client()
        .create_vpc_endpoint()
        .vpc_endpoint_type(VpcEndpointType::Interface)
        .vpc_id(bench.id("main"))
        .service_name(logs_service())
        .subnet_ids(bench.id("main-a"))
        .subnet_ids(bench.id("main-b"))
        .security_group_ids(bench.id("endpoint-sg"))
        .private_dns_enabled(true)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::VpcEndpoint)
                .tags(Tag::builder().key("ManagedBy").value("terraform").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let id = made
        .vpc_endpoint()
        .unwrap()
        .vpc_endpoint_id()
        .unwrap()
        .to_string();
    let setup = bench.account.served_requests().len();
    let log = std::env::temp_dir().join(format!("vpce-rollout-e2e-adopt-{}.log", std::process::id()));
    let metrics = format!("127.0.0.1:{}", free_port());
    let binary = Binary::spawn(
        &kubeconfig,
        &bench,
        log,
        &["run", "--metrics-address", &metrics, "--resync", "3s"],
        &[("VPCE_ROLLOUT_CLUSTER_NAME", "blue"), ("RUST_LOG", "info")],
    );
    binary.wait_ready().await;
    let ec2 = bench.port();
    let endpoints = || async {
        let filter = EndpointFilter {
            vpc_id: Some(bench.id("main")),
            ..Default::default()
        };
        ec2.describe_vpc_endpoints(&filter)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.state_lower() != "deleted")
            .collect::<Vec<_>>()
    };
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), NS);

    // 1. Preview: the object names the endpoint and observes only.
    let manifest = |observe_only: bool| {
        example_for("cloudwatch-logs-auto.yaml", &bench, |doc| {
            doc["metadata"]["namespace"] = NS.into();
            doc["metadata"]["name"] = "logs".into();
            doc["spec"]["adopt"]["vpcEndpointId"] = id.clone().into();
            doc["spec"]["observeOnly"] = observe_only.into();
        })
    };
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&manifest(true)));
    let previewed = wait_for(&api, "logs", PATIENCE, "the preview", |o| {
        o.status.as_ref().is_some_and(|s| {
            s.observe_only
                .as_ref()
                .is_some_and(|x| !x.would_change.is_empty())
        })
    })
    .await;
    let would = previewed.status.unwrap().observe_only.unwrap().would_change;
    assert!(
        would[0].starts_with(&format!("CreateTags {id}: ")),
        "the takeover is what it would do: {would:?}"
    );
    let served = bench.account.served_requests();
    let changes: Vec<&str> = served[setup..]
        .iter()
        .map(|r| r.action.as_str())
        .filter(|a| !(a.starts_with("Describe") || a.starts_with("Get")))
        .collect();
    assert!(changes.is_empty(), "the preview changed something: {changes:?}");

    // 2. Adopt: the object may act. Private DNS is on and the Zabbix agent cut off: the rule
    //    that admits it is added, nothing else changes.
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&manifest(false)));
    let ready = wait_for(&api, "logs", PATIENCE, "Ready", phase_is(RolloutPhase::Ready)).await;
    let uid = ready.metadata.uid.clone().unwrap();
    let live = endpoints().await;
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].vpc_endpoint_id, id);
    assert!(live[0].private_dns_enabled);
    assert_eq!(tag(&live[0], OWNER_TAG), Some("platform-network/logs"));
    assert_eq!(tag(&live[0], UID_TAG), Some(uid.as_str()));
    assert_eq!(tag(&live[0], CLUSTER_TAG), Some("blue"));
    assert_eq!(tag(&live[0], "ManagedBy"), Some("terraform"), "its own tags stay");
    let actions: Vec<String> = bench.account.served_requests()[setup..]
        .iter()
        .map(|r| r.action.clone())
        .collect();
    for never in ["CreateVpcEndpoint", "ModifyVpcEndpoint", "DeleteVpcEndpoints"] {
        assert!(!actions.iter().any(|a| a == never), "{never} in {actions:?}");
    }
    assert!(actions.iter().any(|a| a == "CreateTags"), "{actions:?}");
    assert_events(&client, NS, "logs", &["EndpointAdopted"]).await;

    // 3. Back: Retain, then delete the object. Nothing changes in AWS.
    kubectl.run(&[
        "-n",
        NS,
        "patch",
        "vpce",
        "logs",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"deletionPolicy":"Retain"}}"#,
    ]);
    wait_for(&api, "logs", PATIENCE, "Retain in status", |o| {
        o.status
            .as_ref()
            .and_then(|s| s.deletion_policy)
            .is_some_and(|p| p.as_str() == "Retain")
    })
    .await;
    kubectl.run(&["-n", NS, "delete", "vpce", "logs", "--wait=false"]);
    wait_gone(&api, "logs", PATIENCE).await;
    let kept = endpoints().await;
    assert_eq!(kept.len(), 1);
    assert!(kept[0].is_available() && kept[0].private_dns_enabled, "{kept:?}");

    // A re-created object of the same name in this cluster takes it over again by its tags.
    let again = example_for("cloudwatch-logs-auto.yaml", &bench, |doc| {
        doc["metadata"]["namespace"] = NS.into();
        doc["metadata"]["name"] = "logs".into();
        doc["spec"]["deletionPolicy"] = "Retain".into();
    });
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&again));
    let restored = wait_for(
        &api,
        "logs",
        PATIENCE,
        "Ready again",
        phase_is(RolloutPhase::Ready),
    )
    .await;
    let live = endpoints().await;
    assert_eq!(live.len(), 1, "no second endpoint: {live:?}");
    assert_eq!(
        tag(&live[0], UID_TAG),
        restored.metadata.uid.as_deref(),
        "the new object's now"
    );

    // Terraform takes it back: the object goes (Retain), and the controller's tags with the
    // next `terraform apply` of a config that does not name them.
    kubectl.run(&["-n", NS, "delete", "vpce", "logs", "--wait=false"]);
    wait_gone(&api, "logs", PATIENCE).await;
    bench
        .client()
        .delete_tags()
        .resources(&id)
        .tags(Tag::builder().key(OWNER_TAG).build())
        .tags(Tag::builder().key(UID_TAG).build())
        .tags(Tag::builder().key(CLUSTER_TAG).build())
        .send()
        .await
        .unwrap();
    let handed = endpoints().await;
    assert_eq!(handed.len(), 1);
    assert!(
        handed[0]
            .tags
            .iter()
            .all(|t| !t.key.starts_with("vpce-rollout.dev/"))
    );
    assert!(handed[0].private_dns_enabled, "serving all along");
    drop(binary);
}
