"""The backward step: a tiny Black-Scholes forward netting set under XVA through the flow
(metrics, arrays, report section), its cache on a second run, and config refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import ConfigError, load_config
from pipeline.flows import run_config

runner = CliRunner()


def _forward_scenario(**overrides) -> dict:
    """A long forward (K = 100, T = 0.5) under XVA: two-signed, so the FD is the reference."""
    sc = {"id": "fwd", "label": "forward netting set under XVA",
          "model": {"type": "BlackScholes", "vol": 0.2, "rate": 0.03},
          "product": {"type": "NettingSet", "maturity": 0.5,
                      "legs": [{"kind": "forward", "strike": 100.0, "quantity": 1.0}]},
          "sampler": {"type": "UniformSampler", "low": 60.0, "high": 150.0},
          "xva": {"type": "XVA", "lambda_b": 0.03, "lambda_c": 0.06, "recovery_b": 0.4,
                  "recovery_c": 0.4},
          "training": {"sizes": [256], "modes": ["differential"], "seeds": [0], "epochs": 2},
          "test": {"n": 30, "low": 70.0, "high": 140.0},
          "reference": {"method": "fd", "fd": {"n_space": 200, "n_time": 50}},
          "backward": {"dates": 4, "paths_per_date": 1024,
                       "regressor": {"epochs": 5, "hidden_units": 12},
                       "exposure": {"paths": 4096}}}
    sc.update(overrides)
    return sc


def _write(tmp_path: Path, *scenarios: dict) -> Path:
    raw = {"name": "backward", "seed": 5, "output_root": str(tmp_path / "runs"),
           "dataset_root": str(tmp_path / "datasets"),
           "dask": {"n_workers": 1, "threads_per_worker": 1}, "scenarios": list(scenarios)}
    path = tmp_path / "backward.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _run(path: Path) -> tuple[Path, dict]:
    cfg = load_config(path)
    result = run_config(cfg, json.loads(cfg.model_dump_json()))
    assert result["status"] == "ok", result["failures"]
    run_dir = Path(result["run_dir"])
    return run_dir, json.loads((run_dir / "metrics.json").read_text())["scenarios"]["fwd"]


def test_backward_runs_through_the_flow_and_reuses_its_cache(harness, tmp_path, monkeypatch):
    path = _write(tmp_path, _forward_scenario())
    run_dir, sc = _run(path)
    bw = sc["backward"]
    assert bw["xva"] is True and bw["reused"] is False and bw["compared_with"] == "fd"
    rows = {r["key"]: r for r in bw["rows"]}
    assert list(rows) == ["backward", "fd", "risk_free", "surrogate", "linear_positive",
                          "linear_negative", "split", "cva_dva"]
    # the free sign-split approximation is the better free one on a forward
    split = rows["split"]["vs"]["fd"]["value_relative"]
    assert split < min(rows[k]["vs"]["fd"]["value_relative"]
                       for k in ("linear_positive", "linear_negative")) / 3
    # the scenario's own differential surrogate (risk-free), against the same risky FD
    assert set(rows["surrogate"]["vs"]) == {"fd"}
    assert math.isfinite(rows["surrogate"]["vs"]["fd"]["value_relative"])
    for key in ("backward", "risk_free", "linear_positive", "linear_negative"):
        e = rows[key]["vs"]["fd"]
        assert math.isfinite(e["value_relative"]) and math.isfinite(e["log10_rel_l2"])
        assert set(e["greek_relative"]) == {"spot"}
    assert rows["fd"]["vs"] == {}  # the reference is not scored against itself
    # the flat errors the regression gate tracks are the backward row's against the FD
    from evaluation.trend import expand_metric, get_metric

    assert bw["errors"]["value_rmse"] == rows["backward"]["vs"]["fd"]["value_rmse"]
    assert expand_metric("backward.errors.greek_rmse.*", sc) == [
        "backward.errors.greek_rmse.spot"]
    assert get_metric(sc, "backward.errors.greek_rmse.spot") == \
        rows["backward"]["vs"]["fd"]["greek_rmse"]["spot"]
    assert rows["cva_dva"]["today_only"] is True
    assert math.isfinite(rows["cva_dva"]["vs"]["fd"]["value_relative"])
    # a forward takes both signs: neither linear approximation is exact
    assert rows["linear_positive"]["exact"] is False and rows["linear_negative"]["exact"] is False
    assert [h["date"] for h in bw["history"]] == [0, 1, 2, 3]
    ex = bw["exposure"]
    assert ex["state"] == [105.0] and ex["paths"] == 4096 and ex["quantile"] == 0.975
    assert ex["cva"] > 0 and ex["dva"] > 0
    se = ex["standard_errors"]
    assert set(se) == {"cva", "dva", "fva", "first_order_adjustment"}
    assert 0 < se["cva"] < 0.1 * ex["cva"] and 0 < se["dva"] < 0.1 * ex["dva"]
    assert ex["today"]["reference_method"] == "fd"
    assert sc["stage_seconds"]["backward"] > 0
    assert (run_dir / "models" / "fwd-backward" / "surrogate.json").is_file()
    assert (run_dir / "models" / "fwd-backward-risk-free" / "surrogate.json").is_file()
    assert sc["models"]["backward"] == "models/fwd-backward"
    assert sc["models"]["backward_risk_free"] == "models/fwd-backward-risk-free"

    arrays = np.load(run_dir / "arrays" / "fwd.npz")
    n = len(arrays["x_test"])
    assert arrays["backward_price"].shape == (n,) and arrays["backward_grad"].shape == (n, 1)
    np.testing.assert_allclose(arrays["backward_ref_price"], arrays["ref_price"] if "xva_risky"
                               not in arrays else arrays["xva_risky"])
    times = arrays["backward_exposure_times"]
    np.testing.assert_allclose(times, np.linspace(0.0, 0.5, 5))
    for k in ("epe", "ene", "epe_se", "ene_se", "pfe", "mean"):
        assert arrays[f"backward_exposure_{k}"].shape == times.shape
    assert np.all(arrays["backward_exposure_epe"] >= 0)
    assert np.all(arrays["backward_exposure_ene"] <= 0)

    html = (run_dir / "report.html").read_text()
    assert 'id="s0-backward"' in html and "Backward regression: risky (XVA) value" in html
    assert "backward regression (risky)" in html and "FD (risky, reference)" in html
    assert "V_rf − CVA + DVA − FVA (risk-free close-out, today&#39;s state only)" in html
    assert 'alt="exposure profile for fwd" src="data:image/png;base64,' in html
    assert 'alt="backward risky value for fwd" src="data:image/png;base64,' in html
    assert "Report warnings" not in html

    # second run: both surrogates come from the cache, nothing is trained
    from training import backward

    def boom(*args, **kwargs):
        raise AssertionError("training.backward.solve called on a cached surrogate")

    monkeypatch.setattr(backward, "solve", boom)
    _, again = _run(path)
    assert again["backward"]["reused"] is True
    assert again["backward"]["exposure"]["risk_free_reused"] is True
    assert again["backward"]["rows"][0]["vs"] == bw["rows"][0]["vs"]
    assert again["backward"]["exposure"]["cva"] == ex["cva"]


def test_a_risk_free_backward_block_is_allowed(tmp_path):
    sc = _forward_scenario(xva=None, product={"type": "European", "strike": 100.0,
                                              "maturity": 0.5, "kind": "call"},
                           reference={"method": "analytic"})
    cfg = load_config(_write(tmp_path, sc))
    assert cfg.scenario("fwd").backward.dates == 4


@pytest.mark.parametrize("block, fragment", [
    ({"dates": 0}, "scenarios.<fwd>.backward.dates: Input should be greater than or equal to 1"),
    ({"paths_per_date": 3_000_000},
     "scenarios.<fwd>.backward.paths_per_date: Input should be less than or equal to 2000000"),
    ({"scheme": "euler"}, "scenarios.<fwd>.backward.scheme"),
    ({"regressor": {"activation": "relu"}},
     "scenario 'fwd', field 'backward.regressor.activation': must be a known key"),
    ({"regressor": {"hidden_layers": 0}},
     "scenario 'fwd', field 'backward.regressor.hidden_layers': must be an integer in [1, 32]"),
    ({"exposure": {"quantile": 1.0}}, "scenarios.<fwd>.backward.exposure.quantile"),
    ({"exposure": {"state": [0.0]}},
     "scenario 'fwd', field 'backward.exposure.state': (spot) must be > 0"),
])
def test_bad_backward_blocks_are_refused_with_one_line(tmp_path, block, fragment):
    path = _write(tmp_path, _forward_scenario(backward=block))
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert fragment in lines[0], lines[0]


def test_the_pinn_row_reads_the_pinn_steps_arrays_in_state_order():
    """Beside another reference the PINN comes from the PINN step's arrays: delta per spot,
    Heston's dV/dvariance from pinn_vega; a failed PINN step gives no row."""
    import simulators as sim
    from pipeline.backward_step import _pinn_values

    n = 5
    ref = {"method": "analytic", "price": np.zeros(n), "grad": np.zeros((n, 1))}
    bs = sim.BlackScholes(vol=0.2)
    pinn = {"arrays": {"pinn_price": np.arange(n, dtype=float), "pinn_delta": np.ones(n)},
            "metrics": {"train_seconds": 3.5}}
    price, grad, seconds = _pinn_values(ref, pinn, bs, n)
    np.testing.assert_array_equal(price, np.arange(n))
    assert grad.shape == (n, 1) and seconds == 3.5
    heston = sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.7)
    pinn["arrays"]["pinn_vega"] = np.full(n, 2.0)
    _, grad, _ = _pinn_values(ref, pinn, heston, n)
    np.testing.assert_array_equal(grad, np.column_stack([np.ones(n), np.full(n, 2.0)]))
    assert _pinn_values(ref, None, bs, n) is None
    as_reference = {"method": "pinn", "price": np.ones(n), "grad": np.ones((n, 1)),
                    "pinn": {"train_seconds": 7.0}}
    assert _pinn_values(as_reference, None, bs, n)[2] == 7.0


