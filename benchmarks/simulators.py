"""Simulator throughput: Numba kernels with hand-written adjoints vs NumPy and torch autograd.

Every comparison is per core and measured in the same run: our kernels on one Numba thread
against vectorised NumPy and torch autograd on one thread each (BLAS and torch limited to one
thread). Reports normals/s of our counter-based generator against NumPy's ``standard_normal``
(default generator, PCG64 + ziggurat, and ``Generator(Philox())``), paths/s of every kernel,
the adjoint over value-only ratio, the share of each kernel's time spent drawing its normals,
and the whole-machine rate (all Numba threads). Writes benchmarks/results/simulators.json.
Usage: python benchmarks/simulators.py [--quick]
"""

from __future__ import annotations

import os

# One BLAS thread for NumPy's baselines: set before NumPy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

# This script's folder shadows the package of the same name: load the package, not the script.
_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


import simulators as sim  # noqa: E402
from benchmarks import _machine  # noqa: E402
from benchmarks._draw_kernels import draw_only_kernel  # noqa: E402
from benchmarks._value_kernel import black_scholes_value_kernel  # noqa: E402
from simulators import _cpu, _dispatch, _kernel_args, rng  # noqa: E402
from simulators.heston import heston_block_width  # noqa: E402


def best_time(fn, repeats: int = 5) -> float:
    """Best of ``repeats`` timings after a warm-up call (compilation, caches)."""
    fn()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


class Threads:
    """``with Threads(k):`` runs Numba kernels on k threads."""

    def __init__(self, k: int) -> None:
        self.k = k

    def __enter__(self):
        self.before = numba.get_num_threads()
        numba.set_num_threads(self.k)

    def __exit__(self, *exc):
        numba.set_num_threads(self.before)


# ------------------------------------------------------------------------------------------------
# Baselines: vectorised NumPy (value and the same pathwise derivatives, by hand) and torch
# autograd (the forward pass in torch, derivatives by reverse mode), one thread each.


def bs_numpy(x, vol, tau, strike, seed):
    z = np.random.default_rng(seed).standard_normal(len(x))
    sqt = math.sqrt(tau)
    s_t = x * np.exp(-0.5 * vol * vol * tau + vol * sqt * z)
    itm = s_t > strike
    y = np.where(itm, s_t - strike, 0.0)
    delta = np.where(itm, s_t / x, 0.0)
    vega = np.where(itm, s_t * (sqt * z - vol * tau), 0.0)
    return y, delta, vega


def bs_torch(x, vol, tau, strike, seed):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(len(x), generator=g, dtype=torch.float64)
    s0 = torch.tensor(x, requires_grad=True)
    sig = torch.full_like(s0, vol, requires_grad=True)
    s_t = s0 * torch.exp(-0.5 * sig * sig * tau + sig * math.sqrt(tau) * z)
    y = torch.clamp(s_t - strike, min=0.0)
    return torch.autograd.grad(y.sum(), (s0, sig))


def basket_numpy(x, chol, weights, tau, strike, seed):
    z = np.random.default_rng(seed).standard_normal(x.shape)
    s_t = x + math.sqrt(tau) * z @ chol.T
    b = s_t @ weights
    y = np.maximum(b - strike, 0.0)
    return y, (b > strike)[:, None] * weights[None, :]


def basket_torch(x, chol, weights, tau, strike, seed):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(x.shape, generator=g, dtype=torch.float64)
    xt = torch.tensor(x, requires_grad=True)
    s_t = xt + math.sqrt(tau) * z @ torch.tensor(chol).T
    y = torch.clamp(s_t @ torch.tensor(weights) - strike, min=0.0)
    return torch.autograd.grad(y.sum(), xt)


