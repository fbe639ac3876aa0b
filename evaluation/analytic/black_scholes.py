"""Black-Scholes(-Merton) European options: price and Greeks, vectorised over NumPy arrays.

Conventions: ``maturity`` is the time to maturity tau in years, ``rate`` the continuously compounded
risk-free rate, ``dividend`` the continuous dividend yield q (drift of the spot r - q). All numeric
arguments broadcast against each other; scalar inputs give Python floats. The spot is the only
positional argument; the rest are keyword-only, product first (``strike``, ``maturity``,
``kind="call"``), then the model (``vol``, ``rate``, ``dividend``), as in ``simulators``.

    d1 = [ln(S/K) + (r - q + vol^2/2) tau] / (vol sqrt(tau)),   d2 = d1 - vol sqrt(tau)
    call = S e^{-q tau} N(d1) - K e^{-r tau} N(d2)
    put  = K e^{-r tau} N(-d2) - S e^{-q tau} N(-d1)
    forward = S e^{-q tau} - K e^{-r tau}     (payoff S_T - K, both signs; vol does not enter)

A spot of 0 is allowed (the value is then the discounted intrinsic value of the forward:
0 for a call, K e^{-r tau} for a put), which suits PDE grids on [0, S_max].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from .. import _validation as v

_SQRT_2PI = np.sqrt(2.0 * np.pi)


def _pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / _SQRT_2PI


@dataclass(frozen=True)
class BlackScholesGreeks:
    """Price and first/second-order sensitivities of a Black-Scholes European option.

    Attributes (arrays of the broadcast input shape, or floats for scalar inputs):
        price: option value at the spot, discounted to today.
        delta: dV/dspot.
        gamma: d2V/dspot2.
        vega: dV/dvol (per unit of vol, i.e. per 100 vol points).
        theta: dV/dt = -dV/dtau, per year (calendar-time decay; usually negative).
        rho: dV/drate (per unit of rate), the dividend yield held fixed.
    """

    price: np.ndarray | float
    delta: np.ndarray | float
    gamma: np.ndarray | float
    vega: np.ndarray | float
    theta: np.ndarray | float
    rho: np.ndarray | float


def _inputs(owner, spot, strike, maturity, vol, rate, dividend, kind):
    omega = v.kind_sign_or_forward(owner, kind)
    s = v.non_negative(owner, "spot", spot)
    k = v.positive(owner, "strike", strike)
    tau = v.positive(owner, "maturity", maturity)
    sig = v.positive(owner, "vol", vol)
    r = v.array(owner, "rate", rate)
    q = v.array(owner, "dividend", dividend)
    s, k, tau, sig, r, q = np.broadcast_arrays(s, k, tau, sig, r, q)
    sqt = np.sqrt(tau)
    sd = sig * sqt
    with np.errstate(divide="ignore"):
        d1 = (np.log(s / k) + (r - q + 0.5 * sig * sig) * tau) / sd
    d2 = d1 - sd
    df_r = np.exp(-r * tau)
    df_q = np.exp(-q * tau)
    return omega, s, k, tau, sig, r, q, sqt, d1, d2, df_r, df_q


def black_scholes(
    spot,
    *,
    strike,
    maturity,
    kind: str = "call",
    vol,
    rate=0.0,
    dividend=0.0,
) -> np.ndarray | float:
    """Black-Scholes price of a European call or put.

    Args:
        spot: spot price S >= 0 (array-like); the only positional argument.
        strike: strike K > 0.
        maturity: time to maturity tau > 0, in years.
        kind: ``"call"``, ``"put"`` or ``"forward"`` (payoff S_T - K, of either sign).
        vol: lognormal volatility > 0, per sqrt(year).
        rate: continuously compounded risk-free rate r (discounting and drift).
        dividend: continuous dividend yield q (drift r - q).

    Returns:
        The price, discounted to today, of the broadcast shape of the numeric inputs
        (a float when all are scalars).

    Example:
        >>> round(black_scholes(100, strike=105, maturity=0.75, kind="put", vol=0.25, rate=0.03,
        ...                     dividend=0.01), 5)
        10.51402
    """
    omega, s, k, _, _, _, _, _, d1, d2, df_r, df_q = _inputs(
        "black_scholes", spot, strike, maturity, vol, rate, dividend, kind
    )
    if omega == 0.0:
        return v.out(s * df_q - k * df_r)
    price = omega * (s * df_q * ndtr(omega * d1) - k * df_r * ndtr(omega * d2))
    return v.out(np.maximum(price, 0.0))


def black_scholes_greeks(
    spot,
    *,
    strike,
    maturity,
    kind: str = "call",
    vol,
    rate=0.0,
    dividend=0.0,
) -> BlackScholesGreeks:
    """Black-Scholes price and Greeks (delta, gamma, vega, theta, rho) of a European option.

    Arguments as in :func:`black_scholes`. With omega = +1 (call) or -1 (put):

        delta = omega e^{-q tau} N(omega d1)
        gamma = e^{-q tau} phi(d1) / (S vol sqrt(tau))
        vega  = S e^{-q tau} phi(d1) sqrt(tau)
        theta = -S e^{-q tau} phi(d1) vol / (2 sqrt(tau))
                - omega r K e^{-r tau} N(omega d2) + omega q S e^{-q tau} N(omega d1)
        rho   = omega K tau e^{-r tau} N(omega d2)

    For ``kind="forward"`` (V = S e^{-q tau} - K e^{-r tau}): delta = e^{-q tau}, gamma = vega = 0,
    theta = q S e^{-q tau} - r K e^{-r tau}, rho = K tau e^{-r tau}.

    Returns:
        A :class:`BlackScholesGreeks`; at spot 0 gamma and vega are 0.
    """
    omega, s, k, tau, sig, r, q, sqt, d1, d2, df_r, df_q = _inputs(
        "black_scholes_greeks", spot, strike, maturity, vol, rate, dividend, kind
    )
    if omega == 0.0:
        zero = np.zeros_like(s)
        return BlackScholesGreeks(
            price=v.out(s * df_q - k * df_r),
            delta=v.out(df_q + zero),
            gamma=v.out(zero),
            vega=v.out(zero),
            theta=v.out(q * s * df_q - r * k * df_r),
            rho=v.out(k * tau * df_r),
        )
    nd1 = ndtr(omega * d1)
    nd2 = ndtr(omega * d2)
    pdf1 = _pdf(d1)
    price = np.maximum(omega * (s * df_q * nd1 - k * df_r * nd2), 0.0)
    delta = omega * df_q * nd1
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.where(s > 0.0, df_q * pdf1 / (s * sig * sqt), 0.0)
    vega = s * df_q * pdf1 * sqt
    theta = (
        -s * df_q * pdf1 * sig / (2.0 * sqt)
        - omega * r * k * df_r * nd2
        + omega * q * s * df_q * nd1
    )
    rho = omega * k * tau * df_r * nd2
    return BlackScholesGreeks(
        price=v.out(price),
        delta=v.out(delta),
        gamma=v.out(gamma),
        vega=v.out(vega),
        theta=v.out(theta),
        rho=v.out(rho),
    )
