//! Two electors through real `kube::Client`s against an in-memory Lease API that enforces
//! `resourceVersion` like the API server (409 on a stale write, 409 AlreadyExists on a second
//! create). Each client's [`Link`] can be cut off, to play a replica that stops renewing, or slow
//! down an answer.
//!
//! The real kube-apiserver runs two replicas on a real Lease in tests/e2e/leader.rs; it cannot
//! be made to refuse one replica's requests, leave them unanswered, answer a write late, or let
//! another writer in between a read and a write, which is what these tests need. What this
//! stand-in does differently from the real Lease API is listed in tests/README.md.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::{oneshot, watch};

use super::*;

/// The Lease store: name → (resourceVersion, Lease JSON).
#[derive(Default)]
struct LeaseStore {
    leases: Mutex<HashMap<String, (u64, serde_json::Value)>>,
    next_rv: Mutex<u64>,
    /// Runs once right after the next GET has been answered: another writer in the window
    /// between an elector's read and its write.
    after_get: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// When the last write landed: from then on a standby that read it may take over once the
    /// lease duration has passed.
    last_write: Mutex<Option<Instant>>,
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    });
    json(code, &body)
}

fn json(code: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = code;
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    resp
}

impl LeaseStore {
    fn on_next_get(&self, f: Box<dyn FnOnce() + Send>) {
        *self.after_get.lock().unwrap() = Some(f);
    }

    fn handle(&self, method: &Method, path: &str, body: &[u8]) -> Response<Full<Bytes>> {
        let prefix = "/apis/coordination.k8s.io/v1/namespaces/ops/leases";
        let Some(rest) = path.strip_prefix(prefix) else {
            return status(StatusCode::NOT_FOUND, "NotFound", "unknown path");
        };
        let mut leases = self.leases.lock().unwrap();
        let stamp = |mut lease: serde_json::Value| {
            *self.last_write.lock().unwrap() = Some(Instant::now());
            let mut rv = self.next_rv.lock().unwrap();
            *rv += 1;
            lease["metadata"]["resourceVersion"] = serde_json::Value::String(rv.to_string());
            (*rv, lease)
        };
        match (method, rest.strip_prefix('/')) {
            (&Method::GET, Some(name)) => match leases.get(name) {
                Some((_, lease)) => json(StatusCode::OK, lease),
                None => status(StatusCode::NOT_FOUND, "NotFound", "lease not found"),
            },
            (&Method::POST, None) => {
                let lease: serde_json::Value = serde_json::from_slice(body).unwrap();
                let name = lease["metadata"]["name"].as_str().unwrap().to_string();
                if leases.contains_key(&name) {
                    return status(StatusCode::CONFLICT, "AlreadyExists", "lease already exists");
                }
                let (rv, lease) = stamp(lease);
                leases.insert(name, (rv, lease.clone()));
                json(StatusCode::CREATED, &lease)
            }
            (&Method::PUT, Some(name)) => {
                let lease: serde_json::Value = serde_json::from_slice(body).unwrap();
                let sent_rv = lease["metadata"]["resourceVersion"].as_str().unwrap_or("");
                match leases.get(name) {
                    None => status(StatusCode::NOT_FOUND, "NotFound", "lease not found"),
                    Some((rv, _)) if rv.to_string() != sent_rv => status(
                        StatusCode::CONFLICT,
                        "Conflict",
                        "the object has been modified; please apply your changes to the latest version and try again",
                    ),
                    Some(_) => {
                        let (rv, lease) = stamp(lease);
                        leases.insert(name.to_string(), (rv, lease.clone()));
                        json(StatusCode::OK, &lease)
                    }
                }
            }
            _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "unsupported"),
        }
    }

    fn last_write(&self) -> Instant {
        self.last_write.lock().unwrap().expect("a Lease was written")
    }

    fn holder(&self) -> Option<String> {
        let leases = self.leases.lock().unwrap();
        leases
            .get(DEFAULT_LEASE_NAME)
            .and_then(|(_, l)| l["spec"]["holderIdentity"].as_str().map(str::to_string))
    }
}

/// One replica's connection to the store.
#[derive(Default)]
struct Link {
    /// Requests fail with 503: a partition the replica notices.
    cut_off: AtomicBool,
    /// Requests are never answered: a connection gone half-open (kube's client has no read
    /// timeout by default).
    hang: AtomicBool,
    /// How many requests were left unanswered so far.
    unanswered: AtomicUsize,
    /// The next write lands at once, but its answer arrives this much later; the link is cut off
    /// from then on.
    late_write: Mutex<Option<Duration>>,
}

/// A client of `store` through `link`.
fn client(store: Arc<LeaseStore>, link: Arc<Link>) -> kube::Client {
    let service = tower::service_fn(move |req: Request<kube::client::Body>| {
        let store = store.clone();
        let link = link.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            if link.hang.load(Ordering::SeqCst) {
                link.unanswered.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
            }
            if link.cut_off.load(Ordering::SeqCst) {
                return Ok::<_, Infallible>(status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    "partitioned",
                ));
            }
            let resp = store.handle(&parts.method, parts.uri.path(), &body);
            if parts.method == Method::GET {
                let hook = store.after_get.lock().unwrap().take();
                if let Some(hook) = hook {
                    hook();
                }
            } else {
                let late = link.late_write.lock().unwrap().take();
                if let Some(delay) = late {
                    tokio::time::sleep(delay).await;
                    link.cut_off.store(true, Ordering::SeqCst);
                }
            }
            Ok(resp)
        }
    });
    kube::Client::new(service, "ops")
}

