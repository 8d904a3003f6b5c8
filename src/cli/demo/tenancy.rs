//! The demo's run of the tenancy: two teams declare the same CloudWatch Logs endpoint in the
//! incident's VPC; the platform's EndpointGrants admit one and not the other. Each pass is the
//! controller's (the verdict from the grants, then [`reconcile_object`]); the denied object ends
//! Forbidden having made no AWS call, which the simulated world's call log shows, while the
//! granted one rolls out beside it.

use std::io::Write;

use super::{DemoError, MAX_PASSES, phase_text};
use crate::api::conditions::{ConditionType, find_condition};
use crate::api::{
    EndpointGrantSpec, InterfaceEndpointSpec, InterfaceEndpointStatus, Owner, RemediationMode, RolloutPhase,
};
use crate::aws::sim::{SimClock, SimEc2, SimProvider};
use crate::cli::table::{Colour, Style, Table};
use crate::engine::tenancy::reconcile_object;
use crate::engine::{ReconcileRequest, incident};
use crate::grants::{self, Grant, Subject};
use crate::plan::Timing;

/// A VPC of team-b's, the only one its grant names.
const TEAM_B_VPC: &str = "vpc-0b0b0b0b0b0b0b0b0";

/// One team's object.
struct Tenant {
    owner: Owner,
    spec: InterfaceEndpointSpec,
    status: InterfaceEndpointStatus,
    /// AWS calls the simulated world served during this object's passes.
    calls: usize,
}

/// The two grants the platform team wrote: `platform` may roll out logs in the incident's VPC,
/// `team-b` only in its own VPC.
fn grants() -> Vec<(&'static str, EndpointGrantSpec)> {
    let grant = |namespace: &str, vpc: &str| -> EndpointGrantSpec {
        serde_json::from_value(serde_json::json!({
            "namespaces": [namespace],
            "vpcIds": [vpc],
            "serviceNames": ["com.amazonaws.*.logs"],
            "endpointSecurityGroupIds": [incident::SG_ENDPOINT],
            "clientSecurityGroupIds": [incident::SG_ZABBIX, incident::SG_LAMBDA],
        }))
        .expect("a valid grant")
    };
    vec![
        ("platform-logs", grant("platform", incident::VPC)),
        ("team-b-logs", grant("team-b", TEAM_B_VPC)),
    ]
}

/// How the run ended, for the tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenancySummary {
    /// (namespace, phase, Granted reason, AWS calls made for it).
    pub objects: Vec<(String, RolloutPhase, String, usize)>,
}

pub fn run(style: Style, out: &mut dyn Write) -> Result<TenancySummary, DemoError> {
    let s = style;
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        s.paint(
            Colour::Bold,
            "━━ Grants: two teams ask for the same endpoint, and one of them is admitted ━━━━━━━━━━━━"
        )
    )?;
    let grants = grants();
    writeln!(out, "$ kubectl get endpointgrants")?;
    let mut table = Table::new(&["NAME", "NAMESPACES", "VPCS", "SERVICES", "CLIENT GROUPS"]);
    for (name, g) in &grants {
        let cell = |text: String| (text, None);
        table.row(vec![
            cell(name.to_string()),
            cell(g.namespaces.join(",")),
            cell(g.vpc_ids.join(",")),
            cell(g.service_names.join(",")),
            cell(g.client_security_group_ids.join(",")),
        ]);
    }
    out.write_all(table.render(Style::plain(), "").as_bytes())?;
    writeln!(out)?;
    writeln!(
        out,
        "Both teams apply the incident's endpoint (same VPC {}, Auto remediation):",
        incident::VPC
    )?;

    let sim = std::sync::Arc::new(SimEc2::new(&incident::world(), SimClock::new()));
    let provider = SimProvider::new(sim.clone());
    let timing = Timing::default();
    let mut tenants: Vec<Tenant> = ["platform", "team-b"]
        .iter()
        .enumerate()
        .map(|(i, ns)| {
            let mut spec = incident::spec(RemediationMode::Auto);
            spec.remediation.client_egress = RemediationMode::Auto;
            Tenant {
                owner: Owner {
                    namespace: ns.to_string(),
                    name: incident::owner().name,
                    uid: format!("6f1c2b7e-4d3a-4b8e-9c21-00000000000{i}"),
                },
                spec,
                status: InterfaceEndpointStatus::default(),
                calls: 0,
            }
        })
        .collect();

    for _ in 0..MAX_PASSES {
        let mut requeue = timing.resync;
        for tenant in &mut tenants {
            let before = sim.calls().len();
            let previous_phase = tenant.status.phase;
            let labels = Default::default();
            let grant_refs: Vec<Grant<'_>> = grants.iter().map(|(name, spec)| Grant { name, spec }).collect();
            let subject = Subject {
                namespace: &tenant.owner.namespace,
                name: &tenant.owner.name,
                namespace_labels: &labels,
                spec: &tenant.spec,
                status: &tenant.status,
                controller_region: Some(incident::REGION),
            };
            let verdict = grants::decide(&subject, &grant_refs, &[]);
            let request = ReconcileRequest {
                spec: &tenant.spec,
                generation: Some(1),
                owner: &tenant.owner,
                deleting: false,
                status: &tenant.status,
                config: &Default::default(),
                now: sim.clock().timestamp(),
                observations: None,
                resolver: None,
            };
            let outcome =
                futures::executor::block_on(reconcile_object(&provider, &request, &verdict, &timing));
            tenant.status = outcome.status;
            tenant.calls += sim.calls().len() - before;
            requeue = requeue.min(outcome.requeue.unwrap_or(timing.pending_min));
            if tenant.status.phase != previous_phase || !outcome.events.is_empty() {
                let t = format!("[t+{:>4}s]", sim.clock().now().as_secs());
                writeln!(
                    out,
                    "{} {:<9} {} {}",
                    s.paint(Colour::Dim, &t),
                    tenant.owner.namespace,
                    phase_text(s, tenant.status.phase),
                    s.paint(Colour::Dim, &format!("({} AWS calls so far)", tenant.calls))
                )?;
                for event in &outcome.events {
                    let kind = if event.warning {
                        s.paint(Colour::Yellow, "Warning")
                    } else {
                        "Normal ".to_string()
                    };
                    writeln!(
                        out,
                        "{}{kind} {} {}",
                        " ".repeat(22),
                        event.reason.as_str(),
                        event.message
                    )?;
                }
            }
        }
        if tenants[0].status.phase == RolloutPhase::Ready {
            return finish(&tenants, s, out);
        }
        sim.clock().advance(requeue);
    }
    Err(DemoError::Stuck {
        mode: RemediationMode::Auto,
        phase: tenants[0].status.phase,
        passes: MAX_PASSES,
    })
}

