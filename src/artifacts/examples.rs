//! Every file in `examples/` is an `InterfaceEndpoint` that the API server would accept as
//! written: it deserializes into the Rust type and validates against the generated CRD schema,
//! with no field the server would prune and no YAML 1.1 boolean trap.

use std::collections::BTreeMap;

use super::crd::repo_path;
use crate::api::validation::validate;
use crate::api::{DeletionPolicy, InterfaceEndpoint, RemediationMode};

fn schema() -> serde_json::Value {
    let crd = serde_json::to_value(crate::api::crd::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// The examples by file name, as JSON (what the API server sees) and as the typed object.
fn examples() -> BTreeMap<String, (String, serde_json::Value, InterfaceEndpoint)> {
    let dir = repo_path("examples");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("examples/{name} is not YAML: {e}"));
        let typed: InterfaceEndpoint = serde_json::from_value(json.clone())
            .unwrap_or_else(|e| panic!("examples/{name} is not an InterfaceEndpoint: {e}"));
        out.insert(name, (text, json, typed));
    }
    out
}

#[test]
fn every_example_validates_against_the_crd_schema() {
    let schema = schema();
    let examples = examples();
    assert!(
        examples.len() >= 4,
        "examples/ holds the four documented examples"
    );
    for (name, (_, json, typed)) in &examples {
        assert_eq!(json["apiVersion"], "vpce-rollout.dev/v1alpha1", "{name}");
        assert_eq!(json["kind"], "InterfaceEndpoint", "{name}");
        assert!(
            typed.metadata.name.is_some() && typed.metadata.namespace.is_some(),
            "{name}: name and namespace"
        );
        let errors = validate(json, &schema);
        assert!(
            errors.is_empty(),
            "examples/{name} does not validate:\n  {}",
            errors.join("\n  ")
        );
    }
}

#[test]
fn no_example_has_an_unquoted_yaml_1_1_boolean() {
    // kubectl reads YAML 1.1, where a bare `Off`, `on`, `yes` or `no` is a boolean: `clientEgress:
    // Off` would reach the API server as `false` and be rejected.
    let trap = regex::Regex::new(r"(?i):\s+(on|off|yes|no|y|n)\s*(#.*)?$").unwrap();
    for (name, (text, _, _)) in examples() {
        for (i, line) in text.lines().enumerate() {
            assert!(
                !trap.is_match(line),
                "examples/{name}:{}: quote the value: {line}",
                i + 1
            );
        }
    }
}

#[test]
fn the_examples_cover_the_documented_variants() {
    let examples = examples();
    let get = |n: &str| {
        &examples
            .get(n)
            .unwrap_or_else(|| panic!("examples/{n} is missing"))
            .2
            .spec
    };

    let incident = get("cloudwatch-logs.yaml");
    assert_eq!(incident.service_name, "com.amazonaws.ap-northeast-1.logs");
    assert_eq!(
        incident.remediation.client_egress,
        RemediationMode::Approval,
        "the default mode"
    );
    assert!(incident.private_dns.enabled && !incident.private_dns.force);
    assert!(
        incident.approval.is_none(),
        "nothing is approved before the plan exists"
    );

    let auto = get("cloudwatch-logs-auto.yaml");
    assert_eq!(auto.remediation.endpoint_ingress, RemediationMode::Auto);
    assert_eq!(auto.remediation.client_egress, RemediationMode::Auto);

    assert_eq!(
        get("sts-retain.yaml").deletion_policy,
        Some(DeletionPolicy::Retain)
    );

    let selected = get("ssm-selected-clients.yaml");
    assert_eq!(
        selected.clients.security_group_ids.as_ref().map(Vec::len),
        Some(2)
    );
    assert_eq!(selected.remediation.client_egress, RemediationMode::Off);

    let cross = get("cross-region-service.yaml");
    assert_eq!(cross.service_region.as_deref(), Some("eu-west-1"));
    assert_ne!(
        cross.region, cross.service_region,
        "the endpoint's region is another"
    );
    assert_eq!(incident.ports, [443], "AWS services need no ports");
    let postgres = get("postgres-privatelink.yaml");
    assert_eq!(postgres.ports, [5432]);
    assert!(postgres.service_name.starts_with("com.amazonaws.vpce."));
    let dual = get("dual-stack-s3.yaml");
    assert_eq!(dual.ip_address_type, Some(crate::api::IpAddressType::Dualstack));
    assert_eq!(
        dual.dns_options.as_ref().and_then(|d| d.dns_record_ip_type),
        Some(crate::api::DnsRecordIpType::Dualstack)
    );
    assert!(crate::api::validation::spec_problems(dual).is_empty());
    let on_premises = get("s3-on-premises-only.yaml");
    assert!(crate::api::DnsOptions::inbound_only(
        on_premises.dns_options.as_ref()
    ));
    assert!(on_premises.private_dns.enabled, "the option needs private DNS");
    assert!(
        on_premises.clients.evidence.is_some(),
        "the outside clients come from evidence"
    );
    assert!(crate::api::validation::spec_problems(on_premises).is_empty());
    let fixed = get("fixed-addresses.yaml");
    assert_eq!(fixed.subnet_configurations.len(), fixed.subnet_ids.len());
    assert!(
        fixed
            .subnet_configurations
            .iter()
            .all(|c| c.ipv4.is_some() && c.ipv6.is_none())
    );
    assert!(crate::api::validation::spec_problems(fixed).is_empty());
    let kafka = get("kafka-several-ports.yaml");
    let ports = crate::analysis::Ports::of(kafka);
    assert_eq!(
        ports.ranges(),
        [(9001, 9003), (9092, 9092)],
        "one rule covers the brokers"
    );
    assert!(crate::api::validation::spec_problems(kafka).is_empty());
}

