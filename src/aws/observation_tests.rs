//! The shared observation on the simulated world: one refresh serves every object within its
//! bound, a pass joins the refresh in flight (or waits for it and starts the next), the objects'
//! own parts come batched, one object's bad service does not fail the others, and a VPC nobody
//! refers to is dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use futures::FutureExt;

use super::*;
use crate::aws::sim::{SimClock, SimConfig, SimEc2, aws_service};
use crate::aws::{
    AccountUnknown, AuthorizeRules, CreateVpcEndpoint, Ec2Operation, EndpointFilter, ModifyVpcEndpoint,
    Receipt, RetagOwnedRules, RevokeOwnedRules, RuleFilter,
};
use crate::engine::incident;
use crate::model::{
    NetworkAcl, NetworkInterface, PrefixList, PrefixListEntry, SecurityGroup, SecurityGroupRule, Subnet, Tag,
    Vpc, VpcDnsAttributes, VpcEndpoint,
};

fn world() -> SimEc2 {
    SimEc2::with_config(
        &incident::world(),
        SimClock::new(),
        SimConfig::default().without_throttling(),
    )
}

fn key(sim: &SimEc2) -> VpcKey {
    VpcKey {
        account: sim.config().account_id,
        region: Some(sim.region()),
        vpc_id: incident::VPC.into(),
    }
}

fn object(name: &str) -> Subscriber {
    Subscriber {
        owner_tag: format!("team/{name}"),
        service: Service::new(incident::SERVICE, None),
    }
}

fn need(sim: &SimEc2) -> Need {
    Need {
        now: sim.clock().timestamp(),
        max_age: Duration::from_secs(300),
        begun_after: None,
        forget_after: Duration::from_secs(900),
        despite_own_change: false,
    }
}

fn calls(sim: &SimEc2, operation: Ec2Operation) -> usize {
    sim.calls().iter().filter(|c| c.operation == operation).count()
}

fn run<T>(future: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(future)
}

#[test]
fn one_refresh_serves_every_object_in_the_vpc_until_it_is_older_than_the_bound() {
    let sim = world();
    let observations = VpcObservations::new();
    let (a, b) = (object("a"), object("b"));
    run(observations.observe(&sim, &key(&sim), &a, &need(&sim))).unwrap();
    // b is not in a's refresh (neither its rules nor its service were asked for): its own.
    run(observations.observe(&sim, &key(&sim), &b, &need(&sim))).unwrap();
    assert_eq!(calls(&sim, Ec2Operation::DescribeNetworkInterfaces), 2);

    sim.clock().advance(Duration::from_secs(299));
    let first = run(observations.observe(&sim, &key(&sim), &a, &need(&sim))).unwrap();
    let second = run(observations.observe(&sim, &key(&sim), &b, &need(&sim))).unwrap();
    assert!(Arc::ptr_eq(&first, &second), "one snapshot, shared, not copied");
    assert_eq!(calls(&sim, Ec2Operation::DescribeNetworkInterfaces), 2);

    sim.clock().advance(Duration::from_secs(1));
    run(observations.observe(&sim, &key(&sim), &a, &need(&sim))).unwrap();
    run(observations.observe(&sim, &key(&sim), &b, &need(&sim))).unwrap();
    assert_eq!(
        calls(&sim, Ec2Operation::DescribeNetworkInterfaces),
        3,
        "one refresh for both once the bound passed"
    );
    let stats = observations.stats();
    assert_eq!(
        (stats.refreshes, stats.shared, stats.vpcs, stats.objects),
        (3, 3, 1, 2)
    );
}

#[test]
fn the_objects_own_rules_and_services_come_batched_in_the_refresh() {
    let sim = world();
    let observations = VpcObservations::new();
    let objects: Vec<Subscriber> = (0..MAX_FILTER_VALUES + 1)
        .map(|i| object(&format!("o{i}")))
        .collect();
    for o in &objects {
        run(observations.observe(&sim, &key(&sim), o, &need(&sim))).unwrap();
    }
    sim.clear_calls();
    sim.clock().advance(Duration::from_secs(300));
    for o in &objects {
        run(observations.observe(&sim, &key(&sim), o, &need(&sim))).unwrap();
    }
    let by_operation = sim.calls().iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.operation).or_insert(0) += 1;
        m
    });
    assert_eq!(by_operation[&Ec2Operation::DescribeNetworkInterfaces], 1);
    assert_eq!(by_operation[&Ec2Operation::DescribeVpcEndpointServices], 1);
    assert_eq!(
        by_operation[&Ec2Operation::DescribeSecurityGroupRules],
        2,
        "one call per {MAX_FILTER_VALUES} owners"
    );
}

