//! Observing one VPC through the EC2 port: the same [`Snapshot`] a file on disk holds.
//!
//! Used by the engine on every reconcile, by `vpce-rollout snapshot` and by live `plan`.
//! Independent describe calls run concurrently; prefix lists are fetched only when a security
//! group refers to them.

use std::collections::BTreeSet;

use futures::future::try_join_all;

use super::{Ec2, Ec2Error, EndpointFilter, ErrorKind, RuleFilter};
use crate::api::{OWNER_TAG, Owner};
use crate::model::Snapshot;

/// What to observe besides the VPC itself.
#[derive(Clone, Debug, Default)]
pub struct ObserveScope<'a> {
    /// The endpoint service, for its private DNS name.
    pub service_name: Option<&'a str>,
    /// The service's region when it is hosted in another (`spec.serviceRegion`): it is looked
    /// up as offered from there, and not being offered is an empty answer, not an error.
    pub service_region: Option<&'a str>,
    /// Whose rules to collect into `security_group_rules`: by the owner tag (`namespace/name`),
    /// so that the rules of an earlier object of the same name are seen too (a restored object
    /// takes them over); which are this object's is decided on both tags.
    pub owner: Option<&'a Owner>,
}

/// Describes everything the analysis and the plan need about `vpc_id`.
///
/// A VPC that does not exist yields a snapshot without it (the analysis reports it); errors are
/// the EC2 port's, already classified.
pub async fn observe_vpc<E: Ec2>(
    ec2: &E,
    vpc_id: &str,
    scope: ObserveScope<'_>,
) -> Result<Snapshot, Ec2Error> {
    let vpc_ids = [vpc_id.to_string()];
    let endpoint_filter = EndpointFilter {
        vpc_id: Some(vpc_id.to_string()),
        ..Default::default()
    };
    // DescribeVpcs names the VPC by id, so EC2 (and the sim) answer NotFound when it is gone:
    // that is an observation (no VPC), not a failure.
    let vpcs = async {
        match ec2.describe_vpcs(&vpc_ids).await {
            Err(e) if e.kind == ErrorKind::NotFound => Ok(Vec::new()),
            other => other,
        }
    };
    let (vpcs, subnets, security_groups, network_interfaces, network_acls, vpc_endpoints) = futures::try_join!(
        vpcs,
        ec2.describe_subnets(vpc_id),
        ec2.describe_security_groups(vpc_id),
        ec2.describe_network_interfaces(vpc_id),
        ec2.describe_network_acls(vpc_id),
        ec2.describe_vpc_endpoints(&endpoint_filter),
    )?;

    let mut snapshot = Snapshot {
        vpcs,
        subnets,
        security_groups,
        network_interfaces,
        network_acls,
        vpc_endpoints,
        ..Default::default()
    };
    if snapshot.vpcs.is_empty() {
        return Ok(snapshot);
    }

    let attributes = ec2.describe_vpc_dns_attributes(vpc_id);
    let services = async {
        let Some(name) = scope.service_name else {
            return Ok(Vec::new());
        };
        let regions: Vec<String> = scope.service_region.map(str::to_string).into_iter().collect();
        match ec2
            .describe_vpc_endpoint_services(&[name.to_string()], &regions)
            .await
        {
            // A service that offers no cross-region access to this region is not listed from
            // its region (InvalidServiceName): the spec asks for what is not there, which the
            // plan reports as an invalid spec ([`crate::plan::validate`]).
            Err(e) if !regions.is_empty() && matches!(e.kind, ErrorKind::NotFound | ErrorKind::Invalid) => {
                Ok(Vec::new())
            }
            other => other,
        }
    };
    let owned_rules = async {
        match scope.owner {
            Some(owner) => {
                let filter = RuleFilter {
                    group_ids: Vec::new(),
                    tag: Some((OWNER_TAG.to_string(), owner.owner_tag())),
                };
                ec2.describe_security_group_rules(&filter).await
            }
            None => Ok(Vec::new()),
        }
    };
    let prefix_list_ids = referenced_prefix_lists(&snapshot);
    let prefix_lists = async {
        if prefix_list_ids.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let lists = ec2.describe_managed_prefix_lists(&prefix_list_ids).await?;
        let entries = try_join_all(lists.iter().map(|pl| async move {
            Ok::<_, Ec2Error>((
                pl.prefix_list_id.clone(),
                ec2.get_managed_prefix_list_entries(&pl.prefix_list_id).await?,
            ))
        }))
        .await?;
        Ok((lists, entries))
    };
    let (attributes, service_details, owned_rules, (prefix_lists, entries)) =
        futures::try_join!(attributes, services, owned_rules, prefix_lists)?;

    snapshot.vpc_attributes.insert(vpc_id.to_string(), attributes);
    snapshot.service_details = service_details;
    snapshot.security_group_rules = owned_rules;
    snapshot.prefix_lists = prefix_lists;
    snapshot.prefix_list_entries = entries.into_iter().collect();
    Ok(snapshot)
}

/// Prefix lists that some security group rule refers to, sorted.
fn referenced_prefix_lists(snapshot: &Snapshot) -> Vec<String> {
    let ids: BTreeSet<String> = snapshot
        .security_groups
        .iter()
        .flat_map(|sg| sg.ip_permissions.iter().chain(&sg.ip_permissions_egress))
        .flat_map(|p| &p.prefix_list_ids)
        .map(|p| p.prefix_list_id.clone())
        .collect();
    ids.into_iter().collect()
}