#[test]
fn the_schema_check_catches_what_the_api_server_would_refuse_or_drop() {
    let schema = schema();
    let (_, json, _) = examples().remove("cloudwatch-logs.yaml").unwrap();
    let mut bad = json.clone();
    bad["spec"]["vpcId"] = "vpc-XYZ".into();
    bad["spec"]["subnetIds"] = serde_json::json!([]);
    bad["spec"]["deletionPolicyy"] = "Retain".into();
    bad["spec"]["remediation"] = serde_json::json!({ "clientEgress": false });
    bad["spec"].as_object_mut().unwrap().remove("serviceName");
    let errors = validate(&bad, &schema).join("\n");
    assert!(
        errors.contains("spec.vpcId: \"vpc-XYZ\" does not match"),
        "{errors}"
    );
    assert!(
        errors.contains("spec.subnetIds: 0 items, fewer than the minimum 1"),
        "{errors}"
    );
    assert!(errors.contains("spec.deletionPolicyy: unknown field"), "{errors}");
    assert!(
        errors.contains("spec.remediation.clientEgress: expected string"),
        "{errors}"
    );
    assert!(
        errors.contains("missing required field \"serviceName\""),
        "{errors}"
    );
}

#[test]
fn the_tenancy_examples_validate_against_their_crds() {
    use crate::api::{ApprovedBy, EndpointGrant, PlanApproval};
    let dir = repo_path("examples/tenancy");
    let mut kinds = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("examples/tenancy/{name} is not YAML: {e}"));
        let kind = json["kind"].as_str().unwrap().to_string();
        let crd = crate::api::crd::all()
            .into_iter()
            .find(|f| f.kind == kind)
            .unwrap_or_else(|| panic!("examples/tenancy/{name}: no CRD for kind {kind}"));
        let crd = serde_json::to_value(crd.crd).unwrap();
        let errors = validate(&json, &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]);
        assert!(
            errors.is_empty(),
            "examples/tenancy/{name} does not validate:\n  {}",
            errors.join("\n  ")
        );
        match kind.as_str() {
            "EndpointGrant" => {
                let grant: EndpointGrant = serde_json::from_value(json).unwrap();
                if name == "team-a-grant.yaml" {
                    assert_eq!(grant.spec.approved_by, ApprovedBy::Platform);
                    assert!(grant.spec.aws.is_some());
                }
            }
            _ => {
                let _: PlanApproval = serde_json::from_value(json).unwrap();
            }
        }
        kinds.push(kind);
    }
    kinds.sort();
    assert_eq!(kinds, ["EndpointGrant", "EndpointGrant", "PlanApproval"]);
}

