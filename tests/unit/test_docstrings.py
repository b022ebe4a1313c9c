"""Numerical functions of nago.bo and the complexity counts carry BoTorch-style docstrings with shapes.

The convention: every public function or method whose annotations involve a `Tensor`, an `ndarray` or a
sequence of floats (directly or through a module-level alias such as `MeanStd`), and in
`nago/generator/complexity.py` every public module-level function, has a Google-style docstring whose
`Args:` section names each parameter (except self/cls) and, unless it returns None, a `Returns:` section.
The modules are parsed with `ast`, never imported, so the check is fast and needs no torch.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPLEXITY = ROOT / "nago" / "generator" / "complexity.py"
MODULES = [*sorted((ROOT / "nago" / "bo").glob("*.py")), COMPLEXITY]
NUMERIC = re.compile(r"\b(?:Tensor|ndarray)\b|\b(?:Sequence|list|tuple)\[float\b")
ENTRY = re.compile(r"(\*{0,2}\w+)(?: \([^)]*\))?:(?:\s|$)")

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

GOOD = '''
from torch import Tensor


def penalty(x: Tensor, radius: float) -> Tensor:
    """A cone around the origin.

    Args:
        x: `n x d` points.
        radius: The cone's radius (a scalar).

    Returns:
        An `n`-dim tensor of penalties.
    """
    return x.norm(dim=-1) / radius


def _private(x: Tensor) -> Tensor:
    return x
'''


def _numeric_aliases(tree: ast.Module) -> set[str]:
    """Module-level names bound to an expression that mentions an array type or an earlier such name."""
    bindings: list[tuple[str, str]] = []
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if isinstance(target, ast.Name):
            bindings.append((target.id, ast.unparse(value)))
    aliases: set[str] = set()
    for name, text in bindings:
        if NUMERIC.search(text) or any(re.search(rf"\b{re.escape(alias)}\b", text) for alias in aliases):
            aliases.add(name)
    return aliases


def _parameters(node: FunctionNode) -> list[str]:
    """Every parameter name of `node` except self and cls."""
    arguments = node.args
    names = [a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]]
    names += [a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None]
    return [name for name in names if name not in ("self", "cls")]


def _is_numeric(node: FunctionNode, aliases: set[str]) -> bool:
    """Whether an annotation of `node` mentions an array type or an alias of one."""
    arguments = node.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
    annotations = [a.annotation for a in every if a is not None and a.annotation is not None]
    if node.returns is not None:
        annotations.append(node.returns)
    for annotation in annotations:
        text = ast.unparse(annotation)
        if NUMERIC.search(text) or any(re.search(rf"\b{re.escape(alias)}\b", text) for alias in aliases):
            return True
    return False


def _public_functions(tree: ast.Module) -> list[tuple[str, FunctionNode, bool]]:
    """(qualified name, node, defined at module level) of every public function and method of public
    classes; closures inside functions are not visited."""
    found: list[tuple[str, FunctionNode, bool]] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for statement in body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef) and not statement.name.startswith("_"):
                found.append((prefix + statement.name, statement, not prefix))
            elif isinstance(statement, ast.ClassDef) and not statement.name.startswith("_"):
                visit(statement.body, f"{prefix}{statement.name}.")

    visit(tree.body, "")
    return found


def _section(doc: str, header: str) -> list[str] | None:
    """The lines of a Google-style section (indented under `header`), or None without one."""
    lines = doc.splitlines()
    for index, line in enumerate(lines):
        if line.strip() != header:
            continue
        indent = len(line) - len(line.lstrip())
        body: list[str] = []
        for following in lines[index + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following)
        return body
    return None


def _documented_names(args_section: list[str]) -> set[str]:
    """The parameter names an `Args:` section lists: `name:` at the entries' indentation."""
    entries = [line for line in args_section if line.strip()]
    if not entries:
        return set()
    indent = min(len(line) - len(line.lstrip()) for line in entries)
    names: set[str] = set()
    for line in entries:
        match = ENTRY.match(line[indent:]) if len(line) - len(line.lstrip()) == indent else None
        if match:
            names.add(match.group(1).lstrip("*"))
    return names


