//! Tests of the simulated world through the [`Ec2`] port, on one small VPC.
//!
//! The fixture: `vpc-1` (10.0.0.0/16) with subnets in ap-northeast-1a (two), 1c and 1d, a tiny
//! /29 in 1c, an endpoint security group admitting a Lambda group, a monitoring (Zabbix) ENI at
//! 10.0.1.4 and a Lambda ENI; `vpc-2` with DNS hostnames off; the logs service (zones 1a and 1c,
//! private DNS name) and a partner service without a private DNS name; two prefix lists.

mod endpoints;
mod security_groups;
mod world;

use std::future::Future;

use super::{SimClock, SimConfig, SimEc2};
use crate::aws::{AuthorizeRules, CreateVpcEndpoint, NewRule, RevokeOwnedRules, RulePeer};
use crate::model::{Protocol, Snapshot, Tag, tags_from};

pub(super) const LOGS: &str = "com.amazonaws.ap-northeast-1.logs";
pub(super) const PARTNER: &str = "com.amazonaws.vpce.ap-northeast-1.vpce-svc-0partner";
pub(super) const OWNER_UID: &str = "5f0c-uid";

const FIXTURE: &str = r#"{
  "Vpcs": [
    {"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "State": "available"},
    {"VpcId": "vpc-2", "CidrBlock": "10.1.0.0/16", "State": "available"}
  ],
  "VpcAttributes": {
    "vpc-1": {"EnableDnsSupport": {"Value": true}},
    "vpc-2": {"EnableDnsSupport": {"Value": true}, "EnableDnsHostnames": {"Value": false}}
  },
  "Subnets": [
    {"SubnetId": "subnet-a", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "ap-northeast-1a"},
    {"SubnetId": "subnet-a2", "VpcId": "vpc-1", "CidrBlock": "10.0.3.0/24", "AvailabilityZone": "ap-northeast-1a"},
    {"SubnetId": "subnet-c", "VpcId": "vpc-1", "CidrBlock": "10.0.2.0/24", "AvailabilityZone": "ap-northeast-1c"},
    {"SubnetId": "subnet-d", "VpcId": "vpc-1", "CidrBlock": "10.0.4.0/24", "AvailabilityZone": "ap-northeast-1d"},
    {"SubnetId": "subnet-tiny", "VpcId": "vpc-1", "CidrBlock": "10.0.9.0/29", "AvailabilityZone": "ap-northeast-1c"},
    {"SubnetId": "subnet-x", "VpcId": "vpc-2", "CidrBlock": "10.1.1.0/24", "AvailabilityZone": "ap-northeast-1a"}
  ],
  "SecurityGroups": [
    {"GroupId": "sg-default", "GroupName": "default", "VpcId": "vpc-1",
     "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-default"}]}],
     "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
    {"GroupId": "sg-endpoint", "GroupName": "vpce-logs", "VpcId": "vpc-1",
     "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                        "UserIdGroupPairs": [{"GroupId": "sg-lambda", "Description": "lambda"}]}],
     "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
    {"GroupId": "sg-lambda", "GroupName": "lambda", "VpcId": "vpc-1", "IpPermissions": [],
     "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
    {"GroupId": "sg-zabbix", "GroupName": "zabbix", "VpcId": "vpc-1", "IpPermissions": [],
     "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]},
    {"GroupId": "sg-other", "GroupName": "other", "VpcId": "vpc-2", "IpPermissions": [], "IpPermissionsEgress": []}
  ],
  "SecurityGroupRules": [
    {"SecurityGroupRuleId": "sgr-0existing", "GroupId": "sg-endpoint", "IsEgress": false, "IpProtocol": "tcp",
     "FromPort": 443, "ToPort": 443, "ReferencedGroupInfo": {"GroupId": "sg-lambda"}, "Description": "lambda",
     "Tags": [{"Key": "team", "Value": "platform"}]}
  ],
  "NetworkInterfaces": [
    {"NetworkInterfaceId": "eni-zabbix", "VpcId": "vpc-1", "SubnetId": "subnet-a", "InterfaceType": "interface",
     "PrivateIpAddress": "10.0.1.4", "Groups": [{"GroupId": "sg-zabbix"}]},
    {"NetworkInterfaceId": "eni-lambda", "VpcId": "vpc-1", "SubnetId": "subnet-c", "InterfaceType": "lambda",
     "PrivateIpAddress": "10.0.2.10", "Groups": [{"GroupId": "sg-lambda"}]},
    {"NetworkInterfaceId": "eni-other", "VpcId": "vpc-2", "SubnetId": "subnet-x", "InterfaceType": "interface",
     "PrivateIpAddress": "10.1.1.4", "Groups": [{"GroupId": "sg-other"}]}
  ],
  "NetworkAcls": [
    {"NetworkAclId": "acl-1", "VpcId": "vpc-1", "IsDefault": true,
     "Entries": [{"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": false, "CidrBlock": "0.0.0.0/0"},
                 {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": true, "CidrBlock": "0.0.0.0/0"}],
     "Associations": [{"SubnetId": "subnet-a"}, {"SubnetId": "subnet-c"}]}
  ],
  "ServiceDetails": [
    {"ServiceName": "com.amazonaws.ap-northeast-1.logs", "ServiceType": [{"ServiceType": "Interface"}],
     "AvailabilityZones": ["ap-northeast-1a", "ap-northeast-1c"], "PrivateDnsName": "logs.ap-northeast-1.amazonaws.com"},
    {"ServiceName": "com.amazonaws.vpce.ap-northeast-1.vpce-svc-0partner", "ServiceType": [{"ServiceType": "Interface"}]}
  ],
  "PrefixLists": [
    {"PrefixListId": "pl-corp", "PrefixListName": "corp", "AddressFamily": "IPv4", "MaxEntries": 20},
    {"PrefixListId": "pl-corp6", "PrefixListName": "corp6", "AddressFamily": "IPv6", "MaxEntries": 10}
  ],
  "PrefixListEntries": {
    "pl-corp": [{"Cidr": "192.168.0.0/16", "Description": "office"}]
  }
}"#;

pub(super) fn snapshot() -> Snapshot {
    Snapshot::from_json(FIXTURE).expect("the fixture parses")
}

/// Realistic delays, no throttling.
pub(super) fn sim() -> SimEc2 {
    SimEc2::with_config(
        &snapshot(),
        SimClock::new(),
        SimConfig::default().without_throttling(),
    )
}

/// No delays, no throttling: for tests about validation, not time.
pub(super) fn instant_sim() -> SimEc2 {
    SimEc2::with_config(
        &snapshot(),
        SimClock::new(),
        SimConfig::default().instant().without_throttling(),
    )
}

/// Runs a port call; the simulated world never awaits anything.
pub(super) fn run<F: Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}

pub(super) fn owner_tags() -> Vec<Tag> {
    tags_from([
        ("vpce-rollout.dev/owner", "apps/logs"),
        ("vpce-rollout.dev/uid", OWNER_UID),
    ])
}

/// Revoking rules of one group, as the controller asks: with its ownership tags.
pub(super) fn revoke(group_id: &str, egress: bool, rule_ids: &[String]) -> RevokeOwnedRules {
    RevokeOwnedRules {
        group_id: group_id.into(),
        egress,
        rule_ids: rule_ids.to_vec(),
        owner_tags: owner_tags(),
    }
}

/// The logs endpoint in 1a and 1c with the endpoint group, as the controller creates it.
pub(super) fn create_logs(token: &str) -> CreateVpcEndpoint {
    CreateVpcEndpoint {
        vpc_id: "vpc-1".into(),
        service_name: LOGS.into(),
        subnet_ids: vec!["subnet-a".into(), "subnet-c".into()],
        security_group_ids: vec!["sg-endpoint".into()],
        policy_document: None,
        client_token: token.into(),
        service_region: None,
        ip_address_type: None,
        dns_record_ip_type: None,
        subnet_configurations: Vec::new(),
        tags: owner_tags(),
    }
}

pub(super) fn tcp_443(peer: RulePeer, description: &str) -> NewRule {
    NewRule {
        protocol: Protocol::Tcp,
        from_port: 443,
        to_port: 443,
        peer,
        description: description.into(),
    }
}

pub(super) fn authorize(group: &str, egress: bool, rules: Vec<NewRule>) -> AuthorizeRules {
    AuthorizeRules {
        group_id: group.into(),
        egress,
        rules,
        tags: owner_tags(),
    }
}
