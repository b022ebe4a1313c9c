"""Property-based tests (hypothesis) of the four readers of user input: the manifest parser, the
CLI's argument paths, the architecture validator and the ledger loader. Whatever they are given,
they accept it or refuse it as bad input naming a field, in one line; never another exception.
Examples are bounded (`max_examples`) so the unit tier stays fast."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import sample_random
from nago.cli import main
from nago.errors import InvalidInputError
from nago.generator.architecture import Architecture, load_architecture
from nago.generator.complexity import measure_complexity
from nago.safe_yaml import load_yaml_documents
from nago.search.engine import RecordReceived, reconcile
from nago.search.ledger import Ledger
from nago.search.spec import GeneratorSearch, load_search, parse_search
from nago.search.state_folder import read_ledger
from nago.trial.records import FinalRecord

EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

MANIFEST: dict[str, Any] = {
    "apiVersion": "nago.dev/v1alpha1",
    "kind": "GeneratorSearch",
    "metadata": {"name": "props"},
    "spec": {
        "space": {"name": "hnag", "ranges": {"top_nodes": [3, 6]}},
        "dataset": {"kind": "fashion-mnist", "trainLimit": 300},
        "strategy": {"kind": "random", "seed": 0},
        "budget": {"maxTrials": 4, "parallelism": 2, "epochs": 1, "trialTimeoutSeconds": 600},
        "training": {"paramBudget": 20000, "headChannels": 32, "protocol": {"batchSize": 32}},
        "final": {"architectures": 1},
    },
}

# Values a hostile or careless user writes: wrong types, edge numbers, long and odd strings, nesting.
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.sampled_from(["", "2", "1e400", ".inf", "NaN", "-1", "0x10", "auto", "\u0000"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (the root included), so a mutation can hit any of them."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutated(document: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    """A copy of `document` with the value at `path` replaced, deleted, or given a new sibling key."""
    copy = json.loads(json.dumps(document))
    if not path:
        return value if action == "replace" else copy
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[f"{last}Extra"] = value
    else:
        parent[last] = value
    return copy


MUTATION = st.tuples(st.integers(0, 10_000), st.sampled_from(["replace", "delete", "add"]), VALUES)


def _apply(mutation: tuple[int, str, Any], document: Any) -> Any:
    """`document` with one drawn mutation applied at one of its places."""
    pick, action, value = mutation
    paths = _paths(document)
    return _mutated(document, paths[pick % len(paths)], action, value)


def _assert_one_line_refusal(error: InvalidInputError) -> None:
    assert error.field and "\n" not in str(error), str(error)


@EXAMPLES
@given(mutation=MUTATION)
def test_manifest_parser_accepts_or_names_the_field(mutation: tuple[int, str, Any]) -> None:
    document = _apply(mutation, MANIFEST)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "manifest.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True))
        try:
            search = load_search(path)
        except InvalidInputError as error:
            _assert_one_line_refusal(error)
            return
    assert isinstance(search, GeneratorSearch)
    search.model_dump_json(by_alias=True)  # what the runner writes next must not fail either


@EXAMPLES
@given(text=st.text(max_size=300))
def test_manifest_reader_refuses_any_text_in_one_line(text: str) -> None:
    try:
        documents = load_yaml_documents(text, "manifest.yaml", "manifest")
        for document in documents:
            parse_search(document)
    except InvalidInputError as error:
        _assert_one_line_refusal(error)


FLAG_VALUES: dict[str, list[str]] = {
    "--space": ["hnag", "rnag", "hnag-augv1", "darts", ""],
    "--range": ["top_nodes=3:5", "top_nodes=5:3", "nope=1:2", "top_nodes=x", "bottom_p=0.1:0.9", "top_nodes=3:1e400"],
    "--theta": ['{"top_nodes": 4}', "{", "[]", '{"top_nodes": "x"}', "null"],
    "--theta-seed": ["0", "7", "-1", "1e3", "99999999999999999999999"],
    "--seed": ["0", "3", "-5", "nan", "18446744073709551616"],
    "--input": ["28x28x1", "32x32x3", "7x9x3", "0x0x0", "big", "2000x2000x3", "32x32x65"],
    "--classes": ["10", "1", "-5", "100001", "x"],
    "--param-budget": ["2e4", "1e5", "nan", "inf", "-1", "0", "1e400", "abc"],
    "--head-channels": ["32", "0", "-1", "1000000000", "1.5"],
}
COMMANDS = ["sample", "describe", "ranges"]


@EXAMPLES
@given(
    command=st.sampled_from(COMMANDS),
    random=st.booleans(),
    flags=st.lists(st.sampled_from(sorted(FLAG_VALUES)), max_size=4, unique=True),
    choices=st.lists(st.integers(0, 100), min_size=4, max_size=4),
)
def test_cli_exits_0_or_2_with_one_line(
    command: str, random: bool, flags: list[str], choices: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [command, *(["--random"] if random and command != "ranges" else [])]
    for flag, choice in zip(flags, choices, strict=False):
        if command == "ranges" and flag not in ("--space", "--range"):
            continue
        options = FLAG_VALUES[flag]
        argv += [flag, options[choice % len(options)]]
    code = main(argv)
    captured = capsys.readouterr()
    assert code in (0, 2), (argv, code, captured.err)
    if code == 2:
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("nago"), (argv, captured.err)


ARCHITECTURE = json.loads(sample_random("hnag", 2, seed=1).to_json())


@EXAMPLES
@given(mutation=MUTATION)
def test_architecture_validator_accepts_only_records_that_build(mutation: tuple[int, str, Any]) -> None:
    document = _apply(mutation, ARCHITECTURE)
    try:
        arch = load_architecture(json.dumps(document), "arch.json")
        size = measure_complexity(arch)  # every channel and resolution resolves
    except InvalidInputError as error:
        _assert_one_line_refusal(error)
        return
    except ValueError as error:  # json.dumps of a NaN key etc. never reaches the reader
        pytest.fail(f"{type(error).__name__}: {error}")
    assert isinstance(arch, Architecture) and size.params > 0


def _ledger_with_trials() -> str:
    """A ledger a real search step writes: trials launched, one finished with a record."""
    spec = parse_search(MANIFEST).spec
    step = reconcile(spec, Ledger(search="props"), [], now=0.0)
    entry = step.ledger.trials[0]
    record = FinalRecord(
        search="props", trial_id=entry.trial_id, attempt=0, epoch=1, time=1.0, status="succeeded", exit_code=0,
        best_val_accuracy=float(np.float64(0.5)), params=1000, activation_bytes_per_image=4000,
        trial_digest=entry.digest(),
    )  # fmt: skip
    return reconcile(spec, step.ledger, [RecordReceived(record, 1.0)], now=1.0).ledger.model_dump_json()


LEDGER = json.loads(_ledger_with_trials())


@EXAMPLES
@given(mutation=MUTATION)
def test_ledger_loader_accepts_or_refuses_naming_the_file(tmp_path: Path, mutation: tuple[int, str, Any]) -> None:
    document = _apply(mutation, LEDGER)
    (tmp_path / "ledger.json").write_text(json.dumps(document, allow_nan=True))
    try:
        ledger = read_ledger(tmp_path, "props")
    except InvalidInputError as error:
        _assert_one_line_refusal(error)
        return
    assert ledger is not None and ledger.search == "props"
    ledger.best()  # what every reader asks of it first


@EXAMPLES
@given(content=st.binary(max_size=200))
def test_ledger_loader_refuses_any_bytes_in_one_line(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "ledger.json").write_bytes(content)
    try:
        read_ledger(tmp_path, "props")
    except InvalidInputError as error:
        _assert_one_line_refusal(error)
