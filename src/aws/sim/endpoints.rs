//! Interface VPC endpoints in the simulated world: create, modify, delete and describe, with the
//! validation, lifecycle and side effects EC2 has and the controller relies on.
//!
//! - Create checks the VPC, the service, every subnet (exists, in the VPC, in a zone the service
//!   offers, one per zone) and every security group (exists, in the VPC), then makes one
//!   requester-managed `vpc_endpoint` ENI per subnet with a free address of the subnet and the
//!   endpoint's groups. The endpoint is `pending` until the provisioning delay has passed, and for
//!   a short while describes do not see it at all (EC2 is eventually consistent).
//! - For a service that requires acceptance, the endpoint is `pendingAcceptance` until the
//!   service's owner accepts it (then `pending`, then `available`) or rejects it (`rejected`).
//! - A ClientToken makes create idempotent: the same token with the same parameters returns the
//!   same endpoint, with other parameters `IdempotentParameterMismatch`.
//! - Enabling private DNS checks EC2's preconditions (the service has a private DNS name, the VPC
//!   has enableDnsSupport and enableDnsHostnames, no other endpoint in the VPC already holds the
//!   name) and makes the endpoint `pending` for a while.
//! - Delete makes the endpoint `deleting`; after the deletion delay it and its ENIs are gone.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnet::Ipv4Net;

use super::world::{ClientTokenUse, CreateFingerprint, Lifecycle, Now, SimEndpoint, World};
use super::{SimConfig, clock, codes, ids};
use crate::api::{DnsRecordIpType, IpAddressType};
use crate::aws::{
    CLIENT_TOKEN_MAX_LEN, CreateVpcEndpoint, Ec2Error, Ec2Operation, EndpointFilter, ModifyVpcEndpoint,
};
use crate::model::{
    DnsEntry, EndpointDnsOptions, GroupIdentifier, NetworkInterface, PrivateIpAddress,
    SecurityGroupIdentifier, ServiceDetail, Tag, VpcEndpoint, tag_pairs,
};

/// The policy EC2 attaches when none is given: full access.
pub const DEFAULT_ENDPOINT_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// The state of an endpoint whose service's owner has not accepted it yet, as EC2 spells it.
pub(super) const PENDING_ACCEPTANCE: &str = "pendingAcceptance";

/// The AWS account that owns endpoint network interfaces (their `RequesterId`).
const ENDPOINT_ENI_REQUESTER: &str = "amazon-vpce";

impl World {
    pub(super) fn create_endpoint(
        &mut self,
        op: Ec2Operation,
        request: &CreateVpcEndpoint,
        now: Now,
        config: &SimConfig,
    ) -> Result<VpcEndpoint, Ec2Error> {
        if request.client_token.len() > CLIENT_TOKEN_MAX_LEN {
            return Err(codes::client_token_too_long(op, CLIENT_TOKEN_MAX_LEN));
        }
        let fingerprint = fingerprint(request);
        if let Some(used) = self.client_tokens.get(&request.client_token) {
            if used.fingerprint != fingerprint {
                return Err(codes::idempotency_mismatch(op));
            }
            let current = self.endpoints.get(&used.endpoint_id).map(|e| e.endpoint.clone());
            return Ok(current.unwrap_or_else(|| used.response.clone()));
        }

        if !self.vpcs.contains_key(&request.vpc_id) {
            return Err(codes::vpc_not_found(op, &request.vpc_id));
        }
        let service = self.service(op, &request.service_name)?.clone();
        // A service of another region is reached only by naming its region (and one of this
        // region only without one).
        if service.service_region != request.service_region {
            return Err(codes::service_not_found(op, &request.service_name));
        }
        self.check_subnets(op, &request.vpc_id, &service, &[], &request.subnet_ids)?;
        let group_ids = if request.security_group_ids.is_empty() {
            // EC2 attaches the VPC's default group when none is given.
            self.default_group(&request.vpc_id).into_iter().collect()
        } else {
            request.security_group_ids.clone()
        };
        self.check_groups(op, &request.vpc_id, &group_ids, request.subnet_ids.first())?;
        if request.policy_document.is_some() && service.vpc_endpoint_policy_supported == Some(false) {
            return Err(codes::policy_not_supported(op, &request.service_name));
        }
        let (ip_address_type, dns_options) = self.check_address_options(
            op,
            &request.subnet_ids,
            request.ip_address_type,
            request.dns_record_ip_type,
            None,
        )?;
        let policy = match &request.policy_document {
            Some(p) => validate_policy(op, p)?,
            None => DEFAULT_ENDPOINT_POLICY.to_string(),
        };
        let in_vpc = self
            .endpoints
            .values()
            .filter(|e| e.endpoint.vpc_id == request.vpc_id)
            .count();
        if in_vpc >= config.interface_endpoints_per_vpc {
            return Err(codes::endpoints_limit(
                op,
                &request.vpc_id,
                config.interface_endpoints_per_vpc,
            ));
        }

        let endpoint_id = self.fresh_id("vpce");
        let groups = self.endpoint_groups(&group_ids);
        self.check_subnet_configurations(op, &request.subnet_ids, &request.subnet_configurations)?;
        let ipv4 = ip_address_type.as_deref() != Some("ipv6");
        let mut enis = self.new_endpoint_enis(
            op,
            &endpoint_id,
            &request.subnet_ids,
            &groups,
            ipv4,
            &request.subnet_configurations,
        )?;
        if ip_address_type.as_deref().is_some_and(|t| t != "ipv4") {
            for eni in &mut enis {
                self.give_ipv6_address(eni, &request.subnet_configurations);
            }
        }
        let dns_label = self.ids.dns_label();
        let endpoint = VpcEndpoint {
            vpc_endpoint_id: endpoint_id.clone(),
            vpc_endpoint_type: Some("Interface".into()),
            vpc_id: request.vpc_id.clone(),
            service_name: request.service_name.clone(),
            state: Some("pending".into()),
            policy_document: Some(policy),
            subnet_ids: request.subnet_ids.clone(),
            groups,
            network_interface_ids: enis.iter().map(|e| e.network_interface_id.clone()).collect(),
            private_dns_enabled: false,
            dns_entries: Vec::new(),
            creation_timestamp: Some(clock::aws_timestamp(now.timestamp)),
            owner_id: Some(self.account_id.clone()),
            requester_managed: Some(false),
            service_region: request.service_region.clone(),
            ip_address_type,
            dns_options,
            tags: request.tags.clone(),
        };
        for eni in enis {
            self.network_interfaces
                .insert(eni.network_interface_id.clone(), eni);
        }
        self.endpoints.insert(
            endpoint_id.clone(),
            SimEndpoint {
                endpoint,
                dns_label,
                visible_from: now.elapsed + config.visibility_delay,
                next: None,
            },
        );
        self.refresh_dns_entries(&endpoint_id);
        // A service that requires acceptance leaves the endpoint `pendingAcceptance` until its
        // owner accepts or rejects it (SimEc2::accept_endpoint, SimEc2::reject_endpoint).
        if service.acceptance_required == Some(true)
            && let Some(sim) = self.endpoints.get_mut(&endpoint_id)
        {
            sim.endpoint.state = Some(PENDING_ACCEPTANCE.into());
        }
        // The response is what EC2 answers: still `pending`, even when provisioning takes no time.
        let response = self.endpoints[&endpoint_id].endpoint.clone();
        if service.acceptance_required != Some(true) {
            self.schedule(
                &endpoint_id,
                now.elapsed,
                config.provisioning_delay,
                Lifecycle::BecomeAvailable,
            );
        }
        if !request.client_token.is_empty() {
            self.client_tokens.insert(
                request.client_token.clone(),
                ClientTokenUse {
                    fingerprint,
                    endpoint_id,
                    response: response.clone(),
                },
            );
        }
        Ok(response)
    }

