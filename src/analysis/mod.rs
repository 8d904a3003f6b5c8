//! Pure analysis of one VPC for one endpoint spec: which ENIs private DNS would capture, whether
//! each can reach every endpoint destination on every port of `spec.ports` (tcp/443 unless the
//! spec says otherwise), and the fewest security-group rules that fix what can be fixed.
//!
//! No I/O, no clock, no Kubernetes: (spec, owner, snapshot) → [`Analysis`], through [`analyze`].
//! The work, one file per step:
//!
//! - `index.rs`: the snapshot indexed once (lookups by id, CIDRs parsed, each security group
//!   reduced to what it allows on the spec's ports); `addr.rs`: address ranges and sets;
//!   `ports.rs`: sets of ports and their contiguous ranges.
//! - `endpoint.rs`: the spec checked against the VPC, this object's endpoint, the destinations.
//! - `clients.rs`: the ENIs private DNS would capture, and why the others are excluded;
//!   `service_interfaces.rs`: the table of ENIs AWS services put in a VPC that are not
//!   clients; `sources.rs`: every address and prefix each client sends from.
//! - `reach.rs`: the security-group checks per client, source and destination; `nacl.rs`: the
//!   ACLs.
//! - `remediation.rs`: the fewest rules (greedy set cover), and what no rule can fix;
//!   `scope.rs`: which groups rules may be added to ([`RuleScope`]: a grant's, one account's).
//! - `apply.rs`: [`apply_rules`], the world as it would be once rules are added.
//! - `internet.rs`: whether a subnet's route table leads to the internet (NAT or internet
//!   gateway): who keeps a path to a service's public name when private DNS goes off.
//!
//! `docs/snapshot.md` describes the checks for users.

mod addr;
mod apply;
mod clients;
mod endpoint;
pub mod evidence;
mod hash;
mod index;
pub mod internet;
mod nacl;
mod ports;
mod reach;
mod remediation;
mod scope;
mod service_interfaces;
mod sources;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod inbound_only_tests;
#[cfg(test)]
mod port_tests;
#[cfg(test)]
mod property_tests;
#[cfg(test)]
mod records_tests;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::api::{ClientScope, InterfaceEndpointSpec, Owner, RemediationMode, RemediationSpec};
use crate::aws::RulePeer;
use crate::model::{Protocol, Snapshot};

pub use apply::{apply_rules, without_rules};
pub use endpoint::{
    gateway_endpoint, inbound_only, owned_endpoint, service_region_problem, unobserved_endpoint_interfaces,
};
pub use ports::Ports;
pub use scope::RuleScope;
pub use service_interfaces::{NOT_CLIENTS, NotAClient, Sign, normalize_interface_type};
pub use sources::{Source, SourceKind};

/// Analyses `snapshot` for the endpoint `spec` declares.
///
/// `owner` identifies this object's endpoint by its ownership tags; without it (or before the
/// endpoint exists) the destinations are the whole CIDRs of `spec.subnetIds`. Errors when the
/// spec does not fit the world (VPC, subnets or security groups missing or in another VPC) or
/// the snapshot holds an address that does not parse; never panics.
pub fn analyze(
    spec: &InterfaceEndpointSpec,
    owner: Option<&Owner>,
    snapshot: &Snapshot,
) -> Result<Analysis, AnalysisError> {
    analyze_within(spec, owner, snapshot, &RuleScope::default())
}

/// [`analyze`], with the remediation proposing rules only on groups `scope` allows: the others'
/// blocks are reported as not fixable, saying why (not granted, another account's group).
pub fn analyze_within(
    spec: &InterfaceEndpointSpec,
    owner: Option<&Owner>,
    snapshot: &Snapshot,
    scope: &RuleScope,
) -> Result<Analysis, AnalysisError> {
    analyze_with_evidence(spec, owner, snapshot, scope, None)
}