fn finish(tenants: &[Tenant], s: Style, out: &mut dyn Write) -> Result<TenancySummary, DemoError> {
    writeln!(out)?;
    writeln!(out, "$ kubectl get vpce -A")?;
    let mut table = Table::new(&["NAMESPACE", "NAME", "PHASE", "ENDPOINT", "PRIVATE DNS", "GRANTED"]);
    let mut objects = Vec::new();
    for t in tenants {
        let granted = find_condition(&t.status.conditions, ConditionType::Granted);
        let reason = granted.map(|c| c.reason.clone()).unwrap_or_default();
        let colour = (t.status.phase == RolloutPhase::Forbidden).then_some(Colour::Red);
        table.row(vec![
            (t.owner.namespace.clone(), None),
            (t.owner.name.clone(), None),
            (t.status.phase.as_str().to_string(), colour),
            (
                t.status.endpoint_id.clone().unwrap_or_else(|| "<none>".into()),
                None,
            ),
            (t.status.private_dns_enabled.to_string(), None),
            (reason.clone(), colour),
        ]);
        objects.push((t.owner.namespace.clone(), t.status.phase, reason, t.calls));
    }
    out.write_all(table.render(s, "").as_bytes())?;
    writeln!(out)?;
    for t in tenants {
        if let Some(c) = find_condition(&t.status.conditions, ConditionType::Granted) {
            writeln!(
                out,
                "{}/{} Granted={} {}: {}",
                t.owner.namespace, t.owner.name, c.status, c.reason, c.message
            )?;
        }
    }
    writeln!(
        out,
        "{}",
        s.paint(
            Colour::Green,
            &format!(
                "AWS calls made for the admitted object: {}; for the refused one: {} (not even a describe).",
                tenants[0].calls, tenants[1].calls
            )
        )
    )?;
    Ok(TenancySummary { objects })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refused_object_makes_no_call_while_the_admitted_one_rolls_out() {
        let mut out = Vec::new();
        let summary = run(Style::plain(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let [admitted, refused] = summary.objects.as_slice() else {
            panic!("{summary:?}")
        };
        assert_eq!(
            (admitted.1, admitted.2.as_str()),
            (RolloutPhase::Ready, "Granted")
        );
        assert!(admitted.3 > 0);
        assert_eq!(
            refused,
            &(
                "team-b".to_string(),
                RolloutPhase::Forbidden,
                "OutsideGrant".to_string(),
                0
            )
        );
        assert!(
            text.contains(&format!(
                "EndpointGrant team-b-logs does not admit spec.vpcId {} (vpcIds: {TEAM_B_VPC})",
                incident::VPC
            )),
            "{text}"
        );
        assert!(text.contains("Warning Forbidden"), "{text}");
        assert!(text.contains("for the refused one: 0 (not even a describe)"));
    }
}