    pub(super) fn modify_endpoint(
        &mut self,
        op: Ec2Operation,
        request: &ModifyVpcEndpoint,
        now: Now,
        config: &SimConfig,
    ) -> Result<(), Ec2Error> {
        let id = &request.vpc_endpoint_id;
        let current = match self.endpoints.get(id) {
            Some(e) if e.is_visible(now.elapsed) => e.endpoint.clone(),
            Some(_) => return Err(codes::not_yet_visible(codes::endpoint_not_found(op, id))),
            None => return Err(codes::endpoint_not_found(op, id)),
        };
        let state = current.state_lower();
        if state == "deleting" || state == "deleted" {
            return Err(codes::incorrect_state(op, id, &state));
        }
        if request.policy_document.is_some() && request.reset_policy {
            return Err(codes::invalid_combination(
                op,
                "PolicyDocument and ResetPolicy cannot be used together",
            ));
        }
        // An endpoint loaded from a snapshot without its service's details can still be modified;
        // only enabling private DNS needs to know the service.
        let known_service = self.services.get(&current.service_name).cloned();
        let service = known_service.clone().unwrap_or_else(|| ServiceDetail {
            service_name: current.service_name.clone(),
            ..Default::default()
        });

        // Validate everything before changing anything: a failed modify changes nothing.
        for subnet in &request.remove_subnet_ids {
            if !current.subnet_ids.contains(subnet) {
                return Err(codes::not_attached(op, "subnet", subnet, id));
            }
        }
        let kept: Vec<String> = current
            .subnet_ids
            .iter()
            .filter(|s| !request.remove_subnet_ids.contains(s))
            .cloned()
            .collect();
        let added: Vec<String> = request
            .add_subnet_ids
            .iter()
            .filter(|s| !kept.contains(s))
            .cloned()
            .collect();
        self.check_subnets(op, &current.vpc_id, &service, &kept, &added)?;
        for group in &request.remove_security_group_ids {
            if !current.groups.iter().any(|g| &g.group_id == group) {
                return Err(codes::not_attached(op, "security group", group, id));
            }
        }
        let any_subnet = kept.first().or(added.first());
        self.check_groups(op, &current.vpc_id, &request.add_security_group_ids, any_subnet)?;
        if request.policy_document.is_some() && service.vpc_endpoint_policy_supported == Some(false) {
            return Err(codes::policy_not_supported(op, &current.service_name));
        }
        let policy = match (&request.policy_document, request.reset_policy) {
            (Some(p), _) => Some(validate_policy(op, p)?),
            (None, true) => Some(DEFAULT_ENDPOINT_POLICY.to_string()),
            (None, false) => None,
        };
        let options_change = request.ip_address_type.is_some() || request.dns_record_ip_type.is_some();
        let subnets_after: Vec<String> = kept.iter().chain(added.iter()).cloned().collect();
        // Added subnets must fit the endpoint's address type as well.
        let (ip_address_type, dns_options) = if options_change || !added.is_empty() {
            self.check_address_options(
                op,
                &subnets_after,
                request.ip_address_type,
                request.dns_record_ip_type,
                Some(&current),
            )?
        } else {
            (current.ip_address_type.clone(), current.dns_options.clone())
        };
        let dns_options = self.check_inbound_only(op, request, &current, dns_options)?;
        let enable_dns = request.private_dns_enabled == Some(true) && !current.private_dns_enabled;
        if enable_dns {
            if known_service.is_none() {
                return Err(codes::service_not_found(op, &current.service_name));
            }
            self.check_private_dns(op, &current, &service)?;
        }
        let mut group_ids: Vec<String> = current
            .groups
            .iter()
            .map(|g| g.group_id.clone())
            .filter(|g| !request.remove_security_group_ids.contains(g))
            .collect();
        for g in &request.add_security_group_ids {
            if !group_ids.contains(g) {
                group_ids.push(g.clone());
            }
        }
        let groups = self.endpoint_groups(&group_ids);
        // SubnetConfigurations give the added subnets' interfaces their addresses, and replace
        // the interface of a subnet the endpoint keeps (EC2: "we replace the existing endpoint
        // network interface with a new endpoint network interface with this IP address").
        self.check_subnet_configurations(op, &subnets_after, &request.subnet_configurations)?;
        let replaced: Vec<String> = request
            .subnet_configurations
            .iter()
            .map(|c| c.subnet_id.clone())
            .filter(|s| kept.contains(s))
            .collect();
        let ipv4 = ip_address_type.as_deref() != Some("ipv6");
        let created: Vec<String> = added.iter().chain(&replaced).cloned().collect();
        let mut new_enis =
            self.new_endpoint_enis(op, id, &created, &groups, ipv4, &request.subnet_configurations)?;
        if ip_address_type.as_deref().is_some_and(|t| t != "ipv4") {
            for eni in &mut new_enis {
                self.give_ipv6_address(eni, &request.subnet_configurations);
            }
        }

        // Apply.
        let removed_enis: Vec<String> = current
            .network_interface_ids
            .iter()
            .filter(|eni| {
                self.network_interfaces.get(*eni).is_some_and(|n| {
                    request.remove_subnet_ids.contains(&n.subnet_id) || replaced.contains(&n.subnet_id)
                })
            })
            .cloned()
            .collect();
        for eni in &removed_enis {
            self.network_interfaces.remove(eni);
        }
        let new_eni_ids: Vec<String> = new_enis.iter().map(|e| e.network_interface_id.clone()).collect();
        for eni in new_enis {
            self.network_interfaces
                .insert(eni.network_interface_id.clone(), eni);
        }
        let sim = self.endpoints.get_mut(id).expect("checked above");
        let e = &mut sim.endpoint;
        e.subnet_ids = kept.into_iter().chain(added).collect();
        e.network_interface_ids.retain(|n| !removed_enis.contains(n));
        e.network_interface_ids.extend(new_eni_ids);
        e.groups = groups;
        if let Some(p) = policy {
            e.policy_document = Some(p);
        }
        if let Some(enabled) = request.private_dns_enabled {
            e.private_dns_enabled = enabled;
        }
        e.ip_address_type = ip_address_type.clone();
        e.dns_options = dns_options;
        let dual = ip_address_type.as_deref().is_some_and(|t| t != "ipv4");
        // Addresses change only with the address type (an endpoint seeded with IPv6 addresses
        // and no type reported keeps them through other modifies).
        let enis = if request.ip_address_type.is_some() {
            e.network_interface_ids.clone()
        } else {
            Vec::new()
        };
        for eni_id in &enis {
            let Some(mut eni) = self.network_interfaces.remove(eni_id) else {
                continue;
            };
            if dual && eni.ipv6_addresses.is_empty() {
                self.give_ipv6_address(&mut eni, &[]);
            } else if !dual {
                eni.ipv6_addresses.clear();
            }
            self.network_interfaces.insert(eni_id.clone(), eni);
        }
        self.sync_endpoint_eni_groups(id);
        self.refresh_dns_entries(id);
        if enable_dns {
            // EC2 shows the endpoint `pending` while it associates the private hosted zone.
            if let Some(sim) = self.endpoints.get_mut(id) {
                sim.endpoint.state = Some("pending".into());
            }
            self.schedule(
                id,
                now.elapsed,
                config.private_dns_delay,
                Lifecycle::BecomeAvailable,
            );
        }
        Ok(())
    }

