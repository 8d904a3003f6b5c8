//! ENIs that AWS services put in a VPC and that are not clients: the one table of them
//! ([`NOT_CLIENTS`]), a row per kind of ENI with the reason, and how a row recognises an ENI
//! from what DescribeNetworkInterfaces gives (`InterfaceType`, `Description`,
//! `RequesterManaged`, `RequesterId`).
//!
//! The rule when in doubt: an ENI stays a client. Excluding a real client would let private DNS
//! cut it off; keeping a non-client costs a rule nobody needs or a "blocked" someone reads. So a
//! row is here only when AWS documents (or shows in its own output) both the fields that
//! recognise the ENI and that the resource behind it calls no AWS API through the VPC, and a
//! row names the services such ENIs do call, for which they stay clients.
//!
//! Requester-managed ENIs that are clients, hence not here: Lambda (`lambda`, and the older
//! `AWS Lambda VPC ENI-…` of type `interface`), ECS tasks in awsvpc mode (`arn:aws:ecs:…`),
//! EKS branch ENIs of pods with security groups, Fargate, RDS Proxy (it reads Secrets Manager),
//! DMS and Redshift (they read S3, KMS, Secrets Manager), SageMaker, Glue, CodeBuild, and any
//! ENI this table does not know.

use std::fmt;
use std::sync::LazyLock;

use crate::model::NetworkInterface;

/// How a row recognises an ENI. Descriptions are compared as prefixes, case-sensitively, as the
/// service writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sign {
    /// `InterfaceType`, compared after [`normalize_interface_type`]: EC2 sets it, nobody else
    /// can.
    InterfaceType(&'static str),
    /// `RequesterManaged: true` and a `Description` starting with this: written by the service
    /// on an ENI only the service can change.
    ManagedDescription(&'static str),
    /// A `Description` starting with `.0` on an ENI whose `RequesterId` ends with `.1`: the
    /// service creates the ENI through a role in the account (so it is not requester-managed)
    /// and the role session names the service.
    ServiceRoleDescription(&'static str, &'static str),
    /// A `Description` starting with this, whoever created the ENI: for a description that
    /// names the service's own resource ids, which nobody else has reason to write.
    Description(&'static str),
}

impl fmt::Display for Sign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sign::InterfaceType(t) => write!(f, "interface type {t}"),
            Sign::ManagedDescription(d) => write!(f, "requester-managed, description {:?}", prefix(d)),
            Sign::ServiceRoleDescription(d, r) => {
                write!(f, "description {:?}, requester *{r}", prefix(d))
            }
            Sign::Description(d) => write!(f, "description {:?}", prefix(d)),
        }
    }
}

/// `"ELB …"`: a prefix, shown as one.
fn prefix(d: &str) -> String {
    format!("{}…", d.trim_end())
}

/// One kind of ENI that is not a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NotAClient {
    pub sign: Sign,
    /// Who puts such ENIs in the VPC: `Amazon RDS`.
    pub owner: &'static str,
    /// Why they never call the endpoint's service, in a phrase.
    pub reason: &'static str,
    /// Services (the end of `com.amazonaws.<region>.<service>`) such ENIs do call: for an
    /// endpoint of one of them, they stay clients.
    pub calls: &'static [&'static str],
}

impl NotAClient {
    /// Whether the ENI is of this kind (the interface type aside, which the caller looks up
    /// once per spelling).
    fn describes(&self, eni: &NetworkInterface) -> bool {
        let description = eni.description.as_deref().unwrap_or_default();
        match self.sign {
            Sign::InterfaceType(_) => false,
            Sign::ManagedDescription(d) => eni.requester_managed == Some(true) && description.starts_with(d),
            Sign::ServiceRoleDescription(d, r) => {
                description.starts_with(d) && eni.requester_id.as_deref().is_some_and(|id| id.ends_with(r))
            }
            Sign::Description(d) => description.starts_with(d),
        }
    }

    /// Whether such ENIs call `service` (the endpoint's, `logs`, `s3`, ...).
    pub fn calls(&self, service: Option<&str>) -> bool {
        service.is_some_and(|s| self.calls.contains(&s))
    }
}

/// `<owner> (<sign>): <reason>`, e.g. `Amazon RDS (requester-managed, description
/// "RDSNetworkInterface…"): ...`.
impl fmt::Display for NotAClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.owner, self.sign, self.reason)
    }
}

const fn by_type(t: &'static str, owner: &'static str, reason: &'static str) -> NotAClient {
    NotAClient {
        sign: Sign::InterfaceType(t),
        owner,
        reason,
        calls: &[],
    }
}

