//! The EC2 port: every EC2 call the engine makes, as one trait.
//!
//! Two implementations: [`sdk`] (aws-sdk-ec2, the real thing) and [`sim`] (an in-memory world
//! with the AWS behaviour the engine relies on, on virtual time). Both return the AWS JSON shapes
//! of [`crate::model`] and errors classified into [`ErrorKind`], so the engine never sees an SDK
//! type and the simulated world cannot drift from the wire (see the contract tests).

pub mod budget;
pub mod errors;
pub mod guard;
pub mod observation;
pub mod observe;
pub mod sdk;
pub mod sim;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use crate::model::{
    FlowLog, NetworkAcl, NetworkInterface, PrefixList, PrefixListEntry, Protocol, RouteTable, SecurityGroup,
    SecurityGroupRule, ServiceDetail, Subnet, Tag, Vpc, VpcDnsAttributes, VpcEndpoint,
};

/// Every EC2 operation the port performs: a bounded label set for metrics and rate limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ec2Operation {
    DescribeVpcs,
    DescribeVpcAttribute,
    DescribeSubnets,
    DescribeSecurityGroups,
    DescribeSecurityGroupRules,
    DescribeNetworkInterfaces,
    DescribeNetworkAcls,
    DescribeVpcEndpoints,
    DescribeVpcEndpointServices,
    DescribeManagedPrefixLists,
    GetManagedPrefixListEntries,
    DescribeFlowLogs,
    DescribeRouteTables,
    CreateVpcEndpoint,
    ModifyVpcEndpoint,
    DeleteVpcEndpoints,
    AuthorizeSecurityGroupIngress,
    AuthorizeSecurityGroupEgress,
    RevokeSecurityGroupIngress,
    RevokeSecurityGroupEgress,
    CreateTags,
    DeleteTags,
}

impl Ec2Operation {
    pub const ALL: [Ec2Operation; 22] = [
        Self::DescribeVpcs,
        Self::DescribeVpcAttribute,
        Self::DescribeSubnets,
        Self::DescribeSecurityGroups,
        Self::DescribeSecurityGroupRules,
        Self::DescribeNetworkInterfaces,
        Self::DescribeNetworkAcls,
        Self::DescribeVpcEndpoints,
        Self::DescribeVpcEndpointServices,
        Self::DescribeManagedPrefixLists,
        Self::GetManagedPrefixListEntries,
        Self::DescribeFlowLogs,
        Self::DescribeRouteTables,
        Self::CreateVpcEndpoint,
        Self::ModifyVpcEndpoint,
        Self::DeleteVpcEndpoints,
        Self::AuthorizeSecurityGroupIngress,
        Self::AuthorizeSecurityGroupEgress,
        Self::RevokeSecurityGroupIngress,
        Self::RevokeSecurityGroupEgress,
        Self::CreateTags,
        Self::DeleteTags,
    ];

    /// The EC2 API action name (also the IAM action after `ec2:`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DescribeVpcs => "DescribeVpcs",
            Self::DescribeVpcAttribute => "DescribeVpcAttribute",
            Self::DescribeSubnets => "DescribeSubnets",
            Self::DescribeSecurityGroups => "DescribeSecurityGroups",
            Self::DescribeSecurityGroupRules => "DescribeSecurityGroupRules",
            Self::DescribeNetworkInterfaces => "DescribeNetworkInterfaces",
            Self::DescribeNetworkAcls => "DescribeNetworkAcls",
            Self::DescribeVpcEndpoints => "DescribeVpcEndpoints",
            Self::DescribeVpcEndpointServices => "DescribeVpcEndpointServices",
            Self::DescribeManagedPrefixLists => "DescribeManagedPrefixLists",
            Self::GetManagedPrefixListEntries => "GetManagedPrefixListEntries",
            Self::DescribeFlowLogs => "DescribeFlowLogs",
            Self::DescribeRouteTables => "DescribeRouteTables",
            Self::CreateVpcEndpoint => "CreateVpcEndpoint",
            Self::ModifyVpcEndpoint => "ModifyVpcEndpoint",
            Self::DeleteVpcEndpoints => "DeleteVpcEndpoints",
            Self::AuthorizeSecurityGroupIngress => "AuthorizeSecurityGroupIngress",
            Self::AuthorizeSecurityGroupEgress => "AuthorizeSecurityGroupEgress",
            Self::RevokeSecurityGroupIngress => "RevokeSecurityGroupIngress",
            Self::RevokeSecurityGroupEgress => "RevokeSecurityGroupEgress",
            Self::CreateTags => "CreateTags",
            Self::DeleteTags => "DeleteTags",
        }
    }

    /// AuthorizeSecurityGroupEgress or AuthorizeSecurityGroupIngress: one port method, two EC2
    /// actions (and two IAM actions, rate buckets and metric labels).
    pub fn authorize(egress: bool) -> Self {
        if egress {
            Self::AuthorizeSecurityGroupEgress
        } else {
            Self::AuthorizeSecurityGroupIngress
        }
    }

    /// RevokeSecurityGroupEgress or RevokeSecurityGroupIngress (see [`Ec2Operation::authorize`]).
    pub fn revoke(egress: bool) -> Self {
        if egress {
            Self::RevokeSecurityGroupEgress
        } else {
            Self::RevokeSecurityGroupIngress
        }
    }

    /// Whether the operation changes the AWS world.
    pub fn is_mutation(self) -> bool {
        matches!(
            self,
            Self::CreateVpcEndpoint
                | Self::ModifyVpcEndpoint
                | Self::DeleteVpcEndpoints
                | Self::AuthorizeSecurityGroupIngress
                | Self::AuthorizeSecurityGroupEgress
                | Self::RevokeSecurityGroupIngress
                | Self::RevokeSecurityGroupEgress
                | Self::CreateTags
                | Self::DeleteTags
        )
    }
}

