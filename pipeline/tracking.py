"""Optional experiment tracking: a finished run logged to MLflow (the ``mlflow`` extra).

Config (``tracking.mlflow`` of :class:`pipeline.config.RunConfig`, off by default)::

    tracking:
      mlflow: {enabled: true, uri: null, experiment: null}

One MLflow run per night (named ``<name>-<stamp>``) holds the run's facts, ``metrics.json`` and
``report.html``; one nested run per scenario (tag ``mlflow.parentRunId``, named after the
scenario) holds its parameters (the model, product, sampler and XVA blocks, flattened to
``model.vol``...), the summary numbers as metrics (``summary.value_rmse.differential.mean``,
``pinn.log10_rel_l2``, ``seconds.train``...) and ``report.html`` as an artifact.

``uri: null`` stores everything beside the runs: ``sqlite:///<runs folder>/mlflow.db``, with
artifacts under ``<runs folder>/mlartifacts`` (any SQLite store keeps the artifacts of the
experiments it creates in ``mlartifacts/`` beside the database). MLflow 3 refuses file stores
(``./mlruns``) unless ``MLFLOW_ALLOW_FILE_STORE=true``; a ``file:`` URI works when that is set.
``experiment: null`` names the experiment ``diffml-<run name>``.

Tracking never fails a run: :func:`log_run` turns every error (MLflow missing, a store that
cannot be reached) into one warning on the ``diffml.pipeline`` logger (written to the run's
``run.log``) and returns ``None``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("diffml.pipeline")

__all__ = ["Tracked", "default_uri", "log_run", "log_run_dir"]

#: MLflow's limit on the length of a parameter value; longer values are cut with "…".
MAX_PARAM_CHARS = 6000
_BATCH = 100  # parameters or tags per log_batch call (MLflow's limit)
_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


@dataclass(frozen=True)
class Tracked:
    """Where a run went: the tracking URI, the experiment id, the night's MLflow run id and the
    scenario runs' ids by scenario."""

    uri: str
    experiment_id: str
    run_id: str
    scenario_runs: dict[str, str]


def default_uri(runs_folder: str | Path) -> str:
    """``sqlite:///<runs folder>/mlflow.db`` (absolute)."""
    return f"sqlite:///{Path(runs_folder).resolve() / 'mlflow.db'}"


def log_run(cfg: Any, run_dir: str | Path) -> Tracked | None:
    """Log ``run_dir`` when ``cfg.tracking.mlflow.enabled``; never raises (module docstring).

    Returns the :class:`Tracked` ids, or ``None`` when tracking is off or failed."""
    settings = cfg.tracking.mlflow
    if not settings.enabled:
        return None
    try:
        tracked = log_run_dir(run_dir, uri=settings.uri,
                              experiment=settings.experiment or f"diffml-{cfg.name}")
    except Exception as exc:  # noqa: BLE001 - tracking is a convenience, never a failure
        hint = (" (pip install -c constraints.txt -e '.[mlflow]')"
                if isinstance(exc, ImportError) else "")
        log.warning("MLflow tracking failed, the run itself is unaffected: %s: %s%s",
                    type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc) else "",
                    hint)
        return None
    log.info("logged to MLflow %s, experiment %s, run %s (%d scenario runs)", tracked.uri,
             tracked.experiment_id, tracked.run_id, len(tracked.scenario_runs))
    return tracked


