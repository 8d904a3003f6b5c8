//! The state of the simulated EC2 world, and its conversion from and to a [`Snapshot`].
//!
//! Security group rules are the source of truth (`rules`); a group's `IpPermissions` are always
//! derived from them (see `security_groups.rs`), so the two views cannot disagree. Endpoints carry
//! their lifecycle (when they become visible, when they turn `available` or disappear), applied
//! lazily by [`World::settle`] at the start of every call.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::SimConfig;
use super::ids::IdSequence;
use crate::model::{
    AttributeBoolean, FlowLog, NetworkAcl, NetworkInterface, PrefixList, PrefixListEntry, RouteTable,
    SecurityGroup, SecurityGroupRule, ServiceDetail, Snapshot, Subnet, Vpc, VpcDnsAttributes, VpcEndpoint,
};

/// The moment a call happens, in both forms the world needs.
#[derive(Clone, Copy, Debug)]
pub(super) struct Now {
    /// Virtual time since the clock started (for delays).
    pub elapsed: Duration,
    /// Wall-clock time (for `CreationTimestamp`).
    pub timestamp: Timestamp,
}

/// What happens to an endpoint when its time comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lifecycle {
    /// `pending` → `available`.
    BecomeAvailable,
    /// `deleting` → gone, with its network interfaces.
    Disappear,
}

/// An endpoint and the simulation's bookkeeping about it.
#[derive(Clone, Debug)]
pub(super) struct SimEndpoint {
    pub endpoint: VpcEndpoint,
    /// The random-looking label in its DNS names (`vpce-…-<label>.logs…`).
    pub dns_label: String,
    /// Describes see the endpoint from this time on (EC2 is eventually consistent).
    pub visible_from: Duration,
    pub next: Option<(Duration, Lifecycle)>,
}

impl SimEndpoint {
    pub(super) fn is_visible(&self, now: Duration) -> bool {
        self.visible_from <= now
    }
}

/// What a ClientToken was first used for.
#[derive(Clone, Debug)]
pub(super) struct ClientTokenUse {
    pub fingerprint: CreateFingerprint,
    pub endpoint_id: String,
    /// The first response, returned again if the endpoint is gone by now.
    pub response: VpcEndpoint,
}

/// The parameters of a CreateVpcEndpoint that idempotency compares (lists as sets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CreateFingerprint {
    pub vpc_id: String,
    pub service_name: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub policy_document: Option<String>,
    pub ip_address_type: Option<crate::api::IpAddressType>,
    pub dns_record_ip_type: Option<crate::api::DnsRecordIpType>,
    pub subnet_configurations: Vec<crate::api::SubnetConfiguration>,
    pub tags: Vec<(String, String)>,
}

/// Everything the simulated account holds in its region.
#[derive(Clone, Debug, Default)]
pub(super) struct World {
    pub region: String,
    pub account_id: String,
    pub vpcs: BTreeMap<String, Vpc>,
    pub vpc_attributes: BTreeMap<String, VpcDnsAttributes>,
    pub subnets: BTreeMap<String, Subnet>,
    /// Group metadata; `IpPermissions*` are kept empty here and derived from `rules`.
    pub groups: BTreeMap<String, SecurityGroup>,
    /// Every rule of every group, in creation order.
    pub rules: Vec<SecurityGroupRule>,
    pub network_interfaces: BTreeMap<String, NetworkInterface>,
    pub network_acls: BTreeMap<String, NetworkAcl>,
    pub endpoints: BTreeMap<String, SimEndpoint>,
    pub services: BTreeMap<String, ServiceDetail>,
    pub prefix_lists: BTreeMap<String, PrefixList>,
    pub prefix_list_entries: BTreeMap<String, Vec<PrefixListEntry>>,
    /// Flow logs (DescribeFlowLogs), as [`super::SimEc2::create_flow_log`] made them.
    pub flow_logs: Vec<FlowLog>,
    /// Route tables (DescribeRouteTables), as [`super::SimEc2::create_route_table`] made them.
    pub route_tables: BTreeMap<String, RouteTable>,
    pub client_tokens: BTreeMap<String, ClientTokenUse>,
    pub ids: IdSequence,
    /// Rule ids not drawn from `ids` (from a snapshot's `SecurityGroupRules`).
    pub external_rule_ids: HashSet<String>,
}

