"""Option on an arithmetic weighted basket sum_j w_j S_j."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validation as v
from ._payoff import AGG_SUM, KIND_CODES, Legs, single_leg


@dataclass(frozen=True)
class BasketOption:
    """Payoff (b - K)+ (call), (K - b)+ (put) or b - K (forward) with b = sum_j w_j S_j(T).

    Attributes:
        weights: w, one per asset (shape (d,)); any sign allowed, not all zero.
        strike: K, in units of the basket, > 0.
        maturity: time from the input state's date to expiry, in years, > 0.
        kind: "call", "put" or "forward".
    """

    weights: tuple[float, ...]
    strike: float
    maturity: float
    kind: str = "call"

    def __post_init__(self) -> None:
        o = "BasketOption"
        w = v.vector(o, "weights", self.weights)
        if not any(w):
            v.fail(o, "weights", "not all zero", self.weights)
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "strike", v.positive(o, "strike", self.strike))
        object.__setattr__(self, "maturity", v.positive(o, "maturity", self.maturity))
        v.choice(o, "kind", self.kind, tuple(KIND_CODES))

    @property
    def dim(self) -> int:
        return len(self.weights)

    @property
    def sign(self) -> int:
        """+1 for a call or put, whatever the weights' signs ((x)+ >= 0); 0 for a forward."""
        return 0 if self.kind == "forward" else 1

    def encode(self, dim: int) -> Legs:
        """Kernel encoding: one leg of quantity 1 (see :mod:`simulators.products._payoff`)."""
        if dim != len(self.weights):
            v.fail("BasketOption", "weights", f"of length {dim} (one per asset of the model)",
                   f"{len(self.weights)} weights")
        return single_leg(AGG_SUM, KIND_CODES[self.kind], self.strike,
                          np.asarray(self.weights))

    def payoff(self, s_t: np.ndarray) -> np.ndarray:
        """Undiscounted payoff of terminal states, shape (n, d) -> (n,)."""
        b = np.asarray(s_t, dtype=float) @ np.asarray(self.weights)
        if self.kind == "call":
            return np.maximum(b - self.strike, 0.0)
        if self.kind == "put":
            return np.maximum(self.strike - b, 0.0)
        return b - self.strike

    def to_dict(self) -> dict:
        return {"type": "BasketOption", "weights": list(self.weights), "strike": self.strike,
                "maturity": self.maturity, "kind": self.kind}
