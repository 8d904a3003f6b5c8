//! kube-runtime wiring: finalizer, status by server-side apply, Events, metrics.
//!
//! The operational building blocks the reconcile loop is wired with:
//!
//! - [`metrics`]: the Prometheus registry (bounded labels only) and its text exposition;
//! - [`instrumented_ec2`]: an EC2 port wrapper that counts calls by operation and outcome;
//! - [`http`]: `/metrics`, `/healthz`, `/readyz`, with graceful shutdown.

pub mod http;
pub mod instrumented_ec2;
pub mod leader;
pub mod metrics;
