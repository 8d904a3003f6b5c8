//! Analysis of a large VPC: 20,000 ENIs, 300 client security groups, 3 endpoint ENIs.
//! Prints numbers (never asserts on time): `cargo bench --bench analysis`.
//!
//! Also measures reading the snapshot from JSON, since `plan` and the controller both start
//! from that shape.

use std::time::{Duration, Instant};

use vpce_rollout::analysis::analyze;
use vpce_rollout::api::{InterfaceEndpointSpec, Owner};
use vpce_rollout::model::{
    GroupIdentifier, IpPermission, IpRange, NetworkAcl, NetworkAclAssociation, NetworkAclEntry,
    NetworkInterface, PortRange, Protocol, SecurityGroup, SecurityGroupIdentifier, Snapshot, Subnet,
    UserIdGroupPair, Vpc, VpcEndpoint, tags_from,
};

const ENIS: usize = 20_000;
const CLIENT_GROUPS: usize = 300;
const SUBNETS: usize = 12;
const RUNS: usize = 7;
const VPC: &str = "vpc-0b0000000000000b1";
const SERVICE: &str = "com.amazonaws.ap-northeast-1.logs";

/// A small deterministic generator, so every run analyses the same VPC.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

fn sg_id(i: usize) -> String {
    format!("sg-{i:017x}")
}

fn subnet_id(i: usize) -> String {
    format!("subnet-{i:017x}")
}

fn tcp(from: i32, to: i32) -> IpPermission {
    IpPermission {
        ip_protocol: Protocol::Tcp,
        from_port: Some(from),
        to_port: Some(to),
        ..Default::default()
    }
}

fn with_group(mut p: IpPermission, group: String) -> IpPermission {
    p.user_id_group_pairs.push(UserIdGroupPair {
        group_id: group,
        ..Default::default()
    });
    p
}

