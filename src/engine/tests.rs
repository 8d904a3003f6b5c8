//! The full rollout on the simulated EC2 world, on virtual time: every remediation mode, drift
//! after Ready, deletion and Retain, restarts in every phase, and EC2 failures.
//!
//! After every pass the harness checks the rule that matters most: when the controller turns
//! private DNS on, the real analysis of the simulated world finds no blocked client.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::incident::{self, SG_ENDPOINT, SG_LAMBDA, SG_ZABBIX, SUBNET_PRIVATE_A};
use super::{ReconcileOutcome, ReconcileRequest, reconcile_with_logs};
use crate::analysis;
use crate::api::{
    Approval, DeletionPolicy, InterfaceEndpointSpec, InterfaceEndpointStatus, Owner, RemediationMode,
    RolloutPhase,
};
use crate::aws::observation::VpcObservations;
use crate::aws::sim::{SimClock, SimConfig, SimEc2, SimProvider};
use crate::aws::{AuthorizeRules, Ec2, Ec2Operation, Ec2Provider, ErrorKind, NewRule, RulePeer};
use crate::dns::sim::SimResolver;
use crate::model::{
    GroupIdentifier, NetworkInterface, Protocol, SecurityGroup, SecurityGroupRule, VpcEndpoint, tag_pairs,
};
use crate::plan::{Action, Config, EventNote, EventReason, Timing, location};

/// One object reconciled against one simulated world, the way the controller would: pick the
/// region's EC2 port, write the status, record the Events, wait the requeue (or a backoff after
/// an error).
pub(super) struct Harness {
    /// The home region's world (`incident::REGION`).
    pub(super) sim: Arc<SimEc2>,
    /// The home world, and an empty one for any other region; its simulated CloudWatch Logs.
    pub(super) regions: SimProvider,
    pub(super) spec: InterfaceEndpointSpec,
    pub(super) owner: Owner,
    pub(super) status: InterfaceEndpointStatus,
    pub(super) deleting: bool,
    finalized: bool,
    pub(super) timing: Timing,
    /// The controller's configuration (`--observe-only`, ...).
    pub(super) config: Config,
    pub(super) events: Vec<EventNote>,
    pub(super) phases: Vec<RolloutPhase>,
    /// Check after every pass that no client whose DNS answer can lead it to the endpoint
    /// lost its path ([`Harness::check_no_client_loses_its_path`]).
    pub(super) watch_paths: bool,
    /// Since when (virtual time) private DNS has been seen off after being seen on.
    dns_seen_off_at: Option<Duration>,
    dns_seen_on: bool,
    /// The VPCs' shared snapshots, as the controller keeps them (`None`: each pass observes
    /// alone).
    pub(super) observations: Option<Arc<VpcObservations>>,
    /// What names resolve to in the incident's VPC (asked only with `config.pod_ip`).
    pub(super) resolver: SimResolver,
}

impl Harness {
    pub(super) fn new(endpoint_ingress: RemediationMode) -> Self {
        Self::on(SimEc2::new(&incident::world(), SimClock::new()), endpoint_ingress)
    }

    pub(super) fn on(sim: SimEc2, endpoint_ingress: RemediationMode) -> Self {
        let sim = Arc::new(sim);
        Self {
            regions: SimProvider::new(sim.clone()),
            sim: sim.clone(),
            spec: incident::spec(endpoint_ingress),
            owner: incident::owner(),
            status: InterfaceEndpointStatus::default(),
            deleting: false,
            finalized: false,
            timing: Timing::default(),
            config: Config::default(),
            events: Vec::new(),
            phases: Vec::new(),
            watch_paths: false,
            dns_seen_off_at: None,
            dns_seen_on: false,
            observations: None,
            resolver: SimResolver::new(sim, incident::VPC),
        }
    }

    /// A second object, reconciled against the same world (and clock).
    pub(super) fn beside(&self, spec: InterfaceEndpointSpec, owner: Owner) -> Harness {
        Harness {
            sim: self.sim.clone(),
            regions: SimProvider::new(self.sim.clone()),
            spec,
            owner,
            status: InterfaceEndpointStatus::default(),
            deleting: false,
            finalized: false,
            timing: self.timing.clone(),
            config: self.config.clone(),
            events: Vec::new(),
            phases: Vec::new(),
            watch_paths: false,
            dns_seen_off_at: None,
            dns_seen_on: false,
            observations: self.observations.clone(),
            resolver: self.resolver.clone(),
        }
    }

    pub(super) async fn pass(&mut self) -> ReconcileOutcome {
        let outcome = self.pass_now().await;
        let wait = outcome.requeue.unwrap_or(Duration::from_secs(5));
        self.sim.clock().advance(wait);
        outcome
    }

    /// One pass, without waiting its requeue afterwards.
    pub(super) async fn pass_now(&mut self) -> ReconcileOutcome {
        let request = ReconcileRequest {
            spec: &self.spec,
            generation: Some(1),
            owner: &self.owner,
            deleting: self.deleting,
            status: &self.status,
            config: &self.config,
            now: self.sim.clock().timestamp(),
            observations: self.observations.as_deref(),
            resolver: Some(&self.resolver),
        };
        // As the controller does: the port of the region the endpoint was created in.
        let ec2 = self
            .regions
            .client(location::region(&self.spec, &self.status))
            .await
            .expect("a region");
        // The simulated CloudWatch Logs, for the evidence a spec names.
        let logs = self.regions.sim_logs().clone();
        let outcome = reconcile_with_logs(&*ec2, &*logs, &request, &self.timing).await;
        self.status = outcome.status.clone();
        self.events.extend(outcome.events.iter().cloned());
        self.phases.push(outcome.status.phase);
        self.finalized = outcome.finalized;
        self.check_private_dns_never_cuts_anyone_off(&outcome.performed);
        if self.watch_paths {
            self.check_no_client_loses_its_path();
        }
        outcome
    }

    /// Runs passes until `phase`, failing with the phase history after `max` passes.
    pub(super) async fn run_until(&mut self, phase: RolloutPhase, max: usize) {
        for _ in 0..max {
            if self.pass().await.status.phase == phase {
                return;
            }
        }
        panic!("no {phase} after {max} passes: {:?}", self.phases);
    }

    /// Runs deletion passes until the finalizer may go, failing with the phase history after
    /// `max` passes.
    pub(super) async fn run_until_finalized(&mut self, max: usize) {
        for _ in 0..max {
            self.pass().await;
            if self.finalized {
                return;
            }
        }
        panic!("not finalized after {max} passes: {:?}", self.phases);
    }

    /// The spec was edited: the controller wakes at once (no requeue wait).
    pub(super) fn edit(&mut self, edit: impl FnOnce(&mut InterfaceEndpointSpec)) {
        edit(&mut self.spec);
    }

    /// Whenever this pass turned private DNS on, no client of the world (as it is after the
    /// pass, with any rule the pass added) was blocked, unless the spec forces it.
    fn check_private_dns_never_cuts_anyone_off(&self, performed: &[Action]) {
        let enabled = performed
            .iter()
            .any(|a| matches!(a, Action::ModifyEndpoint(m) if m.private_dns_enabled == Some(true)));
        if !enabled || self.spec.private_dns.force {
            return;
        }
        let a = analysis::analyze(&self.spec, Some(&self.owner), &self.sim.snapshot()).unwrap();
        // Under `scope: Evidence` the clients the query logs never show are deliberately not
        // waited for; they are the ones the status lists as not evidenced.
        let not_evidenced: Vec<String> = self
            .status
            .clients
            .iter()
            .flat_map(|c| &c.exclusions)
            .filter(|e| e.reason == "NotEvidenced")
            .flat_map(|e| e.network_interface_ids.clone())
            .collect();
        let blocked: Vec<_> = a
            .blocked()
            .map(|c| c.network_interface_id.clone())
            .filter(|id| !not_evidenced.contains(id))
            .collect();
        assert!(
            blocked.is_empty(),
            "private DNS enabled while {blocked:?} are blocked"
        );
    }

