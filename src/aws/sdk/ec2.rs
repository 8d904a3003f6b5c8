//! `impl Ec2 for SdkEc2`: one SDK call per port method; describe calls filter on the server
//! (`vpc-id`, `tag:KEY`) and read every page.

use std::collections::BTreeMap;

use aws_sdk_ec2::operation::RequestId;
use aws_sdk_ec2::types as sdk;

use super::SdkEc2;
use super::convert::{self, ConversionError};
use super::errors::{self, unexpected};
use crate::api::{OWNER_TAG, UID_TAG};
use crate::aws::{
    AccountUnknown, AuthorizeRules, CLIENT_TOKEN_MAX_LEN, CreateVpcEndpoint, Ec2, Ec2Error,
    Ec2Operation as Op, EndpointFilter, ErrorKind, ModifyVpcEndpoint, NewRule, Receipt, RetagOwnedRules,
    RevokeOwnedRules, RuleFilter, RulePeer,
};
use crate::model::{
    FlowLog, NetworkAcl, NetworkInterface, PrefixList, PrefixListEntry, Protocol, RouteTable, SecurityGroup,
    SecurityGroupRule, ServiceDetail, Subnet, Tag, Vpc, VpcDnsAttributes, VpcEndpoint,
};

/// DescribeVpcEndpointServices has no SDK paginator; this bounds the hand-written loop.
const MAX_SERVICE_PAGES: usize = 100;
/// Code of the refusal to revoke a rule that vpce-rollout did not create.
pub const RULE_NOT_OWNED: &str = "RuleNotOwnedByVpceRollout";

/// Reads every page of a paginator, converting each page's items with `$items`.
macro_rules! every_page {
    ($op:expr, $paginator:expr, |$page:ident| $items:expr) => {{
        let mut pages = $paginator.send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            let $page = page.map_err(|e| errors::from_sdk($op, e))?;
            items.extend($items);
        }
        items
    }};
}

fn filter(name: &str, value: &str) -> sdk::Filter {
    sdk::Filter::builder().name(name).values(value).build()
}

fn vpc_filter(vpc_id: &str) -> sdk::Filter {
    filter("vpc-id", vpc_id)
}

fn tag_filter((key, value): &(String, String)) -> sdk::Filter {
    filter(&format!("tag:{key}"), value)
}

fn all_converted<T>(op: Op, items: Vec<Result<T, ConversionError>>) -> Result<Vec<T>, Ec2Error> {
    items
        .into_iter()
        .collect::<Result<Vec<T>, ConversionError>>()
        .map_err(|e| unexpected(op, e.0))
}

fn non_empty(v: &[String]) -> Option<Vec<String>> {
    (!v.is_empty()).then(|| v.to_vec())
}

/// EC2 answers some mutations with `Return: false` instead of an error.
fn check_return(op: Op, returned: Option<bool>, request_id: Option<&str>) -> Result<(), Ec2Error> {
    match returned {
        Some(false) => Err(Ec2Error::new(
            ErrorKind::Invalid,
            op,
            "ReturnFalse",
            "EC2 answered Return=false without an error",
        )
        .with_request_id(request_id.map(str::to_string))),
        _ => Ok(()),
    }
}

fn receipt<T>(value: T, output: &impl RequestId) -> Receipt<T> {
    Receipt::new(value, output.request_id().map(str::to_string))
}

impl SdkEc2 {
    /// `MaxResults` within one API's allowed range.
    fn page(&self, min: i32, max: i32) -> i32 {
        self.page_size.clamp(min, max)
    }

    async fn vpc_attribute(
        &self,
        vpc_id: &str,
        name: sdk::VpcAttributeName,
    ) -> Result<Option<bool>, Ec2Error> {
        let out = self
            .client
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(name.clone())
            .send()
            .await
            .map_err(|e| errors::from_sdk(Op::DescribeVpcAttribute, e))?;
        let value = match name {
            sdk::VpcAttributeName::EnableDnsHostnames => out.enable_dns_hostnames(),
            _ => out.enable_dns_support(),
        };
        Ok(value.and_then(|v| v.value()))
    }

