"""A received run folder with a malformed entry still gets its report: the damaged part becomes
a warning, the rest stands (tests/evaluation/report_fixture.py runs, edited by hand)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from evaluation import plots
from evaluation.report import build_report
from evaluation.trend import find_previous_runs, load_metrics, metric_ratio, split_run_dir
from tests.evaluation.report_fixture import STAMPS, make_history, make_run

PNG_SIG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def no_render(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plots, "to_png", lambda fig, dpi=100: PNG_SIG + b"stub")


def _edit(run: Path, change) -> None:
    m = json.loads((run / "metrics.json").read_text())
    change(m)
    (run / "metrics.json").write_text(json.dumps(m))


def _arrays(run: Path, sid: str, **changes) -> None:
    path = run / "arrays" / f"{sid}.npz"
    arrays = dict(np.load(path))
    arrays.update(changes)
    np.savez(path, **arrays)


def test_xva_arrays_of_the_wrong_length_are_a_warning(tmp_path: Path, no_render: None) -> None:
    run = make_run(tmp_path, fail_worst_of=False)
    risky = np.load(run / "arrays" / "basket_xva.npz")["xva_risky"]
    _arrays(run, "basket_xva", xva_risky_fd=risky[:5])
    html = build_report(run).read_text(encoding="utf-8")
    assert "basket_xva: XVA table failed (ValueError: FD: 5 values against" in html
    assert "Slices:" in html  # the rest of the scenario and the others stand


@pytest.mark.parametrize("x_test", [np.float64(1.0), np.zeros((0, 1))])
def test_a_test_set_without_points_is_a_warning(tmp_path: Path, no_render: None,
                                                x_test) -> None:
    run = make_run(tmp_path, fail_worst_of=False)
    _arrays(run, "bs_call", x_test=x_test)
    html = build_report(run).read_text(encoding="utf-8")
    assert "bs_call: x_test holds no test point" in html
    assert "Learning curves" in html


@pytest.mark.parametrize("where,value", [
    (("reference", "cross_checks"), 5),
    (("reference", "method"), ["fd"]),
    (("pinn", "history"), {"loss": 5}),
    (("pinn", "at_points"), [1, 2]),
])
def test_a_malformed_block_loses_its_scenario_section_only(tmp_path: Path, no_render: None,
                                                           where, value) -> None:
    run = make_run(tmp_path, fail_worst_of=False)

    def change(m):
        m["scenarios"]["basket_xva"][where[0]][where[1]] = value
    _edit(run, change)
    html = build_report(run).read_text(encoding="utf-8")
    assert "basket_xva: section failed (" in html
    assert "only its status, label and error are shown" in html
    assert html.count('<section class="scenario"') == 3  # every scenario still has its section
    assert "Slices:" in html  # bs_call's


def test_run_header_odd_values(tmp_path: Path, no_render: None) -> None:
    run = make_run(tmp_path, fail_worst_of=False)

    def change(m):
        m["run"]["dask"] = "tcp://x:1"
        m["run"]["started"] = "2026-11-21T02:00:00"  # no UTC offset: no duration
        m["run"]["finished"] = "2026-11-21T02:01:00+00:00"
    _edit(run, change)
    assert build_report(run).is_file()

    def skew(m):
        m["run"]["started"] = "2026-11-21T03:00:00+00:00"
        m["run"]["finished"] = "2026-11-21T02:00:00+00:00"
    _edit(run, skew)
    assert "-3600" not in build_report(run).read_text(encoding="utf-8")


def test_a_check_result_passed_must_be_a_json_boolean(tmp_path: Path) -> None:
    run = make_run(tmp_path, fail_worst_of=False)

    def change(m):
        m["scenarios"]["bs_call"]["checks"]["results"][0]["passed"] = 0
    _edit(run, change)
    with pytest.raises(ValueError, match="passed"):
        load_metrics(run)


def test_learning_curve_units_fall_back_on_the_strike(tmp_path: Path, no_render: None) -> None:
    """An older run without summary.scale.unit_spot: a strike of 100 is not a unit-spot set-up,
    so the learning-curve caption must not speak of % of a unit spot."""
    run = make_run(tmp_path, fail_worst_of=False)

    def change(m):
        sc = m["scenarios"]["bs_call"]
        sc["parameters"]["product"]["strike"] = 100.0
        del sc["summary"]["scale"]["unit_spot"]
    _edit(run, change)
    html = build_report(run).read_text(encoding="utf-8")
    section = html.split('<section class="scenario"')[1]
    assert "of a unit spot" not in section


def test_a_copied_run_still_shows_its_recorded_baseline(tmp_path: Path, no_render: None) -> None:
    runs = make_history(tmp_path / "all", (1.0, 1.0), fail_worst_of=False)

    def change(m):
        m["run"]["regression_tolerance"] = 1.5
        m["run"]["baseline"] = {"kind": "previous", "runs": [str(runs[0])]}
    _edit(runs[-1], change)
    copy = tmp_path / "alone" / runs[-1].name
    shutil.copytree(runs[-1], copy)
    html = build_report(copy, tolerance=1.5).read_text(encoding="utf-8")
    assert f'<div class="box good" id="regressions">No regression against the previous run ' \
           f'{runs[0].name}' in html
    assert "No previous run named" not in html


def test_same_second_runs_are_history(tmp_path: Path) -> None:
    assert split_run_dir("runs/nightly-20261121T020000Z-2") == ("nightly", "20261121T020000Z")
    assert split_run_dir("runs/nightly-20261121T020000Z-1") is None  # the first has no suffix
    assert split_run_dir("runs/nightly-20261121T020000Z-02") is None
    first = make_run(tmp_path, stamp=STAMPS[0])
    second = tmp_path / f"nightly-{STAMPS[0]}-2"
    shutil.copytree(first, second)
    tenth = tmp_path / f"nightly-{STAMPS[0]}-10"
    shutil.copytree(first, tenth)
    assert find_previous_runs(tmp_path, "nightly", before=STAMPS[1]) == [tenth, second, first]


def test_log10_ratio_does_not_overflow() -> None:
    assert metric_ratio("pinn.log10_rel_l2", -3.0, 306.0) == 1e308
    assert metric_ratio("pinn.log10_rel_l2", -3.0, -4.0) == pytest.approx(0.1)


def test_a_missing_current_value_is_marked_at_its_own_place() -> None:
    svg = plots.sparkline_svg([1.0, 2.0, 1.5, None], bad_last=True, width=110)
    assert 'cx="107.0"' in svg and 'fill="none" stroke="#c44e52"' in svg
    assert 'fill="#c44e52"' not in svg  # no red dot on an older run


def test_a_hand_edited_stamp_gives_no_history_not_no_report(tmp_path: Path,
                                                            no_render: None) -> None:
    runs = make_history(tmp_path, (1.0, 1.0), fail_worst_of=False)
    _edit(runs[-1], lambda m: m["run"].update(stamp="yesterday"))
    html = build_report(runs[-1]).read_text(encoding="utf-8")
    assert "run.stamp &#39;yesterday&#39; is not a stamp YYYYmmddTHHMMSSZ" in html


def test_previous_runs_are_read_only_up_to_the_limit(tmp_path: Path, monkeypatch) -> None:
    """Years of nightly runs: finding the last few reads those, newest first, not every one
    (a damaged newer run is skipped and the next one taken)."""
    import evaluation.trend as trend

    runs = make_history(tmp_path, (1.0, 1.0, 1.0), fail_worst_of=False)
    (runs[1] / "metrics.json").write_text("{")  # damaged
    read = []
    real = trend.load_metrics
    monkeypatch.setattr(trend, "load_metrics", lambda d: (read.append(Path(d).name), real(d))[1])
    later = "20261201T000000Z"
    assert find_previous_runs(tmp_path, "nightly", before=later, limit=1) == [runs[2]]
    assert read == [runs[2].name]
    read.clear()
    assert find_previous_runs(tmp_path, "nightly", before=later, limit=2) == [runs[2], runs[0]]
    assert read == [runs[2].name, runs[1].name, runs[0].name]


def test_every_link_of_the_report_has_its_anchor(tmp_path: Path, no_render: None) -> None:
    """A failed scenario has no shape-check section: the summary must not link to one."""
    import re

    html = build_report(make_run(tmp_path)).read_text(encoding="utf-8")  # worst_of failed
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    links = set(re.findall(r'href="#([^"]+)"', html))
    assert links and links <= ids, sorted(links - ids)
