"""Payoffs and their pathwise gradients at given terminal states, outside any simulation."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import _validation as v
from ._payoff import payoff_vector


@njit(parallel=True, cache=True)
def _payoff_rows(aggs, kinds, strikes, quantities, weights, s, h, grad):
    for i in prange(s.shape[0]):
        h[i] = payoff_vector(aggs, kinds, strikes, quantities, weights, s[i], grad[i])


def payoff_and_gradient(product, s_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The undiscounted payoff h(S_T) and its gradient dh/dS_T at terminal spots.

    The same per-path function as the simulators' kernels (``payoff_vector``), so the numbers
    agree with theirs; the gradient of a leg at its kink takes the value of the simulators
    (0 for a call at S_T = K), and that of an extremum goes to the arg-min (arg-max) asset.

    Args:
        product: any product of :mod:`simulators.products`.
        s_t: terminal spots, shape (n, d) with d the number of assets (or (n,) for one asset).

    Returns:
        (h (n,), dh/dS_T (n, d)), float64.
    """
    s = np.asarray(s_t, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2 or s.shape[0] < 1:
        v.fail("payoff_and_gradient", "s_t", "an array of shape (n,) or (n, d), n >= 1",
               f"shape {s.shape}")
    if not np.all(np.isfinite(s)):
        v.fail("payoff_and_gradient", "s_t", "finite spots", "non-finite entries")
    s = np.ascontiguousarray(s)
    aggs, kinds, strikes, quantities, weights = product.encode(s.shape[1])
    h = np.empty(s.shape[0])
    grad = np.empty_like(s)
    _payoff_rows(aggs, kinds, strikes, quantities, weights, s, h, grad)
    return h, grad
