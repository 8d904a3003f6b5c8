//! EC2's request-rate token buckets and the quotas the simulated world enforces, in one table.
//!
//! Source: "Request throttling for the Amazon EC2 API"
//! (<https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html>). EC2 evaluates
//! each API action on its own bucket ("Limits are applied to individual API actions, not API
//! action categories"): actions of one category share the figures, never the tokens, so the
//! simulation keeps one bucket per operation. To correct a figure, change its row below.
//!
//! A bucket starts full, loses one token per request (DescribeVpcAttribute is two requests for
//! both DNS attributes) and refills continuously at its rate up to its capacity; an empty bucket
//! answers `RequestLimitExceeded`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::Ec2Operation;

/// How EC2 groups an action for request rate limiting (the documentation's categories).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateCategory {
    /// `Describe*`, `Get*`, ... not listed elsewhere: 100 burst, 20/s.
    NonMutating,
    /// Mutating actions not listed elsewhere: 50 burst, 5/s.
    Mutating,
    /// Listed as resource-intensive (e.g. AuthorizeSecurityGroupIngress): 50 burst, 5/s, throttled
    /// separately from other mutating actions.
    ResourceIntensive,
    /// Listed by name with figures of their own (the VPC endpoint actions: 4 burst, 0.3/s).
    Uncategorized,
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
    let (capacity, refill_per_second) = match category {
        RateCategory::NonMutating => (100.0, 20.0),
        RateCategory::Mutating | RateCategory::ResourceIntensive => (50.0, 5.0),
        RateCategory::Uncategorized => (4.0, 0.3),
    };
    RateLimit {
        operation,
        category,
        capacity,
        refill_per_second,
    }
}

/// The request-rate table: one row per operation of the port.
///
/// DescribeNetworkInterfaces and DescribeSecurityGroups fall to the smaller "unfiltered and
/// unpaginated" bucket (50, 10/s) only when called without a filter or pagination; the port
/// always filters by `vpc-id`, so they are plain non-mutating actions here.
pub const REQUEST_RATE_LIMITS: [RateLimit; 19] = {
    use Ec2Operation as Op;
    use RateCategory::*;
    [
        row(Op::DescribeVpcs, NonMutating),
        row(Op::DescribeVpcAttribute, NonMutating),
        row(Op::DescribeSubnets, NonMutating),
        row(Op::DescribeSecurityGroups, NonMutating),
        row(Op::DescribeSecurityGroupRules, NonMutating),
        row(Op::DescribeNetworkInterfaces, NonMutating),
        row(Op::DescribeNetworkAcls, NonMutating),
        row(Op::DescribeVpcEndpoints, NonMutating),
        row(Op::DescribeVpcEndpointServices, NonMutating),
        row(Op::DescribeManagedPrefixLists, NonMutating),
        row(Op::GetManagedPrefixListEntries, NonMutating),
        // "Uncategorized actions": CreateVpcEndpoint, ModifyVpcEndpoint and DeleteVpcEndpoints
        // each have 4 tokens refilled at 0.3 per second.
        row(Op::CreateVpcEndpoint, Uncategorized),
        row(Op::ModifyVpcEndpoint, Uncategorized),
        row(Op::DeleteVpcEndpoints, Uncategorized),
        // The ingress actions are listed as resource-intensive; the egress ones are not listed,
        // so they are ordinary mutating actions. Both categories are 50 / 5 per second today.
        row(Op::AuthorizeSecurityGroupIngress, ResourceIntensive),
        row(Op::AuthorizeSecurityGroupEgress, Mutating),
        row(Op::RevokeSecurityGroupIngress, ResourceIntensive),
        row(Op::RevokeSecurityGroupEgress, Mutating),
        row(Op::CreateTags, Mutating),
    ]
};

/// Inbound or outbound rules per security group (Amazon VPC quotas), enforced separately for
/// IPv4 and IPv6 rules.
pub const RULES_PER_SECURITY_GROUP: u32 = 60;

/// Interface and Gateway Load Balancer endpoints per VPC (Amazon VPC quotas).
pub const INTERFACE_ENDPOINTS_PER_VPC: usize = 50;

/// The row for `operation`.
pub fn rate_limit(operation: Ec2Operation) -> RateLimit {
    REQUEST_RATE_LIMITS
        .iter()
        .find(|r| r.operation == operation)
        .copied()
        .expect("REQUEST_RATE_LIMITS has a row for every operation (tested)")
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated_at: Duration,
}

