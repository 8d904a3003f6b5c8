//! Running the controller: the HTTP endpoints, leader election, and the kube-runtime
//! `Controller` over InterfaceEndpoints, until shutdown.
//!
//! [`run`] is what `vpce-rollout run` calls with the aws-sdk-ec2 provider; tests call it (or
//! [`run_controller`]) with the simulated world and the real kube-apiserver (tests/e2e).

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector;
use kube::runtime::utils::Predicate;
use kube::runtime::watcher;
use kube::runtime::{Controller, WatchStreamExt, predicates};
use tokio::sync::watch;

use super::http::{self, ElectionState, HttpState, Readiness};
use super::instrumented_ec2::InstrumentedProvider;
use super::leader::{ElectionEnd, LeaderElector, Leadership};
use super::metrics::Metrics;
use super::options::RunOptions;
use super::reconcile::{self, Context, object_key};
use crate::api::{EndpointGrant, InterfaceEndpoint, PlanApproval};
use crate::aws::Ec2Provider;
use crate::aws::budget::{BudgetedProvider, TokioClock};
use crate::aws::guard::GuardedProvider;
use crate::logs::LogsProvider;
use crate::plan::{Config, Timing};

/// Why the controller stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "the InterfaceEndpoint CRD is not installed (kubectl apply -f crds/interfaceendpoints.yaml, or install the Helm chart)"
    )]
    CrdMissing,
    #[error("not allowed to list InterfaceEndpoints{scope}: {message} (check the ServiceAccount's RBAC)")]
    Forbidden { scope: String, message: String },
    #[error("the {kind} CRD is not installed (kubectl apply -f {file}, or install the Helm chart)")]
    TenancyCrdMissing { kind: &'static str, file: &'static str },
    #[error("not allowed to list {kind} (cluster-wide): {message} (check the ServiceAccount's RBAC)")]
    TenancyForbidden { kind: &'static str, message: String },
    #[error("Kubernetes API: {0}")]
    Kubernetes(#[from] kube::Error),
    #[error("{0}")]
    Config(String),
    #[error("cannot serve metrics and probes: {0}")]
    Http(#[from] std::io::Error),
    #[error("lost the leader Lease; exiting so that a restart campaigns again")]
    LostLeadership,
}

/// Where and how the controller reconciles.
#[derive(Clone, Debug)]
pub struct ControllerSettings {
    /// Only this namespace (all namespaces when `None`).
    pub watch_namespace: Option<String>,
    pub timing: Timing,
    /// What the configuration decides for every object (observe only, ...).
    pub config: Config,
    /// `reportingInstance` of Events: the pod's name.
    pub instance: String,
}

impl ControllerSettings {
    pub fn from_options(options: &RunOptions) -> Self {
        Self {
            watch_namespace: options.watch_namespace.clone(),
            timing: Timing {
                resync: options.resync,
                private_dns_ttl: options.private_dns_ttl,
                acceptance_timeout: options.acceptance_timeout,
                ..Timing::default()
            },
            config: Config {
                observe_only: options.observe_only,
                default_deletion_policy: options.default_deletion_policy,
                cluster_name: options.cluster_name.clone(),
                pod_ip: options.pod_ip,
            },
            instance: super::leader::default_identity(),
        }
    }
}

/// The time decisions are made at: the wall clock, or a simulated clock in tests.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// What a running controller is made of.
pub struct ControllerSetup<P> {
    pub client: kube::Client,
    /// EC2 per region (aws-sdk-ec2, or the simulated world in tests).
    pub provider: P,
    pub settings: ControllerSettings,
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Readiness>,
    pub clock: Clock,
}

/// A shutdown signal any number of tasks can wait for.
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            tx: Arc::new(watch::channel(false).0),
        }
    }
}

impl Shutdown {
    /// Starts the shutdown.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Resolves once [`Shutdown::trigger`] was called.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            let _ = rx.wait_for(|done| *done).await;
        }
    }

    /// Triggers on SIGTERM (what Kubernetes sends) or Ctrl-C.
    pub fn on_signals(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("a SIGTERM handler can be installed");
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            let _ = ctrl_c.await;
            tracing::info!("shutdown requested");
            this.trigger();
        });
    }
}

