"""2-D ADI solvers: worst-of vs Stulz, arithmetic basket vs QuantLib's Choi engine, Heston vs the
characteristic function; risky values via e^{-c tau}; grid refinement; argument errors."""

import math

import numpy as np
import pytest

import evaluation.analytic as an
import evaluation.fd as fd
from simulators.xva import XVA

pytest.importorskip("QuantLib")
from tests.evaluation import _ql  # noqa: E402

XVA_CHECK = XVA(lambda_b=0.02, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)
# Project basket set (docs/methods.md section 2): K 100, T 0.5, vols (0.25, 0.35), rho 0.5, r 0.03.
BASKET = dict(strike=100.0, maturity=0.5, vols=(0.25, 0.35), rho=0.5, rate=0.03)
NEAR = np.array([[100.0, 100.0], [95.0, 105.0], [105.0, 95.0], [110.0, 100.0]])
# Project Heston set: K = 100, T = 1, r = 0.025, kappa 1.5, theta 0.04, xi 0.3, rho -0.9.
HESTON = dict(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.025)


@pytest.mark.parametrize("xva", [None, XVA_CHECK], ids=["risk-free", "risky"])
def test_worst_of_put_matches_stulz_on_default_grid(xva):
    sol = fd.basket_2d(**BASKET, style="worst_of", kind="put", xva=xva)
    ref = an.stulz_min(NEAR, strike=100.0, maturity=0.5, kind="put", vols=(0.25, 0.35), rho=0.5,
                       rate=0.03)
    f = 1.0 if xva is None else an.xva_factor(xva, 0.5)
    rel = np.abs(sol.price(NEAR) / (f * ref.price) - 1.0)
    assert np.all(rel <= 1e-3), rel
    np.testing.assert_allclose(sol.delta(NEAR), f * ref.delta, atol=2e-3)


def test_worst_of_converges_under_refinement():
    ref = an.stulz_min([100.0, 100.0], strike=100.0, maturity=0.5, kind="put", vols=(0.25, 0.35),
                       rho=0.5, rate=0.03)
    errs = [
        abs(
            fd.basket_2d(kind="put", style="worst_of", n_space=n, n_time=n // 2,
                         **BASKET).price([[100, 100]])[
                0
            ]
            - ref.price[0]
        )
        for n in (30, 60, 120)
    ]
    assert errs[0] > errs[1] > errs[2]
    order = np.log2(errs[0] / errs[1]), np.log2(errs[1] / errs[2])
    assert min(order) > 1.5, (errs, order)


def test_best_of_call_matches_stulz():
    sol = fd.basket_2d(**BASKET, style="best_of", kind="call")
    ref = an.stulz_max(NEAR, strike=100.0, maturity=0.5, kind="call", vols=(0.25, 0.35), rho=0.5,
                       rate=0.03)
    np.testing.assert_allclose(sol.price(NEAR), ref.price, rtol=1e-3)


@pytest.mark.parametrize("xva", [None, XVA_CHECK], ids=["risk-free", "risky"])
def test_arithmetic_basket_put_matches_choi_engine(xva):
    days = 182
    tau = days / 365.0
    sol = fd.basket_2d(strike=100.0, maturity=tau, kind="put", vols=(0.25, 0.35), rho=0.5,
                       rate=0.03, weights=(0.5, 0.5), xva=xva)
    f = 1.0 if xva is None else an.xva_factor(xva, tau)
    for s1, s2 in NEAR:
        ref = _ql.choi_basket("put", s1, s2, 100.0, days, 0.25, 0.35, 0.5, 0.03, 0, 0, 0.5, 0.5)
        assert sol.price([[s1, s2]])[0] == pytest.approx(f * ref, rel=1e-3)


