"""Run history and regression detection between two ``metrics.json`` (schema_version 1).

Runs live in ``<runs_root>/<name>-<stamp>/`` with ``stamp`` = ``YYYYmmddTHHMMSSZ`` (UTC), so the
lexicographic order of stamps is their time order. :func:`compare` is what the pipeline uses to fill
``metrics.json``'s ``regressions``; the report uses it too (and :func:`metric_series` for the
sparklines).

A **regression** is one of:

* an error metric (see :data:`TRACKED_METRICS`; a ``*`` stands for every input, so a Greek's
  regression names its input, e.g. ``summary.greek_rmse.differential.variance.mean``) that grew
  by more than the tolerance, i.e.
  ``current / previous > tolerance`` (``tolerance = 1.5`` flags a 50 % increase); for the
  ``log10`` PINN errors the ratio is ``10 ** (current - previous)``, the ratio of the relative
  errors themselves; a metric that became non-finite (NaN, inf) also counts;
* a scenario whose status is ``"failed"`` (``metric = "status"``), or that existed in the previous
  run and is missing now (``current = "missing"``);
* a run whose status is not ``"ok"`` (``scenario = None``, ``metric = "run.status"``) when no
  failed or missing scenario already explains it (a ``"partial"`` run with a failed scenario gives
  one entry, the scenario's).

Improvements and changes within the tolerance are never flagged.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_TOLERANCE",
    "STAMP_RE",
    "TRACKED_METRICS",
    "best_of",
    "expand_metric",
    "compare",
    "find_previous_runs",
    "get_metric",
    "load_metrics",
    "metric_ratio",
    "metric_series",
    "split_run_dir",
]

#: Default ratio above which an error's growth is a regression.
DEFAULT_TOLERANCE = 1.5

#: ``YYYYmmddTHHMMSSZ``.
STAMP_RE = re.compile(r"^\d{8}T\d{6}Z$")

#: Scenario metrics compared between runs (dotted paths into a scenario's entry; ``*`` matches
#: every key there, i.e. every input). Value errors are in price units, Greek errors per input in
#: price per unit of the input (:func:`evaluation.metrics.surrogate_errors`). Paths ending in
#: ``log10_*`` are base-10 logarithms of relative errors.
TRACKED_METRICS: tuple[str, ...] = (
    "summary.value_rmse.differential.mean",
    "summary.value_rmse.standard.mean",
    "summary.greek_rmse.differential.*.mean",
    "summary.greek_rmse.standard.*.mean",
    "summary.gamma_rmse.differential.*.mean",
    "summary.gamma_rmse.standard.*.mean",
    "pinn.log10_rel_l1",
    "pinn.log10_rel_l2",
    "pinn.log10_rel_linf",
    "backward.errors.value_rmse",
    "backward.errors.greek_rmse.*",
)


def _check_tolerance(tolerance: float, owner: str) -> float:
    try:
        tol = float(tolerance)
    except (TypeError, ValueError):
        tol = math.nan
    if not (math.isfinite(tol) and tol > 1.0):
        raise ValueError(
            f"The 'tolerance' parameter of {owner} must be a finite ratio > 1 "
            f"(1.5 flags a 50 % increase). Got {repr(tolerance)[:80]} instead."
        )
    return tol


#: A run directory's name: ``<name>-<stamp>``, or ``<name>-<stamp>-<k>`` (k >= 2) for the k-th
#: run of the same name started in the same second (``pipeline.run.make_run_dir``).
_RUN_DIR_RE = re.compile(r"^(?P<name>.+)-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<k>[2-9]|[1-9]\d+))?$")


def split_run_dir(path: str | Path) -> tuple[str, str] | None:
    """``(name, stamp)`` of a run directory called ``<name>-<stamp>`` or
    ``<name>-<stamp>-<k>`` (a same-second run; the stamp is returned without its suffix), or
    ``None``."""
    m = _RUN_DIR_RE.match(Path(path).name)
    return None if m is None else (m["name"], m["stamp"])


def _same_second_index(path: Path) -> int:
    """1 for ``<name>-<stamp>``, k for ``<name>-<stamp>-<k>``: the order of same-second runs."""
    m = _RUN_DIR_RE.match(path.name)
    return int(m["k"]) if m is not None and m["k"] else 1


def _int(text: str) -> int | float:
    """A JSON integer: an ``int`` while it converts to a float (up to 308 digits: seeds up to
    2**63 stay exact), beyond it the float it rounds to (inf), so that every number of a
    metrics.json converts to a float."""
    return int(text) if len(text.lstrip("-")) <= 308 else float(text)


def load_metrics(path: str | Path) -> dict[str, Any]:
    """Read a ``metrics.json`` (or the one inside a run directory) and check its schema version.

    Raises:
        FileNotFoundError: no metrics.json.
        ValueError: not JSON, not an object, ``schema_version`` is not 1, or a field the
            readers rely on is missing or malformed (:mod:`evaluation.run_format`).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "metrics.json"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"No metrics.json at {p}.") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    try:
        data = json.loads(text, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p} is not valid JSON: {exc}.") from None
    except RecursionError:
        raise ValueError(f"{p} is not a metrics.json: it is nested too deeply.") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p} must hold a JSON object. Got {type(data).__name__} instead.")
    version = data.get("schema_version")
    if version != 1:
        raise ValueError(
            f"The 'schema_version' of {p} must be 1 (see docs/run-format.md). "
            f"Got {version!r} instead."
        )
    from .run_format import check_metrics

    return check_metrics(data, str(p))


