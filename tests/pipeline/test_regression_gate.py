"""The regression gate: a baseline that a second bad run cannot move, named regressions in the
CLI, and an exit code that fails the job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evaluation.trend import best_of, compare, load_metrics
from pipeline import cli
from pipeline.config import ConfigError, load_config, parse_config
from pipeline.run import find_regressions, regression_baseline
from tests.evaluation.report_fixture import make_run

PATH = "summary.value_rmse.differential.mean"
STAMPS = ("20261118T020000Z", "20261119T020000Z", "20261120T020000Z", "20261121T020000Z")


def _runs(root: Path, factors: tuple[float, ...]) -> list[Path]:
    return [make_run(root, stamp=st, value_factor=f, pinn_factor=f, fail_worst_of=False)
            for st, f in zip(STAMPS, factors, strict=False)]


def _cfg(raw_extra: dict | None = None):
    from .conftest import CONFIGS

    raw = yaml.safe_load((CONFIGS / "small.yaml").read_text())
    raw["name"] = "nightly"
    raw.update(raw_extra or {})
    return parse_config(raw)


def test_best_of_takes_each_metric_at_its_best():
    runs = [{"scenarios": {"s": {"status": "ok", "summary": {"value_rmse": {"differential": {
        "mean": v}}}}}} for v in (0.010, 0.005, 0.020)]
    base = best_of(runs)
    assert base["scenarios"]["s"]["summary"]["value_rmse"]["differential"]["mean"] == 0.005
    current = {"run": {"status": "ok"}, "scenarios": {"s": {"status": "ok", "summary": {
        "value_rmse": {"differential": {"mean": 0.0095}}}}}}
    assert compare(current, runs[0], 1.5) == []           # 0.95 × the previous run
    assert [r["metric"] for r in compare(current, base, 1.5)] == [PATH]  # 1.9 × the best


def test_the_second_of_two_bad_runs_still_regresses(tmp_path):
    """Good, good, bad, bad: against the previous run the fourth run is green; against the best
    of the last runs (the default) it is flagged like the third."""
    runs = _runs(tmp_path, (1.0, 1.02, 2.0, 2.0))
    latest = load_metrics(runs[-1])
    cfg = _cfg()
    assert cfg.regression.baseline == "best"
    base, desc = regression_baseline(cfg, runs[-1])
    assert desc == {"kind": "best", "runs": [str(r) for r in runs[-2::-1]]}
    flagged = {r["metric"] for r in find_regressions(latest, base, 1.5)}
    assert PATH in flagged
    prev_cfg = _cfg({"regression": {"baseline": "previous"}})
    base, desc = regression_baseline(prev_cfg, runs[-1])
    assert desc["runs"] == [str(runs[-2])]
    assert PATH not in {r["metric"] for r in find_regressions(latest, base, 1.5)}
    pinned = _cfg({"regression": {"pinned": str(runs[0])}})
    base, desc = regression_baseline(pinned, runs[-1])
    assert desc == {"kind": "pinned", "runs": [str(runs[0])]}
    assert PATH in {r["metric"] for r in find_regressions(latest, base, 1.5)}


def test_a_pinned_baseline_must_be_a_readable_run(tmp_path):
    with pytest.raises(ConfigError, match="regression.pinned"):
        _cfg({"regression": {"pinned": str(tmp_path / "nope")}})


def _fake_run(regressions, failures=()):
    def run_config(cfg, raw, output, dask_address):
        run_dir = make_run(Path(cfg.output_root), stamp=STAMPS[-1], fail_worst_of=False)
        return {"run_dir": str(run_dir), "status": "ok", "failures": list(failures),
                "baseline": "the best of the last 3 runs", "report": str(run_dir / "r.html"),
                "regressions": regressions}
    return run_config


@pytest.mark.parametrize(("flag", "config_fail", "code"), [
    ([], False, 0), (["--fail-on-regression"], False, 3), ([], True, 3)])
def test_cli_names_every_regression_and_fails_when_asked(small_config, monkeypatch, flag,
                                                         config_fail, code):
    import pipeline.flows

    regs = [{"scenario": "bs_call", "metric": PATH, "previous": 0.003, "current": 0.006,
             "ratio": 2.0, "tolerance": 1.5},
            {"scenario": "basket_xva", "metric": "status", "previous": "ok",
             "current": "failed", "ratio": None, "tolerance": 1.5}]
    monkeypatch.setattr(pipeline.flows, "run_config", _fake_run(regs))
    raw = yaml.safe_load(small_config.read_text())
    raw["regression"] = {"fail": config_fail}
    small_config.write_text(yaml.safe_dump(raw))
    res = CliRunner().invoke(cli.app, ["run", str(small_config), *flag])
    assert res.exit_code == code, res.output
    text = " ".join(res.output.split())
    assert "2 regression(s) against the best of the last 3 runs" in text
    assert f"scenario bs_call: {PATH} 0.003 → 0.006 (×2 > 1.5)" in text
    assert "scenario basket_xva: status ok → failed" in text


def test_baseline_option_pins_a_run(small_config, tmp_path, monkeypatch):
    import pipeline.flows

    seen = {}

    def run_config(cfg, raw, output, dask_address):
        seen["pinned"] = cfg.regression.pinned
        return _fake_run([])(cfg, raw, output, dask_address)

    monkeypatch.setattr(pipeline.flows, "run_config", run_config)
    good = make_run(tmp_path / "base", stamp=STAMPS[0])
    res = CliRunner().invoke(cli.app, ["run", str(small_config), "--baseline", str(good)])
    assert res.exit_code == 0, res.output
    assert seen["pinned"] == str(good)
    assert json.loads((good / "metrics.json").read_text())["run"]["name"] == "nightly"
    assert load_config(small_config).regression.pinned is None
