//! The endpoint side: does the spec fit the VPC, which endpoint is this object's, and where must
//! clients get to ([`Destination`]s).
//!
//! Once the endpoint exists, the destinations are its ENIs' addresses (the primary IPv4 address,
//! and the IPv6 addresses of a dual-stack endpoint), guarded by its observed security groups. Before that (or for a subnet whose endpoint ENI the snapshot does not show,
//! e.g. while the endpoint is `pending`), the destination is the whole subnet CIDR: the ENI will
//! get some address in it, so a path that works for every address in the subnet works for the
//! ENI. The check can be stricter than needed, never looser.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;

use super::index::{VpcIndex, primary_address};
use super::sources::{self, SourceKind};
use super::{AnalysisError, Destination};
use crate::api::{DnsOptions, DnsRecordIpType, InterfaceEndpointSpec, IpAddressType, OWNER_TAG, Owner};
use crate::model::{Snapshot, VpcEndpoint, tag_pairs};

/// Checks the spec against what the service says of itself, when the world holds its
/// description (a snapshot without it is not checked: EC2 still refuses the create): a policy
/// only for a service that supports endpoint policies.
pub fn validate_service(spec: &InterfaceEndpointSpec, snapshot: &Snapshot) -> Result<(), AnalysisError> {
    let Some(service) = snapshot
        .service_details
        .iter()
        .find(|s| s.service_name == spec.service_name)
    else {
        return Ok(());
    };
    if spec.policy.is_some() && service.vpc_endpoint_policy_supported == Some(false) {
        return Err(AnalysisError::PolicyNotSupported {
            service: spec.service_name.clone(),
        });
    }
    Ok(())
}

/// A service in another region (`spec.serviceRegion`) that the observed world does not list as
/// offered from there: the problem, for an invalid spec. Only for a world observed with the
/// service's region asked for (the controller's, live `plan`): EC2 lists a service of another
/// region only to the regions it offers access to, so its absence means it offers none to this
/// one (or does not exist there). A snapshot file without `ServiceDetails` says nothing.
pub fn service_region_problem(spec: &InterfaceEndpointSpec, snapshot: &Snapshot) -> Option<String> {
    let region = spec.service_region.as_deref()?;
    if snapshot.vpcs.is_empty() {
        return None;
    }
    let offered = snapshot.service_details.iter().any(|s| {
        s.service_name == spec.service_name && s.service_region.as_deref().is_none_or(|r| r == region)
    });
    (!offered).then(|| {
        format!(
            "spec.serviceRegion: {} is not offered from {region} to this VPC's region \
             (DescribeVpcEndpointServices with ServiceRegions {region} does not list it): the service \
             does not offer cross-region access to this region, or does not exist in {region}",
            spec.service_name
        )
    })
}

/// Checks the spec against the world: the VPC exists, the subnets and security groups exist
/// and are in it.
pub fn validate_spec(spec: &InterfaceEndpointSpec, index: &VpcIndex<'_>) -> Result<(), AnalysisError> {
    if !index.vpc_exists() {
        return Err(AnalysisError::VpcNotFound(spec.vpc_id.clone()));
    }
    if spec.subnet_ids.is_empty() {
        return Err(AnalysisError::NoSubnets);
    }
    if spec.security_group_ids.is_empty() {
        return Err(AnalysisError::NoSecurityGroups);
    }
    for id in &spec.subnet_ids {
        let view = index
            .subnets
            .get(id.as_str())
            .ok_or_else(|| AnalysisError::SubnetNotFound(id.clone()))?;
        if view.subnet.vpc_id != spec.vpc_id {
            return Err(AnalysisError::SubnetInOtherVpc {
                subnet: id.clone(),
                vpc: spec.vpc_id.clone(),
                actual: view.subnet.vpc_id.clone(),
            });
        }
    }
    if let Some(addresses) = spec.ip_address_type {
        for id in &spec.subnet_ids {
            if let Some(lack) = address_type_misfit(addresses, index.subnets[id.as_str()].subnet) {
                return Err(AnalysisError::SubnetUnfitForAddressType {
                    subnet: id.clone(),
                    address_type: addresses.as_str(),
                    lack,
                });
            }
        }
    }
    // At most one subnet per zone: EC2 refuses the create (or the modify) otherwise.
    let mut zones: BTreeMap<&str, &str> = BTreeMap::new();
    for id in &spec.subnet_ids {
        let subnet = index.subnets[id.as_str()].subnet;
        let zone = subnet
            .availability_zone_id
            .as_deref()
            .or(subnet.availability_zone.as_deref());
        if let Some(zone) = zone
            && let Some(first) = zones.insert(zone, id)
        {
            return Err(AnalysisError::SubnetsShareZone {
                first: first.to_string(),
                second: id.clone(),
                zone: zone.to_string(),
            });
        }
    }
    for id in &spec.security_group_ids {
        let view = index
            .groups
            .get(id.as_str())
            .ok_or_else(|| AnalysisError::SecurityGroupNotFound(id.clone()))?;
        // `VpcId` is absent only for EC2-Classic groups, which no VPC endpoint can use.
        let actual = view.group.vpc_id.as_deref().unwrap_or("no VPC");
        if actual != spec.vpc_id {
            return Err(AnalysisError::SecurityGroupInOtherVpc {
                group: id.clone(),
                vpc: spec.vpc_id.clone(),
                actual: actual.to_string(),
            });
        }
    }
    Ok(())
}

