//! EC2's request-rate token buckets and the quotas the simulated world enforces, in one table.
//!
//! Source: "Request throttling for the Amazon EC2 API"
//! (<https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html>). EC2 evaluates
//! each API action on its own bucket ("Limits are applied to individual API actions, not API
//! action categories"): actions of one category share the figures, never the tokens, so the
//! simulation keeps one bucket per operation. The table is [`crate::aws::budget`]'s (the
//! controller's own budget mirrors it at a share): to correct a figure, change it there.
//!
//! A bucket starts full, loses one token per request (DescribeVpcAttribute is two requests for
//! both DNS attributes) and refills continuously at its rate up to its capacity; an empty bucket
//! answers `RequestLimitExceeded`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::Ec2Operation;
pub use crate::aws::budget::{REQUEST_RATE_LIMITS, RateCategory, RateLimit, rate_limit};

/// Inbound or outbound rules per security group (Amazon VPC quotas), enforced separately for
/// IPv4 and IPv6 rules.
pub const RULES_PER_SECURITY_GROUP: u32 = crate::analysis::RULES_PER_SECURITY_GROUP;

/// Interface and Gateway Load Balancer endpoints per VPC (Amazon VPC quotas).
pub const INTERFACE_ENDPOINTS_PER_VPC: usize = 50;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated_at: Duration,
    /// Until then, other callers in the account spend every token as it refills.
    spent_until: Duration,
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
            spent_until: Duration::ZERO,
        });
        if now < bucket.spent_until {
            return false;
        }
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

    /// Other callers in the account (the buckets are the account's, per region) spend every
    /// token of the operation's bucket from `now` until `until`, as a tool calling at the
    /// bucket's refill rate or faster does: it is empty then, and refills from empty after.
    pub(super) fn spend_all(&mut self, operation: Ec2Operation, now: Duration, until: Duration) {
        let limit = rate_limit(operation);
        let bucket = self.buckets.entry(operation).or_insert(Bucket {
            tokens: limit.capacity,
            updated_at: now,
            spent_until: Duration::ZERO,
        });
        bucket.tokens = 0.0;
        bucket.updated_at = bucket.updated_at.max(until);
        bucket.spent_until = bucket.spent_until.max(until);
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
    fn a_bucket_others_spend_is_empty_until_they_stop_then_refills_from_empty() {
        let mut limiter = RateLimiter::default();
        let op = Ec2Operation::DescribeVpcEndpoints;
        let other = Ec2Operation::DescribeSubnets;
        limiter.spend_all(op, Duration::from_secs(10), Duration::from_secs(40));
        assert!(!limiter.try_take(op, 1, Duration::from_secs(10)));
        assert!(!limiter.try_take(op, 1, Duration::from_millis(39_999)));
        assert!(
            limiter.try_take(other, 1, Duration::from_secs(20)),
            "its own bucket"
        );
        // 20 tokens a second from 40 s on: one at 40.05 s, not before.
        assert!(!limiter.try_take(op, 1, Duration::from_millis(40_040)));
        assert!(limiter.try_take(op, 1, Duration::from_millis(40_050)));
        assert!(!limiter.try_take(op, 1, Duration::from_millis(40_050)));
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
