//! Reachability: for every client and every destination, the four checks of a tcp/443
//! connection, each failure kept with a sentence saying what to change.
//!
//! - EndpointIngress: some ingress rule of some endpoint security group allows tcp/443 from the
//!   client: a CIDR or prefix list containing its address, or a reference to one of its groups.
//! - ClientEgress: the client's groups' egress rules allow tcp/443 to the whole destination
//!   (CIDRs and prefix lists together covering every address of it), or one refers to an
//!   endpoint security group.
//! - ClientSubnetNacl / EndpointSubnetNacl: see [`super::nacl`]; skipped when client and
//!   destination share a subnet, since traffic inside a subnet never crosses its ACL.
//!
//! Security groups are stateful, so return traffic needs no rule; ACLs are not.
//!
//! Work is shared where the answer does not depend on the client itself: clients with the same
//! groups share one egress union, and clients of one subnet share the client-side ACL result.

use std::collections::HashMap;

use super::addr::AddrRange;
use super::clients::Client;
use super::index::{HttpsPeers, VpcIndex};
use super::{Block, Check, ClientVerdict, Destination, nacl};

/// A destination with what its security groups admit.
struct Target<'d, 'a> {
    dest: &'d Destination,
    range: AddrRange,
    ingress: HttpsPeers<'a>,
}

/// "sg-a, sg-b", or "none".
fn list(ids: &[impl AsRef<str>]) -> String {
    if ids.is_empty() {
        return "none".to_string();
    }
    ids.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", ")
}

fn unresolved_note(peers: &HttpsPeers<'_>) -> String {
    if peers.unresolved_prefix_lists.is_empty() {
        String::new()
    } else {
        format!(
            " (prefix lists {} have no entries in the snapshot and were read as empty)",
            list(&peers.unresolved_prefix_lists)
        )
    }
}

fn union_of<'a>(index: &VpcIndex<'a>, groups: &[impl AsRef<str>], egress: bool) -> HttpsPeers<'a> {
    let parts: Vec<&HttpsPeers<'a>> = groups
        .iter()
        .filter_map(|g| index.groups.get(g.as_ref()))
        .map(|v| if egress { &v.egress } else { &v.ingress })
        .collect();
    HttpsPeers::union(parts)
}

fn endpoint_ingress(target: &Target<'_, '_>, client: &Client<'_>) -> Option<String> {
    let peers = &target.ingress;
    if client.groups.iter().any(|g| peers.admits_group(g)) || peers.addrs.contains(client.address) {
        return None;
    }
    Some(format!(
        "no ingress rule of the endpoint's security groups ({}) allows tcp 443 from {} or from its security groups ({}){}",
        list(&target.dest.security_group_ids),
        client.address,
        list(&client.groups),
        unresolved_note(peers),
    ))
}

fn client_egress(target: &Target<'_, '_>, groups: &[&str], peers: &HttpsPeers<'_>) -> Option<String> {
    let dest = target.dest;
    if dest.security_group_ids.iter().any(|g| peers.admits_group(g)) {
        return None;
    }
    let uncovered = peers.addrs.first_uncovered(&target.range)?;
    let to = if target.range.lo == target.range.hi {
        format!("to {}", target.range)
    } else {
        format!("to all of {} ({uncovered} is not covered)", target.range)
    };
    Some(format!(
        "no egress rule of the client's security groups ({}) allows tcp 443 {to} or to the endpoint's security groups ({}){}",
        list(groups),
        list(&dest.security_group_ids),
        unresolved_note(peers),
    ))
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
        })
        .collect();

    let mut egress_by_groups: HashMap<&[&'a str], HttpsPeers<'a>> = HashMap::new();
    let mut client_nacl: HashMap<(&str, usize), Option<String>> = HashMap::new();

    clients
        .iter()
        .map(|client| {
            let egress = egress_by_groups
                .entry(client.groups.as_slice())
                .or_insert_with(|| union_of(index, &client.groups, true));
            let subnet = client.eni.subnet_id.as_str();
            let own = AddrRange::of_addr(client.address);
            let mut blocks = Vec::new();
            for (i, target) in targets.iter().enumerate() {
                let dest = target.dest;
                let mut fail = |check: Check, detail: Option<String>| {
                    if let Some(detail) = detail {
                        blocks.push(Block {
                            check,
                            destination: dest.net,
                            detail,
                        });
                    }
                };
                fail(Check::EndpointIngress, endpoint_ingress(target, client));
                fail(Check::ClientEgress, client_egress(target, &client.groups, egress));
                if subnet != dest.subnet_id {
                    let client_side = client_nacl
                        .entry((subnet, i))
                        .or_insert_with(|| nacl::client_subnet(index, subnet, target.range));
                    fail(Check::ClientSubnetNacl, client_side.clone());
                    fail(
                        Check::EndpointSubnetNacl,
                        nacl::endpoint_subnet(index, &dest.subnet_id, own),
                    );
                }
            }
            ClientVerdict {
                network_interface_id: client.eni.network_interface_id.clone(),
                security_group_ids: client.groups.iter().map(|g| g.to_string()).collect(),
                subnet_id: client.eni.subnet_id.clone(),
                address: client.address,
                interface_type: client
                    .eni
                    .interface_type
                    .clone()
                    .unwrap_or_else(|| "interface".to_string()),
                blocks,
            }
        })
        .collect()
}
