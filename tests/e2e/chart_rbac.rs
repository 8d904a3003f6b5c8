//! The controller with exactly what the Helm chart deploys. charts/vpce-rollout is installed by
//! Helm's own library (.ci/helm_install.py) into the real kube-apiserver; then two replicas of
//! the binary run as the chart's Deployment would run them: its arguments and environment, and
//! the token of its ServiceAccount, so that RBAC lets them do what the chart's ClusterRole and
//! Roles grant and nothing more. A rollout with approval and a deletion go through on moto,
//! and kube-apiserver's audit log shows that not one request of that ServiceAccount was
//! refused: a permission the chart forgets fails this test. The second test takes one rule out
//! of the installed ClusterRole and sees the controller's call refused, by name.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kube::api::Api;
use kube_apiserver_harness::{ControlPlane, Kubectl};
use serde_json::{Value, json};
use vpce_rollout::api::{InterfaceEndpoint, RolloutPhase};

use crate::bench::MotoBench;
use crate::binary_on_moto::{Binary, PATIENCE, example_for, free_port, watch_phases};
use crate::harness::{self, create_namespace, wait_gone};
use crate::moto::REGION;

const RELEASE: &str = "vpce-rollout";
const RELEASE_NS: &str = "vpce-system";

/// `helm install vpce-rollout charts/vpce-rollout -n vpce-system --create-namespace` with
/// `values`, by Helm's library; the manifest Helm applied.
fn helm_install(kubeconfig: &Path, values: &Value) -> String {
    let out = Command::new("python3")
        .arg(harness::repo().join(".ci/helm_install.py"))
        .arg(kubeconfig)
        .arg(RELEASE_NS)
        .arg(RELEASE)
        .arg(values.to_string())
        .output()
        .expect("python3 runs .ci/helm_install.py");
    assert!(
        out.status.success(),
        "helm install failed (Helm's library comes from .ci/install-helm-lib.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What the chart's Deployment runs: its ServiceAccount, the container's arguments, and its
/// environment for the pod `pod` (the downward API's fields resolved as the kubelet would).
struct Deployed {
    service_account: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

fn deployed(kubectl: &Kubectl, pod: &str) -> Deployed {
    let deployment: Value =
        serde_json::from_str(&kubectl.run(&["-n", RELEASE_NS, "get", "deployment", RELEASE, "-o", "json"]))
            .unwrap();
    let spec = &deployment["spec"]["template"]["spec"];
    let container = &spec["containers"][0];
    let env = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|var| {
            let name = var["name"].as_str().unwrap().to_string();
            let value = match (&var["value"], var["valueFrom"]["fieldRef"]["fieldPath"].as_str()) {
                (Value::String(v), _) => v.clone(),
                (_, Some("metadata.name")) => pod.to_string(),
                (_, Some("metadata.namespace")) => RELEASE_NS.to_string(),
                // The process runs here, in no VPC: the DNS check says it cannot check.
                (_, Some("status.podIP")) => "127.0.0.1".to_string(),
                _ => panic!("the test cannot resolve {var} of the chart's Deployment"),
            };
            (name, value)
        })
        .collect();
    Deployed {
        service_account: spec["serviceAccountName"].as_str().unwrap().to_string(),
        args: container["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect(),
        env,
    }
}

/// (verb, group/resource[/subresource], response code) of every request `user` made.
fn requests_of(audit_log: &str, user: &str) -> BTreeSet<(String, String, i64)> {
    audit_log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["user"]["username"] == user)
        .map(|event| {
            let object = &event["objectRef"];
            let mut resource = format!(
                "{}/{}",
                object["apiGroup"].as_str().unwrap_or(""),
                object["resource"].as_str().unwrap_or("")
            );
            if let Some(sub) = object["subresource"].as_str() {
                resource = format!("{resource}/{sub}");
            }
            (
                event["verb"].as_str().unwrap().to_string(),
                resource,
                event["responseStatus"]["code"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

/// The requests of `user` that RBAC refused (403), from the audit log.
fn refused_requests(cluster: &ControlPlane, user: &str) -> Vec<(String, String, i64)> {
    requests_of(&cluster.audit_log(), user)
        .into_iter()
        .filter(|(_, _, code)| *code == 403)
        .collect()
}

/// `system:serviceaccount:<release namespace>:<ServiceAccount>`: who the chart's Pods are.
fn chart_user() -> String {
    format!("system:serviceaccount:{RELEASE_NS}:{RELEASE}")
}

/// The chart installed by Helm (its CRDs included, Established), with `rbac` run on its
/// ClusterRole's rules before anything runs; then two replicas of the binary as the chart's
/// Deployment runs them, ready, and an admin client.
async fn the_chart_deployed(
    rbac: impl FnOnce(&mut Vec<Value>),
) -> (ControlPlane, kube::Client, MotoBench, Vec<Binary>) {
    // Helm installs the CRDs from the chart's crds/ itself.
    let (cluster, client) = harness::cluster_without_crds().await;
    let admin = cluster.kubectl();
    // The single-team grant, as the chart makes it: the rollout needs a grant.
    let values = json!({"privateDnsTtl": "2s", "aws": {"region": REGION}, "singleTeamGrant": {"enabled": true},
               "image": {"repository": "registry.example.com/vpce-rollout"}});
    let manifest = helm_install(cluster.kubeconfig_path(), &values);
    assert!(manifest.contains("kind: ClusterRole\n"), "{manifest}");
    admin.wait_established(&["crd/interfaceendpoints.vpce-rollout.dev"]);
    let mut role: Value =
        serde_json::from_str(&admin.run(&["get", "clusterrole", RELEASE, "-o", "json"])).unwrap();
    rbac(role["rules"].as_array_mut().unwrap());
    admin.run_with_input(&["replace", "-f", "-"], Some(&role.to_string()));

    let bench = MotoBench::incident().await;
    let mut replicas = Vec::new();
    for pod in ["vpce-rollout-0", "vpce-rollout-1"] {
        let deployed = deployed(&admin, pod);
        let kubeconfig = cluster.service_account_kubeconfig(RELEASE_NS, &deployed.service_account);
        let mut env = deployed.env.clone();
        env.retain(|(name, _)| name != "VPCE_ROLLOUT_METRICS_ADDRESS");
        let metrics = format!("127.0.0.1:{}", free_port());
        env.push(("VPCE_ROLLOUT_METRICS_ADDRESS".into(), metrics));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: Vec<&str> = deployed.args.iter().map(String::as_str).collect();
        let log = std::env::temp_dir().join(format!("vpce-rollout-chart-{pod}-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&log);
        replicas.push(Binary::spawn(&kubeconfig, &bench, log, &args, &env));
    }
    for replica in &replicas {
        replica.wait_ready().await;
    }
    (cluster, client, bench, replicas)
}

/// The app team's side, as the admin: the incident example in `ns`, ingress by approval.
async fn apply_the_incident(cluster: &ControlPlane, client: &kube::Client, bench: &MotoBench, ns: &str) {
    create_namespace(client, ns).await;
    let endpoint = example_for("cloudwatch-logs.yaml", bench, |doc| {
        doc["metadata"]["namespace"] = ns.into();
        doc["spec"]["remediation"] = serde_yaml::from_str("{endpointIngress: Approval}").unwrap();
    });
    cluster
        .kubectl()
        .run_with_input(&["apply", "-f", "-"], Some(&endpoint));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_needs_no_permission_the_chart_does_not_grant() {
    let (cluster, client, bench, replicas) = the_chart_deployed(|_| {}).await;
    let admin = cluster.kubectl();
    let ns = "platform-network";
    apply_the_incident(&cluster, &client, &bench, ns).await;
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), ns);
    let user = chart_user();
    // Checked on every look, so that a refusal fails the test with its name at once, not as
    // a rollout that never moves.
    let nothing_refused = async |_: &InterfaceEndpoint| {
        let refused = refused_requests(&cluster, &user);
        assert!(
            refused.is_empty(),
            "the chart's RBAC refused the controller {refused:?}; all its requests: {:#?}",
            requests_of(&cluster.audit_log(), &user)
        );
    };
    let mut phases = Vec::new();
    let phase_is = |phase| move |o: &InterfaceEndpoint| o.status.as_ref().is_some_and(|s| s.phase == phase);
    let waiting = watch_phases(
        &api,
        "logs",
        &mut phases,
        phase_is(RolloutPhase::AwaitingApproval),
        nothing_refused,
    )
    .await;
    let plan = waiting.status.clone().unwrap().plan.unwrap();
    let approve = format!(r#"{{"spec":{{"approval":{{"planId":"{}"}}}}}}"#, plan.id);
    admin.run(&["-n", ns, "patch", "vpce", "logs", "--type=merge", "-p", &approve]);
    watch_phases(
        &api,
        "logs",
        &mut phases,
        phase_is(RolloutPhase::Ready),
        nothing_refused,
    )
    .await;
    admin.run(&["-n", ns, "delete", "vpce", "logs", "--wait=false"]);
    wait_gone(&api, "logs", PATIENCE).await;
    nothing_refused(&waiting).await;

    let requests = requests_of(&cluster.audit_log(), &user);
    let made: BTreeSet<(&str, &str)> = requests
        .iter()
        .map(|(v, r, _)| (v.as_str(), r.as_str()))
        .collect();
    for call in [
        ("list", "vpce-rollout.dev/interfaceendpoints"),
        ("watch", "vpce-rollout.dev/interfaceendpoints"),
        ("patch", "vpce-rollout.dev/interfaceendpoints"),
        ("patch", "vpce-rollout.dev/interfaceendpoints/status"),
        ("create", "events.k8s.io/events"),
        ("get", "coordination.k8s.io/leases"),
        ("update", "coordination.k8s.io/leases"),
    ] {
        assert!(
            made.contains(&call),
            "the run made no {call:?}, so it checked nothing of it: {made:#?}"
        );
    }
    drop(replicas);
}

/// The check above can fail: the chart's ClusterRole without its rule for the status, as if
/// rbac.yaml forgot it, and the controller's first status write is refused, by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_the_chart_forgets_is_a_refused_request_named_in_the_audit_log() {
    let status_rule = json!({
        "apiGroups": ["vpce-rollout.dev"],
        "resources": ["interfaceendpoints/status"],
        "verbs": ["patch"],
    });
    let (cluster, client, bench, replicas) = the_chart_deployed(|rules| {
        let before = rules.len();
        rules.retain(|rule| *rule != status_rule);
        assert_eq!(
            rules.len(),
            before - 1,
            "the chart grants {status_rule}: {rules:?}"
        );
    })
    .await;
    apply_the_incident(&cluster, &client, &bench, "platform-network").await;

    let forgotten = (
        "patch".to_string(),
        "vpce-rollout.dev/interfaceendpoints/status".to_string(),
        403,
    );
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let user = chart_user();
    loop {
        let refused = refused_requests(&cluster, &user);
        if !refused.is_empty() {
            assert_eq!(refused, [forgotten], "only the status write is refused");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no request refused in {PATIENCE:?}: {:#?}",
            requests_of(&cluster.audit_log(), &user)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(replicas);
}
