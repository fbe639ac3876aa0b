"""Risk-free Heston price and its derivatives up to second order, for the PINN's base function.

The same characteristic-function formula as :func:`evaluation.analytic.heston` (Lewis's single
integral, "little Heston trap" form), integrated with a fixed Gauss-Legendre rule per point
instead of adaptive quadrature, so thousands of collocation points cost seconds:

* the envelope of the integrands, ``|phi(u - i/2)| (1 + |D|)^2 (1 + u)^2 / (u^2 + 1/4)`` (the
  second derivatives multiply by up to u^2 or |D|^2), is scanned on a geometric grid and the range
  is cut where it falls below 1e-15 of its value at u = 0 (small tau and v need u ~ 1e4);
* points further from the money than 12 "standard deviations" of ln S_T (the square root of
  4 times the expected variance left plus a vol-of-vol term) take the forward intrinsic value:
  the integral would need millions of oscillations of ``e^{iux}`` there at small tau v. Heston's
  tails are not Gaussian, so this is a measured, not a proven, bound: at the threshold the
  adaptive reference differs from the intrinsic value by at most 7.5e-10 K in random tests (xi
  up to 3, tau up to 2, rho of either sign). A wider threshold is worse, not better: with
  xi >= 2 and tau <= 0.02 the integral itself loses accuracy beyond about 8 deviations (up to
  2e-5 K at 12.5, 6e-5 K at 16), where the intrinsic value is within 5e-9 K; at xi = 3 and
  tau near 0.015, points 10 to 11 deviations out are off by 3e-5 to 4e-5 K (a call of
  -4.2e-3 at K = 100 where a rigorous moment bound puts it below 1e-92);
* the number of nodes grows with the oscillations of ``e^{i u x}`` over that range (x the log
  forward moneyness), from 128 to 32768, on a graded composite rule (panels of 64
  Gauss-Legendre nodes, geometric near u = 0 where ``1 / (u^2 + 1/4)`` peaks, equal further out;
  equal panels alone missed that peak when the range is long, at small tau v), and points are
  grouped by node count and range.

With ``G = e^{x/2} int_0^inf Re[e^{i u x} phi(u - i/2)] / (u^2 + 1/4) du`` the call is
``S e^{-q tau} - K e^{-r tau} G / pi``; d/dx multiplies the integrand by i u, d/dv by D(u). The
tau-derivative follows from the risk-free Heston PDE the price solves. Agrees with the adaptive
reference to about 1e-10 K (tests/pinn/test_exact_bases.py).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from evaluation.analytic import heston_cf_terms as _cf_terms

_SCAN = np.geomspace(1e-2, 1e6, 161)
_ENVELOPE_TOL = 1e-15
_MIN_NODES, _MAX_NODES = 128, 32768
_PANEL = 64
_CHUNK = 2_000_000  # complex values per block of work


def _cut_off(x, tau, v, kappa, theta, xi, rho) -> np.ndarray:
    """Upper end U of the integration range per point."""
    out = np.empty(len(x))
    step = max(1, _CHUNK // len(_SCAN))
    for i in range(0, len(x), step):
        sl = slice(i, i + step)
        phi, dd = _cf_terms(_SCAN[None, :] - 0.5j, tau[sl, None], v[sl, None], kappa, theta, xi,
                            rho)
        env = np.abs(phi) * (1.0 + np.abs(dd)) ** 2 / (0.25 + _SCAN**2) * (1.0 + _SCAN) ** 2
        above = env >= _ENVELOPE_TOL * 4.0  # about 4 at u = 0
        last = np.where(above.any(axis=1), above.shape[1] - 1 - np.argmax(above[:, ::-1], axis=1),
                        0)
        out[sl] = _SCAN[np.minimum(last + 1, len(_SCAN) - 1)]
    return out


def _nodes(upper: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gauss-Legendre node counts (powers of 2): 16 per oscillation of e^{iux}, plus the base."""
    cycles = upper * (np.abs(x) + 1.0) / (2.0 * math.pi)
    want = np.maximum(_MIN_NODES, 16.0 * cycles)
    n = 2 ** np.ceil(np.log2(want))
    return np.minimum(n, _MAX_NODES).astype(int)


