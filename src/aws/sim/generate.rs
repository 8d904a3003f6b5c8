//! Large VPCs on demand, for the figures of docs/performance.md: a [`Shape`] (how many ENIs,
//! security groups and rules) and a seed give the same world every time.
//!
//! The world looks like a big shared VPC as EC2 describes it: subnets in tiers over three
//! Availability Zones, each with a network ACL of its own (one association per subnet, as AWS
//! allows) plus the VPC's default ACL; EC2 instances, Lambda functions, EKS pods on trunk
//! branches with secondary addresses and delegated prefixes, load balancers, NAT gateways,
//! detached ENIs and other endpoints' ENIs; security groups that admit CIDRs, other groups and
//! prefix lists, a few shared by many applications, most egress-open and some egress-restricted;
//! and this object's endpoint, three ENIs, `available`, tagged for its owner. Rules are counted
//! as EC2 counts them (each CIDR, group reference or prefix list of a permission is one rule) and
//! no group exceeds EC2's default quota of rules per direction.
//!
//! Part of the clients are blocked, as in a real VPC before a rollout: the endpoint's group
//! admits two tiers and a few groups, some applications let tcp/443 out only to a few places,
//! and the data tier's ACLs let only part of the ephemeral ports back.
//!
//! The simulated world can load the snapshot ([`super::SimEc2::new`]); `vpce-rollout
//! generate-vpc` (hidden) writes it and the endpoint's manifest to files, for timing `plan`.

use std::collections::BTreeMap;

use crate::api::{InterfaceEndpointSpec, Owner};
use crate::model::{
    Attachment, AttributeBoolean, CidrBlockAssociation, GroupIdentifier, IpPermission, IpRange,
    Ipv4PrefixSpecification, NetworkAcl, NetworkAclAssociation, NetworkAclEntry, NetworkInterface, PortRange,
    PrefixList, PrefixListEntry, PrefixListId, PrivateIpAddress, Protocol, SecurityGroup,
    SecurityGroupIdentifier, Snapshot, Subnet, Tag, UserIdGroupPair, Vpc, VpcDnsAttributes, VpcEndpoint,
    tags_from,
};

/// EC2's default quota of rules per security group and direction, which the generated groups
/// stay within.
const RULES_PER_DIRECTION: usize = super::limits::RULES_PER_SECURITY_GROUP as usize;
const ACCOUNT: &str = "123456789012";
const REGION: &str = "ap-northeast-1";
const ZONES: [&str; 3] = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"];
/// The service of the endpoint being rolled out.
pub const SERVICE: &str = "com.amazonaws.ap-northeast-1.logs";
/// Tiers of subnets, each in every zone. The endpoint's ENIs are in `endpoints`.
const TIERS: [&str; 6] = ["public", "app", "app-b", "eks", "data", "endpoints"];
/// The tier whose ACLs let only ephemeral ports 32768-65535 back in.
const DATA_TIER: usize = 4;
const ENDPOINT_TIER: usize = 5;

/// How big a world to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// ENIs in the VPC besides the endpoint's own (clients, and ENIs that are not clients).
    pub network_interfaces: usize,
    pub security_groups: usize,
    /// Rules over every group, both directions, counted as EC2 counts them.
    pub rules: usize,
    pub seed: u64,
}

impl Shape {
    /// The world of figure 1: 20,000 ENIs, 5,000 security groups, 100,000 rules.
    pub const FIGURE_1: Shape = Shape {
        network_interfaces: 20_000,
        security_groups: 5_000,
        rules: 100_000,
        seed: 1,
    };

    /// Figure 1's proportions at another number of ENIs (a group per 4 ENIs, 5 rules per ENI).
    pub fn scaled(network_interfaces: usize) -> Shape {
        Shape {
            network_interfaces,
            security_groups: (network_interfaces / 4).max(8),
            rules: network_interfaces * 5,
            ..Shape::FIGURE_1
        }
    }
}

/// A generated VPC and the endpoint object it is analysed for.
#[derive(Clone, Debug)]
pub struct GeneratedVpc {
    pub snapshot: Snapshot,
    pub spec: InterfaceEndpointSpec,
    pub owner: Owner,
}

impl GeneratedVpc {
    /// The InterfaceEndpoint manifest of [`GeneratedVpc::spec`], with the UID its endpoint is
    /// tagged with, as `plan -f` reads it.
    pub fn manifest_yaml(&self) -> String {
        let spec = serde_json::to_value(&self.spec).expect("a spec serializes");
        let doc = serde_json::json!({
            "apiVersion": format!("{}/v1alpha1", crate::api::GROUP),
            "kind": "InterfaceEndpoint",
            "metadata": {
                "name": self.owner.name,
                "namespace": self.owner.namespace,
                "uid": self.owner.uid,
            },
            "spec": spec,
        });
        serde_yaml::to_string(&doc).expect("a manifest serializes")
    }

