//! The controller's side of a pass, as `controller::reconcile` does it, around the real engine.
//!
//! A faithful model, not the function itself: `controller::reconcile::reconcile_object` talks
//! to the API server through `kube::Api` and `Recorder`, which would need an API server per seed
//! (the e2e tests run it against one; 2,000 seeds a minute cannot). It follows the same steps in
//! the same order, and shares what is not I/O: [`grants::decide`], [`tenancy::reconcile_object`]
//! (the port of where the object acts, and the engine: everything that decides and calls EC2),
//! [`backoff`] and [`waits_on_a_person`]:
//!
//! 1. a deleting object without the finalizer is done; otherwise the finalizer is added
//!    (a Kubernetes write: a new resourceVersion, and a watch event, so the object is
//!    reconciled again right after);
//! 2. the grant's verdict: one grant admits every object (the chart's `singleTeamGrant`;
//!    tenancy itself is not what the simulation is about);
//! 3. the pass: the EC2 port of where the object acts, and the engine;
//! 4. the status, written only when it changed, carrying the resourceVersion the pass read:
//!    refused (409) when the object was written since, and then decided again from a fresh
//!    read (not an error); then the Events (not recorded: no invariant reads them; the
//!    canary's are counted, by reaction);
//! 5. the finalizer removed once the engine says deletion is complete;
//! 6. the requeue: an error that clears by itself backs off per object (2 s doubling to 5
//!    minutes), a wait on a person requeues as the engine says, anything else requeues as the
//!    engine says (resync by default) and forgets the failures.
//!
//! What the model adds is what can go wrong between those steps: the process dying between
//! any two calls (what it did not write is lost; memory is lost; every object is reconciled
//! again after the restart), the API server failing the status write (a 5xx), and a leader
//! change with the old leader's last call (or status write) landing after the new leader
//! decided.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::FutureExt;

use super::invariants::View;
use super::port::{ChaosProvider, CrashPoint, Hold, Script, lock};
use super::report::FaultKind;
use super::run::{LEASE_DURATION, Run};
use crate::api::{EndpointGrantSpec, InterfaceEndpointStatus};
use crate::aws::Ec2Provider;
use crate::controller::reconcile::{backoff, waits_on_a_person};
use crate::engine::{ReconcileRequest, tenancy};
use crate::grants::{self, Grant, Subject};

/// What the seed does to one pass.
#[derive(Clone, Copy, Debug, Default)]
struct PassPlan {
    crash: Option<CrashPoint>,
    hold: Option<u32>,
    die_before_finalizer: bool,
    status_write_lost: bool,
    status_write_refused: bool,
    status_lands_late: bool,
    die_before_finalizer_removal: bool,
}

impl Run {
    fn draw_plan(&mut self) -> PassPlan {
        let mut plan = PassPlan::default();
        match self.rng.below(100) {
            0..=2 => plan.crash = Some(CrashPoint::AfterCall(self.rng.below(14) as u32)),
            3..=5 => plan.crash = Some(CrashPoint::AfterMutation(self.rng.below(2) as u32)),
            6 | 7 => plan.status_write_lost = true,
            8 | 9 => plan.status_write_refused = true,
            10 => plan.die_before_finalizer = true,
            11 => plan.die_before_finalizer_removal = true,
            12 | 13 => plan.hold = Some(self.rng.below(2) as u32),
            14 => plan.status_lands_late = true,
            _ => {}
        }
        plan
    }

    /// The process died: memory is gone, and the restarted controller lists every object and
    /// reconciles it after `delay`.
    fn restart(&mut self, kind: FaultKind) {
        self.fault(kind);
        // A restarted pod is back and has listed the objects after this long.
        let delay = self.rng.between(Duration::from_secs(5), Duration::from_secs(40));
        let at = self.now() + delay;
        self.log(|| {
            format!(
                "{}: the controller restarts, every object is reconciled again",
                kind.as_str()
            )
        });
        self.memory.failures.clear();
        self.memory.observations = Default::default();
        let uids: Vec<String> = self.cluster.objects.keys().cloned().collect();
        self.memory.wake.clear();
        for uid in uids {
            self.memory.wake.insert(uid, at);
        }
    }

