//! The object is being deleted (`metadata.deletionTimestamp` is set, the finalizer holds it).
//!
//! `deletionPolicy: Retain` leaves the endpoint and the object's rules in AWS. `Delete` never
//! takes a path from a client while a DNS answer can still lead it to the endpoint
//! ([`super::resolution`]): it turns private DNS off, waits until it has been seen off for the
//! record TTL, deletes the object's endpoints, waits while they are `deleting`, and only once
//! they are gone revokes the rules carrying both ownership tags of this object (and no other
//! rule, whoever else refers to the same groups). A failed, throttled or pending delete leaves
//! the rules in place. The finalizer goes once nothing of the object is left; absence in AWS
//! counts as done, so it can always complete.

use std::collections::BTreeMap;

use super::resolution::{self, Resolution};
use super::rules::owned_rules;
use super::wording::{count, record_serving_first};
use super::{Action, Config, HandOver, PlanInput, RevokeRules, Step, Timing, endpoint, location, not_ready};
use crate::api::conditions::ConditionReason;
use crate::api::{DeletionPolicy, InterfaceEndpointSpec, RolloutPhase};
use crate::model::VpcEndpoint;

/// What deleting the object does: `spec.deletionPolicy`, else the controller's default.
pub fn policy(spec: &InterfaceEndpointSpec, config: &Config) -> DeletionPolicy {
    spec.deletion_policy.unwrap_or(config.default_deletion_policy)
}

pub(crate) fn decide<'a>(input: &PlanInput<'a>, timing: &Timing) -> Step<'a> {
    let mut step = Step::new(input, RolloutPhase::Deleting, timing.after_change);
    step.endpoint = location::owned_endpoint(input);
    // Another cluster's endpoint (an object restored into a second cluster keeps its UID) is
    // left as it is, with its rules: that cluster manages them.
    if let Some(endpoint) = step.endpoint
        && let Some(theirs) = super::adoption::other_cluster(input, endpoint)
    {
        step.finalized = true;
        step.conditions.ready = Some(not_ready(
            ConditionReason::Deleting,
            format!(
                "Endpoint {} is managed by cluster {theirs} (tag vpce-rollout.dev/cluster): deleting \
                 this object leaves it and its rules as they are",
                endpoint.vpc_endpoint_id
            ),
        ));
        return step;
    }
    let message = match policy(input.spec, input.config) {
        DeletionPolicy::Retain => {
            step.finalized = true;
            let owned = owned_rules(input).count();
            let kept = step.endpoint.map_or_else(
                || "no endpoint".to_string(),
                |e| format!("endpoint {}", e.vpc_endpoint_id),
            );
            format!(
                "deletionPolicy is Retain: {kept} and {} of this object are left in place",
                count(owned, "rule")
            )
        }
        DeletionPolicy::Delete => delete(input, timing, &mut step),
    };
    step.conditions.ready = Some(not_ready(ConditionReason::Deleting, message));
    step
}

