//! Server-side printing: the `meta.k8s.io/v1` Table `kubectl get` asks for
//! (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`), built from a CRD's
//! additionalPrinterColumns (simple JSONPath) or from the built-in types' own columns, with
//! ages formatted like `k8s.io/apimachinery/pkg/util/duration.HumanDuration`.

use serde_json::{Value, json};

use crate::resources::{CREATION_TIMESTAMP_DOC, Flavor, NAME_DOC, PrinterColumn, ResourceType};

const SUBOBJECT_DOC: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";

/// What each row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

/// `HumanDuration`: about two significant figures, as kubectl shows ages.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Age of an RFC 3339 timestamp at `now`, or `<invalid>` / `<unknown>` as the server prints.
pub fn age(timestamp: Option<&str>, now: jiff::Timestamp) -> String {
    match timestamp {
        None | Some("") => "<unknown>".into(),
        Some(t) => match t.parse::<jiff::Timestamp>() {
            Ok(ts) => human_duration(now.as_second() - ts.as_second()),
            Err(_) => "<invalid>".into(),
        },
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
}

fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut rest = path.strip_prefix('.')?;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            match quoted {
                Some(key) => steps.push(Step::Field(key.to_string())),
                None => steps.push(Step::Index(inner.parse().ok()?)),
            }
            rest = &r[end + 1..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let name = &rest[..end];
            if name.is_empty() || name.contains(['*', '?', '@', '(', ' ']) {
                return None;
            }
            steps.push(Step::Field(name.to_string()));
            rest = &rest[end..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
        }
    }
    Some(steps)
}

/// Whether a printer column path is a "simple" JSONPath (fields and indexes only).
pub fn is_simple_json_path(path: &str) -> bool {
    parse_path(path).is_some_and(|s| !s.is_empty())
}

fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for step in parse_path(path)? {
        cur = match step {
            Step::Field(f) => cur.get(&f)?,
            Step::Index(i) => cur.get(i)?,
        };
    }
    Some(cur)
}

/// Go's `fmt.Fprint` of a JSON scalar, as JSONPath printing renders string columns.
fn print_json_path_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => v.to_string(),
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !(n.is_i64() || n.is_u64()) && (f.abs() >= 1e21 || (f != 0.0 && f.abs() < 1e-4)) => {
                format!("{f:e}")
            }
            _ => n.to_string(),
        },
    }
}

fn custom_cell(col: &PrinterColumn, obj: &Value, now: jiff::Timestamp) -> Value {
    let Some(v) = lookup(obj, &col.json_path) else {
        return Value::Null;
    };
    if v.is_null() {
        return Value::Null;
    }
    match col.type_.as_str() {
        "string" => Value::String(print_json_path_value(v)),
        "integer" => v.as_f64().map(|f| json!(f as i64)).unwrap_or(Value::Null),
        "number" => v.as_f64().map(|f| json!(f)).unwrap_or(Value::Null),
        "boolean" => v.as_bool().map(Value::Bool).unwrap_or(Value::Null),
        "date" => match v.as_str() {
            Some(s) => Value::String(age(Some(s), now)),
            None => Value::Null,
        },
        _ => v.as_str().map(|s| Value::String(s.into())).unwrap_or(Value::Null),
    }
}

fn column(name: &str, type_: &str, format: &str, description: &str, priority: i64) -> Value {
    json!({"name": name, "type": type_, "format": format, "description": description, "priority": priority})
}

fn name_column() -> Value {
    column("Name", "string", "name", NAME_DOC, 0)
}

fn age_column() -> Value {
    column("Age", "string", "", CREATION_TIMESTAMP_DOC, 0)
}

fn text(obj: &Value, pointer: &str) -> Value {
    obj.pointer(pointer)
        .cloned()
        .unwrap_or(Value::String(String::new()))
}

/// `printEvent`'s cells: first/last seen (legacy timestamps, else the new-API ones), the
/// target, the source (legacy source, else the reporting controller and instance), the count.
fn event_cells(o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let pick = |p: &str| o.pointer(p).and_then(Value::as_str).filter(|s| !s.is_empty());
    let first = match pick("/firstTimestamp") {
        Some(t) => age(Some(t), now),
        None => age(pick("/eventTime"), now),
    };
    let mut last = match pick("/lastTimestamp") {
        Some(t) => age(Some(t), now),
        None => first.clone(),
    };
    let mut count = o.get("count").and_then(Value::as_i64).unwrap_or(0);
    if o.get("series").is_some_and(Value::is_object) {
        last = age(pick("/series/lastObservedTime"), now);
        count = o.pointer("/series/count").and_then(Value::as_i64).unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let kind = pick("/involvedObject/kind").unwrap_or_default().to_lowercase();
    let target = match pick("/involvedObject/name") {
        Some(n) => format!("{kind}/{n}"),
        None => kind,
    };
    let component = pick("/source/component")
        .or_else(|| pick("/reportingComponent"))
        .unwrap_or_default();
    let instance = pick("/source/host")
        .or_else(|| pick("/reportingInstance"))
        .unwrap_or_default();
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        Value::String(last),
        text(o, "/type"),
        text(o, "/reason"),
        Value::String(target),
        text(o, "/involvedObject/fieldPath"),
        Value::String(source),
        Value::String(pick("/message").unwrap_or_default().trim().to_string()),
        Value::String(first),
        json!(count),
        text(o, "/metadata/name"),
    ]
}

