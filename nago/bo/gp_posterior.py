"""A fast, exact posterior of a fitted BoTorch SingleTaskGP with an RBF kernel.

Penalised acquisitions are evaluated thousands of times per batch; going through GPyTorch costs
about 5 ms a call, mostly overhead. With the training Cholesky factor cached, the posterior mean
and standard deviation are a few matrix products (tests check they equal `model.posterior`).
Two forms share that cache: a torch one (differentiable by autograd, for the Lipschitz estimate)
and a NumPy one with analytic gradients, for the acquisition optimiser, where autograd's
per-call overhead was most of the proposal time. Models with another kernel fall back to
`model.posterior` (and autograd for the gradients).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.linalg import solve_triangular
from torch import Tensor

MeanStd = Callable[[Tensor], tuple[Tensor, Tensor]]
MeanStdGradients = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
MIN_VARIANCE = 1e-18


@dataclass(frozen=True)
class RbfCache:
    """What the posterior of a constant-mean RBF GP needs, in standardised units: the training
    inputs divided by the lengthscales, the Cholesky factor of K + σ²I, α = (K + σ²I)⁻¹(y − c)."""

    lengthscale: Tensor
    scaled: Tensor
    cholesky: Tensor
    alpha: Tensor
    constant: Tensor
    mean: Tensor
    stdv: Tensor


def cache_rbf_posterior(model: Any) -> RbfCache | None:
    """The cached factors of `model`, or None when it is not a constant-mean RBF GP without an
    input transform (then only `model.posterior` is exact).

    Args:
        model: A fitted BoTorch SingleTaskGP with one output and a `Standardize` outcome transform.

    Returns:
        The `RbfCache` for its `N` training points in `d` dimensions: a `d`-dim (or `1`-dim) lengthscale,
        `N x d` scaled inputs, the `N x N` Cholesky factor, `N`-dim α and scalar constant, mean and
        standard deviation; or None.
    """
    from gpytorch.kernels import RBFKernel
    from gpytorch.means import ConstantMean

    if not isinstance(model.covar_module, RBFKernel) or not isinstance(model.mean_module, ConstantMean):
        return None
    if getattr(model, "input_transform", None) is not None:
        return None
    with torch.no_grad():
        train_x = model.train_inputs[0].detach()
        train_y = model.train_targets.detach()  # standardised targets
        lengthscale = model.covar_module.lengthscale.detach().reshape(-1)
        constant = model.mean_module.constant.detach().reshape(())
        noise = model.likelihood.noise.detach().reshape(-1)
        scaled = train_x / lengthscale
        gram = torch.exp(-0.5 * torch.cdist(scaled, scaled).pow(2))
        gram = gram + torch.diag(noise.expand(len(train_x)))
        cholesky = torch.linalg.cholesky(gram)
        alpha = torch.cholesky_solve((train_y - constant).unsqueeze(-1), cholesky).squeeze(-1)
        transform = model.outcome_transform
        return RbfCache(
            lengthscale, scaled, cholesky, alpha, constant, transform.means.reshape(()), transform.stdvs.reshape(())
        )


def _slow(model: Any) -> MeanStd:
    def mean_std(x: Tensor) -> tuple[Tensor, Tensor]:
        posterior = model.posterior(x)
        return posterior.mean.squeeze(-1), posterior.variance.clamp_min(MIN_VARIANCE).sqrt().squeeze(-1)

    return mean_std


def build_posterior(model: Any) -> tuple[MeanStd, MeanStdGradients]:
    """Both forms of the posterior of `model` from one cached Cholesky factor, for x of shape (n, d)
    in the objective's units: μ and σ as torch tensors (differentiable), and μ, σ, ∇μ, ∇σ as NumPy
    arrays.

    Args:
        model: A fitted BoTorch SingleTaskGP (any kernel; the cached form needs a constant-mean RBF one).

    Returns:
        A pair of callables: `mean_std` maps an `n x d` tensor to the `n`-dim tensors μ and σ, and
        `gradients` maps an `n x d` array to the `n`-dim arrays μ and σ and the `n x d` arrays ∇μ and ∇σ.
    """
    cache = cache_rbf_posterior(model)
    if cache is None:
        slow = _slow(model)
        return slow, _autograd_gradients(slow)
    return _cached_mean_std(cache), _cached_gradients(cache)


def _cached_mean_std(c: RbfCache) -> MeanStd:
    """μ(x) and σ(x) in the objective's units for x of shape (n, d), as torch tensors."""

    def mean_std(x: Tensor) -> tuple[Tensor, Tensor]:
        # squared distances written out: cdist's gradient is undefined at zero distance (at the data)
        cross = torch.exp(-0.5 * ((x / c.lengthscale).unsqueeze(-2) - c.scaled).pow(2).sum(-1))  # n × N
        mu = c.constant + cross @ c.alpha
        v = torch.linalg.solve_triangular(c.cholesky, cross.T, upper=False)
        variance = (1.0 - v.pow(2).sum(0)).clamp_min(MIN_VARIANCE)
        return mu * c.stdv + c.mean, variance.sqrt() * c.stdv

    return mean_std


