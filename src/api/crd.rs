//! The CustomResourceDefinitions, generated from the Rust types: the source of `crds/` and of
//! the Helm chart's copies (tests in `crate::artifacts` fail when either drifts).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::{EndpointGrant, InterfaceEndpoint, PlanApproval};

/// The `InterfaceEndpoint` CRD.
pub fn crd() -> CustomResourceDefinition {
    InterfaceEndpoint::crd()
}

/// One generated CRD and the file it is checked in as (under `crds/` and the chart's `crds/`).
pub struct CrdFile {
    pub file: &'static str,
    pub kind: &'static str,
    pub crd: CustomResourceDefinition,
}

/// Every CRD the project ships: InterfaceEndpoint (what app teams write), EndpointGrant and
/// PlanApproval (what the platform team writes).
pub fn all() -> Vec<CrdFile> {
    vec![
        CrdFile {
            file: "interfaceendpoints.yaml",
            kind: "InterfaceEndpoint",
            crd: crd(),
        },
        CrdFile {
            file: "endpointgrants.yaml",
            kind: "EndpointGrant",
            crd: EndpointGrant::crd(),
        },
        CrdFile {
            file: "planapprovals.yaml",
            kind: "PlanApproval",
            crd: PlanApproval::crd(),
        },
    ]
}

/// The InterfaceEndpoint CRD as YAML, exactly as checked in at `crds/interfaceendpoints.yaml`.
pub fn crd_yaml() -> String {
    yaml_of(&all()[0])
}

/// A CRD as YAML, exactly as checked in at `crds/<file>`.
pub fn yaml_of(file: &CrdFile) -> String {
    let yaml = serde_yaml::to_string(&file.crd).expect("a CustomResourceDefinition serializes to YAML");
    let header = format!(
        "# Generated from the {} type in src/api by `vpce-rollout crd`; do not edit.\n\
         # Regenerate: UPDATE_ARTIFACTS=1 cargo test --lib artifacts::crd\n",
        file.kind
    );
    format!("{header}{}", quote_yaml11_booleans(&yaml))
}

/// Every CRD as one multi-document YAML stream (`vpce-rollout crd | kubectl apply -f -`).
pub fn all_yaml() -> String {
    all().iter().map(yaml_of).collect::<Vec<_>>().join("---\n")
}

/// Words YAML 1.1 reads as booleans. serde_yaml writes YAML 1.2, where they are plain strings,
/// but kubectl and the API server read YAML 1.1: an unquoted enum value `Off` would become
/// `false` there, and `remediation.endpointIngress: Off` would be rejected.
const YAML11_BOOLEANS: [&str; 22] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False",
    "FALSE", "on", "On", "ON", "off", "Off", "OFF",
];

/// Quotes plain scalars (`- Off`, `default: Off`) that YAML 1.1 would read as booleans.
fn quote_yaml11_booleans(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len());
    for line in yaml.lines() {
        let (head, value) = match line.rsplit_once(": ") {
            Some((head, value)) if !head.trim_start().starts_with('#') => (format!("{head}: "), value),
            _ => match line.trim_start().strip_prefix("- ") {
                Some(value) => (line[..line.len() - value.len()].to_string(), value),
                None => (String::new(), ""),
            },
        };
        if YAML11_BOOLEANS.contains(&value) && !(value == "true" || value == "false") {
            out.push_str(&format!("{head}'{value}'"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remediation_mode_off_is_quoted_so_yaml_1_1_readers_keep_it_a_string() {
        let yaml = crd_yaml();
        assert!(yaml.contains("- 'Off'"), "the enum value Off must be quoted");
        for line in yaml.lines() {
            let value = line
                .rsplit_once(": ")
                .map(|(_, v)| v)
                .unwrap_or(line.trim_start().trim_start_matches("- "));
            assert!(
                !YAML11_BOOLEANS.contains(&value) || value == "true" || value == "false",
                "unquoted YAML 1.1 boolean in: {line}"
            );
        }
        let parsed: serde_json::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(
            parsed,
            serde_json::to_value(crd()).unwrap(),
            "quoting changes no value"
        );
    }

    #[test]
    fn real_booleans_and_other_strings_are_left_alone() {
        let yaml = "a: true\nb: Off\nc:\n- On\n- Auto\nd: 'x'\n";
        assert_eq!(
            quote_yaml11_booleans(yaml),
            "a: true\nb: 'Off'\nc:\n- 'On'\n- Auto\nd: 'x'\n"
        );
    }
}