fn fast_config(identity: &str) -> LeaseConfig {
    LeaseConfig {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1000),
        retry_period: Duration::from_millis(100),
        ..LeaseConfig::new("ops", identity)
    }
}

struct Replica {
    identity: String,
    link: Arc<Link>,
    state: watch::Receiver<Leadership>,
    stop: Option<oneshot::Sender<()>>,
    run: tokio::task::JoinHandle<ElectionEnd>,
}

fn start(store: &Arc<LeaseStore>, identity: &str) -> Replica {
    start_with(store, fast_config(identity))
}

fn start_with(store: &Arc<LeaseStore>, config: LeaseConfig) -> Replica {
    let identity = config.identity.clone();
    let link = Arc::new(Link::default());
    let elector = LeaderElector::new(client(store.clone(), link.clone()), config).unwrap();
    let (tx, state) = watch::channel(Leadership::Unsettled);
    let (stop, stopped) = oneshot::channel::<()>();
    let run = tokio::spawn(elector.run(tx, async {
        let _ = stopped.await;
    }));
    Replica {
        identity,
        link,
        state,
        stop: Some(stop),
        run,
    }
}

/// Waits (bounded) until `pred` holds for the replicas' states, checking at every step that
/// they never both lead.
async fn wait_until(replicas: &[&Replica], what: &str, pred: impl Fn(&[Leadership]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let states: Vec<Leadership> = replicas.iter().map(|r| r.state.borrow().clone()).collect();
        assert!(
            states.iter().filter(|s| s.is_leading()).count() <= 1,
            "two leaders at once: {states:?}"
        );
        if pred(&states) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (bounded) until `replica` stops leading, and says when.
async fn stopped_leading(replica: &mut Replica) -> Instant {
    tokio::time::timeout(
        Duration::from_secs(10),
        replica.state.wait_for(|l| !l.is_leading()),
    )
    .await
    .expect("the leader stepped down")
    .expect("the election publishes its last standing before it ends");
    Instant::now()
}

/// The safety property behind the renew deadline: a standby that read the leader's last write
/// may take over `lease_duration` after it landed, so the leader must have stopped leading by
/// then.
fn assert_stopped_before_a_standby_may_take_over(store: &LeaseStore, stopped: Instant, config: &LeaseConfig) {
    let led_on = stopped.saturating_duration_since(store.last_write());
    assert!(
        led_on < config.lease_duration,
        "the leader led on for {led_on:?} after its last write landed; a standby may take over after {:?}",
        config.lease_duration
    );
}

/// `pod-a_1` leads, then `pod-b_2` starts and stands by behind it.
async fn leader_and_standby(store: &Arc<LeaseStore>) -> (Replica, Replica) {
    let a = start(store, "pod-a_1");
    wait_until(&[&a], "a leads", |s| s[0].is_leading()).await;
    let b = start(store, "pod-b_2");
    wait_until(&[&a, &b], "b stands by", |s| {
        matches!(s[1], Leadership::StandingBy { .. })
    })
    .await;
    (a, b)
}

#[tokio::test]
async fn two_replicas_elect_one_leader_and_the_standby_names_it() {
    let store = Arc::new(LeaseStore::default());
    let a = start(&store, "pod-a_1");
    let b = start(&store, "pod-b_2");
    wait_until(&[&a, &b], "one leader and one standby", |s| {
        s.iter().any(Leadership::is_leading)
            && s.iter()
                .any(|x| matches!(x, Leadership::StandingBy { holder } if !holder.is_empty()))
    })
    .await;
    let leader = if a.state.borrow().is_leading() { &a } else { &b };
    assert_eq!(store.holder().as_deref(), Some(leader.identity.as_str()));
    // Both keep their roles over several renewals.
    tokio::time::sleep(Duration::from_millis(500)).await;
    wait_until(&[&a, &b], "roles kept", |s| s.iter().any(Leadership::is_leading)).await;
}

#[tokio::test]
async fn the_standby_takes_over_at_once_when_the_leader_shuts_down_and_releases() {
    let store = Arc::new(LeaseStore::default());
    let (mut a, b) = leader_and_standby(&store).await;

    let released_at = Instant::now();
    a.stop.take().unwrap().send(()).unwrap();
    assert_eq!((&mut a.run).await.unwrap(), ElectionEnd::ShutDown);
    wait_until(&[&a, &b], "b leads", |s| s[1].is_leading()).await;
    assert!(
        released_at.elapsed() < fast_config("x").lease_duration,
        "a released Lease is taken without waiting out its duration"
    );
    assert_eq!(store.holder().as_deref(), Some("pod-b_2"));
}

#[tokio::test]
async fn a_leader_that_cannot_renew_steps_down_before_the_standby_takes_over() {
    let store = Arc::new(LeaseStore::default());
    let (mut a, b) = leader_and_standby(&store).await;

    a.link.cut_off.store(true, Ordering::SeqCst);
    // `wait_until` asserts at every step that a and b never lead at the same time.
    wait_until(&[&a, &b], "b leads after a stepped down", |s| s[1].is_leading()).await;
    let end = tokio::time::timeout(Duration::from_secs(1), &mut a.run)
        .await
        .expect("a's election ended")
        .unwrap();
    assert_eq!(end, ElectionEnd::LostLeadership);
    assert_eq!(store.holder().as_deref(), Some("pod-b_2"));
}

#[tokio::test]
async fn losing_a_write_race_is_standing_by_not_an_error() {
    let store = Arc::new(LeaseStore::default());
    let mut a = LeaderElector::new(client(store.clone(), Arc::default()), fast_config("pod-a_1")).unwrap();
    assert_eq!(a.try_acquire_or_renew().await.unwrap(), Leadership::Leading);
    assert!(a.release().await.unwrap());

    // b reads the released Lease; before its write lands, c takes it (a newer resourceVersion).
    let racer = store.clone();
    store.on_next_get(Box::new(move || {
        let mut leases = racer.leases.lock().unwrap();
        let (rv, lease) = leases.get_mut(DEFAULT_LEASE_NAME).unwrap();
        *rv += 1000;
        lease["metadata"]["resourceVersion"] = serde_json::Value::String(rv.to_string());
        lease["spec"]["holderIdentity"] = "pod-c_3".into();
    }));
    let mut b = LeaderElector::new(client(store.clone(), Arc::default()), fast_config("pod-b_2")).unwrap();
    assert!(matches!(
        b.try_acquire_or_renew().await.unwrap(),
        Leadership::StandingBy { .. }
    ));
    assert_eq!(
        store.holder().as_deref(),
        Some("pod-c_3"),
        "b's stale write was refused"
    );
    // Next attempt: b reads c's Lease and waits on it.
    assert_eq!(
        b.try_acquire_or_renew().await.unwrap(),
        Leadership::StandingBy {
            holder: "pod-c_3".into()
        }
    );
}

#[tokio::test]
async fn a_renewal_answered_late_does_not_extend_leadership_past_the_lease_a_standby_sees() {
    // The renewal lands at once, its answer comes 0.9 s later, and nothing gets through after.
    // Counted from the answer, the 1.5 s renew deadline would end 2.4 s after the write landed:
    // past the 2 s after which a standby that read the write may take over.
    let config = LeaseConfig {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(100),
        ..LeaseConfig::new("ops", "pod-a_1")
    };
    let store = Arc::new(LeaseStore::default());
    let mut a = start_with(&store, config.clone());
    wait_until(&[&a], "a leads", |s| s[0].is_leading()).await;
    *a.link.late_write.lock().unwrap() = Some(Duration::from_millis(900));
    let stopped = stopped_leading(&mut a).await;
    assert_stopped_before_a_standby_may_take_over(&store, stopped, &config);
}

#[tokio::test]
async fn a_leader_that_cannot_renew_stops_at_its_deadline_even_when_the_retry_period_is_long() {
    // Valid timings where the next attempt after a failed one comes only after the deadline:
    // renewals at +1.2 s (fails) and +2.4 s. Stepping down there, rather than at the 1.5 s
    // deadline, would lead past the 2 s after which a standby may take over.
    let config = LeaseConfig {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(1200),
        ..LeaseConfig::new("ops", "pod-a_1")
    };
    assert_eq!(config.validate(), Ok(()));
    let store = Arc::new(LeaseStore::default());
    let mut a = start_with(&store, config.clone());
    wait_until(&[&a], "a leads", |s| s[0].is_leading()).await;
    a.link.cut_off.store(true, Ordering::SeqCst);
    let stopped = stopped_leading(&mut a).await;
    assert_stopped_before_a_standby_may_take_over(&store, stopped, &config);
}

#[tokio::test]
async fn a_standby_whose_api_server_stops_answering_turns_unready_and_still_shuts_down() {
    let store = Arc::new(LeaseStore::default());
    let (a, mut b) = leader_and_standby(&store).await;
    b.link.hang.store(true, Ordering::SeqCst);
    // Standing by means being able to take over; a replica that cannot read the Lease cannot.
    wait_until(&[&a, &b], "b no longer claims to stand by", |s| {
        s[1] == Leadership::Unsettled
    })
    .await;
    // The attempt after the one that timed out hangs too; shut down in the middle of it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.link.unanswered.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "b makes another attempt");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    b.stop.take().unwrap().send(()).unwrap();
    // Well within the renew deadline (1 s) that bounds the attempt itself.
    let end = tokio::time::timeout(Duration::from_millis(500), &mut b.run)
        .await
        .expect("shutdown is not held up by a request that never returns")
        .unwrap();
    assert_eq!(end, ElectionEnd::ShutDown);
}
