"""The pipeline's steps as plain functions: simulate, reference, train, evaluate.

Each works without Prefect; ``pipeline.flows`` only wires them into tasks. Results are
JSON-ready dicts that end up in ``metrics.json`` (docs/run-format.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from data.files import atomic_write_text, naming
from evaluation.metrics import (
    PREDICTOR_KEYS,
    errors_by_bucket,
    is_unit_spot,
    rmse,
    summarise_errors,
    surrogate_errors,
)

from . import diagnostics
from .cache import discard, seal, usable
from .cluster import check_stop
from .config import RunConfig, Scenario, surrogate_learns_risk_free

#: Bumped when the fits or what is computed from them change (the training code, the metrics,
#: the shape checks, the label noise), so that cached models and learning curves made under an
#: older definition are recomputed (docs/pipeline.md, "Caching and regeneration").
METRICS_VERSION = 3

log = logging.getLogger("diffml.pipeline")


def dataset_spec(cfg: RunConfig, scenario: Scenario):
    """The scenario's dataset. A two-signed product under XVA is simulated without it (the
    simulators give no XVA labels there): its surrogate learns the risk-free value."""
    import data

    objs = scenario.objects()
    xva = None if surrogate_learns_risk_free(objs) else objs["xva"]
    return data.DatasetSpec(
        name=f"{cfg.name}-{scenario.id}", model=objs["model"],
        product=objs["product"], sampler=objs["sampler"], xva=xva,
        seed=cfg.seed if scenario.seed is None else scenario.seed, n_paths=scenario.paths,
        antithetic=scenario.antithetic, backend=cfg.backend,
        chunk_paths=min(cfg.chunk_paths, scenario.paths))


def simulate_step(cfg: RunConfig, scenario: Scenario, client: Any = None,
                  progress: Any = None) -> dict:
    """Find or generate the scenario's dataset; returns its provenance."""
    import data

    spec = dataset_spec(cfg, scenario)
    root = Path(cfg.dataset_root)
    final = root / spec.dirname
    reused = data.find_manifest(final) is not None  # _manifest.json, or a version-1 one
    t0 = time.perf_counter()
    ds = data.find_or_create(spec, root=root, client=client, progress=progress)
    return {"path": str(ds.path), "hash": ds.hash, "n_paths": ds.n_paths, "reused": reused,
            "backend": _made_on(ds.manifest.get("backend")),
            "seconds": time.perf_counter() - t0}


def _made_on(backend: Any) -> str:
    """The dataset's recorded backend, "cpu" or "gpu"; "mixed (cpu, gpu)" for a dataset
    written before the two hashed apart whose parts came from both."""
    if isinstance(backend, list):
        return f"mixed ({', '.join(map(str, backend))})"
    return str(backend)


