"""The report's numbers: summary cells, error tables, moneyness buckets, hedging and shape
checks, built from one scenario entry of ``metrics.json`` (and its test-set arrays) with the
definitions of :mod:`evaluation.metrics`. Figures are drawn elsewhere (:mod:`evaluation.report`
with :mod:`evaluation.plots`).

Units: values in price units, Greeks in price per unit of their input, relative errors in per
cent of the RMS of the reference quantity over the test set. In the Huge–Savine unit-spot
set-ups (strike near 1, ``summary.scale.unit_spot``) values and deltas are shown ×100, labelled
"% of a unit spot", as in their paper.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .diagnostics import failed_checks
from .metrics import (
    greek_name,
    is_unit_spot,
    learning_curve_summary,
    log10_relative_errors,
    spot_inputs,
    surrogate_errors,
)

#: Per-input columns shown before a table falls back to the worst input.
MAX_TABLE_INPUTS = 4

_MODES = ("standard", "differential")


def finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def num(v: Any, factor: float = 1.0) -> str:
    """3 significant digits; ``nan`` for a NaN, a dash for a missing value."""
    if finite(v):
        return f"{factor * v:.3g}"
    return "nan" if isinstance(v, float) else "—"


def num_sd(stat: Any, factor: float = 1.0) -> str:
    """``mean ± sd`` of a ``{"mean", "sd"}`` block (sd left out when 0 or missing)."""
    if not isinstance(stat, Mapping):
        return "—"
    m, sd = stat.get("mean"), stat.get("sd")
    if not finite(m):
        return num(m)
    return f"{factor * m:.3g} ± {factor * sd:.2g}" if finite(sd) and sd > 0 else \
        f"{factor * m:.3g}"


def pct(v: Any) -> str:
    """A ratio as a percentage, 3 significant digits."""
    if finite(v):
        return f"{100 * v:.3g} %"
    return "nan" if isinstance(v, float) else "—"


def pct_sd(stat: Any) -> str:
    return pct(stat.get("mean")) if isinstance(stat, Mapping) else "—"


def _log(v: Any) -> str:
    return f"{v:.2f}" if finite(v) else ("nan" if isinstance(v, float) else "—")


# ----- units -------------------------------------------------------------------------------------
def unit_spot(sc: Mapping[str, Any]) -> bool:
    """Whether the scenario is a Huge–Savine unit-spot set-up: ``summary.scale.unit_spot``, else
    the product's strike."""
    scale = (sc.get("summary") or {}).get("scale") if isinstance(sc.get("summary"), Mapping) \
        else None
    if isinstance(scale, Mapping) and "unit_spot" in scale:
        return bool(scale["unit_spot"])
    product = ((sc.get("parameters") or {}).get("product") or {})
    strike = product.get("strike") if isinstance(product, Mapping) else None
    return is_unit_spot(float(strike)) if finite(strike) else False


#: How the tables name their units: (short heading, caption).
UNIT_SPOT = ("×100, % of unit spot",
             "×100, i.e. per cent of a unit spot, as Huge & Savine report them (a unit-spot "
             "set-up: strike near 1)")
PRICE_UNITS = ("price units", "price units")


def factors(sc: Mapping[str, Any], inputs: Sequence[str]
            ) -> tuple[float, dict[str, float], tuple[str, str]]:
    """(value factor, Greek factor per input, (unit heading, unit caption)) for a scenario's
    tables: ×100 on values and deltas in unit-spot set-ups, else 1."""
    if unit_spot(sc):
        spots = set(spot_inputs(inputs))
        return 100.0, {n: 100.0 if n in spots else 1.0 for n in inputs}, UNIT_SPOT
    return 1.0, {n: 1.0 for n in inputs}, PRICE_UNITS


def greek_label(name: str, greek_factor: float = 1.0) -> str:
    """Column heading of a Greek: ``delta (spot)``, ``dV/dvariance``, ``vega (vol)``..."""
    g = greek_name(name)
    text = g if g.startswith("dV/d") else f"{g.split(' ')[0]} ({name})"
    return f"{text} ×100" if greek_factor != 1.0 else text


