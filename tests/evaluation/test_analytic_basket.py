"""Two-asset arithmetic basket by conditioning: Monte Carlo, ADI finite differences, limits."""

import math

import numpy as np
import pytest

import evaluation.analytic as an
import evaluation.fd as fd

CASE = dict(strike=100.0, maturity=0.5, vols=(0.25, 0.35), rho=0.5, weights=(0.5, 0.5),
            rate=0.03, dividends=(0.01, 0.0))


@pytest.mark.parametrize("kind", ["put", "call"])
def test_matches_monte_carlo_within_four_standard_errors(kind):
    rng = np.random.default_rng(11)
    n = 2_000_000
    z1 = rng.standard_normal(n)
    z2 = CASE["rho"] * z1 + math.sqrt(1 - CASE["rho"] ** 2) * rng.standard_normal(n)
    t, r = CASE["maturity"], CASE["rate"]
    (v1, v2), (q1, q2) = CASE["vols"], CASE["dividends"]
    s1 = 90.0 * np.exp((r - q1 - 0.5 * v1**2) * t + v1 * math.sqrt(t) * z1)
    s2 = 105.0 * np.exp((r - q2 - 0.5 * v2**2) * t + v2 * math.sqrt(t) * z2)
    b = 0.5 * s1 + 0.5 * s2
    pay = np.maximum(b - 100.0 if kind == "call" else 100.0 - b, 0.0) * math.exp(-r * t)
    got = an.arithmetic_basket_2d([90.0, 105.0], kind=kind, **CASE).price[0]
    assert abs(got - pay.mean()) < 4.0 * pay.std() / math.sqrt(n)


def test_matches_adi_finite_differences():
    pts = np.array([[100.0, 100.0], [80.0, 90.0], [120.0, 110.0], [60.0, 150.0]])
    sol = fd.basket_2d(strike=100.0, maturity=0.5, vols=CASE["vols"], rho=CASE["rho"],
                       rate=CASE["rate"], dividends=CASE["dividends"], kind="put",
                       style="arithmetic", weights=CASE["weights"], s_max=400.0,
                       n_space=(300, 300), n_time=150)
    got = an.arithmetic_basket_2d(pts, kind="put", **CASE)
    np.testing.assert_allclose(got.price, sol.price(pts), rtol=0, atol=5e-3)
    np.testing.assert_allclose(got.delta, sol.delta(pts), rtol=0, atol=2e-3)


def test_limits_parity_and_convergence():
    # One spot at zero: a Black-Scholes option on the other weighted asset.
    got = an.arithmetic_basket_2d([[0.0, 120.0]], kind="put", **CASE).price
    ref = an.black_scholes(0.5 * 120.0, strike=100.0, maturity=0.5, kind="put", vol=0.35, rate=0.03,
                           dividend=0.0)
    assert got[0] == pytest.approx(ref, abs=1e-10)
    pts = np.array([[90.0, 105.0], [200.0, 30.0], [10.0, 250.0]])
    call = an.arithmetic_basket_2d(pts, kind="call", **CASE).price
    put = an.arithmetic_basket_2d(pts, kind="put", **CASE).price
    fwd = (pts * np.array([0.5, 0.5]) * np.exp(-np.array([0.01, 0.0]) * 0.5)).sum(axis=1)
    np.testing.assert_allclose(call - put, fwd - 100.0 * math.exp(-0.015), atol=1e-10)
    coarse = an.arithmetic_basket_2d(pts, kind="put", nodes=32, **CASE).price
    fine = an.arithmetic_basket_2d(pts, kind="put", nodes=128, **CASE).price
    np.testing.assert_allclose(coarse, fine, rtol=0, atol=1e-5)
    np.testing.assert_allclose(put, fine, rtol=0, atol=1e-9)


@pytest.mark.parametrize("kind", ["put", "call"])
def test_delta_equals_central_differences(kind):
    pts = np.array([[100.0, 100.0], [80.0, 90.0], [130.0, 60.0], [250.0, 20.0]])
    g = an.arithmetic_basket_2d(pts, kind=kind, **CASE)
    h = 1e-3
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        up = an.arithmetic_basket_2d(pts + e, kind=kind, **CASE).price
        dn = an.arithmetic_basket_2d(pts - e, kind=kind, **CASE).price
        np.testing.assert_allclose(g.delta[:, i], (up - dn) / (2 * h), rtol=0, atol=1e-7)


def test_errors():
    with pytest.raises(ValueError, match=r"'rho' parameter of arithmetic_basket_2d must be in"):
        an.arithmetic_basket_2d([100.0, 100.0], strike=100.0, maturity=1.0, vols=(0.2, 0.3),
                                rho=1.0)
    with pytest.raises(ValueError, match=r"'vols' parameter of arithmetic_basket_2d must be > 0"):
        an.arithmetic_basket_2d([100.0, 100.0], strike=100.0, maturity=1.0, vols=(0.2, -0.3),
                                rho=0.1)
    with pytest.raises(ValueError, match=r"'spots' parameter .* shape \(n, 2\)"):
        an.arithmetic_basket_2d([[1.0, 2.0, 3.0]], strike=100.0, maturity=1.0, vols=(0.2, 0.3),
                                rho=0.1)
