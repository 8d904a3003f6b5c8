//! The `InterfaceEndpoint` custom resource: what app teams declare (spec) and what the
//! controller reports (status).
//!
//! Everything the API server can check by itself is in the schema (ID patterns, enums, a
//! non-empty subnet list, and [`immutable`] fields: the endpoint's VPC, service and region);
//! what needs the AWS world is checked by [`crate::analysis`] and [`crate::plan`] and reported
//! as a condition.

pub mod closed_set;
pub mod conditions;
pub mod crd;
pub mod immutable;
pub mod tenancy;
pub mod validation;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(crate) use closed_set::closed_set;
pub use conditions::{ConditionReason, ConditionType};
pub use tenancy::{
    ApprovedBy, EndpointGrant, EndpointGrantSpec, GrantAws, PlanApproval, PlanApprovalSpec, account_of_role,
};

/// API group of the custom resource.
pub const GROUP: &str = "vpce-rollout.dev";
/// Finalizer that makes deletion revoke the controller's rules and delete the endpoint.
pub const FINALIZER: &str = "vpce-rollout.dev/cleanup";
/// Tag key on every AWS resource and rule the controller creates: `<namespace>/<name>`.
pub const OWNER_TAG: &str = "vpce-rollout.dev/owner";
/// Tag key on every AWS resource and rule the controller creates: the object's UID.
pub const UID_TAG: &str = "vpce-rollout.dev/uid";
/// Tag key on a rule handed over from a deleted object to one whose endpoint still needs it:
/// the deleted object's `<namespace>/<name>` (the ownership tags name the new owner).
pub const HANDED_OVER_FROM_TAG: &str = "vpce-rollout.dev/handed-over-from";
/// Tag key on every endpoint and rule a controller started with `--cluster-name` creates or
/// takes over: that name. An endpoint carrying another cluster's is never taken over, changed
/// or deleted: two clusters never manage one endpoint.
pub const CLUSTER_TAG: &str = "vpce-rollout.dev/cluster";
/// Most blocked-client groups kept in status; the rest are counted, not listed.
pub const MAX_STATUS_GROUPS: usize = 20;
/// Most example ENI ids kept per blocked-client group in status.
pub const MAX_GROUP_EXAMPLES: usize = 5;
/// Most rules listed in `status.plan.rules` (missing rules first); the rest are counted.
/// `vpce-rollout plan` lists them all.
pub const MAX_STATUS_RULES: usize = 50;
/// What a plan id is. One definition: the CRD's `status.plan.id`, docs/rollout.md (a test
/// checks it is there word for word) and `vpce-rollout plan` say this;
/// `plan::approval::plan_id` computes it.
pub const PLAN_ID_MEANING: &str = "A hash (10 hex digits) of the rules to add whose mode is \
    `Approval`, or of all the rules to add when none needs approval; once nothing is left to add, \
    of the object's own rules in place, so that it still equals the `spec.approval.planId` that \
    approved them. Any change of these rules changes it.";
/// Most earlier plan ids kept in `status.plan.earlierIds`.
pub const MAX_EARLIER_PLAN_IDS: usize = 10;

/// The endpoint to roll out. It is created with private DNS off; every ENI in the VPC that
/// private DNS would capture is checked for reachability to the endpoint's ENIs on `spec.ports`
/// (tcp/443 by default; security groups and network ACLs, both ways); missing rules are added
/// (or proposed for approval); only then is private DNS enabled.
//
// `KubeSchema` (instead of `JsonSchema`) adds the `x_kube` CEL rules to the spec's schema: an
// endpoint cannot move to another VPC, service or region, so the API server refuses those edits
// where it evaluates CEL (Kubernetes ≥ 1.25). The controller does not rely on it
// (`plan::location`): older clusters accept them, and so does a CRD installed by a release from
// before the rules (Helm never upgrades a chart's crds/).
// clippy reads the repeated `type_ = "string"` of separate printcolumns as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "vpce-rollout.dev",
    version = "v1alpha1",
    kind = "InterfaceEndpoint",
    plural = "interfaceendpoints",
    singular = "interfaceendpoint",
    shortname = "vpce",
    namespaced,
    status = "InterfaceEndpointStatus",
    derive = "PartialEq",
    doc = "An AWS interface VPC endpoint rolled out with private DNS enabled only once every client in the VPC can reach it.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.endpointId"),
    printcolumn(
        name = "Private DNS",
        type_ = "boolean",
        json_path = ".status.privateDnsEnabled"
    ),
    printcolumn(
        name = "Clients",
        type_ = "string",
        description = "Reachable/total clients that private DNS would capture",
        json_path = ".status.clients.ready"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(
        name = "Deletion",
        type_ = "string",
        description = "What deleting the object does to the endpoint: Delete or Retain",
        json_path = ".status.deletionPolicy",
        priority = 1
    )
)]
#[x_kube(validation = immutable::rule(immutable::VPC_ID))]
#[x_kube(validation = immutable::rule(immutable::SERVICE_NAME))]
#[x_kube(validation = immutable::rule(immutable::REGION))]
#[x_kube(validation = immutable::rule(immutable::SERVICE_REGION))]
#[x_kube(validation = kube::core::Rule::new(DNS_RECORDS_RULE).message(DNS_RECORDS_MESSAGE).field_path(".dnsOptions.dnsRecordIpType"))]
#[x_kube(validation = kube::core::Rule::new(SUBNET_CONFIGURATION_SUBNETS_RULE).message(SUBNET_CONFIGURATION_SUBNETS_MESSAGE).field_path(".subnetConfigurations"))]
#[x_kube(validation = kube::core::Rule::new(SUBNET_CONFIGURATION_FAMILIES_RULE).message(SUBNET_CONFIGURATION_FAMILIES_MESSAGE).field_path(".subnetConfigurations"))]
#[x_kube(validation = kube::core::Rule::new(INBOUND_ONLY_RULE).message(INBOUND_ONLY_MESSAGE).field_path(".dnsOptions.privateDnsOnlyForInboundResolverEndpoint"))]
#[serde(rename_all = "camelCase")]
pub struct InterfaceEndpointSpec {
    /// The VPC the endpoint is created in, e.g. `vpc-0a1b2c3d`.
    #[schemars(pattern(r"^vpc-[0-9a-f]{8,17}$"))]
    pub vpc_id: String,

    /// The endpoint service, e.g. `com.amazonaws.ap-northeast-1.logs`.
    #[schemars(length(min = 3, max = 255), pattern(r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$"))]
    pub service_name: String,

