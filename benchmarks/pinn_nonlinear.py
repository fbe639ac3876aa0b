"""Non-linear XVA section of the PINN benchmark: netting sets whose value takes both signs.

Problems (lambda_C = 0.05, R_B = R_C = 0.4, funding spread (1 - R_B) lambda_B; lambda_B in
{0.02, 0.2}):

* ``bs_forward``: Black-Scholes forward S - 100 (vol 0.25, r 0.03, T 1);
* ``bs_collar``: long call 110, short put 90 (same model);
* ``basket_forward``: two-asset arithmetic basket forward 0.5 S1 + 0.5 S2 - 100 (vols 0.25/0.35,
  rho 0.5, r 0.03, T 0.5);
* ``worst_call_basket_put``: long worst-of call 100, short basket put 100 (same model);
* ``heston_collar``: Heston (kappa 1.5, theta 0.04, xi 0.3, rho -0.9, r 0.025, T 1) collar
  long call 110, short put 90.

Reference: ``evaluation.fd`` with ``payoff=`` (Crank-Nicolson in 1D, Hundsdorfer-Verwer ADI in
2D), solved to each tau of the (tau, state) box; its own error is estimated by solving again on
a grid coarser by 2 in every direction (``|V_h - V_2h|``, about 3 times the fine grid's
error for a convergent second-order scheme: an estimate on the safe side, not a bound) and
reported beside the PINN's. The worst-of
problem's kink along S1 = S2 is not on the grid's nodes, which slows the FD's convergence: its
reference is the Richardson extrapolation of 640 x 640 and 320 x 320 grids, with error
estimate ``|V_h - V_2h| / 3``.

Columns per run: log10 relative L1/L2/Linf of the PINN over the box (4 tau slices x states) and
at tau = T; the same near the money (``near``: the box's states whose spots lie in
[0.6 K_min, 1.5 K_max], K_min and K_max the smallest and largest strike of the legs; the box's
far field, where the value is nearly linear in the spots, dominates its norm), and there relative
to the XVA itself (``near_xva``: ||V_PINN - V|| / ||V - V_rf||); price, delta, gamma relative
errors at the money and at 0.8 K, 1.2 K; training seconds; the same box and near-the-money
errors for four free answers: the risk-free value V_rf, the two linear
approximations ``e^{-c+ tau} V_rf`` and ``e^{-c- tau} V_rf``, and the sign-split approximation
``e^{-c+ tau} V_rf(P) - e^{-c- tau} V_rf(N)`` (payoff = P - N, P, N >= 0). The base function the
PINN used ("risk_free", "split", "smoothed_payoff" or None) is in every row.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

import evaluation.fd as fd
from simulators import Leg, NettingSet
from simulators.xva import XVA
from training.pinn import (
    BlackScholesPDE,
    ClusteredGrid,
    HestonPDE,
    PINNConfig,
    TwoAssetPDE,
    solve,
)

LAMBDA_B = (0.02, 0.2)
TAU_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
PROBLEMS = ("bs_forward", "bs_collar", "basket_forward", "worst_call_basket_put",
            "heston_collar")


def xva(lambda_b: float) -> XVA:
    return XVA(lambda_b=lambda_b, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)


@dataclass
class Case:
    """One problem: the PINN problem, evaluation points (n, d), points for Greeks, the FD solver
    ``fd_solve(tau, scale)`` (scale 1: fine grid, 2: coarse), the PINN config per budget, and
    whether the reference is the Richardson extrapolation ``V_h + (V_h - V_2h) / 3`` of the two
    grids (its error estimate is then ``|V_h - V_2h| / 3``, the estimated error of ``V_h``)."""

    name: str
    problem: object
    points: np.ndarray
    greek_points: np.ndarray
    fd_solve: Callable[[float, int], object]
    config: Callable[[str, str | None], PINNConfig]
    richardson: bool = False

    def near(self) -> np.ndarray:
        """Mask of ``points`` near the money: every spot coordinate in [0.6 K_min, 1.5 K_max]
        (Heston: the spot; the variance is free)."""
        strikes = [leg.strike for leg in self.problem.netting.legs]
        lo, hi = 0.6 * min(strikes), 1.5 * max(strikes)
        spots = self.points[:, :1] if isinstance(self.problem, HestonPDE) else self.points
        return np.all((spots >= lo) & (spots <= hi), axis=1)


def _bs(name: str, netting: NettingSet, lam: float) -> Case:
    x = xva(lam)
    p = BlackScholesPDE(strike=100.0, maturity=1.0, vol=0.25, rate=0.03, netting=netting, xva=x)

    def fd_solve(tau: float, scale: int):
        return fd.black_scholes_1d(strike=100.0, maturity=tau, vol=0.25, rate=0.03, xva=x,
                                   payoff=netting.payoff, s_max=400.0,
                                   n_space=3200 // scale, n_time=1600 // scale)

    def config(budget: str, base: str | None) -> PINNConfig:
        if budget == "quick":
            return PINNConfig.best(base=base, adam_steps=300, lbfgs_iterations=600,
                                   num_threads=1, time_limit=600)
        # 64 units per layer: the 3 x 32 default plateaus at a loss about 4x higher here. Without
        # a base (soft initial condition) 1200 L-BFGS iterations end in about 6 minutes: allow
        # more, so that every variant has the same 540 s.
        return PINNConfig.best(base=base, width=64, adam_steps=300,
                               lbfgs_iterations=1200 if base else 3000,
                               num_threads=1, time_limit=540)

    return Case(name, p, np.linspace(0.0, 390.0, 196)[:, None],
                np.array([[100.0], [80.0], [120.0]]), fd_solve, config)


def _two_asset(name: str, netting: NettingSet, lam: float, n_fd: int = 320,
               richardson: bool = False) -> Case:
    x = xva(lam)
    common = dict(strike=100.0, maturity=0.5, vols=(0.25, 0.35), rate=0.03, rho=0.5, xva=x)
    p = TwoAssetPDE(netting=netting, **common)

    def pay(s1, s2):
        return netting.payoff(np.column_stack([np.ravel(s1), np.ravel(s2)])).reshape(
            np.shape(s1))

    def fd_solve(tau: float, scale: int):
        return fd.basket_2d(strike=100.0, maturity=tau, vols=(0.25, 0.35), rho=0.5, rate=0.03,
                            xva=x, payoff=pay, s_max=400.0,
                            n_space=(n_fd // scale, n_fd // scale), n_time=n_fd // 2 // scale)

    g = np.linspace(40.0, 200.0, 33)
    pts = np.array(np.meshgrid(g, g, indexing="ij")).reshape(2, -1).T
    return Case(name, p, pts, np.array([[100.0, 100.0], [80.0, 80.0], [120.0, 120.0]]),
                fd_solve, _config_2d, richardson)


#: The full budget's collocation for the two-asset and Heston problems.
GRID_2D = ClusteredGrid(n_tau=13, n_space=31, stretch=2.0)


def _config_2d(budget: str, base: str | None) -> PINNConfig:
    """Two-asset and Heston budgets: ``best`` with 96 units per layer (the error falls from 32 to
    64 to 96 units; L-BFGS stalls after a few hundred iterations whatever the width), 900
    L-BFGS iterations, the gradient steps capped at 540 s like 1D's; the least-squares rounds
    of the output layer (291 parameters with the sign feature) then take seconds."""
    if budget == "quick":
        return PINNConfig.best(base=base, width=96, adam_steps=200, lbfgs_iterations=300,
                               collocation=ClusteredGrid(n_tau=9, n_space=21, stretch=2.0),
                               num_threads=2, time_limit=300)
    return PINNConfig.best(base=base, width=96, adam_steps=300, lbfgs_iterations=900,
                           collocation=GRID_2D, num_threads=1, time_limit=540)


def _heston(name: str, netting: NettingSet, lam: float) -> Case:
    x = xva(lam)
    par = dict(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.025)
    p = HestonPDE(strike=100.0, maturity=1.0, netting=netting, xva=x, **par)

    def fd_solve(tau: float, scale: int):
        return fd.heston_2d(strike=100.0, maturity=tau, xva=x,
                            payoff=lambda s: netting.payoff(np.ravel(s)).reshape(np.shape(s)),
                            s_max=400.0, v_max=5.0, n_space=(640 // scale, 320 // scale),
                            n_time=320 // scale, **par)

    s = np.linspace(40.0, 200.0, 33)
    v = np.linspace(0.01, 0.25, 13)
    pts = np.array(np.meshgrid(s, v, indexing="ij")).reshape(2, -1).T
    # Second order observed under refinement (--fd-order): extrapolate.
    return Case(name, p, pts, np.array([[100.0, 0.04], [80.0, 0.04], [120.0, 0.04]]),
                fd_solve, _config_2d, richardson=True)


def case(name: str, lam: float) -> Case:
    collar = (Leg("call", 110.0), Leg("put", 90.0, -1.0))
    if name == "bs_forward":
        return _bs(name, NettingSet((Leg("forward", 100.0),), 1.0), lam)
    if name == "bs_collar":
        return _bs(name, NettingSet(collar, 1.0), lam)
    if name == "basket_forward":
        return _two_asset(name, NettingSet(
            (Leg("forward", 100.0, 1.0, "basket", (0.5, 0.5)),), 0.5), lam)
    if name == "worst_call_basket_put":
        return _two_asset(name, NettingSet(
            (Leg("call", 100.0, 1.0, "worst_of"),
             Leg("put", 100.0, -1.0, "basket", (0.5, 0.5))), 0.5), lam,
            n_fd=640, richardson=True)  # the min's kink is off the grid's nodes: refine
    if name == "heston_collar":
        return _heston(name, NettingSet(collar, 1.0), lam)
    raise ValueError(f"unknown problem {name!r}; one of {PROBLEMS}")


def log_errors(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    e = np.abs(np.asarray(pred, float) - ref)
    return {"l1": float(np.log10(e.sum() / np.abs(ref).sum())),
            "l2": float(np.log10(np.linalg.norm(e) / np.linalg.norm(ref))),
            "linf": float(np.log10(e.max() / np.abs(ref).max()))}


def _free_answers(p, taus: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    t = torch.as_tensor(taus, dtype=torch.float64)
    y = torch.as_tensor(x, dtype=torch.float64)
    rf = p.base_derivatives(t, y).value.numpy()
    split = p.split_derivatives(t, y).value.numpy()
    cp, cn = p.xva.spread_positive, p.xva.spread_negative
    return {"risk_free": rf, "linear_c_plus": np.exp(-cp * taus) * rf,
            "linear_c_minus": np.exp(-cn * taus) * rf, "split": split}


def _rel(a: float, b: float) -> float:
    return float(abs(a - b) / max(abs(b), 1e-12))


def richardson(fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """Richardson extrapolation of a second-order scheme, ``V_h + (V_h - V_2h) / 3``, from its
    values on a grid (``fine``) and on one twice as coarse in every direction (``coarse``)."""
    return fine + (fine - coarse) / 3.0


def run(c: Case, budget: str, base: str | None) -> dict:
    """Train the PINN of ``c`` and compare it with FD on the (tau, state) box."""
    p = c.problem
    t0 = time.perf_counter()
    refs, coarse, fd_seconds = {}, {}, 0.0
    for f in TAU_FRACTIONS:
        tau = f * p.maturity
        s0 = time.perf_counter()
        refs[f] = c.fd_solve(tau, 1)
        coarse[f] = c.fd_solve(tau, 2)
        fd_seconds += time.perf_counter() - s0
    sol = solve(p, c.config(budget, base))
    n = len(c.points)
    taus = np.concatenate([np.full(n, f * p.maturity) for f in TAU_FRACTIONS])
    xs = np.concatenate([c.points] * len(TAU_FRACTIONS))
    q = c.points[:, 0] if c.points.shape[1] == 1 else c.points
    ref = np.concatenate([np.asarray(refs[f].price(q)).ravel() for f in TAU_FRACTIONS])
    ref_c = np.concatenate([np.asarray(coarse[f].price(q)).ravel() for f in TAU_FRACTIONS])
    if c.richardson:  # estimate: |V_h - R| = |V_h - V_2h| / 3
        ref, ref_c = richardson(ref, ref_c), ref
    pred = np.asarray(sol.price(xs, taus)).ravel()
    today = taus == p.maturity
    free = _free_answers(p, taus, xs)
    near = np.concatenate([c.near()] * len(TAU_FRACTIONS))
    near_today = near & today
    g = sol.greeks(c.greek_points if c.greek_points.shape[1] > 1 else c.greek_points[:, 0])
    rg = refs[1.0]
    pts = c.greek_points if c.greek_points.shape[1] > 1 else c.greek_points[:, 0]
    r_price = np.asarray(rg.price(pts)).ravel()
    r_delta = np.asarray(rg.delta(pts)).reshape(len(pts), -1)[:, 0]
    r_gamma = np.asarray(rg.gamma(pts)).reshape(len(pts), -1)[:, 0]
    p_delta = np.asarray(g["delta"]).reshape(len(pts), -1)[:, 0]
    p_gamma = np.asarray(g["gamma"]).reshape(len(pts), -1)
    p_gamma = p_gamma[:, 0] if p_gamma.ndim == 2 else p_gamma.reshape(len(pts), -1)[:, 0]
    points = [{"x": np.atleast_1d(c.greek_points[i]).tolist(),
               "price": _rel(float(np.asarray(g["price"]).ravel()[i]), r_price[i]),
               "delta": _rel(float(p_delta[i]), r_delta[i]),
               "gamma (d2V/dS1^2)": _rel(float(p_gamma[i]), r_gamma[i]),
               "reference_price": float(r_price[i])} for i in range(len(pts))]
    return {
        "problem": c.name, "lambda_b": p.xva.lambda_b, "base": sol.stats.get("base"),
        "sign_feature": bool(getattr(sol.model, "sign_feature", False)),
        "leg_factors": bool(getattr(sol.model, "leg_sources", ())),
        "faces": sol.stats.get("faces"),
        "face_reduced_share": sol.stats.get("face_reduced_share"), "payoff_sign": p.payoff_sign,
        "box": log_errors(pred, ref), "today": log_errors(pred[today], ref[today]),
        "near_band": [0.6 * min(leg.strike for leg in p.netting.legs),
                      1.5 * max(leg.strike for leg in p.netting.legs)],
        "near": log_errors(pred[near], ref[near]),
        "near_today": log_errors(pred[near_today], ref[near_today]),
        "near_xva": log_errors(pred[near] - free["risk_free"][near],
                               ref[near] - free["risk_free"][near]),
        "fd_reference": "richardson" if c.richardson else "grid",
        "fd_error_estimate": {"box": log_errors(ref_c, ref),
                              "today": log_errors(ref_c[today], ref[today])},
        "free": {k: {"box": log_errors(val, ref), "today": log_errors(val[today], ref[today]),
                     "near": log_errors(val[near], ref[near])}
                 for k, val in free.items()},
        "points": points,
        "train_seconds": sol.stats["train_seconds"], "status": sol.stats["status"],
        "steps": sol.stats["steps"], "final_loss": float(sol.history["loss"][-1]),
        "fd_seconds": fd_seconds, "wall_seconds": time.perf_counter() - t0,
        "config": c.config(budget, base).to_dict(),
    }


def fd_order(c: Case, fractions: tuple[float, ...] = (0.5, 1.0)) -> dict:
    """Order of convergence of the FD reference of ``c`` from three grids (scales 4, 2 and 1 of
    ``c.fd_solve``), on the box points at each tau fraction: log10 relative L2 differences of
    successive grids, the observed order p = log2(d_coarse / d_fine) and the fine grid's error
    estimate ``d_fine / (2^p - 1)`` (log10). ``richardson_error`` is the log10 relative L2
    difference of the :func:`richardson` extrapolations of the two finer
    and the two coarser grids: the error of the coarser one, an upper estimate of the finer
    one's (the benchmark's reference when ``c.richardson``); None when they agree exactly."""
    out = {}
    for f in fractions:
        tau = f * c.problem.maturity
        q = c.points[:, 0] if c.points.shape[1] == 1 else c.points
        v4, v2, v1 = (np.asarray(c.fd_solve(tau, k).price(q)).ravel() for k in (4, 2, 1))
        norm = np.linalg.norm(v1)
        coarse, fine = np.linalg.norm(v2 - v4) / norm, np.linalg.norm(v1 - v2) / norm
        rich = np.linalg.norm(richardson(v1, v2) - richardson(v2, v4)) / norm
        p = float(np.log2(coarse / fine)) if coarse > 0.0 and fine > 0.0 else float("nan")
        converging = p > 0.0  # else no error estimate (stored as None)
        out[f"{f:g}"] = {"d_coarse": float(np.log10(coarse)) if coarse > 0.0 else None,
                         "d_fine": float(np.log10(fine)) if fine > 0.0 else None,
                         "order": p if converging else None,
                         "fine_error": (float(np.log10(fine / (2.0**p - 1.0))) if converging
                                        else None),
                         "richardson_error": float(np.log10(rich)) if rich > 0.0 else None}
    return out


DOC = "docs/nonlinear-xva.md"
_START, _END = "<!-- nonlinear-results:start", "<!-- nonlinear-results:end -->"


def _grid_label(run: dict) -> str:
    """The collocation column of :func:`table`: type, nodes, and what differs from the full
    budget's 2D grid (node weights, another stretch)."""
    c = run["config"]["collocation"]
    label = f"{c['type'].replace('Grid', '')} {c['n_tau']} × {c.get('n_space')}"
    if c.get("state_weights") == "nodes":
        label += ", node weights"
    if c["type"] == "ClusteredGrid" and c.get("stretch") != GRID_2D.stretch:
        label += f", stretch {c['stretch']:g}"
    return label


