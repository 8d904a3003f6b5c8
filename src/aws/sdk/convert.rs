//! aws-sdk-ec2 types → the AWS JSON shapes of [`crate::model`], field for field, so that a live
//! observation serializes exactly like `aws ec2 describe-*` output.
//!
//! Enums are kept as the strings EC2 sent (`as_str()`), never matched as variants: the SDK's
//! variant names do not always match the wire values (see [`vpc_endpoint`]).

use aws_sdk_ec2::primitives::DateTimeFormat;
use aws_sdk_ec2::types as sdk;

use crate::model::{
    Attachment, CidrBlockAssociation, DnsEntry, EndpointDnsOptions, FlowLog, GroupIdentifier, IpPermission,
    IpRange, Ipv4PrefixSpecification, Ipv6Address, Ipv6CidrBlockAssociation, Ipv6PrefixSpecification,
    Ipv6Range, NetworkAcl, NetworkAclAssociation, NetworkAclEntry, NetworkInterface, PortRange, PrefixList,
    PrefixListEntry, PrefixListId, PrivateDnsDetails, PrivateIpAddress, Protocol, ReferencedGroup, Route,
    RouteTable, RouteTableAssociation, SecurityGroup, SecurityGroupIdentifier, SecurityGroupRule,
    ServiceDetail, ServiceTypeDetail, Subnet, Tag, UserIdGroupPair, Vpc, VpcEndpoint,
};

/// A value EC2 sent that the model cannot hold.
#[derive(Debug, PartialEq, Eq)]
pub struct ConversionError(pub String);

fn text(s: Option<&str>) -> String {
    s.unwrap_or_default().to_string()
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_string)
}

fn strings(v: &[String]) -> Vec<String> {
    v.to_vec()
}

fn protocol(raw: Option<&str>, what: &str) -> Result<Protocol, ConversionError> {
    let raw = raw.ok_or_else(|| ConversionError(format!("{what} has no protocol")))?;
    Protocol::parse(raw).ok_or_else(|| ConversionError(format!("{what} has an unknown protocol {raw:?}")))
}

pub fn tags(tags: &[sdk::Tag]) -> Vec<Tag> {
    tags.iter()
        .map(|t| Tag {
            key: text(t.key()),
            value: text(t.value()),
        })
        .collect()
}

/// Model tags → SDK tags, for TagSpecifications.
pub fn sdk_tags(tags: &[Tag]) -> Vec<sdk::Tag> {
    tags.iter()
        .map(|t| sdk::Tag::builder().key(&t.key).value(&t.value).build())
        .collect()
}

pub fn vpc(v: &sdk::Vpc) -> Vpc {
    Vpc {
        vpc_id: text(v.vpc_id()),
        cidr_block: owned(v.cidr_block()),
        cidr_block_association_set: v
            .cidr_block_association_set()
            .iter()
            .map(|a| CidrBlockAssociation {
                cidr_block: text(a.cidr_block()),
                association_id: owned(a.association_id()),
            })
            .collect(),
        ipv6_cidr_block_association_set: v
            .ipv6_cidr_block_association_set()
            .iter()
            .map(|a| Ipv6CidrBlockAssociation {
                ipv6_cidr_block: text(a.ipv6_cidr_block()),
                association_id: owned(a.association_id()),
            })
            .collect(),
        state: v.state().map(|s| s.as_str().to_string()),
        owner_id: owned(v.owner_id()),
        is_default: v.is_default(),
        tags: tags(v.tags()),
    }
}

pub fn subnet(s: &sdk::Subnet) -> Subnet {
    Subnet {
        subnet_id: text(s.subnet_id()),
        vpc_id: text(s.vpc_id()),
        cidr_block: owned(s.cidr_block()),
        ipv6_cidr_block_association_set: s
            .ipv6_cidr_block_association_set()
            .iter()
            .map(|a| Ipv6CidrBlockAssociation {
                ipv6_cidr_block: text(a.ipv6_cidr_block()),
                association_id: owned(a.association_id()),
            })
            .collect(),
        availability_zone: owned(s.availability_zone()),
        availability_zone_id: owned(s.availability_zone_id()),
        tags: tags(s.tags()),
    }
}

