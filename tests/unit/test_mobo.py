"""MOBO with BNN surrogates: Pareto sets, hypervolume on known fronts, proposals, restarts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from nago.bo.bnn import SghmcBnn
from nago.bo.mobo import MoboProposer
from nago.bo.pareto import hypervolume, pareto_mask
from nago.bo.proposer import Outcome, list_thetas
from nago.errors import InvalidInputError
from nago.generator.spaces import ParamKind, ParamRange, SearchSpace, SpaceName

PLANE = SearchSpace(
    SpaceName.HNAG,
    (
        ParamRange("x", ParamKind.FLOAT, 0.0, 1.0, 0.0, 1.0, "first coordinate"),
        ParamRange("y", ParamKind.FLOAT, 0.0, 1.0, 0.0, 1.0, "second coordinate"),
    ),
)


@pytest.mark.parametrize(
    ("values", "mask"),
    [
        ([[1, 0], [0, 1], [0.5, 0.5], [0.4, 0.4]], [True, True, True, False]),
        ([[1, 1], [1, 1]], [True, True]),
        ([[1, 1], [1, 0.5], [0.5, 1]], [True, False, False]),
        ([[3.0, 1.0, 2.0], [1.0, 3.0, 2.0], [1.0, 1.0, 1.0]], [True, True, False]),
    ],
)
def test_pareto_mask(values: list[list[float]], mask: list[bool]) -> None:
    assert pareto_mask(np.array(values)).tolist() == mask


@pytest.mark.parametrize(
    ("values", "reference", "volume"),
    [
        ([[1.0, 0.5], [0.5, 1.0]], [0, 0], 0.75),
        ([[1.0, 1.0]], [0, 0], 1.0),
        ([[1.0, 1.0], [0.5, 0.5]], [0, 0], 1.0),
        ([[2.0, 1.0], [1.0, 2.0], [1.5, 1.5]], [0, 0], 3.25),
        ([[1.0, 0.5], [0.5, 1.0]], [0.5, 0.5], 0.0),
        ([[1.0, 1.0, 0.5], [0.5, 0.5, 1.0]], [0, 0, 0], 0.625),
        ([], [0, 0], 0.0),
    ],
)
def test_hypervolume_on_known_fronts(values: list[list[float]], reference: list[float], volume: float) -> None:
    assert hypervolume(np.array(values).reshape(-1, len(reference)), np.array(reference)) == pytest.approx(volume)


def test_hypervolume_matches_monte_carlo_on_a_random_front() -> None:
    rng = np.random.default_rng(0)
    points = rng.random((12, 3))
    samples = rng.random((200_000, 3))
    dominated = (samples[:, None, :] <= points[None, :, :]).all(-1).any(-1).mean()
    assert hypervolume(points, np.zeros(3)) == pytest.approx(dominated, abs=5e-3)


def test_bnn_fits_a_smooth_function_with_calibrated_spread() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 2))
    y = np.sin(4 * x[:, 0]) + x[:, 1] ** 2 + 0.05 * rng.normal(size=40)
    model = SghmcBnn(2, seed=0)
    model.fit(x, y)
    assert len(model.samples) == 100
    test = rng.random((200, 2))
    truth = np.sin(4 * test[:, 0]) + test[:, 1] ** 2
    posterior = model.posterior(torch.tensor(test))
    rmse = float(np.sqrt(((posterior.mean.numpy() - truth) ** 2).mean()))
    assert rmse < 0.2 * truth.std()
    assert float(posterior.variance.sqrt().mean()) < truth.std()


def _accuracy_memory(theta: dict[str, float]) -> tuple[float, float]:
    """A toy trade-off: accuracy grows with x, memory grows with x and y."""
    accuracy = 0.5 + 0.4 * theta["x"] - 0.1 * (theta["y"] - 0.5) ** 2
    memory = 1e6 * math.exp(2 * theta["x"] + theta["y"])
    return accuracy, memory


def _told(seed: int, count: int = 12, surrogate: str = "bnn") -> MoboProposer:
    proposer = MoboProposer(PLANE, seed=seed, raw_samples=500, surrogate=surrogate)
    rng = np.random.default_rng(seed)
    for _ in range(count):
        theta = {"x": float(rng.random()), "y": float(rng.random())}
        proposer.tell(Outcome(theta, *_accuracy_memory(theta)))
    return proposer


def test_pareto_set_holds_only_non_dominated_points() -> None:
    proposer = _told(0, 25)
    front = proposer.pareto_set()
    assert front
    for point in front:
        for other in proposer.observations:
            dominates = (
                other.accuracy >= point.accuracy
                and other.memory <= point.memory
                and (other.accuracy > point.accuracy or other.memory < point.memory)
            )
            assert not dominates


@pytest.mark.parametrize("surrogate", ["bnn", "gp"])
def test_mobo_proposes_new_valid_points_and_restores_exactly(surrogate: str) -> None:
    proposer = _told(1, surrogate=surrogate)
    batch = list_thetas(proposer.ask(3, pending=[{"x": 0.9, "y": 0.1}]))
    keys = {proposer.encoding.key(t) for t in batch}
    assert len(keys) == 3 and all(PLANE.validate_theta(t) == t for t in batch)
    assert keys.isdisjoint({proposer.encoding.key(o.theta) for o in proposer.observations})
    for theta in batch:
        proposer.tell(Outcome(theta, *_accuracy_memory(theta)))  # type: ignore[arg-type]
    clone = MoboProposer(PLANE, seed=0)
    clone.restore(json.loads(json.dumps(proposer.state())))
    assert clone.ask(2) == proposer.ask(2)


def test_gp_surrogate_batches_improve_the_hypervolume_of_a_known_front() -> None:
    """On the toy trade-off every point with y = 0.5 is Pareto-optimal; after four batches of qLogNEHVI the
    hypervolume of what was observed exceeds that of random search's same number of points, seed for seed."""
    from nago.bo.pareto import hypervolume

    def volume(proposer: MoboProposer) -> float:
        objectives = proposer.objectives()
        return hypervolume(objectives, np.array([0.45, -math.log(1e6 * math.exp(3.0))]))

    wins = 0
    for seed in range(3):
        gp, rng = _told(seed, 6, surrogate="gp"), np.random.default_rng([seed, 99])
        random_points = list(gp.observations)
        for _ in range(4):
            for theta in list_thetas(gp.ask(3)):
                gp.tell(Outcome(theta, *_accuracy_memory(theta)))  # type: ignore[arg-type]
        baseline = MoboProposer(PLANE, seed=seed)
        for observation in random_points:
            baseline.tell(Outcome(observation.theta, observation.accuracy, observation.memory))
        for _ in range(12):
            theta = {"x": float(rng.random()), "y": float(rng.random())}
            baseline.tell(Outcome(theta, *_accuracy_memory(theta)))
        wins += volume(gp) > volume(baseline)
    assert wins == 3


