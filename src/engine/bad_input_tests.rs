//! Bad input, one row each: the real engine over the simulated world, with the exact condition
//! reason and message it ends up reporting, and the world's call log as proof of what it did not
//! change. A row fails when the reason or the message differ, or when any AWS mutation other
//! than the ones the row allows (those before the bad input mattered) succeeded.
//!
//! The same inputs through `vpce-rollout plan` are in `tests/cli.rs`.

use std::sync::Arc;
use std::time::Duration;

use super::incident::{self, PRIVATE_DNS_NAME, SERVICE, SUBNET_PRIVATE_A, SUBNET_PUBLIC, VPC};
use super::{ReconcileRequest, reconcile};
use crate::api::{Approval, InterfaceEndpointSpec, InterfaceEndpointStatus, RemediationMode, RolloutPhase};
use crate::aws::sim::{SimClock, SimConfig, SimEc2};
use crate::aws::{Ec2Operation, Ec2Provider};
use crate::model::{AttributeBoolean, Snapshot, tags_from};
use crate::plan::{Timing, location};

/// What a row changes before the passes run.
struct Row {
    name: &'static str,
    /// Edits the world before the simulation starts.
    world: fn(&mut Snapshot),
    /// Edits the spec before the first pass.
    spec: fn(&mut InterfaceEndpointSpec),
    /// The simulation's behaviour (quotas).
    config: fn(SimConfig) -> SimConfig,
    /// Runs against the simulation before the first pass (faults).
    sim: fn(&SimEc2),
    /// Edits the spec once the rollout reached `Ready` (edits the CRD forbids).
    after_ready: Option<fn(&mut InterfaceEndpointSpec)>,
    /// The phase the rollout stops in.
    phase: RolloutPhase,
    reason: &'static str,
    message: String,
    /// Mutations that may succeed (before the bad input mattered).
    allowed: &'static [Ec2Operation],
}

impl Default for Row {
    fn default() -> Self {
        Self {
            name: "",
            world: |_| {},
            spec: |_| {},
            config: |c| c,
            sim: |_| {},
            after_ready: None,
            phase: RolloutPhase::Failed,
            reason: "",
            message: String::new(),
            allowed: &[],
        }
    }
}

struct Run {
    sim: Arc<SimEc2>,
    status: InterfaceEndpointStatus,
}

async fn pass(
    sim: &Arc<SimEc2>,
    spec: &InterfaceEndpointSpec,
    status: &InterfaceEndpointStatus,
) -> InterfaceEndpointStatus {
    let owner = incident::owner();
    let request = ReconcileRequest {
        spec,
        generation: Some(1),
        owner: &owner,
        deleting: false,
        status,
        config: &Default::default(),
        now: sim.clock().timestamp(),
        observations: None,
        resolver: None,
    };
    let provider = crate::aws::sim::SimProvider::new(sim.clone());
    let ec2 = provider
        .client(location::region(spec, status))
        .await
        .expect("a region");
    let outcome = reconcile(&*ec2, &request, &Timing::default()).await;
    sim.clock()
        .advance(outcome.requeue.unwrap_or(Duration::from_secs(5)));
    outcome.status
}

/// Runs passes until the row's phase (or 30 passes), after the row's setup.
async fn run(row: &Row) -> Run {
    let mut world = incident::world();
    (row.world)(&mut world);
    let config = (row.config)(SimConfig::default().instant().without_throttling());
    let sim = Arc::new(SimEc2::with_config(&world, SimClock::new(), config));
    let mut spec = incident::spec(RemediationMode::Auto);
    (row.spec)(&mut spec);
    (row.sim)(&sim);
    let mut status = InterfaceEndpointStatus::default();
    if let Some(edit) = row.after_ready {
        for _ in 0..30 {
            status = pass(&sim, &spec, &status).await;
            if status.phase == RolloutPhase::Ready {
                break;
            }
        }
        assert_eq!(status.phase, RolloutPhase::Ready, "{}: never Ready", row.name);
        sim.clear_calls();
        edit(&mut spec);
    }
    for _ in 0..30 {
        status = pass(&sim, &spec, &status).await;
        if status.phase == row.phase {
            break;
        }
    }
    Run { sim, status }
}

