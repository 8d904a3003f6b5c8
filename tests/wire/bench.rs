//! Test benches: an EC2 port plus a world built in it, named so scenarios can refer to things
//! ("zabbix", "endpoint-sg") whatever ids the backend gave them.
//!
//! The incident world (the story of the README): VPC `main` with DNS support and hostnames on,
//! two subnets in two zones and one more in the first zone, an endpoint security group, a
//! monitoring instance (`zabbix`) and a Lambda ENI (`lambda`); VPC `nodns` with DNS hostnames
//! off; VPC `other`, to try cross-VPC mistakes.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, InstanceNetworkInterfaceSpecification, InstanceType, IpPermission, IpRange,
    Ipv6Range, PrefixListId, UserIdGroupPair,
};
use vpce_rollout::aws::sdk::{SdkEc2, SdkOptions};
use vpce_rollout::aws::sim::{SimClock, SimConfig, SimEc2, aws_service};
use vpce_rollout::aws::{Ec2, RulePeer};
use vpce_rollout::model::{
    AttributeBoolean, GroupIdentifier, NetworkAcl, NetworkInterface, PrivateIpAddress, SecurityGroup,
    Snapshot, Subnet, Vpc, VpcDnsAttributes,
};

use crate::moto::{Account, REGION, test_options};

/// The service every scenario rolls out; moto and the sim both give it a private DNS name.
pub fn logs_service() -> String {
    format!("com.amazonaws.{REGION}.logs")
}

/// An interface service that offers no private DNS name (in moto as in AWS).
pub fn service_without_private_dns() -> String {
    format!("com.amazonaws.{REGION}.iot.data")
}

/// A backend with the incident world in it.
#[allow(async_fn_in_trait)]
pub trait Bench {
    type Port: Ec2;
    fn port(&self) -> &Self::Port;
    /// The id the backend gave the named thing.
    fn id(&self, name: &str) -> String;
    /// The AWS account the bench's world lives in.
    fn account_id(&self) -> String;
    /// Lets time pass: real time on the wire, virtual time in the simulated world.
    async fn pass(&self, duration: Duration);
    /// Someone gives the named ENI secondary private IPv4 addresses (`10.20.1.20`) and IPv4
    /// prefixes (`10.20.1.48/28`), as the VPC CNI does for pods.
    async fn assign_addresses(&self, eni: &str, addresses: &[&str]);
    /// Whether the port is the SDK adapter (checks of its own before anything is sent).
    fn is_sdk(&self) -> bool {
        false
    }
}

/// The incident world, built in one moto account through the raw SDK (the port has no
/// CreateVpc: the controller never creates networks).
pub struct MotoBench {
    pub account: Account,
    ids: BTreeMap<String, String>,
}

impl Bench for MotoBench {
    type Port = SdkEc2;

    fn port(&self) -> &SdkEc2 {
        &self.account.ec2
    }

    fn is_sdk(&self) -> bool {
        true
    }

    fn id(&self, name: &str) -> String {
        self.ids
            .get(name)
            .unwrap_or_else(|| panic!("nothing named {name} in the incident world"))
            .clone()
    }

    fn account_id(&self) -> String {
        self.account.id.clone()
    }

    async fn pass(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    async fn assign_addresses(&self, eni: &str, addresses: &[&str]) {
        let (prefixes, ips): (Vec<&str>, Vec<&str>) = addresses.iter().partition(|a| a.contains('/'));
        let request = self
            .client()
            .assign_private_ip_addresses()
            .network_interface_id(self.id(eni));
        if !ips.is_empty() {
            request
                .clone()
                .set_private_ip_addresses(Some(ips.iter().map(|a| a.to_string()).collect()))
                .send()
                .await
                .expect("AssignPrivateIpAddresses");
        }
        if !prefixes.is_empty() {
            request
                .set_ipv4_prefixes(Some(prefixes.iter().map(|a| a.to_string()).collect()))
                .send()
                .await
                .expect("AssignPrivateIpAddresses (prefixes)");
        }
    }
}

impl MotoBench {
    pub async fn incident() -> Self {
        Self::incident_with(test_options()).await
    }

    pub async fn incident_with(options: SdkOptions) -> Self {
        let account = Account::with_options(options);
        let mut bench = Self {
            account,
            ids: BTreeMap::new(),
        };
        bench.vpc("main", "10.20.0.0/16", true).await;
        bench.vpc("nodns", "10.30.0.0/16", false).await;
        bench.vpc("other", "10.40.0.0/16", true).await;
        bench.subnet("main-a", "main", "10.20.1.0/24", "a").await;
        bench.subnet("main-b", "main", "10.20.2.0/24", "b").await;
        bench.subnet("main-a2", "main", "10.20.3.0/24", "a").await;
        bench.subnet("nodns-a", "nodns", "10.30.1.0/24", "a").await;
        bench.subnet("other-a", "other", "10.40.1.0/24", "a").await;
        bench.group("endpoint-sg", "main").await;
        bench.group("zabbix-sg", "main").await;
        bench.group("lambda-sg", "main").await;
        bench.group("nodns-endpoint-sg", "nodns").await;
        bench.group("other-sg", "other").await;
        bench.eni("zabbix", "main-a", &["zabbix-sg"]).await;
        bench.eni("lambda", "main-b", &["lambda-sg"]).await;
        bench
    }

