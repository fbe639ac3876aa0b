"""Reference pricers: accuracy and cost of the finite-difference solvers against closed forms.

For each problem (Black-Scholes 1-D put, two-asset arithmetic basket put, worst-of put, Heston put;
risk-free and risky), prints the grid, the wall time and the error at the strike for 3 refinements,
the observed order, and the smallest grid found with relative error <= 1e-4 at the strike. Writes
benchmarks/results/references.json with the machine description. Parameter sets are the project's
own (docs/methods.md section 2), not the source papers'.

References: Black-Scholes, Stulz (worst-of) and the Heston characteristic function (risky values:
times e^{-c tau}, exact for these one-signed payoffs). The arithmetic basket has no closed form:
QuantLib's ChoiBasketEngine (accurate to ~1e-11) when QuantLib is installed, else Richardson
extrapolation of the two finest grids (marked as such).

Usage: python benchmarks/references.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

import numpy as np

_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import evaluation.analytic as an  # noqa: E402
import evaluation.fd as fd  # noqa: E402
from benchmarks import _machine  # noqa: E402
from simulators.xva import XVA  # noqa: E402

TARGET = 1e-4
RISKY = XVA(lambda_b=0.02, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)

BS = dict(strike=100.0, maturity=1.0, vol=0.25, rate=0.03, dividend=0.0, kind="put")
BASKET = dict(strike=100.0, maturity=0.5, vols=(0.25, 0.35), rho=0.5, rate=0.03, kind="put")
HESTON = dict(strike=100.0, maturity=1.0, kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.025)
V0 = 0.04


def _choi_basket_put(s1: float, s2: float) -> float | None:
    """QuantLib ChoiBasketEngine, T = 0.5 exactly (180 days, Actual/360)."""
    try:
        import QuantLib as ql
    except ImportError:
        return None
    today = ql.Date(2, 1, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual360()

    def curve(r):
        return ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc))

    def proc(s, vol):
        return ql.BlackScholesMertonProcess(
            ql.QuoteHandle(ql.SimpleQuote(s)),
            curve(0.0),
            curve(0.03),
            ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc)),
        )

    payoff = ql.AverageBasketPayoff(ql.PlainVanillaPayoff(ql.Option.Put, 100.0), [0.5, 0.5])
    opt = ql.BasketOption(payoff, ql.EuropeanExercise(today + 180))
    rho = ql.Matrix([[1.0, 0.5], [0.5, 1.0]])
    opt.setPricingEngine(
        ql.ChoiBasketEngine([proc(s1, 0.25), proc(s2, 0.35)], rho, 20.0, 2**20, False, False)
    )
    return opt.NPV()


def problems():
    """(name, risky, solve(n) -> (price, stats), reference or None, reference label, grid(n))."""
    out = []
    bs_ref = an.black_scholes(100.0, strike=100.0, maturity=1.0, kind="put", vol=0.25, rate=0.03,
                              dividend=0.0)
    stulz_ref = an.stulz_min([100.0, 100.0], strike=100.0, maturity=0.5, kind="put",
                             vols=(0.25, 0.35), rho=0.5, rate=0.03)
    h_ref = an.heston(100.0, V0, strike=100.0, maturity=1.0, kind="put", kappa=1.5,
                      theta=0.04, xi=0.3, rho=-0.9, rate=0.025)
    choi = _choi_basket_put(100.0, 100.0)
    for risky in (False, True):
        xva = RISKY if risky else None
        f1 = an.xva_factor(RISKY, 1.0) if risky else 1.0
        f05 = an.xva_factor(RISKY, 0.5) if risky else 1.0

        def bs(n, xva=xva):
            sol = fd.black_scholes_1d(**BS, xva=xva, n_space=n, n_time=max(n // 2, 10))
            return sol.price([100.0])[0], sol.stats

        def arith(n, xva=xva):
            sol = fd.basket_2d(**BASKET, style="arithmetic", xva=xva, n_space=n, n_time=n // 2)
            return sol.price([[100.0, 100.0]])[0], sol.stats

        def worst(n, xva=xva):
            sol = fd.basket_2d(**BASKET, style="worst_of", xva=xva, n_space=n, n_time=n // 2)
            return sol.price([[100.0, 100.0]])[0], sol.stats

        def heston(n, xva=xva):
            sol = fd.heston_2d(kind="put", **HESTON, xva=xva, n_space=(n, n // 2), n_time=n // 2)
            return sol.price([[100.0, V0]])[0], sol.stats

        tag = "risky" if risky else "risk-free"
        out.append(("black_scholes_1d put", tag, bs, f1 * bs_ref, "Black-Scholes closed form", 100))
        out.append(
            (
                "arithmetic basket put",
                tag,
                arith,
                None if choi is None else f05 * choi,
                "QuantLib ChoiBasketEngine" if choi is not None else "Richardson extrapolation",
                40,
            )
        )
        out.append(("worst-of put", tag, worst, f05 * stulz_ref.price[0], "Stulz closed form", 40))
        out.append(("heston put", tag, heston, f1 * h_ref, "characteristic function", 40))
    return out


def run_problem(name, tag, solve, ref, ref_label, n0, quick: bool) -> dict:
    rows = []
    for n in (n0, 2 * n0, 4 * n0):
        price, stats = solve(n)
        rows.append(
            {
                "n": n,
                "grid": list(stats.n_space),
                "n_time": stats.n_time,
                "seconds": stats.elapsed_s,
                "price": price,
            }
        )
    if ref is None:  # Richardson with the observed second order
        ref = rows[-1]["price"] + (rows[-1]["price"] - rows[-2]["price"]) / 3.0
    for r in rows:
        r["rel_error"] = abs(r["price"] / ref - 1.0)
    errs = [r["rel_error"] for r in rows]
    order = float(np.log2(errs[-2] / errs[-1])) if errs[-1] > 0 else float("nan")
    # Smallest grid meeting the target: predict from the observed order, then verify.
    found = None
    n, e = rows[-1]["n"], errs[-1]
    if e <= TARGET:
        for r in rows:
            if r["rel_error"] <= TARGET:
                found = r
                break
    elif not quick:
        p = order if 1.0 < order < 3.0 else 2.0
        n = int(math.ceil(n * (e / TARGET) ** (1.0 / p) / 10.0) * 10)
        for _ in range(4):
            price, stats = solve(n)
            err = abs(price / ref - 1.0)
            if err <= TARGET:
                found = {
                    "n": n,
                    "grid": list(stats.n_space),
                    "n_time": stats.n_time,
                    "seconds": stats.elapsed_s,
                    "price": price,
                    "rel_error": err,
                }
                break
            n = int(math.ceil(n * 1.25 / 10.0) * 10)
    return {
        "problem": name,
        "valuation": tag,
        "reference": ref,
        "reference_method": ref_label,
        "refinements": rows,
        "observed_order": order,
        "grid_for_1e-4": found,
    }


def analytic_timing() -> dict:
    rng = np.random.default_rng(0)
    n = 10_000
    s = rng.uniform(50.0, 150.0, n)
    out = {}
    for name, fn in (
        ("black_scholes_greeks", lambda: an.black_scholes_greeks(s, strike=100.0, maturity=1.0,
                                                                 vol=0.25, rate=0.03)),
        ("stulz_min", lambda: an.stulz_min(np.c_[s, s[::-1]], strike=100.0, maturity=0.5,
                                           vols=(0.25, 0.35), rho=0.5)),
        ("heston_greeks", lambda: an.heston_greeks(s, V0, strike=100.0, maturity=1.0,
                                                   kappa=1.5, theta=0.04, xi=0.3, rho=-0.9)),
    ):
        fn()
        t0 = time.perf_counter()
        fn()
        out[name] = {"n_options": n, "seconds": time.perf_counter() - t0}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 1e-4 grid search")
    args = ap.parse_args()
    t_start = time.perf_counter()
    results = []
    for name, tag, solve, ref, label, n0 in problems():
        r = run_problem(name, tag, solve, ref, label, n0, args.quick)
        results.append(r)
        print(f"\n{name} ({tag}); reference {r['reference']:.8f} ({label})")
        print(f"  {'grid':>12} {'n_time':>6} {'seconds':>8} {'price':>12} {'rel. error':>10}")
        for row in r["refinements"]:
            grid = "x".join(str(g + 1) for g in row["grid"])
            print(
                f"  {grid:>12} {row['n_time']:>6} {row['seconds']:8.3f} {row['price']:12.7f}"
                f" {row['rel_error']:10.2e}"
            )
        print(f"  observed order {r['observed_order']:.2f}")
        g = r["grid_for_1e-4"]
        if g is None:
            print("  grid for 1e-4: not searched" if args.quick else "  grid for 1e-4: not found")
        else:
            grid = "x".join(str(x + 1) for x in g["grid"])
            print(
                f"  grid for 1e-4: {grid} nodes, {g['n_time']} steps, {g['seconds']:.3f} s,"
                f" rel. error {g['rel_error']:.2e}"
            )
    timing = analytic_timing()
    print("\nanalytic pricers, 10,000 options:")
    for k, v in timing.items():
        print(f"  {k:22s} {v['seconds']:.3f} s")
    total = time.perf_counter() - t_start
    print(f"\ntotal {total:.1f} s")
    out = {
        "machine": _machine.describe(),
        "parameters": {
            "black_scholes_1d": BS,
            "basket": BASKET,
            "heston": {**HESTON, "v0": V0},
            "xva_risky": RISKY.to_dict(),
            "note": "project parameter sets (docs/methods.md section 2), not the papers'",
        },
        "error_point": "at the strike: S = K (1-D), S1 = S2 = K (baskets), S = K, v = v0 (Heston)",
        "problems": results,
        "analytic_timing": timing,
        "total_seconds": total,
        "quick": args.quick,
    }
    path = _HERE / "results" / "references.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
