//! An [`Ec2`] port that counts every call by operation and outcome into [`Metrics`], around any
//! other port (the SDK adapter in production, the simulated world in tests).
//!
//! It sits at the port, not inside the SDK: the outcome counted is what the engine sees, after
//! the SDK's own retries, so a `throttled` outcome is a throttle the controller had to back off
//! from, not one the SDK absorbed.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::metrics::Metrics;
use crate::aws::{
    AccountAccessError, AccountUnknown, AssumeRole, AuthorizeRules, CreateVpcEndpoint, Ec2, Ec2Error,
    Ec2Operation, Ec2Provider, EndpointFilter, ModifyVpcEndpoint, ProviderError, Receipt, RetagOwnedRules,
    RevokeOwnedRules, RuleFilter,
};
use crate::model::{
    FlowLog, NetworkAcl, NetworkInterface, PrefixList, PrefixListEntry, RouteTable, SecurityGroup,
    SecurityGroupRule, ServiceDetail, Subnet, Tag, Vpc, VpcDnsAttributes, VpcEndpoint,
};

/// Wraps `inner`, recording each call's outcome in `metrics`.
#[derive(Debug)]
pub struct InstrumentedEc2<E> {
    inner: Arc<E>,
    metrics: Arc<Metrics>,
}

impl<E: Ec2> InstrumentedEc2<E> {
    pub fn new(inner: E, metrics: Arc<Metrics>) -> Self {
        Self::shared(Arc::new(inner), metrics)
    }

    /// Wraps a port that is shared already (as [`Ec2Provider`] hands them out).
    pub fn shared(inner: Arc<E>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    pub fn inner(&self) -> &E {
        &self.inner
    }

    fn record<T>(&self, operation: Ec2Operation, result: Result<T, Ec2Error>) -> Result<T, Ec2Error> {
        self.metrics
            .observe_ec2_call(operation, result.as_ref().err().map(|e| e.kind));
        result
    }
}

impl<E: Ec2> Ec2 for InstrumentedEc2<E> {
    fn region(&self) -> Option<String> {
        self.inner.region()
    }

    /// Not an EC2 call (STS, once per port): not counted.
    async fn account(&self) -> Result<String, AccountUnknown> {
        self.inner.account().await
    }

    async fn describe_vpcs(&self, vpc_ids: &[String]) -> Result<Vec<Vpc>, Ec2Error> {
        let r = self.inner.describe_vpcs(vpc_ids).await;
        self.record(Ec2Operation::DescribeVpcs, r)
    }

    /// The port makes two DescribeVpcAttribute requests here (one per attribute). A success
    /// counts two successful calls; a failure counts one failed call (the port does not say
    /// whether the other request was made).
    async fn describe_vpc_dns_attributes(&self, vpc_id: &str) -> Result<VpcDnsAttributes, Ec2Error> {
        let r = self.inner.describe_vpc_dns_attributes(vpc_id).await;
        if r.is_ok() {
            self.metrics
                .observe_ec2_call(Ec2Operation::DescribeVpcAttribute, None);
        }
        self.record(Ec2Operation::DescribeVpcAttribute, r)
    }

    async fn describe_subnets(&self, vpc_id: &str) -> Result<Vec<Subnet>, Ec2Error> {
        let r = self.inner.describe_subnets(vpc_id).await;
        self.record(Ec2Operation::DescribeSubnets, r)
    }

    async fn describe_security_groups(&self, vpc_id: &str) -> Result<Vec<SecurityGroup>, Ec2Error> {
        let r = self.inner.describe_security_groups(vpc_id).await;
        self.record(Ec2Operation::DescribeSecurityGroups, r)
    }

    async fn describe_security_group_rules(
        &self,
        filter: &RuleFilter,
    ) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
        let r = self.inner.describe_security_group_rules(filter).await;
        self.record(Ec2Operation::DescribeSecurityGroupRules, r)
    }

    async fn describe_network_interfaces(&self, vpc_id: &str) -> Result<Vec<NetworkInterface>, Ec2Error> {
        let r = self.inner.describe_network_interfaces(vpc_id).await;
        self.record(Ec2Operation::DescribeNetworkInterfaces, r)
    }

    async fn describe_network_acls(&self, vpc_id: &str) -> Result<Vec<NetworkAcl>, Ec2Error> {
        let r = self.inner.describe_network_acls(vpc_id).await;
        self.record(Ec2Operation::DescribeNetworkAcls, r)
    }

