//! `spec.tags` after creation: an edit is applied to the object's endpoint.
//!
//! CreateVpcEndpoint carries the spec's tags; later edits are applied with CreateTags (a key
//! added, or a value changed) and DeleteTags (a key dropped from the spec). Only keys the spec
//! set are ever deleted: `status.specTagKeys` records them, so that a tag someone else put on
//! the endpoint (the console's `Name`, Terraform's tags on an adopted endpoint) is left alone,
//! and the ownership tags never leave it (the spec cannot name them: [`crate::api::validation`]).
//!
//! A key stays recorded while the endpoint still carries it and the spec no longer names it:
//! a DeleteTags that failed, or was withheld (observe-only), is asked again on the next pass.
//! Tags never change who reaches the endpoint, so they are applied in any phase, after the
//! step's own actions: a refused tag call (a policy without DeleteTags) stops nothing else.

use std::collections::BTreeSet;

use super::{Action, PlanInput, Step, cluster, location};
use crate::api::{GROUP, InterfaceEndpointSpec, InterfaceEndpointStatus};
use crate::model::{Tag, VpcEndpoint, tag_pairs};

/// What must change for `endpoint` to carry `spec.tags`: the tags to set, the keys to delete.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagChange {
    pub set: Vec<Tag>,
    pub remove: Vec<String>,
}

/// The change of `endpoint`'s tags that `spec.tags` asks for, given the keys an earlier spec
/// set (`status.specTagKeys`).
pub fn change(
    spec: &InterfaceEndpointSpec,
    status: &InterfaceEndpointStatus,
    endpoint: &VpcEndpoint,
) -> TagChange {
    let set = spec
        .tags
        .iter()
        .filter(|(key, value)| !endpoint.tags.iter().any(|t| &t.key == *key && &t.value == *value))
        .map(|(key, value)| Tag {
            key: key.clone(),
            value: value.clone(),
        })
        .collect();
    let reserved = format!("{GROUP}/");
    let remove = status
        .spec_tag_keys
        .iter()
        .filter(|key| !spec.tags.contains_key(*key))
        .filter(|key| !key.starts_with(&reserved) && !key.to_ascii_lowercase().starts_with("aws:"))
        .filter(|key| endpoint.tags.iter().any(|t| &t.key == *key))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    TagChange { set, remove }
}

/// `status.specTagKeys` after this pass: the spec's keys, and the keys an earlier spec set that
/// the endpoint still carries (deleted on a later pass if this one does not). Without an
/// endpoint in sight, nothing recorded is forgotten.
pub fn recorded_keys(
    spec: &InterfaceEndpointSpec,
    status: &InterfaceEndpointStatus,
    endpoint: Option<&VpcEndpoint>,
) -> Vec<String> {
    let mut keys: BTreeSet<String> = spec.tags.keys().cloned().collect();
    for key in &status.spec_tag_keys {
        if endpoint.is_none_or(|e| e.tags.iter().any(|t| &t.key == key)) {
            keys.insert(key.clone());
        }
    }
    keys.into_iter().collect()
}