def reference_step(cfg: RunConfig, scenario: Scenario, run_dir: Path | None = None) -> dict:
    """Test inputs and reference prices/gradients, plus cross-checks between methods.

    ``reference.method: pinn`` trains the scenario's PINN (or reads it from the PINN cache under
    ``run_dir``'s parent, where the PINN step finds it again). Under an XVA the risk-free
    reference is computed too (``xva_curves``: risky from the reference method and from each
    PDE cross-check, risk-free). When the surrogate learns the risk-free value (a two-signed
    product under XVA), ``surrogate`` holds the reference it is scored against."""
    from . import references as refs

    objs = scenario.objects()
    model, product, xva = objs["model"], objs["product"], objs["xva"]
    x = refs.test_inputs(model, scenario.test)
    t0 = time.perf_counter()
    method, grid = scenario.reference.method, scenario.reference.fd
    pinn_info = None
    if method == "pinn":
        from . import pinn_step

        if run_dir is None:
            raise ValueError(f"scenario {scenario.id!r}: reference.method 'pinn' needs a run "
                             "directory (its PINN cache)")
        ref, pinn_info = pinn_step.reference(scenario, x, Path(run_dir))
    else:
        ref = refs.compute(method, model, product, x, xva, grid)
    method_seconds = time.perf_counter() - t0
    inputs = list(model.inputs)
    gamma = diagnostics.target_gamma(scenario, {"method": ref.method, "risk_free": False,
                                                "gamma": ref.gamma}, x)
    checks, values = {}, {}
    for other_method in scenario.reference.cross_checks:
        if other_method == method:
            continue
        t1 = time.perf_counter()
        other = refs.compute(other_method, model, product, x, xva, grid)
        other_seconds = time.perf_counter() - t1
        checks[other_method] = cross_check(other, ref.price, ref.grad, gamma, inputs)
        values[other_method] = {"price": np.asarray(other.price, float),
                                "grad": None if other.grad is None else np.asarray(other.grad,
                                                                                   float),
                                "gamma": None if other.gamma is None else np.asarray(other.gamma,
                                                                                     float),
                                "seconds": other_seconds}
    out = {"x": x, "price": np.asarray(ref.price, float),
           "grad": None if ref.grad is None else np.asarray(ref.grad, float),
           "gamma": gamma, "method": ref.method, "cross_checks": checks, "check_values": values,
           "method_seconds": method_seconds, "seconds": time.perf_counter() - t0}
    if pinn_info is not None:
        out["pinn"] = pinn_info
    if xva is not None:  # risky against risk-free curves for the report
        free = refs.risk_free(method, model, product, x, grid)
        out["xva_curves"] = {"xva_x": x, "xva_risk_free": np.asarray(free.price, float),
                             "xva_risky": out["price"]}
        for other_method, v in values.items():  # the XVA by the other PDE reference
            if other_method != "analytic":
                out["xva_curves"][f"xva_risky_{other_method}"] = v["price"]
        if surrogate_learns_risk_free(objs):
            out["surrogate"] = {"method": free.method, "risk_free": True,
                                "price": np.asarray(free.price, float),
                                "grad": None if free.grad is None else np.asarray(free.grad,
                                                                                  float)}
            out["surrogate"]["gamma"] = diagnostics.target_gamma(
                scenario, {**out["surrogate"], "gamma": free.gamma}, x)
        out["seconds"] = time.perf_counter() - t0
    return out


def cross_check(other, price: np.ndarray, grad: np.ndarray | None, gamma: np.ndarray | None,
                inputs: list[str]) -> dict:
    """Another reference method against the scenario's, in the surrogates' terms: the largest
    price difference, the largest Greek difference per input, and
    :func:`evaluation.metrics.surrogate_errors` (value, per-input Greeks, gamma; scales left
    out: they are the reference's)."""
    has_grad = other.grad is not None and grad is not None
    other_gamma = None if other.gamma is None or gamma is None else \
        np.asarray(other.gamma, float).reshape(len(price), -1)
    if other_gamma is not None and other_gamma.shape != np.shape(gamma):
        other_gamma = None
    errs = surrogate_errors(other.price, price, other.grad if has_grad else None,
                            grad if has_grad else None, inputs=inputs, pred_gamma=other_gamma,
                            ref_gamma=gamma if other_gamma is not None else None)
    entry = {"max_abs_price_diff": float(np.max(np.abs(np.asarray(other.price) - price)))}
    if has_grad:
        diff = np.max(np.abs(np.asarray(other.grad) - np.asarray(grad)), axis=0)
        entry["max_abs_greek_diff"] = {k: float(v) for k, v in zip(inputs, diff, strict=True)}
    entry.update({k: errs[k] for k in PREDICTOR_KEYS if k in errs})
    return entry


def agreement(checks: dict[str, dict[str, Any]], tolerance: float | None) -> dict[str, Any]:
    """How far the scenario's reference and its cross-checks are apart, and whether that is
    within ``tolerance`` (``reference.agreement``).

    The quantities compared are the value and each first-order Greek, as relative RMS
    differences (``value_relative``, ``greek_relative`` of :func:`cross_check`: RMS of the
    difference over the reference's RMS on the test set); gammas are not (second differences
    of an FD grid are themselves a few per mille off). A quantity with a zero reference scale
    has no relative difference and is skipped; a non-finite one fails the gate (with no
    gate, ``tolerance`` None, it is only recorded).

    Returns:
        ``tolerance``; ``worst``: ``{"check", "quantity", "relative"}`` of the largest relative
        difference (``relative`` ``None`` where it was not finite), ``None`` without
        cross-checks; ``passed``: no tolerance, no cross-check or ``worst`` within it.
    """
    worst: dict[str, Any] | None = None
    for name, entry in checks.items():
        found = [("value", entry.get("value_relative"))]
        found += [(f"{k} Greek", v) for k, v in (entry.get("greek_relative") or {}).items()]
        for quantity, rel in found:
            if rel is None:
                continue
            if not math.isfinite(rel):
                worst = {"check": name, "quantity": quantity, "relative": None}
                return {"tolerance": tolerance, "worst": worst, "passed": tolerance is None}
            if worst is None or rel > worst["relative"]:
                worst = {"check": name, "quantity": quantity, "relative": float(rel)}
    passed = tolerance is None or worst is None or worst["relative"] <= tolerance
    return {"tolerance": tolerance, "worst": worst, "passed": passed}


