"""The dataset Job of the cluster examples (examples/datasets/datasets-pvc.yaml): its script compiles, and its
Fashion-MNIST checksums are those of the real files (Debian's `dataset-fashion-mnist`, the same content)."""

from __future__ import annotations

import ast
import gzip
import hashlib
from pathlib import Path

import pytest
import yaml

from nago.trial.dataset import FASHION_MNIST_DIR

MANIFEST = Path(__file__).resolve().parents[2] / "examples" / "datasets" / "datasets-pvc.yaml"


def _read_script() -> str:
    job = next(d for d in yaml.safe_load_all(MANIFEST.read_text()) if d["kind"] == "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-c"]
    return str(container["args"][0])


def _read_constant(script: str, name: str) -> object:
    tree = ast.parse(script)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not assigned in the script")


def test_the_script_compiles() -> None:
    compile(_read_script(), str(MANIFEST), "exec")


@pytest.mark.skipif(not FASHION_MNIST_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_the_fashion_mnist_checksums_match_the_real_files() -> None:
    expected = _read_constant(_read_script(), "FASHION_FILES")
    assert isinstance(expected, dict) and len(expected) == 4
    for name, digest in expected.items():
        with gzip.open(FASHION_MNIST_DIR / name, "rb") as stream:
            assert hashlib.file_digest(stream, "sha256").hexdigest() == digest, name