/// The `vpce-rollout` command lines of a workflow's `run:` scripts, as argument vectors: shell
/// arrays and variables stand for plausible values, quotes and redirections are dropped.
fn vpce_rollout_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let start = regex::Regex::new(r"(?:^|[;&|(]\s*)vpce-rollout\s+(\S.*)$").unwrap();
    let mut commands = Vec::new();
    for line in joined.lines() {
        let Some(rest) = start.captures(line.trim()).map(|c| c[1].to_string()) else {
            continue;
        };
        let mut args = vec!["vpce-rollout".to_string()];
        for token in rest.split_whitespace() {
            if token.starts_with('>') || token.starts_with("2>") || token == "|" || token == "||" {
                break;
            }
            match token {
                "\"${args[@]}\"" => args.extend(["-f".into(), "endpoints/logs.yaml".into()]),
                "\"${snapshots[@]}\"" => args.extend(["--snapshot".into(), "snapshot/vpc.json".into()]),
                t if t.contains('$') => args.push("vpc-0123456789abcdef0".into()),
                t => args.push(t.trim_matches('"').to_string()),
            }
        }
        commands.push(args);
    }
    commands
}

#[test]
fn the_gitops_workflow_parses_and_runs_only_commands_that_exist() {
    use clap::Parser;
    let text = std::fs::read_to_string(repo_path("examples/gitops/plan-review.yaml")).unwrap();
    let workflow: serde_json::Value =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("examples/gitops/plan-review.yaml: {e}"));
    assert!(
        workflow["on"]["pull_request"].is_object(),
        "runs on pull requests"
    );
    let jobs = workflow["jobs"].as_object().expect("jobs");
    // The job that holds AWS credentials runs no code of the pull request but vpce-rollout
    // and the AWS CLI; the one that reads the manifests has no AWS credentials.
    assert_eq!(workflow["jobs"]["snapshot"]["permissions"]["id-token"], "write");
    assert_eq!(workflow["jobs"]["plan"]["permissions"]["pull-requests"], "write");
    assert!(workflow["jobs"]["plan"]["permissions"]["id-token"].is_null());

    let mut commands = Vec::new();
    assert_eq!(jobs.len(), 2, "the snapshot job, then the plan job");
    for name in ["snapshot", "plan"] {
        let job = &jobs[name];
        for step in job["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("job {name} has steps"))
        {
            assert!(
                step["run"].is_string() || step["uses"].is_string(),
                "job {name}: a step runs or uses something: {step}"
            );
            if let Some(script) = step["run"].as_str() {
                commands.extend(vpce_rollout_commands(script));
            }
        }
    }
    let subcommands: Vec<&str> = commands.iter().map(|c| c[1].as_str()).collect();
    assert_eq!(subcommands, ["snapshot", "plan"], "{commands:?}");
    for command in &commands {
        if let Err(e) = crate::cli::Cli::try_parse_from(command) {
            panic!("examples/gitops/plan-review.yaml runs {command:?}, which vpce-rollout refuses: {e}");
        }
    }
    let plan = &commands[1];
    assert!(plan.windows(2).any(|w| w == ["-o", "markdown"]), "{plan:?}");
    // The snapshot job writes what the plan job reads.
    assert!(text.contains("vpce-rollout snapshot --vpc-id \"$VPC_ID\" -o snapshot/vpc.json"));
    assert!(text.contains("snapshots=(--snapshot snapshot/vpc.json)"));
    // The check passes on 0 and 2 only, as the README says.
    assert!(text.contains("0|2) exit 0 ;;"));
}

#[test]
fn workflow_commands_are_found_and_a_wrong_flag_would_be_refused() {
    use clap::Parser;
    let commands = vpce_rollout_commands(
        "command -v vpce-rollout || cargo install x vpce-rollout\n  vpce-rollout plan \"${args[@]}\" \\\n  --snapshot s.json -o markdown > plan.md 2> plan.err\n",
    );
    assert_eq!(
        commands,
        [[
            "vpce-rollout",
            "plan",
            "-f",
            "endpoints/logs.yaml",
            "--snapshot",
            "s.json",
            "-o",
            "markdown"
        ]]
    );
    let wrong = vpce_rollout_commands("vpce-rollout plan --manifest x.yaml -o markdown");
    assert!(crate::cli::Cli::try_parse_from(&wrong[0]).is_err());
}