/// The ENIs that are not clients. Interface types are EC2's own list (the `InterfaceType` enum of
/// DescribeNetworkInterfaces, aws-sdk-ec2 `NetworkInterfaceType`); not in it, so clients:
/// `interface` (instances, and everything below that has no type of its own), `lambda`,
/// `branch` and `trunk` (ECS/EKS ENI trunking), `efa`.
pub const NOT_CLIENTS: &[NotAClient] = &[
    by_type(
        "nat_gateway",
        "NAT gateway",
        "forwards other hosts' traffic, resolves no names itself",
    ),
    by_type(
        "vpc_endpoint",
        "interface VPC endpoint",
        "another endpoint's ENI only receives traffic",
    ),
    by_type(
        "gateway_load_balancer",
        "Gateway Load Balancer",
        "forwards traffic to appliances",
    ),
    by_type(
        "gateway_load_balancer_endpoint",
        "Gateway Load Balancer endpoint",
        "forwards traffic to a Gateway Load Balancer",
    ),
    by_type(
        "transit_gateway",
        "transit gateway",
        "forwards traffic between attachments",
    ),
    NotAClient {
        sign: Sign::InterfaceType("load_balancer"),
        owner: "Elastic Load Balancing",
        reason: "load balancer nodes proxy to targets; ELB publishes their logs and metrics from outside the VPC",
        calls: ELB_CALLS,
    },
    by_type(
        "network_load_balancer",
        "Network Load Balancer",
        "forwards traffic to targets",
    ),
    by_type("efs", "Amazon EFS", "a mount target only serves NFS"),
    by_type(
        "global_accelerator_managed",
        "AWS Global Accelerator",
        "forwards accelerator traffic to endpoints",
    ),
    by_type(
        "api_gateway_managed",
        "Amazon API Gateway",
        "a VPC link forwards API Gateway traffic to private integrations",
    ),
    by_type(
        "iot_rules_managed",
        "AWS IoT",
        "rule actions reach destinations inside the VPC only",
    ),
    by_type(
        "quicksight",
        "Amazon QuickSight",
        "reaches data sources inside the VPC only",
    ),
    by_type(
        "aws_codestar_connections_managed",
        "AWS CodeStar Connections",
        "reaches the code host inside the VPC only",
    ),
    by_type("efa-only", "EFA", "carries no IP address, only EFA traffic"),
    // RDS (and Aurora, Neptune, DocumentDB, which run on it) writes "RDSNetworkInterface" on
    // requester-managed ENIs with RequesterId "amazon-rds" (describe-network-interfaces output
    // of a DB instance, e.g. in public ENI-attribution tools). A DB instance serves connections,
    // but some engines call AWS APIs from inside the VPC: Aurora MySQL invokes Lambda, reads
    // and writes S3 and reaches KMS for activity streams ("Enabling network communication from
    // Amazon Aurora MySQL to other AWS services", Aurora User Guide); Aurora machine learning
    // calls SageMaker, Comprehend and Bedrock; RDS for PostgreSQL's aws_s3 and aws_lambda
    // extensions call S3 and Lambda. For endpoints of those services, RDS ENIs stay clients.
    NotAClient {
        sign: Sign::ManagedDescription("RDSNetworkInterface"),
        owner: "Amazon RDS",
        reason: "a database instance serves connections and calls no other AWS API from the VPC",
        calls: &[
            "s3",
            "lambda",
            "kms",
            "kms-fips",
            "sagemaker.runtime",
            "comprehend",
            "bedrock-runtime",
        ],
    },
    // Application and Classic Load Balancers have InterfaceType "interface"; ELB writes
    // "ELB app/<name>/<id>" or "ELB <name>" on requester-managed ENIs (RequesterId "amazon-elb"),
    // how AWS tells users to find a load balancer's ENIs ("How do I find the IP addresses of my
    // load balancer", AWS re:Post knowledge center). An ALB authenticating users with Cognito
    // calls the user pool's endpoints from its nodes (its security group must allow that
    // outbound, "Authenticate users using an Application Load Balancer"), so it stays a client
    // of a cognito-idp endpoint.
    NotAClient {
        sign: Sign::ManagedDescription("ELB "),
        owner: "Elastic Load Balancing",
        reason: "load balancer nodes proxy to targets; ELB publishes their logs and metrics from outside the VPC",
        calls: ELB_CALLS,
    },
    // Older interface endpoints' ENIs have InterfaceType "interface" and the description
    // "VPC Endpoint Interface vpce-…" (the example output of "Requester-managed network
    // interfaces", EC2 User Guide, lists both types for endpoint ENIs).
    NotAClient {
        sign: Sign::ManagedDescription("VPC Endpoint Interface"),
        owner: "interface VPC endpoint",
        reason: "another endpoint's ENI only receives traffic",
        calls: &[],
    },
    // "Each Amazon EKS created network interface has the text Amazon EKS <cluster-name> in its
    // description" (EKS User Guide, VPC and subnet requirements). These cross-account ENIs let
    // the control plane reach nodes (kubectl exec and logs, webhooks); they are created through
    // the cluster role, so RequesterManaged is false and RequesterId is "<role id>:AmazonEKS"
    // (describe-network-interfaces output in the re:Invent 2018 NET410 workshop). The control
    // plane calls AWS APIs from its own VPC.
    NotAClient {
        sign: Sign::ServiceRoleDescription("Amazon EKS ", ":AmazonEKS"),
        owner: "Amazon EKS control plane",
        reason: "the API server reaches nodes through it and calls AWS APIs from its own VPC",
        calls: &[],
    },
    // "For each IP address that you specify for the outbound endpoint, Resolver creates an
    // Amazon VPC elastic network interface" (Route 53 Developer Guide, inbound endpoints
    // likewise); its description is "Route 53 Resolver: rslvr-in-…:rni-…" or "rslvr-out-…".
    // Resolver endpoints carry DNS queries (port 53, DoH on 443 to resolvers, not AWS APIs).
    NotAClient {
        sign: Sign::Description("Route 53 Resolver: rslvr-"),
        owner: "Route 53 Resolver endpoint",
        reason: "forwards DNS queries and calls no AWS API",
        calls: &[],
    },
];

