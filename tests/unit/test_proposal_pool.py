"""Proposal steps in worker processes (nago_operator.proposal_pool): the real engine step, errors raised in the
caller, a step past the timeout killed and its process replaced, a warm process reused."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from nago.search.engine import LaunchTrial, reconcile
from nago.search.ledger import Ledger
from nago.search.spec import parse_search
from nago_operator.proposal_pool import ProposalPool, ProposalTimeoutError, is_model_based, read_strategy_kind

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fashion-mnist-quickstart.yaml"


@pytest.fixture
def pool() -> ProposalPool:
    made = ProposalPool(timeout=20.0)
    yield made  # type: ignore[misc]
    made.close()


def test_a_step_in_the_worker_equals_the_step_here(pool: ProposalPool) -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    document["spec"]["strategy"] = {"kind": "sobol", "seed": 3, "batchSize": 2}
    spec = parse_search(document).spec
    ledger = Ledger(search="quick")
    there = pool.run_step(spec, ledger, [], 100.0)
    here = reconcile(spec, ledger, [], 100.0)
    assert there.ledger == here.ledger
    launched = [a.trial.theta for a in there.actions if isinstance(a, LaunchTrial)]
    assert len(launched) == 2 and launched == [a.trial.theta for a in here.actions if isinstance(a, LaunchTrial)]


def test_the_worker_process_stays_warm_and_errors_reach_the_caller(pool: ProposalPool) -> None:
    first = pool.call(os.getpid)
    assert first != os.getpid()
    with pytest.raises(ValueError, match="invalid literal"):
        pool.call(int, "not a number")
    assert pool.call(os.getpid) == first  # an exception does not cost the process


def test_a_step_past_the_timeout_is_killed_and_its_process_replaced() -> None:
    pool = ProposalPool(timeout=1.0)
    try:
        before = pool.call(os.getpid)
        started = time.monotonic()
        with pytest.raises(ProposalTimeoutError, match="longer than 1 s"):
            pool.call(time.sleep, 30)
        assert time.monotonic() - started < 25  # it did not wait for the sleep
        after = pool.call(os.getpid)
        assert after != before and pool.replaced == 1
        with pytest.raises(ProcessLookupError):
            os.kill(before, 0)  # the old process is gone
    finally:
        pool.close()


@pytest.mark.parametrize(
    ("body", "kind", "model_based"),
    [
        ({"spec": {"strategy": {"kind": "random"}}}, "random", False),
        ({"spec": {"strategy": {"kind": "sobol"}}}, "sobol", False),
        ({"spec": {"strategy": {"kind": "bohb"}}}, "bohb", False),
        ({"spec": {"strategy": {"kind": "mobo"}}}, "mobo", True),
        ({"spec": {"strategy": {"kind": "bo"}}}, "bo", True),
        ({"spec": {}}, "bo", True),  # the schema's default
    ],
)
def test_which_strategies_step_in_a_worker_process(body: dict[str, object], kind: str, model_based: bool) -> None:
    assert read_strategy_kind(body) == kind
    assert is_model_based(kind) is model_based
