//! Condition `ResolvesToEndpoint`: what the service's private DNS name resolves to where the
//! controller runs, compared with the endpoint's addresses.
//!
//! The configuration says the switch is safe; this says whether it took effect for the clients
//! of the VPC. Private DNS on, and still a name that answers with other addresses, means a
//! private hosted zone for the name, a DNS server of the VPC's DHCP options, or a cache, and
//! clients there do not use the endpoint. The check runs only from inside the endpoint's VPC
//! (the controller's own address, `--pod-ip`, is one of its network interfaces'), once private
//! DNS is on: [`question`] says what to ask, the engine asks the DNS port, [`report`] says what
//! the answer means. It never changes the phase: a name that resolves elsewhere cuts nobody off
//! (clients go where they went before private DNS); a Warning Event says so.
//! A leaf: it reads the spec's endpoint, the snapshot and the configuration, and no stage.

use std::net::IpAddr;

use k8s_openapi::jiff::Timestamp;

use super::{Config, EventNote, EventReason};
use crate::api::InterfaceEndpointStatus;
use crate::api::conditions::{
    ConditionReason, ConditionType, ConditionUpdate, find_condition, set_condition,
};
use crate::model::{Snapshot, VpcEndpoint};

/// What this pass is to do about the condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Question {
    /// Nothing to check (no `--pod-ip`, private DNS off, no endpoint, in-VPC clients not
    /// redirected, no private DNS name): no condition.
    None,
    /// The controller cannot check from where it runs: condition Unknown, with this message.
    CannotCheck(String),
    /// Resolve `name`, and compare the answers with `addresses` (the endpoint's).
    Resolve {
        name: String,
        endpoint_id: String,
        addresses: Vec<IpAddr>,
    },
}

/// What to check for `endpoint` (the object's, as observed in `world`) in this pass.
pub fn question(
    config: &Config,
    world: &Snapshot,
    endpoint: Option<&VpcEndpoint>,
    deleting: bool,
) -> Question {
    let (Some(pod_ip), Some(endpoint), false) = (config.pod_ip, endpoint, deleting) else {
        return Question::None;
    };
    if !endpoint.private_dns_enabled || !endpoint.is_available() {
        return Question::None;
    }
    // Clients in the VPC are not redirected (they use the gateway endpoint): nothing to see here.
    let inbound_only = endpoint
        .dns_options
        .as_ref()
        .and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint)
        .unwrap_or(false);
    let name = world
        .service_details
        .iter()
        .find(|s| s.service_name == endpoint.service_name)
        .and_then(|s| s.private_dns_name());
    let Some(name) = name.filter(|_| !inbound_only) else {
        return Question::None;
    };
    if !world.has_interface_address(pod_ip) {
        return Question::CannotCheck(format!(
            "The controller's address {pod_ip} is not one of {}'s network interfaces: it does not \
             run inside the endpoint's VPC, so what {name} resolves to there cannot be checked from here",
            endpoint.vpc_id
        ));
    }
    // A wildcard record (`*.s3.…`) is checked on the name it is under.
    let name = name
        .strip_prefix("*.")
        .unwrap_or(name)
        .trim_end_matches('.')
        .to_string();
    Question::Resolve {
        name,
        endpoint_id: endpoint.vpc_endpoint_id.clone(),
        addresses: world.endpoint_addresses(endpoint),
    }
}

