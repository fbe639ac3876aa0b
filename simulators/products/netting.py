"""Netting sets: signed European legs on one asset, a basket, or the minimum/maximum of assets.

A netting set pays ``sum_l q_l h_l(u_l(S_T))`` at one maturity, where each leg ``l`` has a signed
quantity ``q_l``, a payoff ``h_l`` (call ``(u - K_l)+``, put ``(K_l - u)+`` or forward ``u - K_l``)
and an aggregate ``u_l`` of the terminal state: the single asset, a weighted basket ``w . S``, or
the minimum or maximum of the assets. Its sign (+1, -1 or 0) is derived from the legs
(:attr:`NettingSet.sign`), never declared: it decides whether the XVA pricing PDE is linear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .. import _validation as v
from ._payoff import AGG_MAX, AGG_MIN, AGG_SUM, KIND_CODES
from .basket import BasketOption
from .european import European
from .extremes import BestOf, WorstOf

LegKind = Literal["call", "put", "forward"]
Underlying = Literal["asset", "basket", "worst_of", "best_of"]

LEG_KINDS: tuple[str, ...] = ("call", "put", "forward")
UNDERLYINGS: tuple[str, ...] = ("asset", "basket", "worst_of", "best_of")
_AGG = {"asset": AGG_SUM, "basket": AGG_SUM, "worst_of": AGG_MIN, "best_of": AGG_MAX}


@dataclass(frozen=True)
class Leg:
    """One European leg of a netting set.

    Attributes:
        kind: "call" ``(u - K)+``, "put" ``(K - u)+`` or "forward" ``u - K``.
        strike: K > 0, in units of the aggregate u.
        quantity: signed notional q (long > 0, short < 0), non-zero.
        underlying: the aggregate u: "asset" (the model's single asset), "basket" (``w . S``),
            "worst_of" (min_j S_j) or "best_of" (max_j S_j).
        weights: basket weights w (one per asset, > 0), only for ``underlying="basket"``.
    """

    kind: LegKind
    strike: float
    quantity: float = 1.0
    underlying: Underlying = "asset"
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        o = "Leg"
        v.choice(o, "kind", self.kind, LEG_KINDS)
        v.choice(o, "underlying", self.underlying, UNDERLYINGS)
        object.__setattr__(self, "strike", v.positive(o, "strike", self.strike))
        q = v.finite(o, "quantity", self.quantity)
        if q == 0.0:
            v.fail(o, "quantity", "non-zero (long > 0, short < 0)", self.quantity)
        object.__setattr__(self, "quantity", q)
        if self.underlying == "basket":
            if self.weights is None:
                v.fail(o, "weights", "given for a basket leg", None)
            object.__setattr__(self, "weights", v.positive_vector(o, "weights", self.weights))
        elif self.weights is not None:
            v.fail(o, "weights", f"None for underlying {self.underlying!r}", self.weights)

    @property
    def dim(self) -> int | None:
        """Number of assets the leg needs (None: any number >= 2)."""
        if self.underlying == "asset":
            return 1
        if self.underlying == "basket":
            return len(self.weights)  # type: ignore[arg-type]
        return None

    @property
    def sign(self) -> int:
        """Sign of this leg's payoff alone: +1, -1, or 0 for a forward."""
        if self.kind == "forward":
            return 0
        return 1 if self.quantity > 0 else -1

    def product(self, maturity: float) -> European | BasketOption | WorstOf | BestOf:
        """The single-leg product of unit quantity (scale its prices by :attr:`quantity`)."""
        if self.underlying == "asset":
            return European(strike=self.strike, maturity=maturity, kind=self.kind)
        if self.underlying == "basket":
            return BasketOption(weights=self.weights, strike=self.strike, maturity=maturity,
                                kind=self.kind)
        if self.kind == "forward":
            v.fail("Leg", "kind", f"'call' or 'put' for underlying {self.underlying!r}",
                   self.kind)
        cls = WorstOf if self.underlying == "worst_of" else BestOf
        return cls(strike=self.strike, maturity=maturity, kind=self.kind)

    def aggregate(self, s_t: np.ndarray) -> np.ndarray:
        """u of terminal states, shape (n, d) -> (n,)."""
        s = np.asarray(s_t, dtype=float).reshape(len(s_t), -1)
        if self.underlying == "asset":
            return s[:, 0]
        if self.underlying == "basket":
            return s @ np.asarray(self.weights)
        return s.min(axis=1) if self.underlying == "worst_of" else s.max(axis=1)

    def payoff_of_aggregate(self, u: np.ndarray) -> np.ndarray:
        """q h(u), elementwise."""
        u = np.asarray(u, dtype=float)
        if self.kind == "call":
            h = np.maximum(u - self.strike, 0.0)
        elif self.kind == "put":
            h = np.maximum(self.strike - u, 0.0)
        else:
            h = u - self.strike
        return self.quantity * h

    def to_dict(self) -> dict:
        return {"kind": self.kind, "strike": self.strike, "quantity": self.quantity,
                "underlying": self.underlying,
                "weights": None if self.weights is None else list(self.weights)}


def _leg(item) -> Leg:
    if isinstance(item, Leg):
        return item
    if isinstance(item, dict):
        fields = ("kind", "strike", "quantity", "underlying", "weights")
        if not {"kind", "strike"} <= set(item) or not set(item) <= set(fields):
            v.fail("NettingSet", "legs", "dicts with 'kind', 'strike' and optionally "
                   "'quantity', 'underlying', 'weights'", item)
        return Leg(**item)
    v.fail("NettingSet", "legs", "Leg instances or dicts of Leg fields", item)
    raise AssertionError  # unreachable


@dataclass(frozen=True)
class NettingSet:
    """A netting set of European legs with one maturity (see the module docstring).

    Attributes:
        legs: one or more :class:`Leg` (dicts of their fields are accepted).
        maturity: time from the input state's date to expiry, in years, > 0.

    The payoff is continuous and piecewise linear in the terminal state; the pathwise gradient is
    the sum of the legs' gradients (an extremum's goes to its arg-min/arg-max asset).
    """

    legs: tuple[Leg, ...]
    maturity: float

    def __post_init__(self) -> None:
        o = "NettingSet"
        if isinstance(self.legs, (str, bytes)):
            v.fail(o, "legs", "a non-empty list of legs", self.legs)
        try:
            items = tuple(self.legs)
        except TypeError:
            v.fail(o, "legs", "a non-empty list of legs", self.legs)
        if not items:
            v.fail(o, "legs", "a non-empty list of legs", self.legs)
        legs = tuple(_leg(item) for item in items)
        object.__setattr__(self, "legs", legs)
        object.__setattr__(self, "maturity", v.positive(o, "maturity", self.maturity))
        dims = {leg.dim for leg in legs if leg.dim is not None}
        if len(dims) > 1:
            v.fail(o, "legs", "legs on the same number of assets", sorted(dims))
        fixed = dims.pop() if dims else None
        if fixed == 1 and any(leg.dim is None for leg in legs):
            v.fail(o, "legs", "worst_of/best_of legs on at least 2 assets, not beside "
                   "single-asset legs", [leg.underlying for leg in legs])
        for leg in legs:
            if leg.underlying in ("worst_of", "best_of") and leg.kind == "forward":
                v.fail(o, "legs", "call or put legs on worst_of/best_of (no forward)", leg)

    @property
    def dim(self) -> int | None:
        """Number of assets (None: any number >= 2, for worst-of/best-of legs only)."""
        dims = {leg.dim for leg in self.legs if leg.dim is not None}
        return dims.pop() if dims else None

    @property
    def strike(self) -> float:
        """Typical size of the payoff: the largest leg strike (used to scale grids and networks)."""
        return max(leg.strike for leg in self.legs)

    @property
    def sign(self) -> int:
        """+1 if the payoff is >= 0 for every terminal state of non-negative assets
        (Black-Scholes, its baskets, Heston), -1 if <= 0, else 0; :meth:`sign_for` gives the
        sign under a given model (Bachelier assets can be negative).

        Exact when every leg has one sign (all long options: +1, all short: -1) or when all
        legs share one aggregate (a piecewise-linear function of u on u >= 0, checked at u = 0,
        at every strike and by its slope beyond the last). Legs on different aggregates with
        both signs give 0 (the non-linear PDE is then used, which is also right for a payoff
        that happens to keep one sign).
        """
        return self._sign(negative_aggregates=False)

    def sign_for(self, model: object) -> int:
        """:attr:`sign` over the terminal states ``model`` can reach: for a model whose assets
        can be negative (Bachelier), the aggregate u ranges over the whole real line, and the
        payoff's slope below the lowest strike counts too."""
        return self._sign(negative_aggregates=model.signed_assets)  # type: ignore[attr-defined]

    def _sign(self, negative_aggregates: bool) -> int:
        signs = {leg.sign for leg in self.legs}
        if signs == {1}:
            return 1
        if signs == {-1}:
            return -1
        if len({(_AGG[leg.underlying], leg.weights) for leg in self.legs}) != 1:
            return 0
        strikes = {leg.strike for leg in self.legs}
        knots = np.array(sorted(strikes if negative_aggregates else {0.0, *strikes}))
        values = self._payoff_u(knots)
        slope = sum(leg.quantity * (1.0 if leg.kind in ("call", "forward") else 0.0)
                    for leg in self.legs)
        # d payoff / du below the lowest strike: puts (slope -q) and forwards (+q)
        left = sum(leg.quantity * (-1.0 if leg.kind == "put" else 1.0)
                   for leg in self.legs if leg.kind != "call") if negative_aggregates else 0.0
        scale = max(abs(leg.quantity) * leg.strike for leg in self.legs)
        tol = 1e-12 * scale
        slope_tol = 1e-12 * max(abs(leg.quantity) for leg in self.legs)
        if np.all(values >= -tol) and slope >= -slope_tol and left <= slope_tol:
            return 1
        if np.all(values <= tol) and slope <= slope_tol and left >= -slope_tol:
            return -1
        return 0

    @property
    def kinks(self) -> tuple[tuple[str, tuple[float, ...] | None, float], ...]:
        """Where the payoff is not differentiable, as ``(underlying, weights, strike)``: each
        strike at which the call and put legs on one aggregate leave a slope jump (a call and a
        put of equal quantity and strike make a forward: no kink), and each leg on a worst-of or
        best-of (the extremum bends along S_i = S_j whatever the strike). Empty when the payoff
        is affine in the terminal state (forwards only, or options that cancel)."""
        out: list[tuple[str, tuple[float, ...] | None, float]] = []
        jumps: dict[tuple[str, tuple[float, ...] | None, float], float] = {}
        for leg in self.legs:
            if leg.underlying in ("worst_of", "best_of"):
                out.append((leg.underlying, leg.weights, leg.strike))
            elif leg.kind != "forward":  # (u - K)+ and (K - u)+ both gain slope +1 at K
                key = (leg.underlying, leg.weights, leg.strike)
                jumps[key] = jumps.get(key, 0.0) + leg.quantity
        scale = max(abs(leg.quantity) for leg in self.legs)
        out += [key for key, jump in jumps.items() if abs(jump) > 1e-12 * scale]
        return tuple(out)

    def _payoff_u(self, u: np.ndarray) -> np.ndarray:
        return sum(leg.payoff_of_aggregate(u) for leg in self.legs)

    def check_dim(self, dim: int) -> None:
        """Refuse a model whose number of assets does not fit the legs."""
        want = self.dim
        if want is not None and want != dim:
            v.fail("NettingSet", "legs", f"legs on {dim} asset(s), as the model",
                   f"{want} asset(s)")
        if want is None and dim < 2:
            v.fail("NettingSet", "model", "a model of at least 2 assets", f"{dim} asset")

    def encode(self, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                        np.ndarray]:
        """Kernel encoding: (aggs int64 (L,), kinds int64 (L,), strikes (L,), quantities (L,),
        weights (L, dim)), see :mod:`simulators.products._payoff`."""
        self.check_dim(dim)
        n = len(self.legs)
        aggs = np.array([_AGG[leg.underlying] for leg in self.legs], dtype=np.int64)
        kinds = np.array([KIND_CODES[leg.kind] for leg in self.legs], dtype=np.int64)
        strikes = np.array([leg.strike for leg in self.legs], dtype=np.float64)
        qty = np.array([leg.quantity for leg in self.legs], dtype=np.float64)
        weights = np.ones((n, dim), dtype=np.float64)
        for i, leg in enumerate(self.legs):
            if leg.weights is not None:
                weights[i] = leg.weights
        return aggs, kinds, strikes, qty, weights

    def payoff(self, s_t: np.ndarray) -> np.ndarray:
        """Undiscounted payoff of terminal states, shape (n,) or (n, d) -> (n,)."""
        return sum(leg.payoff_of_aggregate(leg.aggregate(s_t)) for leg in self.legs)

    def products(self) -> list[tuple[float, European | BasketOption | WorstOf | BestOf]]:
        """(quantity, single-leg product) pairs: prices of the netting set are their sums."""
        return [(leg.quantity, leg.product(self.maturity)) for leg in self.legs]

    def to_dict(self) -> dict:
        return {"type": "NettingSet", "legs": [leg.to_dict() for leg in self.legs],
                "maturity": self.maturity}
