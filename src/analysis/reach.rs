//! Reachability: for every client and every destination, the four checks of a TCP connection
//! on each of the spec's ports, each failure kept with the ports it stops and a sentence saying
//! what to change.
//!
//! - EndpointIngress: some ingress rule of some endpoint security group allows the port from the
//!   client: a reference to one of its groups (which admits every address of the ENI), or CIDRs
//!   and prefix lists containing every one of its sources.
//! - ClientEgress: the client's groups' egress rules allow the port to the whole destination
//!   (CIDRs and prefix lists together covering every address of it), or one refers to an
//!   endpoint security group.
//! - ClientSubnetNacl / EndpointSubnetNacl: see [`super::nacl`]; skipped when client and
//!   destination share a subnet, since traffic inside a subnet never crosses its ACL. The
//!   endpoint side is checked for every source of the client.
//!
//! A client sends from each of its sources ([`super::sources`]): its primary and secondary
//! addresses, delegated prefixes (every address in them), IPv6 addresses. The two checks that
//! look at the sender's address fail naming the sources that do not pass. A client only uses
//! destinations of an address family it has a source of (an IPv4-only client never connects to
//! a dual-stack endpoint's IPv6 address), so destinations of another family are skipped; a
//! client sharing no family with any destination is checked against all of them, and fails.
//!
//! Security groups are stateful, so return traffic needs no rule; ACLs are not.
//!
//! The security-group checks run once per class of ports ([`VpcIndex::port_classes`]), and
//! classes that fail alike (the same sources, the same missing peers) are one block naming their
//! ports together: `allows tcp 8080-8082`, not three blocks.
//!
//! Work is shared where the answer does not depend on the client itself: clients with the same
//! groups share one egress union, and clients of one subnet share the client-side ACL result.
//! The rest is linear in each client's sources.

use std::borrow::Cow;
use std::cell::OnceCell;

use std::net::IpAddr;

use super::addr::{AddrRange, AddrSet, Family, push_ip};
use super::clients::Client;
use super::hash::HashMap;
use super::index::{Peers, VpcIndex};
use super::ports::Ports;
use super::sources::Source;
use super::{Block, Check, ClientVerdict, Destination, nacl};

/// A failed check: the ports it stops, the client's sources it fails for (none for checks about
/// the destination only), and the sentence.
type Failure = (Ports, Vec<Source>, String);

/// How many failing sources a sentence names before "and N more" (the block lists them all).
const NAMED_SOURCES: usize = 3;

/// A destination with what its security groups admit, per class of ports.
struct Target<'d, 'a> {
    dest: &'d Destination,
    range: AddrRange,
    ingress: Vec<Peers<'a>>,
    /// Its security groups, as sentences list them: made once, not once per block.
    groups_text: String,
}

/// "sg-a, sg-b", or "none".
fn list(ids: &[impl AsRef<str>]) -> String {
    if ids.is_empty() {
        return "none".to_string();
    }
    ids.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
}

fn unresolved_note(unresolved: &[&str]) -> String {
    if unresolved.is_empty() {
        String::new()
    } else {
        format!(
            " (prefix lists {} have no entries in the snapshot and were read as empty)",
            list(unresolved)
        )
    }
}

/// The union of `groups`' peers, per class of ports.
fn union_of<'a>(index: &VpcIndex<'a>, groups: &[impl AsRef<str>], egress: bool) -> Vec<Peers<'a>> {
    (0..index.port_classes.len())
        .map(|class| {
            let parts: Vec<&Peers<'a>> = groups
                .iter()
                .filter_map(|g| index.groups.get(g.as_ref()))
                .map(|v| {
                    if egress {
                        &v.egress[class]
                    } else {
                        &v.ingress[class]
                    }
                })
                .collect();
            Peers::union(parts)
        })
        .collect()
}

/// What a security-group check found missing for one class of ports: classes with equal misses
/// are reported as one block.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Miss<'p> {
    /// EndpointIngress: the sources no rule admits (with the first address not covered).
    Sources {
        failing: Vec<(Source, IpAddr)>,
        unresolved: &'p [&'p str],
    },
    /// ClientEgress: the first destination address no rule lets out to.
    Destination {
        uncovered: IpAddr,
        unresolved: &'p [&'p str],
    },
}

