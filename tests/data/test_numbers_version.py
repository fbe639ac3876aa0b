"""Datasets record the random-number algorithms: a change regenerates instead of reusing."""

import dataclasses
import json

import pytest

import data
import simulators
from tests.data._helpers import bs_spec


def _backends_simulated(monkeypatch) -> list[str]:
    """Spy on ``simulators.simulate``: the list fills with each call's backend, in order."""
    calls: list[str] = []
    real = simulators.simulate

    def spy(*args, **kwargs):
        calls.append(kwargs["backend"])
        return real(*args, **kwargs)

    monkeypatch.setattr(simulators, "simulate", spy)
    return calls


def test_numbers_version_enters_the_hash(monkeypatch):
    spec = bs_spec(n_paths=100, seed=1)
    before = spec.hash
    assert spec.identity()["numbers"] == simulators.NUMBERS_VERSION
    monkeypatch.setattr(simulators.rng, "NUMBERS_VERSION", "philox4x32-10/box-muller/0")
    assert spec.hash != before


def test_gpu_numbers_hash_apart_from_cpu_numbers():
    """A CUDA device fuses multiply-adds and takes exp/log from libdevice: its last bits differ,
    so a GPU dataset never shares a hash (and so a directory or its parts) with a CPU one."""
    cpu = bs_spec(n_paths=100, seed=1)
    gpu = cpu.replace(backend="gpu")
    assert cpu.identity()["numbers"] == simulators.NUMBERS_VERSION  # CPU hashes unchanged
    assert gpu.identity()["numbers"] == simulators.NUMBERS_VERSION + "/cuda"
    assert gpu.hash != cpu.hash and gpu.dirname != cpu.dirname
    assert data.DatasetSpec.from_dict(gpu.to_dict()).hash == gpu.hash
    with pytest.raises(ValueError, match="'backend' argument of numbers_id must be 'cpu' or "
                                         "'gpu'. Got 'auto'"):
        simulators.numbers_id("auto")


def test_auto_hashes_as_the_backend_it_resolves_to(monkeypatch):
    import data.spec as spec_module

    cpu = bs_spec(n_paths=100, seed=1)
    auto = cpu.replace(backend="auto")
    monkeypatch.setattr(spec_module, "_auto_backend", lambda: "cpu")
    assert auto.hash == cpu.hash
    monkeypatch.setattr(spec_module, "_auto_backend", lambda: "gpu")
    assert auto.hash == cpu.replace(backend="gpu").hash


def test_generate_resolves_auto_once_and_records_the_backend(tmp_path, monkeypatch):
    """The workers get the resolved backend, so every part holds the numbers the hash names;
    the manifest and the part sidecars record it."""
    import data.spec as spec_module

    monkeypatch.setattr(spec_module, "_auto_backend", lambda: "cpu")
    seen = _backends_simulated(monkeypatch)
    spec = bs_spec(n_paths=100, seed=3).replace(backend="auto", chunk_paths=40)
    path = data.generate(spec, root=tmp_path)
    assert seen == ["cpu"] * 3
    manifest = json.loads((path / data.MANIFEST).read_text())
    assert manifest["backend"] == "cpu" and manifest["numbers"] == simulators.NUMBERS_VERSION
    assert path.name == bs_spec(n_paths=100, seed=3).dirname


def test_a_gpu_sample_does_not_match_a_cpu_spec():
    """``write_dataset`` of a sample made on the GPU under a CPU spec is refused by field."""
    from data.writer import _check_sample

    spec = bs_spec(n_paths=8, seed=4)
    s = simulators.simulate(spec.model, spec.product, spec.sampler, n_paths=8, seed=4)
    gpu = dataclasses.replace(s, backend="gpu")
    assert gpu.metadata()["numbers"] == simulators.NUMBERS_VERSION + "/cuda"
    _check_sample(s, spec)
    with pytest.raises(ValueError, match="field 'numbers'"):
        _check_sample(gpu, spec)
    _check_sample(gpu, spec.replace(backend="gpu"))


