//! The HTTP face of the server: URL routing (`/api/v1/...`, `/apis/{group}/{version}/...`),
//! query parameters, content negotiation (JSON, Table, PartialObjectMetadata), request bodies
//! (JSON, YAML, the four patch types) and responses, including streamed watches.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::builtin;
use crate::cluster::{Cluster, DeleteOptions, FieldValidation, Outcome, PatchKind, WriteOptions};
use crate::discovery;
use crate::list::{ListOptions, WatchCursor, WatchEvent};
use crate::openapi;
use crate::resources::{Flavor, ResourceType};
use crate::status::ApiError;
use crate::table::{self, IncludeObject};

pub type Body = BoxBody<Bytes, Infallible>;

/// State shared by every connection.
pub struct Shared {
    pub cluster: Mutex<Cluster>,
    /// Carries the latest resourceVersion; watchers wake on every write.
    pub changed: tokio::sync::watch::Sender<u64>,
    pub bookmark_interval: Duration,
    pub address: String,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Cluster> {
        // A panic while holding the lock would be a bug in this crate; keep serving anyway.
        self.cluster.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn notify(&self, cluster: &Cluster) {
        self.changed.send_replace(cluster.store.current_rv());
    }
}

struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn json_response(code: u16, body: &Value, warnings: &[String]) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-cache, private");
    for w in warnings {
        builder = builder.header("Warning", format!("299 - {}", crate::status::go_quote(w)));
    }
    builder
        .body(full(serde_json::to_vec(body).unwrap_or_default()))
        .expect("valid response")
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status(), &[])
}

fn text_response(code: StatusCode, text: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("Content-Type", "text/plain; charset=utf-8")
        .body(full(text.to_string()))
        .expect("valid response")
}

/// What the client asked to get back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Representation {
    Object,
    Table,
    Metadata,
}

fn representation(accept: &str) -> Result<Representation, ApiError> {
    let mut json_ok = accept.is_empty();
    for part in accept.split(',') {
        let p = part.trim().to_ascii_lowercase();
        if p.contains("as=table")
            && p.contains("g=meta.k8s.io")
            && p.contains("v=v1")
            && !p.contains("v=v1beta1")
        {
            return Ok(Representation::Table);
        }
        if p.contains("as=partialobjectmetadata") && p.contains("v=v1") && !p.contains("v=v1beta1") {
            return Ok(Representation::Metadata);
        }
        if p.starts_with("application/json") && !p.contains("as=")
            || p.starts_with("*/*")
            || p.starts_with("application/*")
        {
            json_ok = true;
        }
        if p.starts_with("application/yaml") {
            json_ok = true;
        }
    }
    if json_ok {
        Ok(Representation::Object)
    } else {
        Err(ApiError::not_acceptable())
    }
}

struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(qk, _)| qk == k).map(|(_, v)| v.as_str())
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
}

/// A request for a resource (as opposed to discovery).
struct Target {
    rt: Arc<ResourceType>,
    namespace: Option<String>,
    name: Option<String>,
    status: bool,
}

