//! The negative suite of the tenancy: every guardrail of an EndpointGrant, proven by a case that
//! tries to cross it. Each pass is the controller's: the verdict from the grants
//! ([`crate::grants::decide`]), then [`super::tenancy::reconcile_object`] over the simulated
//! world. Each case checks the exact reason and message, and proves with the world's call log
//! (and its security groups) that nothing outside the grant was changed: a refused object gets
//! no AWS call at all, not even a describe.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::incident::{self, SG_ENDPOINT, SG_LAMBDA, SG_ZABBIX, VPC};
use super::tenancy::reconcile_object;
use super::{ReconcileOutcome, ReconcileRequest};
use crate::api::conditions::{ConditionType, find_condition};
use crate::api::{
    Approval, EndpointGrantSpec, InterfaceEndpointSpec, InterfaceEndpointStatus, Owner, PlanApprovalSpec,
    RemediationMode, RolloutPhase,
};
use crate::aws::Ec2Operation;
use crate::aws::sim::{SimClock, SimConfig, SimEc2, SimProvider};
use crate::grants::{self, Grant, Subject};
use crate::model::{IpPermission, SecurityGroup, Snapshot};
use crate::plan::{EventReason, Timing};

const OTHER_VPC: &str = "vpc-0ffffffffffffff00";
const SG_OTHER: &str = "sg-0ddddddddddddddd1";

/// The incident's world with the clients' egress closed (so that client egress rules matter)
/// and a spare security group no grant names.
fn world() -> Snapshot {
    let mut w = incident::world();
    for g in &mut w.security_groups {
        if g.group_id == SG_ZABBIX || g.group_id == SG_LAMBDA {
            g.ip_permissions_egress.clear();
        }
    }
    w.security_groups.push(SecurityGroup {
        group_id: SG_OTHER.into(),
        vpc_id: Some(VPC.into()),
        owner_id: Some("123456789012".into()),
        ..Default::default()
    });
    w
}

/// The platform team's grant for the incident's namespace: its VPC, the logs service, the
/// endpoint's group, both client groups, remediation up to Auto.
fn grant() -> EndpointGrantSpec {
    serde_json::from_value(serde_json::json!({
        "namespaces": ["platform"],
        "vpcIds": [VPC],
        "serviceNames": ["com.amazonaws.*.logs"],
        "endpointSecurityGroupIds": [SG_ENDPOINT],
        "clientSecurityGroupIds": [SG_ZABBIX, SG_LAMBDA],
        "maxRemediation": {"endpointIngress": "Auto", "clientEgress": "Auto"},
    }))
    .unwrap()
}

/// The incident's object with every rule in mode Auto.
fn spec() -> InterfaceEndpointSpec {
    let mut spec = incident::spec(RemediationMode::Auto);
    spec.remediation.client_egress = RemediationMode::Auto;
    spec
}

/// One object as the controller sees it.
struct Object {
    owner: Owner,
    spec: InterfaceEndpointSpec,
    status: InterfaceEndpointStatus,
    deleting: bool,
}

/// The cluster's tenancy and the simulated AWS side.
struct Scene {
    sim: Arc<SimEc2>,
    provider: SimProvider,
    grants: BTreeMap<String, EndpointGrantSpec>,
    approvals: Vec<PlanApprovalSpec>,
    labels: BTreeMap<String, String>,
}

impl Scene {
    fn new(world: &Snapshot) -> Scene {
        let config = SimConfig::default().instant().without_throttling();
        let sim = Arc::new(SimEc2::with_config(world, SimClock::new(), config));
        Scene {
            provider: SimProvider::new(sim.clone()),
            sim,
            grants: BTreeMap::new(),
            approvals: Vec::new(),
            labels: BTreeMap::new(),
        }
    }

    fn with_grant(mut self, name: &str, grant: EndpointGrantSpec) -> Scene {
        self.grants.insert(name.into(), grant);
        self
    }

    /// One reconcile of `obj`, as the controller makes it.
    async fn pass(&self, obj: &mut Object) -> ReconcileOutcome {
        let grants: Vec<Grant<'_>> = self
            .grants
            .iter()
            .map(|(name, spec)| Grant { name, spec })
            .collect();
        let approvals: Vec<&PlanApprovalSpec> = self.approvals.iter().collect();
        let subject = Subject {
            namespace: &obj.owner.namespace,
            name: &obj.owner.name,
            namespace_labels: &self.labels,
            spec: &obj.spec,
            status: &obj.status,
            controller_region: Some(incident::REGION),
        };
        let verdict = grants::decide(&subject, &grants, &approvals);
        let request = ReconcileRequest {
            spec: &obj.spec,
            generation: Some(1),
            owner: &obj.owner,
            deleting: obj.deleting,
            status: &obj.status,
            config: &crate::plan::Config::default(),
            now: self.sim.clock().timestamp(),
            observations: None,
            resolver: None,
        };
        let outcome = reconcile_object(&self.provider, &request, &verdict, &Timing::default()).await;
        obj.status = outcome.status.clone();
        self.sim
            .clock()
            .advance(outcome.requeue.unwrap_or(Duration::from_secs(5)));
        outcome
    }

