//! The controller in-process, over the simulated EC2 world, through the real kube-apiserver.
//! The simulated clock follows the wall clock, with AWS's delays shortened to
//! fractions of a second so that a full rollout takes a few seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::task::JoinHandle;
use vpce_rollout::analysis;
use vpce_rollout::api::Owner;
use vpce_rollout::api::{
    DeletionPolicy, InterfaceEndpoint, InterfaceEndpointSpec, InterfaceEndpointStatus, OWNER_TAG,
    RemediationMode, RolloutPhase, UID_TAG,
};
use vpce_rollout::aws::sim::{SimClock, SimConfig, SimEc2, SimProvider, aws_service};
use vpce_rollout::aws::{AuthorizeRules, Ec2, NewRule, RuleFilter, RulePeer};
use vpce_rollout::controller::http::Readiness;
use vpce_rollout::controller::metrics::Metrics;
use vpce_rollout::controller::run::{
    ControllerSettings, ControllerSetup, RunError, Shutdown, run_controller,
};
use vpce_rollout::engine::incident;
use vpce_rollout::model::{Protocol, tag_pairs, tags_from};
use vpce_rollout::plan::Timing;

use crate::harness::{
    self, assert_events, assert_recorded_at_least, create_namespace, event_count, wait_for, wait_gone,
};

const NS: &str = "platform";
const NAME: &str = "cloudwatch-logs";
const PATIENCE: Duration = Duration::from_secs(30);

/// The simulated AWS side, with a clock that follows the wall clock.
pub struct Aws {
    pub sim: Arc<SimEc2>,
    ticker: JoinHandle<()>,
}

impl Aws {
    pub fn incident() -> Aws {
        let clock = SimClock::new();
        let config = SimConfig {
            provisioning_delay: Duration::from_millis(1500),
            private_dns_delay: Duration::from_millis(500),
            deletion_delay: Duration::from_millis(500),
            visibility_delay: Duration::from_millis(300),
            ..SimConfig::default()
        }
        .without_throttling();
        // A second service, for a second object whose endpoint shares the endpoint group.
        let mut world = incident::world();
        world.service_details.push(aws_service(
            incident::REGION,
            "monitoring",
            &["ap-northeast-1a", "ap-northeast-1c"],
        ));
        let sim = Arc::new(SimEc2::with_config(&world, clock.clone(), config));
        let ticker = tokio::spawn(async move {
            let tick = Duration::from_millis(20);
            loop {
                tokio::time::sleep(tick).await;
                clock.advance(tick);
            }
        });
        Aws { sim, ticker }
    }

    async fn owned_rules(&self, uid: &str) -> Vec<vpce_rollout::model::SecurityGroupRule> {
        let filter = RuleFilter {
            group_ids: vec![],
            tag: Some((UID_TAG.into(), uid.into())),
            tag_any_of: None,
        };
        self.sim.describe_security_group_rules(&filter).await.unwrap()
    }

    pub fn endpoints(&self) -> Vec<vpce_rollout::model::VpcEndpoint> {
        self.sim.snapshot().vpc_endpoints
    }
}

impl Drop for Aws {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}

/// The controller, running in-process until stopped.
struct Controller {
    shutdown: Shutdown,
    task: JoinHandle<Result<(), RunError>>,
    metrics: Arc<Metrics>,
}

impl Controller {
    fn start(client: &kube::Client, aws: &Aws) -> Controller {
        let settings = ControllerSettings {
            watch_namespace: None,
            timing: Timing {
                after_change: Duration::from_millis(200),
                pending_min: Duration::from_millis(200),
                pending_max: Duration::from_millis(800),
                waiting: Duration::from_secs(1),
                resync: Duration::from_secs(1),
                visibility_window: Duration::from_secs(10),
                private_dns_ttl: Duration::from_millis(500),
                acceptance_timeout: Duration::from_secs(3600),
            },
            config: Default::default(),
            instance: "e2e".into(),
        };
        let clock = aws.sim.clock().clone();
        let shutdown = Shutdown::default();
        let metrics = Arc::new(Metrics::new());
        let setup = ControllerSetup {
            client: client.clone(),
            provider: SimProvider::new(aws.sim.clone()),
            settings,
            metrics: metrics.clone(),
            readiness: Arc::new(Readiness::new(false)),
            clock: Arc::new(move || clock.timestamp()),
        };
        let task = tokio::spawn(run_controller(setup, shutdown.wait()));
        Controller {
            shutdown,
            task,
            metrics,
        }
    }

