//! The simulated EC2 world: an in-memory implementation of the [`Ec2`] port with the AWS
//! behaviour the engine relies on, on virtual time.
//!
//! Used by unit and contract tests, benchmarks and `vpce-rollout demo`. It loads from a
//! [`Snapshot`] (the same JSON `plan --snapshot` reads), exports its current state as one, and
//! answers with EC2's own error codes, classified by the same table as the SDK adapter.
//!
//! Where things are:
//! - [`SimEc2`] (here): the port, every call going through one gate: settle the world at the
//!   current virtual time, fire an injected fault, take a rate-limit token, act, log.
//! - `world.rs`: the state and its snapshot conversion; `endpoints.rs`, `security_groups.rs`,
//!   `describe.rs`: what each call does; `codes.rs`: EC2's error codes and messages.
//! - [`limits`]: EC2's token-bucket figures and quotas, in one table.
//! - [`clock`]: [`SimClock`], the shared virtual clock. Nothing sleeps; tests advance time.
//! - [`faults`]: injected failures and the call log; `drift.rs`: out-of-band changes
//!   (someone revokes a rule, deletes the endpoint, turns private DNS off, starts an instance).
//! - [`SimProvider`]: the [`crate::aws::Ec2Provider`] over one world.
//!
//! Everything is behind one mutex, so a `SimEc2` can be shared across tasks; calls never await.

pub mod clock;
mod codes;
mod describe;
mod drift;
mod endpoints;
pub mod faults;
pub mod generate;
mod ids;
pub mod limits;
mod logs;
mod provider;
mod routes;
mod security_groups;
mod world;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use clock::SimClock;
pub use drift::Missing;
pub use endpoints::DEFAULT_ENDPOINT_POLICY;
pub use faults::{CallOutcome, CallRecord, FaultTiming};
pub use provider::SimProvider;

use super::{
    AccountUnknown, AuthorizeRules, CreateVpcEndpoint, Ec2, Ec2Error, Ec2Operation, EndpointFilter,
    ModifyVpcEndpoint, Receipt, RetagOwnedRules, RevokeOwnedRules, RuleFilter,
};
use crate::model::{
    FlowLog, NetworkAcl, NetworkInterface, PrefixList, PrefixListEntry, PrivateDnsDetails, RouteTable,
    SecurityGroup, SecurityGroupRule, ServiceDetail, ServiceTypeDetail, Snapshot, Subnet, Tag, Vpc,
    VpcDnsAttributes, VpcEndpoint,
};
use faults::Faults;
use limits::RateLimiter;
use world::{Now, World};

/// How the simulated world behaves. Defaults are realistic; tests that do not care about time
/// or throttling use [`SimConfig::instant`] and [`SimConfig::without_throttling`].
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The world's region; `None` reads it from the snapshot (service names, zones).
    pub region: Option<String>,
    /// The account that owns everything (rule `UserId`s, endpoint `OwnerId`).
    pub account_id: String,
    /// A new endpoint stays `pending` this long.
    pub provisioning_delay: Duration,
    /// Enabling private DNS makes the endpoint `pending` this long.
    pub private_dns_delay: Duration,
    /// A deleted endpoint stays `deleting` this long, then disappears with its ENIs.
    pub deletion_delay: Duration,
    /// For this long after create, describes do not see the new endpoint.
    pub visibility_delay: Duration,
    /// Whether EC2's request token buckets apply.
    pub throttling: bool,
    /// Rules per security group, per direction and address family.
    pub rules_per_group: u32,
    /// Interface endpoints per VPC.
    pub interface_endpoints_per_vpc: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            region: None,
            account_id: "123456789012".into(),
            provisioning_delay: Duration::from_secs(60),
            private_dns_delay: Duration::from_secs(30),
            deletion_delay: Duration::from_secs(30),
            visibility_delay: Duration::from_secs(5),
            throttling: true,
            rules_per_group: limits::RULES_PER_SECURITY_GROUP,
            interface_endpoints_per_vpc: limits::INTERFACE_ENDPOINTS_PER_VPC,
        }
    }
}

impl SimConfig {
    /// No token buckets.
    pub fn without_throttling(mut self) -> Self {
        self.throttling = false;
        self
    }

    /// Every delay zero: endpoints are visible and `available` right after create (the create
    /// response still says `pending`, as EC2's does).
    pub fn instant(mut self) -> Self {
        self.provisioning_delay = Duration::ZERO;
        self.private_dns_delay = Duration::ZERO;
        self.deletion_delay = Duration::ZERO;
        self.visibility_delay = Duration::ZERO;
        self
    }

