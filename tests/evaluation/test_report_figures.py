"""The report's figures on the page: page-wide embedded PNGs, slices along the scenario's axis,
matrices as tables of 4 significant digits."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np

from evaluation import plots
from evaluation.report import build_report
from tests.evaluation.report_fixture import make_pipeline_style_run, make_run
from tests.evaluation.test_plots import png_width

IMG_RE = re.compile(r'<img\b[^>]*\bsrc="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def test_report_images_are_page_wide(tmp_path: Path) -> None:
    run = make_pipeline_style_run(tmp_path)
    html = build_report(run).read_text(encoding="utf-8")
    widths = [png_width(base64.b64decode(b)) for b in IMG_RE.findall(html)]
    assert widths and min(widths) >= 1000
    assert re.search(r"figure img \{[^}]*width:100%[^}]*max-width:", html)


def test_matrices_render_as_tables_with_4_significant_digits(tmp_path: Path,
                                                            monkeypatch) -> None:
    monkeypatch.setattr(plots, "to_png", lambda fig, dpi=100: b"\x89PNG\r\n\x1a\nstub")
    run = make_run(tmp_path)
    m = json.loads((run / "metrics.json").read_text())
    rng = np.random.default_rng(7)
    a = rng.uniform(-1, 1, size=(14, 7))
    cov = a.T @ a
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    model = m["scenarios"]["basket_xva"]["parameters"]["model"]
    model["correlation"] = corr.tolist()
    model["vols"] = rng.uniform(0.05, 0.5, size=7).tolist()
    (run / "metrics.json").write_text(json.dumps(m))
    html = build_report(run).read_text(encoding="utf-8")
    tables = re.findall(r'<table class="matrix">(.*?)</table>', html, re.S)
    assert len(tables) == 1
    rows = re.findall(r"<tr>(.*?)</tr>", tables[0])
    assert len(rows) == 7
    cells = [re.findall(r'<td class="num">(.*?)</td>', r) for r in rows]
    assert all(len(c) == 7 for c in cells)
    assert [cells[i][i] for i in range(7)] == ["1"] * 7
    assert cells[0][1] == f"{corr[0, 1]:.4g}"
    # no long floats anywhere in the scenario's parameters (vectors too)
    assert not re.search(r"\d\.\d{6,}", html.split('id="s1"')[1].split('id="s2"')[0])
    assert "[0.5, 0.5]" in html  # the product's weights


def test_report_draws_slices_along_the_scenarios_axis(tmp_path: Path, monkeypatch) -> None:
    """The basket scenario's slices and PINN Greeks go along the basket level of its weights;
    the caption says so; the 1-D scenario's along its spot."""
    monkeypatch.setattr(plots, "to_png", lambda fig, dpi=100: b"\x89PNG\r\n\x1a\nstub")
    drawn, real = [], plots.slices_figure

    def spy(x, *args, axis=None, **kwargs):
        drawn.append((np.shape(x)[1], axis))
        return real(x, *args, axis=axis, **kwargs)

    monkeypatch.setattr(plots, "slices_figure", spy)
    html = build_report(make_run(tmp_path)).read_text(encoding="utf-8")
    labels = [(d, axis.label) for d, axis in drawn]
    assert (1, "spot") in labels
    basket = [axis for d, axis in drawn if d == 2]
    assert len(basket) == 2  # surrogates' slices and the PINN's Greeks
    for axis in basket:
        assert axis.label.startswith("basket level")
        np.testing.assert_allclose(axis.direction, [1.0, 1.0])  # w / |w|^2, w = (0.5, 0.5)
    assert "along the basket level B = Σ w_i S_i" in html
