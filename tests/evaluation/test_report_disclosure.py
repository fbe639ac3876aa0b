"""What the report discloses beside its numbers: the XVA spreads used, PINN rows that are not
headlines, a PINN stopped by its time limit, the reference method a label names, the shape rules
that ran, the regression rule of the baseline, wide-basket columns, captions derived from what is
drawn, stage times and single-seed spreads. The run is the synthetic one of
``report_fixture.py``, edited into the shapes the nightly run had."""

from __future__ import annotations

import html as htmllib
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import yaml

from evaluation import plots
from evaluation.diagnostics import rules_note, shape_rules
from evaluation.metrics import learning_curve_summary
from evaluation.report import build_report, prefect_markdown
from tests.evaluation.report_fixture import make_run

PNG_SIG = b"\x89PNG\r\n\x1a\n"

#: The nightly run's XVA: λ_B 2 %, λ_C 5 %, recoveries 40 %, no funding spread given.
NIGHTLY_XVA = {"type": "XVA", "lambda_b": 0.02, "lambda_c": 0.05, "recovery_b": 0.4,
               "recovery_c": 0.4, "funding_spread": None}


@pytest.fixture(autouse=True)
def no_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """Figures are built but not rasterised: these tests read the page's text."""
    monkeypatch.setattr(plots, "to_png", lambda fig, dpi=100: PNG_SIG + b"stub")


def text(html: str) -> str:
    """The page's visible text, tags removed and white space collapsed."""
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def summary_of(html: str) -> str:
    return html.split('<section class="scenario"')[0]


def section(html: str, sid: str) -> str:
    for part in re.split(r'(?=<section class="scenario")', html)[1:]:
        if re.search(rf"<h2>{re.escape(sid)} <span", part):
            return part.split("</section>")[0]
    raise AssertionError(f"no section {sid}")


def summary_row(html: str, sid: str) -> str:
    table = summary_of(html).split('<table class="summary">')[1].split("</table>")[0]
    return next(r for r in table.split("</tr>") if f"<b>{sid}</b>" in r)


def edit(run: Path, fn) -> None:
    path = run / "metrics.json"
    m = json.loads(path.read_text())
    fn(m)
    path.write_text(json.dumps(m))


def collar_like(m: dict[str, Any], run: Path) -> None:
    """bs_call turned into the nightly collar: an XVA with the default funding spread, the PINN
    as reference (stopped at its time limit, compared with the FD cross-check, trained inside
    the reference stage), surrogates on the risk-free value, one seed."""
    sc = m["scenarios"]["bs_call"]
    sc["label"] = "Collar with XVA: PINN reference"
    sc["parameters"]["xva"] = dict(NIGHTLY_XVA)
    sc["reference"] = {"method": "pinn", "n_test": 120,
                       "cross_checks": {"fd": {"max_abs_price_diff": 1e-3}},
                       "surrogate": {"method": "analytic", "risk_free": True}}
    steps = [float(s) for s in range(1, 441, 20)] + [440.0, 442.0]
    sc["pinn"] = {
        "variant": "best", "base": "risk_free", "faces": {"spot_min": "reduced",
                                                          "spot_max": "reduced"},
        "reference": True, "compared_with": "fd", "payoff_sign": 0, "xva": True,
        "log10_rel_l1": -4.64, "log10_rel_l2": -4.59, "log10_rel_linf": -4.43,
        "train_seconds": 93.2, "status": "time_limit", "steps": 440, "planned_steps": 1500,
        "lstsq_rounds": 2, "planned_lstsq_rounds": 3, "time_limit": 90.0,
        "vs_fd": {"price": {"l1": -4.6, "l2": -4.6, "linf": -4.4},
                  "delta": {"l1": -3.9, "l2": -3.8, "linf": -3.5},
                  "gamma": {"l1": -2.4, "l2": -2.3, "linf": -2.0}},
        "history": {"step": steps, "loss": [1.0 / s for s in steps], "lr": [1.0] * len(steps),
                    "spot_min": [0.1 / s for s in steps], "spot_max": [0.2 / s for s in steps],
                    "pde": [0.5 / s for s in steps]}}
    sc["stage_seconds"] = {"simulate": 0.06, "reference": 97.2, "train": 9.1, "pinn": 0.5}
    one = [e for e in sc["learning_curve"] if e["seed"] == 0]
    sc["learning_curve"] = one
    for block in ("value_rmse", "value_relative"):
        for stat in sc["summary"][block].values():
            stat["sd"] = 0.0  # what the pipeline records with one seed
    with np.load(run / "arrays" / "bs_call.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(pinn_price=arrays["ref_price"] * 1.0001, pinn_delta=arrays["ref_grad"][:, 0],
                  pinn_ref_price=arrays["ref_price"], pinn_ref_grad=arrays["ref_grad"])
    np.savez(run / "arrays" / "bs_call.npz", **arrays)