def table(runs: list[dict]) -> str:
    """Markdown table of the runs (log10 relative L2 over the box), one row per run."""
    head = ("| problem | λ_B | base | budget | network | collocation (τ × per state) | PINN | "
            "split (free) | "
            "e^{−c₊τ}V_rf (free) | "
            "e^{−c₋τ}V_rf (free) | V_rf (free) | FD error | PINN near the money | split near "
            "(free) | better linear near (free) | PINN near, relative to the XVA | delta rel. "
            "err. at the money | gamma rel. err. at the money | train s |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for r in sorted(runs, key=lambda r: (PROBLEMS.index(r["problem"]), r["lambda_b"],
                                         str(r["base"]), r["budget"], r["config"]["width"],
                                         r.get("sign_feature", False),
                                         r["config"].get("face_residuals", "auto"),
                                         r["config"].get("num_threads") or 1)):
        f = r["free"]
        rows.append(
            f"| {r['problem']} | {r['lambda_b']:g} | {_base(r)}{_faces(r)} | "
            f"{r['budget']} | "
            f"{r['config']['depth']} × {r['config']['width']}"
            f"{' + h' if r.get('sign_feature') else ''}{_legs(r)} | {_grid_label(r)} | "
            f"**{r['box']['l2']:.2f}** | {f['split']['box']['l2']:.2f} | "
            f"{f['linear_c_plus']['box']['l2']:.2f} | {f['linear_c_minus']['box']['l2']:.2f} | "
            f"{f['risk_free']['box']['l2']:.2f} | {r['fd_error_estimate']['box']['l2']:.2f} | "
            f"{_near(r)} | "
            f"{r['points'][0]['delta']:.1e} | {r['points'][0]['gamma (d2V/dS1^2)']:.1e} | "
            f"{r['train_seconds']:.0f}{_threads(r)} |")
    return "\n".join([head, *rows])


