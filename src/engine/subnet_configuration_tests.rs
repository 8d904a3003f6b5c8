//! `spec.subnetConfigurations` end to end on the simulated world: the endpoint's interfaces get
//! the addresses the spec fixes; the analysis checks those addresses (not the whole subnets)
//! where a rule names addresses; an edit of an address replaces that subnet's interface, which
//! interrupts the endpoint there, so while private DNS is on it is checked in the world as
//! specified first and held when a client could not reach the new address.
//!
//! The Zabbix agent's security group here lets it out on tcp/443 only to the fixed address in
//! private-a and to 10.0.11.192/28 in private-c, as a team that fixes addresses might.

use std::time::Duration;

use super::incident::{self, SG_ZABBIX, SUBNET_PRIVATE_A, SUBNET_PRIVATE_C};
use super::tests::Harness;
use crate::api::{RemediationMode, RolloutPhase, SubnetConfiguration};
use crate::aws::sim::{SimClock, SimEc2};
use crate::model::{IpPermission, IpRange, Protocol};

const FIXED_A: &str = "10.0.10.200";
const FIXED_C: &str = "10.0.11.200";

fn fixed(subnet: &str, ipv4: &str) -> SubnetConfiguration {
    SubnetConfiguration {
        subnet_id: subnet.into(),
        ipv4: Some(ipv4.into()),
        ipv6: None,
    }
}

fn incident_with_fixed_addresses() -> Harness {
    let mut world = incident::world();
    for group in world
        .security_groups
        .iter_mut()
        .filter(|g| g.group_id == SG_ZABBIX)
    {
        group.ip_permissions_egress = vec![IpPermission {
            ip_protocol: Protocol::Tcp,
            from_port: Some(443),
            to_port: Some(443),
            ip_ranges: [format!("{FIXED_A}/32"), "10.0.11.192/28".to_string()]
                .into_iter()
                .map(|cidr_ip| IpRange {
                    cidr_ip,
                    description: None,
                })
                .collect(),
            ..Default::default()
        }];
    }
    let mut h = Harness::on(SimEc2::new(&world, SimClock::new()), RemediationMode::Auto);
    h.edit(|s| {
        s.subnet_configurations = vec![fixed(SUBNET_PRIVATE_A, FIXED_A), fixed(SUBNET_PRIVATE_C, FIXED_C)]
    });
    h
}

/// The endpoint's interfaces by subnet: (subnet, interface id, address).
fn interfaces(h: &Harness) -> Vec<(String, String, String)> {
    let endpoint = &h.owned_endpoints()[0];
    let mut out: Vec<_> = h
        .sim
        .snapshot()
        .network_interfaces
        .into_iter()
        .filter(|n| endpoint.network_interface_ids.contains(&n.network_interface_id))
        .map(|n| {
            (
                n.subnet_id,
                n.network_interface_id,
                n.private_ip_address.unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn passes(h: &mut Harness, n: usize) {
    for _ in 0..n {
        h.pass().await;
        h.sim.clock().advance(Duration::from_secs(5));
    }
}

#[tokio::test]
async fn the_interfaces_get_the_fixed_addresses_and_the_client_egress_to_them_is_enough() {
    let mut h = incident_with_fixed_addresses();
    h.watch_paths = true;
    // The agent's egress admits the fixed addresses only: checked against the whole subnets it
    // would be blocked (and need approval); against the fixed addresses, before the endpoint
    // exists as after, it is not.
    let before = crate::analysis::analyze(&h.spec, Some(&h.owner), &h.sim.snapshot()).unwrap();
    let destinations: Vec<String> = before.destinations.iter().map(|d| d.net.to_string()).collect();
    assert_eq!(destinations, [format!("{FIXED_A}/32"), format!("{FIXED_C}/32")]);
    let egress_blocks: Vec<_> = before
        .clients
        .iter()
        .flat_map(|c| &c.blocks)
        .filter(|b| b.check == crate::analysis::Check::ClientEgress)
        .collect();
    assert!(egress_blocks.is_empty(), "{egress_blocks:?}");
    h.run_until(RolloutPhase::Ready, 40).await;
    let addresses: Vec<String> = interfaces(&h).into_iter().map(|(_, _, a)| a).collect();
    assert_eq!(addresses, [FIXED_A, FIXED_C]);
    assert!(h.owned_endpoints()[0].private_dns_enabled);
    assert!(
        h.owned_rules().iter().all(|r| !r.is_egress),
        "no client egress rule was needed: {:?}",
        h.owned_rules()
    );
}

#[tokio::test]
async fn a_new_address_a_client_cannot_reach_is_held_and_one_it_can_replaces_the_interface() {
    let mut h = incident_with_fixed_addresses();
    h.watch_paths = true;
    h.run_until(RolloutPhase::Ready, 40).await;
    let before = interfaces(&h);

    // 10.0.10.201: the agent's egress does not admit it, and client egress needs approval.
    h.edit(|s| s.subnet_configurations[0] = fixed(SUBNET_PRIVATE_A, "10.0.10.201"));
    passes(&mut h, 6).await;
    assert_eq!(h.status.phase, RolloutPhase::AwaitingApproval, "{:?}", h.phases);
    assert_eq!(interfaces(&h), before, "held: the interface is not replaced");
    assert!(h.owned_endpoints()[0].private_dns_enabled);
    let ready = h
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("a Ready condition");
    assert!(
        ready.message.contains(&format!(
            "interface of subnet {SUBNET_PRIVATE_A} for 10.0.10.201 replaced (the endpoint is interrupted in \
             that subnet meanwhile)"
        )),
        "{}",
        ready.message
    );

    // Back to an address the agent reaches: applied, the subnet's interface replaced.
    h.edit(|s| s.subnet_configurations[0] = fixed(SUBNET_PRIVATE_A, FIXED_A));
    h.run_until(RolloutPhase::Ready, 10).await;
    assert_eq!(
        interfaces(&h),
        before,
        "the spec is what the endpoint has: nothing to change"
    );

    // 10.0.11.201, which the agent's egress admits (10.0.11.192/28): applied at once while
    // private DNS is on, private-c's interface replaced.
    h.edit(|s| s.subnet_configurations[1] = fixed(SUBNET_PRIVATE_C, "10.0.11.201"));
    passes(&mut h, 6).await;
    assert_eq!(h.status.phase, RolloutPhase::Ready, "{:?}", h.phases);
    let after = interfaces(&h);
    assert_eq!(after[0], before[0], "private-a untouched");
    assert_eq!(after[1].0, SUBNET_PRIVATE_C);
    assert_eq!(after[1].2, "10.0.11.201");
    assert_ne!(after[1].1, before[1].1, "private-c's interface replaced");
}