impl fmt::Display for Ec2Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of failure an EC2 error is: decides retry, backoff and the condition reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// `RequestLimitExceeded` (or the SDK's throttling): back off.
    Throttled,
    /// `*.NotFound` for something created moments ago (eventual consistency): retry soon.
    NotYetVisible,
    /// `*.NotFound`: it does not exist.
    NotFound,
    /// `InvalidPermission.Duplicate`: the rule exists already.
    Duplicate,
    /// `IdempotentParameterMismatch`: the ClientToken was used with other parameters.
    IdempotencyMismatch,
    /// A precondition or quota: DNS attributes, conflicting private DNS, no private DNS name,
    /// rules or endpoints limit.
    Precondition,
    /// `UnauthorizedOperation`, `AccessDenied*`: the IAM policy lacks the action.
    AccessDenied,
    /// A malformed or inconsistent request: bad IDs, a subnet in another VPC, ...
    Invalid,
    /// 5xx, timeouts, connection failures: retry with backoff.
    Transient,
    /// Not sent: the controller's own EC2 API budget ([`budget`]) has no token for the call
    /// now, or EC2 throttled it and the budget shrank. An expected wait, not a failure: the
    /// error's `retry_after` says when to come back.
    WaitingForApiBudget,
}

impl ErrorKind {
    /// The error category, spelled as everywhere users read it: metric labels (`category`,
    /// `outcome`), logs, docs/aws.md, and the condition reason where a failure of this kind is
    /// reported with one of its own (`Throttled`, `AccessDenied`, `InvalidRequest`,
    /// `PreconditionFailed`, `TransientError`, `WaitingForApiBudget`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "Throttled",
            Self::NotYetVisible => "NotYetVisible",
            Self::NotFound => "NotFound",
            Self::Duplicate => "Duplicate",
            Self::IdempotencyMismatch => "IdempotencyMismatch",
            Self::Precondition => "PreconditionFailed",
            Self::AccessDenied => "AccessDenied",
            Self::Invalid => "InvalidRequest",
            Self::Transient => "TransientError",
            Self::WaitingForApiBudget => "WaitingForApiBudget",
        }
    }

    /// Whether retrying the same call later can succeed without anyone changing anything.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Throttled | Self::NotYetVisible | Self::Transient | Self::WaitingForApiBudget
        )
    }

    /// Whether the failed call may have been carried out all the same: a timeout, a cut
    /// connection or a 5xx does not say whether EC2 acted before the answer was lost. Every
    /// other failure is EC2's answer that it did not.
    pub fn may_have_taken_effect(self) -> bool {
        self == Self::Transient
    }
}

/// A failed EC2 call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation} failed ({code}): {message}")]
pub struct Ec2Error {
    pub kind: ErrorKind,
    pub operation: Ec2Operation,
    /// The EC2 error code (`RequestLimitExceeded`, `InvalidGroup.NotFound`, ...), or a short
    /// description of a transport failure.
    pub code: String,
    pub message: String,
    /// The id AWS gave the failed request (CloudTrail records failed calls too, with their
    /// `errorCode`); `None` when the request never reached AWS or was refused before it was sent.
    pub request_id: Option<String>,
    /// When the call can be made again: set by the API budget on the calls it held back
    /// ([`ErrorKind::WaitingForApiBudget`]), `None` on every other failure.
    pub retry_after: Option<std::time::Duration>,
}