pub fn security_group(g: &sdk::SecurityGroup) -> Result<SecurityGroup, ConversionError> {
    let group_id = text(g.group_id());
    let permissions = |list: &[sdk::IpPermission]| -> Result<Vec<IpPermission>, ConversionError> {
        list.iter().map(|p| ip_permission(p, &group_id)).collect()
    };
    Ok(SecurityGroup {
        ip_permissions: permissions(g.ip_permissions())?,
        ip_permissions_egress: permissions(g.ip_permissions_egress())?,
        group_name: owned(g.group_name()),
        description: owned(g.description()),
        vpc_id: owned(g.vpc_id()),
        owner_id: owned(g.owner_id()),
        tags: tags(g.tags()),
        group_id,
    })
}

fn ip_permission(p: &sdk::IpPermission, group_id: &str) -> Result<IpPermission, ConversionError> {
    Ok(IpPermission {
        ip_protocol: protocol(p.ip_protocol(), &format!("a rule of {group_id}"))?,
        from_port: p.from_port(),
        to_port: p.to_port(),
        ip_ranges: p
            .ip_ranges()
            .iter()
            .map(|r| IpRange {
                cidr_ip: text(r.cidr_ip()),
                description: owned(r.description()),
            })
            .collect(),
        ipv6_ranges: p
            .ipv6_ranges()
            .iter()
            .map(|r| Ipv6Range {
                cidr_ipv6: text(r.cidr_ipv6()),
                description: owned(r.description()),
            })
            .collect(),
        prefix_list_ids: p
            .prefix_list_ids()
            .iter()
            .map(|r| PrefixListId {
                prefix_list_id: text(r.prefix_list_id()),
                description: owned(r.description()),
            })
            .collect(),
        user_id_group_pairs: p
            .user_id_group_pairs()
            .iter()
            .map(|r| UserIdGroupPair {
                group_id: text(r.group_id()),
                user_id: owned(r.user_id()),
                vpc_id: owned(r.vpc_id()),
                description: owned(r.description()),
            })
            .collect(),
    })
}

pub fn security_group_rule(r: &sdk::SecurityGroupRule) -> Result<SecurityGroupRule, ConversionError> {
    let id = text(r.security_group_rule_id());
    Ok(SecurityGroupRule {
        ip_protocol: protocol(r.ip_protocol(), &format!("security group rule {id}"))?,
        group_id: text(r.group_id()),
        is_egress: r.is_egress().unwrap_or(false),
        from_port: r.from_port(),
        to_port: r.to_port(),
        cidr_ipv4: owned(r.cidr_ipv4()),
        cidr_ipv6: owned(r.cidr_ipv6()),
        prefix_list_id: owned(r.prefix_list_id()),
        referenced_group_info: r.referenced_group_info().map(|g| ReferencedGroup {
            group_id: text(g.group_id()),
            user_id: owned(g.user_id()),
            vpc_id: owned(g.vpc_id()),
        }),
        description: owned(r.description()),
        tags: tags(r.tags()),
        security_group_rule_id: id,
    })
}

pub fn network_interface(n: &sdk::NetworkInterface) -> NetworkInterface {
    NetworkInterface {
        network_interface_id: text(n.network_interface_id()),
        vpc_id: text(n.vpc_id()),
        subnet_id: text(n.subnet_id()),
        interface_type: n.interface_type().map(|t| t.as_str().to_string()),
        private_ip_address: owned(n.private_ip_address()),
        private_ip_addresses: n
            .private_ip_addresses()
            .iter()
            .map(|a| PrivateIpAddress {
                private_ip_address: text(a.private_ip_address()),
                primary: a.primary(),
            })
            .collect(),
        ipv4_prefixes: n
            .ipv4_prefixes()
            .iter()
            .map(|p| Ipv4PrefixSpecification {
                ipv4_prefix: text(p.ipv4_prefix()),
            })
            .collect(),
        ipv6_addresses: n
            .ipv6_addresses()
            .iter()
            .map(|a| Ipv6Address {
                ipv6_address: text(a.ipv6_address()),
            })
            .collect(),
        ipv6_prefixes: n
            .ipv6_prefixes()
            .iter()
            .map(|p| Ipv6PrefixSpecification {
                ipv6_prefix: text(p.ipv6_prefix()),
            })
            .collect(),
        groups: n
            .groups()
            .iter()
            .map(|g| GroupIdentifier {
                group_id: text(g.group_id()),
                group_name: owned(g.group_name()),
            })
            .collect(),
        description: owned(n.description()),
        status: n.status().map(|s| s.as_str().to_string()),
        requester_id: owned(n.requester_id()),
        requester_managed: n.requester_managed(),
        owner_id: owned(n.owner_id()),
        attachment: n.attachment().map(|a| Attachment {
            instance_id: owned(a.instance_id()),
            instance_owner_id: owned(a.instance_owner_id()),
            status: a.status().map(|s| s.as_str().to_string()),
        }),
        availability_zone: owned(n.availability_zone()),
        tag_set: tags(n.tag_set()),
    }
}