impl World {
    /// Loads a snapshot at `now`. Endpoints in it are visible at once; a `pending` one becomes
    /// available after the provisioning delay, a `deleting` one disappears after the deletion delay.
    pub(super) fn from_snapshot(
        snapshot: &Snapshot,
        region: String,
        config: &SimConfig,
        now: Duration,
    ) -> World {
        let mut world = World {
            region,
            account_id: config.account_id.clone(),
            ..Default::default()
        };
        world.vpcs = by_id(&snapshot.vpcs, |v| &v.vpc_id);
        world.vpc_attributes = snapshot.vpc_attributes.clone();
        world.subnets = by_id(&snapshot.subnets, |s| &s.subnet_id);
        world.network_interfaces = by_id(&snapshot.network_interfaces, |n| &n.network_interface_id);
        world.network_acls = by_id(&snapshot.network_acls, |a| &a.network_acl_id);
        world.services = by_id(&snapshot.service_details, |s| &s.service_name);
        world.prefix_lists = by_id(&snapshot.prefix_lists, |p| &p.prefix_list_id);
        world.prefix_list_entries = snapshot.prefix_list_entries.clone();
        for group in &snapshot.security_groups {
            world.add_group(group);
        }
        world.merge_described_rules(&snapshot.security_group_rules);
        for endpoint in &snapshot.vpc_endpoints {
            let next = match endpoint.state_lower().as_str() {
                "pending" => Some((now + config.provisioning_delay, Lifecycle::BecomeAvailable)),
                "deleting" => Some((now + config.deletion_delay, Lifecycle::Disappear)),
                _ => None,
            };
            let dns_label = dns_label_of(endpoint).unwrap_or_else(|| world.ids.dns_label());
            world.endpoints.insert(
                endpoint.vpc_endpoint_id.clone(),
                SimEndpoint {
                    endpoint: endpoint.clone(),
                    dns_label,
                    visible_from: Duration::ZERO,
                    next,
                },
            );
        }
        world
    }

    /// The whole world as a snapshot (every VPC, every rule, endpoints whether or not describes
    /// can see them yet), in the format [`Snapshot::from_json`] reads.
    pub(super) fn to_snapshot(&self) -> Snapshot {
        // Rules by group, direction and id: an order that survives a reload, unlike creation
        // order (a reload rebuilds rules from each group's permissions).
        let mut rules = self.rules.clone();
        rules.sort_by(|a, b| {
            (&a.group_id, a.is_egress, &a.security_group_rule_id).cmp(&(
                &b.group_id,
                b.is_egress,
                &b.security_group_rule_id,
            ))
        });
        Snapshot {
            vpcs: self.vpcs.values().cloned().collect(),
            vpc_attributes: self
                .vpcs
                .keys()
                .map(|id| (id.clone(), self.dns_attributes(id)))
                .collect(),
            subnets: self.subnets.values().cloned().collect(),
            security_groups: self.security_group_views(self.groups.values()).into(),
            security_group_rules: rules,
            network_interfaces: self.network_interfaces.values().cloned().collect(),
            network_acls: self.network_acls.values().cloned().collect(),
            vpc_endpoints: self.endpoints.values().map(|e| e.endpoint.clone()).collect(),
            service_details: self.services.values().cloned().collect(),
            prefix_lists: self.prefix_lists.values().cloned().collect(),
            prefix_list_entries: self.prefix_list_entries.clone(),
        }
    }

    /// Applies every lifecycle step that is due at `now`.
    pub(super) fn settle(&mut self, now: Duration) {
        let due: Vec<(String, Lifecycle)> = self
            .endpoints
            .iter()
            .filter_map(|(id, e)| match e.next {
                Some((at, step)) if at <= now => Some((id.clone(), step)),
                _ => None,
            })
            .collect();
        for (id, step) in due {
            match step {
                Lifecycle::BecomeAvailable => {
                    if let Some(e) = self.endpoints.get_mut(&id) {
                        e.endpoint.state = Some("available".into());
                        e.next = None;
                    }
                }
                Lifecycle::Disappear => self.remove_endpoint(&id),
            }
        }
    }

    /// Schedules `step` after `delay`, or applies it at once when the delay is zero.
    pub(super) fn schedule(&mut self, endpoint_id: &str, now: Duration, delay: Duration, step: Lifecycle) {
        if let Some(e) = self.endpoints.get_mut(endpoint_id) {
            let at = now + delay;
            // A later step never brings an earlier one forward (e.g. pending for DNS while
            // still provisioning): the endpoint stays in its state until both are done.
            let at = match e.next {
                Some((existing, s)) if s == step => at.max(existing),
                _ => at,
            };
            e.next = Some((at, step));
        }
        if delay.is_zero() {
            self.settle(now);
        }
    }

