"""Dataset layer throughput: Parquet writes and verified reads, chunked generation on 1 and 2
Dask workers, and peak memory while generating a dataset larger than one chunk.

Prints rows/s and MB/s, the 2-worker / 1-worker scaling ratio and peak RSS figures, and writes
benchmarks/results/data.json with a machine description.

Usage: python benchmarks/data.py [--quick] [--rows 20000000] [--chunk 1000000]
                                 [--io-rows 5000000] [--dir DIR] [--output FILE]

All files go to a temporary directory under ``--dir`` (default: the system's temporary
directory; on the benchmark machine the same disk as the project) and are removed afterwards.
Reads run with a warm page cache (just written).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

# This script's folder shadows the package of the same name: load the package, not the script.
_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

import data  # noqa: E402
import simulators as sim  # noqa: E402
from benchmarks import _machine  # noqa: E402

REPO = _HERE.parent
MB = 1e6


def bs_spec(n_paths: int, chunk: int, name: str = "bench") -> data.DatasetSpec:
    """The Black-Scholes call of the paper's first example, x = spot at T1 (forward-sampled)."""
    return data.DatasetSpec(name=name, model=sim.BlackScholes(vol=0.2),
                            product=sim.European(strike=1.10, maturity=1.0, kind="call"),
                            sampler=sim.ForwardSampler(spot=1.0, horizon=1.0, vol_mult=1.5),
                            seed=1234, n_paths=n_paths, chunk_paths=chunk)


def basket_spec(n_paths: int, chunk: int) -> data.DatasetSpec:
    model, product = sim.random_bachelier_basket(dim=7, seed=1)
    return data.DatasetSpec(name="bench-basket", model=model, product=product,
                            sampler=sim.ForwardSampler(spot=1.0, horizon=1.0, vol_mult=1.5),
                            seed=1234, n_paths=n_paths, chunk_paths=chunk)


def best(fn, repeats: int = 3) -> float:
    t = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def io_bench(spec: data.DatasetSpec, work: pathlib.Path) -> dict:
    """Write an in-memory sample (best of 3) and read it back with and without checksums."""
    sample = sim.simulate(spec.model, spec.product, spec.sampler, n_paths=spec.n_paths,
                          seed=spec.seed)
    raw = sample.x.nbytes + sample.y.nbytes + sample.dydx.nbytes + 8 * spec.n_paths
    roots = []

    def write():
        root = work / f"io-{len(roots)}"
        roots.append(root)
        return data.write_dataset(sample, root=root, spec=spec)

    t_write = best(write)
    path = data.write_dataset(sample, root=roots[-1], spec=spec)
    for r in roots[:-1]:
        shutil.rmtree(r)
    disk = sum(f.stat().st_size for f in path.glob("part-*.parquet"))

    def read(verify: bool):
        ds = data.open_dataset(path, verify=verify).load()
        assert np.array_equal(ds.y, sample.y)

    t_read_v = best(lambda: read(True))
    t_read_nv = best(lambda: read(False))

    def read_pyarrow():  # baseline: plain pyarrow, no checks, no copy into (n, d) arrays
        import pyarrow.parquet as pq

        pq.read_table([str(f) for f in sorted(path.glob("part-*.parquet"))])

    t_pa = best(read_pyarrow)
    t_verify = best(lambda: data.open_dataset(path).verify())
    shutil.rmtree(roots[-1])
    n = spec.n_paths

    def rate(t: float) -> dict:
        return {"seconds": round(t, 4), "rows_per_s": round(n / t), "disk_MB_per_s":
                round(disk / t / MB, 1), "raw_MB_per_s": round(raw / t / MB, 1)}

    return {
        "rows": n, "inputs": len(spec.inputs), "chunk_paths": spec.chunk_paths,
        "raw_MB": round(raw / MB, 1), "disk_MB": round(disk / MB, 1),
        "write": rate(t_write),
        "read_verified": rate(t_read_v),
        "read_unverified": rate(t_read_nv),
        "verify_only": rate(t_verify),
        "pyarrow_read_table_baseline": rate(t_pa),
        "checksum_overhead_on_read": round(t_read_v / t_read_nv, 3),
    }


def _warm(client) -> None:
    def warm():
        import simulators

        simulators.simulate(simulators.BlackScholes(vol=0.2),
                            simulators.European(strike=1.1, maturity=1.0),
                            simulators.ForwardSampler(spot=1.0, horizon=1.0), n_paths=1000,
                            seed=0)

    client.run(warm)


def _cpu(client=None) -> float:
    """CPU seconds (user + system) used so far by this process and the client's workers."""
    def own() -> float:
        t = os.times()
        return t.user + t.system

    total = own()
    if client is not None:
        total += sum(client.run(own).values())
    return total


