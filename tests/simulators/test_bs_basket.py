"""Black-Scholes baskets: worst-of/best-of vs Stulz (QuantLib), arithmetic vs Choi, adjoints."""

import math

import numpy as np
import pytest
import torch

import simulators as sim
from simulators import rng
from tests.problems import bs_delta, bs_price, bs_vega, within_k_se
from tests.simulators import ql_oracles as ql

DAYS = 182
TAU = DAYS / 365
VOLS, RHO, RATE = (0.25, 0.35), 0.5, 0.03
CORR = [[1.0, RHO], [RHO, 1.0]]


def _model(**kw):
    return sim.BlackScholesBasket(vols=VOLS, correlation=CORR, rate=RATE, **kw)


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("product_cls,extremum", [(sim.WorstOf, "min"), (sim.BestOf, "max")])
def test_extremum_options_match_stulz(kind, product_cls, extremum):
    spots, divs = [100.0, 95.0], (0.01, 0.02)
    model = _model(dividends=divs)
    s = sim.simulate(model, product_cls(100.0, TAU, kind), sim.FixedSampler(spots), 400_000,
                     seed=11, antithetic=True)
    price, se = s.price()
    exact = ql.stulz(spots, 100.0, DAYS, VOLS, RHO, RATE, divs, kind, extremum)
    assert within_k_se(price, se, exact), (price, se, exact)


def test_worst_of_deltas_match_bumped_stulz():
    spots = np.array([100.0, 105.0])
    model = _model()
    s = sim.simulate(model, sim.WorstOf(100.0, TAU, "put"), sim.FixedSampler(spots), 400_000,
                     seed=5, antithetic=True)
    g, gse = s.gradient()
    for j in range(2):
        h = 1e-3 * spots[j]
        up, dn = spots.copy(), spots.copy()
        up[j] += h
        dn[j] -= h
        exact = (ql.stulz(up, 100.0, DAYS, VOLS, RHO, RATE, (0, 0), "put")
                 - ql.stulz(dn, 100.0, DAYS, VOLS, RHO, RATE, (0, 0), "put")) / (2 * h)
        assert within_k_se(g[j], gse[j], exact, floor=1e-5), (j, g[j], gse[j], exact)


@pytest.mark.parametrize("kind", ["call", "put"])
def test_arithmetic_basket_matches_choi(kind):
    spots, weights = [100.0, 90.0], [0.6, 0.4]
    model = _model()
    s = sim.simulate(model, sim.BasketOption(weights, 96.0, TAU, kind), sim.FixedSampler(spots),
                     400_000, seed=3, antithetic=True)
    price, se = s.price()
    exact = ql.choi_basket(spots, weights, 96.0, DAYS, VOLS, CORR, RATE, (0, 0), kind)
    assert within_k_se(price, se, exact), (price, se, exact)


def test_single_asset_basket_is_black_scholes_with_vega():
    model = sim.BlackScholesBasket(vols=[0.3], correlation=[[1.0]], rate=0.02, dividends=[0.01],
                                   vol_inputs=True)
    product = sim.BasketOption([1.0], 1.05, 0.8, "call")
    s = sim.simulate(model, product, sim.FixedSampler([1.0, 0.3]), 400_000, seed=2)
    price, se = s.price()
    assert within_k_se(price, se, bs_price(1.0, 1.05, 0.8, 0.3, 0.02, 0.01))
    g, gse = s.gradient()
    assert within_k_se(g, gse, [bs_delta(1.0, 1.05, 0.8, 0.3, 0.02, 0.01),
                                bs_vega(1.0, 1.05, 0.8, 0.3, 0.02, 0.01)])


def _torch_basket(x, z, chol, divs, rate, tau, agg, strike, weights, kind):
    d = chol.shape[0]
    spots, vols = x[:, :d], x[:, d:]
    w = z @ chol.T
    s_t = spots * torch.exp((rate - divs - 0.5 * vols**2) * tau + vols * math.sqrt(tau) * w)
    if agg == "sum":
        u = s_t @ weights
    elif agg == "min":
        u = s_t.min(dim=1).values
    else:
        u = s_t.max(dim=1).values
    h = torch.clamp(u - strike, min=0.0) if kind == "call" else torch.clamp(strike - u, min=0.0)
    return math.exp(-rate * tau) * h


@pytest.mark.parametrize("agg,product", [
    ("sum", sim.BasketOption([0.2, 0.3, 0.5], 1.0, 0.7, "call")),
    ("min", sim.WorstOf(0.9, 0.7, "put")),
    ("max", sim.BestOf(1.1, 0.7, "call")),
])
def test_adjoint_equals_autograd(agg, product):
    corr = [[1.0, 0.3, -0.2], [0.3, 1.0, 0.4], [-0.2, 0.4, 1.0]]
    divs = (0.0, 0.01, 0.02)
    model = sim.BlackScholesBasket(vols=[0.2, 0.3, 0.25], correlation=corr, rate=0.01,
                                   dividends=divs, vol_inputs=True)
    n = 1000
    sampler = sim.UniformSampler(low=[0.7] * 3 + [0.1] * 3, high=[1.3] * 3 + [0.4] * 3)
    s = sim.simulate(model, product, sampler, n, seed=6)
    z = torch.tensor(rng.normals(6, n, 3))
    x = torch.tensor(s.x, requires_grad=True)
    y = _torch_basket(x, z, torch.tensor(model.cholesky()), torch.tensor(divs, dtype=torch.float64), 0.01,
                      product.maturity, agg, product.strike,
                      torch.tensor(getattr(product, "weights", (1.0,) * 3), dtype=torch.float64),
                      product.kind)
    (grad,) = torch.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(s.y, y.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s.dydx, grad.numpy(), rtol=1e-10, atol=1e-14)


