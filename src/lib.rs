//! vpce-rollout: roll out AWS interface VPC endpoints without cutting anyone off.
//!
//! The flow, and where each part lives:
//!
//! - [`api`]: the custom resources: `InterfaceEndpoint` (spec, status, conditions), and the
//!   platform's `EndpointGrant` and `PlanApproval`.
//! - [`grants`]: pure: which grant admits an object, and what the controller may do for it.
//! - [`model`]: the VPC network as AWS describes it (`aws ec2 describe-*` JSON), the snapshot.
//! - [`analysis`]: pure: which ENIs private DNS would capture, whether each can reach the
//!   endpoint on its ports (`spec.ports`, tcp/443 by default; security groups and NACLs, both
//!   ways), and the fewest rules that fix it.
//! - [`plan`]: pure: the rollout state machine, (spec, status, observed world) → next step.
//! - [`aws`]: the EC2 port (one trait), its aws-sdk-ec2 adapter and the simulated world `sim`.
//! - [`logs`]: the CloudWatch Logs port (Logs Insights, FilterLogEvents) for the evidence and
//!   canary readers, its aws-sdk-cloudwatchlogs adapter and simulated log groups.
//! - [`engine`]: one reconcile pass over the port: observe → plan → act → report. No Kubernetes.
//! - [`controller`]: kube-runtime wiring: finalizer, status by server-side apply, Events, metrics.
//! - [`cli`]: the `vpce-rollout` commands.
//! - [`memo`]: the last few results of a pure function, per thread (work passes repeat).
//! - [`simulation`]: the deterministic simulation: the engine and the controller's handling on
//!   the simulated world, under faults and outside changes, checked against the invariants.
//!
//! Decisions never do I/O; I/O never decides.
#![forbid(unsafe_code)]

pub mod analysis;
pub mod api;
pub mod aws;
pub mod cli;
pub mod controller;
pub mod dns;
pub mod engine;
pub mod grants;
pub mod logs;
pub mod memo;
pub mod model;
pub mod plan;
pub mod simulation;

#[cfg(test)]
mod artifacts;