    /// Passes until `phase` (at most 30); every outcome, in order.
    async fn until(&self, obj: &mut Object, phase: RolloutPhase) -> Vec<ReconcileOutcome> {
        let mut outcomes = Vec::new();
        for _ in 0..30 {
            outcomes.push(self.pass(obj).await);
            if obj.status.phase == phase {
                return outcomes;
            }
        }
        panic!(
            "never {phase}: {}",
            serde_json::to_string_pretty(&obj.status).unwrap()
        );
    }

    /// The egress permissions of a group as the world holds them now.
    fn egress_of(&self, group: &str) -> Vec<IpPermission> {
        self.sim
            .snapshot()
            .security_groups
            .into_iter()
            .find(|g| g.group_id == group)
            .unwrap()
            .ip_permissions_egress
    }

    fn mutations(&self) -> Vec<Ec2Operation> {
        self.sim.mutations().into_iter().map(|c| c.operation).collect()
    }
}

fn object(spec: InterfaceEndpointSpec) -> Object {
    Object {
        owner: incident::owner(),
        spec,
        status: InterfaceEndpointStatus::default(),
        deleting: false,
    }
}

/// (status, reason, message) of a condition.
fn condition(status: &InterfaceEndpointStatus, t: ConditionType) -> (String, String, String) {
    let c = find_condition(&status.conditions, t).unwrap_or_else(|| panic!("no {t:?} condition"));
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

/// A refused object: phase Forbidden, Granted and Ready False with `reason` and `message`, one
/// Warning Event saying so, and not a single AWS call.
async fn assert_refused(scene: &Scene, spec: InterfaceEndpointSpec, reason: &str, message: &str) {
    let mut obj = object(spec);
    let first = scene.pass(&mut obj).await;
    let second = scene.pass(&mut obj).await;
    assert_eq!(obj.status.phase, RolloutPhase::Forbidden);
    for t in [ConditionType::Granted, ConditionType::Ready] {
        assert_eq!(
            condition(&obj.status, t),
            ("False".into(), reason.into(), message.into()),
            "{t:?}"
        );
    }
    assert_eq!(obj.status.grant, None);
    let warnings: Vec<_> = first.events.iter().map(|e| (e.reason, e.warning)).collect();
    assert_eq!(warnings, [(EventReason::Forbidden, true)]);
    assert!(second.events.is_empty(), "warned once, not on every pass");
    assert!(
        scene.sim.calls().is_empty(),
        "no AWS call at all: {:?}",
        scene.sim.calls()
    );
    assert!(first.mutations.is_empty() && second.mutations.is_empty());
}

fn refused(grant: &str, field: &str, value: &str, allowed: &str) -> String {
    format!(
        "EndpointGrant {grant} does not admit {field} {value} ({allowed}): the controller makes no AWS \
         call for this object. Change the spec, or ask the platform team to widen a grant (one grant \
         must admit the whole object)"
    )
}

#[tokio::test]
async fn without_any_grant_nothing_is_called() {
    let scene = Scene::new(&world());
    assert_refused(
        &scene,
        spec(),
        "NoGrant",
        "No EndpointGrant covers namespace platform: the controller makes no AWS call for this object. \
         Ask the platform team for a grant (docs/tenancy.md)",
    )
    .await;
    // A grant for another namespace changes nothing.
    let mut other = grant();
    other.namespaces = vec!["team-b".into()];
    let scene = Scene::new(&world()).with_grant("team-b", other);
    assert_refused(
        &scene,
        spec(),
        "NoGrant",
        "No EndpointGrant covers namespace platform: the controller makes no AWS call for this object. \
         Ask the platform team for a grant (docs/tenancy.md)",
    )
    .await;
}

#[tokio::test]
async fn another_vpc_is_refused_without_a_call() {
    let mut g = grant();
    g.vpc_ids = vec![OTHER_VPC.into()];
    let scene = Scene::new(&world()).with_grant("platform-logs", g);
    let message = refused(
        "platform-logs",
        "spec.vpcId",
        VPC,
        &format!("vpcIds: {OTHER_VPC}"),
    );
    assert_refused(&scene, spec(), "OutsideGrant", &message).await;
}

#[tokio::test]
async fn another_region_is_refused_without_a_call_in_either_region() {
    let scene = Scene::new(&world()).with_grant("platform-logs", grant());
    let mut s = spec();
    s.region = Some("eu-west-1".into());
    let message = refused(
        "platform-logs",
        "spec.region",
        "eu-west-1",
        "regions is empty: the controller's region only (ap-northeast-1)",
    );
    assert_refused(&scene, s, "OutsideGrant", &message).await;
    use crate::aws::Ec2Provider;
    let elsewhere = scene.provider.client(Some("eu-west-1")).await.unwrap();
    assert!(elsewhere.calls().is_empty(), "nothing in eu-west-1 either");
}

#[tokio::test]
async fn another_service_is_refused_without_a_call() {
    let scene = Scene::new(&world()).with_grant("platform-logs", grant());
    let mut s = spec();
    s.service_name = "com.amazonaws.ap-northeast-1.ssm".into();
    let message = refused(
        "platform-logs",
        "spec.serviceName",
        "com.amazonaws.ap-northeast-1.ssm",
        "serviceNames: com.amazonaws.*.logs",
    );
    assert_refused(&scene, s, "OutsideGrant", &message).await;
}

#[tokio::test]
async fn an_endpoint_group_not_granted_is_refused_without_a_call() {
    // Another team's group as the endpoint's: with endpointIngress Auto the controller would
    // add tcp/443 ingress to it.
    let scene = Scene::new(&world()).with_grant("platform-logs", grant());
    let mut s = spec();
    s.security_group_ids = vec![SG_ENDPOINT.into(), SG_OTHER.into()];
    let message = refused(
        "platform-logs",
        "spec.securityGroupIds",
        SG_OTHER,
        &format!("endpointSecurityGroupIds: {SG_ENDPOINT}"),
    );
    assert_refused(&scene, s, "OutsideGrant", &message).await;
}

#[tokio::test]
async fn force_without_allow_force_is_refused_without_a_call() {
    let scene = Scene::new(&world()).with_grant("platform-logs", grant());
    let mut s = spec();
    s.private_dns.force = true;
    let message = refused(
        "platform-logs",
        "spec.privateDns.force",
        "true",
        "allowForce is false: private DNS is never enabled while clients are blocked",
    );
    assert_refused(&scene, s, "OutsideGrant", &message).await;
}

#[tokio::test]
async fn adopting_an_endpoint_without_allow_adopt_is_refused_without_a_call() {
    // Another team's hand-made endpoint in the same VPC: with deletionPolicy Delete, taking it
    // over would let this namespace delete it.
    let scene = Scene::new(&world()).with_grant("platform-logs", grant());
    let mut s = spec();
    s.adopt = Some(crate::api::Adopt {
        vpc_endpoint_id: "vpce-0123456789abcdef0".into(),
    });
    let message = refused(
        "platform-logs",
        "spec.adopt.vpcEndpointId",
        "vpce-0123456789abcdef0",
        "allowAdopt is false: endpoints the controller did not create are never taken over",
    );
    assert_refused(&scene, s, "OutsideGrant", &message).await;
}

#[tokio::test]
async fn a_client_group_not_granted_is_never_edited_even_with_client_egress_auto() {
    // The Zabbix agent's group is another team's: the grant names only the Lambda's.
    let mut g = grant();
    g.client_security_group_ids = vec![SG_LAMBDA.into()];
    let scene = Scene::new(&world()).with_grant("platform-logs", g);
    let mut obj = object(spec());
    scene.until(&mut obj, RolloutPhase::Blocked).await;
    let status = &obj.status;
    assert_eq!(status.grant.as_deref(), Some("platform-logs"));
    assert_eq!(condition(status, ConditionType::Granted).0, "True");
    let plan = status.plan.as_ref().unwrap();
    assert_eq!(
        plan.unfixable_blocks,
        [crate::api::UnfixableBlock {
            check: "ClientEgress".into(),
            detail: format!(
                "not granted: {SG_ZABBIX} is not in EndpointGrant platform-logs's \
                 clientSecurityGroupIds, so the controller never edits it"
            ),
            count: 1,
            network_interface_ids: vec![incident::ENI_ZABBIX.into()],
        }]
    );
    let (_, reason, message) = condition(status, ConditionType::PrivateDnsEnabled);
    assert_eq!(reason, "WaitingForClients", "{message}");
    assert!(!status.private_dns_enabled);
    assert!(
        scene.egress_of(SG_ZABBIX).is_empty(),
        "the other team's group is untouched"
    );
    assert_eq!(
        scene.egress_of(SG_LAMBDA).len(),
        1,
        "the granted one got its rule"
    );
    let mutations = scene.mutations();
    assert!(
        !mutations.contains(&Ec2Operation::ModifyVpcEndpoint),
        "private DNS waits: {mutations:?}"
    );
    assert_eq!(
        mutations
            .iter()
            .filter(|m| **m == Ec2Operation::AuthorizeSecurityGroupEgress)
            .count(),
        1
    );
}

#[tokio::test]
async fn a_mode_above_the_ceiling_is_lowered_and_nothing_is_added_without_approval() {
    let mut g = grant();
    g.max_remediation.endpoint_ingress = RemediationMode::Approval;
    g.max_remediation.client_egress = RemediationMode::Off;
    let scene = Scene::new(&world()).with_grant("platform-logs", g);
    let mut obj = object(spec());
    scene.until(&mut obj, RolloutPhase::AwaitingApproval).await;
    let (status, reason, message) = condition(&obj.status, ConditionType::Granted);
    assert_eq!((status.as_str(), reason.as_str()), ("True", "Granted"));
    assert_eq!(
        message,
        "Admitted by EndpointGrant platform-logs, acting in the controller's own account; \
         spec.remediation.endpointIngress Auto is above the grant's ceiling: Approval is used; \
         spec.remediation.clientEgress Auto is above the grant's ceiling: Off is used"
    );
    let plan = obj.status.plan.as_ref().unwrap();
    let modes: Vec<(&str, RemediationMode)> = plan
        .rules
        .iter()
        .map(|r| (r.direction.as_str(), r.mode))
        .collect();
    assert!(
        modes.contains(&("ingress", RemediationMode::Approval)),
        "{modes:?}"
    );
    assert!(modes.contains(&("egress", RemediationMode::Off)), "{modes:?}");
    assert_eq!(
        scene.mutations(),
        [Ec2Operation::CreateVpcEndpoint],
        "no rule without approval"
    );
}

#[tokio::test]
async fn under_platform_approval_the_tenants_own_approval_approves_nothing() {
    let mut g = grant();
    g.approved_by = crate::api::ApprovedBy::Platform;
    let mut scene = Scene::new(&world()).with_grant("platform-logs", g);
    let mut s = spec();
    s.remediation.endpoint_ingress = RemediationMode::Approval;
    s.remediation.client_egress = RemediationMode::Approval;
    let mut obj = object(s);
    scene.until(&mut obj, RolloutPhase::AwaitingApproval).await;
    let id = obj.status.plan.as_ref().unwrap().id.clone();

    // The tenant approves its own plan, with the exact id: ignored.
    obj.spec.approval = Some(Approval { plan_id: id.clone() });
    scene.pass(&mut obj).await;
    scene.pass(&mut obj).await;
    assert_eq!(obj.status.phase, RolloutPhase::AwaitingApproval);
    let (_, reason, message) = condition(&obj.status, ConditionType::PlanApproved);
    assert_eq!(reason, "AwaitingApproval");
    assert!(
        message.ends_with(&format!(
            "to approve, the platform commits a PlanApproval with spec {{namespace: platform, name: \
             cloudwatch-logs, planId: {id}}} (spec.approval is ignored: the grant has approvedBy: Platform)"
        )),
        "{message}"
    );
    assert!(
        condition(&obj.status, ConditionType::Granted)
            .2
            .ends_with("spec.approval is ignored")
    );
    assert_eq!(scene.mutations(), [Ec2Operation::CreateVpcEndpoint]);

    // A PlanApproval for another object, or of another id, approves nothing either.
    scene.approvals.push(PlanApprovalSpec {
        namespace: "platform".into(),
        name: "other".into(),
        plan_id: id.clone(),
    });
    scene.approvals.push(PlanApprovalSpec {
        namespace: "platform".into(),
        name: "cloudwatch-logs".into(),
        plan_id: "0123456789".into(),
    });
    scene.pass(&mut obj).await;
    let (_, reason, message) = condition(&obj.status, ConditionType::PlanApproved);
    assert_eq!(reason, "UnknownPlanId", "{message}");
    assert!(
        message.starts_with("PlanApproval planId 0123456789 is not a plan id this object reported"),
        "{message}"
    );
    assert_eq!(scene.mutations(), [Ec2Operation::CreateVpcEndpoint]);

    // The platform's approval of the plan does.
    scene.approvals.push(PlanApprovalSpec {
        namespace: "platform".into(),
        name: "cloudwatch-logs".into(),
        plan_id: id.clone(),
    });
    scene.until(&mut obj, RolloutPhase::Ready).await;
    let mutations = scene.mutations();
    assert!(
        mutations.contains(&Ec2Operation::AuthorizeSecurityGroupIngress)
            && mutations.contains(&Ec2Operation::AuthorizeSecurityGroupEgress),
        "{mutations:?}"
    );
}

#[tokio::test]
async fn a_grant_deleted_mid_rollout_stops_every_call_and_deletion_still_cleans_up() {
    let mut scene = Scene::new(&world()).with_grant("platform-logs", grant());
    let mut obj = object(spec());
    scene.until(&mut obj, RolloutPhase::Ready).await;
    let endpoint = obj.status.endpoint_id.clone().unwrap();

    scene.grants.clear();
    scene.sim.clear_calls();
    // Someone turns private DNS off by hand: with the grant, it would be turned on again.
    scene.sim.set_private_dns_out_of_band(&endpoint, false).unwrap();
    let outcome = scene.pass(&mut obj).await;
    assert_eq!(obj.status.phase, RolloutPhase::Forbidden);
    assert_eq!(condition(&obj.status, ConditionType::Granted).1, "NoGrant");
    assert_eq!(
        outcome.events.iter().map(|e| e.reason).collect::<Vec<_>>(),
        [EventReason::Forbidden]
    );
    scene.pass(&mut obj).await;
    assert!(scene.sim.calls().is_empty(), "{:?}", scene.sim.calls());
    assert_eq!(
        obj.status.endpoint_id.as_deref(),
        Some(endpoint.as_str()),
        "still recorded"
    );

    // Deleting the object cleans up what it owns, grant or not.
    obj.deleting = true;
    for _ in 0..30 {
        if scene.pass(&mut obj).await.finalized {
            break;
        }
    }
    let world = scene.sim.snapshot();
    assert!(world.vpc_endpoints.iter().all(|e| e.vpc_endpoint_id != endpoint));
    let mutations = scene.mutations();
    assert!(
        mutations.contains(&Ec2Operation::DeleteVpcEndpoints),
        "{mutations:?}"
    );
    assert!(
        !mutations.contains(&Ec2Operation::ModifyVpcEndpoint),
        "private DNS never turned on again"
    );
    assert!(
        world
            .security_group_rules
            .iter()
            .all(|r| !obj.owner.owns(crate::model::tag_pairs(&r.tags))),
        "its rules are revoked"
    );
}

#[tokio::test]
async fn a_grant_narrowed_mid_rollout_stops_what_it_no_longer_allows() {
    let mut scene = Scene::new(&world()).with_grant("platform-logs", grant());
    let mut obj = object(spec());
    scene.until(&mut obj, RolloutPhase::Ready).await;
    let endpoint = obj.status.endpoint_id.clone().unwrap();
    let zabbix_rule = scene.egress_of(SG_ZABBIX);
    assert_eq!(zabbix_rule.len(), 1, "the object's own egress rule");

    // The Zabbix agent's group leaves the grant; then its rule is revoked by hand and private
    // DNS turned off: the controller neither adds the rule again nor turns private DNS on.
    let mut narrowed = grant();
    narrowed.client_security_group_ids = vec![SG_LAMBDA.into()];
    scene.grants.insert("platform-logs".into(), narrowed);
    let rule_id = scene
        .sim
        .snapshot()
        .security_group_rules
        .into_iter()
        .find(|r| r.group_id == SG_ZABBIX && r.is_egress)
        .unwrap()
        .security_group_rule_id;
    scene.sim.revoke_rule_out_of_band(&rule_id).unwrap();
    scene.sim.set_private_dns_out_of_band(&endpoint, false).unwrap();
    scene.sim.clear_calls();
    for _ in 0..5 {
        scene.pass(&mut obj).await;
    }
    assert_eq!(obj.status.phase, RolloutPhase::Blocked);
    assert_eq!(condition(&obj.status, ConditionType::Granted).0, "True");
    let block = &obj.status.plan.as_ref().unwrap().unfixable_blocks[0];
    assert_eq!(block.check, "ClientEgress");
    assert!(block.detail.starts_with("not granted: "), "{block:?}");
    assert!(scene.egress_of(SG_ZABBIX).is_empty());
    assert!(scene.mutations().is_empty(), "{:?}", scene.mutations());

    // Narrowed further, to another VPC: nothing is called at all.
    let mut elsewhere = grant();
    elsewhere.vpc_ids = vec![OTHER_VPC.into()];
    scene.grants.insert("platform-logs".into(), elsewhere);
    scene.sim.clear_calls();
    scene.pass(&mut obj).await;
    assert_eq!(obj.status.phase, RolloutPhase::Forbidden);
    assert_eq!(condition(&obj.status, ConditionType::Granted).1, "OutsideGrant");
    assert!(scene.sim.calls().is_empty());
}

#[tokio::test]
async fn two_namespaces_sharing_a_vpc_never_edit_each_others_client_groups() {
    // team-a rolls out logs for its Lambda, team-b another logs endpoint for its Zabbix agent,
    // in the same VPC. Each grant names the team's own client group.
    let team = |ns: &str, endpoint_group: &str, client_group: &str| -> EndpointGrantSpec {
        let mut g = grant();
        g.namespaces = vec![ns.into()];
        g.endpoint_security_group_ids = vec![endpoint_group.into()];
        g.client_security_group_ids = vec![client_group.into()];
        g
    };
    let scene = Scene::new(&world())
        .with_grant("team-a", team("team-a", SG_ENDPOINT, SG_LAMBDA))
        .with_grant("team-b", team("team-b", SG_OTHER, SG_ZABBIX));
    let owner = |ns: &str, uid: &str| Owner {
        namespace: ns.into(),
        name: "logs".into(),
        uid: uid.into(),
    };
    let mut a = object(spec());
    a.owner = owner("team-a", "aaaaaaaa-0000-0000-0000-000000000001");
    let mut b = object(spec());
    b.owner = owner("team-b", "bbbbbbbb-0000-0000-0000-000000000002");
    b.spec.security_group_ids = vec![SG_OTHER.into()];
    b.spec.private_dns.enabled = false; // two endpoints cannot both serve the name

    // team-b may not use team-a's endpoint group, and vice versa.
    let mut stolen = object(b.spec.clone());
    stolen.owner = b.owner.clone();
    stolen.spec.security_group_ids = vec![SG_ENDPOINT.into()];
    scene.pass(&mut stolen).await;
    assert_eq!(
        condition(&stolen.status, ConditionType::Granted).1,
        "OutsideGrant"
    );
    assert!(scene.sim.calls().is_empty());

    scene.until(&mut a, RolloutPhase::Blocked).await;
    scene.until(&mut b, RolloutPhase::Blocked).await;
    let tagged = |group: &str| -> Vec<String> {
        scene
            .sim
            .snapshot()
            .security_group_rules
            .into_iter()
            .filter(|r| r.group_id == group && r.is_egress)
            .map(|r| {
                r.tags
                    .iter()
                    .find(|t| t.key == crate::api::OWNER_TAG)
                    .map(|t| t.value.clone())
                    .unwrap_or_default()
            })
            .collect()
    };
    assert_eq!(
        tagged(SG_LAMBDA),
        ["team-a/logs"],
        "only team-a edits its Lambda's group"
    );
    assert_eq!(
        tagged(SG_ZABBIX),
        ["team-b/logs"],
        "only team-b edits its agent's group"
    );
    for (obj, other_group) in [(&a, SG_ZABBIX), (&b, SG_LAMBDA)] {
        let unfixable = &obj.status.plan.as_ref().unwrap().unfixable_blocks;
        assert!(
            unfixable.iter().any(|b| b.check == "ClientEgress"
                && b.detail
                    .starts_with(&format!("not granted: {other_group} is not in"))),
            "{}: {unfixable:?}",
            obj.owner.namespace
        );
    }
}

const ROLE: &str = "arn:aws:iam::111122223333:role/vpce-rollout";
const TARGET_ACCOUNT: &str = "111122223333";

/// The incident's world in the target account 111122223333, whose role trusts the controller
/// with an external id; the controller's own account has the incident's world too, so that a
/// call landing there would show.
fn target_account(scene: &Scene, external_id: Option<&str>) -> Arc<SimEc2> {
    let config = SimConfig {
        account_id: TARGET_ACCOUNT.into(),
        ..SimConfig::default().instant().without_throttling()
    };
    let target = Arc::new(SimEc2::with_config(&world(), scene.sim.clock().clone(), config));
    scene.provider.trust_role(ROLE, external_id, target.clone());
    target
}

fn grant_in_target_account(external_id: Option<&str>) -> EndpointGrantSpec {
    let mut g = grant();
    g.aws = Some(crate::api::GrantAws {
        role_arn: ROLE.into(),
        external_id: external_id.map(str::to_string),
    });
    g
}

#[tokio::test]
async fn a_grant_with_a_role_rolls_out_in_the_assumed_account_and_never_in_the_controllers() {
    let mut scene =
        Scene::new(&world()).with_grant("platform-logs", grant_in_target_account(Some("platform-7f3a")));
    let target = target_account(&scene, Some("platform-7f3a"));
    let mut obj = object(spec());
    scene.until(&mut obj, RolloutPhase::Ready).await;

    assert!(
        scene.sim.calls().is_empty(),
        "nothing in the controller's own account"
    );
    let made = target.mutations();
    assert!(
        made.iter()
            .any(|c| c.operation == Ec2Operation::CreateVpcEndpoint),
        "{made:?}"
    );
    let endpoint = target.snapshot().vpc_endpoints.remove(0);
    assert_eq!(endpoint.owner_id.as_deref(), Some(TARGET_ACCOUNT));
    let status = &obj.status;
    assert_eq!(status.endpoint_account_id.as_deref(), Some(TARGET_ACCOUNT));
    assert_eq!(status.endpoint_role_arn.as_deref(), Some(ROLE));
    assert_eq!(status.endpoint_external_id.as_deref(), Some("platform-7f3a"));
    assert!(
        condition(status, ConditionType::Granted).2.contains(
            "acting in account 111122223333 through role arn:aws:iam::111122223333:role/vpce-rollout"
        )
    );

    // Every AssumeRole: the grant's role and external id, a session named after the object and
    // tagged with its namespace and name (what CloudTrail in the target account shows).
    let calls = scene.provider.assume_role_calls();
    assert!(!calls.is_empty());
    for call in &calls {
        assert_eq!(call.role_arn, ROLE);
        assert_eq!(call.external_id.as_deref(), Some("platform-7f3a"));
        assert_eq!(call.session_name, "vpce-rollout-platform-cloudwatch-logs");
        assert_eq!(
            call.session_tags,
            [
                (
                    crate::aws::SESSION_TAG_NAMESPACE.to_string(),
                    "platform".to_string()
                ),
                (
                    crate::aws::SESSION_TAG_NAME.to_string(),
                    "cloudwatch-logs".to_string()
                ),
            ]
        );
    }

    // The grant goes; deletion still cleans up, in the account the endpoint lives in.
    scene.grants.clear();
    obj.deleting = true;
    for _ in 0..30 {
        if scene.pass(&mut obj).await.finalized {
            break;
        }
    }
    assert!(
        target.snapshot().vpc_endpoints.is_empty(),
        "deleted in the target account"
    );
    assert!(
        target
            .snapshot()
            .security_group_rules
            .iter()
            .all(|r| !obj.owner.owns(crate::model::tag_pairs(&r.tags))),
        "its rules revoked there"
    );
    assert!(
        scene.sim.calls().is_empty(),
        "still nothing in the controller's own account"
    );
}

#[tokio::test]
async fn a_failed_assume_role_is_reported_with_stss_answer_and_nothing_else_is_called() {
    // The role's trust policy wants another external id than the grant gives.
    let scene = Scene::new(&world()).with_grant("platform-logs", grant_in_target_account(Some("wrong")));
    let target = target_account(&scene, Some("platform-7f3a"));
    let mut obj = object(spec());
    let outcome = scene.pass(&mut obj).await;
    assert_eq!(obj.status.phase, RolloutPhase::Failed);
    let (status, reason, message) = condition(&obj.status, ConditionType::Ready);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "AssumeRoleFailed"));
    assert_eq!(
        message,
        "STS AssumeRole of arn:aws:iam::111122223333:role/vpce-rollout failed (AccessDenied): User: \
         arn:aws:sts::123456789012:assumed-role/vpce-rollout/controller is not authorized to perform: \
         sts:AssumeRole on resource: arn:aws:iam::111122223333:role/vpce-rollout. The role's trust \
         policy must let the controller's identity call sts:AssumeRole and sts:TagSession (with the \
         grant's externalId, if any): docs/iam.md"
    );
    assert_eq!(condition(&obj.status, ConditionType::Granted).0, "True");
    assert!(
        outcome
            .events
            .iter()
            .any(|e| e.reason == EventReason::Failed && e.warning)
    );
    assert!(scene.sim.calls().is_empty() && target.calls().is_empty());
    assert_eq!(outcome.requeue, Some(Timing::default().waiting));
}

