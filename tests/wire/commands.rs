//! The commands over the wire: `snapshot` writes what a live observation sees, in the format the
//! offline `plan` reads.

use vpce_rollout::aws::RulePeer;
use vpce_rollout::cli::live::{LiveError, LiveTarget, observe_live};
use vpce_rollout::cli::snapshot::{SnapshotArgs, SnapshotCommandError, run_with};
use vpce_rollout::model::Snapshot;

use crate::bench::{Bench, MotoBench, logs_service};
use crate::contract::{create_available, create_request, owner};

fn temp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vpce-rollout-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[tokio::test]
async fn a_live_snapshot_file_reads_back_as_exactly_what_was_observed() {
    let b = MotoBench::incident().await;
    let created = create_available(
        &b,
        &create_request(&b, &owner("snap"), "main", &["main-a"], &["endpoint-sg"]),
    )
    .await;

    let path = temp_file("incident.json");
    let args = SnapshotArgs {
        vpc_id: b.id("main"),
        region: None,
        service_name: Some(logs_service()),
        output: Some(path.clone()),
    };
    let live = run_with(b.port(), &args).await.expect("snapshot");
    let offline = Snapshot::from_file(&path).expect("the offline plan's reader accepts it");
    assert_eq!(offline, live);

    // Everything the analysis and the plan read is in it.
    assert_eq!(offline.vpcs[0].vpc_id, b.id("main"));
    assert!(offline.vpc_attributes.contains_key(&b.id("main")));
    assert!(
        offline
            .service_details
            .iter()
            .any(|s| s.service_name == logs_service())
    );
    assert!(
        offline
            .vpc_endpoints
            .iter()
            .any(|e| e.vpc_endpoint_id == created.vpc_endpoint_id)
    );
    for client in ["zabbix", "lambda"] {
        assert!(
            offline
                .network_interfaces
                .iter()
                .any(|n| n.network_interface_id == b.id(client))
        );
    }
    assert!(!offline.network_acls.is_empty());
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn a_snapshot_of_an_unknown_vpc_fails_naming_it_and_writes_nothing() {
    let b = MotoBench::incident().await;
    let path = temp_file("missing.json");
    let args = SnapshotArgs {
        vpc_id: "vpc-0fedcba9876543210".into(),
        region: None,
        service_name: None,
        output: Some(path.clone()),
    };
    let err = run_with(b.port(), &args).await.unwrap_err();
    assert!(
        matches!(&err, SnapshotCommandError::Live(LiveError::NoSuchVpc { vpc_id }) if vpc_id == "vpc-0fedcba9876543210"),
        "{err}"
    );
    assert!(!path.exists());
}

/// Runs this very test in a child process with `env` (and nothing of the AWS configuration
/// this machine may have), so `observe_live` reads its configuration from a real process
/// environment without racing the other tests' threads.
fn rerun_in_child(test: &str, mode: &str, env: &[(&str, String)]) {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("VPCE_WIRE_CHILD", mode)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/vpce-rollout/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/vpce-rollout/credentials",
        );
    for variable in [
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_EC2",
        "AWS_ENDPOINT_URL_STS",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ] {
        command.env_remove(variable);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "the child ({mode}) failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran no test: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn a_live_observation_takes_credentials_region_and_endpoint_from_the_environment() {
    const TEST: &str =
        "commands::a_live_observation_takes_credentials_region_and_endpoint_from_the_environment";
    match std::env::var("VPCE_WIRE_CHILD").as_deref() {
        Ok("observe") => {
            let vpc_id = std::env::var("VPCE_WIRE_VPC").unwrap();
            let target = LiveTarget {
                vpc_id: &vpc_id,
                service_name: Some("com.amazonaws.us-east-1.logs"),
                ..Default::default()
            };
            let snapshot = observe_live(&target)
                .await
                .expect("observe through the environment");
            assert_eq!(snapshot.vpcs[0].vpc_id, vpc_id);
            assert!(!snapshot.network_interfaces.is_empty());
        }
        Ok("no-region") => {
            let target = LiveTarget {
                vpc_id: "vpc-0a1b2c3d",
                ..Default::default()
            };
            let err = observe_live(&target).await.unwrap_err();
            assert!(matches!(err, LiveError::Setup(_)), "{err}");
            assert!(err.to_string().contains("no AWS region"), "{err}");
        }
        Ok("bad-endpoint") => {
            let target = LiveTarget {
                vpc_id: "vpc-0a1b2c3d",
                region: Some("us-east-1"),
                ..Default::default()
            };
            let err = observe_live(&target).await.unwrap_err();
            assert!(err.to_string().contains("AWS_ENDPOINT_URL_EC2"), "{err}");
        }
        Ok(other) => panic!("unknown child mode {other}"),
        Err(_) => {
            let b = MotoBench::incident().await;
            let dead = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            // AWS_ENDPOINT_URL_EC2 wins over AWS_ENDPOINT_URL (which points nowhere); the
            // credentials' key id selects the test's moto account.
            rerun_in_child(
                TEST,
                "observe",
                &[
                    ("VPCE_WIRE_VPC", b.id("main")),
                    ("AWS_REGION", "us-east-1".into()),
                    ("AWS_ACCESS_KEY_ID", b.account.id.clone()),
                    ("AWS_SECRET_ACCESS_KEY", "wire-test-secret".into()),
                    ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{dead}")),
                    ("AWS_ENDPOINT_URL_EC2", crate::moto::moto().endpoint_url()),
                ],
            );
            rerun_in_child(TEST, "no-region", &[]);
            rerun_in_child(
                TEST,
                "bad-endpoint",
                &[("AWS_ENDPOINT_URL_EC2", "localhost:4566".into())],
            );
        }
    }
}

/// The environment of a `vpce-rollout` process that talks to this bench's moto account, and to
/// nothing else (no profile files, no instance metadata).
fn moto_environment(command: &mut std::process::Command, b: &MotoBench) {
    for variable in [
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_SESSION_TOKEN",
    ] {
        command.env_remove(variable);
    }
    command
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", &b.account.id)
        .env("AWS_SECRET_ACCESS_KEY", "wire-test-secret")
        .env("AWS_ENDPOINT_URL_EC2", crate::moto::moto().endpoint_url())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/vpce-rollout/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/vpce-rollout/credentials",
        )
        .env("NO_COLOR", "1");
}

