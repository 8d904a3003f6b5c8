//! kube-runtime wiring: finalizer, status by server-side apply, Events, metrics.
//!
//! - [`run`]: the HTTP endpoints, leader election and the kube-runtime `Controller`;
//! - [`reconcile`]: one pass for one object: finalizer → [`crate::engine::reconcile`] → status,
//!   Events, metrics; the error policy (exponential backoff per object);
//! - [`writes`]: the Kubernetes writes (finalizer, status by server-side apply, Events);
//! - [`tenancy`]: the caches of EndpointGrants, PlanApprovals and namespace labels the verdict
//!   is decided from, and the requeues of the objects a change of them affects.
//!
//! The operational building blocks the reconcile loop is wired with:
//!
//! - [`options`]: the `run` command's operational flags and their environment variables;
//! - [`logging`]: tracing setup (text or JSON, `RUST_LOG`-style filter);
//! - [`metrics`]: the Prometheus registry (bounded labels only) and its text exposition;
//! - [`instrumented_ec2`]: EC2 port and provider wrappers that count calls by operation and
//!   outcome;
//! - [`http`]: `/metrics`, `/healthz`, `/readyz`, with graceful shutdown;
//! - [`leader`]: leader election on a `coordination.k8s.io/v1` Lease.

pub mod http;
pub mod instrumented_ec2;
pub mod leader;
pub mod logging;
pub mod metrics;
pub mod options;
pub mod reconcile;
pub mod run;
pub mod tenancy;
pub mod writes;
