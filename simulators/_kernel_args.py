"""Arguments the CPU and GPU kernels share: the legs arrays and Heston's parameter columns."""

from __future__ import annotations

import numpy as np


def kernel_legs(encoded) -> tuple[np.ndarray, ...]:
    """The legs arrays, contiguous, in the kernels' dtypes (int64 codes, float64 numbers)."""
    aggs, kinds, strikes, quantities, weights = encoded
    return (np.ascontiguousarray(aggs, dtype=np.int64),
            np.ascontiguousarray(kinds, dtype=np.int64),
            np.ascontiguousarray(strikes, dtype=np.float64),
            np.ascontiguousarray(quantities, dtype=np.float64),
            np.ascontiguousarray(weights, dtype=np.float64))


def heston_columns(model) -> np.ndarray:
    """Column of (kappa, theta, xi, rho, rate) in x, or -1 when the parameter is fixed."""
    return np.array([model.inputs.index(p) if p in model.inputs else -1
                     for p in ("kappa", "theta", "xi", "rho", "rate")], dtype=np.int64)
