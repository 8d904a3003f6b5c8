//! The DNS port: what a name resolves to where the controller runs.
//!
//! The check behind condition `ResolvesToEndpoint` ([`crate::plan::resolves`]): once private
//! DNS is on, and only when the controller runs inside the endpoint's VPC (its own address is
//! one of the VPC's network interfaces), it resolves the service's private DNS name itself, as
//! every client there does through the VPC's resolver, and compares the answers with the
//! endpoint's addresses. Two adapters: the system's resolver ([`SystemResolver`], the pod's
//! `/etc/resolv.conf`, which in a cluster forwards to the VPC's resolver), and the simulated
//! world's ([`sim::SimResolver`]), which answers from the endpoints as EC2 holds them.

pub mod sim;

use std::net::IpAddr;
use std::time::Duration;

use futures::future::BoxFuture;

/// How long one lookup may take before it counts as failed.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// What a lookup gives: the addresses, or why there are none.
pub type Answer = Result<Vec<IpAddr>, String>;

/// Resolves names (A and AAAA) as a client where the controller runs would.
pub trait Resolver: Send + Sync + std::fmt::Debug {
    /// The addresses `name` resolves to, or why it did not resolve.
    fn lookup<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Answer>;
}

/// The system's resolver (getaddrinfo on a blocking thread, through tokio), with
/// [`LOOKUP_TIMEOUT`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            // The port is only there for getaddrinfo's sake; it is not contacted.
            let found = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((name, 443))).await;
            match found {
                Err(_) => Err(format!("no answer within {} s", LOOKUP_TIMEOUT.as_secs())),
                Ok(Err(e)) => Err(e.to_string()),
                Ok(Ok(addresses)) => {
                    let mut ips: Vec<IpAddr> = addresses.map(|a| a.ip()).collect();
                    ips.sort();
                    ips.dedup();
                    Ok(ips)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_system_resolver_answers_for_a_name_every_machine_resolves() {
        let ips = SystemResolver
            .lookup("localhost")
            .await
            .expect("localhost resolves");
        assert!(ips.iter().all(IpAddr::is_loopback) && !ips.is_empty(), "{ips:?}");
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_says_why() {
        // `.invalid` never resolves (RFC 6761).
        let why = SystemResolver
            .lookup("vpce-rollout-test.invalid")
            .await
            .expect_err("no such name");
        assert!(!why.is_empty());
    }
}
