//! One validation of the spec, for every way it comes in: `plan` on a manifest
//! ([`crate::cli::manifest`]), the controller on an object ([`crate::plan::validate`]), and the
//! tests of the shipped examples.
//!
//! - [`validate`]: the structural-schema subset the CRD uses (type, properties, required,
//!   additionalProperties, items, enum, pattern, min/max length, items and values, nullable),
//!   checked against the *generated* CRD schema as the API server checks it. The controller
//!   checks it too: an object can reach it without the API server's validation (an API server
//!   that skips it, an object stored before a schema change), and `plan` must not analyse what
//!   the API server would refuse.
//! - [`spec_problems`]: that schema check of a spec, then what no schema can say (tag keys
//!   reserved for ownership or by AWS, a policy that is not a JSON object, an id listed twice).
//!
//! What needs the AWS world (a subnet that does not exist, two subnets in one Availability
//! Zone) is the analysis's ([`crate::analysis::AnalysisError`]); edits that would move the
//! endpoint are [`crate::plan::location`]'s (the CRD's CEL rules, which not every API server
//! evaluates).
//!
//! One deliberate difference from the API server: a field the schema does not know is an error
//! here. The API server prunes such fields silently, which is exactly how a misspelt
//! `deletionPolicy` would turn into the default `Delete`.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::{GROUP, InterfaceEndpointSpec};
use crate::memo::Recent;

/// Tags AWS allows per resource, minus the controller's two ownership tags.
const MAX_SPEC_TAGS: usize = 48;

/// The generated CRD's schema of `spec`, and its patterns compiled once.
struct SpecSchema {
    schema: Value,
    patterns: HashMap<String, Regex>,
}

static SPEC_SCHEMA: LazyLock<SpecSchema> = LazyLock::new(|| {
    let crd = serde_json::to_value(super::crd::crd()).expect("the CRD serializes");
    let schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone();
    let mut patterns = HashMap::new();
    collect_patterns(&schema, &mut patterns);
    SpecSchema { schema, patterns }
});

