use std::net::Ipv4Addr;
use std::time::Duration;

use ipnet::Ipv4Net;

use super::*;
use crate::aws::sim::DEFAULT_ENDPOINT_POLICY;
use crate::aws::{Ec2, Ec2Error, EndpointFilter, ErrorKind, ModifyVpcEndpoint};
use crate::model::{NetworkInterface, VpcEndpoint};

fn code<T: std::fmt::Debug>(result: Result<T, Ec2Error>) -> String {
    result.expect_err("the call should fail").code
}

fn describe_one(sim: &SimEc2, id: &str) -> Result<VpcEndpoint, Ec2Error> {
    let filter = EndpointFilter {
        vpc_endpoint_ids: vec![id.into()],
        ..Default::default()
    };
    run(sim.describe_vpc_endpoints(&filter)).map(|mut v| v.remove(0))
}

fn enis_of(sim: &SimEc2, endpoint: &VpcEndpoint) -> Vec<NetworkInterface> {
    run(sim.describe_network_interfaces(&endpoint.vpc_id))
        .unwrap()
        .into_iter()
        .filter(|n| endpoint.network_interface_ids.contains(&n.network_interface_id))
        .collect()
}

fn enable_private_dns(id: &str) -> ModifyVpcEndpoint {
    ModifyVpcEndpoint {
        vpc_endpoint_id: id.into(),
        private_dns_enabled: Some(true),
        ..Default::default()
    }
}

fn endpoint_count(sim: &SimEc2) -> usize {
    sim.snapshot().vpc_endpoints.len()
}

#[test]
fn create_returns_a_pending_interface_endpoint_with_private_dns_off_and_the_requested_tags() {
    let sim = sim();
    let e = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    assert!(e.vpc_endpoint_id.starts_with("vpce-0"));
    assert_eq!(e.state.as_deref(), Some("pending"));
    assert_eq!(e.vpc_endpoint_type.as_deref(), Some("Interface"));
    assert!(!e.private_dns_enabled);
    assert_eq!(e.tags, owner_tags());
    assert_eq!(e.subnet_ids, ["subnet-a", "subnet-c"]);
    assert_eq!(e.groups[0].group_id, "sg-endpoint");
    assert_eq!(e.groups[0].group_name.as_deref(), Some("vpce-logs"));
    assert_eq!(e.policy_document.as_deref(), Some(DEFAULT_ENDPOINT_POLICY));
    assert_eq!(e.creation_timestamp.as_deref(), Some("2025-01-01T00:00:00.000Z"));
}

#[test]
fn the_endpoint_becomes_available_only_after_the_provisioning_delay() {
    let sim = sim();
    let id = run(sim.create_vpc_endpoint(&create_logs("t1")))
        .unwrap()
        .value
        .vpc_endpoint_id;
    sim.clock().advance(Duration::from_secs(59));
    assert_eq!(describe_one(&sim, &id).unwrap().state.as_deref(), Some("pending"));
    sim.clock().advance(Duration::from_secs(1));
    assert!(describe_one(&sim, &id).unwrap().is_available());
}

#[test]
fn an_endpoint_of_a_service_that_requires_acceptance_waits_for_its_owner_to_accept_or_reject_it() {
    let sim = sim();
    sim.add_service(crate::aws::sim::partner_service(
        "ap-northeast-1",
        "vpce-svc-0partner",
        "210987654321",
        "api.partner.example",
        &["ap-northeast-1a", "ap-northeast-1c"],
    ));
    let to_partner = |token: &str| CreateVpcEndpoint {
        service_name: "com.amazonaws.vpce.ap-northeast-1.vpce-svc-0partner".into(),
        ..create_logs(token)
    };
    let accepted = run(sim.create_vpc_endpoint(&to_partner("t1"))).unwrap().value;
    assert_eq!(accepted.state.as_deref(), Some("pendingAcceptance"));
    sim.clock().advance(Duration::from_secs(3600));
    let id = accepted.vpc_endpoint_id;
    assert_eq!(
        describe_one(&sim, &id).unwrap().state.as_deref(),
        Some("pendingAcceptance"),
        "time alone does not accept it"
    );
    sim.accept_endpoint(&id).unwrap();
    assert_eq!(describe_one(&sim, &id).unwrap().state.as_deref(), Some("pending"));
    sim.clock().advance(Duration::from_secs(60));
    assert!(describe_one(&sim, &id).unwrap().is_available());
    assert!(
        sim.reject_endpoint(&id).is_err(),
        "an available endpoint is not rejected"
    );

    let rejected = run(sim.create_vpc_endpoint(&to_partner("t2"))).unwrap().value;
    sim.reject_endpoint(&rejected.vpc_endpoint_id).unwrap();
    sim.clock().advance(Duration::from_secs(3600));
    assert_eq!(
        describe_one(&sim, &rejected.vpc_endpoint_id)
            .unwrap()
            .state
            .as_deref(),
        Some("rejected")
    );
    assert!(sim.accept_endpoint("vpce-404").is_err());
}

#[test]
fn each_subnet_gets_one_requester_managed_endpoint_eni_with_a_free_address_and_the_endpoint_groups() {
    let sim = instant_sim();
    let e = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    let enis = enis_of(&sim, &e);
    assert_eq!(enis.len(), 2);
    for eni in &enis {
        assert_eq!(eni.interface_type.as_deref(), Some("vpc_endpoint"));
        assert_eq!(eni.requester_managed, Some(true));
        assert_eq!(eni.groups.len(), 1);
        assert_eq!(eni.groups[0].group_id, "sg-endpoint");
        assert_eq!(
            eni.description.as_deref(),
            Some(format!("VPC Endpoint Interface {}", e.vpc_endpoint_id).as_str())
        );
    }
    let in_a = enis.iter().find(|n| n.subnet_id == "subnet-a").unwrap();
    let in_c = enis.iter().find(|n| n.subnet_id == "subnet-c").unwrap();
    // 10.0.1.0-3 are EC2's reserves and the Zabbix ENI holds 10.0.1.4.
    assert_eq!(in_a.private_ip_address.as_deref(), Some("10.0.1.5"));
    assert_eq!(in_a.availability_zone.as_deref(), Some("ap-northeast-1a"));
    assert_eq!(in_c.private_ip_address.as_deref(), Some("10.0.2.4"));
    let subnet_c: Ipv4Net = "10.0.2.0/24".parse().unwrap();
    let address: Ipv4Addr = in_c.private_ip_address.as_deref().unwrap().parse().unwrap();
    assert!(subnet_c.contains(&address));
}

#[test]
fn a_second_endpoint_takes_the_next_free_addresses() {
    let sim = instant_sim();
    run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap();
    let second = run(sim.create_vpc_endpoint(&create_logs("t2"))).unwrap().value;
    let mut addresses: Vec<String> = enis_of(&sim, &second)
        .into_iter()
        .filter_map(|n| n.private_ip_address)
        .collect();
    addresses.sort();
    assert_eq!(addresses, ["10.0.1.6", "10.0.2.5"]);
}

