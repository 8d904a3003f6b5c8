//! Each error category, as EC2 reports it on the wire, classified by the adapter. Throttling,
//! access denial and server errors are injected by the launcher (moto never produces them);
//! the rest come from moto itself (see also the contract suite: Duplicate, IdempotencyMismatch,
//! Precondition, Invalid, NotFound).

use std::net::TcpListener;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::{Credentials, SharedCredentialsProvider};
use vpce_rollout::aws::sdk::{SdkOptions, SdkProvider, https_client};
use vpce_rollout::aws::{Ec2, Ec2Operation, EndpointFilter, ErrorKind, ModifyVpcEndpoint};

use crate::bench::{Bench, MotoBench};
use crate::contract::{create_available, create_request, owner};
use crate::moto::{Account, test_options};

#[tokio::test]
async fn request_limit_exceeded_past_the_retries_is_throttled() {
    let account = Account::new();
    account.inject_fault("DescribeVpcs", "RequestLimitExceeded", 503, 5);
    let err = account.ec2.describe_vpcs(&[]).await.unwrap_err();
    assert_eq!(
        (err.kind, err.operation, err.code.as_str()),
        (
            ErrorKind::Throttled,
            Ec2Operation::DescribeVpcs,
            "RequestLimitExceeded"
        )
    );
}

#[tokio::test]
async fn a_single_throttle_is_absorbed_by_the_sdk_retry() {
    let account = Account::new();
    account.inject_fault("DescribeVpcs", "RequestLimitExceeded", 503, 1);
    let vpcs = account
        .ec2
        .describe_vpcs(&[])
        .await
        .expect("the second attempt succeeds");
    assert!(!vpcs.is_empty(), "moto's default VPC");
}

#[tokio::test]
async fn unauthorized_operation_is_access_denied_naming_the_action_and_creates_nothing() {
    let b = MotoBench::incident().await;
    b.account
        .inject_fault("CreateVpcEndpoint", "UnauthorizedOperation", 403, 1);
    let err = b
        .port()
        .create_vpc_endpoint(&create_request(
            &b,
            &owner("denied"),
            "main",
            &["main-a"],
            &["endpoint-sg"],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccessDenied, "{err}");
    assert_eq!(
        err.operation.as_str(),
        "CreateVpcEndpoint",
        "the IAM action to grant"
    );
    let all = b
        .port()
        .describe_vpc_endpoints(&EndpointFilter {
            vpc_id: Some(b.id("main")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(all.is_empty());
}

#[tokio::test]
async fn not_found_right_after_create_is_not_yet_visible_and_later_not_found() {
    let b = MotoBench::incident().await;
    let created = create_available(
        &b,
        &create_request(&b, &owner("visible"), "main", &["main-a"], &["endpoint-sg"]),
    )
    .await;
    let modify = ModifyVpcEndpoint {
        vpc_endpoint_id: created.vpc_endpoint_id.clone(),
        private_dns_enabled: Some(false),
        ..Default::default()
    };

    // EC2's eventual consistency, as it shows on the wire.
    b.account
        .inject_fault("ModifyVpcEndpoint", "InvalidVpcEndpointId.NotFound", 400, 1);
    let err = b.port().modify_vpc_endpoint(&modify).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotYetVisible, "{err}");
    b.port().modify_vpc_endpoint(&modify).await.expect("visible now");

    // Another process (a restarted controller) did not create it: NotFound means gone.
    let other = SdkProvider::from_sdk_config(Account::sdk_config(&b.account.id), test_options())
        .client_for(None)
        .unwrap();
    b.account
        .inject_fault("ModifyVpcEndpoint", "InvalidVpcEndpointId.NotFound", 400, 1);
    let err = other.modify_vpc_endpoint(&modify).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn a_quota_is_a_precondition() {
    let b = MotoBench::incident().await;
    b.account
        .inject_fault("CreateVpcEndpoint", "VpcEndpointLimitExceeded", 400, 1);
    let err = b
        .port()
        .create_vpc_endpoint(&create_request(
            &b,
            &owner("quota"),
            "main",
            &["main-a"],
            &["endpoint-sg"],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Precondition, "{err}");
}

#[tokio::test]
async fn server_errors_past_the_retries_are_transient() {
    let account = Account::new();
    account.inject_fault("DescribeSubnets", "InternalError", 500, 5);
    let err = account
        .ec2
        .describe_subnets("vpc-0123456789abcdef0")
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.code.as_str()),
        (ErrorKind::Transient, "InternalError")
    );
}

#[tokio::test]
async fn a_gateway_error_page_past_the_retries_is_transient() {
    let account = Account::new();
    account.inject_error_page(
        "DescribeSubnets",
        502,
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
        5,
    );
    let err = account
        .ec2
        .describe_subnets("vpc-0123456789abcdef0")
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.code.as_str()),
        (ErrorKind::Transient, "HTTP502"),
        "{err}"
    );
    assert!(err.message.contains("502 Bad Gateway"), "{err}");
}

fn unreachable_port(
    endpoint_url: String,
    options: SdkOptions,
) -> std::sync::Arc<vpce_rollout::aws::sdk::SdkEc2> {
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "wire-tests",
        )))
        .endpoint_url(endpoint_url)
        .http_client(https_client())
        .build();
    SdkProvider::from_sdk_config(config, options)
        .client_for(None)
        .unwrap()
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ec2 = unreachable_port(format!("http://127.0.0.1:{port}"), test_options());
    let err = ec2.describe_vpcs(&[]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_bounded_transient_timeout() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for stream in listener.incoming().take(4) {
            open.push(stream);
        }
        // Far longer than the timeouts under test: only they can end the call.
        std::thread::sleep(Duration::from_secs(120));
    });
    let options = SdkOptions {
        attempt_timeout: Duration::from_millis(300),
        operation_timeout: Duration::from_secs(2),
        ..test_options()
    };
    let ec2 = unreachable_port(format!("http://127.0.0.1:{port}"), options);
    let started = std::time::Instant::now();
    let err = ec2.describe_vpcs(&[]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Transient, "{err}");
    // Bounded by the operation timeout (2 s), not by the server, which holds on for 120 s;
    // the margin is for a loaded machine, this is not a speed check.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    drop(held);
}
