//! What the server serves: one [`ResourceType`] per served group/version/resource, the
//! built-in ones (Namespaces, Events in both APIs, Leases, CRDs) and those registered from
//! CustomResourceDefinitions, and the [`Registry`] that finds them by URL.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::schema::Schema;
use crate::status::{FieldError, GroupResource};

/// What kind of object a resource holds: built-ins get their own rules, tables and conversions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavor {
    Namespace,
    /// core/v1 Event (the storage shape of both Event APIs).
    CoreEvent,
    /// events.k8s.io/v1 Event, converted to and from the core shape.
    EventsV1,
    Lease,
    CustomResourceDefinition,
    /// A custom resource served for the named CRD.
    Custom {
        crd: String,
    },
}

/// One additionalPrinterColumn.
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// One served group/version/resource.
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    pub status_subresource: bool,
    /// Objects of all versions (and both Event APIs) share one store bucket.
    pub storage: String,
    pub schema: Option<Arc<Schema>>,
    pub columns: Vec<PrinterColumn>,
    pub flavor: Flavor,
    /// For CRDs: the version objects are stored in; preferred-version ordering for discovery.
    pub storage_version: bool,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn gr(&self) -> GroupResource<'_> {
        GroupResource {
            group: &self.group,
            resource: &self.plural,
        }
    }

    pub fn is_custom(&self) -> bool {
        matches!(self.flavor, Flavor::Custom { .. })
    }

    /// Field labels a `fieldSelector` may use on this resource.
    pub fn field_label_allowed(&self, f: &str) -> bool {
        if f == "metadata.name" || (self.namespaced && f == "metadata.namespace") {
            return true;
        }
        match self.flavor {
            Flavor::Namespace => f == "status.phase",
            Flavor::CoreEvent | Flavor::EventsV1 => matches!(
                f,
                "involvedObject.kind"
                    | "involvedObject.namespace"
                    | "involvedObject.name"
                    | "involvedObject.uid"
                    | "involvedObject.apiVersion"
                    | "involvedObject.resourceVersion"
                    | "involvedObject.fieldPath"
                    | "reason"
                    | "reportingComponent"
                    | "source"
                    | "type"
            ),
            _ => false,
        }
    }

    /// Verbs advertised by discovery.
    pub fn verbs(&self) -> Vec<&'static str> {
        match self.flavor {
            Flavor::Namespace => vec!["create", "delete", "get", "list", "patch", "update", "watch"],
            // The order the real server lists them in for custom resources.
            Flavor::Custom { .. } => {
                vec![
                    "delete",
                    "deletecollection",
                    "get",
                    "list",
                    "patch",
                    "create",
                    "update",
                    "watch",
                ]
            }
            _ => vec![
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ],
        }
    }
}

/// All served resources.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    types: Vec<Arc<ResourceType>>,
}

impl Registry {
    pub fn with_builtins() -> Self {
        let mut r = Self::default();
        for t in builtins() {
            r.types.push(Arc::new(t));
        }
        r
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    pub fn all(&self) -> &[Arc<ResourceType>] {
        &self.types
    }

    /// Whether any resource is served under this group/version.
    pub fn serves(&self, group: &str, version: &str) -> bool {
        self.types
            .iter()
            .any(|t| t.group == group && t.version == version)
    }

    /// Versions served for a group, preferred first (Kubernetes version priority).
    pub fn versions_of(&self, group: &str) -> Vec<String> {
        let mut vs: Vec<String> = Vec::new();
        for t in self.types.iter().filter(|t| t.group == group) {
            if !vs.contains(&t.version) {
                vs.push(t.version.clone());
            }
        }
        vs.sort_by(|a, b| version_priority(b).cmp(&version_priority(a)).then(a.cmp(b)));
        vs
    }

    /// Groups in the order discovery lists them: built-in groups first, then the rest by name.
    pub fn groups(&self) -> Vec<String> {
        let mut gs: Vec<String> = Vec::new();
        for t in &self.types {
            if !t.group.is_empty() && !gs.contains(&t.group) {
                gs.push(t.group.clone());
            }
        }
        gs
    }

    /// Replaces every version served for the CRD `crd` with `types`.
    pub fn set_custom(&mut self, crd: &str, types: Vec<ResourceType>) {
        self.remove_custom(crd);
        self.types.extend(types.into_iter().map(Arc::new));
    }

    pub fn remove_custom(&mut self, crd: &str) {
        self.types
            .retain(|t| !matches!(&t.flavor, Flavor::Custom { crd: c } if c == crd));
    }

    /// The storage version's resource type for a storage bucket.
    pub fn storage_type(&self, storage: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.storage == storage && t.storage_version)
            .cloned()
    }
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first; others last.
fn version_priority(v: &str) -> (u8, u64, u64) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let Ok(major) = digits.parse::<u64>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    let (level, n) = if let Some(n) = tail.strip_prefix("beta") {
        (2, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n)
    } else {
        return (0, 0, 0);
    };
    match n.parse::<u64>() {
        Ok(minor) => (level, major, minor),
        Err(_) => (0, 0, 0),
    }
}

