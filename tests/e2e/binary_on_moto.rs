//! The real `vpce-rollout` binary, as a platform team runs it: a kubeconfig (the real
//! kube-apiserver) and an AWS endpoint URL with credentials (moto through the launcher). Objects
//! are applied and approved with the kubectl of the same Kubernetes release.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use aws_sdk_ec2::types::{IpPermission, IpRange};
use kube::api::Api;
use vpce_rollout::analysis;
use vpce_rollout::api::{InterfaceEndpoint, OWNER_TAG, RolloutPhase, UID_TAG};
use vpce_rollout::aws::observe::{ObserveScope, observe_vpc};
use vpce_rollout::aws::sdk::SdkOptions;
use vpce_rollout::aws::{Ec2, EndpointFilter, RuleFilter};

use crate::bench::{Bench, MotoBench, logs_service};
use crate::harness::{self, assert_events, create_namespace, wait_for};
use crate::moto::{REGION, ServedRequest, moto};

pub const PATIENCE: Duration = Duration::from_secs(90);

/// The record TTL the binary is given (`--private-dns-ttl`): longer than the controller's wait
/// after a change (2 s), so that a deletion that skipped it would show in moto's record.
const PRIVATE_DNS_TTL: Duration = Duration::from_secs(5);

/// The EC2 actions that change something (what the audit trail must cover).
const MUTATIONS: [&str; 8] = [
    "CreateVpcEndpoint",
    "ModifyVpcEndpoint",
    "DeleteVpcEndpoints",
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    "CreateTags",
];

/// The binary, running until dropped; its log goes to a file that failing tests print.
pub struct Binary {
    child: Child,
    log: PathBuf,
    metrics: String,
}

impl Binary {
    pub fn start(kubeconfig: &Path, bench: &MotoBench, log: PathBuf) -> Binary {
        Binary::start_with(kubeconfig, bench, log, &[])
    }

    /// [`Binary::start`] with `env` added (or overriding).
    pub fn start_with(kubeconfig: &Path, bench: &MotoBench, log: PathBuf, env: &[(&str, &str)]) -> Binary {
        let metrics = format!("127.0.0.1:{}", free_port());
        let args = [
            "run",
            "--resync",
            "3s",
            // Moto's records have no TTL; a short one still shows the wait in moto's record.
            "--private-dns-ttl",
            &format!("{}s", PRIVATE_DNS_TTL.as_secs()),
            "--metrics-address",
            &metrics,
        ];
        let mut env = env.to_vec();
        env.push(("RUST_LOG", "info,vpce_rollout=debug"));
        Binary::spawn(kubeconfig, bench, log, &args, &env)
    }

    /// `vpce-rollout ARGS` with only `env` (and PATH) in its environment, plus the kubeconfig,
    /// moto as its AWS and the bench's credentials (unless `env` sets them). `env` must set
    /// `VPCE_ROLLOUT_METRICS_ADDRESS` or `args` `--metrics-address`, on loopback.
    pub fn spawn(
        kubeconfig: &Path,
        bench: &MotoBench,
        log: PathBuf,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Binary {
        let metrics = args
            .iter()
            .position(|a| *a == "--metrics-address")
            .map(|i| args[i + 1])
            .or_else(|| {
                env.iter()
                    .find(|(k, _)| *k == "VPCE_ROLLOUT_METRICS_ADDRESS")
                    .map(|(_, v)| *v)
            })
            .expect("a metrics address")
            .to_string();
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_vpce-rollout"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KUBECONFIG", kubeconfig)
            .env("AWS_ENDPOINT_URL", moto().endpoint_url())
            .env("AWS_ACCESS_KEY_ID", &bench.account.id)
            .env("AWS_SECRET_ACCESS_KEY", "e2e-secret")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().copied())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("the vpce-rollout binary starts");
        Binary { child, log, metrics }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET on the binary's HTTP server: (status line, body).
    pub fn http_get(&self, path: &str) -> (String, String) {
        use std::io::Read;
        let Ok(mut stream) = std::net::TcpStream::connect(&self.metrics) else {
            return (String::new(), String::new());
        };
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        (
            head.lines().next().unwrap_or_default().to_string(),
            body.to_string(),
        )
    }

