//! Network ACL checks: stateless, so each side needs both the request and the return traffic.
//!
//! An ACL direction is evaluated as EC2 does: entries in ascending rule-number order, the first
//! entry matching a packet decides, and a packet no entry matches is denied. A check is about a
//! whole set of packets (a peer address range × a port range) and passes only if every one of
//! them passes; a failure names the entry (or the default deny) that stops part of the traffic.
//!
//! The request traffic is checked on each run of the spec's ports (`8080-8082` at once); a run
//! that fails is checked port by port, so that the block names exactly the ports stopped. The
//! return traffic check covers the whole ephemeral range 1024-65535, whatever the service's
//! port, because which port the client's operating system picks is unknown.

use std::fmt;

use super::EPHEMERAL_PORTS;
use super::addr::{AddrRange, AddrSet, Family};
use super::index::{NaclRule, NaclView, VpcIndex};
use super::ports::Ports;

/// Which direction of an ACL a flow crosses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    Inbound,
    Outbound,
}

/// A set of TCP packets: peers in `peer`, destination ports in `ports`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Packets {
    peer: AddrRange,
    ports: (u16, u16),
}

impl Packets {
    fn intersect(&self, rule: &NaclRule) -> Option<Packets> {
        let peer = self.peer.intersect(&rule.range)?;
        let lo = self.ports.0.max(rule.ports.0);
        let hi = self.ports.1.min(rule.ports.1);
        (lo <= hi).then_some(Packets {
            peer,
            ports: (lo, hi),
        })
    }

    /// The packets of `self` the rule does not match (at most four boxes).
    fn minus(&self, rule: &NaclRule) -> Vec<Packets> {
        let Some(cut) = self.intersect(rule) else {
            return vec![*self];
        };
        let mut rest: Vec<Packets> = self
            .peer
            .minus(&cut.peer)
            .into_iter()
            .map(|peer| Packets { peer, ..*self })
            .collect();
        if self.ports.0 < cut.ports.0 {
            rest.push(Packets {
                peer: cut.peer,
                ports: (self.ports.0, cut.ports.0 - 1),
            });
        }
        if cut.ports.1 < self.ports.1 {
            rest.push(Packets {
                peer: cut.peer,
                ports: (cut.ports.1 + 1, self.ports.1),
            });
        }
        rest
    }
}

/// Part of the traffic an ACL direction stops, and what stops it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denial {
    /// The denying entry's rule number; `None` for the implicit default deny.
    pub rule: Option<i32>,
    /// The denied peers (all or part of the checked range).
    pub peer: AddrRange,
    /// The denied ports (all or part of the checked ports).
    pub ports: (u16, u16),
}

/// Whether every TCP packet from/to `peer` on destination ports `ports` passes `rules`.
pub fn evaluate(rules: &[NaclRule], peer: AddrRange, ports: (u16, u16)) -> Result<(), Denial> {
    let mut pending = vec![Packets { peer, ports }];
    for rule in rules {
        if rule.allow {
            pending = pending.iter().flat_map(|p| p.minus(rule)).collect();
            if pending.is_empty() {
                return Ok(());
            }
        } else if let Some(hit) = pending.iter().find_map(|p| p.intersect(rule)) {
            return Err(Denial {
                rule: Some(rule.number),
                peer: hit.peer,
                ports: hit.ports,
            });
        }
    }
    let rest = pending[0];
    Err(Denial {
        rule: None,
        peer: rest.peer,
        ports: rest.ports,
    })
}

struct PortRange((u16, u16));

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (lo, hi) = self.0;
        if lo == hi {
            write!(f, "{lo}")
        } else {
            write!(f, "{lo}-{hi}")
        }
    }
}

/// "acl-1 (subnet-a) outbound rule 90 denies tcp 443 to 10.0.2.0/24".
fn describe(acl: &NaclView<'_>, subnet_id: &str, way: Way, denial: &Denial) -> String {
    let (dir, prep) = match way {
        Way::Inbound => ("inbound", "from"),
        Way::Outbound => ("outbound", "to"),
    };
    let id = &acl.acl.network_acl_id;
    let (peer, ports) = (denial.peer, PortRange(denial.ports));
    match denial.rule {
        // 32767 is how EC2 prints the `*` entry: the default deny made visible.
        Some(n) if n < 32767 => format!("{id} ({subnet_id}) {dir} rule {n} denies tcp {ports} {prep} {peer}"),
        _ => format!("{id} ({subnet_id}) {dir}: no rule allows tcp {ports} {prep} {peer} (default deny)"),
    }
}

fn missing_acl(subnet_id: &str) -> String {
    format!(
        "the snapshot has no network ACL for {subnet_id} (no association and no default ACL of the VPC); \
         every subnet has one in AWS, so the path cannot be verified: add NetworkAcls to the snapshot"
    )
}

