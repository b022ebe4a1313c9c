# nago: the two commands a newcomer needs are `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.nago-installed
PYTEST_WORKERS ?= 2

.PHONY: setup demo images lint test test-fast test-gpu gpu-check test-cluster control-plane cluster bench golden clean quickstart crd

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install-system-packages.sh
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
	$(BIN)/hadolint Dockerfile trainer_image/Dockerfile

## Everything CI runs: lint, types, and every test tier (GPU tests skip without CUDA; the cluster tier needs
## the control-plane binaries, built here once per machine).
test: lint control-plane
	$(BIN)/pytest -n $(PYTEST_WORKERS)

test-fast: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not slow and not cluster"

test-cluster: setup control-plane
	$(BIN)/pytest tests/cluster

## Kubernetes binaries (kube-apiserver, kube-controller-manager, kubectl, etcd, helm) built from the Go module
## proxy once per machine into ~/.cache/nago/control-plane; prints their versions. See docs/control-plane.md.
control-plane:
	nice -n 10 bash tools/control-plane/build.sh

## The test control plane in the foreground, for kubectl by hand: prints a kubeconfig path; Ctrl-C stops it.
cluster: setup control-plane
	PYTHONPATH=tests/support $(BIN)/python -m control_plane

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
