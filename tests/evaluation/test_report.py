"""evaluation.report on a synthetic run directory (tests/evaluation/report_fixture.py)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from evaluation import plots
from evaluation.readme_figures import main as readme_main
from evaluation.readme_figures import write_readme_figures
from evaluation.report import build_report, main, prefect_markdown
from evaluation.trend import compare as compare_regressions
from evaluation.trend import load_metrics
from tests.evaluation.report_fixture import EVIL, make_history, make_pipeline_style_run, make_run

PNG_SIG = b"\x89PNG\r\n\x1a\n"
IMG_RE = re.compile(r'<img\b[^>]*\bsrc="data:image/png;base64,([A-Za-z0-9+/=]+)"')
SVG_RE = re.compile(r"<svg\b.*?</svg>", re.S)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (checks the signature)."""
    assert data[:8] == PNG_SIG
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def sections(html: str) -> dict[str, str]:
    """Scenario id -> the HTML of its section (base64 payloads shortened to ``B64``)."""
    html = re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,B64", html)
    parts = re.split(r'(?=<section class="scenario")', html)
    out = {}
    for p in parts[1:]:
        m = re.search(r"<h2>(.*?) <span", p)
        assert m, p[:200]
        out[m.group(1)] = p.split("</section>")[0]
    return out


@pytest.fixture
def no_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip rasterising figures (they are still built) in tests about the page, not the images."""
    monkeypatch.setattr(plots, "to_png", lambda fig, dpi=100: PNG_SIG + b"stub")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three runs of "nightly"; the last doubles the differential errors (planted regression)."""
    return make_history(tmp_path_factory.mktemp("runs"), (1.0, 1.03, 2.0))


@pytest.fixture(scope="module")
def report(runs: list[Path]) -> str:
    path = build_report(runs[-1], history=5)
    assert path == runs[-1] / "report.html"
    return path.read_text(encoding="utf-8")


def test_every_section_present(report: str) -> None:
    sec = sections(report)
    assert list(sec) == ["bs_call", "basket_xva", "worst_of"]
    for title in ("Summary", "Run provenance", "Resolved configuration (config.yaml)"):
        assert title in report
    bs, basket, failed = sec["bs_call"], sec["basket_xva"], sec["worst_of"]
    for s in (bs, basket):
        assert "Learning curves" in s and "Slices: prediction vs reference" in s
        assert "log10 rel. L2" in s and "Provenance" in s
        # unit-spot set-ups (strike near 1): values and deltas ×100, labelled as such
        assert "×100, % of unit spot" in s and "per cent of a unit spot" in s
        assert "Errors by moneyness" in s and "Shape checks" in s
    assert "MC price s.e." in bs and "Delta hedging" in bs  # where the run recorded them
    assert "MC price s.e." not in basket and "Delta hedging" not in basket
    assert "PINN results" in basket and "XVA: risky vs risk-free value" in basket
    assert 'alt="PINN error map' in basket and 'alt="PINN loss history' in basket
    assert 'alt="PINN Greeks' in basket and 'alt="XVA curves' in basket
    # sections without data are left out
    assert "PINN results" not in bs and "XVA" not in bs
    assert "<img" not in failed and "Learning curves" not in failed
    assert "Failed:" in failed and "Provenance" in failed
    # provenance: dataset hash, seed, backend, stage times
    assert "1a2b3c4d5e6f" in bs and "seed" in bs and "cpu" in bs and "simulate (s)" in bs
    assert "Report warnings" not in report


def test_images_decode(report: str) -> None:
    images = IMG_RE.findall(report)
    # bs: learning curve + slices; basket: learning curve, slices, map, loss, Greeks, XVA
    assert len(images) == 8
    assert report.count("<img") == len(images)  # every image is an embedded PNG
    for b64 in images:
        data = base64.b64decode(b64, validate=True)
        w, h = png_size(data)
        assert w >= 200 and h >= 150 and len(data) > 5000


def test_sparklines_are_valid_svg(report: str) -> None:
    svgs = SVG_RE.findall(report)
    assert len(svgs) == 2  # bs_call and basket_xva; worst_of failed
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.findall(".//{http://www.w3.org/2000/svg}polyline")


