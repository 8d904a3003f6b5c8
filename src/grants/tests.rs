use std::collections::BTreeMap;

use super::*;
use crate::api::{InterfaceEndpointSpec, InterfaceEndpointStatus};

const NS: &str = "team-a";
const VPC: &str = "vpc-0a1b2c3d4e5f60718";
const OTHER_VPC: &str = "vpc-0ffffffffffffffff";
const SG_VPCE: &str = "sg-0eeeeeeeeeeeeeee1";
const SG_OTHER: &str = "sg-0ddddddddddddddd1";
const SG_CLIENT: &str = "sg-0bbbbbbbbbbbbbbb1";
const ROLE: &str = "arn:aws:iam::111122223333:role/vpce-rollout";

fn spec(extra: serde_json::Value) -> InterfaceEndpointSpec {
    let mut base = serde_json::json!({
        "vpcId": VPC,
        "serviceName": "com.amazonaws.ap-northeast-1.logs",
        "subnetIds": ["subnet-02222222222222222"],
        "securityGroupIds": [SG_VPCE],
    });
    base.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(base).unwrap()
}

fn grant(extra: serde_json::Value) -> EndpointGrantSpec {
    let mut base = serde_json::json!({
        "namespaces": [NS],
        "vpcIds": [VPC],
        "serviceNames": ["com.amazonaws.*.logs"],
        "endpointSecurityGroupIds": [SG_VPCE],
        "clientSecurityGroupIds": [SG_CLIENT],
    });
    base.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(base).unwrap()
}

struct Case {
    namespace: &'static str,
    labels: BTreeMap<String, String>,
    spec: InterfaceEndpointSpec,
    status: InterfaceEndpointStatus,
    controller_region: Option<&'static str>,
}

impl Case {
    fn new(spec: InterfaceEndpointSpec) -> Self {
        Self {
            namespace: NS,
            labels: BTreeMap::new(),
            spec,
            status: InterfaceEndpointStatus::default(),
            controller_region: Some("ap-northeast-1"),
        }
    }

    fn decide(&self, grants: &[(&str, &EndpointGrantSpec)], approvals: &[&PlanApprovalSpec]) -> Verdict {
        let subject = Subject {
            namespace: self.namespace,
            name: "logs",
            namespace_labels: &self.labels,
            spec: &self.spec,
            status: &self.status,
            controller_region: self.controller_region,
        };
        let grants: Vec<Grant<'_>> = grants.iter().map(|(name, spec)| Grant { name, spec }).collect();
        decide(&subject, &grants, approvals)
    }
}

fn admitted(verdict: Verdict) -> Admission {
    match verdict {
        Verdict::Admitted(a) => a,
        Verdict::Forbidden(r) => panic!("expected an admission, got {}", r.message()),
    }
}

/// The one grant's refusal: (field, value).
fn refused(verdict: Verdict) -> (String, String) {
    match verdict {
        Verdict::Forbidden(Refusal::OutsideGrant { refused }) => {
            assert_eq!(refused.len(), 1, "{refused:?}");
            (refused[0].field.to_string(), refused[0].value.clone())
        }
        other => panic!("expected OutsideGrant, got {other:?}"),
    }
}

#[test]
fn an_object_no_grant_covers_is_refused_with_no_grant() {
    let g = grant(serde_json::json!({"namespaces": ["team-b"]}));
    let verdict = Case::new(spec(serde_json::json!({}))).decide(&[("team-b", &g)], &[]);
    let Verdict::Forbidden(refusal) = &verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(refusal.reason(), ConditionReason::NoGrant);
    assert!(
        refusal
            .message()
            .starts_with("No EndpointGrant covers namespace team-a")
    );
    let condition = verdict.condition();
    assert_eq!(
        (condition.type_, condition.status),
        (ConditionType::Granted, false)
    );
    assert_eq!(
        Case::new(spec(serde_json::json!({}))).decide(&[], &[]),
        Verdict::Forbidden(Refusal::NoGrant { namespace: NS.into() })
    );
}

