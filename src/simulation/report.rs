//! What runs add up to: counts of faults and outside changes by kind, steps, violations, and the
//! table `vpce-rollout simulate` prints.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use super::invariants::{Invariant, Violation};

/// A failure the simulation inflicts on the controller (EC2, Kubernetes, its own process).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// An injected `RequestLimitExceeded`.
    Throttled,
    /// `RequestLimitExceeded` from EC2's own token buckets (the calls of every object share them).
    BucketEmpty,
    /// An injected 5xx (`InternalError`, `Unavailable`).
    ServerError,
    /// A timeout before EC2 acted.
    TimeoutBeforeEffect,
    /// A timeout after EC2 acted (the ambiguous failure of a mutation).
    AmbiguousCreate,
    AmbiguousAuthorize,
    AmbiguousModify,
    AmbiguousRevoke,
    AmbiguousTag,
    AmbiguousDelete,
    /// EC2 did not list an endpoint it had just created, for up to 290 s (eventual
    /// consistency at its worst: describes do not show it, a modify of it is NotFound).
    NotFoundAfterCreate,
    /// EC2 kept an endpoint `pending` (or `deleting`) far longer than usual.
    StuckPending,
    LingeringDeleting,
    /// EC2 failed an endpoint that was being provisioned.
    EndpointFailed,
    /// The process died between two calls; what it had not written yet is lost.
    Crash,
    /// The process died after its EC2 calls, before the status write.
    StatusWriteLost,
    /// The API server failed the status write (a 5xx).
    StatusWriteFailed,
    /// Leadership moved in the middle of a pass: the old leader's EC2 call landed after the new
    /// leader had decided.
    LeaderChangeCall,
    /// Leadership moved as the old leader wrote the status: its write landed after the new
    /// leader's.
    LeaderChangeStatus,
}

impl FaultKind {
    /// Every kind, in the order of the table.
    pub const ALL: [FaultKind; 19] = [
        Self::Throttled,
        Self::BucketEmpty,
        Self::ServerError,
        Self::TimeoutBeforeEffect,
        Self::AmbiguousCreate,
        Self::AmbiguousAuthorize,
        Self::AmbiguousModify,
        Self::AmbiguousRevoke,
        Self::AmbiguousTag,
        Self::AmbiguousDelete,
        Self::NotFoundAfterCreate,
        Self::StuckPending,
        Self::LingeringDeleting,
        Self::EndpointFailed,
        Self::Crash,
        Self::StatusWriteLost,
        Self::StatusWriteFailed,
        Self::LeaderChangeCall,
        Self::LeaderChangeStatus,
    ];

    /// A timeout after a mutation took effect.
    pub fn is_ambiguous(self) -> bool {
        matches!(
            self,
            Self::AmbiguousCreate
                | Self::AmbiguousAuthorize
                | Self::AmbiguousModify
                | Self::AmbiguousRevoke
                | Self::AmbiguousTag
                | Self::AmbiguousDelete
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "throttled (injected)",
            Self::BucketEmpty => "throttled (token bucket)",
            Self::ServerError => "5xx",
            Self::TimeoutBeforeEffect => "timeout, no effect",
            Self::AmbiguousCreate => "timeout after CreateVpcEndpoint took effect",
            Self::AmbiguousAuthorize => "timeout after Authorize took effect",
            Self::AmbiguousModify => "timeout after ModifyVpcEndpoint took effect",
            Self::AmbiguousRevoke => "timeout after Revoke took effect",
            Self::AmbiguousTag => "timeout after CreateTags took effect",
            Self::AmbiguousDelete => "timeout after DeleteVpcEndpoints took effect",
            Self::NotFoundAfterCreate => "NotFound right after create",
            Self::StuckPending => "endpoint stuck in pending",
            Self::LingeringDeleting => "endpoint lingering in deleting",
            Self::EndpointFailed => "endpoint failed",
            Self::Crash => "crash between two calls",
            Self::StatusWriteLost => "crash before the status write",
            Self::StatusWriteFailed => "status write failed (5xx)",
            Self::LeaderChangeCall => "leader change, old call lands late",
            Self::LeaderChangeStatus => "leader change, old status lands late",
        }
    }
}

/// A change someone other than the controller makes: people with the console, the owner of a
/// service that requires acceptance, another tool spending the account's EC2 request tokens,
/// the app team editing or deleting its object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    OwnedRuleRevoked,
    ForeignRuleAdded,
    ForeignRuleRemoved,
    BlockingClientAdded,
    ClientRemoved,
    ClientGroupsSwapped,
    SecondaryAddressesAdded,
    EndpointDeleted,
    EndpointGroupsSwapped,
    PrivateDnsToggled,
    ConnectionAccepted,
    ConnectionRejected,
    RequestTokensSpent,
    SpecModes,
    SpecApproval,
    SpecClients,
    SpecDeletionPolicy,
    SpecPrivateDns,
    SpecSecurityGroups,
    SpecSubnets,
    ObjectDeleted,
    ObjectCreated,
    /// Someone closes the path of clients the endpoint serves (an ingress rule of an endpoint
    /// group revoked, a client given a group that does not reach it): drawn on canary seeds.
    ClientPathClosed,
}

