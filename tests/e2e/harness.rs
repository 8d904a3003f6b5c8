//! Shared pieces: the real control plane with the project's CRDs, a client, waiting for a
//! condition on an object, and reading its Events.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_apiserver_harness::ControlPlane;
use vpce_rollout::api::{EndpointGrant, EndpointGrantSpec, InterfaceEndpoint};

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Controller logs go to the test's output (shown for failing tests; `RUST_LOG` filters).
fn init_logging() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info,vpce_rollout=debug".into());
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(filter)
        .try_init();
}

/// etcd and kube-apiserver (tests/kube-apiserver) with the project's CRDs (`crds/`) installed,
/// and an admin client. Fails, naming the build script, when they are not built.
pub async fn cluster() -> (ControlPlane, kube::Client) {
    cluster_with_crds(&repo().join("crds/interfaceendpoints.yaml")).await
}

/// etcd and kube-apiserver with no CRD, and an admin client.
pub async fn cluster_without_crds() -> (ControlPlane, kube::Client) {
    init_logging();
    let started = tokio::task::spawn_blocking(ControlPlane::start).await;
    let cluster = started.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let client = client_for(cluster.kubeconfig_path()).await;
    (cluster, client)
}

/// [`cluster`] with another InterfaceEndpoint CRD file (the EndpointGrant and PlanApproval
/// CRDs of `crds/` beside it).
pub async fn cluster_with_crds(crds: &Path) -> (ControlPlane, kube::Client) {
    init_logging();
    let crds = crds.to_path_buf();
    let started = tokio::task::spawn_blocking(move || {
        let cluster = ControlPlane::start();
        cluster.install_crds(&crds);
        cluster.install_crds(&repo().join("crds/endpointgrants.yaml"));
        cluster.install_crds(&repo().join("crds/planapprovals.yaml"));
        cluster
    })
    .await;
    let cluster = started.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let client = client_for(cluster.kubeconfig_path()).await;
    (cluster, client)
}

/// A copy of crds/interfaceendpoints.yaml without its CEL rules (`x-kubernetes-validations`),
/// as a cluster that installed a release from before them keeps it; removed when dropped.
pub fn crds_without_cel_rules() -> TempFile {
    let text = std::fs::read_to_string(repo().join("crds/interfaceendpoints.yaml")).unwrap();
    let mut crd: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let versions = crd["spec"]["versions"].as_sequence_mut().unwrap();
    for version in versions {
        let spec = &mut version["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let removed = spec.as_mapping_mut().unwrap().remove("x-kubernetes-validations");
        assert!(removed.is_some(), "the CRD's spec carries CEL rules");
    }
    TempFile::write(
        "crd-without-cel-rules.yaml",
        &serde_yaml::to_string(&crd).unwrap(),
    )
}

/// A file in the system's temporary directory, removed when dropped.
pub struct TempFile(PathBuf);

impl TempFile {
    pub fn write(name: &str, text: &str) -> TempFile {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("vpce-e2e-{}-{n}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A client that authenticates as the kubeconfig says.
pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("a kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("the kubeconfig is usable");
    kube::Client::try_from(config).expect("a client for kube-apiserver")
}

/// The EndpointGrant of a single-team cluster ([`EndpointGrantSpec::single_team`]): every
/// namespace may roll out anything, as before grants existed. Tests that are not about the
/// tenancy start with it.
pub async fn grant_everything(client: &kube::Client) {
    let grant = EndpointGrant::new("single-team", EndpointGrantSpec::single_team());
    Api::<EndpointGrant>::all(client.clone())
        .create(&PostParams::default(), &grant)
        .await
        .expect("grant created");
}

pub async fn create_namespace(client: &kube::Client, name: &str) {
    let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace created");
}

/// Polls `api.get(name)` until `check` holds; panics with the last object seen after `timeout`.
pub async fn wait_for(
    api: &Api<InterfaceEndpoint>,
    name: &str,
    timeout: Duration,
    what: &str,
    check: impl Fn(&InterfaceEndpoint) -> bool,
) -> InterfaceEndpoint {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        if let Some(obj) = api.get_opt(name).await.expect("get the object") {
            if check(&obj) {
                return obj;
            }
            last = Some(obj);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "timed out after {timeout:?} waiting for {what}; last seen status: {}",
        serde_json::to_string_pretty(&last.and_then(|o| o.status)).unwrap()
    );
}

/// Polls until the object is gone.
pub async fn wait_gone(api: &Api<InterfaceEndpoint>, name: &str, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if api.get_opt(name).await.expect("get the object").is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let obj = api.get(name).await.unwrap();
    panic!(
        "{name} still exists after {timeout:?}: finalizers {:?}, status {}",
        obj.metadata.finalizers,
        serde_json::to_string_pretty(&obj.status).unwrap()
    );
}

/// The reasons of the Events recorded about `name` in `namespace`, oldest first; a reason
/// recorded again within a few minutes appears as one Event series (see [`event_count`]).
pub async fn event_reasons(client: &kube::Client, namespace: &str, name: &str) -> Vec<String> {
    events_about(client, namespace, name)
        .await
        .iter()
        .filter_map(|e| e.reason.clone())
        .collect()
}

/// Asserts that an Event of each of `reasons` is recorded about `name`. Events are recorded
/// right after the status is written, so a test that has just seen the status waits a little.
pub async fn assert_events(client: &kube::Client, namespace: &str, name: &str, reasons: &[&str]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let recorded = event_reasons(client, namespace, name).await;
        let missing: Vec<&&str> = reasons
            .iter()
            .filter(|r| !recorded.iter().any(|x| x == **r))
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {missing:?} Event in {recorded:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until an Event with `reason` is recorded about `name` at least `times` times (see
/// [`assert_events`] for why it waits).
pub async fn assert_recorded_at_least(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    reason: &str,
    times: i32,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let count = event_count(client, namespace, name, reason).await;
        if count >= times {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{reason} recorded {count} times, not {times}: {:?}",
            event_reasons(client, namespace, name).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The notes of the Events recorded about `name`, oldest first.
pub async fn event_notes(client: &kube::Client, namespace: &str, name: &str) -> Vec<String> {
    events_about(client, namespace, name)
        .await
        .into_iter()
        .filter_map(|e| e.note)
        .collect()
}

/// How many times an Event with `reason` was recorded about `name`, counting series.
pub async fn event_count(client: &kube::Client, namespace: &str, name: &str, reason: &str) -> i32 {
    events_about(client, namespace, name)
        .await
        .iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .map(|e| e.series.as_ref().map_or(1, |s| s.count))
        .sum()
}

async fn events_about(client: &kube::Client, namespace: &str, name: &str) -> Vec<Event> {
    let events = Api::<Event>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await
        .expect("list Events");
    let mut about: Vec<Event> = events
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .collect();
    about.sort_by_key(|e| e.event_time.as_ref().map(|t| t.0));
    about
}