    /// Subnets for the endpoint's network interfaces, at most one per Availability Zone.
    // maxLength (what the pattern allows anyway) keeps the CEL rules' estimated cost bounded.
    #[schemars(
        length(min = 1, max = 32),
        inner(length(max = 24), pattern(r"^subnet-[0-9a-f]{8,17}$"))
    )]
    pub subnet_ids: Vec<String>,

    /// Fixed addresses for the endpoint's network interfaces, per subnet of `subnetIds` (the
    /// others get addresses EC2 picks): `ipv4` with `ipAddressType` ipv4 (or absent) or
    /// dualstack, `ipv6` with ipv6 or dualstack (EC2 needs an address of each family the
    /// endpoint has). Each address must be free and inside the subnet's CIDR block. Changing
    /// them later replaces the subnet's endpoint interface, which interrupts the endpoint in that
    /// subnet: a serving change, checked like a subnets edit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["subnetId".into()]))]
    pub subnet_configurations: Vec<SubnetConfiguration>,

    /// Security groups attached to the endpoint's network interfaces.
    #[schemars(length(min = 1, max = 5), inner(pattern(r"^sg-[0-9a-f]{8,17}$")))]
    pub security_group_ids: Vec<String>,

    /// The TCP ports clients connect to the service on: 443 for the AWS services; a
    /// PrivateLink service behind a Network Load Balancer uses its listeners' (e.g. `[5432]`).
    /// Every client must reach every endpoint network interface on each of them; the rules the
    /// controller adds cover them (contiguous ports in one rule, `8080-8082`).
    #[serde(default = "default_ports", skip_serializing_if = "is_default_ports")]
    #[schemars(length(min = 1, max = MAX_PORTS), inner(range(min = 1, max = 65535)))]
    #[schemars(extend("default" = [443]))]
    #[x_kube(merge_strategy = kube::core::ListMerge::Set)]
    pub ports: Vec<u16>,

    /// Endpoint policy as a JSON document; the service's default (full access) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 20480))]
    pub policy: Option<String>,

    /// Extra tags for the endpoint. Keys under `vpce-rollout.dev/` are reserved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,

    /// AWS region; the controller's region (environment, profile or IMDS) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"))]
    pub region: Option<String>,

    /// The region the service is hosted in, for a service in another region (cross-region
    /// PrivateLink): the endpoint is created in `region` with this `ServiceRegion`, and the
    /// service must offer access from `region`. Absent: the service is in the endpoint's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"))]
    pub service_region: Option<String>,

    /// The addresses of the endpoint's network interfaces: `ipv4`, `dualstack` (every subnet
    /// has an IPv6 CIDR too) or `ipv6` (IPv6-only subnets). Absent: EC2's default for the
    /// subnets, and an edit of the endpoint's by someone else is left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<IpAddressType>,

    /// The DNS records the endpoint's names get: which paths clients take to it (A: IPv4,
    /// AAAA: IPv6), and so which paths are checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_options: Option<DnsOptions>,

    /// Private DNS for the service's default name (e.g. `logs.<region>.amazonaws.com`).
    #[serde(default)]
    pub private_dns: PrivateDnsSpec,

    /// Which ENIs in the VPC count as clients of the service.
    #[serde(default)]
    pub clients: ClientSelection,

    /// What the controller may change by itself to open the path from clients to the endpoint.
    #[serde(default)]
    pub remediation: RemediationSpec,

    /// After the switch: what the network really did. A canary reads the VPC Flow Logs for
    /// traffic to the endpoint that was rejected, and reacts (`onReject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationSpec>,

    /// Approval of a remediation plan: set `planId` to the `status.plan.id` you reviewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,

    /// Take over an endpoint that exists already (made by Terraform, CloudFormation, the
    /// console) instead of creating one. It must be in `vpcId`, of `serviceName`, and carry no
    /// other object's or cluster's tags; it is tagged as this object's, and from then on
    /// managed (and deleted with `deletionPolicy: Delete`) like one the controller created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt: Option<Adopt>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        description = "What happens to the endpoint when this object is deleted: `Delete` \
        (revoke the controller's rules and delete the endpoint) or `Retain` (leave both). Absent: the \
        controller's `--default-deletion-policy` (`Retain` unless the platform team chose `Delete`), so \
        that deleting objects (a GitOps prune, an uninstall) never deletes endpoints by surprise."
    )]
    pub deletion_policy: Option<DeletionPolicy>,

    /// Change nothing in AWS for this object: discover, analyse, plan and report what would be
    /// done (`status.observeOnly`), as the controller's `--observe-only` does for every object.
    #[serde(default, skip_serializing_if = "is_false")]
    pub observe_only: bool,
}

/// Private DNS settings.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivateDnsSpec {
    /// Enable private DNS once every client can reach the endpoint.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Enable private DNS even while some clients are blocked. They will lose access.
    #[serde(default)]
    pub force: bool,
}

impl Default for PrivateDnsSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            force: false,
        }
    }
}

/// One entry of `spec.subnetConfigurations`: the addresses of the endpoint's network interface
/// in one subnet (EC2's `SubnetConfiguration`).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubnetConfiguration {
    /// One of `spec.subnetIds`.
    #[schemars(length(max = 24), pattern(r"^subnet-[0-9a-f]{8,17}$"))]
    pub subnet_id: String,
    /// The interface's IPv4 address, e.g. `10.0.1.10`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 15), pattern(IPV4_ADDRESS_PATTERN))]
    pub ipv4: Option<String>,
    /// The interface's IPv6 address, e.g. `2600:1f14:aa:1::10`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 39), pattern(IPV6_ADDRESS_PATTERN))]
    pub ipv6: Option<String>,
}

impl SubnetConfiguration {
    /// Which addresses each entry gives for `spec.ipAddressType`: (IPv4, IPv6). EC2 needs an
    /// address of each family the endpoint has; absent is EC2's default, IPv4.
    pub fn families(address_type: Option<IpAddressType>) -> (bool, bool) {
        match address_type {
            None | Some(IpAddressType::Ipv4) => (true, false),
            Some(IpAddressType::Dualstack) => (true, true),
            Some(IpAddressType::Ipv6) => (false, true),
        }
    }

    /// The addresses named, parsed (the schema's patterns admit only what parses).
    pub fn addresses(&self) -> impl Iterator<Item = std::net::IpAddr> + '_ {
        [self.ipv4.as_deref(), self.ipv6.as_deref()]
            .into_iter()
            .flatten()
            .filter_map(|a| a.parse().ok())
    }
}

