//! Endpoints that exist already: taking one over instead of creating one, and keeping two
//! clusters off one endpoint.
//!
//! An existing endpoint becomes the object's when
//! - `spec.adopt.vpcEndpointId` names it (made by Terraform, CloudFormation, the console), or
//! - it carries the object's owner tag (`<namespace>/<name>`) with another UID and this
//!   cluster's tag: the object was restored (Velero) or re-created, and this is the endpoint
//!   its earlier self made. Without a cluster name, or on an endpoint that names no cluster,
//!   the controller cannot tell it from another cluster's object of the same name, and asks for
//!   `spec.adopt` instead of creating a second endpoint.
//!
//! [`decide`] says whether it may be taken: observed in the spec's VPC (through the spec's
//! region's port), of the spec's service, in a state it can serve from, and carrying no other
//! object's owner tag and no other cluster's tag. Taking it over is one pass, phase Adopting:
//! it is tagged as the object's (and the cluster's), and so are the rules an earlier object of
//! the same name added. Nothing else about it changes in that pass: subnets, security groups or
//! a policy that differ from the spec are reported, and the next passes apply the spec as for
//! any spec change (checked against the clients first); private DNS is left as it is (on: the
//! clients are verified, and blocked ones are Degraded; off: the rollout goes on as usual).
//! Rules that existed before carry no ownership tags, so they are never the object's and never
//! revoked.
//!
//! An endpoint that is the object's already but carries another cluster's tag (an object
//! restored from an etcd snapshot into a second cluster keeps its UID) is refused
//! (`ManagedByAnotherCluster`): nothing is changed, and deleting the object leaves it
//! ([`other_cluster`]). One that is the object's and names no cluster, while the controller
//! has a name, is claimed: the cluster tag is added in the same pass as the rollout's step
//! ([`claim`]).

use super::cluster;
use super::drift::spec_change;
use super::location::{self, is_deleting, is_gone};
use super::{Action, PlanInput, Step, TagEndpoint, TagRules, Takeover, Timing, not_ready};
use crate::analysis::Analysis;
use crate::api::conditions::{ConditionReason, ConditionType, ConditionUpdate};
use crate::api::{OWNER_TAG, Owner, RolloutPhase, UID_TAG};
use crate::model::{VpcEndpoint, tag_pairs, tags_from};

/// States an endpoint does not serve from again: it is not worth taking over.
const UNUSABLE_STATES: [&str; 5] = ["deleting", "deleted", "failed", "rejected", "expired"];

/// The step when an endpoint that exists already decides it: one to take over, or one that
/// must be left alone. `None`: the object's own endpoint, or none at all, and the rollout goes
/// on as usual.
pub(crate) fn decide<'a>(input: &PlanInput<'a>, analysis: &'a Analysis, timing: &Timing) -> Option<Step<'a>> {
    let ours = input.config.cluster_name.as_deref();
    let named = input.spec.adopt.as_ref().map(|a| a.vpc_endpoint_id.as_str());
    if let Some(owned) = location::owned_endpoint(input) {
        if let Some(theirs) = cluster::other(&owned.tags, ours) {
            return Some(refused(
                input,
                analysis,
                ConditionReason::ManagedByAnotherCluster,
                managed_elsewhere(owned, theirs, ours),
                timing,
            ));
        }
        return match named {
            Some(id) if id != owned.vpc_endpoint_id => Some(refused(
                input,
                analysis,
                ConditionReason::AdoptionRefused,
                format!(
                    "spec.adopt.vpcEndpointId names {id}, but this object manages {} already. Remove \
                     spec.adopt, or delete this object (with deletionPolicy: Retain to keep {}) and \
                     create one that adopts {id}",
                    owned.vpc_endpoint_id, owned.vpc_endpoint_id
                ),
                timing,
            )),
            _ => None,
        };
    }
    // An endpoint this object took over before and that is gone since is its own endpoint's
    // business (re-created like one the controller made), not an adoption.
    // Nor is an earlier object's endpoint taken over beside one this object made already and
    // EC2 does not list yet (eventual consistency): that would be two endpoints for one object.
    let judged = match named {
        Some(id) if input.status.endpoint_id.as_deref() != Some(id) => Some(named_endpoint(input, id)),
        _ => restored_endpoint(input).filter(|judged| match (&input.status.endpoint_id, judged) {
            (Some(own), Ok((earlier, _))) => earlier.vpc_endpoint_id == *own,
            _ => true,
        }),
    };
    Some(match judged? {
        Ok((endpoint, takeover)) => take_over(input, analysis, endpoint, takeover, timing),
        Err((reason, message)) => refused(input, analysis, reason, message, timing),
    })
}