    /// `vpce_rollout_reconcile_errors_total{category="..."}` as the metrics endpoint shows it.
    fn reconcile_errors(&self, category: &str) -> u64 {
        let wanted = format!("vpce_rollout_reconcile_errors_total{{category=\"{category}\"}} ");
        self.metrics
            .render()
            .lines()
            .find_map(|line| line.strip_prefix(wanted.as_str()))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {wanted} sample"))
    }

    async fn stop(self) {
        self.shutdown.trigger();
        self.task
            .await
            .expect("the controller task")
            .expect("the controller stops cleanly");
    }
}

fn endpoint(spec: InterfaceEndpointSpec) -> InterfaceEndpoint {
    let mut obj = InterfaceEndpoint::new(NAME, spec);
    obj.metadata.namespace = Some(NS.into());
    obj
}

fn phase_is(phase: RolloutPhase) -> impl Fn(&InterfaceEndpoint) -> bool {
    move |o| o.status.as_ref().is_some_and(|s| s.phase == phase)
}

/// The API server with the namespace, the simulated AWS side, a running controller, and the
/// incident's InterfaceEndpoint created with `spec`.
struct Scene {
    _server: kube_apiserver_harness::ControlPlane,
    client: kube::Client,
    aws: Aws,
    controller: Controller,
    api: Api<InterfaceEndpoint>,
    uid: String,
}