@functools.lru_cache(maxsize=256)
def _graded_rule(n: int, upper: float) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre rule on [0, upper], panels of 64 nodes: geometric panels
    [0, 1/2], [1/2, 1], [1, 2], ... (the integrand varies on the scale of u near 0, where
    1 / (u^2 + 1/4) peaks), each cut into equal pieces no wider than upper / (n / 64) (the
    oscillations of e^{iux} further out). About n + 64 log2(upper) nodes."""
    t, w = np.polynomial.legendre.leggauss(_PANEL)
    widest = upper / max(1, n // _PANEL)
    geometric = [0.0]
    while geometric[-1] < upper:
        geometric.append(min(upper, max(0.5, 2.0 * geometric[-1])))
    edges = [0.0]
    for a, b in itertools.pairwise(geometric):
        pieces = max(1, math.ceil((b - a) / widest))
        edges.extend(a + (b - a) * np.arange(1, pieces + 1) / pieces)
    edges = np.asarray(edges)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    return (mid[:, None] + half[:, None] * t).ravel(), (half[:, None] * w).ravel()


def _integrals(x, tau, v, kappa, theta, xi, rho) -> np.ndarray:
    """(6, n) integrals of Re[m e^{iux} phi / (u^2 + 1/4)] for m = 1, iu, D, (iu)^2, iu D, D^2."""
    upper = _cut_off(x, tau, v, kappa, theta, xi, rho)
    counts = _nodes(upper, x)
    out = np.zeros((6, len(x)))
    groups = np.unique(np.column_stack([counts, upper]), axis=0)
    for n, top in groups:
        u_rule, w_rule = _graded_rule(int(n), float(top))
        idx = np.flatnonzero((counts == n) & (upper == top))
        step = max(1, _CHUNK // len(u_rule))
        for i in range(0, len(idx), step):
            j = idx[i : i + step]
            u = u_rule[None, :]
            phi, dd = _cf_terms(u - 0.5j, tau[j, None], v[j, None], kappa, theta, xi, rho)
            ex = np.exp(1j * u * x[j, None]) * phi / (u * u + 0.25) * w_rule[None, :]
            iu = 1j * u
            for k, m in enumerate((1.0, iu, dd, iu * iu, iu * dd, dd * dd)):
                out[k, j] = np.sum((m * ex).real, axis=1)
    return out


def heston_derivatives(
    spot: np.ndarray,
    variance: np.ndarray,
    tau: np.ndarray,
    strike: float,
    kappa: float,
    theta: float,
    xi: float,
    rho: float,
    rate: float,
    dividend: float,
    kind: str,
) -> dict[str, np.ndarray]:
    """Risk-free Heston price and derivatives at points (S >= 0, v >= 0, tau >= 0), shape (n,).

    Returns a dict with "price", "S", "v", "SS", "Sv", "vv" (partial derivatives) and "tau"
    (d/dtau, from the PDE). At tau = 0: the payoff and its derivatives away from the strike; at
    S = 0: the limit values (put ``K e^{-r tau}``, call 0), with the S-derivative set to its limit
    and the others 0.
    """
    s, v, t = (np.asarray(a, dtype=np.float64).ravel() for a in (spot, variance, tau))
    n = len(s)
    out = {k: np.zeros(n) for k in ("price", "S", "v", "SS", "Sv", "vv", "tau")}
    put = kind == "put"
    dfq, dfr = np.exp(-dividend * t), np.exp(-rate * t)
    at0 = t <= 0.0
    itm = (s < strike) if put else (s > strike)
    out["price"][at0] = np.where(itm, np.abs(strike - s), 0.0)[at0]
    out["S"][at0] = np.where(itm, -1.0 if put else 1.0, 0.0)[at0]
    edge = ~at0 & (s <= 0.0)
    if put:
        out["price"][edge] = strike * dfr[edge]
        out["S"][edge] = -dfq[edge]
        out["tau"][edge] = -rate * strike * dfr[edge]
    live = ~at0 & (s > 0.0)
    # Far from the money for the variance left (|x| beyond 12 "standard deviations" of ln S_T,
    # see the module docstring): the forward intrinsic value. The integral would need
    # |x| / sqrt(w) oscillations of e^{iux}, millions at small tau v.
    x_all = np.log(np.where(s > 0.0, s, 1.0) / strike) + (rate - dividend) * t
    mean_w = theta * t + (v - theta) * -np.expm1(-kappa * t) / kappa
    w_hi = 4.0 * np.maximum(mean_w, 0.0) + xi * t * np.sqrt(t * (v + theta))
    far = live & (x_all * x_all > 144.0 * w_hi)
    if far.any():
        fwd_itm = (x_all < 0.0) if put else (x_all > 0.0)
        itm = far & fwd_itm
        sign = -1.0 if put else 1.0
        out["price"][itm] = sign * (s[itm] * dfq[itm] - strike * dfr[itm])
        out["S"][itm] = sign * dfq[itm]
        out["tau"][itm] = sign * (rate * strike * dfr[itm] - dividend * s[itm] * dfq[itm])
        live &= ~far
    if not live.any():
        return out
    sl, vl, tl = s[live], v[live], t[live]
    x = x_all[live]
    i0, i1, iv, i11, i1v, ivv = _integrals(x, tl, vl, kappa, theta, xi, rho)
    pre = strike * dfr[live] * np.exp(0.5 * x) / math.pi
    g_x = 0.5 * i0 + i1
    call = sl * dfq[live] - pre * i0
    price = call - sl * dfq[live] + strike * dfr[live] if put else call
    delta = dfq[live] - pre * g_x / sl - (dfq[live] if put else 0.0)
    gamma = -pre * (0.25 * i0 + i1 + i11 - g_x) / (sl * sl)
    vega, vanna, volga = -pre * iv, -pre * (0.5 * iv + i1v) / sl, -pre * ivv
    gen = (0.5 * vl * sl**2 * gamma + rho * xi * vl * sl * vanna + 0.5 * xi**2 * vl * volga
           + (rate - dividend) * sl * delta + kappa * (theta - vl) * vega)
    for key, val in (("price", price), ("S", delta), ("v", vega), ("SS", gamma), ("Sv", vanna),
                     ("vv", volga), ("tau", gen - rate * price)):
        out[key][live] = val
    return out
