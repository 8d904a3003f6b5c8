//! The VPC network as AWS describes it.
//!
//! A [`Snapshot`] is the merge (`jq -s add`) of what `aws ec2 describe-*` prints for one VPC;
//! see `docs/snapshot.md` for the format and the awscli recipe. The EC2 port returns these same
//! shapes, so a live observation and a file on disk are analysed by the same code.

pub mod aws_json;
mod checks;
mod cidr;
mod shared;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use aws_json::*;
pub use checks::{DEFAULT_NACL_RULE_NUMBER, MAX_NACL_RULE_NUMBER};
pub use cidr::parse_ip_net;
pub use shared::Shared;

/// Everything the analysis needs to know about one VPC, in AWS's own JSON shapes. Its largest
/// lists are [`Shared`]: a clone shares them until it changes one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Snapshot {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vpcs: Vec<Vpc>,
    /// Extension: VPC id → DNS attributes (`describe-vpc-attribute`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vpc_attributes: BTreeMap<String, VpcDnsAttributes>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subnets: Shared<Subnet>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Shared<SecurityGroup>,
    /// Optional: `describe-security-group-rules`, for rule ids and tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_rules: Vec<SecurityGroupRule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Shared<NetworkInterface>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub network_acls: Shared<NetworkAcl>,
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
    /// More JSON after the snapshot's object: what `cat` of several `describe-*` outputs gives.
    /// Reading only the first object would answer for part of the VPC (the incident again, with
    /// a green light), so it is refused.
    #[error(
        "invalid snapshot: more JSON follows the first object (line {line}, column {column}); a \
         snapshot is one object: merge several describe outputs with `jq -s add`"
    )]
    Trailing { line: usize, column: usize },
    /// A problem in one of several files read as one snapshot.
    #[error("{path}: {source}")]
    InFile {
        path: String,
        source: Box<SnapshotError>,
    },
    /// Two files of one snapshot both hold a key: `jq -s add` would silently keep the last.
    #[error(
        "{key} is in both {first} and {second}: each key of a snapshot may come from one file only \
         (combine them into one {key} array first)"
    )]
    Repeated {
        key: &'static str,
        first: String,
        second: String,
    },
}

impl Snapshot {
    /// The addresses of `endpoint`'s network interfaces as this snapshot shows them (IPv4
    /// primary and secondary, IPv6), unparseable ones left out.
    pub fn endpoint_addresses(&self, endpoint: &VpcEndpoint) -> Vec<std::net::IpAddr> {
        let mut out = Vec::new();
        for eni in self
            .network_interfaces
            .iter()
            .filter(|n| endpoint.network_interface_ids.contains(&n.network_interface_id))
        {
            let v4 = eni
                .private_ip_address
                .iter()
                .chain(eni.private_ip_addresses.iter().map(|a| &a.private_ip_address));
            let v6 = eni.ipv6_addresses.iter().map(|a| &a.ipv6_address);
            out.extend(v4.chain(v6).filter_map(|a| a.parse::<std::net::IpAddr>().ok()));
        }
        out.sort();
        out.dedup();
        out
    }

    /// Whether `address` belongs to a network interface this snapshot shows: one of its
    /// addresses, or in one of its delegated prefixes (where the VPC CNI's prefix delegation
    /// takes pods' addresses from).
    pub fn has_interface_address(&self, address: std::net::IpAddr) -> bool {
        self.network_interfaces.iter().any(|eni| {
            let own = eni
                .private_ip_address
                .iter()
                .chain(eni.private_ip_addresses.iter().map(|a| &a.private_ip_address))
                .chain(eni.ipv6_addresses.iter().map(|a| &a.ipv6_address))
                .any(|a| a.parse::<std::net::IpAddr>().ok() == Some(address));
            let delegated = eni
                .ipv4_prefixes
                .iter()
                .map(|p| &p.ipv4_prefix)
                .chain(eni.ipv6_prefixes.iter().map(|p| &p.ipv6_prefix))
                .filter_map(|p| p.parse::<ipnet::IpNet>().ok())
                .any(|net| net.contains(&address));
            own || delegated
        })
    }

    /// Parses a snapshot and [checks](Snapshot::check) it; errors name the JSON path of the bad
    /// value. Exactly one JSON value: trailing content is an error, not ignored.
    pub fn from_json(text: &str) -> Result<Snapshot, SnapshotError> {
        Self::from_slice(text.as_bytes())
    }

