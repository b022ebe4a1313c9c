# nago: the two commands a newcomer needs are `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nago-installed
PYTEST_WORKERS ?= 2

.PHONY: setup demo images lint test test-fast test-node test-gpu gpu-check test-cluster control-plane cluster cluster-node bench golden clean quickstart crd

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install-system-packages.sh scripts/apt-install-missing.sh
	bash scripts/install-system-packages.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## The main job, for now: the search-space size; sample, describe, draw and train one architecture.
quickstart: setup
	$(BIN)/nago search examples/fashion-mnist-quickstart.yaml --state-dir out/quickstart

demo: setup
	$(BIN)/nago space-size
	$(BIN)/nago sample --space hnag --random --theta-seed 7 --seed 0 -o out/demo/architecture.json
	$(BIN)/nago describe --arch out/demo/architecture.json
	$(BIN)/nago draw --arch out/demo/architecture.json -o out/demo/architecture.png
	rm -f out/demo/trial.jsonl
	$(BIN)/nago sample --space hnag --random --theta-seed 1 --seed 0 --input 28x28x1 --param-budget 2e5 \
		-o out/demo/fashion-architecture.json
	$(BIN)/nago train --arch out/demo/fashion-architecture.json --epochs 1 --train-limit 2000 \
		--validation-fraction 0.05 --jsonl out/demo/trial.jsonl > /dev/null

lint: setup
	$(BIN)/ruff check nago operator tests bench
	$(BIN)/ruff format --check nago operator tests bench
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile trainer_image/Dockerfile tools/node/redis.Dockerfile tools/node/pause.Dockerfile

## Everything CI runs: lint, types, and every test tier (GPU tests skip without CUDA; the cluster tier needs
## the control-plane binaries, the real-node tier also the images, both built here once per machine and cached).
## The real-node tier runs after the others, in one process (one node per machine: xdist's groups do not work
## with this pytest), and fails, not skips, if the node cannot start.
## The binaries' compile and the images' build run side by side (the image build waits on the network and disk).
test: lint
	$(MAKE) -j2 control-plane images
	$(BIN)/pytest -n $(PYTEST_WORKERS) --ignore=tests/node
	NAGO_REQUIRE_REAL_NODE=1 $(BIN)/pytest tests/node

test-fast: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not slow and not cluster and not node"

## The real-node tier alone (tests/node): kubelet, containerd and kube-proxy with the images built here.
test-node: setup control-plane images
	NAGO_REQUIRE_REAL_NODE=1 $(BIN)/pytest tests/node

test-cluster: setup control-plane
	$(BIN)/pytest tests/cluster

## Kubernetes binaries (kube-apiserver, kube-controller-manager, kubectl, etcd, helm) built from the Go module
## proxy once per machine into ~/.cache/nago/control-plane; prints their versions. See docs/control-plane.md.
control-plane:
	nice -n 10 bash tools/control-plane/build.sh

## The test control plane in the foreground, for kubectl by hand: prints a kubeconfig path; Ctrl-C stops it.
## `make cluster-node`: the same with the real node (containers of the images built here) instead.
cluster: setup control-plane
	PYTHONPATH=tests/support $(BIN)/python -m control_plane

cluster-node: setup control-plane images
	PYTHONPATH=tests/support $(BIN)/python -m control_plane --real-node

test-gpu: setup
	$(BIN)/pytest -m gpu -rs

## Everything that needs a GPU (GPU tests, training throughput on CUDA, a 10-minute search), figures in
## out/gpu-check/figures.md; without CUDA it says it skipped and exits 0. On a GPU machine with PyTorch but no
## registry: scripts/gpu-carry.sh here, then `make gpu-check GPU_CARRY=.gpu-carry` there (docs/benchmarks.md).
GPU_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
gpu-check:
ifdef GPU_CARRY
	$(GPU_PYTHON) -m pip install -q --no-index --no-deps --target /tmp/nago-site $(GPU_CARRY)/wheels/*.whl
	PYTHONPATH=$(CURDIR):$(CURDIR)/operator:/tmp/nago-site NAGO_FASHION_MNIST_DIR=$(GPU_CARRY)/fashion-mnist \
		$(GPU_PYTHON) bench/gpu_check.py $(if $(GPU_CHECK_OUT),--out $(GPU_CHECK_OUT))
else
	$(GPU_PYTHON) bench/gpu_check.py $(if $(GPU_CHECK_OUT),--out $(GPU_CHECK_OUT))
endif

## Both images built here from Debian's archive and PyPI (a debootstrap base stands in for python:slim), each
## rebuilt only when its inputs change, then run: the trainer trains one epoch as its non-root user on a
## read-only root, the operator imports everything it loads. See docs/trainer.md, "Images".
images: setup
	bash scripts/build-images.sh

bench: setup
	$(BIN)/python bench/bench_sample_build.py
	$(BIN)/python bench/bench_train_throughput.py

golden: setup
	$(BIN)/python tests/golden/regenerate.py

## The GeneratorSearch CRD in the chart, generated from the pydantic models (a unit test fails when it is stale).
crd: setup
	$(BIN)/python -m nago_operator.crd charts/nago-operator/crds/generatorsearches.nago.dev.yaml

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