#[allow(clippy::too_many_arguments)] // a table of built-in types reads best as one row each
fn builtin(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    short: &[&str],
    namespaced: bool,
    flavor: Flavor,
    schema: Value,
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: Vec::new(),
        namespaced,
        status_subresource: matches!(flavor, Flavor::Namespace | Flavor::CustomResourceDefinition),
        storage: if matches!(flavor, Flavor::CoreEvent | Flavor::EventsV1) {
            "events".into()
        } else {
            format!("{plural}.{group}")
        },
        schema: Some(Arc::new(
            Schema::compile(&schema).expect("built-in schemas compile"),
        )),
        columns: Vec::new(),
        // Both Event APIs share the "events" bucket; the core shape is the stored one.
        storage_version: flavor != Flavor::EventsV1,
        flavor,
    }
}

fn obj(props: Value) -> Value {
    json!({"type": "object", "properties": props})
}

/// `ObjectReference` is an atomic struct (`+structType=atomic`): managedFields own it whole.
fn object_reference() -> Value {
    let mut r = obj(json!({
        "apiVersion": {"type": "string"}, "fieldPath": {"type": "string"}, "kind": {"type": "string"},
        "name": {"type": "string"}, "namespace": {"type": "string"},
        "resourceVersion": {"type": "string"}, "uid": {"type": "string"}
    }));
    r["x-kubernetes-map-type"] = json!("atomic");
    r
}

fn builtins() -> Vec<ResourceType> {
    let s = json!({"type": "string"});
    let i = json!({"type": "integer"});
    let series_core = obj(json!({"count": i, "lastObservedTime": s}));
    let core_event = obj(json!({
        "action": s, "count": i, "eventTime": {"type": "string", "nullable": true},
        "firstTimestamp": {"type": "string", "nullable": true},
        "involvedObject": object_reference(), "lastTimestamp": {"type": "string", "nullable": true},
        "message": s, "reason": s, "related": object_reference(),
        "reportingComponent": s, "reportingInstance": s, "series": series_core,
        "source": obj(json!({"component": s, "host": s})), "type": s
    }));
    let events_v1 = obj(json!({
        "action": s, "deprecatedCount": i, "deprecatedFirstTimestamp": s, "deprecatedLastTimestamp": s,
        "deprecatedSource": obj(json!({"component": s, "host": s})),
        "eventTime": {"type": "string", "nullable": true}, "note": s, "reason": s,
        "regarding": object_reference(), "related": object_reference(),
        "reportingController": s, "reportingInstance": s,
        "series": obj(json!({"count": i, "lastObservedTime": s})), "type": s
    }));
    let lease = obj(json!({"spec": obj(json!({
        "acquireTime": {"type": "string", "nullable": true}, "holderIdentity": {"type": "string", "nullable": true},
        "leaseDurationSeconds": {"type": "integer", "nullable": true}, "leaseTransitions": {"type": "integer", "nullable": true},
        "preferredHolder": {"type": "string", "nullable": true}, "renewTime": {"type": "string", "nullable": true},
        "strategy": {"type": "string", "nullable": true}
    }))}));
    let namespace = obj(json!({
        "spec": obj(json!({"finalizers": {"type": "array", "items": s}})),
        "status": obj(json!({"phase": s, "conditions": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}))
    }));
    // A CRD is kept as written below spec and status; the registry interprets it.
    let crd = obj(json!({
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
    }));
    vec![
        builtin(
            "",
            "v1",
            "Namespace",
            "namespaces",
            &["ns"],
            false,
            Flavor::Namespace,
            namespace,
        ),
        builtin(
            "",
            "v1",
            "Event",
            "events",
            &["ev"],
            true,
            Flavor::CoreEvent,
            core_event,
        ),
        builtin(
            "coordination.k8s.io",
            "v1",
            "Lease",
            "leases",
            &[],
            true,
            Flavor::Lease,
            lease,
        ),
        builtin(
            "events.k8s.io",
            "v1",
            "Event",
            "events",
            &["ev"],
            true,
            Flavor::EventsV1,
            events_v1,
        ),
        builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            &["crd", "crds"],
            false,
            Flavor::CustomResourceDefinition,
            crd,
        ),
    ]
}