    /// While a DNS answer can lead a client to the endpoint (private DNS on, or seen off less
    /// than AWS's 60 s record TTL ago, whatever the controller's timing says), the endpoint is
    /// still there and every client reaches it.
    pub(super) fn check_no_client_loses_its_path(&mut self) {
        const AWS_RECORD_TTL: Duration = Duration::from_secs(60);
        let now = self.sim.clock().now();
        let world = self.sim.snapshot();
        let endpoint = world
            .vpc_endpoints
            .iter()
            .find(|e| self.owner.owns(tag_pairs(&e.tags)) && e.state_lower() != "deleted");
        match endpoint {
            Some(e) if e.private_dns_enabled => {
                self.dns_seen_on = true;
                self.dns_seen_off_at = None;
            }
            _ if self.dns_seen_on => {
                self.dns_seen_off_at.get_or_insert(now);
            }
            _ => {}
        }
        let resolvable = endpoint.is_some_and(|e| e.private_dns_enabled)
            || self.dns_seen_off_at.is_some_and(|off| now < off + AWS_RECORD_TTL);
        if !resolvable {
            return;
        }
        let Some(endpoint) = endpoint.filter(|e| e.state_lower() != "deleting") else {
            panic!(
                "at {now:?} a DNS answer can still lead clients to an endpoint that is gone or going \
                 (phases {:?})",
                self.phases
            );
        };
        let a = analysis::analyze(&self.spec, Some(&self.owner), &world).unwrap();
        let blocked: Vec<_> = a.blocked().map(|c| c.network_interface_id.clone()).collect();
        assert!(
            blocked.is_empty(),
            "at {now:?} {blocked:?} lost their path to {} (phases {:?})",
            endpoint.vpc_endpoint_id,
            self.phases
        );
    }

    pub(super) fn owned_endpoints(&self) -> Vec<VpcEndpoint> {
        self.sim
            .snapshot()
            .vpc_endpoints
            .into_iter()
            .filter(|e| self.owner.owns(tag_pairs(&e.tags)))
            .collect()
    }

    pub(super) fn owned_rules(&self) -> Vec<SecurityGroupRule> {
        self.sim
            .snapshot()
            .security_group_rules
            .into_iter()
            .filter(|r| self.owner.owns(tag_pairs(&r.tags)))
            .collect()
    }

    pub(super) fn mutations(&self, op: Ec2Operation) -> usize {
        self.sim.mutations().iter().filter(|c| c.operation == op).count()
    }

    /// What the VPC's resolver answers for the service's name with no hand on it: the object's
    /// endpoint's addresses.
    pub(super) fn resolver_answer_of_the_endpoint(&self) -> Result<Vec<std::net::IpAddr>, String> {
        let endpoint = self.owned_endpoints().remove(0);
        Ok(self.sim.snapshot().endpoint_addresses(&endpoint))
    }

    pub(super) fn event_reasons(&self) -> Vec<EventReason> {
        self.events.iter().map(|e| e.reason).collect()
    }

    /// Someone else (another team, by hand) adds an untagged rule.
    async fn add_foreign_rule(&self, group: &str, egress: bool, peer: &str) {
        self.sim
            .authorize_security_group_rules(&AuthorizeRules {
                group_id: group.into(),
                egress,
                rules: vec![NewRule {
                    protocol: Protocol::Tcp,
                    from_port: 443,
                    to_port: 443,
                    peer: RulePeer::Group(peer.into()),
                    description: "added by hand".into(),
                }],
                tags: vec![],
            })
            .await
            .unwrap();
    }
}

fn admits_zabbix(rule: &SecurityGroupRule) -> bool {
    rule.group_id == SG_ENDPOINT
        && !rule.is_egress
        && rule.referenced_group_info.as_ref().map(|g| g.group_id.as_str()) == Some(SG_ZABBIX)
}

pub(super) async fn ready_in(mode: RemediationMode) -> Harness {
    let mut h = Harness::new(mode);
    h.run_until(RolloutPhase::Ready, 40).await;
    h
}

#[tokio::test]
async fn auto_mode_admits_the_zabbix_agent_before_enabling_private_dns() {
    let h = ready_in(RemediationMode::Auto).await;
    let endpoints = h.owned_endpoints();
    assert_eq!(endpoints.len(), 1);
    assert!(endpoints[0].private_dns_enabled);
    let rules = h.owned_rules();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert!(admits_zabbix(&rules[0]));
    assert!(
        rules[0]
            .description
            .as_deref()
            .unwrap_or_default()
            .contains("platform/cloudwatch-logs")
    );

    // The order on the wire: the rule before private DNS.
    let calls = h.sim.mutations();
    let position = |op| calls.iter().position(|c| c.operation == op).unwrap();
    assert!(
        position(Ec2Operation::AuthorizeSecurityGroupIngress) < position(Ec2Operation::ModifyVpcEndpoint)
    );
    assert_eq!(h.mutations(Ec2Operation::CreateVpcEndpoint), 1);

    let phases: Vec<RolloutPhase> = h.phases.iter().copied().fold(Vec::new(), |mut v, p| {
        if v.last() != Some(&p) {
            v.push(p);
        }
        v
    });
    assert_eq!(
        phases,
        [
            RolloutPhase::Creating,
            RolloutPhase::Provisioning,
            RolloutPhase::Remediating,
            RolloutPhase::EnablingPrivateDns,
            RolloutPhase::Ready
        ]
    );
    assert_eq!(
        h.event_reasons(),
        [
            EventReason::EndpointCreated,
            EventReason::EndpointAvailable,
            EventReason::ClientsBlocked,
            EventReason::RulesAuthorized,
            EventReason::PrivateDnsEnabled,
            EventReason::Ready
        ]
    );
    let clients = h.status.clients.as_ref().unwrap();
    assert_eq!((clients.total, clients.reachable, clients.excluded), (2, 2, 3));
    assert!(h.status.private_dns_enabled);
    assert_eq!(
        h.status.endpoint_id.as_deref(),
        Some(endpoints[0].vpc_endpoint_id.as_str())
    );
    let plan = h.status.plan.as_ref().unwrap();
    assert!(plan.rules.iter().all(|r| r.applied), "{plan:?}");
}

#[tokio::test]
async fn a_resync_in_ready_changes_nothing_and_records_nothing() {
    let mut h = ready_in(RemediationMode::Auto).await;
    let before = h.sim.mutations().len();
    let events = h.events.len();
    let status = h.status.clone();
    for _ in 0..3 {
        let out = h.pass().await;
        assert_eq!(out.requeue, Some(h.timing.resync));
    }
    assert_eq!(h.sim.mutations().len(), before);
    assert_eq!(h.events.len(), events);
    assert_eq!(h.status.conditions, status.conditions, "no transition time moves");
}

#[tokio::test]
async fn approval_mode_waits_for_the_exact_plan_then_rolls_out() {
    let mut h = Harness::new(RemediationMode::Approval);
    h.run_until(RolloutPhase::AwaitingApproval, 30).await;
    // Waiting is stable: nothing changes however long nobody approves.
    let before = h.sim.mutations().len();
    for _ in 0..3 {
        h.pass().await;
    }
    assert_eq!(h.status.phase, RolloutPhase::AwaitingApproval);
    assert_eq!(h.sim.mutations().len(), before);
    assert!(!h.owned_endpoints()[0].private_dns_enabled);
    let plan = h.status.plan.clone().unwrap();
    assert!(plan.requires_approval && !plan.approved);
    assert_eq!(plan.rules.len(), 1);
    assert_eq!(plan.rules[0].peer_group_id.as_deref(), Some(SG_ZABBIX));
    let awaiting = h
        .events
        .iter()
        .filter(|e| e.reason == EventReason::PlanAwaitingApproval)
        .count();
    assert_eq!(awaiting, 1);

    // A wrong id (never issued: not called an earlier plan) is reported with both ids, and
    // changes nothing.
    h.edit(|s| {
        s.approval = Some(Approval {
            plan_id: "0000000000".into(),
        })
    });
    h.pass().await;
    let condition = h
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "PlanApproved")
        .unwrap();
    assert_eq!(condition.reason, "UnknownPlanId");
    assert!(condition.message.contains("0000000000") && condition.message.contains(&plan.id));
    assert!(!condition.message.contains("earlier"), "{}", condition.message);
    assert_eq!(h.sim.mutations().len(), before);

    h.edit(|s| {
        s.approval = Some(Approval {
            plan_id: plan.id.clone(),
        })
    });
    h.run_until(RolloutPhase::Ready, 20).await;
    assert!(h.owned_rules().iter().any(admits_zabbix));
    assert!(h.owned_endpoints()[0].private_dns_enabled);
    let applied = h.status.plan.clone().unwrap();
    assert_eq!(
        applied.id, plan.id,
        "once applied, the plan in status is still the approved one"
    );
    assert!(applied.approved && !applied.requires_approval);
    assert!(applied.rules.iter().all(|r| r.applied));
}

