"""Dask set-up and the Prefect API that process workers share.

The Dask task runner either starts a local cluster or connects to an address, never both. The
local cluster is a ``LocalCluster`` or, with ``dask.gpu_workers``, :func:`gpu_cluster`: one
process worker per visible GPU, each seeing only its own device. Process workers started without
``PREFECT_API_URL`` would each start their own temporary Prefect server; ``shared_api`` starts one
and exports its URL so that the flow and all workers report to it.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
from collections.abc import Iterator, Sequence

from .config import DaskSettings

log = logging.getLogger("diffml.pipeline")


class CancelledTaskFilter(logging.Filter):
    """Drops a Dask worker's warning that a task it was running "ended with CancelledError".

    Tasks are cancelled only when the run is stopped (SIGTERM, Ctrl-C): Prefect then cancels
    the flow's futures and an in-process worker logs one such warning per running task, with
    its internal coroutine, after the user already knows the run was stopped. Every other
    record passes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING
                    and "ended with CancelledError" in record.getMessage())


#: The Dask logger that reports cancelled tasks (see :class:`CancelledTaskFilter`).
CANCELLED_TASK_LOGGER = "distributed.worker.state_machine"


def quiet_cancelled_tasks() -> None:
    """Install :class:`CancelledTaskFilter` on :data:`CANCELLED_TASK_LOGGER` (once)."""
    logger = logging.getLogger(CANCELLED_TASK_LOGGER)
    if not any(isinstance(f, CancelledTaskFilter) for f in logger.filters):
        logger.addFilter(CancelledTaskFilter())


def dask_setup(worker: object) -> None:
    """Dask's preload hook: a process worker started with ``preload=["pipeline.cluster"]``
    drops the same warnings as the run's own process (:func:`quiet_cancelled_tasks`)."""
    quiet_cancelled_tasks()


class RunStopped(RuntimeError):
    """Raised inside a task whose run was stopped (see :func:`stop_requested`)."""


def stop_requested() -> bool:
    """True inside a Dask task whose run is gone: the client that submitted it disconnected
    (the run was stopped or killed) or cancelled it, and the scheduler has told this worker.
    Dask cannot interrupt a running task, so long tasks call this between units of work (each
    fit of a learning curve, each date of a backward regression) and stop with
    :class:`RunStopped`; on an existing cluster nothing then runs on, or writes, after the
    stop. False outside a Dask worker."""
    try:
        from distributed import get_worker

        worker = get_worker()
        key = worker.get_current_task()
    except (ImportError, ValueError, AttributeError, KeyError):
        # not in a worker, or in a thread the task started (not one of the worker's own)
        return False
    task = worker.state.tasks.get(key)
    return task is None or task.state in ("cancelled", "released", "forgotten")


def check_stop(what: str) -> None:
    """Raise :class:`RunStopped` naming ``what`` was not done, if :func:`stop_requested`."""
    if stop_requested():
        log.warning("the run was stopped: %s not done", what)
        raise RunStopped(f"the run was stopped before {what}")


def task_runner(settings: DaskSettings, address: str | None = None):
    """A ``prefect_dask.DaskTaskRunner`` for the run, or None when Dask is disabled; in-process
    workers' warnings about tasks cancelled by a stop are dropped (:func:`quiet_cancelled_tasks`).
    """
    from prefect_dask import DaskTaskRunner

    quiet_cancelled_tasks()

    address = address or settings.address
    if address:
        return DaskTaskRunner(address=address)
    if not settings.enabled:
        return None
    if settings.gpu_workers:
        return DaskTaskRunner(cluster_class=gpu_cluster,
                              cluster_kwargs={"threads_per_worker": settings.threads_per_worker})
    # Loopback only. Threads share an in-process scheduler (no socket); processes talk over
    # tcp://127.0.0.1, where any local user could connect and run code in the workers: with
    # throwaway TLS credentials (security=True), only this run's client and workers can.
    loopback = {"dashboard_address": "127.0.0.1:0", "worker_dashboard_address": "127.0.0.1:0"}
    if settings.processes:
        loopback.update(host="127.0.0.1", security=True, preload=["pipeline.cluster"])
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": settings.n_workers,
                        "threads_per_worker": settings.threads_per_worker,
                        "processes": settings.processes, **loopback},
    )