    /// The snapshot as `aws ec2 describe-*` merged with `jq -s add` prints it (four-space
    /// indents), with the fields EC2 prints that the analysis does not read (MAC addresses,
    /// DNS names, attachment details): a reader has to skip them, as it does in a real file.
    pub fn describe_json(&self) -> Vec<u8> {
        let mut doc = serde_json::to_value(&self.snapshot).expect("a snapshot serializes");
        if let Some(enis) = doc.get_mut("NetworkInterfaces").and_then(|v| v.as_array_mut()) {
            for (i, eni) in enis.iter_mut().enumerate() {
                add_unread_fields(i, eni);
            }
        }
        let mut out = Vec::with_capacity(40 << 20);
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        serde::Serialize::serialize(&doc, &mut ser).expect("JSON values serialize");
        out.push(b'\n');
        out
    }

    /// How many rules the groups hold, counted as EC2 counts them.
    pub fn rule_count(&self) -> usize {
        self.snapshot
            .security_groups
            .iter()
            .map(|g| rules_in(&g.ip_permissions) + rules_in(&g.ip_permissions_egress))
            .sum()
    }
}

/// Each CIDR, group reference and prefix list of a permission is one rule.
fn rules_in(permissions: &[IpPermission]) -> usize {
    permissions
        .iter()
        .map(|p| {
            p.ip_ranges.len() + p.ipv6_ranges.len() + p.prefix_list_ids.len() + p.user_id_group_pairs.len()
        })
        .sum()
}

/// What `describe-network-interfaces` prints beside what the model keeps.
fn add_unread_fields(i: usize, eni: &mut serde_json::Value) {
    use serde_json::{Value, json};
    let Some(map) = eni.as_object_mut() else { return };
    let dns = |ip: &str| format!("ip-{}.ap-northeast-1.compute.internal", ip.replace('.', "-"));
    let primary = map
        .get("PrivateIpAddress")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let m = mix(i as u64 ^ 0x6d61_6300);
    map.insert(
        "MacAddress".into(),
        json!(format!(
            "0e:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m as u8,
            (m >> 8) as u8,
            (m >> 16) as u8,
            (m >> 24) as u8,
            (m >> 32) as u8
        )),
    );
    map.insert("PrivateDnsName".into(), json!(dns(&primary)));
    map.insert("SourceDestCheck".into(), json!(true));
    map.insert("Ipv6Addresses".into(), json!([]));
    map.insert("Ipv6Native".into(), json!(false));
    map.insert("DenyAllIgwTraffic".into(), json!(true));
    map.insert("Operator".into(), json!({"Managed": false}));
    if let Some(addresses) = map.get_mut("PrivateIpAddresses").and_then(Value::as_array_mut) {
        for a in addresses {
            let ip = a
                .get("PrivateIpAddress")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Some(a) = a.as_object_mut() {
                a.insert("PrivateDnsName".into(), json!(dns(&ip)));
            }
        }
    }
    if let Some(attachment) = map.get_mut("Attachment").and_then(Value::as_object_mut) {
        attachment.insert("AttachTime".into(), json!("2026-11-02T08:41:17+00:00"));
        attachment.insert(
            "AttachmentId".into(),
            json!(format!("eni-attach-0{:016x}", mix(m))),
        );
        attachment.insert("DeleteOnTermination".into(), json!(true));
        attachment.insert("DeviceIndex".into(), json!(0));
        attachment.insert("NetworkCardIndex".into(), json!(0));
    }
}

/// SplitMix64: small, fast, and the same numbers on every platform.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 11) % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// Skewed towards 0: a few indices are picked very often (popular groups), most rarely.
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u * u) * n as f64) as usize % n
    }
}

/// A bijection on u64 (SplitMix64's finalizer): distinct indices give distinct ids.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn id(prefix: &str, kind: u64, i: usize, seed: u64) -> String {
    format!(
        "{prefix}-0{:016x}",
        mix(seed.wrapping_mul(0x100) ^ (kind << 56) ^ i as u64)
    )
}

fn tag(key: &str, value: impl Into<String>) -> Tag {
    Tag {
        key: key.into(),
        value: value.into(),
    }
}

/// One subnet's place: its tier, zone and /20 (`10.<k>.<16 j>.0/20`).
struct SubnetPlan {
    id: String,
    tier: usize,
    zone: usize,
    /// The /20's first address, as a u32.
    base: u32,
    /// The next host offset to hand out.
    next: u32,
}

