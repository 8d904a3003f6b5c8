//! What the simulated world's clients leave in the logs AWS keeps: Route 53 Resolver query log
//! records of their resolutions of a name, and VPC Flow Log records of their connections to an
//! endpoint, ACCEPT or REJECT by the analysis's own reachability rules on the world as it is
//! now. Written to [`crate::logs::sim::SimLogs`] by the demo, the simulation and tests.

use std::net::IpAddr;

use super::SimEc2;
use crate::analysis::{self, Analysis};
use crate::api::{InterfaceEndpointSpec, Owner};
use crate::logs::records::{self, Flow, QuerySource};
use crate::model::FlowLog;

impl SimEc2 {
    /// One Resolver query log record per ENI in `eni_ids` (each resolving `name` once at the
    /// world's current time, from its primary address, with `srcids.instance` when it is
    /// attached to an instance), as (timestamp ms, record). Unknown ENIs write nothing.
    pub fn resolver_query_records(&self, eni_ids: &[&str], name: &str) -> Vec<(i64, String)> {
        let snapshot = self.snapshot();
        let config = self.config();
        let region = self.region();
        let at_ms = self.clock().timestamp().as_millisecond();
        snapshot
            .network_interfaces
            .iter()
            .filter(|e| eni_ids.contains(&e.network_interface_id.as_str()))
            .filter_map(|eni| {
                let address: IpAddr = eni.private_ip_address.as_deref()?.parse().ok()?;
                let instance_id = eni.attachment.as_ref().and_then(|a| a.instance_id.clone());
                Some((
                    at_ms,
                    records::resolver_query(
                        &config.account_id,
                        &region,
                        &eni.vpc_id,
                        at_ms,
                        name,
                        address,
                        &QuerySource::Vpc { instance_id },
                    ),
                ))
            })
            .collect()
    }

    /// A Resolver query log record of a query from outside the VPC (`address`) through the
    /// inbound endpoint `resolver_endpoint_id`.
    pub fn inbound_query_record(
        &self,
        vpc_id: &str,
        resolver_endpoint_id: &str,
        address: IpAddr,
        name: &str,
    ) -> (i64, String) {
        let at_ms = self.clock().timestamp().as_millisecond();
        let record = records::resolver_query(
            &self.config().account_id,
            &self.region(),
            vpc_id,
            at_ms,
            name,
            address,
            &QuerySource::InboundEndpoint {
                resolver_endpoint_id: resolver_endpoint_id.to_string(),
            },
        );
        (at_ms, record)
    }

    /// A flow log of `resource_id` (a VPC, subnet or ENI) delivering to the CloudWatch Logs
    /// group `log_group_name` in `log_format` (`None`: the default format, which AWS then
    /// reports as its fields), as CreateFlowLogs makes it; its id.
    pub fn create_flow_log(
        &self,
        resource_id: &str,
        log_group_name: &str,
        log_format: Option<&str>,
    ) -> String {
        let mut state = self.lock();
        let id = format!("fl-{:017x}", state.world.flow_logs.len() + 1);
        state.world.flow_logs.push(FlowLog {
            flow_log_id: id.clone(),
            resource_id: resource_id.to_string(),
            log_group_name: Some(log_group_name.to_string()),
            log_destination_type: Some("cloud-watch-logs".into()),
            log_format: Some(log_format.unwrap_or(records::DEFAULT_FLOW_LOG_FORMAT).to_string()),
            traffic_type: Some("ALL".into()),
            flow_log_status: Some("ACTIVE".into()),
        });
        id
    }

    /// The analysis of `spec` on the world now (as the engine would judge it), for the flow
    /// records' verdicts.
    fn judged(&self, spec: &InterfaceEndpointSpec, owner: &Owner) -> Option<Analysis> {
        analysis::analyze(spec, Some(owner), &self.snapshot()).ok()
    }