def _problems(name: str, node: FunctionNode) -> list[str]:
    """What the docstring of `node` lacks under the convention."""
    doc = ast.get_docstring(node)
    if doc is None:
        return [f"{name}: no docstring"]
    problems: list[str] = []
    parameters = _parameters(node)
    args_section = _section(doc, "Args:")
    if parameters and args_section is None:
        problems.append(f"{name}: no Args: section")
    elif parameters and args_section is not None:
        missing = [p for p in parameters if p not in _documented_names(args_section)]
        if missing:
            problems.append(f"{name}: Args: does not list {', '.join(missing)}")
    returns_none = isinstance(node.returns, ast.Constant) and node.returns.value is None
    if not returns_none:
        returns = _section(doc, "Returns:")
        if returns is None or not any(line.strip() for line in returns):
            problems.append(f"{name}: no Returns: section")
    return problems


def check_source(source: str, every_module_function: bool = False) -> tuple[list[str], list[str]]:
    """The functions `source` must document and what their docstrings lack."""
    tree = ast.parse(source)
    aliases = _numeric_aliases(tree)
    checked: list[str] = []
    problems: list[str] = []
    for name, node, at_module_level in _public_functions(tree):
        if _is_numeric(node, aliases) or (every_module_function and at_module_level):
            checked.append(name)
            problems += _problems(name, node)
    return checked, problems


def test_numerical_functions_document_every_argument_and_the_return() -> None:
    """Every numerical public function of nago.bo and complexity.py has Args: and Returns: sections."""
    checked: list[str] = []
    problems: list[str] = []
    for path in MODULES:
        module = path.relative_to(ROOT).as_posix()
        names, found = check_source(path.read_text(encoding="utf-8"), every_module_function=path == COMPLEXITY)
        checked += [f"{module}:{name}" for name in names]
        problems += [f"{module}:{problem}" for problem in found]
    assert len(checked) >= 30, checked  # the walk finds the functions: an empty check proves nothing
    assert "nago/generator/complexity.py:fit_width" in checked
    assert "nago/bo/gp_posterior.py:build_posterior" in checked  # numeric through the MeanStd alias
    assert not problems, "\n".join(problems)


BAD = '''
import numpy as np


def penalty(x: np.ndarray, radius: float) -> np.ndarray:
    """A cone around the origin, documented by its summary alone."""
    return x / radius
'''


def test_the_checker_flags_a_function_without_the_sections() -> None:
    """A numerical function whose docstring is a summary alone lacks both sections."""
    checked, problems = check_source(BAD)
    assert checked == ["penalty"]
    assert problems == ["penalty: no Args: section", "penalty: no Returns: section"]


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("    Args:\n", "    Notes:\n", "no Args: section"),
        ("        radius: The cone's radius (a scalar).\n", "", "Args: does not list radius"),
        ("    Returns:\n        An `n`-dim tensor of penalties.\n", "", "no Returns: section"),
    ],
)
def test_the_checker_flags_a_docstring_that_lacks_one_part(old: str, new: str, problem: str) -> None:
    """Dropping a section or one argument from a good docstring is reported; private functions are not checked."""
    assert check_source(GOOD) == (["penalty"], [])
    assert old in GOOD
    assert check_source(GOOD.replace(old, new)) == (["penalty"], [f"penalty: {problem}"])


def test_the_checker_flags_a_function_without_any_docstring() -> None:
    """A public complexity-style function with no docstring at all is reported."""
    source = "def count(arch: object) -> int:\n    return 1\n"
    assert check_source(source) == ([], [])
    assert check_source(source, every_module_function=True) == (["count"], ["count: no docstring"])