def find_previous_runs(
    runs_root: str | Path, name: str, *, before: str | None = None, limit: int | None = None
) -> list[Path]:
    """Earlier runs of ``name`` under ``runs_root``, newest first.

    Args:
        runs_root: directory holding ``<name>-<stamp>/`` run directories.
        name: the run name (exact match; ``nightly`` does not match ``nightly-gpu-...``).
        before: only stamps strictly earlier than this one (``YYYYmmddTHHMMSSZ``); ``None``: all.
        limit: at most this many (``None``: all).

    Only directories holding a readable ``metrics.json`` with schema_version 1 are returned.
    """
    if before is not None and not STAMP_RE.match(before):
        raise ValueError(
            f"The 'before' parameter of find_previous_runs must be a stamp YYYYmmddTHHMMSSZ. "
            f"Got {before!r} instead."
        )
    if limit is not None and limit < 0:
        raise ValueError(
            f"The 'limit' parameter of find_previous_runs must be >= 0. Got {limit!r} instead."
        )
    root = Path(runs_root)
    if not root.is_dir():
        return []
    candidates: list[tuple[str, int, Path]] = []
    for d in root.iterdir():
        parsed = split_run_dir(d)
        if parsed is None or parsed[0] != name or not d.is_dir():
            continue
        if before is not None and parsed[1] >= before:
            continue
        candidates.append((parsed[1], _same_second_index(d), d))
    candidates.sort(reverse=True)
    out: list[Path] = []
    for _, _, d in candidates:  # newest first, read only until ``limit`` are found
        if limit is not None and len(out) >= limit:
            break
        try:
            load_metrics(d)
        except (OSError, ValueError):
            continue
        out.append(d)
    return out


def get_metric(scenario: Mapping[str, Any] | None, path: str) -> float | None:
    """The number at a dotted ``path`` in a scenario entry, or ``None`` when absent / not a number.

    An explicit JSON ``null`` at the end of the path reads as NaN: the pipeline writes non-finite
    numbers as null, so a metric that became NaN still counts as a regression. A list (such as
    a per-input list) is not one metric: ``None``.
    """
    node: Any = scenario
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    if node is None:
        return math.nan
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        return None
    return float(node)


def expand_metric(path: str, *scenarios: Mapping[str, Any] | None) -> list[str]:
    """The concrete paths of a tracked ``path`` in the given scenario entries: each ``*`` is
    replaced by every key found at that level in any of them (in order of first appearance);
    a path without ``*`` is returned as it is."""
    if "*" not in path:
        return [path]
    head, _, tail = path.partition("*")
    keys: list[str] = []
    for sc in scenarios:
        node: Any = sc
        for key in head.rstrip(".").split(".") if head else []:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping):
            keys += [str(k) for k in node if str(k) not in keys]
    out: list[str] = []
    for k in keys:
        out += expand_metric(f"{head}{k}{tail}", *scenarios)
    return out


def metric_ratio(path: str, previous: float, current: float) -> float:
    """How many times worse ``current`` is than ``previous`` for the metric at ``path``
    (10^(difference) for log10 metrics; 1 when both are 0, inf when only the previous is 0).
    The one definition behind regressions and the report's change column."""
    if path.rsplit(".", 1)[-1].startswith("log10"):  # 10^308 is the largest float
        return 10.0 ** min(current - previous, 308.0)
    if previous == 0.0:
        return math.inf if current > 0.0 else 1.0
    return current / previous


