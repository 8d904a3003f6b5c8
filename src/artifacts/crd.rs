//! `crds/*.yaml` are the CRDs generated from the types, and the chart ships the same bytes.

use std::path::{Path, PathBuf};

use crate::api::crd::{all, yaml_of};

pub(crate) fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

const CRD_DIR: &str = "crds";
const CHART_CRD_DIR: &str = "charts/vpce-rollout/crds";

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
             then review and commit the diff (the chart's crds/ holds the same files as crds/)."
        );
    }
}

#[test]
fn checked_in_crds_are_the_ones_generated_from_the_types() {
    for file in all() {
        let why = format!("the {} types changed", file.kind);
        check_or_update(&format!("{CRD_DIR}/{}", file.file), &yaml_of(&file), &why);
    }
}

#[test]
fn chart_ships_the_same_crds_as_crds_dir() {
    for file in all() {
        let why = format!("the chart's copy must equal {CRD_DIR}/{}", file.file);
        check_or_update(&format!("{CHART_CRD_DIR}/{}", file.file), &yaml_of(&file), &why);
    }
}

#[test]
fn crds_dir_holds_exactly_the_generated_crds() {
    let generated: Vec<String> = all().iter().map(|f| f.file.to_string()).collect();
    for dir in [CRD_DIR, CHART_CRD_DIR] {
        let mut present: Vec<String> = std::fs::read_dir(repo_path(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        present.sort();
        let mut expected = generated.clone();
        expected.sort();
        assert_eq!(
            present, expected,
            "{dir}/ must hold the generated CRDs and nothing else"
        );
    }
}

#[test]
fn grants_and_approvals_are_cluster_scoped_with_the_contracted_columns() {
    let crds = all();
    let columns = |i: usize| -> Vec<String> {
        crds[i].crd.spec.versions[0]
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.clone())
            .collect()
    };
    assert_eq!(crds[1].crd.spec.names.kind, "EndpointGrant");
    assert_eq!(crds[1].crd.spec.scope, "Cluster");
    assert_eq!(
        columns(1),
        ["Namespaces", "Selector", "VPCs", "Account", "Approved By", "Age"]
    );
    assert_eq!(crds[2].crd.spec.names.kind, "PlanApproval");
    assert_eq!(crds[2].crd.spec.scope, "Cluster");
    assert_eq!(columns(2), ["Namespace", "Endpoint", "Plan", "Age"]);
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
        .map(|c| (c.name.as_str(), c.priority.unwrap_or(0)))
        .collect();
    assert_eq!(
        columns,
        [
            ("Phase", 0),
            ("Endpoint", 0),
            ("Private DNS", 0),
            ("Clients", 0),
            ("Age", 0),
            ("Deletion", 1),
        ],
        "what deleting an object does is shown by `kubectl get vpce -o wide`"
    );
}