/// Serves /metrics, /healthz and /readyz, campaigns for the Lease when asked, and reconciles
/// while leading (or always, without leader election) until `shutdown`.
pub async fn run<P: Ec2Provider + LogsProvider>(
    client: kube::Client,
    provider: P,
    options: &RunOptions,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let lease = options.leader_election.lease_config().map_err(RunError::Config)?;
    let metrics = Arc::new(Metrics::new());
    let readiness = Arc::new(Readiness::new(lease.is_some()));
    let listener = http::bind(options.metrics_address).await?;
    tracing::info!(address = %listener.local_addr()?, "serving /metrics, /healthz and /readyz");
    let server = tokio::spawn(http::serve(
        listener,
        HttpState {
            metrics: metrics.clone(),
            readiness: readiness.clone(),
        },
        shutdown.wait(),
    ));

    // Under --observe-only every EC2 mutation is refused before it is sent, whatever a
    // decision asks for; the decisions ask for none.
    let guarded = GuardedProvider::new(provider, options.observe_only);
    // Outermost, the API budget: one per account and region, shared by every object; what it
    // holds back is never sent, so the call metrics count only what reached EC2.
    metrics.set_budget_share(options.ec2_api_share());
    let budgeted = BudgetedProvider::new(
        InstrumentedProvider::new(guarded, metrics.clone()),
        options.ec2_api_share(),
        Arc::new(TokioClock::default()),
        metrics.clone(),
    );
    let setup = ControllerSetup {
        provider: budgeted,
        settings: ControllerSettings::from_options(options),
        clock: Arc::new(Timestamp::now),
        client,
        metrics,
        readiness,
    };
    let result = match lease {
        None => {
            // Without leader election this replica is the one that reconciles.
            setup.metrics.set_leader(true);
            run_controller(setup, shutdown.wait()).await
        }
        Some(lease) => {
            let elector = LeaderElector::new(setup.client.clone(), lease).map_err(RunError::Config)?;
            let (tx, rx) = watch::channel(Leadership::Unsettled);
            // The Lease is released only once the controller has stopped: released while
            // reconciles still run, it would let a standby start beside them.
            let release = Shutdown::default();
            let election = tokio::spawn(elector.run(tx, release.wait()));
            tokio::spawn(mirror_leadership(
                rx.clone(),
                setup.readiness.clone(),
                setup.metrics.clone(),
            ));
            let result = lead(setup, rx, &shutdown).await;
            release.trigger();
            match election.await {
                Ok(ElectionEnd::LostLeadership) if result.is_ok() => Err(RunError::LostLeadership),
                _ => result,
            }
        }
    };
    shutdown.trigger();
    let _ = server.await;
    result
}

/// Waits for the Lease, then reconciles until shutdown or until the Lease is lost.
async fn lead<P: Ec2Provider + LogsProvider>(
    setup: ControllerSetup<P>,
    mut leadership: watch::Receiver<Leadership>,
    shutdown: &Shutdown,
) -> Result<(), RunError> {
    tokio::select! {
        leading = leadership.wait_for(Leadership::is_leading) => {
            if leading.is_err() {
                return Ok(()); // The election ended before this replica led: shutdown.
            }
        }
        () = shutdown.wait() => return Ok(()),
    }
    tracing::info!("leading: starting the controller");
    // Losing the Lease stops the controller at once, reconciles in flight included: a standby may
    // take over as soon as the Lease expires, and two replicas must never act together. Every
    // step is idempotent, so what a cancelled reconcile left half-done is picked up by the next
    // leader. On shutdown, by contrast, reconciles finish while this replica still holds the
    // Lease.
    tokio::select! {
        result = run_controller(setup, shutdown.wait()) => result,
        _ = leadership.wait_for(|l| !l.is_leading()) => {
            tracing::warn!("lost the leader Lease: stopping the controller at once");
            Err(RunError::LostLeadership)
        }
    }
}