fn ip(n: u32) -> String {
    std::net::Ipv4Addr::from(n).to_string()
}

fn cidr(base: u32, len: u8) -> String {
    format!("{}/{len}", ip(base))
}

/// Builds the world for `shape`.
pub fn generate(shape: &Shape) -> GeneratedVpc {
    let mut rng = Rng(shape.seed);
    let seed = shape.seed;
    let vpc_id = id("vpc", 1, 0, seed);
    let owner = Owner {
        namespace: "platform".into(),
        name: "cloudwatch-logs".into(),
        uid: format!("00000000-0000-4000-8000-{:012x}", mix(seed) & 0xffff_ffff_ffff),
    };

    // Addresses: ENIs, a few of them with secondary addresses or a /28 prefix; subnets are /20s
    // (4,091 usable addresses), filled to at most half.
    let addresses_needed = shape.network_interfaces * 3;
    let per_tier = addresses_needed
        .div_ceil(2048 * ZONES.len() * (TIERS.len() - 1))
        .max(1);
    let mut subnets: Vec<SubnetPlan> = Vec::new();
    for tier in 0..TIERS.len() {
        let copies = if tier == ENDPOINT_TIER { 1 } else { per_tier };
        for _ in 0..copies {
            for zone in 0..ZONES.len() {
                let k = subnets.len() as u32;
                subnets.push(SubnetPlan {
                    id: id("subnet", 2, subnets.len(), seed),
                    tier,
                    zone,
                    base: (10 << 24) | ((k / 16) << 16) | ((k % 16) << 12),
                    next: 4,
                });
            }
        }
    }
    let vpc_blocks = subnets.len().div_ceil(16);

    let mut snapshot = Snapshot {
        vpcs: vec![Vpc {
            vpc_id: vpc_id.clone(),
            cidr_block: Some("10.0.0.0/16".into()),
            cidr_block_association_set: (0..vpc_blocks)
                .map(|k| CidrBlockAssociation {
                    cidr_block: format!("10.{k}.0.0/16"),
                    association_id: Some(id("vpc-cidr-assoc", 3, k, seed)),
                })
                .collect(),
            state: Some("available".into()),
            owner_id: Some(ACCOUNT.into()),
            is_default: Some(false),
            tags: vec![tag("Name", "shared-platform")],
            ..Default::default()
        }],
        vpc_attributes: BTreeMap::from([(
            vpc_id.clone(),
            VpcDnsAttributes {
                enable_dns_support: Some(AttributeBoolean(true)),
                enable_dns_hostnames: Some(AttributeBoolean(true)),
            },
        )]),
        service_details: vec![super::aws_service(REGION, "logs", &ZONES)],
        ..Default::default()
    };
    for s in &subnets {
        snapshot.subnets.push(Subnet {
            subnet_id: s.id.clone(),
            vpc_id: vpc_id.clone(),
            cidr_block: Some(cidr(s.base, 20)),
            availability_zone: Some(ZONES[s.zone].into()),
            availability_zone_id: Some(format!("apne1-az{}", s.zone + 1)),
            tags: vec![tag("Name", format!("{}-{}", TIERS[s.tier], ZONES[s.zone]))],
            ..Default::default()
        });
    }

    // Prefix lists: a customer-managed one of office ranges, and S3's.
    let office = id("pl", 4, 0, seed);
    let s3 = id("pl", 4, 1, seed);
    snapshot.prefix_lists = vec![
        PrefixList {
            prefix_list_id: office.clone(),
            prefix_list_name: Some("corp-offices".into()),
            max_entries: Some(20),
            address_family: Some("IPv4".into()),
            ..Default::default()
        },
        PrefixList {
            prefix_list_id: s3.clone(),
            prefix_list_name: Some(format!("com.amazonaws.{REGION}.s3")),
            address_family: Some("IPv4".into()),
            ..Default::default()
        },
    ];
    snapshot.prefix_list_entries = BTreeMap::from([
        (
            office.clone(),
            (0..12)
                .map(|i| PrefixListEntry {
                    cidr: format!("198.51.{}.0/24", 10 + i),
                    description: Some(format!("office {i}")),
                })
                .collect(),
        ),
        (
            s3.clone(),
            ["52.219.0.0/20", "52.219.16.0/22", "3.5.152.0/21"]
                .iter()
                .map(|c| PrefixListEntry {
                    cidr: c.to_string(),
                    description: None,
                })
                .collect(),
        ),
    ]);

    let groups = security_groups(shape, &mut rng, &vpc_id, &subnets, [&office, &s3]);
    let endpoint_group = groups.endpoint.clone();
    snapshot.security_groups = groups.all.into();

    snapshot.network_acls = network_acls(&vpc_id, &subnets, seed).into();

    // The endpoint: one ENI per zone in the endpoint tier.
    let mut endpoint_enis = Vec::new();
    let endpoint_subnets: Vec<usize> = (0..subnets.len())
        .filter(|&i| subnets[i].tier == ENDPOINT_TIER)
        .collect();
    for (k, &s) in endpoint_subnets.iter().enumerate() {
        let eni_id = id("eni", 5, 1_000_000 + k, seed);
        let address = take_address(&mut subnets[s]);
        snapshot.network_interfaces.push(NetworkInterface {
            network_interface_id: eni_id.clone(),
            vpc_id: vpc_id.clone(),
            subnet_id: subnets[s].id.clone(),
            interface_type: Some("vpc_endpoint".into()),
            private_ip_address: Some(ip(address)),
            private_ip_addresses: vec![PrivateIpAddress {
                private_ip_address: ip(address),
                primary: Some(true),
            }],
            groups: vec![GroupIdentifier {
                group_id: endpoint_group.clone(),
                group_name: Some("vpce-logs".into()),
            }],
            description: Some(format!("VPC Endpoint Interface {}", id("vpce", 6, 0, seed))),
            status: Some("in-use".into()),
            requester_id: Some("727180483921".into()),
            requester_managed: Some(true),
            owner_id: Some(ACCOUNT.into()),
            availability_zone: Some(ZONES[subnets[s].zone].into()),
            ..Default::default()
        });
        endpoint_enis.push(eni_id);
    }
    snapshot.vpc_endpoints.push(VpcEndpoint {
        vpc_endpoint_id: id("vpce", 6, 0, seed),
        vpc_id: vpc_id.clone(),
        service_name: SERVICE.into(),
        state: Some("available".into()),
        subnet_ids: endpoint_subnets.iter().map(|&s| subnets[s].id.clone()).collect(),
        groups: vec![SecurityGroupIdentifier {
            group_id: endpoint_group.clone(),
            group_name: Some("vpce-logs".into()),
        }],
        network_interface_ids: endpoint_enis,
        tags: tags_from(owner.tags()),
        ..Default::default()
    });

    interfaces(
        shape,
        &mut rng,
        &vpc_id,
        &mut subnets,
        &groups.app,
        &groups.shared,
        &mut snapshot,
    );

    let spec: InterfaceEndpointSpec = serde_json::from_value(serde_json::json!({
        "vpcId": vpc_id,
        "serviceName": SERVICE,
        "subnetIds": endpoint_subnets.iter().map(|&s| subnets[s].id.clone()).collect::<Vec<_>>(),
        "securityGroupIds": [endpoint_group],
        "remediation": {"endpointIngress": "Approval", "clientEgress": "Approval"},
    }))
    .expect("the generated spec is valid");
    GeneratedVpc {
        snapshot,
        spec,
        owner,
    }
}

