//! What can be checked in `charts/vpce-rollout` without Helm (.ci/helm_lint.py runs the real
//! `helm lint`): the chart's version matches the crate, every value is documented, templates
//! only use values that exist and every value is used, the environment variables the
//! Deployment sets are the ones `vpce-rollout run` reads, and RBAC grants exactly the API calls
//! the controller makes.

use std::collections::BTreeSet;

use clap::CommandFactory;

use super::crd::repo_path;
use crate::controller::options::tests_support::RunCommand;

const CHART: &str = "charts/vpce-rollout";

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_path(&format!("{CHART}/{relative}")))
        .unwrap_or_else(|e| panic!("{CHART}/{relative}: {e}"))
}

fn templates() -> Vec<(String, String)> {
    let dir = repo_path(&format!("{CHART}/templates"));
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Every path in values.yaml (`image`, `image.tag`, ...), with whether it is a leaf.
fn value_paths(value: &serde_yaml::Value, prefix: &str, out: &mut Vec<(String, bool)>) {
    if let serde_yaml::Value::Mapping(map) = value {
        for (k, v) in map {
            let path = format!("{prefix}{}", k.as_str().unwrap());
            let is_map = matches!(v, serde_yaml::Value::Mapping(m) if !m.is_empty());
            out.push((path.clone(), !is_map));
            value_paths(v, &format!("{path}."), out);
        }
    }
}

#[test]
fn the_chart_keeps_the_binary_s_quieter_log_defaults_unless_told_otherwise() {
    let values: serde_yaml::Value = serde_yaml::from_str(&read("values.yaml")).unwrap();
    let filter = values["logging"]["filter"].as_str().unwrap();
    assert!(
        filter.is_empty() || filter == crate::controller::logging::DEFAULT_FILTER,
        "logging.filter {filter:?} would replace the binary's default ({}) for everyone",
        crate::controller::logging::DEFAULT_FILTER
    );
    let deployment = read("templates/deployment.yaml");
    let set = deployment.find("name: RUST_LOG").expect("RUST_LOG can be set");
    let guard = deployment[..set].rfind("{{- with .Values.logging.filter }}");
    let end = deployment[..set].rfind("{{- end }}");
    assert!(
        guard.is_some() && end < guard,
        "RUST_LOG is set only when logging.filter is not empty"
    );
}

#[test]
fn no_image_is_assumed_to_exist() {
    let values: serde_yaml::Value = serde_yaml::from_str(&read("values.yaml")).unwrap();
    assert_eq!(
        values["image"]["repository"].as_str(),
        Some(""),
        "no image is published: the user builds and pushes one, and says where"
    );
    let deployment = read("templates/deployment.yaml");
    assert!(deployment.contains("image.repository is empty: no image of vpce-rollout is published"));
    assert!(deployment.contains("docker build -t REGISTRY/vpce-rollout"));
}

#[test]
fn chart_version_follows_the_crate() {
    let chart: serde_yaml::Value = serde_yaml::from_str(&read("Chart.yaml")).unwrap();
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], "vpce-rollout");
    assert_eq!(
        chart["appVersion"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "Chart.yaml appVersion must be the crate version (the image tag by default)"
    );
}

#[test]
fn every_value_is_documented_in_values_yaml() {
    // A key is documented by a `# --` comment right above it, or above one of its parents
    // (e.g. `resources` documents its requests and limits).
    let text = read("values.yaml");
    let mut documented_at: Vec<(usize, bool)> = Vec::new(); // (indent, documented) of open keys
    let mut previous_is_doc = false;
    let mut undocumented = Vec::new();
    let key = regex::Regex::new(r"^(\s*)([A-Za-z][A-Za-z0-9]*):").unwrap();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            if trimmed.starts_with("# --") {
                previous_is_doc = true;
            }
            continue;
        }
        if let Some(caps) = key.captures(line) {
            let indent = caps[1].len();
            documented_at.retain(|(i, _)| *i < indent);
            let inherited = documented_at.iter().any(|(_, d)| *d);
            let documented = previous_is_doc || inherited;
            let has_value = !line[caps.get(0).unwrap().end()..].trim().is_empty();
            if has_value && !documented {
                undocumented.push(caps[2].to_string());
            }
            documented_at.push((indent, documented));
        }
        previous_is_doc = false;
    }
    assert!(
        undocumented.is_empty(),
        "values without a `# --` comment in values.yaml: {undocumented:?}"
    );
}

