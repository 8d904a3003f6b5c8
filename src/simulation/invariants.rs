//! The seven invariants of issue 9, and an eighth for the canary's rollback (issue 14), checked
//! after every step of a simulated run.
//!
//! The oracle is the real analysis ([`analysis::analyze`]) of each object's spec over the world
//! as the simulated EC2 holds it at that moment, not as the controller last saw it:
//! - a client *uses a path* to the object's endpoint when the endpoint serves (`available`, or
//!   `pending` while a change is applied) and the analysis finds the client reachable (every
//!   address it sends from passes both security groups and both network ACLs);
//! - a DNS name *can lead* a client to the endpoint while the endpoint has private DNS on, or
//!   had it on less than [`RECORD_TTL`] ago (resolvers cache the service's record that long).
//!   The name is the service's private DNS name: the one that sends clients to the endpoint
//!   without their asking (the endpoint's own `vpce-…` names are only used on purpose). A
//!   period of private DNS on that someone else began and ended between two looks of the
//!   controller's that listed the endpoint (any object's pass, by VPC or by id) is theirs: the
//!   controller had nothing to go by.
//!
//! Changes by others (people, the service's owner, EC2 itself) may cut clients off; that is
//! what they are for. Invariants 1 and 2 hold the controller's own calls to account, each
//! checked right after the call took effect, against the paths as they were right before it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::analysis;
use crate::api::conditions::{ConditionType, find_condition};
use crate::api::{
    DeletionPolicy, InterfaceEndpointSpec, InterfaceEndpointStatus, OWNER_TAG, Owner, RollbackStatus,
    RolloutPhase, UID_TAG,
};
use crate::aws::Ec2Operation;
use crate::aws::sim::SimEc2;
use crate::model::{SecurityGroupRule, Snapshot, Tag, VpcEndpoint, tag_pairs};
use crate::plan::{Config, deletion};

/// How long a resolver may keep answering with a private DNS record after private DNS was
/// turned off: the TTL AWS gives the records of its services' names.
pub const RECORD_TTL: Duration = Duration::from_secs(60);

/// The invariants, numbered as in issue 9.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// 1. The controller never turns private DNS on while an analysed client is blocked,
    ///    unless `privateDns.force`.
    PrivateDnsOnlyWhenReachable,
    /// 2. The controller's own calls never remove a path a client uses while a DNS name can
    ///    lead it to the endpoint.
    NoPathRemovedWhileResolvable,
    /// 3. At most one endpoint per object at any time.
    OneEndpointPerObject,
    /// 4. No rule (nor endpoint) without both of the object's owner tags is revoked or modified.
    OnlyOwnResourcesTouched,
    /// 5. After deletion completes: no owned rule and (Delete) no endpoint remains.
    NothingLeftAfterDeletion,
    /// 6. Once faults stop, every object reaches Ready or a documented resting state in time.
    SettlesOnceFaultsStop,
    /// 7. The status never claims more than AWS shows.
    StatusClaimsHold,
    /// 8. A rollback of the canary's holds: once a status recorded private DNS turned off for
    ///    rejected sources, the controller turns it on again on that endpoint only when every
    ///    one of them the analysis checks reaches it (their plan applied), `privateDns.force`
    ///    or not.
    RollbackHolds,
}

impl Invariant {
    pub const ALL: [Invariant; 8] = [
        Self::PrivateDnsOnlyWhenReachable,
        Self::NoPathRemovedWhileResolvable,
        Self::OneEndpointPerObject,
        Self::OnlyOwnResourcesTouched,
        Self::NothingLeftAfterDeletion,
        Self::SettlesOnceFaultsStop,
        Self::StatusClaimsHold,
        Self::RollbackHolds,
    ];

