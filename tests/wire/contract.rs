//! The contract: one scenario suite, written once over any [`Bench`], run against moto (through
//! the launcher) and against the simulated world, with the same expectations. When the sim
//! and the wire disagree, one of these fails, so the sim cannot drift from EC2 unnoticed.
//!
//! Scenarios assert what the engine relies on: kinds of errors, states compared ignoring case,
//! tags and descriptions kept, ENIs that look like EC2's, idempotency, atomicity.

use std::net::Ipv4Addr;
use std::time::Duration;

use ipnet::Ipv4Net;
use vpce_rollout::analysis::{Check, analyze};
use vpce_rollout::api::{InterfaceEndpointSpec, OWNER_TAG, Owner, UID_TAG};
use vpce_rollout::aws::observe::{ObserveScope, observe_vpc};
use vpce_rollout::aws::{
    AuthorizeRules, CreateVpcEndpoint, Ec2, EndpointFilter, ErrorKind, ModifyVpcEndpoint, NewRule, Receipt,
    RetagOwnedRules, RevokeOwnedRules, RuleFilter, RulePeer,
};
use vpce_rollout::model::{Protocol, Snapshot, Tag, VpcEndpoint, tags_from};

use crate::bench::{Bench, logs_service, service_without_private_dns};

/// The owner `observability/<name>`, with a UID derived from the name (FNV-1a), so that two
/// owners in one test never share a UID, and with it a ClientToken and an ownership tag.
pub fn owner(name: &str) -> Owner {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    Owner {
        namespace: "observability".into(),
        name: name.into(),
        uid: format!("0c6f3b1e-5d2a-4c55-9e0b-{:012x}", hash & 0xffff_ffff_ffff),
    }
}

pub fn owner_tags(owner: &Owner) -> Vec<Tag> {
    tags_from(owner.tags())
}

/// Revoking `rule_ids` of one group as `owner`.
pub fn revoke(owner: &Owner, group_id: &str, egress: bool, rule_ids: &[String]) -> RevokeOwnedRules {
    RevokeOwnedRules {
        group_id: group_id.to_string(),
        egress,
        rule_ids: rule_ids.to_vec(),
        owner_tags: owner_tags(owner),
    }
}

/// The request id of a mutation's answer, which must have one: the audit trail's key into
/// CloudTrail.
pub fn request_id<T>(receipt: &Receipt<T>) -> String {
    let id = receipt
        .request_id
        .clone()
        .expect("a mutation answered without a request id");
    assert!(!id.trim().is_empty(), "an empty request id");
    id
}

/// CreateVpcEndpoint for `owner` in the named VPC, subnets and groups of the bench.
pub fn create_request<B: Bench>(
    b: &B,
    owner: &Owner,
    vpc: &str,
    subnets: &[&str],
    groups: &[&str],
) -> CreateVpcEndpoint {
    CreateVpcEndpoint {
        vpc_id: b.id(vpc),
        service_name: logs_service(),
        subnet_ids: subnets.iter().map(|s| b.id(s)).collect(),
        security_group_ids: groups.iter().map(|g| b.id(g)).collect(),
        policy_document: None,
        client_token: owner.client_token(),
        service_region: None,
        ip_address_type: None,
        dns_record_ip_type: None,
        subnet_configurations: Vec::new(),
        tags: owner_tags(owner),
    }
}

pub async fn endpoint<B: Bench>(b: &B, id: &str) -> VpcEndpoint {
    let filter = EndpointFilter {
        vpc_endpoint_ids: vec![id.to_string()],
        ..Default::default()
    };
    let mut found = b
        .port()
        .describe_vpc_endpoints(&filter)
        .await
        .expect("DescribeVpcEndpoints");
    assert_eq!(found.len(), 1, "{id}: {found:?}");
    found.remove(0)
}

/// Creates the endpoint of `request` and waits until it is `available`; returns it as described
/// then.
pub async fn create_available<B: Bench>(b: &B, request: &CreateVpcEndpoint) -> VpcEndpoint {
    let created = b
        .port()
        .create_vpc_endpoint(request)
        .await
        .expect("CreateVpcEndpoint")
        .value;
    wait_available(b, &created.vpc_endpoint_id).await
}

/// Polls until the endpoint is `available` (compared ignoring case), within two minutes of
/// bench time. Right after create EC2 may not know the id yet (eventual consistency): that,
/// and an empty answer, mean "not yet".
pub async fn wait_available<B: Bench>(b: &B, id: &str) -> VpcEndpoint {
    let filter = EndpointFilter {
        vpc_endpoint_ids: vec![id.to_string()],
        ..Default::default()
    };
    for _ in 0..240 {
        match b.port().describe_vpc_endpoints(&filter).await {
            Ok(found) if found.len() == 1 && found[0].is_available() => return found[0].clone(),
            Ok(found) if found.len() == 1 => {
                assert_eq!(
                    found[0].state_lower(),
                    "pending",
                    "{id} is neither pending nor available"
                )
            }
            Ok(found) => assert!(found.is_empty(), "{id}: {found:?}"),
            Err(e) => assert_eq!(e.kind, ErrorKind::NotYetVisible, "{e}"),
        }
        b.pass(Duration::from_millis(500)).await;
    }
    panic!("{id} never became available");
}

async fn observe<B: Bench>(b: &B, vpc: &str) -> Snapshot {
    let service = logs_service();
    let scope = ObserveScope {
        service_name: Some(&service),
        service_region: None,
        owner: None,
    };
    observe_vpc(b.port(), &b.id(vpc), scope).await.expect("observe")
}

fn rule(peer: RulePeer, description: &str) -> NewRule {
    NewRule {
        protocol: Protocol::Tcp,
        from_port: 443,
        to_port: 443,
        peer,
        description: description.to_string(),
    }
}

