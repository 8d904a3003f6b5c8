//! The full rollout on moto through the launcher, by the real engine over the aws-sdk-ec2
//! adapter: create with private DNS off, open the path for the blocked client, enable private
//! DNS, then on deletion revoke exactly the controller's rules and delete the endpoint.

use std::collections::BTreeMap;
use std::time::Duration;

use vpce_rollout::analysis;
use vpce_rollout::api::{
    DeletionPolicy, InterfaceEndpointSpec, InterfaceEndpointStatus, Owner, RemediationMode, RemediationSpec,
    RolloutPhase,
};
use vpce_rollout::aws::observe::{ObserveScope, observe_vpc};
use vpce_rollout::aws::{Ec2, EndpointFilter, RuleFilter, RulePeer};
use vpce_rollout::engine::{ReconcileOutcome, ReconcileRequest, reconcile};
use vpce_rollout::plan::{EventNote, Timing};

use crate::bench::{Bench, MotoBench, logs_service};
use crate::contract::owner;
use crate::moto::ServedRequest;

/// Short waits: moto's endpoints are pending for a second, not minutes.
fn quick_timing() -> Timing {
    Timing {
        after_change: Duration::from_millis(200),
        pending_min: Duration::from_millis(300),
        pending_max: Duration::from_secs(1),
        waiting: Duration::from_secs(1),
        resync: Duration::from_secs(5),
        private_dns_ttl: Duration::from_secs(1),
        ..Timing::default()
    }
}

struct Rollout<'a> {
    bench: &'a MotoBench,
    spec: InterfaceEndpointSpec,
    owner: Owner,
    status: InterfaceEndpointStatus,
    deleting: bool,
    phases: Vec<RolloutPhase>,
    events: Vec<EventNote>,
}

impl Rollout<'_> {
    async fn pass(&mut self) -> ReconcileOutcome {
        let request = ReconcileRequest {
            spec: &self.spec,
            generation: Some(1),
            owner: &self.owner,
            deleting: self.deleting,
            status: &self.status,
            config: &Default::default(),
            now: k8s_openapi::jiff::Timestamp::now(),
            observations: None,
            resolver: None,
        };
        let outcome = reconcile(self.bench.port(), &request, &quick_timing()).await;
        self.status = outcome.status.clone();
        self.phases.push(outcome.status.phase);
        self.events.extend(outcome.events.iter().cloned());
        let wait = outcome.requeue.unwrap_or(Duration::from_millis(500));
        tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
        outcome
    }

    async fn until(&mut self, done: impl Fn(&ReconcileOutcome) -> bool, max: usize) -> ReconcileOutcome {
        for _ in 0..max {
            let outcome = self.pass().await;
            if let Some(error) = &outcome.error {
                assert!(
                    error.kind.is_retryable(),
                    "the rollout failed: {error}; phases {:?}",
                    self.phases
                );
            }
            if done(&outcome) {
                return outcome;
            }
        }
        panic!(
            "not done after {max} passes: {:?}; status {:?}",
            self.phases, self.status
        );
    }
}

