//! `labelSelector` and `fieldSelector` query parameters: parsing and matching.
//!
//! Label selectors support the full set-based grammar (`a=b`, `a!=b`, `a in (x,y)`,
//! `a notin (x)`, `a`, `!a`, `a>1`, `a<1`). Field selectors support `=`, `==` and `!=` on the
//! fields each resource type allows (the caller supplies the lookup); any other field is a 400,
//! as on the real server.

use serde_json::Value;

use crate::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum LabelOp {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
    Gt(i64),
    Lt(i64),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelSelector(Vec<(String, LabelOp)>);

/// Splits on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_err(detail: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("unable to parse requirement: {detail}"))
}

fn value_list(rest: &str, whole: &str) -> Result<Vec<String>, ApiError> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| parse_err(format!("found '{rest}', expected: '(' in \"{whole}\"")))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for raw in split_top_level(s) {
            let part = raw.trim();
            if part.is_empty() {
                continue;
            }
            let req = if let Some(key) = part.strip_prefix('!') {
                (key.trim().to_string(), LabelOp::NotExists)
            } else if let Some((k, v)) = part.split_once("!=") {
                (k.trim().to_string(), LabelOp::NotEq(v.trim().to_string()))
            } else if let Some((k, v)) = part.split_once("==") {
                (k.trim().to_string(), LabelOp::Eq(v.trim().to_string()))
            } else if let Some((k, v)) = part.split_once('=') {
                (k.trim().to_string(), LabelOp::Eq(v.trim().to_string()))
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                (k.trim().to_string(), LabelOp::NotIn(value_list(rest, s)?))
            } else if let Some((k, rest)) = part.split_once(" in ") {
                (k.trim().to_string(), LabelOp::In(value_list(rest, s)?))
            } else if let Some((k, v)) = part.split_once('>') {
                let n = v.trim().parse().map_err(|_| {
                    parse_err(format!(
                        "for 'Gt', 'Lt' operators, the value must be an integer: {v}"
                    ))
                })?;
                (k.trim().to_string(), LabelOp::Gt(n))
            } else if let Some((k, v)) = part.split_once('<') {
                let n = v.trim().parse().map_err(|_| {
                    parse_err(format!(
                        "for 'Gt', 'Lt' operators, the value must be an integer: {v}"
                    ))
                })?;
                (k.trim().to_string(), LabelOp::Lt(n))
            } else {
                (part.to_string(), LabelOp::Exists)
            };
            if req.0.is_empty() || req.0.contains(char::is_whitespace) {
                return Err(parse_err(format!("found '{part}', expected: identifier")));
            }
            reqs.push(req);
        }
        Ok(Self(reqs))
    }

    pub fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        self.0.iter().all(|(key, op)| {
            let v = labels.and_then(|l| l.get(key)).and_then(Value::as_str);
            match op {
                LabelOp::Eq(x) => v == Some(x.as_str()),
                LabelOp::NotEq(x) => v != Some(x.as_str()),
                LabelOp::In(xs) => v.is_some_and(|v| xs.iter().any(|x| x == v)),
                LabelOp::NotIn(xs) => v.is_none_or(|v| !xs.iter().any(|x| x == v)),
                LabelOp::Exists => v.is_some(),
                LabelOp::NotExists => v.is_none(),
                LabelOp::Gt(n) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|x| x > *n),
                LabelOp::Lt(n) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|x| x < *n),
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses `a=b,c!=d`; `allowed` says which field labels the resource supports.
    pub fn parse(s: &str, allowed: &dyn Fn(&str) -> bool) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for raw in s.split(',') {
            let part = raw.trim();
            if part.is_empty() {
                continue;
            }
            let (field, eq, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            if !allowed(field) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            reqs.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(Self(reqs))
    }

    /// `lookup` yields the object's value for a field label (empty string when absent).
    pub fn matches(&self, lookup: &dyn Fn(&str) -> String) -> bool {
        self.0.iter().all(|(f, eq, v)| (lookup(f) == *v) == *eq)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The value of a dotted field path in an object, as a field selector compares it.
pub fn field_value(obj: &Value, path: &str) -> String {
    let mut cur = obj;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn set_based_label_selectors_match_like_kubernetes() {
        let labels = json!({"app": "web", "tier": "front", "n": "5"});
        let l = labels.as_object();
        let m = |s: &str| LabelSelector::parse(s).expect("parses").matches(l);
        assert!(m("app=web,tier in (front, back)"));
        assert!(m("app==web,!missing,n>3,n<6"));
        assert!(!m("app!=web"));
        assert!(m("tier notin (back),app"));
        assert!(!m("env"));
        assert!(m(""));
        assert!(LabelSelector::parse("app in web").is_err());
    }

    #[test]
    fn field_selectors_reject_unsupported_fields() {
        let allowed = |f: &str| f == "metadata.name" || f == "metadata.namespace";
        let sel = FieldSelector::parse("metadata.name=a,metadata.namespace!=b", &allowed).expect("parses");
        let obj = json!({"metadata": {"name": "a", "namespace": "c"}});
        assert!(sel.matches(&|f| field_value(&obj, f)));
        let err = FieldSelector::parse("spec.x=1", &allowed).expect_err("unsupported");
        assert_eq!(err.code, 400);
        assert_eq!(err.message, "field label not supported: spec.x");
    }
}
