"""Proposers: hard local penalisation (appendix D), the common interface, determinism and restarts."""

from __future__ import annotations

import itertools
import json
import logging
import math
import re

import numpy as np
import pytest
import torch

from nago.bo.baselines import RandomProposer, SobolProposer
from nago.bo.encoding import SpaceEncoding
from nago.bo.gp_lp import LocalPenalisationProposer
from nago.bo.penalisation import (
    compute_local_radii,
    estimate_lipschitz,
    hard_penalty,
    log_hard_penalty,
    penalty_radii,
)
from nago.bo.proposer import Outcome, Proposer, list_thetas
from nago.bo.registry import PROPOSERS, ProposerSettings, build_proposer
from nago.errors import InvalidInputError
from nago.generator.spaces import ParamKind, ParamRange, SearchSpace, SpaceName, get_space

PLANE = SearchSpace(
    SpaceName.HNAG,  # the name only labels states; the two float dimensions are what matter
    (
        ParamRange("x", ParamKind.FLOAT, 0.0, 1.0, 0.0, 1.0, "first coordinate"),
        ParamRange("y", ParamKind.FLOAT, 0.0, 1.0, 0.0, 1.0, "second coordinate"),
    ),
)


def smooth(theta: dict[str, float]) -> float:
    """A smooth 2-D function with one broad maximum at (0.3, 0.6)."""
    return math.exp(-4 * ((theta["x"] - 0.3) ** 2 + (theta["y"] - 0.6) ** 2)) + 0.1 * math.sin(5 * theta["x"])


def _seeded(proposer: Proposer, count: int, seed: int = 0) -> Proposer:
    rng = np.random.default_rng(seed)
    for _ in range(count):
        theta = {"x": float(rng.random()), "y": float(rng.random())}
        proposer.tell(Outcome(theta, smooth(theta)))
    return proposer


def _t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


@pytest.mark.parametrize(
    ("point", "expected"),
    [([0.0, 0.0], 0.0), ([0.1, 0.0], 0.5), ([0.2, 0.0], 1.0), ([0.5, 0.5], 1.0), ([0.0, 0.05], 0.25)],
)
def test_hard_penaliser_is_a_cone_clipped_at_one(point: list[float], expected: float) -> None:
    centers, radii = _t([[0.0, 0.0]]), torch.tensor([0.2], dtype=torch.float64)
    assert float(hard_penalty(_t([point]), centers, radii)) == pytest.approx(expected)


def test_each_factor_is_clipped_before_the_product() -> None:
    """A far centre must not cancel a near one (the product-then-clip bug, docs/design.md §6.1)."""
    centers = _t([[0.0, 0.0], [1.0, 1.0]])
    radii = torch.tensor([0.2, 0.01], dtype=torch.float64)
    x = _t([[0.02, 0.0]])
    assert float(hard_penalty(x, centers, radii)) == pytest.approx(0.1)
    assert float(log_hard_penalty(x, centers, radii)) == pytest.approx(math.log(0.1))
    assert float(log_hard_penalty(_t([[0.5, 0.5]]), centers, radii)) == 0.0


def test_radius_uses_the_absolute_gap_to_the_best() -> None:
    mu, sigma = torch.tensor([0.5, 1.5]), torch.tensor([0.1, 0.1])
    assert penalty_radii(mu, sigma, best=1.0, lipschitz=2.0).tolist() == pytest.approx([0.3, 0.3])


# Worked by hand in one dimension. Parabola μ(x) = −(x − ½)², centre ½, gap g = |μ(½) − M| + σ(½) = 0.02:
# the steepest slope in the box is 1 (at its edges), so appendix D's radius is g / 1 = 0.02; inside the ball
# of radius r around ½ the steepest slope is 2r, so the local radius solves r · 2r = 0.02: r = 0.1. Measured
# in lengthscales s = 0.5 (u = x / s, μ = −(u/2 − ½)², slope |u − 1| / 2, which is r/2 at distance r and at
# most ½ in the box): r · r/2 = 0.02, r = 0.2 lengthscales, the same 0.1 of the box. A line μ(x) = 3x has
# slope 3 everywhere: the local radius is the global one, g / 3. Where appendix D's radius is already larger
# (here beyond the box), it stays.
LOCAL_RADIUS_CASES = [
    ("parabola", lambda x: -2 * (x - 0.5), 0.5, 0.02, 1.0, 1.0, 0.1),
    ("parabola in lengthscales 0.5", lambda x: -2 * (x - 0.5), 0.5, 0.02, 0.5, 0.5, 0.2),
    ("line", lambda x: np.full_like(x, 3.0), 0.2, 0.3, 1.0, 3.0, 0.1),
    ("gap beyond the box", lambda x: -2 * (x - 0.5), 0.5, 100.0, 0.5, 0.5, 200.0),
]