def worst_of_like(m: dict[str, Any]) -> None:
    """basket_xva turned into the nightly worst-of put under XVA: a one-signed payoff whose PINN
    has the exact risk-free closed form as base (its error is not a headline), stopped at its
    time limit, PINN face names spot_1/spot_2 for the inputs spot_0/spot_1, and the three
    shape rules that run for a worst-of (no convexity) under the old fixed note."""
    sc = m["scenarios"]["basket_xva"]
    sc["inputs"] = ["spot_0", "spot_1"]
    sc["parameters"]["product"] = {"type": "WorstOf", "strike": 1.0, "maturity": 1.0,
                                   "kind": "put"}
    sc["parameters"]["xva"] = dict(NIGHTLY_XVA)
    sc["reference"] = {"method": "analytic", "n_test": 300, "cross_checks": {"fd": {}}}
    sc["pinn"].update(base="risk_free", payoff_sign=1, xva=True, reference=False,
                      compared_with="analytic", status="time_limit", steps=106,
                      planned_steps=600, lstsq_rounds=1, planned_lstsq_rounds=1,
                      time_limit=75.0, log10_rel_l2=-5.66,
                      faces={f"spot_{i}_{e}": "reduced" for e in ("min", "max") for i in (1, 2)})
    rules = ["value ≥ 0", "delta spot_0 ≤ 0", "delta spot_1 ≤ 0"]
    inputs = [None, "spot_0", "spot_1"]
    sc["checks"] = {"tolerance": 0.02,
                    "note": "long put: 3 rules (XVA: signs and convexity; price bounds not "
                            "checked)",
                    "results": [{"predictor": p, "rule": r, "quantity": "value" if i is None
                                 else "greek", "input": i, "passed": True, "violations": 0,
                                 "n": 300, "tolerance": 0.01}
                                for p in ("reference", "standard", "differential")
                                for r, i in zip(rules, inputs, strict=True)]}


