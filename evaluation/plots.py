"""Figures of the evaluation report (matplotlib object API, Agg canvas, no pyplot).

Every ``*_figure`` function returns a :class:`matplotlib.figure.Figure` that is never shown;
:func:`to_png` renders it to PNG bytes. No global state is touched (no ``pyplot``, no
``matplotlib.use``), so the functions are safe inside a pipeline worker. Units: prices and deltas
in label units; RMSE axes ×100 (per cent of a unit spot) as in the source papers.

Sizes: figures are drawn for a page about :data:`PAGE_WIDTH_IN` inches wide at 100 px per inch
(the report's content column), full width or half width (:data:`HALF_WIDTH_IN`, two figures side
by side), and rendered at least :data:`MIN_PNG_WIDTH` pixels wide, so text keeps the same size
on the page in both and stays sharp on high-density screens. Margins come from matplotlib's
constrained layout: no tick label, axis label or title is cut off.

Multi-input slices are drawn along one meaningful axis (:func:`slice_axis`): the basket level
for a basket, the worst (best) level for a worst-of (best-of), the spot at the median of the
other inputs for a model with one spot and further inputs (Heston's variance).

Text that comes from users (scenario labels, input names) is passed through :func:`plain` so that
``$`` does not start mathtext.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogFormatterSciNotation, NullLocator

from .metrics import CurvePoint

__all__ = [
    "COLORS",
    "HALF_WIDTH_IN",
    "MIN_PNG_WIDTH",
    "PAGE_WIDTH_IN",
    "SliceAxis",
    "exposure_figure",
    "learning_curve_figure",
    "loss_history_figure",
    "pinn_error_map_figure",
    "plain",
    "slice_axis",
    "slices_figure",
    "sparkline_svg",
    "to_png",
    "xva_figure",
]

#: Colours (colour-blind safe): surrogate modes, PINN, reference.
COLORS: dict[str, str] = {
    "standard": "#dd8452",
    "differential": "#4c72b0",
    "pinn": "#55a868",
    "reference": "#222222",
    "noise": "#8c8c8c",
    "xva": "#c44e52",
    "backward": "#8172b3",
    "epe": "#4c72b0",
    "ene": "#c44e52",
    "pfe": "#222222",
}

#: Width in inches of a full-width figure (the report's content column at 100 px per inch).
PAGE_WIDTH_IN = 11.0
#: Width in inches of a figure shown beside another one.
HALF_WIDTH_IN = 5.4
#: :func:`to_png` raises the resolution until the PNG is at least this many pixels wide.
MIN_PNG_WIDTH = 1100

_RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "axes.edgecolor": "#555555",
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "text.usetex": False,
    "svg.fonttype": "none",
    "figure.constrained_layout.h_pad": 0.06,
    "figure.constrained_layout.w_pad": 0.06,
}

#: At most this many inputs get their own column in slice figures.
MAX_SLICE_INPUTS = 4

#: A slice at fixed other inputs keeps this fraction of the test points (nearest the median).
SLICE_FRACTION = 0.1


def plain(text: object) -> str:
    """User text made literal for matplotlib (``$`` escaped so mathtext never parses it)."""
    return str(text).replace("$", r"\$")


def _wrap(text: str, width_in: float, size: float = 10.0) -> str:
    """``text`` wrapped to about ``width_in`` inches at ``size`` points."""
    chars = max(20, int(width_in * 72 / (0.65 * size)))  # DejaVu bold: ~0.65 em per char
    return "\n".join(textwrap.wrap(text, chars) or [""])


def _figure(width: float, height: float) -> Figure:
    """A figure with constrained layout (margins fitted to the labels when drawn)."""
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(fig)
    return fig


def _suptitle(fig: Figure, text: str | None) -> None:
    if text:
        fig.suptitle(_wrap(text, fig.get_size_inches()[0] - 0.4), fontsize=10,
                     fontweight="bold")


def to_png(fig: Figure, dpi: int = 110, min_width: int = MIN_PNG_WIDTH) -> bytes:
    """Render ``fig`` to PNG bytes (white background), at ``dpi`` or the resolution that makes
    the image ``min_width`` pixels wide, whichever is higher."""
    width_in = float(fig.get_size_inches()[0])
    dpi = max(float(dpi), math.ceil(min_width / width_in)) if width_in > 0 else float(dpi)
    buf = io.BytesIO()
    with mpl.rc_context(_RC):
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


class _PlainLog(LogFormatterSciNotation):
    """Log-axis labels as plain numbers (``0.5``, ``14``, ``1e-05``), on the ticks matplotlib
    would label: decades, plus minor ticks when the axis spans little more than a decade."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return "" if super().__call__(x, pos) == "" else f"{x:.3g}"


