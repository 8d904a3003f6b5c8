//! `spec.dnsOptions.privateDnsOnlyForInboundResolverEndpoint` end to end on the simulated world:
//! the precondition (the service's gateway endpoint in the VPC) first, the option set with the
//! request that turns private DNS on, the VPC's clients not redirected (listed, not checked, no
//! rules), and private DNS and the option turned off together on deletion.

use super::incident::{self, ENI_LAMBDA, ENI_ZABBIX, VPC};
use super::tests::Harness;
use crate::api::{DnsOptions, RemediationMode, RolloutPhase};
use crate::aws::Ec2Operation;
use crate::aws::sim::{SimClock, SimEc2};
use crate::model::VpcEndpoint;

const GATEWAY: &str = "vpce-0a0a0a0a0a0a0a0a0";

/// The incident, with the service's gateway endpoint in the VPC when `gateway`, and the spec
/// asking private DNS for Resolver inbound endpoints only.
fn incident(gateway: bool) -> Harness {
    let mut world = incident::world();
    if gateway {
        world.vpc_endpoints.push(VpcEndpoint {
            vpc_endpoint_id: GATEWAY.into(),
            vpc_endpoint_type: Some("Gateway".into()),
            vpc_id: VPC.into(),
            service_name: incident::spec(RemediationMode::Auto).service_name,
            state: Some("available".into()),
            ..Default::default()
        });
    }
    let mut h = Harness::on(SimEc2::new(&world, SimClock::new()), RemediationMode::Auto);
    h.edit(|s| {
        s.dns_options = Some(DnsOptions {
            private_dns_only_for_inbound_resolver_endpoint: Some(true),
            ..Default::default()
        })
    });
    h
}

#[tokio::test]
async fn without_the_gateway_endpoint_nothing_is_created_and_the_reason_says_why() {
    let mut h = incident(false);
    h.run_until(RolloutPhase::Failed, 10).await;
    let ready = h.status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.reason, "NoGatewayEndpoint");
    assert!(
        ready.message.contains("has no gateway endpoint for"),
        "{}",
        ready.message
    );
    assert_eq!(h.mutations(Ec2Operation::CreateVpcEndpoint), 0);
    assert!(h.owned_endpoints().is_empty());
}

#[tokio::test]
async fn the_vpc_s_clients_are_not_redirected_so_nothing_is_added_for_them_and_deletion_unsets_both() {
    let mut h = incident(true);
    h.watch_paths = true;
    h.run_until(RolloutPhase::Ready, 40).await;
    let endpoint = &h.owned_endpoints()[0];
    assert!(endpoint.private_dns_enabled);
    assert_eq!(
        endpoint
            .dns_options
            .as_ref()
            .and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint),
        Some(true)
    );
    // The incident's Zabbix agent, blocked without the option, is not redirected: no rule.
    assert!(h.owned_rules().is_empty(), "{:?}", h.owned_rules());
    let clients = h.status.clients.as_ref().unwrap();
    assert_eq!(clients.total, 0);
    let not_redirected = clients
        .exclusions
        .iter()
        .find(|e| e.reason == "NotRedirected")
        .unwrap_or_else(|| panic!("{:?}", clients.exclusions));
    assert_eq!(not_redirected.network_interface_ids, [ENI_ZABBIX, ENI_LAMBDA]);
    assert!(
        not_redirected.message.contains(GATEWAY),
        "{}",
        not_redirected.message
    );

    h.deleting = true;
    h.run_until_finalized(40).await;
    assert!(h.owned_endpoints().is_empty());
}
