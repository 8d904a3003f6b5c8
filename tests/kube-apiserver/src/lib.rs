//! kube-apiserver-harness: the real Kubernetes control plane for tests, as controller-runtime's
//! envtest runs it. etcd and kube-apiserver, built from their Go modules by `build.sh` beside
//! this crate, run on loopback with random free ports:
//!
//! ```ignore
//! let cluster = ControlPlane::start();     // panics, naming build.sh, when not built
//! cluster.kubectl().run(&["apply", "-f", "crds/interfaceendpoints.yaml"]);
//! let kubeconfig = cluster.kubeconfig_path(); // the admin, for kube-rs or kubectl
//! ```
//!
//! What a test gets: TLS with a CA of its own and an admin client certificate in
//! `system:masters` (made with `openssl`, see `pki`); `--authorization-mode=RBAC`, so a
//! ServiceAccount can do only what it is granted ([`ControlPlane::service_account_kubeconfig`]
//! gives its token through the TokenRequest API); the kubectl of the same release
//! ([`ControlPlane::kubectl`]). What it does not get: no controller-manager, scheduler or kubelet,
//! so no Pods run, no garbage collection, and a deleted Namespace stays Terminating.
//!
//! Dropping the [`ControlPlane`] kills both servers and removes its directory; when the test is
//! failing (dropped while panicking) the directory and the servers' logs are kept and their last
//! lines printed. The servers never outlive the test process (see `process`).
#![forbid(unsafe_code)]

mod binaries;
mod pki;
mod process;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use binaries::{Binaries, cache_dir};
use process::Server;

/// How long a server may take to become ready: a cold start on a busy 2-core machine takes
/// several times the usual 3 to 5 seconds.
const STARTUP: Duration = Duration::from_secs(120);

/// Attempts at a start that lost its randomly chosen port to another process.
const PORT_ATTEMPTS: usize = 5;

/// etcd and kube-apiserver, running until dropped.
pub struct ControlPlane {
    binaries: Binaries,
    url: String,
    kubeconfig: PathBuf,
    // Dropped in this order: the API server, its storage, then their files.
    apiserver: Server,
    etcd: Server,
    dir: WorkDir,
}

