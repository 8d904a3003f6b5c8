//! Virtual time for the simulated world.
//!
//! Nothing in the simulation sleeps: endpoints become `available`, disappear after deletion and
//! become visible to describes when the clock says so, and token buckets refill by it. Tests and
//! the `demo` command move time forward with [`SimClock::advance`]; every clone shares the same
//! time, so the engine, the world and the test see one clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Where virtual time starts unless told otherwise: 2025-01-01T00:00:00Z.
pub const SIM_EPOCH: Timestamp = Timestamp::constant(1_735_689_600, 0);

/// A shared virtual clock: elapsed time since its start, moved only by [`SimClock::advance`].
#[derive(Clone, Debug)]
pub struct SimClock {
    inner: Arc<ClockState>,
}

#[derive(Debug)]
struct ClockState {
    start: Timestamp,
    elapsed_nanos: AtomicU64,
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SimClock {
    /// A clock at [`SIM_EPOCH`].
    pub fn new() -> Self {
        Self::starting_at(SIM_EPOCH)
    }

    /// A clock whose zero is `start` (for timestamps only; [`SimClock::now`] starts at zero).
    pub fn starting_at(start: Timestamp) -> Self {
        Self {
            inner: Arc::new(ClockState {
                start,
                elapsed_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// Virtual time elapsed since the clock started.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.inner.elapsed_nanos.load(Ordering::SeqCst))
    }

    /// Moves time forward for everyone sharing this clock (saturating, never backwards).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .inner
            .elapsed_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| Some(n.saturating_add(by)));
    }

    /// The wall-clock time the simulation is at.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp_at(self.now())
    }

    /// The wall-clock time at `elapsed` after the start.
    pub fn timestamp_at(&self, elapsed: Duration) -> Timestamp {
        let elapsed = SignedDuration::try_from(elapsed).unwrap_or(SignedDuration::MAX);
        self.inner
            .start
            .saturating_add(elapsed)
            .unwrap_or(self.inner.start)
    }
}

/// A timestamp as EC2 prints it in JSON (`2025-01-01T00:00:00.000Z`).
pub fn aws_timestamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_virtual_time_that_only_moves_when_advanced() {
        let clock = SimClock::new();
        let other = clock.clone();
        assert_eq!(clock.now(), Duration::ZERO);
        other.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), Duration::from_millis(1500));
        assert_eq!(aws_timestamp(clock.timestamp()), "2025-01-01T00:00:01.500Z");
    }

    #[test]
    fn advancing_by_an_absurd_duration_saturates_instead_of_wrapping() {
        let clock = SimClock::new();
        clock.advance(Duration::from_secs(10));
        clock.advance(Duration::MAX);
        assert!(clock.now() >= Duration::from_secs(10));
    }
}
