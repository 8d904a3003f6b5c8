#!/usr/bin/env bash
# Builds the real Kubernetes control plane the tests run against: kube-apiserver and kubectl
# from k8s.io/kubernetes (kubernetes/go.mod) and etcd from go.etcd.io/etcd (etcd/go.mod), at the
# versions and with the module sums checked in beside this script.
#
#   tests/kube-apiserver/build.sh      # .ci/test runs it; prints where the binaries are
#
# Everything goes under one cache directory, .cache/k8s/ by default (VPCE_K8S_CACHE moves it;
# the tests read the same variable):
#   bin/kubernetes-<version>/{kube-apiserver,kubectl}, bin/etcd-<version>/etcd   the binaries
#   go/mod                                                                     Go's module cache
# Idempotent: a directory whose STAMP matches the sums of its go.mod and go.sum and the build
# flags is reused at once. Go's build cache (about 3 GB) is only a scratch area here: it is emptied after
# a build, since the next build that is needed is one for other module versions.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${VPCE_K8S_CACHE:-$root/.cache/k8s}"

# The required version of a module in a go.mod (`require M vX` or a line of a require block).
required() {
    awk -v m="$1" '$1 == "require" { $1 = ""; $0 = $0 } $1 == m && $2 ~ /^v[0-9]/ { print $2 }' "$2"
}
kube_version="$(required k8s.io/kubernetes "$here/kubernetes/go.mod")"
etcd_version="$(required go.etcd.io/etcd/server/v3 "$here/etcd/go.mod")"
[[ -n "$kube_version" && -n "$etcd_version" ]] || {
    echo "cannot read the pinned versions from $here/{kubernetes,etcd}/go.mod" >&2
    exit 1
}

# What a build directory's STAMP must hold: the sums of its module's go.mod and go.sum (the
# tests check these too) and the flags it was built with.
stamp_of() {
    (cd "$here" && sha256sum "$1/go.mod" "$1/go.sum")
    echo "flags: $go_flags -ldflags=$2"
}

# build MODULE DEST OUT LDFLAGS PACKAGE... : `go build -o DEST/OUT` of the packages (OUT empty:
# each binary under its own name), unless DEST's stamp is current. The binaries are written
# beside DEST and moved in whole, then stamped.
built=0
build() {
    local module="$1" dest="$2" out="$3" ldflags="$4"
    shift 4
    local stamp
    stamp="$(stamp_of "$module" "-s -w $ldflags")"
    if [[ -f "$dest/STAMP" && "$(cat "$dest/STAMP")" == "$stamp" ]]; then
        echo "k8s: $(basename "$dest") already built in $dest"
        return
    fi
    command -v go >/dev/null || {
        echo "k8s: Go >= 1.26 is needed to build $(basename "$dest") (the go command, on PATH)" >&2
        exit 1
    }
    echo "k8s: building $(basename "$dest") into $dest (a few minutes on a cold cache)"
    local started=$SECONDS
    rm -rf "$dest.new"
    mkdir -p "$dest.new"
    # Go's output (a line per module downloaded) is shown only when the build fails.
    local log="$dest.log"
    # shellcheck disable=SC2086 # $go_flags is a list of flags
    if ! (cd "$here/$module" && CGO_ENABLED=0 go build $go_flags -ldflags "-s -w $ldflags" \
        -o "$dest.new/$out" "$@") 2>"$log"; then
        cat "$log" >&2
        echo "k8s: building $(basename "$dest") failed" >&2
        exit 1
    fi
    echo "k8s: $(grep -c '^go: downloading' "$log" || true) modules downloaded"
    rm -f "$log"
    rm -rf "$dest"
    mv "$dest.new" "$dest"
    echo "$stamp" > "$dest/STAMP"
    echo "k8s: built $(basename "$dest") in $((SECONDS - started)) s"
    built=1
}

export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS=-modcacherw
# Static binaries without debug information (-s -w below) or VCS stamps: smaller, faster to link.
go_flags="-mod=readonly -trimpath -buildvcs=false"

# The version the binaries report (`kubectl version`, /version), as Kubernetes' release builds
# stamp it; without it they say v0.0.0-master.
minor="${kube_version#v1.}"
minor="${minor%%.*}"
kube_ldflags=""
for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kube_ldflags+=" -X $package.gitVersion=$kube_version -X $package.gitMajor=1"
    kube_ldflags+=" -X $package.gitMinor=$minor -X $package.gitTreeState=clean"
done
build kubernetes "$cache/bin/kubernetes-$kube_version" "" "$kube_ldflags" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
build etcd "$cache/bin/etcd-$etcd_version" etcd "" go.etcd.io/etcd/server/v3

if ((built)); then
    go clean -cache
fi
