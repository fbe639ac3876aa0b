"""The evaluation report: one self-contained ``report.html`` per run directory.

Input: a run directory as described in ``docs/run-format.md`` (``metrics.json`` schema_version 1,
``config.yaml``, ``arrays/<scenario>.npz``). Output: ``report.html`` beside them, with every
figure embedded as a base64 PNG (sparklines as inline SVG), no scripts and no external resource,
so it opens offline and in mail clients.

Layout: a summary first (one row per scenario with key errors, status, change since the previous
run of the same name, a sparkline over the last runs, regressions flagged), then one section per
scenario (learning curves, slices, PINN results, XVA, provenance; each part only when its data
exists), then the run's provenance and resolved configuration.

Optional arrays read from ``arrays/<scenario>.npz`` besides the required ``x_test``, ``ref_price``,
``ref_grad`` and ``pred_price_<mode>`` / ``pred_grad_<mode>``:

* ``pinn_price`` (n,), ``pinn_grad`` (n, d): the PINN at ``x_test`` (Greeks slices, error table);
  ``pinn_ref_price`` (n,), ``pinn_ref_grad`` (n, d): what the PINN is compared with when that is not
  ``ref_price`` (the FD cross-check of a PINN reference, or the risky reference of a scenario
  whose surrogate learns the risk-free value); ``fd_price``, ``fd_grad``, ``fd_gamma``: the FD
  cross-check of a PINN reference;
* ``pinn_grid_x`` (nx,), ``pinn_grid_y`` (ny,) with ``pinn_grid_pred`` and ``pinn_grid_ref``
  (ny, nx) or ``pinn_grid_error`` (ny, nx): the 2D error heatmap (axes: the first two inputs);
* ``xva_x`` (n,) or (n, d), ``xva_risk_free`` (n,), ``xva_risky`` (n,): risky vs risk-free curves
  (risky by the reference method); ``xva_risky_<method>`` (n,): the risky value by a PDE
  cross-check (e.g. ``xva_risky_fd`` beside a PINN reference), drawn beside it;
* ``backward_price`` (n,), ``backward_grad`` (n, d): the backward regression's risky value at
  ``x_test`` (t = 0), ``backward_ref_price`` / ``backward_ref_grad``: the risky reference of its
  table (the FD, else the PINN), ``backward_exposure_<name>`` (N + 1,) for ``times``, ``epe``,
  ``ene``, ``epe_se``, ``ene_se``, ``pfe``, ``mean``: the exposure profile (the section's figures;
  its table comes from the scenario's ``backward`` block in metrics.json).

Command line: ``python -m evaluation.report RUN_DIR [--history N] [--tolerance T] [--output F]``
(``diffml report RUN_DIR`` calls :func:`build_report`).

Matplotlib is imported only when figures are drawn, so ``compare`` / ``prefect_markdown`` stay
cheap for the pipeline; Prefect is never imported here.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import math
import os
import re
import stat
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from . import _tables as tables
from .metrics import learning_curve_summary
from .trend import (
    DEFAULT_TOLERANCE,
    STAMP_RE,
    compare,
    find_previous_runs,
    get_metric,
    load_metrics,
    metric_ratio,
    metric_series,
    split_run_dir,
)

__all__ = ["DEFAULT_HISTORY", "build_report", "main", "prefect_markdown", "primary_metric"]

log = logging.getLogger(__name__)

#: Default number of previous runs shown in the trend sparklines.
DEFAULT_HISTORY = 10

#: Tables list per-input Greek RMSEs up to this many inputs, then the worst input.
MAX_TABLE_INPUTS = tables.MAX_TABLE_INPUTS

_TEMPLATES = Path(__file__).parent / "templates"


# ----- formatting --------------------------------------------------------------------------------
_finite = tables.finite  # a real number (not a bool), finite


def _log(v: Any) -> str:
    return f"{v:.2f}" if _finite(v) else ("nan" if isinstance(v, float) else "—")


def _num(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"


def _seconds(v: Any) -> str:
    if not _finite(v):
        return "—"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _matrix(v: Any) -> list[list[Any]] | None:
    """``v`` as the rows of a matrix of numbers (at least 2 × 2, rectangular), else ``None``."""
    if not (isinstance(v, (list, tuple)) and len(v) > 1):
        return None
    rows = [r for r in v if isinstance(r, (list, tuple)) and len(r) == len(v[0]) > 1
            and all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in r)]
    return [list(r) for r in rows] if len(rows) == len(v) else None


def _value(v: Any) -> str:
    """Parameter values: numbers to 4 significant digits, vectors as ``[a, b]``, matrices (a
    correlation) as a small HTML table (markup), other containers as compact JSON, None as a
    dash."""
    if v is None:
        return "—"
    rows = _matrix(v)
    if rows is not None:
        from markupsafe import Markup

        body = "".join("<tr>" + "".join(f'<td class="num">{_num(e)}</td>' for e in r) + "</tr>"
                       for r in rows)
        return Markup(f'<table class="matrix">{body}</table>')  # numbers only: nothing to escape
    if (isinstance(v, (list, tuple)) and v
            and all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in v)):
        return "[" + ", ".join(_num(e) for e in v) + "]"
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, separators=(", ", ": "), default=str)
    return _num(v)


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, str]]:
    if not isinstance(d, Mapping):
        return [(prefix or "value", _value(d))]
    out: list[tuple[str, str]] = []
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            out.extend(_flatten(v, key))
        else:
            out.append((key, _value(v)))
    return out


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def primary_metric(scenario: Mapping[str, Any] | None) -> str | None:
    """The metric the summary's change column and sparkline follow for a scenario: the
    differential value RMSE, else the standard one, else the PINN's log10 relative L2 error."""
    for path in ("summary.value_rmse.differential.mean", "summary.value_rmse.standard.mean",
                 "pinn.log10_rel_l2"):
        if scenario is not None and get_metric(scenario, path) is not None:
            return path
    return None


def _change(path: str | None, cur: Any, prev: Mapping[str, Any] | None,
            tol: float) -> dict[str, str]:
    if path is None or prev is None:
        return {"text": "—", "css": "same", "title": "no previous value"}
    p = get_metric(prev, path)
    c = get_metric(cur, path)
    if p is None or c is None or not (math.isfinite(p) and math.isfinite(c)):
        return {"text": "—", "css": "same", "title": "no comparable previous value"}
    ratio = metric_ratio(path, p, c)
    pct = 100 * (ratio - 1)
    css = "worse" if ratio > tol else "better" if ratio < 1 / tol else "same"
    text = "±0%" if abs(pct) < 0.5 else f"{pct:+.0f}%"
    return {"text": text, "css": css, "title": f"{path}: {p:.4g} → {c:.4g} (×{ratio:.3g})"}


# ----- figures -----------------------------------------------------------------------------------
class _Figures:
    """Draws figures, turning a failure into a report warning instead of a missing report."""

    def __init__(self, dpi: int) -> None:
        from . import plots

        self.plots = plots
        self.dpi = dpi
        self.warnings: list[str] = []

    def axis(self, sid: str, x: np.ndarray, inputs: Sequence[str],
             parameters: Any) -> Any:
        """The axis slices and XVA curves are drawn along (``plots.slice_axis``), or ``None``
        (the figures' default) with a warning."""
        try:
            return self.plots.slice_axis(x, inputs, parameters)
        except Exception as exc:  # the figures fall back to their default axis
            self.warnings.append(f"{sid}: slice axis failed ({type(exc).__name__}: {exc})")
            return None

    def png(self, what: str, draw: Callable[[], Any]) -> str | None:
        try:
            fig = draw()
            return _data_uri(self.plots.to_png(fig, dpi=self.dpi))
        except Exception as exc:  # a broken figure must not lose the whole nightly report
            log.warning("report figure %s failed: %s", what, exc)
            self.warnings.append(f"{what}: figure failed ({type(exc).__name__}: {exc})")
            return None


def _axis_caption(axis: Any) -> str:
    """How slices are drawn, for their caption."""
    if axis is None:
        return "."
    text = f", {axis.note}" if axis.note else ""
    if axis.curve:
        return text + "; the error as a filled curve."
    return text + "; bands: min–max of the error in bins along the axis, line: median."


#: A scenario id as the configuration allows it (no path separators: the arrays file of a
#: forwarded metrics.json stays inside its run directory).
_SCENARIO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.]{0,59}")
#: Largest arrays file read, uncompressed (its members' sizes from the zip directory, before
#: any is loaded: a small compressed file can expand to gigabytes).
MAX_ARRAYS_BYTES = 512 * 2**20
#: Largest config.yaml read and shown.
MAX_CONFIG_BYTES = 2**20


