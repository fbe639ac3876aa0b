"""Finite-difference reference solvers (NumPy/SciPy only) for the risk-free and risky (XVA) PDEs.

- :func:`black_scholes_1d`: Crank-Nicolson + Rannacher, Picard loop on the XVA source.
- :func:`basket_2d`: two-asset arithmetic basket, worst-of or best-of; Hundsdorfer-Verwer ADI.
- :func:`heston_2d`: Heston (S, v); Hundsdorfer-Verwer ADI.

Arguments are keyword-only, in the order of the other pricers (docs/pricers.md): the product
(``strike``, ``maturity``, ``kind``, default ``"call"``), then the model's parameters in the order
of its ``simulators`` class, then the rest (``weights``, ``style``, ``xva``, ``payoff``, grid).

Each returns an :class:`FDSolution` with ``price``, ``delta``, ``gamma`` (and ``vega`` for Heston)
interpolated at arbitrary points, and :class:`FDStats` (grid, timing, iterations).
"""

from ._grid import (
    auto_cluster_1d,
    auto_cluster_basket,
    auto_cluster_heston,
    basket_reach,
    heston_s_max,
    heston_v_cluster,
    lognormal_s_max,
)
from ._solution import FDSolution, FDStats
from .basket_2d import basket_2d
from .black_scholes_1d import black_scholes_1d
from .heston_2d import heston_2d

__all__ = ["FDSolution", "FDStats", "auto_cluster_1d", "auto_cluster_basket",
           "auto_cluster_heston", "basket_2d", "basket_reach", "black_scholes_1d", "heston_2d",
           "heston_s_max", "heston_v_cluster", "lognormal_s_max"]
