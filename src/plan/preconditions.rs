//! What EC2 needs before it enables private DNS, from the observed world: the VPC's DNS
//! attributes, a private DNS name offered by the service, and no other endpoint in the VPC
//! serving that name.
//!
//! A leaf, depending on no stage: [`super::endpoint`] checks it before creating an endpoint (an
//! endpoint that can never get private DNS is billed for nothing), [`super::dns`] before
//! enabling private DNS (the world may have changed since), and `vpce-rollout plan` reports
//! every one that does not hold ([`unmet`]), with the acceptance the service's owner must give
//! ([`acceptance`]), as what will block the switch.

use super::wording::{accept_command, service_owner};
use crate::api::conditions::ConditionReason;
use crate::api::{DnsOptions, InterfaceEndpointSpec, OWNER_TAG};
use crate::model::{Snapshot, VpcEndpoint};

/// EC2's state of an endpoint its service's owner has not accepted yet, lower case.
pub const PENDING_ACCEPTANCE: &str = "pendingacceptance";
/// EC2's state of an endpoint its service's owner refused.
pub const REJECTED: &str = "rejected";

/// A private DNS precondition that does not hold: the condition reason and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmet {
    pub reason: ConditionReason,
    pub message: String,
}

/// Checks what EC2 needs before it enables private DNS, from the observed world; `own` is this
/// object's endpoint, if it has one. Unknown facts (an attribute or the service missing from a
/// snapshot) do not stop the rollout: EC2 still checks, and its refusal is reported by
/// [`super::report_failure`].
pub fn preconditions(spec: &InterfaceEndpointSpec, world: &Snapshot, own: Option<&str>) -> Result<(), Unmet> {
    match unmet(spec, world, own).into_iter().next() {
        Some(first) => Err(first),
        None => Ok(()),
    }
}

/// Every precondition of [`preconditions`] that does not hold, in the order it checks them
/// (the first is the one the controller reports).
pub fn unmet(spec: &InterfaceEndpointSpec, world: &Snapshot, own: Option<&str>) -> Vec<Unmet> {
    let mut unmet = Vec::new();
    let vpc = spec.vpc_id.as_str();
    // First: without it the option means nothing (and EC2 refuses it).
    if DnsOptions::inbound_only(spec.dns_options.as_ref())
        && crate::analysis::gateway_endpoint(spec, world).is_none()
    {
        let service = &spec.service_name;
        unmet.push(Unmet {
            reason: ConditionReason::NoGatewayEndpoint,
            message: format!(
                "spec.dnsOptions.privateDnsOnlyForInboundResolverEndpoint is true, but VPC {vpc} has no \
                 gateway endpoint for {service}, which EC2 requires (clients in the VPC go through it). \
                 Create one (aws ec2 create-vpc-endpoint --vpc-endpoint-type Gateway --vpc-id {vpc} \
                 --service-name {service} --route-table-ids ...), or set the option to false (clients \
                 in the VPC are then redirected to this endpoint, and checked)"
            ),
        });
    }
    let attributes = world.vpc_attributes.get(vpc);
    for (value, name, flag, reason) in [
        (
            attributes.and_then(|a| a.enable_dns_support),
            "enableDnsSupport",
            "--enable-dns-support",
            ConditionReason::VpcDnsSupportDisabled,
        ),
        (
            attributes.and_then(|a| a.enable_dns_hostnames),
            "enableDnsHostnames",
            "--enable-dns-hostnames",
            ConditionReason::VpcDnsHostnamesDisabled,
        ),
    ] {
        if value.is_some_and(|on| !on.0) {
            unmet.push(Unmet {
                reason,
                message: format!(
                    "VPC {vpc} has {name} off; private DNS needs it on \
                     (aws ec2 modify-vpc-attribute --vpc-id {vpc} {flag})"
                ),
            });
        }
    }
    let service = world
        .service_details
        .iter()
        .find(|s| s.service_name == spec.service_name);
    if let Some(service) = service
        && service.private_dns_name().is_none()
    {
        unmet.push(Unmet {
            reason: ConditionReason::NoPrivateDnsName,
            message: format!(
                "Service {} offers no private DNS name; set spec.privateDns.enabled: false",
                spec.service_name
            ),
        });
    }
    let conflicting = world.vpc_endpoints.iter().find(|other| {
        Some(other.vpc_endpoint_id.as_str()) != own
            && other.vpc_id == spec.vpc_id
            && other.service_name == spec.service_name
            && other.private_dns_enabled
            && !matches!(
                other.state_lower().as_str(),
                "deleted" | "deleting" | "failed" | "rejected"
            )
    });
    if let Some(other) = conflicting {
        let name = service
            .and_then(|s| s.private_dns_name())
            .unwrap_or(spec.service_name.as_str());
        // Written for the reader, whose object owns neither that endpoint nor the name: it
        // says whose the endpoint is and who can disable it.
        let id = &other.vpc_endpoint_id;
        unmet.push(Unmet {
            reason: ConditionReason::ConflictingPrivateDns,
            message: format!(
                "Endpoint {id} ({}) already serves the private DNS name {name} in {vpc}, and a VPC \
                 resolves it to one endpoint only. Ask its owner to disable private DNS on it \
                 (aws ec2 modify-vpc-endpoint --vpc-endpoint-id {id} --no-private-dns-enabled), or \
                 set spec.privateDns.enabled: false here",
                whose(other)
            ),
        });
    }
    unmet
}

