//! The canary's rollback (`spec.verification.onReject.action: Rollback`): the flow logs show
//! sources cut off since private DNS went on, so private DNS is turned off at once and kept off
//! until the plan for the rejected sources is applied; then it goes on again and the canary
//! window starts again.
//!
//! Turning private DNS off sends every client back to the service's public name: a client
//! whose subnet has no route to the internet ([`crate::analysis::internet`]) loses the path it
//! has through the endpoint. A rollback that cuts off more clients than it restores is refused
//! unless `onReject.force`.
//!
//! - [`weigh`]: who a rollback restores and who it cuts off (the analysis with the rejected
//!   sources as clients, the read, the VPC's route tables). The engine asks it only under
//!   `Rollback`, with private DNS on and a source cut off.
//! - [`held_sources`]: the rejected sources a rollback keeps in the status
//!   (`status.rollback`): clients of the analysis while private DNS stays off, so the usual
//!   rule (never on while a client is blocked) holds it off until their plan is applied;
//!   [`holds`]: whether it does now (`privateDns.force` does not waive it).
//! - [`decided`]: after the rollout stages, the step: turn private DNS off (phase RolledBack),
//!   or, while a rollback holds, phase RolledBack over a wait on a person.
//! - [`report_held`]: condition `Verified` while a rollback holds (the canary reads nothing
//!   while private DNS is off).
//!
//! Turning off is the same ModifyVpcEndpoint as the emergency brake's, recorded the same way
//! (`privateDnsOffUnseen`, then `privateDnsOffSince`): nothing that removes a path follows
//! within the record TTL.

use std::net::IpAddr;

use k8s_openapi::jiff::Timestamp;

use super::canary::{CanaryRead, client_at};
use super::wording::{count, with_more};
use super::{Action, PlanInput, Step, Timing, not_ready};
use crate::analysis::internet::{InternetPath, path_of};
use crate::analysis::{Analysis, ClientVerdict};
use crate::api::conditions::{ConditionReason, ConditionType, ConditionUpdate, set_condition};
use crate::api::{InterfaceEndpointStatus, MAX_STATUS_GROUPS, RejectedSource, RollbackStatus, RolloutPhase};
use crate::logs::flow::Reject;
use crate::model::{RouteTable, VpcEndpoint};

/// Who a rollback restores and who it cuts off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weighing {
    /// Rejected sources cut off now whose path to the public name opens when private DNS goes
    /// off (their subnets reach the internet, or they are outside the VPC), one sentence each.
    pub restored: Vec<String>,
    /// Rejected sources cut off either way (their subnets have no route to the internet).
    pub not_restored: Vec<String>,
    /// Clients that reach the endpoint now and lose it when private DNS goes off.
    pub cut_off: Vec<String>,
    /// Why the route tables are not known; every client that reaches the endpoint is then
    /// counted as cut off.
    pub routes_unknown: Option<String>,
    /// `onReject.force`.
    pub force: bool,
    /// The rejected sources cut off now, as the status keeps them.
    pub rejected: Vec<RejectedSource>,
}

impl Weighing {
    /// Whether private DNS goes off: it cuts off no more clients than it restores, or forced.
    pub fn rolls_back(&self) -> bool {
        self.force || self.cut_off.len() <= self.restored.len()
    }

    /// Rolled back only because of `force`.
    pub fn forced(&self) -> bool {
        self.force && self.cut_off.len() > self.restored.len()
    }

    /// Who it restores and who it cuts off, in a sentence.
    pub fn sentence(&self) -> String {
        let list = |items: &[String]| {
            let shown: Vec<&str> = items.iter().take(3).map(String::as_str).collect();
            with_more(&shown, items.len())
        };
        let mut text = format!(
            "turning private DNS off restores {}",
            count(self.restored.len(), "rejected source")
        );
        if !self.restored.is_empty() {
            text.push_str(&format!(" ({})", list(&self.restored)));
        }
        if !self.not_restored.is_empty() {
            text.push_str(&format!(
                ", not {} whose subnets have no route to the internet ({})",
                count(self.not_restored.len(), "other"),
                list(&self.not_restored)
            ));
        }
        text.push_str(&format!(" and cuts off {}", count(self.cut_off.len(), "client")));
        if !self.cut_off.is_empty() {
            text.push_str(&format!(
                " that reach the endpoint now and have no route to the internet ({})",
                list(&self.cut_off)
            ));
        }
        if let Some(why) = &self.routes_unknown {
            text.push_str(&format!(" (the route tables could not be read: {why})"));
        }
        text
    }
}

