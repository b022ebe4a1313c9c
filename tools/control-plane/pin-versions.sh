#!/usr/bin/env bash
# Regenerate the wrapper modules' go.mod and go.sum for the versions in versions.env: kubernetes/ and etcd/.
# Run this only when bumping a version; commit the result.
# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging paths, which only
# work inside its own repository; our wrapper module replaces each required staging module with its published
# v0.<minor>.<patch> tag instead. etcd's server module needs no replaces (it requires real versions), but it
# gets a module of its own so that Kubernetes' newer dependencies do not leak into it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
staging_version="v0.${KUBERNETES_VERSION#v1.}"
module_dir="$here/kubernetes"
cd "$module_dir"
printf 'module nago.local/control-plane/kubernetes\n' > go.mod
rm -f go.sum
upstream_mod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
go mod edit -json "$upstream_mod" | python3 -c '
import json, sys
mod = json.load(sys.stdin)
required = {r["Path"] for r in mod.get("Require") or []}
print("GO", mod["Go"])
for entry in mod.get("GoDebug") or []:
    print("GODEBUG", entry["Key"] + "=" + entry["Value"])
for entry in mod.get("Replace") or []:
    path = entry["Old"]["Path"]
    if entry["New"]["Path"].startswith("./staging/") and path in required:
        print("STAGING", path)
' | while read -r kind value; do
  case $kind in
    GO) go mod edit -go="$value" ;;
    GODEBUG) go mod edit -godebug="$value" ;;
    STAGING) go mod edit -replace="$value=$value@$staging_version" ;;
  esac
done
packages=()
for command in $KUBERNETES_COMMANDS; do packages+=("k8s.io/kubernetes/cmd/$command@$KUBERNETES_VERSION"); done
go get "${packages[@]}"
echo "pinned k8s.io/kubernetes $KUBERNETES_VERSION (staging $staging_version) in $module_dir"

cd "$here/etcd"
printf 'module nago.local/control-plane/etcd\n' > go.mod
rm -f go.sum
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
go mod edit -go=1.26.0
echo "pinned go.etcd.io/etcd/server/v3 $ETCD_VERSION in $here/etcd"
