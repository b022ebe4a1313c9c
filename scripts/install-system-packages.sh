#!/usr/bin/env bash
# System packages the tests and examples need: a real redis-server and Debian's Fashion-MNIST.
# Installs only what is missing; needs root (or sudo) the first time.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
bash "$(dirname "$0")/apt-install-missing.sh" "system packages" ${missing[@]+"${missing[@]}"}
