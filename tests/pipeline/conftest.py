"""Fixtures for pipeline tests: a Prefect test harness per session and fresh roots per test."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

CONFIGS = Path(__file__).parent / "configs"


@pytest.fixture(scope="session")
def prefect_home():
    home = tempfile.mkdtemp(prefix="diffml-prefect-")
    old = os.environ.get("PREFECT_HOME")
    os.environ["PREFECT_HOME"] = home
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    yield home
    if old is None:
        os.environ.pop("PREFECT_HOME", None)
    else:
        os.environ["PREFECT_HOME"] = old
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def harness(prefect_home):
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def small_config(tmp_path) -> Path:
    """tests/pipeline/configs/small.yaml with its roots moved under tmp_path."""
    import yaml

    raw = yaml.safe_load((CONFIGS / "small.yaml").read_text())
    raw["output_root"] = str(tmp_path / "runs")
    raw["dataset_root"] = str(tmp_path / "datasets")
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path
