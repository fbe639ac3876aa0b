"""Black-Scholes simulator: prices and Greeks vs closed forms, adjoint vs bumps and autograd."""

import math

import numpy as np
import pytest
import torch

import simulators as sim
from simulators import rng
from tests.problems import bs_delta, bs_price, bs_rho, bs_vega, within_k_se

N = 400_000


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("antithetic", [False, True])
def test_mean_price_delta_vega_rho_match_closed_form(kind, antithetic):
    spot, strike, tau, vol, r, q = 100.0, 105.0, 0.75, 0.25, 0.03, 0.01
    model = sim.BlackScholes(vol=vol, rate=r, dividend=q, inputs=("spot", "vol", "rate"))
    product = sim.European(strike=strike, maturity=tau, kind=kind)
    s = sim.simulate(model, product, sim.FixedSampler(state=[spot, vol, r]), N, seed=3,
                     antithetic=antithetic)
    price, se = s.price()
    assert within_k_se(price, se, bs_price(spot, strike, tau, vol, r, q, kind))
    g, gse = s.gradient()
    exact = [bs_delta(spot, strike, tau, vol, r, q, kind), bs_vega(spot, strike, tau, vol, r, q),
             bs_rho(spot, strike, tau, vol, r, q, kind)]
    assert within_k_se(g, gse, exact), (g, gse, exact)


def test_price_and_gradient_are_the_sample_mean_and_its_standard_error():
    """``Sample.price()`` / ``gradient()`` against the mean and sd / sqrt(n) written out."""
    model = sim.BlackScholes(vol=0.2, rate=0.01, inputs=("spot", "vol"))
    s = sim.simulate(model, sim.European(strike=1.0, maturity=1.0, kind="call"),
                     sim.FixedSampler(state=[1.0, 0.2]), 1000, seed=2)
    y, g, n = np.asarray(s.y), np.asarray(s.dydx), 1000
    price, se = s.price()
    assert price == pytest.approx(sum(y) / n, rel=1e-12)
    assert se == pytest.approx(math.sqrt(sum((y - sum(y) / n) ** 2) / (n - 1) / n), rel=1e-12)
    mean, gse = s.gradient()
    for j in range(2):
        m = sum(g[:, j]) / n
        assert mean[j] == pytest.approx(m, rel=1e-12)
        assert gse[j] == pytest.approx(math.sqrt(sum((g[:, j] - m) ** 2) / (n - 1) / n),
                                       rel=1e-12)


def test_standard_errors_are_calibrated_over_seeds():
    """Every Monte-Carlo tolerance of the suite is k standard errors of ``Sample.price()``: over
    200 independent seeds the z-scores (estimate - closed form) / se of a call's price and delta
    have mean 0 and standard deviation 1 (within 4 of their own standard errors, 1/sqrt(200)
    and about 1/sqrt(2 * 199)): a standard error off by a third fails."""
    spot, strike, tau, vol, r = 100.0, 100.0, 1.0, 0.2, 0.02
    model = sim.BlackScholes(vol=vol, rate=r)
    product = sim.European(strike=strike, maturity=tau, kind="call")
    zs = []
    for seed in range(200):
        s = sim.simulate(model, product, sim.FixedSampler(state=[spot]), 4096, seed=seed)
        (p, se), (g, gse) = s.price(), s.gradient()
        zs.append([(p - bs_price(spot, strike, tau, vol, r, 0.0, "call")) / se,
                   (g[0] - bs_delta(spot, strike, tau, vol, r, 0.0, "call")) / gse[0]])
    z = np.asarray(zs)
    assert np.all(np.abs(z.mean(axis=0)) < 4 / math.sqrt(200)), z.mean(axis=0)
    assert np.all(np.abs(z.std(axis=0, ddof=1) - 1.0) < 4 / math.sqrt(2 * 199)), z.std(axis=0)


def test_fixed_model_parameters_when_not_inputs():
    model = sim.BlackScholes(vol=0.3, rate=0.02)
    product = sim.European(strike=1.0, maturity=2.0, kind="put")
    s = sim.simulate(model, product, sim.FixedSampler(state=[0.9]), N, seed=1)
    assert s.inputs == ("spot",) and s.dydx.shape == (N, 1)
    price, se = s.price()
    assert within_k_se(price, se, bs_price(0.9, 1.0, 2.0, 0.3, 0.02, 0.0, "put"))


