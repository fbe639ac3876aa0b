"""A value-only Black-Scholes kernel (no adjoint): the baseline of the adjoint-overhead
benchmark in ``benchmarks/simulators.py``. Same RNG stream, blocking and passes as
``simulators._cpu.black_scholes_kernel`` (normals, exponents, exponentials, payoff), so the two
differ only by the adjoint."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from simulators._cpu import BLOCK
from simulators.black_scholes import bs_exponent
from simulators.rng import BLOCK_SCRATCH_ROWS, normals_block


@njit(parallel=True, cache=True, error_model="numpy")
def black_scholes_value_kernel(x, vol, rate, dividend, tau, kind, strike, seed, first_path, y):
    """Value only (no adjoint): the baseline of the adjoint-overhead benchmark."""
    n = x.shape[0]
    sqt = math.sqrt(tau)
    disc = math.exp(-rate * tau)
    n_blocks = (n + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        zs = np.empty((1, BLOCK))
        buf = np.empty((BLOCK_SCRATCH_ROWS, BLOCK))  # the normals' scratch, then rows
        idx = np.empty(BLOCK, dtype=np.int64)
        normals_block(seed, 0, first_path + np.uint64(lo), m, 0, zs, buf, idx)
        z, s0s, g = zs[0], buf[0], buf[1]
        for j in range(m):
            s0s[j] = x[lo + j, 0]
        for j in range(m):
            g[j] = bs_exponent(vol, rate, dividend, tau, sqt, z[j])
        for j in range(m):
            g[j] = math.exp(g[j])
        if kind == 0:
            for j in range(m):
                y[lo + j] = disc * max(s0s[j] * g[j] - strike, 0.0)
        else:
            for j in range(m):
                y[lo + j] = disc * max(strike - s0s[j] * g[j], 0.0)