/// The acceptance the service's owner must give before the endpoint serves anyone (and before
/// private DNS can lead clients to it), as far as the world says: `own`, this object's
/// endpoint, waits for it or was rejected, or there is none yet and the service accepts
/// endpoints by hand (`AcceptanceRequired`). `None` when nothing waits on the owner, or the
/// world does not describe the service.
pub fn acceptance(
    spec: &InterfaceEndpointSpec,
    world: &Snapshot,
    own: Option<&VpcEndpoint>,
) -> Option<Unmet> {
    let name = spec.service_name.as_str();
    let service = world.service_details.iter().find(|s| s.service_name == name);
    let owner = service_owner(service);
    match own {
        Some(endpoint) if endpoint.state_lower() == REJECTED => Some(Unmet {
            reason: ConditionReason::EndpointRejected,
            message: format!(
                "The owner of {name} ({owner}) rejected endpoint {}; ask them to accept connections \
                 from this account, then delete the endpoint (or the object) to start over",
                endpoint.vpc_endpoint_id
            ),
        }),
        Some(endpoint) if endpoint.state_lower() == PENDING_ACCEPTANCE => Some(Unmet {
            reason: ConditionReason::EndpointPendingAcceptance,
            message: format!(
                "Endpoint {} waits for the owner of {name} ({owner}) to accept it: {}, in their account",
                endpoint.vpc_endpoint_id,
                accept_command(service, &endpoint.vpc_endpoint_id),
            ),
        }),
        Some(_) => None,
        None if service.is_some_and(|s| s.acceptance_required == Some(true)) => Some(Unmet {
            reason: ConditionReason::EndpointPendingAcceptance,
            message: format!(
                "{name} accepts endpoints by hand: once created, the endpoint waits for its owner \
                 ({owner}) to accept it ({}, in their account)",
                accept_command(service, "<endpoint id>")
            ),
        }),
        None => None,
    }
}

