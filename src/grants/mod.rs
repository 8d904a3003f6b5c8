//! Tenancy, decided: which [`EndpointGrant`](crate::api::EndpointGrant) admits an
//! InterfaceEndpoint, and what the controller may then do for it. Pure: (the object, the grants,
//! the namespace's labels, the platform's approvals) → [`Verdict`].
//!
//! Deny by default. An object is acted on only when one grant covers its namespace (by name or
//! by `namespaceSelector`) and admits everything its spec names: the region, the VPC, the
//! service, every endpoint security group, `privateDns.force`, `adopt`, and, once the endpoint
//! exists, the account it lives in. Grants are never merged. Otherwise the verdict is
//! [`Refusal::NoGrant`] (no grant covers the namespace) or [`Refusal::OutsideGrant`] (naming the
//! field and value each covering grant refuses), and the controller makes no AWS call for the
//! object at all.
//!
//! An admitted object gets an [`Admission`]: the remediation modes actually used (the lower of
//! the spec's and the grant's ceiling), the endpoint and client groups the controller may add
//! rules to, who approves plans, and the account to act in. The engine honours it; deletion does not ask
//! (what the object owns is always cleaned up, where it was created).
//!
//! Where the object acts is where its endpoint was created ([`crate::plan::location`]), the
//! spec's before that: an edited spec is checked, and reported, by the rollout itself.

mod glob;

use std::collections::{BTreeMap, BTreeSet};

use kube::core::{Selector, SelectorExt};

use crate::api::conditions::{ConditionReason, ConditionType, ConditionUpdate};
use crate::api::{
    Approval, ApprovedBy, EndpointGrantSpec, GrantAws, InterfaceEndpointSpec, InterfaceEndpointStatus,
    PlanApprovalSpec, RemediationMode, RemediationSpec,
};
use crate::plan::location;
use crate::plan::tenancy::ActingAs;

pub use glob::glob_matches;

/// The value that stands for "any" in a grant's lists.
pub const ANY: &str = "*";

/// One grant, by name.
#[derive(Clone, Copy, Debug)]
pub struct Grant<'a> {
    pub name: &'a str,
    pub spec: &'a EndpointGrantSpec,
}

/// The object a verdict is about.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// The labels of the object's namespace (for `namespaceSelector`).
    pub namespace_labels: &'a BTreeMap<String, String>,
    pub spec: &'a InterfaceEndpointSpec,
    /// The status as last written: where the endpoint was created, and in which account.
    pub status: &'a InterfaceEndpointStatus,
    /// The controller's region (what an object naming none acts in); `None` when unknown.
    pub controller_region: Option<&'a str>,
}

/// What the controller may do for one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Admitted(Admission),
    Forbidden(Refusal),
}

impl Verdict {
    /// The `Granted` condition that reports the verdict.
    pub fn condition(&self) -> ConditionUpdate {
        match self {
            Self::Admitted(admission) => ConditionUpdate::new(
                ConditionType::Granted,
                true,
                ConditionReason::Granted,
                admission.message(),
            ),
            Self::Forbidden(refusal) => {
                ConditionUpdate::new(ConditionType::Granted, false, refusal.reason(), refusal.message())
            }
        }
    }
}

/// An admitted object: what the grant lets the controller do for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admission {
    /// The grant's name.
    pub grant: String,
    /// The modes actually used: the lower of the spec's and the grant's ceiling.
    pub remediation: RemediationSpec,
    /// The modes the grant lowered.
    pub lowered: Vec<Lowered>,
    /// Endpoint groups the controller may add ingress rules to (the spec's are among them).
    pub endpoint_groups: GrantedGroups,
    /// Client groups the controller may add egress rules to.
    pub client_groups: GrantedGroups,
    pub approved_by: ApprovedBy,
    /// With `approvedBy: Platform`: the plan ids PlanApprovals approve for this object (sorted).
    pub platform_approvals: Vec<String>,
    /// The account to act in; `None`: the controller's own identity.
    pub aws: Option<GrantAws>,
}

/// A remediation mode the grant's ceiling lowered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lowered {
    /// `spec.remediation.endpointIngress` or `spec.remediation.clientEgress`.
    pub field: &'static str,
    pub asked: RemediationMode,
    pub used: RemediationMode,
}

/// Which security groups the controller may add rules to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantedGroups {
    Any,
    /// Only these (possibly none).
    Only(BTreeSet<String>),
}

impl GrantedGroups {
    pub fn allows(&self, group_id: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(groups) => groups.contains(group_id),
        }
    }
}