/// Checks the addresses `spec.subnetConfigurations` names as EC2 would when it creates the
/// interfaces: each inside its subnet's CIDR block of its family, not one of the five addresses
/// AWS reserves in every subnet CIDR (the first four and the last), and not used by another ENI
/// of the snapshot (an address, secondary address or delegated prefix). The endpoint's own
/// interfaces do not count: an address it already has is the one asked for.
pub fn validate_fixed_addresses(
    spec: &InterfaceEndpointSpec,
    endpoint: Option<&VpcEndpoint>,
    index: &VpcIndex<'_>,
) -> Result<(), AnalysisError> {
    let own: BTreeSet<&str> = endpoint
        .map(|e| e.network_interface_ids.iter().map(String::as_str).collect())
        .unwrap_or_default();
    for config in &spec.subnet_configurations {
        let Some(view) = index.subnets.get(config.subnet_id.as_str()) else {
            continue; // not in spec.subnetIds: api::validation reports it
        };
        for address in config.addresses() {
            let unusable = |why: String| AnalysisError::SubnetAddressUnusable {
                subnet: config.subnet_id.clone(),
                address: address.to_string(),
                why,
            };
            let family: Vec<&IpNet> = view
                .nets
                .iter()
                .filter(|n| matches!(n, IpNet::V6(_)) == address.is_ipv6())
                .collect();
            let Some(net) = family.iter().find(|n| n.contains(&address)) else {
                let blocks = family.iter().map(|n| n.to_string()).collect::<Vec<_>>();
                return Err(unusable(if blocks.is_empty() {
                    format!(
                        "has no {} CIDR block",
                        if address.is_ipv6() { "IPv6" } else { "IPv4" }
                    )
                } else {
                    format!("is not inside its CIDR block {}", blocks.join(", "))
                }));
            };
            if reserved_by_aws(net, address) {
                return Err(unusable(format!(
                    "is one of the five addresses AWS reserves in {net} (the first four and the last)"
                )));
            }
            let user = index
                .interfaces
                .values()
                .filter(|n| n.subnet_id == config.subnet_id && !own.contains(n.network_interface_id.as_str()))
                .find_map(|n| {
                    let sources = sources::of(n).ok()?;
                    let source = sources.iter().find(|s| s.net.contains(&address))?;
                    Some(format!("{} ({})", n.network_interface_id, source.kind.as_str()))
                });
            if let Some(user) = user {
                return Err(unusable(format!("is in use by {user}")));
            }
        }
    }
    Ok(())
}

/// The first four addresses and the last of a subnet CIDR block, which AWS keeps (network,
/// router, DNS, future use, broadcast; the same for IPv6 blocks).
fn reserved_by_aws(net: &IpNet, address: std::net::IpAddr) -> bool {
    let offset = |base: u128, last: u128, a: u128| a - base < 4 || a == last;
    match (net, address) {
        (IpNet::V4(n), std::net::IpAddr::V4(a)) => offset(
            u32::from(n.network()).into(),
            u32::from(n.broadcast()).into(),
            u32::from(a).into(),
        ),
        (IpNet::V6(n), std::net::IpAddr::V6(a)) => {
            offset(u128::from(n.network()), u128::from(n.broadcast()), u128::from(a))
        }
        _ => false,
    }
}