#[tokio::test]
async fn mode_off_waits_until_someone_else_opens_the_path() {
    let mut h = Harness::new(RemediationMode::Off);
    h.run_until(RolloutPhase::Blocked, 30).await;
    for _ in 0..3 {
        h.pass().await;
    }
    assert_eq!(h.status.phase, RolloutPhase::Blocked);
    assert_eq!(h.mutations(Ec2Operation::AuthorizeSecurityGroupIngress), 0);
    assert!(!h.owned_endpoints()[0].private_dns_enabled);

    h.add_foreign_rule(SG_ENDPOINT, false, SG_ZABBIX).await;
    h.run_until(RolloutPhase::Ready, 20).await;
    assert!(h.owned_rules().is_empty(), "the controller added nothing");
    assert!(h.owned_endpoints()[0].private_dns_enabled);
}

#[tokio::test]
async fn an_owned_rule_revoked_after_ready_is_added_again_in_auto_mode() {
    let mut h = ready_in(RemediationMode::Auto).await;
    let rule = h.owned_rules().remove(0);
    h.sim
        .revoke_rule_out_of_band(&rule.security_group_rule_id)
        .unwrap();
    // The pass that puts it back reports the cut: Degraded, with a Warning.
    let out = h.pass().await;
    assert_eq!(out.status.phase, RolloutPhase::Degraded);
    assert!(matches!(out.performed.as_slice(), [Action::AuthorizeRules(_)]));
    assert!(
        out.events
            .iter()
            .any(|e| e.reason == EventReason::Degraded && e.warning)
    );
    h.run_until(RolloutPhase::Ready, 10).await;
    assert!(h.owned_rules().iter().any(admits_zabbix));
}

#[tokio::test]
async fn pods_given_secondary_addresses_behind_a_cidr_rule_are_admitted_by_their_nodes_group() {
    let mut h = ready_in(RemediationMode::Auto).await;
    // A node with a group of its own, whose primary address someone admitted by CIDR.
    let node_group = SecurityGroup {
        group_id: "sg-0123456789abcdef8".into(),
        vpc_id: Some(incident::VPC.into()),
        ip_permissions_egress: incident::world().security_groups[2].ip_permissions_egress.clone(),
        ..Default::default()
    };
    h.sim.add_security_group(node_group.clone());
    let node = h
        .sim
        .add_network_interface(NetworkInterface {
            subnet_id: SUBNET_PRIVATE_A.into(),
            interface_type: Some("interface".into()),
            status: Some("in-use".into()),
            groups: vec![GroupIdentifier {
                group_id: node_group.group_id.clone(),
                group_name: None,
            }],
            ..Default::default()
        })
        .unwrap();
    let primary: std::net::Ipv4Addr = node.private_ip_address.as_deref().unwrap().parse().unwrap();
    h.sim
        .authorize_security_group_rules(&AuthorizeRules {
            group_id: SG_ENDPOINT.into(),
            egress: false,
            rules: vec![NewRule {
                protocol: Protocol::Tcp,
                from_port: 443,
                to_port: 443,
                peer: RulePeer::CidrIpv4(format!("{primary}/32")),
                description: "the node, by hand".into(),
            }],
            tags: vec![],
        })
        .await
        .unwrap();
    h.run_until(RolloutPhase::Ready, 10).await;
    let refers_to_node = |r: &SecurityGroupRule| {
        r.referenced_group_info.as_ref().map(|g| g.group_id.as_str()) == Some(node_group.group_id.as_str())
    };
    assert!(
        !h.owned_rules().iter().any(refers_to_node),
        "the node alone passes"
    );

    // The VPC CNI gives the node a secondary address for a pod: the CIDR rule does not admit it.
    let pod = std::net::Ipv4Addr::from(u32::from(primary) + 40).to_string();
    h.sim
        .assign_addresses_out_of_band(&node.network_interface_id, &[&pod])
        .unwrap();
    let out = h.pass().await;
    // The pod is cut off while private DNS is on: Degraded while its rule is added.
    assert_eq!(out.status.phase, RolloutPhase::Degraded);
    assert!(matches!(out.performed.as_slice(), [Action::AuthorizeRules(_)]));
    let degraded = out
        .events
        .iter()
        .find(|e| e.reason == EventReason::Degraded)
        .unwrap();
    assert!(
        degraded.message.contains(&node.network_interface_id),
        "{}",
        degraded.message
    );
    h.run_until(RolloutPhase::Ready, 10).await;
    assert!(
        h.owned_rules().iter().any(refers_to_node),
        "the node's group admits the pods, whatever addresses they get"
    );
}

#[tokio::test]
async fn security_groups_swapped_by_hand_after_ready_are_degraded_while_they_are_put_back() {
    let mut h = ready_in(RemediationMode::Auto).await;
    // Someone gives the endpoint a group that admits nobody: every client is cut off.
    let nobody = SecurityGroup {
        group_id: "sg-0ddddddddddddddd1".into(),
        vpc_id: Some(incident::VPC.into()),
        ..Default::default()
    };
    h.sim.add_security_group(nobody.clone());
    let endpoint = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim
        .set_endpoint_groups_out_of_band(&endpoint, &[&nobody.group_id])
        .unwrap();

    let out = h.pass().await;
    assert!(
        matches!(out.performed.as_slice(), [Action::ModifyEndpoint(m)] if m.add_security_group_ids == [SG_ENDPOINT]),
        "{:?}",
        out.performed
    );
    assert_eq!(
        out.status.phase,
        RolloutPhase::Degraded,
        "repaired in the same pass, still reported"
    );
    let warnings: Vec<&EventNote> = out.events.iter().filter(|e| e.warning).collect();
    assert_eq!(warnings.len(), 1, "{:?}", out.events);
    assert_eq!(warnings[0].reason, EventReason::Degraded);
    assert!(warnings[0].message.contains("cut off"), "{}", warnings[0].message);

    h.run_until(RolloutPhase::Ready, 10).await;
    assert_eq!(h.owned_endpoints()[0].groups[0].group_id, SG_ENDPOINT);
}

#[tokio::test]
async fn an_owned_rule_revoked_after_ready_degrades_in_approval_mode() {
    let mut h = Harness::new(RemediationMode::Approval);
    h.run_until(RolloutPhase::AwaitingApproval, 30).await;
    let id = h.status.plan.as_ref().unwrap().id.clone();
    h.edit(|s| s.approval = Some(Approval { plan_id: id }));
    h.run_until(RolloutPhase::Ready, 20).await;

    let rule = h.owned_rules().remove(0);
    h.sim
        .revoke_rule_out_of_band(&rule.security_group_rule_id)
        .unwrap();
    // The approved plan is the same rule again: still approved, so it is re-added.
    h.run_until(RolloutPhase::Ready, 10).await;
    assert!(h.owned_rules().iter().any(admits_zabbix));

    // A new client whose rule nobody approved: Degraded, private DNS stays on.
    let new_group = SecurityGroup {
        group_id: "sg-0123456789abcdef7".into(),
        vpc_id: Some(incident::VPC.into()),
        ip_permissions_egress: incident::world().security_groups[2].ip_permissions_egress.clone(),
        ..Default::default()
    };
    h.sim.add_security_group(new_group.clone());
    let eni = h
        .sim
        .add_network_interface(NetworkInterface {
            subnet_id: SUBNET_PRIVATE_A.into(),
            interface_type: Some("interface".into()),
            groups: vec![GroupIdentifier {
                group_id: new_group.group_id.clone(),
                group_name: None,
            }],
            ..Default::default()
        })
        .unwrap();
    let out = h.pass().await;
    assert_eq!(out.status.phase, RolloutPhase::Degraded);
    let degraded = out
        .events
        .iter()
        .find(|e| e.reason == EventReason::Degraded)
        .unwrap();
    assert!(
        degraded.message.contains(&eni.network_interface_id),
        "{}",
        degraded.message
    );
    assert!(
        h.owned_endpoints()[0].private_dns_enabled,
        "never disabled by the controller"
    );
    let quiet = h.pass().await;
    assert!(quiet.events.is_empty(), "{:?}", quiet.events);
}

