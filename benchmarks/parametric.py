"""Parametric PINN benchmark: one training per payoff over a box of parameters, scored on held-out
parameter sets.

Problems (Black-Scholes, K = 100, T = 1, r = 0.03, no dividend, S in [0, 400]; XVA lambda_C =
0.05, R_B = R_C = 0.4, funding spread (1 - R_B) lambda_B):

* ``put``: a European put (one-signed: the exact risky value is ``e^{-c tau}`` times the
  Black-Scholes price, c = (1 - R_C) lambda_C + (1 - R_B) lambda_B);
* ``collar``: long call 110, short put 90 (both signs: the non-linear XVA PDE).

Declared parameters: vol in [0.1, 0.4] and lambda_B in [0, 0.2] (:class:`training.pinn.problems
.ParametricPDE`; nominal vol 0.25, lambda_B 0.1). One training per problem with the
:meth:`PINNConfig.best` recipe, the base of :data:`BASES` (risk-free for the put: the network
learns the whole XVA factor; sign-split for the collar), a wide two-layer network and
``parameter_copies`` sampled parameter vectors per collocation point; see :func:`recipe`.

Held-out sets: ``--held-out`` parameter vectors drawn uniformly in the box (NumPy generator,
seed 2024; 50 in the full run, 8 with ``--quick``). Each is scored on the box of the non-linear
benchmark, tau in {T/4, T/2, 3T/4, T} times 196 spots in [0, 390], as log10 relative L1/L2/Linf
against: the put's closed form ``e^{-c tau} BS`` (evaluation.analytic); for the collar
``evaluation.fd.black_scholes_1d`` with the netting set's payoff solved to each tau (3200 x
1600 steps; its own error estimated against a grid coarser by 2). Also per set: the free
answers (the risk-free base alone and the sign-split approximation), and at S = K, tau = T the
relative errors of delta, vega and dV/dlambda_B (autograd through the network) against central
differences of the reference in vol and lambda_B.

Baseline (full run, or ``--baseline``): one single-parameter training at the nominal parameters
with the documented full budget (``PINNConfig.best`` with the same base, 300 Adam + 1200 L-BFGS
on a 51 x 201 grid, 3 x 32), timed on the same machine in the same process; six of them are the
cost the parametric training is compared with.

Targets: every held-out set at log10 rel L2 <= -4 (put) and <= -3.5 (collar), in less training
time than 6 single-parameter runs.

    python -m benchmarks.parametric [--quick] [--problems put,collar] [--held-out N]
        [--time-limit S] [--baseline] [--output benchmarks/results/parametric.json]
    python -m benchmarks.parametric --write-docs   # the table of docs/pinn.md from the JSON

Results are merged into the output JSON (runs keyed by problem and budget) with the machine and
the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

import evaluation.analytic as an
import evaluation.fd as fd
from simulators import Leg, NettingSet
from simulators.xva import XVA
from training.pinn import BlackScholesPDE, PINNConfig, UniformGrid, solve
from training.pinn.problems import ParametricPDE

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "benchmarks" / "results" / "parametric.json"
DOC = ROOT / "docs" / "pinn.md"
_START, _END = "<!-- parametric-results:start", "<!-- parametric-results:end -->"

PROBLEMS = ("put", "collar")
RANGES = {"vol": (0.1, 0.4), "lambda_b": (0.0, 0.2)}
NOMINAL = {"vol": 0.25, "lambda_b": 0.1}
TAU_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
SPOTS = np.linspace(0.0, 390.0, 196)
TARGETS = {"put": -4.0, "collar": -3.5}
SEED = 2024
COLLAR = NettingSet(legs=(Leg("call", 110.0), Leg("put", 90.0, -1.0)), maturity=1.0)
R = 0.4
LAMBDA_C = 0.05


def xva(lambda_b: float) -> XVA:
    return XVA(lambda_b=lambda_b, lambda_c=LAMBDA_C, recovery_b=R, recovery_c=R)


def problem(name: str, vol: float = NOMINAL["vol"], lambda_b: float = NOMINAL["lambda_b"]
            ) -> BlackScholesPDE:
    """The problem at one parameter set."""
    common = dict(strike=100.0, maturity=1.0, vol=vol, rate=0.03, s_max=400.0,
                  xva=xva(lambda_b))
    if name == "put":
        return BlackScholesPDE(kind="put", **common)
    if name == "collar":
        return BlackScholesPDE(netting=COLLAR, **common)
    raise ValueError(f"The 'problem' parameter of benchmarks.parametric must be one of "
                     f"{PROBLEMS}. Got {name!r} instead.")


#: The base function per problem: the put's exact risky value is e^{-c tau} times the risk-free
#: base, so the network learns the XVA factor over the box (the sign-split base would be the
#: exact answer); the collar uses the sign-split approximation, the best base for a payoff of
#: both signs (docs/nonlinear-xva.md), and each row shows that approximation's own error.
BASES = {"put": "risk_free", "collar": "split"}


def recipe(name: str, budget: str, time_limit: float | None, **overrides) -> PINNConfig:
    """The parametric recipe: ``PINNConfig.best`` with the base of :data:`BASES`, a wide
    2 x 128 tanh network (the output-layer least squares does most of the work), a 21 x 81
    grid with 2 parameter vectors per point, reduced faces, 300 Adam + 600 L-BFGS steps (full)
    or 100 + 300 (quick), a least-squares round every 100 L-BFGS iterations and 3 at the end."""
    steps = (300, 600) if budget == "full" else (100, 300)
    cfg = dict(width=128, depth=2, collocation=UniformGrid(n_tau=21, n_space=81),
               parameter_copies=2, face_residuals="reduced", adam_steps=steps[0],
               lbfgs_iterations=steps[1], lstsq_every=100, lstsq_rounds=3, num_threads=1,
               time_limit=time_limit)
    return PINNConfig.best(base=BASES[name], **{**cfg, **overrides})


def single_recipe(name: str) -> PINNConfig:
    """The documented single-parameter full budget (docs/pinn.md, benchmarks/pinn.py) with the
    problem's base of :data:`BASES`."""
    return PINNConfig.best(base=BASES[name], adam_steps=300, lbfgs_iterations=1200,
                           num_threads=1, collocation=UniformGrid(n_tau=51, n_space=201))


