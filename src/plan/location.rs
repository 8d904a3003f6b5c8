//! Where the object's endpoint lives, which endpoint is the object's ([`owned_endpoint`]), and
//! spec edits that would move it.
//!
//! EC2 never moves an endpoint: its VPC, service and region are fixed when it is created. The
//! pass that creates it records them in the status (`endpointVpcId`, `endpointServiceName`,
//! `endpointRegion`); an endpoint found without them (a status written before they existed) is
//! recorded as observed. From then on:
//! - the engine observes the recorded VPC through the recorded region's EC2 port ([`vpc`],
//!   [`service_name`], [`region`]), whatever the spec says now, so that deletion cleans up
//!   where the endpoint is;
//! - a spec naming another VPC, service or region is an invalid spec ([`moved`]): phase Failed,
//!   one Warning Event, no AWS change, until the field is set back or the object is deleted.
//!
//! The CRD refuses these edits where the API server evaluates CEL ([`crate::api::immutable`]);
//! this is the guard for clusters that do not, or whose CRD predates the rules (tests/e2e
//! installs such a CRD to exercise it).

use super::PlanInput;
use crate::api::{InterfaceEndpointSpec, InterfaceEndpointStatus, Owner};
use crate::model::{Snapshot, VpcEndpoint, tag_pairs};

/// Where an endpoint was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointLocation {
    pub vpc_id: String,
    pub service_name: String,
    /// `None` when the EC2 port did not know its region (an SDK client built without one).
    pub region: Option<String>,
    /// The service's region when it is hosted in another (cross-region PrivateLink); `None`
    /// for a service in `region`.
    pub service_region: Option<String>,
}

impl EndpointLocation {
    /// The location the status records, if an endpoint was created.
    pub fn recorded(status: &InterfaceEndpointStatus) -> Option<Self> {
        Some(Self {
            vpc_id: status.endpoint_vpc_id.clone()?,
            service_name: status.endpoint_service_name.clone()?,
            region: status.endpoint_region.clone(),
            service_region: status.endpoint_service_region.clone(),
        })
    }

    /// Where an endpoint created for `spec` through a port of `region` lives.
    pub fn of_spec(spec: &InterfaceEndpointSpec, region: Option<&str>) -> Self {
        Self {
            vpc_id: spec.vpc_id.clone(),
            service_name: spec.service_name.clone(),
            region: region.or(spec.region.as_deref()).map(str::to_string),
            service_region: spec.service_region.clone(),
        }
    }

    /// Where an endpoint observed through a port of `region` lives.
    pub fn of_endpoint(endpoint: &VpcEndpoint, region: Option<&str>) -> Self {
        Self {
            vpc_id: endpoint.vpc_id.clone(),
            service_name: endpoint.service_name.clone(),
            region: region.map(str::to_string),
            // EC2 may name the endpoint's own region as its service's: that is no other region.
            service_region: endpoint
                .service_region
                .clone()
                .filter(|r| Some(r.as_str()) != region),
        }
    }

    /// Writes the location into `status`.
    pub fn record(&self, status: &mut InterfaceEndpointStatus) {
        status.endpoint_vpc_id = Some(self.vpc_id.clone());
        status.endpoint_service_name = Some(self.service_name.clone());
        status.endpoint_region = self.region.clone();
        status.endpoint_service_region = self.service_region.clone();
    }
}

/// The VPC to observe: where the endpoint was created, or the spec's before that.
pub fn vpc<'a>(spec: &'a InterfaceEndpointSpec, status: &'a InterfaceEndpointStatus) -> &'a str {
    status.endpoint_vpc_id.as_deref().unwrap_or(&spec.vpc_id)
}

/// The service whose details to observe: the endpoint's, or the spec's before it was created.
pub fn service_name<'a>(spec: &'a InterfaceEndpointSpec, status: &'a InterfaceEndpointStatus) -> &'a str {
    status
        .endpoint_service_name
        .as_deref()
        .unwrap_or(&spec.service_name)
}

/// The region whose EC2 port to use: where the endpoint was created, else `spec.region`
/// (`None`: the controller's region). A spec without a region follows the endpoint: it stays
/// where it was created even if the controller's region changes since.
pub fn region<'a>(spec: &'a InterfaceEndpointSpec, status: &'a InterfaceEndpointStatus) -> Option<&'a str> {
    status.endpoint_region.as_deref().or(spec.region.as_deref())
}

