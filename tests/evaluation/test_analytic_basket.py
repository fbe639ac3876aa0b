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


def _put_conditioned_on_the_second_asset(s, tau, vols, rho, rate, dividends, weights,
                                         strike=100.0):
    """The put by adaptive quadrature (SciPy ``quad``) conditioned on asset 2's shock, where the
    library conditions on asset 1 in every case below: another integrand, another rule."""
    from scipy import integrate
    from scipy.stats import norm

    v1, v2 = vols
    sq = math.sqrt(tau)

    def f(z):
        known = weights[1] * s[1] * math.exp((rate - dividends[1] - 0.5 * v2**2) * tau
                                             + v2 * sq * z)
        fwd = weights[0] * s[0] * math.exp((rate - dividends[0] - 0.5 * (v1 * rho) ** 2) * tau
                                           + v1 * rho * sq * z)
        k = strike - known
        if k <= 0.0:
            return 0.0
        sd = v1 * math.sqrt((1.0 - rho**2) * tau)
        d1 = (math.log(fwd / k) + 0.5 * sd * sd) / sd
        return (k * norm.cdf(-(d1 - sd)) - fwd * norm.cdf(-d1)) * norm.pdf(z)

    z_star = (math.log(strike / (weights[1] * s[1])) - (rate - dividends[1] - 0.5 * v2**2) * tau
              ) / (v2 * sq)
    val, _ = integrate.quad(f, -12.0, min(z_star, 12.0), limit=500, epsabs=1e-14, epsrel=1e-13)
    return math.exp(-rate * tau) * val


@pytest.mark.parametrize("s,tau,vols,rho", [
    ((100.0, 100.0), 0.5, (0.25, 0.35), 0.999),   # conditional variance almost 0: a sharp bend
    ((100.0, 100.0), 0.5, (0.25, 0.35), -0.99),
    ((100.0, 100.0), 10.0, (1.0, 1.5), 0.3),      # vol^2 tau of 10 and 22
    ((100.0, 100.0), 1.0, (0.3, 0.3), 0.9),
    ((60.0, 150.0), 2.0, (0.2, 0.6), 0.95),
])
def test_high_correlation_and_long_maturities_match_the_other_conditioning(s, tau, vols, rho):
    common = dict(rate=0.03, dividends=(0.01, 0.0), weights=(0.5, 0.5))
    got = an.arithmetic_basket_2d([list(s)], strike=100.0, maturity=tau, kind="put", vols=vols,
                                  rho=rho, **common).price[0]
    ref = _put_conditioned_on_the_second_asset(s, tau, vols, rho, **common)
    assert got == pytest.approx(ref, abs=1e-8)  # 1e-10 of the strike
    x = np.array([s])
    delta = an.arithmetic_basket_2d(x, strike=100.0, maturity=tau, kind="put", vols=vols,
                                    rho=rho, **common).delta[0]
    for i in range(2):
        e = np.zeros(2)
        e[i] = 1e-3
        up, dn = (an.arithmetic_basket_2d(x + sign * e, strike=100.0, maturity=tau, kind="put",
                                          vols=vols, rho=rho, **common).price[0]
                  for sign in (1.0, -1.0))
        assert delta[i] == pytest.approx((up - dn) / 2e-3, abs=1e-6)


def test_a_narrow_bend_far_from_the_pieces_ends_converges():
    # rho 0.9962 with vols 0.46 / 1.8 over 5 years: the conditional put bends over about 0.05 in
    # z, which the four pieces alone resolved to 1.7e-6 only (96 nodes); the bend's own pieces
    # give 1e-9. The oracle conditions on the other asset (adaptive quadrature).
    s, tau, vols, rho = (117.18, 173.23), 5.122, (0.464, 1.805), 0.99620
    common = dict(rate=0.0486, dividends=(0.029, 0.0073), weights=(0.701, 0.207))
    got = an.arithmetic_basket_2d([list(s)], strike=100.0, maturity=tau, kind="put", vols=vols,
                                  rho=rho, **common).price[0]
    ref = _put_conditioned_on_the_second_asset(s, tau, vols, rho, **common)
    assert got == pytest.approx(ref, abs=1e-8)


def test_high_correlation_matches_monte_carlo():
    rng = np.random.default_rng(5)
    n, rho, t, r = 2_000_000, 0.999, 0.5, 0.03
    z1 = rng.standard_normal(n)
    z2 = rho * z1 + math.sqrt(1 - rho**2) * rng.standard_normal(n)
    s1 = 100.0 * np.exp((r - 0.01 - 0.5 * 0.25**2) * t + 0.25 * math.sqrt(t) * z1)
    s2 = 100.0 * np.exp((r - 0.5 * 0.35**2) * t + 0.35 * math.sqrt(t) * z2)
    pay = np.maximum(100.0 - 0.5 * s1 - 0.5 * s2, 0.0) * math.exp(-r * t)
    got = an.arithmetic_basket_2d([100.0, 100.0], strike=100.0, maturity=t, kind="put",
                                  vols=(0.25, 0.35), rho=rho, rate=r, dividends=(0.01, 0.0)).price[0]
    assert abs(got - pay.mean()) < 4.0 * pay.std() / math.sqrt(n)


def test_many_nodes_stay_finite_and_too_many_are_refused():
    g = an.arithmetic_basket_2d([100.0, 100.0], kind="put", nodes=1024, **CASE)
    assert g.price[0] == pytest.approx(an.arithmetic_basket_2d([100.0, 100.0], kind="put",
                                                               **CASE).price[0], abs=1e-12)
    with pytest.raises(ValueError, match=r"'nodes' parameter of arithmetic_basket_2d must be an "
                                         r"integer in \[8, 1024\]"):
        an.arithmetic_basket_2d([100.0, 100.0], kind="put", nodes=1025, **CASE)