def _near(run: dict) -> str:
    """The near-the-money cells (log10 rel. L2): PINN in bold, the split and the better linear
    approximation, the PINN relative to the XVA; "—" for runs made before they were recorded."""
    if "near" not in run:
        return " | ".join(["—"] * 4)
    f = run["free"]
    linear = min(f["linear_c_plus"]["near"]["l2"], f["linear_c_minus"]["near"]["l2"])
    return (f"**{run['near']['l2']:.2f}** | {f['split']['near']['l2']:.2f} | {linear:.2f} | "
            f"{run['near_xva']['l2']:.2f}")


def _legs(run: dict) -> str:
    """" + legs" for a run with one base factor per leg (``leg_factors``) on a netting set of
    several legs."""
    return " + legs" if run.get("leg_factors") else ""


def _threads(run: dict) -> str:
    """" (N threads)" for a run trained on N > 1 torch threads, "" for a single thread."""
    n = run["config"].get("num_threads") or 1
    return f" ({n} threads)" if n > 1 else ""


def _base(run: dict) -> str:
    """The base, or for none the initial condition: "none (soft IC)", "none (hard IC)"."""
    if run["base"]:
        return run["base"]
    return f"none ({run['config'].get('initial_condition', 'hard')} IC)"


def _faces(run: dict) -> str:
    """" (<choice> faces)", e.g. " (pointwise faces)", for a run whose face residuals were not
    the default per-face choice ("auto"); "" otherwise."""
    faces = run["config"].get("face_residuals", "auto")
    return "" if faces == "auto" else f" ({faces} faces)"