#[tokio::test]
async fn the_incident_rolls_out_on_the_wire_and_cleans_up_only_its_own_rules() {
    let b = MotoBench::incident().await;
    // Someone else's rule: the endpoint group admits the Lambda, not the monitoring agent.
    let foreign_rule = b
        .foreign_https_ingress("endpoint-sg", RulePeer::Group(b.id("lambda-sg")))
        .await;
    // What moto served to set the world up is not the controller's.
    let setup = b.account.served_requests().len();

    let spec = InterfaceEndpointSpec {
        vpc_id: b.id("main"),
        service_name: logs_service(),
        subnet_ids: vec![b.id("main-a"), b.id("main-b")],
        subnet_configurations: Vec::new(),
        security_group_ids: vec![b.id("endpoint-sg")],
        ports: vec![443],
        policy: None,
        tags: BTreeMap::new(),
        region: Some("us-east-1".into()),
        service_region: None,
        ip_address_type: None,
        dns_options: None,
        private_dns: Default::default(),
        clients: Default::default(),
        remediation: RemediationSpec {
            endpoint_ingress: RemediationMode::Auto,
            client_egress: RemediationMode::Auto,
        },
        verification: None,
        approval: None,
        adopt: None,
        deletion_policy: Some(DeletionPolicy::Delete),
        observe_only: false,
    };
    let mut rollout = Rollout {
        bench: &b,
        owner: owner("wire-rollout"),
        spec,
        status: InterfaceEndpointStatus::default(),
        deleting: false,
        phases: Vec::new(),
        events: Vec::new(),
    };

    // Create: the endpoint exists, private DNS off, before anything else happens.
    let created = rollout.until(|o| o.status.endpoint_id.is_some(), 5).await;
    let endpoint_id = created.status.endpoint_id.clone().unwrap();
    let filter = EndpointFilter {
        vpc_endpoint_ids: vec![endpoint_id.clone()],
        ..Default::default()
    };
    let first = b.port().describe_vpc_endpoints(&filter).await.unwrap();
    assert!(!first[0].private_dns_enabled, "created with private DNS off");

    // Ready: the path is open and private DNS is on.
    rollout.until(|o| o.status.phase == RolloutPhase::Ready, 40).await;
    let live = b.port().describe_vpc_endpoints(&filter).await.unwrap();
    assert!(live[0].private_dns_enabled, "phases {:?}", rollout.phases);
    let scope = ObserveScope {
        service_name: Some(&rollout.spec.service_name),
        service_region: None,
        owner: Some(&rollout.owner),
    };
    let world = observe_vpc(b.port(), &b.id("main"), scope).await.unwrap();
    let verdicts = analysis::analyze(&rollout.spec, Some(&rollout.owner), &world).expect("the spec fits");
    assert!(
        verdicts.all_reachable(),
        "private DNS is on while a client is blocked"
    );
    let owned = RuleFilter {
        group_ids: Vec::new(),
        tag: Some((vpce_rollout::api::UID_TAG.to_string(), rollout.owner.uid.clone())),
        tag_any_of: None,
    };
    let rules = b.port().describe_security_group_rules(&owned).await.unwrap();
    assert!(
        rules.iter().any(|r| r.group_id == b.id("endpoint-sg")
            && r.referenced_group_info.as_ref().map(|g| g.group_id.as_str())
                == Some(b.id("zabbix-sg").as_str())),
        "the endpoint admits zabbix's group through an owned rule: {rules:?}"
    );

    // Deletion: the owned rules go, the foreign one stays, the endpoint is deleted.
    rollout.deleting = true;
    rollout.until(|o| o.finalized, 20).await;
    assert!(
        b.port()
            .describe_security_group_rules(&owned)
            .await
            .unwrap()
            .is_empty()
    );
    let left = b
        .port()
        .describe_security_group_rules(&RuleFilter {
            group_ids: vec![b.id("endpoint-sg")],
            tag: None,
            tag_any_of: None,
        })
        .await
        .unwrap();
    assert!(
        left.iter().any(|r| r.security_group_rule_id == foreign_rule),
        "someone else's rule was revoked"
    );
    let gone = b
        .port()
        .describe_vpc_endpoints(&EndpointFilter {
            vpc_id: Some(b.id("main")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        gone.iter()
            .all(|e| matches!(e.state_lower().as_str(), "deleting" | "deleted")),
        "{gone:?}"
    );

    // The audit trail: every change moto made has an Event carrying the request id moto
    // answered it with, the account and the region; and no Event names an id moto never gave.
    let mutations = [
        "CreateVpcEndpoint",
        "ModifyVpcEndpoint",
        "DeleteVpcEndpoints",
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
    ];
    let changes: Vec<(String, String)> = b
        .account
        .served_requests()
        .into_iter()
        .skip(setup)
        .filter(|r| mutations.contains(&r.action.as_str()) && r.status == 200)
        .map(|r| {
            (
                r.action,
                r.request_id.expect("moto answers with x-amzn-requestid"),
            )
        })
        .collect();
    // The order as moto saw it: the rule before private DNS went on; on deletion, private DNS
    // off, the record TTL, the delete, and only then the rules.
    let served = b.account.served_requests();
    let calls: Vec<_> = served[setup..]
        .iter()
        .filter(|r| mutations.contains(&r.action.as_str()) && r.status == 200)
        .collect();
    let shown: Vec<String> = calls
        .iter()
        .map(|r| format!("{:.2} {} {:?}", r.at, r.action, r.param("PrivateDnsEnabled")))
        .collect();
    let position = |what: &str, wanted: &dyn Fn(&&ServedRequest) -> bool| {
        calls
            .iter()
            .position(wanted)
            .unwrap_or_else(|| panic!("no {what} in {shown:#?}"))
    };
    let dns = |r: &&ServedRequest, on: &str| {
        r.action == "ModifyVpcEndpoint" && r.param("PrivateDnsEnabled") == Some(on)
    };
    let authorized = position("authorize", &|r| r.action == "AuthorizeSecurityGroupIngress");
    let dns_on = position("private DNS on", &|r| dns(r, "true"));
    let dns_off = position("private DNS off", &|r| dns(r, "false"));
    let deleted = position("delete", &|r| r.action == "DeleteVpcEndpoints");
    let revoked = position("revoke", &|r| r.action.starts_with("RevokeSecurityGroup"));
    assert!(
        authorized < dns_on && dns_on < dns_off && dns_off < deleted && deleted < revoked,
        "{shown:#?}"
    );
    let ttl = quick_timing().private_dns_ttl.as_secs_f64();
    assert!(calls[deleted].at - calls[dns_off].at >= ttl, "{shown:#?}");

    let actions: Vec<&str> = changes.iter().map(|(a, _)| a.as_str()).collect();
    for expected in [
        "CreateVpcEndpoint",
        "AuthorizeSecurityGroupIngress",
        "ModifyVpcEndpoint",
        "DeleteVpcEndpoints",
    ] {
        assert!(actions.contains(&expected), "{actions:?}");
    }
    let trace = format!("account {}, region us-east-1", b.account.id);
    for (action, request_id) in &changes {
        let recorded: Vec<&EventNote> = rollout
            .events
            .iter()
            .filter(|e| e.message.contains(&format!("request id {request_id}, {trace}")))
            .collect();
        assert_eq!(
            recorded.len(),
            1,
            "{action} {request_id}: one Event with moto's request id; events {:#?}",
            rollout.events
        );
    }
    let traced = rollout
        .events
        .iter()
        .filter(|e| e.message.contains("request id "))
        .count();
    assert_eq!(traced, changes.len(), "{:#?}", rollout.events);
}
