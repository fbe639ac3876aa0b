"""Typed results shared by the multi-asset pricers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BasketGreeks:
    """Price and per-asset deltas of a multi-asset option.

    Attributes:
        price: shape (n,), the option value discounted to today.
        delta: shape (n, d), dV/dspots[:, j].
    """

    price: np.ndarray
    delta: np.ndarray
