//! The test server driven by the real clients: kube-rs (Api, watcher, reflector, Controller,
//! finalizer helper, server-side apply, Recorder) and kubectl, over HTTP, through the
//! kubeconfig the server writes. The custom resource is the project's own `InterfaceEndpoint`.

mod support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::WatchStreamExt;
use kube::{CustomResourceExt, Resource, ResourceExt};
use serde_json::{Value, json};
use vpce_rollout::api::InterfaceEndpoint;

use support::{ENDPOINTS, Harness, endpoint, endpoint_in, merge, merge_status, raw};

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn discovery_lists_the_built_in_groups_and_the_registered_crd() {
    let h = Harness::start().await;
    let version = h.client.apiserver_version().await.expect("version");
    assert_eq!((version.major.as_str(), version.minor.as_str()), ("1", "32"));
    let core = h.client.list_core_api_versions().await.expect("/api");
    assert_eq!(core.versions, vec!["v1".to_string()]);
    let groups = h.client.list_api_groups().await.expect("/apis");
    let names: Vec<&str> = groups.groups.iter().map(|g| g.name.as_str()).collect();
    for g in [
        "coordination.k8s.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
        "vpce-rollout.dev",
    ] {
        assert!(names.contains(&g), "{g} missing from {names:?}");
    }
    let ours = h
        .client
        .list_api_group_resources("vpce-rollout.dev/v1alpha1")
        .await
        .expect("group version");
    let res = ours
        .resources
        .iter()
        .find(|r| r.name == "interfaceendpoints")
        .expect("served");
    assert!(res.namespaced);
    assert_eq!(res.short_names.as_deref(), Some(&["vpce".to_string()][..]));
    assert!(
        ours.resources
            .iter()
            .any(|r| r.name == "interfaceendpoints/status")
    );
    let core_resources = h.client.list_core_api_resources("v1").await.expect("/api/v1");
    assert!(core_resources.resources.iter().any(|r| r.name == "events"));
    // kube-rs' own discovery finds the kind by name.
    let discovery = kube::Discovery::new(h.client.clone())
        .run()
        .await
        .expect("discovery");
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk(
            "vpce-rollout.dev",
            "v1alpha1",
            "InterfaceEndpoint",
        ))
        .expect("resolved");
    assert_eq!(ar.plural, "interfaceendpoints");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    let (code, _) = raw(&h.client, "GET", "/apis/nope.example.com/v1", None, None).await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn crds_created_through_the_api_are_served_and_their_deletion_removes_their_objects() {
    let h = Harness::start().await;
    let crds: Api<CustomResourceDefinition> = Api::all(h.client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Cluster",
                 "names": {"kind": "Gadget", "plural": "gadgets"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}
    }))
    .expect("valid CRD");
    let created = crds.create(&PostParams::default(), &crd).await.expect("created");
    let conditions = created.status.expect("status").conditions.expect("conditions");
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
    );
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("example.com", "v1", "Gadget"), "gadgets");
    let gadgets: Api<DynamicObject> = Api::all_with(h.client.clone(), &ar);
    let g = DynamicObject::new("g1", &ar).data(json!({"spec": {"size": 2, "extra": true}}));
    let g = gadgets.create(&PostParams::default(), &g).await.expect("created");
    assert_eq!(g.data["spec"], json!({"size": 2}), "unknown fields are pruned");
    crds.delete("gadgets.example.com", &DeleteParams::default())
        .await
        .expect("deleted");
    let (code, _) = raw(&h.client, "GET", "/apis/example.com/v1/gadgets", None, None).await;
    assert_eq!(code, 404, "the CRD and its objects are gone");
    assert!(crds.get_opt("gadgets.example.com").await.expect("get").is_none());
}

#[tokio::test]
async fn namespaces_are_created_listed_and_deleted_with_their_content() {
    let h = Harness::start().await;
    let namespaces: Api<Namespace> = Api::all(h.client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .expect("list")
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert_eq!(
        names,
        vec!["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team-a"}})).expect("ns");
    let ns = namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("created");
    assert_eq!(ns.status.and_then(|s| s.phase).as_deref(), Some("Active"));
    assert_eq!(
        ns.metadata.labels.expect("labels")["kubernetes.io/metadata.name"],
        "team-a"
    );
    let eps: Api<InterfaceEndpoint> = Api::namespaced(h.client.clone(), "team-a");
    eps.create(&PostParams::default(), &endpoint_in("team-a", "e1"))
        .await
        .expect("created");
    namespaces
        .delete("team-a", &DeleteParams::default())
        .await
        .expect("deleted");
    assert!(
        namespaces.get_opt("team-a").await.expect("get").is_none(),
        "empty namespaces go at once"
    );
    let missing = eps
        .create(&PostParams::default(), &endpoint_in("team-a", "e2"))
        .await
        .expect_err("no namespace");
    let status = api_error(missing);
    assert_eq!(
        (status.code, status.message.as_str()),
        (404, "namespaces \"team-a\" not found")
    );
}

