"""Dask with one worker per GPU (``pipeline.cluster.gpu_cluster``), exercised on a device.

Generates one Heston dataset (spot, variance and the four parameters, six adjoints) three ways:
on the GPU in this process as one part; through the GPU cluster in several parts, one task each
on the workers; and on the CPU. Checks that every worker saw exactly one device, that the
cluster's dataset equals the in-process GPU dataset bit for bit (the split does not change the
numbers), and how close the GPU dataset is to the CPU one (1e-12 relative expected: FMA
contraction and libdevice's exp/log). Writes ``benchmarks/results/gpu_dask.json`` (or --out).

Without a usable CUDA device it says so and exits with status 2, writing nothing.
Usage: python benchmarks/gpu_dask.py [--paths N] [--parts K] [--out PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

# This script's folder shadows the package of the same name: load the package, not the script.
_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import data  # noqa: E402
import simulators as sim  # noqa: E402
from benchmarks import _machine  # noqa: E402
from pipeline.cluster import gpu_cluster, visible_gpus  # noqa: E402


def _worker_device() -> dict:
    """What one worker process sees: its CUDA_VISIBLE_DEVICES and the devices numba.cuda lists."""
    from numba import cuda

    return {"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "devices": [_machine.device_name(gpu) for gpu in cuda.gpus], "pid": os.getpid()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--out", type=pathlib.Path, default=_HERE / "results" / "gpu_dask.json",
                        help="results file (default benchmarks/results/gpu_dask.json)")
    args = parser.parse_args()
    from simulators.simulate import _gpu_usable

    if not _gpu_usable():
        print("benchmarks/gpu_dask.py: no usable CUDA device here; nothing measured, nothing "
              "written.", file=sys.stderr)
        sys.exit(2)
    model = sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.01, steps_per_year=252,
                       inputs=("spot", "variance", "kappa", "theta", "xi", "rho"))
    sampler = sim.UniformSampler(low=[80, 0.02, 1.0, 0.03, 0.2, -0.9],
                                 high=[120, 0.06, 2.0, 0.05, 0.3, -0.5])
    spec = data.DatasetSpec(name="gpu-dask", model=model, product=sim.European(100.0, 1.0, "put"),
                            sampler=sampler, seed=21, n_paths=args.paths, backend="gpu",
                            chunk_paths=args.paths)
    chunk = -(-args.paths // args.parts)
    out: dict = {"paths": args.paths, "parts": args.parts, "visible_gpus": visible_gpus()}
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        t0 = time.perf_counter()
        one = data.find_or_create(spec, root=root / "in_process")
        out["in_process_gpu_s"] = time.perf_counter() - t0

        from distributed import Client

        t0 = time.perf_counter()
        with gpu_cluster() as cluster, Client(cluster) as client:
            out["cluster_start_s"] = time.perf_counter() - t0
            out["workers"] = list(client.run(_worker_device).values())
            t0 = time.perf_counter()
            split = data.find_or_create(spec, root=root / "cluster", client=client,
                                        chunk_paths=chunk)
            out["cluster_gpu_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cpu = data.find_or_create(dataclasses.replace(spec, backend="cpu"), root=root / "cpu")
        out["cpu_s"] = time.perf_counter() - t0

        a, b, c = one.load(), split.load(), cpu.load()
        out["parts_in_process"], out["parts_cluster"] = len(one.parts), len(split.parts)
        out["hash_in_process"], out["hash_cluster"] = one.hash, split.hash
        out["cluster_equals_in_process_bit_for_bit"] = bool(
            all(np.array_equal(p, q) for p, q in zip(a.arrays(), b.arrays(), strict=True)))
        rel = {}
        for name, g, h in zip(("x", "y", "dydx"), a.arrays(), c.arrays(), strict=True):
            rel[name] = float(np.abs(g - h).max() / max(np.abs(h).max(), 1e-300))
        out["gpu_vs_cpu_max_rel_diff"] = rel
    out["one_device_per_worker"] = all(len(w["devices"]) == 1 for w in out["workers"])
    machine = _machine.describe()
    out = {"machine": machine, **out}
    path = args.out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    print(f"wrote {path}")
    if not (out["cluster_equals_in_process_bit_for_bit"] and out["one_device_per_worker"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