    pub fn client(&self) -> &aws_sdk_ec2::Client {
        self.account.client()
    }

    async fn vpc(&mut self, name: &str, cidr: &str, dns_hostnames: bool) {
        let out = self
            .client()
            .create_vpc()
            .cidr_block(cidr)
            .send()
            .await
            .expect("CreateVpc");
        let id = out.vpc().and_then(|v| v.vpc_id()).expect("vpc id").to_string();
        self.client()
            .modify_vpc_attribute()
            .vpc_id(&id)
            .enable_dns_hostnames(AttributeBooleanValue::builder().value(dns_hostnames).build())
            .send()
            .await
            .expect("ModifyVpcAttribute");
        self.ids.insert(name.to_string(), id);
    }

    pub async fn subnet(&mut self, name: &str, vpc: &str, cidr: &str, zone: &str) -> String {
        let out = self
            .client()
            .create_subnet()
            .vpc_id(self.id(vpc))
            .cidr_block(cidr)
            .availability_zone(format!("{REGION}{zone}"))
            .send()
            .await
            .expect("CreateSubnet");
        let id = out
            .subnet()
            .and_then(|s| s.subnet_id())
            .expect("subnet id")
            .to_string();
        self.ids.insert(name.to_string(), id.clone());
        id
    }

    pub async fn group(&mut self, name: &str, vpc: &str) -> String {
        let out = self
            .client()
            .create_security_group()
            .vpc_id(self.id(vpc))
            .group_name(name)
            .description(format!("{name} (wire test)"))
            .send()
            .await
            .expect("CreateSecurityGroup");
        let id = out.group_id().expect("group id").to_string();
        self.ids.insert(name.to_string(), id.clone());
        id
    }

    /// Someone else's rule: the named group admits `peer` on tcp/443, authorized through the raw
    /// SDK without vpce-rollout's tags. Returns the rule's id.
    pub async fn foreign_https_ingress(&self, group: &str, peer: RulePeer) -> String {
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443);
        let permission = match peer {
            RulePeer::Group(id) => {
                permission.user_id_group_pairs(UserIdGroupPair::builder().group_id(id).build())
            }
            RulePeer::CidrIpv4(cidr) => permission.ip_ranges(IpRange::builder().cidr_ip(cidr).build()),
            RulePeer::CidrIpv6(cidr) => permission.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build()),
            RulePeer::PrefixList(id) => {
                permission.prefix_list_ids(PrefixListId::builder().prefix_list_id(id).build())
            }
        };
        let out = self
            .client()
            .authorize_security_group_ingress()
            .group_id(self.id(group))
            .ip_permissions(permission.build())
            .send()
            .await
            .expect("AuthorizeSecurityGroupIngress");
        out.security_group_rules()[0]
            .security_group_rule_id()
            .expect("rule id")
            .to_string()
    }

    /// An instance's ENI: created, then attached to an instance as its primary interface, so
    /// that it is `in-use` as a running instance's is (a detached ENI sends nothing and is no
    /// client).
    pub async fn eni(&mut self, name: &str, subnet: &str, groups: &[&str]) -> String {
        let out = self
            .client()
            .create_network_interface()
            .subnet_id(self.id(subnet))
            .set_groups(Some(groups.iter().map(|g| self.id(g)).collect()))
            .description(format!("{name} (wire test)"))
            .send()
            .await
            .expect("CreateNetworkInterface");
        let id = out
            .network_interface()
            .and_then(|n| n.network_interface_id())
            .expect("eni id")
            .to_string();
        self.client()
            .run_instances()
            .image_id("ami-0123456789abcdef0")
            .instance_type(InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .network_interfaces(
                InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .network_interface_id(&id)
                    .build(),
            )
            .send()
            .await
            .expect("RunInstances");
        self.ids.insert(name.to_string(), id.clone());
        id
    }
}

/// The same incident world in the simulated EC2 world, loaded from a snapshot, on virtual
/// time. Throttling is off: token buckets are the sim's own tests' business, and moto has none.
pub struct SimBench {
    port: SimEc2,
    ids: BTreeMap<String, String>,
}

impl Bench for SimBench {
    type Port = SimEc2;

    fn port(&self) -> &SimEc2 {
        &self.port
    }

