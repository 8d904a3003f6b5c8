//! Reading an `InterfaceEndpoint` manifest (the YAML an app team commits) for the offline
//! commands: errors name the file, the field and the line, and unknown fields are refused as
//! `kubectl apply` refuses them, so that a typo cannot silently change what is analysed.

use std::collections::BTreeSet;
use std::path::Path;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

use super::kubectl_yaml;
use crate::api::{GROUP, InterfaceEndpointSpec, Owner, validation};

/// The `apiVersion` a manifest must declare.
pub fn api_version() -> String {
    format!("{GROUP}/v1alpha1")
}
/// The `kind` a manifest must declare.
pub const KIND: &str = "InterfaceEndpoint";

/// A manifest, read.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub namespace: String,
    pub name: String,
    /// `metadata.uid` when present (a manifest fetched from the cluster has one).
    pub uid: Option<String>,
    pub spec: InterfaceEndpointSpec,
}

impl Manifest {
    /// The identity in the ownership tags; the UID is empty for a manifest that was never
    /// applied, and the analysis then matches the owner tag alone.
    pub fn owner(&self) -> Owner {
        Owner {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            uid: self.uid.clone().unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    api_version: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    metadata: ObjectMeta,
    spec: Option<InterfaceEndpointSpec>,
}

/// One document of a manifest file, as `plan` takes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// An `InterfaceEndpoint`, read and validated.
    Endpoint(Manifest),
    /// Another kind of object (a Deployment next to the endpoint, a grant): not analysed;
    /// `kind name` for the note that says so.
    Skipped(String),
}

/// A document of a file: where it is and what it holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    /// The file as the user named it (`-` for standard input).
    pub file: String,
    /// The document's place in the file, from 1.
    pub document: usize,
    /// Whether the file holds more than one document (messages then name the document).
    pub of_many: bool,
    pub entry: Entry,
}

impl Located {
    /// `file` or `file, document 2`.
    pub fn place(&self) -> String {
        place(&self.file, self.document, self.of_many)
    }
}

fn place(file: &str, document: usize, of_many: bool) -> String {
    if of_many {
        format!("{file}, document {document}")
    } else {
        file.to_string()
    }
}

/// Reads every document of every path, in order: a file (`-` reads standard input), or a
/// directory, whose `.yaml`, `.yml` and `.json` files are read in name order (not its
/// subdirectories, as `kubectl apply -f DIR`). Empty documents are left out; an
/// `InterfaceEndpoint` that does not read or validate is an error naming the file and the
/// document, and so is a document that is no Kubernetes object at all.
pub fn read_all(paths: &[std::path::PathBuf]) -> Result<Vec<Located>, String> {
    let mut out = Vec::new();
    for path in paths {
        if path.as_os_str() != "-" && path.is_dir() {
            let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
                })
                .collect();
            files.sort();
            for file in files {
                out.extend(read_documents(&file)?);
            }
        } else {
            out.extend(read_documents(path)?);
        }
    }
    Ok(out)
}

/// Every document of one file.
fn read_documents(path: &Path) -> Result<Vec<Located>, String> {
    let shown = path.display().to_string();
    let text = read_text(path)?;
    let documents = kubectl_yaml::read_all(&text);
    let of_many = documents.len() > 1;
    let mut out = Vec::new();
    for (i, document) in documents.into_iter().enumerate() {
        let at = |e: String| format!("{}: {e}", place(&shown, i + 1, of_many));
        let document = document.map_err(at)?;
        let kind = document.value.get("kind").and_then(Value::as_str);
        let entry = match kind {
            _ if document.value.is_null() => continue,
            Some(kind) if kind != KIND => {
                let name = document
                    .value
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("(no name)");
                Entry::Skipped(format!("{kind} {name}"))
            }
            _ => Entry::Endpoint(parse_document(&text, i, document).map_err(at)?),
        };
        out.push(Located {
            file: shown.clone(),
            document: i + 1,
            of_many,
            entry,
        });
    }
    Ok(out)
}

fn read_text(path: &Path) -> Result<String, String> {
    if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("cannot read standard input: {e}"))
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

/// Parses one YAML document holding an `InterfaceEndpoint`, as `kubectl apply` would send it.
pub fn parse(text: &str) -> Result<Manifest, String> {
    // YAML 1.1 as kubectl reads it, every key kept. It fails only where kubectl fails (syntax,
    // a repeated key, nesting or aliases past serde_yaml's limits), and then nothing is
    // analysed: the unknown-field guard below is never skipped, or a typo would silently
    // become a default.
    parse_document(text, 0, kubectl_yaml::read(text)?)
}

