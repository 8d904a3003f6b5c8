//! The plan fixes what it says it fixes: for random small VPCs, adding the remediation's rules
//! ([`apply_rules`]) makes every client without an unfixable block reachable, and leaves every
//! ACL-blocked client blocked by exactly the same ACL checks. Clients send from several
//! addresses (secondary IPs, delegated /28 prefixes) as EKS nodes do.

use proptest::prelude::*;
use proptest::sample::select;

use super::testkit::*;
use super::*;
use crate::model::IpPermission;

const SUBNETS: usize = 3;
const GROUPS: usize = 5;

#[derive(Clone, Debug)]
enum PeerSpec {
    Group(usize),
    /// 10.0.<third>.<host>/<prefix>
    Cidr(u8, u8, u8),
    AnyV4,
    AnyV6,
    PrefixList,
}

#[derive(Clone, Debug)]
struct PermSpec {
    protocol: &'static str,
    from: i32,
    to: i32,
    peer: PeerSpec,
}

#[derive(Clone, Debug)]
struct AclEntrySpec {
    number: i32,
    allow: bool,
    egress: bool,
    protocol: &'static str,
    cidr: (u8, u8),
    ports: (i32, i32),
}

/// A client ENI: subnet, host, groups, and more addresses: a secondary host, or (true) the /28
/// prefix around a host.
type EniSpec = (usize, u8, Vec<usize>, Vec<(bool, u8)>);

#[derive(Clone, Debug)]
struct WorldSpec {
    /// Ingress and egress permissions of sg-0..sg-4; sg-0 (and sg-1) guard the endpoint.
    groups: Vec<(Vec<PermSpec>, Vec<PermSpec>)>,
    two_endpoint_groups: bool,
    enis: Vec<EniSpec>,
    /// Endpoint subnets, and whether the endpoint exists (with an ENI per subnet).
    endpoint_subnets: Vec<usize>,
    endpoint_exists: bool,
    /// Per subnet: its own ACL, or the default (allow all).
    acls: Vec<Option<Vec<AclEntrySpec>>>,
    prefix_list: Vec<(u8, u8)>,
}

fn peer() -> impl Strategy<Value = PeerSpec> {
    prop_oneof![
        3 => (0..GROUPS).prop_map(PeerSpec::Group),
        3 => (0..SUBNETS as u8, select(vec![0u8, 10, 128, 200]), select(vec![16u8, 24, 25, 32]))
            .prop_map(|(t, h, p)| PeerSpec::Cidr(t, h, p)),
        1 => Just(PeerSpec::AnyV4),
        1 => Just(PeerSpec::AnyV6),
        1 => Just(PeerSpec::PrefixList),
    ]
}

fn perm() -> impl Strategy<Value = PermSpec> {
    (
        select(vec!["tcp", "tcp", "udp", "-1"]),
        select(vec![0, 1, 442, 443, 444, 1024]),
        select(vec![442, 443, 444, 1023, 65535]),
        peer(),
    )
        .prop_map(|(protocol, from, to, peer)| PermSpec {
            protocol,
            from,
            to,
            peer,
        })
}

fn acl_entry() -> impl Strategy<Value = AclEntrySpec> {
    (
        select(vec![50, 90, 100, 110, 200]),
        prop::bool::weighted(0.7),
        any::<bool>(),
        select(vec!["tcp", "-1", "udp"]),
        (0..SUBNETS as u8, select(vec![0u8, 16, 24, 25])),
        select(vec![
            (0, 65535),
            (443, 443),
            (1024, 65535),
            (32768, 65535),
            (0, 442),
        ]),
    )
        .prop_map(|(number, allow, egress, protocol, cidr, ports)| AclEntrySpec {
            number,
            allow,
            egress,
            protocol,
            cidr,
            ports,
        })
}

fn world_spec() -> impl Strategy<Value = WorldSpec> {
    (
        prop::collection::vec(
            (
                prop::collection::vec(perm(), 0..3),
                prop::collection::vec(perm(), 0..3),
            ),
            GROUPS,
        ),
        any::<bool>(),
        prop::collection::vec(
            (
                0..SUBNETS,
                4u8..250,
                prop::collection::vec(0..GROUPS, 1..3),
                prop::collection::vec((prop::bool::weighted(0.3), 4u8..250), 0..3),
            ),
            1..8,
        ),
        prop::sample::subsequence((0..SUBNETS).collect::<Vec<_>>(), 1..=2),
        any::<bool>(),
        prop::collection::vec(
            prop::option::weighted(0.3, prop::collection::vec(acl_entry(), 0..5)),
            SUBNETS,
        ),
        prop::collection::vec((0..SUBNETS as u8, select(vec![24u8, 25, 32])), 0..3),
    )
        .prop_map(
            |(groups, two_endpoint_groups, enis, endpoint_subnets, endpoint_exists, acls, prefix_list)| {
                WorldSpec {
                    groups,
                    two_endpoint_groups,
                    enis,
                    endpoint_subnets,
                    endpoint_exists,
                    acls,
                    prefix_list,
                }
            },
        )
}

fn permission(p: &PermSpec) -> IpPermission {
    let r = rule(p.protocol, p.from, p.to);
    match &p.peer {
        PeerSpec::Group(g) => r.group(&format!("sg-{g}")),
        PeerSpec::Cidr(t, h, len) => r.cidr(&format!("10.0.{t}.{h}/{len}")),
        PeerSpec::AnyV4 => r.cidr("0.0.0.0/0"),
        PeerSpec::AnyV6 => r.cidr6("::/0"),
        PeerSpec::PrefixList => r.prefix_list("pl-1"),
    }
}

