"""log expected improvement and its gradient in NumPy, stable far into the tail (Ament et al. 2023).

EI(x) = σ h(z) with z = (μ − M) / σ and h(z) = φ(z) + zΦ(z), so log EI = log h(z) + log σ and
∇ log EI = (Φ(z) / h(z)) ∇z + ∇σ / σ, ∇z = (∇μ − z∇σ) / σ. For z ≤ −1, h(z) = φ(z)(1 + z R(z))
with the Mills ratio R(z) = Φ(z) / φ(z) = √(π/2) erfcx(−z/√2), which stays accurate where φ and Φ
underflow; below −10⁶ only the leading term of log(1 + zR) ≈ −2 log|z| is kept.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx, ndtr

LOWER_BRANCH = -1.0
ASYMPTOTIC_BRANCH = -1e6
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
SQRT_HALF_PI = math.sqrt(math.pi / 2)


def compute_log_h(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log h(z) and d log h / dz = Φ(z) / h(z), elementwise.

    Args:
        z: `n`-dim standardised improvements (μ − M) / σ (any shape works: elementwise).

    Returns:
        A pair of arrays shaped like `z` (`n`-dim): log h(z) and its slope Φ(z) / h(z).
    """
    upper = np.maximum(z, LOWER_BRANCH)  # each branch sees only inputs where it is accurate
    cdf = ndtr(upper)
    h = np.exp(-0.5 * upper**2 - LOG_SQRT_2PI) + upper * cdf
    middle = np.clip(z, ASYMPTOTIC_BRANCH, LOWER_BRANCH)
    mills = SQRT_HALF_PI * erfcx(-middle / math.sqrt(2))
    rest = 1.0 + middle * mills
    tail = np.minimum(z, ASYMPTOTIC_BRANCH)
    log_phi = -0.5 * z**2 - LOG_SQRT_2PI
    lower_value = log_phi + np.where(z > ASYMPTOTIC_BRANCH, np.log(rest), -2.0 * np.log(-tail))
    lower_slope = np.where(z > ASYMPTOTIC_BRANCH, mills / rest, -tail - 2.0 / tail)
    above = z > LOWER_BRANCH
    return np.where(above, np.log(h), lower_value), np.where(above, cdf / h, lower_slope)


def compute_log_ei_and_gradient(
    mu: np.ndarray, sigma: np.ndarray, grad_mu: np.ndarray, grad_sigma: np.ndarray, best: float
) -> tuple[np.ndarray, np.ndarray]:
    """log EI over the incumbent `best` (maximisation) for n points, and its gradient (n × d).

    Args:
        mu: `n`-dim posterior means.
        sigma: `n`-dim posterior standard deviations (positive).
        grad_mu: `n x d` gradients of the means.
        grad_sigma: `n x d` gradients of the standard deviations.
        best: The incumbent M, the best observed value (a scalar).

    Returns:
        A pair: the `n`-dim log EI values and their `n x d` gradients.
    """
    z = (mu - best) / sigma
    log_h, slope = compute_log_h(z)
    grad_z = (grad_mu - z[:, None] * grad_sigma) / sigma[:, None]
    return log_h + np.log(sigma), slope[:, None] * grad_z + grad_sigma / sigma[:, None]
