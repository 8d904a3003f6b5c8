//! `vpce-rollout generate-vpc` (hidden, for the figures of docs/performance.md): writes a large
//! generated VPC as a snapshot file and the endpoint's manifest, so that `plan` can be timed on
//! them. The same shape and seed always write the same files.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{exit, fail};
use crate::aws::sim::generate::{Shape, generate};

#[derive(Debug, Args)]
pub struct GenerateVpcArgs {
    /// ENIs besides the endpoint's own.
    #[arg(long, default_value_t = Shape::FIGURE_1.network_interfaces)]
    pub network_interfaces: usize,
    #[arg(long, default_value_t = Shape::FIGURE_1.security_groups)]
    pub security_groups: usize,
    /// Rules over every group, both directions, counted as EC2 counts them.
    #[arg(long, default_value_t = Shape::FIGURE_1.rules)]
    pub rules: usize,
    #[arg(long, default_value_t = Shape::FIGURE_1.seed)]
    pub seed: u64,
    /// Where to write the snapshot (AWS's describe JSON).
    #[arg(long, value_name = "FILE")]
    pub snapshot: PathBuf,
    /// Where to write the InterfaceEndpoint manifest.
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
}

pub fn run(args: &GenerateVpcArgs) -> ExitCode {
    let world = generate(&Shape {
        network_interfaces: args.network_interfaces,
        security_groups: args.security_groups,
        rules: args.rules,
        seed: args.seed,
    });
    let json = world.describe_json();
    if let Err(e) = std::fs::write(&args.snapshot, &json) {
        return fail(format_args!("cannot write {}: {e}", args.snapshot.display()));
    }
    if let Err(e) = std::fs::write(&args.manifest, world.manifest_yaml()) {
        return fail(format_args!("cannot write {}: {e}", args.manifest.display()));
    }
    println!(
        "{}: {} ENIs, {} security groups, {} rules, {} subnets; {:.1} MB of JSON",
        args.snapshot.display(),
        world.snapshot.network_interfaces.len(),
        world.snapshot.security_groups.len(),
        world.rule_count(),
        world.snapshot.subnets.len(),
        json.len() as f64 / 1e6
    );
    ExitCode::from(exit::OK)
}
