//! The EC2 error codes and messages the simulated world answers with, in one place.
//!
//! Codes are EC2's own (see "Error codes for the Amazon EC2 API"); messages follow what EC2
//! prints where it is known (quoted in the projects and issues that hit them). Every error is
//! built with [`Ec2Error::from_code`], so it is classified by the same table as the SDK adapter's.
//! Where EC2's exact wording for a case is not published, the message says plainly what is wrong
//! in EC2's style; the code is what the engine acts on.

use crate::aws::{Ec2Error, Ec2Operation, ErrorKind};

fn err(op: Ec2Operation, code: &str, message: String) -> Ec2Error {
    Ec2Error::from_code(op, code, message)
}

pub(super) fn throttled(op: Ec2Operation) -> Ec2Error {
    err(op, "RequestLimitExceeded", "Request limit exceeded.".into())
}

pub(super) fn vpc_not_found(op: Ec2Operation, vpc_id: &str) -> Ec2Error {
    err(
        op,
        "InvalidVpcID.NotFound",
        format!("The vpc ID '{vpc_id}' does not exist"),
    )
}

pub(super) fn subnet_not_found(op: Ec2Operation, subnet_id: &str) -> Ec2Error {
    err(
        op,
        "InvalidSubnetID.NotFound",
        format!("The subnet ID '{subnet_id}' does not exist"),
    )
}

pub(super) fn group_not_found(op: Ec2Operation, group_id: &str) -> Ec2Error {
    err(
        op,
        "InvalidGroup.NotFound",
        format!("The security group '{group_id}' does not exist"),
    )
}

/// A rule referring to a security group of another VPC (no peering in the simulated world).
pub(super) fn group_in_other_network(op: Ec2Operation) -> Ec2Error {
    err(
        op,
        "InvalidGroup.NotFound",
        "You have specified two resources that belong to different networks.".into(),
    )
}

pub(super) fn endpoint_not_found(op: Ec2Operation, endpoint_id: &str) -> Ec2Error {
    err(
        op,
        "InvalidVpcEndpointId.NotFound",
        format!("The Vpc Endpoint Id '{endpoint_id}' does not exist"),
    )
}

/// `error` about an endpoint that exists but that describes cannot see yet (created moments
/// ago): EC2 answers NotFound, and the SDK adapter reports it as `NotYetVisible` because it
/// created that id itself; the simulated world does the same, so the engine sees one kind.
pub(super) fn not_yet_visible(mut error: Ec2Error) -> Ec2Error {
    error.kind = ErrorKind::NotYetVisible;
    error
}

/// DeleteVpcEndpoints reports unknown ids per item with this code (the one Terraform's AWS
/// provider tolerates on delete), not with `InvalidVpcEndpointId.NotFound`.
pub(super) fn endpoint_item_not_found(op: Ec2Operation, endpoint_id: &str) -> Ec2Error {
    err(
        op,
        "InvalidVpcEndpoint.NotFound",
        format!("The Vpc Endpoint Id '{endpoint_id}' does not exist"),
    )
}

pub(super) fn service_not_found(op: Ec2Operation, service_name: &str) -> Ec2Error {
    err(
        op,
        "InvalidServiceName",
        format!("The Vpc Endpoint Service '{service_name}' does not exist"),
    )
}

pub(super) fn rule_not_found(op: Ec2Operation, rule_id: &str) -> Ec2Error {
    err(
        op,
        "InvalidSecurityGroupRuleId.NotFound",
        format!("The security group rule ID '{rule_id}' does not exist"),
    )
}

pub(super) fn prefix_list_not_found(op: Ec2Operation, prefix_list_id: &str) -> Ec2Error {
    err(
        op,
        "InvalidPrefixListID.NotFound",
        format!("The prefix list ID '{prefix_list_id}' does not exist"),
    )
}

pub(super) fn duplicate_subnet_zone(op: Ec2Operation, subnet_id: &str) -> Ec2Error {
    err(
        op,
        "DuplicateSubnetsInSameZone",
        format!(
            "Found another VPC endpoint subnet in the availability zone of {subnet_id}. VPC endpoint \
             subnets should be in different availability zones supported by the VPC endpoint service."
        ),
    )
}

pub(super) fn subnet_in_other_vpc(op: Ec2Operation, subnet_id: &str, vpc_id: &str) -> Ec2Error {
    err(
        op,
        "InvalidParameter",
        format!("Subnet {subnet_id} and VPC {vpc_id} belong to different networks."),
    )
}

pub(super) fn group_and_subnet_in_other_networks(op: Ec2Operation, group_id: &str, other: &str) -> Ec2Error {
    err(
        op,
        "InvalidParameter",
        format!("Security group {group_id} and subnet {other} belong to different networks."),
    )
}

pub(super) fn zone_not_supported(op: Ec2Operation, service_name: &str, subnet_id: &str) -> Ec2Error {
    err(
        op,
        "InvalidParameter",
        format!(
            "The VPC endpoint service {service_name} does not support the availability zone of the subnet: \
             {subnet_id}"
        ),
    )
}

