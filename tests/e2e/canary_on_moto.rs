//! The canary on moto: the binary rolls the endpoint out with `spec.verification.flowLogs`;
//! once it is Ready, the rule that admits the Zabbix agent is removed by hand and a REJECT flow
//! log record of the agent's connection to an endpoint ENI is written into the named log group
//! (moto's CloudWatch Logs, the flow log created on moto's VPC): within one poll the binary
//! reports it and puts the rule back (`onReject: Remediate`); under `onReject: Rollback` it
//! turns private DNS off first, and on again once the rule is back.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use kube::api::Api;
use vpce_rollout::api::{InterfaceEndpoint, OWNER_TAG, RolloutPhase};
use vpce_rollout::aws::{Ec2, RuleFilter};
use vpce_rollout::logs::records::{DEFAULT_FLOW_LOG_FORMAT, Flow, flow_log_record};

use crate::bench::{Bench, MotoBench};
use crate::binary_on_moto::{Binary, PATIENCE, example_for};
use crate::harness::{self, create_namespace, wait_for};
use crate::moto::Account;

const GROUP: &str = "/vpc/flow-logs/e2e";

/// Ready with the canary reading, then the rule that admits the Zabbix agent removed by hand and
/// a REJECT record of the agent's connection written: what the tests below start from.
struct Rejected {
    _cluster: kube_apiserver_harness::ControlPlane,
    client: kube::Client,
    bench: MotoBench,
    binary: Binary,
    api: Api<InterfaceEndpoint>,
    ns: &'static str,
    /// The Zabbix agent's address.
    zabbix: String,
    endpoint_eni: String,
}

async fn ready_then_rejected(on_reject: &str, before: impl AsyncFnOnce(&MotoBench)) -> Rejected {
    let (cluster, client) = harness::cluster().await;
    harness::grant_everything(&client).await;
    let kubeconfig = cluster.kubeconfig_path().to_path_buf();
    let kubectl = cluster.kubectl();
    let ns = "platform";
    create_namespace(&client, ns).await;
    let bench = MotoBench::incident().await;
    let config = Account::sdk_config(&bench.account.id);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    logs.create_log_group()
        .log_group_name(GROUP)
        .send()
        .await
        .expect("CreateLogGroup");
    logs.create_log_stream()
        .log_group_name(GROUP)
        .log_stream_name("eni-all")
        .send()
        .await
        .expect("CreateLogStream");
    bench
        .client()
        .create_flow_logs()
        .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
        .resource_ids(bench.id("main"))
        .traffic_type(aws_sdk_ec2::types::TrafficType::All)
        .log_destination_type(aws_sdk_ec2::types::LogDestinationType::CloudWatchLogs)
        .log_group_name(GROUP)
        .deliver_logs_permission_arn("arn:aws:iam::123456789012:role/flow-logs")
        .send()
        .await
        .expect("CreateFlowLogs");
    before(&bench).await;

    let log = std::env::temp_dir().join(format!(
        "vpce-rollout-e2e-canary-{on_reject}-{}.log",
        std::process::id()
    ));
    let binary = Binary::start(&kubeconfig, &bench, log);
    binary.wait_ready().await;
    let manifest = example_for("cloudwatch-logs-canary.yaml", &bench, |doc| {
        doc["metadata"]["namespace"] = ns.into();
        doc["spec"]["verification"]["flowLogs"]["logGroupName"] = GROUP.into();
        doc["spec"]["region"] = crate::moto::REGION.into();
        doc["spec"]["verification"]["onReject"]["action"] = on_reject.into();
    });
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&manifest));
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), ns);
    let ready = wait_for(&api, "logs", PATIENCE, "Ready with the canary reading", |o| {
        o.status.as_ref().is_some_and(|s| {
            s.phase == RolloutPhase::Ready
                && s.conditions
                    .iter()
                    .any(|c| c.type_ == "Verified" && c.reason == "NoRejectedTraffic")
        })
    })
    .await;
    let status = ready.status.unwrap();
    let summary = status.verification.clone().expect("status.verification");
    assert_eq!(summary.log_format_from, "DescribeFlowLogs", "{summary:?}");
    let endpoint_eni = &status.network_interfaces[0];
    let endpoint_address = endpoint_eni
        .private_ip_address
        .clone()
        .expect("the endpoint ENI's address");

    // The rule that admits the Zabbix agent, removed by hand.
    let owned = owned_rules(&bench, ns).await;
    let rule = owned
        .iter()
        .find(|r| admits_zabbix(&bench)(r))
        .expect("the rule admitting Zabbix");
    bench
        .client()
        .revoke_security_group_ingress()
        .group_id(bench.id("endpoint-sg"))
        .security_group_rule_ids(&rule.security_group_rule_id)
        .send()
        .await
        .expect("RevokeSecurityGroupIngress");
    let zabbix = bench
        .port()
        .describe_network_interfaces(&bench.id("main"))
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.network_interface_id == bench.id("zabbix"))
        .and_then(|e| e.private_ip_address)
        .expect("the Zabbix ENI's address");
    let now = k8s_openapi::jiff::Timestamp::now();
    let record = flow_log_record(
        DEFAULT_FLOW_LOG_FORMAT,
        &Flow {
            account_id: &bench.account.id,
            interface_id: &endpoint_eni.network_interface_id,
            srcaddr: zabbix.parse().unwrap(),
            dstaddr: endpoint_address.parse().unwrap(),
            srcport: 49152,
            dstport: 443,
            start: now.as_second() - 60,
            end: now.as_second(),
            action: "REJECT",
        },
    );
    logs.put_log_events()
        .log_group_name(GROUP)
        .log_stream_name("eni-all")
        .log_events(
            InputLogEvent::builder()
                .timestamp(now.as_millisecond())
                .message(record)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("PutLogEvents");
    Rejected {
        _cluster: cluster,
        client,
        bench,
        binary,
        api,
        ns,
        zabbix,
        endpoint_eni: endpoint_eni.network_interface_id.clone(),
    }
}