#[tokio::test]
async fn private_dns_turned_off_by_hand_is_turned_on_again_with_an_event_and_the_status_says_why() {
    let mut h = ready_in(RemediationMode::Auto).await;
    let id = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim.set_private_dns_out_of_band(&id, false).unwrap();
    let out = h.pass().await;
    assert_eq!(out.status.phase, RolloutPhase::EnablingPrivateDns);
    let warning = out
        .events
        .iter()
        .find(|e| e.reason == EventReason::PrivateDnsReenabled)
        .expect("an Event says so");
    assert!(warning.warning, "{warning:?}");
    assert!(
        warning.message.contains("outside the controller")
            && warning.message.contains("spec.privateDns.enabled: false"),
        "the Event names the brake that holds: {}",
        warning.message
    );
    h.run_until(RolloutPhase::Ready, 20).await;
    assert!(h.owned_endpoints()[0].private_dns_enabled);

    // Once it is back on, the status still says why, on every pass.
    for _ in 0..2 {
        h.pass().await;
        let dns = h
            .status
            .conditions
            .iter()
            .find(|c| c.type_ == "PrivateDnsEnabled")
            .unwrap();
        assert_eq!(
            (dns.status.as_str(), dns.reason.as_str()),
            ("True", "PrivateDnsOn")
        );
        assert!(
            dns.message.contains("turned on again at")
                && dns.message.contains("spec.privateDns.enabled: false"),
            "{}",
            dns.message
        );
        assert!(h.status.private_dns_reenabled_time.is_some());
    }
    let reported = h
        .event_reasons()
        .iter()
        .filter(|r| **r == EventReason::PrivateDnsReenabled)
        .count();
    assert_eq!(reported, 1, "once per hand-made change");

    // The brake that holds: the spec turns it off, and the controller keeps it off.
    h.edit(|s| s.private_dns.enabled = false);
    for _ in 0..5 {
        h.pass().await;
    }
    assert!(!h.owned_endpoints()[0].private_dns_enabled);
    assert_eq!(h.status.private_dns_reenabled_time, None);
}

#[tokio::test]
async fn private_dns_turned_off_in_the_spec_goes_off_while_the_plan_still_waits_for_approval() {
    // Forced on while the Zabbix agent is blocked and its rule waits for approval.
    let mut h = Harness::new(RemediationMode::Approval);
    h.edit(|s| s.private_dns.force = true);
    h.run_until(RolloutPhase::AwaitingApproval, 30).await;
    assert!(h.owned_endpoints()[0].private_dns_enabled);

    // The way back: the spec turns private DNS off, without approving anything.
    h.edit(|s| s.private_dns.enabled = false);
    for _ in 0..10 {
        h.pass().await;
    }
    assert!(!h.owned_endpoints()[0].private_dns_enabled, "{:?}", h.phases);
    assert_eq!(h.status.phase, RolloutPhase::AwaitingApproval);
    assert_eq!(h.mutations(Ec2Operation::AuthorizeSecurityGroupIngress), 0);
}

#[tokio::test]
async fn an_endpoint_deleted_out_of_band_is_recreated_with_a_new_client_token() {
    let mut h = ready_in(RemediationMode::Auto).await;
    let old = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    h.sim.delete_endpoint_out_of_band(&old).unwrap();
    h.run_until(RolloutPhase::Ready, 60).await;
    let endpoints = h.owned_endpoints();
    assert_eq!(endpoints.len(), 1);
    assert_ne!(endpoints[0].vpc_endpoint_id, old);
    assert_eq!(h.status.endpoint_recreations, 1);
    assert!(
        h.events
            .iter()
            .any(|e| e.reason == EventReason::Degraded && e.message.contains(&old))
    );
}

/// Issue 8, hole 1, for spec edits, watched after every pass: a swap of the endpoint's groups
/// to one that admits nobody, with its rule waiting for approval, is held while private DNS is
/// on; when the spec then turns private DNS off too, private DNS goes first and the groups
/// change only once no cached answer can lead a client to the endpoint.
#[tokio::test]
async fn a_spec_edit_that_would_cut_clients_off_waits_for_private_dns_off_and_the_ttl() {
    let mut h = ready_in(RemediationMode::Auto).await;
    h.watch_paths = true;
    h.check_no_client_loses_its_path();
    const SG_NOBODY: &str = "sg-0aaaaaaaaaaaaaaa8";
    h.sim.add_security_group(SecurityGroup {
        group_id: SG_NOBODY.into(),
        vpc_id: Some(incident::VPC.into()),
        ..Default::default()
    });
    let groups_now = |h: &Harness| -> Vec<String> {
        h.owned_endpoints()[0]
            .groups
            .iter()
            .map(|g| g.group_id.clone())
            .collect()
    };
    h.edit(|s| {
        s.security_group_ids = vec![SG_NOBODY.into()];
        s.remediation.endpoint_ingress = RemediationMode::Approval;
    });
    for _ in 0..5 {
        h.pass().await;
    }
    assert_eq!(h.status.phase, RolloutPhase::AwaitingApproval, "{:?}", h.phases);
    assert_eq!(groups_now(&h), [SG_ENDPOINT], "held");
    assert!(h.owned_endpoints()[0].private_dns_enabled);

    let before = h.sim.mutations().len();
    h.edit(|s| s.private_dns.enabled = false);
    for _ in 0..30 {
        h.pass().await;
        if groups_now(&h) == [SG_NOBODY] {
            break;
        }
    }
    assert_eq!(groups_now(&h), [SG_NOBODY], "{:?}", h.phases);
    assert!(!h.owned_endpoints()[0].private_dns_enabled);
    // What EC2 carried out: private DNS off, then the groups, AWS's 60 s TTL later.
    let changes = &h.sim.mutations()[before..];
    let operations: Vec<Ec2Operation> = changes.iter().map(|c| c.operation).collect();
    assert_eq!(
        operations,
        [Ec2Operation::ModifyVpcEndpoint, Ec2Operation::ModifyVpcEndpoint],
        "{changes:?}"
    );
    assert!(
        changes[1].at - changes[0].at >= Duration::from_secs(60),
        "{changes:?}"
    );
}

#[tokio::test]
async fn a_security_group_swap_while_serving_adds_rules_first_then_modifies() {
    let mut h = ready_in(RemediationMode::Auto).await;
    let new_group = SecurityGroup {
        group_id: "sg-0aaaaaaaaaaaaaaa9".into(),
        vpc_id: Some(incident::VPC.into()),
        ..Default::default()
    };
    h.sim.add_security_group(new_group.clone());
    h.edit(|s| s.security_group_ids = vec![new_group.group_id.clone()]);
    let out = h.pass().await;
    assert_eq!(out.status.phase, RolloutPhase::Remediating);
    assert!(matches!(
        out.performed.as_slice(),
        [Action::AuthorizeRules(_), Action::ModifyEndpoint(_)]
    ));
    h.run_until(RolloutPhase::Ready, 10).await;
    let endpoint = &h.owned_endpoints()[0];
    assert_eq!(endpoint.groups[0].group_id, new_group.group_id);
    let peers: BTreeSet<String> = h
        .owned_rules()
        .iter()
        .filter(|r| r.group_id == new_group.group_id)
        .filter_map(|r| r.referenced_group_info.as_ref().map(|g| g.group_id.clone()))
        .collect();
    assert_eq!(
        peers,
        BTreeSet::from([SG_LAMBDA.to_string(), SG_ZABBIX.to_string()])
    );
}

