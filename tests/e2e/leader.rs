//! Two replicas of the controller (`controller::run::run`, as `vpce-rollout run --leader-elect`
//! runs it) against one API server and one AWS world: only the Lease holder reconciles; when it
//! shuts down, it releases the Lease and the standby takes over.

use std::net::TcpListener;
use std::time::Duration;

use clap::Parser;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use tokio::task::JoinHandle;
use vpce_rollout::api::{InterfaceEndpoint, RemediationMode};
use vpce_rollout::aws::sim::SimProvider;
use vpce_rollout::controller::options::RunOptions;
use vpce_rollout::controller::run::{RunError, Shutdown, run};
use vpce_rollout::engine::incident;

use crate::harness::{self, create_namespace, wait_for};
use crate::on_sim::Aws;

#[derive(Parser)]
struct Command {
    #[command(flatten)]
    options: RunOptions,
}

struct Replica {
    metrics: String,
    shutdown: Shutdown,
    task: JoinHandle<Result<(), RunError>>,
}

impl Replica {
    fn start(client: &kube::Client, aws: &Aws, identity: &str) -> Replica {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let metrics = format!("127.0.0.1:{port}");
        let options = Command::parse_from([
            "run",
            "--metrics-address",
            &metrics,
            "--leader-elect",
            "--leader-election-namespace",
            "vpce-system",
            "--leader-election-identity",
            identity,
            "--leader-election-lease-duration",
            "3s",
            "--leader-election-renew-deadline",
            "2s",
            "--leader-election-retry-period",
            "200ms",
        ])
        .options;
        let shutdown = Shutdown::default();
        let provider = SimProvider::new(aws.sim.clone());
        let task = tokio::spawn({
            let (client, shutdown) = (client.clone(), shutdown.clone());
            async move { run(client, provider, &options, shutdown).await }
        });
        Replica {
            metrics,
            shutdown,
            task,
        }
    }

    /// `vpce_rollout_reconciles_total` and `vpce_rollout_leader` from /metrics.
    async fn metrics(&self) -> (f64, f64) {
        let body = http_get(&self.metrics, "/metrics").await;
        let value = |name: &str| {
            body.lines()
                .filter(|l| l.starts_with(name) && !l.starts_with(&format!("{name}_")))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>()
        };
        (
            value("vpce_rollout_reconciles_total"),
            value("vpce_rollout_leader"),
        )
    }

    async fn stop(self) {
        self.shutdown.trigger();
        self.task.await.unwrap().expect("a replica shuts down cleanly");
    }
}

/// A plain HTTP/1.1 GET (the crate has no HTTP client of its own to test with).
async fn http_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return String::new();
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

async fn holder(client: &kube::Client) -> Option<String> {
    let lease = Api::<Lease>::namespaced(client.clone(), "vpce-system")
        .get_opt("vpce-rollout")
        .await
        .unwrap()?;
    lease.spec?.holder_identity
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lease_is_taken_stops_at_once_and_says_so() {
    let (_server, client) = harness::cluster().await;
    harness::grant_everything(&client).await;
    create_namespace(&client, "vpce-system").await;
    let aws = Aws::incident();
    let replica = Replica::start(&client, &aws, "replica-a");
    eventually("replica-a to lead", async || {
        holder(&client).await.as_deref() == Some("replica-a")
    })
    .await;

    // Another holder writes the Lease (as after a partition): replica-a must stop reconciling.
    let leases = Api::<Lease>::namespaced(client.clone(), "vpce-system");
    let mut lease = leases.get("vpce-rollout").await.unwrap();
    let spec = lease.spec.as_mut().unwrap();
    spec.holder_identity = Some("intruder".into());
    spec.lease_duration_seconds = Some(60);
    spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
        k8s_openapi::jiff::Timestamp::now(),
    ));
    leases
        .replace("vpce-rollout", &PostParams::default(), &lease)
        .await
        .unwrap();

    let ended = tokio::time::timeout(Duration::from_secs(30), replica.task).await;
    let result = ended
        .expect("the replica stops once it sees the Lease taken")
        .unwrap();
    assert!(matches!(result, Err(RunError::LostLeadership)), "{result:?}");
    assert_eq!(
        holder(&client).await.as_deref(),
        Some("intruder"),
        "it does not take the Lease back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_reconciles_and_the_standby_takes_over_when_it_stops() {
    let (_server, client) = harness::cluster().await;
    harness::grant_everything(&client).await;
    create_namespace(&client, "vpce-system").await;
    create_namespace(&client, "platform").await;
    let aws = Aws::incident();

    let first = Replica::start(&client, &aws, "replica-a");
    eventually("replica-a to lead", async || {
        holder(&client).await.as_deref() == Some("replica-a")
    })
    .await;
    let second = Replica::start(&client, &aws, "replica-b");

    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), "platform");
    let mut obj = InterfaceEndpoint::new("cloudwatch-logs", incident::spec(RemediationMode::Approval));
    obj.metadata.namespace = Some("platform".into());
    api.create(&PostParams::default(), &obj).await.unwrap();
    wait_for(
        &api,
        "cloudwatch-logs",
        Duration::from_secs(30),
        "a status",
        |o| o.status.is_some(),
    )
    .await;

    // The status is written inside the reconcile; the counter moves when it returns.
    eventually("replica-a to count its reconcile", async || {
        first.metrics().await.0 > 0.0
    })
    .await;
    let (_, leader_a) = first.metrics().await;
    let (reconciles_b, leader_b) = second.metrics().await;
    assert_eq!(leader_a, 1.0, "the leader says so");
    assert_eq!((reconciles_b, leader_b), (0.0, 0.0), "the standby does not");
    assert_eq!(holder(&client).await.as_deref(), Some("replica-a"));

    first.stop().await;
    eventually("replica-b to take over", async || {
        holder(&client).await.as_deref() == Some("replica-b")
    })
    .await;
    eventually("replica-b to reconcile", async || second.metrics().await.0 > 0.0).await;
    assert_eq!(second.metrics().await.1, 1.0);
    assert_eq!(aws.endpoints().len(), 1, "one endpoint, whoever reconciled");
    second.stop().await;
}
