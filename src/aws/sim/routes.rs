//! Route tables of the simulated world: where each subnet's traffic goes, as CreateRouteTable,
//! CreateRoute and AssociateRouteTable (or ReplaceRouteTableAssociation for the main one)
//! leave them. The controller only reads them (DescribeRouteTables, for a canary rollback).

use super::SimEc2;
use crate::model::{Route, RouteTable, RouteTableAssociation};

impl SimEc2 {
    /// A route table of `vpc_id` with `routes` (the `local` route is implied), the VPC's main
    /// one when `main`, explicitly associated with `subnet_ids`; its id. A subnet associated
    /// elsewhere moves here, and a new main table replaces the old one, as in EC2.
    pub fn create_route_table(
        &self,
        vpc_id: &str,
        main: bool,
        subnet_ids: &[&str],
        routes: Vec<Route>,
    ) -> String {
        let mut state = self.lock();
        let world = &mut state.world;
        let id = format!("rtb-{:017x}", world.route_tables.len() + 1);
        for table in world.route_tables.values_mut().filter(|t| t.vpc_id == vpc_id) {
            table.associations.retain(|a| {
                !(a.subnet_id.as_deref().is_some_and(|s| subnet_ids.contains(&s))
                    || (main && a.main == Some(true)))
            });
        }
        let associations = RouteTableAssociation::of_table(subnet_ids, main);
        let cidr = world.vpcs.get(vpc_id).and_then(|v| v.cidr_block.clone());
        let local = Route {
            destination_cidr_block: cidr,
            gateway_id: Some("local".into()),
            state: Some("active".into()),
            ..Route::default()
        };
        world.route_tables.insert(
            id.clone(),
            RouteTable {
                route_table_id: id.clone(),
                vpc_id: vpc_id.to_string(),
                associations,
                routes: std::iter::once(local).chain(routes).collect(),
            },
        );
        id
    }
}