#[tokio::test]
async fn a_namespace_with_finalized_content_stays_terminating_until_the_content_is_gone() {
    let h = Harness::start().await;
    let namespaces: Api<Namespace> = Api::all(h.client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team-b"}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("created");
    let eps: Api<InterfaceEndpoint> = Api::namespaced(h.client.clone(), "team-b");
    let mut e = endpoint_in("team-b", "held");
    e.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    eps.create(&PostParams::default(), &e).await.expect("created");
    namespaces
        .delete("team-b", &DeleteParams::default())
        .await
        .expect("deleting");
    let terminating = namespaces.get("team-b").await.expect("still there");
    assert_eq!(
        terminating.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    let refused = api_error(
        eps.create(&PostParams::default(), &endpoint_in("team-b", "late"))
            .await
            .expect_err("terminating"),
    );
    assert_eq!((refused.code, refused.reason.as_str()), (403, "Forbidden"));
    assert!(
        eps.get("held")
            .await
            .expect("held")
            .metadata
            .deletion_timestamp
            .is_some()
    );
    merge(&eps, "held", json!({"metadata": {"finalizers": null}}))
        .await
        .expect("released");
    assert!(namespaces.get_opt("team-b").await.expect("get").is_none());
}

#[tokio::test]
async fn core_and_events_k8s_io_events_are_two_views_of_the_same_objects() {
    let h = Harness::start().await;
    let core: Api<CoreEvent> = Api::namespaced(h.client.clone(), "default");
    let ev: CoreEvent = serde_json::from_value(json!({
        "metadata": {"name": "e1"}, "involvedObject": {"kind": "InterfaceEndpoint", "name": "logs", "namespace": "default"},
        "reason": "Created", "message": "endpoint created", "type": "Normal", "count": 1
    }))
    .expect("event");
    core.create(&PostParams::default(), &ev).await.expect("created");
    let by_object = core
        .list(&ListParams::default().fields("involvedObject.name=logs"))
        .await
        .expect("listed");
    assert_eq!(by_object.items.len(), 1);
    assert!(
        core.list(&ListParams::default().fields("involvedObject.name=other"))
            .await
            .expect("listed")
            .items
            .is_empty()
    );
    let v1: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(h.client.clone(), "default");
    let seen = v1.get("e1").await.expect("same object");
    assert_eq!(seen.note.as_deref(), Some("endpoint created"));
    assert_eq!(seen.regarding.and_then(|r| r.name).as_deref(), Some("logs"));
    let bad = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e2"}, "type": "Normal"});
    let (code, status) = raw(
        &h.client,
        "POST",
        "/apis/events.k8s.io/v1/namespaces/default/events",
        None,
        Some(bad),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "eventTime");
}

#[tokio::test]
async fn leases_support_lease_based_leader_election() {
    let h = Harness::start().await;
    let leases: Api<Lease> = Api::namespaced(h.client.clone(), "default");
    let lease: Lease = serde_json::from_value(json!({"metadata": {"name": "vpce-rollout-leader"},
        "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15, "leaseTransitions": 0,
                 "acquireTime": "2024-01-01T00:00:00.000000Z", "renewTime": "2024-01-01T00:00:00.000000Z"}}))
    .expect("lease");
    let held = leases
        .create(&PostParams::default(), &lease)
        .await
        .expect("pod-a acquires");
    let again = api_error(
        leases
            .create(&PostParams::default(), &lease)
            .await
            .expect_err("taken"),
    );
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));
    // Both candidates read the same version; the first writer wins, the second gets 409.
    let mut renew = held.clone();
    renew.spec.as_mut().expect("spec").renew_time =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            "2024-01-01T00:00:10Z".parse().expect("time"),
        ));
    leases
        .replace("vpce-rollout-leader", &PostParams::default(), &renew)
        .await
        .expect("pod-a renews");
    let mut takeover = held.clone();
    takeover.spec.as_mut().expect("spec").holder_identity = Some("pod-b".into());
    let lost = api_error(
        leases
            .replace("vpce-rollout-leader", &PostParams::default(), &takeover)
            .await
            .expect_err("stale"),
    );
    assert_eq!((lost.code, lost.reason.as_str()), (409, "Conflict"));
    let current = leases.get("vpce-rollout-leader").await.expect("get");
    assert_eq!(
        current.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("pod-a")
    );
    assert!(
        current.metadata.generation.is_none(),
        "built-in types without generation keep none"
    );
    let bad = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "x"}, "spec": {"leaseDurationSeconds": 0}});
    let (code, status) = raw(
        &h.client,
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
        None,
        Some(bad),
    )
    .await;
    assert_eq!(code, 422, "{status}");
}

#[tokio::test]
async fn creation_sets_uid_timestamp_generation_and_generated_names() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    let mut e = endpoint("");
    e.metadata.name = None;
    e.metadata.generate_name = Some("logs-".into());
    let created = eps.create(&PostParams::default(), &e).await.expect("created");
    let name = created.name_any();
    assert!(
        name.starts_with("logs-") && name.len() == "logs-".len() + 5,
        "{name}"
    );
    assert_eq!(created.metadata.uid.as_deref().map(str::len), Some(36));
    assert!(created.metadata.creation_timestamp.is_some());
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(
        created.spec.deletion_policy,
        vpce_rollout::api::DeletionPolicy::Delete,
        "defaults applied"
    );
    let dup = api_error(
        eps.create(&PostParams::default(), &created.clone())
            .await
            .expect_err("exists"),
    );
    assert_eq!(dup.code, 500, "a resourceVersion on create is refused: {dup:?}");
    let mut again = endpoint(&name);
    again.metadata.resource_version = None;
    let dup = api_error(
        eps.create(&PostParams::default(), &again)
            .await
            .expect_err("exists"),
    );
    assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(
        dup.message,
        format!("interfaceendpoints.vpce-rollout.dev \"{name}\" already exists")
    );
}

