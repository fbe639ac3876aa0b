"""Black-Scholes closed form against QuantLib's BlackCalculator, parity and finite differences."""

import math

import numpy as np
import pytest

import evaluation.analytic as an

ql = pytest.importorskip("QuantLib")

CASES = [
    # spot, strike, maturity, vol, rate, dividend
    (100.0, 105.0, 0.75, 0.25, 0.03, 0.01),
    (100.0, 100.0, 1.0, 0.2, 0.0, 0.0),
    (100.0, 40.0, 2.0, 0.3, 0.05, 0.02),  # deep ITM call / deep OTM put
    (100.0, 250.0, 0.5, 0.2, 0.01, 0.0),  # deep OTM call / deep ITM put
    (100.0, 101.0, 1.0 / 365.0, 0.15, 0.02, 0.0),  # one day
    (1.0, 1.1, 1.0, 0.2, 0.0, 0.0),  # the differential-ML reference set-up
    (50.0, 55.0, 5.0, 0.6, -0.01, 0.03),  # negative rate, high vol, long maturity
]


def _ql(spot, strike, tau, vol, r, q, kind):
    typ = ql.Option.Call if kind == "call" else ql.Option.Put
    calc = ql.BlackCalculator(
        ql.PlainVanillaPayoff(typ, strike),
        spot * math.exp((r - q) * tau),
        vol * math.sqrt(tau),
        math.exp(-r * tau),
    )
    return calc


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("case", CASES)
def test_price_and_greeks_match_quantlib(case, kind):
    s, k, tau, vol, r, q = case
    g = an.black_scholes_greeks(s, strike=k, maturity=tau, vol=vol, rate=r, dividend=q, kind=kind)
    c = _ql(s, k, tau, vol, r, q, kind)
    scale = max(1.0, s)
    assert an.black_scholes(s, strike=k, maturity=tau, kind=kind, vol=vol, rate=r,
                            dividend=q) == pytest.approx(
        c.value(), abs=1e-10 * scale
    )
    assert g.price == pytest.approx(c.value(), abs=1e-10 * scale)
    assert g.delta == pytest.approx(c.delta(s), abs=1e-10)
    assert g.gamma == pytest.approx(c.gamma(s), abs=1e-10)
    assert g.vega == pytest.approx(c.vega(tau), abs=1e-10 * scale)
    assert g.theta == pytest.approx(c.theta(s, tau), abs=1e-10 * scale)
    # QuantLib's rho holds the forward's dividend leg fixed, as ours does.
    assert g.rho == pytest.approx(c.rho(tau), abs=1e-10 * scale)


@pytest.mark.parametrize("case", CASES)
def test_put_call_parity(case):
    s, k, tau, vol, r, q = case
    c = an.black_scholes(s, strike=k, maturity=tau, vol=vol, rate=r, dividend=q, kind="call")
    p = an.black_scholes(s, strike=k, maturity=tau, vol=vol, rate=r, dividend=q, kind="put")
    assert c - p == pytest.approx(s * math.exp(-q * tau) - k * math.exp(-r * tau), abs=1e-10 * s)


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("case", CASES[:4] + CASES[5:])
def test_greeks_equal_central_differences(case, kind):
    s, k, tau, vol, r, q = case
    g = an.black_scholes_greeks(s, strike=k, maturity=tau, vol=vol, rate=r, dividend=q, kind=kind)

    def f(**kw):
        args = dict(spot=s, strike=k, maturity=tau, vol=vol, rate=r, dividend=q, kind=kind)
        args.update(kw)
        return an.black_scholes(**args)

    h = 1e-4 * s
    assert g.delta == pytest.approx((f(spot=s + h) - f(spot=s - h)) / (2 * h), abs=1e-7)
    h2 = 1e-3 * s
    fd_gamma = (f(spot=s + h2) - 2 * f(spot=s) + f(spot=s - h2)) / h2**2
    assert g.gamma == pytest.approx(fd_gamma, rel=1e-5, abs=1e-9)  # O(h^2) truncation
    e = 1e-6
    assert g.vega == pytest.approx((f(vol=vol + e) - f(vol=vol - e)) / (2 * e), abs=1e-6 * s)
    assert g.rho == pytest.approx((f(rate=r + e) - f(rate=r - e)) / (2 * e), abs=1e-6 * s)
    et = 1e-6 * tau
    fd_theta = -(f(maturity=tau + et) - f(maturity=tau - et)) / (2 * et)
    assert g.theta == pytest.approx(fd_theta, abs=1e-5 * s)


def test_vectorised_broadcast_and_spot_zero():
    spots = np.array([0.0, 50.0, 100.0, 200.0])
    p = an.black_scholes(spots, strike=100.0, maturity=1.0, kind="put", vol=0.2, rate=0.03,
                         dividend=0.0)
    assert p.shape == (4,)
    assert p[0] == pytest.approx(100.0 * math.exp(-0.03), abs=1e-12)
    for i, s in enumerate(spots[1:], start=1):
        assert p[i] == pytest.approx(_ql(s, 100.0, 1.0, 0.2, 0.03, 0.0, "put").value(), abs=1e-9)
    grid = an.black_scholes(spots[:, None], strike=100.0, maturity=np.array([0.5, 1.0]),
                            kind="call", vol=0.2)
    assert grid.shape == (4, 2)
    g = an.black_scholes_greeks(spots, strike=100.0, maturity=1.0, vol=0.2)
    assert g.gamma[0] == 0.0 and np.all(np.isfinite(g.gamma))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(vol=-0.2), r"The 'vol' parameter of black_scholes must be > 0\. Got -0\.2 instead\."),
        (dict(maturity=0.0), r"'maturity' parameter of black_scholes must be > 0\. Got 0\.0"),
        (dict(strike=[100.0, -1.0]), r"'strike' parameter of black_scholes must be > 0\. Got -1"),
        (dict(spot=-1.0), r"'spot' parameter of black_scholes must be >= 0"),
        (dict(kind="straddle"), r"'kind' parameter of black_scholes must be one of 'call', 'put'"),
        (dict(rate=float("nan")), r"'rate' parameter of black_scholes must be finite"),
    ],
)
def test_errors(kwargs, match):
    args = dict(spot=100.0, strike=100.0, maturity=1.0, vol=0.2, rate=0.0, dividend=0.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        an.black_scholes(**args)