def worst_label(names: Sequence[str], greek_factors: Mapping[str, float], by: str = "") -> str:
    """Heading of a column that shows the worst of many inputs' Greeks: which Greek (``delta``
    when every input is a spot), its scaling and how many inputs, e.g. ``delta ×100, worst of
    7 inputs``; ``by``: what "worst" is measured by."""
    kinds = {greek_name(n).split(" ")[0] for n in names}
    what = kinds.pop() if len(kinds) == 1 else "Greek"
    if any(greek_factors.get(n, 1.0) != 1.0 for n in names):
        what += " ×100" if all(greek_factors.get(n, 1.0) != 1.0 for n in names) \
            else " (×100 for spots)"
    return f"{what}, worst of {len(names)} inputs" + (f" by {by}" if by else "")


def gamma_label(name: str | None, value_factor: float = 1.0, n: int = 0) -> str:
    """Heading of a gamma column: ``gamma (spot_0)``, or ``gamma, worst of 7 spots`` (``name``
    ``None``); marked unscaled where values and deltas are shown ×100."""
    text = f"gamma ({name})" if name is not None else f"gamma, worst of {n} spots"
    return text + (" (not ×100)" if value_factor != 1.0 else "")


# ----- summary row -------------------------------------------------------------------------------
def _mode_block(block: Any) -> dict[str, Any]:
    return block if isinstance(block, Mapping) else {}


def _mean(stat: Any) -> str:
    return num(stat.get("mean")) if isinstance(stat, Mapping) else "—"


def best_mode(summary: Mapping[str, Any]) -> str | None:
    """The mode the summary headlines: differential where trained, else standard."""
    values = _mode_block(summary.get("value_rmse"))
    for mode in ("differential", "standard", *values):
        if mode in values:
            return mode
    return None


def key_cells(sc: Mapping[str, Any]) -> dict[str, Any]:
    """The summary row's numbers: value RMSE in price units and relative (standard /
    differential), per-input Greek RMSEs of the headline mode, and the checks."""
    summ = sc.get("summary") if isinstance(sc.get("summary"), Mapping) else {}
    vr, rel = _mode_block(summ.get("value_rmse")), _mode_block(summ.get("value_relative"))
    mode = best_mode(summ)
    greeks = []
    g = _mode_block(_mode_block(summ.get("greek_rmse")).get(mode))
    gr = _mode_block(_mode_block(summ.get("greek_relative")).get(mode))
    names = list(g)
    if len(names) > MAX_TABLE_INPUTS:  # the worst input by relative error, named

        def relative(n: str) -> float:
            v = _mode_block(gr.get(n)).get("mean")
            return v if finite(v) else -math.inf

        names = [max(names, key=relative)]
    for name in names:
        greeks.append({"name": greek_label(name), "rmse": _mean(g[name]),
                       "rel": pct_sd(gr.get(name)),
                       "note": f"worst of {len(g)} inputs by relative error"
                       if len(g) > MAX_TABLE_INPUTS else ""})
    scale = _mode_block(summ.get("scale"))
    return {
        "value_std": _mean(vr.get("standard")), "value_diff": _mean(vr.get("differential")),
        "rel_std": pct_sd(rel.get("standard")), "rel_diff": pct_sd(rel.get("differential")),
        "scale": num(scale.get("value")), "greek_mode": mode or "", "greeks": greeks,
        "checks": checks_cell(sc.get("checks")),
    }


def checks_cell(checks: Any) -> dict[str, Any]:
    """``{"text", "css", "title"}``: how many shape checks ran and failed."""
    results = checks.get("results") if isinstance(checks, Mapping) else None
    if not isinstance(results, list) or not results:
        note = checks.get("note") if isinstance(checks, Mapping) else None
        return {"text": "—", "css": "same", "title": str(note or "no shape checks")}
    bad = failed_checks(results)
    if not bad:
        return {"text": f"{len(results)} pass", "css": "pass", "title": "every check passes"}
    return {"text": f"{len(bad)} of {len(results)} fail", "css": "fail",
            "title": "; ".join(f"{c.get('predictor')}: {c.get('rule')}" for c in bad)}


