"""CPU drivers: Numba ``parallel=True`` loops over blocks of paths.

Kernels take validated, preallocated arrays and write into them; the Python wrappers in
``simulate.py`` validate and allocate. Path ``i`` of a call uses path index ``first_path + i`` of
the counter-based RNG, so the result does not depend on how paths are split across calls or threads.
Every kernel takes the product as its legs ``aggs, kinds, strikes, quantities, weights`` (shapes
(L,) and (L, d), see :mod:`simulators.products._payoff`).

Each thread takes a block of paths, draws the block's normals together
(``rng.normals_block``: Philox and the inverse CDF as loops over paths that LLVM vectorises) and
runs the model as passes over the block, with the per-path functions' operations in the same
order: the numbers are those of the per-path functions (which the GPU kernels run), bit for bit.
Kernels compile with ``error_model="numpy"``, without the zero-division guards that keep LLVM
from vectorising divisions: every divisor is positive for validated inputs (spots > 0, dt > 0,
the inverse CDF's denominators), except in the lanes of a select whose quotient is discarded
(Heston's truncated branch).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .bachelier import bachelier_block
from .black_scholes import bs_exponent, bs_terminal, bs_terminal_one_leg
from .bs_basket import bs_basket_block
from .heston import HESTON_BLOCK_ROWS, heston_block
from .rng import BLOCK_SCRATCH_ROWS, draw_normals_block, normals_block

BLOCK = 256  # paths per block: normals are drawn for a block of paths at a time
BASKET_BLOCK = 256  # multi-asset kernels: paths per block (the (assets, paths) rows stay in L2)


@njit(parallel=True, cache=True, error_model="numpy")
def black_scholes_kernel(x, col_vol, col_rate, vol, rate, dividend, tau, aggs, kinds, strikes,
                         quantities, weights, seed, first_path, antithetic, y, dydx):
    """x: (n, d) inputs (spot, [vol], [rate]); writes y (n,) and dydx (n, d).

    Per block of paths, in passes over contiguous rows (the same numbers as ``bs_path``, path
    by path): the normals (``normals_block``); the inputs copied in; the exponents; their
    exponentials (libm, one per path and sign, and e^{-r tau} when the rate is an input); the
    payoff and adjoint (``bs_terminal_one_leg`` with the leg's scalars read once for a product
    of one leg, ``bs_terminal`` over the legs otherwise); the results copied out. Every pass but
    the exponentials and the copies is vectorised across paths.
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
        zs = np.empty((1, BLOCK))
        buf = np.empty((BLOCK_SCRATCH_ROWS + 4, BLOCK))  # the normals' scratch, then rows
        idx = np.empty(BLOCK, dtype=np.int64)
        normals_block(seed, 0, first_path + np.uint64(lo), m, 0, zs, buf, idx)
        z, s0s, sigs, rs, g_up, g_dn, discs = zs[0], buf[0], buf[1], buf[2], buf[3], buf[4], buf[5]
        ys, d_ss, d_sigs, d_rs = buf[6], buf[7], buf[8], buf[9]
        for j in range(m):
            s0s[j] = x[lo + j, 0]
        if col_vol >= 0:
            for j in range(m):
                sigs[j] = x[lo + j, col_vol]
        else:
            sigs[:m] = vol
        if col_rate >= 0:
            for j in range(m):
                rs[j] = x[lo + j, col_rate]
        else:
            rs[:m] = rate
        for j in range(m):
            g_up[j] = bs_exponent(sigs[j], rs[j], dividend, tau, sqt, z[j])
        if antithetic:
            for j in range(m):
                g_dn[j] = bs_exponent(sigs[j], rs[j], dividend, tau, sqt, -z[j])
        for j in range(m):
            g_up[j] = math.exp(g_up[j])
        if antithetic:
            for j in range(m):
                g_dn[j] = math.exp(g_dn[j])
        if col_rate >= 0:
            for j in range(m):
                discs[j] = math.exp(-rs[j] * tau)
        else:
            discs[:m] = disc0
        if one_leg:
            for j in range(m):
                ys[j], d_ss[j], d_sigs[j], d_rs[j] = bs_terminal_one_leg(
                    s0s[j], sigs[j], tau, sqt, discs[j], z[j], g_up[j], agg0, kind0, strike0,
                    q0, w0)
        else:
            for j in range(m):
                ys[j], d_ss[j], d_sigs[j], d_rs[j] = bs_terminal(
                    s0s[j], sigs[j], tau, sqt, discs[j], z[j], g_up[j], aggs, kinds, strikes,
                    quantities, weights)
        if antithetic:
            for j in range(m):
                if one_leg:
                    v2, d_s2, d_sig2, d_r2 = bs_terminal_one_leg(
                        s0s[j], sigs[j], tau, sqt, discs[j], -z[j], g_dn[j], agg0, kind0,
                        strike0, q0, w0)
                else:
                    v2, d_s2, d_sig2, d_r2 = bs_terminal(
                        s0s[j], sigs[j], tau, sqt, discs[j], -z[j], g_dn[j], aggs, kinds,
                        strikes, quantities, weights)
                ys[j] = 0.5 * (ys[j] + v2)
                d_ss[j] = 0.5 * (d_ss[j] + d_s2)
                d_sigs[j] = 0.5 * (d_sigs[j] + d_sig2)
                d_rs[j] = 0.5 * (d_rs[j] + d_r2)
        y[lo:lo + m] = ys[:m]
        for j in range(m):
            dydx[lo + j, 0] = d_ss[j]
        if col_vol >= 0:
            for j in range(m):
                dydx[lo + j, col_vol] = d_sigs[j]
        if col_rate >= 0:
            for j in range(m):
                dydx[lo + j, col_rate] = d_rs[j]


