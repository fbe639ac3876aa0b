"""Diagnostics a desk expects of a pricing surrogate, beyond its RMSE (NumPy only).

* :func:`moneyness`: underlying level over strike for a product (the buckets of
  :func:`evaluation.metrics.errors_by_bucket`);
* :func:`shape_rules` and :func:`check_shape`: sign, bound and convexity properties that the
  product implies (a long call has delta in [0, e^{-qT}] and a price convex in spot, a long
  put delta in [-e^{-qT}, 0], a long European option vega >= 0 and, under Heston,
  dV/dvariance >= 0), checked point by point on the test set;
* :func:`gbm_paths`, :func:`hedge_pnl` and :func:`hedge_summary`: the P&L of a discrete delta
  hedge along simulated paths, to compare a surrogate's Greeks with the reference's.

Models and products are read from their ``to_dict()`` form (a ``type`` key and the parameters,
as in ``metrics.json``'s ``parameters``), so this module imports no simulator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .metrics import greek_name, spot_inputs

__all__ = [
    "CHECK_TOLERANCE",
    "Rule",
    "check_shape",
    "failed_checks",
    "gbm_paths",
    "hedge_pnl",
    "hedge_summary",
    "moneyness",
    "rules_note",
    "shape_rules",
]

#: A point violates a rule when it lies beyond the bound by more than this fraction of the
#: quantity's scale (the RMS of the reference quantity over the test set).
CHECK_TOLERANCE = 0.02

_OPTIONS = ("European", "BasketOption", "WorstOf", "BestOf")


# ----- moneyness ---------------------------------------------------------------------------------
def _spot_columns(inputs: Sequence[str]) -> list[int]:
    names = list(inputs)
    return [names.index(n) for n in spot_inputs(names)]


def moneyness(product: Mapping[str, Any], inputs: Sequence[str], x: Any
              ) -> tuple[np.ndarray, str] | None:
    """Underlying level / strike at the test inputs ``x`` (n, d), and how it is defined.

    European: spot / K; basket: sum_i w_i spot_i / K; worst-of (best-of): min (max) of the spots
    / K; a netting set on one asset: spot / the mean of its legs' strikes. ``None`` for other
    products (a netting set on several assets).
    """
    x = np.asarray(x, dtype=float)
    x = x.reshape(x.shape[0], -1)
    cols = _spot_columns(inputs)
    if not cols:
        return None
    spots = x[:, cols]
    typ = product.get("type")
    if typ == "NettingSet":
        legs = product.get("legs") or []
        if not legs or any(leg.get("underlying", "asset") != "asset" for leg in legs) \
                or len(cols) != 1:
            return None
        k = float(np.mean([float(leg["strike"]) for leg in legs]))
        return spots[:, 0] / k, f"spot / {k:g} (mean leg strike)"
    if typ not in _OPTIONS or product.get("strike") is None:
        return None
    k = float(product["strike"])
    if typ == "European":
        return spots[:, 0] / k, f"spot / strike {k:g}"
    if typ == "BasketOption":
        w = np.asarray(product["weights"], dtype=float)
        if w.shape[0] != spots.shape[1]:
            return None
        return spots @ w / k, f"basket level (Σ w_i spot_i) / strike {k:g}"
    agg = spots.min(axis=1) if typ == "WorstOf" else spots.max(axis=1)
    word = "min" if typ == "WorstOf" else "max"
    return agg / k, f"{word} of the spots / strike {k:g}"


# ----- shape checks ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """A property the product implies, checked at every test point.

    Attributes:
        name: how the report names it, e.g. ``"0 ≤ delta ≤ e^(−qT)"``.
        quantity: ``"value"``, ``"greek"`` (a column of the gradient) or ``"gamma"``.
        input: the input of the Greek or gamma (``None`` for the value).
        lower, upper: bounds, scalars or arrays (n,) over the test points; ``None``: unbounded.
    """

    name: str
    quantity: str
    input: str | None
    lower: Any = None
    upper: Any = None


def _discount(rate: Any, t: float) -> Any:
    return np.exp(-np.asarray(rate, dtype=float) * t)


def shape_rules(model: Mapping[str, Any], product: Mapping[str, Any], inputs: Sequence[str],
                x: Any, xva: Mapping[str, Any] | None = None) -> tuple[list[Rule], str]:
    """The rules a long call or put implies on the test inputs ``x`` (n, d), and a note on what
    is checked (or why nothing is).

    Long options (European, basket with weights >= 0, worst-of, best-of; call or put):
    value >= 0; per spot input a delta sign (call >= 0, put <= 0) and, for European and basket
    options, its bound (w_i e^{-q_i T}; Bachelier: w_i e^{-rT}); convexity in each spot
    (d²V/dspot_i² >= 0) for European and basket options, worst-of puts and best-of calls (their
    payoffs are convex functions of the terminal spots, each linear in its spot); vega >= 0 for
    a European's ``vol`` input; dV/dvariance >= 0 under Heston; and, for a European without XVA,
    the no-arbitrage bounds of the price (call: (S e^{-qT} - K e^{-rT})+ <= V <= S e^{-qT}; put:
    (K e^{-rT} - S e^{-qT})+ <= V <= K e^{-rT}). An XVA scales the value by a positive factor
    below 1: signs and convexity hold, the price bounds are not checked.
    """
    typ, kind = product.get("type"), product.get("kind")
    if typ not in _OPTIONS or kind not in ("call", "put"):
        what = f"{typ} ({kind})" if kind else str(typ)
        return [], f"no shape rule for a {what}: only long calls and puts imply signs"
    weights = np.asarray(product.get("weights") or [1.0], dtype=float)
    if typ == "BasketOption" and np.any(weights < 0):
        return [], "no shape rule for a basket with a negative weight"
    x = np.asarray(x, dtype=float)
    x = x.reshape(x.shape[0], -1)
    names = list(inputs)
    mtype = model.get("type")
    t = float(product["maturity"])
    rate = x[:, names.index("rate")] if "rate" in names else float(model.get("rate", 0.0))
    call = kind == "call"
    spots = spot_inputs(names)
    rules = [Rule("value ≥ 0", "value", None, lower=0.0)]
    if typ in ("European", "BasketOption"):
        if mtype == "BachelierBasket":
            caps = weights * float(_discount(float(model.get("rate", 0.0)), t))
            cap_text = "w_i e^(−rT)"
        else:
            divs = model.get("dividends")
            q = np.asarray(divs if divs is not None else [model.get("dividend", 0.0)], float)
            q = np.broadcast_to(q, weights.shape)
            caps = weights * np.exp(-q * t)
            cap_text = "e^(−qT)" if typ == "European" else "w_i e^(−q_i T)"
    for i, name in enumerate(spots):
        d = greek_name(name)
        if typ in ("European", "BasketOption") and i < len(caps):
            cap = float(caps[i])
            sym = cap_text.replace("w_i", f"w_{i}").replace("q_i", f"q_{i}")
            text = (f"0 ≤ {d} ≤ {sym}" if call else f"−{sym} ≤ {d} ≤ 0") + f" ({sym} = {cap:.3g})"
            rules.append(Rule(text,
                              "greek", name, lower=0.0 if call else -cap,
                              upper=cap if call else 0.0))
        else:
            rules.append(Rule(f"{d} ≥ 0" if call else f"{d} ≤ 0", "greek", name,
                              lower=0.0 if call else None, upper=None if call else 0.0))
    # (K - min S)+ and (max S - K)+ are convex in the spots, and S_T is linear in each spot
    if typ in ("European", "BasketOption") or (typ, kind) in (("WorstOf", "put"),
                                                               ("BestOf", "call")):
        rules += [Rule(f"convex in {name} (gamma ≥ 0)", "gamma", name, lower=0.0)
                  for name in spots]
    if typ == "European":
        for name in names:
            if name == "vol":
                rules.append(Rule("vega ≥ 0", "greek", name, lower=0.0))
            elif name == "variance":
                rules.append(Rule("dV/dvariance ≥ 0", "greek", name, lower=0.0))
    if typ == "European" and xva is None and mtype in ("BlackScholes", "Heston") and spots:
        s = x[:, names.index(spots[0])]
        q = float(model.get("dividend", 0.0))
        fwd = s * math.exp(-q * t)
        k = float(product["strike"]) * _discount(rate, t)
        if call:
            rules.append(Rule("(S e^(−qT) − K e^(−rT))⁺ ≤ value ≤ S e^(−qT)", "value", None,
                              lower=np.maximum(fwd - k, 0.0), upper=fwd))
        else:
            rules.append(Rule("(K e^(−rT) − S e^(−qT))⁺ ≤ value ≤ K e^(−rT)", "value", None,
                              lower=np.maximum(k - fwd, 0.0),
                              upper=np.broadcast_to(k, fwd.shape)))
    return rules, rules_note(str(kind), rules, xva=xva is not None)


#: Up to this many rules a note lists every rule by name; beyond, it groups them.
_NOTE_RULES = 6


def _rule_fields(r: Rule | Mapping[str, Any]) -> tuple[str, Any, Any]:
    if isinstance(r, Rule):
        return r.name, r.quantity, r.input
    return str(r.get("rule")), r.get("quantity"), r.get("input")


def rules_note(kind: str, rules: Sequence[Rule | Mapping[str, Any]], *, xva: bool = False) -> str:
    """What the shape checks cover, derived from the rules that ran: :class:`Rule` objects, or
    the ``checks.results`` entries of metrics.json (``rule``, ``quantity``, ``input``; each rule
    once, whatever the predictor). E.g. ``long put: 3 rules (value ≥ 0; delta spot_0 ≤ 0;
    delta spot_1 ≤ 0); convexity not checked; XVA: price bounds not checked``. Up to
    :data:`_NOTE_RULES` rules are listed by name; more are grouped (the delta rules of the
    spots, the convexity rules) with their count. Convexity is named as not checked when no
    gamma rule ran; the price bounds when an XVA scales the value."""
    items: dict[str, tuple[Any, Any]] = {}
    for r in rules:
        name, quantity, inp = _rule_fields(r)
        items.setdefault(name, (quantity, inp))
    if len(items) <= _NOTE_RULES:
        listed = list(items)
    else:
        listed = []
        spots = [n for n, (q, i) in items.items()
                 if q == "greek" and i is not None and greek_name(str(i)).startswith("delta")]
        gammas = [n for n, (q, _) in items.items() if q == "gamma"]
        for name, (quantity, _) in items.items():
            if name in spots:
                if name == spots[0]:
                    what = "sign and bound" if all(n.count("≤") > 1 for n in spots) else "sign"
                    listed.append(f"delta {what} per spot ({len(spots)} rules)")
            elif name in gammas:
                if name == gammas[0]:
                    listed.append(f"convexity per spot, gamma ≥ 0 ({len(gammas)} rules)")
            elif quantity == "value" and "⁺" in name:
                listed.append("no-arbitrage price bounds")
            else:
                listed.append(name)
    note = f"long {kind}: {len(items)} rule{'s' if len(items) != 1 else ''}"
    if listed:
        note += f" ({'; '.join(listed)})"
    if not any(q == "gamma" for q, _ in items.values()):
        note += "; convexity not checked"
    if xva:
        note += "; XVA: price bounds not checked"
    return note


def check_shape(
    rules: Sequence[Rule],
    *,
    predictor: str,
    x: Any,
    inputs: Sequence[str],
    price: Any,
    grad: Any = None,
    gamma: Any = None,
    scale: Mapping[str, Any] | None = None,
    tolerance: float = CHECK_TOLERANCE,
) -> list[dict[str, Any]]:
    """Check one predictor's values, Greeks (n, d) and gammas (n, k, one per spot input) against
    ``rules`` at the test points ``x`` (n, d).

    A point violates a rule when it lies beyond a bound by more than ``tolerance`` times the
    quantity's scale: ``scale["value"]``, ``scale["greek"][input]`` or
    ``scale["gamma"][input]`` (the RMS of the reference quantity, as in
    :func:`evaluation.metrics.surrogate_errors`), else the RMS of the checked quantity itself.
    Rules whose quantity the predictor lacks (no gradient, no gamma) are skipped.

    Returns:
        One JSON-ready dict per rule checked: ``predictor``, ``rule``, ``quantity``, ``input``,
        ``passed``, ``violations`` (points), ``n``, ``tolerance`` (absolute), and for the worst
        point ``worst`` (the quantity), ``bound`` (the bound it crosses) and ``at`` (its inputs).
    """
    x = np.asarray(x, dtype=float)
    x = x.reshape(x.shape[0], -1)
    n = x.shape[0]
    names = list(inputs)
    spots = spot_inputs(names)
    sc = scale or {}
    g = None if grad is None else np.asarray(grad, dtype=float).reshape(n, -1)
    q = None if gamma is None else np.asarray(gamma, dtype=float).reshape(n, -1)
    out = []
    for rule in rules:
        if rule.quantity == "value":
            v, s = np.asarray(price, dtype=float).reshape(n), sc.get("value")
        elif rule.quantity == "greek":
            if g is None or rule.input not in names:
                continue
            v, s = g[:, names.index(rule.input)], (sc.get("greek") or {}).get(rule.input)
        else:
            k = spots.index(rule.input) if rule.input in spots else -1
            if q is None or k < 0 or k >= q.shape[1]:
                continue
            v, s = q[:, k], (sc.get("gamma") or {}).get(rule.input)
        if s is None or not (math.isfinite(s) and s > 0):
            s = float(np.sqrt(np.mean(np.square(v))))
        tol = tolerance * s
        lo = np.full(n, -np.inf) if rule.lower is None else np.broadcast_to(
            np.asarray(rule.lower, dtype=float), (n,))
        hi = np.full(n, np.inf) if rule.upper is None else np.broadcast_to(
            np.asarray(rule.upper, dtype=float), (n,))
        excess = np.maximum(lo - v, v - hi)  # > 0 beyond a bound
        excess = np.where(np.isnan(v), np.inf, excess)
        bad = excess > tol
        entry: dict[str, Any] = {"predictor": predictor, "rule": rule.name,
                                 "quantity": rule.quantity, "input": rule.input,
                                 "passed": not bool(bad.any()), "violations": int(bad.sum()),
                                 "n": n, "tolerance": tol}
        if bad.any():
            i = int(np.argmax(excess))
            entry["worst"] = float(v[i])
            entry["bound"] = float(lo[i] if lo[i] - v[i] > v[i] - hi[i] else hi[i])
            entry["at"] = [float(a) for a in x[i]]
        out.append(entry)
    return out


def failed_checks(checks: Sequence[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    """The entries of a scenario's ``checks`` list that did not pass."""
    return [c for c in (checks or []) if isinstance(c, Mapping) and c.get("passed") is False]


