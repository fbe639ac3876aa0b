"""Simulator throughput: Numba kernels with hand-written adjoints vs NumPy and torch autograd.

Prints paths/s (or path-steps/s) and ratios measured in the same run, and writes
benchmarks/results/simulators.json. Usage: python benchmarks/simulators.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

import numba
import numpy as np
import torch

# This script's folder shadows the package of the same name: load the package, not the script.
_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))


import simulators as sim  # noqa: E402
from benchmarks import _machine  # noqa: E402
from benchmarks._value_kernel import black_scholes_value_kernel  # noqa: E402
from simulators import _cpu, _dispatch, _kernel_args  # noqa: E402


def best_time(fn, repeats: int = 3) -> float:
    fn()  # warm-up (compilation, caches)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


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


def heston_numpy(n, steps, p, tau, strike, seed):
    """Vectorised NumPy log-Euler full-truncation Heston, value only (the same scheme)."""
    rng = np.random.default_rng(seed)
    dt = tau / steps
    xl = np.full(n, math.log(100.0))
    v = np.full(n, 0.04)
    srho = math.sqrt(1 - p["rho"] ** 2)
    for _ in range(steps):
        z1 = rng.standard_normal(n)
        z2 = rng.standard_normal(n)
        vp = np.maximum(v, 0.0)
        sv = np.sqrt(vp * dt)
        xl += (p["rate"] - 0.5 * vp) * dt + sv * z1
        v += p["kappa"] * (p["theta"] - vp) * dt + p["xi"] * sv * (p["rho"] * z1 + srho * z2)
    return np.exp(-p["rate"] * tau) * np.maximum(strike - np.exp(xl), 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--out", default="benchmarks/results/simulators.json")
    args = ap.parse_args()
    scale = 0.1 if args.quick else 1.0
    threads = numba.get_num_threads()
    torch.set_num_threads(threads)
    res: dict = {"machine": _machine.describe(), "numba_threads": threads, "results": {}}
    out = res["results"]
    seed = np.uint64(1)

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

    t_adj = best_time(run_bs)
    t_val = best_time(run_bs_value)
    t_np = best_time(lambda: bs_numpy(x[:, 0], 0.2, 1.0, 1.1, 1), 2)
    t_torch = best_time(lambda: bs_torch(x[:, 0], 0.2, 1.0, 1.1, 1), 2)
    t_sim = best_time(lambda: sim.simulate(model, sim.European(1.1, 1.0),
                                           sim.UniformSampler([0.5, 0.1], [1.5, 0.3]), n, seed=1))
    out["black_scholes"] = {
        "paths": n, "paths_per_s": n / t_adj, "paths_per_s_per_core": n / t_adj / threads,
        "value_only_paths_per_s": n / t_val, "adjoint_overhead": t_adj / t_val,
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

    t_adj = best_time(run_bach)
    t_val = best_time(lambda: run_bach(False))
    t_np = best_time(lambda: basket_numpy(xb, chol, w, 1.0, 1.1, 1), 2)
    t_torch = best_time(lambda: basket_torch(xb, chol, w, 1.0, 1.1, 1), 2)
    out["bachelier_basket_7"] = {
        "paths": n, "paths_per_s": n / t_adj, "adjoint_overhead": t_adj / t_val,
        "numpy_paths_per_s": n / t_np, "speedup_vs_numpy": t_np / t_adj,
        "torch_autograd_paths_per_s": n / t_torch, "speedup_vs_torch_autograd": t_torch / t_adj,
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
    t_fwd = best_time(lambda: _dispatch._heston_cpu(hmodel, prod, enc, xh, 1, 0, False, False))
    t_adj = best_time(lambda: _dispatch._heston_cpu(hmodel, prod, enc, xh, 1, 0, False, True))
    t_np = best_time(lambda: heston_numpy(n, steps, p, 1.0, 100.0, 1), 1)
    ps = n * steps
    out["heston_252"] = {
        "paths": n, "steps": steps,
        "forward_path_steps_per_s": ps / t_fwd,
        "forward_adjoint_path_steps_per_s": ps / t_adj,
        "forward_adjoint_path_steps_per_s_per_core": ps / t_adj / threads,
        "adjoint_over_forward": t_adj / t_fwd,
        "numpy_forward_path_steps_per_s": ps / t_np,
        "speedup_vs_numpy_forward_only": t_np / t_adj,
        "forward_speedup_vs_numpy": t_np / t_fwd,
    }

    # Black-Scholes baskets: worst-of and arithmetic, 2 and 10 assets
    for dim in (2, 10):
        corr = np.full((dim, dim), 0.3)
        np.fill_diagonal(corr, 1.0)
        m = sim.BlackScholesBasket(vols=[0.25] * dim, correlation=corr)
        n = int(1_000_000 * scale)
        for name, prod in (("worst_of", sim.WorstOf(1.0, 1.0, "put")),
                           ("arithmetic", sim.BasketOption([1 / dim] * dim, 1.0, 1.0, "call"))):
            t = best_time(lambda m=m, prod=prod, n=n, dim=dim: sim.simulate(
                m, prod, sim.FixedSampler([1.0] * dim), n, seed=1))
            out[f"{name}_{dim}"] = {"paths": n, "paths_per_s": n / t}

    bs, bb, h = out["black_scholes"], out["bachelier_basket_7"], out["heston_252"]
    res["targets"] = {
        "bs_speedup_vs_numpy>=3": bs["speedup_vs_numpy"] >= 3,
        "bs_speedup_vs_torch>=10": bs["speedup_vs_torch_autograd"] >= 10,
        "bs_adjoint_overhead<=1.5": bs["adjoint_overhead"] <= 1.5,
        "bs_paths_per_s_per_core>=20M": bs["paths_per_s_per_core"] >= 20e6,
        "basket7_speedup_vs_numpy>=3": bb["speedup_vs_numpy"] >= 3,
        "basket7_speedup_vs_torch>=10": bb["speedup_vs_torch_autograd"] >= 10,
        "heston_adjoint_over_forward<=2": h["adjoint_over_forward"] <= 2,
        "heston_speedup_vs_numpy>=5": h["speedup_vs_numpy_forward_only"] >= 5,
    }
    for key, val in out.items():
        print(f"{key:22s}", ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in val.items()))
    for key, ok in res["targets"].items():
        print(f"target {key:34s} {'met' if ok else 'MISSED'}")
    path = pathlib.Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