CONFIGS = {  # name: (Dask workers or None, NUMBA_NUM_THREADS in the workers or None)
    "serial_no_dask": (None, None),
    "dask_1_worker": (1, None),
    "dask_2_worker": (2, None),
    "dask_1_worker_numba_1_thread": (1, 1),
    "dask_2_worker_numba_1_thread": (2, 1),
}


def _timed_generate(spec: data.DatasetSpec, root: pathlib.Path, workers: int | None,
                    numba_threads: int | None) -> tuple[float, float, list[str]]:
    """(wall seconds, CPU seconds, part checksums) of one generate() into a fresh root; the
    cluster's start-up and JIT warm-up are not timed."""
    from distributed import Client, LocalCluster

    if workers is None:
        c0, t0 = _cpu(), time.perf_counter()
        path = data.generate(spec, root=root)
        t, cpu = time.perf_counter() - t0, _cpu() - c0
    else:
        env = {} if numba_threads is None else {"NUMBA_NUM_THREADS": str(numba_threads)}
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0", env=env) as cluster, \
                Client(cluster) as client:
            _warm(client)
            c0, t0 = _cpu(client), time.perf_counter()
            path = data.generate(spec, root=root, client=client)
            t, cpu = time.perf_counter() - t0, _cpu(client) - c0
    sums = [p["sha256"] for p in data.read_manifest(path)["parts"]]
    shutil.rmtree(root)
    return t, cpu, sums


