"""Heston characteristic-function pricer against QuantLib's AnalyticHestonEngine."""

import math

import numpy as np
import pytest

import evaluation.analytic as an

pytest.importorskip("QuantLib")
from tests.evaluation import _ql  # noqa: E402

PROJECT = dict(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.025, dividend=0.0)
CASES = [
    # spot, strike, days, v0, kappa, theta, xi, rho, r, q
    (100.0, 100.0, 365, 0.04, 1.5, 0.04, 0.3, -0.9, 0.025, 0.0),  # project parameter set
    (100.0, 60.0, 365, 0.04, 1.5, 0.04, 0.3, -0.9, 0.025, 0.0),  # deep OTM put / ITM call
    (100.0, 160.0, 365, 0.04, 1.5, 0.04, 0.3, -0.9, 0.025, 0.0),  # deep OTM call
    (100.0, 100.0, 7, 0.04, 1.5, 0.04, 0.3, -0.9, 0.025, 0.0),  # one week
    (100.0, 100.0, 2, 0.0001, 2.0, 0.04, 0.5, -0.7, 0.01, 0.0),  # two days, tiny variance
    (100.0, 110.0, 3650, 0.09, 0.5, 0.06, 1.0, -0.5, 0.03, 0.01),  # 10 years, Feller violated
    (100.0, 95.0, 30, 0.01, 3.0, 0.02, 0.2, 0.3, 0.0, 0.0),  # positive rho
]


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("case", CASES)
def test_price_matches_quantlib(case, kind):
    s, k, days, v0, kap, th, xi, rho, r, q = case
    got = an.heston(s, v0, strike=k, maturity=days / 365.0, kind=kind, kappa=kap, theta=th,
                    xi=xi, rho=rho, rate=r, dividend=q)
    ref = _ql.heston(kind, *case)
    assert got == pytest.approx(ref, abs=1e-8)


def test_vectorised_matches_scalar_and_parity():
    strikes = np.array([70.0, 90.0, 100.0, 110.0, 140.0])
    calls = an.heston(100.0, strike=strikes, maturity=1.0, variance=0.04, **PROJECT, kind="call")
    puts = an.heston(100.0, strike=strikes, maturity=1.0, variance=0.04, **PROJECT, kind="put")
    assert calls.shape == (5,)
    np.testing.assert_allclose(calls - puts, 100.0 - strikes * math.exp(-0.025), atol=1e-10)
    one = an.heston(100.0, strike=110.0, maturity=1.0, variance=0.04, **PROJECT, kind="call")
    assert one == pytest.approx(calls[3], abs=1e-11)


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[5], CASES[6]])
def test_delta_and_vega_equal_central_differences(case, kind):
    s, k, days, v0, kap, th, xi, rho, r, q = case
    tau = days / 365.0
    g = an.heston_greeks(s, v0, strike=k, maturity=tau, kind=kind, kappa=kap, theta=th,
                         xi=xi, rho=rho, rate=r, dividend=q)
    assert g.price == pytest.approx(an.heston(s, v0, strike=k, maturity=tau, kind=kind,
                                              kappa=kap, theta=th, xi=xi, rho=rho, rate=r,
                                              dividend=q))
    h = 1e-5 * s
    spots = np.array([s + h, s - h])
    up, dn = an.heston(spots, v0, strike=k, maturity=tau, kind=kind, kappa=kap, theta=th,
                       xi=xi, rho=rho, rate=r, dividend=q)
    assert g.delta == pytest.approx((up - dn) / (2 * h), abs=1e-7)
    e = 1e-5 * v0
    up, dn = an.heston(s, np.array([v0 + e, v0 - e]), strike=k, maturity=tau, kind=kind,
                       kappa=kap, theta=th, xi=xi, rho=rho, rate=r, dividend=q)
    assert g.vega == pytest.approx((up - dn) / (2 * e), rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[5], CASES[6]])
