//! Reads of many objects: LIST with selectors and `limit`/`continue` (consistent pages served
//! from history, 410 once it is gone), and the event selection behind WATCH (resume from a
//! resourceVersion, selector transitions, 410 for a resourceVersion older than the history).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector, field_value};
use crate::status::ApiError;
use crate::store::{ChangeKind, Key};

/// Parsed list/watch query parameters.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
}

impl ListOptions {
    pub fn parse(rt: &ResourceType, query: &[(String, String)]) -> Result<Self, ApiError> {
        let get = |k: &str| query.iter().find(|(qk, _)| qk == k).map(|(_, v)| v.clone());
        let allowed = |f: &str| rt.field_label_allowed(f);
        let limit = match get("limit").filter(|l| !l.is_empty()) {
            Some(l) => Some(
                l.parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?
                    .max(0) as usize,
            )
            .filter(|l| *l > 0),
            None => None,
        };
        Ok(Self {
            labels: LabelSelector::parse(&get("labelSelector").unwrap_or_default())?,
            fields: FieldSelector::parse(&get("fieldSelector").unwrap_or_default(), &allowed)?,
            limit,
            continue_token: get("continue").filter(|c| !c.is_empty()),
            resource_version: get("resourceVersion").filter(|r| !r.is_empty()),
            resource_version_match: get("resourceVersionMatch").filter(|r| !r.is_empty()),
        })
    }

    /// Whether a served object passes both selectors.
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels
            .matches(obj.pointer("/metadata/labels").and_then(Value::as_object))
            && self.fields.matches(&|f| field_value(obj, f))
    }
}

fn parse_rv(rv: &str) -> Result<u64, ApiError> {
    rv.parse::<u64>()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))
}