impl Ec2Error {
    pub fn new(
        kind: ErrorKind,
        operation: Ec2Operation,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            operation,
            code: code.into(),
            message: message.into(),
            request_id: None,
            retry_after: None,
        }
    }

    /// An error from an EC2 error code and message, classified by [`errors::classify`] (the one
    /// table shared by the SDK adapter and the simulated world).
    pub fn from_code(operation: Ec2Operation, code: impl Into<String>, message: impl Into<String>) -> Self {
        let code = code.into();
        let message = message.into();
        Self {
            kind: errors::classify(&code, &message),
            operation,
            code,
            message,
            request_id: None,
            retry_after: None,
        }
    }

    /// The same error, with the id AWS gave the request.
    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }
}

/// AWS's answer to a mutation: what it returned, and the id AWS gave the request. CloudTrail
/// records the call under that id (`requestID`), in the account and region the port acts in
/// ([`Ec2::account`], [`Ec2::region`]): the three together find it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt<T> {
    pub value: T,
    /// `None` when the answer carried no request id (an EC2 look-alike that sends none).
    pub request_id: Option<String>,
}

impl<T> Receipt<T> {
    pub fn new(value: T, request_id: Option<String>) -> Self {
        Self { value, request_id }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Receipt<U> {
        Receipt {
            value: f(self.value),
            request_id: self.request_id,
        }
    }
}

/// Where CloudTrail records one call: the request id AWS gave it, the account and the region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallTrace {
    pub request_id: Option<String>,
    /// The account the call was made in, or why it is not known.
    pub account: Result<String, AccountUnknown>,
    pub region: Option<String>,
}

impl fmt::Display for CallTrace {
    /// `request id 1f0e…, account 123456789012, region ap-northeast-1`; what is unknown says so.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.request_id {
            Some(id) => write!(f, "request id {id}")?,
            None => f.write_str("no request id")?,
        }
        match &self.account {
            Ok(account) => write!(f, ", account {account}")?,
            Err(why) => write!(f, ", account unknown ({why})")?,
        }
        match &self.region {
            Some(region) => write!(f, ", region {region}"),
            None => f.write_str(", region unknown"),
        }
    }
}

/// The account a port acts in could not be learned (STS unreachable, no credentials yet). Only
/// the audit trail needs the account, so this never stops a rollout: the Events and log lines
/// say the account is unknown, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AccountUnknown(pub String);

/// The longest ClientToken EC2 accepts ("up to 64 ASCII characters"): the adapter refuses a
/// longer one before sending it, the simulated world answers it as EC2 does.
pub const CLIENT_TOKEN_MAX_LEN: usize = 64;

/// Parameters of CreateVpcEndpoint (interface endpoints only, private DNS always off).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateVpcEndpoint {
    pub vpc_id: String,
    pub service_name: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub policy_document: Option<String>,
    /// Idempotency token: the same token with the same parameters returns the same endpoint.
    pub client_token: String,
    /// `ServiceRegion`: the region of a service hosted in another one (cross-region
    /// PrivateLink); `None` for a service in the endpoint's region.
    pub service_region: Option<String>,
    /// `IpAddressType`; `None`: EC2's default for the subnets.
    pub ip_address_type: Option<crate::api::IpAddressType>,
    /// `DnsOptions.DnsRecordIpType`; `None`: EC2's default.
    pub dns_record_ip_type: Option<crate::api::DnsRecordIpType>,
    /// `SubnetConfigurations`: fixed addresses of the interfaces in some of the subnets; empty:
    /// EC2 picks every address.
    pub subnet_configurations: Vec<crate::api::SubnetConfiguration>,
    pub tags: Vec<Tag>,
}

