//! Small builders for test snapshots, so that a test reads as the network it describes.
//!
//! `World::new()` is a VPC `vpc-1` (10.0.0.0/16) with subnets `subnet-a` (10.0.1.0/24, where
//! the endpoint goes) and `subnet-b` (10.0.2.0/24), the default ACL `acl-default` allowing all
//! traffic both ways as AWS creates it, and the endpoint group `sg-vpce` without rules.

use crate::api::{InterfaceEndpointSpec, OWNER_TAG, Owner, UID_TAG};
use crate::model::{
    GroupIdentifier, IpPermission, IpRange, Ipv4PrefixSpecification, Ipv6Address, Ipv6CidrBlockAssociation,
    Ipv6PrefixSpecification, Ipv6Range, NetworkAcl, NetworkAclAssociation, NetworkAclEntry, NetworkInterface,
    PortRange, PrefixListEntry, PrefixListId, PrivateIpAddress, Protocol, SecurityGroup,
    SecurityGroupIdentifier, Snapshot, Subnet, UserIdGroupPair, Vpc, VpcEndpoint, tags_from,
};

pub const VPC: &str = "vpc-1";
pub const SERVICE: &str = "com.amazonaws.ap-northeast-1.logs";

/// The owner used by [`World::endpoint`].
pub fn owner() -> Owner {
    Owner {
        namespace: "monitoring".into(),
        name: "logs".into(),
        uid: "uid-1".into(),
    }
}

/// A spec for `vpc-1` with the endpoint in `subnet-a` guarded by `sg-vpce`.
pub fn spec() -> InterfaceEndpointSpec {
    serde_json::from_value(serde_json::json!({
        "vpcId": VPC,
        "serviceName": SERVICE,
        "subnetIds": ["subnet-a"],
        "securityGroupIds": ["sg-vpce"],
    }))
    .expect("a valid spec")
}

/// A permission for `protocol` (`tcp`, `-1`, ...) on ports `from..=to`; add peers with the
/// [`Peers`] methods.
pub fn rule(protocol: &str, from: i32, to: i32) -> IpPermission {
    IpPermission {
        ip_protocol: Protocol::parse(protocol).expect("a protocol"),
        from_port: Some(from),
        to_port: Some(to),
        ..Default::default()
    }
}

/// tcp/443.
pub fn https() -> IpPermission {
    rule("tcp", 443, 443)
}

/// Protocol `-1` without ports, as AWS prints "all traffic".
pub fn all_traffic() -> IpPermission {
    IpPermission {
        ip_protocol: Protocol::All,
        ..Default::default()
    }
}

/// The egress rule every new security group has: all traffic to 0.0.0.0/0.
pub fn open_egress() -> Vec<IpPermission> {
    vec![all_traffic().cidr("0.0.0.0/0")]
}

pub trait Peers {
    fn group(self, id: &str) -> Self;
    fn cidr(self, cidr: &str) -> Self;
    fn cidr6(self, cidr: &str) -> Self;
    fn prefix_list(self, id: &str) -> Self;
}

impl Peers for IpPermission {
    fn group(mut self, id: &str) -> Self {
        self.user_id_group_pairs.push(UserIdGroupPair {
            group_id: id.into(),
            ..Default::default()
        });
        self
    }
    fn cidr(mut self, cidr: &str) -> Self {
        self.ip_ranges.push(IpRange {
            cidr_ip: cidr.into(),
            description: None,
        });
        self
    }
    fn cidr6(mut self, cidr: &str) -> Self {
        self.ipv6_ranges.push(Ipv6Range {
            cidr_ipv6: cidr.into(),
            description: None,
        });
        self
    }
    fn prefix_list(mut self, id: &str) -> Self {
        self.prefix_list_ids.push(PrefixListId {
            prefix_list_id: id.into(),
            description: None,
        });
        self
    }
}

/// An ACL entry: `action` is `allow` or `deny`, `ports` `None` for every port.
fn entry(
    number: i32,
    egress: bool,
    action: &str,
    cidr: &str,
    protocol: &str,
    ports: Option<(i32, i32)>,
) -> NetworkAclEntry {
    let v6 = cidr.contains(':');
    NetworkAclEntry {
        rule_number: number,
        protocol: Protocol::parse(protocol).expect("a protocol"),
        rule_action: action.into(),
        egress,
        cidr_block: (!v6).then(|| cidr.into()),
        ipv6_cidr_block: v6.then(|| cidr.into()),
        port_range: ports.map(|(from, to)| PortRange { from, to }),
    }
}

pub fn inbound(
    number: i32,
    action: &str,
    cidr: &str,
    protocol: &str,
    ports: Option<(i32, i32)>,
) -> NetworkAclEntry {
    entry(number, false, action, cidr, protocol, ports)
}