fn subnet_id(i: usize) -> String {
    format!("subnet-{i}")
}

fn build(w: &WorldSpec) -> (crate::model::Snapshot, crate::api::InterfaceEndpointSpec) {
    // The default ACL allows everything, for subnets without their own.
    let mut snapshot_world = World::new();
    for s in 0..SUBNETS {
        snapshot_world = snapshot_world.subnet(&subnet_id(s), &format!("10.0.{s}.0/24"));
    }
    for (g, (ingress, egress)) in w.groups.iter().enumerate() {
        snapshot_world = snapshot_world.sg(
            &format!("sg-{g}"),
            ingress.iter().map(permission).collect(),
            egress.iter().map(permission).collect(),
        );
    }
    let endpoint_groups: Vec<String> = if w.two_endpoint_groups {
        vec!["sg-0".into(), "sg-1".into()]
    } else {
        vec!["sg-0".into()]
    };
    let group_refs: Vec<&str> = endpoint_groups.iter().map(String::as_str).collect();
    for (i, (subnet, host, groups, extras)) in w.enis.iter().enumerate() {
        let groups: Vec<String> = groups.iter().map(|g| format!("sg-{g}")).collect();
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        let id = format!("eni-{i}");
        let extras: Vec<String> = extras
            .iter()
            .map(|&(prefix, h)| {
                if prefix {
                    format!("10.0.{subnet}.{}/28", h & 0xf0)
                } else {
                    format!("10.0.{subnet}.{h}")
                }
            })
            .collect();
        let extras: Vec<&str> = extras.iter().map(String::as_str).collect();
        snapshot_world = snapshot_world
            .eni(
                &id,
                &subnet_id(*subnet),
                &format!("10.0.{subnet}.{host}"),
                &groups,
            )
            .addresses(&id, &extras);
    }
    let subnets: Vec<String> = w.endpoint_subnets.iter().map(|s| subnet_id(*s)).collect();
    if w.endpoint_exists {
        let mut enis = Vec::new();
        for s in &w.endpoint_subnets {
            let id = format!("eni-vpce-{s}");
            snapshot_world = snapshot_world.eni_typed(
                &id,
                &subnet_id(*s),
                &format!("10.0.{s}.251"),
                &group_refs,
                "vpc_endpoint",
            );
            enis.push(id);
        }
        let enis: Vec<&str> = enis.iter().map(String::as_str).collect();
        let subnet_refs: Vec<&str> = subnets.iter().map(String::as_str).collect();
        snapshot_world = snapshot_world.endpoint(&enis, &subnet_refs, &group_refs);
    }
    for (s, acl) in w.acls.iter().enumerate() {
        if let Some(entries) = acl {
            // EC2 holds one entry per number and direction (a world with two is refused).
            let mut numbers = std::collections::HashSet::new();
            let entries = entries
                .iter()
                .filter(|e| numbers.insert((e.egress, e.number)))
                .map(|e| {
                    let cidr = format!("10.0.{}.0/{}", e.cidr.0, e.cidr.1);
                    let ports = (e.protocol != "-1").then_some(e.ports);
                    let action = if e.allow { "allow" } else { "deny" };
                    if e.egress {
                        outbound(e.number, action, &cidr, e.protocol, ports)
                    } else {
                        inbound(e.number, action, &cidr, e.protocol, ports)
                    }
                })
                .collect();
            snapshot_world = snapshot_world.nacl(&format!("acl-{s}"), &[&subnet_id(s)], entries);
        }
    }
    let cidrs: Vec<String> = w
        .prefix_list
        .iter()
        .map(|(t, len)| format!("10.0.{t}.0/{len}"))
        .collect();
    let cidr_refs: Vec<&str> = cidrs.iter().map(String::as_str).collect();
    snapshot_world = snapshot_world.prefix_list("pl-1", &cidr_refs);

    let spec = crate::api::InterfaceEndpointSpec {
        subnet_ids: subnets,
        security_group_ids: endpoint_groups,
        ..spec()
    };
    (snapshot_world.build(), spec)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn applying_the_plan_fixes_every_fixable_client_and_no_acl(w in world_spec()) {
        let (snapshot, spec) = build(&w);
        let before = analyze(&spec, Some(&owner()), &snapshot).expect("a valid world");
        let after_world = apply_rules(&snapshot, &before.remediation.rules);
        let after = analyze(&spec, Some(&owner()), &after_world).expect("still valid");

        prop_assert_eq!(after.clients.len(), before.clients.len());
        for (b, a) in before.clients.iter().zip(&after.clients) {
            let unfixable = before
                .remediation
                .unfixable
                .iter()
                .any(|u| u.network_interface_id == b.network_interface_id);
            let acl_checks = |v: &ClientVerdict| -> Vec<Check> {
                v.failing_checks().into_iter().filter(|c| !c.is_fixable()).collect()
            };
            if unfixable {
                prop_assert!(!a.is_reachable(), "{} was unfixable yet became reachable", b.network_interface_id);
            } else {
                prop_assert!(a.is_reachable(), "{} still blocked: {:#?}\nrules: {:#?}", a.network_interface_id, a.blocks, before.remediation.rules);
            }
            // Security-group rules never change what the ACLs decide, and clear every SG block.
            prop_assert_eq!(acl_checks(a), acl_checks(b));
            prop_assert!(a.failing_checks().iter().all(|c| !c.is_fixable()), "{:#?}", a.blocks);
        }
        prop_assert!(after.remediation.rules.is_empty(), "{:#?}", after.remediation.rules);
    }
}