/// A refusal: the condition reason and the message.
type Refusal = (ConditionReason, String);

/// The endpoint `spec.adopt` names, if it may be taken.
fn named_endpoint<'a>(input: &PlanInput<'a>, id: &str) -> Result<(&'a VpcEndpoint, Takeover), Refusal> {
    let Some(endpoint) = input
        .world
        .vpc_endpoints
        .iter()
        .find(|e| e.vpc_endpoint_id == id && !is_gone(e))
    else {
        let region = input.region.map(|r| format!(" ({r})")).unwrap_or_default();
        return Err((
            ConditionReason::AdoptionRefused,
            format!(
                "spec.adopt.vpcEndpointId {id} is not an endpoint in {}{region}: check the id, spec.vpcId \
                 and spec.region (remove spec.adopt to create a new endpoint instead)",
                location::vpc(input.spec, input.status)
            ),
        ));
    };
    judge(input, endpoint)?;
    let takeover = match (tag(endpoint, OWNER_TAG), tag(endpoint, UID_TAG)) {
        (Some(owner), Some(uid)) if owner == input.owner.owner_tag() => Takeover::Restore {
            earlier_uid: uid.to_string(),
        },
        _ => Takeover::Adopt,
    };
    Ok((endpoint, takeover))
}

/// The endpoint an earlier object of the same name made, if there is one (`None`) and it may
/// be taken.
fn restored_endpoint<'a>(input: &PlanInput<'a>) -> Option<Result<(&'a VpcEndpoint, Takeover), Refusal>> {
    let owner_tag = input.owner.owner_tag();
    let earlier: Vec<&VpcEndpoint> = input
        .world
        .vpc_endpoints
        .iter()
        .filter(|e| tag(e, OWNER_TAG) == Some(owner_tag.as_str()) && !is_gone(e) && !is_deleting(e))
        .collect();
    let endpoint = match earlier.as_slice() {
        [] => return None,
        [one] => *one,
        several => {
            let ids: Vec<&str> = several.iter().map(|e| e.vpc_endpoint_id.as_str()).collect();
            return Some(Err((
                ConditionReason::AdoptionRefused,
                format!(
                    "Endpoints {} all carry this object's owner tag ({OWNER_TAG}={owner_tag}) from \
                     earlier objects of the same name: set spec.adopt.vpcEndpointId to the one to take \
                     over",
                    ids.join(", ")
                ),
            )));
        }
    };
    let id = &endpoint.vpc_endpoint_id;
    let ours = input.config.cluster_name.as_deref();
    if let Err(refusal) = judge(input, endpoint) {
        return Some(Err(refusal));
    }
    if cluster::of(&endpoint.tags).is_none() {
        let why = if ours.is_some() {
            "names no cluster (made before a cluster name was set, or by a controller without one)"
        } else {
            "cannot be told from another cluster's: this controller has no --cluster-name"
        };
        return Some(Err((
            ConditionReason::AdoptionRefused,
            format!(
                "Endpoint {id} carries this object's owner tag ({OWNER_TAG}={owner_tag}) from an earlier \
                 object of the same name, and {why}. To take it over, set spec.adopt.vpcEndpointId: {id}; \
                 nothing is created meanwhile, so that there is never a second endpoint"
            ),
        )));
    }
    let earlier_uid = tag(endpoint, UID_TAG).unwrap_or_default().to_string();
    Some(Ok((endpoint, Takeover::Restore { earlier_uid })))
}

/// Whether `endpoint`, found in the spec's VPC, may become this object's.
fn judge(input: &PlanInput<'_>, endpoint: &VpcEndpoint) -> Result<(), Refusal> {
    let id = &endpoint.vpc_endpoint_id;
    let refuse = |message: String| Err((ConditionReason::AdoptionRefused, message));
    let ours = input.config.cluster_name.as_deref();
    if let Some(theirs) = cluster::other(&endpoint.tags, ours) {
        return Err((
            ConditionReason::ManagedByAnotherCluster,
            managed_elsewhere(endpoint, theirs, ours),
        ));
    }
    if let Some(owner) = tag(endpoint, OWNER_TAG)
        && owner != input.owner.owner_tag()
    {
        return refuse(format!(
            "Endpoint {id} is the InterfaceEndpoint {owner}'s ({OWNER_TAG}): an endpoint is managed by \
             one object only"
        ));
    }
    if endpoint.service_name != input.spec.service_name {
        return refuse(format!(
            "Endpoint {id} serves {}, and spec.serviceName is {}: an endpoint cannot change service",
            endpoint.service_name, input.spec.service_name
        ));
    }
    let state = endpoint.state_lower();
    if UNUSABLE_STATES.contains(&state.as_str()) {
        return refuse(format!(
            "Endpoint {id} is {state}: it does not serve again. Remove spec.adopt to create a new one"
        ));
    }
    Ok(())
}

