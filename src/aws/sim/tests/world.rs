use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::api::Owner;
use crate::aws::observe::{ObserveScope, observe_vpc};
use crate::aws::sim::{CallOutcome, Missing, SimProvider};
use crate::aws::{Ec2, Ec2Operation, Ec2Provider, EndpointFilter, ErrorKind, ModifyVpcEndpoint, RuleFilter};
use crate::model::{AttributeBoolean, NetworkInterface};

#[test]
fn a_world_exported_as_a_snapshot_and_loaded_again_is_the_same_world() {
    let sim = sim();
    run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap();
    run(sim.authorize_security_group_rules(&authorize(
        "sg-endpoint",
        false,
        vec![tcp_443(RulePeer::Group("sg-zabbix".into()), "zabbix")],
    )))
    .unwrap();
    sim.clock().advance(Duration::from_secs(60));
    let exported = sim.snapshot();
    let json = exported.to_json();
    let reloaded = SimEc2::new(&Snapshot::from_json(&json).unwrap(), SimClock::new());
    assert_eq!(reloaded.snapshot(), exported);
    assert_eq!(reloaded.region(), "ap-northeast-1");
}

#[test]
fn unknown_vpc_dns_attributes_default_to_true() {
    let sim = instant_sim();
    let vpc1 = run(sim.describe_vpc_dns_attributes("vpc-1")).unwrap();
    assert_eq!(vpc1.enable_dns_support, Some(AttributeBoolean(true)));
    assert_eq!(
        vpc1.enable_dns_hostnames,
        Some(AttributeBoolean(true)),
        "not in the snapshot"
    );
    let vpc2 = run(sim.describe_vpc_dns_attributes("vpc-2")).unwrap();
    assert_eq!(vpc2.enable_dns_hostnames, Some(AttributeBoolean(false)));
    let err = run(sim.describe_vpc_dns_attributes("vpc-404")).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.kind),
        ("InvalidVpcID.NotFound", ErrorKind::NotFound)
    );
}

#[test]
fn describes_filter_by_vpc_and_reject_ids_that_do_not_exist() {
    let sim = instant_sim();
    assert_eq!(run(sim.describe_vpcs(&[])).unwrap().len(), 2);
    assert_eq!(
        run(sim.describe_vpcs(&["vpc-2".into()])).unwrap()[0].vpc_id,
        "vpc-2"
    );
    let err = run(sim.describe_vpcs(&["vpc-1".into(), "vpc-404".into()])).unwrap_err();
    assert_eq!(err.message, "The vpc ID 'vpc-404' does not exist");

    assert_eq!(run(sim.describe_subnets("vpc-1")).unwrap().len(), 5);
    assert!(run(sim.describe_subnets("vpc-404")).unwrap().is_empty());
    assert_eq!(run(sim.describe_security_groups("vpc-2")).unwrap().len(), 1);
    let enis: Vec<String> = run(sim.describe_network_interfaces("vpc-1"))
        .unwrap()
        .into_iter()
        .map(|n| n.network_interface_id)
        .collect();
    assert_eq!(enis, ["eni-lambda", "eni-zabbix"]);
    assert_eq!(run(sim.describe_network_acls("vpc-1")).unwrap().len(), 1);
    assert!(run(sim.describe_network_acls("vpc-2")).unwrap().is_empty());

    let logs = run(sim.describe_vpc_endpoint_services(&[LOGS.into()], &[])).unwrap();
    assert_eq!(
        logs[0].private_dns_name(),
        Some("logs.ap-northeast-1.amazonaws.com")
    );
    assert_eq!(
        run(sim.describe_vpc_endpoint_services(&[], &[])).unwrap().len(),
        2
    );
    assert_eq!(
        run(sim.describe_vpc_endpoint_services(&["com.amazonaws.x.y".into()], &[]))
            .unwrap_err()
            .code,
        "InvalidServiceName"
    );

    assert_eq!(run(sim.describe_managed_prefix_lists(&[])).unwrap().len(), 2);
    let entries = run(sim.get_managed_prefix_list_entries("pl-corp")).unwrap();
    assert_eq!(entries[0].cidr, "192.168.0.0/16");
    assert!(
        run(sim.get_managed_prefix_list_entries("pl-corp6"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        run(sim.get_managed_prefix_list_entries("pl-404"))
            .unwrap_err()
            .code,
        "InvalidPrefixListID.NotFound"
    );
    assert_eq!(
        run(sim.describe_managed_prefix_lists(&["pl-404".into()]))
            .unwrap_err()
            .code,
        "InvalidPrefixListID.NotFound"
    );
}

#[test]
fn a_burst_of_creates_beyond_four_is_request_limit_exceeded_until_the_bucket_refills() {
    let sim = SimEc2::with_config(&snapshot(), SimClock::new(), SimConfig::default().instant());
    for i in 0..4 {
        run(sim.create_vpc_endpoint(&create_logs(&format!("t{i}")))).unwrap();
    }
    let err = run(sim.create_vpc_endpoint(&create_logs("t4"))).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str(), err.kind),
        (
            "RequestLimitExceeded",
            "Request limit exceeded.",
            ErrorKind::Throttled
        )
    );
    assert_eq!(
        sim.snapshot().vpc_endpoints.len(),
        4,
        "a throttled call changes nothing"
    );
    // Other actions have buckets of their own.
    run(sim.describe_vpc_endpoints(&EndpointFilter::default())).unwrap();
    sim.clock().advance(Duration::from_millis(3334));
    run(sim.create_vpc_endpoint(&create_logs("t4"))).unwrap();
}

