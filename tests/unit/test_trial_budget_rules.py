"""The trainer's budget rules as tables: when compilation pays, and when a run diverged."""

from __future__ import annotations

import math

import pytest

from nago.training.compilation import decide_compile, estimate_compile_seconds
from nago.training.trainer import TrainingDivergedError, check_convergence
from nago.trial.protocol import CompileChoice


@pytest.mark.parametrize(
    ("choice", "operations", "step_seconds", "steps_left", "device", "compiles"),
    [
        # the quickstart's search trial: 741 steps at 54 ms would save 9 s for a 39 s compile
        (CompileChoice.AUTO, 30, 0.054, 741, "cpu", False),
        # its final networks: 3,375 steps at 60 ms save 47 s, less than 31 s + 10 % of 203 s
        (CompileChoice.AUTO, 20, 0.060, 3375, "cpu", False),
        # 60 epochs on 54,000 images: 101,250 steps at 128 ms save 3,000 s, compile 41 s
        (CompileChoice.AUTO, 32, 0.128, 101_250, "cpu", True),
        (CompileChoice.AUTO, 32, 0.128, 0, "cpu", False),
        (CompileChoice.ALWAYS, 32, 0.128, 10, "cpu", True),
        (CompileChoice.NEVER, 32, 0.128, 101_250, "cpu", False),
        # CUDA: a larger expected speed-up pays back sooner than on CPU
        (CompileChoice.AUTO, 32, 0.02, 12_000, "cuda", True),
        (CompileChoice.AUTO, 32, 0.02, 12_000, "cpu", False),
    ],
)
def test_compilation_only_where_it_pays_back(
    choice: CompileChoice, operations: int, step_seconds: float, steps_left: int, device: str, compiles: bool
) -> None:
    decision = decide_compile(choice, operations, step_seconds, steps_left, device)
    assert decision.compile is compiles
    assert decision.expected_compile_seconds == estimate_compile_seconds(operations)


def test_the_compile_estimate_grows_with_the_operations() -> None:
    costs = [estimate_compile_seconds(n) for n in (9, 32, 90)]
    assert costs == sorted(costs) and 15 < costs[0] < 30 and 60 < costs[2] < 100  # 21, 47, 81 s measured


CHANCE = math.log(10)


@pytest.mark.parametrize(
    ("train_losses", "val_loss", "steps", "diverged"),
    [
        ([1.2, 0.7, 0.5], 0.48, 750, None),
        ([2.30, 2.29], 2.1, 8, None),  # a tiny run: too few steps to call it stuck
        ([2.31, 2.30, 2.30], 1.5e12, 180, "exploded"),  # the cluster case: val loss 1.5e12 at chance
        ([2.31, 2.30, 2.30], 2.30, 180, "below chance"),
        ([12.1, 23.5, 20.4], 13.7, 114, "below chance"),  # far above chance, not exploding: still diverged
        ([2.31, 2.30, 2.10], 2.20, 180, None),  # it started to learn in the last epoch
        ([0.5], float("nan"), 300, "exploded"),
        ([0.5], float("inf"), 300, "exploded"),
        ([0.5], 100 * CHANCE + 1, 300, "exploded"),
        ([0.5], 100 * CHANCE - 1, 300, None),  # bad, but a result
    ],
)
def test_divergence_is_told_apart_from_a_poor_result(
    train_losses: list[float], val_loss: float, steps: int, diverged: str | None
) -> None:
    if diverged is None:
        check_convergence(train_losses, val_loss, steps, 10)
    else:
        with pytest.raises(TrainingDivergedError, match=diverged):
            check_convergence(train_losses, val_loss, steps, 10)
