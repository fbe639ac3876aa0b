"""Bad configurations: ``validate`` refuses each with exit 2 and a short message naming the field,
and ``run``, ``simulate`` and ``train`` refuse it the same way before doing anything."""

from __future__ import annotations

import copy
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from pipeline import limits
from pipeline.cli import app

from .conftest import CONFIGS

runner = CliRunner()
MAX_OUTPUT = 2000
BASE = yaml.safe_load((CONFIGS / "small.yaml").read_text())
HESTON = {"model": {"type": "Heston", "kappa": 2.0, "theta": 0.04, "xi": 0.3, "rho": -0.7},
          "sampler": {"type": "ForwardSampler", "spot": 1.0, "horizon": 1.0},
          "test": {"n": 50, "low": [0.5, 0.01], "high": [1.5, 0.1]},
          "reference": {"method": "analytic"}, "pinn": None}


def _edit(path: str, value: Any) -> Callable[[dict], None]:
    """Set ``path`` (dots, list indices as integers) to ``value`` in the raw config."""
    def apply(raw: dict) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = raw
        for p in parents:
            node = node[p] if isinstance(node, list) else node.setdefault(p, {})
        node[last] = value
    return apply


def _merge(path: str, patch: dict) -> Callable[[dict], None]:
    def apply(raw: dict) -> None:
        node = raw
        for p in [int(p) if p.isdigit() else p for p in path.split(".")]:
            node = node[p]
        node.update(copy.deepcopy(patch))
    return apply


def _many(*edits: Callable[[dict], None]) -> Callable[[dict], None]:
    def apply(raw: dict) -> None:
        for edit in edits:
            edit(raw)
    return apply


def _text(make: Callable[[str], str]) -> Callable[[str], str]:
    make.raw_text = True  # type: ignore[attr-defined]
    return make


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)) + "name: *i\n"