fn vpce_rollout(b: &MotoBench, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_vpce-rollout"));
    command.args(args);
    moto_environment(&mut command, b);
    command.output().expect("the binary runs")
}

#[tokio::test]
async fn a_live_snapshot_planned_offline_gives_the_verdicts_of_a_live_plan() {
    let b = MotoBench::incident().await;
    // The incident: the endpoint's group admits the Lambda's group, not the monitoring agent's.
    b.foreign_https_ingress("endpoint-sg", RulePeer::Group(b.id("lambda-sg")))
        .await;
    let manifest = temp_file("incident-endpoint.yaml");
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: vpce-rollout.dev/v1alpha1\nkind: InterfaceEndpoint\nmetadata:\n  name: logs\n  namespace: monitoring\n\
             spec:\n  vpcId: {}\n  serviceName: {}\n  region: us-east-1\n  subnetIds: [{}, {}]\n  securityGroupIds: [{}]\n",
            b.id("main"),
            logs_service(),
            b.id("main-a"),
            b.id("main-b"),
            b.id("endpoint-sg"),
        ),
    )
    .unwrap();
    let snapshot = temp_file("incident-live.json");

    let taken = vpce_rollout(
        &b,
        &[
            "snapshot",
            "--vpc-id",
            &b.id("main"),
            "--service-name",
            &logs_service(),
            "-o",
            snapshot.to_str().unwrap(),
        ],
    );
    assert!(
        taken.status.success(),
        "snapshot: {}",
        String::from_utf8_lossy(&taken.stderr)
    );

    let manifest_arg = manifest.to_str().unwrap();
    let offline = vpce_rollout(
        &b,
        &[
            "plan",
            "-f",
            manifest_arg,
            "--snapshot",
            snapshot.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    let live = vpce_rollout(&b, &["plan", "-f", manifest_arg, "-o", "json"]);
    for (name, out) in [("offline", &offline), ("live", &live)] {
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name} plan: zabbix is blocked; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        String::from_utf8_lossy(&offline.stdout),
        String::from_utf8_lossy(&live.stdout),
        "the same verdicts, rules and plan id"
    );

    let report: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
    let verdict = |eni: String| {
        report["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["networkInterfaceId"] == eni.as_str())
            .unwrap_or_else(|| panic!("{eni} is not a client: {report}"))
            .clone()
    };
    let zabbix = verdict(b.id("zabbix"));
    assert_eq!(zabbix["verdict"], "Blocked", "{zabbix}");
    assert!(
        zabbix["reasons"].to_string().contains("EndpointIngress"),
        "{zabbix}"
    );
    assert_eq!(verdict(b.id("lambda"))["verdict"], "Reachable");
    let rules = report["plan"]["rules"].to_string();
    assert!(
        rules.contains(&b.id("zabbix-sg")),
        "the plan admits zabbix's group: {rules}"
    );

    std::fs::remove_file(&manifest).unwrap();
    std::fs::remove_file(&snapshot).unwrap();
}