    /// The old leader lost the Lease; after the lease duration the new leader starts with an
    /// empty memory and reconciles `uid` first (its decision is what the old leader's late
    /// write races), then everything else.
    fn new_leader(&mut self, uid: &str) {
        self.log(|| "the leader loses its Lease; a standby takes over".into());
        self.clock.advance(LEASE_DURATION);
        self.memory.failures.clear();
        self.memory.observations = Default::default();
        self.memory.wake.clear();
        self.pass(uid, false);
        let now = self.now();
        let uids: Vec<String> = self.cluster.objects.keys().cloned().collect();
        for other in uids {
            self.memory.wake_soon(&other, now);
        }
        let on_the_wire = self.rng.between(Duration::from_secs(1), Duration::from_secs(10));
        self.clock.advance(on_the_wire);
    }

    /// Writes a status by server-side apply carrying the resourceVersion `read`, as the API
    /// server stores it, and checks invariant 7 if it lands: `observed` says whether the pass
    /// that decided it looked at the world. Returns whether it landed; it does not when the
    /// object was written since `read` (409, as `controller::writes::apply_status` is refused).
    fn write_status(
        &mut self,
        uid: &str,
        read: u64,
        status: InterfaceEndpointStatus,
        observed: bool,
    ) -> bool {
        let Some(object) = self.cluster.objects.get(uid) else {
            return false;
        };
        if object.resource_version != read {
            let key = object.owner.owner_tag();
            self.log(|| {
                format!(
                    "  {key}: the status write is refused (409): the object changed since the pass read it"
                )
            });
            return false;
        }
        let world = View::new(&self.sim);
        let now = self.now();
        lock(&self.shared).checker.status_written(
            &world,
            now,
            &object.owner,
            &status,
            object.status.as_ref(),
            observed,
        );
        self.cluster.write_status(uid, read, status)
    }