def test_a_crank_nicolson_step_too_long_for_the_spreads_is_refused_at_validation(tmp_path):
    """dates 1 over T = 0.5 with b = (1 - R_C) lambda_C + (1 - R_B) lambda_B = 2:
    (1 - theta) dt b = 0.5 > 0.25."""
    sc = _forward_scenario()
    sc["xva"] = {"type": "XVA", "lambda_b": 1.0, "lambda_c": 1.0, "recovery_b": 0.0,
                 "recovery_c": 0.0}
    sc["backward"]["dates"] = 1
    path = _write(tmp_path, sc)
    with pytest.raises(ConfigError, match=r"field 'backward.dates': must be at least 2 equal "
                                          r"dates for the crank_nicolson scheme"):
        load_config(path)


def test_split_values_are_the_discounted_call_minus_put_of_a_forward(tmp_path):
    """P and N of the forward S - K are the call and the put at K: the row's value is
    e^{-c+ T} C - e^{-c- T} P by the Black-Scholes formula (price and delta)."""
    import evaluation.analytic as an
    from pipeline.backward_step import _split_values

    cfg = load_config(_write(tmp_path, _forward_scenario()))
    scenario = cfg.scenarios[0]
    objs = scenario.objects()
    model, xva = objs["model"], objs["xva"]
    x = np.linspace(60.0, 150.0, 7)[:, None]
    price, grad, _ = _split_values(scenario, objs, x)
    k, t = objs["product"].legs[0].strike, objs["product"].maturity
    common = dict(strike=k, maturity=t, vol=model.vol, rate=model.rate)
    c = an.black_scholes_greeks(x[:, 0], kind="call", **common)
    p = an.black_scholes_greeks(x[:, 0], kind="put", **common)
    fp, fn = np.exp(-xva.spread_positive * t), np.exp(-xva.spread_negative * t)
    np.testing.assert_allclose(price, fp * c.price - fn * p.price, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad[:, 0], fp * c.delta - fn * p.delta, rtol=1e-12,
                               atol=1e-12)


