//! YAML read the way kubectl and the API server read it. Both use sigs.k8s.io/yaml, which
//! follows YAML 1.1: an unquoted `Off`, `on`, `yes`, `n`… is a boolean, not a string. serde_yaml
//! follows YAML 1.2, where they are strings, so a CRD file with `enum: [Auto, Off]` would work
//! here and break on a real cluster (its enum becomes `[Auto, false]`). Plain scalars with those
//! spellings are rewritten to `true`/`false` before parsing so this server sees what the real one
//! sees. This covers block mappings and sequences and one-line flow sequences, and leaves block
//! scalars (`|`, `>`), quoted strings and keys alone.

use serde_json::Value;

const TRUE: &[&str] = &["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"];
const FALSE: &[&str] = &["n", "N", "no", "No", "NO", "off", "Off", "OFF"];

fn yaml11_bool(token: &str) -> Option<&'static str> {
    if TRUE.contains(&token) {
        Some("true")
    } else if FALSE.contains(&token) {
        Some("false")
    } else {
        None
    }
}

/// Rewrites one plain scalar (with an optional trailing comment) if YAML 1.1 reads it as a bool.
fn rewrite_scalar(value: &str) -> Option<String> {
    let (token, comment) = match value.find(" #") {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, ""),
    };
    let trimmed = token.trim_end();
    if let Some(inner) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let mut changed = false;
        let items: Vec<String> = inner
            .split(',')
            .map(|item| match yaml11_bool(item.trim()) {
                Some(b) => {
                    changed = true;
                    item.replace(item.trim(), b)
                }
                None => item.to_string(),
            })
            .collect();
        return changed.then(|| format!("[{}]{comment}", items.join(",")));
    }
    yaml11_bool(trimmed).map(|b| format!("{b}{comment}"))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Where the value of a `key: value` starts, if the line is one (outside quotes).
fn value_start(line: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ':') if line[i + 1..].starts_with(' ') => return Some(i + 2),
            _ => {}
        }
    }
    None
}

/// The text with YAML 1.1 booleans made explicit.
pub fn yaml11_booleans(text: &str) -> String {
    let mut out = Vec::new();
    let mut block_scalar_indent: Option<usize> = None;
    for line in text.lines() {
        if let Some(min) = block_scalar_indent {
            if line.trim().is_empty() || indent(line) > min {
                out.push(line.to_string());
                continue;
            }
            block_scalar_indent = None;
        }
        let mut start = indent(line);
        while line[start..].starts_with("- ") {
            start += 2;
        }
        let value_at = value_start(&line[start..]).map(|v| start + v).unwrap_or(start);
        let value = &line[value_at..];
        let v = value.trim_start();
        if v.starts_with('|') || v.starts_with('>') {
            block_scalar_indent = Some(indent(line));
            out.push(line.to_string());
            continue;
        }
        match rewrite_scalar(value) {
            Some(new) if !v.is_empty() => out.push(format!("{}{new}", &line[..value_at])),
            _ => out.push(line.to_string()),
        }
    }
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Every document of a YAML stream, read as kubectl would, as JSON values (nulls skipped).
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    use serde::Deserialize;
    let text = yaml11_booleans(text);
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v = serde_yaml::Value::deserialize(doc).map_err(|e| e.to_string())?;
        if v.is_null() {
            continue;
        }
        docs.push(serde_json::to_value(&v).map_err(|e| e.to_string())?);
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unquoted_off_in_an_enum_is_false_as_kubectl_reads_it() {
        let text = "enum:\n- Auto\n- Off\n- 'Off'\nflow: [Auto, Off]\nmode: on # comment\nname: \"no\"\n";
        let docs = documents(text).expect("parses");
        assert_eq!(
            docs[0],
            json!({"enum": ["Auto", false, "Off"], "flow": ["Auto", false], "mode": true, "name": "no"})
        );
    }

    #[test]
    fn block_scalars_and_ordinary_words_are_left_alone() {
        let text = "description: |\n  - Off\n  yes: no\nnext: Offline\nitems:\n- name: y\n";
        let docs = documents(text).expect("parses");
        assert_eq!(docs[0]["description"], "- Off\nyes: no\n");
        assert_eq!(docs[0]["next"], "Offline");
        assert_eq!(docs[0]["items"][0]["name"], true);
    }
}