impl Scene {
    async fn start(spec: InterfaceEndpointSpec) -> Scene {
        let (server, client) = harness::cluster().await;
        harness::grant_everything(&client).await;
        create_namespace(&client, NS).await;
        let aws = Aws::incident();
        let controller = Controller::start(&client, &aws);
        let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), NS);
        let created = api.create(&PostParams::default(), &endpoint(spec)).await.unwrap();
        let uid = created.metadata.uid.clone().unwrap();
        Scene {
            _server: server,
            client,
            aws,
            controller,
            api,
            uid,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_by_a_spec_patch_unblocks_the_rollout_and_private_dns_comes_only_after() {
    let Scene {
        _server,
        client,
        aws,
        controller,
        api,
        uid,
    } = Scene::start(incident::spec(RemediationMode::Approval)).await;

    let waiting = wait_for(
        &api,
        NAME,
        PATIENCE,
        "AwaitingApproval",
        phase_is(RolloutPhase::AwaitingApproval),
    )
    .await;
    let status = waiting.status.clone().unwrap();
    let plan = status.plan.clone().expect("the plan is in status");
    assert!(plan.requires_approval && !plan.approved);
    assert_eq!(
        plan.rules.len(),
        1,
        "one ingress rule admits the Zabbix agent: {plan:?}"
    );
    assert!(!status.private_dns_enabled);
    assert_eq!(status.clients.as_ref().unwrap().ready, "1/2");
    assert!(
        waiting
            .metadata
            .finalizers
            .as_ref()
            .unwrap()
            .contains(&"vpce-rollout.dev/cleanup".to_string())
    );
    let endpoints = aws.endpoints();
    assert_eq!(endpoints.len(), 1);
    assert!(
        !endpoints[0].private_dns_enabled,
        "private DNS stays off while the Zabbix agent is blocked"
    );
    assert!(
        aws.owned_rules(&uid).await.is_empty(),
        "nothing is authorized before approval"
    );

    // Approval is a spec edit (a Git commit in practice).
    let approve = json!({"spec": {"approval": {"planId": plan.id}}});
    api.patch(NAME, &PatchParams::default(), &Patch::Merge(&approve))
        .await
        .unwrap();
    let ready = wait_for(&api, NAME, PATIENCE, "Ready", phase_is(RolloutPhase::Ready)).await;
    let status = ready.status.unwrap();
    assert!(status.private_dns_enabled);
    assert_eq!(status.clients.as_ref().unwrap().ready, "2/2");
    let rules = aws.owned_rules(&uid).await;
    assert_eq!(rules.len(), 1);
    assert!(
        rules[0]
            .tags
            .iter()
            .any(|t| t.key == OWNER_TAG && t.value == format!("{NS}/{NAME}"))
    );

    // Private DNS was enabled only after the rule was authorized.
    let mutations = aws.sim.mutations();
    let authorized = mutations
        .iter()
        .position(|c| c.operation.as_str() == "AuthorizeSecurityGroupIngress")
        .unwrap();
    let dns_on = mutations
        .iter()
        .position(|c| c.operation.as_str() == "ModifyVpcEndpoint")
        .unwrap();
    assert!(authorized < dns_on, "{mutations:?}");

    assert_events(
        &client,
        NS,
        NAME,
        &[
            "EndpointCreated",
            "ClientsBlocked",
            "PlanAwaitingApproval",
            "RulesAuthorized",
            "PrivateDnsEnabled",
        ],
    )
    .await;
    controller.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_re_remediated_and_deletion_revokes_only_the_controllers_rules() {
    let Scene {
        _server,
        client,
        aws,
        controller,
        api,
        uid,
    } = Scene::start(incident::spec(RemediationMode::Auto)).await;
    wait_for(&api, NAME, PATIENCE, "Ready", phase_is(RolloutPhase::Ready)).await;

    // Someone removes the controller's rule by hand: the Auto mode puts it back.
    let rule = aws.owned_rules(&uid).await.remove(0);
    aws.sim
        .revoke_rule_out_of_band(&rule.security_group_rule_id)
        .unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let rules = aws.owned_rules(&uid).await;
        if rules.len() == 1 && rules[0].security_group_rule_id != rule.security_group_rule_id {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the revoked rule was not re-added"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for(&api, NAME, PATIENCE, "Ready again", phase_is(RolloutPhase::Ready)).await;
    // The rule was authorized twice. (The Event follows the status write that made the phase
    // Ready again: waited for, not read at once.)
    assert_recorded_at_least(&client, NS, NAME, "RulesAuthorized", 2).await;

    // A rule someone else added to the endpoint's security group must survive the deletion.
    let foreign = aws
        .sim
        .authorize_security_group_rules(&AuthorizeRules {
            group_id: incident::SG_ENDPOINT.into(),
            egress: false,
            rules: vec![NewRule {
                protocol: Protocol::Tcp,
                from_port: 443,
                to_port: 443,
                peer: RulePeer::CidrIpv4("10.9.0.0/16".into()),
                description: "added by the network team".into(),
            }],
            tags: tags_from([("team", "network")]),
        })
        .await
        .unwrap()
        .value;

    api.delete(NAME, &DeleteParams::default()).await.unwrap();
    wait_gone(&api, NAME, PATIENCE).await;
    assert!(
        aws.owned_rules(&uid).await.is_empty(),
        "the controller's rules are revoked"
    );
    assert!(
        aws.endpoints().is_empty(),
        "the endpoint is deleted: {:?}",
        aws.endpoints()
    );
    let remaining = aws
        .sim
        .describe_security_group_rules(&RuleFilter {
            group_ids: vec![incident::SG_ENDPOINT.into()],
            tag: None,
            tag_any_of: None,
        })
        .await
        .unwrap();
    assert!(
        remaining
            .iter()
            .any(|r| r.security_group_rule_id == foreign[0].security_group_rule_id),
        "the foreign rule is intact"
    );
    assert_events(&client, NS, NAME, &["RulesRevoked", "EndpointDeleted"]).await;
    controller.stop().await;
}

/// The last deletion pass writes the status and then removes the finalizer: the finalizer
/// patch must carry the resourceVersion of that write, or every deletion ends in a 409 and a
/// `kubernetes` reconcile error that an alert would fire on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_deletion_counts_no_reconcile_error() {
    let Scene {
        _server,
        client: _,
        aws,
        controller,
        api,
        uid: _,
    } = Scene::start(incident::spec(RemediationMode::Auto)).await;
    wait_for(&api, NAME, PATIENCE, "Ready", phase_is(RolloutPhase::Ready)).await;
    api.delete(NAME, &DeleteParams::default()).await.unwrap();
    wait_gone(&api, NAME, PATIENCE).await;
    assert!(aws.endpoints().is_empty(), "{:?}", aws.endpoints());
    assert_eq!(controller.reconcile_errors("Kubernetes"), 0);
    controller.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_leaves_the_endpoint_and_its_rules_when_the_object_is_deleted() {
    let mut spec = incident::spec(RemediationMode::Auto);
    spec.deletion_policy = Some(DeletionPolicy::Retain);
    let Scene {
        _server,
        aws,
        controller,
        api,
        uid,
        ..
    } = Scene::start(spec).await;
    wait_for(&api, NAME, PATIENCE, "Ready", phase_is(RolloutPhase::Ready)).await;

    api.delete(NAME, &DeleteParams::default()).await.unwrap();
    wait_gone(&api, NAME, PATIENCE).await;
    let endpoints = aws.endpoints();
    assert_eq!(endpoints.len(), 1);
    assert!(endpoints[0].is_available() && endpoints[0].private_dns_enabled);
    assert_eq!(
        aws.owned_rules(&uid).await.len(),
        1,
        "the rule stays with the retained endpoint"
    );
    controller.stop().await;
}

/// The CRD as a release without the immutability rules left it (Helm installs the CRDs in a
/// chart's crds/ once and never upgrades them): no CEL rules, so the API server accepts an
/// edit of `spec.region`. The controller does not follow it, and deletion still cleans up in
/// the region the endpoint was created in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_edited_after_creation_is_refused_and_deletion_cleans_up_where_the_endpoint_is() {
    let crds = harness::crds_without_cel_rules();
    let (_server, client) = harness::cluster_with_crds(crds.path()).await;
    harness::grant_everything(&client).await;
    create_namespace(&client, NS).await;
    let aws = Aws::incident();
    let controller = Controller::start(&client, &aws);
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), NS);
    let created = api
        .create(
            &PostParams::default(),
            &endpoint(incident::spec(RemediationMode::Auto)),
        )
        .await
        .unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    wait_for(&api, NAME, PATIENCE, "Ready", phase_is(RolloutPhase::Ready)).await;

    let edit = json!({"spec": {"region": "eu-west-1"}});
    api.patch(NAME, &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .unwrap();
    let failed = wait_for(&api, NAME, PATIENCE, "Failed", phase_is(RolloutPhase::Failed)).await;
    let status = failed.status.unwrap();
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.reason, "InvalidSpec");
    assert!(
        ready.message.contains("spec.region is eu-west-1") && ready.message.contains(incident::REGION),
        "{}",
        ready.message
    );
    assert_eq!(status.endpoint_region.as_deref(), Some(incident::REGION));
    assert_eq!(aws.endpoints().len(), 1, "{:?}", aws.endpoints());

    api.delete(NAME, &DeleteParams::default()).await.unwrap();
    wait_gone(&api, NAME, PATIENCE).await;
    assert!(aws.endpoints().is_empty(), "{:?}", aws.endpoints());
    assert!(aws.owned_rules(&uid).await.is_empty());
    assert_eq!(
        event_count(&client, NS, NAME, "Failed").await,
        1,
        "one warning for the edit"
    );
    controller.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_restarted_in_every_phase_converges_without_a_second_endpoint() {
    let (_server, client) = harness::cluster().await;
    harness::grant_everything(&client).await;
    create_namespace(&client, NS).await;
    let aws = Aws::incident();
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), NS);
    let mut controller = Controller::start(&client, &aws);
    api.create(
        &PostParams::default(),
        &endpoint(incident::spec(RemediationMode::Approval)),
    )
    .await
    .unwrap();

    let mut restarted_in = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE * 2;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no Ready after restarts in {restarted_in:?}"
        );
        let obj = api.get(NAME).await.unwrap();
        let Some(status) = obj.status.clone() else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if status.phase == RolloutPhase::Ready {
            break;
        }
        if !restarted_in.contains(&status.phase) {
            restarted_in.push(status.phase);
            controller.stop().await;
            controller = Controller::start(&client, &aws);
        }
        if status.phase == RolloutPhase::AwaitingApproval && obj.spec.approval.is_none() {
            let id = status.plan.unwrap().id;
            let approve = json!({"spec": {"approval": {"planId": id}}});
            api.patch(NAME, &PatchParams::default(), &Patch::Merge(&approve))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        restarted_in.contains(&RolloutPhase::AwaitingApproval) && restarted_in.len() >= 3,
        "restarted in {restarted_in:?}"
    );
    assert_eq!(aws.endpoints().len(), 1, "one endpoint whatever the restarts");
    let creates = aws
        .sim
        .mutations()
        .iter()
        .filter(|c| c.operation.as_str() == "CreateVpcEndpoint")
        .count();
    assert!(creates >= 1);
    controller.stop().await;
}