def _plain_log_y(ax: object) -> None:
    ax.yaxis.set_major_formatter(_PlainLog())  # type: ignore[attr-defined]
    ax.yaxis.set_minor_formatter(  # type: ignore[attr-defined]
        _PlainLog(labelOnlyBase=False, minor_thresholds=(1, 0.4)))


def _int_label(v: float, _pos: int) -> str:
    """Training sizes as 256, 1k, 16k, 1M."""
    v = round(v)
    if v >= 1 << 20 and v % (1 << 20) == 0:
        return f"{v >> 20}M"
    if v >= 1024 and v % 1024 == 0:
        return f"{v >> 10}k"
    return f"{v:d}"


def _mode_color(mode: str) -> str:
    return COLORS.get(mode.lower(), "#7f7f7f")


# ----- learning curves ---------------------------------------------------------------------------
#: Up to this many inputs get their own delta panel in the learning-curve figure; beyond, one
#: panel shows their deltas pooled (RMS over the inputs, titled so).
MAX_DELTA_PANELS = 3


def learning_curve_figure(
    points: Sequence[CurvePoint],
    inputs: Sequence[str],
    mc_noise: Mapping[str, object] | None = None,
    title: str | None = None,
    max_delta_panels: int = MAX_DELTA_PANELS,
    unit_spot: bool = True,
) -> Figure:
    """RMSE of values and deltas against training size m (log–log), mean ± sd over seeds.

    One line per mode (standard, differential) with a shaded ±1 sd band over seeds. The dashed
    line is the standard error of a Monte-Carlo price of the same cost as m labels,
    ``value_std / sqrt(m)`` (``mc_noise``: ``value_std``, ``delta_std``, the RMS deviation of the
    pathwise labels from the reference): the surrogate beats plain Monte Carlo of equal cost below
    it. Up to ``max_delta_panels`` inputs get their own delta panel; beyond, one panel shows the
    deltas pooled, the RMS over the inputs of each input's RMSE (titled "pooled"; the report's
    tables give every input or the worst one, never pooled). ``unit_spot``: the set-up has a unit
    spot and strike (Huge–Savine), so errors are shown ×100 as in the source; otherwise in price
    units.
    """
    factor, unit = (100.0, "RMSE ×100 (unit spot)") if unit_spot else (1.0, "RMSE (price units)")
    d = max((len(p.delta_mean) for p in points), default=0)
    per_input = 0 < d <= max_delta_panels
    n_panels = 1 + (d if per_input else (1 if d else 0))
    with mpl.rc_context(_RC):
        fig = _figure(PAGE_WIDTH_IN, 3.9)
        axes = fig.subplots(1, n_panels, squeeze=False)[0]
        noise = mc_noise or {}
        delta_noise = noise.get("delta_std")
        delta_noise = [] if delta_noise is None else list(np.atleast_1d(delta_noise))
        for k, ax in enumerate(axes):
            if k == 0:
                what, level = "value", noise.get("value_std")
            elif per_input:
                name = inputs[k - 1] if k - 1 < len(inputs) else f"x{k - 1}"
                what = f"delta wrt {plain(name)}"
                level = delta_noise[k - 1] if k - 1 < len(delta_noise) else None
            else:
                what = f"delta, pooled: RMS over {d} inputs"
                level = (float(np.sqrt(np.mean(np.square(delta_noise)))) if delta_noise else None)
            for mode in sorted({p.mode for p in points}, key=lambda s: (s != "standard", s)):
                rows = sorted((p for p in points if p.mode == mode), key=lambda p: p.m)
                m = np.array([p.m for p in rows], dtype=float)
                if k == 0:
                    mu = np.array([p.value_mean for p in rows])
                    sd = np.array([p.value_sd for p in rows])
                elif per_input:
                    mu = np.array([p.delta_mean[k - 1] if len(p.delta_mean) >= k else np.nan
                                   for p in rows])
                    sd = np.array([p.delta_sd[k - 1] if len(p.delta_sd) >= k else np.nan
                                   for p in rows])
                else:
                    mu = np.array([p.delta_all_mean for p in rows])
                    sd = np.array([p.delta_all_sd for p in rows])
                mu, sd = factor * mu, factor * np.nan_to_num(sd)
                ok = np.isfinite(mu) & (mu > 0)
                if not ok.any():
                    continue
                c = _mode_color(mode)
                ax.plot(m[ok], mu[ok], "o-", color=c, lw=1.6, ms=3.5, label=plain(mode))
                lo = np.maximum(mu - sd, mu * 0.05)
                ax.fill_between(m[ok], lo[ok], (mu + sd)[ok], color=c, alpha=0.18, lw=0)
            ms_all = np.array(sorted({p.m for p in points}), dtype=float)
            if (level is not None and math.isfinite(float(level)) and float(level) > 0
                    and ms_all.size):
                ax.plot(ms_all, factor * float(level) / np.sqrt(ms_all), color=COLORS["noise"],
                        ls="--", lw=1.0, label="MC standard error, m paths")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ms = sorted({p.m for p in points})
            if ms:
                ax.xaxis.set_major_locator(FixedLocator(ms))
                ax.xaxis.set_major_formatter(FuncFormatter(_int_label))
                ax.xaxis.set_minor_locator(NullLocator())
                if len(ms) > 6:
                    ax.tick_params(axis="x", labelrotation=45)
            _plain_log_y(ax)
            ax.set_xlabel("training size m")
            ax.set_ylabel(unit)
            ax.set_title(what)
            ax.grid(True, which="minor", axis="y", color="#f2f2f2", lw=0.4)
        handles, labels = axes[0].get_legend_handles_labels()
        if handles:
            axes[0].legend(handles, labels, loc="best")
        _suptitle(fig, plain(title) if title else None)
    return fig


