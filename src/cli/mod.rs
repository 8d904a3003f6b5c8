//! The `vpce-rollout` commands, one file per command; [`Command`] lists them and [`main`]
//! dispatches. Commands print for people on stdout, errors on stderr, and say how things went
//! through the exit code ([`exit`]).

pub mod crd;
pub mod demo;
pub mod generate_vpc;
pub mod kubectl_yaml;
pub mod live;
pub mod manifest;
pub mod plan;
pub mod review;
pub mod run;
pub mod simulate;
pub mod snapshot;
pub mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes shared by the commands.
pub mod exit {
    /// Everything is as it should be (e.g. every client can reach the endpoint).
    pub const OK: u8 = 0;
    /// The command could not do its job: bad input, bad snapshot, a spec that does not fit.
    pub const ERROR: u8 = 1;
    /// The command worked and found clients that would be cut off, all of which the plan
    /// fixes (the controller adds the rules itself, or once the plan is approved).
    pub const BLOCKED: u8 = 2;
    /// The command worked and found something the plan cannot fix: a client blocked by a
    /// network ACL, by a rule whose mode is Off or that the controller may not add, or a
    /// private DNS precondition or acceptance that blocks the switch.
    pub const NOT_FIXABLE: u8 = 3;
}

/// Roll out AWS interface VPC endpoints without cutting anyone off.
#[derive(Debug, Parser)]
#[command(name = "vpce-rollout", version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a command, `vpce-rollout` runs the controller (`run`) with these options.
    #[command(flatten)]
    pub run: run::RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller (the default command)
    ///
    /// Watches InterfaceEndpoints with the kubeconfig or in-cluster configuration and rolls them
    /// out in the AWS account of the default credential chain (docs/aws.md). Serves /metrics,
    /// /healthz and /readyz; with --leader-elect, only the replica holding the Lease reconciles.
    Run(run::RunArgs),
    /// Print the CustomResourceDefinitions (InterfaceEndpoint, EndpointGrant, PlanApproval; as in crds/)
    Crd,
    /// Check which clients an endpoint's private DNS would cut off
    ///
    /// Reads the InterfaceEndpoint manifest and a VPC snapshot (`--snapshot`), or the live VPC
    /// when no snapshot is given (read-only EC2 calls, docs/aws.md); prints which ENIs private DNS
    /// would capture, which of them cannot reach the endpoint on its ports (spec.ports, tcp/443
    /// by default) and why, and the fewest security-group rules that would fix them.
    ///
    /// Several manifests at once (`-f` repeated, a directory, documents separated by `---`):
    /// one section per InterfaceEndpoint, one exit code for all. `-o markdown` writes a pull
    /// request's review comment.
    ///
    /// Exit code 0: every client can reach the endpoint; 2: some are blocked and the plan fixes
    /// every one (by itself or once approved); 3: something the plan cannot fix (network ACLs,
    /// a mode set to Off, a group it may not change, a private DNS precondition, the service
    /// owner's acceptance); 1: error.
    Plan(plan::PlanArgs),
    /// Write one VPC, as the live account shows it, in the snapshot format `plan` reads
    ///
    /// Read-only EC2 calls with the environment's credentials, region and endpoint (docs/aws.md).
    /// `plan --snapshot` on the file later gives the verdicts a live `plan` gives now.
    Snapshot(snapshot::SnapshotArgs),
    /// Replay the incident on a simulated EC2 world: the real engine, virtual time, no network
    ///
    /// A CloudWatch Logs endpoint for a VPC Lambda, in a VPC where a Zabbix agent on EC2 is not
    /// admitted by the endpoint's security group. Shows each reconcile step (phase, checks,
    /// actions, Events) in Auto and in Approval mode, the plan and the approval edit, and the
    /// final status as `kubectl get vpce -o yaml` shows it. Takes well under a second.
    Demo(demo::DemoArgs),
    /// Check the controller's promises under faults: the deterministic simulation
    ///
    /// Each seed is one run of several objects over a simulated account on virtual time: the
    /// real engine, EC2 faults (throttling, 5xx, timeouts before and after EC2 acted, endpoints
    /// slow or failed), changes by others, spec edits and deletions, crashes, lost status writes
    /// and leader changes, the flow-log canary and its reactions; eight invariants checked after
    /// every step (docs/reliability.md). Prints seeds, steps, faults and changes by kind, the
    /// canary's reactions, violations by invariant and the rate.
    ///
    /// Exit code 0: no invariant broken; 1: some seed broke one (each named, with the command
    /// that replays it), or an error.
    Simulate(simulate::SimulateArgs),
    /// Writes a large generated VPC and its endpoint's manifest (docs/performance.md).
    #[command(hide = true)]
    GenerateVpc(generate_vpc::GenerateVpcArgs),
}

/// Parses the command line and runs the command.
///
/// A usage error exits with [`exit::ERROR`], not clap's default 2, which means "blocked" here.
pub fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => run(cli),
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(exit::ERROR)
            } else {
                // --help and --version.
                ExitCode::from(exit::OK)
            }
        }
    }
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        None => run::run(&cli.run),
        Some(Command::Run(args)) => run::run(&args),
        Some(Command::Crd) => crd::run(),
        Some(Command::Plan(args)) => plan::run(&args),
        Some(Command::Snapshot(args)) => snapshot::run_command(&args),
        Some(Command::Demo(args)) => demo::run(&args),
        Some(Command::Simulate(args)) => simulate::run(&args),
        Some(Command::GenerateVpc(args)) => generate_vpc::run(&args),
    }
}

/// Prints `error: ...` on stderr and returns [`exit::ERROR`].
pub fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(exit::ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