    async fn describe_vpc_endpoints(&self, filter: &EndpointFilter) -> Result<Vec<VpcEndpoint>, Ec2Error> {
        let r = self.inner.describe_vpc_endpoints(filter).await;
        self.record(Ec2Operation::DescribeVpcEndpoints, r)
    }

    async fn describe_vpc_endpoint_services(
        &self,
        service_names: &[String],
        service_regions: &[String],
    ) -> Result<Vec<ServiceDetail>, Ec2Error> {
        let r = self
            .inner
            .describe_vpc_endpoint_services(service_names, service_regions)
            .await;
        self.record(Ec2Operation::DescribeVpcEndpointServices, r)
    }

    async fn describe_managed_prefix_lists(
        &self,
        prefix_list_ids: &[String],
    ) -> Result<Vec<PrefixList>, Ec2Error> {
        let r = self.inner.describe_managed_prefix_lists(prefix_list_ids).await;
        self.record(Ec2Operation::DescribeManagedPrefixLists, r)
    }

    async fn get_managed_prefix_list_entries(
        &self,
        prefix_list_id: &str,
    ) -> Result<Vec<PrefixListEntry>, Ec2Error> {
        let r = self.inner.get_managed_prefix_list_entries(prefix_list_id).await;
        self.record(Ec2Operation::GetManagedPrefixListEntries, r)
    }

    async fn describe_flow_logs(&self, log_group_name: &str) -> Result<Vec<FlowLog>, Ec2Error> {
        let r = self.inner.describe_flow_logs(log_group_name).await;
        self.record(Ec2Operation::DescribeFlowLogs, r)
    }

    async fn describe_route_tables(&self, vpc_id: &str) -> Result<Vec<RouteTable>, Ec2Error> {
        let r = self.inner.describe_route_tables(vpc_id).await;
        self.record(Ec2Operation::DescribeRouteTables, r)
    }

    async fn create_vpc_endpoint(
        &self,
        request: &CreateVpcEndpoint,
    ) -> Result<Receipt<VpcEndpoint>, Ec2Error> {
        let r = self.inner.create_vpc_endpoint(request).await;
        self.record(Ec2Operation::CreateVpcEndpoint, r)
    }

    async fn modify_vpc_endpoint(&self, request: &ModifyVpcEndpoint) -> Result<Receipt<()>, Ec2Error> {
        let r = self.inner.modify_vpc_endpoint(request).await;
        self.record(Ec2Operation::ModifyVpcEndpoint, r)
    }

    /// EC2 answers DeleteVpcEndpoints with per-endpoint failures inside a successful response;
    /// such a call is counted with the first failure's kind, since it did not do what it was
    /// asked.
    async fn delete_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
    ) -> Result<Receipt<BTreeMap<String, Ec2Error>>, Ec2Error> {
        let r = self.inner.delete_vpc_endpoints(vpc_endpoint_ids).await;
        let outcome = match &r {
            Ok(failures) => failures.value.values().next().map(|e| e.kind),
            Err(e) => Some(e.kind),
        };
        self.metrics
            .observe_ec2_call(Ec2Operation::DeleteVpcEndpoints, outcome);
        r
    }

    async fn authorize_security_group_rules(
        &self,
        request: &AuthorizeRules,
    ) -> Result<Receipt<Vec<SecurityGroupRule>>, Ec2Error> {
        let r = self.inner.authorize_security_group_rules(request).await;
        self.record(Ec2Operation::authorize(request.egress), r)
    }

    async fn revoke_security_group_rules(&self, request: &RevokeOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        let r = self.inner.revoke_security_group_rules(request).await;
        self.record(Ec2Operation::revoke(request.egress), r)
    }

    async fn tag_security_group_rules(&self, request: &RetagOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        let r = self.inner.tag_security_group_rules(request).await;
        self.record(Ec2Operation::CreateTags, r)
    }

    async fn tag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        tags: &[Tag],
    ) -> Result<Receipt<()>, Ec2Error> {
        let r = self.inner.tag_vpc_endpoints(vpc_endpoint_ids, tags).await;
        self.record(Ec2Operation::CreateTags, r)
    }

    async fn untag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        keys: &[String],
    ) -> Result<Receipt<()>, Ec2Error> {
        let r = self.inner.untag_vpc_endpoints(vpc_endpoint_ids, keys).await;
        self.record(Ec2Operation::DeleteTags, r)
    }
}

/// An [`Ec2Provider`] whose ports are instrumented: what the controller is wired with.
#[derive(Debug)]
pub struct InstrumentedProvider<P> {
    inner: P,
    metrics: Arc<Metrics>,
}