#[test]
fn dns_entries_name_the_endpoint_regionally_and_per_zone_like_aws() {
    let sim = instant_sim();
    let e = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    let names: Vec<&str> = e.dns_entries.iter().map(|d| d.dns_name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let stem = &names[0][..names[0].find('.').unwrap()];
    assert!(stem.starts_with(&format!("{}-", e.vpc_endpoint_id)), "{stem}");
    assert_eq!(stem.len(), e.vpc_endpoint_id.len() + 9);
    assert_eq!(names[0], format!("{stem}.logs.ap-northeast-1.vpce.amazonaws.com"));
    assert_eq!(
        names[1],
        format!("{stem}-ap-northeast-1a.logs.ap-northeast-1.vpce.amazonaws.com")
    );
    assert_eq!(
        names[2],
        format!("{stem}-ap-northeast-1c.logs.ap-northeast-1.vpce.amazonaws.com")
    );
    assert!(e.dns_entries.iter().all(|d| d.hosted_zone_id.is_some()));
}

#[test]
fn creating_in_an_unknown_vpc_is_invalid_vpc_id_not_found() {
    let sim = instant_sim();
    let request = CreateVpcEndpoint {
        vpc_id: "vpc-404".into(),
        ..create_logs("t1")
    };
    let err = run(sim.create_vpc_endpoint(&request)).unwrap_err();
    assert_eq!(err.code, "InvalidVpcID.NotFound");
    assert_eq!(err.message, "The vpc ID 'vpc-404' does not exist");
    assert_eq!(err.kind, ErrorKind::NotFound);
}

#[test]
fn subnet_validation_follows_ec2() {
    let sim = instant_sim();
    let with_subnets = |subnets: &[&str]| CreateVpcEndpoint {
        subnet_ids: subnets.iter().map(|s| s.to_string()).collect(),
        ..create_logs("")
    };
    assert_eq!(
        code(run(sim.create_vpc_endpoint(&with_subnets(&["subnet-404"])))),
        "InvalidSubnetID.NotFound"
    );
    let other_vpc = run(sim.create_vpc_endpoint(&with_subnets(&["subnet-x"]))).unwrap_err();
    assert_eq!(
        (other_vpc.code.as_str(), other_vpc.kind),
        ("InvalidParameter", ErrorKind::Invalid)
    );
    let same_zone = run(sim.create_vpc_endpoint(&with_subnets(&["subnet-a", "subnet-a2"]))).unwrap_err();
    assert_eq!(same_zone.code, "DuplicateSubnetsInSameZone");
    assert!(
        same_zone.message.contains("availability zone of subnet-a2"),
        "{}",
        same_zone.message
    );
    let zone_not_offered = run(sim.create_vpc_endpoint(&with_subnets(&["subnet-d"]))).unwrap_err();
    assert_eq!(zone_not_offered.code, "InvalidParameter");
    assert!(
        zone_not_offered
            .message
            .contains("does not support the availability zone of the subnet: subnet-d")
    );
    assert_eq!(endpoint_count(&sim), 0, "a rejected create creates nothing");
    assert!(sim.mutations().is_empty());
}

#[test]
fn security_group_validation_follows_ec2() {
    let sim = instant_sim();
    let with_groups = |groups: &[&str]| CreateVpcEndpoint {
        security_group_ids: groups.iter().map(|s| s.to_string()).collect(),
        ..create_logs("")
    };
    let unknown = run(sim.create_vpc_endpoint(&with_groups(&["sg-404"]))).unwrap_err();
    assert_eq!(unknown.code, "InvalidGroup.NotFound");
    assert_eq!(unknown.message, "The security group 'sg-404' does not exist");
    let other_vpc = run(sim.create_vpc_endpoint(&with_groups(&["sg-endpoint", "sg-other"]))).unwrap_err();
    assert_eq!(other_vpc.code, "InvalidParameter");
    assert!(other_vpc.message.contains("belong to different networks"));
    assert_eq!(endpoint_count(&sim), 0);
}

#[test]
fn without_security_groups_the_endpoint_gets_the_vpc_default_group() {
    let sim = instant_sim();
    let request = CreateVpcEndpoint {
        security_group_ids: vec![],
        ..create_logs("t1")
    };
    let e = run(sim.create_vpc_endpoint(&request)).unwrap().value;
    assert_eq!(e.groups[0].group_id, "sg-default");
    assert!(
        enis_of(&sim, &e)
            .iter()
            .all(|n| n.groups[0].group_id == "sg-default")
    );
}

#[test]
fn an_unknown_service_is_invalid_service_name() {
    let sim = instant_sim();
    let request = CreateVpcEndpoint {
        service_name: "com.amazonaws.ap-northeast-1.nope".into(),
        ..create_logs("t1")
    };
    let err = run(sim.create_vpc_endpoint(&request)).unwrap_err();
    assert_eq!(err.code, "InvalidServiceName");
    assert_eq!(
        err.message,
        "The Vpc Endpoint Service 'com.amazonaws.ap-northeast-1.nope' does not exist"
    );
}

#[test]
fn a_subnet_without_free_addresses_is_insufficient_free_addresses_in_subnet() {
    let sim = instant_sim();
    // A /29 has eight addresses; EC2 keeps five, so three endpoints fit.
    let in_tiny = |token: &str| CreateVpcEndpoint {
        subnet_ids: vec!["subnet-tiny".into()],
        ..create_logs(token)
    };
    for token in ["t1", "t2", "t3"] {
        run(sim.create_vpc_endpoint(&in_tiny(token))).unwrap();
    }
    assert_eq!(
        code(run(sim.create_vpc_endpoint(&in_tiny("t4")))),
        "InsufficientFreeAddressesInSubnet"
    );
    assert_eq!(endpoint_count(&sim), 3);
}

#[test]
fn a_policy_that_is_not_a_json_object_is_invalid_policy_document() {
    let sim = instant_sim();
    for policy in ["{not json", "[1, 2]"] {
        let request = CreateVpcEndpoint {
            policy_document: Some(policy.into()),
            ..create_logs("")
        };
        assert_eq!(
            code(run(sim.create_vpc_endpoint(&request))),
            "InvalidPolicyDocument"
        );
    }
}

#[test]
fn endpoints_beyond_the_per_vpc_quota_are_vpc_endpoint_limit_exceeded() {
    let config = SimConfig {
        interface_endpoints_per_vpc: 2,
        ..SimConfig::default().instant().without_throttling()
    };
    let sim = SimEc2::with_config(&snapshot(), SimClock::new(), config);
    run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap();
    run(sim.create_vpc_endpoint(&create_logs("t2"))).unwrap();
    let err = run(sim.create_vpc_endpoint(&create_logs("t3"))).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.kind),
        ("VpcEndpointLimitExceeded", ErrorKind::Precondition)
    );
}

