//! YAML read as `kubectl apply` reads it, into the JSON the API server receives.
//!
//! serde_yaml reads YAML 1.2, kubectl YAML 1.1 (sigs.k8s.io/yaml): an unquoted `Off`, `no` or
//! `yes` is a string to the first and a boolean to the second. A manifest that `plan` accepts
//! with `endpointIngress: Off` is refused by the API server (a boolean where the schema wants a
//! string), so `plan` would analyse something that can never be applied. This reader keeps
//! serde_yaml's parser, with its limits on nesting depth and alias expansion, and resolves plain
//! scalars as YAML 1.1 does for booleans. Like kubectl, it refuses a key given twice in one
//! mapping (serde would keep one of them silently).
//!
//! A scalar is plain when serde_yaml hands it over borrowed from the text and the character
//! before it is not a quote: serde_yaml borrows a quoted scalar from inside its quotes, and a
//! plain one from its first character.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The plain scalars YAML 1.1 (and so kubectl) reads as booleans.
const YAML11_TRUE: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
];
const YAML11_FALSE: &[&str] = &[
    "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
];

/// A plain scalar read as a boolean where YAML 1.2 reads a string: where, and as what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Yaml11Boolean {
    /// The JSON path, in serde_path_to_error's format (`spec.remediation.endpointIngress`).
    pub path: String,
    pub word: String,
    pub value: bool,
}

/// The document as kubectl sends it, and the plain scalars read as booleans that YAML 1.2 would
/// have read as strings.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub value: Value,
    pub yaml11_booleans: Vec<Yaml11Boolean>,
}

/// Reads one YAML document. Errors carry serde_yaml's location, or the path of a repeated key.
pub fn read(text: &str) -> Result<Document, String> {
    let mut state = State {
        text,
        path: Vec::new(),
        yaml11_booleans: Vec::new(),
    };
    let de = serde_yaml::Deserializer::from_str(text);
    let value = NodeSeed { state: &mut state }
        .deserialize(de)
        .map_err(|e| e.to_string())?;
    Ok(Document {
        value,
        yaml11_booleans: state.yaml11_booleans,
    })
}

/// Reads every document of a multi-document stream (`---` between documents), as
/// `kubectl apply -f` does: one result per document, in order. A syntax error ends the stream
/// (the parser cannot find where the next document starts), so it is the last result.
/// Locations in errors are lines of the whole text.
pub fn read_all(text: &str) -> Vec<Result<Document, String>> {
    let mut out = Vec::new();
    for de in serde_yaml::Deserializer::from_str(text) {
        let mut state = State {
            text,
            path: Vec::new(),
            yaml11_booleans: Vec::new(),
        };
        let result = NodeSeed { state: &mut state }
            .deserialize(de)
            .map(|value| Document {
                value,
                yaml11_booleans: state.yaml11_booleans,
            })
            .map_err(|e| e.to_string());
        let failed = result.is_err();
        out.push(result);
        if failed {
            break;
        }
    }
    out
}

struct State<'t> {
    text: &'t str,
    /// Path segments: `.key` or `[i]`.
    path: Vec<String>,
    yaml11_booleans: Vec<Yaml11Boolean>,
}

impl State<'_> {
    fn path(&self) -> String {
        let joined: String = self.path.concat();
        joined.strip_prefix('.').unwrap_or(&joined).to_string()
    }

    /// Whether `s`, borrowed from the text, was written without quotes.
    fn is_plain(&self, s: &str) -> bool {
        let base = self.text.as_ptr() as usize;
        let at = s.as_ptr() as usize;
        if at < base || at > base + self.text.len() {
            return false;
        }
        let offset = at - base;
        offset == 0 || !matches!(self.text.as_bytes()[offset - 1], b'"' | b'\'')
    }

    fn plain_boolean(&mut self, s: &str) -> Option<bool> {
        let value = if YAML11_TRUE.contains(&s) {
            true
        } else if YAML11_FALSE.contains(&s) {
            false
        } else {
            return None;
        };
        if !self.is_plain(s) {
            return None;
        }
        self.yaml11_booleans.push(Yaml11Boolean {
            path: self.path(),
            word: s.to_string(),
            value,
        });
        Some(value)
    }
}

struct NodeSeed<'s, 't> {
    state: &'s mut State<'t>,
}

