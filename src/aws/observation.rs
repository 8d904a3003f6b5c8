//! One observation of a VPC shared by every object in it.
//!
//! Without it, every object describes its whole VPC on every pass: N objects in one VPC cost N
//! full describes (DescribeNetworkInterfaces paged over every ENI among them), every few
//! seconds while they act and every resync while they are Ready. Here each VPC (per account and
//! region: [`VpcKey`]) has one [`Observed`] snapshot that serves every object in it:
//!
//! - one refresh in flight at a time: a pass that needs fresher data than the snapshot joins the
//!   refresh in flight when that one is fresh enough for it, or waits for it and starts the next;
//! - a freshness bound per pass ([`Need`]): how old the snapshot may be, and whether only a
//!   refresh begun after a given moment ([`Ticket`]) will do: right after the object's own change
//!   ([`VpcObservations::changed`]), or for a pass that is about to act on what it saw;
//! - the objects' own parts in the same refresh, batched: the services of every object in one
//!   DescribeVpcEndpointServices, the owned rules of every object in one
//!   DescribeSecurityGroupRules per [`MAX_FILTER_VALUES`] owners (by owner tag, values ORed).
//!   A service one object names wrongly does not fail the others: the batch is then described
//!   name by name, and only that object gets the error;
//! - the snapshot is shared by [`Arc`]: each object's analysis runs on it, nothing is copied;
//! - memory is bounded: an object that stops passing (deleted, finalized, forgotten) is dropped
//!   after a while or at once ([`VpcObservations::release`]), and a VPC's snapshot with it once
//!   no object refers to it;
//! - what every look saw of private DNS is remembered per endpoint ([`VpcObservations::seen_off`]):
//!   someone may turn an endpoint's private DNS on and off again between two passes of the
//!   object that owns it, and only another object's look sees the period on. Clients resolved
//!   the name to the endpoint then, so the owner must not take their path before the record
//!   TTL after a look found it off again. The memory is the process's: a restart forgets
//!   periods that ended while it was down (docs/reliability.md).
//!
//! Nothing here decides anything about the rollout: which freshness a pass needs is the
//! engine's to say (its safety argument is in `engine`). The clock is the caller's (`now` of
//! the pass), so a simulated clock drives it in tests and the simulation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::channel::oneshot;
use k8s_openapi::jiff::Timestamp;

use super::observe::{describe_owned_rules, describe_services, describe_vpc_and};
use super::{Ec2, Ec2Error, EndpointFilter, ErrorKind, MAX_FILTER_VALUES, RuleFilter};
use crate::api::OWNER_TAG;
use crate::model::{SecurityGroup, SecurityGroupRule, ServiceDetail, Snapshot, VpcEndpoint};

/// Which VPC: the same VPC id in two accounts or regions is two VPCs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VpcKey {
    pub account: String,
    pub region: Option<String>,
    pub vpc_id: String,
}

/// An object that refers to a VPC's snapshot: its owner tag (`namespace/name`, whose rules the
/// refresh collects) and its service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscriber {
    pub owner_tag: String,
    pub service: Service,
}

/// An endpoint service as the objects name it: by name, and by the region it is hosted in when
/// that is another (`spec.serviceRegion`; it is then described as offered from there).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Service {
    pub name: String,
    pub region: Option<String>,
}

impl Service {
    pub fn new(name: &str, region: Option<&str>) -> Self {
        Self {
            name: name.to_string(),
            region: region.map(str::to_string),
        }
    }
}

/// A moment in the order refreshes begin: a snapshot is [`Observed::begun_after`] a ticket
/// when its refresh began after the ticket was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

/// How fresh a pass needs its snapshot.
#[derive(Clone, Debug)]
pub struct Need {
    /// The pass's time.
    pub now: Timestamp,
    /// The oldest snapshot the pass may rest on.
    pub max_age: Duration,
    /// Only a refresh begun after this will do.
    pub begun_after: Option<Ticket>,
    /// An object that has not passed for this long is no longer counted as referring to its
    /// VPC (it was deleted, or the controller stopped reconciling it).
    pub forget_after: Duration,
    /// The pass looks at what the object's own change touched by itself
    /// ([`VpcObservations::unseen_change`], [`look_at_change`]): a snapshot older than the
    /// change will do.
    pub despite_own_change: bool,
}

