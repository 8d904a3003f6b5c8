//! Client discovery: which ENIs private DNS would capture.
//!
//! Every ENI in `spec.vpcId` is a client unless it is one of the endpoint's own ENIs, detached
//! (status `available`: attached to nothing, it sends nothing), put there by an AWS service for
//! a resource that never calls the endpoint's service ([`super::service_interfaces`]), excluded
//! by `spec.clients`, or without an address. Each exclusion is kept with its reason, so nothing
//! disappears silently. ENIs of other VPCs are not looked at: private DNS only answers inside
//! the endpoint's VPC.
//!
//! Other statuses stay clients: `attaching` is about to send, `detaching` may still be sending,
//! `associated` is a branch ENI on a trunk carrying a pod's traffic, and an ENI without a status
//! (a trimmed snapshot) is unknown.

use std::net::IpAddr;

use super::hash::{HashMap, HashSet};
use super::index::VpcIndex;
use super::service_interfaces::{self, NotAClient, normalize_interface_type};
use super::sources::{self, Source};
use super::{AnalysisError, ExcludedInterface, ExclusionReason};
use crate::api::InterfaceEndpointSpec;
use crate::model::NetworkInterface;

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
    let excluded_types: HashSet<String> = spec
        .clients
        .exclude
        .interface_types
        .iter()
        .map(|t| normalize_interface_type(t))
        .collect();
    let service = service_interfaces::aws_service(&spec.service_name);
    // A row whose ENIs call the endpoint's service excludes nothing.
    let not_a_client = |row: Option<&'static NotAClient>| row.filter(|r| !r.calls(service));
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
    // A VPC has a handful of distinct type spellings; look each up once.
    type ByType = (Option<&'static NotAClient>, bool);
    let mut by_type: HashMap<&str, ByType> = HashMap::default();

    let mut clients = Vec::with_capacity(in_vpc.len());
    let mut excluded = Vec::new();
    for eni in in_vpc {
        let id = eni.network_interface_id.as_str();
        let mut groups: Vec<&str> = eni.groups.iter().map(|g| g.group_id.as_str()).collect();
        groups.sort_unstable();
        groups.dedup();
        let interface_type = eni.interface_type.as_deref().unwrap_or("interface");

        let (type_row, type_excluded) = *by_type.entry(interface_type).or_insert_with(|| {
            let normalized = normalize_interface_type(interface_type);
            (
                service_interfaces::by_interface_type(&normalized),
                excluded_types.contains(&normalized),
            )
        });
        let status = eni.status.as_deref().unwrap_or_default();

        let reason = if endpoint_interfaces.contains(id) {
            Some(ExclusionReason::EndpointInterface)
        } else if status.eq_ignore_ascii_case("available") {
            Some(ExclusionReason::Detached)
        } else if let Some(row) = not_a_client(type_row.or_else(|| service_interfaces::by_description(eni))) {
            Some(ExclusionReason::ServiceInterface(row))
        } else if type_excluded {
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