# ----- slices -------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SliceAxis:
    """The axis a test set is drawn along (:func:`slice_axis`).

    Attributes:
        values: (n,) the coordinate of each test point on the axis.
        label: the x-axis label (matplotlib text: user names already passed through
            :func:`plain`).
        keep: (n,) bool, the test points drawn: all of them, or a slice at fixed other inputs.
        direction: (d,) or ``None``. Given, the gradient panel shows the derivative along the
            axis, ``grad @ direction`` (one column); ``None``: one column per input.
        direction_title: the title of that panel.
        direction_label: its y label.
        curve: the price is a function of the axis on the kept points (drawn as lines); else
            the points are a projection of the test set (dots, errors as bands over bins).
        note: how the axis was chosen, one sentence for captions (plain text).
    """

    values: np.ndarray
    label: str
    keep: np.ndarray
    direction: np.ndarray | None = None
    direction_title: str = "derivative along the axis"
    direction_label: str = ""
    curve: bool = True
    note: str = ""


def _numbers(v: Any) -> list[float] | None:
    if isinstance(v, (list, tuple)) and v and all(
            isinstance(e, (int, float)) and not isinstance(e, bool) for e in v):
        return [float(e) for e in v]
    return None


def slice_axis(
    x: np.ndarray,
    inputs: Sequence[str],
    parameters: Mapping[str, Any] | None = None,
    fraction: float = SLICE_FRACTION,
) -> SliceAxis:
    """The axis to draw a test set of prices and Greeks along.

    Args:
        x: test inputs (n, d) (or (n,) for one input).
        inputs: input names (d,) as ``model.inputs``: ``spot`` or ``spot_0``, ``spot_1``... for
            the spots, then any other input (``variance``, ``vol_0``...).
        parameters: the scenario's ``parameters`` in metrics.json (``model`` and ``product``
            blocks in the simulators' ``to_dict`` form); optional.
        fraction: the share of the test points kept in a slice at fixed other inputs.

    The first rule that applies:

    * one input: that input, lines;
    * a product with ``weights`` on the spots (a basket): the basket level
      B = sum_i w_i S_i, and the gradient panel shows dV/dB = grad V . w / |w|^2 (exact when
      V depends on B only, as for a Bachelier basket: lines; else a projection: dots);
    * ``WorstOf`` / ``BestOf``: min_i S_i / max_i S_i, gradient panel sum_i dV/dS_i (a
      parallel shift), dots;
    * one spot and other inputs (Heston's variance, sampled vols): the spot, on the
      ``fraction`` of the test points nearest the median of the other inputs (each scaled by
      its range), one gradient column per input, lines;
    * several spots otherwise: their mean, gradient panel sum_i dV/dS_i, dots;
    * no spot among the names: the first input, one gradient column per input, dots.
    """
    xa = np.asarray(x, dtype=float)
    if xa.ndim == 0 or len(xa) == 0:
        raise ValueError("The 'x' parameter of slice_axis must hold at least one point. "
                         f"Got shape {xa.shape} instead.")
    xa = xa[:, None] if xa.ndim == 1 else xa.reshape(len(xa), -1)
    n, d = xa.shape
    names = [str(inputs[j]) if j < len(inputs) else f"x{j}" for j in range(d)]
    every = np.ones(n, dtype=bool)
    if d == 1:
        return SliceAxis(xa[:, 0], plain(names[0]), every)
    params = parameters if isinstance(parameters, Mapping) else {}
    product = params.get("product") if isinstance(params.get("product"), Mapping) else {}
    model = params.get("model") if isinstance(params.get("model"), Mapping) else {}
    spots = [j for j, s in enumerate(names) if s == "spot" or s.startswith("spot_")]
    weights = _numbers(product.get("weights"))
    if len(spots) > 1 and weights is not None and len(weights) == len(spots):
        w = np.asarray(weights)
        if float(w @ w) > 0:
            direction = np.zeros(d)
            direction[spots] = w / float(w @ w)
            curve = len(spots) == d and model.get("type") == "BachelierBasket"
            return SliceAxis(
                xa[:, spots] @ w, r"basket level $B = \sum_i w_i S_i$", every, direction,
                "basket delta", r"$\partial V / \partial B = \nabla V \cdot w\, /\, |w|^2$",
                curve,
                "along the basket level B = Σ w_i S_i (the product's weights)"
                + ("" if curve else "; points project the test set on B"))
    kind = product.get("type")
    if len(spots) > 1 and kind in ("WorstOf", "BestOf"):
        worst = kind == "WorstOf"
        direction = np.zeros(d)
        direction[spots] = 1.0
        level = np.min(xa[:, spots], axis=1) if worst else np.max(xa[:, spots], axis=1)
        return SliceAxis(
            level, r"worst level $\min_i S_i$" if worst else r"best level $\max_i S_i$", every,
            direction, "delta to a parallel shift of the spots",
            r"$\sum_i \partial V / \partial S_i$", False,
            f"along the {'worst' if worst else 'best'} level {'min' if worst else 'max'}_i S_i; "
            "points project the test set on it")
    if len(spots) == 1:
        j = spots[0]
        others = [k for k in range(d) if k != j]
        z = xa[:, others]
        span = np.ptp(z, axis=0)
        span[span == 0] = 1.0
        med = np.median(z, axis=0)
        dist = np.max(np.abs(z - med) / span, axis=1)
        k = min(n, max(8, math.ceil(fraction * n)))
        keep = np.zeros(n, dtype=bool)
        keep[np.argsort(dist, kind="stable")[:k]] = True
        at = ", ".join(f"{names[o]} ≈ {float(m):.3g}" for o, m in zip(others, med, strict=True))
        return SliceAxis(xa[:, j], f"{plain(names[j])} ({plain(at)})", keep,
                         note=f"along {names[j]} at {at}: the {k} of {n} test points nearest "
                              "the median of the other inputs")
    if spots:
        direction = np.zeros(d)
        direction[spots] = 1.0
        return SliceAxis(np.mean(xa[:, spots], axis=1), r"mean spot $\frac{1}{n}\sum_i S_i$",
                         every, direction, "delta to a parallel shift of the spots",
                         r"$\sum_i \partial V / \partial S_i$", False,
                         "along the mean of the spots; points project the test set on it")
    return SliceAxis(xa[:, 0], plain(names[0]), every, curve=False,
                     note=f"along {names[0]}; points project the test set on it (the other "
                          "inputs vary)")


