//! The CloudWatch Logs port on the wire: aws-sdk-cloudwatchlogs against moto's CloudWatch Logs
//! (groups, streams, PutLogEvents, FilterLogEvents; Logs Insights in the subset the launcher
//! runs), built by the same provider and configuration as the EC2 port.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use vpce_rollout::aws::ErrorKind;
use vpce_rollout::aws::sdk::SdkProvider;
use vpce_rollout::logs::insights::parse_timestamp;
use vpce_rollout::logs::sdk::SdkLogs;
use vpce_rollout::logs::{
    FilterLogEvents, Logs, LogsOperation, LogsProvider, QueryPolling, StartQuery, run_query,
};

use crate::moto::{Account, test_options};

/// A time the test writes records at (epoch ms): moto keeps what it is given.
const T0: i64 = 1_796_600_000_000;

async fn logs_of(account: &Account) -> std::sync::Arc<SdkLogs> {
    let provider = SdkProvider::from_sdk_config(Account::sdk_config(&account.id), test_options());
    provider.logs(None).await.expect("region is set")
}

async fn write(logs: &SdkLogs, group: &str, events: &[(i64, String)]) {
    let client = logs.client();
    let _ = client.create_log_group().log_group_name(group).send().await;
    let _ = client
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name("vpc-0123")
        .send()
        .await;
    if events.is_empty() {
        return;
    }
    let mut put = client
        .put_log_events()
        .log_group_name(group)
        .log_stream_name("vpc-0123");
    for (t, message) in events {
        put = put.log_events(
            InputLogEvent::builder()
                .timestamp(*t)
                .message(message)
                .build()
                .unwrap(),
        );
    }
    put.send().await.expect("PutLogEvents");
}

fn query_record(name: &str, addr: &str, srcids: serde_json::Value) -> String {
    serde_json::json!({
        "version": "1.100000",
        "account_id": "123456789012",
        "region": "us-east-1",
        "vpc_id": "vpc-0123",
        "query_timestamp": "2026-12-07T10:00:00Z",
        "query_name": name,
        "query_type": "A",
        "query_class": "IN",
        "rcode": "NOERROR",
        "answers": [],
        "srcaddr": addr,
        "srcport": "53422",
        "transport": "UDP",
        "srcids": srcids,
    })
    .to_string()
}

#[tokio::test]
async fn a_logs_insights_aggregate_counts_resolutions_per_source_on_the_wire() {
    let account = Account::new();
    let logs = logs_of(&account).await;
    assert_eq!(logs.region().as_deref(), Some(crate::moto::REGION));
    let name = "logs.us-east-1.amazonaws.com.";
    write(
        &logs,
        "/resolver/queries",
        &[
            (
                T0,
                query_record(name, "10.0.1.10", serde_json::json!({"instance": "i-0aaa"})),
            ),
            (
                T0 + 5_000,
                query_record(name, "10.0.1.10", serde_json::json!({"instance": "i-0aaa"})),
            ),
            (
                T0 + 6_000,
                query_record("ec2.us-east-1.amazonaws.com.", "10.0.1.11", serde_json::json!({})),
            ),
            (
                T0 + 7_000,
                query_record(
                    name,
                    "192.168.10.4",
                    serde_json::json!({"resolver_endpoint": "rslvr-in-0abc"}),
                ),
            ),
        ],
    )
    .await;
    let request = StartQuery {
        log_group_name: "/resolver/queries".into(),
        start_time: T0 / 1000 - 60,
        end_time: T0 / 1000 + 60,
        query_string: "fields srcaddr \
            | filter query_name like /(?i)^(.*\\.)?logs\\.us-east-1\\.amazonaws\\.com\\.?$/ \
            | stats count(*) as queries, max(@timestamp) as lastSeen by srcaddr, srcids.instance, srcids.resolver_endpoint \
            | limit 10000"
            .into(),
        limit: Some(10_000),
    };
    let results = run_query(&*logs, &request, QueryPolling::default())
        .await
        .unwrap();
    assert_eq!(results.rows.len(), 2, "{:?}", results.rows);
    let eni = results.rows.iter().find(|r| r["srcaddr"] == "10.0.1.10").unwrap();
    assert_eq!(eni["queries"], "2");
    assert_eq!(eni["srcids.instance"], "i-0aaa");
    assert_eq!(parse_timestamp(&eni["lastSeen"]), Some(T0 + 5_000));
    let onprem = results
        .rows
        .iter()
        .find(|r| r["srcaddr"] == "192.168.10.4")
        .unwrap();
    assert_eq!(onprem["srcids.resolver_endpoint"], "rslvr-in-0abc");
    assert_eq!(results.statistics.records_scanned, 4.0);
    assert!(
        results.statistics.bytes_scanned > 400.0,
        "{:?}",
        results.statistics
    );
}