/// What is wrong with the row's outcome, if anything.
fn check(row: &Row, run: &Run) -> Option<String> {
    let name = row.name;
    if run.status.phase != row.phase {
        return Some(format!("{name}: phase {}", run.status.phase));
    }
    let Some(ready) = run.status.conditions.iter().find(|c| c.type_ == "Ready") else {
        return Some(format!("{name}: no Ready condition"));
    };
    if (ready.reason.as_str(), ready.message.as_str()) != (row.reason, row.message.as_str()) {
        return Some(format!(
            "{name}:\n  got  {}: {}\n  want {}: {}",
            ready.reason, ready.message, row.reason, row.message
        ));
    }
    let unexpected: Vec<_> = run
        .sim
        .mutations()
        .into_iter()
        .filter(|c| !row.allowed.contains(&c.operation))
        .collect();
    (!unexpected.is_empty()).then(|| format!("{name}: mutated {unexpected:?}"))
}

const DENIED: &str = "You are not authorized to perform this operation.";

/// Every call of `operation` is refused for lack of permission.
fn denied(sim: &SimEc2, operation: Ec2Operation) {
    sim.inject_error(operation, "UnauthorizedOperation", DENIED, 1000);
}

fn denied_message(operation: Ec2Operation) -> String {
    format!(
        "EC2 denied ec2:{operation} (UnauthorizedOperation): {DENIED}. Allow ec2:{operation} in \
         the controller's IAM policy (see docs/iam-policy.json)"
    )
}

/// The endpoint the simulated world creates for the incident's object (ids derive from the
/// ClientToken, so they are stable).
const CREATED: &str = "vpce-063033b0ca389c35a";

/// An edit the CRD's CEL rules forbid, refused by the controller as well.
fn moved(field: &str, edited: &str, was: &str) -> String {
    invalid(&format!(
        "{field} is {edited}, but endpoint {CREATED} was created in {VPC} ({}) for {SERVICE}, \
         and an endpoint cannot move. Set {field} back to {was}, or delete this object (its \
         deletionPolicy applies to endpoint {CREATED}) and create a new InterfaceEndpoint",
        incident::REGION
    ))
}

fn invalid(problem: &str) -> String {
    format!("Invalid spec: {problem}")
}