def failed_rows(sid: str, anchor: str | None, checks: Any,
                inputs: Sequence[str]) -> list[dict[str, Any]]:
    """One row per failed check of a scenario, for the report's first screen."""
    results = checks.get("results") if isinstance(checks, Mapping) else None
    return [{**check_row(c, inputs), "scenario": sid, "anchor": anchor}
            for c in failed_checks(results if isinstance(results, list) else [])]


def check_row(c: Mapping[str, Any], inputs: Sequence[str]) -> dict[str, Any]:
    """A check's cells; ``points``: ``violations / n``."""
    at = c.get("at")
    where = ", ".join(f"{n} {v:.4g}" for n, v in zip(inputs, at, strict=False)) \
        if isinstance(at, list) and all(finite(v) for v in at) else "—"
    return {"predictor": str(c.get("predictor", "—")), "rule": str(c.get("rule", "—")),
            "passed": bool(c.get("passed")),
            "result": "pass" if c.get("passed") else
            f"fails at {c.get('violations', '?')} of {c.get('n', '?')} points",
            "points": f"{c.get('violations', '?')} / {c.get('n', '?')}",
            "worst": num(c.get("worst")), "bound": num(c.get("bound")), "at": where,
            "tolerance": num(c.get("tolerance"))}


# ----- learning curves ---------------------------------------------------------------------------
def learning_curve_table(sc: Mapping[str, Any], inputs: Sequence[str]) -> dict[str, Any] | None:
    """Rows per (m, mode): value RMSE and relative error, the standard error of an equal-cost
    Monte-Carlo price, per-input Greek RMSEs (the worst input beyond
    :data:`MAX_TABLE_INPUTS`), gamma RMSEs per spot input, fit time."""
    lc = sc.get("learning_curve") or []
    if not lc:
        return None
    pts = learning_curve_summary(lc)
    vf, gf, unit = factors(sc, inputs)
    names = list(next((p.inputs for p in pts if p.inputs), ())) or list(inputs)
    d = max((len(p.delta_mean) for p in pts), default=0)
    names = (names + [f"x{i}" for i in range(len(names), d)])[:d]
    wide = d > MAX_TABLE_INPUTS
    gnames = list(next((p.gamma_inputs for p in pts if p.gamma_inputs), ()))
    gwide = len(gnames) > MAX_TABLE_INPUTS
    noise = sc.get("mc_noise") if isinstance(sc.get("mc_noise"), Mapping) else {}
    se = noise.get("standard_error") if isinstance(noise.get("standard_error"), Mapping) else {}
    headers = ([worst_label(names, gf, "RMSE")] if wide else [greek_label(n, gf.get(n, 1.0))
                                                      for n in names])
    gheaders = ([gamma_label(None, vf, len(gnames))] if gwide
                else [gamma_label(n, vf) for n in gnames])
    rows = []
    for p in sorted(pts, key=lambda p: (p.m, p.mode != "standard")):
        if wide:
            i = int(np.nanargmax(p.delta_mean)) if np.any(np.isfinite(p.delta_mean)) else 0
            greeks = [f"{names[i]}: {num(p.delta_mean[i], gf.get(names[i], 1.0))}"]
        else:
            greeks = [num_sd({"mean": m, "sd": s}, gf.get(n, 1.0))
                      for n, m, s in zip(names, p.delta_mean, p.delta_sd, strict=False)]
            greeks += [""] * (len(names) - len(greeks))
        if gwide:
            i = int(np.nanargmax(p.gamma_mean)) if np.any(np.isfinite(p.gamma_mean)) else 0
            gammas = [f"{gnames[i]}: {num(p.gamma_mean[i])}"]
        else:
            gammas = [num_sd({"mean": m, "sd": s}) for m, s in zip(p.gamma_mean, p.gamma_sd,
                                                                   strict=False)]
            gammas += [""] * (len(gnames) - len(gammas))
        entry = se.get(str(p.m)) if isinstance(se.get(str(p.m)), Mapping) else {}
        rows.append({"m": p.m, "mode": p.mode, "n_seeds": p.n_seeds,
                     "value": num_sd({"mean": p.value_mean, "sd": p.value_sd}, vf),
                     "rel": pct(p.value_rel_mean), "se": num(entry.get("value"), vf),
                     "greeks": greeks, "gammas": gammas, "fit": _seconds(p.fit_seconds)})
    return {"rows": rows, "greek_names": headers, "gamma_names": gheaders, "unit": unit,
            "value_factor": vf, "wide": wide or gwide,
            "n_seeds": max((p.n_seeds for p in pts), default=0),
            "has_se": bool(se), "bias": bias_note(noise, names, vf, gf)}


