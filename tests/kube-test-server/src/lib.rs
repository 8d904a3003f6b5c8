//! kube-test-server: a test-only, in-memory Kubernetes API server that kube-rs and kubectl use
//! unchanged. Tests start it in-process on 127.0.0.1 (a random port), point a client at the
//! kubeconfig it writes, and get real HTTP with the real server's semantics: discovery, CRUD,
//! patches (merge, JSON, server-side apply), resourceVersions, generation, status, finalizers,
//! watches with bookmarks and 410s, CRD schema validation and `kubectl get` tables.
//!
//! Where things are:
//! - [`TestServer`] (this file): start, kubeconfig, CRD registration, stop on drop.
//! - `http`: routing, negotiation, watch streaming; `discovery`: the discovery documents;
//!   `openapi`: the minimal OpenAPI v3 kubectl needs to validate on the server; `proto`: the
//!   protobuf Namespace `kubectl create namespace` sends.
//! - `cluster`: write semantics; `list`: list pages and watch event selection.
//! - `store`: objects, the resourceVersion counter and change history.
//! - `resources`: served types and CRD parsing; `schema`: structural schema prune/default/
//!   validate; `metadata`: ObjectMeta rules; `builtin`: Namespaces, Events, Leases, CRDs.
//! - `patch`: merge and JSON patch; `apply`: server-side apply and managedFields.
//! - `table`: server-side printing for `kubectl get`; `yaml`: YAML read as kubectl reads it.
//!
//! It is never part of the shipped controller. See README.md for what it approximates.
#![forbid(unsafe_code)]

mod apply;
mod builtin;
mod cluster;
mod discovery;
mod http;
mod list;
mod metadata;
mod openapi;
mod patch;
mod proto;
mod resources;
mod schema;
mod selectors;
mod status;
mod store;
mod table;
mod yaml;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use serde_json::Value;

pub use status::ApiError;

use crate::cluster::{Cluster, system_writer};
use crate::http::Shared;

/// Why the server could not start or a CRD could not be registered.
#[derive(Debug)]
pub enum Error {
    Io(std::io::Error),
    /// A CRD file is not YAML, or a document in it is not an object.
    Yaml {
        path: PathBuf,
        message: String,
    },
    /// The server refused a CRD (the Status it would have answered with).
    Rejected {
        what: String,
        error: ApiError,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e) => write!(f, "kube-test-server: {e}"),
            Error::Yaml { path, message } => write!(f, "kube-test-server: {}: {message}", path.display()),
            Error::Rejected { what, error } => {
                write!(f, "kube-test-server: {what} rejected: {}", error.message)
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// Options for [`TestServer`]; `TestServer::builder()` starts from the defaults.
#[derive(Debug, Clone)]
pub struct Builder {
    crd_files: Vec<PathBuf>,
    history_limit: usize,
    bookmark_interval: Duration,
    port: u16,
    kubeconfig: Option<PathBuf>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            crd_files: Vec::new(),
            history_limit: 10_000,
            bookmark_interval: Duration::from_secs(1),
            port: 0,
            kubeconfig: None,
        }
    }
}

