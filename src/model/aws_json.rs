//! AWS API shapes exactly as `aws ec2 describe-*` prints them (PascalCase keys).
//!
//! Lenient where AWS output varies: protocols as names or numbers, missing keys as empty, unknown
//! keys ignored. These are the types the EC2 port returns, the simulated world stores and the
//! `snapshot` command writes, so that one format runs through everything.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A key/value tag. ENIs print these under `TagSet`, everything else under `Tags`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Iterates tags as `(key, value)` pairs, for [`crate::api::Owner::owns`].
pub fn tag_pairs(tags: &[Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))
}

/// Builds tags from pairs.
pub fn tags_from<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Vec<Tag> {
    pairs
        .into_iter()
        .map(|(k, v)| Tag {
            key: k.into(),
            value: v.into(),
        })
        .collect()
}

/// An IP protocol as AWS spells it: `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all), or a number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// `-1`: every protocol (and every port).
    #[default]
    All,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    /// Any other IANA protocol number.
    Number(u8),
}

impl Protocol {
    /// Parses `tcp`, `6`, `-1`, `all`, ... (case-insensitive).
    pub fn parse(s: &str) -> Option<Protocol> {
        let p = match s.trim().to_ascii_lowercase().as_str() {
            "-1" | "all" => Protocol::All,
            "tcp" | "6" => Protocol::Tcp,
            "udp" | "17" => Protocol::Udp,
            "icmp" | "1" => Protocol::Icmp,
            "icmpv6" | "58" => Protocol::Icmpv6,
            other => Protocol::Number(other.parse().ok()?),
        };
        Some(p)
    }

    /// As security group rules print it (`tcp`, `-1`, `47`).
    pub fn as_aws(&self) -> String {
        match self {
            Protocol::All => "-1".into(),
            Protocol::Tcp => "tcp".into(),
            Protocol::Udp => "udp".into(),
            Protocol::Icmp => "icmp".into(),
            Protocol::Icmpv6 => "icmpv6".into(),
            Protocol::Number(n) => n.to_string(),
        }
    }

    /// Whether a rule of this protocol applies to TCP traffic.
    pub fn covers_tcp(&self) -> bool {
        matches!(self, Protocol::All | Protocol::Tcp)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_aws())
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_aws())
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(i64),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Number(n) => n.to_string(),
        };
        Protocol::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown protocol {text:?}: expected tcp, udp, icmp, icmpv6, -1 or a protocol number 0-255"
            ))
        })
    }
}

/// `describe-vpcs` → `Vpcs[]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Vpc {
    pub vpc_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cidr_block_association_set: Vec<CidrBlockAssociation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipv6_cidr_block_association_set: Vec<Ipv6CidrBlockAssociation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CidrBlockAssociation {
    pub cidr_block: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipv6CidrBlockAssociation {
    pub ipv6_cidr_block: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association_id: Option<String>,
}

/// A boolean VPC attribute: `true`, or `{"Value": true}` as `describe-vpc-attribute` prints it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AttributeBoolean(pub bool);

impl<'de> Deserialize<'de> for AttributeBoolean {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Plain(bool),
            Wrapped {
                #[serde(rename = "Value")]
                value: bool,
            },
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Plain(b) | Raw::Wrapped { value: b } => AttributeBoolean(b),
        })
    }
}

/// The DNS attributes of a VPC (`describe-vpc-attribute`, both attributes), under the snapshot
/// key `VpcAttributes` (VPC id → attributes). Absent attributes are unknown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VpcDnsAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_dns_support: Option<AttributeBoolean>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_dns_hostnames: Option<AttributeBoolean>,
}

