#!/usr/bin/env python3
"""Real `helm lint` of charts/vpce-rollout, with default and non-default values.

No helm binary can be installed on the project's machines (no package registry they reach ships
one for Linux). The PyPI package helm-sdkpy ships Helm's Go library as a shared object
(libhelm_sdkpy.so); this script loads it with ctypes and calls its lint action, which renders
every template with the chart's values.yaml and checks the result as `helm lint` does. To lint
with other values, the chart is copied and its values.yaml replaced by the defaults merged with
an override set.

What this does not give: the rendered manifests (the library has no `template` action) and lint
messages (they reach us as path and severity only; the error text is lost in the library's
JSON). A failing case names the file; `helm lint` elsewhere gives the text.

Usage: .ci/helm_lint.py [LIBHELM_SO]  (default: what .ci/install-helm-lib.sh installed)
Exit status: 0 when every case passes, 1 otherwise; prints one line per case and a summary.
"""
import copy
import os
import shutil
import sys
import tempfile

import yaml

from helm_lib import DEFAULT_LIB, Helm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHART = os.path.join(ROOT, "charts", "vpce-rollout")
SEVERITY = {1: "INFO", 2: "WARNING", 3: "ERROR"}

# (name, overrides, expected_failure): overrides are merged into values.yaml. Helm's lint mode
# turns the chart's `fail` calls into log lines instead of errors, so a refused configuration is
# recognised by its `fail` message in what the library logs.
# Every case but the first gives the image repository, which values.yaml leaves empty (no image
# is published: users build and push their own).
IMAGE = {"image": {"repository": "registry.example.com/vpce-rollout"}}
CASES = [
    (
        "values.yaml as shipped refuses to render without an image, saying how to build one",
        {"image": {"repository": ""}},
        "image.repository is empty: no image of vpce-rollout is published",
    ),
    ("default values with an image", {}, None),
    (
        "one namespace, IRSA, ServiceMonitor, one replica without leader election",
        {
            "watchNamespace": "platform-network",
            "replicaCount": 1,
            "leaderElection": {"enabled": False},
            "serviceAccount": {
                "roleArn": "arn:aws:iam::111122223333:role/vpce-rollout",
                "annotations": {"example.com/owner": "platform"},
            },
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
            "aws": {"region": "ap-northeast-1"},
            "logging": {"format": "text", "filter": "info,vpce_rollout=debug"},
            "pdb": {"enabled": False},
        },
        None,
    ),
    (
        "scheduling, pod metadata, extra env, existing service account",
        {
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}]}]}}},
            "podAnnotations": {"example.com/team": "platform"},
            "podLabels": {"team": "platform"},
            "priorityClassName": "system-cluster-critical",
            "env": [{"name": "HTTPS_PROXY", "value": "http://proxy.internal:3128"}],
            "imagePullSecrets": [{"name": "regcred"}],
            "serviceAccount": {"create": False, "name": "vpce-rollout-existing"},
            "rbac": {"create": False},
            "image": {"tag": "0.1.0-rc1", "pullPolicy": "Always"},
        },
        None,
    ),
    ("the single-team grant", {"singleTeamGrant": {"enabled": True}}, None),
    (
        "observe only, a cluster name, deletion by default",
        {"observeOnly": True, "clusterName": "prod-eu-blue", "defaultDeletionPolicy": "Delete"},
        None,
    ),
    (
        "an unknown default deletion policy is refused",
        {"defaultDeletionPolicy": "Orphan"},
        "defaultDeletionPolicy must be Delete or Retain",
    ),
    (
        "two replicas without leader election are refused",
        {"replicaCount": 2, "leaderElection": {"enabled": False}},
        "replicaCount > 1 needs leaderElection.enabled=true",
    ),
    (
        "an unknown log format is refused",
        {"logging": {"format": "xml"}},
        "logging.format must be json or text",
    ),
]


def merge(base, override):
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def main():
    lib = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_LIB
    if not os.path.exists(lib):
        print(f"helm library not found at {lib}: run .ci/install-helm-lib.sh first", file=sys.stderr)
        return 1
    helm = Helm(lib)
    print(f"helm lint through {helm.version()}")
    with open(os.path.join(CHART, "values.yaml")) as f:
        defaults = yaml.safe_load(f)
    passed = failed = 0
    for name, overrides, expected_failure in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            chart = os.path.join(tmp, "vpce-rollout")
            shutil.copytree(CHART, chart)
            with open(os.path.join(chart, "values.yaml"), "w") as f:
                yaml.safe_dump(merge(merge(defaults, IMAGE), overrides), f, sort_keys=False)
            result, logged = helm.lint(chart)
        errors = [m for m in result.get("Messages") or [] if m.get("Severity", 0) >= 3]
        warnings = [m for m in result.get("Messages") or [] if m.get("Severity", 0) == 2]
        failures = [l for l in logged.splitlines() if "funcMap fail" in l]
        if expected_failure is None:
            ok = not errors and not warnings and not failures
        else:
            ok = not errors and any(expected_failure in l for l in failures)
        detail = ", ".join(f"{SEVERITY.get(m['Severity'], m['Severity'])} in {m.get('Path')}" for m in errors + warnings)
        if failures and expected_failure is None:
            detail = ", ".join([detail] + failures) if detail else ", ".join(failures)
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f" ({detail})" if detail else ""))
        passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
