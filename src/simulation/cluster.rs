//! The Kubernetes side of a run: the InterfaceEndpoint objects as the API server holds them
//! (spec, generation, status, finalizer, deletion), and what the app teams do to them.
//!
//! Edits follow the API server's rules: `metadata.generation` grows with every spec edit, a
//! deletion only sets the deletion timestamp while a finalizer holds the object (and removes it
//! at once otherwise), and the fields the CRD makes immutable (VPC, service, region) are never
//! edited. Every edit is a watch event: the object is reconciled at once.

use std::collections::BTreeMap;

use super::report::ChangeKind;
use super::rng::Rng;
use super::scenario::{self, ENDPOINT_GROUPS};
use crate::api::{Approval, InterfaceEndpointSpec, InterfaceEndpointStatus, Owner};

/// One object as the API server holds it.
#[derive(Clone, Debug)]
pub(crate) struct Object {
    pub owner: Owner,
    pub spec: InterfaceEndpointSpec,
    pub generation: i64,
    pub status: Option<InterfaceEndpointStatus>,
    pub finalizer: bool,
    pub deleting: bool,
    /// `metadata.resourceVersion`: every write of the object bumps it.
    pub resource_version: u64,
    /// Plan ids this object's status has shown, for approvals of an older plan.
    pub plan_ids: Vec<String>,
}

impl Object {
    pub(crate) fn new(owner: Owner, spec: InterfaceEndpointSpec) -> Self {
        Self {
            owner,
            spec,
            generation: 1,
            status: None,
            finalizer: false,
            deleting: false,
            resource_version: 1,
            plan_ids: Vec::new(),
        }
    }
}

/// The objects, by UID (a re-created object is another UID).
#[derive(Debug, Default)]
pub(crate) struct Cluster {
    pub objects: BTreeMap<String, Object>,
}

/// What a user edit did.
pub(crate) struct Edit {
    pub uid: String,
    pub kind: ChangeKind,
    pub text: String,
    /// The object is gone (deleted without a finalizer).
    pub removed: bool,
}

impl Cluster {
    /// The status is written (server-side apply carrying the resourceVersion `read`): refused
    /// when the object was written since, as the API server refuses it (409). Remembers the
    /// plan id for later (stale) approvals. Returns whether it landed.
    pub(crate) fn write_status(&mut self, uid: &str, read: u64, status: InterfaceEndpointStatus) -> bool {
        let Some(o) = self.objects.get_mut(uid) else {
            return false;
        };
        if o.resource_version != read {
            return false;
        }
        if let Some(plan) = &status.plan
            && !o.plan_ids.contains(&plan.id)
        {
            o.plan_ids.push(plan.id.clone());
        }
        o.status = Some(status);
        o.resource_version += 1;
        true
    }

    /// The finalizer is added (a merge patch); returns the new resourceVersion.
    pub(crate) fn add_finalizer(&mut self, uid: &str) -> Option<u64> {
        let o = self.objects.get_mut(uid)?;
        o.finalizer = true;
        o.resource_version += 1;
        Some(o.resource_version)
    }

    /// An app team edits or deletes one of its objects, drawn by `rng`.
    pub(crate) fn edit(&mut self, rng: &mut Rng) -> Option<Edit> {
        let uids: Vec<String> = self.objects.keys().cloned().collect();
        let uid = rng.pick(&uids)?.clone();
        let object = self.objects.get_mut(&uid)?;
        let roll = rng.below(20);
        let (kind, text) = match roll {
            0..=5 => {
                let status_plan = object
                    .status
                    .as_ref()
                    .and_then(|s| s.plan.as_ref())
                    .map(|p| p.id.clone());
                let (approval, text) = match (rng.below(10), status_plan) {
                    (0..=6, Some(id)) => (Some(id.clone()), format!("approves plan {id}")),
                    (7 | 8, _) if !object.plan_ids.is_empty() => {
                        let id = rng.pick(&object.plan_ids).cloned().unwrap_or_default();
                        (
                            Some(id.clone()),
                            format!("approves plan {id} (maybe an older one)"),
                        )
                    }
                    (9, _) => (
                        Some("0123456789".to_string()),
                        "approves a plan id never issued".into(),
                    ),
                    _ => (None, "removes the approval".into()),
                };
                object.spec.approval = approval.map(|plan_id| Approval { plan_id });
                (ChangeKind::SpecApproval, text)
            }
            6..=8 => {
                let r = &mut object.spec.remediation;
                r.endpoint_ingress = scenario::draw_mode(rng, r.endpoint_ingress);
                r.client_egress = scenario::draw_mode(rng, r.client_egress);
                (
                    ChangeKind::SpecModes,
                    format!(
                        "sets endpointIngress {:?}, clientEgress {:?}",
                        r.endpoint_ingress, r.client_egress
                    ),
                )
            }
            9 | 10 => {
                object.spec.clients = scenario::draw_clients(rng);
                (
                    ChangeKind::SpecClients,
                    format!("sets clients {:?}", object.spec.clients),
                )
            }
            11 => {
                object.spec.deletion_policy = scenario::draw_deletion_policy(rng);
                (
                    ChangeKind::SpecDeletionPolicy,
                    format!("sets deletionPolicy {:?}", object.spec.deletion_policy),
                )
            }
            12 => {
                let dns = &mut object.spec.private_dns;
                if rng.chance(0.8) {
                    dns.enabled = !dns.enabled;
                } else {
                    dns.force = !dns.force;
                }
                (
                    ChangeKind::SpecPrivateDns,
                    format!("sets privateDns enabled {} force {}", dns.enabled, dns.force),
                )
            }
            13 | 14 => {
                let group = rng.pick(&ENDPOINT_GROUPS).expect("not empty").to_string();
                let groups = &mut object.spec.security_group_ids;
                if rng.chance(0.3) && !groups.contains(&group) {
                    groups.push(group);
                } else {
                    *groups = vec![group];
                }
                (
                    ChangeKind::SpecSecurityGroups,
                    format!("sets securityGroupIds {groups:?}"),
                )
            }
            15 | 16 => {
                object.spec.subnet_ids = scenario::draw_subnets(rng);
                (
                    ChangeKind::SpecSubnets,
                    format!("sets subnetIds {:?}", object.spec.subnet_ids),
                )
            }
            _ => {
                if object.deleting {
                    return None;
                }
                let text = format!(
                    "deletes the object (deletionPolicy {:?})",
                    object.spec.deletion_policy
                );
                if !object.finalizer {
                    self.objects.remove(&uid);
                    return Some(Edit {
                        uid,
                        kind: ChangeKind::ObjectDeleted,
                        text,
                        removed: true,
                    });
                }
                object.deleting = true;
                (ChangeKind::ObjectDeleted, text)
            }
        };
        if kind != ChangeKind::ObjectDeleted {
            object.generation += 1;
        }
        object.resource_version += 1;
        Some(Edit {
            uid,
            kind,
            text,
            removed: false,
        })
    }
}