impl Admission {
    /// The spec as the controller acts on it: the remediation modes the grant allows, and under
    /// `approvedBy: Platform` the platform's approval in place of the namespace's.
    /// `current_plan_ids` are the ids of the plans the analysis yields (one, or two while a spec
    /// change is held): a PlanApproval of one of them approves it; otherwise one of the others
    /// stands in, so that it is reported as an earlier or unknown plan.
    pub fn effective_spec(
        &self,
        spec: &InterfaceEndpointSpec,
        current_plan_ids: &[&str],
    ) -> InterfaceEndpointSpec {
        let mut effective = spec.clone();
        effective.remediation = self.remediation.clone();
        if self.approved_by == ApprovedBy::Platform {
            let matching = self
                .platform_approvals
                .iter()
                .find(|id| current_plan_ids.contains(&id.as_str()));
            effective.approval = matching
                .or(self.platform_approvals.first())
                .map(|id| Approval { plan_id: id.clone() });
        }
        effective
    }

    /// The `Granted` condition's message.
    pub fn message(&self) -> String {
        let account = match &self.aws {
            Some(aws) => format!(
                "in account {} through role {}",
                aws.account_id().unwrap_or("(unknown)"),
                aws.role_arn
            ),
            None => "in the controller's own account".to_string(),
        };
        let mut message = format!("Admitted by EndpointGrant {}, acting {account}", self.grant);
        for l in &self.lowered {
            message.push_str(&format!(
                "; {} {:?} is above the grant's ceiling: {:?} is used",
                l.field, l.asked, l.used
            ));
        }
        if self.approved_by == ApprovedBy::Platform {
            message.push_str(
                "; plans are approved by the platform (a PlanApproval naming this object and the plan id): \
                 spec.approval is ignored",
            );
        }
        message
    }
}

/// Why an object is not acted on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No grant covers the namespace.
    NoGrant { namespace: String },
    /// Grants cover the namespace, and each refuses something the object names.
    OutsideGrant { refused: Vec<Refused> },
}

/// What one grant refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub grant: String,
    /// The object's field (`spec.vpcId`, ...), or where the endpoint lives (`status.endpointRoleArn`).
    pub field: &'static str,
    pub value: String,
    /// What the grant allows instead, in words.
    pub allowed: String,
}

impl Refusal {
    pub fn reason(&self) -> ConditionReason {
        match self {
            Self::NoGrant { .. } => ConditionReason::NoGrant,
            Self::OutsideGrant { .. } => ConditionReason::OutsideGrant,
        }
    }

    /// The message of the `Granted` condition and of the Warning Event.
    pub fn message(&self) -> String {
        match self {
            Self::NoGrant { namespace } => format!(
                "No EndpointGrant covers namespace {namespace}: the controller makes no AWS call for this \
                 object. Ask the platform team for a grant (docs/tenancy.md)"
            ),
            Self::OutsideGrant { refused } => {
                let each: Vec<String> = refused
                    .iter()
                    .map(|r| {
                        format!(
                            "EndpointGrant {} does not admit {} {} ({})",
                            r.grant, r.field, r.value, r.allowed
                        )
                    })
                    .collect();
                format!(
                    "{}: the controller makes no AWS call for this object. Change the spec, or ask the \
                     platform team to widen a grant (one grant must admit the whole object)",
                    each.join("; ")
                )
            }
        }
    }
}

/// The verdict for `subject` under `grants`; `approvals` are every PlanApproval in the cluster
/// (those naming the object count, under `approvedBy: Platform`).
pub fn decide(subject: &Subject<'_>, grants: &[Grant<'_>], approvals: &[&PlanApprovalSpec]) -> Verdict {
    let mut covering: Vec<&Grant<'_>> = grants
        .iter()
        .filter(|g| covers(g.spec, subject.namespace, subject.namespace_labels))
        .collect();
    covering.sort_by_key(|g| g.name);
    if covering.is_empty() {
        return Verdict::Forbidden(Refusal::NoGrant {
            namespace: subject.namespace.to_string(),
        });
    }
    let mut refused = Vec::new();
    for grant in covering {
        match refusal(grant, subject) {
            Some(r) => refused.push(r),
            None => return Verdict::Admitted(admission(grant, subject, approvals)),
        }
    }
    Verdict::Forbidden(Refusal::OutsideGrant { refused })
}

/// Whether the grant covers `namespace`: by name, or by its labels.
pub fn covers(grant: &EndpointGrantSpec, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
    if grant.namespaces.iter().any(|n| n == namespace) {
        return true;
    }
    // A selector that does not parse (an unknown operator) covers nothing: deny by default.
    grant
        .namespace_selector
        .clone()
        .and_then(|s| Selector::try_from(s).ok())
        .is_some_and(|s| s.matches(labels))
}

fn listed(values: &[String]) -> String {
    if values.is_empty() {
        "none".to_string()
    } else {
        values.join(", ")
    }
}