    pub fn number(self) -> usize {
        Self::ALL.iter().position(|i| *i == self).map_or(0, |p| p + 1)
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::PrivateDnsOnlyWhenReachable => "1 private DNS on with a blocked client",
            Self::NoPathRemovedWhileResolvable => "2 path removed while DNS leads there",
            Self::OneEndpointPerObject => "3 more than one endpoint per object",
            Self::OnlyOwnResourcesTouched => "4 touched what it does not own",
            Self::NothingLeftAfterDeletion => "5 left behind after deletion",
            Self::SettlesOnceFaultsStop => "6 not settled once faults stopped",
            Self::StatusClaimsHold => "7 status claims more than AWS shows",
            Self::RollbackHolds => "8 private DNS on again past a rollback",
        }
    }
}

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    /// Virtual time.
    pub at: Duration,
    pub message: String,
}

/// What a call of the controller's changes of what exists already, for invariant 4.
pub(crate) enum Touch<'a> {
    Nothing,
    /// Rules revoked.
    Revoked(&'a [String]),
    /// Rules given these tags (a handover, or taken over).
    TaggedRules(&'a [String], &'a [Tag]),
    /// Endpoints modified or deleted.
    Endpoints(&'a [String]),
    /// Endpoints given these tags (taken over).
    TaggedEndpoints(&'a [String], &'a [Tag]),
}

/// What made the world change.
#[derive(Clone, Debug)]
pub(crate) enum Cause {
    /// A call of the controller's, on behalf of one object.
    Controller { owner: Owner, operation: Ec2Operation },
    /// Someone else (people, the service's owner, EC2 itself).
    Outside,
}

/// An object the checker watches. It stays watched after its deletion: a retained endpoint
/// still serves clients, and nothing of a deleted one may come back.
#[derive(Clone, Debug)]
struct Watched {
    owner: Owner,
    spec: InterfaceEndpointSpec,
    finalized: bool,
    /// Invariant 5 is reported once per object.
    leftovers_reported: bool,
}

/// Checks invariants 1-5 and 7 as the run goes, and 6 at its end.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    /// The controller's configuration (its default deletion policy).
    config: Config,
    objects: BTreeMap<String, Watched>,
    /// Endpoints with private DNS on at the last check, and whether the controller saw it on
    /// during this period (or turned it on itself).
    dns_on: BTreeMap<String, bool>,
    /// When private DNS last went off on each endpoint, after a period the controller saw.
    dns_last_on: BTreeMap<String, Duration>,
    /// Per object a DNS name could lead to at the last check: the clients that used a path to
    /// its endpoint then.
    paths: BTreeMap<String, BTreeSet<String>>,
    /// Per object, the last rollback a status of its recorded (invariant 8), and whether it
    /// ended: private DNS went on again with every held source reaching the endpoint (the
    /// status of that very pass, written after the call, still carries it), or the spec no
    /// longer asks for private DNS. A status written later without it (a deposed leader's)
    /// does not end it.
    rollbacks: BTreeMap<String, (RollbackStatus, bool)>,
    pub violations: Vec<Violation>,
}

/// The world as the checker reads it: endpoints and rules at once, the whole snapshot only when
/// an analysis needs it (most checks do not, and a snapshot is the costliest read).
pub(crate) struct View<'a> {
    sim: &'a SimEc2,
    endpoints: Vec<VpcEndpoint>,
    rules: Vec<SecurityGroupRule>,
    snapshot: Option<Snapshot>,
}

impl<'a> View<'a> {
    pub(crate) fn new(sim: &'a SimEc2) -> Self {
        Self {
            sim,
            endpoints: sim.endpoints(),
            rules: sim.rules(),
            snapshot: None,
        }
    }

    fn snapshot(&mut self) -> &Snapshot {
        self.snapshot.get_or_insert_with(|| self.sim.snapshot())
    }
}

fn key(owner: &Owner) -> String {
    owner.owner_tag()
}

fn owned_endpoints<'a>(
    endpoints: &'a [VpcEndpoint],
    owner: &'a Owner,
) -> impl Iterator<Item = &'a VpcEndpoint> {
    endpoints
        .iter()
        .filter(move |e| owner.owns(tag_pairs(&e.tags)) && e.state_lower() != "deleted")
}

fn owned_rules<'a>(
    rules: &'a [SecurityGroupRule],
    owner: &'a Owner,
) -> impl Iterator<Item = &'a SecurityGroupRule> {
    rules.iter().filter(move |r| owner.owns(tag_pairs(&r.tags)))
}