#[test]
fn a_client_token_longer_than_64_characters_is_rejected() {
    let sim = instant_sim();
    let token = "x".repeat(65);
    assert_eq!(
        code(run(sim.create_vpc_endpoint(&create_logs(&token)))),
        "InvalidClientToken"
    );
    run(sim.create_vpc_endpoint(&create_logs(&"x".repeat(64)))).unwrap();
}

#[test]
fn the_same_client_token_with_the_same_parameters_returns_the_same_endpoint() {
    let sim = sim();
    let first = run(sim.create_vpc_endpoint(&create_logs("uid-1"))).unwrap().value;
    let mut again = create_logs("uid-1");
    again.subnet_ids.reverse();
    let second = run(sim.create_vpc_endpoint(&again)).unwrap().value;
    assert_eq!(second.vpc_endpoint_id, first.vpc_endpoint_id);
    assert_eq!(endpoint_count(&sim), 1);
    assert_eq!(sim.snapshot().network_interfaces.len(), 3 + 2);
}

#[test]
fn the_same_client_token_with_other_parameters_is_idempotent_parameter_mismatch() {
    let sim = sim();
    run(sim.create_vpc_endpoint(&create_logs("uid-1"))).unwrap();
    let other = CreateVpcEndpoint {
        subnet_ids: vec!["subnet-a".into()],
        ..create_logs("uid-1")
    };
    let err = run(sim.create_vpc_endpoint(&other)).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.kind),
        ("IdempotentParameterMismatch", ErrorKind::IdempotencyMismatch)
    );
    assert_eq!(endpoint_count(&sim), 1);
}

#[test]
fn a_retry_with_the_token_returns_the_current_state_of_the_endpoint() {
    let sim = sim();
    let id = run(sim.create_vpc_endpoint(&create_logs("uid-1")))
        .unwrap()
        .value
        .vpc_endpoint_id;
    sim.clock().advance(Duration::from_secs(120));
    let again = run(sim.create_vpc_endpoint(&create_logs("uid-1"))).unwrap().value;
    assert_eq!(again.vpc_endpoint_id, id);
    assert!(again.is_available());
}

#[test]
fn a_new_endpoint_is_not_found_by_id_nor_listed_until_the_visibility_delay_has_passed() {
    let sim = sim();
    let created = run(sim.create_vpc_endpoint(&create_logs("uid-1"))).unwrap().value;
    let id = created.vpc_endpoint_id.clone();
    let err = describe_one(&sim, &id).unwrap_err();
    assert_eq!(err.code, "InvalidVpcEndpointId.NotFound");
    assert_eq!(err.message, format!("The Vpc Endpoint Id '{id}' does not exist"));
    let by_vpc = EndpointFilter {
        vpc_id: Some("vpc-1".into()),
        ..Default::default()
    };
    assert!(run(sim.describe_vpc_endpoints(&by_vpc)).unwrap().is_empty());
    assert!(enis_of(&sim, &created).is_empty(), "its ENIs are not seen either");
    // The token still finds it: a retry never makes a second endpoint.
    assert_eq!(
        run(sim.create_vpc_endpoint(&create_logs("uid-1")))
            .unwrap()
            .value
            .vpc_endpoint_id,
        id
    );

    sim.clock().advance(Duration::from_secs(5));
    assert_eq!(describe_one(&sim, &id).unwrap().vpc_endpoint_id, id);
    assert_eq!(run(sim.describe_vpc_endpoints(&by_vpc)).unwrap().len(), 1);
    assert_eq!(enis_of(&sim, &created).len(), 2);
}

#[test]
fn enabling_private_dns_makes_the_endpoint_briefly_pending_and_adds_the_private_name() {
    let sim = sim();
    let id = run(sim.create_vpc_endpoint(&create_logs("t1")))
        .unwrap()
        .value
        .vpc_endpoint_id;
    sim.clock().advance(Duration::from_secs(60));
    run(sim.modify_vpc_endpoint(&enable_private_dns(&id))).unwrap();
    let e = describe_one(&sim, &id).unwrap();
    assert!(e.private_dns_enabled);
    assert_eq!(e.state.as_deref(), Some("pending"));
    let last = e.dns_entries.last().unwrap();
    assert_eq!(last.dns_name, "logs.ap-northeast-1.amazonaws.com");
    sim.clock().advance(Duration::from_secs(30));
    assert!(describe_one(&sim, &id).unwrap().is_available());
}

#[test]
fn disabling_private_dns_removes_the_private_name() {
    let sim = instant_sim();
    let id = run(sim.create_vpc_endpoint(&create_logs("t1")))
        .unwrap()
        .value
        .vpc_endpoint_id;
    run(sim.modify_vpc_endpoint(&enable_private_dns(&id))).unwrap();
    let off = ModifyVpcEndpoint {
        private_dns_enabled: Some(false),
        ..enable_private_dns(&id)
    };
    run(sim.modify_vpc_endpoint(&off)).unwrap();
    let e = describe_one(&sim, &id).unwrap();
    assert!(!e.private_dns_enabled);
    assert!(
        e.dns_entries
            .iter()
            .all(|d| d.dns_name.contains("vpce.amazonaws.com"))
    );
}

#[test]
fn private_dns_needs_dns_support_and_dns_hostnames_on_the_vpc() {
    let sim = instant_sim();
    let request = CreateVpcEndpoint {
        vpc_id: "vpc-2".into(),
        subnet_ids: vec!["subnet-x".into()],
        security_group_ids: vec!["sg-other".into()],
        ..create_logs("t1")
    };
    let id = run(sim.create_vpc_endpoint(&request))
        .unwrap()
        .value
        .vpc_endpoint_id;
    let err = run(sim.modify_vpc_endpoint(&enable_private_dns(&id))).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.kind),
        ("InvalidParameter", ErrorKind::Precondition)
    );
    assert_eq!(
        err.message,
        "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set to \
         true for vpc-2"
    );
    assert!(
        !describe_one(&sim, &id).unwrap().private_dns_enabled,
        "nothing changed"
    );
    sim.set_vpc_dns_attributes("vpc-2", None, Some(true)).unwrap();
    run(sim.modify_vpc_endpoint(&enable_private_dns(&id))).unwrap();
}

#[test]
fn private_dns_needs_a_service_that_offers_a_private_dns_name() {
    let sim = instant_sim();
    let request = CreateVpcEndpoint {
        service_name: PARTNER.into(),
        ..create_logs("t1")
    };
    let id = run(sim.create_vpc_endpoint(&request))
        .unwrap()
        .value
        .vpc_endpoint_id;
    let err = run(sim.modify_vpc_endpoint(&enable_private_dns(&id))).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.kind),
        ("InvalidParameter", ErrorKind::Precondition)
    );
    assert!(
        err.message.contains("does not provide a private DNS name"),
        "{}",
        err.message
    );
}

