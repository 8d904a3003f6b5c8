//! Server-side apply and `managedFields`: field ownership as sets of paths (the FieldsV1 trie),
//! merging an applied configuration into the live object, conflicts between managers.
//!
//! This follows sigs.k8s.io/structured-merge-diff's rules where they matter to controllers:
//! - a manager's Apply set is the field set of its last applied configuration;
//! - fields it stops applying are removed unless another manager still owns them; a declared
//!   field counts as owned while anything beneath it is, and goes with all beneath it;
//! - an Apply that would change a field another manager owns is a 409 conflict unless forced
//!   (forcing moves ownership); equal values are shared, not conflicting;
//! - any other write (create, update, patch) makes its manager own the fields it changed and
//!   takes them from the others;
//! - granular objects merge per field, `x-kubernetes-list-type: map` lists merge per key,
//!   `set` lists per value, other lists and `x-kubernetes-map-type: atomic` objects are atomic;
//! - an object nobody manages is handed to `before-first-apply` at its next apply.
//!
//! Approximations (see README): ownership is tracked per API version of the write but never
//! converted between versions, the order of merged list items keeps the live order and
//! appends new items, a prune that empties a list or map someone still owns leaves it empty
//! (the real server leaves `null`), and only labels, annotations, finalizers, ownerReferences
//! and generateName of `metadata` are tracked.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use crate::schema::Schema;
use crate::status::ApiError;

/// A set of field paths, shaped like `managedFields[].fieldsV1`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children_empty()
    }

    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut s = FieldSet::default();
        if let Some(m) = v.as_object() {
            for (k, cv) in m {
                if k == "." {
                    s.member = true;
                } else {
                    let mut c = FieldSet::from_fields_v1(cv);
                    if cv.as_object().is_some_and(|o| o.is_empty()) {
                        c.member = true;
                    }
                    s.children.insert(k.clone(), c);
                }
            }
        }
        s
    }

    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        let kids: Vec<(&String, &FieldSet)> = self.children.iter().filter(|(_, c)| !c.is_empty()).collect();
        if self.member && !kids.is_empty() {
            m.insert(".".into(), json!({}));
        }
        for (k, c) in kids {
            m.insert(k.clone(), c.to_fields_v1());
        }
        Value::Object(m)
    }

    fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.member = true,
            Some((head, rest)) => self.children.entry(head.clone()).or_default().insert(rest),
        }
    }

    fn contains(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((head, rest)) => self.children.get(head).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Whether the set owns `path`: has it as a member or, for a declared field, owns
    /// anything beneath it.
    fn owns(&self, path: &[String], declared: bool) -> bool {
        self.contains(path) || (declared && self.has_children(path))
    }

    /// Whether the set has paths beneath `path`.
    fn has_children(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| !n.children_empty())
    }

    fn node(&self, path: &[String]) -> Option<&FieldSet> {
        match path.split_first() {
            None => Some(self),
            Some((head, rest)) => self.children.get(head)?.node(rest),
        }
    }

    fn children_empty(&self) -> bool {
        self.children.values().all(FieldSet::is_empty)
    }

    fn remove(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.member = false,
            Some((head, rest)) => {
                if let Some(c) = self.children.get_mut(head) {
                    c.remove(rest);
                    if c.is_empty() {
                        self.children.remove(head);
                    }
                }
            }
        }
    }

    /// Every member path, parents before children.
    pub fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (k, c) in &self.children {
            prefix.push(k.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }

    fn union(&mut self, other: &FieldSet) {
        for p in other.paths() {
            self.insert(&p);
        }
    }

    fn subtract(&mut self, other: &FieldSet) {
        for p in other.paths() {
            self.remove(&p);
        }
    }
}

/// A path printed the way structured-merge-diff prints it in conflict messages:
/// `.spec.subnetIds`, `.spec.items[name="a"].port`, `.metadata.finalizers[="x"]`.
pub fn path_string(path: &[String]) -> String {
    let mut s = String::new();
    for step in path.iter().filter_map(|p| Step::parse(p)) {
        match step {
            Step::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            Step::Keys(keys) => {
                let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push_str(&format!("[{}]", parts.join(",")));
            }
            Step::Value(v) => s.push_str(&format!("[={v}]")),
        }
    }
    s
}