#[tokio::test]
async fn lists_filter_by_label_and_field_selectors_and_page_with_continue() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    for (name, team) in [("a", "x"), ("b", "y"), ("c", "x"), ("d", "x")] {
        let mut e = endpoint(name);
        e.metadata.labels = Some([("team".to_string(), team.to_string())].into());
        eps.create(&PostParams::default(), &e).await.expect("created");
    }
    let names = |l: kube::core::ObjectList<InterfaceEndpoint>| {
        l.items.iter().map(|e| e.name_any()).collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            eps.list(&ListParams::default().labels("team=x"))
                .await
                .expect("list")
        ),
        ["a", "c", "d"]
    );
    assert_eq!(
        names(
            eps.list(&ListParams::default().labels("team notin (x)"))
                .await
                .expect("list")
        ),
        ["b"]
    );
    assert_eq!(
        names(
            eps.list(&ListParams::default().fields("metadata.name!=a"))
                .await
                .expect("list")
        ),
        ["b", "c", "d"]
    );
    let first = eps.list(&ListParams::default().limit(3)).await.expect("page 1");
    let token = first.metadata.continue_.clone().expect("more");
    assert_eq!(first.metadata.remaining_item_count, Some(1));
    assert_eq!(names(first), ["a", "b", "c"]);
    // Pages are consistent: a write between pages does not show up in the next one.
    h.create("e").await;
    let second = eps
        .list(&ListParams::default().limit(3).continue_token(&token))
        .await
        .expect("page 2");
    assert!(second.metadata.continue_.is_none());
    assert_eq!(names(second), ["d"]);
    let bad = api_error(
        eps.list(&ListParams::default().fields("spec.vpcId=x"))
            .await
            .expect_err("unsupported"),
    );
    assert_eq!(
        (bad.code, bad.message.as_str()),
        (400, "field label not supported: spec.vpcId")
    );
}

#[tokio::test]
async fn replace_with_a_stale_resource_version_is_a_409_conflict_and_without_one_a_422() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    let v1 = h.create("logs").await;
    let mut newer = v1.clone();
    newer.spec.service_name = "com.amazonaws.ap-northeast-1.ssm".into();
    eps.replace("logs", &PostParams::default(), &newer)
        .await
        .expect("first replace");
    let stale = api_error(
        eps.replace("logs", &PostParams::default(), &v1)
            .await
            .expect_err("stale"),
    );
    assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        stale.message,
        "Operation cannot be fulfilled on interfaceendpoints.vpce-rollout.dev \"logs\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // Custom resources (like Leases and CRDs) allow no unconditional update: a PUT must name
    // the version it replaces, the main resource and the status alike.
    let mut unconditional = v1.clone();
    unconditional.metadata.resource_version = None;
    let refused = api_error(
        eps.replace("logs", &PostParams::default(), &unconditional)
            .await
            .expect_err("no resourceVersion"),
    );
    assert_eq!((refused.code, refused.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        refused.message,
        "interfaceendpoints.vpce-rollout.dev \"logs\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    );
    let status = api_error(
        eps.replace_status("logs", &PostParams::default(), &unconditional)
            .await
            .expect_err("no resourceVersion"),
    );
    assert_eq!(status.code, 422);
    let namespaces: Api<Namespace> = Api::all(h.client.clone());
    let mut ns = namespaces.get("default").await.expect("default");
    ns.metadata.resource_version = None;
    namespaces
        .replace("default", &PostParams::default(), &ns)
        .await
        .expect("Namespaces may be replaced unconditionally");
    eps.delete("logs", &DeleteParams::default())
        .await
        .expect("deleted");
    assert!(eps.get_opt("logs").await.expect("get").is_none());
}

#[tokio::test]
async fn every_write_bumps_one_cluster_wide_resource_version_and_no_op_writes_do_not() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    let rv = |o: &InterfaceEndpoint| o.resource_version().expect("rv").parse::<u64>().expect("number");
    let a = h.create("a").await;
    let b = h.create("b").await;
    assert_eq!(rv(&b), rv(&a) + 1);
    let a2 = merge(&eps, "a", json!({"metadata": {"labels": {"x": "1"}}}))
        .await
        .expect("patched");
    assert_eq!(rv(&a2), rv(&b) + 1);
    let same = merge(&eps, "a", json!({"metadata": {"labels": {"x": "1"}}}))
        .await
        .expect("no-op");
    assert_eq!(rv(&same), rv(&a2), "a patch that changes nothing writes nothing");
    assert_eq!(h.server.resource_version(), rv(&a2));
}

