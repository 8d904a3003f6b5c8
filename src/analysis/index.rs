//! An indexed view of a [`Snapshot`], built once per analysis: lookups by id, every CIDR
//! parsed, and each security group reduced to what it allows on the spec's ports.
//!
//! The ports are split into classes ([`VpcIndex::port_classes`]): ports no security-group rule
//! of the snapshot tells apart (no rule's range starts or ends between them) are one class, and
//! each group is reduced once per class, not once per port. `[443]` is one class; so is
//! `8080-8082` unless some rule covers part of it.
//!
//! Everything the checks read goes through here, so that a VPC with 20,000 ENIs costs a hash
//! lookup per ENI instead of a scan of every rule. Malformed addresses are found here, once,
//! and reported as [`AnalysisError::InvalidAddress`] naming where they are.

use std::net::IpAddr;

use ipnet::IpNet;

use super::AnalysisError;
use super::addr::{AddrRange, AddrSet, parse_net};
use super::hash::{HashMap, map_with_capacity};
use super::ports::Ports;
use crate::model::{
    IpPermission, NetworkAcl, NetworkAclEntry, NetworkInterface, Protocol, SecurityGroup, Snapshot, Subnet,
};

/// What one direction of one or more security groups allows on one class of ports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peers<'a> {
    /// CIDRs and prefix-list entries, merged.
    pub addrs: AddrSet,
    /// Referenced security groups, sorted, without duplicates.
    pub groups: Vec<&'a str>,
    /// Referenced prefix lists whose entries the snapshot lacks (treated as empty).
    pub unresolved_prefix_lists: Vec<&'a str>,
}

impl<'a> Peers<'a> {
    /// The union of several groups' peers: security group rules only ever add up.
    pub fn union<'p>(parts: impl IntoIterator<Item = &'p Peers<'a>> + Clone) -> Peers<'a>
    where
        'a: 'p,
    {
        let addrs = AddrSet::union(parts.clone().into_iter().map(|p| &p.addrs));
        let mut groups: Vec<&'a str> = Vec::new();
        let mut unresolved: Vec<&'a str> = Vec::new();
        for p in parts {
            groups.extend(&p.groups);
            unresolved.extend(&p.unresolved_prefix_lists);
        }
        groups.sort_unstable();
        groups.dedup();
        unresolved.sort_unstable();
        unresolved.dedup();
        Peers {
            addrs,
            groups,
            unresolved_prefix_lists: unresolved,
        }
    }

    pub fn admits_group(&self, group_id: &str) -> bool {
        self.groups.binary_search(&group_id).is_ok()
    }
}

/// A security group with what it allows each way, per class of ports (in the order of
/// [`VpcIndex::port_classes`]).
#[derive(Debug)]
pub struct GroupView<'a> {
    pub group: &'a SecurityGroup,
    pub ingress: Vec<Peers<'a>>,
    pub egress: Vec<Peers<'a>>,
    /// The rules each way, as EC2 counts them against its quota.
    pub ingress_rules: RuleCount,
    pub egress_rules: RuleCount,
}

impl GroupView<'_> {
    /// How many more rules referring to a group (which count as IPv4 and IPv6 rules both) EC2
    /// accepts on this group in `direction` under [`super::RULES_PER_SECURITY_GROUP`].
    pub fn room(&self, direction: super::Direction) -> usize {
        let count = match direction {
            super::Direction::Ingress => self.ingress_rules,
            super::Direction::Egress => self.egress_rules,
        };
        super::RULES_PER_SECURITY_GROUP.saturating_sub(count.ipv4.max(count.ipv6)) as usize
    }
}

/// Rules of one direction of a group as EC2 counts them against the rules-per-group quota,
/// which it enforces separately for IPv4 and IPv6: a CIDR counts in its family, a reference to
/// a group in both, a prefix list as many as its maximum entries in its family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleCount {
    pub ipv4: u32,
    pub ipv6: u32,
}

fn rule_count(permissions: &[IpPermission], prefix_list_weight: &HashMap<&str, (u32, bool)>) -> RuleCount {
    let mut count = RuleCount::default();
    for p in permissions {
        let groups = p.user_id_group_pairs.len() as u32;
        count.ipv4 += p.ip_ranges.len() as u32 + groups;
        count.ipv6 += p.ipv6_ranges.len() as u32 + groups;
        for pl in &p.prefix_list_ids {
            match prefix_list_weight.get(pl.prefix_list_id.as_str()) {
                Some(&(weight, true)) => count.ipv6 += weight,
                Some(&(weight, false)) => count.ipv4 += weight,
                None => count.ipv4 += 1,
            }
        }
    }
    count
}