    /// Refuses unless each rule of `request` is a rule of its group and direction carrying every
    /// ownership tag with the same value: the last line of defence of "never revoke a rule we
    /// did not create". The values matter: another object's rules carry the same keys.
    async fn check_owned(&self, request: &RevokeOwnedRules) -> Result<(), Ec2Error> {
        let RevokeOwnedRules {
            group_id,
            egress,
            rule_ids,
            owner_tags,
        } = request;
        let refuse = |why: String| Err(not_owned(Op::revoke(*egress), why));
        if let Some(key) = unnamed_owner_tag(owner_tags) {
            return refuse(format!(
                "refusing to revoke rules of {group_id} without knowing whose they must be: \
                 the request names no {key} value"
            ));
        }
        let rules = every_page!(
            Op::DescribeSecurityGroupRules,
            self.client
                .describe_security_group_rules()
                .filters(filter("group-id", group_id))
                .set_security_group_rule_ids(Some(rule_ids.to_vec()))
                .into_paginator(),
            |page| page.security_group_rules().to_vec()
        );
        let direction = if *egress { "egress" } else { "ingress" };
        for id in rule_ids {
            let Some(rule) = rules
                .iter()
                .find(|r| r.security_group_rule_id() == Some(id.as_str()))
                .filter(|r| r.group_id() == Some(group_id.as_str()) && r.is_egress() == Some(*egress))
            else {
                return refuse(format!(
                    "refusing to revoke {id}: it is not an {direction} rule of {group_id}"
                ));
            };
            if let Some(differs) = differing_owner_tag(rule, owner_tags) {
                return refuse(format!(
                    "refusing to revoke {id} of {group_id}: {differs}; only rules this object \
                     created are revoked"
                ));
            }
        }
        Ok(())
    }

    /// The same last line of defence before a handover: every rule must exist (NotFound
    /// otherwise, as EC2 answers) and carry every ownership tag of the object handing it over
    /// with the same value, so that no object gives away a rule that is not its own.
    async fn check_retag_owned(&self, request: &RetagOwnedRules) -> Result<(), Ec2Error> {
        let RetagOwnedRules {
            rule_ids, owner_tags, ..
        } = request;
        let refuse = |why: String| Err(not_owned(Op::CreateTags, why));
        if let Some(key) = unnamed_owner_tag(owner_tags) {
            return refuse(format!(
                "refusing to hand rules over without knowing whose they must be: the request \
                 names no {key} value"
            ));
        }
        let rules = every_page!(
            Op::DescribeSecurityGroupRules,
            self.client
                .describe_security_group_rules()
                .set_security_group_rule_ids(Some(rule_ids.to_vec()))
                .into_paginator(),
            |page| page.security_group_rules().to_vec()
        );
        for id in rule_ids {
            let Some(rule) = rules
                .iter()
                .find(|r| r.security_group_rule_id() == Some(id.as_str()))
            else {
                return Err(Ec2Error::new(
                    ErrorKind::NotFound,
                    Op::CreateTags,
                    "InvalidSecurityGroupRuleId.NotFound",
                    format!("The security group rule ID '{id}' does not exist"),
                ));
            };
            if let Some(differs) = differing_owner_tag(rule, owner_tags) {
                return refuse(format!(
                    "refusing to hand {id} over: {differs}; only rules this object created are \
                     handed over"
                ));
            }
        }
        Ok(())
    }
}

fn not_owned(op: Op, why: String) -> Ec2Error {
    Ec2Error::new(ErrorKind::Invalid, op, RULE_NOT_OWNED, why)
}

/// The ownership tag key that `owner_tags` gives no value for, if any.
fn unnamed_owner_tag(owner_tags: &[Tag]) -> Option<&'static str> {
    [OWNER_TAG, UID_TAG]
        .into_iter()
        .find(|key| !owner_tags.iter().any(|t| t.key == *key && !t.value.is_empty()))
}