fn uid_filter(owner: &Owner) -> RuleFilter {
    RuleFilter {
        group_ids: Vec::new(),
        tag: Some((UID_TAG.to_string(), owner.uid.clone())),
        tag_any_of: None,
    }
}

pub async fn observing_the_incident_vpc_finds_its_subnets_groups_and_clients<B: Bench>(b: &B) {
    let world = observe(b, "main").await;
    assert_eq!(world.vpcs.len(), 1);
    assert_eq!(world.vpcs[0].vpc_id, b.id("main"));

    let subnets: Vec<&str> = world.subnets.iter().map(|s| s.subnet_id.as_str()).collect();
    for name in ["main-a", "main-b", "main-a2"] {
        assert!(
            subnets.contains(&b.id(name).as_str()),
            "{name} missing: {subnets:?}"
        );
    }
    assert!(
        !subnets.contains(&b.id("other-a").as_str()),
        "a subnet of another VPC"
    );
    for name in ["endpoint-sg", "zabbix-sg", "lambda-sg"] {
        assert!(
            world.security_groups.iter().any(|g| g.group_id == b.id(name)),
            "{name} missing"
        );
    }
    assert!(
        world
            .security_groups
            .iter()
            .all(|g| g.vpc_id.as_deref() == Some(b.id("main").as_str()))
    );

    for (client, subnet, group) in [
        ("zabbix", "main-a", "zabbix-sg"),
        ("lambda", "main-b", "lambda-sg"),
    ] {
        let eni = world
            .network_interfaces
            .iter()
            .find(|n| n.network_interface_id == b.id(client))
            .unwrap_or_else(|| panic!("{client} missing"));
        assert_eq!(eni.subnet_id, b.id(subnet));
        assert_eq!(eni.vpc_id, b.id("main"));
        let groups: Vec<&str> = eni.groups.iter().map(|g| g.group_id.as_str()).collect();
        assert_eq!(groups, [b.id(group).as_str()]);
        let cidr: Ipv4Net = world
            .subnets
            .iter()
            .find(|s| s.subnet_id == eni.subnet_id)
            .and_then(|s| s.cidr_block.as_deref())
            .expect("subnet cidr")
            .parse()
            .unwrap();
        let address: Ipv4Addr = eni
            .private_ip_address
            .as_deref()
            .expect("address")
            .parse()
            .unwrap();
        assert!(cidr.contains(&address), "{client} at {address} outside {cidr}");
    }
    assert!(world.network_acls.iter().all(|a| a.vpc_id == b.id("main")));

    let dns = &world.vpc_attributes[&b.id("main")];
    assert_eq!(dns.enable_dns_support.map(|a| a.0), Some(true));
    assert_eq!(dns.enable_dns_hostnames.map(|a| a.0), Some(true));
    let service = world
        .service_details
        .iter()
        .find(|s| s.service_name == logs_service())
        .expect("logs service detail");
    assert_eq!(service.private_dns_name(), Some("logs.us-east-1.amazonaws.com"));

    let nodns = observe(b, "nodns").await;
    assert_eq!(
        nodns.vpc_attributes[&b.id("nodns")]
            .enable_dns_hostnames
            .map(|a| a.0),
        Some(false)
    );
}

pub async fn an_unknown_vpc_is_not_found_by_id_and_an_empty_observation<B: Bench>(b: &B) {
    let unknown = "vpc-0fedcba9876543210".to_string();
    let err = b
        .port()
        .describe_vpcs(std::slice::from_ref(&unknown))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    let world = observe_vpc(b.port(), &unknown, ObserveScope::default())
        .await
        .unwrap();
    assert!(world.vpcs.is_empty() && world.network_interfaces.is_empty());
}