def compare(
    current_metrics: Mapping[str, Any],
    previous_metrics: Mapping[str, Any] | None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[dict[str, Any]]:
    """Regressions of ``current_metrics`` against ``previous_metrics`` (module docstring).

    Args:
        current_metrics: the parsed metrics.json of this run.
        previous_metrics: the previous run's, or ``None`` (then only failures are reported).
        tolerance: ratio ``> 1`` above which an error's growth is flagged.

    Returns:
        JSON-ready dicts ``{"scenario", "metric", "previous", "current", "ratio", "tolerance"}``
        as stored in metrics.json's ``regressions``, run-level entries first, then by scenario in
        the current run's order.
    """
    tol = _check_tolerance(tolerance, "compare")
    out: list[dict[str, Any]] = []
    prev_run = (previous_metrics or {}).get("run") or {}
    run = current_metrics.get("run") or {}
    cur_sc: Mapping[str, Any] = current_metrics.get("scenarios") or {}
    prev_sc: Mapping[str, Any] = (previous_metrics or {}).get("scenarios") or {}
    status = run.get("status", "ok")
    explained = any((sc or {}).get("status", "ok") != "ok" for sc in cur_sc.values()) or any(
        sid not in cur_sc for sid in prev_sc)
    if status != "ok" and not explained:
        out.append({"scenario": None, "metric": "run.status", "previous": prev_run.get("status"),
                    "current": status, "ratio": None, "tolerance": tol})
    for sid, sc in cur_sc.items():
        before = prev_sc.get(sid)
        if sc.get("status", "ok") != "ok":
            out.append({"scenario": sid, "metric": "status",
                        "previous": None if before is None else before.get("status", "ok"),
                        "current": sc.get("status"), "ratio": None, "tolerance": tol})
            continue
        if before is None:
            continue
        for path in (p for t in TRACKED_METRICS for p in expand_metric(t, sc)):
            p, c = get_metric(before, path), get_metric(sc, path)
            if p is None or c is None or not math.isfinite(p):
                continue
            ratio = metric_ratio(path, p, c) if math.isfinite(c) else math.nan
            if not math.isfinite(ratio) or ratio > tol:
                out.append({"scenario": sid, "metric": path, "previous": p, "current": c,
                            "ratio": None if math.isnan(ratio) else ratio, "tolerance": tol})
    for sid, before in prev_sc.items():
        if sid not in cur_sc:
            out.append({"scenario": sid, "metric": "status", "previous": before.get("status", "ok"),
                        "current": "missing", "ratio": None, "tolerance": tol})
    return out


def _set_metric(scenario: dict[str, Any], path: str, value: float) -> None:
    node = scenario
    *parents, last = path.split(".")
    for key in parents:
        nxt = node.get(key)
        if not isinstance(nxt, dict):
            nxt = node[key] = {}
        node = nxt
    node[last] = value


def best_of(runs: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """A baseline for :func:`compare` from earlier runs (newest first): the newest run's
    scenarios and statuses, with every tracked metric replaced by its best (lowest) finite value
    over ``runs`` where the scenario succeeded. A run worse than the best of the last N runs is
    flagged however many bad runs came before it; ``None`` when ``runs`` is empty."""
    if not runs:
        return None
    import copy

    base = copy.deepcopy(dict(runs[0]))
    scenarios = base.get("scenarios") or {}
    for sid, sc in scenarios.items():
        if not isinstance(sc, dict):
            continue
        others = [(run.get("scenarios") or {}).get(sid) for run in runs]
        for path in (p for t in TRACKED_METRICS for p in expand_metric(t, *others)):
            values = []
            for run in runs:
                other = (run.get("scenarios") or {}).get(sid)
                if other is None or other.get("status", "ok") != "ok":
                    continue
                v = get_metric(other, path)
                if v is not None and math.isfinite(v):
                    values.append(v)
            if values:
                _set_metric(sc, path, min(values))
                if sc.get("status", "ok") != "ok":
                    sc["status"] = "ok"  # a later failure does not hide the best value
    return base


def metric_series(
    runs: list[Mapping[str, Any]], scenario: str, path: str
) -> list[float | None]:
    """The values of one scenario metric across ``runs`` (in the given order; ``None`` where the run
    lacks the scenario or the metric, or the scenario failed)."""
    out: list[float | None] = []
    for m in runs:
        sc = (m.get("scenarios") or {}).get(scenario)
        if sc is None or sc.get("status", "ok") != "ok":
            out.append(None)
        else:
            v = get_metric(sc, path)
            out.append(v if v is not None and math.isfinite(v) else None)
    return out
