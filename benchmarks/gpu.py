"""GPU simulator throughput (Numba-CUDA kernels with hand-written adjoints) on one device.

Measures, with CUDA events, in one run:
* Black-Scholes, one exact step, 1e8 paths: payoff, delta and vega (two adjoints), float64;
* Heston, 1e7 paths x 252 log-Euler steps, six adjoints (spot, variance, kappa, theta, xi, rho),
  stored in float64 and in float32 (computed in float64 either way: the project's dtype
  contract; float32 halves the output and the copy to the host);
* a 10-asset Black-Scholes basket call, 1e7 paths, spot deltas;
and prints path-steps/s, the ratio of the time to the floors of docs/methods.md section 3 (H200:
~1 ms for 1e8 one-step paths written in float64; ~0.5 s for 1e8 Heston paths x 252 steps with
adjoints, i.e. ~0.05 s for 1e7), the GPU/CPU speedup against the CPU kernels measured in the same
run (on fewer paths, compared per path: as many as take the CPU at least half a second), the share
of time spent copying results to the host, and the largest GPU/CPU difference on the first paths.
The floors are H200 figures; on another card they are scaled by the ratio of the device-to-device
copy bandwidth measured in the same run to an H200's (about 4.3 TB/s, bytes read plus written),
and the unscaled ratio is kept beside. The Heston floor is an arithmetic bound (float64 operations
per path-step), which the H100 and the H200 share, so it is not scaled. Writes
benchmarks/results/gpu.json (or --out).

Without a usable CUDA device it prints why and exits with status 2, writing nothing.
Usage: python benchmarks/gpu.py [--quick] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
from typing import Literal, get_args

import numpy as np

# This script's folder shadows the package of the same name: load the package, not the script.
_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import simulators as sim  # noqa: E402
from benchmarks import _machine  # noqa: E402
from simulators import _dispatch  # noqa: E402

FLOOR_BS_1E8 = 1e-3  # s, H200, 1e8 one-step paths written in float64 (docs/methods.md section 3)
FLOOR_HESTON_1E8 = 0.5  # s, H200, 1e8 Heston paths x 252 steps with adjoints, float64
H200_COPY_BANDWIDTH = 4.3e12  # B/s, an H200's device-to-device copy, bytes read plus written


def _device_or_exit():
    """numba.cuda when a real device is usable; otherwise a message and exit status 2."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        print("benchmarks/gpu.py: NUMBA_ENABLE_CUDASIM=1 is set; the simulator has no timings "
              "worth recording. Unset it and run on a machine with a CUDA device.",
              file=sys.stderr)
        sys.exit(2)
    try:
        from numba import cuda
    except ImportError as exc:
        print(f"benchmarks/gpu.py: numba.cuda is not importable ({exc}); install the 'gpu' "
              "extra (pip install 'diffml[gpu]'). Nothing written.", file=sys.stderr)
        sys.exit(2)
    try:
        ok = cuda.is_available()
    except Exception:  # noqa: BLE001
        ok = False
    if not ok:
        print("benchmarks/gpu.py: no usable CUDA device here; nothing measured, nothing written.",
              file=sys.stderr)
        sys.exit(2)
    return cuda


def _events_time(cuda, fn, repeats: int) -> float:
    """Best of ``repeats`` wall times of ``fn`` in seconds, measured by CUDA events."""
    fn()  # warm-up: JIT compilation, allocations
    cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        start, end = cuda.event(), cuda.event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3)
    return best


def copy_bandwidth(cuda, nbytes: int = 2 << 30, repeats: int = 5) -> float:
    """Device-to-device copy bandwidth in B/s (bytes read plus written), best of ``repeats``."""
    n = nbytes // 8
    src = cuda.to_device(np.arange(n, dtype=np.float64))
    dst = cuda.device_array(n, dtype=np.float64)
    t = _events_time(cuda, lambda: dst.copy_to_device(src), repeats)
    if not np.array_equal(dst[-4:].copy_to_host(), np.arange(n - 4, n, dtype=np.float64)):
        raise RuntimeError("device-to-device copy check failed")
    return 2 * nbytes / t


CPU_MIN_SECONDS = 0.5  # the shortest CPU timing behind gpu_over_cpu


