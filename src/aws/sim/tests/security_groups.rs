use super::*;
use crate::aws::{Ec2, ErrorKind, RuleFilter};
use crate::model::{Protocol, SecurityGroup, SecurityGroupRule};

fn group(sim: &SimEc2, id: &str) -> SecurityGroup {
    run(sim.describe_security_groups("vpc-1"))
        .unwrap()
        .into_iter()
        .find(|g| g.group_id == id)
        .unwrap()
}

fn rules_of(sim: &SimEc2, id: &str) -> Vec<SecurityGroupRule> {
    let filter = RuleFilter {
        group_ids: vec![id.into()],
        tag: None,
        tag_any_of: None,
    };
    run(sim.describe_security_group_rules(&filter)).unwrap()
}

fn from_group(peer: &str) -> RulePeer {
    RulePeer::Group(peer.into())
}

fn cidr(c: &str) -> RulePeer {
    RulePeer::CidrIpv4(c.into())
}

#[test]
fn authorize_returns_the_created_rules_with_ids_tags_and_descriptions() {
    let sim = instant_sim();
    let request = authorize(
        "sg-endpoint",
        false,
        vec![
            tcp_443(from_group("sg-zabbix"), "vpce-rollout: zabbix"),
            tcp_443(cidr("10.0.9.0/24"), ""),
        ],
    );
    let created = run(sim.authorize_security_group_rules(&request)).unwrap().value;
    assert_eq!(created.len(), 2);
    let by_group = &created[0];
    assert!(by_group.security_group_rule_id.starts_with("sgr-0"));
    assert_eq!(by_group.group_id, "sg-endpoint");
    assert!(!by_group.is_egress);
    assert_eq!(
        (by_group.ip_protocol, by_group.from_port, by_group.to_port),
        (Protocol::Tcp, Some(443), Some(443))
    );
    assert_eq!(
        by_group.referenced_group_info.as_ref().unwrap().group_id,
        "sg-zabbix"
    );
    assert_eq!(by_group.description.as_deref(), Some("vpce-rollout: zabbix"));
    assert_eq!(by_group.tags, owner_tags());
    assert_eq!(created[1].cidr_ipv4.as_deref(), Some("10.0.9.0/24"));
    assert_eq!(created[1].description, None);
    assert_ne!(
        created[0].security_group_rule_id,
        created[1].security_group_rule_id
    );
    let described = rules_of(&sim, "sg-endpoint");
    assert!(created.iter().all(|c| described.contains(c)));
}

#[test]
fn the_same_rule_again_is_invalid_permission_duplicate_even_with_another_description() {
    let sim = instant_sim();
    // The fixture already admits sg-lambda on 443 (described "lambda").
    let request = authorize(
        "sg-endpoint",
        false,
        vec![tcp_443(from_group("sg-lambda"), "other words")],
    );
    let err = run(sim.authorize_security_group_rules(&request)).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.kind),
        ("InvalidPermission.Duplicate", ErrorKind::Duplicate)
    );
    assert_eq!(
        err.message,
        "the specified rule \"peer: sg-lambda, TCP, from port: 443, to port: 443, ALLOW\" already exists"
    );
    let all = authorize(
        "sg-lambda",
        true,
        vec![NewRule {
            protocol: Protocol::All,
            from_port: 0,
            to_port: 0,
            peer: cidr("0.0.0.0/0"),
            description: String::new(),
        }],
    );
    let err = run(sim.authorize_security_group_rules(&all)).unwrap_err();
    assert_eq!(
        err.message,
        "the specified rule \"peer: 0.0.0.0/0, ALL, ALLOW\" already exists"
    );
}

