//! Security group rules in the simulated world: authorize, revoke, describe, and the
//! `IpPermissions` view derived from the rules.
//!
//! EC2 behaviours kept here, because the controller's safety depends on them:
//! - A rule is identified by direction, protocol, ports and peer; the description is not part of
//!   it, so the same rule with another description is `InvalidPermission.Duplicate` (changing a
//!   description is a separate API).
//! - An authorize call is atomic: one duplicate, one bad peer or a full group adds nothing.
//! - The quota (60 by default) is per direction and separately for IPv4 and IPv6 rules; a CIDR
//!   counts once for its family, a security group reference once for each family (it admits
//!   both), a prefix list as its maximum size (AWS-managed lists weigh what their MaxEntries says).

use std::collections::HashMap;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::codes;
use super::world::World;
use crate::aws::{AuthorizeRules, Ec2Error, Ec2Operation, NewRule, RuleFilter, RulePeer};
use crate::model::{
    IpPermission, Protocol, ReferencedGroup, SecurityGroup, SecurityGroupRule, Tag, tag_pairs,
};

/// What makes two rules the same rule in EC2's eyes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RuleKey {
    group_id: String,
    egress: bool,
    protocol: Protocol,
    ports: (i32, i32),
    peer: RulePeer,
}

impl World {
    /// Groups as DescribeSecurityGroups prints them: `IpPermissions*` derived from their rules
    /// (one pass over the rules, so describing thousands of groups stays linear).
    pub(super) fn security_group_views<'a>(
        &self,
        groups: impl Iterator<Item = &'a SecurityGroup>,
    ) -> Vec<SecurityGroup> {
        let mut by_group: HashMap<&str, Vec<&SecurityGroupRule>> = HashMap::new();
        for rule in &self.rules {
            by_group.entry(rule.group_id.as_str()).or_default().push(rule);
        }
        groups
            .map(|group| {
                let rules = by_group
                    .get(group.group_id.as_str())
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let mut view = group.clone();
                view.ip_permissions =
                    crate::model::ip_permissions(rules.iter().copied().filter(|r| !r.is_egress));
                view.ip_permissions_egress =
                    crate::model::ip_permissions(rules.iter().copied().filter(|r| r.is_egress));
                view
            })
            .collect()
    }

    /// Adds a group and the rules its `IpPermissions` describe (ids assigned later, or taken from
    /// `SecurityGroupRules` by [`World::merge_described_rules`]).
    pub(super) fn add_group(&mut self, group: &SecurityGroup) {
        let mut meta = group.clone();
        meta.ip_permissions.clear();
        meta.ip_permissions_egress.clear();
        self.groups.insert(group.group_id.clone(), meta);
        for (egress, perms) in [
            (false, &group.ip_permissions),
            (true, &group.ip_permissions_egress),
        ] {
            for perm in perms {
                let expanded = expand(&group.group_id, egress, perm);
                self.rules.extend(expanded);
            }
        }
    }

    /// Takes ids, tags and descriptions from `describe-security-group-rules` output for the rules
    /// the groups' permissions already hold; rules only found there are added.
    pub(super) fn merge_described_rules(&mut self, described: &[SecurityGroupRule]) {
        for rule in described {
            self.external_rule_ids.insert(rule.security_group_rule_id.clone());
            let Some(key) = key_of(rule) else { continue };
            let existing = self
                .rules
                .iter()
                .position(|r| r.security_group_rule_id.is_empty() && key_of(r).as_ref() == Some(&key))
                .or_else(|| {
                    self.rules
                        .iter()
                        .position(|r| r.security_group_rule_id == rule.security_group_rule_id)
                });
            match existing {
                Some(i) => {
                    let r = &mut self.rules[i];
                    r.security_group_rule_id = rule.security_group_rule_id.clone();
                    r.tags = rule.tags.clone();
                    if rule.description.is_some() {
                        r.description = rule.description.clone();
                    }
                }
                None => self.rules.push(rule.clone()),
            }
        }
        self.assign_missing_rule_ids();
    }

    /// Rules without an id yet (fresh from `IpPermissions`) get one.
    pub(super) fn assign_missing_rule_ids(&mut self) {
        for i in 0..self.rules.len() {
            if self.rules[i].security_group_rule_id.is_empty() {
                let id = self.fresh_id("sgr");
                self.rules[i].security_group_rule_id = id;
            }
        }
    }

    pub(super) fn fresh_id(&mut self, prefix: &str) -> String {
        let mut ids = std::mem::take(&mut self.ids);
        let id = ids.id(prefix, |candidate| self.id_taken(candidate));
        self.ids = ids;
        id
    }

    /// AuthorizeSecurityGroupIngress/Egress: all rules or none.
    pub(super) fn authorize(
        &mut self,
        op: Ec2Operation,
        request: &AuthorizeRules,
        quota: u32,
    ) -> Result<Vec<SecurityGroupRule>, Ec2Error> {
        let group = self
            .groups
            .get(&request.group_id)
            .ok_or_else(|| codes::group_not_found(op, &request.group_id))?;
        if request.rules.is_empty() {
            return Err(codes::missing_parameter(op, "IpPermissions"));
        }
        let vpc_id = group.vpc_id.clone();
        let mut new_rules: Vec<SecurityGroupRule> = Vec::new();
        for rule in &request.rules {
            let candidate = self.validate_new_rule(op, request, vpc_id.as_deref(), rule)?;
            let key = key_of(&candidate).expect("a validated rule has a peer");
            let clash = self
                .rules
                .iter()
                .filter(|r| r.group_id == request.group_id)
                .chain(&new_rules)
                .any(|r| key_of(r).as_ref() == Some(&key));
            if clash {
                return Err(codes::duplicate_rule(op, &describe_for_duplicate(&key)));
            }
            new_rules.push(candidate);
        }
        self.check_quota(op, &request.group_id, request.egress, &new_rules, quota)?;
        for rule in &mut new_rules {
            rule.security_group_rule_id = self.fresh_id("sgr");
            self.rules.push(rule.clone());
        }
        Ok(new_rules)
    }

    fn validate_new_rule(
        &self,
        op: Ec2Operation,
        request: &AuthorizeRules,
        vpc_id: Option<&str>,
        rule: &NewRule,
    ) -> Result<SecurityGroupRule, Ec2Error> {
        let ports = validate_ports(op, rule)?;
        if rule.description.chars().count() > 255 {
            return Err(codes::invalid_value(
                op,
                "Invalid rule description: it can be up to 255 characters long".into(),
            ));
        }
        let mut out = SecurityGroupRule {
            security_group_rule_id: String::new(),
            group_id: request.group_id.clone(),
            is_egress: request.egress,
            ip_protocol: rule.protocol,
            from_port: Some(ports.0),
            to_port: Some(ports.1),
            description: (!rule.description.is_empty()).then(|| rule.description.clone()),
            tags: request.tags.clone(),
            ..Default::default()
        };
        match &rule.peer {
            RulePeer::CidrIpv4(cidr) => {
                let net: Ipv4Net = cidr.trim().parse().map_err(|_| codes::malformed_cidr(op, cidr))?;
                out.cidr_ipv4 = Some(net.to_string());
            }
            RulePeer::CidrIpv6(cidr) => {
                let net: Ipv6Net = cidr.trim().parse().map_err(|_| codes::malformed_cidr(op, cidr))?;
                out.cidr_ipv6 = Some(net.to_string());
            }
            RulePeer::PrefixList(id) => {
                if !self.prefix_list_exists(id) {
                    return Err(codes::prefix_list_not_found(op, id));
                }
                out.prefix_list_id = Some(id.clone());
            }
            RulePeer::Group(id) => {
                let peer = self
                    .groups
                    .get(id)
                    .ok_or_else(|| codes::group_not_found(op, id))?;
                if peer.vpc_id.as_deref() != vpc_id {
                    return Err(codes::group_in_other_network(op));
                }
                out.referenced_group_info = Some(ReferencedGroup {
                    group_id: id.clone(),
                    user_id: Some(self.account_id.clone()),
                    vpc_id: None,
                });
            }
        }
        Ok(out)
    }

    fn check_quota(
        &self,
        op: Ec2Operation,
        group_id: &str,
        egress: bool,
        new_rules: &[SecurityGroupRule],
        quota: u32,
    ) -> Result<(), Ec2Error> {
        let add = |(v4, v6): (u32, u32), rule: &SecurityGroupRule| {
            let (a, b) = self.rule_weight(rule);
            (v4 + a, v6 + b)
        };
        let (new_v4, new_v6) = new_rules.iter().fold((0, 0), add);
        let (v4, v6) = self
            .rules
            .iter()
            .filter(|r| r.group_id == group_id && r.is_egress == egress)
            .fold((new_v4, new_v6), add);
        // A group already over the quota (a raised quota in the account a snapshot came from)
        // only fails when the new rules add to the family that is over.
        if (new_v4 > 0 && v4 > quota) || (new_v6 > 0 && v6 > quota) {
            return Err(codes::rules_limit(op));
        }
        Ok(())
    }

    /// How much a rule counts toward the IPv4 and the IPv6 quota.
    fn rule_weight(&self, rule: &SecurityGroupRule) -> (u32, u32) {
        if rule.cidr_ipv4.is_some() {
            (1, 0)
        } else if rule.cidr_ipv6.is_some() {
            (0, 1)
        } else if let Some(id) = &rule.prefix_list_id {
            let list = self.prefix_lists.get(id);
            let size = list
                .and_then(|l| l.max_entries)
                .and_then(|n| u32::try_from(n).ok())
                .or_else(|| self.prefix_list_entries.get(id).map(|e| e.len() as u32))
                .unwrap_or(1)
                .max(1);
            let ipv6 = list
                .and_then(|l| l.address_family.as_deref())
                .is_some_and(|f| f.eq_ignore_ascii_case("ipv6"));
            if ipv6 { (0, size) } else { (size, 0) }
        } else {
            (1, 1)
        }
    }

    pub(super) fn prefix_list_exists(&self, id: &str) -> bool {
        self.prefix_lists.contains_key(id) || self.prefix_list_entries.contains_key(id)
    }

    /// RevokeSecurityGroupIngress/Egress by rule id: all or none.
    pub(super) fn revoke(
        &mut self,
        op: Ec2Operation,
        group_id: &str,
        egress: bool,
        rule_ids: &[String],
    ) -> Result<(), Ec2Error> {
        if !self.groups.contains_key(group_id) {
            return Err(codes::group_not_found(op, group_id));
        }
        if rule_ids.is_empty() {
            return Err(codes::missing_parameter(op, "SecurityGroupRuleIds"));
        }
        for id in rule_ids {
            let found = self
                .rules
                .iter()
                .any(|r| &r.security_group_rule_id == id && r.group_id == group_id && r.is_egress == egress);
            if !found {
                return Err(codes::rule_not_found(op, id));
            }
        }
        self.rules
            .retain(|r| !rule_ids.contains(&r.security_group_rule_id));
        Ok(())
    }

    /// CreateTags on rules: every id must exist (EC2 refuses the whole request otherwise); a
    /// key a rule carries already gets the new value.
    pub(super) fn tag_rules(
        &mut self,
        op: Ec2Operation,
        rule_ids: &[String],
        tags: &[Tag],
    ) -> Result<(), Ec2Error> {
        if rule_ids.is_empty() {
            return Err(codes::missing_parameter(op, "ResourceId"));
        }
        if let Some(missing) = rule_ids
            .iter()
            .find(|id| !self.rules.iter().any(|r| &r.security_group_rule_id == *id))
        {
            return Err(codes::rule_not_found(op, missing));
        }
        for rule in self
            .rules
            .iter_mut()
            .filter(|r| rule_ids.contains(&r.security_group_rule_id))
        {
            for tag in tags {
                match rule.tags.iter_mut().find(|t| t.key == tag.key) {
                    Some(existing) => existing.value = tag.value.clone(),
                    None => rule.tags.push(tag.clone()),
                }
            }
        }
        Ok(())
    }

    /// DescribeSecurityGroupRules with the `group-id` and `tag:<key>` filters (all must match; the
    /// values of one filter are ORed).
    pub(super) fn describe_rules(&self, filter: &RuleFilter) -> Vec<SecurityGroupRule> {
        self.rules
            .iter()
            .filter(|r| filter.group_ids.is_empty() || filter.group_ids.contains(&r.group_id))
            .filter(|r| match &filter.tag {
                None => true,
                Some((k, v)) => tag_pairs(&r.tags).any(|(rk, rv)| rk == k && rv == v),
            })
            .filter(|r| match &filter.tag_any_of {
                None => true,
                Some((k, values)) => {
                    tag_pairs(&r.tags).any(|(rk, rv)| rk == k && values.iter().any(|v| v == rv))
                }
            })
            .cloned()
            .collect()
    }
}