impl<P: Ec2Provider> InstrumentedProvider<P> {
    pub fn new(inner: P, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

impl<P: Ec2Provider> Ec2Provider for InstrumentedProvider<P> {
    type Client = InstrumentedEc2<P::Client>;

    async fn client(&self, region: Option<&str>) -> Result<Arc<Self::Client>, ProviderError> {
        let inner = self.inner.client(region).await?;
        Ok(Arc::new(InstrumentedEc2::shared(inner, self.metrics.clone())))
    }

    async fn client_as(
        &self,
        region: Option<&str>,
        role: &AssumeRole,
    ) -> Result<Arc<Self::Client>, AccountAccessError> {
        let inner = self.inner.client_as(region, role).await?;
        Ok(Arc::new(InstrumentedEc2::shared(inner, self.metrics.clone())))
    }

    fn default_region(&self) -> Option<String> {
        self.inner.default_region()
    }
}

/// The CloudWatch Logs ports, passed through (the EC2 metrics count EC2 calls only).
impl<P: Ec2Provider + crate::logs::LogsProvider> crate::logs::LogsProvider for InstrumentedProvider<P> {
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
    use crate::aws::ErrorKind;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// A port that answers empty results, or the error configured for an operation.
    #[derive(Default)]
    struct FakeEc2 {
        failures: Mutex<HashMap<Ec2Operation, ErrorKind>>,
        delete_item_failure: Option<ErrorKind>,
    }

    impl FakeEc2 {
        fn failing(op: Ec2Operation, kind: ErrorKind) -> Self {
            let fake = Self::default();
            fake.failures.lock().unwrap().insert(op, kind);
            fake
        }

        fn answer<T: Default>(&self, op: Ec2Operation) -> Result<T, Ec2Error> {
            match self.failures.lock().unwrap().get(&op) {
                Some(kind) => Err(Ec2Error::new(*kind, op, "FakeCode", "configured failure")),
                None => Ok(T::default()),
            }
        }

        fn receipt<T: Default>(&self, op: Ec2Operation) -> Result<Receipt<T>, Ec2Error> {
            self.answer(op)
                .map(|value| Receipt::new(value, Some(format!("fake-{op}"))))
        }
    }

    impl Ec2 for FakeEc2 {
        fn region(&self) -> Option<String> {
            None
        }
        async fn account(&self) -> Result<String, AccountUnknown> {
            Ok("000000000000".into())
        }
        async fn describe_vpcs(&self, _: &[String]) -> Result<Vec<Vpc>, Ec2Error> {
            self.answer(Ec2Operation::DescribeVpcs)
        }
        async fn describe_vpc_dns_attributes(&self, _: &str) -> Result<VpcDnsAttributes, Ec2Error> {
            self.answer(Ec2Operation::DescribeVpcAttribute)
        }
        async fn describe_subnets(&self, _: &str) -> Result<Vec<Subnet>, Ec2Error> {
            self.answer(Ec2Operation::DescribeSubnets)
        }
        async fn describe_security_groups(&self, _: &str) -> Result<Vec<SecurityGroup>, Ec2Error> {
            self.answer(Ec2Operation::DescribeSecurityGroups)
        }
        async fn describe_security_group_rules(
            &self,
            _: &RuleFilter,
        ) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
            self.answer(Ec2Operation::DescribeSecurityGroupRules)
        }
        async fn describe_network_interfaces(&self, _: &str) -> Result<Vec<NetworkInterface>, Ec2Error> {
            self.answer(Ec2Operation::DescribeNetworkInterfaces)
        }
        async fn describe_network_acls(&self, _: &str) -> Result<Vec<NetworkAcl>, Ec2Error> {
            self.answer(Ec2Operation::DescribeNetworkAcls)
        }
        async fn describe_vpc_endpoints(&self, _: &EndpointFilter) -> Result<Vec<VpcEndpoint>, Ec2Error> {
            self.answer(Ec2Operation::DescribeVpcEndpoints)
        }
        async fn describe_vpc_endpoint_services(
            &self,
            _: &[String],
            _: &[String],
        ) -> Result<Vec<ServiceDetail>, Ec2Error> {
            self.answer(Ec2Operation::DescribeVpcEndpointServices)
        }
        async fn describe_managed_prefix_lists(&self, _: &[String]) -> Result<Vec<PrefixList>, Ec2Error> {
            self.answer(Ec2Operation::DescribeManagedPrefixLists)
        }
        async fn get_managed_prefix_list_entries(&self, _: &str) -> Result<Vec<PrefixListEntry>, Ec2Error> {
            self.answer(Ec2Operation::GetManagedPrefixListEntries)
        }
        async fn describe_flow_logs(&self, _: &str) -> Result<Vec<FlowLog>, Ec2Error> {
            self.answer(Ec2Operation::DescribeFlowLogs)
        }
        async fn describe_route_tables(&self, _: &str) -> Result<Vec<RouteTable>, Ec2Error> {
            self.answer(Ec2Operation::DescribeRouteTables)
        }
        async fn create_vpc_endpoint(&self, _: &CreateVpcEndpoint) -> Result<Receipt<VpcEndpoint>, Ec2Error> {
            self.receipt(Ec2Operation::CreateVpcEndpoint)
        }
        async fn modify_vpc_endpoint(&self, _: &ModifyVpcEndpoint) -> Result<Receipt<()>, Ec2Error> {
            self.receipt(Ec2Operation::ModifyVpcEndpoint)
        }
        async fn delete_vpc_endpoints(
            &self,
            ids: &[String],
        ) -> Result<Receipt<BTreeMap<String, Ec2Error>>, Ec2Error> {
            let receipt = self.receipt::<()>(Ec2Operation::DeleteVpcEndpoints)?;
            Ok(receipt.map(|()| {
                ids.iter()
                    .filter_map(|id| {
                        let kind = self.delete_item_failure?;
                        Some((
                            id.clone(),
                            Ec2Error::new(kind, Ec2Operation::DeleteVpcEndpoints, "X", "item"),
                        ))
                    })
                    .collect()
            }))
        }
        async fn authorize_security_group_rules(
            &self,
            r: &AuthorizeRules,
        ) -> Result<Receipt<Vec<SecurityGroupRule>>, Ec2Error> {
            self.receipt(Ec2Operation::authorize(r.egress))
        }
        async fn revoke_security_group_rules(&self, r: &RevokeOwnedRules) -> Result<Receipt<()>, Ec2Error> {
            self.receipt(Ec2Operation::revoke(r.egress))
        }
        async fn tag_security_group_rules(&self, _: &RetagOwnedRules) -> Result<Receipt<()>, Ec2Error> {
            self.receipt(Ec2Operation::CreateTags)
        }

        async fn tag_vpc_endpoints(&self, _: &[String], _: &[Tag]) -> Result<Receipt<()>, Ec2Error> {
            self.receipt(Ec2Operation::CreateTags)
        }

        async fn untag_vpc_endpoints(&self, _: &[String], _: &[String]) -> Result<Receipt<()>, Ec2Error> {
            self.receipt(Ec2Operation::DeleteTags)
        }
    }

    fn calls(metrics: &Metrics, op: &str, outcome: &str) -> u64 {
        let prefix = format!("vpce_rollout_ec2_calls_total{{operation=\"{op}\",outcome=\"{outcome}\"}} ");
        metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no series for {op}/{outcome}"))
            .parse()
            .unwrap()
    }

    #[tokio::test]
    async fn successful_calls_are_counted_as_ok_under_their_operation() {
        let metrics = Arc::new(Metrics::new());
        let ec2 = InstrumentedEc2::new(FakeEc2::default(), metrics.clone());
        ec2.describe_network_interfaces("vpc-1").await.unwrap();
        ec2.describe_network_interfaces("vpc-1").await.unwrap();
        ec2.describe_vpc_dns_attributes("vpc-1").await.unwrap();
        let ingress = AuthorizeRules {
            group_id: "sg-1".into(),
            egress: false,
            rules: vec![],
            tags: vec![],
        };
        let authorized = ec2.authorize_security_group_rules(&ingress).await.unwrap();
        assert_eq!(
            authorized.request_id.as_deref(),
            Some("fake-AuthorizeSecurityGroupIngress"),
            "the request id passes through"
        );
        let egress = RevokeOwnedRules {
            group_id: "sg-1".into(),
            egress: true,
            rule_ids: vec![],
            owner_tags: vec![],
        };
        ec2.revoke_security_group_rules(&egress).await.unwrap();
        assert_eq!(calls(&metrics, "DescribeNetworkInterfaces", "ok"), 2);
        assert_eq!(
            calls(&metrics, "DescribeVpcAttribute", "ok"),
            2,
            "one request per DNS attribute"
        );
        assert_eq!(calls(&metrics, "AuthorizeSecurityGroupIngress", "ok"), 1);
        assert_eq!(calls(&metrics, "AuthorizeSecurityGroupEgress", "ok"), 0);
        assert_eq!(calls(&metrics, "RevokeSecurityGroupEgress", "ok"), 1);
    }

    #[tokio::test]
    async fn a_throttled_call_is_counted_as_throttled_and_the_error_passes_through() {
        let metrics = Arc::new(Metrics::new());
        let ec2 = InstrumentedEc2::new(
            FakeEc2::failing(Ec2Operation::DescribeSecurityGroups, ErrorKind::Throttled),
            metrics.clone(),
        );
        let err = ec2.describe_security_groups("vpc-1").await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Throttled);
        assert_eq!(err.operation, Ec2Operation::DescribeSecurityGroups);
        assert_eq!(calls(&metrics, "DescribeSecurityGroups", "Throttled"), 1);
        assert_eq!(calls(&metrics, "DescribeSecurityGroups", "ok"), 0);
    }

