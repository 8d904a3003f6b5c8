//! Test hooks: injected failures and the log of every call the port served.
//!
//! A fault makes the next N calls of one operation fail with a given [`Ec2Error`], which is how
//! tests provoke AWS errors the world would not produce by itself (AccessDenied, InternalError,
//! a timeout). It strikes at one of two moments ([`FaultTiming`]):
//! - before EC2 acts (no token taken, nothing changed): what a throttle, a 5xx or a request that
//!   never arrived looks like;
//! - after EC2 acted: the change is made and the caller gets the error instead of the answer.
//!   That is a timeout after the fact (the SDK's `Timeout`, or a connection cut while the answer
//!   was on its way): the one failure of a mutation that cannot tell the caller whether it
//!   happened. A CreateVpcEndpoint whose answer is lost still made the endpoint (and used its
//!   ClientToken); a lost AuthorizeSecurityGroupIngress added its rules.
//!
//! The call log records each call with its virtual time and outcome so tests can assert what the
//! engine did, in particular that it changed nothing; a call whose answer was lost is logged as
//! [`CallOutcome::AnswerLost`] and counts as a mutation.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::aws::{Ec2Error, Ec2Operation, ErrorKind};

/// One call to the simulated port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    pub operation: Ec2Operation,
    /// Virtual time of the call.
    pub at: Duration,
    pub outcome: CallOutcome,
    /// The id the world gave the request (every call gets one, as on EC2).
    pub request_id: String,
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    Ok,
    Failed {
        code: String,
        kind: ErrorKind,
    },
    /// EC2 acted, and the caller got this error instead of the answer (see the module docs).
    AnswerLost {
        code: String,
        kind: ErrorKind,
    },
}

impl CallRecord {
    pub(super) fn new<T>(
        operation: Ec2Operation,
        at: Duration,
        result: &Result<T, Ec2Error>,
        request_id: String,
    ) -> Self {
        let outcome = match result {
            Ok(_) => CallOutcome::Ok,
            Err(e) => CallOutcome::Failed {
                code: e.code.clone(),
                kind: e.kind,
            },
        };
        Self {
            operation,
            at,
            outcome,
            request_id,
        }
    }

    /// A call that EC2 carried out but whose caller got `error`.
    pub(super) fn answer_lost(
        operation: Ec2Operation,
        at: Duration,
        error: &Ec2Error,
        request_id: String,
    ) -> Self {
        Self {
            operation,
            at,
            outcome: CallOutcome::AnswerLost {
                code: error.code.clone(),
                kind: error.kind,
            },
            request_id,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.outcome == CallOutcome::Ok
    }

    /// Whether EC2 carried the call out, whatever its caller was told.
    pub fn took_effect(&self) -> bool {
        matches!(self.outcome, CallOutcome::Ok | CallOutcome::AnswerLost { .. })
    }

    /// A call of a mutating operation that EC2 carried out: the engine changed the world.
    pub fn is_mutation(&self) -> bool {
        self.took_effect() && self.operation.is_mutation()
    }
}

/// When an injected fault strikes (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultTiming {
    /// Before EC2 acts: nothing changes.
    BeforeEffect,
    /// After EC2 acted: the change is made, the answer is lost.
    AfterEffect,
}

/// A fault that fired for one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fired {
    pub error: Ec2Error,
    pub timing: FaultTiming,
}

#[derive(Clone, Debug)]
struct ArmedFault {
    error: Ec2Error,
    timing: FaultTiming,
    remaining: u32,
}

/// Faults waiting for their operation, first injected first served.
#[derive(Clone, Debug, Default)]
pub(super) struct Faults {
    armed: BTreeMap<Ec2Operation, VecDeque<ArmedFault>>,
}

impl Faults {
    pub(super) fn inject(
        &mut self,
        operation: Ec2Operation,
        error: Ec2Error,
        timing: FaultTiming,
        times: u32,
    ) {
        if times == 0 {
            return;
        }
        let error = Ec2Error { operation, ..error };
        self.armed.entry(operation).or_default().push_back(ArmedFault {
            error,
            timing,
            remaining: times,
        });
    }

    /// The fault for this call of `operation`, if one is armed.
    pub(super) fn take(&mut self, operation: Ec2Operation) -> Option<Fired> {
        let queue = self.armed.get_mut(&operation)?;
        let front = queue.front_mut()?;
        front.remaining -= 1;
        let fired = Fired {
            error: front.error.clone(),
            timing: front.timing,
        };
        if front.remaining == 0 {
            queue.pop_front();
        }
        Some(fired)
    }

    /// How many injected failures are still waiting, over all operations.
    pub(super) fn pending(&self) -> u32 {
        self.armed.values().flatten().map(|f| f.remaining).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_fires_exactly_the_requested_number_of_times_then_the_next_one_queues_up() {
        let mut faults = Faults::default();
        let op = Ec2Operation::CreateVpcEndpoint;
        let boom = Ec2Error::from_code(Ec2Operation::DescribeVpcs, "InternalError", "boom");
        let denied = Ec2Error::from_code(op, "UnauthorizedOperation", "no");
        faults.inject(op, boom, FaultTiming::BeforeEffect, 2);
        faults.inject(op, denied, FaultTiming::AfterEffect, 1);
        assert_eq!(faults.pending(), 3);
        let first = faults.take(op).unwrap().error;
        assert_eq!((first.code.as_str(), first.operation), ("InternalError", op));
        assert_eq!(faults.take(op).unwrap().error.code, "InternalError");
        let last = faults.take(op).unwrap();
        assert_eq!(
            (last.error.kind, last.timing),
            (ErrorKind::AccessDenied, FaultTiming::AfterEffect)
        );
        assert!(faults.take(op).is_none());
        assert!(faults.take(Ec2Operation::DescribeVpcs).is_none());
    }
}