/// Ports as EC2 stores them: `-1` for "all" (protocol -1 and protocols without ports).
fn validate_ports(op: Ec2Operation, rule: &NewRule) -> Result<(i32, i32), Ec2Error> {
    match rule.protocol {
        Protocol::Tcp | Protocol::Udp => {
            let (from, to) = (rule.from_port, rule.to_port);
            if !(0..=65535).contains(&from) || !(0..=65535).contains(&to) || from > to {
                return Err(codes::invalid_value(
                    op,
                    format!(
                        "Invalid port range {from}-{to}: {} rules need 0 <= fromPort <= toPort <= 65535",
                        rule.protocol.as_aws().to_uppercase()
                    ),
                ));
            }
            Ok((from, to))
        }
        Protocol::Icmp | Protocol::Icmpv6 => {
            let ok = |n: i32| (-1..=255).contains(&n);
            if !ok(rule.from_port) || !ok(rule.to_port) {
                return Err(codes::invalid_value(
                    op,
                    format!(
                        "Invalid ICMP type {} or code {}: each is -1 (all) or 0-255",
                        rule.from_port, rule.to_port
                    ),
                ));
            }
            Ok((rule.from_port, rule.to_port))
        }
        Protocol::All | Protocol::Number(_) => Ok((-1, -1)),
    }
}