#[tokio::test]
async fn a_filter_scan_reads_page_by_page_up_to_its_bound() {
    let account = Account::new();
    let logs = logs_of(&account).await;
    let events: Vec<(i64, String)> = (0..30)
        .map(|i| {
            let name = if i % 3 == 0 {
                "ec2.us-east-1.amazonaws.com."
            } else {
                "logs.us-east-1.amazonaws.com."
            };
            (
                T0 + i,
                query_record(name, &format!("10.0.1.{i}"), serde_json::json!({})),
            )
        })
        .collect();
    write(&logs, "/resolver/scan", &events).await;
    let mut request = FilterLogEvents {
        log_group_name: "/resolver/scan".into(),
        start_time_ms: T0,
        end_time_ms: T0 + 1_000,
        filter_pattern: Some("\"logs.us-east-1.amazonaws.com\"".into()),
        max_events: 7,
    };
    let read = logs.filter_log_events(&request).await.unwrap();
    assert_eq!(read.events.len(), 7);
    assert!(!read.complete, "the bound stopped the scan");
    request.max_events = 1_000;
    let read = logs.filter_log_events(&request).await.unwrap();
    assert_eq!(read.events.len(), 20);
    assert!(read.complete);
    assert!(read.events.iter().all(|e| e.message.contains("logs.us-east-1")));
}

#[tokio::test]
async fn logs_errors_are_classified_as_the_ec2_ports_are() {
    let account = Account::new();
    let logs = logs_of(&account).await;
    let request = StartQuery {
        log_group_name: "/does/not/exist".into(),
        start_time: 0,
        end_time: 10,
        query_string: "stats count(*) as n".into(),
        limit: None,
    };
    let err = logs.start_query(&request).await.unwrap_err();
    assert_eq!(
        (err.kind, err.operation),
        (ErrorKind::NotFound, LogsOperation::StartQuery),
        "{err}"
    );
    let scan = FilterLogEvents {
        log_group_name: "/does/not/exist".into(),
        start_time_ms: 0,
        end_time_ms: 10,
        filter_pattern: None,
        max_events: 10,
    };
    assert_eq!(
        logs.filter_log_events(&scan).await.unwrap_err().kind,
        ErrorKind::NotFound
    );

    account.inject_fault("StartQuery", "AccessDeniedException", 400, 1);
    let err = logs.start_query(&request).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccessDenied, "{err}");
    assert!(
        err.request_id.is_some(),
        "the failed request's id is kept: {err:?}"
    );
    account.inject_fault("FilterLogEvents", "ThrottlingException", 400, 2);
    assert_eq!(
        logs.filter_log_events(&scan).await.unwrap_err().kind,
        ErrorKind::Throttled
    );
    account.inject_fault("GetQueryResults", "ServiceUnavailableException", 503, 2);
    assert_eq!(
        logs.get_query_results("q-1").await.unwrap_err().kind,
        ErrorKind::Transient
    );
}

#[tokio::test]
async fn an_objects_logs_port_in_another_account_reads_there_on_the_same_assumed_session() {
    let target = Account::new();
    let target_logs = logs_of(&target).await;
    let name = "logs.us-east-1.amazonaws.com.";
    write(
        &target_logs,
        "/resolver/theirs",
        &[(T0, query_record(name, "10.9.0.4", serde_json::json!({})))],
    )
    .await;
    let own = Account::new();
    let provider = SdkProvider::from_sdk_config(Account::sdk_config(&own.id), test_options());
    let owner = vpce_rollout::api::Owner {
        namespace: "team-a".into(),
        name: "logs".into(),
        uid: "5f0c6a1e-0000-4000-8000-000000000002".into(),
    };
    let role = vpce_rollout::aws::AssumeRole::for_object(
        &format!("arn:aws:iam::{}:role/vpce-rollout", target.id),
        None,
        &owner,
    );
    let logs = provider
        .logs_as(None, &role)
        .await
        .expect("moto's STS answers AssumeRole");
    let scan = FilterLogEvents {
        log_group_name: "/resolver/theirs".into(),
        start_time_ms: T0 - 1,
        end_time_ms: T0 + 1,
        filter_pattern: None,
        max_events: 10,
    };
    let read = logs
        .filter_log_events(&scan)
        .await
        .expect("the group is the target account's");
    assert_eq!(read.events.len(), 1);
    // The EC2 port of the same object shares the session: one AssumeRole for both.
    let _ec2 = vpce_rollout::aws::Ec2Provider::client_as(&provider, None, &role)
        .await
        .unwrap();
    let actions: Vec<String> = own.served_requests().into_iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        ["AssumeRole"],
        "the controller's own account saw only the AssumeRole"
    );
    assert!(
        target
            .served_requests()
            .iter()
            .any(|r| r.action == "FilterLogEvents"),
        "the read landed in the role's account"
    );
}