    #[tokio::test]
    async fn counts_over_the_simulated_world_match_its_own_call_record() {
        use crate::aws::sim::{CallOutcome, SimClock, SimEc2};
        let sim = SimEc2::new(&crate::model::Snapshot::default(), SimClock::new());
        sim.inject_error(
            Ec2Operation::DescribeSubnets,
            "RequestLimitExceeded",
            "Request limit exceeded.",
            1,
        );
        let metrics = Arc::new(Metrics::new());
        let ec2 = InstrumentedEc2::new(sim, metrics.clone());
        assert!(ec2.describe_subnets("vpc-0a1b2c3d").await.is_err());
        let _ = ec2.describe_subnets("vpc-0a1b2c3d").await;
        let _ = ec2.describe_network_acls("vpc-0a1b2c3d").await;

        let records = ec2.inner().calls();
        let count = |op: Ec2Operation, outcome: &str| {
            records
                .iter()
                .filter(|r| r.operation == op)
                .filter(|r| match &r.outcome {
                    CallOutcome::Ok => outcome == "ok",
                    CallOutcome::Failed { kind, .. } | CallOutcome::AnswerLost { kind, .. } => {
                        kind.as_str() == outcome
                    }
                })
                .count() as u64
        };
        for (op, outcome) in [
            (Ec2Operation::DescribeSubnets, "Throttled"),
            (Ec2Operation::DescribeSubnets, "ok"),
            (Ec2Operation::DescribeNetworkAcls, "ok"),
        ] {
            assert_eq!(
                calls(&metrics, op.as_str(), outcome),
                count(op, outcome),
                "{op} {outcome}"
            );
        }
        assert_eq!(calls(&metrics, "DescribeSubnets", "Throttled"), 1);
    }