#[tokio::test]
async fn an_endpoint_never_moves_accounts_a_grant_naming_another_refuses_the_object() {
    let mut scene = Scene::new(&world()).with_grant("platform-logs", grant_in_target_account(None));
    let target = target_account(&scene, None);
    let mut obj = object(spec());
    scene.until(&mut obj, RolloutPhase::Ready).await;
    // The platform points the grant at the controller's own account.
    scene.grants.insert("platform-logs".into(), grant());
    target.clear_calls();
    scene.pass(&mut obj).await;
    assert_eq!(obj.status.phase, RolloutPhase::Forbidden);
    let (_, reason, message) = condition(&obj.status, ConditionType::Granted);
    assert_eq!(reason, "OutsideGrant");
    assert!(
        message.starts_with(&format!(
            "EndpointGrant platform-logs does not admit status.endpointRoleArn {ROLE} (the endpoint lives \
             in the account this role reaches; the grant acts through the controller's own identity)"
        )),
        "{message}"
    );
    assert!(scene.sim.calls().is_empty() && target.calls().is_empty());
}

#[tokio::test]
async fn in_a_shared_vpc_another_accounts_groups_are_never_edited_and_the_owner_is_named() {
    // The VPC is shared (RAM) by 222222222222; the Zabbix agent is that account's, with its
    // group. The controller acts as 123456789012 and may edit any granted group.
    let mut w = world();
    w.vpcs[0].owner_id = Some("222222222222".into());
    for g in &mut w.security_groups {
        if g.group_id == SG_ZABBIX {
            g.owner_id = Some("222222222222".into());
        }
    }
    for n in &mut w.network_interfaces {
        n.owner_id = Some(
            if n.network_interface_id == incident::ENI_ZABBIX {
                "222222222222"
            } else {
                "123456789012"
            }
            .into(),
        );
    }
    let scene = Scene::new(&w).with_grant("platform-logs", grant());
    let before = scene.egress_of(SG_ZABBIX);
    let mut obj = object(spec());
    scene.until(&mut obj, RolloutPhase::Blocked).await;
    let blocks = &obj.status.plan.as_ref().unwrap().unfixable_blocks;
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert_eq!(blocks[0].check, "ClientEgress");
    assert_eq!(
        blocks[0].detail,
        format!(
            "the client's network interface belongs to account 222222222222 (a shared VPC): {SG_ZABBIX} \
             belongs to account 222222222222, not to 123456789012 where the controller acts (a shared VPC): \
             another account's security groups are never edited; its owner must add the rule"
        )
    );
    assert_eq!(scene.egress_of(SG_ZABBIX), before, "never edited");
    assert!(!obj.status.private_dns_enabled);
    // The ingress rule on the controller's own endpoint group may still refer to it.
    let ingress = obj
        .status
        .plan
        .as_ref()
        .unwrap()
        .rules
        .iter()
        .any(|r| r.direction == "ingress" && r.peer_group_id.as_deref() == Some(SG_ZABBIX) && r.applied);
    assert!(ingress, "{:?}", obj.status.plan);
}

