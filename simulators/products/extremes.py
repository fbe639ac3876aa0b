"""Options on the minimum (worst-of) or maximum (best-of) of several assets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validation as v
from ._payoff import AGG_MAX, AGG_MIN, KIND_CODES, Legs, single_leg


@dataclass(frozen=True)
class _Extremum:
    strike: float
    maturity: float
    kind: str = "call"

    _agg = AGG_MIN

    def __post_init__(self) -> None:
        o = type(self).__name__
        object.__setattr__(self, "strike", v.positive(o, "strike", self.strike))
        object.__setattr__(self, "maturity", v.positive(o, "maturity", self.maturity))
        v.choice(o, "kind", self.kind, ("call", "put"))

    dim = None  # any number of assets >= 2

    @property
    def sign(self) -> int:
        return 1

    def encode(self, dim: int) -> Legs:
        """Kernel encoding: one leg of quantity 1 (see :mod:`simulators.products._payoff`)."""
        if dim < 2:
            v.fail(type(self).__name__, "model", "a model of at least 2 assets", f"{dim} asset")
        return single_leg(self._agg, KIND_CODES[self.kind], self.strike, np.ones(dim))

    def _aggregate(self, s: np.ndarray) -> np.ndarray:
        return np.min(s, axis=1) if self._agg == AGG_MIN else np.max(s, axis=1)

    def payoff(self, s_t: np.ndarray) -> np.ndarray:
        """Undiscounted payoff of terminal states, shape (n, d) -> (n,)."""
        u = self._aggregate(np.asarray(s_t, dtype=float))
        if self.kind == "call":
            return np.maximum(u - self.strike, 0.0)
        return np.maximum(self.strike - u, 0.0)

    def to_dict(self) -> dict:
        return {"type": type(self).__name__, "strike": self.strike, "maturity": self.maturity,
                "kind": self.kind}


@dataclass(frozen=True)
class WorstOf(_Extremum):
    """Call (min_j S_j - K)+ or put (K - min_j S_j)+ at ``maturity`` (years from the input date).

    The pathwise gradient goes to the arg-min asset.
    """

    _agg = AGG_MIN


@dataclass(frozen=True)
class BestOf(_Extremum):
    """Call (max_j S_j - K)+ or put (K - max_j S_j)+ at ``maturity`` (years from the input date)."""

    _agg = AGG_MAX