async fn mirror_leadership(
    mut rx: watch::Receiver<Leadership>,
    readiness: Arc<Readiness>,
    metrics: Arc<Metrics>,
) {
    loop {
        let state = rx.borrow_and_update().clone();
        readiness.set_election(state.election_state());
        metrics.set_leader(state.is_leading());
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Reconciles InterfaceEndpoints until `stop` resolves.
///
/// Only changes of `metadata.generation` (spec edits, deletion) and of the finalizers trigger a
/// reconcile: the controller's own status writes must not, or every pass would schedule the
/// next at once. Time-driven work (polling a pending endpoint, resync) is the requeue's job.
pub async fn run_controller<P: Ec2Provider + LogsProvider>(
    setup: ControllerSetup<P>,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), RunError> {
    let ControllerSetup {
        client,
        provider,
        settings,
        metrics,
        readiness,
        clock,
    } = setup;
    let api: Api<InterfaceEndpoint> = match &settings.watch_namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    check_access(&api, settings.watch_namespace.as_deref()).await?;
    check_tenancy_access(&client).await?;

    let reporter = Reporter {
        controller: "vpce-rollout".into(),
        instance: Some(settings.instance.clone()),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let (reader, writer) = reflector::store();
    let (tenancy, tenancy_changes, tenancy_watch) = super::tenancy::watch(client.clone(), reader.clone());
    let ctx = Arc::new(Context::new(
        client,
        provider,
        recorder,
        metrics,
        &settings,
        clock,
        tenancy.clone(),
    ));

    // Listed once: the reflector has filled the cache by the time InitDone comes through. (Not
    // `Store::wait_until_ready`: its one-shot wakes only the last of several waiters, and the
    // Controller's runner waits on it already.)
    let (listed_tx, listed) = watch::channel(false);
    let listed_now = listed.clone();
    let stop = stop.shared();
    let trigger = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .inspect(move |event| {
            if matches!(event, Ok(watcher::Event::InitDone)) {
                listed_tx.send_replace(true);
            }
        })
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::finalizers),
            Default::default(),
        );

    // A task of its own, stopped with the controller: a controller stopped before every cache
    // was listed must not wait for the listing.
    let synced = {
        let mut listed = listed.clone();
        let readiness = readiness.clone();
        tokio::spawn(async move {
            if listed.wait_for(|listed| *listed).await.is_ok() && tenancy.ready().await {
                tracing::info!(
                    "listed InterfaceEndpoints, EndpointGrants, PlanApprovals and namespaces; ready"
                );
                readiness.set_synced(true);
            }
        })
    };
    // Objects deleted without the controller (a finalizer removed by hand) leave the phase gauge,
    // and the VPC snapshots they shared, when they leave the cache.
    let forget_deleted = {
        let (reader, metrics, observations) = (reader.clone(), ctx.metrics.clone(), ctx.observations.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PHASE_GAUGE_SYNC).await;
                let cached: HashSet<String> = reader.state().iter().map(|o| object_key(o)).collect();
                metrics.retain_objects(|key| cached.contains(key));
                // `namespace/name` is also the owner tag the shared snapshots know objects by.
                observations.retain(|key| cached.contains(key));
            }
        })
    };
    let controller = Controller::for_stream(trigger, reader)
        .reconcile_on(tenancy_changes)
        .graceful_shutdown_on(stop.clone())
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "reconcile loop");
            }
        });
    // kube-runtime's runner holds reconciles until the store is listed, and a controller told to
    // stop before then waits for that listing forever (its watch is kept, not dropped). Stopped
    // before the listing, the controller is dropped instead: it has reconciled nothing yet.
    let stopped_unlisted = async move {
        stop.await;
        if !*listed_now.borrow() {
            return;
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        () = controller => {}
        () = stopped_unlisted => tracing::info!("stopped before InterfaceEndpoints were listed"),
    }
    synced.abort();
    let _ = synced.await; // finished or cancelled: it sets nothing after this
    forget_deleted.abort();
    tenancy_watch.abort();
    readiness.set_synced(false);
    if readiness.election() == ElectionState::Leading {
        readiness.set_election(ElectionState::Unsettled);
    }
    tracing::info!("controller stopped");
    Ok(())
}

/// How often the phase gauge drops objects that left the cache.
const PHASE_GAUGE_SYNC: std::time::Duration = std::time::Duration::from_secs(30);

/// Fails fast, with what to do, when the EndpointGrant or PlanApproval CRD is missing or RBAC
/// forbids listing them (cluster-wide, whatever namespace is watched: they are cluster-scoped).
async fn check_tenancy_access(client: &kube::Client) -> Result<(), RunError> {
    async fn list<K>(api: Api<K>, kind: &'static str, file: &'static str) -> Result<(), RunError>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        match api.list(&ListParams::default().limit(1)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_not_found() => {
                Err(RunError::TenancyCrdMissing { kind, file })
            }
            Err(kube::Error::Api(status)) if status.is_forbidden() => Err(RunError::TenancyForbidden {
                kind,
                message: status.message,
            }),
            Err(e) => Err(RunError::Kubernetes(e)),
        }
    }
    list(
        Api::<EndpointGrant>::all(client.clone()),
        "EndpointGrants",
        "crds/endpointgrants.yaml",
    )
    .await?;
    list(
        Api::<PlanApproval>::all(client.clone()),
        "PlanApprovals",
        "crds/planapprovals.yaml",
    )
    .await
}

/// Fails fast, with what to do, when the CRD is missing or RBAC forbids listing.
async fn check_access(api: &Api<InterfaceEndpoint>, namespace: Option<&str>) -> Result<(), RunError> {
    match api.list(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_not_found() => Err(RunError::CrdMissing),
        Err(kube::Error::Api(status)) if status.is_forbidden() => Err(RunError::Forbidden {
            scope: namespace
                .map(|ns| format!(" in namespace {ns}"))
                .unwrap_or_default(),
            message: status.message,
        }),
        Err(e) => Err(RunError::Kubernetes(e)),
    }
}