/// Cross-region PrivateLink: a service hosted in another region is described as offered from
/// there (one call per region, `ServiceRegions` applying to a whole call), and one not offered
/// from there is an empty answer for its object (the plan reports the invalid spec), not a
/// failure of anyone's refresh.
#[test]
fn services_of_other_regions_are_described_from_their_region_one_call_per_region() {
    const REMOTE: &str = "com.amazonaws.vpce.eu-west-1.vpce-svc-0remote";
    let mut snapshot = incident::world();
    snapshot.service_details.push(crate::model::ServiceDetail {
        service_name: REMOTE.into(),
        availability_zones: vec!["ap-northeast-1a".into(), "ap-northeast-1c".into()],
        service_region: Some("eu-west-1".into()),
        ..Default::default()
    });
    let sim = SimEc2::with_config(
        &snapshot,
        SimClock::new(),
        SimConfig::default().without_throttling(),
    );
    let observations = VpcObservations::new();
    let local = object("local");
    let remote = Subscriber {
        service: Service::new(REMOTE, Some("eu-west-1")),
        ..object("remote")
    };
    let unoffered = Subscriber {
        service: Service::new("com.amazonaws.vpce.eu-west-1.vpce-svc-0nope", Some("eu-west-1")),
        ..object("unoffered")
    };
    for o in [&local, &remote, &unoffered] {
        run(observations.observe(&sim, &key(&sim), o, &need(&sim))).unwrap();
    }
    sim.clear_calls();
    sim.clock().advance(Duration::from_secs(300));
    let seen: Vec<_> = [&local, &remote, &unoffered]
        .into_iter()
        .map(|o| run(observations.observe(&sim, &key(&sim), o, &need(&sim))).unwrap())
        .collect();
    assert!(Arc::ptr_eq(&seen[0], &seen[2]), "one refresh for all three");
    let details = &seen[0].snapshot.service_details;
    assert!(
        details
            .iter()
            .any(|s| s.service_name == incident::SERVICE && s.service_region.is_none())
    );
    assert!(
        details
            .iter()
            .any(|s| s.service_name == REMOTE && s.service_region.as_deref() == Some("eu-west-1"))
    );
    assert!(!details.iter().any(|s| s.service_name.ends_with("0nope")));
    // This region's in one call; eu-west-1's refused for the name it does not offer, then
    // name by name (two).
    assert_eq!(calls(&sim, Ec2Operation::DescribeVpcEndpointServices), 4);
    assert_eq!(calls(&sim, Ec2Operation::DescribeNetworkInterfaces), 1);
}

#[test]
fn a_service_one_object_names_wrongly_fails_that_object_only() {
    let sim = world();
    let observations = VpcObservations::new();
    let other = "com.amazonaws.ap-northeast-1.sqs";
    sim.add_service(aws_service(incident::REGION, "sqs", &["ap-northeast-1a"]));
    let good = Subscriber {
        service: Service::new(other, None),
        ..object("good")
    };
    let bad = Subscriber {
        service: Service::new("com.amazonaws.ap-northeast-1.nope", None),
        ..object("bad")
    };
    run(observations.observe(&sim, &key(&sim), &good, &need(&sim))).unwrap();
    let refused = run(observations.observe(&sim, &key(&sim), &bad, &need(&sim))).unwrap_err();
    assert_eq!(refused.code, "InvalidServiceName");
    let served = run(observations.observe(&sim, &key(&sim), &good, &need(&sim))).unwrap();
    assert!(
        served
            .snapshot
            .service_details
            .iter()
            .any(|s| s.service_name == other)
    );
}