/// One step of a field path as FieldsV1 spells it: `f:name` a field, `k:{"name":"a"}` the item
/// of a map list with these keys, `v:"x"` the item of a set list with this value.
enum Step<'a> {
    Field(&'a str),
    Keys(Map<String, Value>),
    Value(Value),
}

impl<'a> Step<'a> {
    fn parse(p: &'a str) -> Option<Self> {
        if let Some(f) = p.strip_prefix("f:") {
            Some(Step::Field(f))
        } else if let Some(k) = p.strip_prefix("k:") {
            serde_json::from_str(k).ok().map(Step::Keys)
        } else if let Some(v) = p.strip_prefix("v:") {
            serde_json::from_str(v).ok().map(Step::Value)
        } else {
            None
        }
    }

    /// Whether a list item is the one this step names.
    fn selects(&self, item: &Value) -> bool {
        match self {
            Step::Field(_) => false,
            Step::Keys(keys) => keys.iter().all(|(k, v)| item.get(k).unwrap_or(&Value::Null) == v),
            Step::Value(v) => item == v,
        }
    }

    fn child<'v>(&self, cur: &'v Value) -> Option<&'v Value> {
        match self {
            Step::Field(f) => cur.get(*f),
            _ => cur.as_array()?.iter().find(|item| self.selects(item)),
        }
    }

    fn child_mut<'v>(&self, cur: &'v mut Value) -> Option<&'v mut Value> {
        match self {
            Step::Field(f) => cur.get_mut(*f),
            _ => cur.as_array_mut()?.iter_mut().find(|item| self.selects(item)),
        }
    }

    /// Removes what this step names from `cur`.
    fn remove_from(&self, cur: &mut Value) {
        match self {
            Step::Field(f) => {
                if let Some(m) = cur.as_object_mut() {
                    m.remove(*f);
                }
            }
            _ => {
                if let Some(items) = cur.as_array_mut() {
                    items.retain(|item| !self.selects(item));
                }
            }
        }
    }
}

/// The schema of ObjectMeta's tracked fields (the only ones [`tracked`] keeps).
static METADATA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::compile(&json!({
        "type": "object",
        "properties": {
            "generateName": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "ownerReferences": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["uid"],
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "x-kubernetes-map-type": "atomic"}}
        }
    }))
    .expect("metadata schema compiles")
});

/// Which part of an object a write may touch: the main resource or the status subresource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Main { status_is_separate: bool },
    Status,
}