fn normalized_ports(protocol: Protocol, from: Option<i32>, to: Option<i32>) -> (i32, i32) {
    match protocol {
        Protocol::All | Protocol::Number(_) => (-1, -1),
        _ => (from.unwrap_or(-1), to.unwrap_or(-1)),
    }
}

fn normalized_cidr(cidr: &str) -> String {
    cidr.trim()
        .parse::<IpNet>()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| cidr.trim().to_string())
}

fn key_of(rule: &SecurityGroupRule) -> Option<RuleKey> {
    let peer = if let Some(c) = &rule.cidr_ipv4 {
        RulePeer::CidrIpv4(normalized_cidr(c))
    } else if let Some(c) = &rule.cidr_ipv6 {
        RulePeer::CidrIpv6(normalized_cidr(c))
    } else if let Some(p) = &rule.prefix_list_id {
        RulePeer::PrefixList(p.clone())
    } else {
        RulePeer::Group(rule.referenced_group_info.as_ref()?.group_id.clone())
    };
    Some(RuleKey {
        group_id: rule.group_id.clone(),
        egress: rule.is_egress,
        protocol: rule.ip_protocol,
        ports: normalized_ports(rule.ip_protocol, rule.from_port, rule.to_port),
        peer,
    })
}

/// The rule as EC2 names it in `InvalidPermission.Duplicate`
/// (`peer: sg-1, TCP, from port: 443, to port: 443, ALLOW`).
fn describe_for_duplicate(key: &RuleKey) -> String {
    let peer = match &key.peer {
        RulePeer::Group(p) | RulePeer::CidrIpv4(p) | RulePeer::CidrIpv6(p) | RulePeer::PrefixList(p) => p,
    };
    match key.protocol {
        Protocol::All => format!("peer: {peer}, ALL, ALLOW"),
        Protocol::Number(n) => format!("peer: {peer}, {n}, ALLOW"),
        p => format!(
            "peer: {peer}, {}, from port: {}, to port: {}, ALLOW",
            p.as_aws().to_uppercase(),
            key.ports.0,
            key.ports.1
        ),
    }
}