impl<'de, 's> DeserializeSeed<'de> for NodeSeed<'s, 'de> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, 's> Visitor<'de> for NodeSeed<'s, 'de> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        // Beyond 64 bits: JSON has no such integer; kubectl sends a float, the schema refuses it
        // wherever a string or an integer is expected, so a float says the same.
        Ok(serde_json::Number::from_f64(v as f64).map_or(Value::Null, Value::Number))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v as f64).map_or(Value::Null, Value::Number))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // `.inf` and `.nan` have no JSON form.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Value, E> {
        Ok(match self.state.plain_boolean(v) {
            Some(b) => Value::Bool(b),
            None => Value::String(v.to_string()),
        })
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        // Not borrowed: escapes, a block scalar or a plain scalar over several lines, none of
        // which is a single YAML 1.1 boolean word.
        Ok(Value::String(v.to_string()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        NodeSeed { state: self.state }.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.state.path.push(format!("[{}]", items.len()));
            let item = seq.next_element_seed(NodeSeed {
                state: &mut *self.state,
            });
            self.state.path.pop();
            match item? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key_seed(NodeSeed {
            state: &mut *self.state,
        })? {
            // JSON keys are strings: kubectl writes other scalars as their text.
            let key = match key {
                Value::String(s) => s,
                other => other.to_string(),
            };
            self.state.path.push(format!(".{key}"));
            let value = map.next_value_seed(NodeSeed {
                state: &mut *self.state,
            });
            self.state.path.pop();
            let value = value?;
            if object.contains_key(&key) {
                // serde_yaml adds the mapping's path and the line.
                return Err(de::Error::custom(format!(
                    "key `{key}` is given twice (kubectl refuses that: which one would count is \
                     unclear)"
                )));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unquoted_yaml11_booleans_are_booleans_and_quoted_ones_strings() {
        let doc =
            read("a: Off\nb: \"Off\"\nc: 'no'\nd: yes\ne: [On, 'On', n]\nf: true\ng: Offline\nh: |\n  Off\n")
                .unwrap();
        assert_eq!(
            doc.value,
            json!({"a": false, "b": "Off", "c": "no", "d": true, "e": [true, "On", false],
                   "f": true, "g": "Offline", "h": "Off\n"})
        );
        let paths: Vec<(&str, &str)> = doc
            .yaml11_booleans
            .iter()
            .map(|b| (b.path.as_str(), b.word.as_str()))
            .collect();
        assert_eq!(paths, [("a", "Off"), ("d", "yes"), ("e[0]", "On"), ("e[2]", "n")]);
    }

    #[test]
    fn flow_and_nested_scalars_are_resolved_where_they_are() {
        let doc = read("spec: {remediation: {endpointIngress: Off, clientEgress: \"Off\"}}").unwrap();
        assert_eq!(
            doc.value,
            json!({"spec": {"remediation": {"endpointIngress": false, "clientEgress": "Off"}}})
        );
        assert_eq!(doc.yaml11_booleans[0].path, "spec.remediation.endpointIngress");
    }

    #[test]
    fn numbers_nulls_and_aliases_read_as_json() {
        let doc = read("a: 12\nb: ~\nc: &x Off\nd: *x\ne: 1.5\n").unwrap();
        assert_eq!(
            doc.value,
            json!({"a": 12, "b": null, "c": false, "d": false, "e": 1.5})
        );
    }

    #[test]
    fn every_document_of_a_stream_is_read_with_lines_of_the_whole_text() {
        let docs = read_all("a: Off\n---\nb: 1\n---\n---\nc: [x\n");
        assert_eq!(docs.len(), 4, "{docs:?}");
        assert_eq!(docs[0].as_ref().unwrap().value, json!({"a": false}));
        assert_eq!(docs[0].as_ref().unwrap().yaml11_booleans[0].path, "a");
        assert_eq!(docs[1].as_ref().unwrap().value, json!({"b": 1}));
        assert_eq!(docs[2].as_ref().unwrap().value, Value::Null, "an empty document");
        let err = docs[3].as_ref().unwrap_err();
        assert!(err.contains("line 7"), "{err}");
        assert_eq!(read_all("a: 1\n").len(), 1);
    }

    #[test]
    fn a_key_given_twice_is_refused_with_its_path() {
        let err = read("metadata:\n  annotations:\n    a: x\n    a: y\n").unwrap_err();
        assert_eq!(
            err,
            "metadata.annotations: key `a` is given twice (kubectl refuses that: which one would \
             count is unclear) at line 3 column 5"
        );
    }

    #[test]
    fn nesting_and_alias_bombs_stop_at_serde_yaml_limits() {
        let deep = format!("a: {}{}", "[".repeat(1000), "]".repeat(1000));
        assert!(read(&deep).unwrap_err().contains("recursion limit exceeded"));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = format!("*a{}", i - 1);
            bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        assert!(read(&bomb).unwrap_err().contains("repetition limit exceeded"));
    }
}