/// [`analyze_within`], with what the Resolver query logs show ([`evidence`]): each client
/// carries its evidence; under `spec.clients.scope: Evidence` the clients without any are
/// excluded as `NotEvidenced` (listed, not checked, no rules for them); the sources outside
/// the VPC (through a Resolver inbound endpoint) are clients too, checked as far as AWS shows
/// their path ([`OUTSIDE_PREFIX`]). `None`: no evidence (none asked for, or it could not be
/// read): the configuration alone decides.
pub fn analyze_with_evidence(
    spec: &InterfaceEndpointSpec,
    owner: Option<&Owner>,
    snapshot: &Snapshot,
    scope: &RuleScope,
    evidence: Option<&evidence::Attribution>,
) -> Result<Analysis, AnalysisError> {
    let ports = Ports::of(spec);
    if ports.is_empty() {
        return Err(AnalysisError::NoPorts);
    }
    let index = index::VpcIndex::build(snapshot, &spec.vpc_id, &ports)?;
    endpoint::validate_spec(spec, &index)?;
    endpoint::validate_service(spec, snapshot)?;
    let endpoint = endpoint::owned_endpoint(spec, owner, snapshot);
    endpoint::validate_fixed_addresses(spec, endpoint, &index)?;
    let destinations = endpoint::destinations(spec, endpoint, &index)?;
    let endpoint_interfaces = endpoint
        .map(|e| e.network_interface_ids.as_slice())
        .unwrap_or_default();
    let mut discovery = clients::discover(spec, endpoint_interfaces, &index)?;
    if let Some(evidence) = evidence
        && spec.clients.scope == ClientScope::Evidence
    {
        let (kept, dropped): (Vec<_>, Vec<_>) = std::mem::take(&mut discovery.clients)
            .into_iter()
            .partition(|c| evidence.evidence_of(&c.eni.network_interface_id).is_some());
        discovery.clients = kept;
        discovery
            .excluded
            .extend(dropped.into_iter().map(|c| ExcludedInterface {
                network_interface_id: c.eni.network_interface_id.clone(),
                reason: ExclusionReason::NotEvidenced,
            }));
        discovery
            .excluded
            .sort_by(|a, b| a.network_interface_id.cmp(&b.network_interface_id));
    }
    if endpoint::inbound_only(spec, endpoint) {
        // Not redirected: the switch changes nothing for them, so they are listed, not checked.
        let gateway = endpoint::gateway_endpoint(spec, snapshot)
            .map(|g| g.vpc_endpoint_id.clone())
            .unwrap_or_default();
        discovery
            .excluded
            .extend(
                std::mem::take(&mut discovery.clients)
                    .into_iter()
                    .map(|c| ExcludedInterface {
                        network_interface_id: c.eni.network_interface_id.clone(),
                        reason: ExclusionReason::NotRedirected(gateway.clone()),
                    }),
            );
        discovery
            .excluded
            .sort_by(|a, b| a.network_interface_id.cmp(&b.network_interface_id));
    }
    let mut clients = reach::verdicts(&index, &destinations, &discovery.clients);
    if let Some(evidence) = evidence {
        for client in &mut clients {
            client.evidence = evidence.evidence_of(&client.network_interface_id).cloned();
        }
        clients.extend(evidence.outside.iter().map(|outside| ClientVerdict {
            network_interface_id: format!("{OUTSIDE_PREFIX}{}", outside.address),
            security_group_ids: Vec::new(),
            subnet_id: String::new(),
            address: outside.address,
            sources: vec![reach::outside_source(outside.address)],
            interface_type: if outside.resolver_endpoint_ids.is_empty() {
                // Seen in the flow logs only (the canary): no inbound endpoint to name.
                "outside the VPC".to_string()
            } else {
                format!(
                    "outside the VPC, through {}",
                    outside.resolver_endpoint_ids.join(", ")
                )
            },
            owner_id: None,
            blocks: reach::outside_blocks(&index, &destinations, outside.address),
            evidence: Some(outside.evidence.clone()),
        }));
    }
    let editable = |group: &str, direction: Direction| match index.groups.get(group) {
        None => remediation::Editable::Undescribed,
        Some(view) => match scope.refuses(group, view.group.owner_id.as_deref(), direction) {
            Some(why) => remediation::Editable::Refused(why),
            None => match view.room(direction) {
                0 => remediation::Editable::Refused(remediation::quota_full(group, direction)),
                room => remediation::Editable::Yes { room },
            },
        },
    };
    let remediation = remediation::plan(&clients, &destinations, &editable, scope.account.as_deref());
    Ok(Analysis {
        endpoint_id: endpoint.map(|e| e.vpc_endpoint_id.clone()),
        ports,
        destinations,
        clients,
        excluded: discovery.excluded,
        remediation,
    })
}

