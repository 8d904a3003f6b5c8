//! Out-of-band changes: what someone else does to the account while the controller runs.
//!
//! Drift tests and the deterministic simulation (`crate::simulation`) use these to revoke a rule
//! behind the controller's back or add one, delete its endpoint (at once, or through `deleting`
//! as DeleteVpcEndpoints does), swap its security groups, turn private DNS on or off, start an
//! instance (a new client ENI), swap an ENI's security groups, give an ENI more addresses or
//! detach it, change the VPC's DNS attributes, or, as a service's owner, accept or reject an
//! endpoint. They act at once, are not the controller's EC2 calls (no throttling, no faults, not
//! in the call log) and skip EC2's preconditions, as a console user with other permissions
//! might; only [`SimEc2::authorize_out_of_band`] keeps EC2's rule checks, since a person's
//! duplicate rule is refused too.
//!
//! EC2 itself changes endpoints too: it may fail one that is being provisioned, or be slow (an
//! endpoint stuck in `pending`, or lingering in `deleting`). Another tool in the account may
//! spend the request tokens of EC2's buckets, which the whole account shares.

use std::collections::HashSet;
use std::time::Duration;

use super::SimEc2;
use super::world::Lifecycle;
use crate::aws::{AuthorizeRules, Ec2Error, Ec2Operation};
use crate::model::{
    AttributeBoolean, GroupIdentifier, Ipv4PrefixSpecification, Ipv6Address, Ipv6PrefixSpecification,
    NetworkInterface, PrivateIpAddress, SecurityGroup, SecurityGroupRule, ServiceDetail, VpcDnsAttributes,
};

/// The resource a drift helper was asked to change is not in the world.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} does not exist in the simulated world")]
pub struct Missing(pub String);

impl SimEc2 {
    /// Someone revokes a rule (ingress or egress) by id.
    pub fn revoke_rule_out_of_band(&self, rule_id: &str) -> Result<(), Missing> {
        let mut state = self.lock();
        let rules = &mut state.world.rules;
        let before = rules.len();
        rules.retain(|r| r.security_group_rule_id != rule_id);
        if rules.len() == before {
            return Err(Missing(rule_id.to_string()));
        }
        Ok(())
    }

    /// Someone deletes an endpoint: it and its ENIs are gone at once.
    pub fn delete_endpoint_out_of_band(&self, endpoint_id: &str) -> Result<(), Missing> {
        let mut state = self.lock();
        if !state.world.endpoints.contains_key(endpoint_id) {
            return Err(Missing(endpoint_id.to_string()));
        }
        state.world.remove_endpoint(endpoint_id);
        Ok(())
    }

    /// Someone calls DeleteVpcEndpoints by hand: the endpoint is `deleting`, and gone with its
    /// ENIs after the deletion delay.
    pub fn start_deleting_endpoint_out_of_band(&self, endpoint_id: &str) -> Result<(), Missing> {
        let now = self.clock.now();
        let mut state = self.lock();
        // Whatever was due by now happened first (the world settles lazily).
        state.world.settle(now);
        let delay = state.config.deletion_delay;
        let sim = state
            .world
            .endpoints
            .get_mut(endpoint_id)
            .ok_or_else(|| Missing(endpoint_id.to_string()))?;
        if sim.endpoint.state_lower() == "deleting" {
            return Ok(());
        }
        sim.endpoint.state = Some("deleting".into());
        sim.next = None;
        state
            .world
            .schedule(endpoint_id, now, delay, Lifecycle::Disappear);
        Ok(())
    }

    /// EC2's eventual consistency, longer than usual: describes do not list the endpoint for
    /// `extra` from now (a ModifyVpcEndpoint of it is `InvalidVpcEndpointId.NotFound`), as right
    /// after its creation.
    pub fn hide_endpoint_out_of_band(&self, endpoint_id: &str, extra: Duration) -> Result<(), Missing> {
        let now = self.clock.now();
        let mut state = self.lock();
        let sim = state
            .world
            .endpoints
            .get_mut(endpoint_id)
            .ok_or_else(|| Missing(endpoint_id.to_string()))?;
        sim.visible_from = sim.visible_from.max(now + extra);
        Ok(())
    }

