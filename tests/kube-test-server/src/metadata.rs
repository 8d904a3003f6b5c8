//! ObjectMeta rules every object obeys: the fields it may carry (others are pruned), name and
//! label syntax, finalizer names, and what an update may not change. Messages are those of
//! `k8s.io/apimachinery/pkg/util/validation` so a 422 reads like the real one.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::status::{FieldError, go_quote};

const KNOWN: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Drops unknown ObjectMeta fields; returns their paths (`metadata.foo`).
pub fn prune(obj: &mut Value) -> Vec<String> {
    let mut removed = Vec::new();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        let unknown: Vec<String> = meta
            .keys()
            .filter(|k| !KNOWN.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            meta.remove(&k);
            removed.push(format!("metadata.{k}"));
        }
    }
    removed
}

static DNS1123_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$").expect("valid")
});
static DNS1123_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("valid"));
static LABEL_VALUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$").expect("valid"));
static QUALIFIED_NAME_PART: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").expect("valid"));

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const NAME_PART_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// How a resource's names are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    Subdomain,
    Label,
    /// Any name usable as a path segment (Events).
    PathSegment,
}

fn check_name(rule: NameRule, name: &str) -> Vec<String> {
    let mut msgs = Vec::new();
    match rule {
        NameRule::Subdomain => {
            if name.len() > 253 {
                msgs.push("must be no more than 253 characters".to_string());
            }
            if !DNS1123_SUBDOMAIN.is_match(name) {
                msgs.push(SUBDOMAIN_MSG.to_string());
            }
        }
        NameRule::Label => {
            if name.len() > 63 {
                msgs.push("must be no more than 63 characters".to_string());
            }
            if !DNS1123_LABEL.is_match(name) {
                msgs.push(LABEL_MSG.to_string());
            }
        }
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                msgs.push(format!("may not be '{name}'"));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    msgs.push(format!("may not contain '{bad}'"));
                }
            }
        }
    }
    msgs
}

/// `IsQualifiedName`: `[prefix/]name`, the prefix a DNS subdomain.
fn qualified_name_errors(value: &str) -> Vec<String> {
    let (prefix, name) = match value.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, value),
    };
    let mut msgs = Vec::new();
    if name.is_empty() {
        msgs.push("name part must be non-empty".to_string());
    } else {
        if name.len() > 63 {
            msgs.push("name part must be no more than 63 characters".to_string());
        }
        if !QUALIFIED_NAME_PART.is_match(name) {
            msgs.push(NAME_PART_MSG.to_string());
        }
    }
    if let Some(p) = prefix {
        if p.is_empty() {
            msgs.push("prefix part must be non-empty".to_string());
        } else if !DNS1123_SUBDOMAIN.is_match(p) {
            msgs.push(format!("prefix part {SUBDOMAIN_MSG}"));
        }
    }
    msgs
}

fn meta_str<'a>(meta: &'a Map<String, Value>, k: &str) -> &'a str {
    meta.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// Validates ObjectMeta of an object about to be stored.
pub fn validate(obj: &Value, rule: NameRule, namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let empty = Map::new();
    let meta = obj.get("metadata").and_then(Value::as_object).unwrap_or(&empty);
    let name = meta_str(meta, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for m in check_name(rule, name) {
            errs.push(FieldError::invalid(
                "metadata.name",
                Value::String(name.into()),
                m,
            ));
        }
    }
    if namespaced && meta_str(meta, "namespace").is_empty() {
        errs.push(FieldError::required("metadata.namespace", ""));
    }
    if let Some(labels) = meta.get("labels").and_then(Value::as_object) {
        for (k, v) in labels {
            for m in qualified_name_errors(k) {
                errs.push(FieldError::invalid(
                    "metadata.labels",
                    Value::String(k.clone()),
                    m,
                ));
            }
            let v = v.as_str().unwrap_or_default();
            if v.len() > 63 {
                errs.push(FieldError::invalid(
                    "metadata.labels",
                    Value::String(v.into()),
                    "must be no more than 63 characters",
                ));
            }
            if !LABEL_VALUE.is_match(v) {
                errs.push(FieldError::invalid(
                    "metadata.labels",
                    Value::String(v.into()),
                    LABEL_VALUE_MSG,
                ));
            }
        }
    }
    if let Some(annotations) = meta.get("annotations").and_then(Value::as_object) {
        let mut total = 0usize;
        for (k, v) in annotations {
            total += k.len() + v.as_str().map_or(0, str::len);
            for m in qualified_name_errors(&k.to_lowercase()) {
                errs.push(FieldError::invalid(
                    "metadata.annotations",
                    Value::String(k.clone()),
                    m,
                ));
            }
        }
        if total > 256 * 1024 {
            errs.push(FieldError {
                kind: crate::status::FieldErrorKind::TooLong,
                field: "metadata.annotations".into(),
                value: None,
                detail: "may not be longer than 262144".into(),
            });
        }
    }
    if let Some(finalizers) = meta.get("finalizers").and_then(Value::as_array) {
        for f in finalizers {
            let f = f.as_str().unwrap_or_default();
            // Reported on the list, not the index, as the real server does.
            for m in qualified_name_errors(f) {
                errs.push(FieldError::invalid(
                    "metadata.finalizers",
                    Value::String(f.into()),
                    m,
                ));
            }
        }
    }
    errs
}

/// Finalizers an update may not add once the object is being deleted. The real server
/// reports this twice (strategy and registry both check); so do we.
pub fn new_finalizers_while_deleting(old: &Value, new: &Value) -> Vec<FieldError> {
    if old
        .pointer("/metadata/deletionTimestamp")
        .is_none_or(Value::is_null)
    {
        return Vec::new();
    }
    let list = |v: &Value| -> Vec<String> {
        v.pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let old_f = list(old);
    let mut extra: Vec<String> = list(new).into_iter().filter(|f| !old_f.contains(f)).collect();
    extra.sort();
    extra.dedup();
    if extra.is_empty() {
        return Vec::new();
    }
    let shown: Vec<String> = extra.iter().map(|f| go_quote(f)).collect();
    let e = FieldError::forbidden(
        "metadata.finalizers",
        format!(
            "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
            shown.join(", ")
        ),
    );
    vec![e.clone(), e]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn bad_names_labels_and_finalizers_are_reported_like_the_real_server() {
        let obj = json!({"metadata": {"name": "Bad_Name", "namespace": "d", "labels": {"a": "b c"}, "finalizers": ["foo bar"]}});
        let msgs: Vec<String> = validate(&obj, NameRule::Subdomain, true)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(msgs.len(), 3);
        assert!(
            msgs[0].starts_with("metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"),
            "{}",
            msgs[0]
        );
        assert!(
            msgs[1].starts_with("metadata.labels: Invalid value: \"b c\": a valid label must be"),
            "{}",
            msgs[1]
        );
        assert!(
            msgs[2].starts_with("metadata.finalizers: Invalid value: \"foo bar\": name part must consist"),
            "{}",
            msgs[2]
        );
        let nameless = validate(&json!({"metadata": {}}), NameRule::Subdomain, false);
        assert_eq!(
            nameless[0].to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
    }

    #[test]
    fn finalizers_cannot_be_added_once_deleting() {
        let old = json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["a/b"]}});
        let new = json!({"metadata": {"finalizers": ["a/b", "c/d"]}});
        let errs = new_finalizers_while_deleting(&old, &new);
        assert_eq!(
            errs[0].to_string(),
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"c/d\"}"
        );
        assert!(new_finalizers_while_deleting(&old, &json!({"metadata": {}})).is_empty());
    }
}
