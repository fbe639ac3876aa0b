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

from .cache import publish_cache_entry, usable
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
    """``(solution, info)``: the scenario's PINN, trained or read from the cache, and how it
    was obtained (:func:`_trained`)."""
    objs = scenario.objects()
    return _trained(problem_for(objs["model"], objs["product"], objs["xva"]), scenario, objs,
                    run_dir)


def _is_heston(sol) -> bool:
    return "variance" in sol.problem.state_names


def evaluate(sol, x: np.ndarray, tau: float | None = None):
    """The PINN at test inputs x (n, d) as a :class:`pipeline.references.Reference`: price,
    gradient in the order of the model's inputs (spot; spot_1, spot_2; spot, variance) and
    gamma (d2V/dspot2: (n,), or (n, 2) for two spots). A parametric PINN is evaluated at its
    nominal (today's) parameters."""
    from .references import Reference

    g = sol.greeks(x if x.shape[1] > 1 else x[:, 0], tau)
    n = len(x)
    delta = np.asarray(g["delta"]).reshape(n, -1)
    grad = np.column_stack([delta, np.asarray(g["vega"]).reshape(n, 1)]) if _is_heston(sol) \
        else delta
    return Reference("pinn", np.asarray(g["price"]).ravel(), grad, np.asarray(g["gamma"]))


def reference(scenario: Scenario, x: np.ndarray, run_dir: Path):
    """``reference.method: pinn``: the trained PINN's prices and Greeks at x, and how it was
    obtained (``{"reused": bool, "train_seconds": float, "reuse": ..., "slice_residual": ...}``,
    see :func:`_trained`)."""
    sol, info = trained(scenario, run_dir)
    return evaluate(sol, x), {**info, "train_seconds": float(sol.stats.get("train_seconds", 0.0))}


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
    sol, info = _trained(problem_for(model, product, xva), scenario, objs, run_dir)
    if "pinn" in ref:  # trained by the reference step of this run
        info = {**info, **{k: val for k, val in ref["pinn"].items() if k != "train_seconds"}}
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
                    "status": sol.stats.get("status"), **_progress(sol),
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
    for key in ("delta", "gamma", *(("vega",) if _is_heston(sol) else ())):
        arrays[f"pinn_{key}"] = np.asarray(greeks[key])
    for r in sol.problem.parameter_ranges:  # dV/d(parameter) of a parametric PINN, today
        from training.pinn.solution import parameter_greek

        arrays[f"pinn_sens_{r.name}"] = np.asarray(greeks[parameter_greek(r.name, sol.problem)])
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
    metrics.update(info)
    sol.save(run_dir / "models" / f"{scenario.id}-pinn")
    return {"metrics": metrics, "arrays": arrays, "seconds": time.perf_counter() - t0,
            "path": f"models/{scenario.id}-pinn"}


def _progress(sol) -> dict:
    """How far the training got, for the report: ``steps`` (gradient steps done, Adam and
    L-BFGS; the solver's own count less its accepted least-squares rounds) of
    ``planned_steps``, ``lstsq_rounds`` (accepted) of ``planned_lstsq_rounds``, and the
    configured ``time_limit`` in seconds (``None``: none)."""
    cfg, stats = sol.config, sol.stats
    rounds = int(stats.get("lstsq_rounds", 0) or 0)
    steps = stats.get("steps")
    return {"steps": None if steps is None else int(steps) - rounds,
            "planned_steps": int(cfg.adam_steps + cfg.lbfgs_iterations),
            "lstsq_rounds": rounds, "planned_lstsq_rounds": int(cfg.lstsq_rounds),
            "time_limit": None if cfg.time_limit is None else float(cfg.time_limit)}


def parametric_problem(problem, settings):
    """The ``ParametricPDE`` to train for today's ``problem``: the declared ranges of
    ``settings`` (a :class:`pipeline.config.PinnParametric`), each moved to hold today's value
    when it lies outside (:func:`training.pinn.reuse.training_ranges`). ValueError when a name
    is not a declarable parameter of the problem or a range end is not a valid value."""
    from training.pinn.problems import ParametricPDE
    from training.pinn.reuse import training_ranges

    for name in settings.ranges:
        problem.parameter_value(name)  # the problem's message for an unknown name
    return ParametricPDE(problem=problem, parameters=training_ranges(settings.ranges, problem))


def _trained(problem, scenario: Scenario, objs: dict, run_dir: Path):
    """The trained PINN of this problem and settings, and how it was obtained.

    Returns ``(solution, info)`` with info ``{"reused": bool, "reuse": "inside" | "warm_start"
    | "cold", "slice_residual": float}`` (the RMS residual on today's slice,
    :func:`training.pinn.reuse.slice_residual`). Without ``pinn.parametric`` the PINN is read
    from ``<runs>/.cache/pinn/<key>/`` when the same problem was solved with the same settings
    before ("inside": today's parameters are the saved point), else trained ("cold") and
    cached. With it, see :func:`_trained_parametric`."""
    from training.pinn import SOLVER_VERSION, PINNSolution, solve
    from training.pinn.reuse import Reuse, slice_residual
    from training.pinn.solution import FORMAT_VERSION

    config = _config(scenario.pinn, problem.dim)
    if scenario.pinn.parametric is not None:
        return _trained_parametric(problem, scenario.pinn.parametric, config,
                                   run_dir.parent / ".cache" / "pinn")
    # the problem too (its domain and legs as solved): a change of how a product becomes a
    # problem must not reuse solutions of the old one
    blob = json.dumps({"model": objs["model"].to_dict(), "product": objs["product"].to_dict(),
                       "xva": None if objs["xva"] is None else objs["xva"].to_dict(),
                       "problem": problem.to_dict(), "config": config.to_dict(),
                       "format": FORMAT_VERSION, "solver": SOLVER_VERSION}, sort_keys=True,
                      default=str)
    cache = run_dir.parent / ".cache" / "pinn" / hashlib.sha256(blob.encode()).hexdigest()[:16]
    if usable(cache, "PINN", load=PINNSolution.load):
        sol = PINNSolution.load(cache)
        return sol, {"reused": True, "reuse": str(Reuse.INSIDE),
                     "slice_residual": slice_residual(sol)}
    sol = solve(problem, config)
    _publish(sol, cache, {})
    return sol, {"reused": False, "reuse": str(Reuse.COLD), "slice_residual": slice_residual(sol)}


