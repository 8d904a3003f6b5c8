//! Address arithmetic for the checks: inclusive ranges of IPv4 or IPv6 addresses, and merged
//! sets of them.
//!
//! Both families are held as `u128` with a family flag, so that an IPv4 rule can never match an
//! IPv6 address (and the other way round) however the numbers compare.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

/// An inclusive range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddrRange {
    pub family: Family,
    pub lo: u128,
    pub hi: u128,
}

impl AddrRange {
    pub fn of_net(net: &IpNet) -> AddrRange {
        match net {
            IpNet::V4(n) => AddrRange {
                family: Family::V4,
                lo: u32::from(n.network()) as u128,
                hi: u32::from(n.broadcast()) as u128,
            },
            IpNet::V6(n) => AddrRange {
                family: Family::V6,
                lo: u128::from(n.network()),
                hi: u128::from(n.broadcast()),
            },
        }
    }

    pub fn of_addr(ip: IpAddr) -> AddrRange {
        let (family, n) = split(ip);
        AddrRange { family, lo: n, hi: n }
    }

    pub fn intersect(&self, other: &AddrRange) -> Option<AddrRange> {
        if self.family != other.family {
            return None;
        }
        let lo = self.lo.max(other.lo);
        let hi = self.hi.min(other.hi);
        (lo <= hi).then_some(AddrRange {
            family: self.family,
            lo,
            hi,
        })
    }

    /// The parts of `self` outside `other` (none, one or two ranges).
    pub fn minus(&self, other: &AddrRange) -> Vec<AddrRange> {
        let Some(cut) = self.intersect(other) else {
            return vec![*self];
        };
        let mut parts = Vec::with_capacity(2);
        if self.lo < cut.lo {
            parts.push(AddrRange {
                hi: cut.lo - 1,
                ..*self
            });
        }
        if cut.hi < self.hi {
            parts.push(AddrRange {
                lo: cut.hi + 1,
                ..*self
            });
        }
        parts
    }
}

/// `10.0.1.5`, `10.0.1.0/24`, or `10.0.1.0-10.0.1.99` when the range is not a CIDR block.
impl fmt::Display for AddrRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lo = join(self.family, self.lo);
        if self.lo == self.hi {
            return write!(f, "{lo}");
        }
        let size = self.hi - self.lo;
        // A CIDR block: the size is 2^k - 1 and the start is aligned to it.
        if size.checked_add(1).is_none_or(|n| n.is_power_of_two()) && self.lo & size == 0 {
            let bits = match self.family {
                Family::V4 => 32,
                Family::V6 => 128,
            };
            let prefix = bits - (128 - size.leading_zeros());
            return write!(f, "{lo}/{prefix}");
        }
        write!(f, "{lo}-{}", join(self.family, self.hi))
    }
}

fn split(ip: IpAddr) -> (Family, u128) {
    match ip {
        IpAddr::V4(a) => (Family::V4, u32::from(a) as u128),
        IpAddr::V6(a) => (Family::V6, u128::from(a)),
    }
}

fn join(family: Family, n: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(n as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

/// Appends `ip` as `Display` prints it. IPv4 is written digit by digit: `Ipv4Addr`'s `Display`
/// goes through the formatter for each octet, several times slower, and the sentences of a large
/// VPC name tens of thousands of addresses.
pub fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            for (i, octet) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u8(out, octet);
            }
        }
        IpAddr::V6(a) => {
            use std::fmt::Write;
            let _ = write!(out, "{a}");
        }
    }
}

/// Appends `n` in decimal.
pub fn push_u8(out: &mut String, n: u8) {
    if n >= 100 {
        out.push(char::from(b'0' + n / 100));
    }
    if n >= 10 {
        out.push(char::from(b'0' + n / 10 % 10));
    }
    out.push(char::from(b'0' + n % 10));
}

/// Parses a CIDR as AWS prints it (`10.0.0.0/16`, `::/0`); a bare address is a single host.
pub fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    // A CIDR has a `/`, an address none: each text is parsed once, as what it can be (most
    // texts are ENI addresses, which a CIDR parse would first fail on).
    if text.contains('/') {
        return crate::model::parse_ip_net(text).map(|net| net.trunc());
    }
    match text.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some(IpNet::V4(Ipv4Net::new(a, 32).ok()?)),
        IpAddr::V6(a) => Some(IpNet::V6(Ipv6Net::new(a, 128).ok()?)),
    }
}

/// A union of address ranges, merged and sorted per family: membership is a binary search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddrSet {
    v4: Vec<(u128, u128)>,
    v6: Vec<(u128, u128)>,
}

impl AddrSet {
    pub fn from_ranges(ranges: impl IntoIterator<Item = AddrRange>) -> AddrSet {
        let mut set = AddrSet::default();
        for r in ranges {
            set.list_mut(r.family).push((r.lo, r.hi));
        }
        set.v4 = merge(std::mem::take(&mut set.v4));
        set.v6 = merge(std::mem::take(&mut set.v6));
        set
    }