def _binned_band(x: np.ndarray, e: np.ndarray, n_bins: int) -> tuple[np.ndarray, ...]:
    """Centre, median, low and high (min/max) of ``e`` in quantile bins of ``x``."""
    order = np.argsort(x, kind="stable")
    xs, es = x[order], e[order]
    chunks = np.array_split(np.arange(len(xs)), max(1, min(n_bins, len(xs))))
    c, med, lo, hi = [], [], [], []
    for idx in chunks:
        if len(idx) == 0:
            continue
        c.append(np.mean(xs[idx]))
        med.append(np.median(es[idx]))
        lo.append(np.min(es[idx]))
        hi.append(np.max(es[idx]))
    return np.array(c), np.array(med), np.array(lo), np.array(hi)


def _columns(grad: np.ndarray | None, n: int, d: int) -> np.ndarray | None:
    """A gradient as (n, d), or ``None`` when absent or of another shape."""
    if grad is None:
        return None
    g = np.asarray(grad, dtype=float)
    return g.reshape(n, -1) if g.size == n * d else None


def slices_figure(
    x_test: np.ndarray,
    ref_price: np.ndarray,
    ref_grad: np.ndarray | None,
    predictions: Mapping[str, tuple[np.ndarray, np.ndarray | None]],
    inputs: Sequence[str],
    title: str | None = None,
    max_inputs: int = MAX_SLICE_INPUTS,
    axis: SliceAxis | None = None,
    colors: Mapping[str, str] | None = None,
    reference_label: str = "reference",
) -> Figure:
    """Predicted against reference price and Greeks along one axis, with the error below.

    Args:
        x_test: test inputs (n, d).
        ref_price: reference prices (n,).
        ref_grad: reference gradients (n, d) or ``None``.
        predictions: label (``"standard"``, ``"differential"``, ``"PINN"``) -> (price (n,),
            gradient (n, d) or None).
        inputs: input names (d,).
        max_inputs: at most this many gradient columns when the gradient is shown per input.
        axis: what to plot against (default :func:`slice_axis` of ``x_test`` and ``inputs``,
            without the scenario's parameters).
        colors: colour by prediction label (default: :data:`COLORS` by mode, else grey).
        reference_label: the reference's name in the legend.

    Columns: the price, then the derivative along the axis (``axis.direction``) or one
    column per input. Rows: the value; the error (prediction − reference). Points are sorted
    along the axis; on a curve (``axis.curve``) they are joined by lines and the error is a
    filled curve, on a projection they are dots and the error is the min–max band over quantile
    bins of the axis with its median as a line.
    """
    x = np.asarray(x_test, dtype=float)
    x = x[:, None] if x.ndim == 1 else x.reshape(len(x), -1)
    n, d = x.shape
    names = [str(inputs[j]) if j < len(inputs) else f"x{j}" for j in range(d)]
    ax_ = axis if axis is not None else slice_axis(x, names)
    order = np.flatnonzero(ax_.keep)
    order = order[np.argsort(ax_.values[order], kind="stable")]
    t = np.asarray(ax_.values, dtype=float)[order]
    subset = len(order) < n
    rg = _columns(ref_grad, n, d)
    preds = {label: (np.asarray(pp, dtype=float).reshape(n), _columns(pg, n, d))
             for label, (pp, pg) in predictions.items()}
    # (title, y label, reference, prediction from (price, gradient))
    panels: list[tuple[str, str, np.ndarray, Any]] = [
        ("price", "price", np.asarray(ref_price, dtype=float).reshape(n), lambda p, g: p)]
    note = None
    if rg is not None and ax_.direction is not None:
        u = np.asarray(ax_.direction, dtype=float)
        panels.append((ax_.direction_title, ax_.direction_label, rg @ u,
                       lambda p, g: None if g is None else g @ u))
    elif rg is not None:
        for j in range(min(d, max_inputs)):
            name = plain(names[j])
            spot = names[j].startswith("spot")
            panels.append((f"delta wrt {name}" if spot else f"dV / d{name}",
                           "delta" if spot else "sensitivity", rg[:, j],
                           lambda p, g, j=j: None if g is None else g[:, j]))
        if d > max_inputs:
            note = f"first {max_inputs} of {d} inputs shown"
    cols = len(panels)
    n_bins = max(6, min(25, len(order) // 12))
    with mpl.rc_context(_RC):
        fig = _figure(PAGE_WIDTH_IN, 4.9)
        axes = fig.subplots(2, cols, squeeze=False, sharex=True,
                            gridspec_kw={"height_ratios": [3, 1.4]})
        for c, (what, ylabel, ref_all, get) in enumerate(panels):
            ax, ax_e = axes[0, c], axes[1, c]
            ref = ref_all[order]
            if ax_.curve:
                ax.plot(t, ref, "o-" if subset else "-", color=COLORS["reference"], lw=2.2,
                        ms=2.5, alpha=0.35, label=plain(reference_label))
            else:
                ax.plot(t, ref, ".", color=COLORS["reference"], ms=2.5, alpha=0.35,
                        label=plain(reference_label))
            for label, (pp, pg) in preds.items():
                pred = get(pp, pg)
                if pred is None:
                    continue
                c_ = (colors or {}).get(label) or _mode_color(label)
                err = pred[order] - ref
                if ax_.curve:
                    ax.plot(t, pred[order], color=c_, lw=1.2, label=plain(label))
                    ax_e.fill_between(t, 0, err, color=c_, alpha=0.25, lw=0)
                    ax_e.plot(t, err, color=c_, lw=0.8)
                else:
                    ax.plot(t, pred[order], ".", color=c_, ms=2.0, alpha=0.6, label=plain(label))
                    bc, med, lo, hi = _binned_band(t, err, n_bins)
                    ax_e.fill_between(bc, lo, hi, color=c_, alpha=0.22, lw=0)
                    ax_e.plot(bc, med, color=c_, lw=1.0)
            ax_e.axhline(0.0, color="#999999", lw=0.7)
            ax.set_title(what)
            ax.set_ylabel(ylabel)
            ax_e.set_ylabel("pred − ref")
            ax_e.set_xlabel(ax_.label)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        if handles:
            axes[0, 0].legend(handles, labels, loc="best", markerscale=1 if ax_.curve else 3)
        sup = plain(title) if title else None
        if note:
            sup = f"{sup} ({note})" if sup else note
        _suptitle(fig, sup)
    return fig


# ----- PINN ---------------------------------------------------------------------------------------
def pinn_error_map_figure(
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    error: np.ndarray,
    reference: np.ndarray | None = None,
    xlabel: str = "x1",
    ylabel: str = "x2",
    title: str | None = None,
) -> Figure:
    """Heatmap of log10 |error| on a 2D grid, with reference price contours when given.

    Args:
        grid_x: (nx,) coordinates of the first axis.
        grid_y: (ny,) coordinates of the second axis.
        error: (ny, nx) PINN − reference (label units). Shown as ``log10(|error| / scale)`` with
            ``scale = max |reference|`` when a reference is given (relative to the largest price),
            else as ``log10 |error|``.
        reference: (ny, nx) reference prices, optional.
    """
    gx, gy = np.asarray(grid_x, float), np.asarray(grid_y, float)
    err = np.abs(np.asarray(error, float))
    scale = 1.0
    if reference is not None:
        ref = np.asarray(reference, float)
        scale = float(np.nanmax(np.abs(ref))) or 1.0
    with np.errstate(divide="ignore"):
        z = np.log10(err / scale)
    finite = z[np.isfinite(z)]
    floor = float(np.min(finite)) if finite.size else -16.0
    z = np.where(np.isfinite(z), z, floor)
    with mpl.rc_context(_RC):
        fig = _figure(HALF_WIDTH_IN, 4.2)
        ax = fig.subplots()
        mesh = ax.pcolormesh(gx, gy, z, shading="auto", cmap="viridis")
        cb = fig.colorbar(mesh, ax=ax)
        cb.set_label("log10 |error| / max |ref|" if reference is not None else "log10 |error|")
        if reference is not None:
            cs = ax.contour(gx, gy, np.asarray(reference, float), levels=8, colors="white",
                            linewidths=0.6, alpha=0.8)
            ax.clabel(cs, fontsize=6, fmt="%.3g")
        ax.set_xlabel(plain(xlabel))
        ax.set_ylabel(plain(ylabel))
        ax.grid(False)
        _suptitle(fig, plain(title) if title else "PINN error")
    return fig


def loss_history_figure(history: Mapping[str, Sequence[float]], title: str | None = None) -> Figure:
    """Loss per term against training step (log scale). ``step`` is the x axis; ``lr`` is skipped;
    ``total``/``loss`` is drawn thicker."""
    h = {k: np.asarray(v, dtype=float) for k, v in history.items()}
    n = max((len(v) for v in h.values()), default=0)
    step = h.pop("step", np.arange(n, dtype=float))
    h.pop("lr", None)
    with mpl.rc_context(_RC):
        fig = _figure(HALF_WIDTH_IN, 3.6)
        ax = fig.subplots()
        terms = sorted(h.items(), key=lambda kv: kv[0] not in ("total", "loss"))
        for i, (k, v) in enumerate(terms):
            m = min(len(v), len(step))
            vv = np.where(v[:m] > 0, v[:m], np.nan)
            if not np.isfinite(vv).any():
                continue
            total = k in ("total", "loss")
            ax.plot(step[:m], vv, lw=2.0 if total else 1.1,
                    color="#222222" if total else mpl.colormaps["tab10"](i % 10),
                    label=plain(k))
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(plain(title) if title else "PINN loss per term")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best")
    return fig


def xva_figure(
    x: np.ndarray, risk_free: np.ndarray, risky: np.ndarray, xlabel: str = "spot",
    title: str | None = None, risky_label: str = "risky (with XVA)",
    others: Mapping[str, np.ndarray] | None = None, axis: SliceAxis | None = None,
) -> Figure:
    """Risk-free against risky (XVA-adjusted) value along one axis; lower panel: the XVA,
    ``risky − risk_free``. ``others``: further risky values by label (e.g. the FD beside a PINN
    reference), drawn dotted with their XVA.

    ``x`` is (n,) or (n, d); ``axis`` says what to plot against (default: ``x`` for one input,
    else :func:`slice_axis` with ``xlabel`` naming the first input). Points are sorted along the
    axis: joined by lines on a curve, dots on a projection (``axis.curve``)."""
    xv = np.asarray(x, dtype=float)
    xv = xv[:, None] if xv.ndim == 1 else xv.reshape(len(xv), -1)
    n, d = xv.shape
    ax_ = axis if axis is not None else slice_axis(
        xv, [xlabel, *(f"x{j}" for j in range(1, d))])
    o = np.flatnonzero(ax_.keep)
    o = o[np.argsort(ax_.values[o], kind="stable")]
    t = np.asarray(ax_.values, dtype=float)[o]
    rf = np.asarray(risk_free, dtype=float).reshape(n)[o]
    rk = np.asarray(risky, dtype=float).reshape(n)[o]
    extra = [(label, np.asarray(v, dtype=float).reshape(n)[o])
             for label, v in (others or {}).items()]
    shades = ("#8172b3", "#937860", "#da8bc3")
    line = {} if ax_.curve else {"ls": "none", "marker": ".", "ms": 3.0}
    with mpl.rc_context(_RC):
        fig = _figure(PAGE_WIDTH_IN, 4.6)
        ax, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.5]})
        ax.plot(t, rf, **{"color": COLORS["reference"], "lw": 1.5, "label": "risk-free",
                          **line})
        ax.plot(t, rk, **{"color": COLORS["xva"], "lw": 1.5, "ls": "--",
                          "label": plain(risky_label), **line})
        for (label, v), c in zip(extra, shades, strict=False):
            ax.plot(t, v, **{"color": c, "lw": 1.2, "ls": ":", "label": plain(label), **line})
        ax.set_ylabel("value")
        ax.legend(loc="best", markerscale=1 if ax_.curve else 3)
        ax.set_title(plain(title) if title else "Risky vs risk-free value")
        if ax_.curve:
            ax2.fill_between(t, 0, rk - rf, color=COLORS["xva"], alpha=0.3, lw=0)
        ax2.plot(t, rk - rf, **{"color": COLORS["xva"], "lw": 1.0, **line})
        for (_, v), c in zip(extra, shades, strict=False):
            ax2.plot(t, v - rf, **{"color": c, "lw": 1.2, "ls": ":", **line})
        ax2.axhline(0, color="#999999", lw=0.7)
        ax2.set_ylabel("XVA")
        ax2.set_xlabel(ax_.label)
    return fig


