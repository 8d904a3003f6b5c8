//! Hand-built inputs for the state machine tests: the incident VPC (a NAT gateway, a Zabbix
//! agent on EC2 whose SG the endpoint SG does not admit, a Lambda ENI that is admitted) and
//! analyses of it as `analysis::analyze` would return them.

use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use super::{Config, PlanInput, Timing};
use crate::analysis::{
    Analysis, AnalysisError, Block, Check, ClientVerdict, Destination, ExcludedInterface, ExclusionReason,
    NotAClient, Remediation, RuleChange, Sign, Source, SourceKind, Unfixable,
};
use crate::api::conditions::{ConditionType, find_condition};
use crate::api::{DeletionPolicy, InterfaceEndpointSpec, InterfaceEndpointStatus, Owner};
use crate::model::*;

pub const VPC: &str = "vpc-0a1b2c3d4e5f60718";
pub const SUBNET_PUBLIC: &str = "subnet-01111111111111111";
pub const SUBNET_APP: &str = "subnet-02222222222222222";
pub const SG_VPCE: &str = "sg-0eeeeeeeeeeeeeee1";
pub const SG_LAMBDA: &str = "sg-0aaaaaaaaaaaaaaa1";
pub const SG_ZABBIX: &str = "sg-0bbbbbbbbbbbbbbb1";
pub const ENI_NAT: &str = "eni-00000000000000001";
pub const ENI_LAMBDA: &str = "eni-0aaaaaaaaaaaaaaa2";
pub const ENI_ZABBIX: &str = "eni-0bbbbbbbbbbbbbbb2";
pub const ENI_VPCE: &str = "eni-0eeeeeeeeeeeeeee2";
pub const ENDPOINT: &str = "vpce-0123456789abcdef0";
pub const SERVICE: &str = "com.amazonaws.ap-northeast-1.logs";
/// The region the fixtures' EC2 port works in (the controller's; the spec names none).
pub const REGION: &str = "ap-northeast-1";
pub const DNS_NAME: &str = "logs.ap-northeast-1.amazonaws.com";

pub fn owner() -> Owner {
    Owner {
        namespace: "monitoring".into(),
        name: "logs".into(),
        uid: "0b6f1a52-3c4d-4e5f-8a9b-0c1d2e3f4a5b".into(),
    }
}

pub fn spec() -> InterfaceEndpointSpec {
    serde_json::from_value(serde_json::json!({
        "vpcId": VPC,
        "serviceName": SERVICE,
        "subnetIds": [SUBNET_APP],
        "securityGroupIds": [SG_VPCE],
        "tags": {"team": "platform"},
        "deletionPolicy": "Delete",
    }))
    .unwrap()
}

pub fn now() -> Timestamp {
    Timestamp::from_second(1_760_000_000).unwrap()
}

pub fn now_minus(secs: i64) -> Timestamp {
    Timestamp::from_second(1_760_000_000 - secs).unwrap()
}

pub fn timing() -> Timing {
    Timing::default()
}

/// A `PlanInput` over the default spec and owner (leaked: tests only).
pub fn input<'a>(
    world: &'a Snapshot,
    analysis: &'a Result<Analysis, AnalysisError>,
    status: &'a InterfaceEndpointStatus,
) -> PlanInput<'a> {
    input_with(Box::leak(Box::new(spec())), world, analysis, status)
}

pub fn input_with<'a>(
    spec: &'a InterfaceEndpointSpec,
    world: &'a Snapshot,
    analysis: &'a Result<Analysis, AnalysisError>,
    status: &'a InterfaceEndpointStatus,
) -> PlanInput<'a> {
    PlanInput {
        spec,
        generation: Some(1),
        owner: Box::leak(Box::new(owner())),
        deleting: false,
        status,
        world,
        region: Some(REGION),
        analysis,
        config: &ACTING,
        analysis_as_specified: None,
        successors: &[],
        approver: Default::default(),
        rollback: None,
        seen_off: &crate::plan::resolution::NOTHING_SEEN,
        now: now(),
    }
}

