//! Where a pass's view of the VPC comes from: its own describes, or the VPC's snapshot shared
//! by every object in it ([`crate::aws::observation`]), and when the shared one may serve.
//!
//! The safety argument. A shared snapshot may be older than the pass: someone may have added a
//! client, revoked a rule or turned private DNS off since. So a pass rests on it only when it
//! changes nothing and says nothing new: no EC2 call, no status different from the one written,
//! no Event, no finalizer removed. As soon as the decision taken on the shared snapshot would
//! do or say anything, the pass looks again on a snapshot whose refresh began within the pass
//! (joining one in flight that began after the pass did, or starting it) and decides anew on
//! that: every decision that acts, private DNS switched on and rules revoked first among them,
//! is made on an observation as fresh as a pass of its own would make, as before snapshots were
//! shared. A pass that rests on the shared snapshot is one whose outcome would be "nothing to
//! do" on it: the world then changed in a way the snapshot does not show yet, and the next
//! refresh (at most `max_age` later) shows it.
//!
//! How fresh the shared snapshot must be otherwise: one resync for a Ready object (N Ready
//! objects in a VPC cost about one refresh per resync together), the `waiting` interval for
//! the others; after the object's own change, only a refresh begun after it (its next pass sees
//! what it did); and an endpoint of its own that EC2 is moving by itself (`pending`,
//! `pendingAcceptance`, `deleting`) is looked at by id on every pass, a full refresh only when
//! its state moved. Without a shared registry (the demo, tests, `plan`) the pass observes alone.

use std::ops::Deref;
use std::sync::Arc;

use crate::api::{InterfaceEndpointStatus, RolloutPhase};
use crate::aws::observation::{
    Need, Observed, Service, Subscriber, Ticket, Touched, VpcKey, VpcObservations, look_at_change,
};
use crate::aws::observe::{ObserveScope, observe_vpc};
use crate::aws::{Ec2, Ec2Error, EndpointFilter, ErrorKind};
use crate::model::{Snapshot, VpcEndpoint};
use crate::plan::{self, Action, Decision, Timing};

use super::{ReconcileOutcome, ReconcileRequest};

/// Endpoint states EC2 leaves by itself: while the object's endpoint is in one, each pass looks
/// at it by id.
const MOVING: [&str; 3] = ["pending", "pendingAcceptance", "deleting"];

/// The VPC as one pass sees it.
pub(super) enum World {
    /// Described by this pass.
    Own(Snapshot),
    /// The VPC's shared snapshot.
    Shared(Arc<Observed>),
    /// The VPC's shared snapshot, older than the object's own last change, with what that
    /// change touched looked at again by this pass (its endpoint by id, the rules of the
    /// groups it edited): as old as the shared snapshot for everything else.
    Patched { snapshot: Snapshot, base: Arc<Observed> },
}

impl Deref for World {
    type Target = Snapshot;
    fn deref(&self) -> &Snapshot {
        match self {
            Self::Own(snapshot) | Self::Patched { snapshot, .. } => snapshot,
            Self::Shared(observed) => &observed.snapshot,
        }
    }
}

/// One pass's looking at its VPC.
pub(super) struct Look<'r> {
    request: &'r ReconcileRequest<'r>,
    shared: Option<Shared<'r>>,
}

struct Shared<'r> {
    observations: &'r VpcObservations,
    key: VpcKey,
    who: Subscriber,
    need: Need,
    /// Taken as the pass began.
    start: Ticket,
}

impl<'r> Look<'r> {
    pub(super) async fn begin<E: Ec2>(ec2: &E, request: &'r ReconcileRequest<'r>, timing: &Timing) -> Self {
        let shared = match request.observations {
            // The account keys the snapshot: unknown, the pass observes alone.
            Some(observations) => ec2.account().await.ok().map(|account| {
                let ready = request.status.phase == RolloutPhase::Ready && !request.deleting;
                let max_age = if ready {
                    timing.resync
                } else {
                    timing.waiting.min(timing.resync)
                };
                Shared {
                    observations,
                    key: VpcKey {
                        account,
                        region: ec2.region(),
                        vpc_id: plan::location::vpc(request.spec, request.status).to_string(),
                    },
                    who: Subscriber {
                        owner_tag: request.owner.owner_tag(),
                        service: Service::new(
                            plan::location::service_name(request.spec, request.status),
                            request.spec.service_region.as_deref(),
                        ),
                    },
                    need: Need {
                        now: request.now,
                        max_age,
                        begun_after: None,
                        forget_after: 3 * timing.resync.max(timing.waiting),
                        despite_own_change: false,
                    },
                    start: observations.ticket(),
                }
            }),
            None => None,
        };
        Self { request, shared }
    }

