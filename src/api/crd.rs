//! The CustomResourceDefinition, generated from the Rust types: the source of `crds/` and of the
//! Helm chart's copy (tests in `crate::artifacts` fail when either drifts).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::InterfaceEndpoint;

/// The first lines of the generated file.
const HEADER: &str = "\
# Generated from the InterfaceEndpoint type in src/api by `vpce-rollout crd`; do not edit.
# Regenerate: UPDATE_ARTIFACTS=1 cargo test --lib artifacts::crd
";

/// The `InterfaceEndpoint` CRD.
pub fn crd() -> CustomResourceDefinition {
    InterfaceEndpoint::crd()
}

/// The CRD as YAML, exactly as checked in at `crds/interfaceendpoints.yaml`.
pub fn crd_yaml() -> String {
    let yaml = serde_yaml::to_string(&crd()).expect("a CustomResourceDefinition serializes to YAML");
    format!("{HEADER}{yaml}")
}
