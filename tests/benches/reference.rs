//! The reference analysis: the four checks of a tcp/443 connection done the straightforward
//! way, for each client, each destination, each rule, straight from the snapshot's JSON shapes.
//! Nothing is indexed, merged or shared between clients (only the lookup of a group or an ACL
//! by id is a map), so it is slow and easy to read; the benchmark times it beside
//! `analysis::analyze` and checks that both give every client the same verdict.
//!
//! It takes from the analysis what is not reachability: who the clients are (with their
//! sources and groups) and where they must get to (the destinations).

use std::collections::{BTreeSet, HashMap};

use ipnet::IpNet;
use vpce_rollout::analysis::{Analysis, Check, ClientVerdict, Destination, Source};
use vpce_rollout::model::{IpPermission, NetworkAcl, NetworkAclEntry, Protocol, SecurityGroup, Snapshot};

/// An inclusive range of addresses; `v6` keeps the families apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    v6: bool,
    lo: u128,
    hi: u128,
}

fn range(net: &IpNet) -> Range {
    match net {
        IpNet::V4(n) => Range {
            v6: false,
            lo: u32::from(n.network()) as u128,
            hi: u32::from(n.broadcast()) as u128,
        },
        IpNet::V6(n) => Range {
            v6: true,
            lo: u128::from(n.network()),
            hi: u128::from(n.broadcast()),
        },
    }
}

fn parse(text: &str) -> Option<Range> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(range(&net.trunc()));
    }
    let ip: std::net::IpAddr = text.parse().ok()?;
    Some(range(&IpNet::from(ip)))
}

/// Whether `ranges` together cover all of `r`: walk from `r.lo`, each time looking through
/// every range for one that covers the current address.
fn covered(r: Range, ranges: &[Range]) -> bool {
    let mut at = r.lo;
    loop {
        let Some(next) = ranges
            .iter()
            .filter(|c| c.v6 == r.v6 && c.lo <= at && at <= c.hi)
            .map(|c| c.hi)
            .max()
        else {
            return false;
        };
        if next >= r.hi {
            return true;
        }
        at = next + 1;
    }
}

fn allows_https(p: &IpPermission) -> bool {
    match p.ip_protocol {
        Protocol::All => true,
        Protocol::Tcp => {
            let from = p.from_port.filter(|&f| f >= 0).unwrap_or(0);
            let to = p.to_port.filter(|&t| t >= 0).unwrap_or(65535);
            from <= 443 && 443 <= to
        }
        _ => false,
    }
}

/// Every CIDR and prefix-list entry of the tcp/443 permissions (prefix lists the snapshot has
/// no entries for are empty).
fn https_ranges(snapshot: &Snapshot, permissions: &[IpPermission]) -> Vec<Range> {
    let mut out = Vec::new();
    for p in permissions.iter().filter(|p| allows_https(p)) {
        for r in &p.ip_ranges {
            out.extend(parse(&r.cidr_ip));
        }
        for r in &p.ipv6_ranges {
            out.extend(parse(&r.cidr_ipv6));
        }
        for pl in &p.prefix_list_ids {
            for entry in snapshot
                .prefix_list_entries
                .get(&pl.prefix_list_id)
                .into_iter()
                .flatten()
            {
                out.extend(parse(&entry.cidr));
            }
        }
    }
    out
}

fn refers_to(permissions: &[IpPermission], groups: &[String]) -> bool {
    permissions.iter().filter(|p| allows_https(p)).any(|p| {
        p.user_id_group_pairs
            .iter()
            .any(|pair| groups.contains(&pair.group_id))
    })
}

/// The entry's ports, or `None` when it never matches TCP.
fn entry_ports(e: &NetworkAclEntry) -> Option<(u32, u32)> {
    match e.protocol {
        Protocol::All => Some((0, 65535)),
        Protocol::Tcp => match &e.port_range {
            None => Some((0, 65535)),
            Some(r) => {
                let (from, to) = (r.from.clamp(0, 65535) as u32, r.to.clamp(0, 65535) as u32);
                (from <= to).then_some((from, to))
            }
        },
        _ => None,
    }
}

/// Whether every packet with a peer in `peer` and a port in `ports` passes one direction of the
/// ACL. The answer can only change where an entry's addresses or ports start or end, so each
/// such corner inside the box is tried against every entry in rule-number order.
fn acl_passes(acl: &NetworkAcl, egress: bool, peer: Range, ports: (u32, u32)) -> bool {
    let mut entries: Vec<&NetworkAclEntry> = acl.entries.iter().filter(|e| e.egress == egress).collect();
    entries.sort_by_key(|e| e.rule_number);
    let mut addrs = vec![peer.lo];
    let mut port_points = vec![ports.0];
    for e in &entries {
        for cidr in e.cidr_block.iter().chain(&e.ipv6_cidr_block) {
            if let Some(r) = parse(cidr).filter(|r| r.v6 == peer.v6) {
                for a in [r.lo, r.hi.saturating_add(1)] {
                    if peer.lo < a && a <= peer.hi {
                        addrs.push(a);
                    }
                }
            }
        }
        if let Some((from, to)) = entry_ports(e) {
            for p in [from, to + 1] {
                if ports.0 < p && p <= ports.1 {
                    port_points.push(p);
                }
            }
        }
    }
    for &a in &addrs {
        for &port in &port_points {
            let verdict = entries.iter().find_map(|e| {
                let (from, to) = entry_ports(e)?;
                let hit = e
                    .cidr_block
                    .iter()
                    .chain(&e.ipv6_cidr_block)
                    .filter_map(|c| parse(c))
                    .any(|r| r.v6 == peer.v6 && r.lo <= a && a <= r.hi);
                (hit && from <= port && port <= to).then(|| e.rule_action.eq_ignore_ascii_case("allow"))
            });
            if verdict != Some(true) {
                return false;
            }
        }
    }
    true
}

