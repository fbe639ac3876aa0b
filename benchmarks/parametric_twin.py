"""The parametric put family of ``benchmarks/parametric.py`` learnt by the twin network, at the
PINN's wall time.

The PINN learns the risky put over (tau, S) x vol in [0.1, 0.4] x lambda_B in [0, 0.2] in one
training (``parametric.json``, run ``put``/``full``). The twin network learns from simulated
data with vol as an input (rate fixed at 0.03): the risk-free value V_rf(S, vol) at tau = T,
S uniform in [0.5, 400] (the PINN's domain) and vol uniform in its range. A put is one-signed,
so the risky value is exactly ``e^{-c T} V_rf`` with ``c = (1 - R_C) lambda_C + (1 - R_B)
lambda_B``: the lambda_B direction of the family is that factor, applied exactly, not learnt
(the simulators do not take XVA parameters as inputs). The comparison is therefore over vol and
the spot, at tau = T.

Both methods are scored on the 50 held-out parameter sets of ``parametric.json`` at tau = T:
log10 relative L2 over the 195 spots of its grid in (0, 390] (the PINN's figure, read from the
JSON, includes S = 0 as well), and at S = K the relative errors of delta and vega against the
closed form (the PINN's against central differences of the closed form, also from the JSON).

Equal wall time: the twin network's simulation and training together get at most the PINN's
training seconds, probe fits included. The number of epochs is set from the time per epoch of
two timed short fits; the JSON records the wall time actually used.

    python -m benchmarks.parametric_twin [--paths N] [--budget SECONDS]

The result is merged into ``parametric.json`` under ``twin``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = _HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._machine import describe  # noqa: E402

OUTPUT = ROOT / "benchmarks" / "results" / "parametric.json"
SPOTS = np.linspace(0.0, 390.0, 196)[1:]
R, LAMBDA_C, RATE, STRIKE, T = 0.4, 0.05, 0.03, 100.0, 1.0
VOLS = (0.1, 0.4)


def factor(lambda_b: float) -> float:
    return float(np.exp(-((1 - R) * LAMBDA_C + (1 - R) * lambda_b) * T))


def log_l2(pred: np.ndarray, ref: np.ndarray) -> float:
    return float(np.log10(np.linalg.norm(pred - ref) / np.linalg.norm(ref)))


def train(paths: int, budget: float, seed: int = 0):
    """Simulate and fit within ``budget`` seconds; returns (regressor, info)."""
    from simulators import BlackScholes, European, UniformSampler, simulate
    from training import DifferentialRegressor

    t0 = time.perf_counter()
    model = BlackScholes(vol=0.25, rate=RATE, inputs=("spot", "vol"))
    sample = simulate(model, European(STRIKE, T, "put"),
                      UniformSampler(low=(0.5, VOLS[0]), high=(400.0, VOLS[1])), paths, seed)
    sim_seconds = time.perf_counter() - t0
    opts = dict(hidden_layers=4, hidden_units=32, lam=1.0, num_threads=1, seed=seed)
    timings = []
    for n in (4, 12):  # the slope between two fits removes their fixed cost
        t1 = time.perf_counter()
        DifferentialRegressor(epochs=n, **opts).fit(sample.x, sample.y, sample.dydx)
        timings.append(time.perf_counter() - t1)
    per_epoch = max((timings[1] - timings[0]) / 8, timings[1] / 12 / 4)
    left = budget - (time.perf_counter() - t0)
    epochs = max(2, int(left / per_epoch))
    reg = DifferentialRegressor(epochs=epochs, **opts)
    reg.fit(sample.x, sample.y, sample.dydx, input_names=["spot", "vol"])
    total = time.perf_counter() - t0
    return reg, {"paths": paths, "epochs": epochs, "network": "4x32",
                 "simulate_seconds": sim_seconds, "wall_seconds": total}


def score(reg, params: dict) -> dict:
    from evaluation.analytic import black_scholes, black_scholes_greeks

    vol, lb = params["vol"], params["lambda_b"]
    f = factor(lb)
    x = np.column_stack([SPOTS, np.full_like(SPOTS, vol)])
    ref = f * black_scholes(SPOTS, strike=STRIKE, maturity=T, kind="put", vol=vol, rate=RATE)
    pred = f * reg.predict(x)
    _, g = reg.predict_value_and_gradient(np.array([[STRIKE, vol]]))
    gk = black_scholes_greeks(np.array([STRIKE]), strike=STRIKE, maturity=T, kind="put",
                              vol=vol, rate=RATE)
    out = {"params": params, "today_l2": log_l2(pred, ref)}
    for name, ours, exact in (("delta", g[0, 0], gk.delta[0]), ("vega", g[0, 1], gk.vega[0])):
        out[name] = {"twin": float(f * ours), "reference": float(f * exact),
                     "rel_error": float(abs(ours - exact) / abs(exact))}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, default=262_144)
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds (default: the PINN's training seconds in parametric.json)")
    ap.add_argument("--output", type=Path, default=OUTPUT)
    args = ap.parse_args(argv)
    data = json.loads(args.output.read_text())
    pinn = next(r for r in data["runs"] if r["problem"] == "put" and r["budget"] == "full")
    budget = args.budget or float(pinn["train_seconds"])
    reg, info = train(args.paths, budget)
    rows = []
    for h in pinn["held_out"]:
        r = score(reg, h["params"])
        r["pinn_today_l2"] = h["today"]["l2"]
        r["pinn_delta_rel_error"] = h["greeks_at_the_money"]["delta"]["rel_error"]
        r["pinn_vega_rel_error"] = h["greeks_at_the_money"]["vega"]["rel_error"]
        rows.append(r)
    summary = {k: {"twin_worst": max(r[a] for r in rows), "twin_median":
                   float(np.median([r[a] for r in rows])),
                   "pinn_worst": max(r[b] for r in rows),
                   "pinn_median": float(np.median([r[b] for r in rows]))}
               for k, a, b in (("today_l2", "today_l2", "pinn_today_l2"),)}
    for g in ("delta", "vega"):
        tw = [r[g]["rel_error"] for r in rows]
        pi = [r[f"pinn_{g}_rel_error"] for r in rows]
        summary[g] = {"twin_worst": max(tw), "twin_median": float(np.median(tw)),
                      "pinn_worst": max(pi), "pinn_median": float(np.median(pi))}
    data["twin"] = {"problem": "put", "budget_seconds": budget,
                    "pinn_train_seconds": pinn["train_seconds"], **info, "summary": summary,
                    "held_out": rows, "machine": describe()}
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    tmp.replace(args.output)
    print(json.dumps({"budget": budget, **info, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
