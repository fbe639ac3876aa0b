"""Accuracy and cost of the boundary-safe PINN (training.pinn) against closed forms and FD.

For every problem and variant it reports log10 relative L1, L2, Linf price errors on a dense grid,
relative errors of price, delta, gamma (vega for Heston) at S = K and two other points today, and
the training time. Variants:

* ``faithful``  - the source's recipe: 4 x 40 tanh, uniform grid with trapezoidal weights,
  boundary-safe residuals, soft initial condition, Adam (inverse-time decay) then L-BFGS;
* ``classical`` - the same with lambda-weighted Dirichlet/Neumann terms (lambda = 1);
* ``best``      - ours: boundary-safe residuals with the trial value B (1 + tau N_a) + tau N_b,
  B the exact risk-free price of the same payoff (BS, Stulz; the arithmetic basket by conditioning
  and quadrature; Heston by the characteristic function), tabulated once per point
  set, the full PDE on the faces, 3 x 32 tanh, then least-squares solves of the output layer.
  For one-signed payoffs the risky value is exactly e^{-c tau} B, so the network learns the XVA
  factor; the reference comparisons below measure how well it does, and the FD comparisons are
  independent of the base.

References: BS 1D and worst-of put: closed forms (evaluation.analytic) times e^{-c tau} (exact for
one-signed payoffs); arithmetic basket: evaluation.analytic.arithmetic_basket_2d (conditioning
and quadrature; runs before 2026-11-27 used a 64-node Gauss-Hermite rule, equal to 1e-12 K at
these parameters) times e^{-c tau}, and evaluation.fd.basket_2d (ADI); Heston:
evaluation.analytic.heston (characteristic function, adaptive quadrature) times e^{-c tau}, and
evaluation.fd.heston_2d for comparison (Neumann at v_max, as the source). Parameter sets and XVA
scenarios are ours (docs/methods.md §2), not the source's.

Budgets: ``--quick`` trains 1D runs with 500 Adam + 300 L-BFGS steps on a 26 x 101 grid (best
variant: 300 + 300), 2D runs with 300 + 150 (best: 200 + 150) on a 9 x 21 x 21 grid, covers BS 1D
risk-free and the six lambda_B scenarios (the faithful recipe and the classical baseline only
for risk-free and lambda_B = 0.02) and the 2D problems for lambda_B = 0.02 only, with coarse FD
references.
The full budget is the source's for the faithful and classical variants (3000 + 3000 steps,
201 x 51 grid in 1D, 41 x 41 x 21 in 2D); the best variant uses 300 + 1200 on the 201 x 51 grid in
1D and 300 + 1500 on a 31 x 31 x 13 grid clustered at the strike in 2D (``BEST_2D_GRID``); every
scenario, 15-minute cap per run (13 minutes of gradient steps for the best variant in 2D, so its
least-squares solves fit), fine FD references (basket 400 x 400 x 200).

Non-linear section (``--section nonlinear``, :mod:`benchmarks.pinn_nonlinear`): netting sets
whose value takes both signs, against FD with its own error estimate, beside the free linear and
sign-split approximations; results under the key "nonlinear" of the same JSON file.

Usage::

    python benchmarks/pinn.py --quick            # reduced budgets (about an hour on 2 busy cores)
    python benchmarks/pinn.py                    # full budgets (CPU <= 15 min per problem-variant)
    python benchmarks/pinn.py --problems bs --variants best
    python benchmarks/pinn.py --section nonlinear --problems bs_forward,bs_collar --bases split
    python benchmarks/pinn.py --section nonlinear --problems heston_collar --width 128
    python benchmarks/pinn.py --section nonlinear --problems bs_collar --bases none --threads 2

Rows are merged into the results file under a lock, so several invocations may run at once.

Writes benchmarks/results/pinn.json (use --output to change) with the machine, the date and the
budget that was run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow `python benchmarks/pinn.py` from a checkout
    sys.path.insert(0, str(ROOT))

import evaluation.analytic as an  # noqa: E402
from simulators.xva import XVA  # noqa: E402
from training.pinn import (  # noqa: E402
    BasketPDE,
    BlackScholesPDE,
    ClusteredGrid,
    HestonPDE,
    PINNConfig,
    PINNSolution,
    UniformGrid,
    WorstOfPDE,
    solve,
)

LAMBDA_B = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)
#: Collocation of the best variant on 2D problems at the full budget: fewer points than the
#: source's 21 x 41 x 41 grid (so L-BFGS gets more iterations within 15 minutes), clustered at the
#: strike (and v = 0 for Heston).
BEST_2D_GRID = ClusteredGrid(n_tau=13, n_space=31, stretch=2.0)


def xva_scenario(lambda_b: float) -> XVA:
    return XVA(lambda_b=lambda_b, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)


# ----- budgets --------------------------------------------------------------------------------
def configs(dim: int, budget: str) -> dict[str, PINNConfig]:
    """Training configurations per variant for a problem of state dimension ``dim``."""
    if budget == "full":
        grid = UniformGrid(51, 201) if dim == 1 else UniformGrid(21, 41)
        steps = dict(adam_steps=3000, lbfgs_iterations=3000)
        best = dict(adam_steps=300, lbfgs_iterations=1200, collocation=grid) if dim == 1 else \
            dict(adam_steps=300, lbfgs_iterations=1500, collocation=BEST_2D_GRID)
        limit = 900.0
    else:
        grid = UniformGrid(26, 101) if dim == 1 else UniformGrid(9, 21)
        steps = dict(adam_steps=500, lbfgs_iterations=300) if dim == 1 else \
            dict(adam_steps=300, lbfgs_iterations=150)
        best = dict(adam_steps=300, lbfgs_iterations=300) if dim == 1 else \
            dict(adam_steps=200, lbfgs_iterations=150)
        best["collocation"] = grid
        limit = 240.0
    common = dict(num_threads=1, time_limit=limit)
    # The best variant's least-squares solves run after the time limit (about a minute on 2D
    # problems): stop its gradient steps earlier so the whole run fits in 15 minutes.
    best_limit = dict(num_threads=1, time_limit=limit - 120.0 if dim > 1 else limit)
    return {
        "faithful": PINNConfig.faithful(**steps, collocation=grid, **common),
        "classical": PINNConfig.classical(**steps, collocation=grid, **common),
        "best": PINNConfig.best(**best, **best_limit),
    }


# ----- metrics --------------------------------------------------------------------------------
def log_errors(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    e = pred - ref
    return {
        "log10_rel_L1": float(np.log10(np.abs(e).sum() / np.abs(ref).sum())),
        "log10_rel_L2": float(np.log10(np.linalg.norm(e) / np.linalg.norm(ref))),
        "log10_rel_Linf": float(np.log10(np.abs(e).max() / np.abs(ref).max())),
    }


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


# ----- references -----------------------------------------------------------------------------
def bs_reference(p: BlackScholesPDE, spot, tau):
    spot, tau = np.broadcast_arrays(np.asarray(spot, float), np.asarray(tau, float))
    price = p.payoff(torch.tensor(spot[:, None])).numpy().copy()
    pos = tau > 0
    price[pos] = an.black_scholes(spot=spot[pos], strike=p.strike, maturity=tau[pos], vol=p.vol,
                                  rate=p.rate, dividend=p.dividend, kind=p.kind)
    return price * np.exp(-p.spread * tau)


def run_bs(p: BlackScholesPDE, cfg: PINNConfig,
           solver: Callable[[BlackScholesPDE, PINNConfig], PINNSolution] | None = None) -> dict:
    """Train ``cfg`` on the 1D problem (with ``solver(p, cfg)``, default :func:`solve`) and
    score it against the closed form on a 101 x 401 (tau, S) grid."""
    sol = (solver or solve)(p, cfg)
    t, s = np.meshgrid(np.linspace(0.0, p.maturity, 101), np.linspace(0.0, p.s_max, 401),
                       indexing="ij")
    t, s = t.ravel(), s.ravel()
    pred, ref = sol.price(s[:, None], t), bs_reference(p, s, t)
    late = t >= 0.1 * p.maturity
    today = t == p.maturity
    pts = np.array([p.strike, 0.8 * p.strike, 1.2 * p.strike])
    g = sol.greeks(pts[:, None])
    rg = an.black_scholes_greeks(spot=pts, strike=p.strike, maturity=p.maturity, vol=p.vol,
                                 rate=p.rate, dividend=p.dividend, kind=p.kind)
    fac = np.exp(-p.spread * p.maturity)
    worst = int(np.argmax(np.abs(pred - ref)))
    return {
        "space_time_grid": log_errors(pred, ref),
        "linf_at": {"tau": float(t[worst]), "spot": float(s[worst]),
                    "error": float(pred[worst] - ref[worst])},
        "tau_ge_0.1T": log_errors(pred[late], ref[late]),
        "today": log_errors(pred[today], ref[today]),
        "points": point_errors(pts[:, None], g, {"price": np.asarray(rg.price) * fac,
                                                 "delta": np.asarray(rg.delta) * fac,
                                                 "gamma": np.asarray(rg.gamma) * fac}),
        "train_seconds": sol.stats["train_seconds"],
        "steps": sol.stats["steps"],
        "status": sol.stats["status"],
        "lstsq_rounds": sol.stats.get("lstsq_rounds", 0),
        "final_loss": float(sol.history["loss"][-1]),
    }


def point_errors(pts, g, ref) -> list[dict]:
    out = []
    for i, x in enumerate(pts):
        row = {"point": [float(c) for c in np.atleast_1d(x)]}
        for k, r in ref.items():
            row[f"{k}_pinn"] = np.asarray(g[k][i]).tolist()
            row[f"{k}_ref"] = np.asarray(r[i]).tolist()
            row[f"{k}_rel_err"] = rel(g[k][i], r[i])
        out.append(row)
    return out


def quadrature_greeks(price, pts: np.ndarray, h: float = 0.05) -> dict[str, np.ndarray]:
    """Price, deltas and gammas of a smooth two-asset pricing function by central differences
    (step h in spot units: truncation error ~h^2 times the fourth derivative, round-off
    ~1e-10 K / h^2)."""
    out = {"price": price(pts), "delta": np.zeros((len(pts), 2)), "gamma": np.zeros((len(pts), 2))}
    for i in range(2):
        e = np.zeros(2)
        e[i] = h
        up, dn = price(pts + e), price(pts - e)
        out["delta"][:, i] = (up - dn) / (2.0 * h)
        out["gamma"][:, i] = (up - 2.0 * out["price"] + dn) / (h * h)
    return out


def run_two_asset(p, cfg: PINNConfig, fd_kw: dict) -> dict:
    import evaluation.fd as fd

    sol = solve(p, cfg)
    style = "worst_of" if isinstance(p, WorstOfPDE) else "arithmetic"
    extra = {} if style == "worst_of" else {"weights": p.weights}
    t0 = time.perf_counter()
    ref_fd = fd.basket_2d(strike=p.strike, maturity=p.maturity, vols=p.vols, rho=p.rho,
                          rate=p.rate, dividends=p.dividends, kind=p.kind, style=style,
                          xva=p.xva, s_max=p.s_max, **extra, **fd_kw)
    fd_seconds = time.perf_counter() - t0
    # The FD grid's last node may fall just short of s_max: compare on the common box.
    axis = np.linspace(0.0, min(p.s_max, *(a[-1] for a in ref_fd.axes)), 81)
    s1, s2 = (a.ravel() for a in np.meshgrid(axis, axis, indexing="ij"))
    x = np.column_stack([s1, s2])
    pts = np.array([[100.0, 100.0], [80.0, 90.0], [120.0, 110.0]])
    g = sol.greeks(pts)
    res = {"train_seconds": sol.stats["train_seconds"], "steps": sol.stats["steps"],
           "status": sol.stats["status"], "lstsq_rounds": sol.stats.get("lstsq_rounds", 0),
           "final_loss": float(sol.history["loss"][-1]),
           "fd_seconds": fd_seconds}
    inner = (s1 > 0) & (s2 > 0)
    if style == "arithmetic":
        fac = np.exp(-p.spread * p.maturity)

        def quad(y):
            return an.arithmetic_basket_2d(y, strike=p.strike, maturity=p.maturity, kind=p.kind,
                                           vols=p.vols, rho=p.rho, rate=p.rate,
                                           dividends=p.dividends, weights=p.weights).price * fac

        ref = quad(x)
        res["today_vs_quadrature"] = log_errors(sol.price(x), ref)
        res["today_fd_vs_quadrature"] = log_errors(ref_fd.price(x), ref)
        res["points_vs_quadrature"] = point_errors(pts, g, quadrature_greeks(quad, pts))
    if style == "worst_of":
        fac = np.exp(-p.spread * p.maturity)
        ref = np.zeros(len(x))
        ref[inner] = an.stulz_min(x[inner], strike=p.strike, maturity=p.maturity, kind=p.kind,
                                  vols=p.vols, rho=p.rho, rate=p.rate,
                                  dividends=p.dividends).price * fac
        ref[~inner] = p.strike * np.exp(-(p.rate + p.spread) * p.maturity)  # put at S_i = 0
        res["today_vs_stulz"] = log_errors(sol.price(x), ref)
        rs = an.stulz_min(pts, strike=p.strike, maturity=p.maturity, kind=p.kind, vols=p.vols,
                          rho=p.rho, rate=p.rate, dividends=p.dividends)
        res["points_vs_stulz"] = point_errors(pts, g, {"price": rs.price * fac,
                                                       "delta": rs.delta * fac})
        res["today_fd_vs_stulz"] = log_errors(ref_fd.price(x), ref)
    res["today_vs_fd"] = log_errors(sol.price(x), ref_fd.price(x))
    gam = ref_fd.gamma(pts)
    res["points_vs_fd"] = point_errors(pts, g, {
        "price": ref_fd.price(pts), "delta": ref_fd.delta(pts),
        "gamma": np.stack([gam[:, 0, 0], gam[:, 1, 1]], axis=1)})
    return res


def run_heston(p: HestonPDE, cfg: PINNConfig, fd_kw: dict) -> dict:
    import evaluation.fd as fd

    sol = solve(p, cfg)
    kw = dict(strike=p.strike, maturity=p.maturity, kappa=p.kappa, theta=p.theta, xi=p.xi,
              rho=p.rho, rate=p.rate, dividend=p.dividend, kind=p.kind)
    t0 = time.perf_counter()
    ref_fd = fd.heston_2d(xva=p.xva, s_max=p.s_max, v_max=p.v_max, **kw, **fd_kw)
    fd_seconds = time.perf_counter() - t0
    # The FD grid's last nodes may fall just short of s_max, v_max: compare on the common box.
    s_hi, v_hi = min(p.s_max, ref_fd.axes[0][-1]), min(p.v_max, 1.0, ref_fd.axes[1][-1])
    s, v = (a.ravel() for a in np.meshgrid(np.linspace(5.0, s_hi, 80),
                                           np.linspace(0.0, v_hi, 41), indexing="ij"))
    x = np.column_stack([s, v])
    fac = np.exp(-p.spread * p.maturity)
    ref = np.asarray(an.heston(spot=s, variance=v, **kw)) * fac
    pts = np.array([[100.0, 0.04], [80.0, 0.04], [120.0, 0.09]])
    g = sol.greeks(pts)
    hg = an.heston_greeks(spot=pts[:, 0], variance=pts[:, 1], **kw)
    low = v <= 0.25  # away from the truncation at v_max
    return {
        "today_vs_cf": log_errors(sol.price(x), ref),
        "today_vs_cf_v_le_0.25": log_errors(sol.price(x[low]), ref[low]),
        "today_vs_fd": log_errors(sol.price(x), ref_fd.price(x)),
        "today_fd_vs_cf": log_errors(ref_fd.price(x), ref),
        "today_fd_vs_cf_v_le_0.25": log_errors(ref_fd.price(x[low]), ref[low]),
        "points_vs_cf": point_errors(pts, g, {"price": np.asarray(hg.price) * fac,
                                              "delta": np.asarray(hg.delta) * fac,
                                              "vega": np.asarray(hg.vega) * fac}),
        "points_vs_fd": point_errors(pts, g, {"gamma": ref_fd.gamma(pts)}),
        "train_seconds": sol.stats["train_seconds"], "steps": sol.stats["steps"],
        "status": sol.stats["status"], "lstsq_rounds": sol.stats.get("lstsq_rounds", 0),
        "final_loss": float(sol.history["loss"][-1]),
        "fd_seconds": fd_seconds,
    }


# ----- driver ---------------------------------------------------------------------------------
def cases(budget: str, heston_v_max: float = 1.0) -> list[tuple[str, str, object]]:
    """(problem label, scenario label, problem) triples."""
    out = []
    bs = dict(strike=100.0, maturity=1.0, vol=0.25, rate=0.03, dividend=0.0, kind="put",
              s_max=400.0)
    out.append(("bs1d", "risk_free", BlackScholesPDE(**bs)))
    for lb in LAMBDA_B:
        out.append(("bs1d", f"lambda_b={lb}", BlackScholesPDE(**bs, xva=xva_scenario(lb))))
    two = dict(strike=100.0, maturity=0.5, vols=(0.25, 0.35), rate=0.03, dividends=(0.0, 0.0),
               rho=0.5, kind="put", s_max=400.0)
    hes = dict(strike=100.0, maturity=1.0, rate=0.025, dividend=0.0, kappa=1.5, theta=0.04,
               xi=0.3, rho=-0.9, kind="put", s_max=400.0, v_max=heston_v_max)
    scen = [("lambda_b=0.02", xva_scenario(0.02))]
    if budget == "full":
        scen = [("risk_free", None)] + [(f"lambda_b={lb}", xva_scenario(lb)) for lb in LAMBDA_B]
    for label, x in scen:
        out.append(("basket_arithmetic", label, BasketPDE(**two, weights=(0.5, 0.5), xva=x)))
        out.append(("worst_of", label, WorstOfPDE(**two, xva=x)))
        out.append(("heston", label, HestonPDE(**hes, xva=x)))
    return out


def machine() -> dict:
    from benchmarks import _machine

    return {**_machine.describe(), "torch": torch.__version__,
            "load_average_at_start": list(os.getloadavg())}


def float_in(low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
    """argparse type: a number in [low, high] (``(low, high]`` with ``low_open``), else one line
    naming the range and the value."""
    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            x = float("nan")
        if not (low < x if low_open else low <= x) or not x <= high:
            span = f"{'(' if low_open else '['}{low:g}, {high:g}]"
            raise argparse.ArgumentTypeError(f"must be a number in {span}, got {text!r}")
        return x
    return parse


def int_at_least(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer >= ``minimum``, else one line naming the range and the value."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = minimum - 1
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
        return n
    return parse


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and x > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return x


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="reduced budgets")
    ap.add_argument("--problems", default="bs1d,basket_arithmetic,worst_of,heston")
    ap.add_argument("--variants", default="faithful,classical,best")
    ap.add_argument("--scenarios", default=None,
                    help="comma list of scenario labels to keep (default: all of the budget)")
    ap.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "pinn.json"))
    ap.add_argument("--adam-steps", type=int, default=None, help="override every variant's")
    ap.add_argument("--lbfgs-iterations", type=int, default=None, help="override every variant's")
    ap.add_argument("--heston-v-max", type=float, default=1.0,
                    help="upper variance bound of the Heston domain (docs/methods.md: 1)")
    ap.add_argument("--append", action="store_true",
                    help="add the runs to an existing output file instead of replacing it")
    ap.add_argument("--section", choices=("one_signed", "nonlinear"), default="one_signed",
                    help="one_signed: the calls and puts above; nonlinear: netting sets")
    ap.add_argument("--lambda-b", default=None, help="nonlinear: comma list (default 0.02,0.2)")
    ap.add_argument("--width", type=int, default=None,
                    help="nonlinear: units per hidden layer instead of the problem's default")
    ap.add_argument("--threads", type=int_at_least(1), default=None,
                    help="nonlinear: torch threads per run instead of the budget's (1; 2 for "
                         "the quick 2D budget); give a run with N > 1 the machine to itself")
    ap.add_argument("--faces", choices=("reduced", "full", "auto", "pointwise"), default=None,
                    help="nonlinear: face residuals instead of the problem's default (auto)")
    ap.add_argument("--state-weights", choices=("area", "nodes"), default=None,
                    help="nonlinear, problems on a ClusteredGrid (2D, Heston): its state_weights "
                         "instead of the default (area)")
    ap.add_argument("--stretch", type=positive_float, default=None,
                    help="nonlinear, problems on a ClusteredGrid (2D, Heston): its stretch "
                         "instead of the default (2; smaller clusters the nodes more)")
    ap.add_argument("--bases", default="risk_free,split",
                    help="nonlinear: comma list of risk_free, split, smoothed_payoff, none")
    ap.add_argument("--fd-order", action="store_true",
                    help="nonlinear: measure the FD references' order of convergence on three "
                         "grids (results under nonlinear.fd_order) instead of training")
    ap.add_argument("--write-docs", action="store_true",
                    help="nonlinear: regenerate the results table of docs/nonlinear-xva.md from "
                         "--output, run nothing")
    args = ap.parse_args(argv)
    if args.section == "nonlinear":
        from benchmarks import pinn_nonlinear

        if args.problems == "bs1d,basket_arithmetic,worst_of,heston":
            args.problems = None
        return pinn_nonlinear.main(args, machine(), args.output)
    budget = "quick" if args.quick else "full"
    overrides = {k: val for k, val in (("adam_steps", args.adam_steps),
                                       ("lbfgs_iterations", args.lbfgs_iterations))
                 if val is not None}
    label = budget + "".join(f", {k}={val}" for k, val in overrides.items())
    if args.heston_v_max != 1.0:
        label += f", heston_v_max={args.heston_v_max:g}"
    problems = set(args.problems.split(","))
    variants = args.variants.split(",")
    keep = None if args.scenarios is None else set(args.scenarios.split(","))
    fd_kw = {"n_space": (80, 80), "n_time": 40} if budget == "quick" else \
        {"n_space": (400, 400), "n_time": 200}
    fd_kw_h = {"n_space": (100, 50), "n_time": 50} if budget == "quick" else \
        {"n_space": (240, 120), "n_time": 120}
    results = {
        "benchmark": "training.pinn",
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "budget": budget,
        "machine": machine(),
        "notes": "Parameter sets and XVA scenarios are ours (docs/methods.md section 2), not the "
                 "source's. log10 relative errors: sum|e|/sum|ref|, ||e||_2/||ref||_2, "
                 "max|e|/max|ref|. 'today' = tau = maturity.",
        "configs": {},
        "runs": [],
    }
    out = Path(args.output)
    if args.append and out.exists():
        previous = json.loads(out.read_text())
        previous["runs"] += results["runs"]
        previous.setdefault("appended", []).append(
            {"date_utc": results["date_utc"], "budget": label, "machine": results["machine"]})
        results = previous
    for prob, scen, p in cases(budget, args.heston_v_max):
        if prob not in problems or (keep is not None and scen not in keep):
            continue
        cfgs = configs(p.dim, budget)
        for var in variants:
            if (budget == "quick" and var != "best" and prob == "bs1d"
                    and scen not in ("risk_free", "lambda_b=0.02")):
                continue  # quick budget: faithful and baseline on two 1D scenarios only
            cfg = cfgs[var].replace(**overrides)
            pv = p
            results["configs"][f"{prob}/{var}/{label}"] = cfg.to_dict()
            t0 = time.perf_counter()
            if prob == "bs1d":
                res = run_bs(pv, cfg)
            elif prob == "heston":
                res = run_heston(pv, cfg, fd_kw_h)
            else:
                res = run_two_asset(pv, cfg, fd_kw)
            res.update(problem=prob, scenario=scen, variant=var, budget=label,
                       wall_seconds=time.perf_counter() - t0, parameters=pv.to_dict())
            results["runs"].append(res)
            key = next(k for k in ("space_time_grid", "today_vs_stulz", "today_vs_quadrature",
                                   "today_vs_cf_v_le_0.25", "today_vs_fd",
                                   "today_vs_cf") if k in res)
            print(f"{prob:18s} {scen:14s} {var:9s} L2 {res[key]['log10_rel_L2']:7.2f} "
                  f"({key}) train {res['train_seconds']:6.1f}s", flush=True)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
