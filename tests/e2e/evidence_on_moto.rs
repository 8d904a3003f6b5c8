//! Evidence on moto: the binary reads Route 53 Resolver query log records from moto's
//! CloudWatch Logs (written here as the Resolver writes them) and, under `scope: Evidence`,
//! checks only the clients that resolved the service's name; the others are listed as
//! `NotEvidenced`.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use kube::api::Api;
use vpce_rollout::api::{InterfaceEndpoint, RolloutPhase};
use vpce_rollout::aws::Ec2;
use vpce_rollout::logs::records::{QuerySource, resolver_query};

use crate::bench::{Bench, MotoBench};
use crate::binary_on_moto::{Binary, PATIENCE, example_for};
use crate::harness::{self, create_namespace, wait_for};
use crate::moto::{Account, REGION};

const GROUP: &str = "/aws/route53resolver/e2e";

/// Writes one query of the service's name by each of `addresses`, an hour ago (the controller
/// reads up to 10 minutes back from now, rounded).
async fn resolver_logs(bench: &MotoBench, addresses: &[(String, Option<String>)]) {
    let config = Account::sdk_config(&bench.account.id);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    logs.create_log_group()
        .log_group_name(GROUP)
        .send()
        .await
        .expect("CreateLogGroup");
    logs.create_log_stream()
        .log_group_name(GROUP)
        .log_stream_name("vpc")
        .send()
        .await
        .expect("CreateLogStream");
    let at = k8s_openapi::jiff::Timestamp::now().as_millisecond() - 3_600_000;
    let mut put = logs.put_log_events().log_group_name(GROUP).log_stream_name("vpc");
    for (address, instance_id) in addresses {
        let record = resolver_query(
            &bench.account.id,
            REGION,
            &bench.id("main"),
            at,
            &format!("logs.{REGION}.amazonaws.com"),
            address.parse().unwrap(),
            &QuerySource::Vpc {
                instance_id: instance_id.clone(),
            },
        );
        put = put.log_events(
            InputLogEvent::builder()
                .timestamp(at)
                .message(record)
                .build()
                .unwrap(),
        );
    }
    put.send().await.expect("PutLogEvents");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_from_query_log_records_restricts_the_checked_clients_under_scope_evidence() {
    let (cluster, client) = harness::cluster().await;
    harness::grant_everything(&client).await;
    let kubeconfig = cluster.kubeconfig_path().to_path_buf();
    let kubectl = cluster.kubectl();
    let ns = "platform";
    create_namespace(&client, ns).await;
    let bench = MotoBench::incident().await;
    let enis = bench
        .port()
        .describe_network_interfaces(&bench.id("main"))
        .await
        .unwrap();
    let lambda = enis
        .iter()
        .find(|e| e.network_interface_id == bench.id("lambda"))
        .and_then(|e| e.private_ip_address.clone())
        .expect("the Lambda ENI's address");
    // Only the Lambda resolves the service's name; Zabbix never does.
    resolver_logs(&bench, &[(lambda, None)]).await;

    let log = std::env::temp_dir().join(format!("vpce-rollout-e2e-evidence-{}.log", std::process::id()));
    let binary = Binary::start(&kubeconfig, &bench, log);
    binary.wait_ready().await;
    let manifest = example_for("cloudwatch-logs-evidence.yaml", &bench, |doc| {
        doc["metadata"]["namespace"] = ns.into();
        doc["spec"]["clients"]["evidence"]["resolverQueryLogs"]["logGroupName"] = GROUP.into();
        doc["spec"]["region"] = REGION.into();
    });
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&manifest));
    let api: Api<InterfaceEndpoint> = Api::namespaced(client.clone(), ns);
    let ready = wait_for(&api, "logs", PATIENCE, "Ready with the evidence read", |o| {
        o.status.as_ref().is_some_and(|s| {
            s.phase == RolloutPhase::Ready && s.clients.as_ref().is_some_and(|c| c.evidence.is_some())
        })
    })
    .await;
    let status = ready.status.unwrap();
    let clients = status.clients.unwrap();
    assert_eq!(
        clients.total,
        1,
        "only the evidenced Lambda is checked: {clients:?}\n{}",
        binary.log()
    );
    let not_evidenced = clients
        .exclusions
        .iter()
        .find(|e| e.reason == "NotEvidenced")
        .expect("Zabbix is listed, not dropped");
    assert_eq!(not_evidenced.network_interface_ids, [bench.id("zabbix")]);
    let evidence = clients.evidence.unwrap();
    assert_eq!((evidence.evidenced, evidence.not_evidenced), (1, 1));
    assert_eq!(evidence.clients[0].network_interface_id, bench.id("lambda"));
    assert_eq!(evidence.method, "LogsInsights");
    assert!(evidence.bytes_scanned > 0, "{evidence:?}");
    let read = status
        .conditions
        .iter()
        .find(|c| c.type_ == "EvidenceRead")
        .unwrap();
    assert_eq!(
        (read.status.as_str(), read.reason.as_str()),
        ("True", "EvidenceRead"),
        "{}",
        read.message
    );
    // The reads moto served: Logs Insights, in the object's account.
    let served: Vec<String> = bench
        .account
        .served_requests()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert!(served.iter().any(|a| a == "StartQuery"), "{served:?}");
    assert!(served.iter().any(|a| a == "GetQueryResults"), "{served:?}");
}
