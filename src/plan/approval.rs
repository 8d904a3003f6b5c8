//! An analysis seen through `spec.remediation` and `spec.approval` ([`Access`]): which missing
//! rules the controller may add now, which wait for approval, which are left to someone else.
//!
//! A leaf: it reads the analysis and the spec, and no stage of the chain. The stages
//! ([`super::access`], [`super::dns`], [`super::drift`]) decide with it; [`super::status`] and
//! [`super::wording`] report it.

use crate::analysis::{Analysis, Check, Direction, Remediation, RuleChange};
use crate::api::conditions::ConditionReason;
use crate::api::{InterfaceEndpointSpec, PlanStatus, RemediationMode, RemediationSpec};
use crate::aws::RulePeer;
use crate::model::SecurityGroupRule;

/// The plan id, as [`crate::api::PLAN_ID_MEANING`] defines it: of the rules to add (`missing`)
/// when there are some ([`Remediation::plan_id`]), else of the object's own rules in place
/// (`owned`). `vpce-rollout plan`, which knows no object, gives no owned rules.
pub fn plan_id(
    missing: Option<&Remediation>,
    owned: &[&SecurityGroupRule],
    modes: &RemediationSpec,
) -> String {
    match missing {
        Some(remediation) if !remediation.rules.is_empty() => remediation.plan_id(modes),
        _ => Remediation {
            rules: owned.iter().filter_map(|r| as_change(r)).collect(),
            unfixable: Vec::new(),
        }
        .plan_id(modes),
    }
}

/// An owned rule as the remediation rule that added it (for its share of the plan id).
fn as_change(rule: &SecurityGroupRule) -> Option<RuleChange> {
    let peer = if let Some(g) = &rule.referenced_group_info {
        RulePeer::Group(g.group_id.clone())
    } else if let Some(c) = &rule.cidr_ipv4 {
        RulePeer::CidrIpv4(c.clone())
    } else if let Some(c) = &rule.cidr_ipv6 {
        RulePeer::CidrIpv6(c.clone())
    } else {
        RulePeer::PrefixList(rule.prefix_list_id.clone()?)
    };
    let (direction, clears) = if rule.is_egress {
        (Direction::Egress, Check::ClientEgress)
    } else {
        (Direction::Ingress, Check::EndpointIngress)
    };
    Some(RuleChange {
        group_id: rule.group_id.clone(),
        direction,
        protocol: rule.ip_protocol,
        from_port: u16::try_from(rule.from_port?).ok()?,
        to_port: u16::try_from(rule.to_port?).ok()?,
        peer,
        clears,
    })
}

/// Where approval of the plan stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalState {
    /// No missing rule has mode `Approval`.
    NotRequired,
    /// `spec.approval.planId` equals the plan id.
    Approved,
    /// No `spec.approval`.
    Awaiting,
    /// `spec.approval.planId` is not the current plan's id. `reported`: it is one this
    /// object's status reported before (an earlier plan); otherwise it was never issued here
    /// (a typo, another object's id), and nothing may call it an earlier plan.
    Stale { given: String, reported: bool },
}

impl ApprovalState {
    /// The condition reason of an approval that does not match: `StalePlanId` for an earlier
    /// plan's id, `UnknownPlanId` for an id never reported.
    pub fn mismatch_reason(reported: bool) -> ConditionReason {
        if reported {
            ConditionReason::StalePlanId
        } else {
            ConditionReason::UnknownPlanId
        }
    }
}

/// Who approves the object's plans (its EndpointGrant's `approvedBy`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Approver {
    /// The namespace: `spec.approval.planId`.
    #[default]
    Namespace,
    /// The platform: a cluster-scoped PlanApproval naming the object (`spec.approval` is
    /// ignored; the engine puts the PlanApproval's id in its place).
    Platform { namespace: String, name: String },
}

impl Approver {
    /// Where the approving plan id is written: "spec.approval.planId", "PlanApproval planId".
    pub fn field(&self) -> &'static str {
        match self {
            Self::Namespace => "spec.approval.planId",
            Self::Platform { .. } => "PlanApproval planId",
        }
    }

    /// What to do to approve `plan_id`: "set spec.approval.planId: X", or the PlanApproval to
    /// commit.
    pub fn how_to_approve(&self, plan_id: &str) -> String {
        match self {
            Self::Namespace => format!("set spec.approval.planId: {plan_id}"),
            Self::Platform { namespace, name } => format!(
                "the platform commits a PlanApproval with spec {{namespace: {namespace}, name: {name}, planId: {plan_id}}} \
                 (spec.approval is ignored: the grant has approvedBy: Platform)"
            ),
        }
    }
}

/// An analysis seen through `spec.remediation` and `spec.approval`.
#[derive(Clone, Debug)]
pub struct Access<'a> {
    pub analysis: &'a Analysis,
    /// Who approves the plan.
    pub approver: Approver,
    pub plan_id: String,
    pub approval: ApprovalState,
    pub blocked: usize,
    /// Missing rules by mode.
    pub auto: Vec<&'a RuleChange>,
    pub needs_approval: Vec<&'a RuleChange>,
    pub off: Vec<&'a RuleChange>,
}

impl<'a> Access<'a> {
    /// `previous` is the plan the status reported last (with the ids reported before it).
    pub fn new(
        analysis: &'a Analysis,
        spec: &InterfaceEndpointSpec,
        previous: Option<&PlanStatus>,
        approver: &Approver,
    ) -> Self {
        let modes = &spec.remediation;
        let by_mode = |mode| {
            analysis
                .remediation
                .rules
                .iter()
                .filter(move |r| r.mode(modes) == mode)
                .collect::<Vec<_>>()
        };
        let needs_approval = by_mode(RemediationMode::Approval);
        let plan_id = analysis.remediation.plan_id(modes);
        let approval = match (&spec.approval, needs_approval.is_empty()) {
            (_, true) => ApprovalState::NotRequired,
            (Some(a), false) if a.plan_id == plan_id => ApprovalState::Approved,
            (Some(a), false) => ApprovalState::Stale {
                given: a.plan_id.clone(),
                reported: previous.is_some_and(|p| p.id == a.plan_id || p.earlier_ids.contains(&a.plan_id)),
            },
            (None, false) => ApprovalState::Awaiting,
        };
        Self {
            analysis,
            approver: approver.clone(),
            plan_id,
            approval,
            blocked: analysis.blocked().count(),
            auto: by_mode(RemediationMode::Auto),
            needs_approval,
            off: by_mode(RemediationMode::Off),
        }
    }

    /// The rules the controller may add now: `Auto` ones, and `Approval` ones once approved.
    pub fn rules_now(&self) -> Vec<&'a RuleChange> {
        let mut rules = self.auto.clone();
        if self.approval == ApprovalState::Approved {
            rules.extend(&self.needs_approval);
        }
        rules
    }

    /// Whether adding [`Access::rules_now`] leaves every client reachable.
    pub fn fixed_by_rules_now(&self) -> bool {
        self.off.is_empty()
            && self.analysis.remediation.unfixable.is_empty()
            && matches!(
                self.approval,
                ApprovalState::NotRequired | ApprovalState::Approved
            )
    }

    /// Whether an approval is what stands between the clients and the endpoint.
    pub fn awaits_approval(&self) -> bool {
        matches!(
            self.approval,
            ApprovalState::Awaiting | ApprovalState::Stale { .. }
        )
    }
}