@pytest.mark.parametrize(
    ("gradient", "center", "gap", "scale", "lipschitz", "expected"),
    [case[1:] for case in LOCAL_RADIUS_CASES],
    ids=[case[0] for case in LOCAL_RADIUS_CASES],
)
def test_local_radius_is_the_largest_ball_its_own_slope_allows(
    gradient: object, center: float, gap: float, scale: float, lipschitz: float, expected: float
) -> None:
    radii = compute_local_radii(
        gradient,  # type: ignore[arg-type]
        np.array([[center]]),
        np.array([gap]),
        np.array([scale]),
        lipschitz,
        np.random.default_rng(0),
    )
    assert radii == pytest.approx([expected], rel=1e-4)
    rule = float(penalty_radii(_t([0.0]), _t([gap]), best=0.0, lipschitz=lipschitz))
    assert radii[0] >= rule - 1e-12  # never below appendix D's radius


def test_local_radii_need_each_ball_only_and_several_centres_are_independent() -> None:
    """Two centres on μ(x, y) = −(x − ½)² − 10 y², computed together and alone: the same radius; each is
    bounded by the slope inside its own ball, not by the slope of 20 at the wall y = 1."""

    def gradient(points: np.ndarray) -> np.ndarray:
        return np.stack([-2 * (points[:, 0] - 0.5), -20 * points[:, 1]], axis=1)

    centers, gaps, scale = np.array([[0.5, 0.0], [0.5, 0.5]]), np.array([0.05, 0.05]), np.ones(2)
    radii = compute_local_radii(gradient, centers, gaps, scale, 20.0, np.random.default_rng(1))
    one = compute_local_radii(gradient, centers[1:], gaps[1:], scale, 20.0, np.random.default_rng(1))
    assert radii[1] == pytest.approx(one[0], rel=1e-6)
    # at (½, 0) the slope within r is about 20 r (along y): r · 20 r = 0.05 gives r = 0.05
    assert radii[0] == pytest.approx(0.05, rel=0.02)
    # at (½, ½) the slope is about 10 already: r ≈ 0.05 / (10 + 20 r), r = 0.0041 … 0.005
    assert 0.05 / 20 < radii[1] < 0.05 / 10