def test_summary_and_regressions(report: str) -> None:
    summary = report.split('<section class="scenario"')[0]
    assert "regressions against nightly-20261120T020000Z" in summary
    box = summary.split('id="regressions"')[1].split("</div>")[0]
    assert "summary.value_rmse.differential.mean" in box and "pinn.log10_rel_l2" in box
    assert "×1.94" in box  # 2.0 / 1.03
    # the standard errors did not change: not flagged
    assert "summary.value_rmse.standard.mean" not in box
    assert "+94%" in summary and 'class="worse"' in summary
    assert "last 3 runs" in summary


def test_no_regression_box_when_stable(tmp_path: Path, no_render: None) -> None:
    runs = make_history(tmp_path, (1.0, 1.04), fail_worst_of=False)
    html = build_report(runs[-1]).read_text(encoding="utf-8")
    assert '<div class="box good" id="regressions">No regression' in html
    assert 'class="worse"' not in html


def test_first_run_without_history(tmp_path: Path, no_render: None) -> None:
    run = make_run(tmp_path)
    html = build_report(run).read_text(encoding="utf-8")
    assert "<svg" not in html  # a single point makes no sparkline
    # the failed scenario is still flagged
    assert "1 regression (no previous run)" in html
    html = build_report(make_run(tmp_path, fail_worst_of=False)).read_text(encoding="utf-8")
    assert "No previous run named <b>nightly</b>" in html


def test_script_in_names_and_parameters_is_escaped(tmp_path: Path) -> None:
    evil_id = "evil<script>alert(1)"  # not a scenario id: shown, its arrays not read
    evil_input = '<img src=x onerror="alert(2)">'
    runs = make_history(tmp_path, (1.0, 1.0))
    for run in runs:
        m = json.loads((run / "metrics.json").read_text())
        sc = m["scenarios"]["basket_xva"]
        sc["inputs"] = ["spot_1", evil_input]
        sc["label"] = "</td></tr></table><script>alert(3)</script>"
        sc["parameters"]["model"]["type"] = EVIL
        m["scenarios"][evil_id] = sc
        m["run"]["name"] = "nightly"
        (run / "metrics.json").write_text(json.dumps(m))
        shutil.copy(run / "arrays" / "basket_xva.npz", run / "arrays" / f"{evil_id}.npz")
    html = build_report(runs[-1]).read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "onerror=" not in html.replace("onerror=&#34;", "")
    assert "<img src=x" not in html
    assert "evil&lt;script&gt;alert(1)" in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # label and parameter
    assert "train: &lt;b&gt;NaN&lt;/b&gt; loss" in html
    for svg in SVG_RE.findall(html):  # sparkline tooltip with the evil id still parses
        ET.fromstring(svg)
    # figures with evil labels still drawn: 4 for bs_call, 4 for basket_xva, and the evil id's
    # 2 drawn from metrics.json alone (learning curves), none from its arrays
    assert len(IMG_RE.findall(html)) == 10
    assert "&#39;evil&lt;script&gt;alert(1)&#39;: not a scenario id; its arrays are not read" \
        in html


def test_content_security_policy_and_offline(report: str) -> None:
    assert "Content-Security-Policy" in report and "default-src 'none'" in report
    for pattern in (r'src="http', r'href="http', r"<link\b", r"url\("):
        assert not re.search(pattern, report)


def test_missing_optional_files(tmp_path: Path, no_render: None) -> None:
    run = make_run(tmp_path)
    (run / "config.yaml").unlink()
    for f in (run / "arrays").iterdir():
        f.unlink()
    html = build_report(run).read_text(encoding="utf-8")
    assert "Slices:" not in html and "XVA: risky" not in html and "PINN Greeks" not in html
    assert "Learning curves" in html and "PINN results" in html  # from metrics.json alone
    assert 'alt="PINN loss history' in html
    assert "Resolved configuration" not in html