# ----- hedging -----------------------------------------------------------------------------------
def gbm_paths(spot: Any, times: Any, *, vol: float, rate: float = 0.0, dividend: float = 0.0,
              normals: Any) -> np.ndarray:
    """Black-Scholes spot paths, exact scheme, under the pricing measure.

    S_{k+1} = S_k exp((r - q - vol²/2) Δt_k + vol sqrt(Δt_k) Z_k).

    Args:
        spot: starting spots (n,).
        times: rebalancing dates t_0 = 0 < t_1 < ... < t_K, in years, (K + 1,).
        normals: Z, (n, K) standard normals (injected for exact replay).

    Returns:
        Spots (n, K + 1), column k at ``times[k]``.
    """
    s0 = np.asarray(spot, dtype=float).ravel()
    t = np.asarray(times, dtype=float).ravel()
    z = np.asarray(normals, dtype=float)
    if z.shape != (s0.shape[0], t.shape[0] - 1):
        raise ValueError(f"The 'normals' parameter of gbm_paths must have shape "
                         f"{(s0.shape[0], t.shape[0] - 1)}. Got {z.shape} instead.")
    dt = np.diff(t)
    steps = (rate - dividend - 0.5 * vol * vol) * dt + vol * np.sqrt(dt) * z
    return s0[:, None] * np.exp(np.concatenate([np.zeros((len(s0), 1)),
                                                np.cumsum(steps, axis=1)], axis=1))