/// Prefix list id → how many rules a reference to it counts for (its maximum entries, else its
/// entries, at least one) and whether it is IPv6.
fn prefix_list_weights(snapshot: &Snapshot) -> HashMap<&str, (u32, bool)> {
    let mut weights: HashMap<&str, (u32, bool)> = snapshot
        .prefix_list_entries
        .iter()
        .map(|(id, entries)| (id.as_str(), ((entries.len() as u32).max(1), false)))
        .collect();
    for list in &snapshot.prefix_lists {
        let ipv6 = list
            .address_family
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case("ipv6"));
        let entry = weights.entry(list.prefix_list_id.as_str()).or_insert((1, ipv6));
        entry.1 = ipv6;
        if let Some(max) = list.max_entries.and_then(|n| u32::try_from(n).ok()) {
            entry.0 = max.max(1);
        }
    }
    weights
}

/// A subnet and its parsed CIDRs (IPv4 first, then IPv6).
#[derive(Debug)]
pub struct SubnetView<'a> {
    pub subnet: &'a Subnet,
    pub nets: Vec<IpNet>,
}

/// One NACL entry that applies to TCP, with its CIDR and port range resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NaclRule {
    pub number: i32,
    pub allow: bool,
    pub range: AddrRange,
    /// Inclusive; every port for protocol `-1`.
    pub ports: (u16, u16),
}

/// A network ACL with its TCP entries split by direction, in rule-number order.
#[derive(Debug)]
pub struct NaclView<'a> {
    pub acl: &'a NetworkAcl,
    pub inbound: Vec<NaclRule>,
    pub outbound: Vec<NaclRule>,
}

/// The snapshot, indexed for one VPC.
#[derive(Debug)]
pub struct VpcIndex<'a> {
    pub snapshot: &'a Snapshot,
    pub vpc_id: &'a str,
    pub subnets: HashMap<&'a str, SubnetView<'a>>,
    pub groups: HashMap<&'a str, GroupView<'a>>,
    pub interfaces: HashMap<&'a str, &'a NetworkInterface>,
    pub nacls: Vec<NaclView<'a>>,
    /// The spec's ports, split into the classes the security groups treat alike; ascending by
    /// first port, never empty for a non-empty spec.
    pub port_classes: Vec<Ports>,
    /// The spec's ports, all of them.
    pub ports: Ports,
    nacl_by_subnet: HashMap<&'a str, usize>,
    default_nacl: Option<usize>,
}

impl<'a> VpcIndex<'a> {
    pub fn build(
        snapshot: &'a Snapshot,
        vpc_id: &'a str,
        ports: &Ports,
    ) -> Result<VpcIndex<'a>, AnalysisError> {
        // A snapshot file was checked when read; a live observation is checked here, so both
        // are held to the same rules (and the ACL order below is well defined).
        snapshot.check().map_err(|e| match e {
            crate::model::SnapshotError::Invalid { path, message } => {
                AnalysisError::InvalidObservation { path, message }
            }
            other => AnalysisError::InvalidObservation {
                path: "$".into(),
                message: other.to_string(),
            },
        })?;
        let prefix_lists = prefix_lists(snapshot)?;

        let mut subnets = map_with_capacity(snapshot.subnets.len());
        for subnet in &snapshot.subnets {
            subnets.insert(subnet.subnet_id.as_str(), subnet_view(subnet)?);
        }

        let weights = prefix_list_weights(snapshot);
        let port_classes = port_classes(snapshot, ports);
        let mut groups = map_with_capacity(snapshot.security_groups.len());
        for group in &snapshot.security_groups {
            let mut view = GroupView {
                group,
                ingress: Vec::with_capacity(port_classes.len()),
                egress: Vec::with_capacity(port_classes.len()),
                ingress_rules: rule_count(&group.ip_permissions, &weights),
                egress_rules: rule_count(&group.ip_permissions_egress, &weights),
            };
            for class in &port_classes {
                // Every port of a class is allowed by the same rules: its first one stands for all.
                let port = class.first().unwrap_or_default();
                view.ingress.push(peers(
                    group,
                    "ingress",
                    &group.ip_permissions,
                    &prefix_lists,
                    port,
                )?);
                view.egress.push(peers(
                    group,
                    "egress",
                    &group.ip_permissions_egress,
                    &prefix_lists,
                    port,
                )?);
            }
            groups.insert(group.group_id.as_str(), view);
        }

        let interfaces = snapshot
            .network_interfaces
            .iter()
            .map(|eni| (eni.network_interface_id.as_str(), eni))
            .collect();