S0, S1 = "scenarios.0", "scenarios.1"
CASES: list[tuple[str, Callable, str]] = [
    # top level
    ("name-newline", _edit("name", "small\n"), "name"),
    ("name-empty", _edit("name", ""), "name"),
    ("seed-negative", _edit("seed", -1), "seed"),
    ("seed-2**64", _edit("seed", 2**64), "seed"),
    ("seed-bool", _edit("seed", True), "seed"),
    ("seed-float", _edit("seed", 1.5), "seed"),
    ("chunk-zero", _edit("chunk_paths", 0), "chunk_paths"),
    ("chunk-huge", _edit("chunk_paths", 2**40), "chunk_paths"),
    ("too-many-parts", _many(_edit("chunk_paths", 1), _edit(f"{S0}.n_paths", 700_000_000)),
     "field 'n_paths': must be at most 100000 rows with chunk_paths 1 (100000 parts; raise "
     "chunk_paths to at least 7000)"),
    ("tolerance-nan", _edit("regression_tolerance", math.nan), "regression_tolerance"),
    ("tolerance-inf", _edit("regression_tolerance", math.inf), "regression_tolerance"),
    ("history-huge", _edit("history", 10**9), "history"),
    ("backend-unknown", _edit("backend", "tpu"), "backend"),
    ("workers-huge", _edit("dask.n_workers", 10**6), "dask.n_workers"),
    ("workers-zero", _edit("dask.n_workers", 0), "dask.n_workers"),
    ("threads-huge", _edit("dask.threads_per_worker", 10**6), "dask.threads_per_worker"),
    ("address-garbage", _edit("dask.address", "not an address"), "dask.address"),
    ("address-ipv6-unbracketed", _edit("dask.address", "tcp://[::1:8786"),
     "an IPv6 host in brackets"),
    ("address-userinfo", _edit("dask.address", "tcp://user@host:80"),
     "a host and a port, nothing after the port"),
    ("address-fullwidth-port", _edit("dask.address", "tcp://host:\uff18\uff10"),
     "a host and a port, nothing after the port"),
    ("dask-unknown-key", _edit("dask.nworkers", 3), "dask.nworkers: unknown key"),
    ("gpu-workers-with-address", lambda raw: raw.update(
        backend="gpu", dask={"gpu_workers": True, "address": "tcp://127.0.0.1:8786"}),
     "dask: gpu_workers starts a local cluster and address connects to an existing one "
     "(address 'tcp://127.0.0.1:8786')"),
    ("gpu-workers-with-n-workers", lambda raw: raw.update(
        backend="gpu", dask={"gpu_workers": True, "n_workers": 3}),
     "dask: gpu_workers starts one worker process per visible GPU; n_workers do not apply with "
     "it (got n_workers 3); remove them or leave their defaults"),
    ("gpu-workers-with-processes", lambda raw: raw.update(
        backend="gpu", dask={"gpu_workers": True, "processes": True}),
     "dask: gpu_workers starts one worker process per visible GPU; processes do not apply with "
     "it (got processes True); remove them or leave their defaults"),
    ("gpu-workers-cpu-backend", lambda raw: raw.update(dask={"gpu_workers": True}),
     "dask.gpu_workers needs backend 'gpu' or 'auto'"),
    ("model-is-a-product", _edit(f"{S0}.model", {"type": "European", "strike": 1.0,
                                                 "maturity": 1.0, "kind": "call"}),
     "field 'model': type must be one of BlackScholes, BachelierBasket, BlackScholesBasket, "
     "Heston. Got 'European'."),
    ("product-is-a-model", _edit(f"{S0}.product", {"type": "BlackScholes", "vol": 0.2}),
     "field 'product': type must be one of European, BasketOption, WorstOf, BestOf, "
     "NettingSet. Got 'BlackScholes'."),
    ("sampler-is-a-model", _edit(f"{S0}.sampler", {"type": "BlackScholes", "vol": 0.2}),
     "field 'sampler': type must be one of FixedSampler, UniformSampler, ForwardSampler. "
     "Got 'BlackScholes'."),
    ("seeds-repeated", _edit(f"{S0}.training.seeds", [0, 0]),
     "training.seeds: entries must be distinct; got [0, 0]"),
    ("modes-repeated", _edit(f"{S0}.training.modes", ["differential", "differential"]),
     "training.modes: entries must be distinct"),
    ("cross-checks-repeated", _edit(f"{S0}.reference.cross_checks", ["fd", "fd"]),
     "reference.cross_checks: entries must be distinct"),
    ("cross-check-is-the-method", _edit(f"{S0}.reference", {"method": "analytic",
                                                            "cross_checks": ["analytic"]}),
     "cross_checks must not repeat the method 'analytic'"),
    ("root-empty", _edit("output_root", ""), "output_root"),
    ("top-unknown-key", _edit("sead", 3), "sead: unknown key"),
    ("no-scenarios", _edit("scenarios", []), "scenarios"),
    # scenario identity and sizes
    ("id-newline", _edit(f"{S0}.id", "bs\n"), "id"),
    ("id-leading-dash", _edit(f"{S0}.id", "-bs"), "id"),
    ("id-too-long", _edit(f"{S0}.id", "b" * 61), "id"),
    ("id-duplicate", _edit(f"{S1}.id", "bs"), "unique"),
    ("label-too-long", _edit(f"{S0}.label", "x" * 1000), "label"),
    ("scenario-seed-negative", _edit(f"{S0}.seed", -1), "seed"),
    ("scenario-seed-2**64", _edit(f"{S0}.seed", 2**64), "seed"),
    ("paths-1e12", _edit(f"{S0}.n_paths", 10**12), "n_paths"),
    ("paths-one", _edit(f"{S0}.n_paths", 1), "n_paths"),
    ("paths-below-sizes", _edit(f"{S0}.n_paths", 100), "n_paths"),
    ("paths-bool", _edit(f"{S0}.n_paths", True), "n_paths"),
    ("paths-float", _edit(f"{S0}.n_paths", 1000.0), "n_paths"),
    ("paths-memory", _edit(f"{S1}.n_paths", 2**30), "n_paths"),
    ("antithetic-text", _edit(f"{S0}.antithetic", "yes"), "antithetic"),
    # model, product, sampler, XVA
    ("spot-zero", _edit(f"{S0}.sampler.spot", 0), "spot"),
    ("spot-negative", _edit(f"{S0}.sampler.spot", -1), "spot"),
    ("vol-1e308", _edit(f"{S0}.model.vol", 1e308), "field 'model': The 'vol' parameter"),
    ("vol-nan", _edit(f"{S0}.model.vol", math.nan), "field 'model': The 'vol' parameter"),
    ("vol-text", _edit(f"{S0}.model.vol", "0.2"), "field 'model': The 'vol' parameter"),
    ("vol-bool", _edit(f"{S0}.model.vol", True), "field 'model': The 'vol' parameter"),
    ("rate-inf", _edit(f"{S0}.model.rate", math.inf), "field 'model': The 'rate' parameter"),
    ("horizon-1e9", _edit(f"{S0}.sampler.horizon", 1e9), "field 'sampler': The 'horizon' parameter"),
    ("vol-mult-huge", _edit(f"{S0}.sampler.vol_mult", 1e6), "field 'sampler': The 'vol_mult' parameter"),
    ("maturity-1e9", _edit(f"{S0}.product.maturity", 1e9), "field 'product': The 'maturity' parameter"),
    ("strike-1e300", _edit(f"{S0}.product.strike", 1e300), "field 'product': The 'strike' parameter"),
    ("kind-unknown", _edit(f"{S0}.product.kind", "straddle"), "product"),
    ("product-unknown-key", _edit(f"{S0}.product.notional", 2), "product"),
    ("model-type-unknown", _edit(f"{S0}.model.type", "Nope"), "model"),
    ("model-no-type", _edit(f"{S0}.model", {"vol": 0.2}), "model"),
    ("xva-inf", _edit(f"{S0}.xva", {"type": "XVA", "lambda_b": math.inf}), "field 'xva': The 'lambda_b' parameter"),
    ("xva-huge", _edit(f"{S0}.xva", {"type": "XVA", "lambda_c": 1e6}), "field 'xva': The 'lambda_c' parameter"),
    ("xva-wrong-type", _edit(f"{S0}.xva", {"type": "European"}), "xva"),
    ("heston-steps-1e12", _merge(S0, {**HESTON, "model": {**HESTON["model"],
                                                         "steps_per_year": 10**12}}),
     "The 'steps_per_year' parameter of Heston"),
    ("heston-steps-total", _merge(S0, {**HESTON, "model": {**HESTON["model"],
                                                          "steps_per_year": 90_000},
                                       "sampler": {**HESTON["sampler"], "horizon": 10.0}}),
     "model.steps_per_year"),
    ("heston-steps-float", _merge(S0, {**HESTON, "model": {**HESTON["model"],
                                                          "steps_per_year": 252.5}}),
     "The 'steps_per_year' parameter of Heston"),
    ("heston-variance-box", _merge(S0, {**HESTON, "test": {"n": 50, "low": [0.5, -0.1],
                                                           "high": [1.5, 0.1]}}), "test.low"),
    ("basket-dim-1e9", _edit(f"{S1}.model.dim", 10**9), "The 'dim' parameter"),
    ("basket-dim-zero", _edit(f"{S1}.model.dim", 0), "The 'dim' parameter"),
    ("basket-seed-negative", _edit(f"{S1}.model.seed", -1), "The 'seed' parameter"),
    ("lognormal-spread", _many(_edit(f"{S0}.model.vol", 4.0),
                               _edit(f"{S0}.product.maturity", 50.0)), "product.maturity"),
    ("sampler-spread", _many(_edit(f"{S0}.model.vol", 2.0),
                             _merge(f"{S0}.sampler", {"vol_mult": 10.0, "horizon": 10.0})),
     "sampler"),
    ("rate-drift", _many(_merge(f"{S0}.model", {"rate": 0.5, "vol": 0.01}),
                         _edit(f"{S0}.product.maturity", 50.0)), "model.rate"),
    ("xva-drift", _many(_edit(f"{S0}.xva", {"type": "XVA", "lambda_b": 1.0, "lambda_c": 1.0}),
                        _edit(f"{S0}.product.maturity", 8.0)), "xva"),
    ("sampler-params-unknown", _edit(f"{S0}.sampler.params", {"vol": [0.1, 0.3]}), "sampler"),
    # training
    ("epochs-1e9", _edit(f"{S0}.training.epochs", 10**9), "training.epochs"),
    ("epochs-bool", _edit(f"{S0}.training.epochs", True), "training.epochs"),
    ("epochs-float", _edit(f"{S0}.training.epochs", 5.0), "training.epochs"),
    ("units-1e9", _edit(f"{S0}.training.hidden_units", 10**9), "training.hidden_units"),
    ("layers-zero", _edit(f"{S0}.training.hidden_layers", 0), "training.hidden_layers"),
    ("layers-huge", _edit(f"{S0}.training.hidden_layers", 10**6), "training.hidden_layers"),
    ("lam-inf", _edit(f"{S0}.training.lam", math.inf), "training.lam"),
    ("lam-negative", _edit(f"{S0}.training.lam", -1.0), "training.lam"),
    ("peak-lr-inf", _edit(f"{S0}.training.peak_lr", math.inf), "training.peak_lr"),
    ("peak-lr-zero", _edit(f"{S0}.training.peak_lr", 0.0), "training.peak_lr"),
    ("sizes-1e12", _edit(f"{S0}.training.sizes", [10**12]), "training.sizes"),
    ("sizes-one", _edit(f"{S0}.training.sizes", [1]), "training.sizes"),
    ("sizes-empty", _edit(f"{S0}.training.sizes", []), "training.sizes"),
    ("sizes-too-many", _edit(f"{S0}.training.sizes", list(range(2, 200))), "training.sizes"),
    ("train-seed-negative", _edit(f"{S0}.training.seeds", [-1]), "training.seeds"),
    ("train-seed-2**64", _edit(f"{S0}.training.seeds", [2**64]), "training.seeds"),
    ("modes-unknown", _edit(f"{S0}.training.modes", ["magic"]), "training.modes"),
    ("dtype-unknown", _edit(f"{S0}.training.dtype", "float16"), "training.dtype"),
    ("training-unknown-key", _edit(f"{S0}.training.epoch", 3), "training.epoch: unknown key"),
    # test set
    ("test-n-1e10", _edit(f"{S0}.test.n", 10**10), "test.n"),
    ("test-n-one", _edit(f"{S0}.test.n", 1), "test.n"),
    ("test-low-nan", _edit(f"{S0}.test.low", math.nan), "test.low"),
    ("test-low-above-high", _merge(f"{S0}.test", {"low": 2.0, "high": 1.0}), "test.low"),
    ("test-low-negative-spot", _edit(f"{S0}.test.low", -1.0), "test.low"),
    ("test-high-length", _edit(f"{S0}.test.high", [1.0, 2.0, 3.0]), "test.high"),
    ("test-high-text", _edit(f"{S0}.test.high", "1.5"), "test.high"),
    ("test-seed-negative", _edit(f"{S0}.test.seed", -1), "test.seed"),
    ("test-high-beyond-fd-grid", _edit(f"{S0}.test.high", 1e5), "test.high"),
    # references
    ("analytic-refused", _edit(S1, {
        "id": "basket", "model": {"type": "BlackScholesBasket", "vols": [0.2, 0.2, 0.2],
                                  "correlation": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]},
        "product": {"type": "WorstOf", "strike": 1.0, "maturity": 1.0, "kind": "put"},
        "sampler": {"type": "UniformSampler", "low": [0.5] * 3, "high": [1.5] * 3},
        "training": {"sizes": [256], "epochs": 2}, "test": {"n": 10, "low": 0.8, "high": 1.2}}),
     "field 'reference.method': no analytic reference"),
    ("method-unknown", _edit(f"{S0}.reference.method", "magic"), "reference.method"),
    ("cross-check-unknown", _edit(f"{S0}.reference.cross_checks", ["pinn"]),
     "reference.cross_checks"),
    ("fd-unknown-key", _edit(f"{S0}.reference.fd", {"nspace": 100}), "reference.fd.nspace"),
    ("fd-space-1e9", _edit(f"{S0}.reference.fd", {"n_space": 10**9}), "reference.fd.n_space"),
    ("fd-time-zero", _edit(f"{S0}.reference.fd", {"n_time": 0}), "reference.fd.n_time"),
    ("fd-smax-below-strike", _edit(f"{S0}.reference.fd", {"s_max": 0.5}), "reference.fd.s_max"),
    ("fd-tol-nan", _edit(f"{S0}.reference.fd", {"tol": math.nan}), "reference.fd.tol"),
    ("fd-without-solver", _edit(f"{S1}.reference.fd", {"n_time": 10}), "reference.fd"),
    # PINN
    ("pinn-unknown-key", _edit(f"{S0}.pinn.options", {"widht": 8}), "pinn.options.widht"),
    ("pinn-width-1e9", _edit(f"{S0}.pinn.options", {"width": 10**9}), "pinn.options.width"),
    ("pinn-adam-1e12", _edit(f"{S0}.pinn.options", {"adam_steps": 10**12}),
     "pinn.options.adam_steps"),
    ("pinn-lr-inf", _edit(f"{S0}.pinn.options", {"learning_rate": math.inf}),
     "pinn.options.learning_rate"),
    ("pinn-grid-huge", _edit(f"{S0}.pinn.options", {"collocation": {
        "type": "UniformGrid", "n_tau": 10_000, "n_space": 10_000}}), "pinn.options.collocation"),
    ("pinn-collocation-unknown", _edit(f"{S0}.pinn.options", {"collocation": {"type": "Nope"}}),
     "pinn.options.collocation.type"),
    ("pinn-state-weights", _edit(f"{S0}.pinn.options", {"collocation": {
        "type": "ClusteredGrid", "state_weights": "equal"}}),
     "pinn.options.collocation.state_weights"),
    ("pinn-adaptive", _edit(f"{S0}.pinn.options", {"adaptive": {"every": 10}}),
     "pinn.options.adaptive"),
    ("pinn-device", _edit(f"{S0}.pinn.options", {"device": "tpu"}), "pinn.options.device"),
    ("pinn-time-limit-negative", _edit(f"{S0}.pinn.options", {"time_limit": -1}),
     "pinn.options.time_limit"),
    ("pinn-network-too-big", _edit(f"{S0}.pinn.options", {"width": 1024, "depth": 32}),
     "pinn.options"),
    ("pinn-variant-unknown", _edit(f"{S0}.pinn.variant", "magic"), "pinn.variant"),
    ("pinn-without-problem", _edit(f"{S1}.pinn", {"variant": "best"}), "pinn"),
    # backward regression
    ("backward-dates-huge", _edit(f"{S0}.backward", {"dates": 10_000}), "backward.dates"),
    ("backward-dates-float", _edit(f"{S0}.backward", {"dates": 12.0}), "backward.dates"),
    ("backward-paths-few", _edit(f"{S0}.backward", {"paths_per_date": 10}),
     "backward.paths_per_date"),
    ("backward-states-memory", _edit(f"{S0}.backward", {"dates": 500,
                                                        "paths_per_date": 2_000_000}),
     "field 'backward.paths_per_date': must be such that dates x paths_per_date"),
    ("backward-scheme-unknown", _edit(f"{S0}.backward", {"scheme": "explicit"}),
     "backward.scheme"),
    ("backward-unknown-key", _edit(f"{S0}.backward", {"date": 4}), "backward.date: unknown key"),
    ("backward-regressor-unknown", _edit(f"{S0}.backward", {"regressor": {"width": 8}}),
     "field 'backward.regressor.width': must be a known key"),
    ("backward-regressor-epochs", _edit(f"{S0}.backward", {"regressor": {"epochs": 10**9}}),
     "field 'backward.regressor.epochs': must be an integer in [1, 100000]"),
    ("backward-regressor-lr-zero", _edit(f"{S0}.backward", {"regressor": {"peak_lr": 0.0}}),
     "backward.regressor.peak_lr"),
    ("backward-quantile-low", _edit(f"{S0}.backward", {"exposure": {"quantile": 0.3}}),
     "backward.exposure.quantile"),
    ("backward-exposure-paths", _edit(f"{S0}.backward", {"exposure": {"paths": 10}}),
     "backward.exposure.paths"),
    ("backward-state-negative", _edit(f"{S0}.backward", {"exposure": {"state": [-1.0]}}),
     "field 'backward.exposure.state': (spot) must be > 0"),
    ("backward-state-length", _edit(f"{S0}.backward", {"exposure": {"state": [1.0, 2.0]}}),
     "field 'backward.exposure.state': must be one number per input"),
    ("backward-state-nan", _edit(f"{S0}.backward", {"exposure": {"state": [math.nan]}}),
     "backward.exposure.state"),
    ("backward-parameter-inputs", _many(
        _merge(f"{S0}.model", {"inputs": ["spot", "vol"]}),
        _merge(f"{S0}.sampler", {"params": {"vol": [0.15, 0.25]}}),
        _edit(f"{S0}.test", {"n": 50, "low": [0.5, 0.15], "high": [1.5, 0.25]}),
        _edit(f"{S0}.reference", {"method": "analytic"}), _edit(f"{S0}.pinn", None),
        _edit(f"{S0}.backward", {"dates": 4})),
     "field 'backward': must be on a model whose inputs are its state"),
    ("backward-seed-beyond-32-bits", _many(_edit("seed", 2**40),
                                           _edit(f"{S0}.backward", {"dates": 4})),
     "field 'seed': must be an integer in [0, 4294967295] with a backward block"),
    # YAML
    ("yaml-duplicate-top", _text(lambda t: t + "seed: 4\n"), "duplicate key 'seed'"),
    ("yaml-duplicate-nested", _text(lambda t: t.replace("  epochs: 5", "  epochs: 5\n"
                                                        "    epochs: 6", 1)),
     "duplicate key 'epochs'"),
    ("yaml-alias-bomb", _text(lambda t: BOMB), "aliases are expanded"),
    ("yaml-recursive-alias", _text(lambda t: "a: &a [*a]\n" + t), "recursive alias"),
    ("yaml-deep", _text(lambda t: "deep: " + "[" * 500 + "]" * 500 + "\n" + t), "nested"),
    ("yaml-syntax", _text(lambda t: t + "  - : [\n"), "not valid YAML"),
    ("yaml-top-list", _text(lambda t: "- 1\n- 2\n"), "mapping at the top level"),
]


