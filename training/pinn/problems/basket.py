"""Two-asset Black-Scholes problems: arithmetic basket, worst-of (option on the minimum) and
netting sets of basket, worst-of and best-of legs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from simulators import Leg, NettingSet
from simulators.xva import XVA

from ... import _validation as v
from ..closed_form import basket_by_conditioning, black_scholes, levy_basket, stulz_min
from . import legs
from .base import Derivatives, Face, PDEProblem

_KINDS = ("call", "put")
_BASKET_BASES = ("conditional", "levy")


def _pair(owner: str, field: str, value: Any, check) -> tuple[float, float]:
    try:
        items = tuple(value)
    except TypeError:
        v.fail(owner, field, "be a pair of numbers", value)
    if len(items) != 2:
        v.fail(owner, field, "have length 2", value)
    return tuple(check(owner, field, x) for x in items)  # type: ignore[return-value]


@dataclass(frozen=True, kw_only=True)
class _TwoAssetPDE(PDEProblem):
    """Two correlated geometric Brownian motions, states (S1, S2) in [0, s_max]^2.

    ``L V = sum_i 1/2 vol_i^2 S_i^2 V_ii + rho vol_1 vol_2 S1 S2 V_12 + sum_i b_i S_i V_i``,
    b_i = rate - dividends[i]. Generator term names: "11", "22", "12", "1", "2".
    Fields (keyword-only, in the order of the other pricers): the product (strike, maturity,
    kind), the model as in :class:`simulators.BlackScholesBasket` (vols, rho for its correlation,
    rate, dividends), then s_max, xva and the subclass's fields.
    Boundary-safe residuals: at S_i = 0 the full PDE (it collapses to the 1D problem in the other
    asset); at S_i = s_max the PDE without the "ii" term (linearity in S_i).
    """

    strike: float
    maturity: float
    kind: str = "call"
    vols: tuple[float, float]
    rho: float = 0.0
    rate: float = 0.0
    dividends: tuple[float, float] = (0.0, 0.0)
    s_max: float | None = None
    xva: XVA | None = None

    state_names: ClassVar[tuple[str, ...]] = ("spot_1", "spot_2")
    parameter_names: ClassVar[tuple[str, ...]] = (
        "vol_1", "vol_2", "rho", "rate", "lambda_b", "lambda_c", "recovery_b", "recovery_c")

    def _validate_common(self) -> None:
        o = type(self).__name__
        k = v.positive(o, "strike", self.strike)
        s_max = 4.0 * k if self.s_max is None else v.positive(o, "s_max", self.s_max)
        object.__setattr__(self, "strike", k)
        object.__setattr__(self, "s_max", s_max)
        object.__setattr__(self, "maturity", v.positive(o, "maturity", self.maturity))
        object.__setattr__(self, "vols", _pair(o, "vols", self.vols, v.positive))
        object.__setattr__(self, "dividends", _pair(o, "dividends", self.dividends, v.real))
        object.__setattr__(self, "rate", v.real(o, "rate", self.rate))
        r = v.real(o, "rho", self.rho)
        if not -1.0 < r < 1.0:
            v.fail(o, "rho", "lie in (-1, 1)", self.rho)
        object.__setattr__(self, "rho", r)
        v.one_of(o, "kind", self.kind, _KINDS)
        if self.xva is not None and not isinstance(self.xva, XVA):
            v.fail(o, "xva", "be an XVA instance or None", self.xva)

    @property
    def lower(self) -> tuple[float, ...]:
        return (0.0, 0.0)

    @property
    def upper(self) -> tuple[float, ...]:
        return (float(self.s_max), float(self.s_max))

    def faces(self) -> tuple[Face, ...]:
        return (
            Face("spot_1_min", 0, "min"),
            Face("spot_2_min", 1, "min"),
            Face("spot_1_max", 0, "max", drop=frozenset({"11"})),
            Face("spot_2_max", 1, "max", drop=frozenset({"22"})),
        )

    @property
    def payoff_sign(self) -> int:
        return 1

    def generator(self, x: Tensor, d: Derivatives, drop: frozenset[str] = frozenset()) -> Tensor:
        s1, s2 = x[:, 0], x[:, 1]
        (v1, v2), (q1, q2) = self.vols, self.dividends
        out = torch.zeros_like(d.value)
        if "11" not in drop:
            out = out + 0.5 * v1**2 * s1**2 * d.hess[:, 0, 0]
        if "22" not in drop:
            out = out + 0.5 * v2**2 * s2**2 * d.hess[:, 1, 1]
        if "12" not in drop:
            out = out + self.rho * v1 * v2 * s1 * s2 * d.hess[:, 0, 1]
        if "1" not in drop:
            out = out + (self.rate - q1) * s1 * d.grad[:, 0]
        if "2" not in drop:
            out = out + (self.rate - q2) * s2 * d.grad[:, 1]
        return out

    def _common_dict(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "strike": self.strike,
            "maturity": self.maturity,
            "vols": list(self.vols),
            "rate": self.rate,
            "dividends": list(self.dividends),
            "rho": self.rho,
            "kind": self.kind,
            "s_max": self.s_max,
            "xva": None if self.xva is None else self.xva.to_dict(),
        }


def clear_of_kinks(s_max: float, kinks: list[tuple[float, tuple[float, ...]]]) -> float:
    """``s_max``, or larger where a basket kink ``w . S = K`` (each ``(K, w)``) would meet a far
    face S_i = s_max: it does when K / w_i >= s_max (the line reaches the face at S_j =
    (K - w_i s_max) / w_j >= 0), where linearity in S_i is false; the box then reaches
    2 K / min(w). Equal weights never trigger it (K / w_i = 2 K / sum(w) < 4 K / sum(w))."""
    for k, w in kinks:
        if k / min(w) >= s_max:
            s_max = max(s_max, 2.0 * k / min(w))
    return s_max


@dataclass(frozen=True, kw_only=True)
class BasketPDE(_TwoAssetPDE):
    """Arithmetic basket option on ``w1 S1 + w2 S2`` (payoff ``max(+-(w.S - K), 0)``).

    Attributes (beyond the two-asset ones): weights (w1, w2) > 0. The strike must lie inside the
    basket's range ``(0, (w1 + w2) s_max)``; the default s_max is 4 K / (w1 + w2), in spot
    units, or 2 K / min(w) where the kink would meet a far face (:func:`clear_of_kinks`). base:
    the base function of the "base" trial value, "conditional" (default: the exact risk-free
    price by conditioning on one asset and Gauss-Legendre quadrature,
    :func:`~training.pinn.closed_form.basket_by_conditioning`) or "levy" (Levy's moment-matched
    lognormal approximation, about 1e-3 relative off, so the network must learn the rest). Both
    are exact at tau = 0.
    Classical Dirichlet data (times e^{-c tau}): at S_i = 0 the 1D Black-Scholes value of the other
    asset with spot w_j S_j (exact); at S_i = s_max the discounted forward intrinsic value.
    """

    weights: tuple[float, float] = (0.5, 0.5)
    base: str = "conditional"

    def __post_init__(self) -> None:
        default_box = self.s_max is None
        self._validate_common()
        o = type(self).__name__
        object.__setattr__(self, "weights", _pair(o, "weights", self.weights, v.positive))
        if default_box:  # 4 K in spot units (K is in units of w . S), the kink off the faces
            object.__setattr__(self, "s_max", clear_of_kinks(
                4.0 * self.strike / sum(self.weights), [(self.strike, self.weights)]))
        v.one_of(o, "base", self.base, _BASKET_BASES)
        v.inside_domain(o, "strike", self.strike, 0.0, sum(self.weights) * self.s_max)

    def cluster_hints(self) -> tuple[tuple[float, float | None], ...]:
        """Both spots cluster where the basket is at the money on the diagonal, K / (w1 + w2),
        with width a quarter of that."""
        k = self.strike / sum(self.weights)
        return ((k, 0.25 * k), (k, 0.25 * k))

    def payoff(self, x: Tensor) -> Tensor:
        b = self.weights[0] * x[:, 0] + self.weights[1] * x[:, 1]
        if self.kind == "call":
            return torch.clamp(b - self.strike, min=0.0)
        return torch.clamp(self.strike - b, min=0.0)

    def boundary_value(self, face: Face, tau: Tensor, x: Tensor) -> Tensor:
        c = self.spread
        j = 1 - face.axis
        if face.side == "min":
            val = black_scholes(
                self.weights[j] * x[:, j], self.strike, tau, self.vols[j], self.rate,
                self.dividends[j], self.kind,
            )
        else:
            fwd = sum(
                self.weights[i] * x[:, i] * torch.exp(-self.dividends[i] * tau) for i in range(2)
            )
            k = self.strike * torch.exp(-self.rate * tau)
            sign = 1.0 if self.kind == "call" else -1.0
            val = torch.clamp(sign * (fwd - k), min=0.0)
        return val * torch.exp(-c * tau)

    def base_value(self, tau: Tensor, x: Tensor) -> Tensor:
        fn = basket_by_conditioning if self.base == "conditional" else levy_basket
        return fn(
            x, self.weights, self.strike, tau, self.vols, self.rate, self.dividends, self.rho,
            self.kind,
        )

    def exact_value(self, tau: Tensor, x: Tensor) -> Tensor:
        """Exact risky value of the (one-signed) payoff: the conditional-quadrature price times
        e^{-c tau}."""
        price = basket_by_conditioning(x, self.weights, self.strike, tau, self.vols, self.rate,
                                       self.dividends, self.rho, self.kind)
        return price * torch.exp(-self.spread * tau)

    def to_dict(self) -> dict[str, Any]:
        return {**self._common_dict(), "weights": list(self.weights), "base": self.base}


@dataclass(frozen=True, kw_only=True)
class WorstOfPDE(_TwoAssetPDE):
    """Option on the minimum of two assets (payoff ``max(+-(min(S1, S2) - K), 0)``).

    Classical Dirichlet data (times e^{-c tau}): at S_i = 0 the put is ``K e^{-r tau}`` and the call
    0 (exact); at S_i = s_max the 1D Black-Scholes value in the other asset (asymptotic).
    Base function and exact reference: Stulz (1982) times e^{-c tau}.
    """

    def __post_init__(self) -> None:
        self._validate_common()
        v.inside_domain(type(self).__name__, "strike", self.strike, 0.0, self.s_max)

    def payoff(self, x: Tensor) -> Tensor:
        m = torch.minimum(x[:, 0], x[:, 1])
        if self.kind == "call":
            return torch.clamp(m - self.strike, min=0.0)
        return torch.clamp(self.strike - m, min=0.0)

    def boundary_value(self, face: Face, tau: Tensor, x: Tensor) -> Tensor:
        c = self.spread
        j = 1 - face.axis
        if face.side == "min":
            if self.kind == "put":
                val = self.strike * torch.exp(-self.rate * tau) * torch.ones_like(x[:, j])
            else:
                val = torch.zeros_like(x[:, j])
        else:
            val = black_scholes(
                x[:, j], self.strike, tau, self.vols[j], self.rate, self.dividends[j], self.kind
            )
        return val * torch.exp(-c * tau)

    def base_value(self, tau: Tensor, x: Tensor) -> Tensor:
        return stulz_min(
            x, self.strike, tau, self.vols, self.rate, self.dividends, self.rho, self.kind
        )

    def exact_value(self, tau: Tensor, x: Tensor) -> Tensor:
        """Exact risky value: Stulz times e^{-c tau} (one-signed payoff)."""
        return self.base_value(tau, x) * torch.exp(-self.spread * tau)

    def to_dict(self) -> dict[str, Any]:
        return self._common_dict()


@dataclass(frozen=True, kw_only=True)
class TwoAssetPDE(_TwoAssetPDE):
    """A netting set of legs on two correlated assets: basket (``w . S``), worst-of (min) and
    best-of (max) calls and puts, basket forwards; any signs.

    Attributes (beyond the two-asset ones): netting: the :class:`simulators.NettingSet` (legs on
    2 assets, this maturity), required; ``strike`` sets the scale (value scale, default
    s_max = 4 K, or more where a basket leg's kink would meet a far face (:func:`clear_of_kinks`),
    collocation clustered at K) and ``kind`` is unused. base: "conditional" or
    "levy", the closed form of basket call/put legs (see :class:`BasketPDE`).
    Base function: the legs' risk-free closed forms summed (basket: conditioning quadrature;
    worst-of: Stulz; best-of: ``C_max = C_1 + C_2 - C_min`` and the same for puts).
    Classical Dirichlet data: the legs' values on the faces (S_i = 0: the one-asset problem in
    the other asset; S_i = s_max: discounted forward intrinsic value for basket legs, the
    one-asset value in the other asset for worst-of legs, the forward or 0 for best-of legs),
    summed, times ``e^{-c tau}`` with c the spread of the data's sign.
    """

    netting: NettingSet | None = None
    base: str = "conditional"

    def __post_init__(self) -> None:
        default_box = self.s_max is None
        self._validate_common()
        o = type(self).__name__
        if self.netting is None:
            v.fail(o, "netting", "be a simulators.NettingSet of legs on 2 assets", None)
        if default_box and isinstance(self.netting, NettingSet):
            object.__setattr__(self, "s_max", clear_of_kinks(self.s_max, [
                (leg.strike, leg.weights) for leg in self.netting.legs
                if leg.underlying == "basket"]))
        legs.netting_of(o, self.netting, self.kind, self.strike, self.maturity, 2)
        legs.check_kinks_inside(o, self.netting, self.s_max)
        v.one_of(o, "base", self.base, _BASKET_BASES)
        v.inside_domain(o, "strike", self.strike, 0.0, self.s_max)

    @property
    def netting_set(self) -> NettingSet:
        return self.netting  # type: ignore[return-value]

    @property
    def payoff_sign(self) -> int:
        return self.netting_set.sign

    def payoff(self, x: Tensor) -> Tensor:
        return legs.payoff(self.netting_set, x)

    def _one_asset(self, leg: Leg, spot: Tensor, j: int, tau: Tensor) -> Tensor:
        """A call, put or forward at the leg's strike on one asset j of spot ``spot``."""
        if leg.kind == "forward":
            return legs.forward_value(spot * torch.exp(-self.dividends[j] * tau), leg.strike,
                                      self.rate, tau)
        return black_scholes(spot, leg.strike, tau, self.vols[j], self.rate, self.dividends[j],
                             leg.kind)

    def leg_price(self, leg: Leg, tau: Tensor, x: Tensor) -> Tensor:
        if leg.underlying == "basket":
            w = leg.weights
            if leg.kind == "forward":
                fwd = sum(w[i] * x[:, i] * torch.exp(-self.dividends[i] * tau) for i in range(2))
                return legs.forward_value(fwd, leg.strike, self.rate, tau)
            fn = basket_by_conditioning if self.base == "conditional" else levy_basket
            return fn(x, w, leg.strike, tau, self.vols, self.rate, self.dividends, self.rho,
                      leg.kind)
        worst = stulz_min(x, leg.strike, tau, self.vols, self.rate, self.dividends, self.rho,
                          leg.kind)
        if leg.underlying == "worst_of":
            return worst
        return (self._one_asset(leg, x[:, 0], 0, tau) + self._one_asset(leg, x[:, 1], 1, tau)
                - worst)

    def base_value(self, tau: Tensor, x: Tensor) -> Tensor:
        """Risk-free value of the netting set (the legs' closed forms summed)."""
        return legs.summed(self.netting_set, self.leg_price, tau, x)

    def boundary_value(self, face: Face, tau: Tensor, x: Tensor) -> Tensor:
        i, j = face.axis, 1 - face.axis
        r = self.rate

        def asymptote(leg: Leg, t: Tensor, y: Tensor) -> Tensor:
            if face.side == "min":
                if leg.underlying == "basket":
                    return self._one_asset(leg, leg.weights[j] * y[:, j], j, t)
                if leg.underlying == "worst_of":
                    put = leg.strike * torch.exp(-r * t) * torch.ones_like(y[:, j])
                    return put if leg.kind == "put" else torch.zeros_like(put)
                return self._one_asset(leg, y[:, j], j, t)
            if leg.underlying == "basket":
                fwd = sum(leg.weights[k] * y[:, k] * torch.exp(-self.dividends[k] * t)
                          for k in range(2))
                val = legs.forward_value(fwd, leg.strike, r, t)
                if leg.kind == "forward":
                    return val
                return torch.clamp(val if leg.kind == "call" else -val, min=0.0)
            if leg.underlying == "worst_of":
                return self._one_asset(leg, y[:, j], j, t)
            val = legs.forward_value(y[:, i] * torch.exp(-self.dividends[i] * t), leg.strike,
                                     r, t)
            return torch.clamp(val, min=0.0) if leg.kind == "call" else torch.zeros_like(val)

        return legs.sign_discount(self.xva, legs.summed(self.netting_set, asymptote, tau, x), tau)

    def exact_value(self, tau: Tensor, x: Tensor) -> Tensor:
        """Exact risky value ``e^{-c tau} B`` (one-signed netting sets only)."""
        if self.xva is not None and self.payoff_sign == 0:
            raise ValueError("TwoAssetPDE.exact_value needs a one-signed payoff under XVA; use "
                             "evaluation.fd.basket_2d for a payoff of both signs.")
        return self.base_value(tau, x) * torch.exp(-self.spread * tau)

    def to_dict(self) -> dict[str, Any]:
        return {**self._common_dict(), "netting": self.netting_set.to_dict(), "base": self.base}
