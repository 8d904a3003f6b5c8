//! The world as it would be with some rules added ([`apply_rules`]: for the property test, "the
//! plan fixes what it says it fixes", and the state machine's expectations) or taken away
//! ([`without_rules`]: whether revoking rules would cut a client off). Pure.

use super::{Direction, RuleChange};
use crate::aws::RulePeer;
use crate::model::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, SecurityGroupRule, Snapshot, UserIdGroupPair,
};

/// `snapshot` with `rules` added to their groups' `IpPermissions` / `IpPermissionsEgress`.
///
/// A rule identical to one already there is not added twice (EC2 answers
/// `InvalidPermission.Duplicate`); a rule for a group the snapshot does not hold is dropped,
/// since EC2 would refuse it too. `SecurityGroupRules` (the controller's own rules, with ids)
/// is left alone: the rules have no id until EC2 assigns one.
pub fn apply_rules(snapshot: &Snapshot, rules: &[RuleChange]) -> Snapshot {
    let mut out = snapshot.clone();
    for rule in rules {
        let Some(group) = out
            .security_groups
            .iter_mut()
            .find(|g| g.group_id == rule.group_id)
        else {
            continue;
        };
        let permission = permission(rule);
        let list = match rule.direction {
            Direction::Ingress => &mut group.ip_permissions,
            Direction::Egress => &mut group.ip_permissions_egress,
        };
        if !list.contains(&permission) {
            list.push(permission);
        }
    }
    out
}

fn permission(rule: &RuleChange) -> IpPermission {
    let mut p = IpPermission {
        ip_protocol: rule.protocol,
        from_port: Some(i32::from(rule.from_port)),
        to_port: Some(i32::from(rule.to_port)),
        ..Default::default()
    };
    match &rule.peer {
        RulePeer::Group(g) => p.user_id_group_pairs.push(UserIdGroupPair {
            group_id: g.clone(),
            ..Default::default()
        }),
        RulePeer::CidrIpv4(c) => p.ip_ranges.push(IpRange {
            cidr_ip: c.clone(),
            description: None,
        }),
        RulePeer::CidrIpv6(c) => p.ipv6_ranges.push(Ipv6Range {
            cidr_ipv6: c.clone(),
            description: None,
        }),
        RulePeer::PrefixList(id) => p.prefix_list_ids.push(PrefixListId {
            prefix_list_id: id.clone(),
            description: None,
        }),
    }
    p
}

/// `world` without `rules` (the object's own, as DescribeSecurityGroupRules shows them): each
/// taken out of its group's permissions and out of `SecurityGroupRules`.
pub fn without_rules(world: &Snapshot, rules: &[&SecurityGroupRule]) -> Snapshot {
    let mut after = world.clone();
    for rule in rules {
        let Some(group) = after
            .security_groups
            .iter_mut()
            .find(|g| g.group_id == rule.group_id)
        else {
            continue;
        };
        let permissions = if rule.is_egress {
            &mut group.ip_permissions_egress
        } else {
            &mut group.ip_permissions
        };
        for p in permissions.iter_mut().filter(|p| {
            p.ip_protocol == rule.ip_protocol && p.from_port == rule.from_port && p.to_port == rule.to_port
        }) {
            if let Some(peer) = &rule.referenced_group_info {
                p.user_id_group_pairs.retain(|u| u.group_id != peer.group_id);
            } else if let Some(cidr) = &rule.cidr_ipv4 {
                p.ip_ranges.retain(|r| &r.cidr_ip != cidr);
            } else if let Some(cidr) = &rule.cidr_ipv6 {
                p.ipv6_ranges.retain(|r| &r.cidr_ipv6 != cidr);
            } else if let Some(list) = &rule.prefix_list_id {
                p.prefix_list_ids.retain(|l| &l.prefix_list_id != list);
            }
        }
        permissions.retain(|p| {
            !(p.user_id_group_pairs.is_empty()
                && p.ip_ranges.is_empty()
                && p.ipv6_ranges.is_empty()
                && p.prefix_list_ids.is_empty())
        });
    }
    after.security_group_rules.retain(|r| {
        !rules
            .iter()
            .any(|gone| gone.security_group_rule_id == r.security_group_rule_id)
    });
    after
}
