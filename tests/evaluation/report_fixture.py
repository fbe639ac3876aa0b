"""A synthetic run directory following docs/run-format.md, for the report tests.

Three scenarios:

* ``bs_call``: Black-Scholes 1D call, learning curves (3 seeds, standard and differential),
  analytic reference, arrays for slices;
* ``basket_xva``: two-asset basket with XVA, learning curves, 2D slices, PINN results (metrics,
  loss history, error grid, Greeks at the test points) and risky / risk-free curves;
* ``worst_of``: failed at training, label and parameters containing ``<script>``.

Numbers are synthetic but shaped like the real thing (RMSE ~ m^-1/2, differential below standard,
errors smooth in the inputs); ``value_factor`` / ``pinn_factor`` scale the errors to plant
regressions in trend tests.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

EVIL = "<script>alert('x')</script>"
STAMPS = ("20261119T020000Z", "20261120T020000Z", "20261121T020000Z")


def _ncdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def bs_call(spot: np.ndarray, strike: float, vol: float, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Black-Scholes call price and delta at zero rates."""
    s = np.asarray(spot, dtype=float)
    d1 = (np.log(s / strike) + 0.5 * vol * vol * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    return s * _ncdf(d1) - strike * _ncdf(d2), _ncdf(d1)


def _curve(base: float, factor: float, rng: np.random.Generator, inputs: int | list[str],
           value_scale: float = 0.1) -> list[dict]:
    """Learning-curve entries as the pipeline writes them: value RMSE in price units and
    relative to ``value_scale``, Greek RMSE per named input (and the same as a list)."""
    names = [f"spot_{i + 1}" for i in range(inputs)] if isinstance(inputs, int) else inputs
    out = []
    for mode, k in (("standard", 3.0), ("differential", 1.0)):
        for m in (256, 512, 1024, 2048, 4096):
            for seed in range(3):
                scale = base * k * math.sqrt(256 / m) * (1 + 0.08 * rng.standard_normal())
                f = factor if mode == "differential" else 1.0
                greeks = {n: 6.0 * scale * (1 + 0.3 * i) for i, n in enumerate(names)}
                out.append({
                    "mode": mode, "m": m, "seed": seed, "value_rmse": scale * f,
                    "value_relative": scale * f / value_scale,
                    "greek_rmse": greeks, "greek_relative": {n: v / 0.5 for n, v in greeks.items()},
                    "delta_rmse": list(greeks.values()),
                    "fit_seconds": 0.002 * m,
                })
    return out


def _stat(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1))}


def _summary(curve: list[dict], value_scale: float = 0.1, strike: float = 1.0) -> dict:
    """The summary block of the largest size, as steps.summarise writes it."""
    m = max(e["m"] for e in curve)
    out: dict[str, Any] = {"m": m, "value_rmse": {}, "value_relative": {}, "greek_rmse": {},
                           "greek_relative": {}}
    for mode in ("standard", "differential"):
        rows = [e for e in curve if e["mode"] == mode and e["m"] == m]
        out["value_rmse"][mode] = _stat([e["value_rmse"] for e in rows])
        out["value_relative"][mode] = _stat([e["value_relative"] for e in rows])
        names = list(rows[0]["greek_rmse"])
        out["greek_rmse"][mode] = {n: _stat([e["greek_rmse"][n] for e in rows]) for n in names}
        out["greek_relative"][mode] = {n: _stat([e["greek_relative"][n] for e in rows])
                                       for n in names}
    out["scale"] = {"value": value_scale, "greek": dict.fromkeys(names, 0.5),
                    "strike": strike, "unit_spot": 0.5 <= strike <= 2.0}
    out["mc_standard_error"] = {"value": 0.12 / 64, "greek": dict.fromkeys(names, 0.4 / 64)}
    out["by_moneyness"] = {"definition": f"spot / strike {strike:g}", "buckets": [
        {"low": low, "high": high, "n": 40,
         "value_rmse": {md: {"mean": f * out["value_rmse"][md]["mean"], "sd": 0.0}
                        for md in ("standard", "differential")},
         "value_relative": {md: {"mean": f * out["value_relative"][md]["mean"], "sd": 0.0}
                            for md in ("standard", "differential")},
         "greek_rmse": {md: {n: {"mean": f * s["mean"], "sd": 0.0}
                             for n, s in out["greek_rmse"][md].items()}
                        for md in ("standard", "differential")},
         "scale": {"value": value_scale * f}}
        for low, high, f in ((None, 0.95, 0.5), (0.95, 1.05, 2.0), (1.05, None, 1.0))]}
    return out


