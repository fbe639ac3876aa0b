"""Closed-form exposure of a Black-Scholes forward: the oracle of exposure profiles.

The risk-free value of the forward ``S_T - K`` at time t is
``V(t, S) = S e^{-q tau} - K e^{-r tau}``,
with tau = T - t: linear in S. Under the risk-neutral measure from S_0,

    EPE(t) = E[max(V(t, S_t), 0)] = e^{-q tau} E[(S_t - K')+],  K' = K e^{-(r - q) tau},
           = e^{-q tau} e^{r t} C_BS(S_0, K', t),
    ENE(t) = E[V(t, S_t)] - EPE(t),  E[V(t, S_t)] = S_0 e^{(r - q) t - q tau} - K e^{-r tau},

undiscounted, in units of the payoff; C_BS is the Black-Scholes call (:func:`black_scholes`).
"""

from __future__ import annotations

import numpy as np

from .. import _validation as v
from .black_scholes import black_scholes


def forward_exposure(spot, *, strike, maturity, times, vol, rate=0.0, dividend=0.0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(EPE, ENE) of a long forward ``S_T - K`` at the given dates.

    Args:
        spot: today's spot S_0 > 0 (a scalar).
        strike: K > 0.
        maturity: T > 0, years.
        times: dates t in [0, T], array-like (years).
        vol, rate, dividend: the Black-Scholes model.

    Returns:
        (epe, ene), each of the shape of ``times``.

    Example:
        >>> epe, ene = forward_exposure(100.0, strike=100.0, maturity=1.0, times=[0.0, 1.0],
        ...                             vol=0.2)
        >>> [round(float(e), 4) for e in epe]  # at T: the undiscounted at-the-money call
        [0.0, 7.9656]
    """
    o = "forward_exposure"
    s0 = v.positive_float(o, "spot", spot)
    k = v.positive_float(o, "strike", strike)
    big_t = v.positive_float(o, "maturity", maturity)
    sig = v.positive_float(o, "vol", vol)
    r = v.finite_float(o, "rate", rate)
    q = v.finite_float(o, "dividend", dividend)
    t = v.real(o, "times", times)
    if not np.all(np.isfinite(t)) or np.any(t < 0.0) or np.any(t > big_t * (1 + 1e-12)):
        v.fail(o, "times", f"dates in [0, {big_t:g}]", times)
    t = np.minimum(t, big_t)
    tau = big_t - t
    mean = s0 * np.exp((r - q) * t - q * tau) - k * np.exp(-r * tau)
    live = t > 0.0
    epe = np.maximum(mean, 0.0)  # t = 0: the state is known
    if np.any(live):
        tl, taul = t[live], tau[live]
        k_eff = k * np.exp(-(r - q) * taul)
        call = np.array([black_scholes(s0, strike=float(ke), maturity=float(ti), vol=sig,
                                       rate=r, dividend=q)
                         for ke, ti in zip(k_eff, tl, strict=True)])
        epe = np.array(epe, dtype=np.float64)
        epe[live] = np.exp(-q * taul + r * tl) * call
    return epe, mean - epe