def _base(tmp_path: Path) -> dict:
    raw = copy.deepcopy(BASE)
    raw["output_root"] = str(tmp_path / "runs")
    raw["dataset_root"] = str(tmp_path / "datasets")
    return raw


def _write(tmp_path: Path, edit: Callable) -> Path:
    raw = _base(tmp_path)
    path = tmp_path / "bad.yaml"
    if getattr(edit, "raw_text", False):
        path.write_text(edit(yaml.safe_dump(raw, sort_keys=False)))
    else:
        edit(raw)
        path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return path


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No Prefect flow may be imported (a bad config fails before), and the environment that
    ``run`` sets up is restored afterwards."""
    monkeypatch.setitem(sys.modules, "pipeline.flows", None)
    saved = dict(os.environ)
    monkeypatch.chdir(tmp_path)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _assert_refused(result, fragment: str) -> None:
    err = result.stderr
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output and "Traceback" not in err
    assert len(err.encode()) < MAX_OUTPUT, len(err.encode())
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 3, lines
    assert all(line.startswith("error: ") for line in lines), lines
    assert fragment in err, (fragment, err)


def test_table_is_large_enough():
    assert len(CASES) >= 60
    assert len({name for name, _, _ in CASES}) == len(CASES)


def test_base_config_validates(tmp_path):
    result = runner.invoke(app, ["validate", str(_write(tmp_path, lambda raw: None))])
    assert result.exit_code == 0, result.output
    assert "2 scenarios" in result.stdout


@pytest.mark.parametrize(("edit", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_is_refused_by_every_command(edit, fragment, tmp_path, isolated):
    path = _write(tmp_path, edit)
    commands = [["validate", str(path)],
                ["run", str(path)],
                ["simulate", str(path)],
                ["train", str(path), "--scenario", "bs", "--output", str(tmp_path / "models")]]
    for args in commands:
        t0 = time.perf_counter()
        result = runner.invoke(app, args)
        _assert_refused(result, fragment)
        assert time.perf_counter() - t0 < 10.0, args[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


@pytest.mark.parametrize("command", ["simulate", "train", "pinn"])
def test_unknown_scenario_is_one_line(command, tmp_path, isolated):
    path = _write(tmp_path, lambda raw: None)
    result = runner.invoke(app, [command, str(path), "--scenario", "nope"])
    _assert_refused(result, "no scenario 'nope'; known: ['bs', 'basket']")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


@pytest.mark.parametrize("args", [["report", "no/such/run"], ["datasets", "show", "no/such"],
                                  ["datasets", "verify", "no/such"],
                                  ["datasets", "gc", "missing.yaml"],
                                  ["validate", "missing.yaml"]],
                         ids=["report", "show", "verify", "gc", "validate"])
def test_missing_paths_are_one_line(args, tmp_path, isolated):
    _assert_refused(runner.invoke(app, args), "")


def test_run_refuses_a_bad_dask_address(tmp_path, isolated):
    path = _write(tmp_path, lambda raw: None)
    result = runner.invoke(app, ["run", str(path), "--dask-address", "not an address"])
    _assert_refused(result, "--dask-address")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    result = runner.invoke(app, ["run", str(path), "--dask-address", f"tcp://127.0.0.1:{port}"])
    _assert_refused(result, f"--dask-address: no Dask scheduler answers at "
                            f"'tcp://127.0.0.1:{port}' (Connection refused)")
    assert time.perf_counter() - t0 < 5.0  # refused at once, not after Dask's 10 s of retries
    for bad, why in (("tcp://a..b:8786", "no Dask scheduler answers"),
                     ("tcp://127.0.0.1:99999", "port in [1, 65535]"),
                     ("tcp://localhost", "a host and a port"),
                     ("tcp://127.0.0.1:8786/path?x", "nothing after the port"),
                     ("inproc://foo", "protocol one of tcp, tls, ws, wss"),
                     ("ucx://127.0.0.1:8786", "protocol one of")):
        _assert_refused(runner.invoke(app, ["run", str(path), "--dask-address", bad]), why)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_run_refuses_a_listener_that_is_not_a_dask_scheduler(tmp_path, isolated):
    """A port that accepts connections and never speaks (Dask's own handshake would wait for
    ever), and one that answers HTTP: both refused within the 10 s probe, from the option or
    from the config's dask.address, before any run directory is made."""
    import threading
    import time

    path = _write(tmp_path, lambda raw: None)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held = []

    def accept() -> None:
        try:
            while True:
                held.append(silent.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
    try:
        t0 = time.monotonic()
        _assert_refused(runner.invoke(app, ["run", str(path), "--dask-address", address]),
                        "--dask-address: no Dask scheduler answers at")
        assert time.monotonic() - t0 < 30
        _assert_refused(runner.invoke(app, ["run", str(path), "--set", f"dask.address={address}"]),
                        "dask.address: no Dask scheduler answers at")
    finally:
        silent.close()
        for c in held:
            c.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_several_errors_stay_short(tmp_path):
    def many(raw: dict) -> None:
        for k in range(200):
            raw[f"unknown_{k:03d}"] = "x" * 200
    result = runner.invoke(app, ["validate", str(_write(tmp_path, many))])
    assert result.exit_code == 2
    assert len(result.stderr.encode()) < MAX_OUTPUT
    assert "more" in result.stderr.splitlines()[-1]


def test_pinn_table_matches_the_solver_config():
    import dataclasses

    from training.pinn import PINNConfig
    from training.pinn.losses import FACE_RESIDUALS, LOSS_TYPES
    from training.pinn.network import BASE_FUNCTIONS, INITIAL_CONDITIONS

    fields = {f.name for f in dataclasses.fields(PINNConfig)}
    assert set(limits.PINN_OPTIONS) == fields - {"adaptive"}
    for key, allowed in (("loss", LOSS_TYPES), ("initial_condition", INITIAL_CONDITIONS),
                         ("face_residuals", FACE_RESIDUALS), ("base_function", BASE_FUNCTIONS)):
        for value in allowed:
            limits.PINN_OPTIONS[key]("k", value)


def test_collocation_table_matches_the_collocation_classes():
    """Every field of each grid and sampler class is a key a config may set, and the
    allowed state weights are the enumeration's (a new field would otherwise be refused)."""
    import dataclasses

    from training.pinn import ClusteredGrid, RandomSampler, SobolSampler, StateWeights, UniformGrid

    for cls in (UniformGrid, ClusteredGrid, SobolSampler, RandomSampler):
        fields = {f.name for f in dataclasses.fields(cls)}
        assert set(limits.COLLOCATION_OPTIONS[cls.__name__]) - {"type"} == fields, cls
    for value in StateWeights:
        limits.COLLOCATION_OPTIONS["ClusteredGrid"]["state_weights"]("k", str(value))


def test_cli_entry_point_refuses_the_alias_bomb_quickly(tmp_path):
    """The installed ``diffml`` script, in a fresh process: the 300-byte alias bomb gives one
    short line, and ``run`` on a bad config exits 2 before starting anything."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    bad = _write(tmp_path, _edit(f"{S0}.training.epochs", 10**9))
    exe = Path(sys.executable).with_name("diffml")
    env = {**os.environ, "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(tmp_path))}
    for args in (["validate", str(bomb)], ["run", str(bad)]):
        t0 = time.perf_counter()
        proc = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120,
                              env=env, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert len(proc.stderr.encode()) + len(proc.stdout.encode()) < MAX_OUTPUT
        assert "Traceback" not in proc.stderr
        assert time.perf_counter() - t0 < 60.0
    assert not (tmp_path / "runs").exists() and not (tmp_path / "datasets").exists()


def test_dataset_commands_on_folders_that_are_not_datasets(tmp_path, isolated):
    """`datasets verify` of a folder that holds no dataset and `datasets ls --root` of a file:
    one line, exit 2; `ls` of a folder not made yet says so."""
    (tmp_path / "plain").mkdir()
    _assert_refused(runner.invoke(app, ["datasets", "verify", str(tmp_path / "plain")]),
                    "not a dataset directory")
    (tmp_path / "a-file").write_text("")
    _assert_refused(runner.invoke(app, ["datasets", "ls", "--root", str(tmp_path / "a-file")]),
                    "--root: must be a datasets folder")
    res = runner.invoke(app, ["datasets", "ls", "--root", str(tmp_path / "later")])
    # rich wraps at the terminal's width, so a long temporary path may break the line
    assert res.exit_code == 0 and "does not exist yet" in " ".join(res.output.split()), \
        res.output


def test_oversized_config_is_named_as_too_large_not_invalid(tmp_path, isolated):
    from pipeline.config import MAX_CONFIG_BYTES

    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_CONFIG_BYTES + "\nname: a\n")
    result = runner.invoke(app, ["validate", str(big)])
    _assert_refused(result, "is larger than the limit of")
    assert "not valid YAML" not in result.stderr


def test_a_real_scheduler_passes_the_address_probe():
    """The probe's positive case: a scheduler of a local cluster answers as one (no exit)."""
    from distributed import LocalCluster

    from pipeline.cli import _check_address

    with LocalCluster(n_workers=0, processes=False, dashboard_address=None,
                      protocol="tcp://", host="127.0.0.1") as cluster:
        _check_address(cluster.scheduler_address, "--dask-address")


def test_a_read_only_dataset_root_without_the_datasets_is_one_line(tmp_path, isolated,
                                                                    monkeypatch):
    """A read-only store serves the datasets it has; one that lacks a scenario's dataset is
    refused before anything runs (it used to fail every task with tracebacks). The store is
    made read-only by refusing temporary files in it (the tests may run as root)."""
    import tempfile

    path = _write(tmp_path, lambda raw: None)
    root = tmp_path / "datasets"
    real = tempfile.TemporaryFile

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == root:
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    for args in (["run", str(path)], ["simulate", str(path)],
                 ["train", str(path), "--scenario", "bs", "--output", str(tmp_path / "m")]):
        result = runner.invoke(app, args)
        _assert_refused(result, "dataset_root: ")
        assert "is not writable (Permission denied), and the datasets of 'bs'" in result.stderr


_RUN = {"schema_version": 1, "run": {"name": "n", "stamp": "20261127T000000Z", "status": "ok"}}


@pytest.mark.parametrize("text,why", [
    ("{bad", "is not valid JSON"),
    ('{"schema_version": 7}', "schema"),
    (b"\xff\xfe{", "is not UTF-8 text"),
    (json.dumps({**_RUN, "scenarios": {"bs": {"status": "ok", "summary": "x"}}}),
     "field 'scenarios.bs.summary': Input should be a valid dictionary"),
    (json.dumps({**_RUN, "scenarios": {"bs": {"status": "ok", "learning_curve": [None]}}}),
     "field 'scenarios.bs.learning_curve.0': Input should be a valid dictionary"),
])
def test_report_of_a_damaged_metrics_file_is_one_line_exit_2(tmp_path, text, why):
    run = tmp_path / "run"
    run.mkdir()
    if isinstance(text, bytes):
        (run / "metrics.json").write_bytes(text)
    else:
        (run / "metrics.json").write_text(text)
    result = runner.invoke(app, ["report", str(run)])
    _assert_refused(result, str(run / "metrics.json"))
    assert why in result.stderr
    assert not (run / "report.html").exists()


def test_datasets_gc_and_ls_refuse_a_file_as_root_alike(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    config = Path(__file__).parent / "configs" / "small.yaml"
    for args in (["datasets", "gc", str(config), "--root", str(afile)],
                 ["datasets", "ls", "--root", str(afile)]):
        _assert_refused(runner.invoke(app, args), "--root: must be a datasets folder")


def test_a_file_where_the_model_cache_goes_is_one_line(tmp_path, isolated):
    path = _write(tmp_path, lambda raw: None)
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / ".cache").write_text("not a folder")
    _assert_refused(runner.invoke(app, ["run", str(path)]),
                    "must be the folder of cached models, and it is a file")
    assert sorted(p.name for p in runs.iterdir()) == [".cache"]


def test_the_parts_limit_is_the_datasets_own():
    from data.schema import MAX_PARTS
    from pipeline.limits import MAX_PARTS as CHECKED

    assert CHECKED == MAX_PARTS


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).resolve().parents[2]
                                                          / "configs").glob("*.yaml")))