fn take_address(subnet: &mut SubnetPlan) -> u32 {
    let a = subnet.base + subnet.next;
    subnet.next += 1;
    assert!(subnet.next < 4095, "subnets are sized for the addresses they get");
    a
}

/// A /28 out of the top of the subnet, for prefix delegation.
fn take_prefix(subnet: &mut SubnetPlan) -> u32 {
    // Addresses come from the bottom; prefixes from aligned blocks after them.
    subnet.next = (subnet.next + 15) & !15;
    let a = subnet.base + subnet.next;
    subnet.next += 16;
    assert!(subnet.next < 4095, "subnets are sized for the addresses they get");
    a
}

struct Groups {
    all: Vec<SecurityGroup>,
    endpoint: String,
    /// Application groups, each carried by the ENIs of one application.
    app: Vec<String>,
    /// Groups many applications carry (monitoring, bastion access, ...).
    shared: Vec<String>,
}

fn tcp(from: i32, to: i32) -> IpPermission {
    IpPermission {
        ip_protocol: Protocol::Tcp,
        from_port: Some(from),
        to_port: Some(to),
        ..Default::default()
    }
}

fn security_groups(
    shape: &Shape,
    rng: &mut Rng,
    vpc_id: &str,
    subnets: &[SubnetPlan],
    [office, s3]: [&str; 2],
) -> Groups {
    let n = shape.security_groups.max(8);
    let ids: Vec<String> = (0..n).map(|i| id("sg", 7, i, shape.seed)).collect();
    // Group 0 guards the endpoint; 1..=shared are shared; the rest belong to applications.
    let shared_count = (n / 100).clamp(3, 40);
    let endpoint = ids[0].clone();
    let shared: Vec<String> = ids[1..=shared_count].to_vec();
    let app: Vec<String> = ids[shared_count + 1..].to_vec();

    // Egress: most groups let everything out (one rule); one in eight only tcp 443 to S3 and a
    // few internal ports (three to five rules).
    let restricted: Vec<bool> = (0..n).map(|i| i > shared_count && rng.chance(12)).collect();
    let egress_rules: usize = restricted.iter().map(|&r| if r { 4 } else { 1 }).sum::<usize>() - 1;
    let endpoint_rules = subnets.iter().filter(|s| s.tier == 1).count() + 2;
    let ingress_budget = shape.rules.saturating_sub(egress_rules + endpoint_rules);
    // The endpoint's group has only its own rules (below).
    let mut ingress_counts = vec![0];
    ingress_counts.extend(ingress_counts_of(n - 1, ingress_budget, rng));

    let app_cidr = |rng: &mut Rng| {
        let s = &subnets[rng.below(subnets.len())];
        match rng.below(4) {
            0 => cidr(s.base, 20),
            1 => cidr(s.base + ((rng.below(16) as u32) << 8), 24),
            2 => cidr(s.base + ((rng.below(256) as u32) << 4), 28),
            _ => format!("{}/32", ip(s.base + 4 + rng.below(2000) as u32)),
        }
    };
    const PORTS: [(i32, i32); 10] = [
        (443, 443),
        (80, 80),
        (8080, 8080),
        (22, 22),
        (5432, 5432),
        (3306, 3306),
        (6379, 6379),
        (9090, 9100),
        (8443, 8443),
        (30000, 32767),
    ];

    let mut all = Vec::with_capacity(n);
    for (i, group_id) in ids.iter().enumerate() {
        let (name, description) = if i == 0 {
            (
                "vpce-logs".to_string(),
                "CloudWatch Logs interface endpoint".to_string(),
            )
        } else if i <= shared_count {
            (
                format!("shared-{i}"),
                "Shared access (monitoring, bastion, service mesh)".to_string(),
            )
        } else {
            (
                format!("app-{i}"),
                format!("Application {i} instances and functions"),
            )
        };
        // Ingress: permissions per port, each with one to four peers.
        let mut ingress: Vec<IpPermission> = Vec::new();
        let mut left = ingress_counts[i];
        while left > 0 {
            let (from, to) = PORTS[rng.skewed(PORTS.len())];
            let mut p = tcp(from, to);
            for _ in 0..(1 + rng.below(4)).min(left) {
                match rng.below(100) {
                    0..=54 => p.ip_ranges.push(IpRange {
                        cidr_ip: app_cidr(rng),
                        description: rng.chance(30).then(|| "from the app tier".to_string()),
                    }),
                    55..=94 => p.user_id_group_pairs.push(UserIdGroupPair {
                        group_id: ids[1 + rng.skewed(n - 1)].clone(),
                        user_id: Some(ACCOUNT.into()),
                        ..Default::default()
                    }),
                    _ => p.prefix_list_ids.push(PrefixListId {
                        prefix_list_id: office.to_string(),
                        description: Some("offices".into()),
                    }),
                }
                left -= 1;
            }
            ingress.push(p);
        }
        if i == 0 {
            // The endpoint admits the app tier's subnets and a few shared groups.
            let mut admit = tcp(443, 443);
            for s in subnets.iter().filter(|s| s.tier == 1) {
                admit.ip_ranges.push(IpRange {
                    cidr_ip: cidr(s.base, 20),
                    description: Some("app tier".into()),
                });
            }
            for g in &shared[..2] {
                admit.user_id_group_pairs.push(UserIdGroupPair {
                    group_id: g.clone(),
                    user_id: Some(ACCOUNT.into()),
                    ..Default::default()
                });
            }
            ingress.push(admit);
        }
        let egress = if restricted[i] {
            let mut https = tcp(443, 443);
            https.prefix_list_ids.push(PrefixListId {
                prefix_list_id: s3.to_string(),
                description: None,
            });
            let mut db = tcp(5432, 5432);
            db.ip_ranges.push(IpRange {
                cidr_ip: app_cidr(rng),
                description: Some("database".into()),
            });
            let mut cache = tcp(6379, 6379);
            cache.user_id_group_pairs.push(UserIdGroupPair {
                group_id: ids[1 + rng.skewed(n - 1)].clone(),
                user_id: Some(ACCOUNT.into()),
                ..Default::default()
            });
            let mut dns = IpPermission {
                ip_protocol: Protocol::Udp,
                from_port: Some(53),
                to_port: Some(53),
                ..Default::default()
            };
            dns.ip_ranges.push(IpRange {
                cidr_ip: "10.0.0.2/32".into(),
                description: Some("VPC resolver".into()),
            });
            vec![https, db, cache, dns]
        } else if i == 0 {
            vec![]
        } else {
            let mut all = IpPermission::default();
            all.ip_ranges.push(IpRange {
                cidr_ip: "0.0.0.0/0".into(),
                description: None,
            });
            vec![all]
        };
        all.push(SecurityGroup {
            group_id: group_id.clone(),
            group_name: Some(name.clone()),
            description: Some(description),
            vpc_id: Some(vpc_id.to_string()),
            owner_id: Some(ACCOUNT.into()),
            ip_permissions: ingress,
            ip_permissions_egress: egress,
            tags: vec![tag("Name", name), tag("team", format!("team-{}", i % 37))],
        });
    }
    Groups {
        all,
        endpoint,
        app,
        shared,
    }
}

