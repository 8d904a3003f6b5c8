//! `docs/iam-policy.json` grants exactly the EC2 actions the adapter calls, and puts the
//! ownership conditions where EC2 supports them (see docs/iam.md for each statement); the
//! policies for acting in other accounts name what the adapter asks STS for.

use std::collections::BTreeSet;

use serde_json::Value;

use super::crd::repo_path;
use crate::api::{OWNER_TAG, UID_TAG};
use crate::aws::Ec2Operation;
use crate::logs::LogsOperation;

/// Actions EC2 authorizes implicitly for the calls above (tags given in CreateVpcEndpoint and
/// AuthorizeSecurityGroup* are authorized as `ec2:CreateTags`, which the adapter also calls
/// for handovers).
const IMPLIED_ACTIONS: [&str; 0] = [];

fn policy() -> Value {
    let text = std::fs::read_to_string(repo_path("docs/iam-policy.json")).unwrap();
    serde_json::from_str(&text).expect("docs/iam-policy.json is JSON")
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(|i| i.as_str().unwrap().to_string()).collect(),
        _ => vec![],
    }
}

fn statements() -> Vec<Value> {
    policy()["Statement"].as_array().unwrap().clone()
}

/// The EC2 actions of a statement (`ec2:` left out); CloudWatch Logs actions are
/// [`logs_actions`].
fn actions(statement: &Value) -> BTreeSet<String> {
    list(&statement["Action"])
        .into_iter()
        .filter(|a| !a.starts_with("logs:"))
        .map(|a| {
            a.strip_prefix("ec2:")
                .unwrap_or_else(|| panic!("only EC2 and CloudWatch Logs actions are expected, found {a}"))
                .to_string()
        })
        .collect()
}

/// The CloudWatch Logs actions of a statement (`logs:` left out).
fn logs_actions(statement: &Value) -> BTreeSet<String> {
    list(&statement["Action"])
        .into_iter()
        .filter_map(|a| a.strip_prefix("logs:").map(str::to_string))
        .collect()
}

fn statement(sid: &str) -> Value {
    statements()
        .into_iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}"))
}

/// Both ownership tags must be present (`Null: false`) under `prefix` (`aws:RequestTag/` or
/// `aws:ResourceTag/`).
fn requires_owner_tags(statement: &Value, prefix: &str) -> bool {
    [OWNER_TAG, UID_TAG]
        .iter()
        .all(|tag| statement["Condition"]["Null"][format!("{prefix}{tag}")] == "false")
}

#[test]
fn the_policy_allows_exactly_the_ec2_actions_the_adapter_calls() {
    let expected: BTreeSet<String> = Ec2Operation::ALL
        .iter()
        .map(|op| op.as_str().to_string())
        .chain(IMPLIED_ACTIONS.iter().map(|a| a.to_string()))
        .collect();
    let mut granted = BTreeSet::new();
    for s in statements() {
        assert_eq!(s["Effect"], "Allow", "{s}");
        assert!(
            s.get("NotAction").is_none() && s.get("NotResource").is_none(),
            "{s}"
        );
        for action in actions(&s) {
            assert!(!action.contains('*'), "no wildcard actions: {action}");
            granted.insert(action);
        }
    }
    let missing: Vec<_> = expected.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "docs/iam-policy.json is out of step with Ec2Operation::ALL: missing {missing:?}, not called {extra:?}; update the policy and docs/iam.md"
    );
}

#[test]
fn the_policy_allows_exactly_the_logs_reads_the_port_makes_and_on_named_log_groups_only() {
    let expected: BTreeSet<String> = LogsOperation::ALL
        .iter()
        .map(|op| op.as_str().to_string())
        .collect();
    let mut granted = BTreeSet::new();
    for s in statements() {
        let logs = logs_actions(&s);
        if logs.is_empty() {
            continue;
        }
        assert!(
            actions(&s).is_empty(),
            "{}: CloudWatch Logs actions keep statements of their own",
            s["Sid"]
        );
        let resources = list(&s["Resource"]);
        for action in &logs {
            let op = LogsOperation::ALL
                .into_iter()
                .find(|op| op.as_str() == action)
                .unwrap_or_else(|| panic!("logs:{action} is granted but the port never calls it"));
            if op.is_scoped_to_log_groups() {
                for r in &resources {
                    let name = r
                        .strip_prefix("arn:aws:logs:*:*:log-group:")
                        .unwrap_or_else(|| panic!("logs:{action} on {r}: only named log groups"));
                    let name = name.strip_suffix(":*").unwrap_or(name);
                    assert!(
                        !name.is_empty() && !name.contains('*'),
                        "logs:{action} on {r}: a named log group, no wildcard"
                    );
                }
            } else {
                assert_eq!(resources, ["*"], "IAM authorizes logs:{action} on * only");
                assert_eq!(logs.len(), 1, "nothing else shares the * of logs:{action}");
            }
            granted.insert(action.clone());
        }
    }
    assert_eq!(
        granted, expected,
        "docs/iam-policy.json is out of step with LogsOperation::ALL; update the policy and docs/iam.md"
    );
}

