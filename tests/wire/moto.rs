//! moto for the wire tests: one launcher (tests/moto/launcher.py) per test binary, one AWS
//! account per test, so tests run in parallel without seeing each other's worlds.
//!
//! moto must be installed (`.ci/install-moto`); when it is not, every test that needs it fails
//! with the command to run. Nothing is skipped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::{Credentials, SharedCredentialsProvider};
use vpce_rollout::aws::sdk::{SdkEc2, SdkOptions, SdkProvider, https_client};

/// The region every wire test runs in (moto's endpoint services are per region).
pub const REGION: &str = "us-east-1";

/// A running launcher. Never dropped: when the test process exits, the launcher's standard
/// input closes and it exits too.
pub struct Moto {
    pub port: u16,
    _child: Mutex<Child>,
    _stdin: Mutex<ChildStdin>,
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("VPCE_MOTO_PYTHON") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv/bin/python")
}

fn launch() -> Moto {
    let python = python();
    assert!(
        python.exists(),
        "moto is not installed: {} does not exist.\n\
         Run `.ci/install-moto` (installs moto[server]==5.2.5 into target/moto-venv), \
         or point VPCE_MOTO_PYTHON at a Python that has it.",
        python.display()
    );
    let launcher = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/moto/launcher.py");
    let mut command = Command::new(&python);
    command.arg(&launcher).arg("--pending-seconds").arg("1");
    // To see which tests need the launcher's patches: VPCE_MOTO_STOCK=1 serves stock moto,
    // VPCE_MOTO_WITHOUT=gap,... leaves only those gaps open (names in the launcher).
    if std::env::var_os("VPCE_MOTO_STOCK").is_some() {
        command.arg("--stock");
    }
    if let Some(gaps) = std::env::var_os("VPCE_MOTO_WITHOUT") {
        command.arg("--without").arg(gaps);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {} {}: {e}", python.display(), launcher.display()));
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(90))
        .unwrap_or_else(|_| panic!("the moto launcher printed no port within 90 s"));
    let port = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "the moto launcher did not start (first line {line:?}); its error is above. \
                 Is moto installed? Run `.ci/install-moto`."
            )
        });
    Moto {
        port,
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    }
}

/// The launcher of this test binary, started on first use.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(launch)
}

impl Moto {
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Options for tests: quick retries, so that injected throttling fails fast.
pub fn test_options() -> SdkOptions {
    SdkOptions {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(2),
        attempt_timeout: Duration::from_secs(20),
        operation_timeout: Duration::from_secs(40),
        ..SdkOptions::default()
    }
}

/// One AWS account on the shared launcher: a world of its own.
pub struct Account {
    pub id: String,
    pub ec2: Arc<SdkEc2>,
}

impl Account {
    pub fn new() -> Self {
        Self::with_options(test_options())
    }

    pub fn with_options(options: SdkOptions) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = format!("{:012}", 200_000_000_000 + NEXT.fetch_add(1, Ordering::Relaxed));
        let provider = SdkProvider::from_sdk_config(Self::sdk_config(&id), options);
        let ec2 = provider.client_for(None).expect("region is set");
        Self { id, ec2 }
    }

    /// The SDK configuration of this account: static credentials whose key id is the account
    /// id (the launcher maps it to a moto account), the launcher's endpoint.
    pub fn sdk_config(id: &str) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                id,
                "wire-test-secret",
                None,
                None,
                "wire-tests",
            )))
            .endpoint_url(moto().endpoint_url())
            .http_client(https_client())
            .build()
    }

    pub fn client(&self) -> &aws_sdk_ec2::Client {
        self.ec2.client()
    }

    /// Makes the next `count` calls of `action` in this account fail with an EC2 error.
    pub fn inject_fault(&self, action: &str, code: &str, status: u16, count: u32) {
        self.post_fault(serde_json::json!({
            "account": self.id,
            "action": action,
            "code": code,
            "message": format!("injected by the wire test: {code}"),
            "status": status,
            "count": count,
        }));
    }

    /// Makes the next `count` calls of `action` in this account answer `status` with `page` as
    /// an HTML page instead of an EC2 error (a proxy or load balancer in front of EC2).
    pub fn inject_error_page(&self, action: &str, status: u16, page: &str, count: u32) {
        self.post_fault(serde_json::json!({
            "account": self.id,
            "action": action,
            "page": page,
            "status": status,
            "count": count,
        }));
    }

    fn post_fault(&self, fault: serde_json::Value) {
        let body = fault.to_string();
        let response = control(&format!(
            "POST /_vpce-rollout/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        assert!(
            response.lines().next().is_some_and(|l| l.contains(" 204")),
            "the launcher refused the fault: {response}"
        );
    }

    /// Every request of this account the launcher answered so far, with the request id its
    /// answer carried: what the server said, to check the controller's audit trail against.
    pub fn served_requests(&self) -> Vec<ServedRequest> {
        let response = control(&format!(
            "GET /_vpce-rollout/requests?account={} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            self.id
        ));
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP answer");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }
}

/// The last request of `action` among `served` (what [`Account::served_requests`] gave).
pub fn last_served<'a>(served: &'a [ServedRequest], action: &str) -> &'a ServedRequest {
    served
        .iter()
        .rfind(|r| r.action == action)
        .unwrap_or_else(|| panic!("no {action} among the requests the launcher served"))
}

/// One request the launcher answered.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServedRequest {
    pub action: String,
    pub status: u16,
    pub request_id: Option<String>,
    /// The launcher's monotonic clock when it answered, in seconds.
    pub at: f64,
    /// The request's query parameters (the first value of each), e.g. `PrivateDnsEnabled`.
    pub params: std::collections::BTreeMap<String, String>,
}

impl ServedRequest {
    /// The value of the query parameter `name`, if the request had it.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// One exchange with the launcher's test-support endpoints.
fn control(request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", moto().port)).expect("connect to moto");
    // A launcher that stopped answering fails the test instead of hanging the run.
    let limit = Some(Duration::from_secs(30));
    stream.set_read_timeout(limit).expect("read timeout");
    stream.set_write_timeout(limit).expect("write timeout");
    stream
        .write_all(request.as_bytes())
        .expect("send to the launcher");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the launcher's answer");
    response
}