/// What an object's own calls changed in its VPC, to be looked at by id on its next passes
/// instead of describing the whole VPC again: its endpoints (DescribeVpcEndpoints by id) and
/// the security groups whose rules it authorized or revoked (DescribeSecurityGroupRules by
/// group).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    pub endpoints: BTreeSet<String>,
    pub groups: BTreeSet<String>,
}

/// One VPC as one refresh described it, with the services and owned rules of the objects
/// that referred to it then.
#[derive(Debug)]
pub struct Observed {
    pub snapshot: Snapshot,
    seq: u64,
    observed_at: Timestamp,
    owners: BTreeSet<String>,
    services: BTreeSet<Service>,
    /// Services the refresh could not describe, with EC2's answer.
    service_errors: BTreeMap<Service, Ec2Error>,
}

impl Observed {
    /// Whether the refresh began after `ticket` was taken.
    pub fn begun_after(&self, ticket: Ticket) -> bool {
        self.seq > ticket.0
    }

    /// When the refresh began (the `now` of the pass that started it).
    pub fn observed_at(&self) -> Timestamp {
        self.observed_at
    }

    fn covers(&self, who: &Subscriber) -> bool {
        self.owners.contains(&who.owner_tag) && self.services.contains(&who.service)
    }

    fn for_subscriber(self: Arc<Self>, who: &Subscriber) -> Result<Arc<Self>, Ec2Error> {
        match self.service_errors.get(&who.service) {
            Some(error) => Err(error.clone()),
            None => Ok(self),
        }
    }

    fn fits(&self, who: &Subscriber, need: &Need, changed_after: Option<u64>) -> bool {
        self.covers(who)
            && age(need.now, self.observed_at) < need.max_age
            && need.begun_after.is_none_or(|t| self.begun_after(t))
            && (need.despite_own_change || changed_after.is_none_or(|c| self.seq > c))
    }
}

fn age(now: Timestamp, then: Timestamp) -> Duration {
    let ms = now.as_millisecond().saturating_sub(then.as_millisecond());
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Counts for metrics (monotonic counters and current sizes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObservationStats {
    /// Refreshes that completed.
    pub refreshes: u64,
    /// Refreshes that failed (an EC2 error; every pass waiting on it got the error).
    pub failed_refreshes: u64,
    /// Passes served without a refresh of their own: by the snapshot as it was, or by joining
    /// the refresh in flight.
    pub shared: u64,
    /// VPCs with a snapshot (or a refresh in flight).
    pub vpcs: u64,
    /// Objects referring to them.
    pub objects: u64,
}

/// The shared observations of every VPC the controller acts in (see the module docs).
#[derive(Debug, Default)]
pub struct VpcObservations {
    registry: Mutex<Registry>,
    refreshes: AtomicU64,
    failed_refreshes: AtomicU64,
    shared: AtomicU64,
}

#[derive(Debug, Default)]
struct Registry {
    /// Refreshes begun so far, in every VPC: the next one gets `began + 1`.
    began: u64,
    vpcs: HashMap<VpcKey, Vpc>,
}

#[derive(Debug, Default)]
struct Vpc {
    latest: Option<Arc<Observed>>,
    in_flight: Option<InFlight>,
    /// By owner tag.
    objects: BTreeMap<String, Referent>,
    /// Private DNS as the looks saw it, by endpoint id: only endpoints some look saw serving.
    served: HashMap<String, Served>,
}

/// Private DNS of one endpoint as the looks of this process saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Served {
    /// The latest look that found private DNS on.
    last_on: Timestamp,
    /// The first look after it that found it off.
    off_seen: Option<Timestamp>,
}

impl Vpc {
    /// A look at `at` showed `endpoints` (not necessarily every endpoint of the VPC).
    fn saw<'e>(&mut self, endpoints: impl IntoIterator<Item = &'e VpcEndpoint>, at: Timestamp) {
        for endpoint in endpoints {
            let on = endpoint.private_dns_enabled && endpoint.state_lower() != "deleted";
            let entry = self.served.get_mut(&endpoint.vpc_endpoint_id);
            match (on, entry) {
                (true, Some(served)) if at >= served.last_on => {
                    served.last_on = at;
                    served.off_seen = served.off_seen.filter(|off| *off > at);
                }
                (true, Some(_)) => {}
                (true, None) => {
                    self.served.insert(
                        endpoint.vpc_endpoint_id.clone(),
                        Served {
                            last_on: at,
                            off_seen: None,
                        },
                    );
                }
                (false, Some(served)) if at > served.last_on => {
                    served.off_seen = Some(served.off_seen.map_or(at, |off| off.min(at)));
                }
                (false, _) => {}
            }
        }
    }

    /// A full refresh at `at` listed every endpoint of the VPC (each already [`Vpc::saw`] as EC2
    /// listed it): one it does not list is gone, unless a later look saw it serving (it was made
    /// after the refresh began).
    fn forget_unlisted(&mut self, endpoints: &[VpcEndpoint], at: Timestamp) {
        let listed: BTreeSet<&str> = endpoints.iter().map(|e| e.vpc_endpoint_id.as_str()).collect();
        self.served
            .retain(|id, served| listed.contains(id.as_str()) || served.last_on > at);
    }
}