fn collect_patterns(schema: &Value, out: &mut HashMap<String, Regex>) {
    match schema {
        Value::Object(map) => {
            if let Some(pattern) = map.get("pattern").and_then(Value::as_str)
                && let Ok(re) = Regex::new(pattern)
            {
                out.insert(pattern.to_string(), re);
            }
            map.values().for_each(|v| collect_patterns(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_patterns(v, out)),
        _ => {}
    }
}

/// Every problem with `spec`, each a sentence starting with the field's path
/// (`spec.approval.planId: ...`): the CRD schema first, then the checks no schema can express.
pub fn spec_problems(spec: &InterfaceEndpointSpec) -> Vec<String> {
    // Every pass validates its object's spec, which seldom changes between passes.
    thread_local! {
        static RECENT: RefCell<Recent<InterfaceEndpointSpec, Vec<String>>> =
            const { RefCell::new(Recent::new(16)) };
    }
    RECENT.with(|recent| recent.borrow_mut().get_or_compute(spec, problems_of))
}

fn problems_of(spec: &InterfaceEndpointSpec) -> Vec<String> {
    let value = serde_json::to_value(spec).expect("a spec serializes");
    let compiled = &*SPEC_SCHEMA;
    let mut problems = Vec::new();
    check(
        &value,
        &compiled.schema,
        "spec",
        &compiled.patterns,
        &mut problems,
    );
    problems.extend(beyond_the_schema(spec));
    problems
}

/// What the schema cannot say.
fn beyond_the_schema(spec: &InterfaceEndpointSpec) -> Vec<String> {
    let mut problems = Vec::new();
    let reserved = format!("{GROUP}/");
    for (key, value) in &spec.tags {
        if key.starts_with(&reserved) {
            problems.push(format!(
                "spec.tags: key {key} is reserved for the controller's ownership tags"
            ));
        } else if key.to_ascii_lowercase().starts_with("aws:") {
            problems.push(format!(
                "spec.tags: key {key} uses the aws: prefix, which AWS reserves"
            ));
        } else if key.is_empty() || key.chars().count() > 128 {
            problems.push(format!("spec.tags: key {key:?} must be 1 to 128 characters"));
        }
        if value.chars().count() > 256 {
            problems.push(format!(
                "spec.tags: the value of {key} is longer than 256 characters"
            ));
        }
    }
    if spec.tags.len() > MAX_SPEC_TAGS {
        problems.push(format!(
            "spec.tags has {} tags; AWS allows 50 per endpoint, 2 of which are the controller's",
            spec.tags.len()
        ));
    }
    let logs = spec
        .clients
        .evidence
        .as_ref()
        .and_then(|e| e.resolver_query_logs.as_ref());
    if let Some(logs) = logs
        && let Err(why) = crate::analysis::evidence::parse_lookback(&logs.lookback)
    {
        problems.push(format!("spec.clients.evidence.resolverQueryLogs.lookback: {why}"));
    }
    if let Some(verification) = &spec.verification
        && let Err(why) = crate::analysis::evidence::parse_lookback(&verification.flow_logs.window)
    {
        problems.push(format!("spec.verification.flowLogs.window: {why}"));
    }
    if spec.clients.scope == super::ClientScope::Evidence && logs.is_none() {
        problems.push(
            "spec.clients.scope: Evidence needs spec.clients.evidence.resolverQueryLogs (where the \
             evidence is read)"
                .into(),
        );
    }
    if super::DnsOptions::inbound_only(spec.dns_options.as_ref()) && !spec.private_dns.enabled {
        problems.push(super::INBOUND_ONLY_MESSAGE.into());
    }
    if let (Some(addresses), Some(records)) = (
        spec.ip_address_type,
        spec.dns_options.as_ref().and_then(|d| d.dns_record_ip_type),
    ) && !records.allowed_with().contains(&addresses)
    {
        problems.push(format!(
            "spec.dnsOptions.dnsRecordIpType {} needs spec.ipAddressType {} (it is {}): EC2 creates \
             those records only for an endpoint with those addresses",
            records.as_str(),
            records
                .allowed_with()
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
            addresses.as_str()
        ));
    }
    if let Some(policy) = &spec.policy {
        match serde_json::from_str::<Value>(policy) {
            Ok(Value::Object(_)) => {}
            Ok(_) => problems.push("spec.policy must be a JSON object (an IAM policy document)".into()),
            Err(e) => problems.push(format!("spec.policy is not valid JSON: {e}")),
        }
    }
    for (field, ids) in [
        ("spec.subnetIds", &spec.subnet_ids),
        ("spec.securityGroupIds", &spec.security_group_ids),
    ] {
        let mut seen = BTreeSet::new();
        if let Some(dup) = ids.iter().find(|id| !seen.insert(id.as_str())) {
            problems.push(format!("{field} lists {dup} twice"));
        }
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = spec.ports.iter().find(|p| !seen.insert(**p)) {
        problems.push(format!("spec.ports lists {dup} twice"));
    }
    problems.extend(subnet_configuration_problems(spec));
    problems
}

/// `spec.subnetConfigurations` against the rest of the spec, as the CRD's CEL rules and its
/// list-map key check it: each names a subnet of `subnetIds` once, with an address of each
/// family the endpoint has and no other. (Formats are the schema's patterns; whether an address
/// is free and in the subnet needs the world: the analysis checks it.)
fn subnet_configuration_problems(spec: &InterfaceEndpointSpec) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for config in &spec.subnet_configurations {
        let subnet = config.subnet_id.as_str();
        if !seen.insert(subnet) {
            problems.push(format!("spec.subnetConfigurations lists {subnet} twice"));
        }
        if !spec.subnet_ids.iter().any(|s| s == subnet) {
            problems.push(format!(
                "{} ({subnet} is not in spec.subnetIds)",
                super::SUBNET_CONFIGURATION_SUBNETS_MESSAGE
            ));
        }
        let (v4, v6) = super::SubnetConfiguration::families(spec.ip_address_type);
        if config.ipv4.is_some() != v4 || config.ipv6.is_some() != v6 {
            problems.push(format!(
                "{} ({subnet} gives {}, spec.ipAddressType is {})",
                super::SUBNET_CONFIGURATION_FAMILIES_MESSAGE,
                match (&config.ipv4, &config.ipv6) {
                    (Some(_), Some(_)) => "ipv4 and ipv6",
                    (Some(_), None) => "ipv4 only",
                    (None, Some(_)) => "ipv6 only",
                    (None, None) => "no address",
                },
                spec.ip_address_type.map_or("absent", |t| t.as_str())
            ));
        }
    }
    problems
}

/// Every violation of `schema` (a whole object's) in `value`, each as `path: problem`.
pub fn validate(value: &Value, schema: &Value) -> Vec<String> {
    let mut patterns = HashMap::new();
    collect_patterns(schema, &mut patterns);
    let mut errors = Vec::new();
    check(value, schema, "", &patterns, &mut errors);
    errors
}

fn check(
    value: &Value,
    schema: &Value,
    path: &str,
    patterns: &HashMap<String, Regex>,
    errors: &mut Vec<String>,
) {
    let at = if path.is_empty() { "<root>" } else { path };
    if value.is_null() {
        if schema["nullable"] != Value::Bool(true) {
            errors.push(format!("{at}: null is not allowed"));
        }
        return;
    }
    if let Some(kind) = schema["type"].as_str() {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            other => {
                errors.push(format!(
                    "{at}: schema type {other:?} is not supported by this validator"
                ));
                return;
            }
        };
        if !ok {
            errors.push(format!("{at}: expected {kind}, got {value}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    match value {
        Value::Object(map) => {
            let properties = schema["properties"].as_object();
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if !map.contains_key(name) {
                    errors.push(format!("{at}: missing required field {name:?}"));
                }
            }
            for (key, item) in map {
                // The API server itself owns these at the root of every object.
                if path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&key.as_str()) {
                    continue;
                }
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match (
                    properties.and_then(|p| p.get(key)),
                    schema.get("additionalProperties"),
                ) {
                    (Some(sub), _) => check(item, sub, &child, patterns, errors),
                    (None, Some(sub)) if sub.is_object() => check(item, sub, &child, patterns, errors),
                    (None, _) if properties.is_some() => errors.push(format!(
                        "{child}: unknown field (the API server would silently drop it)"
                    )),
                    // An object without `properties` (metadata) accepts anything.
                    (None, _) => {}
                }
            }
        }
        Value::Array(items) => {
            bound(
                at,
                "items",
                items.len(),
                &schema["minItems"],
                &schema["maxItems"],
                errors,
            );
            if schema.get("items").is_some() {
                for (i, item) in items.iter().enumerate() {
                    check(item, &schema["items"], &format!("{path}[{i}]"), patterns, errors);
                }
            }
        }
        Value::String(s) => {
            bound(
                at,
                "characters",
                s.chars().count(),
                &schema["minLength"],
                &schema["maxLength"],
                errors,
            );
            if let Some(pattern) = schema["pattern"].as_str() {
                match patterns.get(pattern) {
                    Some(re) if !re.is_match(s) => {
                        errors.push(format!("{at}: {s:?} does not match {pattern}"))
                    }
                    Some(_) => {}
                    None => errors.push(format!("{at}: schema pattern {pattern:?} does not compile")),
                }
            }
        }
        Value::Number(n) => {
            let v = n.as_f64().unwrap_or_default();
            if schema["minimum"].as_f64().is_some_and(|min| v < min) {
                errors.push(format!("{at}: {v} is below the minimum {}", schema["minimum"]));
            }
            if schema["maximum"].as_f64().is_some_and(|max| v > max) {
                errors.push(format!("{at}: {v} is above the maximum {}", schema["maximum"]));
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

fn bound(at: &str, what: &str, n: usize, min: &Value, max: &Value, errors: &mut Vec<String>) {
    if min.as_u64().is_some_and(|m| (n as u64) < m) {
        errors.push(format!("{at}: {n} {what}, fewer than the minimum {min}"));
    }
    if max.as_u64().is_some_and(|m| (n as u64) > m) {
        errors.push(format!("{at}: {n} {what}, more than the maximum {max}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{IpAddressType, SubnetConfiguration};

    const A: &str = "subnet-0a000000000000001";
    const B: &str = "subnet-0a000000000000002";

    fn spec_with(
        configs: Vec<SubnetConfiguration>,
        address_type: Option<IpAddressType>,
    ) -> InterfaceEndpointSpec {
        let mut spec: InterfaceEndpointSpec = serde_json::from_value(serde_json::json!({
            "vpcId": "vpc-0123456789abcdef0",
            "serviceName": "com.amazonaws.ap-northeast-1.logs",
            "subnetIds": [A, B],
            "securityGroupIds": ["sg-01234567"],
        }))
        .unwrap();
        spec.subnet_configurations = configs;
        spec.ip_address_type = address_type;
        spec
    }

    fn config(subnet: &str, ipv4: Option<&str>, ipv6: Option<&str>) -> SubnetConfiguration {
        SubnetConfiguration {
            subnet_id: subnet.into(),
            ipv4: ipv4.map(Into::into),
            ipv6: ipv6.map(Into::into),
        }
    }

    #[test]
    fn the_address_patterns_admit_exactly_what_parses_as_that_family() {
        let v4 = Regex::new(crate::api::IPV4_ADDRESS_PATTERN).unwrap();
        let v6 = Regex::new(crate::api::IPV6_ADDRESS_PATTERN).unwrap();
        let samples = [
            "10.0.1.10",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "10.0.1",
            "10.0.1.10.1",
            "010.0.1.10",
            "10.0.1.1a",
            " 10.0.1.10",
            "::",
            "::1",
            "1::",
            "2600:1f14:aa:1::10",
            "2600:1f14:aa:1:0:0:0:10",
            "2600:1f14:aa:1:0:0:0:10:1",
            "2600::aa::10",
            "fe80::1%eth0",
            "12345::1",
            "g::1",
            ":1::2",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1::2:3:4:5:6:7",
            "::ffff:10.0.0.1",
            "2600:1f14:aa:1::",
            "",
            ":",
        ];
        for s in samples {
            let parsed_v4 = s.parse::<std::net::Ipv4Addr>().is_ok();
            // The embedded-IPv4 form parses but is not admitted: EC2 prints IPv6 addresses in hex.
            let parsed_v6 = s.parse::<std::net::Ipv6Addr>().is_ok() && !s.contains('.');
            assert_eq!(v4.is_match(s), parsed_v4, "ipv4 {s:?}");
            assert_eq!(v6.is_match(s), parsed_v6, "ipv6 {s:?}");
        }
    }

    #[test]
    fn subnet_configurations_name_the_spec_s_subnets_once_with_the_endpoint_s_families() {
        let ok = spec_with(vec![config(A, Some("10.0.1.10"), None)], None);
        assert_eq!(spec_problems(&ok), Vec::<String>::new());
        let dual = spec_with(
            vec![config(A, Some("10.0.1.10"), Some("2600:1f14:aa:1::10"))],
            Some(IpAddressType::Dualstack),
        );
        assert_eq!(spec_problems(&dual), Vec::<String>::new());
        let v6 = spec_with(
            vec![config(B, None, Some("2600:1f14:aa:2::10"))],
            Some(IpAddressType::Ipv6),
        );
        assert_eq!(spec_problems(&v6), Vec::<String>::new());

        let elsewhere = spec_with(
            vec![config("subnet-0a000000000000009", Some("10.0.1.10"), None)],
            None,
        );
        assert_eq!(
            spec_problems(&elsewhere),
            [format!(
                "{} (subnet-0a000000000000009 is not in spec.subnetIds)",
                crate::api::SUBNET_CONFIGURATION_SUBNETS_MESSAGE
            )]
        );
        let twice = spec_with(
            vec![
                config(A, Some("10.0.1.10"), None),
                config(A, Some("10.0.1.11"), None),
            ],
            None,
        );
        assert_eq!(
            spec_problems(&twice),
            [format!("spec.subnetConfigurations lists {A} twice")]
        );
        let v6_on_v4 = spec_with(
            vec![config(A, Some("10.0.1.10"), Some("2600:1f14:aa:1::10"))],
            None,
        );
        assert_eq!(
            spec_problems(&v6_on_v4),
            [format!(
                "{} ({A} gives ipv4 and ipv6, spec.ipAddressType is absent)",
                crate::api::SUBNET_CONFIGURATION_FAMILIES_MESSAGE
            )]
        );
        let half_dual = spec_with(
            vec![config(A, Some("10.0.1.10"), None)],
            Some(IpAddressType::Dualstack),
        );
        assert_eq!(
            spec_problems(&half_dual),
            [format!(
                "{} ({A} gives ipv4 only, spec.ipAddressType is dualstack)",
                crate::api::SUBNET_CONFIGURATION_FAMILIES_MESSAGE
            )]
        );
        let malformed = spec_with(vec![config(A, Some("10.0.1.300"), None)], None);
        assert_eq!(
            spec_problems(&malformed),
            [format!(
                "spec.subnetConfigurations[0].ipv4: \"10.0.1.300\" does not match {}",
                crate::api::IPV4_ADDRESS_PATTERN
            )]
        );
    }

    #[test]
    fn the_crd_keys_subnet_configurations_by_subnet_and_carries_both_rules() {
        let crd = serde_json::to_value(crate::api::crd::crd()).unwrap();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let list = &spec["properties"]["subnetConfigurations"];
        assert_eq!(list["x-kubernetes-list-type"], "map", "{list}");
        assert_eq!(
            list["x-kubernetes-list-map-keys"],
            serde_json::json!(["subnetId"])
        );
        assert_eq!(list["items"]["required"], serde_json::json!(["subnetId"]));
        let rules: Vec<&str> = spec["x-kubernetes-validations"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["rule"].as_str())
            .collect();
        assert!(
            rules.contains(&crate::api::SUBNET_CONFIGURATION_SUBNETS_RULE),
            "{rules:?}"
        );
        assert!(
            rules.contains(&crate::api::SUBNET_CONFIGURATION_FAMILIES_RULE),
            "{rules:?}"
        );
    }
}