pub(super) fn not_attached(op: Ec2Operation, what: &str, id: &str, endpoint_id: &str) -> Ec2Error {
    err(
        op,
        "InvalidParameter",
        format!("The {what} {id} is not associated with the VPC endpoint {endpoint_id}."),
    )
}

pub(super) fn idempotency_mismatch(op: Ec2Operation) -> Ec2Error {
    err(
        op,
        "IdempotentParameterMismatch",
        "Arguments on this idempotent request are inconsistent with arguments used in previous request(s)."
            .into(),
    )
}

pub(super) fn client_token_too_long(op: Ec2Operation, max: usize) -> Ec2Error {
    err(
        op,
        "InvalidClientToken",
        format!("The client token is not valid: a client token can be up to {max} ASCII characters."),
    )
}

pub(super) fn dns_attributes_required(op: Ec2Operation, vpc_id: &str) -> Ec2Error {
    err(
        op,
        "InvalidParameter",
        format!(
            "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames VPC attributes set \
             to true for {vpc_id}"
        ),
    )
}

pub(super) fn no_private_dns_name(op: Ec2Operation, service_name: &str) -> Ec2Error {
    err(
        op,
        "InvalidParameter",
        format!(
            "Private DNS can't be enabled because the service {service_name} does not provide a private DNS \
             name."
        ),
    )
}

pub(super) fn private_dns_conflict(op: Ec2Operation, domain: &str, vpc_id: &str) -> Ec2Error {
    err(
        op,
        "InvalidParameter",
        format!(
            "private-dns-enabled cannot be set because there is already a conflicting DNS domain for {domain} \
             in the VPC {vpc_id}"
        ),
    )
}

pub(super) fn incorrect_state(op: Ec2Operation, endpoint_id: &str, state: &str) -> Ec2Error {
    err(
        op,
        "IncorrectState",
        format!("The VPC endpoint {endpoint_id} is in state {state} and cannot be modified."),
    )
}

pub(super) fn invalid_policy(op: Ec2Operation, detail: &str) -> Ec2Error {
    err(
        op,
        "InvalidPolicyDocument",
        format!("The specified policy document is not a valid JSON policy document: {detail}"),
    )
}

pub(super) fn endpoints_limit(op: Ec2Operation, vpc_id: &str, quota: usize) -> Ec2Error {
    err(
        op,
        "VpcEndpointLimitExceeded",
        format!("The maximum number of interface VPC endpoints ({quota}) for {vpc_id} has been reached."),
    )
}

pub(super) fn insufficient_addresses(op: Ec2Operation, subnet_id: &str) -> Ec2Error {
    err(
        op,
        "InsufficientFreeAddressesInSubnet",
        format!("There are not enough free addresses in subnet '{subnet_id}' to satisfy the request."),
    )
}

pub(super) fn duplicate_rule(op: Ec2Operation, rule: &str) -> Ec2Error {
    err(
        op,
        "InvalidPermission.Duplicate",
        format!("the specified rule \"{rule}\" already exists"),
    )
}

pub(super) fn rules_limit(op: Ec2Operation) -> Ec2Error {
    err(
        op,
        "RulesPerSecurityGroupLimitExceeded",
        "The maximum number of rules per security group has been reached.".into(),
    )
}

pub(super) fn invalid_value(op: Ec2Operation, message: String) -> Ec2Error {
    err(op, "InvalidParameterValue", message)
}

pub(super) fn invalid_combination(op: Ec2Operation, message: &str) -> Ec2Error {
    err(op, "InvalidParameterCombination", message.into())
}

/// A policy for a service whose `VpcEndpointPolicySupported` is false. The code is EC2's for a
/// parameter it refuses; the message is this world's words, not copied from EC2.
pub(super) fn policy_not_supported(op: Ec2Operation, service: &str) -> Ec2Error {
    err(
        op,
        "InvalidParameter",
        format!("The service {service} does not support VPC endpoint policies"),
    )
}

pub(super) fn missing_parameter(op: Ec2Operation, parameter: &str) -> Ec2Error {
    err(
        op,
        "MissingParameter",
        format!("The request must contain the parameter {parameter}"),
    )
}

pub(super) fn malformed_cidr(op: Ec2Operation, cidr: &str) -> Ec2Error {
    invalid_value(op, format!("CIDR block {cidr} is malformed"))
}

/// A fixed address (`SubnetConfigurations`) another interface has. The code is EC2's for an
/// address in use (CreateNetworkInterface); that CreateVpcEndpoint answers with the same code is
/// not verified. The message is this world's words.
pub(super) fn address_in_use(op: Ec2Operation, address: &str) -> Ec2Error {
    err(
        op,
        "InvalidIPAddress.InUse",
        format!("Address {address} is in use."),
    )
}

/// A fixed address (`SubnetConfigurations`) EC2 cannot give an interface of the subnet: outside
/// its CIDR blocks or one AWS reserves. The message is this world's words.
pub(super) fn address_outside_subnet(
    op: Ec2Operation,
    address: &str,
    subnet_id: &str,
    why: &str,
) -> Ec2Error {
    err(
        op,
        "InvalidParameterValue",
        format!("Address {address} {why} of subnet {subnet_id}."),
    )
}
