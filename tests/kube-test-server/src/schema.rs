//! A CRD version's structural schema (`openAPIV3Schema`), compiled once, and the three things
//! the real server does with it on every write: prune unknown fields, apply defaults, validate.
//!
//! Messages follow kube-openapi's validator as apiextensions-apiserver converts them to field
//! errors (`spec.vpcId: Invalid value: "x": spec.vpcId in body should match '^vpc-…$'`), so a
//! 422 reads like the real one. `x-kubernetes-validations` (CEL) rules are not evaluated.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::{Map, Value};

use crate::status::{FieldError, FieldErrorKind};

/// One node of a structural schema.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub type_: Option<String>,
    pub format: Option<String>,
    pub nullable: bool,
    pub properties: BTreeMap<String, Schema>,
    pub additional_properties: Option<Box<Schema>>,
    /// `additionalProperties: true` without a schema: keep anything.
    pub additional_any: bool,
    pub items: Option<Box<Schema>>,
    pub required: Vec<String>,
    pub enum_: Option<Vec<Value>>,
    pub pattern: Option<(String, Regex)>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub exclusive_minimum: bool,
    pub exclusive_maximum: bool,
    pub multiple_of: Option<f64>,
    pub default: Option<Value>,
    pub preserve_unknown_fields: bool,
    pub int_or_string: bool,
    pub embedded_resource: bool,
    /// `x-kubernetes-list-type`: atomic (default), set or map; used by server-side apply.
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    /// `x-kubernetes-map-type`: granular (default) or atomic; used by server-side apply.
    pub map_type: Option<String>,
    pub all_of: Vec<Schema>,
    pub any_of: Vec<Schema>,
    pub one_of: Vec<Schema>,
    pub not: Option<Box<Schema>>,
}

impl Schema {
    /// Compiles `openAPIV3Schema`; the error names the offending path.
    pub fn compile(v: &Value) -> Result<Schema, String> {
        compile_at(v, "openAPIV3Schema")
    }
}

