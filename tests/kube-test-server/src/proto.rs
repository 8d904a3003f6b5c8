//! Just enough Kubernetes protobuf to read the bodies kubectl's typed clients send for
//! built-in objects (`kubectl create namespace` posts a protobuf Namespace): the `k8s\0`
//! envelope (`runtime.Unknown`), TypeMeta, and an object made of ObjectMeta (name,
//! generateName, namespace, labels, annotations, finalizers) plus a spec with `finalizers`.
//! Other protobuf bodies are answered with 415, and the server always answers in JSON.

use serde_json::{Map, Value, json};

const MAGIC: &[u8] = b"k8s\x00";

struct Reader<'a> {
    buf: &'a [u8],
}

enum Field<'a> {
    Varint,
    Bytes(&'a [u8]),
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first()?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn next(&mut self) -> Option<Option<(u64, Field<'a>)>> {
        if self.buf.is_empty() {
            return Some(None);
        }
        let key = self.varint()?;
        let field = match key & 7 {
            0 => {
                self.varint()?;
                Field::Varint
            }
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                if len > self.buf.len() {
                    return None;
                }
                let (bytes, rest) = self.buf.split_at(len);
                self.buf = rest;
                Field::Bytes(bytes)
            }
            1 => {
                self.buf = self.buf.get(8..)?;
                Field::Varint
            }
            5 => {
                self.buf = self.buf.get(4..)?;
                Field::Varint
            }
            _ => return None,
        };
        Some(Some((key >> 3, field)))
    }

    /// Every (field number, value) of a message; None when malformed.
    fn fields(buf: &'a [u8]) -> Option<Vec<(u64, Field<'a>)>> {
        let mut r = Reader { buf };
        let mut out = Vec::new();
        while let Some(f) = r.next()? {
            out.push(f);
        }
        Some(out)
    }
}

fn text(b: &[u8]) -> Option<String> {
    String::from_utf8(b.to_vec()).ok()
}

fn string_map(entries: &[&[u8]]) -> Option<Value> {
    let mut m = Map::new();
    for e in entries {
        let (mut k, mut v) = (String::new(), String::new());
        for (n, f) in Reader::fields(e)? {
            match (n, f) {
                (1, Field::Bytes(b)) => k = text(b)?,
                (2, Field::Bytes(b)) => v = text(b)?,
                _ => {}
            }
        }
        m.insert(k, Value::String(v));
    }
    Some(Value::Object(m))
}

fn object_meta(buf: &[u8]) -> Option<Value> {
    let mut meta = Map::new();
    let (mut labels, mut annotations, mut finalizers) = (Vec::new(), Vec::new(), Vec::new());
    for (n, f) in Reader::fields(buf)? {
        let Field::Bytes(b) = f else { continue };
        match n {
            1 => _ = meta.insert("name".into(), Value::String(text(b)?)),
            2 => _ = meta.insert("generateName".into(), Value::String(text(b)?)),
            3 => _ = meta.insert("namespace".into(), Value::String(text(b)?)),
            11 => labels.push(b),
            12 => annotations.push(b),
            14 => finalizers.push(Value::String(text(b)?)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), string_map(&labels)?);
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), string_map(&annotations)?);
    }
    if !finalizers.is_empty() {
        meta.insert("finalizers".into(), Value::Array(finalizers));
    }
    Some(Value::Object(meta))
}

/// Decodes a protobuf Namespace body into its JSON form; None when it is anything else.
pub fn decode_namespace(body: &[u8]) -> Option<Value> {
    let envelope = body.strip_prefix(MAGIC)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), None);
    for (n, f) in Reader::fields(envelope)? {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                for (tn, tf) in Reader::fields(tm)? {
                    match (tn, tf) {
                        (1, Field::Bytes(b)) => api_version = text(b)?,
                        (2, Field::Bytes(b)) => kind = text(b)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = Some(b),
            _ => {}
        }
    }
    if api_version != "v1" || kind != "Namespace" {
        return None;
    }
    let mut obj = json!({"apiVersion": api_version, "kind": kind, "metadata": {}});
    for (n, f) in Reader::fields(raw?)? {
        let Field::Bytes(b) = f else { continue };
        match n {
            1 => obj["metadata"] = object_meta(b)?,
            2 => {
                let mut fin = Vec::new();
                for (sn, sf) in Reader::fields(b)? {
                    if let (1, Field::Bytes(s)) = (sn, sf) {
                        fin.push(Value::String(text(s)?));
                    }
                }
                obj["spec"] = json!({"finalizers": fin});
            }
            _ => {}
        }
    }
    Some(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3) | 2, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn a_protobuf_namespace_from_kubectl_create_namespace_decodes() {
        let label = [field(1, b"team"), field(2, b"obs")].concat();
        let meta = [field(1, b"team-a"), field(11, &label)].concat();
        let ns = [field(1, &meta), field(2, b""), field(3, b"")].concat();
        let type_meta = [field(1, b"v1"), field(2, b"Namespace")].concat();
        let unknown = [field(1, &type_meta), field(2, &ns), field(3, b""), field(4, b"")].concat();
        let body = [MAGIC, &unknown].concat();
        let obj = decode_namespace(&body).expect("decodes");
        assert_eq!(
            obj["metadata"],
            json!({"name": "team-a", "labels": {"team": "obs"}})
        );
        assert_eq!(obj["kind"], "Namespace");
        assert!(decode_namespace(b"k8s\x00\xff").is_none());
        assert!(decode_namespace(b"{}").is_none());
    }
}
