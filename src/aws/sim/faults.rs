//! Test hooks: injected failures and the log of every call the port served.
//!
//! A fault makes the next N calls of one operation fail with a given [`Ec2Error`] before anything
//! else happens (no token taken, nothing changed), which is how tests provoke AWS errors the world
//! would not produce by itself (AccessDenied, InternalError, a timeout after the fact). The call
//! log records each call with its virtual time and outcome so tests can assert what the engine did,
//! in particular that it changed nothing.

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
    Failed { code: String, kind: ErrorKind },
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

    pub fn succeeded(&self) -> bool {
        self.outcome == CallOutcome::Ok
    }

    /// A successful call of a mutating operation: the engine changed the world.
    pub fn is_mutation(&self) -> bool {
        self.succeeded() && self.operation.is_mutation()
    }
}

#[derive(Clone, Debug)]
struct ArmedFault {
    error: Ec2Error,
    remaining: u32,
}

/// Faults waiting for their operation, first injected first served.
#[derive(Clone, Debug, Default)]
pub(super) struct Faults {
    armed: BTreeMap<Ec2Operation, VecDeque<ArmedFault>>,
}

impl Faults {
    pub(super) fn inject(&mut self, operation: Ec2Operation, error: Ec2Error, times: u32) {
        if times == 0 {
            return;
        }
        let error = Ec2Error { operation, ..error };
        self.armed.entry(operation).or_default().push_back(ArmedFault {
            error,
            remaining: times,
        });
    }

    /// The fault for this call of `operation`, if one is armed.
    pub(super) fn take(&mut self, operation: Ec2Operation) -> Option<Ec2Error> {
        let queue = self.armed.get_mut(&operation)?;
        let front = queue.front_mut()?;
        front.remaining -= 1;
        let error = front.error.clone();
        if front.remaining == 0 {
            queue.pop_front();
        }
        Some(error)
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
        faults.inject(op, boom, 2);
        faults.inject(op, denied, 1);
        assert_eq!(faults.pending(), 3);
        let first = faults.take(op).unwrap();
        assert_eq!((first.code.as_str(), first.operation), ("InternalError", op));
        assert_eq!(faults.take(op).unwrap().code, "InternalError");
        assert_eq!(faults.take(op).unwrap().kind, ErrorKind::AccessDenied);
        assert!(faults.take(op).is_none());
        assert!(faults.take(Ec2Operation::DescribeVpcs).is_none());
    }
}