    /// DeleteVpcEndpoints: per-item failures, keyed by id.
    pub(super) fn delete_endpoints(
        &mut self,
        op: Ec2Operation,
        ids: &[String],
        now: Now,
        config: &SimConfig,
    ) -> Result<BTreeMap<String, Ec2Error>, Ec2Error> {
        if ids.is_empty() {
            return Err(codes::missing_parameter(op, "VpcEndpointId"));
        }
        let mut unsuccessful = BTreeMap::new();
        for id in ids {
            let Some(sim) = self.endpoints.get_mut(id).filter(|e| e.is_visible(now.elapsed)) else {
                let mut error = codes::endpoint_item_not_found(op, id);
                if self.endpoints.contains_key(id) {
                    error = codes::not_yet_visible(error);
                }
                unsuccessful.insert(id.clone(), error);
                continue;
            };
            if sim.endpoint.state_lower() == "deleting" {
                continue;
            }
            sim.endpoint.state = Some("deleting".into());
            sim.next = None;
            self.schedule(id, now.elapsed, config.deletion_delay, Lifecycle::Disappear);
        }
        Ok(unsuccessful)
    }

    /// CreateTags on endpoints: every id must be a visible endpoint; a key already there gets
    /// the new value.
    pub(super) fn tag_endpoints(
        &mut self,
        op: Ec2Operation,
        ids: &[String],
        tags: &[Tag],
        now: Now,
    ) -> Result<(), Ec2Error> {
        if ids.is_empty() {
            return Err(codes::missing_parameter(op, "ResourceId"));
        }
        if let Some(missing) = ids
            .iter()
            .find(|id| !self.endpoints.get(*id).is_some_and(|e| e.is_visible(now.elapsed)))
        {
            return Err(codes::endpoint_not_found(op, missing));
        }
        for id in ids {
            let endpoint = &mut self.endpoints.get_mut(id).expect("checked above").endpoint;
            for tag in tags {
                match endpoint.tags.iter_mut().find(|t| t.key == tag.key) {
                    Some(existing) => existing.value = tag.value.clone(),
                    None => endpoint.tags.push(tag.clone()),
                }
            }
        }
        Ok(())
    }