/// Where the object's endpoint is: as recorded; for an endpoint created before statuses
/// recorded it, as observed (then an endpoint of another service than the spec's wins: it is
/// the one the spec moved away from); `None` while no endpoint was created.
pub(crate) fn established(input: &PlanInput<'_>) -> Option<EndpointLocation> {
    if let Some(recorded) = EndpointLocation::recorded(input.status) {
        return Some(recorded);
    }
    owned_endpoints(input.world, input.owner)
        .min_by_key(|e| {
            (
                e.service_name == input.spec.service_name,
                e.vpc_endpoint_id.as_str(),
            )
        })
        .map(|e| EndpointLocation::of_endpoint(e, input.region))
}

/// The spec names another VPC, service or region than the endpoint's: the problem, naming the
/// old and new values and what to do. `None` when nothing moved (or nothing was created).
pub(crate) fn moved(input: &PlanInput<'_>) -> Option<String> {
    let at = established(input)?;
    let spec = input.spec;
    let mut changed: Vec<(&str, &str, &str)> = Vec::new();
    if spec.vpc_id != at.vpc_id {
        changed.push(("spec.vpcId", &spec.vpc_id, &at.vpc_id));
    }
    if spec.service_name != at.service_name {
        changed.push(("spec.serviceName", &spec.service_name, &at.service_name));
    }
    // A spec without a region follows the endpoint (see `region`).
    if let (Some(now), Some(then)) = (spec.region.as_deref(), at.region.as_deref())
        && now != then
    {
        changed.push(("spec.region", now, then));
    }
    // The service's region: absent means the endpoint's own, on both sides.
    let own = |r: &Option<String>| r.clone().filter(|r| Some(r) != at.region.as_ref());
    let (now, then) = (own(&spec.service_region), own(&at.service_region));
    if now != then {
        changed.push((
            "spec.serviceRegion",
            spec.service_region.as_deref().unwrap_or("absent"),
            at.service_region.as_deref().unwrap_or("absent"),
        ));
    }
    if changed.is_empty() {
        return None;
    }
    let endpoint = input.status.endpoint_id.as_deref().map_or_else(
        || "this object's endpoint".to_string(),
        |id| format!("endpoint {id}"),
    );
    let region = at
        .region
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let now: Vec<String> = changed
        .iter()
        .map(|(f, new, _)| format!("{f} is {new}"))
        .collect();
    let back: Vec<String> = changed
        .iter()
        .map(|(f, _, old)| format!("{f} back to {old}"))
        .collect();
    Some(format!(
        "{}, but {endpoint} was created in {}{region} for {}, and an endpoint cannot move. Set {}, or \
         delete this object (its deletionPolicy applies to {endpoint}) and create a new InterfaceEndpoint",
        now.join(" and "),
        at.vpc_id,
        at.service_name,
        back.join(" and "),
    ))
}

/// Whether EC2 lists the endpoint only as a tombstone (`deleted`): for every decision it is gone.
pub fn is_gone(endpoint: &VpcEndpoint) -> bool {
    endpoint.state_lower() == "deleted"
}

/// Whether the endpoint is being deleted.
pub fn is_deleting(endpoint: &VpcEndpoint) -> bool {
    endpoint.state_lower() == "deleting"
}

/// Whether an endpoint EC2 no longer lists is gone, not "not listed yet" (EC2 lists a new
/// endpoint a while after creating it): the last status saw it `deleting` or `deleted`, or saw
/// private DNS on, which only an endpoint EC2 already listed can have (the controller creates
/// every endpoint with it off).
pub(crate) fn absence_means_gone(previous: &InterfaceEndpointStatus) -> bool {
    previous.private_dns_enabled || matches!(previous.endpoint_state.as_deref(), Some("deleting" | "deleted"))
}

/// Every endpoint in the observed VPC that carries both ownership tags of `owner`, whatever its
/// service, except tombstones.
pub fn owned_endpoints<'a>(world: &'a Snapshot, owner: &'a Owner) -> impl Iterator<Item = &'a VpcEndpoint> {
    world
        .vpc_endpoints
        .iter()
        .filter(move |e| owner.owns(tag_pairs(&e.tags)) && !is_gone(e))
}