def worst_of_numpy(x, chol, vol, tau, strike, seed):
    """Worst-of put on lognormal assets: value and the d deltas (to the arg-min asset)."""
    n, d = x.shape
    z = np.random.default_rng(seed).standard_normal((n, d))
    s_t = x * np.exp(-0.5 * vol * vol * tau + vol * math.sqrt(tau) * (z @ chol.T))
    k = np.argmin(s_t, axis=1)
    u = s_t[np.arange(n), k]
    itm = u < strike
    y = np.where(itm, strike - u, 0.0)
    grad = np.zeros((n, d))
    grad[np.arange(n), k] = np.where(itm, -u / x[np.arange(n), k], 0.0)
    return y, grad


def worst_of_torch(x, chol, vol, tau, strike, seed):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(x.shape, generator=g, dtype=torch.float64)
    xt = torch.tensor(x, requires_grad=True)
    s_t = xt * torch.exp(-0.5 * vol * vol * tau + vol * math.sqrt(tau) * (z @ torch.tensor(chol).T))
    y = torch.clamp(strike - s_t.min(dim=1).values, min=0.0)
    return torch.autograd.grad(y.sum(), xt)


def heston_numpy(n, steps, p, tau, strike, seed):
    """Vectorised NumPy log-Euler full-truncation Heston, value only (the same scheme)."""
    rng_ = np.random.default_rng(seed)
    dt = tau / steps
    xl = np.full(n, math.log(100.0))
    v = np.full(n, 0.04)
    srho = math.sqrt(1 - p["rho"] ** 2)
    for _ in range(steps):
        z1 = rng_.standard_normal(n)
        z2 = rng_.standard_normal(n)
        vp = np.maximum(v, 0.0)
        sv = np.sqrt(vp * dt)
        xl += (p["rate"] - 0.5 * vp) * dt + sv * z1
        v += p["kappa"] * (p["theta"] - vp) * dt + p["xi"] * sv * (p["rho"] * z1 + srho * z2)
    return np.exp(-p["rate"] * tau) * np.maximum(strike - np.exp(xl), 0.0)


def heston_torch(n, steps, p, tau, strike, seed):
    """The same scheme in torch, with autograd to spot, variance, kappa, theta, xi and rho."""
    g = torch.Generator().manual_seed(seed)
    dt = tau / steps
    leaves = [torch.full((n,), v, dtype=torch.float64, requires_grad=True)
              for v in (100.0, 0.04, p["kappa"], p["theta"], p["xi"], p["rho"])]
    s0, v0, kappa, theta, xi, rho = leaves
    srho = torch.sqrt(torch.clamp(1 - rho * rho, min=0.0))
    xl = torch.log(s0)
    v = v0
    for _ in range(steps):
        z = torch.randn((2, n), generator=g, dtype=torch.float64)
        vp = torch.clamp(v, min=0.0)
        sv = torch.sqrt(vp * dt)
        xl = xl + (p["rate"] - 0.5 * vp) * dt + sv * z[0]
        v = v + kappa * (theta - vp) * dt + xi * sv * (rho * z[0] + srho * z[1])
    y = math.exp(-p["rate"] * tau) * torch.clamp(strike - torch.exp(xl), min=0.0)
    return torch.autograd.grad(y.sum(), leaves)


# ------------------------------------------------------------------------------------------------