def disagreement_line(method: str, result: dict[str, Any]) -> str:
    """The one line a scenario fails with when :func:`agreement` did not pass."""
    w = result["worst"]
    rel = "not finite" if w["relative"] is None else f"{w['relative']:.3g}"
    return (f"the {method} reference and its {w['check']} cross-check disagree: {w['quantity']} "
            f"differs by {rel} of its RMS on the test set, more than reference.agreement "
            f"{result['tolerance']:g}")


def surrogate_target(ref: dict) -> dict:
    """The reference the surrogates are scored against: the risk-free one for a two-signed
    product under XVA (``ref["surrogate"]``), else the scenario's reference."""
    return ref.get("surrogate") or {"method": ref["method"], "risk_free": False,
                                    "price": ref["price"], "grad": ref["grad"],
                                    "gamma": ref.get("gamma")}


def _load_training_entry(entry: Path) -> None:
    """Read every file of a training cache entry the way a reuse does (raises if one is
    damaged): ``curve.json``, ``predictions.npz`` and each saved model."""
    from training import DifferentialRegressor

    curve = json.loads((entry / "curve.json").read_text())
    dict(np.load(entry / "predictions.npz"))
    for mode in curve["models"]:
        DifferentialRegressor.load(entry / "models" / mode)


def training_key(dataset_hash: str, scenario: Scenario, ref: dict) -> str:
    """Models and curves are reused when the data, the training settings (with every
    hyperparameter of the regressor, defaults included), the test set, the reference they are
    scored against (prices, gradients, gammas) and :data:`METRICS_VERSION` are unchanged."""
    from training import DifferentialRegressor

    target = surrogate_target(ref)
    digest = hashlib.sha256(str(target.get("method")).encode())
    for part in ("price", "grad", "gamma"):
        value = target.get(part)
        digest.update(b"none" if value is None else np.ascontiguousarray(
            np.asarray(value, float)).tobytes())
    blob = json.dumps({"dataset": dataset_hash, "metrics": METRICS_VERSION,
                       "training": scenario.training.model_dump(mode="json"),
                       "regressor": DifferentialRegressor(
                           **regressor_kwargs(scenario.training, seed=0)).get_params(),
                       "test": scenario.test.model_dump(mode="json"),
                       "reference": digest.hexdigest()},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def regressor_kwargs(t: Any, seed: int) -> dict[str, Any]:
    """The ``DifferentialRegressor`` arguments of a scenario's ``training`` block for ``seed``."""
    kwargs = dict(hidden_layers=t.hidden_layers, hidden_units=t.hidden_units, lam=t.lam,
                  epochs=t.epochs, seed=seed, dtype=t.dtype)
    if t.peak_lr is not None:
        kwargs["peak_lr"] = t.peak_lr
    return kwargs


def train_step(cfg: RunConfig, scenario: Scenario, dataset: dict, ref: dict,
               run_dir: Path, progress: Any = None) -> dict:
    """Learning curve: a DifferentialRegressor per (size, mode, seed), scored on the test set.
    ``progress(m, mode, seed)``, when given, is called before each fit (not when reused).

    The models of the largest size (seed of the first entry) are saved under
    ``run_dir/models/<scenario>-<mode>/``; their predictions go to ``arrays/<scenario>.npz``.
    Results are cached under ``<runs folder>/.cache/train/<key>/`` and reused when the dataset
    hash, the training settings and the test set are unchanged.
    """
    import data
    from training import DifferentialRegressor

    t0 = time.perf_counter()
    cache = run_dir.parent / ".cache" / "train" / training_key(dataset["hash"], scenario, ref)
    reused = usable(cache, "training", marker="curve.json", load=_load_training_entry)
    if not reused:
        import torch

        ds = data.open_dataset(dataset["path"])
        # Small twin networks train fastest on one thread, and scenarios already run in
        # parallel: more intra-op threads only oversubscribe the cores.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            _learning_curve(scenario, ds.x, ds.y, ds.dydx, ref, cache, DifferentialRegressor,
                            run_dir, progress)
        finally:
            torch.set_num_threads(threads)
    out = json.loads((cache / "curve.json").read_text())
    for mode in out["models"]:
        dst = run_dir / "models" / f"{scenario.id}-{mode}"
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(cache / "models" / mode, dst)
    out["models"] = {m: f"models/{scenario.id}-{m}" for m in out["models"]}
    out["predictions"] = dict(np.load(cache / "predictions.npz"))
    out["reused"] = reused
    out["seconds"] = time.perf_counter() - t0
    return out


