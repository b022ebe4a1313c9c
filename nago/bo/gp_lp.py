"""GP-BO with hard local penalisation, synchronous or asynchronous (appendix B–D; Alvi et al. 2019).

Surrogate: a BoTorch SingleTaskGP in float64 on the unit box with standardised outputs. Base
acquisition: log expected improvement over M, the best observed value. A batch is chosen greedily:
point k maximises log EI(x) + Σ_j log φ(x | x_j), the sum over every busy (running) point and every
point already chosen, so the first point of an asynchronous proposal is penalised by all busy
points. Distances are measured on x / ℓ (ℓ the kernel's lengthscales) and L = max ‖ℓ ⊙ ∇μ‖ is
estimated once per call in the same coordinates; points are penalised where they will run, at their
rounded (snapped) coordinates. Every radius is at least `min_radius` lengthscales (0.5): a guard we
add to appendix D, where one steep wall anywhere in the box makes L large and every radius tiny, so a
batch became a chain of near-copies of one point (docs/bo.md; the RBF kernel correlates points half a
lengthscale apart at 0.88). The acquisition is optimised from 3000 random points and 300 more near the
best observations, then L-BFGS-B (up to 200 iterations) from the best 3 (docs/design.md §6.5), with analytic
gradients. Until the GP has `initial_points` observations, and whenever the GP fails numerically,
proposals are space-filling (Sobol), and the fallback is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize
from torch import Tensor

from nago.bo.gp_posterior import build_posterior, log_expected_improvement
from nago.bo.log_ei import compute_log_ei_and_gradient
from nago.bo.output_warping import OUTPUT_WARPINGS, warp_outputs
from nago.bo.penalisation import (
    compute_local_radii,
    compute_log_hard_penalty_and_gradient,
    estimate_lipschitz,
    log_hard_penalty,
    penalty_radii,
)
from nago.bo.proposer import BaseProposer, check_at_least, check_one_of, space_filling
from nago.generator.spaces import SearchSpace

LOG = logging.getLogger("nago.bo")
DTYPE = torch.float64
LBFGS_ITERATIONS = 200  # per batch point, all starts at once (docs/design.md §6.5: to convergence)
AROUND_BEST_SAMPLES = 300  # raw samples near the best observations (benchmark 2: docs/bo.md)
AROUND_BEST_SD_LENGTHSCALES = (0.1, 0.01)  # half the samples at each spread
MIN_RADIUS_LENGTHSCALES = 0.5  # the RBF kernel correlates points this far apart at 0.88
Gradient = tuple[np.ndarray, np.ndarray]  # values (n,) and gradients (n × d)


def metric_scale(model: Any, dims: int) -> Tensor:
    """Per-dimension lengthscales of the GP kernel (ones when it has none): the penalty measures
    ‖x − x_j‖ on x / ℓ, so an exclusion ball spans the same correlation in every dimension.

    Args:
        model: A fitted GP (BoTorch's SingleTaskGP) whose `covar_module` may have a `lengthscale`.
        dims: The number of input dimensions `d` (an int).

    Returns:
        A `d`-dim float64 tensor of lengthscales ℓ (a single shared lengthscale is repeated).
    """
    lengthscale = getattr(model.covar_module, "lengthscale", None)
    if lengthscale is None:
        return torch.ones(dims, dtype=DTYPE)
    scale: Tensor = lengthscale.detach().reshape(-1).to(DTYPE).expand(dims).clone()
    return scale


FIT_ATTEMPTS = 5  # BoTorch's own default number of fitting attempts
FIT_STREAM = 1  # the fit's random stream, apart from the proposals' (seed, proposed) stream
LOCAL_RADII_STREAM = 2  # the local radii's sample points
RADIUS_RULES = ("global", "local")  # L for every ball (appendix D), or each ball's own (docs/bo.md)


def fit_gp(train_x: Tensor, train_y: Tensor, rng: np.random.Generator) -> Any:
    """A SingleTaskGP (standardised outputs) fitted by marginal likelihood, as BoTorch's
    `fit_gpytorch_mll` does: the first attempt from the default hyperparameters, each retry from
    values drawn from the model's priors. The draws come from `rng`, not from torch's process-wide
    generator that BoTorch's retries use, so two proposers fitting in two threads do not share a stream.

    Args:
        train_x: `n x d` inputs in the unit box.
        train_y: `n x 1` observed values.
        rng: The caller's `np.random.Generator`, used only if the first attempt fails.

    Returns:
        The fitted SingleTaskGP in eval mode; its posterior at `q x d` points has a `q x 1` mean.
    """
    from botorch.exceptions.errors import ModelFittingError
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    for attempt in range(FIT_ATTEMPTS):
        model = SingleTaskGP(train_x, train_y, outcome_transform=Standardize(m=1))
        if attempt > 0:
            draw_from_priors(model, rng)
        try:
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), max_attempts=1)
        except ModelFittingError:
            continue
        model.eval()
        return model
    raise ModelFittingError(f"all {FIT_ATTEMPTS} attempts to fit the GP failed")


def draw_from_priors(model: Any, rng: np.random.Generator) -> None:
    """Set every hyperparameter that has a prior to a draw from it (inverse CDF of uniforms from `rng`)."""
    for _name, module, prior, closure, setting_closure in model.named_priors():
        if setting_closure is None:
            continue
        current = closure(module)
        uniforms = torch.from_numpy(rng.uniform(1e-6, 1 - 1e-6, size=tuple(current.shape))).to(current)
        try:
            value = prior.icdf(uniforms)
        except NotImplementedError:  # a prior without an inverse CDF keeps its default starting value
            continue
        setting_closure(module, value)


@dataclass
class BatchDiagnostics:
    """What the last `ask` did: the penalised centres before each point, L, M, the metric's
    per-dimension scale, the radii in that metric (`rule_radii` as appendix D's rule gives them,
    `radii` after the floor) and the fallback."""

    lipschitz: float | None = None
    scale: list[float] = field(default_factory=list)
    best: float | None = None
    centers_per_point: list[int] = field(default_factory=list)
    rule_radii: list[float] = field(default_factory=list)
    radii: list[float] = field(default_factory=list)
    fallback: str | None = None


class LocalPenalisationProposer(BaseProposer):
    """Batch BO by hard local penalisation; `ask(n, pending)` works for sync and async batches."""

    kind = "gp-lp"

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        initial_points: int | None = None,
        raw_samples: int = 3000,
        local_starts: int = 3,
        min_radius: float = MIN_RADIUS_LENGTHSCALES,
        around_best: int = AROUND_BEST_SAMPLES,
        radius_rule: str = "global",
        output_warping: str = "none",
    ) -> None:
        super().__init__(space, seed)
        self.radius_rule = radius_rule
        self.output_warping = output_warping
        self.initial_points = initial_points if initial_points is not None else self.encoding.dims + 1
        self.raw_samples = raw_samples
        self.local_starts = local_starts
        self.min_radius = min_radius
        self.around_best = around_best
        self._check_settings()
        self.diagnostics = BatchDiagnostics()

    def _check_settings(self) -> None:
        check_at_least("initial_points", self.initial_points, 1)
        check_at_least("raw_samples", self.raw_samples, 1)
        check_at_least("local_starts", self.local_starts, 1)
        check_at_least("min_radius", self.min_radius, 0.0)
        check_at_least("around_best", self.around_best, 0)
        check_one_of("radius_rule", self.radius_rule, RADIUS_RULES)
        check_one_of("output_warping", self.output_warping, OUTPUT_WARPINGS)

    def _propose(self, n: int, busy: list[np.ndarray], taken: set[tuple[float, ...]]) -> list[np.ndarray]:
        self.diagnostics = BatchDiagnostics()
        if len(self.observations) < self.initial_points:
            self.diagnostics.fallback = "initial design"
            return space_filling(self.encoding, self._rng(), n, taken)
        try:
            return self._penalised_batch(n, busy, taken)
        except (RuntimeError, ValueError, ArithmeticError) as error:  # Cholesky and other numerical failures
            LOG.warning(
                "GP proposal failed (%s: %s); proposing space-filling points instead", type(error).__name__, error
            )
            self.diagnostics.fallback = f"{type(error).__name__}: {error}"
            return space_filling(self.encoding, self._rng(), n, taken)

    def warped_values(self) -> np.ndarray:
        """The observed values as the GP sees them (`output_warping`).

        Returns:
            An `n`-dim array, one value per observation, in the order they were told.
        """
        return warp_outputs(np.array([o.accuracy for o in self.observations], dtype=float), self.output_warping)

    def fit_model(self) -> Any:
        """The GP on the observations (their values warped by `output_warping`), hyperparameters fitted by
        marginal likelihood."""
        train_x = torch.tensor(
            np.array([self.encoding.snap(self.encoding.encode(o.theta)) for o in self.observations]), dtype=DTYPE
        )
        train_y = torch.from_numpy(self.warped_values()).to(DTYPE).unsqueeze(-1)
        return fit_gp(train_x, train_y, np.random.default_rng([self.seed, self.proposed, FIT_STREAM]))

    def _penalised_batch(self, n: int, busy: list[np.ndarray], taken: set[tuple[float, ...]]) -> list[np.ndarray]:
        model = self.fit_model()
        mean_and_std, gradients = build_posterior(model)  # one Cholesky for both forms
        train_x = model.train_inputs[0]
        best = float(self.warped_values().max())  # M, in the GP's (warped) scale

        def mean(x: Tensor) -> Tensor:
            return mean_and_std(x)[0]

        scale = metric_scale(model, self.encoding.dims)
        lipschitz = estimate_lipschitz(mean, self.encoding.dims, train_x, seed=self.seed + self.proposed, scale=scale)
        self.diagnostics = BatchDiagnostics(lipschitz=lipschitz, best=best, scale=scale.tolist())

        local_rng = np.random.default_rng([self.seed, self.proposed, LOCAL_RADII_STREAM])

        def rule_radii_at(points: Tensor) -> Tensor:
            """The method's radii at `points` (q x d, unit box), before the floor."""
            with torch.no_grad():
                mu, sigma = mean_and_std(points)
            if self.radius_rule == "global":
                return penalty_radii(mu, sigma, best, lipschitz)
            gaps = ((mu - best).abs() + sigma).numpy()
            local = compute_local_radii(
                lambda z: gradients(z)[2], points.numpy(), gaps, scale.numpy(), lipschitz, local_rng
            )
            return torch.from_numpy(local)

        points = torch.tensor(np.array(busy), dtype=DTYPE) if busy else torch.empty(0, self.encoding.dims, dtype=DTYPE)
        centers = points / scale
        radii = rule_radii_at(points).clamp_min(self.min_radius) if busy else torch.empty(0, dtype=DTYPE)
        rng = self._rng()
        raw = torch.cat([torch.from_numpy(rng.random((self.raw_samples, self.encoding.dims))),
                         self._around_best(rng, train_x, scale)])  # fmt: skip
        with torch.no_grad():  # log EI at the raw samples does not change within a batch
            raw_log_ei = torch.cat(
                [log_expected_improvement(*mean_and_std(chunk), best) for chunk in torch.split(raw, 1024)]
            )
        metric = scale.numpy()
        chosen: list[np.ndarray] = []
        for _ in range(n):
            frozen_centers, frozen_radii = centers.numpy(), radii.numpy()

            def objective(x: np.ndarray, c: np.ndarray = frozen_centers, r: np.ndarray = frozen_radii) -> Gradient:
                """log EI(x) + Σ_j log φ(x | x_j) and its gradient, analytic (appendix D)."""
                log_ei, grad_log_ei = compute_log_ei_and_gradient(*gradients(x), best)
                penalty, grad_penalty = compute_log_hard_penalty_and_gradient(x / metric, c, r)
                return log_ei + penalty, grad_log_ei + grad_penalty / metric

            with torch.no_grad():
                raw_values = raw_log_ei + log_hard_penalty(raw / scale, centers, radii)
            candidates = self._maximise(objective, raw, raw_values)
            point = self._take_unique(candidates, taken, chosen)
            if point is None:
                break
            self.diagnostics.centers_per_point.append(int(centers.shape[0]))
            x = torch.tensor(point, dtype=DTYPE).unsqueeze(0)
            rule_radius = rule_radii_at(x)
            radius = rule_radius.clamp_min(self.min_radius)
            self.diagnostics.rule_radii.append(float(rule_radius))
            self.diagnostics.radii.append(float(radius))
            centers = torch.cat([centers, x / scale])
            radii = torch.cat([radii, radius])
        return chosen

    def _around_best(self, rng: np.random.Generator, train_x: Tensor, scale: Tensor) -> Tensor:
        """`around_best` raw samples near the best observations (the top 5 %, at least one), each
        coordinate moved by N(0, (0.1 ℓ)²) for half of them and N(0, (0.01 ℓ)²) for the other half,
        clipped to the box, so that starts lie where improving on the incumbent is likeliest, for
        a new basin nearby and for the last digits (BoTorch's `sample_around_best`)."""
        if self.around_best <= 0:
            return torch.empty(0, self.encoding.dims, dtype=DTYPE)
        values = np.array([o.accuracy for o in self.observations])
        top = np.argsort(-values, kind="stable")[: max(1, round(0.05 * len(values)))]
        centres = train_x[torch.from_numpy(top)].numpy()[rng.integers(len(top), size=self.around_best)]
        spread = np.array(AROUND_BEST_SD_LENGTHSCALES)[np.arange(self.around_best) % len(AROUND_BEST_SD_LENGTHSCALES)]
        moved = centres + rng.normal(size=centres.shape) * spread[:, None] * scale.numpy()
        return torch.from_numpy(np.clip(moved, 0.0, 1.0))

    def _maximise(self, objective: Callable[[np.ndarray], Gradient], raw: Tensor, values: Tensor) -> np.ndarray:
        """Candidates, best first: L-BFGS-B optima from the best raw samples, then the raw samples."""
        order = values.argsort(descending=True)
        starts = raw[order[: self.local_starts]].numpy()
        dims = self.encoding.dims

        def negative(z: np.ndarray) -> tuple[float, np.ndarray]:
            """All starts in one L-BFGS-B problem: their objectives are independent, so summing them
            optimises each one while the surrogate is evaluated once per step for all of them."""
            value, grad = objective(z.reshape(-1, dims))
            return -float(value.sum()), -grad.reshape(-1)

        result = minimize(
            negative, starts.reshape(-1), jac=True, method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * (dims * len(starts)),
            options={"maxiter": LBFGS_ITERATIONS, "maxfun": LBFGS_ITERATIONS},
        )  # fmt: skip
        optima = np.clip(result.x, 0.0, 1.0).reshape(-1, dims)
        optimum_values = objective(optima)[0]
        finite = np.isfinite(optimum_values)
        refined = optima[finite][np.argsort(-optimum_values[finite], kind="stable")]
        return np.concatenate([refined, raw[order].numpy()])

    def state(self) -> dict[str, Any]:
        return {
            **super().state(),
            "initial_points": self.initial_points,
            "raw_samples": self.raw_samples,
            "local_starts": self.local_starts,
            "min_radius": self.min_radius,
            "around_best": self.around_best,
            "radius_rule": self.radius_rule,
            "output_warping": self.output_warping,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        super().restore(state)
        self.initial_points = state["initial_points"]
        self.raw_samples = state["raw_samples"]
        self.local_starts = state["local_starts"]
        self.min_radius = state.get("min_radius", MIN_RADIUS_LENGTHSCALES)
        self.around_best = state.get("around_best", 0)  # states saved before it existed had none
        self.radius_rule = state.get("radius_rule", "global")
        self.output_warping = state.get("output_warping", "none")
        self._check_settings()
        self.min_radius = float(self.min_radius)
