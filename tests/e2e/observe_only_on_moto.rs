//! The real binary with `--observe-only` against moto: it discovers, analyses and reports what
//! it would do, and moto serves it no mutating call at all.

use kube::api::Api;
use vpce_rollout::api::{InterfaceEndpoint, RolloutPhase};
use vpce_rollout::aws::{Ec2, EndpointFilter};

use crate::bench::{Bench, MotoBench};
use crate::binary_on_moto::{Binary, PATIENCE, example_for, free_port};
use crate::harness::{self, assert_events, create_namespace, event_reasons, wait_for, wait_gone};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_with_observe_only_reports_what_it_would_do_and_moto_serves_it_no_mutation() {
    let (cluster, client) = harness::cluster().await;
    harness::grant_everything(&client).await;
    let kubeconfig = cluster.kubeconfig_path().to_path_buf();
    let kubectl = cluster.kubectl();
    let ns = "platform-network";
    create_namespace(&client, ns).await;
    let bench = MotoBench::incident().await;
    // What moto served to build the world is not the controller's.
    let setup = bench.account.served_requests().len();
    let log = std::env::temp_dir().join(format!("vpce-rollout-e2e-observe-{}.log", std::process::id()));
    let metrics = format!("127.0.0.1:{}", free_port());
    let binary = Binary::spawn(
        &kubeconfig,
        &bench,
        log,
        &["run", "--metrics-address", &metrics],
        &[("VPCE_ROLLOUT_OBSERVE_ONLY", "true"), ("RUST_LOG", "info")],
    );
    binary.wait_ready().await;

    // In Auto mode a controller that may act would create the endpoint and add a rule.
    let manifest = example_for("cloudwatch-logs-auto.yaml", &bench, |doc| {
        doc["metadata"]["namespace"] = ns.into();
        doc["metadata"]["name"] = "logs".into();
    });
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&manifest));
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), ns);
    let observed = wait_for(&api, "logs", PATIENCE, "a status that observes only", |o| {
        o.status.as_ref().is_some_and(|s| {
            s.observe_only
                .as_ref()
                .is_some_and(|x| !x.would_change.is_empty())
        })
    })
    .await;
    let status = observed.status.clone().unwrap();
    assert_eq!(status.phase, RolloutPhase::Creating, "what it would do next");
    let observe = status.observe_only.unwrap();
    assert_eq!(observe.by, "--observe-only");
    assert!(
        observe.would_change[0].starts_with("CreateVpcEndpoint: "),
        "{observe:?}"
    );
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert!(
        ready
            .message
            .starts_with("Observing only (--observe-only): would make 1 AWS call"),
        "{}",
        ready.message
    );
    assert!(
        observed.metadata.finalizers.unwrap_or_default().is_empty(),
        "no finalizer on an object observed only"
    );
    assert_events(&client, ns, "logs", &["WouldChange"]).await;

    // A spec edit wakes it again: still nothing.
    kubectl.run(&[
        "-n",
        ns,
        "patch",
        "vpce",
        "logs",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"tags":{"team":"platform"}}}"#,
    ]);
    wait_for(&api, "logs", PATIENCE, "the edit observed", |o| {
        o.status.as_ref().and_then(|s| s.observed_generation) == o.metadata.generation
    })
    .await;

    // What moto served the controller: reads only (Describe*, Get*: EC2 and STS).
    let served = bench.account.served_requests();
    let by_controller: Vec<&str> = served[setup..].iter().map(|r| r.action.as_str()).collect();
    assert!(
        by_controller.contains(&"DescribeVpcEndpoints"),
        "it observed: {by_controller:?}"
    );
    let changes: Vec<&&str> = by_controller
        .iter()
        .filter(|a| !(a.starts_with("Describe") || a.starts_with("Get")))
        .collect();
    assert!(changes.is_empty(), "mutating calls reached moto: {changes:?}");
    let filter = EndpointFilter::default();
    assert!(
        bench
            .port()
            .describe_vpc_endpoints(&filter)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !event_reasons(&client, ns, "logs")
            .await
            .iter()
            .any(|r| r == "EndpointCreated"),
        "no Event reports a change"
    );

    // Deleting it leaves AWS as it is, at once: there is no finalizer to wait for.
    kubectl.run(&["-n", ns, "delete", "vpce", "logs", "--wait=false"]);
    wait_gone(&api, "logs", PATIENCE).await;
    drop(binary);
}