/// Parameters of ModifyVpcEndpoint. `None` and empty lists leave things as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModifyVpcEndpoint {
    pub vpc_endpoint_id: String,
    pub private_dns_enabled: Option<bool>,
    pub add_subnet_ids: Vec<String>,
    pub remove_subnet_ids: Vec<String>,
    pub add_security_group_ids: Vec<String>,
    pub remove_security_group_ids: Vec<String>,
    pub policy_document: Option<String>,
    pub reset_policy: bool,
    pub ip_address_type: Option<crate::api::IpAddressType>,
    /// `DnsOptions.DnsRecordIpType`.
    pub dns_record_ip_type: Option<crate::api::DnsRecordIpType>,
    /// `DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint`: EC2 takes it only with private
    /// DNS on (in the request that turns it on, or after).
    pub private_dns_only_for_inbound_resolver_endpoint: Option<bool>,
    /// `SubnetConfigurations`: the addresses of the interfaces in added subnets, or new ones for
    /// a subnet the endpoint is in, which EC2 does by replacing that subnet's interface (the
    /// endpoint is interrupted in that subnet meanwhile).
    pub subnet_configurations: Vec<crate::api::SubnetConfiguration>,
}

/// What a security group rule refers to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RulePeer {
    Group(String),
    CidrIpv4(String),
    CidrIpv6(String),
    PrefixList(String),
}

/// One rule to authorize, with its description and (ownership) tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRule {
    pub protocol: Protocol,
    pub from_port: i32,
    pub to_port: i32,
    pub peer: RulePeer,
    pub description: String,
}

/// AuthorizeSecurityGroupIngress/Egress: rules added to one group in one call, all tagged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeRules {
    pub group_id: String,
    pub egress: bool,
    pub rules: Vec<NewRule>,
    pub tags: Vec<Tag>,
}

/// RevokeSecurityGroupIngress/Egress: rules of one group, by id, all of them the owner's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokeOwnedRules {
    pub group_id: String,
    pub egress: bool,
    pub rule_ids: Vec<String>,
    /// The ownership tags (key and value) every rule must carry: the SDK adapter refuses to
    /// revoke a rule that lacks one, or carries it with another value.
    pub owner_tags: Vec<Tag>,
}

/// CreateTags on rules, by id, all of them the current owner's: how a rule is handed over to
/// another object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetagOwnedRules {
    pub rule_ids: Vec<String>,
    /// The ownership tags (key and value) every rule must carry now: the SDK adapter refuses to
    /// retag a rule that lacks one, or carries it with another value.
    pub owner_tags: Vec<Tag>,
    /// The tags to set: the new owner's, and who handed the rules over.
    pub tags: Vec<Tag>,
}

/// Filter for DescribeSecurityGroupRules: by groups, and/or by tags (every filter given must
/// match).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleFilter {
    pub group_ids: Vec<String>,
    /// The tag `key` with this value.
    pub tag: Option<(String, String)>,
    /// The tag `key` with any of these values: one `tag:<key>` filter whose values EC2 ORs, so
    /// that the owned rules of every object sharing a VPC's observation come in one call
    /// ([`observation`]). At most [`MAX_FILTER_VALUES`] values.
    pub tag_any_of: Option<(String, Vec<String>)>,
}

/// The most filter values EC2 accepts in one describe call (`FilterLimitExceeded` beyond).
pub const MAX_FILTER_VALUES: usize = 200;

/// Filter for DescribeVpcEndpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointFilter {
    pub vpc_id: Option<String>,
    pub vpc_endpoint_ids: Vec<String>,
    pub service_name: Option<String>,
    pub tag: Option<(String, String)>,
}

/// Every EC2 call the engine makes. Describe calls return everything (all pages).
///
/// Implementations must be cheap to share (`&self`), and classify every error into
/// [`ErrorKind`]. Nothing here decides anything.
pub trait Ec2: Send + Sync {
    /// The region this port works in, as resolved (a port serves one region); `None` when the
    /// client was built without one. Recorded as `status.endpointRegion` at creation.
    fn region(&self) -> Option<String>;

    /// The AWS account the port's credentials act in: where CloudTrail records its mutations.
    /// Learned once per port (the SDK adapter asks STS GetCallerIdentity) and cached; a failure
    /// is asked again next time.
    fn account(&self) -> impl Future<Output = Result<String, AccountUnknown>> + Send;

