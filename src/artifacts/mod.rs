//! Tests that keep the files shipped beside the code honest: the generated CRD (`crds/` and the
//! chart's copy), the Helm chart's structure, the examples, and the IAM policy.
//!
//! When one fails, its message says how to fix or regenerate the file. `UPDATE_ARTIFACTS=1`
//! makes the generated-file tests rewrite the files instead of failing.

mod chart;
mod crd;
mod examples;
mod iam;
