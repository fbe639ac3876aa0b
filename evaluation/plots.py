"""Figures of the evaluation report (matplotlib object API, Agg canvas, no pyplot).

Every ``*_figure`` function returns a :class:`matplotlib.figure.Figure` that is never shown;
:func:`to_png` renders it to PNG bytes. No global state is touched (no ``pyplot``, no
``matplotlib.use``), so the functions are safe inside a pipeline worker. Units: prices and deltas
in label units; RMSE axes ×100 (per cent of a unit spot) as in the source papers.

Text that comes from users (scenario labels, input names) is passed through :func:`plain` so that
``$`` does not start mathtext.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence
from html import escape

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogFormatterSciNotation, NullLocator

from .metrics import CurvePoint

__all__ = [
    "COLORS",
    "learning_curve_figure",
    "loss_history_figure",
    "pinn_error_map_figure",
    "plain",
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
}

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
}

#: At most this many inputs get their own column in slice figures.
MAX_SLICE_INPUTS = 4


def plain(text: object) -> str:
    """User text made literal for matplotlib (``$`` escaped so mathtext never parses it)."""
    return str(text).replace("$", r"\$")


def _wrap(text: str, width_in: float, size: float = 10.0) -> tuple[str, int]:
    """``text`` wrapped to about ``width_in`` inches at ``size`` points; returns (text, lines)."""
    chars = max(20, int(width_in * 72 / (0.65 * size)))  # DejaVu bold: ~0.65 em per char
    lines = textwrap.wrap(text, chars) or [""]
    return "\n".join(lines), len(lines)


def _figure(width: float, height: float) -> Figure:
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(width, height))
        FigureCanvasAgg(fig)
    return fig


def _adjust(fig: Figure, *, nrows: int = 1, ncols: int = 1, left: float = 0.75,
            right: float = 0.2, bottom: float = 0.5, top: float = 0.35, wgap: float = 0.75,
            hgap: float = 0.3) -> None:
    """Fixed margins and gaps in inches (a layout engine costs half the drawing time)."""
    w, h = fig.get_size_inches()
    aw = (w - left - right - (ncols - 1) * wgap) / ncols
    ah = (h - top - bottom - (nrows - 1) * hgap) / nrows
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h,
                        wspace=wgap / aw if ncols > 1 else 0.2,
                        hspace=hgap / ah if nrows > 1 else 0.2)


def to_png(fig: Figure, dpi: int = 110) -> bytes:
    """Render ``fig`` to PNG bytes (white background)."""
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
def learning_curve_figure(
    points: Sequence[CurvePoint],
    inputs: Sequence[str],
    mc_noise: Mapping[str, object] | None = None,
    title: str | None = None,
    max_delta_panels: int = 3,
) -> Figure:
    """RMSE ×100 of values and deltas against training size m (log–log), mean ± sd over seeds.

    One line per mode (standard, differential) with a shaded ±1 sd band over seeds; the
    Monte-Carlo noise level ``mc_noise`` (``value_std``, ``delta_std``: the standard deviation of
    the pathwise labels) is drawn as a dashed horizontal line. Up to ``max_delta_panels`` inputs get
    their own delta panel; beyond, one panel shows the RMS over inputs.
    """
    d = max((len(p.delta_mean) for p in points), default=0)
    per_input = 0 < d <= max_delta_panels
    n_panels = 1 + (d if per_input else (1 if d else 0))
    with mpl.rc_context(_RC):
        fig = _figure(min(3.3 * n_panels + 0.4, 13.0), 3.2)
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
                what = f"delta (RMS over {d} inputs)"
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
                mu, sd = 100 * mu, 100 * np.nan_to_num(sd)
                ok = np.isfinite(mu) & (mu > 0)
                if not ok.any():
                    continue
                c = _mode_color(mode)
                ax.plot(m[ok], mu[ok], "o-", color=c, lw=1.6, ms=3.5, label=plain(mode))
                lo = np.maximum(mu - sd, mu * 0.05)
                ax.fill_between(m[ok], lo[ok], (mu + sd)[ok], color=c, alpha=0.18, lw=0)
            if level is not None and math.isfinite(float(level)) and float(level) > 0:
                ax.axhline(100 * float(level), color=COLORS["noise"], ls="--", lw=1.0,
                           label="MC noise (label sd)")
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
            ax.set_ylabel("RMSE ×100")
            ax.set_title(what)
            ax.grid(True, which="minor", axis="y", color="#f2f2f2", lw=0.4)
        handles, labels = axes[0].get_legend_handles_labels()
        if handles:
            axes[0].legend(handles, labels, loc="best")
        top = 0.35
        if title:
            text, k = _wrap(plain(title), fig.get_size_inches()[0] - 0.4)
            fig.suptitle(text, fontsize=10, fontweight="bold")
            top += 0.2 * k + 0.05
        _adjust(fig, ncols=n_panels, top=top, bottom=0.55)
    return fig


# ----- slices -------------------------------------------------------------------------------------
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


def slices_figure(
    x_test: np.ndarray,
    ref_price: np.ndarray,
    ref_grad: np.ndarray | None,
    predictions: Mapping[str, tuple[np.ndarray, np.ndarray | None]],
    inputs: Sequence[str],
    title: str | None = None,
    max_inputs: int = MAX_SLICE_INPUTS,
) -> Figure:
    """Predicted against reference price and delta along each input, with the error as a band.

    Args:
        x_test: test inputs (n, d).
        ref_price: reference prices (n,).
        ref_grad: reference gradients (n, d) or ``None``.
        predictions: label (``"standard"``, ``"differential"``, ``"PINN"``) -> (price (n,),
            gradient (n, d) or None).
        inputs: input names (d,).
        max_inputs: at most this many input columns.

    Rows: price; price error (prediction − reference); and, when gradients exist, delta wrt the
    column's input; delta error. For d = 1 curves are lines; for d > 1 the points are a projection
    of the test set on that input (other inputs vary), and the error band is the min–max of the
    error in quantile bins of the input with its median as a line.
    """
    x = np.atleast_2d(np.asarray(x_test, dtype=float))
    if x.shape[0] == 1 and x.shape[1] != 1 and np.ndim(x_test) == 1:
        x = x.T
    n, d = x.shape
    cols = min(d, max_inputs)
    has_grad = ref_grad is not None
    rows = 4 if has_grad else 2
    ratios = [3, 1.4, 3, 1.4][:rows]
    with mpl.rc_context(_RC):
        fig = _figure(min(3.4 * cols + 0.6, 14.0), 1.25 * sum(ratios) + 0.6)
        axes = fig.subplots(rows, cols, squeeze=False, sharex="col",
                            gridspec_kw={"height_ratios": ratios})
        line = d == 1
        n_bins = max(6, min(25, n // 12))
        rg = None if ref_grad is None else np.asarray(ref_grad, dtype=float).reshape(n, -1)
        for j in range(cols):
            xj = x[:, j]
            order = np.argsort(xj, kind="stable")
            name = plain(inputs[j] if j < len(inputs) else f"x{j}")
            panels = [("price", np.asarray(ref_price, dtype=float), None)]
            if has_grad and rg is not None:
                what = f"delta wrt {name}" if name.startswith("spot") else f"dV / d{name}"
                panels.append((what, rg[:, j], j))
            for p_i, (what, ref, gi) in enumerate(panels):
                ax, ax_e = axes[2 * p_i, j], axes[2 * p_i + 1, j]
                if line:
                    ax.plot(xj[order], ref[order], color=COLORS["reference"], lw=2.2,
                            alpha=0.35, label="reference")
                else:
                    ax.plot(xj, ref, ".", color=COLORS["reference"], ms=2.5, alpha=0.35,
                            label="reference")
                for label, (pp, pg) in predictions.items():
                    c = _mode_color(label)
                    if gi is None:
                        pred = np.asarray(pp, dtype=float)
                    elif pg is None:
                        continue
                    else:
                        pred = np.asarray(pg, dtype=float).reshape(n, -1)[:, gi]
                    err = pred - ref
                    if line:
                        ax.plot(xj[order], pred[order], color=c, lw=1.2, label=plain(label))
                        ax_e.fill_between(xj[order], 0, err[order], color=c, alpha=0.25, lw=0)
                        ax_e.plot(xj[order], err[order], color=c, lw=0.8)
                    else:
                        ax.plot(xj, pred, ".", color=c, ms=2.0, alpha=0.6, label=plain(label))
                        bc, med, lo, hi = _binned_band(xj, err, n_bins)
                        ax_e.fill_between(bc, lo, hi, color=c, alpha=0.22, lw=0)
                        ax_e.plot(bc, med, color=c, lw=1.0)
                ax_e.axhline(0.0, color="#999999", lw=0.7)
                ax.set_title(f"price along {name}" if gi is None and d > 1 else what)
                ax_e.set_ylabel("error")
                if j == 0:
                    ax.set_ylabel("price" if gi is None else
                                  "delta" if name.startswith("spot") else "sensitivity")
                    ax_e.set_ylabel("pred − ref")
            axes[-1, j].set_xlabel(name)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        if handles:
            axes[0, 0].legend(handles, labels, loc="best", markerscale=3)
        sup = plain(title) if title else None
        if d > cols:
            note = f"first {cols} of {d} inputs shown"
            sup = f"{sup} ({note})" if sup else note
        top = 0.35
        if sup:
            text, k = _wrap(sup, fig.get_size_inches()[0] - 0.4)
            fig.suptitle(text, fontsize=10, fontweight="bold")
            top += 0.2 * k + 0.05
        _adjust(fig, nrows=rows, ncols=cols, top=top, hgap=0.32, wgap=0.8)
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
        fig = _figure(5.0, 3.9)
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
        text, k = _wrap(plain(title) if title else "PINN error", 4.6)
        fig.suptitle(text, fontsize=10, fontweight="bold")
        _adjust(fig, right=0.8, top=0.25 + 0.2 * k)
    return fig


def loss_history_figure(history: Mapping[str, Sequence[float]], title: str | None = None) -> Figure:
    """Loss per term against training step (log scale). ``step`` is the x axis; ``lr`` is skipped;
    ``total``/``loss`` is drawn thicker."""
    h = {k: np.asarray(v, dtype=float) for k, v in history.items()}
    n = max((len(v) for v in h.values()), default=0)
    step = h.pop("step", np.arange(n, dtype=float))
    h.pop("lr", None)
    with mpl.rc_context(_RC):
        fig = _figure(5.4, 3.4)
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
        _adjust(fig, left=0.8)
    return fig


def xva_figure(
    x: np.ndarray, risk_free: np.ndarray, risky: np.ndarray, xlabel: str = "spot",
    title: str | None = None, risky_label: str = "risky (with XVA)",
    others: Mapping[str, np.ndarray] | None = None,
) -> Figure:
    """Risk-free against risky (XVA-adjusted) value along one input; lower panel: the XVA,
    ``risky − risk_free``, as a filled curve. ``others``: further risky values by label (e.g. the
    FD beside a PINN reference), drawn dotted with their XVA."""
    xv = np.asarray(x, float)
    if xv.ndim == 2:
        xv = xv[:, 0]
    o = np.argsort(xv, kind="stable")
    rf, rk = np.asarray(risk_free, float)[o], np.asarray(risky, float)[o]
    xv = xv[o]
    extra = [(label, np.asarray(v, float)[o]) for label, v in (others or {}).items()]
    shades = ("#8172b3", "#937860", "#da8bc3")
    with mpl.rc_context(_RC):
        fig = _figure(5.4, 4.2)
        ax, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.5]})
        ax.plot(xv, rf, color=COLORS["reference"], lw=1.5, label="risk-free")
        ax.plot(xv, rk, color=COLORS["xva"], lw=1.5, ls="--", label=plain(risky_label))
        for (label, v), c in zip(extra, shades, strict=False):
            ax.plot(xv, v, color=c, lw=1.2, ls=":", label=plain(label))
        ax.set_ylabel("value")
        ax.legend(loc="best")
        ax.set_title(plain(title) if title else "Risky vs risk-free value")
        ax2.fill_between(xv, 0, rk - rf, color=COLORS["xva"], alpha=0.3, lw=0)
        ax2.plot(xv, rk - rf, color=COLORS["xva"], lw=1.0)
        for (_, v), c in zip(extra, shades, strict=False):
            ax2.plot(xv, v - rf, color=c, lw=1.2, ls=":")
        ax2.axhline(0, color="#999999", lw=0.7)
        ax2.set_ylabel("XVA")
        ax2.set_xlabel(plain(xlabel))
        _adjust(fig, nrows=2, left=0.85, hgap=0.12)
    return fig


# ----- sparklines (plain SVG, no matplotlib) ------------------------------------------------------
def sparkline_svg(
    values: Sequence[float | None], width: int = 110, height: int = 26, title: str = "",
    bad_last: bool = False, log: bool = False,
) -> str:
    """A small inline SVG line of ``values`` (oldest first; ``None`` = gap), last point marked
    (red when ``bad_last``). ``log``: plot log10 of positive values. Returns ``""`` when fewer
    than one finite value exists. ``title`` becomes a tooltip (escaped)."""
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
    tip = f"<title>{escape(title)}</title>" if title else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img">{tip}{lines}{dot}</svg>')