/// The address `spec.subnetConfigurations` fixes for the subnet's new endpoint interface in
/// `net`'s family, as a one-address net.
fn fixed_address(spec: &InterfaceEndpointSpec, subnet_id: &str, v6: bool) -> Option<IpNet> {
    let config = spec
        .subnet_configurations
        .iter()
        .find(|c| c.subnet_id == subnet_id)?;
    config.addresses().find(|a| a.is_ipv6() == v6).map(IpNet::from)
}

/// What keeps EC2 from giving an endpoint interface in `subnet` addresses of `addresses`, as
/// EC2 documents it: IPv4 addresses need an IPv4 CIDR, IPv6 ones an IPv6 CIDR, and `ipv6` an
/// IPv6-only subnet (no IPv4 CIDR). `None` when the subnet fits.
pub fn address_type_misfit(addresses: IpAddressType, subnet: &crate::model::Subnet) -> Option<String> {
    let v4 = subnet.cidr_block.as_deref().filter(|c| !c.is_empty());
    let v6 = !subnet.ipv6_cidr_block_association_set.is_empty();
    match addresses {
        IpAddressType::Ipv4 | IpAddressType::Dualstack if v4.is_none() => {
            Some("has no IPv4 CIDR block".into())
        }
        IpAddressType::Dualstack | IpAddressType::Ipv6 if !v6 => Some("has no IPv6 CIDR block".into()),
        IpAddressType::Ipv6 => v4.map(|c| format!("is not IPv6-only (it has the IPv4 CIDR block {c})")),
        _ => None,
    }
}

/// Whether private DNS answers only queries through a Resolver inbound endpoint, so clients
/// in the VPC are not redirected: as the endpoint reports it once private DNS is on (a spec
/// change of it is checked in the world as specified, where the endpoint carries the new value),
/// as the spec asks before (it is set with the request that turns private DNS on).
pub fn inbound_only(spec: &InterfaceEndpointSpec, endpoint: Option<&VpcEndpoint>) -> bool {
    match endpoint {
        Some(e) if e.private_dns_enabled => {
            e.dns_options
                .as_ref()
                .and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint)
                == Some(true)
        }
        _ => spec.private_dns.enabled && DnsOptions::inbound_only(spec.dns_options.as_ref()),
    }
}

/// The VPC's gateway endpoint for the spec's service (`VpcEndpointType` `Gateway`, as the
/// VPC's DescribeVpcEndpoints lists it), available or being created: the one clients in the
/// VPC go through when `privateDnsOnlyForInboundResolverEndpoint` is true.
pub fn gateway_endpoint<'a>(spec: &InterfaceEndpointSpec, snapshot: &'a Snapshot) -> Option<&'a VpcEndpoint> {
    snapshot.vpc_endpoints.iter().find(|e| {
        e.vpc_id == spec.vpc_id
            && e.service_name == spec.service_name
            && e.vpc_endpoint_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("gateway"))
            && matches!(e.state_lower().as_str(), "available" | "pending")
    })
}

/// Whether `spec.adopt` names the endpoint.
fn adopted(spec: &InterfaceEndpointSpec, endpoint: &VpcEndpoint) -> bool {
    spec.adopt
        .as_ref()
        .is_some_and(|a| a.vpc_endpoint_id == endpoint.vpc_endpoint_id)
}

/// Whether the endpoint carries this object's ownership tags: both the owner and the UID tag,
/// or the owner tag alone when the UID is empty (an offline `plan` of a manifest that was never
/// applied, so has no UID).
fn is_owned(endpoint: &VpcEndpoint, owner: &Owner) -> bool {
    if owner.uid.is_empty() {
        let want = owner.owner_tag();
        tag_pairs(&endpoint.tags).any(|(k, v)| k == OWNER_TAG && v == want)
    } else {
        owner.owns(tag_pairs(&endpoint.tags))
    }
}

/// This object's endpoint: in `spec.vpcId`, for `spec.serviceName`, carrying the owner tags,
/// or named by `spec.adopt` (the endpoint it is taking over: the clients are checked against it
/// from the pass that adopts it, and `plan` shows what adopting it would find).
///
/// Endpoints being deleted are ignored (their ENIs are going away). Should several remain (the
/// ClientToken makes that unlikely), an `available` one is preferred, then the lowest id.
/// Without an owner nothing is ours.
pub fn owned_endpoint<'s>(
    spec: &InterfaceEndpointSpec,
    owner: Option<&Owner>,
    snapshot: &'s Snapshot,
) -> Option<&'s VpcEndpoint> {
    let owner = owner?;
    snapshot
        .vpc_endpoints
        .iter()
        .filter(|e| e.vpc_id == spec.vpc_id && e.service_name == spec.service_name)
        .filter(|e| !matches!(e.state_lower().as_str(), "deleting" | "deleted"))
        .filter(|e| is_owned(e, owner) || adopted(spec, e))
        .min_by_key(|e| (!e.is_available(), e.vpc_endpoint_id.as_str()))
}