def test_adjoint_equals_central_bumps():
    model = _model(vol_inputs=True)
    product = sim.WorstOf(100.0, TAU, "put")
    base = np.array([100.0, 102.0, 0.25, 0.35])
    s = sim.simulate(model, product, sim.FixedSampler(base), 300, seed=8)
    live = s.y > 1e-2
    for j in range(4):
        h = 1e-6 * base[j]
        up, dn = base.copy(), base.copy()
        up[j] += h
        dn[j] -= h
        fd = (sim.simulate(model, product, sim.FixedSampler(up), 300, seed=8).y
              - sim.simulate(model, product, sim.FixedSampler(dn), 300, seed=8).y) / (2 * h)
        np.testing.assert_allclose(s.dydx[live, j], fd[live], rtol=1e-6, atol=1e-9)


def test_forward_sampler_and_worst_of_gradient_goes_to_arg_min():
    model = _model()
    s = sim.simulate(model, sim.WorstOf(100.0, TAU, "call"),
                     sim.ForwardSampler(spot=100.0, horizon=1.0), 5000, seed=1)
    assert s.x.shape == (5000, 2) and np.all(s.x > 0)
    # S_T rebuilt from the path normals: the payoff is e^{-r tau} (min_j S_T,j - K)^+, and its
    # gradient is e^{-r tau} S_T,j / S_j on the arg-min asset of paths in the money, 0 elsewhere
    z = rng.normals(1, 5000, 2) @ np.linalg.cholesky(np.asarray(CORR)).T
    vols = np.asarray(VOLS)
    s_t = s.x * np.exp((RATE - 0.5 * vols**2) * TAU + vols * math.sqrt(TAU) * z)
    disc = math.exp(-RATE * TAU)
    itm = s_t.min(axis=1) > 100.0
    assert 0.2 < itm.mean() < 0.8
    np.testing.assert_allclose(s.y, disc * np.maximum(s_t.min(axis=1) - 100.0, 0.0),
                               rtol=1e-12, atol=1e-12)
    rows = np.arange(5000)
    arg = s_t.argmin(axis=1)
    expected = np.zeros_like(s.dydx)
    expected[rows[itm], arg[itm]] = disc * s_t[rows[itm], arg[itm]] / s.x[rows[itm], arg[itm]]
    np.testing.assert_allclose(s.dydx, expected, rtol=1e-12, atol=0.0)


# ForwardSampler oracle: S1_i = S0_i exp(-v_i^2 T1/2 + v_i sqrt(T1) W_i), v = vol_mult vols,
# W ~ N(0, correlation) (driftless whatever the model's rate and dividends; samplers.py)
FWD_VOLS = (0.2, 0.3, 0.4)
FWD_CORR = ((1.0, 0.6, -0.3), (0.6, 1.0, 0.2), (-0.3, 0.2, 1.0))
FWD_SPOTS, FWD_T1, FWD_MULT, FWD_N = np.array([100.0, 80.0, 120.0]), 0.5, 1.5, 200_000


def _forward_sample():
    model = sim.BlackScholesBasket(vols=FWD_VOLS, correlation=FWD_CORR, rate=RATE,
                                   dividends=(0.01, 0.02, 0.0))
    sampler = sim.ForwardSampler(spot=tuple(FWD_SPOTS), horizon=FWD_T1, vol_mult=FWD_MULT)
    return sampler.sample(model, 17, 0, FWD_N)


def test_forward_sampler_is_driftless():
    """E[S1_i] = S0_i (martingale, the sampler's documented convention) within 4 SE."""
    s1 = _forward_sample()
    se = s1.std(axis=0, ddof=1) / math.sqrt(FWD_N)
    assert within_k_se(s1.mean(axis=0), se, FWD_SPOTS), (s1.mean(axis=0), se)


def test_forward_sampler_log_variance_is_vol_mult_sigma_squared_t1():
    """Var[ln S1_i] = (vol_mult sigma_i)^2 T1 within 4 SE (SE from the sample's 4th moment)."""
    y = np.log(_forward_sample())
    dev2 = (y - y.mean(axis=0)) ** 2
    var, se = dev2.mean(axis=0), dev2.std(axis=0, ddof=1) / math.sqrt(FWD_N)
    exact = (FWD_MULT * np.asarray(FWD_VOLS)) ** 2 * FWD_T1
    assert within_k_se(var, se, exact), (var, se, exact)


def test_forward_sampler_log_returns_have_the_model_correlation():
    """corr(ln S1_i, ln S1_j) = rho_ij: Fisher z within 4 SE, SE = 1/sqrt(n - 3)."""
    r = np.corrcoef(np.log(_forward_sample()), rowvar=False)
    iu = np.triu_indices(3, 1)
    z, z_exact = np.arctanh(r[iu]), np.arctanh(np.asarray(FWD_CORR)[iu])
    assert within_k_se(z, 1.0 / math.sqrt(FWD_N - 3), z_exact), (r[iu], np.asarray(FWD_CORR)[iu])
