"""One owner per state folder; a new run checked against the folder before anything is written."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from nago.cli import main
from nago.errors import InvalidInputError
from nago.search.ledger import Ledger
from nago.search.spec import GeneratorSearch, parse_search
from nago.search.state_folder import LOCK_FILE, check_against_folder, claim_state_folder


def _manifest(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "space": {"name": "hnag"},
        "dataset": {"kind": "fashion-mnist", "trainLimit": 300},
        "strategy": {"kind": "random", "seed": 0},
        "budget": {"maxTrials": 2, "parallelism": 1, "epochs": 1},
        "training": {"paramBudget": 20000, "headChannels": 32},
        "final": {"architectures": 0},
    }
    name = changes.pop("name", "s")
    for key, value in changes.items():
        spec[key] = value
    return {"apiVersion": "nago.dev/v1alpha1", "kind": "GeneratorSearch", "metadata": {"name": name}, "spec": spec}


def _search(**changes: Any) -> GeneratorSearch:
    return parse_search(_manifest(**changes))


def _store(state: Path, search: GeneratorSearch) -> None:
    state.mkdir(parents=True, exist_ok=True)
    (state / "search.json").write_text(search.model_dump_json(by_alias=True, indent=1))


def test_a_second_claim_is_refused_naming_the_holder(tmp_path: Path) -> None:
    lock = claim_state_folder(tmp_path)
    with pytest.raises(InvalidInputError, match=r"--state-dir: .* is in use by nago search \(pid \d+ on "):
        claim_state_folder(tmp_path)
    lock.release()
    claim_state_folder(tmp_path).release()  # free again once released


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    """A kill -9 of the holder never leaves a stale lock: the kernel drops flock locks with the process."""
    code = f"from nago.search.state_folder import claim_state_folder; lock = claim_state_folder(__import__('pathlib').Path({str(tmp_path)!r})); print('held', flush=True); __import__('time').sleep(60)"  # noqa: E501
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(InvalidInputError, match=f"pid {holder.pid} "):
            claim_state_folder(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 10
    while True:
        try:
            claim_state_folder(tmp_path).release()
            break
        except InvalidInputError:
            assert time.monotonic() < deadline, "the dead holder's lock was not released"
            time.sleep(0.05)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "other"}, "metadata.name"),
        ({"space": {"name": "rnag"}}, "spec.space.name"),
        ({"space": {"name": "hnag", "ranges": {"top_nodes": [3, 5]}}}, "spec.space.ranges.top_nodes"),
        ({"dataset": {"kind": "fashion-mnist", "trainLimit": 600}}, "spec.dataset.trainLimit"),
        ({"objectives": ["accuracy", "memory"]}, "spec.objectives"),
        ({"strategy": {"kind": "random", "seed": 1}}, "spec.strategy.seed"),
        ({"training": {"paramBudget": 30000, "headChannels": 32}}, "spec.training.paramBudget"),
    ],
)
def test_a_fixed_field_that_differs_is_refused_naming_it(tmp_path: Path, change: dict[str, Any], field: str) -> None:
    _store(tmp_path, _search())
    with pytest.raises(InvalidInputError) as raised:
        check_against_folder(_search(**change), tmp_path)
    assert raised.value.field == field


@pytest.mark.parametrize(
    "change",
    [
        {"budget": {"maxTrials": 8, "parallelism": 2, "epochs": 1}},
        {"final": {"architectures": 3, "epochs": 2}},
        {"suspend": True},
    ],
)
def test_budget_final_and_suspend_may_change(tmp_path: Path, change: dict[str, Any]) -> None:
    _store(tmp_path, _search())
    check_against_folder(_search(**change), tmp_path)


def test_trial_folders_without_a_ledger_are_refused(tmp_path: Path) -> None:
    (tmp_path / "trials" / "s-0000").mkdir(parents=True)
    with pytest.raises(InvalidInputError, match=r"ledger\.json is missing"):
        check_against_folder(_search(), tmp_path)
    (tmp_path / "ledger.json").write_text(Ledger(search=_search().metadata.name).model_dump_json())
    check_against_folder(_search(), tmp_path)


def test_a_refused_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    _store(state, _search())
    before = (state / "search.json").read_bytes()
    manifest = tmp_path / "other.yaml"
    manifest.write_text(yaml.safe_dump(_manifest(space={"name": "rnag"})))
    assert main(["search", str(manifest), "--state-dir", str(state)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nago search: error: spec.space.name: differs from the search in")
    assert (state / "search.json").read_bytes() == before
    assert sorted(p.name for p in state.iterdir()) == [LOCK_FILE, "search.json"]


def test_a_search_running_in_a_folder_refuses_a_second(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    lock = claim_state_folder(state)
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump(_manifest()))
    try:
        assert main(["search", str(manifest), "--state-dir", str(state)]) == 2
    finally:
        lock.release()
    assert "is in use by nago search (pid" in capsys.readouterr().err
    assert not (state / "search.json").exists()


def test_report_refuses_a_ledger_of_another_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _store(tmp_path, _search(name="mine"))
    (tmp_path / "ledger.json").write_text(Ledger(search="theirs").model_dump_json())
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} holds search 'theirs', not 'mine'" in err
    assert not (tmp_path / "results").exists()


BAD_LEDGERS = {
    "truncated": lambda good: good[: len(good) // 2],
    "garbage": lambda good: "\x00\x01 not json",
    "wrong shape": lambda good: "[1, 2, 3]",
    "wrong types": lambda good: good.replace('"trials":[]', '"trials":{"a":1}'),
    "not utf-8": lambda good: "\udcff",
}


@pytest.mark.parametrize("command", ["search", "report"])
@pytest.mark.parametrize("damage", BAD_LEDGERS, ids=list(BAD_LEDGERS))
def test_a_damaged_ledger_is_bad_input_and_nothing_is_written(
    tmp_path: Path, command: str, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    search = _search()
    _store(state, search)
    good = Ledger(search=search.metadata.name).model_dump_json()
    (state / "ledger.json").write_bytes(BAD_LEDGERS[damage](good).encode("utf-8", "surrogateescape"))
    before = {p.name: p.read_bytes() for p in state.iterdir()}
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump(_manifest()))
    argv = ["search", str(manifest), "--state-dir", str(state)] if command == "search" else ["report", str(state)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{state / 'ledger.json'}: " in err[0], err
    assert {p.name: p.read_bytes() for p in state.iterdir() if p.name != LOCK_FILE} == before


@pytest.mark.parametrize("content", ["garbage", "[1]", '{"apiVersion": "nago.dev/v1"}'])
def test_report_refuses_a_damaged_search_file(tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "search.json").write_text(content)
    (tmp_path / "ledger.json").write_text(Ledger(search="s").model_dump_json())
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{tmp_path / 'search.json'}: " in err[0], err
