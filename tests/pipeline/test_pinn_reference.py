"""The PINN as a reference: registry problems of netting sets, config checks of two-signed netting
sets under XVA, and a tiny end-to-end run with ``reference: {method: pinn}``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import simulators as sim
from pipeline import registry
from pipeline.cli import app
from pipeline.config import ConfigError, load_config, parse_config
from pipeline.flows import run_config

runner = CliRunner()
L = sim.Leg
XVA = sim.XVA(lambda_b=0.02, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)
BS = sim.BlackScholes(vol=0.25, rate=0.03, dividend=0.01)
BASKET = sim.BlackScholesBasket(vols=[0.25, 0.35], correlation=[[1, 0.5], [0.5, 1]], rate=0.03,
                                dividends=[0.01, 0.02])
HESTON = sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.7, rate=0.03, dividend=0.01)
COLLAR = sim.NettingSet([L("call", 110.0), L("put", 90.0, -1.0)], 1.0)
TWO_ASSET = sim.NettingSet([L("call", 100.0, 1.0, "basket", (0.5, 0.5)),
                            L("put", 90.0, -2.0, "worst_of"), L("call", 120.0, 0.5, "best_of"),
                            L("forward", 95.0, -0.3, "basket", (0.6, 0.4))], 0.75)


@pytest.mark.parametrize("model, product, cls", [
    (BS, COLLAR, "BlackScholesPDE"),
    (HESTON, COLLAR, "HestonPDE"),
    (BASKET, TWO_ASSET, "TwoAssetPDE"),
    (BS, sim.European(100.0, 1.0, "forward"), "BlackScholesPDE"),
    (HESTON, sim.European(100.0, 1.0, "forward"), "HestonPDE"),
    (BASKET, sim.BasketOption([0.5, 0.5], 100.0, 1.0, "forward"), "TwoAssetPDE"),
])
@pytest.mark.parametrize("xva", [None, XVA])
def test_registry_pinn_problems_pay_the_products_payoff(model, product, cls, xva):
    import torch

    problem = registry.pde_problem(model, product, xva)
    assert type(problem).__name__ == cls
    assert problem.xva is xva and problem.maturity == product.maturity
    assert problem.strike == product.strike  # the largest leg strike sets the scale
    assert problem.payoff_sign == product.sign
    spots = np.linspace(1.0, 250.0, 37)
    if len(problem.state_names) == 1:
        states, terminal = spots[:, None], spots[:, None]
    elif problem.state_names == ("spot", "variance"):
        states = np.column_stack([spots, np.full_like(spots, 0.04)])
        terminal = spots[:, None]
    else:
        g1, g2 = np.meshgrid(spots, spots[::-1] * 0.9)
        states = terminal = np.column_stack([g1.ravel(), g2.ravel()])
    got = problem.payoff(torch.as_tensor(states, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(got, product.payoff(terminal), rtol=1e-13, atol=1e-10)


def test_pinn_problems_refuse_inputs_the_pde_does_not_have():
    with pytest.raises(ValueError, match="inputs \\('spot',\\) only"):
        registry.pde_problem(sim.BlackScholes(vol=0.2, inputs=("spot", "vol")), COLLAR, None)


# ---------------------------------------------------------------- config checks
def _collar_scenario(**overrides) -> dict:
    sc = {"id": "collar", "model": {"type": "BlackScholes", "vol": 0.25, "rate": 0.03},
          "product": {"type": "NettingSet", "maturity": 1.0,
                      "legs": [{"kind": "call", "strike": 110.0, "quantity": 1.0},
                               {"kind": "put", "strike": 90.0, "quantity": -1.0}]},
          "sampler": {"type": "UniformSampler", "low": 50.0, "high": 160.0},
          "xva": {"type": "XVA", "lambda_b": 0.02, "lambda_c": 0.05, "recovery_b": 0.4,
                  "recovery_c": 0.4},
          "training": {"sizes": [256], "seeds": [0], "epochs": 3},
          "test": {"n": 30, "low": 60.0, "high": 150.0},
          "reference": {"method": "pinn"},
          "pinn": {"variant": "best", "options": {
              "adam_steps": 20, "lbfgs_iterations": 5, "lstsq_rounds": 1, "width": 8, "depth": 2,
              "num_threads": 1, "collocation": {"type": "UniformGrid", "n_tau": 9,
                                                "n_space": 41}}}}
    sc.update(overrides)
    return sc


def _write(tmp_path: Path, *scenarios: dict) -> Path:
    raw = {"name": "pinnref", "seed": 3, "output_root": str(tmp_path / "runs"),
           "dataset_root": str(tmp_path / "datasets"),
           "dask": {"n_workers": 1, "threads_per_worker": 1}, "scenarios": list(scenarios)}
    path = tmp_path / "pinnref.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_pinn_reference_defaults_to_an_fd_cross_check(tmp_path):
    cfg = load_config(_write(tmp_path, _collar_scenario()))
    assert cfg.scenario("collar").reference.cross_checks == ["fd"]
    again = parse_config(json.loads(cfg.model_dump_json()))  # what the tasks parse
    assert again.scenario("collar").reference.cross_checks == ["fd"]
    explicit = load_config(_write(tmp_path, _collar_scenario(
        reference={"method": "pinn", "cross_checks": []})))
    assert explicit.scenario("collar").reference.cross_checks == []


@pytest.mark.parametrize("override, field, why", [
    ({"reference": {"method": "analytic"}}, "reference.method",
     "two-signed netting set is non-linear and has no closed form; use reference.method 'fd' "
     "or 'pinn'"),
    ({"reference": {"method": "fd", "cross_checks": ["analytic"]}}, "reference.cross_checks",
     "no closed form"),
    ({"pinn": None}, "pinn", "reference.method 'pinn' needs an enabled 'pinn' block"),
])
def test_cli_validate_refuses_what_cannot_run(tmp_path, override, field, why):
    path = _write(tmp_path, _collar_scenario(**override))
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2
    line = res.output.strip()
    assert "\n" not in line
    assert f"scenario 'collar', field '{field}'" in line and why in line


def test_validate_refuses_a_two_signed_netting_set_without_a_pde_reference(tmp_path):
    sc = _collar_scenario(
        model={"type": "BachelierBasket", "vols": [20.0, 30.0],
               "correlation": [[1, 0.3], [0.3, 1]]},
        product={"type": "NettingSet", "maturity": 1.0,
                 "legs": [{"kind": "call", "strike": 110.0, "underlying": "basket",
                           "weights": [0.5, 0.5]},
                          {"kind": "put", "strike": 90.0, "quantity": -1.0,
                           "underlying": "basket", "weights": [0.5, 0.5]}]},
        sampler={"type": "UniformSampler", "low": [50.0, 50.0], "high": [160.0, 160.0]},
        reference={"method": "analytic"})
    with pytest.raises(ConfigError, match="scenario 'collar', field 'reference.method': .*no PDE "
                                          "reference exists for BachelierBasket with NettingSet"):
        load_config(_write(tmp_path, sc))


def test_one_signed_netting_sets_under_xva_keep_the_closed_form(tmp_path):
    long_only = _collar_scenario(reference={"method": "analytic"}, pinn=None)
    long_only["product"] = {"type": "NettingSet", "maturity": 1.0,
                            "legs": [{"kind": "call", "strike": 110.0},
                                     {"kind": "put", "strike": 90.0}]}
    assert load_config(_write(tmp_path, long_only)).scenario("collar").reference.method == \
        "analytic"


# ---------------------------------------------------------------- end to end
def test_pinn_reference_runs_end_to_end(harness, tmp_path):
    path = _write(tmp_path, _collar_scenario())
    cfg = load_config(path)
    result = run_config(cfg, json.loads(cfg.model_dump_json()))
    assert result["status"] == "ok", result["failures"]
    run_dir = Path(result["run_dir"])
    sc = json.loads((run_dir / "metrics.json").read_text())["scenarios"]["collar"]
    ref = sc["reference"]
    assert ref["method"] == "pinn"
    assert ref["surrogate"] == {"method": "analytic", "risk_free": True}
    fd = ref["cross_checks"]["fd"]  # the FD cross-check of the PINN reference
    assert math.isfinite(fd["max_abs_price_diff"])
    assert set(fd["max_abs_greek_diff"]) == {"spot"}  # per input, named
    assert math.isfinite(fd["max_abs_greek_diff"]["spot"])
    assert math.isfinite(fd["greek_rmse"]["spot"])
    pinn = sc["pinn"]
    assert pinn["reference"] is True and pinn["compared_with"] == "fd"
    assert pinn["base"] == "risk_free" and set(pinn["faces"]) == {"spot_min", "spot_max"}
    assert pinn["reused"] is False  # trained by this run's reference step
    assert math.isfinite(pinn["log10_rel_l2"])
    assert {"price", "delta", "gamma", "by_tau"} <= set(pinn["vs_fd"])
    assert [r["tau"] for r in pinn["vs_fd"]["by_tau"]] == [0.25, 0.5, 0.75, 1.0]
    # how far the training got, for the report's status line (20 Adam + 5 L-BFGS, 1 round)
    assert pinn["planned_steps"] == 25 and pinn["planned_lstsq_rounds"] == 1
    assert 0 < pinn["steps"] <= 25 and pinn["lstsq_rounds"] in (0, 1)
    assert pinn["time_limit"] is None
    # the surrogate learned the risk-free value: its data were simulated without the XVA
    assert sc["parameters"]["xva"] is not None
    manifest = json.loads((Path(sc["dataset"]["path"]) / "_manifest.json").read_text())
    assert manifest["xva"] is None
    assert math.isfinite(sc["summary"]["value_rmse"]["differential"]["mean"])

    arrays = np.load(run_dir / "arrays" / "collar.npz")
    import simulators as s

    x = arrays["x_test"][:, 0]
    from pipeline import references as refs

    model = s.BlackScholes(vol=0.25, rate=0.03)
    free = refs.analytic(model, COLLAR, x[:, None])
    np.testing.assert_allclose(arrays["ref_price"], free.price)  # the surrogates' reference
    np.testing.assert_allclose(arrays["xva_risk_free"], free.price)
    np.testing.assert_allclose(arrays["xva_risky"], arrays["pinn_price"])  # risky: the PINN
    np.testing.assert_allclose(arrays["xva_risky_fd"], arrays["fd_price"])
    np.testing.assert_allclose(arrays["pinn_ref_price"], arrays["fd_price"])
    # the recorded cross-check is the PINN against the FD on the test points; even this short
    # training resolves the XVA (FD risky minus risk-free) to a tenth of its size
    diff = np.abs(arrays["pinn_price"] - arrays["fd_price"])
    assert fd["max_abs_price_diff"] == pytest.approx(float(diff.max()), rel=1e-12)
    xva = np.abs(arrays["xva_risky_fd"] - arrays["xva_risk_free"]).max()
    assert fd["max_abs_price_diff"] < 0.1 * xva, (fd["max_abs_price_diff"], xva)
    html = (run_dir / "report.html").read_text()
    assert "PINN vs FD" in html and "risk_free" in html and "XVA: risky vs risk-free" in html
    assert f"of 25 gradient steps (Adam + L-BFGS); {pinn['lstsq_rounds']} of 1 least-squares" \
        in html