/// `misses` (one per class, in the classes' order) grouped by equal miss, each with the ports of
/// its classes.
/// (An iterator, not a vector: this runs twice per client and destination.)
fn by_miss<'p>(
    classes: &[Ports],
    misses: impl IntoIterator<Item = Option<Miss<'p>>>,
) -> Vec<(Ports, Miss<'p>)> {
    let mut out: Vec<(Ports, Miss<'p>)> = Vec::new();
    for (class, miss) in classes.iter().zip(misses) {
        let Some(miss) = miss else { continue };
        match out.iter_mut().find(|(_, m)| *m == miss) {
            Some((ports, _)) => *ports = ports.union(class),
            None => out.push((class.clone(), miss)),
        }
    }
    out
}

/// `10.0.2.20 (secondary private IPv4)`, or for a prefix the first address that fails:
/// `10.0.2.48/28 (IPv4 prefix; 10.0.2.56 is not covered)`; the first few, then "and N more".
fn name_sources(out: &mut String, failing: &[(Source, IpAddr)]) {
    for (i, (source, first)) in failing.iter().take(NAMED_SOURCES).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if source.is_address() {
            source.push_named(out);
        } else {
            source.push_text(out);
            out.push_str(" (");
            out.push_str(source.kind.as_str());
            out.push_str("; ");
            push_ip(out, *first);
            out.push_str(" is not covered)");
        }
    }
    if failing.len() > NAMED_SOURCES {
        out.push_str(&format!(", and {} more", failing.len() - NAMED_SOURCES));
    }
}

fn ingress_miss<'p>(peers: &'p Peers<'_>, client: &Client<'_>, sources: &[Source]) -> Option<Miss<'p>> {
    if client.groups.iter().any(|g| peers.admits_group(g)) {
        return None;
    }
    let failing: Vec<(Source, IpAddr)> = sources
        .iter()
        .filter_map(|s| peers.addrs.first_uncovered(&s.range()).map(|first| (*s, first)))
        .collect();
    (!failing.is_empty()).then_some(Miss::Sources {
        failing,
        unresolved: &peers.unresolved_prefix_lists,
    })
}

fn egress_miss<'p>(target: &Target<'_, '_>, peers: &'p Peers<'_>) -> Option<Miss<'p>> {
    if target
        .dest
        .security_group_ids
        .iter()
        .any(|g| peers.admits_group(g))
    {
        return None;
    }
    let uncovered = peers.addrs.first_uncovered(&target.range)?;
    Some(Miss::Destination {
        uncovered,
        unresolved: &peers.unresolved_prefix_lists,
    })
}

/// The EndpointIngress blocks of one client and destination, one per distinct miss.
/// `client_groups` lists the client's groups for the sentence, made at the first block.
fn endpoint_ingress(
    index: &VpcIndex<'_>,
    target: &Target<'_, '_>,
    client: &Client<'_>,
    client_groups: &OnceCell<String>,
    sources: &[Source],
) -> Vec<Failure> {
    let misses = target
        .ingress
        .iter()
        .map(|peers| ingress_miss(peers, client, sources));
    by_miss(&index.port_classes, misses)
        .into_iter()
        .filter_map(|(ports, miss)| {
            let Miss::Sources { failing, unresolved } = miss else {
                return None;
            };
            // Pushed piece by piece: this sentence is written for most blocked clients.
            let groups = client_groups.get_or_init(|| list(&client.groups));
            let mut detail = String::with_capacity(160 + target.groups_text.len() + groups.len());
            detail.push_str("no ingress rule of the endpoint's security groups (");
            detail.push_str(&target.groups_text);
            detail.push_str(") allows tcp ");
            ports.push_text(&mut detail);
            detail.push_str(" from ");
            name_sources(&mut detail, &failing);
            detail.push_str(" or from its security groups (");
            detail.push_str(groups);
            detail.push(')');
            detail.push_str(&unresolved_note(unresolved));
            Some((ports, failing.into_iter().map(|(s, _)| s).collect(), detail))
        })
        .collect()
}

