//! Whether a subnet's traffic can reach the internet, from its route tables: the path a client
//! takes to a service's public name once private DNS goes off (a canary rollback weighs it).
//!
//! A subnet uses the route table explicitly associated with it, else the VPC's main one. It has
//! a path when that table holds an active `0.0.0.0/0` route to a NAT gateway or an internet
//! gateway. Anything else (no table found, a default route to a transit gateway, a peering, a
//! firewall endpoint, a blackhole) counts as no path: what the route tables cannot show is not
//! assumed to work. The route tables say nothing of the client's own address: an internet
//! gateway route is taken to serve it (a client without a public address behind one has no
//! path in truth), and the NAT gateway's own subnet is not followed.

use crate::model::{Route, RouteTable};

/// A subnet's way to the internet, or why it has none (a sentence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InternetPath {
    /// Through `target` (`nat-…`, `igw-…`), by route table `route_table_id`.
    Via {
        route_table_id: String,
        target: String,
    },
    None(String),
}

impl InternetPath {
    pub fn exists(&self) -> bool {
        matches!(self, Self::Via { .. })
    }
}

/// The route table `subnet_id` uses: its explicit association, else the main table.
pub fn table_of<'a>(subnet_id: &str, tables: &'a [RouteTable]) -> Option<&'a RouteTable> {
    tables
        .iter()
        .find(|t| {
            t.associations
                .iter()
                .any(|a| a.subnet_id.as_deref() == Some(subnet_id))
        })
        .or_else(|| tables.iter().find(|t| t.is_main()))
}

/// The NAT or internet gateway a default route leads to, if it is one and active.
fn internet_target(route: &Route) -> Option<&str> {
    if route.destination_cidr_block.as_deref() != Some("0.0.0.0/0") {
        return None;
    }
    if route
        .state
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("blackhole"))
    {
        return None;
    }
    route
        .nat_gateway_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .or(route.gateway_id.as_deref().filter(|id| id.starts_with("igw-")))
}

/// The internet path of `subnet_id` in `tables` (the VPC's route tables).
pub fn path_of(subnet_id: &str, tables: &[RouteTable]) -> InternetPath {
    let Some(table) = table_of(subnet_id, tables) else {
        return InternetPath::None(format!(
            "no route table of {subnet_id} was found (neither associated nor main)"
        ));
    };
    match table.routes.iter().find_map(internet_target) {
        Some(target) => InternetPath::Via {
            route_table_id: table.route_table_id.clone(),
            target: target.to_string(),
        },
        None => InternetPath::None(format!(
            "route table {} of {subnet_id} has no active 0.0.0.0/0 route to a NAT or internet gateway",
            table.route_table_id
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RouteTableAssociation;

    fn table(id: &str, main: bool, subnets: &[&str], routes: Vec<Route>) -> RouteTable {
        let associations = RouteTableAssociation::of_table(subnets, main);
        RouteTable {
            route_table_id: id.into(),
            vpc_id: "vpc-1".into(),
            associations,
            routes,
        }
    }

    #[test]
    fn a_private_subnet_reaches_the_internet_through_its_nat_gateway_and_a_public_one_through_the_igw() {
        let tables = [
            table(
                "rtb-private",
                false,
                &["subnet-a"],
                vec![Route::default_via("nat-1")],
            ),
            table("rtb-public", true, &[], vec![Route::default_via("igw-1")]),
        ];
        assert_eq!(
            path_of("subnet-a", &tables),
            InternetPath::Via {
                route_table_id: "rtb-private".into(),
                target: "nat-1".into()
            }
        );
        assert_eq!(
            path_of("subnet-unassociated", &tables),
            InternetPath::Via {
                route_table_id: "rtb-public".into(),
                target: "igw-1".into()
            },
            "the main table serves subnets without an association"
        );
    }

    #[test]
    fn an_isolated_subnet_a_blackhole_or_a_transit_gateway_route_is_no_path() {
        let mut blackhole = Route::default_via("nat-gone");
        blackhole.state = Some("blackhole".into());
        let tgw = Route {
            destination_cidr_block: Some("0.0.0.0/0".into()),
            gateway_id: Some("tgw-1".into()),
            ..Route::default()
        };
        let tables = [
            table("rtb-isolated", true, &[], vec![]),
            table("rtb-hole", false, &["subnet-hole"], vec![blackhole]),
            table("rtb-tgw", false, &["subnet-tgw"], vec![tgw]),
        ];
        for subnet in ["subnet-a", "subnet-hole", "subnet-tgw"] {
            let path = path_of(subnet, &tables);
            assert!(!path.exists(), "{subnet}: {path:?}");
        }
        match path_of("subnet-a", &[]) {
            InternetPath::None(why) => assert!(why.contains("no route table"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
