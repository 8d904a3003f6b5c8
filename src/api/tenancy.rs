//! What a platform team writes to bound what each namespace can make the controller do:
//! [`EndpointGrant`] (which namespaces may roll out which endpoints, where, with which groups,
//! how far the controller may remediate by itself, in which AWS account) and [`PlanApproval`]
//! (a plan approved by the platform, for grants with `approvedBy: Platform`).
//!
//! Both are cluster-scoped, so that the RBAC of a namespace cannot create them. The decision
//! they feed is [`crate::grants`]; docs/tenancy.md is the reference for users.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::RemediationSpec;

/// What one grant lets the namespaces it covers make the controller do. Deny by default: an
/// InterfaceEndpoint is acted on only when one grant covers its namespace and admits everything
/// its spec names; grants are never merged.
//
// clippy reads the repeated `type_ = "string"` of separate printcolumns as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, JsonSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "vpce-rollout.dev",
    version = "v1alpha1",
    kind = "EndpointGrant",
    plural = "endpointgrants",
    singular = "endpointgrant",
    shortname = "vpcegrant",
    derive = "PartialEq",
    doc = "What the namespaces it covers may make vpce-rollout do: which VPCs, regions, services and security groups their InterfaceEndpoints may name, how far the controller may remediate by itself, who approves plans, and in which AWS account it acts.",
    printcolumn(name = "Namespaces", type_ = "string", json_path = ".spec.namespaces"),
    printcolumn(
        name = "Selector",
        type_ = "string",
        description = "namespaceSelector: namespaces covered by their labels ({} covers every namespace)",
        json_path = ".spec.namespaceSelector"
    ),
    printcolumn(name = "VPCs", type_ = "string", json_path = ".spec.vpcIds"),
    printcolumn(
        name = "Account",
        type_ = "string",
        description = "The role assumed in the target account; empty: the controller's own identity",
        json_path = ".spec.aws.roleArn"
    ),
    printcolumn(name = "Approved By", type_ = "string", json_path = ".spec.approvedBy"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct EndpointGrantSpec {
    /// Namespaces the grant covers, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")))]
    pub namespaces: Vec<String>,

    /// Namespaces the grant covers, by their labels (in addition to `namespaces`). An empty
    /// selector (`{}`) covers every namespace: one such grant makes a single-team cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,

    /// Regions the endpoints may be in; `*` for any. Empty: the controller's region only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^(\*|[a-z]{2}(-[a-z]+)+-[0-9]+)$")))]
    pub regions: Vec<String>,

    /// VPCs the endpoints may be in; `*` for any.
    #[schemars(length(min = 1), inner(pattern(r"^(\*|vpc-[0-9a-f]{8,17})$")))]
    pub vpc_ids: Vec<String>,

    /// Services the endpoints may be for, as globs (`*` matches any characters):
    /// `com.amazonaws.*.logs`, `com.amazonaws.vpce.ap-northeast-1.vpce-svc-0abc*`.
    #[schemars(
        length(min = 1),
        inner(length(min = 1, max = 255), pattern(r"^[a-z0-9.\-*]+$"))
    )]
    pub service_names: Vec<String>,

    /// Security groups the endpoints may carry (`spec.securityGroupIds`), and so get ingress
    /// rules added to them; `*` for any.
    #[schemars(length(min = 1), inner(pattern(r"^(\*|sg-[0-9a-f]{8,17})$")))]
    pub endpoint_security_group_ids: Vec<String>,

    /// Client security groups the controller may add egress rules to; `*` for any. Empty: none.
    /// A blocked client that carries none of them is reported as not fixable ("not granted").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^(\*|sg-[0-9a-f]{8,17})$")))]
    pub client_security_group_ids: Vec<String>,

    /// Ceilings of `spec.remediation` (Auto > Approval > Off): the controller uses the lower of
    /// the spec's mode and the ceiling. Default: endpointIngress Auto, clientEgress Approval.
    #[serde(default)]
    pub max_remediation: RemediationSpec,

    /// Whether `spec.privateDns.force` may be used (enabling private DNS while clients are
    /// blocked). An object that sets it under a grant that does not allow it is not acted on.
    #[serde(default)]
    pub allow_force: bool,

    /// Whether `spec.adopt` may be used (taking over an endpoint the controller did not create,
    /// which `deletionPolicy: Delete` then deletes). An object that sets it under a grant that
    /// does not allow it is not acted on.
    #[serde(default)]
    pub allow_adopt: bool,

    /// Who approves remediation plans: the namespace (`spec.approval`), or the platform (a
    /// cluster-scoped PlanApproval; `spec.approval` is then ignored).
    #[serde(default)]
    pub approved_by: ApprovedBy,

    /// Act in another AWS account: the controller assumes this role for every call of the
    /// objects the grant admits. Absent: the controller's own identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<GrantAws>,
}