    /// One flow log record per client of `spec` (the ENIs in `eni_ids`) and endpoint ENI, in
    /// `log_format` (the flow log's `LogFormat`; [`records::DEFAULT_FLOW_LOG_FORMAT`] when it
    /// names none), captured on the endpoint ENI: ACCEPT when the analysis finds the path open,
    /// REJECT when it finds a block towards that ENI. As (timestamp ms, record).
    pub fn flow_log_records(
        &self,
        spec: &InterfaceEndpointSpec,
        owner: &Owner,
        eni_ids: &[&str],
        log_format: &str,
    ) -> Vec<(i64, String)> {
        let Some(analysis) = self.judged(spec, owner) else {
            return Vec::new();
        };
        let account = self.config().account_id;
        let now = self.clock().timestamp();
        let (at_ms, end) = (now.as_millisecond(), now.as_second());
        let mut out = Vec::new();
        for client in analysis
            .clients
            .iter()
            .filter(|c| eni_ids.contains(&c.network_interface_id.as_str()))
        {
            for dest in analysis.destinations.iter() {
                let (Some(eni), true) = (
                    &dest.network_interface_id,
                    dest.net.prefix_len() == dest.net.max_prefix_len(),
                ) else {
                    continue;
                };
                let dstaddr = dest.net.addr();
                let flow = Flow {
                    account_id: &account,
                    interface_id: eni,
                    srcaddr: client.address,
                    dstaddr,
                    srcport: 49152,
                    dstport: analysis.ports.first().unwrap_or(443),
                    start: end - 60,
                    end,
                    action: records::action_towards(client, dstaddr),
                };
                out.push((at_ms, records::flow_log_record(log_format, &flow)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use crate::api::RemediationMode;
    use crate::aws::sim::{SimClock, SimConfig, SimEc2};
    use crate::aws::{CreateVpcEndpoint, Ec2};
    use crate::engine::incident;
    use crate::logs::records::DEFAULT_FLOW_LOG_FORMAT;

    #[test]
    fn clients_leave_query_records_and_flow_records_as_the_analysis_judges_them() {
        let sim = SimEc2::with_config(
            &incident::world(),
            SimClock::new(),
            SimConfig::default().instant(),
        );
        let name = "logs.ap-northeast-1.amazonaws.com";
        let records = sim.resolver_query_records(&[incident::ENI_ZABBIX, "eni-nope"], name);
        assert_eq!(records.len(), 1);
        let record: serde_json::Value = serde_json::from_str(&records[0].1).unwrap();
        assert_eq!(record["query_name"], format!("{name}."));
        assert_eq!(record["vpc_id"], incident::VPC);
    }

    #[test]
    fn a_flow_record_is_rejected_where_the_analysis_finds_a_block() {
        let sim = SimEc2::with_config(
            &incident::world(),
            SimClock::new(),
            SimConfig::default().instant(),
        );
        let spec = incident::spec(RemediationMode::Off);
        let owner = incident::owner();
        block_on(
            sim.create_vpc_endpoint(&CreateVpcEndpoint {
                vpc_id: spec.vpc_id.clone(),
                service_name: spec.service_name.clone(),
                subnet_ids: spec.subnet_ids.clone(),
                security_group_ids: spec.security_group_ids.clone(),
                policy_document: None,
                service_region: None,
                ip_address_type: None,
                dns_record_ip_type: None,
                subnet_configurations: Vec::new(),
                client_token: owner.client_token(),
                tags: owner
                    .tags()
                    .into_iter()
                    .map(|(key, value)| crate::model::Tag { key, value })
                    .collect(),
            }),
        )
        .unwrap();
        let records = sim.flow_log_records(
            &spec,
            &owner,
            &[incident::ENI_ZABBIX, incident::ENI_LAMBDA],
            DEFAULT_FLOW_LOG_FORMAT,
        );
        assert_eq!(records.len(), 4, "two clients, two endpoint ENIs: {records:?}");
        let action = |client_ip: &str| -> Vec<&str> {
            records
                .iter()
                .filter(|(_, r)| r.split(' ').nth(3) == Some(client_ip))
                .map(|(_, r)| r.split(' ').nth(12).unwrap())
                .collect()
        };
        let zabbix_ip = sim
            .snapshot()
            .network_interfaces
            .iter()
            .find(|e| e.network_interface_id == incident::ENI_ZABBIX)
            .unwrap()
            .private_ip_address
            .clone()
            .unwrap();
        let lambda_ip = sim
            .snapshot()
            .network_interfaces
            .iter()
            .find(|e| e.network_interface_id == incident::ENI_LAMBDA)
            .unwrap()
            .private_ip_address
            .clone()
            .unwrap();
        assert_eq!(
            action(&zabbix_ip),
            ["REJECT", "REJECT"],
            "the endpoint SG admits only the Lambda"
        );
        assert_eq!(action(&lambda_ip), ["ACCEPT", "ACCEPT"]);
    }
}