@njit(parallel=True, cache=True, error_model="numpy")
def bachelier_kernel(x, chol, tau, rate, aggs, kinds, strikes, quantities, weights, seed,
                     first_path, antithetic, with_gradient, y, dydx):
    """S_T = S + sqrt(tau) L Z (``bachelier_block``, the numbers of ``bachelier_path``);
    writes y (n,) and dydx (n, d). Per block of paths: the normals, one row per asset
    (``normals_block``), then the Cholesky product, payoff and adjoint in loops over paths."""
    n, d = x.shape
    sqt = math.sqrt(tau)
    disc = math.exp(-rate * tau)
    n_blocks = (n + BASKET_BLOCK - 1) // BASKET_BLOCK
    for b in prange(n_blocks):
        lo = b * BASKET_BLOCK
        m = min(n, lo + BASKET_BLOCK) - lo
        zs = np.empty((d, BASKET_BLOCK))
        buf = np.empty((max(4 * d + 5, BLOCK_SCRATCH_ROWS), BASKET_BLOCK))
        idx = np.empty(BASKET_BLOCK, dtype=np.int64)
        draw_normals_block(seed, 0, first_path + np.uint64(lo), m, 0, zs, buf, idx)
        bachelier_block(x, lo, m, chol, sqt, disc, aggs, kinds, strikes, quantities, weights,
                        antithetic, with_gradient, zs, buf, idx, y, dydx)


@njit(parallel=True, cache=True, error_model="numpy")
def bs_basket_kernel(x, chol, vols, dividends, vol_inputs, rate, tau, aggs, kinds, strikes,
                     quantities, weights, seed, first_path, antithetic, y, dydx):
    """x: (n, d) spots then optionally (n, d) vols (``bs_basket_block``, the numbers of
    ``bs_basket_path``); writes y, dydx. Per block of paths: the normals, one row per asset
    (``normals_block``), then the scheme, payoff and adjoint in loops over paths."""
    n = x.shape[0]
    d = chol.shape[0]
    sqt = math.sqrt(tau)
    disc = math.exp(-rate * tau)
    n_blocks = (n + BASKET_BLOCK - 1) // BASKET_BLOCK
    for b in prange(n_blocks):
        lo = b * BASKET_BLOCK
        m = min(n, lo + BASKET_BLOCK) - lo
        zs = np.empty((d, BASKET_BLOCK))
        buf = np.empty((max(8 * d + 5, BLOCK_SCRATCH_ROWS), BASKET_BLOCK))
        idx = np.empty(BASKET_BLOCK, dtype=np.int64)
        draw_normals_block(seed, 0, first_path + np.uint64(lo), m, 0, zs, buf, idx)
        bs_basket_block(x, lo, m, chol, vols, dividends, vol_inputs, rate, tau, sqt, disc, aggs,
                        kinds, strikes, quantities, weights, antithetic, zs, buf, idx, y, dydx)


@njit(parallel=True, cache=True, error_model="numpy")
def heston_kernel(x, cols, kappa0, theta0, xi0, rho0, rate0, dividend, tau, steps, aggs, kinds,
                  strikes, quantities, weights, seed, first_path, antithetic, with_gradient, width,
                  y, dydx):
    """Heston log-Euler (full truncation) forward sweep, then the reverse sweep
    (``heston_block``, the numbers of ``heston_path``), a block of paths at a time.

    x: (n, d) with spot, variance, then declared parameters; ``cols`` gives the column of
    (kappa, theta, xi, rho, rate) or -1 when fixed; ``width`` paths per block
    (``heston.heston_block_width``). Writes y (n,) and dydx (n, d). Memory per thread: the
    variance path of the block, steps x width doubles (at most max(4 MiB, 8 bytes x steps):
    one path a block beyond 2**19 steps), and no normals.
    """
    n = x.shape[0]
    n_blocks = (n + width - 1) // width
    for b in prange(n_blocks):
        lo = b * width
        m = min(n, lo + width) - lo
        buf = np.empty((HESTON_BLOCK_ROWS, width))
        vs = np.empty((steps, width))
        zs = np.empty((4, width))
        work = np.empty((BLOCK_SCRATCH_ROWS, width))
        idx = np.empty(width, dtype=np.int64)
        heston_block(x, lo, m, cols, kappa0, theta0, xi0, rho0, rate0, dividend, tau, steps,
                     aggs, kinds, strikes, quantities, weights, seed, first_path, antithetic,
                     with_gradient, buf, vs, zs, work, idx, y, dydx)