    /// [`Snapshot::from_json`] on bytes (UTF-8 JSON).
    pub fn from_slice(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        Self::object_first(bytes.iter().find(|b| !b.is_ascii_whitespace()).copied())?;
        // Tracking the JSON path of every value costs a third of the parse; a valid snapshot
        // (the usual case) never needs it, so it is only done again to report an error.
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let snapshot = match Snapshot::deserialize(&mut *de) {
            Ok(snapshot) => snapshot,
            Err(_) => return Err(Self::error_with_path(bytes)),
        };
        de.end().map_err(|e| SnapshotError::Trailing {
            line: e.line(),
            column: e.column(),
        })?;
        snapshot.check()?;
        Ok(snapshot)
    }

    /// serde reads a struct from an array too (positionally): `[]`, or `jq -s` without `add`,
    /// would be an empty snapshot. `first` is the first byte that is not white space.
    fn object_first(first: Option<u8>) -> Result<(), SnapshotError> {
        if first.is_some_and(|c| c != b'{') {
            let what = match first {
                Some(b'[') => "an array (`jq -s` without `add`?)",
                _ => "not an object",
            };
            return Err(SnapshotError::Invalid {
                path: "$".into(),
                message: format!(
                    "a snapshot is one JSON object (describe outputs merged with `jq -s add`); this is {what}"
                ),
            });
        }
        Ok(())
    }

    /// The error of a snapshot that does not parse, with the JSON path of the offending value.
    fn error_with_path(bytes: &[u8]) -> SnapshotError {
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        match serde_path_to_error::deserialize::<_, Snapshot>(&mut *de) {
            Err(e) => {
                let path = e.path().to_string();
                let path = if path == "." { "$".to_string() } else { path };
                SnapshotError::Invalid {
                    path,
                    message: e.into_inner().to_string(),
                }
            }
            // Cannot happen (the same bytes failed without tracking); say so rather than panic.
            Ok(_) => SnapshotError::Invalid {
                path: "$".into(),
                message: "the snapshot failed to parse once and parsed the second time".into(),
            },
        }
    }