/// Private DNS off, then the endpoint deleted once no cached answer can lead a client to it,
/// then the rules revoked once the endpoint is gone; returns the Ready message. Each pass does
/// one of these and looks again, so a crash between any two calls resumes at the right step
/// (what was done is seen in AWS, the time private DNS went off is in the status).
fn delete<'a>(input: &PlanInput<'a>, timing: &Timing, step: &mut Step<'a>) -> String {
    let owned: Vec<&VpcEndpoint> = location::owned_endpoints(input.world, input.owner).collect();

    // 1. Private DNS off first: the service's name resolves publicly again, and the endpoint
    //    stops being where clients go.
    let serving: Vec<&VpcEndpoint> = owned
        .iter()
        .copied()
        .filter(|e| e.private_dns_enabled && e.is_available())
        .collect();
    // Only an endpoint the last status shows serving is turned off; the others' serving is
    // recorded first (one pass), so that the look after the turn-off starts the record TTL
    // even when the status of the pass that turns it off is lost.
    let unrecorded: Vec<&VpcEndpoint> = serving
        .iter()
        .copied()
        .filter(|e| !resolution::status_shows_serving(e, input.status))
        .collect();
    if let Some(first) = unrecorded.first()
        && step
            .endpoint
            .is_some_and(|e| e.vpc_endpoint_id == first.vpc_endpoint_id)
    {
        return format!("Deleting: {}", record_serving_first(first));
    }
    if !serving.is_empty() {
        for e in &serving {
            step.actions
                .push(Action::ModifyEndpoint(super::dns::turning_off(e)));
        }
        return format!(
            "Deleting: turning private DNS off on {} first; the endpoint is deleted once cached \
             answers have expired ({} TTL), and its rules once it is gone",
            ids(&serving),
            seconds(timing.private_dns_ttl)
        );
    }
    // Private DNS on but not `available` (pending while EC2 applies a change): it cannot be
    // turned off yet, and deleting it would take the path from clients resolving to it.
    let busy: Vec<&VpcEndpoint> = owned
        .iter()
        .copied()
        .filter(|e| e.private_dns_enabled && !location::is_deleting(e) && !stops_serving(e))
        .collect();
    if !busy.is_empty() {
        step.requeue = endpoint::pending_backoff(input, timing);
        return format!(
            "Deleting: waiting for {} to be available to turn its private DNS off",
            ids(&busy)
        );
    }

    // 2. Wait for cached answers to expire, then delete.
    let cached = owned
        .iter()
        .filter(|e| !location::is_deleting(e))
        .filter_map(
            |e| match resolution::of(e, input.status, input.seen_off, input.now, timing) {
                Resolution::Cached { remaining } => Some(remaining),
                _ => None,
            },
        )
        .max();
    if let Some(remaining) = cached {
        step.requeue = remaining.max(timing.after_change);
        return format!(
            "Deleting: private DNS is off; waiting {} for cached answers to expire before deleting {}",
            seconds(remaining),
            ids(&owned)
        );
    }
    let to_delete: Vec<&VpcEndpoint> = owned
        .iter()
        .copied()
        .filter(|e| !location::is_deleting(e))
        .collect();
    if !to_delete.is_empty() {
        for e in &to_delete {
            step.actions.push(Action::DeleteEndpoint {
                vpc_endpoint_id: e.vpc_endpoint_id.clone(),
            });
        }
        return format!(
            "Deleting: deleting {}; its rules are revoked once it is gone",
            ids(&to_delete)
        );
    }
    // A failed, throttled or pending DeleteVpcEndpoints leaves the rules in place: a client
    // with a path to an endpoint that still exists keeps it.
    if !owned.is_empty() {
        step.requeue = endpoint::pending_backoff(input, timing);
        return format!("Deleting: waiting for EC2 to delete {}", ids(&owned));
    }

    // An endpoint created moments ago may not be listed yet: finalizing now would leave it
    // behind. The wait is bounded by the visibility window, so the finalizer still completes.
    let previous = input.status;
    let just_created = previous
        .endpoint_create_time
        .as_deref()
        .and_then(|t| t.parse().ok())
        .is_some_and(|t| endpoint::elapsed(t, input.now) < timing.visibility_window);
    if let Some(id) = previous.endpoint_id.as_deref()
        && just_created
        && !location::absence_means_gone(previous)
    {
        step.keep_previous_endpoint = true;
        step.requeue = endpoint::pending_backoff(input, timing);
        return format!("Deleting: waiting for EC2 to list {id}, created moments ago");
    }
    // The same for a create whose answer was lost: it may have made an endpoint, whose id is
    // not known. So may a create whose pass's status never landed (the controller died before
    // writing it, the write failed, or the deletion itself overtook it): nothing in the status
    // says so. Creates happen only before the deletion, so the deletion's first pass that sees
    // no endpoint of the object starts the wait (a later deletion pass finds it in the status,
    // written with the phase Deleting). The first pass that saw an endpoint instead deletes it:
    // no other can be missing then, since no create is made while one is listed.
    let unanswered = if previous.phase == RolloutPhase::Deleting {
        previous
            .endpoint_create_unanswered_time
            .as_deref()
            .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
    } else {
        step.endpoint_create_unanswered_time = Some(input.now.to_string());
        Some(input.now)
    };
    if let Some(since) = unanswered
        && endpoint::elapsed(since, input.now) < timing.visibility_window
    {
        // Nothing is listed: the status claims no endpoint (not the last one it saw, which may
        // have had private DNS on before someone deleted it).
        let remaining = timing.visibility_window - endpoint::elapsed(since, input.now);
        step.requeue = endpoint::pending_backoff(input, timing)
            .min(remaining)
            .max(timing.after_change);
        return format!(
            "Deleting: waiting up to {} for EC2 to list an endpoint a CreateVpcEndpoint may have \
             made (its answer, or the status of its pass, was lost), so that none is left behind",
            seconds(remaining)
        );
    }

    // 3. The endpoint is gone: nobody reaches it through it. A rule another object's endpoint
    //    still needs is handed over to that object ([`super::sharing`]); the others are
    //    revoked, and with them goes the finalizer (a failed call keeps it: the next pass does
    //    what is left).
    step.finalized = true;
    let handed: Vec<&str> = input
        .successors
        .iter()
        .flat_map(|s| s.rule_ids.iter().map(String::as_str))
        .collect();
    let mut what = Vec::new();
    if !input.successors.is_empty() {
        step.actions.push(Action::HandOverRules(
            input
                .successors
                .iter()
                .map(|s| HandOver {
                    to: s.owner.owner_tag(),
                    endpoint_id: s.endpoint_id.clone(),
                    rule_ids: s.rule_ids.clone(),
                    tags: s.tags(input.owner),
                })
                .collect(),
        ));
        let to: Vec<String> = input.successors.iter().map(|s| s.owner.owner_tag()).collect();
        what.push(format!(
            "handing {} over to {}, whose endpoint needs them",
            count(handed.len(), "rule"),
            to.join(", ")
        ));
    }
    let mut revoke: BTreeMap<(String, bool), Vec<String>> = BTreeMap::new();
    // Ownership is checked again on each rule's own tags, whatever filter found it: a rule
    // without both tags of this object is never revoked.
    for rule in owned_rules(input).filter(|r| !handed.contains(&r.security_group_rule_id.as_str())) {
        revoke
            .entry((rule.group_id.clone(), rule.is_egress))
            .or_default()
            .push(rule.security_group_rule_id.clone());
    }
    if revoke.is_empty() && what.is_empty() {
        return "Deleted: no endpoint or rule of this object is left".to_string();
    }
    if revoke.is_empty() {
        return format!("Deleted: the endpoint is gone; {}", what.join(", "));
    }
    let rules = revoke.values().map(Vec::len).sum::<usize>();
    what.push(format!("revoking {}", count(rules, "rule")));
    step.actions.push(Action::RevokeRules(
        revoke
            .into_iter()
            .map(|((group_id, egress), rule_ids)| RevokeRules {
                group_id,
                egress,
                rule_ids,
            })
            .collect(),
    ));
    format!("Deleted: the endpoint is gone; {}", what.join(", then "))
}

