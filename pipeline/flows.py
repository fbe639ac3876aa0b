"""Prefect 3 tasks and the nightly flow. Tasks are thin wrappers over ``pipeline.steps``.

Scenarios run in parallel through ``prefect_dask.DaskTaskRunner``; inside a Dask worker the
simulate task hands dataset chunks to the same cluster. Retries are on the I/O step only.
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from pathlib import Path
from typing import Any

from prefect import allow_failure, flow, task

from . import progress, steps, tracking
from . import run as runmod
from .config import RunConfig, parse_config

log = logging.getLogger("diffml.pipeline")


def _client():
    """A Dask client when running inside a Dask worker (for chunk-level parallelism)."""
    try:
        from distributed import get_worker, worker_client

        get_worker()
    except (ImportError, ValueError):
        return None
    return worker_client()


@task(name="simulate", retries=2, retry_delay_seconds=1)
def simulate_task(raw: dict, scenario_id: str) -> dict:
    cfg = parse_config(raw)
    scenario = cfg.scenario(scenario_id)
    # chunks go to the cluster only when there are several: a single chunk runs here rather
    # than queueing behind other scenarios' long tasks
    ctx = _client() if scenario.paths > cfg.chunk_paths else None
    with progress.stage(scenario_id, "simulate"):
        if ctx is None:
            return steps.simulate_step(cfg, scenario)
        with ctx as client:
            return steps.simulate_step(cfg, scenario, client=client)


@task(name="reference")
def reference_task(raw: dict, scenario_id: str, run_dir: str) -> dict:
    cfg = parse_config(raw)
    with progress.stage(scenario_id, "reference"):
        return steps.reference_step(cfg, cfg.scenario(scenario_id), Path(run_dir))


@task(name="train")
def train_task(raw: dict, scenario_id: str, dataset: dict, ref: dict, run_dir: str) -> dict:
    cfg = parse_config(raw)
    with progress.stage(scenario_id, "train"):
        return steps.train_step(cfg, cfg.scenario(scenario_id), dataset, ref, Path(run_dir))


@task(name="pinn")
def pinn_task(raw: dict, scenario_id: str, ref: dict, run_dir: str) -> dict:
    from . import pinn_step

    cfg = parse_config(raw)
    with progress.stage(scenario_id, "pinn"):
        return pinn_step.run(cfg, cfg.scenario(scenario_id), ref, Path(run_dir))


@task(name="backward")
def backward_task(raw: dict, scenario_id: str, ref: dict, pinn: Any, run_dir: str) -> dict:
    from . import backward_step

    cfg = parse_config(raw)
    with progress.stage(scenario_id, "backward"):
        # a failed PINN step arrives as its exception: the comparison goes on without it
        return backward_step.run(cfg, cfg.scenario(scenario_id), ref,
                                 pinn if isinstance(pinn, dict) else None, Path(run_dir))


def _one_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0] if msg else ''}"


def _result(state) -> tuple[Any, str | None]:
    if state is None:
        return None, None
    if state.is_completed():
        return state.result(), None
    try:
        state.result(raise_on_failure=True)
    except BaseException as exc:  # noqa: BLE001 - reported in metrics, not re-raised
        log.error("task failed: %s", "".join(traceback.format_exception(exc)))
        return None, _one_line(exc)
    return None, f"task ended in state {state.type.value}"


@flow(name="diffml-nightly", log_prints=False)
def nightly(raw: dict, output: str | None = None) -> dict:
    """Simulate -> reference -> train (-> PINN) (-> backward) per scenario, then evaluate and
    report."""
    started = time.time()
    cfg: RunConfig = parse_config(raw)
    run_dir = runmod.make_run_dir(cfg, output)
    handler = logging.FileHandler(run_dir / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("diffml").addHandler(handler)
    logging.getLogger("diffml").setLevel(logging.INFO)
    try:
        log.info("run %s: %d scenarios", run_dir, len(cfg.scenarios))
        futures = {}
        for s in cfg.scenarios:
            sim_f = simulate_task.submit(raw, s.id)
            # reference.method pinn: the reference task trains the PINN (cached), the PINN task
            # then reads it back and compares it with the FD cross-check
            ref_f = reference_task.submit(raw, s.id, str(run_dir))
            train_f = train_task.submit(raw, s.id, sim_f, ref_f, str(run_dir))
            pinn_f = (pinn_task.submit(raw, s.id, ref_f, str(run_dir))
                      if s.pinn is not None and s.pinn.enabled else None)
            # the backward step compares with the PINN: the reference's when the PINN is the
            # reference, else the PINN step's (waited for; its failure is not the backward's)
            back_f = None
            if s.backward is not None and s.backward.enabled:
                wait_pinn = pinn_f is not None and s.reference.method != "pinn"
                back_f = backward_task.submit(raw, s.id, ref_f,
                                              allow_failure(pinn_f) if wait_pinn else None,
                                              str(run_dir))
            futures[s.id] = (sim_f, ref_f, train_f, pinn_f, back_f)
        results = {}
        for sid, fs in futures.items():
            for f in fs:
                if f is not None:
                    f.wait()
            results[sid] = [_result(f.state if f is not None else None) for f in fs]
        return evaluate_task(cfg, run_dir, results, started)
    finally:
        logging.getLogger("diffml").removeHandler(handler)
        handler.close()


@task(name="evaluate")
def evaluate_task(cfg: RunConfig, run_dir: Path, results: dict, started: float) -> dict:
    return evaluate(cfg, run_dir, results, started)


def evaluate(cfg: RunConfig, run_dir: Path, results: dict, started: float) -> dict:
    """Assemble metrics.json, arrays and the report; returns a summary of the run."""
    import datetime as dt

    from data.manifest import package_version

    t0 = time.perf_counter()
    scenarios = {}
    stage_totals = {"simulate": 0.0, "reference": 0.0, "train": 0.0, "pinn": 0.0,
                    "backward": 0.0}
    failures = []
    for s in cfg.scenarios:
        per_step = list(results[s.id])
        per_step += [(None, None)] * (5 - len(per_step))  # simulate, reference, train, pinn,
        (ds, e1), (ref, e2), (tr, e3), (pn, e4), (bw, e5) = per_step  # backward
        errors = [e for e in (e1, e2, e3, e4, e5) if e]
        if bw is not None and tr is not None:
            from . import backward_step

            backward_step.add_surrogate_row(bw, tr.get("predictions", {}),
                                            (tr.get("summary") or {}).get("m"))
        objs = s.objects()
        entry: dict[str, Any] = {
            "status": "failed" if errors else "ok",
            "error": errors[0] if errors else None,
            "label": s.label,
            "parameters": {"model": objs["model"].to_dict(), "product": objs["product"].to_dict(),
                           "sampler": objs["sampler"].to_dict(),
                           "xva": None if objs["xva"] is None else objs["xva"].to_dict(),
                           "seed": cfg.seed if s.seed is None else s.seed,
                           "antithetic": s.antithetic},
            "inputs": list(objs["model"].inputs),
            "dataset": None if ds is None else ds,
            "reference": None if ref is None else {
                "method": ref["method"], "n_test": len(ref["price"]),
                "cross_checks": ref["cross_checks"],
                **({"surrogate": {k: ref["surrogate"][k] for k in ("method", "risk_free")}}
                   if "surrogate" in ref else {})},
            "mc_noise": None if tr is None else tr["mc_noise"],
            "learning_curve": [] if tr is None else tr["learning_curve"],
            "summary": None if tr is None else tr["summary"],
            "checks": None if tr is None else tr.get("checks"),
            "hedging": None if tr is None else tr.get("hedging"),
            "pinn": None if pn is None else pn["metrics"],
            "backward": None if bw is None else bw["metrics"],
            "stage_seconds": {"simulate": 0.0 if ds is None else ds["seconds"],
                              "reference": 0.0 if ref is None else ref["seconds"],
                              "train": 0.0 if tr is None else tr["seconds"],
                              "pinn": 0.0 if pn is None else pn["seconds"],
                              "backward": 0.0 if bw is None else bw["seconds"]},
            "models": {**({} if tr is None else tr["models"]),
                       **({} if pn is None or not pn.get("path") else {"pinn": pn["path"]}),
                       **({} if bw is None else {"backward": bw["path"]}),
                       **({} if bw is None or not bw.get("risk_free_path") else
                          {"backward_risk_free": bw["risk_free_path"]})},
            "reused": {"dataset": None if ds is None else ds["reused"],
                       "training": None if tr is None else tr["reused"]},
        }
        if entry["status"] == "ok" and not steps.finite(entry["summary"]):
            entry["status"], entry["error"] = "failed", "non-finite metrics"
        if ref is not None:  # a reference its own cross-check contradicts is no reference
            agreed = steps.agreement(ref["cross_checks"], s.reference.agreement)
            entry["reference"]["agreement"] = agreed
            if entry["status"] == "ok" and not agreed["passed"]:
                entry["status"] = "failed"
                entry["error"] = steps.disagreement_line(ref["method"], agreed)
        for k, v in entry["stage_seconds"].items():
            stage_totals[k] += v
        if entry["status"] != "ok":
            failures.append(f"scenario {s.id!r} failed: {entry['error']}")
        runmod.write_arrays(run_dir, s.id, ref, tr, pn, bw)
        scenarios[s.id] = entry
        _log_scenario(s.id, entry)
    root = run_dir.parent
    previous = runmod.previous_run(root, cfg.name, run_dir)
    status = "ok" if not failures else ("failed" if len(failures) == len(scenarios) else "partial")
    metrics = {
        "schema_version": runmod.SCHEMA_VERSION,
        "run": {"name": cfg.name, "stamp": run_dir.name[len(cfg.name) + 1:],
                "dir": str(run_dir),
                "started": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(),
                "finished": None, "status": status, "package_version": package_version(),
                "code": runmod.code_revision(),
                "backend": cfg.backend,
                "dask": cfg.dask.model_dump(mode="json"),
                "stage_seconds": stage_totals,
                "previous": None if previous is None else str(previous),
                "regression_tolerance": cfg.regression_tolerance},
        "scenarios": scenarios,
        "regressions": [],
    }
    baseline, metrics["run"]["baseline"] = runmod.regression_baseline(cfg, run_dir)
    metrics["regressions"] = runmod.find_regressions(metrics, baseline,
                                                     cfg.regression_tolerance)
    metrics["run"]["stage_seconds"]["evaluate"] = time.perf_counter() - t0
    metrics["run"]["finished"] = dt.datetime.now(dt.UTC).isoformat()
    runmod.write_metrics(run_dir, metrics)
    report = _report(run_dir, cfg)
    _artifact(metrics, report)
    tracking.log_run(cfg, run_dir)  # MLflow when configured; a failure is only a warning
    base = metrics["run"]["baseline"]
    log.log(logging.INFO if status == "ok" else logging.ERROR,
            "run %s: %s in %.1f s, %d of %d scenarios ok, %d regression(s); report %s",
            run_dir.name, status, time.time() - started, len(scenarios) - len(failures),
            len(scenarios), len(metrics["regressions"]), report)
    return {"run_dir": str(run_dir), "status": status, "failures": failures,
            "baseline": _describe(base),
            "report": None if report is None else str(report),
            "regressions": metrics["regressions"]}


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _log_scenario(sid: str, entry: dict) -> None:
    """One line per scenario in run.log: its status, stage seconds and headline errors."""
    stages = ", ".join(f"{k} {v:.1f}" for k, v in entry["stage_seconds"].items() if v)
    if entry["status"] != "ok":
        log.error("scenario %s: failed (%s); stage seconds: %s", sid, entry["error"],
                  stages or "none")
        return
    rmse = (entry.get("summary") or {}).get("value_rmse") or {}
    errors = ", ".join(f"{mode} value RMSE {stat['mean']:.3g}" for mode, stat in rmse.items()
                       if isinstance(stat, dict) and _number(stat.get("mean")))
    pinn = entry.get("pinn") or {}
    if _number(pinn.get("log10_rel_l2")):
        errors += f"{', ' if errors else ''}PINN log10 rel. L2 {pinn['log10_rel_l2']:.2f}"
        if pinn.get("status") == "time_limit":
            errors += " (stopped at its time limit)"
    log.info("scenario %s: ok; %s; stage seconds: %s", sid, errors or "no errors recorded",
             stages)


def _describe(baseline: dict) -> str | None:
    """'the pinned run X', 'the previous run X' or 'the best of the last N runs'."""
    runs = baseline["runs"]
    if not runs:
        return None
    if baseline["kind"] == "best" and len(runs) > 1:
        return f"the best of the last {len(runs)} runs"
    return f"the {baseline['kind']} run {Path(runs[0]).name}"


def _report(run_dir: Path, cfg: RunConfig) -> Path | None:
    from evaluation.report import build_report

    return build_report(run_dir, history=cfg.history, tolerance=cfg.regression_tolerance)


def _artifact(metrics: dict, report: Path | None) -> None:
    try:
        from prefect.artifacts import create_markdown_artifact

        from evaluation.report import prefect_markdown

        create_markdown_artifact(key=f"diffml-{metrics['run']['name']}".lower().replace("_", "-"),
                                 markdown=prefect_markdown(metrics, report),
                                 description="diffml nightly summary")
    except Exception as exc:  # noqa: BLE001 - the artifact is a convenience
        log.warning("could not publish the Prefect artifact: %s", exc)


def run_config(cfg: RunConfig, raw: dict, output: str | None = None,
               dask_address: str | None = None) -> dict:
    """Run the nightly flow for a parsed config on its Dask task runner."""
    from .cluster import shared_api, task_runner

    runner = task_runner(cfg.dask, dask_address)
    flow_fn = nightly if runner is None else nightly.with_options(task_runner=runner)
    needs_api = (dask_address or cfg.dask.address) is not None or cfg.dask.worker_processes
    with shared_api(needs_api and runner is not None):
        return flow_fn(raw, output)
