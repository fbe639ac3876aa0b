"""Summarise the device tests of ``benchmarks/gpu_check.sh`` (its JUnit XML files) as JSON.

Each test's outcome and the properties it recorded (GPU against CPU agreement per case, the
training hand-off's host copies and GPU/CPU fit difference) go to
``benchmarks/results/gpu_tests.json``, with the machine description of ``gpu.json`` when given.
A later file's result for a test replaces an earlier one's (a rerun after a fix).
Usage: python benchmarks/gpu_tests_summary.py RESULTS.xml [MORE.xml ...] [--machine gpu.json]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import xml.etree.ElementTree as ET

_HERE = pathlib.Path(__file__).resolve().parent


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def read(path: pathlib.Path) -> dict[str, dict]:
    """Test id -> {"outcome", "seconds", properties...} from one JUnit XML file."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
        props = {p.get("name"): _value(p.get("value", ""))
                 for p in case.iter("property")}
        out[f"{case.get('classname')}::{case.get('name')}"] = {
            "outcome": outcome, "seconds": float(case.get("time", 0.0)), **props}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("xml", nargs="+", type=pathlib.Path)
    parser.add_argument("--machine", type=pathlib.Path, help="gpu.json of the same run")
    parser.add_argument("--out", type=pathlib.Path, default=_HERE / "results" / "gpu_tests.json")
    args = parser.parse_args()
    tests: dict[str, dict] = {}
    for path in args.xml:
        tests.update(read(path))
    machine = json.loads(args.machine.read_text())["machine"] if args.machine else None
    counts = {k: sum(t["outcome"] == k for t in tests.values())
              for k in ("passed", "failed", "error", "skipped")}
    args.out.write_text(json.dumps({"machine": machine, "counts": counts, "tests": tests},
                                   indent=2))
    print(f"{counts} -> {args.out}")


if __name__ == "__main__":
    main()