#[tokio::test]
async fn deletion_revokes_own_rules_keeps_foreign_ones_and_deletes_the_endpoint() {
    let mut h = ready_in(RemediationMode::Auto).await;
    // The incident's own rule (endpoint SG admits the Lambda) is foreign; add another one.
    h.add_foreign_rule(SG_ZABBIX, true, SG_ENDPOINT).await;
    let foreign_before: Vec<SecurityGroupRule> = h
        .sim
        .snapshot()
        .security_group_rules
        .into_iter()
        .filter(|r| !h.owner.owns(tag_pairs(&r.tags)))
        .collect();
    h.deleting = true;
    h.run_until_finalized(20).await;
    assert!(h.owned_rules().is_empty());
    assert!(h.owned_endpoints().is_empty());
    let foreign_after: Vec<SecurityGroupRule> = h
        .sim
        .snapshot()
        .security_group_rules
        .into_iter()
        .filter(|r| !h.owner.owns(tag_pairs(&r.tags)))
        .collect();
    assert_eq!(foreign_after, foreign_before);
    let reasons = h.event_reasons();
    assert!(reasons.contains(&EventReason::RulesRevoked) && reasons.contains(&EventReason::EndpointDeleted));
}

#[tokio::test]
async fn an_endpoint_gone_before_the_next_look_ends_the_deletion_at_once() {
    // EC2 may take less time to delete than the controller waits between passes: the pass after
    // DeleteVpcEndpoints finds nothing. That is the end of the deletion, not an endpoint created
    // moments ago that EC2 does not list yet (which would hold the finalizer for the whole
    // visibility window).
    let config = SimConfig {
        deletion_delay: Duration::from_secs(1),
        ..SimConfig::default()
    };
    let mut h = Harness::on(
        SimEc2::with_config(&incident::world(), SimClock::new(), config),
        RemediationMode::Auto,
    );
    // Deleted while the create is still within the visibility window.
    h.timing.visibility_window = Duration::from_secs(3600);
    h.run_until(RolloutPhase::Ready, 40).await;
    h.deleting = true;
    // Private DNS off, then the record TTL: the wait this test is about comes after them.
    while h.sim.mutations().last().map(|c| c.operation) != Some(Ec2Operation::DeleteVpcEndpoints) {
        h.pass().await;
        assert!(!h.finalized);
    }
    let started = h.sim.clock().now();
    h.run_until_finalized(5).await;
    assert!(
        h.sim.clock().now() - started < Duration::from_secs(60),
        "{:?}",
        h.sim.clock().now() - started
    );
    assert!(h.owned_endpoints().is_empty());
}

/// Issue 8, hole 1: deletion never takes a path from a client while a DNS answer can lead it
/// to the endpoint, even when DeleteVpcEndpoints is throttled by the account's shared bucket
/// (4 calls, 0.3/s, drained here by "other callers"), then fails outright, then takes effect
/// with its answer lost (a timeout after the fact), and the endpoint lingers in `deleting`.
///
/// The world is checked after every pass; within a pass a deletion only removes things (private
/// DNS, the endpoint, rules) and never puts one back, so a path taken at any call of the pass is
/// still missing when the pass ends.
#[tokio::test]
async fn a_throttled_and_failing_delete_never_takes_a_path_from_a_client() {
    let mut h = ready_in(RemediationMode::Auto).await;
    h.watch_paths = true;
    h.check_no_client_loses_its_path();
    h.deleting = true;
    let before = h.sim.mutations().len();
    let (mut throttled, mut failed, mut lost, mut pending) = (0, 0, 0, 0);
    for _ in 0..60 {
        // Other callers in the account keep the bucket empty for the first attempts; then EC2
        // fails the call once; then it deletes the endpoint but the answer never arrives.
        if throttled < 3 {
            while h
                .sim
                .delete_vpc_endpoints(&[])
                .await
                .is_err_and(|e| e.kind != ErrorKind::Throttled)
            {}
        } else if failed == 0 && h.sim.pending_faults() == 0 {
            h.sim.inject_error(
                Ec2Operation::DeleteVpcEndpoints,
                "InternalError",
                "An internal error has occurred",
                1,
            );
        } else if failed == 1 && lost == 0 && h.sim.pending_faults() == 0 {
            let timeout = crate::aws::Ec2Error::new(
                ErrorKind::Transient,
                Ec2Operation::DeleteVpcEndpoints,
                "Timeout",
                "the answer never arrived",
            );
            h.sim
                .inject_lost_answer(Ec2Operation::DeleteVpcEndpoints, timeout, 1);
        }
        let outcome = h.pass().await;
        match &outcome.error {
            Some(e) if e.operation == Ec2Operation::DeleteVpcEndpoints && e.kind == ErrorKind::Throttled => {
                throttled += 1;
            }
            Some(e) if e.operation == Ec2Operation::DeleteVpcEndpoints && e.code == "Timeout" => lost += 1,
            Some(e) if e.operation == Ec2Operation::DeleteVpcEndpoints => failed += 1,
            Some(e) => panic!("unexpected {e}"),
            None => {}
        }
        // A throttled, failed, unanswered or pending delete leaves the rules in place.
        let listed = h.owned_endpoints();
        if !listed.is_empty() {
            assert_eq!(h.owned_rules().len(), 1, "a rule went while {listed:?} is listed");
            pending += usize::from(listed.iter().all(location::is_deleting));
        }
        if h.finalized {
            break;
        }
    }
    assert!(h.finalized, "{:?}", h.phases);
    assert_eq!(
        (throttled >= 3, failed, lost),
        (true, 1, 1),
        "throttled {throttled}, failed {failed}, answers lost {lost}"
    );
    assert!(pending > 0, "the endpoint was never seen deleting");
    assert!(h.owned_endpoints().is_empty() && h.owned_rules().is_empty());
    // What EC2 carried out, answered or not: private DNS off, the delete a record TTL later,
    // the rule last.
    let changes = &h.sim.mutations()[before..];
    let operations: Vec<Ec2Operation> = changes.iter().map(|c| c.operation).collect();
    assert_eq!(
        operations,
        [
            Ec2Operation::ModifyVpcEndpoint,
            Ec2Operation::DeleteVpcEndpoints,
            Ec2Operation::RevokeSecurityGroupIngress
        ],
        "{changes:?}"
    );
    assert!(
        changes[1].at - changes[0].at >= Duration::from_secs(60),
        "{changes:?}"
    );
}

/// A controller restarted at any point of a deletion (the status as last written, the world
/// as it is) resumes the safe order: private DNS off, the TTL, the delete, then the rules.
#[tokio::test]
async fn a_deletion_interrupted_after_any_pass_resumes_in_the_safe_order() {
    for interrupted_after in 1..6 {
        let mut h = ready_in(RemediationMode::Auto).await;
        h.watch_paths = true;
        h.check_no_client_loses_its_path();
        h.deleting = true;
        let mut before_last = h.status.clone();
        for _ in 0..interrupted_after {
            before_last = h.status.clone();
            h.pass().await;
        }
        // Crashed between the last pass's EC2 calls and its status write: the restarted
        // controller sees the status before it, and the world after it.
        h.status = before_last;
        h.run_until_finalized(20).await;
        assert!(h.owned_endpoints().is_empty() && h.owned_rules().is_empty());
    }
}

/// Two objects whose endpoints (two services) share the endpoint security group: the logs
/// object's rule admits the Zabbix agent, so the monitoring object reaches Ready without one.
pub(super) async fn two_objects_sharing_a_group() -> (Harness, Harness) {
    let (logs, monitoring) = two_objects_sharing_a_group_in(incident::world(), None).await;
    assert_eq!(logs.owned_rules().len(), 1);
    (logs, monitoring)
}

/// [`two_objects_sharing_a_group`] in `world`, on the controller's shared `observations` of
/// the VPC when given.
pub(super) async fn two_objects_sharing_a_group_in(
    mut world: crate::model::Snapshot,
    observations: Option<Arc<VpcObservations>>,
) -> (Harness, Harness) {
    world.service_details.push(crate::aws::sim::aws_service(
        incident::REGION,
        "monitoring",
        &["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"],
    ));
    let mut logs = Harness::on(SimEc2::new(&world, SimClock::new()), RemediationMode::Auto);
    logs.observations = observations;
    logs.run_until(RolloutPhase::Ready, 40).await;
    let monitoring_spec = InterfaceEndpointSpec {
        service_name: format!("com.amazonaws.{}.monitoring", incident::REGION),
        ..incident::spec(RemediationMode::Auto)
    };
    let monitoring_owner = Owner {
        namespace: "observability".into(),
        name: "cloudwatch-metrics".into(),
        uid: "0b7e3c1d-2f4a-4c5b-8d6e-9f0a1b2c3d4e".into(),
    };
    let mut monitoring = logs.beside(monitoring_spec, monitoring_owner);
    monitoring.run_until(RolloutPhase::Ready, 40).await;
    assert!(
        monitoring.owned_rules().is_empty(),
        "the logs object's rules admit its clients"
    );
    logs.watch_paths = true;
    monitoring.watch_paths = true;
    (logs, monitoring)
}