pub fn network_acl(a: &sdk::NetworkAcl) -> Result<NetworkAcl, ConversionError> {
    let id = text(a.network_acl_id());
    let entries = a
        .entries()
        .iter()
        .map(|e| {
            Ok(NetworkAclEntry {
                rule_number: e.rule_number().unwrap_or_default(),
                protocol: protocol(e.protocol(), &format!("an entry of {id}"))?,
                rule_action: e
                    .rule_action()
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_default(),
                egress: e.egress().unwrap_or(false),
                cidr_block: owned(e.cidr_block()),
                ipv6_cidr_block: owned(e.ipv6_cidr_block()),
                port_range: e.port_range().map(|p| PortRange {
                    from: p.from().unwrap_or_default(),
                    to: p.to().unwrap_or_default(),
                }),
            })
        })
        .collect::<Result<Vec<_>, ConversionError>>()?;
    Ok(NetworkAcl {
        vpc_id: text(a.vpc_id()),
        is_default: a.is_default().unwrap_or(false),
        entries,
        associations: a
            .associations()
            .iter()
            .map(|s| NetworkAclAssociation {
                subnet_id: text(s.subnet_id()),
                network_acl_association_id: owned(s.network_acl_association_id()),
                network_acl_id: owned(s.network_acl_id()),
            })
            .collect(),
        tags: tags(a.tags()),
        network_acl_id: id,
    })
}

/// The endpoint as `describe-vpc-endpoints` prints it.
///
/// The state is kept as the wire string. aws-sdk-ec2 1.274 spells the `State` variants
/// `Available`, `Pending`, ... while EC2 (and moto) send `available`, `pending`, ..., so a wire
/// `available` arrives as `State::Unknown("available")` and `state == State::Available` is
/// false. Everything downstream compares states ignoring case
/// ([`VpcEndpoint::is_available`]).
pub fn vpc_endpoint(e: &sdk::VpcEndpoint) -> VpcEndpoint {
    VpcEndpoint {
        vpc_endpoint_id: text(e.vpc_endpoint_id()),
        vpc_endpoint_type: e.vpc_endpoint_type().map(|t| t.as_str().to_string()),
        vpc_id: text(e.vpc_id()),
        service_name: text(e.service_name()),
        state: e.state().map(|s| s.as_str().to_string()),
        policy_document: owned(e.policy_document()),
        subnet_ids: strings(e.subnet_ids()),
        groups: e
            .groups()
            .iter()
            .map(|g| SecurityGroupIdentifier {
                group_id: text(g.group_id()),
                group_name: owned(g.group_name()),
            })
            .collect(),
        network_interface_ids: strings(e.network_interface_ids()),
        private_dns_enabled: e.private_dns_enabled().unwrap_or(false),
        dns_entries: e
            .dns_entries()
            .iter()
            .map(|d| DnsEntry {
                dns_name: text(d.dns_name()),
                hosted_zone_id: owned(d.hosted_zone_id()),
            })
            .collect(),
        creation_timestamp: e
            .creation_timestamp()
            .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
        owner_id: owned(e.owner_id()),
        requester_managed: e.requester_managed(),
        service_region: owned(e.service_region()),
        ip_address_type: e.ip_address_type().map(|t| t.as_str().to_string()),
        dns_options: e.dns_options().map(|d| EndpointDnsOptions {
            dns_record_ip_type: d.dns_record_ip_type().map(|t| t.as_str().to_string()),
            private_dns_only_for_inbound_resolver_endpoint: d
                .private_dns_only_for_inbound_resolver_endpoint(),
        }),
        tags: tags(e.tags()),
    }
}