/// A rejected source the analysis checks and finds blocked.
fn cut_off_now<'a>(analysis: &'a Analysis, reject: &Reject) -> Option<&'a ClientVerdict> {
    client_at(Some(analysis), reject.srcaddr).filter(|c| !c.is_reachable())
}

/// Whether a source the analysis checks is cut off in `read` (a rollback is then weighed).
pub fn any_cut_off(analysis: &Analysis, read: &CanaryRead) -> bool {
    read.outcome
        .as_ref()
        .is_ok_and(|found| found.rejects.iter().any(|r| cut_off_now(analysis, r).is_some()))
}

/// Who a rollback would restore and cut off; `None` when no source the analysis checks is cut
/// off (nothing to roll back for: every source reaches the endpoint now, or the spec excludes
/// it). `tables` are the VPC's route tables, or why they could not be read.
pub fn weigh(
    analysis: &Analysis,
    read: &CanaryRead,
    tables: Result<&[RouteTable], &str>,
    force: bool,
) -> Option<Weighing> {
    let rejects = read.outcome.as_ref().ok()?;
    let cut: Vec<(&Reject, &ClientVerdict)> = rejects
        .rejects
        .iter()
        .filter_map(|r| cut_off_now(analysis, r).map(|c| (r, c)))
        .collect();
    if cut.is_empty() {
        return None;
    }
    let path = |client: &ClientVerdict| match tables {
        Ok(tables) => path_of(&client.subnet_id, tables),
        Err(why) => InternetPath::None(why.to_string()),
    };
    let mut weighing = Weighing {
        restored: Vec::new(),
        not_restored: Vec::new(),
        cut_off: Vec::new(),
        routes_unknown: tables.err().map(str::to_string),
        force,
        rejected: Vec::new(),
    };
    for (reject, client) in &cut {
        let who = format!("{} ({})", reject.srcaddr, client.network_interface_id);
        if client.is_outside() {
            // Outside the VPC (peered, on-premises): its way to the public name is not in this
            // VPC's route tables; it resolves the name through the inbound Resolver endpoint
            // only while private DNS redirects it, and is counted as restored.
            weighing.restored.push(format!("{who}, outside the VPC"));
        } else if path(client).exists() {
            weighing.restored.push(who);
        } else {
            weighing.not_restored.push(who);
        }
    }
    for client in analysis
        .clients
        .iter()
        .filter(|c| c.is_reachable() && !c.is_outside())
    {
        if let InternetPath::None(why) = path(client) {
            let why = if weighing.routes_unknown.is_some() {
                String::new()
            } else {
                format!(": {why}")
            };
            weighing.cut_off.push(format!(
                "{} in {}{why}",
                client.network_interface_id, client.subnet_id
            ));
        }
    }
    weighing.rejected = cut
        .iter()
        .take(MAX_STATUS_GROUPS)
        .map(|(r, c)| RejectedSource {
            address: r.srcaddr.to_string(),
            client: Some(c.network_interface_id.clone()),
            endpoint_network_interface_id: r.endpoint_interface_id.clone(),
            port: r.dstport,
            records: r.records,
            last_seen: Timestamp::from_millisecond(r.last_seen_ms)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            reachable_now: false,
        })
        .collect();
    Some(weighing)
}