#[derive(Debug)]
struct Referent {
    service: Service,
    last_pass: Timestamp,
    /// The object changed something at this point: only a refresh begun after it shows it.
    changed_after: Option<u64>,
    /// What it changed since, when only that need be looked at (`None`: a change the pass
    /// cannot look at by id, so the whole VPC is described again).
    touched: Option<Touched>,
}

type Answer = Result<Arc<Observed>, Ec2Error>;

#[derive(Debug)]
struct InFlight {
    seq: u64,
    owners: BTreeSet<String>,
    services: BTreeSet<Service>,
    waiters: Vec<oneshot::Sender<Answer>>,
}

enum Step {
    Ready(Arc<Observed>),
    Wait {
        answer: oneshot::Receiver<Answer>,
        /// The refresh in flight is fresh enough for this pass; otherwise the pass waits for it
        /// to end and starts the next one.
        joined: bool,
    },
    Refresh {
        seq: u64,
        owners: Vec<String>,
        services: Vec<Service>,
    },
}

impl VpcObservations {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Now, in the order refreshes begin: a snapshot begun after the ticket is newer than
    /// anything the holder saw before taking it.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().began)
    }

    /// The snapshot of `key` that `who` may rest on under `need`: the current one, the one in
    /// flight, or a new refresh made with `ec2` (which must be the port of `key`'s account and
    /// region). Registers `who` as referring to the VPC.
    pub async fn observe<E: Ec2>(
        &self,
        ec2: &E,
        key: &VpcKey,
        who: &Subscriber,
        need: &Need,
    ) -> Result<Arc<Observed>, Ec2Error> {
        loop {
            match self.next_step(key, who, need) {
                Step::Ready(observed) => {
                    self.shared.fetch_add(1, Ordering::Relaxed);
                    return observed.for_subscriber(who);
                }
                Step::Wait { answer, joined } => match answer.await {
                    Ok(answer) if joined => {
                        self.shared.fetch_add(1, Ordering::Relaxed);
                        return answer.and_then(|o| o.for_subscriber(who));
                    }
                    // Too early for this pass, or abandoned (the pass that made it was
                    // cancelled): look again.
                    _ => continue,
                },
                Step::Refresh {
                    seq,
                    owners,
                    services,
                } => {
                    let mut flight = Flight {
                        observations: self,
                        key,
                        seq,
                        landed: false,
                    };
                    let listed = |endpoints: &[VpcEndpoint]| self.saw(key, endpoints, need.now);
                    let answer = refresh(ec2, &key.vpc_id, seq, need.now, owners, services, listed).await;
                    flight.land(answer.clone());
                    return answer.and_then(|o| o.for_subscriber(who));
                }
            }
        }
    }

    fn next_step(&self, key: &VpcKey, who: &Subscriber, need: &Need) -> Step {
        let mut registry = self.lock();
        registry.forget_idle(need.now, need.forget_after);
        let began = registry.began;
        let vpc = registry.vpcs.entry(key.clone()).or_default();
        let referent = vpc
            .objects
            .entry(who.owner_tag.clone())
            .or_insert_with(|| Referent {
                service: who.service.clone(),
                last_pass: need.now,
                changed_after: None,
                touched: None,
            });
        referent.service.clone_from(&who.service);
        referent.last_pass = need.now;
        let changed_after = referent.changed_after;
        if let Some(latest) = &vpc.latest
            && latest.fits(who, need, changed_after)
        {
            return Step::Ready(latest.clone());
        }
        if let Some(flight) = &mut vpc.in_flight {
            let joined = flight.owners.contains(&who.owner_tag)
                && flight.services.contains(&who.service)
                && need.begun_after.is_none_or(|t| flight.seq > t.0)
                && (need.despite_own_change || changed_after.is_none_or(|c| flight.seq > c));
            let (tx, answer) = oneshot::channel();
            flight.waiters.push(tx);
            return Step::Wait { answer, joined };
        }
        let seq = began + 1;
        let owners: BTreeSet<String> = vpc.objects.keys().cloned().collect();
        let services: BTreeSet<Service> = vpc.objects.values().map(|r| r.service.clone()).collect();
        vpc.in_flight = Some(InFlight {
            seq,
            owners: owners.clone(),
            services: services.clone(),
            waiters: Vec::new(),
        });
        registry.began = seq;
        Step::Refresh {
            seq,
            owners: owners.into_iter().collect(),
            services: services.into_iter().collect(),
        }
    }

    /// `owner_tag` changed something in `key` (a call that may have taken effect): its next
    /// passes rest only on a refresh begun after now, or look at what it `touched` by id
    /// (`None`: not to be looked at by id, the whole VPC is described again). Changes not yet
    /// shown by a refresh add up.
    pub fn changed(&self, key: &VpcKey, owner_tag: &str, touched: Option<Touched>) {
        let mut registry = self.lock();
        let now = registry.began;
        let Some(vpc) = registry.vpcs.get_mut(key) else {
            return;
        };
        let latest = vpc.latest.as_ref().map(|l| l.seq);
        if let Some(referent) = vpc.objects.get_mut(owner_tag) {
            let unseen = referent
                .changed_after
                .is_some_and(|c| latest.is_none_or(|l| l <= c));
            referent.touched = match (unseen, referent.touched.take(), touched) {
                (false, _, touched) => touched,
                (true, Some(mut before), Some(touched)) => {
                    before.endpoints.extend(touched.endpoints);
                    before.groups.extend(touched.groups);
                    Some(before)
                }
                (true, _, _) => None,
            };
            referent.changed_after = Some(now);
        }
    }

    /// What `owner_tag` changed in `key` that `observed` does not show yet: `None` when it
    /// shows all of it; `Some(None)` when the change is not one to look at by id.
    pub fn unseen_change(
        &self,
        key: &VpcKey,
        owner_tag: &str,
        observed: &Observed,
    ) -> Option<Option<Touched>> {
        let registry = self.lock();
        let referent = registry.vpcs.get(key)?.objects.get(owner_tag)?;
        let changed_after = referent.changed_after?;
        (observed.seq <= changed_after).then(|| referent.touched.clone())
    }

    /// A pass looked at some endpoints of `key` by id at `at` (what its own change touched, its
    /// endpoint while EC2 moves it): remembered as a refresh's look is.
    pub fn saw(&self, key: &VpcKey, endpoints: &[VpcEndpoint], at: Timestamp) {
        if let Some(vpc) = self.lock().vpcs.get_mut(key) {
            vpc.saw(endpoints, at);
        }
    }

    /// Since when each endpoint of `key` that a look of this process saw with private DNS on
    /// has been seen off: the first look after the last one that found it on, or `now` when
    /// the last look found it on. Endpoints no look saw serving are not listed.
    pub fn seen_off(&self, key: &VpcKey, now: Timestamp) -> BTreeMap<String, Timestamp> {
        let registry = self.lock();
        let Some(vpc) = registry.vpcs.get(key) else {
            return BTreeMap::new();
        };
        vpc.served
            .iter()
            .map(|(id, served)| (id.clone(), served.off_seen.unwrap_or(now)))
            .collect()
    }

    /// `owner_tag` no longer refers to any VPC (its deletion completed): dropped, and a VPC's
    /// snapshot with it once no other object refers to it.
    pub fn release(&self, owner_tag: &str) {
        self.retain(|tag| tag != owner_tag);
    }

    /// Keeps only the objects `keep` says (by owner tag), and the VPCs still referred to.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        let mut registry = self.lock();
        for vpc in registry.vpcs.values_mut() {
            vpc.objects.retain(|tag, _| keep(tag));
        }
        registry.drop_unreferenced();
    }

    /// The counts for metrics.
    pub fn stats(&self) -> ObservationStats {
        let registry = self.lock();
        ObservationStats {
            refreshes: self.refreshes.load(Ordering::Relaxed),
            failed_refreshes: self.failed_refreshes.load(Ordering::Relaxed),
            shared: self.shared.load(Ordering::Relaxed),
            vpcs: registry.vpcs.len() as u64,
            objects: registry.vpcs.values().map(|v| v.objects.len() as u64).sum(),
        }
    }
}

