//! Port methods on the wire beyond the contract: paging, prefix lists, NACLs, endpoint
//! services, the endpoint `State` trap, and the adapter's refusal to revoke foreign rules.

use aws_sdk_ec2::types::{AddPrefixListEntry, Filter, State};
use vpce_rollout::api::{HANDED_OVER_FROM_TAG, OWNER_TAG, Owner, UID_TAG};
use vpce_rollout::aws::observe::{ObserveScope, observe_vpc};
use vpce_rollout::aws::sdk::SdkOptions;
use vpce_rollout::aws::sdk::ec2::RULE_NOT_OWNED;
use vpce_rollout::aws::{
    AuthorizeRules, Ec2, ErrorKind, NewRule, RetagOwnedRules, RevokeOwnedRules, RuleFilter, RulePeer,
};
use vpce_rollout::model::{Protocol, Tag};

use crate::bench::{Bench, MotoBench, logs_service, service_without_private_dns};
use crate::contract::{create_available, create_request, owner, owner_tags, revoke};
use crate::moto::{last_served, test_options};

#[tokio::test]
async fn network_interfaces_are_read_page_by_page() {
    let mut b = MotoBench::incident_with(SdkOptions {
        page_size: 5,
        ..test_options()
    })
    .await;
    for i in 0..7 {
        b.eni(&format!("worker-{i}"), "main-b", &["lambda-sg"]).await;
    }

    // EC2 honours MaxResults (the launcher makes moto do so too) ...
    let first = b
        .client()
        .describe_network_interfaces()
        .filters(Filter::builder().name("vpc-id").values(b.id("main")).build())
        .max_results(5)
        .send()
        .await
        .unwrap();
    assert_eq!(first.network_interfaces().len(), 5);
    let token = first.next_token().expect("a second page").to_string();
    let second = b
        .client()
        .describe_network_interfaces()
        .filters(Filter::builder().name("vpc-id").values(b.id("main")).build())
        .max_results(5)
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.network_interfaces().len(), 4);
    assert!(second.next_token().is_none());

    // ... and the adapter reads every page.
    let enis = b.port().describe_network_interfaces(&b.id("main")).await.unwrap();
    let mut ids: Vec<&str> = enis.iter().map(|e| e.network_interface_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 9, "{ids:?}");
}

#[tokio::test]
async fn the_sdk_reads_a_wire_available_state_as_unknown_and_the_adapter_still_sees_it_available() {
    let b = MotoBench::incident().await;
    let ready = create_available(
        &b,
        &create_request(&b, &owner("state"), "main", &["main-a"], &["endpoint-sg"]),
    )
    .await;
    assert_eq!(ready.state.as_deref(), Some("available"));

    let raw = b
        .client()
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(&ready.vpc_endpoint_id)
        .send()
        .await
        .unwrap();
    let state = raw.vpc_endpoints()[0].state().expect("a state");
    assert_ne!(
        state,
        &State::Available,
        "the SDK variant does not match the wire value"
    );
    assert!(state.as_str().eq_ignore_ascii_case("available"));
}

#[tokio::test]
async fn prefix_lists_referenced_by_security_groups_are_observed_with_their_entries() {
    let b = MotoBench::incident().await;
    let created = b
        .client()
        .create_managed_prefix_list()
        .prefix_list_name("monitoring")
        .address_family("IPv4")
        .max_entries(5)
        .entries(
            AddPrefixListEntry::builder()
                .cidr("10.99.0.0/16")
                .description("monitoring")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let list_id = created
        .prefix_list()
        .and_then(|p| p.prefix_list_id())
        .unwrap()
        .to_string();
    let owner = owner("prefix");
    b.port()
        .authorize_security_group_rules(&AuthorizeRules {
            group_id: b.id("endpoint-sg"),
            egress: false,
            rules: vec![NewRule {
                protocol: Protocol::Tcp,
                from_port: 443,
                to_port: 443,
                peer: RulePeer::PrefixList(list_id.clone()),
                description: "vpce-rollout: monitoring".into(),
            }],
            tags: owner_tags(&owner),
        })
        .await
        .unwrap();

    let world = observe_vpc(b.port(), &b.id("main"), ObserveScope::default())
        .await
        .unwrap();
    assert!(
        world.prefix_lists.iter().any(|p| p.prefix_list_id == list_id),
        "{:?}",
        world.prefix_lists
    );
    let entries = &world.prefix_list_entries[&list_id];
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].cidr, "10.99.0.0/16");

    let rules = b
        .port()
        .describe_security_group_rules(&RuleFilter {
            group_ids: vec![b.id("endpoint-sg")],
            tag: None,
            tag_any_of: None,
        })
        .await
        .unwrap();
    let rule = rules
        .iter()
        .find(|r| r.prefix_list_id.as_deref() == Some(&list_id))
        .unwrap();
    assert_eq!(rule.description.as_deref(), Some("vpce-rollout: monitoring"));
}