/// The object's endpoint: owned, in the VPC and for the service it was created for
/// ([`established`]; the spec's before creation). Should EC2 list several (it
/// should not: creation is idempotent), the one the status names wins, then one that is not
/// being deleted, then the lowest id, so that the choice is stable.
pub fn owned_endpoint<'a>(input: &PlanInput<'a>) -> Option<&'a VpcEndpoint> {
    let recorded = input.status.endpoint_id.as_deref();
    let (vpc_id, service_name) = match established(input) {
        Some(at) => (at.vpc_id, at.service_name),
        None => (input.spec.vpc_id.clone(), input.spec.service_name.clone()),
    };
    owned_endpoints(input.world, input.owner)
        .filter(|e| e.vpc_id == vpc_id && e.service_name == service_name)
        .min_by_key(|e| {
            (
                Some(e.vpc_endpoint_id.as_str()) != recorded,
                is_deleting(e),
                e.vpc_endpoint_id.as_str(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RolloutPhase;
    use crate::api::conditions::ConditionType;
    use crate::model::Snapshot;
    use crate::plan::fixtures::*;
    use crate::plan::{Action, Decision, EventReason, decide};

    const OTHER_VPC: &str = "vpc-0ffffffffffffffff";

    /// The status of a rollout that created `ENDPOINT` an hour ago, in the fixtures' VPC and
    /// region, for the logs service.
    fn recorded_status() -> InterfaceEndpointStatus {
        let mut status = created_status(now_minus(3600));
        status.phase = RolloutPhase::Ready;
        status.endpoint_state = Some("available".into());
        EndpointLocation {
            vpc_id: VPC.into(),
            service_name: SERVICE.into(),
            region: Some(REGION.into()),
            service_region: None,
        }
        .record(&mut status);
        status
    }

    fn decide_with(
        spec: &InterfaceEndpointSpec,
        world: &Snapshot,
        status: &InterfaceEndpointStatus,
    ) -> Decision {
        let analysis = Ok(endpoint_analysis());
        decide(&input_with(spec, world, &analysis, status), &timing())
    }

    /// Phase Failed, reason InvalidSpec, no action; the Ready message.
    fn invalid(d: &Decision) -> String {
        assert!(d.actions.is_empty(), "{:?}", d.actions);
        assert_eq!(d.status.phase, RolloutPhase::Failed);
        let ready = condition(&d.status, ConditionType::Ready);
        assert_eq!(ready.reason, "InvalidSpec");
        ready.message.clone()
    }

    #[test]
    fn the_create_records_the_vpc_service_and_region_the_endpoint_is_created_in() {
        let d = decide_with(&spec(), &incident_world(), &Default::default());
        assert!(matches!(d.actions.as_slice(), [Action::CreateEndpoint(_)]));
        assert_eq!(d.status.endpoint_vpc_id.as_deref(), Some(VPC));
        assert_eq!(d.status.endpoint_service_name.as_deref(), Some(SERVICE));
        assert_eq!(
            d.status.endpoint_region.as_deref(),
            Some(REGION),
            "the region as resolved by the port, although the spec names none"
        );
    }

    #[test]
    fn an_endpoint_found_without_a_recorded_location_is_recorded_where_it_is_found() {
        let world = with_endpoint(incident_world(), "available", false);
        let d = decide_with(&spec(), &world, &created_status(now_minus(3600)));
        assert_ne!(d.status.phase, RolloutPhase::Failed);
        assert_eq!(
            EndpointLocation::recorded(&d.status),
            Some(EndpointLocation {
                vpc_id: VPC.into(),
                service_name: SERVICE.into(),
                region: Some(REGION.into()),
                service_region: None,
            })
        );
    }

    #[test]
    fn the_endpoint_is_observed_where_it_was_created_whatever_the_spec_says_now() {
        let moved = InterfaceEndpointSpec {
            vpc_id: OTHER_VPC.into(),
            service_name: "com.amazonaws.eu-west-1.monitoring".into(),
            region: Some("eu-west-1".into()),
            ..spec()
        };
        let status = recorded_status();
        assert_eq!(vpc(&moved, &status), VPC);
        assert_eq!(service_name(&moved, &status), SERVICE);
        assert_eq!(region(&moved, &status), Some(REGION));

        let fresh = InterfaceEndpointStatus::default();
        assert_eq!(vpc(&moved, &fresh), OTHER_VPC, "before creation: the spec's");
        assert_eq!(region(&moved, &fresh), Some("eu-west-1"));
        assert_eq!(region(&spec(), &fresh), None, "the controller's region");
    }

    #[test]
    fn a_vpc_changed_under_the_endpoint_fails_naming_both_vpcs_with_one_warning_and_no_change() {
        let world = with_endpoint(incident_world(), "available", true);
        let moved = InterfaceEndpointSpec {
            vpc_id: OTHER_VPC.into(),
            ..spec()
        };
        let d = decide_with(&moved, &world, &recorded_status());
        let message = invalid(&d);
        for part in [
            OTHER_VPC,
            VPC,
            ENDPOINT,
            "spec.vpcId back to",
            "delete this object",
        ] {
            assert!(message.contains(part), "{part} missing: {message}");
        }
        let [event] = d.events.as_slice() else {
            panic!("{:?}", d.events)
        };
        assert_eq!(event.reason, EventReason::Failed);
        assert!(event.warning && event.message.contains(OTHER_VPC));
        assert_eq!(
            d.status.endpoint_id.as_deref(),
            Some(ENDPOINT),
            "the endpoint is still reported"
        );
        assert_eq!(d.status.endpoint_vpc_id.as_deref(), Some(VPC), "the record stays");

        let again = decide_with(&moved, &world, &d.status);
        assert!(again.actions.is_empty());
        assert!(again.events.is_empty(), "once: {:?}", again.events);
    }

    #[test]
    fn a_region_changed_under_the_endpoint_is_an_invalid_spec() {
        let world = with_endpoint(incident_world(), "available", true);
        let moved = InterfaceEndpointSpec {
            region: Some("eu-west-1".into()),
            ..spec()
        };
        let message = invalid(&decide_with(&moved, &world, &recorded_status()));
        assert!(
            message.contains("spec.region is eu-west-1")
                && message.contains("spec.region back to ap-northeast-1"),
            "{message}"
        );
    }

    #[test]
    fn a_service_region_set_or_removed_under_the_endpoint_is_an_invalid_spec() {
        let world = with_endpoint(incident_world(), "available", true);
        let moved = InterfaceEndpointSpec {
            service_region: Some("us-east-1".into()),
            ..spec()
        };
        let message = invalid(&decide_with(&moved, &world, &recorded_status()));
        assert!(
            message.contains("spec.serviceRegion is us-east-1")
                && message.contains("spec.serviceRegion back to absent"),
            "{message}"
        );
        // Created for a service in us-east-1: removing it would connect to another service.
        let mut status = recorded_status();
        status.endpoint_service_region = Some("us-east-1".into());
        let message = invalid(&decide_with(&spec(), &world, &status));
        assert!(
            message.contains("spec.serviceRegion back to us-east-1"),
            "{message}"
        );
        // Naming the endpoint's own region is no move.
        let own = InterfaceEndpointSpec {
            service_region: Some(REGION.into()),
            ..spec()
        };
        let d = decide_with(&own, &world, &recorded_status());
        assert_ne!(
            condition(&d.status, ConditionType::Ready).reason,
            "InvalidSpec",
            "{:?}",
            d.status.conditions
        );
    }

    #[test]
    fn every_changed_field_is_named() {
        let world = with_endpoint(incident_world(), "available", true);
        let moved = InterfaceEndpointSpec {
            vpc_id: OTHER_VPC.into(),
            service_name: "com.amazonaws.ap-northeast-1.monitoring".into(),
            region: Some("eu-west-1".into()),
            ..spec()
        };
        let message = invalid(&decide_with(&moved, &world, &recorded_status()));
        for field in ["spec.vpcId", "spec.serviceName", "spec.region"] {
            assert!(message.contains(&format!("{field} back to")), "{message}");
        }
    }

    #[test]
    fn a_spec_without_a_region_follows_the_endpoint_to_the_region_it_was_created_in() {
        // Created while the controller's region was eu-west-1; it is ap-northeast-1 now. The
        // spec names none: the controller keeps using eu-west-1's port, and nothing moved.
        let mut status = recorded_status();
        status.endpoint_region = Some("eu-west-1".into());
        assert_eq!(region(&spec(), &status), Some("eu-west-1"));
        let world = with_endpoint(incident_world(), "available", true);
        let analysis = Ok(reachable_analysis());
        let mut i = input(&world, &analysis, &status);
        i.region = Some("eu-west-1");
        assert_eq!(moved(&i), None);
        let d = decide(&i, &timing());
        assert_eq!(d.status.phase, RolloutPhase::Ready);
        assert_eq!(d.status.endpoint_region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn naming_the_region_the_endpoint_is_in_moves_nothing() {
        let world = with_endpoint(incident_world(), "available", true);
        let named = InterfaceEndpointSpec {
            region: Some(REGION.into()),
            ..spec()
        };
        let analysis = Ok(reachable_analysis());
        let status = recorded_status();
        let d = decide(&input_with(&named, &world, &analysis, &status), &timing());
        assert_eq!(d.status.phase, RolloutPhase::Ready);
    }

    #[test]
    fn a_moved_spec_is_not_followed_even_once_the_endpoint_is_gone() {
        // Rules of the object may still be where the endpoint was: only deleting the object
        // (or setting the field back) settles it, never a second endpoint elsewhere.
        let moved = InterfaceEndpointSpec {
            vpc_id: OTHER_VPC.into(),
            ..spec()
        };
        let d = decide_with(&moved, &incident_world(), &recorded_status());
        let message = invalid(&d);
        assert!(message.contains(ENDPOINT), "{message}");
    }

    #[test]
    fn a_service_changed_under_an_endpoint_from_before_locations_were_recorded_is_an_invalid_spec() {
        let moved = InterfaceEndpointSpec {
            service_name: "com.amazonaws.ap-northeast-1.monitoring".into(),
            ..spec()
        };
        let world = with_endpoint(incident_world(), "available", false);
        let d = decide_with(&moved, &world, &created_status(now_minus(3600)));
        let message = invalid(&d);
        assert!(
            message.contains(ENDPOINT) && message.contains(&format!("spec.serviceName back to {SERVICE}")),
            "{message}"
        );
        assert_eq!(
            d.status.endpoint_service_name.as_deref(),
            Some(SERVICE),
            "recorded as found"
        );
    }

    #[test]
    fn deletion_after_a_vpc_change_cleans_up_where_the_endpoint_is() {
        let mut world = with_endpoint(incident_world(), "available", true);
        world.security_group_rules = vec![owned_rule("sgr-0000000000000000a", SG_VPCE, false, SG_ZABBIX)];
        let moved = InterfaceEndpointSpec {
            vpc_id: OTHER_VPC.into(),
            ..spec()
        };
        let analysis = Ok(endpoint_analysis());
        let mut status = recorded_status();
        status.private_dns_enabled = true;
        let mut i = input_with(&moved, &world, &analysis, &status);
        i.deleting = true;
        let d = decide(&i, &timing());
        assert_eq!(d.status.phase, RolloutPhase::Deleting);
        // Private DNS off first (docs/rollout.md, deletion), on the endpoint where it is.
        let [Action::ModifyEndpoint(m)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(
            (m.vpc_endpoint_id.as_str(), m.private_dns_enabled),
            (ENDPOINT, Some(false))
        );

        world.vpc_endpoints[0].private_dns_enabled = false;
        let mut status = recorded_status();
        status.private_dns_off_since = Some(now_minus(3600).to_string());
        let mut i = input_with(&moved, &world, &analysis, &status);
        i.deleting = true;
        let d = decide(&i, &timing());
        let [Action::DeleteEndpoint { vpc_endpoint_id }] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(vpc_endpoint_id, ENDPOINT);

        world.vpc_endpoints.clear();
        status.endpoint_state = Some("deleting".into());
        status.phase = RolloutPhase::Deleting;
        let mut i = input_with(&moved, &world, &analysis, &status);
        i.deleting = true;
        let d = decide(&i, &timing());
        let [Action::RevokeRules(revoke)] = d.actions.as_slice() else {
            panic!("{:?}", d.actions)
        };
        assert_eq!(revoke[0].rule_ids, ["sgr-0000000000000000a"]);
    }

    #[test]
    fn the_endpoint_named_in_status_wins_over_a_stray_duplicate() {
        let mut world = with_endpoint(incident_world(), "available", false);
        let mut stray = world.vpc_endpoints[0].clone();
        stray.vpc_endpoint_id = "vpce-00000000000000000".into();
        world.vpc_endpoints.push(stray);
        let analysis = Ok(endpoint_analysis());
        let status = created_status(now_minus(600));
        let i = input(&world, &analysis, &status);
        assert_eq!(owned_endpoint(&i).unwrap().vpc_endpoint_id, ENDPOINT);
    }

    #[test]
    fn endpoints_without_both_owner_tags_are_not_ours() {
        let mut world = with_endpoint(incident_world(), "available", false);
        world.vpc_endpoints[0]
            .tags
            .retain(|t| t.key != crate::api::UID_TAG);
        let analysis = Ok(endpoint_analysis());
        let status = Default::default();
        let i = input(&world, &analysis, &status);
        assert!(owned_endpoint(&i).is_none());
    }
}
