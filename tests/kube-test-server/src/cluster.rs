//! The cluster's state and the write semantics of the real API server: create, update, patch
//! (merge, JSON, server-side apply), delete with finalizers, and the cascades that namespace
//! and CRD deletion trigger. Everything here is synchronous and runs under one lock, so one
//! write is one resourceVersion and watchers see writes in order.
//!
//! Requests are handled in the *served* shape of the resource they came through (the request's
//! API version, events.k8s.io or core Events); objects are converted to the stored shape only
//! when they are written (see [`crate::builtin`]).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::apply::{self, Part, Writer};
use crate::builtin;
use crate::metadata::{self, NameRule};
use crate::patch::{self, JsonPatchError};
use crate::resources::{Flavor, Registry, ResourceType, from_crd};
use crate::schema;
use crate::status::{ApiError, FieldError, FieldErrorKind, GroupResource};
use crate::store::{Key, Store};

/// `fieldValidation`: what to do with fields the schema does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// Per-request options of a write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub manager: String,
    pub dry_run: bool,
    pub validation: FieldValidation,
    pub force: bool,
}

/// The answer to a successful request.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub code: u16,
    pub body: Value,
    pub warnings: Vec<String>,
}

/// `DeleteOptions.preconditions` and `dryRun`.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
}

/// Patch content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Json,
    StrategicMerge,
    Apply,
}

const CRD_CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

pub struct Cluster {
    pub registry: Registry,
    pub store: Store,
    rng: u64,
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// RFC 3339 with second precision, as `metav1.Time` serializes.
pub fn format_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn meta(obj: &Value, field: &str) -> Option<Value> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .cloned()
        .filter(|v| !v.is_null())
}

fn meta_str(obj: &Value, field: &str) -> String {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn set_meta(obj: &mut Value, field: &str, v: Option<Value>) {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    let m = obj["metadata"].as_object_mut().expect("made an object");
    match v {
        Some(v) => {
            m.insert(field.into(), v);
        }
        None => {
            m.remove(field);
        }
    }
}

fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn is_deleting(obj: &Value) -> bool {
    meta(obj, "deletionTimestamp").is_some()
}

/// Whether the resource's objects carry `metadata.generation`.
fn has_generation(rt: &ResourceType) -> bool {
    matches!(
        rt.flavor,
        Flavor::Custom { .. } | Flavor::CustomResourceDefinition
    )
}

/// Whether a PUT without `metadata.resourceVersion` overwrites unconditionally
/// (`AllowUnconditionalUpdate`): only for Namespaces and Events. A PUT of a Lease, a CRD or a
/// custom resource (main resource or status) must name the version it replaces.
fn allows_unconditional_update(rt: &ResourceType) -> bool {
    matches!(
        rt.flavor,
        Flavor::Namespace | Flavor::CoreEvent | Flavor::EventsV1
    )
}

/// The part of an object a request through `rt` (or its `/status`) writes.
fn part(rt: &ResourceType, status: bool) -> Part {
    if status {
        Part::Status
    } else {
        Part::Main {
            status_is_separate: rt.status_subresource,
        }
    }
}

fn name_rule(rt: &ResourceType) -> NameRule {
    match rt.flavor {
        Flavor::Namespace => NameRule::Label,
        Flavor::CoreEvent | Flavor::EventsV1 => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    }
}

fn without_metadata(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
    }
    o
}

/// The object with what a no-op write may change removed: its resourceVersion and the times in
/// managedFields.
fn comparable(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        if let Some(Value::Array(entries)) = m.get_mut("managedFields") {
            for e in entries {
                if let Some(e) = e.as_object_mut() {
                    e.remove("time");
                }
            }
        }
    }
    o
}