/// Sets the condition from the answer to `question` (`None` when there was nothing to ask),
/// and a `ResolvesElsewhere` Warning Event when the name stops answering with the endpoint's
/// addresses only (or answers with other addresses than the last time it did).
pub fn report(
    status: &mut InterfaceEndpointStatus,
    events: &mut Vec<EventNote>,
    previous: &InterfaceEndpointStatus,
    question: &Question,
    answer: Option<&Result<Vec<IpAddr>, String>>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let update = match (question, answer) {
        (Question::None, _) | (Question::Resolve { .. }, None) => {
            status
                .conditions
                .retain(|c| c.type_ != ConditionType::ResolvesToEndpoint.as_str());
            return;
        }
        (Question::CannotCheck(message), _) => ConditionUpdate::unknown(
            ConditionType::ResolvesToEndpoint,
            ConditionReason::NotInEndpointVpc,
            message.clone(),
        ),
        (Question::Resolve { name, .. }, Some(Err(why))) => ConditionUpdate::unknown(
            ConditionType::ResolvesToEndpoint,
            ConditionReason::DnsLookupFailed,
            format!("{name} could not be resolved where the controller runs: {why}"),
        ),
        (
            Question::Resolve {
                name,
                endpoint_id,
                addresses,
            },
            Some(Ok(answers)),
        ) => {
            let mut answers = answers.clone();
            answers.sort();
            answers.dedup();
            let elsewhere: Vec<&IpAddr> = answers.iter().filter(|a| !addresses.contains(a)).collect();
            if !answers.is_empty() && elsewhere.is_empty() {
                ConditionUpdate::new(
                    ConditionType::ResolvesToEndpoint,
                    true,
                    ConditionReason::ResolvesToEndpoint,
                    format!(
                        "{name} resolves to {} in the VPC: {endpoint_id}'s addresses",
                        list(answers.iter())
                    ),
                )
            } else {
                let what = if answers.is_empty() {
                    "no address".to_string()
                } else {
                    list(answers.iter())
                };
                ConditionUpdate::new(
                    ConditionType::ResolvesToEndpoint,
                    false,
                    ConditionReason::ResolvesElsewhere,
                    format!(
                        "{name} resolves to {what} where the controller runs in the VPC, although private \
                         DNS is on: {} not {endpoint_id}'s ({}). A private hosted zone for the name, a DNS \
                         server of the VPC's DHCP options or a cache answers instead; clients there do not \
                         use the endpoint",
                        if elsewhere.len() == 1 {
                            "that is"
                        } else {
                            "those are"
                        },
                        list(addresses.iter())
                    ),
                )
            }
        }
    };
    let before = find_condition(&previous.conditions, ConditionType::ResolvesToEndpoint);
    if update.reason == ConditionReason::ResolvesElsewhere
        && !before.is_some_and(|c| c.reason == update.reason.as_str() && c.message == update.message)
    {
        events.push(EventNote {
            reason: EventReason::ResolvesElsewhere,
            warning: true,
            message: update.message.clone(),
        });
    }
    set_condition(&mut status.conditions, &update, generation, now);
}