/// The rejected sources a rollback holds (`status.rollback`), as the canary read them: clients
/// of the analysis while private DNS stays off.
pub fn held_sources(status: &InterfaceEndpointStatus) -> Vec<Reject> {
    let Some(rollback) = &status.rollback else {
        return Vec::new();
    };
    rollback
        .rejected
        .iter()
        .filter_map(|r| {
            Some(Reject {
                srcaddr: r.address.parse::<IpAddr>().ok()?,
                endpoint_interface_id: r.endpoint_network_interface_id.clone(),
                dstport: r.port,
                records: r.records,
                last_seen_ms: r
                    .last_seen
                    .parse::<Timestamp>()
                    .map(|t| t.as_millisecond())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Whether a rollback holds private DNS off now: a source it keeps is a client of `analysis`
/// that is still blocked. `privateDns.force` does not turn private DNS on past it: the user
/// accepted the clients known blocked, not the ones the canary rolled back for (their plan
/// is applied first, as without `force`).
pub(crate) fn holds(status: &InterfaceEndpointStatus, analysis: &Analysis) -> bool {
    held_sources(status)
        .iter()
        .any(|r| cut_off_now(analysis, r).is_some())
}

/// Whether `step` turns private DNS off.
fn turns_off(step: &Step<'_>) -> bool {
    step.actions
        .iter()
        .any(|a| matches!(a, Action::ModifyEndpoint(m) if m.private_dns_enabled == Some(false)))
}

/// The rollback a status keeps after this step: the one it turns private DNS off for, or the
/// one that holds while private DNS stays off on the same endpoint and the spec still asks for
/// private DNS; none once private DNS is seen on again.
pub(crate) fn kept(input: &PlanInput<'_>, step: &Step<'_>) -> Option<RollbackStatus> {
    let rollback = step.rollback.clone()?;
    if input.deleting || !input.spec.private_dns.enabled {
        return None;
    }
    match step.endpoint {
        Some(endpoint) => (endpoint.vpc_endpoint_id == rollback.endpoint_id
            && (!endpoint.private_dns_enabled || turns_off(step)))
        .then_some(rollback),
        // An endpoint EC2 does not list right now: the rollback holds.
        None => Some(rollback),
    }
}

/// After the rollout stages: under `Rollback` with sources cut off ([`weigh`] in the input),
/// private DNS is turned off at once, unless that cuts off more than it restores (then the
/// step stands, and the canary's report says the rollback was refused). While a rollback
/// holds, a wait on a person (approval, a mode `Off`) is reported as RolledBack.
pub(crate) fn decided<'a>(input: &PlanInput<'a>, step: Step<'a>, timing: &Timing) -> Step<'a> {
    if let (Some(weighing), Some(endpoint)) = (input.rollback, step.endpoint) {
        let observing_only = super::observe_only::by(input.spec, input.config).is_some();
        // Off already, although the last status saw it on: this object's rollback whose status
        // write was lost (or a hand that turned it off for the same sources). Recorded, not
        // undone.
        let found_off = !endpoint.private_dns_enabled && input.status.private_dns_enabled;
        // As every turn-off: only from a status that shows private DNS on, so that the look
        // after it starts the record TTL even if this pass's status is lost; until then this
        // pass writes that status and the next one (2 s) rolls back.
        let recorded = super::resolution::status_shows_serving(endpoint, input.status);
        if (endpoint.private_dns_enabled || found_off) && weighing.rolls_back() && !observing_only {
            if recorded {
                return roll_back(input, step, endpoint, weighing, timing);
            }
            let mut step = step;
            step.requeue = step.requeue.min(timing.after_change);
            return step;
        }
    }
    let mut step = step;
    if step.rollback.is_some()
        && matches!(
            step.phase,
            RolloutPhase::AwaitingApproval | RolloutPhase::Blocked | RolloutPhase::Degraded
        )
    {
        step.phase = RolloutPhase::RolledBack;
    }
    step
}

fn roll_back<'a>(
    input: &PlanInput<'a>,
    stages: Step<'a>,
    endpoint: &'a VpcEndpoint,
    weighing: &Weighing,
    timing: &Timing,
) -> Step<'a> {
    let id = &endpoint.vpc_endpoint_id;
    let mut step = Step::new(input, RolloutPhase::RolledBack, timing.after_change);
    step.endpoint = Some(endpoint);
    step.analysis = stages.analysis;
    step.plan_analysis = stages.plan_analysis;
    step.verified = stages.verified;
    step.location = stages.location;
    step.private_dns_reenabled_time = None;
    // Only the turn-off: the rules the plan needs follow in the next pass, with private DNS
    // off (the stages decide them again then).
    if endpoint.private_dns_enabled {
        step.actions
            .push(Action::ModifyEndpoint(super::dns::turning_off(endpoint)));
    }
    let why = format!(
        "{} cut off since private DNS went on (onReject: Rollback{})",
        super::wording::sources_are(weighing.rejected.len()),
        if weighing.forced() { ", force" } else { "" }
    );
    step.conditions.dns = Some(ConditionUpdate::new(
        ConditionType::PrivateDnsEnabled,
        false,
        ConditionReason::RolledBack,
        format!("Turning private DNS off on {id}: {why}"),
    ));
    step.conditions.ready = Some(not_ready(
        ConditionReason::RolledBack,
        format!(
            "Turning private DNS off on {id}: {why}; it stays off until the plan for them is applied \
             (status.plan)"
        ),
    ));
    step.rollback = Some(RollbackStatus {
        time: input.now.to_string(),
        endpoint_id: id.clone(),
        rejected: weighing.rejected.clone(),
        cut_off: weighing.cut_off.iter().take(MAX_STATUS_GROUPS).cloned().collect(),
        forced: weighing.forced(),
    });
    step
}

/// Condition `Verified` while a rollback holds private DNS off (no canary read then): which
/// sources, since when, and what brings private DNS back.
pub fn report_held(status: &mut InterfaceEndpointStatus, generation: Option<i64>, now: Timestamp) {
    let Some(rollback) = &status.rollback else {
        return;
    };
    let sources: Vec<String> = rollback
        .rejected
        .iter()
        .map(|r| match &r.client {
            Some(client) => format!("{} ({client})", r.address),
            None => r.address.clone(),
        })
        .collect();
    let shown: Vec<&str> = sources.iter().take(3).map(String::as_str).collect();
    let message = format!(
        "Private DNS was turned off on {} at {} (onReject: Rollback) for {}: {}; it stays off until \
         the plan for them is applied (status.plan), then goes on again and the canary window starts \
         again",
        rollback.endpoint_id,
        rollback.time,
        count(sources.len(), "rejected source"),
        with_more(&shown, sources.len())
    );
    set_condition(
        &mut status.conditions,
        &ConditionUpdate::new(
            ConditionType::Verified,
            false,
            ConditionReason::RolledBack,
            message,
        ),
        generation,
        now,
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::api::RemediationMode;
    use crate::aws::ModifyVpcEndpoint;
    use crate::model::{Route, RouteTableAssociation};
    use crate::plan::decide;
    use crate::plan::fixtures::*;

    const SUBNET_ISOLATED: &str = "subnet-0333333333333333";

    fn read(sources: &[&str]) -> CanaryRead {
        let rejects: Vec<(&str, u64)> = sources.iter().map(|a| (*a, 3)).collect();
        canary_read(&rejects)
    }

    /// The app subnet behind a NAT gateway (an explicit table); every other subnet on the main
    /// table, which holds only the local route.
    fn tables() -> Vec<RouteTable> {
        vec![
            RouteTable {
                route_table_id: "rtb-app".into(),
                vpc_id: VPC.into(),
                associations: vec![RouteTableAssociation {
                    main: Some(false),
                    subnet_id: Some(SUBNET_APP.into()),
                }],
                routes: vec![Route::default_via("nat-0123")],
            },
            RouteTable {
                route_table_id: "rtb-main".into(),
                vpc_id: VPC.into(),
                associations: vec![RouteTableAssociation {
                    main: Some(true),
                    subnet_id: None,
                }],
                routes: vec![],
            },
        ]
    }

    /// Zabbix blocked (an ingress rule missing); the Lambda reaches the endpoint, in
    /// `lambda_subnet`; Zabbix in `zabbix_subnet`.
    fn analysis(lambda_subnet: &str, zabbix_subnet: &str) -> Analysis {
        let mut analysis = endpoint_analysis();
        analysis.clients[0].subnet_id = lambda_subnet.into();
        analysis.clients[1].subnet_id = zabbix_subnet.into();
        analysis
    }

    fn serving_status() -> InterfaceEndpointStatus {
        let mut status = created_status(now_minus(3600));
        status.phase = RolloutPhase::Ready;
        status.endpoint_state = Some("available".into());
        status.private_dns_enabled = true;
        status.private_dns_on_since = Some(now_minus(120).to_string());
        status
    }

    #[test]
    fn a_rollback_restores_a_rejected_client_whose_subnet_reaches_the_internet() {
        let analysis = analysis(SUBNET_APP, SUBNET_APP);
        let w = weigh(&analysis, &read(&["10.0.1.30"]), Ok(&tables()), false).expect("a source is cut off");
        assert_eq!(w.restored, ["10.0.1.30 (eni-0bbbbbbbbbbbbbbb2)"]);
        assert!(w.cut_off.is_empty(), "the Lambda keeps the NAT gateway: {w:?}");
        assert!(w.rolls_back() && !w.forced());
        assert_eq!(w.rejected.len(), 1);
        assert_eq!(w.rejected[0].client.as_deref(), Some(ENI_ZABBIX));

        // The rollout stages would add the rule (Degraded); the rollback turns private DNS off
        // first, and only that.
        let world = with_endpoint(incident_world(), "available", true);
        let found = Ok(analysis.clone());
        let status = serving_status();
        let mut i = input(&world, &found, &status);
        i.rollback = Some(&w);
        let d = decide(&i, &timing());
        assert_eq!(d.status.phase, RolloutPhase::RolledBack);
        assert_eq!(
            d.actions,
            [Action::ModifyEndpoint(ModifyVpcEndpoint {
                vpc_endpoint_id: ENDPOINT.into(),
                private_dns_enabled: Some(false),
                ..Default::default()
            })]
        );
        assert_eq!(condition(&d.status, ConditionType::Ready).reason, "RolledBack");
        assert_eq!(
            condition(&d.status, ConditionType::PrivateDnsEnabled).reason,
            "RolledBack"
        );
        let kept = d
            .status
            .rollback
            .as_ref()
            .expect("the rollback is kept in the status");
        assert_eq!(kept.endpoint_id, ENDPOINT);
        assert_eq!(kept.rejected[0].address, "10.0.1.30");
        assert_eq!(kept.time, now().to_string());
        assert_eq!(held_sources(&d.status)[0].srcaddr.to_string(), "10.0.1.30");
        assert_eq!(
            held_sources(&d.status)[0].last_seen_ms,
            now_minus(60).as_millisecond()
        );
    }

    #[test]
    fn a_rollback_that_cuts_off_more_clients_than_it_restores_is_refused_unless_forced() {
        // The Lambda reaches the endpoint from a subnet without a route to the internet; the
        // rejected Zabbix agent has none either: turning private DNS off restores nobody.
        let analysis = analysis(SUBNET_ISOLATED, SUBNET_ISOLATED);
        let w = weigh(&analysis, &read(&["10.0.1.30"]), Ok(&tables()), false).unwrap();
        assert!(w.restored.is_empty());
        assert_eq!(w.not_restored.len(), 1);
        assert_eq!(w.cut_off.len(), 1);
        assert!(w.cut_off[0].starts_with(ENI_LAMBDA), "{:?}", w.cut_off);
        assert!(w.cut_off[0].contains("rtb-main"), "{:?}", w.cut_off);
        assert!(!w.rolls_back());
        let sentence = w.sentence();
        assert!(
            sentence.contains("restores 0 rejected sources") && sentence.contains("cuts off 1 client"),
            "{sentence}"
        );

        let world = with_endpoint(incident_world(), "available", true);
        let found = Ok(analysis.clone());
        let status = serving_status();
        let mut i = input(&world, &found, &status);
        i.rollback = Some(&w);
        let refused = decide(&i, &timing());
        assert!(
            !refused
                .actions
                .iter()
                .any(|a| matches!(a, Action::ModifyEndpoint(m) if m.private_dns_enabled == Some(false))),
            "{:?}",
            refused.actions
        );
        assert_ne!(refused.status.phase, RolloutPhase::RolledBack);
        assert!(refused.status.rollback.is_none());

        let forced = weigh(&analysis, &read(&["10.0.1.30"]), Ok(&tables()), true).unwrap();
        assert!(forced.rolls_back() && forced.forced());
        i.rollback = Some(&forced);
        let d = decide(&i, &timing());
        assert_eq!(d.status.phase, RolloutPhase::RolledBack);
        assert!(
            d.status
                .rollback
                .as_ref()
                .is_some_and(|r| r.forced && r.cut_off.len() == 1)
        );
    }

    /// As every turn-off, a rollback waits for a status that shows private DNS on (the status
    /// of the pass that turned it on may have been lost): this pass writes it, the next rolls
    /// back.
    #[test]
    fn a_rollback_turns_private_dns_off_only_from_a_status_that_shows_it_on() {
        let analysis = analysis(SUBNET_APP, SUBNET_APP);
        let w = weigh(&analysis, &read(&["10.0.1.30"]), Ok(&tables()), false).unwrap();
        let world = with_endpoint(incident_world(), "available", true);
        let found = Ok(analysis.clone());
        let mut unseen = serving_status();
        unseen.private_dns_enabled = false;
        let mut i = input(&world, &found, &unseen);
        i.rollback = Some(&w);
        let d = decide(&i, &timing());
        assert!(
            !d.actions
                .iter()
                .any(|a| matches!(a, Action::ModifyEndpoint(m) if m.private_dns_enabled == Some(false))),
            "{:?}",
            d.actions
        );
        assert!(d.status.private_dns_enabled, "the status now shows it on");
        assert!(d.requeue <= timing().after_change);
        let mut i = input(&world, &found, &d.status);
        i.rollback = Some(&w);
        assert_eq!(decide(&i, &timing()).status.phase, RolloutPhase::RolledBack);
    }

    #[test]
    fn route_tables_that_cannot_be_read_count_every_client_reaching_the_endpoint_as_cut_off() {
        let analysis = analysis(SUBNET_APP, SUBNET_APP);
        let w = weigh(
            &analysis,
            &read(&["10.0.1.30"]),
            Err("DescribeRouteTables failed: denied"),
            false,
        )
        .unwrap();
        assert_eq!(w.cut_off, [format!("{ENI_LAMBDA} in {SUBNET_APP}")]);
        assert!(w.restored.is_empty());
        assert!(!w.rolls_back());
        assert!(
            w.sentence()
                .contains("could not be read: DescribeRouteTables failed"),
            "{}",
            w.sentence()
        );
    }

    #[test]
    fn nothing_is_weighed_for_sources_that_reach_the_endpoint_now_or_that_the_spec_excludes() {
        let reachable = reachable_analysis();
        assert!(weigh(&reachable, &read(&["10.0.1.30"]), Ok(&tables()), false).is_none());
        assert!(!any_cut_off(&reachable, &read(&["10.0.1.30"])));
        let blocked = endpoint_analysis();
        assert!(
            weigh(&blocked, &read(&["10.9.9.9"]), Ok(&tables()), false).is_none(),
            "no client of the analysis at that address"
        );
        assert!(any_cut_off(&blocked, &read(&["10.9.9.9", "10.0.1.30"])));
    }

    #[test]
    fn a_held_rollback_keeps_private_dns_off_while_the_plan_waits_and_ends_once_it_is_on_again() {
        let analysis = Ok(analysis(SUBNET_APP, SUBNET_APP));
        let mut spec = spec();
        spec.remediation.endpoint_ingress = RemediationMode::Approval;
        let mut status = serving_status();
        status.private_dns_enabled = false;
        status.private_dns_on_since = None;
        status.private_dns_off_since = Some(now_minus(30).to_string());
        status.rollback = Some(RollbackStatus {
            time: now_minus(30).to_string(),
            endpoint_id: ENDPOINT.into(),
            rejected: vec![RejectedSource {
                address: "10.0.1.30".into(),
                client: Some(ENI_ZABBIX.into()),
                ..Default::default()
            }],
            ..Default::default()
        });
        let off = with_endpoint(incident_world(), "available", false);
        let d = decide(&input_with(&spec, &off, &analysis, &status), &timing());
        assert_eq!(
            d.status.phase,
            RolloutPhase::RolledBack,
            "waiting for approval, rolled back"
        );
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert_eq!(d.status.rollback, status.rollback);
        assert_eq!(
            condition(&d.status, ConditionType::Ready).reason,
            "AwaitingApproval",
            "Ready says what is needed"
        );
        let mut reported = d.status.clone();
        report_held(&mut reported, Some(1), now());
        let verified = condition(&reported, ConditionType::Verified);
        assert_eq!(verified.reason, "RolledBack");
        assert!(
            verified.message.contains("10.0.1.30 (eni-0bbbbbbbbbbbbbbb2)"),
            "{}",
            verified.message
        );

        // Once every client reaches it, private DNS goes on again (the rollback is kept until
        // a look sees it on) ...
        let fixed = Ok(reachable_analysis());
        let enabling = decide(&input_with(&spec, &off, &fixed, &status), &timing());
        assert_eq!(enabling.status.phase, RolloutPhase::EnablingPrivateDns);
        assert!(enabling.status.rollback.is_some());
        // ... and a look that sees it on ends it: the canary window starts again.
        let on = with_endpoint(incident_world(), "available", true);
        let mut enabled = enabling.status.clone();
        enabled.private_dns_enabled = false;
        let after = decide(&input_with(&spec, &on, &fixed, &enabled), &timing());
        assert!(after.status.rollback.is_none());
        assert_eq!(after.status.private_dns_on_since, Some(now().to_string()));
    }

    #[test]
    fn the_canary_report_names_the_rollback_and_its_refusal_in_verified_and_an_event() {
        use crate::plan::EventReason;
        use crate::plan::canary::{PassActs, report};
        let analysis = analysis(SUBNET_ISOLATED, SUBNET_APP);
        let r = read(&["10.0.1.30"]);
        let w = weigh(&analysis, &r, Ok(&tables()), false).unwrap();
        assert!(w.rolls_back(), "restores 1, cuts off 1: {w:?}");
        let previous = serving_status();
        let run = |acts: PassActs<'_>| {
            let mut status = previous.clone();
            let mut events = Vec::new();
            report(
                &mut status,
                &mut events,
                &previous,
                &r,
                crate::api::RejectAction::Rollback,
                Some(&analysis),
                acts,
                Some(1),
                now(),
                Duration::from_secs(300),
            );
            (status, events)
        };
        let (status, events) = run(PassActs {
            adds_rules: false,
            rollback: Some(&w),
            turns_off: true,
            observing_only: false,
        });
        let verified = condition(&status, ConditionType::Verified);
        assert_eq!(verified.reason, "RolledBack");
        assert!(
            verified.message.contains("restores 1 rejected source") && verified.message.contains(ENI_LAMBDA),
            "{}",
            verified.message
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].reason, EventReason::RolledBack);

        let isolated = self::analysis(SUBNET_ISOLATED, SUBNET_ISOLATED);
        let refused = weigh(&isolated, &r, Ok(&tables()), false).unwrap();
        let (status, events) = run(PassActs {
            adds_rules: false,
            rollback: Some(&refused),
            turns_off: false,
            observing_only: false,
        });
        let verified = condition(&status, ConditionType::Verified);
        assert_eq!(verified.reason, "RollbackRefused");
        assert!(
            verified.message.contains("onReject.force: true"),
            "{}",
            verified.message
        );
        assert_eq!(status.phase, RolloutPhase::Degraded);
        assert_eq!(condition(&status, ConditionType::Ready).reason, "RollbackRefused");
        assert_eq!(events[0].reason, EventReason::RollbackRefused);
    }
}