fn admits_zabbix(bench: &MotoBench) -> impl Fn(&vpce_rollout::model::SecurityGroupRule) -> bool + '_ {
    |r| r.referenced_group_info.as_ref().map(|g| g.group_id.clone()) == Some(bench.id("zabbix-sg"))
}

async fn owned_rules(bench: &MotoBench, ns: &str) -> Vec<vpce_rollout::model::SecurityGroupRule> {
    bench
        .port()
        .describe_security_group_rules(&RuleFilter {
            group_ids: vec![bench.id("endpoint-sg")],
            tag: Some((OWNER_TAG.to_string(), format!("{ns}/logs"))),
            ..Default::default()
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reject_toward_an_endpoint_eni_after_ready_is_remediated_within_one_poll() {
    // Bound, not left to `..`: the control plane lives until the end of the test.
    let Rejected {
        _cluster,
        bench,
        binary,
        api,
        ns,
        zabbix,
        endpoint_eni,
        ..
    } = ready_then_rejected("Remediate", async |_| {}).await;

    // One poll is --resync (3 s here) while the window is open: well within PATIENCE.
    let caught = wait_for(&api, "logs", PATIENCE, "the REJECT read and acted on", |o| {
        o.status.as_ref().is_some_and(|s| {
            s.verification
                .as_ref()
                .is_some_and(|v| v.rejected.iter().any(|r| r.address == zabbix))
        })
    })
    .await;
    let status = caught.status.unwrap();
    let verified = status.conditions.iter().find(|c| c.type_ == "Verified").unwrap();
    assert!(
        ["RejectsRemediated", "RejectsResolved"].contains(&verified.reason.as_str()),
        "{verified:?}\n{}",
        binary.log()
    );
    let rejected = &status.verification.as_ref().unwrap().rejected;
    assert_eq!(rejected[0].client.as_deref(), Some(bench.id("zabbix").as_str()));
    assert_eq!(
        rejected[0].endpoint_network_interface_id.as_deref(),
        Some(endpoint_eni.as_str())
    );
    wait_for(&api, "logs", PATIENCE, "Ready with the rule back", |o| {
        o.status.as_ref().is_some_and(|s| {
            s.phase == RolloutPhase::Ready
                && s.conditions
                    .iter()
                    .any(|c| c.type_ == "Verified" && c.reason == "RejectsResolved")
        })
    })
    .await;
    let again = owned_rules(&bench, ns).await;
    assert!(
        again.iter().any(admits_zabbix(&bench)),
        "the rule is back: {again:?}"
    );
    let served: Vec<String> = bench
        .account
        .served_requests()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert!(served.iter().any(|a| a == "DescribeFlowLogs"), "{served:?}");
    assert!(served.iter().any(|a| a == "FilterLogEvents"), "{served:?}");
}

/// `onReject: Rollback` on moto: the VPC's main route table leads to an internet gateway, so
/// turning private DNS off restores the Zabbix agent and cuts nobody off. The binary turns
/// private DNS off (a RolledBack Warning Event, DescribeRouteTables served), puts the rule back
/// (Auto), and turns private DNS on again: Ready, the rollback cleared, a new canary window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reject_under_rollback_turns_private_dns_off_until_the_rule_is_back() {
    let Rejected {
        _cluster,
        client,
        bench,
        binary,
        api,
        ns,
        zabbix,
        ..
    } = ready_then_rejected("Rollback", async |bench: &MotoBench| {
        let igw = bench
            .client()
            .create_internet_gateway()
            .send()
            .await
            .unwrap()
            .internet_gateway
            .and_then(|g| g.internet_gateway_id)
            .unwrap();
        bench
            .client()
            .attach_internet_gateway()
            .internet_gateway_id(&igw)
            .vpc_id(bench.id("main"))
            .send()
            .await
            .unwrap();
        let main = bench
            .port()
            .describe_route_tables(&bench.id("main"))
            .await
            .unwrap()
            .into_iter()
            .find(|t| t.is_main())
            .expect("the VPC's main route table");
        bench
            .client()
            .create_route()
            .route_table_id(main.route_table_id)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(igw)
            .send()
            .await
            .expect("CreateRoute");
    })
    .await;
    let on_since = api
        .get("logs")
        .await
        .unwrap()
        .status
        .unwrap()
        .private_dns_on_since;

    // Rolled back, the rule put back, and private DNS on again with a new window.
    let done = wait_for(&api, "logs", PATIENCE, "Ready again after the rollback", |o| {
        o.status.as_ref().is_some_and(|s| {
            s.phase == RolloutPhase::Ready
                && s.private_dns_enabled
                && s.rollback.is_none()
                && s.private_dns_on_since.is_some()
                && s.private_dns_on_since != on_since
        })
    })
    .await;
    let status = done.status.unwrap();
    harness::assert_events(&client, ns, "logs", &["RolledBack", "PrivateDnsDisabled"]).await;
    let reasons = harness::event_reasons(&client, ns, "logs").await;
    assert!(
        reasons.iter().any(|r| r == "RolledBack"),
        "{reasons:?}\n{}",
        binary.log()
    );
    let notes = harness::event_notes(&client, ns, "logs").await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&zabbix) && n.contains("restores 1 rejected source")),
        "{notes:?}"
    );
    assert!(reasons.iter().any(|r| r == "PrivateDnsDisabled"), "{reasons:?}");
    assert!(!reasons.iter().any(|r| r == "PrivateDnsReenabled"), "{reasons:?}");
    let verified = status.conditions.iter().find(|c| c.type_ == "Verified").unwrap();
    assert_eq!(
        verified.reason, "NoRejectedTraffic",
        "the new window is after the record"
    );
    let again = owned_rules(&bench, ns).await;
    assert!(
        again.iter().any(admits_zabbix(&bench)),
        "the rule is back: {again:?}"
    );
    let served: Vec<String> = bench
        .account
        .served_requests()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert!(served.iter().any(|a| a == "DescribeRouteTables"), "{served:?}");
}