/// A controller stopped at any moment after it starts, even before its caches are listed, stops:
/// it once waited for a listing that its own stop had cancelled, and the restarts above hung.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_stopped_at_any_moment_after_its_start_stops() {
    let (_server, client) = harness::cluster().await;
    harness::grant_everything(&client).await;
    create_namespace(&client, NS).await;
    let aws = Aws::incident();
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), NS);
    api.create(
        &PostParams::default(),
        &endpoint(incident::spec(RemediationMode::Approval)),
    )
    .await
    .unwrap();
    for delay_ms in (0..40).map(|i| i * 3) {
        let controller = Controller::start(&client, &aws);
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        tokio::time::timeout(Duration::from_secs(20), controller.stop())
            .await
            .unwrap_or_else(|_| panic!("a controller stopped {delay_ms} ms after its start did not stop"));
    }
}

/// The entry of `manager` in the object's managedFields for `subresource` ("" for the object).
fn managed_by(obj: &InterfaceEndpoint, manager: &str, subresource: &str) -> Option<serde_json::Value> {
    obj.metadata
        .managed_fields
        .iter()
        .flatten()
        .find(|m| {
            m.manager.as_deref() == Some(manager) && m.subresource.as_deref().unwrap_or("") == subresource
        })
        .map(|m| serde_json::to_value(m).unwrap())
}

