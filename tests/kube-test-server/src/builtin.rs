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

/// Fields Go's structs always serialize (zero times as null, empty structs as {}).
fn go_zero_values(obj: &mut Value, fields: &[(&str, Value)]) {
    if let Some(m) = obj.as_object_mut() {
        for (k, v) in fields {
            m.entry(k.to_string()).or_insert_with(|| v.clone());
        }
    }
}

/// The stored object as `rt` serves it.
pub fn from_storage(rt: &ResourceType, obj: &Value) -> Value {
    match rt.flavor {
        Flavor::CoreEvent => {
            let mut o = obj.clone();
            go_zero_values(
                &mut o,
                &[
                    ("firstTimestamp", Value::Null),
                    ("lastTimestamp", Value::Null),
                    ("eventTime", Value::Null),
                    ("source", json!({})),
                    ("reportingComponent", json!("")),
                    ("reportingInstance", json!("")),
                ],
            );
            o
        }
        Flavor::EventsV1 => {
            let mut o = rename(obj, false, &rt.api_version());
            for k in ["reportingController", "reportingInstance"] {
                if o.get(k).is_some_and(|v| v == "") {
                    o.as_object_mut().expect("object").remove(k);
                }
            }
            go_zero_values(
                &mut o,
                &[
                    ("deprecatedFirstTimestamp", Value::Null),
                    ("deprecatedLastTimestamp", Value::Null),
                    ("eventTime", Value::Null),
                    ("deprecatedSource", json!({})),
                ],
            );
            o
        }
        Flavor::Lease => {
            let mut o = obj.clone();
            go_zero_values(&mut o, &[("spec", json!({}))]);
            o
        }
        Flavor::Custom { .. } => {
            let mut obj = obj.clone();
            obj["apiVersion"] = Value::String(rt.api_version());
            obj
        }
        _ => obj.clone(),
    }
}

/// Defaults applied whenever a built-in object is decoded (so managedFields track them): a
/// Namespace always carries its name as the `kubernetes.io/metadata.name` label.
pub fn default_on_decode(rt: &ResourceType, obj: &mut Value) {
    if rt.flavor == Flavor::Namespace
        && let Some(name) = obj.pointer("/metadata/name").cloned().filter(|n| !n.is_null())
    {
        obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
    }
}

/// What the type's strategy fills in when a built-in object is created.
pub fn prepare_create(rt: &ResourceType, obj: &mut Value) {
    match rt.flavor {
        Flavor::Namespace => {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        Flavor::CustomResourceDefinition => {
            obj["status"] = json!({});
        }
        _ => {}
    }
}

/// A CRD's status once the server has accepted its names and serves it. Conditions that were
/// already true keep the time they became true.
pub fn crd_status(crd: &Value, now: &str) -> Value {
    let since = |kind: &str| {
        crd.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind && c["status"] == "True"))
            .and_then(|c| c["lastTransitionTime"].as_str())
            .unwrap_or(now)
            .to_string()
    };
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
             "message": "no conflicts found", "lastTransitionTime": since("NamesAccepted")},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": since("Established")}
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
        Flavor::CoreEvent => errs.extend(validate_event(&to_storage(rt, "v1", obj.clone()), false)),
        Flavor::EventsV1 => errs.extend(validate_event(&to_storage(rt, "v1", obj.clone()), true)),
        _ => {}
    }
    errs
}

fn is_zero_time(v: Option<&Value>) -> bool {
    v.is_none_or(|t| t.is_null() || t == "")
}