def test_manifest_without_numbers_version_is_refused(tmp_path):
    spec = bs_spec(n_paths=100, seed=2)
    path = data.generate(spec, root=tmp_path)
    manifest = json.loads((path / data.MANIFEST).read_text())
    del manifest["numbers"]
    (path / data.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(data.DatasetError, match="older diffml.*regenerate"):
        data.open_dataset(path)


def _legacy_gpu_dataset(root, monkeypatch, spec):
    """A dataset as a GPU wrote it before GPU numbers hashed apart: the CPU spec's hash
    (numbers without /cuda), parts and manifest recording backend "gpu"."""
    real = simulators.simulate
    with monkeypatch.context() as m:
        m.setattr(simulators, "numbers_id", lambda backend: simulators.NUMBERS_VERSION)

        def on_gpu(*args, **kwargs):
            return dataclasses.replace(real(*args, **{**kwargs, "backend": "cpu"}),
                                       backend="gpu")

        m.setattr(simulators, "simulate", on_gpu)
        path = data.generate(spec.replace(backend="gpu"), root=root)
    assert path.name == spec.dirname
    return path


def test_a_gpu_dataset_from_before_is_not_served_to_a_cpu_spec(tmp_path, monkeypatch):
    """It carries the CPU spec's hash: served as it was, a CPU run would have trained on GPU
    numbers (last bits different). It is regenerated, and none of its parts is reused."""
    spec = bs_spec(n_paths=100, seed=5, chunk_paths=40)
    path = _legacy_gpu_dataset(tmp_path, monkeypatch, spec)
    legacy = json.loads((path / data.MANIFEST).read_text())
    assert legacy["backend"] == "gpu" and legacy["hash"] == spec.hash
    ds = data.open_dataset(path)  # read as what it is: its recorded hash, CPU-hashed numbers
    assert ds.spec.hash == legacy["hash"] and ds.spec.backend == "cpu"
    calls = _backends_simulated(monkeypatch)
    again = data.generate(spec, root=tmp_path)
    manifest = json.loads((again / data.MANIFEST).read_text())
    assert calls == ["cpu"] * 3 and manifest["backend"] == "cpu"
    assert {p["backend"] for p in manifest["parts"]} == {"cpu"}
    calls.clear()
    data.generate(spec, root=tmp_path)  # now it is the CPU's: reused
    assert calls == []


def test_gc_keeps_both_datasets_of_an_auto_spec(tmp_path, monkeypatch):
    """A machine without a GPU must not remove the GPU dataset of the same config."""
    spec = bs_spec(n_paths=60, seed=6, chunk_paths=60)
    cpu = data.generate(spec, root=tmp_path)
    gpu = tmp_path / spec.replace(backend="gpu").dirname
    gpu.mkdir()
    (gpu / "part-00000.parquet").write_bytes(b"x")  # listed as damaged: gc's to remove
    assert data.gc(tmp_path, [spec], dry_run=True) == [gpu]
    assert data.gc(tmp_path, [spec.replace(backend="auto")], dry_run=True) == []
    assert cpu.exists()


@pytest.mark.gpu
def test_on_a_device_gpu_and_auto_datasets_hold_cuda_numbers(tmp_path, monkeypatch):
    """On a CUDA device: backend "gpu" and "auto" name one dataset whose manifest, parts and
    numbers say /cuda, apart from the CPU dataset, and "auto" reuses it; its rows agree with the
    CPU's within 1e-12."""
    import numpy as np

    from simulators.simulate import resolve_backend

    if resolve_backend("auto") != "gpu":
        pytest.skip("no usable CUDA device")
    calls = _backends_simulated(monkeypatch)
    cpu = bs_spec(n_paths=3000, seed=5, chunk_paths=1000)
    gpu = cpu.replace(backend="gpu")
    assert cpu.replace(backend="auto").hash == gpu.hash != cpu.hash
    path = data.generate(gpu, root=tmp_path)
    manifest = json.loads((path / data.MANIFEST).read_text())
    assert manifest["backend"] == "gpu"
    assert manifest["numbers"] == simulators.NUMBERS_VERSION + "/cuda"
    assert {p["backend"] for p in manifest["parts"]} == {"gpu"}
    assert calls == ["gpu"] * 3
    assert data.generate(cpu.replace(backend="auto"), root=tmp_path) == path
    assert calls == ["gpu"] * 3  # reused, not simulated again
    g = data.open_dataset(path).load()
    c = data.open_dataset(data.generate(cpu, root=tmp_path)).load()
    assert calls == ["gpu"] * 3 + ["cpu"] * 3
    np.testing.assert_array_equal(g.x, c.x)
    for a, b in ((g.y, c.y), (g.dydx, c.dydx)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())
