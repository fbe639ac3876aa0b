"""Reuse of parametric PINNs by the pipeline's PINN step (pipeline.pinn_step): inside the saved
ranges no optimizer step is taken, outside them training starts from the saved weights, a
residual above the threshold on today's slice trains again, and the scenario's ``pinn`` info
says which happened."""

from __future__ import annotations

import json
import math

import pytest
import torch

from pipeline import pinn_step
from pipeline.config import ConfigError, parse_config
from training.pinn import PINNSolution
from training.pinn.solver import PINNSolver

OPTIONS = {"adam_steps": 15, "lbfgs_iterations": 10, "lstsq_rounds": 1, "width": 8, "depth": 2,
           "num_threads": 1, "collocation": {"type": "UniformGrid", "n_tau": 6, "n_space": 21}}


def _scenario(vol=0.25, lambda_b=0.05, ranges=None, threshold=1.0, **parametric):
    block = {"ranges": ranges or {"vol": [0.2, 0.3], "lambda_b": [0.0, 0.1]}, "copies": 2,
             "residual_threshold": threshold, **parametric}
    sc = {"id": "put", "model": {"type": "BlackScholes", "vol": vol, "rate": 0.03},
          "product": {"type": "European", "strike": 100.0, "maturity": 1.0, "kind": "put"},
          "sampler": {"type": "UniformSampler", "low": 50.0, "high": 160.0},
          "xva": {"type": "XVA", "lambda_b": lambda_b, "lambda_c": 0.05, "recovery_b": 0.4,
                  "recovery_c": 0.4},
          "training": {"sizes": [256], "seeds": [0], "epochs": 3},
          "test": {"n": 20, "low": 60.0, "high": 150.0},
          "reference": {"method": "analytic"},
          "pinn": {"variant": "best", "options": OPTIONS, "parametric": block}}
    raw = {"name": "reuse", "seed": 3, "output_root": "runs", "dataset_root": "datasets",
           "scenarios": [sc]}
    return parse_config(raw).scenario("put")


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / "runs" / "night-1"
    d.mkdir(parents=True)
    return d


def _entries(run_dir):
    return sorted((run_dir.parent / ".cache" / "pinn").glob("*/family.json"))