/// Builds one row's cells from an object, at a given time.
type RowCells<'a> = Box<dyn Fn(&Value, jiff::Timestamp) -> Vec<Value> + 'a>;

/// Column definitions and a row builder for one resource type.
fn columns_and_cells(rt: &ResourceType) -> (Vec<Value>, RowCells<'_>) {
    let created = |o: &Value, now| {
        Value::String(age(
            o.pointer("/metadata/creationTimestamp").and_then(Value::as_str),
            now,
        ))
    };
    let name = |o: &Value| text(o, "/metadata/name");
    match rt.flavor {
        Flavor::Custom { .. } => {
            let mut cols = vec![name_column()];
            for c in &rt.columns {
                let desc = if c.description.is_empty() {
                    format!(
                        "Custom resource definition column (in JSONPath format): {}",
                        c.json_path
                    )
                } else {
                    c.description.clone()
                };
                cols.push(column(&c.name, &c.type_, &c.format, &desc, c.priority));
            }
            (
                cols,
                Box::new(move |o, now| {
                    let mut cells = vec![name(o)];
                    cells.extend(rt.columns.iter().map(|c| custom_cell(c, o, now)));
                    cells
                }),
            )
        }
        Flavor::Namespace => (
            vec![
                name_column(),
                column("Status", "string", "", "The status of the namespace", 0),
                age_column(),
            ],
            Box::new(move |o, now| vec![name(o), text(o, "/status/phase"), created(o, now)]),
        ),
        Flavor::Lease => (
            vec![
                name_column(),
                column(
                    "Holder",
                    "string",
                    "",
                    "holderIdentity contains the identity of the holder of a current lease.",
                    0,
                ),
                age_column(),
            ],
            Box::new(move |o, now| vec![name(o), text(o, "/spec/holderIdentity"), created(o, now)]),
        ),
        Flavor::CustomResourceDefinition => (
            vec![
                name_column(),
                column("Created At", "date", "", CREATION_TIMESTAMP_DOC, 0),
            ],
            Box::new(move |o, _| vec![name(o), text(o, "/metadata/creationTimestamp")]),
        ),
        Flavor::CoreEvent | Flavor::EventsV1 => (
            vec![
                column(
                    "Last Seen",
                    "string",
                    "",
                    "The time at which the most recent occurrence of this event was recorded.",
                    0,
                ),
                column(
                    "Type",
                    "string",
                    "",
                    "Type of this event (Normal, Warning), new types could be added in the future",
                    0,
                ),
                column(
                    "Reason",
                    "string",
                    "",
                    "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
                    0,
                ),
                column("Object", "string", "", "The object that this event is about.", 0),
                column("Subobject", "string", "", SUBOBJECT_DOC, 1),
                column(
                    "Source",
                    "string",
                    "",
                    "The component reporting this event. Should be a short machine understandable string.",
                    1,
                ),
                column(
                    "Message",
                    "string",
                    "",
                    "A human-readable description of the status of this operation.",
                    0,
                ),
                column(
                    "First Seen",
                    "string",
                    "",
                    "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
                    1,
                ),
                column(
                    "Count",
                    "string",
                    "",
                    "The number of times this event has occurred.",
                    1,
                ),
                column("Name", "string", "name", NAME_DOC, 1),
            ],
            // Rows are built from the core shape; the caller converts events.k8s.io objects.
            Box::new(event_cells),
        ),
    }
}

/// An object reduced to its metadata (`as=PartialObjectMetadata`, `includeObject=Metadata`).
pub fn partial_object_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
    })
}

/// A Table for a list (or one object). `core_shape` gives the object rows are computed from
/// (Events are printed from their core shape); the row object is the served object.
pub fn table(
    rt: &ResourceType,
    items: &[(Value, Value)],
    list_meta: Value,
    include: IncludeObject,
    no_headers: bool,
    now: jiff::Timestamp,
) -> Value {
    let (cols, cells) = columns_and_cells(rt);
    let rows: Vec<Value> = items
        .iter()
        .map(|(served, core_shape)| {
            let mut row = json!({"cells": cells(core_shape, now)});
            match include {
                IncludeObject::None => row["object"] = Value::Null,
                IncludeObject::Metadata => row["object"] = partial_object_metadata(served),
                IncludeObject::Object => row["object"] = served.clone(),
            }
            row
        })
        .collect();
    let mut t = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "rows": rows,
    });
    if !no_headers {
        t["columnDefinitions"] = Value::Array(cols);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_formatted_like_kubectl_shows_them() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (599, "9m59s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60 * 5, "3h5m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (50 * 3600, "2d2h"),
            (8 * 86400, "8d"),
            (730 * 86400, "2y"),
            (731 * 86400, "2y1d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }

    #[test]
    fn simple_json_paths_resolve_fields_indexes_and_quoted_keys() {
        let obj = json!({"status": {"a": [{"b": 1}], "m": {"x.y/z": "v"}}, "n": 2.5});
        assert_eq!(lookup(&obj, ".status.a[0].b"), Some(&json!(1)));
        assert_eq!(lookup(&obj, ".status.m['x.y/z']"), Some(&json!("v")));
        assert_eq!(lookup(&obj, ".status.missing"), None);
        assert!(!is_simple_json_path(".items[*].name"));
        assert!(!is_simple_json_path("status"));
        assert_eq!(print_json_path_value(&json!({"a": 1})), "{\"a\":1}");
    }
}
