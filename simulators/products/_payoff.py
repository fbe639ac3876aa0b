"""Payoffs as Numba device functions of the terminal state, with their gradient.

Every product is encoded as legs ``(aggs, kinds, strikes, quantities, weights)``, arrays of
``L >= 1`` legs (see :func:`single_leg`; a netting set has several), paying
``sum_l quantities[l] h_l(u_l(S_T))``:

* ``aggs`` int64 (L,): the aggregate u_l; 0 = weighted sum ``sum_j weights[l, j] S_j``,
  1 = minimum, 2 = maximum of the assets;
* ``kinds`` int64 (L,): 0 = call (u - K)+, 1 = put (K - u)+, 2 = forward u - K;
* ``strikes`` float64 (L,): K_l, in units of u_l;
* ``quantities`` float64 (L,): signed notional q_l (1.0 for the single-leg products);
* ``weights`` float64 (L, d): basket weights of the legs with ``aggs == 0`` (ones otherwise).

Legs are summed in order from 0.0, so a one-leg product of quantity 1.0 gives exactly
``0.0 + 1.0 * h = h``. The gradient of an extremum goes to the arg-min (arg-max) asset: the
pathwise derivative exists almost surely.
"""

from __future__ import annotations

import numpy as np
from numba import njit

AGG_SUM = 0
AGG_MIN = 1
AGG_MAX = 2
KIND_CALL = 0
KIND_PUT = 1
KIND_FORWARD = 2
KIND_CODES = {"call": KIND_CALL, "put": KIND_PUT, "forward": KIND_FORWARD}

Legs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(aggs int64 (L,), kinds int64 (L,), strikes (L,), quantities (L,), weights (L, d))."""


def single_leg(agg: int, kind: int, strike: float, weights: np.ndarray) -> Legs:
    """The encoding of a one-leg product of quantity 1.0; ``weights`` has shape (d,)."""
    w = np.ascontiguousarray(weights, dtype=np.float64).reshape(1, -1)
    return (np.array([agg], dtype=np.int64), np.array([kind], dtype=np.int64),
            np.array([strike], dtype=np.float64), np.ones(1), w)


@njit(inline="always", cache=True)
def leg_payoff(kind, strike, u):
    """(h(u), h'(u)) of one leg at a one-dimensional aggregate u (written with selects, so that
    loops over paths can be vectorised)."""
    sign = -1.0 if kind == 1 else 1.0
    d = sign * (u - strike)
    live = d > 0.0 or kind == 2
    return (d if live else 0.0), (sign if live else 0.0)


@njit(inline="always", cache=True)
def leg_scalar(agg, kind, strike, quantity, weight, s):
    """(q h(u), q h'(u) du/ds) of one leg for a single asset ``s``: u = weight * s for a
    weighted sum, u = s for a minimum or maximum (of one asset)."""
    w = weight if agg == 0 else 1.0
    hl, dl = leg_payoff(kind, strike, w * s)
    return quantity * hl, quantity * dl * w


@njit(inline="always", cache=True)
def payoff_scalar(aggs, kinds, strikes, quantities, weights, s):
    """(h(s), h'(s)) of the legs for a single asset ``s`` (models of one asset, d = 1; see
    :func:`leg_scalar`)."""
    h = 0.0
    dh = 0.0
    for leg in range(kinds.shape[0]):
        hq, dq = leg_scalar(aggs[leg], kinds[leg], strikes[leg], quantities[leg],
                            weights[leg, 0], s)
        h += hq
        dh += dq
    return h, dh


@njit(inline="always", cache=True)
def payoff_one_leg(agg, kind, strike, quantity, weight, s):
    """:func:`payoff_scalar` of a single leg given as scalars (the same floating-point
    operations: summed from 0.0), for kernels that hoist the leg out of their path loop."""
    hq, dq = leg_scalar(agg, kind, strike, quantity, weight, s)
    return 0.0 + hq, 0.0 + dq


@njit(inline="always", cache=True)
def payoff_vector(aggs, kinds, strikes, quantities, weights, s, grad):
    """h(S) of the legs for terminal state ``s`` (shape (d,)); writes dh/dS into ``grad``
    (shape (d,))."""
    d = s.shape[0]
    for j in range(d):
        grad[j] = 0.0
    h = 0.0
    for leg in range(kinds.shape[0]):
        agg = aggs[leg]
        arg = 0
        if agg == 0:
            u = 0.0
            for j in range(d):
                u += weights[leg, j] * s[j]
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
        hl, dl = leg_payoff(kinds[leg], strikes[leg], u)
        h += quantities[leg] * hl
        du = quantities[leg] * dl
        if agg == 0:
            for j in range(d):
                grad[j] += du * weights[leg, j]
        else:
            grad[arg] += du
    return h


@njit(inline="always", cache=True)
def payoff_block(aggs, kinds, strikes, quantities, weights, s, m, h, grad, u, du, arg):
    """:func:`payoff_vector` for the paths ``j < m`` of a block, the same numbers path by path:
    ``s`` (d, >= m) terminal states, one row per asset; writes h (>= m,) and grad (d, >= m).
    ``u``, ``du`` (float64) and ``arg`` (int64) are (>= m,) scratch. Every loop runs over the
    paths, with selects instead of branches, so that it vectorises. The gradient of an
    extremum adds ``du`` to the arg-min (arg-max) row and +0.0 to the others, which leaves
    them unchanged: they are sums that start from +0.0, hence never -0.0."""
    d = s.shape[0]
    for a in range(d):
        for j in range(m):
            grad[a, j] = 0.0
    for j in range(m):
        h[j] = 0.0
    for leg in range(kinds.shape[0]):
        agg = aggs[leg]
        kind = kinds[leg]
        strike = strikes[leg]
        q = quantities[leg]
        if agg == 0:
            for j in range(m):
                u[j] = 0.0
            for a in range(d):
                wa = weights[leg, a]
                for j in range(m):
                    u[j] += wa * s[a, j]
        else:
            for j in range(m):
                u[j] = s[0, j]
                arg[j] = 0
            for a in range(1, d):
                for j in range(m):
                    better = s[a, j] < u[j] if agg == 1 else s[a, j] > u[j]
                    u[j] = s[a, j] if better else u[j]
                    arg[j] = a if better else arg[j]
        for j in range(m):
            hl, dl = leg_payoff(kind, strike, u[j])
            h[j] += q * hl
            du[j] = q * dl
        if agg == 0:
            for a in range(d):
                wa = weights[leg, a]
                for j in range(m):
                    grad[a, j] += du[j] * wa
        else:
            for a in range(d):
                for j in range(m):
                    grad[a, j] += du[j] if arg[j] == a else 0.0