def test_perfectly_correlated_basket_is_black_scholes():
    """rho = 1 and equal vols: w . S_T = (w . S) x (one lognormal factor), a Black-Scholes put."""
    w = np.array([0.3, 0.7])
    sol = fd.basket_2d(strike=100.0, maturity=0.5, kind="put", vols=(0.3, 0.3), rho=1.0, rate=0.03,
                       weights=tuple(w))
    pts = np.array([[100.0, 100.0], [90.0, 110.0], [120.0, 95.0]])
    g = an.black_scholes_greeks(pts @ w, strike=100.0, maturity=0.5, kind="put", vol=0.3, rate=0.03,
                                dividend=0.0)
    np.testing.assert_allclose(sol.price(pts), g.price, rtol=1e-3)
    np.testing.assert_allclose(sol.delta(pts), g.delta[:, None] * w[None, :], atol=1e-3)
    hess = g.gamma[:, None, None] * np.outer(w, w)[None, :, :]
    np.testing.assert_allclose(sol.gamma(pts), hess, atol=3e-4)


def test_sign_changing_basket_forward():
    """Linear payoff w . S - K: risk-free exact; risky bounded as in the 1-D case."""
    pay = lambda s1, s2: 0.5 * s1 + 0.5 * s2 - 100.0
    tau = 182 / 365.0
    args = dict(strike=100.0, maturity=tau, vols=(0.25, 0.35), rho=0.5, rate=0.03)
    rf = fd.basket_2d(**args, payoff=pay, n_space=60, n_time=30)
    exact = NEAR @ [0.5, 0.5] - 100.0 * math.exp(-0.03 * tau)
    # Space is exact for linear functions; what remains is the damped start's O(dt^2) time error.
    np.testing.assert_allclose(rf.price(NEAR), exact, atol=5e-5)
    risky = fd.basket_2d(**args, payoff=pay, xva=XVA_CHECK).price(NEAR)
    cp, cn = XVA_CHECK.spread(1), XVA_CHECK.spread(-1)
    call = np.array(
        [
            _ql.choi_basket("call", *p, 100.0, 182, 0.25, 0.35, 0.5, 0.03, 0, 0, 0.5, 0.5)
            for p in NEAR
        ]
    )
    put = np.array(
        [
            _ql.choi_basket("put", *p, 100.0, 182, 0.25, 0.35, 0.5, 0.03, 0, 0, 0.5, 0.5)
            for p in NEAR
        ]
    )
    upper = np.minimum(math.exp(-cp * tau) * exact, math.exp(-cn * tau) * exact)
    lower = math.exp(-cp * tau) * call - math.exp(-cn * tau) * put
    assert np.all(risky <= upper + 5e-3) and np.all(risky >= lower - 5e-3)
    assert np.all(upper - lower > 0.02)


@pytest.mark.parametrize("xva", [None, XVA_CHECK], ids=["risk-free", "risky"])
def test_heston_put_matches_characteristic_function(xva):
    sol = fd.heston_2d(strike=100.0, maturity=1.0, **HESTON, kind="put", xva=xva)
    spots = np.array([90.0, 100.0, 110.0])
    for v0 in (0.04, 0.09):
        pts = np.c_[spots, np.full(3, v0)]
        g = an.heston_greeks(spots, strike=100.0, maturity=1.0, variance=v0, **HESTON, kind="put")
        f = 1.0 if xva is None else an.xva_factor(xva, 1.0)
        rel = np.abs(sol.price(pts) / (f * g.price) - 1.0)
        assert np.all(rel <= 1e-3), rel
        np.testing.assert_allclose(sol.delta(pts), f * g.delta, atol=1e-3)
        np.testing.assert_allclose(sol.vega(pts), f * g.vega, rtol=2e-2, atol=0.05)