/// The ClientEgress blocks of one client and destination, one per distinct miss.
fn client_egress(
    index: &VpcIndex<'_>,
    target: &Target<'_, '_>,
    groups: &[&str],
    groups_text: &OnceCell<String>,
    undescribed: &[&str],
    peers: &[Peers<'_>],
) -> Vec<Failure> {
    let misses = peers.iter().map(|p| egress_miss(target, p));
    by_miss(&index.port_classes, misses)
        .into_iter()
        .filter_map(|(ports, miss)| {
            let Miss::Destination { uncovered, unresolved } = miss else {
                return None;
            };
            let to = if target.range.lo == target.range.hi {
                format!("to {}", target.range)
            } else {
                format!("to all of {} ({uncovered} is not covered)", target.range)
            };
            let mut detail = format!(
                "no egress rule of the client's security groups ({}) allows tcp {ports} {to} or to the endpoint's security groups ({}){}",
                groups_text.get_or_init(|| list(groups)),
                target.groups_text,
                unresolved_note(unresolved),
            );
            if !undescribed.is_empty() {
                // Read as allowing nothing, the safe reading, and said: a group missing from the
                // snapshot is unknown, not empty.
                detail.push_str(&format!(
                    "; the snapshot does not describe {}, so whether {} traffic is unknown",
                    list(undescribed),
                    if undescribed.len() == 1 {
                        "it allows this"
                    } else {
                        "they allow this"
                    }
                ));
            }
            Some((ports, Vec::new(), detail))
        })
        .collect()
}

/// The endpoint subnet's ACL for each source: every denial names the part of the source it
/// stops, so the sentence says which address fails.
///
/// `passing` holds the addresses the ACL lets through ([`nacl::endpoint_subnet_passing`]): a
/// source inside it passes without an evaluation.
fn endpoint_subnet_nacl(
    index: &VpcIndex<'_>,
    subnet_id: &str,
    passing: &AddrSet,
    sources: &[Source],
) -> Option<Failure> {
    let mut failing = Vec::new();
    let mut stopped = Ports::default();
    let mut details: Vec<String> = Vec::new();
    for source in sources
        .iter()
        .filter(|s| passing.first_uncovered(&s.range()).is_some())
    {
        if let Some((ports, detail)) = nacl::endpoint_subnet(index, subnet_id, source.range(), &index.ports) {
            failing.push(*source);
            stopped = stopped.union(&ports);
            // A missing ACL reads the same for every source: say it once.
            if details.last() != Some(&detail) {
                details.push(detail);
            }
        }
    }
    if failing.is_empty() {
        return None;
    }
    let more = details.len().saturating_sub(NAMED_SOURCES);
    details.truncate(NAMED_SOURCES);
    if more > 0 {
        details.push(format!("and {more} more of the client's addresses"));
    }
    Some((stopped, failing, details.join("; ")))
}

/// The client's sources that can go to a destination of `family`, or `None` when it never does.
fn sources_towards<'c>(
    client: &'c Client<'_>,
    family: Family,
    shares_a_family: bool,
) -> Option<Cow<'c, [Source]>> {
    let all = client.sources.as_slice();
    if all.iter().all(|s| s.family() == family) {
        return Some(Cow::Borrowed(all));
    }
    let same: Vec<Source> = all.iter().filter(|s| s.family() == family).copied().collect();
    match (same.is_empty(), shares_a_family) {
        (false, _) => Some(Cow::Owned(same)),
        (true, true) => None,
        (true, false) => Some(Cow::Borrowed(all)),
    }
}

