//! Rules of the built-in types that are more than a schema: the two Event APIs as views of one
//! stored object, Namespace and CRD status, and the checks the real server makes on Leases and
//! events.k8s.io Events.

use serde_json::{Map, Value, json};

use crate::resources::{Flavor, ResourceType};
use crate::status::FieldError;

/// Field renames between events.k8s.io/v1 (left) and core/v1 (right); the rest share names.
const EVENT_RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(obj: &Value, to_core: bool, api_version: &str) -> Value {
    let Some(map) = obj.as_object() else {
        return obj.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let renamed = EVENT_RENAMES
            .iter()
            .find(|(v1, core)| if to_core { *v1 == k } else { *core == k })
            .map(|(v1, core)| if to_core { *core } else { *v1 });
        out.insert(renamed.unwrap_or(k).to_string(), v.clone());
    }
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    Value::Object(out)
}

/// The stored (core) shape of an object written through `rt`.
pub fn to_storage(rt: &ResourceType, storage_api_version: &str, obj: Value) -> Value {
    match rt.flavor {
        Flavor::EventsV1 => rename(&obj, true, "v1"),
        Flavor::Custom { .. } => {
            let mut obj = obj;
            obj["apiVersion"] = Value::String(storage_api_version.into());
            obj
        }
        _ => obj,
    }
}

/// The stored object as `rt` serves it.
pub fn from_storage(rt: &ResourceType, obj: &Value) -> Value {
    match rt.flavor {
        Flavor::EventsV1 => rename(obj, false, &rt.api_version()),
        Flavor::Custom { .. } => {
            let mut obj = obj.clone();
            obj["apiVersion"] = Value::String(rt.api_version());
            obj
        }
        _ => obj.clone(),
    }
}

/// Defaults the server fills in when a built-in object is created.
pub fn prepare_create(rt: &ResourceType, obj: &mut Value) {
    match rt.flavor {
        Flavor::Namespace => {
            let name = obj.pointer("/metadata/name").cloned().unwrap_or(Value::Null);
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        Flavor::CustomResourceDefinition => {
            obj["status"] = json!({});
        }
        _ => {}
    }
}

/// A CRD's status once the server has accepted its names and serves it.
pub fn crd_status(crd: &Value, now: &str) -> Value {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let mut accepted = names.clone();
    if accepted.get("singular").is_none()
        && let Some(kind) = names.get("kind").and_then(Value::as_str)
    {
        accepted["singular"] = Value::String(kind.to_lowercase());
    }
    if accepted.get("listKind").is_none()
        && let Some(kind) = names.get("kind").and_then(Value::as_str)
    {
        accepted["listKind"] = Value::String(format!("{kind}List"));
    }
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v["storage"] == json!(true))
                .map(|v| v["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    json!({
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now}
        ],
        "storedVersions": stored,
    })
}

/// Checks beyond the schema that the real server makes on Leases and events.k8s.io Events.
pub fn validate(rt: &ResourceType, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match rt.flavor {
        Flavor::Lease => {
            if let Some(d) = obj.pointer("/spec/leaseDurationSeconds").and_then(Value::as_i64)
                && d <= 0
            {
                errs.push(FieldError::invalid(
                    "spec.leaseDurationSeconds",
                    json!(d),
                    "must be greater than 0",
                ));
            }
            if let Some(t) = obj.pointer("/spec/leaseTransitions").and_then(Value::as_i64)
                && t < 0
            {
                errs.push(FieldError::invalid(
                    "spec.leaseTransitions",
                    json!(t),
                    "must be greater than or equal to 0",
                ));
            }
        }
        Flavor::EventsV1 => {
            let text = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or_default();
            if text("/eventTime").is_empty() {
                errs.push(FieldError::required("eventTime", ""));
            }
            if text("/reportingController").is_empty() {
                errs.push(FieldError::required("reportingController", ""));
            }
            if text("/reportingInstance").is_empty() {
                errs.push(FieldError::required("reportingInstance", ""));
            }
            if text("/action").is_empty() {
                errs.push(FieldError::required("action", ""));
            }
            if text("/reason").is_empty() {
                errs.push(FieldError::required("reason", ""));
            }
            let t = text("/type");
            if t != "Normal" && t != "Warning" {
                errs.push(FieldError::not_supported(
                    "type",
                    json!(t),
                    &["Normal".into(), "Warning".into()],
                ));
            }
            if text("/note").len() > 1024 {
                errs.push(FieldError {
                    kind: crate::status::FieldErrorKind::TooLong,
                    field: "note".into(),
                    value: None,
                    detail: "may not be longer than 1024".into(),
                });
            }
        }
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    #[test]
    fn an_events_v1_event_is_stored_as_a_core_event_and_read_back_unchanged() {
        let reg = Registry::with_builtins();
        let v1 = reg.find("events.k8s.io", "v1", "events").expect("served");
        let core = reg.find("", "v1", "events").expect("served");
        let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "hello", "reportingController": "ctl",
            "reportingInstance": "ctl-1", "action": "Reconcile", "reason": "Ok", "type": "Normal",
            "eventTime": "2024-01-01T00:00:00.000000Z"});
        let stored = to_storage(&v1, "v1", ev.clone());
        assert_eq!(stored["involvedObject"]["name"], "p");
        assert_eq!(stored["message"], "hello");
        assert_eq!(from_storage(&core, &stored)["reportingComponent"], "ctl");
        assert_eq!(from_storage(&v1, &stored), ev);
    }

    #[test]
    fn events_v1_need_the_reporting_fields() {
        let reg = Registry::with_builtins();
        let v1 = reg.find("events.k8s.io", "v1", "events").expect("served");
        let errs = validate(&v1, &json!({"type": "Normal"}));
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "eventTime",
                "reportingController",
                "reportingInstance",
                "action",
                "reason"
            ]
        );
    }
}