enum Route {
    Text(&'static str),
    Json(Value),
    NotFoundPage,
    Resource(Target),
    Error(ApiError),
}

fn route(shared: &Shared, path: &str) -> Route {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let cluster = shared.lock();
    let reg = &cluster.registry;
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Route::Json(discovery::version()),
        ["healthz" | "livez" | "readyz"] => return Route::Text("ok"),
        ["api"] => return Route::Json(discovery::core_versions(&shared.address)),
        ["openapi", "v3"] => return Route::Json(openapi::root(reg)),
        ["openapi", "v3", "api", v] => {
            return openapi::group_version(reg, "", v).map_or(Route::NotFoundPage, Route::Json);
        }
        ["openapi", "v3", "apis", g, v] => {
            return openapi::group_version(reg, g, v).map_or(Route::NotFoundPage, Route::Json);
        }
        ["apis"] => return Route::Json(discovery::group_list(reg)),
        ["api", v] => {
            return match discovery::resource_list(reg, "", v) {
                Some(d) => Route::Json(d),
                None => Route::NotFoundPage,
            };
        }
        ["apis", g] => {
            return match discovery::group(reg, g) {
                Some(d) => Route::Json(d),
                None => Route::NotFoundPage,
            };
        }
        ["apis", g, v] => {
            return match discovery::resource_list(reg, g, v) {
                Some(d) => Route::Json(d),
                None => Route::NotFoundPage,
            };
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::NotFoundPage,
    };
    if !reg.serves(group, version) {
        return Route::NotFoundPage;
    }
    let namespace_subresource =
        group.is_empty() && rest.len() == 3 && matches!(rest[2], "status" | "finalize");
    let (namespace, plural, name, sub) =
        if rest.first() == Some(&"namespaces") && rest.len() >= 3 && !namespace_subresource {
            (Some(rest[1]), rest[2], rest.get(3).copied(), rest.get(4).copied())
        } else {
            (None, rest[0], rest.get(1).copied(), rest.get(2).copied())
        };
    if rest.len() > 5 {
        return Route::NotFoundPage;
    }
    let Some(rt) = reg.find(group, version, plural) else {
        return Route::NotFoundPage;
    };
    if (!rt.namespaced && namespace.is_some()) || (rt.namespaced && namespace.is_none() && name.is_some()) {
        return Route::NotFoundPage;
    }
    let status = match sub {
        None => false,
        Some("status") if rt.status_subresource => true,
        Some(_) => return Route::Error(ApiError::path_not_found()),
    };
    Route::Resource(Target {
        rt,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        status,
    })
}

/// Serves one request.
pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query());
    let target = match route(&shared, &path) {
        Route::Text(t) => return Ok(text_response(StatusCode::OK, t)),
        Route::Json(v) => return Ok(json_response(200, &v, &[])),
        Route::NotFoundPage => return Ok(text_response(StatusCode::NOT_FOUND, "404 page not found\n")),
        Route::Error(e) => return Ok(error_response(&e)),
        Route::Resource(t) => t,
    };
    let header = |h: &str| {
        req.headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let accept = header("accept");
    let content_type = header("content-type");
    let user_agent = header("user-agent");
    let method = req.method().clone();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return Ok(error_response(&ApiError::bad_request(format!(
                "reading the body: {e}"
            ))));
        }
    };
    let repr = match representation(&accept) {
        Ok(r) => r,
        Err(e) => return Ok(error_response(&e)),
    };
    let ctx = Ctx {
        query,
        repr,
        content_type,
        user_agent,
        body,
    };
    if method == Method::GET && target.name.is_none() && ctx.query.flag("watch") {
        return Ok(match start_watch(shared, target, ctx) {
            Ok(r) => r,
            Err(e) => error_response(&e),
        });
    }
    let result = dispatch(&shared, &method, &target, &ctx);
    Ok(match result {
        Ok(r) => r,
        Err(e) => error_response(&e),
    })
}

struct Ctx {
    query: Query,
    repr: Representation,
    content_type: String,
    user_agent: String,
    body: Bytes,
}

impl Ctx {
    /// Options of a write; server-side apply needs an explicit `fieldManager`, other writes
    /// fall back to the user agent up to its first '/', as on the real server.
    fn write_options(&self, apply: bool) -> Result<WriteOptions, ApiError> {
        let manager = match self.query.get("fieldManager") {
            Some(m) => m.to_string(),
            None if apply => String::new(),
            None => self
                .user_agent
                .split('/')
                .next()
                .unwrap_or_default()
                .chars()
                .take(128)
                .collect(),
        };
        let validation = match self.query.get("fieldValidation") {
            None | Some("") | Some("Warn") => FieldValidation::Warn,
            Some("Ignore") => FieldValidation::Ignore,
            Some("Strict") => FieldValidation::Strict,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
                )));
            }
        };
        Ok(WriteOptions {
            manager,
            dry_run: self.query.get("dryRun") == Some("All"),
            validation,
            force: self.query.flag("force"),
        })
    }

    fn body_object(&self) -> Result<Value, ApiError> {
        let ct = self.content_type.to_ascii_lowercase();
        if ct.contains("protobuf") {
            return crate::proto::decode_namespace(&self.body)
                .ok_or_else(|| ApiError::unsupported_media_type(&["application/json", "application/yaml"]));
        }
        if ct.starts_with("application/yaml") {
            let text = std::str::from_utf8(&self.body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            return crate::yaml::documents(text)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::bad_request("error decoding YAML: empty document"));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON: {e}")))
    }
}

fn object_response(out: Outcome, repr: Representation) -> Response<Body> {
    let body = match repr {
        Representation::Metadata if out.body.get("metadata").is_some() && out.body["kind"] != "Status" => {
            table::partial_object_metadata(&out.body)
        }
        _ => out.body,
    };
    json_response(out.code, &body, &out.warnings)
}

