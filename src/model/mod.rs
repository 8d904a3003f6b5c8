//! The VPC network as AWS describes it.
//!
//! A [`Snapshot`] is the merge (`jq -s add`) of what `aws ec2 describe-*` prints for one VPC;
//! see `docs/snapshot.md` for the format and the awscli recipe. The EC2 port returns these same
//! shapes, so a live observation and a file on disk are analysed by the same code.

pub mod aws_json;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use aws_json::*;

/// Everything the analysis needs to know about one VPC, in AWS's own JSON shapes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Snapshot {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vpcs: Vec<Vpc>,
    /// Extension: VPC id → DNS attributes (`describe-vpc-attribute`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vpc_attributes: BTreeMap<String, VpcDnsAttributes>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<Subnet>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<SecurityGroup>,
    /// Optional: `describe-security-group-rules`, for rule ids and tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_rules: Vec<SecurityGroupRule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<NetworkInterface>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_acls: Vec<NetworkAcl>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vpc_endpoints: Vec<VpcEndpoint>,
    /// Optional: `describe-vpc-endpoint-services`, for the service's private DNS name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service_details: Vec<ServiceDetail>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prefix_lists: Vec<PrefixList>,
    /// Prefix list id → the `Entries` that `get-managed-prefix-list-entries` prints.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub prefix_list_entries: BTreeMap<String, Vec<PrefixListEntry>>,
}

/// A snapshot that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read snapshot {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// `path` is the JSON path of the offending value, e.g. `SecurityGroups[3].IpPermissions[0].IpProtocol`.
    #[error("invalid snapshot at {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Snapshot {
    /// Parses a snapshot; errors name the JSON path of the bad value.
    pub fn from_json(text: &str) -> Result<Snapshot, SnapshotError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { "$".to_string() } else { path };
            SnapshotError::Invalid {
                path,
                message: e.into_inner().to_string(),
            }
        })
    }

    /// Reads and parses a snapshot file.
    pub fn from_file(path: &Path) -> Result<Snapshot, SnapshotError> {
        let text = std::fs::read_to_string(path).map_err(|source| SnapshotError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Pretty JSON in the same format [`Snapshot::from_json`] reads.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a snapshot always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_are_empty_and_unknown_keys_are_ignored() {
        let s =
            Snapshot::from_json(r#"{"Vpcs": [{"VpcId": "vpc-1", "Whatever": 1}], "ResponseMetadata": {}}"#)
                .unwrap();
        assert_eq!(s.vpcs.len(), 1);
        assert!(s.security_groups.is_empty());
    }

    #[test]
    fn malformed_input_names_the_json_path() {
        let err = Snapshot::from_json(
            r#"{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tpc"}]}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("SecurityGroups[0].IpPermissions[0].IpProtocol"),
            "{err}"
        );
        assert!(err.contains("unknown protocol"), "{err}");
    }

    #[test]
    fn a_snapshot_round_trips_through_its_json() {
        let s = Snapshot::from_json(
            r#"{"NetworkAcls": [{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "Entries": [
                {"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "Egress": false,
                 "CidrBlock": "10.0.0.0/16", "PortRange": {"From": 443, "To": 443}}]}]}"#,
        )
        .unwrap();
        assert_eq!(Snapshot::from_json(&s.to_json()).unwrap(), s);
    }
}