/// The status is the controller's alone, written by server-side apply: kube-apiserver records
/// its field manager on /status, refuses another manager's apply of a field it owns (naming
/// it), and removes what it stops applying. A forced apply by someone else is undone at the
/// next reconcile. (A structured-merge-diff behaviour the controller's status relies on.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_belongs_to_the_controllers_field_manager_and_a_conflicting_apply_names_it() {
    let Scene {
        _server,
        api,
        controller,
        aws: _aws,
        ..
    } = Scene::start(incident::spec(RemediationMode::Approval)).await;
    let manager = vpce_rollout::controller::writes::FIELD_MANAGER;
    let waiting = wait_for(
        &api,
        NAME,
        PATIENCE,
        "AwaitingApproval",
        phase_is(RolloutPhase::AwaitingApproval),
    )
    .await;
    let status = managed_by(&waiting, manager, "status").expect("the controller manages /status");
    assert_eq!(status["operation"], "Apply");
    let owned = &status["fieldsV1"]["f:status"];
    assert!(
        owned["f:phase"].is_object() && owned["f:plan"]["f:id"].is_object(),
        "{owned}"
    );
    assert!(
        owned["f:clients"]["f:groups"].is_object(),
        "the blocked group: {owned}"
    );
    let object = managed_by(&waiting, manager, "").expect("the controller's finalizer is its own");
    assert_eq!(object["operation"], "Update");
    assert_eq!(
        object["fieldsV1"],
        json!({"f:metadata": {"f:finalizers": {".": {}, "v:\"vpce-rollout.dev/cleanup\"": {}}}}),
        "the controller owns its finalizer and nothing of the spec"
    );

    // Someone else applies the phase: refused, naming the owner.
    let kubectl = _server.kubectl();
    let applied = format!(
        "apiVersion: vpce-rollout.dev/v1alpha1\nkind: InterfaceEndpoint\nmetadata: {{name: {NAME}, namespace: {NS}}}\nstatus: {{phase: Failed}}\n"
    );
    let apply = [
        "apply",
        "--server-side",
        "--subresource=status",
        "--field-manager=someone",
        "-f",
        "-",
    ];
    let err = kubectl.try_run(&apply, Some(&applied)).unwrap_err();
    assert!(
        err.contains(&format!(r#"Apply failed with 1 conflict: conflict with "{manager}" with subresource "status": .status.phase"#)),
        "{err}"
    );
    // Forced, it takes the field; the controller's next apply (forced too) takes it back.
    let forced: Vec<&str> = apply.iter().copied().chain(["--force-conflicts"]).collect();
    kubectl.run_with_input(&forced, Some(&applied));
    wait_for(
        &api,
        NAME,
        PATIENCE,
        "AwaitingApproval again",
        phase_is(RolloutPhase::AwaitingApproval),
    )
    .await;

    // Approved and Ready, nothing is blocked: the controller stops applying the groups and the
    // server removes them.
    let plan = waiting.status.unwrap().plan.unwrap();
    let approve = json!({"spec": {"approval": {"planId": plan.id}}});
    api.patch(NAME, &PatchParams::default(), &Patch::Merge(&approve))
        .await
        .unwrap();
    let ready = wait_for(&api, NAME, PATIENCE, "Ready", phase_is(RolloutPhase::Ready)).await;
    assert_eq!(
        ready.status.as_ref().unwrap().clients.as_ref().unwrap().groups,
        vec![]
    );
    let status = managed_by(&ready, manager, "status").unwrap();
    assert!(
        status["fieldsV1"]["f:status"]["f:clients"]["f:groups"].is_null(),
        "{status}"
    );
    let raw: serde_json::Value =
        serde_json::from_str(&kubectl.run(&["-n", NS, "get", "vpce", NAME, "-o", "json"])).unwrap();
    assert!(
        raw["status"]["clients"].get("groups").is_none(),
        "{}",
        raw["status"]
    );
    controller.stop().await;
}

/// Watches the simulated world every 20 ms, until stopped, for clients of `owner`'s endpoint
/// that are blocked while its private DNS is on; returns what it saw.
fn watch_paths(
    aws: &Aws,
    spec: InterfaceEndpointSpec,
    owner: Owner,
) -> (Arc<AtomicBool>, JoinHandle<Vec<String>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let sim = aws.sim.clone();
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        let mut seen = std::collections::BTreeSet::new();
        while !stopped.load(Ordering::Relaxed) {
            let world = sim.snapshot();
            let serving = world
                .vpc_endpoints
                .iter()
                .any(|e| owner.owns(tag_pairs(&e.tags)) && e.private_dns_enabled);
            if serving && let Ok(a) = analysis::analyze(&spec, Some(&owner), &world) {
                seen.extend(a.blocked().map(|c| c.network_interface_id.clone()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        seen.into_iter().collect()
    });
    (stop, task)
}

/// Issue 8, hole 7, through the API server: two objects (two services) whose endpoints share
/// the endpoint security group. The second reaches Ready on the first one's rule; either can be
/// deleted first without cutting the other one's clients off, and the rule goes with the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_objects_sharing_a_group_are_deleted_in_either_order_without_cutting_the_other_off() {
    for logs_first in [true, false] {
        let (_server, client) = harness::cluster().await;
        harness::grant_everything(&client).await;
        create_namespace(&client, NS).await;
        let aws = Aws::incident();
        let controller = Controller::start(&client, &aws);
        let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), NS);

        let logs_spec = incident::spec(RemediationMode::Auto);
        let logs = api
            .create(&PostParams::default(), &endpoint(logs_spec.clone()))
            .await
            .unwrap();
        wait_for(&api, NAME, PATIENCE, "logs Ready", phase_is(RolloutPhase::Ready)).await;
        let metrics_spec = InterfaceEndpointSpec {
            service_name: format!("com.amazonaws.{}.monitoring", incident::REGION),
            ..incident::spec(RemediationMode::Auto)
        };
        let mut metrics_obj = InterfaceEndpoint::new("cloudwatch-metrics", metrics_spec.clone());
        metrics_obj.metadata.namespace = Some(NS.into());
        let metrics = api.create(&PostParams::default(), &metrics_obj).await.unwrap();
        wait_for(
            &api,
            "cloudwatch-metrics",
            PATIENCE,
            "metrics Ready",
            phase_is(RolloutPhase::Ready),
        )
        .await;
        let owner_of = |o: &InterfaceEndpoint| o.owner().unwrap();
        let (logs_owner, metrics_owner) = (owner_of(&logs), owner_of(&metrics));
        assert_eq!(aws.owned_rules(&logs_owner.uid).await.len(), 1);
        assert!(
            aws.owned_rules(&metrics_owner.uid).await.is_empty(),
            "the logs object's rule admits the metrics endpoint's clients"
        );

        let (first, first_owner, second, second_spec, second_owner) = if logs_first {
            (
                NAME,
                &logs_owner,
                "cloudwatch-metrics",
                metrics_spec.clone(),
                &metrics_owner,
            )
        } else {
            (
                "cloudwatch-metrics",
                &metrics_owner,
                NAME,
                logs_spec.clone(),
                &logs_owner,
            )
        };
        let (stop, watcher) = watch_paths(&aws, second_spec, second_owner.clone());
        api.delete(first, &DeleteParams::default()).await.unwrap();
        wait_gone(&api, first, PATIENCE).await;
        // The survivor has not needed to reconcile for its clients to keep their path.
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Relaxed);
        let cut_off = watcher.await.unwrap();
        assert!(
            cut_off.is_empty(),
            "deleting {first} cut {second}'s clients off: {cut_off:?}"
        );
        assert!(aws.owned_rules(&first_owner.uid).await.is_empty());
        assert_eq!(
            aws.owned_rules(&second_owner.uid).await.len(),
            1,
            "the rule is {second}'s now"
        );
        if logs_first {
            assert_events(&client, NS, first, &["RulesHandedOver"]).await;
            assert_events(&client, NS, second, &["RulesTakenOver"]).await;
        } else {
            assert_eq!(event_count(&client, NS, first, "RulesHandedOver").await, 0);
        }

        api.delete(second, &DeleteParams::default()).await.unwrap();
        wait_gone(&api, second, PATIENCE).await;
        assert!(aws.owned_rules(&second_owner.uid).await.is_empty());
        assert!(aws.endpoints().is_empty(), "{:?}", aws.endpoints());
        assert_eq!(controller.reconcile_errors("Kubernetes"), 0);
        controller.stop().await;
    }
}

