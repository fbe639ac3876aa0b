"""The PINN reference step: solve the scenario's (XVA) pricing PDE and score it on the test set."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from evaluation.metrics import PREDICTOR_KEYS, log10_relative_errors, surrogate_errors

from .config import RunConfig, Scenario

log = logging.getLogger("diffml.pipeline")


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


def trained(scenario: Scenario, run_dir: Path):
    """``(solution, reused)``: the scenario's PINN, trained or read from the cache."""
    objs = scenario.objects()
    return _trained(problem_for(objs["model"], objs["product"], objs["xva"]), scenario, objs,
                    run_dir)


def evaluate(sol, x: np.ndarray, tau: float | None = None):
    """The PINN at test inputs x (n, d) as a :class:`pipeline.references.Reference`: price,
    gradient in the order of the model's inputs (spot; spot_1, spot_2; spot, variance) and
    gamma (d2V/dspot2: (n,), or (n, 2) for two spots)."""
    from .references import Reference

    g = sol.greeks(x if x.shape[1] > 1 else x[:, 0], tau)
    n = len(x)
    delta = np.asarray(g["delta"]).reshape(n, -1)
    grad = np.column_stack([delta, np.asarray(g["vega"]).reshape(n, 1)]) if "vega" in g \
        else delta
    return Reference("pinn", np.asarray(g["price"]).ravel(), grad, np.asarray(g["gamma"]))


def reference(scenario: Scenario, x: np.ndarray, run_dir: Path):
    """``reference.method: pinn``: the trained PINN's prices and Greeks at x, and how it was
    obtained (``{"reused": bool, "train_seconds": float}``)."""
    sol, reused = trained(scenario, run_dir)
    return evaluate(sol, x), {"reused": reused,
                              "train_seconds": float(sol.stats.get("train_seconds", 0.0))}


#: Fractions of the maturity at which the PINN is compared with the FD solved to that tau.
TAU_FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def _log10_rel_l2(pred, ref) -> float | None:
    p, r = np.asarray(pred, float).ravel(), np.asarray(ref, float).ravel()
    if p.shape != r.shape or not np.any(r):
        return None
    return float(np.log10(np.linalg.norm(p - r) / np.linalg.norm(r)))


def compare_with_fd(sol, scenario: Scenario, x: np.ndarray, fd) -> tuple[dict, dict]:
    """PINN against the FD solution at x: value, delta and gamma errors at tau = T, and the
    value error at several tau (the FD solved to each tau, the PINN at that tau).

    Returns (metrics, arrays): metrics ``{"price": {l1, l2, linf}, "delta": {...},
    "gamma": {...}, "by_tau": [{"tau", "log10_rel_l2", "max_abs"}]}`` (log10 relative errors);
    arrays ``fd_price``, ``fd_grad``, ``fd_gamma`` on the test set."""
    import dataclasses

    from . import references as refs

    objs = scenario.objects()
    model, product, xva = objs["model"], objs["product"], objs["xva"]
    mine = evaluate(sol, x)
    out: dict = {"price": log10_relative_errors(mine.price, fd.price)}
    arrays = {"fd_price": np.asarray(fd.price, float)}
    if fd.grad is not None:
        out["delta"] = log10_relative_errors(mine.grad, fd.grad)
        arrays["fd_grad"] = np.asarray(fd.grad, float)
    if fd.gamma is not None and mine.gamma is not None:
        g = np.asarray(fd.gamma, float).reshape(np.shape(mine.gamma))
        out["gamma"] = log10_relative_errors(mine.gamma, g)
        arrays["fd_gamma"] = g
    rows = []
    for frac in TAU_FRACTIONS:
        tau = frac * product.maturity
        if frac == 1.0:
            ref_tau = fd.price
        else:  # the PDE is autonomous in tau: V(tau) is the solution of a tau-maturity product
            short = dataclasses.replace(product, maturity=tau)
            ref_tau = refs.finite_difference(model, short, x, xva, **scenario.reference.fd).price
        pred = np.asarray(sol.price(x if x.shape[1] > 1 else x[:, 0], tau=tau)).ravel()
        rows.append({"tau": float(tau), "log10_rel_l2": _log10_rel_l2(pred, ref_tau),
                     "max_abs": float(np.max(np.abs(pred - ref_tau)))})
    out["by_tau"] = rows
    return out, arrays


