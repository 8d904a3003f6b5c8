//! `spec.ipAddressType` and `spec.dnsOptions.dnsRecordIpType`: the paths checked are those the
//! endpoint's DNS records send clients on: IPv4 when the names have A records, IPv6 (for clients
//! with IPv6 addresses) when they have AAAA records; unknown records keep every address checked.

use super::testkit::*;
use super::*;
use crate::api::{DnsOptions, DnsRecordIpType, IpAddressType};
use crate::model::EndpointDnsOptions;

use Check::EndpointIngress;

/// A dual-stack endpoint (10.0.1.10 and 2600:1f14:1::10) whose group admits the client's IPv4
/// subnet only, and a dual-stack client that may send anywhere.
fn dual_stack(records: Option<&str>) -> Snapshot {
    let mut snapshot = World::new()
        .eni_typed("eni-vpce", "subnet-a", "10.0.1.10", &["sg-vpce"], "vpc_endpoint")
        .addresses("eni-vpce", &["2600:1f14:1::10"])
        .endpoint(&["eni-vpce"], &["subnet-a"], &["sg-vpce"])
        .sg("sg-vpce", vec![https().cidr("10.0.2.0/24")], vec![])
        .sg(
            "sg-c",
            vec![],
            vec![all_traffic().cidr("0.0.0.0/0").cidr6("::/0")],
        )
        .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c"])
        .addresses("eni-c", &["2600:1f14:2::10"])
        .default_acl(vec![
            inbound(100, "allow", "0.0.0.0/0", "-1", None),
            inbound(101, "allow", "::/0", "-1", None),
            outbound(100, "allow", "0.0.0.0/0", "-1", None),
            outbound(101, "allow", "::/0", "-1", None),
        ])
        .build();
    for s in snapshot.subnets.iter_mut() {
        let cidr = if s.subnet_id == "subnet-a" {
            "2600:1f14:1::/64"
        } else {
            "2600:1f14:2::/64"
        };
        s.ipv6_cidr_block_association_set = vec![crate::model::Ipv6CidrBlockAssociation {
            ipv6_cidr_block: cidr.into(),
            association_id: None,
        }];
    }
    snapshot.vpc_endpoints[0].ip_address_type = records.map(|_| "dualstack".to_string());
    snapshot.vpc_endpoints[0].dns_options = records.map(|r| EndpointDnsOptions {
        dns_record_ip_type: Some(r.to_string()),
        private_dns_only_for_inbound_resolver_endpoint: Some(false),
    });
    snapshot
}

fn failing(spec: &InterfaceEndpointSpec, snapshot: &Snapshot) -> Vec<Check> {
    let analysis = analyze(spec, Some(&owner()), snapshot).expect("the analysis runs");
    analysis.clients[0].failing_checks()
}

fn destinations(spec: &InterfaceEndpointSpec, snapshot: &Snapshot) -> Vec<String> {
    let analysis = analyze(spec, Some(&owner()), snapshot).expect("the analysis runs");
    analysis.destinations.iter().map(|d| d.net.to_string()).collect()
}

fn spec_with(addresses: Option<IpAddressType>, records: Option<DnsRecordIpType>) -> InterfaceEndpointSpec {
    InterfaceEndpointSpec {
        ip_address_type: addresses,
        dns_options: records.map(|r| DnsOptions {
            dns_record_ip_type: Some(r),
            ..Default::default()
        }),
        ..spec()
    }
}

#[test]
fn the_ipv6_path_is_checked_only_when_the_records_include_aaaa() {
    // A records only: the client connects over IPv4, where it is admitted.
    assert_eq!(failing(&spec(), &dual_stack(Some("ipv4"))), []);
    assert_eq!(destinations(&spec(), &dual_stack(Some("ipv4"))), ["10.0.1.10/32"]);
    // AAAA records too: its IPv6 address must be admitted as well.
    for records in ["dualstack", "ipv6"] {
        assert_eq!(
            failing(&spec(), &dual_stack(Some(records))),
            [EndpointIngress],
            "{records}"
        );
    }
    // service-defined gives the private DNS name A records only (AAAA for the endpoint's own
    // regional and zonal names): with private DNS on, clients take the IPv4 path; without it
    // they use the endpoint's names, which have both.
    assert!(spec().private_dns.enabled);
    assert_eq!(failing(&spec(), &dual_stack(Some("service-defined"))), []);
    let own_names = InterfaceEndpointSpec {
        private_dns: crate::api::PrivateDnsSpec {
            enabled: false,
            ..Default::default()
        },
        ..spec()
    };
    assert_eq!(
        failing(&own_names, &dual_stack(Some("service-defined"))),
        [EndpointIngress]
    );
    assert_eq!(
        destinations(&spec(), &dual_stack(Some("ipv6"))),
        ["2600:1f14:1::10/128"]
    );
    // Records not reported and not in the spec: every address, as before the options.
    assert_eq!(failing(&spec(), &dual_stack(None)), [EndpointIngress]);
}

