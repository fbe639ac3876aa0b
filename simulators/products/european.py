"""European call, put or forward on a single asset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validation as v
from ._payoff import AGG_SUM, KIND_CODES, Legs, single_leg


@dataclass(frozen=True)
class European:
    """Payoff (S_T - K)+ (call), (K - S_T)+ (put) or S_T - K (forward) at ``maturity``.

    Attributes:
        strike: K, in units of the spot, > 0.
        maturity: time from the input state's date to expiry, in years, > 0.
        kind: "call", "put" or "forward" (the forward changes sign).
    """

    strike: float
    maturity: float
    kind: str = "call"

    def __post_init__(self) -> None:
        object.__setattr__(self, "strike", v.positive("European", "strike", self.strike))
        object.__setattr__(self, "maturity", v.positive("European", "maturity", self.maturity))
        v.choice("European", "kind", self.kind, tuple(KIND_CODES))

    dim = 1

    @property
    def sign(self) -> int:
        """+1 for payoffs >= 0, -1 for payoffs <= 0, 0 for payoffs of both signs."""
        return 0 if self.kind == "forward" else 1

    def encode(self, dim: int) -> Legs:
        """Kernel encoding: one leg of quantity 1 (see :mod:`simulators.products._payoff`)."""
        if dim != 1:
            raise ValueError(
                f"European pays on a single asset but the model has {dim} assets: "
                "use BasketOption, WorstOf or BestOf."
            )
        return single_leg(AGG_SUM, KIND_CODES[self.kind], self.strike, np.ones(1))

    def payoff(self, s_t: np.ndarray) -> np.ndarray:
        """Undiscounted payoff of terminal spots, shape (n,) or (n, 1) -> (n,)."""
        s = np.asarray(s_t, dtype=float).reshape(len(s_t), -1)[:, 0]
        if self.kind == "call":
            return np.maximum(s - self.strike, 0.0)
        if self.kind == "put":
            return np.maximum(self.strike - s, 0.0)
        return s - self.strike

    def to_dict(self) -> dict:
        return {"type": "European", "strike": self.strike, "maturity": self.maturity,
                "kind": self.kind}