def _read_regular(path: Path, limit: int) -> str:
    """The text of ``path`` when it is a regular file (not a link: a received run directory
    could point it at any file of the reader's) of at most ``limit`` bytes, else ""."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return ""
        raw = f.read(limit + 1)
    return "" if len(raw) > limit else raw.decode("utf-8", errors="replace")


def _load_arrays(run_dir: Path | None, sid: str, warnings: list[str]) -> dict[str, np.ndarray]:
    if run_dir is None:
        return {}
    if not _SCENARIO_ID.fullmatch(sid):
        warnings.append(f"{sid[:80]!r}: not a scenario id; its arrays are not read")
        return {}
    path = run_dir / "arrays" / f"{sid}.npz"
    if path.is_symlink() or path.parent.is_symlink():
        warnings.append(f"{sid}: {path.name} or its folder is a symbolic link; not read")
        return {}
    if not path.is_file():
        return {}
    try:
        import zipfile

        with zipfile.ZipFile(path) as zf:
            size = sum(i.file_size for i in zf.infolist())
        if size > MAX_ARRAYS_BYTES:
            warnings.append(f"{sid}: {path.name} would expand to {size / 2**20:.0f} MiB (at "
                            f"most {MAX_ARRAYS_BYTES // 2**20} MiB); not read")
            return {}
        with np.load(path, allow_pickle=False) as z:
            return {k: np.asarray(z[k]) for k in z.files}
    except Exception as exc:
        warnings.append(f"{sid}: cannot read {path.name} ({type(exc).__name__}: {exc})")
        return {}


def _as_2d(x: np.ndarray, n: int) -> np.ndarray:
    return np.asarray(x, dtype=float).reshape(n, -1)


def _pinn_grad(arrays: Mapping[str, np.ndarray], n: int, d: int) -> np.ndarray | None:
    """The PINN's gradient (n, d) at ``x_test``: ``pinn_grad``, else ``pinn_delta`` ((n, d), or
    (n,) for d = 1), or for Heston (spot, variance) ``pinn_delta`` and ``pinn_vega`` = dV/dv."""
    if "pinn_grad" in arrays:
        return np.asarray(arrays["pinn_grad"], dtype=float).reshape(n, -1)
    if "pinn_delta" not in arrays:
        return None
    delta = np.asarray(arrays["pinn_delta"], dtype=float).reshape(n, -1)
    if delta.shape[1] == d:
        return delta
    if delta.shape[1] == 1 and d == 2 and "pinn_vega" in arrays:
        return np.column_stack([delta[:, 0], np.asarray(arrays["pinn_vega"], float).reshape(n)])
    out = np.full((n, d), np.nan)
    out[:, : min(d, delta.shape[1])] = delta[:, :d]
    return out


def _grid_error(arrays: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """PINN − reference on the heatmap grid: ``pinn_grid_error`` (or ``pinn_grid_err``), else
    ``pinn_grid_pred - pinn_grid_ref``; ``None`` without a grid."""
    if not {"pinn_grid_x", "pinn_grid_y"} <= arrays.keys():
        return None
    for key in ("pinn_grid_error", "pinn_grid_err"):
        if key in arrays:
            return np.asarray(arrays[key], dtype=float)
    if {"pinn_grid_pred", "pinn_grid_ref"} <= arrays.keys():
        return np.asarray(arrays["pinn_grid_pred"], float) - np.asarray(arrays["pinn_grid_ref"],
                                                                          float)
    return None


def _test_errors(arrays: Mapping[str, np.ndarray], modes: Sequence[str], inputs: Sequence[str],
                 sc: Mapping[str, Any], pinn_against: str | None = None) -> dict[str, Any]:
    """Test-set error rows per predictor (:func:`evaluation._tables.test_errors`). The PINN row
    is scored against ``pinn_ref_price`` / ``pinn_ref_grad`` where present (named
    ``pinn_against`` in the row), else against ``ref_price`` like the surrogates."""
    ref0 = np.asarray(arrays["ref_price"], dtype=float)
    n = ref0.shape[0]
    rg0 = _as_2d(arrays["ref_grad"], n) if "ref_grad" in arrays else None
    pinn = None
    if "pinn_price" in arrays:
        d = np.asarray(arrays["x_test"]).reshape(n, -1).shape[1]
        if "pinn_ref_price" in arrays:
            pref = np.asarray(arrays["pinn_ref_price"], dtype=float)
            prg = _as_2d(arrays["pinn_ref_grad"], n) if "pinn_ref_grad" in arrays else None
            if rg0 is not None and (prg is None or prg.shape != rg0.shape):
                prg = np.full(rg0.shape, np.nan)
            name = f"PINN (vs {pinn_against or 'its own reference'})"
        else:
            pref, prg, name = ref0, rg0, "PINN"
        pinn = (name, arrays["pinn_price"], _pinn_grad(arrays, n, d), pref, prg)
    return tables.test_errors(arrays, modes, inputs, sc, pinn)


def _section_or_status(
    idx: int, sid: str, sc: Mapping[str, Any], run_dir: Path, figs: _Figures,
    prev: Mapping[str, Any] | None, series: list[Mapping[str, Any]], tol: float,
    flagged: set[str],
) -> dict[str, Any]:
    """The scenario's section; where a malformed entry of a received metrics.json breaks it, a
    warning and the section of its status, label and error alone (the rest of the report
    stands)."""
    try:
        return _scenario_section(idx, sid, sc, run_dir, figs, prev, series, tol, flagged)
    except Exception as exc:  # noqa: BLE001 - one scenario must not lose the whole report
        figs.warnings.append(f"{sid}: section failed ({type(exc).__name__}: {exc}); only its "
                             "status, label and error are shown")
        bare = {k: sc[k] for k in ("status", "error", "label") if k in sc}
        return _scenario_section(idx, sid, bare, None, figs, None, [], tol, flagged)


def _scenario_section(
    idx: int, sid: str, sc: Mapping[str, Any], run_dir: Path | None, figs: _Figures,
    prev: Mapping[str, Any] | None, series: list[Mapping[str, Any]], tol: float,
    flagged: set[str],
) -> dict[str, Any]:
    plots = figs.plots
    status = str(sc.get("status", "ok"))
    inputs = [str(x) for x in (sc.get("inputs") or [])]
    label = str(sc.get("label") or "")
    s: dict[str, Any] = {"id": sid, "anchor": f"s{idx}", "label": label, "status": status,
                         "error": sc.get("error"), "inputs": inputs, "flagged": sid in flagged}
    pinn = sc.get("pinn") or None
    status_text, status_short = _pinn_status(pinn) if pinn else ("", "")
    s["key"] = {**tables.key_cells(sc),
                "pinn_l2": _log(pinn.get("log10_rel_l2")) if pinn else "—",
                # not a headline: the base function already is (nearly) the exact answer
                "pinn_note": _not_headline(pinn) if pinn else "",
                "pinn_status": status_short, "pinn_status_text": status_text}
    s["checks"] = [tables.check_row(c, inputs) for c in
                   ((sc.get("checks") or {}).get("results") or [])
                   if isinstance(c, Mapping)] if isinstance(sc.get("checks"), Mapping) else []
    s["checks_note"] = _checks_note(sc)
    s["checks_tolerance"] = (sc.get("checks") or {}).get("tolerance") \
        if isinstance(sc.get("checks"), Mapping) else None
    s["moneyness"] = tables.moneyness_table(sc, inputs)
    s["hedging"] = tables.hedging_table(sc)
    ref = sc.get("reference") or {}
    s["reference_method"] = ref.get("method", "—") if ref else "—"
    s["reference_text"] = _reference_text(ref)
    s["label_note"] = _label_note(label, ref)
    s["spreads"] = _xva_spreads(sc.get("parameters"))
    s["spreads_text"] = _spreads_text(s["spreads"])
    sp = s["spreads"]
    s["spreads_short"] = (f"XVA: c₊ {_num(sp['c_pos'])}, c₋ {_num(sp['c_neg'])} (s_F "
                          f"{_num(sp['s_f'])}{', default (1 − R_B) λ_B' if sp['default'] else ''})"
                          if sp else "")
    surrogate = ref.get("surrogate") if isinstance(ref, Mapping) else None
    s["surrogate_note"] = ""
    if isinstance(surrogate, Mapping) and surrogate.get("risk_free"):
        s["surrogate_note"] = (f"surrogates learn the risk-free value (reference: "
                               f"{surrogate.get('method', '—')})")
    path = primary_metric(sc) if status == "ok" else None
    s["change"] = _change(path, sc, prev, tol)
    s["spark"] = ""
    if path is not None and len(series) > 1:
        values = metric_series(series, sid, path)
        is_log = path.startswith("pinn.log10")
        vals = [10.0 ** min(v, 308.0) if (v is not None and is_log) else v for v in values]
        s["spark"] = plots.sparkline_svg(
            vals, log=True, bad_last=sid in flagged,
            title=f"{sid}: {path}, last {len(vals)} runs (oldest first), log scale")

    # learning curves
    lc = sc.get("learning_curve") or []
    s["learning_curve"] = None
    if lc:
        pts = learning_curve_summary(lc)
        unit_spot = tables.unit_spot(sc)
        src = figs.png(f"{sid} learning curves", lambda: plots.learning_curve_figure(
            pts, inputs, sc.get("mc_noise"), unit_spot=unit_spot))
        table = tables.learning_curve_table(sc, inputs)
        d = max((len(p.delta_mean) for p in pts), default=0)
        s["learning_curve"] = ({"src": src, "unit_spot": unit_spot, **table,
                                "pooled": d if d > plots.MAX_DELTA_PANELS else 0}
                               if table else None)

    # arrays: slices, test errors, PINN greeks and maps, XVA
    arrays = _load_arrays(run_dir, sid, figs.warnings)
    s["slices"] = None
    s["test_errors"] = None
    s["n_test"] = None
    has_ref = "x_test" in arrays and "ref_price" in arrays
    modes = sorted({k[len("pred_price_"):] for k in arrays if k.startswith("pred_price_")},
                   key=lambda m: (m != "standard", m))
    if has_ref:
        x = np.asarray(arrays["x_test"], dtype=float)
        if x.ndim == 0 or x.shape[0] == 0:
            figs.warnings.append(f"{sid}: x_test holds no test point (shape {x.shape}); the "
                                 "test-set sections are left out")
            has_ref = False
    if has_ref:
        n = x.shape[0]
        x = x.reshape(n, -1)
        s["n_test"] = n
        rg = arrays.get("ref_grad")
        axis = figs.axis(sid, x, inputs, sc.get("parameters"))
        if modes:
            preds = {m: (arrays[f"pred_price_{m}"], arrays.get(f"pred_grad_{m}")) for m in modes}
            src = figs.png(f"{sid} slices", lambda: plots.slices_figure(
                x, arrays["ref_price"], rg, preds, inputs, axis=axis))
            if src:
                cap = ("Prices and deltas of the surrogates (largest training size, seed 0) and "
                       "the reference; lower panels: prediction − reference")
                if s["surrogate_note"]:
                    cap = cap.replace("the reference", "the risk-free reference", 1)
                cap += _axis_caption(axis)
                s["slices"] = {"src": src, "caption": cap}
        try:
            s["test_errors"] = _test_errors(arrays, modes, inputs, sc,
                                            (pinn or {}).get("compared_with"))
        except Exception as exc:
            figs.warnings.append(f"{sid}: test-set errors failed ({type(exc).__name__}: {exc})")

    s["pinn"] = None
    gerr = _grid_error(arrays)
    if pinn or "pinn_price" in arrays or gerr is not None:
        p = pinn or {}
        faces = p.get("faces")
        out: dict[str, Any] = {
            "variant": p.get("variant", "—"),
            "base": ("—" if "base" not in p else "none (hard initial condition)"
                     if p["base"] is None else str(p["base"])) + _base_caveat(p),
            "faces": (", ".join(f"{k}: {v}" for k, v in faces.items())
                      if isinstance(faces, Mapping) and faces else "—"),
            "role": ("the scenario's reference" if p.get("reference") else "a PDE reference "
                     "beside the scenario's"),
            "against": _against_text(p, s["reference_method"]),
            "l1": _log(p.get("log10_rel_l1")),
            "l2": _log(p.get("log10_rel_l2")), "linf": _log(p.get("log10_rel_linf")),
            "train_seconds": (_seconds(p["train_seconds"]) + " s") if _finite(
                p.get("train_seconds")) else "—",
            "status": status_text, "not_headline": _not_headline(p),
            "faces_note": _faces_note(faces, inputs), "loss_caption": "",
            "at_points": [{"point": _value(a.get("point")), "price": _num(a.get("price_rel_err")),
                           "delta": _num(a.get("delta_rel_err"))}
                          for a in (p.get("at_points") or [])],
            "error_map": None, "map_relative": "pinn_grid_ref" in arrays, "loss": None,
            "greeks": None, "vs_fd": _vs_fd_rows(p.get("vs_fd"), inputs),
            "by_tau": _by_tau_rows(p.get("vs_fd")),
        }
        if gerr is not None:
            gref = arrays.get("pinn_grid_ref")
            xl = inputs[0] if inputs else "x1"
            yl = inputs[1] if len(inputs) > 1 else "x2"
            out["error_map"] = figs.png(
                f"{sid} PINN error map", lambda: plots.pinn_error_map_figure(
                    arrays["pinn_grid_x"], arrays["pinn_grid_y"], gerr, gref, xl, yl))
        hist = p.get("history")
        if isinstance(hist, Mapping) and any(len(v or []) for k, v in hist.items() if k != "step"):
            out["loss"] = figs.png(f"{sid} PINN loss", lambda: plots.loss_history_figure(hist))
            out["loss_caption"] = _loss_caption(hist, faces) + (
                f" Face names are {out['faces_note']}." if out["faces_note"] else "")
        if has_ref and "pinn_price" in arrays:
            own = "pinn_ref_price" in arrays
            out["greeks_against"] = _greeks_against(p, own, s["reference_method"])
            out["greeks"] = figs.png(f"{sid} PINN Greeks", lambda: plots.slices_figure(
                x, arrays["pinn_ref_price" if own else "ref_price"],
                arrays.get("pinn_ref_grad" if own else "ref_grad"),
                {"PINN": (arrays["pinn_price"], _pinn_grad(arrays, x.shape[0], x.shape[1]))},
                inputs, axis=axis))
        s["pinn"] = out

    s["xva"] = None
    if {"xva_x", "xva_risk_free", "xva_risky"} <= arrays.keys():
        xv = np.asarray(arrays["xva_x"], float)
        xva_axis = figs.axis(sid, xv, inputs, sc.get("parameters"))
        at = xva_axis.note if xva_axis is not None else ""
        main = _METHOD_LABELS.get(s["reference_method"], s["reference_method"])
        extra = [(_METHOD_LABELS.get(k[len("xva_risky_"):], k[len("xva_risky_"):]),
                  np.asarray(arrays[k], float)) for k in sorted(arrays)
                 if k.startswith("xva_risky_")]
        src = figs.png(f"{sid} XVA", lambda: plots.xva_figure(
            xv, arrays["xva_risk_free"], arrays["xva_risky"], inputs[0] if inputs else "x",
            risky_label=f"risky ({main})",
            others={f"risky ({name})": v for name, v in extra}, axis=xva_axis))
        try:
            rows = _xva_rows(arrays, main, extra)
        except (TypeError, ValueError) as exc:  # arrays of other shapes or not numbers
            figs.warnings.append(f"{sid}: XVA table failed ({type(exc).__name__}: {exc})")
            rows = []
        s["xva"] = {"src": src, "at": at, "rows": rows, "risky": main,
                    "surrogate_note": s["surrogate_note"]} if src else None

    s["backward"] = None
    bw = sc.get("backward")
    if isinstance(bw, Mapping):
        try:
            s["backward"] = _backward_section(sid, bw, arrays, inputs, sc.get("parameters"),
                                              figs)
        except Exception as exc:  # a malformed block must not lose the whole report
            figs.warnings.append(f"{sid}: backward section failed ({type(exc).__name__}: "
                                 f"{exc})")

    # provenance
    params = sc.get("parameters") or {}
    s["parameters"] = _with_spreads(_flatten(params), s["spreads"]) if params else []
    ds = sc.get("dataset") or {}
    s["dataset"] = [(k, _value(v)) for k, v in ds.items()] if ds else []
    s["reference"] = ([(k, _value(v)) for k, v in ref.items() if k != "cross_checks"]
                      + _flatten(ref.get("cross_checks") or {}, "cross_checks")
                      if ref else [])
    s["stages"] = [(k, _seconds(v)) for k, v in (sc.get("stage_seconds") or {}).items()]
    s["stages_note"] = ""
    if pinn and pinn.get("reference") and "pinn" in (sc.get("stage_seconds") or {}):
        s["stages_note"] = (f"The PINN is this scenario's reference: its training "
                            f"({_seconds(pinn.get('train_seconds'))} s) is counted in "
                            "reference (s); pinn (s) is only its comparison with the FD "
                            "cross-check.")
    s["models"] = [(k, _value(v)) for k, v in (sc.get("models") or {}).items()]
    return s


_METHOD_LABELS = {"pinn": "PINN", "fd": "FD", "analytic": "closed form"}

#: The backward table's row names (``backward.rows[].key``), as the report shows them.
_BACKWARD_ROWS = {
    "backward": "backward regression (risky)",
    "pinn": "PINN (risky)",
    "fd": "FD (risky, reference)",
    "risk_free": "risk-free",
    "surrogate": "risk-free differential surrogate",
    "linear_positive": "e^(−c₊T) V_rf",
    "linear_negative": "e^(−c₋T) V_rf",
    "split": "e^(−c₊T) V_rf(P) − e^(−c₋T) V_rf(N)",
    "cva_dva": "V_rf − CVA + DVA − FVA (risk-free close-out, today's state only)",
}


def _backward_note(row: Mapping[str, Any], bw: Mapping[str, Any]) -> str:
    """What a row of the backward table is, in words (the exactness of e^(−cT) V_rf stated
    where the payoff's sign makes it exact)."""
    key = row.get("key")
    settings = bw.get("settings") if isinstance(bw.get("settings"), Mapping) else {}
    if key == "backward":
        how = "read from the cache" if bw.get("reused") else "trained in this run"
        return (f"{settings.get('dates', '?')} dates × {settings.get('paths_per_date', '?')} "
                f"paths per date, {settings.get('scheme', '?')}; {how}")
    if key == "fd":
        return "finite differences of the XVA PDE: the table's reference" \
            if bw.get("compared_with") == "fd" else "finite differences of the XVA PDE"
    if key == "pinn":
        return "the table's reference (no FD for this pair)" \
            if bw.get("compared_with") == "pinn" else "physics-informed network, XVA PDE"
    if key == "risk_free":
        method = _METHOD_LABELS.get(str(bw.get("risk_free_method")), bw.get("risk_free_method"))
        return f"no XVA ({method})"
    if key == "surrogate":
        m = row.get("paths")
        size = f", {m:,} paths" if isinstance(m, int) else ""
        return (f"the scenario's twin network{size}: it learns V_rf (no path label has the "
                "risky value as its mean)")
    if key in ("linear_positive", "linear_negative"):
        c = row.get("spread")
        sign = "≥ 0" if key == "linear_positive" else "≤ 0"
        spread = f"c = {c:.4g}" if _finite(c) else "c"
        if row.get("exact"):
            return (f"exact: this payoff stays {sign}, so its risky value is e^(−cτ)·V_rf "
                    f"({spread})")
        return f"the risky value if the value stayed {sign} ({spread}); not exact here"
    if key == "split":
        return ("free: the payoff's positive part P and negative part N, each priced "
                "risk-free and discounted by its own spread; exact if the value never changed "
                "sign along a path")
    if key == "cva_dva":
        ex = bw.get("exposure") if isinstance(bw.get("exposure"), Mapping) else {}
        se = ex.get("standard_errors") if isinstance(ex.get("standard_errors"), Mapping) else {}
        return (f"at today's state {_value(ex.get('state'))}: CVA {_with_se(ex, se, 'cva')}, "
                f"DVA {_with_se(ex, se, 'dva')}, FVA {_with_se(ex, se, 'fva')} from the "
                "exposure profile of the risk-free surrogate"
                + (" (± one Monte-Carlo standard error of the outer paths)" if se else ""))
    return ""


def _with_se(values: Mapping[str, Any], errors: Mapping[str, Any], key: str) -> str:
    """``value ± standard error`` (the value alone when no error was recorded)."""
    se = errors.get(key)
    return _num(values.get(key)) + (f" ± {_num(se)}" if _finite(se) else "")


def _backward_section(sid: str, bw: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                      inputs: Sequence[str], parameters: Any, figs: _Figures
                      ) -> dict[str, Any]:
    """The backward regression's table (every row against the table's reference: relative RMS
    of the value and of each state Greek, log10 relative L2, seconds), today's values, the
    exposure profile and the risky value along the slice axis."""
    from .metrics import greek_name

    against = bw.get("compared_with")
    names = [str(n) for n in (bw.get("inputs") or inputs)]
    other = next((m for m in (bw.get("references") or []) if m != against), None)
    rows = []
    for row in bw.get("rows") or []:
        if not isinstance(row, Mapping):
            continue
        key = str(row.get("key"))
        vs = row.get("vs") if isinstance(row.get("vs"), Mapping) else {}
        e = vs.get(against) if isinstance(vs.get(against), Mapping) else None
        is_ref = key == against
        gr = (e or {}).get("greek_relative") if isinstance((e or {}).get("greek_relative"),
                                                           Mapping) else {}
        o = vs.get(other) if other and isinstance(vs.get(other), Mapping) else None
        rows.append({
            "name": _BACKWARD_ROWS.get(key, str(row.get("label", key))),
            "key": key, "reference": is_ref,
            "value": "reference" if is_ref else tables.pct((e or {}).get("value_relative")),
            "greeks": ["reference" if is_ref else "—" if row.get("today_only")
                       else tables.pct(gr.get(n)) for n in names],
            "l2": "—" if is_ref else _log((e or {}).get("log10_rel_l2")),
            "other": "—" if o is None else tables.pct(o.get("value_relative")),
            "seconds": _seconds(row.get("seconds")),
            "note": _backward_note(row, bw),
            "exact": bool(row.get("exact")),
        })
    out: dict[str, Any] = {
        "against": _METHOD_LABELS.get(str(against), against) if against else None,
        "other": _METHOD_LABELS.get(str(other), other) if other else None,
        "greek_names": [greek_name(n) for n in names], "rows": rows,
        "train_seconds": _seconds(bw.get("train_seconds")),
        "reused": bool(bw.get("reused")), "xva": bool(bw.get("xva")),
        "today": [], "exposure": None, "value": None, "history": [],
    }
    ex = bw.get("exposure") if isinstance(bw.get("exposure"), Mapping) else None
    if ex is not None:
        today = ex.get("today") if isinstance(ex.get("today"), Mapping) else {}
        vals = today.get("values") if isinstance(today.get("values"), Mapping) else {}
        errs = today.get("errors") if isinstance(today.get("errors"), Mapping) else {}
        rf_method = _METHOD_LABELS.get(str(bw.get("risk_free_method")),
                                       bw.get("risk_free_method"))
        labels = {"backward": "backward regression (risky)",
                  "risk_free": f"risk-free ({rf_method})",
                  "risk_free_surrogate": "risk-free, backward regression without XVA",
                  "linear_positive": "e^(−c₊T) V_rf", "linear_negative": "e^(−c₋T) V_rf",
                  "cva_dva": "V_rf − CVA + DVA − FVA",
                  "first_order": "first order: V_rf − ∫D (b EPE + a ENE) dt (funding included)"}
        ref_method = today.get("reference_method")
        if _finite(today.get("reference")):
            out["today"].append({"name": f"{_METHOD_LABELS.get(ref_method, ref_method)} "
                                 "(risky, reference)", "value": _num(today["reference"]),
                                 "rel": "reference"})
        for k, label in labels.items():
            if k in vals:
                err = errs.get(k) if isinstance(errs.get(k), Mapping) else {}
                out["today"].append({"name": label, "value": _num(vals[k]),
                                     "rel": tables.pct(err.get("value_relative"))})
        out["state"] = _value(ex.get("state"))
        se = ex.get("standard_errors") if isinstance(ex.get("standard_errors"), Mapping) else {}
        out["cva"], out["dva"] = _with_se(ex, se, "cva"), _with_se(ex, se, "dva")
        out["paths"], out["quantile"] = _num(ex.get("paths")), _num(ex.get("quantile"))
        keys = [f"backward_exposure_{k}" for k in ("times", "epe", "ene", "epe_se", "ene_se",
                                                   "pfe")]
        if all(k in arrays for k in keys):
            q = ex.get("quantile")
            out["exposure"] = figs.png(f"{sid} exposure profile", lambda: figs.plots.
                                       exposure_figure(*(arrays[k] for k in keys),
                                                       quantile=float(q) if _finite(q)
                                                       else 0.975))
    if {"x_test", "backward_price", "backward_ref_price"} <= arrays.keys():
        x = np.asarray(arrays["x_test"], dtype=float)
        x = x.reshape(len(x), -1)
        axis = figs.axis(sid, x, list(inputs), parameters)
        preds: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
            "backward (risky)": (arrays["backward_price"], arrays.get("backward_grad"))}
        colors = {"backward (risky)": figs.plots.COLORS["backward"],
                  "PINN (risky)": figs.plots.COLORS["pinn"]}
        if "pinn_price" in arrays and against != "pinn":
            preds["PINN (risky)"] = (arrays["pinn_price"], _pinn_grad(arrays, x.shape[0],
                                                                       x.shape[1]))
        ref_label = f"{out['against'] or 'reference'} (risky)"
        out["value"] = figs.png(f"{sid} backward value", lambda: figs.plots.slices_figure(
            x, arrays["backward_ref_price"], arrays.get("backward_ref_grad"), preds,
            list(inputs), axis=axis, colors=colors, reference_label=ref_label))
        out["value_caption"] = _axis_caption(axis)
    for h in bw.get("history") or []:
        if isinstance(h, Mapping):
            out["history"].append({
                "date": _num(h.get("date")), "time": _num(h.get("time")),
                "paths": _num(h.get("paths")), "seconds": _seconds(h.get("seconds")),
                "r2_value": _num(h.get("r2_value")), "r2_gradient": _num(h.get("r2_gradient")),
                "mean": _num(h.get("mean_value")),
                "negative": tables.pct(h.get("negative_share"))})
    return out