/// Every status write carries the resourceVersion its pass read: a status decided from a read
/// that another write has overtaken (a deposed leader's, landing after the new leader wrote
/// newer facts) is refused with 409 instead of replacing them. Found by the simulation
/// (docs/reliability.md): a leader change with the old leader's status write landing late
/// brought back private DNS "on" for an endpoint deleted meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_decided_from_an_overtaken_read_is_refused() {
    use vpce_rollout::controller::writes;
    let (_server, client) = harness::cluster().await;
    create_namespace(&client, NS).await;
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), NS);
    let read = api
        .create(
            &PostParams::default(),
            &endpoint(incident::spec(RemediationMode::Auto)),
        )
        .await
        .unwrap();
    let newer = InterfaceEndpointStatus {
        phase: RolloutPhase::Creating,
        ..Default::default()
    };
    let written = writes::apply_status(&api, &read, &newer).await.unwrap();
    let older = InterfaceEndpointStatus {
        phase: RolloutPhase::Ready,
        endpoint_id: Some("vpce-0123456789abcdef0".into()),
        private_dns_enabled: true,
        ..Default::default()
    };
    let refused = writes::apply_status(&api, &read, &older).await.unwrap_err();
    assert!(writes::is_conflict(&refused), "{refused}");
    assert_eq!(
        api.get(NAME).await.unwrap().status,
        Some(newer),
        "the newer status stays"
    );
    let landed = writes::apply_status(&api, &written, &older).await.unwrap();
    assert_eq!(landed.status, Some(older), "a write from the latest read lands");
}
