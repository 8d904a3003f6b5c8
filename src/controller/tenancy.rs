//! The controller's view of the tenancy: caches of the EndpointGrants, PlanApprovals and
//! namespace labels, the verdict for one object from them ([`crate::grants::decide`], pure), and
//! the requeues that make grant changes reach the objects they affect at once.
//!
//! - A grant created, changed or deleted requeues every InterfaceEndpoint it covers, before or
//!   after the change, and every one whose status names it.
//! - A PlanApproval requeues the object it names.
//! - A namespace whose labels change requeues its objects (`namespaceSelector`).
//!
//! Namespaces are watched as metadata only. Reconciles wait until the three caches have been
//! listed once: an object must never be reported Forbidden because the grants were not read yet.

use std::collections::{BTreeMap, HashMap};

use futures::channel::mpsc;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event, watcher};
use tokio::sync::watch;

use crate::api::{EndpointGrant, EndpointGrantSpec, InterfaceEndpoint, PlanApproval};
use crate::grants::{self, Grant, Subject, Verdict};

/// The cached grants, approvals and namespace labels.
#[derive(Clone)]
pub struct TenancyCache {
    grants: Store<EndpointGrant>,
    approvals: Store<PlanApproval>,
    namespaces: Store<PartialObjectMeta<Namespace>>,
    /// True once the three caches have been listed. (Not `Store::wait_until_ready`: it wakes
    /// only one of several tasks waiting at once, and reconciles wait beside the readiness
    /// probe.)
    listed: watch::Receiver<bool>,
}

impl TenancyCache {
    /// Resolves once every cache has been listed; false when the watches stopped before.
    pub async fn ready(&self) -> bool {
        self.listed.clone().wait_for(|listed| *listed).await.is_ok()
    }

    /// The verdict for `obj`; `controller_region` is where an object naming no region acts.
    pub fn verdict(&self, obj: &InterfaceEndpoint, controller_region: Option<&str>) -> Verdict {
        let namespace = obj.namespace().unwrap_or_default();
        let labels = self
            .namespaces
            .get(&ObjectRef::new(&namespace))
            .and_then(|ns| ns.metadata.labels.clone())
            .unwrap_or_default();
        let grants = self.grants.state();
        let grants: Vec<Grant<'_>> = grants
            .iter()
            .filter_map(|g| {
                Some(Grant {
                    name: g.metadata.name.as_deref()?,
                    spec: &g.spec,
                })
            })
            .collect();
        let approvals = self.approvals.state();
        let approvals: Vec<_> = approvals.iter().map(|a| &a.spec).collect();
        let status = obj.status.clone().unwrap_or_default();
        let subject = Subject {
            namespace: &namespace,
            name: obj.metadata.name.as_deref().unwrap_or_default(),
            namespace_labels: &labels,
            spec: &obj.spec,
            status: &status,
            controller_region,
        };
        grants::decide(&subject, &grants, &approvals)
    }
}

