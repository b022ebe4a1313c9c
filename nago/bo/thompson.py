"""Thompson sampling: a batch baseline for hard local penalisation (docs/design.md §6.7).

Each batch point maximises one joint draw of the GP posterior over a shared set of random
candidates (standard normal draws through the Cholesky factor of the posterior covariance; the
reference code's uniform draws are a bug we do not repeat). Same GP as `gp-lp`.
"""

from __future__ import annotations

import numpy as np
import torch

from nago.bo.gp_lp import DTYPE, LocalPenalisationProposer

CANDIDATES = 1024


class ThompsonProposer(LocalPenalisationProposer):
    kind = "thompson"

    def _penalised_batch(self, n: int, busy: list[np.ndarray], taken: set[tuple[float, ...]]) -> list[np.ndarray]:
        model = self.fit_model()
        rng = self._rng()
        candidates = torch.from_numpy(rng.random((CANDIDATES, self.encoding.dims))).to(DTYPE)
        with torch.no_grad():
            posterior = model.posterior(candidates)
            mean = posterior.mean.squeeze(-1)
            covariance = posterior.mvn.covariance_matrix
            covariance = 0.5 * (covariance + covariance.T) + 1e-9 * torch.eye(CANDIDATES, dtype=DTYPE)
            factor = torch.linalg.cholesky(covariance)
            normal = torch.from_numpy(rng.standard_normal((CANDIDATES, n))).to(DTYPE)
            draws = mean.unsqueeze(-1) + factor @ normal  # CANDIDATES × n
        chosen: list[np.ndarray] = []
        for column in range(n):
            order = draws[:, column].argsort(descending=True)
            if self._take_unique(candidates[order].numpy(), taken, chosen) is None:
                break
        return chosen