def test_the_gp_surrogate_leaves_torch_global_generator_as_it_found_it() -> None:
    proposer = _told(2, surrogate="gp")
    before = torch.random.get_rng_state()
    proposer.ask(2)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_an_unknown_surrogate_is_named() -> None:
    with pytest.raises(InvalidInputError, match="surrogate: must be one of bnn, gp"):
        MoboProposer(PLANE, seed=0, surrogate="forest")
    state = MoboProposer(PLANE, seed=0).state()
    with pytest.raises(InvalidInputError, match="surrogate"):
        MoboProposer(PLANE, seed=0).restore({**state, "surrogate": "forest"})


def test_bad_results_are_named() -> None:
    proposer = MoboProposer(PLANE, seed=0)
    with pytest.raises(InvalidInputError, match="memory"):
        proposer.tell(Outcome({"x": 0.1, "y": 0.1}, 0.5, 0.0))
    with pytest.raises(InvalidInputError, match="accuracy"):
        proposer.tell(Outcome({"x": 0.1, "y": 0.1}, float("inf"), 1.0))


@pytest.mark.parametrize(
    ("setting", "value"), [("seed", -1), ("initial_points", 0), ("raw_samples", 0), ("raw_samples", 1.5)]
)
def test_bad_settings_are_named(setting: str, value: object) -> None:
    settings: dict[str, object] = {"seed": 0, setting: value}
    with pytest.raises(InvalidInputError, match=f"{setting}: must be an integer of at least"):
        MoboProposer(PLANE, **settings)  # type: ignore[arg-type]
    state = MoboProposer(PLANE, seed=0).state()
    if setting != "seed":
        with pytest.raises(InvalidInputError, match=setting):
            MoboProposer(PLANE, seed=0).restore({**state, setting: value})