def test_shipped_configs_validate_again_from_their_own_dump(name):
    """``run`` and the schedule hand the flow the config dumped in full (every default written
    out), and the flow parses it again: that dump must validate and give the same config
    (configs/gpu.yaml failed here when a rule looked at which keys were written)."""
    from pipeline.config import load_config, parse_config

    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / name)
    assert parse_config(json.loads(cfg.model_dump_json())) == cfg


def test_pinn_settings_that_cannot_run_are_refused_at_validation(small_config):
    """Accepted by validate before, then failed in the reference step after the training (test
    points beyond the PINN's domain, a split base on a worst-of) or silently ignored
    (parameter_copies in a parametric run)."""
    from pipeline.config import ConfigError, load_config

    base = yaml.safe_load(small_config.read_text())
    bs = base["scenarios"][0]
    cases = [
        ({"test": {**bs["test"], "high": 600.0},
          "reference": {"method": "analytic", "cross_checks": []}},
         "field 'test.high': must be <= 4.4 for spot, the upper bound of the domain the PINN"),
        ({"pinn": {**bs["pinn"], "variant": "best", "options": {"base": "split"}},
          "model": {"type": "BlackScholesBasket", "vols": [0.2, 0.3],
                    "correlation": [[1.0, 0.5], [0.5, 1.0]]},
          "product": {"type": "WorstOf", "strike": 1.0, "maturity": 1.0, "kind": "put"},
          "sampler": {"type": "UniformSampler", "low": [0.5, 0.5], "high": [1.5, 1.5]},
          "test": {"n": 10, "low": [0.6, 0.6], "high": [1.4, 1.4]},
          "reference": {"method": "analytic", "cross_checks": []}},
         "field 'pinn.options.base': the 'split' base needs a netting set"),
    ]
    for change, message in cases:
        raw = {**base, "scenarios": [{**bs, **change}]}
        small_config.write_text(yaml.safe_dump(raw))
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(small_config)