    fn describe_vpcs(&self, vpc_ids: &[String]) -> impl Future<Output = Result<Vec<Vpc>, Ec2Error>> + Send;
    /// Both DNS attributes of a VPC (two DescribeVpcAttribute calls).
    fn describe_vpc_dns_attributes(
        &self,
        vpc_id: &str,
    ) -> impl Future<Output = Result<VpcDnsAttributes, Ec2Error>> + Send;
    fn describe_subnets(&self, vpc_id: &str) -> impl Future<Output = Result<Vec<Subnet>, Ec2Error>> + Send;
    fn describe_security_groups(
        &self,
        vpc_id: &str,
    ) -> impl Future<Output = Result<Vec<SecurityGroup>, Ec2Error>> + Send;
    fn describe_security_group_rules(
        &self,
        filter: &RuleFilter,
    ) -> impl Future<Output = Result<Vec<SecurityGroupRule>, Ec2Error>> + Send;
    fn describe_network_interfaces(
        &self,
        vpc_id: &str,
    ) -> impl Future<Output = Result<Vec<NetworkInterface>, Ec2Error>> + Send;
    fn describe_network_acls(
        &self,
        vpc_id: &str,
    ) -> impl Future<Output = Result<Vec<NetworkAcl>, Ec2Error>> + Send;
    fn describe_vpc_endpoints(
        &self,
        filter: &EndpointFilter,
    ) -> impl Future<Output = Result<Vec<VpcEndpoint>, Ec2Error>> + Send;
    /// The services named (all when none is), in the port's region, or as offered from
    /// `service_regions` (`ServiceRegions`: services hosted in other regions, cross-region
    /// PrivateLink).
    fn describe_vpc_endpoint_services(
        &self,
        service_names: &[String],
        service_regions: &[String],
    ) -> impl Future<Output = Result<Vec<ServiceDetail>, Ec2Error>> + Send;
    fn describe_managed_prefix_lists(
        &self,
        prefix_list_ids: &[String],
    ) -> impl Future<Output = Result<Vec<PrefixList>, Ec2Error>> + Send;
    fn get_managed_prefix_list_entries(
        &self,
        prefix_list_id: &str,
    ) -> impl Future<Output = Result<Vec<PrefixListEntry>, Ec2Error>> + Send;
    /// The flow logs that deliver to the CloudWatch Logs group `log_group_name` (the canary
    /// learns the records' format from them).
    fn describe_flow_logs(
        &self,
        log_group_name: &str,
    ) -> impl Future<Output = Result<Vec<FlowLog>, Ec2Error>> + Send;
    /// The route tables of `vpc_id` (a canary rollback asks which clients keep a path to the
    /// service's public name once private DNS goes off).
    fn describe_route_tables(
        &self,
        vpc_id: &str,
    ) -> impl Future<Output = Result<Vec<RouteTable>, Ec2Error>> + Send;

    // Mutations answer with a Receipt (and fail with an Ec2Error) carrying AWS's request id:
    // every change the controller makes can be found in CloudTrail.

    fn create_vpc_endpoint(
        &self,
        request: &CreateVpcEndpoint,
    ) -> impl Future<Output = Result<Receipt<VpcEndpoint>, Ec2Error>> + Send;
    fn modify_vpc_endpoint(
        &self,
        request: &ModifyVpcEndpoint,
    ) -> impl Future<Output = Result<Receipt<()>, Ec2Error>> + Send;
    /// Deletes endpoints; EC2 reports failures per item, returned keyed by endpoint id.
    fn delete_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
    ) -> impl Future<Output = Result<Receipt<BTreeMap<String, Ec2Error>>, Ec2Error>> + Send;
    /// Authorizes all rules in one call (ingress or egress per `request.egress`); returns the
    /// created rules with their ids.
    fn authorize_security_group_rules(
        &self,
        request: &AuthorizeRules,
    ) -> impl Future<Output = Result<Receipt<Vec<SecurityGroupRule>>, Ec2Error>> + Send;
    /// Revokes rules of one group by rule id (ingress or egress per `request.egress`).
    fn revoke_security_group_rules(
        &self,
        request: &RevokeOwnedRules,
    ) -> impl Future<Output = Result<Receipt<()>, Ec2Error>> + Send;
    /// CreateTags on security-group rules: adds `request.tags`, replacing the values of keys a
    /// rule already carries. How a rule another object still needs is handed over to it (its
    /// ownership tags) instead of being revoked. A rule that does not exist is NotFound.
    fn tag_security_group_rules(
        &self,
        request: &RetagOwnedRules,
    ) -> impl Future<Output = Result<Receipt<()>, Ec2Error>> + Send;
    /// CreateTags on endpoints: adds `tags`, replacing the values of keys an endpoint already
    /// carries. How an existing endpoint becomes an object's (adoption, a restored object) and
    /// this cluster's.
    fn tag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        tags: &[Tag],
    ) -> impl Future<Output = Result<Receipt<()>, Ec2Error>> + Send;
    /// DeleteTags on endpoints, by key: how a tag dropped from `spec.tags` leaves the endpoint.
    /// Never called without keys (DeleteTags without keys deletes every tag: the SDK adapter
    /// refuses), and never with the controller's own keys (`vpce-rollout.dev/`: refused too).
    fn untag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        keys: &[String],
    ) -> impl Future<Output = Result<Receipt<()>, Ec2Error>> + Send;
}