#[tokio::test]
async fn generation_bumps_on_spec_changes_only() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    h.create("logs").await;
    let labelled = merge(&eps, "logs", json!({"metadata": {"labels": {"a": "b"}}}))
        .await
        .expect("labels");
    assert_eq!(labelled.metadata.generation, Some(1));
    let status = merge_status(&eps, "logs", json!({"status": {"phase": "Verifying"}}))
        .await
        .expect("status");
    assert_eq!(status.metadata.generation, Some(1));
    let spec = merge(&eps, "logs", json!({"spec": {"region": "ap-northeast-1"}}))
        .await
        .expect("spec");
    assert_eq!(spec.metadata.generation, Some(2));
}

#[tokio::test]
async fn the_status_subresource_separates_spec_and_status_writes() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    let mut e = endpoint("logs");
    e.status = Some(serde_json::from_value(json!({"phase": "Ready"})).expect("status"));
    let created = eps.create(&PostParams::default(), &e).await.expect("created");
    assert!(created.status.is_none(), "status is dropped on create");
    let through_main = merge(
        &eps,
        "logs",
        json!({"spec": {"region": "eu-west-1"}, "status": {"phase": "Ready"}}),
    )
    .await
    .expect("patched");
    assert!(
        through_main.status.is_none(),
        "writes to the main resource ignore status"
    );
    assert_eq!(through_main.spec.region.as_deref(), Some("eu-west-1"));
    let through_status = merge_status(
        &eps,
        "logs",
        json!({"spec": {"region": "us-east-1"}, "status": {"phase": "Verifying"}}),
    )
    .await
    .expect("patched");
    assert_eq!(
        through_status.spec.region.as_deref(),
        Some("eu-west-1"),
        "writes to /status ignore spec"
    );
    assert_eq!(
        through_status.status.expect("status").phase,
        vpce_rollout::api::RolloutPhase::Verifying
    );
    let mut replaced = eps.get_status("logs").await.expect("get status");
    replaced.status.as_mut().expect("status").phase = vpce_rollout::api::RolloutPhase::Ready;
    let replaced = eps
        .replace_status("logs", &PostParams::default(), &replaced)
        .await
        .expect("replaced");
    assert_eq!(
        replaced.status.expect("status").phase,
        vpce_rollout::api::RolloutPhase::Ready
    );
}

#[tokio::test]
async fn merge_and_json_patches_apply_and_a_failed_json_patch_test_is_422() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    h.create("logs").await;
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/vpcId", "value": "vpc-0a1b2c3d"},
        {"op": "add", "path": "/spec/subnetIds/-", "value": "subnet-0000000b"},
        {"op": "replace", "path": "/spec/serviceName", "value": "com.amazonaws.ap-northeast-1.ssm"}
    ]))
    .expect("patch");
    let patched = eps
        .patch("logs", &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .expect("applied");
    assert_eq!(patched.spec.subnet_ids, ["subnet-0000000a", "subnet-0000000b"]);
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/spec/vpcId", "value": "vpc-ffffffff"}]))
            .expect("patch");
    let failed = api_error(
        eps.patch("logs", &PatchParams::default(), &Patch::Json::<()>(failing))
            .await
            .expect_err("test fails"),
    );
    assert_eq!((failed.code, failed.reason.as_str()), (422, "Invalid"));
    let (code, status) = raw(
        &h.client,
        "PATCH",
        &format!("{ENDPOINTS}/logs"),
        Some("application/strategic-merge-patch+json"),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );
}

