"""Bachelier (normal) model for a correlated basket: price and per-asset deltas.

The spots are driftless normal forwards, ``dS_j = vols_j dW_j``, ``d<W_i, W_j> = C_ij dt``; the rate
only discounts. For the basket b = weights . spots, with basket vol
``sigma_b = sqrt((w o vols)^T C (w o vols))`` and ``d = (b - K) / (sigma_b sqrt(tau))``:

    call = e^{-r tau} sigma_b sqrt(tau) (d N(d) + phi(d)),   delta_j = e^{-r tau} N(d) w_j
    put  = e^{-r tau} sigma_b sqrt(tau) (phi(d) - d N(-d)),  delta_j = -e^{-r tau} N(-d) w_j

    forward = e^{-r tau} (b - K),                     delta_j = e^{-r tau} w_j

``vols`` are absolute (normal) volatilities in price units per sqrt(year). Arguments after
``spots`` are keyword-only: the product (``strike``, ``maturity``, ``kind="call"``), the model as
in :class:`simulators.BachelierBasket` (``vols``, ``correlation``, ``rate``), then ``weights``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .. import _validation as v
from ._results import BasketGreeks

_OWNER = "bachelier_basket"


def _prepare(owner, spots, weights, vols, correlation, strike, maturity, rate, kind):
    omega = v.kind_sign_or_forward(owner, kind)
    x = v.array(owner, "spots", spots)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        v.fail(owner, "spots", "an array of shape (n, d)", f"shape {x.shape}")
    d = x.shape[1]
    w = v.array(owner, "weights", weights).reshape(-1)
    if w.size != d:
        v.fail(owner, "weights", f"of length {d} (the number of assets)", f"length {w.size}")
    sig = v.positive(owner, "vols", vols).reshape(-1)
    if sig.size != d:
        v.fail(owner, "vols", f"of length {d} (the number of assets)", f"length {sig.size}")
    c = v.correlation_matrix(owner, "correlation", correlation, d)
    if not np.any(w != 0.0):
        v.fail(owner, "weights", "not all 0 (the basket would be constant)", w.tolist())
    ws = w * sig
    var = float(ws @ c @ ws)
    if var <= 0.0:
        v.fail(owner, "correlation", "such that the basket variance is > 0", var)
    k = v.positive(owner, "strike", strike)
    tau = v.positive(owner, "maturity", maturity)
    r = v.array(owner, "rate", rate)
    b = x @ w
    b, k, tau, r = np.broadcast_arrays(b, k, tau, r)
    sd = np.sqrt(var * tau)
    dd = (b - k) / sd
    df = np.exp(-r * tau)
    return omega, w, sd, dd, df


def bachelier_basket(
    spots, *, strike, maturity, kind: str = "call", vols, correlation, rate=0.0, weights
) -> np.ndarray:
    """Price of a call or put on the basket ``weights . spots`` in the Bachelier model.

    Args:
        spots: forwards of the assets, shape (n, d) (or (d,) for one point); the only
            positional argument.
        strike: strike K > 0 (scalar or shape (n,)).
        maturity: time to maturity tau > 0, in years (scalar or shape (n,)).
        kind: ``"call"``, ``"put"`` or ``"forward"`` (payoff ``b - K``, either sign).
        vols: absolute volatilities, shape (d,), > 0.
        correlation: correlation matrix, shape (d, d): symmetric, unit diagonal, entries in
            [-1, 1], positive semi-definite (a scalar 1 for d = 1).
        rate: continuously compounded discount rate (does not enter the dynamics).
        weights: basket weights, shape (d,).

    Returns:
        Prices, shape (n,).
    """
    omega, _, sd, dd, df = _prepare(
        _OWNER, spots, weights, vols, correlation, strike, maturity, rate, kind
    )
    if omega == 0.0:
        return df * sd * dd
    return df * sd * (omega * dd * ndtr(omega * dd) + np.exp(-0.5 * dd * dd) / np.sqrt(2 * np.pi))


def bachelier_basket_greeks(
    spots, *, strike, maturity, kind: str = "call", vols, correlation, rate=0.0, weights
) -> BasketGreeks:
    """Price, shape (n,), and per-asset deltas, shape (n, d), of :func:`bachelier_basket`."""
    omega, w, sd, dd, df = _prepare(
        "bachelier_basket_greeks", spots, weights, vols, correlation, strike, maturity, rate, kind
    )
    if omega == 0.0:
        return BasketGreeks(price=df * sd * dd, delta=df[:, None] * w[None, :])
    price = df * sd * (omega * dd * ndtr(omega * dd) + np.exp(-0.5 * dd * dd) / np.sqrt(2 * np.pi))
    delta = (omega * df * ndtr(omega * dd))[:, None] * w[None, :]
    return BasketGreeks(price=price, delta=delta)
