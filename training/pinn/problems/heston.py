"""Heston stochastic volatility: European call, put, forward or a netting set of them, risk-free
or with XVA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from simulators import Leg, NettingSet
from simulators.xva import XVA

from ... import _validation as v
from ..closed_form import black_scholes, heston_effective_variance, heston_first_order
from ..heston_cf import heston_derivatives
from ..tabulated import tabulated_base
from . import legs
from .base import Derivatives, Face, PDEProblem

_KINDS = ("call", "put", "forward")
_V0 = ("effective_variance",)
_VMAX = ("neumann", "linear")
_BASES = ("characteristic_function", "first_order")


@dataclass(frozen=True, kw_only=True)
class HestonPDE(PDEProblem):
    """Heston PDE on (S, v) in [0, s_max] x [0, v_max]:

    ``L V = 1/2 v S^2 V_SS + rho xi v S V_Sv + 1/2 xi^2 v V_vv + b S V_S + kappa (theta - v) V_v``,
    b = rate - dividend. Generator term names: "SS", "Sv", "vv", "S", "v".

    Attributes (keyword-only, in the order of the other pricers: product, model as in
    :class:`simulators.Heston`, then the rest):
        strike, maturity, kind: as in :class:`BlackScholesPDE`.
        kappa: mean-reversion speed per year, > 0.
        theta: long-run variance, > 0.
        xi: volatility of variance, > 0.
        rho: spot/variance correlation in (-1, 1).
        rate, dividend, netting: as in :class:`BlackScholesPDE` (netting: single-asset legs;
            each leg's base and boundary data as below, summed).
        s_max: upper end of the spot domain (default 4 K).
        v_max: upper end of the variance domain (default 1).
        xva: default/funding parameters (None: risk-free).
        v_max_condition: far-field condition at v_max. "neumann" (the source's): dV/dv = 0, which
            removes the "v" and "Sv" terms; "linear": V_vv = 0, which removes the "vv" term only
            and keeps the vega the truncation would otherwise force to zero (boundary-safe and
            classical losses then both use that reduced residual).
        v0_dirichlet: Dirichlet data at v = 0, required when the Feller condition
            2 kappa theta > xi^2 fails; "effective_variance" imposes the Black-Scholes value with
            the integrated expected variance started from v = 0 (an approximation, times
            e^{-c tau}).

    Boundary-safe residuals (docs/methods.md §2): at v = 0 the degenerate PDE (Feller), S faces
    as in 1D, at v_max the PDE without the "v" and "Sv" terms (Neumann dV/dv = 0; or without
    "vv" for ``v_max_condition="linear"``).
    Classical: Dirichlet at S = 0 and s_max, Neumann dV/dv = 0 at v_max (or the "linear" reduced
    PDE), the degenerate PDE at v = 0.
    Base function (``base``): "characteristic_function" (default), the exact risk-free Heston
    price and its derivatives by the characteristic function
    (:func:`~training.pinn.heston_cf.heston_derivatives`), tabulated once per point set; or
    "first_order", the price to first order in xi (:func:`~training.pinn.closed_form
    .heston_first_order`: Black-Scholes with total variance
    ``w = theta tau + (v - theta)(1 - e^{-kappa tau}) / kappa`` plus the rho xi skew term), an
    approximation 3-7x closer to the characteristic function than Black-Scholes with w alone (at
    S = K, v = theta, T = 1: 0.31 off instead of 1.04 for our put). Both are exact at tau = 0.
    """

    strike: float
    maturity: float
    kind: str = "call"
    kappa: float = 1.0
    theta: float = 0.04
    xi: float = 0.3
    rho: float = 0.0
    rate: float = 0.0
    dividend: float = 0.0
    s_max: float | None = None
    v_max: float = 1.0
    xva: XVA | None = None
    v0_dirichlet: str | None = None
    v_max_condition: str = "neumann"
    base: str = "characteristic_function"
    netting: NettingSet | None = None

    state_names: ClassVar[tuple[str, ...]] = ("spot", "variance")
    parameter_names: ClassVar[tuple[str, ...]] = (
        "kappa", "theta", "xi", "rho", "rate", "dividend", "lambda_b", "lambda_c", "recovery_b",
        "recovery_c")

    def __post_init__(self) -> None:
        o = type(self).__name__
        k = v.positive(o, "strike", self.strike)
        s_max = 4.0 * k if self.s_max is None else v.positive(o, "s_max", self.s_max)
        v.inside_domain(o, "strike", self.strike, 0.0, s_max)
        object.__setattr__(self, "strike", k)
        object.__setattr__(self, "s_max", s_max)
        object.__setattr__(self, "v_max", v.positive(o, "v_max", self.v_max))
        object.__setattr__(self, "maturity", v.positive(o, "maturity", self.maturity))
        object.__setattr__(self, "rate", v.real(o, "rate", self.rate))
        object.__setattr__(self, "dividend", v.real(o, "dividend", self.dividend))
        for name in ("kappa", "theta", "xi"):
            object.__setattr__(self, name, v.positive(o, name, getattr(self, name)))
        r = v.real(o, "rho", self.rho)
        if not -1.0 < r < 1.0:
            v.fail(o, "rho", "lie in (-1, 1)", self.rho)
        object.__setattr__(self, "rho", r)
        v.one_of(o, "kind", self.kind, _KINDS)
        if self.xva is not None and not isinstance(self.xva, XVA):
            v.fail(o, "xva", "be an XVA instance or None", self.xva)
        v.one_of(o, "v_max_condition", self.v_max_condition, _VMAX)
        v.one_of(o, "base", self.base, _BASES)
        if self.netting is not None:  # one-asset basket legs as the asset legs they are
            object.__setattr__(self, "netting",
                               legs.netting_of(o, self.netting, self.kind, k, self.maturity, 1))
            legs.check_kinks_inside(o, self.netting, self.s_max)
        if self.v0_dirichlet is not None:
            v.one_of(o, "v0_dirichlet", self.v0_dirichlet, _V0)
        elif not self.feller:
            v.fail(
                o,
                "v0_dirichlet",
                "be given (one of 'effective_variance') when the Feller condition "
                f"2 kappa theta > xi^2 fails (2 kappa theta = {2 * self.kappa * self.theta:g}, "
                f"xi^2 = {self.xi**2:g})",
                self.v0_dirichlet,
            )

    def _check_parameter(self, name: str) -> None:
        """Declared parameters need a base in closed form: the characteristic-function table is
        computed per parameter set (NumPy), not per point."""
        super()._check_parameter(name)
        if self.base == "characteristic_function":
            v.fail(type(self).__name__, "base", "be 'first_order' to declare parameters (the "
                   "characteristic-function table is computed for one parameter set)", self.base)

    @property
    def netting_set(self) -> NettingSet:
        """The payoff as a netting set (one leg ``kind`` at ``strike`` unless ``netting``)."""
        return legs.netting_of("HestonPDE", self.netting, self.kind, self.strike, self.maturity,
                               1)

    @property
    def feller(self) -> bool:
        """True when 2 kappa theta > xi^2 (v = 0 is not attained; no data needed there)."""
        return 2.0 * self.kappa * self.theta > self.xi**2

    @property
    def drift(self) -> float:
        return self.rate - self.dividend

    @property
    def lower(self) -> tuple[float, ...]:
        return (0.0, 0.0)

    @property
    def upper(self) -> tuple[float, ...]:
        return (float(self.s_max), float(self.v_max))

    def faces(self) -> tuple[Face, ...]:
        if self.v0_dirichlet is None:
            v_min = Face("variance_min", 1, "min", classical="pde")
        else:
            v_min = Face("variance_min", 1, "min", classical="dirichlet", safe="dirichlet")
        if self.v_max_condition == "linear":
            v_max = Face("variance_max", 1, "max", drop=frozenset({"vv"}), classical="residual")
        else:
            v_max = Face("variance_max", 1, "max", drop=frozenset({"v", "Sv"}),
                         classical="neumann")
        return (
            Face("spot_min", 0, "min"),
            Face("spot_max", 0, "max", drop=frozenset({"SS"})),
            v_min,
            v_max,
        )

    def cluster_hints(self) -> tuple[tuple[float, float | None], ...]:
        """Spot nodes cluster at the strike (width K / 4), variance nodes at v = 0 (width theta)."""
        return ((self.strike, 0.25 * self.strike), (0.0, self.theta))

    def payoff(self, x: Tensor) -> Tensor:
        return legs.payoff(self.netting_set, x)

    @property
    def payoff_sign(self) -> int:
        return self.netting_set.sign

    def generator(self, x: Tensor, d: Derivatives, drop: frozenset[str] = frozenset()) -> Tensor:
        s, var = x[:, 0], x[:, 1]
        out = torch.zeros_like(d.value)
        if "SS" not in drop:
            out = out + 0.5 * var * s**2 * d.hess[:, 0, 0]
        if "Sv" not in drop:
            out = out + self.rho * self.xi * var * s * d.hess[:, 0, 1]
        if "vv" not in drop:
            out = out + 0.5 * self.xi**2 * var * d.hess[:, 1, 1]
        if "S" not in drop:
            out = out + self.drift * s * d.grad[:, 0]
        if "v" not in drop:
            out = out + self.kappa * (self.theta - var) * d.grad[:, 1]
        return out

    def boundary_value(self, face: Face, tau: Tensor, x: Tensor) -> Tensor:
        s = x[:, 0]
        r, q = self.rate, self.dividend
        if face.name == "variance_max":
            return torch.zeros_like(s)  # Neumann: dV/dv = 0

        def data(leg: Leg, t: Tensor, y: Tensor) -> Tensor:
            spot = s if face.name != "spot_min" else torch.zeros_like(s)
            if face.name == "variance_min" and leg.kind != "forward":
                w = heston_effective_variance(y[:, 1], t, self.kappa, self.theta)
                return black_scholes(y[:, 0], leg.strike, t, 0.0, r, q, leg.kind,
                                     total_variance=w)
            return legs.spot_asymptote(leg, face.side, spot, q, r, t)

        return legs.sign_discount(self.xva, legs.summed(self.netting_set, data, tau, x), tau)

    def leg_price(self, leg: Leg, tau: Tensor, x: Tensor) -> Tensor:
        """Unit leg by the first-order (in xi) closed form; forwards exactly."""
        if leg.kind == "forward":
            return legs.forward_value(x[:, 0] * torch.exp(-self.dividend * tau), leg.strike,
                                      self.rate, tau)
        return heston_first_order(x[:, 0], x[:, 1], leg.strike, tau, self.kappa, self.theta,
                                  self.xi, self.rho, self.rate, self.dividend, leg.kind)

    def base_value(self, tau: Tensor, x: Tensor) -> Tensor:
        if self.base == "characteristic_function":
            return tabulated_base(self, tau, x)
        return legs.summed(self.netting_set, self.leg_price, tau, x)

    def leg_derivatives(self, leg: Leg, tau: Tensor, x: Tensor) -> Derivatives:
        if self.base != "characteristic_function" or leg.kind == "forward":
            return super().leg_derivatives(leg, tau, x)
        d = heston_derivatives(
            x[:, 0].cpu().numpy(), x[:, 1].cpu().numpy(), tau.cpu().numpy(), leg.strike,
            self.kappa, self.theta, self.xi, self.rho, self.rate, self.dividend, leg.kind,
        )

        def t(*keys: str) -> Tensor:
            arr = np.stack([d[k] for k in keys], axis=-1) if len(keys) > 1 else d[keys[0]]
            return torch.as_tensor(arr, dtype=x.dtype, device=x.device)

        hess = torch.stack([t("SS", "Sv"), t("Sv", "vv")], dim=1)
        return Derivatives(t("price"), t("tau"), t("S", "v"), hess)

    def base_derivatives(self, tau: Tensor, x: Tensor) -> Derivatives:
        if self.base != "characteristic_function":
            return super().base_derivatives(tau, x)
        tables = [(leg.quantity, self.leg_derivatives(leg, tau, x))
                  for leg in self.netting_set.legs]
        if len(tables) == 1 and tables[0][0] == 1.0:
            return tables[0][1]
        return Derivatives(*(sum(q * getattr(d, f) for q, d in tables)
                             for f in ("value", "tau", "grad", "hess")))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "strike": self.strike,
            "maturity": self.maturity,
            "rate": self.rate,
            "dividend": self.dividend,
            "kappa": self.kappa,
            "theta": self.theta,
            "xi": self.xi,
            "rho": self.rho,
            "kind": self.kind,
            "s_max": self.s_max,
            "v_max": self.v_max,
            "xva": None if self.xva is None else self.xva.to_dict(),
            "v0_dirichlet": self.v0_dirichlet,
            "v_max_condition": self.v_max_condition,
            "base": self.base,
            "netting": None if self.netting is None else self.netting.to_dict(),
        }