def _autograd_gradients(mean_std: MeanStd) -> MeanStdGradients:
    """μ, σ and their gradients by autograd: points are independent, so the gradient of Σμ is
    each point's ∇μ."""

    def gradients(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        points = torch.from_numpy(x).to(torch.float64).requires_grad_(True)
        mu, sigma = mean_std(points)
        (grad_mu,) = torch.autograd.grad(mu.sum(), points, retain_graph=True)
        (grad_sigma,) = torch.autograd.grad(sigma.sum(), points)
        return mu.detach().numpy(), sigma.detach().numpy(), grad_mu.numpy(), grad_sigma.numpy()

    return gradients


def _cached_gradients(cache: RbfCache) -> MeanStdGradients:
    """With u = x / ℓ, k_j = exp(−‖u − s_j‖² / 2) and w = (K + σ²I)⁻¹ k:
    ∇μ = −Σ_j α_j k_j (u − s_j) / ℓ and ∇σ² = 2 Σ_j w_j k_j (u − s_j) / ℓ (0 where σ² is floored)."""
    lengthscale, scaled = cache.lengthscale.numpy(), cache.scaled.numpy()
    cholesky, alpha = cache.cholesky.numpy(), cache.alpha.numpy()
    constant, mean, stdv = float(cache.constant), float(cache.mean), float(cache.stdv)

    def gradients(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        u = x / lengthscale
        cross = np.exp(-0.5 * ((u[:, None, :] - scaled) ** 2).sum(-1))  # n × N
        weighted = cross * alpha
        mu = constant + weighted.sum(1)
        grad_mu = -(weighted.sum(1)[:, None] * u - weighted @ scaled) / lengthscale
        v = solve_triangular(cholesky, cross.T, lower=True, check_finite=False)  # N × n
        w = solve_triangular(cholesky, v, lower=True, trans="T", check_finite=False)
        raw_variance = 1.0 - (v**2).sum(0)
        floored = raw_variance <= MIN_VARIANCE
        sd = np.sqrt(np.where(floored, MIN_VARIANCE, raw_variance))
        q = cross * w.T
        grad_variance = 2.0 * (q.sum(1)[:, None] * u - q @ scaled) / lengthscale
        grad_sd = np.where(floored[:, None], 0.0, grad_variance / (2.0 * sd[:, None]))
        return mu * stdv + mean, sd * stdv, grad_mu * stdv, grad_sd * stdv

    return gradients


def log_expected_improvement(mu: Tensor, sigma: Tensor, best: float) -> Tensor:
    """log EI for maximisation, computed stably (Ament et al. 2023, via BoTorch's helper).

    Args:
        mu: `n`-dim posterior means, in the objective's units.
        sigma: `n`-dim posterior standard deviations (positive).
        best: The incumbent M, the best observed value (a scalar).

    Returns:
        An `n`-dim tensor of log EI values.
    """
    from botorch.acquisition.analytic import _log_ei_helper

    value: Tensor = _log_ei_helper((mu - best) / sigma) + sigma.log()
    return value