/// Ingress rules per group: varied (a few large groups, many small ones), each within the quota,
/// adding up to `budget` as far as the quota allows.
fn ingress_counts_of(n: usize, budget: usize, rng: &mut Rng) -> Vec<usize> {
    let mean = budget as f64 / n as f64;
    let mut counts: Vec<usize> = (0..n)
        .map(|_| {
            let f = [0.2, 0.5, 0.8, 1.0, 1.3, 2.0, 2.6][rng.below(7)];
            ((mean * f).round() as usize).clamp(1, RULES_PER_DIRECTION - 5)
        })
        .collect();
    let mut total: usize = counts.iter().sum();
    let mut i = 0;
    let mut stuck = 0;
    while total != budget && stuck < n {
        let c = &mut counts[i % n];
        if total < budget && *c < RULES_PER_DIRECTION - 5 {
            *c += 1;
            total += 1;
            stuck = 0;
        } else if total > budget && *c > 1 {
            *c -= 1;
            total -= 1;
            stuck = 0;
        } else {
            stuck += 1;
        }
        i += 1;
    }
    counts
}

fn acl_entry(
    number: i32,
    egress: bool,
    allow: bool,
    cidr: &str,
    ports: Option<(i32, i32)>,
) -> NetworkAclEntry {
    NetworkAclEntry {
        rule_number: number,
        protocol: if ports.is_some() {
            Protocol::Tcp
        } else {
            Protocol::All
        },
        rule_action: if allow { "allow" } else { "deny" }.into(),
        egress,
        cidr_block: Some(cidr.into()),
        ipv6_cidr_block: None,
        port_range: ports.map(|(from, to)| PortRange { from, to }),
    }
}

