"""MOBO: validation accuracy against memory per image, with BNN surrogates (appendix C.2).

Objectives, both maximised: accuracy and −log(memory per image). One SGHMC BNN per objective
(`nago.bo.bnn`). Acquisition: random augmented-Chebyshev scalarisations (ParEGO-style, one fresh
weight vector λ per batch point): objectives are scaled to [0, 1] by the observed ranges,
s(y) = min_i λ_i y_i + 0.05 Σ_i λ_i y_i, and each candidate scores the Monte Carlo expected
improvement of s over the best observed s, over the BNN's 100 weight samples. Batches are chosen by
hard local penalisation on the scalarised posterior (`nago.bo.penalisation`), busy points
included. Earlier results (the appendix starts from 50 BOHB points) are simply told first.
`pareto_set()` returns the non-dominated observed configurations.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nago.bo.bnn import SghmcBnn
from nago.bo.pareto import pareto_mask
from nago.bo.penalisation import estimate_lipschitz, log_hard_penalty, penalty_radii
from nago.bo.proposer import BaseProposer, Observation, Outcome, check_at_least, space_filling, take_unique
from nago.errors import InvalidInputError
from nago.generator.spaces import SearchSpace

CHEBYSHEV_AUGMENTATION = 0.05
DTYPE = torch.float64


class MoboProposer(BaseProposer):
    """ask(n, pending) → proposals; tell(outcome) with accuracy and memory; pareto_set(); state()/restore()."""

    kind = "mobo"

    def __init__(self, space: SearchSpace, seed: int, initial_points: int | None = None, raw_samples: int = 2000):
        super().__init__(space, seed)
        self.initial_points = initial_points if initial_points is not None else self.encoding.dims + 1
        self.raw_samples = raw_samples
        self._check_settings()

    def _check_settings(self) -> None:
        check_at_least("initial_points", self.initial_points, 1)
        check_at_least("raw_samples", self.raw_samples, 1)

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
        return self._scalarised_batch(n, busy, taken, rng)

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
        return {**super().state(), "initial_points": self.initial_points, "raw_samples": self.raw_samples}

    def restore(self, state: Mapping[str, Any]) -> None:
        super().restore(state)
        self.initial_points, self.raw_samples = state["initial_points"], state["raw_samples"]
        self._check_settings()
