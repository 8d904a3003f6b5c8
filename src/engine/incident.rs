//! The incident from the brief, as a world to run the engine on: a new VPC (10.0.0.0/16, DNS
//! attributes on) with a NAT gateway in a public subnet, a monitoring EC2 instance (the Zabbix
//! agent) and a VPC Lambda in private subnets, and a security group for a CloudWatch Logs
//! endpoint that admits only the Lambda's security group on 443. Default network ACLs.
//!
//! Creating the endpoint with private DNS on would have cut the Zabbix agent off from
//! `logs.ap-northeast-1.amazonaws.com`. Used by `vpce-rollout demo` and the engine's tests.

use std::collections::BTreeMap;

use crate::api::{DeletionPolicy, InterfaceEndpointSpec, Owner, RemediationMode, RemediationSpec};
use crate::model::*;

pub const REGION: &str = "ap-northeast-1";
pub const VPC: &str = "vpc-0f3e5a7c9b1d24680";
pub const SUBNET_PUBLIC: &str = "subnet-0a11c0ffee0000001";
pub const SUBNET_PRIVATE_A: &str = "subnet-0b22c0ffee0000002";
pub const SUBNET_PRIVATE_C: &str = "subnet-0c33c0ffee0000003";
pub const SG_ENDPOINT: &str = "sg-0e1d0c0b0a0900001";
pub const SG_LAMBDA: &str = "sg-0a1b2c3d4e5f00002";
pub const SG_ZABBIX: &str = "sg-0f9e8d7c6b5a00003";
pub const NACL: &str = "acl-0d0e0f0a0b0c00001";
pub const ENI_NAT: &str = "eni-0aa1aa1aa1aa1aa10";
pub const ENI_ZABBIX: &str = "eni-0bb2bb2bb2bb2bb20";
pub const ENI_LAMBDA: &str = "eni-0cc3cc3cc3cc3cc30";
pub const SERVICE: &str = "com.amazonaws.ap-northeast-1.logs";
pub const PRIVATE_DNS_NAME: &str = "logs.ap-northeast-1.amazonaws.com";

/// The object that declares the endpoint.
pub fn owner() -> Owner {
    Owner {
        namespace: "platform".into(),
        name: "cloudwatch-logs".into(),
        uid: "6f1c2b7e-4d3a-4b8e-9c21-7a5d0e3f8b64".into(),
    }
}

/// The endpoint as the app team declared it, with `endpoint_ingress` as given (client egress
/// stays `Approval`, the default; the incident's client SGs allow all egress anyway).
pub fn spec(endpoint_ingress: RemediationMode) -> InterfaceEndpointSpec {
    InterfaceEndpointSpec {
        vpc_id: VPC.into(),
        service_name: SERVICE.into(),
        subnet_ids: vec![SUBNET_PRIVATE_A.into(), SUBNET_PRIVATE_C.into()],
        subnet_configurations: Vec::new(),
        security_group_ids: vec![SG_ENDPOINT.into()],
        ports: vec![crate::api::DEFAULT_PORT],
        policy: None,
        tags: BTreeMap::from([("team".to_string(), "platform".to_string())]),
        region: Some(REGION.into()),
        service_region: None,
        ip_address_type: None,
        dns_options: None,
        private_dns: Default::default(),
        clients: Default::default(),
        remediation: RemediationSpec {
            endpoint_ingress,
            client_egress: RemediationMode::Approval,
        },
        verification: None,
        approval: None,
        adopt: None,
        deletion_policy: Some(DeletionPolicy::Delete),
        observe_only: false,
    }
}

fn subnet(id: &str, cidr: &str, zone: &str, name: &str) -> Subnet {
    Subnet {
        subnet_id: id.into(),
        vpc_id: VPC.into(),
        cidr_block: Some(cidr.into()),
        availability_zone: Some(zone.into()),
        tags: tags_from([("Name", name)]),
        ..Default::default()
    }
}

fn all_traffic_to_anywhere() -> IpPermission {
    IpPermission {
        ip_protocol: Protocol::All,
        ip_ranges: vec![IpRange {
            cidr_ip: "0.0.0.0/0".into(),
            description: None,
        }],
        ..Default::default()
    }
}

fn group(id: &str, name: &str, ingress: Vec<IpPermission>) -> SecurityGroup {
    SecurityGroup {
        group_id: id.into(),
        group_name: Some(name.into()),
        description: Some(name.into()),
        vpc_id: Some(VPC.into()),
        owner_id: Some("123456789012".into()),
        ip_permissions: ingress,
        ip_permissions_egress: vec![all_traffic_to_anywhere()],
        tags: vec![],
    }
}