#[test]
fn a_grant_covers_namespaces_by_name_or_by_labels_and_an_empty_selector_covers_all() {
    let by_label =
        grant(serde_json::json!({"namespaces": [], "namespaceSelector": {"matchLabels": {"team": "a"}}}));
    let mut case = Case::new(spec(serde_json::json!({})));
    assert!(matches!(
        case.decide(&[("g", &by_label)], &[]),
        Verdict::Forbidden(Refusal::NoGrant { .. })
    ));
    case.labels.insert("team".into(), "a".into());
    admitted(case.decide(&[("g", &by_label)], &[]));

    let everything = grant(serde_json::json!({"namespaces": [], "namespaceSelector": {}}));
    let mut elsewhere = Case::new(spec(serde_json::json!({})));
    elsewhere.namespace = "anything";
    admitted(elsewhere.decide(&[("single-team", &everything)], &[]));

    let expressions = grant(serde_json::json!({"namespaces": [], "namespaceSelector": {
        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["prod"]}]}}));
    case.labels.insert("tier".into(), "prod".into());
    assert!(matches!(
        case.decide(&[("g", &expressions)], &[]),
        Verdict::Forbidden(Refusal::NoGrant { .. })
    ));

    let broken = grant(serde_json::json!({"namespaces": [], "namespaceSelector": {
        "matchExpressions": [{"key": "tier", "operator": "Near", "values": ["prod"]}]}}));
    assert!(
        matches!(
            case.decide(&[("g", &broken)], &[]),
            Verdict::Forbidden(Refusal::NoGrant { .. })
        ),
        "a selector that does not parse covers nothing"
    );
}

#[test]
fn regions_default_to_the_controllers_own() {
    let g = grant(serde_json::json!({}));
    admitted(Case::new(spec(serde_json::json!({}))).decide(&[("g", &g)], &[]));
    admitted(Case::new(spec(serde_json::json!({"region": "ap-northeast-1"}))).decide(&[("g", &g)], &[]));
    assert_eq!(
        refused(Case::new(spec(serde_json::json!({"region": "eu-west-1"}))).decide(&[("g", &g)], &[])),
        ("spec.region".to_string(), "eu-west-1".to_string())
    );
    let mut unknown_home = Case::new(spec(serde_json::json!({"region": "ap-northeast-1"})));
    unknown_home.controller_region = None;
    assert_eq!(refused(unknown_home.decide(&[("g", &g)], &[])).0, "spec.region");

    let listed = grant(serde_json::json!({"regions": ["eu-west-1"]}));
    admitted(Case::new(spec(serde_json::json!({"region": "eu-west-1"}))).decide(&[("g", &listed)], &[]));
    assert_eq!(
        refused(Case::new(spec(serde_json::json!({}))).decide(&[("g", &listed)], &[])).0,
        "spec.region",
        "listing regions leaves out the controller's unless it is listed"
    );
    let any = grant(serde_json::json!({"regions": ["*"]}));
    admitted(Case::new(spec(serde_json::json!({"region": "sa-east-1"}))).decide(&[("g", &any)], &[]));
}

#[test]
fn every_field_outside_the_grant_is_named_with_its_value() {
    let g = grant(serde_json::json!({}));
    let cases = [
        (serde_json::json!({"vpcId": OTHER_VPC}), "spec.vpcId", OTHER_VPC),
        (
            serde_json::json!({"serviceName": "com.amazonaws.ap-northeast-1.ssm"}),
            "spec.serviceName",
            "com.amazonaws.ap-northeast-1.ssm",
        ),
        (
            serde_json::json!({"securityGroupIds": [SG_VPCE, SG_OTHER]}),
            "spec.securityGroupIds",
            SG_OTHER,
        ),
        (
            serde_json::json!({"privateDns": {"enabled": true, "force": true}}),
            "spec.privateDns.force",
            "true",
        ),
        (
            serde_json::json!({"adopt": {"vpcEndpointId": "vpce-0123456789abcdef0"}}),
            "spec.adopt.vpcEndpointId",
            "vpce-0123456789abcdef0",
        ),
    ];
    for (extra, field, value) in cases {
        let verdict = Case::new(spec(extra.clone())).decide(&[("team-a-logs", &g)], &[]);
        let Verdict::Forbidden(refusal) = &verdict else {
            panic!("{extra}: {verdict:?}")
        };
        assert_eq!(refusal.reason(), ConditionReason::OutsideGrant, "{extra}");
        let message = refusal.message();
        assert!(
            message.starts_with(&format!(
                "EndpointGrant team-a-logs does not admit {field} {value} ("
            )),
            "{message}"
        );
        assert_eq!(refused(verdict), (field.to_string(), value.to_string()));
    }
    let adopting = grant(serde_json::json!({"allowAdopt": true}));
    admitted(
        Case::new(spec(
            serde_json::json!({"adopt": {"vpcEndpointId": "vpce-0123456789abcdef0"}}),
        ))
        .decide(&[("g", &adopting)], &[]),
    );
    let forcing = grant(serde_json::json!({"allowForce": true}));
    admitted(
        Case::new(spec(
            serde_json::json!({"privateDns": {"enabled": true, "force": true}}),
        ))
        .decide(&[("g", &forcing)], &[]),
    );
    let wide =
        grant(serde_json::json!({"vpcIds": ["*"], "endpointSecurityGroupIds": ["*"], "serviceNames": ["*"]}));
    admitted(
        Case::new(spec(
            serde_json::json!({"vpcId": OTHER_VPC, "securityGroupIds": [SG_OTHER],
            "serviceName": "com.amazonaws.ap-northeast-1.ssm"}),
        ))
        .decide(&[("g", &wide)], &[]),
    );
}

