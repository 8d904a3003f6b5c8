//! What the CRD promises, checked where a user meets it: kube-apiserver's answer to `kubectl
//! apply` and `kubectl patch`. The CEL transition rules keep an endpoint where it was created,
//! the schema's patterns, enums and bounds refuse malformed specs, each with the message the
//! user reads (the immutability messages are `api::immutable`'s own, the schema's name the
//! field and what is allowed).

use kube_apiserver_harness::Kubectl;
use serde_json::Value;
use vpce_rollout::api::immutable;

use crate::harness::{self, create_namespace};

const NS: &str = "platform-network";

/// The incident example (examples/cloudwatch-logs.yaml), edited, as YAML for `kubectl apply`.
fn example(edit: impl FnOnce(&mut serde_yaml::Value)) -> String {
    let path = harness::repo().join("examples/cloudwatch-logs.yaml");
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut doc);
    serde_yaml::to_string(&doc).unwrap()
}

/// The generated CRD's schema of `spec.<path>` (JSON pointer below `spec`).
fn spec_schema(pointer: &str) -> Value {
    let crd = serde_json::to_value(vpce_rollout::api::crd::crd()).unwrap();
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    spec.pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the spec's schema"))
        .clone()
}

/// Applies `manifest` and returns kubectl's error; panics if the server accepted it.
fn refused(kubectl: &Kubectl, manifest: &str) -> String {
    match kubectl.try_run(&["apply", "-f", "-"], Some(manifest)) {
        Ok(out) => panic!("accepted: {out}\n{manifest}"),
        Err(err) => err,
    }
}

fn merge_patch_refused(kubectl: &Kubectl, patch: &str) -> String {
    match kubectl.try_run(
        &["-n", NS, "patch", "vpce", "logs", "--type=merge", "-p", patch],
        None,
    ) {
        Ok(out) => panic!("accepted: {out} for {patch}"),
        Err(err) => err,
    }
}