/// ALBs authenticating users with Amazon Cognito call the user pool from the VPC.
const ELB_CALLS: &[&str] = &["cognito-idp"];

/// Lower case without `_` and `-`: `natGateway`, `nat_gateway` and `NAT-Gateway` are one type.
pub fn normalize_interface_type(t: &str) -> String {
    t.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The row of an interface type, if it has one (`t` normalised).
pub fn by_interface_type(normalized: &str) -> Option<&'static NotAClient> {
    BY_INTERFACE_TYPE
        .iter()
        .find(|(t, _)| t == normalized)
        .map(|(_, row)| *row)
}

/// The rows signed by an interface type, in table order, each with its type normalised once
/// (every analysis looks types up).
static BY_INTERFACE_TYPE: LazyLock<Vec<(String, &'static NotAClient)>> = LazyLock::new(|| {
    NOT_CLIENTS
        .iter()
        .filter_map(|row| match row.sign {
            Sign::InterfaceType(t) => Some((normalize_interface_type(t), row)),
            _ => None,
        })
        .collect()
});

/// The first description row describing the ENI.
pub fn by_description(eni: &NetworkInterface) -> Option<&'static NotAClient> {
    eni.description.as_ref()?;
    NOT_CLIENTS.iter().find(|row| row.describes(eni))
}

/// `logs` for `com.amazonaws.ap-northeast-1.logs`, `sagemaker.runtime` for
/// `com.amazonaws.us-east-1.sagemaker.runtime`; `None` for a service that is not AWS's own
/// (`com.amazonaws.vpce.<region>.vpce-svc-…`).
pub fn aws_service(service_name: &str) -> Option<&str> {
    let rest = service_name.strip_prefix("com.amazonaws.")?;
    if rest.starts_with("vpce.") {
        return None;
    }
    let (_region, service) = rest.split_once('.')?;
    Some(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_services_are_named_by_what_follows_the_region() {
        assert_eq!(aws_service("com.amazonaws.ap-northeast-1.logs"), Some("logs"));
        assert_eq!(
            aws_service("com.amazonaws.us-east-1.sagemaker.runtime"),
            Some("sagemaker.runtime")
        );
        assert_eq!(aws_service("com.amazonaws.vpce.us-east-1.vpce-svc-0123"), None);
        assert_eq!(aws_service("aws.api.us-east-1.kendra-ranking"), None);
    }

    #[test]
    fn docs_snapshot_md_lists_every_row_with_its_reason_and_its_services() {
        let docs = include_str!("../../docs/snapshot.md");
        for row in NOT_CLIENTS {
            let pattern = match row.sign {
                Sign::InterfaceType(t) => format!("interface type `{t}`"),
                Sign::ManagedDescription(d) | Sign::Description(d) | Sign::ServiceRoleDescription(d, _) => {
                    format!("description `{}", d.trim_end())
                }
            };
            let line = docs
                .lines()
                .find(|l| l.starts_with("| ") && l.contains(&pattern) && l.contains(row.reason))
                .unwrap_or_else(|| panic!("docs/snapshot.md has no table line for {row}"));
            for service in row.calls {
                assert!(
                    line.contains(&format!("`{service}`")),
                    "{service} missing in: {line}"
                );
            }
        }
    }

    #[test]
    fn every_row_has_a_reason_and_no_two_rows_share_a_sign() {
        for (i, row) in NOT_CLIENTS.iter().enumerate() {
            assert!(!row.reason.is_empty() && !row.owner.is_empty(), "{row:?}");
            assert!(
                NOT_CLIENTS[..i].iter().all(|other| other.sign != row.sign),
                "{row:?}"
            );
        }
    }
}
