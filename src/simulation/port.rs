//! The EC2 port one reconcile pass sees: the simulated world behind a gate that injects the
//! seed's faults, ends the process between two calls, holds a call for a leader change, and
//! checks the invariants around every call that changes the world.
//!
//! Every call goes through [`ChaosPort::gate`]:
//! 1. a pass whose process is gone (crashed, or cancelled after losing the Lease) reaches
//!    nothing: the call fails at once and the driver discards the pass;
//! 2. the mutation a leader change holds waits (the pass future stays pending) until the
//!    driver lets it land, after the new leader's pass;
//! 3. before a revoke, modify or delete: invariant 4 on what it names;
//! 4. a fault may be armed on the simulated world for this one call (throttling, a 5xx, a
//!    timeout before EC2 acts, or after it acted);
//! 5. the call, then the invariants on the world if it changed anything;
//! 6. the crash point of the pass, if this was it.

use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use futures::FutureExt;

use super::invariants::{Cause, Checker, Touch, View};
use super::report::{FaultKind, Tally};
use super::rng::Rng;
use super::trace::Trace;
use crate::api::Owner;
use crate::aws::sim::{FaultTiming, SimEc2, SimProvider, clock};
use crate::aws::{
    AccountAccessError, AccountUnknown, AssumeRole, AuthorizeRules, CreateVpcEndpoint, Ec2, Ec2Error,
    Ec2Operation, Ec2Provider, EndpointFilter, ErrorKind, ModifyVpcEndpoint, ProviderError, Receipt,
    RetagOwnedRules, RevokeOwnedRules, RuleFilter,
};
use crate::model::{
    FlowLog, NetworkAcl, NetworkInterface, PrefixList, PrefixListEntry, RouteTable, SecurityGroup,
    SecurityGroupRule, ServiceDetail, Subnet, Tag, Vpc, VpcDnsAttributes, VpcEndpoint,
};

/// The chance that EC2 does not list a new endpoint for a while, and for how long at most:
/// within the five minutes AWS's eventual-consistency guidance gives.
const NOT_LISTED_AFTER_CREATE: f64 = 0.25;
const NOT_LISTED_FOR_AT_MOST: Duration = Duration::from_secs(290);

/// What one run shares between its passes.
#[derive(Debug)]
pub(crate) struct Shared {
    pub rng: Rng,
    /// Whether faults are injected now (off in the quiet period).
    pub faults_on: bool,
    /// Chance that a describe fails.
    pub describe_fault_rate: f64,
    /// Chance that a mutation fails (before or after it took effect).
    pub mutation_fault_rate: f64,
    pub tally: Tally,
    pub checker: Checker,
    pub trace: Trace,
}

/// Where a pass's process dies, if it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CrashPoint {
    /// Right after the n-th call (from 0) returned.
    AfterCall(u32),
    /// Right after the n-th mutation (from 0) returned.
    AfterMutation(u32),
}

/// Whether a leader change holds a call of this pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hold {
    None,
    /// The n-th mutation (from 0) will be held.
    Armed(u32),
    /// It is being held.
    Holding,
    /// The driver let it land.
    Released,
}

/// One pass: whose, and what is scripted to happen to it.
#[derive(Debug)]
pub(crate) struct Script {
    pub owner: Owner,
    pub crash: Option<CrashPoint>,
    pub hold: Hold,
    pub calls: u32,
    pub mutations: u32,
    /// The process is gone: nothing it sends any more reaches EC2.
    pub dead: bool,
    /// Why it is gone, once it is.
    pub died: Option<FaultKind>,
}

impl Script {
    pub(crate) fn new(owner: Owner) -> Self {
        Self {
            owner,
            crash: None,
            hold: Hold::None,
            calls: 0,
            mutations: 0,
            dead: false,
            died: None,
        }
    }
}

/// The port of one pass. It owns handles only, so that the pass future borrows nothing of the
/// driver, which must run another leader's pass while this one is held.
pub(crate) struct ChaosPort {
    pub sim: Arc<SimEc2>,
    pub shared: Arc<Mutex<Shared>>,
    pub script: Arc<Mutex<Script>>,
}

