//! The binary acting in another account: an EndpointGrant's `aws.roleArn` is assumed through
//! moto's STS, which keeps one backend per account id. The controller's own credentials are a
//! fresh account's; the incident's world lives in the target account. moto's record of what
//! each account was served proves that every EC2 call landed in the target account and the
//! controller's own account saw AssumeRole only, with the session named and tagged after the
//! object and the grant's external id.

use std::collections::BTreeSet;

use kube::api::Api;
use vpce_rollout::api::{InterfaceEndpoint, RolloutPhase};
use vpce_rollout::aws::{Ec2, EndpointFilter};

use crate::bench::{Bench, MotoBench};
use crate::binary_on_moto::{Binary, PATIENCE, example_for};
use crate::harness::{self, assert_events, create_namespace, wait_for, wait_gone};
use crate::moto::Account;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_rolls_out_and_cleans_up_in_the_account_of_the_grants_role() {
    let (cluster, client) = harness::cluster().await;
    let kubectl = cluster.kubectl();
    let ns = "team-a";
    create_namespace(&client, ns).await;
    let target = MotoBench::incident().await;
    let own = Account::new();
    let role = format!("arn:aws:iam::{}:role/vpce-rollout", target.account.id);
    let grant = format!(
        "apiVersion: vpce-rollout.dev/v1alpha1\nkind: EndpointGrant\nmetadata: {{name: team-a}}\n\
         spec:\n  namespaces: [{ns}]\n  vpcIds: [{}]\n  serviceNames: ['*']\n  \
         endpointSecurityGroupIds: ['{}']\n  clientSecurityGroupIds: ['*']\n  \
         aws: {{roleArn: '{role}', externalId: e2e-7f3a}}\n",
        target.id("main"),
        target.id("endpoint-sg"),
    );
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&grant));
    let setup = target.account.served_requests().len();
    let log = std::env::temp_dir().join(format!("vpce-rollout-e2e-accounts-{}.log", std::process::id()));
    let binary = Binary::start_with(
        cluster.kubeconfig_path(),
        &target,
        log,
        &[("AWS_ACCESS_KEY_ID", own.id.as_str())],
    );
    binary.wait_ready().await;

    let manifest = example_for("cloudwatch-logs.yaml", &target, |doc| {
        doc["metadata"]["namespace"] = ns.into();
        // The controller's default is Retain; this endpoint goes with its object.
        doc["spec"]["deletionPolicy"] = "Delete".into();
    });
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&manifest));
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), ns);
    let created = wait_for(&api, "logs", PATIENCE, "an endpoint", |o| {
        o.status.as_ref().is_some_and(|s| s.endpoint_account_id.is_some())
    })
    .await;
    let status = created.status.unwrap();
    assert_eq!(
        status.endpoint_account_id.as_deref(),
        Some(target.account.id.as_str())
    );
    assert_eq!(status.endpoint_role_arn.as_deref(), Some(role.as_str()));
    assert_eq!(status.grant.as_deref(), Some("team-a"));
    let endpoints = target
        .port()
        .describe_vpc_endpoints(&EndpointFilter {
            vpc_id: Some(target.id("main")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(endpoints.len(), 1, "created in the target account");
    assert_eq!(endpoints[0].owner_id.as_deref(), Some(target.account.id.as_str()));
    // The Events of its changes name the account CloudTrail has them in.
    assert_events(&client, ns, "logs", &["Granted", "EndpointCreated"]).await;

    // The controller's own account: AssumeRole, and nothing else, every time with the session
    // the issue asks for.
    let own_requests = own.served_requests();
    let actions: BTreeSet<&str> = own_requests.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, BTreeSet::from(["AssumeRole"]), "{own_requests:?}");
    for r in &own_requests {
        assert_eq!(r.param("RoleArn"), Some(role.as_str()));
        assert_eq!(r.param("ExternalId"), Some("e2e-7f3a"));
        assert_eq!(r.param("RoleSessionName"), Some("vpce-rollout-team-a-logs"));
        assert_eq!(r.param("Tags.member.1.Value"), Some("team-a"));
        assert_eq!(r.param("Tags.member.2.Value"), Some("logs"));
    }
    let target_actions: BTreeSet<String> = target.account.served_requests()[setup..]
        .iter()
        .map(|r| r.action.clone())
        .collect();
    assert!(target_actions.contains("CreateVpcEndpoint"), "{target_actions:?}");
    assert!(!target_actions.contains("AssumeRole"));

    // The grant goes; deleting the object still cleans up, in the target account.
    kubectl.run(&["delete", "endpointgrant", "team-a"]);
    wait_for(&api, "logs", PATIENCE, "Forbidden", |o| {
        o.status
            .as_ref()
            .is_some_and(|s| s.phase == RolloutPhase::Forbidden)
    })
    .await;
    kubectl.run(&["-n", ns, "delete", "vpce", "logs", "--wait=false"]);
    wait_gone(&api, "logs", PATIENCE).await;
    let left = target
        .port()
        .describe_vpc_endpoints(&EndpointFilter {
            vpc_id: Some(target.id("main")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        left.iter()
            .all(|e| e.state_lower() == "deleted" || e.state_lower() == "deleting"),
        "{left:?}"
    );
    let deleted = target.account.served_requests()[setup..]
        .iter()
        .any(|r| r.action == "DeleteVpcEndpoints");
    assert!(deleted, "deleted in the target account");
    assert!(
        own.served_requests().iter().all(|r| r.action == "AssumeRole"),
        "still nothing but AssumeRole in the controller's own account"
    );
    drop(binary);
}
