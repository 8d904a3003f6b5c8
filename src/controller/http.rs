//! The operations HTTP server: `/metrics` (Prometheus text), `/healthz` (the process serves
//! requests) and `/readyz` (the replica does its job: see [`Readiness`]).
//!
//! hyper 1 over HTTP/1.1 only (kubelet probes and Prometheus speak it), one task per connection,
//! graceful shutdown: once the shutdown future resolves, no new connection is accepted, in-flight
//! requests finish, idle keep-alive connections are closed, and [`serve`] returns (after at most
//! [`SHUTDOWN_GRACE`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::metrics::{self, Metrics};

/// How long [`serve`] waits for in-flight requests once shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where this replica stands in leader election, as readiness sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionState {
    /// Leader election is off: this replica always runs the controller.
    Disabled,
    /// Not known yet, or the Lease cannot be read or written (API unreachable, forbidden).
    Unsettled,
    /// Another replica holds a valid Lease; this one watches it and is ready to take over.
    StandingBy,
    /// This replica holds the Lease and runs the controller.
    Leading,
}

impl ElectionState {
    fn to_u8(self) -> u8 {
        match self {
            Self::Disabled => 0,
            Self::Unsettled => 1,
            Self::StandingBy => 2,
            Self::Leading => 3,
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Disabled,
            2 => Self::StandingBy,
            3 => Self::Leading,
            _ => Self::Unsettled,
        }
    }
}

/// What `/readyz` answers. A replica is ready when it does its job: the controller has listed
/// the InterfaceEndpoints once (its cache is warm), or, with leader election, it stands by
/// cleanly behind a healthy leader (it reads the Lease, so it can take over).
#[derive(Debug)]
pub struct Readiness {
    synced: AtomicBool,
    election: AtomicU8,
}

impl Readiness {
    /// `leader_election`: whether the replica takes part in leader election.
    pub fn new(leader_election: bool) -> Self {
        let election = if leader_election {
            ElectionState::Unsettled
        } else {
            ElectionState::Disabled
        };
        Self {
            synced: AtomicBool::new(false),
            election: AtomicU8::new(election.to_u8()),
        }
    }

    /// The controller's first list of InterfaceEndpoints succeeded (or, with `false`, the
    /// controller stopped, e.g. after losing the Lease).
    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::Release);
    }

    pub fn set_election(&self, state: ElectionState) {
        self.election.store(state.to_u8(), Ordering::Release);
    }

    pub fn election(&self) -> ElectionState {
        ElectionState::from_u8(self.election.load(Ordering::Acquire))
    }

    /// `Ok` when ready; otherwise what the replica waits for, for the probe's response body.
    pub fn check(&self) -> Result<(), &'static str> {
        let synced = self.synced.load(Ordering::Acquire);
        match self.election() {
            ElectionState::StandingBy => Ok(()),
            ElectionState::Unsettled => {
                Err("leader election has not settled: the Lease cannot be read or acquired yet")
            }
            ElectionState::Disabled | ElectionState::Leading if synced => Ok(()),
            ElectionState::Disabled | ElectionState::Leading => {
                Err("waiting for the first list of InterfaceEndpoints")
            }
        }
    }
}

/// What the handlers read.
#[derive(Clone, Debug)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Readiness>,
}

/// Binds the listener first, so that a bad `--metrics-address` fails at start-up with a clear
/// error, and tests can bind port 0.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves until `shutdown` resolves, then drains connections (at most [`SHUTDOWN_GRACE`]).
pub async fn serve(listener: TcpListener, state: HttpState, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Per-connection failures (e.g. too many open files) must not end the
                        // server; back off briefly so that a persistent one does not spin.
                        tracing::warn!(error = %e, "accepting a metrics/health connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let state = state.clone();
                // Every answer is computed synchronously: no await, no per-request clone of the state.
                let service = service_fn(move |req| std::future::ready(Ok::<_, Infallible>(route(&state, &req))));
                let conn = http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "metrics/health connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("metrics/health connections still open after the shutdown grace period");
    }
}