/// How a client outside the VPC is named where ENI ids are (`outside:192.168.10.4`): a source
/// address of the query logs whose queries came through a Resolver inbound endpoint. AWS shows
/// its path only from the endpoint's side (the endpoint's security groups, the endpoint
/// subnets' network ACLs); its own firewall and routes are not checked, and not assumed.
pub const OUTSIDE_PREFIX: &str = "outside:";

/// EC2's default quota of rules per security group, per direction and address family (Amazon
/// VPC quotas). The plan never proposes more rules on a group than it has room for under it;
/// an account may have raised it, which the plan does not know (it then proposes fewer rules
/// than would fit, and says which clients are left out).
pub const RULES_PER_SECURITY_GROUP: u32 = 60;
/// Ephemeral ports return traffic uses; NACLs are stateless and must allow them back.
pub const EPHEMERAL_PORTS: (u16, u16) = (1024, 65535);

/// One of the four things that must all hold for a client to reach a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Check {
    /// An endpoint security group admits the port from the client.
    EndpointIngress,
    /// A client security group lets the port out to the destination.
    ClientEgress,
    /// The client subnet's NACL lets the port out and ephemeral ports back in.
    ClientSubnetNacl,
    /// The endpoint subnet's NACL lets the port in and ephemeral ports back out.
    EndpointSubnetNacl,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::EndpointIngress => "EndpointIngress",
            Check::ClientEgress => "ClientEgress",
            Check::ClientSubnetNacl => "ClientSubnetNacl",
            Check::EndpointSubnetNacl => "EndpointSubnetNacl",
        }
    }

    /// Whether the controller can fix a failure of this check with a security-group rule.
    pub fn is_fixable(self) -> bool {
        matches!(self, Check::EndpointIngress | Check::ClientEgress)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where clients must get to: an endpoint ENI address, or (before the endpoint exists) the
/// whole CIDR of a subnet the endpoint will have an ENI in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub subnet_id: String,
    /// A single address (`/32` or `/128`) for an existing ENI, the subnet CIDR otherwise.
    pub net: IpNet,
    /// The endpoint ENI, when the endpoint exists.
    pub network_interface_id: Option<String>,
    /// The security groups guarding the destination (observed, or the spec's).
    pub security_group_ids: Vec<String>,
}

impl Destination {
    /// Whether the destination is a whole subnet: the endpoint does not exist yet, or the
    /// snapshot does not show its ENI in this subnet.
    pub fn is_whole_subnet(&self) -> bool {
        self.network_interface_id.is_none()
    }
}

/// A failed check for one client and one destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub check: Check,
    /// The destination (`10.0.1.25` or `10.0.1.0/24`).
    pub destination: IpNet,
    /// The spec's ports the check fails on (all of them when the return traffic is stopped).
    pub ports: Ports,
    /// The client's addresses and prefixes the check fails for; empty for the checks that do
    /// not depend on the sender's address (`ClientEgress`, `ClientSubnetNacl`).
    pub sources: Vec<Source>,
    /// Why, in a sentence a person can act on (e.g. which NACL rule denies, from which address).
    pub detail: String,
}