impl Registry {
    fn forget_idle(&mut self, now: Timestamp, after: Duration) {
        for vpc in self.vpcs.values_mut() {
            vpc.objects.retain(|_, r| age(now, r.last_pass) < after);
        }
        self.drop_unreferenced();
    }

    /// A VPC no object refers to loses its snapshot (a refresh in flight finishes for those
    /// waiting on it, and is then dropped too).
    fn drop_unreferenced(&mut self) {
        self.vpcs
            .retain(|_, vpc| !vpc.objects.is_empty() || vpc.in_flight.is_some());
    }
}

/// The refresh a pass is making for everyone: when the pass is dropped before it lands (the
/// controller lost its Lease, the process stops), the waiters are let go to try again.
struct Flight<'a> {
    observations: &'a VpcObservations,
    key: &'a VpcKey,
    seq: u64,
    landed: bool,
}

impl Flight<'_> {
    fn land(&mut self, answer: Answer) {
        self.landed = true;
        let counter = match &answer {
            Ok(_) => &self.observations.refreshes,
            Err(_) => &self.observations.failed_refreshes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let waiters = {
            let mut registry = self.observations.lock();
            let Some(vpc) = registry.vpcs.get_mut(self.key) else {
                return;
            };
            let flight = match vpc.in_flight.take_if(|f| f.seq == self.seq) {
                Some(flight) => flight,
                None => return,
            };
            if let Ok(observed) = &answer {
                vpc.forget_unlisted(&observed.snapshot.vpc_endpoints, observed.observed_at);
                if vpc.latest.as_ref().is_none_or(|l| l.seq < observed.seq) {
                    vpc.latest = Some(observed.clone());
                }
            }
            registry.drop_unreferenced();
            flight.waiters
        };
        for waiter in waiters {
            let _ = waiter.send(answer.clone());
        }
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if self.landed {
            return;
        }
        let mut registry = self.observations.lock();
        if let Some(vpc) = registry.vpcs.get_mut(self.key) {
            // Dropping the senders wakes the waiters, who look again.
            let _ = vpc.in_flight.take_if(|f| f.seq == self.seq);
        }
        registry.drop_unreferenced();
    }
}