#: |z| above which the labels' mean difference from the reference is called a bias.
BIAS_Z = 4.0


def _bias_item(b: Any, name: str, factor: float) -> tuple[float, str] | None:
    if not isinstance(b, Mapping) or not finite(b.get("z")):
        return None
    text = (f"{name} {num(b.get('mean'), factor)} ± {num(b.get('standard_error'), factor)} "
            f"(z = {b['z']:.1f})")
    return abs(float(b["z"])), text


def bias_note(noise: Mapping[str, Any], names: Sequence[str], vf: float,
              gf: Mapping[str, float]) -> str:
    """One sentence on ``mc_noise.bias``: the labels' mean difference from the reference ± its
    standard error, for the value and the Greek of largest |z|, and whether it is a bias
    (|z| > :data:`BIAS_Z`). Empty when the run did not record it."""
    bias = noise.get("bias") if isinstance(noise.get("bias"), Mapping) else None
    if bias is None:
        return ""
    value = _bias_item(bias.get("value"), "value ×100" if vf != 1.0 else "value", vf)
    greeks = bias.get("greek") if isinstance(bias.get("greek"), Mapping) else {}
    items = [it for n in names if (it := _bias_item(
        greeks.get(n), greek_label(n, gf.get(n, 1.0)), gf.get(n, 1.0))) is not None]
    worst = max(items, default=None)
    shown = [t for t in (value, worst) if t is not None]
    if not shown:
        return ""
    n = (bias.get("value") or {}).get("n", "—") if isinstance(bias.get("value"), Mapping) else "—"
    verdict = ("no bias beyond the standard error" if max(z for z, _ in shown) <= BIAS_Z else
               f"|z| > {BIAS_Z:g}: the labels are biased (the simulation scheme's "
               "discretisation, e.g. Euler steps, or a simulator/reference mismatch), and the "
               "bias counts in the surrogates' error against the reference")
    return (f"Labels against the reference, mean difference ± standard error over {n} labels: "
            f"{'; '.join(t for _, t in shown)}{' (the worst input)' if len(items) > 1 else ''}"
            f": {verdict}.")


def _seconds(v: Any) -> str:
    if not finite(v):
        return "—"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


# ----- by moneyness ------------------------------------------------------------------------------
def _bucket_name(low: Any, high: Any) -> str:
    if low is None and high is None:
        return "all"
    if low is None:
        return f"< {high:g}"
    if high is None:
        return f"≥ {low:g}"
    return f"{low:g} – {high:g}"


