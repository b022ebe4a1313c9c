#!/usr/bin/env bash
# `make images`: both images built on this machine from what it reaches (Debian's archive and PyPI), then
# checked by running them. docs/trainer.md ("Images") says what a user builds instead and what differs.
#
# 1. A base image made with debootstrap from Debian's archive (no registry is reachable here), standing in for
#    python:3.11-slim-bookworm: Debian's Python 3.11 with venv and pip, a `python` link, and this machine's own
#    CA certificates (its outbound TLS is intercepted; PIP_CERT points pip at the system bundle). Cached by its
#    inputs: built again only when they change.
# 2. The operator and trainer images from the repository's Dockerfiles with BASE set to that image, torch from
#    PyPI (PyTorch's CPU index is not reachable here) and this machine's pip cache mounted for the build only.
#    Each is tagged by a hash of its inputs (the Dockerfile, the base, pyproject.toml, README.md, nago/,
#    operator/) and built only when no image has that tag; `:dev` names the latest.
#    Then two images only the real node of the cluster tier uses: Redis from Debian's redis-server (the chart's
#    bundled Redis) and the pod sandbox (Debian's static catatonit), both tagged by their Dockerfiles.
# 3. Checks (no network): the trainer's `--help`, a sample and a one-epoch training of a small network on 300
#    Fashion-MNIST images mounted read-only, as the image's user 10001 on a read-only root filesystem, its final
#    record read back; the operator's `--help` and an import of everything it loads, as its user.
#
# Environment: NAGO_IMAGE_CACHE (default ~/.cache/nago/images), NAGO_DEBIAN_MIRROR (default: apt's own),
# NAGO_IMAGES_SKIP_CHECKS=1 to build only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${NAGO_IMAGE_CACHE:-$HOME/.cache/nago/images}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
SUITE=bookworm
PACKAGES=python3,python3-venv,python3-pip,ca-certificates
FASHION_MNIST=${NAGO_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
mkdir -p "$CACHE"

bash "$ROOT/scripts/install-container-tools.sh"

# podman on these machines: cgroups v1 through cgroupfs with runc, no journald, and rlimits no higher than the
# hard limits (the machine lacks CAP_SYS_RESOURCE).
cat > "$CACHE/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=10000:10000"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
export CONTAINERS_CONF="$CACHE/containers.conf"

mirror=${NAGO_DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
shopt -s nullglob
host_cas=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob

hash_of() { sha256sum | cut -c1-12; }

base_tag="localhost/nago-base:$(
    { echo "$SUITE minbase $PACKAGES $mirror v1"; [ ${#host_cas[@]} -eq 0 ] || sha256sum "${host_cas[@]}"; } | hash_of
)"
if ! podman image exists "$base_tag"; then
    echo "base image $base_tag: debootstrap $SUITE from $mirror"
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$mirror" > "$CACHE/debootstrap.log"
    ln -sf python3 "$rootfs/usr/bin/python"
    if [ ${#host_cas[@]} -gt 0 ]; then
        cp "${host_cas[@]}" "$rootfs/usr/local/share/ca-certificates/"
        chroot "$rootfs" update-ca-certificates > /dev/null
    fi
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["python3"]' - "$base_tag" > /dev/null
    rm -rf "$rootfs"
    trap - EXIT
fi

# Building the trainer image writes its 6 GB torch layer twice at the peak (podman stages a layer's blob under
# /var/tmp before storing it); say so up front rather than fail half-way with ENOSPC.
need_gb=${NAGO_IMAGES_FREE_GB:-14}
check_free() {  # tag: fail in one line if the disks podman writes to have less than need_gb free
    podman image exists "$1" && return 0
    local dir free
    for dir in "$(podman info --format '{{.Store.GraphRoot}}')" "${TMPDIR:-/var/tmp}"; do
        free=$(df --output=avail -B1G "$dir" | tail -1 | tr -d ' ')
        if [ "$free" -lt "$need_gb" ]; then
            echo "make images: $dir has ${free} GB free; building $1 needs about ${need_gb} GB" \
                "(set NAGO_IMAGES_FREE_GB to change the check; 'podman image prune' drops old build stages)" >&2
            exit 1
        fi
    done
}

pip_cache=$("$PYTHON" -m pip cache dir 2>/dev/null || echo "$HOME/.cache/pip")
mkdir -p "$pip_cache"

build() {  # name dockerfile context [inputs...]: inputs (default: the Python package's) decide the tag
    local name=$1 dockerfile=$2 context=$3 tag
    shift 3
    local inputs=("$@")
    [ ${#inputs[@]} -gt 0 ] || inputs=(.dockerignore pyproject.toml README.md nago operator)
    tag="localhost/nago-$name:$(
        cd "$ROOT"
        { echo "$base_tag"; git ls-files -co --exclude-standard -z -- "$dockerfile" "${inputs[@]}" \
            | grep -zv __pycache__ | sort -z | xargs -0 sha256sum; } | hash_of
    )"
    if ! podman image exists "$tag"; then
        check_free "$tag"
        echo "building $tag"
        local started=$SECONDS
        podman build --quiet --build-arg "BASE=$base_tag" --build-arg TORCH_INDEX=https://pypi.org/simple \
            --build-arg PIP_NO_CACHE_DIR=0 --volume "$pip_cache:/root/.cache/pip" \
            -f "$ROOT/$dockerfile" -t "$tag" "$context" > /dev/null
        echo "built $tag in $((SECONDS - started)) s"
    fi
    podman tag "$tag" "localhost/nago-$name:dev"
    # Earlier builds of this image (other input hashes) are 6 GB each: drop their tags; their layers go with them
    # unless the current image shares them.
    podman images --format '{{.Repository}}:{{.Tag}}' "localhost/nago-$name" \
        | grep -vxF -e "$tag" -e "localhost/nago-$name:dev" | xargs -r podman rmi > /dev/null || true
    # and the untagged images an earlier build's stages left (a cache only; each can hold a 6 GB layer)
    podman image prune -f > /dev/null
    echo "$name: $tag ($(podman image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.2f GB", $1 / 1e9}'))"
}

build trainer trainer_image/Dockerfile "$ROOT"
build operator Dockerfile "$ROOT"
# For the real node of the cluster tier only (tests/node): Redis from Debian's archive and the pod sandbox.
build redis tools/node/redis.Dockerfile "$ROOT/tools/node" tools/node/redis.Dockerfile
pause_context=$(mktemp -d "$CACHE/pause.XXXXXX")
cp /usr/bin/catatonit "$pause_context/"
build pause tools/node/pause.Dockerfile "$pause_context" tools/node/pause.Dockerfile
rm -rf "$pause_context"

[ "${NAGO_IMAGES_SKIP_CHECKS:-0}" = 1 ] && exit 0

run() {  # as the image's user, read-only root, no network
    podman run --rm --network none --read-only --tmpfs /tmp "$@"
}
work=$(mktemp -d "$CACHE/check.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 0777 "$work"

run localhost/nago-trainer:dev --help | grep -q "Train one architecture"
run --volume "$work:/out" --entrypoint nago localhost/nago-trainer:dev sample --space hnag --random --theta-seed 1 \
    --seed 0 --input 28x28x1 --param-budget 2e4 --head-channels 32 -o /out/architecture.json
run --volume "$work:/out" --volume "$FASHION_MNIST:/data/fashion-mnist:ro" localhost/nago-trainer:dev \
    --arch /out/architecture.json --dataset fashion-mnist --data-dir /data/fashion-mnist --train-limit 300 \
    --validation-fraction 0.2 --epochs 1 --batch-size 32 --device cpu --jsonl /out/records.jsonl > "$work/train.log"
"$PYTHON" - "$work/records.jsonl" <<'CHECK'
import json
import sys

records = [json.loads(line) for line in open(sys.argv[1])]
final = [r for r in records if r["kind"] == "final"]
assert len(final) == 1 and final[0]["status"] == "succeeded", records
assert [r["epoch"] for r in records if r["kind"] == "epoch"] == [1], records
print(f"trainer image: 1 epoch on 300 images as uid 10001, read-only root: best val accuracy {final[0]['best_val_accuracy']:.3f}")
CHECK
[ "$(run --entrypoint id localhost/nago-trainer:dev -u)" = 10001 ]

# The installed package is the repository's, file for file (a layer cache must not have kept an older install).
package_digest='
import hashlib, pathlib, sys
root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__import__("nago").__file__).parent
print(hashlib.sha256(b"".join(p.relative_to(root).as_posix().encode() + p.read_bytes()
                              for p in sorted(root.rglob("*.py")))).hexdigest())'
expected=$("$PYTHON" -c "$package_digest" "$ROOT/nago")
for image in trainer operator; do
    installed=$(run --entrypoint python "localhost/nago-$image:dev" -c "$package_digest")
    [ "$installed" = "$expected" ] || { echo "make images: nago in nago-$image:dev is not the repository's" >&2; exit 1; }
done
echo "both images: nago installed is the repository's ($expected)"

run localhost/nago-operator:dev --help > /dev/null
run --entrypoint python localhost/nago-operator:dev -c "
import nago_operator.__main__, nago_operator.handlers, nago_operator.search_reconciler, nago_operator.crd
import nago.bo.gp_lp, nago.bo.mobo, nago.bo.bohb, nago.search.local_runner
print('operator image: nago-operator --help and every module it loads import as uid', __import__('os').getuid())
"