def test_heston_converges_under_refinement():
    ref = an.heston(100.0, strike=100.0, maturity=1.0, variance=0.04, **HESTON, kind="put")
    errs = [
        abs(
            fd.heston_2d(strike=100.0, maturity=1.0, kind="put", n_space=(n, n // 2), n_time=n // 2,
                         **HESTON).price(
                [[100.0, 0.04]]
            )[0]
            - ref
        )
        for n in (40, 80, 160)
    ]
    assert errs[0] > errs[1] > errs[2]
    order = np.log2(errs[0] / errs[1]), np.log2(errs[1] / errs[2])
    assert min(order) > 1.5, (errs, order)


def test_heston_gamma_matches_central_difference_of_cf_price():
    sol = fd.heston_2d(strike=100.0, maturity=1.0, kind="put", **HESTON)
    h = 0.5
    p = an.heston(np.array([100.0 - h, 100.0, 100.0 + h]), 0.04, strike=100.0, maturity=1.0,
                  kind="put", **HESTON)
    fd_gamma = (p[0] - 2 * p[1] + p[2]) / h**2
    assert sol.gamma([[100.0, 0.04]])[0] == pytest.approx(fd_gamma, rel=1e-2)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: fd.basket_2d(strike=100, maturity=0.5, vols=(0.25, -0.35), rho=0.5, rate=0.03),
            r"The 'vols' parameter of basket_2d must be > 0\. Got -0\.35 instead\.",
        ),
        (
            lambda: fd.basket_2d(strike=100, maturity=0.5, vols=(0.25, 0.35), rho=1.2, rate=0.03),
            r"'rho' parameter of basket_2d must be in \[-1\.0, 1\.0\]\. Got 1\.2 instead\.",
        ),
        (
            lambda: fd.basket_2d(strike=100, maturity=0.5, vols=0.25, rho=0.5, rate=0.03,
                                 n_space=(50, 3)),
            r"'n_space' parameter of basket_2d must be an integer >= 4\. Got 3 instead\.",
        ),
        (
            lambda: fd.basket_2d(strike=100, maturity=0.5, vols=0.25, rho=0.5, rate=0.03,
                                 style="rainbow"),
            r"'style' parameter of basket_2d must be one of 'arithmetic', 'worst_of', 'best_of'",
        ),
        (
            lambda: fd.basket_2d(strike=100, maturity=0.5, vols=0.25, rho=0.5, rate=0.03,
                                 s_max=(400, 80)),
            r"'s_max' parameter of basket_2d must be > 100 \(the domain must contain",
        ),
        (
            lambda: fd.heston_2d(strike=100, maturity=1, kappa=1.5, theta=0.04, xi=0.3, rho=-1.1,
                                 rate=0.02),
            r"The 'rho' parameter of heston_2d must be in \[-1\.0, 1\.0\]\. Got -1\.1 instead\.",
        ),
        (
            lambda: fd.heston_2d(strike=100, maturity=-1, kappa=1.5, theta=0.04, xi=0.3, rho=-0.5,
                                 rate=0.02),
            r"'maturity' parameter of heston_2d must be > 0\. Got -1 instead\.",
        ),
        (
            lambda: fd.heston_2d(strike=100, maturity=1, kappa=1.5, theta=0.04, xi=0.3, rho=-0.5,
                                 rate=0.02, v_max=0.0),
            r"'v_max' parameter of heston_2d must be > 0\. Got 0\.0 instead\.",
        ),
        (
            lambda: fd.heston_2d(strike=100, maturity=1, kappa=1.5, theta=0.04, xi=0.3, rho=-0.5,
                                 rate=0.02, s_max=50.0),
            r"'s_max' parameter of heston_2d must be > 100 \(the domain must contain the strike\)",
        ),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_solution_point_shapes():
    sol = fd.basket_2d(kind="put", **BASKET, n_space=20, n_time=5)
    assert sol.price(NEAR).shape == (4,)
    assert sol.delta(NEAR).shape == (4, 2)
    assert sol.gamma(NEAR).shape == (4, 2, 2)
    assert sol.stats.n_space == (20, 20) and sol.stats.elapsed_s > 0
    with pytest.raises(
        ValueError, match=r"'points' parameter of FDSolution\.delta must be of shape"
    ):
        sol.delta([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"must be inside the grid, spot_2 in \[0, "):
        sol.price([[100.0, -5.0]])


def test_heston_feller_violated_large_vol_of_vol():
    """2 kappa theta < xi^2 (0.06 < 1): the degenerate v = 0 boundary still needs no condition."""
    params = dict(kappa=0.5, theta=0.06, xi=1.0, rho=-0.5, rate=0.03)
    sol = fd.heston_2d(strike=100.0, maturity=1.0, **params, kind="put")
    spots = np.array([90.0, 100.0, 110.0])
    for v0 in (0.04, 0.2):
        ref = an.heston(spots, strike=100.0, maturity=1.0, variance=v0, **params, kind="put")
        rel = np.abs(sol.price(np.c_[spots, np.full(3, v0)]) / ref - 1.0)
        assert np.all(rel <= 1e-3), rel


def test_default_grids_resolve_one_day_to_maturity():
    # cluster="auto" narrows the S clustering for short maturities (fixed widths: 2 % errors)
    t = 1.0 / 365.0
    basket = {**BASKET, "maturity": t}
    ref = an.arithmetic_basket_2d([[100.0, 100.0]], kind="put", **basket).price[0]
    got = fd.basket_2d(kind="put", **basket).price(np.array([[100.0, 100.0]]))[0]
    assert got == pytest.approx(ref, rel=1.5e-3)
    ref = an.heston(100.0, 0.04, strike=100.0, maturity=t, kind="put", **HESTON)
    got = fd.heston_2d(strike=100.0, maturity=t, kind="put", **HESTON).price(
        np.array([[100.0, 0.04]]))[0]
    assert got == pytest.approx(ref, rel=2e-3)


@pytest.mark.parametrize("case,rtol", [
    # a low long-run variance: the default v grid clusters within theta / 4 of 0 (it held five
    # nodes in [0, 4 theta]: 12.8 % off at v = theta / 4)
    (dict(maturity=0.25, kappa=1.5, theta=0.001, xi=0.1, rho=-0.5, rate=0.0,
          points=[(100.0, 0.001), (100.0, 0.00025), (97.0, 0.001)]), 5e-3),
    # a long maturity at a high variance: S_max from e^{5 sqrt(theta T)} (4 K was 7.3 % off)
    (dict(maturity=10.0, kappa=1.5, theta=0.16, xi=0.3, rho=-0.9, rate=0.025,
          points=[(100.0, 0.16), (150.0, 0.16)]), 1e-3),
])
def test_default_grid_follows_the_long_run_variance_and_maturity(case, rtol):
    case = dict(case)
    points = np.array(case.pop("points"))
    ref = np.array([an.heston(s, v, strike=100.0, kind="put", **case) for s, v in points]).ravel()
    got = fd.heston_2d(strike=100.0, kind="put", **case).price(points)
    np.testing.assert_allclose(got, ref, rtol=rtol)


def test_heston_default_domain_reaches_past_the_forward_at_the_money_spot():
    """q = 0.3 over 5 years: the spot whose forward is the strike is K e^{1.5} = 448; the old
    default box (4 K, S up to 389 after the grid's last step) refused a price there."""
    sol = fd.heston_2d(strike=100.0, maturity=5.0, kind="call", kappa=1.5, theta=0.0025,
                       xi=0.05, rho=-0.5, rate=0.0, dividend=0.3, n_time=20)
    assert sol.stats.upper[0] > 448.0
    assert np.isfinite(sol.price(np.array([[450.0, 0.0025]]))).all()


def test_diffusion_along_the_kink_is_warned_about_and_is_where_the_error_grows():
    """Beyond KINK_RHO the grid resolves the kink at first order: the warning is where the
    default grid's error against the closed form passes 0.5 %."""
    import warnings

    points = np.array([[100.0, 100.0], [120.0, 80.0], [90.0, 110.0]])
    common = dict(strike=100.0, maturity=1.0, kind="put", vols=(0.2, 0.3), rate=0.03)
    errors = {}
    for rho in (-0.8, -0.9):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            sol = fd.basket_2d(rho=rho, **common)
        ref = an.arithmetic_basket_2d(points, rho=rho, **common).price
        errors[rho] = (float(np.max(np.abs(sol.price(points) / ref - 1.0))),
                       [str(w.message) for w in seen if w.category is RuntimeWarning])
    assert errors[-0.8][0] < 2e-3 and errors[-0.8][1] == []
    assert errors[-0.9][0] > 5e-3
    assert any("runs nearly along the arithmetic payoff's kink" in m for m in errors[-0.9][1])
    with pytest.warns(RuntimeWarning, match="worst_of payoff's kink"):
        fd.basket_2d(rho=0.99, style="worst_of", n_space=(8, 8), n_time=2, **common)