/// An IPv4 address in dotted decimal, without leading zeros (as EC2 prints it and
/// `std::net::Ipv4Addr` parses it). A pattern rather than CEL's IP library, which needs
/// Kubernetes 1.30 (the chart supports 1.26).
pub const IPV4_ADDRESS_PATTERN: &str =
    r"^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$";

/// An IPv6 address in hex groups, with at most one `::` (no embedded IPv4 form, no zone).
pub const IPV6_ADDRESS_PATTERN: &str = concat!(
    r"^(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|",
    r"([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|",
    r"([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|",
    r"([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}|",
    r":((:[0-9a-fA-F]{1,4}){1,7}|:))$"
);

/// The CEL rule that keeps `subnetConfigurations` to the spec's subnets (`api::validation` says
/// the same).
pub const SUBNET_CONFIGURATION_SUBNETS_RULE: &str = "!has(self.subnetConfigurations) || \
     self.subnetConfigurations.all(c, c.subnetId in self.subnetIds)";

/// The message of [`SUBNET_CONFIGURATION_SUBNETS_RULE`].
pub const SUBNET_CONFIGURATION_SUBNETS_MESSAGE: &str = "spec.subnetConfigurations: each subnetId must be \
     one of spec.subnetIds (the addresses are those of the endpoint's interface in that subnet)";

/// The CEL rule that gives each subnet configuration an address of each family the endpoint
/// has and no other ([`SubnetConfiguration`]; `api::validation` says the same): EC2 needs an
/// IPv4 address when the endpoint has IPv4 (`ipAddressType` ipv4, absent, or dualstack) and an
/// IPv6 address when it has IPv6 (ipv6 or dualstack).
pub const SUBNET_CONFIGURATION_FAMILIES_RULE: &str = "!has(self.subnetConfigurations) || \
     self.subnetConfigurations.all(c, \
     has(c.ipv4) == (!has(self.ipAddressType) || self.ipAddressType != 'ipv6') && \
     has(c.ipv6) == (has(self.ipAddressType) && self.ipAddressType != 'ipv4'))";

/// The message of [`SUBNET_CONFIGURATION_FAMILIES_RULE`].
pub const SUBNET_CONFIGURATION_FAMILIES_MESSAGE: &str = "spec.subnetConfigurations: each entry gives an \
     address of each family the endpoint has, and no other: ipv4 with spec.ipAddressType ipv4 (or \
     absent), ipv4 and ipv6 with dualstack, ipv6 with ipv6";

/// `spec.ipAddressType`: the addresses EC2 gives the endpoint's network interfaces.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IpAddressType {
    /// IPv4 addresses only.
    Ipv4,
    /// IPv4 and IPv6 addresses (every subnet must have both).
    Dualstack,
    /// IPv6 addresses only (IPv6-only subnets).
    Ipv6,
}

impl IpAddressType {
    /// As EC2 and the spec spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Dualstack => "dualstack",
            Self::Ipv6 => "ipv6",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Ipv4, Self::Dualstack, Self::Ipv6]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

/// `spec.dnsOptions`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsOptions {
    /// The records of the endpoint's names: `ipv4` (A; ipAddressType ipv4 or dualstack),
    /// `ipv6` (AAAA; ipv6 or dualstack), `dualstack` (A and AAAA; dualstack) or
    /// `service-defined` (A, and AAAA for the regional and zonal names; dualstack). Absent:
    /// EC2's default, and an edit of the endpoint's by someone else is left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_record_ip_type: Option<DnsRecordIpType>,
    /// `true`: the service's private DNS name is answered privately only to queries that come
    /// through a Route 53 Resolver inbound endpoint (clients outside the VPC, e.g. on premises);
    /// clients in the VPC keep resolving the public name and go through the service's gateway
    /// endpoint, which must exist in the VPC (S3 and DynamoDB). Needs `privateDns.enabled`: it
    /// is set with the change that turns private DNS on. Absent: EC2's default (false), and an
    /// edit of the endpoint's by someone else is left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_only_for_inbound_resolver_endpoint: Option<bool>,
}

impl DnsOptions {
    /// `spec.dnsOptions.privateDnsOnlyForInboundResolverEndpoint` is true.
    pub fn inbound_only(options: Option<&DnsOptions>) -> bool {
        options.and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint) == Some(true)
    }
}

/// The DNS records EC2 creates for the endpoint's names.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub enum DnsRecordIpType {
    /// A records.
    #[serde(rename = "ipv4")]
    Ipv4,
    /// A and AAAA records.
    #[serde(rename = "dualstack")]
    Dualstack,
    /// AAAA records.
    #[serde(rename = "ipv6")]
    Ipv6,
    /// A records for every name, AAAA for the regional and zonal names.
    #[serde(rename = "service-defined")]
    ServiceDefined,
}

impl DnsRecordIpType {
    pub const ALL: [Self; 4] = [Self::Ipv4, Self::Dualstack, Self::Ipv6, Self::ServiceDefined];

    /// As EC2 and the spec spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Dualstack => "dualstack",
            Self::Ipv6 => "ipv6",
            Self::ServiceDefined => "service-defined",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Whether the names get A records (clients connect over IPv4).
    pub fn has_a(self) -> bool {
        self != Self::Ipv6
    }

    /// Whether the names clients use get AAAA records (clients with IPv6 connect over IPv6).
    /// `private_name`: clients use the service's private DNS name (private DNS on), which
    /// `service-defined` gives A records only; its AAAA records are the endpoint's own regional
    /// and zonal names'.
    pub fn has_aaaa(self, private_name: bool) -> bool {
        match self {
            Self::Ipv4 => false,
            Self::ServiceDefined => !private_name,
            Self::Ipv6 | Self::Dualstack => true,
        }
    }

    /// The endpoint address types EC2 accepts these records with.
    pub fn allowed_with(self) -> &'static [IpAddressType] {
        match self {
            Self::Ipv4 => &[IpAddressType::Ipv4, IpAddressType::Dualstack],
            Self::Ipv6 => &[IpAddressType::Ipv6, IpAddressType::Dualstack],
            Self::Dualstack | Self::ServiceDefined => &[IpAddressType::Dualstack],
        }
    }
}

