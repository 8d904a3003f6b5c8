//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902) with the quirks of the Go library the
//! API server uses (evanphx/json-patch v4): a `test` against a missing path succeeds when the
//! expected value is `null`, which kube-runtime's finalizer helper relies on.

use serde_json::Value;

/// RFC 7386: objects merge recursively, `null` deletes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let map = target.as_object_mut().expect("made an object");
    for (k, v) in patch_map {
        if v.is_null() {
            map.remove(k);
        } else {
            merge(map.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Why a JSON patch could not be applied; the text is the error message the server returns.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonPatchError {
    /// The patch document itself is malformed (400).
    Malformed(String),
    /// An operation does not apply to the document (422).
    Failed(String),
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn tokens(path: &str) -> Result<Vec<String>, JsonPatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(JsonPatchError::Failed(format!("invalid JSON pointer: {path:?}")));
    };
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_mut<'a>(
    doc: &'a mut Value,
    toks: &[String],
    op: &str,
    path: &str,
) -> Result<&'a mut Value, JsonPatchError> {
    let mut cur = doc;
    for t in &toks[..toks.len().saturating_sub(1)] {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(move |i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| {
            JsonPatchError::Failed(format!(
                "{op} operation does not apply: doc is missing path: {path:?}: missing value"
            ))
        })?;
    }
    Ok(cur)
}

fn get<'a>(doc: &'a Value, path: &str) -> Result<Option<&'a Value>, JsonPatchError> {
    let toks = tokens(path)?;
    let mut cur = doc;
    for t in &toks {
        let next = match cur {
            Value::Object(m) => m.get(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), JsonPatchError> {
    let toks = tokens(path)?;
    let Some(last) = toks.last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, &toks, "add", path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= a.len())
                    .ok_or_else(|| {
                        JsonPatchError::Failed(format!(
                            "Unable to access invalid index: {last}: invalid index referenced"
                        ))
                    })?
            };
            a.insert(i, value);
            Ok(())
        }
        _ => Err(JsonPatchError::Failed(format!(
            "add operation does not apply: doc is missing path: {path:?}: missing value"
        ))),
    }
}

fn remove(doc: &mut Value, path: &str, op: &str) -> Result<Value, JsonPatchError> {
    let toks = tokens(path)?;
    let Some(last) = toks.last() else {
        return Err(JsonPatchError::Failed(format!(
            "{op} operation does not apply: cannot remove the root"
        )));
    };
    let missing = || {
        JsonPatchError::Failed(format!(
            "{op} operation does not apply: doc is missing key: {path}: missing value"
        ))
    };
    match parent_mut(doc, &toks, op, path)? {
        Value::Object(m) => m.remove(last).ok_or_else(missing),
        Value::Array(a) => {
            let i = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i < a.len())
                .ok_or_else(missing)?;
            Ok(a.remove(i))
        }
        _ => Err(missing()),
    }
}

fn field<'a>(op: &'a Value, name: &str, index: usize) -> Result<&'a Value, JsonPatchError> {
    op.get(name)
        .ok_or_else(|| JsonPatchError::Failed(format!("operation {index} is missing \"{name}\"")))
}

fn str_field<'a>(op: &'a Value, name: &str, index: usize) -> Result<&'a str, JsonPatchError> {
    field(op, name, index)?
        .as_str()
        .ok_or_else(|| JsonPatchError::Malformed(format!("operation {index}: \"{name}\" must be a string")))
}

/// Applies an RFC 6902 patch document; all or nothing.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, JsonPatchError> {
    let Some(ops) = patch.as_array() else {
        return Err(JsonPatchError::Malformed(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch".into(),
        ));
    };
    let mut out = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        let name = str_field(op, "op", i)?;
        let path = str_field(op, "path", i)?;
        match name {
            "add" => add(&mut out, path, field(op, "value", i)?.clone())?,
            "remove" => {
                remove(&mut out, path, "remove")?;
            }
            "replace" => {
                remove(&mut out, path, "replace")?;
                add(&mut out, path, field(op, "value", i)?.clone())?;
            }
            "move" => {
                let from = str_field(op, "from", i)?;
                let v = remove(&mut out, from, "move")?;
                add(&mut out, path, v)?;
            }
            "copy" => {
                let from = str_field(op, "from", i)?;
                let v = get(&out, from)?.cloned().ok_or_else(|| {
                    JsonPatchError::Failed(format!(
                        "copy operation does not apply: doc is missing from path: {from:?}: missing value"
                    ))
                })?;
                add(&mut out, path, v)?;
            }
            "test" => {
                let expected = op.get("value").unwrap_or(&Value::Null);
                let ok = match get(&out, path)? {
                    Some(actual) => actual == expected,
                    None => expected.is_null(),
                };
                if !ok {
                    return Err(JsonPatchError::Failed(format!(
                        "testing value {path} failed: test failed"
                    )));
                }
            }
            other => {
                return Err(JsonPatchError::Failed(format!("Unexpected kind: {other}")));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_merges_objects_deletes_nulls_and_replaces_lists() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge(&mut doc, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
        assert_eq!(doc, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn finalizer_helper_patches_apply_as_on_the_real_server() {
        let doc = json!({"metadata": {"name": "x"}});
        let added = json_patch(
            &doc,
            &json!([{"op": "test", "path": "/metadata/finalizers", "value": null},
                    {"op": "add", "path": "/metadata/finalizers", "value": ["a/b"]}]),
        )
        .expect("test null on a missing path passes");
        let appended = json_patch(
            &added,
            &json!([{"op": "test", "path": "/metadata/finalizers", "value": ["a/b"]},
                    {"op": "add", "path": "/metadata/finalizers/-", "value": "c/d"}]),
        )
        .expect("applies");
        assert_eq!(appended["metadata"]["finalizers"], json!(["a/b", "c/d"]));
        let err = json_patch(
            &appended,
            &json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "c/d"},
                    {"op": "remove", "path": "/metadata/finalizers/0"}]),
        )
        .expect_err("stale test fails");
        assert_eq!(
            err,
            JsonPatchError::Failed("testing value /metadata/finalizers/0 failed: test failed".into())
        );
    }

    #[test]
    fn move_copy_and_replace_follow_rfc_6902() {
        let doc = json!({"a": 1, "b": [1, 2]});
        let out = json_patch(
            &doc,
            &json!([{"op": "copy", "from": "/a", "path": "/c"},
                    {"op": "move", "from": "/b/0", "path": "/b/-"},
                    {"op": "replace", "path": "/a", "value": 9}]),
        )
        .expect("applies");
        assert_eq!(out, json!({"a": 9, "b": [2, 1], "c": 1}));
        assert!(json_patch(&doc, &json!([{"op": "replace", "path": "/zz", "value": 1}])).is_err());
    }
}
