"""README pictures from a real run: a learning curve, the XVA of a netting set by its PDE
references, and a PINN error map, as PNG files.

Usage::

    python -m evaluation.readme_figures RUN_DIR docs/img/ [--scenario ID] [--xva-scenario ID]
        [--pinn-scenario ID]

writes ``OUT_DIR/learning_curve.png`` (the first scenario with learning-curve data, or
``--scenario``), ``OUT_DIR/xva.png`` (risk-free and risky value with the XVA, of the first
scenario whose arrays hold the risky value by two PDE references, e.g. the PINN and the FD of a
two-signed netting set, or ``--xva-scenario``) and ``OUT_DIR/pinn_error_map.png`` (the first
scenario with a 2D PINN grid in its arrays npz, or ``--pinn-scenario``). A picture whose data
the run lacks is skipped with a message; the exit code is 1 only when none could be drawn or the
run cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import learning_curve_summary
from .report import _grid_error
from .trend import load_metrics

__all__ = ["main", "write_readme_figures"]

LEARNING_CURVE = "learning_curve.png"
PINN_ERROR_MAP = "pinn_error_map.png"
XVA = "xva.png"
#: How the report names a reference method in legends.
_METHODS = {"pinn": "PINN", "fd": "FD", "analytic": "closed form", "backward": "backward"}


def _grid(run_dir: Path, sid: str) -> dict[str, np.ndarray] | None:
    path = run_dir / "arrays" / f"{sid}.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        g = {k: np.asarray(z[k]) for k in z.files if k.startswith("pinn_grid_")}
    err = _grid_error(g)
    return None if err is None else {**g, "error": err}


def _xva_arrays(run_dir: Path, sid: str, other: bool) -> dict[str, np.ndarray] | None:
    """The scenario's ``xva_*`` arrays, or None without them (or, with ``other``, without a
    second PDE reference's risky value ``xva_risky_<method>``)."""
    path = run_dir / "arrays" / f"{sid}.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        a = {k: np.asarray(z[k]) for k in z.files if k.startswith("xva_")}
    if not {"xva_x", "xva_risk_free", "xva_risky"} <= a.keys():
        return None
    if other and not any(k.startswith("xva_risky_") for k in a):
        return None
    return a


def write_readme_figures(
    run_dir: str | Path, out_dir: str | Path, *, scenario: str | None = None,
    pinn_scenario: str | None = None, xva_scenario: str | None = None, dpi: int = 160,
) -> dict[str, Path]:
    """Draw the README figures of a run; returns ``{"learning_curve": path, "xva": path,
    "pinn_error_map": path}`` for those drawn (a key is absent when the run has no such
    data).

    Raises:
        KeyError: a named scenario is not in the run.
        FileNotFoundError, ValueError: unreadable run (see :func:`evaluation.trend.load_metrics`).
    """
    from . import plots

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    metrics = load_metrics(run_dir)
    scenarios: Mapping[str, Any] = metrics.get("scenarios") or {}
    for name in (scenario, pinn_scenario, xva_scenario):
        if name is not None and name not in scenarios:
            raise KeyError(f"Scenario {name!r} is not in {run_dir}; it has {sorted(scenarios)}.")
    out_dir.mkdir(parents=True, exist_ok=True)
    done: dict[str, Path] = {}

    lc_ids = [scenario] if scenario else [k for k, v in scenarios.items()
                                           if (v or {}).get("learning_curve")]
    for sid in lc_ids:
        sc = scenarios[sid] or {}
        if not sc.get("learning_curve"):
            break
        fig = plots.learning_curve_figure(
            learning_curve_summary(sc["learning_curve"]), [str(x) for x in sc.get("inputs") or []],
            sc.get("mc_noise"), title=str(sc.get("label") or sid))
        path = out_dir / LEARNING_CURVE
        path.write_bytes(plots.to_png(fig, dpi=dpi))
        done["learning_curve"] = path
        break

    xva_ids = [xva_scenario] if xva_scenario else list(scenarios)
    for sid in xva_ids:
        a = _xva_arrays(run_dir, sid, other=xva_scenario is None)
        if a is None:
            continue
        sc = scenarios[sid] or {}
        inputs = [str(x) for x in sc.get("inputs") or []]
        method = str((sc.get("reference") or {}).get("method") or "reference")
        main = _METHODS.get(method, method)
        others = {f"risky ({_METHODS.get(k[len('xva_risky_'):], k[len('xva_risky_'):])})": v
                  for k, v in sorted(a.items()) if k.startswith("xva_risky_")}
        fig = plots.xva_figure(a["xva_x"], a["xva_risk_free"], a["xva_risky"],
                               inputs[0] if inputs else "x", title=str(sc.get("label") or sid),
                               risky_label=f"risky ({main})", others=others)
        path = out_dir / XVA
        path.write_bytes(plots.to_png(fig, dpi=dpi))
        done["xva"] = path
        break

    pinn_ids = [pinn_scenario] if pinn_scenario else list(scenarios)
    for sid in pinn_ids:
        g = _grid(run_dir, sid)
        if g is None:
            continue
        inputs = [str(x) for x in (scenarios[sid] or {}).get("inputs") or []]
        ref = g.get("pinn_grid_ref")
        err = g["error"]
        fig = plots.pinn_error_map_figure(
            g["pinn_grid_x"], g["pinn_grid_y"], err, ref,
            inputs[0] if inputs else "x1", inputs[1] if len(inputs) > 1 else "x2",
            title=f"PINN error: {(scenarios[sid] or {}).get('label') or sid}")
        path = out_dir / PINN_ERROR_MAP
        path.write_bytes(plots.to_png(fig, dpi=dpi))
        done["pinn_error_map"] = path
        break
    return done


def main(argv: Sequence[str] | None = None) -> int:
    """Command line (module docstring). Prints the written paths; returns 0, or 1 with a reason."""
    ap = argparse.ArgumentParser(prog="python -m evaluation.readme_figures",
                                 description="Write README figures from a diffml run directory.")
    ap.add_argument("run_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--scenario", default=None, help="scenario for the learning curve")
    ap.add_argument("--pinn-scenario", default=None, help="scenario for the PINN error map")
    ap.add_argument("--xva-scenario", default=None, help="scenario for the XVA figure")
    ap.add_argument("--dpi", type=int, default=160)
    args = ap.parse_args(argv)
    try:
        done = write_readme_figures(args.run_dir, args.out_dir, scenario=args.scenario,
                                    pinn_scenario=args.pinn_scenario,
                                    xva_scenario=args.xva_scenario, dpi=args.dpi)
    except (OSError, ValueError, KeyError) as exc:
        print(f"readme_figures: error: {exc}", file=sys.stderr)
        return 1
    for what in ("learning_curve", "xva", "pinn_error_map"):
        if what in done:
            print(done[what])
        else:
            print(f"readme_figures: no {what.replace('_', ' ')} data in {args.run_dir}; skipped",
                  file=sys.stderr)
    return 0 if done else 1


if __name__ == "__main__":
    raise SystemExit(main())