def _objs(tmp_path, **overrides):
    cfg = load_config(_write(tmp_path, _forward_scenario(**overrides)))
    scenario = cfg.scenarios[0]
    return scenario, scenario.objects()


def _lognormal_split(objs, x, payoff):
    """e^{-c+ T} E[D g+] - e^{-c- T} E[D g-] by the trapezoidal rule in the normal shock (a
    fine grid: the parts have kinks, where Gauss-Hermite converges slowly)."""
    model, xva, t = objs["model"], objs["xva"], objs["product"].maturity
    z = np.linspace(-12.0, 12.0, 240_001)
    w = np.exp(-0.5 * z * z) * (z[1] - z[0]) / np.sqrt(2.0 * np.pi)
    s_t = x[:, :1] * np.exp((model.rate - 0.5 * model.vol ** 2) * t
                            + model.vol * np.sqrt(t) * z[None, :])
    g = payoff(s_t)
    disc = np.exp(-model.rate * t)
    return (np.exp(-xva.spread_positive * t) * disc * (np.maximum(g, 0) @ w)
            - np.exp(-xva.spread_negative * t) * disc * (np.maximum(-g, 0) @ w))


def test_split_values_with_a_bond_and_basket_legs_on_one_asset(tmp_path):
    """A collar plus a forward (its positive part holds a bond), and a netting set of basket
    legs on one asset (priced as the asset legs they are; they failed in the FD fallback),
    against quadrature of the payoff's positive and negative parts."""
    from pipeline.backward_step import _split_values

    x = np.linspace(60.0, 150.0, 7)[:, None]
    cases = [
        ([{"kind": "call", "strike": 110.0, "quantity": 1.0},
          {"kind": "put", "strike": 90.0, "quantity": -1.0},
          {"kind": "forward", "strike": 100.0, "quantity": 1.0}],
         lambda s: np.maximum(s - 110, 0) - np.maximum(90 - s, 0) + (s - 100)),
        ([{"kind": "forward", "strike": 100.0, "quantity": 1.0},
          {"kind": "call", "strike": 50.0, "quantity": -1.0, "underlying": "basket",
           "weights": [2.0]}],
         lambda s: (s - 100) - np.maximum(2 * s - 50, 0)),
    ]
    for legs, payoff in cases:
        product = {"type": "NettingSet", "maturity": 1.0, "legs": legs}
        scenario, objs = _objs(tmp_path, product=product)
        price, grad, _ = _split_values(scenario, objs, x)
        np.testing.assert_allclose(price, _lognormal_split(objs, x, payoff), rtol=1e-6,
                                   atol=1e-6)
        assert grad.shape == (len(x), 1) and np.isfinite(grad).all()