fn list<'a>(ids: impl IntoIterator<Item = &'a String>) -> String {
    ids.into_iter().map(String::as_str).collect::<Vec<_>>().join(", ")
}

impl Checker {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// An object was created, or its spec edited.
    pub(crate) fn watch(&mut self, owner: &Owner, spec: &InterfaceEndpointSpec) {
        let entry = self.objects.entry(owner.uid.clone()).or_insert_with(|| Watched {
            owner: owner.clone(),
            spec: spec.clone(),
            finalized: false,
            leftovers_reported: false,
        });
        entry.spec = spec.clone();
        if !spec.private_dns.enabled {
            self.rollbacks.remove(&owner.uid);
        }
    }

    /// The object's finalizer went: its deletion is complete.
    pub(crate) fn finalized(&mut self, owner: &Owner) {
        if let Some(w) = self.objects.get_mut(&owner.uid) {
            w.finalized = true;
        }
    }

    fn violate(&mut self, invariant: Invariant, at: Duration, message: String) {
        self.violations.push(Violation {
            invariant,
            at,
            message,
        });
    }

    /// After the world changed: invariants 1, 2, 3 and 5.
    pub(crate) fn after_change(&mut self, world: &mut View<'_>, now: Duration, cause: &Cause) {
        // A period of private DNS on that someone else began and ended between two looks of the
        // controller's gave it nothing to go by: the answers cached then are the other party's
        // doing. Every period the controller saw (or began) counts, until a record TTL after it.
        let controller = matches!(cause, Cause::Controller { .. });
        let now_on: BTreeMap<String, bool> = world
            .endpoints
            .iter()
            .filter(|e| e.private_dns_enabled && e.state_lower() != "deleted")
            .map(|e| {
                let seen = self.dns_on.get(&e.vpc_endpoint_id).copied().unwrap_or(controller);
                (e.vpc_endpoint_id.clone(), seen)
            })
            .collect();
        for (id, seen) in &self.dns_on {
            if *seen && !now_on.contains_key(id) {
                self.dns_last_on.insert(id.clone(), now);
            }
        }
        let was_on = std::mem::replace(&mut self.dns_on, now_on);

        let watched: Vec<(String, Watched)> =
            self.objects.iter().map(|(k, w)| (k.clone(), w.clone())).collect();
        for (uid, w) in watched {
            let endpoints: Vec<VpcEndpoint> = owned_endpoints(&world.endpoints, &w.owner).cloned().collect();
            self.one_endpoint(&w, &endpoints, now);
            let policy = deletion::policy(&w.spec, &self.config);
            if w.finalized && !w.leftovers_reported && policy == DeletionPolicy::Delete {
                self.nothing_left(&uid, &w, &endpoints, &world.rules, now);
            }

            let exposed = endpoints.iter().any(|e| {
                e.private_dns_enabled
                    || self
                        .dns_last_on
                        .get(&e.vpc_endpoint_id)
                        .is_some_and(|t| now < *t + RECORD_TTL)
            });
            let turned_on: Vec<String> = endpoints
                .iter()
                .filter(|e| e.private_dns_enabled && !was_on.contains_key(&e.vpc_endpoint_id))
                .map(|e| e.vpc_endpoint_id.clone())
                .collect();
            if !exposed {
                self.paths.remove(&uid);
                continue;
            }
            let endpoint_ids = list(endpoints.iter().map(|e| &e.vpc_endpoint_id));
            // A spec the analysis refuses (the controller reports it InvalidSpec) says nothing
            // about paths: the last ones known stand.
            let Ok(serving) = verdicts(&w.spec, &w.owner, world.snapshot()) else {
                continue;
            };
            let (reachable, blocked) = serving.clone().unwrap_or_default();
            let before = self.paths.insert(uid.clone(), reachable);
            let Cause::Controller { owner, operation } = cause else {
                continue;
            };
            if !turned_on.is_empty() {
                self.rollback_holds(
                    &uid,
                    &w,
                    &turned_on,
                    world.snapshot().clone(),
                    owner,
                    *operation,
                    now,
                );
            }
            let forced = w.spec.private_dns.enabled && w.spec.private_dns.force;
            if !turned_on.is_empty() && !blocked.is_empty() && !forced {
                self.violate(
                    Invariant::PrivateDnsOnlyWhenReachable,
                    now,
                    format!(
                        "{operation} by {} turned private DNS of {} on ({}) while {} blocked",
                        key(owner),
                        key(&w.owner),
                        list(&turned_on),
                        list(&blocked)
                    ),
                );
            }
            // Lost: every path, with the endpoint; else the paths of clients now blocked (a
            // client the spec no longer selects, or whose ENI is gone, lost nothing).
            let cut: Vec<&String> = before
                .iter()
                .flatten()
                .filter(|c| serving.is_none() || blocked.contains(*c))
                .collect();
            // `force` is the user accepting blocked clients for the object's own endpoint: its
            // spec changes are applied even so (docs/rollout.md). Never another object's.
            let accepted =
                forced && *operation == Ec2Operation::ModifyVpcEndpoint && owner.uid == w.owner.uid;
            if !cut.is_empty() && !accepted {
                let dns = if endpoints.iter().any(|e| e.private_dns_enabled) {
                    "on"
                } else {
                    "off less than a record TTL ago"
                };
                self.violate(
                    Invariant::NoPathRemovedWhileResolvable,
                    now,
                    format!(
                        "{operation} by {} cut {} off the endpoint of {} ({endpoint_ids}, private DNS {dns})",
                        key(owner),
                        list(cut),
                        key(&w.owner),
                    ),
                );
            }
        }
    }

