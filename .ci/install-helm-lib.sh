#!/usr/bin/env bash
# Installs Helm's Go library (from the PyPI package helm-sdkpy, which ships it as a shared object)
# into .cache/helm-sdkpy/, for .ci/helm_lint.py. No helm binary is available from the package
# registries the project's machines reach; this is the real Helm code, called through its C ABI.
#
# The wheel is pure-Python around the .so and declares Python >= 3.12; only the .so is used here
# (through ctypes), so the Python version of this machine does not matter.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/helm-sdkpy"
version="${HELM_SDKPY_VERSION:-0.1.32}"
if [[ -f "$dest/libhelm_sdkpy.so" && "$(cat "$dest/VERSION" 2>/dev/null)" == "$version" ]]; then
  echo "helm library $version already in $dest"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
  -d "$tmp" "helm-sdkpy==$version"
python3 - "$tmp" "$dest" <<'PY'
import glob, os, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "helm_sdkpy-*.whl"))[0]
os.makedirs(dest, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    member = "helm_sdkpy/_lib/linux-amd64/libhelm_sdkpy.so"
    with z.open(member) as src, open(os.path.join(dest, "libhelm_sdkpy.so"), "wb") as out:
        out.write(src.read())
PY
echo "$version" > "$dest/VERSION"
python3 -c "import yaml" 2>/dev/null || python3 -m pip install --quiet pyyaml
echo "helm library $version installed in $dest"