/// The Adopting step: tag the endpoint (and the earlier object's rules), nothing else.
fn take_over<'a>(
    input: &PlanInput<'a>,
    analysis: &'a Analysis,
    endpoint: &'a VpcEndpoint,
    takeover: Takeover,
    timing: &Timing,
) -> Step<'a> {
    let id = &endpoint.vpc_endpoint_id;
    let ours = input.config.cluster_name.as_deref();
    let tags = cluster::ec2_tags(input.owner, ours);
    let mut step = Step::new(input, RolloutPhase::Adopting, timing.after_change);
    step.endpoint = Some(endpoint);
    step.analysis = Some(analysis);
    let (from, rules) = match &takeover {
        Takeover::Restore { earlier_uid } => (
            format!("made by an earlier object of the same name (UID {earlier_uid})"),
            Some(TagRules {
                rule_ids: earlier_rules(input, earlier_uid),
                earlier_owner_tags: tags_from(
                    Owner {
                        uid: earlier_uid.clone(),
                        ..input.owner.clone()
                    }
                    .tags(),
                ),
                tags: tags.clone(),
            }),
        ),
        Takeover::Adopt => ("named by spec.adopt.vpcEndpointId".to_string(), None),
        Takeover::Claim => (
            "this object's, made before a cluster name was set".to_string(),
            None,
        ),
    };
    step.actions.push(Action::TagEndpoint(TagEndpoint {
        vpc_endpoint_id: id.clone(),
        tags,
        takeover,
    }));
    if let Some(rules) = rules.filter(|r| !r.rule_ids.is_empty()) {
        step.actions.push(Action::TagRules(rules));
    }
    let dns = if endpoint.private_dns_enabled { "on" } else { "off" };
    let mut message = format!(
        "Taking over endpoint {id} ({from}): tagging it as this object's; private DNS is {dns} and stays so"
    );
    if let Some(change) = spec_change(input.spec, endpoint) {
        message.push_str(&format!(
            ". It differs from the spec ({}): the next passes change it to match, after checking the \
             clients, as for any spec change; to keep it as it is, write it into the spec",
            change.summary
        ));
    }
    step.conditions.ready = Some(not_ready(ConditionReason::InProgress, message));
    step
}

/// The rules an earlier object of the same name added (both its ownership tags), and no other
/// cluster's.
fn earlier_rules(input: &PlanInput<'_>, earlier_uid: &str) -> Vec<String> {
    let owner_tag = input.owner.owner_tag();
    let ours = input.config.cluster_name.as_deref();
    input
        .world
        .security_group_rules
        .iter()
        .filter(|r| {
            let tags: Vec<(&str, &str)> = tag_pairs(&r.tags).collect();
            tags.contains(&(OWNER_TAG, owner_tag.as_str()))
                && tags.contains(&(UID_TAG, earlier_uid))
                && cluster::other(&r.tags, ours).is_none()
        })
        .map(|r| r.security_group_rule_id.clone())
        .collect()
}

/// Phase Failed, nothing changed or created: the endpoint must be left alone, or the spec
/// changed. Looked at again after the usual wait on a person (or a spec edit).
fn refused<'a>(
    input: &PlanInput<'a>,
    analysis: &'a Analysis,
    reason: ConditionReason,
    message: String,
    timing: &Timing,
) -> Step<'a> {
    let mut step = Step::new(input, RolloutPhase::Failed, timing.waiting);
    step.analysis = Some(analysis);
    step.conditions.endpoint = Some(ConditionUpdate::new(
        ConditionType::EndpointAvailable,
        false,
        reason,
        message.clone(),
    ));
    step.conditions.ready = Some(not_ready(reason, message));
    step
}