#[test]
fn an_authorize_with_one_duplicate_adds_nothing() {
    let sim = instant_sim();
    let before = rules_of(&sim, "sg-endpoint");
    let request = authorize(
        "sg-endpoint",
        false,
        vec![
            tcp_443(from_group("sg-zabbix"), "new"),
            tcp_443(from_group("sg-lambda"), "already there"),
        ],
    );
    assert_eq!(
        run(sim.authorize_security_group_rules(&request))
            .unwrap_err()
            .code,
        "InvalidPermission.Duplicate"
    );
    assert_eq!(rules_of(&sim, "sg-endpoint"), before);
    let twice = authorize(
        "sg-endpoint",
        false,
        vec![
            tcp_443(cidr("10.0.0.0/16"), "a"),
            tcp_443(cidr("10.0.0.0/16"), "b"),
        ],
    );
    assert_eq!(
        run(sim.authorize_security_group_rules(&twice)).unwrap_err().code,
        "InvalidPermission.Duplicate"
    );
    assert_eq!(rules_of(&sim, "sg-endpoint"), before);
    assert!(sim.mutations().is_empty());
}

#[test]
fn sixty_ipv4_rules_fit_a_direction_and_the_sixty_first_is_rules_per_security_group_limit_exceeded() {
    let sim = instant_sim();
    // sg-lambda has one IPv4 egress rule (0.0.0.0/0) and no ingress.
    let ingress: Vec<NewRule> = (0..60)
        .map(|i| tcp_443(cidr(&format!("10.10.{i}.0/24")), ""))
        .collect();
    run(sim.authorize_security_group_rules(&authorize("sg-lambda", false, ingress))).unwrap();
    let one_more = authorize("sg-lambda", false, vec![tcp_443(cidr("10.11.0.0/24"), "")]);
    let err = run(sim.authorize_security_group_rules(&one_more)).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.kind),
        ("RulesPerSecurityGroupLimitExceeded", ErrorKind::Precondition)
    );
    assert_eq!(
        err.message,
        "The maximum number of rules per security group has been reached."
    );
    // The quota is per direction and per address family.
    let egress = authorize("sg-lambda", true, vec![tcp_443(cidr("10.11.0.0/24"), "")]);
    run(sim.authorize_security_group_rules(&egress)).unwrap();
    let ipv6 = authorize(
        "sg-lambda",
        false,
        vec![tcp_443(RulePeer::CidrIpv6("2001:db8::/64".into()), "")],
    );
    run(sim.authorize_security_group_rules(&ipv6)).unwrap();
}

#[test]
fn an_authorize_that_would_exceed_the_quota_adds_nothing() {
    let sim = instant_sim();
    let rules: Vec<NewRule> = (0..61)
        .map(|i| tcp_443(cidr(&format!("10.10.{i}.0/24")), ""))
        .collect();
    let err = run(sim.authorize_security_group_rules(&authorize("sg-zabbix", false, rules))).unwrap_err();
    assert_eq!(err.code, "RulesPerSecurityGroupLimitExceeded");
    assert!(group(&sim, "sg-zabbix").ip_permissions.is_empty());
}

#[test]
fn a_prefix_list_counts_as_its_maximum_size_and_a_group_reference_counts_for_both_families() {
    let sim = instant_sim();
    // pl-corp holds up to 20 IPv4 entries: with 41 IPv4 CIDRs that makes 61.
    let mut rules: Vec<NewRule> = (0..41)
        .map(|i| tcp_443(cidr(&format!("10.10.{i}.0/24")), ""))
        .collect();
    rules.push(tcp_443(RulePeer::PrefixList("pl-corp".into()), ""));
    let err =
        run(sim.authorize_security_group_rules(&authorize("sg-zabbix", false, rules.clone()))).unwrap_err();
    assert_eq!(err.code, "RulesPerSecurityGroupLimitExceeded");
    rules.remove(0);
    run(sim.authorize_security_group_rules(&authorize("sg-zabbix", false, rules))).unwrap();
    // IPv4 is full (60); a group reference also counts as an IPv4 rule, an IPv6 prefix list not.
    let by_group = authorize("sg-zabbix", false, vec![tcp_443(from_group("sg-lambda"), "")]);
    assert_eq!(
        run(sim.authorize_security_group_rules(&by_group))
            .unwrap_err()
            .code,
        "RulesPerSecurityGroupLimitExceeded"
    );
    let ipv6_list = authorize(
        "sg-zabbix",
        false,
        vec![tcp_443(RulePeer::PrefixList("pl-corp6".into()), "")],
    );
    run(sim.authorize_security_group_rules(&ipv6_list)).unwrap();
}