#[test]
fn both_dns_attributes_cost_two_describe_vpc_attribute_tokens() {
    let sim = SimEc2::with_config(&snapshot(), SimClock::new(), SimConfig::default());
    for _ in 0..50 {
        run(sim.describe_vpc_dns_attributes("vpc-1")).unwrap();
    }
    let err = run(sim.describe_vpc_dns_attributes("vpc-1")).unwrap_err();
    assert_eq!(err.code, "RequestLimitExceeded");
    sim.clock().advance(Duration::from_millis(100));
    run(sim.describe_vpc_dns_attributes("vpc-1")).unwrap();
}

#[test]
fn throttling_can_be_switched_off_and_on() {
    let sim = SimEc2::with_config(&snapshot(), SimClock::new(), SimConfig::default().instant());
    sim.set_throttling(false);
    for i in 0..10 {
        run(sim.create_vpc_endpoint(&create_logs(&format!("t{i}")))).unwrap();
    }
    sim.set_throttling(true);
    for i in 10..14 {
        run(sim.create_vpc_endpoint(&create_logs(&format!("t{i}")))).unwrap();
    }
    assert_eq!(
        run(sim.create_vpc_endpoint(&create_logs("t14")))
            .unwrap_err()
            .code,
        "RequestLimitExceeded"
    );
}

#[test]
fn an_injected_fault_fails_the_next_calls_of_its_operation_only_and_changes_nothing() {
    let sim = instant_sim();
    sim.inject_error(
        Ec2Operation::CreateVpcEndpoint,
        "UnauthorizedOperation",
        "You are not authorized to perform this operation.",
        2,
    );
    for _ in 0..2 {
        let err = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap_err();
        assert_eq!(
            (err.kind, err.operation),
            (ErrorKind::AccessDenied, Ec2Operation::CreateVpcEndpoint)
        );
    }
    run(sim.describe_vpcs(&[])).unwrap();
    assert_eq!(sim.pending_faults(), 0);
    assert!(sim.snapshot().vpc_endpoints.is_empty());
    run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap();
}

