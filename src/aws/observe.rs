//! Observing one VPC through the EC2 port: the same [`Snapshot`] a file on disk holds.
//!
//! Used by the engine on every reconcile, by `vpce-rollout snapshot` and by live `plan`.
//! Independent describe calls run concurrently; prefix lists are fetched only when a security
//! group refers to them.

use std::collections::BTreeSet;

use futures::future::try_join_all;

use super::{Ec2, Ec2Error, EndpointFilter, ErrorKind, MAX_FILTER_VALUES, RuleFilter};
use crate::api::{OWNER_TAG, Owner};
use crate::model::{SecurityGroupRule, ServiceDetail, Snapshot, VpcEndpoint};

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
    let services: Vec<String> = scope.service_name.map(str::to_string).into_iter().collect();
    let owners: Vec<String> = scope.owner.map(Owner::owner_tag).into_iter().collect();
    let mut snapshot = describe_vpc(ec2, vpc_id).await?;
    if snapshot.vpcs.is_empty() {
        return Ok(snapshot);
    }
    let (service_details, owned_rules) = futures::try_join!(
        describe_services(ec2, &services, scope.service_region),
        describe_owned_rules(ec2, &owners),
    )?;
    snapshot.service_details = service_details;
    snapshot.security_group_rules = owned_rules;
    Ok(snapshot)
}

/// What every object in `vpc_id` sees alike: the VPC, its DNS attributes, subnets, security
/// groups, network interfaces, network ACLs, endpoints, and the prefix lists its groups refer to.
/// Independent calls run concurrently. A VPC that does not exist yields an empty snapshot.
pub(crate) async fn describe_vpc<E: Ec2>(ec2: &E, vpc_id: &str) -> Result<Snapshot, Ec2Error> {
    describe_vpc_and(ec2, vpc_id, |_| {}).await
}

/// [`describe_vpc`], showing `listed` the endpoints as soon as EC2 listed them, even when a
/// later call fails: what the controller saw of private DNS counts from then
/// ([`super::observation::VpcObservations::seen_off`]).
pub(crate) async fn describe_vpc_and<E: Ec2>(
    ec2: &E,
    vpc_id: &str,
    listed: impl FnOnce(&[VpcEndpoint]),
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
    listed(&vpc_endpoints);

    let mut snapshot = Snapshot {
        vpcs,
        subnets: subnets.into(),
        security_groups: security_groups.into(),
        network_interfaces: network_interfaces.into(),
        network_acls: network_acls.into(),
        vpc_endpoints,
        ..Default::default()
    };
    if snapshot.vpcs.is_empty() {
        return Ok(snapshot);
    }

    let attributes = ec2.describe_vpc_dns_attributes(vpc_id);
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
    let (attributes, (prefix_lists, entries)) = futures::try_join!(attributes, prefix_lists)?;
    snapshot.vpc_attributes.insert(vpc_id.to_string(), attributes);
    snapshot.prefix_lists = prefix_lists;
    snapshot.prefix_list_entries = entries.into_iter().collect();
    Ok(snapshot)
}

/// The endpoint services named, in one call (none when no name is given), as offered from
/// `region` when they are hosted in another (`spec.serviceRegion`).
///
/// One service of another region that offers no cross-region access to this region is not
/// listed from there (InvalidServiceName): the spec asks for what is not there, which the plan
/// reports as an invalid spec ([`crate::plan::validate`]), so that answer is an empty list.
pub(crate) async fn describe_services<E: Ec2>(
    ec2: &E,
    names: &[String],
    region: Option<&str>,
) -> Result<Vec<ServiceDetail>, Ec2Error> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let regions: Vec<String> = region.map(str::to_string).into_iter().collect();
    match ec2.describe_vpc_endpoint_services(names, &regions).await {
        Err(e)
            if names.len() == 1
                && region.is_some()
                && matches!(e.kind, ErrorKind::NotFound | ErrorKind::Invalid) =>
        {
            Ok(Vec::new())
        }
        other => other,
    }
}

/// The rules carrying the owner tag (`namespace/name`) of any of `owner_tags`: by that tag, so
/// that the rules of an earlier object of the same name are seen too (a restored object takes
/// them over); which are an object's is decided on both tags. One call per
/// [`MAX_FILTER_VALUES`] owners.
pub(crate) async fn describe_owned_rules<E: Ec2>(
    ec2: &E,
    owner_tags: &[String],
) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
    let calls = owner_tags.chunks(MAX_FILTER_VALUES).map(|owners| {
        let filter = RuleFilter {
            group_ids: Vec::new(),
            tag: None,
            tag_any_of: Some((OWNER_TAG.to_string(), owners.to_vec())),
        };
        async move { ec2.describe_security_group_rules(&filter).await }
    });
    Ok(try_join_all(calls).await?.into_iter().flatten().collect())
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
