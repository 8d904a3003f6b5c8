//! Client discovery: which ENIs private DNS would capture.
//!
//! Every ENI in `spec.vpcId` is a client unless it is one of the endpoint's own ENIs, of an
//! interface type that never originates API calls ([`DEFAULT_EXCLUDED_INTERFACE_TYPES`], plus
//! `spec.clients.exclude.interfaceTypes`), excluded by `spec.clients`, or without an address.
//! Each exclusion is kept with its reason, so nothing disappears silently. ENIs of other VPCs
//! are not looked at: private DNS only answers inside the endpoint's VPC.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::index::VpcIndex;
use super::sources::{self, Source};
use super::{AnalysisError, ExcludedInterface, ExclusionReason};
use crate::api::InterfaceEndpointSpec;
use crate::model::NetworkInterface;

/// Interface types that never originate calls to an AWS API, and why. Compared after
/// [`normalize_interface_type`], since AWS prints both `nat_gateway` and `natGateway`.
///
/// Not in this list, so clients: `interface` (EC2 instances, ECS tasks in awsvpc mode, RDS,
/// EKS pods, anything requester-managed without its own type), `lambda`, `branch` and `trunk`
/// (ECS/EKS ENI trunking), `efa` (an ordinary ENI with an address plus the EFA device).
pub const DEFAULT_EXCLUDED_INTERFACE_TYPES: &[(&str, &str)] = &[
    (
        "nat_gateway",
        "forwards other hosts' traffic, resolves no names itself",
    ),
    ("vpc_endpoint", "another endpoint's ENI only receives traffic"),
    ("gateway_load_balancer", "forwards traffic to appliances"),
    (
        "gateway_load_balancer_endpoint",
        "forwards traffic to a Gateway Load Balancer",
    ),
    ("transit_gateway", "forwards traffic between attachments"),
    (
        "load_balancer",
        "ELB nodes proxy to targets; AWS publishes their logs and metrics from outside the VPC",
    ),
    ("network_load_balancer", "forwards traffic to targets"),
    ("efs", "an EFS mount target only serves NFS"),
    (
        "global_accelerator_managed",
        "forwards accelerator traffic to endpoints",
    ),
    (
        "api_gateway_managed",
        "a VPC link forwards API Gateway traffic to private integrations",
    ),
    (
        "iot_rules_managed",
        "IoT rule actions reach destinations inside the VPC only",
    ),
    (
        "quicksight",
        "QuickSight reaches data sources inside the VPC only",
    ),
    (
        "aws_codestar_connections_managed",
        "CodeStar Connections reach the code host inside the VPC only",
    ),
    ("efa-only", "carries no IP address, only EFA traffic"),
];

/// Lower case without `_` and `-`: `natGateway`, `nat_gateway` and `NAT-Gateway` are one type.
pub fn normalize_interface_type(t: &str) -> String {
    t.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// An ENI that private DNS would capture.
#[derive(Clone, Debug)]
pub struct Client<'a> {
    pub eni: &'a NetworkInterface,
    /// The address people know it by: its primary private IPv4, else its first source.
    pub address: IpAddr,
    /// Every address and prefix it sends from, primary first; never empty.
    pub sources: Vec<Source>,
    /// Sorted, without duplicates.
    pub groups: Vec<&'a str>,
}

/// The clients sorted by ENI id, and every other ENI of the VPC with why it is not a client.
pub struct Discovery<'a> {
    pub clients: Vec<Client<'a>>,
    pub excluded: Vec<ExcludedInterface>,
}

pub fn discover<'a>(
    spec: &InterfaceEndpointSpec,
    endpoint_interfaces: &[String],
    index: &VpcIndex<'a>,
) -> Result<Discovery<'a>, AnalysisError> {
    let excluded_types: HashSet<String> = DEFAULT_EXCLUDED_INTERFACE_TYPES
        .iter()
        .map(|(t, _)| *t)
        .chain(spec.clients.exclude.interface_types.iter().map(String::as_str))
        .map(normalize_interface_type)
        .collect();
    let endpoint_interfaces: HashSet<&str> = endpoint_interfaces.iter().map(String::as_str).collect();
    let excluded_enis: HashSet<&str> = spec
        .clients
        .exclude
        .network_interface_ids
        .iter()
        .map(String::as_str)
        .collect();
    let excluded_groups: HashSet<&str> = spec
        .clients
        .exclude
        .security_group_ids
        .iter()
        .map(String::as_str)
        .collect();
    // An empty selection list is read as no selection: taken literally it would select no
    // client at all and let private DNS go on with nothing checked.
    let selected_groups: Option<HashSet<&str>> = spec
        .clients
        .security_group_ids
        .as_ref()
        .filter(|ids| !ids.is_empty())
        .map(|ids| ids.iter().map(String::as_str).collect());

    // By id, first occurrence wins (the sort is stable): a snapshot merged from overlapping
    // pages may repeat ENIs.
    let mut in_vpc: Vec<&'a NetworkInterface> = index
        .snapshot
        .network_interfaces
        .iter()
        .filter(|eni| eni.vpc_id == index.vpc_id)
        .collect();
    in_vpc.sort_by(|a, b| a.network_interface_id.cmp(&b.network_interface_id));
    in_vpc.dedup_by(|later, first| later.network_interface_id == first.network_interface_id);
    // A VPC has a handful of distinct type spellings; normalise each once.
    let mut type_excluded: HashMap<&str, bool> = HashMap::new();

    let mut clients = Vec::with_capacity(in_vpc.len());
    let mut excluded = Vec::new();
    for eni in in_vpc {
        let id = eni.network_interface_id.as_str();
        let mut groups: Vec<&str> = eni.groups.iter().map(|g| g.group_id.as_str()).collect();
        groups.sort_unstable();
        groups.dedup();
        let interface_type = eni.interface_type.as_deref().unwrap_or("interface");

        let reason = if endpoint_interfaces.contains(id) {
            Some(ExclusionReason::EndpointInterface)
        } else if *type_excluded
            .entry(interface_type)
            .or_insert_with(|| excluded_types.contains(&normalize_interface_type(interface_type)))
        {
            Some(ExclusionReason::InterfaceType(interface_type.to_string()))
        } else if excluded_enis.contains(id) {
            Some(ExclusionReason::ExcludedInterface)
        } else if let Some(g) = groups.iter().find(|g| excluded_groups.contains(*g)) {
            Some(ExclusionReason::ExcludedSecurityGroup(g.to_string()))
        } else if selected_groups
            .as_ref()
            .is_some_and(|sel| !groups.iter().any(|g| sel.contains(g)))
        {
            Some(ExclusionReason::NotSelected)
        } else {
            None
        };
        if let Some(reason) = reason {
            excluded.push(ExcludedInterface {
                network_interface_id: id.to_string(),
                reason,
            });
            continue;
        }
        let sources = sources::of(eni)?;
        match sources.first() {
            Some(first) => clients.push(Client {
                eni,
                address: first.net.addr(),
                sources,
                groups,
            }),
            None => excluded.push(ExcludedInterface {
                network_interface_id: id.to_string(),
                reason: ExclusionReason::NoAddress,
            }),
        }
    }
    Ok(Discovery { clients, excluded })
}