/// One client and what stops it, if anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientVerdict {
    pub network_interface_id: String,
    /// Sorted.
    pub security_group_ids: Vec<String>,
    pub subnet_id: String,
    /// The address people know the client by (primary private IPv4, else its first source).
    pub address: IpAddr,
    /// Every address and prefix the client sends from, primary first: it is reachable only when
    /// all of them are.
    pub sources: Vec<Source>,
    pub interface_type: String,
    /// The account that owns the ENI, when EC2 says (in a shared VPC, a participant's).
    pub owner_id: Option<String>,
    /// Every failing check for every destination; empty when the client is reachable.
    pub blocks: Vec<Block>,
    /// What the Resolver query logs show of it (queries in the lookback, last seen); `None`
    /// when none show it or no evidence was read.
    pub evidence: Option<evidence::ClientEvidence>,
}

impl ClientVerdict {
    /// Whether this is a client outside the VPC ([`OUTSIDE_PREFIX`]), not an ENI.
    pub fn is_outside(&self) -> bool {
        self.network_interface_id.starts_with(OUTSIDE_PREFIX)
    }

    pub fn is_reachable(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The ports some check fails on.
    pub fn failing_ports(&self) -> Ports {
        self.blocks
            .iter()
            .fold(Ports::default(), |all, b| all.union(&b.ports))
    }

    /// The distinct failing checks, sorted.
    pub fn failing_checks(&self) -> Vec<Check> {
        let mut checks: Vec<Check> = self.blocks.iter().map(|b| b.check).collect();
        checks.sort();
        checks.dedup();
        checks
    }
}

/// An ENI in the VPC that is not a client, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExcludedInterface {
    pub network_interface_id: String,
    pub reason: ExclusionReason,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExclusionReason {
    /// One of this endpoint's own ENIs.
    EndpointInterface,
    /// Status `available`: attached to nothing, it sends nothing.
    Detached,
    /// Put in the VPC by an AWS service for a resource that never calls the endpoint's service
    /// (a row of [`NOT_CLIENTS`]).
    ServiceInterface(&'static NotAClient),
    /// Of a type listed in `spec.clients.exclude.interfaceTypes`.
    InterfaceType(String),
    /// Listed in `spec.clients.exclude.networkInterfaceIds`.
    ExcludedInterface,
    /// Carries a security group listed in `spec.clients.exclude.securityGroupIds`.
    ExcludedSecurityGroup(String),
    /// Carries none of `spec.clients.securityGroupIds`.
    NotSelected,
    /// Has no private address the analysis can use.
    NoAddress,
    /// `spec.clients.scope: Evidence`, and the Resolver query logs show no query of the
    /// service's name from it in the lookback.
    NotEvidenced,
    /// `dnsOptions.privateDnsOnlyForInboundResolverEndpoint`: clients in the VPC are not
    /// redirected to the endpoint; they go through the service's gateway endpoint (its id, or
    /// empty when the VPC shows none).
    NotRedirected(String),
}

impl ExclusionReason {
    /// The kind of reason, one CamelCase word, for grouping (status) and for machines (JSON).
    pub fn code(&self) -> &'static str {
        match self {
            Self::EndpointInterface => "EndpointInterface",
            Self::Detached => "Detached",
            Self::ServiceInterface(_) => "ServiceInterface",
            Self::InterfaceType(_) => "ExcludedInterfaceType",
            Self::ExcludedInterface => "ExcludedInterface",
            Self::ExcludedSecurityGroup(_) => "ExcludedSecurityGroup",
            Self::NotSelected => "NotSelected",
            Self::NoAddress => "NoAddress",
            Self::NotEvidenced => "NotEvidenced",
            Self::NotRedirected(_) => "NotRedirected",
        }
    }
}

impl fmt::Display for ExclusionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EndpointInterface => write!(f, "endpoint network interface"),
            Self::Detached => write!(f, "detached (status available): it sends nothing"),
            Self::ServiceInterface(row) => write!(f, "{row}"),
            Self::InterfaceType(t) => {
                write!(
                    f,
                    "interface type {t}, excluded by spec.clients.exclude.interfaceTypes"
                )
            }
            Self::ExcludedInterface => write!(f, "excluded by spec.clients.exclude.networkInterfaceIds"),
            Self::ExcludedSecurityGroup(sg) => {
                write!(
                    f,
                    "carries {sg}, excluded by spec.clients.exclude.securityGroupIds"
                )
            }
            Self::NotSelected => write!(f, "carries none of spec.clients.securityGroupIds"),
            Self::NoAddress => write!(f, "has no private IP address"),
            Self::NotEvidenced => write!(
                f,
                "no query of the service's name in the Resolver query logs over the lookback \
                 (spec.clients.scope: Evidence)"
            ),
            Self::NotRedirected(gateway) => write!(
                f,
                "in the VPC: private DNS answers only queries through a Resolver inbound endpoint \
                 (spec.dnsOptions.privateDnsOnlyForInboundResolverEndpoint), so it keeps going through \
                 the gateway endpoint{}",
                if gateway.is_empty() {
                    String::new()
                } else {
                    format!(" {gateway}")
                }
            ),
        }
    }
}

