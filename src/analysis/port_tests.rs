//! `spec.ports`: every check is about each declared port, a block names the ports it stops, and
//! the remediation covers exactly the missing ports, contiguous ones in one rule.

use super::testkit::*;
use super::*;
use crate::model::IpPermission;

use Check::{ClientEgress, ClientSubnetNacl, EndpointIngress, EndpointSubnetNacl};

fn spec_on(ports: &[u16]) -> InterfaceEndpointSpec {
    InterfaceEndpointSpec {
        ports: ports.to_vec(),
        ..spec()
    }
}

/// The endpoint `eni-vpce` (10.0.1.10, `subnet-a`, `sg-vpce` admitting `ingress`), and the
/// client `eni-c` (10.0.2.10, `subnet-b`, `sg-c` letting `egress` out).
fn world(ingress: Vec<IpPermission>, egress: Vec<IpPermission>) -> World {
    World::new()
        .eni_typed("eni-vpce", "subnet-a", "10.0.1.10", &["sg-vpce"], "vpc_endpoint")
        .endpoint(&["eni-vpce"], &["subnet-a"], &["sg-vpce"])
        .sg("sg-vpce", ingress, vec![])
        .sg("sg-c", vec![], egress)
        .eni("eni-c", "subnet-b", "10.0.2.10", &["sg-c"])
}

fn analyse(ports: &[u16], snapshot: &Snapshot) -> Analysis {
    analyze(&spec_on(ports), Some(&owner()), snapshot).expect("the analysis runs")
}

fn client<'a>(analysis: &'a Analysis, eni: &str) -> &'a ClientVerdict {
    analysis
        .clients
        .iter()
        .find(|c| c.network_interface_id == eni)
        .expect("a client")
}

/// Each block as (check, its ports as text).
fn blocks(verdict: &ClientVerdict) -> Vec<(Check, String)> {
    verdict
        .blocks
        .iter()
        .map(|b| (b.check, b.ports.to_string()))
        .collect()
}

fn rules(analysis: &Analysis) -> Vec<String> {
    analysis
        .remediation
        .rules
        .iter()
        .map(RuleChange::canonical)
        .collect()
}

#[test]
fn a_spec_without_ports_is_checked_on_443_as_before() {
    let spec = spec();
    assert_eq!(spec.ports, [443]);
    assert_eq!(Ports::of(&spec), Ports::https());
    let snapshot = world(vec![], open_egress()).build();
    let analysis = analyze(&spec, Some(&owner()), &snapshot).unwrap();
    assert_eq!(analysis.ports.tcp(), "tcp/443");
    assert_eq!(
        blocks(client(&analysis, "eni-c")),
        [(EndpointIngress, "443".into())]
    );
    // The rule is the one the controller added before spec.ports existed: same canonical line,
    // so the same plan id, and no revoke-and-re-add on upgrade.
    assert_eq!(rules(&analysis), ["sg-vpce ingress tcp 443-443 group:sg-c"]);
    assert_eq!(
        analysis.remediation.rules,
        [RuleChange::https("sg-vpce", "sg-c", EndpointIngress)]
    );
}

#[test]
fn a_postgres_client_admitted_on_443_only_is_blocked_on_5432() {
    let snapshot = world(vec![https().group("sg-c")], open_egress()).build();
    let analysis = analyse(&[5432], &snapshot);
    let verdict = client(&analysis, "eni-c");
    assert_eq!(blocks(verdict), [(EndpointIngress, "5432".into())]);
    assert!(
        verdict.blocks[0]
            .detail
            .contains("allows tcp 5432 from 10.0.2.10"),
        "{}",
        verdict.blocks[0].detail
    );
    assert_eq!(rules(&analysis), ["sg-vpce ingress tcp 5432-5432 group:sg-c"]);
    // The same world on 443 is fine: the check is about the declared port only.
    assert!(analyse(&[443], &snapshot).all_reachable());
}

#[test]
fn a_client_must_reach_every_port_and_the_block_names_the_one_missing() {
    let snapshot = world(vec![rule("tcp", 8080, 8081).group("sg-c")], open_egress()).build();
    let analysis = analyse(&[8080, 8081, 8082], &snapshot);
    let verdict = client(&analysis, "eni-c");
    assert_eq!(blocks(verdict), [(EndpointIngress, "8082".into())]);
    assert!(verdict.blocks[0].detail.contains("allows tcp 8082 from"));
    assert_eq!(verdict.failing_ports(), Ports::one(8082));
    assert_eq!(rules(&analysis), ["sg-vpce ingress tcp 8082-8082 group:sg-c"]);
}

#[test]
fn contiguous_ports_are_one_block_and_one_rule() {
    let snapshot = world(vec![], vec![https().cidr("0.0.0.0/0")]).build();
    let analysis = analyse(&[8082, 8080, 8081], &snapshot);
    let verdict = client(&analysis, "eni-c");
    assert_eq!(
        blocks(verdict),
        [
            (EndpointIngress, "8080-8082".into()),
            (ClientEgress, "8080-8082".into())
        ]
    );
    assert!(
        verdict.blocks[1]
            .detail
            .contains("allows tcp 8080-8082 to 10.0.1.10")
    );
    assert_eq!(
        rules(&analysis),
        [
            "sg-c egress tcp 8080-8082 group:sg-vpce",
            "sg-vpce ingress tcp 8080-8082 group:sg-c",
        ]
    );
    let fixed = apply_rules(&snapshot, &analysis.remediation.rules);
    assert!(analyse(&[8080, 8081, 8082], &fixed).all_reachable());
}