/// The ACL of `subnet_id` for `ports` requested `request` (to or from `peer`) and the return
/// traffic the other way: the ports stopped (all of them when the return traffic is) and the
/// failures, one sentence each, joined.
fn check(
    index: &VpcIndex<'_>,
    subnet_id: &str,
    request: Way,
    peer: AddrRange,
    ports: &Ports,
) -> Option<(Ports, String)> {
    let Some(acl) = index.nacl_for_subnet(subnet_id) else {
        return Some((ports.clone(), missing_acl(subnet_id)));
    };
    let (requests, returns, back) = match request {
        Way::Inbound => (&acl.inbound, &acl.outbound, Way::Outbound),
        Way::Outbound => (&acl.outbound, &acl.inbound, Way::Inbound),
    };
    let mut stopped: Vec<u16> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for (lo, hi) in ports.ranges() {
        if let Err(denial) = evaluate(requests, peer, (lo, hi)) {
            failures.push(describe(acl, subnet_id, request, &denial));
            if lo == hi {
                stopped.push(lo);
            } else {
                stopped.extend((lo..=hi).filter(|&p| evaluate(requests, peer, (p, p)).is_err()));
            }
        }
    }
    if let Err(denial) = evaluate(returns, peer, EPHEMERAL_PORTS) {
        failures.push(describe(acl, subnet_id, back, &denial));
        stopped = ports.as_slice().to_vec();
    }
    (!failures.is_empty()).then(|| (Ports::new(stopped), failures.join("; ")))
}

/// The client subnet's ACL: `ports` out to the destination, ephemeral ports back in from it.
pub fn client_subnet(
    index: &VpcIndex<'_>,
    client_subnet: &str,
    destination: AddrRange,
    ports: &Ports,
) -> Option<(Ports, String)> {
    check(index, client_subnet, Way::Outbound, destination, ports)
}

/// The client addresses for which [`endpoint_subnet`] passes, as a set: computed once per
/// endpoint subnet, so that a client whose every source is in it needs no evaluation at all
/// (the sentences of the others are still made by [`endpoint_subnet`]).
///
/// A verdict can only change where an entry's range starts or ends, so the address space is cut
/// there and each piece is evaluated whole: a piece passes only if every address in it does,
/// and an address passes exactly when the piece holding it does.
pub fn endpoint_subnet_passing(index: &VpcIndex<'_>, endpoint_subnet: &str, ports: &Ports) -> AddrSet {
    match index.nacl_for_subnet(endpoint_subnet) {
        Some(acl) => passing(&acl.inbound, &acl.outbound, ports),
        None => AddrSet::default(),
    }
}

