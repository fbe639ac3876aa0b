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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_served_deployment_has_the_cron_schedule_and_runs(tmp_path, small_config):
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_UI_ENABLED": "false",
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    bin_dir = Path(sys.executable).parent
    server = subprocess.Popen([str(bin_dir / "prefect"), "server", "start", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    serve = None
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
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
