"""The smoothed-payoff base (no pricing formula) and the smoothed positive part.

Oracles: numerical integration of the Gaussian expectation, the models' own diffusion
coefficients written out, and the heat equation the smoothing solves at the strike."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from simulators import Leg, NettingSet
from simulators.xva import XVA
from training.pinn import BlackScholesPDE, HestonPDE, PINNConfig, TwoAssetPDE
from training.pinn.network import PINNModel
from training.pinn.problems import ParametricPDE
from training.pinn.smoothed import local_variance_rate, smooth_positive_part, smoothed_payoff
from training.pinn.tabulated import autograd_table

F64 = torch.float64
XVA_ = XVA(lambda_b=0.02, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)
COLLAR = (Leg("call", 110.0), Leg("put", 90.0, -1.0))


def _bs(legs, vol=0.25):
    return BlackScholesPDE(strike=100.0, maturity=1.0, vol=vol, rate=0.03,
                           netting=NettingSet(legs, 1.0), xva=XVA_)


def _two(legs):
    return TwoAssetPDE(strike=100.0, maturity=0.5, vols=(0.25, 0.35), rate=0.03, rho=0.5,
                       netting=NettingSet(legs, 0.5), xva=XVA_)


def _heston(legs):
    return HestonPDE(strike=100.0, maturity=1.0, kappa=1.5, theta=0.04, xi=0.3, rho=-0.9,
                     rate=0.025, netting=NettingSet(legs, 1.0), xva=XVA_)


def test_smooth_positive_part_is_the_gaussian_expectation():
    for b, w in ((0.3, 0.2), (-0.1, 0.05), (0.0, 1.0), (2.0, 0.5), (-1.0, 0.7)):
        want, _ = integrate.quad(lambda z, b=b, w=w: max(b + w * z, 0.0) * stats.norm.pdf(z),
                                 -12, 12, points=[-b / w], epsabs=1e-13)
        got = float(smooth_positive_part(torch.tensor(b, dtype=F64), torch.tensor(w, dtype=F64)))
        assert got == pytest.approx(want, rel=1e-10, abs=1e-13)
    b = torch.linspace(-1, 1, 9, dtype=F64)
    assert torch.allclose(smooth_positive_part(b, torch.tensor(1e-9, dtype=F64)),
                          b.clamp(min=0.0), atol=1e-9)


def test_local_variance_rates_are_the_models_diffusion_coefficients():
    s = torch.tensor([[50.0], [100.0], [250.0]], dtype=F64)
    e0 = torch.tensor([1.0], dtype=F64)
    assert torch.allclose(local_variance_rate(_bs(COLLAR), e0, s), 0.25**2 * s[:, 0] ** 2)
    sv = torch.tensor([[80.0, 0.04], [120.0, 0.3]], dtype=F64)
    assert torch.allclose(local_variance_rate(_heston(COLLAR), torch.tensor([1.0, 0.0], dtype=F64),
                                              sv), sv[:, 1] * sv[:, 0] ** 2)
    x = torch.tensor([[80.0, 120.0], [100.0, 100.0]], dtype=F64)
    w = torch.tensor([0.5, 0.5], dtype=F64)
    a1, a2 = 0.25 * x[:, 0], 0.35 * x[:, 1]
    want = 0.25 * (a1**2 + a2**2 + 2 * 0.5 * a1 * a2)
    basket = (Leg("forward", 100.0, 1.0, "basket", (0.5, 0.5)),)
    assert torch.allclose(local_variance_rate(_two(basket), w, x), want)


@pytest.mark.parametrize("problem", [
    _bs(COLLAR), _bs((Leg("forward", 100.0),)), _heston(COLLAR),
    _two((Leg("call", 100.0, 1.0, "worst_of"), Leg("put", 100.0, -1.0, "basket", (0.5, 0.5)))),
], ids=["bs_collar", "bs_forward", "heston_collar", "worst_call_basket_put"])
def test_it_is_the_payoff_at_maturity(problem):
    rng = np.random.default_rng(1)
    lo, hi = np.array(problem.lower), np.array(problem.upper)
    x = torch.as_tensor(lo + rng.random((200, problem.dim)) * (hi - lo), dtype=F64)
    x[:3, 0] = torch.tensor([90.0, 100.0, 110.0], dtype=F64)  # on the kinks
    b = smoothed_payoff(problem, torch.zeros(200, dtype=F64), x)
    assert torch.allclose(b, problem.payoff(x), atol=1e-6 * problem.strike, rtol=0.0)


def test_a_black_scholes_call_is_the_normal_expectation_that_solves_the_heat_equation():
    p = _bs((Leg("call", 110.0),))
    s = np.array([70.0, 100.0, 110.0, 130.0])
    tau = np.array([0.2, 0.5, 1.0, 0.7])
    b = smoothed_payoff(p, torch.as_tensor(tau, dtype=F64), torch.as_tensor(s[:, None]))
    for i in range(len(s)):
        eta = 110.0 * 0.25 * np.sqrt(tau[i])
        want, _ = integrate.quad(lambda z, i=i, eta=eta: max(s[i] - 110.0 + eta * z, 0.0)
                                 * stats.norm.pdf(z), -12, 12, epsabs=1e-12)
        assert float(b[i]) == pytest.approx(want, rel=1e-9)
    # B_tau = (sigma K)^2 / 2 B_SS: the generator's diffusion frozen at the strike
    d = autograd_table(lambda t, y: smoothed_payoff(p, t, y), torch.as_tensor(tau, dtype=F64),
                       torch.as_tensor(s[:, None], dtype=F64))
    assert torch.allclose(d.tau, 0.5 * (0.25 * 110.0) ** 2 * d.hess[:, 0, 0], rtol=1e-9)


def test_legs_on_the_minimum_enter_unsmoothed():
    p = _two((Leg("call", 100.0, 1.0, "worst_of"),))
    x = torch.tensor([[90.0, 120.0], [105.0, 130.0], [100.0, 100.0]], dtype=F64)
    b = smoothed_payoff(p, torch.full((3,), 0.5, dtype=F64), x)
    assert torch.equal(b, p.payoff(x))


MIXED = (Leg("put", 100.0, 1.0, "worst_of"), Leg("call", 100.0, -1.0, "basket", (0.5, 0.5)))


@pytest.mark.parametrize("problem", [
    _bs(COLLAR), _heston(COLLAR), _two(MIXED),
    ParametricPDE(problem=_two(MIXED), parameters={"vol_1": (0.2, 0.3), "rho": (0.3, 0.6)}),
], ids=["bs", "heston", "two_asset", "parametric_two_asset"])
def test_the_trial_value_is_the_payoff_at_maturity_and_finite(problem):
    """The model with the smoothed-payoff base: exactly the (smoothed) payoff at tau = 0, with
    the parameter columns of a parametric problem left out of the legs' aggregates."""
    torch.manual_seed(0)
    model = PINNModel(problem, 8, 2, "base", "smoothed_payoff")
    assert model.mlp.net[-1].out_features == 3  # two signs: the sign feature is on
    lo = torch.tensor(problem.input_lower, dtype=F64)
    hi = torch.tensor(problem.input_upper, dtype=F64)
    x = lo + torch.rand(64, len(lo), dtype=F64) * (hi - lo)
    for tau in (0.0, 0.5 * problem.maturity):
        z = torch.column_stack([torch.full((64,), tau, dtype=F64), x])
        u = model(z).detach()
        assert bool(torch.isfinite(u).all())
        if tau == 0.0:
            want = problem.payoff(x) / problem.value_scale
            assert torch.allclose(u, want, atol=1e-6, rtol=0.0)


