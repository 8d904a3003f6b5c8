//! One table row per analysis rule: the world, and which checks fail for which client.

use super::testkit::*;
use super::*;
use crate::api::InterfaceEndpointSpec;
use crate::model::IpPermission;

use Check::{ClientEgress, ClientSubnetNacl, EndpointIngress, EndpointSubnetNacl};

/// The endpoint exists: `eni-vpce` (10.0.1.10) in `subnet-a`, guarded by `sg-vpce`.
fn with_endpoint() -> World {
    World::new()
        .eni_typed("eni-vpce", "subnet-a", "10.0.1.10", &["sg-vpce"], "vpc_endpoint")
        .endpoint(&["eni-vpce"], &["subnet-a"], &["sg-vpce"])
}

/// [`with_endpoint`] plus the client `eni-c` (10.0.2.10 in `subnet-b`, group `sg-c` with the
/// given egress) and the endpoint group admitting with `ingress`.
fn client_world(ingress: Vec<IpPermission>, egress: Vec<IpPermission>) -> World {
    with_endpoint()
        .sg("sg-vpce", ingress, vec![])
        .sg("sg-c", vec![], egress)
        .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c"])
}

struct Case {
    name: &'static str,
    world: World,
    spec: InterfaceEndpointSpec,
    /// Each client and the checks failing for it, sorted (empty: reachable).
    expect: Vec<(&'static str, Vec<Check>)>,
}

fn case(name: &'static str, world: World, expect: Vec<(&'static str, Vec<Check>)>) -> Case {
    Case {
        name,
        world,
        spec: spec(),
        expect,
    }
}

fn run(cases: Vec<Case>) {
    for c in cases {
        let snapshot = c.world.build();
        let analysis = analyze(&c.spec, Some(&owner()), &snapshot)
            .unwrap_or_else(|e| panic!("{}: analysis failed: {e}", c.name));
        for (eni, want) in &c.expect {
            let verdict = analysis
                .clients
                .iter()
                .find(|v| v.network_interface_id == *eni)
                .unwrap_or_else(|| panic!("{}: {eni} is not a client", c.name));
            assert_eq!(
                &verdict.failing_checks(),
                want,
                "{}: {eni}: {:#?}",
                c.name,
                verdict.blocks
            );
        }
    }
}

#[test]
fn endpoint_ingress_rules_admit_clients_by_group_cidr_or_prefix_list() {
    let out = open_egress;
    run(vec![
        case(
            "an ingress rule referring to the client's group admits it",
            client_world(vec![https().group("sg-c")], out()),
            vec![("eni-c", vec![])],
        ),
        case(
            "an ingress rule referring to another group does not admit the client",
            client_world(vec![https().group("sg-other")], out()),
            vec![("eni-c", vec![EndpointIngress])],
        ),
        case(
            "an ingress CIDR containing the client's address admits it",
            client_world(vec![https().cidr("10.0.2.0/24")], out()),
            vec![("eni-c", vec![])],
        ),
        case(
            "an ingress CIDR not containing the client's address does not admit it",
            client_world(vec![https().cidr("10.0.3.0/24")], out()),
            vec![("eni-c", vec![EndpointIngress])],
        ),
        case(
            "an ingress rule for protocol -1 admits tcp 443 whatever its ports",
            client_world(vec![all_traffic().group("sg-c")], out()),
            vec![("eni-c", vec![])],
        ),
        case(
            "an ingress port range containing 443 admits the client",
            client_world(vec![rule("tcp", 400, 500).group("sg-c")], out()),
            vec![("eni-c", vec![])],
        ),
        case(
            "an ingress port range ending at 443 includes it",
            client_world(vec![rule("tcp", 0, 443).group("sg-c")], out()),
            vec![("eni-c", vec![])],
        ),
        case(
            "an ingress port range ending at 442 excludes 443",
            client_world(vec![rule("tcp", 1, 442).group("sg-c")], out()),
            vec![("eni-c", vec![EndpointIngress])],
        ),
        case(
            "an ingress port range starting at 444 excludes 443",
            client_world(vec![rule("tcp", 444, 1000).group("sg-c")], out()),
            vec![("eni-c", vec![EndpointIngress])],
        ),
        case(
            "an ingress rule for udp 443 does not admit tcp",
            client_world(vec![rule("udp", 443, 443).group("sg-c")], out()),
            vec![("eni-c", vec![EndpointIngress])],
        ),
        case(
            "an ingress rule for protocol number 6 is tcp",
            client_world(vec![rule("6", 443, 443).group("sg-c")], out()),
            vec![("eni-c", vec![])],
        ),
        case(
            "an ingress prefix list containing the client's address admits it",
            client_world(vec![https().prefix_list("pl-1")], out()).prefix_list("pl-1", &["10.0.2.0/24"]),
            vec![("eni-c", vec![])],
        ),
        case(
            "an ingress prefix list not containing the client's address does not admit it",
            client_world(vec![https().prefix_list("pl-1")], out()).prefix_list("pl-1", &["10.0.9.0/24"]),
            vec![("eni-c", vec![EndpointIngress])],
        ),
        case(
            "a prefix list whose entries the snapshot lacks admits nobody",
            client_world(vec![https().prefix_list("pl-missing")], out()),
            vec![("eni-c", vec![EndpointIngress])],
        ),
        case(
            "an IPv6 ingress rule never admits an IPv4 client",
            client_world(vec![https().cidr6("::/0")], out()),
            vec![("eni-c", vec![EndpointIngress])],
        ),
        case(
            "a client with several groups is admitted through any one of them",
            client_world(vec![https().group("sg-extra")], out())
                .sg("sg-extra", vec![], vec![])
                .eni("eni-two-groups", "subnet-b", "10.0.2.11", &["sg-c", "sg-extra"]),
            vec![("eni-c", vec![EndpointIngress]), ("eni-two-groups", vec![])],
        ),
        case(
            "an endpoint with several groups admits through any one of them",
            World::new()
                .sg("sg-vpce2", vec![https().group("sg-c")], vec![])
                .sg("sg-c", vec![], out())
                .eni_typed(
                    "eni-vpce",
                    "subnet-a",
                    "10.0.1.10",
                    &["sg-vpce", "sg-vpce2"],
                    "vpc_endpoint",
                )
                .endpoint(&["eni-vpce"], &["subnet-a"], &["sg-vpce", "sg-vpce2"])
                .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c"]),
            vec![("eni-c", vec![])],
        ),
    ]);
}