/// One `IpPermission` → one rule per peer, as DescribeSecurityGroupRules lists them.
fn expand(group_id: &str, egress: bool, perm: &IpPermission) -> Vec<SecurityGroupRule> {
    let (from, to) = normalized_ports(perm.ip_protocol, perm.from_port, perm.to_port);
    let base = SecurityGroupRule {
        group_id: group_id.to_string(),
        is_egress: egress,
        ip_protocol: perm.ip_protocol,
        from_port: Some(from),
        to_port: Some(to),
        ..Default::default()
    };
    let mut out = Vec::new();
    for r in &perm.ip_ranges {
        out.push(SecurityGroupRule {
            cidr_ipv4: Some(r.cidr_ip.clone()),
            description: r.description.clone(),
            ..base.clone()
        });
    }
    for r in &perm.ipv6_ranges {
        out.push(SecurityGroupRule {
            cidr_ipv6: Some(r.cidr_ipv6.clone()),
            description: r.description.clone(),
            ..base.clone()
        });
    }
    for p in &perm.prefix_list_ids {
        out.push(SecurityGroupRule {
            prefix_list_id: Some(p.prefix_list_id.clone()),
            description: p.description.clone(),
            ..base.clone()
        });
    }
    for g in &perm.user_id_group_pairs {
        out.push(SecurityGroupRule {
            referenced_group_info: Some(ReferencedGroup {
                group_id: g.group_id.clone(),
                user_id: g.user_id.clone(),
                vpc_id: g.vpc_id.clone(),
            }),
            description: g.description.clone(),
            ..base.clone()
        });
    }
    out
}
