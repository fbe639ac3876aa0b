"""Nothing a command starts outlives it: SIGTERM, SIGINT, SIGHUP and SIGKILL of the supervisor.

The fast tests supervise a small Python tree (a child that starts grandchildren which ignore
SIGTERM); the ``diffml run`` tests kill a real run mid-training, with a temporary Prefect server
and Dask process workers, and check every descendant and every listening socket.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from pipeline import supervise

pytestmark = pytest.mark.skipif(not supervise.supported(), reason="POSIX process groups")

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = Path(__file__).parent / "configs"

# A child that starts two grandchildren ignoring SIGTERM (like a stuck worker), then sleeps.
TREE = """
import subprocess, sys, time
code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
kids = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
print("ready", flush=True)
time.sleep(600)
"""

SUPERVISOR = """
import sys
from pipeline import supervise
sys.exit(supervise.supervise([sys.executable, "-c", sys.argv[1]]))
"""


def _alive(pids: list[int], timeout: float) -> list[int]:
    """PIDs still running (zombies excluded) after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _descendants(pid: int, at_least: int, timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while True:
        kids = psutil.Process(pid).children(recursive=True)
        if len(kids) >= at_least or time.monotonic() > deadline:
            return kids
        time.sleep(0.1)


def _start_tree() -> tuple[subprocess.Popen, list[int]]:
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR, TREE], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    # child, watchdog and two grandchildren
    kids = _descendants(proc.pid, 4, 10)
    assert len(kids) == 4, kids
    return proc, [k.pid for k in kids]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_forwarded_signal_ends_the_whole_group(sig):
    proc, pids = _start_tree()
    proc.send_signal(sig)
    assert proc.wait(timeout=supervise.GRACE_S + 5) == 128 + sig
    assert _alive(pids, 1) == []
    assert f"stopped by {signal.Signals(sig).name}" in proc.stderr.read()


