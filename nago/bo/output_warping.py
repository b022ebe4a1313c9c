"""Output warping for the GP: a Yeo-Johnson power transform of the observed values (issue 23; docs/bo.md,
"Output warping").

A GP with standardised outputs and BoTorch's noise floor (a variance of 1e-4 in standardised units) cannot
resolve differences below about 1 % of the observations' standard deviation. On a heavy-tailed objective —
Rosenbrock's values span thousands while the last basins differ by tens; a search's accuracies mix a few
failed trials near chance with good ones a few thousandths apart — that floor hides exactly the differences
the search has to see. A monotone power transform fitted to the values (Yeo-Johnson, λ by maximum
likelihood, as HEBO warps its outputs) compresses the tail and spreads the values near the best, without
changing their order. The GP, M, μ, σ and the Lipschitz constant all live in the warped scale.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

OUTPUT_WARPINGS = ("none", "yeo-johnson")


def warp_outputs(values: np.ndarray, warping: str) -> np.ndarray:
    """The values the GP is fitted on: standardised, then Yeo-Johnson-transformed with λ fitted to them.

    Args:
        values: `n`-dim observed values (larger is better).
        warping: "none" (returned as given) or "yeo-johnson".

    Returns:
        An `n`-dim array in the same order as `values` (the transform is strictly increasing).
    """
    if warping == "none" or len(values) < 3 or float(np.ptp(values)) == 0.0:
        return np.asarray(values, dtype=float)
    standardised = (values - values.mean()) / values.std()
    warped, _ = stats.yeojohnson(standardised)
    return np.asarray(warped, dtype=float)