impl Builder {
    /// Registers the CustomResourceDefinitions in a YAML file (several documents allowed)
    /// before the server accepts requests.
    pub fn crd_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.crd_files.push(path.into());
        self
    }

    /// How many changes the server remembers for watch resumption and paginated lists;
    /// older resourceVersions get 410 Gone. Default 10 000.
    pub fn history_limit(mut self, changes: usize) -> Self {
        self.history_limit = changes;
        self
    }

    /// How often watches with `allowWatchBookmarks=true` get a BOOKMARK. Default 1 s (the
    /// real server sends one about every minute; tests want them sooner).
    pub fn bookmark_interval(mut self, every: Duration) -> Self {
        self.bookmark_interval = every;
        self
    }

    /// Listen on this port instead of a random one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Write the kubeconfig here instead of a fresh temporary directory.
    pub fn kubeconfig_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(path.into());
        self
    }

    /// Starts serving on 127.0.0.1 in a background thread and writes the kubeconfig.
    pub fn start(self) -> Result<TestServer, Error> {
        let listener = TcpListener::bind(("127.0.0.1", self.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (kubeconfig, temp_dir) = match self.kubeconfig {
            Some(p) => (p, None),
            None => {
                let dir = std::env::temp_dir().join(format!(
                    "kube-test-server-{}-{}",
                    std::process::id(),
                    addr.port()
                ));
                std::fs::create_dir_all(&dir)?;
                (dir.join("kubeconfig"), Some(dir))
            }
        };
        std::fs::write(&kubeconfig, kubeconfig_yaml(addr))?;
        let (changed, _) = tokio::sync::watch::channel(0u64);
        let shared = Arc::new(Shared {
            cluster: Mutex::new(Cluster::new(self.history_limit)),
            changed,
            bookmark_interval: self.bookmark_interval,
            address: addr.to_string(),
        });
        let mut server = TestServer {
            addr,
            kubeconfig,
            temp_dir,
            shared: shared.clone(),
            stop: None,
            thread: None,
        };
        for f in &self.crd_files {
            server.register_crd_file(f)?;
        }
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("kube-test-server-{}", addr.port()))
            .spawn(move || serve(listener, shared, stop_rx))?;
        server.stop = Some(stop_tx);
        server.thread = Some(thread);
        Ok(server)
    }
}

fn kubeconfig_yaml(addr: SocketAddr) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kube-test-server
  cluster:
    server: http://{addr}
users:
- name: kube-test-server
  user:
    token: kube-test-server
contexts:
- name: kube-test-server
  context:
    cluster: kube-test-server
    user: kube-test-server
    namespace: default
current-context: kube-test-server
preferences: {{}}
"
    )
}

fn serve(listener: TcpListener, shared: Arc<Shared>, stop: tokio::sync::oneshot::Receiver<()>) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kube-test-server: cannot start its runtime: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("kube-test-server: cannot listen: {e}");
                return;
            }
        };
        let accept = async {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| http::handle(shared.clone(), req));
                    // Errors here are clients hanging up mid-request; nothing to report.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        tokio::select! {
            _ = accept => {}
            _ = stop => {}
        }
    });
    // Open watches and connections end with the runtime.
    runtime.shutdown_timeout(Duration::from_millis(100));
}

/// A running server. Dropping it stops the server and removes the kubeconfig it wrote in a
/// temporary directory.
pub struct TestServer {
    addr: SocketAddr,
    kubeconfig: PathBuf,
    temp_dir: Option<PathBuf>,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Starts a server with the defaults and no CRDs.
    pub fn start() -> Result<TestServer, Error> {
        Builder::default().start()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The kubeconfig pointing at this server (context `kube-test-server`, namespace
    /// `default`); use it with `KUBECONFIG=` for kubectl or kube-rs.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Registers every CustomResourceDefinition in a YAML file, read as `kubectl create -f`
    /// would read it (YAML 1.1: an unquoted `Off` is `false`).
    /// Returns the CRD names.
    pub fn register_crd_file(&self, path: impl AsRef<Path>) -> Result<Vec<String>, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)?;
        let mut names = Vec::new();
        let docs = yaml::documents(&text).map_err(|message| Error::Yaml {
            path: path.to_path_buf(),
            message,
        })?;
        for json in docs {
            if json.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
                continue;
            }
            names.push(self.register_crd(json)?);
        }
        Ok(names)
    }

    /// Registers one CustomResourceDefinition object (JSON). Returns its name.
    pub fn register_crd(&self, crd: Value) -> Result<String, Error> {
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut cluster = self.shared.lock();
        let rt = cluster
            .registry
            .find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            .expect("built in");
        cluster
            .create(&rt, "", crd, &system_writer(), false)
            .map_err(|error| Error::Rejected {
                what: format!("CustomResourceDefinition {name:?}"),
                error,
            })?;
        self.shared.notify(&cluster);
        Ok(name)
    }

    /// Forgets all change history, as an etcd compaction would: watches and continue tokens
    /// older than now get 410 Gone.
    pub fn compact(&self) {
        self.shared.lock().store.compact();
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().store.current_rv()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(dir) = &self.temp_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
