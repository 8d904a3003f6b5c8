//! Log records as AWS writes them, made from a world: Route 53 Resolver query log records of
//! clients resolving a name, and VPC Flow Log records of their connections to the endpoint,
//! ACCEPT or REJECT by the same reachability rules the analysis applies. For the simulated
//! world ([`crate::aws::sim::SimEc2::resolver_query_records`] and
//! [`crate::aws::sim::SimEc2::flow_log_records`]), the demo and tests; the readers parse what AWS
//! writes, so these follow AWS's formats field for field.

use std::net::IpAddr;

use k8s_openapi::jiff::Timestamp;

use crate::analysis::ClientVerdict;

/// Where a query came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuerySource {
    /// An EC2 instance (or another ENI) of the VPC: `srcids.instance` when it is an instance's.
    Vpc { instance_id: Option<String> },
    /// Through a Resolver inbound endpoint, from outside the VPC: `srcids.resolver_endpoint`.
    InboundEndpoint { resolver_endpoint_id: String },
}

/// One Route 53 Resolver query log record (version 1.100000, JSON), as delivered to CloudWatch
/// Logs: the name as queried, with its trailing dot.
pub fn resolver_query(
    account_id: &str,
    region: &str,
    vpc_id: &str,
    at_ms: i64,
    query_name: &str,
    srcaddr: IpAddr,
    source: &QuerySource,
) -> String {
    let name = if query_name.ends_with('.') {
        query_name.to_string()
    } else {
        format!("{query_name}.")
    };
    let srcids = match source {
        QuerySource::Vpc { instance_id: Some(i) } => serde_json::json!({ "instance": i }),
        QuerySource::Vpc { instance_id: None } => serde_json::json!({}),
        QuerySource::InboundEndpoint { resolver_endpoint_id } => {
            serde_json::json!({ "resolver_endpoint": resolver_endpoint_id })
        }
    };
    let at = Timestamp::from_millisecond(at_ms).unwrap_or(Timestamp::UNIX_EPOCH);
    serde_json::json!({
        "version": "1.100000",
        "account_id": account_id,
        "region": region,
        "vpc_id": vpc_id,
        "query_timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "query_name": name,
        "query_type": "A",
        "query_class": "IN",
        "rcode": "NOERROR",
        "answers": [],
        "srcaddr": srcaddr.to_string(),
        "srcport": "53210",
        "transport": "UDP",
        "srcids": srcids,
    })
    .to_string()
}

/// The fields of the default VPC Flow Logs format, in order (`LogFormat` when a flow log was
/// created without one).
pub const DEFAULT_FLOW_LOG_FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} \
     ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";

/// One flow of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow<'a> {
    pub account_id: &'a str,
    /// The ENI the record is captured on.
    pub interface_id: &'a str,
    pub srcaddr: IpAddr,
    pub dstaddr: IpAddr,
    pub srcport: u16,
    pub dstport: u16,
    /// Epoch seconds of the aggregation interval.
    pub start: i64,
    pub end: i64,
    /// `ACCEPT` or `REJECT`.
    pub action: &'a str,
}

/// A flow log record in `log_format` (the flow log's `LogFormat`, fields `${name}` separated by
/// spaces; unknown fields are written `-`, as AWS writes fields that do not apply).
pub fn flow_log_record(log_format: &str, flow: &Flow<'_>) -> String {
    log_format
        .split_whitespace()
        .map(|field| {
            let name = field.trim_start_matches("${").trim_end_matches('}');
            match name {
                "version" => "2".to_string(),
                "account-id" => flow.account_id.to_string(),
                "interface-id" => flow.interface_id.to_string(),
                "srcaddr" | "pkt-srcaddr" => flow.srcaddr.to_string(),
                "dstaddr" | "pkt-dstaddr" => flow.dstaddr.to_string(),
                "srcport" => flow.srcport.to_string(),
                "dstport" => flow.dstport.to_string(),
                "protocol" => "6".to_string(),
                "packets" => if flow.action == "ACCEPT" { "10" } else { "3" }.to_string(),
                "bytes" => if flow.action == "ACCEPT" { "5120" } else { "180" }.to_string(),
                "start" => flow.start.to_string(),
                "end" => flow.end.to_string(),
                "action" => flow.action.to_string(),
                "log-status" => "OK".to_string(),
                _ => "-".to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// ACCEPT or REJECT for a client's connection to `destination`, by the analysis's verdict: a
/// block towards that destination is a REJECT (at the security group or ACL that blocks it).
pub fn action_towards(verdict: &ClientVerdict, destination: IpAddr) -> &'static str {
    let blocked = verdict
        .blocks
        .iter()
        .any(|b| b.destination.contains(&destination));
    if blocked { "REJECT" } else { "ACCEPT" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_record_is_the_json_the_resolver_writes() {
        let record = resolver_query(
            "123456789012",
            "ap-northeast-1",
            "vpc-1",
            1_796_600_000_000,
            "logs.ap-northeast-1.amazonaws.com",
            "10.0.1.30".parse().unwrap(),
            &QuerySource::Vpc {
                instance_id: Some("i-0zabbix".into()),
            },
        );
        let v: serde_json::Value = serde_json::from_str(&record).unwrap();
        assert_eq!(v["query_name"], "logs.ap-northeast-1.amazonaws.com.");
        assert_eq!(v["srcids"]["instance"], "i-0zabbix");
        assert_eq!(v["srcaddr"], "10.0.1.30");
        assert!(v["query_timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn a_flow_record_follows_the_flow_logs_format() {
        let flow = Flow {
            account_id: "123456789012",
            interface_id: "eni-0vpce",
            srcaddr: "10.0.1.30".parse().unwrap(),
            dstaddr: "10.0.1.100".parse().unwrap(),
            srcport: 49152,
            dstport: 443,
            start: 1_796_600_000,
            end: 1_796_600_060,
            action: "REJECT",
        };
        assert_eq!(
            flow_log_record(DEFAULT_FLOW_LOG_FORMAT, &flow),
            "2 123456789012 eni-0vpce 10.0.1.30 10.0.1.100 49152 443 6 3 180 1796600000 1796600060 REJECT OK"
        );
        assert_eq!(
            flow_log_record("${srcaddr} ${dstaddr} ${action} ${vpc-id}", &flow),
            "10.0.1.30 10.0.1.100 REJECT -"
        );
    }
}