/// The ACL of a subnet: its association (the first ACL by id when a snapshot holds two), else
/// the VPC's default.
fn acl_of<'s>(snapshot: &'s Snapshot, vpc_id: &str, subnet_id: &str) -> Option<&'s NetworkAcl> {
    let mut acls: Vec<&NetworkAcl> = snapshot
        .network_acls
        .iter()
        .filter(|a| a.vpc_id == vpc_id)
        .collect();
    acls.sort_by(|a, b| a.network_acl_id.cmp(&b.network_acl_id));
    acls.iter()
        .find(|a| a.associations.iter().any(|x| x.subnet_id == subnet_id))
        .or_else(|| acls.iter().find(|a| a.is_default))
        .copied()
}

/// What both implementations must agree on, per client: every failing check, with the
/// destination and the sources it fails for.
pub type Verdict = BTreeSet<(Check, String, Vec<String>)>;

pub fn verdict_of(client: &ClientVerdict) -> Verdict {
    client
        .blocks
        .iter()
        .map(|b| {
            (
                b.check,
                b.destination.to_string(),
                b.sources.iter().map(Source::text).collect(),
            )
        })
        .collect()
}

/// Every client's verdict, in the analysis's client order.
pub fn verdicts(snapshot: &Snapshot, vpc_id: &str, analysis: &Analysis) -> Vec<Verdict> {
    let groups: HashMap<&str, &SecurityGroup> = snapshot
        .security_groups
        .iter()
        .map(|g| (g.group_id.as_str(), g))
        .collect();
    analysis
        .clients
        .iter()
        .map(|client| client_verdict(snapshot, vpc_id, &groups, &analysis.destinations, client))
        .collect()
}

fn client_verdict(
    snapshot: &Snapshot,
    vpc_id: &str,
    groups: &HashMap<&str, &SecurityGroup>,
    destinations: &[Destination],
    client: &ClientVerdict,
) -> Verdict {
    let mut out = Verdict::new();
    let families: Vec<bool> = client.sources.iter().map(|s| s.net.addr().is_ipv6()).collect();
    let shares_a_family = destinations
        .iter()
        .any(|d| families.contains(&d.net.addr().is_ipv6()));
    for dest in destinations {
        let to = range(&dest.net);
        let mut sources: Vec<&Source> = client
            .sources
            .iter()
            .filter(|s| s.net.addr().is_ipv6() == to.v6)
            .collect();
        if sources.is_empty() {
            if shares_a_family {
                continue;
            }
            sources = client.sources.iter().collect();
        }
        let mut fail = |check: Check, failing: Vec<&Source>| {
            out.insert((
                check,
                dest.net.to_string(),
                failing.iter().map(|s| s.text()).collect(),
            ));
        };

        // EndpointIngress: a group reference admits the client whole; otherwise each source
        // must be covered by the CIDRs and prefix lists of every endpoint group together.
        let endpoint_groups: Vec<&SecurityGroup> = dest
            .security_group_ids
            .iter()
            .filter_map(|g| groups.get(g.as_str()).copied())
            .collect();
        let admitted = endpoint_groups
            .iter()
            .any(|g| refers_to(&g.ip_permissions, &client.security_group_ids));
        if !admitted {
            let ranges: Vec<Range> = endpoint_groups
                .iter()
                .flat_map(|g| https_ranges(snapshot, &g.ip_permissions))
                .collect();
            let failing: Vec<&Source> = sources
                .iter()
                .copied()
                .filter(|s| !covered(range(&s.net), &ranges))
                .collect();
            if !failing.is_empty() {
                fail(Check::EndpointIngress, failing);
            }
        }

        // ClientEgress: a reference to an endpoint group, or CIDRs covering the destination.
        let client_groups: Vec<&SecurityGroup> = client
            .security_group_ids
            .iter()
            .filter_map(|g| groups.get(g.as_str()).copied())
            .collect();
        let refers = client_groups
            .iter()
            .any(|g| refers_to(&g.ip_permissions_egress, &dest.security_group_ids));
        if !refers {
            let ranges: Vec<Range> = client_groups
                .iter()
                .flat_map(|g| https_ranges(snapshot, &g.ip_permissions_egress))
                .collect();
            if !covered(to, &ranges) {
                fail(Check::ClientEgress, vec![]);
            }
        }

        if client.subnet_id == dest.subnet_id {
            continue;
        }
        // The client's ACL: 443 out to the destination, ephemeral ports back in from it.
        let passes = acl_of(snapshot, vpc_id, &client.subnet_id).is_some_and(|acl| {
            acl_passes(acl, true, to, (443, 443)) && acl_passes(acl, false, to, (1024, 65535))
        });
        if !passes {
            fail(Check::ClientSubnetNacl, vec![]);
        }
        // The endpoint's ACL, for each source: 443 in from it, ephemeral ports back out to it.
        let endpoint_acl = acl_of(snapshot, vpc_id, &dest.subnet_id);
        let failing: Vec<&Source> = sources
            .iter()
            .copied()
            .filter(|s| {
                let from = range(&s.net);
                !endpoint_acl.is_some_and(|acl| {
                    acl_passes(acl, false, from, (443, 443)) && acl_passes(acl, true, from, (1024, 65535))
                })
            })
            .collect();
        if !failing.is_empty() {
            fail(Check::EndpointSubnetNacl, failing);
        }
    }
    out
}
