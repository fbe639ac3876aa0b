"""The pipeline's steps as plain functions: simulate, reference, train, evaluate.

Each works without Prefect; ``pipeline.flows`` only wires them into tasks. Results are
JSON-ready dicts that end up in ``metrics.json`` (docs/run-format.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.metrics import rmse

from .config import RunConfig, Scenario, surrogate_learns_risk_free

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
            "backend": cfg.backend, "seconds": time.perf_counter() - t0}


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
    checks, values = {}, {}
    for other_method in scenario.reference.cross_checks:
        if other_method == method:
            continue
        other = refs.compute(other_method, model, product, x, xva, grid)
        entry = {"max_abs_price_diff": float(np.max(np.abs(other.price - ref.price)))}
        if other.grad is not None and ref.grad is not None:
            entry["max_abs_delta_diff"] = float(np.max(np.abs(other.grad - ref.grad)))
        checks[other_method] = entry
        values[other_method] = {"price": np.asarray(other.price, float),
                                "grad": None if other.grad is None else np.asarray(other.grad,
                                                                                   float),
                                "gamma": None if other.gamma is None else np.asarray(other.gamma,
                                                                                     float)}
    out = {"x": x, "price": np.asarray(ref.price, float),
           "grad": None if ref.grad is None else np.asarray(ref.grad, float),
           "method": ref.method, "cross_checks": checks, "check_values": values,
           "seconds": time.perf_counter() - t0}
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
        out["seconds"] = time.perf_counter() - t0
    return out


def surrogate_target(ref: dict) -> dict:
    """The reference the surrogates are scored against: the risk-free one for a two-signed
    product under XVA (``ref["surrogate"]``), else the scenario's reference."""
    return ref.get("surrogate") or {"method": ref["method"], "risk_free": False,
                                    "price": ref["price"], "grad": ref["grad"]}


def training_key(dataset_hash: str, scenario: Scenario, ref: dict) -> str:
    """Models and curves are reused when the data, the training settings and the test set are
    unchanged."""
    blob = json.dumps({"dataset": dataset_hash,
                       "training": scenario.training.model_dump(mode="json"),
                       "test": scenario.test.model_dump(mode="json"),
                       "reference": hashlib.sha256(np.ascontiguousarray(
                           surrogate_target(ref)["price"]).tobytes()).hexdigest()},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def train_step(cfg: RunConfig, scenario: Scenario, dataset: dict, ref: dict,
               run_dir: Path) -> dict:
    """Learning curve: a DifferentialRegressor per (size, mode, seed), scored on the test set.

    The models of the largest size (seed of the first entry) are saved under
    ``run_dir/models/<scenario>-<mode>/``; their predictions go to ``arrays/<scenario>.npz``.
    Results are cached under ``<runs folder>/.cache/train/<key>/`` and reused when the dataset
    hash, the training settings and the test set are unchanged.
    """
    import data
    from training import DifferentialRegressor

    t0 = time.perf_counter()
    cache = run_dir.parent / ".cache" / "train" / training_key(dataset["hash"], scenario, ref)
    reused = (cache / "curve.json").is_file()
    if not reused:
        import torch

        ds = data.open_dataset(dataset["path"])
        # Small twin networks train fastest on one thread, and scenarios already run in
        # parallel: more intra-op threads only oversubscribe the cores.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            _learning_curve(scenario, ds.x, ds.y, ds.dydx, ref, cache, DifferentialRegressor,
                            run_dir)
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
                    DifferentialRegressor, run_dir: Path | None = None) -> None:
    """Fit every (size, mode, seed), score on the test set, publish the cache entry atomically.

    The entry is assembled in a folder of this process's own next to ``cache`` and renamed into
    place. When another process training the same key publishes first, its entry is kept and
    this one discarded (same key: same data, settings and seeds)."""
    import data

    t = scenario.training
    target = surrogate_target(ref)
    x_test, ref_price, ref_grad = ref["x"], target["price"], target["grad"]
    for m in t.sizes:
        if m > len(y_all):
            raise ValueError(f"scenario {scenario.id!r}: training size {m} exceeds the "
                             f"dataset's {len(y_all)} rows (set n_paths)")
    curve = []
    predictions: dict[str, np.ndarray] = {}
    work = data.private_work_dir(cache)
    try:
        tmp_models = work / "models"
        tmp_models.mkdir()
        largest = max(t.sizes)
        for m in t.sizes:
            for mode in t.modes:
                for seed in t.seeds:
                    kwargs = dict(hidden_layers=t.hidden_layers, hidden_units=t.hidden_units,
                                  lam=t.lam, epochs=t.epochs, seed=seed, dtype=t.dtype)
                    if t.peak_lr is not None:
                        kwargs["peak_lr"] = t.peak_lr
                    reg = DifferentialRegressor(**kwargs)
                    f0 = time.perf_counter()
                    if mode == "differential":
                        reg.fit(x_all[:m], y_all[:m], z_all[:m])
                    else:
                        reg.fit(x_all[:m], y_all[:m])
                    fit_s = time.perf_counter() - f0
                    price, grad = reg.predict_value_and_gradient(x_test)
                    rec = {"mode": mode, "m": int(m), "seed": int(seed),
                           "value_rmse": float(rmse(price, ref_price)),
                           "delta_rmse": (None if ref_grad is None else
                                          [float(v) for v in rmse(grad, ref_grad, axis=0)]),
                           "fit_seconds": fit_s,
                           "final_loss": _final_loss(reg)}
                    curve.append(rec)
                    if m == largest and seed == t.seeds[0]:
                        reg.save(tmp_models / mode)
                        predictions[f"pred_price_{mode}"] = np.asarray(price)
                        predictions[f"pred_grad_{mode}"] = np.asarray(grad)
        mc_noise = label_noise(scenario, x_all[:2000], y_all[:2000], z_all[:2000], run_dir)
        out = {"learning_curve": curve, "summary": summarise(curve, largest),
               "mc_noise": mc_noise, "models": list(t.modes)}
        (work / "curve.json").write_text(json.dumps(out, indent=1))
        np.savez(work / "predictions.npz", **predictions)
        _drop_incomplete_cache(cache)
        if not data.publish_dir(work, cache):
            log.info("training cache %s was published by another process first; using it",
                     cache)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _drop_incomplete_cache(cache: Path) -> None:
    """Remove a cache entry without ``curve.json`` (left by an older, non-atomic writer), so
    that a complete one can take its place; renamed first, so concurrent callers do not
    collide."""
    import data

    if not cache.is_dir() or (cache / "curve.json").is_file():
        return
    trash = cache.with_name(f".{cache.name}.stale-{os.getpid()}-{time.time_ns()}")
    try:
        os.rename(cache, trash)
    except FileNotFoundError:
        return  # another process removed or replaced it
    if (trash / "curve.json").is_file():  # completed by another process meanwhile: put back
        data.publish_dir(trash, cache)
        return
    shutil.rmtree(trash, ignore_errors=True)


