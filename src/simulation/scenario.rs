//! The world a seed starts from, and the objects it declares.
//!
//! One VPC (10.0.0.0/16, DNS attributes on) with a public and three private subnets in three
//! zones, a NAT gateway, and a few clients drawn per seed among five kinds (the incident's
//! Lambda and Zabbix agent, an app server, a batch host whose egress reaches only its own
//! subnet, a sealed host without egress). Endpoint security groups: one shared by two services
//! (it admits the Lambda, as in the incident), one that admits the Zabbix agent's primary
//! address by CIDR (so that a secondary address is not admitted), one that admits the whole VPC.
//! Sometimes a network ACL denies tcp/443 into the third zone's subnet (a block no rule of the
//! controller's can clear).
//!
//! Services: CloudWatch Logs, CloudWatch (monitoring) and STS (AWS services, private DNS names),
//! and a partner service that requires acceptance. Two or three objects, each for its own
//! service; the first two share the endpoint security group. Modes, subnets, deletion policy,
//! private DNS and the client selection are drawn per object.

use std::collections::BTreeMap;
use std::time::Duration;

use super::rng::Rng;
use crate::api::{
    ClientExclusions, ClientSelection, DeletionPolicy, InterfaceEndpointSpec, Owner, PrivateDnsSpec,
    RemediationMode, RemediationSpec,
};
use crate::aws::sim::SimConfig;
use crate::model::*;
use crate::plan::Config;

pub(crate) const REGION: &str = "ap-northeast-1";
pub(crate) const VPC: &str = "vpc-05e1a2b3c4d5e6f70";
pub(crate) const SUBNET_PUBLIC: &str = "subnet-0a00000000000000f";
pub(crate) const SUBNET_A: &str = "subnet-0a000000000000001";
pub(crate) const SUBNET_C: &str = "subnet-0c000000000000001";
pub(crate) const SUBNET_D: &str = "subnet-0d000000000000001";
/// Endpoint security group of two services; admits the Lambda's group.
pub(crate) const SG_SHARED: &str = "sg-0e0000000000000a1";
/// Endpoint security group admitting the Zabbix agent's primary address (a /32).
pub(crate) const SG_PINNED: &str = "sg-0e0000000000000b2";
/// Endpoint security group admitting the whole VPC by CIDR.
pub(crate) const SG_OPEN: &str = "sg-0e0000000000000c3";
pub(crate) const SG_LAMBDA: &str = "sg-0c000000000000001";
pub(crate) const SG_ZABBIX: &str = "sg-0c000000000000002";
pub(crate) const SG_APP: &str = "sg-0c000000000000003";
/// Egress only to its own subnet (10.0.10.0/24): fixable by an egress rule.
pub(crate) const SG_BATCH: &str = "sg-0c000000000000004";
/// No egress at all.
pub(crate) const SG_SEALED: &str = "sg-0c000000000000005";
pub(crate) const SG_DEFAULT: &str = "sg-0d0000000000000ff";
pub(crate) const NACL_DEFAULT: &str = "acl-0a000000000000001";
pub(crate) const NACL_GUARDED: &str = "acl-0b000000000000002";
pub(crate) const ZABBIX_ADDRESS: &str = "10.0.10.20";

pub(crate) const PRIVATE_SUBNETS: [&str; 3] = [SUBNET_A, SUBNET_C, SUBNET_D];
pub(crate) const ENDPOINT_GROUPS: [&str; 3] = [SG_SHARED, SG_PINNED, SG_OPEN];
pub(crate) const CLIENT_GROUPS: [&str; 5] = [SG_LAMBDA, SG_ZABBIX, SG_APP, SG_BATCH, SG_SEALED];

/// A service objects may ask for: its name and private DNS name.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Service {
    pub short: &'static str,
    pub name: &'static str,
    pub dns: &'static str,
    pub acceptance: bool,
    /// The ports its clients use (`spec.ports`).
    pub ports: &'static [u16],
}