#[test]
fn client_egress_rules_must_reach_the_whole_destination() {
    let admit = || vec![https().group("sg-c")];
    // Before the endpoint exists the destination is all of subnet-a, 10.0.1.0/24.
    let subnet_world = |egress: Vec<IpPermission>| {
        World::new()
            .sg("sg-vpce", admit(), vec![])
            .sg("sg-c", vec![], egress)
            .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c"])
    };
    run(vec![
        case(
            "a client group without egress rules lets nothing out",
            client_world(admit(), vec![]),
            vec![("eni-c", vec![ClientEgress])],
        ),
        case(
            "an egress rule referring to the endpoint's group lets the client out",
            client_world(admit(), vec![https().group("sg-vpce")]),
            vec![("eni-c", vec![])],
        ),
        case(
            "an egress rule referring to another group does not",
            client_world(admit(), vec![https().group("sg-other")]),
            vec![("eni-c", vec![ClientEgress])],
        ),
        case(
            "an egress CIDR containing the endpoint ENI's address lets the client out",
            client_world(admit(), vec![https().cidr("10.0.1.10/32")]),
            vec![("eni-c", vec![])],
        ),
        case(
            "an egress rule for protocol -1 to 0.0.0.0/0 lets everything out",
            client_world(admit(), open_egress()),
            vec![("eni-c", vec![])],
        ),
        case(
            "an egress rule for tcp 80 does not let tcp 443 out",
            client_world(admit(), vec![rule("tcp", 80, 80).cidr("0.0.0.0/0")]),
            vec![("eni-c", vec![ClientEgress])],
        ),
        case(
            "an IPv6 egress rule never covers an IPv4 destination",
            client_world(admit(), vec![all_traffic().cidr6("::/0")]),
            vec![("eni-c", vec![ClientEgress])],
        ),
        case(
            "an egress prefix list covering the destination lets the client out",
            client_world(admit(), vec![https().prefix_list("pl-1")]).prefix_list("pl-1", &["10.0.1.0/24"]),
            vec![("eni-c", vec![])],
        ),
        case(
            "egress to half of a destination subnet does not cover it",
            subnet_world(vec![https().cidr("10.0.1.0/25")]),
            vec![("eni-c", vec![ClientEgress])],
        ),
        case(
            "egress rules of several client groups cover a destination subnet together",
            World::new()
                .sg("sg-vpce", vec![https().group("sg-c")], vec![])
                .sg("sg-c", vec![], vec![https().cidr("10.0.1.0/25")])
                .sg("sg-d", vec![], vec![https().prefix_list("pl-1")])
                .prefix_list("pl-1", &["10.0.1.128/25"])
                .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c", "sg-d"]),
            vec![("eni-c", vec![])],
        ),
        case(
            "an egress rule referring to the spec's group covers a subnet before the endpoint exists",
            subnet_world(vec![https().group("sg-vpce")]),
            vec![("eni-c", vec![])],
        ),
    ]);
}

#[test]
fn network_acls_are_evaluated_in_rule_order_both_ways() {
    let open = || client_world(vec![https().group("sg-c")], open_egress());
    let allow_in = || inbound(100, "allow", "0.0.0.0/0", "-1", None);
    let allow_out = || outbound(100, "allow", "0.0.0.0/0", "-1", None);
    run(vec![
        case(
            "an outbound deny in the client subnet's ACL blocks the client",
            open().nacl(
                "acl-b",
                &["subnet-b"],
                vec![
                    outbound(90, "deny", "10.0.1.0/24", "tcp", Some((443, 443))),
                    allow_out(),
                    allow_in(),
                ],
            ),
            vec![("eni-c", vec![ClientSubnetNacl])],
        ),
        case(
            "a lower-numbered allow wins over a later deny",
            open().nacl(
                "acl-b",
                &["subnet-b"],
                vec![
                    outbound(110, "deny", "10.0.1.0/24", "-1", None),
                    allow_out(),
                    allow_in(),
                ],
            ),
            vec![("eni-c", vec![])],
        ),
        case(
            "rules apply in rule-number order, not in the order listed",
            open().nacl(
                "acl-b",
                &["subnet-b"],
                vec![
                    allow_out(),
                    outbound(90, "deny", "10.0.1.0/24", "-1", None),
                    allow_in(),
                ],
            ),
            vec![("eni-c", vec![ClientSubnetNacl])],
        ),
        case(
            "return traffic into the client subnet must pass on every ephemeral port",
            open().nacl(
                "acl-b",
                &["subnet-b"],
                vec![
                    allow_out(),
                    inbound(100, "allow", "0.0.0.0/0", "tcp", Some((32768, 65535))),
                ],
            ),
            vec![("eni-c", vec![ClientSubnetNacl])],
        ),
        case(
            "return traffic allowed on 1024-65535 passes",
            open().nacl(
                "acl-b",
                &["subnet-b"],
                vec![
                    allow_out(),
                    inbound(100, "allow", "10.0.1.0/24", "tcp", Some((1024, 65535))),
                ],
            ),
            vec![("eni-c", vec![])],
        ),
        case(
            "an inbound deny from the client in the endpoint subnet's ACL blocks the client",
            open().nacl(
                "acl-a",
                &["subnet-a"],
                vec![
                    inbound(90, "deny", "10.0.2.0/24", "-1", None),
                    allow_in(),
                    allow_out(),
                ],
            ),
            vec![("eni-c", vec![EndpointSubnetNacl])],
        ),
        case(
            "the endpoint subnet's ACL must let ephemeral ports back out to the client",
            open().nacl(
                "acl-a",
                &["subnet-a"],
                vec![
                    allow_in(),
                    outbound(100, "allow", "0.0.0.0/0", "tcp", Some((443, 443))),
                ],
            ),
            vec![("eni-c", vec![EndpointSubnetNacl])],
        ),
        case(
            "traffic no ACL rule matches is denied",
            open().nacl("acl-b", &["subnet-b"], vec![allow_in()]),
            vec![("eni-c", vec![ClientSubnetNacl])],
        ),
        case(
            "an ACL rule for udp does not allow tcp",
            open().nacl(
                "acl-b",
                &["subnet-b"],
                vec![
                    allow_in(),
                    outbound(100, "allow", "0.0.0.0/0", "udp", Some((0, 65535))),
                ],
            ),
            vec![("eni-c", vec![ClientSubnetNacl])],
        ),
        case(
            "an IPv6 ACL rule never allows IPv4 traffic",
            open().nacl(
                "acl-b",
                &["subnet-b"],
                vec![allow_in(), outbound(100, "allow", "::/0", "-1", None)],
            ),
            vec![("eni-c", vec![ClientSubnetNacl])],
        ),
        case(
            "ACLs are skipped when client and endpoint share a subnet",
            open()
                .eni("eni-same", "subnet-a", "10.0.1.20", &["sg-c"])
                .nacl("acl-a", &["subnet-a"], vec![]),
            vec![("eni-same", vec![]), ("eni-c", vec![EndpointSubnetNacl])],
        ),
        case(
            "a subnet without an association uses the VPC's default ACL",
            open()
                .default_acl(vec![])
                .nacl("acl-a", &["subnet-a"], allow_all_entries()),
            vec![("eni-c", vec![ClientSubnetNacl])],
        ),
        case(
            "a subnet without any ACL in the snapshot cannot be verified and counts as blocked",
            open().without_acls(),
            vec![("eni-c", vec![ClientSubnetNacl, EndpointSubnetNacl])],
        ),
        case(
            "a whole-subnet destination passes an ACL only if every address in it does",
            World::new()
                .sg("sg-vpce", vec![https().group("sg-c")], vec![])
                .sg("sg-c", vec![], open_egress())
                .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c"])
                .nacl(
                    "acl-b",
                    &["subnet-b"],
                    vec![
                        allow_in(),
                        outbound(100, "allow", "10.0.1.0/25", "tcp", Some((443, 443))),
                    ],
                ),
            vec![("eni-c", vec![ClientSubnetNacl])],
        ),
    ]);
}

#[test]
fn the_star_entry_of_an_acl_reads_as_the_default_deny() {
    let snapshot = client_world(vec![https().group("sg-c")], open_egress())
        .default_acl(vec![
            inbound(32767, "deny", "0.0.0.0/0", "-1", None),
            outbound(32767, "deny", "0.0.0.0/0", "-1", None),
        ])
        .build();
    let analysis = analyze(&spec(), Some(&owner()), &snapshot).unwrap();
    let c = &analysis.clients[0];
    assert_eq!(c.failing_checks(), [ClientSubnetNacl, EndpointSubnetNacl]);
    assert!(
        c.blocks[0].detail.contains("(default deny)"),
        "{}",
        c.blocks[0].detail
    );
}

