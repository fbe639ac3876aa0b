"""Nightly schedule: serve the flow with a cron schedule (Prefect ``flow.serve``).

The flow re-reads the configuration file at each run, so editing the YAML (or the parameters
file) is enough to change tomorrow's run, and datasets are regenerated exactly when their
parameters changed (content hash).
"""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow

from .config import load_config


@flow(name="diffml-scheduled")
def scheduled(config: str, output: str | None = None, sets: list[str] | None = None,
              params: str | None = None) -> dict:
    from .flows import run_config

    cfg = load_config(config, sets or [], params)
    return run_config(cfg, json.loads(cfg.model_dump_json()), output)


def serve(config: Path, *, cron: str, name: str, output: Path | None, sets: list[str],
          params: Path | None) -> None:
    """Block and run ``diffml run CONFIG`` on ``cron`` (UTC) until interrupted (SIGTERM)."""
    scheduled.serve(
        name=name, cron=cron,
        parameters={"config": str(Path(config).resolve()),
                    "output": None if output is None else str(Path(output).resolve()),
                    "sets": list(sets), "params": None if params is None else str(params)},
    )