#[test]
fn a_vpc_no_object_refers_to_is_dropped_with_its_snapshot() {
    let sim = world();
    let observations = VpcObservations::new();
    let (a, b) = (object("a"), object("b"));
    let held = run(observations.observe(&sim, &key(&sim), &a, &need(&sim))).unwrap();
    run(observations.observe(&sim, &key(&sim), &b, &need(&sim))).unwrap();
    observations.release(&a.owner_tag);
    assert_eq!((observations.stats().vpcs, observations.stats().objects), (1, 1));
    observations.release(&b.owner_tag);
    assert_eq!((observations.stats().vpcs, observations.stats().objects), (0, 0));
    // Only the pass still holding it keeps it alive.
    assert_eq!(Arc::strong_count(&held), 1);

    // An object that stops passing is forgotten after `forget_after`.
    run(observations.observe(&sim, &key(&sim), &a, &need(&sim))).unwrap();
    sim.clock().advance(Duration::from_secs(900));
    let other_vpc = VpcKey {
        vpc_id: "vpc-0000000000000000f".into(),
        ..key(&sim)
    };
    run(observations.observe(&sim, &other_vpc, &b, &need(&sim))).unwrap();
    assert_eq!((observations.stats().vpcs, observations.stats().objects), (1, 1));
}

#[test]
fn after_its_own_change_an_object_rests_only_on_a_refresh_begun_after_it() {
    let sim = world();
    let observations = VpcObservations::new();
    let a = object("a");
    let before = run(observations.observe(&sim, &key(&sim), &a, &need(&sim))).unwrap();
    observations.changed(&key(&sim), &a.owner_tag, None);
    let after = run(observations.observe(&sim, &key(&sim), &a, &need(&sim))).unwrap();
    assert!(!Arc::ptr_eq(&before, &after));
    let again = run(observations.observe(&sim, &key(&sim), &a, &need(&sim))).unwrap();
    assert!(
        Arc::ptr_eq(&after, &again),
        "once seen, the change needs no other refresh"
    );

    let ticket = observations.ticket();
    assert!(!again.begun_after(ticket));
    let fresh = run(observations.observe(
        &sim,
        &key(&sim),
        &a,
        &Need {
            begun_after: Some(ticket),
            ..need(&sim)
        },
    ))
    .unwrap();
    assert!(fresh.begun_after(ticket));
}

/// After an object's own change, what it touched is looked at by id on top of the snapshot it
/// already has: the groups' permissions and owned rules as a full describe would show them,
/// for one DescribeSecurityGroupRules, without a refresh; a refresh begun later shows it all.
#[test]
fn what_an_object_changed_is_looked_at_by_id_on_top_of_the_shared_snapshot() {
    let sim = world();
    let observations = VpcObservations::new();
    let a = object("a");
    let before = run(observations.observe(&sim, &key(&sim), &a, &need(&sim))).unwrap();
    let owner_tag = Tag {
        key: crate::api::OWNER_TAG.into(),
        value: a.owner_tag.clone(),
    };
    run(sim.authorize_security_group_rules(&AuthorizeRules {
        group_id: incident::SG_ENDPOINT.into(),
        egress: false,
        rules: vec![crate::aws::NewRule {
            protocol: crate::model::Protocol::Tcp,
            from_port: 443,
            to_port: 443,
            peer: crate::aws::RulePeer::Group(incident::SG_ZABBIX.into()),
            description: "zabbix".into(),
        }],
        tags: vec![owner_tag.clone()],
    }))
    .unwrap();
    let touched = Touched {
        endpoints: BTreeSet::new(),
        groups: [incident::SG_ENDPOINT.to_string()].into(),
    };
    observations.changed(&key(&sim), &a.owner_tag, Some(touched.clone()));
    sim.clear_calls();

    let despite = Need {
        despite_own_change: true,
        ..need(&sim)
    };
    let same = run(observations.observe(&sim, &key(&sim), &a, &despite)).unwrap();
    assert!(Arc::ptr_eq(&before, &same), "no refresh");
    assert_eq!(
        observations.unseen_change(&key(&sim), &a.owner_tag, &same),
        Some(Some(touched.clone()))
    );
    let patched = run(look_at_change(&sim, &same, &touched, |_| {})).expect("looked at");
    assert_eq!(sim.calls().len(), 1, "{:?}", sim.calls());
    assert_eq!(calls(&sim, Ec2Operation::DescribeSecurityGroupRules), 1);

    let full = run(sim.describe_security_groups(incident::VPC)).unwrap();
    let group = |groups: &[SecurityGroup]| {
        groups
            .iter()
            .find(|g| g.group_id == incident::SG_ENDPOINT)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        group(&patched.security_groups),
        group(&full),
        "as a full describe shows it"
    );
    assert_ne!(group(&before.snapshot.security_groups), group(&full));
    assert!(
        patched
            .security_group_rules
            .iter()
            .any(|r| r.group_id == incident::SG_ENDPOINT && r.tags.contains(&owner_tag)),
        "the object's new rule is among its owned rules"
    );
    assert_eq!(patched.network_interfaces, before.snapshot.network_interfaces);
    // What the change did not touch is shared with the snapshot, not copied; the groups are
    // copied since one of them changed.
    let shared = &before.snapshot;
    assert!(
        patched
            .network_interfaces
            .is_shared_with(&shared.network_interfaces)
    );
    assert!(patched.subnets.is_shared_with(&shared.subnets));
    assert!(patched.network_acls.is_shared_with(&shared.network_acls));
    assert!(!patched.security_groups.is_shared_with(&shared.security_groups));
    // No group touched: the groups are shared too.
    let untouched = super::patched(&before, Vec::new(), &BTreeSet::new(), Vec::new());
    assert!(untouched.security_groups.is_shared_with(&shared.security_groups));
    assert!(
        untouched
            .network_interfaces
            .is_shared_with(&shared.network_interfaces)
    );
    assert_eq!(untouched, before.snapshot);

    // Without `despite_own_change`, only a refresh begun after the change will do; it shows it.
    let after = run(observations.observe(&sim, &key(&sim), &a, &need(&sim))).unwrap();
    assert!(!Arc::ptr_eq(&before, &after));
    assert_eq!(observations.unseen_change(&key(&sim), &a.owner_tag, &after), None);
    assert_eq!(group(&after.snapshot.security_groups), group(&full));

    // An endpoint EC2 does not show (gone, or not listed yet): not looked at by id.
    let gone = Touched {
        endpoints: ["vpce-0000000000000dead".to_string()].into(),
        groups: BTreeSet::new(),
    };
    assert!(run(look_at_change(&sim, &after, &gone, |_| {})).is_none());
}

