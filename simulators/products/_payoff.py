"""Payoffs as Numba device functions of the terminal state, with their gradient.

A product is encoded as ``(agg, kind, strike, weights)``:
``agg`` 0 = weighted sum sum_j w_j S_j, 1 = minimum, 2 = maximum of the assets;
``kind`` 0 = call (u - K)+, 1 = put (K - u)+, 2 = forward u - K, where u is the aggregate.
The gradient of an extremum goes to the arg-min (arg-max) asset: the pathwise derivative exists
almost surely.
"""

from __future__ import annotations

from numba import njit

AGG_SUM = 0
AGG_MIN = 1
AGG_MAX = 2
KIND_CALL = 0
KIND_PUT = 1
KIND_FORWARD = 2
KIND_CODES = {"call": KIND_CALL, "put": KIND_PUT, "forward": KIND_FORWARD}


@njit(inline="always", cache=True)
def payoff_scalar(kind, strike, u):
    """(h(u), h'(u)) for a one-dimensional aggregate u (written with selects, so that loops
    over paths can be vectorised)."""
    sign = -1.0 if kind == 1 else 1.0
    d = sign * (u - strike)
    live = d > 0.0 or kind == 2
    return (d if live else 0.0), (sign if live else 0.0)


@njit(inline="always", cache=True)
def payoff_vector(agg, kind, strike, weights, s, grad):
    """h(S) for terminal state ``s`` (shape (d,)); writes dh/dS into ``grad`` (shape (d,))."""
    d = s.shape[0]
    arg = 0
    if agg == 0:
        u = 0.0
        for j in range(d):
            u += weights[j] * s[j]
    elif agg == 1:
        u = s[0]
        for j in range(1, d):
            if s[j] < u:
                u = s[j]
                arg = j
    else:
        u = s[0]
        for j in range(1, d):
            if s[j] > u:
                u = s[j]
                arg = j
    h, dh = payoff_scalar(kind, strike, u)
    if agg == 0:
        for j in range(d):
            grad[j] = dh * weights[j]
    else:
        for j in range(d):
            grad[j] = 0.0
        grad[arg] = dh
    return h
