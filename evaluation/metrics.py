"""Error metrics used by the pipeline and the evaluation report (NumPy only).

One definition of a surrogate's error, :func:`surrogate_errors`, feeds the run summary, the
report's tables, the trend and ``metrics.json``:

* value: RMSE over the test set in price units, and relative to a stated scale, the RMS of the
  reference value over the test set (``value_relative = value_rmse / value_scale``);
* Greeks: one RMSE per input, named by the input (``spot`` / ``spot_i``: delta, ``vol`` /
  ``vol_i``: vega, ``variance``: dV/dvariance, ``rate``: rho), in price units per unit of that
  input, and relative to the RMS of the reference Greek. Inputs of different units are never
  pooled;
* gamma: d²V/dspot_i², one RMSE per spot input, where the reference has gamma;
* by moneyness: the same errors per bucket of underlying level / strike
  (:func:`errors_by_bucket`, edges :data:`MONEYNESS_EDGES`).

The Huge–Savine figure "RMSE ×100" (per cent of a unit spot) is meaningful only in their
unit-spot set-ups (spot and strike near 1, :func:`is_unit_spot`); the report uses it there only,
labelled as such. ``log10_relative_errors`` returns ``log10(||pred - ref||_p / ||ref||_p)`` for
p = 1, 2, ∞ over all entries, the PINN papers' accuracy measure (−3 means 0.1 % relative error).
Learning-curve entries follow ``docs/run-format.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MONEYNESS_EDGES",
    "PREDICTOR_KEYS",
    "CurvePoint",
    "errors_by_bucket",
    "greek_name",
    "is_unit_spot",
    "learning_curve_summary",
    "log10_relative_errors",
    "mean_sd",
    "rmse",
    "rms_over_inputs",
    "spot_inputs",
    "summarise_errors",
    "surrogate_errors",
]

#: Edges of the moneyness buckets (underlying level / strike): below 0.8, 0.8 to 0.95,
#: 0.95 to 1.05, 1.05 to 1.2, from 1.2 up.
MONEYNESS_EDGES: tuple[float, ...] = (0.8, 0.95, 1.05, 1.2)

#: Keys of :func:`surrogate_errors` that belong to a predictor (the others are scales of the
#: reference): scalars for the value, ``{input: float}`` for Greeks and gammas.
PREDICTOR_KEYS: tuple[str, ...] = ("value_rmse", "value_relative", "greek_rmse",
                                   "greek_relative", "gamma_rmse", "gamma_relative")


def _arrays(pred: Any, ref: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    if p.shape != r.shape:
        raise ValueError(
            f"The 'pred' parameter of {owner} must have the shape of 'ref' {r.shape}. "
            f"Got {p.shape} instead."
        )
    if p.size == 0:
        raise ValueError(f"The 'pred' parameter of {owner} must be non-empty. Got size 0 instead.")
    return p, r


def rmse(pred: Any, ref: Any, axis: int | None = None) -> float | np.ndarray:
    """Root-mean-square error ``sqrt(mean((pred - ref)**2))``.

    Args:
        pred: predictions, any shape.
        ref: reference values, the same shape.
        axis: reduce along this axis only (e.g. ``axis=0`` on (n, d) gradients gives one RMSE per
            input, shape (d,)); ``None`` reduces over every entry and returns a float.
    """
    p, r = _arrays(pred, ref, "rmse")
    out = np.sqrt(np.mean((p - r) ** 2, axis=axis))
    return float(out) if axis is None else out


def log10_relative_errors(pred: Any, ref: Any) -> dict[str, float]:
    """Relative errors in the L1, L2 and L∞ norms, as base-10 logarithms.

    ``log10(||pred - ref||_p / ||ref||_p)`` over all entries. A perfect prediction gives ``-inf``;
    a zero reference gives ``+inf`` (or ``nan`` when both norms are zero).

    Returns:
        ``{"l1": ..., "l2": ..., "linf": ...}``.
    """
    p, r = _arrays(pred, ref, "log10_relative_errors")
    e = (p - r).ravel()
    r = r.ravel()
    out: dict[str, float] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for key, ord_ in (("l1", 1), ("l2", 2), ("linf", np.inf)):
            out[key] = float(np.log10(np.linalg.norm(e, ord_) / np.linalg.norm(r, ord_)))
    return out


def mean_sd(values: Iterable[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value), NaNs ignored.

    Returns ``(nan, nan)`` when no finite value is given.
    """
    v = np.asarray([float(x) for x in values if x is not None], dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan
    sd = float(np.std(v, ddof=1)) if v.size > 1 else 0.0
    return float(np.mean(v)), sd


def rms_over_inputs(delta_rmse: float | Sequence[float]) -> float:
    """``sqrt(mean(rmse_i**2))`` of a per-input list; a scalar is returned unchanged.

    Meaningful only over inputs of one unit (the spots of a wide basket, drawn as one panel);
    the summary, the tables and the trend report every input on its own."""
    if isinstance(delta_rmse, (int, float)):
        return float(delta_rmse)
    v = np.asarray(delta_rmse, dtype=np.float64)
    if v.size == 0:
        return math.nan
    return float(np.sqrt(np.mean(v**2)))


def greek_name(name: str) -> str:
    """What the derivative with respect to the input ``name`` is called: ``delta`` for ``spot``
    and ``spot_i``, ``vega`` for ``vol`` and ``vol_i``, ``rho`` for ``rate``, else
    ``dV/d<name>`` (``dV/dvariance`` for Heston's variance)."""
    base = name.rsplit("_", 1)[0] if name.rsplit("_", 1)[-1].isdigit() else name
    label = {"spot": "delta", "vol": "vega", "rate": "rho"}.get(base)
    if label is None:
        return f"dV/d{name}"
    return label if base == name else f"{label} {name}"


def spot_inputs(inputs: Sequence[str]) -> list[str]:
    """The spot inputs (``spot`` or ``spot_i``) in column order: those with a delta and, where
    the reference has one, a gamma."""
    return [n for n in inputs if n == "spot" or (n.startswith("spot_") and n[5:].isdigit())]


def is_unit_spot(strike: float | None) -> bool:
    """True for the Huge–Savine unit-spot set-ups (strike between 0.5 and 2, spot near 1),
    where an RMSE ×100 reads as per cent of the spot."""
    return strike is not None and math.isfinite(strike) and 0.5 <= strike <= 2.0


def _rms(a: np.ndarray, axis: int | None = None) -> Any:
    return np.sqrt(np.mean(np.square(a), axis=axis))


def _ratio(num: float, den: float) -> float | None:
    """``num / den``; None where the scale is 0 (or not finite) and the ratio means nothing."""
    if not (math.isfinite(den) and den > 0.0):
        return None
    return float(num / den)


def _columns(a: Any, n: int, what: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.size == 0 or arr.shape[0] != n:
        raise ValueError(
            f"The '{what}' parameter of surrogate_errors must have {n} rows (one per test "
            f"point). Got shape {arr.shape} instead."
        )
    return arr.reshape(n, -1)


def surrogate_errors(
    pred_price: Any,
    ref_price: Any,
    pred_grad: Any = None,
    ref_grad: Any = None,
    *,
    inputs: Sequence[str] = (),
    pred_gamma: Any = None,
    ref_gamma: Any = None,
) -> dict[str, Any]:
    """A predictor's errors against a reference on a test set: the one definition of the run.

    Args:
        pred_price, ref_price: values (n,), in price units.
        pred_grad, ref_grad: gradients (n, d) with respect to ``inputs`` (column order); either
            ``None``: no Greek errors.
        inputs: the d input names (``model.inputs``); they name the Greek errors.
        pred_gamma, ref_gamma: d²V/dspot_i², (n,) or (n, k), one column per spot input (the
            first k of :func:`spot_inputs`); either ``None``: no gamma errors.

    Returns:
        ``value_rmse`` (price units), ``value_scale`` (RMS of ``ref_price``), ``value_relative``
        (their ratio; None for a zero scale); where gradients are given ``greek_rmse``,
        ``greek_scale`` (RMS of the reference Greek) and ``greek_relative`` as ``{input: float}``
        in price units per unit of the input; where gammas are given ``gamma_rmse``,
        ``gamma_scale`` and ``gamma_relative`` keyed by spot input.

    Example: ``pred = [1.1, 2.0]``, ``ref = [1.0, 2.0]`` gives ``value_rmse = sqrt(0.01 / 2)``,
    ``value_scale = sqrt(5 / 2)``, ``value_relative = sqrt(0.01 / 5)``.
    """
    p, r = _arrays(pred_price, ref_price, "surrogate_errors")
    p, r = p.ravel(), r.ravel()
    n = r.shape[0]
    e = float(_rms(p - r))
    s = float(_rms(r))
    out: dict[str, Any] = {"value_rmse": e, "value_scale": s, "value_relative": _ratio(e, s)}
    names = [str(x) for x in inputs]
    if pred_grad is not None and ref_grad is not None:
        pg, rg = _columns(pred_grad, n, "pred_grad"), _columns(ref_grad, n, "ref_grad")
        if pg.shape != rg.shape:
            raise ValueError(
                f"The 'pred_grad' parameter of surrogate_errors must have the shape of "
                f"'ref_grad' {rg.shape}. Got {pg.shape} instead."
            )
        if len(names) != rg.shape[1]:
            raise ValueError(
                f"The 'inputs' parameter of surrogate_errors must name the {rg.shape[1]} "
                f"gradient columns. Got {names!r} instead."
            )
        ge, gs = _rms(pg - rg, axis=0), _rms(rg, axis=0)
        out["greek_rmse"] = {k: float(v) for k, v in zip(names, ge, strict=True)}
        out["greek_scale"] = {k: float(v) for k, v in zip(names, gs, strict=True)}
        out["greek_relative"] = {k: _ratio(float(a), float(b))
                                 for k, a, b in zip(names, ge, gs, strict=True)}
    if pred_gamma is not None and ref_gamma is not None:
        pq, rq = _columns(pred_gamma, n, "pred_gamma"), _columns(ref_gamma, n, "ref_gamma")
        spots = spot_inputs(names)
        if pq.shape != rq.shape or rq.shape[1] > len(spots):
            raise ValueError(
                f"The 'pred_gamma' and 'ref_gamma' parameters of surrogate_errors must have "
                f"one column per spot input {spots!r} (or fewer). Got {pq.shape} and "
                f"{rq.shape} instead."
            )
        qe, qs = _rms(pq - rq, axis=0), _rms(rq, axis=0)
        gnames = spots[: rq.shape[1]]
        out["gamma_rmse"] = {k: float(v) for k, v in zip(gnames, qe, strict=True)}
        out["gamma_scale"] = {k: float(v) for k, v in zip(gnames, qs, strict=True)}
        out["gamma_relative"] = {k: _ratio(float(a), float(b))
                                 for k, a, b in zip(gnames, qe, qs, strict=True)}
    return out


def errors_by_bucket(
    level: Any,
    pred_price: Any,
    ref_price: Any,
    pred_grad: Any = None,
    ref_grad: Any = None,
    *,
    inputs: Sequence[str] = (),
    pred_gamma: Any = None,
    ref_gamma: Any = None,
    edges: Sequence[float] = MONEYNESS_EDGES,
) -> list[dict[str, Any]]:
    """:func:`surrogate_errors` per bucket of ``level`` (n,), e.g. moneyness spot / strike.

    Buckets are ``[edges[i-1], edges[i])`` with open ends below the first and from the last
    edge up; empty buckets are left out. Each entry is ``{"low", "high", "n", **errors}`` with
    ``low`` / ``high`` ``None`` for an open end; the scales are those of the bucket's points.
    """
    lv = np.asarray(level, dtype=np.float64).ravel()
    e = [float(x) for x in edges]
    if any(b <= a for a, b in zip(e, e[1:], strict=False)):
        raise ValueError(f"The 'edges' parameter of errors_by_bucket must increase. Got {e!r} "
                         "instead.")
    p, r = _arrays(pred_price, ref_price, "errors_by_bucket")
    if lv.shape[0] != r.ravel().shape[0]:
        raise ValueError(f"The 'level' parameter of errors_by_bucket must have {r.size} "
                         f"entries. Got {lv.shape[0]} instead.")
    bounds = [None, *e, None]
    out = []

    def rows(a: Any, mask: np.ndarray) -> Any:
        return None if a is None else np.asarray(a, dtype=np.float64).reshape(len(lv), -1)[mask]

    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        mask = np.ones(lv.shape, dtype=bool)
        if low is not None:
            mask &= lv >= low
        if high is not None:
            mask &= lv < high
        k = int(mask.sum())
        if k == 0:
            continue
        errs = surrogate_errors(p.ravel()[mask], r.ravel()[mask], rows(pred_grad, mask),
                                rows(ref_grad, mask), inputs=inputs,
                                pred_gamma=rows(pred_gamma, mask),
                                ref_gamma=rows(ref_gamma, mask))
        out.append({"low": low, "high": high, "n": k, **errs})
    return out


def _stats(values: Iterable[Any]) -> dict[str, float] | None:
    """Mean and sample sd (ddof = 1; 0 for one value) of the non-None values; NaN propagates
    (a diverged fit must show). None when every value is None."""
    v = np.asarray([float(x) for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return None
    return {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if v.size > 1 else 0.0}


def summarise_errors(by_predictor: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """Mean and sd over seeds of :func:`surrogate_errors` results, per predictor (mode).

    Args:
        by_predictor: ``{"standard": [errors of seed 0, seed 1, ...], "differential": [...]}``,
            every entry computed on the same test points.

    Returns:
        For each key of :data:`PREDICTOR_KEYS` present: ``{mode: {"mean", "sd"}}`` for the value
        keys, ``{mode: {input: {"mean", "sd"}}}`` for the Greek and gamma keys; and ``scale``:
        ``{"value": float, "greek": {input: float}, "gamma": {input: float}}`` (the reference's
        RMS, the same for every predictor).
    """
    out: dict[str, Any] = {}
    for key in PREDICTOR_KEYS:
        block: dict[str, Any] = {}
        for mode, recs in by_predictor.items():
            vals = [r[key] for r in recs if r.get(key) is not None]
            if not vals:
                continue
            if isinstance(vals[0], Mapping):
                names = list(vals[0])
                per = {k: _stats(v.get(k) for v in vals) for k in names}
                block[mode] = {k: v for k, v in per.items() if v is not None}
            else:
                st = _stats(vals)
                if st is not None:
                    block[mode] = st
        if block:
            out[key] = block
    first = next((r for recs in by_predictor.values() for r in recs), None)
    if first is not None:
        scale: dict[str, Any] = {"value": first.get("value_scale")}
        for key in ("greek", "gamma"):
            if first.get(f"{key}_scale") is not None:
                scale[key] = dict(first[f"{key}_scale"])
        out["scale"] = scale
    return out


@dataclass(frozen=True)
class CurvePoint:
    """Learning-curve statistics over seeds for one (mode, training size m).

    Attributes:
        mode: ``"standard"`` or ``"differential"``.
        m: training-set size.
        n_seeds: number of seeds aggregated.
        value_mean, value_sd: value RMSE mean and sample sd over seeds (price units).
        delta_mean, delta_sd: per-input Greek RMSE mean and sd, shape (d,), in the order of
            ``inputs`` (units: price per unit of the input).
        delta_all_mean, delta_all_sd: the RMS over inputs (see :func:`rms_over_inputs`), mean/sd;
            for a one-panel figure of wide same-unit baskets only.
        fit_seconds: mean fit time in seconds (nan when not recorded).
        inputs: the input names of ``delta_mean`` (empty for entries that did not name them).
        value_rel_mean, value_rel_sd: relative value error (RMSE / RMS of the reference value).
        gamma_mean, gamma_sd: per-spot-input gamma RMSE where the reference has gamma, in the
            order of ``gamma_inputs``.
    """

    mode: str
    m: int
    n_seeds: int
    value_mean: float
    value_sd: float
    delta_mean: tuple[float, ...]
    delta_sd: tuple[float, ...]
    delta_all_mean: float
    delta_all_sd: float
    fit_seconds: float
    inputs: tuple[str, ...] = ()
    value_rel_mean: float = math.nan
    value_rel_sd: float = math.nan
    gamma_inputs: tuple[str, ...] = ()
    gamma_mean: tuple[float, ...] = ()
    gamma_sd: tuple[float, ...] = ()


def _per_input(rows: Sequence[Mapping[str, Any]], key: str, legacy: str | None = None
               ) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """Input names and one (d,) array per row from ``{input: value}`` (``key``), or from a
    legacy list (``legacy``, e.g. ``delta_rmse`` of runs before the per-input names)."""
    named = [r[key] for r in rows if isinstance(r.get(key), Mapping)]
    if named:
        names = tuple(named[0])
        return names, [np.array([math.nan if d.get(k) is None else float(d[k]) for k in names])
                       for d in named]
    if legacy is None:
        return (), []
    return (), [np.atleast_1d(np.asarray(r[legacy], dtype=np.float64))
                for r in rows if r.get(legacy) is not None]


def learning_curve_summary(entries: Iterable[Mapping[str, Any]]) -> list[CurvePoint]:
    """Aggregate learning-curve entries (one per mode, m and seed) into mean ± sd over seeds.

    Greek errors come from ``greek_rmse`` (``{input: float}``) or, in runs that predate it, the
    per-input list ``delta_rmse``. Entries with missing or non-finite RMSEs are ignored for that
    statistic. The result is sorted by mode then m.
    """
    groups: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
    for e in entries:
        groups.setdefault((str(e.get("mode")), int(e.get("m", 0))), []).append(e)
    out: list[CurvePoint] = []
    for (mode, m), rows in sorted(groups.items()):
        vm, vs = mean_sd(r.get("value_rmse") for r in rows)
        rm, rs = mean_sd(r.get("value_relative") for r in rows)
        names, deltas = _per_input(rows, "greek_rmse", "delta_rmse")
        d = max((len(x) for x in deltas), default=0)
        dm, ds = [], []
        for i in range(d):
            a, b = mean_sd(x[i] for x in deltas if len(x) > i)
            dm.append(a)
            ds.append(b)
        am, asd = mean_sd(rms_over_inputs(list(x)) for x in deltas)
        gnames, gammas = _per_input(rows, "gamma_rmse")
        gm, gs = [], []
        for i in range(len(gnames)):
            a, b = mean_sd(x[i] for x in gammas if len(x) > i)
            gm.append(a)
            gs.append(b)
        fm, _ = mean_sd(r.get("fit_seconds") for r in rows)
        out.append(CurvePoint(mode, m, len(rows), vm, vs, tuple(dm), tuple(ds), am, asd, fm,
                              names, rm, rs, gnames, tuple(gm), tuple(gs)))
    return out