/// The EC2 port for a region could not be set up (no region configured, bad endpoint URL).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

/// The role to assume (STS AssumeRole) to act for one object in another account: an
/// EndpointGrant's `aws`, with the session named after the object and tagged with it, so that
/// CloudTrail in that account shows who asked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AssumeRole {
    pub role_arn: String,
    pub external_id: Option<String>,
    /// `RoleSessionName`: `vpce-rollout-<namespace>-<name>`, cut to STS's 64 characters.
    pub session_name: String,
    /// Session tags: the object's namespace and name.
    pub session_tags: Vec<(String, String)>,
}

/// Session tag key of the object's namespace.
pub const SESSION_TAG_NAMESPACE: &str = "vpce-rollout.dev/namespace";
/// Session tag key of the object's name.
pub const SESSION_TAG_NAME: &str = "vpce-rollout.dev/name";
/// STS's limit on `RoleSessionName`.
const SESSION_NAME_MAX_LEN: usize = 64;

impl AssumeRole {
    /// The role `role_arn` (with `external_id`), assumed for the object `owner`.
    pub fn for_object(role_arn: &str, external_id: Option<&str>, owner: &crate::api::Owner) -> Self {
        // Namespaces and names are DNS labels and subdomains: every character is one STS
        // accepts in a session name ([\w+=,.@-]).
        let mut session_name = format!("vpce-rollout-{}-{}", owner.namespace, owner.name);
        session_name.truncate(SESSION_NAME_MAX_LEN);
        Self {
            role_arn: role_arn.to_string(),
            external_id: external_id.map(str::to_string),
            session_name,
            session_tags: vec![
                (SESSION_TAG_NAMESPACE.to_string(), owner.namespace.clone()),
                (SESSION_TAG_NAME.to_string(), owner.name.clone()),
            ],
        }
    }
}

/// No EC2 port could be set up for an object in another account.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountAccessError {
    /// No region, a bad endpoint URL: as for the controller's own account.
    #[error(transparent)]
    Configuration(#[from] ProviderError),
    /// STS refused or failed the AssumeRole call; no other call was made.
    #[error("STS AssumeRole of {role_arn} failed ({code}): {message}")]
    AssumeRole {
        role_arn: String,
        code: String,
        message: String,
    },
}

/// Makes EC2 ports per region (`spec.region`, or the default region when `None`), with the
/// controller's own identity or a role assumed in another account.
pub trait Ec2Provider: Send + Sync + 'static {
    type Client: Ec2 + 'static;
    fn client(
        &self,
        region: Option<&str>,
    ) -> impl Future<Output = Result<std::sync::Arc<Self::Client>, ProviderError>> + Send;

    /// The EC2 port of `region` in the account `role` reaches: every call of the port is made
    /// with the role's credentials. Credentials are kept per role, session and region, and
    /// assumed again before they expire.
    fn client_as(
        &self,
        region: Option<&str>,
        role: &AssumeRole,
    ) -> impl Future<Output = Result<std::sync::Arc<Self::Client>, AccountAccessError>> + Send;

    /// The region `client(None)` works in, when known: the controller's region, which an
    /// EndpointGrant without `regions` admits.
    fn default_region(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Owner;

    #[test]
    fn a_session_is_named_and_tagged_after_its_object_within_stss_limits() {
        let owner = Owner {
            namespace: "team-a".into(),
            name: "logs".into(),
            uid: "u".into(),
        };
        let role = AssumeRole::for_object("arn:aws:iam::111122223333:role/vpce-rollout", Some("x1"), &owner);
        assert_eq!(role.session_name, "vpce-rollout-team-a-logs");
        assert_eq!(
            role.session_tags,
            [
                (SESSION_TAG_NAMESPACE.to_string(), "team-a".to_string()),
                (SESSION_TAG_NAME.to_string(), "logs".to_string()),
            ]
        );
        let long = Owner {
            name: "a".repeat(253),
            ..owner
        };
        let role = AssumeRole::for_object("arn:aws:iam::111122223333:role/vpce-rollout", None, &long);
        assert_eq!(role.session_name.len(), 64, "STS refuses longer session names");
        assert!(role.session_name.starts_with("vpce-rollout-team-a-aaa"));
        assert_eq!(
            role.session_tags[1].1.len(),
            253,
            "tag values take up to 256 characters"
        );
    }
}
