"""What a killed command leaves and what serve accepts: work folders of train / pinn commands
killed by SIGKILL, a model they had set aside, cron schedules and deployment names."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import data
from pipeline.cli import _sweep_work, _work_folder, app

runner = CliRunner()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _work(output, prefix, pid):
    path = output / f"{prefix}.tmp-{pid}@{data.process_space()}-work"
    (path / "models").mkdir(parents=True)
    return path


def test_a_killed_commands_work_folder_is_removed_and_its_set_aside_model_put_back(tmp_path):
    out = tmp_path / "out"
    models = out / "models"
    dead = _work(out, ".pinn-bs", _dead_pid())
    (dead / "replaced-bs-pinn").mkdir()  # the previous PINN, set aside when the kill came
    (dead / "replaced-bs-pinn" / "weights.pt").write_text("old")
    also = _work(out, ".pinn-bs", _dead_pid())
    (also / "replaced-other-pinn").mkdir()  # its place is taken again: not put back
    (models / "other-pinn").mkdir(parents=True)
    live = _work(out, ".pinn-bs", os.getpid())  # a running command's: untouched
    other_scenario = _work(out, ".pinn-heston", _dead_pid())
    legacy = out / f".pinn-bs-{_dead_pid()}"  # the name older versions gave it
    (legacy / "models").mkdir(parents=True)
    _sweep_work(out, ".pinn-bs", models)
    assert (models / "bs-pinn" / "weights.pt").read_text() == "old"
    assert not dead.exists() and not also.exists() and not legacy.exists()
    assert live.is_dir() and other_scenario.is_dir()
    new = _work_folder(out, ".pinn-bs")  # a fresh folder, never a live or dead one's
    assert new.is_dir() and new not in (live, dead, also)
    assert new.name.startswith(f".pinn-bs.tmp-{os.getpid()}@{data.process_space()}-")
    os.rmdir(new)
    pid = _dead_pid()
    os.rename(live, out / live.name.replace(f"-{os.getpid()}@", f"-{pid}@"))
    _sweep_work(out, ".pinn-bs", models)  # once its process has gone, a random suffix too
    assert not list(out.glob(".pinn-bs.*"))


@pytest.mark.parametrize("cron", ["* * * * * *", "*/5 * * * * *", "@daily", "0 2 * *"])
def test_serve_refuses_a_cron_that_is_not_five_fields(small_config, cron):
    res = runner.invoke(app, ["serve", str(small_config), "--cron", cron])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        "error: --cron: must be a cron schedule of five fields (minute hour day month weekday, "
        f"UTC), e.g. '0 2 * * *'; got {cron!r}"]


@pytest.mark.parametrize("name", ["bad/name", "50%", "a&b", "a>b", "a<b", "", "  "])
def test_serve_refuses_a_bad_deployment_name(small_config, name):
    """Prefect's own banned characters (prefect.types.names.BANNED_CHARACTERS)."""
    from prefect.types.names import BANNED_CHARACTERS

    res = runner.invoke(app, ["serve", str(small_config), "--name", name])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        "error: --name: a deployment name, not empty and without any of / % & > <; got "
        f"{name!r}"]
    assert set(BANNED_CHARACTERS) <= set("/%&><")


def test_report_of_a_file_says_it_is_a_file(tmp_path):
    f = tmp_path / "metrics.json"
    f.write_text("{}")
    res = runner.invoke(app, ["report", str(f)])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        f"error: {f} is not a run directory (a file, not a directory)"]
    res = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "(no such directory)" in res.output