    pub async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            if self.http_get("/readyz").0.contains(" 200") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the binary never became ready; its log:\n{}", self.log());
    }

    /// Stops it like a crash would (no graceful shutdown).
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- vpce-rollout log ----\n{}", self.log());
        }
    }
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An example from examples/, pointed at the moto world's ids.
pub fn example_for(file: &str, bench: &MotoBench, edit: impl FnOnce(&mut serde_yaml::Value)) -> String {
    let text = std::fs::read_to_string(harness::repo().join("examples").join(file)).unwrap();
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let spec = &mut doc["spec"];
    spec["vpcId"] = bench.id("main").into();
    spec["serviceName"] = logs_service().into();
    spec["subnetIds"] = vec![bench.id("main-a"), bench.id("main-b")].into();
    spec["securityGroupIds"] = vec![bench.id("endpoint-sg")].into();
    edit(&mut doc);
    serde_yaml::to_string(&doc).unwrap()
}

/// Polls the object, recording each new phase, until `done`; asserts `invariant` on every look.
pub async fn watch_phases(
    api: &Api<InterfaceEndpoint>,
    name: &str,
    phases: &mut Vec<RolloutPhase>,
    done: impl Fn(&InterfaceEndpoint) -> bool,
    invariant: impl AsyncFn(&InterfaceEndpoint),
) -> InterfaceEndpoint {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let obj = api.get(name).await.unwrap();
        if let Some(phase) = obj.status.as_ref().map(|s| s.phase)
            && phases.last() != Some(&phase)
        {
            phases.push(phase);
        }
        invariant(&obj).await;
        if done(&obj) {
            return obj;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out; phases so far {phases:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_rolls_out_the_incident_on_moto_with_approval_drift_restart_and_deletion() {
    let (cluster, client) = harness::cluster().await;
    harness::grant_everything(&client).await;
    let kubeconfig = cluster.kubeconfig_path().to_path_buf();
    let kubectl = cluster.kubectl();
    let ns = "platform-network";
    create_namespace(&client, ns).await;
    let bench = MotoBench::incident().await;
    // What moto served to build the world is not the controller's.
    let setup = bench.account.served_requests().len();
    let log = std::env::temp_dir().join(format!("vpce-rollout-e2e-{}.log", std::process::id()));
    let binary = Binary::start(&kubeconfig, &bench, log.clone());
    binary.wait_ready().await;

    // The app team's endpoint: the incident example, ingress rules by approval.
    let manifest = example_for("cloudwatch-logs.yaml", &bench, |doc| {
        doc["spec"]["remediation"] = serde_yaml::from_str("{endpointIngress: Approval}").unwrap();
        // The controller's default is Retain; this endpoint goes with its object.
        doc["spec"]["deletionPolicy"] = "Delete".into();
    });
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&manifest));
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), ns);
    let name = "logs";
    let ec2 = bench.port();
    let vpc = bench.id("main");
    let endpoints = || async {
        let filter = EndpointFilter {
            vpc_id: Some(vpc.clone()),
            ..Default::default()
        };
        ec2.describe_vpc_endpoints(&filter).await.unwrap()
    };
    // The safety property, checked against AWS itself on every look: private DNS is never on
    // while some client in the VPC cannot reach the endpoint.
    let private_dns_stays_off_until_ready = async |o: &InterfaceEndpoint| {
        if endpoints().await.iter().any(|e| e.private_dns_enabled) {
            let owner = o.owner().unwrap();
            let scope = ObserveScope {
                service_name: Some(&o.spec.service_name),
                service_region: None,
                owner: Some(&owner),
            };
            let world = observe_vpc(ec2, &vpc, scope).await.unwrap();
            let analysis = analysis::analyze(&o.spec, Some(&owner), &world).unwrap();
            assert!(
                analysis.all_reachable(),
                "private DNS on while clients are blocked: {:?}",
                o.status
            );
        }
    };

    // A crash right after the endpoint was created: the restarted binary finds it by its tags.
    let mut phases = Vec::new();
    watch_phases(
        &api,
        name,
        &mut phases,
        |o| o.status.as_ref().is_some_and(|s| s.endpoint_id.is_some()),
        private_dns_stays_off_until_ready,
    )
    .await;
    binary.kill();
    let binary = Binary::start(&kubeconfig, &bench, log.clone());

    let waiting = watch_phases(
        &api,
        name,
        &mut phases,
        |o| {
            o.status
                .as_ref()
                .is_some_and(|s| s.phase == RolloutPhase::AwaitingApproval)
        },
        private_dns_stays_off_until_ready,
    )
    .await;
    let status = waiting.status.clone().unwrap();
    let plan = status.plan.expect("the plan is in status");
    assert!(plan.requires_approval && !plan.rules.is_empty(), "{plan:?}");
    let uid = waiting.metadata.uid.clone().unwrap();
    let owned = RuleFilter {
        group_ids: vec![],
        tag: Some((UID_TAG.into(), uid.clone())),
        tag_any_of: None,
    };
    assert!(
        ec2.describe_security_group_rules(&owned)
            .await
            .unwrap()
            .is_empty(),
        "nothing before approval"
    );

    // Approval: the exact plan id, by a spec patch.
    let patch = format!(r#"{{"spec":{{"approval":{{"planId":"{}"}}}}}}"#, plan.id);
    kubectl.run(&["-n", ns, "patch", "vpce", name, "--type", "merge", "-p", &patch]);
    let ready = watch_phases(
        &api,
        name,
        &mut phases,
        |o| o.status.as_ref().is_some_and(|s| s.phase == RolloutPhase::Ready),
        private_dns_stays_off_until_ready,
    )
    .await;
    let order = |p: RolloutPhase| phases.iter().position(|x| *x == p);
    assert!(
        order(RolloutPhase::AwaitingApproval) < order(RolloutPhase::Ready),
        "{phases:?}"
    );
    assert!(
        !phases[..order(RolloutPhase::AwaitingApproval).unwrap()].contains(&RolloutPhase::EnablingPrivateDns),
        "{phases:?}"
    );
    assert!(ready.status.as_ref().unwrap().private_dns_enabled);
    let live = endpoints().await;
    assert_eq!(live.len(), 1, "one endpoint despite the crash: {live:?}");
    assert!(live[0].private_dns_enabled);
    let rules = ec2.describe_security_group_rules(&owned).await.unwrap();
    assert_eq!(rules.len(), plan.rules.len());
    assert!(rules.iter().all(|r| {
        r.tags
            .iter()
            .any(|t| t.key == OWNER_TAG && t.value == format!("{ns}/{name}"))
    }));

    assert_events(
        &client,
        ns,
        name,
        &[
            "EndpointCreated",
            "PlanAwaitingApproval",
            "RulesAuthorized",
            "PrivateDnsEnabled",
        ],
    )
    .await;
    // The audit trail: every change moto made for the controller has an Event and a log line
    // carrying the request id moto answered it with, the account and the region.
    let changes: Vec<(String, String)> = bench
        .account
        .served_requests()
        .into_iter()
        .skip(setup)
        .filter(|r| r.status == 200 && MUTATIONS.contains(&r.action.as_str()))
        .map(|r| (r.action, r.request_id.expect("moto answers with a request id")))
        .collect();
    assert!(changes.len() >= 3, "create, authorize, private DNS: {changes:?}");
    let trace = |id: &str| format!("request id {id}, account {}, region {REGION}", bench.account.id);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let notes = harness::event_notes(&client, ns, name).await;
        let missing: Vec<&(String, String)> = changes
            .iter()
            .filter(|(_, id)| !notes.iter().any(|n| n.contains(&trace(id))))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no Event for {missing:?} in {notes:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logged = binary.log();
    for (action, id) in &changes {
        assert!(
            logged.lines().any(|l| l.contains("AWS change made")
                && l.contains(id.as_str())
                && l.contains(action.as_str())),
            "no log line for {action} {id}"
        );
    }
    // The printer columns, as kube-apiserver renders them into a Table for kubectl.
    let table = kubectl.run(&["-n", ns, "get", "vpce"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "PHASE", "ENDPOINT", "PRIVATE", "DNS", "CLIENTS", "AGE"],
        "{table}"
    );
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    let clients = ready.status.as_ref().unwrap().clients.as_ref().unwrap();
    assert_eq!(
        row[..5],
        [
            name,
            "Ready",
            live[0].vpc_endpoint_id.as_str(),
            "true",
            clients.ready.as_str()
        ],
        "{table}"
    );
    assert!(row[5].ends_with('s'), "an age in seconds: {table}");
    let (_, metrics) = binary.http_get("/metrics");
    assert!(
        metrics.contains("CreateVpcEndpoint"),
        "EC2 calls are counted:\n{metrics}"
    );
    assert!(
        metrics.lines().any(|l| l == "vpce_rollout_leader 1"),
        "without leader election the one replica reconciles, and says so:\n{metrics}"
    );

    // Drift: someone revokes one of the controller's rules. The rules are approved ones, so the
    // controller may not simply re-add them: the rule set to approve changed (a new plan id).
    // Private DNS is on and a client is cut off: Degraded, naming the client, until approved.
    let revoked = rules[0].clone();
    bench
        .client()
        .revoke_security_group_ingress()
        .group_id(&revoked.group_id)
        .security_group_rule_ids(&revoked.security_group_rule_id)
        .send()
        .await
        .unwrap();
    let degraded = wait_for(&api, name, PATIENCE, "Degraded", |o| {
        o.status
            .as_ref()
            .is_some_and(|s| s.phase == RolloutPhase::Degraded)
    })
    .await;
    let status = degraded.status.unwrap();
    let new_plan = status.plan.expect("a new plan");
    assert_ne!(new_plan.id, plan.id, "a changed rule set is a new plan");
    assert!(new_plan.requires_approval && !new_plan.approved);
    let reachable = status
        .conditions
        .iter()
        .find(|c| c.type_ == "ClientsReachable")
        .unwrap();
    assert_eq!(reachable.status, "False");
    assert!(
        reachable.message.contains("eni-"),
        "the condition names the blocked clients: {}",
        reachable.message
    );
    assert_events(&client, ns, name, &["Degraded"]).await;
    let patch = format!(r#"{{"spec":{{"approval":{{"planId":"{}"}}}}}}"#, new_plan.id);
    kubectl.run(&["-n", ns, "patch", "vpce", name, "--type", "merge", "-p", &patch]);
    wait_for(&api, name, PATIENCE, "Ready after re-approval", |o| {
        o.status.as_ref().is_some_and(|s| s.phase == RolloutPhase::Ready)
    })
    .await;
    let now = ec2.describe_security_group_rules(&owned).await.unwrap();
    assert_eq!(now.len(), rules.len(), "the revoked rule is back: {now:?}");

    // Deletion: someone else's rule on the endpoint's group survives; the controller's go.
    let foreign_id = bench
        .client()
        .authorize_security_group_ingress()
        .group_id(bench.id("endpoint-sg"))
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("10.99.0.0/16")
                        .description("the network team's")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_group_rules()[0]
        .security_group_rule_id()
        .unwrap()
        .to_string();
    let rules_before = ec2.describe_security_group_rules(&owned).await.unwrap().len();
    let served_before = bench.account.served_requests().len();
    kubectl.run(&["-n", ns, "delete", "vpce", name, "--wait=false"]);
    // The controller's first delete fails with server errors past the SDK's retries (the
    // engine's tests throttle it too; here the SDK's adaptive retry would spend a minute on it).
    let attempts = SdkOptions::default().max_attempts;
    bench
        .account
        .inject_fault("DeleteVpcEndpoints", "InternalError", 500, attempts);
    // The safe order (issue 8, hole 1): while the endpoint is there, its rules are too.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while api.get_opt(name).await.unwrap().is_some() {
        let listed = endpoints().await;
        let present = listed
            .iter()
            .any(|e| !matches!(e.state_lower().as_str(), "deleted"));
        if present {
            let rules = ec2.describe_security_group_rules(&owned).await.unwrap();
            assert_eq!(
                rules.len(),
                rules_before,
                "a rule went while the endpoint is there: {listed:?}"
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not deleted in {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The order as moto saw it, not as the controller says it: private DNS off; the record
    // TTL; the delete, failed and then retried; only once it went through, the rules.
    let served = bench.account.served_requests();
    let calls: Vec<&ServedRequest> = served[served_before..]
        .iter()
        .filter(|r| MUTATIONS.contains(&r.action.as_str()))
        .collect();
    let shown: Vec<String> = calls
        .iter()
        .map(|r| {
            format!(
                "{:.2} {} {} {:?}",
                r.at,
                r.action,
                r.status,
                r.param("PrivateDnsEnabled")
            )
        })
        .collect();
    let position = |what: &str, wanted: &dyn Fn(&ServedRequest) -> bool| {
        calls
            .iter()
            .position(|r| wanted(r))
            .unwrap_or_else(|| panic!("no {what} in {shown:#?}"))
    };
    let dns_off = position("private DNS off", &|r| {
        r.action == "ModifyVpcEndpoint" && r.param("PrivateDnsEnabled") == Some("false") && r.status == 200
    });
    let first_delete = position("delete", &|r| r.action == "DeleteVpcEndpoints");
    let deleted = position("a successful delete", &|r| {
        r.action == "DeleteVpcEndpoints" && r.status == 200
    });
    let first_revoke = position("revoke", &|r| r.action.starts_with("RevokeSecurityGroup"));
    assert!(
        dns_off < first_delete && deleted < first_revoke,
        "private DNS off, then the endpoint, then the rules: {shown:#?}"
    );
    let waited = calls[first_delete].at - calls[dns_off].at;
    assert!(
        waited >= PRIVATE_DNS_TTL.as_secs_f64(),
        "the endpoint was deleted {waited:.2}s after private DNS went off: {shown:#?}"
    );
    let failed: Vec<u16> = calls[..deleted]
        .iter()
        .filter(|r| r.action == "DeleteVpcEndpoints")
        .map(|r| r.status)
        .collect();
    assert_eq!(failed, [500].repeat(attempts as usize), "{shown:#?}");
    assert!(
        calls[dns_off..]
            .iter()
            .all(|r| r.param("PrivateDnsEnabled") != Some("true")),
        "{shown:#?}"
    );
    // Each change of the deletion is in the audit trail under the request id moto gave it.
    let log = binary.log();
    for r in calls.iter().filter(|r| r.status == 200) {
        let id = r.request_id.as_deref().expect("moto answers with a request id");
        assert!(
            log.lines()
                .any(|l| l.contains("AWS change made") && l.contains(id) && l.contains(&r.action)),
            "no log line for {} {id}",
            r.action
        );
        let notes = harness::event_notes(&client, ns, name).await;
        assert!(
            notes.iter().any(|n| n.contains(&trace(id))),
            "no Event for {} {id} in {notes:#?}",
            r.action
        );
    }
    let (_, metrics) = binary.http_get("/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"vpce_rollout_reconcile_errors_total{category="Kubernetes"} 0"#),
        "a normal deletion is no Kubernetes error (issue 8, hole 10):\n{metrics}"
    );
    assert!(
        ec2.describe_security_group_rules(&owned)
            .await
            .unwrap()
            .is_empty()
    );
    let left = ec2
        .describe_security_group_rules(&RuleFilter {
            group_ids: vec![bench.id("endpoint-sg")],
            tag: None,
            tag_any_of: None,
        })
        .await
        .unwrap();
    assert!(
        left.iter().any(|r| r.security_group_rule_id == foreign_id),
        "the foreign rule is intact"
    );
    assert!(
        endpoints().await.iter().all(|e| e.state_lower() != "available"),
        "the endpoint is deleted"
    );
    assert_events(&client, ns, name, &["EndpointDeleted"]).await;
    drop(binary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_applies_and_an_unknown_vpc_is_reported_without_touching_aws() {
    let (cluster, client) = harness::cluster().await;
    harness::grant_everything(&client).await;
    let kubeconfig = cluster.kubeconfig_path().to_path_buf();
    let kubectl = cluster.kubectl();
    let bench = MotoBench::incident().await;
    let log = std::env::temp_dir().join(format!("vpce-rollout-e2e-examples-{}.log", std::process::id()));
    let binary = Binary::start(&kubeconfig, &bench, log);
    binary.wait_ready().await;

    let mut applied = Vec::new();
    for entry in std::fs::read_dir(harness::repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let doc: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let ns = doc["metadata"]["namespace"].as_str().unwrap().to_string();
        let name = doc["metadata"]["name"].as_str().unwrap().to_string();
        if !applied.iter().any(|(n, _): &(String, String)| *n == ns) {
            create_namespace(&client, &ns).await;
        }
        // As written: the API server accepts every example (schema, enums, the quoted "Off").
        kubectl.run(&["apply", "-f", path.to_str().unwrap()]);
        applied.push((ns, name));
    }
    assert!(applied.len() >= 4, "{applied:?}");

    // Their VPC is not in this account: each is Failed with InvalidSpec, and nothing is created.
    for (ns, name) in &applied {
        let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), ns);
        let failed = wait_for(&api, name, PATIENCE, "InvalidSpec", |o| {
            o.status.as_ref().is_some_and(|s| s.phase == RolloutPhase::Failed)
        })
        .await;
        let ready = failed
            .status
            .unwrap()
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.reason, "InvalidSpec", "{ns}/{name}: {}", ready.message);
        assert!(ready.message.contains("not found"), "{}", ready.message);
    }
    let filter = EndpointFilter::default();
    assert!(
        bench
            .port()
            .describe_vpc_endpoints(&filter)
            .await
            .unwrap()
            .is_empty(),
        "no endpoint was created"
    );
    drop(binary);
}

/// The binary in a cluster whose grants do not admit the object: phase Forbidden with the
/// refused field, and not one request to AWS (moto's record of what its account was served);
/// once the platform widens the grant, the same object rolls out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_makes_no_aws_call_for_an_object_its_grants_refuse() {
    let (cluster, client) = harness::cluster().await;
    let kubeconfig = cluster.kubeconfig_path().to_path_buf();
    let kubectl = cluster.kubectl();
    let ns = "platform-network";
    create_namespace(&client, ns).await;
    let bench = MotoBench::incident().await;
    let other_vpc = "vpc-0ffffffffffffff00";
    let grant = format!(
        "apiVersion: vpce-rollout.dev/v1alpha1\nkind: EndpointGrant\nmetadata: {{name: platform-network}}\n\
         spec:\n  namespaces: [{ns}]\n  vpcIds: [{other_vpc}]\n  serviceNames: ['*']\n  \
         endpointSecurityGroupIds: ['{}']\n",
        bench.id("endpoint-sg")
    );
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&grant));
    let setup = bench.account.served_requests().len();
    let log = std::env::temp_dir().join(format!("vpce-rollout-e2e-grants-{}.log", std::process::id()));
    let binary = Binary::start(&kubeconfig, &bench, log);
    binary.wait_ready().await;

    let manifest = example_for("cloudwatch-logs.yaml", &bench, |_| {});
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&manifest));
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), ns);
    let forbidden = wait_for(&api, "logs", PATIENCE, "Forbidden", |o| {
        o.status
            .as_ref()
            .is_some_and(|s| s.phase == RolloutPhase::Forbidden)
    })
    .await;
    let granted = forbidden
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Granted")
        .unwrap();
    assert_eq!(
        (granted.status.as_str(), granted.reason.as_str()),
        ("False", "OutsideGrant")
    );
    assert!(
        granted.message.starts_with(&format!(
            "EndpointGrant platform-network does not admit spec.vpcId {} (vpcIds: {other_vpc})",
            bench.id("main")
        )),
        "{}",
        granted.message
    );
    assert_events(&client, ns, "logs", &["Forbidden"]).await;
    // A resync later (3 s), still nothing.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let served = bench.account.served_requests();
    assert_eq!(
        served.len(),
        setup,
        "no AWS call, not even a describe: {:?}",
        &served[setup..]
    );

    // The platform widens the grant: the grant watch wakes the object, which rolls out.
    let widened = grant.replace(other_vpc, &bench.id("main"));
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&widened));
    wait_for(&api, "logs", PATIENCE, "an endpoint", |o| {
        o.status.as_ref().is_some_and(|s| s.endpoint_id.is_some())
    })
    .await;
    assert_events(&client, ns, "logs", &["Granted", "EndpointCreated"]).await;
    drop(binary);
}