/// Which direction a planned rule opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// One security-group rule the remediation adds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleChange {
    /// The group the rule is added to.
    pub group_id: String,
    pub direction: Direction,
    pub protocol: Protocol,
    pub from_port: u16,
    pub to_port: u16,
    pub peer: RulePeer,
    /// Which check the rule clears: `EndpointIngress` (ingress on an endpoint SG) or
    /// `ClientEgress` (egress on a client SG).
    pub clears: Check,
}

impl RuleChange {
    /// The tcp/443 rule on `group_id` referring to `peer_group` that clears `clears`: the rule
    /// for the default `spec.ports`.
    pub fn https(group_id: &str, peer_group: &str, clears: Check) -> RuleChange {
        let port = crate::api::DEFAULT_PORT;
        RuleChange::tcp(group_id, peer_group, clears, (port, port))
    }

    /// The rule for TCP ports `from..=to` on `group_id` referring to `peer_group` that clears
    /// `clears`: ingress on an endpoint security group from a client's (`EndpointIngress`), or
    /// egress on a client security group to an endpoint's (`ClientEgress`).
    pub fn tcp(group_id: &str, peer_group: &str, clears: Check, (from, to): (u16, u16)) -> RuleChange {
        RuleChange {
            group_id: group_id.to_string(),
            direction: if clears == Check::EndpointIngress {
                Direction::Ingress
            } else {
                Direction::Egress
            },
            protocol: Protocol::Tcp,
            from_port: from,
            to_port: to,
            peer: RulePeer::Group(peer_group.to_string()),
            clears,
        }
    }

    /// How `spec.remediation` treats this rule.
    pub fn mode(&self, remediation: &RemediationSpec) -> RemediationMode {
        match self.clears {
            Check::EndpointIngress => remediation.endpoint_ingress,
            _ => remediation.client_egress,
        }
    }

    /// One canonical line per rule, the input of [`plan_id`]:
    /// `sg-1 ingress tcp 443-443 group:sg-2`.
    pub fn canonical(&self) -> String {
        let peer = match &self.peer {
            RulePeer::Group(g) => format!("group:{g}"),
            RulePeer::CidrIpv4(c) => format!("cidr:{c}"),
            RulePeer::CidrIpv6(c) => format!("cidr6:{c}"),
            RulePeer::PrefixList(p) => format!("prefix-list:{p}"),
        };
        format!(
            "{} {} {} {}-{} {}",
            self.group_id,
            self.direction.as_str(),
            self.protocol,
            self.from_port,
            self.to_port,
            peer
        )
    }
}

