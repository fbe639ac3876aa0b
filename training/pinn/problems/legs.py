"""Netting sets in the PDE problems: torch payoffs, leg sums and sign-aware boundary discounting.

Every problem describes its payoff as a :class:`simulators.NettingSet` (a single call, put or
forward is a netting set of one leg), so payoff, payoff sign, base function (the risk-free value,
a sum over legs of closed forms) and classical boundary data are written once per model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import Tensor

from simulators import Leg, NettingSet
from simulators.xva import XVA

from ... import _validation as v

LegPrice = Callable[[Leg, Tensor, Tensor], Tensor]


def netting_of(
    owner: str,
    netting: NettingSet | None,
    kind: str,
    strike: float,
    maturity: float,
    dim: int,
    underlying: str = "asset",
    weights: tuple[float, ...] | None = None,
) -> NettingSet:
    """The problem's payoff as a netting set: ``netting`` when given (checked against the
    problem's number of assets and maturity), else one leg of unit quantity."""
    if netting is None:
        return NettingSet(legs=(Leg(kind=kind, strike=strike, underlying=underlying,
                                    weights=weights),), maturity=maturity)
    if not isinstance(netting, NettingSet):
        v.fail(owner, "netting", "be a simulators.NettingSet or None", netting)
    want = netting.dim
    if (want is not None and want != dim) or (want is None and dim < 2):
        v.fail(owner, "netting", f"have legs on {dim} asset(s)", netting)
    if abs(netting.maturity - maturity) > 1e-12 * max(1.0, maturity):
        v.fail(owner, "netting", f"have the problem's maturity {maturity:g}", netting.maturity)
    return as_asset_legs(netting) if dim == 1 else netting


def check_kinks_inside(owner: str, netting: NettingSet, s_max: float) -> None:
    """Every leg's kink, in spot units (a basket leg's K / sum(w)), inside the domain
    (0, s_max): a kink beyond it is never seen by the collocation points, and the face data
    and base are then wrong without any loss showing it."""
    for leg in netting.legs:
        kink = leg.strike / (sum(leg.weights) if leg.underlying == "basket" else 1.0)
        if not 0.0 < kink < s_max:
            v.fail(owner, "netting", f"have every leg's strike (in spot units) inside the "
                   f"domain (0, {s_max:g})", f"a {leg.kind} leg at {kink:g}")


def as_asset_legs(netting: NettingSet) -> NettingSet:
    """A netting set on one asset with every "basket" leg (weight w) written as the asset leg
    it is: ``q (w S - K)+ = q w (S - K/w)+`` (and alike for puts and forwards), so that the
    one-asset problems, which price legs on S, price the payoff the netting set pays."""
    if all(leg.underlying == "asset" for leg in netting.legs):
        return netting
    out = []
    for leg in netting.legs:
        if leg.underlying == "basket":
            w = leg.weights[0]  # type: ignore[index]
            leg = Leg(kind=leg.kind, strike=leg.strike / w, quantity=leg.quantity * w)
        out.append(leg)
    return NettingSet(legs=tuple(out), maturity=netting.maturity)


def payoff(netting: NettingSet, x: Tensor) -> Tensor:
    """``sum_l q_l h_l(u_l(x))`` for states x (n, d) -> (n,), differentiable a.e."""
    out = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for leg in netting.legs:
        out = out + leg.quantity * leg_payoff(leg, aggregate(leg, x))
    return out


def aggregate(leg: Leg, x: Tensor) -> Tensor:
    """The leg's aggregate u of states x (n, d) -> (n,)."""
    if leg.underlying == "asset":
        return x[:, 0]
    if leg.underlying == "basket":
        w = leg.weights
        return sum(w[i] * x[:, i] for i in range(len(w)))  # type: ignore[return-value]
    if leg.underlying == "worst_of":
        return torch.amin(x, dim=1)
    return torch.amax(x, dim=1)


def leg_payoff(leg: Leg, u: Tensor) -> Tensor:
    """h(u) of one leg (unit quantity)."""
    if leg.kind == "call":
        return torch.clamp(u - leg.strike, min=0.0)
    if leg.kind == "put":
        return torch.clamp(leg.strike - u, min=0.0)
    return u - leg.strike


def summed(netting: NettingSet, price: LegPrice, tau: Tensor, x: Tensor) -> Tensor:
    """``sum_l q_l price(leg_l, tau, x)``: the netting set's value from unit-leg values."""
    out = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for leg in netting.legs:
        out = out + leg.quantity * price(leg, tau, x)
    return out


def forward_value(u_fwd: Tensor, strike: float, rate: float, tau: Tensor) -> Tensor:
    """Risk-free value of a forward leg: ``u_fwd - K e^{-r tau}``, where ``u_fwd`` is the
    dividend-discounted aggregate (e.g. ``S e^{-q tau}``)."""
    return u_fwd - strike * torch.exp(-rate * tau)


def spot_asymptote(leg: Leg, side: str, spot: Tensor, dividend: float, rate: float,
                   tau: Tensor) -> Tensor:
    """Risk-free value of a unit single-asset leg on a spot face: at S = 0 (``side="min"``) and
    far out (``"max"``), where calls and puts are their discounted intrinsic value or 0 and a
    forward is ``S e^{-q tau} - K e^{-r tau}`` everywhere."""
    fwd = forward_value(spot * torch.exp(-dividend * tau), leg.strike, rate, tau)
    if leg.kind == "forward":
        return fwd
    if leg.kind == "call":
        return torch.clamp(fwd, min=0.0) if side == "max" else torch.zeros_like(fwd)
    return torch.clamp(-fwd, min=0.0) if side == "min" else torch.zeros_like(fwd)