    /// The union of several sets.
    pub fn union<'s>(sets: impl IntoIterator<Item = &'s AddrSet>) -> AddrSet {
        let mut out = AddrSet::default();
        for s in sets {
            out.v4.extend_from_slice(&s.v4);
            out.v6.extend_from_slice(&s.v6);
        }
        out.v4 = merge(out.v4);
        out.v6 = merge(out.v6);
        out
    }

    fn list(&self, family: Family) -> &[(u128, u128)] {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    fn list_mut(&mut self, family: Family) -> &mut Vec<(u128, u128)> {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }

    #[cfg(test)]
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.first_uncovered(&AddrRange::of_addr(ip)).is_none()
    }

    /// The lowest address of `range` outside the set, or `None` when the set covers all of it.
    pub fn first_uncovered(&self, range: &AddrRange) -> Option<IpAddr> {
        let list = self.list(range.family);
        // The last merged interval starting at or below range.lo is the only one that can
        // cover range.lo; intervals are disjoint and non-adjacent, so it covers the whole
        // range or the first gap is right after it.
        let idx = list.partition_point(|&(lo, _)| lo <= range.lo);
        let uncovered = match idx.checked_sub(1).map(|i| list[i]) {
            Some((_, hi)) if hi >= range.hi => return None,
            Some((_, hi)) if hi >= range.lo => hi + 1,
            _ => range.lo,
        };
        Some(join(range.family, uncovered))
    }
}

/// Sorts and merges overlapping or adjacent intervals.
fn merge(mut list: Vec<(u128, u128)>) -> Vec<(u128, u128)> {
    list.sort_unstable();
    let mut out: Vec<(u128, u128)> = Vec::with_capacity(list.len());
    for (lo, hi) in list {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> AddrRange {
        AddrRange::of_net(&parse_net(text).unwrap())
    }

    #[test]
    fn ranges_print_as_addresses_cidrs_or_spans() {
        assert_eq!(range("10.0.1.5").to_string(), "10.0.1.5");
        assert_eq!(range("10.0.1.0/24").to_string(), "10.0.1.0/24");
        assert_eq!(range("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(range("::/0").to_string(), "::/0");
        assert_eq!(range("2001:db8::/64").to_string(), "2001:db8::/64");
        let parts = range("10.0.1.0/24").minus(&range("10.0.1.0/25"));
        assert_eq!(parts[0].to_string(), "10.0.1.128/25");
        let parts = range("10.0.1.0/24").minus(&range("10.0.1.100"));
        assert_eq!(parts[0].to_string(), "10.0.1.0-10.0.1.99");
    }

    #[test]
    fn a_set_covers_a_range_only_when_every_address_is_in_it() {
        let set = AddrSet::from_ranges([range("10.0.1.0/25"), range("10.0.1.128/26")]);
        assert_eq!(set.first_uncovered(&range("10.0.1.0/25")), None);
        assert_eq!(set.first_uncovered(&range("10.0.1.64/26")), None);
        assert_eq!(
            set.first_uncovered(&range("10.0.1.0/24")),
            Some("10.0.1.192".parse().unwrap())
        );
        assert_eq!(
            set.first_uncovered(&range("10.0.0.0/23")),
            Some("10.0.0.0".parse().unwrap())
        );
        assert!(set.contains("10.0.1.130".parse().unwrap()));
        assert!(!set.contains("10.0.2.1".parse().unwrap()));
    }

    #[test]
    fn ipv4_ranges_never_contain_ipv6_addresses() {
        let set = AddrSet::from_ranges([range("0.0.0.0/0")]);
        assert!(!set.contains("::a00:105".parse().unwrap()));
        assert!(!set.contains("::ffff:10.0.1.5".parse().unwrap()));
        assert_eq!(range("0.0.0.0/0").intersect(&range("::/0")), None);
        let all6 = AddrSet::from_ranges([range("::/0")]);
        assert!(!all6.contains("10.0.1.5".parse().unwrap()));
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        let mut state = 7u64;
        let mut samples: Vec<IpAddr> = [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.9.100",
            "::",
            "2600:1f14::10",
            "::ffff:10.0.1.5",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        for _ in 0..2000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            samples.push(IpAddr::V4(Ipv4Addr::from((state >> 32) as u32)));
        }
        for ip in samples {
            let mut out = String::from("x");
            push_ip(&mut out, ip);
            assert_eq!(out, format!("x{ip}"));
        }
    }

    #[test]
    fn bare_addresses_parse_as_single_hosts_and_host_bits_are_dropped() {
        assert_eq!(parse_net("10.0.1.5").unwrap().to_string(), "10.0.1.5/32");
        assert_eq!(parse_net("10.0.1.5/24").unwrap().to_string(), "10.0.1.0/24");
        assert!(parse_net("10.0.1.300/24").is_none());
    }
}