fn with_cidr(mut p: IpPermission, cidr: String) -> IpPermission {
    p.ip_ranges.push(IpRange {
        cidr_ip: cidr,
        description: None,
    });
    p
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

fn owner() -> Owner {
    Owner {
        namespace: "monitoring".into(),
        name: "logs".into(),
        uid: "5f0c2a6e-8d3b-4c1e-9a7f-2b6d4e8f0a11".into(),
    }
}

fn world() -> (Snapshot, InterfaceEndpointSpec) {
    let mut rng = Lcg(42);
    let endpoint_sg = sg_id(0xe0);
    let mut s = Snapshot {
        vpcs: vec![Vpc {
            vpc_id: VPC.into(),
            cidr_block: Some("10.0.0.0/16".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    // Twelve /20 subnets: 10.0.0.0/20 ... 10.0.176.0/20.
    for i in 0..SUBNETS {
        s.subnets.push(Subnet {
            subnet_id: subnet_id(i),
            vpc_id: VPC.into(),
            cidr_block: Some(format!("10.0.{}.0/20", i * 16)),
            ..Default::default()
        });
    }

    // Client groups: each admits some app ports from the VPC; most let everything out, some
    // only to a few CIDRs (so egress to the endpoint fails for part of them).
    for g in 1..=CLIENT_GROUPS {
        let mut egress = vec![];
        match rng.next(10) {
            0 => egress.push(with_cidr(
                tcp(443, 443),
                format!("10.0.{}.0/20", rng.next(SUBNETS) * 16),
            )),
            1 => egress.push(with_cidr(tcp(5432, 5432), "10.0.0.0/16".into())),
            _ => {
                let mut all = IpPermission::default();
                all.ip_ranges.push(IpRange {
                    cidr_ip: "0.0.0.0/0".into(),
                    description: None,
                });
                egress.push(all);
            }
        }
        s.security_groups.push(SecurityGroup {
            group_id: sg_id(g),
            vpc_id: Some(VPC.into()),
            ip_permissions: vec![
                with_cidr(tcp(8080, 8090), "10.0.0.0/16".into()),
                with_group(tcp(22, 22), sg_id(1 + rng.next(CLIENT_GROUPS))),
            ],
            ip_permissions_egress: egress,
            ..Default::default()
        });
    }

    // The endpoint group admits half of the client groups by reference, plus two subnets.
    let mut admit = tcp(443, 443);
    for g in (1..=CLIENT_GROUPS).step_by(2) {
        admit = with_group(admit, sg_id(g));
    }
    let admit_cidrs = with_cidr(
        with_cidr(tcp(443, 443), "10.0.0.0/20".into()),
        "10.0.16.0/20".into(),
    );
    s.security_groups.push(SecurityGroup {
        group_id: endpoint_sg.clone(),
        vpc_id: Some(VPC.into()),
        ip_permissions: vec![admit, admit_cidrs],
        ..Default::default()
    });

    // ACLs: three subnets have their own, with a few denies before the allows.
    let mut custom = Vec::new();
    for a in 0..3 {
        let mut entries = Vec::new();
        for k in 0..8 {
            entries.push(acl_entry(
                10 + k,
                true,
                false,
                &format!("10.0.{}.0/24", 200 + k),
                Some((443, 443)),
            ));
            entries.push(acl_entry(
                10 + k,
                false,
                false,
                &format!("10.0.{}.0/24", 200 + k),
                None,
            ));
        }
        entries.push(acl_entry(100, true, true, "10.0.0.0/16", Some((443, 443))));
        entries.push(acl_entry(110, true, true, "0.0.0.0/0", Some((1024, 65535))));
        // The first ACL lets only half of the ephemeral ports back in: its clients are unfixable.
        let return_from = if a == 0 { 32768 } else { 1024 };
        entries.push(acl_entry(
            100,
            false,
            true,
            "10.0.0.0/16",
            Some((return_from, 65535)),
        ));
        custom.push(NetworkAcl {
            network_acl_id: format!("acl-{a:017x}"),
            vpc_id: VPC.into(),
            is_default: false,
            entries,
            associations: vec![NetworkAclAssociation {
                subnet_id: subnet_id(SUBNETS - 1 - a),
                ..Default::default()
            }],
            tags: vec![],
        });
    }
    s.network_acls.push(NetworkAcl {
        network_acl_id: format!("acl-{:017x}", 0xdef),
        vpc_id: VPC.into(),
        is_default: true,
        entries: vec![
            acl_entry(100, true, true, "0.0.0.0/0", None),
            acl_entry(100, false, true, "0.0.0.0/0", None),
        ],
        associations: vec![],
        tags: vec![],
    });
    s.network_acls.extend(custom);

    // The endpoint, with an ENI in each of the first three subnets.
    let mut endpoint_enis = Vec::new();
    for i in 0..3 {
        let id = format!("eni-e{i:016x}");
        s.network_interfaces.push(NetworkInterface {
            network_interface_id: id.clone(),
            vpc_id: VPC.into(),
            subnet_id: subnet_id(i),
            interface_type: Some("vpc_endpoint".into()),
            private_ip_address: Some(format!("10.0.{}.250", i * 16 + 15)),
            groups: vec![GroupIdentifier {
                group_id: endpoint_sg.clone(),
                group_name: None,
            }],
            ..Default::default()
        });
        endpoint_enis.push(id);
    }
    s.vpc_endpoints.push(VpcEndpoint {
        vpc_endpoint_id: "vpce-0e00000000000e001".into(),
        vpc_id: VPC.into(),
        service_name: SERVICE.into(),
        state: Some("available".into()),
        subnet_ids: (0..3).map(subnet_id).collect(),
        groups: vec![SecurityGroupIdentifier {
            group_id: endpoint_sg.clone(),
            group_name: None,
        }],
        network_interface_ids: endpoint_enis,
        tags: tags_from(owner().tags()),
        ..Default::default()
    });

    // Clients: mostly instances, some Lambda, a few NAT gateways; one to three groups each.
    for i in 0..ENIS {
        let subnet = rng.next(SUBNETS);
        let host = 16 + (i / SUBNETS) % 4000;
        let kind = match rng.next(100) {
            0 => "nat_gateway",
            1..=15 => "lambda",
            _ => "interface",
        };
        let groups = (0..1 + rng.next(3))
            .map(|_| GroupIdentifier {
                group_id: sg_id(1 + rng.next(CLIENT_GROUPS)),
                group_name: None,
            })
            .collect();
        s.network_interfaces.push(NetworkInterface {
            network_interface_id: format!("eni-{i:017x}"),
            vpc_id: VPC.into(),
            subnet_id: subnet_id(subnet),
            interface_type: Some(kind.into()),
            private_ip_address: Some(format!("10.0.{}.{}", subnet * 16 + host / 256, host % 256)),
            groups,
            ..Default::default()
        });
    }

    let spec: InterfaceEndpointSpec = serde_json::from_value(serde_json::json!({
        "vpcId": VPC,
        "serviceName": SERVICE,
        "subnetIds": [subnet_id(0), subnet_id(1), subnet_id(2)],
        "securityGroupIds": [endpoint_sg],
    }))
    .expect("a valid spec");
    (s, spec)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Peak resident set size of this process (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    // `cargo test --benches` runs this too; one quick pass is enough there.
    let runs = if std::env::args().any(|a| a == "--bench") {
        RUNS
    } else {
        1
    };

    let (snapshot, spec) = world();
    let json = snapshot.to_json();
    let mut parse_times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let parsed = Snapshot::from_json(&json).expect("the generated snapshot parses");
        parse_times.push(start.elapsed());
        assert_eq!(parsed.network_interfaces.len(), snapshot.network_interfaces.len());
    }

    let owner = owner();
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let analysis = analyze(&spec, Some(&owner), &snapshot).expect("the generated world is valid");
        times.push(start.elapsed());
        last = Some(analysis);
    }
    let analysis = last.expect("at least one run");

    println!(
        "VPC: {} ENIs, {} security groups, {} endpoint ENIs, snapshot JSON {:.1} MiB",
        snapshot.network_interfaces.len(),
        snapshot.security_groups.len(),
        analysis.destinations.len(),
        json.len() as f64 / (1024.0 * 1024.0)
    );
    println!(
        "result: {} clients ({} blocked), {} excluded, {} rules, {} unfixable",
        analysis.clients.len(),
        analysis.blocked().count(),
        analysis.excluded.len(),
        analysis.remediation.rules.len(),
        analysis.remediation.unfixable.len()
    );
    println!(
        "parse snapshot JSON: median {:?} over {runs} runs",
        median(parse_times)
    );
    println!("analyze:             median {:?} over {runs} runs", median(times));
    match peak_rss_mib() {
        Some(mib) => println!("peak RSS (VmHWM):    {mib:.1} MiB"),
        None => println!("peak RSS (VmHWM):    unavailable (no /proc/self/status)"),
    }
}