/// Deletes `h`, checking after every pass that `other`'s clients keep their path (without
/// running `other`: it may reconcile only minutes later).
pub(super) async fn delete_beside(h: &mut Harness, other: &mut Harness) {
    h.deleting = true;
    for _ in 0..30 {
        h.pass().await;
        other.check_no_client_loses_its_path();
        if h.finalized {
            return;
        }
    }
    panic!("not finalized: {:?}", h.phases);
}

/// Issue 8, hole 7: deleting the object whose rule another object's endpoint relies on hands
/// the rule over instead of revoking it; the handover is in both objects' Events and status,
/// and the rule goes with the second object.
#[tokio::test]
async fn a_rule_another_objects_endpoint_needs_is_handed_over_not_revoked() {
    let (mut logs, mut monitoring) = two_objects_sharing_a_group().await;
    let rule = logs.owned_rules().remove(0);
    delete_beside(&mut logs, &mut monitoring).await;
    assert!(logs.owned_endpoints().is_empty());
    assert!(logs.owned_rules().is_empty(), "no longer the logs object's");
    let taken = monitoring.owned_rules();
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0].security_group_rule_id, rule.security_group_rule_id);
    assert!(
        tag_pairs(&taken[0].tags)
            .any(|(k, v)| k == crate::api::HANDED_OVER_FROM_TAG && v == "platform/cloudwatch-logs"),
        "{:?}",
        taken[0].tags
    );
    let handed = logs
        .events
        .iter()
        .find(|e| e.reason == EventReason::RulesHandedOver)
        .expect("a RulesHandedOver Event");
    assert!(
        handed.message.contains("observability/cloudwatch-metrics")
            && handed.message.contains(&rule.security_group_rule_id),
        "{}",
        handed.message
    );
    assert!(!logs.event_reasons().contains(&EventReason::RulesRevoked));
    // The handover is in the audit trail: its Event ends with where CloudTrail has the call.
    let calls = logs.sim.calls();
    let tagged: Vec<_> = calls
        .iter()
        .filter(|c| c.operation == Ec2Operation::CreateTags)
        .collect();
    assert_eq!(tagged.len(), 1, "{tagged:?}");
    assert!(
        handed.message.ends_with(&format!(
            "(request id {}, account 123456789012, region {})",
            tagged[0].request_id,
            incident::REGION
        )),
        "{}",
        handed.message
    );

    // Minutes later the monitoring object reconciles: it says it took the rule over, once.
    monitoring.sim.clock().advance(Duration::from_secs(300));
    monitoring.pass().await;
    let took = monitoring
        .events
        .iter()
        .filter(|e| e.reason == EventReason::RulesTakenOver)
        .collect::<Vec<_>>();
    assert_eq!(took.len(), 1, "{:?}", monitoring.events);
    assert!(
        took[0].message.contains("platform/cloudwatch-logs"),
        "{}",
        took[0].message
    );
    let planned = &monitoring
        .status
        .plan
        .as_ref()
        .expect("the plan lists the rule")
        .rules;
    assert!(
        planned
            .iter()
            .any(|r| r.applied && r.handed_over_from.as_deref() == Some("platform/cloudwatch-logs")),
        "{planned:?}"
    );
    monitoring.pass().await;
    assert_eq!(
        monitoring
            .event_reasons()
            .iter()
            .filter(|r| **r == EventReason::RulesTakenOver)
            .count(),
        1,
        "announced once"
    );
    assert_eq!(monitoring.status.phase, RolloutPhase::Ready);

    // The rule is the monitoring object's now: it goes when that object is deleted.
    let mut nobody = monitoring.beside(incident::spec(RemediationMode::Auto), incident::owner());
    delete_beside(&mut monitoring, &mut nobody).await;
    assert!(monitoring.owned_rules().is_empty() && monitoring.owned_endpoints().is_empty());
    assert!(monitoring.event_reasons().contains(&EventReason::RulesRevoked));
}

/// Two rules of the deleted object admit the same client: removing either alone cuts nobody
/// off, removing both would. One is handed over, the other revoked.
#[tokio::test]
async fn of_two_rules_that_admit_the_same_client_one_is_handed_over_and_one_revoked() {
    let (mut logs, mut monitoring) = two_objects_sharing_a_group().await;
    let zabbix_address = logs
        .sim
        .snapshot()
        .network_interfaces
        .iter()
        .find(|n| n.network_interface_id == incident::ENI_ZABBIX)
        .and_then(|n| n.private_ip_address.clone())
        .unwrap();
    logs.sim
        .authorize_security_group_rules(&AuthorizeRules {
            group_id: SG_ENDPOINT.into(),
            egress: false,
            rules: vec![NewRule {
                protocol: Protocol::Tcp,
                from_port: 443,
                to_port: 443,
                peer: RulePeer::CidrIpv4(format!("{zabbix_address}/32")),
                description: "vpce-rollout: the agent's address".into(),
            }],
            tags: crate::model::tags_from(logs.owner.tags()),
        })
        .await
        .unwrap();
    assert_eq!(logs.owned_rules().len(), 2);
    delete_beside(&mut logs, &mut monitoring).await;
    assert_eq!(
        monitoring.owned_rules().len(),
        1,
        "one is enough, and one is kept"
    );
    assert!(logs.owned_rules().is_empty());
    assert!(logs.event_reasons().contains(&EventReason::RulesHandedOver));
    assert!(logs.event_reasons().contains(&EventReason::RulesRevoked));
}

/// EC2 refuses a whole CreateTags when one of its rules is gone (revoked by someone between
/// the look and the call): the rules still there are handed over one by one, none left behind
/// with the deleted object's tags.
#[tokio::test]
async fn a_handover_refused_for_a_rule_gone_meanwhile_hands_the_others_over_one_by_one() {
    // A second client, in a group of its own: the logs object admits it with a second rule,
    // and the monitoring endpoint needs both.
    let mut world = incident::world();
    let mut group = world
        .security_groups
        .iter()
        .find(|g| g.group_id == SG_ZABBIX)
        .unwrap()
        .clone();
    group.group_id = "sg-0b47c4b47c4b40004".into();
    let mut eni = world
        .network_interfaces
        .iter()
        .find(|n| n.network_interface_id == incident::ENI_ZABBIX)
        .unwrap()
        .clone();
    eni.network_interface_id = "eni-0b47c4b47c4b40004".into();
    eni.groups[0].group_id = group.group_id.clone();
    eni.private_ip_address = Some("10.0.10.44".into());
    eni.private_ip_addresses[0].private_ip_address = "10.0.10.44".into();
    world.security_groups.push(group);
    world.network_interfaces.push(eni);
    let (mut logs, mut monitoring) = two_objects_sharing_a_group_in(world, None).await;
    let rules: BTreeSet<String> = logs
        .owned_rules()
        .into_iter()
        .map(|r| r.security_group_rule_id)
        .collect();
    assert_eq!(rules.len(), 2);

    logs.sim.inject_error(
        Ec2Operation::CreateTags,
        "InvalidSecurityGroupRuleId.NotFound",
        "The security group rule ID 'sgr-0ffffffffffffffff' does not exist",
        1,
    );
    delete_beside(&mut logs, &mut monitoring).await;
    let taken: BTreeSet<String> = monitoring
        .owned_rules()
        .into_iter()
        .map(|r| r.security_group_rule_id)
        .collect();
    assert_eq!(taken, rules, "every rule still there is the monitoring object's");
    let tagging: Vec<bool> = logs
        .sim
        .calls()
        .iter()
        .filter(|c| c.operation == Ec2Operation::CreateTags)
        .map(|c| c.succeeded())
        .collect();
    assert_eq!(
        tagging,
        [false, true, true],
        "the whole request, then rule by rule"
    );
    let handed = logs
        .events
        .iter()
        .filter(|e| e.reason == EventReason::RulesHandedOver)
        .count();
    assert_eq!(handed, 2, "one Event per call that handed a rule over");
}

