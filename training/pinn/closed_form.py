"""Differentiable (torch) closed forms used as boundary data, base functions and test oracles.

All functions take tensors that broadcast together, work in float32 or float64, and stay finite
at tau = 0 and at zero spot (the payoff is returned there), so autograd can differentiate them.
Time is tau = time to maturity in years; rates are continuously compounded; ``dividend`` is the
continuous dividend yield, so the drift is ``b = rate - dividend``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from evaluation.analytic.basket import conditioning_rule

_SQRT2 = math.sqrt(2.0)


def _tiny(x: Tensor) -> float:
    """Floor of spots and variances: small enough not to move any price, large enough that the
    first three derivatives of log(S) stay finite (so 0 * derivative is 0, never NaN)."""
    return 1e-60 if x.dtype == torch.float64 else 1e-10


def norm_cdf(x: Tensor) -> Tensor:
    """Standard normal CDF, accurate in the tails (erfc form)."""
    return 0.5 * torch.erfc(-x / _SQRT2)


def black_scholes(
    spot: Tensor,
    strike: float | Tensor,
    tau: Tensor,
    vol: float | Tensor,
    rate: float,
    dividend: float,
    kind: str,
    *,
    total_variance: Tensor | None = None,
) -> Tensor:
    """Risk-free Black-Scholes price of a European call or put.

    Args:
        spot: S >= 0, any shape.
        strike: K > 0.
        tau: time to maturity in years, >= 0 (tau = 0 returns the payoff).
        vol: volatility per sqrt(year); ignored when ``total_variance`` is given.
        rate: r, continuously compounded; discounting at r.
        dividend: continuous dividend yield delta; drift b = r - delta.
        kind: "call" or "put".
        total_variance: optional w = integrated variance over [0, tau] (Heston base function).

    Returns:
        Price tensor of the broadcast shape.
    """
    tiny = _tiny(spot)
    if total_variance is None:
        total_variance = torch.as_tensor(vol, dtype=spot.dtype, device=spot.device) ** 2 * tau
    sd = torch.sqrt(torch.clamp(total_variance, min=tiny))
    s = torch.clamp(spot, min=tiny)
    fwd = s * torch.exp((rate - dividend) * tau)
    disc = torch.exp(-rate * tau)
    d1 = (torch.log(fwd / strike) + 0.5 * sd**2) / sd
    d2 = d1 - sd
    if kind == "call":
        return disc * (fwd * norm_cdf(d1) - strike * norm_cdf(d2))
    if kind == "put":
        return disc * (strike * norm_cdf(-d2) - fwd * norm_cdf(-d1))
    raise ValueError(
        f"The 'kind' parameter of black_scholes must be 'call' or 'put'. Got {kind!r} instead."
    )


def levy_basket(
    spots: Tensor,
    weights: tuple[float, ...],
    strike: float,
    tau: Tensor,
    vols: tuple[float, ...],
    rate: float,
    dividends: tuple[float, ...],
    rho: float,
    kind: str,
) -> Tensor:
    """Levy (moment-matched lognormal) approximation of a two-asset arithmetic basket option.

    Exact at tau = 0 (the payoff ``max(+-(w.S - K), 0)``), smooth for tau > 0; used as a base
    function carrying the payoff kink, never as a reference.

    Args:
        spots: (n, 2) asset prices.
        tau: (n,) time to maturity.
    """
    f = [weights[i] * spots[:, i] * torch.exp((rate - dividends[i]) * tau) for i in range(2)]
    m1 = f[0] + f[1]
    m2 = (
        f[0] ** 2 * torch.exp(vols[0] ** 2 * tau)
        + f[1] ** 2 * torch.exp(vols[1] ** 2 * tau)
        + 2.0 * f[0] * f[1] * torch.exp(rho * vols[0] * vols[1] * tau)
    )
    tiny = _tiny(spots)
    m1c = torch.clamp(m1, min=tiny)
    w = torch.log(torch.clamp(m2, min=tiny**2) / m1c**2)
    w = torch.clamp(w, min=0.0)
    # Black on the forward m1 with total variance w, discounted at r.
    return black_scholes(m1c, strike, tau, 0.0, 0.0, 0.0, kind, total_variance=w) * torch.exp(
        -rate * tau
    )


def basket_by_conditioning(
    spots: Tensor,
    weights: tuple[float, float],
    strike: float,
    tau: Tensor,
    vols: tuple[float, float],
    rate: float,
    dividends: tuple[float, float],
    rho: float,
    kind: str,
    nodes: int = 96,
) -> Tensor:
    """Risk-free two-asset arithmetic basket option, exact up to quadrature.

    Conditional on the Brownian shock z of one asset (a), the other (b) is lognormal and the put is
    a Black put on ``w_b S_b(T)`` struck at ``K - w_a S_a(T; z)``; the price is its mean over z,
    by Gauss-Legendre on the pieces of :func:`evaluation.analytic.basket.conditioning_rule`
    (the NumPy reference :func:`evaluation.analytic.arithmetic_basket_2d` uses the same rule).
    The conditioning asset is, per point, the one with the smaller ``w_i S_i vol_i``. The nodes
    are placed from detached values: the integrand vanishes with all its derivatives at the
    moving end of the range, so autograd through the fixed nodes gives the exact derivatives of
    the quadrature. Calls by parity. Exact at tau = 0.

    Args:
        spots: (n, 2) asset prices >= 0.
        tau: (n,) time to maturity in years.
        vols, rate, dividends, rho: numbers, or per-point tensors of shape (n,) (a parametric
            problem's parameters).
        nodes: Gauss-Legendre nodes per piece of the z range.
    Returns:
        (n,) prices discounted at ``rate``.
    """
    tiny = _tiny(spots)
    t = torch.clamp(tau, min=tiny)[:, None]
    sq = torch.sqrt(t)

    def col(x: Tensor | float) -> Tensor:
        """A number, or a per-point parameter (n,) as a column against the nodes (n, 1)."""
        out = torch.as_tensor(x, dtype=spots.dtype, device=spots.device)
        return out[:, None] if out.ndim == 1 else out

    first = weights[0] * col(vols[0]) * spots[:, :1] <= weights[1] * col(vols[1]) * spots[:, 1:]

    def pair(x0: Tensor | float, x1: Tensor | float) -> tuple[Tensor, Tensor]:
        x0, x1 = col(x0), col(x1)
        return torch.where(first, x0, x1), torch.where(first, x1, x0)

    r_c, rho_c = col(rate), col(rho)
    s_a, s_b = pair(spots[:, 0], spots[:, 1])
    v_a, v_b = pair(vols[0], vols[1])
    q_a, q_b = pair(dividends[0], dividends[1])
    w_a, w_b = pair(weights[0], weights[1])
    known_a = w_a * s_a * torch.exp((r_c - q_a - 0.5 * v_a**2) * t)
    known_b = w_b * s_b * torch.exp((r_c - q_b - 0.5 * (v_b * rho_c) ** 2) * t)

    def flat(x: Tensor) -> np.ndarray:
        return torch.broadcast_to(x, t.shape).detach().cpu().numpy()[:, 0]

    z_np, w_np = conditioning_rule(flat(known_a), flat(v_a * sq), flat(known_b),
                                   flat(v_b * rho_c * sq), float(strike), nodes,
                                   flat(v_b * torch.sqrt((1.0 - rho_c**2) * t)))
    z = torch.as_tensor(z_np, dtype=spots.dtype, device=spots.device)
    wq = torch.as_tensor(w_np, dtype=spots.dtype, device=spots.device)
    residual_strike = strike - known_a * torch.exp(v_a * sq * z)
    fwd_b = known_b * torch.exp(v_b * rho_c * sq * z)
    live = residual_strike > 0.0
    put = black_scholes(fwd_b, torch.clamp(residual_strike, min=tiny), t, 0.0, 0.0, 0.0, "put",
                        total_variance=v_b**2 * (1.0 - rho_c**2) * t)
    put = torch.exp(-rate * tau) * torch.sum(torch.where(live, put, 0.0) * wq, dim=-1)
    if kind == "put":
        return put
    if kind == "call":
        fwd = sum(weights[i] * spots[:, i] * torch.exp(-dividends[i] * tau) for i in range(2))
        return put + fwd - strike * torch.exp(-rate * tau)
    raise ValueError(
        f"The 'kind' parameter of basket_by_conditioning must be 'call' or 'put'. Got {kind!r}."
    )


# Gauss-Legendre nodes on [0, 1] for the bivariate normal integral.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(40)
_GL_X = 0.5 * (_GL_X + 1.0)
_GL_W = 0.5 * _GL_W


def bivariate_normal_cdf(a: Tensor, b: Tensor, rho: float) -> Tensor:
    """M(a, b; rho) = P(X <= a, Y <= b), corr(X, Y) = rho, by Plackett's identity.

    ``M = Phi(a) Phi(b) + int_0^rho phi2(a, b; r) dr``, integrated in theta = arcsin(r) (where
    ``phi2 dr = exp(-(a^2 - 2 a b sin theta + b^2) / (2 cos^2 theta)) d theta / (2 pi)`` stays
    smooth as |rho| -> 1, unlike the integrand in r) with 40-point Gauss-Legendre;
    differentiable. Worst-of prices (K = 100) from it agree with the NumPy reference within
    1e-12 up to |rho| = 0.99 and 1.3e-7 at 0.999 (integrated in r: 4e-4 and 3e-2, and
    negative worst-of calls).
    ``rho`` is a number or a tensor of a's shape (one correlation per point).
    """
    base = norm_cdf(a) * norm_cdf(b)
    if not torch.is_tensor(rho) and rho == 0.0:
        return base
    a = torch.clamp(a, -40.0, 40.0)[..., None]
    b = torch.clamp(b, -40.0, 40.0)[..., None]
    x = torch.as_tensor(_GL_X, dtype=a.dtype, device=a.device)
    w = torch.as_tensor(_GL_W, dtype=a.dtype, device=a.device)
    top = torch.asin(rho) if torch.is_tensor(rho) else math.asin(rho)
    theta = (top[..., None] if torch.is_tensor(top) else top) * x
    s, c2 = torch.sin(theta), torch.cos(theta) ** 2
    total = torch.sum(w * torch.exp(-(a * a - 2.0 * s * a * b + b * b) / (2.0 * c2)), dim=-1)
    return base + top * total / (2.0 * math.pi)


def stulz_min(
    spots: Tensor,
    strike: float,
    tau: Tensor,
    vols: tuple[float, float],
    rate: float,
    dividends: tuple[float, float],
    rho: float,
    kind: str,
) -> Tensor:
    """Stulz (1982) price of a call or put on the minimum of two assets (risk-free).

    Args:
        spots: (n, 2); tau: (n,). Returns (n,). Exact at tau = 0 up to round-off. vols, rate,
        dividends, rho: numbers, or per-point tensors of shape (n,).
    """
    tiny = _tiny(spots)
    s1 = torch.clamp(spots[:, 0], min=tiny)
    s2 = torch.clamp(spots[:, 1], min=tiny)
    b1, b2 = rate - dividends[0], rate - dividends[1]
    sig1, sig2 = vols
    var = sig1**2 + sig2**2 - 2.0 * rho * sig1 * sig2
    sbar = (torch.sqrt(torch.clamp(var, min=1e-16)) if torch.is_tensor(var)
            else math.sqrt(max(var, 1e-16)))
    sq = torch.sqrt(torch.clamp(tau, min=tiny))
    d = (torch.log(s1 / s2) + (b1 - b2 + 0.5 * sbar**2) * tau) / (sbar * sq)
    y1 = (torch.log(s1 / strike) + (b1 + 0.5 * sig1**2) * tau) / (sig1 * sq)
    y2 = (torch.log(s2 / strike) + (b2 + 0.5 * sig2**2) * tau) / (sig2 * sq)
    rho1 = (sig1 - rho * sig2) / sbar
    rho2 = (sig2 - rho * sig1) / sbar
    f1 = s1 * torch.exp((b1 - rate) * tau)
    f2 = s2 * torch.exp((b2 - rate) * tau)
    disc = strike * torch.exp(-rate * tau)
    call = (
        f1 * bivariate_normal_cdf(y1, -d, -rho1)
        + f2 * bivariate_normal_cdf(y2, d - sbar * sq, -rho2)
        - disc * bivariate_normal_cdf(y1 - sig1 * sq, y2 - sig2 * sq, rho)
    )
    if kind == "call":
        return call
    if kind == "put":
        margrabe = f1 * norm_cdf(d) - f2 * norm_cdf(d - sbar * sq)
        return disc - (f1 - margrabe) + call
    raise ValueError(f"The 'kind' parameter of stulz_min must be 'call' or 'put'. Got {kind!r}.")


def heston_effective_variance(
    variance: Tensor, tau: Tensor, kappa: float, theta: float
) -> Tensor:
    """Expected integrated Heston variance w = theta tau + (v - theta)(1 - e^{-kappa tau})/kappa.

    Black-Scholes with this total variance is the Heston base function: exact at tau = 0, and its
    Heston residual has no 1/sqrt(tau) singularity (the theta and drift terms cancel exactly).
    """
    return theta * tau + (variance - theta) * (-torch.expm1(-kappa * tau)) / kappa


def heston_first_order(
    spot: Tensor,
    variance: Tensor,
    strike: float,
    tau: Tensor,
    kappa: float,
    theta: float,
    xi: float,
    rho: float,
    rate: float,
    dividend: float,
    kind: str,
) -> Tensor:
    """Heston price to first order in the vol-of-vol xi: ``BS(w) + xi (a + b v) d2BS/dx dw``.

    Substituting ``P = P0 + xi P1`` into the Heston PDE (x = ln S): P0 is Black-Scholes with the
    expected integrated variance w (:func:`heston_effective_variance`), and P1 solves the same
    xi = 0 PDE with source ``rho v w_v P0_xw``. Derivatives of P0 in x and w solve that PDE too,
    so ``P1 = (a(tau) + b(tau) v) P0_xw`` with, for k = kappa, E = e^{-k tau}:

        b' + k b = rho (1 - E) / k,  a' = k theta b,  a(0) = b(0) = 0,
        b = rho ((1 - E) / k - tau E) / k,
        a = rho theta ((tau - (1 - E) / k) / k - (1 - E (1 + k tau)) / k^2).

    ``P0_xw = e^{-r tau} F phi(d1) (1 - d1 / sqrt(w)) / (2 sqrt(w))`` (call and put alike, F the
    forward). Exact at tau = 0 (the payoff); the Heston residual of this base is O(xi^2), which
    carries the skew the correlation rho creates. An approximation: a base function, never a
    reference.

    Args:
        spot, variance, tau: tensors of one shape (S >= 0, v >= 0, tau >= 0 in years).
        strike, kappa, theta, xi, rho, rate, dividend, kind: as in :class:`HestonPDE`.
    """
    w = heston_effective_variance(variance, tau, kappa, theta)
    p0 = black_scholes(spot, strike, tau, 0.0, rate, dividend, kind, total_variance=w)
    tiny = _tiny(spot)
    sd = torch.sqrt(torch.clamp(w, min=tiny))
    s = torch.clamp(spot, min=tiny)
    fwd = s * torch.exp((rate - dividend) * tau)
    d1 = (torch.log(fwd / strike) + 0.5 * sd**2) / sd
    pdf = torch.exp(-0.5 * d1 * d1) / math.sqrt(2.0 * math.pi)
    p_xw = torch.exp(-rate * tau) * fwd * pdf * (1.0 - d1 / sd) / (2.0 * sd)
    k = kappa
    one_minus_e = -torch.expm1(-k * tau)
    e = 1.0 - one_minus_e
    b = rho * (one_minus_e / k - tau * e) / k
    a = rho * theta * ((tau - one_minus_e / k) / k - (one_minus_e - k * tau * e) / k**2)
    return p0 + xi * (a + b * variance) * p_xw