def _no_steps(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an optimizer step was taken")

    monkeypatch.setattr(torch.optim.Adam, "step", refuse)
    monkeypatch.setattr(torch.optim.LBFGS, "step", refuse)


def test_inside_the_saved_ranges_no_optimizer_step_is_taken(run_dir, monkeypatch):
    first, info = pinn_step.trained(_scenario(), run_dir)
    assert info["reuse"] == "cold" and info["reused"] is False
    assert info["parameter_ranges"] == {"vol": [0.2, 0.3], "lambda_b": [0.0, 0.1]}
    assert math.isfinite(info["slice_residual"]) and info["threshold_met"] is True
    assert len(_entries(run_dir)) == 1

    _no_steps(monkeypatch)
    today = _scenario(vol=0.27, lambda_b=0.08)  # moved, but inside [0.2, 0.3] x [0, 0.1]
    sol, info = pinn_step.trained(today, run_dir)
    assert info["reuse"] == "inside" and info["reused"] is True
    assert info["slice_residual"] <= info["residual_threshold"]
    assert sol.problem.nominal() == {"vol": 0.27, "lambda_b": 0.08}  # priced at today's values
    x = [[90.0], [100.0]]
    assert sol.price(x).tolist() == first.price(x, params={"vol": 0.27,
                                                            "lambda_b": 0.08}).tolist()
    # the report-facing metrics of the step carry the same facts
    ref = pinn_step.evaluate(sol, __import__("numpy").array(x))
    assert ref.grad.shape == (2, 1)  # spot delta only: parameter Greeks are not spot Greeks
    assert len(_entries(run_dir)) == 1


def test_outside_the_saved_ranges_training_starts_from_the_saved_weights(run_dir,
                                                                         monkeypatch):
    first, _ = pinn_step.trained(_scenario(), run_dir)
    saved_dir = _entries(run_dir)[0].parent
    saved = PINNSolution.load(saved_dir).model.state_dict()
    seen = {}
    build = PINNSolver._build_model

    def spy(self):
        model = build(self)
        seen["initial"] = {k: t.detach().clone() for k, t in model.state_dict().items()}
        seen["config"] = self.config
        return model

    monkeypatch.setattr(PINNSolver, "_build_model", spy)
    sol, info = pinn_step.trained(_scenario(vol=0.34), run_dir)  # vol above [0.2, 0.3]
    assert info["reuse"] == "warm_start" and info["reused"] is False
    assert info["warm_start_from"] == saved_dir.name
    for k, t in saved.items():
        torch.testing.assert_close(seen["initial"][k], t, rtol=0, atol=0)
    assert seen["config"].adam_steps == 0  # the default warm-start overrides
    assert seen["config"].lbfgs_iterations == OPTIONS["lbfgs_iterations"]
    low, high = info["parameter_ranges"]["vol"]
    assert low < 0.34 < high and high - low == pytest.approx(0.1)
    assert sol.stats["warm_start"] is True
    assert len(_entries(run_dir)) == 2
    meta = json.loads(_entries(run_dir)[0].read_text())
    assert {"family", "ranges", "nominal"} <= set(meta)


def test_a_residual_above_the_threshold_trains_again(run_dir):
    pinn_step.trained(_scenario(), run_dir)
    sol, info = pinn_step.trained(_scenario(vol=0.22, threshold=1e-12), run_dir)
    assert info["reuse"] == "warm_start" and info["threshold_met"] is False
    # trained for exactly today's values, so a third run uses it whatever its residual
    _, again = pinn_step.trained(_scenario(vol=0.22, threshold=1e-12), run_dir)
    assert again["reuse"] == "inside" and again["threshold_met"] is False


def test_the_scenarios_pinn_metrics_state_how_the_pinn_was_obtained(run_dir):
    import numpy as np

    from pipeline import references as refs

    def step(scenario):
        objs = scenario.objects()
        x = np.linspace(70.0, 130.0, 7)[:, None]
        ref = refs.analytic(objs["model"], objs["product"], x, objs["xva"])
        return pinn_step.run(None, scenario, {"method": "analytic", "x": x, "price": ref.price,
                                              "grad": ref.grad}, run_dir)

    first = step(_scenario())["metrics"]
    assert first["reuse"] == "cold" and first["reused"] is False
    again = step(_scenario(vol=0.21, lambda_b=0.02))
    m = again["metrics"]
    assert m["reuse"] == "inside" and m["reused"] is True and m["threshold_met"] is True
    assert math.isfinite(m["slice_residual"]) and m["slice_residual"] <= m["residual_threshold"]
    assert m["parameter_ranges"] == {"vol": [0.2, 0.3], "lambda_b": [0.0, 0.1]}
    assert math.isfinite(m["log10_rel_l2"])  # scored at today's parameters
    assert set(again["arrays"]) >= {"pinn_price", "pinn_delta", "pinn_sens_vol",
                                    "pinn_sens_lambda_b"}
    json.dumps(m)  # report-ready


def test_families_do_not_mix(run_dir):
    pinn_step.trained(_scenario(), run_dir)
    _, info = pinn_step.trained(_scenario(ranges={"vol": [0.2, 0.3]}), run_dir)
    assert info["reuse"] == "cold"  # other declared parameters: another family


def test_the_config_refuses_parameters_the_problem_does_not_declare():
    with pytest.raises(ConfigError, match="scenario 'put', field 'pinn.parametric': The "
                                          "'parameters' parameter of BlackScholesPDE must be "
                                          "among"):
        _scenario(ranges={"kappa": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="warm_start"):
        _scenario(warm_start={"width": 3})
    with pytest.raises(ConfigError, match="low < high"):
        _scenario(ranges={"vol": [0.3, 0.2]})