@pytest.fixture(scope="module")
def nightly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A run shaped like the audited nightly one, and its report."""
    plots_to_png = plots.to_png
    plots.to_png = lambda fig, dpi=100: PNG_SIG + b"stub"
    try:
        run = make_run(tmp_path_factory.mktemp("runs"), fail_worst_of=False)
        m = json.loads((run / "metrics.json").read_text())
        collar_like(m, run)
        worst_of_like(m)
        m["scenarios"]["worst_of"]["label"] = "Arithmetic basket put (ours), PDE reference"
        m["scenarios"]["worst_of"]["reference"] = {"method": "analytic", "n_test": 10,
                                                   "cross_checks": {"fd": {}}}
        m["run"].update(regression_tolerance=1.5, baseline={"kind": "best", "runs": []},
                        stage_seconds={"simulate": 2.9, "reference": 99.6, "train": 49.5,
                                       "pinn": 78.4, "backward": 28.2})
        (run / "metrics.json").write_text(json.dumps(m))
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        cfg.update(regression_tolerance=1.5, regression={"baseline": "best", "window": 5})
        (run / "config.yaml").write_text(yaml.safe_dump(cfg))
        return run, build_report(run).read_text(encoding="utf-8")
    finally:
        plots.to_png = plots_to_png


# ----- 1. the XVA funding spread ---------------------------------------------------------------
def test_default_funding_spread_and_spreads_are_shown(nightly: tuple[Path, str]) -> None:
    _, html = nightly
    for sid in ("bs_call", "basket_xva"):
        sec = text(section(html, sid))
        assert "xva.funding_spread — (not given): default (1 − R_B) λ_B = 0.012" in sec
        assert "xva: c₊ = (1 − R_C) λ_C + s_F 0.042 (value ≥ 0)" in sec
        assert "xva: c₋ = (1 − R_B) λ_B 0.012 (value ≤ 0)" in sec
        assert ("funding spread s_F = 0.012 (default (1 − R_B) λ_B, no funding_spread given); "
                "discount spreads c₊ = (1 − R_C) λ_C + s_F = 0.042") in sec
        row = text(summary_row(html, sid))
        assert "XVA: c₊ 0.042, c₋ 0.012 (s_F 0.012, default (1 − R_B) λ_B)" in row
    assert "c₊ 0.03," not in text(html)  # the spread without funding is shown nowhere


def test_spreads_follow_the_simulators_definition(tmp_path: Path) -> None:
    """The report's s_F, c₊ and c₋ are those of simulators.XVA, with and without a given
    funding spread."""
    from evaluation.report import _xva_spreads
    from simulators import XVA

    for given in (None, 0.005):
        params = {**NIGHTLY_XVA, "funding_spread": given}
        xva = XVA(**{k: v for k, v in params.items() if k != "type"})
        sp = _xva_spreads({"xva": params})
        assert sp["s_f"] == pytest.approx(xva.s_f)
        assert sp["c_pos"] == pytest.approx(xva.spread_positive)
        assert sp["c_neg"] == pytest.approx(xva.spread_negative)
        assert sp["default"] is (given is None)
    run = make_run(tmp_path, fail_worst_of=False)  # basket_xva gives funding_spread 0.005
    sec = text(section(build_report(run).read_text(encoding="utf-8"), "basket_xva"))
    assert "xva.funding_spread 0.005 (s_F)" in sec and "default (1 − R_B)" not in sec
    assert "c₊ = (1 − R_C) λ_C + s_F = 0.023" in sec  # 0.6 × 0.03 + 0.005


# ----- 2. a PINN whose exact answer is e^(−cτ)·base is not a headline --------------------------
def test_exact_base_pinn_is_labelled_not_a_headline(nightly: tuple[Path, str]) -> None:
    _, html = nightly
    row = summary_row(html, "basket_xva")
    assert '<span class="muted"' in row.split("-5.66")[0].rsplit("<td", 1)[1]  # greyed
    assert "e^(−cτ)·closed form (exact base): not a headline" in text(row)
    assert "-5.66†" in text(row)
    assert "† Not a headline: the payoff has one sign" in text(summary_of(html))
    # the two-signed collar's PINN is a genuine result: plain, unmarked
    collar = summary_row(html, "bs_call")
    assert "-4.59" in collar and "not a headline" not in collar and "†" not in text(collar)
    sec = text(section(html, "basket_xva"))
    assert "e^(−cτ)·closed form (exact base): not a headline" in sec
    md = prefect_markdown(json.loads((nightly[0] / "metrics.json").read_text()), None)
    assert "-5.66 (e^(−cτ)·closed form (exact base): not a headline)" in md


def test_without_an_exact_base_there_is_no_footnote(tmp_path: Path) -> None:
    run = make_run(tmp_path, fail_worst_of=False)
    html = build_report(run).read_text(encoding="utf-8")
    assert "Not a headline" not in html and "&#8224;" not in summary_of(html)


# ----- 3. a PINN stopped by its time limit -----------------------------------------------------
def test_time_limit_is_disclosed(nightly: tuple[Path, str]) -> None:
    _, html = nightly
    sec = text(section(html, "bs_call"))
    assert ("training ended stopped at the 90 s time limit after 440 of 1500 gradient steps "
            "(Adam + L-BFGS); 2 of 3 least-squares rounds of the output layer accepted") in sec
    assert "stopped at its time limit (440 of 1500 steps)" in text(summary_row(html, "bs_call"))
    assert "stopped at its time limit (106 of 600 steps)" in text(summary_row(html,
                                                                               "basket_xva"))


def test_time_limit_of_a_run_before_the_step_counts(tmp_path: Path) -> None:
    """Older metrics hold the status only: the last step of the loss history is named as such;
    a completed PINN gets no marker."""
    run = make_run(tmp_path, fail_worst_of=False)
    edit(run, lambda m: m["scenarios"]["basket_xva"]["pinn"].update(status="time_limit"))
    html = build_report(run).read_text(encoding="utf-8")
    assert ("stopped by its time limit after step 1980 of its loss history (planned steps not "
            "recorded in this run)") in text(section(html, "basket_xva"))
    assert "stopped at its time limit" in text(summary_row(html, "basket_xva"))
    edit(run, lambda m: m["scenarios"]["basket_xva"]["pinn"].update(status="completed"))
    html = build_report(run).read_text(encoding="utf-8")
    assert "training ended completed" in text(section(html, "basket_xva"))
    assert 'class="warn"' not in summary_row(html, "basket_xva")


def test_pipeline_records_the_steps_of_a_pinn() -> None:
    """pipeline.pinn_step writes what the report's status line needs: gradient steps (the
    solver's count less its accepted least-squares rounds), planned steps and rounds, limit."""
    from pipeline.pinn_step import _progress

    sol = SimpleNamespace(
        config=SimpleNamespace(adam_steps=300, lbfgs_iterations=1200, lstsq_rounds=3,
                               time_limit=90),
        stats={"steps": 442, "lstsq_rounds": 2, "status": "time_limit"})
    assert _progress(sol) == {"steps": 440, "planned_steps": 1500, "lstsq_rounds": 2,
                              "planned_lstsq_rounds": 3, "time_limit": 90.0}