def _cpu_time(fn, repeats: int = 2) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


FloorKind = Literal["bandwidth", "arithmetic"]


def floor_fields(kernel_s: float, floor_h200_s: float, kind: FloorKind, scale: float) -> dict:
    """The floor on this card and the kernel's ratio to it. A ``"bandwidth"`` floor (bytes
    over memory bandwidth) scales by ``scale``, the H200's copy bandwidth over this card's; an
    ``"arithmetic"`` one (float64 operations) does not: the H100 and the H200 share one float64
    rate. The unscaled H200 ratio is kept beside."""
    if kind not in get_args(FloorKind):
        raise ValueError(f"floor kind must be one of {get_args(FloorKind)}; got {kind!r}")
    floor_s = floor_h200_s * (scale if kind == "bandwidth" else 1.0)
    return {"floor_kind": kind, "floor_h200_s": floor_h200_s,
            "ratio_to_h200_floor": kernel_s / floor_h200_s,
            "floor_s": floor_s, "ratio_to_floor": kernel_s / floor_s}


def _max_rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def run_case(cuda, name, model, product, sampler, n, n_cpu, steps, floor_s, dtypes, repeats,
             floor_scale: float = 1.0, floor_kind: FloorKind = "bandwidth"):
    """Time one model on the GPU (kernel, copies) and on the CPU; returns result dicts.
    ``floor_s`` is the H200 floor, of ``floor_kind`` (see :func:`floor_fields`)."""
    from simulators import _gpu

    encoded = product.encode(model.dim)
    x = np.ascontiguousarray(sampler.sample(model, 1, 0, n), dtype=np.float64)
    t0 = time.perf_counter()
    x_dev = cuda.to_device(x)
    cuda.synchronize()
    h2d = time.perf_counter() - t0
    kernel, args, (blocks, tpb), y, dydx = _gpu.plan(
        model, product, encoded, x_dev, 1, 0, False,
        alloc=lambda shape: cuda.device_array(shape, dtype=np.float64), to_dev=cuda.to_device)
    t_kernel = _events_time(cuda, lambda: kernel[blocks, tpb](*args), repeats)

    # CPU kernel on at least n_cpu paths, same seed and path ids: speed, and a path-by-path
    # check. The sample grows until one CPU run takes CPU_MIN_SECONDS (or reaches n paths), so
    # the CPU rate is not a few milliseconds of thread start-up.
    drv = _dispatch.driver(model, "cpu")
    while True:
        xc = x[:n_cpu]
        t_cpu = _cpu_time(lambda xc=xc: drv(model, product, encoded, xc, 1, 0, False))
        if t_cpu >= CPU_MIN_SECONDS or n_cpu >= n:
            break
        n_cpu = min(n, int(n_cpu * 1.2 * CPU_MIN_SECONDS / max(t_cpu, 1e-3)))
    yc, gc = drv(model, product, encoded, xc, 1, 0, False)
    m = min(n_cpu, 100_000)
    gpu_rate, cpu_rate = n / t_kernel, n_cpu / t_cpu
    out = []
    for dtype in dtypes:
        def to_host(dtype=dtype):
            yy, gg2 = _gpu._scaled(y, 1.0, dtype), _gpu._scaled(dydx, 1.0, dtype)
            return yy.copy_to_host(), gg2.copy_to_host()

        t_copy = _events_time(cuda, to_host, repeats)
        yg, gg = (a[:m] for a in to_host())  # as stored, against the CPU's cast alike
        max_rel = max(_max_rel(yg, yc[:m].astype(dtype)), _max_rel(gg, gc[:m].astype(dtype)))
        total = t_kernel + t_copy
        r = {
            "case": name, "dtype": dtype, "n_paths": n, "steps": steps,
            "n_inputs": x.shape[1], "kernel_s": t_kernel, "copy_to_host_s": t_copy,
            "copy_x_to_device_s": h2d, "copy_share": t_copy / total,
            "path_steps_per_s": n * steps / t_kernel,
            **floor_fields(t_kernel, floor_s, floor_kind, floor_scale),
            "cpu_paths": n_cpu, "cpu_s": t_cpu, "cpu_path_steps_per_s": n_cpu * steps / t_cpu,
            "gpu_over_cpu": gpu_rate / cpu_rate, "max_rel_diff_vs_cpu": max_rel,
            "launch": {"blocks": blocks, "threads_per_block": tpb},
        }
        print(f"{name:<34s} {dtype:<8s} kernel {t_kernel * 1e3:9.2f} ms  "
              f"{r['path_steps_per_s']:.3e} path-steps/s  x floor {r['ratio_to_floor']:6.2f}  "
              f"GPU/CPU {r['gpu_over_cpu']:7.1f}  copy share {r['copy_share']:.2f}  "
              f"max rel diff {max_rel:.1e}", flush=True)
        out.append(r)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1/10 of the sizes")
    parser.add_argument("--out", type=pathlib.Path, default=_HERE / "results" / "gpu.json",
                        help="results file (default benchmarks/results/gpu.json)")
    args = parser.parse_args()
    cuda = _device_or_exit()
    q = 10 if args.quick else 1
    repeats = 3
    results = []
    bandwidth = copy_bandwidth(cuda)
    scale = H200_COPY_BANDWIDTH / bandwidth
    print(f"device-to-device copy: {bandwidth / 1e12:.2f} TB/s (read + write); floors scaled "
          f"by {scale:.2f} from the H200's", flush=True)

    bs = sim.BlackScholes(vol=0.2, rate=0.0, inputs=("spot", "vol"))
    n = 100_000_000 // q
    results += run_case(cuda, "black_scholes_call_delta_vega", bs, sim.European(1.1, 1.0, "call"),
                        sim.UniformSampler(low=[0.5, 0.1], high=[1.5, 0.4]), n, 2_000_000, 1,
                        FLOOR_BS_1E8 * n / 1e8, ("float64",), repeats, scale)

    heston = sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.0, steps_per_year=252,
                        inputs=("spot", "variance", "kappa", "theta", "xi", "rho"))
    h_s = sim.UniformSampler(low=[80, 0.02, 1.0, 0.03, 0.2, -0.9],
                             high=[120, 0.06, 2.0, 0.05, 0.3, -0.5])
    n = 10_000_000 // q
    results += run_case(cuda, "heston_252_six_adjoints", heston, sim.European(100.0, 1.0, "put"),
                        h_s, n, 20_000, 252, FLOOR_HESTON_1E8 * n / 1e8,
                        ("float64", "float32"), repeats, scale, "arithmetic")

    d = 10
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, size=(2 * d, d))
    c = a.T @ a
    c = c / np.sqrt(np.outer(np.diag(c), np.diag(c)))
    np.fill_diagonal(c, 1.0)
    basket = sim.BlackScholesBasket(vols=tuple(np.linspace(0.15, 0.35, d)),
                                    correlation=0.5 * (c + c.T), rate=0.01)
    n = 10_000_000 // q
    results += run_case(cuda, "bs_basket_10_assets_call", basket,
                        sim.BasketOption((1.0 / d,) * d, 1.0, 1.0, "call"),
                        sim.UniformSampler(low=[0.8] * d, high=[1.2] * d), n, 500_000, 1,
                        FLOOR_BS_1E8 * n / 1e8 * d, ("float64",), repeats, scale)

    machine = _machine.describe()
    machine["versions"] = _machine.package_versions()
    report = {
        "machine": machine,
        "copy_bandwidth_bytes_per_s": bandwidth,
        "floor_scale": scale,
        "notes": "kernel_s: best of 3 by CUDA events, inputs already on the device; "
                 "float32 = float64 arithmetic, float32 storage; floors from docs/methods.md "
                 "section 3 scaled linearly in paths (basket: x number of assets); floor_s is "
                 "the H200 floor (floor_h200_s), times floor_scale (the H200's copy bandwidth, "
                 "4.3 TB/s, over this card's measured one) for a bandwidth floor and unscaled "
                 "for an arithmetic one (floor_kind); max_rel_diff_vs_cpu compares the first "
                 "100k paths as stored (float32: against the CPU's values cast alike); "
                 "gpu_over_cpu compares paths/s with the CPU kernels on all cores of this "
                 "machine, timed on cpu_paths paths (grown until one CPU run takes at least "
                 f"{CPU_MIN_SECONDS} s).",
        "quick": bool(args.quick),
        "results": results,
    }
    path = args.out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
