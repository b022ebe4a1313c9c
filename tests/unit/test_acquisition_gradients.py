"""The analytic gradients the acquisition optimiser uses equal autograd and BoTorch's own values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nago.bo import gp_posterior
from nago.bo.gp_lp import LocalPenalisationProposer
from nago.bo.gp_posterior import build_posterior, log_expected_improvement
from nago.bo.log_ei import compute_log_ei_and_gradient, compute_log_h
from nago.bo.penalisation import compute_log_hard_penalty_and_gradient, log_hard_penalty
from nago.bo.proposer import Outcome, list_thetas
from nago.generator.spaces import ParamKind, ParamRange, SearchSpace, SpaceName

CUBE = SearchSpace(
    SpaceName.HNAG,
    tuple(ParamRange(f"x{i}", ParamKind.FLOAT, 0.0, 1.0, 0.0, 1.0, f"coordinate {i}") for i in range(3)),
)


def _fitted_model(kernel: str) -> object:
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.kernels import MaternKernel, ScaleKernel
    from gpytorch.mlls import ExactMarginalLogLikelihood

    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.random((25, 3)))
    y = (torch.sin(6 * x[:, 0]) + x[:, 1] ** 2 - 2 * x[:, 2]).unsqueeze(-1) * 40 + 7  # not standardised
    covar = ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=3)) if kernel == "matern" else None
    model = SingleTaskGP(x, y, covar_module=covar, outcome_transform=Standardize(m=1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    model.eval()
    return model


@pytest.mark.parametrize("z", [-1e8, -2e6, -1e5, -300.0, -38.0, -10.0, -1.5, -1.0, -0.999, 0.0, 0.7, 5.0, 40.0])
def test_log_h_and_its_slope_equal_botorch_and_autograd(z: float) -> None:
    from botorch.acquisition.analytic import _log_ei_helper

    value, slope = compute_log_h(np.array([z]))
    u = torch.tensor([z], dtype=torch.float64, requires_grad=True)
    reference = _log_ei_helper(u)
    (reference_slope,) = torch.autograd.grad(reference.sum(), u)
    reference = reference.detach()
    tolerance = 1e-9 if abs(z) < 50 else 1e-5  # 1 + zR(z) cancels as ε·z² in both
    assert value[0] == pytest.approx(float(reference), rel=tolerance)
    assert slope[0] == pytest.approx(float(reference_slope), rel=tolerance)
    assert np.isfinite(value).all() and np.isfinite(slope).all()


@pytest.mark.parametrize("kernel", ["rbf", "matern"])
def test_mean_std_gradients_equal_the_posterior_and_autograd(kernel: str) -> None:
    model = _fitted_model(kernel)
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.random((40, 3)), model.train_inputs[0][:5].numpy()])  # type: ignore[attr-defined]
    mu, sigma, grad_mu, grad_sigma = build_posterior(model)[1](x)
    posterior = model.posterior(torch.from_numpy(x))  # type: ignore[attr-defined]
    np.testing.assert_allclose(mu, posterior.mean.squeeze(-1).detach().numpy(), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(sigma, posterior.variance.sqrt().squeeze(-1).detach().numpy(), rtol=1e-5)
    points = torch.from_numpy(x).requires_grad_(True)
    mu_t, sigma_t = build_posterior(model)[0](points)
    (reference_mu,) = torch.autograd.grad(mu_t.sum(), points, retain_graph=True)
    (reference_sigma,) = torch.autograd.grad(sigma_t.sum(), points)
    np.testing.assert_allclose(grad_mu, reference_mu.numpy(), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(grad_sigma, reference_sigma.numpy(), rtol=1e-5, atol=1e-7)
    assert np.abs(grad_mu).max() > 1.0  # the function is not flat: the comparison means something


def test_log_ei_gradient_equals_autograd_of_botorch_log_ei() -> None:
    model = _fitted_model("rbf")
    best = float(model.outcome_transform.untransform(model.train_targets.unsqueeze(-1))[0].max())  # type: ignore[attr-defined]
    x = np.random.default_rng(5).random((60, 3))
    values, grads = compute_log_ei_and_gradient(*build_posterior(model)[1](x), best)
    points = torch.from_numpy(x).requires_grad_(True)
    reference = log_expected_improvement(*build_posterior(model)[0](points), best)
    (reference_grad,) = torch.autograd.grad(reference.sum(), points)
    np.testing.assert_allclose(values, reference.detach().numpy(), rtol=1e-7)
    np.testing.assert_allclose(grads, reference_grad.numpy(), rtol=1e-5, atol=1e-8)
    assert values.min() < -5  # some points sit deep in the tail, where plain EI would underflow its gradient


@pytest.mark.parametrize(
    ("point", "inside"),
    [([0.05, 0.0], 1), ([0.15, 0.1], 1), ([0.5, 0.5], 0), ([0.95, 0.95], 1), ([0.1, 0.95], 0)],
)
def test_penalty_gradient_equals_autograd(point: list[float], inside: int) -> None:
    centers = np.array([[0.0, 0.0], [1.0, 1.0], [0.2, 0.2]])
    radii = np.array([0.3, 0.1, 0.15])
    x = np.array([point])
    values, grads = compute_log_hard_penalty_and_gradient(x, centers, radii)
    points = torch.from_numpy(x).requires_grad_(True)
    reference = log_hard_penalty(points, torch.from_numpy(centers), torch.from_numpy(radii))
    (reference_grad,) = torch.autograd.grad(reference.sum(), points)
    np.testing.assert_allclose(values, reference.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grads, reference_grad.numpy(), rtol=1e-10, atol=1e-12)
    assert (values[0] < 0) == bool(inside)


def test_penalty_is_finite_at_a_centre_and_zero_without_centres() -> None:
    values, grads = compute_log_hard_penalty_and_gradient(np.array([[0.2, 0.2]]), np.array([[0.2, 0.2]]), np.ones(1))
    assert np.isfinite(values).all() and values[0] < -20 and np.all(grads == 0)
    values, grads = compute_log_hard_penalty_and_gradient(np.array([[0.2, 0.2]]), np.empty((0, 2)), np.empty(0))
    assert values.tolist() == [0.0] and grads.tolist() == [[0.0, 0.0]]


def test_a_batch_is_chosen_with_the_analytic_gradients_on_a_three_dimensional_cube(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factorisations: list[int] = []
    original = gp_posterior.cache_rbf_posterior

    def counting(model: object) -> object:
        factorisations.append(1)
        return original(model)

    monkeypatch.setattr(gp_posterior, "cache_rbf_posterior", counting)
    proposer = LocalPenalisationProposer(CUBE, seed=2)
    rng = np.random.default_rng(6)
    for _ in range(12):
        theta = {f"x{i}": float(rng.random()) for i in range(3)}
        proposer.tell(Outcome(theta, -sum((theta[f"x{i}"] - 0.4) ** 2 for i in range(3))))
    batch = list_thetas(proposer.ask(4))
    assert len(batch) == 4 and proposer.diagnostics.fallback is None
    assert len({tuple(t.values()) for t in batch}) == 4
    assert len(factorisations) == 1  # one Cholesky per ask serves the torch and the NumPy posterior