/// One refresh: the VPC, then the services and owned rules of the objects referring to it.
async fn refresh<E: Ec2>(
    ec2: &E,
    vpc_id: &str,
    seq: u64,
    now: Timestamp,
    owners: Vec<String>,
    services: Vec<Service>,
    listed: impl FnOnce(&[VpcEndpoint]),
) -> Answer {
    let mut snapshot = describe_vpc_and(ec2, vpc_id, listed).await?;
    let mut service_errors = BTreeMap::new();
    if !snapshot.vpcs.is_empty() {
        let (details, rules) = futures::try_join!(
            services_one_by_one_if_needed(ec2, &services, &mut service_errors),
            describe_owned_rules(ec2, &owners),
        )?;
        snapshot.service_details = details;
        snapshot.security_group_rules = rules;
    }
    Ok(Arc::new(Observed {
        snapshot,
        seq,
        observed_at: now,
        owners: owners.into_iter().collect(),
        services: services.into_iter().collect(),
        service_errors,
    }))
}

/// `observed` with what `touched` names looked at again: the endpoints by id, the rules of the
/// groups by group (their permissions rebuilt from them, and the owned ones among them
/// replacing the snapshot's). `None` when EC2 does not show them all (an endpoint gone or not
/// listed yet, a call refused): the pass then describes the whole VPC, which says why.
///
/// Only the parts named are newer than `observed`: the pass's decision on it is one on a
/// snapshot older than the pass (see `engine::observing`). `listed` is shown the endpoints as
/// soon as EC2 listed them, even when the rest fails.
pub async fn look_at_change<E: Ec2>(
    ec2: &E,
    observed: &Observed,
    touched: &Touched,
    listed: impl FnOnce(&[VpcEndpoint]),
) -> Option<Snapshot> {
    let ids: Vec<String> = touched.endpoints.iter().cloned().collect();
    let groups: Vec<String> = touched.groups.iter().cloned().collect();
    let endpoints = async {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let filter = EndpointFilter {
            vpc_endpoint_ids: ids.clone(),
            ..Default::default()
        };
        let endpoints = ec2.describe_vpc_endpoints(&filter).await?;
        listed(&endpoints);
        Ok(endpoints)
    };
    let rules = async {
        let calls = groups.chunks(MAX_FILTER_VALUES).map(|groups| {
            let filter = RuleFilter {
                group_ids: groups.to_vec(),
                ..Default::default()
            };
            async move { ec2.describe_security_group_rules(&filter).await }
        });
        Ok::<_, Ec2Error>(
            futures::future::try_join_all(calls)
                .await?
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
        )
    };
    let (endpoints, rules) = futures::try_join!(endpoints, rules).ok()?;
    if ids
        .iter()
        .any(|id| !endpoints.iter().any(|e| &e.vpc_endpoint_id == id))
    {
        return None;
    }
    Some(patched(observed, endpoints, &touched.groups, rules))
}