/// Who an endpoint belongs to, as far as the world says: the object its owner tag names, or
/// the account that owns it.
fn whose(endpoint: &VpcEndpoint) -> String {
    let tagged = endpoint
        .tags
        .iter()
        .find(|t| t.key == OWNER_TAG && !t.value.is_empty());
    match (tagged, endpoint.owner_id.as_deref()) {
        (Some(tag), _) => format!(
            "managed by the InterfaceEndpoint {} by its {OWNER_TAG} tag",
            tag.value
        ),
        (None, Some(account)) => format!("not managed by vpce-rollout; owned by account {account}"),
        (None, None) => "not managed by vpce-rollout".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fixtures::*;

    /// The incident world with another endpoint of the service serving its private DNS name.
    fn world_with_other(tags: Vec<crate::model::Tag>, owner_id: Option<&str>) -> Snapshot {
        let mut world = with_endpoint(incident_world(), "available", false);
        let mut other = world.vpc_endpoints[0].clone();
        other.vpc_endpoint_id = "vpce-0ffffffffffffffff".into();
        other.private_dns_enabled = true;
        other.tags = tags;
        other.owner_id = owner_id.map(str::to_string);
        world.vpc_endpoints.push(other);
        world
    }

    #[test]
    fn a_conflict_names_the_other_team_s_endpoint_and_asks_its_owner_to_disable_it() {
        let tags = crate::model::tags_from([(OWNER_TAG, "payments/logs")]);
        let world = world_with_other(tags, Some("111122223333"));
        let unmet = preconditions(&spec(), &world, Some(ENDPOINT)).unwrap_err();
        assert_eq!(unmet.reason, ConditionReason::ConflictingPrivateDns);
        assert_eq!(
            unmet.message,
            format!(
                "Endpoint vpce-0ffffffffffffffff (managed by the InterfaceEndpoint payments/logs by \
                 its vpce-rollout.dev/owner tag) already serves the private DNS name {DNS_NAME} in \
                 {VPC}, and a VPC resolves it to one endpoint only. Ask its owner to disable private \
                 DNS on it (aws ec2 modify-vpc-endpoint --vpc-endpoint-id vpce-0ffffffffffffffff \
                 --no-private-dns-enabled), or set spec.privateDns.enabled: false here"
            )
        );
        assert!(!unmet.message.contains("Disable it there"));
    }

    #[test]
    fn an_endpoint_made_by_hand_is_named_with_its_account() {
        let world = world_with_other(Vec::new(), Some("111122223333"));
        let unmet = preconditions(&spec(), &world, None).unwrap_err();
        assert!(
            unmet.message.starts_with(
                "Endpoint vpce-0ffffffffffffffff (not managed by vpce-rollout; owned by account \
                 111122223333) already serves"
            ),
            "{}",
            unmet.message
        );
    }

    #[test]
    fn every_unmet_precondition_is_listed_in_order_and_the_controller_reports_the_first() {
        let mut world = world_with_other(Vec::new(), None);
        world.vpc_attributes.insert(
            VPC.into(),
            crate::model::VpcDnsAttributes {
                enable_dns_support: Some(crate::model::AttributeBoolean(false)),
                enable_dns_hostnames: Some(crate::model::AttributeBoolean(false)),
            },
        );
        let all = unmet(&spec(), &world, Some(ENDPOINT));
        let reasons: Vec<ConditionReason> = all.iter().map(|u| u.reason).collect();
        assert_eq!(
            reasons,
            [
                ConditionReason::VpcDnsSupportDisabled,
                ConditionReason::VpcDnsHostnamesDisabled,
                ConditionReason::ConflictingPrivateDns
            ]
        );
        assert_eq!(
            preconditions(&spec(), &world, Some(ENDPOINT)),
            Err(all[0].clone())
        );
        assert!(unmet(&spec(), &incident_world(), None).is_empty());
    }

    #[test]
    fn private_dns_for_inbound_endpoints_only_needs_the_service_s_gateway_endpoint_first() {
        let inbound_only = InterfaceEndpointSpec {
            dns_options: Some(DnsOptions {
                private_dns_only_for_inbound_resolver_endpoint: Some(true),
                ..Default::default()
            }),
            ..spec()
        };
        let mut world = incident_world();
        world.vpc_attributes.get_mut(VPC).unwrap().enable_dns_support =
            Some(crate::model::AttributeBoolean(false));
        let all = unmet(&inbound_only, &world, None);
        let reasons: Vec<ConditionReason> = all.iter().map(|u| u.reason).collect();
        assert_eq!(
            reasons,
            [
                ConditionReason::NoGatewayEndpoint,
                ConditionReason::VpcDnsSupportDisabled
            ],
            "checked first"
        );
        assert_eq!(
            all[0].message,
            format!(
                "spec.dnsOptions.privateDnsOnlyForInboundResolverEndpoint is true, but VPC {VPC} has no \
                 gateway endpoint for {SERVICE}, which EC2 requires (clients in the VPC go through it). \
                 Create one (aws ec2 create-vpc-endpoint --vpc-endpoint-type Gateway --vpc-id {VPC} \
                 --service-name {SERVICE} --route-table-ids ...), or set the option to false (clients \
                 in the VPC are then redirected to this endpoint, and checked)"
            )
        );
        assert!(
            unmet(&spec(), &world, None)
                .iter()
                .all(|u| u.reason != ConditionReason::NoGatewayEndpoint)
        );
        // The service's gateway endpoint in the VPC meets it; an interface endpoint does not.
        let mut with_gateway = incident_world();
        with_gateway.vpc_endpoints.push(VpcEndpoint {
            vpc_endpoint_id: "vpce-0gateway000000000".into(),
            vpc_endpoint_type: Some("Gateway".into()),
            vpc_id: VPC.into(),
            service_name: SERVICE.into(),
            state: Some("available".into()),
            ..Default::default()
        });
        assert_eq!(unmet(&inbound_only, &with_gateway, None), []);
        let mut interface = with_gateway.clone();
        interface.vpc_endpoints[0].vpc_endpoint_type = Some("Interface".into());
        assert_eq!(
            unmet(&inbound_only, &interface, None)[0].reason,
            ConditionReason::NoGatewayEndpoint
        );
    }

    #[test]
    fn acceptance_waits_on_the_service_owner_until_the_endpoint_is_accepted() {
        let mut world = incident_world();
        world.service_details[0].acceptance_required = Some(true);
        world.service_details[0].owner = Some("210987654321".into());
        world.service_details[0].service_id = Some("vpce-svc-0a".into());
        let before = acceptance(&spec(), &world, None).unwrap();
        assert_eq!(before.reason, ConditionReason::EndpointPendingAcceptance);
        assert_eq!(
            before.message,
            format!(
                "{SERVICE} accepts endpoints by hand: once created, the endpoint waits for its owner \
                 (account 210987654321) to accept it (aws ec2 accept-vpc-endpoint-connections \
                 --service-id vpce-svc-0a --vpc-endpoint-ids <endpoint id>, in their account)"
            )
        );
        let pending = with_endpoint(world.clone(), "pendingAcceptance", false);
        let waiting = acceptance(&spec(), &pending, pending.vpc_endpoints.last()).unwrap();
        assert!(
            waiting
                .message
                .starts_with(&format!("Endpoint {ENDPOINT} waits for the owner"))
        );
        let rejected = with_endpoint(world.clone(), "rejected", false);
        assert_eq!(
            acceptance(&spec(), &rejected, rejected.vpc_endpoints.last())
                .unwrap()
                .reason,
            ConditionReason::EndpointRejected
        );
        let accepted = with_endpoint(world, "available", false);
        assert_eq!(
            acceptance(&spec(), &accepted, accepted.vpc_endpoints.last()),
            None
        );
        assert_eq!(
            acceptance(&spec(), &incident_world(), None),
            None,
            "no acceptance required"
        );
    }

    #[test]
    fn the_object_s_own_endpoint_is_no_conflict() {
        let world = with_endpoint(incident_world(), "available", true);
        assert_eq!(preconditions(&spec(), &world, Some(ENDPOINT)), Ok(()));
        // Before creation the object has none, so any endpoint serving the name conflicts.
        assert!(preconditions(&spec(), &world, None).is_err());
    }
}