#[test]
fn the_call_log_records_each_call_with_its_virtual_time_and_outcome() {
    let sim = instant_sim();
    run(sim.describe_vpcs(&[])).unwrap();
    sim.clock().advance(Duration::from_secs(7));
    run(sim.modify_vpc_endpoint(&ModifyVpcEndpoint {
        vpc_endpoint_id: "vpce-404".into(),
        private_dns_enabled: Some(true),
        ..Default::default()
    }))
    .unwrap_err();
    let calls = sim.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].operation, calls[0].at),
        (Ec2Operation::DescribeVpcs, Duration::ZERO)
    );
    assert!(calls[0].succeeded());
    assert_eq!(calls[1].operation, Ec2Operation::ModifyVpcEndpoint);
    assert_eq!(calls[1].at, Duration::from_secs(7));
    assert_eq!(
        calls[1].outcome,
        CallOutcome::Failed {
            code: "InvalidVpcEndpointId.NotFound".into(),
            kind: ErrorKind::NotFound,
        }
    );
    assert!(sim.mutations().is_empty(), "a failed modify is not a mutation");
    sim.clear_calls();
    assert!(sim.calls().is_empty());
}

#[test]
fn every_call_gets_a_request_id_of_its_own_in_its_answer_its_failure_and_the_call_log() {
    let sim = instant_sim();
    let created = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap();
    let refused = run(sim.modify_vpc_endpoint(&ModifyVpcEndpoint {
        vpc_endpoint_id: "vpce-404".into(),
        ..Default::default()
    }))
    .unwrap_err();
    sim.inject_error(
        Ec2Operation::DeleteVpcEndpoints,
        "RequestLimitExceeded",
        "Request limit exceeded.",
        1,
    );
    let throttled =
        run(sim.delete_vpc_endpoints(std::slice::from_ref(&created.value.vpc_endpoint_id))).unwrap_err();

    let logged: Vec<String> = sim.calls().into_iter().map(|c| c.request_id).collect();
    let answered = [
        created.request_id.unwrap(),
        refused.request_id.unwrap(),
        throttled.request_id.unwrap(),
    ];
    assert_eq!(logged, answered);
    let distinct: std::collections::BTreeSet<&String> = answered.iter().collect();
    assert_eq!(distinct.len(), 3, "{answered:?}");
}