/// The simulated world, with DescribeNetworkInterfaces held until a gate opens: a refresh
/// stays in flight while other passes come.
struct Gated {
    sim: SimEc2,
    gate: Mutex<Option<oneshot::Receiver<()>>>,
}

impl Gated {
    fn new(sim: SimEc2) -> Self {
        Self {
            sim,
            gate: Mutex::new(None),
        }
    }

    /// The next DescribeNetworkInterfaces waits until the returned sender is used or dropped.
    fn hold_next(&self) -> oneshot::Sender<()> {
        let (open, gate) = oneshot::channel();
        *self.gate.lock().unwrap() = Some(gate);
        open
    }
}

impl Ec2 for Gated {
    fn region(&self) -> Option<String> {
        Ec2::region(&self.sim)
    }
    async fn account(&self) -> Result<String, AccountUnknown> {
        self.sim.account().await
    }
    async fn describe_vpcs(&self, ids: &[String]) -> Result<Vec<Vpc>, Ec2Error> {
        self.sim.describe_vpcs(ids).await
    }
    async fn describe_vpc_dns_attributes(&self, vpc_id: &str) -> Result<VpcDnsAttributes, Ec2Error> {
        self.sim.describe_vpc_dns_attributes(vpc_id).await
    }
    async fn describe_subnets(&self, vpc_id: &str) -> Result<Vec<Subnet>, Ec2Error> {
        self.sim.describe_subnets(vpc_id).await
    }
    async fn describe_security_groups(&self, vpc_id: &str) -> Result<Vec<SecurityGroup>, Ec2Error> {
        self.sim.describe_security_groups(vpc_id).await
    }
    async fn describe_security_group_rules(
        &self,
        f: &RuleFilter,
    ) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
        self.sim.describe_security_group_rules(f).await
    }
    async fn describe_network_interfaces(&self, vpc_id: &str) -> Result<Vec<NetworkInterface>, Ec2Error> {
        let gate = self.gate.lock().unwrap().take();
        if let Some(gate) = gate {
            let _ = gate.await;
        }
        self.sim.describe_network_interfaces(vpc_id).await
    }
    async fn describe_network_acls(&self, vpc_id: &str) -> Result<Vec<NetworkAcl>, Ec2Error> {
        self.sim.describe_network_acls(vpc_id).await
    }
    async fn describe_vpc_endpoints(&self, f: &EndpointFilter) -> Result<Vec<VpcEndpoint>, Ec2Error> {
        self.sim.describe_vpc_endpoints(f).await
    }
    async fn describe_vpc_endpoint_services(
        &self,
        names: &[String],
        regions: &[String],
    ) -> Result<Vec<ServiceDetail>, Ec2Error> {
        self.sim.describe_vpc_endpoint_services(names, regions).await
    }
    async fn describe_managed_prefix_lists(&self, ids: &[String]) -> Result<Vec<PrefixList>, Ec2Error> {
        self.sim.describe_managed_prefix_lists(ids).await
    }
    async fn get_managed_prefix_list_entries(&self, id: &str) -> Result<Vec<PrefixListEntry>, Ec2Error> {
        self.sim.get_managed_prefix_list_entries(id).await
    }
    async fn describe_flow_logs(&self, group: &str) -> Result<Vec<crate::model::FlowLog>, Ec2Error> {
        self.sim.describe_flow_logs(group).await
    }
    async fn describe_route_tables(&self, vpc: &str) -> Result<Vec<crate::model::RouteTable>, Ec2Error> {
        self.sim.describe_route_tables(vpc).await
    }
    async fn create_vpc_endpoint(&self, r: &CreateVpcEndpoint) -> Result<Receipt<VpcEndpoint>, Ec2Error> {
        self.sim.create_vpc_endpoint(r).await
    }
    async fn modify_vpc_endpoint(&self, r: &ModifyVpcEndpoint) -> Result<Receipt<()>, Ec2Error> {
        self.sim.modify_vpc_endpoint(r).await
    }
    async fn delete_vpc_endpoints(
        &self,
        ids: &[String],
    ) -> Result<Receipt<BTreeMap<String, Ec2Error>>, Ec2Error> {
        self.sim.delete_vpc_endpoints(ids).await
    }
    async fn authorize_security_group_rules(
        &self,
        r: &AuthorizeRules,
    ) -> Result<Receipt<Vec<SecurityGroupRule>>, Ec2Error> {
        self.sim.authorize_security_group_rules(r).await
    }
    async fn revoke_security_group_rules(&self, r: &RevokeOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        self.sim.revoke_security_group_rules(r).await
    }
    async fn tag_security_group_rules(&self, r: &RetagOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        self.sim.tag_security_group_rules(r).await
    }
    async fn tag_vpc_endpoints(&self, ids: &[String], tags: &[Tag]) -> Result<Receipt<()>, Ec2Error> {
        self.sim.tag_vpc_endpoints(ids, tags).await
    }
    async fn untag_vpc_endpoints(&self, ids: &[String], keys: &[String]) -> Result<Receipt<()>, Ec2Error> {
        self.sim.untag_vpc_endpoints(ids, keys).await
    }
}