pub fn outbound(
    number: i32,
    action: &str,
    cidr: &str,
    protocol: &str,
    ports: Option<(i32, i32)>,
) -> NetworkAclEntry {
    entry(number, true, action, cidr, protocol, ports)
}

/// Allow-all both ways plus the `*` deny entries, as AWS prints a default ACL.
pub fn allow_all_entries() -> Vec<NetworkAclEntry> {
    vec![
        inbound(100, "allow", "0.0.0.0/0", "-1", None),
        inbound(32767, "deny", "0.0.0.0/0", "-1", None),
        outbound(100, "allow", "0.0.0.0/0", "-1", None),
        outbound(32767, "deny", "0.0.0.0/0", "-1", None),
    ]
}

pub struct World {
    snapshot: Snapshot,
}

impl World {
    pub fn new() -> World {
        World {
            snapshot: Snapshot {
                vpcs: vec![Vpc {
                    vpc_id: VPC.into(),
                    cidr_block: Some("10.0.0.0/16".into()),
                    ..Default::default()
                }],
                network_acls: vec![NetworkAcl {
                    network_acl_id: "acl-default".into(),
                    vpc_id: VPC.into(),
                    is_default: true,
                    entries: allow_all_entries(),
                    associations: Vec::new(),
                    tags: Vec::new(),
                }]
                .into(),
                ..Default::default()
            },
        }
        .subnet("subnet-a", "10.0.1.0/24")
        .subnet("subnet-b", "10.0.2.0/24")
        .sg("sg-vpce", vec![], vec![])
    }

    /// Replaces the entries of the VPC's default ACL `acl-default`.
    pub fn default_acl(mut self, entries: Vec<NetworkAclEntry>) -> World {
        for acl in self.snapshot.network_acls.iter_mut().filter(|a| a.is_default) {
            acl.entries = entries.clone();
        }
        self
    }

    /// A world without any network ACL.
    pub fn without_acls(mut self) -> World {
        self.snapshot.network_acls.clear();
        self
    }

    pub fn subnet(mut self, id: &str, cidr: &str) -> World {
        self.snapshot.subnets.push(Subnet {
            subnet_id: id.into(),
            vpc_id: VPC.into(),
            cidr_block: Some(cidr.into()),
            ..Default::default()
        });
        self
    }

    /// An IPv6-only subnet.
    pub fn subnet_v6(mut self, id: &str, cidr: &str) -> World {
        self.snapshot.subnets.push(Subnet {
            subnet_id: id.into(),
            vpc_id: VPC.into(),
            ipv6_cidr_block_association_set: vec![Ipv6CidrBlockAssociation {
                ipv6_cidr_block: cidr.into(),
                association_id: None,
            }],
            ..Default::default()
        });
        self
    }

    /// A security group of `vpc-1`; replaces one of the same id.
    pub fn sg(self, id: &str, ingress: Vec<IpPermission>, egress: Vec<IpPermission>) -> World {
        self.sg_in(VPC, id, ingress, egress)
    }

    pub fn sg_in(
        mut self,
        vpc: &str,
        id: &str,
        ingress: Vec<IpPermission>,
        egress: Vec<IpPermission>,
    ) -> World {
        self.snapshot.security_groups.retain(|g| g.group_id != id);
        self.snapshot.security_groups.push(SecurityGroup {
            group_id: id.into(),
            vpc_id: Some(vpc.into()),
            ip_permissions: ingress,
            ip_permissions_egress: egress,
            ..Default::default()
        });
        self
    }

    /// An EC2 instance ENI (`interface`).
    pub fn eni(self, id: &str, subnet: &str, ip: &str, groups: &[&str]) -> World {
        self.eni_typed(id, subnet, ip, groups, "interface")
    }

    pub fn eni_typed(
        mut self,
        id: &str,
        subnet: &str,
        ip: &str,
        groups: &[&str],
        interface_type: &str,
    ) -> World {
        let v6 = ip.contains(':');
        self.snapshot.network_interfaces.push(NetworkInterface {
            network_interface_id: id.into(),
            vpc_id: VPC.into(),
            subnet_id: subnet.into(),
            interface_type: Some(interface_type.into()),
            private_ip_address: (!v6 && !ip.is_empty()).then(|| ip.into()),
            ipv6_addresses: if v6 {
                vec![Ipv6Address {
                    ipv6_address: ip.into(),
                }]
            } else {
                Vec::new()
            },
            groups: groups
                .iter()
                .map(|g| GroupIdentifier {
                    group_id: g.to_string(),
                    group_name: None,
                })
                .collect(),
            ..Default::default()
        });
        self
    }