/// A short stable hash of a set of rules (order and duplicates do not matter): 10 hex digits
/// of SHA-256 over the sorted canonical lines.
pub fn plan_id<'a>(rules: impl IntoIterator<Item = &'a RuleChange>) -> String {
    use std::cell::RefCell;

    use sha2::{Digest, Sha256};

    use crate::memo::Recent;

    // A pass asks for the id of the same rules several times (its status, the approval, the
    // grant's ceiling): each distinct text is hashed once.
    thread_local! {
        static RECENT: RefCell<Recent<String, String>> = const { RefCell::new(Recent::new(8)) };
    }
    let mut lines: Vec<String> = rules.into_iter().map(RuleChange::canonical).collect();
    lines.sort();
    lines.dedup();
    RECENT.with(|recent| {
        recent.borrow_mut().get_or_compute(&lines.join("\n"), |text| {
            let digest = Sha256::digest(text.as_bytes());
            digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
        })
    })
}

/// A blocked client the controller will not fix, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unfixable {
    pub network_interface_id: String,
    pub check: Check,
    pub detail: String,
}

/// The fewest rules that clear every EndpointIngress and ClientEgress block, and the blocks no
/// rule of the controller's can clear.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Remediation {
    /// Sorted, no duplicates.
    pub rules: Vec<RuleChange>,
    pub unfixable: Vec<Unfixable>,
}

impl Remediation {
    /// The rules `spec.approval.planId` must approve: those whose mode is `Approval`.
    pub fn rules_needing_approval<'a>(
        &'a self,
        remediation: &'a RemediationSpec,
    ) -> impl Iterator<Item = &'a RuleChange> + 'a {
        self.rules
            .iter()
            .filter(|r| r.mode(remediation) == RemediationMode::Approval)
    }

    /// The plan id of these rules to add (the rules needing approval, or all of them when none
    /// does): the case of [`crate::api::PLAN_ID_MEANING`] where some rules are missing.
    /// `plan::approval::plan_id` covers the other.
    pub fn plan_id(&self, remediation: &RemediationSpec) -> String {
        let approval: Vec<&RuleChange> = self.rules_needing_approval(remediation).collect();
        if approval.is_empty() {
            plan_id(&self.rules)
        } else {
            plan_id(approval)
        }
    }
}

/// The result of analysing one VPC for one endpoint spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Analysis {
    /// The endpoint owned by this object, if it exists.
    pub endpoint_id: Option<String>,
    /// The ports every client was checked on (`spec.ports`).
    pub ports: Ports,
    pub destinations: Vec<Destination>,
    /// Sorted by ENI id.
    pub clients: Vec<ClientVerdict>,
    /// Sorted by ENI id.
    pub excluded: Vec<ExcludedInterface>,
    pub remediation: Remediation,
}

impl Analysis {
    pub fn blocked(&self) -> impl Iterator<Item = &ClientVerdict> {
        self.clients.iter().filter(|c| !c.is_reachable())
    }

    pub fn all_reachable(&self) -> bool {
        self.clients.iter().all(ClientVerdict::is_reachable)
    }
}

#[cfg(test)]
mod plan_id_tests {
    use super::*;

    #[test]
    fn plan_id_ignores_order_and_changes_with_the_rules() {
        let a = RuleChange::https("sg-vpce", "sg-zabbix", Check::EndpointIngress);
        let b = RuleChange::https("sg-zabbix", "sg-vpce", Check::ClientEgress);
        assert_eq!(plan_id([&a, &b]), plan_id([&b, &a]));
        assert_eq!(plan_id([&a]).len(), 10);
        assert_ne!(plan_id([&a]), plan_id([&a, &b]));
    }