#[tokio::test]
async fn server_side_apply_merges_managers_records_managed_fields_and_conflicts_unless_forced() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    let config = json!({"apiVersion": "vpce-rollout.dev/v1alpha1", "kind": "InterfaceEndpoint", "metadata": {"name": "logs"},
        "spec": {"vpcId": "vpc-0a1b2c3d", "serviceName": "com.amazonaws.ap-northeast-1.logs",
                 "subnetIds": ["subnet-0000000a"], "securityGroupIds": ["sg-0000000a"]}});
    let created = eps
        .patch("logs", &PatchParams::apply("gitops"), &Patch::Apply(&config))
        .await
        .expect("created by apply");
    let managed = created.metadata.managed_fields.clone().expect("managedFields");
    assert_eq!(managed[0].manager.as_deref(), Some("gitops"));
    assert_eq!(managed[0].operation.as_deref(), Some("Apply"));
    // A second manager sets a field nobody owns: merged, no conflict.
    let labels = json!({"apiVersion": "vpce-rollout.dev/v1alpha1", "kind": "InterfaceEndpoint", "metadata": {"name": "logs", "labels": {"team": "obs"}}});
    let both = eps
        .patch("logs", &PatchParams::apply("labeller"), &Patch::Apply(&labels))
        .await
        .expect("merged");
    assert_eq!(both.labels()["team"], "obs");
    assert_eq!(both.spec.vpc_id, "vpc-0a1b2c3d");
    // Changing a field gitops owns conflicts unless forced.
    let grab = json!({"apiVersion": "vpce-rollout.dev/v1alpha1", "kind": "InterfaceEndpoint",
        "metadata": {"name": "logs", "labels": {"team": "obs"}}, "spec": {"serviceName": "com.amazonaws.ap-northeast-1.ssm"}});
    let conflict = api_error(
        eps.patch("logs", &PatchParams::apply("labeller"), &Patch::Apply(&grab))
            .await
            .expect_err("conflict"),
    );
    assert_eq!(conflict.code, 409);
    assert_eq!(
        conflict.message,
        "Apply failed with 1 conflict: conflict with \"gitops\": .spec.serviceName"
    );
    let forced = eps
        .patch(
            "logs",
            &PatchParams::apply("labeller").force(),
            &Patch::Apply(&grab),
        )
        .await
        .expect("forced");
    assert_eq!(forced.spec.service_name, "com.amazonaws.ap-northeast-1.ssm");
    // gitops no longer applies serviceName (labeller owns it now); a label it stops applying
    // and owns alone is removed, labeller's stays.
    let mut without_service = config.clone();
    without_service["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("serviceName");
    let mut with_owner = without_service.clone();
    with_owner["metadata"]["labels"] = json!({"owner": "gitops"});
    let labelled = eps
        .patch("logs", &PatchParams::apply("gitops"), &Patch::Apply(&with_owner))
        .await
        .expect("applied");
    assert_eq!(labelled.labels()["owner"], "gitops");
    let last = eps
        .patch(
            "logs",
            &PatchParams::apply("gitops"),
            &Patch::Apply(&without_service),
        )
        .await
        .expect("applied");
    assert!(!last.labels().contains_key("owner"), "{:?}", last.labels());
    assert_eq!(last.labels()["team"], "obs", "labeller's field stays");
    assert_eq!(last.spec.service_name, "com.amazonaws.ap-northeast-1.ssm");
    let no_manager = raw(
        &h.client,
        "PATCH",
        &format!("{ENDPOINTS}/logs"),
        Some("application/apply-patch+yaml"),
        Some(config),
    )
    .await;
    assert_eq!(no_manager.0, 422);
    assert_eq!(
        no_manager.1["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
}

#[tokio::test]
async fn a_status_applied_without_a_map_it_applied_before_loses_the_map_and_its_defaults() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    h.create("logs").await;
    let status = |s: Value| json!({"apiVersion": "vpce-rollout.dev/v1alpha1", "kind": "InterfaceEndpoint", "status": s});
    let controller = PatchParams::apply("controller");
    let counted = json!({"phase": "Verifying",
        "clients": {"total": 2, "reachable": 1, "blocked": 1, "ready": "1/2"}});
    let with_clients = eps
        .patch_status("logs", &controller, &Patch::Apply(status(counted)))
        .await
        .expect("applied");
    let clients = with_clients.status.and_then(|s| s.clients).expect("clients");
    assert_eq!(clients.excluded, 0, "defaulted, so owned by nobody");
    let without = eps
        .patch_status(
            "logs",
            &controller,
            &Patch::Apply(status(json!({"phase": "Ready"}))),
        )
        .await
        .expect("no defaulted remnant of `clients` is left to fail its required fields");
    assert!(without.status.expect("status").clients.is_none());
}

#[tokio::test]
async fn deletion_waits_for_finalizers_and_forbids_new_ones() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    let mut e = endpoint("logs");
    e.metadata.finalizers = Some(vec![vpce_rollout::api::FINALIZER.into()]);
    eps.create(&PostParams::default(), &e).await.expect("created");
    let deleting = eps
        .delete("logs", &DeleteParams::default())
        .await
        .expect("accepted");
    let deleting = deleting
        .left()
        .expect("the object is returned while finalizers remain");
    let stamp = deleting
        .metadata
        .deletion_timestamp
        .clone()
        .expect("deletionTimestamp");
    assert_eq!(deleting.metadata.generation, Some(2));
    let again = eps
        .delete("logs", &DeleteParams::default())
        .await
        .expect("again")
        .left()
        .expect("object");
    assert_eq!(again.metadata.deletion_timestamp, Some(stamp), "set once");
    let more =
        Patch::Merge(json!({"metadata": {"finalizers": [vpce_rollout::api::FINALIZER, "example.com/more"]}}));
    let refused = api_error(
        eps.patch("logs", &PatchParams::default(), &more)
            .await
            .expect_err("no new finalizers"),
    );
    assert_eq!(refused.code, 422);
    assert!(
        refused
            .message
            .contains("no new finalizers can be added if the object is being deleted"),
        "{}",
        refused.message
    );
    merge(&eps, "logs", json!({"metadata": {"finalizers": []}}))
        .await
        .expect("last finalizer removed");
    assert!(eps.get_opt("logs").await.expect("get").is_none());
}