#[test]
fn out_of_band_changes_show_in_the_next_describe_and_are_not_calls() {
    let sim = instant_sim();
    let e = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    run(sim.modify_vpc_endpoint(&ModifyVpcEndpoint {
        vpc_endpoint_id: e.vpc_endpoint_id.clone(),
        private_dns_enabled: Some(true),
        ..Default::default()
    }))
    .unwrap();
    sim.clear_calls();

    sim.set_private_dns_out_of_band(&e.vpc_endpoint_id, false)
        .unwrap();
    sim.revoke_rule_out_of_band("sgr-0existing").unwrap();
    let client = sim
        .add_network_interface(NetworkInterface {
            subnet_id: "subnet-c".into(),
            interface_type: Some("interface".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(client.network_interface_id.starts_with("eni-0"));
    assert_eq!(client.vpc_id, "vpc-1");
    assert_eq!(
        client.private_ip_address.as_deref(),
        Some("10.0.2.5"),
        "after the endpoint's 10.0.2.4"
    );
    sim.remove_network_interface("eni-lambda").unwrap();
    sim.set_vpc_dns_attributes("vpc-1", None, Some(false)).unwrap();
    assert!(sim.calls().is_empty());

    let endpoint = run(sim.describe_vpc_endpoints(&EndpointFilter::default())).unwrap();
    assert!(!endpoint[0].private_dns_enabled);
    let rules = run(sim.describe_security_group_rules(&RuleFilter {
        group_ids: vec!["sg-endpoint".into()],
        tag: None,
        tag_any_of: None,
    }))
    .unwrap();
    assert!(rules.iter().all(|r| r.security_group_rule_id != "sgr-0existing"));
    let enis = run(sim.describe_network_interfaces("vpc-1")).unwrap();
    assert!(
        enis.iter()
            .any(|n| n.network_interface_id == client.network_interface_id)
    );
    assert!(enis.iter().all(|n| n.network_interface_id != "eni-lambda"));
    let attributes = run(sim.describe_vpc_dns_attributes("vpc-1")).unwrap();
    assert_eq!(attributes.enable_dns_hostnames, Some(AttributeBoolean(false)));

    sim.delete_endpoint_out_of_band(&e.vpc_endpoint_id).unwrap();
    assert!(
        run(sim.describe_vpc_endpoints(&EndpointFilter::default()))
            .unwrap()
            .is_empty()
    );
    assert!(
        run(sim.describe_network_interfaces("vpc-1"))
            .unwrap()
            .iter()
            .all(|n| n.interface_type.as_deref() != Some("vpc_endpoint"))
    );
    assert_eq!(
        sim.delete_endpoint_out_of_band(&e.vpc_endpoint_id),
        Err(Missing(e.vpc_endpoint_id.clone()))
    );
    assert!(sim.revoke_rule_out_of_band("sgr-0404").is_err());
}

#[test]
fn addresses_assigned_out_of_band_are_described_and_never_handed_out_again() {
    let sim = instant_sim();
    let lambda = sim
        .assign_addresses_out_of_band(
            "eni-lambda",
            &["10.0.2.5", "10.0.2.16/28", "2600:1f14::20", "2600:1f14:0:1::/80"],
        )
        .unwrap();
    let described = run(sim.describe_network_interfaces("vpc-1")).unwrap();
    let described = described
        .iter()
        .find(|n| n.network_interface_id == "eni-lambda")
        .unwrap();
    assert_eq!(described, &lambda);
    let secondary: Vec<(&str, Option<bool>)> = described
        .private_ip_addresses
        .iter()
        .map(|a| (a.private_ip_address.as_str(), a.primary))
        .collect();
    assert_eq!(secondary.last(), Some(&("10.0.2.5", Some(false))));
    assert_eq!(described.ipv4_prefixes[0].ipv4_prefix, "10.0.2.16/28");
    assert_eq!(described.ipv6_addresses[0].ipv6_address, "2600:1f14::20");
    assert_eq!(described.ipv6_prefixes[0].ipv6_prefix, "2600:1f14:0:1::/80");

    // The next ENI in the subnet gets neither the secondary address nor one in the prefix.
    let taken: Vec<String> = (0..13)
        .map(|_| {
            sim.add_network_interface(NetworkInterface {
                subnet_id: "subnet-c".into(),
                ..Default::default()
            })
            .unwrap()
            .private_ip_address
            .unwrap()
        })
        .collect();
    let net: ipnet::Ipv4Net = "10.0.2.16/28".parse().unwrap();
    assert!(!taken.contains(&"10.0.2.5".to_string()), "{taken:?}");
    assert!(
        taken
            .iter()
            .all(|a| !net.contains(&a.parse::<std::net::Ipv4Addr>().unwrap())),
        "{taken:?}"
    );
    assert_eq!(taken.last().map(String::as_str), Some("10.0.2.34"), "{taken:?}");

    sim.detach_network_interface_out_of_band("eni-lambda").unwrap();
    let detached = run(sim.describe_network_interfaces("vpc-1")).unwrap();
    let detached = detached
        .iter()
        .find(|n| n.network_interface_id == "eni-lambda")
        .unwrap();
    assert_eq!(
        (detached.status.as_deref(), &detached.attachment),
        (Some("available"), &None)
    );
    assert_eq!(
        sim.assign_addresses_out_of_band("eni-404", &["10.0.2.9"]),
        Err(Missing("eni-404".into()))
    );
}

#[test]
fn the_provider_serves_the_home_world_and_an_empty_one_for_any_other_region() {
    let home = Arc::new(instant_sim());
    let provider = SimProvider::new(home.clone());
    let default = run(provider.client(None)).unwrap();
    assert!(Arc::ptr_eq(&default, &home));
    let named = run(provider.client(Some("ap-northeast-1"))).unwrap();
    assert!(Arc::ptr_eq(&named, &home));

    let elsewhere = run(provider.client(Some("eu-west-1"))).unwrap();
    assert_eq!(elsewhere.region(), "eu-west-1");
    let err = run(elsewhere.describe_vpcs(&["vpc-1".into()])).unwrap_err();
    assert_eq!(err.code, "InvalidVpcID.NotFound");
    let again = run(provider.client(Some("eu-west-1"))).unwrap();
    assert!(Arc::ptr_eq(&elsewhere, &again), "one world per region");
    home.clock().advance(Duration::from_secs(1));
    assert_eq!(
        elsewhere.clock().now(),
        Duration::from_secs(1),
        "one clock for all regions"
    );

    assert!(run(provider.client(Some(" "))).is_err());
}

#[test]
fn observing_a_vpc_through_the_sim_returns_what_the_sim_holds() {
    let sim = instant_sim();
    run(sim.create_vpc_endpoint(&create_logs("uid-1"))).unwrap();
    run(sim.authorize_security_group_rules(&authorize(
        "sg-endpoint",
        false,
        vec![
            tcp_443(RulePeer::Group("sg-zabbix".into()), "zabbix"),
            tcp_443(RulePeer::PrefixList("pl-corp".into()), "office"),
        ],
    )))
    .unwrap();
    let owner = Owner {
        namespace: "apps".into(),
        name: "logs".into(),
        uid: OWNER_UID.into(),
    };
    let scope = ObserveScope {
        service_name: Some(LOGS),
        service_region: None,
        owner: Some(&owner),
    };
    let observed = run(observe_vpc(&sim, "vpc-1", scope)).unwrap();
    let world = sim.snapshot();

    let vpc1 = |vpc: &str| vpc == "vpc-1";
    assert_eq!(
        observed.vpcs,
        world
            .vpcs
            .iter()
            .filter(|v| vpc1(&v.vpc_id))
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        observed.subnets,
        world
            .subnets
            .iter()
            .filter(|s| vpc1(&s.vpc_id))
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        observed.security_groups,
        world
            .security_groups
            .iter()
            .filter(|g| g.vpc_id.as_deref() == Some("vpc-1"))
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        observed.network_interfaces,
        world
            .network_interfaces
            .iter()
            .filter(|n| vpc1(&n.vpc_id))
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(observed.network_interfaces.len(), 4);
    assert_eq!(observed.network_acls, world.network_acls);
    assert_eq!(observed.vpc_endpoints, world.vpc_endpoints);
    assert_eq!(observed.vpc_attributes["vpc-1"], world.vpc_attributes["vpc-1"]);
    assert_eq!(
        observed.service_details,
        world
            .service_details
            .iter()
            .filter(|s| s.service_name == LOGS)
            .cloned()
            .collect::<Vec<_>>()
    );
    let owned: Vec<_> = world
        .security_group_rules
        .iter()
        .filter(|r| owner.owns(crate::model::tag_pairs(&r.tags)))
        .cloned()
        .collect();
    assert_eq!(owned.len(), 2);
    let mut observed_rules = observed.security_group_rules.clone();
    observed_rules.sort_by(|a, b| a.security_group_rule_id.cmp(&b.security_group_rule_id));
    assert_eq!(observed_rules, owned);
    let lists: Vec<&str> = observed
        .prefix_lists
        .iter()
        .map(|p| p.prefix_list_id.as_str())
        .collect();
    assert_eq!(lists, ["pl-corp"]);
    assert_eq!(
        observed.prefix_list_entries["pl-corp"],
        world.prefix_list_entries["pl-corp"]
    );
}

#[test]
fn one_world_serves_many_threads_at_once() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<SimEc2>();
    shareable::<SimProvider>();

    let sim = Arc::new(instant_sim());
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let sim = sim.clone();
            std::thread::spawn(move || {
                let rule = tcp_443(RulePeer::CidrIpv4(format!("10.20.{i}.0/24")), "");
                run(sim.authorize_security_group_rules(&authorize("sg-zabbix", false, vec![rule]))).unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let rules = run(sim.describe_security_group_rules(&RuleFilter {
        group_ids: vec!["sg-zabbix".into()],
        tag: None,
        tag_any_of: None,
    }))
    .unwrap();
    assert_eq!(rules.iter().filter(|r| !r.is_egress).count(), 8);
    assert_eq!(sim.calls().len(), 9);
}

#[test]
fn the_region_can_be_configured_instead_of_read_from_the_snapshot() {
    let sim = SimEc2::with_config(
        &snapshot(),
        SimClock::new(),
        SimConfig::default().in_region("us-west-2"),
    );
    assert_eq!(sim.region(), "us-west-2");
    assert_eq!(instant_sim().region(), "ap-northeast-1");
}

#[test]
fn ids_stay_unique_after_reloading_an_exported_world() {
    let first = instant_sim();
    run(first.create_vpc_endpoint(&create_logs("t1"))).unwrap();
    run(first.authorize_security_group_rules(&authorize(
        "sg-zabbix",
        false,
        vec![tcp_443(RulePeer::Group("sg-lambda".into()), "")],
    )))
    .unwrap();
    // The reloaded world draws from the same id sequence again.
    let second = SimEc2::with_config(
        &first.snapshot(),
        SimClock::new(),
        SimConfig::default().instant().without_throttling(),
    );
    run(second.create_vpc_endpoint(&create_logs("t2"))).unwrap();
    run(second.authorize_security_group_rules(&authorize(
        "sg-lambda",
        false,
        vec![tcp_443(RulePeer::Group("sg-zabbix".into()), "")],
    )))
    .unwrap();
    let world = second.snapshot();
    let mut ids: Vec<&str> = world
        .security_group_rules
        .iter()
        .map(|r| r.security_group_rule_id.as_str())
        .chain(
            world
                .network_interfaces
                .iter()
                .map(|n| n.network_interface_id.as_str()),
        )
        .chain(world.vpc_endpoints.iter().map(|e| e.vpc_endpoint_id.as_str()))
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total);
    assert_eq!(world.vpc_endpoints.len(), 2);
}

#[test]
fn a_timeout_after_the_fact_leaves_the_change_made_and_the_caller_without_an_answer() {
    let sim = instant_sim();
    let timeout = crate::aws::Ec2Error::new(
        ErrorKind::Transient,
        Ec2Operation::CreateVpcEndpoint,
        "Timeout",
        "slow",
    );
    sim.inject_lost_answer(Ec2Operation::CreateVpcEndpoint, timeout, 1);
    let err = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap_err();
    assert_eq!((err.code.as_str(), err.kind), ("Timeout", ErrorKind::Transient));
    assert_eq!(
        err.request_id, None,
        "the answer, and its request id, never arrived"
    );
    let made = sim.snapshot().vpc_endpoints;
    assert_eq!(made.len(), 1, "EC2 made the endpoint");
    let last = sim.last_call().unwrap();
    assert_eq!(
        last.outcome,
        CallOutcome::AnswerLost {
            code: "Timeout".into(),
            kind: ErrorKind::Transient
        }
    );
    assert!(last.took_effect() && !last.succeeded());
    assert!(
        last.request_id.starts_with(char::is_alphanumeric),
        "CloudTrail has it"
    );
    assert_eq!(sim.mutations().len(), 1, "it counts as a mutation");

    // The retry with the same ClientToken is answered with the endpoint made the first time.
    let again = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    assert_eq!(again.vpc_endpoint_id, made[0].vpc_endpoint_id);
}

#[test]
fn a_lost_answer_to_a_call_ec2_refused_changed_nothing() {
    let sim = instant_sim();
    let timeout = crate::aws::Ec2Error::new(
        ErrorKind::Transient,
        Ec2Operation::AuthorizeSecurityGroupIngress,
        "Timeout",
        "slow",
    );
    sim.inject_lost_answer(Ec2Operation::AuthorizeSecurityGroupIngress, timeout, 1);
    let rules_before = sim.rules().len();
    // sg-404 does not exist: EC2 refuses, and the caller only sees the timeout.
    let request = authorize(
        "sg-404",
        false,
        vec![tcp_443(RulePeer::Group("sg-zabbix".into()), "x")],
    );
    let err = run(sim.authorize_security_group_rules(&request)).unwrap_err();
    assert_eq!(err.code, "Timeout");
    assert_eq!(sim.rules().len(), rules_before);
    assert!(!sim.last_call().unwrap().took_effect());
    assert!(sim.mutations().is_empty());
}

#[test]
fn people_change_client_enis_and_rules_outside_the_controller() {
    let sim = instant_sim();
    sim.set_network_interface_groups_out_of_band("eni-zabbix", &["sg-lambda", "sg-zabbix"])
        .unwrap();
    assert!(
        sim.set_network_interface_groups_out_of_band("eni-zabbix", &["sg-404"])
            .is_err()
    );
    let added = sim.assign_free_addresses_out_of_band("eni-zabbix", 2).unwrap();
    assert_eq!(
        added,
        ["10.0.1.5", "10.0.1.6"],
        "the subnet's lowest free addresses"
    );
    let zabbix = sim
        .network_interfaces()
        .into_iter()
        .find(|n| n.network_interface_id == "eni-zabbix")
        .unwrap();
    let groups: Vec<&str> = zabbix.groups.iter().map(|g| g.group_id.as_str()).collect();
    assert_eq!(groups, ["sg-lambda", "sg-zabbix"]);
    let secondary: Vec<&str> = zabbix
        .private_ip_addresses
        .iter()
        .filter(|a| a.primary == Some(false))
        .map(|a| a.private_ip_address.as_str())
        .collect();
    assert_eq!(secondary, ["10.0.1.5", "10.0.1.6"]);
    assert_eq!(
        sim.assign_free_addresses_out_of_band("eni-zabbix", 1).unwrap(),
        ["10.0.1.7"],
        "addresses given out are not free any more"
    );

    let by_hand = authorize(
        "sg-endpoint",
        false,
        vec![tcp_443(RulePeer::Group("sg-zabbix".into()), "hand")],
    );
    let rules = sim.authorize_out_of_band(&by_hand).unwrap();
    assert!(rules[0].security_group_rule_id.starts_with("sgr-0"));
    assert_eq!(
        sim.authorize_out_of_band(&by_hand).unwrap_err().code,
        "InvalidPermission.Duplicate",
        "EC2 refuses a person's duplicate too"
    );
    assert!(sim.calls().is_empty(), "none of it is the controller's calls");
}

#[test]
fn route_tables_are_described_per_vpc_and_a_subnet_or_the_main_role_moves_to_a_new_table() {
    use crate::analysis::internet::{InternetPath, path_of};
    use crate::model::Route;
    let sim = instant_sim();
    let main = sim.create_route_table("vpc-1", true, &[], vec![]);
    let nat = sim.create_route_table("vpc-1", false, &["subnet-a"], vec![Route::default_via("nat-1")]);
    sim.create_route_table("vpc-2", true, &[], vec![Route::default_via("igw-2")]);
    let tables = run(sim.describe_route_tables("vpc-1")).unwrap();
    assert_eq!(tables.len(), 2, "{tables:?}");
    assert!(
        tables
            .iter()
            .all(|t| t.routes[0].gateway_id.as_deref() == Some("local"))
    );
    assert_eq!(
        path_of("subnet-a", &tables),
        InternetPath::Via {
            route_table_id: nat.clone(),
            target: "nat-1".into()
        }
    );
    assert!(
        !path_of("subnet-b", &tables).exists(),
        "the main table has no default route"
    );

    // Associated with a new table, subnet-a leaves the old one; a new main table takes over.
    let public = sim.create_route_table("vpc-1", true, &["subnet-a"], vec![Route::default_via("igw-1")]);
    let tables = run(sim.describe_route_tables("vpc-1")).unwrap();
    let of = |id: &str| tables.iter().find(|t| t.route_table_id == id).unwrap();
    assert!(of(&nat).associations.is_empty());
    assert!(!of(&main).is_main());
    assert!(of(&public).is_main());
    assert!(path_of("subnet-b", &tables).exists());
    assert!(run(sim.describe_route_tables("vpc-404")).unwrap().is_empty());
}