    #[test]
    fn plan_id_covers_only_rules_needing_approval_when_there_are_some() {
        let ingress = RuleChange::https("sg-vpce", "sg-zabbix", Check::EndpointIngress);
        let egress = RuleChange::https("sg-zabbix", "sg-vpce", Check::ClientEgress);
        let remediation = Remediation {
            rules: vec![ingress.clone(), egress.clone()],
            unfixable: vec![],
        };
        let modes = RemediationSpec::default(); // ingress Auto, egress Approval
        assert_eq!(remediation.plan_id(&modes), plan_id([&egress]));
        let all_auto = RemediationSpec {
            endpoint_ingress: RemediationMode::Auto,
            client_egress: RemediationMode::Auto,
        };
        assert_eq!(remediation.plan_id(&all_auto), plan_id([&ingress, &egress]));
    }
}

/// The spec does not fit the AWS world: reported as `InvalidSpec`, nothing is changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisError {
    #[error("VPC {0} not found")]
    VpcNotFound(String),
    #[error("subnet {0} not found")]
    SubnetNotFound(String),
    #[error("subnet {subnet} is in {actual}, not in {vpc}")]
    SubnetInOtherVpc {
        subnet: String,
        vpc: String,
        actual: String,
    },
    #[error(
        "spec.subnetIds: {first} and {second} are both in {zone}; an endpoint takes at most one \
         subnet per Availability Zone"
    )]
    SubnetsShareZone {
        first: String,
        second: String,
        zone: String,
    },
    #[error("security group {0} not found")]
    SecurityGroupNotFound(String),
    #[error("security group {group} is in {actual}, not in {vpc}")]
    SecurityGroupInOtherVpc {
        group: String,
        vpc: String,
        actual: String,
    },
    #[error("{what} has an invalid address {value:?}")]
    InvalidAddress { what: String, value: String },
    /// What EC2 described holds a value no describe call prints ([`Snapshot::check`]).
    #[error("the VPC as described is invalid at {path}: {message}")]
    InvalidObservation { path: String, message: String },
    #[error("spec.subnetIds is empty: the endpoint needs at least one subnet")]
    NoSubnets,
    #[error("spec.securityGroupIds is empty: the endpoint needs at least one security group")]
    NoSecurityGroups,
    /// The service says it takes no endpoint policy (`VpcEndpointPolicySupported: false`).
    #[error(
        "spec.policy: the service {service} does not support endpoint policies \
         (DescribeVpcEndpointServices says VpcEndpointPolicySupported false); remove spec.policy"
    )]
    PolicyNotSupported { service: String },
    #[error("spec.ports is empty: clients use at least one port (443 for the AWS services)")]
    NoPorts,
    /// The endpoint's DNS records need an address family the subnet has no CIDR of.
    #[error(
        "subnet {subnet} has no {family} CIDR block, and the endpoint's DNS records \
         (spec.dnsOptions.dnsRecordIpType, spec.ipAddressType) send clients to its {family} address"
    )]
    SubnetWithoutFamily { subnet: String, family: &'static str },
    /// EC2 cannot give the endpoint's interface in the subnet addresses of `spec.ipAddressType`.
    #[error(
        "spec.ipAddressType {address_type}: subnet {subnet} {lack}; EC2 gives {address_type} \
         endpoint interfaces only in subnets with {needs}",
        needs = match *address_type {
            "ipv4" => "an IPv4 CIDR block",
            "ipv6" => "IPv6 CIDR blocks only (IPv6-only subnets)",
            _ => "both an IPv4 and an IPv6 CIDR block",
        }
    )]
    SubnetUnfitForAddressType {
        subnet: String,
        address_type: &'static str,
        lack: String,
    },
    /// An address of `spec.subnetConfigurations` EC2 cannot give the subnet's endpoint
    /// interface: outside the subnet, reserved by AWS, or in use.
    #[error("spec.subnetConfigurations: {address} for subnet {subnet} {why}; EC2 would refuse the endpoint")]
    SubnetAddressUnusable {
        subnet: String,
        address: String,
        why: String,
    },
}
