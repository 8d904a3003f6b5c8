//! The EC2 port behind the budget: [`BudgetedEc2`] around any port (the SDK adapter, the
//! simulated world), and [`BudgetedProvider`], which hands out one budget per account and
//! region to every object acting there.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{AccountBudget, Admission, BudgetWait, RateCategory, rate_limit};
use crate::aws::sim::SimClock;
use crate::aws::{
    AccountAccessError, AccountUnknown, AssumeRole, AuthorizeRules, CreateVpcEndpoint, Ec2, Ec2Error,
    Ec2Operation, Ec2Provider, EndpointFilter, ErrorKind, ModifyVpcEndpoint, ProviderError, Receipt,
    RetagOwnedRules, RevokeOwnedRules, RuleFilter,
};
use crate::model::{
    FlowLog, NetworkAcl, NetworkInterface, PrefixList, PrefixListEntry, RouteTable, SecurityGroup,
    SecurityGroupRule, ServiceDetail, Subnet, Tag, Vpc, VpcDnsAttributes, VpcEndpoint,
};

/// The time a budget runs on, and how a call waits for its token.
pub trait BudgetClock: Send + Sync + 'static {
    /// Time since some fixed start.
    fn now(&self) -> Duration;
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// Wall-clock time (the controller).
#[derive(Clone, Debug)]
pub struct TokioClock {
    start: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        Self {
            start: tokio::time::Instant::now(),
        }
    }
}

impl BudgetClock for TokioClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Virtual time (the simulated world): a pass waiting for a token moves the world's clock, as
/// the drivers of the simulation run one pass at a time.
impl BudgetClock for SimClock {
    fn now(&self) -> Duration {
        SimClock::now(self)
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

/// Where the budget reports what it does (the controller's metrics).
pub trait BudgetObserver: Send + Sync + 'static {
    /// A call got its `tokens` after waiting for them (in line, or told to come back).
    fn waited(&self, category: RateCategory, tokens: u32);
    /// EC2 answered `RequestLimitExceeded` (the budget absorbed it).
    fn throttled(&self, category: RateCategory);
    /// The share of the budget `budget` (an id, stable while the budget lives) is now `share`.
    fn share(&self, budget: usize, share: f64);
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl BudgetObserver for NoObserver {
    fn waited(&self, _: RateCategory, _: u32) {}
    fn throttled(&self, _: RateCategory) {}
    fn share(&self, _: usize, _: f64) {}
}

/// How many throttles one call takes in line (waiting longer each time) before the pass is
/// told to come back instead.
const THROTTLES_PER_CALL: u32 = 3;
/// The first wait after a throttle; doubled by each further one.
const THROTTLE_BACKOFF: Duration = Duration::from_secs(1);

/// Places in line of calls that wait in line: each call its own.
static NEXT_CALL: AtomicU64 = AtomicU64::new(0);

/// An [`Ec2`] port whose every call takes its tokens from an [`AccountBudget`] first (see the
/// module docs of [`super`]).
pub struct BudgetedEc2<E> {
    inner: Arc<E>,
    budget: Arc<AccountBudget>,
    clock: Arc<dyn BudgetClock>,
    observer: Arc<dyn BudgetObserver>,
}

impl<E> std::fmt::Debug for BudgetedEc2<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BudgetedEc2")
            .field("budget", &self.budget)
            .finish()
    }
}

impl<E: Ec2> BudgetedEc2<E> {
    pub fn new(
        inner: Arc<E>,
        budget: Arc<AccountBudget>,
        clock: Arc<dyn BudgetClock>,
        observer: Arc<dyn BudgetObserver>,
    ) -> Self {
        Self {
            inner,
            budget,
            clock,
            observer,
        }
    }

    pub fn inner(&self) -> &E {
        &self.inner
    }

    pub fn budget(&self) -> &AccountBudget {
        &self.budget
    }

