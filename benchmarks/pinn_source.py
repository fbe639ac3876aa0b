"""The source's PINN results with its own recipe: BS 1D risk-free put, 4 x 40 tanh, boundary-safe
loss, soft initial condition, no base function, 201 x 51 uniform grid with trapezoidal weights,
3000 Adam + 3000 L-BFGS steps; one run per seed with a wall-clock cap.

Published (Table 2 of the source, boundary-safe, worst of its seeds): log10 relative
L1 / L2 / Linf = -3.56 / -3.45 / -3.21. The parameter set is ours (the benchmark's BS put:
K 100, T 1, vol 0.25, r 0.03, s_max 400), so the comparison is of the recipe, not of one number.

``--lstsq-rounds N`` runs the same recipe and then N least-squares solves of the output layer
(hidden layers fixed; study "table2 + least squares"): what the cheapest addition of this project
gives on top of the recipe, reported beside it, not as the recipe.

``--n-space``, ``--n-tau``, ``--s-max`` and ``--lbfgs-iterations`` run the 1D put (Table 2 and
``--sweep``) off the recipe's grid (S nodes x tau nodes), truncation or L-BFGS budget; the study
name says what changed (e.g. "table2, S in [0, 400], 401 x 51 grid"), and everything else stays
the recipe. They are refused with ``--table5``.

``--source-network`` runs Table 2 with the network conventions of the source authors' public
code (:mod:`benchmarks.source_network`: inputs divided by the box's upper corner, Glorot-uniform
weights, an output layer in price units with the gain S_max - K, L-BFGS with 100 correction
pairs); study "table2, source code's network". Everything else stays the recipe.

The claim sweep (``--sweep``): boundary-safe against classical, bc_weight in {0.01, 1, 100}, two
seeds, a short cap per run (the source's claim is that the boundary-safe loss does not depend on
a boundary weight and is less sensitive to the seed).

The 2D basket of the source's Table 5 (``--table5``): risk-free arithmetic basket put
0.5 S1 + 0.5 S2 (K 100, T 0.5, vols 0.25/0.35, rho 0.5, r 0.03, S_i in [0, 400]), the same recipe
on a 21 x 41 x 41 uniform grid, the published best cell's network (12 x 60; ``--arch`` picks
others). The run is cut into segments of ``--segment`` seconds (checkpoint and resume: the
optimiser state carries over, so the recipe is unchanged); after each segment the network is
scored against the conditioning-quadrature closed form on 4 tau slices x 41 x 41 spots, which
gives the error against training time.

Usage::

    python benchmarks/pinn_source.py --seeds 0,1,2 --cap 2400
    python benchmarks/pinn_source.py --seeds 0,1,2 --cap 2400 --lstsq-rounds 3
    python benchmarks/pinn_source.py --seeds 0,1,2 --cap 2400 --n-space 401
    python benchmarks/pinn_source.py --seeds 0,1,2 --cap 2400 --source-network
    python benchmarks/pinn_source.py --sweep --seeds 0,1 --cap 300
    python benchmarks/pinn_source.py --table5 --cap 2400 --segment 300

Results are merged into benchmarks/results/pinn.json under "source_reproduction".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._machine import update_results  # noqa: E402
from benchmarks.pinn import float_in, int_at_least, log_errors, machine, run_bs  # noqa: E402
from benchmarks.source_network import (  # noqa: E402
    SOURCE_LBFGS_HISTORY,
    solve_with_source_network,
)
from training.pinn import (  # noqa: E402
    BasketPDE,
    BlackScholesPDE,
    PINNConfig,
    UniformGrid,
    solve,
)

PUBLISHED = {"l1": -3.56, "l2": -3.45, "linf": -3.21}
#: Table 5 of the source, best cell (12 x 60), risk-free two-asset arithmetic basket.
PUBLISHED_TABLE5 = {"l1": -3.66, "l2": -3.55, "linf": -2.98}
#: Steps of the recipe: 3000 Adam + 3000 L-BFGS.
RECIPE_STEPS = 6000


#: The put's strike; the recipe's truncation and grid: S in [0, 400], 51 times x 201 spots.
STRIKE, S_MAX, N_TAU, N_SPACE = 100.0, 400.0, 51, 201
#: Seconds: any positive, finite number.
SECONDS = float_in(0.0, 1e9, low_open=True)
#: The recipe's L-BFGS iterations (after 3000 Adam steps).
LBFGS_ITERATIONS = 3000


def problem(s_max: float = S_MAX) -> BlackScholesPDE:
    return BlackScholesPDE(strike=STRIKE, maturity=1.0, vol=0.25, rate=0.03, kind="put",
                           s_max=s_max)


def config(loss: str, seed: int, cap: float, bc_weight: float = 1.0,
           lstsq_rounds: int = 0, n_tau: int = N_TAU, n_space: int = N_SPACE,
           lbfgs_iterations: int = LBFGS_ITERATIONS,
           lbfgs_history: int = PINNConfig.lbfgs_history) -> PINNConfig:
    """The recipe; ``lstsq_rounds`` > 0 adds that many least-squares solves of the output layer
    after it (hidden layers fixed; not part of the source's recipe). ``lbfgs_history``: L-BFGS
    correction pairs (the source's code uses 100)."""
    recipe = PINNConfig.faithful if loss == "boundary_safe" else PINNConfig.classical
    return recipe(width=40, depth=4, collocation=UniformGrid(n_tau, n_space), adam_steps=3000,
                  lbfgs_iterations=lbfgs_iterations, seed=seed, bc_weight=bc_weight, time_limit=cap,
                  num_threads=1, lstsq_rounds=lstsq_rounds, lbfgs_history=lbfgs_history)


def seed_list(text: str) -> list[int]:
    """argparse type: comma-separated non-negative integer seeds, else one line naming them."""
    try:
        seeds = [int(t) for t in text.split(",")]
    except ValueError:
        seeds = [-1]
    if min(seeds) < 0:
        raise argparse.ArgumentTypeError(
            f"must be comma-separated integers >= 0 (e.g. 0,1,2), got {text!r}")
    return seeds


def architecture(text: str) -> tuple[int, int]:
    """argparse type: ``DEPTHxWIDTH`` with both at least 1, as (depth, width)."""
    parts = text.lower().split("x")
    try:
        depth, width = (int(n) for n in parts)
    except ValueError:
        depth = width = 0
    if depth < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"must be DEPTHxWIDTH with both >= 1 (e.g. 12x60), "
                                         f"got {text!r}")
    return depth, width


def grid_label(s_max: float, n_tau: int, n_space: int,
               lbfgs_iterations: int = LBFGS_ITERATIONS) -> str:
    """Study suffix of a run off the recipe's truncation, grid or L-BFGS iterations ("" on the
    recipe's own)."""
    label = ""
    if (s_max, n_tau, n_space) != (S_MAX, N_TAU, N_SPACE):
        label += f", S in [0, {s_max:g}], {n_space} x {n_tau} grid"
    if lbfgs_iterations != LBFGS_ITERATIONS:
        label += f", {lbfgs_iterations} L-BFGS"
    return label


def basket_problem() -> BasketPDE:
    return BasketPDE(strike=100.0, maturity=0.5, vols=(0.25, 0.35), rate=0.03, rho=0.5,
                     kind="put", s_max=400.0, weights=(0.5, 0.5))


def basket_reference(p: BasketPDE, n_space: int = 41) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """(tau (m,), x (m, 2), value (m,)): the closed form (conditioning quadrature) on tau in
    {T/4, T/2, 3T/4, T} times an n_space x n_space grid of [0, s_max]^2."""
    from evaluation import analytic as an

    axis = np.linspace(0.0, p.s_max, n_space)
    x = np.array(np.meshgrid(axis, axis, indexing="ij")).reshape(2, -1).T
    taus, xs, vals = [], [], []
    for f in (0.25, 0.5, 0.75, 1.0):
        tau = f * p.maturity
        taus.append(np.full(len(x), tau))
        xs.append(x)
        vals.append(an.arithmetic_basket_2d(x, strike=p.strike, maturity=tau, kind="put",
                                            vols=p.vols, rho=p.rho, rate=p.rate,
                                            weights=p.weights).price)
    return np.concatenate(taus), np.concatenate(xs), np.concatenate(vals)


def table5(width: int, depth: int, seed: int, cap: float, segment: float,
           workdir: Path) -> dict:
    """Error against training time of the recipe on the Table 5 basket (see the module doc)."""
    p = basket_problem()
    taus, xs, ref = basket_reference(p)
    ckpt = workdir / f"table5_{depth}x{width}_seed{seed}"
    curve: list[dict] = []
    limit = 0.0
    while limit < cap:
        limit = min(cap, limit + segment)
        cfg = PINNConfig.faithful(width=width, depth=depth, collocation=UniformGrid(21, 41),
                                  adam_steps=3000, lbfgs_iterations=3000, seed=seed,
                                  time_limit=limit, num_threads=1, checkpoint_every=100,
                                  checkpoint_dir=str(ckpt))
        sol = solve(p, cfg, resume=True)
        point = {"train_seconds": sol.stats["train_seconds"], "steps": sol.stats["steps"],
                 "loss": float(sol.history["loss"][-1]),
                 **log_errors(np.ravel(sol.price(xs, taus)), ref)}
        curve.append(point)
        print(f"table5 {depth}x{width} seed {seed}: {point['steps']} steps, "
              f"{point['train_seconds']:.0f} s, L2 {point['log10_rel_L2']:.2f}", flush=True)
        if sol.stats["status"] != "time_limit":
            break
    last = curve[-1]
    per_step = last["train_seconds"] / max(last["steps"], 1)
    return {"study": "table5", "width": width, "depth": depth, "seed": seed,
            "cap_seconds": cap, "curve": curve, "seconds_per_step": per_step,
            "recipe_seconds_at_this_rate": per_step * RECIPE_STEPS,
            "status": "completed" if last["steps"] >= RECIPE_STEPS else "time_limit"}


DOC = ROOT / "docs" / "nonlinear-xva.md"
_START, _END = "<!-- source-results:start", "<!-- source-results:end -->"


def table(runs: list[dict]) -> str:
    """Markdown table of the runs: log10 relative L1/L2/Linf over the (tau, S) grid, the same at
    tau = T (today's prices) and L2 over tau >= T/10, and where the largest error sits."""
    head = ("| study | loss | bc_weight | seed | L1 | L2 | Linf | at τ = T: L1 / L2 / Linf | "
            "L2, τ ≥ T/10 | largest error (τ, S): network − exact | train s | status |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|")
    p = PUBLISHED
    rows = [f"| source Table 2 | boundary_safe | | worst of seeds | {p['l1']:.2f} | "
            f"{p['l2']:.2f} | {p['linf']:.2f} | | | | | published |"]
    for r in sorted(runs, key=lambda r: (r["study"], r["loss"], r["bc_weight"], r["seed"])):
        e, t = r["space_time_grid"], r["today"]
        at = r.get("linf_at")
        where = f"({at['tau']:g}, {at['spot']:g}): {at['error']:+.3f}" if at else ""
        rows.append(f"| {r['study']} | {r['loss']} | {r['bc_weight']:g} | {r['seed']} | "
                    f"{e['log10_rel_L1']:.2f} | {e['log10_rel_L2']:.2f} | "
                    f"{e['log10_rel_Linf']:.2f} | {t['log10_rel_L1']:.2f} / "
                    f"{t['log10_rel_L2']:.2f} / {t['log10_rel_Linf']:.2f} | "
                    f"{r['tau_ge_0.1T']['log10_rel_L2']:.2f} | {where} | "
                    f"{r['train_seconds']:.0f} | {r['status']} |")
    return "\n".join([head, *rows])


def table5_table(runs: list[dict]) -> str:
    """Markdown table of the Table 5 runs: log10 relative errors against training time, and the
    time the recipe's 6000 steps would take at the measured rate."""
    head = ("| network | seed | train s | steps | L1 | L2 | Linf | s per step | "
            "6000 steps would take |\n|---|---|---|---|---|---|---|---|---|")
    p = PUBLISHED_TABLE5
    rows = [f"| 12 × 60, source Table 5 | worst of seeds | | 6000 | {p['l1']:.2f} | "
            f"{p['l2']:.2f} | {p['linf']:.2f} | | |"]
    for r in sorted(runs, key=lambda r: (r["depth"], r["width"], r["seed"])):
        for i, c in enumerate(r["curve"]):
            last = i == len(r["curve"]) - 1
            rate = (f"{r['seconds_per_step']:.2f} | {r['recipe_seconds_at_this_rate'] / 3600:.1f} h"
                    if last else " | ")
            rows.append(f"| {r['depth']} × {r['width']} | {r['seed']} | "
                        f"{c['train_seconds']:.0f} | {c['steps']} | {c['log10_rel_L1']:.2f} | "
                        f"{c['log10_rel_L2']:.2f} | {c['log10_rel_Linf']:.2f} | {rate} |")
    return "\n".join([head, *rows])


def write_docs(results: Path, doc: Path = DOC) -> None:
    """Replace the generated source-reproduction table of ``doc`` with the runs of ``results``."""
    runs = json.loads(results.read_text()).get("source_reproduction", {}).get("runs", [])
    text = doc.read_text()
    i = text.index("\n", text.index(_START)) + 1
    j = text.index(_END)
    doc.write_text(text[:i] + table(runs) + "\n" + text[j:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=seed_list, default=[0, 1, 2], help="e.g. 0,1,2")
    ap.add_argument("--cap", type=SECONDS, default=2400.0, help="seconds per run")
    ap.add_argument("--sweep", action="store_true", help="boundary-safe vs classical sweep")
    ap.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "pinn.json"))
    ap.add_argument("--table5", action="store_true",
                    help="error against time of the recipe on the source's Table 5 basket")
    ap.add_argument("--arch", type=architecture, default=(12, 60),
                    help="--table5 network, DEPTHxWIDTH (default 12x60)")
    ap.add_argument("--segment", type=SECONDS, default=300.0,
                    help="--table5: seconds between two scorings")
    ap.add_argument("--workdir", default=str(ROOT / "runs" / "benchmark-checkpoints"),
                    help="--table5 checkpoints (resumed if present)")
    ap.add_argument("--lstsq-rounds", type=int_at_least(0), default=0,
                    help="Table 2 study: least-squares solves of the output layer after the "
                         "recipe (study 'table2 + least squares'; not the source's recipe)")
    ap.add_argument("--s-max", type=float_in(2.0 * STRIKE, 1e6), default=S_MAX,
                    help="Table 2 and sweep: upper truncation of S, in [200, 1e6] (twice the "
                         "strike or more; the recipe's is 400)")
    ap.add_argument("--n-space", type=int_at_least(3), default=N_SPACE,
                    help="Table 2 and sweep: grid nodes in S (the recipe's is 201)")
    ap.add_argument("--n-tau", type=int_at_least(2), default=N_TAU,
                    help="Table 2 and sweep: grid nodes in tau (the recipe's is 51)")
    ap.add_argument("--lbfgs-iterations", type=int_at_least(0), default=LBFGS_ITERATIONS,
                    help="Table 2 and sweep: L-BFGS iterations after the 3000 Adam steps (the "
                         "recipe's is 3000)")
    ap.add_argument("--source-network", action="store_true",
                    help="Table 2 with the network conventions of the source's public code "
                         "(study 'table2, source code\'s network')")
    ap.add_argument("--write-docs", action="store_true",
                    help="regenerate the table of docs/nonlinear-xva.md from --output, run nothing")
    args = ap.parse_args(argv)
    off_recipe = grid_label(args.s_max, args.n_tau, args.n_space, args.lbfgs_iterations)
    if args.table5 and off_recipe:
        ap.error("--n-space, --n-tau, --s-max and --lbfgs-iterations apply to the 1D put "
                 "(Table 2 and --sweep), not to --table5")
    if args.source_network and (args.table5 or args.sweep or args.lstsq_rounds):
        ap.error("--source-network applies to Table 2 (the 1D put) alone, not to --table5, "
                 "--sweep or --lstsq-rounds")
    if args.write_docs:
        write_docs(Path(args.output))
        return 0
    seeds, path = args.seeds, Path(args.output)
    if args.table5:
        depth, width = args.arch
        for seed in seeds:
            row = {**table5(width, depth, seed, args.cap, args.segment, Path(args.workdir)),
                   "machine": machine(),
                   "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}

            def merge_table5(data: dict, row: dict = row) -> None:
                sec = data.setdefault("source_reproduction", {"published_table2": PUBLISHED,
                                                              "runs": []})
                sec["published_table5"] = PUBLISHED_TABLE5
                key = (row["depth"], row["width"], row["seed"])
                sec["table5"] = [r for r in sec.get("table5", [])
                                 if (r["depth"], r["width"], r["seed"]) != key] + [row]

            update_results(path, merge_table5)
        return 0
    runs = ([(loss, w, s) for loss in ("boundary_safe", "classical") for w in (0.01, 1.0, 100.0)
             for s in seeds] if args.sweep else [("boundary_safe", 1.0, s) for s in seeds])
    for loss, w, seed in runs:
        if args.sweep and loss == "boundary_safe" and w != 1.0:
            continue  # the boundary-safe loss has no boundary weight: one row per seed
        rounds = 0 if args.sweep else args.lstsq_rounds
        cfg = config(loss, seed, args.cap, w, lstsq_rounds=rounds, n_tau=args.n_tau,
                     n_space=args.n_space, lbfgs_iterations=args.lbfgs_iterations,
                     lbfgs_history=(SOURCE_LBFGS_HISTORY if args.source_network
                                    else PINNConfig.lbfgs_history))
        res = run_bs(problem(args.s_max), cfg,
                     solver=solve_with_source_network if args.source_network else None)
        study = ("sweep" if args.sweep else "table2 + least squares" if rounds else "table2")
        study += grid_label(args.s_max, args.n_tau, args.n_space, args.lbfgs_iterations)
        study += ", source code's network" if args.source_network else ""
        row = {"study": study, "loss": loss, "bc_weight": w,
               "seed": seed, "cap_seconds": args.cap, **res, "machine": machine(),
               "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}

        def merge(data: dict, row: dict = row) -> None:
            sec = data.setdefault("source_reproduction", {"published_table2": PUBLISHED,
                                                          "runs": []})
            key = (row["study"], row["loss"], row["bc_weight"], row["seed"])
            sec["runs"] = [r for r in sec["runs"]
                           if (r["study"], r["loss"], r["bc_weight"], r["seed"]) != key] + [row]

        update_results(path, merge)
        e = res["space_time_grid"]
        print(f"{row['study']} {loss} bc_weight={w} seed={seed}: L1/L2/Linf "
              f"{e['log10_rel_L1']:.2f}/{e['log10_rel_L2']:.2f}/{e['log10_rel_Linf']:.2f} "
              f"in {res['train_seconds']:.0f} s ({res['status']}, {res['steps']} steps)",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