pub(crate) const LOGS: Service = Service {
    short: "logs",
    name: "com.amazonaws.ap-northeast-1.logs",
    dns: "logs.ap-northeast-1.amazonaws.com",
    acceptance: false,
    ports: &[crate::api::DEFAULT_PORT],
};
pub(crate) const MONITORING: Service = Service {
    short: "monitoring",
    name: "com.amazonaws.ap-northeast-1.monitoring",
    dns: "monitoring.ap-northeast-1.amazonaws.com",
    acceptance: false,
    ports: &[crate::api::DEFAULT_PORT],
};
pub(crate) const STS: Service = Service {
    short: "sts",
    name: "com.amazonaws.ap-northeast-1.sts",
    dns: "sts.ap-northeast-1.amazonaws.com",
    acceptance: false,
    ports: &[crate::api::DEFAULT_PORT],
};
pub(crate) const PARTNER: Service = Service {
    short: "partner",
    name: "com.amazonaws.vpce.ap-northeast-1.vpce-svc-0a1b2c3d4e5f60718",
    dns: "api.partner.example.com",
    acceptance: true,
    // A partner's API on its own ports: a run and one apart, none of which the VPC's hand-made
    // rules (all tcp/443) open.
    ports: &[8443, 8444, 9443],
};

/// One InterfaceEndpoint object of the run, before it exists.
#[derive(Clone, Debug)]
pub(crate) struct Declared {
    pub owner: Owner,
    pub spec: InterfaceEndpointSpec,
    /// When the user applies it.
    pub created_at: Duration,
}

/// Everything a seed starts from.
#[derive(Clone, Debug)]
pub(crate) struct Scenario {
    pub snapshot: Snapshot,
    pub config: SimConfig,
    /// The controller's configuration: with or without `--cluster-name` (which decides
    /// whether an object re-created under the same name takes over its earlier self's
    /// endpoint, or reports AdoptionRefused).
    pub controller: Config,
    pub objects: Vec<Declared>,
}

impl Scenario {
    pub(crate) fn generate(rng: &mut Rng) -> Scenario {
        let guarded = rng.chance(0.15);
        let snapshot = world(rng, guarded);
        let config = sim_config(rng);
        let controller = Config {
            observe_only: false,
            default_deletion_policy: if rng.chance(0.5) {
                DeletionPolicy::Delete
            } else {
                DeletionPolicy::Retain
            },
            cluster_name: rng.chance(0.5).then(|| "sim".to_string()),
            pod_ip: None,
        };
        let mut services = [STS, PARTNER];
        if rng.chance(0.5) {
            services.swap(0, 1);
        }
        let count = 2 + rng.below(2);
        let mut objects = Vec::new();
        for i in 0..count {
            let (service, group) = match i {
                0 => (LOGS, SG_SHARED),
                1 => (MONITORING, SG_SHARED),
                n => (
                    services[n - 2],
                    *rng.pick(&[SG_PINNED, SG_OPEN, SG_PINNED]).expect("not empty"),
                ),
            };
            let created_at = if i == 0 {
                Duration::ZERO
            } else {
                rng.between(Duration::ZERO, Duration::from_secs(300))
            };
            objects.push(Declared {
                owner: owner(rng, i, service),
                spec: spec(rng, service, group),
                created_at,
            });
        }
        Scenario {
            snapshot,
            config,
            controller,
            objects,
        }
    }
}

/// A fresh object identity for `namespace/name` (a re-created object gets a new UID).
pub(crate) fn owner_named(rng: &mut Rng, namespace: &str, name: &str) -> Owner {
    let uid = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        rng.next_u64() as u32,
        rng.next_u64() as u16,
        rng.next_u64() as u16 & 0xfff,
        rng.next_u64() as u16 & 0xfff,
        rng.next_u64() & 0xffff_ffff_ffff
    );
    Owner {
        namespace: namespace.to_string(),
        name: name.to_string(),
        uid,
    }
}

fn owner(rng: &mut Rng, i: usize, service: Service) -> Owner {
    owner_named(rng, &format!("team-{i}"), service.short)
}

pub(crate) fn draw_mode(rng: &mut Rng, usual: RemediationMode) -> RemediationMode {
    if rng.chance(0.5) {
        usual
    } else {
        *rng.pick(&[
            RemediationMode::Auto,
            RemediationMode::Approval,
            RemediationMode::Approval,
            RemediationMode::Off,
        ])
        .expect("not empty")
    }
}