/// `step` with the object's endpoint tagged with this cluster's name first, when it carries
/// none yet (made before the controller had one).
pub(crate) fn claim<'a>(input: &PlanInput<'a>, mut step: Step<'a>) -> Step<'a> {
    let Some(ours) = input.config.cluster_name.as_deref() else {
        return step;
    };
    let Some(endpoint) = step.endpoint else {
        return step;
    };
    if !input.owner.owns(tag_pairs(&endpoint.tags))
        || cluster::of(&endpoint.tags).is_some()
        || is_gone(endpoint)
    {
        return step;
    }
    step.actions.insert(
        0,
        Action::TagEndpoint(TagEndpoint {
            vpc_endpoint_id: endpoint.vpc_endpoint_id.clone(),
            tags: cluster::ec2_tags(input.owner, Some(ours)),
            takeover: Takeover::Claim,
        }),
    );
    step
}

/// The cluster other than this one that manages `endpoint`, which is the object's by its
/// ownership tags: deletion leaves it alone.
pub(crate) fn other_cluster<'a>(input: &PlanInput<'_>, endpoint: &'a VpcEndpoint) -> Option<&'a str> {
    cluster::other(&endpoint.tags, input.config.cluster_name.as_deref())
}

fn managed_elsewhere(endpoint: &VpcEndpoint, theirs: &str, ours: Option<&str>) -> String {
    let ours = ours.map_or_else(
        || "this controller has no --cluster-name".to_string(),
        |name| format!("this controller is cluster {name}"),
    );
    format!(
        "Endpoint {} is managed by cluster {theirs} (tag vpce-rollout.dev/cluster), and {ours}: two \
         clusters never manage one endpoint, so nothing is changed. If cluster {theirs} is gone, give \
         this controller its name (--cluster-name {theirs}), or retag the endpoint by hand",
        endpoint.vpc_endpoint_id
    )
}

