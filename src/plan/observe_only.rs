//! Observe only: the controller discovers, analyses, plans and reports, and changes nothing in
//! AWS. How a platform team runs it against production for weeks before it may act.
//!
//! It applies to every object under the controller's `--observe-only`
//! ([`super::Config`]), and to one object under `spec.observeOnly`. The decision is
//! made as usual, then [`withhold`] takes its AWS calls out and reports them instead: the phase
//! stays what the rollout would do next (Creating, Remediating, EnablingPrivateDns, ...),
//! `status.observeOnly` says why nothing is done and lists the calls it would make, the Ready
//! message starts by saying so, and a `WouldChange` Event is recorded whenever those calls
//! change. What the decision would have recorded about a change it made (the creation time of an
//! endpoint, where it lives) is not recorded: nothing was made. Since nothing changes, the next
//! look is no sooner than a wait on a person.
//!
//! The controller-wide flag is enforced a second time at the edge: the controller's EC2 port
//! refuses every mutation ([`crate::aws::read_only`]), and no finalizer is added to an object
//! observed only (deleting it leaves AWS as it is).

use super::wording::{count, peer_text, port_range, tag_list};
use super::{Action, Decision, EventNote, EventReason, PlanInput, Timing};
use crate::api::conditions::ConditionType;
use crate::api::{InterfaceEndpointSpec, ObserveOnlyStatus};

/// Most lines of `status.observeOnly.wouldChange`; the last one counts the rest.
const MAX_LINES: usize = 20;

/// Why the controller only observes this object: `--observe-only` (the controller's setting
/// wins) or `spec.observeOnly`; `None` when it may act.
pub fn by(spec: &InterfaceEndpointSpec, config: &super::Config) -> Option<&'static str> {
    if config.observe_only {
        Some("--observe-only")
    } else if spec.observe_only {
        Some("spec.observeOnly")
    } else {
        None
    }
}

/// `decision` without its AWS calls when the object is observed only, reporting them instead.
pub(crate) fn withhold(input: &PlanInput<'_>, mut decision: Decision, timing: &Timing) -> Decision {
    let Some(by) = by(input.spec, input.config) else {
        return decision;
    };
    let calls: Vec<String> = decision.actions.iter().flat_map(calls).collect();
    let previous = input.status;
    let status = &mut decision.status;
    if decision
        .actions
        .iter()
        .any(|a| matches!(a, Action::CreateEndpoint(_)))
    {
        // No endpoint was created: none to wait for, none that lives anywhere.
        status.endpoint_create_time = previous.endpoint_create_time.clone();
        status.endpoint_recreations = previous.endpoint_recreations;
        status.endpoint_vpc_id = previous.endpoint_vpc_id.clone();
        status.endpoint_service_name = previous.endpoint_service_name.clone();
        status.endpoint_region = previous.endpoint_region.clone();
    }
    let would_change = bounded(&calls);
    if !calls.is_empty()
        && let Some(ready) = status
            .conditions
            .iter_mut()
            .find(|c| c.type_ == ConditionType::Ready.as_str())
    {
        ready.message = format!(
            "Observing only ({by}): would make {} and makes none (status.observeOnly.wouldChange). {}",
            count(calls.len(), "AWS call"),
            ready.message
        );
    }

    // The actions' Events would report changes that are not made.
    let action_events = decision.action_events.clone();
    decision.events.drain(action_events.clone());
    decision.action_events = action_events.start..action_events.start;
    let reported = previous.observe_only.as_ref().map(|o| &o.would_change);
    if !calls.is_empty() && reported != Some(&would_change) {
        decision.events.push(EventNote {
            reason: EventReason::WouldChange,
            warning: false,
            message: format!("Observing only ({by}): would make {}", calls.join("; ")),
        });
    }
    if !decision.actions.is_empty() {
        // Nothing changes until someone changes something: no quick look again, and a
        // deletion that needs AWS calls is not complete.
        decision.requeue = decision.requeue.max(timing.waiting);
        decision.finalized = false;
        decision.actions.clear();
    }
    status.observe_only = Some(ObserveOnlyStatus {
        by: by.to_string(),
        would_change,
    });
    decision
}

/// At most [`MAX_LINES`] lines, the last one counting the rest.
fn bounded(calls: &[String]) -> Vec<String> {
    if calls.len() <= MAX_LINES {
        return calls.to_vec();
    }
    let mut lines = calls[..MAX_LINES - 1].to_vec();
    lines.push(format!(
        "... and {} more",
        count(calls.len() - (MAX_LINES - 1), "call")
    ));
    lines
}