/// The provider of one pass: the simulated world of the region asked for, behind the pass's
/// [`ChaosPort`], as the controller's provider hands out the SDK port of a region.
pub(crate) struct ChaosProvider {
    pub worlds: Arc<SimProvider>,
    pub shared: Arc<Mutex<Shared>>,
    pub script: Arc<Mutex<Script>>,
}

impl Ec2Provider for ChaosProvider {
    type Client = ChaosPort;

    async fn client(&self, region: Option<&str>) -> Result<Arc<ChaosPort>, ProviderError> {
        Ok(Arc::new(ChaosPort {
            sim: self.worlds.client(region).await?,
            shared: self.shared.clone(),
            script: self.script.clone(),
        }))
    }

    async fn client_as(
        &self,
        region: Option<&str>,
        role: &AssumeRole,
    ) -> Result<Arc<ChaosPort>, AccountAccessError> {
        Ok(Arc::new(ChaosPort {
            sim: self.worlds.client_as(region, role).await?,
            shared: self.shared.clone(),
            script: self.script.clone(),
        }))
    }

    fn default_region(&self) -> Option<String> {
        self.worlds.default_region()
    }
}

/// The simulated CloudWatch Logs of the worlds, as they are (logs are read, never faulted here).
impl crate::logs::LogsProvider for ChaosProvider {
    type Logs = crate::logs::sim::SimLogs;

    async fn logs(&self, region: Option<&str>) -> Result<Arc<Self::Logs>, ProviderError> {
        crate::logs::LogsProvider::logs(&*self.worlds, region).await
    }

