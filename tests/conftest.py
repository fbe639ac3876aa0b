"""Session-wide test settings: quiet, offline, deterministic."""

import os

os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".numba_cache"))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


def pytest_runtest_setup(item):
    """Every test probes ``backend="auto"`` afresh: a test that fakes (or hides) the GPU must
    not leave its answer cached for the next one (``data.spec._auto_backend``)."""
    import sys

    spec = sys.modules.get("data.spec")
    if spec is not None:
        spec._auto_backend.cache_clear()