    /// The view the pass starts from. After the object's own change, which the shared snapshot
    /// does not show yet, what the change touched is looked at by id (the VPC is described
    /// again only when that cannot be done).
    pub(super) async fn first<E: Ec2>(&mut self, ec2: &E) -> Result<World, Ec2Error> {
        let Some(shared) = &self.shared else {
            return self.alone(ec2).await;
        };
        let need = Need {
            despite_own_change: true,
            ..shared.need.clone()
        };
        let observed = shared
            .observations
            .observe(ec2, &shared.key, &shared.who, &need)
            .await?;
        match shared
            .observations
            .unseen_change(&shared.key, &shared.who.owner_tag, &observed)
        {
            None => {}
            Some(None) => return self.fresh(ec2).await,
            Some(Some(mut touched)) => {
                // Its own endpoint too, whatever the change was: EC2 may be moving it.
                touched.endpoints.extend(self.request.status.endpoint_id.clone());
                let listed = |e: &[VpcEndpoint]| shared.observations.saw(&shared.key, e, self.request.now);
                return match look_at_change(ec2, &observed, &touched, listed).await {
                    Some(snapshot) => Ok(World::Patched {
                        snapshot,
                        base: observed,
                    }),
                    None => self.fresh(ec2).await,
                };
            }
        }
        if !observed.begun_after(shared.start) && self.own_endpoint_moved(ec2, &observed.snapshot).await {
            return self.fresh(ec2).await;
        }
        Ok(World::Shared(observed))
    }

    /// Whether the pass must decide again on a snapshot begun within it (see the module docs).
    pub(super) fn must_look_again(&self, world: &World, decision: &Decision) -> bool {
        let Some(shared) = &self.shared else {
            return false;
        };
        let begun_within = match world {
            World::Own(_) => true,
            World::Shared(observed) => observed.begun_after(shared.start),
            World::Patched { .. } => false,
        };
        !begun_within
            && (!decision.actions.is_empty()
                || decision.finalized
                || !decision.events.is_empty()
                || says_something_new(&decision.status, self.request.status))
    }

    /// Whether `world` is the shared snapshot as it was before the pass began (the pass then
    /// changes nothing and says nothing new: [`Look::must_look_again`]).
    pub(super) fn rests_on_shared(&self, world: &World) -> bool {
        match (world, &self.shared) {
            (World::Shared(observed), Some(shared)) => !observed.begun_after(shared.start),
            (World::Patched { .. }, Some(_)) => true,
            _ => false,
        }
    }

    /// What the looks of this process, every object's, saw of private DNS in the VPC
    /// ([`plan::resolution::SeenOff`]); nothing without a shared registry.
    pub(super) fn seen_off(&self) -> plan::resolution::SeenOff {
        self.shared.as_ref().map_or_else(Default::default, |shared| {
            shared.observations.seen_off(&shared.key, self.request.now)
        })
    }

    /// A decision taken on the shared snapshot verified the clients as of that snapshot, not
    /// as of the pass: its `lastVerifiedTime` says when the snapshot was taken.
    pub(super) fn stamp(world: &World, decision: &mut Decision) {
        if let World::Shared(observed) | World::Patched { base: observed, .. } = world
            && decision.status.last_verified_time.is_some()
        {
            decision.status.last_verified_time = Some(observed.observed_at().to_string());
        }
    }

    /// A snapshot whose refresh began within the pass.
    pub(super) async fn fresh<E: Ec2>(&mut self, ec2: &E) -> Result<World, Ec2Error> {
        let Some(shared) = &mut self.shared else {
            return self.alone(ec2).await;
        };
        shared.need.begun_after = Some(shared.start);
        let observed = shared
            .observations
            .observe(ec2, &shared.key, &shared.who, &shared.need)
            .await?;
        Ok(World::Shared(observed))
    }

    /// After the pass: what it changed is seen by its next pass; a finished deletion no longer
    /// refers to the VPC.
    pub(super) fn end(&self, outcome: &ReconcileOutcome) {
        let Some(shared) = &self.shared else {
            return;
        };
        if outcome.finalized {
            shared.observations.release(&shared.who.owner_tag);
        } else if !outcome.mutations.is_empty() {
            shared
                .observations
                .changed(&shared.key, &shared.who.owner_tag, touched(outcome));
        }
    }

