//! Reading VPC Flow Logs for the canary: the connections to the endpoint's network interfaces
//! that were rejected in a window, counted per source address.
//!
//! Flow log records are space-separated fields in the flow log's `LogFormat` (learnt from
//! DescribeFlowLogs, [`DEFAULT_FLOW_LOG_FORMAT`] otherwise). A bounded FilterLogEvents scan for
//! the quoted term `REJECT` reads them: the canary's window is minutes, REJECT records are a
//! small part of a VPC's flow logs, and a scan bills no bytes scanned (Logs Insights would, over
//! every record of the group in the window). The records are parsed here by the format; only
//! those whose destination is an endpoint address, on one of the endpoint's ports, with action
//! `REJECT`, are kept. A scan the bound cut short says so (`complete: false`).

use std::collections::BTreeMap;
use std::net::IpAddr;

pub use super::records::DEFAULT_FLOW_LOG_FORMAT;
use super::{FilterLogEvents, LogEvent, Logs, LogsError};

/// The fields of one record the canary needs, as the format places them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    pub interface_id: Option<String>,
    pub srcaddr: IpAddr,
    pub dstaddr: IpAddr,
    pub dstport: Option<u16>,
    pub action: String,
}

/// The field names of a `LogFormat` (`${srcaddr} ${dstaddr}` → `srcaddr`, `dstaddr`).
pub fn fields(log_format: &str) -> Vec<&str> {
    log_format
        .split_whitespace()
        .map(|f| f.trim_start_matches("${").trim_end_matches('}'))
        .collect()
}

/// Parses one record by the format's fields; `None` for a line that is not a record of it (a
/// `NODATA`/`SKIPDATA` record has `-` addresses, a header, another format).
pub fn parse(fields: &[&str], line: &str) -> Option<FlowRecord> {
    let values: Vec<&str> = line.split_whitespace().collect();
    if values.len() != fields.len() {
        return None;
    }
    let get = |name: &str| {
        fields
            .iter()
            .position(|f| *f == name)
            .map(|i| values[i])
            .filter(|v| *v != "-")
    };
    Some(FlowRecord {
        interface_id: get("interface-id").map(str::to_string),
        // The packet's own addresses when the format has them (traffic through a NAT or a
        // load balancer), else the interface's.
        srcaddr: get("pkt-srcaddr").or_else(|| get("srcaddr"))?.parse().ok()?,
        dstaddr: get("pkt-dstaddr").or_else(|| get("dstaddr"))?.parse().ok()?,
        dstport: get("dstport").and_then(|p| p.parse().ok()),
        action: get("action")?.to_string(),
    })
}

/// Rejected connections from one source to the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    pub srcaddr: IpAddr,
    /// The endpoint's network interface (the record's `interface-id`, else the one holding the
    /// destination address).
    pub endpoint_interface_id: Option<String>,
    pub dstport: u16,
    pub records: u64,
    /// Epoch milliseconds of the last record.
    pub last_seen_ms: i64,
}

/// What one read found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRejects {
    /// Per source address, sorted by address.
    pub rejects: Vec<Reject>,
    /// REJECT records read (to any destination).
    pub records_read: usize,
    pub calls: u32,
    pub complete: bool,
}

/// The window and what counts as the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowWindow {
    pub log_group_name: String,
    pub log_format: String,
    /// Epoch milliseconds, inclusive.
    pub start_ms: i64,
    pub end_ms: i64,
    /// The endpoint's addresses → its network interface.
    pub destinations: BTreeMap<IpAddr, String>,
    /// The endpoint's ports (tcp).
    pub ports: Vec<u16>,
    pub max_scan_events: usize,
}

/// The REJECT records to the endpoint among `events`, counted per source.
pub fn rejects(events: &[LogEvent], window: &FlowWindow) -> Vec<Reject> {
    let fields = fields(&window.log_format);
    let mut by_source: BTreeMap<IpAddr, Reject> = BTreeMap::new();
    for event in events {
        let Some(record) = parse(&fields, &event.message) else {
            continue;
        };
        if record.action != "REJECT" {
            continue;
        }
        let Some(eni) = window.destinations.get(&record.dstaddr) else {
            continue;
        };
        // A format without `dstport` cannot tell the port: every rejected connection to the
        // endpoint counts (the endpoint serves its ports only).
        let port = match record.dstport {
            Some(p) if window.ports.contains(&p) => p,
            Some(_) => continue,
            None => window.ports.first().copied().unwrap_or(0),
        };
        let entry = by_source.entry(record.srcaddr).or_insert_with(|| Reject {
            srcaddr: record.srcaddr,
            endpoint_interface_id: record.interface_id.clone().or_else(|| Some(eni.clone())),
            dstport: port,
            records: 0,
            last_seen_ms: event.timestamp_ms,
        });
        entry.records += 1;
        if event.timestamp_ms >= entry.last_seen_ms {
            entry.last_seen_ms = event.timestamp_ms;
            entry.endpoint_interface_id = record.interface_id.or_else(|| Some(eni.clone()));
            entry.dstport = port;
        }
    }
    by_source.into_values().collect()
}