#[test]
fn ipv6_clients_and_destinations_are_checked_with_ipv6_rules() {
    let v6_acl = || {
        vec![
            inbound(100, "allow", "::/0", "-1", None),
            outbound(100, "allow", "::/0", "-1", None),
        ]
    };
    let world = || {
        World::new()
            .subnet_v6("subnet-6a", "2001:db8:1::/64")
            .subnet_v6("subnet-6b", "2001:db8:2::/64")
            .sg("sg-c", vec![], vec![all_traffic().cidr6("::/0")])
            .eni("eni-6", "subnet-6b", "2001:db8:2::10", &["sg-c"])
    };
    let v6_spec = || InterfaceEndpointSpec {
        subnet_ids: vec!["subnet-6a".into()],
        ..spec()
    };
    run(vec![
        Case {
            name: "an IPv6 client is admitted by an IPv6 CIDR",
            world: world()
                .sg("sg-vpce", vec![https().cidr6("2001:db8:2::/64")], vec![])
                .nacl("acl-6", &["subnet-6a", "subnet-6b"], v6_acl()),
            spec: v6_spec(),
            expect: vec![("eni-6", vec![])],
        },
        Case {
            name: "an IPv4 CIDR never admits an IPv6 client",
            world: world()
                .sg("sg-vpce", vec![https().cidr("0.0.0.0/0")], vec![])
                .nacl("acl-6", &["subnet-6a", "subnet-6b"], v6_acl()),
            spec: v6_spec(),
            expect: vec![("eni-6", vec![EndpointIngress])],
        },
        Case {
            name: "IPv4 ACL entries never allow IPv6 traffic",
            world: world().sg("sg-vpce", vec![https().cidr6("2001:db8:2::/64")], vec![]),
            spec: v6_spec(),
            expect: vec![("eni-6", vec![ClientSubnetNacl, EndpointSubnetNacl])],
        },
    ]);
}

#[test]
fn a_client_is_reachable_only_when_every_address_it_sends_from_is() {
    let out = open_egress;
    // eni-c is a node: primary 10.0.2.10, pods on a secondary address and on a delegated prefix.
    let node = |ingress: Vec<IpPermission>| {
        client_world(ingress, out()).addresses("eni-c", &["10.0.2.20", "10.0.2.48/28"])
    };
    let allow_in = || inbound(100, "allow", "0.0.0.0/0", "-1", None);
    let allow_out = || outbound(100, "allow", "0.0.0.0/0", "-1", None);
    run(vec![
        case(
            "a pod on a secondary IP is blocked by a CIDR rule that admits only the primary",
            node(vec![https().cidr("10.0.2.10/32")]),
            vec![("eni-c", vec![EndpointIngress])],
        ),
        case(
            "a CIDR rule covering every address and prefix of the node admits it",
            node(vec![https().cidr("10.0.2.0/24")]),
            vec![("eni-c", vec![])],
        ),
        case(
            "a rule referring to the node's group admits every address of the ENI",
            node(vec![https().group("sg-c")]),
            vec![("eni-c", vec![])],
        ),
        case(
            "a prefix is admitted only when all of it is: half of it inside the CIDR is not enough",
            node(vec![
                https().cidr("10.0.2.10/32"),
                https().cidr("10.0.2.20/32"),
                https().cidr("10.0.2.48/29"),
            ]),
            vec![("eni-c", vec![EndpointIngress])],
        ),
        case(
            "an IPv4 prefix half covered by the endpoint subnet's NACL blocks the node",
            node(vec![https().group("sg-c")]).nacl(
                "acl-a",
                &["subnet-a"],
                vec![
                    inbound(90, "allow", "10.0.2.0/28", "tcp", Some((443, 443))),
                    inbound(95, "allow", "10.0.2.16/28", "tcp", Some((443, 443))),
                    inbound(100, "allow", "10.0.2.48/29", "tcp", Some((443, 443))),
                    allow_out(),
                ],
            ),
            vec![("eni-c", vec![EndpointSubnetNacl])],
        ),
        case(
            "the client subnet's NACL is about the destination, whatever address the client sends from",
            node(vec![https().group("sg-c")]).nacl(
                "acl-b",
                &["subnet-b"],
                vec![
                    outbound(100, "allow", "10.0.1.10/32", "tcp", Some((443, 443))),
                    allow_in(),
                ],
            ),
            vec![("eni-c", vec![])],
        ),
    ]);
}

#[test]
fn blocks_name_the_addresses_that_fail_and_the_plan_still_refers_to_groups() {
    let snapshot = client_world(
        vec![https().cidr("10.0.2.10/32").cidr("10.0.2.48/29")],
        open_egress(),
    )
    .addresses("eni-c", &["10.0.2.20", "10.0.2.48/28"])
    .nacl(
        "acl-a",
        &["subnet-a"],
        vec![
            inbound(90, "deny", "10.0.2.56/29", "-1", None),
            inbound(100, "allow", "0.0.0.0/0", "-1", None),
            outbound(100, "allow", "0.0.0.0/0", "-1", None),
        ],
    )
    .build();
    let analysis = analyze(&spec(), Some(&owner()), &snapshot).unwrap();
    let c = &analysis.clients[0];
    assert_eq!(c.address.to_string(), "10.0.2.10");
    let sources: Vec<String> = c.sources.iter().map(Source::to_string).collect();
    assert_eq!(
        sources,
        [
            "10.0.2.10",
            "10.0.2.20 (secondary private IPv4)",
            "10.0.2.48/28 (IPv4 prefix)"
        ]
    );
    let blocks: Vec<(Check, Vec<String>, &str)> = c
        .blocks
        .iter()
        .map(|b| {
            (
                b.check,
                b.sources.iter().map(Source::text).collect(),
                b.detail.as_str(),
            )
        })
        .collect();
    assert_eq!(
        blocks,
        [
            (
                EndpointIngress,
                vec!["10.0.2.20".to_string(), "10.0.2.48/28".to_string()],
                "no ingress rule of the endpoint's security groups (sg-vpce) allows tcp 443 from \
                 10.0.2.20 (secondary private IPv4), 10.0.2.48/28 (IPv4 prefix; 10.0.2.56 is not covered) \
                 or from its security groups (sg-c)"
            ),
            (
                EndpointSubnetNacl,
                vec!["10.0.2.48/28".to_string()],
                "acl-a (subnet-a) inbound rule 90 denies tcp 443 from 10.0.2.56/29"
            ),
        ]
    );
    // The node's group is the fix: one rule for every address, pods included.
    let rules: Vec<String> = analysis
        .remediation
        .rules
        .iter()
        .map(RuleChange::canonical)
        .collect();
    assert_eq!(rules, ["sg-vpce ingress tcp 443-443 group:sg-c"]);
    let after = analyze(
        &spec(),
        Some(&owner()),
        &apply_rules(&snapshot, &analysis.remediation.rules),
    )
    .unwrap();
    assert_eq!(after.clients[0].failing_checks(), [EndpointSubnetNacl]);
}