fn tag<'a>(endpoint: &'a VpcEndpoint, key: &str) -> Option<&'a str> {
    endpoint
        .tags
        .iter()
        .find(|t| t.key == key)
        .map(|t| t.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Adopt, CLUSTER_TAG, InterfaceEndpointSpec, InterfaceEndpointStatus};
    use crate::model::{Snapshot, Tag, tags_from};
    use crate::plan::fixtures::*;
    use crate::plan::{Config, Decision, EventReason, decide};

    const EARLIER_UID: &str = "7c1e0f6a-0000-4000-8000-00000000e411";

    fn named(cluster: &str) -> Config {
        Config {
            cluster_name: Some(cluster.into()),
            ..Config::default()
        }
    }

    /// The fixtures' endpoint with `tags` instead of the object's.
    fn endpoint_tagged(private_dns: bool, tags: Vec<Tag>) -> Snapshot {
        let mut world = with_endpoint(incident_world(), "available", private_dns);
        world.vpc_endpoints[0].tags = tags;
        world
    }

    fn adopting(id: &str) -> InterfaceEndpointSpec {
        InterfaceEndpointSpec {
            adopt: Some(Adopt {
                vpc_endpoint_id: id.into(),
            }),
            ..spec()
        }
    }

    fn run(
        spec: &InterfaceEndpointSpec,
        world: &Snapshot,
        config: &Config,
        status: &InterfaceEndpointStatus,
    ) -> Decision {
        let analysis = Ok(reachable_analysis());
        let mut i = input_with(spec, world, &analysis, status);
        i.config = config;
        decide(&i, &timing())
    }

    fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
        tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
    }

    fn ready_reason(d: &Decision) -> (String, String) {
        let ready = condition(&d.status, ConditionType::Ready);
        (ready.reason.clone(), ready.message.clone())
    }

    #[test]
    fn an_endpoint_made_by_terraform_is_tagged_as_the_object_s_and_nothing_else_changes() {
        let world = endpoint_tagged(true, tags_from([("ManagedBy", "terraform")]));
        let d = run(&adopting(ENDPOINT), &world, &named("blue"), &Default::default());
        assert_eq!(d.status.phase, RolloutPhase::Adopting);
        let [Action::TagEndpoint(tag)] = d.actions.as_slice() else {
            panic!("only the tagging: {:?}", d.actions)
        };
        assert_eq!(tag.vpc_endpoint_id, ENDPOINT);
        assert_eq!(tag.takeover, Takeover::Adopt);
        assert!(owner().owns(tag_pairs(&tag.tags)));
        assert_eq!(tag_value(&tag.tags, CLUSTER_TAG), Some("blue"));
        assert_eq!(d.status.endpoint_id.as_deref(), Some(ENDPOINT));
        assert!(d.status.private_dns_enabled, "private DNS is left as it is");
        let reasons: Vec<EventReason> = d.events.iter().map(|e| e.reason).collect();
        assert!(reasons.contains(&EventReason::EndpointAdopted), "{reasons:?}");
        let (_, message) = ready_reason(&d);
        assert!(message.contains("private DNS is on and stays so"), "{message}");
    }

    #[test]
    fn subnets_that_differ_from_the_spec_are_reported_not_changed_while_adopting() {
        let mut world = endpoint_tagged(false, Vec::new());
        world.vpc_endpoints[0].subnet_ids = vec![SUBNET_PUBLIC.into()];
        let d = run(
            &adopting(ENDPOINT),
            &world,
            &Config::default(),
            &Default::default(),
        );
        assert!(
            d.actions.iter().all(|a| matches!(a, Action::TagEndpoint(_))),
            "{:?}",
            d.actions
        );
        let (_, message) = ready_reason(&d);
        assert!(
            message.contains(SUBNET_PUBLIC) && message.contains("write it into the spec"),
            "{message}"
        );
    }

    #[test]
    fn an_endpoint_that_cannot_be_taken_over_is_refused_and_nothing_is_created() {
        let other_object = tags_from([
            ("vpce-rollout.dev/owner", "payments/logs"),
            ("vpce-rollout.dev/uid", "u-9"),
        ]);
        let cases: [(&str, Snapshot, InterfaceEndpointSpec, &str); 4] = [
            (
                "unknown id",
                incident_world(),
                adopting("vpce-0fffffffffffffff0"),
                "is not an endpoint in",
            ),
            (
                "another object's",
                endpoint_tagged(false, other_object),
                adopting(ENDPOINT),
                "payments/logs",
            ),
            (
                "another service",
                endpoint_tagged(false, Vec::new()),
                InterfaceEndpointSpec {
                    service_name: "com.amazonaws.ap-northeast-1.monitoring".into(),
                    ..adopting(ENDPOINT)
                },
                "cannot change service",
            ),
            (
                "a state it never leaves",
                {
                    let mut w = endpoint_tagged(false, Vec::new());
                    w.vpc_endpoints[0].state = Some("failed".into());
                    w
                },
                adopting(ENDPOINT),
                "is failed",
            ),
        ];
        for (case, world, spec, words) in cases {
            let d = run(&spec, &world, &Config::default(), &Default::default());
            assert!(d.actions.is_empty(), "{case}: {:?}", d.actions);
            assert_eq!(d.status.phase, RolloutPhase::Failed, "{case}");
            let (reason, message) = ready_reason(&d);
            assert_eq!(reason, "AdoptionRefused", "{case}");
            assert!(message.contains(words), "{case}: {message}");
            assert_eq!(
                condition(&d.status, ConditionType::EndpointAvailable).reason,
                "AdoptionRefused"
            );
            assert!(d.events.iter().any(|e| e.reason == EventReason::Failed), "{case}");
            let again = run(&spec, &world, &Config::default(), &d.status);
            assert!(
                again.events.is_empty() && again.actions.is_empty(),
                "{case}: once"
            );
        }
    }

    #[test]
    fn another_cluster_s_endpoint_is_never_taken_over_changed_or_deleted() {
        let mut tags = tags_from(owner().tags());
        tags.push(Tag {
            key: CLUSTER_TAG.into(),
            value: "blue".into(),
        });
        // The object restored from blue's etcd into green: the same UID, so the endpoint is
        // "its own" by the ownership tags.
        let world = endpoint_tagged(true, tags);
        for config in [named("green"), Config::default()] {
            let d = run(&spec(), &world, &config, &Default::default());
            assert!(d.actions.is_empty(), "{:?}", d.actions);
            let (reason, message) = ready_reason(&d);
            assert_eq!(reason, "ManagedByAnotherCluster");
            assert!(message.contains("cluster blue"), "{message}");
        }
        let analysis = Ok(reachable_analysis());
        let status = Default::default();
        let mut i = input(&world, &analysis, &status);
        let green = named("green");
        i.config = &green;
        i.deleting = true;
        let d = decide(&i, &timing());
        assert!(
            d.actions.is_empty() && d.finalized,
            "deletion leaves it: {:?}",
            d.actions
        );
        assert!(ready_reason(&d).1.contains("managed by cluster blue"));
    }

    #[test]
    fn an_object_that_made_its_own_endpoint_does_not_take_over_its_earlier_selfs_beside_it() {
        let earlier = Owner {
            uid: EARLIER_UID.into(),
            ..owner()
        };
        // Its own endpoint is not listed yet; the one its earlier self left (Retain) is.
        let world = endpoint_tagged(false, cluster::ec2_tags(&earlier, Some("blue")));
        let status = InterfaceEndpointStatus {
            endpoint_id: Some("vpce-0ffffffffffffff01".into()),
            ..Default::default()
        };
        let d = run(&spec(), &world, &named("blue"), &status);
        assert!(
            !d.actions.iter().any(|a| matches!(a, Action::TagEndpoint(_))),
            "{:?}",
            d.actions
        );
        assert_ne!(d.status.phase, RolloutPhase::Adopting);
    }

    #[test]
    fn a_restored_object_takes_over_its_earlier_endpoint_and_rules_in_its_cluster() {
        let earlier = Owner {
            uid: EARLIER_UID.into(),
            ..owner()
        };
        let mut world = endpoint_tagged(true, cluster::ec2_tags(&earlier, Some("blue")));
        let mut rule = owned_rule("sgr-0aaaaaaaaaaaaaaa1", SG_VPCE, false, SG_ZABBIX);
        rule.tags = cluster::ec2_tags(&earlier, Some("blue"));
        world.security_group_rules = vec![rule];
        let d = run(&spec(), &world, &named("blue"), &Default::default());
        assert_eq!(d.status.phase, RolloutPhase::Adopting);
        let [Action::TagEndpoint(tag), Action::TagRules(rules)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(
            tag.takeover,
            Takeover::Restore {
                earlier_uid: EARLIER_UID.into()
            }
        );
        assert_eq!(tag_value(&tag.tags, UID_TAG), Some(owner().uid.as_str()));
        assert_eq!(rules.rule_ids, ["sgr-0aaaaaaaaaaaaaaa1"]);
        assert_eq!(
            rules.earlier_owner_tags,
            tags_from(earlier.tags()),
            "checked by the adapter"
        );
        assert_eq!(tag_value(&rules.tags, UID_TAG), Some(owner().uid.as_str()));
        assert!(d.events.iter().any(|e| e.reason == EventReason::RulesAdopted));

        // Without a cluster name the controller cannot tell it from another cluster's: it asks
        // for spec.adopt, and creates nothing meanwhile.
        let d = run(&spec(), &world, &Config::default(), &Default::default());
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        let (reason, message) = ready_reason(&d);
        assert_eq!(reason, "ManagedByAnotherCluster", "{message}");

        let unnamed = endpoint_tagged(true, tags_from(earlier.tags()));
        let d = run(&spec(), &unnamed, &named("blue"), &Default::default());
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        let (reason, message) = ready_reason(&d);
        assert_eq!(reason, "AdoptionRefused");
        assert!(
            message.contains(&format!("spec.adopt.vpcEndpointId: {ENDPOINT}")),
            "{message}"
        );
        // ... and with it, it is taken over, the earlier object's rules too.
        let d = run(&adopting(ENDPOINT), &unnamed, &named("blue"), &Default::default());
        assert_eq!(d.status.phase, RolloutPhase::Adopting);
    }

    #[test]
    fn the_object_s_endpoint_without_a_cluster_tag_is_claimed_in_the_rollout_s_pass() {
        let world = with_endpoint(incident_world(), "available", true);
        let mut status = created_status(now_minus(3600));
        status.phase = RolloutPhase::Ready;
        status.endpoint_state = Some("available".into());
        status.private_dns_enabled = true;
        let d = run(&spec(), &world, &named("blue"), &status);
        assert_eq!(d.status.phase, RolloutPhase::Ready);
        let [Action::TagEndpoint(tag)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(
            (tag.takeover.clone(), tag_value(&tag.tags, CLUSTER_TAG)),
            (Takeover::Claim, Some("blue"))
        );

        let d = run(&spec(), &world, &Config::default(), &status);
        assert!(d.actions.is_empty(), "no name, nothing to claim");
    }

    #[test]
    fn an_adopt_naming_another_endpoint_than_the_object_s_is_refused() {
        let world = with_endpoint(incident_world(), "available", true);
        let d = run(
            &adopting("vpce-0fffffffffffffff0"),
            &world,
            &Config::default(),
            &Default::default(),
        );
        assert!(d.actions.is_empty());
        let (reason, message) = ready_reason(&d);
        assert_eq!(reason, "AdoptionRefused");
        assert!(
            message.contains(&format!("manages {ENDPOINT} already")),
            "{message}"
        );
    }
}