/// The CEL rule that keeps `dnsOptions.dnsRecordIpType` to the records EC2 creates for
/// `ipAddressType` ([`DnsRecordIpType::allowed_with`]; `api::validation` says the same).
pub const DNS_RECORDS_RULE: &str = "!has(self.ipAddressType) || !has(self.dnsOptions) || \
     !has(self.dnsOptions.dnsRecordIpType) || \
     (self.dnsOptions.dnsRecordIpType == 'ipv4' && self.ipAddressType != 'ipv6') || \
     (self.dnsOptions.dnsRecordIpType == 'ipv6' && self.ipAddressType != 'ipv4') || \
     self.ipAddressType == 'dualstack'";

/// The CEL rule that keeps `dnsOptions.privateDnsOnlyForInboundResolverEndpoint: true` to specs
/// with private DNS on, as EC2 requires (`api::validation` says the same).
pub const INBOUND_ONLY_RULE: &str = "!has(self.dnsOptions) || \
     !has(self.dnsOptions.privateDnsOnlyForInboundResolverEndpoint) || \
     !self.dnsOptions.privateDnsOnlyForInboundResolverEndpoint || \
     !has(self.privateDns) || !has(self.privateDns.enabled) || self.privateDns.enabled";

/// The message of [`INBOUND_ONLY_RULE`].
pub const INBOUND_ONLY_MESSAGE: &str = "spec.dnsOptions.privateDnsOnlyForInboundResolverEndpoint: true needs \
     spec.privateDns.enabled: true (it says to whom the private DNS name is answered)";

/// The message of [`DNS_RECORDS_RULE`].
pub const DNS_RECORDS_MESSAGE: &str = "spec.dnsOptions.dnsRecordIpType must fit spec.ipAddressType: ipv4 \
     records need ipv4 or dualstack, ipv6 records ipv6 or dualstack, dualstack and service-defined \
     records dualstack";

/// The port of every AWS service's API, and the only one before `spec.ports` existed.
pub const DEFAULT_PORT: u16 = 443;
/// Most ports in `spec.ports`: each may need a rule per client group, and a security group holds
/// 60 rules each way by default.
pub const MAX_PORTS: usize = 16;

fn default_ports() -> Vec<u16> {
    vec![DEFAULT_PORT]
}

fn is_default_ports(ports: &[u16]) -> bool {
    ports == [DEFAULT_PORT]
}

fn default_true() -> bool {
    true
}

/// Which network interfaces in the VPC count as clients.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSelection {
    /// When set, only ENIs carrying at least one of these security groups are clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(pattern(r"^sg-[0-9a-f]{8,17}$")))]
    pub security_group_ids: Option<Vec<String>>,
    /// ENIs that are never clients, in addition to the built-in interface types.
    #[serde(default)]
    pub exclude: ClientExclusions,
    /// Evidence of who really calls the service, read from logs AWS already records: each
    /// client is reported with or without it (queries in the lookback, how many, last seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<ClientEvidenceSpec>,
    /// `All` (default): every client the configuration shows is checked. `Evidence`: only
    /// clients with evidence are checked and get rules; the others are listed as not evidenced
    /// (exclusion `NotEvidenced`), never dropped silently. Needs `evidence`; while evidence
    /// cannot be read, every client is checked.
    #[serde(default, skip_serializing_if = "ClientScope::is_all")]
    pub scope: ClientScope,
}

/// Which clients are checked.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ClientScope {
    /// Every client the configuration shows.
    #[default]
    All,
    /// Only clients the evidence shows calling the service.
    Evidence,
}

impl ClientScope {
    fn is_all(&self) -> bool {
        *self == Self::All
    }
}

/// Where the evidence of who calls the service is read.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientEvidenceSpec {
    /// Route 53 Resolver query logs of the VPC, delivered to CloudWatch Logs: the records whose
    /// `query_name` is the service's private DNS name (or a name under it) show who resolves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver_query_logs: Option<ResolverQueryLogs>,
}

/// A CloudWatch Logs log group Route 53 Resolver query logging delivers to.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolverQueryLogs {
    /// The log group's name, e.g. `/aws/route53resolver/vpc-0f3e5a7c9b1d24680`.
    #[schemars(length(min = 1, max = 512), pattern(r"^[\.\-_/#A-Za-z0-9]+$"))]
    pub log_group_name: String,
    /// How far back to look: a number and a unit (`s`, `m`, `h`, `d`), at least 1m, at most
    /// 90d. Default `7d`.
    #[serde(default = "default_lookback")]
    #[schemars(pattern(r"^[0-9]{1,7}[smhd]$"))]
    pub lookback: String,
}

/// The default `lookback`: a week covers weekly jobs.
pub const DEFAULT_LOOKBACK: &str = "7d";

fn default_lookback() -> String {
    DEFAULT_LOOKBACK.to_string()
}

/// The canary after the switch.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationSpec {
    /// The VPC's flow logs, delivered to CloudWatch Logs: from the moment private DNS is on,
    /// the records of traffic to the endpoint's network interfaces with action `REJECT` are
    /// read at every pass.
    pub flow_logs: FlowLogsVerification,
    /// What a rejected connection to the endpoint leads to.
    #[serde(default)]
    pub on_reject: OnReject,
}

/// A CloudWatch Logs log group a VPC flow log delivers to.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowLogsVerification {
    /// The log group's name (the flow log's `LogGroupName`).
    #[schemars(length(min = 1, max = 512), pattern(r"^[\.\-_/#A-Za-z0-9]+$"))]
    pub log_group_name: String,
    /// The canary window: how long after private DNS went on `onReject.action` applies, and how
    /// far back each read looks. A number and a unit (`s`, `m`, `h`, `d`), at least 1m, at most
    /// 90d. Default `15m`.
    #[serde(default = "default_canary_window")]
    #[schemars(pattern(r"^[0-9]{1,7}[smhd]$"))]
    pub window: String,
}

/// The default canary window: flow log records reach CloudWatch Logs within minutes.
pub const DEFAULT_CANARY_WINDOW: &str = "15m";

fn default_canary_window() -> String {
    DEFAULT_CANARY_WINDOW.to_string()
}

/// The reaction to a rejected connection, in the canary window and after it.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnReject {
    /// In the canary window. `Remediate` (default): the rejected source becomes a client of the
    /// analysis (one the configuration may have missed) and the rules the remediation modes
    /// (and the grant) allow are added at once. `Alert`: Degraded and a Warning Event, the
    /// canary changes nothing. `Rollback`: private DNS is turned off at once (phase
    /// `RolledBack`) and kept off until the plan for the rejected sources is applied; refused
    /// when it would cut off more clients (those whose subnets have no route to the internet)
    /// than it restores, unless `force`.
    #[serde(default = "RejectAction::remediate")]
    pub action: RejectAction,
    /// After the canary window, the same reading goes on at every pass with this reaction
    /// (default `Alert`).
    #[serde(default = "RejectAction::alert")]
    pub after_window: RejectAction,
    /// `Rollback` even when turning private DNS off cuts off more clients than it restores.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
}