    struct FakeProvider;

    impl Ec2Provider for FakeProvider {
        type Client = FakeEc2;
        async fn client(&self, region: Option<&str>) -> Result<Arc<FakeEc2>, ProviderError> {
            match region {
                Some("nowhere-1") => Err(ProviderError("no such region".into())),
                _ => Ok(Arc::new(FakeEc2::default())),
            }
        }
        async fn client_as(
            &self,
            region: Option<&str>,
            _: &AssumeRole,
        ) -> Result<Arc<FakeEc2>, AccountAccessError> {
            Ok(self.client(region).await?)
        }
    }

    #[tokio::test]
    async fn ports_from_an_instrumented_provider_count_their_calls() {
        let metrics = Arc::new(Metrics::new());
        let provider = InstrumentedProvider::new(FakeProvider, metrics.clone());
        let ec2 = provider.client(Some("ap-northeast-1")).await.unwrap();
        ec2.describe_subnets("vpc-1").await.unwrap();
        assert_eq!(calls(&metrics, "DescribeSubnets", "ok"), 1);
        assert!(provider.client(Some("nowhere-1")).await.is_err());
    }

    #[tokio::test]
    async fn a_delete_with_per_endpoint_failures_is_counted_with_the_failure_kind() {
        let metrics = Arc::new(Metrics::new());
        let fake = FakeEc2 {
            delete_item_failure: Some(ErrorKind::NotFound),
            ..FakeEc2::default()
        };
        let ec2 = InstrumentedEc2::new(fake, metrics.clone());
        let failures = ec2.delete_vpc_endpoints(&["vpce-1".into()]).await.unwrap().value;
        assert_eq!(
            failures.len(),
            1,
            "per-item failures are passed through untouched"
        );
        assert_eq!(calls(&metrics, "DeleteVpcEndpoints", "NotFound"), 1);
        assert_eq!(calls(&metrics, "DeleteVpcEndpoints", "ok"), 0);
    }
}
