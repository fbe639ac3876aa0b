"""The gate on a reference and its cross-checks (``reference.agreement``): a reference that its
own cross-check contradicts fails the scenario, with one line naming what disagrees."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import norm
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import ConfigError, load_config
from pipeline.steps import agreement, disagreement_line

runner = CliRunner()


def _check(value: float | None, **greeks: float | None) -> dict:
    return {"value_relative": value, "greek_relative": greeks}


def test_worst_quantity_over_every_check_is_found():
    checks = {"fd": _check(2e-5, spot=3e-4), "analytic": _check(1e-6, spot=5e-3, vol=4e-3)}
    got = agreement(checks, 1e-2)
    assert got == {"tolerance": 1e-2, "passed": True,
                   "worst": {"check": "analytic", "quantity": "spot Greek", "relative": 5e-3}}
    failed = agreement(checks, 1e-3)
    assert failed["passed"] is False and failed["worst"]["relative"] == 5e-3
    line = disagreement_line("pinn", failed)
    assert line == ("the pinn reference and its analytic cross-check disagree: spot Greek "
                    "differs by 0.005 of its RMS on the test set, more than "
                    "reference.agreement 0.001")


def test_edge_cases_of_the_gate():
    # exactly at the tolerance passes; a zero-scale quantity (None) is skipped
    assert agreement({"fd": _check(1e-2, spot=None)}, 1e-2)["passed"] is True
    # no cross-check, or no gate: nothing to fail
    assert agreement({}, 1e-2) == {"tolerance": 1e-2, "worst": None, "passed": True}
    off = agreement({"fd": _check(0.5)}, None)
    assert off["passed"] is True and off["worst"]["relative"] == 0.5
    # a non-finite difference fails the gate, and says so; without a gate it is recorded
    bad = agreement({"fd": _check(1e-6, spot=math.nan)}, 1e-2)
    assert bad == {"tolerance": 1e-2, "passed": False,
                   "worst": {"check": "fd", "quantity": "spot Greek", "relative": None}}
    assert "spot Greek differs by not finite" in disagreement_line("fd", bad)
    assert agreement({"fd": _check(math.nan)}, None) == {
        "tolerance": None, "passed": True,
        "worst": {"check": "fd", "quantity": "value", "relative": None}}


@pytest.mark.parametrize("value", ["0", "-0.01", "nan", "inf", "abc"])
def test_bad_agreement_is_refused_naming_the_field(small_config, value):
    with pytest.raises(ConfigError, match="agreement"):
        load_config(small_config, [f"scenarios.bs.reference.agreement={value}"])


def test_agreement_defaults_to_one_percent_and_null_turns_it_off(small_config):
    assert load_config(small_config).scenario("bs").reference.agreement == 0.01
    off = load_config(small_config, ["scenarios.bs.reference.agreement=null"])
    assert off.scenario("bs").reference.agreement is None


def _bs_fd_disagreement(x: np.ndarray, fd: dict) -> float:
    """The relative RMS difference between an FD solution of small.yaml's ``bs`` (K 1.10, T 1,
    vol 0.2, zero rate) on the grid ``fd`` and the Black-Scholes formula, at spots ``x``."""
    from evaluation.fd import black_scholes_1d

    spot, strike, vol = x[:, 0], 1.10, 0.2
    d1 = (np.log(spot / strike) + 0.5 * vol**2) / vol
    exact = spot * norm.cdf(d1) - strike * norm.cdf(d1 - vol)
    sol = black_scholes_1d(strike=strike, maturity=1.0, kind="call", vol=vol, rate=0.0, **fd)
    price = np.asarray(sol.price(spot))
    return float(np.sqrt(np.mean((price - exact) ** 2)) / np.sqrt(np.mean(exact**2)))


def test_a_coarse_fd_cross_check_fails_the_scenario_and_the_run(harness, small_config):
    """A 12-point FD grid is several per cent off the closed form: the run keeps every metric,
    but the scenario fails with the line naming the check, and the command exits 1."""
    raw = yaml.safe_load(small_config.read_text())
    raw["scenarios"] = raw["scenarios"][:1]
    raw["scenarios"][0].pop("pinn")
    grid = {"n_space": 12, "n_time": 4}
    raw["scenarios"][0]["reference"]["fd"] = grid
    small_config.write_text(yaml.safe_dump(raw))
    res = runner.invoke(app, ["run", str(small_config)])
    assert res.exit_code == 1, res.output
    assert "the analytic reference and its fd cross-check disagree" in res.output
    run_dir = next(Path(raw["output_root"]).glob("small-*"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["run"]["status"] == "failed"
    sc = metrics["scenarios"]["bs"]
    assert sc["status"] == "failed" and "more than reference.agreement 0.01" in sc["error"]
    worst = sc["reference"]["agreement"]["worst"]
    x = np.load(run_dir / "arrays" / "bs.npz")["x_test"]
    expected = _bs_fd_disagreement(x, grid)
    assert expected > 0.01  # the oracle: the grid really is that far off
    if worst["quantity"] == "value":
        assert worst["relative"] == pytest.approx(expected, rel=1e-9)
    else:  # a Greek is further off than the value
        assert worst["relative"] >= expected
    assert sc["summary"]["value_rmse"]["differential"]["mean"] > 0  # the metrics are kept
    html = (run_dir / "report.html").read_text()
    assert "cross-check disagree" in html and "largest relative difference" in html
