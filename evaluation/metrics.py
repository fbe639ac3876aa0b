"""Error metrics used by the pipeline and the evaluation report (NumPy only).

Conventions:

* ``rmse`` is in the units of its inputs; the report shows surrogate RMSEs ×100 (per cent of a
  unit spot), as the source papers do.
* ``log10_relative_errors`` returns ``log10(||pred - ref||_p / ||ref||_p)`` for p = 1, 2, ∞ over all
  entries, the PINN papers' accuracy measure (−3 means 0.1 % relative error).
* Learning-curve entries follow ``docs/run-format.md``: one dict per (mode, m, seed) with
  ``value_rmse`` (float) and ``delta_rmse`` (list, one per input).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CurvePoint",
    "learning_curve_summary",
    "log10_relative_errors",
    "mean_sd",
    "rmse",
    "rms_over_inputs",
]


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
    """One number for a per-input delta RMSE list: ``sqrt(mean(rmse_i**2))`` (RMSE over all
    delta components); a scalar is returned unchanged."""
    if isinstance(delta_rmse, (int, float)):
        return float(delta_rmse)
    v = np.asarray(delta_rmse, dtype=np.float64)
    if v.size == 0:
        return math.nan
    return float(np.sqrt(np.mean(v**2)))


@dataclass(frozen=True)
class CurvePoint:
    """Learning-curve statistics over seeds for one (mode, training size m).

    Attributes:
        mode: ``"standard"`` or ``"differential"``.
        m: training-set size.
        n_seeds: number of seeds aggregated.
        value_mean, value_sd: value RMSE mean and sample sd over seeds (label units).
        delta_mean, delta_sd: per-input delta RMSE mean and sd, shape (d,).
        delta_all_mean, delta_all_sd: the RMS over inputs (see :func:`rms_over_inputs`), mean/sd.
        fit_seconds: mean fit time in seconds (nan when not recorded).
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


def learning_curve_summary(entries: Iterable[Mapping[str, Any]]) -> list[CurvePoint]:
    """Aggregate learning-curve entries (one per mode, m and seed) into mean ± sd over seeds.

    Entries with missing or non-finite RMSEs are ignored for that statistic. The result is sorted by
    mode then m.
    """
    groups: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
    for e in entries:
        groups.setdefault((str(e.get("mode")), int(e.get("m", 0))), []).append(e)
    out: list[CurvePoint] = []
    for (mode, m), rows in sorted(groups.items()):
        vm, vs = mean_sd(r.get("value_rmse") for r in rows)
        deltas = [np.atleast_1d(np.asarray(r["delta_rmse"], dtype=np.float64))
                  for r in rows if r.get("delta_rmse") is not None]
        d = max((len(x) for x in deltas), default=0)
        dm, ds = [], []
        for i in range(d):
            a, b = mean_sd(x[i] for x in deltas if len(x) > i)
            dm.append(a)
            ds.append(b)
        am, asd = mean_sd(rms_over_inputs(list(x)) for x in deltas)
        fm, _ = mean_sd(r.get("fit_seconds") for r in rows)
        out.append(CurvePoint(mode, m, len(rows), vm, vs, tuple(dm), tuple(ds), am, asd, fm))
    return out
