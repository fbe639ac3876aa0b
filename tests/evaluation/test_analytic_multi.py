"""Bivariate normal, Stulz min/max, Bachelier basket and XVA factor against independent oracles."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import ndtr

import evaluation.analytic as an
from simulators.xva import XVA

pytest.importorskip("QuantLib")
from tests.evaluation import _ql  # noqa: E402


# ---------------------------------------------------------------- bivariate normal CDF
def _bvn_quad(a, b, rho):
    s = math.sqrt(1.0 - rho * rho)
    f = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi) * ndtr((b - rho * x) / s)
    return integrate.quad(f, -40.0, a, epsabs=1e-15, epsrel=1e-13, limit=400)[0]


@pytest.mark.parametrize("rho", [-0.999, -0.95, -0.8, -0.5, -0.1, 0.0, 0.2, 0.6, 0.9, 0.99])
def test_bivariate_normal_matches_quadrature(rho):
    pts = [(0.3, -0.2), (-2.0, 1.5), (1.0, 1.0), (-3.0, -3.0), (2.5, -1.0), (6.0, 0.5)]
    got = an.bivariate_normal_cdf([p[0] for p in pts], [p[1] for p in pts], rho)
    ref = [_bvn_quad(a, b, rho) for a, b in pts]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13)


def test_bivariate_normal_limits():
    a = np.array([-1.0, 0.0, 0.7])
    np.testing.assert_allclose(
        an.bivariate_normal_cdf(a, 0.4, 0.0), ndtr(a) * ndtr(0.4), atol=1e-15
    )
    np.testing.assert_allclose(
        an.bivariate_normal_cdf(a, 0.4, 1.0), ndtr(np.minimum(a, 0.4)), atol=1e-15
    )
    np.testing.assert_allclose(
        an.bivariate_normal_cdf(a, 0.4, -1.0), np.maximum(ndtr(a) - ndtr(-0.4), 0), atol=1e-15
    )
    assert an.bivariate_normal_cdf(np.inf, 0.3, 0.5) == pytest.approx(ndtr(0.3), abs=1e-16)
    assert an.bivariate_normal_cdf(-np.inf, 0.3, 0.5) == 0.0


# ---------------------------------------------------------------- Stulz
STULZ = [
    # s1, s2, K, days, v1, v2, rho, r, q1, q2
    (100.0, 100.0, 100.0, 182, 0.25, 0.35, 0.5, 0.03, 0.0, 0.0),  # project worst-of set
    (90.0, 120.0, 100.0, 365, 0.2, 0.3, -0.4, 0.02, 0.01, 0.03),
    (100.0, 105.0, 100.0, 3, 0.2, 0.3, 0.95, 0.01, 0.0, 0.0),  # 3 days
    (180.0, 170.0, 100.0, 365, 0.3, 0.2, 0.0, 0.05, 0.0, 0.0),  # deep ITM call
    (50.0, 60.0, 100.0, 91, 0.25, 0.25, 0.8, 0.03, 0.02, 0.0),  # deep OTM call
    (100.0, 100.0, 100.0, 1825, 0.4, 0.15, -0.9, 0.0, 0.0, 0.0),  # 5 years
]


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("which", ["min", "max"])
@pytest.mark.parametrize("case", STULZ)
def test_stulz_matches_quantlib(case, which, kind):
    s1, s2, k, days, v1, v2, rho, r, q1, q2 = case
    fn = an.stulz_min if which == "min" else an.stulz_max
    g = fn([s1, s2], strike=k, maturity=days / 365.0, kind=kind, vols=(v1, v2), rho=rho, rate=r,
           dividends=(q1, q2))
    ref = _ql.stulz(which, kind, *case)
    assert g.price.shape == (1,) and g.delta.shape == (1, 2)
    assert g.price[0] == pytest.approx(ref, abs=1e-10)


@pytest.mark.parametrize("case", STULZ)
def test_stulz_min_plus_max_is_two_vanillas(case):
    s1, s2, k, days, v1, v2, rho, r, q1, q2 = case
    tau = days / 365.0
    for kind in ("call", "put"):
        two = dict(strike=k, maturity=tau, kind=kind, vols=(v1, v2), rho=rho, rate=r,
                   dividends=(q1, q2))
        mn = an.stulz_min([s1, s2], **two).price[0]
        mx = an.stulz_max([s1, s2], **two).price[0]
        van = (an.black_scholes(s1, strike=k, maturity=tau, kind=kind, vol=v1, rate=r, dividend=q1)
               + an.black_scholes(s2, strike=k, maturity=tau, kind=kind, vol=v2, rate=r,
                                  dividend=q2))
        assert mn + mx == pytest.approx(van, abs=1e-10)


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("fn", [an.stulz_min, an.stulz_max])
@pytest.mark.parametrize("case", [STULZ[0], STULZ[1], STULZ[3], STULZ[5]])
def test_stulz_deltas_equal_central_differences(case, fn, kind):
    s1, s2, k, days, v1, v2, rho, r, q1, q2 = case
    tau = days / 365.0
    h = 1e-4
    spots = np.array([[s1, s2], [s1 + h, s2], [s1 - h, s2], [s1, s2 + h], [s1, s2 - h]])
    g = fn(spots, strike=k, maturity=tau, kind=kind, vols=(v1, v2), rho=rho, rate=r,
           dividends=(q1, q2))
    fd = [(g.price[1] - g.price[2]) / (2 * h), (g.price[3] - g.price[4]) / (2 * h)]
    np.testing.assert_allclose(g.delta[0], fd, atol=1e-7)


# ---------------------------------------------------------------- Bachelier basket
def _bachelier_1d(forward, strike, sd, df, kind):
    import QuantLib as ql

    typ = ql.Option.Call if kind == "call" else ql.Option.Put
    return ql.bachelierBlackFormula(typ, strike, forward, sd, df)


@pytest.mark.parametrize("kind", ["call", "put"])
def test_bachelier_basket_matches_quantlib_normal_formula(kind):
    rng = np.random.default_rng(3)
    d = 7
    r_mat = rng.uniform(-1, 1, size=(2 * d, d))
    c = r_mat.T @ r_mat
    c = c / np.sqrt(np.outer(np.diag(c), np.diag(c)))
    w = rng.uniform(1, 10, d)
    w /= w.sum()
    vols = rng.uniform(0.05, 0.5, d)
    spots = rng.uniform(0.5, 1.5, size=(50, d))
    tau, k, r = 1.0, 1.1, 0.02
    g = an.bachelier_basket_greeks(spots, strike=k, maturity=tau, kind=kind, vols=vols,
                                   correlation=c, rate=r, weights=w)
    cov = np.einsum("i,ij,j->", w * vols, c, w * vols)
    ref = [
        _bachelier_1d(float(b), k, math.sqrt(cov * tau), math.exp(-r * tau), kind)
        for b in spots @ w
    ]
    np.testing.assert_allclose(g.price, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        an.bachelier_basket(spots, strike=k, maturity=tau, kind=kind, vols=vols, correlation=c,
                            rate=r, weights=w), g.price, atol=0
    )
    h = 1e-6
    for j in (0, 3, 6):
        up, dn = spots.copy(), spots.copy()
        up[:, j] += h
        dn[:, j] -= h
        fd = (
            an.bachelier_basket(up, strike=k, maturity=tau, kind=kind, vols=vols, correlation=c,
                                rate=r, weights=w)
            - an.bachelier_basket(dn, strike=k, maturity=tau, kind=kind, vols=vols, correlation=c,
                                  rate=r, weights=w)
        ) / (2 * h)
        np.testing.assert_allclose(g.delta[:, j], fd, atol=1e-8)


def test_bachelier_put_call_parity():
    spots = np.array([[0.9, 1.2], [1.3, 1.0]])
    w, vols, c = (0.4, 0.6), (0.2, 0.3), [[1.0, 0.3], [0.3, 1.0]]
    call = an.bachelier_basket(spots, strike=1.1, maturity=0.5, kind="call", vols=vols,
                               correlation=c, rate=0.03, weights=w)
    put = an.bachelier_basket(spots, strike=1.1, maturity=0.5, kind="put", vols=vols, correlation=c,
                              rate=0.03, weights=w)
    np.testing.assert_allclose(
        call - put, math.exp(-0.015) * (spots @ np.array(w) - 1.1), atol=1e-14
    )


# ---------------------------------------------------------------- XVA factor
def test_xva_factor_reproduces_methods_check_value():
    x = XVA(lambda_b=0.02, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)
    p = an.black_scholes(100.0, strike=100.0, maturity=1.0, kind="put", vol=0.25, rate=0.03,
                         dividend=0.01)
    assert an.xva_factor(x, 1.0) * p == pytest.approx(8.439938, abs=5e-7)
    assert an.xva_factor(x, 1.0, sign=-1) == pytest.approx(math.exp(-0.6 * 0.02), rel=1e-15)
    np.testing.assert_allclose(
        an.xva_factor(x, np.array([0.0, 2.0])), [1.0, math.exp(-2 * (0.6 * 0.05 + 0.6 * 0.02))]
    )


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: an.stulz_min([100, 100], strike=100, maturity=1, vols=(0.2, 0.3), rho=1.5),
            r"The 'rho' parameter of stulz_min must be in \[-1\.0, 1\.0\]\. Got 1\.5 instead\.",
        ),
        (
            lambda: an.stulz_max([100, 100], strike=100, maturity=1, vols=(0.2, -0.3), rho=0.5),
            r"'vols' parameter of stulz_max must be > 0\. Got -0\.3",
        ),
        (
            lambda: an.stulz_min([[100, 100, 1]], strike=100, maturity=1, vols=(0.2, 0.3), rho=0.5),
            r"'spots' parameter of stulz_min must be an array of shape \(n, 2\)",
        ),
        (
            lambda: an.stulz_min([100, 100], strike=100, maturity=1, vols=(0.2, 0.2), rho=1.0),
            r"'vols' parameter of stulz_min must be such that vol\(S1/S2\) > 0",
        ),
        (
            lambda: an.bachelier_basket([[1, 1]], strike=1, maturity=1, vols=(0.2, 0.2),
                                        correlation=[[1, 2], [2, 1]], weights=(0.5, 0.5)),
            r"'correlation' parameter of bachelier_basket must be with entries in \[-1, 1\]",
        ),
        (
            lambda: an.bachelier_basket([[1, 1]], strike=1, maturity=1, vols=(0.2, 0.2),
                                        correlation=np.eye(2), weights=(0.5,)),
            r"'weights' parameter of bachelier_basket must be of length 2",
        ),
        (
            lambda: an.bachelier_basket([[1, 1]], strike=1, maturity=-1.0, vols=(0.2, 0.2),
                                        correlation=np.eye(2), weights=(0.5, 0.5)),
            r"'maturity' parameter of bachelier_basket must be > 0\. Got -1\.0 instead\.",
        ),
        (
            lambda: an.xva_factor(XVA(), 1.0, sign=0),
            r"'sign' parameter of xva_factor must be \+1 or -1\. Got 0 instead\.",
        ),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