def sign_discount(xva: XVA | None, value: Tensor, tau: Tensor) -> Tensor:
    """Risky boundary data from risk-free data: ``value e^{-c tau}`` with c the spread of the
    value's own sign at each point (exact where the value keeps its sign, e.g. at S = 0 where the
    PDE degenerates to ``dV/dtau = -r V - f(V)``)."""
    if xva is None:
        return value
    c = torch.where(value >= 0.0, torch.as_tensor(xva.spread_positive, dtype=value.dtype),
                    torch.as_tensor(xva.spread_negative, dtype=value.dtype))
    return value * torch.exp(-c * tau)


#: A one-signed part of a payoff: (coefficient, unit leg) terms; leg None is a unit zero-coupon
#: bond (pays 1 at maturity, worth e^{-r tau}).
Part = list[tuple[float, Leg | None]]


def one_signed_legs(netting: NettingSet) -> tuple[Leg, ...]:
    """The netting set's legs with each forward written as its call minus its put (same
    strike, aggregate and quantity): every leg of the result has one sign."""
    out: list[Leg] = []
    for leg in netting.legs:
        if leg.kind == "forward":
            out += [dataclasses.replace(leg, kind="call"),
                    dataclasses.replace(leg, kind="put", quantity=-leg.quantity)]
        else:
            out.append(leg)
    return tuple(out)


def one_signed_parts(netting: NettingSet) -> tuple[Part, Part]:
    """``(P, N)`` with payoff = P - N, both >= 0 everywhere, as terms of unit legs and bonds.

    Legs on one aggregate u >= 0 give the exact positive and negative parts of the
    piecewise-linear payoff ``g(u)``: with knots ``p_1 < ... < p_m`` (the strikes and the zeros
    of g) and slopes ``s_0 .. s_m`` of a part h between them,
    ``h(u) = h(p_m) + s_m (u - p_m)+ + sum_j c_j (p_j - u)+`` with ``c_m = -s_{m-1}`` and
    ``c_j = s_j - s_{j-1}`` (a bond, a call and puts). Legs on different aggregates are split
    by each leg's own sign (a forward as its call minus its put), exact where the legs'
    exercise regions do not overlap.
    """
    first = netting.legs[0]
    same = all((leg.underlying, leg.weights) == (first.underlying, first.weights)
               for leg in netting.legs)
    pos: Part = []
    neg: Part = []
    if not same:
        for leg in one_signed_legs(netting):
            unit = dataclasses.replace(leg, quantity=1.0)
            (pos if leg.quantity > 0 else neg).append((abs(leg.quantity), unit))
        return pos, neg

    def g(u: float) -> float:
        return float(sum(leg.quantity * (max(u - leg.strike, 0.0) if leg.kind == "call" else
                                         max(leg.strike - u, 0.0) if leg.kind == "put" else
                                         u - leg.strike) for leg in netting.legs))

    strikes = sorted({leg.strike for leg in netting.legs})
    slope_end = g(strikes[-1] + 1.0) - g(strikes[-1])
    zeros = []
    for lo, hi in zip([0.0, *strikes[:-1]], strikes, strict=True):
        if g(lo) * g(hi) < 0.0:
            zeros.append(lo + (hi - lo) * g(lo) / (g(lo) - g(hi)))
    if g(strikes[-1]) * slope_end < 0.0:
        zeros.append(strikes[-1] - g(strikes[-1]) / slope_end)
    pts = sorted({*strikes, *zeros})
    for part, sign in ((pos, 1.0), (neg, -1.0)):
        def h(u: float, sign: float = sign) -> float:
            return max(sign * g(u), 0.0)

        edges = [0.0, *pts]
        slopes = [(h(b) - h(a)) / (b - a) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        slopes.append(h(pts[-1] + 1.0) - h(pts[-1]))  # s_m, beyond the last knot
        terms: Part = []
        if h(pts[-1]) != 0.0:
            terms.append((h(pts[-1]), None))
        if slopes[-1] != 0.0:
            terms.append((slopes[-1], Leg(kind="call", strike=pts[-1],
                                          underlying=first.underlying, weights=first.weights)))
        m = len(pts)
        for j in range(1, m + 1):  # slopes[j] is s_j on (p_j, p_{j+1}); s^put_m = 0
            c = (0.0 if j == m else slopes[j]) - slopes[j - 1]
            if c != 0.0:
                terms.append((c, Leg(kind="put", strike=pts[j - 1],
                                     underlying=first.underlying, weights=first.weights)))
        part.extend(terms)
    return pos, neg


def part_value(part: Part, price: LegPrice, rate: float, tau: Tensor, x: Tensor) -> Tensor:
    """Risk-free value of a part from unit-leg prices: ``sum coef price(leg)`` (bond e^{-r tau})."""
    out = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for coef, leg in part:
        out = out + coef * (torch.exp(-rate * tau) if leg is None else price(leg, tau, x))
    return out


def split_value(netting: NettingSet, xva: XVA | None, price: LegPrice, rate: float, tau: Tensor,
                x: Tensor) -> Tensor:
    """``e^{-c+ tau} V_rf(P) - e^{-c- tau} V_rf(N)`` (:func:`one_signed_parts`): the risky value
    if the sign of the value never changed along a path; exact at tau = 0 and where only one
    part is alive, and equal to ``e^{-c tau} V_rf`` for a one-signed payoff."""
    pos, neg = one_signed_parts(netting)
    cp = 0.0 if xva is None else xva.spread_positive
    cn = 0.0 if xva is None else xva.spread_negative
    return (torch.exp(-cp * tau) * part_value(pos, price, rate, tau, x)
            - torch.exp(-cn * tau) * part_value(neg, price, rate, tau, x))