def hedge_pnl(spots: Any, times: Any, *, value_start: Any, value_end: Any, deltas: Any,
              rate: float = 0.0, dividend: float = 0.0) -> np.ndarray:
    """P&L, in money of date 0, of selling the option at ``value_start`` and delta-hedging it
    at discrete dates until the horizon t_K, where it is worth ``value_end``.

    With X_t = e^{-(r-q) t} S_t (the share with dividends reinvested, discounted) the hedge
    holds e^{-q t_k} Δ_k units of X over [t_k, t_{k+1}]:

        P&L = V_0 + Σ_k e^{-q t_k} Δ_k (X_{k+1} - X_k) - e^{-r t_K} V_K.

    Zero deltas give the unhedged P&L V_0 - e^{-r t_K} V_K; exact Greeks rebalanced
    continuously give 0.

    Args:
        spots: (n, K + 1) paths at ``times`` (t_0 = 0 < ... < t_K).
        value_start: V_0 (n,), the option's value at the paths' starts.
        value_end: V_K (n,), its value at the horizon t_K (undiscounted).
        deltas: Δ_k (n, K), the hedge ratio dV/dS held from t_k to t_{k+1}.
    """
    s = np.asarray(spots, dtype=float)
    t = np.asarray(times, dtype=float).ravel()
    d = np.asarray(deltas, dtype=float)
    n, k1 = s.shape
    if t.shape[0] != k1 or d.shape != (n, k1 - 1):
        raise ValueError(f"The 'deltas' parameter of hedge_pnl must have shape {(n, k1 - 1)} "
                         f"for spots {s.shape} and {t.shape[0]} times. Got {d.shape} instead.")
    xs = np.exp(-(rate - dividend) * t)[None, :] * s
    gains = np.sum(np.exp(-dividend * t[:-1])[None, :] * d * np.diff(xs, axis=1), axis=1)
    v0 = np.asarray(value_start, dtype=float).reshape(n)
    vk = np.asarray(value_end, dtype=float).reshape(n)
    return v0 + gains - math.exp(-rate * t[-1]) * vk


def hedge_summary(pnl: Any) -> dict[str, float]:
    """``rms`` (root mean square), ``mean`` and ``sd`` of hedge P&Ls, and ``paths``."""
    p = np.asarray(pnl, dtype=float).ravel()
    return {"rms": float(np.sqrt(np.mean(p * p))), "mean": float(np.mean(p)),
            "sd": float(np.std(p)), "paths": int(p.size)}
