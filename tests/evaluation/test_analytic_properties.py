"""Property-based checks (hypothesis) of identities the closed forms must satisfy."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtr

import evaluation.analytic as an

real = st.floats(-6.0, 6.0, allow_nan=False)
corr = st.floats(-1.0, 1.0, allow_nan=False)
spot = st.floats(10.0, 300.0)
vol = st.floats(0.05, 0.8)
tau = st.floats(1.0 / 365.0, 5.0)
rate = st.floats(-0.02, 0.1)


@settings(max_examples=200, deadline=None)
@given(real, real, corr)
def test_bivariate_normal_identities(a, b, rho):
    m = an.bivariate_normal_cdf(a, b, rho)
    assert 0.0 <= m <= min(ndtr(a), ndtr(b)) + 1e-15
    assert abs(m - an.bivariate_normal_cdf(b, a, rho)) <= 1e-14
    # P(X <= a, Y <= b) + P(X <= a, Y > b) = P(X <= a), P(X <= a, Y > b) = M(a, -b; -rho).
    assert abs(m + an.bivariate_normal_cdf(a, -b, -rho) - ndtr(a)) <= 1e-14
    # Frechet bounds.
    assert m >= max(0.0, ndtr(a) + ndtr(b) - 1.0) - 1e-15


@settings(max_examples=100, deadline=None)
@given(spot, spot, vol, tau, rate, st.floats(0.0, 0.05))
def test_black_scholes_parity_and_bounds(s, k, sig, t, r, q):
    c = an.black_scholes(s, strike=k, maturity=t, vol=sig, rate=r, dividend=q, kind="call")
    p = an.black_scholes(s, strike=k, maturity=t, vol=sig, rate=r, dividend=q, kind="put")
    fwd = s * math.exp(-q * t) - k * math.exp(-r * t)
    assert abs(c - p - fwd) <= 1e-10 * max(s, k)
    assert max(fwd, 0.0) - 1e-10 * s <= c <= s * math.exp(-q * t) + 1e-12


@settings(max_examples=50, deadline=None)
@given(spot, spot, vol, vol, corr, tau, rate)
def test_stulz_min_below_each_vanilla_and_parity(s1, s2, v1, v2, rho, t, r):
    if v1 * v1 + v2 * v2 - 2 * rho * v1 * v2 < 1e-6:
        return
    k = 100.0
    call = an.stulz_min([s1, s2], strike=k, maturity=t, kind="call", vols=(v1, v2), rho=rho,
                        rate=r).price[0]
    put = an.stulz_min([s1, s2], strike=k, maturity=t, kind="put", vols=(v1, v2), rho=rho,
                       rate=r).price[0]
    c1 = an.black_scholes(s1, strike=k, maturity=t, vol=v1, rate=r, dividend=0.0, kind="call")
    c2 = an.black_scholes(s2, strike=k, maturity=t, vol=v2, rate=r, dividend=0.0, kind="call")
    assert call <= min(c1, c2) + 1e-10
    # call(K) - put(K) = value of min(S1, S2) - K e^{-rT}, and min(S1, S2) = S1 - (S1 - S2)^+:
    # S1 less Margrabe's exchange option (no dividends), sigma^2 = v1^2 + v2^2 - 2 rho v1 v2
    sig = math.sqrt((v1 * v1 + v2 * v2 - 2 * rho * v1 * v2) * t)
    d1 = math.log(s1 / s2) / sig + 0.5 * sig
    zero = s1 - (s1 * ndtr(d1) - s2 * ndtr(d1 - sig))
    assert abs(call - put - (zero - k * math.exp(-r * t))) <= 1e-9 * max(s1, s2, k)
    assert np.all(np.isfinite([call, put]))