/// Reads the rejected connections to the endpoint in the window: one bounded FilterLogEvents
/// scan for `REJECT`.
pub async fn read<L: Logs>(logs: &L, window: &FlowWindow) -> Result<FlowRejects, LogsError> {
    let scan = FilterLogEvents {
        log_group_name: window.log_group_name.clone(),
        start_time_ms: window.start_ms,
        end_time_ms: window.end_ms,
        filter_pattern: Some("\"REJECT\"".to_string()),
        max_events: window.max_scan_events,
    };
    let read = logs.filter_log_events(&scan).await?;
    Ok(FlowRejects {
        rejects: rejects(&read.events, window),
        records_read: read.events.len(),
        calls: read.calls,
        complete: read.complete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogsOperation;
    use crate::logs::records::{Flow, flow_log_record};
    use crate::logs::sim::SimLogs;

    fn flow<'a>(src: &str, dst: &str, port: u16, action: &'a str) -> Flow<'a> {
        Flow {
            account_id: "123456789012",
            interface_id: "eni-0vpce1",
            srcaddr: src.parse().unwrap(),
            dstaddr: dst.parse().unwrap(),
            srcport: 49152,
            dstport: port,
            start: 1_000,
            end: 1_060,
            action,
        }
    }

    fn window(format: &str) -> FlowWindow {
        FlowWindow {
            log_group_name: "/flow".into(),
            log_format: format.into(),
            start_ms: 0,
            end_ms: 1_000_000,
            destinations: [("10.0.1.100".parse().unwrap(), "eni-0vpce1".to_string())].into(),
            ports: vec![443],
            max_scan_events: 1_000,
        }
    }

    #[tokio::test]
    async fn only_rejects_to_the_endpoint_on_its_port_count_per_source() {
        let logs = SimLogs::new("ap-northeast-1");
        let f = DEFAULT_FLOW_LOG_FORMAT;
        logs.put_events(
            "/flow",
            "eni-0vpce1-all",
            [
                (
                    1_000,
                    flow_log_record(f, &flow("10.0.1.30", "10.0.1.100", 443, "REJECT")),
                ),
                (
                    5_000,
                    flow_log_record(f, &flow("10.0.1.30", "10.0.1.100", 443, "REJECT")),
                ),
                (
                    2_000,
                    flow_log_record(f, &flow("10.0.1.31", "10.0.1.100", 443, "ACCEPT")),
                ),
                (
                    3_000,
                    flow_log_record(f, &flow("10.0.1.32", "10.0.1.100", 22, "REJECT")),
                ),
                (
                    4_000,
                    flow_log_record(f, &flow("10.0.1.33", "10.0.9.9", 443, "REJECT")),
                ),
                (
                    6_000,
                    "2 123456789012 eni-0vpce1 - - - - - - - 1 2 - NODATA".to_string(),
                ),
            ],
        );
        let read = read(&logs, &window(f)).await.unwrap();
        assert_eq!(
            read.rejects,
            [Reject {
                srcaddr: "10.0.1.30".parse().unwrap(),
                endpoint_interface_id: Some("eni-0vpce1".into()),
                dstport: 443,
                records: 2,
                last_seen_ms: 5_000,
            }]
        );
        assert_eq!(read.records_read, 4, "the scan asks for REJECT records only");
        assert!(read.complete);
        assert_eq!(logs.calls(LogsOperation::FilterLogEvents), 1);
    }

    #[test]
    fn a_custom_format_is_read_by_its_fields() {
        let format = "${action} ${dstport} ${pkt-dstaddr} ${srcaddr} ${dstaddr} ${vpc-id}";
        let line = flow_log_record(format, &flow("10.0.1.30", "10.0.1.100", 443, "REJECT"));
        assert_eq!(line, "REJECT 443 10.0.1.100 10.0.1.30 10.0.1.100 -");
        let rejects = rejects(
            &[LogEvent {
                timestamp_ms: 7,
                message: line.clone(),
                log_stream_name: None,
            }],
            &window(format),
        );
        assert_eq!(rejects.len(), 1);
        assert_eq!(
            rejects[0].endpoint_interface_id.as_deref(),
            Some("eni-0vpce1"),
            "no interface-id field: the ENI holding the destination"
        );
        // The same line read with the default format is not a record of it.
        assert_eq!(parse(&fields(DEFAULT_FLOW_LOG_FORMAT), &line), None);
    }
}