def held_out(n: int, seed: int = SEED) -> list[dict[str, float]]:
    """n parameter sets drawn uniformly in the declared box."""
    rng = np.random.default_rng(seed)
    return [{k: float(rng.uniform(*RANGES[k])) for k in RANGES} for _ in range(n)]


def log_errors(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    e = np.abs(np.asarray(pred, float) - ref)
    return {"l1": float(np.log10(e.sum() / np.abs(ref).sum())),
            "l2": float(np.log10(np.linalg.norm(e) / np.linalg.norm(ref))),
            "linf": float(np.log10(e.max() / np.abs(ref).max()))}


def _closed_put(spots: np.ndarray, tau: float, vol: float, lambda_b: float) -> np.ndarray:
    c = (1.0 - R) * LAMBDA_C + (1.0 - R) * lambda_b
    v = an.black_scholes(spot=spots, strike=100.0, maturity=tau, vol=vol, rate=0.03,
                         dividend=0.0, kind="put")
    return np.asarray(v, float) * np.exp(-c * tau)


def _fd_collar(spots: np.ndarray, tau: float, vol: float, lambda_b: float, scale: int = 1
               ) -> np.ndarray:
    sol = fd.black_scholes_1d(strike=100.0, maturity=tau, vol=vol, rate=0.03, xva=xva(lambda_b),
                              payoff=COLLAR.payoff, s_max=400.0, n_space=3200 // scale,
                              n_time=1600 // scale)
    return np.asarray(sol.price(spots), float)


def reference(name: str, spots: np.ndarray, tau: float, vol: float, lambda_b: float,
              scale: int = 1) -> np.ndarray:
    """The reference at (tau, spots) for one parameter set (closed form or FD)."""
    if name == "put":
        return _closed_put(spots, tau, vol, lambda_b)
    return _fd_collar(spots, tau, vol, lambda_b, scale)


def _box(fn) -> np.ndarray:
    return np.concatenate([fn(f * 1.0) for f in TAU_FRACTIONS])


def _free(name: str, vol: float, lambda_b: float) -> dict[str, np.ndarray]:
    """The answers that need no training on the box: the risk-free base and the split base."""
    p = problem(name, vol, lambda_b)
    taus = np.concatenate([np.full(len(SPOTS), f) for f in TAU_FRACTIONS])
    t = torch.as_tensor(taus)
    x = torch.as_tensor(np.tile(SPOTS, len(TAU_FRACTIONS))[:, None])
    return {"risk_free": p.base_value(t, x).numpy(),
            "split": p.split_derivatives(t, x).value.detach().numpy()}


def score(name: str, sol, at: dict[str, float]) -> dict:
    """Errors of the parametric solution at one held-out parameter set."""
    vol, lb = at["vol"], at["lambda_b"]
    t0 = time.perf_counter()
    ref = _box(lambda tau: reference(name, SPOTS, tau, vol, lb))
    row: dict = {"params": at}
    if name == "collar":
        coarse = _box(lambda tau: reference(name, SPOTS, tau, vol, lb, scale=2))
        row["fd_error_estimate"] = log_errors(coarse, ref)["l2"]
    ref_seconds = time.perf_counter() - t0
    taus = np.concatenate([np.full(len(SPOTS), f) for f in TAU_FRACTIONS])
    pred = sol.price(np.tile(SPOTS, len(TAU_FRACTIONS)), taus, params=at)
    today = taus == 1.0
    row.update(box=log_errors(pred, ref), today=log_errors(pred[today], ref[today]),
               free={k: log_errors(v, ref)["l2"] for k, v in _free(name, vol, lb).items()})
    # Greeks at S = K today: delta from the reference's spot differences, vega and dV/dlambda_B
    # from central differences of the reference in the parameter
    spot = np.array([99.0, 100.0, 101.0])
    g = sol.greeks(np.array([100.0]), params=at)
    base = reference(name, spot, 1.0, vol, lb)
    ref_greeks = {"delta": (base[2] - base[0]) / 2.0}
    for key, param, h in (("vega", "vol", 1e-4), ("d_lambda_b", "lambda_b", 1e-4)):
        up, down = dict(at), dict(at)
        up[param] += h
        down[param] -= h
        ref_greeks[key] = float((reference(name, spot[1:2], 1.0, up["vol"], up["lambda_b"])
                                 - reference(name, spot[1:2], 1.0, down["vol"],
                                             down["lambda_b"]))[0] / (2 * h))
    row["greeks_at_the_money"] = {k: {"pinn": float(np.ravel(g[k])[0]), "reference": float(r),
                                      "rel_error": float(abs(np.ravel(g[k])[0] - r)
                                                         / max(abs(r), 1e-12))}
                                  for k, r in ref_greeks.items()}
    row["reference_seconds"] = ref_seconds
    return row


def run(name: str, budget: str, n_held_out: int, time_limit: float | None,
        overrides: dict | None = None) -> dict:
    """One parametric training of ``name`` scored on ``n_held_out`` parameter sets."""
    family = ParametricPDE(problem=problem(name), parameters=RANGES)
    cfg = recipe(name, budget, time_limit, **(overrides or {}))
    sol = solve(family, cfg)
    rows = [score(name, sol, at) for at in held_out(n_held_out)]
    l2 = [r["box"]["l2"] for r in rows]
    return {
        "problem": name, "budget": budget, "ranges": {k: list(v) for k, v in RANGES.items()},
        "nominal": NOMINAL, "base": sol.stats.get("base"), "faces": sol.stats.get("faces"),
        "train_seconds": sol.stats["train_seconds"], "status": sol.stats["status"],
        "steps": sol.stats["steps"], "final_loss": float(sol.history["loss"][-1]),
        "config": cfg.to_dict(), "held_out": rows, "target_l2": TARGETS[name],
        "worst_l2": float(max(l2)), "median_l2": float(np.median(l2)),
        "target_met": bool(max(l2) <= TARGETS[name]),
    }


def baseline(name: str) -> dict:
    """One single-parameter training at the nominal parameters (the documented full budget)."""
    cfg = single_recipe(name)
    sol = solve(problem(name), cfg)
    row = score(name, _Fixed(sol), dict(NOMINAL))
    return {"problem": name, "train_seconds": sol.stats["train_seconds"],
            "steps": sol.stats["steps"], "status": sol.stats["status"], "config": cfg.to_dict(),
            "box": row["box"], "six_runs_seconds": 6.0 * sol.stats["train_seconds"]}


class _Fixed:
    """A single-parameter solution with the parametric call signature (``params`` ignored)."""

    def __init__(self, sol) -> None:
        self.sol = sol

    def price(self, points, tau=None, params=None):
        return self.sol.price(points, tau)

    def greeks(self, points, tau=None, params=None):
        g = self.sol.greeks(points, tau)
        return {**g, "vega": np.full_like(g["price"], np.nan),
                "d_lambda_b": np.full_like(g["price"], np.nan)}


def reuse(name: str, budget: str, n_days: int, time_limit: float | None) -> dict:
    """The PINN stage of a nightly run when the parameters move, on the training side of
    :mod:`pipeline.pinn_step` (no cache bookkeeping): a family trained for day 0; ``n_days``
    held-out parameter sets inside its ranges, each retargeted (``PINNSolution.at``) and checked
    on today's slice (``slice_residual``) instead of trained; then a day outside the ranges
    (vol 0.45), trained over the moved ranges from the saved weights (warm start, no Adam) and
    from scratch with the same budget."""
    import tempfile

    from training.pinn import PINNSolution, slice_residual
    from training.pinn.reuse import training_ranges

    family = ParametricPDE(problem=problem(name), parameters=RANGES)
    cfg = recipe(name, budget, time_limit)
    t0 = time.perf_counter()
    sol = solve(family, cfg)
    cold_seconds = time.perf_counter() - t0
    days = []
    with tempfile.TemporaryDirectory() as tmp:
        sol.save(Path(tmp) / "family")
        for at in held_out(n_days, seed=SEED + 1):
            t0 = time.perf_counter()
            today = PINNSolution.load(Path(tmp) / "family").at(problem(name, **at))
            res = slice_residual(today)
            seconds = time.perf_counter() - t0
            row = score(name, today, at)
            days.append({"params": at, "seconds": seconds, "slice_residual": res,
                         "l2": row["box"]["l2"]})
    outside = problem(name, vol=0.45, lambda_b=NOMINAL["lambda_b"])
    moved = ParametricPDE(problem=outside,
                          parameters=training_ranges({k: list(v) for k, v in RANGES.items()},
                                                     outside))
    runs = {}
    for how, initial, c in (("warm_start", sol.model.state_dict(), cfg.replace(adam_steps=0)),
                            ("cold", None, cfg)):
        t0 = time.perf_counter()
        new = solve(moved, c, initial=initial)
        seconds = time.perf_counter() - t0
        at = {"vol": 0.45, "lambda_b": NOMINAL["lambda_b"]}
        runs[how] = {"seconds": seconds, "train_seconds": new.stats["train_seconds"],
                     "steps": new.stats["steps"], "slice_residual": slice_residual(new),
                     "l2": score(name, new, at)["box"]["l2"]}
    return {"problem": name, "budget": budget, "family_train_seconds": cold_seconds,
            "inside": days, "outside": {"ranges": {r.name: [r.low, r.high]
                                                   for r in moved.parameters}, **runs}}


def table(data: dict) -> str:
    """Markdown table of the runs in ``data`` (a parametric.json)."""
    head = ("| problem | budget | held-out sets | PINN log10 rel L2: worst | median | target | "
            "met | risk-free base alone (worst) | split (worst) | delta / vega / dV/dλ_B rel. "
            "err. at K (worst) | train s | 6 single runs s | single run L2 (its own set) |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    base = {b["problem"]: b for b in data.get("baselines", [])}
    rows = []
    for r in sorted(data.get("runs", []), key=lambda r: (PROBLEMS.index(r["problem"]),
                                                         r["budget"])):
        held = r["held_out"]
        worst_free = {k: max(h["free"][k] for h in held) for k in ("risk_free", "split")}
        greeks = "/".join(f"{max(h['greeks_at_the_money'][k]['rel_error'] for h in held):.0e}"
                          for k in ("delta", "vega", "d_lambda_b"))
        six = base.get(r["problem"], {}).get("six_runs_seconds")
        own = base.get(r["problem"], {}).get("box", {}).get("l2")
        rows.append(
            f"| {r['problem']} | {r['budget']} | {len(held)} | **{r['worst_l2']:.2f}** | "
            f"{r['median_l2']:.2f} | {r['target_l2']:g} | {'yes' if r['target_met'] else 'no'} "
            f"| {worst_free['risk_free']:.2f} | {worst_free['split']:.2f} | {greeks} | "
            f"{r['train_seconds']:.0f} | {'–' if six is None else f'{six:.0f}'} | "
            f"{'–' if own is None else f'{own:.2f}'} |")
    return "\n".join([head, *rows])


def write_docs(output: Path = OUTPUT, doc: Path = DOC) -> None:
    """Replace the generated table of ``doc`` with the runs of ``output``."""
    data = json.loads(Path(output).read_text())
    text = Path(doc).read_text()
    i = text.index("\n", text.index(_START)) + 1
    j = text.index(_END)
    Path(doc).write_text(text[:i] + table(data) + "\n" + text[j:])


def _save(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    from benchmarks import _machine

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="100 + 300 steps, 8 held-out sets")
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--held-out", type=int, default=None)
    ap.add_argument("--time-limit", type=float, default=None,
                    help="cap on each parametric training's gradient steps, seconds")
    ap.add_argument("--baseline", action="store_true",
                    help="also time one single-parameter run (always in the full run)")
    ap.add_argument("--options", default="{}", help="JSON overrides of the PINNConfig recipe")
    ap.add_argument("--reuse", type=int, default=0, metavar="DAYS",
                    help="instead: the reuse measurement over DAYS parameter sets (see reuse())")
    ap.add_argument("--output", default=str(OUTPUT))
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.output)
    if args.write_docs:
        write_docs(out)
        return 0
    budget = "quick" if args.quick else "full"
    n = args.held_out or (8 if args.quick else 50)
    overrides = json.loads(args.options)
    if "collocation" in overrides:
        overrides["collocation"] = UniformGrid(**overrides["collocation"])
    machine = {**_machine.describe(), "torch": torch.__version__}
    data = json.loads(out.read_text()) if out.exists() else {
        "benchmark": "training.pinn parametric", "runs": [], "baselines": []}
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if args.reuse:
        for name in [p for p in args.problems.split(",") if p]:
            row = {**reuse(name, budget, args.reuse, args.time_limit), "machine": machine,
                   "date_utc": stamp}
            data.setdefault("reuse", [])
            data["reuse"] = [r for r in data["reuse"]
                             if (r["problem"], r["budget"]) != (name, budget)] + [row]
            _save(out, data)
            inside = row["inside"]
            print(f"{name} ({budget}): family {row['family_train_seconds']:.0f} s; inside: "
                  f"{np.median([d['seconds'] for d in inside]):.1f} s per day, slice residual "
                  f"<= {max(d['slice_residual'] for d in inside):.1e}; outside: warm start "
                  f"{row['outside']['warm_start']['seconds']:.0f} s "
                  f"(L2 {row['outside']['warm_start']['l2']:.2f}), cold "
                  f"{row['outside']['cold']['seconds']:.0f} s "
                  f"(L2 {row['outside']['cold']['l2']:.2f})", flush=True)
        return 0
    for name in [p for p in args.problems.split(",") if p]:
        row = {**run(name, budget, n, args.time_limit, overrides), "machine": machine,
               "date_utc": stamp}
        data["runs"] = [r for r in data["runs"] if (r["problem"], r["budget"]) != (name, budget)]
        data["runs"].append(row)
        _save(out, data)
        print(f"{name} ({budget}): worst log10 rel L2 {row['worst_l2']:.2f}, median "
              f"{row['median_l2']:.2f} over {n} held-out sets (target {TARGETS[name]}: "
              f"{'met' if row['target_met'] else 'missed'}); {row['train_seconds']:.0f} s, "
              f"{row['steps']} steps", flush=True)
        if budget == "full" or args.baseline:
            b = {**baseline(name), "machine": machine, "date_utc": stamp}
            data["baselines"] = [x for x in data["baselines"] if x["problem"] != name]
            data["baselines"].append(b)
            _save(out, data)
            print(f"{name} single-parameter run: {b['train_seconds']:.0f} s (6 runs: "
                  f"{b['six_runs_seconds']:.0f} s), log10 rel L2 {b['box']['l2']:.2f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
