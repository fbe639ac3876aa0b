"""Draw-only kernels for ``benchmarks/simulators.py``: the normals a simulator kernel draws, in
the same blocks and passes, and nothing else. Their time over the kernel's time is the share
of the kernel spent drawing."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from simulators.rng import BLOCK_SCRATCH_ROWS, draw_normals_block


@njit(parallel=True, cache=True, error_model="numpy")
def draw_only_kernel(seed, first_path, n, width, n_draws, group, repeat, out):
    """For each block of ``width`` paths, ``repeat`` times: draws 0 .. n_draws - 1 in calls of
    ``group`` draws (``rng.normals_block``). ``out[b]`` gets one number of block ``b`` so that
    nothing is optimised away."""
    for b in prange((n + width - 1) // width):
        lo = b * width
        m = min(n, lo + width) - lo
        z = np.empty((min(group, n_draws), width))
        last = np.empty((n_draws - (n_draws - 1) // group * group, width))
        work = np.empty((BLOCK_SCRATCH_ROWS, width))
        idx = np.empty(width, dtype=np.int64)
        acc = 0.0
        for _ in range(repeat):
            for g0 in range(0, n_draws, group):
                zb = z if n_draws - g0 >= group else last
                draw_normals_block(seed, 0, first_path + np.uint64(lo), m, g0, zb, work, idx)
                acc += zb[0, 0]
        out[b] = acc