def _checks(inputs: list[str], failing: tuple[str, str] | None = None) -> dict:
    """Shape checks of a long call: every rule passes except ``failing`` = (predictor, rule)."""
    rules = [("value ≥ 0", "value", None)] + [
        (f"0 ≤ delta {n} ≤ 1", "greek", n) for n in inputs] + [
        (f"convex in {n} (gamma ≥ 0)", "gamma", n) for n in inputs]
    out = []
    for predictor in ("reference", "standard", "differential"):
        for rule, quantity, name in rules:
            entry = {"predictor": predictor, "rule": rule, "quantity": quantity, "input": name,
                     "passed": True, "violations": 0, "n": 120, "tolerance": 0.01}
            if (predictor, rule) == failing:
                entry.update(passed=False, violations=7, worst=-0.3, bound=0.0,
                             at=[0.55] * len(inputs))
            out.append(entry)
    return {"tolerance": 0.02, "note": f"long call: {len(rules)} rules", "results": out}


def make_run(
    root: str | Path,
    *,
    name: str = "nightly",
    stamp: str = STAMPS[-1],
    value_factor: float = 1.0,
    pinn_factor: float = 1.0,
    previous: str | None = None,
    fail_worst_of: bool = True,
) -> Path:
    """Write ``root/<name>-<stamp>/`` (metrics.json, config.yaml, arrays/*.npz) and return it."""
    run = Path(root) / f"{name}-{stamp}"
    (run / "arrays").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12)

    # --- bs_call: 1D -------------------------------------------------------------------------
    x1 = np.linspace(0.5, 1.6, 120)[:, None]
    p1, d1 = bs_call(x1[:, 0], 1.1, 0.2, 1.0)
    s = x1[:, 0]
    np.savez(
        run / "arrays" / "bs_call.npz", x_test=x1, ref_price=p1, ref_grad=d1[:, None],
        pred_price_standard=p1 + 0.006 * np.sin(9 * s),
        pred_grad_standard=(d1 + 0.05 * np.cos(7 * s))[:, None],
        pred_price_differential=p1 + 0.002 * value_factor * np.sin(5 * s),
        pred_grad_differential=(d1 + 0.015 * np.cos(5 * s))[:, None],
    )
    curve1 = _curve(0.004, value_factor, rng, ["spot"])

    # --- basket_xva: 2D with PINN -----------------------------------------------------------
    n = 300
    x2 = rng.uniform(0.6, 1.4, size=(n, 2))
    avg = x2.mean(axis=1)
    p2, dd = bs_call(avg, 1.0, 0.16, 1.0)
    g2 = np.stack([0.5 * dd, 0.5 * dd], axis=1)
    noise = np.sin(6 * x2[:, 0]) * np.cos(4 * x2[:, 1])
    pinn_p = p2 * (1 + 2e-3 * pinn_factor * noise)
    pinn_g = g2 * (1 + 5e-3 * pinn_factor * noise)[:, None]
    gx = np.linspace(0.6, 1.4, 41)
    gy = np.linspace(0.6, 1.4, 37)
    X, Y = np.meshgrid(gx, gy)
    gref, _ = bs_call((X + Y).ravel() / 2, 1.0, 0.16, 1.0)
    gref = gref.reshape(X.shape)
    gpred = gref * (1 + 2e-3 * pinn_factor * np.sin(6 * X) * np.cos(4 * Y)) + 1e-5
    xs = np.linspace(0.6, 1.4, 80)
    rf, _ = bs_call(xs, 1.0, 0.16, 1.0)
    np.savez(
        run / "arrays" / "basket_xva.npz", x_test=x2, ref_price=p2, ref_grad=g2,
        pred_price_standard=p2 + 0.01 * noise, pred_grad_standard=g2 + 0.04 * noise[:, None],
        pred_price_differential=p2 + 0.003 * value_factor * noise,
        pred_grad_differential=g2 + 0.01 * noise[:, None],
        pinn_price=pinn_p, pinn_grad=pinn_g,
        pinn_grid_x=gx, pinn_grid_y=gy, pinn_grid_ref=gref, pinn_grid_pred=gpred,
        xva_x=xs, xva_risk_free=rf, xva_risky=rf * (1 - 0.025) - 0.002 * np.maximum(xs - 1, 0),
    )
    curve2 = _curve(0.006, value_factor, rng, ["spot_1", "spot_2"])
    steps = np.arange(0, 2000, 20, dtype=float)
    decay = np.exp(-steps / 500.0)
    history = {
        "step": steps.tolist(),
        "total": (1e-1 * decay + 2e-5).tolist(),
        "interior": (6e-2 * decay + 1e-5).tolist(),
        "boundary": (3e-2 * decay + 6e-6).tolist(),
        "initial": (1e-2 * decay + 4e-6).tolist(),
    }
    err = pinn_p - p2
    lr = {k: math.log10(np.linalg.norm(err, o) / np.linalg.norm(p2, o))
          for k, o in (("l1", 1), ("l2", 2), ("linf", np.inf))}

    base_stage = {"simulate": 0.4, "train": 3.0, "reference": 0.1, "pinn": 0.0, "evaluate": 0.02}
    scenarios: dict[str, Any] = {
        "bs_call": {
            "status": "ok", "error": None,
            "label": "Black-Scholes call, K = 1.10, T = 1 (Huge & Savine fig. 3)",
            "parameters": {
                "model": {"type": "BlackScholes", "vol": 0.2, "rate": 0.0, "dividend": 0.0},
                "product": {"type": "European", "strike": 1.1, "maturity": 1.0, "kind": "call"},
                "sampler": {"type": "ForwardSampler", "spot": 1.0, "horizon": 1.0, "vol_mult": 1.5},
                "xva": None, "seed": 1, "antithetic": False,
            },
            "inputs": ["spot"],
            "dataset": {"path": "datasets/bs-1a2b3c4d5e6f", "hash": "1a2b3c4d5e6f" + "0" * 52,
                        "n_paths": 8192, "reused": True, "backend": "cpu", "seconds": 0.4},
            "reference": {"method": "analytic", "n_test": 120,
                          "cross_checks": {"fd": {"max_abs_price_diff": 1e-5,
                                                  "max_abs_greek_diff": {"spot": 1e-4}}}},
            "mc_noise": {"value_std": 0.12, "delta_std": [0.4], "greek_std": {"spot": 0.4},
                         "standard_error": {str(m): {"value": 0.12 / math.sqrt(m),
                                                     "greek": {"spot": 0.4 / math.sqrt(m)}}
                                            for m in (256, 512, 1024, 2048, 4096)}},
            "learning_curve": curve1,
            "summary": _summary(curve1, strike=1.1),
            "checks": _checks(["spot"]),
            "hedging": {"horizon": 1 / 12, "steps": 21, "paths": 3840,
                        "greeks_at": "time to maturity T at the current spot",
                        "unhedged": {"rms": 0.04, "mean": 0.0, "sd": 0.04, "paths": 3840},
                        "reference": {"rms": 0.0007, "mean": 0.0, "sd": 0.0007, "paths": 3840},
                        "standard": {"rms": 0.003, "mean": 0.0, "sd": 0.003, "paths": 3840,
                                     "vs_reference_rms": 0.0029},
                        "differential": {"rms": 0.001, "mean": 0.0, "sd": 0.001,
                                         "paths": 3840, "vs_reference_rms": 0.0008}},
            "pinn": None,
            "stage_seconds": base_stage,
            "models": {"standard": "models/bs_call-standard",
                       "differential": "models/bs_call-differential"},
        },
        "basket_xva": {
            "status": "ok", "error": None,
            "label": "Basket of 2 (BS), call on the average, with XVA: DML and PINN",
            "parameters": {
                "model": {"type": "BlackScholesBasket", "spots": [1.0, 1.0], "vols": [0.2, 0.2],
                          "rho": 0.5, "rate": 0.0, "dividends": [0.0, 0.0]},
                "product": {"type": "BasketOption", "weights": [0.5, 0.5], "strike": 1.0,
                            "maturity": 1.0, "kind": "call"},
                "sampler": {"type": "UniformSampler", "low": [0.6, 0.6], "high": [1.4, 1.4]},
                "xva": {"lambda_b": 0.01, "lambda_c": 0.03, "recovery_b": 0.4, "recovery_c": 0.4,
                        "funding_spread": 0.005},
                "seed": 2, "antithetic": True,
            },
            "inputs": ["spot_1", "spot_2"],
            "dataset": {"path": "datasets/basket-abcdef012345", "hash": "abcdef012345" + "1" * 52,
                        "n_paths": 16384, "reused": False, "backend": "cpu", "seconds": 1.3},
            "reference": {"method": "pinn", "n_test": n, "cross_checks": {}},
            "mc_noise": {"value_std": 0.09, "delta_std": [0.35, 0.35]},
            "learning_curve": curve2,
            "summary": _summary(curve2, value_scale=0.12),
            "checks": _checks(["spot_1", "spot_2"],
                              failing=("standard", "convex in spot_1 (gamma ≥ 0)")),
            "pinn": {
                "variant": "boundary_safe", "log10_rel_l1": lr["l1"], "log10_rel_l2": lr["l2"],
                "log10_rel_linf": lr["linf"],
                "at_points": [{"point": [1.0, 1.0], "price_rel_err": 1.2e-4 * pinn_factor,
                               "delta_rel_err": 8e-4 * pinn_factor},
                              {"point": [1.2, 0.8], "price_rel_err": 2.0e-4 * pinn_factor,
                               "delta_rel_err": 1.1e-3 * pinn_factor}],
                "history": history, "train_seconds": 40.0,
            },
            "stage_seconds": {**base_stage, "pinn": 40.0},
            "models": {"standard": "models/basket_xva-standard",
                       "differential": "models/basket_xva-differential"},
        },
        "worst_of": {
            "status": "failed" if fail_worst_of else "ok",
            "error": "train: <b>NaN</b> loss at step 12" if fail_worst_of else None,
            "label": f"Worst-of {EVIL} $K$ & co",
            "parameters": {
                "model": {"type": "BlackScholesBasket", "spots": [1.0, 1.0], "vols": [0.3, 0.25],
                          "rho": 0.3},
                "product": {"type": "WorstOf", "strike": 1.0, "maturity": 1.0, "kind": "put",
                            "note": EVIL},
                "sampler": None, "xva": None, "seed": 3, "antithetic": False,
            },
            "inputs": ["spot_1", "spot_2"],
            "dataset": None, "reference": None, "mc_noise": None,
            "learning_curve": [], "summary": None, "pinn": None,
            "stage_seconds": {"simulate": 0.3, "train": 0.1},
            "models": {},
        },
    }
    metrics = {
        "schema_version": 1,
        "run": {
            "name": name, "stamp": stamp, "dir": f"runs/{name}-{stamp}",
            "started": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T02:00:00Z",
            "finished": f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T02:03:12Z",
            "status": "partial" if fail_worst_of else "ok",
            "package_version": "0.1.0", "backend": "cpu",
            "dask": {"address": None, "n_workers": 2},
            "stage_seconds": {"simulate": 2.0, "train": 6.1, "reference": 0.2, "pinn": 40.0,
                              "evaluate": 0.1},
            "previous": previous,
        },
        "scenarios": scenarios,
        "regressions": [],
    }
    (run / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    config = {"name": name, "backend": "cpu", "seed": 1,
              "scenarios": [{"id": k, "label": v["label"], **v["parameters"]}
                            for k, v in scenarios.items()]}
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return run


def make_history(root: str | Path, factors: tuple[float, ...] = (1.0, 1.03, 1.0),
                 name: str = "nightly", fail_worst_of: bool = True) -> list[Path]:
    """Runs at :data:`STAMPS` with the given differential error factors (oldest first)."""
    out: list[Path] = []
    for stamp, f in zip(STAMPS, factors, strict=False):
        prev = str(out[-1]) if out else None
        out.append(make_run(root, name=name, stamp=stamp, value_factor=f, pinn_factor=f,
                            previous=prev, fail_worst_of=fail_worst_of))
    return out


def make_pipeline_style_run(root: str | Path, stamp: str = STAMPS[-1]) -> Path:
    """A run shaped like ``pipeline.flows.evaluate`` writes it (as of its first version).

    * ``heston_pinn``: inputs (spot, variance), PINN only; Greeks as ``pinn_delta`` (n,) and
      ``pinn_vega`` (n,); the grid as 2D meshgrids ``pinn_grid_x``/``pinn_grid_y`` with
      ``pinn_grid_err`` (no reference on the grid); history keys step/loss/lr and terms, with
      ``null`` where a term was not yet recorded; non-finite numbers written as ``null``.
    * ``bs_put``: 1D, reference without gradient (``ref_grad`` absent), one training mode,
      ``mc_noise.delta_std = null``, PINN with ``pinn_delta`` (n,).
    """
    run = Path(root) / f"nightly-{stamp}"
    (run / "arrays").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    n = 200
    x = np.column_stack([rng.uniform(60, 140, n), rng.uniform(0.01, 0.16, n)])
    vol = np.sqrt(x[:, 1])
    ref, delta = bs_call(x[:, 0] / 100.0, 1.0, 0.2, 1.0)
    ref, delta = 100 * ref * (1 + 0.5 * (vol - 0.2)), delta * (1 + 0.5 * (vol - 0.2))
    vega = 50 * ref / np.maximum(vol, 0.05) / 100
    wiggle = np.sin(x[:, 0] / 9) * np.cos(x[:, 1] * 30)
    g0, g1 = np.meshgrid(np.linspace(60, 140, 41), np.linspace(0.01, 0.16, 41))
    np.savez_compressed(
        run / "arrays" / "heston_pinn.npz", x_test=x, ref_price=ref,
        ref_grad=np.column_stack([delta, vega]),
        pinn_price=ref + 0.02 * wiggle, pinn_delta=delta + 0.003 * wiggle,
        pinn_vega=vega * (1 + 0.01 * wiggle), pinn_gamma=0.01 + 0 * wiggle,
        pinn_grid_x=g0, pinn_grid_y=g1,
        pinn_grid_err=0.02 * np.sin(g0 / 9) * np.cos(g1 * 30),
    )
    s = np.linspace(0.5, 1.5, 60)[:, None]
    p, d = bs_call(s[:, 0], 1.0, 0.2, 1.0)
    np.savez_compressed(
        run / "arrays" / "bs_put.npz", x_test=s, ref_price=p,
        pred_price_differential=p + 0.001 * np.sin(8 * s[:, 0]),
        pred_grad_differential=(d + 0.01 * np.cos(8 * s[:, 0]))[:, None],
        pinn_price=p * (1 + 1e-3 * np.cos(5 * s[:, 0])), pinn_delta=d + 1e-3,
    )
    steps = list(range(0, 1000, 50))
    history = {"step": steps, "loss": [float(np.exp(-i / 300)) for i in steps],
               "lr": [1e-3] * len(steps),
               "interior": [float(0.7 * np.exp(-i / 300)) for i in steps],
               "boundary": [float(0.3 * np.exp(-i / 300)) for i in steps],
               "adaptive": [None] * 5 + [float(0.1 * np.exp(-i / 300)) for i in steps[5:]]}
    curve = [{"mode": "differential", "m": m, "seed": 0, "value_rmse": 0.01 / np.sqrt(m / 256),
              "delta_rmse": [0.05 / np.sqrt(m / 256)], "fit_seconds": 0.1}
             for m in (256, 1024, 4096)]
    pinn_common = {"variant": "boundary_safe", "train_seconds": 12.0, "status": "completed",
                   "history": history}
    scenarios = {
        "heston_pinn": {
            "status": "ok", "error": None, "label": "Heston call, PINN against FD",
            "parameters": {"model": {"spot": 100.0, "variance": 0.04, "kappa": 1.5,
                                     "theta": 0.04, "xi": 0.5, "rho": -0.7},
                           "product": {"strike": 100.0, "maturity": 1.0, "kind": "call"},
                           "sampler": {"low": [60, 0.01], "high": [140, 0.16]}, "xva": None,
                           "seed": 1, "antithetic": False},
            "inputs": ["spot", "variance"], "dataset": None,
            "reference": {"method": "fd", "n_test": n, "cross_checks": {}},
            "mc_noise": None, "learning_curve": [], "summary": None,
            "pinn": {**pinn_common, "log10_rel_l1": -2.9, "log10_rel_l2": -2.8,
                     "log10_rel_linf": None, "delta_rmse": [0.003, 0.01]},
            "stage_seconds": {"simulate": 0.0, "reference": 2.0, "train": 0.0, "pinn": 12.0},
            "models": {}, "reused": {"dataset": None, "training": None},
        },
        "bs_put": {
            "status": "ok", "error": None, "label": "BS 1D",
            "parameters": {"model": {"vol": 0.2}, "product": {"strike": 1.0}, "sampler": {},
                           "xva": None, "seed": 1, "antithetic": False},
            "inputs": ["spot"],
            "dataset": {"path": "datasets/x", "hash": "ab" * 32, "n_paths": 4096,
                        "reused": False, "backend": "cpu", "seconds": 0.1},
            "reference": {"method": "analytic", "n_test": 60, "cross_checks": {}},
            "mc_noise": {"value_std": 0.1, "delta_std": None},
            "learning_curve": curve,
            "summary": {"m": 4096, "value_rmse": {"differential": {"mean": 0.0025, "sd": 0.0}},
                        "delta_rmse": {"differential": {"mean": 0.0125, "sd": 0.0}}},
            "pinn": {**pinn_common, "log10_rel_l1": -3.1, "log10_rel_l2": -3.0,
                     "log10_rel_linf": -2.6},
            "stage_seconds": {"simulate": 0.1, "reference": 0.0, "train": 1.0, "pinn": 12.0},
            "models": {"differential": "models/bs_put-differential"},
        },
    }
    metrics = {
        "schema_version": 1,
        "run": {"name": "nightly", "stamp": stamp, "dir": str(run),
                "started": "2026-11-21T02:00:00.123456+00:00",
                "finished": "2026-11-21T02:01:10.5+00:00", "status": "ok",
                "package_version": "0.1.0", "backend": "cpu",
                "dask": {"address": None, "n_workers": 2, "threads_per_worker": 1},
                "stage_seconds": {"simulate": 0.1, "reference": 2.0, "train": 1.0, "pinn": 24.0,
                                  "evaluate": 0.3},
                "previous": None},
        "scenarios": scenarios,
        "regressions": [],
    }
    (run / "metrics.json").write_text(json.dumps(metrics, indent=1, allow_nan=False))
    return run
