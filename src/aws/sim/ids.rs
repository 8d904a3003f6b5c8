//! Deterministic ids in EC2's shapes (`vpce-0` + 16 hex digits, `eni-…`, `sgr-…`).
//!
//! Ids come from a counter passed through a bijective mix, so they look like EC2's (which tests
//! and the demo print) yet are the same on every run: the same calls give the same ids.

/// The sequence ids are drawn from.
#[derive(Clone, Debug)]
pub(super) struct IdSequence {
    next: u64,
}

impl Default for IdSequence {
    fn default() -> Self {
        Self { next: 1 }
    }
}

impl IdSequence {
    /// A fresh `<prefix>-0xxxxxxxxxxxxxxxx` id that `taken` does not already use.
    pub(super) fn id(&mut self, prefix: &str, taken: impl Fn(&str) -> bool) -> String {
        loop {
            let id = format!("{prefix}-0{:016x}", self.draw());
            if !taken(&id) {
                return id;
            }
        }
    }

    /// Eight lower-case letters and digits, like the random part of an endpoint's DNS names.
    pub(super) fn dns_label(&mut self) -> String {
        const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut n = self.draw();
        (0..8)
            .map(|_| {
                let c = ALPHABET[(n % 36) as usize] as char;
                n /= 36;
                c
            })
            .collect()
    }

    fn draw(&mut self) -> u64 {
        let n = self.next;
        self.next += 1;
        mix(n)
    }
}

/// A request id in the shape EC2 gives them (a version-4 UUID), the `n`-th of the world. Drawn
/// from a counter of its own, so that a call more or less never changes a resource's id.
pub(super) fn request_id(n: u64) -> String {
    let a = mix(n ^ 0x5eed_0f0e_c2ca_11ed);
    let b = mix(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// SplitMix64's finalizer: a bijection on u64, so distinct counters give distinct ids.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A short stable hash of a string (FNV-1a), for hosted zone ids derived from names.
pub(super) fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A Route 53 hosted zone id shape (`Z` + 13 upper-case letters and digits) derived from `seed`.
pub(super) fn hosted_zone_id(seed: &str) -> String {
    const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut n = mix(stable_hash(seed));
    let tail: String = (0..13)
        .map(|_| {
            let c = ALPHABET[(n % 36) as usize] as char;
            n = n / 36 + 7;
            c
        })
        .collect();
    format!("Z{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_ec2_long_id_shape_and_repeat_across_runs() {
        let mut a = IdSequence::default();
        let mut b = IdSequence::default();
        let first = a.id("vpce", |_| false);
        assert_eq!(first, b.id("vpce", |_| false));
        assert_eq!(first.len(), "vpce-".len() + 17);
        assert!(first["vpce-".len()..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(first, a.id("vpce", |_| false));
    }

    #[test]
    fn request_ids_are_distinct_uuids() {
        let (first, second) = (request_id(1), request_id(2));
        assert_ne!(first, second);
        let groups: Vec<usize> = first.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{first}");
        assert_eq!(&first[14..15], "4", "version 4: {first}");
    }

    #[test]
    fn an_id_already_in_the_world_is_skipped() {
        let mut probe = IdSequence::default();
        let taken = probe.id("eni", |_| false);
        let mut seq = IdSequence::default();
        let id = seq.id("eni", |candidate| candidate == taken);
        assert_ne!(id, taken);
    }
}
