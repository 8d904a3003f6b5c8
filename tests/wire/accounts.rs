//! Other accounts on the wire: the adapter assumes an EndpointGrant's role with STS AssumeRole on
//! moto (which answers it and keeps one backend per account id) and every EC2 call of the port
//! lands in the role's account, none in the controller's. The launcher records each account's
//! requests, with their parameters: the session's name, tags and external id as STS got them.

use std::sync::Arc;
use std::time::Duration;

use vpce_rollout::api::Owner;
use vpce_rollout::aws::sdk::{SdkOptions, SdkProvider};
use vpce_rollout::aws::{AccountAccessError, AssumeRole, Ec2, Ec2Provider};

use crate::bench::{Bench, MotoBench};
use crate::moto::{Account, test_options};

/// The object the session is assumed for.
fn owner() -> Owner {
    Owner {
        namespace: "team-a".into(),
        name: "logs".into(),
        uid: "5f0c6a1e-0000-4000-8000-000000000001".into(),
    }
}

/// The controller's own identity: a fresh account on the launcher, with `options`.
fn controller(options: SdkOptions) -> (Account, SdkProvider) {
    let own = Account::new();
    let provider = SdkProvider::from_sdk_config(Account::sdk_config(&own.id), options);
    (own, provider)
}

fn role_in(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/vpce-rollout")
}

#[tokio::test]
async fn calls_through_an_assumed_role_land_in_its_account_and_the_session_names_the_object() {
    let target = MotoBench::incident().await;
    let (own, provider) = controller(test_options());
    let role = AssumeRole::for_object(&role_in(&target.account.id), Some("platform-7f3a"), &owner());
    let setup = target.account.served_requests().len();

    let port = provider
        .client_as(None, &role)
        .await
        .expect("moto's STS answers AssumeRole");
    assert_eq!(
        port.account().await.as_deref(),
        Ok(target.account.id.as_str()),
        "the account of the assumed session, from STS's answer"
    );
    let vpcs = port.describe_vpcs(&[target.id("main")]).await.unwrap();
    assert_eq!(vpcs.len(), 1, "the target account's VPC is seen through the role");

    // The controller's account was asked for AssumeRole only, with the session as the issue
    // asks for it; the EC2 call went to the target account.
    let own_requests = own.served_requests();
    let actions: Vec<&str> = own_requests.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["AssumeRole"]);
    let assume = &own_requests[0];
    assert_eq!(assume.param("RoleArn"), Some(role.role_arn.as_str()));
    assert_eq!(assume.param("ExternalId"), Some("platform-7f3a"));
    assert_eq!(assume.param("RoleSessionName"), Some("vpce-rollout-team-a-logs"));
    let tags: Vec<(Option<&str>, Option<&str>)> = (1..=2)
        .map(|i| {
            (
                assume.param(&format!("Tags.member.{i}.Key")),
                assume.param(&format!("Tags.member.{i}.Value")),
            )
        })
        .collect();
    assert_eq!(
        tags,
        [
            (Some("vpce-rollout.dev/namespace"), Some("team-a")),
            (Some("vpce-rollout.dev/name"), Some("logs")),
        ]
    );
    let target_actions: Vec<String> = target.account.served_requests()[setup..]
        .iter()
        .map(|r| r.action.clone())
        .collect();
    assert_eq!(target_actions, ["DescribeVpcs"]);

    // The credentials are kept: the same port, no second AssumeRole.
    let again = provider.client_as(None, &role).await.unwrap();
    assert!(Arc::ptr_eq(&port, &again));
    assert_eq!(own.served_requests().len(), 1);
    // Another object is another session.
    let other = Owner {
        name: "ssm".into(),
        ..owner()
    };
    let other_role = AssumeRole::for_object(&role.role_arn, role.external_id.as_deref(), &other);
    let other_port = provider.client_as(None, &other_role).await.unwrap();
    assert!(!Arc::ptr_eq(&port, &other_port));
    assert_eq!(
        own.served_requests()[1].param("RoleSessionName"),
        Some("vpce-rollout-team-a-ssm")
    );
}

#[tokio::test]
async fn credentials_near_their_expiry_are_assumed_again_and_the_port_is_kept() {
    let target = MotoBench::incident().await;
    // Every credential is "about to expire": each ask assumes again.
    let (own, provider) = controller(SdkOptions {
        assumed_role_refresh: Duration::from_secs(24 * 3600),
        ..test_options()
    });
    let role = AssumeRole::for_object(&role_in(&target.account.id), None, &owner());
    let first = provider.client_as(None, &role).await.unwrap();
    let second = provider.client_as(None, &role).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &second),
        "the port, and its memory of recent creations, is kept"
    );
    assert_eq!(own.served_requests().len(), 2, "assumed again");
    // The renewed credentials work.
    assert_eq!(first.describe_subnets(&target.id("main")).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_refused_assume_role_is_an_error_with_stss_code_and_message() {
    let target = MotoBench::incident().await;
    let (own, provider) = controller(test_options());
    own.inject_fault("AssumeRole", "AccessDenied", 403, 1);
    let role = AssumeRole::for_object(&role_in(&target.account.id), None, &owner());
    let setup = target.account.served_requests().len();
    let error = provider
        .client_as(None, &role)
        .await
        .expect_err("the fault refuses it");
    let AccountAccessError::AssumeRole {
        role_arn,
        code,
        message,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(role_arn, &role.role_arn);
    assert_eq!(code, "AccessDenied");
    assert!(
        message.contains("injected by the wire test: AccessDenied"),
        "{message}"
    );
    assert_eq!(
        target.account.served_requests().len(),
        setup,
        "nothing reached the target account"
    );
}
