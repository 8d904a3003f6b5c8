//! The last few results of a pure function, per thread: for work a pass repeats on inputs that
//! rarely change between passes (a spec's validation, a plan id's hash). The value is exactly
//! what the function gives; only the repeated computing goes.

use std::collections::VecDeque;

/// The results for the last `capacity` distinct inputs, the latest first.
pub struct Recent<K, V> {
    entries: VecDeque<(K, V)>,
    capacity: usize,
}

impl<K: PartialEq + Clone, V: Clone> Recent<K, V> {
    pub const fn new(capacity: usize) -> Recent<K, V> {
        Recent {
            entries: VecDeque::new(),
            capacity,
        }
    }

    /// `compute(key)`'s value, computed only when `key` is not among the remembered inputs.
    pub fn get_or_compute(&mut self, key: &K, compute: impl FnOnce(&K) -> V) -> V {
        if let Some(i) = self.entries.iter().position(|(k, _)| k == key) {
            let entry = self.entries.remove(i).expect("the position is in range");
            let value = entry.1.clone();
            self.entries.push_front(entry);
            return value;
        }
        let value = compute(key);
        if self.entries.len() == self.capacity {
            self.entries.pop_back();
        }
        self.entries.push_front((key.clone(), value.clone()));
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_input_is_not_computed_again_and_the_oldest_is_forgotten() {
        let mut recent = Recent::new(2);
        let mut computed = Vec::new();
        let mut square = |recent: &mut Recent<u32, u32>, n: u32| {
            recent.get_or_compute(&n, |n| {
                computed.push(*n);
                n * n
            })
        };
        assert_eq!(square(&mut recent, 2), 4);
        assert_eq!(square(&mut recent, 3), 9);
        assert_eq!(square(&mut recent, 2), 4);
        // 3 is now the oldest: 4 pushes it out, 2 stays.
        assert_eq!(square(&mut recent, 4), 16);
        assert_eq!(square(&mut recent, 2), 4);
        assert_eq!(square(&mut recent, 3), 9);
        assert_eq!(computed, [2, 3, 4, 3]);
    }
}