    /// DeleteTags on endpoints, by key (a key the endpoint lacks is no error, as in EC2).
    /// Without keys EC2 deletes every tag; the port never asks that (the SDK adapter refuses),
    /// and neither does this world: it answers as for a missing parameter.
    pub(super) fn untag_endpoints(
        &mut self,
        op: Ec2Operation,
        ids: &[String],
        keys: &[String],
        now: Now,
    ) -> Result<(), Ec2Error> {
        if ids.is_empty() {
            return Err(codes::missing_parameter(op, "ResourceId"));
        }
        if keys.is_empty() {
            return Err(codes::missing_parameter(op, "Tag"));
        }
        if let Some(missing) = ids
            .iter()
            .find(|id| !self.endpoints.get(*id).is_some_and(|e| e.is_visible(now.elapsed)))
        {
            return Err(codes::endpoint_not_found(op, missing));
        }
        for id in ids {
            let endpoint = &mut self.endpoints.get_mut(id).expect("checked above").endpoint;
            endpoint.tags.retain(|t| !keys.contains(&t.key));
        }
        Ok(())
    }

    /// DescribeVpcEndpoints: ids (each must be visible) and filters, all of which must match.
    pub(super) fn describe_endpoints(
        &self,
        op: Ec2Operation,
        filter: &EndpointFilter,
        now: Now,
    ) -> Result<Vec<VpcEndpoint>, Ec2Error> {
        for id in &filter.vpc_endpoint_ids {
            match self.endpoints.get(id) {
                Some(e) if e.is_visible(now.elapsed) => {}
                Some(_) => return Err(codes::not_yet_visible(codes::endpoint_not_found(op, id))),
                None => return Err(codes::endpoint_not_found(op, id)),
            }
        }
        Ok(self
            .endpoints
            .values()
            .filter(|e| e.is_visible(now.elapsed))
            .map(|e| &e.endpoint)
            .filter(|e| {
                filter.vpc_endpoint_ids.is_empty() || filter.vpc_endpoint_ids.contains(&e.vpc_endpoint_id)
            })
            .filter(|e| filter.vpc_id.as_ref().is_none_or(|v| v == &e.vpc_id))
            .filter(|e| filter.service_name.as_ref().is_none_or(|s| s == &e.service_name))
            .filter(|e| match &filter.tag {
                None => true,
                Some((k, v)) => tag_pairs(&e.tags).any(|(ek, ev)| ek == k && ev == v),
            })
            .cloned()
            .collect())
    }

    /// Network interfaces of endpoints describes cannot see yet are not seen either.
    pub(super) fn hidden_network_interfaces(&self, now: Duration) -> HashSet<&str> {
        self.endpoints
            .values()
            .filter(|e| !e.is_visible(now))
            .flat_map(|e| e.endpoint.network_interface_ids.iter().map(String::as_str))
            .collect()
    }

    pub(super) fn service(&self, op: Ec2Operation, name: &str) -> Result<&ServiceDetail, Ec2Error> {
        self.services
            .get(name)
            .ok_or_else(|| codes::service_not_found(op, name))
    }

    fn default_group(&self, vpc_id: &str) -> Option<String> {
        self.groups
            .values()
            .find(|g| g.vpc_id.as_deref() == Some(vpc_id) && g.group_name.as_deref() == Some("default"))
            .map(|g| g.group_id.clone())
    }

    /// Subnets `added` to an endpoint that already has `kept`: each exists, is in the VPC, is in a
    /// zone the service offers, and no two share a zone.
    fn check_subnets(
        &self,
        op: Ec2Operation,
        vpc_id: &str,
        service: &ServiceDetail,
        kept: &[String],
        added: &[String],
    ) -> Result<(), Ec2Error> {
        let mut zones: BTreeSet<String> = kept
            .iter()
            .filter_map(|s| self.subnets.get(s))
            .filter_map(|s| s.availability_zone.clone())
            .collect();
        for subnet_id in added {
            let subnet = self
                .subnets
                .get(subnet_id)
                .ok_or_else(|| codes::subnet_not_found(op, subnet_id))?;
            if subnet.vpc_id != vpc_id {
                return Err(codes::subnet_in_other_vpc(op, subnet_id, vpc_id));
            }
            let zone = subnet.availability_zone.clone().unwrap_or_default();
            if !service.availability_zones.is_empty() && !service.availability_zones.contains(&zone) {
                return Err(codes::zone_not_supported(op, &service.service_name, subnet_id));
            }
            if !zones.insert(zone) {
                return Err(codes::duplicate_subnet_zone(op, subnet_id));
            }
        }
        Ok(())
    }

