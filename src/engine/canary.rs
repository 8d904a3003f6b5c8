//! The canary part of observe: once private DNS is on, the flow logs `spec.verification` names
//! are read for the connections to the endpoint that were rejected (the records' format from
//! DescribeFlowLogs through the EC2 port, the records through the CloudWatch Logs port). What
//! the read found, or why it could not read, goes to [`plan::canary`] (pure).

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::jiff::Timestamp;

use crate::analysis::evidence::parse_lookback;
use crate::api::{InterfaceEndpointSpec, InterfaceEndpointStatus};
use crate::aws::Ec2;
use crate::logs::Logs;
use crate::logs::flow::{self, DEFAULT_FLOW_LOG_FORMAT, FlowWindow};
use crate::model::{FlowLog, Snapshot};
use crate::plan::canary::{CanaryRead, FormatSource, on_since, seen_on_until_now};

/// The most REJECT records one read scans: ten pages of the API's largest.
pub const MAX_SCAN_EVENTS: usize = 100_000;

/// The flow log whose format applies: one of the VPC's (else of a subnet or ENI) delivering to
/// the group.
fn format_of<'a>(flow_logs: &'a [FlowLog], vpc_id: &str) -> Option<&'a FlowLog> {
    flow_logs
        .iter()
        .filter(|f| {
            f.log_destination_type
                .as_deref()
                .is_none_or(|t| t == "cloud-watch-logs")
        })
        .min_by_key(|f| f.resource_id != vpc_id)
}

/// Reads the flow logs `spec` names; `None` when it names none, or private DNS is not on.
pub async fn observe<E: Ec2, L: Logs>(
    ec2: &E,
    logs: &L,
    spec: &InterfaceEndpointSpec,
    previous: &InterfaceEndpointStatus,
    world: &Snapshot,
    vpc_id: &str,
    now: Timestamp,
) -> Option<CanaryRead> {
    let source = &spec.verification.as_ref()?.flow_logs;
    let endpoint = world
        .vpc_endpoints
        .iter()
        .find(|e| previous.endpoint_id.as_deref() == Some(e.vpc_endpoint_id.as_str()))?;
    let window_start = on_since(Some(endpoint), previous, now)
        .or_else(|| seen_on_until_now(Some(endpoint), previous, spec))?;
    let mut read = CanaryRead {
        log_group_name: source.log_group_name.clone(),
        window_start,
        window: std::time::Duration::ZERO,
        read_from: window_start,
        read_to: now,
        format: FormatSource::DescribeFlowLogs,
        outcome: Err(String::new()),
    };
    read.window = match parse_lookback(&source.window) {
        Ok(w) => w,
        Err(why) => {
            read.outcome = Err(format!("spec.verification.flowLogs.window {why}"));
            return Some(read);
        }
    };
    // Each read looks back one window (from the switch at the earliest): in the window, every
    // record since the switch; after it, the last window's.
    let back = now.checked_sub(read.window).unwrap_or(now);
    read.read_from = back.max(window_start);
    let log_format = match ec2.describe_flow_logs(&source.log_group_name).await {
        Ok(flow_logs) => match format_of(&flow_logs, vpc_id) {
            Some(f) => f
                .log_format
                .clone()
                .filter(|f| !f.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_FLOW_LOG_FORMAT.to_string()),
            None => {
                read.format = FormatSource::Default(format!(
                    "no flow log delivering to {} was found",
                    source.log_group_name
                ));
                DEFAULT_FLOW_LOG_FORMAT.to_string()
            }
        },
        Err(e) => {
            read.format = FormatSource::Default(format!("DescribeFlowLogs failed: {}", e.message));
            DEFAULT_FLOW_LOG_FORMAT.to_string()
        }
    };
    let destinations: BTreeMap<IpAddr, String> = world
        .network_interfaces
        .iter()
        .filter(|n| endpoint.network_interface_ids.contains(&n.network_interface_id))
        .flat_map(|n| {
            n.private_ip_address
                .iter()
                .chain(n.private_ip_addresses.iter().map(|a| &a.private_ip_address))
                .chain(n.ipv6_addresses.iter().map(|a| &a.ipv6_address))
                .filter_map(|a| a.parse::<IpAddr>().ok())
                .map(|a| (a, n.network_interface_id.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let window = FlowWindow {
        log_group_name: source.log_group_name.clone(),
        log_format,
        start_ms: read.read_from.as_millisecond(),
        end_ms: now.as_millisecond(),
        destinations,
        ports: spec.ports.clone(),
        max_scan_events: MAX_SCAN_EVENTS,
    };
    read.outcome = flow::read(logs, &window)
        .await
        .map_err(|e| format!("{} ({})", e, e.kind.as_str()));
    Some(read)
}
