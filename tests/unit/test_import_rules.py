"""The import rules of docs/design.md §2.2: the library never imports Kubernetes code; packages depend downwards only;
torch is loaded only by training and the proposers that need it, so `nago ranges`, a search with a light strategy
and an idle operator run without it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("kopf", "kubernetes", "kubernetes_asyncio", "pykube", "lightkube", "nago_operator", "control_plane")
PACKAGES = ("generator", "trial", "training", "bo", "search")
# What each package may import from the others (docs/design.md §2.2); the top-level modules are below them all.
MAY_IMPORT = {
    "generator": set(),
    "trial": {"generator"},
    "training": {"trial", "generator"},
    "bo": {"generator"},
    "search": {"bo", "trial", "generator"},
}
TORCH_FREE_BO = ("proposer", "registry", "encoding", "pareto", "baselines", "bohb", "log_ei")
HEAVY = ("torch", "botorch", "gpytorch")


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _loaded_after(modules: list[str], then: str = "") -> list[str]:
    """The heavy modules loaded after importing `modules` (and running `then`) in a fresh interpreter."""
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"{then}\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {HEAVY!r} and '.' not in n))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return list(ast.literal_eval(result.stdout.strip().splitlines()[-1]))


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
    modules = sorted(_module_name(p) for p in (ROOT / "nago").rglob("*.py"))
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


def test_packages_depend_only_downwards() -> None:
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / "nago" / package).rglob("*.py")):
            for name in _imported_modules(path):
                parts = name.split(".")
                inner = parts[1] if parts[0] == "nago" and len(parts) > 1 else None
                if inner in PACKAGES and inner != package and inner not in MAY_IMPORT[package]:
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    for path in sorted((ROOT / "nago").glob("*.py")):  # the shared leaves import no package (cli sits above)
        if path.stem in ("cli", "__init__"):
            continue
        offenders += [f"{path.relative_to(ROOT)}: {n}" for n in _imported_modules(path)
                      if n.split(".")[:2][-1] in PACKAGES and n.startswith("nago.")]  # fmt: skip
    assert not offenders


def test_generator_trial_search_and_light_proposers_import_without_torch() -> None:
    light = ("generator", "trial", "search")
    modules = ["nago", *sorted(_module_name(p) for package in light for p in (ROOT / "nago" / package).rglob("*.py"))]
    modules += [f"nago.bo.{name}" for name in TORCH_FREE_BO]
    assert _loaded_after(modules) == []


def test_the_torch_check_sees_torch_when_a_module_needs_it() -> None:
    assert "torch" in _loaded_after(["nago.training.network"])


@pytest.mark.parametrize(("kind", "needs_torch"), [("random", False), ("sobol", False), ("bohb", False),
                                                   ("bo", True), ("mobo", True)])  # fmt: skip
def test_a_search_step_loads_torch_only_for_a_torch_proposer(kind: str, needs_torch: bool) -> None:
    """One engine step of a search with this strategy: proposes its first batch (a GP proposer's initial design
    is space-filling, but building it imports its module)."""
    objectives = ["accuracy", "memory"] if kind == "mobo" else ["accuracy"]
    then = (
        "from nago.search.spec import parse_search\n"
        "from nago.search.engine import reconcile\n"
        "from nago.search.ledger import Ledger\n"
        "doc = {'apiVersion': 'nago.dev/v1alpha1', 'kind': 'GeneratorSearch', 'metadata': {'name': 's'},\n"
        f"       'spec': {{'strategy': {{'kind': {kind!r}}}, 'budget': {{'maxTrials': 4, 'epochs': 1}},\n"
        f"                'objectives': {objectives!r}}}}}\n"
        "search = parse_search(doc)\n"
        "step = reconcile(search.spec, Ledger(search='s'), [], 0.0)\n"
        "assert step.ledger.trials, 'the step proposed nothing'\n"
    )
    loaded = _loaded_after([], then)
    assert ("torch" in loaded) is needs_torch


def test_the_operator_imports_no_torch_until_a_search_needs_it() -> None:
    modules = [
        _module_name(p).removeprefix("operator.") for p in sorted((ROOT / "operator" / "nago_operator").glob("*.py"))
    ]
    assert "nago_operator.handlers" in modules and "nago_operator.search_reconciler" in modules
    assert _loaded_after(modules) == []


def test_nago_ranges_runs_without_importing_torch() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "nago.cli", "ranges", "--space", "hnag"],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    assert "nago.generator.spaces" in imported and "top_nodes" in result.stdout  # the command ran
    assert not {name for name in imported if name.split(".")[0] in HEAVY}


def test_every_public_entry_point_of_nago_resolves() -> None:
    import nago

    names = [name for name in nago.__all__ if name != "__version__"]
    assert len(names) >= 10
    for name in names:
        assert callable(getattr(nago, name)), name
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        nago.nothing_here  # noqa: B018