    fn check_groups(
        &self,
        op: Ec2Operation,
        vpc_id: &str,
        group_ids: &[String],
        any_subnet: Option<&String>,
    ) -> Result<(), Ec2Error> {
        for group_id in group_ids {
            let group = self
                .groups
                .get(group_id)
                .ok_or_else(|| codes::group_not_found(op, group_id))?;
            if group.vpc_id.as_deref() != Some(vpc_id) {
                let other = any_subnet.map(String::as_str).unwrap_or(vpc_id);
                return Err(codes::group_and_subnet_in_other_networks(op, group_id, other));
            }
        }
        Ok(())
    }

    /// EC2's preconditions for private DNS, in the order a person would fix them.
    fn check_private_dns(
        &self,
        op: Ec2Operation,
        endpoint: &VpcEndpoint,
        service: &ServiceDetail,
    ) -> Result<(), Ec2Error> {
        let Some(domain) = service.private_dns_name() else {
            return Err(codes::no_private_dns_name(op, &service.service_name));
        };
        let attrs = self.dns_attributes(&endpoint.vpc_id);
        let on = |a: Option<crate::model::AttributeBoolean>| a.is_some_and(|a| a.0);
        if !on(attrs.enable_dns_support) || !on(attrs.enable_dns_hostnames) {
            return Err(codes::dns_attributes_required(op, &endpoint.vpc_id));
        }
        let conflict = self.endpoints.values().any(|other| {
            let o = &other.endpoint;
            o.vpc_endpoint_id != endpoint.vpc_endpoint_id
                && o.vpc_id == endpoint.vpc_id
                && o.private_dns_enabled
                && self
                    .services
                    .get(&o.service_name)
                    .and_then(|s| s.private_dns_name())
                    == Some(domain)
        });
        if conflict {
            return Err(codes::private_dns_conflict(op, domain, &endpoint.vpc_id));
        }
        Ok(())
    }

