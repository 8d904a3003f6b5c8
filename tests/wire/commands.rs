//! The commands over the wire: `snapshot` writes what a live observation sees, in the format the
//! offline `plan` reads.

use vpce_rollout::aws::Ec2;
use vpce_rollout::cli::live::LiveError;
use vpce_rollout::cli::snapshot::{SnapshotArgs, SnapshotCommandError, run_with};
use vpce_rollout::model::Snapshot;

use crate::bench::{Bench, MotoBench, logs_service};
use crate::contract::{create_request, owner, wait_available};

fn temp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vpce-rollout-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[tokio::test]
async fn a_live_snapshot_file_reads_back_as_exactly_what_was_observed() {
    let b = MotoBench::incident().await;
    let created = b
        .port()
        .create_vpc_endpoint(&create_request(
            &b,
            &owner("snap"),
            "main",
            &["main-a"],
            &["endpoint-sg"],
        ))
        .await
        .unwrap();
    wait_available(&b, &created.vpc_endpoint_id).await;

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