/// The account's buckets, on virtual time.
#[derive(Clone, Debug, Default)]
pub(super) struct RateLimiter {
    buckets: BTreeMap<Ec2Operation, Bucket>,
}

impl RateLimiter {
    /// Takes `tokens` from the operation's bucket at `now`; `false` (and nothing taken) when the
    /// bucket holds fewer.
    pub(super) fn try_take(&mut self, operation: Ec2Operation, tokens: u32, now: Duration) -> bool {
        let limit = rate_limit(operation);
        let bucket = self.buckets.entry(operation).or_insert(Bucket {
            tokens: limit.capacity,
            updated_at: now,
        });
        let elapsed = now.saturating_sub(bucket.updated_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.refill_per_second).min(limit.capacity);
        bucket.updated_at = now;
        let wanted = f64::from(tokens);
        // Refill arithmetic in f64 (0.3/s) must not lose a whole token to rounding.
        if bucket.tokens + 1e-9 >= wanted {
            bucket.tokens = (bucket.tokens - wanted).max(0.0);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_exactly_one_row_per_operation() {
        for op in Ec2Operation::ALL {
            let rows = REQUEST_RATE_LIMITS.iter().filter(|r| r.operation == op).count();
            assert_eq!(rows, 1, "{op}");
        }
    }

    #[test]
    fn the_table_holds_the_published_figures() {
        let figures = |op| {
            let r = rate_limit(op);
            (r.capacity, r.refill_per_second)
        };
        assert_eq!(figures(Ec2Operation::CreateVpcEndpoint), (4.0, 0.3));
        assert_eq!(figures(Ec2Operation::ModifyVpcEndpoint), (4.0, 0.3));
        assert_eq!(figures(Ec2Operation::DeleteVpcEndpoints), (4.0, 0.3));
        assert_eq!(figures(Ec2Operation::AuthorizeSecurityGroupIngress), (50.0, 5.0));
        assert_eq!(figures(Ec2Operation::RevokeSecurityGroupEgress), (50.0, 5.0));
        assert_eq!(figures(Ec2Operation::DescribeVpcEndpoints), (100.0, 20.0));
    }

    #[test]
    fn create_bucket_allows_a_burst_of_four_then_one_more_every_3_and_a_third_seconds() {
        let mut limiter = RateLimiter::default();
        let op = Ec2Operation::CreateVpcEndpoint;
        let t0 = Duration::ZERO;
        for _ in 0..4 {
            assert!(limiter.try_take(op, 1, t0));
        }
        assert!(!limiter.try_take(op, 1, t0));
        assert!(!limiter.try_take(op, 1, Duration::from_secs(3)));
        assert!(limiter.try_take(op, 1, Duration::from_millis(3334)));
        assert!(!limiter.try_take(op, 1, Duration::from_millis(3334)));
    }

    #[test]
    fn buckets_of_different_actions_do_not_share_tokens() {
        let mut limiter = RateLimiter::default();
        for _ in 0..4 {
            assert!(limiter.try_take(Ec2Operation::CreateVpcEndpoint, 1, Duration::ZERO));
        }
        assert!(limiter.try_take(Ec2Operation::ModifyVpcEndpoint, 1, Duration::ZERO));
        assert!(limiter.try_take(Ec2Operation::DeleteVpcEndpoints, 1, Duration::ZERO));
    }

    #[test]
    fn a_bucket_never_refills_beyond_its_capacity() {
        let mut limiter = RateLimiter::default();
        let op = Ec2Operation::AuthorizeSecurityGroupEgress;
        assert!(limiter.try_take(op, 1, Duration::ZERO));
        let later = Duration::from_secs(3600);
        for _ in 0..50 {
            assert!(limiter.try_take(op, 1, later));
        }
        assert!(!limiter.try_take(op, 1, later));
    }

    #[test]
    fn a_two_token_request_needs_both_tokens() {
        let mut limiter = RateLimiter::default();
        let op = Ec2Operation::DescribeVpcAttribute;
        for _ in 0..49 {
            assert!(limiter.try_take(op, 2, Duration::ZERO));
        }
        assert!(limiter.try_take(op, 1, Duration::ZERO));
        assert!(!limiter.try_take(op, 2, Duration::ZERO));
    }
}
