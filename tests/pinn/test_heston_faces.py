"""The Heston problem's variance faces against its exact solution.

Oracle: the characteristic-function price and Greeks of :mod:`evaluation.analytic` (NumPy,
independent of ``training.pinn``'s torch operators), with dV/dtau by a central difference in the
maturity. For a one-signed payoff the risky value is ``e^{-c tau}`` times that price.

* v = 0 under the Feller condition: the face's residual is the degenerate PDE, which the exact
  solution satisfies (every v-weighted term vanishes there, the drift ``kappa theta V_v`` stays);
  so the boundary-safe residual at v = 0 must vanish on it, to the oracle's accuracy.
* v = v_max: the reduced residual drops terms the exact solution does not zero; the reduced
  residual must equal minus the dropped terms, computed from the oracle's Greeks.
"""

import numpy as np
import pytest
import torch

import evaluation.analytic as an
from training.pinn.problems.base import Derivatives

from .conftest import C_PUT, XVA_CASE, heston_put

torch.set_default_dtype(torch.float64)

K = 100.0
# dV/dtau by a central difference with step H_TAU: truncation about H_TAU^2 V_ttt / 6 and
# cancellation about 1e-13 K / H_TAU, both far below this tolerance in units of K per year
TOL = 1e-6
H_TAU = 1e-4


def _exact(p, tau, s, v):
    """Derivatives of u = V / K at (tau, s, v): the exact risky price and its Greeks."""
    args = dict(strike=p.strike, kind=p.kind, kappa=p.kappa, theta=p.theta, xi=p.xi, rho=p.rho,
                rate=p.rate, dividend=p.dividend)
    assert p.payoff_sign > 0  # a put: the spread is b, written here from the XVA parameters
    c = 0.0 if p.xva is None else C_PUT
    pts = list(zip(tau, s, v, strict=True))
    greeks = [an.heston_greeks(si, vi, maturity=ti, **args) for ti, si, vi in pts]
    up = np.array([an.heston(si, vi, maturity=ti + H_TAU, **args) for ti, si, vi in pts])
    dn = np.array([an.heston(si, vi, maturity=ti - H_TAU, **args) for ti, si, vi in pts])
    price = np.array([g.price for g in greeks])
    disc = np.exp(-c * tau)

    def t(a):
        return torch.as_tensor(np.asarray(a, dtype=np.float64) * disc / K)

    d_tau = (up - dn) / (2.0 * H_TAU) - c * price
    grad = torch.stack([t([g.delta for g in greeks]), t([g.vega for g in greeks])], dim=1)
    hess = torch.stack([
        torch.stack([t([g.gamma for g in greeks]), t([g.vanna for g in greeks])], dim=1),
        torch.stack([t([g.vanna for g in greeks]), t([g.volga for g in greeks])], dim=1),
    ], dim=1)
    return Derivatives(value=t(price), tau=t(d_tau), grad=grad, hess=hess)


def _points(v_face):
    tau = np.array([0.1, 0.3, 0.5, 0.8, 1.0, 0.6])
    s = np.array([60.0, 90.0, 100.0, 110.0, 150.0, 220.0])
    return tau, s, np.full_like(s, v_face)


def _face(p, name):
    return next(f for f in p.faces() if f.name == name)


@pytest.mark.parametrize("xva", [None, XVA_CASE], ids=["risk_free", "xva"])
def test_interior_residual_vanishes_on_the_exact_solution(xva):
    """Sanity check of the oracle itself: the full PDE at interior points."""
    p = heston_put(xva=xva)
    tau, s, _ = _points(0.0)
    v = np.array([0.01, 0.04, 0.09, 0.2, 0.04, 0.5])
    x = torch.as_tensor(np.stack([s, v], axis=1))
    r = p.residual(x, _exact(p, tau, s, v))
    assert float(r.abs().max()) < TOL


@pytest.mark.parametrize("xva", [None, XVA_CASE], ids=["risk_free", "xva"])
def test_variance_zero_face_residual_vanishes_on_the_exact_solution(xva):
    p = heston_put(xva=xva)
    assert p.feller
    face = _face(p, "variance_min")
    tau, s, v = _points(0.0)
    d = _exact(p, tau, s, v)
    x = torch.as_tensor(np.stack([s, v], axis=1))
    r = p.residual(x, d, face.drop)
    # the drift term kappa theta V_v is what keeps the face's residual at zero; without it the
    # residual would be of its size, which this check would see
    drift = p.kappa * p.theta * d.grad[:, 1]
    assert float(drift.abs().max()) > 1e3 * TOL
    assert float(r.abs().max()) < TOL


@pytest.mark.parametrize("condition, dropped", [("neumann", ("v", "Sv")), ("linear", ("vv",))])
def test_variance_max_face_residual_is_minus_the_dropped_terms(condition, dropped):
    p = heston_put(v_max_condition=condition, v_max=1.0)
    face = _face(p, "variance_max")
    assert face.drop == frozenset(dropped)
    tau, s, v = _points(p.v_max)
    d = _exact(p, tau, s, v)
    x = torch.as_tensor(np.stack([s, v], axis=1))
    r = p.residual(x, d, face.drop)
    var, sv, vv, dv = x[:, 1], d.hess[:, 0, 1], d.hess[:, 1, 1], d.grad[:, 1]
    terms = {"v": p.kappa * (p.theta - var) * dv, "Sv": p.rho * p.xi * var * x[:, 0] * sv,
             "vv": 0.5 * p.xi**2 * var * vv}
    expected = sum(terms[k] for k in dropped)
    # with the terms dropped, the residual of the exact solution is what they held: + their sum
    # (the residual is V_tau - L V + r V, and L V with them removed is L V minus them)
    assert float(expected.abs().max()) > 1e3 * TOL  # the dropped terms are not negligible here
    np.testing.assert_allclose(r.numpy(), expected.numpy(), rtol=0.0, atol=TOL)
