"""Benchmark of backward differential regression for risky (XVA) netting-set values.

For each problem and lambda_B, one :func:`training.backward.solve` on today's states, scored on a
test grid against the FD solution of the non-linear XVA PDE (its own error estimated by solving
again on a grid twice as coarse in every direction), beside the two linear approximations
``e^{-c+ T} V_rf`` and ``e^{-c- T} V_rf`` (V_rf exact: a closed form, or the FD solution without
XVA). Errors are relative RMS over the test grid: RMS(error) / RMS(reference), for the value and
for each state Greek. Then the error against the number of dates and of paths per date
(Black-Scholes collar), and the exposure profile of a forward against its closed form.

Usage::

    python -m benchmarks.backward                      # everything, writes results/backward.json
    python -m benchmarks.backward --only bs_forward    # one problem (both lambda_B)
    python -m benchmarks.backward --skip-convergence --skip-exposure
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
from simulators import (  # noqa: E402
    XVA,
    BlackScholes,
    BlackScholesBasket,
    Heston,
    Leg,
    NettingSet,
    UniformSampler,
)

OUTPUT = ROOT / "benchmarks" / "results" / "backward.json"
LAMBDAS_B = (0.02, 0.2)
LAMBDA_C, RECOVERY = 0.05, 0.4

BS = BlackScholes(vol=0.25, rate=0.03)
BASKET = BlackScholesBasket(vols=(0.25, 0.35), correlation=((1.0, 0.5), (0.5, 1.0)), rate=0.03)
HESTON = Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.025, steps_per_year=256)
COLLAR_LEGS = [Leg("call", 110.0, 1.0), Leg("put", 90.0, -1.0)]

PROBLEMS = {
    "bs_forward": dict(model=BS, product=NettingSet([Leg("forward", 100.0)], 1.0),
                       low=(50.0,), high=(160.0,), test=((70.0,), (130.0,)), dims="1D"),
    "bs_collar": dict(model=BS, product=NettingSet(COLLAR_LEGS, 1.0),
                      low=(50.0,), high=(160.0,), test=((70.0,), (130.0,)), dims="1D"),
    "basket_forward": dict(model=BASKET,
                           product=NettingSet([Leg("forward", 100.0, 1.0, "basket",
                                                   (0.5, 0.5))], 1.0),
                           low=(50.0, 50.0), high=(160.0, 160.0),
                           test=((70.0, 70.0), (130.0, 130.0)), dims="2D"),
    "heston_collar": dict(model=HESTON, product=NettingSet(COLLAR_LEGS, 1.0),
                          low=(50.0, 0.01), high=(160.0, 0.09),
                          test=((70.0, 0.02), (130.0, 0.08)), dims="Heston"),
}
#: solver settings per problem kind: dates, paths per date, twin network.
SETTINGS = {"1D": dict(dates=4, paths=262_144, layers=3, units=24, epochs=40),
            "2D": dict(dates=4, paths=262_144, layers=3, units=32, epochs=40),
            "Heston": dict(dates=4, paths=262_144, layers=3, units=32, epochs=40)}
TARGETS = {"1D": (2e-3, 300.0), "2D": (5e-3, 900.0), "Heston": (5e-3, 900.0)}


def xva(lambda_b: float) -> XVA:
    return XVA(lambda_b=lambda_b, lambda_c=LAMBDA_C, recovery_b=RECOVERY, recovery_c=RECOVERY)


def test_points(name: str) -> np.ndarray:
    lo, hi = PROBLEMS[name]["test"]
    if len(lo) == 1:
        return np.linspace(lo[0], hi[0], 61)[:, None]
    g = np.meshgrid(*(np.linspace(a, b, 13) for a, b in zip(lo, hi, strict=True)),
                    indexing="ij")
    return np.column_stack([a.ravel() for a in g])


def _fd(name: str, x: np.ndarray, xv, scale: float = 1.0, sign: int = 0):
    """(price (n,), gradient (n, d), seconds) of the FD solution on a grid scaled by ``scale``;
    ``sign`` +1 / -1: of the payoff's positive part max(g, 0) / negative part max(-g, 0)
    instead (every problem here has its legs on one aggregate, where these are the exact
    one-signed parts)."""
    from evaluation import fd

    p = PROBLEMS[name]
    model, product = p["model"], p["product"]

    def payoff(s):
        g = product.payoff(s)
        return g if sign == 0 else np.maximum(sign * g, 0.0)

    t0 = time.perf_counter()
    if name.startswith("bs_"):
        sol = fd.black_scholes_1d(strike=product.strike, maturity=product.maturity,
                                  vol=model.vol, rate=model.rate, xva=xv,
                                  payoff=payoff, n_space=int(1600 * scale),
                                  n_time=int(800 * scale))
        return sol.price(x[:, 0]), sol.delta(x[:, 0])[:, None], time.perf_counter() - t0
    if name == "basket_forward":
        sol = fd.basket_2d(strike=100.0, maturity=product.maturity, vols=model.vols,
                           rho=model.correlation[0][1], rate=model.rate, xva=xv,
                           payoff=lambda s1, s2: payoff(
                               np.column_stack([s1.ravel(), s2.ravel()])).reshape(s1.shape),
                           n_space=(int(200 * scale),) * 2, n_time=int(100 * scale))
        return sol.price(x), sol.delta(x), time.perf_counter() - t0
    sol = fd.heston_2d(strike=100.0, maturity=product.maturity, kappa=model.kappa,
                       theta=model.theta, xi=model.xi, rho=model.rho, rate=model.rate, xva=xv,
                       payoff=lambda s: payoff(s.ravel()).reshape(s.shape),
                       n_space=(int(240 * scale), int(120 * scale)),
                       n_time=int(120 * scale))
    grad = np.column_stack([sol.delta(x), sol.vega(x)])
    return sol.price(x), grad, time.perf_counter() - t0


def _errors(v, g, ref_v, ref_g, names) -> dict:
    """Relative RMS of the value and of each state Greek (``evaluation.metrics.
    surrogate_errors``, the pipeline's definition), keyed ``value`` and ``d_<input>``."""
    from evaluation.metrics import surrogate_errors

    e = surrogate_errors(v, ref_v, g, ref_g, inputs=names)
    return {"value": e["value_relative"],
            **{f"d_{n}": e["greek_relative"][n] for n in names}}


def reference(name: str, lambda_b: float) -> dict:
    """The FD risky and risk-free values and gradients on the test grid, the refinement error."""
    x = test_points(name)
    xv = xva(lambda_b)
    v, g, sec = _fd(name, x, xv)
    v2, _, _ = _fd(name, x, xv, scale=0.5)
    rf_v, rf_g, _ = _fd(name, x, None)
    pos_v, pos_g, _ = _fd(name, x, None, sign=1)
    neg_v, neg_g, _ = _fd(name, x, None, sign=-1)
    return {"x": x, "v": v, "g": g, "rf_v": rf_v, "rf_g": rf_g, "pos_v": pos_v, "pos_g": pos_g,
            "neg_v": neg_v, "neg_g": neg_g, "seconds": sec,
            "refinement": _errors(v2, None, v, None, [])["value"]}


def free_approximations(name: str, lambda_b: float, ref: dict) -> dict:
    """The errors of the free approximations against the FD risky value: the two linear ones
    e^{-c+- T} V_rf and the sign-split e^{-c+ T} V_rf(P) - e^{-c- T} V_rf(N) (the payoff's
    one-signed parts, each priced risk-free by the same FD)."""
    p = PROBLEMS[name]
    xv = xva(lambda_b)
    names = list(p["model"].state_inputs)
    big_t = p["product"].maturity
    out = {}
    for label, c in (("linear_plus", xv.spread_positive), ("linear_minus", xv.spread_negative)):
        f = np.exp(-c * big_t)
        out[label] = _errors(f * ref["rf_v"], f * ref["rf_g"], ref["v"], ref["g"], names)
    fp, fn = np.exp(-xv.spread_positive * big_t), np.exp(-xv.spread_negative * big_t)
    out["split"] = _errors(fp * ref["pos_v"] - fn * ref["neg_v"],
                           fp * ref["pos_g"] - fn * ref["neg_g"], ref["v"], ref["g"], names)
    return out


def run(name: str, lambda_b: float, ref: dict | None = None, *, dates: int | None = None,
        paths: int | None = None, seed: int = 11) -> dict:
    """One solve scored against the FD reference, with the linear approximations beside it."""
    from training import DifferentialRegressor
    from training.backward import solve

    p = PROBLEMS[name]
    s = dict(SETTINGS[p["dims"]])
    s["dates"] = dates or s["dates"]
    s["paths"] = paths or s["paths"]
    ref = ref or reference(name, lambda_b)
    xv = xva(lambda_b)
    reg = DifferentialRegressor(hidden_layers=s["layers"], hidden_units=s["units"],
                                epochs=s["epochs"], num_threads=1)
    sur = solve(p["model"], p["product"], sampler=UniformSampler(low=p["low"], high=p["high"]),
                xva=xv, dates=s["dates"], paths_per_date=s["paths"], regressor=reg, seed=seed)
    names = list(p["model"].state_inputs)
    v, g = sur.predict_value_and_gradient(ref["x"])
    ours = _errors(v, g, ref["v"], ref["g"], names)
    linear = free_approximations(name, lambda_b, ref)
    better = min(linear["linear_plus"]["value"], linear["linear_minus"]["value"])
    target, budget = TARGETS[p["dims"]]
    return {
        "problem": name, "kind": p["dims"], "lambda_b": lambda_b, "dates": s["dates"],
        "paths_per_date": s["paths"], "network": f"{s['layers']}x{s['units']}",
        "epochs": s["epochs"], "seconds": sur.seconds, "errors": ours, **linear,
        "risk_free": _errors(ref["rf_v"], ref["rf_g"], ref["v"], ref["g"], names),
        "gain_over_linear": better / ours["value"],
        "gain_over_split": linear["split"]["value"] / ours["value"],
        "fd_refinement": ref["refinement"],
        "fd_seconds": ref["seconds"], "target_value": target, "target_seconds": budget,
        "meets_targets": bool(ours["value"] <= target and sur.seconds <= budget
                              and better >= 5 * ours["value"]),
        "history": [h.__dict__ for h in sur.history],
    }


def convergence(name: str = "bs_collar", lambda_b: float = 0.02) -> list[dict]:
    """Error against dates (paths 65,536) and against paths per date (4 dates)."""
    ref = reference(name, lambda_b)
    rows = []
    for dates in (2, 4, 8, 16):
        rows.append({"vary": "dates", **_short(run(name, lambda_b, ref, dates=dates,
                                                   paths=65_536))})
    for paths in (16_384, 65_536, 262_144):
        rows.append({"vary": "paths", **_short(run(name, lambda_b, ref, dates=4, paths=paths))})
    return rows


def _short(r: dict) -> dict:
    return {k: r[k] for k in ("problem", "lambda_b", "dates", "paths_per_date", "seconds",
                              "errors", "gain_over_linear")}


def exposure(dates: int = 12, paths: int = 65_536, outer: int = 100_000) -> dict:
    """EPE/ENE of the Black-Scholes forward from S_0 = 100 (risk-free surrogate) against the
    closed form, in standard errors of the outer simulation, at every date."""
    from evaluation.analytic import forward_exposure
    from training import DifferentialRegressor
    from training.backward import exposure_profile, solve

    p = PROBLEMS["bs_forward"]
    reg = DifferentialRegressor(hidden_layers=3, hidden_units=24, epochs=40, num_threads=1)
    sur = solve(BS, p["product"], sampler=UniformSampler(low=p["low"], high=p["high"]),
                dates=dates, paths_per_date=paths, regressor=reg, seed=3)
    prof = exposure_profile(sur, [100.0], paths=outer, seed=9)
    epe, ene = forward_exposure(100.0, strike=100.0, maturity=1.0, times=prof.times,
                                vol=BS.vol, rate=BS.rate)
    se = np.maximum(prof.epe_se, 1e-12)
    z = np.abs(prof.epe - epe) / se
    z[0] = abs(prof.epe[0] - epe[0]) / max(abs(epe[0]), 1.0)  # t = 0: no MC error
    xv = xva(0.02)
    return {"dates": dates, "paths_per_date": paths, "outer_paths": outer,
            "solve_seconds": sur.seconds, "times": prof.times.tolist(),
            "epe": prof.epe.tolist(), "epe_exact": epe.tolist(), "epe_se": prof.epe_se.tolist(),
            "ene": prof.ene.tolist(), "ene_exact": ene.tolist(), "pfe": prof.pfe.tolist(),
            "epe_error_in_se": z[1:].tolist(), "max_error_in_se": float(np.max(z[1:])),
            "within_3_se": bool(np.all(z[1:] <= 3.0)),
            "cva": prof.cva(xv), "dva": prof.dva(xv),
            "first_order_adjustment": prof.first_order_adjustment(xv)}


def _save(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", choices=sorted(PROBLEMS), default=None)
    ap.add_argument("--skip-convergence", action="store_true")
    ap.add_argument("--skip-exposure", action="store_true")
    ap.add_argument("--output", type=Path, default=OUTPUT)
    ap.add_argument("--free-only", action="store_true",
                    help="recompute only the FD references and the free approximations of the "
                         "recorded runs (adds the sign-split column), keeping their solves")
    args = ap.parse_args(argv)
    out = args.output
    data = json.loads(out.read_text()) if out.exists() else {}
    if args.free_only:
        for r in data.get("runs", []):
            free = free_approximations(r["problem"], r["lambda_b"],
                                       reference(r["problem"], r["lambda_b"]))
            moved = max(abs(free[k]["value"] / r[k]["value"] - 1.0)
                        for k in ("linear_plus", "linear_minus"))
            if moved > 1e-9:  # the recorded solves were scored against another FD reference
                print(f"{r['problem']} lambda_B={r['lambda_b']}: the FD reference moved by "
                      f"{moved:.1e} since the recorded solve; rerun it (without --free-only)",
                      flush=True)
                return 1
            r.update(free, gain_over_split=free["split"]["value"] / r["errors"]["value"])
            print(f"{r['problem']} lambda_B={r['lambda_b']}: split {free['split']['value']:.2e}, "
                  f"gain over it {r['gain_over_split']:.1f}x (recorded linear errors moved by "
                  f"{moved:.1e})", flush=True)
        data["free_only_date"] = describe()["date"]
        _save(out, data)
        return 0
    data["machine"] = describe()
    data.setdefault("runs", [])
    for name in args.only or list(PROBLEMS):
        for lam in LAMBDAS_B:
            r = run(name, lam)
            data["runs"] = [x for x in data["runs"]
                            if (x["problem"], x["lambda_b"]) != (name, lam)] + [r]
            print(f"{name} lambda_B={lam}: value {r['errors']['value']:.2e}, "
                  f"gain {r['gain_over_linear']:.1f}x, {r['seconds']:.0f} s, "
                  f"FD refinement {r['fd_refinement']:.1e}", flush=True)
            _save(out, data)
    if not args.skip_convergence:
        data["convergence"] = convergence()
        _save(out, data)
    if not args.skip_exposure:
        data["exposure"] = exposure()
        print(f"exposure: max EPE error {data['exposure']['max_error_in_se']:.2f} SE", flush=True)
    _save(out, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