impl Default for OnReject {
    fn default() -> Self {
        Self {
            action: RejectAction::Remediate,
            after_window: RejectAction::Alert,
            force: false,
        }
    }
}

/// What the canary does about a rejected connection.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RejectAction {
    /// Add the rejected source to the clients and the rules the modes allow, at once.
    Remediate,
    /// Report it (Degraded, Warning Event); change nothing.
    Alert,
    /// Turn private DNS off at once and keep it off until the plan for the rejected sources is
    /// applied (phase RolledBack).
    Rollback,
}

impl RejectAction {
    fn remediate() -> Self {
        Self::Remediate
    }

    fn alert() -> Self {
        Self::Alert
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Remediate => "Remediate",
            Self::Alert => "Alert",
            Self::Rollback => "Rollback",
        }
    }
}

/// ENIs excluded from the clients.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientExclusions {
    /// ENIs carrying any of these security groups are not clients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^sg-[0-9a-f]{8,17}$")))]
    pub security_group_ids: Vec<String>,
    /// These ENIs are not clients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^eni-[0-9a-f]{8,17}$")))]
    pub network_interface_ids: Vec<String>,
    /// ENIs of these interface types (as `describe-network-interfaces` prints them, e.g.
    /// `lambda`, `interface`) are not clients, in addition to the built-in list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^[A-Za-z][A-Za-z0-9_\-]*$")))]
    pub interface_types: Vec<String>,
}

/// What the controller may change by itself.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemediationSpec {
    /// Ingress rules on the endpoint's security groups admitting client security groups.
    #[serde(default = "RemediationMode::auto")]
    pub endpoint_ingress: RemediationMode,
    /// Egress rules on client security groups towards the endpoint's security groups.
    #[serde(default = "RemediationMode::approval")]
    pub client_egress: RemediationMode,
}

impl Default for RemediationSpec {
    fn default() -> Self {
        Self {
            endpoint_ingress: RemediationMode::Auto,
            client_egress: RemediationMode::Approval,
        }
    }
}

/// How one kind of missing rule is handled.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
pub enum RemediationMode {
    /// Add the rules at once.
    Auto,
    /// Add the rules once `spec.approval.planId` equals `status.plan.id`.
    Approval,
    /// Never change security groups; wait until someone else opens the path.
    Off,
}

impl RemediationMode {
    fn auto() -> Self {
        Self::Auto
    }
    fn approval() -> Self {
        Self::Approval
    }
}

/// Approval of one exact remediation plan.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// The `status.plan.id` being approved.
    #[schemars(pattern(r"^[0-9a-f]{6,64}$"))]
    pub plan_id: String,
}

/// An existing endpoint to take over.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Adopt {
    /// The endpoint, e.g. `vpce-0a1b2c3d4e5f67890`.
    #[schemars(pattern(r"^vpce-[0-9a-f]{8,17}$"))]
    pub vpc_endpoint_id: String,
}

// What happens to the endpoint when the object is deleted. (No doc comment: the schema of the
// optional fields that hold it keeps their own descriptions.)
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Revoke the controller's rules and delete the endpoint.
    Delete,
    /// Leave the endpoint and the controller's rules in place. The controller's default.
    #[default]
    Retain,
}

impl DeletionPolicy {
    /// As the spec, the flag and the docs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delete => "Delete",
            Self::Retain => "Retain",
        }
    }

    /// Parses `Delete` or `Retain` (the `--default-deletion-policy` flag).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "Delete" => Ok(Self::Delete),
            "Retain" => Ok(Self::Retain),
            _ => Err(format!("invalid deletion policy {text:?}: Delete or Retain")),
        }
    }
}

closed_set! {
    /// Where the rollout stands: what happens next, or what someone must do next.
    #[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
    #[schemars(description = RolloutPhase::schema_description())]
    pub enum RolloutPhase {
        #[default]
        Pending => "Nothing decided yet (a new object).",
        Adopting => "An endpoint that exists already (`spec.adopt`, or found by this object's owner \
            tag after a restore) is being tagged as this object's; nothing else about it changes.",
        Creating => "CreateVpcEndpoint (private DNS off) is being called, or the endpoint it returned \
            moments ago is not listed by EC2 yet.",
        Provisioning => "The endpoint is `pending`: EC2 is still setting it up.",
        AwaitingAcceptance => "The endpoint is `pendingAcceptance`: the service's owner must accept it.",
        Verifying => "The endpoint is being changed to match the spec (subnets, security groups, \
            policy), or the change waits for the record TTL; the clients are checked again once EC2 \
            reports it.",
        Remediating => "Adding the rules `spec.remediation` allows (`Auto`, or `Approval` once approved).",
        AwaitingApproval => "Rules wait for approval: set `spec.approval.planId` to `status.plan.id`.",
        Blocked => "Clients are blocked and the controller may not fix it (a mode `Off`, network ACLs), \
            or a spec change is held for that reason.",
        EnablingPrivateDns => "Every client can reach the endpoint (or `spec.privateDns.force` says to \
            go ahead); private DNS is being enabled.",
        Ready => "The endpoint is as the spec asks and nobody is cut off (unless \
            `spec.privateDns.force` asked for it).",
        Degraded => "Private DNS is on and clients are cut off (a rule revoked or the endpoint's \
            security groups swapped by hand, a new client), also in the pass that repairs it; or the \
            endpoint is being deleted outside the controller.",
        Failed => "Cannot progress until the spec or the account is fixed (the `Ready` condition says \
            which): an invalid spec, an endpoint `failed`, `expired` or rejected, acceptance timed out, \
            a private DNS precondition, IAM, a quota.",
        Forbidden => "No EndpointGrant admits the object (condition `Granted` says why): no AWS call is \
            made for it.",
        Deleting => "The object is being deleted: its `deletionPolicy` is being carried out.",
        RolledBack => "The canary found connections to the endpoint rejected after the switch and \
            `spec.verification.onReject` says `Rollback`: private DNS is turned off (or was) and stays off \
            until the plan for the rejected sources is applied (condition `Verified` names them, \
            `status.rollback` keeps them); then it goes on again and the canary window starts again.",
    }
}

