//! Evidence of who really calls the service: Route 53 Resolver query log records of the
//! service's private DNS name, mapped to the VPC's network interfaces. Pure: the records come
//! in as [`Resolution`]s (one per source address, already counted), read by the engine through
//! the CloudWatch Logs port.
//!
//! A source address maps to the ENI that holds it (primary or secondary private IPv4, IPv6
//! address, or inside a delegated prefix); when the record names the instance
//! (`srcids.instance`), an ENI attached to that instance is preferred, since an address alone
//! can have moved to another ENI since. A query that came through a Resolver inbound endpoint
//! (`srcids.resolver_endpoint`) is from outside the VPC (on-premises, a peered network): its
//! source is a client of its own, not an ENI. A source that maps to nothing is kept too, said.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{NetworkInterface, Snapshot};

/// One source address that resolved the service's name in the lookback, as the query logs
/// show it: counted, with the last time it was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    pub address: IpAddr,
    /// `srcids.instance`: the EC2 instance the query came from, when the Resolver knew it.
    pub instance_id: Option<String>,
    /// `srcids.resolver_endpoint`: the inbound endpoint the query came through, from outside
    /// the VPC.
    pub resolver_endpoint_id: Option<String>,
    pub queries: u64,
    /// Epoch milliseconds.
    pub last_seen_ms: Option<i64>,
}

/// What the query logs say about one client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientEvidence {
    pub queries: u64,
    /// Epoch milliseconds.
    pub last_seen_ms: Option<i64>,
}

impl ClientEvidence {
    fn add(&mut self, r: &Resolution) {
        self.queries += r.queries;
        self.last_seen_ms = self.last_seen_ms.max(r.last_seen_ms);
    }
}

/// A client outside the VPC: a source address whose queries came through a Resolver inbound
/// endpoint. AWS shows its path only from the endpoint's side: the endpoint's security groups'
/// ingress and the endpoint subnets' network ACLs; its own firewall and routes are not seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutsideClient {
    pub address: IpAddr,
    /// The inbound endpoints its queries came through, sorted.
    pub resolver_endpoint_ids: Vec<String>,
    pub evidence: ClientEvidence,
}

/// The query log evidence, mapped to the VPC.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attribution {
    /// ENI id → what its queries say.
    pub by_interface: BTreeMap<String, ClientEvidence>,
    /// Sources outside the VPC (through an inbound endpoint), by address.
    pub outside: Vec<OutsideClient>,
    /// Sources of the VPC's queries that no ENI of the VPC holds now (an instance gone since,
    /// an address reused): kept and said, never mapped by guess.
    pub unmatched: Vec<Resolution>,
}

impl Attribution {
    /// Whether the query logs show `eni` resolving the service's name.
    pub fn evidence_of(&self, eni: &str) -> Option<&ClientEvidence> {
        self.by_interface.get(eni)
    }
}

/// Every address and prefix an ENI holds.
fn holds(eni: &NetworkInterface, address: IpAddr) -> bool {
    let exact = eni
        .private_ip_address
        .iter()
        .chain(eni.private_ip_addresses.iter().map(|a| &a.private_ip_address))
        .chain(eni.ipv6_addresses.iter().map(|a| &a.ipv6_address))
        .any(|a| a.parse::<IpAddr>().is_ok_and(|a| a == address));
    exact
        || eni
            .ipv4_prefixes
            .iter()
            .map(|p| &p.ipv4_prefix)
            .chain(eni.ipv6_prefixes.iter().map(|p| &p.ipv6_prefix))
            .any(|p| p.parse::<IpNet>().is_ok_and(|net| net.contains(&address)))
}

fn instance_of(eni: &NetworkInterface) -> Option<&str> {
    eni.attachment.as_ref()?.instance_id.as_deref()
}

/// Maps each resolution to the ENI of `vpc_id` that holds its address (preferring one attached
/// to the instance the record names), or to an outside client when it came through an inbound
/// Resolver endpoint.
pub fn attribute(resolutions: &[Resolution], snapshot: &Snapshot, vpc_id: &str) -> Attribution {
    let enis: Vec<&NetworkInterface> = snapshot
        .network_interfaces
        .iter()
        .filter(|e| e.vpc_id == vpc_id)
        .collect();
    let mut attribution = Attribution::default();
    let mut outside: BTreeMap<IpAddr, OutsideClient> = BTreeMap::new();
    for r in resolutions {
        if let Some(endpoint) = &r.resolver_endpoint_id {
            let client = outside.entry(r.address).or_insert_with(|| OutsideClient {
                address: r.address,
                resolver_endpoint_ids: Vec::new(),
                evidence: ClientEvidence::default(),
            });
            if !client.resolver_endpoint_ids.contains(endpoint) {
                client.resolver_endpoint_ids.push(endpoint.clone());
                client.resolver_endpoint_ids.sort();
            }
            client.evidence.add(r);
            continue;
        }
        let holders: Vec<&&NetworkInterface> = enis.iter().filter(|e| holds(e, r.address)).collect();
        let of_instance = r
            .instance_id
            .as_deref()
            .and_then(|i| holders.iter().find(|e| instance_of(e) == Some(i)));
        match of_instance.or(holders.first()) {
            Some(eni) => attribution
                .by_interface
                .entry(eni.network_interface_id.clone())
                .or_default()
                .add(r),
            None => attribution.unmatched.push(r.clone()),
        }
    }
    attribution.outside = outside.into_values().collect();
    attribution
}

