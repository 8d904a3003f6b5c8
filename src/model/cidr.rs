//! CIDR text to [`IpNet`]: exactly what `text.parse::<IpNet>()` gives, quicker.
//!
//! Every pass reads every rule's, subnet's and ACL entry's block as text (a few hundred in a
//! small VPC, 100,000 in a large snapshot). ipnet's parser tries each form in turn through
//! boxed closures; std's address parsers are the same grammar without that detour. The usual
//! form (`address/length`, the address as std reads it) goes through std; anything else
//! (leading zeros in an IPv4 octet, which ipnet's older grammar takes and std refuses, or
//! anything malformed) falls back to ipnet itself, so no text parses differently.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// `text.parse::<IpNet>().ok()`.
pub fn parse_ip_net(text: &str) -> Option<IpNet> {
    usual_form(text).or_else(|| text.parse::<IpNet>().ok())
}

/// `address/length` with the address as std parses it and the length as ipnet reads it (up to 2
/// decimal digits below 33 for IPv4, up to 3 below 129 for IPv6, leading zeros allowed).
/// std's address grammar is ipnet's minus IPv4 octets with leading zeros, so what this accepts
/// ipnet accepts as the same network.
fn usual_form(text: &str) -> Option<IpNet> {
    let (address, length) = text.split_once('/')?;
    if address.contains(':') {
        let address = address.parse::<Ipv6Addr>().ok()?;
        Ipv6Net::new(address, prefix_length(length, 3, 129)?)
            .ok()
            .map(IpNet::V6)
    } else {
        let address = address.parse::<Ipv4Addr>().ok()?;
        Ipv4Net::new(address, prefix_length(length, 2, 33)?)
            .ok()
            .map(IpNet::V4)
    }
}

/// ipnet's `read_number(10, max_digits, upto)` over the whole of `text`.
fn prefix_length(text: &str, max_digits: usize, upto: u32) -> Option<u8> {
    if text.is_empty() || text.len() > max_digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = text.bytes().fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    (n < upto).then(|| n as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every text here parses as ipnet parses it (or fails as it fails), whichever way it goes.
    #[test]
    fn every_form_parses_exactly_as_ipnet_parses_it() {
        let texts = [
            "10.0.0.0/8",
            "10.1.2.3/32",
            "0.0.0.0/0",
            "10.0.0.0/08",
            "10.0.0.0/008",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "010.0.0.0/8",
            "10.0.0.00/24",
            "256.0.0.0/8",
            "10.0.0/8",
            "10.0.0.0.0/8",
            " 10.0.0.0/8",
            "10.0.0.0/8 ",
            "10.0.0.0//8",
            "10.0.0.0/8/8",
            "::/0",
            "2001:db8::/32",
            "2001:db8::1/128",
            "2001:db8::/0128",
            "2001:db8::/129",
            "2001:db8::/1280",
            "2001:DB8::/32",
            "::ffff:10.0.0.1/128",
            "::ffff:010.0.0.1/128",
            "1:2:3:4:5:6:7:8/64",
            "1:2:3:4:5:6:7:8:9/64",
            "1::2::3/64",
            "12345::/16",
            "fe80::1%eth0/64",
            "2001:db8::/",
            "/8",
            "",
            "/",
            "a.b.c.d/8",
            "10.0.0.0/٣",
        ];
        for text in texts {
            assert_eq!(parse_ip_net(text), text.parse::<IpNet>().ok(), "{text:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Texts near the grammar (digits, dots, colons, hex, a slash or two, a space) and
        /// well-formed blocks with any numbers in them.
        #[test]
        fn any_text_parses_exactly_as_ipnet_parses_it(
            near in "[0-9a-fA-F.:/ ]{0,24}",
            octets in proptest::array::uniform4(0u16..300),
            groups in proptest::array::uniform8(proptest::prelude::any::<u16>()),
            length in 0u16..140,
            zeros in 0usize..3,
        ) {
            let pad = "0".repeat(zeros);
            let v4 = format!(
                "{}.{}.{}.{}/{pad}{length}",
                octets[0], octets[1], octets[2], octets[3]
            );
            let v6 = format!(
                "{:x}:{:x}::{:x}:{:x}/{pad}{length}",
                groups[0], groups[1], groups[6], groups[7]
            );
            let embedded = format!(
                "::ffff:{}.{}.{}.{}/{pad}{length}",
                octets[0], octets[1], octets[2], octets[3]
            );
            let padded_octet = format!("{pad}{}.0.0.{}/{length}", octets[0], octets[3]);
            for text in [near.as_str(), &v4, &v6, &embedded, &padded_octet] {
                proptest::prop_assert_eq!(parse_ip_net(text), text.parse::<IpNet>().ok(), "{:?}", text);
            }
        }
    }

    #[test]
    fn the_usual_form_goes_through_std_and_the_rest_through_ipnet() {
        assert!(usual_form("10.0.0.0/16").is_some());
        assert!(usual_form("2001:db8::/56").is_some());
        // ipnet takes leading zeros in an octet, std does not: ipnet answers.
        assert!(usual_form("010.0.0.0/8").is_none());
        assert_eq!(
            parse_ip_net("010.0.0.0/8"),
            Some("10.0.0.0/8".parse::<IpNet>().unwrap())
        );
    }
}
