//! The controller's EC2 API budget: client-side token buckets per account and region that
//! mirror EC2's own, scaled down to a share of the account's budget so that the controller
//! leaves room for every other tool calling EC2 in the account (Terraform, the AWS Load
//! Balancer Controller, Karpenter, autoscalers).
//!
//! - [`REQUEST_RATE_LIMITS`]: EC2's buckets, one per action, with the figures of the action's
//!   category ([`RateCategory`]). The simulated world enforces the same table
//!   ([`crate::aws::sim::limits`]), at full size.
//! - [`AccountBudget`]: the buckets of one account and region at `share` of EC2's figures, with
//!   a first-come-first-served queue per bucket (an object's retries keep its place in line;
//!   they never get it ahead of the others). Pure: the time is the caller's.
//! - The share adapts ([`Share`]): a `RequestLimitExceeded` (someone else spent the account's
//!   tokens) halves it for a while; then it grows back to the configured share.
//! - [`BudgetedEc2`] (`port.rs`): the [`crate::aws::Ec2`] port behind the budget. A call of a
//!   plentiful bucket (describes, rules, tags) waits for its token in line. A call of the scarce
//!   VPC endpoint buckets (4 tokens, 0.3 per second) never blocks a pass: the port answers
//!   [`ErrorKind::WaitingForApiBudget`] with the place in the queue and when to come back, and
//!   the rollout reports that as an expected wait. A throttle EC2 answers all the same is never
//!   a failure: the call is made again after a wait, or (for a scarce bucket, or after a few
//!   tries) reported as the same expected wait.
//!
//! One budget per account and region, shared by every object acting there
//! ([`BudgetedProvider`]).

mod port;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use port::{BudgetClock, BudgetObserver, BudgetedEc2, BudgetedProvider, NoObserver, TokioClock};

use super::Ec2Operation;

/// How EC2 groups an action for request rate limiting ("Request throttling for the Amazon EC2
/// API", <https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html>). EC2
/// evaluates each action on its own bucket; the actions of a category share the figures, never
/// the tokens. The category is also the `bucket` label of the budget's metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RateCategory {
    /// `Describe*`, `Get*`, ... not listed elsewhere: 100 burst, 20 per second.
    NonMutating,
    /// DescribeNetworkInterfaces and DescribeSecurityGroups called without a filter and without
    /// pagination: 50 burst, 10 per second. The port always filters them by `vpc-id`, so none of
    /// its calls falls here (tested); listed so that the table is EC2's whole.
    UnfilteredUnpaginated,
    /// Mutating actions not listed elsewhere: 50 burst, 5 per second.
    Mutating,
    /// AuthorizeSecurityGroupIngress and RevokeSecurityGroupIngress, listed as
    /// resource-intensive: 50 burst, 5 per second, apart from the other mutating actions.
    SecurityGroupIngress,
    /// CreateVpcEndpoint, ModifyVpcEndpoint and DeleteVpcEndpoints, listed with figures of
    /// their own: 4 burst, 0.3 per second. Scarce: a pass never waits for these in line.
    VpcEndpoint,
}

impl RateCategory {
    pub const ALL: [RateCategory; 5] = [
        Self::NonMutating,
        Self::UnfilteredUnpaginated,
        Self::Mutating,
        Self::SecurityGroupIngress,
        Self::VpcEndpoint,
    ];

    /// The `bucket` label of the budget's metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NonMutating => "NonMutating",
            Self::UnfilteredUnpaginated => "UnfilteredUnpaginated",
            Self::Mutating => "Mutating",
            Self::SecurityGroupIngress => "SecurityGroupIngress",
            Self::VpcEndpoint => "VpcEndpoint",
        }
    }

    /// EC2's figures: bucket capacity (the burst) and refill rate per second.
    pub const fn figures(self) -> (f64, f64) {
        match self {
            Self::NonMutating => (100.0, 20.0),
            Self::UnfilteredUnpaginated => (50.0, 10.0),
            Self::Mutating | Self::SecurityGroupIngress => (50.0, 5.0),
            Self::VpcEndpoint => (4.0, 0.3),
        }
    }

    /// Whether a pass may wait for this bucket's tokens in line (seconds at most), or must be
    /// told to come back (the VPC endpoint buckets: minutes, when many rollouts start at once).
    pub fn waits_in_line(self) -> bool {
        self != Self::VpcEndpoint
    }
}

/// One row of the table: an action's bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub operation: Ec2Operation,
    pub category: RateCategory,
    /// Bucket maximum capacity (the burst).
    pub capacity: f64,
    /// Bucket refill rate, tokens per second (the sustained rate).
    pub refill_per_second: f64,
}

const fn row(operation: Ec2Operation, category: RateCategory) -> RateLimit {
    let (capacity, refill_per_second) = category.figures();
    RateLimit {
        operation,
        category,
        capacity,
        refill_per_second,
    }
}