# ----- exposure profiles --------------------------------------------------------------------------
def exposure_figure(
    times: np.ndarray, epe: np.ndarray, ene: np.ndarray, epe_se: np.ndarray,
    ene_se: np.ndarray, pfe: np.ndarray, quantile: float, title: str | None = None,
    n_se: float = 2.0,
) -> Figure:
    """Exposure profile against time: EPE and ENE with bands of ±``n_se`` Monte-Carlo standard
    errors, and the PFE at ``quantile`` (no band: its error is not estimated).

    Args:
        times: dates t_k in years, (N + 1,).
        epe, ene: expected positive and negative exposure per date (value units), (N + 1,).
        epe_se, ene_se: their Monte-Carlo standard errors, (N + 1,).
        pfe: the ``quantile`` of the value per date, (N + 1,).
        quantile: the PFE level in (0, 1), for the legend.
    """
    t = np.asarray(times, dtype=float).ravel()
    series = {k: np.asarray(v, dtype=float).ravel() for k, v in
              (("epe", epe), ("ene", ene), ("epe_se", epe_se), ("ene_se", ene_se),
               ("pfe", pfe))}
    for k, v in series.items():
        if v.shape != t.shape:
            raise ValueError(f"The '{k}' parameter of exposure_figure must have the shape of "
                             f"'times' {t.shape}. Got {v.shape} instead.")
    with mpl.rc_context(_RC):
        fig = _figure(HALF_WIDTH_IN, 3.6)
        ax = fig.subplots()
        band = f" (±{n_se:g} s.e.)"
        for key, label in (("epe", "EPE"), ("ene", "ENE")):
            v, se = series[key], series[f"{key}_se"]
            ax.fill_between(t, v - n_se * se, v + n_se * se, color=COLORS[key], alpha=0.25,
                            lw=0)
            ax.plot(t, v, "o-", color=COLORS[key], lw=1.4, ms=3.0, label=label + band)
        ax.plot(t, series["pfe"], "s--", color=COLORS["pfe"], lw=1.2, ms=3.0,
                label=f"PFE ({100 * quantile:g} % quantile)")
        ax.axhline(0.0, color="#999999", lw=0.7)
        ax.set_xlabel("t (years)")
        ax.set_ylabel("exposure (value units)")
        ax.set_title(plain(title) if title else "Exposure profile")
        ax.legend(loc="best")
    return fig


