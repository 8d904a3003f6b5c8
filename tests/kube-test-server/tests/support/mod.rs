//! Shared setup for the API server tests: a server with the project's CRD, a kube-rs client
//! from the kubeconfig it writes, raw HTTP for what kube-rs does not expose, a trivial
//! controller, and a kubectl runner that fails loudly when kubectl is missing.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::StreamExt;
use http_body_util::BodyExt;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::watcher;
use kube::{Client, CustomResourceExt, Resource, ResourceExt};
use kube_test_server::TestServer;
use serde_json::{Value, json};
use vpce_rollout::api::{FINALIZER, InterfaceEndpoint};

/// The project's CRD, generated from the Rust type, written once per test run.
pub fn crd_file() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let yaml = serde_yaml::to_string(&InterfaceEndpoint::crd()).expect("CRD serializes");
        write_temp("interfaceendpoints.yaml", &yaml)
    })
}

/// A file in a fresh temporary directory (left for the OS to clean).
pub fn write_temp(name: &str, content: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("kube-test-server-tests-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("written");
    path
}

pub fn server() -> TestServer {
    TestServer::builder()
        .crd_file(crd_file())
        .bookmark_interval(Duration::from_millis(500))
        .start()
        .expect("server starts")
}

pub struct Harness {
    pub server: TestServer,
    pub client: Client,
}

impl Harness {
    pub async fn start() -> Self {
        let server = server();
        let kubeconfig = Kubeconfig::read_from(server.kubeconfig_path()).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("config");
        let client = Client::try_from(config).expect("client");
        Self { server, client }
    }

    pub fn endpoints(&self) -> Api<InterfaceEndpoint> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Creates the valid endpoint `name` in `default`.
    pub async fn create(&self, name: &str) -> InterfaceEndpoint {
        self.endpoints()
            .create(&PostParams::default(), &endpoint(name))
            .await
            .expect("created")
    }
}

/// The URL of the endpoints in `default`, for raw requests.
pub const ENDPOINTS: &str = "/apis/vpce-rollout.dev/v1alpha1/namespaces/default/interfaceendpoints";

/// A JSON merge patch of an endpoint.
pub async fn merge(
    api: &Api<InterfaceEndpoint>,
    name: &str,
    patch: Value,
) -> Result<InterfaceEndpoint, kube::Error> {
    api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
}

/// A JSON merge patch of an endpoint's status.
pub async fn merge_status(
    api: &Api<InterfaceEndpoint>,
    name: &str,
    patch: Value,
) -> Result<InterfaceEndpoint, kube::Error> {
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
}

/// A valid endpoint in `default`.
pub fn endpoint(name: &str) -> InterfaceEndpoint {
    endpoint_in("default", name)
}

pub fn endpoint_in(namespace: &str, name: &str) -> InterfaceEndpoint {
    serde_json::from_value(json!({
        "apiVersion": "vpce-rollout.dev/v1alpha1", "kind": "InterfaceEndpoint",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"vpcId": "vpc-0a1b2c3d", "serviceName": "com.amazonaws.ap-northeast-1.logs",
                 "subnetIds": ["subnet-0000000a"], "securityGroupIds": ["sg-0000000a"]}
    }))
    .expect("valid endpoint")
}

async fn send(client: &Client, req: http::Request<Vec<u8>>) -> (u16, Value) {
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .expect("sent");
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (code, value)
}

/// A request kube-rs' typed API does not make (wrong bodies, odd content types).
pub async fn raw(
    client: &Client,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", content_type.unwrap_or("application/json"))
        .body(
            body.map(|b| serde_json::to_vec(&b).expect("json"))
                .unwrap_or_default(),
        )
        .expect("request");
    send(client, req).await
}

pub async fn raw_accept(client: &Client, path: &str, accept: &str) -> (u16, Value) {
    let req = http::Request::builder()
        .method("GET")
        .uri(path)
        .header("Accept", accept)
        .body(Vec::new())
        .expect("request");
    send(client, req).await
}

/// Polls until `f` yields a value (10 s at most).
pub async fn eventually<T>(f: impl Fn() -> Option<T>) -> T {
    eventually_async(|| std::future::ready(f())).await
}

pub async fn eventually_async<T, F: Future<Output = Option<T>>>(f: impl Fn() -> F) -> T {
    for _ in 0..200 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached within 10 s");
}

struct Context {
    client: Client,
    recorder: Recorder,
}

async fn reconcile(
    obj: Arc<InterfaceEndpoint>,
    ctx: Arc<Context>,
) -> Result<Action, finalizer::Error<kube::Error>> {
    let api: Api<InterfaceEndpoint> =
        Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            finalizer::Event::Apply(o) => {
                let status = json!({"apiVersion": "vpce-rollout.dev/v1alpha1", "kind": "InterfaceEndpoint",
                    "status": {"phase": "Ready", "observedGeneration": o.metadata.generation}});
                api.patch_status(
                    &o.name_any(),
                    &PatchParams::apply("test-controller").force(),
                    &Patch::Apply(&status),
                )
                .await?;
                publish(&ctx, &o, "Reconciled", "Reconcile").await?;
                Ok(Action::await_change())
            }
            finalizer::Event::Cleanup(o) => {
                publish(&ctx, &o, "CleanedUp", "Cleanup").await?;
                Ok(Action::await_change())
            }
        }
    })
    .await
}

async fn publish(
    ctx: &Context,
    o: &InterfaceEndpoint,
    reason: &str,
    action: &str,
) -> Result<(), kube::Error> {
    let ev = Event {
        type_: EventType::Normal,
        reason: reason.into(),
        note: Some(format!("{action} {}", o.name_any())),
        action: action.into(),
        secondary: None,
    };
    ctx.recorder.publish(&ev, &o.object_ref(&())).await
}

fn error_policy(_: Arc<InterfaceEndpoint>, _: &finalizer::Error<kube::Error>, _: Arc<Context>) -> Action {
    Action::requeue(Duration::from_millis(200))
}

/// A trivial controller: finalizer helper, status by server-side apply, one Event per pass.
pub async fn run_controller(client: Client) {
    let api: Api<InterfaceEndpoint> = Api::all(client.clone());
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "test-controller".into(),
            instance: None,
        },
    );
    let ctx = Arc::new(Context { client, recorder });
    Controller::new(api, watcher::Config::default())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

/// kubectl against the server's kubeconfig. Tests using it fail (never skip) without kubectl.
pub struct Kubectl {
    kubeconfig: PathBuf,
}

const KUBECTL: &str = "/usr/bin/kubectl";

impl Kubectl {
    pub fn new(server: &TestServer) -> Self {
        assert!(
            Path::new(KUBECTL).exists(),
            "{KUBECTL} is missing: these tests need kubectl 1.32 (install it, do not skip them)"
        );
        Self {
            kubeconfig: server.kubeconfig_path().to_path_buf(),
        }
    }

    fn output(&self, args: &[&str]) -> std::process::Output {
        Command::new(KUBECTL)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
            .expect("kubectl runs")
    }

    /// Runs kubectl, asserts success, returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl, asserts failure, returns stderr.
    pub fn fail(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}