impl EndpointGrantSpec {
    /// The grant of a single-team cluster: every namespace (an empty `namespaceSelector`),
    /// anything the spec names (`*`), every remediation mode, `force` and `adopt` allowed, plans
    /// approved by the namespace, the controller's own account: the controller as it was before
    /// grants existed. The chart's `singleTeamGrant` value creates it.
    pub fn single_team() -> Self {
        let any = || vec!["*".to_string()];
        Self {
            namespaces: Vec::new(),
            namespace_selector: Some(LabelSelector::default()),
            regions: any(),
            vpc_ids: any(),
            service_names: any(),
            endpoint_security_group_ids: any(),
            client_security_group_ids: any(),
            max_remediation: RemediationSpec {
                endpoint_ingress: super::RemediationMode::Auto,
                client_egress: super::RemediationMode::Auto,
            },
            allow_force: true,
            allow_adopt: true,
            approved_by: ApprovedBy::Namespace,
            aws: None,
        }
    }
}

/// Who approves the remediation plans of the objects a grant admits.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ApprovedBy {
    /// The namespace: `spec.approval.planId` of the InterfaceEndpoint.
    #[default]
    Namespace,
    /// The platform: a PlanApproval naming the object and the plan id.
    Platform,
}

impl ApprovedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Namespace => "Namespace",
            Self::Platform => "Platform",
        }
    }
}

/// The AWS account a grant acts in.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantAws {
    /// The IAM role to assume (STS AssumeRole), e.g. `arn:aws:iam::111122223333:role/vpce-rollout`.
    #[schemars(
        length(max = 2048),
        pattern(r"^arn:aws[a-z\-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/\-]+$")
    )]
    pub role_arn: String,
    /// The external id the role's trust policy requires, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224), pattern(r"^[A-Za-z0-9+=,.@:/_\-]+$"))]
    pub external_id: Option<String>,
}

impl GrantAws {
    /// The account id in the role's ARN.
    pub fn account_id(&self) -> Option<&str> {
        account_of_role(&self.role_arn)
    }
}

/// The account id in a role ARN (`arn:aws:iam::<account>:role/<name>`).
pub fn account_of_role(role_arn: &str) -> Option<&str> {
    let account = role_arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// A remediation plan approved by the platform, for objects admitted by a grant with
/// `approvedBy: Platform`. Cluster-scoped, so that a namespace's RBAC cannot approve its own
/// plans; GitOps: the platform repository commits it.
//
// clippy reads the repeated `type_ = "string"` of separate printcolumns as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, JsonSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "vpce-rollout.dev",
    version = "v1alpha1",
    kind = "PlanApproval",
    plural = "planapprovals",
    singular = "planapproval",
    derive = "PartialEq",
    doc = "Approval by the platform of one remediation plan of one InterfaceEndpoint (for grants with approvedBy: Platform).",
    printcolumn(name = "Namespace", type_ = "string", json_path = ".spec.namespace"),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".spec.name"),
    printcolumn(name = "Plan", type_ = "string", json_path = ".spec.planId"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct PlanApprovalSpec {
    /// The InterfaceEndpoint's namespace.
    #[schemars(pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub namespace: String,
    /// The InterfaceEndpoint's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The `status.plan.id` being approved.
    #[schemars(pattern(r"^[0-9a-f]{6,64}$"))]
    pub plan_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_defaults_deny_what_is_not_named() {
        let spec: EndpointGrantSpec = serde_json::from_value(serde_json::json!({
            "namespaces": ["team-a"],
            "vpcIds": ["vpc-0123456789abcdef0"],
            "serviceNames": ["com.amazonaws.*.logs"],
            "endpointSecurityGroupIds": ["sg-01234567"],
        }))
        .unwrap();
        assert!(
            spec.client_security_group_ids.is_empty(),
            "no client group by default"
        );
        assert!(!spec.allow_force && !spec.allow_adopt);
        assert_eq!(spec.approved_by, ApprovedBy::Namespace);
        assert_eq!(spec.max_remediation, RemediationSpec::default());
        assert!(spec.aws.is_none() && spec.namespace_selector.is_none() && spec.regions.is_empty());
    }

    #[test]
    fn the_account_is_read_from_the_role_arn() {
        assert_eq!(
            account_of_role("arn:aws:iam::111122223333:role/vpce-rollout"),
            Some("111122223333")
        );
        assert_eq!(
            account_of_role("arn:aws-cn:iam::111122223333:role/path/x"),
            Some("111122223333")
        );
        assert_eq!(account_of_role("arn:aws:iam::1111:role/x"), None);
        assert_eq!(account_of_role("not an arn"), None);
    }
}
