//! Values that parse but that no `describe-*` call prints, refused with their JSON path.
//!
//! Each one would otherwise give an answer that depends on something it should not: an IPv4
//! block under `CidrIpv6` matched IPv4 clients; two ACL entries with one number were applied in
//! the order the file lists them; a rule number EC2 cannot hold was sorted among the real ones.
//! Refusing them is the safe reading: the file is not what AWS shows, so no verdict is given.
//!
//! The analysis runs the same checks on what the controller observes ([`Snapshot::check`]), so a
//! snapshot file and a live observation are held to one standard.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::{NetworkAcl, SecurityGroup, Snapshot, SnapshotError};

/// The highest rule number of an entry one can create; 32767 is the `*` entry EC2 adds.
pub const MAX_NACL_RULE_NUMBER: i32 = 32766;
/// How EC2 prints the `*` entry, the default deny at the end of each direction.
pub const DEFAULT_NACL_RULE_NUMBER: i32 = 32767;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn of(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> SnapshotError {
    SnapshotError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// `text` must be a CIDR block (or a single address) of `family`; `key` is the field's name,
/// for the message, and `other_key` where a block of the other family belongs.
///
/// The path is only built for an error: a snapshot holds 100,000 of these.
fn cidr(
    path: impl FnOnce() -> String,
    text: &str,
    family: Family,
    other_key: &str,
) -> Result<(), SnapshotError> {
    let trimmed = text.trim();
    let net =
        super::parse_ip_net(trimmed).or_else(|| trimmed.parse::<std::net::IpAddr>().ok().map(IpNet::from));
    match net {
        None => Err(invalid(
            path(),
            format!("{text:?} is not an {} CIDR block", family.name()),
        )),
        Some(net) if Family::of(&net) != family => Err(invalid(
            path(),
            format!(
                "{text} is an {} block where {} is expected (it belongs in {other_key})",
                Family::of(&net).name(),
                family.name(),
            ),
        )),
        Some(_) => Ok(()),
    }
}

impl Snapshot {
    /// Refuses what parses but no EC2 describe call prints (see the module docs): the first
    /// problem, with its JSON path. [`Snapshot::from_json`] calls it; so does the analysis.
    pub fn check(&self) -> Result<(), SnapshotError> {
        for (i, subnet) in self.subnets.iter().enumerate() {
            if let Some(block) = subnet.cidr_block.as_deref().filter(|b| !b.is_empty()) {
                let path = || format!("Subnets[{i}].CidrBlock");
                cidr(path, block, Family::V4, "Ipv6CidrBlockAssociationSet")?;
            }
            for (k, a) in subnet.ipv6_cidr_block_association_set.iter().enumerate() {
                let path = || format!("Subnets[{i}].Ipv6CidrBlockAssociationSet[{k}].Ipv6CidrBlock");
                cidr(path, &a.ipv6_cidr_block, Family::V6, "CidrBlock")?;
            }
        }
        for (i, group) in self.security_groups.iter().enumerate() {
            check_group(i, group)?;
        }
        for (i, rule) in self.security_group_rules.iter().enumerate() {
            if let Some(block) = &rule.cidr_ipv4 {
                let path = || format!("SecurityGroupRules[{i}].CidrIpv4");
                cidr(path, block, Family::V4, "CidrIpv6")?;
            }
            if let Some(block) = &rule.cidr_ipv6 {
                let path = || format!("SecurityGroupRules[{i}].CidrIpv6");
                cidr(path, block, Family::V6, "CidrIpv4")?;
            }
        }
        for (i, acl) in self.network_acls.iter().enumerate() {
            check_acl(&format!("NetworkAcls[{i}]"), acl)?;
        }
        Ok(())
    }
}

fn check_group(i: usize, group: &SecurityGroup) -> Result<(), SnapshotError> {
    let at = || format!("SecurityGroups[{i}]");
    for (key, permissions) in [
        ("IpPermissions", &group.ip_permissions),
        ("IpPermissionsEgress", &group.ip_permissions_egress),
    ] {
        for (j, p) in permissions.iter().enumerate() {
            for (k, r) in p.ip_ranges.iter().enumerate() {
                let path = || format!("{}.{key}[{j}].IpRanges[{k}].CidrIp", at());
                cidr(path, &r.cidr_ip, Family::V4, "Ipv6Ranges[].CidrIpv6")?;
            }
            for (k, r) in p.ipv6_ranges.iter().enumerate() {
                let path = || format!("{}.{key}[{j}].Ipv6Ranges[{k}].CidrIpv6", at());
                cidr(path, &r.cidr_ipv6, Family::V6, "IpRanges[].CidrIp")?;
            }
        }
    }
    Ok(())
}

fn check_acl(at: &str, acl: &NetworkAcl) -> Result<(), SnapshotError> {
    // (egress, number) → the first entry's index, for duplicates.
    let mut seen: BTreeMap<(bool, i32), usize> = BTreeMap::new();
    for (j, entry) in acl.entries.iter().enumerate() {
        let here = format!("{at}.Entries[{j}]");
        let number = entry.rule_number;
        let way = if entry.egress { "outbound" } else { "inbound" };
        if number == DEFAULT_NACL_RULE_NUMBER {
            // The `*` entry: EC2 adds it (one per address family) and it always denies.
            if entry.rule_action.eq_ignore_ascii_case("allow") {
                return Err(invalid(
                    format!("{here}.RuleAction"),
                    format!(
                        "rule {DEFAULT_NACL_RULE_NUMBER} is the default entry ({way} *), which \
                         always denies; an entry that allows cannot have this number"
                    ),
                ));
            }
        } else if !(1..=MAX_NACL_RULE_NUMBER).contains(&number) {
            return Err(invalid(
                format!("{here}.RuleNumber"),
                format!(
                    "rule number {number} is outside 1-{MAX_NACL_RULE_NUMBER} (and is not \
                     {DEFAULT_NACL_RULE_NUMBER}, the default entry)"
                ),
            ));
        } else if let Some(first) = seen.insert((entry.egress, number), j) {
            return Err(invalid(
                format!("{here}.RuleNumber"),
                format!(
                    "{} has two {way} entries numbered {number} (Entries[{first}] and \
                     Entries[{j}]); EC2 holds one entry per number and direction, and which one \
                     applies would depend on the order they are listed in",
                    acl.network_acl_id
                ),
            ));
        }
        match (&entry.cidr_block, &entry.ipv6_cidr_block) {
            (Some(v4), None) => cidr(|| format!("{here}.CidrBlock"), v4, Family::V4, "Ipv6CidrBlock")?,
            (None, Some(v6)) => cidr(|| format!("{here}.Ipv6CidrBlock"), v6, Family::V6, "CidrBlock")?,
            (Some(_), Some(_)) => {
                return Err(invalid(
                    here,
                    "an entry has either CidrBlock or Ipv6CidrBlock, not both",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    here,
                    "the entry has neither CidrBlock nor Ipv6CidrBlock, so which traffic it \
                     matches is unknown",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(json: &str) -> (String, String) {
        match Snapshot::from_json(json) {
            Err(SnapshotError::Invalid { path, message }) => (path, message),
            other => panic!("expected an invalid snapshot, got {other:?}"),
        }
    }

    fn acl_with(entries: &str) -> String {
        format!(
            r#"{{"NetworkAcls": [{{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "Entries": [{entries}]}}]}}"#
        )
    }

    fn entry(number: i32, egress: bool, action: &str, block: &str) -> String {
        format!(
            r#"{{"RuleNumber": {number}, "Protocol": "-1", "RuleAction": "{action}", "Egress": {egress}, {block}}}"#
        )
    }

    const V4_ALL: &str = r#""CidrBlock": "0.0.0.0/0""#;
    const V6_ALL: &str = r#""Ipv6CidrBlock": "::/0""#;

    #[test]
    fn the_default_entries_of_both_families_are_accepted() {
        let entries = [
            entry(100, false, "allow", V4_ALL),
            entry(101, false, "allow", V6_ALL),
            entry(100, true, "allow", V4_ALL),
            entry(32767, false, "deny", V4_ALL),
            entry(32767, false, "deny", V6_ALL),
            entry(32767, true, "deny", V4_ALL),
        ];
        Snapshot::from_json(&acl_with(&entries.join(","))).unwrap();
    }

    #[test]
    fn acl_rule_numbers_outside_the_range_ec2_holds_are_refused_with_their_path() {
        for number in [0, -1, 32768, 40000] {
            let (path, message) = error_of(&acl_with(&entry(number, false, "allow", V4_ALL)));
            assert_eq!(path, "NetworkAcls[0].Entries[0].RuleNumber");
            assert_eq!(
                message,
                format!("rule number {number} is outside 1-32766 (and is not 32767, the default entry)")
            );
        }
    }

    #[test]
    fn an_allowing_entry_numbered_as_the_default_deny_is_refused() {
        let (path, message) = error_of(&acl_with(&entry(32767, true, "allow", V4_ALL)));
        assert_eq!(path, "NetworkAcls[0].Entries[0].RuleAction");
        assert!(
            message.starts_with("rule 32767 is the default entry (outbound *)"),
            "{message}"
        );
    }

    #[test]
    fn two_acl_entries_with_one_number_in_one_direction_are_refused() {
        let entries = [
            entry(100, false, "allow", V4_ALL),
            entry(100, true, "allow", V4_ALL),
            entry(100, false, "deny", r#""CidrBlock": "10.0.0.0/8""#),
        ];
        let (path, message) = error_of(&acl_with(&entries.join(",")));
        assert_eq!(path, "NetworkAcls[0].Entries[2].RuleNumber");
        assert_eq!(
            message,
            "acl-1 has two inbound entries numbered 100 (Entries[0] and Entries[2]); EC2 holds one \
             entry per number and direction, and which one applies would depend on the order they are listed \
             in"
        );
    }

    #[test]
    fn acl_blocks_of_the_wrong_family_or_none_are_refused() {
        let (path, message) = error_of(&acl_with(&entry(100, false, "allow", r#""CidrBlock": "::/0""#)));
        assert_eq!(path, "NetworkAcls[0].Entries[0].CidrBlock");
        assert_eq!(
            message,
            "::/0 is an IPv6 block where IPv4 is expected (it belongs in Ipv6CidrBlock)"
        );
        let (path, _) = error_of(&acl_with(&entry(
            100,
            false,
            "allow",
            r#""Ipv6CidrBlock": "10.0.0.0/8""#,
        )));
        assert_eq!(path, "NetworkAcls[0].Entries[0].Ipv6CidrBlock");
        let (path, message) = error_of(&acl_with(&entry(100, false, "allow", r#""PortRange": null"#)));
        assert_eq!(path, "NetworkAcls[0].Entries[0]");
        assert!(
            message.contains("neither CidrBlock nor Ipv6CidrBlock"),
            "{message}"
        );
    }

    #[test]
    fn security_group_blocks_of_the_wrong_family_are_refused_with_their_path() {
        let (path, message) = error_of(
            r#"{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissionsEgress": [
                {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "0.0.0.0/0"}]}]}]}"#,
        );
        assert_eq!(
            path,
            "SecurityGroups[0].IpPermissionsEgress[0].Ipv6Ranges[0].CidrIpv6"
        );
        assert_eq!(
            message,
            "0.0.0.0/0 is an IPv4 block where IPv6 is expected (it belongs in IpRanges[].CidrIp)"
        );
        let (path, _) = error_of(
            r#"{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [
                {"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "2001:db8::/32"}]}]}]}"#,
        );
        assert_eq!(path, "SecurityGroups[0].IpPermissions[0].IpRanges[1].CidrIp");
        let (path, message) = error_of(
            r#"{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [
                {"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "10.0.0.300/8"}]}]}]}"#,
        );
        assert_eq!(path, "SecurityGroups[0].IpPermissions[0].IpRanges[0].CidrIp");
        assert_eq!(message, "\"10.0.0.300/8\" is not an IPv4 CIDR block");
    }

    #[test]
    fn subnet_and_rule_blocks_of_the_wrong_family_are_refused() {
        let (path, _) = error_of(
            r#"{"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "fd00::/64"}]}"#,
        );
        assert_eq!(path, "Subnets[0].CidrBlock");
        let (path, _) = error_of(
            r#"{"SecurityGroupRules": [{"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-1",
                "IpProtocol": "tcp", "CidrIpv6": "10.0.0.0/8"}]}"#,
        );
        assert_eq!(path, "SecurityGroupRules[0].CidrIpv6");
    }
}
