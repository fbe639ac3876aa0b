"""Heston (1993) European options by characteristic function: price, delta and vega (d/dv0).

Dynamics under the pricing measure (tau = time to maturity, continuous rate r and dividend yield q):

    dS = (r - q) S dt + sqrt(v) S dW1,   dv = kappa (theta - v) dt + xi sqrt(v) dW2,
    d<W1, W2> = rho dt

Characteristic function of X = ln(S_T / F), F = S e^{(r-q) tau}, in the "little Heston trap" form
(Albrecher, Mayer, Schoutens, Tistaert 2007), which is continuous in u for every tau:

    beta = kappa - rho xi i u,   d = sqrt(beta^2 + xi^2 (i u + u^2)),   g = (beta - d) / (beta + d)
    D = (beta - d)/xi^2 (1 - e^{-d tau}) / (1 - g e^{-d tau})
    C = kappa theta / xi^2 [(beta - d) tau - 2 ln((1 - g e^{-d tau}) / (1 - g))]
    phi(u) = exp(C + D v0)

Price by Lewis's (2000) single integral, with x = ln(F/K):

    call = S e^{-q tau}
           - sqrt(F K) e^{-r tau} / pi  int_0^inf Re[e^{i u x} phi(u - i/2)] / (u^2 + 1/4) du

The Greeks differentiate under the integral: d/dx multiplies the integrand by i u, d/dv0 by D
(d phi / d v0 = D phi); with G = e^{x/2} int ..., call = S e^{-q tau} - K e^{-r tau} G / pi, and
d/dS = (1/S) d/dx. Puts follow by parity, put = call - S e^{-q tau} + K e^{-r tau}; the forward
(payoff S_T - K, either sign) is S e^{-q tau} - K e^{-r tau}, with delta e^{-q tau} and zero
gamma, vega, vanna and volga (no integral is computed for it). The integral
is computed with SciPy's adaptive ``quad_vec`` on [0, inf) for all options at once (max-norm
absolute and relative tolerance 1e-13 on the integrals); against QuantLib's AnalyticHestonEngine
the prices agree to about 1e-13.

The state (``spot``, ``variance``) is positional; the rest is keyword-only, the product first
(``strike``, ``maturity``, ``kind="call"``), then the model as in :class:`simulators.Heston`
(``kappa``, ``theta``, ``xi``, ``rho``, ``rate``, ``dividend``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import quad_vec

from .. import _validation as v


@dataclass(frozen=True)
class HestonGreeks:
    """Heston price and sensitivities (arrays of the broadcast input shape, or floats).

    Attributes:
        price: option value discounted to today.
        delta: dV/dspot.
        vega: dV/dvariance, the derivative with respect to the initial variance v0.
        gamma: d2V/dspot2.
        vanna: d2V/dspot dvariance.
        volga: d2V/dvariance2.
    """

    price: np.ndarray | float
    delta: np.ndarray | float
    vega: np.ndarray | float
    gamma: np.ndarray | float
    vanna: np.ndarray | float
    volga: np.ndarray | float


def _expm1(z: np.ndarray) -> np.ndarray:
    """e^z - 1 for complex z, accurate for small |z| (NumPy's complex expm1 and log1p are not:
    log1p(1e-17 + 1e-17j) has real part 0)."""
    a, b = z.real, z.imag
    return (np.expm1(a) * np.cos(b) - 2.0 * np.sin(0.5 * b) ** 2) + 1j * np.exp(a) * np.sin(b)


def _log1p_over(w: np.ndarray) -> np.ndarray:
    """log(1 + w) / w for complex w (principal branch), accurate for small |w|; 1 at w = 0."""
    x, y = w.real, w.imag
    log1p = 0.5 * np.log1p(x * (2.0 + x) + y * y) + 1j * np.arctan2(y, 1.0 + x)
    zero = w == 0
    return np.where(zero, 1.0, log1p / np.where(zero, 1.0, w))


def heston_cf_terms(u: np.ndarray, tau, v0, kappa, theta, xi, rho):
    """phi(u) and D(u) of ln(S_T/F) for complex u (broadcast): the characteristic function of
    the log-forward under Heston is phi(u), and D(u) its derivative factor in v0 (the "little
    trap" form, stable for long maturities). Shared with the PINN's Heston base function.

    Written without dividing by xi^2: beta - d = -xi^2 (iu + u^2) / (beta + d), and beta + d
    stays away from 0 (on the contour u - i/2 of the callers, |beta + d| >= xi sqrt(x^2 + 1/4)
    / (1 + sqrt 2) for u = x - i/2, and about 2 kappa as xi -> 0), so m = (beta - d) / xi^2 has
    no cancellation, and
    ln((1 - g e) / (1 - g)) / xi^2 = y log(1 + xi^2 y) / (xi^2 y) with
    y = m (1 - e) / ((beta + d)(1 - g)). As xi -> 0 the terms tend to those of Black-Scholes
    with the deterministic variance path (no loss of digits for small xi)."""
    u = np.asarray(u)
    iu = 1j * u
    beta = kappa - rho * xi * iu
    d = np.sqrt(beta * beta + xi * xi * (iu + u * u))
    bd = beta + d
    m = -(iu + u * u) / bd                     # (beta - d) / xi^2
    g = xi * xi * m / bd                       # (beta - d) / (beta + d)
    one_e = -_expm1(-d * tau)                  # 1 - e^{-d tau}
    one_ge = 1.0 - g * (1.0 - one_e)
    D = m * one_e / one_ge
    y = m * one_e / (bd * (1.0 - g))
    C = kappa * theta * (m * tau - 2.0 * y * _log1p_over(xi * xi * y))
    return np.exp(C + D * v0), D


def _heston(
    owner,
    spot,
    strike,
    maturity,
    variance,
    kappa,
    theta,
    xi,
    rho,
    rate,
    dividend,
    kind,
    greeks: bool,
):
    omega = v.kind_sign_or_forward(owner, kind)
    s = v.positive(owner, "spot", spot)
    k = v.positive(owner, "strike", strike)
    tau = v.positive(owner, "maturity", maturity)
    v0 = v.non_negative(owner, "variance", variance)
    kap = v.positive(owner, "kappa", kappa)
    th = v.non_negative(owner, "theta", theta)
    x_i = v.positive(owner, "xi", xi)
    rh = v.in_range(owner, "rho", rho, -1.0, 1.0)
    r = v.array(owner, "rate", rate)
    q = v.array(owner, "dividend", dividend)
    arrs = np.broadcast_arrays(s, k, tau, v0, kap, th, x_i, rh, r, q)
    shape = arrs[0].shape
    s, k, tau, v0, kap, th, x_i, rh, r, q = (a.ravel() for a in arrs)
    fwd = s * np.exp((r - q) * tau)
    x = np.log(fwd / k)
    if np.any(x > MAX_LOG_MONEYNESS):
        j = int(np.argmax(x > MAX_LOG_MONEYNESS))  # the first offending entry, as elsewhere
        v.fail(owner, "spot", f"at most e^{MAX_LOG_MONEYNESS:g} (about 1e10) times the strike in "
               "forward terms (beyond it a put is below the round-off of the call it is "
               f"computed from; strike {k[j]:g} there)", float(s[j]))
    n = s.size
    dfq = np.exp(-q * tau)
    if omega == 0.0:
        fwd_price = (s * dfq - k * np.exp(-r * tau)).reshape(shape)
        if not greeks:
            return v.out(fwd_price)
        zero = v.out(np.zeros(shape))
        return HestonGreeks(price=v.out(fwd_price), delta=v.out(dfq.reshape(shape)), vega=zero,
                            gamma=zero, vanna=zero, volga=zero)

    def integrand(u: float) -> np.ndarray:
        z = u - 0.5j
        phi, dd = heston_cf_terms(z, tau, v0, kap, th, x_i, rh)
        ex = np.exp(1j * u * x) * phi / (u * u + 0.25)
        if not greeks:
            return ex.real
        iu = 1j * u
        return np.concatenate([ex.real, (iu * ex).real, (dd * ex).real, (iu * iu * ex).real,
                               (iu * dd * ex).real, (dd * dd * ex).real])

    val, _ = quad_vec(integrand, 0.0, np.inf, epsabs=1e-13, epsrel=1e-13, norm="max", limit=4000)
    pre = np.sqrt(fwd * k) * np.exp(-r * tau) / np.pi
    call = s * dfq - pre * val[:n]
    price = call if omega > 0 else call - s * dfq + k * np.exp(-r * tau)
    price = np.maximum(price, 0.0).reshape(shape)
    if not greeks:
        return v.out(price)
    i0, i1, iv, i11, i1v, ivv = (val[j * n : (j + 1) * n] for j in range(6))
    # pre = K e^{-r tau} e^{x/2} / pi; derivatives of e^{x/2} I(x, v) in x and v.
    g_x = 0.5 * i0 + i1
    g_xx = 0.25 * i0 + i1 + i11
    delta = dfq - pre / s * g_x
    if omega < 0:
        delta = delta - dfq

    def shaped(a: np.ndarray) -> np.ndarray | float:
        return v.out(a.reshape(shape))

    return HestonGreeks(
        price=v.out(price),
        delta=shaped(delta),
        vega=shaped(-pre * iv),
        gamma=shaped(-pre * (g_xx - g_x) / (s * s)),
        vanna=shaped(-pre * (0.5 * iv + i1v) / s),
        volga=shaped(-pre * ivv),
    )


MAX_LOG_MONEYNESS = 23.0
"""Largest ln(F/K) priced (F/K up to about 1e10): put and call come from one characteristic-
function integral and parity, so beyond it a put is lost in the round-off of the call (at
F/K = 1e18 a put came out as K e^{-rT} instead of about 0)."""


def heston(
    spot,
    variance,
    *,
    strike,
    maturity,
    kind: str = "call",
    kappa,
    theta,
    xi,
    rho,
    rate=0.0,
    dividend=0.0,
) -> np.ndarray | float:
    """Heston price of a European call or put (vectorised; arguments broadcast).

    Args:
        spot: S > 0 (positional).
        variance: initial (current) variance v0 >= 0 (positional; the state is (S, v0)).
        strike: K > 0.
        maturity: time to maturity tau > 0, years.
        kind: ``"call"``, ``"put"`` or ``"forward"`` (payoff S_T - K, either sign).
        kappa: mean-reversion speed > 0, per year.
        theta: long-run variance >= 0.
        xi: volatility of variance > 0.
        rho: spot/variance correlation in [-1, 1].
        rate: continuously compounded risk-free rate r.
        dividend: continuous dividend yield q.
    """
    return _heston(
        "heston",
        spot,
        strike,
        maturity,
        variance,
        kappa,
        theta,
        xi,
        rho,
        rate,
        dividend,
        kind,
        greeks=False,
    )


def heston_greeks(
    spot,
    variance,
    *,
    strike,
    maturity,
    kind: str = "call",
    kappa,
    theta,
    xi,
    rho,
    rate=0.0,
    dividend=0.0,
) -> HestonGreeks:
    """Heston price and Greeks: delta, gamma (in spot), vega, volga (in the variance v0) and
    vanna (d2/dspot dv0); see :func:`heston`."""
    return _heston(
        "heston_greeks",
        spot,
        strike,
        maturity,
        variance,
        kappa,
        theta,
        xi,
        rho,
        rate,
        dividend,
        kind,
        greeks=True,
    )