    /// Invariant 8: private DNS went on again on `turned_on` by a call of `by`'s; the rollback
    /// the object's status recorded on one of them holds while a source it holds is blocked.
    #[allow(clippy::too_many_arguments)]
    fn rollback_holds(
        &mut self,
        uid: &str,
        w: &Watched,
        turned_on: &[String],
        world: Snapshot,
        by: &Owner,
        operation: Ec2Operation,
        now: Duration,
    ) {
        let Some((rollback, false)) = self.rollbacks.get(uid) else {
            return;
        };
        if !turned_on.contains(&rollback.endpoint_id) {
            return;
        }
        let Ok(found) = analysis::analyze(&w.spec, Some(&w.owner), &world) else {
            return;
        };
        let blocked: Vec<String> = rollback
            .rejected
            .iter()
            .filter_map(|r| {
                let address = r.address.parse().ok()?;
                let client = crate::plan::canary::client_at(Some(&found), address)?;
                (!client.is_reachable()).then(|| format!("{} ({})", r.address, client.network_interface_id))
            })
            .collect();
        if blocked.is_empty() {
            if let Some(entry) = self.rollbacks.get_mut(uid) {
                entry.1 = true;
            }
            return;
        }
        let endpoint = rollback.endpoint_id.clone();
        self.violate(
            Invariant::RollbackHolds,
            now,
            format!(
                "{operation} by {} turned private DNS of {} on again on {endpoint}, rolled back for sources still blocked: {}",
                key(by),
                key(&w.owner),
                blocked.join(", ")
            ),
        );
    }

    /// A pass of the controller's listed `endpoints` (all of a VPC's, or some by id): it has
    /// seen private DNS on where it is on them, and nothing of the others.
    pub(crate) fn looked(&mut self, endpoints: &[VpcEndpoint]) {
        for e in endpoints {
            if let Some(seen) = self.dns_on.get_mut(&e.vpc_endpoint_id) {
                *seen = true;
            }
        }
    }

    /// Invariant 3.
    fn one_endpoint(&mut self, w: &Watched, endpoints: &[VpcEndpoint], now: Duration) {
        if endpoints.len() > 1 {
            let ids = list(endpoints.iter().map(|e| &e.vpc_endpoint_id));
            self.violate(
                Invariant::OneEndpointPerObject,
                now,
                format!("{} owns {} endpoints: {ids}", key(&w.owner), endpoints.len()),
            );
        }
    }

