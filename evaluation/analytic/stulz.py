"""Options on the minimum or maximum of two lognormal assets (Stulz 1982; Haug's formulas).

Each asset follows Black-Scholes with its own vol and continuous dividend yield, correlation rho;
carries b_i = r - q_i. With sbar^2 = s1^2 + s2^2 - 2 rho s1 s2,

    d   = [ln(S1/S2) + (b1 - b2 + sbar^2/2) tau] / (sbar sqrt(tau))
    y_i = [ln(S_i/K) + (b_i + s_i^2/2) tau] / (s_i sqrt(tau))
    rho1 = (s1 - rho s2) / sbar,  rho2 = (s2 - rho s1) / sbar

    call on min = S1 e^{(b1-r)tau} M(y1, -d; -rho1)
                  + S2 e^{(b2-r)tau} M(y2, d - sbar sqrt(tau); -rho2)
                  - K e^{-r tau} M(y1 - s1 sqrt(tau), y2 - s2 sqrt(tau); rho)
    call on max = S1 e^{(b1-r)tau} M(y1, d; rho1) + S2 e^{(b2-r)tau} M(y2, sbar sqrt(tau) - d; rho2)
                  - K e^{-r tau} [1 - M(s1 sqrt(tau) - y1, s2 sqrt(tau) - y2; rho)]

and puts by parity, put(K) = K e^{-r tau} - call(0) + call(K), where call(0) is the value of
min(S1, S2) (resp. max) paid at maturity (Margrabe). The delta with respect to S_i is the
coefficient of S_i (each term is a price under the S_i measure). M is the bivariate normal CDF.

Spots have shape (n, 2); vols, dividends are pairs; strike and maturity broadcast with n.
The spots are the only positional argument; the rest are keyword-only, the product first
(``strike``, ``maturity``, ``kind="call"``), then the model as in
:class:`simulators.BlackScholesBasket` (``vols``, ``rho`` for its correlation, ``rate``,
``dividends``). The worst-of put of the project is ``stulz_min(..., kind="put")``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .. import _validation as v
from ._bivariate import bivariate_normal_cdf as _bvn
from ._results import BasketGreeks


def _stulz(owner, which, spots, strike, maturity, vols, rho, rate, dividends, kind) -> BasketGreeks:
    omega = v.kind_sign(owner, kind)
    x = v.spot_pairs(owner, spots)
    if np.any(x <= 0.0):
        v.fail(owner, "spots", "> 0", float(x[x <= 0.0][0]))
    s1, s2 = x[:, 0], x[:, 1]
    sig = v.positive(owner, "vols", vols).reshape(-1)
    if sig.size != 2:
        v.fail(owner, "vols", "a pair (vol_1, vol_2)", sig.tolist())
    q = v.array(owner, "dividends", dividends).reshape(-1)
    if q.size != 2:
        v.fail(owner, "dividends", "a pair (dividend_1, dividend_2)", q.tolist())
    rh = v.in_range_float(owner, "rho", rho, -1.0, 1.0)
    k = v.positive(owner, "strike", strike)
    tau = v.positive(owner, "maturity", maturity)
    r = v.finite_float(owner, "rate", rate)
    sig1, sig2 = float(sig[0]), float(sig[1])
    sbar2 = sig1 * sig1 + sig2 * sig2 - 2.0 * rh * sig1 * sig2
    if sbar2 <= 1e-14:
        rule = "such that vol(S1/S2) > 0 (not equal vols with rho = 1)"
        v.fail(owner, "vols", rule, sig.tolist())
    sbar = np.sqrt(sbar2)
    s1, s2, k, tau = np.broadcast_arrays(s1, s2, k, tau)
    sq = np.sqrt(tau)
    b1, b2 = r - q[0], r - q[1]
    g1, g2 = np.exp((b1 - r) * tau), np.exp((b2 - r) * tau)
    dfk = np.exp(-r * tau)
    d = (np.log(s1 / s2) + (b1 - b2 + 0.5 * sbar2) * tau) / (sbar * sq)
    y1 = (np.log(s1 / k) + (b1 + 0.5 * sig1 * sig1) * tau) / (sig1 * sq)
    y2 = (np.log(s2 / k) + (b2 + 0.5 * sig2 * sig2) * tau) / (sig2 * sq)
    # |rho1|, |rho2| <= 1 exactly (sbar^2 = (sig1 - rh sig2)^2 + sig2^2 (1 - rh^2)); clipped so
    # that rounding at |rh| = 1 stays inside the bivariate normal's domain.
    rho1 = min(max((sig1 - rh * sig2) / sbar, -1.0), 1.0)
    rho2 = min(max((sig2 - rh * sig1) / sbar, -1.0), 1.0)
    if which == "min":
        m1 = _bvn(y1, -d, -rho1)
        m2 = _bvn(y2, d - sbar * sq, -rho2)
        mk = _bvn(y1 - sig1 * sq, y2 - sig2 * sq, rh)
        # Value of min(S1, S2) at maturity and its deltas.
        z1, z2 = ndtr(-d), ndtr(d - sbar * sq)
    else:
        m1 = _bvn(y1, d, rho1)
        m2 = _bvn(y2, sbar * sq - d, rho2)
        mk = 1.0 - _bvn(sig1 * sq - y1, sig2 * sq - y2, rh)
        z1, z2 = ndtr(d), ndtr(sbar * sq - d)
    call = s1 * g1 * m1 + s2 * g2 * m2 - k * dfk * mk
    delta = np.stack([g1 * m1, g2 * m2], axis=-1)
    if omega < 0:
        call = k * dfk - (s1 * g1 * z1 + s2 * g2 * z2) + call
        delta = delta - np.stack([g1 * z1, g2 * z2], axis=-1)
    return BasketGreeks(price=np.maximum(call, 0.0), delta=delta)


def stulz_min(
    spots, *, strike, maturity, kind: str = "call", vols, rho, rate=0.0, dividends=(0.0, 0.0)
) -> BasketGreeks:
    """Call or put on min(S1, S2) (worst-of): price, shape (n,), and deltas, shape (n, 2).

    Args:
        spots: shape (n, 2) (or (2,)), > 0; the only positional argument.
        strike: K > 0, scalar or shape (n,).
        maturity: time to maturity tau > 0 in years, scalar or shape (n,).
        kind: ``"call"`` or ``"put"``.
        vols: (vol_1, vol_2), lognormal vols > 0.
        rho: correlation of the two Brownian motions, in [-1, 1].
        rate: continuously compounded risk-free rate.
        dividends: continuous dividend yields (q_1, q_2).
    """
    return _stulz("stulz_min", "min", spots, strike, maturity, vols, rho, rate, dividends, kind)


def stulz_max(
    spots, *, strike, maturity, kind: str = "call", vols, rho, rate=0.0, dividends=(0.0, 0.0)
) -> BasketGreeks:
    """Call or put on max(S1, S2) (best-of); arguments and result as in :func:`stulz_min`."""
    return _stulz("stulz_max", "max", spots, strike, maturity, vols, rho, rate, dividends, kind)