pub fn service_detail(s: &sdk::ServiceDetail) -> ServiceDetail {
    ServiceDetail {
        service_name: text(s.service_name()),
        service_id: owned(s.service_id()),
        service_type: s
            .service_type()
            .iter()
            .map(|t| ServiceTypeDetail {
                service_type: t
                    .service_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
            })
            .collect(),
        availability_zones: strings(s.availability_zones()),
        private_dns_name: owned(s.private_dns_name()),
        private_dns_names: s
            .private_dns_names()
            .iter()
            .map(|d| PrivateDnsDetails {
                private_dns_name: text(d.private_dns_name()),
            })
            .collect(),
        vpc_endpoint_policy_supported: s.vpc_endpoint_policy_supported(),
        acceptance_required: s.acceptance_required(),
        service_region: owned(s.service_region()),
        owner: owned(s.owner()),
    }
}

pub fn prefix_list(p: &sdk::ManagedPrefixList) -> PrefixList {
    PrefixList {
        prefix_list_id: text(p.prefix_list_id()),
        prefix_list_name: owned(p.prefix_list_name()),
        address_family: owned(p.address_family()),
        state: p.state().map(|s| s.as_str().to_string()),
        max_entries: p.max_entries(),
        owner_id: owned(p.owner_id()),
        tags: tags(p.tags()),
    }
}

pub fn flow_log(f: &sdk::FlowLog) -> FlowLog {
    FlowLog {
        flow_log_id: text(f.flow_log_id()),
        resource_id: text(f.resource_id()),
        log_group_name: owned(f.log_group_name()),
        log_destination_type: f.log_destination_type().map(|t| t.as_str().to_string()),
        log_format: owned(f.log_format()),
        traffic_type: f.traffic_type().map(|t| t.as_str().to_string()),
        flow_log_status: owned(f.flow_log_status()),
    }
}

pub fn route_table(t: &sdk::RouteTable) -> RouteTable {
    RouteTable {
        route_table_id: text(t.route_table_id()),
        vpc_id: text(t.vpc_id()),
        associations: t
            .associations()
            .iter()
            .map(|a| RouteTableAssociation {
                main: a.main(),
                subnet_id: owned(a.subnet_id()),
            })
            .collect(),
        routes: t
            .routes()
            .iter()
            .map(|r| Route {
                destination_cidr_block: owned(r.destination_cidr_block()),
                destination_ipv6_cidr_block: owned(r.destination_ipv6_cidr_block()),
                gateway_id: owned(r.gateway_id()),
                nat_gateway_id: owned(r.nat_gateway_id()),
                egress_only_internet_gateway_id: owned(r.egress_only_internet_gateway_id()),
                state: r.state().map(|s| s.as_str().to_string()),
            })
            .collect(),
    }
}