fn eni(
    id: &str,
    subnet: &str,
    address: &str,
    kind: &str,
    groups: &[(&str, &str)],
    description: &str,
) -> NetworkInterface {
    NetworkInterface {
        network_interface_id: id.into(),
        vpc_id: VPC.into(),
        subnet_id: subnet.into(),
        interface_type: Some(kind.into()),
        private_ip_address: Some(address.into()),
        private_ip_addresses: vec![PrivateIpAddress {
            private_ip_address: address.into(),
            primary: Some(true),
        }],
        groups: groups
            .iter()
            .map(|(id, name)| GroupIdentifier {
                group_id: id.to_string(),
                group_name: Some(name.to_string()),
            })
            .collect(),
        description: Some(description.into()),
        status: Some("in-use".into()),
        ..Default::default()
    }
}

/// The default network ACL: everything in and out (rule 100), then the implicit deny.
fn default_acl() -> NetworkAcl {
    let entry = |egress: bool, number: i32, action: &str| NetworkAclEntry {
        rule_number: number,
        protocol: Protocol::All,
        rule_action: action.into(),
        egress,
        cidr_block: Some("0.0.0.0/0".into()),
        ipv6_cidr_block: None,
        port_range: None,
    };
    NetworkAcl {
        network_acl_id: NACL.into(),
        vpc_id: VPC.into(),
        is_default: true,
        entries: vec![
            entry(false, 100, "allow"),
            entry(false, 32767, "deny"),
            entry(true, 100, "allow"),
            entry(true, 32767, "deny"),
        ],
        associations: [SUBNET_PUBLIC, SUBNET_PRIVATE_A, SUBNET_PRIVATE_C]
            .iter()
            .map(|s| NetworkAclAssociation {
                subnet_id: s.to_string(),
                network_acl_association_id: None,
                network_acl_id: Some(NACL.into()),
            })
            .collect(),
        tags: vec![],
    }
}

/// The CloudWatch Logs service as `describe-vpc-endpoint-services` shows it.
pub fn logs_service() -> ServiceDetail {
    ServiceDetail {
        service_name: SERVICE.into(),
        service_id: None,
        service_type: vec![ServiceTypeDetail {
            service_type: "Interface".into(),
        }],
        availability_zones: ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
            .map(String::from)
            .to_vec(),
        private_dns_name: Some(PRIVATE_DNS_NAME.into()),
        private_dns_names: vec![PrivateDnsDetails {
            private_dns_name: PRIVATE_DNS_NAME.into(),
        }],
        vpc_endpoint_policy_supported: Some(true),
        acceptance_required: Some(false),
        service_region: None,
        owner: Some("amazon".into()),
    }
}

/// The VPC the moment before the endpoint is created.
pub fn world() -> Snapshot {
    let admit_lambda = IpPermission {
        ip_protocol: Protocol::Tcp,
        from_port: Some(443),
        to_port: Some(443),
        user_id_group_pairs: vec![UserIdGroupPair {
            group_id: SG_LAMBDA.into(),
            description: Some("ingest lambda".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    Snapshot {
        vpcs: vec![Vpc {
            vpc_id: VPC.into(),
            cidr_block: Some("10.0.0.0/16".into()),
            state: Some("available".into()),
            owner_id: Some("123456789012".into()),
            is_default: Some(false),
            tags: tags_from([("Name", "ingest")]),
            ..Default::default()
        }],
        vpc_attributes: BTreeMap::from([(
            VPC.to_string(),
            VpcDnsAttributes {
                enable_dns_support: Some(AttributeBoolean(true)),
                enable_dns_hostnames: Some(AttributeBoolean(true)),
            },
        )]),
        subnets: vec![
            subnet(SUBNET_PUBLIC, "10.0.0.0/24", "ap-northeast-1a", "public-a"),
            subnet(SUBNET_PRIVATE_A, "10.0.10.0/24", "ap-northeast-1a", "private-a"),
            subnet(SUBNET_PRIVATE_C, "10.0.11.0/24", "ap-northeast-1c", "private-c"),
        ]
        .into(),
        security_groups: vec![
            group(SG_ENDPOINT, "logs-endpoint", vec![admit_lambda]),
            group(SG_LAMBDA, "ingest-lambda", vec![]),
            group(SG_ZABBIX, "zabbix-agent", vec![]),
        ]
        .into(),
        network_interfaces: vec![
            eni(
                ENI_NAT,
                SUBNET_PUBLIC,
                "10.0.0.57",
                "nat_gateway",
                &[],
                "Interface for NAT Gateway nat-0c1d2e3f4a5b6c7d8",
            ),
            eni(
                ENI_ZABBIX,
                SUBNET_PRIVATE_A,
                "10.0.10.23",
                "interface",
                &[(SG_ZABBIX, "zabbix-agent")],
                "zabbix-agent on i-0123456789abcdef0",
            ),
            eni(
                ENI_LAMBDA,
                SUBNET_PRIVATE_C,
                "10.0.11.84",
                "lambda",
                &[(SG_LAMBDA, "ingest-lambda")],
                "AWS Lambda VPC ENI-ingest",
            ),
        ]
        .into(),
        network_acls: vec![default_acl()].into(),
        service_details: vec![logs_service()],
        ..Default::default()
    }
}
