//! A validator for the structural-schema subset our CRD uses (type, properties, required,
//! additionalProperties, items, enum, pattern, min/max length, items and values, nullable), so
//! that the examples are checked against the *generated* schema, as the API server would.
//!
//! One deliberate difference: a field the schema does not know is an error here. The API server
//! prunes such fields silently, which is exactly how a misspelt `deletionPolicy` would turn into
//! the default `Delete`; an example must never contain one.

use serde_json::Value;

/// Every violation of `schema` in `value`, each as `path: problem`.
pub fn validate(value: &Value, schema: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(value, schema, "", &mut errors);
    errors
}

fn check(value: &Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    let at = if path.is_empty() { "<root>" } else { path };
    if value.is_null() {
        if schema["nullable"] != Value::Bool(true) {
            errors.push(format!("{at}: null is not allowed"));
        }
        return;
    }
    if let Some(kind) = schema["type"].as_str() {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            other => {
                errors.push(format!(
                    "{at}: schema type {other:?} is not supported by this validator"
                ));
                return;
            }
        };
        if !ok {
            errors.push(format!("{at}: expected {kind}, got {value}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    match value {
        Value::Object(map) => {
            let properties = schema["properties"].as_object();
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if !map.contains_key(name) {
                    errors.push(format!("{at}: missing required field {name:?}"));
                }
            }
            for (key, item) in map {
                // The API server itself owns these at the root of every object.
                if path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&key.as_str()) {
                    continue;
                }
                let child = format!("{path}.{key}");
                match (
                    properties.and_then(|p| p.get(key)),
                    schema.get("additionalProperties"),
                ) {
                    (Some(sub), _) => check(item, sub, &child, errors),
                    (None, Some(sub)) if sub.is_object() => check(item, sub, &child, errors),
                    (None, _) if properties.is_some() => errors.push(format!(
                        "{child}: unknown field (the API server would silently drop it)"
                    )),
                    // An object without `properties` (metadata) accepts anything.
                    (None, _) => {}
                }
            }
        }
        Value::Array(items) => {
            bound(
                at,
                "items",
                items.len(),
                &schema["minItems"],
                &schema["maxItems"],
                errors,
            );
            if schema.get("items").is_some() {
                for (i, item) in items.iter().enumerate() {
                    check(item, &schema["items"], &format!("{path}[{i}]"), errors);
                }
            }
        }
        Value::String(s) => {
            bound(
                at,
                "characters",
                s.chars().count(),
                &schema["minLength"],
                &schema["maxLength"],
                errors,
            );
            if let Some(pattern) = schema["pattern"].as_str() {
                match regex::Regex::new(pattern) {
                    Ok(re) if !re.is_match(s) => errors.push(format!("{at}: {s:?} does not match {pattern}")),
                    Ok(_) => {}
                    Err(e) => errors.push(format!("{at}: schema pattern {pattern:?} does not compile: {e}")),
                }
            }
        }
        Value::Number(n) => {
            let v = n.as_f64().unwrap_or_default();
            if schema["minimum"].as_f64().is_some_and(|min| v < min) {
                errors.push(format!("{at}: {v} is below the minimum {}", schema["minimum"]));
            }
            if schema["maximum"].as_f64().is_some_and(|max| v > max) {
                errors.push(format!("{at}: {v} is above the maximum {}", schema["maximum"]));
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

fn bound(at: &str, what: &str, n: usize, min: &Value, max: &Value, errors: &mut Vec<String>) {
    if min.as_u64().is_some_and(|m| (n as u64) < m) {
        errors.push(format!("{at}: {n} {what}, fewer than the minimum {min}"));
    }
    if max.as_u64().is_some_and(|m| (n as u64) > m) {
        errors.push(format!("{at}: {n} {what}, more than the maximum {max}"));
    }
}
