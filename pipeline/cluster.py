"""Dask set-up and the Prefect API that process workers share.

The Dask task runner either starts a LocalCluster or connects to an address, never both. Process
workers started without ``PREFECT_API_URL`` would each start their own temporary Prefect server;
``shared_api`` starts one and exports its URL so that the flow and all workers report to it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from .config import DaskSettings

log = logging.getLogger("diffml.pipeline")


def task_runner(settings: DaskSettings, address: str | None = None):
    """A ``prefect_dask.DaskTaskRunner`` for the run, or None when Dask is disabled."""
    from prefect_dask import DaskTaskRunner

    address = address or settings.address
    if address:
        return DaskTaskRunner(address=address)
    if not settings.enabled:
        return None
    # Loopback only: the scheduler, the workers and their dashboards have no authentication.
    # (Threads share an in-process scheduler; processes get tcp://127.0.0.1.)
    loopback = {"dashboard_address": "127.0.0.1:0", "worker_dashboard_address": "127.0.0.1:0"}
    if settings.processes:
        loopback["host"] = "127.0.0.1"
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": settings.n_workers,
                        "threads_per_worker": settings.threads_per_worker,
                        "processes": settings.processes, **loopback},
    )


def _current_api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


@contextlib.contextmanager
def shared_api(needed: bool) -> Iterator[str | None]:
    """Make sure one Prefect API URL is visible to worker processes (via the environment)."""
    if not needed:
        yield None
        return
    url = _current_api_url()
    server = None
    if url is None:
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()
        server.start(timeout=int(os.environ.get(
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")))
        url = server.api_url
        log.info("started a local Prefect API for the Dask workers at %s", url)
    old = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: url}):
            yield url
    finally:
        if old is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = old
        if server is not None:
            server.stop()
