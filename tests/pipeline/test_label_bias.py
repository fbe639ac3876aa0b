"""The labels' bias against the reference (metrics ``mc_noise.bias``): Monte-Carlo means within
their standard error of the closed form for an exact scheme, and a measured bias where the
scheme has one (Heston's Euler steps) or the labels are off."""

from __future__ import annotations

import math

import numpy as np
import pytest

import simulators as sim
from pipeline.config import parse_config
from pipeline.steps import label_bias, label_noise


def test_label_bias_is_the_mean_difference_with_its_standard_error():
    rng = np.random.default_rng(4)
    ref = rng.uniform(1.0, 2.0, 40_000)
    noise = rng.standard_normal(40_000)
    b = label_bias(ref + noise, ref)
    assert b["n"] == 40_000
    assert b["mean"] == pytest.approx(noise.mean(), abs=1e-12)
    assert b["standard_error"] == pytest.approx(noise.std(ddof=1) / 200.0, rel=1e-12)
    assert abs(b["z"]) < 4.0
    shifted = label_bias(ref + noise + 0.05, ref)  # 0.05 = 10 standard errors
    assert shifted["z"] == pytest.approx(b["z"] + 0.05 / b["standard_error"], rel=1e-9)
    assert shifted["z"] > 6.0


def _scenario(model: dict, product: dict, sampler: dict):
    raw = {"name": "bias", "seed": 1, "scenarios": [{
        "id": "s", "model": model, "product": product, "sampler": sampler,
        "training": {"sizes": [256], "seeds": [0], "epochs": 1},
        "test": {"n": 10, "low": 80.0, "high": 120.0}}]}
    return parse_config(raw).scenarios[0]


def _labels(scenario, n: int, seed: int = 11):
    objs = scenario.objects()
    s = sim.simulate(objs["model"], objs["product"], objs["sampler"], seed=seed, n_paths=n)
    return s.x, s.y, s.dydx


def test_black_scholes_labels_are_unbiased_against_the_closed_form():
    """Exact lognormal step: value and pathwise-delta means within 4 standard errors."""
    sc = _scenario({"type": "BlackScholes", "vol": 0.25, "rate": 0.03},
                   {"type": "European", "strike": 100.0, "maturity": 1.0, "kind": "call"},
                   {"type": "UniformSampler", "low": [70.0], "high": [130.0]})
    out = label_noise(sc, *_labels(sc, 200_000))
    assert abs(out["bias"]["value"]["z"]) < 4.0
    assert abs(out["bias"]["greek"]["spot"]["z"]) < 4.0
    assert out["bias"]["value"]["standard_error"] == pytest.approx(
        out["value_std"] / math.sqrt(200_000), rel=0.01)


@pytest.mark.slow  # about 2 minutes: the characteristic-function reference at 400,000 states
def test_heston_euler_bias_is_measured_at_a_coarse_step():
    """Two Euler steps a year leave a bias far above the standard error of 200,000 labels
    (measured: 0.35, z = 14); the nightly's 64 steps a year leave one that 200,000 labels
    cannot resolve (|z| < 4)."""
    def heston(steps: int):
        return _scenario({"type": "Heston", "kappa": 1.5, "theta": 0.04, "xi": 0.3, "rho": -0.9,
                          "rate": 0.025, "steps_per_year": steps},
                         {"type": "European", "strike": 100.0, "maturity": 1.0, "kind": "put"},
                         {"type": "UniformSampler", "low": [80.0, 0.03], "high": [120.0, 0.05]})
    coarse = label_noise(heston(2), *_labels(heston(2), 200_000))["bias"]["value"]
    fine = label_noise(heston(64), *_labels(heston(64), 200_000))["bias"]["value"]
    assert abs(coarse["z"]) > 8.0
    assert abs(fine["z"]) < 4.0
