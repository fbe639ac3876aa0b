"""The nightly flow re-parameterised: a parametric PINN reused inside its ranges, warm-started
outside them.

``configs/nightly.yaml`` with the collar's PINN made parametric (vol in [0.2, 0.3] and lambda_B
in [0, 0.05]; ``--set scenarios.bs_collar_xva.pinn.parametric=...``) and given the family recipe
of ``benchmarks/parametric.py`` (:data:`OPTIONS`: the sign-split base, a 2 x 128 network on a
21 x 81 grid, 300 Adam + 600 L-BFGS steps with least-squares rounds, at most 600 s; a family
needs more than the nightly's 90 s single-parameter budget, which left a 3-parameter family at
-1.7 in a first try) is run four times with ``diffml run``, every run's PINN stages timed from
its ``metrics.json`` (the PINN is the scenario's reference: the reference stage trains it, with
the FD cross-check of about a second, and the pinn stage scores it; the sum is reported):

1. ``day 1``: today's parameters (vol 0.25, rate 0.03, lambda_B 0.02), empty caches: the
   parametric PINN is trained;
2. ``day 2``: every declared parameter shifted inside its range (vol 0.26, lambda_B 0.025),
   same caches: the saved PINN is checked on today's slice and reused;
3. ``day 3``: vol moved outside its range (0.33), same caches: training starts from the nearest
   saved PINN (warm start: no Adam steps, the L-BFGS and least-squares phases);
4. ``day 3, cold``: the same parameters with empty caches: the cold start the warm start is
   compared with.

Accuracy: the PINN's log10 relative L2 error against the FD cross-check of each run (the same
FD grid every day). The residual threshold of the reuse check is 1e-3 (the config's
``residual_threshold``; the default 1e-4 is for a family trained to about -4.5).

    python -m benchmarks.nightly_reuse [--output benchmarks/results/nightly_reuse.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = _HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._machine import describe  # noqa: E402

OUTPUT = ROOT / "benchmarks" / "results" / "nightly_reuse.json"
SCENARIO = "bs_collar_xva"
PARAMETRIC = ("{ranges: {vol: [0.2, 0.3], lambda_b: [0.0, 0.05]}, copies: 2, "
              "residual_threshold: 0.001}")
OPTIONS = ("{base: split, width: 128, depth: 2, collocation: {type: UniformGrid, n_tau: 21, "
           "n_space: 81}, face_residuals: reduced, adam_steps: 300, lbfgs_iterations: 600, "
           "lstsq_every: 100, lstsq_rounds: 3, time_limit: 600, num_threads: 1}")
DAYS = {
    "day 1": {"vol": 0.25, "lambda_b": 0.02},
    "day 2": {"vol": 0.26, "lambda_b": 0.025},
    "day 3": {"vol": 0.33, "lambda_b": 0.025},
}


def _sets(root: Path, params: dict[str, float]) -> list[str]:
    s = f"scenarios.{SCENARIO}"
    return ["--set", f"output_root={root / 'runs'}", "--set", f"dataset_root={root / 'data'}",
            "--set", f"{s}.pinn.parametric={PARAMETRIC}", "--set", f"{s}.pinn.options={OPTIONS}",
            "--set", f"{s}.model.vol={params['vol']}",
            "--set", f"{s}.xva.lambda_b={params['lambda_b']}"]


def run_day(root: Path, params: dict[str, float]) -> dict:
    """One ``diffml run`` under ``root``; the PINN scenario's stage seconds, reuse and errors."""
    exe = Path(sys.executable).with_name("diffml")
    t0 = time.perf_counter()
    proc = subprocess.run([str(exe), "run", str(ROOT / "configs" / "nightly.yaml"),
                           *_sets(root, params)], capture_output=True, text=True, cwd=root)
    wall = time.perf_counter() - t0
    runs = sorted((root / "runs").glob("nightly-*"))
    if proc.returncode not in (0, 3) or not runs:
        raise RuntimeError(f"diffml run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    metrics = json.loads((runs[-1] / "metrics.json").read_text())
    sc = metrics["scenarios"][SCENARIO]
    pinn = sc.get("pinn") or {}
    stages = sc["stage_seconds"]
    # the PINN is this scenario's reference: it trains in the reference stage (with the FD
    # cross-check, about a second in 1-D) and is scored in the pinn stage
    return {"params": params, "exit_code": proc.returncode, "run_wall_seconds": wall,
            "stage_seconds": stages,
            "pinn_stage_seconds": stages.get("reference", 0.0) + stages.get("pinn", 0.0),
            "pinn_train_seconds": pinn.get("train_seconds"), "reuse": pinn.get("reuse"),
            "reused": pinn.get("reused"), "slice_residual": pinn.get("slice_residual"),
            "log10_rel_l2_vs_fd": (pinn.get("vs_fd") or {}).get("price", {}).get("l2"),
            "log10_rel_l2": pinn.get("log10_rel_l2"), "run_dir": runs[-1].name}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--output", type=Path, default=OUTPUT)
    args = ap.parse_args(argv)
    out: dict = {"machine": describe(), "scenario": SCENARIO, "parametric": PARAMETRIC,
                 "days": {}}
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        for day in ("day 1", "day 2", "day 3"):
            out["days"][day] = run_day(Path(a), DAYS[day])
            print(day, json.dumps(out["days"][day]), flush=True)
        out["days"]["day 3, cold"] = run_day(Path(b), DAYS["day 3"])
        print("day 3, cold", json.dumps(out["days"]["day 3, cold"]), flush=True)
    d = out["days"]
    out["inside_speedup"] = d["day 1"]["pinn_stage_seconds"] / d["day 2"]["pinn_stage_seconds"]
    out["warm_vs_cold_seconds_saved"] = (d["day 3, cold"]["pinn_stage_seconds"]
                                         - d["day 3"]["pinn_stage_seconds"])
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(args.output)
    print(f"inside: {out['inside_speedup']:.1f}x faster; warm start saved "
          f"{out['warm_vs_cold_seconds_saved']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
