"""The source step g(v) = v + theta dt f(v): its closed-form inverse against bisection, its
gradient against finite differences, and the label's cotangent against a bump."""

import numpy as np
import pytest
from scipy.optimize import brentq

from simulators import XVA
from training.backward import Scheme, Source
from training.backward import source as src

XVAS = [XVA(lambda_b=0.02, lambda_c=0.05), XVA(lambda_b=0.2, lambda_c=0.05),
        XVA(lambda_b=0.3, lambda_c=0.0, funding_spread=0.0)]


@pytest.mark.parametrize("xva", XVAS)
@pytest.mark.parametrize("scheme", list(Scheme))
def test_inverse_against_bisection(xva, scheme):
    s = Source.of(xva)
    dt = 0.25
    c = np.array([-40.0, -3.0, -1e-9, 0.0, 2e-7, 5.0, 80.0])
    v, _ = src.inverse(s, scheme.theta, dt, c)
    for ci, vi in zip(c, v, strict=True):
        root = brentq(lambda u, ci=ci: src.forward(s, scheme.theta, dt, np.array([u]))[0] - ci,
                      -1e3, 1e3, xtol=1e-14, rtol=1e-15)
        assert vi == pytest.approx(root, abs=1e-12)


@pytest.mark.parametrize("xva", XVAS)
def test_inverse_gradient_against_finite_differences(xva):
    s = Source.of(xva)
    theta, dt = 0.5, 0.1
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, 200)
    x = x[np.abs(x - 0.3) > 1e-3]  # away from the kink of C(x) = x - 0.3
    def c_of(x):
        return x - 0.3 + 0.1 * x ** 2
    grad_c = (1.0 + 0.2 * x)[:, None]
    _, g = src.inverse(s, theta, dt, c_of(x), grad_c)
    h = 1e-6
    fd = (src.inverse(s, theta, dt, c_of(x + h))[0]
          - src.inverse(s, theta, dt, c_of(x - h))[0]) / (2 * h)
    np.testing.assert_allclose(g[:, 0], fd, rtol=1e-7)


def test_label_cotangent_is_the_derivative_of_the_label():
    s = Source.of(XVA(lambda_b=0.2, lambda_c=0.05))
    v = np.array([-3.0, -0.5, 0.7, 4.0])
    grad = np.array([[1.5], [0.2], [-0.4], [2.0]])
    theta, dt, disc = 0.5, 0.2, 0.99
    _, w = src.label(s, theta, dt, disc, v, grad)
    h = 1e-6  # v moves along its gradient: dy = y'(v) grad h
    yp, _ = src.label(s, theta, dt, disc, v + grad[:, 0] * h, grad)
    ym, _ = src.label(s, theta, dt, disc, v - grad[:, 0] * h, grad)
    np.testing.assert_allclose(w[:, 0], (yp - ym) / (2 * h), rtol=1e-8)


def test_risk_free_source_is_zero_and_linear_flag():
    assert Source.of(None).linear and not Source.of(XVAS[0]).linear
    v, _ = src.inverse(Source.of(None), 1.0, 0.5, np.array([-2.0, 3.0]))
    np.testing.assert_array_equal(v, [-2.0, 3.0])
    assert Source.of(XVA(lambda_b=0.05, lambda_c=0.05, funding_spread=0.0)).linear


def test_one_signed_recursion_matches_the_exponential_to_the_scheme_order():
    """A deterministic check of the scheme itself: with C_k = D V_{k+1} exactly (no regression),
    N steps of a positive value give e^{-(r + b) T} up to O(dt) (implicit) / O(dt^2) (CN)."""
    s = Source.of(XVAS[1])
    big_t, r = 1.0, 0.03
    errs = {}
    for scheme in Scheme:
        for n in (10, 20):
            dt = big_t / n
            v = np.array([1.0])
            for _ in range(n):
                y, _ = src.label(s, scheme.theta, dt, np.exp(-r * dt), v, np.ones((1, 1)))
                v, _ = src.inverse(s, scheme.theta, dt, y)
            errs[scheme, n] = abs(v[0] / np.exp(-(r + s.pos) * big_t) - 1.0)
    assert errs[Scheme.IMPLICIT, 10] / errs[Scheme.IMPLICIT, 20] == pytest.approx(2.0, rel=0.05)
    assert errs[Scheme.CRANK_NICOLSON, 10] / errs[Scheme.CRANK_NICOLSON, 20] == pytest.approx(
        4.0, rel=0.05)
    assert errs[Scheme.CRANK_NICOLSON, 10] < 1e-4