def label_noise(scenario: Scenario, x: np.ndarray, y: np.ndarray, z: np.ndarray,
                run_dir: Path | None = None) -> dict:
    """RMS distance of single Monte-Carlo labels from the reference: the noise the surrogate
    averages out (value, and per input for the differentials). The reference is the one the
    labels estimate: risk-free for a two-signed product under XVA, the PINN (read from its
    cache under ``run_dir``'s parent) for ``reference.method: pinn``."""
    from . import references as refs

    objs = scenario.objects()
    x = np.asarray(x, dtype=float)
    method = scenario.reference.method
    if surrogate_learns_risk_free(objs):
        ref = refs.risk_free(method, objs["model"], objs["product"], x, scenario.reference.fd)
    elif method == "pinn":
        from . import pinn_step

        ref = pinn_step.evaluate(pinn_step.trained(scenario, Path(run_dir))[0], x)
    else:
        ref = refs.compute(method, objs["model"], objs["product"], x, objs["xva"],
                           scenario.reference.fd)
    out = {"value_std": float(rmse(y, ref.price)), "delta_std": None}
    if ref.grad is not None:
        out["delta_std"] = [float(v) for v in rmse(z, ref.grad, axis=0)]
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


def summarise(curve: list[dict], m: int) -> dict:
    """Mean and sd over seeds at training size ``m``, per mode (value RMSE and mean delta RMSE)."""
    out: dict[str, Any] = {"m": int(m), "value_rmse": {}, "delta_rmse": {}}
    for mode in sorted({r["mode"] for r in curve}):
        rows = [r for r in curve if r["mode"] == mode and r["m"] == m]
        v = np.array([r["value_rmse"] for r in rows])
        out["value_rmse"][mode] = {"mean": float(v.mean()), "sd": float(v.std())}
        if rows and rows[0]["delta_rmse"] is not None:
            d = np.array([np.mean(r["delta_rmse"]) for r in rows])
            out["delta_rmse"][mode] = {"mean": float(d.mean()), "sd": float(d.std())}
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