/// EC2's request-rate table: one row per operation of the port (a test checks every operation
/// has exactly one). To correct a figure, change [`RateCategory::figures`]; to move an action,
/// its row here.
pub const REQUEST_RATE_LIMITS: [RateLimit; 22] = {
    use Ec2Operation as Op;
    use RateCategory::*;
    [
        row(Op::DescribeVpcs, NonMutating),
        row(Op::DescribeVpcAttribute, NonMutating),
        row(Op::DescribeSubnets, NonMutating),
        // Filtered by vpc-id: not the unfiltered, unpaginated bucket.
        row(Op::DescribeSecurityGroups, NonMutating),
        row(Op::DescribeSecurityGroupRules, NonMutating),
        // Filtered by vpc-id: not the unfiltered, unpaginated bucket.
        row(Op::DescribeNetworkInterfaces, NonMutating),
        row(Op::DescribeNetworkAcls, NonMutating),
        row(Op::DescribeVpcEndpoints, NonMutating),
        row(Op::DescribeVpcEndpointServices, NonMutating),
        row(Op::DescribeManagedPrefixLists, NonMutating),
        row(Op::GetManagedPrefixListEntries, NonMutating),
        row(Op::DescribeFlowLogs, NonMutating),
        row(Op::DescribeRouteTables, NonMutating),
        // "Uncategorized actions": each has 4 tokens refilled at 0.3 per second.
        row(Op::CreateVpcEndpoint, VpcEndpoint),
        row(Op::ModifyVpcEndpoint, VpcEndpoint),
        row(Op::DeleteVpcEndpoints, VpcEndpoint),
        // The ingress actions are listed as resource-intensive; the egress ones are not listed,
        // so they are ordinary mutating actions.
        row(Op::AuthorizeSecurityGroupIngress, SecurityGroupIngress),
        row(Op::AuthorizeSecurityGroupEgress, Mutating),
        row(Op::RevokeSecurityGroupIngress, SecurityGroupIngress),
        row(Op::RevokeSecurityGroupEgress, Mutating),
        row(Op::CreateTags, Mutating),
        row(Op::DeleteTags, Mutating),
    ]
};

/// The row for `operation`.
pub fn rate_limit(operation: Ec2Operation) -> RateLimit {
    REQUEST_RATE_LIMITS
        .iter()
        .find(|r| r.operation == operation)
        .copied()
        .expect("REQUEST_RATE_LIMITS has a row for every operation (tested)")
}

/// The share of the account's EC2 budget the controller takes unless configured otherwise.
pub const DEFAULT_SHARE: f64 = 0.5;

/// How far throttling can shrink the share: an eighth of the configured one.
const SHRINK_FLOOR: f64 = 1.0 / 8.0;
/// How long the share stays shrunk after the last throttle before it grows back.
pub const SHRUNK_FOR: Duration = Duration::from_secs(60);
/// Once it grows back, the share regains a tenth of the configured share this often.
pub const RECOVERY_STEP: Duration = Duration::from_secs(10);
/// How long a place in a queue is kept past the time its holder was told to come back.
const PLACE_KEPT_FOR: Duration = Duration::from_secs(30);

/// The controller's share of the account's budget: the configured one, halved by each throttle
/// (down to an eighth of it), held there for [`SHRUNK_FOR`] after the last throttle, then
/// regaining a tenth of the configured share every [`RECOVERY_STEP`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Share {
    configured: f64,
    shrunk_to: f64,
    throttled_at: Option<Duration>,
}

impl Share {
    /// `configured` is a fraction in (0, 1].
    pub fn new(configured: f64) -> Self {
        let configured = configured.clamp(0.01, 1.0);
        Self {
            configured,
            shrunk_to: configured,
            throttled_at: None,
        }
    }

    pub fn configured(&self) -> f64 {
        self.configured
    }

    /// The share at `now`.
    pub fn at(&self, now: Duration) -> f64 {
        let Some(throttled_at) = self.throttled_at else {
            return self.configured;
        };
        let since = now.saturating_sub(throttled_at);
        if since < SHRUNK_FOR {
            return self.shrunk_to;
        }
        let steps = ((since - SHRUNK_FOR).as_secs_f64() / RECOVERY_STEP.as_secs_f64()).floor() + 1.0;
        (self.shrunk_to + steps * self.configured / 10.0).min(self.configured)
    }

    /// EC2 answered `RequestLimitExceeded` at `now`.
    pub fn throttled(&mut self, now: Duration) {
        self.shrunk_to = (self.at(now) / 2.0).max(self.configured * SHRINK_FLOOR);
        self.throttled_at = Some(now);
    }
}

/// A token bucket of capacity and refill rate given at each use (the share scales them), on
/// the caller's time. Starts full.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bucket {
    tokens: f64,
    updated_at: Duration,
}