/// One ACL per subnet, and the VPC's default ACL (associated with none: every subnet has its
/// own). Each denies a few outside ranges, then allows the VPC; the data tier's let only the
/// upper half of the ephemeral ports back in (its clients are blocked, and no security group
/// rule fixes that).
fn network_acls(vpc_id: &str, subnets: &[SubnetPlan], seed: u64) -> Vec<NetworkAcl> {
    let mut acls = vec![NetworkAcl {
        network_acl_id: id("acl", 8, 0, seed),
        vpc_id: vpc_id.to_string(),
        is_default: true,
        entries: vec![
            acl_entry(100, true, true, "0.0.0.0/0", None),
            acl_entry(100, false, true, "0.0.0.0/0", None),
            acl_entry(32767, true, false, "0.0.0.0/0", None),
            acl_entry(32767, false, false, "0.0.0.0/0", None),
        ],
        associations: vec![],
        tags: vec![],
    }];
    for (k, s) in subnets.iter().enumerate() {
        let mut entries = Vec::new();
        for (n, blocked) in ["192.0.2.0/24", "198.18.0.0/15", "203.0.113.0/24"]
            .iter()
            .enumerate()
        {
            let number = 10 + n as i32 * 10;
            entries.push(acl_entry(number, false, false, blocked, None));
            entries.push(acl_entry(number, true, false, blocked, None));
        }
        let return_from = if s.tier == DATA_TIER { 32768 } else { 1024 };
        for (b, block) in (0..subnets.len().div_ceil(16)).enumerate() {
            let vpc = format!("10.{block}.0.0/16");
            let number = 100 + b as i32 * 10;
            entries.push(acl_entry(number, false, true, &vpc, Some((0, 1023))));
            entries.push(acl_entry(
                number + 1,
                false,
                true,
                &vpc,
                Some((return_from, 65535)),
            ));
            entries.push(acl_entry(number, true, true, &vpc, None));
        }
        if s.tier == ENDPOINT_TIER {
            // The endpoints' subnets refuse https from the first public /24 (a load balancer
            // tier someone meant to keep away from internal services).
            entries.push(acl_entry(
                90,
                false,
                false,
                &cidr(subnets[0].base, 24),
                Some((443, 443)),
            ));
        }
        entries.push(acl_entry(
            200,
            false,
            true,
            "0.0.0.0/0",
            Some((return_from, 65535)),
        ));
        entries.push(acl_entry(200, true, true, "0.0.0.0/0", Some((443, 443))));
        entries.push(acl_entry(210, true, true, "0.0.0.0/0", Some((80, 80))));
        entries.push(acl_entry(32767, true, false, "0.0.0.0/0", None));
        entries.push(acl_entry(32767, false, false, "0.0.0.0/0", None));
        acls.push(NetworkAcl {
            network_acl_id: id("acl", 8, 1 + k, seed),
            vpc_id: vpc_id.to_string(),
            is_default: false,
            entries,
            associations: vec![NetworkAclAssociation {
                network_acl_association_id: Some(id("aclassoc", 9, k, seed)),
                network_acl_id: Some(id("acl", 8, 1 + k, seed)),
                subnet_id: s.id.clone(),
            }],
            tags: vec![tag("Name", format!("{}-{}", TIERS[s.tier], ZONES[s.zone]))],
        });
    }
    acls
}

