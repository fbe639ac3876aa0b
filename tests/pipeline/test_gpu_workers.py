"""``dask.gpu_workers``: one process worker per GPU, each seeing only its own device.

The cluster itself needs no GPU to start: with ``CUDA_VISIBLE_DEVICES=0,1`` set, two workers come
up here and each must see exactly its own id. On a device, ``benchmarks/gpu_dask.py`` runs a
dataset through such a cluster (docs/gpu.md)."""

from __future__ import annotations

import logging
import os

import pytest

from pipeline import cluster
from pipeline.config import DaskSettings


@pytest.mark.parametrize("listed, expected", [
    ("0,1", ["0", "1"]), (" 2 , 3", ["2", "3"]), ("1,-1,2", ["1"]), ("", []),
    ("GPU-8a1b", ["GPU-8a1b"]), ("0, 1 ,abc,2", ["0", "1"]), ("0,0,1", ["0", "1"]),
])
def test_visible_gpus_reads_cuda_visible_devices(monkeypatch, listed, expected):
    monkeypatch.setattr(cluster, "_driver_device_count", lambda: None)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", listed)
    assert cluster.visible_gpus() == expected


def test_visible_gpus_never_exceed_what_the_driver_shows(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7,3")
    monkeypatch.setattr(cluster, "_driver_device_count", lambda: 1)
    assert cluster.visible_gpus() == ["7"]
    monkeypatch.setattr(cluster, "_driver_device_count", lambda: 0)
    assert cluster.visible_gpus() == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setattr(cluster, "_driver_device_count", lambda: 2)
    assert cluster.visible_gpus() == ["0", "1"]


def test_worker_specs_pin_one_gpu_each_on_loopback():
    specs = cluster.gpu_worker_specs(["0", "3"], threads_per_worker=2)
    assert list(specs) == ["gpu-0", "gpu-3"]
    for gpu, spec in zip(("0", "3"), specs.values(), strict=True):
        opts = spec["options"]
        assert opts["env"] == {"CUDA_VISIBLE_DEVICES": gpu}
        assert opts["resources"] == {"GPU": 1} and opts["nthreads"] == 2
        assert opts["host"] == "127.0.0.1" and opts["dashboard_address"].startswith("127.0.0.1:")


def test_no_visible_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(cluster, "_driver_device_count", lambda: None)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(RuntimeError, match="dask.gpu_workers: true, but no CUDA device is visible"):
        cluster.gpu_cluster()


def test_task_runner_builds_the_gpu_cluster():
    runner = cluster.task_runner(DaskSettings(gpu_workers=True, threads_per_worker=1))
    assert runner.cluster_class is cluster.gpu_cluster
    assert runner.cluster_kwargs == {"threads_per_worker": 1}
    assert DaskSettings(gpu_workers=True).worker_processes


def test_each_worker_sees_only_its_gpu(monkeypatch):
    """Two workers for ids 0 and 1 (no device needed to start them): each process sees its own
    id, offers one GPU resource, drops the cancelled-task warnings, and everything listens on
    loopback, over TLS."""
    import psutil
    from distributed import Client

    monkeypatch.setattr(cluster, "_driver_device_count", lambda: None)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with cluster.gpu_cluster() as c, Client(c) as client:
        assert c.scheduler_address.startswith("tls://127.0.0.1:")
        quiet = client.run(lambda: any(  # preloaded dask_setup
            isinstance(f, cluster.CancelledTaskFilter)
            for f in logging.getLogger(cluster.CANCELLED_TASK_LOGGER).filters))
        assert list(quiet.values()) == [True, True]
        seen = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
        info = client.scheduler_info()["workers"]
        me = psutil.Process()
        listening = [k.laddr for p in (me, *me.children(recursive=True))
                     for k in p.net_connections(kind="inet") if k.status == psutil.CONN_LISTEN]
    assert sorted(seen.values()) == ["0", "1"]
    assert {w["name"]: w["resources"] for w in info.values()} == {
        "gpu-0": {"GPU": 1}, "gpu-1": {"GPU": 1}}
    assert listening and all(a.ip == "127.0.0.1" for a in listening), listening


def test_run_without_a_visible_gpu_is_refused_in_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipeline.cli import app

    from .conftest import CONFIGS

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    raw = (CONFIGS / "small.yaml").read_text().replace("backend: cpu", "backend: gpu").replace(
        "dask: {n_workers: 2, threads_per_worker: 1, processes: false}",
        "dask: {gpu_workers: true}")
    path = tmp_path / "gpu.yaml"
    path.write_text(raw)
    result = CliRunner().invoke(app, ["run", str(path), "--output", str(tmp_path / "runs")])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "dask.gpu_workers: true, but no CUDA device is visible" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_a_gpu_backend_or_pinn_device_without_a_gpu_is_refused_before_anything_runs(
        tmp_path, monkeypatch):
    """backend: gpu and a PINN on cuda:1 fail in one line, exit 2, before any file is written
    (they used to pass validation, then fail every scenario with tracebacks); with an existing
    cluster's address the check is the cluster's own (its GPUs are elsewhere)."""
    import yaml
    from typer.testing import CliRunner

    from pipeline.cli import _check_gpus, app
    from pipeline.config import load_config

    from .conftest import CONFIGS

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setattr("torch.cuda.device_count", lambda: 0)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    raw = yaml.safe_load((CONFIGS / "small.yaml").read_text())
    raw["output_root"], raw["dataset_root"] = str(tmp_path / "runs"), str(tmp_path / "data")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    runner = CliRunner()
    for args in (["run", str(path), "--set", "backend=gpu"],
                 ["simulate", str(path), "--set", "backend=gpu"],
                 ["train", str(path), "--scenario", "bs", "--set", "backend=gpu",
                  "--output", str(tmp_path / "models")]):
        result = runner.invoke(app, args)
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert result.exit_code == 2 and len(lines) == 1, (args, result.output)
        assert "backend: 'gpu' needs a CUDA device, and none is visible here" in lines[0]
    result = runner.invoke(app, ["pinn", str(path), "--scenario", "bs", "--set",
                                 "scenarios.bs.pinn.options.device=cuda:1"])
    assert result.exit_code == 2, result.output
    assert ("scenario 'bs', field 'pinn.options.device': 'cuda:1' needs a CUDA device that "
            "torch can see, and it sees 0; use 'cpu'") in result.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()
    cfg = load_config(path, ["backend=gpu", "dask.address=tcp://127.0.0.1:8786"])
    _check_gpus(cfg, None)  # a run on an existing cluster: its GPUs are its own
    import typer

    with pytest.raises(typer.Exit):  # simulate, train, pinn work here, address or not
        _check_gpus(cfg, None, [], cluster=False)
    # dask.gpu_workers concerns only the commands that start the cluster
    result = runner.invoke(app, ["simulate", str(path), "--scenario", "bs", "--set",
                                 "backend=auto", "--set", 'dask={"gpu_workers": true}'])
    assert result.exit_code == 0, result.output


def test_a_listed_but_unusable_gpu_and_a_worker_gpu_index_are_refused(tmp_path, monkeypatch):
    """CUDA_VISIBLE_DEVICES alone does not make the GPU backend usable (no numba-cuda or no
    driver): refused in one line before anything runs, not three tracebacks per scenario.
    With dask.gpu_workers each worker sees its own GPU as cuda:0, so a PINN on 'cuda:1' is
    refused for the commands that start that cluster."""
    import sys

    import typer

    from pipeline import cluster
    from pipeline.cli import _check_gpus
    from pipeline.config import load_config

    from .conftest import CONFIGS

    simulate_module = sys.modules["simulators.simulate"]
    monkeypatch.setattr(cluster, "visible_gpus", lambda: ["0", "1"])
    monkeypatch.setattr(simulate_module, "_gpu_problem", lambda: "no CUDA device is usable")
    cfg = load_config(CONFIGS / "small.yaml", ["backend=gpu"])
    printed = []
    monkeypatch.setattr("pipeline.cli.console.print", lambda *a, **k: printed.append(a[0]))
    with pytest.raises(typer.Exit) as exc:
        _check_gpus(cfg, None, [], cluster=False)
    assert exc.value.exit_code == 2 and len(printed) == 1
    assert "backend: 'gpu' cannot run here: no CUDA device is usable" in printed[0]

    monkeypatch.setattr(simulate_module, "_gpu_problem", lambda: None)
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 2)
    cfg = load_config(CONFIGS / "small.yaml", [
        "backend=gpu", 'dask={"enabled": true, "gpu_workers": true}',
        "scenarios.bs.pinn.options.device=cuda:1"])
    printed.clear()
    with pytest.raises(typer.Exit):
        _check_gpus(cfg, None)
    assert "'cuda:1' names a GPU by index, but with dask.gpu_workers" in printed[0]
    _check_gpus(cfg, None, cluster=False)  # `diffml pinn` runs here, where cuda:1 exists
    _check_gpus(load_config(CONFIGS / "small.yaml", [
        "backend=gpu", 'dask={"enabled": true, "gpu_workers": true}',
        "scenarios.bs.pinn.options.device=cuda"]), None)
