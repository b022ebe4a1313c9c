"""Hard local penalisation (appendix D; Alvi et al. 2019).

φ(x | x_j) = min{ L‖x − x_j‖ / (|μ(x_j) − M| + σ(x_j)), 1 }: a cone that is 0 at x_j and reaches 1
at the radius r_j = (|μ(x_j) − M| + σ(x_j)) / L. Each factor is clipped at 1 before the product,
so a far point cannot cancel the exclusion zone of a near one (the product-then-clip of the
reference code is a bug, docs/design.md §6.1). We use the exact min, as the appendix writes it: φ is 1
beyond the radius, not 0.994. Distances are in whatever coordinates the caller passes (GP-LP: the
unit box divided by the kernel's lengthscales); L must be the gradient bound in those coordinates,
and L, μ and σ share the objective's scale.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.optimize import minimize
from scipy.stats import qmc
from torch import Tensor

MIN_RADIUS = 1e-6
MIN_DISTANCE = 1e-12
FALLBACK_LIPSCHITZ = 10.0  # when the mean is flat (docs/design.md §6.3)


def penalty_radii(mu: Tensor, sigma: Tensor, best: float, lipschitz: float) -> Tensor:
    """r_j = (|μ(x_j) − M| + σ(x_j)) / L, floored so a radius is never zero (appendix D).

    Args:
        mu: `J`-dim posterior means at the centres x_j.
        sigma: `J`-dim posterior standard deviations at the centres.
        best: The incumbent M (a scalar).
        lipschitz: The Lipschitz constant L of the mean, in the penalty's metric (a scalar).

    Returns:
        A `J`-dim tensor of radii r_j, each at least 1e-6.
    """
    radii: Tensor = ((mu - best).abs() + sigma).div(lipschitz).clamp_min(MIN_RADIUS)
    return radii


def log_hard_penalty(x: Tensor, centers: Tensor, radii: Tensor) -> Tensor:
    """Σ_j log min{‖x − x_j‖ / r_j, 1} for x of shape (..., d); 0 where nothing penalises.

    Args:
        x: `batch_shape x d` points.
        centers: `J x d` penalised centres x_j (`J` may be 0).
        radii: `J`-dim radii r_j.

    Returns:
        A `batch_shape`-dim tensor of log penalties (at most 0).
    """
    if centers.numel() == 0:
        return torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
    distance = (x.unsqueeze(-2) - centers).norm(dim=-1).clamp_min(MIN_DISTANCE)
    total: Tensor = (distance / radii).log().clamp_max(0.0).sum(dim=-1)
    return total


def hard_penalty(x: Tensor, centers: Tensor, radii: Tensor) -> Tensor:
    """Π_j min{‖x − x_j‖ / r_j, 1}, exactly 0 at a centre.

    Args:
        x: `batch_shape x d` points.
        centers: `J x d` penalised centres x_j (`J` may be 0).
        radii: `J`-dim radii r_j.

    Returns:
        A `batch_shape`-dim tensor of penalties in [0, 1].
    """
    if centers.numel() == 0:
        return torch.ones(x.shape[:-1], dtype=x.dtype, device=x.device)
    distance = (x.unsqueeze(-2) - centers).norm(dim=-1)
    product: Tensor = (distance / radii).clamp_max(1.0).prod(dim=-1)
    return product


def _gradient_norms(mean: Callable[[Tensor], Tensor], x: Tensor, scale: Tensor) -> Tensor:
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(mean(x).sum(), x)
    norms: Tensor = (grad * scale).norm(dim=-1)
    return norms


def estimate_lipschitz(
    mean: Callable[[Tensor], Tensor],
    dims: int,
    train_x: Tensor,
    seed: int,
    samples: int = 1024,
    starts: int = 3,
    scale: Tensor | None = None,
) -> float:
    """L = max ‖∇μ‖ over Sobol points and the data, refined by L-BFGS-B from the best `starts`
    (docs/design.md §6.3); 10 when the mean is flat.

    With `scale` s, distances are measured on x / s, so the gradient there is s ⊙ ∇μ and L is its
    largest norm: the Lipschitz constant in the metric the penalty uses.

    Args:
        mean: The posterior mean μ: maps `n x d` points to an `n`-dim tensor, differentiably.
        dims: The number of input dimensions `d` (an int).
        train_x: `N x d` training inputs, also candidates; their dtype and device are used throughout.
        seed: The seed of the scrambled Sobol points (an int).
        samples: The number of Sobol points (an int).
        starts: The number of L-BFGS-B refinements, from the largest gradients (an int; 0 for none).
        scale: The `d`-dim metric scale s; None for ones.

    Returns:
        L, the largest gradient norm found (a scalar), or 10 when it is below 1e-7.
    """
    scale = torch.ones(dims, dtype=train_x.dtype) if scale is None else scale.to(train_x)
    sobol = torch.from_numpy(qmc.Sobol(dims, scramble=True, seed=seed).random(samples)).to(train_x)
    candidates = torch.cat([sobol, train_x])
    norms = _gradient_norms(mean, candidates, scale)
    best = float(norms.max())
    for start in candidates[norms.argsort(descending=True)[:starts]]:

        def negative_norm(z: np.ndarray) -> tuple[float, np.ndarray]:
            point = torch.from_numpy(z).to(train_x).unsqueeze(0).requires_grad_(True)
            (grad,) = torch.autograd.grad(mean(point).sum(), point, create_graph=True)
            value = -(grad * scale).norm()
            (outer,) = torch.autograd.grad(value, point)
            return float(value.detach()), outer.squeeze(0).detach().cpu().numpy().astype(float)

        result = minimize(
            negative_norm, start.detach().cpu().numpy(), jac=True, method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * dims, options={"maxiter": 200},
        )  # fmt: skip
        if np.isfinite(result.fun):
            best = max(best, -float(result.fun))
    return best if best > 1e-7 else FALLBACK_LIPSCHITZ


def compute_log_hard_penalty_and_gradient(
    x: np.ndarray, centers: np.ndarray, radii: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`log_hard_penalty` in NumPy for x of shape (n, d), with its gradient: each factor still
    inside its ball adds (x − x_j) / ‖x − x_j‖², the gradient of log ‖x − x_j‖.

    Args:
        x: `n x d` points.
        centers: `J x d` penalised centres x_j (`J` may be 0).
        radii: `J`-dim radii r_j.

    Returns:
        A pair: the `n`-dim log penalties and their `n x d` gradients with respect to `x`.
    """
    if centers.size == 0:
        return np.zeros(len(x)), np.zeros_like(x)
    offsets = x[:, None, :] - centers  # n × J × d
    distance = np.maximum(np.sqrt((offsets**2).sum(-1)), MIN_DISTANCE)
    ratio = distance / radii
    inside = ratio < 1.0
    values = np.where(inside, np.log(np.where(inside, ratio, 1.0)), 0.0).sum(-1)
    weights = np.where(inside & (distance > MIN_DISTANCE), 1.0 / distance**2, 0.0)
    return values, (weights[..., None] * offsets).sum(1)


