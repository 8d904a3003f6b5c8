//! The hash maps of the analysis: std's maps with a fast, non-keyed hasher (the multiply-rotate
//! hash rustc uses for its own tables) instead of SipHash.
//!
//! The analysis hashes group ids, subnet ids, ENI ids and group lists hundreds of thousands of
//! times for a 20,000-ENI VPC; SipHash made that a tenth of its instructions. Its keys come from
//! AWS's description of the account's own VPC, not from an adversary choosing them to collide,
//! so SipHash's protection against hash flooding buys nothing here.

use std::hash::{BuildHasherDefault, Hasher};

pub type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub type HashSet<K> = std::collections::HashSet<K, BuildHasherDefault<FxHasher>>;

/// `HashMap::with_capacity` for [`HashMap`].
pub fn map_with_capacity<K, V>(capacity: usize) -> HashMap<K, V> {
    HashMap::with_capacity_and_hasher(capacity, Default::default())
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// rustc's FxHasher: each word is folded in with a rotate, a xor and a multiply.
#[derive(Clone, Copy, Default)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, mut bytes: &[u8]) {
        while let Some((word, rest)) = bytes.split_first_chunk::<8>() {
            self.add(u64::from_le_bytes(*word));
            bytes = rest;
        }
        if let Some((word, rest)) = bytes.split_first_chunk::<4>() {
            self.add(u64::from(u32::from_le_bytes(*word)));
            bytes = rest;
        }
        for &b in bytes {
            self.add(u64::from(b));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_differ_anywhere_hash_apart_and_maps_find_what_they_hold() {
        let ids: Vec<String> = (0..5000).map(|i| format!("sg-{i:017x}")).collect();
        let hashes: HashSet<u64> = ids
            .iter()
            .map(|id| std::hash::BuildHasher::hash_one(&BuildHasherDefault::<FxHasher>::default(), id))
            .collect();
        assert_eq!(hashes.len(), ids.len());
        let map: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        assert!(
            ids.iter()
                .enumerate()
                .all(|(i, id)| map.get(id.as_str()) == Some(&i))
        );
        assert_eq!(map.get("sg-absent"), None);
    }
}