#[test]
fn ports_apart_get_one_rule_each() {
    let snapshot = world(vec![], open_egress()).build();
    let analysis = analyse(&[9092, 5432, 9094], &snapshot);
    // No rule tells the ports apart: one block names them all.
    assert_eq!(
        blocks(client(&analysis, "eni-c")),
        [(EndpointIngress, "5432, 9092 and 9094".into())]
    );
    assert_eq!(
        rules(&analysis),
        [
            "sg-vpce ingress tcp 5432-5432 group:sg-c",
            "sg-vpce ingress tcp 9092-9092 group:sg-c",
            "sg-vpce ingress tcp 9094-9094 group:sg-c",
        ]
    );
    let fixed = apply_rules(&snapshot, &analysis.remediation.rules);
    assert!(analyse(&[5432, 9092, 9094], &fixed).all_reachable());
}

#[test]
fn a_rule_covering_part_of_the_ports_splits_the_blocks_by_what_is_missing() {
    // sg-vpce admits sg-c on 9092 by group and 10.0.0.0/8 on 9094: the client is missing 5432
    // only; sg-c lets out only 5432 and 9092, so egress is missing 9094 only.
    let snapshot = world(
        vec![
            rule("tcp", 9092, 9092).group("sg-c"),
            rule("tcp", 9094, 9094).cidr("10.0.0.0/8"),
        ],
        vec![
            rule("tcp", 5432, 5432).cidr("0.0.0.0/0"),
            rule("tcp", 9092, 9092).cidr("0.0.0.0/0"),
        ],
    )
    .build();
    let analysis = analyse(&[5432, 9092, 9094], &snapshot);
    assert_eq!(
        blocks(client(&analysis, "eni-c")),
        [(EndpointIngress, "5432".into()), (ClientEgress, "9094".into())]
    );
    assert_eq!(
        rules(&analysis),
        [
            "sg-c egress tcp 9094-9094 group:sg-vpce",
            "sg-vpce ingress tcp 5432-5432 group:sg-c",
        ]
    );
}

#[test]
fn one_rule_per_group_covers_the_ports_each_of_its_clients_misses() {
    // Two clients in sg-c: one missing 8080, the other 8081 (admitted by address on the other).
    let snapshot = world(
        vec![
            rule("tcp", 8081, 8081).cidr("10.0.2.10/32"),
            rule("tcp", 8080, 8080).cidr("10.0.2.11/32"),
        ],
        open_egress(),
    )
    .eni("eni-d", "subnet-b", "10.0.2.11", &["sg-c"])
    .build();
    let analysis = analyse(&[8080, 8081], &snapshot);
    assert_eq!(
        blocks(client(&analysis, "eni-c")),
        [(EndpointIngress, "8080".into())]
    );
    assert_eq!(
        blocks(client(&analysis, "eni-d")),
        [(EndpointIngress, "8081".into())]
    );
    assert_eq!(rules(&analysis), ["sg-vpce ingress tcp 8080-8081 group:sg-c"]);
}

#[test]
fn a_network_acl_denying_one_port_blocks_that_port() {
    let admitted = || world(vec![rule("tcp", 443, 8443).group("sg-c")], open_egress());
    let client_side = admitted()
        .nacl(
            "acl-b",
            &["subnet-b"],
            vec![
                outbound(90, "deny", "10.0.1.0/24", "tcp", Some((8443, 8443))),
                outbound(100, "allow", "0.0.0.0/0", "-1", None),
                inbound(100, "allow", "0.0.0.0/0", "-1", None),
            ],
        )
        .build();
    let analysis = analyse(&[443, 8443], &client_side);
    let verdict = client(&analysis, "eni-c");
    assert_eq!(blocks(verdict), [(ClientSubnetNacl, "8443".into())]);
    assert!(
        verdict.blocks[0]
            .detail
            .contains("outbound rule 90 denies tcp 8443 to 10.0.1.10"),
        "{}",
        verdict.blocks[0].detail
    );
    assert!(analysis.remediation.rules.is_empty());
    assert_eq!(analysis.remediation.unfixable.len(), 1);

    // Inside a run, only the ports denied are named: 8081 of 8080-8082.
    let endpoint_side = world(vec![rule("tcp", 8080, 8082).group("sg-c")], open_egress())
        .nacl(
            "acl-a",
            &["subnet-a"],
            vec![
                inbound(90, "deny", "0.0.0.0/0", "tcp", Some((8081, 8081))),
                inbound(100, "allow", "0.0.0.0/0", "-1", None),
                outbound(100, "allow", "0.0.0.0/0", "-1", None),
            ],
        )
        .build();
    let analysis = analyse(&[8080, 8081, 8082], &endpoint_side);
    assert_eq!(
        blocks(client(&analysis, "eni-c")),
        [(EndpointSubnetNacl, "8081".into())]
    );

    // The return traffic stopped stops every port.
    let no_return = admitted()
        .nacl(
            "acl-b",
            &["subnet-b"],
            vec![
                outbound(100, "allow", "0.0.0.0/0", "-1", None),
                inbound(100, "allow", "0.0.0.0/0", "tcp", Some((443, 443))),
            ],
        )
        .build();
    let analysis = analyse(&[443, 8443], &no_return);
    let verdict = client(&analysis, "eni-c");
    assert_eq!(blocks(verdict), [(ClientSubnetNacl, "443 and 8443".into())]);
    assert!(
        verdict.blocks[0].detail.contains("1024-65535"),
        "{}",
        verdict.blocks[0].detail
    );
}

#[test]
fn an_empty_port_list_is_refused() {
    let snapshot = world(vec![], open_egress()).build();
    assert_eq!(
        analyze(&spec_on(&[]), Some(&owner()), &snapshot),
        Err(AnalysisError::NoPorts)
    );
}
