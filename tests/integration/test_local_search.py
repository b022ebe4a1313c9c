"""`nago search` end to end on real Fashion-MNIST: a whole search, a SIGKILL mid-search, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import build_small_search
from nago.search.ledger import Ledger, SearchPhase, TrialPurpose, TrialState
from nago.trial.sinks import metrics_stream_key
from redis_server import PASSWORD, RedisServer


def _manifest(tmp_path: Path, name: str, max_trials: int, final: int, strategy: dict[str, Any]) -> Path:
    document = build_small_search(name, strategy, max_trials, final={"architectures": final})
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _start(manifest: Path, state: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAGO_")}
    command = [sys.executable, "-m", "nago.cli", "search", str(manifest), "--state-dir", str(state),
               "--poll-seconds", "0.2"]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _ledger(state: Path) -> Ledger:
    return Ledger.model_validate_json((state / "ledger.json").read_text())


def _wait_for(condition: Any, process: subprocess.Popen[str], timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"the runner exited early ({process.returncode}): {output}")
        time.sleep(0.2)
    pytest.fail("timed out waiting for the search")


def _pids_of_trials(state: Path) -> list[int]:
    """Processes still running `nago train` for this state folder."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "train" in command and str(state) in command:
                pids.append(int(entry.name))
    return pids


def test_a_whole_search_runs_and_reports(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, "e2e", 4, 1, {"kind": "bo", "mode": "async", "initialPoints": 2, "seed": 1})
    state = tmp_path / "state"
    process = _start(manifest, state)
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output
    ledger = _ledger(state)
    assert ledger.phase is SearchPhase.SUCCEEDED
    search = ledger.of(TrialPurpose.SEARCH)
    assert len(search) == 4 and len({t.trial_id for t in ledger.trials}) == len(ledger.trials)
    assert all(t.state is TrialState.SUCCEEDED and t.result is not None for t in ledger.trials)
    assert len(ledger.of(TrialPurpose.FINAL)) == 1
    results = state / "results"
    for name in ("ledger.json", "best-generator.json", "pareto.json", "report.md", "best-so-far.png"):
        assert (results / name).is_file(), name
    best = json.loads((results / "best-generator.json").read_text())
    assert best["best"]["trial_id"] in {t.trial_id for t in search}
    assert best["final"][0]["succeeded"] == 1
    assert "Best generator" in (results / "report.md").read_text()
    rebuilt = subprocess.run([sys.executable, "-m", "nago.cli", "report", str(state), "-o", str(tmp_path / "again")],
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert (tmp_path / "again" / "report.md").read_text() == (results / "report.md").read_text()


def test_a_mobo_search_with_a_gp_surrogate_runs_and_reports_its_front(tmp_path: Path) -> None:
    strategy = {"kind": "mobo", "surrogate": "gp", "mode": "async", "initialPoints": 2, "seed": 3}
    document = build_small_search("mobo-gp", strategy, 5, objectives=["accuracy", "memory"])
    manifest = tmp_path / "mobo-gp.yaml"
    manifest.write_text(yaml.safe_dump(document))
    state = tmp_path / "state"
    process = _start(manifest, state)
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output
    ledger = _ledger(state)
    assert ledger.phase is SearchPhase.SUCCEEDED and ledger.proposer_state is not None
    assert ledger.proposer_state["surrogate"] == "gp" and ledger.proposer_state["proposed"] == 5
    search = ledger.of(TrialPurpose.SEARCH)
    assert len(search) == 5 and all(t.state is TrialState.SUCCEEDED for t in search)
    assert len({tuple(sorted(t.theta.items())) for t in search}) == 5
    front = json.loads((state / "results" / "pareto.json").read_text())
    assert front and {p["trial_id"] for p in front} <= {t.trial_id for t in search}


def test_sigkill_mid_search_then_resume_loses_and_repeats_nothing(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, "crash", 5, 0, {"kind": "random", "mode": "async", "seed": 2})
    state = tmp_path / "state"
    first = _start(manifest, state)

    def one_done_one_running() -> bool:
        if not (state / "ledger.json").exists():
            return False
        ledger = _ledger(state)
        return any(t.state is TrialState.SUCCEEDED for t in ledger.trials) and any(
            t.state is TrialState.RUNNING for t in ledger.trials
        )

    _wait_for(one_done_one_running, first)
    before = {t.trial_id: t.result for t in _ledger(state).trials if t.state is TrialState.SUCCEEDED}
    first.send_signal(signal.SIGKILL)
    first.wait()
    deadline = time.monotonic() + 10
    while _pids_of_trials(state) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _pids_of_trials(state) == [], "trial processes outlived the killed runner"

    second = _start(manifest, state)
    output, _ = second.communicate(timeout=900)
    assert second.returncode == 0, output
    ledger = _ledger(state)
    search = ledger.of(TrialPurpose.SEARCH)
    assert ledger.phase is SearchPhase.SUCCEEDED and len(search) == 5
    assert len({t.trial_id for t in search}) == 5 and all(t.state is TrialState.SUCCEEDED for t in search)
    after = {t.trial_id: t.result for t in search}
    assert all(after[trial_id] == result for trial_id, result in before.items()), "a finished result changed"
    assert all(t.retries == 0 for t in search)  # a lost attempt is not a failure


def test_ctrl_c_stops_the_children_and_the_search_resumes(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, "interrupt", 3, 0, {"kind": "sobol", "mode": "sync", "batchSize": 2, "seed": 3})
    state = tmp_path / "state"
    first = _start(manifest, state)
    _wait_for(lambda: len(_pids_of_trials(state)) == 2, first)
    first.send_signal(signal.SIGINT)
    output, _ = first.communicate(timeout=60)
    assert first.returncode == 130 and "resume" in output
    assert _pids_of_trials(state) == []
    second = _start(manifest, state)
    output, _ = second.communicate(timeout=900)
    assert second.returncode == 0, output
    assert len(_ledger(state).of(TrialPurpose.SEARCH)) == 3


def test_metrics_through_redis(tmp_path: Path, redis_server: RedisServer) -> None:
    manifest = _manifest(tmp_path, "viaredis", 2, 0, {"kind": "random", "mode": "async", "seed": 4})
    state = tmp_path / "state"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NAGO_")}, "NAGO_REDIS_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "nago.cli", "search", str(manifest), "--state-dir", str(state),
               "--poll-seconds", "0.2", "--redis-url", redis_server.url]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    ledger = _ledger(state)
    assert [t.state for t in ledger.trials] == [TrialState.SUCCEEDED, TrialState.SUCCEEDED]
    client = redis_server.client()
    stream = metrics_stream_key("viaredis")
    assert client.xlen(stream) >= 4  # epoch and final records of both trials
    assert client.xpending(stream, "nago-engine")["pending"] == 0  # all acknowledged after the ledger held them
