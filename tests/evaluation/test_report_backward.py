"""The report's backward-regression section: the table against the FD, the exactness of
e^(-cT) V_rf for a one-signed payoff, today's values, the exposure and value figures, and the
schema of the ``backward`` block."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from evaluation import plots
from evaluation.report import build_report
from evaluation.run_format import check_metrics

from .report_fixture import bs_call, make_run

C_POS, C_NEG, T = 0.05, 0.012, 1.0


def _errors(rel: float, greek: float) -> dict:
    return {"value_rmse": rel * 0.2, "value_relative": rel, "greek_rmse": {"spot": greek * 0.5},
            "greek_relative": {"spot": greek}, "log10_rel_l2": math.log10(rel)}


def _backward_block() -> dict:
    """A one-signed call under XVA: e^(-c+ T) V_rf is exact, e^(-c- T) V_rf is not."""
    rows = [
        {"key": "backward", "label": "backward regression (risky)", "seconds": 12.5,
         "vs": {"fd": _errors(0.004, 0.01)}},
        {"key": "fd", "label": "FD (risky, reference)", "seconds": 0.8, "vs": {}},
        {"key": "risk_free", "label": "risk-free", "seconds": 0.01,
         "vs": {"fd": _errors(0.05, 0.05)}},
        {"key": "linear_positive", "label": "e^{-c+T} V_rf", "seconds": 0.01, "spread": C_POS,
         "exact": True, "vs": {"fd": _errors(1e-5, 2e-5)}},
        {"key": "linear_negative", "label": "e^{-c-T} V_rf", "seconds": 0.01, "spread": C_NEG,
         "exact": False, "vs": {"fd": _errors(0.038, 0.038)}},
        {"key": "cva_dva", "label": "V_rf - CVA + DVA", "seconds": 1.5, "today_only": True,
         "vs": {"fd": {"value_rmse": 0.001, "value_relative": 0.01, "log10_rel_l2": -2.0}}},
    ]
    history = [{"date": k, "time": k / 4, "paths": 1024, "seconds": 3.0, "fit_seconds": 2.9,
                "label_std": 0.1, "r2_value": 0.3, "r2_gradient": 0.9, "mean_value": 0.1,
                "negative_share": 0.0} for k in range(4)]
    return {"xva": True, "payoff_sign": 1, "maturity": T, "reused": False,
            "train_seconds": 12.5, "compared_with": "fd", "references": ["fd"],
            "risk_free_method": "analytic", "inputs": ["spot"],
            "settings": {"dates": 4, "paths_per_date": 1024, "scheme": "crank_nicolson"},
            "rows": rows, "history": history,
            "exposure": {"state": [1.05], "paths": 4096, "quantile": 0.975, "cva": 0.0061,
                         "dva": 0.0, "first_order_adjustment": 0.0061, "seconds": 1.5,
                         "today": {"values": {"backward": 0.101, "risk_free": 0.107,
                                              "cva_dva": 0.1009},
                                   "reference": 0.1019, "reference_method": "fd",
                                   "errors": {"backward": {"value_relative": 0.009},
                                              "risk_free": {"value_relative": 0.05},
                                              "cva_dva": {"value_relative": 0.01}}}}}


def _run_with_backward(tmp_path: Path, block: dict | None = None) -> Path:
    run = make_run(tmp_path, fail_worst_of=False)
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["scenarios"]["bs_call"]["backward"] = _backward_block() if block is None else block
    check_metrics(metrics)
    (run / "metrics.json").write_text(json.dumps(metrics))
    path = run / "arrays" / "bs_call.npz"
    with np.load(path) as z:
        arrays = dict(z)
    s = arrays["x_test"][:, 0]
    price, delta = bs_call(s, 1.1, 0.2, 1.0)
    risky = math.exp(-C_POS * T) * price
    t = np.linspace(0.0, 1.0, 5)
    epe = 0.1 + 0.05 * t
    arrays.update(backward_price=risky + 0.001 * np.sin(4 * s),
                  backward_grad=(math.exp(-C_POS * T) * delta)[:, None],
                  backward_ref_price=risky,
                  backward_ref_grad=(math.exp(-C_POS * T) * delta)[:, None],
                  backward_rf_price=price, backward_exposure_times=t,
                  backward_exposure_epe=epe, backward_exposure_ene=np.zeros_like(t),
                  backward_exposure_epe_se=0.002 * t, backward_exposure_ene_se=np.zeros_like(t),
                  backward_exposure_pfe=0.1 + 0.3 * np.sqrt(t), backward_exposure_mean=epe)
    np.savez(path, **arrays)
    return run


def test_the_backward_section_shows_the_table_today_and_the_figures(tmp_path):
    run = _run_with_backward(tmp_path)
    html = build_report(run).read_text()
    start = html.index('id="s0-backward"')
    section = html[start:html.index("<h3>Provenance</h3>", start)]
    assert "Backward regression: risky (XVA) value" in section
    for name in ("backward regression (risky)", "FD (risky, reference)", "risk-free",
                 "e^(−c₊T) V_rf", "e^(−c₋T) V_rf",
                 "V_rf − CVA + DVA − FVA (risk-free close-out, today&#39;s state only)"):
        assert name in section, name
    assert "0.4 %" in section and "1 %" in section  # backward value and delta, relative RMS
    # one-signed payoff: the exact formula is said to be exact, the other shortcut is not
    assert "exact: this payoff stays ≥ 0, so its risky value is e^(−cτ)·V_rf" in section
    assert "not exact here" in section
    assert "at today&#39;s state [1.05]" in section and "CVA 0.0061" in section

    assert 'alt="exposure profile for bs_call" src="data:image/png;base64,' in section
    assert 'alt="backward risky value for bs_call" src="data:image/png;base64,' in section
    assert "per-date fits (4 dates" in section
    assert "Report warnings" not in html


def test_a_malformed_backward_block_is_a_warning_not_a_lost_report(tmp_path):
    run = _run_with_backward(tmp_path)
    metrics = json.loads((run / "metrics.json").read_text())
    block = metrics["scenarios"]["bs_call"]["backward"]
    block["exposure"]["today"] = {"values": [1, 2]}  # ignored: not a mapping
    (run / "metrics.json").write_text(json.dumps(metrics))
    html = build_report(run).read_text()
    assert "Backward regression: risky (XVA) value" in html and "Report warnings" not in html
    block["inputs"] = 5  # cannot name the Greeks: the section is left out with a warning
    (run / "metrics.json").write_text(json.dumps(metrics))
    html = build_report(run).read_text()
    assert "bs_call: backward section failed" in html
    assert "Backward regression: risky (XVA) value" not in html


def test_the_schema_refuses_an_unknown_row():
    block = _backward_block()
    block["rows"][0]["key"] = "monte_carlo"
    doc = {"schema_version": 1, "run": {"name": "n", "stamp": "s", "status": "ok"},
           "scenarios": {"a": {"status": "ok", "backward": block}}}
    with pytest.raises(ValueError, match="scenarios.a.backward.rows.0.key"):
        check_metrics(doc)


def test_exposure_figure_checks_its_arrays():
    t = np.linspace(0.0, 1.0, 5)
    fig = plots.exposure_figure(t, t, -t, 0 * t, 0 * t, 2 * t, 0.975)
    assert plots.to_png(fig).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="'pfe' parameter of exposure_figure"):
        plots.exposure_figure(t, t, -t, 0 * t, 0 * t, t[:3], 0.975)


def test_cva_dva_fva_come_with_their_standard_errors(tmp_path):
    block = _backward_block()
    block["exposure"].update(fva=0.0012, standard_errors={
        "cva": 0.00021, "dva": 0.0, "fva": 0.00004, "first_order_adjustment": 0.0002})
    html = build_report(_run_with_backward(tmp_path, block)).read_text(encoding="utf-8")
    assert ("CVA 0.0061 ± 0.00021, DVA 0 ± 0, FVA 0.0012 ± 4e-05 from the exposure profile of "
            "the risk-free surrogate (± one Monte-Carlo standard error of the outer paths)"
            ) in html
    assert "CVA 0.0061 ± 0.00021, DVA 0 ± 0 integrate them" in html