    pub fn in_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
}

/// An AWS service as `describe-vpc-endpoint-services` shows it, e.g. `aws_service("ap-northeast-1",
/// "logs", &["ap-northeast-1a"])`: interface type, private DNS name `logs.<region>.amazonaws.com`.
pub fn aws_service(region: &str, name: &str, zones: &[&str]) -> ServiceDetail {
    let dns = format!("{name}.{region}.amazonaws.com");
    ServiceDetail {
        service_name: format!("com.amazonaws.{region}.{name}"),
        service_id: None,
        service_type: vec![ServiceTypeDetail {
            service_type: "Interface".into(),
        }],
        availability_zones: zones.iter().map(|z| z.to_string()).collect(),
        private_dns_name: Some(dns.clone()),
        private_dns_names: vec![PrivateDnsDetails {
            private_dns_name: dns,
        }],
        vpc_endpoint_policy_supported: Some(true),
        acceptance_required: Some(false),
        service_region: None,
        owner: Some("amazon".into()),
    }
}

/// A service another account offers through PrivateLink and accepts endpoints of by hand, as
/// `describe-vpc-endpoint-services` shows it: `com.amazonaws.vpce.<region>.<service_id>`, owned
/// by `owner` (an account id), AcceptanceRequired, with the private DNS name `private_dns_name`.
pub fn partner_service(
    region: &str,
    service_id: &str,
    owner: &str,
    private_dns_name: &str,
    zones: &[&str],
) -> ServiceDetail {
    ServiceDetail {
        service_name: format!("com.amazonaws.vpce.{region}.{service_id}"),
        service_id: Some(service_id.into()),
        service_type: vec![ServiceTypeDetail {
            service_type: "Interface".into(),
        }],
        availability_zones: zones.iter().map(|z| z.to_string()).collect(),
        private_dns_name: Some(private_dns_name.into()),
        private_dns_names: vec![PrivateDnsDetails {
            private_dns_name: private_dns_name.into(),
        }],
        vpc_endpoint_policy_supported: Some(false),
        acceptance_required: Some(true),
        service_region: None,
        owner: Some(owner.into()),
    }
}

struct SimState {
    world: World,
    config: SimConfig,
    limiter: RateLimiter,
    faults: Faults,
    calls: Vec<CallRecord>,
    /// Requests served, for their ids.
    requests: u64,
}

/// The simulated EC2 port for one account and region. See the module docs.
pub struct SimEc2 {
    clock: SimClock,
    state: Mutex<SimState>,
}

impl std::fmt::Debug for SimEc2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("SimEc2")
            .field("region", &state.world.region)
            .field("now", &self.clock.now())
            .field("endpoints", &state.world.endpoints.len())
            .field("calls", &state.calls.len())
            .finish()
    }
}

impl SimEc2 {
    /// A world loaded from `snapshot` with the default (realistic) behaviour.
    pub fn new(snapshot: &Snapshot, clock: SimClock) -> Self {
        Self::with_config(snapshot, clock, SimConfig::default())
    }

    pub fn with_config(snapshot: &Snapshot, clock: SimClock, config: SimConfig) -> Self {
        let region = config
            .region
            .clone()
            .unwrap_or_else(|| world::infer_region(snapshot));
        let world = World::from_snapshot(snapshot, region, &config, clock.now());
        Self {
            clock,
            state: Mutex::new(SimState {
                world,
                config,
                limiter: RateLimiter::default(),
                faults: Faults::default(),
                calls: Vec::new(),
                requests: 0,
            }),
        }
    }

    /// The clock the world runs on (shared: advancing a clone advances this one).
    pub fn clock(&self) -> &SimClock {
        &self.clock
    }

    pub fn region(&self) -> String {
        self.lock().world.region.clone()
    }

    pub fn config(&self) -> SimConfig {
        self.lock().config.clone()
    }

    /// The whole world now, as a snapshot (every VPC and rule; endpoints even before describes
    /// can see them).
    pub fn snapshot(&self) -> Snapshot {
        let mut state = self.lock();
        state.world.settle(self.clock.now());
        state.world.to_snapshot()
    }

    /// Every endpoint now, visible to describes or not (cheaper than a whole snapshot).
    pub fn endpoints(&self) -> Vec<VpcEndpoint> {
        let mut state = self.lock();
        state.world.settle(self.clock.now());
        state
            .world
            .endpoints
            .values()
            .map(|e| e.endpoint.clone())
            .collect()
    }