/// The endpoint's ENIs that the snapshot does not describe (or describes without an address):
/// their subnets are checked whole instead.
pub fn unobserved_endpoint_interfaces<'e>(endpoint: &'e VpcEndpoint, snapshot: &Snapshot) -> Vec<&'e str> {
    let mut missing: Vec<&str> = endpoint
        .network_interface_ids
        .iter()
        .filter(|id| {
            !snapshot
                .network_interfaces
                .iter()
                .any(|n| &n.network_interface_id == *id && matches!(primary_address(n), Ok(Some(_))))
        })
        .map(String::as_str)
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

fn sorted(ids: impl IntoIterator<Item = impl Into<String>>) -> Vec<String> {
    let set: BTreeSet<String> = ids.into_iter().map(Into::into).collect();
    set.into_iter().collect()
}

/// Where clients must get to, sorted by subnet then address.
pub fn destinations(
    spec: &InterfaceEndpointSpec,
    endpoint: Option<&VpcEndpoint>,
    index: &VpcIndex<'_>,
) -> Result<Vec<Destination>, AnalysisError> {
    let spec_groups = sorted(&spec.security_group_ids);
    let records = Records::of(spec, endpoint);
    let Some(endpoint) = endpoint else {
        // Before the endpoint exists, a subnet whose address the spec fixes is checked at that
        // address: EC2 gives the new interface exactly it (or refuses the create).
        let subnets = sorted(&spec.subnet_ids);
        let mut out = Vec::new();
        for s in &subnets {
            let mut whole = whole_subnet_for(index, s, &spec_groups, records)?;
            for d in &mut whole {
                if let Some(fixed) = fixed_address(spec, s, matches!(d.net, IpNet::V6(_))) {
                    d.net = fixed;
                }
            }
            out.extend(whole);
        }
        return Ok(out);
    };

    let observed_groups = sorted(endpoint.groups.iter().map(|g| g.group_id.as_str()));
    // An interface endpoint always has a security group; an empty list means the snapshot
    // was trimmed, and the spec's groups are the best knowledge left.
    let groups = if observed_groups.is_empty() {
        spec_groups
    } else {
        observed_groups
    };
    for g in &groups {
        if !index.groups.contains_key(g.as_str()) {
            return Err(AnalysisError::SecurityGroupNotFound(g.clone()));
        }
    }

    let mut out = Vec::new();
    let mut covered: BTreeSet<&str> = BTreeSet::new();
    for id in sorted(&endpoint.network_interface_ids) {
        let Some(eni) = index.interfaces.get(id.as_str()) else {
            continue;
        };
        // A dual-stack endpoint's ENI answers on its IPv6 address too, and private DNS may hand
        // that out (AAAA records): clients with IPv6 addresses must reach it there as well.
        let addresses: Vec<IpNet> = sources::of(eni)?
            .into_iter()
            .filter(|s| matches!(s.kind, SourceKind::PrimaryIpv4 | SourceKind::Ipv6Address))
            .map(|s| s.net)
            .filter(|net| records.resolves_to(net))
            .collect();
        if addresses.is_empty() {
            continue;
        }
        covered.insert(eni.subnet_id.as_str());
        for net in addresses {
            out.push(Destination {
                subnet_id: eni.subnet_id.clone(),
                net,
                network_interface_id: Some(id.clone()),
                security_group_ids: groups.clone(),
            });
        }
    }
    let subnets = if endpoint.subnet_ids.is_empty() {
        &spec.subnet_ids
    } else {
        &endpoint.subnet_ids
    };
    for subnet in sorted(subnets) {
        if !covered.contains(subnet.as_str()) {
            out.extend(whole_subnet_for(index, &subnet, &groups, records)?);
        }
    }
    out.sort_by(|a, b| (&a.subnet_id, a.net).cmp(&(&b.subnet_id, b.net)));
    Ok(out)
}