    /// Reads and parses a snapshot file as [`Snapshot::from_slice`] does, streaming: the file
    /// is parsed as it is read, never held whole, so that a 66 MB file does not sit in memory
    /// next to the snapshot it becomes. A file that does not parse is read again whole, to
    /// name the JSON path of the error.
    pub fn from_file(path: &Path) -> Result<Snapshot, SnapshotError> {
        use std::io::BufRead;
        let io = |source| SnapshotError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut reader = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(path).map_err(io)?);
        let first = loop {
            let buf = reader.fill_buf().map_err(io)?;
            if buf.is_empty() {
                break None;
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(at) => break Some(buf[at]),
                None => {
                    let n = buf.len();
                    reader.consume(n);
                }
            }
        };
        Self::object_first(first)?;
        let de = &mut serde_json::Deserializer::from_reader(reader);
        match Snapshot::deserialize(&mut *de).and_then(|snapshot| de.end().map(|()| snapshot)) {
            Ok(snapshot) => {
                snapshot.check()?;
                Ok(snapshot)
            }
            Err(_) => Self::from_slice(&std::fs::read(path).map_err(io)?),
        }
    }

    /// Reads several files as one snapshot, as `jq -s add` merges them, except that a key
    /// present (not empty) in two files is refused instead of the last one silently winning.
    pub fn from_files(paths: &[&Path]) -> Result<Snapshot, SnapshotError> {
        let mut merged = Snapshot::default();
        // Key → the file it came from.
        let mut sources: BTreeMap<&'static str, String> = BTreeMap::new();
        for path in paths {
            let shown = path.display().to_string();
            let part = match Self::from_file(path) {
                Ok(part) => part,
                Err(e @ SnapshotError::Io { .. }) => return Err(e),
                Err(e) => {
                    return Err(SnapshotError::InFile {
                        path: shown,
                        source: Box::new(e),
                    });
                }
            };
            for key in part.present_keys() {
                if let Some(first) = sources.insert(key, shown.clone()) {
                    return Err(SnapshotError::Repeated {
                        key,
                        first,
                        second: shown,
                    });
                }
            }
            merged.absorb(part);
        }
        Ok(merged)
    }

    /// The top-level keys that hold something.
    fn present_keys(&self) -> Vec<&'static str> {
        [
            ("Vpcs", self.vpcs.is_empty()),
            ("VpcAttributes", self.vpc_attributes.is_empty()),
            ("Subnets", self.subnets.is_empty()),
            ("SecurityGroups", self.security_groups.is_empty()),
            ("SecurityGroupRules", self.security_group_rules.is_empty()),
            ("NetworkInterfaces", self.network_interfaces.is_empty()),
            ("NetworkAcls", self.network_acls.is_empty()),
            ("VpcEndpoints", self.vpc_endpoints.is_empty()),
            ("ServiceDetails", self.service_details.is_empty()),
            ("PrefixLists", self.prefix_lists.is_empty()),
            ("PrefixListEntries", self.prefix_list_entries.is_empty()),
        ]
        .into_iter()
        .filter_map(|(key, empty)| (!empty).then_some(key))
        .collect()
    }

    /// Adds `other`'s content (callers make sure no key is in both).
    fn absorb(&mut self, other: Snapshot) {
        let Snapshot {
            vpcs,
            vpc_attributes,
            subnets,
            security_groups,
            security_group_rules,
            network_interfaces,
            network_acls,
            vpc_endpoints,
            service_details,
            prefix_lists,
            prefix_list_entries,
        } = other;
        self.vpcs.extend(vpcs);
        self.vpc_attributes.extend(vpc_attributes);
        self.subnets.extend(subnets);
        self.security_groups.extend(security_groups);
        self.security_group_rules.extend(security_group_rules);
        self.network_interfaces.extend(network_interfaces);
        self.network_acls.extend(network_acls);
        self.vpc_endpoints.extend(vpc_endpoints);
        self.service_details.extend(service_details);
        self.prefix_lists.extend(prefix_lists);
        self.prefix_list_entries.extend(prefix_list_entries);
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
    fn two_objects_one_after_the_other_are_refused_not_read_as_the_first() {
        // What `cat subnets.json network-interfaces.json` gives: reading the first object only
        // answered "No clients" with exit 0.
        let text = "{\"Subnets\": []}\n{\"NetworkInterfaces\": [{\"NetworkInterfaceId\": \"eni-1\"}]}\n";
        let err = Snapshot::from_json(text).unwrap_err();
        assert!(
            matches!(err, SnapshotError::Trailing { line: 2, column: 1 }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "invalid snapshot: more JSON follows the first object (line 2, column 1); a snapshot \
             is one object: merge several describe outputs with `jq -s add`"
        );
        assert!(
            Snapshot::from_json("{\"Vpcs\": []}  \n\t\n").is_ok(),
            "whitespace is no content"
        );
        assert!(matches!(
            Snapshot::from_json("{} x").unwrap_err(),
            SnapshotError::Trailing { line: 1, column: 4 }
        ));
    }

    #[track_caller]
    fn invalid_at(text: &str) -> (String, String) {
        match Snapshot::from_json(text) {
            Err(SnapshotError::Invalid { path, message }) => (path, message),
            other => panic!("expected an invalid snapshot, got {other:?}"),
        }
    }

    #[test]
    fn truncated_deeply_nested_and_wrongly_typed_json_name_the_path() {
        let (path, message) = invalid_at(r#"{"Vpcs": [{"VpcId": "vpc-1"}], "Subnets": [{"SubnetId": "sub"#);
        assert_eq!(path, "Subnets[0].SubnetId");
        assert!(message.starts_with("EOF while parsing a string"), "{message}");

        let deep = format!(
            "{{\"Vpcs\": [{{\"Tags\": {}{}}}]}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let (path, message) = invalid_at(&deep);
        assert_eq!(path, "Vpcs[0].Tags[0][0]");
        assert!(
            message.starts_with("invalid type: sequence, expected a string"),
            "{message}"
        );
        // Skipped without recursion: no stack to overflow, and nothing of it is used.
        let deep = format!("{{\"Unknown\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(Snapshot::from_json(&deep).is_ok());
        let (path, message) = invalid_at(&format!("{{\"Unknown\": {}", "[".repeat(100_000)));
        assert_eq!(path, "Unknown");
        assert!(message.starts_with("EOF while parsing"), "{message}");

        let (path, message) =
            invalid_at(r#"{"NetworkAcls": [{"NetworkAclId": "acl-1", "Entries": [{"RuleNumber": "100"}]}]}"#);
        assert_eq!(path, "NetworkAcls[0].Entries[0].RuleNumber");
        assert!(
            message.starts_with("invalid type: string \"100\", expected i32"),
            "{message}"
        );
        let (path, message) = invalid_at(r#"{"NetworkAcls": {"NetworkAclId": "acl-1"}}"#);
        assert_eq!(path, "NetworkAcls");
        assert!(
            message.starts_with("invalid type: map, expected a sequence"),
            "{message}"
        );
        let (path, message) = invalid_at("");
        assert_eq!(path, "$");
        assert!(message.starts_with("EOF while parsing a value"), "{message}");
    }

    #[test]
    fn an_array_is_refused_not_read_as_an_empty_snapshot() {
        // Found while writing the test above: serde reads a struct from an array too, so `[]`
        // (or `jq -s` without `add`) was an empty snapshot: "No clients", exit 0.
        for text in ["[]", "[{\"Vpcs\": []}, {\"Subnets\": []}]"] {
            let (path, message) = invalid_at(text);
            assert_eq!(path, "$");
            assert_eq!(
                message,
                "a snapshot is one JSON object (describe outputs merged with `jq -s add`); this is \
                 an array (`jq -s` without `add`?)"
            );
        }
        assert_eq!(
            invalid_at("42").1.rsplit("; ").next(),
            Some("this is not an object")
        );
    }

    #[test]
    fn a_file_read_as_it_is_parsed_gives_what_its_bytes_give_errors_included() {
        let dir = std::env::temp_dir().join(format!("vpce-snapshot-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let long_gap = format!("{}{{\"Vpcs\": []}}", " \n".repeat(100_000));
        let texts = [
            r#"{"Vpcs": [{"VpcId": "vpc-1"}], "NetworkInterfaces": [{"NetworkInterfaceId": "eni-1", "Unread": {"x": [1, 2]}}]}"#,
            "  \n{\"Subnets\": []}\n\t",
            long_gap.as_str(),
            "{\"Subnets\": []}\n{\"Vpcs\": []}",
            "{} x",
            "[]",
            "42",
            "",
            "   ",
            r#"{"Subnets": [{"SubnetId": 7}]}"#,
            r#"{"Vpcs": [{"VpcId": "vpc-1"}], "Subnets": [{"SubnetId": "sub"#,
            r#"{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "carrier-pigeon"}]}]}"#,
            r#"{"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.0.0/33"}]}"#,
        ];
        for (i, text) in texts.iter().enumerate() {
            let path = dir.join(format!("{i}.json"));
            std::fs::write(&path, text).unwrap();
            let streamed = Snapshot::from_file(&path).map_err(|e| e.to_string());
            let whole = Snapshot::from_slice(text.as_bytes()).map_err(|e| e.to_string());
            assert_eq!(streamed, whole, "{text:?}");
        }
        let err = Snapshot::from_file(&dir.join("absent.json")).unwrap_err();
        assert!(matches!(err, SnapshotError::Io { .. }), "{err:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn several_files_are_one_snapshot_unless_two_hold_the_same_key() {
        let dir = std::env::temp_dir().join(format!("vpce-snapshot-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let vpcs = write(
            "vpcs.json",
            r#"{"Vpcs": [{"VpcId": "vpc-1"}], "ResponseMetadata": {}}"#,
        );
        let enis = write(
            "enis.json",
            r#"{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-1"}], "Vpcs": [], "ResponseMetadata": {}}"#,
        );
        let more = write(
            "more-enis.json",
            r#"{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-2"}]}"#,
        );
        let bad = write("bad.json", r#"{"Subnets": [{"SubnetId": 7}]}"#);

        let s = Snapshot::from_files(&[&vpcs, &enis]).unwrap();
        assert_eq!((s.vpcs.len(), s.network_interfaces.len()), (1, 1));

        let err = Snapshot::from_files(&[&vpcs, &enis, &more]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "NetworkInterfaces is in both {} and {}: each key of a snapshot may come from one \
                 file only (combine them into one NetworkInterfaces array first)",
                enis.display(),
                more.display()
            )
        );
        let err = Snapshot::from_files(&[&vpcs, &bad]).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{}: invalid snapshot at Subnets[0].SubnetId: invalid type",
                bad.display()
            )),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
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
