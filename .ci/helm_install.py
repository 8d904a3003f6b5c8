#!/usr/bin/env python3
"""`helm install` of charts/vpce-rollout into a cluster, with Helm's own library (see
helm_lib.py): what the e2e tests run the controller with is what the chart deploys (its
ServiceAccount, RBAC, Deployment environment), rendered and applied by Helm itself.

Usage: .ci/helm_install.py KUBECONFIG NAMESPACE RELEASE [VALUES_JSON]
Prints the applied manifest; on failure prints Helm's error and exits with 1.
"""
import json
import os
import sys

from helm_lib import ROOT, Helm


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    kubeconfig, namespace, release = sys.argv[1:4]
    values = json.loads(sys.argv[4]) if len(sys.argv) == 5 else {}
    try:
        helm = Helm(namespace=namespace, kubeconfig=kubeconfig)
        result = helm.install(release, os.path.join(ROOT, "charts", "vpce-rollout"), values)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    print(result["manifest"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