/// The canary's two reads on the wire: DescribeFlowLogs (EC2) tells the records' format, and a
/// FilterLogEvents scan for REJECT reads the records moto's CloudWatch Logs holds.
#[tokio::test]
async fn the_canary_learns_the_flow_logs_format_and_finds_the_rejects_to_the_endpoint() {
    use std::collections::BTreeMap;
    use vpce_rollout::aws::Ec2;
    use vpce_rollout::logs::flow::{self, FlowWindow};
    use vpce_rollout::logs::records::{Flow, flow_log_record};

    let account = Account::new();
    let logs = logs_of(&account).await;
    let ec2 = aws_sdk_ec2::Client::new(&Account::sdk_config(&account.id));
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("CreateVpc")
        .vpc
        .and_then(|v| v.vpc_id)
        .unwrap();
    let format = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${dstport} ${action} ${start} ${end}";
    write(&logs, "/vpc/flow", &[]).await;
    ec2.create_flow_logs()
        .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
        .resource_ids(&vpc)
        .traffic_type(aws_sdk_ec2::types::TrafficType::All)
        .log_destination_type(aws_sdk_ec2::types::LogDestinationType::CloudWatchLogs)
        .log_group_name("/vpc/flow")
        .deliver_logs_permission_arn("arn:aws:iam::123456789012:role/flow-logs")
        .log_format(format)
        .send()
        .await
        .expect("CreateFlowLogs");
    ec2.create_flow_logs()
        .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
        .resource_ids(&vpc)
        .traffic_type(aws_sdk_ec2::types::TrafficType::All)
        .log_destination_type(aws_sdk_ec2::types::LogDestinationType::CloudWatchLogs)
        .log_group_name("/vpc/other")
        .deliver_logs_permission_arn("arn:aws:iam::123456789012:role/flow-logs")
        .send()
        .await
        .expect("CreateFlowLogs");

    let found = account.ec2.describe_flow_logs("/vpc/flow").await.unwrap();
    assert_eq!(found.len(), 1, "filtered by the group on the server: {found:?}");
    assert_eq!(found[0].resource_id, vpc);
    assert_eq!(found[0].log_format.as_deref(), Some(format));
    let other = account.ec2.describe_flow_logs("/vpc/other").await.unwrap();
    assert_eq!(
        other[0].log_format.as_deref(),
        Some(flow::DEFAULT_FLOW_LOG_FORMAT),
        "created without a format: AWS reports the default's fields"
    );

    let record = |src: &str, port: u16, action: &str| {
        flow_log_record(
            format,
            &Flow {
                account_id: "123456789012",
                interface_id: "eni-0vpce",
                srcaddr: src.parse().unwrap(),
                dstaddr: "10.0.1.100".parse().unwrap(),
                srcport: 49152,
                dstport: port,
                start: T0 / 1000,
                end: T0 / 1000 + 60,
                action,
            },
        )
    };
    write(
        &logs,
        "/vpc/flow",
        &[
            (T0, record("10.0.1.30", 443, "REJECT")),
            (T0 + 1, record("10.0.1.31", 443, "ACCEPT")),
            (T0 + 2, record("10.0.1.30", 443, "REJECT")),
            (T0 + 3, record("10.0.1.32", 22, "REJECT")),
        ],
    )
    .await;
    let window = FlowWindow {
        log_group_name: "/vpc/flow".into(),
        log_format: found[0].log_format.clone().unwrap(),
        start_ms: T0,
        end_ms: T0 + 1_000,
        destinations: BTreeMap::from([("10.0.1.100".parse().unwrap(), "eni-0vpce".to_string())]),
        ports: vec![443],
        max_scan_events: 1_000,
    };
    let read = flow::read(&*logs, &window).await.unwrap();
    assert_eq!(read.records_read, 3, "moto filters the quoted term REJECT");
    assert_eq!(read.rejects.len(), 1, "{:?}", read.rejects);
    assert_eq!(read.rejects[0].srcaddr.to_string(), "10.0.1.30");
    assert_eq!(read.rejects[0].records, 2);
    assert!(read.complete);
}
