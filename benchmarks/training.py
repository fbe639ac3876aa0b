"""Differential vs standard training against the published table of Huge & Savine
(docs/methods.md §1).

    .venv/bin/python benchmarks/training.py            # default rows, 3 seeds: a few minutes
    .venv/bin/python benchmarks/training.py --full     # + Bachelier n=50 m=65,536 and the
                                                       #   n=50 m=131,072 robustness check (long)
    .venv/bin/python benchmarks/training.py --cases robust50 --seeds 1

Prints standard and differential RMSE (×100: % of a unit spot) of values and deltas against the
closed forms, mean ± sd over seeds, beside the published figures; time per fit; the twin/standard
epoch-time ratio; the explicit-vs-autograd twin step time. Writes benchmarks/results/training.json.

Data: the project's simulators (``simulators.simulate`` with antithetic paths, as in the source)
when importable, otherwise a NumPy generator of the exact docs/methods.md set-up (``--data numpy``).
Test references are closed forms computed here: Black-Scholes call price and delta at τ = 1 on 100
spots in [0.35, 1.65]; Bachelier price and delta of the basket b = a·x with basket vol 0.2 on 4096
inputs U[1 − adj/2, 1 + adj/2]^n, adj = 1 + 0.5 sqrt((n − 1)/12). Delta RMSE pools all inputs.
Torch runs on one thread by default (``--threads``): on a shared 2-core machine it is faster.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.special import ndtr

# `python benchmarks/training.py` puts benchmarks/ first on sys.path, where this file would shadow
# the `training` package: drop it and use the repository root (the convention of benchmarks/).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
ROOT = _HERE.parent

from training import DifferentialRegressor, TwinNetwork  # noqa: E402

# published RMSE ×100 (standard, differential) for value and delta, docs/methods.md §1
PUBLISHED = {
    "bs_1024": {"value": (0.59, 0.35), "delta": (3.89, 2.47)},
    "bachelier7_8192": {"value": (0.50, 0.14), "delta": (0.40, 0.10)},
    "bachelier20_4096": {"value": (2.02, 0.23), "delta": (1.29, 0.16)},
    "bachelier50_65536": {"value": (0.44, 0.07), "delta": (0.21, 0.01)},
}
CASES = {
    # name: (model, n_inputs, m)
    "bs_1024": ("bs", 1, 1024),
    "bs_8192": ("bs", 1, 8192),
    "bachelier7_8192": ("bachelier", 7, 8192),
    "bachelier20_4096": ("bachelier", 20, 4096),
    "bachelier50_65536": ("bachelier", 50, 65536),
    "robust50": ("bachelier", 50, 131072),
}
DEFAULT_CASES = ["bs_1024", "bs_8192", "bachelier7_8192", "bachelier20_4096"]
FULL_CASES = DEFAULT_CASES + ["bachelier50_65536", "robust50"]
#: training recipes compared by --recipe (overrides of the DifferentialRegressor defaults)
RECIPES: dict[str, dict] = {
    "default": {},
    "source": {"peak_lr": 0.1, "clip_norm": None, "init": "lecun"},
    "peak0.1": {"peak_lr": 0.1},
    "peak0.03": {"peak_lr": 0.03},
    "peak0.01": {"peak_lr": 0.01},
}
BASKET_SEED = 1234  # the random basket (weights, vols, correlation) of each dimension
TEST_SEED = 999


# ------------------------------------------------------------------------------------------------
# data


def _bs_call(spot, strike=1.10, tau=1.0, vol=0.2):
    sd = vol * np.sqrt(tau)
    d1 = (np.log(spot / strike) + 0.5 * sd * sd) / sd
    return spot * ndtr(d1) - strike * ndtr(d1 - sd), ndtr(d1)


def _bachelier(X, weights, strike=1.10, basket_vol=0.2, tau=1.0):
    sd = basket_vol * np.sqrt(tau)
    d = (X @ weights - strike) / sd
    price = sd * (d * ndtr(d) + np.exp(-0.5 * d * d) / np.sqrt(2 * np.pi))
    return price, ndtr(d)[:, None] * weights[None, :]


class NumpyData:
    """NumPy generator of the exact docs/methods.md §1 set-up (labelled "numpy" in the results)."""

    label = "numpy generator of the docs/methods.md §1 set-up (antithetic)"

    def __init__(self, n: int) -> None:
        self.n = n
        if n > 1:
            rng = np.random.default_rng(BASKET_SEED + n)
            R = rng.uniform(-1.0, 1.0, size=(2 * n, n))
            C = R.T @ R
            s = np.sqrt(np.diag(C))
            C = C / s[:, None] / s[None, :]
            a = rng.uniform(1.0, 10.0, size=n)
            self.weights = a / a.sum()
            vols = rng.uniform(5.0, 50.0, size=n)
            av = self.weights * vols
            vols = vols * 0.2 / np.sqrt(av @ C @ av)
            self.chol = np.linalg.cholesky(vols[:, None] * C * vols[None, :])

    def train(self, m: int, seed: int):
        rng = np.random.default_rng(seed)
        if self.n == 1:
            v = 0.3
            s1 = np.exp(-0.5 * v * v + v * rng.standard_normal(m))
            n2 = rng.standard_normal(m)
            ys, zs = [], []
            for sign in (1.0, -1.0):
                s2 = s1 * np.exp(-0.02 + 0.2 * sign * n2)
                ys.append(np.maximum(s2 - 1.10, 0.0))
                zs.append(np.where(s2 > 1.10, s2 / s1, 0.0))
            return s1[:, None], np.mean(ys, axis=0), np.mean(zs, axis=0)[:, None]
        s1 = 1.0 + 1.5 * rng.standard_normal((m, self.n)) @ self.chol.T
        dw = rng.standard_normal((m, self.n)) @ self.chol.T
        ys, zs = [], []
        for sign in (1.0, -1.0):
            b = (s1 + sign * dw) @ self.weights
            ys.append(np.maximum(b - 1.10, 0.0))
            zs.append((b > 1.10)[:, None] * self.weights[None, :])
        return s1, np.mean(ys, axis=0), np.mean(zs, axis=0)


class SimulatorData:
    """The project's simulators: Black-Scholes European call or the random Bachelier basket,
    ForwardSampler (x = state at T1 = 1, vol multiplier 1.5), antithetic paths."""

    label = "simulators.simulate (antithetic), random_bachelier_basket"

    def __init__(self, n: int) -> None:
        import simulators as sim

        self.sim = sim
        self.n = n
        if n == 1:
            self.model = sim.BlackScholes(vol=0.2, rate=0.0, dividend=0.0)
            self.product = sim.European(strike=1.10, maturity=1.0, kind="call")
            self.sampler = sim.ForwardSampler(spot=1.0, horizon=1.0, vol_mult=1.5)
        else:
            self.model, self.product = sim.random_bachelier_basket(dim=n, seed=BASKET_SEED + n)
            self.sampler = sim.ForwardSampler(spot=(1.0,) * n, horizon=1.0, vol_mult=1.5)
            self.weights = np.asarray(self.product.weights, dtype=np.float64)
            vols = np.asarray(self.model.vols) * self.weights
            C = np.asarray(self.model.correlation)
            self.basket_vol = float(np.sqrt(vols @ C @ vols))

    def train(self, m: int, seed: int):
        s = self.sim.simulate(
            self.model, self.product, self.sampler, n_paths=m, seed=seed, antithetic=True
        )
        return np.asarray(s.x), np.asarray(s.y), np.asarray(s.dydx)


def test_set(data, n: int):
    if n == 1:
        s = np.linspace(0.35, 1.65, 100)
        p, d = _bs_call(s)
        return s[:, None], p, d[:, None]
    rng = np.random.default_rng(TEST_SEED)
    adj = 1.0 + 0.5 * np.sqrt((n - 1) / 12.0)
    X = rng.uniform(1.0 - adj / 2, 1.0 + adj / 2, size=(4096, n))
    p, g = _bachelier(X, data.weights, basket_vol=getattr(data, "basket_vol", 0.2))
    return X, p, g


def make_data(kind: str, n: int):
    if kind == "numpy":
        return NumpyData(n)
    return SimulatorData(n)


# ------------------------------------------------------------------------------------------------
# measurements


def run_case(name: str, seeds: list[int], kind: str, recipe: str = "default") -> dict:
    params = dict(RECIPES[recipe])
    _, n, m = CASES[name]
    data = make_data(kind, n)
    Xt, vt, gt = test_set(data, n)
    modes = ("standard", "differential") if name != "robust50" else ("differential",)
    out: dict = {
        "case": name + ("" if recipe == "default" else f"@{recipe}"),
        "n_inputs": n,
        "m": m,
        "seeds": seeds,
        "data": data.label,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "params": {k: v for k, v in params.items()},
    }
    for mode in modes:
        rows = []
        for seed in seeds:
            X, y, z = data.train(m, seed)
            model = DifferentialRegressor(seed=seed, **params)
            t0 = time.perf_counter()
            status = "ok"
            try:
                model.fit(X, y, z if mode == "differential" else None)
            except FloatingPointError:
                status = "diverged (non-finite loss)"
            secs = time.perf_counter() - t0
            if status == "ok":
                p, g = model.predict_value_and_gradient(Xt)
                flat = float(np.std(p)) < 0.1 * float(np.std(vt))
                if flat:
                    status = "diverged (flat output)"
                rows.append(
                    {
                        "seed": seed,
                        "value_rmse_x100": float(100 * np.sqrt(np.mean((p - vt) ** 2))),
                        "delta_rmse_x100": float(100 * np.sqrt(np.mean((g - gt) ** 2))),
                        "fit_seconds": secs,
                        "seconds_per_epoch": model.result_.seconds_per_epoch,
                        "status": status,
                    }
                )
            else:
                rows.append({"seed": seed, "fit_seconds": secs, "status": status})
            print(f"  {name} {mode:>12} seed {seed}: {rows[-1]}", flush=True)
        ok = [r for r in rows if "value_rmse_x100" in r]

        def stat(key, ok=ok):
            v = np.array([r[key] for r in ok])
            if not len(v):
                return None
            return [float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0]

        out[mode] = {
            "runs": rows,
            "value_rmse_x100": stat("value_rmse_x100"),
            "delta_rmse_x100": stat("delta_rmse_x100"),
            "fit_seconds": stat("fit_seconds"),
            "seconds_per_epoch": stat("seconds_per_epoch"),
            "diverged": sum(r["status"] != "ok" for r in rows),
        }
    if "standard" in out and out["standard"]["seconds_per_epoch"]:
        out["epoch_time_ratio"] = (
            out["differential"]["seconds_per_epoch"][0] / out["standard"]["seconds_per_epoch"][0]
        )
    if name in PUBLISHED and recipe == "default":
        pub = PUBLISHED[name]
        out["published_x100"] = pub
        d = out["differential"]
        out["meets_published_differential"] = {
            "value": d["value_rmse_x100"] is not None
            and d["value_rmse_x100"][0] <= pub["value"][1],
            "delta": d["delta_rmse_x100"] is not None
            and d["delta_rmse_x100"][0] <= pub["delta"][1],
        }
    return out


def step_times(n: int = 7, batch: int = 512, reps: int = 21) -> dict:
    """Median time of one Adam step (float64, 4 × 20 softplus) at the batch size the case trains
    with: standard (value only), twin with the explicit backward pass, twin with
    autograd.grad(create_graph=True). The three are interleaved, so machine load affects them alike.
    """
    g = torch.Generator().manual_seed(0)
    net = TwinNetwork(n, generator=g)
    x = torch.randn(batch, n, dtype=torch.float64, generator=g)
    yt = torch.randn(batch, dtype=torch.float64, generator=g)
    zt = torch.randn(batch, n, dtype=torch.float64, generator=g)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    times: dict[str, list[float]] = {"standard": [], "explicit": [], "autograd": []}
    for _ in range(reps):
        for method in times:
            t0 = time.perf_counter()
            opt.zero_grad()
            if method == "standard":
                loss = ((net(x) - yt) ** 2).mean()
            else:
                y, dy = net.value_and_gradient(x, method)
                loss = 0.5 * ((y - yt) ** 2).mean() + 0.5 * ((dy - zt) ** 2).mean()
            loss.backward()
            opt.step()
            times[method].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {
        "batch": batch,
        "n_inputs": n,
        "median_step_seconds": med,
        "explicit_over_standard": med["explicit"] / med["standard"],
        "autograd_over_explicit": med["autograd"] / med["explicit"],
    }


def all_step_times(cases: list[str]) -> dict[str, dict]:
    out = {}
    for c in cases:
        _, n, m = CASES[c]
        out[c] = step_times(n, min(max(256, -(-m // 16)), m))
        st = out[c]
        print(
            f"step {c} (batch {st['batch']}): standard {st['median_step_seconds']['standard']:.4f}s"
            f", twin explicit {st['median_step_seconds']['explicit']:.4f}s "
            f"({st['explicit_over_standard']:.2f}x), autograd "
            f"{st['median_step_seconds']['autograd']:.4f}s",
            flush=True,
        )
    return out


def machine() -> dict:
    from benchmarks import _machine

    return {
        **_machine.describe(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_start": list(os.getloadavg()),
    }


def fmt(pair, pub=None) -> str:
    if pair is None:
        return "   —   "
    s = f"{pair[0]:6.3f} ± {pair[1]:5.3f}"
    return s + (f" ({pub:.2f})" if pub is not None else "       ")


def markdown(record: dict) -> str:
    """Markdown table of a results record (``--markdown``), for docs/training.md."""
    order = {c: i for i, c in enumerate(FULL_CASES)}
    for r in RECIPES:
        order.update({f"{c}@{r}": i + 0.5 for i, c in enumerate(FULL_CASES)})
    lines = [
        "| case | m | value std | value diff | delta std | delta diff | fit s std / diff |",
        "|---|---|---|---|---|---|---|",
    ]

    def cell(pair, pub):
        if pair is None:
            return "—"
        s = f"{pair[0]:.3f} ± {pair[1]:.3f}"
        return s + (f" ({pub:.2f})" if pub is not None else "")

    for r in sorted(record["cases"], key=lambda c: order.get(c["case"], 99)):
        pub = r.get("published_x100", {"value": (None, None), "delta": (None, None)})
        st, df = r.get("standard", {}), r["differential"]
        fs = "/".join(
            f"{x['fit_seconds'][0]:.0f}" if x.get("fit_seconds") else "—" for x in (st, df)
        )
        lines.append(
            f"| {r['case']} | {r['m']:,} | {cell(st.get('value_rmse_x100'), pub['value'][0])} | "
            f"{cell(df['value_rmse_x100'], pub['value'][1])} | "
            f"{cell(st.get('delta_rmse_x100'), pub['delta'][0])} | "
            f"{cell(df['delta_rmse_x100'], pub['delta'][1])} | {fs} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="add n=50 rows (long)")
    ap.add_argument("--cases", nargs="*", choices=sorted(CASES), help="run only these cases")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data", choices=("auto", "simulators", "numpy"), default="auto")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "training.json"))
    ap.add_argument(
        "--recipe",
        choices=tuple(RECIPES),
        default="default",
        help="library defaults; 'source': the source's recipe (peak 0.1, no clipping, LeCun "
        "init); 'peakX': our defaults with peak rate X (the sweep of docs/training.md). Stored as "
        "'<case>@<recipe>'",
    )
    ap.add_argument("--markdown", action="store_true", help="print the saved results as a table")
    ap.add_argument(
        "--step-times-only", action="store_true", help="only measure step times (merged into --out)"
    )
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(Path(args.out).read_text())))
        return 0

    torch.set_num_threads(args.threads)
    kind = args.data
    if kind == "auto":
        try:
            import simulators

            simulators.simulate  # noqa: B018
            kind = "simulators"
        except (ImportError, AttributeError):
            kind = "numpy"
    cases = args.cases or (FULL_CASES if args.full else DEFAULT_CASES)
    seeds = list(range(args.seeds))
    info = machine()
    print(
        f"machine: {info['cpu']}, {info['cores']} cores, GPU {info['gpu']}, "
        f"torch {info['torch']} on {args.threads} thread(s); data: {kind}"
    )
    t_all = time.perf_counter()
    steps = all_step_times(cases)
    if args.step_times_only:
        out = Path(args.out)
        record = json.loads(out.read_text())
        prev = record.get("step_times") if isinstance(record.get("step_times"), dict) else {}
        record["step_times"] = {**{k: v for k, v in prev.items() if k in CASES}, **steps}
        record["step_times_machine"] = info
        out.write_text(json.dumps(record, indent=1))
        return 0
    results = [run_case(c, seeds, kind, args.recipe) for c in cases]

    print("\nRMSE × 100, mean ± sd over seeds (published in parentheses)")
    print(
        f"{'case':<19}{'std value':>22}{'diff value':>22}{'std delta':>22}{'diff delta':>22}"
        f"{'fit s std/diff':>16}{'epoch ratio':>12}"
    )
    for r in results:
        pub = r.get("published_x100", {"value": (None, None), "delta": (None, None)})
        st = r.get("standard", {})
        df = r["differential"]
        fs = (
            f"{st['fit_seconds'][0]:.1f}/{df['fit_seconds'][0]:.1f}"
            if st.get("fit_seconds") and df.get("fit_seconds")
            else f"-/{df['fit_seconds'][0]:.1f}"
        )
        ratio = f"{r['epoch_time_ratio']:.2f}" if "epoch_time_ratio" in r else "-"
        print(
            f"{r['case']:<19}{fmt(st.get('value_rmse_x100'), pub['value'][0]):>22}"
            f"{fmt(df['value_rmse_x100'], pub['value'][1]):>22}"
            f"{fmt(st.get('delta_rmse_x100'), pub['delta'][0]):>22}"
            f"{fmt(df['delta_rmse_x100'], pub['delta'][1]):>22}{fs:>16}{ratio:>12}"
        )
        if df["diverged"]:
            print(f"  {r['case']}: {df['diverged']} differential run(s) diverged")
    info["load_average_end"] = list(os.getloadavg())
    record = {
        "benchmark": "training",
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": info,
        "data": kind,
        "defaults": {
            k: (v if not hasattr(v, "to_dict") else v.to_dict())
            for k, v in DifferentialRegressor().get_params().items()
        },
        "seeds": seeds,
        "step_times": steps,
        "cases": results,
        "total_seconds": time.perf_counter() - t_all,
        "notes": "RMSE x100 = % of a unit spot; delta RMSE pools all inputs; published figures "
        "from docs/methods.md §1 (Huge & Savine). Labels are antithetic Monte-Carlo payoffs.",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        # keep earlier results of cases not run this time (each case carries its own date)
        old = json.loads(out.read_text())
        done = {r["case"] for r in results}
        keep = [c for c in old.get("cases", []) if c["case"] not in done]
        record["cases"] = keep + results
        prev = old.get("step_times") if isinstance(old.get("step_times"), dict) else {}
        record["step_times"] = {**{k: v for k, v in prev.items() if k in CASES}, **steps}
    out.write_text(json.dumps(record, indent=1))
    print(f"\nwrote {out} ({time.perf_counter() - t_all:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