#[test]
fn a_second_private_dns_endpoint_for_the_same_service_in_the_vpc_is_the_conflict_error() {
    let sim = instant_sim();
    let first = run(sim.create_vpc_endpoint(&create_logs("t1")))
        .unwrap()
        .value
        .vpc_endpoint_id;
    let second = run(sim.create_vpc_endpoint(&create_logs("t2")))
        .unwrap()
        .value
        .vpc_endpoint_id;
    run(sim.modify_vpc_endpoint(&enable_private_dns(&first))).unwrap();
    let err = run(sim.modify_vpc_endpoint(&enable_private_dns(&second))).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.kind),
        ("InvalidParameter", ErrorKind::Precondition)
    );
    assert_eq!(
        err.message,
        "private-dns-enabled cannot be set because there is already a conflicting DNS domain for \
         logs.ap-northeast-1.amazonaws.com in the VPC vpc-1"
    );
    assert!(!describe_one(&sim, &second).unwrap().private_dns_enabled);
}

#[test]
fn adding_and_removing_subnets_moves_the_endpoint_enis() {
    let sim = instant_sim();
    let e = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    let eni_in_c = enis_of(&sim, &e)
        .into_iter()
        .find(|n| n.subnet_id == "subnet-c")
        .unwrap();
    let swap = ModifyVpcEndpoint {
        vpc_endpoint_id: e.vpc_endpoint_id.clone(),
        remove_subnet_ids: vec!["subnet-a".into()],
        add_subnet_ids: vec!["subnet-a2".into()],
        ..Default::default()
    };
    run(sim.modify_vpc_endpoint(&swap)).unwrap();
    let after = describe_one(&sim, &e.vpc_endpoint_id).unwrap();
    assert_eq!(after.subnet_ids, ["subnet-c", "subnet-a2"]);
    let enis = enis_of(&sim, &after);
    let mut subnets: Vec<&str> = enis.iter().map(|n| n.subnet_id.as_str()).collect();
    subnets.sort();
    assert_eq!(subnets, ["subnet-a2", "subnet-c"]);
    assert!(enis.contains(&eni_in_c), "the untouched subnet keeps its ENI");
    assert!(
        !sim.snapshot()
            .network_interfaces
            .iter()
            .any(|n| n.subnet_id == "subnet-a" && n.interface_type.as_deref() == Some("vpc_endpoint")),
        "the removed subnet's ENI is gone"
    );
    assert!(
        after
            .dns_entries
            .iter()
            .any(|d| d.dns_name.contains("ap-northeast-1a"))
    );
}

#[test]
fn adding_a_subnet_in_a_zone_the_endpoint_already_covers_is_duplicate_subnets_in_same_zone() {
    let sim = instant_sim();
    let e = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    let add = ModifyVpcEndpoint {
        vpc_endpoint_id: e.vpc_endpoint_id.clone(),
        add_subnet_ids: vec!["subnet-a2".into()],
        ..Default::default()
    };
    assert_eq!(
        code(run(sim.modify_vpc_endpoint(&add))),
        "DuplicateSubnetsInSameZone"
    );
    let remove_unattached = ModifyVpcEndpoint {
        vpc_endpoint_id: e.vpc_endpoint_id.clone(),
        remove_subnet_ids: vec!["subnet-d".into()],
        ..Default::default()
    };
    assert_eq!(
        code(run(sim.modify_vpc_endpoint(&remove_unattached))),
        "InvalidParameter"
    );
    assert_eq!(
        describe_one(&sim, &e.vpc_endpoint_id).unwrap().subnet_ids,
        e.subnet_ids
    );
}

#[test]
fn security_group_changes_reach_every_endpoint_eni() {
    let sim = instant_sim();
    let e = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    let change = ModifyVpcEndpoint {
        vpc_endpoint_id: e.vpc_endpoint_id.clone(),
        add_security_group_ids: vec!["sg-default".into()],
        remove_security_group_ids: vec!["sg-endpoint".into()],
        ..Default::default()
    };
    run(sim.modify_vpc_endpoint(&change)).unwrap();
    let after = describe_one(&sim, &e.vpc_endpoint_id).unwrap();
    assert_eq!(after.groups.len(), 1);
    assert_eq!(after.groups[0].group_id, "sg-default");
    for eni in enis_of(&sim, &after) {
        let groups: Vec<&str> = eni.groups.iter().map(|g| g.group_id.as_str()).collect();
        assert_eq!(groups, ["sg-default"], "{}", eni.network_interface_id);
    }
    let foreign = ModifyVpcEndpoint {
        vpc_endpoint_id: e.vpc_endpoint_id.clone(),
        add_security_group_ids: vec!["sg-other".into()],
        ..Default::default()
    };
    assert_eq!(code(run(sim.modify_vpc_endpoint(&foreign))), "InvalidParameter");
}

#[test]
fn the_policy_can_be_replaced_and_reset_to_full_access() {
    let sim = instant_sim();
    let id = run(sim.create_vpc_endpoint(&create_logs("t1")))
        .unwrap()
        .value
        .vpc_endpoint_id;
    let narrow =
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"logs:PutLogEvents","Resource":"*"}]}"#;
    let set = ModifyVpcEndpoint {
        vpc_endpoint_id: id.clone(),
        policy_document: Some(narrow.into()),
        ..Default::default()
    };
    run(sim.modify_vpc_endpoint(&set)).unwrap();
    assert_eq!(
        describe_one(&sim, &id).unwrap().policy_document.as_deref(),
        Some(narrow)
    );
    let both = ModifyVpcEndpoint {
        reset_policy: true,
        ..set.clone()
    };
    assert_eq!(
        code(run(sim.modify_vpc_endpoint(&both))),
        "InvalidParameterCombination"
    );
    let reset = ModifyVpcEndpoint {
        vpc_endpoint_id: id.clone(),
        reset_policy: true,
        ..Default::default()
    };
    run(sim.modify_vpc_endpoint(&reset)).unwrap();
    assert_eq!(
        describe_one(&sim, &id).unwrap().policy_document.as_deref(),
        Some(DEFAULT_ENDPOINT_POLICY)
    );
}

#[test]
fn modifying_an_unknown_or_not_yet_visible_endpoint_is_invalid_vpc_endpoint_id_not_found() {
    let sim = sim();
    assert_eq!(
        code(run(sim.modify_vpc_endpoint(&enable_private_dns("vpce-404")))),
        "InvalidVpcEndpointId.NotFound"
    );
    let id = run(sim.create_vpc_endpoint(&create_logs("t1")))
        .unwrap()
        .value
        .vpc_endpoint_id;
    assert_eq!(
        code(run(sim.modify_vpc_endpoint(&enable_private_dns(&id)))),
        "InvalidVpcEndpointId.NotFound"
    );
}

#[test]
fn deleting_reports_unknown_ids_per_item_and_deletes_the_others() {
    let sim = sim();
    let id = run(sim.create_vpc_endpoint(&create_logs("t1")))
        .unwrap()
        .value
        .vpc_endpoint_id;
    sim.clock().advance(Duration::from_secs(60));
    let failures = run(sim.delete_vpc_endpoints(&[id.clone(), "vpce-404".into()]))
        .unwrap()
        .value;
    assert_eq!(failures.len(), 1);
    let item = &failures["vpce-404"];
    assert_eq!(
        (item.code.as_str(), item.kind),
        ("InvalidVpcEndpoint.NotFound", ErrorKind::NotFound)
    );
    assert_eq!(
        describe_one(&sim, &id).unwrap().state.as_deref(),
        Some("deleting")
    );
}

