"""GPU-vs-CPU cases, run by ``test_gpu.py`` in a subprocess under Numba's CUDA simulator.

``python -m tests.simulators._gpu_sim_cases`` (with ``NUMBA_ENABLE_CUDASIM=1`` set before
Numba-CUDA is imported) prints one JSON object: case name -> comparison statistics. The grid is
shrunk (32 threads in blocks of 16) so that the grid-stride loop gives each simulated thread
several paths, and the paths start at ``first_path = 5``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import warnings

import numpy as np

import simulators as sim

N_PATHS = 48


def cases():
    """(name, model, product, sampler, simulate keyword arguments)."""
    bs = sim.BlackScholes(vol=0.2, rate=0.01, dividend=0.02, inputs=("spot", "vol", "rate"))
    bs_s = sim.UniformSampler(low=[0.5, 0.1, 0.0], high=[1.5, 0.4, 0.05])
    for anti in (False, True):
        yield f"black_scholes_call_anti{anti:d}", bs, sim.European(1.1, 1.0, "call"), bs_s, {
            "antithetic": anti}
    yield "black_scholes_put_spot_only", sim.BlackScholes(vol=0.3), sim.European(
        1.0, 0.5, "put"), sim.ForwardSampler(spot=[1.0], horizon=1.0, vol_mult=1.5), {}
    bach, bach_p = sim.random_bachelier_basket(dim=3, seed=1)
    bach_s = sim.ForwardSampler(spot=[1.0] * 3, horizon=1.0, vol_mult=1.5)
    for anti in (False, True):
        yield f"bachelier_basket_anti{anti:d}", bach, bach_p, bach_s, {"antithetic": anti}
    bb = sim.BlackScholesBasket(vols=(0.2, 0.3, 0.25), correlation=((1, .5, .2), (.5, 1, .3),
                                (.2, .3, 1)), rate=0.01, dividends=(0.0, 0.01, 0.02),
                                vol_inputs=True)
    bb_s = sim.UniformSampler(low=[0.8] * 3 + [0.1] * 3, high=[1.2] * 3 + [0.4] * 3)
    products = {"sum": sim.BasketOption((0.3, 0.3, 0.4), 1.0, 1.0, "put"),
                "min": sim.WorstOf(0.9, 1.0, "call"), "max": sim.BestOf(1.1, 1.0, "call")}
    for agg, product in products.items():
        yield f"bs_basket_{agg}", bb, product, bb_s, {"antithetic": agg == "sum"}
    yield "bs_basket_spots_only", dataclasses.replace(bb, vol_inputs=False), products["min"], \
        sim.UniformSampler(low=[0.8] * 3, high=[1.2] * 3), {}
    h = sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.025, steps_per_year=6,
                   inputs=("spot", "variance", "kappa", "theta", "xi", "rho", "rate"))
    h_s = sim.UniformSampler(low=[80, 0.01, 1.0, 0.02, 0.2, -0.95, 0.0],
                             high=[120, 0.09, 2.0, 0.06, 0.4, 0.5, 0.05])
    for anti in (False, True):
        yield f"heston_params_anti{anti:d}", h, sim.European(100.0, 1.0, "put"), h_s, {
            "antithetic": anti}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Feller violated on purpose: truncation branch
        hf = sim.Heston(kappa=0.5, theta=0.04, xi=0.8, rho=-0.5, steps_per_year=5)
    yield "heston_feller_violated", hf, sim.European(100.0, 1.0, "call"), sim.ForwardSampler(
        spot=[100.0], horizon=0.5, vol_mult=1.0), {"antithetic": True}
    yield from netting_cases(bs, bs_s, bach, bach_s, bb, bb_s, h, h_s)
    xva = sim.XVA(lambda_b=0.02, lambda_c=0.03)
    for dtype in ("float64", "float32"):
        yield f"device_output_xva_{dtype}", bs, sim.European(1.1, 1.0, "call"), bs_s, {
            "xva": xva, "dtype": dtype, "device_output": True}


def netting_cases(bs, bs_s, bach, bach_s, bb, bb_s, h, h_s):
    """Netting sets on every model: several legs (the loop over legs) and, for Black-Scholes,
    one leg of quantity 2 (the CPU kernel's hoisted single leg against the GPU's loop)."""
    leg = sim.Leg
    collar = sim.NettingSet([leg("call", 1.1, 1.0), leg("put", 0.9, -1.0)], maturity=1.0)
    yield "netting_black_scholes_collar", bs, collar, bs_s, {"antithetic": True}
    yield "netting_black_scholes_one_leg", bs, sim.NettingSet(
        [leg("forward", 1.0, 2.0)], maturity=0.5), bs_s, {}
    yield "netting_bachelier_mixed", bach, sim.NettingSet(
        [leg("call", 1.1, 1.0, "basket", (0.3, 0.3, 0.4)), leg("put", 0.95, -0.5, "worst_of"),
         leg("call", 1.2, 2.0, "best_of"), leg("forward", 1.0, 0.25, "basket", (1.0, 2.0, 1.0))],
        maturity=1.0), bach_s, {"antithetic": True}
    yield "netting_bs_basket_mixed", bb, sim.NettingSet(
        [leg("call", 0.95, 1.0, "worst_of"), leg("put", 1.0, -1.0, "basket", (0.3, 0.3, 0.4))],
        maturity=0.75), bb_s, {}
    yield "netting_heston_collar", h, sim.NettingSet(
        [leg("call", 110.0, 1.0), leg("put", 90.0, -1.0)], maturity=1.0), h_s, {
        "antithetic": True}


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.abs(b).max()), 1e-300)
    return float(np.abs(np.asarray(a, dtype=np.float64) - b).max() / scale)


def main() -> dict:
    from simulators import _gpu

    _gpu.MAX_THREADS = 32
    _gpu.THREADS_PER_BLOCK = 16
    out = {"cudasim": os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"}
    to_device = _gpu.cuda.to_device
    uploads: list[tuple] = []

    def counting_to_device(a, *args, **kwargs):
        uploads.append(np.shape(a))
        return to_device(a, *args, **kwargs)

    for name, model, product, sampler, kw in cases():
        cpu_kw = {k: v for k, v in kw.items() if k != "device_output"}
        c = sim.simulate(model, product, sampler, N_PATHS, seed=3, first_path=5, **cpu_kw)
        uploads.clear()
        _gpu.cuda.to_device = counting_to_device
        try:
            g = sim.simulate(model, product, sampler, N_PATHS, seed=3, first_path=5,
                             backend="gpu", **kw)
        finally:
            _gpu.cuda.to_device = to_device
        on_device = not isinstance(g.y, np.ndarray)
        h = g.to_numpy()
        out[name] = {
            "backend": g.backend,
            "on_device": on_device,
            "x_uploads": uploads.count(c.x.shape),
            "dtype_ok": h.y.dtype == c.y.dtype and h.dydx.dtype == c.dydx.dtype
            and h.x.dtype == c.x.dtype,
            "x_equal": bool(np.array_equal(h.x, c.x)),
            "y_equal": bool(np.array_equal(h.y, c.y)),
            "dydx_equal": bool(np.array_equal(h.dydx, c.dydx)),
            "y_rel": _rel(h.y, c.y),
            "dydx_rel": _rel(h.dydx, c.dydx),
            "nonzero_dydx": int(np.count_nonzero(c.dydx)),
        }
    return out


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