def _learning_curve(scenario, x_all, y_all, z_all, ref, cache: Path,
                    DifferentialRegressor, run_dir: Path | None = None,
                    progress: Any = None) -> None:
    """Fit every (size, mode, seed), score on the test set, publish the cache entry atomically.

    Every fit is scored by :func:`evaluation.metrics.surrogate_errors` (value in price units and
    relative, Greeks per input, gamma where the reference has one); at the largest size also by
    moneyness bucket. The models of the largest size and first seed are checked against the
    product's shape rules and, for one-asset Black-Scholes scenarios, delta-hedged
    (:mod:`pipeline.diagnostics`).

    The entry is assembled in a folder of this process's own next to ``cache`` and renamed into
    place. When another process training the same key publishes first, its entry is kept and
    this one discarded (same key: same data, settings and seeds)."""
    import data

    t = scenario.training
    objs = scenario.objects()
    inputs = list(objs["model"].inputs)
    target = surrogate_target(ref)
    x_test, ref_price, ref_grad = ref["x"], target["price"], target["grad"]
    ref_gamma = target.get("gamma")
    money = diagnostics.moneyness(scenario, x_test)
    for m in t.sizes:
        if m > len(y_all):
            raise ValueError(f"scenario {scenario.id!r}: training size {m} exceeds the "
                             f"dataset's {len(y_all)} rows (set n_paths)")
    curve = []
    predictions: dict[str, np.ndarray] = {}
    at_largest: dict[str, list[dict]] = {}
    buckets: dict[str, list[list[dict]]] = {}
    saved: dict[str, Any] = {}
    shown: dict[str, tuple] = {}
    work = data.private_work_dir(cache)
    try:
        tmp_models = work / "models"
        tmp_models.mkdir()
        largest = max(t.sizes)
        for m in t.sizes:
            for mode in t.modes:
                for seed in t.seeds:
                    kwargs = regressor_kwargs(t, seed)
                    check_stop(f"the fit m={m} {mode} seed {seed}")
                    if progress is not None:
                        progress(m, mode, seed)
                    reg = DifferentialRegressor(**kwargs)
                    f0 = time.perf_counter()
                    if mode == "differential":
                        reg.fit(x_all[:m], y_all[:m], z_all[:m])
                    else:
                        reg.fit(x_all[:m], y_all[:m])
                    fit_s = time.perf_counter() - f0
                    price, grad = reg.predict_value_and_gradient(x_test)
                    first = m == largest and seed == t.seeds[0]
                    gamma = (diagnostics.surrogate_gamma(reg, x_test, inputs)
                             if ref_gamma is not None or first else None)
                    scored = dict(pred_grad=grad if ref_grad is not None else None,
                                  ref_grad=ref_grad, inputs=inputs,
                                  pred_gamma=gamma if ref_gamma is not None else None,
                                  ref_gamma=ref_gamma)
                    errs = surrogate_errors(price, ref_price, **scored)
                    rec = {"mode": mode, "m": int(m), "seed": int(seed),
                           **{k: errs[k] for k in PREDICTOR_KEYS if k in errs},
                           # the same per-input numbers as a list in input order, for readers
                           # of older runs
                           "delta_rmse": (list(errs["greek_rmse"].values())
                                          if "greek_rmse" in errs else None),
                           "fit_seconds": fit_s,
                           "final_loss": _final_loss(reg)}
                    curve.append(rec)
                    if m == largest:
                        at_largest.setdefault(mode, []).append(errs)
                        if money is not None:
                            buckets.setdefault(mode, []).append(
                                errors_by_bucket(money[0], price, ref_price, **scored))
                    if first:
                        reg.save(tmp_models / mode)
                        predictions[f"pred_price_{mode}"] = np.asarray(price)
                        predictions[f"pred_grad_{mode}"] = np.asarray(grad)
                        if gamma is not None:
                            predictions[f"pred_gamma_{mode}"] = np.asarray(gamma)
                        saved[mode] = reg
                        shown[mode] = (price, grad, gamma)
        rows = min(largest, NOISE_ROWS)  # the labels the largest fits trained on
        mc_noise = label_noise(scenario, x_all[:rows], y_all[:rows], z_all[:rows], run_dir,
                               sizes=t.sizes)
        product = objs["product"]
        summary = summarise(at_largest, largest, buckets=buckets,
                            moneyness=None if money is None else money[1],
                            strike=getattr(product, "strike", None),
                            mc_standard_error=mc_noise["standard_error"].get(str(largest)))
        checks = diagnostics.shape_checks(
            scenario, x_test, {"reference": (ref_price, ref_grad, ref_gamma), **shown},
            summary.get("scale") or {})
        hedging = diagnostics.hedging(scenario, target, x_test, saved, scenario.test.seed)
        out = {"learning_curve": curve, "summary": summary, "mc_noise": mc_noise,
               "checks": checks, "hedging": hedging, "models": list(t.modes)}
        atomic_write_text(work / "curve.json", json.dumps(_plain(out), indent=1), fsync=False)
        with naming(work / "predictions.npz"):
            np.savez(work / "predictions.npz", **predictions)
        seal(work)
        _drop_incomplete_cache(cache)
        if not data.publish_dir(work, cache):
            log.info("training cache %s was published by another process first; using it",
                     cache)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _plain(obj: Any) -> Any:
    """JSON-ready: NumPy scalars and arrays as Python numbers and lists (non-finite numbers
    stay: ``finite`` must see them)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _drop_incomplete_cache(cache: Path) -> None:
    """Remove a cache entry without ``curve.json`` (left by an older, non-atomic writer), so
    that a complete one can take its place; one that another process completes meanwhile
    (a new folder) is kept (:func:`pipeline.cache.discard`)."""
    try:
        ino = cache.stat().st_ino
    except FileNotFoundError:
        return
    if cache.is_dir() and not (cache / "curve.json").is_file():
        discard(cache, ino)


#: The labels' noise and bias are measured on the first rows of the dataset, those the largest
#: fits train on, at most this many (a Heston reference costs about 1 ms a state).
NOISE_ROWS = 16_384


def label_bias(labels: np.ndarray, reference: np.ndarray) -> dict[str, float | int]:
    """Mean of ``labels - reference`` over the labels, with its standard error and z-score.

    Each label is an unbiased Monte-Carlo estimate of the reference at its state when the
    simulation scheme is exact, so ``|z|`` stays of order 1; a larger one measures the scheme's
    discretisation bias (Heston's Euler steps) or a mismatch between simulator and reference.
    """
    d = np.asarray(labels, dtype=float).reshape(-1) - np.asarray(reference, dtype=float).reshape(-1)
    n = int(d.size)
    mean = float(d.mean()) if n else float("nan")
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    z = mean / se if se > 0.0 else float("nan")
    return {"n": n, "mean": mean, "standard_error": se, "z": z}


def label_noise(scenario: Scenario, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                run_dir: Path | None = None, sizes: list[int] | tuple[int, ...] = ()) -> dict:
    """Monte-Carlo noise of the labels against the reference they estimate.

    ``value_std`` and ``greek_std`` (per input; ``delta_std`` is the same as a list) are the RMS
    distance of single-path labels from the reference: the standard deviation of one path's
    payoff (and pathwise Greek) around the price, RMS over the sampled states. ``bias`` holds
    :func:`label_bias` of the values and of each input's Greek. For each training
    size m, ``standard_error[str(m)]`` is the standard error of a Monte-Carlo price from m paths,
    the same cost as m training labels: ``value_std / sqrt(m)`` (and per input for the
    Greeks). The reference is the one the labels estimate: risk-free for a two-signed product
    under XVA, the PINN (read from its cache under ``run_dir``'s parent) for
    ``reference.method: pinn``."""
    from . import references as refs

    objs = scenario.objects()
    x = np.asarray(x, dtype=float)
    inputs = list(objs["model"].inputs)
    method = scenario.reference.method
    if surrogate_learns_risk_free(objs):
        ref = refs.risk_free(method, objs["model"], objs["product"], x, scenario.reference.fd)
    elif method == "pinn":
        from . import pinn_step

        ref = pinn_step.evaluate(pinn_step.trained(scenario, Path(run_dir))[0], x)
    else:
        ref = refs.compute(method, objs["model"], objs["product"], x, objs["xva"],
                           scenario.reference.fd)
    value_std = float(rmse(y, ref.price))
    out: dict[str, Any] = {"n_labels": int(len(y)), "value_std": value_std, "delta_std": None,
                           "greek_std": None}
    greek_std = None
    if ref.grad is not None:
        greek_std = {k: float(v) for k, v in zip(inputs, rmse(z, ref.grad, axis=0), strict=True)}
        out["greek_std"] = greek_std
        out["delta_std"] = list(greek_std.values())
    out["bias"] = {"value": label_bias(y, ref.price),
                   "greek": None if ref.grad is None else
                   {k: label_bias(z[:, i], ref.grad[:, i]) for i, k in enumerate(inputs)}}
    out["standard_error"] = {
        str(int(m)): {"value": value_std / math.sqrt(m),
                      "greek": None if greek_std is None else
                      {k: v / math.sqrt(m) for k, v in greek_std.items()}}
        for m in sizes}
    return out


def _final_loss(reg) -> float | None:
    hist = getattr(reg, "history_", None)
    loss = getattr(hist, "loss", None) if hist is not None else None
    if loss is None and isinstance(hist, dict):
        loss = hist.get("loss")
    try:
        return float(loss[-1])
    except (TypeError, IndexError, ValueError):
        return None


def summarise(errors: dict[str, list[dict]], m: int, *,
              buckets: dict[str, list[list[dict]]] | None = None, moneyness: str | None = None,
              strike: float | None = None, mc_standard_error: dict | None = None) -> dict:
    """The scenario's summary at training size ``m``: mean and sd over seeds, per mode, of the
    :func:`evaluation.metrics.surrogate_errors` results ``errors[mode]`` (value RMSE and relative
    error, per-input Greek and gamma RMSEs), the reference's scales (with the strike and
    whether the set-up is a unit-spot one), the same errors by moneyness bucket, and the
    standard error of an equal-cost Monte-Carlo price."""
    out: dict[str, Any] = {"m": int(m), "value_rmse": {}, **summarise_errors(errors)}
    scale = out.setdefault("scale", {})
    scale["strike"] = None if strike is None else float(strike)
    scale["unit_spot"] = is_unit_spot(None if strike is None else float(strike))
    if buckets and moneyness is not None:
        keyed: dict[tuple, dict[str, list[dict]]] = {}
        for mode, per_seed in buckets.items():
            for seed_buckets in per_seed:
                for b in seed_buckets:
                    keyed.setdefault((b["low"], b["high"], b["n"]), {}).setdefault(
                        mode, []).append(b)
        rows = []
        for (low, high, n), by_mode in keyed.items():
            rows.append({"low": low, "high": high, "n": n, **summarise_errors(by_mode)})
        rows.sort(key=lambda r: -math.inf if r["low"] is None else r["low"])
        out["by_moneyness"] = {"definition": moneyness, "buckets": rows}
    if mc_standard_error is not None:
        out["mc_standard_error"] = mc_standard_error
    return out


def finite(obj: Any) -> bool:
    """True when every number in a nested structure is finite."""
    if isinstance(obj, dict):
        return all(finite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(finite(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True