def _base_caveat(p: Mapping[str, Any]) -> str:
    """What the base function leaves to the network, where the exact answer is known: with a
    one-signed payoff the exact risky value is e^{-c tau} times the risk-free base (risk-free:
    the base itself), so the network learns a function of tau only; not a headline."""
    if p.get("base") not in ("risk_free", "split") or p.get("payoff_sign") not in (1, -1):
        return ""
    if not p.get("xva"):
        return " (one-signed, risk-free: the base is the exact answer)"
    return " (one-signed: the exact answer is e^(−cτ) × base; the network learns a function of τ)"


def _not_headline(p: Mapping[str, Any]) -> str:
    """The summary's label of a PINN whose exact answer is its base function (times e^(−cτ)
    under an XVA; :func:`_base_caveat`): its error is not a headline. '' otherwise."""
    if not _base_caveat(p):
        return ""
    base = "closed form" if p.get("base") == "risk_free" else "base"
    if p.get("xva"):
        return f"e^(−cτ)·{base} (exact base): not a headline"
    return f"the {base} itself (exact base): not a headline"


#: How a PINN run ended (metrics ``pinn.status``, :class:`training.pinn.PINNStatus`).
_PINN_STATUS = {"completed": "completed", "converged": "converged (L-BFGS stalled)",
                "diverged": "diverged (non-finite loss)"}


