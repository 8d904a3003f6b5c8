//! `crds/interfaceendpoints.yaml` is the CRD generated from the types, and the chart ships the
//! same bytes.

use std::path::{Path, PathBuf};

use crate::api::crd::crd_yaml;

pub(crate) fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub(crate) const CRD_FILE: &str = "crds/interfaceendpoints.yaml";
pub(crate) const CHART_CRD_FILE: &str = "charts/vpce-rollout/crds/interfaceendpoints.yaml";

fn update_requested() -> bool {
    std::env::var_os("UPDATE_ARTIFACTS").is_some_and(|v| v == "1")
}

/// Compares `path` with `expected`, or rewrites it under `UPDATE_ARTIFACTS=1`.
fn check_or_update(relative: &str, expected: &str, why: &str) {
    let path = repo_path(relative);
    if update_requested() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        let line = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()))
            + 1;
        panic!(
            "{relative} is out of date ({why}); first difference at line {line}.\n\
             Regenerate it with:\n    UPDATE_ARTIFACTS=1 cargo test --lib artifacts::crd\n\
             (or `vpce-rollout crd > {CRD_FILE} && cp {CRD_FILE} {CHART_CRD_FILE}`), then review and commit the diff."
        );
    }
}

#[test]
fn checked_in_crd_is_the_one_generated_from_the_types() {
    check_or_update(CRD_FILE, &crd_yaml(), "the InterfaceEndpoint types changed");
}

#[test]
fn chart_ships_the_same_crd_as_crds_dir() {
    check_or_update(
        CHART_CRD_FILE,
        &crd_yaml(),
        "the chart's copy must equal crds/interfaceendpoints.yaml",
    );
}

#[test]
fn generated_crd_has_the_contracted_names_and_columns() {
    let crd = crate::api::crd::crd();
    assert_eq!(crd.spec.group, "vpce-rollout.dev");
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(crd.spec.names.short_names, Some(vec!["vpce".to_string()]));
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(version.subresources.as_ref().unwrap().status.is_some());
    let columns: Vec<_> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(columns, ["Phase", "Endpoint", "Private DNS", "Clients", "Age"]);
}
