"""evaluation.trend (history, regressions) and evaluation.metrics (error measures)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest

from evaluation.metrics import learning_curve_summary, log10_relative_errors, mean_sd, rmse
from evaluation.trend import (
    compare,
    find_previous_runs,
    get_metric,
    load_metrics,
    metric_series,
    split_run_dir,
)
from tests.evaluation.report_fixture import STAMPS, make_history, make_run


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Parsed metrics of three runs: base, noise (+3 %), planted regression (×2 differential)."""
    runs = make_history(tmp_path_factory.mktemp("trend"), (1.0, 1.03, 2.0), fail_worst_of=False)
    return [load_metrics(r) for r in runs]


def flagged(regs: list[dict]) -> set[tuple[str | None, str]]:
    return {(r["scenario"], r["metric"]) for r in regs}


# ----- compare -----------------------------------------------------------------------------------
def test_planted_regression_detected(history: list[dict]) -> None:
    base, noise, bad = history
    regs = compare(bad, noise, tolerance=1.5)
    assert flagged(regs) == {
        ("bs_call", "summary.value_rmse.differential.mean"),
        ("basket_xva", "summary.value_rmse.differential.mean"),
        ("basket_xva", "pinn.log10_rel_l1"),
        ("basket_xva", "pinn.log10_rel_l2"),
        ("basket_xva", "pinn.log10_rel_linf"),
    }
    r = next(r for r in regs if r["scenario"] == "bs_call")
    assert r["ratio"] == pytest.approx(2.0 / 1.03, rel=1e-12)
    assert r["current"] / r["previous"] == pytest.approx(r["ratio"])
    assert r["tolerance"] == 1.5
    p = next(r for r in regs if r["metric"] == "pinn.log10_rel_l2")
    assert p["ratio"] == pytest.approx(10 ** (p["current"] - p["previous"]))
    assert p["ratio"] == pytest.approx(2.0 / 1.03, rel=1e-3)  # errors scale with the factor


def test_noise_below_tolerance_not_flagged(history: list[dict]) -> None:
    base, noise, bad = history
    assert compare(noise, base, tolerance=1.5) == []
    assert compare(base, noise, tolerance=1.5) == []  # improvements are never flagged
    assert compare(bad, bad, tolerance=1.01) == []
    # a looser tolerance accepts the doubling, a tighter one flags the 3 % noise
    assert compare(bad, noise, tolerance=2.5) == []
    assert ("bs_call", "summary.value_rmse.differential.mean") in flagged(
        compare(noise, base, tolerance=1.02))


def test_failures_are_regressions(tmp_path: Path) -> None:
    prev = load_metrics(make_run(tmp_path, stamp=STAMPS[0], fail_worst_of=False))
    cur = load_metrics(make_run(tmp_path, stamp=STAMPS[1], fail_worst_of=True))
    regs = compare(cur, prev)
    assert flagged(regs) == {("worst_of", "status")}  # "partial" run explained by the scenario
    (r,) = regs
    assert (r["previous"], r["current"], r["ratio"]) == ("ok", "failed", None)
    # still failing: still flagged, also without a previous run
    assert flagged(compare(cur, cur)) == {("worst_of", "status")}
    assert flagged(compare(cur, None)) == {("worst_of", "status")}
    # a missing scenario and an unexplained failed run
    gone = copy.deepcopy(prev)
    del gone["scenarios"]["bs_call"]
    gone["run"]["status"] = "failed"
    regs = compare(gone, prev)
    assert flagged(regs) == {("bs_call", "status")}
    assert next(iter(regs))["current"] == "missing"
    only_run = copy.deepcopy(prev)
    only_run["run"]["status"] = "failed"
    assert flagged(compare(only_run, prev)) == {(None, "run.status")}


def test_non_finite_current_is_a_regression(history: list[dict]) -> None:
    base = history[0]
    cur = copy.deepcopy(base)
    cur["scenarios"]["bs_call"]["summary"]["greek_rmse"]["differential"]["spot"]["mean"] = \
        math.nan
    cur["scenarios"]["basket_xva"]["pinn"]["log10_rel_l2"] = math.inf
    regs = compare(cur, base)
    assert flagged(regs) == {("bs_call", "summary.greek_rmse.differential.spot.mean"),
                             ("basket_xva", "pinn.log10_rel_l2")}
    assert all(r["ratio"] is None or r["ratio"] == math.inf for r in regs)