def _int(v: Any) -> int | None:
    return int(v) if _finite(v) and float(v) == int(v) else None


def _pinn_status(p: Mapping[str, Any]) -> tuple[str, str]:
    """How the PINN's training ended, in words, and a short marker for the summary ('' when it
    completed or converged): e.g. ``stopped at the 90 s time limit after 440 of 1500 gradient
    steps (Adam + L-BFGS); 2 of 3 least-squares rounds of the output layer accepted``. Steps
    from metrics ``steps`` / ``planned_steps`` (else the loss history's last step),
    ``lstsq_rounds`` / ``planned_lstsq_rounds`` and ``time_limit``, where recorded."""
    status = p.get("status")
    if not status:
        return "", ""
    status = str(status)
    if status == "time_limit":
        limit = p.get("time_limit")
        head = (f"stopped at the {limit:g} s time limit" if _finite(limit)
                else "stopped by its time limit")
        short = "stopped at its time limit"
    else:
        head = _PINN_STATUS.get(status, status)
        short = "diverged" if status == "diverged" else "" if status in _PINN_STATUS else status
    steps, planned = _int(p.get("steps")), _int(p.get("planned_steps"))
    hist = p.get("history") if isinstance(p.get("history"), Mapping) else {}
    last = [v for v in (hist.get("step") or []) if _finite(v)]
    if steps is not None:
        head += (f" after {steps} of {planned} gradient steps (Adam + L-BFGS)"
                 if planned is not None else f" after {steps} gradient steps")
    elif last:
        head += (f" after step {int(last[-1])} of its loss history (planned steps not "
                 "recorded in this run)")
    rounds, planned_rounds = _int(p.get("lstsq_rounds")), _int(p.get("planned_lstsq_rounds"))
    if planned_rounds:
        head += (f"; {rounds if rounds is not None else '?'} of {planned_rounds} least-squares "
                 "rounds of the output layer accepted")
    if short and steps is not None and planned is not None:
        short += f" ({steps} of {planned} steps)"
    return head, short