def log_run_dir(run_dir: str | Path, *, uri: str | None = None,
                experiment: str = "diffml") -> Tracked:
    """Log a run directory (``metrics.json``, optional ``report.html``) to MLflow; raises on any
    failure (:func:`log_run` is the pipeline's never-failing wrapper).

    Args:
        run_dir: ``<runs folder>/<name>-<stamp>/`` as the pipeline writes it.
        uri: tracking URI; ``None``: :func:`default_uri` of the runs folder. A new experiment
            in an SQLite store keeps its artifacts in ``mlartifacts/`` beside the database.
        experiment: MLflow experiment name, created when missing.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    run_dir = Path(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    report = run_dir / "report.html"
    artifacts = [p for p in (report, run_dir / "metrics.json") if p.is_file()]
    run = metrics.get("run") or {}
    runs_folder = run_dir.resolve().parent
    uri = default_uri(runs_folder) if uri is None else uri
    location = None  # a server or a file store chooses; SQLite would pick ./mlruns of the cwd
    if uri.startswith("sqlite:///"):
        location = (Path(uri[len("sqlite:///"):]).parent / "mlartifacts").as_uri()
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp is not None else client.create_experiment(
        experiment, artifact_location=location)
    now = int(time.time() * 1000)

    def batch(run_id: str, params: dict[str, str], values: dict[str, float],
              tags: dict[str, str]) -> None:
        p = [Param(k, v) for k, v in params.items()]
        t = [RunTag(k, v) for k, v in tags.items()]
        m = [Metric(k, v, now, 0) for k, v in values.items()]
        for i in range(0, max(len(p), len(t), len(m), 1), _BATCH):
            client.log_batch(run_id, metrics=m[i:i + _BATCH], params=p[i:i + _BATCH],
                             tags=t[i:i + _BATCH])

    name = f"{run.get('name', run_dir.name)}-{run.get('stamp', '')}".rstrip("-")
    parent = client.create_run(exp_id, run_name=name, tags={
        "diffml.run_dir": str(run_dir.resolve()), "diffml.status": str(run.get("status", "?"))})
    pid = parent.info.run_id
    try:
        facts = {k: _text(run.get(k)) for k in ("name", "stamp", "backend", "package_version",
                                                 "regression_tolerance") if k in run}
        n_failed = sum(1 for sc in (metrics.get("scenarios") or {}).values()
                       if (sc or {}).get("status") != "ok")
        batch(pid, facts, {"scenarios_failed": float(n_failed),
                           "regressions": float(len(metrics.get("regressions") or [])),
                           **dict(_numbers(run.get("stage_seconds"), "seconds"))}, {})
        for path in artifacts:
            client.log_artifact(pid, str(path))
        children: dict[str, str] = {}
        for sid, sc in (metrics.get("scenarios") or {}).items():
            sc = sc or {}
            child = client.create_run(exp_id, run_name=str(sid), tags={
                "mlflow.parentRunId": pid, "diffml.scenario": str(sid),
                "diffml.status": str(sc.get("status", "?"))})
            cid = child.info.run_id
            try:
                params = dict(_flat(sc.get("parameters") or {}))
                params["inputs"] = _text(sc.get("inputs"))
                ref = sc.get("reference") or {}
                if ref.get("method"):
                    params["reference.method"] = _text(ref["method"])
                values = {**dict(_numbers(sc.get("summary"), "summary")),
                          **dict(_numbers(_flat_pinn(sc.get("pinn")), "pinn")),
                          **dict(_numbers(sc.get("stage_seconds"), "seconds"))}
                tags = {"diffml.error": _text(sc["error"])} if sc.get("error") else {}
                batch(cid, params, values, tags)
                if report.is_file():
                    client.log_artifact(cid, str(report))
            except BaseException:
                client.set_terminated(cid, "FAILED")
                raise
            client.set_terminated(cid, "FINISHED" if sc.get("status") == "ok" else "FAILED")
            children[str(sid)] = cid
    except BaseException:
        client.set_terminated(pid, "FAILED")
        raise
    client.set_terminated(pid, "FINISHED" if run.get("status") == "ok" else "FAILED")
    return Tracked(uri, str(exp_id), pid, children)


def _key(k: str) -> str:
    return _KEY.sub("_", k)[:250]


def _text(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, separators=(",", ":"), default=str)
    return s if len(s) <= MAX_PARAM_CHARS else s[:MAX_PARAM_CHARS - 1] + "…"


def _flat(d: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Parameters flattened to ``model.vol``: values as text (lists as compact JSON)."""
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            yield from _flat(v, key)
        else:
            yield _key(key), _text(v)


def _flat_pinn(pinn: Any) -> dict[str, Any]:
    """The PINN's scalar results (its history and per-point tables left out)."""
    if not isinstance(pinn, Mapping):
        return {}
    return {k: v for k, v in pinn.items() if k not in ("history", "at_points", "vs_fd")}


def _numbers(d: Any, prefix: str) -> Iterator[tuple[str, float]]:
    """Finite numbers of a nested mapping, keyed ``prefix.a.b`` (booleans and text skipped)."""
    if not isinstance(d, Mapping):
        return
    for k, v in d.items():
        key = f"{prefix}.{k}"
        if isinstance(v, Mapping):
            yield from _numbers(v, key)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            yield _key(key), float(v)
