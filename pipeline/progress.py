"""Progress of a run, scenario by stage, across threads, processes and Dask workers.

Each task appends one JSON line per event (a stage started, finished or failed) to the file named
by ``DIFFML_PROGRESS``; an append of a short line with ``O_APPEND`` is atomic on local and
shared POSIX file systems, so workers in other processes report without a server. ``diffml
run`` sets the variable, reads the file twice a second and draws the table above its log lines.
Without the variable nothing is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path

from rich.table import Table

from .cache import pid_alive

ENV = "DIFFML_PROGRESS"
"""Environment variable naming the progress file."""

STAGES = ("simulate", "reference", "train", "pinn", "backward")

PREFIX = "diffml-progress-"
"""Progress files are ``<temporary folder>/diffml-progress-<pid>@<space>-<random>.jsonl``:
``space`` (``data.process_space``: host, boot, PID namespace) says where the pid means
something."""


def new_file() -> str:
    """A fresh progress file (mode 0600) named after this process; on POSIX systems, this user's
    files of processes of the same space that ended without removing theirs (killed) are
    removed first (:func:`sweep`)."""
    import tempfile

    from data import process_space

    space = process_space()
    if os.name == "posix":
        sweep(Path(tempfile.gettempdir()), space)
    fd, path = tempfile.mkstemp(prefix=f"{PREFIX}{os.getpid()}@{space}-", suffix=".jsonl")
    os.close(fd)
    return path


def sweep(folder: Path, space: str) -> list[Path]:
    """Remove this user's progress files in ``folder`` written in ``space`` by a process that no
    longer exists; returns them. Other users' files, other spaces' (another container, host or
    boot), live processes' and other names are left alone. POSIX only."""
    gone = []
    for path in folder.glob(f"{PREFIX}*@*.jsonl"):
        pid, _, rest = path.name[len(PREFIX):].partition("@")
        try:
            if (not pid.isdigit() or not rest.startswith(f"{space}-")
                    or path.lstat().st_uid != os.getuid() or pid_alive(int(pid))):
                continue
            path.unlink()
        except OSError:
            continue
        gone.append(path)
    return gone


class State(StrEnum):
    START = "start"
    DONE = "done"
    FAILED = "failed"


_MARKS = {State.START: "[yellow]running[/yellow]", State.DONE: "[green]done[/green]",
          State.FAILED: "[red]failed[/red]"}


def report(scenario: str, stage: str, state: State) -> None:
    """Append one event to the progress file (no-op when ``DIFFML_PROGRESS`` is unset)."""
    path = os.environ.get(ENV)
    if not path:
        return
    line = json.dumps({"t": time.time(), "scenario": scenario, "stage": stage,
                       "state": str(state)}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@contextlib.contextmanager
def stage(scenario: str, name: str) -> Iterator[None]:
    """Report ``name`` of ``scenario`` as started, then done or failed."""
    report(scenario, name, State.START)
    try:
        yield
    except BaseException:
        report(scenario, name, State.FAILED)
        raise
    report(scenario, name, State.DONE)


def read(path: str | Path) -> dict[tuple[str, str], tuple[State, float]]:
    """The latest (state, time) of each (scenario, stage) in the progress file."""
    latest: dict[tuple[str, str], tuple[State, float]] = {}
    try:
        text = Path(path).read_text()
    except OSError:
        return latest
    for line in text.splitlines():
        try:
            e = json.loads(line)
            latest[(e["scenario"], e["stage"])] = (State(e["state"]), float(e["t"]))
        except (ValueError, KeyError, TypeError):
            continue  # a line being written
    return latest


def table(path: str | Path, scenarios: Sequence[str], stages: Sequence[str] = STAGES,
          started: float | None = None) -> Table:
    """Scenario × stage: running (with seconds so far), done or failed; '-' not started."""
    events = read(path)
    now = time.time()
    title = "running" if started is None else f"running, {now - started:.0f} s"
    t = Table(title=title, title_justify="left", box=None, padding=(0, 1))
    t.add_column("scenario", overflow="fold", min_width=12)
    for s in stages:
        t.add_column(s, no_wrap=True)
    for sid in scenarios:
        cells = []
        for s in stages:
            state, when = events.get((sid, s), (None, 0.0))
            if state is None:
                cells.append("[dim]-[/dim]")
            elif state is State.START:
                cells.append(f"{_MARKS[state]} {now - when:.0f}s")
            else:
                cells.append(_MARKS[state])
        t.add_row(sid, *cells)
    return t
