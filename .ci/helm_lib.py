"""Helm's own Go library (libhelm_sdkpy.so from the PyPI package helm-sdkpy, installed by
.ci/install-helm-lib.sh), called through its C ABI with ctypes: the real `helm lint` and
`helm install` for .ci/helm_lint.py and .ci/helm_install.py.

The signatures are those of helm-sdkpy 0.1.32 (its helm_sdkpy/_ffi.py); another version may
change them, which is why install-helm-lib.sh pins it.
"""
import ctypes
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LIB = os.path.join(ROOT, ".cache", "helm-sdkpy", "libhelm_sdkpy.so")


class Helm:
    def __init__(self, path=DEFAULT_LIB, namespace="default", kubeconfig=None):
        if not os.path.exists(path):
            raise RuntimeError(f"helm library not found at {path}: run .ci/install-helm-lib.sh first")
        self.lib = ctypes.CDLL(path)
        self.lib.helm_sdkpy_version_string.restype = ctypes.c_char_p
        self.lib.helm_sdkpy_last_error.restype = ctypes.c_char_p
        self.handle = ctypes.c_ulonglong()
        rc = self.lib.helm_sdkpy_config_create(
            namespace.encode(),
            kubeconfig.encode() if kubeconfig else None,
            None,
            b"{}",
            ctypes.byref(self.handle),
        )
        if rc != 0:
            raise RuntimeError(f"helm config: {self.lib.helm_sdkpy_last_error()!r}")

    def version(self):
        return self.lib.helm_sdkpy_version_string().decode()

    def lint(self, chart_dir):
        """Lints; returns the result and what the library logged on stderr meanwhile."""
        out = ctypes.c_char_p()
        with tempfile.TemporaryFile() as log:
            sys.stderr.flush()
            saved = os.dup(2)
            os.dup2(log.fileno(), 2)
            try:
                rc = self.lib.helm_sdkpy_lint(self.handle, chart_dir.encode(), ctypes.byref(out))
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            log.seek(0)
            logged = log.read().decode(errors="replace")
        if rc != 0:
            raise RuntimeError(f"helm lint could not run: {self.lib.helm_sdkpy_last_error()!r}")
        return json.loads(out.value), logged

    def install(self, release, chart_dir, values):
        """`helm install RELEASE CHART --create-namespace` into the configured namespace, without
        waiting for the Pods; returns the release (its `manifest` is what was applied)."""
        out = ctypes.c_char_p()
        options = {"create_namespace": True, "wait": False, "timeout_seconds": 120}
        rc = self.lib.helm_sdkpy_install(
            self.handle,
            release.encode(),
            chart_dir.encode(),
            json.dumps(values).encode(),
            b"",
            json.dumps(options).encode(),
            ctypes.byref(out),
        )
        if rc != 0:
            raise RuntimeError(f"helm install failed: {self.lib.helm_sdkpy_last_error().decode()}")
        return json.loads(out.value)
