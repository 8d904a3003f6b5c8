//! An EC2 port that, under `--observe-only`, changes nothing: describe calls go to the port it
//! wraps, every mutation is refused before it leaves the process.
//!
//! The controller always runs on it. The decision already plans no change under
//! `--observe-only` (`plan::observe_only`); this is the second guard, at the edge, so that no
//! bug in a decision can make one: a refused call fails with `InvalidRequest`, code
//! `ObserveOnly`, and nothing is sent. Without the flag it passes every call through.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    AccountAccessError, AccountUnknown, AssumeRole, AuthorizeRules, CreateVpcEndpoint, Ec2, Ec2Error,
    Ec2Operation, Ec2Provider, EndpointFilter, ErrorKind, ModifyVpcEndpoint, ProviderError, Receipt,
    RetagOwnedRules, RevokeOwnedRules, RuleFilter,
};
use crate::model::{
    FlowLog, NetworkAcl, NetworkInterface, PrefixList, PrefixListEntry, RouteTable, SecurityGroup,
    SecurityGroupRule, ServiceDetail, Subnet, Tag, Vpc, VpcDnsAttributes, VpcEndpoint,
};

/// The error code of a mutation refused under `--observe-only`.
pub const REFUSED_CODE: &str = "ObserveOnly";

/// Wraps `inner`, passing reads through, and mutations too unless `refuse_mutations`.
#[derive(Debug)]
pub struct MutationGuard<E> {
    inner: Arc<E>,
    refuse_mutations: bool,
}

impl<E> MutationGuard<E> {
    pub fn new(inner: Arc<E>, refuse_mutations: bool) -> Self {
        Self {
            inner,
            refuse_mutations,
        }
    }

    /// `Err` (nothing sent) when mutations are refused.
    fn allow(&self, operation: Ec2Operation) -> Result<(), Ec2Error> {
        if self.refuse_mutations {
            return Err(Ec2Error::new(
                ErrorKind::Invalid,
                operation,
                REFUSED_CODE,
                format!("the controller runs with --observe-only: {operation} was not sent"),
            ));
        }
        Ok(())
    }
}

impl<E: Ec2> Ec2 for MutationGuard<E> {
    fn region(&self) -> Option<String> {
        self.inner.region()
    }

    async fn account(&self) -> Result<String, AccountUnknown> {
        self.inner.account().await
    }

    async fn describe_vpcs(&self, vpc_ids: &[String]) -> Result<Vec<Vpc>, Ec2Error> {
        self.inner.describe_vpcs(vpc_ids).await
    }

    async fn describe_vpc_dns_attributes(&self, vpc_id: &str) -> Result<VpcDnsAttributes, Ec2Error> {
        self.inner.describe_vpc_dns_attributes(vpc_id).await
    }

    async fn describe_subnets(&self, vpc_id: &str) -> Result<Vec<Subnet>, Ec2Error> {
        self.inner.describe_subnets(vpc_id).await
    }

    async fn describe_security_groups(&self, vpc_id: &str) -> Result<Vec<SecurityGroup>, Ec2Error> {
        self.inner.describe_security_groups(vpc_id).await
    }