def test_second_order_greeks_equal_central_differences_of_delta_and_vega(case, kind):
    s, k, days, v0, kap, th, xi, rho, r, q = case
    tau = days / 365.0

    def g(spot, var):
        return an.heston_greeks(spot, var, strike=k, maturity=tau, kind=kind, kappa=kap,
                                theta=th, xi=xi, rho=rho, rate=r, dividend=q)

    mid, h, e = g(s, v0), 1e-4 * s, 1e-4 * v0
    up, dn = g(np.array([s + h, s - h]), v0), g(s, np.array([v0 + e, v0 - e]))
    assert mid.gamma == pytest.approx((up.delta[0] - up.delta[1]) / (2 * h), rel=1e-5, abs=1e-8)
    assert mid.vanna == pytest.approx((up.vega[0] - up.vega[1]) / (2 * h), rel=1e-5, abs=1e-6)
    assert mid.vanna == pytest.approx((dn.delta[0] - dn.delta[1]) / (2 * e), rel=1e-5, abs=1e-6)
    assert mid.volga == pytest.approx((dn.vega[0] - dn.vega[1]) / (2 * e), rel=1e-5, abs=1e-4)


def test_errors():
    with pytest.raises(
        ValueError, match=r"The 'rho' parameter of heston must be in \[-1\.0, 1\.0\]"
    ):
        an.heston(100, 0.04, strike=100, maturity=1, kappa=1.5, theta=0.04, xi=0.3, rho=-1.2)
    with pytest.raises(ValueError, match=r"'xi' parameter of heston must be > 0\. Got 0\.0"):
        an.heston(100, 0.04, strike=100, maturity=1, kappa=1.5, theta=0.04, xi=0.0, rho=-0.5)
    with pytest.raises(ValueError, match=r"'variance' parameter of heston_greeks must be >= 0"):
        an.heston_greeks(100, -0.04, strike=100, maturity=1, kappa=1.5, theta=0.04, xi=0.3,
                         rho=-0.5)


def test_spots_beyond_the_priced_moneyness_are_refused():
    """A put at F/K = 1e18 came out as K e^{-rT} (parity's round-off): refused in one line; at
    F/K = 1e8 the put is still about 0, and far below the strike the put is K e^{-rT} - S."""
    p = dict(strike=100.0, maturity=1.0, kind="put", kappa=1.5, theta=0.04, xi=0.3, rho=-0.9,
             rate=0.025)
    with pytest.raises(ValueError, match="'spot' parameter of heston must be at most e"):
        an.heston(1e20, 0.04, **p)
    with pytest.raises(ValueError,
                       match=r"strike 100 there\)\. Got 10000000000000\.0 instead\.$"):
        an.heston(np.array([100.0, 1e13]), 0.04, **p)  # the offending entry, not the array
    assert 0.0 <= an.heston(1e10, 0.04, **p) < 1e-5
    assert an.heston(1e-9, 0.04, **p) == pytest.approx(100.0 * np.exp(-0.025) - 1e-9, abs=1e-11)


@pytest.mark.parametrize("xi", [1e-8, 1e-6, 1e-4])
@pytest.mark.parametrize("kind", ["call", "put"])
def test_small_vol_of_vol_tends_to_black_scholes_with_the_deterministic_variance(xi, kind):
    # xi -> 0: v(t) = theta + (v0 - theta) e^{-kappa t}, so the price is Black-Scholes with total
    # variance w = theta T + (v0 - theta)(1 - e^{-kappa T}) / kappa, and dV/dv0 = dV/dw dw/dv0.
    # The Heston price moves by O(xi) from that limit (about 0.2 xi here).
    v0, kappa, theta, big_t = 0.06, 1.5, 0.04, 1.0
    dw_dv0 = (1.0 - math.exp(-kappa * big_t)) / kappa
    w = theta * big_t + (v0 - theta) * dw_dv0
    sigma = math.sqrt(w / big_t)
    bs = an.black_scholes_greeks(100.0, strike=105.0, maturity=big_t, kind=kind, vol=sigma,
                                 rate=0.02, dividend=0.01)
    g = an.heston_greeks(100.0, v0, strike=105.0, maturity=big_t, kind=kind, kappa=kappa,
                         theta=theta, xi=xi, rho=-0.5, rate=0.02, dividend=0.01)
    assert g.price == pytest.approx(bs.price, abs=xi + 1e-10)
    assert g.vega == pytest.approx(bs.vega / (2.0 * sigma * big_t) * dw_dv0, abs=10 * xi + 1e-7)
    assert g.delta == pytest.approx(bs.delta, abs=xi + 1e-10)