fn core_shape(rt: &ResourceType, served: &Value) -> Value {
    if rt.flavor == Flavor::EventsV1 {
        builtin::to_storage(rt, "v1", served.clone())
    } else {
        served.clone()
    }
}

fn include_object(q: &Query) -> IncludeObject {
    match q.get("includeObject") {
        Some("None") => IncludeObject::None,
        Some("Object") => IncludeObject::Object,
        _ => IncludeObject::Metadata,
    }
}

fn dispatch(shared: &Shared, method: &Method, t: &Target, ctx: &Ctx) -> Result<Response<Body>, ApiError> {
    let rt = &t.rt;
    let ns = t.namespace.as_deref().unwrap_or_default();
    let now = jiff::Timestamp::now();
    match (method.as_str(), t.name.as_deref()) {
        ("GET", Some(name)) => {
            let obj = shared.lock().get(rt, ns, name)?;
            if ctx.repr == Representation::Table {
                let tbl = object_table(rt, obj, include_object(&ctx.query), now);
                return Ok(json_response(200, &tbl, &[]));
            }
            Ok(object_response(
                Outcome {
                    code: 200,
                    body: obj,
                    warnings: vec![],
                },
                ctx.repr,
            ))
        }
        ("GET", None) => {
            let opts = ListOptions::parse(rt, &ctx.query.0)?;
            let page = shared.lock().list(rt, t.namespace.as_deref(), &opts)?;
            let body = match ctx.repr {
                Representation::Table => {
                    let rows: Vec<(Value, Value)> = page
                        .items
                        .into_iter()
                        .map(|o| {
                            let c = core_shape(rt, &o);
                            (o, c)
                        })
                        .collect();
                    table::table(
                        rt,
                        &rows,
                        page.metadata,
                        include_object(&ctx.query),
                        ctx.query.flag("noHeaders"),
                        now,
                    )
                }
                Representation::Metadata => {
                    let items: Vec<Value> = page.items.iter().map(table::partial_object_metadata).collect();
                    json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": page.metadata, "items": items})
                }
                Representation::Object => {
                    let items: Vec<Value> = page
                        .items
                        .into_iter()
                        .map(|mut o| {
                            // Typed (built-in) lists carry no apiVersion/kind per item.
                            if !rt.is_custom()
                                && let Some(m) = o.as_object_mut()
                            {
                                m.remove("apiVersion");
                                m.remove("kind");
                            }
                            o
                        })
                        .collect();
                    json!({"kind": rt.list_kind, "apiVersion": rt.api_version(), "metadata": page.metadata, "items": items})
                }
            };
            Ok(json_response(200, &body, &[]))
        }
        ("POST", None) => {
            let opts = ctx.write_options(false)?;
            let obj = ctx.body_object()?;
            let mut cluster = shared.lock();
            let out = cluster.create(rt, ns, obj, &opts, false)?;
            shared.notify(&cluster);
            Ok(object_response(out, ctx.repr))
        }
        ("PUT", Some(name)) => {
            let opts = ctx.write_options(false)?;
            let obj = ctx.body_object()?;
            let mut cluster = shared.lock();
            let out = cluster.update(rt, ns, name, obj, t.status, &opts)?;
            shared.notify(&cluster);
            Ok(object_response(out, ctx.repr))
        }
        ("PATCH", Some(name)) => {
            let ct = ctx
                .content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let kind = match ct.as_str() {
                "application/merge-patch+json" => PatchKind::Merge,
                "application/json-patch+json" => PatchKind::Json,
                "application/strategic-merge-patch+json" => PatchKind::StrategicMerge,
                "application/apply-patch+yaml" => PatchKind::Apply,
                _ => {
                    return Err(ApiError::unsupported_media_type(&[
                        "application/json-patch+json",
                        "application/merge-patch+json",
                        "application/apply-patch+yaml",
                    ]));
                }
            };
            let opts = ctx.write_options(kind == PatchKind::Apply)?;
            let mut cluster = shared.lock();
            let out = cluster.patch(rt, ns, name, kind, &ctx.body, t.status, &opts)?;
            shared.notify(&cluster);
            Ok(object_response(out, ctx.repr))
        }
        ("DELETE", Some(name)) => {
            let opts = delete_options(ctx)?;
            let mut cluster = shared.lock();
            let out = cluster.delete(rt, ns, name, &opts)?;
            shared.notify(&cluster);
            Ok(object_response(out, ctx.repr))
        }
        ("DELETE", None) => {
            let list_opts = ListOptions::parse(rt, &ctx.query.0)?;
            let opts = delete_options(ctx)?;
            let mut cluster = shared.lock();
            let page = cluster.list(rt, t.namespace.as_deref(), &list_opts)?;
            let mut deleted = Vec::new();
            for o in page.items {
                let o_ns = o
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(ns)
                    .to_string();
                let o_name = o
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if let Ok(out) = cluster.delete(rt, &o_ns, &o_name, &opts) {
                    deleted.push(out.body);
                }
            }
            shared.notify(&cluster);
            let body = if rt.is_custom() {
                json!({"kind": rt.list_kind, "apiVersion": rt.api_version(), "metadata": {}, "items": deleted})
            } else {
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
            };
            Ok(json_response(200, &body, &[]))
        }
        (m, _) => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({m})"),
        )),
    }
}

