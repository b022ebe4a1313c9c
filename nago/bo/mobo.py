"""MOBO: validation accuracy against memory per image, with BNN surrogates (appendix C.2) or GPs.

Objectives, both maximised: accuracy and −log(memory per image). One SGHMC BNN per objective
(`nago.bo.bnn`). Acquisition: random augmented-Chebyshev scalarisations (ParEGO-style, one fresh
weight vector λ per batch point): objectives are scaled to [0, 1] by the observed ranges,
s(y) = min_i λ_i y_i + 0.05 Σ_i λ_i y_i, and each candidate scores the Monte Carlo expected
improvement of s over the best observed s, over the BNN's 100 weight samples. Batches are chosen by
hard local penalisation on the scalarised posterior (`nago.bo.penalisation`), busy points
included. Earlier results (the appendix starts from 50 BOHB points) are simply told first.
`pareto_set()` returns the non-dominated observed configurations.

`surrogate="gp"` replaces the BNNs and the scalarisations with BoTorch's qLogNEHVI on one GP per
objective (docs/bo.md, "MOBO"): each GP fitted as GP-BO's (`gp_lp.fit_gp`), the reference point inferred
from the observations (BoTorch's `infer_reference_point`), the baseline pruned to the points that are
Pareto-optimal in some posterior sample, and the batch chosen by BoTorch's sequential greedy
`optimize_acqf` with the busy points as pending. Every random draw is seeded from the proposer's own
(seed, proposals made) stream, so a restored proposer proposes the same batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from scipy.stats import qmc
from torch import Tensor

from nago.bo.bnn import SghmcBnn
from nago.bo.gp_lp import FIT_STREAM, fit_gp
from nago.bo.pareto import pareto_mask
from nago.bo.penalisation import estimate_lipschitz, log_hard_penalty, penalty_radii
from nago.bo.proposer import (
    BaseProposer,
    Observation,
    Outcome,
    check_at_least,
    check_one_of,
    space_filling,
    take_unique,
)
from nago.errors import InvalidInputError
from nago.generator.spaces import SearchSpace

CHEBYSHEV_AUGMENTATION = 0.05
DTYPE = torch.float64
SURROGATES = ("bnn", "gp")
NEHVI_MC_SAMPLES = 128  # BoTorch's multi-objective tutorial's settings, as benchmark 3's qLogNEHVI
NEHVI_RESTARTS = 10
NEHVI_RAW_SAMPLES = 512
PRUNE_SAMPLES = 2048


class MoboProposer(BaseProposer):
    """ask(n, pending) → proposals; tell(outcome) with accuracy and memory; pareto_set(); state()/restore()."""

    kind = "mobo"

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        initial_points: int | None = None,
        raw_samples: int = 2000,
        surrogate: str = "bnn",
    ):
        super().__init__(space, seed)
        self.initial_points = initial_points if initial_points is not None else self.encoding.dims + 1
        self.raw_samples = raw_samples
        self.surrogate = surrogate
        self._check_settings()

    def _check_settings(self) -> None:
        check_at_least("initial_points", self.initial_points, 1)
        check_at_least("raw_samples", self.raw_samples, 1)
        check_one_of("surrogate", self.surrogate, SURROGATES)

    def _check_outcome(self, outcome: Outcome) -> None:
        memory = outcome.memory
        if memory is None or not (math.isfinite(memory) and memory > 0):
            raise InvalidInputError("memory", f"must be a positive number of bytes per image, got {memory!r}")

    def objectives(self) -> np.ndarray:
        """n×2, maximised: accuracy and −log memory.

        Returns:
            An `n x 2` array, one row per observation: accuracy and −log(memory per image in bytes).
        """
        return np.array([[o.accuracy, -math.log(o.memory or 1.0)] for o in self.observations])

    def pareto_set(self) -> list[Observation]:
        if not self.observations:
            return []
        mask = pareto_mask(self.objectives())
        return [o for o, keep in zip(self.observations, mask, strict=True) if keep]

    def _encode_busy(self, theta: Mapping[str, object]) -> np.ndarray:
        return self.encoding.snap(self.encoding.encode(theta))

    def _propose(self, n: int, busy: list[np.ndarray], taken: set[tuple[float, ...]]) -> list[np.ndarray]:
        rng = self._rng()
        if len(self.observations) < self.initial_points:
            return space_filling(self.encoding, rng, n, taken)
        if self.surrogate == "gp":
            return self._hypervolume_batch(n, busy, taken, rng)
        return self._scalarised_batch(n, busy, taken, rng)

    def _hypervolume_batch(
        self, n: int, busy: list[np.ndarray], taken: set[tuple[float, ...]], rng: np.random.Generator
    ) -> list[np.ndarray]:
        """qLogNEHVI on one GP per objective, BoTorch's sequential greedy batch (module docstring)."""
        from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
        from botorch.models.model_list_gp_regression import ModelListGP
        from botorch.optim.optimize import optimize_acqf
        from botorch.sampling.normal import SobolQMCNormalSampler
        from botorch.utils.multi_objective.hypervolume import infer_reference_point

        train_x = torch.tensor(
            np.array([self.encoding.snap(self.encoding.encode(o.theta)) for o in self.observations]), dtype=DTYPE
        )
        train_y = torch.tensor(self.objectives(), dtype=DTYPE)
        model = ModelListGP(
            *(
                fit_gp(train_x, train_y[:, i : i + 1], np.random.default_rng([self.seed, self.proposed, FIT_STREAM, i]))
                for i in range(2)
            )
        )
        # The nadir of the observed Pareto front, moved back 10 % of its range: what BoTorch's
        # `infer_reference_point` expects (the Pareto points, not every observation, whose worst values would
        # spend the search on regions no one wants).
        front = train_y[torch.from_numpy(pareto_mask(train_y.numpy()))]
        reference = infer_reference_point(front)
        baseline = prune_dominated_in_every_sample(model, train_x, reference, int(rng.integers(2**31)))
        acquisition = qLogNoisyExpectedHypervolumeImprovement(
            model=model,
            ref_point=reference.tolist(),
            X_baseline=baseline,
            prune_baseline=False,
            sampler=SobolQMCNormalSampler(sample_shape=torch.Size([NEHVI_MC_SAMPLES]), seed=int(rng.integers(2**31))),
            X_pending=torch.tensor(np.array(busy), dtype=DTYPE) if busy else None,
        )
        bounds = torch.stack([torch.zeros(self.encoding.dims), torch.ones(self.encoding.dims)]).to(DTYPE)
        points = []
        for _ in range(n):  # BoTorch's sequential greedy: each point optimised with the earlier ones pending
            starts = choose_starts(acquisition, self.encoding.dims, rng)
            point, _ = optimize_acqf(
                acquisition, bounds, q=1, num_restarts=NEHVI_RESTARTS, batch_initial_conditions=starts,
                options={"batch_limit": 5, "maxiter": 200},
            )  # fmt: skip
            points.append(point.detach())
            pending = point if acquisition.X_pending is None else torch.cat([acquisition.X_pending, point])
            acquisition.set_X_pending(pending.detach())
        batch = torch.cat(points)
        chosen: list[np.ndarray] = []
        fill = rng.random((1000, self.encoding.dims))  # a proposal that snaps onto a taken point: a random new one
        for row in batch.detach().numpy():
            chosen += take_unique(self.encoding, np.vstack([row[None, :], fill]), taken, 1)
        return chosen

    def _scalarised_batch(
        self, n: int, busy: list[np.ndarray], taken: set[tuple[float, ...]], rng: np.random.Generator
    ) -> list[np.ndarray]:
        x = np.array([self.encoding.snap(self.encoding.encode(o.theta)) for o in self.observations])
        y = self.objectives()
        models = []
        for column in range(2):
            model = SghmcBnn(self.encoding.dims, seed=self.seed * 7919 + self.proposed * 2 + column)
            model.fit(x, y[:, column])
            models.append(model)
        low, span = y.min(axis=0), np.where(np.ptp(y, axis=0) > 0, np.ptp(y, axis=0), 1.0)
        low_t, span_t = torch.tensor(low, dtype=DTYPE), torch.tensor(span, dtype=DTYPE)
        centers = [torch.tensor(b, dtype=DTYPE) for b in busy]
        chosen: list[np.ndarray] = []
        train_x = torch.tensor(x, dtype=DTYPE)
        for _ in range(n):
            weight = float(rng.random())
            lam = torch.tensor([weight, 1 - weight], dtype=DTYPE)

            def scalarised(points: Tensor, lam: Tensor = lam) -> Tensor:
                """Scalarised value per weight sample: samples × n."""
                samples = torch.stack([m.posterior(points).means for m in models], dim=-1)
                scaled = (samples - low_t) / span_t
                value: Tensor = (scaled * lam).min(-1).values + CHEBYSHEV_AUGMENTATION * (scaled * lam).sum(-1)
                return value

            observed = scalarised(train_x).mean(0)
            best = float(observed.max())

            def mean(points: Tensor) -> Tensor:
                return scalarised(points).mean(0)

            lipschitz = estimate_lipschitz(
                mean, self.encoding.dims, train_x, seed=self.seed + self.proposed, samples=256, starts=0
            )
            raw = torch.from_numpy(rng.random((self.raw_samples, self.encoding.dims)))
            with torch.no_grad():
                values = scalarised(raw)
                improvement = (values - best).clamp_min(0).mean(0)
                score = (improvement + 1e-12).log()
                if centers:
                    stacked = torch.stack(centers)
                    at_centers = scalarised(stacked)
                    radii = penalty_radii(at_centers.mean(0), at_centers.std(0), best, lipschitz)
                    score = score + log_hard_penalty(raw, stacked, radii)
            order = score.argsort(descending=True)
            picked = take_unique(self.encoding, raw[order].numpy(), taken, 1)
            if not picked:
                break
            chosen += picked
            centers.append(torch.tensor(picked[0], dtype=DTYPE))
        return chosen

    def state(self) -> dict[str, Any]:
        return {
            **super().state(),
            "initial_points": self.initial_points,
            "raw_samples": self.raw_samples,
            "surrogate": self.surrogate,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        super().restore(state)
        self.initial_points, self.raw_samples = state["initial_points"], state["raw_samples"]
        self.surrogate = state.get("surrogate", "bnn")  # states saved before the GP surrogate existed
        self._check_settings()


def choose_starts(acquisition: Any, dims: int, rng: np.random.Generator) -> Tensor:
    """NEHVI_RESTARTS starting points for L-BFGS-B, chosen as BoTorch's `gen_batch_initial_conditions` does
    (Boltzmann sampling, η = 1, over the standardised acquisition at NEHVI_RAW_SAMPLES scrambled Sobol points,
    the best point always included), with every draw from `rng`: BoTorch's own draws its Boltzmann sample
    from torch's process-wide generator.

    Args:
        acquisition: A q = 1 BoTorch acquisition function; maps `b x 1 x d` points to `b` values.
        dims: The number of input dimensions `d` (an int).
        rng: The proposer's generator.

    Returns:
        A `NEHVI_RESTARTS x 1 x d` float64 tensor of starting points in the unit box.
    """
    raw = torch.from_numpy(qmc.Sobol(dims, scramble=True, seed=rng).random(NEHVI_RAW_SAMPLES)).unsqueeze(1)
    with torch.no_grad():
        values = torch.cat([acquisition(chunk) for chunk in torch.split(raw, 128)]).numpy()
    finite = np.isfinite(values)
    spread = float(values[finite].std()) if finite.sum() > 1 else 0.0
    scores = (
        np.where(finite, (values - values[finite].max()) / spread, -np.inf) if spread > 0 else np.zeros(len(values))
    )
    weights = np.exp(scores) + 1e-12  # every point keeps a chance: a start is a start
    best = int(np.argmax(np.where(finite, values, -np.inf)))
    weights[best] = 0.0
    others = rng.choice(len(raw), size=NEHVI_RESTARTS - 1, replace=False, p=weights / weights.sum())
    return raw[np.concatenate([[best], others])]


def prune_dominated_in_every_sample(model: Any, x: Tensor, reference: Tensor, seed: int) -> Tensor:
    """The points of `x` that are Pareto-optimal (and beyond the reference point) in at least one of
    2048 joint posterior samples: BoTorch's `prune_inferior_points_multi_objective`, with the sampler
    seeded here instead of from torch's process-wide generator.

    Args:
        model: A fitted two-output model (a ModelListGP) on `x`.
        x: `n x d` observed inputs.
        reference: The `2`-dim reference point (maximised objectives).
        seed: The seed of the Sobol normal sampler (an int).

    Returns:
        The `n' x d` kept rows of `x`, in their order (all of them if none would be kept).
    """
    from botorch.sampling.normal import SobolQMCNormalSampler
    from botorch.utils.multi_objective.pareto import is_non_dominated

    with torch.no_grad():
        posterior = model.posterior(x)
        samples = SobolQMCNormalSampler(sample_shape=torch.Size([PRUNE_SAMPLES]), seed=seed)(posterior)
    optimal = is_non_dominated(samples, deduplicate=False) & (samples > reference).all(dim=-1)
    keep = optimal.any(dim=0)
    return x[keep] if bool(keep.any()) else x
