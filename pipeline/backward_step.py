"""The backward step: the scenario's risky (XVA) value by backward differential regression
(:mod:`training.backward`), scored on the test set against the PDE references and the cheap
approximations, with the exposure profile of today's state.

Rows of the comparison (``metrics["rows"]``, in this order, each present where it can be
computed): the backward surrogate (risky), the PINN (risky), the FD (risky), the risk-free value,
the scenario's risk-free differential surrogate (added by the flow, which has its predictions),
``e^{-c+ T} V_rf`` and ``e^{-c- T} V_rf`` (exact for a payoff that stays >= 0, respectively
<= 0), and ``V_rf - CVA + DVA - FVA`` at today's state only (risk-free close-out, the
adjustments integrated over the exposure profile of the risk-free surrogate). Each row holds its
errors against every risky reference that exists (``vs.fd``, ``vs.pinn``): relative RMS of the value
(RMS error / RMS of the reference) and of each state Greek, RMSEs and the log10 relative L2
error of the value (:mod:`evaluation.metrics`).

Surrogates are cached under ``<runs folder>/.cache/backward/<key>/`` (key: the model, product,
sampler and XVA dicts, the solve's settings and the seed), built in a private folder and
published by a rename, so a second run with the same inputs trains nothing. The risk-free
surrogate of the exposure is the same solve with ``xva=None``: its own cache entry, shared by
scenarios that differ only in their XVA.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

import simulators as sim
from evaluation.metrics import log10_relative_errors, surrogate_errors

from .cache import publish_cache_entry, usable
from .cluster import check_stop
from .config import BackwardSettings, RunConfig, Scenario, exposure_state

log = logging.getLogger("diffml.pipeline")

#: Bumped when a cached surrogate of the same key would differ because of this step (the key
#: also holds ``training.backward.SOLVER_VERSION`` for changes of the solver itself).
CACHE_VERSION = 1

#: The rows of the comparison: key and label (the report's wording).
ROWS: tuple[tuple[str, str], ...] = (
    ("backward", "backward regression (risky)"),
    ("pinn", "PINN (risky)"),
    ("fd", "FD (risky, reference)"),
    ("risk_free", "risk-free"),
    ("surrogate", "risk-free differential surrogate"),
    ("linear_positive", "e^{-c+T} V_rf"),
    ("linear_negative", "e^{-c-T} V_rf"),
    ("split", "e^{-c+T} V_rf(P) - e^{-c-T} V_rf(N)"),
    ("cva_dva", "V_rf - CVA + DVA - FVA (risk-free close-out, today's state only)"),
)

#: Exposure arrays of ``training.backward.ExposureProfile`` written to ``arrays/<id>.npz`` as
#: ``backward_exposure_<name>``.
EXPOSURE_ARRAYS = ("times", "epe", "ene", "epe_se", "ene_se", "pfe", "mean")


# ---------------------------------------------------------------- training and cache
def regressor_for(settings: BackwardSettings):
    """The ``DifferentialRegressor`` each date clones: ``training.backward.default_regressor``
    with the hyperparameters of ``settings.regressor``."""
    from training.backward import default_regressor

    return default_regressor().clone(**settings.regressor)


def settings_dict(settings: BackwardSettings) -> dict[str, Any]:
    """What determines a surrogate besides the parameter objects and the seed: dates, paths per
    date, scheme and every hyperparameter of the regressor (defaults included)."""
    reg = regressor_for(settings).get_params()
    return {"dates": settings.dates, "paths_per_date": settings.paths_per_date,
            "scheme": settings.scheme,
            "regressor": {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v))
                          for k, v in sorted(reg.items())}}


def cache_key(objs: dict[str, Any], xva: Any, settings: BackwardSettings, seed: int) -> str:
    """16 hex digits of the SHA-256 of the model, product, sampler and XVA dicts, the settings
    (:func:`settings_dict`) and the seed."""
    import simulators
    from training.backward import SOLVER_VERSION

    blob = json.dumps({"version": CACHE_VERSION, "solver": SOLVER_VERSION,
                       "numbers": simulators.numbers_id("cpu"),  # its paths' random numbers
                       "model": objs["model"].to_dict(),
                       "product": objs["product"].to_dict(),
                       "sampler": objs["sampler"].to_dict(),
                       "xva": None if xva is None else xva.to_dict(),
                       "settings": settings_dict(settings), "seed": int(seed)},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def solved(objs: dict[str, Any], xva: Any, settings: BackwardSettings, seed: int,
           root: Path) -> tuple[Any, bool, str]:
    """``(surrogate, reused, key)``: the backward solve of ``objs`` under ``xva`` (``None``:
    risk-free), read from ``root/<key>/`` when it was solved before with the same inputs, else
    solved and published there."""
    from training import backward

    key = cache_key(objs, xva, settings, seed)
    cache = root / key
    if usable(cache, "backward", load=backward.RiskySurrogate.load):
        return backward.RiskySurrogate.load(cache), True, key
    surrogate = backward.solve(objs["model"], objs["product"], sampler=objs["sampler"], xva=xva,
                               dates=settings.dates, paths_per_date=settings.paths_per_date,
                               regressor=regressor_for(settings), scheme=settings.scheme,
                               seed=int(seed),
                               before_date=lambda k: check_stop(f"the backward fit of date {k}"))
    _publish(surrogate, cache)
    return surrogate, False, key


def _publish(surrogate, cache: Path) -> None:
    """Save ``surrogate`` to ``cache`` atomically (a private folder, then a rename)."""
    import data

    work = data.private_work_dir(cache)
    try:
        surrogate.save(work / "surrogate")
        publish_cache_entry(work / "surrogate", cache, "backward")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- references
def _pinn_values(ref: dict, pinn: dict | None, model, n: int) -> tuple | None:
    """``(price, grad, seconds)`` of the PINN at the test inputs: the scenario's reference when
    it is the PINN, else the PINN step's arrays (gradient in the model's state order)."""
    if ref["method"] == "pinn":
        info = ref.get("pinn") or {}
        return (np.asarray(ref["price"], float), None if ref["grad"] is None else
                np.asarray(ref["grad"], float), info.get("train_seconds"))
    if not isinstance(pinn, dict) or "pinn_price" not in pinn.get("arrays", {}):
        return None
    arrays = pinn["arrays"]
    price = np.asarray(arrays["pinn_price"], float).reshape(n)
    grad = None
    if "pinn_delta" in arrays:
        delta = np.asarray(arrays["pinn_delta"], float).reshape(n, -1)
        if "pinn_vega" in arrays and tuple(model.inputs) == ("spot", "variance"):
            delta = np.column_stack([delta[:, 0], np.asarray(arrays["pinn_vega"],
                                                             float).reshape(n)])
        grad = delta if delta.shape[1] == len(model.inputs) else None
    return price, grad, (pinn.get("metrics") or {}).get("train_seconds")


def _fd_values(scenario: Scenario, ref: dict, objs: dict, x: np.ndarray) -> tuple | None:
    """``(price, grad, seconds)`` of the FD solution of the risky PDE at x: the reference step's
    (the scenario's reference or its cross-check), else solved here where an FD exists."""
    from . import references as refs

    if ref["method"] == "fd":
        return (np.asarray(ref["price"], float), None if ref["grad"] is None else
                np.asarray(ref["grad"], float), ref.get("method_seconds"))
    done = ref.get("check_values", {}).get("fd")
    if done is not None:
        return (np.asarray(done["price"], float), None if done["grad"] is None else
                np.asarray(done["grad"], float), done.get("seconds"))
    t0 = time.perf_counter()
    try:
        fd = refs.finite_difference(objs["model"], objs["product"], x, objs["xva"],
                                    **scenario.reference.fd)
    except ValueError as exc:  # NoReference, or a configuration the solver refuses
        log.info("scenario %s: no FD reference for the backward comparison (%s)", scenario.id,
                 str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return None
    return (np.asarray(fd.price, float), None if fd.grad is None else np.asarray(fd.grad, float),
            time.perf_counter() - t0)


def _risk_free(scenario: Scenario, ref: dict, objs: dict, x: np.ndarray) -> tuple:
    """``(price, grad, seconds, method)`` of the risk-free value at x: the closed form where it
    exists (a netting set: the sum of its legs), else the FD without XVA."""
    from . import references as refs

    model, product = objs["model"], objs["product"]
    t0 = time.perf_counter()
    try:
        r = refs.analytic(model, product, x)
    except ValueError:
        r = refs.finite_difference(model, product, x, **scenario.reference.fd)
    grad = None if r.grad is None else np.asarray(r.grad, float)
    return np.asarray(r.price, float), grad, time.perf_counter() - t0, r.method


def _split_netting(product: Any, dim: int) -> Any:
    """The product as a netting set whose legs all have the same aggregate, for the sign-split
    approximation, or None where the split is not the payoff's positive and negative parts
    (legs on different aggregates are split leg by leg, which is not exact even for a payoff of
    one sign). A forward (``European``, ``BasketOption``) is a one-leg netting set; on one asset,
    basket legs are the asset legs they are (``as_asset_legs``)."""
    from training.pinn.problems.legs import as_asset_legs

    from .pricers import one_leg_netting

    product = one_leg_netting(product)
    if not isinstance(product, sim.NettingSet):
        return None
    if dim == 1:
        product = as_asset_legs(product)
    first = product.legs[0]
    if any((leg.underlying, leg.weights) != (first.underlying, first.weights)
           for leg in product.legs):
        return None
    return product


def _split_values(scenario: Scenario, objs: dict, x: np.ndarray) -> tuple | None:
    """``(price, grad, seconds)`` of the free sign-split approximation at x:
    e^{-c+ T} V_rf(P) - e^{-c- T} V_rf(N), P and N the payoff's positive and negative parts
    (``training.pinn.problems.legs.one_signed_parts``: unit legs and bonds on the netting set's
    one aggregate), each leg priced risk-free by its closed form, else the FD; None where it does
    not apply (:func:`_split_netting`) or a leg cannot be priced at x (logged)."""
    from training.pinn.problems.legs import one_signed_parts

    from . import references as refs

    model, xva = objs["model"], objs["xva"]
    netting = _split_netting(objs["product"], len(model.state_inputs))
    if netting is None:
        return None
    t0 = time.perf_counter()
    maturity = float(netting.maturity)
    discount = math.exp(-float(model.rate) * maturity)
    price, grad = np.zeros(len(x)), np.zeros((len(x), len(model.inputs)))
    try:
        for part, c, sign in zip(one_signed_parts(netting),
                                 (xva.spread_positive, xva.spread_negative), (1.0, -1.0),
                                 strict=True):
            f = sign * math.exp(-float(c) * maturity)
            for coef, leg in part:
                if leg is None:  # a unit bond
                    price += f * coef * discount
                    continue
                unit = sim.NettingSet([dataclasses.replace(leg, quantity=float(coef))],
                                      maturity)
                try:
                    r = refs.analytic(model, unit, x)
                except ValueError:
                    r = refs.finite_difference(model, unit, x, **scenario.reference.fd)
                price += f * np.asarray(r.price, float)
                grad += f * np.asarray(r.grad, float).reshape(grad.shape)
    except ValueError as exc:
        log.info("the sign-split row is left out: %s", str(exc).splitlines()[0])
        return None
    return price, grad, time.perf_counter() - t0


def _today_reference(scenario: Scenario, objs: dict, x0: np.ndarray, run_dir: Path,
                     has: set[str]) -> tuple[float, str] | None:
    """The risky reference value at today's state x0 (1, d): the FD where one exists, else
    the scenario's PINN (read from its cache)."""
    from . import references as refs

    if "fd" in has:
        try:
            fd = refs.finite_difference(objs["model"], objs["product"], x0, objs["xva"],
                                        **scenario.reference.fd)
            return float(np.asarray(fd.price, float).ravel()[0]), "fd"
        except ValueError:
            pass
    if "pinn" in has:
        from . import pinn_step

        sol, _ = pinn_step.trained(scenario, run_dir)
        return float(np.asarray(pinn_step.evaluate(sol, x0).price).ravel()[0]), "pinn"
    return None


# ---------------------------------------------------------------- scoring
def _errors(price, grad, ref_price, ref_grad, inputs: list[str]) -> dict[str, Any]:
    """Relative RMS (and RMSE) of the value and of each state Greek against a reference, and
    the log10 relative L2 error of the value."""
    has_grad = grad is not None and ref_grad is not None
    errs = surrogate_errors(price, ref_price, grad if has_grad else None,
                            ref_grad if has_grad else None, inputs=inputs)
    out = {k: errs[k] for k in ("value_rmse", "value_relative", "greek_rmse", "greek_relative")
           if k in errs}
    out["log10_rel_l2"] = log10_relative_errors(price, ref_price)["l2"]
    return out


def _point_error(value: float, ref: float) -> dict[str, Any]:
    """The errors of one value at today's state (relative: |value - ref| / |ref|)."""
    err = abs(value - ref)
    rel = err / abs(ref) if ref != 0.0 else None
    return {"value_rmse": err, "value_relative": rel,
            "log10_rel_l2": None if rel is None or rel == 0.0 else math.log10(rel)}


def _history(surrogate) -> list[dict]:
    from dataclasses import asdict

    return [asdict(h) for h in sorted(surrogate.history, key=lambda h: h.date)]


def run(cfg: RunConfig, scenario: Scenario, ref: dict, pinn: dict | None,
        run_dir: Path) -> dict:
    """Solve (or read from the cache) the scenario's risky surrogate, and with
    ``exposure.enabled`` the risk-free one and its exposure profile; score them on the test set.

    Args:
        cfg, scenario: the run and the scenario (with an enabled ``backward`` block).
        ref: the reference step's result (test inputs ``x``, the reference and its
            cross-checks' values).
        pinn: the PINN step's result when the scenario trains a PINN beside another reference
            (its arrays at the test inputs), else ``None``.
        run_dir: the run directory; the surrogates are copied to ``models/<id>-backward`` and
            ``models/<id>-backward-risk-free``.

    Returns:
        ``{"metrics", "arrays", "seconds", "path"}`` (and ``"risk_free_path"`` where the
        risk-free surrogate of the exposure was saved too): the scenario's ``backward`` block, the
        arrays for ``arrays/<id>.npz`` (``backward_price`` (n,), ``backward_grad`` (n, d),
        ``backward_ref_price`` / ``backward_ref_grad`` (the risky reference of the table),
        ``backward_rf_price`` (n,), ``backward_exposure_<name>`` (N + 1,)), wall seconds and
        the saved model's path.
    """
    from training.backward import exposure_profile

    t0 = time.perf_counter()
    settings = scenario.backward
    objs = scenario.objects()
    model, product, xva = objs["model"], objs["product"], objs["xva"]
    seed = cfg.seed if scenario.seed is None else scenario.seed
    inputs = list(model.inputs)
    root = run_dir.parent / ".cache" / "backward"
    x = np.asarray(ref["x"], float)
    n = len(x)

    surrogate, reused, key = solved(objs, xva, settings, seed, root)
    price, grad = surrogate.predict_value_and_gradient(x, 0)

    # the risky references and the approximations, at the test inputs
    values: dict[str, tuple] = {"backward": (price, grad, surrogate.seconds)}
    pinn_v = _pinn_values(ref, pinn, model, n)
    if pinn_v is not None:
        values["pinn"] = pinn_v
    fd_v = _fd_values(scenario, ref, objs, x)
    if fd_v is not None:
        values["fd"] = fd_v
    rf_price, rf_grad, rf_seconds, rf_method = _risk_free(scenario, ref, objs, x)
    values["risk_free"] = (rf_price, rf_grad, rf_seconds)
    maturity = float(product.maturity)
    sign = int(sim.payoff_sign(product, model))
    factors = {}
    if xva is not None:
        factors = {"linear_positive": (float(xva.spread_positive), 1),
                   "linear_negative": (float(xva.spread_negative), -1)}
        for name, (c, _) in factors.items():
            f = math.exp(-c * maturity)
            values[name] = (f * rf_price, None if rf_grad is None else f * rf_grad, rf_seconds)
        split = _split_values(scenario, objs, x) if sign == 0 else None
        if split is not None:
            values["split"] = split
    against = [m for m in ("fd", "pinn") if m in values]

    rows = []
    for name, label in ROWS:
        if name not in values:
            continue
        p, g, secs = values[name]
        row: dict[str, Any] = {"key": name, "label": label,
                               "seconds": None if secs is None else float(secs), "vs": {}}
        if name in factors:
            c, exact_sign = factors[name]
            row["spread"] = c
            row["exact"] = sign == exact_sign
        for m in against:
            if m != name:
                row["vs"][m] = _errors(p, g, values[m][0], values[m][1], inputs)
        rows.append(row)

    metrics: dict[str, Any] = {
        "xva": xva is not None, "payoff_sign": sign, "maturity": maturity,
        "settings": settings_dict(settings), "seed": int(seed), "reused": reused,
        "cache_key": key, "train_seconds": float(surrogate.seconds),
        "compared_with": against[0] if against else None, "references": against,
        "risk_free_method": rf_method, "inputs": inputs, "rows": rows,
        "history": _history(surrogate),
    }
    # the surrogate's errors against the first reference, flat for the regression gate
    # (evaluation.trend.TRACKED_METRICS: backward.errors.value_rmse, backward.errors.greek_rmse.*)
    mine = next((r for r in rows if r["key"] == "backward"), None)
    if mine is not None and against:
        metrics["errors"] = {k: mine["vs"][against[0]][k] for k in ("value_rmse", "greek_rmse")
                             if k in mine["vs"][against[0]]}
    arrays: dict[str, np.ndarray] = {"backward_price": np.asarray(price, float),
                                     "backward_grad": np.asarray(grad, float).reshape(n, -1),
                                     "backward_rf_price": rf_price}
    if against:
        arrays["backward_ref_price"] = values[against[0]][0]
        if values[against[0]][1] is not None:
            arrays["backward_ref_grad"] = np.asarray(values[against[0]][1], float)

    # exposure profile of the risk-free surrogate from today's state
    metrics["exposure"] = None
    if settings.exposure.enabled:
        e0 = time.perf_counter()
        x0 = np.asarray(exposure_state(scenario, len(inputs)), float)
        free, free_reused, free_key = (surrogate, reused, key) if xva is None else \
            solved(objs, None, settings, seed, root)
        profile = exposure_profile(free, x0, paths=settings.exposure.paths, seed=int(seed),
                                   quantile=settings.exposure.quantile)
        for k in EXPOSURE_ARRAYS:
            arrays[f"backward_exposure_{k}"] = np.asarray(getattr(profile, k), float)
        ex: dict[str, Any] = {
            "state": x0.tolist(), "paths": profile.paths, "quantile": profile.quantile,
            "risk_free_reused": free_reused, "risk_free_cache_key": free_key,
            "risk_free_train_seconds": float(free.seconds),
            "risk_free_history": _history(free) if xva is not None else None,
        }
        today = x0[None, :]
        v_rf0 = float(_risk_free(scenario, ref, objs, today)[0][0])
        today_vals = {"backward": float(surrogate.predict(today, 0)[0]),
                      "risk_free": v_rf0,
                      "risk_free_surrogate": float(free.predict(today, 0)[0])}
        if xva is not None:
            cva, dva, fva = profile.cva(xva), profile.dva(xva), profile.fva(xva)
            first = profile.first_order_adjustment(xva)
            ex.update(cva=cva, dva=dva, fva=fva, first_order_adjustment=first,
                      standard_errors=profile.standard_errors(xva))
            today_vals.update({"cva_dva": v_rf0 - cva + dva - fva, "first_order": v_rf0 - first,
                               **{name: math.exp(-c * maturity) * v_rf0
                                  for name, (c, _) in factors.items()}})
        ref0 = _today_reference(scenario, objs, today, run_dir, set(against))
        ex["today"] = {"values": today_vals, "reference": None if ref0 is None else ref0[0],
                       "reference_method": None if ref0 is None else ref0[1],
                       "errors": {} if ref0 is None else
                       {k: _point_error(v, ref0[0]) for k, v in today_vals.items()}}
        if xva is not None:
            rows.append({"key": "cva_dva", "label": dict(ROWS)["cva_dva"],
                         "seconds": time.perf_counter() - e0, "today_only": True,
                         "vs": {} if ref0 is None else
                         {ref0[1]: ex["today"]["errors"]["cva_dva"]}})
        ex["seconds"] = time.perf_counter() - e0
        metrics["exposure"] = ex

    # the saved surrogates
    dst = run_dir / "models" / f"{scenario.id}-backward"
    if dst.exists():
        shutil.rmtree(dst)
    surrogate.save(dst)
    out = {"metrics": metrics, "arrays": arrays, "seconds": time.perf_counter() - t0,
           "path": f"models/{scenario.id}-backward"}
    if settings.exposure.enabled and xva is not None:
        rf_dst = run_dir / "models" / f"{scenario.id}-backward-risk-free"
        if rf_dst.exists():
            shutil.rmtree(rf_dst)
        free.save(rf_dst)
        out["risk_free_path"] = f"models/{rf_dst.name}"
    return out


def add_surrogate_row(bw: dict, predictions: dict[str, np.ndarray], m: int | None) -> None:
    """Add the scenario's risk-free differential surrogate (the twin network trained on the
    simulated data, largest size, first seed) to the backward table, scored against the same
    risky reference as the other rows: what a desk would use without an XVA method. In place;
    nothing when the run has no differential surrogate or the table no reference."""
    metrics, arrays = bw["metrics"], bw["arrays"]
    against = metrics.get("compared_with")
    price = predictions.get("pred_price_differential")
    if against is None or price is None or "backward_ref_price" not in arrays:
        return
    grad = predictions.get("pred_grad_differential")
    inputs = list(metrics.get("inputs") or [])
    if grad is not None:
        grad = np.asarray(grad, float).reshape(len(price), -1)[:, :len(inputs)]
    row = {"key": "surrogate", "label": dict(ROWS)["surrogate"], "seconds": None,
           "vs": {against: _errors(np.asarray(price, float), grad, arrays["backward_ref_price"],
                                   arrays.get("backward_ref_grad"), inputs)},
           "paths": m}
    rows = metrics["rows"]
    order = [k for k, _ in ROWS]
    at = next((i for i, r in enumerate(rows) if order.index(r["key"]) > order.index("surrogate")),
              len(rows))
    rows.insert(at, row)