    /// Removes an endpoint and its network interfaces.
    pub(super) fn remove_endpoint(&mut self, endpoint_id: &str) {
        if let Some(e) = self.endpoints.remove(endpoint_id) {
            for eni in &e.endpoint.network_interface_ids {
                self.network_interfaces.remove(eni);
            }
        }
    }

    /// A VPC's DNS attributes; what the snapshot did not say is `true` (EC2's default for
    /// enableDnsSupport, and what a VPC that runs interface endpoints usually has).
    pub(super) fn dns_attributes(&self, vpc_id: &str) -> VpcDnsAttributes {
        let known = self.vpc_attributes.get(vpc_id);
        let or_true = |a: Option<AttributeBoolean>| Some(a.unwrap_or(AttributeBoolean(true)));
        VpcDnsAttributes {
            enable_dns_support: or_true(known.and_then(|a| a.enable_dns_support)),
            enable_dns_hostnames: or_true(known.and_then(|a| a.enable_dns_hostnames)),
        }
    }

    /// Whether an id of any kind is in use (fresh ids skip these). Ids the sequence drew never
    /// repeat, so only ids that came from outside can clash: endpoints and ENIs are looked up in
    /// their maps, rule ids in the set of those a snapshot or a drift helper brought in.
    pub(super) fn id_taken(&self, id: &str) -> bool {
        self.endpoints.contains_key(id)
            || self.network_interfaces.contains_key(id)
            || self.external_rule_ids.contains(id)
    }
}

fn by_id<T: Clone>(items: &[T], id: impl Fn(&T) -> &String) -> BTreeMap<String, T> {
    items.iter().map(|i| (id(i).clone(), i.clone())).collect()
}

/// The label of `vpce-<id>-<label>.<service>...` in an endpoint's first DNS entry.
fn dns_label_of(endpoint: &VpcEndpoint) -> Option<String> {
    let first = endpoint.dns_entries.first()?;
    let rest = first
        .dns_name
        .strip_prefix(&endpoint.vpc_endpoint_id)?
        .strip_prefix('-')?;
    let label: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    (!label.is_empty()).then_some(label)
}

/// The region a snapshot is from: a service name says it (`com.amazonaws.<region>.logs`),
/// otherwise an Availability Zone (`ap-northeast-1a`), otherwise `us-east-1`.
pub(super) fn infer_region(snapshot: &Snapshot) -> String {
    let from_service = snapshot.service_details.iter().find_map(|s| {
        let rest = s.service_name.strip_prefix("com.amazonaws.")?;
        let rest = rest.strip_prefix("vpce.").unwrap_or(rest);
        let region = rest.split('.').next()?;
        looks_like_region(region).then(|| region.to_string())
    });
    let from_zone = || {
        snapshot
            .subnets
            .iter()
            .filter_map(|s| s.availability_zone.as_deref())
            .find_map(|az| {
                let region = az.trim_end_matches(|c: char| c.is_ascii_lowercase());
                looks_like_region(region).then(|| region.to_string())
            })
    };
    from_service
        .or_else(from_zone)
        .unwrap_or_else(|| "us-east-1".to_string())
}

fn looks_like_region(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    let last = s.rsplit('-').next().unwrap_or_default();
    s.split('-').count() >= 3
        && first.len() == 2
        && first.chars().all(|c| c.is_ascii_lowercase())
        && !last.is_empty()
        && last.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_is_read_from_service_names_then_zones() {
        let s = Snapshot::from_json(
            r#"{"ServiceDetails": [{"ServiceName": "com.amazonaws.vpce.eu-west-3.vpce-svc-1"}],
                "Subnets": [{"SubnetId": "s", "VpcId": "v", "AvailabilityZone": "ap-northeast-1a"}]}"#,
        )
        .unwrap();
        assert_eq!(infer_region(&s), "eu-west-3");
        let s = Snapshot::from_json(
            r#"{"Subnets": [{"SubnetId": "s", "VpcId": "v", "AvailabilityZone": "ap-northeast-1a"}]}"#,
        )
        .unwrap();
        assert_eq!(infer_region(&s), "ap-northeast-1");
        assert_eq!(infer_region(&Snapshot::default()), "us-east-1");
    }

    #[test]
    fn the_dns_label_is_recovered_from_an_endpoint_loaded_from_a_snapshot() {
        let e: VpcEndpoint = serde_json::from_str(
            r#"{"VpcEndpointId": "vpce-01", "VpcId": "v", "ServiceName": "s",
                "DnsEntries": [{"DnsName": "vpce-01-ab12cd34.logs.us-east-1.vpce.amazonaws.com"}]}"#,
        )
        .unwrap();
        assert_eq!(dns_label_of(&e).as_deref(), Some("ab12cd34"));
    }
}
