#!/usr/bin/env bash
# Build the pinned control-plane binaries once per machine (idempotent): kube-apiserver, kube-controller-manager
# and kubectl from tools/control-plane/kubernetes (go.mod pinned by pin-versions.sh), etcd from
# tools/control-plane/etcd, helm by `go install helm.sh/helm/v3/cmd/helm@VERSION`. Each component goes to
# $NAGO_CONTROL_PLANE_CACHE/<component>-<version>/bin (default ~/.cache/nago/control-plane), outside the checkout.
# A component is rebuilt only when its binaries are missing. Prints the versions at the end.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache_root="${NAGO_CONTROL_PLANE_CACHE:-$HOME/.cache/nago/control-plane}"
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
# Two cores on CI: -p=2 keeps the compile jobs at the core count and the memory in check.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-p=2 -buildvcs=false"
mkdir -p "$cache_root"
exec 9>"$cache_root/.build.lock"
flock 9  # two callers at once (make -j, two checkouts) build once

build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# Build $3... (package paths) of the module in $2 into the cache directory $1/bin, atomically.
build_into() {
  local target="$1" module_dir="$2" ldflags="$3"; shift 3
  local staging="$target/bin.partial"
  rm -rf "$staging"; mkdir -p "$staging"
  (cd "$module_dir" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldflags" -o "$staging/" "$@")
  rm -rf "$target/bin"; mv "$staging" "$target/bin"
}

all_present() {
  local dir="$1"; shift
  local name
  for name in "$@"; do [ -x "$dir/$name" ] || return 1; done
}

timed() {
  local label="$1"; shift
  local start=$SECONDS
  echo "building $label ..."
  "$@"
  echo "built $label in $((SECONDS - start)) s"
}

kubernetes_dir="$cache_root/kubernetes-$KUBERNETES_VERSION"
if ! all_present "$kubernetes_dir/bin" $KUBERNETES_COMMANDS; then
  minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  ldflags="-s -w"
  for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $package.gitVersion=$KUBERNETES_VERSION -X $package.gitMajor=1 -X $package.gitMinor=$minor"
    ldflags+=" -X $package.gitTreeState=clean -X $package.buildDate=$build_date"
  done
  packages=()
  for command in $KUBERNETES_COMMANDS; do packages+=("k8s.io/kubernetes/cmd/$command"); done
  timed "Kubernetes $KUBERNETES_VERSION ($KUBERNETES_COMMANDS)" \
    build_into "$kubernetes_dir" "$here/kubernetes" "$ldflags" "${packages[@]}"
fi

etcd_dir="$cache_root/etcd-$ETCD_VERSION"
if ! all_present "$etcd_dir/bin" etcd; then
  timed "etcd $ETCD_VERSION" build_into "$etcd_dir" "$here/etcd" "-s -w" go.etcd.io/etcd/server/v3
  mv "$etcd_dir/bin/server" "$etcd_dir/bin/etcd"  # go names a .../server/v3 binary "server"
fi

helm_dir="$cache_root/helm-$HELM_VERSION"
if ! all_present "$helm_dir/bin" helm; then
  install_helm() {
    rm -rf "$helm_dir/bin.partial"; mkdir -p "$helm_dir/bin.partial"
    GOBIN="$helm_dir/bin.partial" go install -trimpath \
      -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
      "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    rm -rf "$helm_dir/bin"; mv "$helm_dir/bin.partial" "$helm_dir/bin"
  }
  timed "helm $HELM_VERSION" install_helm
fi

"$kubernetes_dir/bin/kube-apiserver" --version
"$kubernetes_dir/bin/kube-controller-manager" --version
"$kubernetes_dir/bin/kubectl" version --client
"$etcd_dir/bin/etcd" --version | sed -n 1p  # sed reads to the end: no SIGPIPE under pipefail
echo "helm $("$helm_dir/bin/helm" version --short)"
