"""MLflow tracking of a finished run (pipeline.tracking) into an SQLite store under tmp_path."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.config import parse_config
from pipeline.tracking import default_uri, log_run, log_run_dir
from tests.evaluation.report_fixture import make_run

from .conftest import CONFIGS

try:
    from mlflow.tracking import MlflowClient
except ImportError:  # the dev extra installs it: CI must not skip
    if os.environ.get("CI"):
        raise
    pytest.skip("mlflow is not installed (pip install -c constraints.txt -e '.[mlflow]')", allow_module_level=True)


def _config(**mlflow):
    raw = yaml.safe_load((CONFIGS / "small.yaml").read_text())
    return parse_config({**raw, "tracking": {"mlflow": mlflow}})


def _leaves(d: dict, prefix: str):
    """Every number of a nested dict (lists left out), keyed ``prefix.a.b``."""
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, f"{prefix}.{k}")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield f"{prefix}.{k}", v


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = make_run(tmp_path / "runs")
    (run / "report.html").write_text("<!DOCTYPE html><title>report</title>", encoding="utf-8")
    return run


def test_a_run_logs_parameters_metrics_and_the_report(run_dir: Path, tmp_path: Path) -> None:
    tracked = log_run_dir(run_dir, experiment="diffml-test")
    assert tracked.uri == default_uri(tmp_path / "runs")
    assert (tmp_path / "runs" / "mlflow.db").is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(tracked.scenario_runs) == set(metrics["scenarios"])

    client = MlflowClient(tracking_uri=tracked.uri)
    parent = client.get_run(tracked.run_id)
    assert parent.info.run_name == "nightly-20261121T020000Z"
    assert parent.info.status == "FAILED"  # the fixture run is partial: worst_of failed
    assert parent.data.params["stamp"] == "20261121T020000Z"
    assert parent.data.metrics["scenarios_failed"] == 1.0
    assert {a.path for a in client.list_artifacts(tracked.run_id)} == {"report.html",
                                                                       "metrics.json"}

    bs = client.get_run(tracked.scenario_runs["bs_call"])
    assert bs.data.tags["mlflow.parentRunId"] == tracked.run_id
    assert bs.info.status == "FINISHED"
    params = bs.data.params
    assert params["model.type"] == "BlackScholes" and float(params["model.vol"]) == 0.2
    assert float(params["product.strike"]) == 1.1 and params["product.kind"] == "call"
    assert params["xva"] == "null" and params["inputs"] == '["spot"]'
    assert params["reference.method"] == "analytic"
    summary = metrics["scenarios"]["bs_call"]["summary"]
    m = bs.data.metrics
    assert m["summary.value_rmse.differential.mean"] == pytest.approx(
        summary["value_rmse"]["differential"]["mean"], rel=1e-12)
    expected = dict(_leaves(summary, "summary"))
    assert len(expected) > 4
    assert {k: m[k] for k in expected} == pytest.approx(expected, rel=1e-12)
    assert m["summary.m"] == summary["m"] and m["seconds.train"] == 3.0
    local = client.download_artifacts(bs.info.run_id, "report.html", str(tmp_path / "dl"))
    assert Path(local).read_bytes() == (run_dir / "report.html").read_bytes()
    assert (tmp_path / "runs" / "mlartifacts").is_dir()  # artifacts beside the runs

    basket = client.get_run(tracked.scenario_runs["basket_xva"])
    assert basket.data.params["model.spots"] == "[1.0,1.0]"
    assert basket.data.metrics["pinn.log10_rel_l2"] == pytest.approx(
        metrics["scenarios"]["basket_xva"]["pinn"]["log10_rel_l2"])
    failed = client.get_run(tracked.scenario_runs["worst_of"])
    assert failed.info.status == "FAILED" and "NaN" in failed.data.tags["diffml.error"]

    # a second night goes to the same experiment
    again = log_run_dir(run_dir, experiment="diffml-test")
    assert again.experiment_id == tracked.experiment_id and again.run_id != tracked.run_id


def test_off_by_default_and_failures_are_warnings(run_dir: Path, tmp_path: Path,
                                                  caplog, monkeypatch) -> None:
    assert _config().tracking.mlflow.enabled is False
    assert log_run(_config(), run_dir) is None
    assert not (tmp_path / "runs" / "mlflow.db").exists()

    caplog.set_level(logging.WARNING, logger="diffml.pipeline")
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    cfg = _config(enabled=True, uri=f"sqlite:///{blocked}/mlflow.db")
    assert log_run(cfg, run_dir) is None
    assert "MLflow tracking failed, the run itself is unaffected" in caplog.text

    caplog.clear()
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # as if not installed
    assert log_run(_config(enabled=True), run_dir) is None
    assert "pip install -c constraints.txt -e '.[mlflow]'" in caplog.text


def test_log_run_uses_the_configured_store_and_experiment(run_dir: Path, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    tracked = log_run(_config(enabled=True, uri=uri, experiment="nightly-cpu"), run_dir)
    assert tracked is not None and tracked.uri == uri
    exp = MlflowClient(tracking_uri=uri).get_experiment_by_name("nightly-cpu")
    assert exp is not None and exp.experiment_id == tracked.experiment_id


def test_the_pipeline_logs_a_run_once_metrics_and_report_are_written(tmp_path: Path,
                                                                      monkeypatch) -> None:
    """pipeline.flows.evaluate ends by logging the run (here every scenario failed at
    simulate, so no training is needed); a broken store only warns."""
    import time

    from pipeline import flows
    from pipeline import run as runmod

    monkeypatch.setattr(flows, "_artifact", lambda metrics, report: None)  # no Prefect API
    cfg = _config(enabled=True)
    runs = tmp_path / "runs"
    results = {s.id: [(None, "simulate: injected"), (None, None), (None, None), (None, None)]
               for s in cfg.scenarios}
    run_dir = runmod.make_run_dir(cfg, runs)
    out = flows.evaluate(cfg, run_dir, results, time.time())
    assert out["status"] == "failed" and out["report"] is not None
    client = MlflowClient(tracking_uri=default_uri(runs))
    exp = client.get_experiment_by_name("diffml-small")
    found = client.search_runs([exp.experiment_id])
    assert {r.info.run_name for r in found} == {run_dir.name, "bs", "basket"}
    parent = next(r for r in found if r.info.run_name == run_dir.name)
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} == {"report.html",
                                                                           "metrics.json"}

    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    cfg = _config(enabled=True, uri=f"sqlite:///{blocked}/mlflow.db")
    seen: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())  # Prefect may stop propagation
    logging.getLogger("diffml.pipeline").addHandler(handler)
    try:
        out = flows.evaluate(cfg, runmod.make_run_dir(cfg, runs), results, time.time())
    finally:
        logging.getLogger("diffml.pipeline").removeHandler(handler)
    assert out["status"] == "failed" and out["report"] is not None
    assert any("MLflow tracking failed, the run itself is unaffected" in m for m in seen)
