"""Summarise the device checks of ``benchmarks/gpu_check.sh`` as JSON.

Each test of its JUnit XML files, with its outcome, the run's start time and the properties it
recorded (GPU against CPU agreement per case, the training hand-off's host copies and GPU/CPU fit
difference), goes to ``benchmarks/results/gpu_tests.json``, with the machine description of
``gpu.json`` when given. A later file's result for a test replaces an earlier one's (a rerun
after a fix), and the earlier results stay under ``earlier``. With ``--pipeline-metrics``, the
run block of ``diffml run configs/gpu.yaml``'s ``metrics.json`` goes to ``gpu_pipeline.json``.
Usage: python benchmarks/gpu_tests_summary.py RESULTS.xml [MORE.xml ...] [--machine gpu.json]
       [--pipeline-metrics metrics.json]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import xml.etree.ElementTree as ET

_HERE = pathlib.Path(__file__).resolve().parent


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def read(path: pathlib.Path) -> dict[str, dict]:
    """Test id -> {"outcome", "seconds", "run_started", properties...} from one JUnit XML."""
    out = {}
    for suite in ET.parse(path).getroot().iter("testsuite"):
        started = suite.get("timestamp")
        for case in suite.iter("testcase"):
            outcome = "passed"
            for tag, word in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
                if case.find(tag) is not None:
                    outcome = word
            props = {p.get("name"): _value(p.get("value", "")) for p in case.iter("property")}
            out[f"{case.get('classname')}::{case.get('name')}"] = {
                "outcome": outcome, "seconds": float(case.get("time", 0.0)),
                "run_started": started, **props}
    return out


def merge(files: list[pathlib.Path]) -> dict[str, dict]:
    """The latest result of every test over ``files`` in order, earlier ones under
    ``earlier``."""
    tests: dict[str, dict] = {}
    for path in files:
        for name, result in read(path).items():
            if name in tests:
                previous = tests[name]
                result["earlier"] = [*previous.pop("earlier", []), previous]
            tests[name] = result
    return tests


def pipeline_summary(metrics: dict, machine: dict | None) -> dict:
    """The run block of a ``metrics.json`` (status, stage seconds, datasets) and the machine,
    dated by the run's start."""
    run = metrics["run"]
    datasets = {sid: {k: s["dataset"][k] for k in ("n_paths", "backend", "seconds", "hash")}
                for sid, s in metrics["scenarios"].items() if "dataset" in s}
    if machine is not None:
        machine = {**machine, "date": run["started"]}
    return {"machine": machine, "config": "configs/gpu.yaml",
            "notes": "diffml run configs/gpu.yaml with dask.gpu_workers (one worker process per "
                     "GPU); seconds include each process's first kernel compilation.",
            "run": {**{k: run[k] for k in ("name", "started", "finished", "status", "backend",
                                            "dask", "stage_seconds")},
                    "datasets": datasets}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("xml", nargs="+", type=pathlib.Path)
    parser.add_argument("--machine", type=pathlib.Path, help="gpu.json of the same machine")
    parser.add_argument("--out", type=pathlib.Path, default=_HERE / "results" / "gpu_tests.json")
    parser.add_argument("--pipeline-metrics", type=pathlib.Path,
                        help="metrics.json of diffml run configs/gpu.yaml")
    parser.add_argument("--pipeline-out", type=pathlib.Path,
                        default=_HERE / "results" / "gpu_pipeline.json")
    args = parser.parse_args()
    # A step that failed or ran out of time leaves no file: summarise what is there and say
    # what is missing, rather than lose every other step's figures.
    missing = [str(p) for p in (*args.xml, args.machine, args.pipeline_metrics)
               if p is not None and not p.is_file()]
    for path in missing:
        print(f"missing (its step failed or timed out): {path}", file=sys.stderr)
    tests = merge([p for p in args.xml if p.is_file()])
    machine = (json.loads(args.machine.read_text())["machine"]
               if args.machine is not None and args.machine.is_file() else None)
    counts = {k: sum(t["outcome"] == k for t in tests.values())
              for k in ("passed", "failed", "error", "skipped")}
    started = sorted(t["run_started"] for t in tests.values() if t.get("run_started"))
    if machine is not None and started:
        machine = {**machine, "date": started[-1]}
    args.out.write_text(json.dumps({"machine": machine, "counts": counts,
                                    "missing_files": missing, "tests": tests}, indent=2))
    print(f"{counts} -> {args.out}")
    if args.pipeline_metrics is not None and args.pipeline_metrics.is_file():
        summary = pipeline_summary(json.loads(args.pipeline_metrics.read_text()), machine)
        args.pipeline_out.write_text(json.dumps(summary, indent=2))
        print(f"pipeline {summary['run']['status']} -> {args.pipeline_out}")


if __name__ == "__main__":
    main()