/// Someone may turn private DNS on and off again between two passes of the object that owns
/// the endpoint: what any object's look saw is remembered, for that object to wait out the
/// record TTL from the first look that found it off again.
#[test]
fn what_the_looks_saw_of_private_dns_is_remembered_per_endpoint() {
    let world =
        crate::plan::fixtures::with_endpoint(crate::plan::fixtures::incident_world(), "available", false);
    let sim = SimEc2::with_config(&world, SimClock::new(), SimConfig::default().without_throttling());
    let id = world.vpc_endpoints[0].vpc_endpoint_id.clone();
    let observations = VpcObservations::new();
    let k = VpcKey {
        vpc_id: world.vpc_endpoints[0].vpc_id.clone(),
        ..key(&sim)
    };
    let look = || {
        let fresh = Need {
            max_age: Duration::ZERO,
            ..need(&sim)
        };
        run(observations.observe(&sim, &k, &object("other"), &fresh)).unwrap();
        sim.clock().timestamp()
    };
    look();
    let now = || sim.clock().timestamp();
    assert!(observations.seen_off(&k, now()).is_empty(), "never seen serving");

    sim.set_private_dns_out_of_band(&id, true).unwrap();
    sim.clock().advance(Duration::from_secs(10));
    let on = look();
    sim.clock().advance(Duration::from_secs(5));
    assert_eq!(
        observations.seen_off(&k, now()),
        BTreeMap::from([(id.clone(), now())]),
        "last seen on: off since no earlier than now"
    );

    sim.set_private_dns_out_of_band(&id, false).unwrap();
    sim.clock().advance(Duration::from_secs(10));
    let off = look();
    sim.clock().advance(Duration::from_secs(30));
    look();
    assert_eq!(
        observations.seen_off(&k, now()),
        BTreeMap::from([(id.clone(), off)]),
        "the first look that found it off again"
    );

    // A by-id look older than the last that saw it on says nothing new.
    let mut serving = world.vpc_endpoints[0].clone();
    serving.private_dns_enabled = true;
    observations.saw(&k, &[serving.clone()], on);
    assert_eq!(
        observations.seen_off(&k, now()),
        BTreeMap::from([(id.clone(), off)])
    );
    // A later one that finds it on again starts over.
    observations.saw(&k, &[serving], now());
    assert_eq!(
        observations.seen_off(&k, now()),
        BTreeMap::from([(id.clone(), now())])
    );

    // Gone from a refresh: forgotten.
    sim.delete_endpoint_out_of_band(&id).unwrap();
    sim.clock().advance(Duration::from_secs(600));
    look();
    assert!(observations.seen_off(&k, now()).is_empty());
}

