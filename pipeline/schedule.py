"""Nightly schedule: serve the flow with a cron schedule (Prefect ``flow.serve``).

The flow re-reads the configuration file at each run, so editing the YAML (or the parameters
file) is enough to change tomorrow's run, and datasets are regenerated exactly when their
parameters, or the backend between CPU and GPU, changed (content hash).

Anyone who can reach the Prefect API can start a run of a served deployment with parameters of
their choosing. ``serve`` therefore fixes an allow-list of directories (the environment of the
serving process, which API callers cannot change): a run request is refused unless its config
and parameters file lie under an allowed directory (symbolic links resolved), its ``output``
lies under the config's ``output_root``, and its ``--set`` overrides change no field that names
a place to read or write (the roots, a PINN checkpoint folder, MLflow tracking, a pinned
baseline run) and set no value that looks like a path or a URI. Every file a served run reads
or writes is then under the roots of a config the operator placed in an allowed directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from prefect import flow

from .config import ConfigError, load_config

ALLOW_ENV = "DIFFML_SERVE_ALLOW"
"""Environment variable holding the allowed directories (``os.pathsep``-separated)."""

OUTPUT_ENV = "DIFFML_SERVE_OUTPUT"
"""Environment variable holding the runs folder given to ``diffml serve --output``, if any."""

SETS_ENV = "DIFFML_SERVE_SETS"
"""Environment variable holding the operator's own ``serve --set`` overrides (JSON list)."""

ROOT_KEYS = ("output_root", "dataset_root")
"""Config keys that ``--set`` may not change in a served run."""

PLACE_KEYS = (*ROOT_KEYS, "checkpoint_dir", "tracking", "pinned")
"""Config keys, at any depth, naming a place a run reads or writes: a served run's ``--set``
may not change any field under them."""

_PATH_CHARS = ("/", "\\", ":", "~")
_DEVICE = re.compile(r"cuda:[0-9]{1,2}")  # a torch device, not a place


def allowed_dirs() -> list[Path] | None:
    """The allow-list set by ``diffml serve``; None outside a served deployment."""
    value = os.environ.get(ALLOW_ENV)
    if value is None:
        return None
    return [Path(p) for p in value.split(os.pathsep) if p]


def _inside(path: Path, dirs: Sequence[Path]) -> bool:
    return any(path.is_relative_to(d) for d in dirs)


def check_request(config: str | Path, output: str | Path | None, sets: Sequence[str],
                  params: str | Path | None, allowed: Sequence[Path],
                  served_output: str | Path | None = None,
                  trusted_sets: Sequence[str] = ()) -> None:
    """Refuse (``ConfigError``, one line) a run request that would read a config or parameters
    file outside ``allowed`` or write outside the config's roots (``output`` may also be the
    runs folder the operator gave to ``serve``, ``served_output``). ``trusted_sets`` are the
    operator's own ``serve --set`` overrides, which are not checked."""
    dirs = [Path(d).resolve() for d in allowed]
    trusted = [s for s in sets if s in set(trusted_sets)]
    sets = [s for s in sets if s not in set(trusted_sets)]
    for field, value in (("config", config), ("params", params)):
        if value is None:
            continue
        path = Path(value).resolve()
        if not _inside(path, dirs):
            raise ConfigError(f"served run refused: {field} {str(path)!r} is outside the "
                              f"allowed directories {[str(d) for d in dirs]}")
    for assignment in sets:
        key = assignment.split("=", 1)[0].strip()
        if any(part.strip() in PLACE_KEYS for part in key.split(".")):
            raise ConfigError(f"served run refused: --set {key!r} would change where the run "
                              f"reads or writes; allowed keys exclude {list(PLACE_KEYS)} at "
                              f"any depth")
    if sets:
        base = load_config(config, trusted, params).model_dump(mode="json")
        changed = load_config(config, [*trusted, *sets], params).model_dump(mode="json")
        for key, value in _changed_leaves(base, changed):
            if any(part in PLACE_KEYS for part in key.split(".")):  # e.g. a whole section
                raise ConfigError(f"served run refused: --set changes {key}, which names a "
                                  f"place to read or write")
            if (isinstance(value, str) and not key.endswith(".label")
                    and not _DEVICE.fullmatch(value)
                    and any(c in value for c in _PATH_CHARS)):
                raise ConfigError(f"served run refused: --set gives {key} the value "
                                  f"{value[:80]!r}, which looks like a path or a URI")
    if output is not None:
        cfg = load_config(config, [], params)
        root = Path(cfg.output_root).resolve()
        target = Path(output).resolve()
        operator = None if served_output is None else Path(served_output).resolve()
        if not (target.is_relative_to(root) or target == operator):
            raise ConfigError(f"served run refused: output {str(target)!r} is outside the "
                              f"config's output_root {str(root)!r}")