pub async fn an_endpoint_is_created_with_private_dns_off_tagged_and_becomes_available<B: Bench>(b: &B) {
    let owner = owner("logs");
    let request = create_request(b, &owner, "main", &["main-a", "main-b"], &["endpoint-sg"]);
    let created = b
        .port()
        .create_vpc_endpoint(&request)
        .await
        .expect("create")
        .value;
    assert!(!created.private_dns_enabled);
    // EC2 provisions the ENIs first: a new endpoint is pending.
    assert_eq!(created.state_lower(), "pending", "{:?}", created.state);
    assert!(owner.owns(created.tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))));
    assert_eq!(created.vpc_id, b.id("main"));
    assert_eq!(created.service_name, logs_service());

    let ready = wait_available(b, &created.vpc_endpoint_id).await;
    assert!(!ready.private_dns_enabled);
    let groups: Vec<&str> = ready.groups.iter().map(|g| g.group_id.as_str()).collect();
    assert_eq!(groups, [b.id("endpoint-sg").as_str()]);
    let mut subnets = ready.subnet_ids.clone();
    subnets.sort();
    let mut want = vec![b.id("main-a"), b.id("main-b")];
    want.sort();
    assert_eq!(subnets, want);

    // Its ENIs: one per subnet, inside the subnet, carrying the endpoint's groups, typed as
    // endpoint interfaces (so the analysis never counts them as clients).
    let world = observe(b, "main").await;
    assert_eq!(ready.network_interface_ids.len(), 2);
    for id in &ready.network_interface_ids {
        let eni = world
            .network_interfaces
            .iter()
            .find(|n| &n.network_interface_id == id)
            .unwrap_or_else(|| panic!("endpoint ENI {id} not described"));
        assert_eq!(eni.interface_type.as_deref(), Some("vpc_endpoint"), "{id}");
        let groups: Vec<&str> = eni.groups.iter().map(|g| g.group_id.as_str()).collect();
        assert_eq!(groups, [b.id("endpoint-sg").as_str()], "{id}");
        let cidr: Ipv4Net = world
            .subnets
            .iter()
            .find(|s| s.subnet_id == eni.subnet_id)
            .and_then(|s| s.cidr_block.as_deref())
            .expect("subnet")
            .parse()
            .unwrap();
        let address: Ipv4Addr = eni.private_ip_address.as_deref().unwrap().parse().unwrap();
        assert!(cidr.contains(&address), "{id} at {address} outside {cidr}");
        assert!(ready.subnet_ids.contains(&eni.subnet_id));
    }

    // Found by owner tag and by service, as the engine looks for it.
    for filter in [
        EndpointFilter {
            vpc_id: Some(b.id("main")),
            tag: Some((UID_TAG.to_string(), owner.uid.clone())),
            ..Default::default()
        },
        EndpointFilter {
            vpc_id: Some(b.id("main")),
            service_name: Some(logs_service()),
            ..Default::default()
        },
    ] {
        let found = b.port().describe_vpc_endpoints(&filter).await.unwrap();
        let ids: Vec<&str> = found.iter().map(|e| e.vpc_endpoint_id.as_str()).collect();
        assert_eq!(ids, [created.vpc_endpoint_id.as_str()], "{filter:?}");
    }
    let elsewhere = EndpointFilter {
        vpc_id: Some(b.id("other")),
        ..Default::default()
    };
    assert!(
        b.port()
            .describe_vpc_endpoints(&elsewhere)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn the_same_client_token_returns_the_same_endpoint_and_other_parameters_are_refused<B: Bench>(
    b: &B,
) {
    let owner = owner("token");
    let request = create_request(b, &owner, "main", &["main-a"], &["endpoint-sg"]);
    let first = b.port().create_vpc_endpoint(&request).await.expect("create");
    // A retry after an ambiguous timeout: same token, same parameters.
    let again = b
        .port()
        .create_vpc_endpoint(&request)
        .await
        .expect("same token again");
    assert_eq!(again.value.vpc_endpoint_id, first.value.vpc_endpoint_id);
    assert_ne!(
        request_id(&again),
        request_id(&first),
        "a retry is a request of its own in CloudTrail"
    );
    let first = first.value;

    wait_available(b, &first.vpc_endpoint_id).await;

    let mut changed = request.clone();
    changed.subnet_ids = vec![b.id("main-b")];
    let err = b.port().create_vpc_endpoint(&changed).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::IdempotencyMismatch, "{err}");
    assert!(
        err.request_id.as_deref().is_some_and(|id| !id.is_empty()),
        "a refused mutation carries its request id too: {err:?}"
    );

    let all = b
        .port()
        .describe_vpc_endpoints(&EndpointFilter {
            vpc_id: Some(b.id("main")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "one endpoint, whatever the retries: {all:?}");
}

pub async fn private_dns_is_enabled_only_when_the_vpc_and_service_allow_it<B: Bench>(b: &B) {
    let port = b.port();
    let enable = |id: &str, on: bool| ModifyVpcEndpoint {
        vpc_endpoint_id: id.to_string(),
        private_dns_enabled: Some(on),
        ..Default::default()
    };

    // DNS hostnames off in the VPC.
    let nodns = create_available(
        b,
        &create_request(b, &owner("nodns"), "nodns", &["nodns-a"], &["nodns-endpoint-sg"]),
    )
    .await;
    let err = port
        .modify_vpc_endpoint(&enable(&nodns.vpc_endpoint_id, true))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Precondition, "{err}");
    assert!(!endpoint(b, &nodns.vpc_endpoint_id).await.private_dns_enabled);

    // A service without a private DNS name.
    let mut request = create_request(b, &owner("iot"), "main", &["main-a"], &["endpoint-sg"]);
    request.service_name = service_without_private_dns();
    let iot = create_available(b, &request).await;
    let err = port
        .modify_vpc_endpoint(&enable(&iot.vpc_endpoint_id, true))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Precondition, "{err}");

    // The happy path.
    let logs = create_available(
        b,
        &create_request(b, &owner("logs"), "main", &["main-a"], &["endpoint-sg"]),
    )
    .await;
    port.modify_vpc_endpoint(&enable(&logs.vpc_endpoint_id, true))
        .await
        .expect("enable");
    assert!(endpoint(b, &logs.vpc_endpoint_id).await.private_dns_enabled);

    // A second endpoint of the same service cannot take the same name.
    let second = create_available(
        b,
        &create_request(b, &owner("logs-two"), "main", &["main-b"], &["endpoint-sg"]),
    )
    .await;
    let err = port
        .modify_vpc_endpoint(&enable(&second.vpc_endpoint_id, true))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Precondition, "{err}");
    assert!(!endpoint(b, &second.vpc_endpoint_id).await.private_dns_enabled);

    // Turning it off again.
    port.modify_vpc_endpoint(&enable(&logs.vpc_endpoint_id, false))
        .await
        .expect("disable");
    assert!(!endpoint(b, &logs.vpc_endpoint_id).await.private_dns_enabled);
}

pub async fn security_groups_added_to_an_endpoint_reach_its_interfaces<B: Bench>(b: &B) {
    let port = b.port();
    let created = create_available(
        b,
        &create_request(b, &owner("groups"), "main", &["main-a"], &["endpoint-sg"]),
    )
    .await;
    port.modify_vpc_endpoint(&ModifyVpcEndpoint {
        vpc_endpoint_id: created.vpc_endpoint_id.clone(),
        add_security_group_ids: vec![b.id("lambda-sg")],
        ..Default::default()
    })
    .await
    .expect("add group");
    let ready = endpoint(b, &created.vpc_endpoint_id).await;
    let mut want = vec![b.id("endpoint-sg"), b.id("lambda-sg")];
    want.sort();
    let mut groups: Vec<String> = ready.groups.iter().map(|g| g.group_id.clone()).collect();
    groups.sort();
    assert_eq!(groups, want);
    let world = observe(b, "main").await;
    for id in &ready.network_interface_ids {
        let eni = world
            .network_interfaces
            .iter()
            .find(|n| &n.network_interface_id == id)
            .unwrap();
        let mut groups: Vec<String> = eni.groups.iter().map(|g| g.group_id.clone()).collect();
        groups.sort();
        assert_eq!(groups, want, "ENI {id} kept its old groups");
    }
}