    /// Invariant 5, for an object deleted with `deletionPolicy: Delete`.
    fn nothing_left(
        &mut self,
        uid: &str,
        w: &Watched,
        endpoints: &[VpcEndpoint],
        rules: &[SecurityGroupRule],
        now: Duration,
    ) {
        let rules: Vec<&String> = owned_rules(rules, &w.owner)
            .map(|r| &r.security_group_rule_id)
            .collect();
        if endpoints.is_empty() && rules.is_empty() {
            return;
        }
        self.violate(
            Invariant::NothingLeftAfterDeletion,
            now,
            format!(
                "{} was deleted (Delete) and still owns endpoints [{}] and rules [{}]",
                key(&w.owner),
                list(endpoints.iter().map(|e| &e.vpc_endpoint_id)),
                list(rules)
            ),
        );
        if let Some(w) = self.objects.get_mut(uid) {
            w.leftovers_reported = true;
        }
    }

    /// Before a call of the controller's that changes what exists: invariant 4 on what it
    /// names. Tagging changes nothing when the tags are there already (a deposed leader's
    /// handover landing after the new leader made the same one); and an object may take over
    /// what its earlier self of the same name left (docs/rollout.md: a re-created object takes
    /// over its endpoint and rules), never what a live object owns.
    pub(crate) fn before_mutation(
        &mut self,
        world: &View<'_>,
        now: Duration,
        owner: &Owner,
        operation: Ec2Operation,
        touch: &Touch<'_>,
    ) {
        let (ids, new_tags, rules): (&[String], Option<&[Tag]>, bool) = match touch {
            Touch::Nothing => return,
            Touch::Revoked(ids) => (ids, None, true),
            Touch::TaggedRules(ids, tags) => (ids, Some(tags), true),
            Touch::Endpoints(ids) => (ids, None, false),
            Touch::TaggedEndpoints(ids, tags) => (ids, Some(tags), false),
        };
        for id in ids {
            let (tags, what) = if rules {
                match world.rules.iter().find(|r| &r.security_group_rule_id == id) {
                    Some(rule) => (&rule.tags, format!("rule {id} on {}", rule.group_id)),
                    None => continue,
                }
            } else {
                match world.endpoints.iter().find(|e| &e.vpc_endpoint_id == id) {
                    Some(e) => (&e.tags, format!("endpoint {id}")),
                    None => continue,
                }
            };
            let unchanged = new_tags.is_some_and(|new| new.iter().all(|t| tags.contains(t)));
            let taken_over = new_tags.is_some() && self.left_by_earlier_self(owner, tags);
            if !owner.owns(tag_pairs(tags)) && !unchanged && !taken_over {
                let tags: Vec<_> = tag_pairs(tags).collect();
                self.violate(
                    Invariant::OnlyOwnResourcesTouched,
                    now,
                    format!("{operation} by {} of {what}, tagged {tags:?}", key(owner)),
                );
            }
        }
    }

    /// Whether `tags` name an earlier object of `owner`'s namespace and name, deleted since.
    fn left_by_earlier_self(&self, owner: &Owner, tags: &[Tag]) -> bool {
        let mut same_name = false;
        let mut earlier_gone = false;
        for (k, v) in tag_pairs(tags) {
            if k == OWNER_TAG && v == owner.owner_tag() {
                same_name = true;
            }
            if k == UID_TAG && v != owner.uid {
                earlier_gone = self.objects.get(v).is_none_or(|w| w.finalized);
            }
        }
        same_name && earlier_gone
    }

