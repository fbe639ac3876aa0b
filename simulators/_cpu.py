"""CPU drivers: Numba ``parallel=True`` loops over paths around each model's per-path functions.

Kernels take validated, preallocated arrays and write into them; the Python wrappers in
``simulate.py`` validate and allocate. Path ``i`` of a call uses path index ``first_path + i`` of
the counter-based RNG, so the result does not depend on how paths are split across calls or threads.
Every kernel takes the product as its legs ``aggs, kinds, strikes, quantities, weights`` (shapes
(L,) and (L, d), see :mod:`simulators.products._payoff`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .bachelier import bachelier_path
from .black_scholes import bs_path, bs_path_one_leg
from .bs_basket import bs_basket_path
from .heston import heston_path
from .rng import normal_block

BLOCK = 256  # paths per scratch allocation in multi-asset kernels


@njit(parallel=True, cache=True)
def black_scholes_kernel(x, col_vol, col_rate, vol, rate, dividend, tau, aggs, kinds, strikes,
                         quantities, weights, seed, first_path, antithetic, y, dydx):
    """x: (n, d) inputs (spot, [vol], [rate]); writes y (n,) and dydx (n, d).

    A product of one leg (every product but a netting set) runs ``bs_path_one_leg`` with the
    leg's scalars read once: the same numbers as ``bs_path``, without the loop over legs.
    """
    n = x.shape[0]
    sqt = math.sqrt(tau)
    disc0 = math.exp(-rate * tau)
    one_leg = kinds.shape[0] == 1
    agg0, kind0, strike0, q0, w0 = aggs[0], kinds[0], strikes[0], quantities[0], weights[0, 0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        u = np.empty(BLOCK)
        zs = np.empty(BLOCK)
        normal_block(seed, 0, first_path + lo, 0, m, u, zs)
        for j in range(m):
            i = lo + j
            s0 = x[i, 0]
            sig = x[i, col_vol] if col_vol >= 0 else vol
            r = x[i, col_rate] if col_rate >= 0 else rate
            disc = math.exp(-r * tau) if col_rate >= 0 else disc0
            z = zs[j]
            if one_leg:
                v, d_s, d_sig, d_r = bs_path_one_leg(s0, sig, r, dividend, tau, sqt, disc, z,
                                                     agg0, kind0, strike0, q0, w0)
            else:
                v, d_s, d_sig, d_r = bs_path(s0, sig, r, dividend, tau, sqt, disc, z, aggs,
                                             kinds, strikes, quantities, weights)
            if antithetic:
                if one_leg:
                    v2, d_s2, d_sig2, d_r2 = bs_path_one_leg(s0, sig, r, dividend, tau, sqt, disc,
                                                             -z, agg0, kind0, strike0, q0, w0)
                else:
                    v2, d_s2, d_sig2, d_r2 = bs_path(s0, sig, r, dividend, tau, sqt, disc, -z,
                                                     aggs, kinds, strikes, quantities, weights)
                v = 0.5 * (v + v2)
                d_s = 0.5 * (d_s + d_s2)
                d_sig = 0.5 * (d_sig + d_sig2)
                d_r = 0.5 * (d_r + d_r2)
            y[i] = v
            dydx[i, 0] = d_s
            if col_vol >= 0:
                dydx[i, col_vol] = d_sig
            if col_rate >= 0:
                dydx[i, col_rate] = d_r


@njit(parallel=True, cache=True)
def bachelier_kernel(x, chol, tau, rate, aggs, kinds, strikes, quantities, weights, seed,
                     first_path, antithetic, with_gradient, y, dydx):
    """S_T = S + sqrt(tau) L Z per path (``bachelier_path``); writes y (n,) and dydx (n, d)."""
    n, d = x.shape
    sqt = math.sqrt(tau)
    disc = math.exp(-rate * tau)
    n_blocks = (n + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        z = np.empty(d)
        s = np.empty(d)
        g = np.empty(d)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            y[i] = bachelier_path(x[i], chol, sqt, disc, aggs, kinds, strikes, quantities,
                                  weights, seed, first_path + i, antithetic, with_gradient, z, s,
                                  g, dydx[i])


@njit(parallel=True, cache=True)
def bs_basket_kernel(x, chol, vols, dividends, vol_inputs, rate, tau, aggs, kinds, strikes,
                     quantities, weights, seed, first_path, antithetic, y, dydx):
    """x: (n, d) spots then optionally (n, d) vols (``bs_basket_path``); writes y, dydx."""
    n = x.shape[0]
    d = chol.shape[0]
    sqt = math.sqrt(tau)
    disc = math.exp(-rate * tau)
    n_blocks = (n + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        z = np.empty(d)
        w = np.empty(d)
        sig = np.empty(d)
        s = np.empty(d)
        g = np.empty(d)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            y[i] = bs_basket_path(x[i], chol, vols, dividends, vol_inputs, rate, tau, sqt, disc,
                                  aggs, kinds, strikes, quantities, weights, seed,
                                  first_path + i, antithetic, z, w, sig, s, g, dydx[i])


@njit(parallel=True, cache=True)
def heston_kernel(x, cols, kappa0, theta0, xi0, rho0, rate0, dividend, tau, steps, aggs, kinds,
                  strikes, quantities, weights, seed, first_path, antithetic, with_gradient, y,
                  dydx):
    """Heston log-Euler (full truncation) forward sweep, then the reverse sweep (``heston_path``).

    x: (n, d) with spot, variance, then declared parameters; ``cols`` gives the column of
    (kappa, theta, xi, rho, rate) or -1 when fixed. Writes y (n,) and dydx (n, d).
    """
    n = x.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        vs = np.empty(steps)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            kappa = x[i, cols[0]] if cols[0] >= 0 else kappa0
            theta = x[i, cols[1]] if cols[1] >= 0 else theta0
            xi = x[i, cols[2]] if cols[2] >= 0 else xi0
            rho = x[i, cols[3]] if cols[3] >= 0 else rho0
            r = x[i, cols[4]] if cols[4] >= 0 else rate0
            out = heston_path(x[i, 0], x[i, 1], kappa, theta, xi, rho, r, dividend, tau, steps,
                              aggs, kinds, strikes, quantities, weights, seed, first_path + i,
                              antithetic, with_gradient, vs)
            y[i] = out[0]
            if with_gradient:
                dydx[i, 0] = out[1]
                dydx[i, 1] = out[2]
                for c in range(5):
                    if cols[c] >= 0:
                        dydx[i, cols[c]] = out[3 + c]
