//! Discovery documents: `/version`, `/api`, `/apis`, `/api/v1`, `/apis/{group}` and
//! `/apis/{group}/{version}`, built from what the registry serves right now (CRDs appear as
//! soon as they are created, as on the real server).

use serde_json::{Value, json};

use crate::resources::Registry;

/// The version this server claims: the kubectl on the image is 1.32.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0",
        "gitCommit": "kube-test-server",
        "gitTreeState": "clean",
        "buildDate": "2024-12-11T00:00:00Z",
        "goVersion": "go1.23.3",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

fn group_doc(reg: &Registry, group: &str) -> Value {
    let versions: Vec<Value> = reg
        .versions_of(group)
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

pub fn group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> = reg.groups().iter().map(|g| group_doc(reg, g)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`, or None when the group is not served.
pub fn group(reg: &Registry, group: &str) -> Option<Value> {
    if !reg.groups().iter().any(|g| g == group) {
        return None;
    }
    let mut doc = group_doc(reg, group);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// `discovery.StorageVersionHash`: the first 8 bytes of sha256("group/version/kind") in
/// base64 (the core group is empty: "/v1/Namespace").
fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{group}/{version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

/// `/api/v1` or `/apis/{group}/{version}`, or None when that version is not served.
pub fn resource_list(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    if !reg.serves(group, version) {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut resources = Vec::new();
    let mut types: Vec<_> = reg
        .all()
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    types.sort_by(|a, b| a.plural.cmp(&b.plural));
    for t in types {
        // The hash names the stored group/version (both Event APIs store core/v1 Events).
        let (storage_group, storage_version) = reg.storage_type(&t.storage).map_or_else(
            || (t.group.clone(), t.version.clone()),
            |s| (s.group.clone(), s.version.clone()),
        );
        let mut r = json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": t.verbs(),
            "storageVersionHash": storage_version_hash(&storage_group, &storage_version, &t.kind),
        });
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        resources.push(r);
        if t.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_groups_are_discoverable_with_their_preferred_versions() {
        let reg = Registry::with_builtins();
        let groups = group_list(&reg);
        let names: Vec<&str> = groups["groups"]
            .as_array()
            .expect("list")
            .iter()
            .map(|g| g["name"].as_str().expect("name"))
            .collect();
        assert_eq!(
            names,
            vec!["coordination.k8s.io", "events.k8s.io", "apiextensions.k8s.io"]
        );
        assert_eq!(
            groups["groups"][0]["preferredVersion"]["groupVersion"],
            "coordination.k8s.io/v1"
        );
        let core = resource_list(&reg, "", "v1").expect("served");
        let names: Vec<&str> = core["resources"]
            .as_array()
            .expect("list")
            .iter()
            .map(|r| r["name"].as_str().expect("name"))
            .collect();
        assert_eq!(
            names,
            vec!["events", "namespaces", "namespaces/status"],
            "sorted by name"
        );
        assert_eq!(core["resources"][1]["shortNames"], json!(["ns"]));
        assert!(resource_list(&reg, "nope.example.com", "v1").is_none());
        // The values the real server gives for these kinds.
        assert_eq!(
            storage_version_hash("coordination.k8s.io", "v1", "Lease"),
            "gqkMMb/YqFM="
        );
        assert_eq!(storage_version_hash("", "v1", "Namespace"), "Q3oi5N2YM8M=");
    }
}