def test_zero_previous_and_missing_metrics(history: list[dict]) -> None:
    base = history[0]
    prev, cur = copy.deepcopy(base), copy.deepcopy(base)
    prev["scenarios"]["bs_call"]["summary"]["value_rmse"]["standard"]["mean"] = 0.0
    cur["scenarios"]["basket_xva"]["pinn"] = None  # metric gone: not comparable, not flagged
    regs = compare(cur, prev)
    assert flagged(regs) == {("bs_call", "summary.value_rmse.standard.mean")}
    assert regs[0]["ratio"] == math.inf


@pytest.mark.parametrize("tol", [1.0, 0.5, -2, math.nan, math.inf, "x", None])
def test_tolerance_validated(history: list[dict], tol: object) -> None:
    with pytest.raises(ValueError, match=r"'tolerance' parameter of compare must be a finite "
                                         r"ratio > 1 \(1.5 flags a 50 % increase\)\. Got"):
        compare(history[0], history[0], tolerance=tol)  # type: ignore[arg-type]


def test_get_metric_and_series(history: list[dict]) -> None:
    sc = history[0]["scenarios"]["bs_call"]
    assert get_metric(sc, "summary.value_rmse.differential.mean") == pytest.approx(
        sc["summary"]["value_rmse"]["differential"]["mean"])
    assert get_metric(sc, "pinn.log10_rel_l2") is None
    assert get_metric(sc, "status") is None
    assert get_metric({"a": {"b": [3.0, 4.0]}}, "a.b") is None  # a per-input list is no metric
    s = metric_series(history, "bs_call", "summary.value_rmse.differential.mean")
    assert s[1] / s[0] == pytest.approx(1.03) and s[2] / s[0] == pytest.approx(2.0)
    assert metric_series(history, "nope", "pinn.log10_rel_l2") == [None, None, None]


# ----- history -----------------------------------------------------------------------------------
def test_find_previous_runs(tmp_path: Path) -> None:
    runs = make_history(tmp_path, (1.0, 1.0, 1.0))
    make_run(tmp_path, name="nightly-gpu", stamp=STAMPS[0])  # another name
    (tmp_path / "nightly-20261118T020000Z").mkdir()  # no metrics.json
    bad = tmp_path / "nightly-20261117T020000Z"
    bad.mkdir()
    (bad / "metrics.json").write_text("{not json")
    (tmp_path / "nightly-latest").mkdir()  # not a stamp
    (tmp_path / "nightly-20261122T020000Z").write_text("a file")

    assert find_previous_runs(tmp_path, "nightly") == runs[::-1]
    assert find_previous_runs(tmp_path, "nightly", before=STAMPS[2]) == runs[1::-1]
    assert find_previous_runs(tmp_path, "nightly", before=STAMPS[2], limit=1) == [runs[1]]
    assert find_previous_runs(tmp_path, "nightly", before=STAMPS[0]) == []
    assert find_previous_runs(tmp_path, "nightly", limit=0) == []
    assert find_previous_runs(tmp_path, "nightly-gpu") == [tmp_path / f"nightly-gpu-{STAMPS[0]}"]
    assert find_previous_runs(tmp_path / "absent", "nightly") == []
    with pytest.raises(ValueError, match="'before' parameter of find_previous_runs"):
        find_previous_runs(tmp_path, "nightly", before="2026-11-21")
    with pytest.raises(ValueError, match="'limit' parameter of find_previous_runs must be >= 0"):
        find_previous_runs(tmp_path, "nightly", limit=-1)


def test_split_run_dir_and_load_metrics(tmp_path: Path) -> None:
    assert split_run_dir("runs/nightly-gpu-20261121T020000Z") == ("nightly-gpu", "20261121T020000Z")
    assert split_run_dir("runs/nightly") is None
    assert split_run_dir("-20261121T020000Z") is None
    with pytest.raises(FileNotFoundError, match="No metrics.json"):
        load_metrics(tmp_path)
    (tmp_path / "metrics.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object. Got list instead"):
        load_metrics(tmp_path)