/// The control plane's directory, removed when dropped unless `keep` is set.
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver and waits until the API server is ready (`/readyz`).
    /// Panics with the reason and the servers' logs when they cannot start, and with the
    /// command to run when the binaries are not built.
    pub fn start() -> ControlPlane {
        let binaries = Binaries::get();
        let dir = WorkDir {
            path: new_dir(),
            keep: false,
        };
        pki::generate(&dir.path);
        let (etcd, etcd_url) = start_etcd(&binaries, &dir.path);
        let (apiserver, url) = start_apiserver(&binaries, &dir.path, &etcd_url);
        let kubeconfig = dir.path.join("kubeconfig");
        std::fs::write(&kubeconfig, admin_kubeconfig(&dir.path, &url)).unwrap();
        let mut cluster = ControlPlane {
            binaries,
            url,
            kubeconfig,
            apiserver,
            etcd,
            dir,
        };
        cluster.wait_ready();
        cluster
    }

    /// The admin's kubeconfig (client certificate in `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The control plane's directory: certificates, etcd's data, logs, kubeconfigs.
    pub fn dir(&self) -> &Path {
        &self.dir.path
    }

    pub fn binaries(&self) -> &Binaries {
        &self.binaries
    }

    /// kubectl of the same Kubernetes release, as the admin.
    pub fn kubectl(&self) -> Kubectl {
        self.kubectl_as(&self.kubeconfig)
    }

    /// kubectl of the same Kubernetes release, with another kubeconfig.
    pub fn kubectl_as(&self, kubeconfig: &Path) -> Kubectl {
        Kubectl {
            binary: self.binaries.kubectl.clone(),
            kubeconfig: kubeconfig.to_path_buf(),
            // A discovery cache of this server's own: ports are reused by later servers.
            cache_dir: self.dir.path.join("kubectl-cache"),
        }
    }

    /// Applies the CustomResourceDefinitions in `file` and waits until they are served.
    pub fn install_crds(&self, file: &Path) {
        let file = file.to_str().expect("a UTF-8 path");
        let kubectl = self.kubectl();
        kubectl.run(&["apply", "-f", file]);
        kubectl.wait_established(&["-f", file]);
    }

    /// A kubeconfig that authenticates as the ServiceAccount `namespace/name` with a bound
    /// token from the TokenRequest API (valid for an hour), as a Pod would. The ServiceAccount
    /// must exist; it can do what RBAC grants it and nothing else.
    pub fn service_account_kubeconfig(&self, namespace: &str, name: &str) -> PathBuf {
        let token = self
            .kubectl()
            .run(&["-n", namespace, "create", "token", name, "--duration=1h"]);
        let path = self.dir.path.join(format!("kubeconfig-{namespace}-{name}"));
        let user = format!("system:serviceaccount:{namespace}:{name}");
        std::fs::write(
            &path,
            kubeconfig(
                &self.dir.path,
                &self.url,
                &user,
                &format!("token: {}", token.trim()),
            ),
        )
        .unwrap();
        path
    }

    /// The audit log so far: one JSON object (an `audit.k8s.io/v1` Event at the Metadata level)
    /// per line and request, written before the response is sent.
    pub fn audit_log(&self) -> String {
        std::fs::read_to_string(self.dir.path.join("audit.log")).unwrap_or_default()
    }

    /// Both servers' logs, for a test's own diagnostics.
    pub fn logs(&self) -> String {
        [&self.etcd, &self.apiserver]
            .iter()
            .map(|s| format!("---- {} ({}) ----\n{}", s.name, s.log.display(), s.log_text()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        let kubectl = self.kubectl();
        loop {
            let out = kubectl.exec(&["get", "--raw=/readyz"], None);
            if out.success {
                return;
            }
            if self.apiserver.exited() || started.elapsed() > STARTUP {
                panic!(
                    "kube-apiserver did not become ready ({:?}): {}\n{}",
                    started.elapsed(),
                    out.stderr,
                    self.apiserver.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dir.keep = true;
            eprintln!(
                "---- the test failed: the control plane's logs are kept in {} ----",
                self.dir.path.display()
            );
            for server in [&self.etcd, &self.apiserver] {
                eprintln!(
                    "---- last lines of {} ----\n{}",
                    server.log.display(),
                    server.log_tail(30)
                );
            }
        }
    }
}

/// kubectl with one kubeconfig.
#[derive(Clone, Debug)]
pub struct Kubectl {
    pub binary: PathBuf,
    pub kubeconfig: PathBuf,
    cache_dir: PathBuf,
}

impl Kubectl {
    /// Runs kubectl; panics with its error output unless it succeeds. Returns its output.
    pub fn run(&self, args: &[&str]) -> String {
        self.run_with_input(args, None)
    }

    /// Runs kubectl with `input` on its standard input (`apply -f -`); panics unless it
    /// succeeds.
    pub fn run_with_input(&self, args: &[&str], input: Option<&str>) -> String {
        match self.try_run(args, input) {
            Ok(out) => out,
            Err(err) => panic!("kubectl {args:?} failed: {err}"),
        }
    }

    /// Runs kubectl: its standard output when it succeeds, its error output when it fails (what
    /// a user reads: `The InterfaceEndpoint "x" is invalid: ...`).
    pub fn try_run(&self, args: &[&str], input: Option<&str>) -> Result<String, String> {
        let out = self.exec(args, input);
        if out.success {
            Ok(out.stdout)
        } else {
            Err(out.stderr)
        }
    }

    /// Waits until the CustomResourceDefinitions `target` names (`-f FILE` or `crd/NAME`) are
    /// Established. `kubectl wait` fails at once, with ".status.conditions accessor error: <nil>
    /// is of the type <nil>", on a CRD whose status the API server has not written yet (just
    /// created): that answer is asked again until the 60 s are up.
    pub fn wait_established(&self, target: &[&str]) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut args = vec!["wait", "--for=condition=Established", "--timeout=60s"];
        args.extend_from_slice(target);
        loop {
            match self.try_run(&args, None) {
                Ok(_) => return,
                Err(err)
                    if err.contains(".status.conditions accessor error")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                Err(err) => panic!("kubectl {args:?} failed: {err}"),
            }
        }
    }

    /// Runs kubectl and returns all it said: warnings come on standard error even when it
    /// succeeds.
    pub fn exec(&self, args: &[&str], input: Option<&str>) -> KubectlOutput {
        let mut child = Command::new(&self.binary)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.binary.display()));
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = input {
            stdin.write_all(input.as_bytes()).unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        KubectlOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// What one kubectl run printed.
#[derive(Clone, Debug)]
pub struct KubectlOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A fresh directory under the system's temporary directory.
fn new_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kube-apiserver-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// A port nobody listens on now. Another process may take it before the server binds it: the
/// callers retry on `address already in use`.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn lost_its_port(server: &mut Server) -> bool {
    server.exited() && server.log_text().contains("address already in use")
}

/// etcd and its client URL.
fn start_etcd(binaries: &Binaries, dir: &Path) -> (Server, String) {
    for _ in 0..PORT_ATTEMPTS {
        let (client, peer) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let args: Vec<String> = [
            "--name=test",
            &format!("--data-dir={}", dir.join("etcd").display()),
            &format!("--listen-client-urls={client_url}"),
            &format!("--advertise-client-urls={client_url}"),
            &format!("--listen-peer-urls={peer_url}"),
            &format!("--initial-advertise-peer-urls={peer_url}"),
            &format!("--initial-cluster=test={peer_url}"),
            // Its data lives as long as the test: durability only costs time.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]
        .map(String::from)
        .into();
        let mut etcd = Server::spawn("etcd", &binaries.etcd, &args, dir.join("etcd.log"));
        let started = Instant::now();
        loop {
            if http_get(client, "/health").contains("\"health\":\"true\"") {
                return (etcd, client_url);
            }
            if lost_its_port(&mut etcd) {
                break;
            }
            if etcd.exited() || started.elapsed() > STARTUP {
                panic!("etcd did not start:\n{}", etcd.log_tail(40));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("etcd lost its port {PORT_ATTEMPTS} times in a row");
}

/// Every request, at the Metadata level (who, verb, resource, response code; no bodies): what
/// [`ControlPlane::audit_log`] reads.
const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
";

/// kube-apiserver on etcd at `etcd_url`, and its URL.
fn start_apiserver(binaries: &Binaries, dir: &Path, etcd_url: &str) -> (Server, String) {
    let file = |name: &str| dir.join(name).display().to_string();
    std::fs::write(dir.join("audit-policy.yaml"), AUDIT_POLICY).unwrap();
    for _ in 0..PORT_ATTEMPTS {
        let port = free_port();
        let args: Vec<String> = [
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={port}"),
            format!("--cert-dir={}", file("apiserver-certs")),
            format!("--tls-cert-file={}", file("server.crt")),
            format!("--tls-private-key-file={}", file("server.key")),
            format!("--client-ca-file={}", file("ca.crt")),
            "--authorization-mode=RBAC".into(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!("--service-account-key-file={}", file("service-accounts.pub")),
            format!(
                "--service-account-signing-key-file={}",
                file("service-accounts.key")
            ),
            // Service IPs are only allocated, never routed: nothing here sends to them.
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            // The `kubernetes` Service's Endpoints cannot name a loopback address.
            "--endpoint-reconciler-type=none".into(),
            "--profiling=false".into(),
            format!("--audit-policy-file={}", file("audit-policy.yaml")),
            format!("--audit-log-path={}", file("audit.log")),
        ]
        .into();
        let mut apiserver = Server::spawn(
            "kube-apiserver",
            &binaries.kube_apiserver,
            &args,
            dir.join("kube-apiserver.log"),
        );
        // Serving starts a second or two before /readyz passes; a lost port shows by then.
        let started = Instant::now();
        while started.elapsed() < STARTUP && TcpStream::connect(("127.0.0.1", port)).is_err() {
            if apiserver.exited() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if lost_its_port(&mut apiserver) {
            continue;
        }
        if apiserver.exited() {
            panic!("kube-apiserver did not start:\n{}", apiserver.log_tail(40));
        }
        return (apiserver, format!("https://127.0.0.1:{port}"));
    }
    panic!("kube-apiserver lost its port {PORT_ATTEMPTS} times in a row");
}

/// A plain HTTP GET on loopback; the body, or nothing when there is no answer.
fn http_get(port: u16, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return String::new();
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

fn admin_kubeconfig(dir: &Path, url: &str) -> String {
    let credentials = format!(
        "client-certificate: {:?}\n    client-key: {:?}",
        dir.join("admin.crt"),
        dir.join("admin.key")
    );
    kubeconfig(dir, url, "admin", &credentials)
}

/// A kubeconfig with one cluster (this server, trusted through the test CA) and one user.
fn kubeconfig(dir: &Path, url: &str, user: &str, credentials: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: kube-apiserver
  cluster:
    server: {url}
    certificate-authority: {ca:?}
users:
- name: {user:?}
  user:
    {credentials}
contexts:
- name: test
  context:
    cluster: kube-apiserver
    user: {user:?}
current-context: test
",
        ca = dir.join("ca.crt"),
    )
}
