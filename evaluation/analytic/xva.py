"""Risky (XVA) valuation of one-signed payoffs: the discount factor e^{-c tau}.

For a payoff that is >= 0 (resp. <= 0) the risky value V_hat solving
``dV_hat/dtau = L V_hat - r V_hat - f(V_hat)`` (Burgard-Kjaer, close-out at the risky value) keeps
its sign, the source becomes linear, and ``V_hat = e^{-c tau} V`` with V the risk-free value and
``c = (1 - R_C) lambda_C + s_F`` (>= 0 payoffs) or ``c = (1 - R_B) lambda_B`` (<= 0 payoffs).
"""

from __future__ import annotations

import numpy as np

from .. import _validation as v


def xva_factor(xva, maturity, sign: int = 1) -> np.ndarray | float:
    """e^{-c tau}: risky value / risk-free value of a one-signed payoff.

    Args:
        xva: a ``simulators.XVA`` (anything with a ``spread(sign)`` method giving c per year).
        maturity: time to maturity tau >= 0 in years (array-like).
        sign: +1 for payoffs >= 0 (long calls, puts, worst-of puts), -1 for payoffs <= 0.

    Returns:
        The factor, of the shape of ``maturity`` (a float for a scalar).

    Example:
        >>> from simulators.xva import XVA
        >>> from evaluation.analytic import black_scholes
        >>> x = XVA(lambda_b=0.02, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)
        >>> p = black_scholes(100, strike=100, maturity=1.0, kind="put", vol=0.25, rate=0.03,
        ...                   dividend=0.01)
        >>> round(xva_factor(x, 1.0) * p, 6)
        8.439938
    """
    if sign not in (1, -1) or isinstance(sign, bool):
        v.fail("xva_factor", "sign", "+1 or -1", sign)
    if not hasattr(xva, "spread"):
        v.fail("xva_factor", "xva", "an XVA object with a spread(sign) method", xva)
    tau = v.non_negative("xva_factor", "maturity", maturity)
    return v.out(np.exp(-float(xva.spread(sign)) * tau))