impl ChangeKind {
    /// Every kind, in the order of the table.
    pub const ALL: [ChangeKind; 23] = [
        Self::OwnedRuleRevoked,
        Self::ForeignRuleAdded,
        Self::ForeignRuleRemoved,
        Self::BlockingClientAdded,
        Self::ClientRemoved,
        Self::ClientGroupsSwapped,
        Self::SecondaryAddressesAdded,
        Self::EndpointDeleted,
        Self::EndpointGroupsSwapped,
        Self::PrivateDnsToggled,
        Self::ConnectionAccepted,
        Self::ConnectionRejected,
        Self::RequestTokensSpent,
        Self::SpecModes,
        Self::SpecApproval,
        Self::SpecClients,
        Self::SpecDeletionPolicy,
        Self::SpecPrivateDns,
        Self::SpecSecurityGroups,
        Self::SpecSubnets,
        Self::ObjectDeleted,
        Self::ObjectCreated,
        Self::ClientPathClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OwnedRuleRevoked => "owned rule revoked",
            Self::ForeignRuleAdded => "foreign rule added",
            Self::ForeignRuleRemoved => "foreign rule removed",
            Self::BlockingClientAdded => "new client ENI (may be blocked)",
            Self::ClientRemoved => "client ENI removed",
            Self::ClientGroupsSwapped => "client's groups swapped",
            Self::SecondaryAddressesAdded => "secondary addresses added",
            Self::EndpointDeleted => "endpoint deleted by hand",
            Self::EndpointGroupsSwapped => "endpoint's groups swapped by hand",
            Self::PrivateDnsToggled => "private DNS toggled by hand",
            Self::ConnectionAccepted => "service owner accepted",
            Self::ConnectionRejected => "service owner rejected",
            Self::RequestTokensSpent => "another tool empties EC2 buckets",
            Self::SpecModes => "spec: remediation modes",
            Self::SpecApproval => "spec: approval id",
            Self::SpecClients => "spec: client selection",
            Self::SpecDeletionPolicy => "spec: deletion policy",
            Self::SpecPrivateDns => "spec: private DNS",
            Self::SpecSecurityGroups => "spec: security groups",
            Self::SpecSubnets => "spec: subnets",
            Self::ObjectDeleted => "object deleted",
            Self::ObjectCreated => "object created",
            Self::ClientPathClosed => "client's path closed after the switch",
        }
    }
}

/// What the canary (`spec.verification.flowLogs`) did about connections the flow logs show
/// rejected, as its Events report it (once per distinct set of cut-off sources).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reaction {
    /// Rules added for the rejected sources (`RejectsRemediated`).
    Remediated,
    /// Reported, nothing changed (`ClientsRejected`: `Alert`, or nothing the modes allow fixes it).
    Alerted,
    /// Private DNS turned off (`RolledBack`).
    RolledBack,
    /// Private DNS kept on: turning it off would cut off more than it restores (`RollbackRefused`).
    RollbackRefused,
}

impl Reaction {
    /// Every kind, in the order of the table.
    pub const ALL: [Reaction; 4] = [
        Self::Remediated,
        Self::Alerted,
        Self::RolledBack,
        Self::RollbackRefused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Remediated => "remediated (rules added)",
            Self::Alerted => "alerted (Degraded, no change)",
            Self::RolledBack => "rolled back (private DNS off)",
            Self::RollbackRefused => "rollback refused",
        }
    }
}

/// Counts of one run, or of many added up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Reconcile passes, outside changes, restarts: everything after which invariants are checked.
    pub steps: u64,
    pub passes: u64,
    pub ec2_calls: u64,
    pub faults: BTreeMap<FaultKind, u64>,
    pub changes: BTreeMap<ChangeKind, u64>,
    /// Seeds with the canary drawn (one for a seed's own tally).
    pub canary_seeds: u64,
    /// REJECT flow log records the clients' traffic left.
    pub reject_records: u64,
    pub reactions: BTreeMap<Reaction, u64>,
    /// Virtual time simulated.
    pub virtual_time: Duration,
}

impl Tally {
    pub(crate) fn fault(&mut self, kind: FaultKind) {
        *self.faults.entry(kind).or_default() += 1;
    }

    pub(crate) fn change(&mut self, kind: ChangeKind) {
        *self.changes.entry(kind).or_default() += 1;
    }

    pub(crate) fn reaction(&mut self, kind: Reaction) {
        *self.reactions.entry(kind).or_default() += 1;
    }