def test_corrupt_array_becomes_a_warning(tmp_path: Path, no_render: None) -> None:
    run = make_run(tmp_path)
    (run / "arrays" / "bs_call.npz").write_bytes(b"not a zip")
    html = build_report(run).read_text(encoding="utf-8")
    assert "Report warnings" in html and "cannot read bs_call.npz" in html
    assert "Slices:" in html  # basket_xva still has its slices


def test_bad_inputs(tmp_path: Path, no_render: None) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_report(tmp_path / "nope")
    run = make_run(tmp_path)
    with pytest.raises(ValueError, match="'tolerance' parameter of compare must be a finite ratio"):
        build_report(run, tolerance=0.5)
    with pytest.raises(ValueError, match="'history' parameter of build_report"):
        build_report(run, history=-1)
    m = json.loads((run / "metrics.json").read_text())
    m["schema_version"] = 2
    (run / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(ValueError, match="schema_version"):
        build_report(run)


def test_main(tmp_path: Path, capsys: pytest.CaptureFixture[str], no_render: None) -> None:
    run = make_run(tmp_path)
    out = tmp_path / "elsewhere" / "r.html"
    assert main([str(run), "--history", "0", "--tolerance", "2", "--output", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert out.stat().st_mode & 0o777 == 0o644
    assert main([str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("report: error:") and err.count("\n") == 1


def test_prefect_markdown(runs: list[Path]) -> None:
    m = load_metrics(runs[-1])
    m["regressions"] = [{"scenario": "bs_call", "metric": "summary.value_rmse.differential.mean",
                         "previous": 0.001, "current": 0.002, "ratio": 2.0, "tolerance": 1.5}]
    md = prefect_markdown(m, runs[-1] / "report.html")
    lines = md.splitlines()
    assert lines[0].startswith("### diffml run nightly 20261121T020000Z")
    table = [line for line in lines if line.startswith("| ")]
    assert len(table) == 4  # header + 3 scenarios
    assert all(line.count(" | ") == table[0].count(" | ") for line in table)  # no broken cells
    assert "| bs_call | ok | 0.00279 / 0.00192 | 2.79 % / 1.92 % | 9 pass |" in md
    assert "| basket_xva | ok |" in md and "| 1 of 15 fail |" in md
    assert "failed: train: &lt;b&gt;NaN&lt;/b&gt; loss at step 12" in md
    assert "**1 regression(s):**" in md and "(×2, tolerance ×1.5)" in md
    assert ": 0.001 → 0.002 (" in md  # price units, as in metrics.json
    assert f"Report: `{runs[-1] / 'report.html'}`" in md
    assert "<" not in md.replace("<br>", "")
    assert prefect_markdown(m, None).splitlines()[-1] == "Report: not built."
    assert "No regressions." in prefect_markdown(m, "r.html", regressions=[])


def test_readme_figures(runs: list[Path], tmp_path: Path) -> None:
    done = write_readme_figures(runs[-1], tmp_path / "img")
    # the fixture's XVA has one PDE reference: no default XVA figure, one when named
    assert set(done) == {"learning_curve", "pinn_error_map"}
    named = write_readme_figures(runs[-1], tmp_path / "img4", xva_scenario="basket_xva")
    assert set(named) == {"learning_curve", "xva", "pinn_error_map"}
    assert png_size(named["xva"].read_bytes())[0] > 500
    # with a second PDE reference's risky value (the FD beside a PINN), chosen by default
    run = shutil.copytree(runs[-1], tmp_path / "run_fd")
    arrays = dict(np.load(run / "arrays" / "basket_xva.npz"))
    arrays["xva_risky_fd"] = arrays["xva_risky"] * 1.001
    np.savez(run / "arrays" / "basket_xva.npz", **arrays)
    assert "xva" in write_readme_figures(run, tmp_path / "img5")
    for p in done.values():
        w, h = png_size(p.read_bytes())
        assert w > 500 and h > 400
    assert readme_main([str(runs[-1]), str(tmp_path / "img2"), "--scenario", "basket_xva"]) == 0
    assert (tmp_path / "img2" / "learning_curve.png").stat().st_size > 10_000
    assert readme_main([str(runs[-1]), str(tmp_path / "img3"), "--scenario", "nope"]) == 1


def test_imports_stay_light() -> None:
    code = ("import sys, evaluation, evaluation.report, evaluation.trend, evaluation.metrics; "
            "bad = [m for m in ('matplotlib', 'prefect', 'jinja2', 'numba', 'pyarrow', "
            "'simulators', 'data', 'torch') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_pipeline_style_run(tmp_path: Path) -> None:
    """The arrays and nulls the pipeline writes: pinn_delta/pinn_vega, meshgrid axes,
    pinn_grid_err, null history entries and metrics, no reference gradient."""
    run = make_pipeline_style_run(tmp_path)
    html = build_report(run).read_text(encoding="utf-8")
    assert "Report warnings" not in html
    sec = sections(html)
    heston, bs = sec["heston_pinn"], sec["bs_put"]
    assert 'alt="PINN error map' in heston and 'alt="PINN Greeks' in heston
    assert "Learning curves" not in heston and "Slices:" not in heston
    assert "<b>-2.90</b> / <b>-2.80</b> / <b>—</b>" in heston
    assert "Learning curves" in bs and "Slices:" in bs and 'alt="PINN Greeks' in bs
    # test-error tables: as many cells as headers in every row
    for s in (heston, bs):
        table = s.split("<th>predictor</th>")[1].split("</table>")[0]
        rows = table.split("</tr>")
        n_cols = rows[0].count("<th") + 1
        for row in rows[1:]:
            if "<td" in row:
                assert row.count("<td") == n_cols, row
    for b64 in IMG_RE.findall(html):
        png_size(base64.b64decode(b64))
    assert len(IMG_RE.findall(html)) == 7
    # the PINN-only scenario's change column follows the PINN error
    assert "pinn.log10_rel_l2" not in html.split('<section class="scenario"')[0].split(
        "</table>")[0]
    done = write_readme_figures(run, tmp_path / "img")
    assert set(done) == {"learning_curve", "pinn_error_map"}


def table_shapes_consistent(section: str) -> None:
    """Every table row has as many cells as its header row."""
    for table in re.findall(r"<table>(.*?)</table>", section, re.S):
        rows = [r for r in table.split("</tr>") if "<t" in r]
        head = rows[0].count("<th")
        for row in rows[1:]:
            assert row.count("<td") == head, row


def test_wide_basket_tables(tmp_path: Path, no_render: None) -> None:
    """Seven inputs: learning-curve and test-error tables show the worst input, named."""
    from tests.evaluation.report_fixture import _curve, _summary

    run = make_run(tmp_path)
    m = json.loads((run / "metrics.json").read_text())
    sc = json.loads(json.dumps(m["scenarios"]["bs_call"]))
    sc["inputs"] = [f"spot_{i}" for i in range(1, 8)]
    sc["learning_curve"] = _curve(0.01, 1.0, np.random.default_rng(0), 7)
    sc["mc_noise"] = {"value_std": 0.1, "delta_std": [0.3] * 7}
    sc["summary"] = _summary(sc["learning_curve"])
    m["scenarios"]["basket7"] = sc
    (run / "metrics.json").write_text(json.dumps(m))
    rng = np.random.default_rng(1)
    x = rng.uniform(0.8, 1.2, (80, 7))
    ref, grad = x.mean(axis=1), np.full((80, 7), 1 / 7)
    np.savez(run / "arrays" / "basket7.npz", x_test=x, ref_price=ref, ref_grad=grad,
             pred_price_differential=ref + 0.001, pred_grad_differential=grad + 0.002)
    html = build_report(run).read_text(encoding="utf-8")
    sec = sections(html)["basket7"]
    assert "Report warnings" not in html
    tables = sec.split("<h3>Provenance</h3>")[0]
    assert "RMS over inputs" not in tables and "spot_5" not in tables
    # learning curves and test-set errors: which Greek, its ×100 scaling, the worst input
    assert tables.count("delta ×100, worst of 7 inputs by RMSE") == 2
    assert '<td class="num">spot_7: ' in tables  # the largest learning-curve error, named
    summary = html.split('<section class="scenario"')[0]
    assert "delta (spot_7) <b>" in summary and "worst of 7 inputs" in summary
    assert "delta (spot_5)" not in summary
    # test set: every Greek off by 0.002, ×100 in this unit-spot set-up; the first is named,
    # with its relative error (0.002 / (1/7))
    assert '<td class="num">spot_1: 0.2 (1.4 %)</td>' in tables
    for s in sections(html).values():
        table_shapes_consistent(s)


def test_tolerance_and_history_from_config(tmp_path: Path, no_render: None) -> None:
    """Without arguments the run's config.yaml decides (as `diffml report RUN_DIR` does)."""
    runs = make_history(tmp_path, (1.0, 1.03, 2.0), fail_worst_of=False)
    cfg = runs[-1] / "config.yaml"
    cfg.write_text(cfg.read_text() + "regression_tolerance: 2.5\nhistory: 1\n")
    html = build_report(runs[-1]).read_text(encoding="utf-8")
    assert "No regression against nightly-20261120T020000Z" in html
    assert "last 2 runs" in html and "×2.5 its previous value" in html
    html = build_report(runs[-1], tolerance=1.5, history=5).read_text(encoding="utf-8")
    assert "regressions against nightly-20261120T020000Z" in html and "last 3 runs" in html


def test_pinn_base_caveat_labels_rows_whose_exact_answer_is_the_base():
    from evaluation.report import _base_caveat

    one_signed = {"base": "risk_free", "payoff_sign": 1, "xva": True}
    assert "e^(−cτ) × base" in _base_caveat(one_signed)
    assert "exact answer" in _base_caveat({**one_signed, "xva": False})
    assert _base_caveat({**one_signed, "payoff_sign": 0}) == ""  # non-linear: the method works
    assert _base_caveat({**one_signed, "base": None}) == ""  # no closed form in the trial value


def test_report_shows_the_regressions_the_pipeline_recorded(tmp_path: Path,
                                                            no_render: None) -> None:
    """One computation: a run that records its tolerance shows exactly metrics.json's
    ``regressions`` (here: none, although a recomputation against the previous run would flag
    the 1.94× growth); another tolerance recomputes."""
    runs = make_history(tmp_path, (1.0, 2.0))
    path = runs[-1] / "metrics.json"
    m = json.loads(path.read_text())
    assert compare_regressions(m, load_metrics(runs[0]), 1.5)  # what recomputing would flag
    m["run"]["regression_tolerance"] = 1.5
    m["regressions"] = []
    path.write_text(json.dumps(m))
    html = build_report(runs[-1], tolerance=1.5).read_text(encoding="utf-8")
    assert '<div class="box good" id="regressions">No regression' in html
    m["regressions"] = [{"scenario": "bs_call", "metric": "summary.value_rmse.standard.mean",
                         "previous": 0.01, "current": 0.03, "ratio": 3.0, "tolerance": 1.5}]
    path.write_text(json.dumps(m))
    html = build_report(runs[-1], tolerance=1.5).read_text(encoding="utf-8")
    box = html.split('id="regressions"')[1].split("</div>")[0]
    assert "1 regression " in box and "summary.value_rmse.standard.mean" in box
    assert "summary.value_rmse.differential.mean" not in box
    html = build_report(runs[-1], tolerance=1.2).read_text(encoding="utf-8")
    box = html.split('id="regressions"')[1].split("</div>")[0]
    assert "summary.value_rmse.differential.mean" in box


def test_failed_checks_lead_the_report_and_units_follow_the_strike(tmp_path: Path,
                                                                    no_render: None) -> None:
    """A Heston put whose standard surrogate has dV/dvariance < 0: the failed check is the first
    box of the report, and a strike-100 product's errors are in price units, never ×100."""
    run = make_run(tmp_path, fail_worst_of=False)
    m = json.loads((run / "metrics.json").read_text())
    sc = m["scenarios"]["bs_call"]
    sc["inputs"] = ["spot", "variance"]
    sc["parameters"]["product"]["strike"] = 100.0
    sc["summary"]["scale"].update(strike=100.0, unit_spot=False)
    for block in ("greek_rmse", "greek_relative"):
        for mode in sc["summary"][block].values():
            mode["variance"] = {"mean": 12.5, "sd": 0.0}
    sc["checks"]["results"].append({
        "predictor": "standard", "rule": "dV/dvariance ≥ 0", "quantity": "greek",
        "input": "variance", "passed": False, "violations": 17, "n": 200, "tolerance": 0.6,
        "worst": -60.2, "bound": 0.0, "at": [62.0, 0.071]})
    (run / "metrics.json").write_text(json.dumps(m))
    (run / "arrays" / "bs_call.npz").unlink()
    html = build_report(run).read_text(encoding="utf-8")
    first = html.split('<section class="scenario"')[0]
    assert first.index('id="checks"') < first.index('id="regressions"') < first.index(
        'class="summary"')
    box = first.split('id="checks"')[1].split("</div>")[0]
    assert "2 shape checks failed" in box and "dV/dvariance ≥ 0" in box  # and basket_xva's
    assert '<td class="num fail">17 / 200</td>' in box and "-60.2" in box
    assert "dV/dvariance <b>12.5</b>" in first  # the Greek named by its input, not pooled
    assert "1 of 10 fail" in first
    sec = sections(html)["bs_call"]
    assert "price units" in sec and "×100" not in sec.split('alt="learning curves')[1].split(
        "<h3>Provenance</h3>")[0].split("</figure>")[1]
    assert "fails at 17 of 200 points" in sec and "spot 62, variance 0.071" in sec


def test_pinn_with_an_exact_base_is_not_a_headline(tmp_path: Path, no_render: None) -> None:
    """A one-signed PINN whose base is (e^(−cτ) times) the exact answer carries 'exact base'
    next to its error in the summary; a two-signed one does not."""
    run = make_run(tmp_path)
    path = run / "metrics.json"
    m = json.loads(path.read_text())
    pinn = m["scenarios"]["basket_xva"]["pinn"]
    pinn.update(base="risk_free", payoff_sign=-1, xva={"type": "XVA"})
    path.write_text(json.dumps(m))
    summary = build_report(run).read_text(encoding="utf-8").split('<section class="scenario"')[0]
    assert "exact base" in summary
    pinn["payoff_sign"] = 0
    path.write_text(json.dumps(m))
    summary = build_report(run).read_text(encoding="utf-8").split('<section class="scenario"')[0]
    assert "exact base" not in summary


def test_a_same_second_run_finds_its_history(tmp_path: Path, no_render: None) -> None:
    """A second run started in the same second gets a suffixed stamp ("...Z-2"): the report
    still reads the earlier runs instead of refusing the stamp."""
    runs = make_history(tmp_path, (1.0, 1.04), fail_worst_of=False)
    m = json.loads((runs[-1] / "metrics.json").read_text())
    m.setdefault("run", {})["stamp"] = m["run"].get("stamp", "20260101T000000Z") + "-2"
    (runs[-1] / "metrics.json").write_text(json.dumps(m))
    html = build_report(runs[-1]).read_text(encoding="utf-8")
    assert "No regression" in html


# ----- a run directory received from elsewhere ---------------------------------------------------
def test_a_forwarded_run_directory_cannot_exhaust_memory_or_reach_outside(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A config.yaml of nested aliases (gigabytes once expanded), an arrays file that would
    expand beyond the limit (8 MiB of zeros compress to kilobytes; the limit is lowered to
    1 MiB here), a scenario id that is a path and a recorded previous run elsewhere: the report
    builds, reads none of them, and says so where it skips data."""
    import evaluation.report as report

    run = make_run(tmp_path / "runs", name="nightly")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)) + "history: *i\n"
    (run / "config.yaml").write_text(bomb)
    arrays = run / "arrays" / "bs_call.npz"
    content = dict(np.load(arrays))
    np.savez_compressed(arrays, **content, big=np.zeros(2**20))
    assert arrays.stat().st_size < 2**17
    monkeypatch.setattr(report, "MAX_ARRAYS_BYTES", 2**20)
    # a scenario id that is a path, pointing at arrays outside the run
    outside = tmp_path / "outside"
    (outside / "arrays").mkdir(parents=True)
    shutil.copy(run / "arrays" / "basket_xva.npz", outside / "arrays" / "secret.npz")
    m = json.loads((run / "metrics.json").read_text())
    m["scenarios"]["../../outside/arrays/secret"] = m["scenarios"]["basket_xva"]
    m["run"]["previous"] = str(outside)
    (run / "metrics.json").write_text(json.dumps(m))
    html = build_report(run).read_text(encoding="utf-8")
    assert re.search(r"bs_call: bs_call.npz would expand to \d+ MiB \(at most 1 MiB\); not read",
                     html), html
    assert "not a scenario id; its arrays are not read" in html
    assert "&amp;a [x" in html  # the config shown as it is, not expanded


def test_links_in_a_received_run_directory_are_not_followed(tmp_path: Path) -> None:
    """config.yaml or an arrays file that is a link (to a file of the reader's): not read,
    so nothing of the target reaches the report."""
    run = make_run(tmp_path / "runs", name="nightly")
    secret = tmp_path / "secret.txt"
    secret.write_text("history: 3\nTOPSECRET123: 1\n")
    (run / "config.yaml").unlink()
    (run / "config.yaml").symlink_to(secret)
    arrays = run / "arrays" / "bs_call.npz"
    moved = tmp_path / "elsewhere.npz"
    arrays.rename(moved)
    arrays.symlink_to(moved)
    html = build_report(run).read_text(encoding="utf-8")
    assert "TOPSECRET123" not in html
    assert "bs_call: bs_call.npz or its folder is a symbolic link; not read" in html


def test_the_recorded_previous_run_is_looked_up_among_siblings_only(tmp_path: Path) -> None:
    """A metrics.json naming a previous run elsewhere: that run is not read (its distinctive
    value never shows), while one of the same name beside the run is."""
    runs = make_history(tmp_path / "runs", (1.0, 1.03))
    outside = tmp_path / "outside" / runs[0].name
    shutil.copytree(runs[0], outside)
    m = json.loads((outside / "metrics.json").read_text())
    m["scenarios"]["bs_call"]["summary"]["value_rmse"]["differential"]["mean"] = 987.654321
    (outside / "metrics.json").write_text(json.dumps(m))
    cur = json.loads((runs[1] / "metrics.json").read_text())
    cur["run"]["previous"] = str(outside)
    cur["run"]["regression_tolerance"] = 1.5
    cur["regressions"] = []
    (runs[1] / "metrics.json").write_text(json.dumps(cur))
    html = build_report(runs[1], tolerance=1.5).read_text(encoding="utf-8")
    changes = re.findall(r'title="summary\.value_rmse\.differential\.mean: ([^"]*)"', html)
    assert len(changes) == 2 and all(c.endswith("(×1.03)") for c in changes), changes
    assert "987.7" not in html


def test_credentials_in_uris_are_not_in_the_report(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs", name="nightly")
    (run / "config.yaml").write_text(
        "name: nightly\ntracking:\n  mlflow: {uri: 'http://alice:s3cr3t@mlflow.internal:5000'}\n")
    html = build_report(run).read_text(encoding="utf-8")
    assert "s3cr3t" not in html and "alice" not in html
    assert "http://***@mlflow.internal:5000" in html
    from evaluation.report import _redacted

    assert _redacted("postgresql://u:p@ss@db/x and https://h/x?a=1&token=abc#f plain a@b.c "
                     "http://host:5000/a@b") == (
        "postgresql://***@db/x and https://h/x?a=1&token=***#f plain a@b.c "
        "http://host:5000/a@b")


def test_the_report_reads_arrays_for_exactly_the_ids_a_config_allows():
    from evaluation.report import _SCENARIO_ID
    from pipeline.config import _ID

    assert _SCENARIO_ID.pattern == _ID.pattern
