//! The seeded random source of one simulated run: SplitMix64, so that a seed is the whole
//! recipe of a run on every platform and the crate needs no random-number dependency.

use std::time::Duration;

/// A deterministic stream of random numbers.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        // Seeds 0, 1, 2, ... start far apart in the sequence.
        Self {
            state: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d,
        }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < p
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }

    /// A duration in `[low, high]`, to the millisecond.
    pub(crate) fn between(&mut self, low: Duration, high: Duration) -> Duration {
        let (low_ms, high_ms) = (low.as_millis() as u64, high.as_millis() as u64);
        if high_ms <= low_ms {
            return low;
        }
        Duration::from_millis(low_ms + (self.next_u64() % (high_ms - low_ms + 1)))
    }

    /// A stream of its own for one part of the run, tagged `stream`, drawn from this one's
    /// state without advancing it: adding the part does not shift the other draws.
    pub(crate) fn fork_for(&self, stream: u64) -> Rng {
        let mut rng = Rng {
            state: self.state ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03),
        };
        rng.next_u64();
        rng
    }

    /// An independent stream (for a part of the run whose draws should not shift the others').
    pub(crate) fn fork(&mut self) -> Rng {
        Rng {
            state: self.next_u64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stream_and_another_seed_another() {
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..8).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn draws_stay_in_their_ranges() {
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            assert!(rng.below(3) < 3);
            let d = rng.between(Duration::from_secs(2), Duration::from_secs(5));
            assert!((Duration::from_secs(2)..=Duration::from_secs(5)).contains(&d));
        }
        assert_eq!(rng.below(0), 0);
        assert!(!rng.chance(0.0));
        assert!(rng.chance(1.0));
    }
}