def moneyness_table(sc: Mapping[str, Any], inputs: Sequence[str]) -> dict[str, Any] | None:
    """The summary's errors per moneyness bucket: value RMSE and relative error per mode, and
    per-input Greek RMSEs (standard / differential)."""
    summ = sc.get("summary") if isinstance(sc.get("summary"), Mapping) else {}
    bm = summ.get("by_moneyness")
    if not isinstance(bm, Mapping) or not bm.get("buckets"):
        return None
    vf, gf, unit = factors(sc, inputs)
    modes = [m for m in _MODES if any(m in _mode_block(b.get("value_rmse"))
                                      for b in bm["buckets"] if isinstance(b, Mapping))]
    names = [n for n in inputs][:MAX_TABLE_INPUTS] if len(inputs) <= MAX_TABLE_INPUTS else []
    rows = []
    for b in bm["buckets"]:
        if not isinstance(b, Mapping):
            continue
        vr, rel = _mode_block(b.get("value_rmse")), _mode_block(b.get("value_relative"))
        gr = _mode_block(b.get("greek_rmse"))
        rows.append({
            "bucket": _bucket_name(b.get("low"), b.get("high")), "n": b.get("n", "—"),
            "scale": num(_mode_block(b.get("scale")).get("value"), vf),
            "value": " / ".join(num_sd(vr.get(m), vf) for m in modes),
            "rel": " / ".join(pct_sd(rel.get(m)) for m in modes),
            "greeks": [" / ".join(num_sd(_mode_block(gr.get(m)).get(n), gf.get(n, 1.0))
                                  for m in modes) for n in names]})
    return {"definition": str(bm.get("definition") or "underlying / strike"), "rows": rows,
            "modes": " / ".join(modes), "greek_names": [greek_label(n, gf.get(n, 1.0))
                                                        for n in names], "unit": unit}


