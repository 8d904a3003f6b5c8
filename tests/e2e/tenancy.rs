//! The tenancy through the Kubernetes API test server: EndpointGrants, PlanApprovals and
//! namespace labels watched by the controller, whose changes reach the objects they affect at
//! once. The controller runs with an hour-long resync and wait here, so that any progress
//! within seconds can only come from those watches.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use vpce_rollout::api::{
    EndpointGrant, EndpointGrantSpec, InterfaceEndpoint, PlanApproval, PlanApprovalSpec, RemediationMode,
    RolloutPhase,
};
use vpce_rollout::aws::sim::SimProvider;
use vpce_rollout::controller::http::Readiness;
use vpce_rollout::controller::metrics::Metrics;
use vpce_rollout::controller::run::{ControllerSettings, ControllerSetup, Shutdown, run_controller};
use vpce_rollout::engine::incident;
use vpce_rollout::plan::Timing;

use crate::harness::{self, assert_events, create_namespace, wait_for, wait_gone};
use crate::on_sim::Aws;

const NS: &str = "team-a";
const NAME: &str = "cloudwatch-logs";
const PATIENCE: Duration = Duration::from_secs(20);
const HOUR: Duration = Duration::from_secs(3600);

fn granted(reason: &'static str) -> impl Fn(&InterfaceEndpoint) -> bool {
    move |o| {
        o.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Granted" && c.reason == reason)
        })
    }
}

fn phase_is(phase: RolloutPhase) -> impl Fn(&InterfaceEndpoint) -> bool {
    move |o| o.status.as_ref().is_some_and(|s| s.phase == phase)
}

/// The team's grant: namespaces labelled `team: a`, the incident's VPC, logs, its groups.
fn team_grant() -> EndpointGrantSpec {
    serde_json::from_value(json!({
        "namespaceSelector": {"matchLabels": {"team": "a"}},
        "vpcIds": [incident::VPC],
        "serviceNames": ["com.amazonaws.*.logs"],
        "endpointSecurityGroupIds": [incident::SG_ENDPOINT],
        "clientSecurityGroupIds": [incident::SG_ZABBIX, incident::SG_LAMBDA],
        "approvedBy": "Platform",
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_namespace_labels_and_plan_approvals_reach_the_object_at_once() {
    let (_server, client) = harness::cluster().await;
    create_namespace(&client, NS).await;
    let aws = Aws::incident();
    let clock = aws.sim.clock().clone();
    let shutdown = Shutdown::default();
    let setup = ControllerSetup {
        client: client.clone(),
        provider: SimProvider::new(aws.sim.clone()),
        settings: ControllerSettings {
            watch_namespace: None,
            timing: Timing {
                after_change: Duration::from_millis(200),
                pending_min: Duration::from_millis(200),
                pending_max: Duration::from_millis(800),
                waiting: HOUR,
                resync: HOUR,
                visibility_window: Duration::from_secs(10),
                private_dns_ttl: Duration::from_millis(500),
                acceptance_timeout: HOUR,
            },
            config: Default::default(),
            instance: "e2e".into(),
        },
        metrics: Arc::new(Metrics::new()),
        readiness: Arc::new(Readiness::new(false)),
        clock: Arc::new(move || clock.timestamp()),
    };
    let task = tokio::spawn(run_controller(setup, shutdown.wait()));

    // No grant: Forbidden, said once, and no AWS call at all.
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), NS);
    let mut obj = InterfaceEndpoint::new(NAME, incident::spec(RemediationMode::Approval));
    obj.metadata.namespace = Some(NS.into());
    api.create(&PostParams::default(), &obj).await.unwrap();
    let refused = wait_for(&api, NAME, PATIENCE, "NoGrant", granted("NoGrant")).await;
    assert_events(&client, NS, NAME, &["Forbidden"]).await;
    assert!(aws.sim.calls().is_empty(), "{:?}", aws.sim.calls());
    assert!(
        refused.metadata.finalizers.unwrap_or_default().is_empty(),
        "nothing was created: no finalizer holds its deletion"
    );

    // A grant for the namespace's label, before the namespace has it: still no grant.
    let grants: Api<EndpointGrant> = Api::all(client.clone());
    grants
        .create(
            &PostParams::default(),
            &EndpointGrant::new("team-a", team_grant()),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = api.get(NAME).await.unwrap();
    assert!(granted("NoGrant")(&still), "{:?}", still.status);

    // The label arrives: the namespace watch requeues the object, which rolls out up to the plan.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let label = json!({"metadata": {"labels": {"team": "a"}}});
    namespaces
        .patch(NS, &PatchParams::default(), &Patch::Merge(&label))
        .await
        .unwrap();
    let waiting = wait_for(
        &api,
        NAME,
        PATIENCE,
        "AwaitingApproval",
        phase_is(RolloutPhase::AwaitingApproval),
    )
    .await;
    assert!(
        waiting
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == "vpce-rollout.dev/cleanup")),
        "admitted: the finalizer comes before anything is created"
    );
    let status = waiting.status.unwrap();
    assert_eq!(status.grant.as_deref(), Some("team-a"));
    assert_events(&client, NS, NAME, &["Granted", "EndpointCreated"]).await;

    // The tenant approves its own plan: ignored under approvedBy: Platform.
    let plan_id = status.plan.unwrap().id;
    let approve = json!({"spec": {"approval": {"planId": plan_id}}});
    api.patch(NAME, &PatchParams::default(), &Patch::Merge(&approve))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(phase_is(RolloutPhase::AwaitingApproval)(
        &api.get(NAME).await.unwrap()
    ));

    // The platform's PlanApproval: the approval watch requeues the object, which becomes Ready.
    let approvals: Api<PlanApproval> = Api::all(client.clone());
    let approval = PlanApproval::new(
        "team-a-cloudwatch-logs",
        PlanApprovalSpec {
            namespace: NS.into(),
            name: NAME.into(),
            plan_id,
        },
    );
    approvals.create(&PostParams::default(), &approval).await.unwrap();
    wait_for(&api, NAME, PATIENCE, "Ready", phase_is(RolloutPhase::Ready)).await;

    // The grant narrowed to another VPC: Forbidden at once, and no call from then on.
    let narrow = json!({"spec": {"vpcIds": ["vpc-0ffffffffffffff00"]}});
    grants
        .patch("team-a", &PatchParams::default(), &Patch::Merge(&narrow))
        .await
        .unwrap();
    wait_for(&api, NAME, PATIENCE, "OutsideGrant", granted("OutsideGrant")).await;
    let calls = aws.sim.calls().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(aws.sim.calls().len(), calls, "no AWS call for a Forbidden object");

    // Deleted anyway: the object's endpoint and rules are cleaned up, grant or not.
    api.delete(NAME, &DeleteParams::default()).await.unwrap();
    wait_gone(&api, NAME, PATIENCE).await;
    assert!(aws.endpoints().is_empty(), "{:?}", aws.endpoints());

    shutdown.trigger();
    task.await.unwrap().unwrap();
}