#[tokio::test]
async fn network_acls_are_observed_with_their_ordered_entries() {
    let b = MotoBench::incident().await;
    let acls = b.port().describe_network_acls(&b.id("main")).await.unwrap();
    let default = acls.iter().find(|a| a.is_default).expect("the VPC's default ACL");
    let inbound: Vec<(i32, Protocol, &str)> = default
        .entries
        .iter()
        .filter(|e| !e.egress)
        .map(|e| (e.rule_number, e.protocol, e.rule_action.as_str()))
        .collect();
    assert!(inbound.contains(&(100, Protocol::All, "allow")), "{inbound:?}");
}

#[tokio::test]
async fn endpoint_services_are_described_with_their_private_dns_names() {
    let b = MotoBench::incident().await;
    let services = b
        .port()
        .describe_vpc_endpoint_services(&[logs_service(), service_without_private_dns()], &[])
        .await
        .unwrap();
    let dns = |name: String| {
        services
            .iter()
            .find(|s| s.service_name == name)
            .map(|s| s.private_dns_name().map(str::to_string))
    };
    assert_eq!(
        dns(logs_service()),
        Some(Some("logs.us-east-1.amazonaws.com".into()))
    );
    assert_eq!(dns(service_without_private_dns()), Some(None));

    let err = b
        .port()
        .describe_vpc_endpoint_services(&["com.amazonaws.us-east-1.nonexistent".into()], &[])
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
}

/// Cross-region PrivateLink on the wire: the service is asked for as offered from its region
/// (`ServiceRegion.N`) and the endpoint is created with `ServiceRegion`. moto ignores both (it
/// has no other regions' services), so what is checked is what the adapter sent, as the
/// launcher received it; the simulated world models EC2's answers (tests in src/aws/sim).
#[tokio::test]
async fn a_service_of_another_region_is_described_and_created_naming_that_region() {
    let b = MotoBench::incident().await;
    b.port()
        .describe_vpc_endpoint_services(&[logs_service()], &["eu-west-1".to_string()])
        .await
        .unwrap();
    let request = vpce_rollout::aws::CreateVpcEndpoint {
        service_region: Some("eu-west-1".into()),
        ..create_request(&b, &owner("cross-region"), "main", &["main-a"], &["endpoint-sg"])
    };
    b.port().create_vpc_endpoint(&request).await.unwrap();
    let served = b.account.served_requests();
    let describe = last_served(&served, "DescribeVpcEndpointServices");
    let regions: Vec<(&String, &String)> = describe
        .params
        .iter()
        .filter(|(k, _)| k.starts_with("ServiceRegion"))
        .collect();
    assert_eq!(regions.len(), 1, "{:?}", describe.params);
    assert_eq!(regions[0].1, "eu-west-1");
    let create = last_served(&served, "CreateVpcEndpoint");
    assert_eq!(
        create.param("ServiceRegion"),
        Some("eu-west-1"),
        "{:?}",
        create.params
    );

    // A service of the endpoint's own region names none.
    b.port()
        .describe_vpc_endpoint_services(&[logs_service()], &[])
        .await
        .unwrap();
    let served = b.account.served_requests();
    let plain = last_served(&served, "DescribeVpcEndpointServices");
    assert!(
        !plain.params.keys().any(|k| k.starts_with("ServiceRegion")),
        "{:?}",
        plain.params
    );
}