#[tokio::test]
async fn a_rotated_external_id_is_used_while_the_grant_names_the_role_and_recorded_for_deletion() {
    let mut scene = Scene::new(&world()).with_grant("platform-logs", grant_in_target_account(Some("old-id")));
    let target = target_account(&scene, Some("old-id"));
    let mut obj = object(spec());
    scene.until(&mut obj, RolloutPhase::Ready).await;
    assert_eq!(obj.status.endpoint_external_id.as_deref(), Some("old-id"));
    // The platform rotates the id in the role's trust policy and in the grant.
    scene.provider.trust_role(ROLE, Some("new-id"), target.clone());
    scene
        .grants
        .insert("platform-logs".into(), grant_in_target_account(Some("new-id")));
    scene.pass(&mut obj).await;
    assert_eq!(
        obj.status.phase,
        RolloutPhase::Ready,
        "{:?}",
        obj.status.conditions
    );
    assert_eq!(obj.status.endpoint_external_id.as_deref(), Some("new-id"));
    let last = scene.provider.assume_role_calls().pop().unwrap();
    assert_eq!(last.external_id.as_deref(), Some("new-id"));
    // Without the grant, deletion assumes the role with the id recorded last.
    scene.grants.clear();
    obj.deleting = true;
    for _ in 0..30 {
        if scene.pass(&mut obj).await.finalized {
            break;
        }
    }
    assert!(target.snapshot().vpc_endpoints.is_empty());
}