#[test]
fn the_observed_records_decide_once_the_endpoint_reports_them_and_the_spec_before() {
    // The spec's records stand in while the endpoint reports none ...
    let v4 = spec_with(Some(IpAddressType::Dualstack), Some(DnsRecordIpType::Ipv4));
    assert_eq!(failing(&v4, &dual_stack(None)), []);
    // ... the endpoint's once it does (a change of the spec is the drift step's: it is
    // analysed in the world as specified before it is applied).
    assert_eq!(failing(&v4, &dual_stack(Some("dualstack"))), [EndpointIngress]);
    // The address type alone says which records can exist: ipv4 addresses have A records.
    let ipv4 = spec_with(Some(IpAddressType::Ipv4), None);
    assert_eq!(failing(&ipv4, &dual_stack(None)), []);
}

#[test]
fn before_the_endpoint_exists_each_subnet_is_checked_in_the_families_of_its_records() {
    let world = || {
        World::new()
            .sg("sg-vpce", vec![https().cidr("10.0.2.0/24")], vec![])
            .sg(
                "sg-c",
                vec![],
                vec![all_traffic().cidr("0.0.0.0/0").cidr6("::/0")],
            )
            .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c"])
            .addresses("eni-c", &["2600:1f14:2::10"])
    };
    let mut snapshot = world().build();
    for s in snapshot.subnets.iter_mut().filter(|s| s.subnet_id == "subnet-a") {
        s.ipv6_cidr_block_association_set = vec![crate::model::Ipv6CidrBlockAssociation {
            ipv6_cidr_block: "2600:1f14:1::/64".into(),
            association_id: None,
        }];
    }
    let dual = spec_with(Some(IpAddressType::Dualstack), Some(DnsRecordIpType::Dualstack));
    assert_eq!(
        destinations(&dual, &snapshot),
        ["10.0.1.0/24", "2600:1f14:1::/64"]
    );
    let ipv6 = spec_with(Some(IpAddressType::Dualstack), Some(DnsRecordIpType::Ipv6));
    assert_eq!(destinations(&ipv6, &snapshot), ["2600:1f14:1::/64"]);
    assert_eq!(
        destinations(&spec(), &snapshot),
        ["10.0.1.0/24"],
        "as before the options"
    );

    // A subnet without the CIDR the records need: EC2 would refuse the endpoint.
    let records_only = spec_with(None, Some(DnsRecordIpType::Dualstack));
    let err = analyze(&records_only, Some(&owner()), &world().build()).unwrap_err();
    assert_eq!(
        err,
        AnalysisError::SubnetWithoutFamily {
            subnet: "subnet-a".into(),
            family: "IPv6"
        }
    );
}

#[test]
fn the_address_type_needs_subnets_with_its_families_as_ec2_says() {
    let world = || {
        World::new()
            .sg("sg-vpce", vec![https().cidr("10.0.2.0/24")], vec![])
            .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-vpce"])
            .build()
    };
    let v6 = || {
        vec![crate::model::Ipv6CidrBlockAssociation {
            ipv6_cidr_block: "2600:1f14:1::/64".into(),
            association_id: None,
        }]
    };
    let error = |spec: &InterfaceEndpointSpec, snapshot: &Snapshot| {
        analyze(spec, Some(&owner()), snapshot)
            .err()
            .map(|e| e.to_string())
    };
    let ipv4 = spec_with(Some(IpAddressType::Ipv4), None);
    let dual = spec_with(Some(IpAddressType::Dualstack), None);
    let ipv6 = spec_with(Some(IpAddressType::Ipv6), Some(DnsRecordIpType::Ipv6));
    // An IPv4-only subnet: ipv4 fits, dualstack and ipv6 do not.
    assert_eq!(error(&ipv4, &world()), None);
    assert_eq!(
        error(&dual, &world()).as_deref(),
        Some(
            "spec.ipAddressType dualstack: subnet subnet-a has no IPv6 CIDR block; EC2 gives dualstack \
             endpoint interfaces only in subnets with both an IPv4 and an IPv6 CIDR block"
        )
    );
    // A dual-stack subnet: ipv4 and dualstack fit; ipv6 needs an IPv6-only subnet.
    let mut dual_subnet = world();
    dual_subnet
        .subnets
        .iter_mut()
        .find(|s| s.subnet_id == "subnet-a")
        .unwrap()
        .ipv6_cidr_block_association_set = v6();
    assert_eq!(error(&ipv4, &dual_subnet), None);
    assert_eq!(error(&dual, &dual_subnet), None);
    assert_eq!(
        error(&ipv6, &dual_subnet).as_deref(),
        Some(
            "spec.ipAddressType ipv6: subnet subnet-a is not IPv6-only (it has the IPv4 CIDR block \
             10.0.1.0/24); EC2 gives ipv6 endpoint interfaces only in subnets with IPv6 CIDR blocks \
             only (IPv6-only subnets)"
        )
    );
    // An IPv6-only subnet: only ipv6 fits.
    let mut v6_only = dual_subnet.clone();
    v6_only
        .subnets
        .iter_mut()
        .find(|s| s.subnet_id == "subnet-a")
        .unwrap()
        .cidr_block = None;
    assert_eq!(error(&ipv6, &v6_only), None);
    assert!(
        error(&ipv4, &v6_only)
            .unwrap()
            .contains("subnet subnet-a has no IPv4 CIDR block")
    );
}
