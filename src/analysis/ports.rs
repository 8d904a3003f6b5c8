//! The TCP ports clients use (`spec.ports`), as the checks, the rules and the sentences see them.
//!
//! A [`Ports`] is a sorted set without duplicates. Contiguous ports are one range
//! ([`Ports::ranges`]): one rule covers `8080-8082`, and a sentence says `tcp/8080-8082`.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::api::{DEFAULT_PORT, InterfaceEndpointSpec};

/// A set of TCP ports, sorted, without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ports(Vec<u16>);

impl Ports {
    pub fn new(ports: impl IntoIterator<Item = u16>) -> Ports {
        let mut ports: Vec<u16> = ports.into_iter().collect();
        ports.sort_unstable();
        ports.dedup();
        Ports(ports)
    }

    /// One port.
    pub fn one(port: u16) -> Ports {
        Ports(vec![port])
    }

    /// The ports the spec declares (`[443]` when it says nothing).
    pub fn of(spec: &InterfaceEndpointSpec) -> Ports {
        Ports::new(spec.ports.iter().copied())
    }

    /// 443, what every check was about before `spec.ports`.
    pub fn https() -> Ports {
        Ports::one(DEFAULT_PORT)
    }

    /// The ports of `lo..=hi`.
    pub fn range(lo: u16, hi: u16) -> Ports {
        Ports((lo..=hi).collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().copied()
    }

    pub fn as_slice(&self) -> &[u16] {
        &self.0
    }

    pub fn first(&self) -> Option<u16> {
        self.0.first().copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, port: u16) -> bool {
        self.0.binary_search(&port).is_ok()
    }

    /// Whether every port of `lo..=hi` is in the set.
    pub fn covers(&self, lo: u16, hi: u16) -> bool {
        lo <= hi && self.ranges().iter().any(|&(a, b)| a <= lo && hi <= b)
    }

    /// The ports in both.
    pub fn intersection(&self, other: &Ports) -> Ports {
        Ports(self.iter().filter(|p| other.contains(*p)).collect())
    }

    /// The ports of `self` not in `other`.
    pub fn minus(&self, other: &Ports) -> Ports {
        Ports(self.iter().filter(|p| !other.contains(*p)).collect())
    }

    /// The ports in either.
    pub fn union(&self, other: &Ports) -> Ports {
        Ports::new(self.iter().chain(other.iter()))
    }

    /// The maximal runs of consecutive ports, ascending: `[(5432, 5432), (8080, 8082)]`.
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        let mut out: Vec<(u16, u16)> = Vec::new();
        for &p in &self.0 {
            match out.last_mut() {
                Some((_, hi)) if u32::from(*hi) + 1 == u32::from(p) => *hi = p,
                _ => out.push((p, p)),
            }
        }
        out
    }

    /// `tcp/443`, `tcp/8080-8082`, `tcp/5432 and 8080-8082`: for sentences.
    pub fn tcp(&self) -> String {
        format!("tcp/{self}")
    }
}

impl Ports {
    /// Appends the ports as `Display` shows them, without a string per range: the sentences
    /// of a large VPC name their ports tens of thousands of times.
    pub fn push_text(&self, out: &mut String) {
        use fmt::Write;
        let ranges = self.ranges();
        if ranges.is_empty() {
            out.push_str("no port");
        }
        for (i, &(lo, hi)) in ranges.iter().enumerate() {
            if i + 1 == ranges.len() && i > 0 {
                out.push_str(" and ");
            } else if i > 0 {
                out.push_str(", ");
            }
            let _ = if lo == hi {
                write!(out, "{lo}")
            } else {
                write!(out, "{lo}-{hi}")
            };
        }
    }
}

/// `443`, `8080-8082`, `80, 443 and 8080-8082`; `no port` when empty.
impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.push_text(&mut out);
        f.write_str(&out)
    }
}

/// As a list of numbers (`-o json`).
impl Serialize for Ports {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition `push_text` replaced: a string per range, joined.
    fn joined(ports: &Ports) -> String {
        let parts: Vec<String> = ports
            .ranges()
            .into_iter()
            .map(|(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect();
        match parts.split_last() {
            None => "no port".to_string(),
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        }
    }

    #[test]
    fn ports_read_as_their_ranges_joined() {
        let cases = [
            Ports::default(),
            Ports::https(),
            Ports::range(8080, 8082),
            Ports::new([5432, 8080, 8081, 8082]),
            Ports::new([22, 443, 8080, 8081, 65535]),
            Ports::new([0, 2, 4, 6]),
        ];
        for ports in cases {
            assert_eq!(ports.to_string(), joined(&ports), "{ports:?}");
        }
        assert_eq!(
            Ports::new([22, 443, 8080, 8081]).to_string(),
            "22, 443 and 8080-8081"
        );
    }

    #[test]
    fn contiguous_ports_are_one_range() {
        let ports = Ports::new([8082, 5432, 8080, 8081, 8080]);
        assert_eq!(ports.as_slice(), [5432, 8080, 8081, 8082]);
        assert_eq!(ports.ranges(), [(5432, 5432), (8080, 8082)]);
        assert_eq!(ports.to_string(), "5432 and 8080-8082");
        assert_eq!(
            Ports::new([80, 443, 8080, 8081]).tcp(),
            "tcp/80, 443 and 8080-8081"
        );
        assert_eq!(Ports::https().tcp(), "tcp/443");
        assert_eq!(Ports::new([65534, 65535]).ranges(), [(65534, 65535)]);
    }

    #[test]
    fn covers_asks_for_every_port_of_the_range() {
        let ports = Ports::new([8080, 8081, 8082, 9000]);
        assert!(ports.covers(8080, 8082));
        assert!(ports.covers(8081, 8081));
        assert!(!ports.covers(8080, 8083));
        assert!(!ports.covers(8082, 9000));
    }

    #[test]
    fn set_operations() {
        let a = Ports::new([443, 8443, 9000]);
        let b = Ports::new([443, 9000, 9001]);
        assert_eq!(a.intersection(&b), Ports::new([443, 9000]));
        assert_eq!(a.minus(&b), Ports::one(8443));
        assert_eq!(a.union(&b), Ports::new([443, 8443, 9000, 9001]));
    }
}