fn compile_at(v: &Value, at: &str) -> Result<Schema, String> {
    let Some(o) = v.as_object() else {
        return Err(format!("{at}: must be an object"));
    };
    let mut s = Schema {
        type_: o.get("type").and_then(Value::as_str).map(str::to_string),
        format: o.get("format").and_then(Value::as_str).map(str::to_string),
        nullable: o.get("nullable").and_then(Value::as_bool).unwrap_or(false),
        required: o
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        enum_: o.get("enum").and_then(Value::as_array).cloned(),
        min_length: o.get("minLength").and_then(Value::as_u64),
        max_length: o.get("maxLength").and_then(Value::as_u64),
        min_items: o.get("minItems").and_then(Value::as_u64),
        max_items: o.get("maxItems").and_then(Value::as_u64),
        min_properties: o.get("minProperties").and_then(Value::as_u64),
        max_properties: o.get("maxProperties").and_then(Value::as_u64),
        minimum: o.get("minimum").and_then(Value::as_f64),
        maximum: o.get("maximum").and_then(Value::as_f64),
        exclusive_minimum: o
            .get("exclusiveMinimum")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        exclusive_maximum: o
            .get("exclusiveMaximum")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        multiple_of: o.get("multipleOf").and_then(Value::as_f64),
        default: o.get("default").cloned(),
        preserve_unknown_fields: o
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        int_or_string: o
            .get("x-kubernetes-int-or-string")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        embedded_resource: o
            .get("x-kubernetes-embedded-resource")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        list_type: o
            .get("x-kubernetes-list-type")
            .and_then(Value::as_str)
            .map(str::to_string),
        list_map_keys: o
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        map_type: o
            .get("x-kubernetes-map-type")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Schema::default()
    };
    if let Some(p) = o.get("pattern").and_then(Value::as_str) {
        let re = Regex::new(p).map_err(|e| format!("{at}.pattern: {e}"))?;
        s.pattern = Some((p.to_string(), re));
    }
    if let Some(props) = o.get("properties").and_then(Value::as_object) {
        for (k, pv) in props {
            s.properties
                .insert(k.clone(), compile_at(pv, &format!("{at}.properties[{k}]"))?);
        }
    }
    match o.get("additionalProperties") {
        Some(Value::Bool(b)) => s.additional_any = *b,
        Some(ap @ Value::Object(_)) => {
            s.additional_properties = Some(Box::new(compile_at(ap, &format!("{at}.additionalProperties"))?));
        }
        _ => {}
    }
    if let Some(items) = o.get("items") {
        s.items = Some(Box::new(compile_at(items, &format!("{at}.items"))?));
    }
    for (key, dst) in [
        ("allOf", &mut s.all_of),
        ("anyOf", &mut s.any_of),
        ("oneOf", &mut s.one_of),
    ] {
        if let Some(list) = o.get(key).and_then(Value::as_array) {
            for (i, sub) in list.iter().enumerate() {
                dst.push(compile_at(sub, &format!("{at}.{key}[{i}]"))?);
            }
        }
    }
    if let Some(not) = o.get("not") {
        s.not = Some(Box::new(compile_at(not, &format!("{at}.not"))?));
    }
    if s.type_.is_none() && !s.int_or_string && !s.preserve_unknown_fields && at != "openAPIV3Schema" {
        // Structural schemas need a type everywhere except under these two extensions; the real
        // server rejects the CRD. Value validations in allOf/anyOf/oneOf/not carry no type.
        if !at.contains("Of[") && !at.ends_with(".not") {
            return Err(format!(
                "{at}.type: Required value: must not be empty for specified object fields"
            ));
        }
    }
    Ok(s)
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

// ---------------------------------------------------------------------------------------------
// Pruning

/// Removes fields the schema does not declare, as the server does before storing. Returns the
/// paths it removed (for `fieldValidation=Warn|Strict`). `apiVersion`, `kind` and `metadata` at
/// the root (and of embedded resources) are kept; `metadata` is handled by the caller.
pub fn prune(schema: &Schema, value: &mut Value) -> Vec<String> {
    let mut removed = Vec::new();
    prune_at(schema, value, "", true, &mut removed);
    removed
}

fn prune_at(s: &Schema, v: &mut Value, path: &str, root: bool, removed: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            let keep_meta = root || s.embedded_resource;
            if let Some(ap) = &s.additional_properties {
                for (k, child_v) in map.iter_mut() {
                    prune_at(ap, child_v, &child(path, k), false, removed);
                }
                return;
            }
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if keep_meta && (k == "apiVersion" || k == "kind" || k == "metadata") {
                    continue;
                }
                match s.properties.get(&k) {
                    Some(ps) => prune_at(
                        ps,
                        map.get_mut(&k).expect("key listed"),
                        &child(path, &k),
                        false,
                        removed,
                    ),
                    None if s.preserve_unknown_fields || s.additional_any => {}
                    None => {
                        map.remove(&k);
                        removed.push(child(path, &k));
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = &s.items {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_at(is, item, &index(path, i), false, removed);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Defaulting

/// Applies `default`s: a missing field, or a `null` one that is not nullable, takes its default;
/// other non-nullable `null`s are dropped (as `PruneNonNullableNullsWithoutDefaults` does).
pub fn apply_defaults(s: &Schema, v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(ap) = &s.additional_properties {
                for child_v in map.values_mut() {
                    apply_defaults(ap, child_v);
                }
                return;
            }
            for (k, ps) in &s.properties {
                match map.get(k) {
                    None => {
                        if let Some(d) = &ps.default {
                            map.insert(k.clone(), d.clone());
                        }
                    }
                    Some(Value::Null) if !ps.nullable => match &ps.default {
                        Some(d) => {
                            map.insert(k.clone(), d.clone());
                        }
                        None => {
                            map.remove(k);
                        }
                    },
                    Some(_) => {}
                }
                if let Some(cv) = map.get_mut(k) {
                    apply_defaults(ps, cv);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = &s.items {
                for item in items {
                    apply_defaults(is, item);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

/// Validates a (pruned, defaulted) object against the schema. The root's `metadata` is checked
/// by the caller (ObjectMeta rules), not here.
pub fn validate(s: &Schema, v: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_at(s, v, "", true, &mut errs);
    errs
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(expected: &str, v: &Value) -> bool {
    match (expected, v) {
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        ("number", Value::Number(_)) => true,
        (t, v) => t == type_name(v),
    }
}

/// `<path> in body must be of type <expected>: "<actual>"`: a wrong type, or a string that is
/// not of its format (the actual value is then the string itself).
fn type_invalid(path: &str, shown: &str, expected: &str, actual: &str) -> FieldError {
    FieldError::invalid(
        path,
        Value::String(actual.into()),
        format!("{shown} in body must be of type {expected}: \"{actual}\""),
    )
    .with_kind(FieldErrorKind::TypeInvalid)
}

fn validate_at(s: &Schema, v: &Value, path: &str, root: bool, errs: &mut Vec<FieldError>) {
    let shown = if path.is_empty() { "<root>" } else { path };
    if v.is_null() {
        if let Some(t) = &s.type_
            && !s.nullable
        {
            errs.push(type_invalid(path, shown, t, "null"));
        }
        return;
    }
    let (expected, matches) = match &s.type_ {
        _ if s.int_or_string => ("integer,string", v.is_string() || type_matches("integer", v)),
        Some(t) => (t.as_str(), type_matches(t, v)),
        None => ("", true),
    };
    if !matches {
        errs.push(type_invalid(path, shown, expected, type_name(v)));
        return;
    }
    if let Some(allowed) = &s.enum_
        && !allowed.contains(v)
    {
        let names: Vec<String> = allowed
            .iter()
            .map(|a| a.as_str().map(str::to_string).unwrap_or_else(|| a.to_string()))
            .collect();
        errs.push(FieldError::not_supported(path, v.clone(), &names));
    }
    match v {
        Value::String(text) => validate_string(s, text, path, shown, errs),
        Value::Number(n) => validate_number(s, n.as_f64().unwrap_or(0.0), v, path, shown, errs),
        Value::Array(items) => {
            let bounds = (s.min_items, s.max_items);
            validate_count(items.len(), bounds, "items", path, shown, errs);
            if let Some(is) = &s.items {
                for (i, item) in items.iter().enumerate() {
                    validate_at(is, item, &index(path, i), false, errs);
                }
            }
            validate_list_type(s, items, path, errs);
        }
        Value::Object(map) => {
            let bounds = (s.min_properties, s.max_properties);
            validate_count(map.len(), bounds, "properties", path, shown, errs);
            for r in &s.required {
                if !map.contains_key(r) {
                    errs.push(FieldError::required(child(path, r), ""));
                }
            }
            for (k, cv) in map {
                if root && (k == "metadata" || k == "apiVersion" || k == "kind") {
                    continue;
                }
                if let Some(ps) = s.properties.get(k) {
                    validate_at(ps, cv, &child(path, k), false, errs);
                } else if let Some(ap) = &s.additional_properties {
                    validate_at(ap, cv, &child(path, k), false, errs);
                }
            }
        }
        _ => {}
    }
    validate_combinators(s, v, path, shown, errs);
}

/// minItems/maxItems and minProperties/maxProperties. The real server words a minimum in
/// kube-openapi's terms (`items`, `properties`) and a maximum as `field.TooMany` (always
/// "items").
fn validate_count(
    n: usize,
    (min, max): (Option<u64>, Option<u64>),
    what: &str,
    path: &str,
    shown: &str,
    errs: &mut Vec<FieldError>,
) {
    let n = n as u64;
    if let Some(min) = min
        && n < min
    {
        errs.push(FieldError::invalid(
            path,
            n.into(),
            format!("{shown} in body should have at least {min} {what}"),
        ));
    }
    if let Some(max) = max
        && n > max
    {
        errs.push(FieldError {
            kind: FieldErrorKind::TooMany,
            field: path.to_string(),
            value: Some(n.into()),
            detail: format!("must have at most {max} items"),
        });
    }
}

fn validate_string(s: &Schema, text: &str, path: &str, shown: &str, errs: &mut Vec<FieldError>) {
    let len = text.chars().count() as u64;
    if let Some(max) = s.max_length
        && len > max
    {
        errs.push(FieldError {
            kind: FieldErrorKind::TooLong,
            field: path.to_string(),
            value: Some(text.into()),
            detail: format!("may not be longer than {max}"),
        });
    }
    if let Some(min) = s.min_length
        && len < min
    {
        errs.push(FieldError::invalid(
            path,
            text.into(),
            format!("{shown} in body should be at least {min} chars long"),
        ));
    }
    if let Some((p, re)) = &s.pattern
        && !re.is_match(text)
    {
        errs.push(FieldError::invalid(
            path,
            text.into(),
            format!("{shown} in body should match '{p}'"),
        ));
    }
    if let Some(f) = &s.format
        && !format_ok(f, text)
    {
        errs.push(type_invalid(path, shown, f, text));
    }
}

/// The formats checked here; others are accepted as the real server accepts unknown ones.
fn format_ok(format: &str, text: &str) -> bool {
    match format {
        "date-time" => text.parse::<jiff::Timestamp>().is_ok(),
        "date" => text.parse::<jiff::civil::Date>().is_ok() && text.len() == 10,
        _ => true,
    }
}

fn validate_number(s: &Schema, x: f64, v: &Value, path: &str, shown: &str, errs: &mut Vec<FieldError>) {
    let shown_num = |f: f64| {
        if f.fract() == 0.0 && f.abs() < 1e15 {
            format!("{}", f as i64)
        } else {
            format!("{f}")
        }
    };
    if let Some(min) = s.minimum {
        if s.exclusive_minimum && x <= min {
            errs.push(FieldError::invalid(
                path,
                v.clone(),
                format!("{shown} in body should be greater than {}", shown_num(min)),
            ));
        } else if !s.exclusive_minimum && x < min {
            errs.push(FieldError::invalid(
                path,
                v.clone(),
                format!(
                    "{shown} in body should be greater than or equal to {}",
                    shown_num(min)
                ),
            ));
        }
    }
    if let Some(max) = s.maximum {
        if s.exclusive_maximum && x >= max {
            errs.push(FieldError::invalid(
                path,
                v.clone(),
                format!("{shown} in body should be less than {}", shown_num(max)),
            ));
        } else if !s.exclusive_maximum && x > max {
            errs.push(FieldError::invalid(
                path,
                v.clone(),
                format!(
                    "{shown} in body should be less than or equal to {}",
                    shown_num(max)
                ),
            ));
        }
    }
    if let Some(m) = s.multiple_of
        && m > 0.0
        && (x / m).fract() != 0.0
    {
        errs.push(FieldError::invalid(
            path,
            v.clone(),
            format!("{shown} in body should be a multiple of {}", shown_num(m)),
        ));
    }
}

/// `x-kubernetes-list-type: set|map` invariants: no duplicate items / keys.
fn validate_list_type(s: &Schema, items: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    match s.list_type.as_deref() {
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    errs.push(FieldError {
                        kind: FieldErrorKind::Duplicate,
                        field: index(path, i),
                        value: Some(item.clone()),
                        detail: String::new(),
                    });
                }
            }
        }
        Some("map") => {
            let key_of = |item: &Value| -> Vec<Value> {
                s.list_map_keys
                    .iter()
                    .map(|k| item.get(k).cloned().unwrap_or(Value::Null))
                    .collect()
            };
            for (i, item) in items.iter().enumerate() {
                let key = key_of(item);
                if items[..i].iter().any(|earlier| key_of(earlier) == key) {
                    let shown: Map<String, Value> = s
                        .list_map_keys
                        .iter()
                        .zip(key.iter())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    errs.push(FieldError {
                        kind: FieldErrorKind::Duplicate,
                        field: index(path, i),
                        value: Some(Value::Object(shown)),
                        detail: String::new(),
                    });
                }
            }
        }
        _ => {}
    }
}

fn validate_combinators(s: &Schema, v: &Value, path: &str, shown: &str, errs: &mut Vec<FieldError>) {
    for sub in &s.all_of {
        validate_at(sub, v, path, false, errs);
    }
    let passes = |sub: &Schema| {
        let mut e = Vec::new();
        validate_at(sub, v, path, false, &mut e);
        e.is_empty()
    };
    if !s.any_of.is_empty() && !s.any_of.iter().any(passes) {
        errs.push(FieldError::invalid(
            path,
            v.clone(),
            format!("{shown} in body must be of type anyOf"),
        ));
    }
    if !s.one_of.is_empty() && s.one_of.iter().filter(|sub| passes(sub)).count() != 1 {
        errs.push(FieldError::invalid(
            path,
            v.clone(),
            format!("{shown} in body must validate one and only one schema (oneOf)"),
        ));
    }
    if let Some(not) = &s.not
        && passes(not)
    {
        errs.push(FieldError::invalid(
            path,
            v.clone(),
            format!("{shown} in body should not be valid against the schema (not)"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Schema {
        Schema::compile(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["vpcId"],
                    "properties": {
                        "vpcId": {"type": "string", "pattern": "^vpc-[0-9a-f]{8}$"},
                        "mode": {"type": "string", "enum": ["Delete", "Retain"], "default": "Delete"},
                        "name": {"type": "string", "minLength": 3, "maxLength": 5},
                        "subnets": {"type": "array", "minItems": 1, "maxItems": 2,
                                    "items": {"type": "string", "pattern": "^subnet-"}},
                        "count": {"type": "integer", "minimum": 1, "maximum": 10},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]}
                    }
                },
                "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
            }
        }))
        .expect("compiles")
    }

    #[test]
    fn unknown_fields_are_pruned_but_preserved_subtrees_and_maps_are_kept() {
        let s = schema();
        let mut obj = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a"},
            "spec": {"vpcId": "vpc-01234567", "bogus": 1, "labels": {"any": "thing"}, "free": {"x": {"y": 1}}},
            "extra": true});
        let removed = prune(&s, &mut obj);
        assert_eq!(removed, vec!["extra".to_string(), "spec.bogus".to_string()]);
        assert_eq!(obj["spec"]["labels"]["any"], "thing");
        assert_eq!(obj["spec"]["free"]["x"]["y"], 1);
        assert_eq!(obj["metadata"]["name"], "a");
    }

    #[test]
    fn defaults_fill_missing_fields_and_non_nullable_nulls() {
        let s = schema();
        let mut obj = json!({"spec": {"vpcId": "vpc-01234567", "count": null}});
        apply_defaults(&s, &mut obj);
        assert_eq!(obj["spec"]["mode"], "Delete");
        assert!(
            obj["spec"].get("count").is_none(),
            "null without default is dropped"
        );
    }

    #[test]
    fn each_schema_rule_produces_the_real_servers_message() {
        let s = schema();
        let obj = json!({"spec": {"mode": "Keep", "name": "abcdef", "subnets": ["a", "subnet-1", "subnet-2"],
                                   "count": "3", "port": true}});
        let msgs: Vec<String> = validate(&s, &obj).iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec![
                "spec.vpcId: Required value",
                "spec.count: Invalid value: \"string\": spec.count in body must be of type integer: \"string\"",
                "spec.mode: Unsupported value: \"Keep\": supported values: \"Delete\", \"Retain\"",
                "spec.name: Too long: may not be longer than 5",
                "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
                "spec.subnets: Too many: 3: must have at most 2 items",
                "spec.subnets[0]: Invalid value: \"a\": spec.subnets[0] in body should match '^subnet-'",
            ]
        );
        let short = json!({"spec": {"vpcId": "vpc-x", "name": "ab", "subnets": [], "count": 0}});
        let msgs: Vec<String> = validate(&s, &short).iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec![
                "spec.count: Invalid value: 0: spec.count in body should be greater than or equal to 1",
                "spec.name: Invalid value: \"ab\": spec.name in body should be at least 3 chars long",
                "spec.subnets: Invalid value: 0: spec.subnets in body should have at least 1 items",
                "spec.vpcId: Invalid value: \"vpc-x\": spec.vpcId in body should match '^vpc-[0-9a-f]{8}$'",
            ]
        );
    }

    #[test]
    fn a_schema_with_an_untyped_field_is_not_structural() {
        let err = Schema::compile(&json!({"type": "object", "properties": {"spec": {"properties": {}}}}))
            .expect_err("spec has no type");
        assert!(err.contains("properties[spec].type: Required value"), "{err}");
    }
}
