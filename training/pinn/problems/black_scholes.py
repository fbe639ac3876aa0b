"""Black-Scholes 1D: European call or put, risk-free or with XVA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from simulators.xva import XVA

from .. import _validation as v
from ..closed_form import black_scholes
from .base import Derivatives, Face, PDEProblem

_KINDS = ("call", "put")


@dataclass(frozen=True)
class BlackScholesPDE(PDEProblem):
    """``dV/dtau = 1/2 vol^2 S^2 V_SS + b S V_S - r V - f(V)`` on [0, s_max], b = rate - dividend.

    Attributes:
        strike: K > 0, inside (0, s_max).
        maturity: T in years; tau in [0, T].
        vol: sigma per sqrt(year), > 0.
        rate: r, continuously compounded (discounting and repo).
        dividend: continuous dividend yield.
        kind: "call" or "put".
        s_max: upper end of the spot domain (default 4 K).
        xva: default/funding parameters (None: risk-free).

    Boundary-safe residuals (methods.md §2): at S = 0 the full PDE (it reduces to
    ``dV/dtau = -r V - f(V)``); at s_max the PDE without the V_SS term (linearity).
    Classical: Dirichlet ``e^{-c tau}`` times the risk-free asymptotes (put: K e^{-r tau} at 0, 0 at
    s_max; call: 0 and ``S e^{-delta tau} - K e^{-r tau}``).
    """

    strike: float
    maturity: float
    vol: float
    rate: float = 0.0
    dividend: float = 0.0
    kind: str = "put"
    s_max: float | None = None
    xva: XVA | None = None

    state_names: ClassVar[tuple[str, ...]] = ("spot",)

    def __post_init__(self) -> None:
        o = type(self).__name__
        k = v.positive(o, "strike", self.strike)
        s_max = 4.0 * k if self.s_max is None else v.positive(o, "s_max", self.s_max)
        v.inside_domain(o, "strike", self.strike, 0.0, s_max)
        object.__setattr__(self, "strike", k)
        object.__setattr__(self, "s_max", s_max)
        object.__setattr__(self, "maturity", v.positive(o, "maturity", self.maturity))
        object.__setattr__(self, "vol", v.positive(o, "vol", self.vol))
        object.__setattr__(self, "rate", v.real(o, "rate", self.rate))
        object.__setattr__(self, "dividend", v.real(o, "dividend", self.dividend))
        v.one_of(o, "kind", self.kind, _KINDS)
        if self.xva is not None and not isinstance(self.xva, XVA):
            v.fail(o, "xva", "be an XVA instance or None", self.xva)

    @property
    def drift(self) -> float:
        return self.rate - self.dividend

    @property
    def lower(self) -> tuple[float, ...]:
        return (0.0,)

    @property
    def upper(self) -> tuple[float, ...]:
        return (float(self.s_max),)

    def faces(self) -> tuple[Face, ...]:
        return (
            Face("spot_min", 0, "min"),
            Face("spot_max", 0, "max", drop=frozenset({"SS"})),
        )

    def payoff(self, x: Tensor) -> Tensor:
        s = x[:, 0]
        if self.kind == "call":
            return torch.clamp(s - self.strike, min=0.0)
        return torch.clamp(self.strike - s, min=0.0)

    @property
    def payoff_sign(self) -> int:
        return 1

    def generator(self, x: Tensor, d: Derivatives, drop: frozenset[str] = frozenset()) -> Tensor:
        s = x[:, 0]
        out = torch.zeros_like(d.value)
        if "SS" not in drop:
            out = out + 0.5 * self.vol**2 * s**2 * d.hess[:, 0, 0]
        if "S" not in drop:
            out = out + self.drift * s * d.grad[:, 0]
        return out

    def boundary_value(self, face: Face, tau: Tensor, x: Tensor) -> Tensor:
        s = x[:, 0]
        k, r, q, c = self.strike, self.rate, self.dividend, self.spread
        if (face.side == "min") == (self.kind == "put"):
            if self.kind == "put":
                val = k * torch.exp(-r * tau)
            else:
                val = s * torch.exp(-q * tau) - k * torch.exp(-r * tau)
        else:
            val = torch.zeros_like(s)
        return val * torch.exp(-c * tau)

    def base_value(self, tau: Tensor, x: Tensor) -> Tensor:
        return black_scholes(
            x[:, 0], self.strike, tau, self.vol, self.rate, self.dividend, self.kind
        )

    def exact_value(self, tau: Tensor, x: Tensor) -> Tensor:
        """Exact risky value ``e^{-c tau}`` times the Black-Scholes price (one-signed payoff)."""
        return self.base_value(tau, x) * torch.exp(-self.spread * tau)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "strike": self.strike,
            "maturity": self.maturity,
            "vol": self.vol,
            "rate": self.rate,
            "dividend": self.dividend,
            "kind": self.kind,
            "s_max": self.s_max,
            "xva": None if self.xva is None else self.xva.to_dict(),
        }


