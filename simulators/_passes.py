"""Passes over a block of paths, for the CPU kernels of the multi-asset models.

Each pass is a loop over the paths of a block (rows of shape (rows, >= m), one row per asset,
contiguous over paths), compiled on its own: LLVM then vectorises it whatever calls it, whereas
the same loops inlined into a large kernel can lose their vectorisation. A call costs nothing
next to a block of hundreds of paths. Every pass performs the per-path operations of the
per-path functions in the same order, so the numbers are the same path by path.
"""

from __future__ import annotations

import math

from numba import njit

from .products._payoff import payoff_block


@njit(cache=True, error_model="numpy")
def gather_columns(x, lo, m, c0, out):
    """``out[a, j] = x[lo + j, c0 + a]`` for every row ``a`` of ``out`` and ``j < m``."""
    for a in range(out.shape[0]):
        for j in range(m):
            out[a, j] = x[lo + j, c0 + a]


@njit(cache=True, error_model="numpy")
def scatter_columns(src, scale, lo, m, c0, out):
    """``out[lo + j, c0 + a] = src[a, j] * scale`` for every row ``a`` of ``src``, ``j < m``."""
    for a in range(src.shape[0]):
        for j in range(m):
            out[lo + j, c0 + a] = src[a, j] * scale


@njit(cache=True, error_model="numpy")
def fill_rows(out, m, value):
    """``out[a, j] = value`` for every row ``a`` and ``j < m``."""
    for a in range(out.shape[0]):
        for j in range(m):
            out[a, j] = value


@njit(cache=True, error_model="numpy")
def add_rows(src, m, out):
    """``out[a, j] += src[a, j]`` for every row ``a`` of ``out`` and ``j < m``."""
    for a in range(out.shape[0]):
        for j in range(m):
            out[a, j] += src[a, j]


@njit(cache=True, error_model="numpy")
def lower_matvec(chol, z, m, out):
    """``out[a, j] = sum_{k <= a} chol[a, k] z[k, j]``, summed from 0.0 in increasing k (the
    per-path ``acc += chol[a, k] * z[k]``), for every row ``a`` of ``out`` and ``j < m``."""
    for a in range(out.shape[0]):
        for j in range(m):
            out[a, j] = 0.0
        for k in range(a + 1):
            c = chol[a, k]
            for j in range(m):
                out[a, j] += c * z[k, j]


@njit(cache=True, error_model="numpy")
def exp_rows(s, m):
    """``s[a, j] = exp(s[a, j])`` (libm, one call per element, as the per-path code)."""
    for a in range(s.shape[0]):
        for j in range(m):
            s[a, j] = math.exp(s[a, j])


@njit(cache=True, error_model="numpy")
def payoff_pass(aggs, kinds, strikes, quantities, weights, s, m, h, grad, u, du, arg):
    """:func:`simulators.products._payoff.payoff_block`, compiled on its own."""
    payoff_block(aggs, kinds, strikes, quantities, weights, s, m, h, grad, u, du, arg)
