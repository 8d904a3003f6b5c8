//! Remediation: the fewest security-group rules that clear every EndpointIngress and
//! ClientEgress block, found by greedy set cover (ties broken by group id, so the same world
//! always gives the same plan, hence the same plan id).
//!
//! - EndpointIngress: an ingress rule on an endpoint security group admitting a client security
//!   group clears the block for every client carrying that group. Choosing the fewest groups
//!   that together cover every blocked client is set cover; greedy is within ln(n) of optimal
//!   and, unlike an exact search, fast on 20,000 clients.
//! - ClientEgress: an egress rule from a client group to an endpoint security group, likewise
//!   over the blocked clients' groups.
//!
//! The cover is over the clients blocked on any of the spec's ports; a chosen group's rules cover
//! the ports its clients are blocked on, contiguous ports in one rule (`8080-8082`). For the
//! default `[443]` that is one rule per group, tcp 443, as before `spec.ports` existed.
//!
//! Rules refer to groups, never to addresses: they keep working as instances come and go.
//! NACL blocks are reported as [`Unfixable`] and never changed: ACLs are shared, stateless and
//! ordered, and editing them is a network team's decision. Which rules the controller may add
//! by itself is `spec.remediation`'s business ([`RuleChange::mode`]), not this module's; which
//! groups it may add rules to at all is the [`super::RuleScope`]'s (an EndpointGrant's groups,
//! the account it acts in): a block only a rule outside it would clear is not fixable.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use ipnet::IpNet;

use super::hash::{HashMap, HashSet};
use super::ports::Ports;
use super::{Check, ClientVerdict, Destination, Direction, Remediation, RuleChange, Unfixable};

/// The fewest groups (greedy) such that every client carries at least one of them, in the
/// order picked (each covers the most clients the earlier picks left). `clients` holds each
/// client's groups; clients without groups cannot be covered and must be left out by the caller.
///
/// The pick is the group covering the most uncovered clients, on a tie the smallest id. Counts
/// only go down, so a max-heap of (count, smallest id first) with stale entries re-pushed at
/// their current count yields exactly that pick without rescanning every group: O((n + m) log g)
/// for n clients, m memberships and g groups, instead of O(picks × g).
fn greedy_cover<'c>(clients: &[&[&'c str]]) -> Vec<&'c str> {
    // The distinct groups sorted (a few thousand), not every membership (tens of thousands),
    // and each group's index found by hashing rather than a binary search per membership.
    let distinct: HashSet<&'c str> = clients.iter().flat_map(|g| g.iter().copied()).collect();
    let mut ids: Vec<&'c str> = distinct.into_iter().collect();
    ids.sort_unstable();
    let places: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, g)| (*g, i)).collect();
    let index = |g: &str| places[g];
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    for (i, groups) in clients.iter().enumerate() {
        for g in groups.iter() {
            let m = &mut members[index(g)];
            // A client listing a group twice counts once.
            if m.last() != Some(&i) {
                m.push(i);
            }
        }
    }
    let mut uncovered_count: Vec<usize> = members.iter().map(Vec::len).collect();
    // Entries (count, Reverse(group index)): the largest count first, then the smallest id
    // (indices follow the sorted ids).
    let mut heap: BinaryHeap<(usize, Reverse<usize>)> = uncovered_count
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n > 0)
        .map(|(g, &n)| (n, Reverse(g)))
        .collect();
    let mut covered = vec![false; clients.len()];
    let mut chosen = Vec::new();
    while let Some((count, Reverse(g))) = heap.pop() {
        let now = uncovered_count[g];
        if now != count {
            if now > 0 {
                heap.push((now, Reverse(g)));
            }
            continue;
        }
        chosen.push(ids[g]);
        for &i in &members[g] {
            if !covered[i] {
                covered[i] = true;
                for other in clients[i].iter() {
                    let n = &mut uncovered_count[index(other)];
                    *n = n.saturating_sub(1);
                }
            }
        }
    }
    chosen
}