# ----- metrics -----------------------------------------------------------------------------------
def test_rmse() -> None:
    ref = np.array([[1.0, 2.0], [3.0, 4.0]])
    pred = ref + np.array([[0.1, -0.2], [-0.1, 0.2]])
    assert rmse(pred, ref) == pytest.approx(math.sqrt((0.01 + 0.04 + 0.01 + 0.04) / 4))
    np.testing.assert_allclose(rmse(pred, ref, axis=0), [0.1, 0.2])
    with pytest.raises(ValueError, match="'pred' parameter of rmse must have the shape"):
        rmse(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="must be non-empty"):
        rmse([], [])


def test_log10_relative_errors() -> None:
    ref = np.linspace(1.0, 2.0, 11)
    e = log10_relative_errors(ref * (1 + 1e-3), ref)  # every relative error exactly 1e-3
    for key in ("l1", "l2", "linf"):
        assert e[key] == pytest.approx(-3.0, abs=1e-9)
    pred = ref.copy()
    pred[0] += 0.5  # a single error: L∞ ratio = 0.5 / 2, L1 ratio = 0.5 / sum
    e = log10_relative_errors(pred, ref)
    assert e["linf"] == pytest.approx(math.log10(0.25))
    assert e["l1"] == pytest.approx(math.log10(0.5 / ref.sum()))
    assert e["l2"] == pytest.approx(math.log10(0.5 / np.sqrt(np.sum(ref**2))))
    assert log10_relative_errors(ref, ref)["l2"] == -math.inf