fn poll_once<F: std::future::Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    future.poll_unpin(&mut Context::from_waker(Waker::noop()))
}

/// Two objects registered, and their snapshot past its bound.
fn two_objects_due(port: &Gated, observations: &VpcObservations) -> (Subscriber, Subscriber) {
    let (a, b) = (object("a"), object("b"));
    run(observations.observe(port, &key(&port.sim), &a, &need(&port.sim))).unwrap();
    run(observations.observe(port, &key(&port.sim), &b, &need(&port.sim))).unwrap();
    port.sim.clock().advance(Duration::from_secs(300));
    port.sim.clear_calls();
    (a, b)
}

#[test]
fn a_pass_joins_the_refresh_in_flight_when_it_is_fresh_enough() {
    let port = Gated::new(world());
    let observations = VpcObservations::new();
    let (a, b) = two_objects_due(&port, &observations);
    let k = key(&port.sim);
    let n = need(&port.sim);
    let open = port.hold_next();
    let mut first = Box::pin(observations.observe(&port, &k, &a, &n));
    let mut second = Box::pin(observations.observe(&port, &k, &b, &n));
    assert!(poll_once(&mut first).is_pending(), "the refresh is in flight");
    assert!(poll_once(&mut second).is_pending(), "b waits for it");
    open.send(()).unwrap();
    let Poll::Ready(Ok(first)) = poll_once(&mut first) else {
        panic!("the refresh lands once the gate opens")
    };
    let Poll::Ready(Ok(second)) = poll_once(&mut second) else {
        panic!("b gets the refresh it joined")
    };
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(calls(&port.sim, Ec2Operation::DescribeNetworkInterfaces), 1);
}

#[test]
fn a_pass_that_needs_newer_than_the_refresh_in_flight_waits_for_it_then_starts_the_next() {
    let port = Gated::new(world());
    let observations = VpcObservations::new();
    let (a, b) = two_objects_due(&port, &observations);
    let k = key(&port.sim);
    let n = need(&port.sim);
    let open = port.hold_next();
    let mut first = Box::pin(observations.observe(&port, &k, &a, &n));
    assert!(poll_once(&mut first).is_pending());
    // b began its pass after a's refresh did: only a later one will do.
    let later = Need {
        begun_after: Some(observations.ticket()),
        ..n.clone()
    };
    let mut second = Box::pin(observations.observe(&port, &k, &b, &later));
    assert!(
        poll_once(&mut second).is_pending(),
        "one refresh in flight at a time"
    );
    assert_eq!(calls(&port.sim, Ec2Operation::DescribeVpcs), 1);
    open.send(()).unwrap();
    let Poll::Ready(Ok(first)) = poll_once(&mut first) else {
        panic!("a's refresh lands")
    };
    let Poll::Ready(Ok(second)) = poll_once(&mut second) else {
        panic!("b's own refresh, started once a's landed")
    };
    assert!(!Arc::ptr_eq(&first, &second));
    assert!(second.begun_after(later.begun_after.unwrap()));
    assert_eq!(calls(&port.sim, Ec2Operation::DescribeNetworkInterfaces), 2);
}

#[test]
fn a_refresh_abandoned_in_flight_lets_the_passes_waiting_on_it_refresh_themselves() {
    let port = Gated::new(world());
    let observations = VpcObservations::new();
    let (a, b) = two_objects_due(&port, &observations);
    let k = key(&port.sim);
    let n = need(&port.sim);
    let _open = port.hold_next();
    let mut first = Box::pin(observations.observe(&port, &k, &a, &n));
    let mut second = Box::pin(observations.observe(&port, &k, &b, &n));
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    // The pass refreshing is cancelled (the controller lost its Lease, say).
    drop(first);
    let Poll::Ready(Ok(second)) = poll_once(&mut second) else {
        panic!("b refreshes itself")
    };
    assert!(second.covers(&b));
}
