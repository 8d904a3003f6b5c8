//! Spec fields that cannot change once the object exists: `vpcId`, `serviceName`, `region` and
//! `serviceRegion`.
//!
//! EC2 creates an interface endpoint in one VPC of one region for one service and never moves
//! it. An edit of these fields would make the controller look for the endpoint where it is not
//! (the old one and its rules orphaned, a second one created), so the CRD carries a CEL
//! transition rule for each (`x-kubernetes-validations` on the spec, evaluated by the API server
//! on every update). The controller checks the same thing itself against where the endpoint was
//! created ([`crate::plan::location`]), for clusters that do not evaluate CEL.

use kube::core::Rule;

/// One immutable spec field and the CEL transition rule that keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImmutableField {
    /// The field's name in the spec (JSON).
    pub field: &'static str,
    /// The CEL rule, evaluated with `self` and `oldSelf` bound to the new and the old spec.
    pub rule: &'static str,
    /// Why it cannot change, for the message.
    pub why: &'static str,
}

pub const VPC_ID: ImmutableField = ImmutableField {
    field: "vpcId",
    rule: "self.vpcId == oldSelf.vpcId",
    why: "an endpoint stays in the VPC it was created in",
};

pub const SERVICE_NAME: ImmutableField = ImmutableField {
    field: "serviceName",
    rule: "self.serviceName == oldSelf.serviceName",
    why: "an endpoint serves the service it was created for",
};

/// `region` is optional: setting it, removing it and changing it are all refused (the API
/// server cannot know which region an absent one meant: the controller's, at creation).
pub const REGION: ImmutableField = ImmutableField {
    field: "region",
    rule: "has(self.region) == has(oldSelf.region) && (!has(self.region) || self.region == oldSelf.region)",
    why: "an endpoint stays in the region it was created in",
};

/// `serviceRegion` is optional like `region`: an endpoint is connected to the service in the
/// region it was created for.
pub const SERVICE_REGION: ImmutableField = ImmutableField {
    field: "serviceRegion",
    rule: "has(self.serviceRegion) == has(oldSelf.serviceRegion) && (!has(self.serviceRegion) || \
           self.serviceRegion == oldSelf.serviceRegion)",
    why: "an endpoint stays connected to the service in the region it was created for",
};

/// Every immutable field, in the order of the spec.
pub const ALL: [ImmutableField; 4] = [VPC_ID, SERVICE_NAME, REGION, SERVICE_REGION];

impl ImmutableField {
    /// The message the API server answers an edit with (after `spec.<field>: Invalid value: ...`).
    pub fn message(&self) -> String {
        format!(
            "spec.{} is immutable: {}. Create a new InterfaceEndpoint instead (deleting this one \
             deletes or retains its endpoint as its deletionPolicy says)",
            self.field, self.why
        )
    }
}

/// The rule as the CRD carries it, reported at the field (`fieldPath`) rather than at `spec`.
/// (kube-apiserver 1.28 appends the fieldPath of a second failing rule to the first one's,
/// `spec.vpcId.region`; the messages name the right field anyway.)
pub fn rule(field: ImmutableField) -> Rule {
    Rule::new(field.rule)
        .message(field.message().as_str())
        .field_path(format!(".{}", field.field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_crd_carries_a_transition_rule_for_each_immutable_field_on_the_spec() {
        let crd = crate::api::crd::crd();
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("the CRD has a schema");
        let spec = &schema.properties.as_ref().unwrap()["spec"];
        let fields = spec.properties.as_ref().unwrap();
        let rules = spec
            .x_kubernetes_validations
            .as_ref()
            .expect("the spec carries x-kubernetes-validations");
        let transitions = rules.iter().filter(|r| r.rule.contains("oldSelf")).count();
        assert_eq!(transitions, ALL.len(), "{rules:?}");
        for field in ALL {
            let rule = rules
                .iter()
                .find(|r| r.rule == field.rule)
                .unwrap_or_else(|| panic!("no rule for {}: {rules:?}", field.field));
            // A rule naming oldSelf is a transition rule: evaluated on updates only, so it
            // never refuses a create.
            assert!(
                rule.rule.contains(&format!("oldSelf.{}", field.field)),
                "{}",
                rule.rule
            );
            assert_eq!(rule.message.as_deref(), Some(field.message().as_str()));
            assert!(
                rule.message
                    .as_deref()
                    .unwrap()
                    .contains("Create a new InterfaceEndpoint")
            );
            // The API server refuses a CRD whose fieldPath names no field of the schema.
            assert_eq!(
                rule.field_path.as_deref(),
                Some(format!(".{}", field.field).as_str())
            );
            assert!(
                fields.contains_key(field.field),
                "{} is not a spec field",
                field.field
            );
        }
        let required = spec.required.as_ref().unwrap();
        assert!(
            !required.contains(&REGION.field.to_string()),
            "region is optional: has() needed"
        );
        assert!(REGION.rule.contains("has(self.region) == has(oldSelf.region)"));
    }
}