# ----- 4. the reference method, whatever the label says ----------------------------------------
def test_label_naming_another_reference_is_flagged(nightly: tuple[Path, str]) -> None:
    _, html = nightly
    warning = ("the label says “PDE reference”; the reference is the closed form (analytic); "
               "FD only a cross-check")
    assert warning in text(summary_row(html, "worst_of"))
    assert warning in text(section(html, "worst_of"))
    assert "Reference: closed form (analytic); FD only a cross-check." in text(
        section(html, "worst_of"))
    # "PINN reference" on a PINN-reference scenario is right: no warning
    assert "the label says" not in text(summary_row(html, "bs_call"))
    assert "PINN; FD only a cross-check" in text(summary_row(html, "bs_call"))


# ----- 5. the shape rules that ran -------------------------------------------------------------
def test_check_note_lists_the_rules_that_ran(nightly: tuple[Path, str]) -> None:
    _, html = nightly
    sec = text(section(html, "basket_xva"))
    note = ("long put: 3 rules (value ≥ 0; delta spot_0 ≤ 0; delta spot_1 ≤ 0); convexity not "
            "checked; XVA: price bounds not checked")
    assert note in sec and "signs and convexity" not in sec
    # the pipeline writes such a note from the rules themselves: a worst-of call is not convex
    x = np.full((4, 2), 100.0)
    model = {"type": "BlackScholesBasket", "vols": [0.25, 0.35]}
    rules, written = shape_rules(model, {"type": "WorstOf", "strike": 100.0, "maturity": 0.5,
                                         "kind": "call"}, ["spot_0", "spot_1"], x, NIGHTLY_XVA)
    assert written == note.replace("put", "call").replace("≤", "≥")
    assert [r.name for r in rules] == ["value ≥ 0", "delta spot_0 ≥ 0", "delta spot_1 ≥ 0"]
    # the worst-of put is convex in each spot: its note lists the gamma rules
    rules, written = shape_rules(model, {"type": "WorstOf", "strike": 100.0, "maturity": 0.5,
                                         "kind": "put"}, ["spot_0", "spot_1"], x, NIGHTLY_XVA)
    assert written == ("long put: 5 rules (value ≥ 0; delta spot_0 ≤ 0; delta spot_1 ≤ 0; "
                       "convex in spot_0 (gamma ≥ 0); convex in spot_1 (gamma ≥ 0)); XVA: price "
                       "bounds not checked")


def test_check_note_groups_many_rules() -> None:
    rules, note = shape_rules({"type": "BachelierBasket"},
                              {"type": "BasketOption", "weights": [1 / 7] * 7, "strike": 1.1,
                               "maturity": 1.0, "kind": "call"},
                              [f"spot_{i}" for i in range(7)], np.ones((3, 7)))
    assert note == ("long call: 15 rules (value ≥ 0; delta sign and bound per spot (7 rules); "
                    "convexity per spot, gamma ≥ 0 (7 rules))")
    assert rules_note("call", rules) == note