def test_problems_without_a_netting_set_refuse_the_smoothed_payoff():
    from training.pinn import BasketPDE

    p = BasketPDE(strike=100.0, maturity=0.5, vols=(0.25, 0.35), rate=0.03, rho=0.5,
                  kind="put")
    with pytest.raises(ValueError, match="must not be 'smoothed_payoff' for BasketPDE"):
        PINNModel(p, 8, 2, "base", "smoothed_payoff")


def test_the_option_round_trips_through_the_config():
    cfg = PINNConfig.best(base="smoothed_payoff")
    assert cfg.to_dict()["base_function"] == "smoothed_payoff"
    assert PINNConfig.from_dict(cfg.to_dict()) == cfg


def test_a_base_that_does_not_depend_on_tau_is_tabulated():
    """A forward has no kink to smooth: B = S - K for every tau, and its table has dB/dtau = 0."""
    from training.pinn.smoothed import SmoothedPayoff

    p = _bs((Leg("forward", 100.0),))
    tau = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    x = torch.tensor([[80.0], [100.0], [130.0]], dtype=F64)
    d = SmoothedPayoff(p).base_derivatives(tau, x)
    assert torch.equal(d.value, x[:, 0] - 100.0)
    assert torch.equal(d.tau, torch.zeros(3, dtype=F64))
    assert torch.equal(d.grad[:, 0], torch.ones(3, dtype=F64))
    assert torch.equal(d.hess, torch.zeros(3, 1, 1, dtype=F64))