    /// The endpoints DescribeVpcEndpoints lists now: what a person sees in the console (an
    /// endpoint created moments ago may not be listed yet).
    pub fn listed_endpoints(&self) -> Vec<VpcEndpoint> {
        let now = self.clock.now();
        let mut state = self.lock();
        state.world.settle(now);
        let world = &state.world;
        world
            .endpoints
            .values()
            .filter(|e| e.is_visible(now))
            .map(|e| e.endpoint.clone())
            .collect()
    }

    /// Every security group rule now, in creation order (cheaper than a whole snapshot).
    pub fn rules(&self) -> Vec<SecurityGroupRule> {
        self.lock().world.rules.clone()
    }

    /// Every network interface now (cheaper than a whole snapshot).
    pub fn network_interfaces(&self) -> Vec<NetworkInterface> {
        let mut state = self.lock();
        state.world.settle(self.clock.now());
        state.world.network_interfaces.values().cloned().collect()
    }

    /// Every call served so far, in order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.lock().calls.clone()
    }

    /// The last call served (what [`SimEc2::calls`] ends with, without copying the log).
    pub fn last_call(&self) -> Option<CallRecord> {
        self.lock().calls.last().cloned()
    }

    /// The calls that changed the world (answered, or carried out with their answer lost).
    pub fn mutations(&self) -> Vec<CallRecord> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.is_mutation())
            .cloned()
            .collect()
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// Makes the next `times` calls of `operation` fail with `error` (its operation is set to
    /// `operation`) before EC2 acts. Faults for one operation queue up in injection order.
    pub fn inject_fault(&self, operation: Ec2Operation, error: Ec2Error, times: u32) {
        self.inject_fault_at(operation, error, FaultTiming::BeforeEffect, times);
    }

    /// Makes the next `times` calls of `operation` take effect and answer `error` instead: a
    /// timeout after the fact (see [`faults`]).
    pub fn inject_lost_answer(&self, operation: Ec2Operation, error: Ec2Error, times: u32) {
        self.inject_fault_at(operation, error, FaultTiming::AfterEffect, times);
    }

    /// [`SimEc2::inject_fault`] or [`SimEc2::inject_lost_answer`], as `timing` says.
    pub fn inject_fault_at(&self, operation: Ec2Operation, error: Ec2Error, timing: FaultTiming, times: u32) {
        self.lock().faults.inject(operation, error, timing, times);
    }

    /// [`SimEc2::inject_fault`] from an EC2 error code and message, classified as the adapter
    /// would classify it.
    pub fn inject_error(&self, operation: Ec2Operation, code: &str, message: &str, times: u32) {
        self.inject_fault(operation, Ec2Error::from_code(operation, code, message), times);
    }

    /// Injected failures not fired yet.
    pub fn pending_faults(&self) -> u32 {
        self.lock().faults.pending()
    }

    /// Turns EC2's request token buckets on or off.
    pub fn set_throttling(&self, enabled: bool) {
        self.lock().config.throttling = enabled;
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        // A test that panicked while holding the lock must not hide its own failure behind a
        // poisoned mutex in the next assertion.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The gate of every describe (the answer without its request id).
    fn call<T>(
        &self,
        operation: Ec2Operation,
        tokens: u32,
        act: impl FnOnce(&mut World, Now, &SimConfig) -> Result<T, Ec2Error>,
    ) -> Result<T, Ec2Error> {
        self.gate(operation, tokens, act).map(|r| r.value)
    }

    /// The gate every port call goes through. Every call gets a request id, as on EC2: in the
    /// answer, in a failure (an injected one keeps its own if it has one) and in the call log.
    fn gate<T>(
        &self,
        operation: Ec2Operation,
        tokens: u32,
        act: impl FnOnce(&mut World, Now, &SimConfig) -> Result<T, Ec2Error>,
    ) -> Result<Receipt<T>, Ec2Error> {
        let elapsed = self.clock.now();
        let now = Now {
            elapsed,
            timestamp: self.clock.timestamp_at(elapsed),
        };
        let mut guard = self.lock();
        let state = &mut *guard;
        state.world.settle(elapsed);
        let fault = state.faults.take(operation);
        let result = match &fault {
            Some(fault) if fault.timing == FaultTiming::BeforeEffect => Err(fault.error.clone()),
            _ if state.config.throttling && !state.limiter.try_take(operation, tokens, elapsed) => {
                Err(codes::throttled(operation))
            }
            _ => act(&mut state.world, now, &state.config),
        };
        state.requests += 1;
        let request_id = ids::request_id(state.requests);
        let result = match result {
            Ok(value) => Ok(Receipt::new(value, Some(request_id.clone()))),
            Err(e) if e.request_id.is_some() => Err(e),
            Err(e) => Err(e.with_request_id(Some(request_id.clone()))),
        };
        match fault {
            // EC2 acted (or refused); either way its answer, request id included, never
            // reaches the caller. CloudTrail has the call under its id: the log keeps it, with
            // what the caller saw.
            Some(lost) if lost.timing == FaultTiming::AfterEffect => {
                let record = match &result {
                    Ok(_) => CallRecord::answer_lost(operation, elapsed, &lost.error, request_id),
                    Err(_) => CallRecord::new::<()>(operation, elapsed, &Err(lost.error.clone()), request_id),
                };
                state.calls.push(record);
                Err(lost.error)
            }
            _ => {
                let logged = result.as_ref().map(|_| ()).map_err(Clone::clone);
                state
                    .calls
                    .push(CallRecord::new(operation, elapsed, &logged, request_id));
                result
            }
        }
    }
}