def write_docs(results: str, doc: str = DOC) -> None:
    """Replace the generated table of ``doc`` with the runs of ``results`` (a pinn.json)."""
    from pathlib import Path

    runs = json.loads(Path(results).read_text()).get("nonlinear", {}).get("runs", [])
    path = Path(doc)
    text = path.read_text()
    i = text.index(_START)
    i = text.index("\n", i) + 1
    j = text.index(_END)
    path.write_text(text[:i] + table(runs) + "\n" + text[j:])


def _with(config: Callable[[str, str | None], PINNConfig], **changes
          ) -> Callable[[str, str | None], PINNConfig]:
    """``config`` with ``changes`` (e.g. ``width``, ``face_residuals``)."""
    return lambda budget, base: config(budget, base).replace(**changes)


def _with_grid(config: Callable[[str, str | None], PINNConfig], **changes
               ) -> Callable[[str, str | None], PINNConfig]:
    """``config`` with fields of its ClusteredGrid changed (``state_weights``, ``stretch``);
    ValueError for a problem on another collocation (the 1D problems' uniform grid)."""
    def changed(budget: str, base: str | None) -> PINNConfig:
        cfg = config(budget, base)
        if not isinstance(cfg.collocation, ClusteredGrid):
            raise ValueError(f"--state-weights and --stretch apply to a ClusteredGrid; this "
                             f"problem uses {type(cfg.collocation).__name__}")
        return cfg.replace(collocation=dataclasses.replace(cfg.collocation, **changes))
    return changed