#[test]
fn ipv6_addresses_matter_where_the_endpoint_answers_on_ipv6() {
    let dual_stack_endpoint = || {
        World::new()
            .eni_typed("eni-vpce", "subnet-a", "10.0.1.10", &["sg-vpce"], "vpc_endpoint")
            .addresses("eni-vpce", &["2600:1f14:1::10"])
            .endpoint(&["eni-vpce"], &["subnet-a"], &["sg-vpce"])
    };
    let v4_only_ingress = || vec![https().cidr("10.0.2.0/24")];
    let both_ways_egress = || vec![all_traffic().cidr("0.0.0.0/0").cidr6("::/0")];
    run(vec![
        case(
            "an IPv4-only endpoint never sees the client's IPv6 addresses",
            client_world(v4_only_ingress(), open_egress()).addresses("eni-c", &["2600:1f14:2::10"]),
            vec![("eni-c", vec![])],
        ),
        case(
            "an IPv4-only client never uses a dual-stack endpoint's IPv6 address",
            dual_stack_endpoint()
                .sg("sg-vpce", v4_only_ingress(), vec![])
                .sg("sg-c", vec![], open_egress())
                .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c"]),
            vec![("eni-c", vec![])],
        ),
        case(
            "a dual-stack client of a dual-stack endpoint must be admitted from its IPv6 address too",
            dual_stack_endpoint()
                .sg("sg-vpce", v4_only_ingress(), vec![])
                .sg("sg-c", vec![], both_ways_egress())
                .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c"])
                .addresses("eni-c", &["2600:1f14:2::10"])
                .default_acl(vec![
                    inbound(100, "allow", "0.0.0.0/0", "-1", None),
                    inbound(101, "allow", "::/0", "-1", None),
                    outbound(100, "allow", "0.0.0.0/0", "-1", None),
                    outbound(101, "allow", "::/0", "-1", None),
                ]),
            vec![("eni-c", vec![EndpointIngress])],
        ),
        case(
            "an IPv6 prefix is admitted only when all of it is",
            dual_stack_endpoint()
                .sg(
                    "sg-vpce",
                    vec![https().cidr("10.0.2.0/24").cidr6("2600:1f14:2::/64")],
                    vec![],
                )
                .sg("sg-c", vec![], both_ways_egress())
                .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c"])
                .addresses("eni-c", &["2600:1f14:2::10", "2600:1f14:3::/80"])
                .default_acl(vec![
                    inbound(100, "allow", "0.0.0.0/0", "-1", None),
                    inbound(101, "allow", "::/0", "-1", None),
                    outbound(100, "allow", "0.0.0.0/0", "-1", None),
                    outbound(101, "allow", "::/0", "-1", None),
                ]),
            vec![("eni-c", vec![EndpointIngress])],
        ),
    ]);
}

#[test]
fn a_client_blocked_every_way_carries_all_four_checks() {
    let world = client_world(vec![], vec![])
        .nacl("acl-a", &["subnet-a"], vec![])
        .nacl("acl-b", &["subnet-b"], vec![]);
    run(vec![case(
        "nothing allowed anywhere",
        world,
        vec![(
            "eni-c",
            vec![
                EndpointIngress,
                ClientEgress,
                ClientSubnetNacl,
                EndpointSubnetNacl,
            ],
        )],
    )]);
}

#[test]
fn zabbix_agent_is_blocked_when_endpoint_sg_only_admits_lambda() {
    let snapshot = with_endpoint()
        .sg("sg-vpce", vec![https().group("sg-lambda")], vec![])
        .sg("sg-lambda", vec![], open_egress())
        .sg("sg-zabbix", vec![], open_egress())
        .eni_typed("eni-lambda", "subnet-b", "10.0.2.20", &["sg-lambda"], "lambda")
        .eni("eni-zabbix", "subnet-b", "10.0.2.30", &["sg-zabbix"])
        .eni_typed("eni-nat", "subnet-b", "10.0.2.5", &["sg-zabbix"], "natGateway")
        .build();
    let analysis = analyze(&spec(), Some(&owner()), &snapshot).unwrap();

    let ids: Vec<&str> = analysis
        .clients
        .iter()
        .map(|c| c.network_interface_id.as_str())
        .collect();
    assert_eq!(ids, ["eni-lambda", "eni-zabbix"]);
    assert!(analysis.clients[0].is_reachable());
    let zabbix = &analysis.clients[1];
    assert_eq!(zabbix.failing_checks(), [EndpointIngress]);
    assert_eq!(
        zabbix.blocks[0].detail,
        "no ingress rule of the endpoint's security groups (sg-vpce) allows tcp 443 from 10.0.2.30 \
         or from its security groups (sg-zabbix)"
    );
    assert_eq!(zabbix.blocks[0].destination.to_string(), "10.0.1.10/32");
    assert_eq!(
        analysis.remediation.rules,
        [RuleChange {
            group_id: "sg-vpce".into(),
            direction: Direction::Ingress,
            protocol: Protocol::Tcp,
            from_port: 443,
            to_port: 443,
            peer: RulePeer::Group("sg-zabbix".into()),
            clears: EndpointIngress,
        }]
    );
    assert!(analysis.remediation.unfixable.is_empty());
    assert_eq!(analysis.endpoint_id.as_deref(), Some("vpce-1"));
}

#[test]
fn details_say_which_rule_or_acl_entry_stops_the_traffic() {
    let snapshot = client_world(vec![https().group("sg-c")], vec![https().cidr("10.0.1.0/25")])
        .nacl(
            "acl-b",
            &["subnet-b"],
            vec![
                outbound(90, "deny", "10.0.1.0/24", "tcp", Some((443, 443))),
                outbound(100, "allow", "0.0.0.0/0", "-1", None),
                inbound(100, "allow", "0.0.0.0/0", "tcp", Some((32768, 65535))),
            ],
        )
        .build();
    let analysis = analyze(&spec(), Some(&owner()), &snapshot).unwrap();
    let details: Vec<&str> = analysis.clients[0]
        .blocks
        .iter()
        .map(|b| b.detail.as_str())
        .collect();
    assert_eq!(
        details,
        ["acl-b (subnet-b) outbound rule 90 denies tcp 443 to 10.0.1.10; \
          acl-b (subnet-b) inbound: no rule allows tcp 1024-32767 from 10.0.1.10 (default deny)"]
    );

    // Before the endpoint exists: the whole subnet, and which part of it is not covered.
    let snapshot = World::new()
        .sg("sg-vpce", vec![https().group("sg-c")], vec![])
        .sg("sg-c", vec![], vec![https().cidr("10.0.1.0/25")])
        .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c"])
        .nacl(
            "acl-a",
            &["subnet-a"],
            vec![
                inbound(80, "allow", "10.0.2.0/24", "tcp", Some((443, 443))),
                outbound(90, "deny", "10.0.2.0/24", "tcp", Some((1024, 2047))),
                outbound(100, "allow", "0.0.0.0/0", "-1", None),
            ],
        )
        .build();
    let analysis = analyze(&spec(), Some(&owner()), &snapshot).unwrap();
    let details: Vec<&str> = analysis.clients[0]
        .blocks
        .iter()
        .map(|b| b.detail.as_str())
        .collect();
    assert_eq!(
        details,
        [
            "no egress rule of the client's security groups (sg-c) allows tcp 443 to all of 10.0.1.0/24 \
             (10.0.1.128 is not covered) or to the endpoint's security groups (sg-vpce)",
            "acl-a (subnet-a) outbound rule 90 denies tcp 1024-2047 to 10.0.2.10",
        ]
    );
}

#[test]
fn interface_types_that_never_call_apis_are_excluded_and_the_rest_are_clients() {
    let mut world = with_endpoint();
    let types = [
        ("eni-nat1", "natGateway", false),
        ("eni-nat2", "nat_gateway", false),
        ("eni-other-vpce", "vpc_endpoint", false),
        ("eni-gwlb", "gateway_load_balancer", false),
        ("eni-gwlbe", "gateway_load_balancer_endpoint", false),
        ("eni-tgw", "transit_gateway", false),
        ("eni-alb", "load_balancer", false),
        ("eni-nlb", "network_load_balancer", false),
        ("eni-efs", "efs", false),
        ("eni-ga", "global_accelerator_managed", false),
        ("eni-apigw", "api_gateway_managed", false),
        ("eni-iot", "iot_rules_managed", false),
        ("eni-qs", "quicksight", false),
        ("eni-ec2", "interface", true),
        ("eni-lambda", "lambda", true),
        ("eni-branch", "branch", true),
        ("eni-trunk", "trunk", true),
        ("eni-efa", "efa", true),
        ("eni-new", "some_future_type", true),
    ];
    for (i, (id, t, _)) in types.iter().enumerate() {
        world = world.eni_typed(id, "subnet-b", &format!("10.0.2.{}", i + 10), &["sg-c"], t);
    }
    let snapshot = world.sg("sg-c", vec![], vec![]).build();
    let analysis = analyze(&spec(), Some(&owner()), &snapshot).unwrap();
    for (id, t, is_client) in types {
        let client = analysis.clients.iter().any(|c| c.network_interface_id == id);
        assert_eq!(client, is_client, "{id} ({t})");
        if !is_client {
            let ex = analysis
                .excluded
                .iter()
                .find(|e| e.network_interface_id == id)
                .unwrap();
            let ExclusionReason::ServiceInterface(row) = &ex.reason else {
                panic!("{id}: {:?}", ex.reason);
            };
            assert_eq!(
                row.sign,
                Sign::InterfaceType(row_type(t)),
                "{id}: the row of its type, however AWS spells it"
            );
        }
    }
    let own = analysis
        .excluded
        .iter()
        .find(|e| e.network_interface_id == "eni-vpce")
        .unwrap();
    assert_eq!(own.reason, ExclusionReason::EndpointInterface);
}