#[test]
fn a_deleted_endpoint_is_deleting_for_a_while_then_gone_with_its_enis() {
    let sim = sim();
    let e = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    sim.clock().advance(Duration::from_secs(60));
    assert!(
        run(sim.delete_vpc_endpoints(std::slice::from_ref(&e.vpc_endpoint_id)))
            .unwrap()
            .value
            .is_empty()
    );
    assert!(
        run(sim.delete_vpc_endpoints(std::slice::from_ref(&e.vpc_endpoint_id)))
            .unwrap()
            .value
            .is_empty(),
        "deleting a deleting endpoint again is fine"
    );
    let err = run(sim.modify_vpc_endpoint(&enable_private_dns(&e.vpc_endpoint_id))).unwrap_err();
    assert_eq!(err.code, "IncorrectState");
    sim.clock().advance(Duration::from_secs(29));
    assert_eq!(enis_of(&sim, &e).len(), 2);
    sim.clock().advance(Duration::from_secs(1));
    assert_eq!(
        code(describe_one(&sim, &e.vpc_endpoint_id)),
        "InvalidVpcEndpointId.NotFound"
    );
    assert!(enis_of(&sim, &e).is_empty());
    assert!(
        sim.snapshot()
            .network_interfaces
            .iter()
            .all(|n| n.interface_type.as_deref() != Some("vpc_endpoint"))
    );
}

#[test]
fn describe_matches_every_filter_given() {
    let sim = instant_sim();
    let logs = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    let partner = CreateVpcEndpoint {
        service_name: PARTNER.into(),
        tags: vec![],
        ..create_logs("t2")
    };
    run(sim.create_vpc_endpoint(&partner)).unwrap();
    let count = |filter: EndpointFilter| run(sim.describe_vpc_endpoints(&filter)).unwrap().len();
    assert_eq!(count(EndpointFilter::default()), 2);
    assert_eq!(
        count(EndpointFilter {
            vpc_id: Some("vpc-1".into()),
            ..Default::default()
        }),
        2
    );
    assert_eq!(
        count(EndpointFilter {
            vpc_id: Some("vpc-2".into()),
            ..Default::default()
        }),
        0
    );
    assert_eq!(
        count(EndpointFilter {
            service_name: Some(LOGS.into()),
            ..Default::default()
        }),
        1
    );
    let by_tag = EndpointFilter {
        tag: Some(("vpce-rollout.dev/uid".into(), OWNER_UID.into())),
        ..Default::default()
    };
    let found = run(sim.describe_vpc_endpoints(&by_tag)).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].vpc_endpoint_id, logs.vpc_endpoint_id);
    assert_eq!(
        count(EndpointFilter {
            vpc_endpoint_ids: vec![logs.vpc_endpoint_id.clone()],
            service_name: Some(PARTNER.into()),
            ..Default::default()
        }),
        0
    );
}

#[test]
fn an_endpoint_whose_service_the_snapshot_does_not_describe_can_change_groups_but_not_enable_private_dns() {
    let mut seed = snapshot();
    seed.vpc_endpoints.push(
        serde_json::from_str(
            r#"{"VpcEndpointId": "vpce-0seed", "VpcEndpointType": "Interface", "VpcId": "vpc-1",
                "ServiceName": "com.amazonaws.ap-northeast-1.sqs", "State": "available",
                "SubnetIds": [], "Groups": [{"GroupId": "sg-endpoint"}], "NetworkInterfaceIds": [],
                "PrivateDnsEnabled": false}"#,
        )
        .unwrap(),
    );
    let sim = SimEc2::with_config(
        &seed,
        SimClock::new(),
        SimConfig::default().instant().without_throttling(),
    );
    let add_group = ModifyVpcEndpoint {
        vpc_endpoint_id: "vpce-0seed".into(),
        add_security_group_ids: vec!["sg-default".into()],
        ..Default::default()
    };
    run(sim.modify_vpc_endpoint(&add_group)).unwrap();
    assert_eq!(describe_one(&sim, "vpce-0seed").unwrap().groups.len(), 2);
    assert_eq!(
        code(run(sim.modify_vpc_endpoint(&enable_private_dns("vpce-0seed")))),
        "InvalidServiceName"
    );
}

#[test]
fn ec2_may_fail_a_pending_endpoint_but_not_an_available_one() {
    let sim = sim();
    let failing = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    sim.fail_endpoint_out_of_band(&failing.vpc_endpoint_id).unwrap();
    sim.clock().advance(Duration::from_secs(3600));
    assert_eq!(
        describe_one(&sim, &failing.vpc_endpoint_id)
            .unwrap()
            .state
            .as_deref(),
        Some("failed")
    );

    let serving = run(sim.create_vpc_endpoint(&create_logs("t2"))).unwrap().value;
    sim.clock().advance(sim.config().provisioning_delay);
    sim.fail_endpoint_out_of_band(&serving.vpc_endpoint_id).unwrap();
    assert!(
        describe_one(&sim, &serving.vpc_endpoint_id)
            .unwrap()
            .is_available()
    );
    assert_eq!(
        sim.fail_endpoint_out_of_band("vpce-404"),
        Err(crate::aws::sim::Missing("vpce-404".into()))
    );
}

#[test]
fn a_stalled_endpoint_stays_pending_or_deleting_for_the_extra_time() {
    let sim = sim();
    let delay = sim.config().provisioning_delay;
    let e = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    let id = e.vpc_endpoint_id.clone();
    sim.stall_endpoint_out_of_band(&id, Duration::from_secs(600))
        .unwrap();
    sim.clock().advance(delay);
    assert_eq!(describe_one(&sim, &id).unwrap().state.as_deref(), Some("pending"));
    sim.clock().advance(Duration::from_secs(600));
    assert!(describe_one(&sim, &id).unwrap().is_available());

    run(sim.delete_vpc_endpoints(std::slice::from_ref(&id))).unwrap();
    sim.stall_endpoint_out_of_band(&id, Duration::from_secs(900))
        .unwrap();
    sim.clock().advance(sim.config().deletion_delay);
    assert_eq!(
        describe_one(&sim, &id).unwrap().state.as_deref(),
        Some("deleting")
    );
    sim.clock().advance(Duration::from_secs(900));
    assert_eq!(endpoint_count(&sim), 0);
}

#[test]
fn an_endpoint_deleted_by_hand_goes_through_deleting_like_any_other() {
    let sim = sim();
    let e = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    sim.clock().advance(sim.config().provisioning_delay);
    sim.start_deleting_endpoint_out_of_band(&e.vpc_endpoint_id)
        .unwrap();
    assert_eq!(
        describe_one(&sim, &e.vpc_endpoint_id).unwrap().state.as_deref(),
        Some("deleting")
    );
    assert!(
        sim.calls()
            .iter()
            .all(|c| c.operation != crate::aws::Ec2Operation::DeleteVpcEndpoints)
    );
    sim.clock().advance(sim.config().deletion_delay);
    assert_eq!(endpoint_count(&sim), 0);
    assert!(
        sim.network_interfaces()
            .iter()
            .all(|n| n.interface_type.as_deref() != Some("vpc_endpoint"))
    );
}