def _against_text(p: Mapping[str, Any], method: str) -> str:
    """What the PINN is compared with, in words."""
    against = p.get("compared_with")
    name = _METHOD_LABELS.get(str(against), str(against)) if against else None
    if p.get("reference"):
        return (f"{name}: the cross-check (the PINN itself is the scenario's reference)"
                if name else "— (the PINN is the scenario's reference; no cross-check)")
    return f"{name}: the scenario's reference" if name else _METHOD_LABELS.get(method, method)


def _greeks_against(p: Mapping[str, Any], own: bool, method: str) -> str:
    """What the PINN-Greeks figure draws the PINN against."""
    against = p.get("compared_with")
    name = _METHOD_LABELS.get(str(against), str(against)) if against else None
    if own and p.get("reference"):
        return f"the {name or 'FD'} cross-check; the PINN itself is this scenario's reference"
    if own:
        return f"the scenario's risky {name or 'reference'} reference"
    return f"the scenario's reference, {_METHOD_LABELS.get(method, method)}"


#: What the PINN's loss terms are (keys of its history, :mod:`training.pinn.losses`).
_LOSS_TERMS = {"loss": "the total", "total": "the total",
               "pde": "the PDE residual at interior points",
               "interior": "the PDE residual at interior points",
               "ic": "the initial condition", "initial": "the initial condition",
               "boundary": "the boundary condition",
               "adaptive": "the PDE residual at adaptively added points"}


def _loss_caption(hist: Mapping[str, Any], faces: Any) -> str:
    """The loss figure's caption, naming the terms it draws (those with a positive value)."""
    parts = []
    for k, v in hist.items():
        if k in ("step", "lr") or not any(_finite(x) and x > 0 for x in (v or [])):
            continue
        what = _LOSS_TERMS.get(str(k))
        if what is None and isinstance(faces, Mapping) and k in faces:
            what = f"the residual on the face {k} ({faces[k]} PDE)"
        elif what is None and re.search(r"_(min|max)$", str(k)):
            what = f"the residual on the face {k}"
        parts.append(f"{k}: {what}" if what else str(k))
    return ("Training loss per term against the optimiser step ("
            + "; ".join(parts) + ").")


def _faces_note(faces: Any, inputs: Sequence[str]) -> str:
    """Where the PINN names its states otherwise than the scenario's inputs (two spots: the
    PINN's ``spot_1``, ``spot_2`` are the inputs ``spot_0``, ``spot_1``), the mapping."""
    if not isinstance(faces, Mapping):
        return ""
    states = list(dict.fromkeys(re.sub(r"_(min|max)$", "", str(k)) for k in faces))
    if len(states) != len(inputs) or states == list(inputs):
        return ""
    pairs = ", ".join(f"{a} = input {b}" for a, b in zip(states, inputs, strict=True) if a != b)
    return f"the PINN's own state names, in input order: {pairs}"


_REFERENCE_NAMES = {"analytic": "closed form (analytic)", "fd": "finite differences (FD)",
                    "pinn": "PINN"}

#: A scenario label naming a reference method, and the methods each wording covers.
_LABEL_REFERENCE = re.compile(
    r"\b(PDE|FD|finite[- ]differences?|PINN|analytic|closed[- ]form)\s+reference\b", re.I)
_LABEL_METHODS = {"pde": {"fd", "pinn"}, "fd": {"fd"}, "finite": {"fd"}, "pinn": {"pinn"},
                  "analytic": {"analytic"}, "closed": {"analytic"}}


def _code_text(code: Any) -> str:
    """``commit 1a2b3c4d5e6f`` (``+ uncommitted changes`` when dirty) of ``run.code``, or ""
    (an installed package, or a run from before the field)."""
    if not isinstance(code, Mapping) or not isinstance(code.get("commit"), str):
        return ""
    dirty = " + uncommitted changes" if code.get("dirty") else ""
    return f"commit {code['commit'][:12]}{dirty}"