def _signal_at_first_child(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to the supervisor the moment its first child process exists."""
    deadline = time.monotonic() + 10
    while not psutil.Process(proc.pid).children() and time.monotonic() < deadline:
        pass
    proc.send_signal(sig)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_signal_right_after_launch_leaves_nothing_behind(tmp_path, sig):
    """The race a scheduler hits when it cancels a job it just started: the command (which
    would write a file after 2 s) must not survive the supervisor, whatever the timing."""
    marker = tmp_path / "ran"
    code = (f"import time; from pathlib import Path; time.sleep(2); "
            f"Path({str(marker)!r}).write_text('orphan')")
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR, code], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _signal_at_first_child(proc, sig)
        rc = proc.wait(timeout=supervise.GRACE_S + 5)
        assert rc == (128 + sig if sig != signal.SIGKILL else -sig)
        if sig != signal.SIGKILL:
            err = proc.stderr.read()
            assert f"stopped by {signal.Signals(sig).name}" in err
            assert "Traceback" not in err
    time.sleep(2 + supervise.POLL_S + supervise.GRACE_S + 1)
    assert not marker.exists()


# The supervisor with a SIGTERM to itself inside the Popen that starts the command (its second
# Popen, after the watchdog's): the window between the last check and the child joining the group.
SUPERVISOR_SIGNAL_IN_POPEN = """
import os, signal, subprocess, sys
from pipeline import supervise
real, calls = subprocess.Popen, []
class Popen(real):
    def __init__(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        super().__init__(*args, **kwargs)
subprocess.Popen = Popen
sys.exit(supervise.supervise([sys.executable, "-c", sys.argv[1]]))
"""


def test_a_signal_while_the_command_is_launched_reaches_it(tmp_path):
    marker = tmp_path / "ran"
    code = (f"import time; from pathlib import Path; time.sleep(3); "
            f"Path({str(marker)!r}).write_text('not stopped')")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", SUPERVISOR_SIGNAL_IN_POPEN, code], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert time.monotonic() - t0 < supervise.GRACE_S - 1  # by SIGTERM, not the SIGKILL deadline
    time.sleep(3.5)
    assert not marker.exists()


def test_a_watchdog_that_does_not_start_keeps_the_command_from_running(tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.setattr(supervise, "_WATCHDOG", "import sys; sys.exit(0)")
    marker = tmp_path / "ran"
    code = f"from pathlib import Path; Path({str(marker)!r}).write_text('ran')"
    assert supervise.supervise([sys.executable, "-c", code]) == 1
    assert "watchdog did not start; the command was not run" in capsys.readouterr().err
    assert not marker.exists()


def test_sigkill_of_the_supervisor_leaves_nothing_behind():
    proc, pids = _start_tree()
    proc.kill()
    proc.wait()
    # The watchdog notices within POLL_S, then SIGTERM, GRACE_S, SIGKILL.
    assert _alive(pids, supervise.GRACE_S + 5) == []


def test_normal_exit_returns_the_code_and_kills_leftovers():
    leftover = ("import subprocess, sys; subprocess.Popen([sys.executable, '-c', "
                "'import time; time.sleep(600)']); print('started', flush=True); sys.exit(3)")
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR, leftover], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    kids = _descendants(proc.pid, 3, 10)
    assert proc.wait(timeout=20) == 3
    assert _alive([k.pid for k in kids], 1) == []


def test_a_killed_command_is_reported_in_one_line():
    """The supervised command killed by a signal nobody forwarded (the OOM killer's SIGKILL):
    exit 128 + 9 and one line saying so."""
    proc = subprocess.run([sys.executable, "-c", SUPERVISOR,
                           "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 128 + 9
    assert proc.stderr.strip().splitlines() == [
        "diffml: the command was killed by SIGKILL; every process of it has ended"]


def _long_run_config(tmp_path: Path) -> Path:
    raw = yaml.safe_load((CONFIGS / "small.yaml").read_text())
    raw["output_root"] = str(tmp_path / "runs")
    raw["dataset_root"] = str(tmp_path / "datasets")
    raw["dask"]["processes"] = True
    for s in raw["scenarios"]:
        s["training"]["epochs"] = 100_000
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_diffml_run_killed_mid_run_leaves_no_process(tmp_path, sig):
    """A real ``diffml run`` with a temporary Prefect server and Dask process workers: all its
    sockets listen on loopback; 10 s after SIGTERM or SIGKILL no descendant is left."""
    diffml = Path(sys.executable).parent / "diffml"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PREFECT_API") and k != supervise.ENV_FLAG}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
    proc = subprocess.Popen([str(diffml), "run", str(_long_run_config(tmp_path))], cwd=tmp_path,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 150
        kids: list[psutil.Process] = []
        while time.monotonic() < deadline:
            kids = psutil.Process(proc.pid).children(recursive=True)
            # The Prefect server (uvicorn) and the two Dask worker processes are up.
            lines = [_cmdline(k) for k in kids]
            if (any("uvicorn" in c for c in lines)
                    and sum("spawn_main" in c for c in lines) >= 2):
                break
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.5)
        else:
            pytest.fail(f"the run did not start its server and workers: {kids}")
        time.sleep(3)  # into simulation/training
        kids = psutil.Process(proc.pid).children(recursive=True)
        listening = [c.laddr for p in [psutil.Process(proc.pid), *kids]
                     for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        assert listening and all(a.ip == "127.0.0.1" for a in listening), listening
        proc.send_signal(sig)
        proc.wait(timeout=30)
        assert _alive([k.pid for k in kids], 10) == []
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_folder_named_like_a_package_in_the_working_directory_does_not_shadow_it(tmp_path):
    """The supervised command runs as ``python -P -m pipeline.cli``: a ``data/`` or
    ``training/`` folder where the user runs ``diffml`` (a dataset root, say) is not imported in
    place of the package (``-m`` alone puts the working directory first on ``sys.path``, and the
    editable install's finder comes after it)."""
    for name in ("data", "training", "evaluation", "simulators"):
        (tmp_path / name).mkdir()
    cfg = {"name": "shadow", "seed": 1, "output_root": str(tmp_path / "runs"),
           "dataset_root": str(tmp_path / "data"),
           "scenarios": [{"id": "bs", "model": {"type": "BlackScholes", "vol": 0.2},
                          "product": {"type": "European", "strike": 1.0, "maturity": 1.0},
                          "sampler": {"type": "UniformSampler", "low": 0.5, "high": 1.5},
                          "training": {"sizes": [64], "seeds": [0], "epochs": 1},
                          "test": {"n": 10, "low": 0.6, "high": 1.4}}]}
    path = tmp_path / "shadow.yaml"
    path.write_text(yaml.safe_dump(cfg))
    diffml = Path(sys.executable).parent / "diffml"
    env = {k: v for k, v in os.environ.items() if k != supervise.ENV_FLAG}
    res = subprocess.run([str(diffml), "simulate", str(path)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_signal_while_the_watchdog_starts_leaves_no_watchdog(tmp_path, monkeypatch, capsys):
    """The supervisor in this process, a watchdog slow to say it is ready, and a SIGTERM while
    it waits: no command runs, exit 143, and the watchdog is gone when supervise returns."""
    import threading

    monkeypatch.setattr(supervise, "_WATCHDOG",
                        "import sys, time\ntime.sleep(3)\nsys.stdout.write('ready\\n')\n")
    marker = tmp_path / "ran"
    code = f"from pathlib import Path; Path({str(marker)!r}).write_text('ran')"
    before = {c.pid for c in psutil.Process().children()}  # other tests' processes
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    t0 = time.monotonic()
    assert supervise.supervise([sys.executable, "-c", code]) == 128 + signal.SIGTERM
    assert time.monotonic() - t0 < 2.5  # the wait ended with the signal, not the watchdog
    assert "stopped by SIGTERM" in capsys.readouterr().err
    assert [c for c in psutil.Process().children()
            if c.pid not in before and c.status() != psutil.STATUS_ZOMBIE] == []
    assert not marker.exists()


def _state(pid: int) -> str:
    return psutil.Process(pid).status()


def _wait_state(pids: list[int], states: set[str], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_state(p) in states for p in pids):
            return True
        time.sleep(0.05)
    return False


def test_ctrl_z_stops_the_command_with_the_supervisor_and_fg_resumes_it():
    """SIGTSTP reaches the terminal's foreground group (the supervisor's) only: the command's
    group must stop with it, and continue when the supervisor does."""
    proc, pids = _start_tree()
    try:
        proc.send_signal(signal.SIGTSTP)
        assert _wait_state([proc.pid, *pids], {psutil.STATUS_STOPPED}), \
            [(p, _state(p)) for p in pids]
        proc.send_signal(signal.SIGCONT)
        assert _wait_state([proc.pid, *pids], {psutil.STATUS_SLEEPING, psutil.STATUS_RUNNING})
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=supervise.GRACE_S + 5)
    assert _alive(pids, 1) == []


def test_the_command_writes_to_a_terminal_with_tostop():
    """Under ``stty tostop`` a background group's first write to the terminal stops it
    (SIGTTOU): the command, in a group of its own, must still print and end."""
    import pty
    import select
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the session leader of a new terminal, in its foreground group
        code = 70
        try:
            attrs = termios.tcgetattr(0)
            attrs[3] |= termios.TOSTOP
            termios.tcsetattr(0, termios.TCSANOW, attrs)
            os.chdir(ROOT)
            code = supervise.supervise([sys.executable, "-c", "print('written')"])
        finally:
            os._exit(code)
    out, deadline = b"", time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # EIO: the terminal's last user has gone
                break
            if not chunk:
                break
            out += chunk
        elif os.waitpid(pid, os.WNOHANG) != (0, 0):
            break
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(f"the supervised command hung on the terminal; got {out!r}")
    os.close(fd)
    assert b"written" in out


def test_a_killed_watchdog_is_replaced():
    proc, pids = _start_tree()
    try:
        dog = next(p for p in psutil.Process(proc.pid).children()
                   if "-S" in p.cmdline() and "-E" in p.cmdline())
        group = os.getpgid(dog.pid)
        dog.kill()
        deadline = time.monotonic() + 10
        new = []
        while time.monotonic() < deadline and not new:
            new = [p for p in psutil.Process(proc.pid).children()
                   if p.pid != dog.pid and "-S" in p.cmdline() and "-E" in p.cmdline()
                   and p.status() != psutil.STATUS_ZOMBIE]
            time.sleep(0.1)
        assert new and os.getpgid(new[0].pid) == group
        others = [p for p in pids if p != dog.pid]
        proc.kill()  # the new watchdog cleans up after a SIGKILL of the supervisor
        proc.wait()
        assert _alive(others + [new[0].pid], supervise.GRACE_S + 5) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