    fn id(&self, name: &str) -> String {
        self.ids
            .get(name)
            .unwrap_or_else(|| panic!("nothing named {name} in the incident world"))
            .clone()
    }

    fn account_id(&self) -> String {
        self.port.config().account_id
    }

    async fn pass(&self, duration: Duration) {
        self.port.clock().advance(duration);
    }

    async fn assign_addresses(&self, eni: &str, addresses: &[&str]) {
        self.port
            .assign_addresses_out_of_band(&self.id(eni), addresses)
            .expect("the ENI exists");
    }
}

impl SimBench {
    pub async fn incident() -> Self {
        let mut names = Names::default();
        let mut snapshot = Snapshot::default();
        for (name, cidr, hostnames) in [
            ("main", "10.20.0.0/16", true),
            ("nodns", "10.30.0.0/16", false),
            ("other", "10.40.0.0/16", true),
        ] {
            let vpc_id = names.mint(name, "vpc");
            snapshot.vpcs.push(Vpc {
                vpc_id: vpc_id.clone(),
                cidr_block: Some(cidr.into()),
                state: Some("available".into()),
                ..Default::default()
            });
            snapshot.vpc_attributes.insert(
                vpc_id.clone(),
                VpcDnsAttributes {
                    enable_dns_support: Some(AttributeBoolean(true)),
                    enable_dns_hostnames: Some(AttributeBoolean(hostnames)),
                },
            );
            snapshot.network_acls.push(NetworkAcl {
                network_acl_id: names.mint(&format!("{name}-acl"), "acl"),
                vpc_id,
                is_default: true,
                ..Default::default()
            });
        }
        for (name, vpc, cidr, zone) in [
            ("main-a", "main", "10.20.1.0/24", "a"),
            ("main-b", "main", "10.20.2.0/24", "b"),
            ("main-a2", "main", "10.20.3.0/24", "a"),
            ("nodns-a", "nodns", "10.30.1.0/24", "a"),
            ("other-a", "other", "10.40.1.0/24", "a"),
        ] {
            let vpc_id = names.get(vpc);
            snapshot.subnets.push(Subnet {
                subnet_id: names.mint(name, "subnet"),
                vpc_id,
                cidr_block: Some(cidr.into()),
                availability_zone: Some(format!("{REGION}{zone}")),
                ..Default::default()
            });
        }
        for (name, vpc) in [
            ("endpoint-sg", "main"),
            ("zabbix-sg", "main"),
            ("lambda-sg", "main"),
            ("nodns-endpoint-sg", "nodns"),
            ("other-sg", "other"),
        ] {
            let vpc_id = names.get(vpc);
            snapshot.security_groups.push(SecurityGroup {
                group_id: names.mint(name, "sg"),
                group_name: Some(name.into()),
                vpc_id: Some(vpc_id),
                ..Default::default()
            });
        }
        for (name, subnet, group, address) in [
            ("zabbix", "main-a", "zabbix-sg", "10.20.1.10"),
            ("lambda", "main-b", "lambda-sg", "10.20.2.10"),
        ] {
            let (subnet_id, group_id, vpc_id) = (names.get(subnet), names.get(group), names.get("main"));
            snapshot.network_interfaces.push(NetworkInterface {
                network_interface_id: names.mint(name, "eni"),
                vpc_id,
                subnet_id,
                interface_type: Some(if name == "lambda" { "lambda" } else { "interface" }.into()),
                private_ip_address: Some(address.into()),
                private_ip_addresses: vec![PrivateIpAddress {
                    private_ip_address: address.into(),
                    primary: Some(true),
                }],
                status: Some("in-use".into()),
                groups: vec![GroupIdentifier {
                    group_id,
                    group_name: Some(group.into()),
                }],
                ..Default::default()
            });
        }
        let zones = [&format!("{REGION}a")[..], &format!("{REGION}b")[..]];
        let mut no_dns = aws_service(REGION, "iot.data", &zones);
        no_dns.private_dns_name = None;
        no_dns.private_dns_names.clear();
        snapshot.service_details = vec![aws_service(REGION, "logs", &zones), no_dns];

        let config = SimConfig::default().without_throttling().in_region(REGION);
        let port = SimEc2::with_config(&snapshot, SimClock::new(), config);
        Self { port, ids: names.ids }
    }
}

/// Ids for the simulated world, valid by EC2's patterns, each remembered by name.
#[derive(Default)]
struct Names {
    ids: BTreeMap<String, String>,
    next: u32,
}

impl Names {
    fn mint(&mut self, name: &str, prefix: &str) -> String {
        self.next += 1;
        let id = format!("{prefix}-0a{:015x}", self.next);
        self.ids.insert(name.to_string(), id.clone());
        id
    }

    fn get(&self, name: &str) -> String {
        self.ids[name].clone()
    }
}
