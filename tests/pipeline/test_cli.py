"""CLI conveniences: --version, where `train` writes, datasets ls/gc following the config."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from data.manifest import package_version
from pipeline.cli import app

runner = CliRunner()


def test_version():
    try:
        expected = version("diffml")
    except PackageNotFoundError:  # a checkout on PYTHONPATH, not installed
        expected = "unknown"
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"diffml {expected}"


def test_version_from_a_checkout_that_was_not_installed(monkeypatch):
    """On PYTHONPATH without package metadata, --version says "unknown" instead of a traceback."""
    import importlib.metadata

    real = importlib.metadata.version

    def not_installed(name):
        if name == "diffml":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert package_version() == "unknown"
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == "diffml unknown"


def _basket_only(small_config: Path) -> Path:
    raw = yaml.safe_load(small_config.read_text())
    raw["scenarios"] = [s for s in raw["scenarios"] if s["id"] == "basket"]
    small_config.write_text(yaml.safe_dump(raw, sort_keys=False))
    return small_config


def test_train_writes_the_models_where_the_docs_say(small_config, tmp_path):
    """`diffml train --output DIR` writes DIR/<scenario>-<mode>/ (docs/pipeline.md), no
    DIR/models/ and no work folder left behind."""
    cfg = _basket_only(small_config)
    out = tmp_path / "models"
    res = runner.invoke(app, ["train", str(cfg), "--scenario", "basket", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "basket-differential", "basket-standard"]
    assert (out / "basket-standard" / "config.json").is_file()
    # every number printed with its name: the Greek errors per input
    assert "Greek RMSE: spot_0 " in res.output and "spot_2 " in res.output, res.output
    assert not list(out.glob(".train-*")) and not (out / "models").exists()
    # a second call refuses to replace them (exit 2, one line, nothing trained or touched)...
    notes = out / "basket-standard" / "my_notes.txt"
    notes.write_text("keep")
    res = runner.invoke(app, ["train", str(cfg), "--scenario", "basket", "--output", str(out)])
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [
        f"error: --output: {out / 'basket-standard'} already exists; pass --force to replace "
        "it (and everything in it) or choose another --output"]
    assert notes.read_text() == "keep"
    # ... unless told to (the cache under DIR/.cache is reused)
    res = runner.invoke(app, ["train", str(cfg), "--scenario", "basket", "--output", str(out),
                              "--force"])
    assert res.exit_code == 0, res.output
    assert (out / "basket-differential" / "weights.pt").is_file() and not notes.exists()
    # a file where a model folder goes is refused before training, --force or not
    other = tmp_path / "other"
    other.mkdir()
    (other / "basket-standard").write_text("a file")
    res = runner.invoke(app, ["train", str(cfg), "--scenario", "basket", "--output", str(other),
                              "--force"])
    assert res.exit_code == 2 and "exists and is not a folder" in res.output, res.output
    assert not (other / "basket-differential").exists()


def test_datasets_ls_and_gc_follow_the_config(small_config, tmp_path):
    cfg = _basket_only(small_config)
    root = Path(yaml.safe_load(cfg.read_text())["dataset_root"])
    assert runner.invoke(app, ["simulate", str(cfg)]).exit_code == 0
    sets = ["--set", "scenarios.basket.seed=7"]
    assert runner.invoke(app, ["simulate", str(cfg), *sets]).exit_code == 0
    res = runner.invoke(app, ["datasets", "ls", "--config", str(cfg)])
    assert res.exit_code == 0 and res.output.count("basket-") == 2, res.output
    # without the override, the override's dataset would go; with it, the plain one would
    res = runner.invoke(app, ["datasets", "gc", str(cfg)])
    assert res.exit_code == 0 and "would remove 2 path(s)" in res.output, res.output
    res = runner.invoke(app, ["datasets", "gc", str(cfg), *sets])
    assert res.exit_code == 0 and "would remove 2 path(s)" in res.output, res.output
    assert len([p for p in root.iterdir() if p.is_dir()]) == 2  # a dry run removes nothing


def test_run_summary_fits_80_columns_without_breaking_numbers():
    import re

    from rich.console import Console

    from pipeline.cli import summary_lines, summary_table

    def sc(v, checks=None):
        return {"status": "ok", "stage_seconds": {"train": 12.345},
                "dataset": {"path": "d"}, "reused": {"dataset": True},
                "inputs": ["spot", "variance"],
                "summary": {"m": 131072,
                            "value_rmse": {"standard": {"mean": 6.86e-3 * v},
                                           "differential": {"mean": 1.23e-3 * v}},
                            "value_relative": {"standard": {"mean": 0.0212},
                                               "differential": {"mean": 0.00531}},
                            "greek_rmse": {"differential": {"spot": {"mean": 4.56e-2},
                                                            "variance": {"mean": 12.5}}},
                            "greek_relative": {"differential": {"spot": {"mean": 0.091},
                                                                "variance": {"mean": 0.85}}}},
                "checks": {"results": checks or [{"predictor": "reference",
                                                  "rule": "value ≥ 0", "passed": True,
                                                  "violations": 0, "n": 200}]}}

    bad = {"predictor": "standard", "rule": "dV/dvariance ≥ 0", "passed": False,
           "violations": 17, "n": 200, "worst": -60.2, "at": [62.0, 0.071]}
    metrics = {"run": {"name": "nightly", "status": "partial"},
               "scenarios": {"basket_worst_of_call_netting_xva": sc(1.0),
                             "heston_put": sc(1e3, [bad]),
                             "bs_call": {"status": "failed", "stage_seconds": {},
                                         "summary": None}}}
    console = Console(width=80, record=True, color_system=None)
    console.print(summary_table(metrics))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80, text
    for number in ("6.86e-03", "1.23e-03", "6.86e+00", "0.531%", "131072", "failed",
                   "1 fail", "ok"):
        assert re.search(rf"(?<![\d.e+-]){re.escape(number)}(?![\d])", text), (number, text)
    lines = summary_lines(metrics)
    assert "heston_put (differential) Greek RMSE: delta 0.0456 (9.1%), dV/dvariance 12.5 (85%)" \
        in lines
    assert ("[red]check failed[/red] heston_put, standard: dV/dvariance ≥ 0 at 17 of 200 test "
            "points (worst -60.2 at spot 62, variance 0.071)") in lines


def test_progress_events_from_other_processes_draw_one_table(tmp_path, monkeypatch):
    """Stage events appended by several processes are read back per scenario and stage."""
    import multiprocessing

    from rich.console import Console

    from pipeline import progress

    path = tmp_path / "events.jsonl"
    monkeypatch.setenv(progress.ENV, str(path))
    with progress.stage("bs", "simulate"):
        pass
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=progress.report, args=(f"s{i}", "train", progress.State.START))
             for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    try:
        with progress.stage("bs", "train"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    events = progress.read(path)
    assert events[("bs", "simulate")][0] is progress.State.DONE
    assert events[("bs", "train")][0] is progress.State.FAILED
    assert {events[(f"s{i}", "train")][0] for i in range(4)} == {progress.State.START}
    console = Console(width=80, record=True, color_system=None)
    console.print(progress.table(path, ["bs", "s0", "never"]))
    text = console.export_text()
    assert "done" in text and "failed" in text and "running" in text
    assert text.splitlines()[-1].split()[0] == "never"  # a scenario with no event: all '-'
    monkeypatch.delenv(progress.ENV)
    progress.report("x", "train", progress.State.START)  # no variable: nothing written
    assert ("x", "train") not in progress.read(path)


def _terminal_lines(raw: str) -> list[str]:
    """What a terminal shows of ``raw``, line by line: ANSI codes stripped, each line as left by
    its last carriage return."""
    import re

    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)
    return [line.split("\r")[-1] for line in text.split("\n")]


def test_train_progress_shows_the_fits_and_log_lines_stay_whole(small_config, tmp_path,
                                                                monkeypatch):
    """`diffml train --progress`: a bar over the learning curve's fits (2 modes x 2 seeds) and
    one per fit; a warning logged during a fit prints on a line of its own, above the bars.
    Without --progress and without a terminal nothing is drawn."""
    import io
    import logging

    from rich.console import Console

    from pipeline import cli, steps

    cfg = _basket_only(small_config)
    out = tmp_path / "models"
    screen = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=screen, force_terminal=True, width=120,
                                                color_system=None))
    real, fits = steps.train_step, []

    def noisy(*args, progress=None, **kwargs):
        def hook(m, mode, seed):
            progress(m, mode, seed)
            fits.append((m, mode, seed))
            logging.getLogger("diffml.pipeline").warning("fit m=%d %s seed %d started", m,
                                                         mode, seed)
        return real(*args, progress=hook, **kwargs)

    monkeypatch.setattr(steps, "train_step", noisy)
    res = runner.invoke(app, ["train", str(cfg), "--scenario", "basket", "--output", str(out),
                              "--progress"])
    assert res.exit_code == 0, res.output
    assert fits == [(256, mode, seed) for mode in ("standard", "differential")
                    for seed in (0, 1)]
    lines = _terminal_lines(screen.getvalue())
    for m, mode, seed in fits:
        warned = [li for li in lines if f"fit m={m} {mode} seed {seed} started" in li]
        assert warned, lines
        for li in warned:  # whole: no bar, counter or spinner on the log line
            assert li.lstrip().startswith("WARNING") and "━" not in li and "fits" not in li, li
    assert any("basket: fits (sizes × modes × seeds)" in li and "4/4" in li for li in lines)
    assert any("m=256 standard seed 0: 5 epochs" in li for li in screen.getvalue().split("\r"))
    assert "fits" not in res.stdout and res.stdout.count("m=256 ") == 4  # results on stdout

    screen.seek(0)
    screen.truncate()
    monkeypatch.setattr(cli, "console", Console(file=screen, width=120))  # not a terminal
    res = runner.invoke(app, ["train", str(cfg), "--scenario", "basket", "--output", str(out),
                              "--force"])
    assert res.exit_code == 0, res.output
    assert screen.getvalue() == "" and res.stdout.count("m=256 ") == 4


def test_the_progress_hook_leaves_the_learning_curve_unchanged(small_config, tmp_path):
    from pipeline import steps
    from pipeline.config import load_config

    cfg = load_config(_basket_only(small_config))
    s = cfg.scenario("basket")
    ds = steps.simulate_step(cfg, s)
    curves, calls = [], []
    for name, hook in (("plain", None), ("hooked", lambda *fit: calls.append(fit))):
        run_dir = tmp_path / name / "run"
        (run_dir / "models").mkdir(parents=True)
        ref = steps.reference_step(cfg, s, run_dir)
        res = steps.train_step(cfg, s, ds, ref, run_dir, progress=hook)
        assert not res["reused"]
        curves.append([{k: v for k, v in e.items() if k != "fit_seconds"}
                       for e in res["learning_curve"]])
    assert len(calls) == 4 and curves[0] == curves[1]


def test_datasets_table_fits_80_columns_without_folding_names():
    from rich.console import Console

    from pipeline.cli import datasets_table

    infos = [{"dirname": f"basket7_bachelier_xva-{h}", "n_paths": 1_048_576,
              "model": {"type": "BachelierBasket"}, "product": {"type": "BasketOption"},
              "status": "complete", "size_bytes": 123_456_789} for h in ("1a2b3c4d5e6f",
                                                                         "0f9e8d7c6b5a")]
    console = Console(width=80, record=True, color_system=None)
    console.print(datasets_table([type("I", (), {"to_dict": lambda self, d=d: d})()
                                  for d in infos]))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80, text
    for d in infos:
        assert d["dirname"] in text and "1048576" in text and "123.5" in text, text


def test_unusable_folders_are_refused_before_any_work(small_config, tmp_path):
    """An output or dataset folder that cannot be created or written: one line naming the field
    and the value, exit 2, nothing started (no dataset, no run directory)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cases = [
        (["run", str(small_config), "--set", f"output_root={blocker}"], "output_root"),
        (["run", str(small_config), "--output", str(blocker / "sub")], "--output"),
        (["run", str(small_config), "--set", f"dataset_root={blocker}"], "dataset_root"),
        (["simulate", str(small_config), "--set", f"dataset_root={blocker / 'x'}"],
         "dataset_root"),
        (["train", str(small_config), "--scenario", "bs", "--output", str(blocker)], "--output"),
    ]
    for args, field in cases:
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {field}: must be a "), (
            args, res.output)
        assert "directory" in lines[0], lines
        assert str(blocker) in lines[0], lines
    raw = yaml.safe_load(small_config.read_text())
    assert not Path(raw["dataset_root"]).exists() or not any(Path(raw["dataset_root"]).iterdir())


