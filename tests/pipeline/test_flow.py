"""End-to-end runs of the nightly flow under a Prefect test harness."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import data
from pipeline.cli import app
from pipeline.config import load_config
from pipeline.flows import run_config

runner = CliRunner()


def _run(config: Path, sets=None, **kw) -> dict:
    cfg = load_config(config, sets or [])
    result = run_config(cfg, json.loads(cfg.model_dump_json()), **kw)
    metrics = json.loads((Path(result["run_dir"]) / "metrics.json").read_text())
    return result, metrics


def _all_finite(obj) -> bool:
    if isinstance(obj, dict):
        return all(_all_finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_all_finite(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True


def _headline_errors_recomputed(run_dir: Path, metrics: dict) -> None:
    """The run's error figures, recomputed from what it stored: the saved models evaluated at the
    stored test points, against the stored reference, itself checked against the Black-Scholes
    formula written here (small.yaml's ``bs``: K 1.10, T 1, vol 0.2, zero rate)."""
    import numpy as np
    from scipy.stats import norm

    from training import DifferentialRegressor

    for sid, s in metrics["scenarios"].items():
        arrays = np.load(run_dir / "arrays" / f"{sid}.npz")
        x, ref = arrays["x_test"], arrays["ref_price"]
        if sid == "bs":
            spot, strike, vol = x[:, 0], 1.10, 0.2
            d1 = (np.log(spot / strike) + 0.5 * vol**2) / vol
            np.testing.assert_allclose(ref, spot * norm.cdf(d1) - strike * norm.cdf(d1 - vol),
                                       rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(arrays["ref_grad"][:, 0], norm.cdf(d1), rtol=1e-10)
        largest = max(r["m"] for r in s["learning_curve"])
        for mode in ("standard", "differential"):
            model = DifferentialRegressor.load(run_dir / s["models"][mode])
            price, grad = model.predict_value_and_gradient(x)
            np.testing.assert_allclose(price, arrays[f"pred_price_{mode}"], rtol=1e-12)
            rows = [r for r in s["learning_curve"] if r["mode"] == mode and r["m"] == largest]
            first = rows[0]  # the stored predictions are the first seed's
            rmse = float(np.sqrt(np.mean((price - ref) ** 2)))
            assert math.isclose(first["value_rmse"], rmse, rel_tol=1e-9), (sid, mode)
            greek = np.sqrt(np.mean((grad - arrays["ref_grad"]) ** 2, axis=0))
            np.testing.assert_allclose(list(first["greek_rmse"].values()), greek, rtol=1e-9)
            # the headline is the mean over the seeds at the largest size
            mean = float(np.mean([r["value_rmse"] for r in rows]))
            assert len(rows) == len({r["seed"] for r in rows}) >= 1
            assert math.isclose(s["summary"]["value_rmse"][mode]["mean"], mean, rel_tol=1e-12)


def test_run_reuse_and_targeted_regeneration(harness, small_config, monkeypatch):
    old_umask = os.umask(0o022)
    try:
        result, metrics = _run(small_config)
    finally:
        os.umask(old_umask)
    run_dir = Path(result["run_dir"])
    assert result["status"] == "ok", result["failures"]
    # every run file and folder is created with the process umask (022: 0644 and 0755)
    modes = {str(p.relative_to(run_dir)): p.stat().st_mode & 0o777 for p in run_dir.rglob("*")}
    assert modes and all(m == (0o755 if (run_dir / p).is_dir() else 0o644)
                         for p, m in modes.items()), modes
    for name in ("report.html", "metrics.json", "config.yaml", "run.log"):
        assert (run_dir / name).is_file(), name
    # run.log tells what happened without the report: a line per scenario and the outcome
    log_text = (run_dir / "run.log").read_text()
    for sid in ("bs", "basket"):
        assert re.search(rf"scenario {sid}: ok; standard value RMSE [0-9.e-]+, differential "
                         rf"value RMSE [0-9.e-]+.*; stage seconds: simulate", log_text), log_text
    assert "PINN log10 rel. L2 -" in log_text
    assert re.search(rf"run {run_dir.name}: ok in [0-9.]+ s, 2 of 2 scenarios ok, 0 "
                     r"regression\(s\); report .*report.html", log_text), log_text
    # the code that ran: this checkout's commit
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert metrics["run"]["code"]["commit"] == head
    assert f"commit {head[:12]}" in (run_dir / "report.html").read_text()
    assert set(metrics["scenarios"]) == {"bs", "basket"}
    for sid, s in metrics["scenarios"].items():
        assert s["status"] == "ok", (sid, s["error"])
        assert _all_finite(s["summary"]) and _all_finite(s["learning_curve"])
        assert s["summary"]["value_rmse"]["differential"]["mean"] > 0
        for mode in ("standard", "differential"):
            assert (run_dir / s["models"][mode] / "config.json").is_file()
        assert (run_dir / "arrays" / f"{sid}.npz").is_file()
    _headline_errors_recomputed(run_dir, metrics)
    pinn = metrics["scenarios"]["bs"]["pinn"]
    assert pinn["reused"] is False and math.isfinite(pinn["log10_rel_l2"])
    assert (run_dir / "models" / "bs-pinn" / "weights.pt").is_file()
    assert metrics["scenarios"]["bs"]["models"]["pinn"] == "models/bs-pinn"
    # the FD cross-check agrees with the closed form on the Black-Scholes test set
    assert metrics["scenarios"]["bs"]["reference"]["cross_checks"]["fd"][
        "max_abs_price_diff"] < 1e-4

    # second run: nothing is simulated or trained again
    import simulators

    def boom(*a, **k):
        raise AssertionError("simulate called on a cached dataset")

    monkeypatch.setattr(simulators, "simulate", boom)
    result2, metrics2 = _run(small_config)
    assert result2["status"] == "ok", result2["failures"]
    for s in metrics2["scenarios"].values():
        assert s["reused"] == {"dataset": True, "training": True}
    assert metrics2["scenarios"]["bs"]["pinn"]["reused"] is True
    assert metrics2["scenarios"]["bs"]["pinn"]["log10_rel_l2"] == pinn["log10_rel_l2"]
    assert metrics2["run"]["previous"] == str(run_dir)
    monkeypatch.undo()

    # one changed parameter regenerates exactly that scenario's data
    result3, metrics3 = _run(small_config, ["scenarios.bs.model.vol=0.25"])
    assert result3["status"] == "ok", result3["failures"]
    assert metrics3["scenarios"]["bs"]["reused"]["dataset"] is False
    assert metrics3["scenarios"]["basket"]["reused"]["dataset"] is True
    root = Path(yaml.safe_load(small_config.read_text())["dataset_root"])
    assert len(data.list_datasets(root)) == 3


def test_bad_set_value_exits_non_zero_with_one_line(small_config):
    res = runner.invoke(app, ["run", str(small_config), "--set", "scenarios.bs.model.vol=abc"])
    assert res.exit_code != 0
    assert "scenario 'bs', field 'model'" in res.output and "vol" in res.output


def test_process_workers_share_one_prefect_api(harness, small_config):
    raw = yaml.safe_load(small_config.read_text())
    raw["dask"] = {"n_workers": 2, "threads_per_worker": 1, "processes": True}
    raw["scenarios"] = raw["scenarios"][:1]
    raw["scenarios"][0].pop("pinn", None)
    small_config.write_text(yaml.safe_dump(raw))
    before = os.environ.get("PREFECT_API_URL")
    result, metrics = _run(small_config)
    assert result["status"] == "ok", result["failures"]
    assert metrics["run"]["dask"]["processes"] is True
    assert os.environ.get("PREFECT_API_URL") == before  # restored after the run


@pytest.mark.parametrize("level", [None, "INFO"])
def test_process_workers_run_ends_without_sending_to_a_stopped_api(tmp_path, small_config,
                                                                   level):
    """Worker processes with no PREFECT_API_URL: the run starts its own Prefect API and, at the
    end, sends the queued run logs and events before stopping it. Left queued, they went to the
    stopped server at exit: Prefect retried for over a minute after the run had finished, then
    printed 'Error logging to API'. Run as from a user's shell (the quiet defaults are the
    CLI's own: Prefect's INFO flow logs were on, since the settings were read before they
    were set) and with Prefect's INFO logs asked for."""
    raw = yaml.safe_load(small_config.read_text())
    raw["dask"] = {"n_workers": 2, "threads_per_worker": 1, "processes": True}
    raw["scenarios"] = raw["scenarios"][:1]
    raw["scenarios"][0].pop("pinn", None)
    small_config.write_text(yaml.safe_dump(raw))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DASK_"))
           and k != "DO_NOT_TRACK"}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PYTHONUNBUFFERED="1")
    if level is not None:
        env["PREFECT_LOGGING_LEVEL"] = level
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(small_config)],
                          env=env, capture_output=True, text=True, timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "run directory:" in done.stdout
    assert "Error logging to API" not in out and "All connection attempts failed" not in out, (
        out[-2000:])
    assert ("Finished in state Completed" in out) == (level == "INFO")