        // Only this VPC's ACLs: a subnet can only be associated with an ACL of its own VPC,
        // and the default ACL must be this VPC's.
        let mut acls: Vec<&NetworkAcl> = snapshot
            .network_acls
            .iter()
            .filter(|a| a.vpc_id == vpc_id)
            .collect();
        acls.sort_by(|a, b| a.network_acl_id.cmp(&b.network_acl_id));
        let mut nacls = Vec::with_capacity(acls.len());
        let mut nacl_by_subnet = HashMap::default();
        let mut default_nacl = None;
        for (i, acl) in acls.into_iter().enumerate() {
            nacls.push(nacl_view(acl)?);
            for assoc in &acl.associations {
                // EC2 allows one association per subnet; should a snapshot hold two, the
                // first ACL by id wins, deterministically.
                nacl_by_subnet.entry(assoc.subnet_id.as_str()).or_insert(i);
            }
            if acl.is_default && default_nacl.is_none() {
                default_nacl = Some(i);
            }
        }

        Ok(VpcIndex {
            snapshot,
            vpc_id,
            subnets,
            groups,
            interfaces,
            nacls,
            port_classes,
            ports: ports.clone(),
            nacl_by_subnet,
            default_nacl,
        })
    }

    /// The ACL guarding `subnet_id`: its explicit association, else the VPC's default ACL.
    /// `None` when the snapshot holds neither (every subnet has one in AWS, so the snapshot is
    /// incomplete; the checks then fail rather than assume the traffic passes).
    pub fn nacl_for_subnet(&self, subnet_id: &str) -> Option<&NaclView<'a>> {
        self.nacl_by_subnet
            .get(subnet_id)
            .copied()
            .or(self.default_nacl)
            .map(|i| &self.nacls[i])
    }

    pub fn vpc_exists(&self) -> bool {
        self.snapshot.vpcs.iter().any(|v| v.vpc_id == self.vpc_id)
    }
}

/// The address an ENI's traffic comes from: the primary private IPv4, else the first IPv6.
/// `Ok(None)` when it has no address at all (e.g. an `efa-only` interface).
pub fn primary_address(eni: &NetworkInterface) -> Result<Option<IpAddr>, AnalysisError> {
    let text = eni
        .private_ip_address
        .as_deref()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let primary = eni.private_ip_addresses.iter().find(|a| a.primary == Some(true));
            primary
                .or(eni.private_ip_addresses.first())
                .map(|a| a.private_ip_address.as_str())
        })
        .or_else(|| eni.ipv6_addresses.first().map(|a| a.ipv6_address.as_str()));
    let Some(text) = text else {
        return Ok(None);
    };
    text.trim()
        .parse()
        .map(Some)
        .map_err(|_| AnalysisError::InvalidAddress {
            what: format!("network interface {}", eni.network_interface_id),
            value: text.to_string(),
        })
}

fn subnet_view(subnet: &Subnet) -> Result<SubnetView<'_>, AnalysisError> {
    let texts = subnet.cidr_block.iter().chain(
        subnet
            .ipv6_cidr_block_association_set
            .iter()
            .map(|a| &a.ipv6_cidr_block),
    );
    let mut nets = Vec::new();
    for text in texts.filter(|t| !t.is_empty()) {
        nets.push(parse_net(text).ok_or_else(|| AnalysisError::InvalidAddress {
            what: format!("subnet {}", subnet.subnet_id),
            value: text.clone(),
        })?);
    }
    Ok(SubnetView { subnet, nets })
}

/// Prefix list id → its entries, merged.
fn prefix_lists(snapshot: &Snapshot) -> Result<HashMap<&str, AddrSet>, AnalysisError> {
    let mut lists = map_with_capacity(snapshot.prefix_list_entries.len());
    for (id, entries) in &snapshot.prefix_list_entries {
        let mut ranges = Vec::with_capacity(entries.len());
        for entry in entries {
            let net = parse_net(&entry.cidr).ok_or_else(|| AnalysisError::InvalidAddress {
                what: format!("prefix list {id}"),
                value: entry.cidr.clone(),
            })?;
            ranges.push(AddrRange::of_net(&net));
        }
        lists.insert(id.as_str(), AddrSet::from_ranges(ranges));
    }
    Ok(lists)
}

/// The TCP ports a permission covers, inclusive. Protocol `-1` covers every port whatever the
/// ports say; a TCP rule without ports (or with -1) is read as every port. `None` for other
/// protocols.
fn tcp_ports(p: &IpPermission) -> Option<(i32, i32)> {
    match p.ip_protocol {
        Protocol::All => Some((0, 65535)),
        Protocol::Tcp => Some((
            p.from_port.filter(|&f| f >= 0).unwrap_or(0),
            p.to_port.filter(|&t| t >= 0).unwrap_or(65535),
        )),
        _ => None,
    }
}

fn allows(p: &IpPermission, port: u16) -> bool {
    tcp_ports(p).is_some_and(|(from, to)| from <= i32::from(port) && i32::from(port) <= to)
}