/// The controller's settings by default: it may act.
pub static ACTING: Config = Config {
    observe_only: false,
    default_deletion_policy: DeletionPolicy::Retain,
    cluster_name: None,
    pod_ip: None,
};

pub fn group(id: &str) -> GroupIdentifier {
    GroupIdentifier {
        group_id: id.into(),
        group_name: None,
    }
}

fn eni(id: &str, subnet: &str, ip: &str, kind: &str, sgs: &[&str]) -> NetworkInterface {
    NetworkInterface {
        network_interface_id: id.into(),
        vpc_id: VPC.into(),
        subnet_id: subnet.into(),
        interface_type: Some(kind.into()),
        private_ip_address: Some(ip.into()),
        groups: sgs.iter().map(|g| group(g)).collect(),
        ..Default::default()
    }
}

fn security_group(id: &str, ingress: Vec<IpPermission>) -> SecurityGroup {
    SecurityGroup {
        group_id: id.into(),
        vpc_id: Some(VPC.into()),
        ip_permissions: ingress,
        ip_permissions_egress: vec![IpPermission {
            ip_protocol: Protocol::All,
            ip_ranges: vec![IpRange {
                cidr_ip: "0.0.0.0/0".into(),
                description: None,
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The incident VPC before the endpoint exists.
pub fn incident_world() -> Snapshot {
    let admit_lambda = IpPermission {
        ip_protocol: Protocol::Tcp,
        from_port: Some(443),
        to_port: Some(443),
        user_id_group_pairs: vec![UserIdGroupPair {
            group_id: SG_LAMBDA.into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    Snapshot {
        vpcs: vec![Vpc {
            vpc_id: VPC.into(),
            cidr_block: Some("10.0.0.0/16".into()),
            ..Default::default()
        }],
        vpc_attributes: [(
            VPC.to_string(),
            VpcDnsAttributes {
                enable_dns_support: Some(AttributeBoolean(true)),
                enable_dns_hostnames: Some(AttributeBoolean(true)),
            },
        )]
        .into(),
        subnets: vec![
            Subnet {
                subnet_id: SUBNET_PUBLIC.into(),
                vpc_id: VPC.into(),
                cidr_block: Some("10.0.0.0/24".into()),
                availability_zone: Some("ap-northeast-1a".into()),
                ..Default::default()
            },
            Subnet {
                subnet_id: SUBNET_APP.into(),
                vpc_id: VPC.into(),
                cidr_block: Some("10.0.1.0/24".into()),
                availability_zone: Some("ap-northeast-1a".into()),
                ..Default::default()
            },
        ]
        .into(),
        security_groups: vec![
            security_group(SG_VPCE, vec![admit_lambda]),
            security_group(SG_LAMBDA, vec![]),
            security_group(SG_ZABBIX, vec![]),
        ]
        .into(),
        network_interfaces: vec![
            eni(ENI_NAT, SUBNET_PUBLIC, "10.0.0.10", "nat_gateway", &[]),
            eni(ENI_LAMBDA, SUBNET_APP, "10.0.1.20", "lambda", &[SG_LAMBDA]),
            eni(ENI_ZABBIX, SUBNET_APP, "10.0.1.30", "interface", &[SG_ZABBIX]),
        ]
        .into(),
        service_details: vec![ServiceDetail {
            service_name: SERVICE.into(),
            private_dns_name: Some(DNS_NAME.into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The world with the object's endpoint in `state`.
pub fn with_endpoint(mut world: Snapshot, state: &str, private_dns: bool) -> Snapshot {
    world.vpc_endpoints.push(VpcEndpoint {
        vpc_endpoint_id: ENDPOINT.into(),
        vpc_endpoint_type: Some("Interface".into()),
        vpc_id: VPC.into(),
        service_name: SERVICE.into(),
        state: Some(state.into()),
        subnet_ids: vec![SUBNET_APP.into()],
        groups: vec![SecurityGroupIdentifier {
            group_id: SG_VPCE.into(),
            group_name: None,
        }],
        network_interface_ids: vec![ENI_VPCE.into()],
        private_dns_enabled: private_dns,
        dns_entries: vec![DnsEntry {
            dns_name: format!("{ENDPOINT}.logs.ap-northeast-1.vpce.amazonaws.com"),
            hosted_zone_id: None,
        }],
        // As CreateVpcEndpoint made it: the ownership tags and the spec's.
        tags: tags_from(
            owner()
                .tags()
                .into_iter()
                .chain([("team".into(), "platform".into())]),
        ),
        ..Default::default()
    });
    world.network_interfaces.push(eni(
        ENI_VPCE,
        SUBNET_APP,
        "10.0.1.100",
        "vpc_endpoint",
        &[SG_VPCE],
    ));
    world
}

/// An owned rule present in AWS (tagged by this object).
pub fn owned_rule(id: &str, group: &str, egress: bool, peer: &str) -> SecurityGroupRule {
    SecurityGroupRule {
        security_group_rule_id: id.into(),
        group_id: group.into(),
        is_egress: egress,
        ip_protocol: Protocol::Tcp,
        from_port: Some(443),
        to_port: Some(443),
        referenced_group_info: Some(ReferencedGroup {
            group_id: peer.into(),
            ..Default::default()
        }),
        tags: tags_from(owner().tags()),
        ..Default::default()
    }
}

/// The row of [`crate::analysis::NOT_CLIENTS`] with this sign.
pub fn not_a_client(sign: Sign) -> &'static NotAClient {
    crate::analysis::NOT_CLIENTS
        .iter()
        .find(|row| row.sign == sign)
        .expect("a row of the table")
}

pub fn verdict(id: &str, sgs: &[&str], ip: &str, kind: &str, checks: &[Check]) -> ClientVerdict {
    let address = ip.parse::<IpAddr>().unwrap();
    let primary = Source {
        net: IpNet::from(address),
        kind: SourceKind::PrimaryIpv4,
    };
    ClientVerdict {
        network_interface_id: id.into(),
        security_group_ids: sgs.iter().map(|s| s.to_string()).collect(),
        subnet_id: SUBNET_APP.into(),
        address,
        sources: vec![primary],
        interface_type: kind.into(),
        owner_id: None,
        blocks: checks
            .iter()
            .map(|&check| Block {
                check,
                destination: "10.0.1.100/32".parse::<IpNet>().unwrap(),
                ports: crate::analysis::Ports::https(),
                sources: vec![primary],
                detail: format!("{check} fails"),
            })
            .collect(),
        evidence: None,
    }
}

/// The analysis of the incident with the endpoint in place: Zabbix blocked by the endpoint SG.
pub fn endpoint_analysis() -> Analysis {
    analysis_with(
        Some(ENDPOINT),
        &[Check::EndpointIngress],
        vec![RuleChange::https(SG_VPCE, SG_ZABBIX, Check::EndpointIngress)],
        vec![],
    )
}

/// The same before the endpoint exists (destinations are the spec's subnets).
pub fn preview_analysis() -> Analysis {
    analysis_with(
        None,
        &[Check::EndpointIngress],
        vec![RuleChange::https(SG_VPCE, SG_ZABBIX, Check::EndpointIngress)],
        vec![],
    )
}

/// Zabbix blocked both ways: an ingress rule (Auto by default) and an egress rule (Approval).
pub fn two_way_analysis() -> Analysis {
    analysis_with(
        Some(ENDPOINT),
        &[Check::EndpointIngress, Check::ClientEgress],
        vec![
            RuleChange::https(SG_VPCE, SG_ZABBIX, Check::EndpointIngress),
            RuleChange::https(SG_ZABBIX, SG_VPCE, Check::ClientEgress),
        ],
        vec![],
    )
}

/// Zabbix blocked by its subnet's NACL only: nothing the controller may fix.
pub fn nacl_analysis() -> Analysis {
    analysis_with(
        Some(ENDPOINT),
        &[Check::ClientSubnetNacl],
        vec![],
        vec![Unfixable {
            network_interface_id: ENI_ZABBIX.into(),
            check: Check::ClientSubnetNacl,
            detail: "acl-0123 rule 100 denies tcp/443 to 10.0.1.100".into(),
        }],
    )
}

/// Everyone reachable.
pub fn reachable_analysis() -> Analysis {
    analysis_with(Some(ENDPOINT), &[], vec![], vec![])
}

pub fn analysis_with(
    endpoint: Option<&str>,
    zabbix_blocks: &[Check],
    rules: Vec<RuleChange>,
    unfixable: Vec<Unfixable>,
) -> Analysis {
    Analysis {
        endpoint_id: endpoint.map(str::to_string),
        ports: crate::analysis::Ports::https(),
        destinations: vec![Destination {
            subnet_id: SUBNET_APP.into(),
            net: if endpoint.is_some() {
                "10.0.1.100/32".parse().unwrap()
            } else {
                "10.0.1.0/24".parse().unwrap()
            },
            network_interface_id: endpoint.map(|_| ENI_VPCE.to_string()),
            security_group_ids: vec![SG_VPCE.into()],
        }],
        clients: vec![
            verdict(ENI_LAMBDA, &[SG_LAMBDA], "10.0.1.20", "lambda", &[]),
            verdict(ENI_ZABBIX, &[SG_ZABBIX], "10.0.1.30", "interface", zabbix_blocks),
        ],
        excluded: vec![ExcludedInterface {
            network_interface_id: ENI_NAT.into(),
            reason: ExclusionReason::ServiceInterface(not_a_client(Sign::InterfaceType("nat_gateway"))),
        }],
        remediation: Remediation { rules, unfixable },
    }
}

/// The status right after CreateVpcEndpoint returned `ENDPOINT` at `created_at`.
pub fn created_status(created_at: Timestamp) -> InterfaceEndpointStatus {
    InterfaceEndpointStatus {
        phase: crate::api::RolloutPhase::Creating,
        endpoint_id: Some(ENDPOINT.into()),
        endpoint_state: Some("pending".into()),
        endpoint_create_time: Some(created_at.to_string()),
        ..Default::default()
    }
}

/// The status of a pass that saw `ENDPOINT` available with private DNS on (Ready): what the
/// controller needs before it turns private DNS off.
pub fn serving_status() -> InterfaceEndpointStatus {
    let mut status = created_status(now_minus(3600));
    status.phase = crate::api::RolloutPhase::Ready;
    status.endpoint_state = Some("available".into());
    status.private_dns_enabled = true;
    status
}

pub fn cond(type_: ConditionType, status: bool, reason: &str, at: Timestamp) -> Condition {
    Condition {
        type_: type_.as_str().into(),
        status: if status { "True" } else { "False" }.into(),
        reason: reason.into(),
        message: reason.into(),
        observed_generation: Some(1),
        last_transition_time: Time(at),
    }
}

pub fn condition(status: &InterfaceEndpointStatus, type_: ConditionType) -> &Condition {
    find_condition(&status.conditions, type_).unwrap_or_else(|| panic!("no {type_:?} condition"))
}

/// A canary read of the flow logs that found `rejects` (source address, records) toward the
/// endpoint's ENI on 443, in a window opened two minutes ago.
pub fn canary_read(rejects: &[(&str, u64)]) -> crate::plan::canary::CanaryRead {
    crate::plan::canary::CanaryRead {
        log_group_name: "/flow".into(),
        window_start: now_minus(120),
        window: std::time::Duration::from_secs(900),
        read_from: now_minus(120),
        read_to: now(),
        format: crate::plan::canary::FormatSource::DescribeFlowLogs,
        outcome: Ok(crate::logs::flow::FlowRejects {
            rejects: rejects
                .iter()
                .map(|(a, n)| crate::logs::flow::Reject {
                    srcaddr: a.parse().unwrap(),
                    endpoint_interface_id: Some(ENI_VPCE.into()),
                    dstport: 443,
                    records: *n,
                    last_seen_ms: now_minus(60).as_millisecond(),
                })
                .collect(),
            records_read: rejects.len(),
            calls: 1,
            complete: true,
        }),
    }
}
