//! Every address an ENI can send from: its primary and secondary private IPv4 addresses, the
//! IPv4 and IPv6 prefixes delegated to it, and its IPv6 addresses.
//!
//! A pod on EKS sends from a secondary address (or, with prefix delegation, from an address out
//! of a /28 the node's ENI holds), not from the node's primary address; a rule admitting only
//! the primary address lets the node through and cuts the pods off. So a client is reachable
//! only when each of its sources is, and a prefix only when every address in it is.

use std::fmt;

use ipnet::IpNet;
use serde::Serialize;

use super::AnalysisError;
use super::addr::{AddrRange, Family, parse_net, push_ip, push_u8};
use crate::model::NetworkInterface;

/// What a source is to its ENI, for the sentences that name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum SourceKind {
    PrimaryIpv4,
    SecondaryIpv4,
    Ipv4Prefix,
    Ipv6Address,
    Ipv6Prefix,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::PrimaryIpv4 => "primary private IPv4",
            SourceKind::SecondaryIpv4 => "secondary private IPv4",
            SourceKind::Ipv4Prefix => "IPv4 prefix",
            SourceKind::Ipv6Address => "IPv6 address",
            SourceKind::Ipv6Prefix => "IPv6 prefix",
        }
    }
}

/// An address (`/32`, `/128`) or a delegated prefix an ENI sends from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    pub net: IpNet,
    pub kind: SourceKind,
}

impl Source {
    pub fn range(&self) -> AddrRange {
        AddrRange::of_net(&self.net)
    }

    pub fn family(&self) -> Family {
        match self.net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    /// Whether the source is one address rather than a prefix.
    pub fn is_address(&self) -> bool {
        self.net.prefix_len() == self.net.max_prefix_len()
    }

    /// `10.0.2.10` or `10.0.3.16/28`.
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(20);
        self.push_text(&mut out);
        out
    }

    /// Appends [`Source::text`].
    pub fn push_text(&self, out: &mut String) {
        push_ip(out, self.net.addr());
        if !self.is_address() {
            out.push('/');
            push_u8(out, self.net.prefix_len());
        }
    }

    /// Appends the source as `Display` shows it.
    pub fn push_named(&self, out: &mut String) {
        self.push_text(out);
        if self.kind != SourceKind::PrimaryIpv4 {
            out.push_str(" (");
            out.push_str(self.kind.as_str());
            out.push(')');
        }
    }
}

/// `10.0.2.10` for the primary address (the one everybody knows), `10.0.2.20 (secondary private
/// IPv4)` or `10.0.3.16/28 (IPv4 prefix)` otherwise.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(48);
        self.push_named(&mut out);
        f.write_str(&out)
    }
}