    /// EC2 fails an endpoint that is still being provisioned (`pending`): `failed`, for good.
    /// An endpoint in another state is left as it is.
    pub fn fail_endpoint_out_of_band(&self, endpoint_id: &str) -> Result<(), Missing> {
        let mut state = self.lock();
        state.world.settle(self.clock.now());
        let sim = state
            .world
            .endpoints
            .get_mut(endpoint_id)
            .ok_or_else(|| Missing(endpoint_id.to_string()))?;
        if sim.endpoint.state_lower() == "pending" {
            sim.endpoint.state = Some("failed".into());
            sim.next = None;
        }
        Ok(())
    }

    /// Another tool in the account (Terraform, an autoscaler, a script) calls `operations` at
    /// their buckets' refill rate or faster for `duration` from now: the account's buckets for
    /// them (EC2's, shared by every caller in the account and region) stay empty, and the
    /// controller's calls of them are answered `RequestLimitExceeded` until it stops.
    pub fn spend_request_tokens_out_of_band(&self, operations: &[Ec2Operation], duration: Duration) {
        let now = self.clock.now();
        let mut state = self.lock();
        for &operation in operations {
            state.limiter.spend_all(operation, now, now + duration);
        }
    }

    /// EC2 is slow with an endpoint: its next lifecycle step (`pending` → `available`, or
    /// `deleting` → gone) comes `extra` later than it would have. An endpoint with no step
    /// ahead is left as it is.
    pub fn stall_endpoint_out_of_band(&self, endpoint_id: &str, extra: Duration) -> Result<(), Missing> {
        let mut state = self.lock();
        state.world.settle(self.clock.now());
        let sim = state
            .world
            .endpoints
            .get_mut(endpoint_id)
            .ok_or_else(|| Missing(endpoint_id.to_string()))?;
        if let Some((at, step)) = sim.next {
            sim.next = Some((at + extra, step));
        }
        Ok(())
    }

    /// Someone turns private DNS on or off, without EC2's preconditions.
    pub fn set_private_dns_out_of_band(&self, endpoint_id: &str, enabled: bool) -> Result<(), Missing> {
        let mut state = self.lock();
        let sim = state
            .world
            .endpoints
            .get_mut(endpoint_id)
            .ok_or_else(|| Missing(endpoint_id.to_string()))?;
        sim.endpoint.private_dns_enabled = enabled;
        state.world.refresh_dns_entries(endpoint_id);
        Ok(())
    }

    /// Someone replaces an endpoint's security groups (the console's "Manage security groups"):
    /// its ENIs get them at once.
    pub fn set_endpoint_groups_out_of_band(
        &self,
        endpoint_id: &str,
        group_ids: &[&str],
    ) -> Result<(), Missing> {
        let mut state = self.lock();
        let world = &mut state.world;
        if let Some(unknown) = group_ids.iter().find(|g| !world.groups.contains_key(**g)) {
            return Err(Missing(unknown.to_string()));
        }
        let groups = world.endpoint_groups(&group_ids.iter().map(|g| g.to_string()).collect::<Vec<_>>());
        let sim = world
            .endpoints
            .get_mut(endpoint_id)
            .ok_or_else(|| Missing(endpoint_id.to_string()))?;
        sim.endpoint.groups = groups;
        world.sync_endpoint_eni_groups(endpoint_id);
        Ok(())
    }

    /// Someone starts an instance or a function: a new ENI. An empty id gets a fresh `eni-…`; an
    /// ENI without an address gets the subnet's lowest free one. Returns the ENI as stored.
    pub fn add_network_interface(&self, mut eni: NetworkInterface) -> Result<NetworkInterface, Missing> {
        let mut state = self.lock();
        let world = &mut state.world;
        let subnet = world
            .subnets
            .get(&eni.subnet_id)
            .ok_or_else(|| Missing(eni.subnet_id.clone()))?;
        if eni.vpc_id.is_empty() {
            eni.vpc_id = subnet.vpc_id.clone();
        }
        if eni.availability_zone.is_none() {
            eni.availability_zone = subnet.availability_zone.clone();
        }
        if eni.network_interface_id.is_empty() {
            eni.network_interface_id = world.fresh_id("eni");
        }
        if eni.private_ip_address.is_none() && eni.private_ip_addresses.is_empty() {
            let address = world
                .free_address(&eni.subnet_id, &HashSet::new())
                .ok_or_else(|| Missing(format!("a free address in {}", eni.subnet_id)))?;
            eni.private_ip_address = Some(address.to_string());
            eni.private_ip_addresses = vec![PrivateIpAddress {
                private_ip_address: address.to_string(),
                primary: Some(true),
            }];
        }
        world
            .network_interfaces
            .insert(eni.network_interface_id.clone(), eni.clone());
        Ok(eni)
    }