#[test]
fn peers_must_exist_and_be_well_formed() {
    let sim = instant_sim();
    let try_peer = |peer: RulePeer| {
        let request = authorize("sg-endpoint", false, vec![tcp_443(peer, "")]);
        run(sim.authorize_security_group_rules(&request)).unwrap_err()
    };
    let unknown_group = try_peer(from_group("sg-404"));
    assert_eq!(unknown_group.code, "InvalidGroup.NotFound");
    let other_vpc = try_peer(from_group("sg-other"));
    assert_eq!(other_vpc.code, "InvalidGroup.NotFound");
    assert!(other_vpc.message.contains("different networks"));
    assert_eq!(
        try_peer(RulePeer::PrefixList("pl-404".into())).code,
        "InvalidPrefixListID.NotFound"
    );
    assert_eq!(try_peer(cidr("10.0.0.0/33")).code, "InvalidParameterValue");
    assert_eq!(try_peer(cidr("10.0.0.1")).code, "InvalidParameterValue");
    let bad_ports = NewRule {
        from_port: 444,
        to_port: 443,
        ..tcp_443(cidr("10.0.0.0/16"), "")
    };
    let err = run(sim.authorize_security_group_rules(&authorize("sg-endpoint", false, vec![bad_ports])))
        .unwrap_err();
    assert_eq!(err.code, "InvalidParameterValue");
}

#[test]
fn an_unknown_group_is_invalid_group_not_found_for_authorize_and_revoke() {
    let sim = instant_sim();
    let request = authorize("sg-404", false, vec![tcp_443(cidr("10.0.0.0/16"), "")]);
    let err = run(sim.authorize_security_group_rules(&request)).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.kind),
        ("InvalidGroup.NotFound", ErrorKind::NotFound)
    );
    assert_eq!(err.message, "The security group 'sg-404' does not exist");
    let err = run(sim.revoke_security_group_rules(&revoke("sg-404", false, &["sgr-0existing".into()])))
        .unwrap_err();
    assert_eq!(err.code, "InvalidGroup.NotFound");
}

#[test]
fn revoking_by_rule_id_removes_exactly_those_rules() {
    let sim = instant_sim();
    let created = run(sim.authorize_security_group_rules(&authorize(
        "sg-endpoint",
        false,
        vec![tcp_443(from_group("sg-zabbix"), "")],
    )))
    .unwrap()
    .value;
    let id = created[0].security_group_rule_id.clone();
    run(sim.revoke_security_group_rules(&revoke("sg-endpoint", false, std::slice::from_ref(&id)))).unwrap();
    let ids: Vec<String> = rules_of(&sim, "sg-endpoint")
        .into_iter()
        .map(|r| r.security_group_rule_id)
        .collect();
    assert!(!ids.contains(&id));
    assert!(ids.contains(&"sgr-0existing".to_string()));
    assert_eq!(sim.mutations().len(), 2);
}

#[test]
fn revoking_an_unknown_rule_id_is_invalid_security_group_rule_id_not_found_and_revokes_nothing() {
    let sim = instant_sim();
    let before = rules_of(&sim, "sg-endpoint");
    let ids = ["sgr-0existing".to_string(), "sgr-0404".to_string()];
    let err = run(sim.revoke_security_group_rules(&revoke("sg-endpoint", false, &ids))).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.kind),
        ("InvalidSecurityGroupRuleId.NotFound", ErrorKind::NotFound)
    );
    assert_eq!(
        err.message,
        "The security group rule ID 'sgr-0404' does not exist"
    );
    // An ingress rule revoked as egress is not found either.
    let err = run(sim.revoke_security_group_rules(&revoke("sg-endpoint", true, &ids[..1]))).unwrap_err();
    assert_eq!(err.code, "InvalidSecurityGroupRuleId.NotFound");
    assert_eq!(rules_of(&sim, "sg-endpoint"), before);
}

