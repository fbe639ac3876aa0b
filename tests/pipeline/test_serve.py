"""The nightly schedule: `diffml serve` against a real Prefect server (slow: starts a server)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app


def test_serve_refuses_without_a_server(small_config, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    res = CliRunner().invoke(app, ["serve", str(small_config)])
    assert res.exit_code == 2 and "prefect server start" in res.output


def test_serve_refuses_an_output_it_cannot_write_before_serving(small_config, tmp_path,
                                                                 monkeypatch):
    """The same check as `run`, when `serve` starts rather than when the cron fires (no server
    is contacted: the API URL points nowhere and is never reached)."""
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    blocker = tmp_path / "afile"
    blocker.write_text("")
    res = CliRunner().invoke(app, ["serve", str(small_config), "--output", str(blocker / "x")])
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [
        f"error: --output: must be a writable directory; got {str(blocker / 'x')!r} "
        "(Not a directory)"]


def _wait_healthy(port: int, timeout: float = 120.0) -> bool:
    """True once the Prefect API on ``port`` answers its health check (False after timeout)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)
            return True
        except OSError:
            time.sleep(1)
    return False


def _start_server(tmp_path: Path) -> tuple[int, dict[str, str], subprocess.Popen]:
    """A real Prefect server on a free loopback port, in its own session (the caller stops
    it): its port, the environment that points diffml at it, and the process."""
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_UI_ENABLED": "false",
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    prefect = str(Path(sys.executable).parent / "prefect")
    server = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    return port, env, server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_served_deployment_has_the_cron_schedule_and_runs(tmp_path, small_config):
    port, env, server = _start_server(tmp_path)
    bin_dir = Path(sys.executable).parent
    serve = None
    try:
        _wait_healthy(port)
        runs = tmp_path / "served-runs"
        serve = subprocess.Popen([str(bin_dir / "diffml"), "serve", str(small_config), "--cron",
                                  "0 2 * * *", "--name", "test-nightly", "--output", str(runs)],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        prefect = str(bin_dir / "prefect")
        deadline = time.time() + 120
        while time.time() < deadline:
            out = subprocess.run([prefect, "deployment", "inspect",
                                  "diffml-scheduled/test-nightly", "--output", "json"],
                                 env=env, capture_output=True, text=True)
            if out.returncode == 0:
                break
            time.sleep(2)
        assert out.returncode == 0, out.stderr
        schedules = json.loads(out.stdout)["schedules"]
        assert schedules[0]["schedule"]["cron"] == "0 2 * * *"
        subprocess.run([prefect, "deployment", "run", "diffml-scheduled/test-nightly"], env=env,
                       check=True, capture_output=True)
        deadline = time.time() + 400
        while time.time() < deadline and not list(runs.glob("small-*/report.html")):
            time.sleep(3)
        reports = list(runs.glob("small-*/report.html"))
        assert reports, "the served deployment did not produce a run"
        metrics = json.loads((reports[0].parent / "metrics.json").read_text())
        assert metrics["run"]["status"] == "ok"
    finally:
        for proc in (serve, server):
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


def _configs(tmp_path: Path) -> tuple[Path, Path]:
    """An allowed folder with a config, and an outside folder with another."""
    import yaml

    from .conftest import CONFIGS

    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    for folder in (allowed, outside):
        folder.mkdir()
        raw = yaml.safe_load((CONFIGS / "small.yaml").read_text())
        raw["output_root"] = str(folder / "runs")
        raw["dataset_root"] = str(folder / "datasets")
        (folder / "small.yaml").write_text(yaml.safe_dump(raw))
    return allowed, outside


def test_served_runs_read_only_allowed_configs_and_write_under_their_roots(tmp_path):
    from pipeline.config import ConfigError
    from pipeline.schedule import check_request

    allowed, outside = _configs(tmp_path)
    good = allowed / "small.yaml"
    check_request(good, None, ["scenarios.bs.model.vol=0.3"], None, [allowed])
    check_request(good, allowed / "runs" / "today", [], None, [allowed])
    check_request(good, tmp_path / "served", [], None, [allowed], tmp_path / "served")
    check_request(good, None, ["scenarios.bs.pinn.options.device=cuda:1"], None, [allowed])
    # the operator's own serve --set is trusted, a caller's is checked
    mine = ["dask.address=tcp://127.0.0.1:8786"]
    check_request(good, None, mine, None, [allowed], trusted_sets=mine)
    with pytest.raises(ConfigError, match="looks like a path or a URI"):
        check_request(good, None, mine, None, [allowed])
    (allowed / "link.yaml").symlink_to(outside / "small.yaml")
    refused = {
        "config": (outside / "small.yaml", None, [], None),
        "symlink": (allowed / "link.yaml", None, [], None),
        "dotdot": (allowed / ".." / "outside" / "small.yaml", None, [], None),
        "params": (good, None, [], outside / "small.yaml"),
        "output": (good, tmp_path / "elsewhere", [], None),
        "output_root": (good, None, ["output_root=/tmp/x"], None),
        "dataset_root": (good, None, [" dataset_root = /tmp/x"], None),
        "checkpoint_dir": (good, None, ["scenarios.bs.pinn.options.checkpoint_dir=/tmp/x"],
                           None),
        "tracking_uri": (good, None, ["tracking.mlflow.uri=sqlite:////tmp/x.db"], None),
        "tracking_on": (good, None, ["tracking.mlflow.enabled=true"], None),
        "pinned": (good, None, ["regression.pinned=/tmp/run"], None),
    }
    for case, (config, output, sets, params) in refused.items():
        with pytest.raises(ConfigError, match="served run refused") as info:
            check_request(config, output, sets, params, [allowed], tmp_path / "served")
        assert "\n" not in str(info.value), case


def test_served_set_values_that_look_like_places_are_refused(tmp_path, monkeypatch):
    """Defence in depth for free-form fields (PINN options): a --set leaving a path- or URI-like
    string anywhere but a label is refused, whatever the key is called."""
    from pipeline import schedule
    from pipeline.config import ConfigError

    allowed, _ = _configs(tmp_path)

    class Dumped:
        def __init__(self, options):
            self.options = options

        def model_dump(self, mode):
            return {"scenarios": [{"id": "bs", "label": "a: b/c", "pinn": {
                "options": self.options}}]}

    def fake_load(config, sets, params):
        return Dumped({"log": sets[0].split("=", 1)[1]} if sets else {})

    monkeypatch.setattr(schedule, "load_config", fake_load)
    schedule.check_request(allowed / "small.yaml", None, ["x.log=plain"], None, [allowed])
    for value in ("/tmp/x", "..\\x", "s3://bucket", "~/x"):
        with pytest.raises(ConfigError, match="scenarios.bs.pinn.options.log"):
            schedule.check_request(allowed / "small.yaml", None, [f"x.log={value}"], None,
                                   [allowed])
    assert schedule._changed_leaves({"a": [1, 2], "s": [{"id": "k", "v": 1}]},
                                    {"a": [1, 3], "s": [{"id": "k", "v": 2}]}) == [
        ("a.1", 3), ("s.k.v", 2)]


def test_scheduled_flow_enforces_the_allow_list_from_the_environment(tmp_path, monkeypatch):
    """The served flow reads the allow-list from the serving process's environment, which a
    caller of the Prefect API cannot change; a refused request writes nothing."""
    from pipeline.config import ConfigError
    from pipeline.schedule import ALLOW_ENV, scheduled

    allowed, outside = _configs(tmp_path)
    monkeypatch.setenv(ALLOW_ENV, str(allowed))
    with pytest.raises(ConfigError, match="outside the allowed directories"):
        scheduled.fn(str(outside / "small.yaml"))
    with pytest.raises(ConfigError, match="outside the config's output_root"):
        scheduled.fn(str(allowed / "small.yaml"), output=str(outside / "runs"))
    assert not (outside / "runs").exists() and not (outside / "datasets").exists()


def test_serve_refuses_a_config_outside_its_allow_list(tmp_path, monkeypatch):
    allowed, outside = _configs(tmp_path)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    res = CliRunner().invoke(app, ["serve", str(outside / "small.yaml"),
                                   "--allow-dir", str(allowed)])
    assert res.exit_code == 2 and "outside the allowed directories" in res.output
    res = CliRunner().invoke(app, ["serve", str(allowed / "small.yaml"),
                                   "--allow-dir", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "not a directory" in res.output


@pytest.mark.slow
def test_worker_pool_deployment_runs_as_documented(tmp_path, small_config):
    """The four steps of docs/pipeline.md ("Prefect server, UI and the nightly schedule"): a
    server, a process work pool, `prefect deploy` of pipeline/schedule.py:scheduled, a worker;
    a run requested with `prefect deployment run` writes its report. Every process started
    here leads its own process group, and the groups are killed at the end."""
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_UI_ENABLED": "false",
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    repo = Path(__file__).parents[2]
    prefect = str(Path(sys.executable).parent / "prefect")
    project_files = [repo / "prefect.yaml", repo / ".prefectignore"]
    before = [p.exists() for p in project_files]
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        with open(logs / f"{name}.log", "wb") as f:
            proc = subprocess.Popen([prefect, *args], env=env, cwd=repo, stdout=f,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        return proc

    def step(*args: str) -> str:
        res = subprocess.run([prefect, *args], env=env, cwd=repo, capture_output=True,
                             text=True, timeout=180)
        assert res.returncode == 0, (args, res.stdout[-3000:], res.stderr[-3000:])
        return res.stdout

    try:
        start("server", "server", "start", "--host", "127.0.0.1", "--port", str(port))
        if not _wait_healthy(port):
            pytest.fail("the Prefect server did not start: "
                        + (logs / "server.log").read_text(errors="replace")[-2000:])
        step("work-pool", "create", "default", "--type", "process")
        step("--no-prompt", "deploy", "pipeline/schedule.py:scheduled", "--name", "nightly",
             "--cron", "0 2 * * *", "--pool", "default", "--param", f"config={small_config}")
        info = json.loads(step("deployment", "inspect", "diffml-scheduled/nightly",
                               "--output", "json"))
        assert info["work_pool_name"] == "default"
        assert info["schedules"][0]["schedule"]["cron"] == "0 2 * * *"
        assert info["parameters"]["config"] == str(small_config)
        start("worker", "worker", "start", "--pool", "default")
        step("deployment", "run", "diffml-scheduled/nightly")
        runs = tmp_path / "runs"
        deadline = time.time() + 420
        while time.time() < deadline and not list(runs.glob("small-*/report.html")):
            time.sleep(3)
        reports = list(runs.glob("small-*/report.html"))
        assert reports, ("no report from the worker: "
                         + (logs / "worker.log").read_text(errors="replace")[-3000:])
        metrics = json.loads((reports[0].parent / "metrics.json").read_text())
        assert metrics["run"]["status"] == "ok"
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
    assert [p.exists() for p in project_files] == before, "prefect deploy wrote project files"


def test_serve_bad_cron_and_unreachable_api_are_one_line(tmp_path):
    """A bad --cron exits 2 naming it (checked before the server is needed); an API that cannot
    be reached exits 2 with one line naming the variable and the URL (the real CLI, in its own
    process)."""
    allowed, _ = _configs(tmp_path)
    diffml = str(Path(sys.executable).parent / "diffml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    res = subprocess.run([diffml, "serve", str(allowed / "small.yaml"), "--cron", "not a cron"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and (res.stdout + res.stderr).strip().splitlines() == [
        "error: --cron: must be a cron schedule of five fields (minute hour day month weekday, "
        "UTC), e.g. '0 2 * * *'; got 'not a cron'"], (res.stdout, res.stderr)
    env["PREFECT_API_URL"] = "http://127.0.0.1:9/api"  # a port nothing listens on
    res = subprocess.run([diffml, "serve", str(allowed / "small.yaml")], env=env,
                         capture_output=True, text=True, timeout=120)
    lines = (res.stdout + res.stderr).strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, (res.stdout, res.stderr)
    assert lines[0].startswith("error: environment variable PREFECT_API_URL: no Prefect server "
                               "answers at 'http://127.0.0.1:9/api'")


def test_sigterm_stops_serve_in_one_line(tmp_path, small_config):
    """SIGTERM, the way a service manager stops ``diffml serve``, ends it like Ctrl-C: one line
    from the supervisor, no warning of a coroutine never awaited, no traceback (Prefect's runner
    installs a SIGTERM handler of its own that calls sys.exit inside the signal handler)."""
    port, env, server = _start_server(tmp_path)
    bin_dir = Path(sys.executable).parent
    log = tmp_path / "serve.log"
    serve = None
    try:
        assert _wait_healthy(port)
        with open(log, "wb") as sink:
            serve = subprocess.Popen([str(bin_dir / "diffml"), "serve", str(small_config),
                                      "--cron", "0 2 * * *", "--name", "sigterm"], env=env,
                                     stdout=sink, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline and b"is being served" not in log.read_bytes():
            time.sleep(0.5)
        assert b"is being served" in log.read_bytes(), log.read_text()
        serve.send_signal(signal.SIGTERM)  # the supervisor, as a service manager would
        assert serve.wait(timeout=30) == 128 + signal.SIGTERM
        text = log.read_text()
        assert "Traceback" not in text and "never awaited" not in text, text
        assert text.strip().splitlines()[-1] == ("diffml: stopped by SIGTERM; every process of "
                                                 "the command has ended")
    finally:
        for proc in (serve, server):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
