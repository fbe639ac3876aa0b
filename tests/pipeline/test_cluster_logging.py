"""A stopped run does not print Dask's warnings about the tasks the stop cancelled."""

from __future__ import annotations

import logging
import time

import pytest

from pipeline import cluster


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _record(level: int, msg: str) -> logging.LogRecord:
    return logging.LogRecord(cluster.CANCELLED_TASK_LOGGER, level, __file__, 1, msg, None, None)


def test_the_filter_drops_only_the_cancelled_task_warning():
    f = cluster.CancelledTaskFilter()
    assert not f.filter(_record(logging.WARNING, "Async instruction for <Task cancelled "
                                "name=\"execute('train_task-1')\"> ended with CancelledError"))
    assert f.filter(_record(logging.WARNING, "Compute Failed"))
    assert f.filter(_record(logging.ERROR, "ended with CancelledError"))


def _cancel_a_running_task() -> list[str]:
    """Messages of the worker's state machine while an in-process cluster cancels a task."""
    from distributed import Client, LocalCluster

    logger = logging.getLogger(cluster.CANCELLED_TASK_LOGGER)
    handler = _Records()
    logger.addHandler(handler)
    try:
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                          dashboard_address=None) as lc, Client(lc) as client:
            future = client.submit(time.sleep, 5)
            deadline = time.monotonic() + 10
            while not any(client.processing().values()) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)
            future.cancel()
            time.sleep(1.0)
    finally:
        logger.removeHandler(handler)
    return handler.messages


@pytest.fixture
def no_filter():
    logger = logging.getLogger(cluster.CANCELLED_TASK_LOGGER)
    saved = list(logger.filters)
    for f in saved:
        logger.removeFilter(f)
    yield logger
    for f in list(logger.filters):
        logger.removeFilter(f)
    for f in saved:
        logger.addFilter(f)


def test_cancelling_a_running_task_is_silent_once_quietened(no_filter):
    assert any("ended with CancelledError" in m for m in _cancel_a_running_task()), \
        "the unfiltered worker no longer warns: the filter may be obsolete"
    cluster.quiet_cancelled_tasks()
    cluster.quiet_cancelled_tasks()  # idempotent
    assert sum(isinstance(f, cluster.CancelledTaskFilter) for f in no_filter.filters) == 1
    assert not any("ended with CancelledError" in m for m in _cancel_a_running_task())


def test_a_process_cluster_admits_only_its_own_clients_and_quietens_them():
    """With process workers the scheduler listens on tcp over loopback, where any local user
    could connect and run code in the workers: the run's cluster uses throwaway TLS
    credentials, so a client without them is refused and the run's own client works."""
    from distributed import Client, LocalCluster, Security

    from pipeline.config import DaskSettings

    runner = cluster.task_runner(DaskSettings(n_workers=1, threads_per_worker=1,
                                              processes=True))
    kwargs = runner.cluster_kwargs
    assert kwargs["host"] == "127.0.0.1" and kwargs["security"] is True
    with LocalCluster(**kwargs) as lc:
        assert lc.scheduler_address.startswith("tls://127.0.0.1:")
        with Client(lc) as own:
            assert own.submit(lambda: 1 + 1).result(timeout=30) == 2
            # the workers drop the cancelled-task warnings too (preloaded dask_setup)
            quiet = own.run(lambda: any(
                isinstance(f, cluster.CancelledTaskFilter)
                for f in logging.getLogger(cluster.CANCELLED_TASK_LOGGER).filters))
            assert list(quiet.values()) == [True], quiet
        plain = lc.scheduler_address.replace("tls://", "tcp://")
        with pytest.raises((OSError, TimeoutError)):
            Client(plain, timeout=3)
        # TLS with credentials of its own (another local user's): the scheduler refuses them
        with pytest.raises((OSError, TimeoutError)):
            Client(lc.scheduler_address, security=Security.temporary(), timeout=3)