/// `describe-subnets` → `Subnets[]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipv6_cidr_block_association_set: Vec<Ipv6CidrBlockAssociation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// `describe-security-groups` → `SecurityGroups[]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SecurityGroup {
    pub group_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    pub ip_permissions: Vec<IpPermission>,
    pub ip_permissions_egress: Vec<IpPermission>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// One permission of a security group: a protocol and port range, and its peers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpPermission {
    pub ip_protocol: Protocol,
    /// Absent (or -1) for protocol `-1` and for ICMP "all types".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_ranges: Vec<IpRange>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipv6_ranges: Vec<Ipv6Range>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prefix_list_ids: Vec<PrefixListId>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_id_group_pairs: Vec<UserIdGroupPair>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpRange {
    pub cidr_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipv6Range {
    pub cidr_ipv6: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PrefixListId {
    pub prefix_list_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UserIdGroupPair {
    pub group_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `describe-security-group-rules` → `SecurityGroupRules[]`: one rule with its id and tags,
/// which is how the controller finds (and only ever revokes) its own rules.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SecurityGroupRule {
    pub security_group_rule_id: String,
    pub group_id: String,
    pub is_egress: bool,
    pub ip_protocol: Protocol,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ipv4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_list_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referenced_group_info: Option<ReferencedGroup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReferencedGroup {
    pub group_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
}

/// `describe-network-interfaces` → `NetworkInterfaces[]`.
///
/// Every address an ENI can send from is a source the checks must admit: the primary and
/// secondary private IPv4 addresses, the delegated IPv4 and IPv6 prefixes (EKS prefix
/// delegation gives pods addresses out of them), and the IPv6 addresses. `docs/snapshot.md`
/// says what each field means for the analysis.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkInterface {
    pub network_interface_id: String,
    pub vpc_id: String,
    pub subnet_id: String,
    /// `interface`, `lambda`, `nat_gateway` (also printed `natGateway`), `vpc_endpoint`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_type: Option<String>,
    /// The primary private IPv4 address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    /// The primary (`Primary: true`) and the secondary private IPv4 addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub private_ip_addresses: Vec<PrivateIpAddress>,
    /// IPv4 prefixes delegated to the ENI (`10.0.3.16/28`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipv4_prefixes: Vec<Ipv4PrefixSpecification>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipv6_addresses: Vec<Ipv6Address>,
    /// IPv6 prefixes delegated to the ENI (`2600:1f14::/80`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipv6_prefixes: Vec<Ipv6PrefixSpecification>,
    pub groups: Vec<GroupIdentifier>,
    /// Set by whoever created the ENI; AWS services write their own (`RDSNetworkInterface`,
    /// `ELB app/...`, `Amazon EKS <cluster>`), which is how their ENIs are recognised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `in-use`, `available` (attached to nothing: it sends nothing), `attaching`,
    /// `detaching`, `associated` (a branch ENI on a trunk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The alias (`amazon-rds`, `amazon-elb`), account or role session of whoever created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_id: Option<String>,
    /// Whether an AWS service created and manages it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_managed: Option<bool>,
    /// The account that owns the ENI: in a shared VPC (RAM), a participant's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_set: Vec<Tag>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PrivateIpAddress {
    pub private_ip_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipv6Address {
    pub ipv6_address: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipv4PrefixSpecification {
    pub ipv4_prefix: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ipv6PrefixSpecification {
    pub ipv6_prefix: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GroupIdentifier {
    pub group_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Attachment {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_owner_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `describe-network-acls` → `NetworkAcls[]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkAcl {
    pub network_acl_id: String,
    pub vpc_id: String,
    pub is_default: bool,
    pub entries: Vec<NetworkAclEntry>,
    pub associations: Vec<NetworkAclAssociation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkAclEntry {
    /// 1-32766, evaluated in ascending order; 32767 is the implicit `*` deny.
    pub rule_number: i32,
    pub protocol: Protocol,
    /// `allow` or `deny`.
    pub rule_action: String,
    pub egress: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_range: Option<PortRange>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortRange {
    pub from: i32,
    pub to: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkAclAssociation {
    pub subnet_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_acl_association_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_acl_id: Option<String>,
}

/// `describe-vpc-endpoints` → `VpcEndpoints[]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VpcEndpoint {
    pub vpc_endpoint_id: String,
    /// `Interface`, `Gateway`, `GatewayLoadBalancer`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint_type: Option<String>,
    pub vpc_id: String,
    pub service_name: String,
    /// `pending`, `available`, `deleting`, ... (compare ignoring case: SDKs disagree).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_document: Option<String>,
    pub subnet_ids: Vec<String>,
    pub groups: Vec<SecurityGroupIdentifier>,
    pub network_interface_ids: Vec<String>,
    pub private_dns_enabled: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_entries: Vec<DnsEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_managed: Option<bool>,
    /// The region of the service the endpoint connects to (cross-region PrivateLink).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_region: Option<String>,
    /// `ipv4`, `dualstack` or `ipv6`: the addresses of its network interfaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    /// The DNS records of its names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_options: Option<EndpointDnsOptions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// `DnsOptions` of a VPC endpoint as `describe-vpc-endpoints` prints it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointDnsOptions {
    /// `ipv4`, `dualstack`, `ipv6` or `service-defined`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_record_ip_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_dns_only_for_inbound_resolver_endpoint: Option<bool>,
}

impl VpcEndpoint {
    /// The state, lower-cased (`available`, `pending`, ...); empty when unknown.
    pub fn state_lower(&self) -> String {
        self.state.as_deref().unwrap_or_default().to_ascii_lowercase()
    }

    /// Whether EC2 reports the endpoint `available` (case-insensitive).
    pub fn is_available(&self) -> bool {
        self.state_lower() == "available"
    }
}

/// The endpoint's security group as `describe-vpc-endpoints` prints it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SecurityGroupIdentifier {
    pub group_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DnsEntry {
    pub dns_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosted_zone_id: Option<String>,
}

/// `describe-vpc-endpoint-services` → `ServiceDetails[]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceDetail {
    pub service_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service_type: Vec<ServiceTypeDetail>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub availability_zones: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_dns_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub private_dns_names: Vec<PrivateDnsDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint_policy_supported: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acceptance_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The region the service is hosted in, as DescribeVpcEndpointServices answers it (asked
    /// with `ServiceRegions` for a service in another region).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_region: Option<String>,
}

impl ServiceDetail {
    /// The service's private DNS name, from either field AWS fills.
    pub fn private_dns_name(&self) -> Option<&str> {
        self.private_dns_name
            .as_deref()
            .or_else(|| {
                self.private_dns_names
                    .first()
                    .map(|d| d.private_dns_name.as_str())
            })
            .filter(|s| !s.is_empty())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceTypeDetail {
    pub service_type: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PrivateDnsDetails {
    pub private_dns_name: String,
}

/// `describe-flow-logs` → `FlowLogs[]`: where a VPC's (or subnet's, ENI's) flow log records go
/// and in which format.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct FlowLog {
    pub flow_log_id: String,
    /// The VPC, subnet or network interface the flow log captures.
    pub resource_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
    /// `cloud-watch-logs`, `s3` or `kinesis-data-firehose`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_destination_type: Option<String>,
    /// The fields of each record, `${name}` separated by spaces; AWS reports the default
    /// format's fields when the flow log was created without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    /// `ACCEPT`, `REJECT` or `ALL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_log_status: Option<String>,
}

/// `describe-route-tables` → `RouteTables[]`: where a subnet's traffic goes. Read only to say
/// which clients keep a path to a service's public name when private DNS goes off (a canary
/// rollback, `spec.verification.onReject`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RouteTable {
    pub route_table_id: String,
    pub vpc_id: String,
    /// The subnets it is explicitly associated with, and `Main: true` for the VPC's main route
    /// table (which serves every subnet without an explicit association).
    pub associations: Vec<RouteTableAssociation>,
    pub routes: Vec<Route>,
}

impl RouteTable {
    /// Whether this is the VPC's main route table.
    pub fn is_main(&self) -> bool {
        self.associations.iter().any(|a| a.main == Some(true))
    }
}

/// One association of a route table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RouteTableAssociation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
}

impl RouteTableAssociation {
    /// A table's associations as EC2 lists them: one per subnet, and the main one when the
    /// table is the VPC's main route table.
    pub fn of_table<S: AsRef<str>>(subnet_ids: &[S], main: bool) -> Vec<RouteTableAssociation> {
        let mut associations: Vec<RouteTableAssociation> = subnet_ids
            .iter()
            .map(|s| RouteTableAssociation {
                main: Some(false),
                subnet_id: Some(s.as_ref().to_string()),
            })
            .collect();
        if main {
            associations.push(RouteTableAssociation {
                main: Some(true),
                subnet_id: None,
            });
        }
        associations
    }
}

/// One route of a route table (the targets the controller reads; others are ignored).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Route {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_ipv6_cidr_block: Option<String>,
    /// `igw-…` (an internet gateway), `local`, `vgw-…`, `eigw-…` is `EgressOnlyInternetGatewayId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress_only_internet_gateway_id: Option<String>,
    /// `active` or `blackhole` (its target is gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl Route {
    /// `0.0.0.0/0` to `target`: an internet gateway (`igw-…`) or a NAT gateway (`nat-…`),
    /// active.
    pub fn default_via(target: &str) -> Self {
        let nat = target.starts_with("nat-");
        Self {
            destination_cidr_block: Some("0.0.0.0/0".into()),
            gateway_id: (!nat).then(|| target.to_string()),
            nat_gateway_id: nat.then(|| target.to_string()),
            state: Some("active".into()),
            ..Self::default()
        }
    }
}

/// `describe-managed-prefix-lists` → `PrefixLists[]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PrefixList {
    pub prefix_list_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_list_name: Option<String>,
    /// `IPv4` or `IPv6`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// `get-managed-prefix-list-entries` → `Entries[]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PrefixListEntry {
    pub cidr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_parse_as_names_or_numbers() {
        for (raw, want) in [
            (r#""tcp""#, Protocol::Tcp),
            (r#""6""#, Protocol::Tcp),
            ("6", Protocol::Tcp),
            (r#""-1""#, Protocol::All),
            ("-1", Protocol::All),
            (r#""UDP""#, Protocol::Udp),
            (r#""58""#, Protocol::Icmpv6),
            (r#""47""#, Protocol::Number(47)),
        ] {
            assert_eq!(serde_json::from_str::<Protocol>(raw).unwrap(), want, "{raw}");
        }
        let err = serde_json::from_str::<Protocol>(r#""tpc""#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown protocol \"tpc\""), "{err}");
        assert!(serde_json::from_str::<Protocol>("300").is_err());
    }

    #[test]
    fn vpc_attributes_accept_the_cli_shape_and_plain_booleans() {
        let a: VpcDnsAttributes =
            serde_json::from_str(r#"{"EnableDnsSupport": {"Value": true}, "EnableDnsHostnames": false}"#)
                .unwrap();
        assert_eq!(a.enable_dns_support, Some(AttributeBoolean(true)));
        assert_eq!(a.enable_dns_hostnames, Some(AttributeBoolean(false)));
    }

    #[test]
    fn endpoint_state_is_compared_ignoring_case() {
        let e = VpcEndpoint {
            state: Some("Available".into()),
            ..Default::default()
        };
        assert!(e.is_available());
    }
}

/// A security group's rules as DescribeSecurityGroups shows them: one `IpPermission` per
/// protocol and port range, holding every peer of the rules with it (how the simulated world
/// answers, and how a snapshot is brought up to date from DescribeSecurityGroupRules), in order
/// of each one's first rule.
pub fn ip_permissions<'a>(rules: impl Iterator<Item = &'a SecurityGroupRule>) -> Vec<IpPermission> {
    let mut perms: Vec<IpPermission> = Vec::new();
    for rule in rules {
        let (from, to) = match rule.ip_protocol {
            Protocol::All | Protocol::Number(_) => (-1, -1),
            _ => (rule.from_port.unwrap_or(-1), rule.to_port.unwrap_or(-1)),
        };
        let (from_port, to_port) = match rule.ip_protocol {
            Protocol::All => (None, None),
            _ => (Some(from), Some(to)),
        };
        let index = perms
            .iter()
            .position(|p| {
                p.ip_protocol == rule.ip_protocol && p.from_port == from_port && p.to_port == to_port
            })
            .unwrap_or_else(|| {
                perms.push(IpPermission {
                    ip_protocol: rule.ip_protocol,
                    from_port,
                    to_port,
                    ..Default::default()
                });
                perms.len() - 1
            });
        let perm = &mut perms[index];
        let description = rule.description.clone();
        if let Some(c) = &rule.cidr_ipv4 {
            perm.ip_ranges.push(IpRange {
                cidr_ip: c.clone(),
                description,
            });
        } else if let Some(c) = &rule.cidr_ipv6 {
            perm.ipv6_ranges.push(Ipv6Range {
                cidr_ipv6: c.clone(),
                description,
            });
        } else if let Some(p) = &rule.prefix_list_id {
            perm.prefix_list_ids.push(PrefixListId {
                prefix_list_id: p.clone(),
                description,
            });
        } else if let Some(g) = &rule.referenced_group_info {
            perm.user_id_group_pairs.push(UserIdGroupPair {
                group_id: g.group_id.clone(),
                user_id: g.user_id.clone(),
                vpc_id: g.vpc_id.clone(),
                description,
            });
        }
    }
    perms
}