def test_pinn_writes_where_the_docs_say_and_refuses_to_replace_without_force(small_config,
                                                                             tmp_path):
    """`diffml pinn --output DIR` writes DIR/models/<scenario>-pinn/ (docs/pipeline.md); a
    second call refuses to replace it (exit 2, one line) unless --force."""
    out = tmp_path / "pinn"
    res = runner.invoke(app, ["pinn", str(small_config), "--scenario", "bs", "--output",
                              str(out)])
    assert res.exit_code == 0, res.output
    dst = out / "models" / "bs-pinn"
    assert dst.is_dir() and any(dst.iterdir())
    (dst / "my_notes.txt").write_text("keep")
    res = runner.invoke(app, ["pinn", str(small_config), "--scenario", "bs", "--output",
                              str(out)])
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [
        f"error: --output: {dst} already exists; pass --force to replace it (and everything in "
        "it) or choose another --output"]
    assert (dst / "my_notes.txt").read_text() == "keep"
    # --force with a training that fails: the existing PINN is kept, no work folder is left
    import pipeline.pinn_step

    def boom(*a, **k):
        raise RuntimeError("training stopped")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline.pinn_step, "run", boom)
        res = runner.invoke(app, ["pinn", str(small_config), "--scenario", "bs", "--output",
                                  str(out), "--force"])
    assert res.exit_code == 1 and "training stopped" in res.output, res.output
    assert (dst / "my_notes.txt").read_text() == "keep"
    assert not list(out.glob(".pinn-*"))
    # the final swap fails (the new folder cannot be moved in): the old one is put back
    import os as _os

    real = _os.replace

    def refuse_new(src, dst_, *a, **k):
        if Path(src).parent.name == "models" and Path(src).parent.parent.name.startswith(".pinn-"):
            raise OSError(39, "Directory not empty", str(dst_))
        return real(src, dst_, *a, **k)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("pipeline.cli.os.replace", refuse_new)
        res = runner.invoke(app, ["pinn", str(small_config), "--scenario", "bs", "--output",
                                  str(out), "--force"])
    assert res.exit_code == 1 and "Directory not empty" in res.output, res.output
    assert (dst / "my_notes.txt").read_text() == "keep"
    assert not list(out.glob(".pinn-*"))
    res = runner.invoke(app, ["pinn", str(small_config), "--scenario", "bs", "--output",
                              str(out), "--force"])
    assert res.exit_code == 0, res.output
    assert dst.is_dir() and not (dst / "my_notes.txt").exists()
    assert not list(out.glob(".pinn-*")) and (out / ".cache" / "pinn").is_dir()