@pytest.mark.parametrize("scale", [(1.0, 1.0), (0.3, 2.0)])
def test_lipschitz_bounds_every_finite_difference_slope_of_the_mean(scale: tuple[float, float]) -> None:
    """L bounds |Δμ| / ‖Δx / s‖ on a grid: the slope in the metric the penalty measures distances in."""
    proposer = _seeded(LocalPenalisationProposer(PLANE, seed=0), 20)
    assert isinstance(proposer, LocalPenalisationProposer)
    model = proposer.fit_model()

    def mean(x: torch.Tensor) -> torch.Tensor:
        return model.posterior(x).mean.squeeze(-1)

    s = torch.tensor(scale, dtype=torch.float64)
    lipschitz = estimate_lipschitz(mean, 2, model.train_inputs[0], seed=0, scale=s)
    steps = 41
    axis = torch.linspace(0, 1, steps, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        values = mean(grid).view(steps, steps)
    h = 1 / (steps - 1)
    slopes = torch.cat(
        [
            ((values[1:, :] - values[:-1, :]).abs() / (h / s[0])).flatten(),
            ((values[:, 1:] - values[:, :-1]).abs() / (h / s[1])).flatten(),
            ((values[1:, 1:] - values[:-1, :-1]).abs() / float((h / s).norm())).flatten(),
        ]
    )
    assert lipschitz >= float(slopes.max()) * (1 - 1e-9)


def test_batch_points_keep_apart_and_each_is_penalised_by_all_earlier() -> None:
    proposer = _seeded(LocalPenalisationProposer(PLANE, seed=1, min_radius=0.0), 12)  # appendix D's radii
    assert isinstance(proposer, LocalPenalisationProposer)
    batch = list_thetas(proposer.ask(6))
    diagnostics = proposer.diagnostics
    assert diagnostics.fallback is None and diagnostics.centers_per_point == [0, 1, 2, 3, 4, 5]
    points = np.array([[t["x"], t["y"]] for t in batch]) / np.array(diagnostics.scale)  # the penalty's metric
    smallest_radius = min(diagnostics.radii)
    for a, b in itertools.combinations(points, 2):
        assert np.linalg.norm(a - b) >= smallest_radius


@pytest.mark.parametrize("min_radius", [0.0, 0.5, 1.0])
def test_radii_never_fall_below_the_floor(min_radius: float) -> None:
    proposer = _seeded(LocalPenalisationProposer(PLANE, seed=1, min_radius=min_radius), 12)
    assert isinstance(proposer, LocalPenalisationProposer)
    batch = list_thetas(proposer.ask(6))
    diagnostics = proposer.diagnostics
    assert len(batch) == len(diagnostics.radii) == 6 and min(diagnostics.radii) >= min_radius
    if min_radius == 0.0:  # the appendix's radii are far smaller on this smooth plane than any floor
        assert max(diagnostics.radii) < 0.5


def test_busy_points_penalise_even_the_first_point_of_an_asynchronous_proposal() -> None:
    proposer = _seeded(LocalPenalisationProposer(PLANE, seed=2), 12)
    assert isinstance(proposer, LocalPenalisationProposer)
    alone = list_thetas(proposer.ask(1))[0]
    busy = [alone, {"x": 0.3, "y": 0.6}]
    nxt = list_thetas(proposer.ask(3, pending=busy))
    assert proposer.diagnostics.centers_per_point == [2, 3, 4]
    first = np.array([nxt[0]["x"], nxt[0]["y"]])
    assert np.linalg.norm(first - np.array([alone["x"], alone["y"]])) > 1e-3


@pytest.mark.parametrize(
    ("min_radius", "around_best", "radius_rule", "output_warping"),
    [(0.5, 0, "global", "none"), (0.1, 50, "global", "none"), (0.5, 300, "local", "yeo-johnson")],
)
def test_saved_and_restored_proposer_proposes_the_same_next_batch(
    min_radius: float, around_best: int, radius_rule: str, output_warping: str
) -> None:
    settings = {"min_radius": min_radius, "around_best": around_best, "radius_rule": radius_rule,
                "output_warping": output_warping}  # fmt: skip
    original = _seeded(LocalPenalisationProposer(PLANE, seed=4, **settings), 10)  # type: ignore[arg-type]
    for theta in list_thetas(original.ask(3)):
        original.tell(Outcome(theta, smooth(theta)))  # type: ignore[arg-type]
    state = json.loads(json.dumps(original.state()))
    restored = LocalPenalisationProposer(PLANE, seed=99, min_radius=0.3, around_best=7)
    restored.restore(state)
    assert {name: getattr(restored, name) for name in settings} == settings
    assert restored.ask(3) == original.ask(3)


@pytest.mark.parametrize("around_best", [0, 1, 300])
def test_raw_samples_around_the_best_lie_near_the_top_observations(around_best: int) -> None:
    proposer = _seeded(LocalPenalisationProposer(PLANE, seed=3, around_best=around_best), 40)
    assert isinstance(proposer, LocalPenalisationProposer)
    train_x = torch.tensor([[o.theta["x"], o.theta["y"]] for o in proposer.observations], dtype=torch.float64)
    scale = torch.tensor([0.2, 0.05], dtype=torch.float64)
    samples = proposer._around_best(np.random.default_rng(0), train_x, scale).numpy()
    assert samples.shape == (around_best, 2) and np.all((samples >= 0) & (samples <= 1))
    values = np.array([o.accuracy for o in proposer.observations])
    top = train_x.numpy()[np.argsort(-values)[:2]]  # 5 % of 40 observations
    offsets = np.abs(samples[:, None, :] - top[None, :, :]) / (0.1 * scale.numpy())  # in standard deviations
    nearest = np.argmin(offsets.max(-1), axis=1)
    assert np.all(offsets.max(-1).min(1) < 5)
    if around_best == 300:
        assert set(nearest.tolist()) == {0, 1}  # both of the best observations serve as centres
        assert np.std(samples[:, 1] - top[nearest, 1]) < np.std(samples[:, 0] - top[nearest, 0]) / 2
        close = np.mean(offsets.max(-1).min(1) < 0.5)  # all of the 0.01 ℓ half, 15 % of the 0.1 ℓ half
        assert 0.45 < close < 0.8


def test_same_seed_same_proposals() -> None:
    first = list_thetas(_seeded(LocalPenalisationProposer(PLANE, seed=5), 10).ask(2))
    second = list_thetas(_seeded(LocalPenalisationProposer(PLANE, seed=5), 10).ask(2))
    assert first == second


def test_numerical_failure_falls_back_to_space_filling(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    proposer = _seeded(LocalPenalisationProposer(PLANE, seed=6), 10)
    assert isinstance(proposer, LocalPenalisationProposer)

    def broken() -> None:
        raise RuntimeError("cholesky_cpu: the factorization could not be completed")

    monkeypatch.setattr(proposer, "fit_model", broken)
    with caplog.at_level(logging.WARNING, logger="nago.bo"):
        batch = list_thetas(proposer.ask(4))
    assert len(batch) == 4 and "cholesky" in str(proposer.diagnostics.fallback)
    assert "space-filling" in caplog.text


@pytest.mark.parametrize("make", [RandomProposer, SobolProposer], ids=["random", "sobol"])
def test_baselines_never_repeat_and_restore_exactly(make: type[Proposer]) -> None:
    space = get_space("hnag")
    encoding = SpaceEncoding(space)
    proposer = make(space, seed=3)
    observed = list_thetas(proposer.ask(20))
    for theta in observed:
        proposer.tell(Outcome(theta, 0.5))
    pending = list_thetas(proposer.ask(10))
    later = list_thetas(proposer.ask(30, pending=pending))
    keys = [encoding.key(t) for t in observed + pending + later]
    assert len(keys) == len(set(keys)) == 60
    assert all(space.validate_theta(t) == t for t in later)
    clone = make(space, seed=0)
    clone.restore(json.loads(json.dumps(proposer.state())))
    assert clone.ask(5) == proposer.ask(5)


def test_small_integer_grid_is_exhausted_without_repeats() -> None:
    space = get_space("hnag", {name: (low, low) for name, low in [("top_nodes", 3), ("mid_nodes", 1)]})
    tiny = space.with_ranges({"top_k": (2, 3), "bottom_nodes": (3, 3), "bottom_k": (2, 2)})
    encoding = SpaceEncoding(tiny)
    theta = tiny.sample_theta(np.random.default_rng(0))
    assert encoding.decode(encoding.encode(theta)) == theta
    proposer = RandomProposer(tiny, seed=0)
    assert len({encoding.key(t) for t in list_thetas(proposer.ask(5))}) == 5


def test_bad_tell_and_ask_are_named() -> None:
    proposer = RandomProposer(PLANE, seed=0)
    with pytest.raises(InvalidInputError, match="accuracy"):
        proposer.tell(Outcome({"x": 0.1, "y": 0.2}, float("nan")))
    with pytest.raises(InvalidInputError, match=r"theta\.x"):
        proposer.tell(Outcome({"x": 2.0, "y": 0.2}, 1.0))
    with pytest.raises(InvalidInputError, match="n: must be at least 1"):
        list_thetas(proposer.ask(0))
    with pytest.raises(InvalidInputError, match="proposer_state"):
        SobolProposer(PLANE, 0).restore(proposer.state())


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("seed", -1, "seed: must be an integer of at least 0, got -1"),
        ("seed", True, "seed: must be an integer"),
        ("initial_points", 0, "initial_points: must be an integer of at least 1, got 0"),
        ("raw_samples", 0, "raw_samples: must be an integer of at least 1"),
        ("raw_samples", 2.5, "raw_samples: must be an integer of at least 1, got 2.5"),
        ("local_starts", 0, "local_starts: must be an integer of at least 1"),
        ("min_radius", -0.1, "min_radius: must be a finite number of at least 0.0, got -0.1"),
        ("min_radius", math.nan, "min_radius: must be a finite number"),
        ("around_best", -5, "around_best: must be an integer of at least 0, got -5"),
        ("radius_rule", "nearest", "radius_rule: must be one of global, local, got 'nearest'"),
        ("output_warping", "log", "output_warping: must be one of none, yeo-johnson, got 'log'"),
    ],
)
def test_bad_local_penalisation_settings_are_named(setting: str, value: object, message: str) -> None:
    settings: dict[str, object] = {"seed": 0, setting: value}
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        LocalPenalisationProposer(PLANE, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(("setting", "value"), [("around_best", -1), ("local_starts", 1.5), ("seed", -3)])
def test_a_saved_state_with_a_bad_setting_is_refused(setting: str, value: object) -> None:
    state = LocalPenalisationProposer(PLANE, seed=0).state()
    with pytest.raises(InvalidInputError, match=f"{setting}: must be an integer of at least"):
        LocalPenalisationProposer(PLANE, seed=0).restore({**state, setting: value})


def test_fast_posterior_equals_botorch_and_has_gradients_at_the_data() -> None:
    from nago.bo.gp_posterior import build_posterior, log_expected_improvement

    proposer = _seeded(LocalPenalisationProposer(PLANE, seed=7), 15)
    assert isinstance(proposer, LocalPenalisationProposer)
    model = proposer.fit_model()
    mean_std = build_posterior(model)[0]
    x = torch.rand(50, 2, dtype=torch.float64)
    mu, sigma = mean_std(x)
    posterior = model.posterior(x)
    assert torch.allclose(mu, posterior.mean.squeeze(-1), atol=1e-8)
    assert torch.allclose(sigma, posterior.variance.sqrt().squeeze(-1), atol=1e-6)
    from botorch.acquisition.analytic import LogExpectedImprovement

    best = max(o.accuracy for o in proposer.observations)
    reference = LogExpectedImprovement(model, best_f=best)(x.unsqueeze(-2))
    assert torch.allclose(log_expected_improvement(mu, sigma, best), reference, atol=1e-6)
    at_data = model.train_inputs[0].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(mean_std(at_data)[0].sum(), at_data)
    assert torch.isfinite(grad).all()


def test_thompson_sampling_proposes_distinct_valid_points_and_restores() -> None:
    from nago.bo.thompson import ThompsonProposer

    proposer = _seeded(ThompsonProposer(PLANE, seed=8), 12)
    batch = list_thetas(proposer.ask(4, pending=[{"x": 0.3, "y": 0.6}]))
    assert len({(t["x"], t["y"]) for t in batch}) == 4 and all(PLANE.validate_theta(t) == t for t in batch)
    assert proposer.diagnostics.fallback is None  # type: ignore[attr-defined]
    clone = ThompsonProposer(PLANE, seed=0)
    clone.restore(json.loads(json.dumps(proposer.state())))
    assert clone.ask(2) == proposer.ask(2)


@pytest.mark.parametrize("kind", sorted(PROPOSERS))
def test_every_strategy_speaks_the_one_proposer_protocol(kind: str) -> None:
    """Built by kind, ask/tell/state/restore work the same way for all (the engine never asks which it holds)."""
    settings = ProposerSettings(seed=3, initial_points=6, budgets=(1, 2, 4), eta=2)
    proposer = build_proposer(kind, PLANE, settings)
    assert isinstance(proposer, Proposer)
    first = proposer.ask(2)
    assert len(first) == 2 and all(PLANE.validate_theta(p.theta) == p.theta for p in first)
    assert all((p.budget is None) is (kind != "bohb") for p in first)
    proposer.tell(Outcome(first[0].theta, 0.7, 2e6, first[0].budget, first[0].job))
    proposer.tell(Outcome(first[1].theta, None, None, first[1].budget, first[1].job))  # a failed trial
    clone = build_proposer(kind, PLANE, ProposerSettings(seed=0, budgets=(1, 2, 4)))
    clone.restore(json.loads(json.dumps(proposer.state())))
    assert clone.ask(2) == proposer.ask(2)


def test_an_unknown_strategy_kind_is_named() -> None:
    with pytest.raises(InvalidInputError, match=r"strategy\.kind: must be one of bo, thompson"):
        build_proposer("annealing", PLANE, ProposerSettings(seed=0))