#[test]
fn only_reads_are_granted_on_every_resource() {
    for s in statements() {
        if list(&s["Resource"]).iter().any(|r| r == "*") {
            for action in actions(&s) {
                let op = Ec2Operation::ALL.iter().find(|op| op.as_str() == action);
                assert!(
                    op.is_some_and(|op| !op.is_mutation()),
                    "{action} is granted on \"*\" in {}",
                    s["Sid"]
                );
            }
        }
    }
}

#[test]
fn endpoints_are_created_only_with_the_owner_tags_and_changed_only_when_they_carry_them() {
    let create = statement("CreateOnlyEndpointsTaggedAsOwned");
    assert_eq!(list(&create["Resource"]), ["arn:aws:ec2:*:*:vpc-endpoint/*"]);
    assert!(requires_owner_tags(&create, "aws:RequestTag/"), "{create}");

    let owned = statement("ModifyAndDeleteOnlyOwnedEndpoints");
    assert_eq!(
        actions(&owned),
        BTreeSet::from(["ModifyVpcEndpoint".to_string(), "DeleteVpcEndpoints".to_string()])
    );
    assert!(requires_owner_tags(&owned, "aws:ResourceTag/"), "{owned}");

    // No other statement may grant these actions on endpoints without the conditions.
    for s in statements() {
        let on_endpoints = list(&s["Resource"])
            .iter()
            .any(|r| r.contains("vpc-endpoint/") || r == "*");
        let endpoint_writes = actions(&s)
            .into_iter()
            .filter(|a| {
                ["CreateVpcEndpoint", "ModifyVpcEndpoint", "DeleteVpcEndpoints"].contains(&a.as_str())
            })
            .count();
        if on_endpoints && endpoint_writes > 0 {
            assert!(
                requires_owner_tags(&s, "aws:RequestTag/") || requires_owner_tags(&s, "aws:ResourceTag/"),
                "{} writes endpoints without an ownership condition",
                s["Sid"]
            );
        }
    }
}

#[test]
fn rules_are_added_only_with_the_owner_tags() {
    let rules = statement("AddOnlyRulesTaggedAsOwned");
    assert_eq!(
        list(&rules["Resource"]),
        ["arn:aws:ec2:*:*:security-group-rule/*"]
    );
    assert!(requires_owner_tags(&rules, "aws:RequestTag/"), "{rules}");
}

#[test]
fn tags_can_only_be_written_while_creating_an_endpoint_or_a_rule() {
    let tag = statement("TagOnlyWhileCreating");
    assert_eq!(actions(&tag), BTreeSet::from(["CreateTags".to_string()]));
    let create_actions: BTreeSet<String> = list(&tag["Condition"]["StringEquals"]["ec2:CreateAction"])
        .into_iter()
        .collect();
    let tagging_calls: BTreeSet<String> = [
        Ec2Operation::CreateVpcEndpoint,
        Ec2Operation::AuthorizeSecurityGroupIngress,
        Ec2Operation::AuthorizeSecurityGroupEgress,
    ]
    .iter()
    .map(|op| op.as_str().to_string())
    .collect();
    assert_eq!(create_actions, tagging_calls);
}

#[test]
fn rules_are_retagged_only_when_owned_and_only_with_ownership_tags() {
    let handover = statement("HandOverOnlyOwnedRules");
    assert_eq!(actions(&handover), BTreeSet::from(["CreateTags".to_string()]));
    assert_eq!(
        list(&handover["Resource"]),
        ["arn:aws:ec2:*:*:security-group-rule/*"]
    );
    assert!(requires_owner_tags(&handover, "aws:ResourceTag/"), "{handover}");
    assert!(requires_owner_tags(&handover, "aws:RequestTag/"), "{handover}");
    let keys: BTreeSet<String> = list(&handover["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"])
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = [
        OWNER_TAG,
        UID_TAG,
        crate::api::HANDED_OVER_FROM_TAG,
        crate::api::CLUSTER_TAG,
    ]
    .map(String::from)
    .into_iter()
    .collect();
    assert_eq!(keys, expected);
    // No other statement grants CreateTags without the creation condition, but adoption's.
    for s in statements() {
        if actions(&s).contains("CreateTags")
            && ![
                "HandOverOnlyOwnedRules",
                "AdoptEndpointsByTaggingThem",
                "TagOwnedEndpointsAsTheSpecSays",
            ]
            .contains(&s["Sid"].as_str().unwrap())
        {
            assert!(
                s["Condition"]["StringEquals"]["ec2:CreateAction"].is_array(),
                "{s}"
            );
        }
    }
}