def test_a_prefect_server_error_names_where_its_database_is(monkeypatch, tmp_path):
    """An HTTP 500 of the Prefect API (its sqlite database on a full disk) gets a hint naming
    PREFECT_HOME; a 4xx or another error gets none."""
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    from pipeline.cli import _server_hint

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "ph"))

    def error(status: int) -> PrefectHTTPStatusError:
        request = httpx.Request("POST", "http://127.0.0.1:1/api/flow_runs/")
        response = httpx.Response(status, request=request)
        return PrefectHTTPStatusError.from_httpx_error(httpx.HTTPStatusError(
            "Server error", request=request, response=response))

    hint = _server_hint(error(500))
    assert hint.startswith(" (the Prefect server failed") and str(tmp_path / "ph") in hint
    assert _server_hint(error(404)) == "" and _server_hint(OSError("x")) == ""


def test_progress_files_of_killed_runs_are_swept(tmp_path):
    """A run killed by SIGKILL cannot remove its progress file: the next run removes this
    user's files of its own space whose process is gone, and leaves live processes' files,
    another space's (a container sharing /tmp, whose pids mean other processes) and other
    names."""
    import os
    import subprocess
    import sys

    from data import process_space
    from pipeline import progress

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    here = process_space()
    stale = tmp_path / f"{progress.PREFIX}{dead}@{here}-abc.jsonl"
    live = tmp_path / f"{progress.PREFIX}{os.getpid()}@{here}-def.jsonl"
    other_space = tmp_path / f"{progress.PREFIX}{dead}@elsewhere~1~2-ghi.jsonl"
    other = tmp_path / f"{progress.PREFIX}notapid@{here}-x.jsonl"
    for p in (stale, live, other_space, other):
        p.write_text("{}\n")
    assert progress.sweep(tmp_path, here) == [stale]
    assert all(p.exists() for p in (live, other_space, other)) and not stale.exists()
    made = Path(progress.new_file())
    try:
        assert made.name.startswith(f"{progress.PREFIX}{os.getpid()}@{here}-")
        assert made.stat().st_mode & 0o777 == 0o600
    finally:
        made.unlink()
