"""Nothing a long command starts outlives it: a supervisor, a process group and a watchdog.

``diffml run`` (and ``simulate``, ``train``, ``pinn``, ``serve``) may start a temporary Prefect
server (a ``uvicorn`` subprocess) and a Dask ``LocalCluster`` whose workers can be processes
(nanny, then worker). Schedulers and timeouts end a job with SIGTERM, terminals with SIGINT or
SIGHUP, and out-of-memory killers and impatient operators with SIGKILL, which no process can
catch. So the ``diffml`` process a user starts is a small supervisor:

1. It runs the command in a child process inside a new **process group**. Prefect's server
   and Dask's processes inherit that group (neither calls ``setsid``), so one ``killpg`` reaches
   every descendant, however deep.
2. It forwards SIGTERM, SIGINT and SIGHUP to the group; the command unwinds (clusters close,
   servers stop) and after :data:`GRACE_S` seconds whatever is left gets SIGKILL. When the
   command ends normally, leftovers in the group are killed too.
3. A **watchdog** outlives a SIGKILL of the supervisor: it polls its parent every
   :data:`POLL_S` seconds; when it has been re-parented (the supervisor died without cleaning
   up), it sends SIGTERM to the group, waits :data:`GRACE_S` seconds and sends SIGKILL to the
   group, itself included. A watchdog that dies is replaced by a new one in the same group.
4. The command's group is not the terminal's foreground group, so the command and what it
   starts ignore SIGTTOU (with ``stty tostop`` their first write to the terminal would stop
   them for ever), and Ctrl-Z (SIGTSTP, which reaches the foreground group only) stops the
   group with the supervisor; ``fg`` (SIGCONT) resumes both.

The order closes every window: the signal handlers are installed first (a signal that arrives
before the command exists stops it from starting), then the watchdog starts as the leader of
the new group and says when it ignores the forwarded signals, and only then does the command
start, inside the watchdog's group. A signal or a SIGKILL at any moment after launch therefore
reaches everything the command started.

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
import os, signal, sys, time
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
parent, group, poll, grace = {parent}, os.getpgrp(), {poll}, {grace}
sys.stdout.write("ready\\n")
sys.stdout.close()
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


def _start_watchdog(starting: list[subprocess.Popen], group: int = 0) -> subprocess.Popen:
    """The watchdog, leader of a new process group (``group`` 0) or a member of ``group`` (a
    replacement); returns once it ignores the forwarded signals (it writes one line then). The
    process is put in ``starting`` as soon as it exists, so that a signal handler can kill it,
    which ends the wait here (``WatchdogFailed``)."""
    code = _WATCHDOG.format(parent=os.getpid(), poll=POLL_S, grace=GRACE_S)
    dog = subprocess.Popen([sys.executable, "-S", "-E", "-c", code], process_group=group,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, close_fds=True)
    starting.append(dog)
    try:
        line = dog.stdout.readline()
        dog.stdout.close()
        if line != b"ready\n":
            raise WatchdogFailed("the supervisor's watchdog did not start; the command was "
                                 "not run")
    except BaseException:  # not ready, or killed by a signal's handler: nothing left behind
        if group == 0:
            _kill_group(dog.pid, signal.SIGKILL)
        else:  # a replacement is no group leader: only it
            dog.kill()
        dog.wait()
        raise
    return dog


def cli_command(argv: Sequence[str]) -> list[str]:
    """The command line that runs ``diffml ARGV`` in this interpreter. ``-P``: the working
    directory is not put on ``sys.path``, so a folder there named like one of our packages
    (``data/``, ``training/``...) cannot shadow it."""
    return [sys.executable, "-P", "-m", "pipeline.cli", *argv]


class WatchdogFailed(RuntimeError):
    """The watchdog process did not come up."""


class _Stopped(Exception):
    """A forwarded signal arrived before the command started."""


def supervise(command: Sequence[str]) -> int:
    """Run ``command`` in its own process group and return its exit code (``128 + signal``
    when a forwarded signal ended it). Every process of the group is gone when this returns."""
    env = dict(os.environ, **{ENV_FLAG: "1"})
    received: list[int] = []
    group: list[int] = []  # the watchdog's group, once it is ready
    starting: list[subprocess.Popen] = []  # the watchdog, from the moment it exists

    def forward(signum: int, _frame: object) -> None:  # records and forwards; never raises
        received.append(signum)
        if group:
            _kill_group(group[0], signum)
        elif starting:  # still waiting for the watchdog: end that wait now
            _kill_group(starting[0].pid, signal.SIGKILL)

    def suspend(_signum: int, _frame: object) -> None:  # Ctrl-Z: the group stops with us
        if group:
            _kill_group(group[0], signal.SIGSTOP)
        # stop the way the terminal meant (the kernel drops it in an orphaned process group);
        # this returns once we are continued (fg, bg, SIGCONT), or at once if it was dropped
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        try:
            os.kill(os.getpid(), signal.SIGTSTP)
        finally:
            signal.signal(signal.SIGTSTP, suspend)
            if group:
                _kill_group(group[0], signal.SIGCONT)

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, suspend)
    watchdog = None
    code = 0
    try:
        try:
            watchdog = _start_watchdog(starting)
        except WatchdogFailed:
            if received:  # the handler ended the wait
                raise _Stopped from None
            raise
        group.append(watchdog.pid)
        if received:  # stopped before the command started: it never runs
            raise _Stopped
        tty_out = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # inherited through exec
        try:
            child = subprocess.Popen(list(command), env=env, process_group=group[0],
                                     stdin=subprocess.DEVNULL)
        finally:
            signal.signal(signal.SIGTTOU, tty_out)
        if received:  # arrived during Popen, perhaps before the child joined the group
            _kill_group(group[0], received[0])
        deadline = None
        while True:
            try:
                code = child.wait(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                if watchdog.poll() is not None and not received:  # killed by someone: replaced
                    watchdog = _replace_watchdog(group[0], child)
                if received and deadline is None:
                    deadline = time.monotonic() + GRACE_S
                if deadline is not None and time.monotonic() > deadline:
                    _kill_group(group[0], signal.SIGKILL)
    except _Stopped:
        pass
    except WatchdogFailed as exc:
        if not received:  # else the stop's own line below says what happened
            print(f"diffml: {exc}", file=sys.stderr)
        code = 1
    finally:
        if group:
            _kill_group(group[0], signal.SIGKILL)
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


def _replace_watchdog(group: int, child: subprocess.Popen) -> subprocess.Popen:
    """A new watchdog in ``group``, the command's; if none comes up, the group is stopped
    (SIGTERM, then SIGKILL once ``child`` has ended or after :data:`GRACE_S` seconds) rather
    than left unguarded."""
    try:
        return _start_watchdog([], group)
    except (WatchdogFailed, OSError):
        _kill_group(group, signal.SIGTERM)
        try:
            child.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(group, signal.SIGKILL)
        raise WatchdogFailed("the supervisor's watchdog ended and no new one started; the "
                             "command was stopped") from None


def raise_on_termination() -> None:
    """In the supervised child: SIGTERM and SIGHUP unwind like Ctrl-C (``KeyboardInterrupt``),
    so context managers close the Dask cluster and stop the Prefect server."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, interrupt)