    pub fn add(&mut self, other: &Tally) {
        self.steps += other.steps;
        self.canary_seeds += other.canary_seeds;
        self.reject_records += other.reject_records;
        for (k, n) in &other.reactions {
            *self.reactions.entry(*k).or_default() += n;
        }
        self.passes += other.passes;
        self.ec2_calls += other.ec2_calls;
        for (k, n) in &other.faults {
            *self.faults.entry(*k).or_default() += n;
        }
        for (k, n) in &other.changes {
            *self.changes.entry(*k).or_default() += n;
        }
        self.virtual_time += other.virtual_time;
    }
}

/// Many seeds added up, for the table.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub seeds: u64,
    pub tally: Tally,
    /// Violations by invariant, and the seeds that showed each (the lowest few).
    pub violations: BTreeMap<Invariant, (u64, Vec<u64>)>,
    /// Every seed with at least one violation, in order.
    pub failed_seeds: Vec<u64>,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

/// How many example seeds a summary keeps per invariant.
const EXAMPLE_SEEDS: usize = 5;

impl Summary {
    pub(crate) fn record(&mut self, seed: u64, tally: &Tally, violations: &[Violation]) {
        self.seeds += 1;
        self.tally.add(tally);
        if !violations.is_empty() {
            self.failed_seeds.push(seed);
        }
        for v in violations {
            let slot = self.violations.entry(v.invariant).or_default();
            slot.0 += 1;
            if slot.1.len() < EXAMPLE_SEEDS && !slot.1.contains(&seed) {
                slot.1.push(seed);
            }
        }
    }

    pub fn merge(&mut self, other: Summary) {
        self.seeds += other.seeds;
        self.tally.add(&other.tally);
        for (k, (n, seeds)) in other.violations {
            let slot = self.violations.entry(k).or_default();
            slot.0 += n;
            slot.1.extend(seeds);
            slot.1.sort_unstable();
            slot.1.dedup();
            slot.1.truncate(EXAMPLE_SEEDS);
        }
        self.failed_seeds.extend(other.failed_seeds);
        self.failed_seeds.sort_unstable();
    }

    /// Violations of every invariant, added up.
    pub fn violation_count(&self) -> u64 {
        self.violations.values().map(|v| v.0).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.tally;
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut out = String::new();
        let _ = writeln!(out, "{:<48} {:>14}", "seeds", self.seeds);
        let _ = writeln!(out, "{:<48} {:>14}", "steps", t.steps);
        let _ = writeln!(out, "{:<48} {:>14}", "reconcile passes", t.passes);
        let _ = writeln!(out, "{:<48} {:>14}", "EC2 calls", t.ec2_calls);
        let _ = writeln!(
            out,
            "{:<48} {:>14}",
            "virtual time (hours)",
            format!("{:.0}", t.virtual_time.as_secs_f64() / 3600.0)
        );
        let _ = writeln!(
            out,
            "{:<48} {:>14}",
            "wall time (s), seeds/s",
            format!(
                "{:.1}, {}",
                self.elapsed.as_secs_f64(),
                per_second(self.seeds as f64 / secs)
            )
        );
        let _ = writeln!(out, "faults by kind");
        for k in FaultKind::ALL {
            let n = t.faults.get(&k).copied().unwrap_or(0);
            let _ = writeln!(out, "  {:<46} {:>14}", k.as_str(), n);
        }
        let _ = writeln!(out, "outside changes by kind");
        for k in ChangeKind::ALL {
            let n = t.changes.get(&k).copied().unwrap_or(0);
            let _ = writeln!(out, "  {:<46} {:>14}", k.as_str(), n);
        }
        let _ = writeln!(out, "canary (spec.verification.flowLogs)");
        let _ = writeln!(out, "  {:<46} {:>14}", "seeds with the canary", t.canary_seeds);
        let _ = writeln!(out, "  {:<46} {:>14}", "REJECT records written", t.reject_records);
        for k in Reaction::ALL {
            let n = t.reactions.get(&k).copied().unwrap_or(0);
            let _ = writeln!(out, "  {:<46} {:>14}", k.as_str(), n);
        }
        let _ = writeln!(out, "violations by invariant");
        for inv in Invariant::ALL {
            let (n, seeds) = self.violations.get(&inv).cloned().unwrap_or_default();
            let examples = if seeds.is_empty() {
                String::new()
            } else {
                format!("  seeds {seeds:?}")
            };
            let _ = writeln!(out, "  {:<46} {:>14}{examples}", inv.title(), n);
        }
        f.write_str(&out)
    }
}

/// A rate with the digits it needs: `80`, `4.5`, `0.52` (a slow debug build on a busy machine).
pub fn per_second(rate: f64) -> String {
    if rate >= 10.0 {
        format!("{rate:.0}")
    } else if rate >= 1.0 {
        format!("{rate:.1}")
    } else {
        format!("{rate:.2}")
    }
}
