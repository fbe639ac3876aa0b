"""The samplers' distributions against their definitions (independent of the frozen digests):
uniform boxes, the Black-Scholes forward state and the uniform draws of parameter inputs.

Each check is a Kolmogorov-Smirnov test against the exact law plus its first two moments within
4 standard errors; with 200 000 draws a 1 % distortion of the law fails all of them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import simulators as sim

N = 200_000
P_MIN = 1e-4  # KS p-value below which the law is refused (fixed seeds: deterministic)


def _uniform_ok(x: np.ndarray, low: float, high: float) -> None:
    assert x.min() >= low and x.max() <= high
    u = (x - low) / (high - low)
    assert stats.kstest(u, "uniform").pvalue > P_MIN
    assert abs(u.mean() - 0.5) < 4 * np.sqrt(1 / 12 / N)
    # sd of the sample variance of U(0, 1): sqrt((1/80 - 1/144) / N)
    assert abs(u.var() - 1 / 12) < 4 * np.sqrt((1 / 80 - 1 / 144) / N)


def _independent(a: np.ndarray, b: np.ndarray) -> None:
    assert abs(np.corrcoef(a, b)[0, 1]) < 4 / np.sqrt(N)


def test_uniform_sampler_draws_each_input_uniformly_and_independently():
    model = sim.BlackScholes(vol=0.2, inputs=("spot", "vol"))
    sampler = sim.UniformSampler(low=(50.0, 0.1), high=(150.0, 0.4))
    x = sampler.sample(model, seed=11, first_path=0, n_paths=N)
    assert x.shape == (N, 2)
    _uniform_ok(x[:, 0], 50.0, 150.0)
    _uniform_ok(x[:, 1], 0.1, 0.4)
    _independent(x[:, 0], x[:, 1])
    # a later first_path continues the same sequence (rows are indexed by path)
    tail = sampler.sample(model, seed=11, first_path=N - 10, n_paths=10)
    np.testing.assert_array_equal(tail, x[-10:])


@pytest.mark.parametrize("vol_mult", [1.0, 1.5])
def test_forward_sampler_black_scholes_state_is_lognormal_and_parameters_uniform(vol_mult):
    """S1 = S0 exp(-v^2 T1/2 + v sqrt(T1) N) with v = vol_mult * vol: ln(S1/S0) is
    N(-v^2 T1/2, v^2 T1), so E[S1] = S0; the vol input is uniform on its range, independent."""
    spot, horizon, vol = 1.3, 0.7, 0.2
    model = sim.BlackScholes(vol=vol, inputs=("spot", "vol"))
    sampler = sim.ForwardSampler(spot, horizon, vol_mult=vol_mult, params={"vol": (0.1, 0.3)})
    x = sampler.sample(model, seed=5, first_path=0, n_paths=N)
    v = vol_mult * vol
    z = (np.log(x[:, 0] / spot) + 0.5 * v * v * horizon) / (v * np.sqrt(horizon))
    assert stats.kstest(z, "norm").pvalue > P_MIN
    assert abs(z.mean()) < 4 / np.sqrt(N) and abs(z.var() - 1) < 4 * np.sqrt(2 / N)
    sd = spot * np.sqrt(np.expm1(v * v * horizon))  # of S1
    assert abs(x[:, 0].mean() - spot) < 4 * sd / np.sqrt(N)
    _uniform_ok(x[:, 1], 0.1, 0.3)
    _independent(z, x[:, 1])


def test_forward_sampler_bachelier_basket_state_is_gaussian_with_the_model_covariance():
    """Bachelier: S1 = S0 + vol_mult sqrt(T1) L N, so S1 - S0 is N(0, vol_mult^2 T1 Sigma)."""
    model, _ = sim.random_bachelier_basket(3, seed=1)
    sampler = sim.ForwardSampler(1.0, 0.5, vol_mult=1.5)
    x = sampler.sample(model, seed=2, first_path=0, n_paths=N)
    cov = 1.5**2 * 0.5 * model.covariance()
    dx = x - 1.0
    # whitened by the exact covariance: independent standard normals
    w = np.linalg.solve(np.linalg.cholesky(cov), dx.T).T
    for j in range(3):
        assert stats.kstest(w[:, j], "norm").pvalue > P_MIN
    np.testing.assert_allclose(np.cov(w.T), np.eye(3), atol=4 * np.sqrt(2 / N))
    assert np.all(np.abs(w.mean(axis=0)) < 4 / np.sqrt(N))


def test_spots_underflowing_to_zero_are_named_as_the_samplers_not_as_an_overflow():
    """horizon 100 with vol_mult 20: most forward spots underflow to 0.0, where the pathwise
    delta is 0/0; the error names the sampled input and its domain, not the gradient."""
    with pytest.raises(ValueError, match=r"ForwardSampler drew input 'spot' outside its domain "
                                         r"\(> 0\.0 for BlackScholes\) on \d+ of 2000 paths"):
        sim.simulate(sim.BlackScholes(vol=0.2), sim.European(1.0, 1.0, "call"),
                     sim.ForwardSampler(1.0, horizon=100.0, vol_mult=20.0), 2000, seed=1)


def test_small_api_edges():
    """vol_inputs must be a bool; a one-path sample has no standard error; path ids past 2**63
    are refused in one line (int64, as the datasets'); a sample is not compared element-wise; a Heston horizon of too many
    steps is ForwardSampler's and is refused by validate."""
    import math

    with pytest.raises(ValueError, match=r"'vol_inputs' parameter of BlackScholesBasket must be "
                                         r"True or False\. Got 'False' instead"):
        sim.BlackScholesBasket((0.2, 0.3), ((1.0, 0.5), (0.5, 1.0)), vol_inputs="False")
    model, product = sim.BlackScholes(vol=0.2), sim.European(1.0, 1.0, "call")
    one = sim.simulate(model, product, sim.FixedSampler((1.0,)), 1, seed=1)
    with pytest.raises(ValueError, match=r"Sample\.price needs n_paths >= 2"):
        one.price()
    with pytest.raises(ValueError, match=r"Sample\.gradient needs n_paths >= 2"):
        one.gradient()
    far = sim.simulate(model, product, sim.FixedSampler((1.0,)), 3, seed=1, first_path=2**63)
    with pytest.raises(OverflowError, match=r"path indices up to 9223372036854775810 do not fit "
                                            r"int64"):
        far.path_id  # noqa: B018
    assert (one == one) and not (one == far)
    heston = sim.Heston(1.5, 0.04, 0.3, -0.7, steps_per_year=100_000)
    too_long = sim.ForwardSampler(100.0, 101.0)
    with pytest.raises(ValueError, match=r"'horizon' parameter of ForwardSampler must be <="):
        too_long.validate(heston)
    assert math.isfinite(too_long.horizon)