/// `ports` split into classes no TCP rule of any security group in the snapshot tells apart: a
/// port's class is the stretch between two consecutive rule boundaries (a rule's first port,
/// and the one after its last) it falls in.
fn port_classes(snapshot: &Snapshot, ports: &Ports) -> Vec<Ports> {
    if ports.len() <= 1 {
        return vec![ports.clone()];
    }
    let mut boundaries: Vec<i32> = snapshot
        .security_groups
        .iter()
        .flat_map(|g| g.ip_permissions.iter().chain(&g.ip_permissions_egress))
        .filter_map(tcp_ports)
        .flat_map(|(from, to)| [from, to.saturating_add(1)])
        .collect();
    boundaries.sort_unstable();
    boundaries.dedup();
    // Ports ascend, so a stretch's ports come one after the other.
    let mut classes: Vec<(usize, Vec<u16>)> = Vec::new();
    for port in ports.iter() {
        let stretch = boundaries.partition_point(|&b| b <= i32::from(port));
        match classes.last_mut().filter(|(s, _)| *s == stretch) {
            Some((_, members)) => members.push(port),
            None => classes.push((stretch, vec![port])),
        }
    }
    classes
        .into_iter()
        .map(|(_, members)| Ports::new(members))
        .collect()
}

/// What `permissions` allow on `port`.
fn peers<'a>(
    group: &'a SecurityGroup,
    direction: &str,
    permissions: &'a [IpPermission],
    prefix_lists: &HashMap<&str, AddrSet>,
    port: u16,
) -> Result<Peers<'a>, AnalysisError> {
    let mut ranges = Vec::new();
    let mut sets: Vec<&AddrSet> = Vec::new();
    let mut groups = Vec::new();
    let mut unresolved = Vec::new();
    for p in permissions.iter().filter(|p| allows(p, port)) {
        let cidrs = p
            .ip_ranges
            .iter()
            .map(|r| &r.cidr_ip)
            .chain(p.ipv6_ranges.iter().map(|r| &r.cidr_ipv6));
        for text in cidrs {
            let net = parse_net(text).ok_or_else(|| AnalysisError::InvalidAddress {
                what: format!("security group {} {direction} rule", group.group_id),
                value: text.clone(),
            })?;
            ranges.push(AddrRange::of_net(&net));
        }
        for pl in &p.prefix_list_ids {
            match prefix_lists.get(pl.prefix_list_id.as_str()) {
                Some(set) => sets.push(set),
                None => unresolved.push(pl.prefix_list_id.as_str()),
            }
        }
        groups.extend(p.user_id_group_pairs.iter().map(|g| g.group_id.as_str()));
    }
    let own = AddrSet::from_ranges(ranges);
    let addrs = AddrSet::union(sets.into_iter().chain([&own]));
    groups.sort_unstable();
    groups.dedup();
    unresolved.sort_unstable();
    unresolved.dedup();
    Ok(Peers {
        addrs,
        groups,
        unresolved_prefix_lists: unresolved,
    })
}

fn nacl_view(acl: &NetworkAcl) -> Result<NaclView<'_>, AnalysisError> {
    let mut inbound = Vec::new();
    let mut outbound = Vec::new();
    for entry in &acl.entries {
        if !entry.protocol.covers_tcp() {
            continue;
        }
        let Some(ports) = nacl_ports(entry) else {
            continue;
        };
        let rules = if entry.egress { &mut outbound } else { &mut inbound };
        for text in entry.cidr_block.iter().chain(&entry.ipv6_cidr_block) {
            let net = parse_net(text).ok_or_else(|| AnalysisError::InvalidAddress {
                what: format!("network ACL {} rule {}", acl.network_acl_id, entry.rule_number),
                value: text.clone(),
            })?;
            rules.push(NaclRule {
                number: entry.rule_number,
                // Anything but `allow` is read as deny: the safe reading of a value we do not know.
                allow: entry.rule_action.eq_ignore_ascii_case("allow"),
                range: AddrRange::of_net(&net),
                ports,
            });
        }
    }
    // First match wins in ascending rule-number order. Equal numbers in one direction are
    // refused by `Snapshot::check`, except the default entries (32767, one per family), which
    // all deny: their order does not matter.
    inbound.sort_by_key(|r| r.number);
    outbound.sort_by_key(|r| r.number);
    Ok(NaclView {
        acl,
        inbound,
        outbound,
    })
}

/// The entry's TCP port range; every port for `-1` or when absent. `None` when empty.
fn nacl_ports(entry: &NetworkAclEntry) -> Option<(u16, u16)> {
    let all = (0, u16::MAX);
    if entry.protocol == Protocol::All {
        return Some(all);
    }
    let Some(range) = &entry.port_range else {
        return Some(all);
    };
    let clamp = |p: i32| p.clamp(0, i32::from(u16::MAX)) as u16;
    let (from, to) = (clamp(range.from), clamp(range.to));
    (from <= to).then_some((from, to))
}