    /// One reconcile of `uid` by the controller (see the module docs); `chaos` lets the seed
    /// crash it, fail its status write or move leadership in its middle.
    pub(crate) fn pass(&mut self, uid: &str, chaos: bool) {
        self.memory.wake.remove(uid);
        let Some(object) = self.cluster.objects.get(uid).cloned() else {
            return;
        };
        self.step();
        lock(&self.shared).tally.passes += 1;
        let plan = if chaos {
            self.draw_plan()
        } else {
            PassPlan::default()
        };
        let now = self.now();
        let key = object.owner.owner_tag();
        self.log(|| {
            let status = object.status.clone().unwrap_or_default();
            format!(
                "pass {key} (generation {}{}, phase {})",
                object.generation,
                if object.deleting { ", deleting" } else { "" },
                status.phase
            )
        });

        // 1. finalizer.
        if object.deleting && !object.finalizer {
            self.forget(uid);
            return;
        }
        let mut finalizer_added = false;
        let mut read = object.resource_version;
        if !object.deleting && !object.finalizer {
            if plan.die_before_finalizer {
                self.restart(FaultKind::Crash);
                return;
            }
            read = self.cluster.add_finalizer(uid).expect("the object is there");
            finalizer_added = true;
        }

        // 2. the grant's verdict (one grant admits everything: the chart's singleTeamGrant),
        // then 3. the pass: the port of where the object acts, the engine, through the seed's
        // port.
        let previous = object.status.clone().unwrap_or_default();
        let labels = BTreeMap::new();
        let grant = EndpointGrantSpec::single_team();
        let grants = [Grant {
            name: "single-team",
            spec: &grant,
        }];
        let controller_region = self.provider.default_region();
        let subject = Subject {
            namespace: &object.owner.namespace,
            name: &object.owner.name,
            namespace_labels: &labels,
            spec: &object.spec,
            status: &previous,
            controller_region: controller_region.as_deref(),
        };
        let verdict = grants::decide(&subject, &grants, &[]);
        let mut script = Script::new(object.owner.clone());
        script.crash = plan.crash;
        script.hold = plan.hold.map_or(Hold::None, Hold::Armed);
        let script = Arc::new(Mutex::new(script));
        let provider = ChaosProvider {
            worlds: self.provider.clone(),
            shared: self.shared.clone(),
            script: script.clone(),
        };
        let timing = self.timing.clone();
        let config = self.config.clone();
        let observations = self.memory.observations.clone();
        let request = ReconcileRequest {
            spec: &object.spec,
            generation: Some(object.generation),
            owner: &object.owner,
            deleting: object.deleting,
            status: &previous,
            config: &config,
            now: self.clock.timestamp(),
            observations: Some(&observations),
            resolver: None,
        };
        let mut future = Box::pin(tenancy::reconcile_object(&provider, &request, &verdict, &timing));
        let mut cx = Context::from_waker(Waker::noop());
        let outcome = match future.as_mut().poll(&mut cx) {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => {
                // A mutation is on the wire as the leader loses its Lease.
                self.new_leader(uid);
                lock(&script).hold = Hold::Released;
                let _ = future
                    .as_mut()
                    .now_or_never()
                    .expect("a released call lands at once");
                self.fault(FaultKind::LeaderChangeCall);
                // The old process exits and restarts as a standby: nothing else of it happens.
                return;
            }
        };
        drop(future);
        if lock(&script).dead {
            self.restart(FaultKind::Crash);
            return;
        }
        self.log(|| {
            format!(
                "  {key}: phase {}, requeue {:?}{}{}",
                outcome.status.phase,
                outcome.requeue,
                outcome
                    .error
                    .as_ref()
                    .map(|e| format!(", error {} {}", e.operation, e.code))
                    .unwrap_or_default(),
                if outcome.finalized { ", finalized" } else { "" }
            )
        });

        // What the canary did (its Events; counted here, as the controller records them after
        // the status write, which the faults below may lose).
        {
            let reactions = super::canary::reactions(&outcome.events, &outcome.status);
            let mut shared = lock(&self.shared);
            for r in reactions {
                shared.tally.reaction(r);
            }
        }

        // 4. the status.
        // A pass that rested on the VPC's shared snapshot restates the last status's claims
        // (it decides nothing new on a snapshot older than the pass: engine::observing).
        let observed = outcome.error.as_ref().is_none_or(|e| e.operation.is_mutation()) && !outcome.restated;
        if object.status.as_ref() != Some(&outcome.status) {
            if plan.status_write_lost {
                self.restart(FaultKind::StatusWriteLost);
                return;
            }
            if plan.status_write_refused {
                self.fault(FaultKind::StatusWriteFailed);
                self.log(|| format!("  {key}: the API server fails the status write (5xx)"));
                self.back_off(uid);
                return;
            }
            if plan.status_lands_late {
                // The old leader's write is on the wire; the new leader reconciles (and writes)
                // first, then the old write arrives, carrying the resourceVersion it read.
                self.new_leader(uid);
                self.fault(FaultKind::LeaderChangeStatus);
                if self.cluster.objects.contains_key(uid) {
                    self.log(|| format!("  {key}: the old leader's status write arrives late"));
                    self.write_status(uid, read, outcome.status, observed);
                }
                return;
            }
            if !self.write_status(uid, read, outcome.status.clone(), observed) {
                // Overtaken: decided again from a fresh read, not an error.
                self.memory
                    .wake
                    .insert(uid.to_string(), now + self.timing.after_change);
                return;
            }
        }

        // 5. the finalizer, once deletion is complete.
        if object.deleting && outcome.finalized {
            if plan.die_before_finalizer_removal {
                self.restart(FaultKind::Crash);
                return;
            }
            self.log(|| format!("  {key}: finalizer removed, the object is gone"));
            self.forget(uid);
            self.check_world();
            return;
        }

        // 6. requeue.
        let now = self.now();
        match (&outcome.error, outcome.requeue) {
            (Some(_), None) => self.back_off(uid),
            (Some(_), Some(wait)) => {
                self.memory.wake.insert(uid.to_string(), now + wait);
            }
            (None, wait) => {
                if waits_on_a_person(&outcome.status).is_none() {
                    self.memory.failures.remove(uid);
                }
                let wait = wait.unwrap_or(self.timing.resync);
                self.memory.wake.insert(uid.to_string(), now + wait);
            }
        }
        if finalizer_added {
            self.memory.wake_soon(uid, now);
        }
    }

    /// `controller::reconcile::error_policy`: one more failure, and its backoff.
    fn back_off(&mut self, uid: &str) {
        let now = self.now();
        let n = self.memory.failures.entry(uid.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        let at = now + backoff(*n);
        self.memory.wake.insert(uid.to_string(), at);
    }
}