    /// A status was written over `stored`: invariant 7. A pass that observed the world claims
    /// nothing AWS does not show at this moment; a pass that could not look (a describe
    /// failed) re-states the claims already written, and adds none.
    pub(crate) fn status_written(
        &mut self,
        world: &View<'_>,
        now: Duration,
        owner: &Owner,
        written: &InterfaceEndpointStatus,
        stored: Option<&InterfaceEndpointStatus>,
        observed: bool,
    ) {
        if let Some(rollback) = &written.rollback {
            let ended = self
                .rollbacks
                .get(&owner.uid)
                .is_some_and(|(r, ended)| *ended && r.time == rollback.time);
            if !ended {
                self.rollbacks
                    .insert(owner.uid.clone(), (rollback.clone(), false));
            }
        }
        let claims = Claims::of(written);
        let restated = stored.map(Claims::of).unwrap_or_default();
        let who = key(owner);
        if let Some(id) = &claims.private_dns_on {
            let on = world
                .endpoints
                .iter()
                .any(|e| &e.vpc_endpoint_id == id && e.private_dns_enabled);
            let backed = if observed {
                on
            } else {
                restated.private_dns_on.as_ref() == Some(id)
            };
            if !backed {
                self.violate(
                    Invariant::StatusClaimsHold,
                    now,
                    format!("status of {who} says private DNS is on for {id}; EC2 shows it off or gone"),
                );
            }
        }
        for rule in &claims.rules {
            let backed = if observed {
                world.rules.iter().any(|r| rule.matches(r))
            } else {
                restated.rules.contains(rule)
            };
            if !backed {
                self.violate(
                    Invariant::StatusClaimsHold,
                    now,
                    format!("status of {who} lists {rule} as in place; EC2 has no such rule"),
                );
            }
        }
    }

    /// At the end of the quiet period: invariant 6 for an object still in the cluster.
    pub(crate) fn settled(&mut self, now: Duration, owner: &Owner, status: &InterfaceEndpointStatus) {
        if let Some(problem) = unsettled(status) {
            self.violate(
                Invariant::SettlesOnceFaultsStop,
                now,
                format!("{} {problem} after the quiet period", key(owner)),
            );
        }
    }

    /// Invariant 6 for an object whose deletion did not complete in the quiet period.
    pub(crate) fn not_deleted(&mut self, now: Duration, owner: &Owner, status: &InterfaceEndpointStatus) {
        let reason = find_condition(&status.conditions, ConditionType::Ready)
            .map(|c| format!("{}: {}", c.reason, c.message))
            .unwrap_or_default();
        self.violate(
            Invariant::SettlesOnceFaultsStop,
            now,
            format!(
                "{} is still being deleted after the quiet period ({reason})",
                key(owner)
            ),
        );
    }
}

/// What a status claims about AWS: private DNS on (for which endpoint), and the rules it
/// lists as in place.
#[derive(Debug, Default)]
struct Claims {
    private_dns_on: Option<String>,
    rules: Vec<ClaimedRule>,
}

#[derive(Debug, PartialEq, Eq)]
struct ClaimedRule {
    group_id: String,
    egress: bool,
    ports: (u16, u16),
    peer_group_id: Option<String>,
    cidr: Option<String>,
}

impl Claims {
    fn of(status: &InterfaceEndpointStatus) -> Claims {
        let private_dns_on = status
            .private_dns_enabled
            .then(|| status.endpoint_id.clone().unwrap_or_default());
        let rules = status
            .plan
            .iter()
            .flat_map(|p| &p.rules)
            .filter(|r| r.applied)
            .map(|r| ClaimedRule {
                group_id: r.group_id.clone(),
                egress: r.direction == "egress",
                ports: (r.from_port, r.to_port),
                peer_group_id: r.peer_group_id.clone(),
                cidr: r.cidr.clone(),
            })
            .collect();
        Claims {
            private_dns_on,
            rules,
        }
    }
}

impl ClaimedRule {
    fn matches(&self, rule: &SecurityGroupRule) -> bool {
        rule.group_id == self.group_id
            && rule.is_egress == self.egress
            && rule.from_port == Some(i32::from(self.ports.0))
            && rule.to_port == Some(i32::from(self.ports.1))
            && match (&self.peer_group_id, &self.cidr) {
                (Some(g), _) => rule
                    .referenced_group_info
                    .as_ref()
                    .is_some_and(|i| &i.group_id == g),
                (None, Some(c)) => [&rule.cidr_ipv4, &rule.cidr_ipv6, &rule.prefix_list_id]
                    .into_iter()
                    .any(|peer| peer.as_ref() == Some(c)),
                (None, None) => false,
            }
    }
}