# ----- 6. the regression rule follows the baseline ---------------------------------------------
def test_regression_rule_names_the_baseline(nightly: tuple[Path, str], tmp_path: Path) -> None:
    _, html = nightly
    first = text(summary_of(html))
    assert ("Regression tolerance: an error more than ×1.5 its best value over the last 5 runs "
            "of the same name (none found yet: only failures are flagged)") in first
    assert "its previous value" not in first
    run = make_run(tmp_path, fail_worst_of=False)
    for base, expect in (({"kind": "previous", "runs": ["runs/nightly-20261120T020000Z"]},
                          "×2 its previous value (nightly-20261120T020000Z)"),
                         ({"kind": "pinned", "runs": ["runs/release-20261001T000000Z"]},
                          "×2 its value in the pinned run release-20261001T000000Z"),
                         ({"kind": "best", "runs": ["runs/nightly-20261120T020000Z"],
                           "window": 3}, "×2 its best value over the last 3 runs of the same "
                                         "name (1 found)")):
        edit(run, lambda m, b=base: m["run"].update(regression_tolerance=2.0, baseline=b))
        assert expect in text(summary_of(build_report(run, tolerance=2.0).read_text()))


# ----- 7. wide baskets: every column says what it is -------------------------------------------
def test_wide_basket_columns_name_greek_scaling_and_worst_input(tmp_path: Path) -> None:
    from tests.evaluation.report_fixture import _curve, _summary

    run = make_run(tmp_path, fail_worst_of=False)
    names = [f"spot_{i}" for i in range(7)]
    m = json.loads((run / "metrics.json").read_text())
    sc = json.loads(json.dumps(m["scenarios"]["bs_call"]))
    sc.update(inputs=names, label="Bachelier basket, 7 assets")
    sc["learning_curve"] = _curve(0.01, 1.0, np.random.default_rng(0), names)
    for e in sc["learning_curve"]:
        e["gamma_rmse"] = {n: 0.01 * (1 + i) for i, n in enumerate(names)}
    sc["summary"] = _summary(sc["learning_curve"])
    sc["mc_noise"] = {"value_std": 0.1, "delta_std": [0.3] * 7}
    sc.pop("hedging")
    m["scenarios"]["bachelier7"] = sc
    (run / "metrics.json").write_text(json.dumps(m))
    rng = np.random.default_rng(1)
    x = rng.uniform(0.8, 1.2, (80, 7))
    ref, grad, gam = x.mean(axis=1), np.full((80, 7), 1 / 7), np.full((80, 7), 0.5)
    err = np.linspace(0.001, 0.007, 7)  # spot_6 worst, for deltas and gammas
    np.savez(run / "arrays" / "bachelier7.npz", x_test=x, ref_price=ref, ref_grad=grad,
             ref_gamma=gam, pred_price_differential=ref + 0.001,
             pred_grad_differential=grad + err, pred_gamma_differential=gam + err)
    html = build_report(run).read_text(encoding="utf-8")
    sec = section(html, "bachelier7")
    tables = sec.split("<h3>Provenance</h3>")[0]
    heads = text(tables)
    assert heads.count("delta ×100, worst of 7 inputs by RMSE") == 2  # both tables
    assert heads.count("gamma, worst of 7 spots (not ×100)") == 2
    # test set: the worst input named, with its relative error (0.007 / (1/7) = 4.9 %); the
    # worst gamma (spot_6) shown, not only spot_0 to spot_3
    assert '<td class="num">spot_6: 0.7 (4.9 %)</td>' in tables
    assert '<td class="num">spot_6: 0.007</td>' in tables
    assert "gamma (spot_0)" not in tables
    # learning curves: the worst gamma input named in every cell
    assert '<td class="num">spot_6: 0.07</td>' in tables
    assert "the delta panel pools the 7 inputs" in text(sec)
    assert "Inputs are never pooled in the summary and the tables" in text(summary_of(html))
    fig = plots.learning_curve_figure(learning_curve_summary(sc["learning_curve"]), names)
    assert fig.axes[1].get_title() == "delta, pooled: RMS over 7 inputs"


