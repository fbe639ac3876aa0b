"""evaluation.run_format: one schema for metrics.json, used by the writer and the readers."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from evaluation.run_format import MetricsFile, RunStatus, check_metrics
from evaluation.trend import load_metrics
from tests.evaluation.report_fixture import make_run


def _metrics(tmp_path: Path) -> dict:
    return json.loads((make_run(tmp_path) / "metrics.json").read_text())


def test_fixture_run_follows_the_schema(tmp_path: Path) -> None:
    m = _metrics(tmp_path)
    assert check_metrics(m) is m
    parsed = MetricsFile.model_validate(m)
    assert parsed.run.status in set(RunStatus)
    assert parsed.run.status == m["run"]["status"]  # StrEnum: equal to the stored string


@pytest.mark.parametrize(("path", "value", "field"), [
    (("run", "status"), "fine", "run.status"),
    (("run", "name"), "", "run.name"),
    (("scenarios", "bs_call", "status"), "done", "scenarios.bs_call.status"),
    (("regressions",), [{"metric": "x"}], "regressions.0.scenario"),
    (("run", "regression_tolerance"), 0.5, "run.regression_tolerance"),
])
def test_malformed_fields_are_named(tmp_path: Path, path, value, field) -> None:
    m = copy.deepcopy(_metrics(tmp_path))
    node = m
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValueError, match=f"field '{field}'"):
        check_metrics(m)
    run = tmp_path / "bad"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match=f"field '{field}'"):
        load_metrics(run)


def test_the_writer_refuses_what_the_readers_would(tmp_path: Path) -> None:
    from pipeline.run import write_metrics

    m = _metrics(tmp_path)
    m["scenarios"]["bs_call"]["status"] = "maybe"
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError, match="scenarios.bs_call.status"):
        write_metrics(out, m)
    assert not (out / "metrics.json").exists()