/// The object reduced to the fields ownership is tracked for.
pub fn tracked(obj: &Value, part: Part) -> Value {
    let Some(map) = obj.as_object() else {
        return json!({});
    };
    let mut out = Map::new();
    for (k, v) in map {
        match (k.as_str(), part) {
            ("apiVersion" | "kind", _) => {}
            ("metadata", Part::Main { .. }) => {
                if let Some(meta) = v.as_object() {
                    let kept: Map<String, Value> = meta
                        .iter()
                        .filter(|(mk, _)| METADATA.properties.contains_key(*mk))
                        .map(|(mk, mv)| (mk.clone(), mv.clone()))
                        .collect();
                    if !kept.is_empty() {
                        out.insert(k.clone(), Value::Object(kept));
                    }
                }
            }
            (
                "status",
                Part::Main {
                    status_is_separate: true,
                },
            ) => {}
            ("status", Part::Status) => {
                out.insert(k.clone(), v.clone());
            }
            (_, Part::Status) => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// The schema of field `key` of an object with `schema`, and whether the schema declares it.
fn child_schema<'a>(schema: Option<&'a Schema>, key: &str, root: bool) -> (Option<&'a Schema>, bool) {
    if root && key == "metadata" {
        return (Some(&METADATA), true);
    }
    match schema {
        Some(s) => match s.properties.get(key) {
            Some(c) => (Some(c), true),
            None => (s.additional_properties.as_deref(), false),
        },
        None => (None, false),
    }
}

fn list_key(schema: Option<&Schema>, item: &Value) -> Option<String> {
    let s = schema?;
    match s.list_type.as_deref() {
        Some("map") => {
            let mut keys = Map::new();
            for k in &s.list_map_keys {
                keys.insert(k.clone(), item.get(k).cloned().unwrap_or(Value::Null));
            }
            Some(format!("k:{}", Value::Object(keys)))
        }
        Some("set") => Some(format!("v:{item}")),
        _ => None,
    }
}

fn is_atomic_object(schema: Option<&Schema>) -> bool {
    schema.is_some_and(|s| s.map_type.as_deref() == Some("atomic"))
}

/// The set of fields a value sets (structured-merge-diff's `ToFieldSet`).
pub fn field_set(schema: Option<&Schema>, value: &Value) -> FieldSet {
    let mut set = FieldSet::default();
    walk(schema, value, &mut Vec::new(), true, &mut set);
    set
}

fn walk(schema: Option<&Schema>, value: &Value, path: &mut Vec<String>, root: bool, set: &mut FieldSet) {
    match value {
        Value::Object(map) if !is_atomic_object(schema) => {
            for (k, v) in map {
                let (cs, declared) = child_schema(schema, k, root);
                path.push(format!("f:{k}"));
                walk(cs, v, path, false, set);
                let empty = v.is_null() || v.as_object().is_some_and(|o| o.is_empty());
                if empty || !declared {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.items.as_deref());
            let granular = schema.is_some_and(|s| matches!(s.list_type.as_deref(), Some("map" | "set")));
            if !granular {
                set.insert(path);
                return;
            }
            for item in items {
                let Some(k) = list_key(schema, item) else { continue };
                path.push(k);
                if item.is_object() {
                    walk(item_schema, item, path, false, set);
                }
                set.insert(path);
                path.pop();
            }
        }
        _ => set.insert(path),
    }
}

/// The value at a field path, if the object has it.
fn value_at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |cur, p| Step::parse(p)?.child(cur))
}

/// Removes the value at a field path, if the object has it.
fn remove_at(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = value;
    for p in parents {
        let Some(next) = Step::parse(p).and_then(|step| step.child_mut(cur)) else {
            return;
        };
        cur = next;
    }
    if let Some(step) = Step::parse(last) {
        step.remove_from(cur);
    }
}

/// Whether the last step of `path` is a field the schema declares (a "named field" in
/// structured-merge-diff's words), as opposed to a map key or a list item.
fn is_declared(schema: Option<&Schema>, path: &[String]) -> bool {
    let mut cur = schema;
    let mut declared = false;
    for (i, p) in path.iter().enumerate() {
        (cur, declared) = match p.strip_prefix("f:") {
            Some(f) => child_schema(cur, f, i == 0),
            None => (cur.and_then(|s| s.items.as_deref()), false),
        };
    }
    declared
}

/// Removes what the applying manager applied last time (`last`) and no longer applies, unless
/// some manager still owns it (`owners`: every other manager's set and the new configuration's).
/// This is structured-merge-diff's prune: a declared field counts as owned when anything
/// beneath it is owned, and one that is not owned goes with everything beneath it, defaults
/// and fields nobody owns included. So a status applied without `clients` loses `clients`
/// entirely, rather than keeping a defaulted remnant that then fails its `required` list.
/// `metadata` always stays: every applied configuration names the object, and the real
/// server counts `metadata.name` as applied.
fn prune(schema: Option<&Schema>, merged: &mut Value, last: &FieldSet, owners: &[&FieldSet]) {
    let mut candidates = last.clone();
    for p in last.paths() {
        for end in 1..p.len() {
            if is_declared(schema, &p[..end]) {
                candidates.insert(&p[..end]);
            }
        }
    }
    // Parents come before their children: once a parent goes, its children are gone with it.
    for p in candidates.paths() {
        if p == ["f:metadata"] {
            continue;
        }
        let declared = is_declared(schema, &p);
        if !owners.iter().any(|s| s.owns(&p, declared)) {
            remove_at(merged, &p);
        }
    }
}

/// Merges an applied configuration into the live object following the schema.
pub fn merge_config(schema: Option<&Schema>, live: &mut Value, config: &Value) {
    merge_at(schema, live, config, true);
}

fn merge_at(schema: Option<&Schema>, live: &mut Value, config: &Value, root: bool) {
    match (live, config) {
        (Value::Object(lm), Value::Object(cm)) if !is_atomic_object(schema) => {
            for (k, cv) in cm {
                let (cs, _) = child_schema(schema, k, root);
                match lm.get_mut(k) {
                    Some(lv) => merge_at(cs, lv, cv, false),
                    None => {
                        lm.insert(k.clone(), cv.clone());
                    }
                }
            }
        }
        (Value::Array(la), Value::Array(ca))
            if schema.is_some_and(|s| matches!(s.list_type.as_deref(), Some("map" | "set"))) =>
        {
            let item_schema = schema.and_then(|s| s.items.as_deref());
            for citem in ca {
                let key = list_key(schema, citem);
                match la.iter_mut().find(|l| list_key(schema, l) == key) {
                    Some(litem) => merge_at(item_schema, litem, citem, false),
                    None => la.push(citem.clone()),
                }
            }
        }
        (live, config) => *live = config.clone(),
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: String,
    pub set: FieldSet,
}

impl Entry {
    fn same_owner(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    /// How conflict messages name this manager (`printManager`).
    fn printed(&self) -> String {
        let mut s = crate::status::go_quote(&self.manager);
        if !self.subresource.is_empty() {
            s = format!(
                "{s} with subresource {}",
                crate::status::go_quote(&self.subresource)
            );
        }
        // The real server names Update managers by API version, not time (the key it prints
        // from carries no time).
        if self.operation == "Update" {
            s = format!("{s} using {}", self.api_version);
        }
        s
    }
}

pub fn read_entries(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| Entry {
                    manager: e["manager"].as_str().unwrap_or_default().to_string(),
                    operation: e["operation"].as_str().unwrap_or_default().to_string(),
                    api_version: e["apiVersion"].as_str().unwrap_or_default().to_string(),
                    time: e["time"].as_str().unwrap_or_default().to_string(),
                    subresource: e["subresource"].as_str().unwrap_or_default().to_string(),
                    set: FieldSet::from_fields_v1(&e["fieldsV1"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes entries back, Apply before Update, then oldest first, as the server orders them.
pub fn write_entries(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        (a.operation != "Apply", &a.time, &a.manager).cmp(&(b.operation != "Apply", &b.time, &b.manager))
    });
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": e.set.to_fields_v1(),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// Paths that `new` adds or changes relative to `old`, and paths it removes.
fn compare(schema: Option<&Schema>, old: &Value, new: &Value) -> (FieldSet, FieldSet) {
    let old_set = field_set(schema, old);
    let new_set = field_set(schema, new);
    let mut changed = FieldSet::default();
    for p in new_set.paths() {
        // A list item or map entry there before and after is not itself changed: the fields
        // beneath it say what changed (structured-merge-diff compares leaves).
        let leaf = !old_set.has_children(&p) && !new_set.has_children(&p);
        if !old_set.contains(&p) || (leaf && value_at(old, &p) != value_at(new, &p)) {
            changed.insert(&p);
        }
    }
    // Like structured-merge-diff's comparison, a node that did not exist before is itself
    // added (`.` in FieldsV1), not only its leaves; `metadata` always exists.
    for p in changed.paths() {
        for i in 1..p.len() {
            let prefix = &p[..i];
            if prefix != ["f:metadata"] && value_at(old, prefix).is_none() {
                changed.insert(prefix);
            }
        }
    }
    let mut removed = FieldSet::default();
    for p in old_set.paths() {
        if !new_set.contains(&p) {
            removed.insert(&p);
        }
    }
    (changed, removed)
}

/// Who is writing: the field manager, the API version of the request, the subresource.
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub subresource: &'a str,
    pub now: &'a str,
}

/// Records a non-apply write (create, update, patch): the writer owns what it changed.
pub fn record_update(
    schema: Option<&Schema>,
    part: Part,
    old: Option<&Value>,
    new: &mut Value,
    w: &Writer<'_>,
) {
    let mut entries = read_entries(new);
    entries.retain(|e| !e.set.is_empty());
    if old.is_some() && entries.is_empty() {
        // An object nobody manages (its managedFields were reset, or an apply emptied them)
        // stays untracked until the next apply, as on the real server (skipNonApplied).
        write_entries(new, entries);
        return;
    }
    let empty = json!({});
    let old_t = old.map(|o| tracked(o, part)).unwrap_or(empty);
    let new_t = tracked(new, part);
    let (changed, removed) = compare(schema, &old_t, &new_t);
    for e in entries.iter_mut() {
        if !e.same_owner(w.manager, "Update", w.subresource) {
            e.set.subtract(&changed);
            e.set.subtract(&removed);
        }
    }
    if !changed.is_empty() || !removed.is_empty() {
        match entries
            .iter_mut()
            .find(|e| e.same_owner(w.manager, "Update", w.subresource))
        {
            Some(e) => {
                e.set.union(&changed);
                e.set.subtract(&removed);
                e.time = w.now.to_string();
                e.api_version = w.api_version.to_string();
            }
            None => entries.push(Entry {
                manager: w.manager.to_string(),
                operation: "Update".into(),
                api_version: w.api_version.to_string(),
                time: w.now.to_string(),
                subresource: w.subresource.to_string(),
                set: changed,
            }),
        }
    }
    write_entries(new, entries);
}

/// Server-side apply of `config` onto `live` (an empty object when creating). Returns the
/// merged object with updated managedFields, or a 409 listing the conflicts.
pub fn apply(
    schema: Option<&Schema>,
    part: Part,
    live: &Value,
    config: &Value,
    force: bool,
    w: &Writer<'_>,
) -> Result<Value, ApiError> {
    let mut entries = read_entries(live);
    if entries.is_empty() {
        // An object nobody manages yet: the real server first hands everything it holds to an
        // Update manager "before-first-apply", so that changing it is a conflict and no
        // prune removes it.
        let (held, _) = compare(schema, &json!({}), &tracked(live, part));
        if !held.is_empty() {
            entries.push(Entry {
                manager: "before-first-apply".into(),
                operation: "Update".into(),
                api_version: w.api_version.to_string(),
                time: w.now.to_string(),
                subresource: w.subresource.to_string(),
                set: held,
            });
        }
    }
    let config_t = tracked(config, part);
    let new_set = field_set(schema, &config_t);
    let last_set = entries
        .iter()
        .find(|e| e.same_owner(w.manager, "Apply", w.subresource))
        .map(|e| e.set.clone())
        .unwrap_or_default();

    let mut merged = live.clone();
    merge_config(schema, &mut merged, &config_t);
    let owners: Vec<&FieldSet> = entries
        .iter()
        .filter(|e| !e.same_owner(w.manager, "Apply", w.subresource))
        .map(|e| &e.set)
        .chain([&new_set])
        .collect();
    prune(schema, &mut merged, &last_set, &owners);

    let (changed, removed) = compare(schema, &tracked(live, part), &tracked(&merged, part));
    let mut conflicts: Vec<(usize, Vec<String>)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if e.same_owner(w.manager, "Apply", w.subresource) {
            continue;
        }
        for p in changed.paths() {
            if e.set.contains(&p) {
                conflicts.push((i, p));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(&entries, &conflicts));
    }
    for (i, p) in &conflicts {
        entries[*i].set.remove(p);
    }
    for e in entries.iter_mut() {
        e.set.subtract(&removed);
    }
    match entries
        .iter_mut()
        .find(|e| e.same_owner(w.manager, "Apply", w.subresource))
    {
        Some(e) => {
            e.set = new_set;
            e.time = w.now.to_string();
            e.api_version = w.api_version.to_string();
        }
        None => entries.push(Entry {
            manager: w.manager.to_string(),
            operation: "Apply".into(),
            api_version: w.api_version.to_string(),
            time: w.now.to_string(),
            subresource: w.subresource.to_string(),
            set: new_set,
        }),
    }
    write_entries(&mut merged, entries);
    Ok(merged)
}

fn conflict_error(entries: &[Entry], conflicts: &[(usize, Vec<String>)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(i, p)| {
            json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", entries[*i].printed()),
                   "field": path_string(p)})
        })
        .collect();
    let message = if conflicts.len() == 1 {
        let (i, p) = &conflicts[0];
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            entries[*i].printed(),
            path_string(p)
        )
    } else {
        let mut by_manager: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, p) in conflicts {
            by_manager
                .entry(entries[*i].printed())
                .or_default()
                .push(path_string(p));
        }
        let mut lines = Vec::new();
        for (m, paths) in by_manager {
            lines.push(format!("conflicts with {m}:"));
            lines.extend(paths.into_iter().map(|p| format!("- {p}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    ApiError::new(409, "Conflict", message).with_details(json!({"causes": causes}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::compile(&json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "a": {"type": "string"}, "b": {"type": "string"},
                "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
                "tags": {"type": "array", "items": {"type": "string"}},
                "nested": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}}
            }},
            "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
        }}))
        .expect("compiles")
    }

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            api_version: "example.com/v1",
            subresource: "",
            now: "2024-01-01T00:00:00Z",
        }
    }

    const MAIN: Part = Part::Main {
        status_is_separate: true,
    };

    #[test]
    fn field_sets_mark_list_items_and_map_entries_like_fields_v1() {
        let s = schema();
        let obj = json!({"metadata": {"labels": {"app": "x"}, "finalizers": ["a/b"]},
                         "spec": {"a": "1", "items": [{"name": "n", "port": 1}], "tags": ["t"]}});
        let fs = field_set(Some(&s), &tracked(&obj, MAIN));
        assert_eq!(
            fs.to_fields_v1(),
            json!({"f:metadata": {"f:finalizers": {"v:\"a/b\"": {}}, "f:labels": {"f:app": {}}},
                   "f:spec": {"f:a": {}, "f:items": {"k:{\"name\":\"n\"}": {".": {}, "f:name": {}, "f:port": {}}}, "f:tags": {}}})
        );
        assert_eq!(FieldSet::from_fields_v1(&fs.to_fields_v1()), fs);
    }

    #[test]
    fn applying_a_field_another_manager_set_differently_conflicts_unless_forced() {
        let s = schema();
        let mut live = json!({"metadata": {"name": "x"}, "spec": {"a": "1"}});
        record_update(Some(&s), MAIN, None, &mut live, &writer("kubectl-edit"));
        let config = json!({"apiVersion": "example.com/v1", "kind": "W", "metadata": {"name": "x"}, "spec": {"a": "2"}});
        let err = apply(Some(&s), MAIN, &live, &config, false, &writer("ctl")).expect_err("conflict");
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using example.com/v1: .spec.a"
        );
        let same = json!({"metadata": {"name": "x"}, "spec": {"a": "1"}});
        apply(Some(&s), MAIN, &live, &same, false, &writer("ctl")).expect("equal values are shared");
        let forced = apply(Some(&s), MAIN, &live, &config, true, &writer("ctl")).expect("forced");
        assert_eq!(forced["spec"]["a"], "2");
        let entries = read_entries(&forced);
        let editor = entries
            .iter()
            .find(|e| e.manager == "kubectl-edit")
            .expect("editor keeps .spec");
        assert_eq!(
            editor.set.to_fields_v1(),
            json!({"f:spec": {}}),
            "the editor lost .spec.a"
        );
        assert_eq!(entries[0].operation, "Apply");
    }

    #[test]
    fn a_list_item_another_manager_created_is_not_itself_a_conflict() {
        let s = schema();
        let mut live = json!({"metadata": {"name": "x"}, "spec": {"items": [{"name": "i1"}]}});
        record_update(Some(&s), MAIN, None, &mut live, &writer("creator"));
        let config = json!({"spec": {"items": [{"name": "i1", "port": 2}]}});
        let out = apply(Some(&s), MAIN, &live, &config, false, &writer("ctl"))
            .expect("only the unowned port changes");
        assert_eq!(out["spec"]["items"], json!([{"name": "i1", "port": 2}]));
        let creator = read_entries(&out)
            .into_iter()
            .find(|e| e.manager == "creator")
            .expect("creator");
        assert_eq!(
            creator.set.to_fields_v1(),
            json!({"f:spec": {".": {}, "f:items": {".": {}, "k:{\"name\":\"i1\"}": {".": {}, "f:name": {}}}}}),
            "the creator keeps the item"
        );
    }

    #[test]
    fn an_update_of_a_field_in_a_list_item_takes_the_field_not_the_item() {
        let s = schema();
        let live = json!({"metadata": {"name": "x"}});
        let config = json!({"spec": {"items": [{"name": "i1", "port": 1}]}});
        let old = apply(Some(&s), MAIN, &live, &config, false, &writer("ctl")).expect("applies");
        let mut new = old.clone();
        new["spec"]["items"][0]["port"] = json!(2);
        record_update(Some(&s), MAIN, Some(&old), &mut new, &writer("kubectl-edit"));
        let sets: Vec<(String, Value)> = read_entries(&new)
            .into_iter()
            .map(|e| (e.manager, e.set.to_fields_v1()))
            .collect();
        assert_eq!(
            sets,
            [
                (
                    "ctl".to_string(),
                    json!({"f:spec": {"f:items": {"k:{\"name\":\"i1\"}": {".": {}, "f:name": {}}}}})
                ),
                (
                    "kubectl-edit".to_string(),
                    json!({"f:spec": {"f:items": {"k:{\"name\":\"i1\"}": {"f:port": {}}}}})
                ),
            ]
        );
    }

    #[test]
    fn fields_a_manager_stops_applying_are_removed_and_list_maps_merge_by_key() {
        let s = schema();
        let live = json!({"metadata": {"name": "x"}, "spec": {"items": [{"name": "keep", "port": 1}]}});
        let first = json!({"spec": {"a": "1", "b": "2", "items": [{"name": "mine", "port": 2}]}});
        let out = apply(Some(&s), MAIN, &live, &first, false, &writer("ctl")).expect("applies");
        assert_eq!(
            out["spec"]["items"],
            json!([{"name": "keep", "port": 1}, {"name": "mine", "port": 2}])
        );
        let second = json!({"spec": {"a": "1"}});
        let out = apply(Some(&s), MAIN, &out, &second, false, &writer("ctl")).expect("applies");
        assert_eq!(
            out["spec"],
            json!({"a": "1", "items": [{"name": "keep", "port": 1}]})
        );
    }

    #[test]
    fn a_map_whose_fields_a_manager_stops_applying_goes_away_with_them() {
        let s = schema();
        let live = json!({"metadata": {"name": "x"}});
        let first = json!({"spec": {"a": "1", "nested": {"x": 1, "y": 2}}});
        let out = apply(Some(&s), MAIN, &live, &first, false, &writer("ctl")).expect("applies");
        let second = json!({"spec": {"a": "1"}});
        let out = apply(Some(&s), MAIN, &out, &second, false, &writer("ctl")).expect("applies");
        assert_eq!(
            out["spec"],
            json!({"a": "1"}),
            "no empty `nested: {{}}` is left behind"
        );
    }

    #[test]
    fn an_apply_to_an_object_nobody_manages_first_hands_its_fields_to_before_first_apply() {
        let s = schema();
        let live =
            json!({"metadata": {"name": "x"}, "spec": {"a": "1", "items": [{"name": "keep", "port": 1}]}});
        let out = apply(
            Some(&s),
            MAIN,
            &live,
            &json!({"spec": {"b": "2"}}),
            false,
            &writer("ctl"),
        )
        .expect("applies");
        let entries = read_entries(&out);
        let before = entries
            .iter()
            .find(|e| e.manager == "before-first-apply")
            .expect("the fields held before are owned");
        assert_eq!(before.operation, "Update");
        assert_eq!(
            before.set.to_fields_v1(),
            json!({"f:spec": {".": {}, "f:a": {}, "f:items": {".": {}, "k:{\"name\":\"keep\"}": {".": {}, "f:name": {}, "f:port": {}}}}})
        );
        let err = apply(
            Some(&s),
            MAIN,
            &live,
            &json!({"spec": {"a": "2"}}),
            false,
            &writer("ctl"),
        )
        .expect_err("conflict");
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"before-first-apply\" using example.com/v1: .spec.a"
        );
    }

    #[test]
    fn a_declared_map_nobody_owns_any_more_goes_with_the_fields_nobody_ever_owned() {
        let s = schema();
        let live = json!({"metadata": {"name": "x"}});
        let first = json!({"spec": {"a": "1", "nested": {"x": 1}}});
        let mut out = apply(Some(&s), MAIN, &live, &first, false, &writer("ctl")).expect("applies");
        // What defaulting adds after an apply belongs to no manager.
        out["spec"]["nested"]["y"] = json!(2);
        let second = json!({"spec": {"a": "1"}});
        let out = apply(Some(&s), MAIN, &out, &second, false, &writer("ctl")).expect("applies");
        assert_eq!(
            out["spec"],
            json!({"a": "1"}),
            "no `nested: {{y: 2}}` remnant is left behind"
        );
    }

    #[test]
    fn updates_to_an_object_whose_managed_fields_are_gone_are_not_tracked() {
        let s = schema();
        let old = json!({"metadata": {"name": "x", "managedFields": [{}]}, "spec": {"a": "1"}});
        let mut new = json!({"metadata": {"name": "x", "managedFields": [{}]}, "spec": {"a": "2"}});
        record_update(Some(&s), MAIN, Some(&old), &mut new, &writer("kubectl-edit"));
        assert_eq!(new["metadata"], json!({"name": "x"}));
        let mut created = json!({"metadata": {"name": "y"}, "spec": {"a": "1"}});
        record_update(Some(&s), MAIN, None, &mut created, &writer("kubectl-create"));
        assert_eq!(
            read_entries(&created)[0].manager,
            "kubectl-create",
            "creation is tracked"
        );
    }

    #[test]
    fn a_declared_map_stays_while_another_manager_owns_a_field_in_it() {
        let s = schema();
        let live = json!({"metadata": {"name": "x"}});
        let first = json!({"spec": {"nested": {"x": 1}}});
        let mut out = apply(Some(&s), MAIN, &live, &first, false, &writer("ctl")).expect("applies");
        let old = out.clone();
        out["spec"]["nested"]["y"] = json!(2);
        record_update(Some(&s), MAIN, Some(&old), &mut out, &writer("kubectl-edit"));
        let out = apply(
            Some(&s),
            MAIN,
            &out,
            &json!({"spec": {"a": "1"}}),
            false,
            &writer("ctl"),
        )
        .expect("applies");
        assert_eq!(out["spec"], json!({"a": "1", "nested": {"y": 2}}));
    }

    #[test]
    fn a_map_applied_empty_and_then_with_fields_keeps_the_fields() {
        let s = schema();
        let live = json!({"metadata": {"name": "x"}});
        let empty = json!({"spec": {"nested": {}}});
        let out = apply(Some(&s), MAIN, &live, &empty, false, &writer("ctl")).expect("applies");
        let filled = json!({"spec": {"nested": {"x": 1}}});
        let out = apply(Some(&s), MAIN, &out, &filled, false, &writer("ctl")).expect("applies");
        assert_eq!(out["spec"], json!({"nested": {"x": 1}}));
        let out = apply(Some(&s), MAIN, &out, &empty, false, &writer("ctl")).expect("applies");
        assert_eq!(out["spec"], json!({"nested": {}}));
    }

    #[test]
    fn status_is_tracked_separately_from_the_main_resource() {
        let s = schema();
        let live = json!({"metadata": {"name": "x"}, "spec": {"a": "1"}});
        let w = Writer {
            subresource: "status",
            ..writer("ctl")
        };
        let out = apply(
            Some(&s),
            Part::Status,
            &live,
            &json!({"status": {"phase": "Ready"}}),
            false,
            &w,
        )
        .expect("applies");
        assert_eq!(out["status"]["phase"], "Ready");
        let e = &read_entries(&out)[0];
        assert_eq!(e.subresource, "status");
        assert_eq!(e.set.to_fields_v1(), json!({"f:status": {"f:phase": {}}}));
    }
}