def normals_section(n: int) -> dict:
    """Normals/s on one thread: ``rng.normals`` (into an (n_paths, n_draws) array) against
    NumPy's ``standard_normal`` into an array of the same size."""
    out = {"normals": n}
    with Threads(1):
        for k in (1, 4):
            t = best_time(lambda k=k: rng.normals(1, n // k, k))
            out[f"ours_{k}_draws_per_path_normals_per_s"] = n // k * k / t
    pcg = np.random.default_rng(1)
    philox = np.random.Generator(np.random.Philox(1))
    out["numpy_default_normals_per_s"] = n / best_time(lambda: pcg.standard_normal(n))
    out["numpy_philox_normals_per_s"] = n / best_time(lambda: philox.standard_normal(n))
    ours = out["ours_4_draws_per_path_normals_per_s"]
    out["speedup_vs_numpy_default"] = ours / out["numpy_default_normals_per_s"]
    out["speedup_vs_numpy_philox"] = ours / out["numpy_philox_normals_per_s"]
    return out


def draw_time(n: int, width: int, n_draws: int, group: int, repeat: int = 1) -> float:
    out = np.empty((n + width - 1) // width)
    return best_time(lambda: draw_only_kernel(np.uint64(1), np.uint64(0), n, width, n_draws,
                                              group, repeat, out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--out", default="benchmarks/results/simulators.json")
    args = ap.parse_args()
    scale = 0.1 if args.quick else 1.0
    threads = numba.get_num_threads()
    torch.set_num_threads(1)
    machine = _machine.describe()
    machine["versions"] = {"numba": numba.__version__, "numpy": np.__version__,
                           "torch": torch.__version__}
    machine["load_average_at_start"] = list(os.getloadavg())
    res: dict = {"machine": machine, "numba_threads": threads,
                 "comparison": "per core: our kernels on one Numba thread against NumPy and "
                               "torch on one thread each; paths_per_s uses every Numba thread",
                 "results": {}}
    out = res["results"]
    seed = np.uint64(1)

    out["normals"] = normals_section(int(8_000_000 * scale))

    # Black-Scholes: payoff, delta and vega
    n = int(4_000_000 * scale)
    model = sim.BlackScholes(vol=0.2, inputs=("spot", "vol"))
    x = np.column_stack([np.linspace(0.5, 1.5, n), np.full(n, 0.2)])
    y, g = np.empty(n), np.empty((n, 2))
    legs = _kernel_args.kernel_legs(sim.European(1.1, 1.0, "call").encode(1))

    def run_bs():
        _cpu.black_scholes_kernel(x, 1, -1, 0.2, 0.0, 0.0, 1.0, *legs, seed, np.uint64(0),
                                  False, y, g)

    def run_bs_value():
        black_scholes_value_kernel(x, 0.2, 0.0, 0.0, 1.0, 0, 1.1, seed, np.uint64(0), y)

    with Threads(1):
        t_adj = best_time(run_bs)
        t_val = best_time(run_bs_value)
        t_draw = draw_time(n, _cpu.BLOCK, 1, 1)
    t_np = best_time(lambda: bs_numpy(x[:, 0], 0.2, 1.0, 1.1, 1), 3)
    t_torch = best_time(lambda: bs_torch(x[:, 0], 0.2, 1.0, 1.1, 1), 3)
    t_all = best_time(run_bs)
    t_val_all = best_time(run_bs_value)
    t_sim = best_time(lambda: sim.simulate(model, sim.European(1.1, 1.0),
                                           sim.UniformSampler([0.5, 0.1], [1.5, 0.3]), n, seed=1))
    out["black_scholes"] = {
        "paths": n, "paths_per_s": n / t_all, "paths_per_s_per_core": n / t_adj,
        "value_only_paths_per_s": n / t_val_all, "value_only_paths_per_s_per_core": n / t_val,
        "adjoint_overhead": t_adj / t_val, "draw_share": t_draw / t_adj,
        "numpy_paths_per_s": n / t_np, "speedup_vs_numpy": t_np / t_adj,
        "torch_autograd_paths_per_s": n / t_torch, "speedup_vs_torch_autograd": t_torch / t_adj,
        "simulate_with_uniform_sampler_paths_per_s": n / t_sim,
    }

    # Bachelier basket, 7 assets: payoff and 7 deltas
    n = int(1_000_000 * scale)
    bmodel, bprod = sim.random_bachelier_basket(7, seed=1)
    chol = bmodel.cholesky()
    w = np.asarray(bprod.weights)
    blegs = _kernel_args.kernel_legs(bprod.encode(7))
    xb = np.ascontiguousarray(1.0 + 0.1 * np.random.default_rng(0).standard_normal((n, 7)))
    yb, gb = np.empty(n), np.empty((n, 7))

    def run_bach(grad=True):
        _cpu.bachelier_kernel(xb, chol, 1.0, 0.0, *blegs, seed, np.uint64(0), False, grad, yb,
                              gb)

    with Threads(1):
        t_adj = best_time(run_bach)
        t_val = best_time(lambda: run_bach(False))
        t_draw = draw_time(n, _cpu.BASKET_BLOCK, 7, 7)
    t_np = best_time(lambda: basket_numpy(xb, chol, w, 1.0, 1.1, 1), 3)
    t_torch = best_time(lambda: basket_torch(xb, chol, w, 1.0, 1.1, 1), 3)
    t_all = best_time(run_bach)
    out["bachelier_basket_7"] = {
        "paths": n, "paths_per_s": n / t_all, "paths_per_s_per_core": n / t_adj,
        "adjoint_overhead": t_adj / t_val, "draw_share": t_draw / t_adj,
        "numpy_paths_per_s": n / t_np, "speedup_vs_numpy": t_np / t_adj,
        "torch_autograd_paths_per_s": n / t_torch, "speedup_vs_torch_autograd": t_torch / t_adj,
    }

    # Black-Scholes basket, worst-of put on 10 assets: payoff and 10 deltas
    n = int(1_000_000 * scale)
    dim = 10
    corr = np.full((dim, dim), 0.3)
    np.fill_diagonal(corr, 1.0)
    wmodel = sim.BlackScholesBasket(vols=[0.25] * dim, correlation=corr)
    wchol = wmodel.cholesky()
    wlegs = _kernel_args.kernel_legs(sim.WorstOf(1.0, 1.0, "put").encode(dim))
    xw = np.ascontiguousarray(1.0 + 0.1 * np.random.default_rng(1).random((n, dim)))
    yw, gw = np.empty(n), np.empty((n, dim))
    vols, divs = np.full(dim, 0.25), np.zeros(dim)

    def run_worst():
        _cpu.bs_basket_kernel(xw, wchol, vols, divs, False, 0.0, 1.0, *wlegs, seed,
                              np.uint64(0), False, yw, gw)

    with Threads(1):
        t_k = best_time(run_worst)
        t_draw = draw_time(n, _cpu.BASKET_BLOCK, dim, dim)
    t_np = best_time(lambda: worst_of_numpy(xw, wchol, 0.25, 1.0, 1.0, 1), 3)
    t_torch = best_time(lambda: worst_of_torch(xw, wchol, 0.25, 1.0, 1.0, 1), 3)
    out["worst_of_10_kernel"] = {
        "paths": n, "paths_per_s_per_core": n / t_k, "draw_share": t_draw / t_k,
        "numpy_paths_per_s": n / t_np, "speedup_vs_numpy": t_np / t_k,
        "torch_autograd_paths_per_s": n / t_torch, "speedup_vs_torch_autograd": t_torch / t_k,
    }

    # Heston, 252 steps, 6 sensitivities (spot, variance, kappa, theta, xi, rho)
    n = int(200_000 * scale)
    p = {"kappa": 1.5, "theta": 0.04, "xi": 0.3, "rho": -0.9, "rate": 0.025}
    hmodel = sim.Heston(**p, inputs=("spot", "variance", "kappa", "theta", "xi", "rho"))
    steps = hmodel.steps(1.0)
    xh = np.column_stack([np.full(n, 100.0), np.full(n, 0.04), np.full(n, 1.5), np.full(n, 0.04),
                          np.full(n, 0.3), np.full(n, -0.9)])
    prod = sim.European(100.0, 1.0, "put")
    enc = prod.encode(1)

    def run_heston(grad):
        _dispatch._heston_cpu(hmodel, prod, enc, xh, 1, 0, False, grad)

    width = heston_block_width(steps)
    with Threads(1):
        t_fwd = best_time(lambda: run_heston(False), 3)
        t_adj = best_time(lambda: run_heston(True), 3)
        t_draw = draw_time(n, width, 2 * steps, 4, repeat=2)
    t_np = best_time(lambda: heston_numpy(n, steps, p, 1.0, 100.0, 1), 2)
    n_torch = max(1000, n // 10)
    t_torch = best_time(lambda: heston_torch(n_torch, steps, p, 1.0, 100.0, 1), 2)
    t_all = best_time(lambda: run_heston(True), 3)
    ps = n * steps
    out["heston_252"] = {
        "paths": n, "steps": steps, "block_width": width,
        "forward_path_steps_per_s_per_core": ps / t_fwd,
        "forward_adjoint_path_steps_per_s": ps / t_all,
        "forward_adjoint_path_steps_per_s_per_core": ps / t_adj,
        "adjoint_over_forward": t_adj / t_fwd, "draw_share": t_draw / t_adj,
        "numpy_forward_path_steps_per_s": ps / t_np,
        "speedup_vs_numpy_forward_only": t_np / t_adj,
        "forward_speedup_vs_numpy": t_np / t_fwd,
        "torch_autograd_paths": n_torch,
        "torch_autograd_path_steps_per_s": n_torch * steps / t_torch,
        "speedup_vs_torch_autograd": (t_torch / (n_torch * steps)) / (t_adj / ps),
    }

    # Black-Scholes baskets through simulate (sampler included): worst-of and arithmetic,
    # 2 and 10 assets, every thread
    for dim in (2, 10):
        corr = np.full((dim, dim), 0.3)
        np.fill_diagonal(corr, 1.0)
        m = sim.BlackScholesBasket(vols=[0.25] * dim, correlation=corr)
        n = int(1_000_000 * scale)
        for name, prod in (("worst_of", sim.WorstOf(1.0, 1.0, "put")),
                           ("arithmetic", sim.BasketOption([1 / dim] * dim, 1.0, 1.0, "call"))):
            t = best_time(lambda m=m, prod=prod, n=n, dim=dim: sim.simulate(
                m, prod, sim.FixedSampler([1.0] * dim), n, seed=1), 3)
            out[f"{name}_{dim}"] = {"paths": n, "paths_per_s": n / t}

    res["machine"]["load_average_at_end"] = list(os.getloadavg())
    bs, bb, h = out["black_scholes"], out["bachelier_basket_7"], out["heston_252"]
    wo = out["worst_of_10_kernel"]
    torch_ratios = [r["speedup_vs_torch_autograd"] for r in (bs, bb, wo, h)]
    res["targets"] = {
        # per core, one thread against one thread
        "bs_speedup_vs_numpy_per_core>=2": bs["speedup_vs_numpy"] >= 2,
        "basket7_speedup_vs_numpy_per_core>=2": bb["speedup_vs_numpy"] >= 2,
        "heston_speedup_vs_numpy_forward_only_per_core>=3":
            h["speedup_vs_numpy_forward_only"] >= 3,
        "bs_adjoint_overhead<=1.5": bs["adjoint_overhead"] <= 1.5,
        "heston_adjoint_over_forward<=2": h["adjoint_over_forward"] <= 2,
        "torch_autograd_slower_per_core>=5_every_kernel": min(torch_ratios) >= 5,
        # earlier targets, now on the same per-core comparisons
        "bs_speedup_vs_numpy>=3": bs["speedup_vs_numpy"] >= 3,
        "bs_speedup_vs_torch>=10": bs["speedup_vs_torch_autograd"] >= 10,
        "bs_paths_per_s_per_core>=20M": bs["paths_per_s_per_core"] >= 20e6,
        "basket7_speedup_vs_numpy>=3": bb["speedup_vs_numpy"] >= 3,
        "basket7_speedup_vs_torch>=10": bb["speedup_vs_torch_autograd"] >= 10,
        "heston_speedup_vs_numpy>=5": h["speedup_vs_numpy_forward_only"] >= 5,
    }
    for key, val in out.items():
        print(f"{key:22s}", ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in val.items()))
    for key, ok in res["targets"].items():
        print(f"target {key:50s} {'met' if ok else 'MISSED'}")
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