    async fn alone<E: Ec2>(&self, ec2: &E) -> Result<World, Ec2Error> {
        let request = self.request;
        let scope = ObserveScope {
            service_name: Some(plan::location::service_name(request.spec, request.status)),
            service_region: request.spec.service_region.as_deref(),
            owner: Some(request.owner),
        };
        let vpc_id = plan::location::vpc(request.spec, request.status);
        observe_vpc(ec2, vpc_id, scope).await.map(World::Own)
    }

    /// The object's endpoint, while EC2 is moving it, as EC2 shows it now differs from the
    /// snapshot (a failed look counts as moved: the full refresh then says why).
    async fn own_endpoint_moved<E: Ec2>(&self, ec2: &E, snapshot: &Snapshot) -> bool {
        let Some(id) = self.request.status.endpoint_id.as_deref() else {
            return false;
        };
        let seen = snapshot.vpc_endpoints.iter().find(|e| e.vpc_endpoint_id == id);
        if !seen.is_some_and(is_moving) {
            return false;
        }
        let filter = EndpointFilter {
            vpc_endpoint_ids: vec![id.to_string()],
            ..Default::default()
        };
        match ec2.describe_vpc_endpoints(&filter).await {
            Ok(now) => {
                if let Some(shared) = &self.shared {
                    shared.observations.saw(&shared.key, &now, self.request.now);
                }
                now.iter().find(|e| e.vpc_endpoint_id == id) != seen
            }
            Err(e) if e.kind == ErrorKind::NotFound => true,
            Err(_) => true,
        }
    }
}

/// Whether `status` differs from `previous` in more than when the clients were last verified
/// and when the evidence and the flow logs were last read (which every pass that does either
/// moves: the logs are read by the pass itself, whatever snapshot it rests on).
fn says_something_new(status: &InterfaceEndpointStatus, previous: &InterfaceEndpointStatus) -> bool {
    let mut same_time = status.clone();
    same_time
        .last_verified_time
        .clone_from(&previous.last_verified_time);
    if let (Some(clients), Some(before)) = (
        same_time.clients.as_mut().and_then(|c| c.evidence.as_mut()),
        previous.clients.as_ref().and_then(|c| c.evidence.as_ref()),
    ) {
        clients.read_time.clone_from(&before.read_time);
    }
    // The canary's read window moves with every read, like the evidence's.
    if let (Some(read), Some(before)) = (same_time.verification.as_mut(), previous.verification.as_ref()) {
        read.read_from.clone_from(&before.read_from);
        read.read_to.clone_from(&before.read_to);
        read.read_time.clone_from(&before.read_time);
    }
    same_time != *previous
}

/// What a pass's calls changed, to be looked at by id on the next passes: only when every call
/// succeeded and each names what it changed (an endpoint, a group's rules). A failed call may
/// have done anything, and a handover or takeover of rules moves them between objects: the
/// whole VPC is then described again.
fn touched(outcome: &ReconcileOutcome) -> Option<Touched> {
    if outcome.error.is_some() {
        return None;
    }
    let mut touched = Touched::default();
    for action in &outcome.performed {
        match action {
            Action::CreateEndpoint(_) => touched.endpoints.insert(outcome.status.endpoint_id.clone()?),
            Action::ModifyEndpoint(m) => touched.endpoints.insert(m.vpc_endpoint_id.clone()),
            Action::DeleteEndpoint { vpc_endpoint_id }
            | Action::SetEndpointTags { vpc_endpoint_id, .. }
            | Action::RemoveEndpointTags { vpc_endpoint_id, .. } => {
                touched.endpoints.insert(vpc_endpoint_id.clone())
            }
            Action::TagEndpoint(t) => touched.endpoints.insert(t.vpc_endpoint_id.clone()),
            Action::AuthorizeRules(requests) => {
                touched.groups.extend(requests.iter().map(|r| r.group_id.clone()));
                true
            }
            Action::RevokeRules(batches) => {
                touched.groups.extend(batches.iter().map(|b| b.group_id.clone()));
                true
            }
            Action::HandOverRules(_) | Action::TagRules(_) => return None,
        };
    }
    Some(touched)
}

fn is_moving(endpoint: &VpcEndpoint) -> bool {
    endpoint.state.as_deref().is_some_and(|s| MOVING.contains(&s))
}