pub fn prefix_list_entry(e: &sdk::PrefixListEntry) -> PrefixListEntry {
    PrefixListEntry {
        cidr: text(e.cidr()),
        description: owned(e.description()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint_in_state(state: sdk::State) -> sdk::VpcEndpoint {
        sdk::VpcEndpoint::builder()
            .vpc_endpoint_id("vpce-1")
            .vpc_id("vpc-1")
            .service_name("com.amazonaws.ap-northeast-1.logs")
            .state(state)
            .build()
    }

    #[test]
    fn a_wire_available_state_is_available_although_the_sdk_calls_it_unknown() {
        // The trap: the SDK parses the wire value "available" into State::Unknown.
        let wire = sdk::State::from("available");
        assert_ne!(wire, sdk::State::Available);

        let endpoint = vpc_endpoint(&endpoint_in_state(wire));
        assert_eq!(endpoint.state.as_deref(), Some("available"));
        assert!(endpoint.is_available());

        // Should EC2 (or a later SDK) ever send the capitalised spelling, it still counts.
        assert!(vpc_endpoint(&endpoint_in_state(sdk::State::Available)).is_available());
        assert!(!vpc_endpoint(&endpoint_in_state(sdk::State::from("pending"))).is_available());
        assert_eq!(
            vpc_endpoint(&endpoint_in_state(sdk::State::from("pending"))).state_lower(),
            "pending"
        );
    }

    #[test]
    fn security_groups_keep_every_peer_and_description() {
        let group = sdk::SecurityGroup::builder()
            .group_id("sg-endpoint")
            .vpc_id("vpc-1")
            .ip_permissions(
                sdk::IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(443)
                    .to_port(443)
                    .user_id_group_pairs(
                        sdk::UserIdGroupPair::builder()
                            .group_id("sg-lambda")
                            .description("lambda")
                            .build(),
                    )
                    .ip_ranges(sdk::IpRange::builder().cidr_ip("10.0.0.0/16").build())
                    .prefix_list_ids(sdk::PrefixListId::builder().prefix_list_id("pl-1").build())
                    .build(),
            )
            .ip_permissions_egress(sdk::IpPermission::builder().ip_protocol("-1").build())
            .build();
        let converted = security_group(&group).unwrap();
        let ingress = &converted.ip_permissions[0];
        assert_eq!(ingress.ip_protocol, Protocol::Tcp);
        assert_eq!((ingress.from_port, ingress.to_port), (Some(443), Some(443)));
        assert_eq!(ingress.user_id_group_pairs[0].group_id, "sg-lambda");
        assert_eq!(
            ingress.user_id_group_pairs[0].description.as_deref(),
            Some("lambda")
        );
        assert_eq!(ingress.ip_ranges[0].cidr_ip, "10.0.0.0/16");
        assert_eq!(ingress.prefix_list_ids[0].prefix_list_id, "pl-1");
        assert_eq!(converted.ip_permissions_egress[0].ip_protocol, Protocol::All);
    }

    #[test]
    fn an_unknown_protocol_is_an_error_naming_the_rule() {
        let rule = sdk::SecurityGroupRule::builder()
            .security_group_rule_id("sgr-1")
            .ip_protocol("bogus")
            .build();
        let err = security_group_rule(&rule).unwrap_err();
        assert!(err.0.contains("sgr-1") && err.0.contains("bogus"), "{err:?}");
    }

    #[test]
    fn every_address_and_the_fields_that_say_who_made_an_eni_are_kept() {
        let eni = sdk::NetworkInterface::builder()
            .network_interface_id("eni-1")
            .private_ip_address("10.0.2.10")
            .private_ip_addresses(
                sdk::NetworkInterfacePrivateIpAddress::builder()
                    .private_ip_address("10.0.2.10")
                    .primary(true)
                    .build(),
            )
            .private_ip_addresses(
                sdk::NetworkInterfacePrivateIpAddress::builder()
                    .private_ip_address("10.0.2.20")
                    .primary(false)
                    .build(),
            )
            .ipv4_prefixes(
                sdk::Ipv4PrefixSpecification::builder()
                    .ipv4_prefix("10.0.2.48/28")
                    .build(),
            )
            .ipv6_addresses(
                sdk::NetworkInterfaceIpv6Address::builder()
                    .ipv6_address("2600:1f14::10")
                    .build(),
            )
            .ipv6_prefixes(
                sdk::Ipv6PrefixSpecification::builder()
                    .ipv6_prefix("2600:1f14:0:1::/80")
                    .build(),
            )
            .description("RDSNetworkInterface")
            .requester_id("amazon-rds")
            .requester_managed(true)
            .status(sdk::NetworkInterfaceStatus::InUse)
            .attachment(
                sdk::NetworkInterfaceAttachment::builder()
                    .instance_owner_id("amazon-rds")
                    .status(sdk::AttachmentStatus::Attached)
                    .build(),
            )
            .build();
        let n = network_interface(&eni);
        let secondary: Vec<(&str, Option<bool>)> = n
            .private_ip_addresses
            .iter()
            .map(|a| (a.private_ip_address.as_str(), a.primary))
            .collect();
        assert_eq!(secondary, [("10.0.2.10", Some(true)), ("10.0.2.20", Some(false))]);
        assert_eq!(n.ipv4_prefixes[0].ipv4_prefix, "10.0.2.48/28");
        assert_eq!(n.ipv6_addresses[0].ipv6_address, "2600:1f14::10");
        assert_eq!(n.ipv6_prefixes[0].ipv6_prefix, "2600:1f14:0:1::/80");
        assert_eq!(n.description.as_deref(), Some("RDSNetworkInterface"));
        assert_eq!(n.requester_id.as_deref(), Some("amazon-rds"));
        assert_eq!(n.requester_managed, Some(true));
        assert_eq!(n.status.as_deref(), Some("in-use"));
        let attachment = n.attachment.unwrap();
        assert_eq!(attachment.instance_owner_id.as_deref(), Some("amazon-rds"));
        assert_eq!(attachment.status.as_deref(), Some("attached"));
    }

    #[test]
    fn interface_types_keep_their_wire_spelling() {
        let eni = sdk::NetworkInterface::builder()
            .network_interface_id("eni-1")
            .interface_type(sdk::NetworkInterfaceType::NatGateway)
            .build();
        assert_eq!(
            network_interface(&eni).interface_type.as_deref(),
            Some("natGateway")
        );
    }
}