#[test]
fn grants_are_not_merged_one_must_admit_the_whole_object() {
    // One grant admits the VPC but not the service, the other the service but not the VPC.
    let vpc_only = grant(serde_json::json!({"serviceNames": ["com.amazonaws.*.ssm"]}));
    let service_only = grant(serde_json::json!({"vpcIds": [OTHER_VPC], "serviceNames": ["*"]}));
    let verdict = Case::new(spec(serde_json::json!({})))
        .decide(&[("b-ssm", &vpc_only), ("a-other-vpc", &service_only)], &[]);
    let Verdict::Forbidden(Refusal::OutsideGrant { refused }) = &verdict else {
        panic!("{verdict:?}")
    };
    let named: Vec<(&str, &str)> = refused.iter().map(|r| (r.grant.as_str(), r.field)).collect();
    assert_eq!(
        named,
        [("a-other-vpc", "spec.vpcId"), ("b-ssm", "spec.serviceName")]
    );
    let message = Verdict::Forbidden(Refusal::OutsideGrant {
        refused: refused.clone(),
    })
    .condition()
    .message;
    assert!(
        message.contains("EndpointGrant a-other-vpc does not admit spec.vpcId"),
        "{message}"
    );
    assert!(
        message.contains("EndpointGrant b-ssm does not admit spec.serviceName"),
        "{message}"
    );

    // A third grant that admits everything wins, whatever its name.
    let whole = grant(serde_json::json!({}));
    let admission = admitted(Case::new(spec(serde_json::json!({}))).decide(
        &[
            ("b-ssm", &vpc_only),
            ("z-whole", &whole),
            ("a-other-vpc", &service_only),
        ],
        &[],
    ));
    assert_eq!(admission.grant, "z-whole");
}

#[test]
fn the_remediation_used_is_the_lower_of_the_spec_and_the_ceiling() {
    use RemediationMode::*;
    assert_eq!(lower(Auto, Approval), Approval);
    assert_eq!(lower(Approval, Auto), Approval);
    assert_eq!(lower(Auto, Off), Off);
    assert_eq!(lower(Off, Auto), Off);
    assert_eq!(lower(Auto, Auto), Auto);

    let g =
        grant(serde_json::json!({"maxRemediation": {"endpointIngress": "Approval", "clientEgress": "Off"}}));
    let asked = spec(serde_json::json!({"remediation": {"endpointIngress": "Auto", "clientEgress": "Auto"}}));
    let admission = admitted(Case::new(asked.clone()).decide(&[("g", &g)], &[]));
    assert_eq!(admission.remediation.endpoint_ingress, Approval);
    assert_eq!(admission.remediation.client_egress, Off);
    assert_eq!(admission.lowered.len(), 2);
    let message = admission.message();
    assert!(
        message
            .contains("spec.remediation.endpointIngress Auto is above the grant's ceiling: Approval is used"),
        "{message}"
    );
    assert!(message.contains("spec.remediation.clientEgress Auto is above the grant's ceiling: Off is used"));
    let effective = admission.effective_spec(&asked, &[]);
    assert_eq!(effective.remediation, admission.remediation);

    // A spec below the ceiling keeps its own mode.
    let low =
        spec(serde_json::json!({"remediation": {"endpointIngress": "Off", "clientEgress": "Approval"}}));
    let admission = admitted(Case::new(low).decide(&[("g", &g)], &[]));
    assert_eq!(admission.remediation.endpoint_ingress, Off);
    assert_eq!(admission.remediation.client_egress, Off);
    assert_eq!(admission.lowered.len(), 1);
}

#[test]
fn only_the_granted_client_groups_may_get_egress_rules() {
    let admission =
        admitted(Case::new(spec(serde_json::json!({}))).decide(&[("g", &grant(serde_json::json!({})))], &[]));
    assert!(admission.client_groups.allows(SG_CLIENT));
    assert!(!admission.client_groups.allows(SG_OTHER));
    let none = grant(serde_json::json!({"clientSecurityGroupIds": []}));
    let admission = admitted(Case::new(spec(serde_json::json!({}))).decide(&[("g", &none)], &[]));
    assert!(
        !admission.client_groups.allows(SG_CLIENT),
        "empty: no client group"
    );
    let any = grant(serde_json::json!({"clientSecurityGroupIds": ["*"]}));
    let admission = admitted(Case::new(spec(serde_json::json!({}))).decide(&[("g", &any)], &[]));
    assert_eq!(admission.client_groups, GrantedGroups::Any);
}