/// `spec.deletionPolicy`: mostly Delete, sometimes Retain, sometimes none (the controller's
/// `--default-deletion-policy` then decides).
pub(crate) fn draw_deletion_policy(rng: &mut Rng) -> Option<DeletionPolicy> {
    match rng.below(10) {
        0..=5 => Some(DeletionPolicy::Delete),
        6 | 7 => None,
        _ => Some(DeletionPolicy::Retain),
    }
}

/// One to three private subnets, one per zone, in a drawn order.
pub(crate) fn draw_subnets(rng: &mut Rng) -> Vec<String> {
    let mut subnets: Vec<String> = PRIVATE_SUBNETS
        .iter()
        .filter(|_| rng.chance(0.6))
        .map(|s| s.to_string())
        .collect();
    if subnets.is_empty() {
        subnets.push(rng.pick(&PRIVATE_SUBNETS).expect("not empty").to_string());
    }
    if subnets.len() > 1 && rng.chance(0.5) {
        subnets.reverse();
    }
    subnets
}

pub(crate) fn draw_clients(rng: &mut Rng) -> ClientSelection {
    match rng.below(10) {
        0 => ClientSelection {
            security_group_ids: Some(vec![
                SG_LAMBDA.to_string(),
                rng.pick(&CLIENT_GROUPS).expect("not empty").to_string(),
            ]),
            ..Default::default()
        },
        1 => ClientSelection {
            security_group_ids: None,
            exclude: ClientExclusions {
                security_group_ids: vec![rng.pick(&CLIENT_GROUPS).expect("not empty").to_string()],
                ..Default::default()
            },
            ..Default::default()
        },
        _ => ClientSelection::default(),
    }
}

fn spec(rng: &mut Rng, service: Service, group: &str) -> InterfaceEndpointSpec {
    InterfaceEndpointSpec {
        vpc_id: VPC.into(),
        service_name: service.name.into(),
        subnet_ids: draw_subnets(rng),
        subnet_configurations: Vec::new(),
        security_group_ids: vec![group.to_string()],
        ports: service.ports.to_vec(),
        policy: None,
        tags: BTreeMap::new(),
        region: rng.chance(0.5).then(|| REGION.to_string()),
        service_region: None,
        ip_address_type: None,
        dns_options: None,
        private_dns: PrivateDnsSpec {
            enabled: rng.chance(0.9),
            force: rng.chance(0.05),
        },
        clients: draw_clients(rng),
        remediation: RemediationSpec {
            endpoint_ingress: draw_mode(rng, RemediationMode::Auto),
            client_egress: draw_mode(rng, RemediationMode::Approval),
        },
        verification: None,
        approval: None,
        adopt: None,
        observe_only: false,
        deletion_policy: draw_deletion_policy(rng),
    }
}

/// EC2's delays for this seed: mostly ordinary, sometimes an endpoint that takes a quarter of
/// an hour to provision or to go away.
fn sim_config(rng: &mut Rng) -> SimConfig {
    let slow = |rng: &mut Rng, usual: (u64, u64)| {
        if rng.chance(0.05) {
            rng.between(Duration::from_secs(300), Duration::from_secs(600))
        } else {
            rng.between(Duration::from_secs(usual.0), Duration::from_secs(usual.1))
        }
    };
    SimConfig {
        region: Some(REGION.into()),
        provisioning_delay: slow(rng, (20, 90)),
        private_dns_delay: rng.between(Duration::from_secs(5), Duration::from_secs(60)),
        deletion_delay: slow(rng, (10, 90)),
        visibility_delay: rng.between(Duration::ZERO, Duration::from_secs(15)),
        ..SimConfig::default()
    }
}

fn subnet(id: &str, cidr: &str, zone: &str) -> Subnet {
    Subnet {
        subnet_id: id.into(),
        vpc_id: VPC.into(),
        cidr_block: Some(cidr.into()),
        availability_zone: Some(format!("{REGION}{zone}")),
        ..Default::default()
    }
}