impl RolloutPhase {
    /// The `status.phase` description in the CRD: every phase with its meaning, so that
    /// `kubectl explain interfaceendpoint.status.phase` says what each one means.
    fn schema_description() -> String {
        let mut text = String::from("Where the rollout stands:");
        for phase in Self::ALL {
            text.push_str(&format!("\n- {phase}: {}", phase.meaning()));
        }
        text
    }
}

/// What the controller observed and did. Small by construction: lists that grow with the VPC
/// (clients) are summarised and bounded.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceEndpointStatus {
    #[serde(default)]
    pub phase: RolloutPhase,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    /// The endpoint's state as EC2 reports it (`pending`, `available`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_state: Option<String>,
    #[serde(default)]
    pub private_dns_enabled: bool,
    /// The service's private DNS name (e.g. `logs.ap-northeast-1.amazonaws.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_name: Option<String>,
    /// DNS names of the endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_entries: Vec<String>,
    /// The endpoint's network interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<EndpointNetworkInterface>,
    /// Clients that private DNS would capture, and whether they can reach the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<ClientSummary>,
    /// The remediation plan: rules to add so every fixable client can reach the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanStatus>,
    /// Since when private DNS has been seen on (this endpoint, without a break): the canary
    /// window (`spec.verification`) starts here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_on_since: Option<String>,
    /// What the canary read of the flow logs (`spec.verification`), once private DNS is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationSummary>,
    /// Private DNS was turned off by the canary (`onReject: Rollback`): the sources it was
    /// rejected for, kept (as clients of the analysis) while it stays off, so that a restart
    /// does not forget why; cleared once private DNS is on again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackStatus>,
    /// When the clients were last verified against the AWS world (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified_time: Option<String>,
    /// When the controller last turned private DNS on again after it was turned off outside the
    /// controller (RFC 3339); the `PrivateDnsEnabled` condition says so while it stays on. The
    /// emergency brake that holds is `spec.privateDns.enabled: false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_reenabled_time: Option<String>,
    /// The keys of `spec.tags` the controller put on the endpoint. A key dropped from
    /// `spec.tags` is deleted from the endpoint; tags set by anyone else are never touched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spec_tag_keys: Vec<String>,
    /// The service's owner must accept each endpoint (DescribeVpcEndpointServices
    /// `AcceptanceRequired`): a new endpoint waits in `pendingAcceptance` until they do. Absent
    /// when the service does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptance_required: Option<bool>,
    /// Since when the controller has seen private DNS off on the endpoint, without a look in
    /// between that saw it on (RFC 3339). Clients may hold the service's name, resolved to the
    /// endpoint, for the record TTL after it went off: rules they need are revoked, and paths
    /// narrowed, only once this is at least that long ago (or the endpoint is gone). Kept in
    /// status so that a restart does not forget it; absent, the wait starts again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_off_since: Option<String>,
    /// The pass that wrote this status turned private DNS off (or tried, and cannot tell
    /// whether the call took effect, its answer lost) and has not seen it off yet: the record
    /// TTL starts at the first look that does (`privateDnsOffSince`), not before.
    #[serde(default, skip_serializing_if = "is_false")]
    pub private_dns_off_unseen: bool,
    /// When CreateVpcEndpoint last succeeded (RFC 3339). EC2 is eventually consistent: an
    /// endpoint created moments ago may not be listed yet, and is waited for, not created again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_create_time: Option<String>,
    /// When a CreateVpcEndpoint was last sent and answered by a timeout or a 5xx (RFC 3339): it
    /// may have made an endpoint whose id the controller does not know, and which EC2 may not
    /// list yet; or, in a deletion, when its first look found no endpoint (a create whose
    /// status never landed leaves no trace). Deletion does not finish while that endpoint may
    /// still show up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_create_unanswered_time: Option<String>,
    /// How many times the endpoint was re-created after being deleted outside the controller.
    /// Part of the next CreateVpcEndpoint ClientToken: EC2 answers a reused token with the
    /// endpoint it created for it, even a deleted one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub endpoint_recreations: u32,
    /// The VPC the endpoint was created in. From then on the controller observes, and deletion
    /// cleans up, there: an edited `spec.vpcId` is reported, never followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_vpc_id: Option<String>,
    /// The service the endpoint was created for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_service_name: Option<String>,
    /// The region the endpoint was created in: `spec.region`, or the controller's region at the
    /// time when the spec names none (the endpoint stays there if the controller's changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_region: Option<String>,
    /// The region of the service the endpoint was created for, when it is hosted in another
    /// (`spec.serviceRegion` at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_service_region: Option<String>,
    /// The AWS account the endpoint (and the object's rules) were created in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_account_id: Option<String>,
    /// The role assumed to create the endpoint (an EndpointGrant's `aws.roleArn`); absent: the
    /// controller's own identity. Deletion cleans up through it, whatever the grants say then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_role_arn: Option<String>,
    /// The external id that role was assumed with (not a secret: it guards the role's trust
    /// policy against confused deputies, and deletion needs it once the grant is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_external_id: Option<String>,
    /// The EndpointGrant that admits the object; absent while none does (phase Forbidden).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        description = "What deleting this object does now: `spec.deletionPolicy`, or the \
        controller's default when the spec names none."
    )]
    pub deletion_policy: Option<DeletionPolicy>,
    /// Present while the controller only observes this object: it changes nothing in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observe_only: Option<ObserveOnlyStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The controller observes only: what it would change in AWS, and does not.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObserveOnlyStatus {
    /// Why: `--observe-only` (the controller's setting, for every object) or `spec.observeOnly`.
    pub by: String,
    /// The AWS calls the controller would make now, one line each, the operation first; at
    /// most 20 (the last line counts the rest). Empty: it would change nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub would_change: Vec<String>,
}

/// One network interface of the endpoint.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointNetworkInterface {
    pub network_interface_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
}

/// Clients private DNS would capture: counts, and the blocked ones grouped.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSummary {
    pub total: u32,
    pub reachable: u32,
    pub blocked: u32,
    /// ENIs in the VPC that are not clients (endpoint ENIs, detached ENIs, ENIs of AWS services
    /// that never call the endpoint's service, `spec.clients` exclusions); `exclusions` says why.
    #[serde(default)]
    pub excluded: u32,
    /// `reachable/total`, for the `Clients` column.
    pub ready: String,
    /// Blocked clients grouped by security groups and failing checks, largest first, at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<BlockedClientGroup>,
    /// Groups left out of `groups` to keep the status small.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_groups: u32,
    /// The ENIs that are not clients, grouped by reason, largest first, at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<ExclusionGroup>,
    /// Reasons left out of `exclusions` to keep the status small.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_exclusions: u32,
    /// What the evidence (`spec.clients.evidence`) shows of the clients; absent when the spec
    /// names none or it could not be read (condition `EvidenceRead`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceSummary>,
}