def _reference_text(ref: Any) -> str:
    """The scenario's reference method in words, with its cross-checks."""
    if not isinstance(ref, Mapping) or not ref.get("method"):
        return "—"
    method = str(ref["method"])
    text = _REFERENCE_NAMES.get(method, method)
    checks = [_METHOD_LABELS.get(str(k), str(k)) for k in (ref.get("cross_checks") or {})]
    return text + (f"; {', '.join(checks)} only a cross-check" if checks else "") + \
        _agreement_text(ref.get("agreement"))


def _agreement_text(agreed: Any) -> str:
    """The largest difference between the reference and its cross-checks (metrics
    ``reference.agreement``), e.g. ``"; largest difference 2.6e-05 (FD, value; gate 0.01)"``."""
    if not isinstance(agreed, Mapping) or not isinstance(agreed.get("worst"), Mapping):
        return ""
    w, tol = agreed["worst"], agreed.get("tolerance")
    rel = w.get("relative")
    size = f"{rel:.2g}" if _finite(rel) else "not finite"
    gate = f"; gate {tol:g}" if _finite(tol) else "; no gate"
    check = _METHOD_LABELS.get(str(w.get("check")), str(w.get("check")))
    return f"; largest relative difference {size} ({check}, {w.get('quantity')}{gate})"


def _label_note(label: str, ref: Any) -> str:
    """A warning where the scenario's label (free text from the config) names a reference
    method other than the one the run used."""
    m = _LABEL_REFERENCE.search(label or "")
    method = ref.get("method") if isinstance(ref, Mapping) else None
    if not m or not method:
        return ""
    word = re.split(r"[\s-]", m.group(1).lower())[0]
    if method in _LABEL_METHODS.get(word, {method}):
        return ""
    return f"the label says “{m.group(0)}”; the reference is the {_reference_text(ref)}"


def _xva_spreads(params: Any) -> dict[str, Any] | None:
    """The effective funding spread and discount spreads of a scenario's XVA (``parameters.xva``),
    as :class:`simulators.XVA` defines them: s_F = ``funding_spread``, else (1 − R_B) λ_B;
    c₊ = (1 − R_C) λ_C + s_F (a value ≥ 0), c₋ = (1 − R_B) λ_B (a value ≤ 0). ``None`` without
    an XVA or with a parameter missing."""
    xva = params.get("xva") if isinstance(params, Mapping) else None
    if not isinstance(xva, Mapping):
        return None
    lb, lc, rb, rc = (xva.get(k) for k in ("lambda_b", "lambda_c", "recovery_b", "recovery_c"))
    if not all(_finite(v) for v in (lb, lc, rb, rc)):
        return None
    given = xva.get("funding_spread")
    c_neg = (1.0 - rb) * lb
    s_f = float(given) if _finite(given) else c_neg
    return {"s_f": s_f, "default": not _finite(given), "c_pos": (1.0 - rc) * lc + s_f,
            "c_neg": c_neg}


def _spreads_text(sp: Mapping[str, Any] | None) -> str:
    if not sp:
        return ""
    how = "default (1 − R_B) λ_B, no funding_spread given" if sp["default"] else "given"
    return (f"funding spread s_F = {_num(sp['s_f'])} ({how}); discount spreads "
            f"c₊ = (1 − R_C) λ_C + s_F = {_num(sp['c_pos'])} (value ≥ 0), "
            f"c₋ = (1 − R_B) λ_B = {_num(sp['c_neg'])} (value ≤ 0)")


def _with_spreads(rows: list[tuple[str, Any]], sp: Mapping[str, Any] | None
                  ) -> list[tuple[str, Any]]:
    """The parameter rows with the XVA's effective spreads: ``xva.funding_spread`` shows the
    s_F used (and says when it is the default), followed by c₊ and c₋."""
    if not sp:
        return rows
    out = []
    for k, v in rows:
        if k == "xva.funding_spread":
            v = (f"— (not given): default (1 − R_B) λ_B = {_num(sp['s_f'])}" if sp["default"]
                 else f"{_num(sp['s_f'])} (s_F)")
        out.append((k, v))
        if k == "xva.funding_spread":
            out += [("xva: c₊ = (1 − R_C) λ_C + s_F", f"{_num(sp['c_pos'])} (value ≥ 0)"),
                    ("xva: c₋ = (1 − R_B) λ_B", f"{_num(sp['c_neg'])} (value ≤ 0)")]
    if not any(k == "xva.funding_spread" for k, _ in rows):
        out += [("xva: s_F", _num(sp["s_f"])),
                ("xva: c₊ = (1 − R_C) λ_C + s_F", f"{_num(sp['c_pos'])} (value ≥ 0)"),
                ("xva: c₋ = (1 − R_B) λ_B", f"{_num(sp['c_neg'])} (value ≤ 0)")]
    return out


def _checks_note(sc: Mapping[str, Any]) -> str:
    """What the scenario's shape checks cover, derived from the rules that ran
    (:func:`evaluation.diagnostics.rules_note` on ``checks.results``); the recorded note where
    none ran."""
    from .diagnostics import rules_note

    checks = sc.get("checks")
    if not isinstance(checks, Mapping):
        return ""
    results = [c for c in (checks.get("results") or []) if isinstance(c, Mapping)]
    params = sc.get("parameters") if isinstance(sc.get("parameters"), Mapping) else {}
    product = params.get("product") if isinstance(params.get("product"), Mapping) else {}
    if results and product.get("kind") in ("call", "put"):
        return rules_note(str(product["kind"]), results, xva=params.get("xva") is not None)
    return str(checks.get("note") or "")


def _vs_fd_rows(vs: Any, inputs: Sequence[str] = ()) -> list[dict[str, str]]:
    """PINN against FD: log10 relative errors of value, gradient (named by the inputs' Greeks)
    and gamma (metrics ``vs_fd``)."""
    from .metrics import greek_name

    if not isinstance(vs, Mapping):
        return []
    grad = ("gradient (" + ", ".join(greek_name(n) for n in inputs) + ")") if inputs \
        else "gradient"
    rows = []
    for key, name in (("price", "value"), ("delta", grad),
                      ("gamma", "gamma")):
        e = vs.get(key)
        if isinstance(e, Mapping):
            rows.append({"name": name, "l1": _log(e.get("l1")), "l2": _log(e.get("l2")),
                         "linf": _log(e.get("linf"))})
    return rows


def _by_tau_rows(vs: Any) -> list[dict[str, str]]:
    """PINN against the FD solved to each tau (metrics ``vs_fd.by_tau``)."""
    if not isinstance(vs, Mapping) or not isinstance(vs.get("by_tau"), list):
        return []
    return [{"tau": _num(r.get("tau")), "l2": _log(r.get("log10_rel_l2")),
             "max_abs": _num(r.get("max_abs"))} for r in vs["by_tau"] if isinstance(r, Mapping)]


#: ``scheme://user:password@`` in a URI (e.g. an MLflow tracking or store URI), up to the last
#: ``@`` of the authority (a password may hold one).
_CREDENTIALS = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#]*@")
#: A secret passed as a query parameter.
_SECRET_QUERY = re.compile(
    r"([?&](?:token|access_token|api_key|apikey|key|password|passwd|secret)=)[^&\s#'\"]*",
    re.IGNORECASE)


def _redacted(text: str) -> str:
    """``text`` with the user information of every URI, and secret query parameters, replaced
    by ``***``: a report is forwarded, a password in a tracking URI must not travel with it."""
    return _SECRET_QUERY.sub(r"\1***", _CREDENTIALS.sub(r"\1***@", text))


def _config_settings(config_text: str) -> dict[str, Any]:
    """``history``, ``regression_tolerance`` and the regression baseline's ``window`` from a
    resolved config.yaml, where present."""
    if not config_text:
        return {}
    import yaml

    class NoAliases(yaml.SafeLoader):
        """The run's config.yaml as the pipeline writes it has no aliases: one is refused
        (a few nested aliases expand to gigabytes)."""

        def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(None, None, "an alias",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)

    try:
        cfg = yaml.load(config_text, Loader=NoAliases)  # noqa: S506 - a SafeLoader
    except (yaml.YAMLError, RecursionError):
        return {}
    if not isinstance(cfg, Mapping):
        return {}
    out = {k: cfg[k] for k in ("history", "regression_tolerance") if cfg.get(k) is not None}
    gate = cfg.get("regression")
    if isinstance(gate, Mapping) and isinstance(gate.get("window"), int):
        out["window"] = gate["window"]
    return out