def test_split_values_for_two_assets_heston_and_a_plain_forward(tmp_path):
    """Shapes of the two-asset and Heston rows (a column per input), a plain European forward
    as a one-leg netting set (its split is the call and the put), and no row for legs on
    different aggregates (no exact parts there)."""
    import evaluation.analytic as an
    from pipeline.backward_step import _split_values

    scenario, objs = _objs(tmp_path, product={"type": "European", "strike": 100.0,
                                              "maturity": 1.0, "kind": "forward"})
    x = np.linspace(60.0, 150.0, 5)[:, None]
    price, _, _ = _split_values(scenario, objs, x)
    model, xva = objs["model"], objs["xva"]
    common = dict(strike=100.0, maturity=1.0, vol=model.vol, rate=model.rate)
    expected = (np.exp(-xva.spread_positive) * an.black_scholes(x[:, 0], kind="call", **common)
                - np.exp(-xva.spread_negative) * an.black_scholes(x[:, 0], kind="put", **common))
    np.testing.assert_allclose(price, expected, rtol=1e-12, atol=1e-12)
    heston = {"type": "Heston", "kappa": 1.5, "theta": 0.04, "xi": 0.3, "rho": -0.7,
              "rate": 0.03}
    scenario, objs = _objs(tmp_path, model=heston,
                           sampler={"type": "UniformSampler", "low": [60.0, 0.02],
                                    "high": [150.0, 0.08]},
                           test={"n": 20, "low": [70.0, 0.03], "high": [130.0, 0.07]})
    xh = np.array([[90.0, 0.04], [110.0, 0.05]])
    price, grad, _ = _split_values(scenario, objs, xh)
    assert price.shape == (2,) and grad.shape == (2, 2) and np.isfinite(grad).all()
    basket = {"type": "BlackScholesBasket", "vols": [0.25, 0.35],
              "correlation": [[1.0, 0.5], [0.5, 1.0]], "rate": 0.03}
    mixed = {"type": "NettingSet", "maturity": 1.0,
             "legs": [{"kind": "call", "strike": 100.0, "quantity": 1.0,
                       "underlying": "worst_of"},
                      {"kind": "call", "strike": 100.0, "quantity": -1.0,
                       "underlying": "basket", "weights": [0.5, 0.5]}]}
    two = dict(model=basket, sampler={"type": "UniformSampler", "low": [60.0, 60.0],
                                      "high": [150.0, 150.0]},
               test={"n": 20, "low": [70.0, 70.0], "high": [130.0, 130.0]})
    scenario, objs = _objs(tmp_path, product=mixed, **two)
    assert _split_values(scenario, objs, np.array([[100.0, 100.0]])) is None
    fwd = {"type": "NettingSet", "maturity": 1.0,
           "legs": [{"kind": "forward", "strike": 100.0, "quantity": 1.0,
                     "underlying": "basket", "weights": [0.5, 0.5]}]}
    scenario, objs = _objs(tmp_path, product=fwd, **two)
    price, grad, _ = _split_values(scenario, objs, np.array([[100.0, 100.0], [80.0, 130.0]]))
    assert grad.shape == (2, 2) and np.isfinite(price).all()