/// The other order: the object without rules goes first and takes nothing; the rule's owner
/// goes next and, nobody needing the rule any more, revokes it.
#[tokio::test]
async fn two_objects_sharing_a_group_can_be_deleted_in_the_other_order() {
    let (mut logs, mut monitoring) = two_objects_sharing_a_group().await;
    delete_beside(&mut monitoring, &mut logs).await;
    assert!(!monitoring.event_reasons().contains(&EventReason::RulesHandedOver));
    assert_eq!(logs.owned_rules().len(), 1, "the logs object's rule is untouched");
    logs.pass().await;
    assert_eq!(logs.status.phase, RolloutPhase::Ready);
    delete_beside(&mut logs, &mut monitoring).await;
    assert!(logs.owned_rules().is_empty() && logs.owned_endpoints().is_empty());
    assert!(logs.event_reasons().contains(&EventReason::RulesRevoked));
    assert!(!logs.event_reasons().contains(&EventReason::RulesHandedOver));
}

#[tokio::test]
async fn retain_leaves_the_endpoint_and_its_rules() {
    let mut h = ready_in(RemediationMode::Auto).await;
    h.edit(|s| s.deletion_policy = Some(DeletionPolicy::Retain));
    h.deleting = true;
    let before = h.sim.mutations().len();
    h.pass().await;
    assert!(h.finalized);
    assert_eq!(h.sim.mutations().len(), before);
    assert_eq!(h.owned_endpoints().len(), 1);
    assert_eq!(h.owned_rules().len(), 1);
}

/// A controller restart (or a lost status) after any pass: the next controller continues from
/// the last written status, or from nothing, and never makes a second endpoint.
#[tokio::test]
async fn a_restart_in_the_middle_of_each_phase_converges_without_a_second_endpoint() {
    let reference = ready_in(RemediationMode::Auto).await;
    let passes = reference.phases.len();
    for cut in 1..passes {
        for lose_status in [false, true] {
            let mut h = Harness::new(RemediationMode::Auto);
            for _ in 0..cut {
                h.pass().await;
            }
            let at = h.status.phase;
            if lose_status {
                h.status = InterfaceEndpointStatus::default();
            }
            h.run_until(RolloutPhase::Ready, 60).await;
            let ids: BTreeSet<String> = h
                .owned_endpoints()
                .into_iter()
                .map(|e| e.vpc_endpoint_id)
                .collect();
            assert_eq!(
                ids.len(),
                1,
                "restart after pass {cut} ({at}), status lost: {lose_status}"
            );
            assert_eq!(h.owned_rules().len(), 1);
        }
    }
}

#[tokio::test]
async fn throttling_keeps_the_phase_and_the_rollout_recovers() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.run_until(RolloutPhase::Provisioning, 10).await;
    h.sim.inject_error(
        Ec2Operation::DescribeNetworkInterfaces,
        "RequestLimitExceeded",
        "Request limit exceeded.",
        2,
    );
    let out = h.pass().await;
    let error = out.error.expect("reported as an error for backoff");
    assert_eq!(error.kind.as_str(), "Throttled");
    assert_eq!(out.requeue, None);
    assert_eq!(out.status.phase, RolloutPhase::Provisioning);
    assert_eq!(out.events.len(), 1, "one warning");
    let again = h.pass().await;
    assert!(again.events.is_empty(), "not repeated: {:?}", again.events);
    h.run_until(RolloutPhase::Ready, 40).await;
}

#[tokio::test]
async fn a_rule_added_by_someone_else_meanwhile_counts_as_added() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.run_until(RolloutPhase::Provisioning, 10).await;
    // EC2 answers the controller's authorize with a duplicate: someone was faster.
    h.sim.inject_error(
        Ec2Operation::AuthorizeSecurityGroupIngress,
        "InvalidPermission.Duplicate",
        "the specified rule already exists",
        1,
    );
    h.run_until(RolloutPhase::Ready, 40).await;
    assert!(h.events.iter().all(|e| e.reason != EventReason::Failed));
    // Taken as a failure, the duplicate would only have been retried (a Retrying warning) and
    // the rollout would have reached Ready all the same.
    assert!(
        h.events.iter().all(|e| e.reason != EventReason::Retrying),
        "{:?}",
        h.event_reasons()
    );
}

#[tokio::test]
async fn access_denied_on_create_fails_naming_the_iam_action_without_changes() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.sim.inject_error(
        Ec2Operation::CreateVpcEndpoint,
        "UnauthorizedOperation",
        "You are not authorized to perform this operation.",
        1,
    );
    let out = h.pass().await;
    assert_eq!(out.status.phase, RolloutPhase::Failed);
    assert_eq!(out.error.as_ref().unwrap().kind.as_str(), "AccessDenied");
    let ready = out.status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.reason, "AccessDenied");
    assert!(
        ready.message.contains("ec2:CreateVpcEndpoint"),
        "{}",
        ready.message
    );
    assert!(h.sim.mutations().is_empty());
    // Once the policy is fixed, the next pass proceeds.
    h.run_until(RolloutPhase::Ready, 40).await;
}

#[tokio::test]
async fn a_reused_client_token_is_looked_up_by_tag_then_replaced() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.sim.inject_error(
        Ec2Operation::CreateVpcEndpoint,
        "IdempotentParameterMismatch",
        "The client token has already been used with different parameters.",
        1,
    );
    let out = h.pass().await;
    assert!(out.error.is_none(), "an expected wait");
    assert_eq!(out.status.phase, RolloutPhase::Creating);
    h.run_until(RolloutPhase::Ready, 80).await;
    assert_eq!(h.owned_endpoints().len(), 1);
    assert_eq!(
        h.status.endpoint_recreations, 1,
        "a new token after the visibility window"
    );
}

#[tokio::test]
async fn an_invalid_spec_fails_once_without_touching_aws() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.edit(|s| s.subnet_ids = vec!["subnet-0deaddeaddeaddead".into()]);
    h.pass().await;
    h.pass().await;
    assert_eq!(h.status.phase, RolloutPhase::Failed);
    assert!(h.sim.mutations().is_empty());
    assert_eq!(h.event_reasons(), [EventReason::Failed]);
    assert!(h.events[0].message.contains("subnet-0deaddeaddeaddead"));
}

#[tokio::test]
async fn deleting_right_after_create_does_not_leave_the_invisible_endpoint_behind() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.pass().await; // CreateVpcEndpoint; EC2 does not list it for a few seconds
    h.deleting = true;
    h.run_until_finalized(30).await;
    assert!(h.owned_endpoints().is_empty(), "{:?}", h.owned_endpoints());
    assert_eq!(h.mutations(Ec2Operation::DeleteVpcEndpoints), 1);
}

#[tokio::test]
async fn deletion_after_a_lost_status_still_cleans_up_everything() {
    let mut h = ready_in(RemediationMode::Auto).await;
    h.deleting = true;
    h.pass().await;
    h.status = InterfaceEndpointStatus::default();
    h.run_until_finalized(20).await;
    assert!(h.owned_rules().is_empty());
    assert!(h.owned_endpoints().is_empty());
}

#[tokio::test]
async fn a_vpc_without_dns_hostnames_stops_before_private_dns_and_resumes_once_fixed() {
    let mut h = Harness::new(RemediationMode::Auto);
    h.sim
        .set_vpc_dns_attributes(incident::VPC, None, Some(false))
        .unwrap();
    h.run_until(RolloutPhase::Failed, 30).await;
    let dns = h
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "PrivateDnsEnabled")
        .unwrap();
    assert_eq!(dns.reason, "VpcDnsHostnamesDisabled");
    assert!(dns.message.contains("--enable-dns-hostnames"), "{}", dns.message);
    assert_eq!(h.mutations(Ec2Operation::ModifyVpcEndpoint), 0);
    let warnings = h
        .events
        .iter()
        .filter(|e| e.reason == EventReason::Failed)
        .count();
    h.pass().await;
    assert_eq!(
        h.events
            .iter()
            .filter(|e| e.reason == EventReason::Failed)
            .count(),
        warnings,
        "the warning is not repeated"
    );

    h.sim
        .set_vpc_dns_attributes(incident::VPC, None, Some(true))
        .unwrap();
    h.run_until(RolloutPhase::Ready, 20).await;
}