/// What the canary read of the flow logs: the window, how, and the sources whose connections to
/// the endpoint were rejected (at most 20, the most recent first).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationSummary {
    pub log_group_name: String,
    /// When the canary window started (private DNS seen on) and ends.
    pub window_start: String,
    pub window_end: String,
    /// The reaction that applies now (`Remediate`, `Alert` or `Rollback`: in the window or
    /// after it).
    pub reaction: String,
    /// The last read: from, to (the records' timestamps), when.
    pub read_from: String,
    pub read_to: String,
    pub read_time: String,
    /// Where the record format came from: `DescribeFlowLogs`, or `Default` (no flow log of
    /// the VPC delivers to the group, or DescribeFlowLogs could not be read).
    pub log_format_from: String,
    /// REJECT records read (of every destination; those to the endpoint are `rejected`).
    pub records_read: u32,
    /// `false` when the scan stopped at its bound: what it found is a lower bound.
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RejectedSource>,
}

/// A rollback of private DNS by the canary.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollbackStatus {
    /// When private DNS was turned off for the rejected sources (RFC 3339).
    pub time: String,
    /// The endpoint it was turned off on.
    pub endpoint_id: String,
    /// The sources whose connections were rejected (at most 20): clients of the analysis until
    /// private DNS is on again, so it goes on again only once their path is open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RejectedSource>,
    /// The clients that lost their path to the service when private DNS went off (their
    /// subnets have no route to the internet), at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cut_off: Vec<String>,
    /// Rolled back although it cut off more clients than it restored (`onReject.force`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub forced: bool,
}

/// A source address whose connections to the endpoint were rejected in the read.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectedSource {
    pub address: String,
    /// The client it is: an ENI of the VPC, `outside:<address>`, or absent when the analysis
    /// does not check it (excluded by `spec.clients`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The endpoint network interface the records were captured on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_network_interface_id: Option<String>,
    pub port: u16,
    pub records: u64,
    pub last_seen: String,
    /// Whether the analysis finds its path open now (a rule added since the records).
    pub reachable_now: bool,
}

/// What the Resolver query logs show: which clients resolved the service's name in the lookback.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceSummary {
    /// The log group read.
    pub log_group_name: String,
    /// The lookback read, e.g. `7d`.
    pub lookback: String,
    /// When it was read (RFC 3339).
    pub read_time: String,
    /// `LogsInsights` (one aggregate query) or `FilterLogEvents` (a bounded scan, where Logs
    /// Insights is not served).
    pub method: String,
    /// Whether every record of the lookback was read (a scan stops at its bound).
    pub complete: bool,
    /// Bytes Logs Insights scanned: what the read is billed by.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub bytes_scanned: u64,
    /// Clients of the VPC with queries of the service's name in the lookback.
    pub evidenced: u32,
    /// Clients of the VPC without any (under `scope: Evidence`, excluded as `NotEvidenced`).
    pub not_evidenced: u32,
    /// Clients outside the VPC, whose queries came through a Resolver inbound endpoint
    /// (`outside:<address>` among the clients).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub outside: u32,
    /// Source addresses of the VPC's queries that no network interface holds now (an
    /// instance gone since): not mapped by guess.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unmatched: u32,
    /// Clients with evidence, most queries first, at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<EvidencedClient>,
    /// Some clients without evidence, at most 5.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_evidenced_examples: Vec<String>,
}

/// One client the Resolver query logs show resolving the service's name.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvidencedClient {
    /// The ENI, or `outside:<address>` for a client outside the VPC.
    pub network_interface_id: String,
    pub address: String,
    /// Queries of the service's name in the lookback.
    pub queries: u64,
    /// The last one (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Whether it can reach the endpoint (for a client outside the VPC: as far as AWS shows).
    pub reachable: bool,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// ENIs of the VPC that are not clients, for one reason.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExclusionGroup {
    /// `EndpointInterface`, `Detached`, `ServiceInterface` (an AWS service's ENI that never
    /// calls the endpoint's service), `ExcludedInterfaceType`, `ExcludedInterface`,
    /// `ExcludedSecurityGroup`, `NotSelected` (by `spec.clients`) or `NoAddress`.
    pub reason: String,
    /// The reason in words: for `ServiceInterface`, which service owns the ENIs, how they were
    /// recognised and why they are not clients.
    pub message: String,
    /// How many ENIs are excluded for it.
    pub count: u32,
    /// Some of them, at most 5.
    pub network_interface_ids: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Blocked clients that share security groups and failing checks.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockedClientGroup {
    /// The security groups the group's ENIs carry (sorted).
    pub security_group_ids: Vec<String>,
    /// Every failing check: `EndpointIngress`, `ClientEgress`, `ClientSubnetNacl`,
    /// `EndpointSubnetNacl`.
    pub reasons: Vec<String>,
    /// How many ENIs are in the group.
    pub count: u32,
    /// Some of the group's ENIs, at most 5.
    pub network_interface_ids: Vec<String>,
    /// Whether the plan's rules fix the group (NACL blocks are never fixed by the controller).
    pub fixable: bool,
}

/// The remediation plan as reported in status.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanStatus {
    #[schemars(description = format!("The plan id, what `spec.approval.planId` approves. {PLAN_ID_MEANING}"))]
    pub id: String,
    /// Ids this status reported before `id`, newest first, at most 10: an approval naming one
    /// of them approves an earlier plan (`StalePlanId`); any other id was never issued here
    /// (`UnknownPlanId`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_ids: Vec<String>,
    /// Whether some rules wait for approval.
    pub requires_approval: bool,
    /// Whether nothing waits for approval: no rule needs it, or `spec.approval.planId` equals
    /// `id` (the `PlanApproved` condition says which).
    #[serde(default)]
    pub approved: bool,
    /// The rules to add (`applied: false`) and the object's own rules present in AWS
    /// (`applied: true`), missing ones first, at most 50.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<PlannedRule>,
    /// Rules left out of `rules` to keep the status small.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_rules: u32,
    /// Blocks the controller cannot fix (network ACLs, or a mode set to `Off`), grouped by check
    /// and cause, most clients first, at most 20 (`vpce-rollout plan` lists them all, in the
    /// same shape).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfixable_blocks: Vec<UnfixableBlock>,
    /// Causes left out of `unfixableBlocks` to keep the status small.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_unfixable_blocks: u32,
}

