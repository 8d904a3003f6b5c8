//! End-to-end tests: the controller against the real kube-apiserver and etcd
//! (tests/kube-apiserver: built by its build.sh, which .ci/test runs; every test here fails,
//! naming it, when they are not built). Each test has a control plane of its own.
//!
//! - `on_sim`: the controller in-process over the simulated EC2 world, whose clock follows the
//!   wall clock: the full rollout through Kubernetes, approval by a spec patch, drift,
//!   deletion, Retain, restarts; the status as server-side apply keeps it.
//! - `leader`: two replicas with leader election on a real Lease: only the holder reconciles.
//! - `binary_on_moto`: the real `vpce-rollout` binary against kube-apiserver and moto through
//!   the launcher, driven with the kubectl of the same release: what a platform team runs.
//! - `adoption_on_moto`: the Terraform → vpce-rollout walk-through and back, with the binary.
//! - `observe_only_on_moto`: the binary with `--observe-only`: what it would do is reported,
//!   and moto serves it no mutating call.
//! - `crd_rules`: the CRD's CEL rules, patterns and enums, with the messages users read.
//! - `chart_rbac`: the binary with exactly what `helm install` of the chart grants.
//! - `tenancy`: EndpointGrants, PlanApprovals and namespace labels, watched: their changes reach
//!   the objects at once.
//! - `evidence_on_moto`: the binary reads Resolver query log records from moto's CloudWatch
//!   Logs; under `scope: Evidence` only the clients that resolved the name are checked.
//! - `canary_on_moto`: the binary reads a REJECT flow log record toward an endpoint ENI from
//!   moto's CloudWatch Logs after Ready and puts the missing rule back within one poll; under
//!   `onReject: Rollback` it turns private DNS off until the rule is back.
//! - `accounts_on_moto`: the binary acting in another account through a grant's role (moto's
//!   STS): every EC2 call in that account, AssumeRole only in the controller's.

// moto through the launcher and the incident world on it, shared with the wire tests.
#[allow(dead_code)]
#[path = "../wire/bench.rs"]
mod bench;
#[allow(dead_code)]
#[path = "../wire/moto.rs"]
mod moto;

mod accounts_on_moto;
mod adoption_on_moto;
mod binary_on_moto;
mod canary_on_moto;
mod chart_rbac;
mod crd_rules;
mod evidence_on_moto;
mod harness;
mod leader;
mod observe_only_on_moto;
mod on_sim;
mod tenancy;