/// The lookback spelled as the spec takes it: a number and a unit, `s`, `m`, `h` or `d`
/// (`7d`, `36h`); at least one minute, at most 90 days (Logs Insights' own reach is the
/// group's retention).
pub fn parse_lookback(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 7d, 36h or 90m"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d (7d, 36h, 90m)")),
    };
    if !(60..=90 * 86_400).contains(&seconds) {
        return Err(format!("{text:?}: between 1m and 90d"));
    }
    Ok(std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attachment, PrivateIpAddress};

    fn eni(id: &str, ip: &str, instance: Option<&str>) -> NetworkInterface {
        NetworkInterface {
            network_interface_id: id.into(),
            vpc_id: "vpc-1".into(),
            subnet_id: "subnet-1".into(),
            private_ip_address: Some(ip.into()),
            private_ip_addresses: vec![PrivateIpAddress {
                private_ip_address: ip.into(),
                primary: Some(true),
            }],
            attachment: instance.map(|i| Attachment {
                instance_id: Some(i.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn resolution(
        addr: &str,
        instance: Option<&str>,
        endpoint: Option<&str>,
        queries: u64,
        last: i64,
    ) -> Resolution {
        Resolution {
            address: addr.parse().unwrap(),
            instance_id: instance.map(str::to_string),
            resolver_endpoint_id: endpoint.map(str::to_string),
            queries,
            last_seen_ms: Some(last),
        }
    }

    #[test]
    fn sources_map_to_the_enis_holding_their_addresses_and_outside_clients_are_kept_apart() {
        let mut secondary = eni("eni-zabbix", "10.0.1.20", Some("i-zabbix"));
        secondary.private_ip_addresses.push(PrivateIpAddress {
            private_ip_address: "10.0.1.21".into(),
            primary: Some(false),
        });
        let snapshot = Snapshot {
            network_interfaces: vec![eni("eni-lambda", "10.0.1.10", None), secondary].into(),
            ..Default::default()
        };
        let attribution = attribute(
            &[
                resolution("10.0.1.20", Some("i-zabbix"), None, 3, 100),
                resolution("10.0.1.21", None, None, 2, 300),
                resolution("10.0.9.9", None, None, 1, 50),
                resolution("192.168.0.4", None, Some("rslvr-in-b"), 4, 70),
                resolution("192.168.0.4", None, Some("rslvr-in-a"), 1, 90),
            ],
            &snapshot,
            "vpc-1",
        );
        assert_eq!(
            attribution.evidence_of("eni-zabbix"),
            Some(&ClientEvidence {
                queries: 5,
                last_seen_ms: Some(300)
            }),
            "both addresses of the ENI count for it"
        );
        assert_eq!(
            attribution.evidence_of("eni-lambda"),
            None,
            "no query: no evidence"
        );
        assert_eq!(
            attribution.unmatched.len(),
            1,
            "an address no ENI holds is said, not guessed"
        );
        assert_eq!(attribution.outside.len(), 1);
        assert_eq!(
            attribution.outside[0].resolver_endpoint_ids,
            ["rslvr-in-a", "rslvr-in-b"]
        );
        assert_eq!(attribution.outside[0].evidence.queries, 5);
    }

    #[test]
    fn the_instance_named_by_the_record_wins_over_an_address_that_moved() {
        let snapshot = Snapshot {
            network_interfaces: vec![
                eni("eni-a", "10.0.1.30", None),
                eni("eni-b", "10.0.1.30", Some("i-web")),
            ]
            .into(),
            ..Default::default()
        };
        let attribution = attribute(
            &[resolution("10.0.1.30", Some("i-web"), None, 1, 1)],
            &snapshot,
            "vpc-1",
        );
        assert!(attribution.evidence_of("eni-b").is_some());
        assert!(attribution.evidence_of("eni-a").is_none());
    }

    #[test]
    fn lookbacks_read_as_the_spec_spells_them() {
        assert_eq!(parse_lookback("7d").unwrap().as_secs(), 7 * 86_400);
        assert_eq!(parse_lookback("36h").unwrap().as_secs(), 36 * 3600);
        assert!(parse_lookback("30s").is_err(), "under a minute");
        assert!(parse_lookback("91d").is_err());
        assert!(parse_lookback("7 days").is_err());
    }
}
