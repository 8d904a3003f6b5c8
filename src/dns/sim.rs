//! The simulated world's resolver: what the VPC's resolver answers a client in `vpc_id`, from
//! the endpoints as the simulated EC2 holds them. A service's private DNS name resolves to the
//! network interfaces of the VPC's endpoint for it while that endpoint has private DNS on and
//! is `available` (A records, and AAAA where its records include them), else to the service's
//! public addresses. Answers set by hand ([`SimResolver::answer_out_of_band`]: a private hosted
//! zone someone made, a DNS server of the VPC's DHCP options) win over both.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use super::{Answer, Resolver};
use crate::aws::sim::SimEc2;
use crate::model::{Snapshot, VpcEndpoint};

/// A resolver inside one VPC of the simulated world.
#[derive(Clone)]
pub struct SimResolver {
    sim: Arc<SimEc2>,
    vpc_id: String,
    by_hand: Arc<Mutex<BTreeMap<String, Answer>>>,
}

impl SimResolver {
    pub fn new(sim: Arc<SimEc2>, vpc_id: &str) -> Self {
        Self {
            sim,
            vpc_id: vpc_id.to_string(),
            by_hand: Default::default(),
        }
    }

    /// From now on `name` resolves to `answer` (or fails with it), whatever the endpoints say.
    pub fn answer_out_of_band(&self, name: &str, answer: Answer) {
        self.by_hand
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_ascii_lowercase(), answer);
    }

    /// The answer for `name` now.
    pub fn answer(&self, name: &str) -> Answer {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(answer) = self.by_hand.lock().unwrap_or_else(|p| p.into_inner()).get(&name) {
            return answer.clone();
        }
        let world = self.sim.snapshot();
        let serving = world.vpc_endpoints.iter().find(|e| {
            e.vpc_id == self.vpc_id
                && e.private_dns_enabled
                && e.is_available()
                && service_name_of(&world, e).is_some_and(|n| names_match(n, &name))
        });
        match serving {
            Some(endpoint) => Ok(endpoint_answers(&world, endpoint)),
            None if world
                .service_details
                .iter()
                .any(|s| s.private_dns_name().is_some_and(|n| names_match(n, &name))) =>
            {
                Ok(vec![public_address(&name)])
            }
            None => Err(format!(
                "failed to lookup address information: {name}: Name or service not known"
            )),
        }
    }
}

impl std::fmt::Debug for SimResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimResolver")
            .field("vpc_id", &self.vpc_id)
            .finish()
    }
}

impl Resolver for SimResolver {
    fn lookup<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Answer> {
        Box::pin(async move { self.answer(name) })
    }
}

fn service_name_of<'w>(world: &'w Snapshot, endpoint: &VpcEndpoint) -> Option<&'w str> {
    world
        .service_details
        .iter()
        .find(|s| s.service_name == endpoint.service_name)
        .and_then(|s| s.private_dns_name())
}

/// Whether a record named `record` (perhaps `*.`-prefixed) answers for `name`.
fn names_match(record: &str, name: &str) -> bool {
    let record = record.trim_end_matches('.').to_ascii_lowercase();
    match record.strip_prefix("*.") {
        Some(parent) => name == parent || name.strip_suffix(parent).is_some_and(|rest| rest.ends_with('.')),
        None => name == record,
    }
}

/// The endpoint's interfaces' addresses its records give: IPv4 always, IPv6 when its records
/// include AAAA.
fn endpoint_answers(world: &Snapshot, endpoint: &VpcEndpoint) -> Vec<IpAddr> {
    let aaaa = endpoint
        .dns_options
        .as_ref()
        .and_then(|d| d.dns_record_ip_type.as_deref())
        .is_some_and(|t| t == "dualstack" || t == "ipv6");
    let mut answers: Vec<IpAddr> = world
        .endpoint_addresses(endpoint)
        .into_iter()
        .filter(|ip| ip.is_ipv4() || aaaa)
        .collect();
    answers.sort();
    answers
}

/// A stable public address for `name` (TEST-NET-2, never a VPC's).
fn public_address(name: &str) -> IpAddr {
    let last = name.bytes().fold(7u8, |h, b| h.wrapping_mul(31).wrapping_add(b));
    IpAddr::V4(Ipv4Addr::new(198, 51, 100, last.max(1)))
}
