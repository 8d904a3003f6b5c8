//! The plain describes of the simulated world: VPCs and their DNS attributes, subnets, security
//! groups, network interfaces, network ACLs, endpoint services and managed prefix lists.
//!
//! As in EC2, naming ids that do not exist is an error (`InvalidVpcID.NotFound`, ...), while a
//! filter that matches nothing (`vpc-id` of an unknown VPC) is an empty answer.

use super::codes;
use super::world::World;
use crate::aws::{Ec2Error, Ec2Operation};
use crate::model::{
    NetworkAcl, NetworkInterface, PrefixList, PrefixListEntry, SecurityGroup, ServiceDetail, Subnet, Vpc,
    VpcDnsAttributes,
};

impl World {
    pub(super) fn describe_vpcs(&self, op: Ec2Operation, vpc_ids: &[String]) -> Result<Vec<Vpc>, Ec2Error> {
        if let Some(missing) = vpc_ids.iter().find(|id| !self.vpcs.contains_key(*id)) {
            return Err(codes::vpc_not_found(op, missing));
        }
        Ok(self
            .vpcs
            .values()
            .filter(|v| vpc_ids.is_empty() || vpc_ids.contains(&v.vpc_id))
            .cloned()
            .collect())
    }

    pub(super) fn describe_vpc_dns_attributes(
        &self,
        op: Ec2Operation,
        vpc_id: &str,
    ) -> Result<VpcDnsAttributes, Ec2Error> {
        if !self.vpcs.contains_key(vpc_id) {
            return Err(codes::vpc_not_found(op, vpc_id));
        }
        Ok(self.dns_attributes(vpc_id))
    }

    pub(super) fn describe_subnets(&self, vpc_id: &str) -> Vec<Subnet> {
        self.subnets
            .values()
            .filter(|s| s.vpc_id == vpc_id)
            .cloned()
            .collect()
    }

    pub(super) fn describe_security_groups(&self, vpc_id: &str) -> Vec<SecurityGroup> {
        self.security_group_views(
            self.groups
                .values()
                .filter(|g| g.vpc_id.as_deref() == Some(vpc_id)),
        )
    }

    pub(super) fn describe_network_interfaces(
        &self,
        vpc_id: &str,
        now: std::time::Duration,
    ) -> Vec<NetworkInterface> {
        let hidden = self.hidden_network_interfaces(now);
        self.network_interfaces
            .values()
            .filter(|n| n.vpc_id == vpc_id && !hidden.contains(n.network_interface_id.as_str()))
            .cloned()
            .collect()
    }

    pub(super) fn describe_network_acls(&self, vpc_id: &str) -> Vec<NetworkAcl> {
        self.network_acls
            .values()
            .filter(|a| a.vpc_id == vpc_id)
            .cloned()
            .collect()
    }

    pub(super) fn describe_services(
        &self,
        op: Ec2Operation,
        names: &[String],
        regions: &[String],
    ) -> Result<Vec<ServiceDetail>, Ec2Error> {
        // A service of another region (`ServiceRegion`) is listed only when asked for with its
        // region (`ServiceRegions`), and only if it offers access from this world's region:
        // this world holds only those. Without `ServiceRegions`, only this region's services.
        let offered = |s: &ServiceDetail| match &s.service_region {
            None => regions.is_empty(),
            Some(r) => regions.contains(r),
        };
        if let Some(missing) = names.iter().find(|n| !self.services.get(*n).is_some_and(offered)) {
            return Err(codes::service_not_found(op, missing));
        }
        Ok(self
            .services
            .values()
            .filter(|s| offered(*s) && (names.is_empty() || names.contains(&s.service_name)))
            .cloned()
            .collect())
    }

    pub(super) fn describe_prefix_lists(
        &self,
        op: Ec2Operation,
        ids: &[String],
    ) -> Result<Vec<PrefixList>, Ec2Error> {
        if let Some(missing) = ids.iter().find(|id| !self.prefix_list_exists(id)) {
            return Err(codes::prefix_list_not_found(op, missing));
        }
        // A list known only by its entries (a snapshot without `PrefixLists`) is described by id.
        let mut out: Vec<PrefixList> = self
            .prefix_lists
            .values()
            .filter(|p| ids.is_empty() || ids.contains(&p.prefix_list_id))
            .cloned()
            .collect();
        for id in ids {
            if !self.prefix_lists.contains_key(id) {
                out.push(PrefixList {
                    prefix_list_id: id.clone(),
                    ..Default::default()
                });
            }
        }
        Ok(out)
    }

    pub(super) fn prefix_list_entries(
        &self,
        op: Ec2Operation,
        id: &str,
    ) -> Result<Vec<PrefixListEntry>, Ec2Error> {
        if !self.prefix_list_exists(id) {
            return Err(codes::prefix_list_not_found(op, id));
        }
        Ok(self.prefix_list_entries.get(id).cloned().unwrap_or_default())
    }
}