#[tokio::test]
async fn watches_stream_changes_and_resume_from_a_resource_version() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    let start = eps
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    h.create("a").await;
    merge(&eps, "a", json!({"spec": {"region": "eu-west-1"}}))
        .await
        .expect("patched");
    eps.delete("a", &DeleteParams::default()).await.expect("deleted");
    // Resuming from before the three writes replays them, in order.
    let mut stream = eps
        .watch(&WatchParams::default().timeout(3), &start)
        .await
        .expect("watch")
        .boxed();
    let mut kinds = Vec::new();
    while let Some(ev) = stream.try_next().await.expect("event") {
        kinds.push(match ev {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("{e:?}"),
        });
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
    // A label selector turns objects moving out of the selection into DELETED events.
    let now = eps
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("rv");
    let mut labelled = endpoint("b");
    labelled.metadata.labels = Some([("team".to_string(), "x".to_string())].into());
    eps.create(&PostParams::default(), &labelled)
        .await
        .expect("created");
    merge(&eps, "b", json!({"metadata": {"labels": {"team": "y"}}}))
        .await
        .expect("relabelled");
    let mut stream = eps
        .watch(&WatchParams::default().labels("team=x").timeout(2), &now)
        .await
        .expect("watch")
        .boxed();
    let mut seen = Vec::new();
    while let Some(ev) = stream.try_next().await.expect("event") {
        match ev {
            WatchEvent::Added(o) => seen.push(("ADDED", o.labels()["team"].clone())),
            WatchEvent::Deleted(o) => seen.push(("DELETED", o.labels()["team"].clone())),
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, [("ADDED", "x".to_string()), ("DELETED", "y".to_string())]);
}

#[tokio::test]
async fn watches_send_bookmarks_when_asked_and_end_at_their_timeout() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    h.create("a").await;
    let rv = h.server.resource_version().to_string();
    let started = std::time::Instant::now();
    let stream = eps
        .watch(
            &WatchParams {
                bookmarks: true,
                ..WatchParams::default()
            }
            .timeout(2),
            &rv,
        )
        .await
        .expect("watch");
    let events: Vec<_> = stream.try_collect().await.expect("events");
    assert!(started.elapsed() >= Duration::from_secs(2) && started.elapsed() < Duration::from_secs(5));
    assert!(!events.is_empty());
    for ev in events {
        match ev {
            WatchEvent::Bookmark(b) => assert_eq!(b.metadata.resource_version, rv),
            other => panic!("only bookmarks expected, got {other:?}"),
        }
    }
    let quiet = eps
        .watch(&WatchParams::default().disable_bookmarks().timeout(1), &rv)
        .await
        .expect("watch");
    assert!(
        quiet.try_collect::<Vec<_>>().await.expect("events").is_empty(),
        "no bookmarks unless asked"
    );
}

#[tokio::test]
async fn a_watch_from_a_compacted_resource_version_gets_410_expired() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    let old = h.server.resource_version().to_string();
    h.create("a").await;
    h.server.compact();
    let mut stream = eps
        .watch(&WatchParams::default().timeout(2), &old)
        .await
        .expect("200 then an ERROR event")
        .boxed();
    match stream.try_next().await.expect("event") {
        Some(WatchEvent::Error(e)) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
            assert!(
                e.message
                    .starts_with(&format!("too old resource version: {old} (")),
                "{}",
                e.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    assert!(stream.try_next().await.expect("end").is_none());
}

#[tokio::test]
async fn the_kube_runtime_watcher_and_reflector_follow_the_server() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    h.create("before").await;
    let (reader, writer) = kube::runtime::reflector::store::<InterfaceEndpoint>();
    let stream = kube::runtime::reflector(
        writer,
        kube::runtime::watcher(
            eps.clone(),
            kube::runtime::watcher::Config::default().page_size(1),
        ),
    );
    let task = tokio::spawn(stream.applied_objects().for_each(|_| async {}));
    reader.wait_until_ready().await.expect("initial list");
    h.create("after").await;
    eps.delete("before", &DeleteParams::default())
        .await
        .expect("deleted");
    let names = support::eventually(|| {
        let mut names: Vec<String> = reader.state().iter().map(|o| o.name_any()).collect();
        names.sort();
        (names == ["after"]).then_some(names)
    })
    .await;
    assert_eq!(names, ["after"]);
    // After a compaction the watcher relists (410) and still converges.
    h.server.compact();
    h.create("later").await;
    support::eventually(|| (reader.state().len() == 2).then_some(())).await;
    task.abort();
}

#[tokio::test]
async fn a_streaming_list_watcher_gets_initial_events_and_the_end_bookmark() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    h.create("a").await;
    let config = kube::runtime::watcher::Config::default().streaming_lists();
    let mut events = kube::runtime::watcher(eps.clone(), config).boxed();
    let mut applied = Vec::new();
    while let Some(ev) = events.try_next().await.expect("event") {
        match ev {
            kube::runtime::watcher::Event::InitApply(o) => applied.push(o.name_any()),
            kube::runtime::watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(applied, ["a"]);
}

#[tokio::test]
async fn a_controller_with_the_finalizer_helper_ssa_status_and_events_runs_to_deletion() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    let handle = tokio::spawn(support::run_controller(h.client.clone()));
    h.create("logs").await;
    let ready = support::eventually_async(|| async {
        let e = eps.get("logs").await.ok()?;
        (e.status.as_ref()?.phase == vpce_rollout::api::RolloutPhase::Ready).then_some(e)
    })
    .await;
    assert_eq!(ready.finalizers(), [vpce_rollout::api::FINALIZER]);
    let status_owner = ready
        .metadata
        .managed_fields
        .as_ref()
        .expect("managedFields")
        .iter()
        .find(|m| m.subresource.as_deref() == Some("status"))
        .expect("status manager");
    assert_eq!(status_owner.manager.as_deref(), Some("test-controller"));
    assert_eq!(status_owner.operation.as_deref(), Some("Apply"));
    assert_eq!(ready.status.as_ref().and_then(|s| s.observed_generation), Some(1));
    eps.delete("logs", &DeleteParams::default())
        .await
        .expect("deleting");
    support::eventually_async(|| async { eps.get_opt("logs").await.ok()?.is_none().then_some(()) }).await;
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(h.client.clone(), "default");
    let reasons: Vec<String> = events
        .list(&ListParams::default())
        .await
        .expect("events")
        .iter()
        .filter_map(|e| e.reason.clone())
        .collect();
    assert!(
        reasons.contains(&"Reconciled".to_string()) && reasons.contains(&"CleanedUp".to_string()),
        "{reasons:?}"
    );
    handle.abort();
}