fn assert_says(err: &str, expected: &str) {
    assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_an_endpoint_to_another_vpc_service_or_region_is_refused_with_the_crds_message() {
    let (cluster, client) = harness::cluster().await;
    create_namespace(&client, NS).await;
    let kubectl = cluster.kubectl();
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&example(|_| {})));
    let message = |field: immutable::ImmutableField| {
        format!("spec.{}: Invalid value: {}", field.field, field.message())
    };

    // A GitOps edit of the manifest, as `kubectl apply` sends it.
    let moved = example(|doc| doc["spec"]["vpcId"] = "vpc-0123456789abcdef0".into());
    assert_says(&refused(&kubectl, &moved), &message(immutable::VPC_ID));
    let err = merge_patch_refused(
        &kubectl,
        r#"{"spec":{"serviceName":"com.amazonaws.ap-northeast-1.ssm"}}"#,
    );
    assert_says(&err, &message(immutable::SERVICE_NAME));
    assert_says(&err, r#"The InterfaceEndpoint "logs" is invalid"#);

    // The example names no region (the controller's applies): setting one moves it too.
    assert_says(
        &merge_patch_refused(&kubectl, r#"{"spec":{"region":"us-east-1"}}"#),
        &message(immutable::REGION),
    );
    // So does the service's region (cross-region PrivateLink): another service's endpoint.
    assert_says(
        &merge_patch_refused(&kubectl, r#"{"spec":{"serviceRegion":"eu-west-1"}}"#),
        &message(immutable::SERVICE_REGION),
    );
    // Two fields at once: each is reported at its own path.
    let err = merge_patch_refused(
        &kubectl,
        r#"{"spec":{"vpcId":"vpc-0123456789abcdef0","serviceName":"com.amazonaws.ap-northeast-1.ssm"}}"#,
    );
    assert_says(&err, &message(immutable::VPC_ID));
    assert_says(&err, &message(immutable::SERVICE_NAME));

    // Everything else can change: subnets, security groups, tags, remediation, approval.
    kubectl.run(&[
        "-n", NS, "patch", "vpce", "logs", "--type=merge", "-p",
        r#"{"spec":{"subnetIds":["subnet-0aa11bb22cc33dd44"],"tags":{"team":"network"},"remediation":{"clientEgress":"Auto"},"approval":{"planId":"abc123"}}}"#,
    ]);

    // An endpoint declared with a region keeps it: neither changed nor removed.
    let with_region = example(|doc| {
        doc["metadata"]["name"] = "logs-tokyo".into();
        doc["spec"]["region"] = "ap-northeast-1".into();
        doc["spec"]["serviceRegion"] = "eu-west-1".into();
    });
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&with_region));
    for patch in [
        r#"{"spec":{"region":"ap-northeast-3"}}"#,
        r#"{"spec":{"region":null}}"#,
    ] {
        let err = kubectl
            .try_run(
                &[
                    "-n",
                    NS,
                    "patch",
                    "vpce",
                    "logs-tokyo",
                    "--type=merge",
                    "-p",
                    patch,
                ],
                None,
            )
            .expect_err(patch);
        assert_says(&err, &message(immutable::REGION));
    }
    for patch in [
        r#"{"spec":{"serviceRegion":"us-east-1"}}"#,
        r#"{"spec":{"serviceRegion":null}}"#,
    ] {
        let err = kubectl
            .try_run(
                &[
                    "-n",
                    NS,
                    "patch",
                    "vpce",
                    "logs-tokyo",
                    "--type=merge",
                    "-p",
                    patch,
                ],
                None,
            )
            .expect_err(patch);
        assert_says(&err, &message(immutable::SERVICE_REGION));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_specs_are_refused_naming_the_field_and_what_it_allows() {
    let (cluster, client) = harness::cluster().await;
    create_namespace(&client, NS).await;
    let kubectl = cluster.kubectl();

    let vpc_pattern = spec_schema("/properties/vpcId/pattern");
    let err = refused(&kubectl, &example(|doc| doc["spec"]["vpcId"] = "vpc-XYZ".into()));
    assert_says(
        &err,
        &format!(
            r#"spec.vpcId: Invalid value: "vpc-XYZ": spec.vpcId in body should match '{}'"#,
            vpc_pattern.as_str().unwrap()
        ),
    );

    let subnet_pattern = spec_schema("/properties/subnetIds/items/pattern");
    let err = refused(
        &kubectl,
        &example(|doc| doc["spec"]["subnetIds"][1] = "subnet-private-c".into()),
    );
    assert_says(
        &err,
        &format!(
            r#"spec.subnetIds[1]: Invalid value: "subnet-private-c": spec.subnetIds[1] in body should match '{}'"#,
            subnet_pattern.as_str().unwrap()
        ),
    );

    let err = refused(
        &kubectl,
        &example(|doc| doc["spec"]["subnetIds"] = serde_yaml::Value::Sequence(vec![])),
    );
    assert_says(
        &err,
        "spec.subnetIds: Invalid value: 0: spec.subnetIds in body should have at least 1 items",
    );

    // Enums list what is allowed, in the schema's order.
    let allowed = |pointer: &str| -> String {
        spec_schema(pointer)
            .as_array()
            .unwrap()
            .iter()
            .map(|v| format!("{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let err = refused(
        &kubectl,
        &example(|doc| {
            doc["spec"]["remediation"] = serde_yaml::from_str("{endpointIngress: Sometimes}").unwrap()
        }),
    );
    assert_says(
        &err,
        &format!(
            r#"spec.remediation.endpointIngress: Unsupported value: "Sometimes": supported values: {}"#,
            allowed("/properties/remediation/properties/endpointIngress/enum")
        ),
    );
    let err = refused(
        &kubectl,
        &example(|doc| doc["spec"]["deletionPolicy"] = "Keep".into()),
    );
    assert_says(
        &err,
        &format!(
            r#"spec.deletionPolicy: Unsupported value: "Keep": supported values: {}"#,
            allowed("/properties/deletionPolicy/enum")
        ),
    );

    // A bare Off is YAML 1.1's false to kubectl: why the README and examples quote it.
    let bare_off = example(|_| {}).replace("spec:\n", "spec:\n  remediation:\n    clientEgress: Off\n");
    let err = refused(&kubectl, &bare_off);
    assert_says(
        &err,
        "spec.remediation.clientEgress: Invalid value: \"boolean\": spec.remediation.clientEgress in body must be of type string: \"boolean\"",
    );
    let quoted = bare_off.replace("clientEgress: Off", "clientEgress: \"Off\"");
    kubectl.run_with_input(&["apply", "-f", "-"], Some(&quoted));

    let err = refused(
        &kubectl,
        &example(|doc| {
            doc["metadata"]["name"] = "approved".into();
            doc["spec"]["approval"] = serde_yaml::from_str("{planId: not-a-plan}").unwrap();
        }),
    );
    assert_says(&err, r#"spec.approval.planId: Invalid value: "not-a-plan""#);

    // DNS records EC2 does not create for the address type: the CEL rule's message, at the field.
    let err = refused(
        &kubectl,
        &example(|doc| {
            doc["metadata"]["name"] = "records".into();
            doc["spec"]["ipAddressType"] = "ipv4".into();
            doc["spec"]["dnsOptions"] = serde_yaml::from_str("{dnsRecordIpType: dualstack}").unwrap();
        }),
    );
    assert_says(&err, "spec.dnsOptions.dnsRecordIpType: Invalid value");
    assert_says(&err, vpce_rollout::api::DNS_RECORDS_MESSAGE);
    let err = refused(
        &kubectl,
        &example(|doc| doc["spec"]["ipAddressType"] = "IPv6".into()),
    );
    assert_says(&err, r#"spec.ipAddressType: Unsupported value: "IPv6""#);
    // Private DNS for Resolver inbound endpoints only needs private DNS on.
    let err = refused(
        &kubectl,
        &example(|doc| {
            doc["metadata"]["name"] = "inbound-only".into();
            doc["spec"]["privateDns"] = serde_yaml::from_str("{enabled: false}").unwrap();
            doc["spec"]["dnsOptions"] =
                serde_yaml::from_str("{privateDnsOnlyForInboundResolverEndpoint: true}").unwrap();
        }),
    );
    assert_says(
        &err,
        "spec.dnsOptions.privateDnsOnlyForInboundResolverEndpoint: Invalid value",
    );
    assert_says(&err, vpce_rollout::api::INBOUND_ONLY_MESSAGE);
    // Subnet configurations: in spec.subnetIds, once each, with the endpoint's families, well formed.
    let err = refused(
        &kubectl,
        &example(|doc| {
            doc["metadata"]["name"] = "fixed-elsewhere".into();
            doc["spec"]["subnetConfigurations"] =
                serde_yaml::from_str("[{subnetId: subnet-0fff0000000000009, ipv4: 10.0.10.10}]").unwrap();
        }),
    );
    assert_says(&err, "spec.subnetConfigurations: Invalid value");
    assert_says(&err, vpce_rollout::api::SUBNET_CONFIGURATION_SUBNETS_MESSAGE);
    let first_subnet = |doc: &serde_yaml::Value| doc["spec"]["subnetIds"][0].as_str().unwrap().to_string();
    let err = refused(
        &kubectl,
        &example(|doc| {
            doc["metadata"]["name"] = "fixed-v6".into();
            let subnet = first_subnet(doc);
            doc["spec"]["subnetConfigurations"] = serde_yaml::from_str(&format!(
                "[{{subnetId: {subnet}, ipv4: 10.0.10.10, ipv6: '2600:1f14:aa:1::10'}}]"
            ))
            .unwrap();
        }),
    );
    assert_says(&err, vpce_rollout::api::SUBNET_CONFIGURATION_FAMILIES_MESSAGE);
    let err = refused(
        &kubectl,
        &example(|doc| {
            doc["metadata"]["name"] = "fixed-twice".into();
            let subnet = first_subnet(doc);
            doc["spec"]["subnetConfigurations"] = serde_yaml::from_str(&format!(
                "[{{subnetId: {subnet}, ipv4: 10.0.10.10}}, {{subnetId: {subnet}, ipv4: 10.0.10.11}}]"
            ))
            .unwrap();
        }),
    );
    assert_says(&err, "spec.subnetConfigurations[1]: Duplicate value");
    let err = refused(
        &kubectl,
        &example(|doc| {
            doc["metadata"]["name"] = "fixed-malformed".into();
            let subnet = first_subnet(doc);
            doc["spec"]["subnetConfigurations"] =
                serde_yaml::from_str(&format!("[{{subnetId: {subnet}, ipv4: 10.0.10.300}}]")).unwrap();
        }),
    );
    assert_says(
        &err,
        r#"spec.subnetConfigurations[0].ipv4: Invalid value: "10.0.10.300""#,
    );
    kubectl.run_with_input(
        &["apply", "-f", "-"],
        Some(&example(|doc| {
            doc["metadata"]["name"] = "fixed".into();
            doc["spec"]["ipAddressType"] = "dualstack".into();
            let subnet = first_subnet(doc);
            doc["spec"]["subnetConfigurations"] = serde_yaml::from_str(&format!(
                "[{{subnetId: {subnet}, ipv4: 10.0.10.10, ipv6: '2600:1f14:aa:1::10'}}]"
            ))
            .unwrap();
        })),
    );
    kubectl.run_with_input(
        &["apply", "-f", "-"],
        Some(&example(|doc| {
            doc["metadata"]["name"] = "records".into();
            doc["spec"]["ipAddressType"] = "dualstack".into();
            doc["spec"]["dnsOptions"] = serde_yaml::from_str("{dnsRecordIpType: service-defined}").unwrap();
        })),
    );
}

#[test]
fn every_crd_installs_without_warnings() {
    let cluster = kube_apiserver_harness::ControlPlane::start();
    let files = vpce_rollout::api::crd::all();
    assert!(files.len() >= 3, "InterfaceEndpoint, EndpointGrant, PlanApproval");
    for dir in ["crds", "charts/vpce-rollout/crds"] {
        for file in &files {
            let path = harness::repo().join(dir).join(file.file);
            let path = path.to_str().unwrap();
            let out = cluster.kubectl().exec(&["create", "-f", path], None);
            assert!(out.success, "{path}: {}", out.stderr);
            assert!(
                out.stderr.is_empty(),
                "kube-apiserver warns about {path}: {}",
                out.stderr
            );
            cluster.kubectl().run(&["delete", "-f", path]);
        }
    }
}
