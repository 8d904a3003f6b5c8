//! A minimal OpenAPI v3 discovery (`/openapi/v3` and one document per group/version): enough
//! for kubectl to see that every resource's PATCH takes `fieldValidation`, so it validates on
//! the server (`fieldValidation=Strict`) instead of downloading OpenAPI v2 schemas to validate
//! by itself. The documents carry no real schemas, so `kubectl explain` is not supported.

use serde_json::{Map, Value, json};

use crate::resources::{Registry, ResourceType};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per served group/version.
pub fn root(reg: &Registry) -> Value {
    let mut paths = Map::new();
    for t in reg.all() {
        let p = gv_path(&t.group, &t.version);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}")}),
        );
    }
    json!({"paths": paths})
}

fn schema_name(t: &ResourceType) -> String {
    let group: Vec<&str> = if t.group.is_empty() {
        vec!["io", "k8s", "api", "core"]
    } else {
        t.group.rsplit('.').collect()
    };
    format!("{}.{}.{}", group.join("."), t.version, t.kind)
}

fn patch_operation(t: &ResourceType) -> Value {
    let query =
        |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
    let body = json!({"schema": {"type": "object"}});
    json!({
        "operationId": format!("patch{}", t.kind),
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": t.group, "version": t.version, "kind": t.kind},
        "parameters": [query("dryRun"), query("fieldManager"), query("fieldValidation"), query("force")],
        "requestBody": {"content": {
            "application/json-patch+json": body,
            "application/merge-patch+json": body,
            "application/apply-patch+yaml": body,
        }, "required": true},
        "responses": {"200": {"description": "OK"}}
    })
}

/// `/openapi/v3/{api/v1 | apis/GROUP/VERSION}`, or None when not served.
pub fn group_version(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    if !reg.serves(group, version) {
        return None;
    }
    let prefix = format!("/{}", gv_path(group, version));
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for t in reg
        .all()
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        let item = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", t.plural)
        } else {
            format!("{prefix}/{}/{{name}}", t.plural)
        };
        paths.insert(item, json!({"patch": patch_operation(t)}));
        let mut schema = json!({"type": "object"});
        schema["x-kubernetes-group-version-kind"] =
            json!([{"group": t.group, "version": t.version, "kind": t.kind}]);
        schemas.insert(schema_name(t), schema);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas}
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_kind_advertises_field_validation_on_patch() {
        let reg = Registry::with_builtins();
        assert!(root(&reg)["paths"]["apis/coordination.k8s.io/v1"].is_object());
        let doc = group_version(&reg, "coordination.k8s.io", "v1").expect("served");
        let op = &doc["paths"]["/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Lease");
        assert!(
            op["parameters"]
                .as_array()
                .expect("list")
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(doc["components"]["schemas"]["io.k8s.coordination.v1.Lease"].is_object());
    }
}