/// The fewest of the `blocked` clients' (described) groups that together cover them all, in
/// the greedy order, each with the ports of the clients it covers (a client counts for the
/// first group chosen that it carries, as the greedy cover took it).
fn cover<'c>(groups: &[Vec<&'c str>], blocked: &BTreeMap<usize, Ports>) -> Vec<(&'c str, Ports)> {
    let sets: Vec<&[&'c str]> = blocked.keys().map(|&i| groups[i].as_slice()).collect();
    let mut chosen: Vec<(&'c str, Ports)> = greedy_cover(&sets)
        .into_iter()
        .map(|g| (g, Ports::default()))
        .collect();
    // Each group's place in the greedy order, so that a client's first chosen group is the
    // least place among its groups: a lookup per group it carries, not a scan of the picks
    // (which grow with the VPC: scanning them made this quadratic).
    let place: HashMap<&str, usize> = chosen.iter().enumerate().map(|(k, (g, _))| (*g, k)).collect();
    for (&i, ports) in blocked {
        if let Some(k) = groups[i].iter().filter_map(|g| place.get(g).copied()).min() {
            let covered = &mut chosen[k].1;
            *covered = covered.union(ports);
        }
    }
    chosen
}

/// Why a client's block is left to a person: the rules that would clear it are past EC2's quota
/// of rules per security group on the group they would go to.
pub fn quota_reached(group: &str, direction: Direction, left_out: usize) -> String {
    format!(
        "{group} can take no more {} rules under EC2's quota of {} per security group and \
         direction: the plan adds rules for the clients they serve most, and {} would be \
         needed for the others (raise the quota, or admit them by a CIDR or a shared group)",
        direction.as_str(),
        super::RULES_PER_SECURITY_GROUP,
        if left_out == 1 {
            "1 more rule".to_string()
        } else {
            format!("{left_out} more rules")
        },
    )
}

/// Why no rule is proposed on a group that has as many rules as EC2's quota allows already.
pub fn quota_full(group: &str, direction: Direction) -> String {
    format!(
        "{group} has {} {} rules already, EC2's quota per security group and direction: no rule can \
         be added to it (raise the quota, or free room on it)",
        super::RULES_PER_SECURITY_GROUP,
        direction.as_str(),
    )
}

/// Why no rule is proposed for a client carrying a group the snapshot does not describe.
const UNDESCRIBED_GROUP: &str = "the snapshot does not describe some of the client's security \
     groups (see the block): no rule is proposed on, or towards, a group whose rules are unknown";

/// Whether the remediation may add a rule to a security group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Editable {
    /// Yes, as many more rules as `room` (EC2's quota of rules per group and direction, less
    /// the rules the group has).
    Yes { room: usize },
    /// The world does not describe the group: its rules are unknown.
    Undescribed,
    /// Outside the [`super::RuleScope`], and why.
    Refused(String),
}

/// The plan for the analysed clients. `editable` says whether a rule in a direction may be added
/// to a security group: rules are only ever proposed on groups the world describes and the scope
/// allows, and only ever refer to described groups.
///
/// `account` is the one the controller acts in: a client whose ENI another account owns (a
/// shared VPC) and whose block no rule can clear says which account must act.
pub fn plan(
    clients: &[ClientVerdict],
    destinations: &[Destination],
    editable: &dyn Fn(&str, Direction) -> Editable,
    account: Option<&str>,
) -> Remediation {
    // Asked once per group: thousands of clients carry the same few hundred groups.
    let mut egress_editable: HashMap<&str, Editable> = HashMap::default();
    // A client group the snapshot does not describe may allow the traffic already (its rules
    // are unknown), and a rule on it would be a guess: such groups get no rule.
    let mut known: Vec<Vec<&str>> = Vec::with_capacity(clients.len());
    // The described client groups an egress rule may be added to, and why not for the others.
    let mut egress_refusals: Vec<Vec<String>> = vec![Vec::new(); clients.len()];
    let mut egress_targets: Vec<Vec<&str>> = Vec::with_capacity(clients.len());
    for (i, c) in clients.iter().enumerate() {
        let mut described = Vec::with_capacity(c.security_group_ids.len());
        let mut targets = Vec::with_capacity(c.security_group_ids.len());
        for g in &c.security_group_ids {
            let verdict = egress_editable
                .entry(g.as_str())
                .or_insert_with(|| editable(g, Direction::Egress));
            match verdict {
                Editable::Undescribed => continue,
                Editable::Refused(why) => egress_refusals[i].push(why.clone()),
                Editable::Yes { .. } => targets.push(g.as_str()),
            }
            described.push(g.as_str());
        }
        known.push(described);
        egress_targets.push(targets);
    }

    // Destinations grouped by the security groups guarding them: a rule on one of those groups
    // (or referring to one) serves every destination of the set. All of an endpoint's ENIs
    // share its groups, so in practice there is one set.
    let group_set_of: HashMap<IpNet, &[String]> = destinations
        .iter()
        .map(|d| (d.net, d.security_group_ids.as_slice()))
        .collect();

    // Per destination group set: the clients blocked by each fixable check, with the ports.
    let mut ingress: BTreeMap<&[String], BTreeMap<usize, Ports>> = BTreeMap::new();
    let mut egress: BTreeMap<&[String], BTreeMap<usize, Ports>> = BTreeMap::new();
    let add = |blocked: &mut BTreeMap<usize, Ports>, i: usize, ports: &Ports| {
        let missing = blocked.entry(i).or_default();
        *missing = missing.union(ports);
    };
    let mut unfixable: BTreeMap<(&str, Check), BTreeSet<String>> = BTreeMap::new();

    for (i, client) in clients.iter().enumerate() {
        for block in &client.blocks {
            let set = group_set_of.get(&block.destination).copied().unwrap_or(&[]);
            let can_refer = !set.is_empty() && !known[i].is_empty();
            let undescribed = known[i].len() != client.security_group_ids.len();
            // In a shared VPC, another account's client: its owner is who can open the path.
            let foreign = match (account, client.owner_id.as_deref()) {
                (Some(ours), Some(theirs)) if ours != theirs => Some(theirs),
                _ => None,
            };
            let mut not_fixable = |why: String| {
                let why = match foreign {
                    Some(owner) if block.check.is_fixable() => format!(
                        "the client's network interface belongs to account {owner} (a shared VPC): {why}"
                    ),
                    _ => why,
                };
                unfixable
                    .entry((&client.network_interface_id, block.check))
                    .or_default()
                    .insert(why);
            };
            match block.check {
                Check::EndpointIngress if can_refer => {
                    add(ingress.entry(set).or_default(), i, &block.ports);
                }
                Check::ClientEgress if can_refer && !undescribed && !egress_targets[i].is_empty() => {
                    add(egress.entry(set).or_default(), i, &block.ports);
                }
                Check::ClientEgress if can_refer && !undescribed => {
                    not_fixable(egress_refusals[i].join("; "));
                }
                Check::EndpointIngress | Check::ClientEgress => {
                    let why = if set.is_empty() {
                        "the endpoint has no security group a rule could refer to"
                    } else if undescribed {
                        UNDESCRIBED_GROUP
                    } else {
                        "the client has no security group a rule could refer to"
                    };
                    not_fixable(why.to_string());
                }
                Check::ClientSubnetNacl | Check::EndpointSubnetNacl => {
                    not_fixable(block.detail.clone());
                }
            }
        }
    }

    // The endpoint group a rule is on, or refers to: the smallest id of the set that may be
    // edited (refers to: the smallest id), for determinism.
    let mut rules = BTreeSet::new();
    // Rules proposed so far per group and direction, against each group's room under the quota.
    let mut proposed: HashMap<(&str, Direction), usize> = HashMap::default();
    for (set, blocked) in &ingress {
        let mut refusals = Vec::new();
        let target = set.iter().find_map(|g| match editable(g, Direction::Ingress) {
            Editable::Refused(why) => {
                refusals.push(why);
                None
            }
            Editable::Yes { room } => Some((g, room)),
            Editable::Undescribed => Some((g, usize::MAX)),
        });
        match target {
            Some((target, room)) => {
                let used = proposed.entry((target, Direction::Ingress)).or_default();
                let picks = cover(&known, blocked);
                // The greedy order serves the most clients first: within the quota, keep the
                // first picks (each needs a rule per run of its ports); the clients only the
                // others would serve are not fixable.
                let mut fit = 0;
                let mut needed = 0;
                for (_, ports) in &picks {
                    let n = ports.ranges().len();
                    if fit == needed && *used + n <= room {
                        *used += n;
                        fit += 1;
                    }
                    needed += 1;
                }
                for (client_group, ports) in &picks[..fit] {
                    for range in ports.ranges() {
                        rules.insert(RuleChange::tcp(
                            target,
                            client_group,
                            Check::EndpointIngress,
                            range,
                        ));
                    }
                }
                if fit < picks.len() {
                    let kept: BTreeSet<&str> = picks[..fit].iter().map(|(g, _)| *g).collect();
                    let left_out: usize = picks[fit..].iter().map(|(_, p)| p.ranges().len()).sum();
                    let why = quota_reached(target, Direction::Ingress, left_out);
                    for &i in blocked.keys() {
                        if !known[i].iter().any(|g| kept.contains(g)) {
                            unfixable
                                .entry((&clients[i].network_interface_id, Check::EndpointIngress))
                                .or_default()
                                .insert(why.clone());
                        }
                    }
                }
            }
            None => {
                for &i in blocked.keys() {
                    unfixable
                        .entry((&clients[i].network_interface_id, Check::EndpointIngress))
                        .or_default()
                        .insert(refusals.join("; "));
                }
            }
        }
    }
    for (set, blocked) in &egress {
        for (client_group, ports) in cover(&egress_targets, blocked) {
            for range in ports.ranges() {
                rules.insert(RuleChange::tcp(client_group, &set[0], Check::ClientEgress, range));
            }
        }
    }

    Remediation {
        rules: rules.into_iter().collect(),
        unfixable: unfixable
            .into_iter()
            .map(|((eni, check), details)| Unfixable {
                network_interface_id: eni.to_string(),
                check,
                detail: details.into_iter().collect::<Vec<_>>().join("; "),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cover(sets: &[&[&str]]) -> Vec<String> {
        greedy_cover(sets).into_iter().map(str::to_string).collect()
    }

    #[test]
    fn greedy_cover_picks_the_group_shared_by_most_clients_first() {
        // sg-common covers three clients; sg-a and sg-b would need two rules for the same ones.
        let picked = cover(&[
            &["sg-a", "sg-common"],
            &["sg-b", "sg-common"],
            &["sg-common"],
            &["sg-z"],
        ]);
        assert_eq!(picked, ["sg-common", "sg-z"]);
    }

    #[test]
    fn greedy_cover_breaks_ties_by_the_smallest_group_id() {
        assert_eq!(cover(&[&["sg-b", "sg-a"]]), ["sg-a"]);
        assert_eq!(cover(&[&["sg-y"], &["sg-x"]]), ["sg-x", "sg-y"]);
    }

    #[test]
    fn greedy_cover_of_nobody_is_empty() {
        assert!(cover(&[]).is_empty());
    }

    /// The definition: rescan every group for each pick.
    fn rescanning_cover(sets: &[Vec<String>]) -> Vec<String> {
        let mut covered = vec![false; sets.len()];
        let mut chosen = Vec::new();
        loop {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for (_, groups) in sets.iter().enumerate().filter(|(i, _)| !covered[*i]) {
                for g in groups {
                    *counts.entry(g.as_str()).or_default() += 1;
                }
            }
            // The most clients; on a tie the smallest id (the first in id order).
            let Some((best, _)) =
                counts
                    .iter()
                    .fold(None, |best: Option<(&str, usize)>, (g, &n)| match best {
                        Some((_, m)) if m >= n => best,
                        _ => Some((g, n)),
                    })
            else {
                return chosen;
            };
            for (i, groups) in sets.iter().enumerate() {
                if groups.iter().any(|g| g == best) {
                    covered[i] = true;
                }
            }
            chosen.push(best.to_string());
        }
    }

    /// `cover`'s ports, by its definition: each blocked client's ports go to the first chosen
    /// group (in the greedy order) it carries, found by scanning the picks.
    #[test]
    fn each_client_s_ports_go_to_the_first_pick_it_carries_as_scanning_the_picks_finds_it() {
        let mut state = 987654321u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        for round in 0..200 {
            let groups = 2 + next(30);
            let names: Vec<String> = (0..groups).map(|g| format!("sg-{g:02}")).collect();
            let sets: Vec<Vec<&str>> = (0..next(80))
                .map(|_| {
                    let mut set: Vec<&str> = (0..1 + next(4))
                        .map(|_| names[next(groups) as usize].as_str())
                        .collect();
                    set.sort();
                    set.dedup();
                    set
                })
                .collect();
            let mut blocked: BTreeMap<usize, Ports> = BTreeMap::new();
            for i in 0..sets.len() {
                if next(3) > 0 {
                    let ports: Vec<u16> = (0..1 + next(3)).map(|_| 8080 + next(6) as u16).collect();
                    blocked.insert(i, Ports::new(ports));
                }
            }
            let got = super::cover(&sets, &blocked);
            let picks: Vec<&[&str]> = blocked.keys().map(|&i| sets[i].as_slice()).collect();
            let mut want: Vec<(&str, Ports)> = greedy_cover(&picks)
                .into_iter()
                .map(|g| (g, Ports::default()))
                .collect();
            for (&i, ports) in &blocked {
                let first = want.iter_mut().find(|(g, _)| sets[i].contains(g));
                let (_, covered) = first.expect("the cover covers every blocked client");
                *covered = covered.union(ports);
            }
            assert_eq!(got, want, "round {round}: {sets:?} {blocked:?}");
        }
    }

    #[test]
    fn greedy_cover_picks_what_rescanning_every_group_for_each_pick_picks() {
        let mut state = 12345u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        for round in 0..200 {
            let groups = 2 + next(30);
            let sets: Vec<Vec<String>> = (0..next(80))
                .map(|_| {
                    let mut set: Vec<String> = (0..1 + next(4))
                        .map(|_| format!("sg-{:02}", next(groups)))
                        .collect();
                    set.sort();
                    set.dedup();
                    set
                })
                .collect();
            let strs: Vec<Vec<&str>> = sets
                .iter()
                .map(|s| s.iter().map(String::as_str).collect())
                .collect();
            let refs: Vec<&[&str]> = strs.iter().map(Vec::as_slice).collect();
            let heap: Vec<String> = greedy_cover(&refs).into_iter().map(str::to_string).collect();
            assert_eq!(heap, rescanning_cover(&sets), "round {round}: {sets:?}");
        }
    }
}