def _changed_leaves(old, new, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, new value) of every leaf of ``new`` that differs from ``old`` (config dumps:
    dicts, lists, scalars); scenarios are keyed by their ``id``."""
    if isinstance(new, dict):
        old = old if isinstance(old, dict) else {}
        return [leaf for k, v in new.items()
                for leaf in _changed_leaves(old.get(k), v, f"{prefix}{k}.")]
    if isinstance(new, list):
        if all(isinstance(x, dict) and "id" in x for x in new):
            ids = {x["id"]: x for x in old} if isinstance(old, list) and all(
                isinstance(x, dict) and "id" in x for x in old) else {}
            return [leaf for x in new
                    for leaf in _changed_leaves(ids.get(x["id"]), x, f"{prefix}{x['id']}.")]
        old = old if isinstance(old, list) else []
        return [leaf for i, v in enumerate(new)
                for leaf in _changed_leaves(old[i] if i < len(old) else None, v,
                                            f"{prefix}{i}.")]
    return [] if new == old else [(prefix.rstrip("."), new)]


@flow(name="diffml-scheduled")
def scheduled(config: str, output: str | None = None, sets: list[str] | None = None,
              params: str | None = None) -> dict:
    from .flows import run_config

    allowed = allowed_dirs()
    if allowed is not None:
        check_request(config, output, sets or [], params, allowed,
                      os.environ.get(OUTPUT_ENV), json.loads(os.environ.get(SETS_ENV, "[]")))
    cfg = load_config(config, sets or [], params)
    return run_config(cfg, json.loads(cfg.model_dump_json()), output)


def serve(config: Path, *, cron: str, name: str, output: Path | None, sets: list[str],
          params: Path | None, allow: Sequence[Path]) -> None:
    """Block and run ``diffml run CONFIG`` on ``cron`` (UTC) until interrupted (SIGTERM).

    ``allow`` lists the directories a run request may read its config and parameters from
    (resolved); the scheduled parameters themselves must pass :func:`check_request`."""
    dirs = [Path(d).resolve() for d in allow]
    check_request(config, output, sets, params, dirs, output, trusted_sets=sets)
    os.environ[ALLOW_ENV] = os.pathsep.join(str(d) for d in dirs)
    os.environ[SETS_ENV] = json.dumps(list(sets))
    if output is not None:
        os.environ[OUTPUT_ENV] = str(Path(output).resolve())
    from prefect.runner import Runner

    with _sigterm_unwinds(Runner):
        _serve(name, cron, config, output, sets, params)


@contextlib.contextmanager
def _sigterm_unwinds(runner: type) -> Iterator[None]:
    """Prefect's ``Runner.start`` replaces the SIGTERM handler with ``Runner.handle_sigterm``
    (it stops the runner and calls ``sys.exit`` inside the signal handler: a coroutine never
    awaited, and during a served run a traceback). Meanwhile SIGTERM unwinds like Ctrl-C, as
    in every other command (:func:`pipeline.supervise.raise_on_termination`)."""
    original = runner.handle_sigterm

    def unwind(self: Any, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt("received SIGTERM")

    runner.handle_sigterm = unwind
    try:
        yield
    finally:
        runner.handle_sigterm = original


def _serve(name: str, cron: str, config: Path, output: Path | None, sets: list[str],
           params: Path | None) -> None:
    scheduled.serve(
        name=name, cron=cron,
        parameters={"config": str(Path(config).resolve()),
                    "output": None if output is None else str(Path(output).resolve()),
                    "sets": list(sets), "params": None if params is None else str(params)},
    )
