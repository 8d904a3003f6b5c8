//! The built `vpce-rollout` binary on the incident fixture: exit codes, the JSON shape, and the
//! messages people get for bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

const ZABBIX_ENI: &str = "eni-0b00000000000b001";
const ZABBIX_SG: &str = "sg-0f00000000000f001";
const LAMBDA_ENI: &str = "eni-0d00000000000d001";
const ENDPOINT_SG: &str = "sg-0e00000000000e001";
const NAT_ENI: &str = "eni-0a00000000000a001";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Writes `text` to a file of this test run and returns its path.
fn scratch(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn plan(manifest: &PathBuf, snapshot: &PathBuf, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpce-rollout"))
        .arg("plan")
        .arg("-f")
        .arg(manifest)
        .arg("--snapshot")
        .arg(snapshot)
        .args(extra)
        .env_remove("NO_COLOR")
        .output()
        .expect("the binary runs")
}

fn incident_manifest() -> String {
    std::fs::read_to_string(fixture("incident-endpoint.yaml")).unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn the_incident_plan_blocks_zabbix_and_exits_2_with_the_json_the_issue_specifies() {
    let out = plan(
        &fixture("incident-endpoint.yaml"),
        &fixture("incident-snapshot.json"),
        &["-o", "json"],
    );
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON");

    let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    // The keys of the first version, and since the pipeline exit codes the endpoint it is about,
    // its outcome and what blocks the switch.
    assert_eq!(
        keys,
        [
            "clients",
            "excluded",
            "file",
            "name",
            "namespace",
            "outcome",
            "plan",
            "switchBlockers"
        ]
    );
    assert_eq!(json["outcome"], "FixedByPlan");
    assert_eq!(json["switchBlockers"], serde_json::json!([]));

    let clients = json["clients"].as_array().unwrap();
    let ids: Vec<&str> = clients
        .iter()
        .map(|c| c["networkInterfaceId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [ZABBIX_ENI, LAMBDA_ENI],
        "sorted by id, NAT and endpoint ENIs excluded"
    );
    let zabbix = &clients[0];
    assert_eq!(zabbix["verdict"], "Blocked");
    assert_eq!(zabbix["securityGroupIds"], serde_json::json!([ZABBIX_SG]));
    assert_eq!(zabbix["subnetId"], "subnet-0c00000000000c001");
    assert_eq!(zabbix["address"], "10.20.2.31");
    assert_eq!(zabbix["addresses"], serde_json::json!(["10.20.2.31"]));
    let reasons = zabbix["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 2, "one per endpoint ENI: {reasons:#?}");
    assert!(reasons.iter().all(|r| r["check"] == "EndpointIngress"));
    assert_eq!(reasons[0]["destination"], "10.20.1.200");
    assert_eq!(reasons[0]["from"], serde_json::json!(["10.20.2.31"]));
    assert!(
        reasons[0]["detail"].as_str().unwrap().contains(ZABBIX_SG),
        "{reasons:#?}"
    );
    assert_eq!(clients[1]["verdict"], "Reachable");
    assert_eq!(clients[1]["reasons"], serde_json::json!([]));

    let excluded = json["excluded"].as_array().unwrap();
    assert_eq!(excluded[0]["networkInterfaceId"], NAT_ENI);
    assert_eq!(excluded[0]["kind"], "ServiceInterface");
    assert!(
        excluded[0]["reason"].as_str().unwrap().contains("nat_gateway"),
        "{excluded:#?}"
    );

    let plan = &json["plan"];
    let id = plan["id"].as_str().unwrap();
    assert!(
        id.len() == 10 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(
        plan["rules"],
        serde_json::json!([{
            "groupId": ENDPOINT_SG,
            "direction": "ingress",
            "protocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "peerGroupId": ZABBIX_SG,
        }])
    );
    assert_eq!(plan["unfixableBlocks"], serde_json::json!([]));
}

#[test]
fn the_table_shows_the_plan_and_the_exact_approval_edit_without_colour_in_a_pipe() {
    let manifest = fixture("incident-endpoint.yaml");
    let snapshot = fixture("incident-snapshot.json");
    let json: Value = serde_json::from_str(&stdout(&plan(&manifest, &snapshot, &["-o", "json"]))).unwrap();
    let id = json["plan"]["id"].as_str().unwrap();

    let out = plan(&manifest, &snapshot, &[]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal:\n{text}"
    );
    assert!(text.contains(&format!("{ZABBIX_ENI}  interface")), "{text}");
    assert!(text.contains("Blocked: EndpointIngress"), "{text}");
    assert!(
        text.contains("2 clients: 1 reachable, 1 blocked (1 fixable by the plan, 0 not), 3 ENIs excluded."),
        "{text}"
    );
    assert!(
        text.contains(&format!("    approval:\n      planId: \"{id}\"")),
        "{text}"
    );

    // Once approved, the table says so instead of asking.
    let approved = incident_manifest() + &format!("  approval:\n    planId: \"{id}\"\n");
    let out = plan(&scratch("approved.yaml", &approved), &snapshot, &[]);
    assert!(
        stdout(&out).contains("Approved: spec.approval.planId in"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_plan_with_every_client_reachable_exits_0() {
    let manifest = incident_manifest().replace(
        "  remediation:",
        &format!("  clients:\n    exclude:\n      securityGroupIds: [{ZABBIX_SG}]\n  remediation:"),
    );
    let out = plan(
        &scratch("without-zabbix.yaml", &manifest),
        &fixture("incident-snapshot.json"),
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("No rules needed."), "{text}");
    assert!(
        text.contains("excluded by spec.clients.exclude.securityGroupIds"),
        "{text}"
    );
}

#[test]
fn a_malformed_snapshot_exits_1_naming_the_json_path() {
    let snapshot = std::fs::read_to_string(fixture("incident-snapshot.json"))
        .unwrap()
        .replacen("\"IpProtocol\": \"tcp\"", "\"IpProtocol\": \"tcpp\"", 1);
    let bad = scratch("bad-protocol.json", &snapshot);
    let out = plan(&fixture("incident-endpoint.yaml"), &bad, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: {}: invalid snapshot at SecurityGroups[0].IpPermissions[0].IpProtocol",
            bad.display()
        )),
        "{err}"
    );
    assert!(err.contains("unknown protocol \"tcpp\""), "{err}");

    let out = plan(
        &fixture("incident-endpoint.yaml"),
        &scratch("truncated.json", "{\"Vpcs\": ["),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid snapshot"), "{}", stderr(&out));

    let out = plan(
        &fixture("incident-endpoint.yaml"),
        &PathBuf::from("/nonexistent/snapshot.json"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot read snapshot /nonexistent/snapshot.json"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_malformed_manifest_exits_1_naming_the_field_and_line() {
    let manifest = incident_manifest().replace("endpointIngress: Approval", "endpointIngress: Manual");
    let out = plan(
        &scratch("bad-mode.yaml", &manifest),
        &fixture("incident-snapshot.json"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("spec.remediation.endpointIngress: unknown variant `Manual`"),
        "{err}"
    );
    assert!(err.contains("line 16"), "{err}");

    let manifest = incident_manifest().replace("  subnetIds:", "  subnetId:");
    let out = plan(
        &scratch("typo.yaml", &manifest),
        &fixture("incident-snapshot.json"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("missing field `subnetIds`"),
        "{}",
        stderr(&out)
    );

    let out = plan(
        &scratch("not-yaml.yaml", "spec: [unclosed"),
        &fixture("incident-snapshot.json"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("line 1"), "{}", stderr(&out));
}

#[test]
fn a_usage_error_exits_1_not_2_which_means_blocked() {
    let out = Command::new(env!("CARGO_BIN_EXE_vpce-rollout"))
        .args(["plan", "--snapshot", "snapshot.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--filename"), "{}", stderr(&out));
}

#[test]
fn a_spec_that_does_not_fit_the_snapshot_exits_1_saying_why() {
    let manifest = incident_manifest().replace("subnet-0c00000000000c001", "subnet-0ffffffffffffffff");
    let out = plan(
        &scratch("bad-subnet.yaml", &manifest),
        &fixture("incident-snapshot.json"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("does not fit the snapshot"), "{err}");
    assert!(err.contains("subnet subnet-0ffffffffffffffff not found"), "{err}");
}

fn incident_snapshot() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("incident-snapshot.json")).unwrap()).unwrap()
}

/// The incident snapshot split into one file per top-level key, as the describe calls print it.
fn describe_outputs(prefix: &str) -> Vec<PathBuf> {
    incident_snapshot()
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, value)| {
            let one = serde_json::json!({ key: value });
            scratch(&format!("{prefix}-{key}.json"), &one.to_string())
        })
        .collect()
}

fn plan_with_snapshots(manifest: &PathBuf, snapshots: &[PathBuf], extra: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vpce-rollout"));
    command.arg("plan").arg("-f").arg(manifest);
    for s in snapshots {
        command.arg("--snapshot").arg(s);
    }
    command.args(extra).output().expect("the binary runs")
}

#[test]
fn concatenated_describe_outputs_exit_1_instead_of_answering_for_the_first_object() {
    // `cat *.json > snapshot.json`: the first object alone (no ENIs in it) said
    // "No clients", exit 0.
    let files = describe_outputs("cat");
    let concatenated: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap() + "\n")
        .collect();
    let snapshot = scratch("concatenated.json", &concatenated);
    let out = plan(&fixture("incident-endpoint.yaml"), &snapshot, &[]);
    assert_eq!(out.status.code(), Some(1), "stdout: {}", stdout(&out));
    assert!(stdout(&out).is_empty());
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}: invalid snapshot: more JSON follows the first object (line 2, column 1); \
             a snapshot is one object: merge several describe outputs with `jq -s add`, or give \
             each describe output its own --snapshot\n",
            snapshot.display()
        )
    );
}

#[test]
fn each_describe_output_can_be_its_own_snapshot_file_with_the_same_verdicts() {
    let merged = plan(
        &fixture("incident-endpoint.yaml"),
        &fixture("incident-snapshot.json"),
        &["-o", "json"],
    );
    let files = describe_outputs("split");
    let split = plan_with_snapshots(&fixture("incident-endpoint.yaml"), &files, &["-o", "json"]);
    assert_eq!(split.status.code(), Some(2), "{}", stderr(&split));
    assert_eq!(stdout(&split), stdout(&merged));

    // Two files with one key: `jq -s add` keeps the last silently; plan refuses.
    let mut twice = files.clone();
    let enis = files
        .iter()
        .find(|f| f.to_string_lossy().ends_with("-NetworkInterfaces.json"))
        .unwrap()
        .clone();
    twice.push(enis.clone());
    let out = plan_with_snapshots(&fixture("incident-endpoint.yaml"), &twice, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: NetworkInterfaces is in both {0} and {0}: each key of a snapshot may come from \
             one file only (combine them into one NetworkInterfaces array first)\n",
            enis.display()
        )
    );
}

#[test]
fn a_manifest_kubectl_would_refuse_or_read_otherwise_exits_1_naming_the_field() {
    let typo_with_repeated_key = incident_manifest()
        .replace(
            "  namespace: monitoring",
            "  namespace: monitoring\n  annotations:\n    owner: a\n    owner: b",
        )
        .replace("endpointIngress: Approval", "endpointIngres: Approval");
    let unquoted_off = incident_manifest().replace("endpointIngress: Approval", "endpointIngress: Off");
    let rows = [
        (
            "repeated-key.yaml",
            typo_with_repeated_key,
            "metadata.annotations: key `owner` is given twice (kubectl refuses that: which one \
             would count is unclear) at line 8 column 5",
        ),
        (
            "typo.yaml",
            incident_manifest().replace("endpointIngress: Approval", "endpointIngres: Approval"),
            "unknown field spec.remediation.endpointIngres",
        ),
        (
            "unquoted-off.yaml",
            unquoted_off,
            "spec.remediation.endpointIngress: invalid type: boolean `false`, expected string or \
             map (kubectl reads an unquoted Off as the boolean false, as YAML 1.1 does: quote it, \
             \"Off\")",
        ),
    ];
    for (name, text, want) in rows {
        let manifest = scratch(name, &text);
        let out = plan(&manifest, &fixture("incident-snapshot.json"), &[]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
        assert!(stdout(&out).is_empty(), "{name}");
        assert_eq!(
            stderr(&out),
            format!("error: {}: {want}\n", manifest.display()),
            "{name}"
        );
    }
}

/// The incident snapshot with `edit` applied to its JSON.
fn snapshot_with(name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut snapshot = incident_snapshot();
    edit(&mut snapshot);
    scratch(name, &snapshot.to_string())
}

#[test]
fn hostile_snapshots_exit_1_with_the_path_of_the_problem_and_print_no_plan() {
    let rows: Vec<(&str, PathBuf, &str)> = vec![
        (
            "an ACL rule number EC2 cannot hold",
            snapshot_with("rule-0.json", |s| {
                s["NetworkAcls"][0]["Entries"][0]["RuleNumber"] = 0.into()
            }),
            "invalid snapshot at NetworkAcls[0].Entries[0].RuleNumber: rule number 0 is outside \
             1-32766 (and is not 32767, the default entry)",
        ),
        (
            "two ACL entries numbered alike",
            snapshot_with("rule-twice.json", |s| {
                let entries = s["NetworkAcls"][0]["Entries"].as_array_mut().unwrap();
                let copy = entries[0].clone();
                entries.push(copy);
            }),
            "has two",
        ),
        (
            "an IPv4 block in CidrIpv6",
            snapshot_with("v4-in-v6.json", |s| {
                s["SecurityGroups"][0]["IpPermissions"][0]["Ipv6Ranges"] =
                    serde_json::json!([{"CidrIpv6": "10.20.0.0/16"}]);
            }),
            "invalid snapshot at SecurityGroups[0].IpPermissions[0].Ipv6Ranges[0].CidrIpv6: \
             10.20.0.0/16 is an IPv4 block where IPv6 is expected (it belongs in IpRanges[].CidrIp)",
        ),
        (
            "a wrongly typed value",
            snapshot_with("wrong-type.json", |s| s["Subnets"][0]["SubnetId"] = 7.into()),
            "invalid snapshot at Subnets[0].SubnetId: invalid type: integer `7`, expected a string",
        ),
        (
            "deeply nested JSON",
            scratch(
                "deep.json",
                &format!("{{\"Vpcs\": {}{}}}", "[".repeat(5000), "]".repeat(5000)),
            ),
            "invalid snapshot at Vpcs[0]",
        ),
        (
            "truncated JSON",
            scratch("truncated-deep.json", "{\"Subnets\": [{\"SubnetId\": \"subnet-0a"),
            "invalid snapshot at Subnets[0].SubnetId: EOF while parsing a string",
        ),
    ];
    for (name, snapshot, want) in rows {
        let out = plan(&fixture("incident-endpoint.yaml"), &snapshot, &["-o", "json"]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
        assert!(stdout(&out).is_empty(), "{name}");
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("error: {}: ", snapshot.display())) && err.contains(want),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_spec_plan_and_the_controller_refuse_alike_exits_1() {
    let rows = [
        (
            "same-zone.yaml",
            incident_manifest().replace(
                "    - subnet-0c00000000000c001",
                "    - subnet-0c00000000000c001\n    - subnet-0b00000000000b001",
            ),
            "are both in",
        ),
        (
            "approval-id.yaml",
            incident_manifest() + "  approval:\n    planId: yes-approve\n",
            "spec.approval.planId: \"yes-approve\" does not match ^[0-9a-f]{6,64}$",
        ),
    ];
    for (name, text, want) in rows {
        let out = plan(&scratch(name, &text), &fixture("incident-snapshot.json"), &[]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
        assert!(stderr(&out).contains(want), "{name}: {}", stderr(&out));
    }
}

#[test]
fn a_world_where_private_dns_cannot_be_enabled_exits_3_reporting_what_the_controller_would_refuse() {
    const VPC: &str = "vpc-0c0ffee0000000001";
    let rows: Vec<(&str, PathBuf, String)> = vec![
        (
            "enableDnsSupport off",
            snapshot_with("dns-support-off.json", |s| {
                s["VpcAttributes"][VPC]["EnableDnsSupport"] = serde_json::json!({"Value": false});
            }),
            format!(
                "(VpcDnsSupportDisabled): VPC {VPC} has enableDnsSupport off; private DNS needs it \
                 on (aws ec2 modify-vpc-attribute --vpc-id {VPC} --enable-dns-support)"
            ),
        ),
        (
            "a service without a private DNS name",
            snapshot_with("no-dns-name.json", |s| {
                let service = &mut s["ServiceDetails"][0];
                service.as_object_mut().unwrap().remove("PrivateDnsName");
                service.as_object_mut().unwrap().remove("PrivateDnsNames");
            }),
            "(NoPrivateDnsName): Service com.amazonaws.ap-northeast-1.logs offers no private DNS \
             name; set spec.privateDns.enabled: false"
                .to_string(),
        ),
        (
            "another team's endpoint serving the name",
            snapshot_with("conflict.json", |s| {
                let endpoints = s["VpcEndpoints"].as_array_mut().unwrap();
                let mut other = endpoints[0].clone();
                other["VpcEndpointId"] = "vpce-0ffffffffffffffff".into();
                other["PrivateDnsEnabled"] = true.into();
                other["Tags"] =
                    serde_json::json!([{"Key": "vpce-rollout.dev/owner", "Value": "payments/logs"}]);
                endpoints.push(other);
            }),
            "(ConflictingPrivateDns): Endpoint vpce-0ffffffffffffffff (managed by the \
             InterfaceEndpoint payments/logs by its vpce-rollout.dev/owner tag) already serves"
                .to_string(),
        ),
    ];
    for (name, snapshot, want) in rows {
        // Reported as what will block the switch, with the condition reason the controller
        // would set: no plan fixes it, so the exit code says so.
        let out = plan(&fixture("incident-endpoint.yaml"), &snapshot, &[]);
        assert_eq!(out.status.code(), Some(3), "{name}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(
            text.contains("Blocks the switch to private DNS (not fixable by the plan):\n  "),
            "{name}: {text}"
        );
        let reason_and_message = want.trim_start_matches('(').replacen("): ", ": ", 1);
        assert!(text.contains(&reason_and_message), "{name}: {text}");
        let json: Value = serde_json::from_str(&stdout(&plan(
            &fixture("incident-endpoint.yaml"),
            &snapshot,
            &["-o", "json"],
        )))
        .unwrap();
        assert_eq!(json["outcome"], "NotFixableByPlan", "{name}");
        let blocker = &json["switchBlockers"][0];
        assert!(
            reason_and_message.starts_with(&format!("{}: ", blocker["reason"].as_str().unwrap())),
            "{name}: {json}"
        );
    }
}

fn simulate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpce-rollout"))
        .arg("simulate")
        .args(args)
        .output()
        .expect("the binary runs")
}

/// The table of a `simulate` output (from its `seeds` row on), without the wall-time row,
/// which differs from run to run.
fn simulation_table(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| !l.starts_with("seeds "))
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.starts_with("wall time"))
        .collect()
}

/// The number at the end of the table row that starts with `label`.
fn simulation_count(text: &str, label: &str) -> u64 {
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no row {label:?} in:\n{text}"));
    row.split_whitespace().last().unwrap().parse().unwrap()
}

#[test]
fn simulate_runs_the_seeds_asked_for_prints_the_table_and_exits_0_without_violations() {
    let out = simulate(&["--seeds", "6", "--from", "40", "--threads", "2"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\nstderr: {}", stderr(&out));
    assert!(
        text.starts_with("vpce-rollout simulate: seeds 40..46 on 2 threads\n"),
        "{text}"
    );
    assert_eq!(simulation_count(&text, "seeds "), 6);
    assert!(simulation_count(&text, "steps") > 6);
    assert!(simulation_count(&text, "EC2 calls") > 0);
    for heading in [
        "faults by kind",
        "outside changes by kind",
        "violations by invariant",
    ] {
        assert!(text.lines().any(|l| l == heading), "{heading}: {text}");
    }
    assert!(text.contains("\nwall time (s), seeds/s "), "{text}");
    assert!(simulation_count(&text, "object created") >= 6, "{text}");
    for n in 1..=7 {
        assert_eq!(
            simulation_count(&text, &format!("{n} ")),
            0,
            "invariant {n}: {text}"
        );
    }
    assert!(!text.contains("failing seeds"), "{text}");
}

#[test]
fn a_seed_replayed_with_its_trace_counts_what_it_counted_in_a_run_and_traces_the_same_each_time() {
    let run = simulate(&["--seeds", "1", "--from", "7", "--threads", "1"]);
    let replay = simulate(&["--seed", "7", "--trace"]);
    let again = simulate(&["--seed", "7", "--trace"]);
    let quiet = simulate(&["--seed", "7"]);
    for out in [&run, &replay, &again, &quiet] {
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    }
    let (run, replay, again, quiet) = (stdout(&run), stdout(&replay), stdout(&again), stdout(&quiet));
    assert!(replay.starts_with("vpce-rollout simulate: seed 7\n"), "{replay}");
    assert_eq!(simulation_table(&replay), simulation_table(&run));
    assert_eq!(simulation_table(&quiet), simulation_table(&run));

    let trace = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with('['))
            .map(str::to_string)
            .collect()
    };
    let steps = trace(&replay);
    assert!(steps[0].starts_with("[00:00:00.000] user creates "), "{replay}");
    assert!(steps.iter().any(|l| l.contains("] pass ")), "{replay}");
    assert!(
        steps
            .iter()
            .any(|l| l.contains("faults and outside changes stop")),
        "{replay}"
    );
    assert_eq!(steps, trace(&again));
    assert!(trace(&quiet).is_empty(), "{quiet}");
}

#[test]
fn simulate_refuses_bad_arguments_with_exit_1_saying_which() {
    let cases: &[(&[&str], &str)] = &[
        (&["--trace"], "--seed <N>"),
        (
            &["--seed", "1", "--seeds", "2"],
            "'--seed <N>' cannot be used with '--seeds <N>'",
        ),
        (&["--seed", "1", "--threads", "2"], "cannot be used with"),
        (&["--seeds", "0"], "invalid value '0' for '--seeds <N>'"),
        (&["--seeds", "many"], "invalid value 'many' for '--seeds <N>'"),
        (&["--threads", "0"], "invalid value '0' for '--threads <T>'"),
        (&["--seed", "-3"], "unexpected argument '-3'"),
        (
            &["--from", "18446744073709551615", "--seeds", "2"],
            "error: --from 18446744073709551615 --seeds 2 runs past the last seed",
        ),
    ];
    for (args, expected) in cases {
        let out = simulate(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{args:?}");
    }
}

/// The hidden `generate-vpc` command writes a large world and its endpoint's manifest (for the
/// figures of docs/performance.md); the same seed writes the same bytes.
fn generate_vpc(name: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (snapshot, manifest) = (dir.join(format!("{name}.json")), dir.join(format!("{name}.yaml")));
    let out = Command::new(env!("CARGO_BIN_EXE_vpce-rollout"))
        .args([
            "generate-vpc",
            "--network-interfaces",
            "3000",
            "--security-groups",
            "1000",
        ])
        .args(["--rules", "15000"])
        .args(extra)
        .arg("--snapshot")
        .arg(&snapshot)
        .arg("--manifest")
        .arg(&manifest)
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).contains("3003 ENIs, 1000 security groups, 15000 rules"),
        "{}",
        stdout(&out)
    );
    (snapshot, manifest)
}

#[test]
fn a_generated_vpc_past_the_rules_quota_gets_a_plan_within_it_naming_the_clients_left_out() {
    let (snapshot, manifest) = generate_vpc("generated", &[]);
    let (again, _) = generate_vpc("generated-again", &[]);
    assert_eq!(std::fs::read(&snapshot).unwrap(), std::fs::read(&again).unwrap());
    let (other, _) = generate_vpc("generated-other-seed", &["--seed", "2"]);
    assert_ne!(std::fs::read(&snapshot).unwrap(), std::fs::read(&other).unwrap());

    // Exit 3: the clients the quota leaves out (and those the ACLs block) are not fixable.
    let out = plan(&manifest, &snapshot, &["-o", "json"]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["outcome"], "NotFixableByPlan");
    let world: Value = serde_json::from_slice(&std::fs::read(&snapshot).unwrap()).unwrap();
    let endpoint_group = world["VpcEndpoints"][0]["Groups"][0]["GroupId"].as_str().unwrap();
    let existing: usize = world["SecurityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["GroupId"] == endpoint_group)
        .unwrap()["IpPermissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["IpRanges"].as_array().map_or(0, Vec::len)
                + p["UserIdGroupPairs"].as_array().map_or(0, Vec::len)
        })
        .sum();
    let on_endpoint = report["plan"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["groupId"] == endpoint_group && r["direction"] == "ingress")
        .count();
    // More client groups are blocked than the endpoint's group has room for: the plan fills
    // the room and no more, and names the clients it leaves to a person.
    assert_eq!(
        on_endpoint + existing,
        60,
        "{on_endpoint} proposed, {existing} there"
    );
    let left_out: Vec<&Value> = report["plan"]["unfixableBlocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["check"] == "EndpointIngress")
        .collect();
    assert_eq!(left_out.len(), 1, "{left_out:?}");
    let detail = left_out[0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!(
            "{endpoint_group} can take no more ingress rules under EC2's quota of 60"
        )),
        "{detail}"
    );
    assert!(left_out[0]["count"].as_u64().unwrap() > 0);
    let left_out_eni = left_out[0]["networkInterfaceIds"][0].as_str().unwrap();

    // The table says why beside each client; the review gives the cause of each block.
    let table = plan(&manifest, &snapshot, &[]);
    assert_eq!(table.status.code(), Some(3), "stderr: {}", stderr(&table));
    let table = stdout(&table);
    let not_fixable = &table[table.find("Not fixable by the controller:").expect(&table)..];
    assert!(
        not_fixable.lines().nth(1).unwrap().contains("WHY"),
        "{not_fixable}"
    );
    let row = not_fixable
        .lines()
        .find(|l| l.contains(left_out_eni))
        .expect(not_fixable);
    assert!(
        row.contains("EndpointIngress") && row.contains("can take no more ingress rules"),
        "{row}"
    );
    assert!(
        not_fixable
            .lines()
            .any(|l| l.contains("Nacl") && l.contains("the controller never changes network ACLs")),
        "{not_fixable}"
    );
    let review = plan(&manifest, &snapshot, &["-o", "markdown"]);
    assert_eq!(review.status.code(), Some(3), "stderr: {}", stderr(&review));
    let review = stdout(&review);
    assert!(review.contains("past EC2's quota of rules per group"), "{review}");
    assert!(
        review
            .lines()
            .any(|l| l.starts_with("| EndpointIngress |") && l.contains("can take no more ingress rules")),
        "{review}"
    );
}

/// `plan` run from the repository's root with `args`, so that the paths it prints are the
/// relative ones given.
fn plan_in_repo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpce-rollout"))
        .arg("plan")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .output()
        .expect("the binary runs")
}

/// Compares `text` with the golden file `tests/fixtures/review/NAME`; `UPDATE_ARTIFACTS=1`
/// writes it instead.
fn golden(name: &str, text: &str) {
    let path = fixture("review").join(name);
    if std::env::var_os("UPDATE_ARTIFACTS").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_ARTIFACTS=1 writes it)", path.display()));
    assert_eq!(
        text,
        want,
        "{} differs (UPDATE_ARTIFACTS=1 rewrites it after a deliberate change)",
        path.display()
    );
}

#[test]
fn the_markdown_review_of_the_incident_asks_for_the_exact_approval_and_exits_2() {
    let args = [
        "-f",
        "tests/fixtures/incident-endpoint.yaml",
        "--snapshot",
        "tests/fixtures/incident-snapshot.json",
        "-o",
        "markdown",
    ];
    let out = plan_in_repo(&args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains('\x1b'), "no colour");
    golden("incident.md", &text);
    // The comment names the plan id the JSON reports, in the approval edit.
    let json: Value = serde_json::from_str(&stdout(&plan_in_repo(
        &[&args[..4], &["-o", "json"][..]].concat(),
    )))
    .unwrap();
    let id = json["plan"]["id"].as_str().unwrap();
    assert!(
        text.contains(&format!("```yaml\nspec:\n  approval:\n    planId: \"{id}\"\n```")),
        "{text}"
    );
    // Deterministic: the same input gives the same comment, byte for byte.
    assert_eq!(stdout(&plan_in_repo(&args)), text);
}

#[test]
fn a_directory_of_manifests_gives_one_section_per_endpoint_and_the_worst_exit_code() {
    let out = plan_in_repo(&[
        "-f",
        "tests/fixtures/review/pr",
        "--snapshot",
        "tests/fixtures/incident-snapshot.json",
        "-o",
        "markdown",
    ]);
    // logs (Approval): 2; logs-by-hand (Off): 3; logs-lambda-only: 0. The worst is 3.
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    golden("pull-request.md", &text);
    for (heading, verdict) in [
        ("### `monitoring/logs`", "**Blocked, fixed by the plan**"),
        ("### `network/logs-by-hand`", "**Not fixable by the plan**"),
        ("### `serverless/logs-lambda-only`", "**All clients reachable**"),
    ] {
        let at = text.find(heading).unwrap_or_else(|| panic!("{heading}: {text}"));
        assert!(text[at..].contains(verdict), "{heading}: {text}");
    }
    assert!(
        text.contains("- tests/fixtures/review/pr/more.yaml, document 1: ConfigMap logs-settings is not an InterfaceEndpoint; skipped"),
        "{text}"
    );

    // The same files as repeated -f, and as JSON: one report per endpoint, same exit code.
    let out = plan_in_repo(&[
        "-f",
        "tests/fixtures/review/pr/logs.yaml",
        "-f",
        "tests/fixtures/review/pr/more.yaml",
        "--snapshot",
        "tests/fixtures/incident-snapshot.json",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let outcomes: Vec<(&str, &str)> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("logs", "FixedByPlan"),
            ("logs-by-hand", "NotFixableByPlan"),
            ("logs-lambda-only", "Reachable")
        ]
    );
    assert!(
        stderr(&out).contains("note: tests/fixtures/review/pr/more.yaml, document 1: ConfigMap logs-settings is not an InterfaceEndpoint; skipped"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn exit_codes_tell_a_pipeline_reachable_fixable_and_not_fixable_apart() {
    let snapshot = "tests/fixtures/incident-snapshot.json";
    for (file, code) in [
        ("tests/fixtures/review/pr/logs.yaml", 2),
        ("tests/fixtures/review/pr/more.yaml", 3),
    ] {
        let out = plan_in_repo(&["-f", file, "--snapshot", snapshot]);
        assert_eq!(out.status.code(), Some(code), "{file}: {}", stderr(&out));
    }
    // Auto fixes by itself: still 2, the controller adds the rule.
    let auto = incident_manifest().replace("endpointIngress: Approval", "endpointIngress: Auto");
    let out = plan(
        &scratch("auto.yaml", &auto),
        &fixture("incident-snapshot.json"),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    // A network ACL that denies the blocked client: 3, whatever the modes.
    let denied = snapshot_with("nacl-deny.json", |s| {
        for acl in s["NetworkAcls"].as_array_mut().unwrap() {
            let entries = acl["Entries"].as_array_mut().unwrap();
            entries.insert(
                0,
                serde_json::json!({"RuleNumber": 1, "Protocol": "-1", "RuleAction": "deny",
                    "Egress": false, "CidrBlock": "10.20.2.31/32"}),
            );
        }
    });
    let out = plan(&scratch("auto.yaml", &auto), &denied, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    // No InterfaceEndpoint at all (a pull request that changes other manifests): 0.
    let other = scratch(
        "configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    );
    let out = plan(&other, &fixture("incident-snapshot.json"), &["-o", "markdown"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("no InterfaceEndpoint in the manifests"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn what_blocks_the_switch_is_in_the_review_and_exits_3() {
    let snapshot = snapshot_with("dns-off-acceptance.json", |s| {
        s["VpcAttributes"]["vpc-0c0ffee0000000001"]["EnableDnsSupport"] = serde_json::json!({"Value": false});
        s["ServiceDetails"][0]["AcceptanceRequired"] = true.into();
    });
    let out = plan_in_repo(&[
        "-f",
        "tests/fixtures/review/partner.yaml",
        "--snapshot",
        snapshot.to_str().unwrap(),
        "-o",
        "markdown",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    golden("blocked-switch.md", &text);
    assert!(
        text.contains("- `VpcDnsSupportDisabled`: VPC vpc-0c0ffee0000000001 has enableDnsSupport off"),
        "{text}"
    );
    assert!(
        text.contains(
            "- `EndpointPendingAcceptance`: com.amazonaws.ap-northeast-1.logs accepts endpoints by hand"
        ),
        "{text}"
    );
}

#[test]
fn a_malformed_document_among_several_is_an_error_naming_the_file_and_the_document() {
    let text = format!(
        "{}---\n{}",
        incident_manifest(),
        incident_manifest().replace("endpointIngress: Approval", "endpointIngres: Approval")
    );
    let file = scratch("two-documents.yaml", &text);
    let out = plan(&file, &fixture("incident-snapshot.json"), &["-o", "markdown"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}, document 2: unknown field spec.remediation.endpointIngres\n",
            file.display()
        )
    );
    let broken = scratch(
        "broken-second.yaml",
        &format!("{}---\nspec: [unclosed\n", incident_manifest()),
    );
    let out = plan(&broken, &fixture("incident-snapshot.json"), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("error: {}, document 2: ", broken.display())),
        "{err}"
    );
    assert!(err.contains("line 19"), "{err}");
}

#[test]
fn long_lists_are_folded_in_the_review() {
    // Twelve more Zabbix agents: the blocked clients' table is folded, the verdict is not.
    let snapshot = snapshot_with("many-agents.json", |s| {
        let enis = s["NetworkInterfaces"].as_array_mut().unwrap();
        let zabbix = enis
            .iter()
            .find(|e| e["NetworkInterfaceId"] == ZABBIX_ENI)
            .unwrap()
            .clone();
        for i in 0..12 {
            let mut copy = zabbix.clone();
            copy["NetworkInterfaceId"] = format!("eni-0b00000000000c{i:03}").into();
            let address = format!("10.20.2.{}", 100 + i);
            copy["PrivateIpAddress"] = address.clone().into();
            copy["PrivateIpAddresses"] = serde_json::json!([{"Primary": true, "PrivateIpAddress": address}]);
            copy["Attachment"]["InstanceId"] = format!("i-0f0000000000{i:05}").into();
            enis.push(copy);
        }
    });
    let out = plan(&fixture("incident-endpoint.yaml"), &snapshot, &["-o", "markdown"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("**EndpointIngress**: 13 clients, fixed by the plan once approved."),
        "{text}"
    );
    assert!(text.contains("<details><summary>13 clients</summary>"), "{text}");
    assert!(
        text.contains("**Blocked, fixed by the plan**: 13 of 14 clients cannot reach"),
        "{text}"
    );
}

#[test]
fn a_policy_for_a_service_without_endpoint_policies_exits_1_as_the_controller_refuses_it() {
    let manifest = incident_manifest().replace(
        "  remediation:\n",
        "  policy: '{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"logs:*\",\"Resource\":\"*\"}]}'\n  remediation:\n",
    );
    let manifest = scratch("policy.yaml", &manifest);
    let unsupported = snapshot_with("no-policies.json", |s| {
        s["ServiceDetails"][0]["VpcEndpointPolicySupported"] = false.into();
    });
    let out = plan(&manifest, &unsupported, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "spec.policy: the service com.amazonaws.ap-northeast-1.logs does not support endpoint policies"
        ),
        "{err}"
    );
    // The same manifest where the service takes policies is a plan.
    let out = plan(&manifest, &fixture("incident-snapshot.json"), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