def generation_bench(rows: int, chunk: int, work: pathlib.Path, repeats: int) -> dict:
    """End-to-end generate() of ``rows`` Black-Scholes rows without Dask and with 1 and 2 Dask
    workers; configurations are interleaved ``repeats`` times and the fastest run is kept,
    which damps the effect of other jobs on a shared machine."""
    spec = bs_spec(rows, chunk)
    out = {"rows": rows, "chunk_paths": chunk, "parts": -(-rows // chunk), "repeats": repeats}
    sim.simulate(spec.model, spec.product, spec.sampler, n_paths=1000, seed=0)  # JIT warm-up
    path = data.generate(spec, root=work / "gen-size")
    disk = sum(f.stat().st_size for f in path.glob("part-*.parquet"))
    reference = [p["sha256"] for p in data.read_manifest(path)["parts"]]
    shutil.rmtree(work / "gen-size")
    out["disk_MB"] = round(disk / MB, 1)
    runs: dict[str, list] = {name: [] for name in CONFIGS}
    for _ in range(repeats):
        for name, (workers, numba_threads) in CONFIGS.items():
            load = os.getloadavg()[0]
            t, cpu, sums = _timed_generate(spec, work / f"gen-{name}", workers, numba_threads)
            runs[name].append((t, cpu, load, sums == reference))
    for name, rs in runs.items():
        t, cpu, load, _ = min(rs)
        out[name] = {"seconds": round(t, 3), "rows_per_s": round(rows / t),
                     "disk_MB_per_s": round(disk / t / MB, 1),
                     "all_seconds": [round(r[0], 2) for r in rs],
                     "bit_identical_to_serial": all(r[3] for r in rs),
                     "cpu_seconds": round(cpu, 2), "cpu_per_wall": round(cpu / t, 2),
                     "load_average_before": round(load, 2)}
    for suffix in ("", "_numba_1_thread"):
        out[f"scaling_2_vs_1_worker{suffix}"] = round(
            out[f"dask_1_worker{suffix}"]["seconds"] / out[f"dask_2_worker{suffix}"]["seconds"],
            3)
    return out


RSS_SCRIPT = """
import json, sys
sys.path.insert(0, {repo!r})
import data, simulators as sim
from benchmarks.data import bs_spec

def status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) / 1024  # MB

mode, n, chunk, root = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
spec = bs_spec(n, chunk, name="rss")
sim.simulate(spec.model, spec.product, spec.sampler, n_paths=1000, seed=0)  # JIT / imports
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset the peak (VmHWM) to the current RSS
base = status("VmRSS")
if mode == "generate":
    data.generate(spec, root=root)
elif mode == "in_memory":
    s = sim.simulate(spec.model, spec.product, spec.sampler, n_paths=n, seed=spec.seed)
    data.write_dataset(s, root=root, spec=spec)
print(json.dumps({{"baseline_MB": base, "peak_MB": status("VmHWM")}}))
"""


def rss_bench(chunk: int, work: pathlib.Path) -> dict:
    """Peak RSS of a process generating 1x, 4x and 16x one chunk (bounded), and of simulating
    4x one chunk in memory and writing it (grows with the data), each in a fresh process."""
    script = RSS_SCRIPT.format(repo=str(REPO))
    out = {"chunk_paths": chunk, "runs": []}
    for mode, mult in (("generate", 1), ("generate", 4), ("generate", 16), ("in_memory", 4)):
        root = work / f"rss-{mode}-{mult}"
        res = subprocess.run([sys.executable, "-c", script, mode, str(mult * chunk), str(chunk),
                              str(root)], check=True, capture_output=True, text=True,
                             env={**os.environ, "NUMBA_CACHE_DIR": str(REPO / ".numba_cache")})
        r = json.loads(res.stdout.strip().splitlines()[-1])
        shutil.rmtree(root, ignore_errors=True)
        out["runs"].append({"mode": mode, "rows": mult * chunk, "chunks": mult,
                            "baseline_MB": round(r["baseline_MB"], 1),
                            "peak_MB": round(r["peak_MB"], 1),
                            "above_baseline_MB": round(r["peak_MB"] - r["baseline_MB"], 1)})
    gen = {run["chunks"]: run["above_baseline_MB"] for run in out["runs"]
           if run["mode"] == "generate"}
    out["growth_16_vs_1_chunk"] = round(gen[16] / gen[1], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000_000, help="rows for end-to-end generation")
    ap.add_argument("--chunk", type=int, default=1_000_000, help="rows per part / task")
    ap.add_argument("--io-rows", type=int, default=5_000_000, help="rows for write/read rates")
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where temporary datasets go")
    ap.add_argument("--output", default=str(_HERE / "results" / "data.json"))
    ap.add_argument("--repeats", type=int, default=2,
                    help="interleaved repetitions of each generation run (fastest kept)")
    ap.add_argument("--quick", action="store_true",
                    help="2M generated rows, 1M for write/read, chunks of 250k (about a minute)")
    args = ap.parse_args()
    if args.quick:
        args.rows, args.io_rows, args.chunk, args.repeats = 2_000_000, 1_000_000, 250_000, 1
    os.environ.setdefault("NUMBA_CACHE_DIR", str(REPO / ".numba_cache"))
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")

    machine = _machine.describe()
    try:
        machine["memory_GB"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                     / 1e9, 1)
    except (ValueError, OSError):
        pass
    import distributed

    machine["versions"] = {"pyarrow": pa.__version__, "numpy": np.__version__,
                           "distributed": distributed.__version__,
                           "diffml": data.manifest.package_version()}
    machine["load_average_at_start"] = [round(v, 2) for v in os.getloadavg()]
    result = {"benchmark": "data", "machine": machine,
              "settings": {"compression": "lz4 (LZ4_RAW)", "page_checksums": True, "fsync": True,
                           "page_cache": "warm (reads follow writes)"}}
    with tempfile.TemporaryDirectory(prefix=".bench-data-", dir=args.dir) as tmp:
        work = pathlib.Path(tmp)
        print(f"machine: {machine['cpu']}, {machine['cores']} cores, GPU {machine['gpu']}")
        t0 = time.perf_counter()
        result["io_black_scholes"] = io_bench(bs_spec(args.io_rows, args.chunk), work)
        result["io_basket7"] = io_bench(basket_spec(args.io_rows // 5, args.chunk), work)
        for key in ("io_black_scholes", "io_basket7"):
            r = result[key]
            print(f"{key}: {r['rows']} rows x {r['inputs']} inputs, {r['disk_MB']} MB on disk")
            for op in ("write", "read_verified", "read_unverified", "verify_only",
                       "pyarrow_read_table_baseline"):
                print(f"  {op:28s} {r[op]['rows_per_s'] / 1e6:7.2f} M rows/s "
                      f"{r[op]['raw_MB_per_s']:8.1f} MB/s raw {r[op]['disk_MB_per_s']:8.1f} "
                      "MB/s on disk")
        g = generation_bench(args.rows, args.chunk, work, args.repeats)
        result["generation"] = g
        print(f"generate {g['rows']} Black-Scholes rows in {g['parts']} parts:")
        for key in CONFIGS:
            print(f"  {key:30s} {g[key]['seconds']:7.2f} s {g[key]['rows_per_s'] / 1e6:6.2f} "
                  f"M rows/s, {g[key]['cpu_per_wall']:.2f} cores busy, load average before "
                  f"{g[key]['load_average_before']:.1f}")
        print(f"  scaling 2 vs 1 worker: {g['scaling_2_vs_1_worker']:.2f}x (numba kernels use "
              "every core in each worker); with 1 numba thread per worker: "
              f"{g['scaling_2_vs_1_worker_numba_1_thread']:.2f}x")
        r = rss_bench(args.chunk, work)
        result["peak_rss"] = r
        for run in r["runs"]:
            print(f"peak RSS {run['mode']:9s} {run['rows']:>9d} rows ({run['chunks']:2d} chunks): "
                  f"{run['peak_MB']:7.1f} MB ({run['above_baseline_MB']:6.1f} MB above import)")
        result["total_seconds"] = round(time.perf_counter() - t0, 1)
        machine["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    pathlib.Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