def _run_stages_note(run: Mapping[str, Any], scenarios: Any) -> str:
    """How to read the run's stage seconds: each is a sum over the scenarios, which ran in
    parallel on the Dask workers, so their total can exceed the run's wall time."""
    stages = run.get("stage_seconds")
    if not isinstance(stages, Mapping) or not stages:
        return ""
    total = sum(v for v in stages.values() if _finite(v))
    dask = run.get("dask") if isinstance(run.get("dask"), Mapping) else {}
    workers = dask.get("n_workers")
    par = (f" (they ran in parallel on {workers} Dask workers)" if _finite(workers)
           and workers > 1 else "")
    wall = _duration(run.get("started"), run.get("finished"))
    n = len(scenarios) if isinstance(scenarios, Mapping) else 0
    text = (f"Seconds per stage, summed over the run's {n} scenarios{par}: {total:.1f} s "
            "in all")
    return text + (f", while the run took {wall} of wall time." if wall else ".")


def _xva_rows(arrays: Mapping[str, Any], main: str,
              extra: list[tuple[str, np.ndarray]]) -> list[dict[str, str]]:
    """The XVA table: for the reference's risky value and each other PDE reference's, the
    smallest and largest XVA (risky − risk-free) and how far it is from the reference's."""
    if not extra:
        return []
    rf = np.asarray(arrays["xva_risk_free"], float)
    risky = np.asarray(arrays["xva_risky"], float)
    rows = []
    for name, v in [(main, risky), *extra]:
        if v.shape != rf.shape:
            raise ValueError(f"{name}: {v.shape[0] if v.ndim else 0} values against "
                             f"{rf.shape[0] if rf.ndim else 0} risk-free ones")
        rows.append({"name": name, "min": _num(float(np.min(v - rf))),
                     "max": _num(float(np.max(v - rf))),
                     "diff": "—" if v is risky else _num(float(np.max(np.abs(v - risky))))})
    return rows


def _duration(started: Any, finished: Any) -> str:
    """The run's wall time from its ISO stamps; empty where one is missing or unreadable, only
    one carries a UTC offset, or the start is later than the finish."""
    try:
        a = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(finished).replace("Z", "+00:00"))
        sec = (b - a).total_seconds()
    except (ValueError, TypeError):
        return ""
    if sec < 0:
        return ""
    return f"{int(sec // 60)} min {sec % 60:.0f} s" if sec >= 60 else f"{sec:.1f} s"


def _against(run: Mapping[str, Any], prev_name: str | None, used_stored: bool) -> str:
    """The heading's 'against ...': the pipeline's recorded baseline when its regressions are
    shown, else the previous run."""
    base = run.get("baseline") if used_stored else None
    if isinstance(base, Mapping) and base.get("runs"):
        runs = [Path(str(r)).name for r in base["runs"]]
        if base.get("kind") == "best" and len(runs) > 1:
            return f"against the best of the last {len(runs)} runs ({runs[-1]} to {runs[0]})"
        return f"against the {base.get('kind', 'previous')} run {runs[0]}"
    return f"against {prev_name}" if prev_name else "(no previous run)"


def _tolerance_rule(run: Mapping[str, Any], prev_name: str | None, used_stored: bool,
                    tol: float, window: Any) -> str:
    """What counts as a regression, as the comparison shown was made: against the pipeline's
    recorded baseline (its kind: the best value over the last ``window`` runs, the previous
    run, or a pinned run) when its regressions are shown, else against the previous run."""
    t = f"an error more than ×{tol:g}"
    base = run.get("baseline") if used_stored else None
    if isinstance(base, Mapping):
        runs = [Path(str(r)).name for r in (base.get("runs") or [])]
        kind = base.get("kind")
        if kind == "best":
            n = base.get("window", window)
            n = n if isinstance(n, int) and not isinstance(n, bool) else None
            over = (f"over the last {n} runs of the same name" if n
                    else "over the earlier runs of the same name")
            found = ("" if n is None or len(runs) >= n else
                     " (none found yet: only failures are flagged)" if not runs
                     else f" ({len(runs)} found)")
            return f"{t} its best value {over}{found}"
        if kind == "pinned":
            return f"{t} its value in the pinned run {runs[0] if runs else '—'}"
        return f"{t} its previous value ({runs[0] if runs else 'no previous run found'})"
    return f"{t} its previous value" + (f" ({prev_name})" if prev_name else "")


def _fmt_regression(r: Mapping[str, Any], anchors: Mapping[str, str]) -> dict[str, Any]:
    metric = str(r.get("metric"))

    def val(v: Any) -> str:  # in the metric's own units (price units for summary RMSEs)
        return tables.regression_value(metric, v)

    ratio = r.get("ratio")
    return {"scenario": "(run)" if r.get("scenario") is None else str(r["scenario"]),
            "anchor": anchors.get(str(r.get("scenario"))), "metric": metric,
            "previous": val(r.get("previous")), "current": val(r.get("current")),
            "ratio": f"×{ratio:.3g}" if _finite(ratio) else ("×inf" if ratio == math.inf else "—"),
            "tolerance": f"×{r['tolerance']:.3g}" if _finite(r.get("tolerance")) else "—"}


