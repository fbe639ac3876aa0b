"""A task on a Dask cluster notices that its run has gone (pipeline.cluster.stop_requested):
Dask cannot interrupt a running task, so the long steps check between units of work."""

from __future__ import annotations

import threading
import time

import pytest

from pipeline.cluster import RunStopped, check_stop, stop_requested

SEEN: dict[str, object] = {}
DONE = threading.Event()


def _loop_until_stopped(limit: float) -> str:
    """Checks stop_requested() every 50 ms, as a learning curve does between fits."""
    t0 = time.monotonic()
    SEEN["first"] = stop_requested()
    while time.monotonic() - t0 < limit:
        try:
            check_stop("the next fit")
        except RunStopped as exc:
            SEEN["stopped"] = str(exc)
            DONE.set()
            return "stopped"
        time.sleep(0.05)
    DONE.set()
    return "ran to the end"


def test_outside_dask_nothing_is_ever_stopped():
    assert stop_requested() is False
    check_stop("anything")  # no exception


def test_a_task_stops_when_the_client_that_submitted_it_goes_away():
    from distributed import Client, LocalCluster

    SEEN.clear()
    DONE.clear()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        client = Client(cluster)
        future = client.submit(_loop_until_stopped, 30.0, pure=False)  # held, as a flow holds
        # its futures (a dropped future is released at once, which stops the task too)
        deadline = time.monotonic() + 10
        while "first" not in SEEN and time.monotonic() < deadline:
            time.sleep(0.05)
        assert SEEN.get("first") is False  # running normally: not stopped
        client.close()  # the run is stopped: its client disconnects
        assert DONE.wait(20)
        del future
    assert SEEN.get("stopped") == "the run was stopped before the next fit"


@pytest.mark.parametrize("state", ["cancelled", "released", "forgotten"])
def test_the_states_that_mean_stopped(monkeypatch, state):
    """The worker-side states of a task whose future was released or cancelled."""
    import distributed

    class Task:
        def __init__(self, s):
            self.state = s

    class Worker:
        def __init__(self, s):
            self.state = type("S", (), {"tasks": {"k": Task(s)}})()

        def get_current_task(self):
            return "k"

    monkeypatch.setattr(distributed, "get_worker", lambda: Worker(state))
    assert stop_requested() is True
    monkeypatch.setattr(distributed, "get_worker", lambda: Worker("executing"))
    assert stop_requested() is False