/// Every client's verdict, in the clients' order.
pub fn verdicts<'a>(
    index: &VpcIndex<'a>,
    destinations: &[Destination],
    clients: &[Client<'a>],
) -> Vec<ClientVerdict> {
    let targets: Vec<Target<'_, 'a>> = destinations
        .iter()
        .map(|dest| Target {
            dest,
            range: AddrRange::of_net(&dest.net),
            ingress: union_of(index, &dest.security_group_ids, false),
            groups_text: list(&dest.security_group_ids),
        })
        .collect();

    let destination_has = |family: Family| targets.iter().any(|t| t.range.family == family);
    let families = [Family::V4, Family::V6].map(|f| (f, destination_has(f)));

    // What each endpoint subnet's ACL lets through, once per subnet rather than per client.
    let mut endpoint_nacl: HashMap<&str, AddrSet> = HashMap::default();
    for dest in destinations {
        endpoint_nacl
            .entry(dest.subnet_id.as_str())
            .or_insert_with(|| nacl::endpoint_subnet_passing(index, &dest.subnet_id, &index.ports));
    }

    let mut egress_by_groups: HashMap<&[&'a str], Vec<Peers<'a>>> = HashMap::default();
    let mut client_nacl: HashMap<(&str, usize), Option<(Ports, String)>> = HashMap::default();

    clients
        .iter()
        .map(|client| {
            let egress = egress_by_groups
                .entry(client.groups.as_slice())
                .or_insert_with(|| union_of(index, &client.groups, true));
            let undescribed: Vec<&str> = client
                .groups
                .iter()
                .copied()
                .filter(|g| !index.groups.contains_key(g))
                .collect();
            let subnet = client.eni.subnet_id.as_str();
            let shares_a_family = families
                .iter()
                .any(|&(f, at_destination)| at_destination && client.sources.iter().any(|s| s.family() == f));
            let mut blocks = Vec::new();
            let groups_text = OnceCell::new();
            for (i, target) in targets.iter().enumerate() {
                let Some(sources) = sources_towards(client, target.range.family, shares_a_family) else {
                    continue;
                };
                let dest = target.dest;
                let mut fail = |check: Check, failures: Vec<Failure>| {
                    for (ports, sources, detail) in failures {
                        blocks.push(Block {
                            check,
                            destination: dest.net,
                            ports,
                            sources,
                            detail,
                        });
                    }
                };
                fail(
                    Check::EndpointIngress,
                    endpoint_ingress(index, target, client, &groups_text, &sources),
                );
                fail(
                    Check::ClientEgress,
                    client_egress(index, target, &client.groups, &groups_text, &undescribed, egress),
                );
                if subnet != dest.subnet_id {
                    let client_side = client_nacl
                        .entry((subnet, i))
                        .or_insert_with(|| nacl::client_subnet(index, subnet, target.range, &index.ports));
                    fail(
                        Check::ClientSubnetNacl,
                        client_side
                            .clone()
                            .map(|(ports, detail)| (ports, Vec::new(), detail))
                            .into_iter()
                            .collect(),
                    );
                    fail(
                        Check::EndpointSubnetNacl,
                        endpoint_subnet_nacl(
                            index,
                            &dest.subnet_id,
                            &endpoint_nacl[dest.subnet_id.as_str()],
                            &sources,
                        )
                        .into_iter()
                        .collect(),
                    );
                }
            }
            ClientVerdict {
                network_interface_id: client.eni.network_interface_id.clone(),
                security_group_ids: client.groups.iter().map(|g| g.to_string()).collect(),
                subnet_id: client.eni.subnet_id.clone(),
                address: client.address,
                sources: client.sources.clone(),
                interface_type: client
                    .eni
                    .interface_type
                    .clone()
                    .unwrap_or_else(|| "interface".to_string()),
                owner_id: client.eni.owner_id.clone(),
                blocks,
                evidence: None,
            }
        })
        .collect()
}

/// The one source of a client outside the VPC: its address, as the query log gives it.
pub fn outside_source(address: IpAddr) -> Source {
    Source {
        net: ipnet::IpNet::from(address),
        kind: if address.is_ipv4() {
            super::SourceKind::PrimaryIpv4
        } else {
            super::SourceKind::Ipv6Address
        },
    }
}

/// The path of a client outside the VPC (its queries came through a Resolver inbound endpoint)
/// as far as AWS shows it: the endpoint's security groups must admit the spec's ports from its
/// address (no group of its own can be referenced), and each endpoint subnet's ACL must let them
/// in from it and the ephemeral ports back out. Its own firewall and routes are not in any
/// describe call: not checked, and not assumed either way.
pub fn outside_blocks(index: &VpcIndex<'_>, destinations: &[Destination], address: IpAddr) -> Vec<Block> {
    let range = AddrRange::of_addr(address);
    let source = outside_source(address);
    let mut blocks = Vec::new();
    for dest in destinations {
        let dest_range = AddrRange::of_net(&dest.net);
        if dest_range.family != range.family {
            continue;
        }
        let ingress = union_of(index, &dest.security_group_ids, false);
        let misses = ingress.iter().map(|peers| {
            peers.addrs.first_uncovered(&range).map(|first| Miss::Sources {
                failing: vec![(source, first)],
                unresolved: &peers.unresolved_prefix_lists,
            })
        });
        for (ports, miss) in by_miss(&index.port_classes, misses) {
            let Miss::Sources { unresolved, .. } = miss else {
                continue;
            };
            blocks.push(Block {
                check: Check::EndpointIngress,
                destination: dest.net,
                ports: ports.clone(),
                sources: vec![source],
                detail: format!(
                    "no ingress rule of the endpoint's security groups ({}) allows tcp {ports} from {address} (outside the VPC, through a Resolver inbound endpoint){}",
                    list(&dest.security_group_ids),
                    unresolved_note(unresolved)
                ),
            });
        }
        if let Some((ports, detail)) = nacl::endpoint_subnet(index, &dest.subnet_id, range, &index.ports) {
            blocks.push(Block {
                check: Check::EndpointSubnetNacl,
                destination: dest.net,
                ports,
                sources: vec![source],
                detail,
            });
        }
    }
    blocks
}