impl Cluster {
    pub fn new(history_limit: usize) -> Self {
        let seed = {
            use std::hash::{BuildHasher, RandomState};
            RandomState::new().hash_one(std::time::SystemTime::now())
        };
        let mut c = Self {
            registry: Registry::with_builtins(),
            store: Store::new(history_limit),
            rng: seed | 1,
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let rt = c.registry.find("", "v1", "namespaces").expect("built in");
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            c.create(&rt, "", obj, &system_writer(), false)
                .expect("built-in namespaces are valid");
        }
        c
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: plenty for UIDs and generated names in a test server.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn new_uid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.random().to_le_bytes());
        bytes[8..].copy_from_slice(&self.random().to_le_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    }

    fn generated_suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..5)
            .map(|_| ALPHABET[(self.random() % ALPHABET.len() as u64) as usize] as char)
            .collect()
    }

    pub fn key(rt: &ResourceType, ns: &str, name: &str) -> Key {
        (
            rt.storage.clone(),
            if rt.namespaced {
                ns.to_string()
            } else {
                String::new()
            },
            name.to_string(),
        )
    }

    fn storage_api_version(&self, rt: &ResourceType) -> String {
        self.registry
            .storage_type(&rt.storage)
            .map(|t| t.api_version())
            .unwrap_or_else(|| rt.api_version())
    }

    /// The stored object as `rt` serves it.
    pub fn served(&self, rt: &ResourceType, stored: &Value) -> Value {
        builtin::from_storage(rt, stored)
    }

    fn commit(&mut self, rt: &ResourceType, key: Key, obj: Value) -> Value {
        let stored = builtin::to_storage(rt, &self.storage_api_version(rt), obj);
        let saved = self.store.put(key, stored);
        self.served(rt, &saved)
    }

    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.store
            .get(&Self::key(rt, ns, name))
            .map(|o| self.served(rt, &o))
            .ok_or_else(|| ApiError::not_found(rt.gr(), name))
    }

    /// apiVersion and kind of a request body must name the resource it was sent to.
    fn check_type_meta(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(format!(
                "Object '{}' is missing in '{obj}'",
                "Kind"
            )));
        }
        let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        if !av.is_empty() && av != rt.api_version() {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                rt.api_version()
            )));
        }
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
        if !kind.is_empty() && kind != rt.kind {
            let name = meta_str(obj, "name");
            let err = FieldError::invalid("kind", Value::String(kind.into()), format!("must be {}", rt.kind));
            return Err(ApiError::invalid(&rt.group, kind, &name, &[err]));
        }
        Ok(())
    }

    /// Prunes unknown fields (reporting them as `fieldValidation` asks) and applies defaults.
    fn admit(
        rt: &ResourceType,
        obj: &mut Value,
        validation: FieldValidation,
    ) -> Result<Vec<String>, ApiError> {
        let mut unknown = metadata::prune(obj);
        if let Some(s) = &rt.schema {
            unknown.extend(schema::prune(s, obj));
            schema::apply_defaults(s, obj);
        }
        builtin::default_on_decode(rt, obj);
        obj["apiVersion"] = Value::String(rt.api_version());
        obj["kind"] = Value::String(rt.kind.clone());
        unknown.sort();
        let shown: Vec<String> = unknown.iter().map(|u| format!("unknown field \"{u}\"")).collect();
        match validation {
            FieldValidation::Strict if !shown.is_empty() => Err(ApiError::bad_request(format!(
                "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {}",
                shown.join(", "),
                kind = rt.kind,
                v = rt.version
            ))),
            FieldValidation::Warn => Ok(shown),
            _ => Ok(Vec::new()),
        }
    }

    /// Schema, ObjectMeta and type-specific validation of an object about to be stored.
    fn validate(rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
        let name = meta_str(obj, "name");
        let mut errs = metadata::validate(obj, name_rule(rt), rt.namespaced);
        if let Some(old) = old {
            errs.extend(metadata::new_finalizers_while_deleting(old, obj));
        }
        if let Some(s) = &rt.schema {
            let schema_errs = schema::validate(s, obj);
            if !rt.is_custom()
                && let Some(type_err) = schema_errs.iter().find(|e| e.kind == FieldErrorKind::TypeInvalid)
            {
                // Built-in types are decoded into Go structs: a wrong type is a 400 decode error.
                return Err(ApiError::bad_request(format!(
                    "{kind} in version \"{v}\" cannot be handled as a {kind}: {}",
                    type_err.detail,
                    kind = rt.kind,
                    v = rt.version
                )));
            }
            errs.extend(schema_errs);
        }
        errs.extend(builtin::validate(rt, obj));
        // Event validation lives in the core API group whichever API the event came through.
        let group = if matches!(rt.flavor, Flavor::CoreEvent | Flavor::EventsV1) {
            ""
        } else {
            rt.group.as_str()
        };
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(group, &rt.kind, &name, &errs))
        }
    }

    /// For a CRD about to be stored: the resource types it will serve (the real 422 when it
    /// cannot serve them), and its status once accepted. Nothing for other objects.
    fn crd_types(
        rt: &ResourceType,
        obj: &mut Value,
        name: &str,
        stamp: &str,
    ) -> Result<Option<Vec<ResourceType>>, ApiError> {
        if rt.flavor != Flavor::CustomResourceDefinition {
            return Ok(None);
        }
        let types = from_crd(obj).map_err(|errs| ApiError::invalid(&rt.group, &rt.kind, name, &errs))?;
        obj["status"] = builtin::crd_status(obj, stamp);
        Ok(Some(types))
    }

    /// NamespaceLifecycle admission: the namespace must exist and not be terminating.
    fn check_namespace(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<(), ApiError> {
        if !rt.namespaced {
            return Ok(());
        }
        let ns_key = ("namespaces.".to_string(), String::new(), ns.to_string());
        match self.store.get(&ns_key) {
            None => Err(ApiError::not_found(
                GroupResource {
                    group: "",
                    resource: "namespaces",
                },
                ns,
            )),
            Some(n) if is_deleting(&n) => {
                let mut e = ApiError::forbidden(
                    rt.gr(),
                    name,
                    &format!("unable to create new content in namespace {ns} because it is being terminated"),
                );
                if let Some(d) = e.details.as_mut() {
                    d["causes"] = json!([{"reason": "NamespaceTerminating",
                        "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]);
                }
                Err(e)
            }
            Some(_) => Ok(()),
        }
    }

    fn writer<'a>(opts: &'a WriteOptions, api_version: &'a str, sub: &'a str, now: &'a str) -> Writer<'a> {
        Writer {
            manager: &opts.manager,
            api_version,
            subresource: sub,
            now,
        }
    }

    /// POST, and server-side apply of an object that does not exist yet.
    pub fn create(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        mut obj: Value,
        opts: &WriteOptions,
        applied: bool,
    ) -> Result<Outcome, ApiError> {
        Self::check_type_meta(rt, &obj)?;
        if rt.namespaced {
            let body_ns = meta_str(&obj, "namespace");
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            set_meta(&mut obj, "namespace", Some(Value::String(ns.to_string())));
        } else {
            set_meta(&mut obj, "namespace", None);
        }
        self.check_namespace(rt, ns, &meta_str(&obj, "name"))?;
        if !meta_str(&obj, "resourceVersion").is_empty() {
            return Err(ApiError {
                code: 500,
                reason: "",
                message: "resourceVersion should not be set on objects to be created".into(),
                details: None,
            });
        }
        let warnings = Self::admit(rt, &mut obj, opts.validation)?;
        let generate = meta_str(&obj, "generateName");
        if meta_str(&obj, "name").is_empty() && !generate.is_empty() {
            let name = format!("{generate}{}", self.generated_suffix());
            set_meta(&mut obj, "name", Some(Value::String(name)));
        }
        let stamp = format_time(now());
        for f in ["deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
            set_meta(&mut obj, f, None);
        }
        set_meta(&mut obj, "uid", Some(Value::String(self.new_uid())));
        set_meta(&mut obj, "creationTimestamp", Some(Value::String(stamp.clone())));
        set_meta(&mut obj, "generation", has_generation(rt).then(|| json!(1)));
        if rt.status_subresource
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        // managedFields describe the request after defaulting, before the type's own
        // additions (a Namespace's spec.finalizers), as on the real server.
        if !applied {
            set_meta(&mut obj, "managedFields", None);
            let av = rt.api_version();
            let w = Self::writer(opts, &av, "", &stamp);
            apply::record_update(rt.schema.as_deref(), part(rt, false), None, &mut obj, &w);
        }
        builtin::prepare_create(rt, &mut obj);
        Self::validate(rt, &obj, None)?;
        let name = meta_str(&obj, "name");
        let key = Self::key(rt, ns, &name);
        if self.store.get(&key).is_some() {
            return Err(ApiError::already_exists(rt.gr(), &name));
        }
        let new_types = Self::crd_types(rt, &mut obj, &name, &stamp)?;
        if opts.dry_run {
            return Ok(Outcome {
                code: 201,
                body: obj,
                warnings,
            });
        }
        if let Some(types) = new_types {
            self.registry.set_custom(&name, types);
        }
        let body = self.commit(rt, key, obj);
        Ok(Outcome {
            code: 201,
            body,
            warnings,
        })
    }

    /// PUT on the object or its status.
    pub fn update(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        obj: Value,
        status: bool,
        opts: &WriteOptions,
    ) -> Result<Outcome, ApiError> {
        Self::check_type_meta(rt, &obj)?;
        let key = Self::key(rt, ns, name);
        let old = self
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(rt.gr(), name))?;
        let body_name = meta_str(&obj, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if rt.namespaced {
            let body_ns = meta_str(&obj, "namespace");
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let rv = meta_str(&obj, "resourceVersion");
        if rv.is_empty() && !allows_unconditional_update(rt) {
            // The real server names the resource as the kind here, and Go prints the missing
            // version (a uint64 zero) as `0x0`.
            let missing = FieldError {
                kind: FieldErrorKind::Invalid,
                field: "metadata.resourceVersion".into(),
                value: None,
                detail: "0x0: must be specified for an update".into(),
            };
            return Err(ApiError::invalid(&rt.group, &rt.plural, name, &[missing]));
        }
        if !rv.is_empty() && rv != meta_str(&old, "resourceVersion") {
            return Err(ApiError::stale_resource_version(rt.gr(), name));
        }
        self.finish_update(rt, key, old, obj, status, opts, false)
    }

    /// PATCH on the object or its status.
    #[allow(clippy::too_many_arguments)] // one per part of the request: resource, object, body
    pub fn patch(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        kind: PatchKind,
        body: &[u8],
        status: bool,
        opts: &WriteOptions,
    ) -> Result<Outcome, ApiError> {
        let key = Self::key(rt, ns, name);
        if kind == PatchKind::StrategicMerge && rt.is_custom() {
            return Err(ApiError::unsupported_media_type(&[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ]));
        }
        if kind == PatchKind::Apply {
            return self.apply(rt, ns, name, body, status, opts);
        }
        if opts.force {
            return Err(invalid_patch_options(FieldError::forbidden(
                "force",
                "may not be specified for non-apply patch",
            )));
        }
        let old = self
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(rt.gr(), name))?;
        let base = self.served(rt, &old);
        let doc: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
        let patched = match kind {
            // Built-in types accept strategic merge patches; without their patch strategies
            // they are applied as JSON merge patches (see README).
            PatchKind::Merge | PatchKind::StrategicMerge => {
                let mut p = base.clone();
                patch::merge(&mut p, &doc);
                p
            }
            PatchKind::Json => patch::json_patch(&base, &doc).map_err(|e| match e {
                JsonPatchError::Malformed(m) => ApiError::bad_request(m),
                JsonPatchError::Failed(_) => ApiError::new(
                    422,
                    "Invalid",
                    "the server rejected our request due to an error in our request",
                )
                .with_details(json!({})),
            })?,
            PatchKind::Apply => unreachable!("handled above"),
        };
        let rv = meta_str(&patched, "resourceVersion");
        if !rv.is_empty() && rv != meta_str(&old, "resourceVersion") {
            return Err(ApiError::stale_resource_version(rt.gr(), name));
        }
        self.finish_update(rt, key, old, patched, status, opts, false)
    }

    fn apply(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        body: &[u8],
        status: bool,
        opts: &WriteOptions,
    ) -> Result<Outcome, ApiError> {
        if opts.manager.is_empty() {
            return Err(invalid_patch_options(FieldError::required(
                "fieldManager",
                "is required for apply patch",
            )));
        }
        let text = std::str::from_utf8(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let config: Value = crate::yaml::documents(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
            .into_iter()
            .next()
            .unwrap_or(Value::Null);
        if !config.is_object() {
            return Err(ApiError::bad_request(
                "error decoding YAML: the applied configuration is not an object",
            ));
        }
        check_applied_type(rt, &config)?;
        let key = Self::key(rt, ns, name);
        let part = part(rt, status);
        let stamp = format_time(now());
        let av = rt.api_version();
        let sub = if status { "status" } else { "" };
        let w = Self::writer(opts, &av, sub, &stamp);
        match self.store.get(&key) {
            None => {
                if status {
                    return Err(ApiError::not_found(rt.gr(), name));
                }
                let mut base = json!({"apiVersion": av, "kind": rt.kind, "metadata": {"name": name}});
                if rt.namespaced {
                    base["metadata"]["namespace"] = json!(ns);
                }
                let mut merged = apply::apply(rt.schema.as_deref(), part, &base, &config, opts.force, &w)?;
                // Fields of the configuration the apply does not track (uid, generateName…)
                // are ignored on creation, as on the real server.
                set_meta(&mut merged, "name", Some(json!(name)));
                self.create(rt, ns, merged, opts, true)
            }
            Some(old) => {
                let base = self.served(rt, &old);
                let merged = apply::apply(rt.schema.as_deref(), part, &base, &config, opts.force, &w)?;
                self.finish_update(rt, key, old, merged, status, opts, true)
            }
        }
    }

    /// The common tail of PUT and PATCH: system fields, the status strategy, validation,
    /// generation, managedFields, and the deletion of an object whose last finalizer is gone.
    #[allow(clippy::too_many_arguments)]
    fn finish_update(
        &mut self,
        rt: &ResourceType,
        key: Key,
        old_stored: Arc<Value>,
        mut new: Value,
        status: bool,
        opts: &WriteOptions,
        applied: bool,
    ) -> Result<Outcome, ApiError> {
        let old = self.served(rt, &old_stored);
        let warnings = Self::admit(rt, &mut new, opts.validation)?;
        for f in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ] {
            set_meta(&mut new, f, meta(&old, f));
        }
        // A body without managedFields keeps the old ones; an apply has written its own (none
        // at all when it left nobody owning anything).
        if !applied && meta(&new, "managedFields").is_none() {
            set_meta(&mut new, "managedFields", meta(&old, "managedFields"));
        }
        if status {
            let new_status = new.get("status").cloned();
            let managed = meta(&new, "managedFields");
            new = old.clone();
            match new_status {
                Some(s) => new["status"] = s,
                None => {
                    new.as_object_mut().expect("object").remove("status");
                }
            }
            set_meta(&mut new, "managedFields", managed);
        } else if rt.status_subresource {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    new.as_object_mut().expect("object").remove("status");
                }
            }
        }
        Self::validate(rt, &new, Some(&old))?;
        if has_generation(rt) && !status && without_metadata(&new) != without_metadata(&old) {
            let g = meta(&old, "generation").and_then(|g| g.as_i64()).unwrap_or(0);
            set_meta(&mut new, "generation", Some(json!(g + 1)));
        }
        let stamp = format_time(now());
        if !applied {
            let av = rt.api_version();
            let sub = if status { "status" } else { "" };
            let w = Self::writer(opts, &av, sub, &stamp);
            apply::record_update(rt.schema.as_deref(), part(rt, status), Some(&old), &mut new, &w);
        }
        let new_types = if status {
            None
        } else {
            Self::crd_types(rt, &mut new, &key.2, &stamp)?
        };
        if comparable(&new) == comparable(&old) {
            return Ok(Outcome {
                code: 200,
                body: old,
                warnings,
            });
        }
        if opts.dry_run {
            return Ok(Outcome {
                code: 200,
                body: new,
                warnings,
            });
        }
        if is_deleting(&new) && finalizers(&new).is_empty() {
            // The last finalizer is gone: the object is deleted in the same write. Watchers
            // see only DELETED carrying the last stored state; the caller gets the object as
            // its write left it, with the previous resourceVersion (as on the real server).
            self.remove(rt, &key);
            self.reap();
            return Ok(Outcome {
                code: 200,
                body: new,
                warnings,
            });
        }
        if let Some(types) = new_types {
            self.registry.set_custom(&key.2, types);
        }
        let body = self.commit(rt, key, new);
        Ok(Outcome {
            code: 200,
            body,
            warnings,
        })
    }

    fn remove(&mut self, rt: &ResourceType, key: &Key) -> Option<Value> {
        let last = self.store.delete(key)?;
        if rt.flavor == Flavor::CustomResourceDefinition {
            self.registry.remove_custom(&key.2);
        }
        Some(self.served(rt, &last))
    }

    /// DELETE of one object.
    pub fn delete(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Outcome, ApiError> {
        let key = Self::key(rt, ns, name);
        let old_stored = self
            .store
            .get(&key)
            .ok_or_else(|| ApiError::not_found(rt.gr(), name))?;
        let old = self.served(rt, &old_stored);
        // Precondition failures name the Kind, not the resource.
        let qualified = GroupResource {
            group: &rt.group,
            resource: &rt.kind,
        };
        let failed = |what: &str, asked: &str, field: &str, consequence: &str| {
            let recorded = meta_str(&old, field);
            ApiError::conflict(
                qualified,
                name,
                &format!(
                    "the {what} in the precondition ({asked}) does not match the {what} in record ({recorded}). The object might have been {consequence}"
                ),
            )
        };
        if let Some(uid) = &opts.uid
            && *uid != meta_str(&old, "uid")
        {
            return Err(failed("UID", uid, "uid", "deleted and then recreated"));
        }
        if let Some(rv) = &opts.resource_version
            && *rv != meta_str(&old, "resourceVersion")
        {
            return Err(failed("ResourceVersion", rv, "resourceVersion", "modified"));
        }
        if opts.dry_run {
            return Ok(Outcome {
                code: 200,
                body: old,
                warnings: Vec::new(),
            });
        }
        let cascades = match rt.flavor {
            Flavor::Namespace => true,
            Flavor::CustomResourceDefinition => self.registry.storage_type(&key.2).is_some(),
            _ => false,
        };
        if !finalizers(&old).is_empty() || cascades {
            if is_deleting(&old) {
                return Ok(Outcome {
                    code: 200,
                    body: old,
                    warnings: Vec::new(),
                });
            }
            let mut new = old.clone();
            set_meta(&mut new, "deletionTimestamp", Some(json!(format_time(now()))));
            set_meta(&mut new, "deletionGracePeriodSeconds", Some(json!(0)));
            if let Some(g) = meta(&new, "generation").and_then(|g| g.as_i64())
                && g > 0
            {
                set_meta(&mut new, "generation", Some(json!(g + 1)));
            }
            match rt.flavor {
                Flavor::Namespace => {
                    new["status"]["phase"] = json!("Terminating");
                }
                Flavor::CustomResourceDefinition => {
                    let mut f = finalizers(&new);
                    f.push(CRD_CLEANUP_FINALIZER.to_string());
                    set_meta(&mut new, "finalizers", Some(json!(f)));
                }
                _ => {}
            }
            let body = self.commit(rt, key.clone(), new);
            match rt.flavor {
                Flavor::Namespace => self.delete_namespace_content(name),
                Flavor::CustomResourceDefinition => self.delete_custom_resources(name),
                _ => {}
            }
            self.reap();
            let body = self.store.get(&key).map(|o| self.served(rt, &o)).unwrap_or(body);
            return Ok(Outcome {
                code: 200,
                body,
                warnings: Vec::new(),
            });
        }
        let last = self.remove(rt, &key).unwrap_or(old);
        self.reap();
        // An object deleted at once is answered with a Status, whatever its kind (namespaces
        // and CRDs never get here: they always pass through their terminating state).
        let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": meta_str(&last, "uid")}});
        Ok(Outcome {
            code: 200,
            body,
            warnings: Vec::new(),
        })
    }

    /// Deletes (or marks for deletion) every object in a terminating namespace.
    fn delete_namespace_content(&mut self, ns: &str) {
        let types: Vec<Arc<ResourceType>> = self
            .registry
            .all()
            .iter()
            .filter(|t| t.namespaced && t.storage_version)
            .cloned()
            .collect();
        for rt in types {
            for (key, _) in self.store.list(&rt.storage, Some(ns)) {
                let _ = self.delete(&rt, ns, &key.2, &DeleteOptions::default());
            }
        }
    }

    fn delete_custom_resources(&mut self, crd: &str) {
        let Some(rt) = self.registry.storage_type(crd) else {
            return;
        };
        for (key, _) in self.store.list(&rt.storage, None) {
            let _ = self.delete(&rt, &key.1, &key.2, &DeleteOptions::default());
        }
    }

    /// Finishes namespaces and CRDs whose content is gone.
    fn reap(&mut self) {
        loop {
            let mut done = None;
            for (key, ns) in self.store.list("namespaces.", None) {
                if is_deleting(&ns)
                    && !self.registry.all().iter().any(|t| {
                        t.namespaced
                            && t.storage_version
                            && !self.store.list(&t.storage, Some(&key.2)).is_empty()
                    })
                {
                    done = Some(("namespaces", key));
                    break;
                }
            }
            if done.is_none() {
                for (key, crd) in self
                    .store
                    .list("customresourcedefinitions.apiextensions.k8s.io", None)
                {
                    if is_deleting(&crd) && self.store.list(&key.2, None).is_empty() {
                        done = Some(("customresourcedefinitions", key));
                        break;
                    }
                }
            }
            let Some((plural, key)) = done else { break };
            let rt = self
                .registry
                .all()
                .iter()
                .find(|t| t.plural == plural && t.storage_version && t.group != "events.k8s.io")
                .cloned()
                .expect("built in");
            self.remove(&rt, &key);
        }
    }
}

/// An applied configuration must name the resource's own apiVersion and kind: unlike a PUT or
/// POST body, a missing one is not filled in (a 400 naming the group/version and kind it got).
fn check_applied_type(rt: &ResourceType, config: &Value) -> Result<(), ApiError> {
    let text = |k: &str| config.get(k).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if api_version == rt.api_version() && kind == rt.kind {
        return Ok(());
    }
    // Go's GroupVersionKind printing; an apiVersion it cannot parse prints as empty.
    let (group, version) = match api_version.split_once('/') {
        None => ("", api_version),
        Some((_, v)) if v.contains('/') => ("", ""),
        Some(gv) => gv,
    };
    Err(ApiError::bad_request(format!(
        "invalid object type: {group}/{version}, Kind={kind}"
    )))
}

/// A 422 for bad PatchOptions (`fieldManager` missing on apply, `force` on another patch).
fn invalid_patch_options(e: FieldError) -> ApiError {
    ApiError::invalid("meta.k8s.io", "PatchOptions", "", &[e])
}

/// The writer the server itself uses for objects it creates (default namespaces, CRD files).
pub fn system_writer() -> WriteOptions {
    WriteOptions {
        manager: "kube-test-server".into(),
        dry_run: false,
        validation: FieldValidation::Strict,
        force: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(manager: &str) -> WriteOptions {
        WriteOptions {
            manager: manager.into(),
            ..system_writer()
        }
    }

    fn fields_v1(out: &Outcome) -> Value {
        out.body["metadata"]["managedFields"][0]["fieldsV1"].clone()
    }

    #[test]
    fn object_and_owner_references_are_owned_whole_as_atomic_structs() {
        let mut c = Cluster::new(100);
        let events = c.registry.find("", "v1", "events").expect("built in");
        let event = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": "R"});
        let out = c
            .create(&events, "default", event, &writer("recorder"), false)
            .expect("created");
        assert_eq!(fields_v1(&out), json!({"f:involvedObject": {}, "f:reason": {}}));
        let leases = c
            .registry
            .find("coordination.k8s.io", "v1", "leases")
            .expect("built in");
        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l",
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "u1"}]}});
        let out = c
            .create(&leases, "default", lease, &writer("owner"), false)
            .expect("created");
        assert_eq!(
            fields_v1(&out),
            json!({"f:metadata": {"f:ownerReferences": {".": {}, "k:{\"uid\":\"u1\"}": {}}}})
        );
    }

    #[test]
    fn an_applied_configuration_must_name_its_api_version_and_kind() {
        let mut c = Cluster::new(100);
        let leases = c
            .registry
            .find("coordination.k8s.io", "v1", "leases")
            .expect("built in");
        let mut apply = |config: Value| {
            let body = serde_json::to_vec(&config).expect("json");
            c.patch(
                &leases,
                "default",
                "l",
                PatchKind::Apply,
                &body,
                false,
                &writer("a"),
            )
            .map(|out| out.code)
            .map_err(|e| (e.code, e.message))
        };
        let spec = json!({"holderIdentity": "a"});
        let bad = |m: &str| Err((400, format!("invalid object type: {m}")));
        assert_eq!(
            apply(json!({"metadata": {"name": "l"}, "spec": spec})),
            bad("/, Kind=")
        );
        assert_eq!(
            apply(json!({"apiVersion": "coordination.k8s.io/v1", "spec": spec})),
            bad("coordination.k8s.io/v1, Kind=")
        );
        assert_eq!(
            apply(json!({"apiVersion": "v1", "kind": "Lease", "spec": spec})),
            bad("/v1, Kind=Lease")
        );
        assert_eq!(
            apply(json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": spec})),
            Ok(201)
        );
    }

    #[test]
    fn an_apply_that_leaves_nothing_owned_clears_managed_fields_until_the_next_apply() {
        let mut c = Cluster::new(100);
        let leases = c
            .registry
            .find("coordination.k8s.io", "v1", "leases")
            .expect("built in");
        let apply = |body: Value| serde_json::to_vec(&body).expect("json");
        let config = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "l"}, "spec": {"holderIdentity": "a"}});
        c.patch(
            &leases,
            "default",
            "l",
            PatchKind::Apply,
            &apply(config),
            false,
            &writer("a"),
        )
        .expect("created");
        let bare =
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}});
        let out = c
            .patch(
                &leases,
                "default",
                "l",
                PatchKind::Apply,
                &apply(bare),
                false,
                &writer("a"),
            )
            .expect("applied");
        assert_eq!(out.body.pointer("/metadata/managedFields"), None);
        let merge = br#"{"spec": {"holderIdentity": "b"}}"#;
        let out = c
            .patch(
                &leases,
                "default",
                "l",
                PatchKind::Merge,
                merge,
                false,
                &writer("b"),
            )
            .expect("patched");
        assert_eq!(out.body["spec"]["holderIdentity"], "b");
        assert_eq!(
            out.body.pointer("/metadata/managedFields"),
            None,
            "not tracked until the next apply"
        );
    }
}
