#!/usr/bin/env bash
# Fill .gpu-carry/ with what `make gpu-check` needs on a GPU machine that has PyTorch but reaches no
# registry: the Fashion-MNIST files and wheels of the Python packages nago imports that such an image
# may lack (pydantic and its parts, redis). Run it here; then on the GPU machine, from the working tree:
#   make gpu-check GPU_CARRY=.gpu-carry
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON_VERSION=${PYTHON_VERSION:-3.12}
dest=.gpu-carry
rm -rf "$dest" && mkdir -p "$dest/fashion-mnist" "$dest/wheels"
cp /usr/share/datasets/fashion-mnist/*.gz "$dest/fashion-mnist/"
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" \
    --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_28_x86_64 -d "$dest/wheels" \
    "pydantic>=2.6,<3" pydantic-core annotated-types typing-inspection "redis>=5,<9"
du -sh "$dest"