#[allow(clippy::too_many_arguments)]
fn interfaces(
    shape: &Shape,
    rng: &mut Rng,
    vpc_id: &str,
    subnets: &mut [SubnetPlan],
    app: &[String],
    shared: &[String],
    snapshot: &mut Snapshot,
) {
    let by_tier =
        |tier: usize| -> Vec<usize> { (0..subnets.len()).filter(|&i| subnets[i].tier == tier).collect() };
    let tiers: Vec<Vec<usize>> = (0..TIERS.len()).map(by_tier).collect();
    for i in 0..shape.network_interfaces {
        // What the ENI is, and the tier it lives in.
        let (kind, tier, description, requester) = match rng.below(1000) {
            0..=4 => (
                "nat_gateway",
                0,
                "Interface for NAT Gateway nat-0a1b2c3d".to_string(),
                None,
            ),
            5..=44 => (
                "interface",
                0,
                format!("ELB app/web-{}/{:016x}", i % 97, mix(i as u64)),
                Some("amazon-elb"),
            ),
            45..=204 => (
                "lambda",
                1 + rng.below(2),
                format!("AWS Lambda VPC ENI-fn-{}", i % 311),
                Some("AROAEXAMPLE:lambda"),
            ),
            205..=424 => ("branch", 3, "aws-k8s-branch-eni".to_string(), None),
            425..=444 => ("interface", 1, "detached".to_string(), None),
            445..=449 => (
                "vpc_endpoint",
                ENDPOINT_TIER,
                "VPC Endpoint Interface vpce-other".to_string(),
                Some("727180483921"),
            ),
            450..=599 => (
                "interface",
                DATA_TIER,
                "Primary network interface".to_string(),
                None,
            ),
            // Bastions and web servers in the public tier.
            600..=649 => ("interface", 0, "Primary network interface".to_string(), None),
            _ => (
                "interface",
                1 + rng.below(2),
                "Primary network interface".to_string(),
                None,
            ),
        };
        let s = tiers[tier][rng.below(tiers[tier].len())];
        let subnet = &mut subnets[s];
        let primary = take_address(subnet);
        let mut addresses = vec![PrivateIpAddress {
            private_ip_address: ip(primary),
            primary: Some(true),
        }];
        let mut prefixes = Vec::new();
        if kind == "branch" || (tier == 3 && rng.chance(50)) {
            for _ in 0..1 + rng.below(3) {
                addresses.push(PrivateIpAddress {
                    private_ip_address: ip(take_address(subnet)),
                    primary: Some(false),
                });
            }
        } else if tier == 1 && rng.chance(3) {
            prefixes.push(Ipv4PrefixSpecification {
                ipv4_prefix: cidr(take_prefix(subnet), 28),
            });
        }
        // One application group, often a shared one or two: the same few sets recur.
        let app_index = rng.skewed(app.len());
        let mut groups = vec![app[app_index].clone()];
        if rng.chance(45) {
            groups.push(shared[rng.skewed(shared.len())].clone());
        }
        if rng.chance(10) {
            groups.push(app[(app_index + 1 + rng.below(5)) % app.len()].clone());
        }
        let status = if description == "detached" {
            "available"
        } else {
            "in-use"
        };
        let zone = ZONES[subnet.zone];
        snapshot.network_interfaces.push(NetworkInterface {
            network_interface_id: id("eni", 5, i, shape.seed),
            vpc_id: vpc_id.to_string(),
            subnet_id: subnet.id.clone(),
            interface_type: Some(kind.into()),
            private_ip_address: Some(ip(primary)),
            private_ip_addresses: addresses,
            ipv4_prefixes: prefixes,
            groups: groups
                .into_iter()
                .map(|g| GroupIdentifier {
                    group_name: Some(format!("group-{}", &g[g.len() - 6..])),
                    group_id: g,
                })
                .collect(),
            description: Some(description),
            status: Some(status.into()),
            requester_id: requester.map(str::to_string),
            requester_managed: Some(requester.is_some()),
            owner_id: Some(ACCOUNT.into()),
            attachment: (status == "in-use").then(|| Attachment {
                instance_id: (kind == "interface" && requester.is_none()).then(|| id("i", 11, i, shape.seed)),
                instance_owner_id: Some(requester.unwrap_or(ACCOUNT).to_string()),
                status: Some("attached".into()),
            }),
            availability_zone: Some(zone.into()),
            tag_set: if kind == "interface" && rng.chance(30) {
                vec![
                    tag("cluster", format!("c{}", i % 7)),
                    tag("owner", format!("team-{}", i % 37)),
                ]
            } else {
                vec![]
            },
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::analyze;

    fn small() -> Shape {
        Shape {
            network_interfaces: 2_000,
            security_groups: 500,
            rules: 10_000,
            seed: 7,
        }
    }

    #[test]
    fn the_same_shape_and_seed_give_the_same_world_and_another_seed_another() {
        let a = generate(&small());
        let b = generate(&small());
        assert_eq!(a.snapshot, b.snapshot);
        assert_eq!(a.spec, b.spec);
        let c = generate(&Shape { seed: 8, ..small() });
        assert_ne!(a.snapshot, c.snapshot);
    }

    #[test]
    fn the_world_has_the_shape_asked_for_within_ec2s_quotas() {
        let world = generate(&small());
        let s = &world.snapshot;
        assert_eq!(
            s.network_interfaces.len(),
            2_000 + 3,
            "the ENIs and the endpoint's three"
        );
        assert_eq!(s.security_groups.len(), 500);
        assert_eq!(world.rule_count(), 10_000);
        for g in &s.security_groups {
            assert!(
                rules_in(&g.ip_permissions) <= RULES_PER_DIRECTION,
                "{}",
                g.group_id
            );
            assert!(
                rules_in(&g.ip_permissions_egress) <= RULES_PER_DIRECTION,
                "{}",
                g.group_id
            );
        }
        // Every subnet has exactly one ACL of its own.
        for subnet in &s.subnets {
            let acls = s
                .network_acls
                .iter()
                .filter(|a| a.associations.iter().any(|x| x.subnet_id == subnet.subnet_id))
                .count();
            assert_eq!(acls, 1, "{}", subnet.subnet_id);
        }
        let mut ids: Vec<&str> = s
            .network_interfaces
            .iter()
            .map(|e| e.network_interface_id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), s.network_interfaces.len(), "ENI ids are unique");
        s.check().expect("the snapshot is one EC2 could describe");
    }

    #[test]
    fn part_of_the_clients_are_blocked_for_each_kind_of_reason() {
        let world = generate(&small());
        let analysis = analyze(&world.spec, Some(&world.owner), &world.snapshot).unwrap();
        assert_eq!(
            analysis.endpoint_id.as_deref(),
            Some(world.snapshot.vpc_endpoints[0].vpc_endpoint_id.as_str())
        );
        let blocked = analysis.blocked().count();
        assert!(
            blocked > 0 && blocked < analysis.clients.len(),
            "{blocked} of {}",
            analysis.clients.len()
        );
        let mut checks: Vec<_> = analysis.blocked().flat_map(|c| c.failing_checks()).collect();
        checks.sort();
        checks.dedup();
        use crate::analysis::Check::*;
        assert_eq!(
            checks,
            [
                EndpointIngress,
                ClientEgress,
                ClientSubnetNacl,
                EndpointSubnetNacl
            ]
        );
        assert!(!analysis.excluded.is_empty());
    }

    #[test]
    fn the_manifest_reads_back_as_the_spec_for_the_endpoints_owner() {
        let world = generate(&small());
        let yaml = world.manifest_yaml();
        let doc: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
        let spec: InterfaceEndpointSpec = serde_json::from_value(doc["spec"].clone()).unwrap();
        assert_eq!(spec, world.spec);
        assert_eq!(doc["metadata"]["uid"], world.owner.uid.as_str());
    }
}