#[tokio::test]
async fn invalid_custom_resources_get_422_with_field_causes_and_unknown_fields_are_pruned() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    let mut e = endpoint("bad");
    e.spec.vpc_id = "vpc-nope".into();
    e.spec.subnet_ids = vec![];
    let invalid = api_error(eps.create(&PostParams::default(), &e).await.expect_err("invalid"));
    assert_eq!((invalid.code, invalid.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        invalid.message,
        "InterfaceEndpoint.vpce-rollout.dev \"bad\" is invalid: [spec.subnetIds: Invalid value: 0: spec.subnetIds in body should have at least 1 items, spec.vpcId: Invalid value: \"vpc-nope\": spec.vpcId in body should match '^vpc-[0-9a-f]{8,17}$']"
    );
    let details = invalid.details.expect("details");
    assert_eq!(details.kind, "InterfaceEndpoint");
    let fields: Vec<String> = details.causes.iter().map(|c| c.field.clone()).collect();
    assert_eq!(fields, ["spec.subnetIds", "spec.vpcId"]);
    // Unknown fields are dropped, with a warning unless asked to be strict.
    let mut body = serde_json::to_value(endpoint("extra")).expect("json");
    body["spec"]["colour"] = json!("blue");
    let (code, created) = raw(&h.client, "POST", ENDPOINTS, None, Some(body.clone())).await;
    assert_eq!(code, 201);
    assert!(created["spec"].get("colour").is_none());
    assert_eq!(
        created["spec"]["privateDns"],
        json!({"enabled": true, "force": false}),
        "defaults applied"
    );
    body["metadata"]["name"] = json!("strict");
    let (code, status) = raw(
        &h.client,
        "POST",
        &format!("{ENDPOINTS}?fieldValidation=Strict"),
        None,
        Some(body),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        status["message"],
        "InterfaceEndpoint in version \"v1alpha1\" cannot be handled as a InterfaceEndpoint: strict decoding error: unknown field \"spec.colour\""
    );
}

#[tokio::test]
async fn errors_are_statuses_with_the_real_reason_and_code() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    let missing = api_error(eps.get("nope").await.expect_err("missing"));
    assert_eq!(
        (missing.code, missing.reason.as_str(), missing.status),
        (
            404,
            "NotFound",
            Some(kube::core::response::StatusSummary::Failure)
        )
    );
    assert_eq!(
        missing.message,
        "interfaceendpoints.vpce-rollout.dev \"nope\" not found"
    );
    let details = missing.details.expect("details");
    assert_eq!(
        (
            details.name.as_str(),
            details.group.as_str(),
            details.kind.as_str()
        ),
        ("nope", "vpce-rollout.dev", "interfaceendpoints")
    );
    let (code, status) = raw(
        &h.client,
        "PUT",
        &format!("{ENDPOINTS}/x"),
        None,
        Some(json!({
        "apiVersion": "vpce-rollout.dev/v1alpha1", "kind": "InterfaceEndpoint", "metadata": {"name": "y"}})),
    )
    .await;
    assert_eq!((code, status["reason"].as_str()), (404, Some("NotFound")));
    h.create("x").await;
    let (code, status) = raw(
        &h.client,
        "PUT",
        &format!("{ENDPOINTS}/x"),
        None,
        Some(json!({
        "apiVersion": "vpce-rollout.dev/v1alpha1", "kind": "InterfaceEndpoint", "metadata": {"name": "y"}})),
    )
    .await;
    assert_eq!(
        (code, status["message"].as_str()),
        (
            400,
            Some("the name of the object (y) does not match the name on the URL (x)")
        )
    );
    let dp = DeleteParams::default().preconditions(kube::api::Preconditions {
        uid: Some("wrong".into()),
        resource_version: None,
    });
    let pre = api_error(eps.delete("x", &dp).await.expect_err("precondition"));
    assert_eq!((pre.code, pre.reason.as_str()), (409, "Conflict"));
}

#[tokio::test]
async fn tables_use_the_printer_columns_and_format_ages() {
    let h = Harness::start().await;
    let eps = h.endpoints();
    h.create("logs").await;
    eps.patch_status(
        "logs",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"status": {"phase": "Ready", "privateDnsEnabled": true, "endpointId": "vpce-0123"}}),
        ),
    )
    .await
    .expect("status");
    let (code, table) = support::raw_accept(
        &h.client,
        ENDPOINTS,
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(table["kind"], "Table");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        columns,
        ["Name", "Phase", "Endpoint", "Private DNS", "Clients", "Age"]
    );
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[0], "logs");
    assert_eq!(cells[1], "Ready");
    assert_eq!(cells[2], "vpce-0123");
    assert_eq!(cells[3], true);
    assert_eq!(cells[4], Value::Null, "missing values are null cells");
    let age = cells[5].as_str().expect("age");
    assert!(
        age.ends_with('s') && age.trim_end_matches('s').parse::<u32>().is_ok(),
        "{age}"
    );
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