    /// `DnsOptions.PrivateDnsOnlyForInboundResolverEndpoint` as EC2 documents it: set only with
    /// private DNS on (in the request that turns it on, or after), only for a service that has a
    /// gateway endpoint in the VPC; private DNS is not turned off while it is on (the same
    /// request may turn both off). Returns the endpoint's DNS options afterwards, from those
    /// [`Self::check_address_options`] gave (which know nothing of this option).
    fn check_inbound_only(
        &self,
        op: Ec2Operation,
        request: &ModifyVpcEndpoint,
        current: &VpcEndpoint,
        options: Option<EndpointDnsOptions>,
    ) -> Result<Option<EndpointDnsOptions>, Ec2Error> {
        let was = current
            .dns_options
            .as_ref()
            .and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint);
        let after = request.private_dns_only_for_inbound_resolver_endpoint.or(was);
        let dns_on = request.private_dns_enabled.unwrap_or(current.private_dns_enabled);
        if request.private_dns_only_for_inbound_resolver_endpoint == Some(true) {
            if !dns_on {
                return Err(codes::invalid_combination(
                    op,
                    "PrivateDnsOnlyForInboundResolverEndpoint can only be set when private DNS is enabled",
                ));
            }
            let gateway = self.endpoints.values().any(|other| {
                let o = &other.endpoint;
                o.vpc_id == current.vpc_id
                    && o.service_name == current.service_name
                    && o.vpc_endpoint_type.as_deref() == Some("Gateway")
                    && o.is_available()
            });
            if !gateway {
                return Err(codes::invalid_value(
                    op,
                    format!(
                        "PrivateDnsOnlyForInboundResolverEndpoint needs a gateway endpoint for {} in {}",
                        current.service_name, current.vpc_id
                    ),
                ));
            }
        } else if after == Some(true) && !dns_on {
            return Err(codes::invalid_combination(
                op,
                "private DNS cannot be disabled while PrivateDnsOnlyForInboundResolverEndpoint is enabled",
            ));
        }
        if after.is_none() {
            return Ok(options);
        }
        let mut options = options.unwrap_or_default();
        options.private_dns_only_for_inbound_resolver_endpoint = after;
        Ok(Some(options))
    }

    pub(super) fn endpoint_groups(&self, group_ids: &[String]) -> Vec<SecurityGroupIdentifier> {
        group_ids
            .iter()
            .map(|id| SecurityGroupIdentifier {
                group_id: id.clone(),
                group_name: self.groups.get(id).and_then(|g| g.group_name.clone()),
            })
            .collect()
    }

    /// `IpAddressType` and `DnsOptions.DnsRecordIpType` as EC2 checks them: records only with
    /// the address types EC2 creates them for, IPv6 addresses only in subnets with an IPv6 CIDR.
    /// Returns what the endpoint reports afterwards (an option not given keeps `current`'s; a
    /// new endpoint created without them reports none: the controller reads that as unknown).
    fn check_address_options(
        &self,
        op: Ec2Operation,
        subnet_ids: &[String],
        ip_address_type: Option<IpAddressType>,
        records: Option<DnsRecordIpType>,
        current: Option<&VpcEndpoint>,
    ) -> Result<(Option<String>, Option<EndpointDnsOptions>), Ec2Error> {
        let addresses = ip_address_type.or_else(|| {
            current
                .and_then(|c| c.ip_address_type.as_deref())
                .and_then(IpAddressType::parse)
        });
        let current_records = current
            .and_then(|c| c.dns_options.as_ref())
            .and_then(|d| d.dns_record_ip_type.as_deref())
            .and_then(DnsRecordIpType::parse);
        // A new address type without records named keeps the records only if they still fit.
        let records =
            records.or(current_records.filter(|r| addresses.is_none_or(|a| r.allowed_with().contains(&a))));
        if let (Some(r), Some(a)) = (records, addresses)
            && !r.allowed_with().contains(&a)
        {
            return Err(codes::invalid_combination(
                op,
                &format!(
                    "DnsRecordIpType {} is not supported for IpAddressType {}",
                    r.as_str(),
                    a.as_str()
                ),
            ));
        }
        if let Some(a) = addresses {
            for subnet_id in subnet_ids {
                let Some(subnet) = self.subnets.get(subnet_id) else {
                    continue;
                };
                let v4 = subnet.cidr_block.as_deref().is_some_and(|c| !c.is_empty());
                let v6 = !subnet.ipv6_cidr_block_association_set.is_empty();
                let fits = match a {
                    IpAddressType::Ipv4 => v4,
                    IpAddressType::Dualstack => v4 && v6,
                    IpAddressType::Ipv6 => v6 && !v4,
                };
                if !fits {
                    return Err(codes::invalid_value(
                        op,
                        format!(
                            "subnet {subnet_id} does not support IpAddressType {} (IPv4 CIDR: {v4}, \
                             IPv6 CIDR: {v6}; ipv6 needs an IPv6-only subnet)",
                            a.as_str()
                        ),
                    ));
                }
            }
        }
        let records = records.or(match addresses {
            Some(IpAddressType::Ipv4) => Some(DnsRecordIpType::Ipv4),
            Some(IpAddressType::Ipv6) => Some(DnsRecordIpType::Ipv6),
            Some(IpAddressType::Dualstack) => Some(DnsRecordIpType::Dualstack),
            None => None,
        });
        Ok((
            addresses.map(|a| a.as_str().to_string()),
            records.map(|r| EndpointDnsOptions {
                dns_record_ip_type: Some(r.as_str().to_string()),
                private_dns_only_for_inbound_resolver_endpoint: Some(
                    current
                        .and_then(|c| c.dns_options.as_ref())
                        .and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint)
                        .unwrap_or(false),
                ),
            }),
        ))
    }

    /// `SubnetConfigurations` as EC2 takes them: each for a subnet of the endpoint (after the
    /// request), each address inside the subnet's CIDR block of its family, not one of the
    /// five AWS reserves (the first four and the last of the block), and not in use by an
    /// interface other than the endpoint interface it replaces.
    fn check_subnet_configurations(
        &self,
        op: Ec2Operation,
        subnet_ids: &[String],
        configs: &[crate::api::SubnetConfiguration],
    ) -> Result<(), Ec2Error> {
        for config in configs {
            let subnet_id = &config.subnet_id;
            if !subnet_ids.contains(subnet_id) {
                return Err(codes::invalid_value(
                    op,
                    format!(
                        "SubnetConfigurations names subnet {subnet_id}, which is not one of the endpoint's subnets"
                    ),
                ));
            }
            let Some(subnet) = self.subnets.get(subnet_id) else {
                continue; // check_subnets refuses it
            };
            for text in [&config.ipv4, &config.ipv6].into_iter().flatten() {
                let address: IpAddr = text
                    .parse()
                    .map_err(|_| codes::invalid_value(op, format!("{text} is not a valid IP address")))?;
                let blocks: Vec<ipnet::IpNet> = match address {
                    IpAddr::V4(_) => subnet.cidr_block.iter().filter_map(|c| c.parse().ok()).collect(),
                    IpAddr::V6(_) => subnet
                        .ipv6_cidr_block_association_set
                        .iter()
                        .filter_map(|a| a.ipv6_cidr_block.parse().ok())
                        .collect(),
                };
                let Some(block) = blocks.iter().find(|b| b.contains(&address)) else {
                    return Err(codes::address_outside_subnet(
                        op,
                        text,
                        subnet_id,
                        "is not in the CIDR blocks",
                    ));
                };
                let (first, last, a) = match (block, address) {
                    (ipnet::IpNet::V4(b), IpAddr::V4(a)) => (
                        u128::from(u32::from(b.network())),
                        u128::from(u32::from(b.broadcast())),
                        u128::from(u32::from(a)),
                    ),
                    (ipnet::IpNet::V6(b), IpAddr::V6(a)) => {
                        (u128::from(b.network()), u128::from(b.broadcast()), u128::from(a))
                    }
                    _ => unreachable!("blocks are of the address's family"),
                };
                if a - first < 4 || a == last {
                    return Err(codes::address_outside_subnet(
                        op,
                        text,
                        subnet_id,
                        "is reserved in the CIDR block",
                    ));
                }
                if self.address_user(subnet_id, address).is_some() {
                    return Err(codes::address_in_use(op, text));
                }
            }
        }
        Ok(())
    }

    /// The interface of the subnet that has `address` (as an address or in a delegated prefix),
    /// other than an endpoint interface a SubnetConfiguration of its own endpoint replaces.
    fn address_user(&self, subnet_id: &str, address: IpAddr) -> Option<&str> {
        self.network_interfaces
            .values()
            .filter(|n| n.subnet_id == subnet_id)
            .find(|n| {
                let listed = n
                    .private_ip_address
                    .iter()
                    .chain(n.private_ip_addresses.iter().map(|a| &a.private_ip_address))
                    .chain(n.ipv6_addresses.iter().map(|a| &a.ipv6_address))
                    .filter_map(|a| a.parse::<IpAddr>().ok())
                    .any(|a| a == address);
                let prefixed = n
                    .ipv4_prefixes
                    .iter()
                    .map(|p| &p.ipv4_prefix)
                    .chain(n.ipv6_prefixes.iter().map(|p| &p.ipv6_prefix))
                    .filter_map(|p| p.parse::<ipnet::IpNet>().ok())
                    .any(|p| p.contains(&address));
                listed || prefixed
            })
            .map(|n| n.network_interface_id.as_str())
    }

    /// An IPv6 address for the ENI: the one a SubnetConfiguration fixes for its subnet (checked
    /// before), else one of the subnet's first IPv6 CIDR that no other ENI has.
    fn give_ipv6_address(&self, eni: &mut NetworkInterface, configs: &[crate::api::SubnetConfiguration]) {
        if let Some(fixed) = configs
            .iter()
            .find(|c| c.subnet_id == eni.subnet_id)
            .and_then(|c| c.ipv6.clone())
        {
            eni.ipv6_addresses = vec![crate::model::Ipv6Address { ipv6_address: fixed }];
            return;
        }
        let Some(cidr) = self
            .subnets
            .get(&eni.subnet_id)
            .and_then(|s| s.ipv6_cidr_block_association_set.first())
            .and_then(|a| a.ipv6_cidr_block.parse::<ipnet::Ipv6Net>().ok())
        else {
            return;
        };
        let used: HashSet<String> = self
            .network_interfaces
            .values()
            .flat_map(|n| n.ipv6_addresses.iter().map(|a| a.ipv6_address.clone()))
            .collect();
        let base = u128::from(cidr.network());
        let free = (0x10u128..0x10000)
            .map(|i| std::net::Ipv6Addr::from(base + i).to_string())
            .find(|a| !used.contains(a));
        if let Some(address) = free {
            eni.ipv6_addresses = vec![crate::model::Ipv6Address {
                ipv6_address: address,
            }];
        }
    }

    /// One ENI per subnet, each with the address a SubnetConfiguration fixes for it (checked
    /// before) or else the lowest free address of its subnet (none for an `ipv6` endpoint: `ipv4`
    /// false; its IPv6 address is given afterwards).
    fn new_endpoint_enis(
        &mut self,
        op: Ec2Operation,
        endpoint_id: &str,
        subnet_ids: &[String],
        groups: &[SecurityGroupIdentifier],
        ipv4: bool,
        configs: &[crate::api::SubnetConfiguration],
    ) -> Result<Vec<NetworkInterface>, Ec2Error> {
        let mut claimed: HashSet<Ipv4Addr> = HashSet::new();
        let mut out = Vec::new();
        for subnet_id in subnet_ids {
            let fixed = configs
                .iter()
                .find(|c| &c.subnet_id == subnet_id)
                .and_then(|c| c.ipv4.as_deref())
                .and_then(|a| a.parse::<Ipv4Addr>().ok());
            let address = if let (true, Some(fixed)) = (ipv4, fixed) {
                claimed.insert(fixed);
                Some(fixed.to_string())
            } else if ipv4 {
                let address = self
                    .free_address(subnet_id, &claimed)
                    .ok_or_else(|| codes::insufficient_addresses(op, subnet_id))?;
                claimed.insert(address);
                Some(address.to_string())
            } else {
                None
            };
            let subnet = &self.subnets[subnet_id];
            let (vpc_id, zone) = (subnet.vpc_id.clone(), subnet.availability_zone.clone());
            // The sequence never repeats, so ids drawn within one request are distinct too.
            let eni_id = self.fresh_id("eni");
            out.push(NetworkInterface {
                network_interface_id: eni_id,
                vpc_id,
                subnet_id: subnet_id.clone(),
                interface_type: Some("vpc_endpoint".into()),
                private_ip_addresses: address
                    .iter()
                    .map(|a| PrivateIpAddress {
                        private_ip_address: a.clone(),
                        primary: Some(true),
                    })
                    .collect(),
                private_ip_address: address,
                groups: eni_groups(groups),
                description: Some(format!("VPC Endpoint Interface {endpoint_id}")),
                status: Some("in-use".into()),
                requester_id: Some(ENDPOINT_ENI_REQUESTER.into()),
                requester_managed: Some(true),
                availability_zone: zone,
                ..Default::default()
            });
        }
        Ok(out)
    }

    /// The lowest address of the subnet that no ENI uses (as an address or inside a delegated
    /// prefix), skipping the five EC2 reserves (network, router, DNS, future use, broadcast).
    pub(super) fn free_address(&self, subnet_id: &str, claimed: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
        let cidr: Ipv4Net = self.subnets.get(subnet_id)?.cidr_block.as_deref()?.parse().ok()?;
        let in_subnet = || {
            self.network_interfaces
                .values()
                .filter(|n| n.subnet_id == subnet_id)
        };
        let used: HashSet<Ipv4Addr> = in_subnet()
            .flat_map(|n| {
                n.private_ip_address
                    .iter()
                    .chain(n.private_ip_addresses.iter().map(|a| &a.private_ip_address))
            })
            .filter_map(|a| a.parse::<IpAddr>().ok())
            .filter_map(|a| match a {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
            .collect();
        let prefixes: Vec<Ipv4Net> = in_subnet()
            .flat_map(|n| &n.ipv4_prefixes)
            .filter_map(|p| p.ipv4_prefix.parse().ok())
            .collect();
        let first = u32::from(cidr.network()).checked_add(4)?;
        let last = u32::from(cidr.broadcast()).checked_sub(1)?;
        (first..=last)
            .map(Ipv4Addr::from)
            .find(|a| !used.contains(a) && !claimed.contains(a) && !prefixes.iter().any(|p| p.contains(a)))
    }

    /// The endpoint's ENIs carry exactly the endpoint's groups (EC2 keeps them in step).
    pub(super) fn sync_endpoint_eni_groups(&mut self, endpoint_id: &str) {
        let Some(sim) = self.endpoints.get(endpoint_id) else {
            return;
        };
        let groups = eni_groups(&sim.endpoint.groups);
        for eni in sim.endpoint.network_interface_ids.clone() {
            if let Some(n) = self.network_interfaces.get_mut(&eni) {
                n.groups = groups.clone();
            }
        }
    }

    /// DNS entries as EC2 shows them: the regional name, one per zone, and the service's private
    /// DNS name while private DNS is on.
    pub(super) fn refresh_dns_entries(&mut self, endpoint_id: &str) {
        let Some(sim) = self.endpoints.get(endpoint_id) else {
            return;
        };
        let e = &sim.endpoint;
        let service_part = service_dns_part(&e.service_name, &self.region);
        let regional_zone = ids::hosted_zone_id(&format!("vpce.{}", self.region));
        let stem = format!("{}-{}", e.vpc_endpoint_id, sim.dns_label);
        let suffix = format!("{service_part}.{}.vpce.amazonaws.com", self.region);
        let mut entries = vec![DnsEntry {
            dns_name: format!("{stem}.{suffix}"),
            hosted_zone_id: Some(regional_zone.clone()),
        }];
        let zones: BTreeSet<String> = e
            .subnet_ids
            .iter()
            .filter_map(|s| self.subnets.get(s)?.availability_zone.clone())
            .collect();
        entries.extend(zones.iter().map(|zone| DnsEntry {
            dns_name: format!("{stem}-{zone}.{suffix}"),
            hosted_zone_id: Some(regional_zone.clone()),
        }));
        if e.private_dns_enabled
            && let Some(name) = self
                .services
                .get(&e.service_name)
                .and_then(|s| s.private_dns_name())
        {
            entries.push(DnsEntry {
                dns_name: name.to_string(),
                hosted_zone_id: Some(ids::hosted_zone_id(&format!("private.{}", e.vpc_endpoint_id))),
            });
        }
        if let Some(sim) = self.endpoints.get_mut(endpoint_id) {
            sim.endpoint.dns_entries = entries;
        }
    }
}

fn eni_groups(groups: &[SecurityGroupIdentifier]) -> Vec<GroupIdentifier> {
    groups
        .iter()
        .map(|g| GroupIdentifier {
            group_id: g.group_id.clone(),
            group_name: g.group_name.clone(),
        })
        .collect()
}

fn fingerprint(request: &CreateVpcEndpoint) -> CreateFingerprint {
    let sorted = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();
    let tags: BTreeSet<(String, String)> = request
        .tags
        .iter()
        .map(|Tag { key, value }| (key.clone(), value.clone()))
        .collect();
    CreateFingerprint {
        vpc_id: request.vpc_id.clone(),
        service_name: request.service_name.clone(),
        subnet_ids: sorted(&request.subnet_ids),
        security_group_ids: sorted(&request.security_group_ids),
        policy_document: request.policy_document.clone(),
        ip_address_type: request.ip_address_type,
        dns_record_ip_type: request.dns_record_ip_type,
        subnet_configurations: request
            .subnet_configurations
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        tags: tags.into_iter().collect(),
    }
}

fn validate_policy(op: Ec2Operation, policy: &str) -> Result<String, Ec2Error> {
    match serde_json::from_str::<serde_json::Value>(policy) {
        Ok(serde_json::Value::Object(_)) => Ok(policy.to_string()),
        Ok(_) => Err(codes::invalid_policy(op, "the document must be a JSON object")),
        Err(e) => Err(codes::invalid_policy(op, &e.to_string())),
    }
}

/// The service part of endpoint DNS names: `com.amazonaws.<region>.ecr.api` → `api.ecr`,
/// `com.amazonaws.vpce.<region>.vpce-svc-1` → `vpce-svc-1`.
fn service_dns_part(service_name: &str, region: &str) -> String {
    if let Some(rest) = service_name.strip_prefix(&format!("com.amazonaws.vpce.{region}.")) {
        return rest.to_string();
    }
    if let Some(rest) = service_name.strip_prefix(&format!("com.amazonaws.{region}.")) {
        return rest.rsplit('.').collect::<Vec<_>>().join(".");
    }
    service_name
        .rsplit('.')
        .next()
        .unwrap_or(service_name)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_map_to_their_dns_part_like_aws() {
        assert_eq!(
            service_dns_part("com.amazonaws.us-east-1.logs", "us-east-1"),
            "logs"
        );
        assert_eq!(
            service_dns_part("com.amazonaws.us-east-1.ecr.api", "us-east-1"),
            "api.ecr"
        );
        assert_eq!(
            service_dns_part("com.amazonaws.vpce.us-east-1.vpce-svc-0abc", "us-east-1"),
            "vpce-svc-0abc"
        );
    }
}