    async fn logs_as(
        &self,
        region: Option<&str>,
        role: &AssumeRole,
    ) -> Result<Arc<Self::Logs>, AccountAccessError> {
        crate::logs::LogsProvider::logs_as(&*self.worlds, region, role).await
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The simulated world answers at once; its futures never wait.
fn ready<F: std::future::Future>(f: F) -> F::Output {
    f.now_or_never().expect("the simulated world never waits")
}

fn gone(operation: Ec2Operation) -> Ec2Error {
    Ec2Error::new(
        ErrorKind::Transient,
        operation,
        "ProcessGone",
        "the controller's process ended before this call",
    )
}

/// The error the SDK adapter reports for a call that got no answer in time.
fn timeout(operation: Ec2Operation) -> Ec2Error {
    Ec2Error::new(
        ErrorKind::Transient,
        operation,
        "Timeout",
        "no response within the configured timeout",
    )
}

fn ambiguous(operation: Ec2Operation) -> FaultKind {
    match operation {
        Ec2Operation::CreateVpcEndpoint => FaultKind::AmbiguousCreate,
        Ec2Operation::ModifyVpcEndpoint => FaultKind::AmbiguousModify,
        Ec2Operation::DeleteVpcEndpoints => FaultKind::AmbiguousDelete,
        Ec2Operation::AuthorizeSecurityGroupIngress | Ec2Operation::AuthorizeSecurityGroupEgress => {
            FaultKind::AmbiguousAuthorize
        }
        Ec2Operation::CreateTags | Ec2Operation::DeleteTags => FaultKind::AmbiguousTag,
        _ => FaultKind::AmbiguousRevoke,
    }
}

impl ChaosPort {
    async fn gate<T>(
        &self,
        operation: Ec2Operation,
        touch: Touch<'_>,
        call: impl FnOnce(&SimEc2) -> Result<T, Ec2Error>,
    ) -> Result<T, Ec2Error> {
        let mutation = operation.is_mutation();
        let (index, held) = {
            let mut script = lock(&self.script);
            if script.dead {
                return Err(gone(operation));
            }
            let index = (script.calls, script.mutations);
            script.calls += 1;
            let held = mutation && script.hold == Hold::Armed(script.mutations);
            if mutation {
                script.mutations += 1;
            }
            if held {
                script.hold = Hold::Holding;
            }
            (index, held)
        };
        if held {
            poll_fn(|_| {
                if lock(&self.script).hold == Hold::Released {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
        let now = self.sim.clock().now();
        let owner = lock(&self.script).owner.clone();

        if !matches!(touch, Touch::Nothing) {
            let world = View::new(&self.sim);
            lock(&self.shared)
                .checker
                .before_mutation(&world, now, &owner, operation, &touch);
        }

        let injected = self.arm_fault(operation, mutation);
        let result = call(&self.sim);
        let took_effect = mutation && self.sim.last_call().is_some_and(|c| c.is_mutation());

        {
            let mut shared = lock(&self.shared);
            let shared = &mut *shared;
            shared.tally.ec2_calls += 1;
            match (&injected, &result) {
                (Some(kind), _) => {
                    let kind = if kind.is_ambiguous() && !took_effect {
                        // Armed to strike after EC2 acted, but EC2 refused the call (throttled,
                        // invalid): the caller saw a timeout and nothing happened.
                        FaultKind::TimeoutBeforeEffect
                    } else {
                        *kind
                    };
                    shared.tally.fault(kind);
                }
                (None, Err(e)) if e.kind == ErrorKind::Throttled => {
                    shared.tally.fault(FaultKind::BucketEmpty)
                }
                _ => {}
            }
            shared.trace.log(now, || {
                let who = owner.owner_tag();
                let outcome = match &result {
                    Ok(_) => "ok".to_string(),
                    Err(e) if took_effect => format!("took effect, answer lost: {}", e.code),
                    Err(e) => format!("failed: {} ({})", e.code, e.kind.as_str()),
                };
                let held = if held {
                    " (the old leader's call, landing late)"
                } else {
                    ""
                };
                format!("  {who}: {operation}{held} {outcome}")
            });
        }
        if took_effect {
            let mut world = View::new(&self.sim);
            let cause = Cause::Controller {
                owner: owner.clone(),
                operation,
            };
            lock(&self.shared).checker.after_change(&mut world, now, &cause);
        }

        let mut script = lock(&self.script);
        if held {
            // The old leader lost the Lease: its pass was cancelled while this call was on the
            // wire; nothing after it is sent.
            script.dead = true;
        } else if let Some(point) = script.crash {
            let hit = match point {
                CrashPoint::AfterCall(n) => n == index.0,
                CrashPoint::AfterMutation(n) => mutation && n == index.1,
            };
            if hit {
                script.dead = true;
                script.died = Some(FaultKind::Crash);
            }
        }
        result
    }

    /// EC2's eventual consistency at its worst, drawn for an endpoint just created: describes
    /// do not list it (and a modify of it is NotFound) for up to [`NOT_LISTED_FOR_AT_MOST`].
    fn maybe_hide(&self, endpoint_id: &str) {
        let mut shared = lock(&self.shared);
        if !shared.faults_on || !shared.rng.chance(NOT_LISTED_AFTER_CREATE) {
            return;
        }
        let hidden = shared
            .rng
            .between(Duration::from_secs(20), NOT_LISTED_FOR_AT_MOST);
        if self.sim.hide_endpoint_out_of_band(endpoint_id, hidden).is_ok() {
            shared.tally.fault(FaultKind::NotFoundAfterCreate);
            let now = self.sim.clock().now();
            shared.trace.log(now, || {
                format!("  EC2 does not list {endpoint_id} for {}s", hidden.as_secs())
            });
        }
    }

    /// Draws a fault for this call and arms it on the world; returns its kind.
    fn arm_fault(&self, operation: Ec2Operation, mutation: bool) -> Option<FaultKind> {
        let mut shared = lock(&self.shared);
        if !shared.faults_on {
            return None;
        }
        let rate = if mutation {
            shared.mutation_fault_rate
        } else {
            shared.describe_fault_rate
        };
        if !shared.rng.chance(rate) {
            return None;
        }
        let roll = shared.rng.below(if mutation { 8 } else { 5 });
        drop(shared);
        let (kind, error, timing) = match roll {
            0 | 1 => (
                FaultKind::Throttled,
                Ec2Error::from_code(operation, "RequestLimitExceeded", "Request limit exceeded."),
                FaultTiming::BeforeEffect,
            ),
            2 | 3 => (
                FaultKind::ServerError,
                Ec2Error::from_code(
                    operation,
                    if roll == 2 { "InternalError" } else { "Unavailable" },
                    "An internal error has occurred",
                ),
                FaultTiming::BeforeEffect,
            ),
            4 => (
                FaultKind::TimeoutBeforeEffect,
                timeout(operation),
                FaultTiming::BeforeEffect,
            ),
            _ => (ambiguous(operation), timeout(operation), FaultTiming::AfterEffect),
        };
        self.sim.inject_fault_at(operation, error, timing, 1);
        Some(kind)
    }
}

impl Ec2 for ChaosPort {
    fn region(&self) -> Option<String> {
        Some(self.sim.region())
    }

    async fn account(&self) -> Result<String, AccountUnknown> {
        ready(self.sim.account())
    }

    async fn describe_vpcs(&self, vpc_ids: &[String]) -> Result<Vec<Vpc>, Ec2Error> {
        self.gate(Ec2Operation::DescribeVpcs, Touch::Nothing, |s| {
            ready(s.describe_vpcs(vpc_ids))
        })
        .await
    }

    async fn describe_vpc_dns_attributes(&self, vpc_id: &str) -> Result<VpcDnsAttributes, Ec2Error> {
        self.gate(Ec2Operation::DescribeVpcAttribute, Touch::Nothing, |s| {
            ready(s.describe_vpc_dns_attributes(vpc_id))
        })
        .await
    }

    async fn describe_subnets(&self, vpc_id: &str) -> Result<Vec<Subnet>, Ec2Error> {
        self.gate(Ec2Operation::DescribeSubnets, Touch::Nothing, |s| {
            ready(s.describe_subnets(vpc_id))
        })
        .await
    }

    async fn describe_security_groups(&self, vpc_id: &str) -> Result<Vec<SecurityGroup>, Ec2Error> {
        self.gate(Ec2Operation::DescribeSecurityGroups, Touch::Nothing, |s| {
            ready(s.describe_security_groups(vpc_id))
        })
        .await
    }

    async fn describe_security_group_rules(
        &self,
        filter: &RuleFilter,
    ) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
        self.gate(Ec2Operation::DescribeSecurityGroupRules, Touch::Nothing, |s| {
            ready(s.describe_security_group_rules(filter))
        })
        .await
    }

    async fn describe_network_interfaces(&self, vpc_id: &str) -> Result<Vec<NetworkInterface>, Ec2Error> {
        self.gate(Ec2Operation::DescribeNetworkInterfaces, Touch::Nothing, |s| {
            ready(s.describe_network_interfaces(vpc_id))
        })
        .await
    }

    async fn describe_network_acls(&self, vpc_id: &str) -> Result<Vec<NetworkAcl>, Ec2Error> {
        self.gate(Ec2Operation::DescribeNetworkAcls, Touch::Nothing, |s| {
            ready(s.describe_network_acls(vpc_id))
        })
        .await
    }

    async fn describe_vpc_endpoints(&self, filter: &EndpointFilter) -> Result<Vec<VpcEndpoint>, Ec2Error> {
        let listed = self
            .gate(Ec2Operation::DescribeVpcEndpoints, Touch::Nothing, |s| {
                ready(s.describe_vpc_endpoints(filter))
            })
            .await;
        if let Ok(endpoints) = &listed {
            lock(&self.shared).checker.looked(endpoints);
        }
        listed
    }

    async fn describe_vpc_endpoint_services(
        &self,
        service_names: &[String],
        service_regions: &[String],
    ) -> Result<Vec<ServiceDetail>, Ec2Error> {
        self.gate(Ec2Operation::DescribeVpcEndpointServices, Touch::Nothing, |s| {
            ready(s.describe_vpc_endpoint_services(service_names, service_regions))
        })
        .await
    }

    async fn describe_managed_prefix_lists(
        &self,
        prefix_list_ids: &[String],
    ) -> Result<Vec<PrefixList>, Ec2Error> {
        self.gate(Ec2Operation::DescribeManagedPrefixLists, Touch::Nothing, |s| {
            ready(s.describe_managed_prefix_lists(prefix_list_ids))
        })
        .await
    }

    async fn get_managed_prefix_list_entries(
        &self,
        prefix_list_id: &str,
    ) -> Result<Vec<PrefixListEntry>, Ec2Error> {
        self.gate(Ec2Operation::GetManagedPrefixListEntries, Touch::Nothing, |s| {
            ready(s.get_managed_prefix_list_entries(prefix_list_id))
        })
        .await
    }

    async fn describe_flow_logs(&self, log_group_name: &str) -> Result<Vec<FlowLog>, Ec2Error> {
        self.gate(Ec2Operation::DescribeFlowLogs, Touch::Nothing, |s| {
            ready(s.describe_flow_logs(log_group_name))
        })
        .await
    }

    async fn describe_route_tables(&self, vpc_id: &str) -> Result<Vec<RouteTable>, Ec2Error> {
        self.gate(Ec2Operation::DescribeRouteTables, Touch::Nothing, |s| {
            ready(s.describe_route_tables(vpc_id))
        })
        .await
    }

    async fn create_vpc_endpoint(
        &self,
        request: &CreateVpcEndpoint,
    ) -> Result<Receipt<VpcEndpoint>, Ec2Error> {
        {
            let now = self.sim.clock().now();
            let token = &request.client_token;
            lock(&self.shared)
                .trace
                .log(now, || format!("  ClientToken {token}"));
        }
        let created = self
            .gate(Ec2Operation::CreateVpcEndpoint, Touch::Nothing, |s| {
                ready(s.create_vpc_endpoint(request))
            })
            .await?;
        // Only an endpoint this call made (not one a reused ClientToken answers with, which EC2
        // may have listed for a while) can be one EC2 does not list yet.
        let now = clock::aws_timestamp(self.sim.clock().timestamp());
        if created.value.creation_timestamp.as_deref() == Some(now.as_str()) {
            self.maybe_hide(&created.value.vpc_endpoint_id);
        }
        Ok(created)
    }

    async fn modify_vpc_endpoint(&self, request: &ModifyVpcEndpoint) -> Result<Receipt<()>, Ec2Error> {
        let ids = [request.vpc_endpoint_id.clone()];
        self.gate(Ec2Operation::ModifyVpcEndpoint, Touch::Endpoints(&ids), |s| {
            ready(s.modify_vpc_endpoint(request))
        })
        .await
    }

    async fn delete_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
    ) -> Result<Receipt<std::collections::BTreeMap<String, Ec2Error>>, Ec2Error> {
        self.gate(
            Ec2Operation::DeleteVpcEndpoints,
            Touch::Endpoints(vpc_endpoint_ids),
            |s| ready(s.delete_vpc_endpoints(vpc_endpoint_ids)),
        )
        .await
    }

    async fn authorize_security_group_rules(
        &self,
        request: &AuthorizeRules,
    ) -> Result<Receipt<Vec<SecurityGroupRule>>, Ec2Error> {
        self.gate(Ec2Operation::authorize(request.egress), Touch::Nothing, |s| {
            ready(s.authorize_security_group_rules(request))
        })
        .await
    }

    async fn tag_security_group_rules(&self, request: &RetagOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        self.gate(
            Ec2Operation::CreateTags,
            Touch::TaggedRules(&request.rule_ids, &request.tags),
            |s| ready(s.tag_security_group_rules(request)),
        )
        .await
    }

    async fn tag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        tags: &[Tag],
    ) -> Result<Receipt<()>, Ec2Error> {
        self.gate(
            Ec2Operation::CreateTags,
            Touch::TaggedEndpoints(vpc_endpoint_ids, tags),
            |s| ready(s.tag_vpc_endpoints(vpc_endpoint_ids, tags)),
        )
        .await
    }

    async fn untag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        keys: &[String],
    ) -> Result<Receipt<()>, Ec2Error> {
        self.gate(
            Ec2Operation::DeleteTags,
            Touch::Endpoints(vpc_endpoint_ids),
            |s| ready(s.untag_vpc_endpoints(vpc_endpoint_ids, keys)),
        )
        .await
    }

    async fn revoke_security_group_rules(&self, request: &RevokeOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        self.gate(
            Ec2Operation::revoke(request.egress),
            Touch::Revoked(&request.rule_ids),
            |s| ready(s.revoke_security_group_rules(request)),
        )
        .await
    }
}