/// The ENI's sources, primary address first, then by kind and address, without duplicates
/// (the primary address is listed twice by EC2: `PrivateIpAddress` and in `PrivateIpAddresses`).
/// Errors name the ENI and the value that does not parse; empty strings are skipped.
pub fn of(eni: &NetworkInterface) -> Result<Vec<Source>, AnalysisError> {
    let primary_text = eni.private_ip_address.as_deref().filter(|s| !s.trim().is_empty());
    let listed = eni.private_ip_addresses.iter().map(|a| {
        let primary = a.primary == Some(true) || primary_text == Some(a.private_ip_address.as_str());
        let kind = if primary {
            SourceKind::PrimaryIpv4
        } else {
            SourceKind::SecondaryIpv4
        };
        (a.private_ip_address.as_str(), kind)
    });
    let texts = primary_text
        .map(|t| (t, SourceKind::PrimaryIpv4))
        .into_iter()
        .chain(listed)
        .chain(
            eni.ipv4_prefixes
                .iter()
                .map(|p| (p.ipv4_prefix.as_str(), SourceKind::Ipv4Prefix)),
        )
        .chain(
            eni.ipv6_addresses
                .iter()
                .map(|a| (a.ipv6_address.as_str(), SourceKind::Ipv6Address)),
        )
        .chain(
            eni.ipv6_prefixes
                .iter()
                .map(|p| (p.ipv6_prefix.as_str(), SourceKind::Ipv6Prefix)),
        );

    let mut sources = Vec::new();
    for (text, kind) in texts.filter(|(t, _)| !t.trim().is_empty()) {
        let net = parse_net(text)
            .filter(|net| {
                // An address where an address belongs, a prefix where a prefix does.
                let is_prefix = matches!(kind, SourceKind::Ipv4Prefix | SourceKind::Ipv6Prefix);
                let family_ok = match kind {
                    SourceKind::Ipv6Address | SourceKind::Ipv6Prefix => net.addr().is_ipv6(),
                    _ => net.addr().is_ipv4(),
                };
                family_ok && (is_prefix || net.prefix_len() == net.max_prefix_len())
            })
            .ok_or_else(|| AnalysisError::InvalidAddress {
                what: format!("network interface {}", eni.network_interface_id),
                value: text.to_string(),
            })?;
        sources.push(Source { net, kind });
    }
    // Per address, the first kind wins (primary before secondary); O(k log k) in the sources.
    sources.sort_by_key(|s| (s.net, s.kind));
    sources.dedup_by_key(|s| s.net);
    sources.sort_by_key(|s| (s.kind, s.net));
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Ipv4PrefixSpecification, Ipv6Address, Ipv6PrefixSpecification, PrivateIpAddress};

    fn eni() -> NetworkInterface {
        NetworkInterface {
            network_interface_id: "eni-node".into(),
            private_ip_address: Some("10.0.2.10".into()),
            private_ip_addresses: ["10.0.2.10", "10.0.2.30", "10.0.2.20"]
                .iter()
                .enumerate()
                .map(|(i, a)| PrivateIpAddress {
                    private_ip_address: a.to_string(),
                    primary: Some(i == 0),
                })
                .collect(),
            ipv4_prefixes: vec![Ipv4PrefixSpecification {
                ipv4_prefix: "10.0.2.48/28".into(),
            }],
            ipv6_addresses: vec![Ipv6Address {
                ipv6_address: "2600:1f14::10".into(),
            }],
            ipv6_prefixes: vec![Ipv6PrefixSpecification {
                ipv6_prefix: "2600:1f14:0:1::/80".into(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn every_address_and_prefix_is_a_source_once_primary_first() {
        let sources: Vec<String> = of(&eni()).unwrap().iter().map(Source::to_string).collect();
        assert_eq!(
            sources,
            [
                "10.0.2.10",
                "10.0.2.20 (secondary private IPv4)",
                "10.0.2.30 (secondary private IPv4)",
                "10.0.2.48/28 (IPv4 prefix)",
                "2600:1f14::10 (IPv6 address)",
                "2600:1f14:0:1::/80 (IPv6 prefix)",
            ]
        );
    }

    #[test]
    fn an_eni_listing_its_primary_only_in_the_address_list_still_has_it_first() {
        let mut e = eni();
        e.private_ip_address = None;
        let sources = of(&e).unwrap();
        assert_eq!(sources[0].kind, SourceKind::PrimaryIpv4);
        assert_eq!(sources[0].text(), "10.0.2.10");
    }

    #[test]
    fn a_malformed_address_or_a_prefix_where_an_address_belongs_names_the_eni() {
        for (field, value) in [
            ("secondary", "10.0.2.999"),
            ("secondary", "10.0.2.0/28"),
            ("prefix", "10.0.2.48/33"),
            ("prefix", "2600:1f14::/80"),
        ] {
            let mut e = eni();
            match field {
                "secondary" => e.private_ip_addresses[1].private_ip_address = value.into(),
                _ => e.ipv4_prefixes[0].ipv4_prefix = value.into(),
            }
            assert_eq!(
                of(&e),
                Err(AnalysisError::InvalidAddress {
                    what: "network interface eni-node".into(),
                    value: value.into(),
                }),
                "{field} {value}"
            );
        }
    }
}
