"""Bachelier basket: random construction, prices and deltas vs closed form, adjoint checks."""

import math

import numpy as np
import pytest
import torch

import simulators as sim
from simulators import rng
from tests.problems import bachelier_basket_delta, bachelier_basket_price, within_k_se


@pytest.mark.parametrize("dim", [1, 7, 20])
def test_random_basket_construction(dim):
    model, product = sim.random_bachelier_basket(dim, seed=1)
    c = np.asarray(model.correlation)
    assert np.allclose(np.diag(c), 1.0) and np.allclose(c, c.T)
    assert np.linalg.eigvalsh(c).min() > -1e-12
    assert math.isclose(sum(product.weights), 1.0, rel_tol=1e-12)
    assert math.isclose(model.basket_vol(product.weights), 0.2, rel_tol=1e-12)
    assert product.strike == 1.10 and product.kind == "call"
    # same seed, same basket
    assert sim.random_bachelier_basket(dim, seed=1) == (model, product)


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("antithetic", [False, True])
def test_price_and_deltas_match_bachelier_formula(kind, antithetic):
    model, call = sim.random_bachelier_basket(7, seed=3)
    model = sim.BachelierBasket(model.vols, model.correlation, rate=0.02)
    product = sim.BasketOption(call.weights, 1.05, 1.5, kind)
    spots = np.linspace(0.9, 1.1, 7)
    s = sim.simulate(model, product, sim.FixedSampler(spots), 300_000, seed=5,
                     antithetic=antithetic)
    cov = model.covariance()
    price, se = s.price()
    assert within_k_se(price, se, bachelier_basket_price(spots, product.weights, cov, 1.05, 1.5,
                                                         0.02, kind))
    g, gse = s.gradient()
    exact = bachelier_basket_delta(spots, product.weights, cov, 1.05, 1.5, 0.02, kind)
    assert within_k_se(g, gse, exact)


def test_adjoint_equals_autograd_path_by_path():
    model, product = sim.random_bachelier_basket(5, seed=2)
    n = 1000
    sampler = sim.UniformSampler(low=[0.7] * 5, high=[1.3] * 5)
    s = sim.simulate(model, product, sampler, n, seed=8)
    z = torch.tensor(rng.normals(8, n, 5), dtype=torch.float64)
    chol = torch.tensor(model.cholesky(), dtype=torch.float64)
    x = torch.tensor(s.x, requires_grad=True)
    s_t = x + math.sqrt(product.maturity) * z @ chol.T
    y = torch.clamp(s_t @ torch.tensor(product.weights, dtype=torch.float64) - product.strike,
                    min=0.0)
    (grad,) = torch.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(s.y, y.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s.dydx, grad.numpy(), rtol=1e-10, atol=1e-15)


def test_adjoint_equals_central_bumps():
    model, product = sim.random_bachelier_basket(4, seed=6)
    base = np.array([1.0, 1.1, 0.95, 1.05])
    s = sim.simulate(model, product, sim.FixedSampler(base), 400, seed=1)
    live = s.y > 1e-3
    for j in range(4):
        h = 1e-6
        up, dn = base.copy(), base.copy()
        up[j] += h
        dn[j] -= h
        fd = (sim.simulate(model, product, sim.FixedSampler(up), 400, seed=1).y
              - sim.simulate(model, product, sim.FixedSampler(dn), 400, seed=1).y) / (2 * h)
        np.testing.assert_allclose(s.dydx[live, j], fd[live], rtol=1e-6)


def test_forward_sampler_is_source_construction():
    model, product = sim.random_bachelier_basket(3, seed=4)
    s = sim.simulate(model, product, sim.ForwardSampler(spot=1.0, horizon=1.0), 2000, seed=3)
    n0 = rng.normals(3, 2000, 3, stream=rng.STREAM_SAMPLER)
    np.testing.assert_allclose(s.x, 1.0 + 1.5 * n0 @ model.cholesky().T, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("vol", [1e-8, 0.2])
def test_singular_correlation_keeps_small_volatilities(vol):
    """A singular correlation takes the pivot-free factorisation; its cut-off is relative to
    the covariance, so volatilities of 1e-8 (variances of 1e-16) still move the assets."""
    model = sim.BachelierBasket((vol, 2.0 * vol), ((1.0, 1.0), (1.0, 1.0)))
    low = model.cholesky()
    np.testing.assert_allclose(low @ low.T, model.covariance(), rtol=0,
                               atol=1e-12 * vol * vol)
    product = sim.BasketOption((0.5, 0.5), 1.0, 1.0, "call")
    s = sim.simulate(model, product, sim.FixedSampler((1.0, 1.0)), 100_000, seed=3)
    price, se = s.price()
    cov = model.covariance()
    assert price > 0.0
    assert within_k_se(price, se, bachelier_basket_price(np.ones(2), product.weights, cov, 1.0,
                                                         1.0, 0.0, "call"))
