//! Object storage with one cluster-wide, monotonically increasing `resourceVersion` (like an
//! etcd revision) and a bounded history of changes. The history serves watches resumed from a
//! resourceVersion and consistent paginated lists; asking for anything older than the history
//! is answered with 410 Gone, as the real server does once etcd has compacted.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;

/// Storage bucket (`interfaceendpoints.vpce-rollout.dev`), namespace ("" when cluster-scoped),
/// name. The ordering is the real server's list order: by namespace, then name.
pub type Key = (String, String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One committed write, as watchers see it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub kind: ChangeKind,
    pub key: Key,
    /// The new object; for a deletion, the last state carrying the deletion's resourceVersion.
    pub object: Arc<Value>,
    /// The state before this change (None for additions).
    pub prev: Option<Arc<Value>>,
}

/// The resourceVersion asked for is older than the retained history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    pub oldest: u64,
}

#[derive(Debug)]
pub struct Store {
    rv: u64,
    objects: BTreeMap<Key, Arc<Value>>,
    log: VecDeque<Arc<Change>>,
    /// Every change with a resourceVersion greater than this is in `log`.
    complete_after: u64,
    history_limit: usize,
}

fn set_rv(obj: &mut Value, rv: u64) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        Self {
            rv: 1,
            objects: BTreeMap::new(),
            log: VecDeque::new(),
            complete_after: 1,
            history_limit: history_limit.max(1),
        }
    }

    pub fn current_rv(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion a watch may resume from.
    pub fn oldest_rv(&self) -> u64 {
        self.complete_after
    }

    pub fn get(&self, key: &Key) -> Option<Arc<Value>> {
        self.objects.get(key).cloned()
    }

    fn record(&mut self, change: Change) -> Arc<Change> {
        let change = Arc::new(change);
        self.log.push_back(change.clone());
        while self.log.len() > self.history_limit {
            if let Some(dropped) = self.log.pop_front() {
                self.complete_after = dropped.rv;
            }
        }
        change
    }

    /// Stores `obj` under `key` with a new resourceVersion; returns the stored object.
    pub fn put(&mut self, key: Key, mut obj: Value) -> Arc<Value> {
        self.rv += 1;
        set_rv(&mut obj, self.rv);
        let obj = Arc::new(obj);
        let prev = self.objects.insert(key.clone(), obj.clone());
        let kind = if prev.is_some() {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        self.record(Change {
            rv: self.rv,
            kind,
            key,
            object: obj.clone(),
            prev,
        });
        obj
    }

    /// Removes `key`; the returned (and watched) final state carries the deletion's
    /// resourceVersion.
    pub fn delete(&mut self, key: &Key) -> Option<Arc<Value>> {
        let prev = self.objects.remove(key)?;
        self.rv += 1;
        let mut last = (*prev).clone();
        set_rv(&mut last, self.rv);
        let last = Arc::new(last);
        self.record(Change {
            rv: self.rv,
            kind: ChangeKind::Deleted,
            key: key.clone(),
            object: last.clone(),
            prev: Some(prev),
        });
        Some(last)
    }

    /// Current objects of a bucket, optionally within one namespace, in key order.
    pub fn list(&self, storage: &str, namespace: Option<&str>) -> Vec<(Key, Arc<Value>)> {
        self.objects
            .iter()
            .filter(|(k, _)| k.0 == storage && namespace.is_none_or(|ns| k.1 == ns))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Objects of a bucket as they were at resourceVersion `rv` (for continue tokens).
    pub fn list_at(
        &self,
        storage: &str,
        namespace: Option<&str>,
        rv: u64,
    ) -> Result<Vec<(Key, Arc<Value>)>, Expired> {
        if rv < self.complete_after {
            return Err(Expired {
                oldest: self.complete_after,
            });
        }
        let mut state: BTreeMap<Key, Arc<Value>> = self
            .objects
            .iter()
            .filter(|(k, _)| k.0 == storage && namespace.is_none_or(|ns| k.1 == ns))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for change in self.log.iter().rev().take_while(|c| c.rv > rv) {
            let k = &change.key;
            if k.0 != storage || namespace.is_some_and(|ns| k.1 != ns) {
                continue;
            }
            match &change.prev {
                Some(p) => {
                    state.insert(k.clone(), p.clone());
                }
                None => {
                    state.remove(k);
                }
            }
        }
        Ok(state.into_iter().collect())
    }

    /// Every change after resourceVersion `rv`, oldest first.
    pub fn changes_since(&self, rv: u64) -> Result<Vec<Arc<Change>>, Expired> {
        if rv < self.complete_after {
            return Err(Expired {
                oldest: self.complete_after,
            });
        }
        let start = self.log.partition_point(|c| c.rv <= rv);
        Ok(self.log.range(start..).cloned().collect())
    }

    /// Forgets all history, as an etcd compaction at the current revision would.
    pub fn compact(&mut self) {
        self.log.clear();
        self.complete_after = self.rv;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(name: &str) -> Key {
        ("widgets".into(), "default".into(), name.into())
    }

    #[test]
    fn every_write_bumps_one_resource_version_and_deletions_get_their_own() {
        let mut s = Store::new(100);
        let a = s.put(key("a"), json!({"metadata": {"name": "a"}}));
        let b = s.put(key("b"), json!({"metadata": {"name": "b"}}));
        let gone = s.delete(&key("a")).expect("exists");
        assert_eq!(a["metadata"]["resourceVersion"], "2");
        assert_eq!(b["metadata"]["resourceVersion"], "3");
        assert_eq!(gone["metadata"]["resourceVersion"], "4");
        let kinds: Vec<ChangeKind> = s.changes_since(2).expect("kept").iter().map(|c| c.kind).collect();
        assert_eq!(kinds, vec![ChangeKind::Added, ChangeKind::Deleted]);
    }

    #[test]
    fn lists_can_be_read_as_of_an_older_revision_until_history_is_dropped() {
        let mut s = Store::new(3);
        s.put(key("a"), json!({"metadata": {"name": "a", "v": 1}}));
        s.put(key("b"), json!({"metadata": {"name": "b"}}));
        s.put(key("a"), json!({"metadata": {"name": "a", "v": 2}}));
        let then = s.list_at("widgets", None, 3).expect("in history");
        assert_eq!(then.len(), 2);
        assert_eq!(then[0].1["metadata"]["v"], 1);
        s.put(key("c"), json!({"metadata": {"name": "c"}}));
        s.put(key("d"), json!({"metadata": {"name": "d"}}));
        assert_eq!(s.changes_since(2).expect_err("dropped"), Expired { oldest: 3 });
        assert_eq!(s.changes_since(3).expect("kept").len(), 3);
        s.compact();
        assert!(s.changes_since(5).is_err());
        assert!(s.changes_since(6).expect("current").is_empty());
    }
}
