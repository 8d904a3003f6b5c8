//! The controller's writes to Kubernetes: the finalizer, the status (server-side apply under one
//! field manager) and Events. Nothing here decides; [`super::reconcile`] says what to write.

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::api::{FINALIZER, InterfaceEndpoint, InterfaceEndpointStatus};
use crate::plan::{EventNote, EventReason};

/// The field manager of everything the controller writes.
pub const FIELD_MANAGER: &str = "vpce-rollout";

/// Adds [`FINALIZER`] unless present, and returns the object as written (`None` when it was
/// there already): its resourceVersion is the one a following status write carries. The patch
/// carries the resourceVersion read, so a concurrent change of the finalizer list makes it
/// fail (409) instead of clobbering it.
pub async fn add_finalizer(
    api: &Api<InterfaceEndpoint>,
    obj: &InterfaceEndpoint,
) -> Result<Option<InterfaceEndpoint>, kube::Error> {
    if obj.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(None);
    }
    let mut finalizers = obj.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    patch_finalizers(api, obj, finalizers).await.map(Some)
}

/// Removes [`FINALIZER`]: the object's AWS side is cleaned up (or retained). `obj` must be
/// the object as the controller last wrote it (the status write's answer): the patch carries
/// its resourceVersion, and one from before that write would make every deletion end in a 409.
pub async fn remove_finalizer(
    api: &Api<InterfaceEndpoint>,
    obj: &InterfaceEndpoint,
) -> Result<(), kube::Error> {
    if !obj.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(());
    }
    let finalizers: Vec<String> = obj
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    match patch_finalizers(api, obj, finalizers).await {
        // Removing the last finalizer may delete the object before the response is built.
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        other => other.map(|_| ()),
    }
}

async fn patch_finalizers(
    api: &Api<InterfaceEndpoint>,
    obj: &InterfaceEndpoint,
    finalizers: Vec<String>,
) -> Result<InterfaceEndpoint, kube::Error> {
    let patch = json!({
        "metadata": {
            "resourceVersion": obj.resource_version(),
            "finalizers": finalizers,
        }
    });
    // Under the controller's own name: without one, kube-apiserver records the finalizer in
    // managedFields as the User-Agent's, `unknown` for kube-rs, shared with anyone else unnamed.
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PatchParams::default()
    };
    api.patch(&obj.name_any(), &params, &Patch::Merge(&patch)).await
}

/// Writes the whole status by server-side apply: fields the controller no longer sets (a plan
/// that is gone) are removed because this manager owned them. Returns the object as written
/// (its new resourceVersion is what a following finalizer patch must carry).
///
/// The apply carries the resourceVersion of `read`, the object as the pass read it: a status
/// decided from a read that another write has overtaken (a spec edit during the pass, the
/// status a new leader wrote while this deposed one's write was on the wire) is refused with
/// 409 ([`is_conflict`]) instead of replacing newer facts with older ones.
pub async fn apply_status(
    api: &Api<InterfaceEndpoint>,
    read: &InterfaceEndpoint,
    status: &InterfaceEndpointStatus,
) -> Result<InterfaceEndpoint, kube::Error> {
    let patch = json!({
        "apiVersion": InterfaceEndpoint::api_version(&()),
        "kind": InterfaceEndpoint::kind(&()),
        "metadata": {"resourceVersion": read.resource_version()},
        "status": status,
    });
    api.patch_status(
        &read.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
}

/// Whether a write was refused because the object changed since it was read (409 Conflict).
pub fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

/// Records the Events of one reconcile. A failed Event is logged, not fatal: the status carries
/// the same facts.
pub async fn publish_events(recorder: &Recorder, obj: &InterfaceEndpoint, notes: &[EventNote]) {
    let reference = obj.object_ref(&());
    for note in notes {
        let event = Event {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: note.reason.as_str().to_string(),
            note: Some(truncate(&note.message, 1024)),
            action: action_of(note.reason).to_string(),
            secondary: None,
        };
        if let Err(error) = recorder.publish(&event, &reference).await {
            tracing::warn!(reason = note.reason.as_str(), %error, "cannot record Event");
        }
    }
}

/// The Event's `action`: what the controller did (or tried) when it recorded it.
fn action_of(reason: EventReason) -> &'static str {
    match reason {
        EventReason::EndpointCreated => "CreateVpcEndpoint",
        EventReason::EndpointModified
        | EventReason::PrivateDnsEnabled
        | EventReason::PrivateDnsDisabled
        | EventReason::ForcedWithBlockedClients => "ModifyVpcEndpoint",
        EventReason::RulesAuthorized => "AuthorizeSecurityGroupRules",
        EventReason::RulesRevoked => "RevokeSecurityGroupRules",
        EventReason::RulesHandedOver => "CreateTags",
        EventReason::EndpointDeleted => "DeleteVpcEndpoints",
        _ => "Reconcile",
    }
}

/// Events notes are limited to 1 KiB by the API server.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_event_notes_are_cut_on_a_character_boundary() {
        let long = "é".repeat(600);
        let cut = truncate(&long, 1024);
        assert!(cut.len() <= 1024);
        assert!(cut.ends_with("..."));
        assert_eq!(truncate("short", 1024), "short");
    }
}