impl Ec2 for SimEc2 {
    fn region(&self) -> Option<String> {
        Some(SimEc2::region(self))
    }

    async fn account(&self) -> Result<String, AccountUnknown> {
        Ok(self.lock().config.account_id.clone())
    }

    async fn describe_vpcs(&self, vpc_ids: &[String]) -> Result<Vec<Vpc>, Ec2Error> {
        let op = Ec2Operation::DescribeVpcs;
        self.call(op, 1, |w, _, _| w.describe_vpcs(op, vpc_ids))
    }

    /// Two DescribeVpcAttribute requests on the wire, so two tokens.
    async fn describe_vpc_dns_attributes(&self, vpc_id: &str) -> Result<VpcDnsAttributes, Ec2Error> {
        let op = Ec2Operation::DescribeVpcAttribute;
        self.call(op, 2, |w, _, _| w.describe_vpc_dns_attributes(op, vpc_id))
    }

    async fn describe_subnets(&self, vpc_id: &str) -> Result<Vec<Subnet>, Ec2Error> {
        self.call(Ec2Operation::DescribeSubnets, 1, |w, _, _| {
            Ok(w.describe_subnets(vpc_id))
        })
    }

    async fn describe_security_groups(&self, vpc_id: &str) -> Result<Vec<SecurityGroup>, Ec2Error> {
        self.call(Ec2Operation::DescribeSecurityGroups, 1, |w, _, _| {
            Ok(w.describe_security_groups(vpc_id))
        })
    }