    /// Makes `call` once the budget grants `tokens` of `operation`. `key` is the caller's
    /// place in a scarce bucket's queue (the object's ClientToken or endpoint id), so that it
    /// keeps it from pass to pass.
    async fn call<T, F, Fut>(
        &self,
        operation: Ec2Operation,
        tokens: u32,
        key: &str,
        call: F,
    ) -> Result<T, Ec2Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, Ec2Error>>,
    {
        let category = rate_limit(operation).category;
        let in_line = category.waits_in_line();
        let key = if in_line {
            format!("call-{}", NEXT_CALL.fetch_add(1, Ordering::Relaxed))
        } else {
            key.to_string()
        };
        let mut throttles = 0;
        loop {
            let waited = loop {
                match self.budget.try_take(operation, tokens, &key, self.clock.now()) {
                    Admission::Granted { waited } => break waited,
                    Admission::Wait(wait) if in_line => self.clock.sleep(wait.after).await,
                    Admission::Wait(wait) => {
                        // Counted when the token is taken, on a later pass.
                        return Err(waiting_for_budget(&wait));
                    }
                }
            };
            let id = Arc::as_ptr(&self.budget) as usize;
            if waited {
                self.observer.waited(category, tokens);
            }
            match call().await {
                Err(error) if error.kind == ErrorKind::Throttled => {
                    let now = self.clock.now();
                    self.budget.throttled(now);
                    self.observer.throttled(category);
                    let share = self.budget.share(now);
                    self.observer.share(id, share);
                    throttles += 1;
                    let backoff = THROTTLE_BACKOFF * 2u32.pow(throttles - 1);
                    if !in_line || throttles >= THROTTLES_PER_CALL {
                        return Err(throttled(&error, throttles, share, backoff));
                    }
                    self.clock.sleep(backoff).await;
                }
                result => {
                    self.observer.share(id, self.budget.share(self.clock.now()));
                    return result;
                }
            }
        }
    }
}

/// The answer of a call not made for want of tokens: an expected wait.
fn waiting_for_budget(wait: &BudgetWait) -> Ec2Error {
    let mut error = Ec2Error::new(
        ErrorKind::WaitingForApiBudget,
        wait.operation,
        ErrorKind::WaitingForApiBudget.as_str(),
        format!(
            "{}: number {} of {} in line for the tokens of this account and region; next try in {}",
            wait.operation,
            wait.position,
            wait.waiting,
            seconds(wait.after)
        ),
    );
    error.retry_after = Some(wait.after);
    error
}

/// A throttle the budget absorbed, reported as an expected wait.
fn throttled(error: &Ec2Error, times: u32, share: f64, after: Duration) -> Ec2Error {
    let mut waiting = Ec2Error::new(
        ErrorKind::WaitingForApiBudget,
        error.operation,
        ErrorKind::WaitingForApiBudget.as_str(),
        format!(
            "EC2 throttled {} ({}{}): other callers are spending the account's tokens; the \
             controller's share of the budget is now {:.0} %; next try in {}",
            error.operation,
            error.code,
            if times > 1 {
                format!(", {times} times")
            } else {
                String::new()
            },
            share * 100.0,
            seconds(after)
        ),
    );
    waiting.request_id = error.request_id.clone();
    waiting.retry_after = Some(after);
    waiting
}

/// `7 s`, `0.5 s`: what a person reads in a status message.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 {
        format!("{} s", s.ceil())
    } else {
        format!("{:.1} s", (s * 10.0).ceil() / 10.0)
    }
}

impl<E: Ec2> Ec2 for BudgetedEc2<E> {
    fn region(&self) -> Option<String> {
        self.inner.region()
    }

    /// STS, not EC2: not budgeted.
    async fn account(&self) -> Result<String, AccountUnknown> {
        self.inner.account().await
    }

    async fn describe_vpcs(&self, vpc_ids: &[String]) -> Result<Vec<Vpc>, Ec2Error> {
        self.call(Ec2Operation::DescribeVpcs, 1, "", || {
            self.inner.describe_vpcs(vpc_ids)
        })
        .await
    }

    /// Two DescribeVpcAttribute requests on the wire, so two tokens.
    async fn describe_vpc_dns_attributes(&self, vpc_id: &str) -> Result<VpcDnsAttributes, Ec2Error> {
        self.call(Ec2Operation::DescribeVpcAttribute, 2, "", || {
            self.inner.describe_vpc_dns_attributes(vpc_id)
        })
        .await
    }

    async fn describe_subnets(&self, vpc_id: &str) -> Result<Vec<Subnet>, Ec2Error> {
        self.call(Ec2Operation::DescribeSubnets, 1, "", || {
            self.inner.describe_subnets(vpc_id)
        })
        .await
    }

    async fn describe_security_groups(&self, vpc_id: &str) -> Result<Vec<SecurityGroup>, Ec2Error> {
        self.call(Ec2Operation::DescribeSecurityGroups, 1, "", || {
            self.inner.describe_security_groups(vpc_id)
        })
        .await
    }