    async fn describe_security_group_rules(
        &self,
        filter: &RuleFilter,
    ) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
        self.inner.describe_security_group_rules(filter).await
    }

    async fn describe_network_interfaces(&self, vpc_id: &str) -> Result<Vec<NetworkInterface>, Ec2Error> {
        self.inner.describe_network_interfaces(vpc_id).await
    }

    async fn describe_network_acls(&self, vpc_id: &str) -> Result<Vec<NetworkAcl>, Ec2Error> {
        self.inner.describe_network_acls(vpc_id).await
    }

    async fn describe_vpc_endpoints(&self, filter: &EndpointFilter) -> Result<Vec<VpcEndpoint>, Ec2Error> {
        self.inner.describe_vpc_endpoints(filter).await
    }

    async fn describe_vpc_endpoint_services(
        &self,
        service_names: &[String],
        service_regions: &[String],
    ) -> Result<Vec<ServiceDetail>, Ec2Error> {
        self.inner
            .describe_vpc_endpoint_services(service_names, service_regions)
            .await
    }

    async fn describe_managed_prefix_lists(
        &self,
        prefix_list_ids: &[String],
    ) -> Result<Vec<PrefixList>, Ec2Error> {
        self.inner.describe_managed_prefix_lists(prefix_list_ids).await
    }

    async fn get_managed_prefix_list_entries(
        &self,
        prefix_list_id: &str,
    ) -> Result<Vec<PrefixListEntry>, Ec2Error> {
        self.inner.get_managed_prefix_list_entries(prefix_list_id).await
    }

    async fn describe_flow_logs(&self, log_group_name: &str) -> Result<Vec<FlowLog>, Ec2Error> {
        self.inner.describe_flow_logs(log_group_name).await
    }

    async fn describe_route_tables(&self, vpc_id: &str) -> Result<Vec<RouteTable>, Ec2Error> {
        self.inner.describe_route_tables(vpc_id).await
    }

    async fn create_vpc_endpoint(
        &self,
        request: &CreateVpcEndpoint,
    ) -> Result<Receipt<VpcEndpoint>, Ec2Error> {
        self.allow(Ec2Operation::CreateVpcEndpoint)?;
        self.inner.create_vpc_endpoint(request).await
    }

    async fn modify_vpc_endpoint(&self, request: &ModifyVpcEndpoint) -> Result<Receipt<()>, Ec2Error> {
        self.allow(Ec2Operation::ModifyVpcEndpoint)?;
        self.inner.modify_vpc_endpoint(request).await
    }

    async fn delete_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
    ) -> Result<Receipt<BTreeMap<String, Ec2Error>>, Ec2Error> {
        self.allow(Ec2Operation::DeleteVpcEndpoints)?;
        self.inner.delete_vpc_endpoints(vpc_endpoint_ids).await
    }

    async fn authorize_security_group_rules(
        &self,
        request: &AuthorizeRules,
    ) -> Result<Receipt<Vec<SecurityGroupRule>>, Ec2Error> {
        self.allow(Ec2Operation::authorize(request.egress))?;
        self.inner.authorize_security_group_rules(request).await
    }

    async fn revoke_security_group_rules(&self, request: &RevokeOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        self.allow(Ec2Operation::revoke(request.egress))?;
        self.inner.revoke_security_group_rules(request).await
    }

    async fn tag_security_group_rules(&self, request: &RetagOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        self.allow(Ec2Operation::CreateTags)?;
        self.inner.tag_security_group_rules(request).await
    }

    async fn tag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        tags: &[Tag],
    ) -> Result<Receipt<()>, Ec2Error> {
        self.allow(Ec2Operation::CreateTags)?;
        self.inner.tag_vpc_endpoints(vpc_endpoint_ids, tags).await
    }

    async fn untag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        keys: &[String],
    ) -> Result<Receipt<()>, Ec2Error> {
        self.allow(Ec2Operation::DeleteTags)?;
        self.inner.untag_vpc_endpoints(vpc_endpoint_ids, keys).await
    }
}

/// An [`Ec2Provider`] whose ports are guarded: what the controller is wired with.
#[derive(Debug)]
pub struct GuardedProvider<P> {
    inner: P,
    refuse_mutations: bool,
}

impl<P: Ec2Provider> GuardedProvider<P> {
    /// `refuse_mutations`: `--observe-only`.
    pub fn new(inner: P, refuse_mutations: bool) -> Self {
        Self {
            inner,
            refuse_mutations,
        }
    }
}

impl<P: Ec2Provider> Ec2Provider for GuardedProvider<P> {
    type Client = MutationGuard<P::Client>;

    async fn client(&self, region: Option<&str>) -> Result<Arc<Self::Client>, ProviderError> {
        let inner = self.inner.client(region).await?;
        Ok(Arc::new(MutationGuard::new(inner, self.refuse_mutations)))
    }