def test_killed_run_restarts_and_completes(tmp_path, small_config):
    raw = yaml.safe_load(small_config.read_text())
    raw["chunk_paths"] = 20_000
    raw["scenarios"][0]["n_paths"] = 400_000
    small_config.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PYTHONUNBUFFERED": "1"}
    env.pop("PREFECT_API_URL", None)
    cmd = [sys.executable, "-m", "pipeline.cli", "run", str(small_config)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    root = Path(raw["dataset_root"])
    deadline = time.time() + 240
    while time.time() < deadline:  # kill once some parts of the big dataset exist
        if len(list(root.glob(".*/part-*.parquet"))) >= 2 or list(root.glob("*-*/_manifest.json")):
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    for info in data.list_datasets(root):
        data.open_dataset(root / info.dirname).verify()


def test_a_failing_scenario_is_reported_and_the_others_complete(harness, small_config,
                                                               monkeypatch):
    """``validate`` refuses what cannot run, so the failure is injected into the reference
    step of one scenario (tasks run on threads of this process)."""
    from pipeline import steps
    from pipeline.references import NoReference

    raw = yaml.safe_load(small_config.read_text())
    raw["scenarios"][0].pop("pinn", None)
    raw["scenarios"].append({
        "id": "no_reference",
        "model": {"type": "BlackScholes", "vol": 0.2},
        "product": {"type": "European", "strike": 1.0, "maturity": 1.0, "kind": "put"},
        "sampler": {"type": "UniformSampler", "low": 0.5, "high": 1.5},
        "training": {"sizes": [256], "epochs": 2},
        "test": {"n": 10, "low": 0.8, "high": 1.2},
    })
    small_config.write_text(yaml.safe_dump(raw))
    original = steps.reference_step

    def reference_step(cfg, scenario, run_dir=None):
        if scenario.id == "no_reference":
            raise NoReference("no analytic reference for this scenario (injected)\nsecond line")
        return original(cfg, scenario, run_dir)

    monkeypatch.setattr(steps, "reference_step", reference_step)

    real = importlib.metadata.version

    def not_installed(name):  # as on PYTHONPATH from a checkout: no metadata for diffml
        if name == "diffml":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    result, metrics = _run(small_config)
    assert metrics["run"]["package_version"] == "unknown"
    assert result["status"] == "partial"
    bad = metrics["scenarios"]["no_reference"]
    assert bad["status"] == "failed" and "no analytic reference" in bad["error"]
    assert "\n" not in bad["error"]
    assert metrics["scenarios"]["bs"]["status"] == "ok"
    assert any("no_reference" in f for f in result["failures"])
    assert (Path(result["run_dir"]) / "report.html").is_file()
    log_text = (Path(result["run_dir"]) / "run.log").read_text()
    assert "ERROR diffml.pipeline: scenario no_reference: failed (" in log_text
    assert "2 of 3 scenarios ok" in log_text