/// Which of `owner_tags` `rule` lacks or carries with another value, in words.
fn differing_owner_tag(rule: &sdk::SecurityGroupRule, owner_tags: &[Tag]) -> Option<String> {
    owner_tags.iter().find_map(|wanted| {
        let found = rule
            .tags()
            .iter()
            .find(|t| t.key() == Some(wanted.key.as_str()))
            .and_then(|t| t.value());
        match found {
            Some(v) if v == wanted.value => None,
            Some(v) => Some(format!("its {} tag is {v:?}, not {:?}", wanted.key, wanted.value)),
            None => Some(format!(
                "its {} tag is no such tag, not {:?}",
                wanted.key, wanted.value
            )),
        }
    })
}

fn ip_permission(rule: &NewRule) -> sdk::IpPermission {
    let mut permission = sdk::IpPermission::builder().ip_protocol(rule.protocol.as_aws());
    // Protocol -1 has no ports; EC2 rejects a port range with it.
    if rule.protocol != Protocol::All {
        permission = permission.from_port(rule.from_port).to_port(rule.to_port);
    }
    let description = (!rule.description.is_empty()).then(|| rule.description.clone());
    match &rule.peer {
        RulePeer::Group(group_id) => permission.user_id_group_pairs(
            sdk::UserIdGroupPair::builder()
                .group_id(group_id)
                .set_description(description)
                .build(),
        ),
        RulePeer::CidrIpv4(cidr) => permission.ip_ranges(
            sdk::IpRange::builder()
                .cidr_ip(cidr)
                .set_description(description)
                .build(),
        ),
        RulePeer::CidrIpv6(cidr) => permission.ipv6_ranges(
            sdk::Ipv6Range::builder()
                .cidr_ipv6(cidr)
                .set_description(description)
                .build(),
        ),
        RulePeer::PrefixList(id) => permission.prefix_list_ids(
            sdk::PrefixListId::builder()
                .prefix_list_id(id)
                .set_description(description)
                .build(),
        ),
    }
    .build()
}

fn tag_specification(
    resource: sdk::ResourceType,
    tags: &[crate::model::Tag],
) -> Option<sdk::TagSpecification> {
    (!tags.is_empty()).then(|| {
        sdk::TagSpecification::builder()
            .resource_type(resource)
            .set_tags(Some(convert::sdk_tags(tags)))
            .build()
    })
}

impl Ec2 for SdkEc2 {
    fn region(&self) -> Option<String> {
        self.client.config().region().map(|r| r.to_string())
    }

    async fn account(&self) -> Result<String, AccountUnknown> {
        self.account_id().await
    }

    async fn describe_vpcs(&self, vpc_ids: &[String]) -> Result<Vec<Vpc>, Ec2Error> {
        // By id, as EC2 and the simulated world both answer it: an unknown VPC is
        // InvalidVpcID.NotFound (observe_vpc reads that as "no VPC"). EC2 takes no MaxResults
        // together with ids; all of them fit in one answer.
        let ids = non_empty(vpc_ids);
        let page_size = ids.is_none().then(|| self.page(5, 1000));
        Ok(every_page!(
            Op::DescribeVpcs,
            self.client
                .describe_vpcs()
                .set_vpc_ids(ids)
                .set_max_results(page_size)
                .into_paginator(),
            |page| page.vpcs().iter().map(convert::vpc)
        ))
    }

    async fn describe_vpc_dns_attributes(&self, vpc_id: &str) -> Result<VpcDnsAttributes, Ec2Error> {
        let (support, hostnames) = futures::try_join!(
            self.vpc_attribute(vpc_id, sdk::VpcAttributeName::EnableDnsSupport),
            self.vpc_attribute(vpc_id, sdk::VpcAttributeName::EnableDnsHostnames),
        )?;
        Ok(VpcDnsAttributes {
            enable_dns_support: support.map(crate::model::AttributeBoolean),
            enable_dns_hostnames: hostnames.map(crate::model::AttributeBoolean),
        })
    }

