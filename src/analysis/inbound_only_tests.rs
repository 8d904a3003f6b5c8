//! `spec.dnsOptions.privateDnsOnlyForInboundResolverEndpoint`: the VPC's clients are not
//! redirected (they keep going through the gateway endpoint) and are listed, not checked; the
//! clients outside the VPC that the Resolver query logs show are the ones checked.

use std::collections::BTreeMap;

use super::evidence::{Attribution, ClientEvidence, OutsideClient};
use super::testkit::*;
use super::*;
use crate::api::DnsOptions;
use crate::model::{EndpointDnsOptions, VpcEndpoint};

/// The endpoint (private DNS off) admits nobody; a client in subnet-b; the service's gateway
/// endpoint `vpce-gw` when `gateway`.
fn world(gateway: bool) -> Snapshot {
    let mut snapshot = World::new()
        .eni_typed("eni-vpce", "subnet-a", "10.0.1.10", &["sg-vpce"], "vpc_endpoint")
        .endpoint(&["eni-vpce"], &["subnet-a"], &["sg-vpce"])
        .sg("sg-vpce", vec![], vec![])
        .sg("sg-c", vec![], vec![all_traffic().cidr("0.0.0.0/0")])
        .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c"])
        .default_acl(vec![
            inbound(100, "allow", "0.0.0.0/0", "-1", None),
            outbound(100, "allow", "0.0.0.0/0", "-1", None),
        ])
        .build();
    if gateway {
        snapshot.vpc_endpoints.push(VpcEndpoint {
            vpc_endpoint_id: "vpce-gw".into(),
            vpc_endpoint_type: Some("Gateway".into()),
            vpc_id: VPC.into(),
            service_name: SERVICE.into(),
            state: Some("available".into()),
            ..Default::default()
        });
    }
    snapshot
}

fn inbound_only(on: Option<bool>) -> InterfaceEndpointSpec {
    InterfaceEndpointSpec {
        dns_options: Some(DnsOptions {
            private_dns_only_for_inbound_resolver_endpoint: on,
            ..Default::default()
        }),
        ..spec()
    }
}

/// A client on premises whose queries came through a Resolver inbound endpoint.
fn on_premises() -> Attribution {
    Attribution {
        by_interface: BTreeMap::new(),
        outside: vec![OutsideClient {
            address: "192.168.10.4".parse().unwrap(),
            resolver_endpoint_ids: vec!["rslvr-in-1".into()],
            evidence: ClientEvidence {
                queries: 3,
                last_seen_ms: Some(1),
            },
        }],
        unmatched: Vec::new(),
    }
}

fn analysis(spec: &InterfaceEndpointSpec, snapshot: &Snapshot, evidence: Option<&Attribution>) -> Analysis {
    analyze_with_evidence(spec, Some(&owner()), snapshot, &RuleScope::default(), evidence)
        .expect("the analysis runs")
}

#[test]
fn the_vpc_s_clients_are_listed_as_not_redirected_and_only_outside_clients_are_checked() {
    let snapshot = world(true);
    // Without the option the VPC's client is checked, and blocked (the endpoint admits nobody).
    let plain = analysis(&inbound_only(None), &snapshot, None);
    assert_eq!(plain.blocked().count(), 1);

    let a = analysis(&inbound_only(Some(true)), &snapshot, None);
    assert!(a.clients.is_empty(), "{:?}", a.clients);
    let excluded: Vec<_> = a
        .excluded
        .iter()
        .filter(|e| e.reason.code() == "NotRedirected")
        .collect();
    assert_eq!(excluded.len(), 1, "{:?}", a.excluded);
    assert_eq!(excluded[0].network_interface_id, "eni-c");
    assert_eq!(
        excluded[0].reason.to_string(),
        "in the VPC: private DNS answers only queries through a Resolver inbound endpoint \
         (spec.dnsOptions.privateDnsOnlyForInboundResolverEndpoint), so it keeps going through the \
         gateway endpoint vpce-gw"
    );
    assert!(
        a.remediation.rules.is_empty(),
        "no rule for a client that is not redirected"
    );

    // The client outside the VPC is what is redirected: checked, and blocked by the endpoint's
    // group, which admits nobody.
    let a = analysis(&inbound_only(Some(true)), &snapshot, Some(&on_premises()));
    let ids: Vec<&str> = a
        .clients
        .iter()
        .map(|c| c.network_interface_id.as_str())
        .collect();
    assert_eq!(ids, ["outside:192.168.10.4"]);
    assert_eq!(a.blocked().count(), 1);
    assert_eq!(a.clients[0].failing_checks(), [Check::EndpointIngress]);
}

#[test]
fn once_private_dns_is_on_the_endpoint_s_option_decides() {
    let mut snapshot = world(true);
    snapshot.vpc_endpoints[0].private_dns_enabled = true;
    // The endpoint reports it off (the spec asks it on: a change for the drift step, checked in
    // the world as specified): the VPC's clients are redirected now, and checked.
    let a = analysis(&inbound_only(Some(true)), &snapshot, None);
    assert_eq!(a.blocked().count(), 1);
    snapshot.vpc_endpoints[0].dns_options = Some(EndpointDnsOptions {
        private_dns_only_for_inbound_resolver_endpoint: Some(true),
        ..Default::default()
    });
    let a = analysis(&inbound_only(None), &snapshot, None);
    assert!(a.clients.is_empty(), "{:?}", a.clients);
    // Private DNS off in the spec: nothing is redirected to be protected by the option.
    let off = InterfaceEndpointSpec {
        private_dns: crate::api::PrivateDnsSpec {
            enabled: false,
            ..Default::default()
        },
        ..inbound_only(Some(true))
    };
    snapshot.vpc_endpoints[0].private_dns_enabled = false;
    assert_eq!(analysis(&off, &snapshot, None).blocked().count(), 1);
}

#[test]
fn the_gateway_endpoint_is_found_by_type_service_vpc_and_state() {
    let spec = inbound_only(Some(true));
    assert_eq!(
        gateway_endpoint(&spec, &world(true)).map(|g| g.vpc_endpoint_id.as_str()),
        Some("vpce-gw")
    );
    assert_eq!(
        gateway_endpoint(&spec, &world(false)),
        None,
        "the interface endpoint is not one"
    );
    let mut deleting = world(true);
    deleting.vpc_endpoints[1].state = Some("deleting".into());
    assert_eq!(gateway_endpoint(&spec, &deleting), None);
    let mut other_service = world(true);
    other_service.vpc_endpoints[1].service_name = "com.amazonaws.ap-northeast-1.dynamodb".into();
    assert_eq!(gateway_endpoint(&spec, &other_service), None);
    // Without a gateway endpoint the exclusion still holds (the precondition is the plan's).
    let a = analysis(&spec, &world(false), None);
    assert!(
        a.excluded
            .iter()
            .any(|e| e.reason.to_string().ends_with("the gateway endpoint"))
    );
}