#[test]
fn templates_use_only_existing_values_and_every_value_is_used() {
    let values: serde_yaml::Value = serde_yaml::from_str(&read("values.yaml")).unwrap();
    let mut paths = Vec::new();
    value_paths(&values, "", &mut paths);
    let known: BTreeSet<&str> = paths.iter().map(|(p, _)| p.as_str()).collect();
    let reference =
        regex::Regex::new(r"\.Values\.([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*)").unwrap();
    let mut used = BTreeSet::new();
    for (name, text) in templates() {
        for caps in reference.captures_iter(&text) {
            let path = caps[1].to_string();
            assert!(
                known.contains(path.as_str()),
                "templates/{name} uses .Values.{path}, which values.yaml does not define"
            );
            used.insert(path);
        }
    }
    for (path, leaf) in &paths {
        // A value is used when it, or a map around it, is referenced (toYaml of a whole map).
        let covered = used
            .iter()
            .any(|u| u == path || path.starts_with(&format!("{u}.")));
        assert!(
            !leaf || covered,
            "values.yaml defines {path}, which no template uses"
        );
    }
}

#[test]
fn deployment_sets_only_environment_variables_the_binary_reads() {
    let command = RunCommand::command();
    let read_by_binary: BTreeSet<String> = command
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().to_string())
        .collect();
    let deployment = read("templates/deployment.yaml");
    let env_name = regex::Regex::new(r"- name: ((?:VPCE_ROLLOUT_|RUST_LOG)[A-Z0-9_]*)").unwrap();
    let set: BTreeSet<String> = env_name
        .captures_iter(&deployment)
        .map(|c| c[1].to_string())
        .collect();
    assert!(set.len() >= 8, "{set:?}");
    let unknown: Vec<_> = set.difference(&read_by_binary).collect();
    assert!(
        unknown.is_empty(),
        "the Deployment sets {unknown:?}, which `run` does not read (known: {read_by_binary:?})"
    );
}

#[test]
fn the_pod_runs_non_root_with_a_read_only_root_file_system() {
    let values: serde_yaml::Value = serde_yaml::from_str(&read("values.yaml")).unwrap();
    let pod = &values["podSecurityContext"];
    assert_eq!(pod["runAsNonRoot"], true);
    assert_eq!(pod["seccompProfile"]["type"], "RuntimeDefault");
    let container = &values["securityContext"];
    assert_eq!(container["allowPrivilegeEscalation"], false);
    assert_eq!(container["readOnlyRootFilesystem"], true);
    assert_eq!(container["capabilities"]["drop"][0], "ALL");
    let deployment = read("templates/deployment.yaml");
    assert!(deployment.contains("path: /healthz") && deployment.contains("path: /readyz"));
}

/// A template's YAML without Helm: template actions and comments dropped, `{{ ... }}` values
/// standing in as `X`; one document per `---`.
fn plain_documents(relative: &str) -> Vec<serde_yaml::Value> {
    let text = read(relative);
    let comment = regex::Regex::new(r"(?s)\{\{-?\s*/\*.*?\*/\s*-?\}\}").unwrap();
    let action = regex::Regex::new(r"\{\{.*?\}\}").unwrap();
    let text = comment.replace_all(&text, "");
    let plain: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().starts_with("{{"))
        .map(|l| action.replace_all(l, "X").to_string())
        .collect();
    plain
        .join("\n")
        .split("\n---\n")
        .map(|doc| serde_yaml::from_str(doc).unwrap_or_else(|e| panic!("{relative}: {e}\n{doc}")))
        .collect()
}

#[test]
fn the_single_team_grant_is_the_one_the_code_defines() {
    let docs = plain_documents("templates/single-team-grant.yaml");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["kind"], "EndpointGrant");
    let spec: crate::api::EndpointGrantSpec = serde_yaml::from_value(docs[0]["spec"].clone()).unwrap();
    assert_eq!(spec, crate::api::EndpointGrantSpec::single_team());
    let values: serde_yaml::Value = serde_yaml::from_str(&read("values.yaml")).unwrap();
    assert_eq!(
        values["singleTeamGrant"]["enabled"], false,
        "off by default: deny by default"
    );
}

