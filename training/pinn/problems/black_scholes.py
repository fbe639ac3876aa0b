"""Black-Scholes 1D: European call, put, forward or a netting set of them, risk-free or with XVA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from simulators import Leg, NettingSet
from simulators.xva import XVA

from ... import _validation as v
from ..closed_form import black_scholes
from . import legs
from .base import Derivatives, Face, PDEProblem

_KINDS = ("call", "put", "forward")


@dataclass(frozen=True, kw_only=True)
class BlackScholesPDE(PDEProblem):
    """``dV/dtau = 1/2 vol^2 S^2 V_SS + b S V_S - r V - f(V)`` on [0, s_max], b = rate - dividend.

    Attributes (keyword-only, in the order of the other pricers: product, model as in
    :class:`simulators.BlackScholes`, then the rest):
        strike: K > 0, inside (0, s_max).
        maturity: T in years; tau in [0, T].
        kind: "call", "put" or "forward" (ignored when ``netting`` is given).
        vol: sigma per sqrt(year), > 0.
        rate: r, continuously compounded (discounting and repo).
        dividend: continuous dividend yield.
        s_max: upper end of the spot domain (default 4 K).
        xva: default/funding parameters (None: risk-free).
        netting: a :class:`simulators.NettingSet` of single-asset legs with this maturity; the
            payoff is then the netting set's and ``strike`` only sets the scale (value scale K,
            default s_max = 4 K, collocation clustered at K). None: one leg ``kind`` at ``strike``.

    Boundary-safe residuals: at S = 0 the full PDE (it reduces to ``dV/dtau = -r V - f(V)``); at
    s_max the PDE without the V_SS term (linearity).
    Classical: Dirichlet data, the legs' risk-free asymptotes summed (put: K e^{-r tau} at 0, 0 at
    s_max; call: 0 and ``S e^{-delta tau} - K e^{-r tau}``; forward: ``S e^{-delta tau} - K
    e^{-r tau}`` on both) times ``e^{-c tau}`` with c the spread of the data's sign (exact at
    S = 0, asymptotic at s_max).
    """

    strike: float
    maturity: float
    kind: str = "call"
    vol: float
    rate: float = 0.0
    dividend: float = 0.0
    s_max: float | None = None
    xva: XVA | None = None
    netting: NettingSet | None = None

    state_names: ClassVar[tuple[str, ...]] = ("spot",)
    parameter_names: ClassVar[tuple[str, ...]] = (
        "vol", "rate", "dividend", "lambda_b", "lambda_c", "recovery_b", "recovery_c")

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
        if self.netting is not None:  # one-asset basket legs as the asset legs they are
            object.__setattr__(self, "netting",
                               legs.netting_of(o, self.netting, self.kind, k, self.maturity, 1))
            legs.check_kinks_inside(o, self.netting, self.s_max)

    @property
    def netting_set(self) -> NettingSet:
        """The payoff as a netting set (one leg ``kind`` at ``strike`` unless ``netting``)."""
        return legs.netting_of("BlackScholesPDE", self.netting, self.kind, self.strike,
                               self.maturity, 1)

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
        return legs.payoff(self.netting_set, x)

    @property
    def payoff_sign(self) -> int:
        return self.netting_set.sign

    def generator(self, x: Tensor, d: Derivatives, drop: frozenset[str] = frozenset()) -> Tensor:
        s = x[:, 0]
        out = torch.zeros_like(d.value)
        if "SS" not in drop:
            out = out + 0.5 * self.vol**2 * s**2 * d.hess[:, 0, 0]
        if "S" not in drop:
            out = out + self.drift * s * d.grad[:, 0]
        return out

    def boundary_value(self, face: Face, tau: Tensor, x: Tensor) -> Tensor:
        s = x[:, 0] if face.side == "max" else torch.zeros_like(x[:, 0])
        r, q = self.rate, self.dividend

        def asymptote(leg: Leg, t: Tensor, y: Tensor) -> Tensor:
            return legs.spot_asymptote(leg, face.side, s, q, r, t)

        return legs.sign_discount(self.xva, legs.summed(self.netting_set, asymptote, tau, x), tau)

    def leg_price(self, leg: Leg, tau: Tensor, x: Tensor) -> Tensor:
        if leg.kind == "forward":
            return legs.forward_value(x[:, 0] * torch.exp(-self.dividend * tau), leg.strike,
                                      self.rate, tau)
        return black_scholes(x[:, 0], leg.strike, tau, self.vol, self.rate, self.dividend,
                             leg.kind)

    def base_value(self, tau: Tensor, x: Tensor) -> Tensor:
        """Risk-free Black-Scholes value of the netting set (the legs' closed forms summed)."""
        return legs.summed(self.netting_set, self.leg_price, tau, x)

    def exact_value(self, tau: Tensor, x: Tensor) -> Tensor:
        """Exact risky value ``e^{-c tau}`` times the Black-Scholes price (one-signed payoff
        only: a payoff of both signs has no closed form under XVA)."""
        if self.xva is not None and self.payoff_sign == 0:
            raise ValueError("BlackScholesPDE.exact_value needs a one-signed payoff under XVA; "
                             "use evaluation.fd.black_scholes_1d for a payoff of both signs.")
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
            "netting": None if self.netting is None else self.netting.to_dict(),
        }