/// States in which an endpoint does not serve, whatever its private DNS flag says: gone or
/// going, refused, or not accepted yet by the service's owner (no traffic passes until then).
fn stops_serving(endpoint: &VpcEndpoint) -> bool {
    matches!(
        endpoint.state_lower().as_str(),
        "failed" | "rejected" | "expired" | "deleting" | "deleted" | "pendingacceptance"
    )
}

fn ids(endpoints: &[&VpcEndpoint]) -> String {
    let ids: Vec<&str> = endpoints.iter().map(|e| e.vpc_endpoint_id.as_str()).collect();
    ids.join(", ")
}

fn seconds(d: std::time::Duration) -> String {
    format!("{} s", d.as_secs_f64().ceil())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::conditions::ConditionType;
    use crate::api::{InterfaceEndpointSpec, OWNER_TAG, UID_TAG};
    use crate::model::{SecurityGroupRule, Snapshot, tag_pairs, tags_from};
    use crate::plan::fixtures::*;
    use crate::plan::{Decision, EventReason, decide};

    fn deleting(
        spec: &InterfaceEndpointSpec,
        world: &Snapshot,
        status: &crate::api::InterfaceEndpointStatus,
    ) -> Decision {
        let analysis = Ok(endpoint_analysis());
        let mut i = input_with(spec, world, &analysis, status);
        i.deleting = true;
        decide(&i, &timing())
    }

    fn world_with_rules() -> Snapshot {
        let mut world = with_endpoint(incident_world(), "available", true);
        world.security_group_rules = vec![
            owned_rule("sgr-0000000000000000a", SG_VPCE, false, SG_ZABBIX),
            owned_rule("sgr-0000000000000000b", SG_ZABBIX, true, SG_VPCE),
            // Same owner name, another UID (a re-created object): not ours.
            SecurityGroupRule {
                tags: tags_from([(OWNER_TAG, "monitoring/logs"), (UID_TAG, "another-uid")]),
                ..owned_rule("sgr-0000000000000000c", SG_VPCE, false, SG_LAMBDA)
            },
            // Untagged: someone else's.
            SecurityGroupRule {
                tags: vec![],
                ..owned_rule("sgr-0000000000000000d", SG_VPCE, false, SG_LAMBDA)
            },
        ];
        world
    }

    /// The status of a Ready rollout whose endpoint was seen with private DNS off `secs` ago.
    fn seen_off_for(secs: i64) -> crate::api::InterfaceEndpointStatus {
        let mut status = created_status(now_minus(3600));
        status.endpoint_state = Some("available".into());
        status.private_dns_off_since = Some(now_minus(secs).to_string());
        status
    }

    #[test]
    fn a_spec_without_a_policy_takes_the_controller_s_default_and_the_status_says_which() {
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(reachable_analysis());
        let status = Default::default();
        let unsaid = InterfaceEndpointSpec {
            deletion_policy: None,
            ..spec()
        };
        for (default, retained) in [(DeletionPolicy::Retain, true), (DeletionPolicy::Delete, false)] {
            let config = Config {
                default_deletion_policy: default,
                ..Config::default()
            };
            let mut i = input_with(&unsaid, &world, &analysis, &status);
            i.config = &config;
            let live = decide(&i, &timing());
            assert_eq!(
                live.status.deletion_policy,
                Some(default),
                "shown before any deletion"
            );
            i.deleting = true;
            let d = decide(&i, &timing());
            assert_eq!(
                d.finalized && d.actions.is_empty(),
                retained,
                "{default:?}: {:?}",
                d.actions
            );
        }
        assert_eq!(Config::default().default_deletion_policy, DeletionPolicy::Retain);

        // A policy in the spec wins over the default.
        let mut i = input(&world, &analysis, &status);
        let retain_by_default = Config::default();
        i.config = &retain_by_default;
        i.deleting = true;
        assert!(!decide(&i, &timing()).finalized, "spec.deletionPolicy: Delete");
    }

    #[test]
    fn deletion_turns_private_dns_off_first_and_keeps_the_rules() {
        let world = world_with_rules();
        let d = deleting(&spec(), &world, &serving_status());
        assert_eq!(d.status.phase, RolloutPhase::Deleting);
        assert!(!d.finalized);
        let [Action::ModifyEndpoint(m)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(
            (m.vpc_endpoint_id.as_str(), m.private_dns_enabled),
            (ENDPOINT, Some(false))
        );
        assert!(d.status.plan.is_some(), "the owned rules are still reported");
    }

    /// Seed 31304 of the reference run: the pass that turned private DNS on died before its
    /// status was written, the deletion's pass turned it off and its status write failed, and
    /// the next pass, finding it off with nothing recorded, deleted the endpoint at once while
    /// clients still held answers pointing at it. Now the deletion records private DNS on
    /// first; the turn-off comes from a status that shows it on, so the look after it starts
    /// the record TTL, whether or not the turn-off's status lands.
    #[test]
    fn deletion_records_private_dns_on_before_turning_it_off_when_the_status_does_not_show_it() {
        let world = world_with_rules();
        let mut enabling = created_status(now_minus(600));
        enabling.phase = RolloutPhase::EnablingPrivateDns;
        enabling.endpoint_state = Some("available".into());
        let d = deleting(&spec(), &world, &enabling);
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert!(!d.finalized);
        assert!(d.status.private_dns_enabled, "the status now shows it on");
        let recorded = d.status.clone();
        let d = deleting(&spec(), &world, &recorded);
        let [Action::ModifyEndpoint(m)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(m.private_dns_enabled, Some(false));

        // The turn-off's status is lost: the next look finds it off, from the status that
        // showed it on, and waits the TTL instead of deleting.
        let mut off = world.clone();
        off.vpc_endpoints[0].private_dns_enabled = false;
        let d = deleting(&spec(), &off, &recorded);
        assert!(
            !d.actions
                .iter()
                .any(|a| matches!(a, Action::DeleteEndpoint { .. })),
            "{:?}",
            d.actions
        );
        assert_eq!(d.requeue, timing().private_dns_ttl);
    }

    #[test]
    fn deletion_waits_the_record_ttl_after_private_dns_went_off_before_deleting_the_endpoint() {
        let mut world = world_with_rules();
        world.vpc_endpoints[0].private_dns_enabled = false;
        // Seen on by the last status: this look starts the TTL.
        let mut was_on = seen_off_for(0);
        was_on.private_dns_off_since = None;
        was_on.private_dns_enabled = true;
        let d = deleting(&spec(), &world, &was_on);
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert_eq!(d.requeue, timing().private_dns_ttl);
        assert_eq!(d.status.private_dns_off_since, Some(now().to_string()));

        let d = deleting(&spec(), &world, &seen_off_for(20));
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert_eq!(
            d.requeue,
            timing().private_dns_ttl - std::time::Duration::from_secs(20)
        );

        let d = deleting(&spec(), &world, &seen_off_for(60));
        let [Action::DeleteEndpoint { vpc_endpoint_id }] = d.actions.as_slice() else {
            panic!("the endpoint is deleted, the rules stay: {:?}", d.actions)
        };
        assert_eq!(vpc_endpoint_id, ENDPOINT);
        let reasons: Vec<_> = d.events.iter().map(|e| e.reason).collect();
        assert_eq!(reasons, [EventReason::EndpointDeleted]);
    }

    #[test]
    fn deletion_revokes_only_rules_with_both_owner_tags_once_the_endpoint_is_gone() {
        let mut world = world_with_rules();
        world.vpc_endpoints.clear();
        let mut status = seen_off_for(600);
        status.endpoint_state = Some("deleting".into());
        status.phase = RolloutPhase::Deleting;
        let d = deleting(&spec(), &world, &status);
        let [Action::RevokeRules(revoke)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        let mut ids: Vec<&str> = revoke
            .iter()
            .flat_map(|r| r.rule_ids.iter().map(String::as_str))
            .collect();
        ids.sort();
        assert_eq!(ids, ["sgr-0000000000000000a", "sgr-0000000000000000b"]);
        assert!(d.finalized, "once the revoke succeeded");
        let reasons: Vec<_> = d.events.iter().map(|e| e.reason).collect();
        assert_eq!(reasons, [EventReason::RulesRevoked]);
    }

    #[test]
    fn a_rule_another_object_needs_is_handed_over_and_the_rest_revoked() {
        let mut world = world_with_rules();
        world.vpc_endpoints.clear();
        let mut status = seen_off_for(600);
        status.endpoint_state = Some("deleting".into());
        status.phase = RolloutPhase::Deleting;
        let analysis = Ok(endpoint_analysis());
        let heir = crate::plan::sharing::Successor {
            owner: crate::api::Owner {
                namespace: "observability".into(),
                name: "metrics".into(),
                uid: "uid-of-metrics".into(),
            },
            endpoint_id: "vpce-0aaaaaaaaaaaaaaaa".into(),
            rule_ids: vec!["sgr-0000000000000000a".into()],
        };
        let spec = spec();
        let mut i = input_with(&spec, &world, &analysis, &status);
        i.deleting = true;
        let successors = [heir];
        i.successors = &successors;
        let d = decide(&i, &timing());
        let [Action::HandOverRules(handed), Action::RevokeRules(revoke)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(handed[0].rule_ids, ["sgr-0000000000000000a"]);
        assert_eq!(handed[0].to, "observability/metrics");
        let tags: Vec<(&str, &str)> = tag_pairs(&handed[0].tags).collect();
        assert!(tags.contains(&(OWNER_TAG, "observability/metrics")), "{tags:?}");
        assert!(tags.contains(&(UID_TAG, "uid-of-metrics")), "{tags:?}");
        assert!(
            tags.contains(&(crate::api::HANDED_OVER_FROM_TAG, "monitoring/logs")),
            "{tags:?}"
        );
        let revoked: Vec<&str> = revoke
            .iter()
            .flat_map(|r| r.rule_ids.iter().map(String::as_str))
            .collect();
        assert_eq!(revoked, ["sgr-0000000000000000b"]);
        assert!(d.finalized);
        let message = &condition(&d.status, ConditionType::Ready).message;
        assert!(message.contains("observability/metrics"), "{message}");
        let reasons: Vec<_> = d.events.iter().map(|e| e.reason).collect();
        assert_eq!(reasons, [EventReason::RulesHandedOver, EventReason::RulesRevoked]);
    }

    #[test]
    fn a_deleting_endpoint_keeps_its_rules_until_it_is_gone() {
        let mut world = world_with_rules();
        world.vpc_endpoints[0].state = Some("deleting".into());
        let d = deleting(&spec(), &world, &seen_off_for(600));
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert!(!d.finalized);
    }

    #[test]
    fn an_endpoint_busy_with_private_dns_on_is_waited_for_not_deleted() {
        let mut world = world_with_rules();
        world.vpc_endpoints[0].state = Some("pending".into());
        let d = deleting(&spec(), &world, &Default::default());
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        // A failed endpoint serves nobody: deleted at once, its rules kept until it is gone.
        world.vpc_endpoints[0].state = Some("failed".into());
        let d = deleting(&spec(), &world, &Default::default());
        assert!(
            matches!(d.actions.as_slice(), [Action::DeleteEndpoint { .. }]),
            "{:?}",
            d.actions
        );
    }

    #[test]
    fn deletion_waits_while_the_endpoint_is_deleting() {
        let mut world = with_endpoint(incident_world(), "deleting", false);
        world.security_group_rules.clear();
        let d = deleting(&spec(), &world, &Default::default());
        assert!(d.actions.is_empty());
        assert!(!d.finalized);
        assert!(
            condition(&d.status, ConditionType::Ready)
                .message
                .contains(ENDPOINT)
        );
    }

    /// The status a deletion pass wrote `ago` seconds ago that found no endpoint (and started
    /// the wait for one EC2 may not list yet).
    fn deletion_found_nothing(ago: i64) -> crate::api::InterfaceEndpointStatus {
        crate::api::InterfaceEndpointStatus {
            phase: RolloutPhase::Deleting,
            endpoint_create_unanswered_time: Some(now_minus(ago).to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn deletion_is_finalized_when_nothing_is_left_in_aws() {
        let mut world = with_endpoint(incident_world(), "deleted", false);
        world.security_group_rules = vec![SecurityGroupRule {
            tags: vec![],
            ..owned_rule("sgr-0000000000000000d", SG_VPCE, false, SG_LAMBDA)
        }];
        let d = deleting(&spec(), &world, &deletion_found_nothing(3600));
        assert!(d.actions.is_empty());
        assert!(d.finalized);
    }

    #[test]
    fn deletion_of_an_object_whose_vpc_is_gone_is_finalized() {
        let d = deleting(&spec(), &Snapshot::default(), &deletion_found_nothing(300));
        assert!(d.actions.is_empty());
        assert!(d.finalized);
    }

    /// Seeds 2447, 9677, 13010: a create whose pass's status never landed leaves no trace in
    /// the status. The deletion's first pass that finds no endpoint waits the visibility window
    /// from then (recorded with the phase Deleting), whatever the status says; once it has
    /// passed, the deletion finishes.
    #[test]
    fn the_first_deletion_pass_that_finds_no_endpoint_waits_for_one_ec2_may_not_list_yet() {
        let world = incident_world();
        for before in [
            Default::default(),
            created_status(now_minus(3600)),
            crate::api::InterfaceEndpointStatus {
                phase: RolloutPhase::Ready,
                private_dns_enabled: true,
                ..seen_off_for(600)
            },
        ] {
            let d = deleting(&spec(), &world, &before);
            assert!(d.actions.is_empty(), "{:?}", d.actions);
            assert!(!d.finalized, "{before:?}");
            assert_eq!(d.status.phase, RolloutPhase::Deleting);
            assert_eq!(d.status.endpoint_create_unanswered_time, Some(now().to_string()));
            assert!(d.requeue <= timing().pending_max, "{:?}", d.requeue);
            // Seed 846: an endpoint deleted by hand with private DNS on is not claimed on.
            assert!(
                !d.status.private_dns_enabled && d.status.endpoint_id.is_none(),
                "{:?}",
                d.status
            );
            let message = &condition(&d.status, ConditionType::Ready).message;
            assert!(message.contains("300 s"), "{message}");
        }
        // A later pass keeps the start, and waits out the rest.
        let d = deleting(&spec(), &world, &deletion_found_nothing(290));
        assert!(!d.finalized);
        assert_eq!(
            d.status.endpoint_create_unanswered_time,
            Some(now_minus(290).to_string())
        );
        assert_eq!(
            d.requeue,
            timing().pending_min,
            "the pending backoff, within the 10 s left"
        );
        let d = deleting(&spec(), &world, &deletion_found_nothing(300));
        assert!(d.finalized, "the wait is bounded");
    }

    #[test]
    fn deletion_waits_briefly_for_an_endpoint_created_moments_ago() {
        let world = incident_world();
        let d = deleting(&spec(), &world, &created_status(now_minus(10)));
        assert!(d.actions.is_empty());
        assert!(!d.finalized);
        let mut later = created_status(now_minus(600));
        later.phase = RolloutPhase::Deleting;
        let d = deleting(&spec(), &world, &later);
        assert!(d.finalized, "the wait is bounded");
    }

    #[test]
    fn an_endpoint_seen_deleting_and_now_gone_is_done_even_moments_after_its_creation() {
        let mut status = created_status(now_minus(30));
        status.endpoint_state = Some("deleting".into());
        status.phase = RolloutPhase::Deleting;
        let d = deleting(&spec(), &incident_world(), &status);
        assert!(d.finalized);
    }

    #[test]
    fn retain_leaves_everything_in_place_and_finalizes() {
        let world = world_with_rules();
        let spec = InterfaceEndpointSpec {
            deletion_policy: Some(DeletionPolicy::Retain),
            ..spec()
        };
        let d = deleting(&spec, &world, &Default::default());
        assert!(d.actions.is_empty());
        assert!(d.finalized);
        let message = &condition(&d.status, ConditionType::Ready).message;
        assert!(
            message.contains(ENDPOINT) && message.contains("2 rules"),
            "{message}"
        );
    }

    #[test]
    fn deletion_also_removes_an_endpoint_of_a_previous_service_name() {
        let world = with_endpoint(incident_world(), "available", false);
        let spec = InterfaceEndpointSpec {
            service_name: "com.amazonaws.ap-northeast-1.monitoring".into(),
            ..spec()
        };
        let d = deleting(&spec, &world, &Default::default());
        assert!(matches!(d.actions.as_slice(), [Action::DeleteEndpoint { .. }]));
    }
}