#[test]
fn under_platform_approval_the_namespaces_approval_is_replaced_by_the_platforms() {
    let g = grant(serde_json::json!({"approvedBy": "Platform"}));
    let asked = spec(serde_json::json!({"approval": {"planId": "aaaaaaaaaa"}}));
    let mine = PlanApprovalSpec {
        namespace: NS.into(),
        name: "logs".into(),
        plan_id: "bbbbbbbbbb".into(),
    };
    let older = PlanApprovalSpec {
        namespace: NS.into(),
        name: "logs".into(),
        plan_id: "0000000000".into(),
    };
    let other_object = PlanApprovalSpec {
        namespace: NS.into(),
        name: "ssm".into(),
        plan_id: "cccccccccc".into(),
    };
    let other_namespace = PlanApprovalSpec {
        namespace: "team-b".into(),
        name: "logs".into(),
        plan_id: "dddddddddd".into(),
    };

    let admission = admitted(Case::new(asked.clone()).decide(&[("g", &g)], &[]));
    assert_eq!(
        admission.effective_spec(&asked, &["aaaaaaaaaa"]).approval,
        None,
        "the tenant's approval is ignored"
    );
    assert!(admission.message().contains("spec.approval is ignored"));

    let admission = admitted(
        Case::new(asked.clone()).decide(&[("g", &g)], &[&other_object, &mine, &other_namespace, &older]),
    );
    assert_eq!(admission.platform_approvals, ["0000000000", "bbbbbbbbbb"]);
    let approval = |current: &[&str]| {
        admission
            .effective_spec(&asked, current)
            .approval
            .map(|a| a.plan_id)
    };
    assert_eq!(
        approval(&["bbbbbbbbbb"]).as_deref(),
        Some("bbbbbbbbbb"),
        "the approval of the current plan"
    );
    assert_eq!(
        approval(&["eeeeeeeeee"]).as_deref(),
        Some("0000000000"),
        "none matches: one stands in, to be reported as an earlier or unknown plan"
    );

    let namespace = grant(serde_json::json!({}));
    let admission = admitted(Case::new(asked.clone()).decide(&[("g", &namespace)], &[&mine]));
    assert!(
        admission.platform_approvals.is_empty(),
        "PlanApprovals count only under approvedBy: Platform"
    );
    assert_eq!(admission.effective_spec(&asked, &[]).approval, asked.approval);
}

#[test]
fn once_the_endpoint_exists_the_grant_must_act_in_its_account() {
    let in_account = grant(serde_json::json!({"aws": {"roleArn": ROLE, "externalId": "platform-42"}}));
    let own = grant(serde_json::json!({}));
    let mut case = Case::new(spec(serde_json::json!({})));
    // Before the endpoint exists, any account the grant names is where it will be created.
    let admission = admitted(case.decide(&[("g", &in_account)], &[]));
    assert_eq!(admission.aws.as_ref().map(|a| a.role_arn.as_str()), Some(ROLE));
    assert!(
        admission
            .message()
            .contains("in account 111122223333 through role"),
        "{}",
        admission.message()
    );

    case.status.endpoint_vpc_id = Some(VPC.into());
    case.status.endpoint_role_arn = Some(ROLE.into());
    admitted(case.decide(&[("g", &in_account)], &[]));
    let (field, value) = refused(case.decide(&[("g", &own)], &[]));
    assert_eq!((field.as_str(), value.as_str()), ("status.endpointRoleArn", ROLE));

    // An endpoint created with the controller's own identity (also: before grants existed).
    case.status.endpoint_role_arn = None;
    admitted(case.decide(&[("g", &own)], &[]));
    assert_eq!(
        refused(case.decide(&[("g", &in_account)], &[])).0,
        "status.endpointRoleArn"
    );
}

#[test]
fn where_the_endpoint_was_created_is_what_the_grant_must_admit() {
    // The spec was edited to a granted VPC; the endpoint lives in one the grant no longer names.
    let g = grant(serde_json::json!({"vpcIds": [OTHER_VPC]}));
    let mut case = Case::new(spec(serde_json::json!({"vpcId": OTHER_VPC})));
    case.status.endpoint_vpc_id = Some(VPC.into());
    case.status.endpoint_service_name = Some("com.amazonaws.ap-northeast-1.logs".into());
    assert_eq!(
        refused(case.decide(&[("g", &g)], &[])),
        ("spec.vpcId".to_string(), VPC.to_string())
    );
}
