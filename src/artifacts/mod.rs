//! Tests that keep the files shipped beside the code honest: the generated CRD (`crds/` and the
//! chart's copy), the Helm chart's structure, the examples, the IAM policy, and the docs'
//! reference of every name the controller reports.
//!
//! When one fails, its message says how to fix or regenerate the file. `UPDATE_ARTIFACTS=1`
//! makes the generated-file tests rewrite the files instead of failing.

mod chart;
mod crd;
mod docs;
mod examples;
mod iam;
