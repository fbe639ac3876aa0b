"""Two processes training the same scenario at once share one training cache entry safely."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from pipeline import steps
from pipeline.config import RunConfig

TRIALS = 10


def _config(tmp_path: Path) -> RunConfig:
    """One tiny Black-Scholes scenario: 64 rows, 2 epochs, a 20-point test set."""
    return RunConfig.model_validate({
        "name": "concurrent", "seed": 3,
        "output_root": str(tmp_path / "runs"), "dataset_root": str(tmp_path / "datasets"),
        "scenarios": [{
            "id": "bs",
            "model": {"type": "BlackScholes", "vol": 0.2},
            "product": {"type": "European", "strike": 1.10, "maturity": 1.0, "kind": "call"},
            "sampler": {"type": "ForwardSampler", "spot": 1.0, "horizon": 1.0,
                        "vol_mult": 1.5},
            "training": {"sizes": [64], "seeds": [0], "epochs": 2, "hidden_layers": 1,
                         "hidden_units": 4},
            "test": {"n": 20, "low": 0.5, "high": 1.5},
        }],
    })


def _warm_up() -> int:
    """Import what training needs, so that both processes start a trial together."""
    import torch  # noqa: F401

    import training  # noqa: F401

    return 0


def _train(cfg: RunConfig, dataset: dict, ref: dict, run_dir: str, start: float) -> dict:
    """Wait until ``start`` (wall clock), then run the train step into ``run_dir``."""
    scenario = cfg.scenarios[0]
    time.sleep(max(0.0, start - time.time()))
    out = steps.train_step(cfg, scenario, dataset, ref, Path(run_dir))
    files = {str(f.relative_to(run_dir)): f.read_bytes()
             for f in sorted(Path(run_dir, "models").rglob("*")) if f.is_file()}
    return {"learning_curve": out["learning_curve"], "summary": out["summary"],
            "predictions": out["predictions"], "models": files}


def test_two_processes_train_the_same_scenario(tmp_path):
    cfg = _config(tmp_path)
    scenario = cfg.scenarios[0]
    dataset = steps.simulate_step(cfg, scenario)
    ref = steps.reference_step(cfg, scenario)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx) as a, ProcessPoolExecutor(1, mp_context=ctx) as b:
        assert a.submit(_warm_up).result() == b.submit(_warm_up).result() == 0
        for trial in range(TRIALS):
            runs = tmp_path / f"runs-{trial}"  # a fresh cache: both processes must train
            start = time.time() + 0.2
            futures = [pool.submit(_train, cfg, dataset, ref, str(runs / name), start)
                       for pool, name in ((a, "a"), (b, "b"))]
            first, second = (f.result(timeout=120) for f in futures)
            assert first["learning_curve"] == second["learning_curve"], trial
            assert first["summary"] == second["summary"], trial
            assert first["predictions"].keys() == second["predictions"].keys()
            for key, value in first["predictions"].items():
                assert np.array_equal(value, second["predictions"][key]), (trial, key)
            assert first["models"] == second["models"] and first["models"], trial
            cache = runs / ".cache" / "train"
            assert [p.name for p in cache.iterdir()] == [steps.training_key(
                dataset["hash"], scenario, ref)], trial  # no temporary folder left behind
    again = steps.train_step(cfg, scenario, dataset, ref, runs / "c")  # the published entry
    assert again["reused"] and again["learning_curve"] == first["learning_curve"]


def test_incomplete_cache_entry_is_replaced(tmp_path):
    """An entry without curve.json (an older writer, interrupted) is retrained, not used."""
    cfg = _config(tmp_path)
    scenario = cfg.scenarios[0]
    dataset = steps.simulate_step(cfg, scenario)
    ref = steps.reference_step(cfg, scenario)
    runs = tmp_path / "runs"
    cache = runs / ".cache" / "train" / steps.training_key(dataset["hash"], scenario, ref)
    (cache / "models" / "standard").mkdir(parents=True)
    out = steps.train_step(cfg, scenario, dataset, ref, runs / "a")
    assert not out["reused"] and (cache / "curve.json").is_file()
    assert sorted(p.name for p in cache.parent.iterdir()) == [cache.name]


def test_damaged_cache_entry_is_retrained(tmp_path, caplog):
    """A published entry whose weights, curve or predictions changed on disk, or that lost a
    file, fails its checksums: it is retrained (a warning names the file), never reused, and
    the run's models give the predictions the run reports."""
    from training import DifferentialRegressor

    cfg = _config(tmp_path)
    scenario = cfg.scenarios[0]
    dataset = steps.simulate_step(cfg, scenario)
    ref = steps.reference_step(cfg, scenario)
    runs = tmp_path / "runs"
    first = steps.train_step(cfg, scenario, dataset, ref, runs / "a")
    cache = runs / ".cache" / "train" / steps.training_key(dataset["hash"], scenario, ref)
    weights = next((cache / "models").rglob("weights*"))
    x = np.linspace(0.5, 1.5, 20)[:, None]
    expected = DifferentialRegressor.load(runs / "a" / first["models"]["standard"]).predict(x)
    damage = {
        "weights": lambda: weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8),
        "curve": lambda: (cache / "curve.json").write_text(
            (cache / "curve.json").read_text().replace("value_rmse", "value_rmse ", 1)),
        "predictions": lambda: (cache / "predictions.npz").write_bytes(b"PK"),
        "missing": lambda: (cache / "predictions.npz").unlink(),
    }
    for case, spoil in damage.items():
        spoil()
        with caplog.at_level("WARNING", logger="diffml.pipeline"):
            out = steps.train_step(cfg, scenario, dataset, ref, runs / case)
        assert not out["reused"], case
        assert "failed its verification" in caplog.text, case
        caplog.clear()
        assert _untimed(out["learning_curve"]) == _untimed(first["learning_curve"]), case
        model = DifferentialRegressor.load(runs / case / out["models"]["standard"])
        np.testing.assert_array_equal(model.predict(x), expected, err_msg=case)
        again = steps.train_step(cfg, scenario, dataset, ref, runs / f"{case}-again")
        assert again["reused"], case  # the retrained entry verifies



def _untimed(curve: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "fit_seconds"} for row in curve]