#[test]
fn tenants_may_edit_endpoints_only_and_the_platform_grants_and_approvals() {
    let docs = plain_documents("templates/user-roles.yaml");
    let role = |name: &str| {
        docs.iter()
            .find(|d| d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no ClusterRole {name}"))
            .clone()
    };
    let resources = |role: &serde_yaml::Value| -> BTreeSet<String> {
        role["rules"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|r| r["resources"].as_sequence().unwrap().iter())
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    };
    let edit = role("vpce-rollout-edit");
    assert_eq!(edit["kind"], "ClusterRole");
    let labels = &edit["metadata"]["labels"];
    assert_eq!(labels["rbac.authorization.k8s.io/aggregate-to-edit"], "true");
    assert_eq!(
        resources(&edit),
        BTreeSet::from(["interfaceendpoints".to_string()]),
        "tenants: no status (deletion trusts it), no grant, no approval"
    );
    let admin = role("vpce-rollout-admin");
    let granted = resources(&admin);
    assert!(granted.contains("endpointgrants") && granted.contains("planapprovals"));
    assert!(
        admin["metadata"]["labels"]
            .as_mapping()
            .into_iter()
            .flat_map(|m| m.keys())
            .all(|k| !k
                .as_str()
                .unwrap()
                .starts_with("rbac.authorization.k8s.io/aggregate")),
        "the platform's role is bound on purpose, never aggregated into namespace roles"
    );
}

/// The RBAC rules of `templates/rbac.yaml` as (API group, resource, verb, limited to named
/// objects), read without Helm: template actions are dropped or stand in as `X`.
fn rbac_grants() -> BTreeSet<(String, String, String, bool)> {
    let mut grants = BTreeSet::new();
    for doc in plain_documents("templates/rbac.yaml") {
        for rule in doc["rules"].as_sequence().into_iter().flatten() {
            let list = |key: &str| -> Vec<String> {
                rule[key]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect()
            };
            let named = !list("resourceNames").is_empty();
            for group in list("apiGroups") {
                for resource in list("resources") {
                    for verb in list("verbs") {
                        grants.insert((group.clone(), resource.clone(), verb, named));
                    }
                }
            }
        }
    }
    grants
}

#[test]
fn rbac_grants_exactly_the_calls_the_controller_makes() {
    let expected: BTreeSet<(String, String, String, bool)> = [
        // run: the watcher lists and watches; check_access lists first.
        ("vpce-rollout.dev", "interfaceendpoints", "list", false),
        ("vpce-rollout.dev", "interfaceendpoints", "watch", false),
        // writes::add_finalizer / remove_finalizer: a merge patch of metadata.finalizers.
        ("vpce-rollout.dev", "interfaceendpoints", "patch", false),
        // writes::apply_status: server-side apply (a PATCH) on /status.
        ("vpce-rollout.dev", "interfaceendpoints/status", "patch", false),
        // Asked for by the issue alongside the finalizer (admission plugins that check it).
        (
            "vpce-rollout.dev",
            "interfaceendpoints/finalizers",
            "update",
            false,
        ),
        // kube-runtime's Recorder: events.k8s.io/v1 Events, created, then patched as a series.
        ("events.k8s.io", "events", "create", false),
        ("events.k8s.io", "events", "patch", false),
        // tenancy: the caches the verdicts are decided from (controller::tenancy), and
        // run::check_tenancy_access lists grants and approvals first.
        ("vpce-rollout.dev", "endpointgrants", "list", false),
        ("vpce-rollout.dev", "endpointgrants", "watch", false),
        ("vpce-rollout.dev", "planapprovals", "list", false),
        ("vpce-rollout.dev", "planapprovals", "watch", false),
        // Namespace labels, for namespaceSelector (metadata only).
        ("", "namespaces", "list", false),
        ("", "namespaces", "watch", false),
        // leader: get_opt, then replace (PUT) of its own Lease; create cannot be limited by name.
        ("coordination.k8s.io", "leases", "create", false),
        ("coordination.k8s.io", "leases", "get", true),
        ("coordination.k8s.io", "leases", "update", true),
    ]
    .into_iter()
    .map(|(g, r, v, n)| (g.to_string(), r.to_string(), v.to_string(), n))
    .collect();
    let granted = rbac_grants();
    let extra: Vec<_> = granted.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&granted).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "templates/rbac.yaml grants calls the controller does not make: {extra:?}; lacks: {missing:?}"
    );
}