    async fn client_as(
        &self,
        region: Option<&str>,
        role: &AssumeRole,
    ) -> Result<Arc<Self::Client>, AccountAccessError> {
        let inner = self.inner.client_as(region, role).await?;
        Ok(Arc::new(MutationGuard::new(inner, self.refuse_mutations)))
    }

    fn default_region(&self) -> Option<String> {
        self.inner.default_region()
    }
}

/// Reading logs changes nothing: the guard passes the CloudWatch Logs ports through.
impl<P: Ec2Provider + crate::logs::LogsProvider> crate::logs::LogsProvider for GuardedProvider<P> {
    type Logs = P::Logs;

    async fn logs(&self, region: Option<&str>) -> Result<Arc<P::Logs>, ProviderError> {
        self.inner.logs(region).await
    }

    async fn logs_as(
        &self,
        region: Option<&str>,
        role: &AssumeRole,
    ) -> Result<Arc<P::Logs>, AccountAccessError> {
        self.inner.logs_as(region, role).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RemediationMode;
    use crate::aws::sim::{SimClock, SimEc2};
    use crate::aws::{NewRule, RulePeer};
    use crate::engine::incident;
    use crate::model::Protocol;

    #[tokio::test]
    async fn under_observe_only_reads_pass_and_no_mutation_reaches_the_port_it_wraps() {
        let sim = Arc::new(SimEc2::new(&incident::world(), SimClock::new()));
        let port = MutationGuard::new(sim.clone(), true);
        let subnets = port.describe_subnets(incident::VPC).await.unwrap();
        assert_eq!(subnets.len(), sim.snapshot().subnets.len());

        let create = crate::plan::endpoint::create_request(
            &incident::spec(RemediationMode::Auto),
            &incident::owner(),
            None,
            0,
        );
        let refusal = port.create_vpc_endpoint(&create).await.expect_err("refused");
        assert_eq!(
            (refusal.kind, refusal.code.as_str()),
            (ErrorKind::Invalid, REFUSED_CODE)
        );
        assert!(refusal.message.contains("--observe-only"), "{refusal}");
        let modify = ModifyVpcEndpoint {
            vpc_endpoint_id: "vpce-0123456789abcdef0".into(),
            private_dns_enabled: Some(true),
            ..Default::default()
        };
        assert!(port.modify_vpc_endpoint(&modify).await.is_err());
        assert!(
            port.delete_vpc_endpoints(&["vpce-0123456789abcdef0".into()])
                .await
                .is_err()
        );
        let authorize = AuthorizeRules {
            group_id: incident::SG_ENDPOINT.into(),
            egress: false,
            rules: vec![NewRule {
                protocol: Protocol::Tcp,
                from_port: 443,
                to_port: 443,
                peer: RulePeer::Group(incident::SG_ZABBIX.into()),
                description: "refused".into(),
            }],
            tags: Vec::new(),
        };
        assert!(port.authorize_security_group_rules(&authorize).await.is_err());
        let revoke = RevokeOwnedRules {
            group_id: incident::SG_ENDPOINT.into(),
            egress: false,
            rule_ids: vec!["sgr-0123456789abcdef0".into()],
            owner_tags: Vec::new(),
        };
        assert!(port.revoke_security_group_rules(&revoke).await.is_err());
        let retag = RetagOwnedRules {
            rule_ids: vec!["sgr-0123456789abcdef0".into()],
            owner_tags: Vec::new(),
            tags: Vec::new(),
        };
        assert!(port.tag_security_group_rules(&retag).await.is_err());
        let endpoints = ["vpce-0123456789abcdef0".to_string()];
        assert!(port.tag_vpc_endpoints(&endpoints, &[]).await.is_err());
        assert!(sim.mutations().is_empty(), "{:?}", sim.mutations());

        let acting = MutationGuard::new(sim.clone(), false);
        acting.create_vpc_endpoint(&create).await.expect("passed through");
        assert_eq!(sim.mutations().len(), 1);
    }
}
