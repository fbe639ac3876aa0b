"""The sign feature of the base trial value of a payoff of both signs.

Oracles: central finite differences of the model for its autograd derivatives, and the PDE
residual of the small-tau limit the feature is there to represent (the smoothed positive part
itself is checked in test_smoothed_payoff.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from simulators import Leg, NettingSet
from simulators.xva import XVA
from training.pinn import BlackScholesPDE
from training.pinn.losses import derivatives, residual
from training.pinn.network import PINNModel

XVA_ = XVA(lambda_b=0.02, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)


def _problem(legs: tuple[Leg, ...]) -> BlackScholesPDE:
    return BlackScholesPDE(strike=100.0, maturity=1.0, vol=0.25, rate=0.03,
                           netting=NettingSet(legs, 1.0), xva=XVA_)


FORWARD = (Leg("forward", 100.0),)
PUT = (Leg("put", 100.0),)


@pytest.mark.parametrize(("legs", "base", "n_out"), [
    (FORWARD, "risk_free", 3), (FORWARD, "split", 3), (PUT, "risk_free", 2), (PUT, "split", 2)])
def test_the_feature_is_used_for_a_two_signed_payoff_with_a_base(legs, base, n_out):
    model = PINNModel(_problem(legs), 8, 2, "base", base)
    assert model.sign_feature is (n_out == 3)
    assert model.mlp.net[-1].out_features == n_out
    assert PINNModel(_problem(legs), 8, 2, "soft").mlp.net[-1].out_features == 1


def _model_with_random_outputs() -> PINNModel:
    torch.manual_seed(3)
    model = PINNModel(_problem(FORWARD), 8, 2, "base", "risk_free")
    with torch.no_grad():
        model.mlp.net[-1].weight.normal_(0.0, 0.3)
        model.mlp.net[-1].bias.normal_(0.0, 0.3)
    return model


def test_autograd_derivatives_through_the_feature_match_finite_differences():
    model = _model_with_random_outputs()
    tau = torch.tensor([0.3, 0.7, 1.0, 0.05], dtype=torch.float64)
    s = torch.tensor([97.0, 103.0, 80.0, 100.5], dtype=torch.float64)
    z = torch.stack([tau, s], dim=1).requires_grad_(True)
    d = derivatives(model, z)

    def u(t, x):
        with torch.no_grad():
            return model(torch.stack([t, x], dim=1))

    ht, hs = 1e-5, 1e-3
    fd_tau = (u(tau + ht, s) - u(tau - ht, s)) / (2 * ht)
    fd_s = (u(tau, s + hs) - u(tau, s - hs)) / (2 * hs)
    fd_ss = (u(tau, s + hs) - 2 * u(tau, s) + u(tau, s - hs)) / hs**2
    assert torch.allclose(d.tau.detach(), fd_tau, rtol=1e-6, atol=1e-9)
    assert torch.allclose(d.grad[:, 0].detach(), fd_s, rtol=1e-6, atol=1e-10)
    assert torch.allclose(d.hess[:, 0, 0].detach(), fd_ss, rtol=1e-3, atol=1e-7)


def test_constant_outputs_solve_the_pde_near_maturity_with_the_feature_only():
    """For small tau, V - B is about -tau f(B) = -tau (a B + (b - a) B^+): the constant outputs
    (N_a, N_b, N_c) = (-a T, 0, -(b - a) T) make the residual vanish as tau -> 0, while without
    the feature the best such constants leave a residual of order (b - a) B^+."""
    p = _problem(FORWARD)
    a, b = XVA_.spread_negative, XVA_.spread_positive
    model = PINNModel(p, 4, 1, "base", "risk_free")
    s = torch.linspace(60.0, 140.0, 81, dtype=torch.float64)
    z = torch.stack([torch.full_like(s, 1e-6), s], dim=1)

    def max_residual(bias: tuple[float, float, float]) -> float:
        with torch.no_grad():
            model.mlp.net[-1].weight.zero_()
            model.mlp.net[-1].bias.copy_(torch.tensor(bias, dtype=torch.float64))
        return float(residual(p, model, z).detach().abs().max())

    t = p.maturity
    with_feature = max_residual((-a * t, 0.0, -(b - a) * t))
    without = min(max_residual((-c * t, 0.0, 0.0)) for c in np.linspace(a, b, 11))
    assert without > 1e-3  # (b - a) max(B, 0) / K over the spots, with the best constant
    assert with_feature < 1e-3 * without
    assert math.isfinite(with_feature)