    async fn describe_security_group_rules(
        &self,
        filter: &RuleFilter,
    ) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
        self.call(Ec2Operation::DescribeSecurityGroupRules, 1, "", || {
            self.inner.describe_security_group_rules(filter)
        })
        .await
    }

    async fn describe_network_interfaces(&self, vpc_id: &str) -> Result<Vec<NetworkInterface>, Ec2Error> {
        self.call(Ec2Operation::DescribeNetworkInterfaces, 1, "", || {
            self.inner.describe_network_interfaces(vpc_id)
        })
        .await
    }

    async fn describe_network_acls(&self, vpc_id: &str) -> Result<Vec<NetworkAcl>, Ec2Error> {
        self.call(Ec2Operation::DescribeNetworkAcls, 1, "", || {
            self.inner.describe_network_acls(vpc_id)
        })
        .await
    }

    async fn describe_vpc_endpoints(&self, filter: &EndpointFilter) -> Result<Vec<VpcEndpoint>, Ec2Error> {
        self.call(Ec2Operation::DescribeVpcEndpoints, 1, "", || {
            self.inner.describe_vpc_endpoints(filter)
        })
        .await
    }

    async fn describe_vpc_endpoint_services(
        &self,
        service_names: &[String],
        service_regions: &[String],
    ) -> Result<Vec<ServiceDetail>, Ec2Error> {
        self.call(Ec2Operation::DescribeVpcEndpointServices, 1, "", || {
            self.inner
                .describe_vpc_endpoint_services(service_names, service_regions)
        })
        .await
    }

    async fn describe_managed_prefix_lists(
        &self,
        prefix_list_ids: &[String],
    ) -> Result<Vec<PrefixList>, Ec2Error> {
        self.call(Ec2Operation::DescribeManagedPrefixLists, 1, "", || {
            self.inner.describe_managed_prefix_lists(prefix_list_ids)
        })
        .await
    }

    async fn get_managed_prefix_list_entries(
        &self,
        prefix_list_id: &str,
    ) -> Result<Vec<PrefixListEntry>, Ec2Error> {
        self.call(Ec2Operation::GetManagedPrefixListEntries, 1, "", || {
            self.inner.get_managed_prefix_list_entries(prefix_list_id)
        })
        .await
    }

    async fn describe_flow_logs(&self, log_group_name: &str) -> Result<Vec<FlowLog>, Ec2Error> {
        self.call(Ec2Operation::DescribeFlowLogs, 1, "", || {
            self.inner.describe_flow_logs(log_group_name)
        })
        .await
    }

    async fn describe_route_tables(&self, vpc_id: &str) -> Result<Vec<RouteTable>, Ec2Error> {
        self.call(Ec2Operation::DescribeRouteTables, 1, "", || {
            self.inner.describe_route_tables(vpc_id)
        })
        .await
    }

    /// In line by its ClientToken: the object's, stable from pass to pass.
    async fn create_vpc_endpoint(
        &self,
        request: &CreateVpcEndpoint,
    ) -> Result<Receipt<VpcEndpoint>, Ec2Error> {
        self.call(Ec2Operation::CreateVpcEndpoint, 1, &request.client_token, || {
            self.inner.create_vpc_endpoint(request)
        })
        .await
    }

    /// In line by the endpoint's id.
    async fn modify_vpc_endpoint(&self, request: &ModifyVpcEndpoint) -> Result<Receipt<()>, Ec2Error> {
        self.call(
            Ec2Operation::ModifyVpcEndpoint,
            1,
            &request.vpc_endpoint_id,
            || self.inner.modify_vpc_endpoint(request),
        )
        .await
    }

    /// In line by the endpoints' ids.
    async fn delete_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
    ) -> Result<Receipt<BTreeMap<String, Ec2Error>>, Ec2Error> {
        let key = vpc_endpoint_ids.join(",");
        self.call(Ec2Operation::DeleteVpcEndpoints, 1, &key, || {
            self.inner.delete_vpc_endpoints(vpc_endpoint_ids)
        })
        .await
    }

    async fn authorize_security_group_rules(
        &self,
        request: &AuthorizeRules,
    ) -> Result<Receipt<Vec<SecurityGroupRule>>, Ec2Error> {
        self.call(Ec2Operation::authorize(request.egress), 1, "", || {
            self.inner.authorize_security_group_rules(request)
        })
        .await
    }

    async fn revoke_security_group_rules(&self, request: &RevokeOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        self.call(Ec2Operation::revoke(request.egress), 1, "", || {
            self.inner.revoke_security_group_rules(request)
        })
        .await
    }

    async fn tag_security_group_rules(&self, request: &RetagOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        self.call(Ec2Operation::CreateTags, 1, "", || {
            self.inner.tag_security_group_rules(request)
        })
        .await
    }

    async fn tag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        tags: &[Tag],
    ) -> Result<Receipt<()>, Ec2Error> {
        self.call(Ec2Operation::CreateTags, 1, "", || {
            self.inner.tag_vpc_endpoints(vpc_endpoint_ids, tags)
        })
        .await
    }

    async fn untag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        keys: &[String],
    ) -> Result<Receipt<()>, Ec2Error> {
        self.call(Ec2Operation::DeleteTags, 1, "", || {
            self.inner.untag_vpc_endpoints(vpc_endpoint_ids, keys)
        })
        .await
    }
}