/// [`parse`] of the document at `index` of `text`, read already.
fn parse_document(text: &str, index: usize, document: kubectl_yaml::Document) -> Result<Manifest, String> {
    let raw: Raw = serde_path_to_error::deserialize(&document.value).map_err(|e| {
        let path = e.path().to_string();
        if let Some(b) = document.yaml11_booleans.iter().find(|b| b.path == path) {
            return format!(
                "{path}: {} (kubectl reads an unquoted {} as the boolean {}, as YAML 1.1 does: \
                 quote it, \"{}\")",
                e.into_inner(),
                b.word,
                b.value,
                b.word
            );
        }
        // serde_yaml's message says the same and adds the line.
        let again = serde_yaml::Deserializer::from_str(text)
            .nth(index)
            .map(Raw::deserialize);
        match again {
            Some(Err(with_line)) => with_line.to_string(),
            _ => format!("{path}: {}", e.into_inner()),
        }
    })?;

    let want_version = api_version();
    match (raw.api_version.as_deref(), raw.kind.as_deref()) {
        (Some(v), Some(KIND)) if v == want_version => {}
        (v, k) => {
            return Err(format!(
                "expected apiVersion {want_version} and kind {KIND}, found apiVersion {} and kind {}",
                v.unwrap_or("(none)"),
                k.unwrap_or("(none)")
            ));
        }
    }
    let spec = raw.spec.ok_or("spec is missing")?;
    let name = raw
        .metadata
        .name
        .filter(|n| !n.is_empty())
        .ok_or("metadata.name is missing")?;

    // The document parsed into the types; now refuse what they silently ignored, as kubectl's
    // strict field validation does (metadata included: a misspelt namespace is another object).
    let mut unknown = Vec::new();
    for (key, value) in document.value.as_object().into_iter().flatten() {
        let schema = match key.as_str() {
            "apiVersion" | "kind" | "status" => continue,
            "metadata" => schemars::schema_for!(ObjectMeta),
            "spec" => schemars::schema_for!(InterfaceEndpointSpec),
            _ => {
                unknown.push(key.clone());
                continue;
            }
        };
        let schema = serde_json::to_value(schema).unwrap_or(Value::Null);
        unknown_fields(value, &schema, &schema, key, &mut unknown);
    }
    if !unknown.is_empty() {
        return Err(format!("unknown field {}", unknown.join(", ")));
    }

    // The validation the controller applies to the object: the CRD schema, and what no
    // schema can say.
    let problems = validation::spec_problems(&spec);
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }

    Ok(Manifest {
        namespace: raw
            .metadata
            .namespace
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into()),
        name,
        uid: raw.metadata.uid.filter(|u| !u.is_empty()),
        spec,
    })
}

/// The object schemas `schema` stands for, following `$ref` and `anyOf`/`oneOf`/`allOf`.
fn object_schemas<'s>(schema: &'s Value, root: &'s Value, out: &mut Vec<&'s Value>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let pointer = reference.trim_start_matches('#');
        if let Some(target) = root.pointer(pointer) {
            object_schemas(target, root, out);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for branch in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
            object_schemas(branch, root, out);
        }
    }
    if schema.get("properties").is_some() {
        out.push(schema);
    }
}