fn route(state: &HttpState, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    match req.uri().path() {
        "/metrics" => {
            let mut resp = text(StatusCode::OK, state.metrics.render());
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(metrics::CONTENT_TYPE));
            resp
        }
        // The process answers: that is all liveness means. Readiness problems (API server
        // unreachable, Lease held elsewhere) must not get the pod restarted.
        "/healthz" | "/livez" => text(StatusCode::OK, "ok\n"),
        "/readyz" => match state.readiness.check() {
            Ok(()) => text(StatusCode::OK, "ok\n"),
            Err(reason) => text(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}\n")),
        },
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /healthz or /readyz\n",
        ),
    }
}

/// A plain-text answer; fixed texts (`&'static str`) are sent without a copy.
fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    struct Running {
        addr: SocketAddr,
        state: HttpState,
        stop: Option<oneshot::Sender<()>>,
        server: tokio::task::JoinHandle<()>,
    }

    async fn start(leader_election: bool) -> Running {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = HttpState {
            metrics: Arc::new(Metrics::new()),
            readiness: Arc::new(Readiness::new(leader_election)),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        Running {
            addr,
            state,
            stop: Some(stop),
            server,
        }
    }

    /// One HTTP/1.1 request over a fresh loopback connection: (status, headers, body).
    async fn request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut raw = String::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut raw))
            .await
            .expect("the server answers and closes")
            .unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_string(), body.to_string())
    }

    #[tokio::test]
    async fn metrics_are_served_as_prometheus_text() {
        let running = start(false).await;
        running
            .state
            .metrics
            .observe_reconcile(Duration::from_millis(10), None);
        let (status, head, body) = request(running.addr, "GET", "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{head}"
        );
        assert!(body.contains("vpce_rollout_reconciles_total 1\n"), "{body}");
    }

    #[tokio::test]
    async fn healthz_answers_while_the_process_runs_even_when_not_ready() {
        let running = start(true).await;
        let (status, _, body) = request(running.addr, "GET", "/healthz").await;
        assert_eq!((status, body.as_str()), (200, "ok\n"));
        let (status, _, _) = request(running.addr, "GET", "/readyz").await;
        assert_eq!(status, 503);
    }

    #[tokio::test]
    async fn readyz_waits_for_the_first_list_without_leader_election() {
        let running = start(false).await;
        let (status, _, body) = request(running.addr, "GET", "/readyz").await;
        assert_eq!(status, 503);
        assert!(body.contains("first list"), "{body}");
        running.state.readiness.set_synced(true);
        let (status, _, _) = request(running.addr, "GET", "/readyz").await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn readyz_follows_leader_election() {
        let running = start(true).await;
        let readiness = &running.state.readiness;
        readiness.set_synced(true);
        let (status, _, body) = request(running.addr, "GET", "/readyz").await;
        assert_eq!(status, 503, "unsettled election is not ready: {body}");
        readiness.set_election(ElectionState::StandingBy);
        assert_eq!(request(running.addr, "GET", "/readyz").await.0, 200);
        readiness.set_election(ElectionState::Leading);
        readiness.set_synced(false);
        assert_eq!(
            request(running.addr, "GET", "/readyz").await.0,
            503,
            "a new leader is ready once it has listed"
        );
        readiness.set_synced(true);
        assert_eq!(request(running.addr, "GET", "/readyz").await.0, 200);
    }

    #[tokio::test]
    async fn unknown_paths_and_methods_are_refused_clearly() {
        let running = start(false).await;
        let (status, _, body) = request(running.addr, "GET", "/nope").await;
        assert_eq!(status, 404);
        assert!(body.contains("/metrics"));
        let (status, head, _) = request(running.addr, "POST", "/metrics").await;
        assert_eq!(status, 405);
        assert!(head.to_ascii_lowercase().contains("allow: get, head"));
    }

    #[tokio::test]
    async fn shutdown_closes_idle_connections_and_stops_accepting() {
        let mut running = start(false).await;
        // A keep-alive connection that has finished one request and sits idle.
        let mut idle = TcpStream::connect(running.addr).await.unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 1024];
        let n = idle.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

        running.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(1), &mut running.server)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
        let n = tokio::time::timeout(Duration::from_secs(1), idle.read(&mut buf))
            .await
            .expect("the idle connection is closed")
            .unwrap_or(0);
        assert_eq!(n, 0, "EOF on the idle keep-alive connection");
        assert!(
            TcpStream::connect(running.addr).await.is_err(),
            "no longer listening"
        );
    }
}
