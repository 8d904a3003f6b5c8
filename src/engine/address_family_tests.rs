//! `spec.ipAddressType` and `spec.dnsOptions.dnsRecordIpType` end to end on the simulated
//! world: the endpoint is created with them, and the records decide which path of a dual-stack
//! client is checked. The incident's network ACL allows IPv4 only, so a client with an IPv6
//! address has no IPv6 path: it is blocked (not fixable) when the names have AAAA records, and
//! reachable when they have A records only.

use std::time::Duration;

use super::incident::{self, ENI_ZABBIX, SUBNET_PRIVATE_A, SUBNET_PRIVATE_C, SUBNET_PUBLIC};
use super::tests::Harness;
use crate::api::{DnsOptions, DnsRecordIpType, IpAddressType, RemediationMode, RolloutPhase};
use crate::aws::sim::{SimClock, SimEc2};
use crate::model::{Ipv6Address, Ipv6CidrBlockAssociation};

/// The incident in a dual-stack VPC: every subnet has an IPv6 CIDR, the Zabbix agent an IPv6
/// address; the network ACL still allows IPv4 only.
fn dual_stack_incident() -> Harness {
    let mut world = incident::world();
    for (i, subnet) in world.subnets.iter_mut().enumerate() {
        assert!([SUBNET_PUBLIC, SUBNET_PRIVATE_A, SUBNET_PRIVATE_C].contains(&subnet.subnet_id.as_str()));
        subnet.ipv6_cidr_block_association_set = vec![Ipv6CidrBlockAssociation {
            ipv6_cidr_block: format!("2600:1f14:aa:{i}::/64"),
            association_id: None,
        }];
    }
    let a = world
        .subnets
        .iter()
        .position(|s| s.subnet_id == SUBNET_PRIVATE_A)
        .unwrap();
    for eni in world
        .network_interfaces
        .iter_mut()
        .filter(|e| e.network_interface_id == ENI_ZABBIX)
    {
        eni.ipv6_addresses = vec![Ipv6Address {
            ipv6_address: format!("2600:1f14:aa:{a}::23"),
        }];
    }
    let mut h = Harness::on(SimEc2::new(&world, SimClock::new()), RemediationMode::Auto);
    h.edit(|s| {
        s.ip_address_type = Some(IpAddressType::Dualstack);
        s.dns_options = Some(DnsOptions {
            dns_record_ip_type: Some(DnsRecordIpType::Ipv4),
            ..Default::default()
        });
    });
    h
}

fn records(h: &Harness) -> Option<String> {
    h.owned_endpoints()[0]
        .dns_options
        .as_ref()
        .and_then(|d| d.dns_record_ip_type.clone())
}

async fn passes(h: &mut Harness, n: usize) {
    for _ in 0..n {
        h.pass().await;
        h.sim.clock().advance(Duration::from_secs(5));
    }
}

#[tokio::test]
async fn a_records_only_check_the_ipv4_path_and_the_endpoint_is_created_dual_stack() {
    let mut h = dual_stack_incident();
    h.watch_paths = true;
    h.run_until(RolloutPhase::Ready, 40).await;
    let endpoint = &h.owned_endpoints()[0];
    assert_eq!(endpoint.ip_address_type.as_deref(), Some("dualstack"));
    assert_eq!(records(&h).as_deref(), Some("ipv4"));
    assert!(endpoint.private_dns_enabled);
    let snapshot = h.sim.snapshot();
    for id in &endpoint.network_interface_ids {
        let eni = snapshot
            .network_interfaces
            .iter()
            .find(|e| &e.network_interface_id == id)
            .unwrap();
        assert_eq!(
            eni.ipv6_addresses.len(),
            1,
            "a dual-stack endpoint's interface: {eni:?}"
        );
    }
}

#[tokio::test]
async fn aaaa_records_check_the_ipv6_path_and_a_client_without_one_holds_private_dns() {
    let mut h = dual_stack_incident();
    h.edit(|s| s.dns_options.as_mut().unwrap().dns_record_ip_type = Some(DnsRecordIpType::Dualstack));
    h.watch_paths = true;
    h.run_until(RolloutPhase::AwaitingApproval, 40).await;
    assert_eq!(records(&h).as_deref(), Some("dualstack"));
    assert!(!h.owned_endpoints()[0].private_dns_enabled);
    assert_ipv6_path_blocked(&h);
    passes(&mut h, 3).await;
    assert_eq!(h.status.phase, RolloutPhase::AwaitingApproval, "{:?}", h.phases);
    assert!(!h.owned_endpoints()[0].private_dns_enabled);

    // A records only: the IPv4 path is the one clients take, and it is open.
    h.edit(|s| s.dns_options.as_mut().unwrap().dns_record_ip_type = Some(DnsRecordIpType::Ipv4));
    h.run_until(RolloutPhase::Ready, 40).await;
    assert_eq!(records(&h).as_deref(), Some("ipv4"));
    assert!(h.owned_endpoints()[0].private_dns_enabled);
}

#[tokio::test]
async fn aaaa_records_asked_for_while_private_dns_is_on_are_held_when_a_client_has_no_ipv6_path() {
    let mut h = dual_stack_incident();
    h.watch_paths = true;
    h.run_until(RolloutPhase::Ready, 40).await;
    h.edit(|s| s.dns_options.as_mut().unwrap().dns_record_ip_type = Some(DnsRecordIpType::Dualstack));
    passes(&mut h, 6).await;
    assert_eq!(h.status.phase, RolloutPhase::AwaitingApproval, "{:?}", h.phases);
    assert_eq!(
        records(&h).as_deref(),
        Some("ipv4"),
        "the change is held, not applied"
    );
    assert!(h.owned_endpoints()[0].private_dns_enabled);
    assert_ipv6_path_blocked(&h);
}

/// The Zabbix agent's IPv6 path is reported blocked by the network ACL (not fixable), naming
/// its IPv6 address.
fn assert_ipv6_path_blocked(h: &Harness) {
    let plan = h.status.plan.as_ref().expect("a plan");
    let nacl = plan
        .unfixable_blocks
        .iter()
        .find(|b| b.check == "EndpointSubnetNacl")
        .unwrap_or_else(|| panic!("{:?}", plan.unfixable_blocks));
    assert_eq!(nacl.network_interface_ids, [ENI_ZABBIX]);
    assert!(nacl.detail.contains("2600:1f14:aa:1::23"), "{}", nacl.detail);
}