/// One line per AWS call `action` would make, the operation first.
pub fn calls(action: &Action) -> Vec<String> {
    match action {
        Action::CreateEndpoint(c) => vec![format!(
            "CreateVpcEndpoint: {} in {} (subnets {}; security groups {}), private DNS off",
            c.service_name,
            c.vpc_id,
            c.subnet_ids.join(", "),
            c.security_group_ids.join(", ")
        )],
        Action::ModifyEndpoint(m) => {
            let mut parts = Vec::new();
            match m.private_dns_enabled {
                Some(true) => parts.push("private DNS on".to_string()),
                Some(false) => parts.push("private DNS off".to_string()),
                None => {}
            }
            for (what, ids) in [
                ("add subnets", &m.add_subnet_ids),
                ("remove subnets", &m.remove_subnet_ids),
                ("add security groups", &m.add_security_group_ids),
                ("remove security groups", &m.remove_security_group_ids),
            ] {
                if !ids.is_empty() {
                    parts.push(format!("{what} {}", ids.join(", ")));
                }
            }
            if m.policy_document.is_some() {
                parts.push("the policy of spec.policy".into());
            }
            if m.reset_policy {
                parts.push("the default policy".into());
            }
            vec![format!(
                "ModifyVpcEndpoint {}: {}",
                m.vpc_endpoint_id,
                parts.join("; ")
            )]
        }
        Action::AuthorizeRules(batches) => batches
            .iter()
            .map(|b| {
                let (op, preposition) = if b.egress {
                    ("AuthorizeSecurityGroupEgress", "to")
                } else {
                    ("AuthorizeSecurityGroupIngress", "from")
                };
                let rules: Vec<String> = b
                    .rules
                    .iter()
                    .map(|r| {
                        format!(
                            "{}/{} {preposition} {}",
                            r.protocol,
                            port_range(r.from_port, r.to_port),
                            peer_text(&r.peer)
                        )
                    })
                    .collect();
                format!("{op} {}: {}", b.group_id, rules.join(", "))
            })
            .collect(),
        Action::RevokeRules(batches) => batches
            .iter()
            .map(|b| {
                let op = if b.egress {
                    "RevokeSecurityGroupEgress"
                } else {
                    "RevokeSecurityGroupIngress"
                };
                format!("{op} {}: {}", b.group_id, b.rule_ids.join(", "))
            })
            .collect(),
        Action::HandOverRules(handovers) => handovers
            .iter()
            .map(|h| {
                format!(
                    "CreateTags {}: hand over to {} (its endpoint {} needs them)",
                    h.rule_ids.join(", "),
                    h.to,
                    h.endpoint_id
                )
            })
            .collect(),
        Action::DeleteEndpoint { vpc_endpoint_id } => vec![format!("DeleteVpcEndpoints {vpc_endpoint_id}")],
        Action::TagEndpoint(t) => vec![format!("CreateTags {}: {}", t.vpc_endpoint_id, tag_list(&t.tags))],
        Action::TagRules(t) => vec![format!(
            "CreateTags {}: {}",
            t.rule_ids.join(", "),
            tag_list(&t.tags)
        )],
        Action::SetEndpointTags {
            vpc_endpoint_id,
            tags,
        } => {
            vec![format!("CreateTags {vpc_endpoint_id}: {}", tag_list(tags))]
        }
        Action::RemoveEndpointTags {
            vpc_endpoint_id,
            keys,
        } => {
            vec![format!("DeleteTags {vpc_endpoint_id}: {}", keys.join(", "))]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DeletionPolicy, RolloutPhase};
    use crate::plan::fixtures::*;
    use crate::plan::{Config, decide};

    static OBSERVE: Config = Config {
        observe_only: true,
        default_deletion_policy: DeletionPolicy::Retain,
        cluster_name: None,
        pod_ip: None,
    };

    /// An endpoint created ten minutes ago, seen `pending` last time.
    fn available_status() -> crate::api::InterfaceEndpointStatus {
        let mut status = created_status(now_minus(600));
        status.phase = RolloutPhase::Provisioning;
        status
    }

    #[test]
    fn nothing_is_created_and_the_status_says_what_would_be() {
        let world = incident_world();
        let analysis = Ok(preview_analysis());
        let status = Default::default();
        let mut i = input(&world, &analysis, &status);
        i.config = &OBSERVE;
        let d = decide(&i, &timing());

        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert_eq!(
            d.status.phase,
            RolloutPhase::Creating,
            "what the rollout would do next"
        );
        let observe = d.status.observe_only.as_ref().expect("the status says so");
        assert_eq!(observe.by, "--observe-only");
        let [line] = observe.would_change.as_slice() else {
            panic!("{observe:?}")
        };
        assert!(
            line.starts_with("CreateVpcEndpoint: ") && line.contains(VPC),
            "{line}"
        );
        let ready = condition(&d.status, ConditionType::Ready);
        assert!(
            ready
                .message
                .starts_with("Observing only (--observe-only): would make 1 AWS call"),
            "{}",
            ready.message
        );
        assert_eq!(
            (
                d.status.endpoint_create_time.as_deref(),
                d.status.endpoint_vpc_id.as_deref()
            ),
            (None, None),
            "nothing was created, so nothing is waited for"
        );
        let reasons: Vec<EventReason> = d.events.iter().map(|e| e.reason).collect();
        assert_eq!(reasons, [EventReason::WouldChange]);
        assert!(d.events[0].message.contains("CreateVpcEndpoint"));
        assert_eq!(d.requeue, timing().waiting, "nothing changes: no quick look");

        // The next pass decides the same, and says nothing new.
        let again = decide(
            &PlanInput {
                status: &d.status,
                ..i.clone()
            },
            &timing(),
        );
        assert!(again.actions.is_empty());
        assert_eq!(again.status, d.status);
        assert!(again.events.is_empty(), "{:?}", again.events);
    }

    #[test]
    fn rules_and_private_dns_are_reported_not_changed() {
        let world = with_endpoint(incident_world(), "available", false);
        let analysis = Ok(endpoint_analysis());
        let status = available_status();
        let mut i = input(&world, &analysis, &status);
        i.config = &OBSERVE;
        let d = decide(&i, &timing());
        assert!(d.actions.is_empty());
        assert_eq!(d.status.phase, RolloutPhase::Remediating);
        let observe = d.status.observe_only.as_ref().unwrap();
        assert!(
            observe.would_change[0]
                .starts_with(&format!("AuthorizeSecurityGroupIngress {SG_VPCE}: tcp/443 from ")),
            "{observe:?}"
        );
        assert!(
            d.events.iter().all(|e| e.reason != EventReason::RulesAuthorized),
            "no Event reports a change that is not made: {:?}",
            d.events
        );
    }

    #[test]
    fn a_spec_may_ask_for_it_for_one_object() {
        let world = incident_world();
        let analysis = Ok(preview_analysis());
        let status = Default::default();
        let spec = InterfaceEndpointSpec {
            observe_only: true,
            ..spec()
        };
        let d = decide(&input_with(&spec, &world, &analysis, &status), &timing());
        assert!(d.actions.is_empty());
        assert_eq!(d.status.observe_only.as_ref().unwrap().by, "spec.observeOnly");

        let acting = decide(&input(&world, &analysis, &status), &timing());
        assert_eq!(acting.actions.len(), 1);
        assert_eq!(
            acting.status.observe_only, None,
            "absent when the controller may act"
        );
    }

    #[test]
    fn a_deletion_that_needs_aws_calls_waits_and_retain_completes() {
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(reachable_analysis());
        let status = serving_status();
        let mut i = input(&world, &analysis, &status);
        i.config = &OBSERVE;
        i.deleting = true;
        let d = decide(&i, &timing());
        assert!(d.actions.is_empty() && !d.finalized);
        assert!(
            d.status.observe_only.as_ref().unwrap().would_change[0]
                .starts_with(&format!("ModifyVpcEndpoint {ENDPOINT}: private DNS off")),
            "{:?}",
            d.status.observe_only
        );

        let retain = InterfaceEndpointSpec {
            deletion_policy: Some(DeletionPolicy::Retain),
            ..spec()
        };
        let mut i = input_with(&retain, &world, &analysis, &status);
        i.config = &OBSERVE;
        i.deleting = true;
        let d = decide(&i, &timing());
        assert!(d.finalized, "Retain changes nothing in AWS: the finalizer may go");
        assert!(d.status.observe_only.as_ref().unwrap().would_change.is_empty());
    }

    #[test]
    fn a_long_list_of_calls_is_bounded() {
        let batches: Vec<crate::plan::RevokeRules> = (0..30)
            .map(|g| crate::plan::RevokeRules {
                group_id: format!("sg-{g:017x}"),
                egress: false,
                rule_ids: vec![format!("sgr-{g:017x}")],
            })
            .collect();
        let lines = calls(&Action::RevokeRules(batches));
        assert_eq!(lines.len(), 30, "one per call");
        let kept = bounded(&lines);
        assert_eq!(kept.len(), MAX_LINES);
        assert_eq!(kept[..MAX_LINES - 1], lines[..MAX_LINES - 1]);
        assert_eq!(kept[MAX_LINES - 1], "... and 11 calls more");
    }
}