fn encode_continue(rv: u64, start: &str) -> String {
    // Written by hand to keep the real server's key order (serde_json sorts keys).
    let start = Value::String(format!("{start}\u{0}"));
    STANDARD.encode(format!(r#"{{"v":"meta.k8s.io/v1","rv":{rv},"start":{start}}}"#))
}

fn decode_continue(token: &str) -> Result<(u64, String), ApiError> {
    let bytes = STANDARD.decode(token).map_err(|e| {
        // Go's decoder reports the offset of the first undecodable 4-byte quantum.
        let at = match e {
            base64::DecodeError::InvalidByte(i, _) | base64::DecodeError::InvalidLastSymbol(i, _) => i,
            base64::DecodeError::InvalidLength(n) => n / 4 * 4,
            base64::DecodeError::InvalidPadding => token.len(),
        };
        ApiError::bad_request(format!(
            "invalid continue token: continue key is not valid: illegal base64 data at input byte {at}"
        ))
    })?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid continue token: {e}")))?;
    let rv = v["rv"].as_u64().ok_or_else(|| {
        ApiError::bad_request("invalid continue token: continue key is not valid: missing rv")
    })?;
    let start = v["start"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('\u{0}')
        .to_string();
    Ok((rv, start))
}

/// The position of an object in list order, as continue tokens record it: the etcd key below
/// the list's prefix (`name` within a namespace, `namespace/name` across namespaces).
fn position(key: &Key, within_namespace: bool) -> String {
    if key.1.is_empty() || within_namespace {
        key.2.clone()
    } else {
        format!("{}/{}", key.1, key.2)
    }
}

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// One page of a LIST: the served objects, and the list metadata to send with them.
pub struct Page {
    pub items: Vec<Value>,
    pub metadata: Value,
}

impl Cluster {
    pub fn list(&self, rt: &ResourceType, ns: Option<&str>, opts: &ListOptions) -> Result<Page, ApiError> {
        let ns = if rt.namespaced { ns } else { None };
        let current = self.store.current_rv();
        let (list_rv, after, entries) = match &opts.continue_token {
            Some(token) => {
                let (rv, start) = decode_continue(token)?;
                let entries = self
                    .store
                    .list_at(&rt.storage, ns, rv)
                    .map_err(|_| ApiError::gone(CONTINUE_EXPIRED))?;
                (rv, Some(start), entries)
            }
            None => {
                let requested = opts.resource_version.as_deref().map(parse_rv).transpose()?;
                if let Some(rv) = requested
                    && rv > current
                {
                    return Err(ApiError::new(
                        504,
                        "Timeout",
                        format!("Timeout: Too large resource version: {rv}, current: {current}"),
                    )
                    .with_details(json!({"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1})));
                }
                match (opts.resource_version_match.as_deref(), requested) {
                    (Some("Exact"), Some(rv)) => {
                        let entries = self.store.list_at(&rt.storage, ns, rv).map_err(|_| {
                            ApiError::gone("The resourceVersion for the provided list is too old.")
                        })?;
                        (rv, None, entries)
                    }
                    _ => (current, None, self.store.list(&rt.storage, ns)),
                }
            }
        };
        let within = ns.is_some();
        // etcd lists in key order; `namespace/name` strings sort differently from
        // (namespace, name) pairs when one namespace name prefixes another.
        let mut positioned: Vec<(String, &Arc<Value>)> =
            entries.iter().map(|(k, o)| (position(k, within), o)).collect();
        positioned.sort_by(|a, b| a.0.cmp(&b.0));
        // Everything that matches after the continue position: the page is its first `limit`
        // items, and what is left is what a continue token would return.
        let mut matching: Vec<(String, Value)> = positioned
            .into_iter()
            .filter(|(pos, _)| after.as_deref().is_none_or(|a| pos.as_str() > a))
            .map(|(pos, o)| (pos, self.served(rt, o)))
            .filter(|(_, o)| opts.matches(o))
            .collect();
        let rest = match opts.limit {
            Some(limit) if matching.len() > limit => matching.split_off(limit),
            _ => Vec::new(),
        };
        let mut metadata = json!({"resourceVersion": list_rv.to_string()});
        if let Some((last, _)) = matching.last()
            && !rest.is_empty()
        {
            metadata["continue"] = json!(encode_continue(list_rv, last));
            if opts.labels.is_empty() && opts.fields.is_empty() {
                metadata["remainingItemCount"] = json!(rest.len());
            }
        }
        let items = matching.into_iter().map(|(_, o)| o).collect();
        Ok(Page { items, metadata })
    }
}

/// One event to send to a watcher.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub kind: &'static str,
    pub object: Value,
}

/// A watcher's position and filters.
#[derive(Debug, Clone)]
pub struct WatchCursor {
    pub rt: std::sync::Arc<ResourceType>,
    pub namespace: Option<String>,
    pub opts: ListOptions,
    pub rv: u64,
}

impl Cluster {
    /// Starts a watch. Without a resourceVersion (or with "0") it begins with synthetic ADDED
    /// events for what exists now. A resourceVersion older than the history gets the real
    /// server's answer: a 200 whose only event is a 410 Expired ERROR.
    pub fn watch_start(
        &self,
        cursor: &mut WatchCursor,
        send_initial: bool,
    ) -> Result<Vec<WatchEvent>, ApiError> {
        let rv = cursor.opts.resource_version.clone().unwrap_or_default();
        let rt = cursor.rt.clone();
        if rv.is_empty() || rv == "0" || send_initial {
            cursor.rv = self.store.current_rv();
            let ns = if rt.namespaced {
                cursor.namespace.as_deref()
            } else {
                None
            };
            return Ok(self
                .store
                .list(&rt.storage, ns)
                .into_iter()
                .map(|(_, o)| self.served(&rt, &o))
                .filter(|o| cursor.opts.matches(o))
                .map(|object| WatchEvent {
                    kind: "ADDED",
                    object,
                })
                .collect());
        }
        let rv = parse_rv(&rv)?;
        cursor.rv = rv;
        if rv < self.store.oldest_rv() {
            return Err(ApiError::gone(format!(
                "too old resource version: {rv} ({})",
                self.store.oldest_rv()
            )));
        }
        self.watch_poll(cursor)
    }

    /// Events since the cursor, filtered; advances the cursor. Objects moving into or out of
    /// the selection appear as ADDED and DELETED, as on the real server.
    pub fn watch_poll(&self, cursor: &mut WatchCursor) -> Result<Vec<WatchEvent>, ApiError> {
        let changes = self
            .store
            .changes_since(cursor.rv)
            .map_err(|e| ApiError::gone(format!("too old resource version: {} ({})", cursor.rv, e.oldest)))?;
        let rt = cursor.rt.clone();
        let mut out = Vec::new();
        for c in changes {
            cursor.rv = c.rv;
            let k = &c.key;
            if k.0 != rt.storage || (rt.namespaced && cursor.namespace.as_deref().is_some_and(|ns| ns != k.1))
            {
                continue;
            }
            let new = self.served(&rt, &c.object);
            let was = c.prev.as_ref().map(|p| self.served(&rt, p));
            let was_in = was.as_ref().is_some_and(|w| cursor.opts.matches(w));
            let is_in = cursor.opts.matches(&new);
            let kind = match c.kind {
                ChangeKind::Deleted if was_in => "DELETED",
                ChangeKind::Deleted => continue,
                _ => match (was_in, is_in) {
                    (false, true) => "ADDED",
                    (true, true) => "MODIFIED",
                    (true, false) => "DELETED",
                    (false, false) => continue,
                },
            };
            out.push(WatchEvent { kind, object: new });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_look_like_the_real_servers() {
        let t = encode_continue(77, "b");
        assert_eq!(
            t,
            "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NzcsInN0YXJ0IjoiYlx1MDAwMCJ9"
        );
        assert_eq!(decode_continue(&t).expect("decodes"), (77, "b".to_string()));
        assert_eq!(decode_continue("bogus").expect_err("not base64").code, 400);
    }
}