def _key(run: dict) -> tuple:
    """Runs with the same key replace each other: problem, lambda_B, base, budget, network
    size, sign feature, collocation, face residuals, initial condition, leg factors and torch
    threads."""
    c = run["config"]
    return (run["problem"], run["lambda_b"], run["base"], run["budget"], c["depth"], c["width"],
            run.get("sign_feature", False), json.dumps(c["collocation"], sort_keys=True),
            c.get("face_residuals", "auto"), c.get("initial_condition", "base"),
            run.get("leg_factors", False), c.get("num_threads") or 1)


def main(args, machine: dict, output: str) -> int:
    """Run the section and merge its runs into ``output`` under the key "nonlinear" (a run
    replaces the one with the same :func:`_key`)."""
    import datetime as dt

    from benchmarks._machine import update_results

    if getattr(args, "write_docs", False):
        write_docs(output)
        return 0
    budget = "quick" if args.quick else "full"
    names = [n for n in args.problems.split(",") if n] if args.problems else list(PROBLEMS)
    lams = [float(v) for v in args.lambda_b.split(",")] if args.lambda_b else list(LAMBDA_B)
    if getattr(args, "fd_order", False):
        for name in names:
            order = {**fd_order(case(name, lams[0])), "lambda_b": lams[0], "machine": machine,
                     "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}

            def put(data: dict, name: str = name, order: dict = order) -> None:
                data.setdefault("nonlinear", {"runs": []}).setdefault("fd_order", {})[name] = order

            update_results(output, put)
            print(name, {k: v for k, v in order.items() if k != "machine"}, flush=True)
        return 0
    bases = [None if b == "none" else b for b in args.bases.split(",")]
    grid = {k: val for k, val in (("state_weights", getattr(args, "state_weights", None)),
                                  ("stretch", getattr(args, "stretch", None)))
            if val is not None}
    if grid:  # before anything trains: one line, exit 2
        off_grid = [n for n in names if not isinstance(
            case(n, lams[0]).config(budget, bases[0]).collocation, ClusteredGrid)]
        if off_grid:
            print(f"error: --state-weights and --stretch apply to the problems on a "
                  f"ClusteredGrid (2D, Heston); not {', '.join(off_grid)}", file=sys.stderr)
            return 2
    for name in names:
        for lam in lams:
            for base in bases:
                c = case(name, lam)
                if getattr(args, "width", None):
                    c = dataclasses.replace(c, config=_with(c.config, width=args.width))
                if getattr(args, "threads", None) is not None:
                    c = dataclasses.replace(c, config=_with(c.config, num_threads=args.threads))
                if getattr(args, "faces", None):
                    c = dataclasses.replace(c, config=_with(c.config, face_residuals=args.faces))
                if grid:
                    c = dataclasses.replace(c, config=_with_grid(c.config, **grid))
                row = {**run(c, budget, base), "budget": budget,
                       "machine": machine,
                       "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}

                def merge(data: dict, row: dict = row) -> None:
                    data.setdefault("benchmark", "training.pinn")
                    section = data.setdefault("nonlinear", {"runs": []})
                    section["runs"] = [r for r in section["runs"] if _key(r) != _key(row)]
                    section["runs"].append(row)

                update_results(output, merge)  # re-read under a lock: other runs may have written
                print(f"{name} lambda_B={lam} base={base}: PINN log10 rel L2 "
                      f"{row['box']['l2']:.2f} (box), {row['today']['l2']:.2f} (tau=T); "
                      f"split {row['free']['split']['box']['l2']:.2f}, e^(-c+ tau)V_rf "
                      f"{row['free']['linear_c_plus']['box']['l2']:.2f}; FD error "
                      f"{row['fd_error_estimate']['box']['l2']:.2f}; "
                      f"{row['train_seconds']:.0f} s", flush=True)
    return 0


__all__ = ["LAMBDA_B", "PROBLEMS", "case", "fd_order", "main", "run"]