    async fn describe_subnets(&self, vpc_id: &str) -> Result<Vec<Subnet>, Ec2Error> {
        Ok(every_page!(
            Op::DescribeSubnets,
            self.client
                .describe_subnets()
                .filters(vpc_filter(vpc_id))
                .max_results(self.page(5, 1000))
                .into_paginator(),
            |page| page.subnets().iter().map(convert::subnet)
        ))
    }

    async fn describe_security_groups(&self, vpc_id: &str) -> Result<Vec<SecurityGroup>, Ec2Error> {
        let op = Op::DescribeSecurityGroups;
        let groups = every_page!(
            op,
            self.client
                .describe_security_groups()
                .filters(vpc_filter(vpc_id))
                .max_results(self.page(5, 1000))
                .into_paginator(),
            |page| page.security_groups().iter().map(convert::security_group)
        );
        all_converted(op, groups)
    }

    async fn describe_security_group_rules(
        &self,
        rule_filter: &RuleFilter,
    ) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
        let op = Op::DescribeSecurityGroupRules;
        let mut filters = Vec::new();
        if let Some(ids) = non_empty(&rule_filter.group_ids) {
            filters.push(
                sdk::Filter::builder()
                    .name("group-id")
                    .set_values(Some(ids))
                    .build(),
            );
        }
        if let Some(tag) = &rule_filter.tag {
            filters.push(tag_filter(tag));
        }
        if let Some((key, values)) = &rule_filter.tag_any_of {
            filters.push(
                sdk::Filter::builder()
                    .name(format!("tag:{key}"))
                    .set_values(Some(values.clone()))
                    .build(),
            );
        }
        let rules = every_page!(
            op,
            self.client
                .describe_security_group_rules()
                .set_filters(Some(filters))
                .max_results(self.page(5, 1000))
                .into_paginator(),
            |page| page
                .security_group_rules()
                .iter()
                .map(convert::security_group_rule)
        );
        all_converted(op, rules)
    }

    async fn describe_network_interfaces(&self, vpc_id: &str) -> Result<Vec<NetworkInterface>, Ec2Error> {
        Ok(every_page!(
            Op::DescribeNetworkInterfaces,
            self.client
                .describe_network_interfaces()
                .filters(vpc_filter(vpc_id))
                .max_results(self.page(5, 1000))
                .into_paginator(),
            |page| page.network_interfaces().iter().map(convert::network_interface)
        ))
    }

    async fn describe_network_acls(&self, vpc_id: &str) -> Result<Vec<NetworkAcl>, Ec2Error> {
        let op = Op::DescribeNetworkAcls;
        let acls = every_page!(
            op,
            self.client
                .describe_network_acls()
                .filters(vpc_filter(vpc_id))
                .max_results(self.page(5, 100))
                .into_paginator(),
            |page| page.network_acls().iter().map(convert::network_acl)
        );
        all_converted(op, acls)
    }

    async fn describe_vpc_endpoints(
        &self,
        endpoint_filter: &EndpointFilter,
    ) -> Result<Vec<VpcEndpoint>, Ec2Error> {
        let op = Op::DescribeVpcEndpoints;
        let mut filters = Vec::new();
        if let Some(vpc_id) = &endpoint_filter.vpc_id {
            filters.push(vpc_filter(vpc_id));
        }
        if let Some(service) = &endpoint_filter.service_name {
            filters.push(filter("service-name", service));
        }
        if let Some(tag) = &endpoint_filter.tag {
            filters.push(tag_filter(tag));
        }
        let ids = &endpoint_filter.vpc_endpoint_ids;
        let result: Result<Vec<VpcEndpoint>, Ec2Error> = async {
            Ok(every_page!(
                op,
                self.client
                    .describe_vpc_endpoints()
                    .set_vpc_endpoint_ids(non_empty(ids))
                    .set_filters(Some(filters))
                    // Ids are answered in one page; some EC2 APIs reject MaxResults with ids.
                    .set_max_results(ids.is_empty().then(|| self.page(5, 1000)))
                    .into_paginator(),
                |page| page.vpc_endpoints().iter().map(convert::vpc_endpoint)
            ))
        }
        .await;
        result.map_err(|e| self.recent.reclassify(e, ids))
    }

    async fn describe_vpc_endpoint_services(
        &self,
        service_names: &[String],
        service_regions: &[String],
    ) -> Result<Vec<ServiceDetail>, Ec2Error> {
        let op = Op::DescribeVpcEndpointServices;
        let mut details = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_SERVICE_PAGES {
            let out = self
                .client
                .describe_vpc_endpoint_services()
                .set_service_names(non_empty(service_names))
                .set_service_regions(non_empty(service_regions))
                .max_results(self.page(5, 1000))
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| errors::from_sdk(op, e))?;
            details.extend(out.service_details().iter().map(convert::service_detail));
            match out.next_token() {
                Some(next) if !next.is_empty() && Some(next) != token.as_deref() => {
                    token = Some(next.to_string())
                }
                _ => return Ok(details),
            }
        }
        Err(unexpected(
            op,
            format!("more than {MAX_SERVICE_PAGES} pages of endpoint services"),
        ))
    }

    async fn describe_managed_prefix_lists(
        &self,
        prefix_list_ids: &[String],
    ) -> Result<Vec<PrefixList>, Ec2Error> {
        // A filter, not PrefixListIds: a list that is not visible (deleted, no longer shared)
        // is missing from the answer instead of failing the whole observation.
        let filters = non_empty(prefix_list_ids).map(|ids| {
            vec![
                sdk::Filter::builder()
                    .name("prefix-list-id")
                    .set_values(Some(ids))
                    .build(),
            ]
        });
        Ok(every_page!(
            Op::DescribeManagedPrefixLists,
            self.client
                .describe_managed_prefix_lists()
                .set_filters(filters)
                .max_results(self.page(1, 100))
                .into_paginator(),
            |page| page.prefix_lists().iter().map(convert::prefix_list)
        ))
    }

    async fn get_managed_prefix_list_entries(
        &self,
        prefix_list_id: &str,
    ) -> Result<Vec<PrefixListEntry>, Ec2Error> {
        Ok(every_page!(
            Op::GetManagedPrefixListEntries,
            self.client
                .get_managed_prefix_list_entries()
                .prefix_list_id(prefix_list_id)
                .max_results(self.page(1, 100))
                .into_paginator(),
            |page| page.entries().iter().map(convert::prefix_list_entry)
        ))
    }

    async fn describe_flow_logs(&self, log_group_name: &str) -> Result<Vec<FlowLog>, Ec2Error> {
        let filter = sdk::Filter::builder()
            .name("log-group-name")
            .values(log_group_name)
            .build();
        Ok(every_page!(
            Op::DescribeFlowLogs,
            self.client
                .describe_flow_logs()
                .filter(filter)
                .max_results(self.page(1, 1000))
                .into_paginator(),
            |page| page.flow_logs().iter().map(convert::flow_log)
        ))
    }

    async fn describe_route_tables(&self, vpc_id: &str) -> Result<Vec<RouteTable>, Ec2Error> {
        let filter = sdk::Filter::builder().name("vpc-id").values(vpc_id).build();
        Ok(every_page!(
            Op::DescribeRouteTables,
            self.client
                .describe_route_tables()
                .filters(filter)
                .max_results(self.page(5, 100))
                .into_paginator(),
            |page| page.route_tables().iter().map(convert::route_table)
        ))
    }

    async fn create_vpc_endpoint(
        &self,
        request: &CreateVpcEndpoint,
    ) -> Result<Receipt<VpcEndpoint>, Ec2Error> {
        let op = Op::CreateVpcEndpoint;
        let token = &request.client_token;
        if token.is_empty() || token.len() > CLIENT_TOKEN_MAX_LEN || !token.is_ascii() {
            return Err(Ec2Error::new(
                ErrorKind::Invalid,
                op,
                "InvalidClientToken",
                format!("ClientToken must be 1-{CLIENT_TOKEN_MAX_LEN} ASCII characters, got {token:?}"),
            ));
        }
        // The token makes the SDK's own retries, and the engine's retries after an ambiguous
        // timeout, return the endpoint the first attempt created instead of a second one.
        let out = self
            .client
            .create_vpc_endpoint()
            .vpc_endpoint_type(sdk::VpcEndpointType::Interface)
            .vpc_id(&request.vpc_id)
            .service_name(&request.service_name)
            .set_subnet_ids(Some(request.subnet_ids.clone()))
            .set_security_group_ids(Some(request.security_group_ids.clone()))
            .set_policy_document(request.policy_document.clone())
            .set_service_region(request.service_region.clone())
            .set_ip_address_type(request.ip_address_type.map(ip_address_type))
            .set_dns_options(dns_options(request.dns_record_ip_type, None))
            .set_subnet_configurations(subnet_configurations(&request.subnet_configurations))
            .private_dns_enabled(false)
            .client_token(token)
            .set_tag_specifications(
                tag_specification(sdk::ResourceType::VpcEndpoint, &request.tags).map(|t| vec![t]),
            )
            .send()
            .await
            .map_err(|e| errors::from_sdk(op, e))?;
        let endpoint = out.vpc_endpoint().map(convert::vpc_endpoint).ok_or_else(|| {
            unexpected(op, "CreateVpcEndpoint returned no endpoint")
                .with_request_id(out.request_id().map(str::to_string))
        })?;
        self.recent.record(&endpoint.vpc_endpoint_id);
        Ok(receipt(endpoint, &out))
    }

    async fn modify_vpc_endpoint(&self, request: &ModifyVpcEndpoint) -> Result<Receipt<()>, Ec2Error> {
        let op = Op::ModifyVpcEndpoint;
        let out = self
            .client
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&request.vpc_endpoint_id)
            .set_private_dns_enabled(request.private_dns_enabled)
            .set_add_subnet_ids(non_empty(&request.add_subnet_ids))
            .set_remove_subnet_ids(non_empty(&request.remove_subnet_ids))
            .set_add_security_group_ids(non_empty(&request.add_security_group_ids))
            .set_remove_security_group_ids(non_empty(&request.remove_security_group_ids))
            .set_policy_document(request.policy_document.clone())
            .set_reset_policy(request.reset_policy.then_some(true))
            .set_ip_address_type(request.ip_address_type.map(ip_address_type))
            .set_dns_options(dns_options(
                request.dns_record_ip_type,
                request.private_dns_only_for_inbound_resolver_endpoint,
            ))
            .set_subnet_configurations(subnet_configurations(&request.subnet_configurations))
            .send()
            .await
            .map_err(|e| {
                self.recent
                    .reclassify(errors::from_sdk(op, e), [&request.vpc_endpoint_id])
            })?;
        check_return(op, out.r#return(), out.request_id())?;
        Ok(receipt((), &out))
    }

    async fn delete_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
    ) -> Result<Receipt<BTreeMap<String, Ec2Error>>, Ec2Error> {
        let op = Op::DeleteVpcEndpoints;
        let out = self
            .client
            .delete_vpc_endpoints()
            .set_vpc_endpoint_ids(Some(vpc_endpoint_ids.to_vec()))
            .send()
            .await
            .map_err(|e| self.recent.reclassify(errors::from_sdk(op, e), vpc_endpoint_ids))?;
        // EC2 answers 200 and lists the endpoints it could not delete, each with its own error.
        let failed: BTreeMap<String, Ec2Error> = out
            .unsuccessful()
            .iter()
            .map(|item| {
                let id = item.resource_id().unwrap_or_default().to_string();
                let code = item.error().and_then(|e| e.code()).unwrap_or("Unknown");
                let message = item.error().and_then(|e| e.message()).unwrap_or_default();
                let err = Ec2Error::from_code(op, code, message)
                    .with_request_id(out.request_id().map(str::to_string));
                (id.clone(), self.recent.reclassify(err, [&id]))
            })
            .collect();
        // Deleted here: a NotFound for them from now on means gone, not "not yet visible".
        for id in vpc_endpoint_ids.iter().filter(|id| !failed.contains_key(*id)) {
            self.recent.forget(id);
        }
        Ok(receipt(failed, &out))
    }

    async fn authorize_security_group_rules(
        &self,
        request: &AuthorizeRules,
    ) -> Result<Receipt<Vec<SecurityGroupRule>>, Ec2Error> {
        let op = Op::authorize(request.egress);
        let permissions: Vec<sdk::IpPermission> = request.rules.iter().map(ip_permission).collect();
        let tags = tag_specification(sdk::ResourceType::SecurityGroupRule, &request.tags).map(|t| vec![t]);
        // The ingress and egress builders (and outputs) are distinct SDK types with the same
        // methods: one request, written once.
        macro_rules! authorize {
            ($builder:expr) => {{
                let out = $builder
                    .group_id(&request.group_id)
                    .set_ip_permissions(Some(permissions))
                    .set_tag_specifications(tags)
                    .send()
                    .await
                    .map_err(|e| errors::from_sdk(op, e))?;
                check_return(op, out.r#return(), out.request_id())?;
                let rules = out
                    .security_group_rules()
                    .iter()
                    .map(convert::security_group_rule)
                    .collect();
                receipt(rules, &out)
            }};
        }
        let answer = if request.egress {
            authorize!(self.client.authorize_security_group_egress())
        } else {
            authorize!(self.client.authorize_security_group_ingress())
        };
        let request_id = answer.request_id.clone();
        let rules = all_converted(op, answer.value).map_err(|e| e.with_request_id(request_id.clone()))?;
        Ok(Receipt::new(rules, request_id))
    }

    async fn revoke_security_group_rules(&self, request: &RevokeOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        if request.rule_ids.is_empty() {
            return Ok(Receipt::new((), None));
        }
        self.check_owned(request).await?;
        let op = Op::revoke(request.egress);
        let ids = Some(request.rule_ids.clone());
        // As for authorize: two SDK types, one request.
        macro_rules! revoke {
            ($builder:expr) => {{
                let out = $builder
                    .group_id(&request.group_id)
                    .set_security_group_rule_ids(ids)
                    .send()
                    .await
                    .map_err(|e| errors::from_sdk(op, e))?;
                check_return(op, out.r#return(), out.request_id())?;
                receipt((), &out)
            }};
        }
        Ok(if request.egress {
            revoke!(self.client.revoke_security_group_egress())
        } else {
            revoke!(self.client.revoke_security_group_ingress())
        })
    }

    async fn tag_security_group_rules(&self, request: &RetagOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        if request.rule_ids.is_empty() || request.tags.is_empty() {
            return Ok(Receipt::new((), None));
        }
        // The IAM policy allows this only on rules that carry both ownership tags already
        // (docs/iam.md, HandOverOnlyOwnedRules), whoever's: the values are checked here.
        self.check_retag_owned(request).await?;
        let out = self
            .client
            .create_tags()
            .set_resources(Some(request.rule_ids.clone()))
            .set_tags(Some(convert::sdk_tags(&request.tags)))
            .send()
            .await
            .map_err(|e| errors::from_sdk(Op::CreateTags, e))?;
        Ok(receipt((), &out))
    }

    async fn tag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        tags: &[Tag],
    ) -> Result<Receipt<()>, Ec2Error> {
        if vpc_endpoint_ids.is_empty() || tags.is_empty() {
            return Ok(Receipt::new((), None));
        }
        // The IAM policy allows this only with both ownership tags and no key but the
        // controller's (docs/iam.md, AdoptEndpointsByTaggingThem).
        let out = self
            .client
            .create_tags()
            .set_resources(Some(vpc_endpoint_ids.to_vec()))
            .set_tags(Some(convert::sdk_tags(tags)))
            .send()
            .await
            .map_err(|e| errors::from_sdk(Op::CreateTags, e))?;
        Ok(receipt((), &out))
    }

    async fn untag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        keys: &[String],
    ) -> Result<Receipt<()>, Ec2Error> {
        if vpc_endpoint_ids.is_empty() {
            return Ok(Receipt::new((), None));
        }
        // DeleteTags without tags deletes every tag of the resource, the ownership tags with
        // them: refused before it is sent, as is any key of the controller's own (the IAM
        // policy refuses both too: docs/iam.md, UntagOnlySpecTagsOfOwnedEndpoints).
        if keys.is_empty() {
            return Err(Ec2Error::new(
                ErrorKind::Invalid,
                Op::DeleteTags,
                "NoTagKeys",
                "refusing DeleteTags without tag keys: EC2 would delete every tag of the endpoint",
            ));
        }
        let reserved = format!("{}/", crate::api::GROUP);
        if let Some(key) = keys.iter().find(|k| k.starts_with(&reserved)) {
            return Err(Ec2Error::new(
                ErrorKind::Invalid,
                Op::DeleteTags,
                "ReservedTagKey",
                format!("refusing to delete {key}: the controller's own tags are never deleted"),
            ));
        }
        let tags = keys.iter().map(|k| sdk::Tag::builder().key(k).build()).collect();
        let out = self
            .client
            .delete_tags()
            .set_resources(Some(vpc_endpoint_ids.to_vec()))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| errors::from_sdk(Op::DeleteTags, e))?;
        Ok(receipt((), &out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_become_one_permission_each_with_their_description() {
        let rule = NewRule {
            protocol: Protocol::Tcp,
            from_port: 443,
            to_port: 443,
            peer: RulePeer::Group("sg-client".into()),
            description: "vpce-rollout: zabbix to logs".into(),
        };
        let p = ip_permission(&rule);
        assert_eq!(p.ip_protocol(), Some("tcp"));
        assert_eq!((p.from_port(), p.to_port()), (Some(443), Some(443)));
        assert_eq!(p.user_id_group_pairs()[0].group_id(), Some("sg-client"));
        assert_eq!(
            p.user_id_group_pairs()[0].description(),
            Some("vpce-rollout: zabbix to logs")
        );
    }

    #[test]
    fn all_protocol_rules_carry_no_ports_and_empty_descriptions_are_omitted() {
        let rule = NewRule {
            protocol: Protocol::All,
            from_port: 0,
            to_port: 65535,
            peer: RulePeer::CidrIpv4("10.0.0.0/16".into()),
            description: String::new(),
        };
        let p = ip_permission(&rule);
        assert_eq!(p.ip_protocol(), Some("-1"));
        assert_eq!((p.from_port(), p.to_port()), (None, None));
        assert_eq!(p.ip_ranges()[0].description(), None);
    }
}

/// `SubnetConfigurations`; `None` when empty (EC2 picks the addresses).
fn subnet_configurations(
    configs: &[crate::api::SubnetConfiguration],
) -> Option<Vec<sdk::SubnetConfiguration>> {
    (!configs.is_empty()).then(|| {
        configs
            .iter()
            .map(|c| {
                sdk::SubnetConfiguration::builder()
                    .subnet_id(&c.subnet_id)
                    .set_ipv4(c.ipv4.clone())
                    .set_ipv6(c.ipv6.clone())
                    .build()
            })
            .collect()
    })
}

/// `IpAddressType` as the SDK spells it.
fn ip_address_type(t: crate::api::IpAddressType) -> sdk::IpAddressType {
    sdk::IpAddressType::from(t.as_str())
}

/// `DnsOptions` with what is named set (the other options are left as they are); `None` when
/// nothing is.
fn dns_options(
    records: Option<crate::api::DnsRecordIpType>,
    inbound_only: Option<bool>,
) -> Option<sdk::DnsOptionsSpecification> {
    if records.is_none() && inbound_only.is_none() {
        return None;
    }
    Some(
        sdk::DnsOptionsSpecification::builder()
            .set_dns_record_ip_type(records.map(|r| sdk::DnsRecordIpType::from(r.as_str())))
            .set_private_dns_only_for_inbound_resolver_endpoint(inbound_only)
            .build(),
    )
}