fn list<'a>(addresses: impl Iterator<Item = &'a IpAddr>) -> String {
    let all: Vec<String> = addresses.map(IpAddr::to_string).collect();
    if all.is_empty() {
        "none".to_string()
    } else {
        all.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::*;

    fn serving() -> Snapshot {
        with_endpoint(incident_world(), "available", true)
    }

    fn config(pod_ip: &str) -> Config {
        Config {
            pod_ip: Some(pod_ip.parse().unwrap()),
            ..Default::default()
        }
    }

    /// An address of a client ENI of the incident world: the controller runs there.
    fn inside(world: &Snapshot) -> String {
        let endpoint_enis = &world.vpc_endpoints[0].network_interface_ids;
        world
            .network_interfaces
            .iter()
            .find(|n| !endpoint_enis.contains(&n.network_interface_id))
            .and_then(|n| n.private_ip_address.clone())
            .expect("a client with an address")
    }

    fn ask(world: &Snapshot, config: &Config) -> Question {
        question(config, world, world.vpc_endpoints.first(), false)
    }

    fn reported(
        question: &Question,
        answer: Result<Vec<IpAddr>, String>,
    ) -> (InterfaceEndpointStatus, Vec<EventNote>) {
        let mut status = InterfaceEndpointStatus::default();
        let mut events = Vec::new();
        report(
            &mut status,
            &mut events,
            &InterfaceEndpointStatus::default(),
            question,
            Some(&answer),
            Some(1),
            now(),
        );
        (status, events)
    }

    #[test]
    fn inside_the_vpc_with_private_dns_on_the_service_name_is_resolved() {
        let world = serving();
        let Question::Resolve {
            name,
            endpoint_id,
            addresses,
        } = ask(&world, &config(&inside(&world)))
        else {
            panic!("{:?}", ask(&world, &config(&inside(&world))))
        };
        assert_eq!(name, "logs.ap-northeast-1.amazonaws.com");
        assert_eq!(endpoint_id, world.vpc_endpoints[0].vpc_endpoint_id);
        assert!(!addresses.is_empty());
    }

    #[test]
    fn nothing_is_checked_without_an_address_with_private_dns_off_or_while_deleting() {
        let world = serving();
        assert_eq!(ask(&world, &Config::default()), Question::None, "no --pod-ip");
        let off = with_endpoint(incident_world(), "available", false);
        assert_eq!(ask(&off, &config(&inside(&off))), Question::None);
        let c = config(&inside(&world));
        assert_eq!(
            question(&c, &world, world.vpc_endpoints.first(), true),
            Question::None
        );
        assert_eq!(question(&c, &world, None, false), Question::None);
    }

    #[test]
    fn outside_the_vpc_it_says_it_cannot_check() {
        let world = serving();
        let q = ask(&world, &config("192.0.2.10"));
        let Question::CannotCheck(message) = &q else {
            panic!("{q:?}")
        };
        assert!(
            message.contains("192.0.2.10") && message.contains("cannot be checked"),
            "{message}"
        );
        let (status, events) = reported(&q, Ok(vec![]));
        let c = condition(&status, ConditionType::ResolvesToEndpoint);
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("Unknown", "NotInEndpointVpc")
        );
        assert!(events.is_empty());
    }

    #[test]
    fn answers_that_are_the_endpoints_addresses_only_hold() {
        let world = serving();
        let q = ask(&world, &config(&inside(&world)));
        let Question::Resolve { addresses, .. } = &q else {
            panic!()
        };
        let (status, events) = reported(&q, Ok(addresses.iter().rev().copied().collect()));
        let c = condition(&status, ConditionType::ResolvesToEndpoint);
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("True", "ResolvesToEndpoint")
        );
        assert!(events.is_empty());
    }

    #[test]
    fn any_other_answer_is_said_with_a_warning_once() {
        let world = serving();
        let q = ask(&world, &config(&inside(&world)));
        let Question::Resolve { addresses, .. } = &q else {
            panic!()
        };
        let public: IpAddr = "198.51.100.7".parse().unwrap();
        let (status, events) = reported(&q, Ok(vec![addresses[0], public]));
        let c = condition(&status, ConditionType::ResolvesToEndpoint);
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "ResolvesElsewhere")
        );
        assert!(c.message.contains("198.51.100.7"), "{}", c.message);
        assert_eq!(events.len(), 1);
        assert!(events[0].warning && events[0].reason == EventReason::ResolvesElsewhere);
        // The next pass finding the same says nothing new.
        let mut again = InterfaceEndpointStatus::default();
        let mut more = Vec::new();
        report(
            &mut again,
            &mut more,
            &status,
            &q,
            Some(&Ok(vec![public, addresses[0]])),
            Some(1),
            now(),
        );
        assert!(more.is_empty());
        assert_eq!(again.conditions, status.conditions);
        // No answer at all is not the endpoint either.
        let (status, _) = reported(&q, Ok(vec![]));
        assert_eq!(
            condition(&status, ConditionType::ResolvesToEndpoint).status,
            "False"
        );
    }

    #[test]
    fn a_failed_lookup_is_unknown_and_nothing_asked_clears_the_condition() {
        let world = serving();
        let q = ask(&world, &config(&inside(&world)));
        let (status, _) = reported(&q, Err("no answer within 5 s".into()));
        let c = condition(&status, ConditionType::ResolvesToEndpoint);
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("Unknown", "DnsLookupFailed")
        );
        assert!(c.message.contains("no answer within 5 s"));
        let mut cleared = status.clone();
        report(
            &mut cleared,
            &mut Vec::new(),
            &status,
            &Question::None,
            None,
            Some(1),
            now(),
        );
        assert!(cleared.conditions.is_empty());
    }
}