pub async fn bad_endpoint_requests_fail_before_anything_is_created<B: Bench>(b: &B) {
    let port = b.port();
    let owner = owner("bad");
    let cases = [
        (
            create_request(b, &owner, "main", &["other-a"], &["endpoint-sg"]),
            ErrorKind::Invalid,
            "a subnet of another VPC",
        ),
        (
            create_request(b, &owner, "main", &["main-a", "main-a2"], &["endpoint-sg"]),
            ErrorKind::Invalid,
            "two subnets in one zone",
        ),
        (
            create_request(b, &owner, "main", &["main-a"], &["other-sg"]),
            ErrorKind::Invalid,
            "a security group of another VPC",
        ),
        (
            CreateVpcEndpoint {
                security_group_ids: vec!["sg-0123456789abcdef0".into()],
                ..create_request(b, &owner, "main", &["main-a"], &[])
            },
            ErrorKind::NotFound,
            "a security group that does not exist",
        ),
    ];
    for (request, kind, why) in cases {
        let err = port.create_vpc_endpoint(&request).await.expect_err(why);
        assert_eq!(err.kind, kind, "{why}: {err}");
    }
    let all = port
        .describe_vpc_endpoints(&EndpointFilter {
            vpc_id: Some(b.id("main")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(all.is_empty(), "{all:?}");

    let err = port
        .modify_vpc_endpoint(&ModifyVpcEndpoint {
            vpc_endpoint_id: "vpce-0123456789abcdef0".into(),
            private_dns_enabled: Some(true),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

pub async fn owned_rules_are_authorized_atomically_found_by_tag_and_revoked<B: Bench>(b: &B) {
    let port = b.port();
    let owner = owner("rules");
    let tags = owner_tags(&owner);
    let endpoint_sg = b.id("endpoint-sg");
    let ingress = AuthorizeRules {
        group_id: endpoint_sg.clone(),
        egress: false,
        rules: vec![
            rule(RulePeer::Group(b.id("zabbix-sg")), "vpce-rollout: zabbix"),
            rule(RulePeer::Group(b.id("lambda-sg")), "vpce-rollout: lambda"),
        ],
        tags: tags.clone(),
    };
    let created = port
        .authorize_security_group_rules(&ingress)
        .await
        .expect("authorize")
        .value;
    assert_eq!(
        created.len(),
        2,
        "every rule of the call is answered: {created:?}"
    );
    for r in &created {
        assert!(r.security_group_rule_id.starts_with("sgr-"));
        assert_eq!(r.group_id, endpoint_sg);
        assert!(!r.is_egress);
        assert_eq!(
            (r.ip_protocol, r.from_port, r.to_port),
            (Protocol::Tcp, Some(443), Some(443))
        );
        assert!(owner.owns(r.tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))));
    }

    let found = port
        .describe_security_group_rules(&uid_filter(&owner))
        .await
        .unwrap();
    let mut seen: Vec<(String, Option<String>)> = found
        .iter()
        .map(|r| {
            (
                r.referenced_group_info
                    .as_ref()
                    .map(|g| g.group_id.clone())
                    .unwrap_or_default(),
                r.description.clone(),
            )
        })
        .collect();
    seen.sort();
    let mut want = vec![
        (b.id("zabbix-sg"), Some("vpce-rollout: zabbix".to_string())),
        (b.id("lambda-sg"), Some("vpce-rollout: lambda".to_string())),
    ];
    want.sort();
    assert_eq!(seen, want, "found by tag, with descriptions");

    // One new rule and one that exists (under another description): nothing is added.
    let mixed = AuthorizeRules {
        rules: vec![
            rule(RulePeer::CidrIpv4("10.20.0.0/16".into()), "vpce-rollout: vpc"),
            rule(RulePeer::Group(b.id("zabbix-sg")), "another description"),
        ],
        ..ingress.clone()
    };
    let err = port.authorize_security_group_rules(&mixed).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Duplicate, "{err}");
    let after = port
        .describe_security_group_rules(&uid_filter(&owner))
        .await
        .unwrap();
    assert_eq!(after.len(), 2, "the call was not atomic: {after:?}");

    let egress = AuthorizeRules {
        group_id: b.id("zabbix-sg"),
        egress: true,
        rules: vec![rule(
            RulePeer::Group(endpoint_sg.clone()),
            "vpce-rollout: to logs",
        )],
        tags,
    };
    let out = port
        .authorize_security_group_rules(&egress)
        .await
        .expect("egress")
        .value;
    assert!(out[0].is_egress);

    // Revoking by id removes exactly the owned rules, direction by direction.
    let ids: Vec<String> = created.iter().map(|r| r.security_group_rule_id.clone()).collect();
    port.revoke_security_group_rules(&revoke(&owner, &endpoint_sg, false, &ids))
        .await
        .expect("revoke ingress");
    let left = port
        .describe_security_group_rules(&uid_filter(&owner))
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].is_egress);
    port.revoke_security_group_rules(&revoke(
        &owner,
        &b.id("zabbix-sg"),
        true,
        &[left[0].security_group_rule_id.clone()],
    ))
    .await
    .expect("revoke egress");
    assert!(
        port.describe_security_group_rules(&uid_filter(&owner))
            .await
            .unwrap()
            .is_empty()
    );

    // The owner tags are on the rules, the groups are untouched.
    let groups = port.describe_security_groups(&b.id("main")).await.unwrap();
    let endpoint_group = groups.iter().find(|g| g.group_id == endpoint_sg).unwrap();
    assert!(
        endpoint_group.ip_permissions.is_empty(),
        "{:?}",
        endpoint_group.ip_permissions
    );
    assert!(!endpoint_group.tags.iter().any(|t| t.key == OWNER_TAG));
}

pub async fn deleting_reports_unknown_endpoints_per_item<B: Bench>(b: &B) {
    let port = b.port();
    let created = create_available(
        b,
        &create_request(b, &owner("delete"), "main", &["main-a"], &["endpoint-sg"]),
    )
    .await;
    let unknown = "vpce-0123456789abcdef0".to_string();
    let failed = port
        .delete_vpc_endpoints(&[created.vpc_endpoint_id.clone(), unknown.clone()])
        .await
        .expect("delete")
        .value;
    assert_eq!(failed.keys().collect::<Vec<_>>(), [&unknown], "{failed:?}");
    assert_eq!(failed[&unknown].kind, ErrorKind::NotFound);

    let left = port
        .describe_vpc_endpoints(&EndpointFilter {
            vpc_id: Some(b.id("main")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        left.iter().all(|e| e.state_lower() == "deleting"),
        "a deleted endpoint is deleting for a while: {left:?}"
    );
    wait_gone(b, &created.vpc_endpoint_id).await;
}

/// Polls until the endpoint is no longer listed (EC2 lists a deleted endpoint as `deleting`
/// for a while, then not at all), within two minutes of bench time.
pub async fn wait_gone<B: Bench>(b: &B, id: &str) {
    let filter = EndpointFilter {
        vpc_endpoint_ids: vec![id.to_string()],
        ..Default::default()
    };
    for _ in 0..240 {
        match b.port().describe_vpc_endpoints(&filter).await {
            Ok(found) if found.is_empty() => return,
            Ok(found) => assert_eq!(found[0].state_lower(), "deleting", "{id}"),
            Err(e) if e.kind == ErrorKind::NotFound => return,
            Err(e) => panic!("{e}"),
        }
        b.pass(Duration::from_millis(500)).await;
    }
    panic!("{id} is still listed long after its deletion");
}

/// The rollout, call by call, as the engine makes it: create with private DNS off, open the
/// path (owned, tagged rules), enable private DNS, then on deletion revoke exactly the owned rules
/// (found by tag) and delete the endpoint.
pub async fn the_rollout_sequence_creates_with_dns_off_adds_rules_enables_dns_and_cleans_up<B: Bench>(b: &B) {
    let port = b.port();
    let owner = owner("rollout");
    // Every mutation's request id: each call is a request of its own in CloudTrail.
    let mut request_ids = Vec::new();
    let created = port
        .create_vpc_endpoint(&create_request(
            b,
            &owner,
            "main",
            &["main-a", "main-b"],
            &["endpoint-sg"],
        ))
        .await
        .expect("create");
    request_ids.push(request_id(&created));
    let created = created.value;
    assert!(!created.private_dns_enabled);
    let id = created.vpc_endpoint_id.clone();
    wait_available(b, &id).await;

    let endpoint_sg = b.id("endpoint-sg");
    let ingress = port
        .authorize_security_group_rules(&AuthorizeRules {
            group_id: endpoint_sg.clone(),
            egress: false,
            rules: vec![rule(
                RulePeer::Group(b.id("zabbix-sg")),
                "vpce-rollout: zabbix to logs",
            )],
            tags: owner_tags(&owner),
        })
        .await
        .expect("endpoint ingress");
    request_ids.push(request_id(&ingress));
    let egress = port
        .authorize_security_group_rules(&AuthorizeRules {
            group_id: b.id("zabbix-sg"),
            egress: true,
            rules: vec![rule(
                RulePeer::Group(endpoint_sg.clone()),
                "vpce-rollout: to logs endpoint",
            )],
            tags: owner_tags(&owner),
        })
        .await
        .expect("client egress");
    request_ids.push(request_id(&egress));

    let enabled = port
        .modify_vpc_endpoint(&ModifyVpcEndpoint {
            vpc_endpoint_id: id.clone(),
            private_dns_enabled: Some(true),
            ..Default::default()
        })
        .await
        .expect("enable private DNS");
    request_ids.push(request_id(&enabled));
    let live = wait_available(b, &id).await;
    assert!(live.private_dns_enabled);

    // Deletion: the owned rules, found by tag, grouped by group and direction.
    let owned = port
        .describe_security_group_rules(&uid_filter(&owner))
        .await
        .unwrap();
    assert_eq!(owned.len(), 2, "{owned:?}");
    for r in &owned {
        let revoked = port
            .revoke_security_group_rules(&revoke(
                &owner,
                &r.group_id,
                r.is_egress,
                std::slice::from_ref(&r.security_group_rule_id),
            ))
            .await
            .expect("revoke");
        request_ids.push(request_id(&revoked));
    }
    assert!(
        port.describe_security_group_rules(&uid_filter(&owner))
            .await
            .unwrap()
            .is_empty()
    );
    let deleted = port
        .delete_vpc_endpoints(std::slice::from_ref(&id))
        .await
        .expect("delete");
    request_ids.push(request_id(&deleted));
    let failed = deleted.value;
    assert!(failed.is_empty(), "{failed:?}");
    let left = port
        .describe_vpc_endpoints(&EndpointFilter {
            vpc_id: Some(b.id("main")),
            tag: Some((UID_TAG.to_string(), owner.uid.clone())),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        left.iter().all(|e| e.state_lower() == "deleting"),
        "a deleted endpoint is deleting for a while: {left:?}"
    );
    wait_gone(b, &created.vpc_endpoint_id).await;

    let distinct: std::collections::BTreeSet<&String> = request_ids.iter().collect();
    assert_eq!(distinct.len(), request_ids.len(), "{request_ids:?}");
}

/// The account the port acts in is the one the world lives in: the audit trail's account.
pub async fn the_port_knows_the_account_it_acts_in<B: Bench>(b: &B) {
    assert_eq!(b.port().account().await.as_deref(), Ok(b.account_id().as_str()));
    // Asked again (from the port's cache), the same answer.
    assert_eq!(b.port().account().await.as_deref(), Ok(b.account_id().as_str()));
}

/// What the analysis reads to know every address a client sends from and whether it is a client
/// at all: status, the requester fields, secondary addresses and delegated prefixes.
pub async fn a_clients_secondary_addresses_and_prefixes_are_observed<B: Bench>(b: &B) {
    let zabbix = |world: &Snapshot| {
        world
            .network_interfaces
            .iter()
            .find(|n| n.network_interface_id == b.id("zabbix"))
            .cloned()
            .expect("zabbix is observed")
    };
    let before = zabbix(&observe(b, "main").await);
    assert_eq!(
        before.status.as_deref(),
        Some("in-use"),
        "a running instance's ENI"
    );
    assert_ne!(
        before.requester_managed,
        Some(true),
        "created by the account, not a service"
    );
    assert!(before.ipv4_prefixes.is_empty() && before.ipv6_prefixes.is_empty());
    let primary: Ipv4Addr = before.private_ip_address.as_deref().unwrap().parse().unwrap();
    // Away from the primary address, wherever the backend put it in 10.20.1.0/24.
    let (secondary, prefix) = if primary.octets()[3] < 128 {
        ("10.20.1.200", "10.20.1.224/28")
    } else {
        ("10.20.1.20", "10.20.1.48/28")
    };

    b.assign_addresses("zabbix", &[secondary, prefix]).await;

    let after = zabbix(&observe(b, "main").await);
    let addresses: Vec<(String, Option<bool>)> = after
        .private_ip_addresses
        .iter()
        .map(|a| (a.private_ip_address.clone(), a.primary))
        .collect();
    assert_eq!(
        addresses,
        [
            (primary.to_string(), Some(true)),
            (secondary.to_string(), Some(false))
        ]
    );
    let prefixes: Vec<&str> = after
        .ipv4_prefixes
        .iter()
        .map(|p| p.ipv4_prefix.as_str())
        .collect();
    assert_eq!(prefixes, [prefix]);
    assert_eq!(after.private_ip_address, before.private_ip_address);
    assert_eq!(after.status.as_deref(), Some("in-use"));
}

/// A rule handed over to another object (issue 8, hole 7): CreateTags rewrites the ownership
/// tags, the rule is found by the new owner's UID and no longer by the old one's, and the new
/// owner can revoke it. A rule id that does not exist is NotFound.
pub async fn a_rule_handed_over_is_found_by_the_new_owner_and_revoked_by_it<B: Bench>(b: &B) {
    let port = b.port();
    let (old, new) = (owner("handover-a"), owner("handover-b"));
    let created = port
        .authorize_security_group_rules(&AuthorizeRules {
            group_id: b.id("endpoint-sg"),
            egress: false,
            rules: vec![rule(RulePeer::Group(b.id("zabbix-sg")), "vpce-rollout: zabbix")],
            tags: owner_tags(&old),
        })
        .await
        .expect("authorize")
        .value;
    let id = created[0].security_group_rule_id.clone();
    let mut tags = owner_tags(&new);
    tags.push(vpce_rollout::model::Tag {
        key: vpce_rollout::api::HANDED_OVER_FROM_TAG.into(),
        value: old.owner_tag(),
    });
    let retag = |rule_ids: Vec<String>| RetagOwnedRules {
        rule_ids,
        owner_tags: owner_tags(&old),
        tags: tags.clone(),
    };
    let retagged = port
        .tag_security_group_rules(&retag(vec![id.clone()]))
        .await
        .expect("retag");
    assert!(
        retagged.request_id.is_some(),
        "CreateTags answers with a request id"
    );
    assert!(
        port.describe_security_group_rules(&uid_filter(&old))
            .await
            .unwrap()
            .is_empty(),
        "no longer the old owner's"
    );
    let found = port
        .describe_security_group_rules(&uid_filter(&new))
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].security_group_rule_id, id);
    assert!(new.owns(found[0].tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))));
    assert!(
        found[0]
            .tags
            .iter()
            .any(|t| t.key == vpce_rollout::api::HANDED_OVER_FROM_TAG && t.value == old.owner_tag()),
        "{:?}",
        found[0].tags
    );
    port.revoke_security_group_rules(&revoke(
        &new,
        &b.id("endpoint-sg"),
        false,
        std::slice::from_ref(&id),
    ))
    .await
    .expect("the new owner revokes it");
    let err = port
        .tag_security_group_rules(&retag(vec![id]))
        .await
        .expect_err("a revoked rule cannot be tagged");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

/// An endpoint made outside vpce-rollout is taken over (issue 15): CreateTags adds the
/// ownership and cluster tags, keeping the endpoint's own, and the endpoint is found by the
/// owner's tag from then on. An endpoint id that does not exist is NotFound.
pub async fn an_endpoint_made_elsewhere_is_tagged_as_an_object_s_and_found_by_its_tags<B: Bench>(b: &B) {
    let port = b.port();
    let terraform = vec![vpce_rollout::model::Tag {
        key: "ManagedBy".into(),
        value: "terraform".into(),
    }];
    let request = CreateVpcEndpoint {
        tags: terraform,
        client_token: "terraform-adopted".into(),
        service_region: None,
        ..create_request(b, &owner("adopted"), "main", &["main-a"], &["endpoint-sg"])
    };
    let made = create_available(b, &request).await;
    let adopter = owner("adopter");
    let tags = vpce_rollout::plan::cluster::ec2_tags(&adopter, Some("blue"));
    let tagged = port
        .tag_vpc_endpoints(std::slice::from_ref(&made.vpc_endpoint_id), &tags)
        .await
        .expect("CreateTags");
    assert!(
        tagged.request_id.is_some(),
        "CreateTags answers with a request id"
    );
    let found = port
        .describe_vpc_endpoints(&EndpointFilter {
            tag: Some((vpce_rollout::api::OWNER_TAG.into(), adopter.owner_tag())),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].vpc_endpoint_id, made.vpc_endpoint_id);
    let pairs = || found[0].tags.iter().map(|t| (t.key.as_str(), t.value.as_str()));
    assert!(adopter.owns(pairs()), "{:?}", found[0].tags);
    assert!(pairs().any(|p| p == (vpce_rollout::api::CLUSTER_TAG, "blue")));
    assert!(
        pairs().any(|p| p == ("ManagedBy", "terraform")),
        "its own tags stay"
    );

    let err = port
        .tag_vpc_endpoints(&["vpce-0fffffffffffffff0".to_string()], &tags)
        .await
        .expect_err("an unknown endpoint cannot be tagged");
    assert!(
        matches!(err.kind, ErrorKind::NotFound | ErrorKind::Invalid),
        "{err}"
    );
    let deleted = port
        .delete_vpc_endpoints(std::slice::from_ref(&made.vpc_endpoint_id))
        .await
        .unwrap();
    assert!(deleted.value.is_empty());
}

/// An edit of `spec.tags` on the object's endpoint: CreateTags sets a value, DeleteTags takes
/// a key away and leaves every other tag (the ownership tags, someone else's) in place. The
/// adapter refuses DeleteTags without keys (EC2 would delete every tag) and with a key of the
/// controller's own, before anything is sent; the simulated world refuses the first as EC2's
/// missing parameter.
pub async fn spec_tag_edits_set_and_delete_only_the_keys_named<B: Bench>(b: &B) {
    let port = b.port();
    let object = owner("retagged");
    let mut request = create_request(b, &object, "main", &["main-a"], &["endpoint-sg"]);
    request.tags.push(vpce_rollout::model::Tag {
        key: "old".into(),
        value: "1".into(),
    });
    request.tags.push(vpce_rollout::model::Tag {
        key: "Name".into(),
        value: "by-hand".into(),
    });
    let made = create_available(b, &request).await;
    let ids = std::slice::from_ref(&made.vpc_endpoint_id);
    let set = port
        .tag_vpc_endpoints(
            ids,
            &[vpce_rollout::model::Tag {
                key: "team".into(),
                value: "payments".into(),
            }],
        )
        .await
        .expect("CreateTags");
    assert!(set.request_id.is_some(), "CreateTags answers with a request id");
    let removed = port
        .untag_vpc_endpoints(ids, &["old".to_string()])
        .await
        .expect("DeleteTags");
    assert!(
        removed.request_id.is_some(),
        "DeleteTags answers with a request id"
    );
    let found = port
        .describe_vpc_endpoints(&EndpointFilter {
            vpc_endpoint_ids: ids.to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = found[0]
        .tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    assert!(object.owns(pairs.iter().copied()), "{pairs:?}");
    assert!(pairs.contains(&("team", "payments")), "{pairs:?}");
    assert!(pairs.contains(&("Name", "by-hand")), "{pairs:?}");
    assert!(!pairs.iter().any(|(k, _)| *k == "old"), "{pairs:?}");

    if b.is_sdk() {
        for keys in [vec![], vec![vpce_rollout::api::OWNER_TAG.to_string()]] {
            let err = port
                .untag_vpc_endpoints(ids, &keys)
                .await
                .expect_err("refused before it is sent");
            assert_eq!(err.kind, ErrorKind::Invalid, "{err}");
            assert_eq!(err.request_id, None, "never sent: {err}");
        }
    } else {
        let err = port.untag_vpc_endpoints(ids, &[]).await.expect_err("no keys");
        assert_eq!(err.code, "MissingParameter", "{err}");
    }
    let still = port
        .describe_vpc_endpoints(&EndpointFilter {
            vpc_endpoint_ids: ids.to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        still[0].tags, found[0].tags,
        "a refused DeleteTags deleted nothing"
    );
    port.delete_vpc_endpoints(ids).await.unwrap();
}

/// `spec.ports` on the wire: a rule for a run of ports is one rule, as EC2 stores it, and the
/// analysis of the world observed afterwards reads it as covering every port of the run and no
/// other; the single port beside the run is another rule, not a duplicate.
pub async fn a_rule_for_a_run_of_ports_is_one_rule_covering_each_of_them<B: Bench>(b: &B) {
    let port = b.port();
    let owner = owner("ports");
    let on = |from: i32, to: i32, description: &str| NewRule {
        protocol: Protocol::Tcp,
        from_port: from,
        to_port: to,
        peer: RulePeer::Group(b.id("zabbix-sg")),
        description: description.to_string(),
    };
    let request = AuthorizeRules {
        group_id: b.id("endpoint-sg"),
        egress: false,
        rules: vec![
            on(8080, 8082, "vpce-rollout: zabbix, tcp 8080-8082"),
            on(8083, 8083, "vpce-rollout: zabbix, tcp 8083"),
        ],
        tags: owner_tags(&owner),
    };
    let created = port
        .authorize_security_group_rules(&request)
        .await
        .expect("authorize")
        .value;
    let mut ranges: Vec<(Option<i32>, Option<i32>)> =
        created.iter().map(|r| (r.from_port, r.to_port)).collect();
    ranges.sort();
    assert_eq!(ranges, [(Some(8080), Some(8082)), (Some(8083), Some(8083))]);

    let world = observe(b, "main").await;
    let spec_on = |ports: &[u16]| -> InterfaceEndpointSpec {
        serde_json::from_value(serde_json::json!({
            "vpcId": b.id("main"),
            "serviceName": logs_service(),
            "subnetIds": [b.id("main-a"), b.id("main-b")],
            "securityGroupIds": [b.id("endpoint-sg")],
            "ports": ports,
        }))
        .unwrap()
    };
    // One block per destination (before the endpoint exists: each of the two subnets).
    let ingress_ports = |ports: &[u16]| -> Vec<String> {
        let analysis = analyze(&spec_on(ports), None, &world).expect("the analysis runs");
        let zabbix = analysis
            .clients
            .iter()
            .find(|c| c.network_interface_id == b.id("zabbix"))
            .expect("zabbix is a client");
        zabbix
            .blocks
            .iter()
            .filter(|block| block.check == Check::EndpointIngress)
            .map(|block| block.ports.to_string())
            .collect()
    };
    assert!(
        ingress_ports(&[8080, 8081, 8082, 8083]).is_empty(),
        "admitted on every port of the runs"
    );
    assert_eq!(
        ingress_ports(&[8082, 8083, 8084]),
        ["8084", "8084"],
        "and on no other, in either subnet"
    );

    // Revoked by id, as the controller does after a ports edit.
    let ids: Vec<String> = created.iter().map(|r| r.security_group_rule_id.clone()).collect();
    port.revoke_security_group_rules(&revoke(&owner, &b.id("endpoint-sg"), false, &ids))
        .await
        .expect("revoke");
    let left = port
        .describe_security_group_rules(&uid_filter(&owner))
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
}

/// Runs every scenario against one backend: `contract_suite!(module, async { bench })`.
macro_rules! contract_suite {
    ($module:ident, $bench:expr) => {
        mod $module {
            #[tokio::test]
            async fn spec_tag_edits_set_and_delete_only_the_keys_named() {
                crate::contract::spec_tag_edits_set_and_delete_only_the_keys_named(&$bench).await;
            }

            #[tokio::test]
            async fn the_port_knows_the_account_it_acts_in() {
                crate::contract::the_port_knows_the_account_it_acts_in(&$bench).await;
            }

            #[tokio::test]
            async fn observing_the_incident_vpc_finds_its_subnets_groups_and_clients() {
                crate::contract::observing_the_incident_vpc_finds_its_subnets_groups_and_clients(&$bench).await;
            }

            #[tokio::test]
            async fn an_unknown_vpc_is_not_found_by_id_and_an_empty_observation() {
                crate::contract::an_unknown_vpc_is_not_found_by_id_and_an_empty_observation(&$bench).await;
            }

            #[tokio::test]
            async fn an_endpoint_is_created_with_private_dns_off_tagged_and_becomes_available() {
                crate::contract::an_endpoint_is_created_with_private_dns_off_tagged_and_becomes_available(&$bench)
                    .await;
            }

            #[tokio::test]
            async fn the_same_client_token_returns_the_same_endpoint_and_other_parameters_are_refused() {
                crate::contract::the_same_client_token_returns_the_same_endpoint_and_other_parameters_are_refused(
                    &$bench,
                )
                .await;
            }

            #[tokio::test]
            async fn private_dns_is_enabled_only_when_the_vpc_and_service_allow_it() {
                crate::contract::private_dns_is_enabled_only_when_the_vpc_and_service_allow_it(&$bench).await;
            }

            #[tokio::test]
            async fn security_groups_added_to_an_endpoint_reach_its_interfaces() {
                crate::contract::security_groups_added_to_an_endpoint_reach_its_interfaces(&$bench).await;
            }

            #[tokio::test]
            async fn bad_endpoint_requests_fail_before_anything_is_created() {
                crate::contract::bad_endpoint_requests_fail_before_anything_is_created(&$bench).await;
            }

            #[tokio::test]
            async fn owned_rules_are_authorized_atomically_found_by_tag_and_revoked() {
                crate::contract::owned_rules_are_authorized_atomically_found_by_tag_and_revoked(&$bench).await;
            }

            #[tokio::test]
            async fn the_rollout_sequence_creates_with_dns_off_adds_rules_enables_dns_and_cleans_up() {
                crate::contract::the_rollout_sequence_creates_with_dns_off_adds_rules_enables_dns_and_cleans_up(
                    &$bench,
                )
                .await;
            }

            #[tokio::test]
            async fn a_clients_secondary_addresses_and_prefixes_are_observed() {
                crate::contract::a_clients_secondary_addresses_and_prefixes_are_observed(&$bench).await;
            }

            #[tokio::test]
            async fn a_rule_handed_over_is_found_by_the_new_owner_and_revoked_by_it() {
                crate::contract::a_rule_handed_over_is_found_by_the_new_owner_and_revoked_by_it(&$bench).await;
            }

            #[tokio::test]
            async fn an_endpoint_made_elsewhere_is_tagged_as_an_object_s_and_found_by_its_tags() {
                crate::contract::an_endpoint_made_elsewhere_is_tagged_as_an_object_s_and_found_by_its_tags(&$bench)
                    .await;
            }

            #[tokio::test]
            async fn a_rule_for_a_run_of_ports_is_one_rule_covering_each_of_them() {
                crate::contract::a_rule_for_a_run_of_ports_is_one_rule_covering_each_of_them(&$bench).await;
            }

            #[tokio::test]
            async fn deleting_reports_unknown_endpoints_per_item() {
                crate::contract::deleting_reports_unknown_endpoints_per_item(&$bench).await;
            }
        }
    };
}

pub(crate) use contract_suite;
