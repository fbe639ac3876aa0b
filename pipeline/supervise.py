"""Nothing a long command starts outlives it: a supervisor, a process group and a watchdog.

``diffml run`` (and ``simulate``, ``train``, ``pinn``, ``serve``) may start a temporary Prefect
server (a ``uvicorn`` subprocess) and a Dask ``LocalCluster`` whose workers can be processes
(nanny, then worker). Schedulers and timeouts end a job with SIGTERM, terminals with SIGINT or
SIGHUP, and out-of-memory killers and impatient operators with SIGKILL, which no process can
catch. So the ``diffml`` process a user starts is a small supervisor:

1. It runs the command in a child process that leads a new **process group**. Prefect's server
   and Dask's processes inherit that group (neither calls ``setsid``), so one ``killpg`` reaches
   every descendant, however deep.
2. It forwards SIGTERM, SIGINT and SIGHUP to the group; the command unwinds (clusters close,
   servers stop) and after :data:`GRACE_S` seconds whatever is left gets SIGKILL. When the
   command ends normally, leftovers in the group are killed too.
3. A **watchdog** inside the group outlives a SIGKILL of the supervisor: it polls its parent
   every :data:`POLL_S` seconds; when it has been re-parented (the supervisor died without
   cleaning up), it sends SIGTERM to the group, waits :data:`GRACE_S` seconds and sends SIGKILL
   to the group, itself included.

A parent-death signal (``PR_SET_PDEATHSIG``) alone would not do: it reaches only the direct
child, and the grandchildren (uvicorn, Dask workers) would be orphaned. POSIX only; elsewhere
the command runs in the same process, unsupervised.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

GRACE_S = 5.0
"""Seconds between SIGTERM to the process group and SIGKILL."""

POLL_S = 0.25
"""Seconds between the watchdog's checks of its parent."""

ENV_FLAG = "DIFFML_SUPERVISED"
"""Set to ``1`` in the supervised child so that it does not supervise itself again."""

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

_WATCHDOG = """
import os, signal, time
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
parent, group, poll, grace = {parent}, {group}, {poll}, {grace}
while os.getppid() == parent:
    time.sleep(poll)
try:
    os.killpg(group, signal.SIGTERM)
    time.sleep(grace)
    os.killpg(group, signal.SIGKILL)
except ProcessLookupError:
    pass
"""


def is_supervised() -> bool:
    """True inside the supervised child (or when supervision was switched off)."""
    return os.environ.get(ENV_FLAG) == "1"


def supported() -> bool:
    """Process groups and ``killpg`` exist (POSIX)."""
    return os.name == "posix" and hasattr(os, "killpg")


def _kill_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _start_watchdog(group: int) -> subprocess.Popen:
    code = _WATCHDOG.format(parent=os.getpid(), group=group, poll=POLL_S, grace=GRACE_S)
    return subprocess.Popen([sys.executable, "-S", "-E", "-c", code], process_group=group,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, close_fds=True)


def cli_command(argv: Sequence[str]) -> list[str]:
    """The command line that runs ``diffml ARGV`` in this interpreter. ``-P``: the working
    directory is not put on ``sys.path``, so a folder there named like one of our packages
    (``data/``, ``training/``...) cannot shadow it."""
    return [sys.executable, "-P", "-m", "pipeline.cli", *argv]


def supervise(command: Sequence[str]) -> int:
    """Run ``command`` in its own process group and return its exit code (``128 + signal``
    when a forwarded signal ended it). Every process of the group is gone when this returns."""
    env = dict(os.environ, **{ENV_FLAG: "1"})
    child = subprocess.Popen(list(command), env=env, process_group=0,
                             stdin=subprocess.DEVNULL)
    group = child.pid
    received: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        _kill_group(group, signum)

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    watchdog = None
    try:
        watchdog = _start_watchdog(group)
        deadline = None
        while True:
            try:
                code = child.wait(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                if received and deadline is None:
                    deadline = time.monotonic() + GRACE_S
                if deadline is not None and time.monotonic() > deadline:
                    _kill_group(group, signal.SIGKILL)
    finally:
        _kill_group(group, signal.SIGKILL)
        if watchdog is not None:
            watchdog.wait()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        name = signal.Signals(received[0]).name
        print(f"diffml: stopped by {name}; every process of the command has ended",
              file=sys.stderr)
        return 128 + received[0]
    if code < 0:  # the command itself was killed (e.g. by the OOM killer)
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else \
            f"signal {-code}"
        print(f"diffml: the command was killed by {name}; every process of it has ended",
              file=sys.stderr)
        return 128 - code
    return code


def raise_on_termination() -> None:
    """In the supervised child: SIGTERM and SIGHUP unwind like Ctrl-C (``KeyboardInterrupt``),
    so context managers close the Dask cluster and stop the Prefect server."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, interrupt)