    async fn describe_security_group_rules(
        &self,
        filter: &RuleFilter,
    ) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
        let op = Ec2Operation::DescribeSecurityGroupRules;
        self.call(op, 1, |w, _, _| {
            let values = filter.group_ids.len()
                + usize::from(filter.tag.is_some())
                + filter.tag_any_of.as_ref().map_or(0, |(_, v)| v.len());
            if values > super::MAX_FILTER_VALUES {
                return Err(Ec2Error::from_code(
                    op,
                    "FilterLimitExceeded",
                    format!(
                        "The maximum number of filter values specified on a single call is {}",
                        super::MAX_FILTER_VALUES
                    ),
                ));
            }
            Ok(w.describe_rules(filter))
        })
    }

    async fn describe_network_interfaces(&self, vpc_id: &str) -> Result<Vec<NetworkInterface>, Ec2Error> {
        self.call(Ec2Operation::DescribeNetworkInterfaces, 1, |w, now, _| {
            Ok(w.describe_network_interfaces(vpc_id, now.elapsed))
        })
    }

    async fn describe_network_acls(&self, vpc_id: &str) -> Result<Vec<NetworkAcl>, Ec2Error> {
        self.call(Ec2Operation::DescribeNetworkAcls, 1, |w, _, _| {
            Ok(w.describe_network_acls(vpc_id))
        })
    }

    async fn describe_vpc_endpoints(&self, filter: &EndpointFilter) -> Result<Vec<VpcEndpoint>, Ec2Error> {
        let op = Ec2Operation::DescribeVpcEndpoints;
        self.call(op, 1, |w, now, _| w.describe_endpoints(op, filter, now))
    }

    async fn describe_vpc_endpoint_services(
        &self,
        service_names: &[String],
        service_regions: &[String],
    ) -> Result<Vec<ServiceDetail>, Ec2Error> {
        let op = Ec2Operation::DescribeVpcEndpointServices;
        self.call(op, 1, |w, _, _| {
            w.describe_services(op, service_names, service_regions)
        })
    }

    async fn describe_managed_prefix_lists(
        &self,
        prefix_list_ids: &[String],
    ) -> Result<Vec<PrefixList>, Ec2Error> {
        let op = Ec2Operation::DescribeManagedPrefixLists;
        self.call(op, 1, |w, _, _| w.describe_prefix_lists(op, prefix_list_ids))
    }

    async fn get_managed_prefix_list_entries(
        &self,
        prefix_list_id: &str,
    ) -> Result<Vec<PrefixListEntry>, Ec2Error> {
        let op = Ec2Operation::GetManagedPrefixListEntries;
        self.call(op, 1, |w, _, _| w.prefix_list_entries(op, prefix_list_id))
    }

    async fn describe_flow_logs(&self, log_group_name: &str) -> Result<Vec<FlowLog>, Ec2Error> {
        self.call(Ec2Operation::DescribeFlowLogs, 1, |w, _, _| {
            Ok(w.flow_logs
                .iter()
                .filter(|f| f.log_group_name.as_deref() == Some(log_group_name))
                .cloned()
                .collect())
        })
    }

    async fn describe_route_tables(&self, vpc_id: &str) -> Result<Vec<RouteTable>, Ec2Error> {
        self.call(Ec2Operation::DescribeRouteTables, 1, |w, _, _| {
            Ok(w.route_tables
                .values()
                .filter(|t| t.vpc_id == vpc_id)
                .cloned()
                .collect())
        })
    }

    async fn create_vpc_endpoint(
        &self,
        request: &CreateVpcEndpoint,
    ) -> Result<Receipt<VpcEndpoint>, Ec2Error> {
        let op = Ec2Operation::CreateVpcEndpoint;
        self.gate(op, 1, |w, now, config| {
            w.create_endpoint(op, request, now, config)
        })
    }

    async fn modify_vpc_endpoint(&self, request: &ModifyVpcEndpoint) -> Result<Receipt<()>, Ec2Error> {
        let op = Ec2Operation::ModifyVpcEndpoint;
        self.gate(op, 1, |w, now, config| {
            w.modify_endpoint(op, request, now, config)
        })
    }

    async fn delete_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
    ) -> Result<Receipt<BTreeMap<String, Ec2Error>>, Ec2Error> {
        let op = Ec2Operation::DeleteVpcEndpoints;
        self.gate(op, 1, |w, now, config| {
            w.delete_endpoints(op, vpc_endpoint_ids, now, config)
        })
    }

    async fn authorize_security_group_rules(
        &self,
        request: &AuthorizeRules,
    ) -> Result<Receipt<Vec<SecurityGroupRule>>, Ec2Error> {
        let op = Ec2Operation::authorize(request.egress);
        self.gate(op, 1, |w, _, config| {
            w.authorize(op, request, config.rules_per_group)
        })
    }

    /// EC2 revokes any rule of the group, whatever its tags: the ownership check is the SDK
    /// adapter's, in front of EC2, and not simulated here.
    async fn revoke_security_group_rules(&self, request: &RevokeOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        let op = Ec2Operation::revoke(request.egress);
        self.gate(op, 1, |w, _, _| {
            w.revoke(op, &request.group_id, request.egress, &request.rule_ids)
        })
    }

    /// As for revoke, the ownership check is the SDK adapter's and not simulated here.
    async fn tag_security_group_rules(&self, request: &RetagOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        let op = Ec2Operation::CreateTags;
        self.gate(op, 1, |w, _, _| w.tag_rules(op, &request.rule_ids, &request.tags))
    }

    async fn tag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        tags: &[Tag],
    ) -> Result<Receipt<()>, Ec2Error> {
        let op = Ec2Operation::CreateTags;
        self.gate(op, 1, |w, now, _| {
            w.tag_endpoints(op, vpc_endpoint_ids, tags, now)
        })
    }

    async fn untag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        keys: &[String],
    ) -> Result<Receipt<()>, Ec2Error> {
        let op = Ec2Operation::DeleteTags;
        self.gate(op, 1, |w, now, _| {
            w.untag_endpoints(op, vpc_endpoint_ids, keys, now)
        })
    }
}