/// Which budget a port draws on: the account (`None`: the controller's own) and the region.
type BudgetKey = (Option<String>, Option<String>);

/// Hands out ports behind one [`AccountBudget`] per account and region, shared by every
/// object acting there (the controller's own account, and each account a grant's role
/// reaches). The budgets live as long as the provider: as many as accounts times regions.
pub struct BudgetedProvider<P> {
    inner: P,
    share: f64,
    clock: Arc<dyn BudgetClock>,
    observer: Arc<dyn BudgetObserver>,
    budgets: Mutex<BTreeMap<BudgetKey, Arc<AccountBudget>>>,
}

impl<P: Ec2Provider> BudgetedProvider<P> {
    /// `share`: the fraction of each account's EC2 budget the controller takes, in (0, 1].
    pub fn new(inner: P, share: f64, clock: Arc<dyn BudgetClock>, observer: Arc<dyn BudgetObserver>) -> Self {
        Self {
            inner,
            share,
            clock,
            observer,
            budgets: Mutex::new(BTreeMap::new()),
        }
    }

    /// The budget of `account` (`None`: the controller's own) in `region`.
    pub fn budget(&self, account: Option<String>, region: Option<String>) -> Arc<AccountBudget> {
        let mut budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        budgets
            .entry((account, region))
            .or_insert_with(|| Arc::new(AccountBudget::new(self.share)))
            .clone()
    }

    fn wrap(&self, inner: Arc<P::Client>, account: Option<String>) -> Arc<BudgetedEc2<P::Client>> {
        let budget = self.budget(account, inner.region());
        Arc::new(BudgetedEc2::new(
            inner,
            budget,
            self.clock.clone(),
            self.observer.clone(),
        ))
    }
}

/// The account of a role ARN (`arn:aws:iam::111122223333:role/name`), or the ARN itself when it
/// names none: roles of one account share its budget.
fn role_account(role_arn: &str) -> String {
    match role_arn.split(':').nth(4) {
        Some(account) if !account.is_empty() => account.to_string(),
        _ => role_arn.to_string(),
    }
}

impl<P: Ec2Provider> Ec2Provider for BudgetedProvider<P> {
    type Client = BudgetedEc2<P::Client>;

    async fn client(&self, region: Option<&str>) -> Result<Arc<Self::Client>, ProviderError> {
        let inner = self.inner.client(region).await?;
        Ok(self.wrap(inner, None))
    }

    async fn client_as(
        &self,
        region: Option<&str>,
        role: &AssumeRole,
    ) -> Result<Arc<Self::Client>, AccountAccessError> {
        let inner = self.inner.client_as(region, role).await?;
        Ok(self.wrap(inner, Some(role_account(&role.role_arn))))
    }

    fn default_region(&self) -> Option<String> {
        self.inner.default_region()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_of_one_account_share_its_budget() {
        assert_eq!(
            role_account("arn:aws:iam::111122223333:role/vpce-rollout"),
            "111122223333"
        );
        assert_eq!(role_account("not-an-arn"), "not-an-arn");
    }

    #[test]
    fn waits_read_in_seconds() {
        assert_eq!(seconds(Duration::from_millis(3334)), "3.4 s");
        assert_eq!(seconds(Duration::from_millis(65_001)), "66 s");
    }
}

/// CloudWatch Logs calls are another service's, outside EC2's buckets: passed through.
impl<P: Ec2Provider + crate::logs::LogsProvider> crate::logs::LogsProvider for BudgetedProvider<P> {
    type Logs = P::Logs;

    async fn logs(&self, region: Option<&str>) -> Result<Arc<P::Logs>, ProviderError> {
        self.inner.logs(region).await
    }

    async fn logs_as(
        &self,
        region: Option<&str>,
        role: &crate::aws::AssumeRole,
    ) -> Result<Arc<P::Logs>, crate::aws::AccountAccessError> {
        self.inner.logs_as(region, role).await
    }
}