#[test]
fn an_endpoint_ec2_is_slow_to_list_is_not_found_by_id_until_then() {
    let sim = instant_sim();
    let e = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    let id = e.vpc_endpoint_id.clone();
    sim.hide_endpoint_out_of_band(&id, Duration::from_secs(90))
        .unwrap();
    let hidden = describe_one(&sim, &id).unwrap_err();
    assert_eq!(
        (hidden.code.as_str(), hidden.kind),
        (
            "InvalidVpcEndpointId.NotFound",
            crate::aws::ErrorKind::NotYetVisible
        )
    );
    let modify = run(sim.modify_vpc_endpoint(&enable_private_dns(&id))).unwrap_err();
    assert_eq!(modify.kind, crate::aws::ErrorKind::NotYetVisible);
    sim.clock().advance(Duration::from_secs(90));
    assert_eq!(describe_one(&sim, &id).unwrap().vpc_endpoint_id, id);
}

#[test]
fn an_endpoint_ec2_does_not_list_yet_is_not_what_people_see_either() {
    let sim = instant_sim();
    let e = run(sim.create_vpc_endpoint(&create_logs("t1"))).unwrap().value;
    assert_eq!(sim.listed_endpoints().len(), 1);
    sim.hide_endpoint_out_of_band(&e.vpc_endpoint_id, Duration::from_secs(60))
        .unwrap();
    assert!(sim.listed_endpoints().is_empty());
    assert_eq!(sim.endpoints().len(), 1, "it exists all the same");
    sim.clock().advance(Duration::from_secs(60));
    assert_eq!(sim.listed_endpoints().len(), 1);
}

/// Cross-region PrivateLink: a service hosted in another region is listed only when asked for
/// with that region, and an endpoint connects to it only naming it (`ServiceRegion`).
#[test]
fn a_service_of_another_region_is_listed_and_reached_only_naming_its_region() {
    const REMOTE: &str = "com.amazonaws.vpce.eu-west-1.vpce-svc-0remote";
    let mut world = snapshot();
    world.service_details.push(crate::model::ServiceDetail {
        service_name: REMOTE.into(),
        availability_zones: vec!["ap-northeast-1a".into(), "ap-northeast-1c".into()],
        service_region: Some("eu-west-1".into()),
        ..Default::default()
    });
    let sim = SimEc2::with_config(
        &world,
        SimClock::new(),
        SimConfig::default().instant().without_throttling(),
    );
    let here = run(sim.describe_vpc_endpoint_services(&[REMOTE.into()], &[])).unwrap_err();
    assert_eq!(here.code, "InvalidServiceName");
    let there = run(sim.describe_vpc_endpoint_services(&[REMOTE.into()], &["eu-west-1".into()])).unwrap();
    assert_eq!(there[0].service_region.as_deref(), Some("eu-west-1"));
    let elsewhere = run(sim.describe_vpc_endpoint_services(&[], &["us-east-1".into()])).unwrap();
    assert!(elsewhere.is_empty(), "{elsewhere:?}");

    let to_remote = |region: Option<&str>, token: &str| CreateVpcEndpoint {
        service_name: REMOTE.into(),
        service_region: region.map(str::to_string),
        ..create_logs(token)
    };
    let err = run(sim.create_vpc_endpoint(&to_remote(None, "t1"))).unwrap_err();
    assert_eq!(err.code, "InvalidServiceName");
    let made = run(sim.create_vpc_endpoint(&to_remote(Some("eu-west-1"), "t2")))
        .unwrap()
        .value;
    assert_eq!(made.service_region.as_deref(), Some("eu-west-1"));
}

