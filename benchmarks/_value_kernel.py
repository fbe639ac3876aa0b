"""A value-only Black-Scholes kernel (no adjoint): the baseline of the adjoint-overhead
benchmark in ``benchmarks/simulators.py``. Same RNG stream and blocking as
``simulators._cpu.black_scholes_kernel``, so the two differ only by the adjoint."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from simulators._cpu import BLOCK
from simulators.rng import normal_block


@njit(parallel=True, cache=True)
def black_scholes_value_kernel(x, vol, rate, dividend, tau, kind, strike, seed, first_path, y):
    """Value only (no adjoint): the baseline of the adjoint-overhead benchmark."""
    n = x.shape[0]
    sqt = math.sqrt(tau)
    disc = math.exp(-rate * tau)
    drift = (rate - dividend - 0.5 * vol * vol) * tau
    n_blocks = (n + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        u = np.empty(BLOCK)
        zs = np.empty(BLOCK)
        normal_block(seed, 0, first_path + lo, 0, m, u, zs)
        for j in range(m):
            s_t = x[lo + j, 0] * math.exp(drift + vol * sqt * zs[j])
            if kind == 0:
                y[lo + j] = disc * max(s_t - strike, 0.0)
            else:
                y[lo + j] = disc * max(strike - s_t, 0.0)