    /// Someone gives an ENI more addresses, as the VPC CNI does for pods (secondary IPs, or
    /// prefix delegation): each of `addresses` becomes a secondary private IPv4 address, IPv6
    /// address, IPv4 prefix or IPv6 prefix, by its form (`10.0.2.20`, `2600:1f14::20`,
    /// `10.0.2.48/28`, `2600:1f14:0:1::/80`). Returns the ENI as stored.
    pub fn assign_addresses_out_of_band(
        &self,
        eni_id: &str,
        addresses: &[&str],
    ) -> Result<NetworkInterface, Missing> {
        let mut state = self.lock();
        let eni = state
            .world
            .network_interfaces
            .get_mut(eni_id)
            .ok_or_else(|| Missing(eni_id.to_string()))?;
        for address in addresses {
            let address = address.to_string();
            match (address.contains('/'), address.contains(':')) {
                (false, false) => eni.private_ip_addresses.push(PrivateIpAddress {
                    private_ip_address: address,
                    primary: Some(false),
                }),
                (false, true) => eni.ipv6_addresses.push(Ipv6Address {
                    ipv6_address: address,
                }),
                (true, false) => eni
                    .ipv4_prefixes
                    .push(Ipv4PrefixSpecification { ipv4_prefix: address }),
                (true, true) => eni
                    .ipv6_prefixes
                    .push(Ipv6PrefixSpecification { ipv6_prefix: address }),
            }
        }
        Ok(eni.clone())
    }

    /// Someone assigns `count` secondary private IPv4 addresses to an ENI
    /// (AssignPrivateIpAddresses `--secondary-private-ip-address-count`): EC2 picks the subnet's
    /// lowest free ones. Returns them.
    pub fn assign_free_addresses_out_of_band(
        &self,
        eni_id: &str,
        count: usize,
    ) -> Result<Vec<String>, Missing> {
        let added = {
            let state = self.lock();
            let world = &state.world;
            let subnet_id = &world
                .network_interfaces
                .get(eni_id)
                .ok_or_else(|| Missing(eni_id.to_string()))?
                .subnet_id;
            let mut claimed = HashSet::new();
            for _ in 0..count {
                let address = world
                    .free_address(subnet_id, &claimed)
                    .ok_or_else(|| Missing(format!("a free address in {subnet_id}")))?;
                claimed.insert(address);
            }
            let mut added: Vec<std::net::Ipv4Addr> = claimed.into_iter().collect();
            added.sort();
            added.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        let refs: Vec<&str> = added.iter().map(String::as_str).collect();
        self.assign_addresses_out_of_band(eni_id, &refs)?;
        Ok(added)
    }

    /// Someone replaces an ENI's security groups (ModifyNetworkInterfaceAttribute `--groups`).
    /// Unknown groups are `Missing`.
    pub fn set_network_interface_groups_out_of_band(
        &self,
        eni_id: &str,
        group_ids: &[&str],
    ) -> Result<(), Missing> {
        let mut state = self.lock();
        let world = &mut state.world;
        let groups = group_ids
            .iter()
            .map(|g| {
                let group = world.groups.get(*g).ok_or_else(|| Missing(g.to_string()))?;
                Ok(GroupIdentifier {
                    group_id: g.to_string(),
                    group_name: group.group_name.clone(),
                })
            })
            .collect::<Result<Vec<_>, Missing>>()?;
        let eni = world
            .network_interfaces
            .get_mut(eni_id)
            .ok_or_else(|| Missing(eni_id.to_string()))?;
        eni.groups = groups;
        Ok(())
    }

    /// Someone else's AuthorizeSecurityGroupIngress/Egress (their credentials, their tags):
    /// EC2's checks apply (a duplicate or a full group is refused), but it is not one of the
    /// controller's calls (no throttling, no faults, not in the call log).
    pub fn authorize_out_of_band(
        &self,
        request: &AuthorizeRules,
    ) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
        let mut state = self.lock();
        let state = &mut *state;
        let quota = state.config.rules_per_group;
        state
            .world
            .authorize(Ec2Operation::authorize(request.egress), request, quota)
    }