/// The real server's Event validation, on the core shape: the legacy rules for every Event,
/// the strict ones for events created through events.k8s.io. Field names are the core ones
/// either way, as the real server reports them.
fn validate_event(core: &Value, strict: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let text = |p: &str| {
        core.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let ns = text("/metadata/namespace");
    let involved_ns = text("/involvedObject/namespace");
    let mismatch = || {
        FieldError::invalid(
            "involvedObject.namespace",
            json!(involved_ns),
            "does not match event.namespace",
        )
    };
    if is_zero_time(core.get("eventTime")) {
        if involved_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errs.push(mismatch());
            }
        } else if ns != involved_ns {
            errs.push(mismatch());
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(mismatch());
        }
        let controller_field = if strict {
            "reportingController"
        } else {
            "reportingComponent"
        };
        for (field, value, limit) in [
            (controller_field, text("/reportingComponent"), 0),
            ("reportingInstance", text("/reportingInstance"), 128),
            ("action", text("/action"), 128),
            ("reason", text("/reason"), 128),
        ] {
            if value.is_empty() {
                errs.push(FieldError::required(field, ""));
            } else if limit > 0 && value.len() > limit {
                errs.push(FieldError::invalid(
                    field,
                    json!(""),
                    format!("can have at most {limit} characters"),
                ));
            }
        }
        if text("/message").len() > 1024 {
            errs.push(FieldError::invalid(
                "message",
                json!(""),
                "can have at most 1024 characters",
            ));
        }
    }
    if strict {
        if is_zero_time(core.get("eventTime")) {
            errs.push(FieldError::required("eventTime", ""));
        }
        let t = text("/type");
        if t != "Normal" && t != "Warning" {
            errs.push(FieldError::invalid(
                "type",
                json!(""),
                format!("has invalid value: {t}"),
            ));
        }
        for (field, set) in [
            ("firstTimestamp", !is_zero_time(core.get("firstTimestamp"))),
            ("lastTimestamp", !is_zero_time(core.get("lastTimestamp"))),
            (
                "count",
                core.get("count").and_then(Value::as_i64).unwrap_or(0) != 0,
            ),
            (
                "source",
                core.get("source")
                    .and_then(Value::as_object)
                    .is_some_and(|s| !s.is_empty()),
            ),
        ] {
            if set {
                errs.push(FieldError::invalid(field, json!(""), "needs to be unset"));
            }
        }
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
        let back = from_storage(&v1, &stored);
        for (k, v) in ev.as_object().expect("object") {
            assert_eq!(&back[k], v, "{k}");
        }
        assert_eq!(
            back["deprecatedSource"],
            json!({}),
            "Go's zero values are served too"
        );
    }

    #[test]
    fn a_lease_without_a_spec_is_served_with_an_empty_one_as_go_serializes_it() {
        let reg = Registry::with_builtins();
        let leases = reg.find("coordination.k8s.io", "v1", "leases").expect("served");
        let served = from_storage(&leases, &json!({"metadata": {"name": "l"}}));
        assert_eq!(served["spec"], json!({}));
        let held = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "a"}});
        assert_eq!(from_storage(&leases, &held), held);
    }

    #[test]
    fn a_crd_update_keeps_the_time_its_conditions_became_true() {
        let mut crd = json!({"spec": {"names": {"kind": "Gadget", "plural": "gadgets"},
            "versions": [{"name": "v1", "storage": true}]}});
        let created = crd_status(&crd, "2024-01-01T00:00:00Z");
        assert_eq!(created["acceptedNames"]["singular"], "gadget");
        crd["status"] = created;
        let updated = crd_status(&crd, "2024-06-01T00:00:00Z");
        let times: Vec<&Value> = updated["conditions"]
            .as_array()
            .expect("conditions")
            .iter()
            .map(|c| &c["lastTransitionTime"])
            .collect();
        assert_eq!(times, [&json!("2024-01-01T00:00:00Z"); 2]);
    }

    #[test]
    fn events_are_validated_like_the_real_server_does() {
        let reg = Registry::with_builtins();
        let v1 = reg.find("events.k8s.io", "v1", "events").expect("served");
        let errs = validate(&v1, &json!({"metadata": {"namespace": "cmp"}, "type": "Normal"}));
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "involvedObject.namespace: Invalid value: \"\": does not match event.namespace",
                "eventTime: Required value"
            ]
        );
        let timed = json!({"metadata": {"namespace": "default"}, "type": "Normal", "eventTime": "2024-01-01T00:00:00.000000Z"});
        let fields: Vec<String> = validate(&v1, &timed).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec!["reportingController", "reportingInstance", "action", "reason"]
        );
        let core = reg.find("", "v1", "events").expect("served");
        assert!(
            validate(&core, &json!({"metadata": {"namespace": "default"}})).is_empty(),
            "legacy events need little"
        );
    }
}