# ----- hedging -----------------------------------------------------------------------------------
def hedging_table(sc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The delta-hedging experiment: RMS P&L per hedge, against the unhedged position and the
    closed form's hedge. The option is valued (sold, and at the horizon) and hedged by the
    risk-free closed form (:func:`pipeline.diagnostics.hedging`): the scenario's reference
    without XVA, the risk-free value the surrogates learn under one (``value_by`` says which)."""
    h = sc.get("hedging")
    if not isinstance(h, Mapping) or not isinstance(h.get("reference"), Mapping):
        return None
    params = sc.get("parameters") if isinstance(sc.get("parameters"), Mapping) else {}
    ref = sc.get("reference") if isinstance(sc.get("reference"), Mapping) else {}
    method = str(ref.get("method") or "")
    if params.get("xva") is not None:
        name = {"pinn": "PINN", "fd": "FD", "analytic": "closed-form"}.get(method, method)
        value_by = ("its risk-free closed-form value (no XVA: the value the surrogates learn, not "
                    f"the scenario's risky {name or 'reference'} reference)")
        closed = "risk-free closed-form deltas"
    elif method in ("", "analytic"):
        value_by, closed = "the reference (closed-form) price", "reference deltas"
    else:
        value_by = f"its closed-form value (the scenario's reference is {method})"
        closed = "closed-form deltas"
    unhedged = _mode_block(h.get("unhedged")).get("rms")
    rows = []
    for key, name in (("unhedged", "no hedge"), ("reference", closed),
                      *((m, f"{m} surrogate deltas") for m in _MODES)):
        r = h.get(key)
        if not isinstance(r, Mapping):
            continue
        rows.append({"name": name, "rms": num(r.get("rms")), "mean": num(r.get("mean")),
                     "vs_ref": num(r.get("vs_reference_rms")) if key in _MODES else "—",
                     "of_unhedged": pct(r["rms"] / unhedged) if finite(r.get("rms"))
                     and finite(unhedged) and unhedged > 0 else "—"})
    horizon = h.get("horizon")
    return {"rows": rows, "paths": h.get("paths", "—"), "steps": h.get("steps", "—"),
            "horizon": f"{horizon * 252:.0f} trading days" if finite(horizon) else "—",
            "greeks_at": str(h.get("greeks_at") or ""), "value_by": value_by,
            "closed": closed}


# ----- test-set errors from the arrays -----------------------------------------------------------
def _as_2d(x: Any, n: int) -> np.ndarray:
    return np.asarray(x, dtype=float).reshape(n, -1)


def test_errors(arrays: Mapping[str, np.ndarray], modes: Sequence[str], inputs: Sequence[str],
                sc: Mapping[str, Any], pinn: tuple | None = None) -> dict[str, Any]:
    """Test-set errors per predictor from the arrays, by :func:`surrogate_errors`: value RMSE
    and relative error, per-input Greek RMSEs (the worst input beyond
    :data:`MAX_TABLE_INPUTS`), gamma per spot input where both gammas are stored, log10
    relative errors of the value. ``pinn``: ``(name, price, grad, ref_price, ref_grad)``."""
    ref0 = np.asarray(arrays["ref_price"], dtype=float)
    n = ref0.shape[0]
    rg0 = _as_2d(arrays["ref_grad"], n) if "ref_grad" in arrays else None
    rq0 = _as_2d(arrays["ref_gamma"], n) if "ref_gamma" in arrays else None
    d = 0 if rg0 is None else rg0.shape[1]
    names = list(inputs)[:d] + [f"x{i}" for i in range(len(inputs), d)]
    vf, gf, unit = factors(sc, names)
    wide = d > MAX_TABLE_INPUTS
    gnames = spot_inputs(names)[: 0 if rq0 is None else rq0.shape[1]]
    gwide = len(gnames) > MAX_TABLE_INPUTS
    preds = [(m, arrays.get(f"pred_price_{m}"), arrays.get(f"pred_grad_{m}"),
              arrays.get(f"pred_gamma_{m}"), ref0, rg0, rq0) for m in modes]
    if pinn is not None:
        preds.append((*pinn[:3], None, *pinn[3:], None))
    rows = []
    for name, pp, pg, pq, ref, rg, rq in preds:
        if pp is None:
            continue
        ok = rg is not None and pg is not None and _as_2d(pg, n).shape == rg.shape
        okq = ok and rq is not None and pq is not None and _as_2d(pq, n).shape == rq.shape
        e = surrogate_errors(pp, ref, _as_2d(pg, n) if ok else None, rg if ok else None,
                             inputs=names, pred_gamma=_as_2d(pq, n) if okq else None,
                             ref_gamma=rq if okq else None)
        g = e.get("greek_rmse") or {}
        if rg is None:
            greeks = []
        elif not ok:
            greeks = ["—"] * (1 if wide else d)
        elif wide:
            worst = max(g, key=lambda k: g[k] if finite(g[k]) else -math.inf)
            greeks = [f"{worst}: {num(g[worst], gf.get(worst, 1.0))} "
                      f"({pct(e['greek_relative'][worst])})"]
        else:
            greeks = [f"{num(g[k], gf.get(k, 1.0))} ({pct(e['greek_relative'][k])})"
                      for k in names]
        q = e.get("gamma_rmse") or {}
        if not gnames:
            gammas = []
        elif gwide:
            worst_q = max(gnames, key=lambda k: q[k] if finite(q.get(k)) else -math.inf)
            gammas = [f"{worst_q}: {num(q.get(worst_q))}" if okq else "—"]
        else:
            gammas = [num(q.get(k)) for k in gnames]
        le = log10_relative_errors(pp, ref)
        rows.append({"name": name, "rmse": num(e["value_rmse"], vf),
                     "rel": pct(e["value_relative"]), "greeks": greeks, "gammas": gammas,
                     "l1": _log(le["l1"]), "l2": _log(le["l2"]), "linf": _log(le["linf"])})
    headers = [] if rg0 is None else ([worst_label(names, gf, "RMSE")] if wide else
                                      [greek_label(k, gf.get(k, 1.0)) for k in names])
    gheaders = ([gamma_label(None, vf, len(gnames))] if gwide
                else [gamma_label(k, vf) for k in gnames])
    return {"rows": rows, "greek_names": headers, "gamma_names": gheaders if gnames else [],
            "unit": unit, "wide": wide or gwide}


# ----- regressions and the Prefect artifact ------------------------------------------------------
def regression_value(metric: str, v: Any) -> str:
    """A regression's previous / current value in the metric's own units."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _log(v) if metric.split(".")[-1].startswith("log10") else f"{v:.4g}"
    return "—" if v is None else str(v)


def markdown_cells(sc: Mapping[str, Any]) -> tuple[str, str, str]:
    """Value RMSE (price units) and relative value error, standard / differential, and the
    checks, for the Prefect artifact's table."""
    k = key_cells(sc)
    return (f"{k['value_std']} / {k['value_diff']}", f"{k['rel_std']} / {k['rel_diff']}",
            k["checks"]["text"])