/// `spec.ipAddressType` and `spec.dnsOptions.dnsRecordIpType` on the wire: CreateVpcEndpoint
/// and ModifyVpcEndpoint carry `IpAddressType` and `DnsOptions.DnsRecordIpType` when the spec
/// names them, and neither when it does not (EC2's defaults stand). moto ignores both (its
/// endpoints have neither), so what is checked is what the adapter sent, as the launcher
/// received it; the simulated world models EC2's answers (tests in src/aws/sim).
#[tokio::test]
async fn address_type_and_dns_records_are_sent_at_creation_and_in_a_modify_only_when_named() {
    use vpce_rollout::api::{DnsRecordIpType, IpAddressType};
    let b = MotoBench::incident().await;
    let request = vpce_rollout::aws::CreateVpcEndpoint {
        ip_address_type: Some(IpAddressType::Dualstack),
        dns_record_ip_type: Some(DnsRecordIpType::ServiceDefined),
        ..create_request(&b, &owner("dual-stack"), "main", &["main-a"], &["endpoint-sg"])
    };
    let made = b.port().create_vpc_endpoint(&request).await.unwrap().value;
    let served = b.account.served_requests();
    let create = last_served(&served, "CreateVpcEndpoint");
    assert_eq!(
        create.param("IpAddressType"),
        Some("dualstack"),
        "{:?}",
        create.params
    );
    assert_eq!(
        create.param("DnsOptions.DnsRecordIpType"),
        Some("service-defined"),
        "{:?}",
        create.params
    );
    assert!(
        !create
            .params
            .keys()
            .any(|k| k.starts_with("DnsOptions.") && k != "DnsOptions.DnsRecordIpType"),
        "the other DNS options are left to EC2: {:?}",
        create.params
    );

    b.port()
        .modify_vpc_endpoint(&vpce_rollout::aws::ModifyVpcEndpoint {
            vpc_endpoint_id: made.vpc_endpoint_id.clone(),
            ip_address_type: Some(IpAddressType::Ipv4),
            dns_record_ip_type: Some(DnsRecordIpType::Ipv4),
            ..Default::default()
        })
        .await
        .unwrap();
    let served = b.account.served_requests();
    let modify = last_served(&served, "ModifyVpcEndpoint");
    assert_eq!(modify.param("IpAddressType"), Some("ipv4"), "{:?}", modify.params);
    assert_eq!(
        modify.param("DnsOptions.DnsRecordIpType"),
        Some("ipv4"),
        "{:?}",
        modify.params
    );

    // Not named: not sent.
    let plain = create_request(&b, &owner("plain"), "main", &["main-b"], &["endpoint-sg"]);
    b.port().create_vpc_endpoint(&plain).await.unwrap();
    b.port()
        .modify_vpc_endpoint(&vpce_rollout::aws::ModifyVpcEndpoint {
            vpc_endpoint_id: made.vpc_endpoint_id.clone(),
            policy_document: Some(r#"{"Statement":[]}"#.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let served = b.account.served_requests();
    for action in ["CreateVpcEndpoint", "ModifyVpcEndpoint"] {
        let last = last_served(&served, action);
        assert!(
            !last
                .params
                .keys()
                .any(|k| k == "IpAddressType" || k.starts_with("DnsOptions")),
            "{action}: {:?}",
            last.params
        );
    }
}

/// `spec.dnsOptions.privateDnsOnlyForInboundResolverEndpoint` on the wire: the precondition's
/// fact, a gateway endpoint of the service, is in the VPC's DescribeVpcEndpoints (filtered by
/// vpc-id only) with its type; the option goes out as `DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint`
/// in the ModifyVpcEndpoint that turns private DNS on, and back off with it. moto ignores the
/// option (moto 5.2.5 has no DnsOptions), so what is checked is what the adapter sent; the
/// simulated world models EC2's rules (tests in src/aws/sim).
#[tokio::test]
async fn the_gateway_endpoint_is_observed_and_inbound_only_goes_out_with_private_dns() {
    let b = MotoBench::incident().await;
    let gateway = b
        .client()
        .create_vpc_endpoint()
        .vpc_id(b.id("main"))
        .service_name(logs_service())
        .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Gateway)
        // moto would otherwise count it as serving the service's private name in the VPC.
        .private_dns_enabled(false)
        .send()
        .await
        .expect("CreateVpcEndpoint (Gateway)")
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .expect("an id")
        .to_string();
    let world = observe_vpc(b.port(), &b.id("main"), ObserveScope::default())
        .await
        .unwrap();
    let seen = world
        .vpc_endpoints
        .iter()
        .find(|e| e.vpc_endpoint_id == gateway)
        .expect("the VPC's describe lists the gateway endpoint");
    assert_eq!(seen.vpc_endpoint_type.as_deref(), Some("Gateway"));
    let spec = vpce_rollout::api::InterfaceEndpointSpec {
        vpc_id: b.id("main"),
        service_name: logs_service(),
        ..serde_json::from_value(serde_json::json!({
            "vpcId": "vpc-x", "serviceName": "x", "subnetIds": ["subnet-x"], "securityGroupIds": ["sg-x"],
            "dnsOptions": {"privateDnsOnlyForInboundResolverEndpoint": true}
        }))
        .unwrap()
    };
    assert_eq!(
        vpce_rollout::analysis::gateway_endpoint(&spec, &world).map(|g| g.vpc_endpoint_id.as_str()),
        Some(gateway.as_str())
    );

    let made = create_available(
        &b,
        &create_request(&b, &owner("inbound-only"), "main", &["main-a"], &["endpoint-sg"]),
    )
    .await;
    for on in [true, false] {
        b.port()
            .modify_vpc_endpoint(&vpce_rollout::aws::ModifyVpcEndpoint {
                vpc_endpoint_id: made.vpc_endpoint_id.clone(),
                private_dns_enabled: Some(on),
                private_dns_only_for_inbound_resolver_endpoint: Some(on),
                ..Default::default()
            })
            .await
            .unwrap();
        let served = b.account.served_requests();
        let modify = last_served(&served, "ModifyVpcEndpoint");
        assert_eq!(
            modify.param("PrivateDnsEnabled"),
            Some(if on { "true" } else { "false" })
        );
        assert_eq!(
            modify.param("DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint"),
            Some(if on { "true" } else { "false" }),
            "{:?}",
            modify.params
        );
        assert_eq!(
            modify.param("DnsOptions.DnsRecordIpType"),
            None,
            "not named, not sent"
        );
    }
}

#[tokio::test]
async fn revoking_a_rule_without_the_owner_tags_is_refused_and_the_rule_stays() {
    let b = MotoBench::incident().await;
    let id = b
        .foreign_https_ingress("endpoint-sg", RulePeer::CidrIpv4("10.0.0.0/8".into()))
        .await;
    let err = b
        .port()
        .revoke_security_group_rules(&revoke(
            &owner("mine"),
            &b.id("endpoint-sg"),
            false,
            std::slice::from_ref(&id),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.code.as_str()),
        (ErrorKind::Invalid, RULE_NOT_OWNED),
        "{err}"
    );
    assert!(rule_ids(&b, "endpoint-sg").await.contains(&id));
}

#[tokio::test]
async fn only_rules_whose_owner_and_uid_tag_values_are_this_objects_are_revoked() {
    let b = MotoBench::incident().await;
    let mine = owner("mine");
    // Another object's rule carries the same tag keys with its own values; a rule of an
    // earlier object of the same name carries this one's owner tag with another UID.
    let other = owner("other");
    let earlier = Owner {
        uid: "0c6f3b1e-5d2a-4c55-9e0b-000000000001".into(),
        ..mine.clone()
    };
    let mut ids = Vec::new();
    for (who, cidr) in [
        (&other, "10.1.0.0/16"),
        (&earlier, "10.2.0.0/16"),
        (&mine, "10.3.0.0/16"),
    ] {
        let created = b
            .port()
            .authorize_security_group_rules(&AuthorizeRules {
                group_id: b.id("endpoint-sg"),
                egress: false,
                rules: vec![NewRule {
                    protocol: Protocol::Tcp,
                    from_port: 443,
                    to_port: 443,
                    peer: RulePeer::CidrIpv4(cidr.into()),
                    description: String::new(),
                }],
                tags: owner_tags(who),
            })
            .await
            .unwrap()
            .value;
        ids.push(created[0].security_group_rule_id.clone());
    }
    let [others, earliers, mine_id] = ids.as_slice() else {
        unreachable!()
    };

    for (theirs, tag) in [(others, OWNER_TAG), (earliers, UID_TAG)] {
        // Alone, and in a batch with this object's own rule: the whole call is refused.
        for batch in [vec![theirs.clone()], vec![mine_id.clone(), theirs.clone()]] {
            let err = b
                .port()
                .revoke_security_group_rules(&revoke(&mine, &b.id("endpoint-sg"), false, &batch))
                .await
                .unwrap_err();
            assert_eq!(err.code, RULE_NOT_OWNED, "{err}");
            assert!(err.message.contains(theirs.as_str()), "{err}");
            assert!(err.message.contains(tag), "names the tag that differs: {err}");
        }
    }
    let left = rule_ids(&b, "endpoint-sg").await;
    assert!(
        ids.iter().all(|id| left.contains(id)),
        "nothing was revoked: {left:?}"
    );

    b.port()
        .revoke_security_group_rules(&revoke(
            &mine,
            &b.id("endpoint-sg"),
            false,
            std::slice::from_ref(mine_id),
        ))
        .await
        .expect("this object's own rule");
    let left = rule_ids(&b, "endpoint-sg").await;
    assert!(!left.contains(mine_id));
    assert!(left.contains(others) && left.contains(earliers), "{left:?}");

    // A request that does not say whose rules they must be is refused before any call.
    let anonymous = RevokeOwnedRules {
        owner_tags: vec![],
        ..revoke(&mine, &b.id("endpoint-sg"), false, std::slice::from_ref(others))
    };
    let err = b
        .port()
        .revoke_security_group_rules(&anonymous)
        .await
        .unwrap_err();
    assert_eq!(err.code, RULE_NOT_OWNED, "{err}");
}

/// Issue 8, holes 6 and 7: the IAM policy lets CreateTags retag any rule carrying both
/// ownership keys, whoever's; the adapter hands a rule over only when both values are the
/// handing object's, and a request that does not say whose they must be is refused.
#[tokio::test]
async fn only_rules_whose_owner_and_uid_tag_values_are_this_objects_are_handed_over() {
    let b = MotoBench::incident().await;
    let (mine, other, heir) = (owner("mine"), owner("other"), owner("heir"));
    let earlier = Owner {
        uid: "0c6f3b1e-5d2a-4c55-9e0b-000000000001".into(),
        ..mine.clone()
    };
    let mut ids = Vec::new();
    for (who, cidr) in [
        (&other, "10.1.0.0/16"),
        (&earlier, "10.2.0.0/16"),
        (&mine, "10.3.0.0/16"),
    ] {
        let created = b
            .port()
            .authorize_security_group_rules(&AuthorizeRules {
                group_id: b.id("endpoint-sg"),
                egress: false,
                rules: vec![NewRule {
                    protocol: Protocol::Tcp,
                    from_port: 443,
                    to_port: 443,
                    peer: RulePeer::CidrIpv4(cidr.into()),
                    description: String::new(),
                }],
                tags: owner_tags(who),
            })
            .await
            .unwrap()
            .value;
        ids.push(created[0].security_group_rule_id.clone());
    }
    let [others, earliers, mine_id] = ids.as_slice() else {
        unreachable!()
    };
    let mut tags = owner_tags(&heir);
    tags.push(Tag {
        key: HANDED_OVER_FROM_TAG.into(),
        value: mine.owner_tag(),
    });
    let hand_over = |rule_ids: Vec<String>| RetagOwnedRules {
        rule_ids,
        owner_tags: owner_tags(&mine),
        tags: tags.clone(),
    };
    let owned_by = async |who: &Owner| {
        let filter = RuleFilter {
            group_ids: vec![],
            tag: Some((UID_TAG.into(), who.uid.clone())),
            tag_any_of: None,
        };
        let found = b.port().describe_security_group_rules(&filter).await.unwrap();
        found
            .into_iter()
            .map(|r| r.security_group_rule_id)
            .collect::<Vec<_>>()
    };

    for (theirs, tag) in [(others, OWNER_TAG), (earliers, UID_TAG)] {
        for batch in [vec![theirs.clone()], vec![mine_id.clone(), theirs.clone()]] {
            let err = b
                .port()
                .tag_security_group_rules(&hand_over(batch))
                .await
                .unwrap_err();
            assert_eq!(err.code, RULE_NOT_OWNED, "{err}");
            assert!(err.message.contains(theirs.as_str()), "{err}");
            assert!(err.message.contains(tag), "names the tag that differs: {err}");
        }
    }
    assert!(owned_by(&heir).await.is_empty(), "nothing was handed over");
    let anonymous = RetagOwnedRules {
        owner_tags: vec![],
        ..hand_over(vec![mine_id.clone()])
    };
    let err = b.port().tag_security_group_rules(&anonymous).await.unwrap_err();
    assert_eq!(err.code, RULE_NOT_OWNED, "{err}");

    b.port()
        .tag_security_group_rules(&hand_over(vec![mine_id.clone()]))
        .await
        .expect("this object's own rule");
    assert_eq!(owned_by(&heir).await, [mine_id.as_str()]);
    assert_eq!(owned_by(&other).await, [others.as_str()]);
    assert_eq!(owned_by(&earlier).await, [earliers.as_str()]);
}

async fn rule_ids(b: &MotoBench, group: &str) -> Vec<String> {
    b.port()
        .describe_security_group_rules(&RuleFilter {
            group_ids: vec![b.id(group)],
            tag: None,
            tag_any_of: None,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.security_group_rule_id)
        .collect()
}

/// A canary rollback asks which subnets reach the internet: DescribeRouteTables filtered on the
/// VPC, read with the explicit associations, the main table and NAT / internet gateway routes.
#[tokio::test]
async fn route_tables_are_observed_with_their_associations_and_default_routes() {
    use vpce_rollout::analysis::internet::{InternetPath, path_of};
    let b = MotoBench::incident().await;
    let vpc = b.id("main");
    let igw = b
        .client()
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway
        .and_then(|g| g.internet_gateway_id)
        .unwrap();
    b.client()
        .attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let allocation = b
        .client()
        .allocate_address()
        .send()
        .await
        .unwrap()
        .allocation_id
        .unwrap();
    let nat = b
        .client()
        .create_nat_gateway()
        .subnet_id(b.id("main-a2"))
        .allocation_id(allocation)
        .send()
        .await
        .unwrap()
        .nat_gateway
        .and_then(|n| n.nat_gateway_id)
        .unwrap();
    let table = |subnet: String, route: (&'static str, String)| {
        let client = b.client().clone();
        let vpc = vpc.clone();
        async move {
            let id = client
                .create_route_table()
                .vpc_id(vpc)
                .send()
                .await
                .unwrap()
                .route_table
                .and_then(|t| t.route_table_id)
                .unwrap();
            let create = client
                .create_route()
                .route_table_id(&id)
                .destination_cidr_block("0.0.0.0/0");
            let create = match route {
                ("nat", target) => create.nat_gateway_id(target),
                (_, target) => create.gateway_id(target),
            };
            create.send().await.unwrap();
            client
                .associate_route_table()
                .route_table_id(&id)
                .subnet_id(subnet)
                .send()
                .await
                .unwrap();
            id
        }
    };
    let private = table(b.id("main-a"), ("nat", nat.clone())).await;
    let public = table(b.id("main-a2"), ("igw", igw.clone())).await;

    let tables = b.port().describe_route_tables(&vpc).await.unwrap();
    assert!(
        tables.iter().all(|t| t.vpc_id == vpc),
        "filtered on the VPC: {tables:?}"
    );
    assert!(
        tables.iter().any(|t| t.is_main()),
        "the VPC's main table: {tables:?}"
    );
    assert_eq!(
        path_of(&b.id("main-a"), &tables),
        InternetPath::Via {
            route_table_id: private,
            target: nat
        }
    );
    assert_eq!(
        path_of(&b.id("main-a2"), &tables),
        InternetPath::Via {
            route_table_id: public,
            target: igw
        }
    );
    let main_only = path_of(&b.id("main-b"), &tables);
    assert!(
        !main_only.exists(),
        "the main table holds only the local route: {main_only:?}"
    );
}

/// `spec.subnetConfigurations` on the wire: CreateVpcEndpoint carries `SubnetConfiguration.N`
/// with the subnet and its address, ModifyVpcEndpoint too (an added subnet's address, or a new
/// one replacing a kept subnet's interface), and neither sends any when the spec fixes none.
/// moto 5.2.5 ignores them (it picks the addresses itself), so what is checked is what the
/// adapter sent, as the launcher received it; the simulated world models EC2's answers (tests
/// in src/aws/sim).
#[tokio::test]
async fn fixed_addresses_are_sent_at_creation_and_in_a_modify_only_when_named() {
    use vpce_rollout::api::SubnetConfiguration;
    let b = MotoBench::incident().await;
    let subnet = b.id("main-a");
    let request = vpce_rollout::aws::CreateVpcEndpoint {
        subnet_configurations: vec![SubnetConfiguration {
            subnet_id: subnet.clone(),
            ipv4: Some("10.20.1.200".into()),
            ipv6: None,
        }],
        ..create_request(&b, &owner("fixed"), "main", &["main-a"], &["endpoint-sg"])
    };
    let made = b.port().create_vpc_endpoint(&request).await.unwrap().value;
    let served = b.account.served_requests();
    let create = last_served(&served, "CreateVpcEndpoint");
    assert_eq!(
        create.param("SubnetConfiguration.1.SubnetId"),
        Some(subnet.as_str()),
        "{:?}",
        create.params
    );
    assert_eq!(create.param("SubnetConfiguration.1.Ipv4"), Some("10.20.1.200"));
    assert_eq!(create.param("SubnetConfiguration.1.Ipv6"), None);
    assert!(
        create.param("SubnetConfiguration.2.SubnetId").is_none(),
        "{:?}",
        create.params
    );

    b.port()
        .modify_vpc_endpoint(&vpce_rollout::aws::ModifyVpcEndpoint {
            vpc_endpoint_id: made.vpc_endpoint_id.clone(),
            subnet_configurations: vec![SubnetConfiguration {
                subnet_id: subnet.clone(),
                ipv4: Some("10.20.1.201".into()),
                ipv6: None,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let served = b.account.served_requests();
    let modify = last_served(&served, "ModifyVpcEndpoint");
    assert_eq!(
        modify.param("SubnetConfiguration.1.SubnetId"),
        Some(subnet.as_str()),
        "{:?}",
        modify.params
    );
    assert_eq!(modify.param("SubnetConfiguration.1.Ipv4"), Some("10.20.1.201"));

    // Without fixed addresses, none is sent.
    let plain = create_request(&b, &owner("picked"), "main", &["main-b"], &["endpoint-sg"]);
    b.port().create_vpc_endpoint(&plain).await.unwrap();
    let served = b.account.served_requests();
    let create = last_served(&served, "CreateVpcEndpoint");
    assert!(
        !create.params.keys().any(|k| k.starts_with("SubnetConfiguration")),
        "{:?}",
        create.params
    );
}