def _publish(sol, cache: Path, family: dict) -> None:
    """Save ``sol`` to ``cache`` atomically (with ``family.json`` when ``family`` is given)."""
    import data
    from data.files import atomic_write_text

    work = data.private_work_dir(cache)
    try:
        sol.save(work / "solution")
        if family:
            atomic_write_text(work / "solution" / "family.json",
                              json.dumps(family, indent=2), fsync=False)
        publish_cache_entry(work / "solution", cache, "PINN")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _family_entries(root: Path, family: str) -> list[tuple[Path, tuple]]:
    """Saved parametric PINNs of one family: ``(directory, ranges)`` of every complete cache
    entry whose ``family.json`` names ``family``."""
    from training.pinn import PINNSolution
    from training.pinn.problems import ParameterRange

    out = []
    for meta in sorted(root.glob("*/family.json")) if root.is_dir() else ():
        if meta.parent.name.startswith(".") or not usable(meta.parent, "PINN",
                                                           load=PINNSolution.load):
            continue  # a folder being removed (".<key>.stale-..."), or a damaged entry
        try:
            d = json.loads(meta.read_text())
        except (OSError, ValueError, RecursionError):
            continue
        if d.get("family") == family:
            out.append((meta.parent, tuple(ParameterRange(**r) for r in d["ranges"])))
    return out


def _trained_parametric(problem, settings, config, root: Path):
    """A parametric PINN for today's ``problem`` (see :class:`pipeline.config.PinnParametric`).

    The family is keyed by the problem without the declared parameters' values, their names and
    the PINN config; an entry of ``root`` records its ranges and nominal values in
    ``family.json``. In order:

    * a saved entry of the family whose ranges hold today's parameters, retargeted to today
      (:meth:`PINNSolution.at`), is used without training when its RMS residual on today's slice
      is at most ``settings.residual_threshold`` (the most central entry is checked first); an
      entry trained for exactly today's parameters and ranges is used whatever its residual
      (training again would give the same), with ``"threshold_met": False``;
    * otherwise a new PINN is trained over the ranges moved to hold today's values
      (:func:`parametric_problem`), starting from the nearest saved entry's weights with the
      ``settings.warm_start`` overrides ("warm_start"), or from a fresh network ("cold").
    """
    from training.pinn import SOLVER_VERSION, PINNSolution, solve
    from training.pinn.problems.parametric import family_dict
    from training.pinn.reuse import Reuse, distance, nearest, slice_residual
    from training.pinn.solution import FORMAT_VERSION

    config = config.replace(parameter_copies=settings.copies)
    names = tuple(settings.ranges)
    family = _digest({"family": family_dict(problem, names), "names": list(names),
                      "config": config.to_dict(), "format": FORMAT_VERSION,
                      "solver": SOLVER_VERSION})
    target = parametric_problem(problem, settings)
    today = {n: problem.parameter_value(n) for n in names}
    key = _digest({"family": family, "ranges": [r.to_dict() for r in target.parameters],
                   "nominal": today})
    entries = _family_entries(root, family)
    threshold = settings.residual_threshold

    def centre(ranges) -> float:  # distance of today's values from the range centre
        return max(abs(problem.parameter_value(r.name) - 0.5 * (r.low + r.high)) / r.width
                   for r in ranges)

    inside = sorted((e for e in entries if distance(e[1], problem) == 0.0),
                    key=lambda e: (e[0].name != key, centre(e[1])))
    for path, _ranges in inside:
        sol = PINNSolution.load(path).at(problem)
        res = slice_residual(sol)
        if res <= threshold or path.name == key:
            if res > threshold:
                log.warning("PINN %s: residual %.3g on today's slice is above the threshold "
                            "%.3g; it was trained for today's parameters, so it is used", path,
                            res, threshold)
            return sol, {"reused": True, "reuse": str(Reuse.INSIDE), "slice_residual": res,
                         "threshold_met": res <= threshold, "residual_threshold": threshold,
                         "parameter_ranges": _ranges_dict(sol.problem)}
        log.info("PINN %s: residual %.3g on today's slice is above the threshold %.3g", path,
                 res, threshold)
    source = nearest([(path, ranges) for path, ranges in entries], problem)
    initial, cfg = None, config
    if source is not None:
        initial = PINNSolution.load(source).model.state_dict()
        cfg = config.replace(**settings.warm_start)
    sol = solve(target, cfg, initial=initial)
    res = slice_residual(sol)
    _publish(sol, root / key, {"family": family, "ranges": [r.to_dict() for r in
                                                            target.parameters],
                               "nominal": today, "warm_start_from": None if source is None
                               else source.name})
    how = Reuse.COLD if source is None else Reuse.WARM_START
    return sol, {"reused": False, "reuse": str(how), "slice_residual": res,
                 "threshold_met": res <= threshold, "residual_threshold": threshold,
                 "parameter_ranges": _ranges_dict(target),
                 "warm_start_from": None if source is None else source.name}


def _ranges_dict(problem) -> dict:
    return {r.name: [r.low, r.high] for r in problem.parameter_ranges}


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]