# ----- sparklines (plain SVG, no matplotlib) ------------------------------------------------------
def sparkline_svg(
    values: Sequence[float | None], width: int = 110, height: int = 26, title: str = "",
    bad_last: bool = False, log: bool = False,
) -> str:
    """A small inline SVG line of ``values`` (oldest first; ``None`` = gap), last point marked
    (red when ``bad_last``; a hollow red mark at the last place when that value is missing).
    ``log``: plot log10 of positive values. Returns ``""`` when fewer than one finite value
    exists. ``title`` becomes a tooltip (escaped)."""
    ys: list[float | None] = []
    for v in values:
        if v is None or not math.isfinite(v) or (log and v <= 0):
            ys.append(None)
        else:
            ys.append(math.log10(v) if log else float(v))
    finite = [y for y in ys if y is not None]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    span = hi - lo or 1.0
    pad = 3.0
    n = len(ys)

    def px(i: int) -> float:
        return pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)

    def py(y: float) -> float:
        return height - pad - (height - 2 * pad) * ((y - lo) / span if hi > lo else 0.5)

    segs: list[list[str]] = [[]]
    for i, y in enumerate(ys):
        if y is None:
            segs.append([])
        else:
            segs[-1].append(f"{px(i):.1f},{py(y):.1f}")
    lines = "".join(
        f'<polyline points="{" ".join(s)}" fill="none" stroke="#4c72b0" stroke-width="1.4"/>'
        for s in segs if len(s) > 1
    )
    last = max(i for i, y in enumerate(ys) if y is not None)
    dot_color = "#c44e52" if bad_last else "#4c72b0"
    dot = (f'<circle cx="{px(last):.1f}" cy="{py(ys[last]):.1f}" r="2.4" '  # type: ignore[arg-type]
           f'fill="{dot_color}"/>')
    if ys[-1] is None and bad_last:  # the current run has no value: a hollow mark at its place
        dot = (f'<circle cx="{px(len(ys) - 1):.1f}" cy="{height / 2:.1f}" r="2.4" fill="none" '
               f'stroke="{dot_color}" stroke-width="1.2"/>')
    tip = f"<title>{escape(title)}</title>" if title else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img">{tip}{lines}{dot}</svg>')