#: The refusal when ``dask.gpu_workers`` finds no GPU (at cluster start and in the CLI).
NO_GPU = ("dask.gpu_workers: true, but no CUDA device is visible here (CUDA_VISIBLE_DEVICES, or "
          "numba-cuda and a driver); set it to false or run where a GPU is")


def _driver_device_count() -> int | None:
    """Devices the CUDA driver shows this process (after ``CUDA_VISIBLE_DEVICES``), or None
    without numba-cuda or a driver."""
    try:
        from numba import cuda

        return len(cuda.gpus)
    except Exception:  # noqa: BLE001 - no numba-cuda, no driver or no device
        return None


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries. When that variable is
    set: its entries read as CUDA reads them (ordinals or ``GPU-``/``MIG-`` UUIDs, up to the
    first entry that is neither, repeats dropped), and no more of them than the driver shows
    where a driver answers. Otherwise ``0 .. n-1`` for the n devices the driver reports (none
    without numba-cuda or a driver)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    count = _driver_device_count()
    if listed is None:
        return [str(i) for i in range(count or 0)]
    out: list[str] = []
    for entry in (e.strip() for e in listed.split(",")):
        if not (entry.isdigit() or entry.startswith(("GPU-", "MIG-"))):
            break
        if entry not in out:
            out.append(entry)
    return out if count is None else out[:count]


def gpu_worker_specs(gpus: Sequence[str], threads_per_worker: int = 1,
                     security: object = None) -> dict[str, dict]:
    """``SpecCluster`` worker specs: one ``Nanny`` process per GPU id, on loopback, whose worker
    sees that GPU alone (``CUDA_VISIBLE_DEVICES``, so it is device 0 there), offers one ``GPU``
    resource, preloads this module (:func:`dask_setup`) and talks TLS with ``security`` (a
    ``distributed.Security``) when given."""
    from distributed import Nanny

    tls = {} if security is None else {"security": security, "protocol": "tls"}
    return {
        f"gpu-{g}": {"cls": Nanny, "options": {
            "name": f"gpu-{g}", "nthreads": threads_per_worker, "host": "127.0.0.1",
            "dashboard_address": "127.0.0.1:0", "dashboard": True,
            "env": {"CUDA_VISIBLE_DEVICES": g}, "resources": {"GPU": 1},
            "preload": ["pipeline.cluster"], **tls}}
        for g in gpus
    }


def gpu_cluster(threads_per_worker: int = 1, gpus: Sequence[str] | None = None):
    """A local Dask cluster of one process worker per GPU (``gpus``, default
    :func:`visible_gpus`), scheduler and dashboards on loopback. Raises ``RuntimeError`` when no
    GPU is visible. Like ``LocalCluster(processes=True, security=True)``, its processes end
    with the process that started them and talk TLS with throwaway credentials, so that no
    other local user can run code in them."""
    from distributed import Scheduler, Security, SpecCluster

    gpus = visible_gpus() if gpus is None else [str(g) for g in gpus]
    if not gpus:
        raise RuntimeError(NO_GPU)
    security = Security.temporary()
    scheduler = {"cls": Scheduler, "options": {
        "host": "127.0.0.1", "dashboard_address": "127.0.0.1:0", "dashboard": True,
        "security": security, "protocol": "tls"}}
    return SpecCluster(workers=gpu_worker_specs(gpus, threads_per_worker, security),
                       scheduler=scheduler, security=security, name="diffml-gpu")


def _current_api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


#: How long, in seconds, the end of a run waits for Prefect's queued logs and events to reach the
#: API it started (they are sent in the background, in batches).
DRAIN_SECONDS = 15.0


def drain_prefect_services(timeout: float = DRAIN_SECONDS) -> None:
    """Send Prefect's queued run logs and events now, waiting at most ``timeout`` seconds.

    Called before the API that ``shared_api`` started is stopped: left queued, they are sent
    at interpreter exit to a server that is gone, and Prefect's client retries each
    connection with back-off for over a minute before the process can end.
    """
    from prefect._internal.concurrency.services import QueueService

    pending = QueueService.drain_all(timeout=timeout)
    if inspect.isawaitable(pending):  # inside an event loop: nothing can be waited on here
        pending.close()


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
            drain_prefect_services()
            server.stop()