/// Collects the JSON paths of keys in `value` that `schema` does not declare.
fn unknown_fields(value: &Value, schema: &Value, root: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let mut objects = Vec::new();
            object_schemas(schema, root, &mut objects);
            if objects.is_empty() {
                // A free-form map (`tags`): any key goes.
                return;
            }
            let known: BTreeSet<&str> = objects
                .iter()
                .filter_map(|o| o.get("properties").and_then(Value::as_object))
                .flat_map(|p| p.keys().map(String::as_str))
                .collect();
            for (key, child) in map {
                let child_path = format!("{path}.{key}");
                if !known.contains(key.as_str()) {
                    out.push(child_path);
                    continue;
                }
                for object in &objects {
                    if let Some(child_schema) = object.get("properties").and_then(|p| p.get(key)) {
                        unknown_fields(child, child_schema, root, &child_path, out);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    unknown_fields(item, item_schema, root, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RemediationMode;

    const MANIFEST: &str = "\
apiVersion: vpce-rollout.dev/v1alpha1
kind: InterfaceEndpoint
metadata:
  name: logs
spec:
  vpcId: vpc-0123456789abcdef0
  serviceName: com.amazonaws.ap-northeast-1.logs
  subnetIds: [subnet-0a000000000000001]
  securityGroupIds: [sg-0e000000000000001]
  clients:
    exclude:
      interfaceTypes: [lambda]
";

    #[test]
    fn a_manifest_without_namespace_or_uid_is_in_default_and_owned_by_tag_alone() {
        let m = parse(MANIFEST).unwrap();
        assert_eq!(m.namespace, "default");
        assert_eq!(m.name, "logs");
        assert_eq!(m.owner().uid, "");
        assert_eq!(m.spec.clients.exclude.interface_types, ["lambda"]);
    }

    #[test]
    fn the_uid_is_kept_when_present() {
        let text = MANIFEST.replace("  name: logs", "  name: logs\n  namespace: mon\n  uid: 1234-abcd");
        let m = parse(&text).unwrap();
        assert_eq!(
            (m.namespace.as_str(), m.uid.as_deref()),
            ("mon", Some("1234-abcd"))
        );
    }

    #[test]
    fn a_bad_value_names_the_field_and_the_line() {
        let text = MANIFEST.replace(
            "  clients:",
            "  remediation:\n    endpointIngress: Automatic\n  clients:",
        );
        let err = parse(&text).unwrap_err();
        assert!(
            err.starts_with("spec.remediation.endpointIngress: unknown variant `Automatic`"),
            "{err}"
        );
        assert!(err.contains("line 11"), "{err}");
    }

    #[test]
    fn unknown_fields_are_refused_with_their_path() {
        let text = MANIFEST.replace("      interfaceTypes", "      interfaceType");
        assert_eq!(
            parse(&text).unwrap_err(),
            "unknown field spec.clients.exclude.interfaceType"
        );
        let text = MANIFEST.replace("  clients:", "  remediaton:\n    clientEgress: Auto\n  clients:");
        assert_eq!(parse(&text).unwrap_err(), "unknown field spec.remediaton");
        let text = MANIFEST.replace("  clients:", "  tags:\n    team: observability\n  clients:");
        assert!(parse(&text).is_ok(), "tags take any key");
    }

    #[test]
    fn unknown_fields_outside_the_spec_are_refused_too() {
        let text = MANIFEST.replace("  name: logs", "  name: logs\n  namspace: mon");
        assert_eq!(parse(&text).unwrap_err(), "unknown field metadata.namspace");
        let text = MANIFEST.replace("kind: InterfaceEndpoint", "kind: InterfaceEndpoint\nspecs: {}");
        assert_eq!(parse(&text).unwrap_err(), "unknown field specs");
        let text = MANIFEST.replace(
            "  name: logs",
            "  name: logs\n  labels: {team: obs}\n  annotations: {note: x}",
        );
        assert!(parse(&text).is_ok(), "labels and annotations take any key");
    }

    #[test]
    fn a_typo_is_refused_even_when_the_document_has_a_repeated_key() {
        // The guard used to run on a second parse whose failure skipped it: the typo became the
        // default (Auto) silently.
        let text = MANIFEST.replace(
            "  name: logs",
            "  name: logs\n  annotations:\n    note: a\n    note: b",
        ) + "  remediation:\n    endpointIngres: Approval\n";
        let err = parse(&text).unwrap_err();
        assert!(
            err.starts_with("metadata.annotations: key `note` is given twice"),
            "{err}"
        );
        let text = MANIFEST.to_string() + "  remediation:\n    endpointIngres: Approval\n";
        assert_eq!(
            parse(&text).unwrap_err(),
            "unknown field spec.remediation.endpointIngres"
        );
    }

    #[test]
    fn an_unquoted_off_is_the_boolean_kubectl_reads_and_is_refused_with_a_hint() {
        let text = MANIFEST.to_string() + "  remediation:\n    endpointIngress: Off\n";
        assert_eq!(
            parse(&text).unwrap_err(),
            "spec.remediation.endpointIngress: invalid type: boolean `false`, expected string or map \
             (kubectl reads an unquoted Off as the boolean false, as \
             YAML 1.1 does: quote it, \"Off\")"
        );
        let text = MANIFEST.to_string() + "  remediation:\n    endpointIngress: \"Off\"\n";
        assert_eq!(
            parse(&text).unwrap().spec.remediation.endpoint_ingress,
            RemediationMode::Off
        );
        let text = MANIFEST.to_string() + "  privateDns:\n    enabled: no\n";
        assert!(
            !parse(&text).unwrap().spec.private_dns.enabled,
            "as kubectl reads it"
        );
    }

    #[test]
    fn the_controller_s_validation_applies_to_the_manifest() {
        let text = MANIFEST.to_string()
            + "  approval:\n    planId: approve-me\n  tags:\n    vpce-rollout.dev/owner: x\n";
        let text = text.replace(
            "[subnet-0a000000000000001]",
            "[subnet-0a000000000000001, subnet-0a000000000000001]",
        );
        assert_eq!(
            parse(&text).unwrap_err(),
            "spec.approval.planId: \"approve-me\" does not match ^[0-9a-f]{6,64}$; spec.tags: key \
             vpce-rollout.dev/owner is reserved for the controller's ownership tags; \
             spec.subnetIds lists subnet-0a000000000000001 twice"
        );
    }

    #[test]
    fn another_kind_is_refused() {
        let text = MANIFEST.replace("kind: InterfaceEndpoint", "kind: Deployment");
        assert_eq!(
            parse(&text).unwrap_err(),
            "expected apiVersion vpce-rollout.dev/v1alpha1 and kind InterfaceEndpoint, \
             found apiVersion vpce-rollout.dev/v1alpha1 and kind Deployment"
        );
        assert_eq!(
            parse("spec: [").unwrap_err(),
            "did not find expected node content at line 2 column 1, while parsing a flow node"
        );
    }
}