/// A service whose `VpcEndpointPolicySupported` is false takes no policy, at creation or later.
#[test]
fn a_policy_for_a_service_without_endpoint_policies_is_refused() {
    let mut world = snapshot();
    world.service_details[0].vpc_endpoint_policy_supported = Some(false);
    let sim = SimEc2::with_config(
        &world,
        SimClock::new(),
        SimConfig::default().instant().without_throttling(),
    );
    let policy = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;
    let with_policy = CreateVpcEndpoint {
        policy_document: Some(policy.into()),
        ..create_logs("t1")
    };
    let err = run(sim.create_vpc_endpoint(&with_policy)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    let made = run(sim.create_vpc_endpoint(&create_logs("t2"))).unwrap().value;
    let err = run(sim.modify_vpc_endpoint(&ModifyVpcEndpoint {
        vpc_endpoint_id: made.vpc_endpoint_id,
        policy_document: Some(policy.into()),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
}

/// `IpAddressType` and `DnsOptions.DnsRecordIpType` as EC2 takes them: records only with the
/// address types EC2 creates them for, IPv6 only in subnets with an IPv6 CIDR (the ENIs then get
/// an IPv6 address), both reported by describes and changed in place by a modify.
#[test]
fn the_address_type_and_dns_records_are_checked_reported_and_modified_in_place() {
    use crate::api::{DnsRecordIpType, IpAddressType};
    let mut world = snapshot();
    for s in world.subnets.iter_mut().filter(|s| s.subnet_id == "subnet-a") {
        s.ipv6_cidr_block_association_set = vec![crate::model::Ipv6CidrBlockAssociation {
            ipv6_cidr_block: "2600:1f14:0:1::/64".into(),
            ..Default::default()
        }];
    }
    // subnet-a2: IPv6-only (no IPv4 CIDR), the only kind an ipv6 endpoint may use.
    for s in world.subnets.iter_mut().filter(|s| s.subnet_id == "subnet-a2") {
        s.cidr_block = None;
        s.ipv6_cidr_block_association_set = vec![crate::model::Ipv6CidrBlockAssociation {
            ipv6_cidr_block: "2600:1f14:0:3::/64".into(),
            ..Default::default()
        }];
    }
    let sim = SimEc2::with_config(
        &world,
        SimClock::new(),
        SimConfig::default().instant().without_throttling(),
    );
    let with = |t: Option<IpAddressType>, r: Option<DnsRecordIpType>, subnets: &[&str], token: &str| {
        CreateVpcEndpoint {
            subnet_ids: subnets.iter().map(|s| s.to_string()).collect(),
            ip_address_type: t,
            dns_record_ip_type: r,
            ..create_logs(token)
        }
    };
    let err = run(sim.create_vpc_endpoint(&with(
        Some(IpAddressType::Ipv4),
        Some(DnsRecordIpType::Dualstack),
        &["subnet-a"],
        "t1",
    )))
    .unwrap_err();
    assert_eq!(err.code, "InvalidParameterCombination", "{err}");
    let err = run(sim.create_vpc_endpoint(&with(
        Some(IpAddressType::Dualstack),
        None,
        &["subnet-a", "subnet-c"],
        "t2",
    )))
    .unwrap_err();
    assert_eq!(
        err.code, "InvalidParameterValue",
        "subnet-c has no IPv6 CIDR: {err}"
    );

    let made = run(sim.create_vpc_endpoint(&with(
        Some(IpAddressType::Dualstack),
        Some(DnsRecordIpType::Dualstack),
        &["subnet-a"],
        "t3",
    )))
    .unwrap()
    .value;
    let seen = describe_one(&sim, &made.vpc_endpoint_id).unwrap();
    assert_eq!(seen.ip_address_type.as_deref(), Some("dualstack"));
    assert_eq!(
        seen.dns_options
            .as_ref()
            .and_then(|d| d.dns_record_ip_type.as_deref()),
        Some("dualstack")
    );
    let enis = enis_of(&sim, &seen);
    assert_eq!(enis.len(), 1);
    assert!(
        enis[0].ipv6_addresses[0]
            .ipv6_address
            .starts_with("2600:1f14:0:1:"),
        "{enis:?}"
    );

    // ipv4 records would not fit ipv6 addresses: refused, nothing changed.
    let err = run(sim.modify_vpc_endpoint(&ModifyVpcEndpoint {
        vpc_endpoint_id: made.vpc_endpoint_id.clone(),
        ip_address_type: Some(IpAddressType::Ipv6),
        dns_record_ip_type: Some(DnsRecordIpType::Ipv4),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(err.code, "InvalidParameterCombination", "{err}");
    assert_eq!(describe_one(&sim, &made.vpc_endpoint_id).unwrap(), seen);

    // Back to IPv4: the records follow (dualstack ones would not fit), the IPv6 address goes.
    run(sim.modify_vpc_endpoint(&ModifyVpcEndpoint {
        vpc_endpoint_id: made.vpc_endpoint_id.clone(),
        ip_address_type: Some(IpAddressType::Ipv4),
        ..Default::default()
    }))
    .unwrap();
    let after = describe_one(&sim, &made.vpc_endpoint_id).unwrap();
    assert_eq!(after.ip_address_type.as_deref(), Some("ipv4"));
    assert_eq!(
        after
            .dns_options
            .as_ref()
            .and_then(|d| d.dns_record_ip_type.as_deref()),
        Some("ipv4")
    );
    assert!(enis_of(&sim, &after)[0].ipv6_addresses.is_empty());

    // An endpoint created without them reports none (the controller reads that as unknown).
    let plain = run(sim.create_vpc_endpoint(&with(None, None, &["subnet-c"], "t4")))
        .unwrap()
        .value;
    assert_eq!(plain.ip_address_type, None);
    assert_eq!(plain.dns_options, None);

    // ipv6 only in IPv6-only subnets: a dual-stack subnet is refused, the IPv6-only one gives
    // an interface with an IPv6 address and no IPv4 address.
    let err = run(sim.create_vpc_endpoint(&with(Some(IpAddressType::Ipv6), None, &["subnet-a"], "t5")))
        .unwrap_err();
    assert_eq!(err.code, "InvalidParameterValue", "{err}");
    let err = run(sim.create_vpc_endpoint(&with(Some(IpAddressType::Ipv4), None, &["subnet-a2"], "t6")))
        .unwrap_err();
    assert_eq!(err.code, "InvalidParameterValue", "{err}");
    let v6 = run(sim.create_vpc_endpoint(&with(Some(IpAddressType::Ipv6), None, &["subnet-a2"], "t7")))
        .unwrap()
        .value;
    assert_eq!(
        v6.dns_options
            .as_ref()
            .and_then(|d| d.dns_record_ip_type.as_deref()),
        Some("ipv6")
    );
    let enis = enis_of(&sim, &v6);
    assert_eq!(enis[0].private_ip_address, None, "{enis:?}");
    assert!(enis[0].private_ip_addresses.is_empty(), "{enis:?}");
    assert!(
        enis[0].ipv6_addresses[0]
            .ipv6_address
            .starts_with("2600:1f14:0:3:"),
        "{enis:?}"
    );
}

/// `DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint` as EC2 documents it: only with private
/// DNS on, only with a gateway endpoint of the service in the VPC; private DNS is not turned off
/// while it is on, unless the same request turns both off; describes report it.
#[test]
fn private_dns_for_inbound_endpoints_only_needs_private_dns_and_a_gateway_endpoint() {
    let inbound = |id: &str, dns: Option<bool>, on: bool| ModifyVpcEndpoint {
        vpc_endpoint_id: id.into(),
        private_dns_enabled: dns,
        private_dns_only_for_inbound_resolver_endpoint: Some(on),
        ..Default::default()
    };
    let reported = |sim: &SimEc2, id: &str| {
        describe_one(sim, id)
            .unwrap()
            .dns_options
            .and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint)
    };

    // No gateway endpoint of the service in the VPC: refused.
    let sim = instant_sim();
    let id = run(sim.create_vpc_endpoint(&create_logs("t1")))
        .unwrap()
        .value
        .vpc_endpoint_id;
    let err = run(sim.modify_vpc_endpoint(&inbound(&id, Some(true), true))).unwrap_err();
    assert_eq!(err.code, "InvalidParameterValue", "{err}");
    assert!(err.message.contains("gateway endpoint"), "{err}");
    assert!(
        !describe_one(&sim, &id).unwrap().private_dns_enabled,
        "nothing changed"
    );

    let mut world = snapshot();
    world.vpc_endpoints.push(VpcEndpoint {
        vpc_endpoint_id: "vpce-gw".into(),
        vpc_endpoint_type: Some("Gateway".into()),
        vpc_id: "vpc-1".into(),
        service_name: LOGS.into(),
        state: Some("available".into()),
        ..Default::default()
    });
    let sim = SimEc2::with_config(
        &world,
        SimClock::new(),
        SimConfig::default().instant().without_throttling(),
    );
    let id = run(sim.create_vpc_endpoint(&create_logs("t1")))
        .unwrap()
        .value
        .vpc_endpoint_id;
    // Private DNS off: refused.
    let err = run(sim.modify_vpc_endpoint(&inbound(&id, None, true))).unwrap_err();
    assert_eq!(err.code, "InvalidParameterCombination", "{err}");
    // With the request that turns private DNS on: taken, reported.
    run(sim.modify_vpc_endpoint(&inbound(&id, Some(true), true))).unwrap();
    assert_eq!(reported(&sim, &id), Some(true));
    assert!(describe_one(&sim, &id).unwrap().private_dns_enabled);
    // Private DNS off alone: refused while the option is on; both off in one request: taken.
    let off = ModifyVpcEndpoint {
        private_dns_enabled: Some(false),
        ..enable_private_dns(&id)
    };
    let err = run(sim.modify_vpc_endpoint(&off)).unwrap_err();
    assert_eq!(err.code, "InvalidParameterCombination", "{err}");
    run(sim.modify_vpc_endpoint(&inbound(&id, Some(false), false))).unwrap();
    let after = describe_one(&sim, &id).unwrap();
    assert!(!after.private_dns_enabled);
    assert_eq!(reported(&sim, &id), Some(false));
}

fn fixed(subnet: &str, ipv4: Option<&str>, ipv6: Option<&str>) -> crate::api::SubnetConfiguration {
    crate::api::SubnetConfiguration {
        subnet_id: subnet.into(),
        ipv4: ipv4.map(Into::into),
        ipv6: ipv6.map(Into::into),
    }
}

/// `SubnetConfigurations` at creation: the interface gets the address named; an address in use,
/// outside the subnet, reserved by AWS, or for a subnet the endpoint is not in is refused with
/// EC2's codes, and nothing is created.
#[test]
fn fixed_addresses_are_given_to_the_new_interfaces_or_refused_as_ec2_does() {
    let sim = instant_sim();
    let with = |configs: Vec<crate::api::SubnetConfiguration>, token: &str| CreateVpcEndpoint {
        subnet_configurations: configs,
        ..create_logs(token)
    };
    let refused = [
        (
            fixed("subnet-a", Some("10.0.1.4"), None),
            "InvalidIPAddress.InUse",
        ), // eni-zabbix's
        (
            fixed("subnet-a", Some("10.0.2.20"), None),
            "InvalidParameterValue",
        ), // subnet-c's block
        (fixed("subnet-a", Some("10.0.1.3"), None), "InvalidParameterValue"), // reserved
        (
            fixed("subnet-a", Some("10.0.1.255"), None),
            "InvalidParameterValue",
        ), // broadcast
        (
            fixed("subnet-d", Some("10.0.4.20"), None),
            "InvalidParameterValue",
        ), // not requested
    ];
    for (i, (config, expected)) in refused.into_iter().enumerate() {
        let err = run(sim.create_vpc_endpoint(&with(vec![config.clone()], &format!("r{i}")))).unwrap_err();
        assert_eq!(err.code, expected, "{config:?}: {err}");
        assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
    }
    assert_eq!(endpoint_count(&sim), 0);

    let made = run(sim.create_vpc_endpoint(&with(vec![fixed("subnet-c", Some("10.0.2.200"), None)], "t1")))
        .unwrap()
        .value;
    let mut addresses: Vec<(String, String)> = enis_of(&sim, &made)
        .into_iter()
        .map(|n| (n.subnet_id, n.private_ip_address.unwrap()))
        .collect();
    addresses.sort();
    assert_eq!(
        addresses,
        [
            ("subnet-a".to_string(), "10.0.1.5".to_string()), // EC2's pick: the lowest free one
            ("subnet-c".to_string(), "10.0.2.200".to_string()),
        ]
    );
    // The same token with other addresses is another request.
    let err = run(sim.create_vpc_endpoint(&with(vec![fixed("subnet-c", Some("10.0.2.201"), None)], "t1")))
        .unwrap_err();
    assert_eq!(err.code, "IdempotentParameterMismatch");
    // Now the address is the endpoint's: another endpoint cannot have it.
    let err = run(sim.create_vpc_endpoint(&with(vec![fixed("subnet-c", Some("10.0.2.200"), None)], "t2")))
        .unwrap_err();
    assert_eq!(err.code, "InvalidIPAddress.InUse");
}

/// A SubnetConfiguration in a modify: an added subnet's interface gets its address; a kept
/// subnet's interface is replaced by one with the new address (another interface id), as EC2
/// documents; IPv6 addresses of a dual-stack endpoint likewise.
#[test]
fn a_modify_with_fixed_addresses_replaces_the_kept_subnet_s_interface_and_addresses_added_ones() {
    let mut world = snapshot();
    for (subnet, block) in [
        ("subnet-a", "2600:1f14:0:1::/64"),
        ("subnet-c", "2600:1f14:0:2::/64"),
    ] {
        for s in world.subnets.iter_mut().filter(|s| s.subnet_id == subnet) {
            s.ipv6_cidr_block_association_set = vec![crate::model::Ipv6CidrBlockAssociation {
                ipv6_cidr_block: block.into(),
                ..Default::default()
            }];
        }
    }
    let sim = SimEc2::with_config(
        &world,
        SimClock::new(),
        SimConfig::default().instant().without_throttling(),
    );
    let made = run(sim.create_vpc_endpoint(&CreateVpcEndpoint {
        subnet_ids: vec!["subnet-a".into()],
        ip_address_type: Some(crate::api::IpAddressType::Dualstack),
        subnet_configurations: vec![fixed("subnet-a", Some("10.0.1.10"), Some("2600:1f14:0:1::10"))],
        ..create_logs("t1")
    }))
    .unwrap()
    .value;
    let before = enis_of(&sim, &made);
    assert_eq!(before[0].private_ip_address.as_deref(), Some("10.0.1.10"));
    assert_eq!(before[0].ipv6_addresses[0].ipv6_address, "2600:1f14:0:1::10");

    run(sim.modify_vpc_endpoint(&ModifyVpcEndpoint {
        vpc_endpoint_id: made.vpc_endpoint_id.clone(),
        add_subnet_ids: vec!["subnet-c".into()],
        subnet_configurations: vec![
            fixed("subnet-a", Some("10.0.1.11"), Some("2600:1f14:0:1::11")),
            fixed("subnet-c", Some("10.0.2.11"), Some("2600:1f14:0:2::11")),
        ],
        ..Default::default()
    }))
    .unwrap();
    let after = describe_one(&sim, &made.vpc_endpoint_id).unwrap();
    let mut enis: Vec<(String, String, String)> = enis_of(&sim, &after)
        .into_iter()
        .map(|n| {
            (
                n.subnet_id,
                n.private_ip_address.unwrap(),
                n.ipv6_addresses[0].ipv6_address.clone(),
            )
        })
        .collect();
    enis.sort();
    assert_eq!(
        enis,
        [
            ("subnet-a".into(), "10.0.1.11".into(), "2600:1f14:0:1::11".into()),
            ("subnet-c".into(), "10.0.2.11".into(), "2600:1f14:0:2::11".into()),
        ]
    );
    assert_eq!(after.network_interface_ids.len(), 2);
    assert!(
        !after
            .network_interface_ids
            .contains(&before[0].network_interface_id),
        "the interface is replaced, not readdressed"
    );
    assert!(
        run(sim.describe_network_interfaces("vpc-1"))
            .unwrap()
            .iter()
            .all(|n| n.network_interface_id != before[0].network_interface_id),
        "the old interface is gone"
    );
    // An IPv6 address outside the subnet's block is refused; nothing changes.
    let err = run(sim.modify_vpc_endpoint(&ModifyVpcEndpoint {
        vpc_endpoint_id: made.vpc_endpoint_id.clone(),
        subnet_configurations: vec![fixed("subnet-a", Some("10.0.1.12"), Some("2600:1f14:0:9::12"))],
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(err.code, "InvalidParameterValue", "{err}");
    assert_eq!(describe_one(&sim, &made.vpc_endpoint_id).unwrap(), after);
}