/// The first thing the grant does not admit, in the order a person fixes them: where, what,
/// with which groups, how.
fn refusal(grant: &Grant<'_>, subject: &Subject<'_>) -> Option<Refused> {
    let g = grant.spec;
    let spec = subject.spec;
    let refuse = |field: &'static str, value: &str, allowed: String| {
        Some(Refused {
            grant: grant.name.to_string(),
            field,
            value: value.to_string(),
            allowed,
        })
    };

    let region = location::region(spec, subject.status);
    let region_ok = match region {
        _ if g.regions.iter().any(|r| r == ANY) => true,
        Some(r) if g.regions.iter().any(|x| x == r) => true,
        // Empty: the controller's region only (an object naming none acts there).
        None => g.regions.is_empty(),
        Some(r) => g.regions.is_empty() && subject.controller_region == Some(r),
    };
    if !region_ok {
        let allowed = if g.regions.is_empty() {
            format!(
                "regions is empty: the controller's region only ({})",
                subject.controller_region.unwrap_or("unknown")
            )
        } else {
            format!("regions: {}", listed(&g.regions))
        };
        return refuse("spec.region", region.unwrap_or("(the controller's)"), allowed);
    }

    let vpc = location::vpc(spec, subject.status);
    if !g.vpc_ids.iter().any(|v| v == ANY || v == vpc) {
        return refuse("spec.vpcId", vpc, format!("vpcIds: {}", listed(&g.vpc_ids)));
    }

    let service = location::service_name(spec, subject.status);
    if !g.service_names.iter().any(|p| glob_matches(p, service)) {
        return refuse(
            "spec.serviceName",
            service,
            format!("serviceNames: {}", listed(&g.service_names)),
        );
    }

    let any_group = g.endpoint_security_group_ids.iter().any(|s| s == ANY);
    if let Some(sg) = spec
        .security_group_ids
        .iter()
        .find(|sg| !any_group && !g.endpoint_security_group_ids.contains(sg))
    {
        return refuse(
            "spec.securityGroupIds",
            sg,
            format!(
                "endpointSecurityGroupIds: {}",
                listed(&g.endpoint_security_group_ids)
            ),
        );
    }

    if spec.private_dns.force && !g.allow_force {
        return refuse(
            "spec.privateDns.force",
            "true",
            "allowForce is false: private DNS is never enabled while clients are blocked".into(),
        );
    }

    if let Some(adopt) = &spec.adopt
        && !g.allow_adopt
    {
        return refuse(
            "spec.adopt.vpcEndpointId",
            &adopt.vpc_endpoint_id,
            "allowAdopt is false: endpoints the controller did not create are never taken over".into(),
        );
    }

    // Once the endpoint exists it lives in one account: the grant must act there.
    if let Some(acting) = ActingAs::recorded(subject.status) {
        let recorded = acting.role_arn.as_deref();
        let granted = g.aws.as_ref().map(|a| a.role_arn.as_str());
        if recorded != granted {
            return refuse(
                "status.endpointRoleArn",
                recorded.unwrap_or("(the controller's own identity)"),
                format!(
                    "the endpoint lives in the account this role reaches; the grant acts through {}",
                    granted.unwrap_or("the controller's own identity")
                ),
            );
        }
    }
    None
}

/// The lower of two modes: Auto > Approval > Off.
pub fn lower(a: RemediationMode, b: RemediationMode) -> RemediationMode {
    // The enum is declared Auto, Approval, Off: the greater in `Ord` is the lower mode.
    a.max(b)
}

fn admission(grant: &Grant<'_>, subject: &Subject<'_>, approvals: &[&PlanApprovalSpec]) -> Admission {
    let g = grant.spec;
    let asked = &subject.spec.remediation;
    let remediation = RemediationSpec {
        endpoint_ingress: lower(asked.endpoint_ingress, g.max_remediation.endpoint_ingress),
        client_egress: lower(asked.client_egress, g.max_remediation.client_egress),
    };
    let lowered = [
        (
            "spec.remediation.endpointIngress",
            asked.endpoint_ingress,
            remediation.endpoint_ingress,
        ),
        (
            "spec.remediation.clientEgress",
            asked.client_egress,
            remediation.client_egress,
        ),
    ]
    .into_iter()
    .filter(|(_, asked, used)| asked != used)
    .map(|(field, asked, used)| Lowered { field, asked, used })
    .collect();
    let granted = |groups: &[String]| {
        if groups.iter().any(|s| s == ANY) {
            GrantedGroups::Any
        } else {
            GrantedGroups::Only(groups.iter().cloned().collect())
        }
    };
    let platform_approvals = match g.approved_by {
        ApprovedBy::Namespace => Vec::new(),
        ApprovedBy::Platform => {
            let ids: BTreeSet<String> = approvals
                .iter()
                .filter(|a| a.namespace == subject.namespace && a.name == subject.name)
                .map(|a| a.plan_id.clone())
                .collect();
            ids.into_iter().collect()
        }
    };
    Admission {
        grant: grant.name.to_string(),
        remediation,
        lowered,
        endpoint_groups: granted(&g.endpoint_security_group_ids),
        client_groups: granted(&g.client_security_group_ids),
        approved_by: g.approved_by,
        platform_approvals,
        aws: g.aws.clone(),
    }
}

#[cfg(test)]
mod tests;
