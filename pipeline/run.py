"""Run directories and the evaluation step: metrics.json, arrays, config and the report."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from data.files import atomic_write_bytes, atomic_write_text

from .config import RunConfig

log = logging.getLogger("diffml.pipeline")
SCHEMA_VERSION = 1


def utc_stamp(now: dt.datetime | None = None) -> str:
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")


def make_run_dir(cfg: RunConfig, output: str | Path | None = None) -> Path:
    """``<output or output_root>/<name>-<UTC stamp>/`` (a suffix keeps same-second runs apart)."""
    root = Path(output) if output is not None else Path(cfg.output_root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = utc_stamp()
    path = root / f"{cfg.name}-{stamp}"
    k = 1
    while True:
        try:
            path.mkdir()
            break
        except FileExistsError:
            k += 1
            path = root / f"{cfg.name}-{stamp}-{k}"
    (path / "models").mkdir()
    (path / "arrays").mkdir()
    atomic_write_text(path / "config.yaml", cfg.to_yaml())
    return path


def previous_run(root: Path, name: str, current: Path) -> Path | None:
    """The most recent earlier run of exactly this name with a readable metrics.json."""
    from evaluation.trend import find_previous_runs

    stamp = current.name[len(name) + 1:].split("-")[0]  # without a same-second suffix
    runs = [p for p in find_previous_runs(root, name, before=stamp, limit=2) if p != current]
    return runs[0] if runs else None


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write_arrays(run_dir: Path, scenario_id: str, ref: dict | None, train: dict | None,
                 pinn: dict | None, backward: dict | None = None) -> None:
    """``arrays/<scenario>.npz``: ``ref_price`` / ``ref_grad`` are what the surrogates are scored
    against (the risk-free reference when they learn the risk-free value, see
    ``steps.surrogate_target``); the scenario's (risky) reference is then in ``xva_risky``.
    The backward step's arrays are prefixed ``backward_`` (``pipeline.backward_step.run``)."""
    from .steps import surrogate_target

    arrays: dict[str, np.ndarray] = {}
    if ref is not None:
        target = surrogate_target(ref)
        arrays["x_test"] = ref["x"]
        arrays["ref_price"] = target["price"]
        if target["grad"] is not None:
            arrays["ref_grad"] = target["grad"]
        if target.get("gamma") is not None:
            arrays["ref_gamma"] = target["gamma"]
        arrays.update(ref.get("xva_curves", {}))
    if train is not None:
        arrays.update(train.get("predictions", {}))
    if pinn is not None:
        arrays.update(pinn.get("arrays", {}))
    if backward is not None:
        arrays.update(backward.get("arrays", {}))
    if arrays:
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(run_dir / "arrays" / f"{scenario_id}.npz", buf.getbuffer())


def regression_baseline(cfg: RunConfig, run_dir: Path) -> tuple[dict | None, dict]:
    """What this run is compared with (``cfg.regression``): the pinned run, the previous run,
    or the best value of each metric over the last ``window`` runs of the same name under
    ``run_dir``'s parent. Returns (baseline metrics or None, ``{"kind", "runs"}`` for
    metrics.json)."""
    from evaluation.trend import best_of, find_previous_runs, load_metrics

    gate = cfg.regression
    if gate.pinned is not None:
        return load_metrics(gate.pinned), {"kind": "pinned", "runs": [str(gate.pinned)]}
    stamp = run_dir.name[len(cfg.name) + 1:].split("-")[0]
    n = 1 if gate.baseline == "previous" else gate.window
    dirs = [d for d in find_previous_runs(run_dir.parent, cfg.name, before=stamp, limit=n + 1)
            if d != run_dir][:n]
    runs = []
    for d in dirs:
        try:
            runs.append(load_metrics(d))
        except (OSError, ValueError):
            log.warning("run %s has no readable metrics.json; not a baseline", d)
    desc = {"kind": gate.baseline, "runs": [str(d) for d in dirs]}
    if not runs:
        return None, desc
    return (runs[0] if gate.baseline == "previous" else best_of(runs)), desc


def find_regressions(metrics: dict, baseline: dict | None, tolerance: float) -> list[dict]:
    """The regressions of ``metrics`` against ``baseline`` (only this run's failures when there
    is none): the one list that metrics.json, the CLI and the report show."""
    from evaluation.trend import compare

    return [_jsonable(r) for r in compare(metrics, baseline, tolerance)]


def write_metrics(run_dir: Path, metrics: dict) -> Path:
    from evaluation.run_format import check_metrics

    path = run_dir / "metrics.json"
    doc = check_metrics(_jsonable(metrics), str(path))
    atomic_write_text(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")
    return path


def code_revision(where: Path | None = None) -> dict[str, Any] | None:
    """The git commit of the code that ran, when it runs from a git checkout:
    ``{"commit": <40 hex digits>, "dirty": True when tracked files differ from it}``; None for
    an installed package (also one installed into a virtual environment inside a checkout: its
    folder holds no tracked file), without git, or when git does not answer within 5 s. ``where``: a
    folder of the code (default: this package's)."""
    folder = Path(where) if where is not None else Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                                  text=True, timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--verify", "HEAD")
    if not commit or len(commit) != 40:
        return None
    if not git("ls-files", "--", "."):
        return None  # an installed copy inside some checkout (a venv's site-packages): untracked
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}