/// Clients blocked for one cause the controller cannot fix: a network ACL (it never changes
/// them), a remediation mode set to `Off`, or a security group it may not edit (not granted by
/// the object's EndpointGrant, or owned by another account).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnfixableBlock {
    /// The failing check: `ClientSubnetNacl`, `EndpointSubnetNacl`, or `EndpointIngress` /
    /// `ClientEgress` when its mode is `Off` or its group may not be edited.
    pub check: String,
    /// The cause: the network ACL and its rule, the mode and what to add by hand, or why the
    /// group may not be edited (`not granted: …`, another account's group).
    pub detail: String,
    /// How many clients it blocks.
    pub count: u32,
    /// Some of them (at most 5 in status; all of them in `vpce-rollout plan -o json`).
    pub network_interface_ids: Vec<String>,
}

/// One security group rule of the plan.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedRule {
    /// The security group the rule is added to.
    pub group_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    pub protocol: String,
    pub from_port: u16,
    pub to_port: u16,
    /// The security group the rule refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_group_id: Option<String>,
    /// The CIDR the rule refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// `Auto`, `Approval` or `Off`: how `spec.remediation` treats the rule.
    pub mode: RemediationMode,
    /// Whether the rule exists in AWS now.
    #[serde(default)]
    pub applied: bool,
    /// The object (`<namespace>/<name>`) that added the rule and, when it was deleted, handed
    /// it over to this one because this object's endpoint still needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_over_from: Option<String>,
}

/// The object's identity as it appears in ownership tags.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Owner {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl Owner {
    /// The value of [`OWNER_TAG`].
    pub fn owner_tag(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The tags the controller puts on everything it creates.
    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (OWNER_TAG.to_string(), self.owner_tag()),
            (UID_TAG.to_string(), self.uid.clone()),
        ])
    }

    /// Whether `tags` mark a resource as created for this object (both tags must match:
    /// a re-created object with the same name is a different owner).
    pub fn owns<'a>(&self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        let (mut owner, mut uid) = (false, false);
        for (k, v) in tags {
            if k == OWNER_TAG && self.is_owner_tag(v) {
                owner = true;
            }
            if k == UID_TAG && v == self.uid {
                uid = true;
            }
        }
        owner && uid
    }

    /// Whether `value` is [`Owner::owner_tag`], without making it: every pass asks this of
    /// every endpoint's and rule's tags in the VPC (a thousand objects' endpoints in a shared
    /// VPC made the string a fifth of a pass's allocations).
    fn is_owner_tag(&self, value: &str) -> bool {
        value
            .strip_prefix(self.namespace.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            == Some(self.name.as_str())
    }

    /// The owner that `tags` (both ownership tags) name, if they name one.
    pub fn from_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Owner> {
        let (mut owner, mut uid) = (None, None);
        for (k, v) in tags {
            match k {
                OWNER_TAG => owner = Some(v),
                UID_TAG => uid = Some(v),
                _ => {}
            }
        }
        let (namespace, name) = owner?.split_once('/')?;
        Some(Owner {
            namespace: namespace.to_string(),
            name: name.to_string(),
            uid: uid.filter(|u| !u.is_empty())?.to_string(),
        })
    }

    /// EC2 ClientToken for CreateVpcEndpoint: the UID (36 chars, within EC2's 64).
    pub fn client_token(&self) -> String {
        format!("vpce-rollout-{}", self.uid)
    }
}

impl InterfaceEndpoint {
    /// The object's owner identity; `None` until the API server has assigned a UID.
    pub fn owner(&self) -> Option<Owner> {
        Some(Owner {
            namespace: self.metadata.namespace.clone()?,
            name: self.metadata.name.clone()?,
            uid: self.metadata.uid.clone()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_defaults_match_the_contract() {
        let spec: InterfaceEndpointSpec = serde_json::from_value(serde_json::json!({
            "vpcId": "vpc-0123456789abcdef0",
            "serviceName": "com.amazonaws.ap-northeast-1.logs",
            "subnetIds": ["subnet-01234567"],
            "securityGroupIds": ["sg-01234567"],
        }))
        .unwrap();
        assert!(spec.private_dns.enabled);
        assert!(!spec.private_dns.force);
        assert_eq!(spec.remediation.endpoint_ingress, RemediationMode::Auto);
        assert_eq!(spec.remediation.client_egress, RemediationMode::Approval);
        assert_eq!(spec.deletion_policy, None, "the controller's default applies");
        assert_eq!(DeletionPolicy::default(), DeletionPolicy::Retain, "the safe one");
        assert!(spec.approval.is_none());
    }

    #[test]
    fn ownership_needs_both_tags() {
        let owner = Owner {
            namespace: "ns".into(),
            name: "logs".into(),
            uid: "u-1".into(),
        };
        assert!(owner.owns([(OWNER_TAG, "ns/logs"), (UID_TAG, "u-1")]));
        assert!(!owner.owns([(OWNER_TAG, "ns/logs"), (UID_TAG, "u-2")]));
        assert!(!owner.owns([(OWNER_TAG, "ns/logs")]));
        assert!(owner.client_token().len() <= 64);
    }

    #[test]
    fn the_owner_tag_is_matched_exactly_without_being_made() {
        let owners = [
            ("ns", "logs"),
            ("ns", "log"),
            ("n", "s/logs"),
            ("", "logs"),
            ("ns", ""),
            ("a-b", "c.d"),
        ];
        let values = [
            "ns/logs", "ns/log", "ns/logs2", "ns/logs/", "n/s/logs", "ns//logs", "/logs", "ns/", "ns",
            "logs", "", "/", "nslogs", "a-b/c.d", "a-b/c.d ", " a-b/c.d", "NS/logs",
        ];
        for (namespace, name) in owners {
            let owner = Owner {
                namespace: namespace.into(),
                name: name.into(),
                uid: "u-1".into(),
            };
            for value in values {
                assert_eq!(
                    owner.is_owner_tag(value),
                    value == owner.owner_tag(),
                    "{namespace:?} {name:?} against {value:?}"
                );
                assert_eq!(
                    owner.owns([(OWNER_TAG, value), (UID_TAG, "u-1")]),
                    value == owner.owner_tag()
                );
            }
        }
    }
}
