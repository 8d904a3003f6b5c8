//! End-to-end tests: the controller against the Kubernetes API test server (real HTTP, watch,
//! resourceVersion, status subresource, finalizers).
//!
//! - `on_sim`: the controller in-process over the simulated EC2 world, whose clock follows the
//!   wall clock: the full rollout through Kubernetes, approval by a spec patch, drift,
//!   deletion, Retain, restarts.
//! - `leader`: two replicas with leader election: only the Lease holder reconciles.
//! - `binary_on_moto`: the real `vpce-rollout` binary against the test server and moto through
//!   the launcher: what a platform team runs.

// moto through the launcher and the incident world on it, shared with the wire tests.
#[allow(dead_code)]
#[path = "../wire/bench.rs"]
mod bench;
#[allow(dead_code)]
#[path = "../wire/moto.rs"]
mod moto;

mod binary_on_moto;
mod harness;
mod leader;
mod on_sim;