# ----- 8. captions derived from what is drawn --------------------------------------------------
def test_collar_captions(nightly: tuple[Path, str]) -> None:
    _, html = nightly
    sec = text(section(html, "bs_call"))
    assert ("Training loss per term against the optimiser step (loss: the total; spot_min: the "
            "residual on the face spot_min (reduced PDE); spot_max: the residual on the face "
            "spot_max (reduced PDE); pde: the PDE residual at interior points)") in sec
    assert "interior residual, boundary, initial condition" not in sec
    assert "gradient (delta) -3.90" in sec and "[, vega]" not in sec
    assert ("against the FD cross-check; the PINN itself is this scenario's reference, at the "
            "test points") in sec
    assert "compared with FD: the cross-check (the PINN itself is the scenario's reference)" in sec
    assert ("Sell the option at its risk-free closed-form value (no XVA: the value the "
            "surrogates learn, not the scenario's risky PINN reference)") in sec
    assert "risk-free closed-form deltas" in sec and "at the reference price" not in sec


# ----- 9. stage times, one seed, PINN state names ----------------------------------------------
def test_stage_times_single_seed_and_state_names(nightly: tuple[Path, str]) -> None:
    _, html = nightly
    sec = text(section(html, "bs_call"))
    assert ("The PINN is this scenario's reference: its training (93.2 s) is counted in "
            "reference (s); pinn (s) is only its comparison with the FD cross-check.") in sec
    assert "lines: one seed, sd n/a (1 seed: no band)" in sec and "±1 sd" not in sec
    assert "One seed: its values, sd n/a (1 seed)" in sec
    # three seeds elsewhere: mean and sd as before
    assert "bands: ±1 sd" in text(section(html, "basket_xva"))
    prov = text(html.split('<section id="provenance">')[1])
    assert "seconds summed over scenarios and workers" in prov
    total = 2.9 + 99.6 + 49.5 + 78.4 + 28.2
    assert (f"summed over the run's 3 scenarios (they ran in parallel on 2 Dask workers): "
            f"{total:.1f} s in all, while the run took 3 min 12 s of wall time") in prov
    faces = text(section(html, "basket_xva"))
    assert ("the PINN's own state names, in input order: spot_1 = input spot_0, spot_2 = input "
            "spot_1") in faces


# ----- the labels' bias against the reference (mc_noise.bias) ------------------------------------
def _with_bias(tmp_path: Path, value_z: float, greek_z: float) -> str:
    run = make_run(tmp_path, fail_worst_of=False)

    def add(m: dict[str, Any]) -> None:
        sc = m["scenarios"]["bs_call"]
        sc["mc_noise"]["bias"] = {
            "value": {"n": 2000, "mean": 0.002 * value_z, "standard_error": 0.002,
                      "z": value_z},
            "greek": {"spot": {"n": 2000, "mean": 0.01 * greek_z, "standard_error": 0.01,
                               "z": greek_z}}}
    edit(run, add)
    return text(section(build_report(run).read_text(encoding="utf-8"), "bs_call"))


def test_unbiased_labels_are_said_to_be(tmp_path: Path) -> None:
    page = _with_bias(tmp_path, 0.7, -1.2)
    assert "Labels against the reference, mean difference ± standard error over 2000 labels" \
        in page
    assert "value ×100 0.14 ± 0.2 (z = 0.7)" in page  # a unit-spot scenario: ×100 as its RMSEs
    assert "surrogate. Labels against" in page  # a sentence of its own
    assert "(z = -1.2)" in page and "no bias beyond the standard error" in page


def test_biased_labels_are_flagged(tmp_path: Path) -> None:
    """Heston's Euler steps at a coarse step: the labels' mean sits many standard errors off."""
    page = _with_bias(tmp_path, 13.9, 0.4)
    assert "(z = 13.9)" in page
    assert "|z| > 4: the labels are biased" in page
    assert "counts in the surrogates' error" in page


def test_a_run_without_the_bias_says_nothing_of_it(tmp_path: Path) -> None:
    run = make_run(tmp_path, fail_worst_of=False)
    page = text(section(build_report(run).read_text(encoding="utf-8"), "bs_call"))
    assert "Labels against the reference" not in page
