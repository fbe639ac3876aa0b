"""Bad environment variables: one line naming the variable and exit 2, through the real CLI
(the supervisor and its child) and the checks themselves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import prefect.settings  # noqa: F401 - Prefect's global context, built from the real environment
import pytest

from pipeline import environment

CONFIG = Path(__file__).parent / "configs" / "small.yaml"
DIFFML = str(Path(sys.executable).parent / "diffml")


@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_numba_threads_must_be_a_positive_integer(monkeypatch, value):
    monkeypatch.setenv("NUMBA_NUM_THREADS", value)
    assert environment.numba_threads_error() == (
        f"environment variable NUMBA_NUM_THREADS: must be an integer >= 1; got {value!r}")
    monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
    assert environment.numba_threads_error() is None


def test_an_unwritable_prefect_home_is_named(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("PREFECT_HOME", str(blocker / "home"))
    problem = environment.prefect_settings_error()
    assert problem is not None and problem.startswith(
        f"environment variable PREFECT_HOME: must be a writable directory; got "
        f"{str(blocker / 'home')!r}")


def test_an_api_url_nothing_answers_is_named(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    problem = environment.prefect_api_error(timeout=2.0)
    assert problem is not None and problem.startswith(
        "environment variable PREFECT_API_URL: no Prefect server answers at "
        "'http://127.0.0.1:9/api'")


@pytest.mark.parametrize(("command", "variable", "value", "line"), [
    ("run", "PREFECT_LOGGING_LEVEL", "bogus",
     "error: environment variable PREFECT_LOGGING_LEVEL: Input should be 'DEBUG', 'INFO', "
     "'WARNING', 'ERROR' or 'CRITICAL'; got 'BOGUS'"),
    ("run", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "abc",
     "error: environment variable PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: Input should "
     "be a valid integer, unable to parse string as an integer; got 'abc'"),
    ("simulate", "NUMBA_NUM_THREADS", "0",
     "error: environment variable NUMBA_NUM_THREADS: must be an integer >= 1; got '0'"),
    ("validate", "NUMBA_NUM_THREADS", "0",
     "error: environment variable NUMBA_NUM_THREADS: must be an integer >= 1; got '0'"),
])
def test_the_cli_names_a_bad_variable_in_one_line(tmp_path, command, variable, value, line):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env[variable] = value
    res = subprocess.run([DIFFML, command, str(CONFIG)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert (res.stdout + res.stderr).strip().splitlines() == [line]


def test_anything_listening_counts_as_an_answer(monkeypatch):
    """Only the connection is probed: TLS, credentials and status codes stay Prefect's."""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("PREFECT_API_URL", f"https://127.0.0.1:{server.getsockname()[1]}/api")
        assert environment.prefect_api_error(timeout=2.0) is None


def test_commands_without_prefect_ignore_its_settings(tmp_path):
    """simulate (supervised like run, but without Prefect) works with a bad Prefect setting and
    an unwritable PREFECT_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_LOGGING_LEVEL"] = "bogus"
    env["PREFECT_HOME"] = "/proc/prefect-home"
    res = subprocess.run([DIFFML, "simulate", str(CONFIG), "--scenario", "bs"], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert (tmp_path / "datasets").is_dir()


def test_an_api_behind_a_proxy_is_not_probed(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "https://api.prefect.example:9/api")
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert environment.prefect_api_error(timeout=2.0) is None
