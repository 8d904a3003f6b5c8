//! The EC2 port the benchmarks' passes use over the simulated world (shared by
//! `observation.rs` and `footprint.rs` as a module).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use vpce_rollout::aws::sim::SimEc2;
use vpce_rollout::aws::{
    AccountUnknown, AuthorizeRules, CreateVpcEndpoint, Ec2, Ec2Error, EndpointFilter, ModifyVpcEndpoint,
    Receipt, RetagOwnedRules, RevokeOwnedRules, RuleFilter,
};
use vpce_rollout::model::{
    FlowLog, NetworkAcl, NetworkInterface, PrefixList, PrefixListEntry, RouteTable, SecurityGroup,
    SecurityGroupRule, ServiceDetail, Subnet, Tag, Vpc, VpcDnsAttributes, VpcEndpoint,
};

/// The EC2 port of one VPC's simulated world, for passes run by a benchmark on this thread.
/// It adds up the thread's CPU time spent inside its calls (the I/O side of a pass), and may
/// yield once before each call, as a call over the network does: passes run together
/// (`join_all`) then interleave at their calls, and join one another's refreshes of the
/// shared observation as the controller's concurrent passes do. The simulated world answers
/// at once otherwise, so that a pass would run from its start to its end in one poll.
pub struct Port<'a> {
    sim: &'a SimEc2,
    yields: bool,
    io_nanos: AtomicU64,
}

impl<'a> Port<'a> {
    /// A port that answers at once.
    #[allow(dead_code)]
    pub fn new(sim: &'a SimEc2) -> Self {
        Self {
            sim,
            yields: false,
            io_nanos: AtomicU64::new(0),
        }
    }

    /// A port that yields once before each call.
    #[allow(dead_code)]
    pub fn yielding(sim: &'a SimEc2) -> Self {
        Self {
            yields: true,
            ..Self::new(sim)
        }
    }

    async fn io<T>(&self, call: impl Future<Output = T>) -> T {
        if self.yields {
            YieldNow(false).await;
        }
        let start = thread_cpu();
        let answer = call.await;
        let spent = thread_cpu().saturating_sub(start);
        self.io_nanos
            .fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
        answer
    }

    /// The thread's CPU time inside the calls since the last take.
    #[allow(dead_code)]
    pub fn take_io(&self) -> Duration {
        Duration::from_nanos(self.io_nanos.swap(0, Ordering::Relaxed))
    }
}

/// Pending once (waking itself), then ready.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// This thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid pointer to a timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_THREAD_CPUTIME_ID");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Ec2 for Port<'_> {
    fn region(&self) -> Option<String> {
        Ec2::region(self.sim)
    }
    async fn account(&self) -> Result<String, AccountUnknown> {
        self.io(self.sim.account()).await
    }
    async fn describe_vpcs(&self, vpc_ids: &[String]) -> Result<Vec<Vpc>, Ec2Error> {
        self.io(self.sim.describe_vpcs(vpc_ids)).await
    }
    async fn describe_vpc_dns_attributes(&self, vpc_id: &str) -> Result<VpcDnsAttributes, Ec2Error> {
        self.io(self.sim.describe_vpc_dns_attributes(vpc_id)).await
    }
    async fn describe_subnets(&self, vpc_id: &str) -> Result<Vec<Subnet>, Ec2Error> {
        self.io(self.sim.describe_subnets(vpc_id)).await
    }
    async fn describe_security_groups(&self, vpc_id: &str) -> Result<Vec<SecurityGroup>, Ec2Error> {
        self.io(self.sim.describe_security_groups(vpc_id)).await
    }
    async fn describe_security_group_rules(
        &self,
        filter: &RuleFilter,
    ) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
        self.io(self.sim.describe_security_group_rules(filter)).await
    }
    async fn describe_network_interfaces(&self, vpc_id: &str) -> Result<Vec<NetworkInterface>, Ec2Error> {
        self.io(self.sim.describe_network_interfaces(vpc_id)).await
    }
    async fn describe_network_acls(&self, vpc_id: &str) -> Result<Vec<NetworkAcl>, Ec2Error> {
        self.io(self.sim.describe_network_acls(vpc_id)).await
    }
    async fn describe_vpc_endpoints(&self, filter: &EndpointFilter) -> Result<Vec<VpcEndpoint>, Ec2Error> {
        self.io(self.sim.describe_vpc_endpoints(filter)).await
    }
    async fn describe_vpc_endpoint_services(
        &self,
        service_names: &[String],
        service_regions: &[String],
    ) -> Result<Vec<ServiceDetail>, Ec2Error> {
        self.io(self
            .sim
            .describe_vpc_endpoint_services(service_names, service_regions))
            .await
    }
    async fn describe_managed_prefix_lists(
        &self,
        prefix_list_ids: &[String],
    ) -> Result<Vec<PrefixList>, Ec2Error> {
        self.io(self.sim.describe_managed_prefix_lists(prefix_list_ids))
            .await
    }
    async fn get_managed_prefix_list_entries(
        &self,
        prefix_list_id: &str,
    ) -> Result<Vec<PrefixListEntry>, Ec2Error> {
        self.io(self.sim.get_managed_prefix_list_entries(prefix_list_id))
            .await
    }
    async fn describe_flow_logs(&self, log_group_name: &str) -> Result<Vec<FlowLog>, Ec2Error> {
        self.io(self.sim.describe_flow_logs(log_group_name)).await
    }
    async fn describe_route_tables(&self, vpc_id: &str) -> Result<Vec<RouteTable>, Ec2Error> {
        self.io(self.sim.describe_route_tables(vpc_id)).await
    }
    async fn create_vpc_endpoint(
        &self,
        request: &CreateVpcEndpoint,
    ) -> Result<Receipt<VpcEndpoint>, Ec2Error> {
        self.io(self.sim.create_vpc_endpoint(request)).await
    }
    async fn modify_vpc_endpoint(&self, request: &ModifyVpcEndpoint) -> Result<Receipt<()>, Ec2Error> {
        self.io(self.sim.modify_vpc_endpoint(request)).await
    }
    async fn delete_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
    ) -> Result<Receipt<BTreeMap<String, Ec2Error>>, Ec2Error> {
        self.io(self.sim.delete_vpc_endpoints(vpc_endpoint_ids)).await
    }
    async fn authorize_security_group_rules(
        &self,
        request: &AuthorizeRules,
    ) -> Result<Receipt<Vec<SecurityGroupRule>>, Ec2Error> {
        self.io(self.sim.authorize_security_group_rules(request)).await
    }
    async fn revoke_security_group_rules(&self, request: &RevokeOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        self.io(self.sim.revoke_security_group_rules(request)).await
    }
    async fn tag_security_group_rules(&self, request: &RetagOwnedRules) -> Result<Receipt<()>, Ec2Error> {
        self.io(self.sim.tag_security_group_rules(request)).await
    }
    async fn tag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        tags: &[Tag],
    ) -> Result<Receipt<()>, Ec2Error> {
        self.io(self.sim.tag_vpc_endpoints(vpc_endpoint_ids, tags)).await
    }
    async fn untag_vpc_endpoints(
        &self,
        vpc_endpoint_ids: &[String],
        keys: &[String],
    ) -> Result<Receipt<()>, Ec2Error> {
        self.io(self.sim.untag_vpc_endpoints(vpc_endpoint_ids, keys))
            .await
    }
}