/// `step`, followed by the tag calls that make the object's endpoint carry `spec.tags`. Only
/// on an endpoint that is this object's (both ownership tags), of no other cluster, and not
/// being deleted.
pub(crate) fn applied<'a>(input: &PlanInput<'a>, mut step: Step<'a>) -> Step<'a> {
    let Some(endpoint) = step.endpoint else {
        return step;
    };
    if !input.owner.owns(tag_pairs(&endpoint.tags))
        || cluster::other(&endpoint.tags, input.config.cluster_name.as_deref()).is_some()
        || location::is_deleting(endpoint)
        || endpoint.state_lower() == "deleted"
    {
        return step;
    }
    let TagChange { set, remove } = change(input.spec, input.status, endpoint);
    let id = &endpoint.vpc_endpoint_id;
    if !set.is_empty() {
        step.actions.push(Action::SetEndpointTags {
            vpc_endpoint_id: id.clone(),
            tags: set,
        });
    }
    if !remove.is_empty() {
        step.actions.push(Action::RemoveEndpointTags {
            vpc_endpoint_id: id.clone(),
            keys: remove,
        });
    }
    step
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::api::{OWNER_TAG, RolloutPhase};
    use crate::model::tags_from;
    use crate::plan::fixtures::*;
    use crate::plan::{EventReason, decide, events};

    fn ready_world(tags: &[(&str, &str)]) -> crate::model::Snapshot {
        let mut world = with_endpoint(incident_world(), "available", true);
        world.vpc_endpoints[0].tags = tags_from(owner().tags());
        world.vpc_endpoints[0]
            .tags
            .extend(tags_from(tags.iter().copied()));
        world
    }

    fn ready_status() -> InterfaceEndpointStatus {
        let mut status = created_status(now_minus(3600));
        status.phase = RolloutPhase::Ready;
        status.endpoint_state = Some("available".into());
        status.private_dns_enabled = true;
        status
    }

    fn spec_tagged(tags: &[(&str, &str)]) -> InterfaceEndpointSpec {
        InterfaceEndpointSpec {
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            ..spec()
        }
    }

    fn tag_actions(actions: &[Action]) -> Vec<&Action> {
        actions
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    Action::SetEndpointTags { .. } | Action::RemoveEndpointTags { .. }
                )
            })
            .collect()
    }

    #[test]
    fn a_tag_added_or_changed_in_the_spec_is_set_on_the_endpoint_without_touching_others() {
        // The console's Name tag was never the spec's: left alone.
        let world = ready_world(&[("team", "platform"), ("Name", "by-hand")]);
        let spec = spec_tagged(&[("team", "payments"), ("cost-center", "42")]);
        let analysis = Ok(reachable_analysis());
        let status = ready_status();
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        let [
            Action::SetEndpointTags {
                vpc_endpoint_id,
                tags,
            },
        ] = tag_actions(&d.actions)[..]
        else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(vpc_endpoint_id, ENDPOINT);
        assert_eq!(*tags, tags_from([("cost-center", "42"), ("team", "payments")]));
        assert_eq!(d.status.spec_tag_keys, ["cost-center", "team"]);
        let event = events::for_action(tag_actions(&d.actions)[0], &spec).unwrap();
        assert_eq!(event.reason, EventReason::EndpointTagsUpdated);
        assert!(event.message.contains("cost-center=42"), "{}", event.message);
    }

    #[test]
    fn a_key_dropped_from_the_spec_is_deleted_only_if_the_spec_set_it() {
        let world = ready_world(&[("team", "platform"), ("old", "x"), ("Name", "by-hand")]);
        let spec = spec_tagged(&[("team", "platform")]);
        let analysis = Ok(reachable_analysis());
        let mut status = ready_status();
        status.spec_tag_keys = vec!["old".into(), "team".into()];
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        let [Action::RemoveEndpointTags { keys, .. }] = tag_actions(&d.actions)[..] else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(keys, &["old"], "Name was never the spec's");
        // Kept in the record until the endpoint no longer carries it.
        assert_eq!(d.status.spec_tag_keys, ["old", "team"]);

        let mut after = world.clone();
        after.vpc_endpoints[0].tags.retain(|t| t.key != "old");
        let again = decide(&input_with(&spec, &after, &analysis, &d.status), &timing());
        assert!(tag_actions(&again.actions).is_empty(), "{:?}", again.actions);
        assert_eq!(again.status.spec_tag_keys, ["team"]);
    }

    #[test]
    fn ownership_keys_are_never_deleted_even_if_a_status_records_them() {
        let world = ready_world(&[]);
        let spec = spec_tagged(&[]);
        let analysis = Ok(reachable_analysis());
        let mut status = ready_status();
        status.spec_tag_keys = vec![OWNER_TAG.into(), "aws:cloudformation:stack-name".into()];
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert!(tag_actions(&d.actions).is_empty(), "{:?}", d.actions);
    }

    #[test]
    fn a_status_from_before_the_record_deletes_nothing() {
        let world = ready_world(&[("team", "platform"), ("old", "x")]);
        let spec = spec_tagged(&[("team", "platform")]);
        let analysis = Ok(reachable_analysis());
        let d = decide(&input_with(&spec, &world, &analysis, &ready_status()), &timing());
        assert!(tag_actions(&d.actions).is_empty(), "{:?}", d.actions);
        assert_eq!(d.status.spec_tag_keys, ["team"], "recorded from now on");
    }

    #[test]
    fn an_endpoint_that_is_not_the_objects_is_never_retagged() {
        let mut world = ready_world(&[]);
        world.vpc_endpoints[0].tags = tags_from([(OWNER_TAG, "payments/logs")]);
        let spec = spec_tagged(&[("team", "x")]);
        let analysis = Ok(reachable_analysis());
        let d = decide(&input_with(&spec, &world, &analysis, &ready_status()), &timing());
        assert!(tag_actions(&d.actions).is_empty(), "{:?}", d.actions);
    }

    #[test]
    fn the_record_keeps_what_it_cannot_check_without_an_endpoint() {
        let spec = spec_tagged(&[("a", "1")]);
        let mut status = ready_status();
        status.spec_tag_keys = vec!["b".into()];
        assert_eq!(recorded_keys(&spec, &status, None), ["a", "b"]);
    }
}