def build_report(
    run_dir: str | Path,
    *,
    history: int | None = None,
    tolerance: float | None = None,
    output: str | Path | None = None,
    runs_root: str | Path | None = None,
    dpi: int = 100,
) -> Path:
    """Write ``report.html`` for a run directory and return its path.

    Args:
        run_dir: ``runs/<name>-<stamp>/`` holding metrics.json (required), config.yaml and
            arrays/*.npz (optional: sections without data are left out).
        history: how many previous runs of the same name feed the trend sparklines (>= 0).
            ``None``: the run's ``config.yaml`` ``history``, else :data:`DEFAULT_HISTORY`.
        tolerance: ratio > 1 above which an error's growth against the previous run is a
            regression (:func:`evaluation.trend.compare`). ``None``: the run's ``config.yaml``
            ``regression_tolerance``, else :data:`evaluation.trend.DEFAULT_TOLERANCE`.
        output: where to write (default ``run_dir/report.html``); written atomically.
        runs_root: where to look for previous runs (default: ``run_dir``'s parent).
        dpi: resolution of the embedded PNGs.

    Regressions: a run written by the pipeline records its ``regressions``, the run it compared
    with (``run.previous``) and the tolerance (``run.regression_tolerance``); at that tolerance
    the report shows exactly those (one computation for metrics.json, the CLI and the report).
    Otherwise (older runs, another tolerance) they are recomputed against the most recent
    earlier run found under ``runs_root``; when there is none, the failures of this run plus
    the ``regressions`` recorded in metrics.json.

    Raises:
        FileNotFoundError: ``run_dir`` or its metrics.json does not exist.
        ValueError: metrics.json is unreadable or not schema_version 1; bad ``history`` /
            ``tolerance``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"Run directory {run_dir} does not exist.")
    config_text = _read_regular(run_dir / "config.yaml", MAX_CONFIG_BYTES)
    cfg = _config_settings(config_text)
    if history is None or tolerance is None:
        history = cfg.get("history", DEFAULT_HISTORY) if history is None else history
        tolerance = cfg.get("regression_tolerance", DEFAULT_TOLERANCE) if tolerance is None \
            else tolerance
    if isinstance(history, bool) or not isinstance(history, int) or history < 0:
        raise ValueError(
            "The 'history' parameter of build_report must be an int >= 0. Got "
            f"{repr(history)[:80]} instead."
        )
    metrics = load_metrics(run_dir)
    compare(metrics, None, tolerance)  # validates the tolerance before any drawing
    tol = float(tolerance)
    run = dict(metrics.get("run") or {})
    parsed = split_run_dir(run_dir)
    name = str(run.get("name") or (parsed[0] if parsed else run_dir.name))
    # a same-second run's directory stamp carries a suffix ("...Z-2"); history needs the stamp
    stamp = str(run.get("stamp") or (parsed[1] if parsed else "")).split("-")[0]
    bad_stamp = bool(stamp) and not STAMP_RE.match(stamp)
    if bad_stamp:  # a hand-edited run.stamp: no history rather than no report
        stamp = ""

    prev_dirs = find_previous_runs(runs_root if runs_root is not None else run_dir.parent, name,
                                   before=stamp if stamp else None, limit=history) \
        if history > 0 and stamp else []
    prev_metrics = []
    for d in prev_dirs:
        try:
            prev_metrics.append(load_metrics(d))
        except (OSError, ValueError):
            continue
    previous = prev_metrics[0] if prev_metrics else None
    stored = metrics.get("regressions")
    used_stored = isinstance(stored, list) and run.get("regression_tolerance") == tol
    if used_stored:
        # The pipeline's own comparison (one computation for metrics.json, CLI and report),
        # against the run it recorded as previous.
        regs = [dict(r) for r in stored if isinstance(r, Mapping)]
        recorded = run.get("previous")
        # the recorded run, looked up beside this one (a forwarded metrics.json cannot point
        # the report at files elsewhere; a runs folder moved as a whole still finds it)
        sibling = run_dir.parent / Path(str(recorded)).name if recorded else None
        if sibling is not None and (split_run_dir(sibling) or ("",))[0] == name:
            try:
                previous = load_metrics(sibling)
            except (OSError, ValueError):
                previous = None
        else:
            previous = None
    else:
        regs = compare(metrics, previous, tol)
    if previous is None and not (isinstance(stored, list)
                                 and run.get("regression_tolerance") == tol):
        seen = {(r.get("scenario"), r.get("metric")) for r in regs}
        regs += [r for r in (metrics.get("regressions") or [])
                 if isinstance(r, Mapping) and (r.get("scenario"), r.get("metric")) not in seen]
    flagged = {str(r.get("scenario")) for r in regs if r.get("scenario") is not None}
    series = list(reversed(prev_metrics)) + [metrics]

    figs = _Figures(dpi)
    if bad_stamp:
        figs.warnings.append(f"run.stamp {str(run.get('stamp'))[:40]!r} is not a stamp "
                             "YYYYmmddTHHMMSSZ: no earlier run is compared with")
    scenarios_in = metrics.get("scenarios") or {}
    prev_sc = (previous or {}).get("scenarios") or {}
    sections = [
        _section_or_status(i, str(sid), sc or {}, run_dir, figs, prev_sc.get(sid), series, tol,
                           flagged)
        for i, (sid, sc) in enumerate(scenarios_in.items())
    ]
    anchors = {s["id"]: s["anchor"] for s in sections}
    failed = [row for sid, sc in scenarios_in.items() if isinstance(sc, Mapping)
              for row in tables.failed_rows(str(sid), anchors.get(str(sid)), sc.get("checks"),
                                            [str(x) for x in (sc.get("inputs") or [])])]
    checks_ctx = {"failed": failed, "n": sum(len(s["checks"]) for s in sections),
                  "scenarios": sum(1 for s in sections if s["checks"])}

    dask = run.get("dask") if isinstance(run.get("dask"), Mapping) else {}
    run_ctx = {
        "name": name, "stamp": stamp, "status": str(run.get("status", "ok")),
        "started": run.get("started"), "duration": _duration(run.get("started"),
                                                             run.get("finished")),
        "backend": run.get("backend", "—"), "package_version": run.get("package_version", "—"),
        "code": _code_text(run.get("code")),
        "dask": (f"{dask.get('n_workers', '?')} workers"
                 + (f" at {dask['address']}" if dask.get("address") else " (local)"))
        if dask else "",
        "dir": run.get("dir") or str(run_dir),
        "facts": [(k, _code_text(run.get(k)) if k == "code" else _value(run.get(k)))
                  for k in ("name", "stamp", "status", "started", "finished",
                            "package_version", "code", "backend", "dask", "dir", "previous")
                  if k in run],
        "stages": [(k, _seconds(v)) for k, v in (run.get("stage_seconds") or {}).items()],
        "stages_note": _run_stages_note(run, scenarios_in),
    }
    prev_name = prev_dirs[0].name if prev_dirs else None
    trend_ctx = {
        "previous": prev_name,
        # the stored regressions were found against the run's recorded baseline, which need not
        # be beside this folder (a copied run, --history 0)
        "compared": bool(prev_name) or (used_stored and isinstance(run.get("baseline"), Mapping)
                                        and bool(run["baseline"].get("runs"))),
        "against": _against(run, prev_name, used_stored),
        "n_runs": len(series), "tolerance": f"{tol:g}",
        "rule": _tolerance_rule(run, prev_name, used_stored, tol, cfg.get("window")),
        "exact_base": any(s["key"]["pinn_note"] for s in sections),
        "primary": "summary.value_rmse.differential.mean",
    }

    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    for s in sections:
        s["spark"] = Markup(s["spark"])  # built from numbers; its tooltip text is escaped
    html = env.get_template("report.html.j2").render(
        run=run_ctx, scenarios=sections, regressions=[_fmt_regression(r, anchors) for r in regs],
        checks=checks_ctx,
        trend=trend_ctx, warnings=figs.warnings, config_text=_redacted(config_text),
        max_inputs=MAX_TABLE_INPUTS,
    )
    out = Path(output) if output is not None else run_dir / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    # A unique name opened normally (not mkstemp's 0600): the report gets the process umask.
    tmp = out.with_name(f".{out.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            f.write(html)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is not None or exc.errno is None:
            raise
        # a full disk's error names no file (data.files.naming; not imported: the report
        # stays free of the dataset and simulator packages)
        raise type(exc)(exc.errno, exc.strerror or os.strerror(exc.errno), str(out)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


# ----- Prefect artifact ---------------------------------------------------------------------------
def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell (no HTML, no column breaks)."""
    s = " ".join(str(text).split())
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("`", "'")):
        s = s.replace(a, b)
    return s


def prefect_markdown(
    metrics: Mapping[str, Any], report_path: str | Path | None,
    regressions: Sequence[Mapping[str, Any]] | None = None,
) -> str:
    """Markdown for a Prefect artifact: the summary table, regressions and the report's path.

    Args:
        metrics: the run's parsed metrics.json.
        report_path: path of report.html (shown as-is); ``None`` when it was not built.
        regressions: defaults to ``metrics["regressions"]``.

    The pipeline passes the result to ``prefect.artifacts.create_markdown_artifact``; this module
    does not import Prefect.
    """
    run = metrics.get("run") or {}
    regs = list(metrics.get("regressions") or []) if regressions is None else list(regressions)
    flagged = {str(r.get("scenario")) for r in regs if r.get("scenario") is not None}
    lines = [
        f"### diffml run {_md(run.get('name', '?'))} {_md(run.get('stamp', ''))}: "
        f"**{_md(run.get('status', '?'))}**",
        "",
        "| scenario | status | value RMSE, price units (std / diff) "
        "| relative value error (std / diff) | shape checks | PINN log10 rel. L2 | regression |",
        "|---|---|---:|---:|---|---:|---|",
    ]
    for sid, sc in (metrics.get("scenarios") or {}).items():
        sc = sc or {}
        pinn = sc.get("pinn") or {}
        v, rel, checks = tables.markdown_cells(sc)
        status = _md(sc.get("status", "ok"))
        if sc.get("error"):
            status += f": {_md(sc['error'])}"
        flag = "yes" if str(sid) in flagged else ""
        pinn_cell = _log(pinn.get("log10_rel_l2"))
        if pinn and _not_headline(pinn):
            pinn_cell += f" ({_md(_not_headline(pinn))})"
        if pinn and _pinn_status(pinn)[1]:
            pinn_cell += f", {_md(_pinn_status(pinn)[1])}"
        lines.append(f"| {_md(sid)} | {status} | {v} | {rel} | {_md(checks)} "
                     f"| {pinn_cell} | {flag} |")
    lines.append("")
    if regs:
        lines.append(f"**{len(regs)} regression(s):**")
        for r in regs:
            fr = _fmt_regression(r, {})
            lines.append(f"- {_md(fr['scenario'])} `{_md(fr['metric'])}`: {_md(fr['previous'])} → "
                         f"{_md(fr['current'])} ({fr['ratio']}, tolerance {fr['tolerance']})")
    else:
        lines.append("No regressions.")
    lines += ["", f"Report: `{_md(report_path)}`" if report_path is not None
              else "Report: not built.", ""]
    return "\n".join(lines)


# ----- command line -------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evaluation.report RUN_DIR [--history N] [--tolerance T] [--output FILE]``.

    Prints the report's path; returns 0, or 1 with a one-line reason on stderr.
    """
    ap = argparse.ArgumentParser(prog="python -m evaluation.report",
                                 description="Build report.html for a diffml run directory.")
    ap.add_argument("run_dir", help="runs/<name>-<stamp>/ holding metrics.json")
    ap.add_argument("--history", type=int, default=None,
                    help="previous runs in the trend sparklines (default: the run's config, "
                         f"else {DEFAULT_HISTORY})")
    ap.add_argument("--tolerance", type=float, default=None,
                    help="error ratio above which a change is a regression (default: the run's "
                         f"config regression_tolerance, else {DEFAULT_TOLERANCE})")
    ap.add_argument("--output", default=None, help="output file (default RUN_DIR/report.html)")
    args = ap.parse_args(argv)
    try:
        path = build_report(args.run_dir, history=args.history, tolerance=args.tolerance,
                            output=args.output)
    except Exception as exc:  # noqa: BLE001 - one line, non-zero exit
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"report: error: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
