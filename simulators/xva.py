"""Counterparty and funding adjustment parameters (Burgard-Kjaer, close-out at the risky value)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import _validation as v


@dataclass(frozen=True)
class XVA:
    """Default and funding parameters of the risky valuation.

    The risky value solves ``dV/dtau = L V - r V - f(V)`` with
    ``f(V) = (1 - R_B) lambda_B min(V, 0) + (1 - R_C) lambda_C max(V, 0) + s_F max(V, 0)``.

    Attributes:
        lambda_b: hazard rate of the seller B, per year, >= 0.
        lambda_c: hazard rate of the counterparty C, per year, >= 0.
        recovery_b: recovery rate of B, in [0, 1].
        recovery_c: recovery rate of C, in [0, 1].
        funding_spread: s_F, per year; ``None`` means ``(1 - R_B) lambda_B`` (the derivative
            cannot be used as collateral).
    """

    lambda_b: float = 0.0
    lambda_c: float = 0.0
    recovery_b: float = 0.4
    recovery_c: float = 0.4
    funding_spread: float | None = None

    def __post_init__(self) -> None:
        o = "XVA"
        object.__setattr__(self, "lambda_b", v.non_negative(o, "lambda_b", self.lambda_b))
        object.__setattr__(self, "lambda_c", v.non_negative(o, "lambda_c", self.lambda_c))
        object.__setattr__(self, "recovery_b", v.in_range(o, "recovery_b", self.recovery_b, 0, 1))
        object.__setattr__(self, "recovery_c", v.in_range(o, "recovery_c", self.recovery_c, 0, 1))
        if self.funding_spread is not None:
            object.__setattr__(
                self, "funding_spread", v.non_negative(o, "funding_spread", self.funding_spread)
            )

    @property
    def s_f(self) -> float:
        """Funding spread s_F per year (defaults to (1 - R_B) lambda_B)."""
        if self.funding_spread is not None:
            return self.funding_spread
        return (1.0 - self.recovery_b) * self.lambda_b

    @property
    def spread_positive(self) -> float:
        """Discount spread c for a value that stays >= 0: (1 - R_C) lambda_C + s_F."""
        return (1.0 - self.recovery_c) * self.lambda_c + self.s_f

    @property
    def spread_negative(self) -> float:
        """Discount spread c for a value that stays <= 0: (1 - R_B) lambda_B."""
        return (1.0 - self.recovery_b) * self.lambda_b

    def spread(self, sign: int) -> float:
        """Discount spread c for a payoff of the given sign (+1: >= 0, -1: <= 0)."""
        if sign not in (1, -1):
            raise ValueError(f"The 'sign' argument of XVA.spread must be +1 or -1. Got {sign!r}.")
        return self.spread_positive if sign > 0 else self.spread_negative

    def factor(self, tau: float, sign: int) -> float:
        """e^{-c tau}: risky / risk-free value for a one-signed payoff, tau = time to maturity."""
        return math.exp(-self.spread(sign) * tau)

    def source(self, value):
        """The non-linear source f(V) (NumPy or torch arrays, or floats)."""
        neg = (1.0 - self.recovery_b) * self.lambda_b
        pos = (1.0 - self.recovery_c) * self.lambda_c + self.s_f
        try:
            import torch

            if isinstance(value, torch.Tensor):
                return neg * torch.clamp(value, max=0.0) + pos * torch.clamp(value, min=0.0)
        except ImportError:  # pragma: no cover
            pass
        import numpy as np

        return neg * np.minimum(value, 0.0) + pos * np.maximum(value, 0.0)

    def to_dict(self) -> dict:
        return {
            "type": "XVA",
            "lambda_b": self.lambda_b,
            "lambda_c": self.lambda_c,
            "recovery_b": self.recovery_b,
            "recovery_c": self.recovery_c,
            "funding_spread": self.funding_spread,
        }