impl std::fmt::Display for ClaimedRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let direction = if self.egress { "egress" } else { "ingress" };
        let peer = self
            .peer_group_id
            .as_ref()
            .or(self.cidr.as_ref())
            .map_or("?", String::as_str);
        write!(
            f,
            "{} {direction} {}-{} {peer}",
            self.group_id, self.ports.0, self.ports.1
        )
    }
}

/// The phases and Ready reasons an object may rest in once nothing changes any more, as
/// docs/rollout.md documents them: Ready; a wait on a person (an approval, a mode `Off` or a
/// network ACL, the service's owner accepting the endpoint, rejected connections nothing the
/// controller may do fixes, a rollback held for a plan that waits); or a Failed reason that
/// needs the spec or the account fixed. `None` when `status` is one of them, else what is wrong.
pub(crate) fn unsettled(status: &InterfaceEndpointStatus) -> Option<String> {
    let ready = find_condition(&status.conditions, ConditionType::Ready);
    let reason = ready.map(|c| c.reason.as_str()).unwrap_or("");
    let settled = match status.phase {
        RolloutPhase::Ready
        | RolloutPhase::AwaitingApproval
        | RolloutPhase::Blocked
        | RolloutPhase::AwaitingAcceptance => true,
        // The canary's: connections rejected that nothing the controller may do fixes now
        // (ClientsRejected), or a rollback that would cut off more than it restores
        // (RollbackRefused): a person fixes the network or the spec.
        RolloutPhase::Degraded => matches!(
            reason,
            "AwaitingApproval"
                | "StalePlanId"
                | "UnknownPlanId"
                | "ClientsBlocked"
                | "ClientsRejected"
                | "RollbackRefused"
        ),
        // A rollback holds private DNS off until the plan for the rejected sources is applied,
        // and that plan waits on a person.
        RolloutPhase::RolledBack => matches!(
            reason,
            "AwaitingApproval" | "StalePlanId" | "UnknownPlanId" | "ClientsBlocked"
        ),
        RolloutPhase::Failed => matches!(
            reason,
            "InvalidSpec"
                | "EndpointFailed"
                | "EndpointRejected"
                | "AcceptanceTimedOut"
                | "AdoptionRefused"
                | "ManagedByAnotherCluster"
                | "PreconditionFailed"
                | "VpcDnsSupportDisabled"
                | "VpcDnsHostnamesDisabled"
                | "ConflictingPrivateDns"
                | "NoPrivateDnsName"
                | "NoGatewayEndpoint"
        ),
        _ => false,
    };
    (!settled).then(|| {
        format!(
            "is {} ({reason}: {})",
            status.phase,
            ready.map(|c| c.message.as_str()).unwrap_or("")
        )
    })
}

/// Clients that use a path to the endpoint, and analysed clients that are blocked.
type Verdicts = (BTreeSet<String>, BTreeSet<String>);

/// The clients that use a path to the object's endpoint (reachable by the analysis), and the
/// analysed clients that are blocked; `None` when the endpoint serves nobody: gone, being
/// deleted, failed, rejected, or not accepted yet by the service's owner.
fn verdicts(
    spec: &InterfaceEndpointSpec,
    owner: &Owner,
    world: &Snapshot,
) -> Result<Option<Verdicts>, analysis::AnalysisError> {
    let a = analysis::analyze(spec, Some(owner), world)?;
    let serving = world
        .vpc_endpoints
        .iter()
        .find(|e| Some(&e.vpc_endpoint_id) == a.endpoint_id.as_ref())
        .is_some_and(|e| matches!(e.state_lower().as_str(), "available" | "pending"));
    if !serving {
        return Ok(None);
    }
    let ids = |clients: Vec<&analysis::ClientVerdict>| {
        clients
            .into_iter()
            .map(|c| c.network_interface_id.clone())
            .collect()
    };
    let (reachable, blocked): (Vec<_>, Vec<_>) = a.clients.iter().partition(|c| c.is_reachable());
    Ok(Some((ids(reachable), ids(blocked))))
}