#[test]
fn kubectl_applies_gets_patches_and_deletes_a_custom_resource() {
    let server = support::server();
    let kubectl = support::Kubectl::new(&server);
    let manifest = support::write_temp(
        "endpoint.yaml",
        "apiVersion: vpce-rollout.dev/v1alpha1
kind: InterfaceEndpoint
metadata:
  name: logs
spec:
  vpcId: vpc-0a1b2c3d
  serviceName: com.amazonaws.ap-northeast-1.logs
  subnetIds: [subnet-0000000a]
  securityGroupIds: [sg-0000000a]
",
    );
    let out = kubectl.run(&["apply", "-f", manifest.to_str().expect("utf-8")]);
    assert_eq!(out.trim(), "interfaceendpoint.vpce-rollout.dev/logs created");
    let json: Value =
        serde_json::from_str(&kubectl.run(&["get", "vpce", "logs", "-o", "json"])).expect("json");
    assert_eq!(json["spec"]["vpcId"], "vpc-0a1b2c3d");
    assert_eq!(
        json["spec"]["deletionPolicy"], "Delete",
        "defaulted by the server"
    );
    assert!(json["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].is_string());
    let out = kubectl.run(&[
        "patch",
        "interfaceendpoint",
        "logs",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"region":"ap-northeast-1"}}"#,
    ]);
    assert_eq!(out.trim(), "interfaceendpoint.vpce-rollout.dev/logs patched");
    let out = kubectl.run(&[
        "patch",
        "interfaceendpoint",
        "logs",
        "--subresource",
        "status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"phase":"Ready"}}"#,
    ]);
    assert_eq!(out.trim(), "interfaceendpoint.vpce-rollout.dev/logs patched");
    let table = kubectl.run(&["get", "interfaceendpoints"]);
    let lines: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        lines[0],
        ["NAME", "PHASE", "ENDPOINT", "PRIVATE", "DNS", "CLIENTS", "AGE"]
    );
    assert_eq!(&lines[1][..2], ["logs", "Ready"]);
    let out = kubectl.run(&["apply", "-f", manifest.to_str().expect("utf-8")]);
    assert_eq!(out.trim(), "interfaceendpoint.vpce-rollout.dev/logs unchanged");
    let out = kubectl.run(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        manifest.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        out.trim(),
        "interfaceendpoint.vpce-rollout.dev/logs serverside-applied"
    );
    let bad = kubectl.fail(&[
        "patch",
        "interfaceendpoint",
        "logs",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"vpcId":"nope"}}"#,
    ]);
    assert!(bad.contains("spec.vpcId in body should match"), "{bad}");
    let out = kubectl.run(&["delete", "interfaceendpoint", "logs"]);
    assert_eq!(out.trim(), "interfaceendpoint.vpce-rollout.dev \"logs\" deleted");
    let gone = kubectl.fail(&["get", "interfaceendpoint", "logs"]);
    assert!(gone.contains("NotFound"), "{gone}");
}

#[test]
fn kubectl_sees_namespaces_leases_and_events_as_tables() {
    let server = support::server();
    let kubectl = support::Kubectl::new(&server);
    let ns = kubectl.run(&["get", "namespaces"]);
    assert!(
        ns.lines()
            .next()
            .expect("header")
            .split_whitespace()
            .eq(["NAME", "STATUS", "AGE"]),
        "{ns}"
    );
    assert!(ns.contains("kube-system"));
    kubectl.run(&["create", "namespace", "team-a"]);
    let lease = support::write_temp(
        "lease.yaml",
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: leader\n  namespace: team-a\nspec:\n  holderIdentity: pod-a\n  leaseDurationSeconds: 15\n",
    );
    kubectl.run(&["apply", "-f", lease.to_str().expect("utf-8")]);
    let leases = kubectl.run(&["get", "leases", "-n", "team-a"]);
    assert!(
        leases
            .lines()
            .nth(1)
            .expect("row")
            .split_whitespace()
            .take(2)
            .eq(["leader", "pod-a"]),
        "{leases}"
    );
    let out = kubectl.run(&["delete", "namespace", "team-a"]);
    assert_eq!(out.trim(), "namespace \"team-a\" deleted");
}

#[test]
fn the_kubeconfig_is_removed_when_the_server_stops() {
    let server = support::server();
    let path = server.kubeconfig_path().to_path_buf();
    assert!(
        std::fs::read_to_string(&path)
            .expect("written")
            .contains(&server.url())
    );
    let crd = InterfaceEndpoint::crd();
    assert_eq!(
        crd.meta().name.as_deref(),
        Some("interfaceendpoints.vpce-rollout.dev")
    );
    drop(server);
    assert!(!path.exists());
}