const UNKNOWN_SUBNET: &str = "subnet-0fffffffffffffff1";
const UNKNOWN_GROUP: &str = "sg-0fffffffffffffff1";
const OTHER_VPC: &str = "vpc-0ffffffffffffff00";
const OTHER_SUBNET: &str = "subnet-0eeeeeeeeeeeeeee1";
const OTHER_ENDPOINT: &str = "vpce-0ffffffffffffffff";

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "a service region the service is not offered from",
            spec: |s| s.service_region = Some("eu-west-1".into()),
            reason: "InvalidSpec",
            message: invalid(&format!(
                "spec.serviceRegion: {SERVICE} is not offered from eu-west-1 to this VPC's region \
                 (DescribeVpcEndpointServices with ServiceRegions eu-west-1 does not list it): the \
                 service does not offer cross-region access to this region, or does not exist in \
                 eu-west-1"
            )),
            ..Row::default()
        },
        Row {
            name: "a policy for a service that takes no endpoint policy",
            world: |w| w.service_details[0].vpc_endpoint_policy_supported = Some(false),
            spec: |s| {
                s.policy = Some(
                    r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#
                        .into(),
                )
            },
            reason: "InvalidSpec",
            message: invalid(&format!(
                "spec.policy: the service {SERVICE} does not support endpoint policies \
                 (DescribeVpcEndpointServices says VpcEndpointPolicySupported false); remove spec.policy"
            )),
            ..Row::default()
        },
        Row {
            name: "a malformed subnet id",
            spec: |s| s.subnet_ids = vec!["subnet-12".into()],
            reason: "InvalidSpec",
            message: invalid("spec.subnetIds[0]: \"subnet-12\" does not match ^subnet-[0-9a-f]{8,17}$"),
            ..Row::default()
        },
        Row {
            name: "a malformed security group id and approval id",
            spec: |s| {
                s.security_group_ids = vec!["sg-XYZ".into()];
                s.approval = Some(Approval {
                    plan_id: "yes".into(),
                });
            },
            reason: "InvalidSpec",
            message: invalid(
                "spec.approval.planId: \"yes\" does not match ^[0-9a-f]{6,64}$; \
                 spec.securityGroupIds[0]: \"sg-XYZ\" does not match ^sg-[0-9a-f]{8,17}$",
            ),
            ..Row::default()
        },
        Row {
            name: "an unknown subnet",
            spec: |s| s.subnet_ids = vec![UNKNOWN_SUBNET.into()],
            reason: "InvalidSpec",
            message: invalid(&format!("subnet {UNKNOWN_SUBNET} not found")),
            ..Row::default()
        },
        Row {
            name: "an unknown security group",
            spec: |s| s.security_group_ids = vec![UNKNOWN_GROUP.into()],
            reason: "InvalidSpec",
            message: invalid(&format!("security group {UNKNOWN_GROUP} not found")),
            ..Row::default()
        },
        Row {
            name: "an unknown VPC",
            spec: |s| s.vpc_id = OTHER_VPC.into(),
            reason: "InvalidSpec",
            message: invalid(&format!("VPC {OTHER_VPC} not found")),
            ..Row::default()
        },
        Row {
            name: "a subnet of another VPC",
            world: |w| {
                let mut vpc = w.vpcs[0].clone();
                vpc.vpc_id = OTHER_VPC.into();
                w.vpcs.push(vpc);
                let mut subnet = w.subnets[0].clone();
                subnet.subnet_id = OTHER_SUBNET.into();
                subnet.vpc_id = OTHER_VPC.into();
                w.subnets.push(subnet);
            },
            spec: |s| s.subnet_ids = vec![OTHER_SUBNET.into()],
            reason: "InvalidSpec",
            message: invalid(&format!("subnet {OTHER_SUBNET} not found")),
            ..Row::default()
        },
        Row {
            name: "two subnets in one Availability Zone",
            spec: |s| s.subnet_ids = vec![SUBNET_PUBLIC.into(), SUBNET_PRIVATE_A.into()],
            reason: "InvalidSpec",
            message: invalid(&format!(
                "spec.subnetIds: {SUBNET_PUBLIC} and {SUBNET_PRIVATE_A} are both in \
                 ap-northeast-1a; an endpoint takes at most one subnet per Availability Zone"
            )),
            ..Row::default()
        },
        Row {
            name: "a subnet listed twice",
            spec: |s| s.subnet_ids = vec![SUBNET_PRIVATE_A.into(), SUBNET_PRIVATE_A.into()],
            reason: "InvalidSpec",
            message: invalid(&format!("spec.subnetIds lists {SUBNET_PRIVATE_A} twice")),
            ..Row::default()
        },
        Row {
            name: "a port listed twice",
            spec: |s| s.ports = vec![5432, 443, 5432],
            reason: "InvalidSpec",
            message: invalid("spec.ports lists 5432 twice"),
            ..Row::default()
        },
        Row {
            name: "no port",
            spec: |s| s.ports = Vec::new(),
            reason: "InvalidSpec",
            message: invalid("spec.ports: 0 items, fewer than the minimum 1"),
            ..Row::default()
        },
        Row {
            name: "port 0",
            spec: |s| s.ports = vec![0],
            reason: "InvalidSpec",
            message: invalid("spec.ports[0]: 0 is below the minimum 1.0"),
            ..Row::default()
        },
        Row {
            name: "more ports than a rule set can hold",
            spec: |s| s.ports = (1..=17).collect(),
            reason: "InvalidSpec",
            message: invalid("spec.ports: 17 items, more than the maximum 16"),
            ..Row::default()
        },
        Row {
            name: "DNS records EC2 does not create for the address type",
            spec: |s| {
                s.ip_address_type = Some(crate::api::IpAddressType::Ipv4);
                s.dns_options = Some(crate::api::DnsOptions {
                    dns_record_ip_type: Some(crate::api::DnsRecordIpType::Dualstack),
                    ..Default::default()
                });
            },
            reason: "InvalidSpec",
            message: invalid(
                "spec.dnsOptions.dnsRecordIpType dualstack needs spec.ipAddressType dualstack (it is \
                 ipv4): EC2 creates those records only for an endpoint with those addresses",
            ),
            ..Row::default()
        },
        Row {
            name: "private DNS for Resolver inbound endpoints only, with private DNS off",
            spec: |s| {
                s.private_dns.enabled = false;
                s.dns_options = Some(crate::api::DnsOptions {
                    private_dns_only_for_inbound_resolver_endpoint: Some(true),
                    ..Default::default()
                });
            },
            reason: "InvalidSpec",
            message: invalid(crate::api::INBOUND_ONLY_MESSAGE),
            ..Row::default()
        },
        Row {
            name: "fixed addresses for a subnet the endpoint is not in",
            spec: |s| {
                s.subnet_configurations = vec![crate::api::SubnetConfiguration {
                    subnet_id: SUBNET_PUBLIC.into(),
                    ipv4: Some("10.0.0.10".into()),
                    ipv6: None,
                }]
            },
            reason: "InvalidSpec",
            message: invalid(&format!(
                "{} ({SUBNET_PUBLIC} is not in spec.subnetIds)",
                crate::api::SUBNET_CONFIGURATION_SUBNETS_MESSAGE
            )),
            ..Row::default()
        },
        Row {
            name: "a fixed IPv6 address for an IPv4 endpoint",
            spec: |s| {
                s.subnet_configurations = vec![crate::api::SubnetConfiguration {
                    subnet_id: SUBNET_PRIVATE_A.into(),
                    ipv4: None,
                    ipv6: Some("2600:1f14:aa:1::10".into()),
                }]
            },
            reason: "InvalidSpec",
            message: invalid(&format!(
                "{} ({SUBNET_PRIVATE_A} gives ipv6 only, spec.ipAddressType is absent)",
                crate::api::SUBNET_CONFIGURATION_FAMILIES_MESSAGE
            )),
            ..Row::default()
        },
        Row {
            name: "a fixed address another interface has",
            spec: |s| {
                s.subnet_configurations = vec![crate::api::SubnetConfiguration {
                    subnet_id: SUBNET_PRIVATE_A.into(),
                    ipv4: Some("10.0.10.23".into()),
                    ipv6: None,
                }]
            },
            reason: "InvalidSpec",
            message: invalid(&format!(
                "spec.subnetConfigurations: 10.0.10.23 for subnet {SUBNET_PRIVATE_A} is in use by {} \
                 (primary private IPv4); EC2 would refuse the endpoint",
                incident::ENI_ZABBIX
            )),
            ..Row::default()
        },
        Row {
            name: "a fixed address outside its subnet",
            spec: |s| {
                s.subnet_configurations = vec![crate::api::SubnetConfiguration {
                    subnet_id: SUBNET_PRIVATE_A.into(),
                    ipv4: Some("10.0.11.10".into()),
                    ipv6: None,
                }]
            },
            reason: "InvalidSpec",
            message: invalid(&format!(
                "spec.subnetConfigurations: 10.0.11.10 for subnet {SUBNET_PRIVATE_A} is not inside its \
                 CIDR block 10.0.10.0/24; EC2 would refuse the endpoint"
            )),
            ..Row::default()
        },
        Row {
            name: "a fixed address AWS reserves",
            spec: |s| {
                s.subnet_configurations = vec![crate::api::SubnetConfiguration {
                    subnet_id: SUBNET_PRIVATE_A.into(),
                    ipv4: Some("10.0.10.2".into()),
                    ipv6: None,
                }]
            },
            reason: "InvalidSpec",
            message: invalid(&format!(
                "spec.subnetConfigurations: 10.0.10.2 for subnet {SUBNET_PRIVATE_A} is one of the five \
                 addresses AWS reserves in 10.0.10.0/24 (the first four and the last); EC2 would refuse the \
                 endpoint"
            )),
            ..Row::default()
        },
        Row {
            name: "a dual-stack endpoint in subnets without an IPv6 CIDR",
            spec: |s| s.ip_address_type = Some(crate::api::IpAddressType::Dualstack),
            reason: "InvalidSpec",
            message: invalid(&format!(
                "spec.ipAddressType dualstack: subnet {SUBNET_PRIVATE_A} has no IPv6 CIDR block; EC2 \
                 gives dualstack endpoint interfaces only in subnets with both an IPv4 and an IPv6 CIDR \
                 block"
            )),
            ..Row::default()
        },
        Row {
            name: "an unknown service",
            spec: |s| s.service_name = "com.amazonaws.ap-northeast-1.nothing".into(),
            reason: "InvalidRequest",
            message: "EC2 rejected DescribeVpcEndpointServices failed (InvalidServiceName): The Vpc \
                      Endpoint Service 'com.amazonaws.ap-northeast-1.nothing' does not exist"
                .into(),
            ..Row::default()
        },
        Row {
            name: "a service without a private DNS name",
            world: |w| {
                let service = w
                    .service_details
                    .iter_mut()
                    .find(|s| s.service_name == SERVICE)
                    .unwrap();
                service.private_dns_name = None;
                service.private_dns_names.clear();
            },
            reason: "NoPrivateDnsName",
            message: format!(
                "Not creating an endpoint: Service {SERVICE} offers no private DNS name; set \
                 spec.privateDns.enabled: false"
            ),
            ..Row::default()
        },
        Row {
            name: "enableDnsSupport off",
            world: |w| {
                w.vpc_attributes.get_mut(VPC).unwrap().enable_dns_support = Some(AttributeBoolean(false))
            },
            reason: "VpcDnsSupportDisabled",
            message: format!(
                "Not creating an endpoint: VPC {VPC} has enableDnsSupport off; private DNS needs it \
                 on (aws ec2 modify-vpc-attribute --vpc-id {VPC} --enable-dns-support)"
            ),
            ..Row::default()
        },
        Row {
            name: "enableDnsHostnames off",
            world: |w| {
                w.vpc_attributes.get_mut(VPC).unwrap().enable_dns_hostnames = Some(AttributeBoolean(false))
            },
            reason: "VpcDnsHostnamesDisabled",
            message: format!(
                "Not creating an endpoint: VPC {VPC} has enableDnsHostnames off; private DNS needs \
                 it on (aws ec2 modify-vpc-attribute --vpc-id {VPC} --enable-dns-hostnames)"
            ),
            ..Row::default()
        },
        Row {
            name: "another team's endpoint serves the private DNS name",
            world: |w| {
                w.vpc_endpoints.push(crate::model::VpcEndpoint {
                    vpc_endpoint_id: OTHER_ENDPOINT.into(),
                    vpc_endpoint_type: Some("Interface".into()),
                    vpc_id: VPC.into(),
                    service_name: SERVICE.into(),
                    state: Some("available".into()),
                    subnet_ids: vec![SUBNET_PUBLIC.into()],
                    private_dns_enabled: true,
                    tags: tags_from([(crate::api::OWNER_TAG, "payments/logs")]),
                    ..Default::default()
                })
            },
            reason: "ConflictingPrivateDns",
            message: format!(
                "Not creating an endpoint: Endpoint {OTHER_ENDPOINT} (managed by the \
                 InterfaceEndpoint payments/logs by its vpce-rollout.dev/owner tag) already serves \
                 the private DNS name {PRIVATE_DNS_NAME} in {VPC}, and a VPC resolves it to one \
                 endpoint only. Ask its owner to disable private DNS on it (aws ec2 \
                 modify-vpc-endpoint --vpc-endpoint-id {OTHER_ENDPOINT} --no-private-dns-enabled), \
                 or set spec.privateDns.enabled: false here"
            ),
            ..Row::default()
        },
        Row {
            name: "an approval id that was never issued",
            spec: |s| {
                s.remediation.endpoint_ingress = RemediationMode::Approval;
                s.approval = Some(Approval {
                    plan_id: "0123456789".into(),
                });
            },
            phase: RolloutPhase::AwaitingApproval,
            reason: "UnknownPlanId",
            message: format!(
                "Private DNS stays off: 1 of 2 clients cannot reach the endpoint on tcp/443 \
                 ({} [{}] EndpointIngress); spec.approval.planId 0123456789 is not a plan id this \
                 object reported; the current plan is 0a00abfbdb (1 rule)",
                incident::ENI_ZABBIX,
                incident::SG_ZABBIX
            ),
            allowed: &[Ec2Operation::CreateVpcEndpoint],
            ..Row::default()
        },
        Row {
            name: "the security-group rule quota reached",
            // The endpoint group holds one ingress rule (the Lambda's); a quota of one leaves
            // no room for the Zabbix agent's.
            config: |c| SimConfig {
                rules_per_group: 1,
                ..c
            },
            reason: "PreconditionFailed",
            message: "EC2 refused AuthorizeSecurityGroupIngress failed \
                      (RulesPerSecurityGroupLimitExceeded): The maximum number of rules per \
                      security group has been reached."
                .into(),
            allowed: &[Ec2Operation::CreateVpcEndpoint],
            ..Row::default()
        },
        Row {
            name: "AccessDenied on DescribeVpcEndpoints",
            sim: |sim| denied(sim, Ec2Operation::DescribeVpcEndpoints),
            reason: "AccessDenied",
            message: denied_message(Ec2Operation::DescribeVpcEndpoints),
            ..Row::default()
        },
        Row {
            name: "AccessDenied on CreateVpcEndpoint",
            sim: |sim| denied(sim, Ec2Operation::CreateVpcEndpoint),
            reason: "AccessDenied",
            message: denied_message(Ec2Operation::CreateVpcEndpoint),
            ..Row::default()
        },
        Row {
            name: "AccessDenied on AuthorizeSecurityGroupIngress",
            sim: |sim| denied(sim, Ec2Operation::AuthorizeSecurityGroupIngress),
            reason: "AccessDenied",
            message: denied_message(Ec2Operation::AuthorizeSecurityGroupIngress),
            allowed: &[Ec2Operation::CreateVpcEndpoint],
            ..Row::default()
        },
        Row {
            name: "AccessDenied on AuthorizeSecurityGroupEgress",
            spec: |s| s.remediation.client_egress = RemediationMode::Auto,
            world: |w| {
                // The Zabbix agent's group allows no egress: the plan adds an egress rule.
                let zabbix = w
                    .security_groups
                    .iter_mut()
                    .find(|g| g.group_id == incident::SG_ZABBIX)
                    .unwrap();
                zabbix.ip_permissions_egress.clear();
            },
            sim: |sim| denied(sim, Ec2Operation::AuthorizeSecurityGroupEgress),
            reason: "AccessDenied",
            message: denied_message(Ec2Operation::AuthorizeSecurityGroupEgress),
            allowed: &[
                Ec2Operation::CreateVpcEndpoint,
                Ec2Operation::AuthorizeSecurityGroupIngress,
            ],
            ..Row::default()
        },
        Row {
            name: "AccessDenied on ModifyVpcEndpoint",
            sim: |sim| denied(sim, Ec2Operation::ModifyVpcEndpoint),
            reason: "AccessDenied",
            message: denied_message(Ec2Operation::ModifyVpcEndpoint),
            allowed: &[
                Ec2Operation::CreateVpcEndpoint,
                Ec2Operation::AuthorizeSecurityGroupIngress,
            ],
            ..Row::default()
        },
        Row {
            name: "spec.vpcId edited after creation",
            after_ready: Some(|s| s.vpc_id = OTHER_VPC.into()),
            reason: "InvalidSpec",
            message: moved("spec.vpcId", OTHER_VPC, VPC),
            ..Row::default()
        },
        Row {
            name: "spec.serviceName edited after creation",
            after_ready: Some(|s| s.service_name = "com.amazonaws.ap-northeast-1.sts".into()),
            reason: "InvalidSpec",
            message: moved("spec.serviceName", "com.amazonaws.ap-northeast-1.sts", SERVICE),
            ..Row::default()
        },
        Row {
            name: "spec.region edited after creation",
            after_ready: Some(|s| s.region = Some("eu-west-1".into())),
            reason: "InvalidSpec",
            message: moved("spec.region", "eu-west-1", incident::REGION),
            ..Row::default()
        },
    ]
}

#[tokio::test]
async fn each_bad_input_has_its_reason_and_message_and_changes_nothing() {
    let mut wrong = Vec::new();
    let rows = rows();
    for row in &rows {
        let run = run(row).await;
        wrong.extend(check(row, &run));
    }
    assert!(
        wrong.is_empty(),
        "{} of {} rows:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );
}
