"""Canonical JSON, the content hash and DatasetSpec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import data
import simulators as sim
from tests.data._helpers import basket_spec, bs_spec

REPO = Path(__file__).resolve().parents[2]


def test_canonical_json_sorted_compact_exact_floats():
    text = data.canonical_json({"b": (1, 2.5), "a": {"y": np.float64(0.1), "x": np.int64(3)}})
    assert text == '{"a":{"x":3,"y":0.1},"b":[1,2.5]}'
    # floats are written exactly: 0.1 + 0.2 is not 0.3, and round-trips
    assert data.canonical_json(0.1 + 0.2) == "0.30000000000000004"
    assert json.loads(data.canonical_json(1 / 3)) == 1 / 3
    assert data.content_hash({"a": 1, "b": 2}) == data.content_hash({"b": 2, "a": 1})


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_canonical_json_refuses_non_finite(bad):
    with pytest.raises(ValueError, match="not finite"):
        data.canonical_json({"vol": bad})


def test_hash_stable_across_processes():
    spec = basket_spec()
    code = ("from tests.data._helpers import basket_spec, bs_spec; "
            "print(bs_spec().hash); print(basket_spec().hash)")
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == [bs_spec().hash, spec.hash]
    assert len(spec.hash) == 64 and spec.hash12 == spec.hash[:12]
    assert spec.dirname == f"basket-{spec.hash12}"


CHANGES = {
    "vol": dict(model=sim.BlackScholes(vol=0.21, rate=0.01)),
    "rate": dict(model=sim.BlackScholes(vol=0.2, rate=0.02)),
    "dividend": dict(model=sim.BlackScholes(vol=0.2, rate=0.01, dividend=0.01)),
    "inputs": dict(model=sim.BlackScholes(vol=0.2, rate=0.01, inputs=("spot", "vol")),
                   sampler=sim.ForwardSampler(spot=1.0, horizon=1.0, vol_mult=1.5,
                                              params={"vol": (0.1, 0.3)})),
    "strike": dict(product=sim.European(strike=1.0, maturity=1.0, kind="call")),
    "maturity": dict(product=sim.European(strike=1.1, maturity=2.0, kind="call")),
    "kind": dict(product=sim.European(strike=1.1, maturity=1.0, kind="put")),
    "sampler_spot": dict(sampler=sim.ForwardSampler(spot=1.01, horizon=1.0, vol_mult=1.5)),
    "horizon": dict(sampler=sim.ForwardSampler(spot=1.0, horizon=0.5, vol_mult=1.5)),
    "vol_mult": dict(sampler=sim.ForwardSampler(spot=1.0, horizon=1.0, vol_mult=1.0)),
    "sampler_type": dict(sampler=sim.UniformSampler(low=[0.5], high=[1.5])),
    "xva": dict(xva=sim.XVA(lambda_b=0.01, lambda_c=0.02)),
    "seed": dict(seed=8),
    "n_paths": dict(n_paths=5001),
    "antithetic": dict(antithetic=True),
    "precision": dict(precision="float32"),
}


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_hash_changes_with_every_parameter(field):
    base = bs_spec()
    assert base.replace(**CHANGES[field]).hash != base.hash


def test_hash_changes_with_xva_parameters():
    base = bs_spec(xva=sim.XVA(lambda_b=0.01, lambda_c=0.02))
    for change in (dict(lambda_b=0.011, lambda_c=0.02), dict(lambda_b=0.01, lambda_c=0.021),
                   dict(lambda_b=0.01, lambda_c=0.02, recovery_b=0.5),
                   dict(lambda_b=0.01, lambda_c=0.02, recovery_c=0.5),
                   dict(lambda_b=0.01, lambda_c=0.02, funding_spread=0.0)):
        assert base.replace(xva=sim.XVA(**change)).hash != base.hash


def test_hash_ignores_name_and_chunking_and_tells_cpu_from_gpu(monkeypatch):
    import data.spec as spec_module

    monkeypatch.setattr(spec_module, "_auto_backend", lambda: "cpu")  # as on a CPU machine
    base = bs_spec()
    for change in (dict(name="other"), dict(backend="auto"), dict(chunk_paths=17)):
        assert base.replace(**change).hash == base.hash
    assert base.replace(name="other").dirname != base.dirname
    assert base.replace(backend="gpu").hash != base.hash


def test_identical_specs_hash_equal_and_numpy_inputs_normalised():
    a = bs_spec(seed=np.int64(7), n_paths=np.int32(5000), precision=np.float64)
    assert a == bs_spec() and a.hash == bs_spec().hash


def test_from_dict_round_trip_every_parameter_type():
    model, product = sim.random_bachelier_basket(dim=3, seed=2)
    objects = [model, product, sim.BlackScholes(vol=0.3, inputs=("spot", "vol", "rate")),
               sim.European(strike=1.0, maturity=0.5, kind="put"), sim.WorstOf(1.0, 1.0, "call"),
               sim.XVA(lambda_b=0.01, lambda_c=0.02, funding_spread=0.003),
               sim.FixedSampler(state=[1.0]), sim.UniformSampler(low=[0.5], high=[1.5]),
               sim.ForwardSampler(spot=1.0, horizon=1.0, params={"vol": (0.1, 0.3)})]
    for obj in objects:
        assert data.from_dict(obj.to_dict()) == obj
    assert data.from_dict(None) is None
    with pytest.raises(ValueError, match="Unknown parameter type 'Nope'"):
        data.from_dict({"type": "Nope"})
    spec = basket_spec(xva=None)
    assert data.DatasetSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize("change, match", [
    (dict(name="../evil"), "'name' parameter"),
    (dict(name=".hidden"), "'name' parameter"),
    (dict(seed=-1), "'seed' parameter"),
    (dict(seed=1.5), "'seed' parameter"),
    (dict(n_paths=0), "'n_paths' parameter"),
    (dict(chunk_paths=0), "'chunk_paths' parameter"),
    (dict(precision="float16"), "'precision' parameter"),
    (dict(backend="tpu"), "'backend' parameter"),
])
def test_spec_validation_names_the_field(change, match):
    with pytest.raises(ValueError, match=match):
        bs_spec(**change)


def test_importing_data_is_light():
    code = ("import sys, data; bad = [m for m in ('dask', 'distributed', 'pipeline', 'torch') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out == "[]"