    /// Gives the ENI `id` more addresses, each by its form: a secondary private IPv4 address
    /// (`10.0.2.20`), an IPv6 address (`2600:1f14::20`), an IPv4 prefix (`10.0.2.48/28`) or an
    /// IPv6 prefix (`2600:1f14:0:1::/80`).
    pub fn addresses(mut self, id: &str, addresses: &[&str]) -> World {
        let eni = self.eni_mut(id);
        for a in addresses {
            let a = a.to_string();
            match (a.contains('/'), a.contains(':')) {
                (false, false) => eni.private_ip_addresses.push(PrivateIpAddress {
                    private_ip_address: a,
                    primary: Some(false),
                }),
                (false, true) => eni.ipv6_addresses.push(Ipv6Address { ipv6_address: a }),
                (true, false) => eni.ipv4_prefixes.push(Ipv4PrefixSpecification { ipv4_prefix: a }),
                (true, true) => eni.ipv6_prefixes.push(Ipv6PrefixSpecification { ipv6_prefix: a }),
            }
        }
        self
    }

    /// Says who made the ENI `id`, as DescribeNetworkInterfaces does: `requester` is the
    /// `RequesterId`, `managed` the `RequesterManaged` flag.
    pub fn made_by(mut self, id: &str, description: &str, requester: &str, managed: bool) -> World {
        let eni = self.eni_mut(id);
        eni.description = Some(description.into());
        eni.requester_id = Some(requester.into());
        eni.requester_managed = Some(managed);
        self
    }

    /// Sets the ENI's `Status` (`in-use`, `available`, ...).
    pub fn status(mut self, id: &str, status: &str) -> World {
        self.eni_mut(id).status = Some(status.into());
        self
    }

    fn eni_mut(&mut self, id: &str) -> &mut NetworkInterface {
        self.snapshot
            .network_interfaces
            .iter_mut()
            .find(|n| n.network_interface_id == id)
            .expect("add the ENI first")
    }

    /// An ENI in another VPC.
    pub fn foreign_eni(mut self, id: &str, vpc: &str) -> World {
        self.snapshot.network_interfaces.push(NetworkInterface {
            network_interface_id: id.into(),
            vpc_id: vpc.into(),
            subnet_id: "subnet-elsewhere".into(),
            interface_type: Some("interface".into()),
            private_ip_address: Some("172.16.0.5".into()),
            ..Default::default()
        });
        self
    }

    /// An ACL associated with `subnets`.
    pub fn nacl(mut self, id: &str, subnets: &[&str], entries: Vec<NetworkAclEntry>) -> World {
        self.snapshot.network_acls.push(NetworkAcl {
            network_acl_id: id.into(),
            vpc_id: VPC.into(),
            is_default: false,
            entries,
            associations: subnets
                .iter()
                .map(|s| NetworkAclAssociation {
                    subnet_id: s.to_string(),
                    ..Default::default()
                })
                .collect(),
            tags: Vec::new(),
        });
        self
    }

    /// The object's endpoint `vpce-1` (tagged for [`owner`]) with these ENIs (add them with
    /// [`World::eni_typed`] as `vpc_endpoint`) and groups.
    pub fn endpoint(self, enis: &[&str], subnets: &[&str], groups: &[&str]) -> World {
        let tags = tags_from(owner().tags());
        self.endpoint_tagged("vpce-1", enis, subnets, groups, tags)
    }

    pub fn endpoint_tagged(
        mut self,
        id: &str,
        enis: &[&str],
        subnets: &[&str],
        groups: &[&str],
        tags: Vec<crate::model::Tag>,
    ) -> World {
        self.snapshot.vpc_endpoints.push(VpcEndpoint {
            vpc_endpoint_id: id.into(),
            vpc_endpoint_type: Some("Interface".into()),
            vpc_id: VPC.into(),
            service_name: SERVICE.into(),
            state: Some("available".into()),
            subnet_ids: subnets.iter().map(|s| s.to_string()).collect(),
            groups: groups
                .iter()
                .map(|g| SecurityGroupIdentifier {
                    group_id: g.to_string(),
                    group_name: None,
                })
                .collect(),
            network_interface_ids: enis.iter().map(|e| e.to_string()).collect(),
            tags,
            ..Default::default()
        });
        self
    }

    pub fn prefix_list(mut self, id: &str, cidrs: &[&str]) -> World {
        self.snapshot.prefix_list_entries.insert(
            id.into(),
            cidrs
                .iter()
                .map(|c| PrefixListEntry {
                    cidr: c.to_string(),
                    description: None,
                })
                .collect(),
        );
        self
    }

    pub fn build(self) -> Snapshot {
        self.snapshot
    }
}

/// Only the owner tag, as an endpoint created for a manifest without UID would not be.
pub fn owner_tag_only() -> Vec<crate::model::Tag> {
    tags_from([(OWNER_TAG, owner().owner_tag())])
}

/// The owner tag with another object's UID.
pub fn other_uid_tags() -> Vec<crate::model::Tag> {
    tags_from([
        (OWNER_TAG, owner().owner_tag()),
        (UID_TAG, "uid-other".to_string()),
    ])
}