#[test]
fn rules_are_found_by_group_and_by_tag() {
    let sim = instant_sim();
    run(sim.authorize_security_group_rules(&authorize(
        "sg-endpoint",
        false,
        vec![tcp_443(from_group("sg-zabbix"), "")],
    )))
    .unwrap();
    run(sim.authorize_security_group_rules(&authorize(
        "sg-zabbix",
        true,
        vec![tcp_443(from_group("sg-endpoint"), "")],
    )))
    .unwrap();
    let by_tag = RuleFilter {
        group_ids: vec![],
        tag: Some(("vpce-rollout.dev/uid".into(), OWNER_UID.into())),
        tag_any_of: None,
    };
    let owned = run(sim.describe_security_group_rules(&by_tag)).unwrap();
    let groups: Vec<&str> = owned.iter().map(|r| r.group_id.as_str()).collect();
    assert_eq!(groups, ["sg-endpoint", "sg-zabbix"]);
    let both = RuleFilter {
        group_ids: vec!["sg-zabbix".into()],
        ..by_tag.clone()
    };
    assert_eq!(run(sim.describe_security_group_rules(&both)).unwrap().len(), 1);
    let team = RuleFilter {
        group_ids: vec![],
        tag: Some(("team".into(), "platform".into())),
        tag_any_of: None,
    };
    let theirs = run(sim.describe_security_group_rules(&team)).unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].security_group_rule_id, "sgr-0existing");
    assert_eq!(rules_of(&sim, "sg-endpoint").len(), 3, "2 ingress + 1 egress");
}

#[test]
fn ip_permissions_always_agree_with_the_rules() {
    let sim = instant_sim();
    let created = run(sim.authorize_security_group_rules(&authorize(
        "sg-endpoint",
        false,
        vec![
            tcp_443(from_group("sg-zabbix"), "zabbix"),
            tcp_443(cidr("10.0.9.0/24"), "office"),
        ],
    )))
    .unwrap()
    .value;
    let perms = group(&sim, "sg-endpoint").ip_permissions;
    assert_eq!(perms.len(), 1, "one permission per protocol and port range");
    let p = &perms[0];
    assert_eq!(
        (p.ip_protocol, p.from_port, p.to_port),
        (Protocol::Tcp, Some(443), Some(443))
    );
    let pairs: Vec<(&str, Option<&str>)> = p
        .user_id_group_pairs
        .iter()
        .map(|g| (g.group_id.as_str(), g.description.as_deref()))
        .collect();
    assert_eq!(
        pairs,
        [("sg-lambda", Some("lambda")), ("sg-zabbix", Some("zabbix"))]
    );
    assert_eq!(p.ip_ranges[0].cidr_ip, "10.0.9.0/24");
    assert_eq!(p.ip_ranges[0].description.as_deref(), Some("office"));

    let ids: Vec<String> = created.into_iter().map(|r| r.security_group_rule_id).collect();
    run(sim.revoke_security_group_rules(&revoke("sg-endpoint", false, &ids))).unwrap();
    run(sim.revoke_security_group_rules(&revoke("sg-endpoint", false, &["sgr-0existing".into()]))).unwrap();
    let g = group(&sim, "sg-endpoint");
    assert!(g.ip_permissions.is_empty());
    let egress = &g.ip_permissions_egress[0];
    assert_eq!(
        (egress.ip_protocol, egress.from_port, egress.to_port),
        (Protocol::All, None, None)
    );
}

#[test]
fn rules_from_the_snapshot_keep_their_ids_and_tags_and_the_others_get_ids() {
    let sim = instant_sim();
    let rules = rules_of(&sim, "sg-endpoint");
    let existing = rules.iter().find(|r| !r.is_egress).unwrap();
    assert_eq!(existing.security_group_rule_id, "sgr-0existing");
    assert_eq!(existing.tags[0].key, "team");
    let egress = rules.iter().find(|r| r.is_egress).unwrap();
    assert!(egress.security_group_rule_id.starts_with("sgr-0"));
    assert_eq!((egress.from_port, egress.to_port), (Some(-1), Some(-1)));
    assert_eq!(egress.cidr_ipv4.as_deref(), Some("0.0.0.0/0"));
}