def test_mean_sd_and_learning_curve_summary() -> None:
    assert mean_sd([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_sd([5.0]) == (5.0, 0.0)
    assert all(math.isnan(v) for v in mean_sd([None, math.nan]))
    entries = [
        {"mode": "differential", "m": 512, "seed": s, "value_rmse": v, "delta_rmse": [d, 2 * d],
         "fit_seconds": 1.0}
        for s, (v, d) in enumerate([(0.01, 0.1), (0.03, 0.3)])
    ] + [{"mode": "standard", "m": 256, "seed": 0, "value_rmse": 0.05, "delta_rmse": [0.5, 1.0]}]
    pts = learning_curve_summary(entries)
    assert [(p.mode, p.m, p.n_seeds) for p in pts] == [("differential", 512, 2),
                                                       ("standard", 256, 1)]
    d = pts[0]
    assert d.value_mean == pytest.approx(0.02) and d.value_sd == pytest.approx(math.sqrt(2) * 0.01)
    assert d.delta_mean == pytest.approx((0.2, 0.4))
    rms = [math.sqrt((x**2 + (2 * x) ** 2) / 2) for x in (0.1, 0.3)]
    assert d.delta_all_mean == pytest.approx(np.mean(rms))
    assert pts[1].value_sd == 0.0 and math.isnan(pts[1].fit_seconds)


def test_null_metric_reads_as_nan(history: list[dict]) -> None:
    """The pipeline writes non-finite numbers as JSON null: still a regression."""
    base = history[0]
    cur = copy.deepcopy(base)
    cur["scenarios"]["basket_xva"]["pinn"]["log10_rel_linf"] = None
    cur["scenarios"]["bs_call"]["summary"]["value_rmse"]["standard"] = None  # whole mode absent
    regs = compare(cur, base)
    assert flagged(regs) == {("basket_xva", "pinn.log10_rel_linf")}
    assert regs[0]["ratio"] is None
    assert math.isnan(get_metric(cur["scenarios"]["basket_xva"], "pinn.log10_rel_linf"))
    assert get_metric(cur["scenarios"]["bs_call"], "summary.value_rmse.standard.mean") is None


def test_change_column_and_regressions_share_one_ratio() -> None:
    """Both values 0: no regression and no 'worse' change; previous 0 and current > 0: both
    flag it (the report's change column and compare use metric_ratio)."""
    from evaluation.report import _change
    from evaluation.trend import compare, metric_ratio

    path = "summary.value_rmse.differential.mean"

    def run(v: float) -> dict:
        return {"run": {"status": "ok"}, "scenarios": {"s": {
            "status": "ok", "summary": {"value_rmse": {"differential": {"mean": v}}}}}}

    assert metric_ratio(path, 0.0, 0.0) == 1.0 and metric_ratio(path, 0.0, 1e-3) == math.inf
    assert metric_ratio("pinn.log10_rel_l2", -4.0, -3.0) == pytest.approx(10.0)
    same = _change(path, run(0.0)["scenarios"]["s"], run(0.0)["scenarios"]["s"], 1.5)
    assert same["css"] == "same" and compare(run(0.0), run(0.0), 1.5) == []
    worse = _change(path, run(1e-3)["scenarios"]["s"], run(0.0)["scenarios"]["s"], 1.5)
    assert worse["css"] == "worse" and [r["metric"] for r in compare(run(1e-3), run(0.0))] == [
        path]


def test_regressions_name_the_input() -> None:
    """Greek errors are compared input by input: a worse dV/dvariance is flagged by name while
    the delta, in other units, is unchanged; the best-of baseline works per input too."""
    from evaluation.trend import best_of, expand_metric

    def run(spot: float, variance: float) -> dict:
        greeks = {"spot": {"mean": spot}, "variance": {"mean": variance}}
        return {"run": {"status": "ok"}, "scenarios": {"heston_put": {
            "status": "ok", "summary": {"value_rmse": {"differential": {"mean": 0.3}},
                                        "greek_rmse": {"differential": greeks}}}}}

    sc = run(0.01, 1.0)["scenarios"]["heston_put"]
    assert expand_metric("summary.greek_rmse.differential.*.mean", sc) == [
        "summary.greek_rmse.differential.spot.mean",
        "summary.greek_rmse.differential.variance.mean"]
    assert expand_metric("summary.gamma_rmse.differential.*.mean", sc) == []
    regs = compare(run(0.01, 3.0), run(0.01, 1.0), tolerance=1.5)
    assert flagged(regs) == {("heston_put", "summary.greek_rmse.differential.variance.mean")}
    assert regs[0]["ratio"] == pytest.approx(3.0)
    base = best_of([run(0.02, 1.0), run(0.01, 2.0)])
    greeks = base["scenarios"]["heston_put"]["summary"]["greek_rmse"]["differential"]
    assert greeks == {"spot": {"mean": 0.01}, "variance": {"mean": 1.0}}
    assert flagged(compare(run(0.018, 1.2), base, 1.5)) == {
        ("heston_put", "summary.greek_rmse.differential.spot.mean")}


# ----- hostile sibling runs ----------------------------------------------------------------------
def test_hostile_metrics_neither_overflow_nor_recurse(tmp_path: Path) -> None:
    """A sibling run's metrics.json with an integer beyond any float reads as inf (not an
    OverflowError in every later comparison); one nested deeper than the JSON parser goes is a
    ValueError naming the file, and the search for a baseline passes over it."""
    import json

    from evaluation.report import build_report

    runs = make_history(tmp_path, (1.0, 1.03, 1.0))
    doc = json.loads((runs[0] / "metrics.json").read_text())
    text = json.dumps(doc).replace(
        json.dumps(doc["scenarios"]["bs_call"]["summary"]["value_rmse"]["differential"]["mean"]),
        "1" + "0" * 400, 1)
    (runs[0] / "metrics.json").write_text(text)
    huge = load_metrics(runs[0])
    assert get_metric(huge["scenarios"]["bs_call"], "summary.value_rmse.differential.mean") \
        == math.inf
    regs = compare(load_metrics(runs[2]), huge, tolerance=1.5)
    assert not [r for r in regs if r["metric"] != "status"], regs  # (worst_of fails in both)
    assert build_report(runs[0]).is_file()  # the report of that run builds, showing inf
    (runs[1] / "metrics.json").write_text("[" * 100_000)
    with pytest.raises(ValueError, match="nested too deeply"):
        load_metrics(runs[1])
    found = find_previous_runs(tmp_path, "nightly", before=runs[2].name.split("-")[1], limit=5)
    assert runs[1] not in found and runs[0] in found


def test_large_integers_stay_exact_up_to_the_float_range(tmp_path: Path) -> None:
    import json

    from evaluation.trend import _int

    assert _int(str(2**63 - 1)) == 2**63 - 1 and isinstance(_int(str(2**63 - 1)), int)
    assert _int("9" * 308) == int("9" * 308) and float(_int("9" * 308)) < math.inf
    assert _int("1" + "0" * 400) == math.inf and _int("-1" + "0" * 400) == -math.inf
    assert json.loads("[1]", parse_int=_int) == [1]