#[test]
fn existing_endpoints_are_tagged_only_as_an_object_s_and_only_with_the_controller_s_keys() {
    let adopt = statement("AdoptEndpointsByTaggingThem");
    assert_eq!(actions(&adopt), BTreeSet::from(["CreateTags".to_string()]));
    assert_eq!(list(&adopt["Resource"]), ["arn:aws:ec2:*:*:vpc-endpoint/*"]);
    // Both ownership tags in every request: an endpoint is tagged to become an object's, so
    // that ModifyAndDeleteOnlyOwnedEndpoints applies to it from then on, and for nothing else.
    assert!(requires_owner_tags(&adopt, "aws:RequestTag/"), "{adopt}");
    let keys: BTreeSet<String> = list(&adopt["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"])
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = [OWNER_TAG, UID_TAG, crate::api::CLUSTER_TAG]
        .map(String::from)
        .into_iter()
        .collect();
    assert_eq!(keys, expected, "no tag key but the controller's");
    // What the controller sends: exactly those keys.
    let tags = crate::plan::cluster::tags(
        &crate::api::Owner {
            namespace: "ns".into(),
            name: "n".into(),
            uid: "u".into(),
        },
        Some("blue"),
    );
    assert_eq!(tags.keys().cloned().collect::<BTreeSet<_>>(), expected);
}

/// `spec.tags` edits: CreateTags and DeleteTags only on endpoints that carry both ownership
/// tags, only with keys named (DeleteTags without keys deletes every tag), and never a key of
/// the controller's own.
#[test]
fn spec_tags_are_set_and_deleted_only_on_owned_endpoints_and_never_the_controllers_keys() {
    for (sid, action) in [
        ("TagOwnedEndpointsAsTheSpecSays", "CreateTags"),
        ("UntagOnlySpecTagsOfOwnedEndpoints", "DeleteTags"),
    ] {
        let s = statement(sid);
        assert_eq!(actions(&s), BTreeSet::from([action.to_string()]), "{sid}");
        assert_eq!(list(&s["Resource"]), ["arn:aws:ec2:*:*:vpc-endpoint/*"], "{sid}");
        assert!(requires_owner_tags(&s, "aws:ResourceTag/"), "{s}");
        assert_eq!(
            s["Condition"]["Null"]["aws:TagKeys"], "false",
            "{sid}: a request without keys (DeleteTags of every tag) is refused"
        );
        let not_like = list(&s["Condition"]["ForAllValues:StringNotLike"]["aws:TagKeys"]);
        assert_eq!(not_like, [format!("{}/*", crate::api::GROUP)], "{sid}");
    }
    // DeleteTags is granted nowhere else.
    for s in statements() {
        if actions(&s).contains("DeleteTags") {
            assert_eq!(s["Sid"], "UntagOnlySpecTagsOfOwnedEndpoints", "{s}");
        }
    }
}

#[test]
fn iam_doc_explains_every_statement() {
    let doc = std::fs::read_to_string(repo_path("docs/iam.md")).unwrap();
    for s in statements() {
        let sid = s["Sid"].as_str().unwrap();
        assert!(
            doc.contains(&format!("`{sid}`")),
            "docs/iam.md does not explain {sid}"
        );
    }
}

fn json(doc: &str) -> Value {
    let text = std::fs::read_to_string(repo_path(doc)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{doc} is not JSON: {e}"))
}

#[test]
fn the_controller_side_policy_allows_assuming_and_tagging_sessions_only() {
    let policy = json("docs/iam-assume-role-policy.json");
    let statements = policy["Statement"].as_array().unwrap();
    let granted: BTreeSet<String> = statements.iter().flat_map(|s| list(&s["Action"])).collect();
    assert_eq!(
        granted,
        BTreeSet::from(["sts:AssumeRole".to_string(), "sts:TagSession".to_string()]),
        "the adapter asks STS for AssumeRole with session tags, nothing else"
    );
    for s in statements {
        assert!(
            list(&s["Resource"])
                .iter()
                .all(|r| r.starts_with("arn:aws:iam::")),
            "{s}"
        );
    }
}

#[test]
fn the_trust_policy_requires_the_external_id_and_allows_the_controllers_session_tags_only() {
    use crate::aws::{SESSION_TAG_NAME, SESSION_TAG_NAMESPACE};
    let policy = json("docs/iam-trust-policy.json");
    let statements = policy["Statement"].as_array().unwrap();
    let find = |action: &str| {
        statements
            .iter()
            .find(|s| list(&s["Action"]) == [action])
            .unwrap_or_else(|| panic!("no statement for {action}"))
    };
    let assume = find("sts:AssumeRole");
    assert!(
        assume["Condition"]["StringEquals"]["sts:ExternalId"].is_string(),
        "{assume}"
    );
    let tag = find("sts:TagSession");
    let keys: BTreeSet<String> = list(&tag["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"])
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = [SESSION_TAG_NAMESPACE, SESSION_TAG_NAME].map(String::from).into();
    assert_eq!(
        keys, expected,
        "the session tags the adapter sends (aws::AssumeRole::for_object)"
    );
    for key in [SESSION_TAG_NAMESPACE, SESSION_TAG_NAME] {
        assert_eq!(tag["Condition"]["Null"][format!("aws:RequestTag/{key}")], "false");
    }
    let doc = std::fs::read_to_string(repo_path("docs/iam.md")).unwrap();
    for s in statements.iter().chain(
        json("docs/iam-assume-role-policy.json")["Statement"]
            .as_array()
            .unwrap(),
    ) {
        let sid = s["Sid"].as_str().unwrap();
        assert!(
            doc.contains(&format!("`{sid}`")),
            "docs/iam.md does not explain {sid}"
        );
    }
}