/// Turns a CustomResourceDefinition object into the resource types it serves (one per served
/// version). Errors are the field errors the real server would answer a bad CRD with.
pub fn from_crd(crd: &Value) -> Result<Vec<ResourceType>, Vec<FieldError>> {
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let spec = crd.get("spec").cloned().unwrap_or(Value::Null);
    let text = |p: &str| {
        spec.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let group = text("/group");
    let kind = text("/names/kind");
    let plural = text("/names/plural");
    let mut errs = Vec::new();
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    }
    if plural.is_empty() {
        errs.push(FieldError::required("spec.names.plural", ""));
    }
    if kind.is_empty() {
        errs.push(FieldError::required("spec.names.kind", ""));
    }
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            "metadata.name",
            Value::String(name.to_string()),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    let scope = text("/scope");
    if scope != "Namespaced" && scope != "Cluster" {
        errs.push(FieldError::not_supported(
            "spec.scope",
            Value::String(scope.clone()),
            &["Cluster".into(), "Namespaced".into()],
        ));
    }
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        errs.push(FieldError::invalid(
            "spec.versions",
            json!([]),
            "must have exactly one version marked as storage version",
        ));
    }
    let storage_count = versions.iter().filter(|v| v["storage"] == json!(true)).count();
    if !versions.is_empty() && storage_count != 1 {
        errs.push(FieldError::invalid(
            "spec.versions",
            Value::String(String::new()),
            "must have exactly one version marked as storage version",
        ));
    }
    let singular = {
        let s = text("/names/singular");
        if s.is_empty() { kind.to_lowercase() } else { s }
    };
    let strings = |p: &str| -> Vec<String> {
        spec.pointer(p)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let vname = v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if vname.is_empty() {
            errs.push(FieldError::required(format!("spec.versions[{i}].name"), ""));
            continue;
        }
        let schema = match v.pointer("/schema/openAPIV3Schema") {
            Some(s) => match Schema::compile(s) {
                Ok(c) => c,
                Err(e) => {
                    errs.push(FieldError::invalid(
                        format!("spec.versions[{i}].schema.openAPIV3Schema"),
                        Value::String(String::new()),
                        e,
                    ));
                    continue;
                }
            },
            None => {
                errs.push(FieldError::required(
                    format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    "schemas are required",
                ));
                continue;
            }
        };
        if v["served"] != json!(true) {
            continue;
        }
        let mut columns: Vec<PrinterColumn> = v
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .map(|cols| {
                cols.iter()
                    .map(|c| PrinterColumn {
                        name: c["name"].as_str().unwrap_or_default().to_string(),
                        type_: c["type"].as_str().unwrap_or("string").to_string(),
                        format: c["format"].as_str().unwrap_or_default().to_string(),
                        description: c["description"].as_str().unwrap_or_default().to_string(),
                        priority: c["priority"].as_i64().unwrap_or(0),
                        json_path: c["jsonPath"].as_str().unwrap_or_default().to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if columns.is_empty() {
            columns.push(PrinterColumn {
                name: "Age".into(),
                type_: "date".into(),
                format: String::new(),
                description: CREATION_TIMESTAMP_DOC.into(),
                priority: 0,
                json_path: ".metadata.creationTimestamp".into(),
            });
        }
        for (j, c) in columns.iter().enumerate() {
            if !crate::table::is_simple_json_path(&c.json_path) {
                errs.push(FieldError::invalid(
                    format!("spec.versions[{i}].additionalPrinterColumns[{j}].JSONPath"),
                    Value::String(c.json_path.clone()),
                    "must be a simple json path",
                ));
            }
        }
        out.push(ResourceType {
            group: group.clone(),
            version: vname,
            kind: kind.clone(),
            list_kind: {
                let l = text("/names/listKind");
                if l.is_empty() { format!("{kind}List") } else { l }
            },
            plural: plural.clone(),
            singular: singular.clone(),
            short_names: strings("/names/shortNames"),
            categories: strings("/names/categories"),
            namespaced: scope == "Namespaced",
            status_subresource: v.pointer("/subresources/status").is_some(),
            storage: format!("{plural}.{group}"),
            schema: Some(Arc::new(schema)),
            columns,
            flavor: Flavor::Custom {
                crd: name.to_string(),
            },
            storage_version: v["storage"] == json!(true),
        });
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

/// ObjectMeta's documentation of `name`, used as the Name column's description (as the real
/// server does).
pub const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// ObjectMeta's documentation of `creationTimestamp`, the default Age column's description.
pub const CREATION_TIMESTAMP_DOC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ga_versions_are_preferred_over_beta_and_alpha() {
        let mut vs = vec!["v1alpha1", "v2beta1", "v1", "v1beta2", "foo"];
        vs.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(vs, vec!["v1", "v2beta1", "v1beta2", "v1alpha1", "foo"]);
    }

    #[test]
    fn a_crd_without_a_storage_version_is_rejected() {
        let crd = json!({"metadata": {"name": "widgets.example.com"}, "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": true, "storage": false,
                          "schema": {"openAPIV3Schema": {"type": "object"}}}]}});
        let errs = from_crd(&crd).expect_err("no storage version");
        assert_eq!(errs[0].field, "spec.versions");
    }
}