    /// Someone detaches an ENI from its instance: it stays, `available`, and sends nothing.
    pub fn detach_network_interface_out_of_band(&self, eni_id: &str) -> Result<(), Missing> {
        let mut state = self.lock();
        let eni = state
            .world
            .network_interfaces
            .get_mut(eni_id)
            .ok_or_else(|| Missing(eni_id.to_string()))?;
        eni.status = Some("available".into());
        eni.attachment = None;
        Ok(())
    }

    /// Someone deletes an ENI (an instance terminates).
    pub fn remove_network_interface(&self, eni_id: &str) -> Result<(), Missing> {
        let mut state = self.lock();
        state
            .world
            .network_interfaces
            .remove(eni_id)
            .map(|_| ())
            .ok_or_else(|| Missing(eni_id.to_string()))
    }

    /// Someone creates a security group (its `IpPermissions` become rules with fresh ids).
    pub fn add_security_group(&self, group: SecurityGroup) {
        let mut state = self.lock();
        state.world.rules.retain(|r| r.group_id != group.group_id);
        state.world.add_group(&group);
        state.world.assign_missing_rule_ids();
    }

    /// Someone changes a VPC's DNS attributes (`None` leaves one as it is).
    pub fn set_vpc_dns_attributes(
        &self,
        vpc_id: &str,
        dns_support: Option<bool>,
        dns_hostnames: Option<bool>,
    ) -> Result<(), Missing> {
        let mut state = self.lock();
        let world = &mut state.world;
        if !world.vpcs.contains_key(vpc_id) {
            return Err(Missing(vpc_id.to_string()));
        }
        let current = world.dns_attributes(vpc_id);
        world.vpc_attributes.insert(
            vpc_id.to_string(),
            VpcDnsAttributes {
                enable_dns_support: dns_support.map(AttributeBoolean).or(current.enable_dns_support),
                enable_dns_hostnames: dns_hostnames
                    .map(AttributeBoolean)
                    .or(current.enable_dns_hostnames),
            },
        );
        Ok(())
    }

    /// The service's owner accepts a `pendingAcceptance` (or `rejected`) endpoint: it turns
    /// `pending`, and `available` after the provisioning delay.
    pub fn accept_endpoint(&self, endpoint_id: &str) -> Result<(), Missing> {
        let now = self.clock.now();
        let mut state = self.lock();
        let delay = state.config.provisioning_delay;
        let world = &mut state.world;
        let sim = world
            .endpoints
            .get_mut(endpoint_id)
            .filter(|e| {
                matches!(
                    e.endpoint.state_lower().as_str(),
                    "pendingacceptance" | "rejected"
                )
            })
            .ok_or_else(|| Missing(format!("{endpoint_id} waiting for acceptance")))?;
        sim.endpoint.state = Some("pending".into());
        world.schedule(endpoint_id, now, delay, Lifecycle::BecomeAvailable);
        Ok(())
    }

    /// The service's owner rejects a `pendingAcceptance` endpoint: it turns `rejected`.
    pub fn reject_endpoint(&self, endpoint_id: &str) -> Result<(), Missing> {
        let mut state = self.lock();
        let sim = state
            .world
            .endpoints
            .get_mut(endpoint_id)
            .filter(|e| e.endpoint.state_lower() == "pendingacceptance")
            .ok_or_else(|| Missing(format!("{endpoint_id} waiting for acceptance")))?;
        sim.endpoint.state = Some("rejected".into());
        Ok(())
    }

    /// Makes an endpoint service available in the region (replaces one of the same name).
    pub fn add_service(&self, service: ServiceDetail) {
        self.lock()
            .world
            .services
            .insert(service.service_name.clone(), service);
    }
}
