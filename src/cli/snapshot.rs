//! `vpce-rollout snapshot --vpc-id VPC [--region R] [--service-name S] [-o FILE]`: one VPC as a
//! live account shows it, written in the snapshot format the offline `plan --snapshot` reads
//! (docs/snapshot.md). A snapshot taken now and planned offline later gives the verdicts a live
//! `plan` gives now.

use std::io::Write;
use std::path::{Path, PathBuf};

use std::process::ExitCode;

use super::live::{LiveError, LiveTarget, observe, observe_live};
use super::{exit, fail};
use crate::aws::Ec2;
use crate::model::Snapshot;

/// Arguments of `vpce-rollout snapshot`.
#[derive(Clone, Debug, clap::Args)]
pub struct SnapshotArgs {
    /// The VPC to describe, e.g. vpc-0a1b2c3d4e5f67890.
    #[arg(long, value_name = "VPC")]
    pub vpc_id: String,
    /// AWS region; the environment's (AWS_REGION, profile, IMDS) when absent.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Also describe this endpoint service (its private DNS name), e.g.
    /// com.amazonaws.ap-northeast-1.logs.
    #[arg(long, value_name = "SERVICE")]
    pub service_name: Option<String>,
    /// Write the snapshot here instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// A failed `snapshot`.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotCommandError {
    #[error("{0}")]
    Live(#[from] LiveError),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
}

impl SnapshotArgs {
    fn target(&self) -> LiveTarget<'_> {
        LiveTarget {
            vpc_id: &self.vpc_id,
            region: self.region.as_deref(),
            service_name: self.service_name.as_deref(),
            service_region: None,
            owner: None,
        }
    }
}

/// `vpce-rollout snapshot`: exit 0 with the snapshot written, 1 with the reason on stderr.
pub fn run_command(args: &SnapshotArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(format_args!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => fail(e),
    }
}

/// Runs the command against the account the environment names.
pub async fn run(args: &SnapshotArgs) -> Result<(), SnapshotCommandError> {
    let snapshot = observe_live(&args.target()).await?;
    emit(&snapshot, args.output.as_deref())
}

/// Runs the command over a given EC2 port (tests, and callers that built their own).
pub async fn run_with<E: Ec2>(ec2: &E, args: &SnapshotArgs) -> Result<Snapshot, SnapshotCommandError> {
    let snapshot = observe(ec2, &args.target()).await?;
    emit(&snapshot, args.output.as_deref())?;
    Ok(snapshot)
}

/// A one-line account of what a snapshot holds, for people.
pub fn summary(snapshot: &Snapshot) -> String {
    format!(
        "{} subnets, {} security groups, {} network interfaces, {} network ACLs, {} VPC endpoints, {} prefix lists",
        snapshot.subnets.len(),
        snapshot.security_groups.len(),
        snapshot.network_interfaces.len(),
        snapshot.network_acls.len(),
        snapshot.vpc_endpoints.len(),
        snapshot.prefix_lists.len(),
    )
}

fn emit(snapshot: &Snapshot, output: Option<&Path>) -> Result<(), SnapshotCommandError> {
    let mut json = snapshot.to_json();
    json.push('\n');
    let vpc = snapshot.vpcs.first().map(|v| v.vpc_id.as_str()).unwrap_or("?");
    match output {
        Some(path) => {
            write_atomically(path, json.as_bytes()).map_err(|source| SnapshotCommandError::Write {
                path: path.display().to_string(),
                source,
            })?;
            eprintln!(
                "snapshot of {vpc} written to {}: {}",
                path.display(),
                summary(snapshot)
            );
        }
        None => {
            std::io::stdout()
                .lock()
                .write_all(json.as_bytes())
                .map_err(|source| SnapshotCommandError::Write {
                    path: "standard output".into(),
                    source,
                })?;
            eprintln!("snapshot of {vpc}: {}", summary(snapshot));
        }
    }
    Ok(())
}

/// Writes next to `path` and renames, so an interrupted run never leaves half a snapshot.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SnapshotArgs,
    }

    #[test]
    fn arguments_parse_as_documented() {
        let cli = Cli::try_parse_from([
            "snapshot",
            "--vpc-id",
            "vpc-0a1b2c3d",
            "--region",
            "ap-northeast-1",
            "--service-name",
            "com.amazonaws.ap-northeast-1.logs",
            "-o",
            "world.json",
        ])
        .unwrap();
        assert_eq!(cli.args.vpc_id, "vpc-0a1b2c3d");
        assert_eq!(cli.args.region.as_deref(), Some("ap-northeast-1"));
        assert_eq!(cli.args.output, Some(PathBuf::from("world.json")));
        assert!(Cli::try_parse_from(["snapshot"]).is_err(), "--vpc-id is required");
    }

    #[test]
    fn a_written_snapshot_reads_back_identical() {
        let snapshot = Snapshot::from_json(
            r#"{"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16"}],
                "Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"}]}"#,
        )
        .unwrap();
        let dir = std::env::temp_dir().join(format!("vpce-rollout-snapshot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("world.json");
        emit(&snapshot, Some(&path)).unwrap();
        assert_eq!(Snapshot::from_file(&path).unwrap(), snapshot);
        assert!(!dir.join("world.json.partial").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
