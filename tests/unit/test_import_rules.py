"""DESIGN.md §2: the library `nago` never imports kopf, a Kubernetes client, the operator or the test control plane."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("kopf", "kubernetes", "kubernetes_asyncio", "pykube", "lightkube", "nago_operator", "control_plane")


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_library_sources_import_nothing_forbidden() -> None:
    sources = sorted((ROOT / "nago").rglob("*.py"))
    assert len(sources) > 5
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources
        for name in _imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert not offenders


def test_the_rule_catches_an_offender(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import kopf\nfrom kubernetes.client import CoreV1Api\n")
    assert {"kopf", "kubernetes.client"} <= _imported_modules(bad)


def test_importing_every_module_loads_nothing_forbidden() -> None:
    modules = sorted(p.stem for p in (ROOT / "nago").glob("*.py") if p.stem != "__init__")
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module('nago.' + m)\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
