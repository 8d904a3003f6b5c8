//! The CustomResourceDefinitions, generated from the Rust types: the source of `crds/` and of
//! the Helm chart's copies (tests in `crate::artifacts` fail when either drifts).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::CustomResourceExt;

use super::{EndpointGrant, InterfaceEndpoint, PlanApproval};

/// The `InterfaceEndpoint` CRD.
pub fn crd() -> CustomResourceDefinition {
    generated::<InterfaceEndpoint>()
}

/// `K`'s CRD as kube-derive generates it, with the integer formats Kubernetes knows.
fn generated<K: CustomResourceExt>() -> CustomResourceDefinition {
    let mut crd = K::crd();
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            kubernetes_integer_formats(schema);
        }
    }
    crd
}

/// schemars names Rust's integer types (`uint16`, `uint32`); Kubernetes knows only `int32` and
/// `int64` and warns about any other format on every write of the CRD (`Warning: unrecognized
/// format "uint32"`, printed by `kubectl apply` and `helm install`). Each becomes the one that
/// holds its range; `minimum` and `maximum` keep the rest of the meaning.
fn kubernetes_integer_formats(schema: &mut JSONSchemaProps) {
    if schema.type_.as_deref() == Some("integer") {
        schema.format = schema.format.as_deref().map(|format| match format {
            "int8" | "int16" | "int32" | "uint8" | "uint16" => "int32".to_string(),
            _ => "int64".to_string(),
        });
    }
    let nested = schema
        .properties
        .iter_mut()
        .flat_map(|p| p.values_mut())
        .chain(schema.all_of.iter_mut().flatten())
        .chain(schema.any_of.iter_mut().flatten())
        .chain(schema.one_of.iter_mut().flatten())
        .chain(schema.not.as_deref_mut())
        .chain(match &mut schema.items {
            Some(JSONSchemaPropsOrArray::Schema(s)) => vec![s.as_mut()],
            Some(JSONSchemaPropsOrArray::Schemas(s)) => s.iter_mut().collect(),
            None => vec![],
        })
        .chain(match &mut schema.additional_properties {
            Some(JSONSchemaPropsOrBool::Schema(s)) => Some(s.as_mut()),
            _ => None,
        });
    for inner in nested {
        kubernetes_integer_formats(inner);
    }
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
            crd: generated::<EndpointGrant>(),
        },
        CrdFile {
            file: "planapprovals.yaml",
            kind: "PlanApproval",
            crd: generated::<PlanApproval>(),
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

    /// The formats kube-apiserver recognizes (apiextensions' supported formats, and the numeric
    /// ones of OpenAPI); tests/e2e/crd_rules.rs checks the server itself says nothing.
    const KUBERNETES_FORMATS: [&str; 29] = [
        "bsonobjectid",
        "uri",
        "email",
        "hostname",
        "ipv4",
        "ipv6",
        "cidr",
        "mac",
        "uuid",
        "uuid3",
        "uuid4",
        "uuid5",
        "isbn",
        "isbn10",
        "isbn13",
        "creditcard",
        "ssn",
        "hexcolor",
        "rgbcolor",
        "byte",
        "password",
        "date",
        "duration",
        "datetime",
        "date-time",
        "int32",
        "int64",
        "float",
        "double",
    ];

    fn formats(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(f)) = map.get("format") {
                    out.push(f.clone());
                }
                map.values().for_each(|v| formats(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| formats(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_format_in_the_schemas_is_one_kubernetes_knows() {
        for file in all() {
            let mut found = Vec::new();
            formats(&serde_json::to_value(&file.crd).unwrap(), &mut found);
            if file.kind == "InterfaceEndpoint" {
                assert!(
                    found.iter().any(|f| f == "int32"),
                    "u16 ports are int32: {found:?}"
                );
            }
            let unknown: Vec<_> = found
                .iter()
                .filter(|f| !KUBERNETES_FORMATS.contains(&f.as_str()))
                .collect();
            assert!(
                unknown.is_empty(),
                "formats kube-apiserver warns about in {}: {unknown:?}",
                file.file
            );
        }
    }

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