/// The snapshot of `observed` with `endpoints` in place of its own of the same ids, and the
/// rules of `groups` as `rules` shows them (pure).
fn patched(
    observed: &Observed,
    endpoints: Vec<VpcEndpoint>,
    groups: &BTreeSet<String>,
    rules: Vec<SecurityGroupRule>,
) -> Snapshot {
    // The lists not changed here (the network interfaces, subnets, ACLs; the groups when no
    // group's rules changed) stay shared with the snapshot, not copied (`model::Shared`).
    let mut snapshot = observed.snapshot.clone();
    snapshot
        .vpc_endpoints
        .retain(|e| !endpoints.iter().any(|n| n.vpc_endpoint_id == e.vpc_endpoint_id));
    snapshot.vpc_endpoints.extend(endpoints);
    let edited = |g: &SecurityGroup| groups.contains(&g.group_id);
    // Borrowed mutably only when a group is to change: that copies the list of groups.
    if snapshot.security_groups.iter().any(edited) {
        for group in snapshot.security_groups.iter_mut().filter(|g| edited(g)) {
            let of = |egress: bool| {
                crate::model::ip_permissions(
                    rules
                        .iter()
                        .filter(|r| r.group_id == group.group_id && r.is_egress == egress),
                )
            };
            group.ip_permissions = of(false);
            group.ip_permissions_egress = of(true);
        }
    }
    let owned = |r: &SecurityGroupRule| {
        r.tags
            .iter()
            .any(|t| t.key == OWNER_TAG && observed.owners.contains(&t.value))
    };
    snapshot
        .security_group_rules
        .retain(|r| !groups.contains(&r.group_id));
    snapshot
        .security_group_rules
        .extend(rules.into_iter().filter(|r| owned(r)));
    snapshot
}

/// The services, in one call per region they are offered from (this region's, then each other
/// one the objects name: `ServiceRegions` applies to the whole call); when EC2 refuses a call
/// for a name it does not know (one object's spec), name by name, so that only the objects
/// naming that service get the error. A service of another region not offered from there is
/// not an error but an empty answer, which the plan reports ([`describe_services`]).
async fn services_one_by_one_if_needed<E: Ec2>(
    ec2: &E,
    services: &[Service],
    errors: &mut BTreeMap<Service, Ec2Error>,
) -> Result<Vec<ServiceDetail>, Ec2Error> {
    let mut by_region: BTreeMap<Option<&str>, Vec<String>> = BTreeMap::new();
    for service in services {
        by_region
            .entry(service.region.as_deref())
            .or_default()
            .push(service.name.clone());
    }
    let mut details = Vec::new();
    for (region, names) in by_region {
        for batch in names.chunks(MAX_FILTER_VALUES) {
            match describe_services(ec2, batch, region).await {
                Ok(found) => details.extend(found),
                Err(e) if batch.len() > 1 && matches!(e.kind, ErrorKind::NotFound | ErrorKind::Invalid) => {
                    for name in batch {
                        match describe_services(ec2, std::slice::from_ref(name), region).await {
                            Ok(found) => details.extend(found),
                            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Invalid) => {
                                errors.insert(Service::new(name, region), e);
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Invalid) => {
                    for name in batch {
                        errors.insert(Service::new(name, region), e.clone());
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(details)
}

#[cfg(test)]
#[path = "observation_tests.rs"]
mod tests;
