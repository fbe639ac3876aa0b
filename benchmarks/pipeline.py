"""Wall time of a pipeline config by stage, and its scaling from 1 to 2 Dask workers.

Each measurement runs the whole flow from empty dataset and cache folders (so simulation and
training are timed, not reused), then once more with everything cached. Writes
benchmarks/results/pipeline.json.
Usage: python benchmarks/pipeline.py [--config configs/nightly.yaml]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from benchmarks import _machine  # noqa: E402


def one_run(config: str, workers: int, work: pathlib.Path, sets: list[str]) -> dict:
    from pipeline.config import load_config
    from pipeline.flows import run_config

    cfg = load_config(config, [*sets, f"dataset_root={work / 'datasets'}",
                               f"output_root={work / 'runs'}", f"dask.n_workers={workers}"])
    t0 = time.perf_counter()
    result = run_config(cfg, json.loads(cfg.model_dump_json()))
    wall = time.perf_counter() - t0
    metrics = json.loads((pathlib.Path(result["run_dir"]) / "metrics.json").read_text())
    return {"workers": workers, "wall_seconds": wall, "status": result["status"],
            "stage_seconds_summed": metrics["run"]["stage_seconds"],
            "scenario_seconds": {k: sum(v["stage_seconds"].values())
                                 for k, v in metrics["scenarios"].items()}}


def config_sha256(config: str) -> str:
    """SHA-256 of the config file's bytes: the docs say whether the file measured is today's."""
    import hashlib

    return hashlib.sha256(pathlib.Path(config).read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default="configs/nightly.yaml")
    ap.add_argument("--set", action="append", default=[], dest="sets")
    ap.add_argument("--out", default="benchmarks/results/pipeline.json")
    args = ap.parse_args()
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="diffml-bench-prefect-"))
    for k, v in {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                 "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_UI_ENABLED": "false",
                 "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90"}.items():
        os.environ.setdefault(k, v)
    runs = []
    for workers in (1, 2):
        work = pathlib.Path(tempfile.mkdtemp(prefix=f"diffml-bench-{workers}w-"))
        try:
            cold = one_run(args.config, workers, work, args.sets)
            warm = one_run(args.config, workers, work, args.sets)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        runs.append({"cold": cold, "warm_all_cached": warm})
        print(f"{workers} worker(s): cold {cold['wall_seconds']:.1f} s "
              f"(stages summed over scenarios: "
              + ", ".join(f"{k} {v:.1f}" for k, v in cold["stage_seconds_summed"].items())
              + f"), all cached {warm['wall_seconds']:.1f} s")
    scaling = runs[0]["cold"]["wall_seconds"] / runs[1]["cold"]["wall_seconds"]
    print(f"scaling 1 -> 2 workers (cold wall time ratio): {scaling:.2f}x")
    res = {"machine": _machine.describe(), "config": args.config,
           "config_sha256": config_sha256(args.config), "sets": args.sets,
           "runs": runs, "scaling_1_to_2_workers": scaling}
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