impl Bucket {
    fn refill(&mut self, capacity: f64, rate: f64, now: Duration) {
        let elapsed = now.saturating_sub(self.updated_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.updated_at = self.updated_at.max(now);
    }
}

/// One waiting caller: who (a stable key: an object's ClientToken or endpoint id, or one call
/// waiting in line), and until when its place is kept.
#[derive(Clone, Debug)]
struct Waiter {
    key: String,
    kept_until: Duration,
}

#[derive(Clone, Debug)]
struct Lane {
    bucket: Bucket,
    queue: VecDeque<Waiter>,
}

/// The answer of [`AccountBudget::try_take`].
#[derive(Clone, Debug, PartialEq)]
pub enum Admission {
    /// The tokens are taken: make the call now. `waited`: the caller had a place in line.
    Granted { waited: bool },
    /// Not yet: come back after `after`.
    Wait(BudgetWait),
}

/// A caller's place in a bucket's queue.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetWait {
    pub operation: Ec2Operation,
    /// 1 for the first in line.
    pub position: usize,
    /// How many callers wait for the bucket, this one included.
    pub waiting: usize,
    /// When the bucket will hold this caller's tokens (and those of everyone ahead).
    pub after: Duration,
}

/// The EC2 budget of one account and region (see the module docs). Shared by every object
/// acting there; every method takes the time, so virtual time drives it in the simulation.
#[derive(Debug)]
pub struct AccountBudget {
    state: Mutex<BudgetState>,
}

#[derive(Debug)]
struct BudgetState {
    share: Share,
    lanes: BTreeMap<Ec2Operation, Lane>,
}

impl AccountBudget {
    /// A budget at `share` (a fraction in (0, 1]) of EC2's figures.
    pub fn new(share: f64) -> Self {
        Self {
            state: Mutex::new(BudgetState {
                share: Share::new(share),
                lanes: BTreeMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The share at `now` (after throttles, recovering).
    pub fn share(&self, now: Duration) -> f64 {
        self.lock().share.at(now)
    }

    /// EC2 throttled a call at `now`: the share shrinks.
    pub fn throttled(&self, now: Duration) {
        self.lock().share.throttled(now);
    }

    /// Asks for `tokens` of `operation`'s bucket for `key` at `now`. Granted when the bucket
    /// holds them beyond one token for each caller ahead of `key` in line (the first in line
    /// is served first; a caller asking again keeps its place). Otherwise `key` keeps (or
    /// takes) its place and is told when to come back. A place is kept until
    /// [`PLACE_KEPT_FOR`] past that time: a caller that never comes back (its object was
    /// deleted) does not hold the others up for long.
    pub fn try_take(&self, operation: Ec2Operation, tokens: u32, key: &str, now: Duration) -> Admission {
        let mut state = self.lock();
        let share = state.share.at(now);
        let limit = rate_limit(operation);
        let wanted = f64::from(tokens);
        // A request of more tokens than the scaled-down bucket holds would never pass.
        let capacity = (limit.capacity * share).max(wanted);
        let rate = limit.refill_per_second * share;
        let lane = state.lanes.entry(operation).or_insert_with(|| Lane {
            bucket: Bucket {
                tokens: capacity,
                updated_at: now,
            },
            queue: VecDeque::new(),
        });
        lane.bucket.refill(capacity, rate, now);
        lane.queue.retain(|w| w.kept_until >= now || w.key == key);
        let ahead = lane
            .queue
            .iter()
            .position(|w| w.key == key)
            .unwrap_or(lane.queue.len());
        let needed = ahead as f64 + wanted;
        // Refill arithmetic in f64 (0.3/s) must not lose a whole token to rounding.
        if lane.bucket.tokens + 1e-9 >= needed {
            lane.bucket.tokens = (lane.bucket.tokens - wanted).max(0.0);
            let waited = ahead < lane.queue.len();
            if waited {
                lane.queue.remove(ahead);
            }
            return Admission::Granted { waited };
        }
        let after = Duration::from_secs_f64(((needed - lane.bucket.tokens) / rate).max(0.0))
            // Whole milliseconds, rounded up: coming back a little early would only wait again.
            .as_millis()
            .saturating_add(1);
        let after = Duration::from_millis(u64::try_from(after).unwrap_or(u64::MAX));
        let kept_until = now + after + PLACE_KEPT_FOR;
        match lane.queue.get_mut(ahead) {
            Some(waiter) => waiter.kept_until = kept_until,
            None => lane.queue.push_back(Waiter {
                key: key.to_string(),
                kept_until,
            }),
        }
        Admission::Wait(BudgetWait {
            operation,
            position: ahead + 1,
            waiting: lane.queue.len(),
            after,
        })
    }

    /// `key` gives up its place in `operation`'s queue (its call is no longer wanted).
    pub fn leave(&self, operation: Ec2Operation, key: &str) {
        if let Some(lane) = self.lock().lanes.get_mut(&operation) {
            lane.queue.retain(|w| w.key != key);
        }
    }
}

#[cfg(test)]
mod tests;
