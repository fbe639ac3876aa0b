"""1-D Crank-Nicolson solver: risk-free and risky values against closed forms, convergence order,
the non-linear XVA source with sign-changing payoffs, and argument errors."""

import math

import numpy as np
import pytest

import evaluation.analytic as an
import evaluation.fd as fd
from simulators.xva import XVA

K, T, VOL, R, Q = 100.0, 1.0, 0.25, 0.03, 0.01
XVA_CHECK = XVA(lambda_b=0.02, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)


def test_methods_check_value_risky_put():
    """docs/methods.md section 2: the closed form gives 8.439938 at S = K; FD within 1e-4 relative."""
    exact = an.black_scholes(K, strike=K, maturity=T, kind="put", vol=VOL, rate=R,
                             dividend=Q) * an.xva_factor(XVA_CHECK, T)
    assert exact == pytest.approx(8.439938, abs=5e-7)
    sol = fd.black_scholes_1d(strike=K, maturity=T, kind="put", vol=VOL, rate=R, dividend=Q,
                              xva=XVA_CHECK)
    got = sol.price([K])[0]
    assert abs(got / exact - 1.0) <= 1e-4
    assert sol.stats.iterations > 0 and sol.stats.max_iterations_per_step <= 5


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("xva", [None, XVA_CHECK], ids=["risk-free", "risky"])
def test_price_delta_gamma_match_closed_form(kind, xva):
    sol = fd.black_scholes_1d(strike=K, maturity=T, vol=VOL, rate=R, dividend=Q, kind=kind, xva=xva)
    s = np.array([70.0, 90.0, 100.0, 110.0, 140.0])
    g = an.black_scholes_greeks(s, strike=K, maturity=T, vol=VOL, rate=R, dividend=Q, kind=kind)
    f = 1.0 if xva is None else an.xva_factor(xva, T)
    np.testing.assert_allclose(sol.price(s), f * g.price, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(sol.delta(s), f * g.delta, atol=2e-5)
    np.testing.assert_allclose(sol.gamma(s), f * g.gamma, atol=2e-5)


def test_spatial_convergence_order_is_two():
    """Error at S = K for 4 grids (3 refinements), time steps fine enough to be negligible."""
    exact = an.black_scholes(K, strike=K, maturity=T, kind="put", vol=VOL, rate=R,
                             dividend=Q) * an.xva_factor(XVA_CHECK, T)
    ns = np.array([50, 100, 200, 400])
    errs = [
        abs(
            fd.black_scholes_1d(strike=K, maturity=T, kind="put", vol=VOL, rate=R, dividend=Q,
                                xva=XVA_CHECK, n_space=n, n_time=800).price([K])[0]
            - exact
        )
        for n in ns
    ]
    slope = -np.polyfit(np.log(ns), np.log(errs), 1)[0]
    assert abs(slope - 2.0) <= 0.3, (slope, errs)


@pytest.mark.parametrize(
    ("tau", "cluster", "s_max"),
    [(0.02, 0.2, None), (0.02, 0.05, None), (5.0, None, 1000.0), (5.0, 0.2, None)],
)
def test_short_and_long_maturities_clustered_and_uniform(tau, cluster, s_max):
    sol = fd.black_scholes_1d(strike=K, maturity=tau, kind="call", vol=0.3, rate=0.02, dividend=0.0,
                              s_max=s_max, n_space=800, n_time=400, cluster=cluster)
    assert sol.price([K])[0] == pytest.approx(
        an.black_scholes(K, strike=K, maturity=tau, kind="call", vol=0.3, rate=0.02,
                         dividend=0.0), rel=2e-4
    )


def test_one_signed_negative_payoff_uses_seller_spread():
    """A short put (payoff <= 0) is discounted at c = (1 - R_B) lambda_B."""
    sol = fd.black_scholes_1d(strike=K, maturity=T, vol=VOL, rate=R, dividend=Q, xva=XVA_CHECK,
                              payoff=lambda s: -np.maximum(K - s, 0))
    s = np.array([90.0, 100.0, 110.0])
    exact = -an.black_scholes(s, strike=K, maturity=T, kind="put", vol=VOL, rate=R,
                              dividend=Q) * an.xva_factor(XVA_CHECK, T, sign=-1)
    np.testing.assert_allclose(sol.price(s), exact, rtol=1e-4)


@pytest.mark.parametrize("strikes", [(100.0, 100.0), (90.0, 115.0)], ids=["forward", "collar"])
@pytest.mark.parametrize("xva", [XVA_CHECK, XVA(lambda_b=0.2, lambda_c=0.05, funding_spread=0.0)],
                         ids=["c+>c-", "c+<c-"])
def test_sign_changing_payoff_nonlinear_xva(strikes, xva):
    """Long call(K1) + short put(K2), whose value changes sign.

    With c+ >= c-, f(V) = max(c+ V, c- V) is convex and positively homogeneous, so by the
    comparison principle the risky value V lies below both linear solutions e^{-c tau} V_rf
    (c = c+, c-) and above the sum of the risky values of the two one-signed legs,
    e^{-c+ tau} C - e^{-c- tau} P. (It is not between the two linear solutions: it is below
    both.) With c+ < c-, f(V) = min(c+ V, c- V) is concave and both inequalities turn.
    """
    k1, k2 = strikes
    pay = lambda s: np.maximum(s - k1, 0.0) - np.maximum(k2 - s, 0.0)
    sol = fd.black_scholes_1d(strike=K, maturity=T, vol=VOL, rate=R, dividend=Q, xva=xva,
                              payoff=pay, n_space=400, n_time=200)
    st = sol.stats
    assert st.iterations > 0 and st.max_iterations_per_step <= 5
    assert st.last_increment <= 1e-12 * 400.0
    s = np.linspace(40.0, 250.0, 43)
    c = an.black_scholes(s, strike=k1, maturity=T, vol=VOL, rate=R, dividend=Q, kind="call")
    p = an.black_scholes(s, strike=k2, maturity=T, vol=VOL, rate=R, dividend=Q, kind="put")
    cp, cn = xva.spread(1), xva.spread(-1)
    v = sol.price(s)
    tol = 2e-4 * np.maximum(1.0, np.abs(v))  # discretisation error allowance
    linear = np.stack([math.exp(-cp * T) * (c - p), math.exp(-cn * T) * (c - p)])
    parts = math.exp(-cp * T) * c - math.exp(-cn * T) * p
    if cp >= cn:
        upper, lower = linear.min(axis=0), parts
    else:
        upper, lower = parts, linear.max(axis=0)
    assert np.all(v <= upper + tol)
    assert np.all(v >= lower - tol)
    assert np.any(upper - lower > 50 * tol)  # the bounds are informative
    # Picard fixed point: a tighter tolerance does not move the solution.
    tight = fd.black_scholes_1d(strike=K, maturity=T, vol=VOL, rate=R, dividend=Q, xva=xva,
                                payoff=pay, n_space=400, n_time=200, tol=1e-15)
    np.testing.assert_allclose(tight.price(s), v, atol=1e-9)


def test_zero_xva_equals_risk_free():
    a = fd.black_scholes_1d(strike=K, maturity=T, kind="put", vol=VOL, rate=R, dividend=Q,
                            xva=XVA(), n_space=100, n_time=50)
    b = fd.black_scholes_1d(strike=K, maturity=T, kind="put", vol=VOL, rate=R, dividend=Q, xva=None,
                            n_space=100, n_time=50)
    np.testing.assert_array_equal(a.values, b.values)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            dict(vol=-0.2),
            r"The 'vol' parameter of black_scholes_1d must be > 0\. Got -0\.2 instead\.",
        ),
        (dict(maturity=0.0), r"'maturity' parameter of black_scholes_1d must be > 0\. Got 0\.0"),
        (
            dict(n_space=2),
            r"'n_space' parameter of black_scholes_1d must be an integer in \[4, 16777215\]\. Got 2",
        ),
        (
            dict(n_time=0),
            r"'n_time' parameter of black_scholes_1d must be an integer in \[1, 10000000\]\. Got 0",
        ),
        (
            dict(s_max=90.0),
            r"'s_max' parameter of black_scholes_1d must be > strike = 100 \(the"
            r" domain must contain the strike\)\. Got 90\.0 instead\.",
        ),
        (
            dict(kind="digital"),
            r"'kind' parameter of black_scholes_1d must be one of 'call', 'put'",
        ),
        (dict(xva=0.05), r"'xva' parameter of black_scholes_1d must be a simulators\.XVA"),
        (dict(payoff=3.0), r"'payoff' parameter of black_scholes_1d must be a callable"),
    ],
)
def test_errors(kwargs, match):
    args = dict(strike=K, maturity=T, vol=VOL, rate=R, n_space=50, n_time=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fd.black_scholes_1d(**args)


def test_points_outside_grid():
    sol = fd.black_scholes_1d(strike=K, maturity=T, kind="put", vol=VOL, rate=R, n_space=50,
                              n_time=10)
    with pytest.raises(ValueError, match=r"'points' parameter of FDSolution\.price must be inside"):
        sol.price([1000.0])
    with pytest.raises(ValueError, match=r"vega is only available"):
        sol.vega([100.0])


@pytest.mark.parametrize("maturity,tol", [(1.0 / 365.0, 3e-4), (1e-4, 5e-4)])
def test_default_grid_resolves_short_maturities(maturity, tol):
    # cluster="auto" narrows the grid to vol sqrt(T) K: a one-day put at the money
    ref = an.black_scholes(100.0, strike=100.0, maturity=maturity, kind="put", vol=0.2, rate=0.03)
    got = fd.black_scholes_1d(strike=100.0, maturity=maturity, kind="put", vol=0.2,
                              rate=0.03).price([100.0])[0]
    assert got == pytest.approx(ref, rel=tol)


def test_cluster_refuses_other_text():
    with pytest.raises(ValueError, match=r"The 'cluster' parameter of black_scholes_1d must be a "
                                         r"number > 0, None or 'auto'\. Got 'wide' instead\."):
        fd.black_scholes_1d(strike=100.0, maturity=1.0, vol=0.2, rate=0.0, cluster="wide")


def test_a_uniform_grid_keeps_its_upper_bound_and_warns_when_it_cannot_resolve_the_strike():
    """cluster=None with the strike within half a step of 0 shrank the domain to 40,000 for
    s_max = 1e5 (a point at 50,000 was then refused); it now covers [0, s_max] exactly, one
    cell below the strike, and says that cell cannot resolve the value there."""
    import warnings

    common = dict(strike=100.0, maturity=1.0, vol=0.2, rate=0.0, cluster=None)
    with pytest.warns(RuntimeWarning, match=r"leaves 1 cell\(s\) between 0 and the center 100"):
        sol = fd.black_scholes_1d(s_max=1e5, **common)
    assert sol.stats.upper == (1e5,)
    assert np.isfinite(sol.price(np.array([50_000.0]))).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol = fd.black_scholes_1d(s_max=400.0, n_space=160, **common)
        assert sol.stats.upper == (400.0,)
        # a strike that is not a node of the uniform grid: the last node was at
        # 6400 / 6 x 100 = 106,667 for s_max = 1e5 (at 60,000 for a strike of 600)
        wide = fd.black_scholes_1d(**{**common, "strike": 6400.0}, s_max=1e5, n_space=100)
    assert wide.stats.upper == (1e5,)
    assert np.isfinite(wide.price(np.array([99_000.0]))).all()


def test_default_domain_reaches_past_the_forward_at_the_money_spot_under_a_negative_carry():
    """q = 0.3 over 5 years: the spot whose forward is the strike is K e^{1.5} = 448, beyond
    the old default box (4 K = 400: a price there was refused). The drift dominates the
    diffusion (2 |r - q| / vol^2 = 240), which central differences do not resolve away from
    that spot: the solver says so."""
    common = dict(strike=100.0, maturity=5.0, vol=0.05, rate=0.0, dividend=0.3, kind="call")
    with pytest.warns(RuntimeWarning, match=r"the drift dominates the diffusion \(2 \|r - q\| "
                                            r"/ vol\^2 = 240\)"):
        sol = fd.black_scholes_1d(**common)
    assert sol.stats.upper[0] > 448.0 * math.exp(5.0 * 0.05 * math.sqrt(5.0)) * 0.99
    spots = np.array([448.0, 500.0])
    ref = an.black_scholes(spots, **common)
    np.testing.assert_allclose(sol.price(spots), ref, rtol=1e-2)


def test_a_default_box_beyond_the_float_range_is_one_line():
    with pytest.raises(ValueError, match=r"The 's_max' parameter of black_scholes_1d must be "
                                         r"given explicitly here"):
        fd.black_scholes_1d(strike=100.0, maturity=5.0, vol=0.2, rate=0.0, dividend=200.0)