/// The peers for which every one of `ports` passes `inbound` and the ephemeral ports pass
/// `outbound`.
fn passing(inbound: &[NaclRule], outbound: &[NaclRule], ports: &Ports) -> AddrSet {
    let runs = ports.ranges();
    let mut passing = Vec::new();
    for (family, max) in [(Family::V4, u32::MAX as u128), (Family::V6, u128::MAX)] {
        let mut cuts: Vec<u128> = vec![0];
        for rule in inbound
            .iter()
            .chain(outbound)
            .filter(|r| r.range.family == family)
        {
            cuts.push(rule.range.lo);
            if let Some(after) = rule.range.hi.checked_add(1).filter(|&a| a <= max) {
                cuts.push(after);
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        for (k, &lo) in cuts.iter().enumerate() {
            let hi = cuts.get(k + 1).map_or(max, |next| next - 1);
            let piece = AddrRange { family, lo, hi };
            let passes = runs.iter().all(|&run| evaluate(inbound, piece, run).is_ok())
                && evaluate(outbound, piece, EPHEMERAL_PORTS).is_ok();
            if passes {
                passing.push(piece);
            }
        }
    }
    AddrSet::from_ranges(passing)
}

/// The endpoint subnet's ACL: `ports` in from the client, ephemeral ports back out to it.
pub fn endpoint_subnet(
    index: &VpcIndex<'_>,
    endpoint_subnet: &str,
    client: AddrRange,
    ports: &Ports,
) -> Option<(Ports, String)> {
    check(index, endpoint_subnet, Way::Inbound, client, ports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::addr::parse_net;

    fn range(text: &str) -> AddrRange {
        AddrRange::of_net(&parse_net(text).unwrap())
    }

    fn rule(number: i32, allow: bool, cidr: &str, ports: (u16, u16)) -> NaclRule {
        NaclRule {
            number,
            allow,
            range: range(cidr),
            ports,
        }
    }

    const ALL: (u16, u16) = (0, 65535);
    const HTTPS: (u16, u16) = (443, 443);

    #[test]
    fn the_first_matching_rule_decides() {
        let rules = [
            rule(90, false, "10.0.2.0/24", HTTPS),
            rule(100, true, "0.0.0.0/0", ALL),
        ];
        let denial = evaluate(&rules, range("10.0.2.7"), HTTPS).unwrap_err();
        assert_eq!(denial.rule, Some(90));
        let rules = [
            rule(90, true, "0.0.0.0/0", ALL),
            rule(100, false, "10.0.2.0/24", HTTPS),
        ];
        assert_eq!(evaluate(&rules, range("10.0.2.7"), HTTPS), Ok(()));
    }

    #[test]
    fn traffic_no_rule_matches_is_denied() {
        let rules = [rule(100, true, "10.0.1.0/24", ALL)];
        let denial = evaluate(&rules, range("10.0.2.7"), HTTPS).unwrap_err();
        assert_eq!(denial.rule, None);
        assert_eq!(evaluate(&[], range("10.0.2.7"), HTTPS).unwrap_err().rule, None);
    }

    #[test]
    fn a_range_passes_only_if_every_address_passes() {
        let rules = [rule(100, true, "10.0.2.0/25", HTTPS)];
        let denial = evaluate(&rules, range("10.0.2.0/24"), HTTPS).unwrap_err();
        assert_eq!(denial.peer, range("10.0.2.128/25"));
        let rules = [
            rule(100, true, "10.0.2.0/25", HTTPS),
            rule(110, true, "10.0.2.128/25", HTTPS),
        ];
        assert_eq!(evaluate(&rules, range("10.0.2.0/24"), HTTPS), Ok(()));
    }

    #[test]
    fn a_deny_of_part_of_a_range_fails_it_even_after_allows_of_the_rest() {
        let rules = [
            rule(100, true, "10.0.2.0/25", HTTPS),
            rule(110, false, "10.0.0.0/16", ALL),
        ];
        let denial = evaluate(&rules, range("10.0.2.0/24"), HTTPS).unwrap_err();
        assert_eq!(denial.rule, Some(110));
        assert_eq!(denial.peer, range("10.0.2.128/25"));
    }

    #[test]
    fn return_traffic_must_pass_on_every_ephemeral_port() {
        let rules = [rule(100, true, "0.0.0.0/0", (32768, 65535))];
        let denial = evaluate(&rules, range("10.0.2.7"), EPHEMERAL_PORTS).unwrap_err();
        assert_eq!(denial.ports, (1024, 32767));
        let rules = [rule(100, true, "0.0.0.0/0", (1024, 65535))];
        assert_eq!(evaluate(&rules, range("10.0.2.7"), EPHEMERAL_PORTS), Ok(()));
    }

    #[test]
    fn the_passing_set_holds_exactly_the_peers_that_pass_both_ways() {
        let inbound = [
            rule(90, false, "10.0.2.0/24", HTTPS),
            rule(100, true, "10.0.0.0/16", HTTPS),
            rule(110, true, "10.1.0.0/25", ALL),
            rule(120, false, "10.1.0.64/26", ALL),
            rule(130, true, "2001:db8::/64", HTTPS),
        ];
        let outbound = [
            rule(100, true, "10.0.0.0/17", (1024, 65535)),
            rule(110, true, "10.0.128.0/17", (32768, 65535)),
            rule(120, true, "10.1.0.0/16", ALL),
            rule(130, true, "::/0", ALL),
        ];
        let set = passing(&inbound, &outbound, &Ports::https());
        let mut state = 99u64;
        for k in 0..4000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let text = match k % 3 {
                0 => format!("10.0.{}.{}", (state >> 40) % 256, (state >> 20) % 256),
                1 => format!(
                    "10.{}.{}.{}",
                    (state >> 50) % 3,
                    (state >> 40) % 4,
                    (state >> 20) % 256
                ),
                _ => format!("2001:db8:0:{:x}::{:x}", (state >> 60) % 2, (state >> 20) % 65536),
            };
            let peer = range(&text);
            let expected =
                evaluate(&inbound, peer, HTTPS).is_ok() && evaluate(&outbound, peer, EPHEMERAL_PORTS).is_ok();
            assert_eq!(set.first_uncovered(&peer).is_none(), expected, "{text}");
        }
        // Ranges too: a /24 passes only if all of it does.
        for text in [
            "10.0.2.0/24",
            "10.0.3.0/24",
            "10.0.127.0/24",
            "10.0.128.0/24",
            "10.1.0.0/26",
            "10.1.0.0/25",
        ] {
            let peer = range(text);
            let expected =
                evaluate(&inbound, peer, HTTPS).is_ok() && evaluate(&outbound, peer, EPHEMERAL_PORTS).is_ok();
            assert_eq!(set.first_uncovered(&peer).is_none(), expected, "{text}");
        }
    }

    #[test]
    fn ipv6_entries_never_match_ipv4_traffic() {
        let rules = [rule(100, true, "::/0", ALL)];
        assert!(evaluate(&rules, range("10.0.2.7"), HTTPS).is_err());
        assert_eq!(evaluate(&rules, range("2001:db8::7"), HTTPS), Ok(()));
    }
}