fn https_from_group(group: &str, description: &str) -> IpPermission {
    IpPermission {
        ip_protocol: Protocol::Tcp,
        from_port: Some(443),
        to_port: Some(443),
        user_id_group_pairs: vec![UserIdGroupPair {
            group_id: group.into(),
            description: Some(description.into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn cidr_permission(
    protocol: Protocol,
    ports: Option<(i32, i32)>,
    cidr: &str,
    description: &str,
) -> IpPermission {
    IpPermission {
        ip_protocol: protocol,
        from_port: ports.map(|p| p.0),
        to_port: ports.map(|p| p.1),
        ip_ranges: vec![IpRange {
            cidr_ip: cidr.into(),
            description: Some(description.into()),
        }],
        ..Default::default()
    }
}

fn all_out() -> IpPermission {
    cidr_permission(Protocol::All, None, "0.0.0.0/0", "all out")
}

fn group(id: &str, name: &str, ingress: Vec<IpPermission>, egress: Vec<IpPermission>) -> SecurityGroup {
    SecurityGroup {
        group_id: id.into(),
        group_name: Some(name.into()),
        description: Some(name.into()),
        vpc_id: Some(VPC.into()),
        owner_id: Some("123456789012".into()),
        ip_permissions: ingress,
        ip_permissions_egress: egress,
        tags: vec![],
    }
}

/// A client ENI of one of the five kinds, in `subnet`, with a fresh id (the sim assigns the
/// address when `address` is `None`).
pub(crate) fn client(kind: usize, subnet: &str, address: Option<&str>) -> NetworkInterface {
    let (interface_type, group, description) = match kind % 5 {
        0 => ("lambda", SG_LAMBDA, "AWS Lambda VPC ENI-ingest"),
        1 => ("interface", SG_ZABBIX, "zabbix-agent"),
        2 => ("interface", SG_APP, "app server"),
        3 => ("interface", SG_BATCH, "batch host"),
        _ => ("interface", SG_SEALED, "sealed host"),
    };
    NetworkInterface {
        network_interface_id: String::new(),
        vpc_id: VPC.into(),
        subnet_id: subnet.into(),
        interface_type: Some(interface_type.into()),
        private_ip_address: address.map(str::to_string),
        private_ip_addresses: address
            .map(|a| PrivateIpAddress {
                private_ip_address: a.to_string(),
                primary: Some(true),
            })
            .into_iter()
            .collect(),
        groups: vec![GroupIdentifier {
            group_id: group.into(),
            group_name: None,
        }],
        description: Some(description.into()),
        status: Some("in-use".into()),
        ..Default::default()
    }
}

fn acl_entry(
    egress: bool,
    number: i32,
    action: &str,
    protocol: Protocol,
    ports: Option<(i32, i32)>,
) -> NetworkAclEntry {
    NetworkAclEntry {
        rule_number: number,
        protocol,
        rule_action: action.into(),
        egress,
        cidr_block: Some("0.0.0.0/0".into()),
        ipv6_cidr_block: None,
        port_range: ports.map(|(from, to)| PortRange { from, to }),
    }
}

fn acl(id: &str, default: bool, subnets: &[&str], deny_https_in: bool) -> NetworkAcl {
    let mut entries = vec![
        acl_entry(false, 100, "allow", Protocol::All, None),
        acl_entry(false, 32767, "deny", Protocol::All, None),
        acl_entry(true, 100, "allow", Protocol::All, None),
        acl_entry(true, 32767, "deny", Protocol::All, None),
    ];
    if deny_https_in {
        entries.push(acl_entry(false, 90, "deny", Protocol::Tcp, Some((443, 443))));
    }
    NetworkAcl {
        network_acl_id: id.into(),
        vpc_id: VPC.into(),
        is_default: default,
        entries,
        associations: subnets
            .iter()
            .map(|s| NetworkAclAssociation {
                subnet_id: s.to_string(),
                network_acl_association_id: None,
                network_acl_id: Some(id.into()),
            })
            .collect(),
        tags: vec![],
    }
}

fn service(s: Service) -> ServiceDetail {
    ServiceDetail {
        service_name: s.name.into(),
        service_id: None,
        service_type: vec![ServiceTypeDetail {
            service_type: "Interface".into(),
        }],
        availability_zones: ["a", "c", "d"].iter().map(|z| format!("{REGION}{z}")).collect(),
        private_dns_name: Some(s.dns.into()),
        private_dns_names: vec![PrivateDnsDetails {
            private_dns_name: s.dns.into(),
        }],
        vpc_endpoint_policy_supported: Some(true),
        acceptance_required: Some(s.acceptance),
        service_region: None,
        owner: Some(if s.acceptance { "111122223333" } else { "amazon" }.into()),
    }
}

fn world(rng: &mut Rng, guarded: bool) -> Snapshot {
    let mut interfaces = vec![
        NetworkInterface {
            network_interface_id: "eni-0aa0000000000000f".into(),
            interface_type: Some("nat_gateway".into()),
            groups: vec![],
            description: Some("Interface for NAT Gateway nat-0c1d2e3f4a5b6c7d8".into()),
            ..client(2, SUBNET_PUBLIC, Some("10.0.0.57"))
        },
        NetworkInterface {
            network_interface_id: "eni-0bb00000000000001".into(),
            ..client(1, SUBNET_A, Some(ZABBIX_ADDRESS))
        },
        NetworkInterface {
            network_interface_id: "eni-0cc00000000000001".into(),
            ..client(0, SUBNET_C, Some("10.0.11.84"))
        },
    ];
    for i in 0..rng.below(4) {
        let kind = 2 + rng.below(3);
        let subnet = rng.pick(&PRIVATE_SUBNETS).expect("not empty");
        let octet = match *subnet {
            SUBNET_A => 10,
            SUBNET_C => 11,
            _ => 12,
        };
        let address = format!("10.0.{octet}.{}", 100 + i);
        interfaces.push(NetworkInterface {
            network_interface_id: format!("eni-0dd0000000000000{i}"),
            ..client(kind, subnet, Some(&address))
        });
    }
    let acls = if guarded {
        vec![
            acl(NACL_DEFAULT, true, &[SUBNET_PUBLIC, SUBNET_A, SUBNET_C], false),
            acl(NACL_GUARDED, false, &[SUBNET_D], true),
        ]
    } else {
        vec![acl(
            NACL_DEFAULT,
            true,
            &[SUBNET_PUBLIC, SUBNET_A, SUBNET_C, SUBNET_D],
            false,
        )]
    };
    Snapshot {
        vpcs: vec![Vpc {
            vpc_id: VPC.into(),
            cidr_block: Some("10.0.0.0/16".into()),
            state: Some("available".into()),
            owner_id: Some("123456789012".into()),
            is_default: Some(false),
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
            subnet(SUBNET_PUBLIC, "10.0.0.0/24", "a"),
            subnet(SUBNET_A, "10.0.10.0/24", "a"),
            subnet(SUBNET_C, "10.0.11.0/24", "c"),
            subnet(SUBNET_D, "10.0.12.0/24", "d"),
        ]
        .into(),
        security_groups: vec![
            group(
                SG_SHARED,
                "vpce-shared",
                vec![https_from_group(SG_LAMBDA, "ingest lambda")],
                vec![all_out()],
            ),
            group(
                SG_PINNED,
                "vpce-pinned",
                vec![cidr_permission(
                    Protocol::Tcp,
                    Some((443, 443)),
                    &format!("{ZABBIX_ADDRESS}/32"),
                    "zabbix host",
                )],
                vec![all_out()],
            ),
            group(
                SG_OPEN,
                "vpce-open",
                vec![cidr_permission(
                    Protocol::Tcp,
                    Some((443, 443)),
                    "10.0.0.0/16",
                    "the VPC",
                )],
                vec![all_out()],
            ),
            group(SG_LAMBDA, "ingest-lambda", vec![], vec![all_out()]),
            group(SG_ZABBIX, "zabbix-agent", vec![], vec![all_out()]),
            group(SG_APP, "app", vec![], vec![all_out()]),
            group(
                SG_BATCH,
                "batch",
                vec![],
                vec![cidr_permission(
                    Protocol::Tcp,
                    Some((443, 443)),
                    "10.0.10.0/24",
                    "own subnet only",
                )],
            ),
            group(SG_SEALED, "sealed", vec![], vec![]),
            group(
                SG_DEFAULT,
                "default",
                vec![https_from_group(SG_DEFAULT, "default")],
                vec![all_out()],
            ),
        ]
        .into(),
        network_interfaces: interfaces.into(),
        network_acls: acls.into(),
        service_details: [LOGS, MONITORING, STS, PARTNER].map(service).to_vec(),
        ..Default::default()
    }
}