/// Which addresses the names clients use resolve to, so which paths clients take: A records
/// (IPv4) and AAAA records (IPv6, for clients with IPv6 addresses). The names are the service's
/// private DNS name when the spec turns private DNS on (the switch this controller guards), the
/// endpoint's own names otherwise: they differ for `service-defined` records, which give the
/// private name A records only. `None` when neither the observed endpoint nor the spec says (no
/// `dnsOptions`, no `ipAddressType`): every address the endpoint has is checked, and the
/// subnets' first CIDR before it exists, as before the options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Records {
    pub known: Option<(bool, bool)>,
}

impl Records {
    /// The observed endpoint's records (EC2 reports them), else the spec's, else what the address
    /// type allows alone (`ipv4`: A, `ipv6`: AAAA; `dualstack` may have either, so both).
    pub fn of(spec: &InterfaceEndpointSpec, endpoint: Option<&VpcEndpoint>) -> Records {
        let private_name = spec.private_dns.enabled;
        let observed = endpoint.and_then(|e| {
            let records = e
                .dns_options
                .as_ref()
                .and_then(|d| d.dns_record_ip_type.as_deref())
                .and_then(DnsRecordIpType::parse);
            let addresses = e.ip_address_type.as_deref().and_then(IpAddressType::parse);
            Self::from_options(records, addresses, private_name)
        });
        let specified = || {
            Self::from_options(
                spec.dns_options.as_ref().and_then(|d| d.dns_record_ip_type),
                spec.ip_address_type,
                private_name,
            )
        };
        Records {
            known: observed.or_else(specified),
        }
    }

    fn from_options(
        records: Option<DnsRecordIpType>,
        addresses: Option<IpAddressType>,
        private_name: bool,
    ) -> Option<(bool, bool)> {
        if let Some(r) = records {
            return Some((r.has_a(), r.has_aaaa(private_name)));
        }
        match addresses? {
            IpAddressType::Ipv4 => Some((true, false)),
            IpAddressType::Ipv6 => Some((false, true)),
            IpAddressType::Dualstack => Some((true, true)),
        }
    }

    /// Whether clients resolve the endpoint to an address of `net`'s family.
    pub fn resolves_to(&self, net: &IpNet) -> bool {
        match (self.known, net) {
            (None, _) => true,
            (Some((a, _)), IpNet::V4(_)) => a,
            (Some((_, aaaa)), IpNet::V6(_)) => aaaa,
        }
    }
}

/// The destinations of a subnet before its endpoint ENI is seen: [`whole_subnet`] while the
/// records are unknown; otherwise its IPv4 CIDR if the names have A records and its IPv6 CIDR
/// if they have AAAA records (a subnet without the CIDR the records need is an invalid spec:
/// EC2 refuses such an endpoint).
fn whole_subnet_for(
    index: &VpcIndex<'_>,
    subnet_id: &str,
    groups: &[String],
    records: Records,
) -> Result<Vec<Destination>, AnalysisError> {
    let Some((a, aaaa)) = records.known else {
        return Ok(vec![whole_subnet(index, subnet_id, groups)?]);
    };
    let view = index
        .subnets
        .get(subnet_id)
        .ok_or_else(|| AnalysisError::SubnetNotFound(subnet_id.to_string()))?;
    let mut out = Vec::new();
    for (wanted, v6, family) in [(a, false, "IPv4"), (aaaa, true, "IPv6")] {
        if !wanted {
            continue;
        }
        let net = view
            .nets
            .iter()
            .find(|n| matches!(n, IpNet::V6(_)) == v6)
            .copied()
            .ok_or_else(|| AnalysisError::SubnetWithoutFamily {
                subnet: subnet_id.to_string(),
                family,
            })?;
        out.push(Destination {
            subnet_id: subnet_id.to_string(),
            net,
            network_interface_id: None,
            security_group_ids: groups.to_vec(),
        });
    }
    Ok(out)
}

/// The subnet's IPv4 CIDR (the address family endpoints use by default), else its IPv6 CIDR
/// for an IPv6-only subnet.
fn whole_subnet(
    index: &VpcIndex<'_>,
    subnet_id: &str,
    groups: &[String],
) -> Result<Destination, AnalysisError> {
    let view = index
        .subnets
        .get(subnet_id)
        .ok_or_else(|| AnalysisError::SubnetNotFound(subnet_id.to_string()))?;
    let net = view
        .nets
        .first()
        .copied()
        .ok_or_else(|| AnalysisError::InvalidAddress {
            what: format!("subnet {subnet_id} (no CIDR block)"),
            value: String::new(),
        })?;
    Ok(Destination {
        subnet_id: subnet_id.to_string(),
        net,
        network_interface_id: None,
        security_group_ids: groups.to_vec(),
    })
}