fn delete_options(ctx: &Ctx) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions {
        dry_run: ctx.query.get("dryRun") == Some("All"),
        ..DeleteOptions::default()
    };
    if !ctx.body.is_empty() {
        let v = ctx.body_object()?;
        opts.uid = v
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        opts.resource_version = v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        if v.get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|x| x == "All"))
        {
            opts.dry_run = true;
        }
    }
    Ok(opts)
}

fn event_line(kind: &str, object: Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line(
        "BOOKMARK",
        json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": metadata}),
    )
}

/// The one-row Table of a single object (GET of one object, a watch event for `kubectl get -w`).
fn object_table(rt: &ResourceType, obj: Value, include: IncludeObject, now: jiff::Timestamp) -> Value {
    let rv = obj
        .pointer("/metadata/resourceVersion")
        .cloned()
        .unwrap_or(json!(""));
    let core = core_shape(rt, &obj);
    table::table(
        rt,
        &[(obj, core)],
        json!({"resourceVersion": rv}),
        include,
        false,
        now,
    )
}

/// Renders one watch event the way the client asked for it (objects, or one-row Tables for
/// `kubectl get -w`).
fn render(rt: &ResourceType, e: WatchEvent, repr: Representation, include: IncludeObject) -> Bytes {
    let object = match repr {
        Representation::Table => object_table(rt, e.object, include, jiff::Timestamp::now()),
        Representation::Metadata => table::partial_object_metadata(&e.object),
        Representation::Object => e.object,
    };
    event_line(e.kind, object)
}

fn start_watch(shared: Arc<Shared>, t: Target, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let opts = ListOptions::parse(&t.rt, &ctx.query.0)?;
    let bookmarks = ctx.query.flag("allowWatchBookmarks");
    let send_initial = ctx.query.flag("sendInitialEvents");
    if send_initial && (!bookmarks || opts.resource_version_match.as_deref() != Some("NotOlderThan")) {
        return Err(ApiError::invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            &[crate::status::FieldError::forbidden(
                "sendInitialEvents",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan and allowWatchBookmarks",
            )],
        ));
    }
    let timeout = ctx
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .unwrap_or(1800);
    let include = include_object(&ctx.query);
    let mut cursor = WatchCursor {
        rt: t.rt.clone(),
        namespace: t.namespace.clone(),
        opts,
        rv: 0,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut changed = shared.changed.subscribe();
    let initial = shared.lock().watch_start(&mut cursor, send_initial);
    let repr = ctx.repr;
    let interval = shared.bookmark_interval;
    tokio::spawn(async move {
        let rt = cursor.rt.clone();
        match initial {
            Err(e) => {
                let _ = tx.send(event_line("ERROR", e.to_status())).await;
                return;
            }
            Ok(events) => {
                for e in events {
                    if tx.send(render(&rt, e, repr, include)).await.is_err() {
                        return;
                    }
                }
                if send_initial && tx.send(bookmark(&rt, cursor.rv, true)).await.is_err() {
                    return;
                }
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            tokio::select! {
                res = changed.changed() => {
                    if res.is_err() {
                        return;
                    }
                    let polled = shared.lock().watch_poll(&mut cursor);
                    match polled {
                        Ok(events) => {
                            for e in events {
                                if tx.send(render(&rt, e, repr, include)).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(event_line("ERROR", e.to_status())).await;
                            return;
                        }
                    }
                }
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(bookmark(&rt, cursor.rv, false)).await.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if bookmarks {
                        let _ = tx.send(bookmark(&rt, cursor.rv, false)).await;
                    }
                    return;
                }
                _ = tx.closed() => return,
            }
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-cache, private")
        .body(ChannelBody(rx).boxed())
        .expect("valid response"))
}