/// Starts the watches of grants, approvals and namespaces. Returns their cache and the stream
/// of InterfaceEndpoints to requeue (give it to `Controller::reconcile_on`); `objects` is the
/// controller's cache of InterfaceEndpoints. The watches run in a task of their own, aborted
/// with the returned handle.
pub fn watch(
    client: kube::Client,
    objects: Store<InterfaceEndpoint>,
) -> (
    TenancyCache,
    impl Stream<Item = ObjectRef<InterfaceEndpoint>> + Send + 'static,
    tokio::task::JoinHandle<()>,
) {
    let (grants, grants_writer) = reflector::store();
    let (approvals, approvals_writer) = reflector::store();
    let (namespaces, namespaces_writer) = reflector::store();
    let (listed_tx, listed) = watch::channel(false);
    let cache = TenancyCache {
        grants,
        approvals,
        namespaces: namespaces.clone(),
        listed,
    };
    let (tx, rx) = mpsc::unbounded();

    let grant_events = watcher(
        Api::<EndpointGrant>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(grants_writer);
    let approval_events = watcher(
        Api::<PlanApproval>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(approvals_writer);
    let namespace_events = watcher(
        Api::<PartialObjectMeta<Namespace>>::all(client),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(namespaces_writer);

    let task = tokio::spawn(async move {
        let mut before: HashMap<String, EndpointGrantSpec> = HashMap::new();
        let mut labels: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        let grant_events = grant_events.map(Change::Grant);
        let approval_events = approval_events.map(Change::Approval);
        let namespace_events = namespace_events.map(Change::Namespace);
        let changes = futures::stream::select(
            grant_events,
            futures::stream::select(approval_events, namespace_events),
        );
        let mut changes = std::pin::pin!(changes);
        // Which caches have been listed once (grants, approvals, namespaces): the reflector has
        // filled a cache by the time its InitDone comes through.
        let mut listed = [false; 3];
        while let Some(change) = changes.next().await {
            if let Some(i) = change.listed() {
                listed[i] = true;
                if listed.iter().all(|l| *l) {
                    listed_tx.send_replace(true);
                }
            }
            let requeue = match change {
                Change::Grant(Ok(event)) => grant_changed(event, &mut before, &objects, &namespaces),
                Change::Approval(Ok(event)) => approval_changed(event),
                Change::Namespace(Ok(event)) => namespace_changed(event, &mut labels, &objects),
                Change::Grant(Err(e)) | Change::Approval(Err(e)) | Change::Namespace(Err(e)) => {
                    tracing::debug!(error = %e, "tenancy watch");
                    Vec::new()
                }
            };
            for obj in requeue {
                if tx.unbounded_send(obj).is_err() {
                    return; // the controller stopped
                }
            }
        }
    });
    (cache, rx, task)
}

enum Change {
    Grant(Result<Event<EndpointGrant>, watcher::Error>),
    Approval(Result<Event<PlanApproval>, watcher::Error>),
    Namespace(Result<Event<PartialObjectMeta<Namespace>>, watcher::Error>),
}

impl Change {
    /// Which cache (0: grants, 1: approvals, 2: namespaces) this event completes a listing of.
    fn listed(&self) -> Option<usize> {
        match self {
            Self::Grant(Ok(Event::InitDone)) => Some(0),
            Self::Approval(Ok(Event::InitDone)) => Some(1),
            Self::Namespace(Ok(Event::InitDone)) => Some(2),
            _ => None,
        }
    }
}

/// The objects a grant change affects: those it covers before or after the change, and those
/// whose status names it (admitted by it until now).
fn grant_changed(
    event: Event<EndpointGrant>,
    before: &mut HashMap<String, EndpointGrantSpec>,
    objects: &Store<InterfaceEndpoint>,
    namespaces: &Store<PartialObjectMeta<Namespace>>,
) -> Vec<ObjectRef<InterfaceEndpoint>> {
    let (grant, deleted) = match event {
        Event::Apply(g) | Event::InitApply(g) => (g, false),
        Event::Delete(g) => (g, true),
        Event::Init | Event::InitDone => return Vec::new(),
    };
    let name = grant.name_any();
    let old = if deleted {
        before.remove(&name)
    } else {
        before.insert(name.clone(), grant.spec.clone())
    };
    let labels_of = |ns: &str| {
        namespaces
            .get(&ObjectRef::new(ns))
            .and_then(|n| n.metadata.labels.clone())
            .unwrap_or_default()
    };
    objects
        .state()
        .iter()
        .filter(|obj| {
            let ns = obj.namespace().unwrap_or_default();
            let labels = labels_of(&ns);
            let named = obj.status.as_ref().and_then(|s| s.grant.as_deref()) == Some(name.as_str());
            named
                || grants::covers(&grant.spec, &ns, &labels)
                || old.as_ref().is_some_and(|o| grants::covers(o, &ns, &labels))
        })
        .map(|obj| ObjectRef::from_obj(&**obj))
        .collect()
}

/// The object a PlanApproval names.
fn approval_changed(event: Event<PlanApproval>) -> Vec<ObjectRef<InterfaceEndpoint>> {
    match event {
        Event::Apply(a) | Event::InitApply(a) | Event::Delete(a) => {
            vec![ObjectRef::new(&a.spec.name).within(&a.spec.namespace)]
        }
        Event::Init | Event::InitDone => Vec::new(),
    }
}

/// The objects of a namespace whose labels changed.
fn namespace_changed(
    event: Event<PartialObjectMeta<Namespace>>,
    labels: &mut HashMap<String, BTreeMap<String, String>>,
    objects: &Store<InterfaceEndpoint>,
) -> Vec<ObjectRef<InterfaceEndpoint>> {
    let (ns, now) = match event {
        Event::Apply(ns) | Event::InitApply(ns) => {
            let now = ns.metadata.labels.clone().unwrap_or_default();
            (ns.name_any(), Some(now))
        }
        Event::Delete(ns) => (ns.name_any(), None),
        Event::Init | Event::InitDone => return Vec::new(),
    };
    let changed = match now {
        Some(now) => labels
            .insert(ns.clone(), now.clone())
            .is_none_or(|was| was != now),
        None => labels.remove(&ns).is_some(),
    };
    if !changed {
        return Vec::new();
    }
    objects
        .state()
        .iter()
        .filter(|obj| obj.namespace().as_deref() == Some(ns.as_str()))
        .map(|obj| ObjectRef::from_obj(&**obj))
        .collect()
}
