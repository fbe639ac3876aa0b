"""The PINN reference step: solve the scenario's (XVA) pricing PDE and score it on the test set."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np

from evaluation.metrics import log10_relative_errors, rmse

from .config import RunConfig, Scenario


def problem_for(model, product, xva):
    """The training.pinn problem of a (model, product, XVA) triple: the ``pde_problem`` slot of
    :mod:`pipeline.registry` (``ValueError``, a ``NoReference``, when the pair has none)."""
    from .registry import pde_problem

    return pde_problem(model, product, xva)


# 2-D problems: 21 times x 41 x 41 states (35k points). The solver's 1-D default of 51 x 201 per
# axis would mean 2 million points with Hessians in 2-D (tens of GB).
DEFAULT_2D_COLLOCATION = {"type": "UniformGrid", "n_tau": 21, "n_space": 41}


def _config(settings, dim: int):
    from training import pinn
    from training.pinn.collocation import collocation_from_dict

    opts = dict(settings.options)
    if dim > 1 and "collocation" not in opts:
        opts["collocation"] = dict(DEFAULT_2D_COLLOCATION)
    if isinstance(opts.get("collocation"), dict):
        opts["collocation"] = collocation_from_dict(opts["collocation"])
    recipe = {"boundary_safe": pinn.PINNConfig.faithful, "classical": pinn.PINNConfig.classical,
              "best": pinn.PINNConfig.best}[settings.variant]
    return recipe(**opts)


def run(cfg: RunConfig, scenario: Scenario, ref: dict, run_dir: Path) -> dict:
    """Train the PINN, compare it with the reference on the test set, save it under run_dir."""
    from . import references as refs

    t0 = time.perf_counter()
    objs = scenario.objects()
    model, product, xva = objs["model"], objs["product"], objs["xva"]
    sol, reused = _trained(problem_for(model, product, xva), scenario, objs, run_dir)
    x = ref["x"]
    greeks = sol.greeks(x if x.shape[1] > 1 else x[:, 0])
    price = np.asarray(greeks["price"]).ravel()
    errors = log10_relative_errors(price, ref["price"])
    metrics = {"variant": scenario.pinn.variant,
               **{f"log10_rel_{k}": v for k, v in errors.items()},
               "train_seconds": float(sol.stats.get("train_seconds", 0.0)),
               "status": sol.stats.get("status"),
               "history": {k: np.asarray(v).tolist() for k, v in sol.history.items()}}
    if ref["grad"] is not None:
        delta = np.asarray(greeks["delta"]).reshape(len(x), -1)
        n = delta.shape[1]
        metrics["delta_rmse"] = [float(v) for v in rmse(delta, ref["grad"][:, :n], axis=0)]
    arrays = {"pinn_price": price}
    for key in ("delta", "gamma", "vega"):
        if key in greeks:
            arrays[f"pinn_{key}"] = np.asarray(greeks[key])
    if x.shape[1] == 2:
        lo, hi = x.min(axis=0), x.max(axis=0)
        g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 41), np.linspace(lo[1], hi[1], 41))
        pts = np.column_stack([g0.ravel(), g1.ravel()])
        grid_ref = refs.compute(scenario.reference.method if scenario.reference.method != "pinn"
                                else "fd", model, product, pts, xva, scenario.reference.fd)
        pred = np.asarray(sol.price(pts)).ravel().reshape(g0.shape)
        arrays.update(pinn_grid_x=g0[0], pinn_grid_y=g1[:, 0], pinn_grid_pred=pred,
                      pinn_grid_ref=np.asarray(grid_ref.price).reshape(g0.shape))
    metrics["reused"] = reused
    sol.save(run_dir / "models" / f"{scenario.id}-pinn")
    return {"metrics": metrics, "arrays": arrays, "seconds": time.perf_counter() - t0,
            "path": f"models/{scenario.id}-pinn"}


def _trained(problem, scenario: Scenario, objs: dict, run_dir: Path):
    """The trained PINN of this problem and settings: from ``<runs>/.cache/pinn/<key>/`` when
    the same problem was solved with the same settings before, else trained and cached."""
    from training.pinn import PINNSolution, solve

    config = _config(scenario.pinn, problem.dim)
    blob = json.dumps({"model": objs["model"].to_dict(), "product": objs["product"].to_dict(),
                       "xva": None if objs["xva"] is None else objs["xva"].to_dict(),
                       "config": config.to_dict()}, sort_keys=True, default=str)
    cache = run_dir.parent / ".cache" / "pinn" / hashlib.sha256(blob.encode()).hexdigest()[:16]
    if (cache / "done").is_file():
        return PINNSolution.load(cache), True
    sol = solve(problem, config)
    tmp = cache.with_name(cache.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    sol.save(tmp)
    (tmp / "done").write_text("")
    if cache.exists():
        shutil.rmtree(cache)
    tmp.rename(cache)
    return sol, False