LOCAL_SAMPLES = 256  # points per ball where the local Lipschitz constant is looked for
LOCAL_BISECTIONS = 20


def compute_local_radii(
    mean_gradient: Callable[[np.ndarray], np.ndarray],
    centers: np.ndarray,
    gaps: np.ndarray,
    scale: np.ndarray,
    lipschitz: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Radii with each ball's own Lipschitz constant: the largest r with r · L_j(r) ≤ g_j, where
    g_j = |μ(x_j) − M| + σ(x_j) and L_j(r) = max ‖s ⊙ ∇μ‖ over the ball of radius r around x_j (in the metric
    x / s, clipped to the unit box).

    Appendix D's radius g_j / L, L the largest gradient anywhere, is what this gives when the steepest slope
    lies inside the ball. The exclusion argument behind the cone (f cannot climb from μ(x_j) to M within r
    when it rises by at most L_j per unit) needs the bound only inside the ball; a global L taken on a
    steep wall far away shrinks every ball near the incumbent, where slopes are small (docs/bo.md, "Why the
    radii collapsed"). Alvi et al.'s local variant takes the box x_j ± s instead; this takes the ball
    itself, so the radius is consistent with the constant it uses. L_j(r) is the largest gradient found at
    the centre and at LOCAL_SAMPLES points of the ball (half on its surface, half inside), r by bisection
    between g_j / L and the box's diagonal.

    Args:
        mean_gradient: Maps `n x d` unit-box points to the `n x d` gradient of the posterior mean μ.
        centers: `J x d` centres x_j in the unit box.
        gaps: `J`-dim |μ(x_j) − M| + σ(x_j), in μ's scale.
        scale: `d`-dim metric scale s (the GP's lengthscales).
        lipschitz: The global L in the same metric (a scalar); g_j / L is the smallest radius returned.
        rng: Draws the ball's sample points (one set, shared by every centre and bisection step).

    Returns:
        A `J`-dim array of radii in the metric x / s, each at least g_j / L and MIN_RADIUS.
    """
    count, dims = centers.shape
    low = np.maximum(gaps / lipschitz, MIN_RADIUS)
    if count == 0:
        return low
    directions = rng.normal(size=(LOCAL_SAMPLES, dims))
    directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), MIN_DISTANCE)
    depth = np.ones(LOCAL_SAMPLES)
    depth[LOCAL_SAMPLES // 2 :] = rng.random(LOCAL_SAMPLES - LOCAL_SAMPLES // 2) ** (1.0 / dims)
    offsets = np.vstack([np.zeros((1, dims)), directions * depth[:, None]]) * scale  # unit ball → unit box

    def fits(radii: np.ndarray) -> np.ndarray:
        points = np.clip(centers[:, None, :] + radii[:, None, None] * offsets, 0.0, 1.0)
        gradient = mean_gradient(points.reshape(-1, dims)).reshape(count, len(offsets), dims)
        local = np.linalg.norm(gradient * scale, axis=-1).max(axis=1)
        return np.asarray(radii * local <= gaps)

    high = np.full(count, float(np.linalg.norm(1.0 / scale)))
    whole_box = fits(high)
    searching = ~whole_box & (high > low)
    for _ in range(LOCAL_BISECTIONS):
        if not searching.any():
            break
        middle = 0.5 * (low + high)
        ok = fits(middle)
        low = np.where(searching & ok, middle, low)
        high = np.where(searching & ~ok, middle, high)
    radii: np.ndarray = np.maximum(np.where(whole_box, high, low), gaps / lipschitz)
    return radii