/// The second VPC of [`world_with_a_second_vpc`].
const OTHER_VPC: &str = "vpc-0f3e5a7c9b1d24681";

/// The incident VPC and a copy of it with every id and address shifted: a VPC a spec could be
/// moved to, where the controller could create a second endpoint.
fn world_with_a_second_vpc() -> crate::model::Snapshot {
    let mut world = incident::world();
    let mut json = serde_json::to_string(&world).unwrap();
    for (from, to) in [
        (incident::VPC, OTHER_VPC),
        ("c0ffee", "c0ffef"),
        ("sg-0", "sg-1"),
        ("eni-0", "eni-1"),
        ("acl-0", "acl-1"),
        ("10.0.", "10.1."),
    ] {
        json = json.replace(from, to);
    }
    let copy: crate::model::Snapshot = serde_json::from_str(&json).unwrap();
    world.vpcs.extend(copy.vpcs);
    world.vpc_attributes.extend(copy.vpc_attributes);
    world.subnets.extend(copy.subnets);
    world.security_groups.extend(copy.security_groups);
    world.network_interfaces.extend(copy.network_interfaces);
    world.network_acls.extend(copy.network_acls);
    world
}

/// Points the spec at the copy of the VPC: its VPC, subnet and endpoint security group.
fn moved_to_the_other_vpc(spec: &mut InterfaceEndpointSpec) {
    spec.vpc_id = OTHER_VPC.into();
    spec.subnet_ids = vec![SUBNET_PRIVATE_A.replace("c0ffee", "c0ffef")];
    spec.security_group_ids = vec![SG_ENDPOINT.replace("sg-0", "sg-1")];
}

fn ready_message(status: &InterfaceEndpointStatus) -> (String, String) {
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    (ready.reason.clone(), ready.message.clone())
}

#[tokio::test]
async fn a_vpc_changed_after_creation_fails_and_nothing_is_created_or_changed() {
    let mut h = Harness::on(
        SimEc2::new(&world_with_a_second_vpc(), SimClock::new()),
        RemediationMode::Auto,
    );
    h.run_until(RolloutPhase::Ready, 40).await;
    let endpoint = h.owned_endpoints().remove(0);
    let rules = h.owned_rules();
    let (mutations, events) = (h.sim.mutations().len(), h.events.len());

    h.edit(moved_to_the_other_vpc);
    h.pass().await;
    h.pass().await;

    assert_eq!(h.status.phase, RolloutPhase::Failed);
    let (reason, message) = ready_message(&h.status);
    assert_eq!(reason, "InvalidSpec");
    assert!(
        message.contains(incident::VPC) && message.contains(OTHER_VPC),
        "{message}"
    );
    assert_eq!(h.sim.mutations().len(), mutations, "no AWS change");
    assert_eq!(
        h.owned_endpoints(),
        std::slice::from_ref(&endpoint),
        "no second endpoint"
    );
    assert_eq!(h.owned_rules(), rules);
    let new_events = &h.events[events..];
    assert_eq!(new_events.len(), 1, "one warning: {new_events:?}");
    assert!(new_events[0].warning && new_events[0].reason == EventReason::Failed);
    assert_eq!(
        h.status.endpoint_id.as_deref(),
        Some(endpoint.vpc_endpoint_id.as_str())
    );

    // Set back, the rollout carries on with the same endpoint.
    h.edit(|s| *s = incident::spec(RemediationMode::Auto));
    h.run_until(RolloutPhase::Ready, 10).await;
    assert_eq!(h.owned_endpoints().len(), 1);
}

#[tokio::test]
async fn deletion_after_a_vpc_change_cleans_up_the_original_endpoint_and_rules() {
    let mut h = Harness::on(
        SimEc2::new(&world_with_a_second_vpc(), SimClock::new()),
        RemediationMode::Auto,
    );
    h.run_until(RolloutPhase::Ready, 40).await;
    assert_eq!(h.owned_rules().len(), 1);
    h.edit(moved_to_the_other_vpc);
    h.pass().await;
    h.deleting = true;
    h.run_until_finalized(20).await;
    assert!(h.owned_endpoints().is_empty(), "{:?}", h.owned_endpoints());
    assert!(h.owned_rules().is_empty(), "{:?}", h.owned_rules());
    assert_eq!(h.mutations(Ec2Operation::DeleteVpcEndpoints), 1);
}

#[tokio::test]
async fn a_region_changed_after_creation_is_refused_and_deletion_cleans_up_where_the_endpoint_is() {
    let mut h = ready_in(RemediationMode::Auto).await;
    assert_eq!(h.status.endpoint_region.as_deref(), Some(incident::REGION));
    let mutations = h.sim.mutations().len();
    h.edit(|s| s.region = Some("eu-west-1".into()));
    h.pass().await;
    assert_eq!(h.status.phase, RolloutPhase::Failed);
    let (reason, message) = ready_message(&h.status);
    assert_eq!(reason, "InvalidSpec");
    assert!(
        message.contains("spec.region is eu-west-1") && message.contains(incident::REGION),
        "{message}"
    );
    assert_eq!(h.sim.mutations().len(), mutations);
    let elsewhere = h.regions.client(Some("eu-west-1")).await.unwrap();
    assert!(elsewhere.mutations().is_empty(), "nothing done in eu-west-1");

    h.deleting = true;
    h.run_until_finalized(20).await;
    assert!(h.owned_endpoints().is_empty());
    assert!(h.owned_rules().is_empty());
}

#[tokio::test]
async fn spec_tag_edits_after_ready_are_applied_and_a_dropped_key_is_deleted_leaving_others_tags() {
    let mut h = ready_in(RemediationMode::Auto).await;
    let endpoint = h.owned_endpoints()[0].vpc_endpoint_id.clone();
    // Someone names the endpoint in the console: never the spec's to delete.
    h.sim
        .tag_vpc_endpoints(
            std::slice::from_ref(&endpoint),
            &crate::model::tags_from([("Name", "by-hand")]),
        )
        .await
        .unwrap();
    h.edit(|s| {
        s.tags.insert("cost-center".into(), "42".into());
    });
    let out = h.pass().await;
    assert!(
        out.performed
            .iter()
            .any(|a| matches!(a, Action::SetEndpointTags { tags, .. } if tags.iter().any(|t| t.key == "cost-center"))),
        "{:?}",
        out.performed
    );
    assert_eq!(out.status.phase, RolloutPhase::Ready);
    assert!(h.status.spec_tag_keys.contains(&"cost-center".to_string()));
    let tags = |h: &Harness| -> Vec<(String, String)> {
        h.owned_endpoints()[0]
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect()
    };
    assert!(tags(&h).contains(&("cost-center".into(), "42".into())));

    h.edit(|s| {
        s.tags.remove("cost-center");
    });
    let out = h.pass().await;
    assert!(
        out.performed
            .iter()
            .any(|a| matches!(a, Action::RemoveEndpointTags { keys, .. } if keys == &["cost-center"])),
        "{:?}",
        out.performed
    );
    assert!(
        !tags(&h).iter().any(|(k, _)| k == "cost-center"),
        "{:?}",
        tags(&h)
    );
    assert!(tags(&h).contains(&("Name".into(), "by-hand".into())));
    assert_eq!(h.owned_endpoints().len(), 1, "still the object's: {:?}", tags(&h));
    assert_eq!(h.mutations(Ec2Operation::DeleteTags), 1);
    assert!(h.event_reasons().contains(&EventReason::EndpointTagsUpdated));

    // Nothing left to do: a resync calls nothing.
    let before = h.sim.mutations().len();
    h.pass().await;
    assert_eq!(h.sim.mutations().len(), before);
    assert!(!h.status.spec_tag_keys.contains(&"cost-center".to_string()));
}