/// The spelling of `t` in [`NOT_CLIENTS`].
fn row_type(t: &str) -> &'static str {
    NOT_CLIENTS
        .iter()
        .find_map(|row| match row.sign {
            Sign::InterfaceType(r) if normalize_interface_type(r) == normalize_interface_type(t) => Some(r),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no row for {t}"))
}

/// Each ENI and why it is not a client (`None`: it is a client), for `spec` in `world`.
fn exclusions(world: World, spec: &InterfaceEndpointSpec) -> Vec<(String, Option<String>)> {
    let analysis = analyze(spec, Some(&owner()), &world.build()).unwrap();
    let mut all: Vec<(String, Option<String>)> = analysis
        .clients
        .iter()
        .map(|c| (c.network_interface_id.clone(), None))
        .chain(
            analysis
                .excluded
                .iter()
                .map(|e| (e.network_interface_id.clone(), Some(e.reason.to_string()))),
        )
        .collect();
    all.sort();
    all
}

#[test]
fn enis_of_services_that_never_call_the_endpoint_are_not_clients_and_say_why() {
    let vpc = || {
        with_endpoint()
            .eni("eni-rds", "subnet-b", "10.0.2.10", &["sg-db"])
            .made_by("eni-rds", "RDSNetworkInterface", "amazon-rds", true)
            .eni("eni-resolver", "subnet-b", "10.0.2.11", &["sg-dns"])
            .made_by(
                "eni-resolver",
                "Route 53 Resolver: rslvr-in-55829d25693e4b729:rni-9494385465134fa5a",
                "812285487201",
                true,
            )
            .eni("eni-alb", "subnet-b", "10.0.2.12", &["sg-alb"])
            .made_by("eni-alb", "ELB app/web/50dc6c495c0c9188", "amazon-elb", true)
            .eni("eni-eks", "subnet-b", "10.0.2.13", &["sg-eks"])
            .made_by(
                "eni-eks",
                "Amazon EKS prod",
                "AROAIORXPPLFOF7XU4KUQ:AmazonEKS",
                false,
            )
            .eni_typed("eni-lambda", "subnet-b", "10.0.2.14", &["sg-fn"], "lambda")
            .made_by(
                "eni-lambda",
                "AWS Lambda VPC ENI-shipper-1a2b3c4d",
                "AROAEXAMPLE:shipper",
                true,
            )
            .eni("eni-task", "subnet-b", "10.0.2.15", &["sg-task"])
            .made_by(
                "eni-task",
                "arn:aws:ecs:ap-northeast-1:111122223333:attachment/9812f5e5",
                "578734482556",
                true,
            )
            .eni("eni-spare", "subnet-b", "10.0.2.16", &["sg-app"])
            .status("eni-spare", "available")
            .eni("eni-booting", "subnet-b", "10.0.2.17", &["sg-app"])
            .status("eni-booting", "attaching")
            .eni("eni-pod", "subnet-b", "10.0.2.18", &["sg-app"])
            .status("eni-pod", "associated")
            .eni("eni-copycat", "subnet-b", "10.0.2.19", &["sg-app"])
            .made_by("eni-copycat", "RDSNetworkInterface", "111122223333", false)
            .eni("eni-fake-eks", "subnet-b", "10.0.2.20", &["sg-app"])
            .made_by("eni-fake-eks", "Amazon EKS prod", "AROAEXAMPLE:terraform", false)
    };
    let client = || None::<String>;
    let not = |reason: &str| Some(reason.to_string());
    assert_eq!(
        exclusions(vpc(), &spec()),
        [
            (
                "eni-alb".to_string(),
                not(
                    "Elastic Load Balancing (requester-managed, description \"ELB…\"): \
                load balancer nodes proxy to targets; ELB publishes their logs and metrics from outside the VPC"
                )
            ),
            ("eni-booting".to_string(), client()),
            ("eni-copycat".to_string(), client()),
            (
                "eni-eks".to_string(),
                not(
                    "Amazon EKS control plane (description \"Amazon EKS…\", requester *:AmazonEKS): \
                the API server reaches nodes through it and calls AWS APIs from its own VPC"
                )
            ),
            ("eni-fake-eks".to_string(), client()),
            ("eni-lambda".to_string(), client()),
            ("eni-pod".to_string(), client()),
            (
                "eni-rds".to_string(),
                not(
                    "Amazon RDS (requester-managed, description \"RDSNetworkInterface…\"): \
                a database instance serves connections and calls no other AWS API from the VPC"
                )
            ),
            (
                "eni-resolver".to_string(),
                not(
                    "Route 53 Resolver endpoint (description \"Route 53 Resolver: rslvr-…\"): \
                forwards DNS queries and calls no AWS API"
                )
            ),
            (
                "eni-spare".to_string(),
                not("detached (status available): it sends nothing")
            ),
            ("eni-task".to_string(), client()),
            ("eni-vpce".to_string(), not("endpoint network interface")),
        ],
        "an RDS ENI, a Resolver endpoint's, an ALB's, the EKS control plane's and a detached ENI are \
         not clients; a Lambda's, an ECS task's, an ENI attaching, a pod's branch ENI, and ENIs that \
         only look like a service's are"
    );

    // RDS engines call S3, Lambda, KMS and a few others from the VPC: for those, they are clients.
    for service in ["s3", "lambda", "kms", "bedrock-runtime"] {
        let s3 = InterfaceEndpointSpec {
            service_name: format!("com.amazonaws.ap-northeast-1.{service}"),
            ..spec()
        };
        let rds = exclusions(vpc(), &s3)
            .into_iter()
            .find(|(id, _)| id == "eni-rds")
            .unwrap();
        assert_eq!(rds.1, None, "an RDS ENI is a client of {service}");
    }
    let cognito = InterfaceEndpointSpec {
        service_name: "com.amazonaws.ap-northeast-1.cognito-idp".into(),
        ..spec()
    };
    let alb = exclusions(vpc(), &cognito)
        .into_iter()
        .find(|(id, _)| id == "eni-alb")
        .unwrap();
    assert_eq!(
        alb.1, None,
        "an ALB authenticating with Cognito calls the user pool"
    );
}

#[test]
fn an_endpoint_eni_of_the_older_interface_type_is_not_a_client() {
    let world = with_endpoint()
        .eni("eni-old-vpce", "subnet-b", "10.0.2.10", &["sg-other-vpce"])
        .made_by(
            "eni-old-vpce",
            "VPC Endpoint Interface vpce-0d8ddce4be80e4474",
            "727180483921",
            true,
        );
    let reasons = exclusions(world, &spec());
    assert_eq!(
        reasons[0].1.as_deref(),
        Some(
            "interface VPC endpoint (requester-managed, description \"VPC Endpoint Interface…\"): \
             another endpoint's ENI only receives traffic"
        )
    );
}

#[test]
fn spec_clients_selects_and_excludes_with_a_reason_for_each() {
    let world = || {
        with_endpoint()
            .eni("eni-app", "subnet-b", "10.0.2.10", &["sg-app"])
            .eni("eni-batch", "subnet-b", "10.0.2.11", &["sg-batch"])
            .eni("eni-both", "subnet-b", "10.0.2.12", &["sg-app", "sg-legacy"])
            .eni("eni-noisy", "subnet-b", "10.0.2.13", &["sg-app"])
            .eni_typed("eni-lambda", "subnet-b", "10.0.2.14", &["sg-app"], "lambda")
            .eni("eni-no-ip", "subnet-b", "", &["sg-app"])
            .foreign_eni("eni-elsewhere", "vpc-2")
            .build()
    };
    let reasons = |spec: &InterfaceEndpointSpec| -> (Vec<String>, Vec<(String, ExclusionReason)>) {
        let analysis = analyze(spec, Some(&owner()), &world()).unwrap();
        let clients = analysis
            .clients
            .iter()
            .map(|c| c.network_interface_id.clone())
            .collect();
        let excluded = analysis
            .excluded
            .into_iter()
            .map(|e| (e.network_interface_id, e.reason))
            .collect();
        (clients, excluded)
    };

    let mut s = spec();
    s.clients.security_group_ids = Some(vec!["sg-app".into()]);
    s.clients.exclude.network_interface_ids = vec!["eni-noisy".into()];
    s.clients.exclude.security_group_ids = vec!["sg-legacy".into()];
    s.clients.exclude.interface_types = vec!["Lambda".into()];
    let (clients, excluded) = reasons(&s);
    assert_eq!(clients, ["eni-app"]);
    assert_eq!(
        excluded,
        [
            ("eni-batch".to_string(), ExclusionReason::NotSelected),
            (
                "eni-both".to_string(),
                ExclusionReason::ExcludedSecurityGroup("sg-legacy".into())
            ),
            (
                "eni-lambda".to_string(),
                ExclusionReason::InterfaceType("lambda".into())
            ),
            ("eni-no-ip".to_string(), ExclusionReason::NoAddress),
            ("eni-noisy".to_string(), ExclusionReason::ExcludedInterface),
            ("eni-vpce".to_string(), ExclusionReason::EndpointInterface),
        ],
        "ENIs of other VPCs are not even listed"
    );

    // An empty selection is no selection: every ENI counts.
    let mut s = spec();
    s.clients.security_group_ids = Some(vec![]);
    let (clients, _) = reasons(&s);
    assert_eq!(
        clients,
        ["eni-app", "eni-batch", "eni-both", "eni-lambda", "eni-noisy"]
    );
}

fn destinations(world: World, spec: &InterfaceEndpointSpec, owner: Option<&Owner>) -> Vec<String> {
    let analysis = analyze(spec, owner, &world.build()).unwrap();
    analysis
        .destinations
        .iter()
        .map(|d| {
            format!(
                "{} {} {} [{}]",
                d.subnet_id,
                d.net,
                d.network_interface_id.as_deref().unwrap_or("whole-subnet"),
                d.security_group_ids.join(",")
            )
        })
        .collect()
}

#[test]
fn destinations_are_the_endpoint_enis_once_it_exists_and_whole_subnets_before() {
    let two_subnets = InterfaceEndpointSpec {
        subnet_ids: vec!["subnet-b".into(), "subnet-a".into()],
        ..spec()
    };
    let endpoint = || {
        World::new()
            .sg("sg-observed", vec![], vec![])
            .eni_typed(
                "eni-e1",
                "subnet-a",
                "10.0.1.10",
                &["sg-observed"],
                "vpc_endpoint",
            )
            .eni_typed(
                "eni-e2",
                "subnet-b",
                "10.0.2.10",
                &["sg-observed"],
                "vpc_endpoint",
            )
    };
    let o = owner();

    assert_eq!(
        destinations(World::new(), &two_subnets, Some(&o)),
        [
            "subnet-a 10.0.1.0/24 whole-subnet [sg-vpce]",
            "subnet-b 10.0.2.0/24 whole-subnet [sg-vpce]"
        ],
        "no endpoint yet: the spec's subnets and groups"
    );
    assert_eq!(
        destinations(
            endpoint().endpoint(&["eni-e2", "eni-e1"], &["subnet-a", "subnet-b"], &["sg-observed"]),
            &two_subnets,
            Some(&o)
        ),
        [
            "subnet-a 10.0.1.10/32 eni-e1 [sg-observed]",
            "subnet-b 10.0.2.10/32 eni-e2 [sg-observed]"
        ],
        "the endpoint's ENIs and its observed groups"
    );
    assert_eq!(
        destinations(
            endpoint().endpoint(
                &["eni-e1", "eni-gone"],
                &["subnet-a", "subnet-b"],
                &["sg-observed"]
            ),
            &two_subnets,
            Some(&o)
        ),
        [
            "subnet-a 10.0.1.10/32 eni-e1 [sg-observed]",
            "subnet-b 10.0.2.0/24 whole-subnet [sg-observed]"
        ],
        "an endpoint ENI missing from the snapshot: its subnet is checked whole"
    );
    assert_eq!(
        destinations(
            endpoint().endpoint(&[], &["subnet-a"], &["sg-observed"]),
            &two_subnets,
            Some(&o)
        ),
        ["subnet-a 10.0.1.0/24 whole-subnet [sg-observed]"],
        "a pending endpoint without ENIs yet: its subnets, whole"
    );
    assert_eq!(
        destinations(
            endpoint().endpoint_tagged(
                "vpce-x",
                &["eni-e1"],
                &["subnet-a"],
                &["sg-observed"],
                other_uid_tags()
            ),
            &spec(),
            Some(&o)
        ),
        ["subnet-a 10.0.1.0/24 whole-subnet [sg-vpce]"],
        "an endpoint of another object with the same name (other UID) is not ours"
    );
    let no_uid = Owner {
        uid: String::new(),
        ..owner()
    };
    assert_eq!(
        destinations(
            endpoint().endpoint_tagged(
                "vpce-x",
                &["eni-e1"],
                &["subnet-a"],
                &["sg-observed"],
                owner_tag_only()
            ),
            &spec(),
            Some(&no_uid)
        ),
        ["subnet-a 10.0.1.10/32 eni-e1 [sg-observed]"],
        "without a UID (offline plan) the owner tag alone identifies the endpoint"
    );
    assert_eq!(
        destinations(
            endpoint().endpoint_tagged(
                "vpce-x",
                &["eni-e1"],
                &["subnet-a"],
                &["sg-observed"],
                owner_tag_only()
            ),
            &spec(),
            Some(&o)
        ),
        ["subnet-a 10.0.1.0/24 whole-subnet [sg-vpce]"],
        "with a UID both tags must match"
    );
    let adopting = crate::api::InterfaceEndpointSpec {
        adopt: Some(crate::api::Adopt {
            vpc_endpoint_id: "vpce-x".into(),
        }),
        ..spec()
    };
    assert_eq!(
        destinations(
            endpoint().endpoint_tagged("vpce-x", &["eni-e1"], &["subnet-a"], &["sg-observed"], vec![]),
            &adopting,
            Some(&o)
        ),
        ["subnet-a 10.0.1.10/32 eni-e1 [sg-observed]"],
        "the endpoint spec.adopt names, untagged, is the one whose clients are checked"
    );
    assert_eq!(
        destinations(
            endpoint().endpoint(&["eni-e1"], &["subnet-a"], &["sg-observed"]),
            &spec(),
            None
        ),
        ["subnet-a 10.0.1.0/24 whole-subnet [sg-vpce]"],
        "without an owner no endpoint is ours"
    );
    let mut deleting = endpoint()
        .endpoint(&["eni-e1"], &["subnet-a"], &["sg-observed"])
        .build();
    deleting.vpc_endpoints[0].state = Some("Deleting".into());
    let analysis = analyze(&spec(), Some(&o), &deleting).unwrap();
    assert_eq!(
        analysis.endpoint_id, None,
        "an endpoint being deleted is not the destination"
    );
}

#[test]
fn an_unobserved_endpoint_eni_is_reported_and_its_subnet_checked_whole() {
    let snapshot = World::new()
        .endpoint(&["eni-gone"], &["subnet-a"], &["sg-vpce"])
        .build();
    let endpoint = owned_endpoint(&spec(), Some(&owner()), &snapshot).unwrap();
    assert_eq!(unobserved_endpoint_interfaces(endpoint, &snapshot), ["eni-gone"]);
    let analysis = analyze(&spec(), Some(&owner()), &snapshot).unwrap();
    assert!(analysis.destinations[0].is_whole_subnet());
}

#[test]
fn a_spec_that_does_not_fit_the_world_is_an_error_not_a_panic() {
    let world = || {
        World::new()
            .subnet("subnet-x", "10.9.0.0/24")
            .sg_in("vpc-2", "sg-elsewhere", vec![], vec![])
    };
    let mut other_vpc_subnet = world().build();
    other_vpc_subnet.subnets.last_mut().unwrap().vpc_id = "vpc-2".into();
    let with = |f: &dyn Fn(&mut InterfaceEndpointSpec)| {
        let mut s = spec();
        f(&mut s);
        s
    };
    let mut one_zone = world().build();
    for subnet in &mut one_zone.subnets {
        subnet.availability_zone = Some("ap-northeast-1a".into());
    }
    let rows: Vec<(&str, InterfaceEndpointSpec, Snapshot, AnalysisError)> = vec![
        (
            "two subnets in one Availability Zone",
            with(&|s| s.subnet_ids = vec!["subnet-a".into(), "subnet-x".into()]),
            one_zone,
            AnalysisError::SubnetsShareZone {
                first: "subnet-a".into(),
                second: "subnet-x".into(),
                zone: "ap-northeast-1a".into(),
            },
        ),
        (
            "the VPC does not exist",
            with(&|s| s.vpc_id = "vpc-nope".into()),
            world().build(),
            AnalysisError::VpcNotFound("vpc-nope".into()),
        ),
        (
            "a subnet does not exist",
            with(&|s| s.subnet_ids = vec!["subnet-nope".into()]),
            world().build(),
            AnalysisError::SubnetNotFound("subnet-nope".into()),
        ),
        (
            "a subnet is in another VPC",
            with(&|s| s.subnet_ids = vec!["subnet-x".into()]),
            other_vpc_subnet,
            AnalysisError::SubnetInOtherVpc {
                subnet: "subnet-x".into(),
                vpc: VPC.into(),
                actual: "vpc-2".into(),
            },
        ),
        (
            "a security group does not exist",
            with(&|s| s.security_group_ids = vec!["sg-nope".into()]),
            world().build(),
            AnalysisError::SecurityGroupNotFound("sg-nope".into()),
        ),
        (
            "a security group is in another VPC",
            with(&|s| s.security_group_ids = vec!["sg-elsewhere".into()]),
            world().build(),
            AnalysisError::SecurityGroupInOtherVpc {
                group: "sg-elsewhere".into(),
                vpc: VPC.into(),
                actual: "vpc-2".into(),
            },
        ),
        (
            "no subnets",
            with(&|s| s.subnet_ids.clear()),
            world().build(),
            AnalysisError::NoSubnets,
        ),
        (
            "no security groups",
            with(&|s| s.security_group_ids.clear()),
            world().build(),
            AnalysisError::NoSecurityGroups,
        ),
        (
            "a client ENI with a malformed address",
            spec(),
            world().eni("eni-bad", "subnet-b", "10.0.2.999", &[]).build(),
            AnalysisError::InvalidAddress {
                what: "network interface eni-bad".into(),
                value: "10.0.2.999".into(),
            },
        ),
        (
            "a security group rule with a malformed CIDR",
            spec(),
            world()
                .sg("sg-vpce", vec![https().cidr("10.0.0.0/33")], vec![])
                .build(),
            AnalysisError::InvalidObservation {
                path: "SecurityGroups[1].IpPermissions[0].IpRanges[0].CidrIp".into(),
                message: "\"10.0.0.0/33\" is not an IPv4 CIDR block".into(),
            },
        ),
        (
            "an ACL entry with a malformed CIDR",
            spec(),
            world()
                .nacl(
                    "acl-bad",
                    &["subnet-a"],
                    vec![inbound(100, "allow", "banana", "-1", None)],
                )
                .build(),
            AnalysisError::InvalidObservation {
                path: "NetworkAcls[1].Entries[0].CidrBlock".into(),
                message: "\"banana\" is not an IPv4 CIDR block".into(),
            },
        ),
        (
            "two ACL entries with one number in one direction",
            spec(),
            world()
                .nacl(
                    "acl-twice",
                    &["subnet-a"],
                    vec![
                        inbound(100, "allow", "0.0.0.0/0", "-1", None),
                        inbound(100, "deny", "10.0.2.0/24", "-1", None),
                    ],
                )
                .build(),
            AnalysisError::InvalidObservation {
                path: "NetworkAcls[1].Entries[1].RuleNumber".into(),
                message: "acl-twice has two inbound entries numbered 100 (Entries[0] and Entries[1]); \
                          EC2 holds one entry per number and direction, and which one applies would \
                          depend on the order they are listed in"
                    .into(),
            },
        ),
        (
            "an IPv4 block in an IPv6 rule, which would match IPv4 clients",
            spec(),
            world()
                .sg("sg-vpce", vec![https().cidr6("10.0.0.0/8")], vec![])
                .build(),
            AnalysisError::InvalidObservation {
                path: "SecurityGroups[1].IpPermissions[0].Ipv6Ranges[0].CidrIpv6".into(),
                message:
                    "10.0.0.0/8 is an IPv4 block where IPv6 is expected (it belongs in IpRanges[].CidrIp)"
                        .into(),
            },
        ),
    ];
    for (name, spec, snapshot, want) in rows {
        assert_eq!(analyze(&spec, Some(&owner()), &snapshot), Err(want), "{name}");
    }
    // An empty snapshot is an error too, never a panic.
    assert_eq!(
        analyze(&spec(), None, &Snapshot::default()),
        Err(AnalysisError::VpcNotFound(VPC.into()))
    );
}

#[test]
fn the_plan_uses_the_fewest_rules_and_never_touches_acls() {
    // Four clients blocked at the endpoint: two share sg-shared and two share sg-z, so two
    // ingress rules cover them all. eni-1 cannot get out either; its groups tie, the smaller
    // id gets the egress rule. eni-4's subnet ACL lets nothing out: unfixable.
    let snapshot = with_endpoint()
        .sg("sg-vpce", vec![], vec![])
        .sg("sg-a", vec![], vec![])
        .sg("sg-b", vec![], open_egress())
        .sg("sg-shared", vec![], vec![])
        .sg("sg-z", vec![], open_egress())
        .eni("eni-1", "subnet-b", "10.0.2.11", &["sg-a", "sg-shared"])
        .eni("eni-2", "subnet-b", "10.0.2.12", &["sg-b", "sg-shared"])
        .eni("eni-3", "subnet-b", "10.0.2.13", &["sg-z"])
        .subnet("subnet-c", "10.0.3.0/24")
        .eni("eni-4", "subnet-c", "10.0.3.14", &["sg-z"])
        .nacl(
            "acl-c",
            &["subnet-c"],
            vec![inbound(100, "allow", "0.0.0.0/0", "-1", None)],
        )
        .build();
    let analysis = analyze(&spec(), Some(&owner()), &snapshot).unwrap();
    let rules: Vec<String> = analysis
        .remediation
        .rules
        .iter()
        .map(RuleChange::canonical)
        .collect();
    assert_eq!(
        rules,
        [
            "sg-a egress tcp 443-443 group:sg-vpce",
            "sg-vpce ingress tcp 443-443 group:sg-shared",
            "sg-vpce ingress tcp 443-443 group:sg-z",
        ]
    );
    let unfixable: Vec<(&str, Check)> = analysis
        .remediation
        .unfixable
        .iter()
        .map(|u| (u.network_interface_id.as_str(), u.check))
        .collect();
    assert_eq!(unfixable, [("eni-4", ClientSubnetNacl)]);
    assert_eq!(
        analysis.remediation.unfixable[0].detail,
        "acl-c (subnet-c) outbound: no rule allows tcp 443 to 10.0.1.10 (default deny)"
    );

    // The same world gives the same plan, whatever order the snapshot lists things in.
    let mut shuffled = snapshot.clone();
    shuffled.network_interfaces.reverse();
    shuffled.security_groups.reverse();
    let again = analyze(&spec(), Some(&owner()), &shuffled).unwrap();
    assert_eq!(again, analysis);
}

#[test]
fn applying_the_plan_makes_the_blocked_clients_reachable() {
    let snapshot = with_endpoint()
        .sg("sg-vpce", vec![https().group("sg-lambda")], vec![])
        .sg("sg-lambda", vec![], open_egress())
        .sg("sg-zabbix", vec![], vec![])
        .eni_typed("eni-lambda", "subnet-b", "10.0.2.20", &["sg-lambda"], "lambda")
        .eni("eni-zabbix", "subnet-b", "10.0.2.30", &["sg-zabbix"])
        .build();
    let before = analyze(&spec(), Some(&owner()), &snapshot).unwrap();
    assert_eq!(before.blocked().count(), 1);
    let after_world = apply_rules(&snapshot, &before.remediation.rules);
    let after = analyze(&spec(), Some(&owner()), &after_world).unwrap();
    assert!(after.all_reachable(), "{:#?}", after.clients);
    assert!(after.remediation.rules.is_empty());
    // Applying twice adds nothing more.
    assert_eq!(apply_rules(&after_world, &before.remediation.rules), after_world);
}

#[test]
fn a_client_group_the_snapshot_does_not_describe_is_reported_unknown_and_gets_no_rule() {
    // `eni-c` carries sg-c (described, no egress) and sg-ghost (not in the snapshot: its rules
    // are unknown, maybe allowing everything). Nothing may be proposed on or towards sg-ghost,
    // and no egress rule on sg-c either: the missing one may already allow it.
    let snapshot = with_endpoint()
        .sg("sg-vpce", vec![], vec![])
        .sg("sg-c", vec![], vec![])
        .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c", "sg-ghost"])
        .eni("eni-g", "subnet-b", "10.0.2.11", &["sg-ghost"])
        .build();
    let analysis = analyze(&spec(), Some(&owner()), &snapshot).unwrap();
    let verdict = |eni: &str| {
        analysis
            .clients
            .iter()
            .find(|v| v.network_interface_id == eni)
            .unwrap()
    };
    for eni in ["eni-c", "eni-g"] {
        let egress = verdict(eni)
            .blocks
            .iter()
            .find(|b| b.check == ClientEgress)
            .unwrap_or_else(|| panic!("{eni}: the unknown egress is not read as allowing"));
        assert!(
            egress.detail.ends_with(
                "; the snapshot does not describe sg-ghost, so whether it allows this traffic is unknown"
            ),
            "{}",
            egress.detail
        );
    }
    let rules: Vec<String> = analysis
        .remediation
        .rules
        .iter()
        .map(RuleChange::canonical)
        .collect();
    assert!(rules.iter().all(|r| !r.contains("sg-ghost")), "{rules:?}");
    assert_eq!(
        rules,
        ["sg-vpce ingress tcp 443-443 group:sg-c"],
        "only the described group is admitted"
    );
    let unfixable: Vec<(&str, Check)> = analysis
        .remediation
        .unfixable
        .iter()
        .map(|u| (u.network_interface_id.as_str(), u.check))
        .collect();
    assert_eq!(
        unfixable,
        [
            ("eni-c", ClientEgress),
            ("eni-g", EndpointIngress),
            ("eni-g", ClientEgress)
        ]
    );
    assert!(
        analysis.remediation.unfixable[0]
            .detail
            .starts_with("the snapshot does not describe")
    );
}

#[test]
fn rules_go_only_on_groups_the_scope_allows_and_the_rest_is_not_fixable_with_why() {
    // eni-a carries sg-a (granted) and sg-b (not): its egress rule goes on sg-a, even though
    // sg-b alone would also cover eni-b. eni-b carries only sg-b: not granted. eni-s carries
    // sg-s, owned by another account (a shared VPC): never edited.
    let mut snapshot = with_endpoint()
        .sg("sg-vpce", vec![], vec![])
        .sg("sg-a", vec![], vec![])
        .sg("sg-b", vec![], vec![])
        .sg("sg-s", vec![], vec![])
        .eni("eni-a", "subnet-b", "10.0.2.10", &["sg-a", "sg-b"])
        .eni("eni-b", "subnet-b", "10.0.2.11", &["sg-b"])
        .eni("eni-s", "subnet-b", "10.0.2.12", &["sg-s"])
        .build();
    for sg in &mut snapshot.security_groups {
        sg.owner_id = Some(
            if sg.group_id == "sg-s" {
                "222222222222"
            } else {
                "111111111111"
            }
            .into(),
        );
    }
    let scope = RuleScope {
        endpoint_groups: Some(["sg-vpce".to_string()].into()),
        client_groups: Some(["sg-a".to_string(), "sg-s".to_string()].into()),
        grant: Some("team-a".into()),
        account: Some("111111111111".into()),
    };
    let analysis = analyze_within(&spec(), Some(&owner()), &snapshot, &scope).unwrap();
    let rules: Vec<String> = analysis
        .remediation
        .rules
        .iter()
        .map(RuleChange::canonical)
        .collect();
    assert_eq!(
        rules,
        [
            "sg-a egress tcp 443-443 group:sg-vpce",
            "sg-vpce ingress tcp 443-443 group:sg-b",
            "sg-vpce ingress tcp 443-443 group:sg-s",
        ],
        "ingress on the granted endpoint group may refer to any client group"
    );
    let unfixable: Vec<(&str, Check, &str)> = analysis
        .remediation
        .unfixable
        .iter()
        .map(|u| (u.network_interface_id.as_str(), u.check, u.detail.as_str()))
        .collect();
    assert_eq!(
        unfixable,
        [
            (
                "eni-b",
                ClientEgress,
                "not granted: sg-b is not in EndpointGrant team-a's clientSecurityGroupIds, so the controller never edits it"
            ),
            (
                "eni-s",
                ClientEgress,
                "sg-s belongs to account 222222222222, not to 111111111111 where the controller acts (a shared \
                 VPC): another account's security groups are never edited; its owner must add the rule"
            ),
        ]
    );
    // Unbounded, the same world gets every rule it needs.
    let free = analyze(&spec(), Some(&owner()), &snapshot).unwrap();
    assert!(free.remediation.unfixable.is_empty());

    // The endpoint's group itself outside the grant (the endpoint carries one by hand, or the
    // grant was narrowed): no ingress rule, the blocked clients are not fixable.
    let narrowed = RuleScope {
        endpoint_groups: Some(["sg-other".to_string()].into()),
        ..scope
    };
    let analysis = analyze_within(&spec(), Some(&owner()), &snapshot, &narrowed).unwrap();
    assert!(
        analysis
            .remediation
            .rules
            .iter()
            .all(|r| r.direction != Direction::Ingress)
    );
    let ingress: Vec<&str> = analysis
        .remediation
        .unfixable
        .iter()
        .filter(|u| u.check == EndpointIngress)
        .map(|u| u.detail.as_str())
        .collect();
    assert_eq!(ingress.len(), 3, "{ingress:?}");
    assert!(
        ingress
            .iter()
            .all(|d| d.contains("sg-vpce is not in EndpointGrant team-a's endpointSecurityGroupIds"))
    );
}