def _bs_torch(s0, sig, r, q, tau, z, strike, kind):
    s_t = s0 * torch.exp((r - q - 0.5 * sig * sig) * tau + sig * math.sqrt(tau) * z)
    h = torch.clamp(s_t - strike, min=0.0) if kind == "call" else torch.clamp(strike - s_t, min=0.0)
    return torch.exp(-r * tau) * h


@pytest.mark.parametrize("kind", ["call", "put"])
def test_adjoint_equals_autograd_path_by_path(kind):
    n, tau, q, strike = 2000, 1.3, 0.02, 1.05
    model = sim.BlackScholes(vol=0.2, dividend=q, inputs=("spot", "vol", "rate"))
    sampler = sim.UniformSampler(low=[0.5, 0.1, -0.01], high=[1.6, 0.5, 0.06])
    s = sim.simulate(model, sim.European(strike, tau, kind), sampler, n, seed=9)
    z = torch.tensor(rng.normals(9, n, 1)[:, 0], dtype=torch.float64)
    x = torch.tensor(s.x, dtype=torch.float64, requires_grad=True)
    y = _bs_torch(x[:, 0], x[:, 1], x[:, 2], q, tau, z, strike, kind)
    (grad,) = torch.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(s.y, y.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s.dydx, grad.numpy(), rtol=1e-10, atol=1e-13)


def test_adjoint_equals_central_bumps_on_common_random_numbers():
    tau, strike = 1.0, 1.1
    model = sim.BlackScholes(vol=0.2, rate=0.01, inputs=("spot", "vol", "rate"))
    product = sim.European(strike, tau, "call")
    base = np.array([1.2, 0.25, 0.02])
    s = sim.simulate(model, product, sim.FixedSampler(state=base), 500, seed=4)
    # keep paths away from the kink, where the pathwise derivative is not the bump limit
    itm = s.y > 1e-3
    assert itm.sum() > 100
    for j in range(3):
        h = 1e-6 * max(1.0, abs(base[j]))
        up, dn = base.copy(), base.copy()
        up[j] += h
        dn[j] -= h
        yu = sim.simulate(model, product, sim.FixedSampler(state=up), 500, seed=4).y
        yd = sim.simulate(model, product, sim.FixedSampler(state=dn), 500, seed=4).y
        fd = (yu - yd) / (2 * h)
        np.testing.assert_allclose(s.dydx[itm, j], fd[itm], rtol=1e-6)


def test_forward_sampler_matches_source_construction():
    # S1 = S0 exp(-v^2 T1/2 + v sqrt(T1) N1), v = 0.2 * 1.5, N1 from the sampler stream
    s = sim.simulate(sim.BlackScholes(vol=0.2), sim.European(1.1, 1.0),
                     sim.ForwardSampler(spot=1.0, horizon=1.0, vol_mult=1.5), 10_000, seed=7)
    n1 = rng.normals(7, 10_000, 1, stream=rng.STREAM_SAMPLER)[:, 0]
    np.testing.assert_allclose(s.x[:, 0], np.exp(-0.5 * 0.09 + 0.3 * n1), rtol=1e-14)
    # labels are conditionally unbiased: regressing y on x recovers the price on average
    assert abs(np.mean(s.y) - np.mean(bs_price(s.x[:, 0], 1.1, 1.0, 0.2))) < 4 * s.y.std() / 100


def test_float32_output_is_float64_rounded():
    args = (sim.BlackScholes(vol=0.2), sim.European(1.1, 1.0), sim.ForwardSampler(1.0, 1.0))
    s64 = sim.simulate(*args, 1000, seed=2)
    s32 = sim.simulate(*args, 1000, seed=2, dtype="float32")
    assert s32.y.dtype == np.float32 and s32.dydx.dtype == np.float32
    np.testing.assert_array_equal(s32.y, s64.y.astype(np.float32))