def run(cfg: RunConfig, scenario: Scenario, ref: dict, run_dir: Path) -> dict:
    """Train the PINN (or read it from the cache), compare it with the reference on the test set
    and save it under run_dir. With ``reference.method: pinn`` the PINN is the reference: it is
    compared with the FD cross-check instead (value, Greeks, error by tau), when there is one."""
    from . import references as refs

    t0 = time.perf_counter()
    objs = scenario.objects()
    model, product, xva = objs["model"], objs["product"], objs["xva"]
    sol, reused = _trained(problem_for(model, product, xva), scenario, objs, run_dir)
    if "pinn" in ref:  # trained by the reference step of this run
        reused = ref["pinn"]["reused"]
    x = ref["x"]
    greeks = sol.greeks(x if x.shape[1] > 1 else x[:, 0])
    price = np.asarray(greeks["price"]).ravel()
    is_reference = ref["method"] == "pinn"
    fd_check = ref.get("check_values", {}).get("fd")
    if not is_reference:
        target, against = {"price": ref["price"], "grad": ref["grad"]}, ref["method"]
    elif fd_check is not None:
        target, against = fd_check, "fd"
    else:
        target, against = None, None
    metrics = {"variant": scenario.pinn.variant, "base": sol.stats.get("base"),
               "faces": sol.stats.get("faces"), "reference": is_reference,
               "compared_with": against, "payoff_sign": int(sol.problem.payoff_sign),
               "xva": sol.problem.xva is not None}
    if target is not None:
        errors = log10_relative_errors(price, target["price"])
        metrics.update({f"log10_rel_{k}": v for k, v in errors.items()})
    metrics.update({"train_seconds": float(sol.stats.get("train_seconds", 0.0)),
                    "status": sol.stats.get("status"),
                    "history": {k: np.asarray(v).tolist() for k, v in sol.history.items()}})
    if target is not None:
        # the surrogates' error definition: value in price units and relative, the spot
        # deltas per input (the PINN's Greeks with respect to the spots)
        has_grad = target["grad"] is not None and "delta" in greeks
        delta = np.asarray(greeks["delta"]).reshape(len(x), -1) if has_grad else None
        n = 0 if delta is None else delta.shape[1]
        errs = surrogate_errors(price, target["price"], delta,
                                None if delta is None else np.asarray(target["grad"])[:, :n],
                                inputs=list(model.inputs)[:n])
        metrics.update({k: errs[k] for k in PREDICTOR_KEYS if k in errs})
    arrays = {"pinn_price": price}
    for key in ("delta", "gamma", "vega"):
        if key in greeks:
            arrays[f"pinn_{key}"] = np.asarray(greeks[key])
    if target is not None and (is_reference or "surrogate" in ref):
        # ref_price holds what the surrogates are scored against; the PINN's own comparison
        # (the FD cross-check, or the risky reference when the surrogate learns risk-free)
        arrays["pinn_ref_price"] = np.asarray(target["price"], float)
        if target["grad"] is not None:
            arrays["pinn_ref_grad"] = np.asarray(target["grad"], float)
    if is_reference and fd_check is not None:
        fd = refs.Reference("fd", fd_check["price"], fd_check["grad"], fd_check.get("gamma"))
        metrics["vs_fd"], more = compare_with_fd(sol, scenario, x, fd)
        arrays.update(more)
    if x.shape[1] == 2 and (not is_reference or fd_check is not None):
        lo, hi = x.min(axis=0), x.max(axis=0)
        g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 41), np.linspace(lo[1], hi[1], 41))
        pts = np.column_stack([g0.ravel(), g1.ravel()])
        grid_ref = refs.compute(against, model, product, pts, xva, scenario.reference.fd)
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
    import data

    work = data.private_work_dir(cache)
    try:
        sol.save(work / "solution")
        (work / "solution" / "done").write_text("")
        if cache.exists() and not (cache / "done").is_file():  # an incomplete older entry
            shutil.rmtree(cache, ignore_errors=True)
        if not data.publish_dir(work / "solution", cache):
            log.info("PINN cache %s was published by another process first", cache)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return sol, False
