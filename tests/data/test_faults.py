"""Fault injection: killed generation, corrupt, truncated, missing, foreign and extra parts,
missing or edited manifests, NaN values. Each gives a DatasetError naming the file on read, and
find_or_create / a re-run repairs the dataset, reusing every good part."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import data
from tests.data._helpers import assert_repaired, bs_spec, inodes, poison_part, reference

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def made(root):
    """A complete 4-part dataset (parts of 1500, 1500, 1500, 500 rows) and its spec."""
    spec = bs_spec()
    return spec, data.generate(spec, root=root)


def test_flipped_byte_is_caught_on_read_and_repaired(made, root, spy):
    spec, path = made
    before = inodes(path)
    f = path / "part-00001.parquet"
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 3] ^= 0x01
    f.write_bytes(bytes(raw))
    ds = data.open_dataset(path)  # structure intact: same size, readable footer
    with pytest.raises(data.DatasetError, match=r"part-00001\.parquet: SHA-256 .* corrupt"):
        ds.load()
    with pytest.raises(data.DatasetError, match=r"part-00001\.parquet"):
        data.open_dataset(path, verify=False).load()  # page CRC / decoding still refuses it
    with pytest.raises(data.DatasetError, match=r"part-00001\.parquet"):
        ds.verify()
    assert_repaired(spec, root, spy, [1], before)


def test_truncated_part(made, root, spy):
    spec, path = made
    before = inodes(path)
    f = path / "part-00002.parquet"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(data.DatasetError, match=r"part-00002\.parquet: .*truncated"):
        data.open_dataset(path)
    assert_repaired(spec, root, spy, [2], before)


def test_missing_part(made, root, spy):
    spec, path = made
    before = inodes(path)
    (path / "part-00003.parquet").unlink()
    with pytest.raises(data.DatasetError, match=r"part-00003\.parquet: part missing"):
        data.open_dataset(path)
    assert_repaired(spec, root, spy, [3], before)


def test_missing_manifest_reuses_every_part(made, root, spy):
    spec, path = made
    before = inodes(path)
    (path / data.MANIFEST).unlink()
    with pytest.raises(data.DatasetError, match=r"/_manifest\.json: manifest missing"):
        data.open_dataset(path)
    assert [i.status for i in data.list_datasets(root)] == ["damaged"]
    assert_repaired(spec, root, spy, [], before)


def test_foreign_part(made, root, spy, tmp_path):
    spec, path = made
    other = data.generate(spec.replace(seed=8), root=tmp_path / "other")
    before = inodes(path)
    shutil.copy(other / "part-00001.parquet", path / "part-00001.parquet")
    with pytest.raises(data.DatasetError, match=r"part-00001\.parquet: the part belongs to "
                       r"dataset .*foreign"):
        data.open_dataset(path)
    assert_repaired(spec, root, spy, [1], before)


def test_extra_part_is_refused(made):
    _, path = made
    shutil.copy(path / "part-00000.parquet", path / "part-00009.parquet")
    with pytest.raises(data.DatasetError,
                       match=r"part-00009\.parquet: not listed in the manifest; a stray"):
        data.open_dataset(path)


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.update(seed=8), "field 'hash' .* not the SHA-256"),
    (lambda m: m.pop("parts"), "field 'parts' is missing"),
    (lambda m: m.update(schema_version=99), "schema version 99 is not supported"),
    (lambda m: m["parts"][1].update(rows=1499),
     r"parts\[2\] .* expected a non-empty range starting at 2999"),
    (lambda m: m["parts"][0].update(rows=float(m["parts"][0]["rows"])),
     r"parts\[0\] field 'rows' must be an integer >= 0; got 1500\.0"),
    (lambda m: m["parts"][1].update(first_path=True), r"parts\[1\] field 'first_path'"),
    (lambda m: m["parts"][0].update(bytes=str(m["parts"][0]["bytes"])),
     r"parts\[0\] field 'bytes' must be an integer"),
    (lambda m: m["parts"][0].update(seconds="1.5s"), r"parts\[0\] is malformed"),
    (lambda m: m["parts"][0].update(seconds=float("nan")),
     r"parts\[0\] field 'backend' must be text and 'seconds' a finite number >= 0; got 'cpu', "
     r"nan"),
    (lambda m: m["parts"][0].update(sha256=7), r"parts\[0\] field 'sha256' must be 64 hex"),
    (lambda m: m["parts"][0].update(backend=1), r"parts\[0\] field 'backend' must be text"),
])
def test_edited_manifest_is_refused(made, edit, match):
    _, path = made
    m = json.loads((path / data.MANIFEST).read_text())
    edit(m)
    (path / data.MANIFEST).write_text(json.dumps(m))
    with pytest.raises(data.DatasetError, match=r"/_manifest\.json: " + match):
        data.open_dataset(path)


def test_truncated_manifest(made):
    _, path = made
    f = path / data.MANIFEST
    f.write_text(f.read_text()[:100])
    with pytest.raises(data.DatasetError, match="cannot parse the manifest"):
        data.open_dataset(path)


def test_manifest_nested_too_deeply_is_refused_and_repaired(made, root, spy):
    """'[' repeated past the JSON parser's depth: a DatasetError like any damaged manifest,
    not a RecursionError, so that the dataset is found damaged and regenerated."""
    spec, path = made
    (path / data.MANIFEST).write_text("[" * 100_000)
    with pytest.raises(data.DatasetError, match="nested too deeply"):
        data.open_dataset(path)
    again = data.generate(spec, root=root)
    assert again == path and len(data.open_dataset(path)) == spec.n_paths


def test_nan_in_a_part_is_refused(made):
    _, path = made
    poison_part(path, 2, "y", 7, np.nan)
    ds = data.open_dataset(path)
    with pytest.raises(data.DatasetError,
                       match=r"part-00002\.parquet: column 'y' holds a non-finite value "
                             r"\(nan\) at path_id 3007"):
        ds.load()


def test_writer_refuses_non_finite(root):
    spec = bs_spec(n_paths=100)
    sample = reference(spec)
    sample.dydx[5, 0] = np.inf
    with pytest.raises(data.DatasetError, match="column 'dydx_spot' holds a non-finite value"):
        data.write_dataset(sample, root=root, spec=spec)
    assert data.list_datasets(root) == []


KILL_SCRIPT = """
import sys, time
import data
from tests.data._helpers import bs_spec

def slow(event):
    print(event.parts_done, flush=True)
    time.sleep(0.2 if event.parts_done < 3 else 120)  # killed while waiting here

data.generate(bs_spec(n_paths=20000, chunk_paths=2000), root=sys.argv[1], progress=slow)
"""


def test_sigkill_mid_generation_then_resume(root, spy):
    spec = bs_spec(n_paths=20000, chunk_paths=2000)
    log = root.parent / "child.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(root)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            for line in proc.stdout:
                if int(line) >= 3:
                    break
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, log.read_text()[-3000:]
    # nothing looks complete: no dataset directory, a hidden work directory with some parts
    assert not (root / spec.dirname).exists()
    with pytest.raises(data.DatasetError, match="no such dataset directory"):
        data.open_dataset(root / spec.dirname)
    statuses = {i.status for i in data.list_datasets(root, include_hidden=True)}
    assert "complete" not in statuses and "partial" in statuses
    tmp = root / f".{spec.dirname}.tmp"
    kept = {f.name: f.stat().st_ino for f in tmp.glob("part-*.parquet")
            if (tmp / f".{f.name}.json").exists()}
    assert len(kept) == 3

    events = []
    path = data.generate(spec, root=root, progress=events.append)
    reused = {e.part.file for e in events if e.reused}
    assert set(kept) <= reused
    assert len(spy.calls) == 10 - len(reused)
    assert {first for first, _ in spy.calls}.isdisjoint(
        {int(name[5:10]) * 2000 for name in reused})
    assert all((path / name).stat().st_ino == ino for name, ino in kept.items())
    ds = data.open_dataset(path).verify()
    ref = reference(spec)
    assert np.array_equal(ds.x, ref.x) and np.array_equal(ds.dydx, ref.dydx)
    assert sorted(p.name for p in path.iterdir()) == ["_manifest.json"] + [
        f"part-{i:05d}.parquet" for i in range(10)]


def test_resume_keeps_the_interrupted_chunk_size(root, spy):
    spec = bs_spec(n_paths=6000, chunk_paths=1000)
    tmp = root / f".{spec.dirname}.tmp"
    tmp.mkdir(parents=True)
    (tmp / ".plan.json").write_text(json.dumps({"hash": spec.hash, "chunk_paths": 1000}))
    gen = importlib.import_module("data.generate")  # the module, shadowed by the function
    gen.simulate_chunk(spec, 0, 0, 1000, 6, str(tmp))
    gen.simulate_chunk(spec, 4, 4000, 1000, 6, str(tmp))
    (tmp / "part-00002.parquet").write_bytes(b"half-written garbage")  # no sidecar
    spy.calls.clear()
    path = data.generate(spec, chunk_paths=2500, root=root)
    assert sorted(spy.calls) == [(1000, 1000), (2000, 1000), (3000, 1000), (5000, 1000)]
    assert len(data.open_dataset(path).parts) == 6


def test_exception_mid_generation_leaves_no_dataset_and_resumes(root, monkeypatch):
    import simulators as sim

    spec = bs_spec()
    want = reference(spec).y
    real = sim.simulate
    calls = []

    def failing(*args, **kwargs):
        calls.append(kwargs["first_path"])
        if len(calls) == 3:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(sim, "simulate", failing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        data.generate(spec, root=root)
    assert not (root / spec.dirname).exists()
    calls.clear()
    monkeypatch.setattr(sim, "simulate", lambda *a, **k: (calls.append(k["first_path"]),
                                                          real(*a, **k))[1])
    ds = data.find_or_create(spec, root)
    assert calls == [3000, 4500]
    assert np.array_equal(ds.y, want)


def test_concurrent_find_or_create_simulates_once(root, spy):
    from concurrent.futures import ThreadPoolExecutor

    spec = bs_spec()
    with ThreadPoolExecutor(3) as pool:
        paths = list(pool.map(lambda _: data.find_or_create(spec, root).path, range(3)))
    assert len(set(paths)) == 1
    assert sorted(spy.calls) == [(0, 1500), (1500, 1500), (3000, 1500), (4500, 500)]


def test_foreign_manifest_and_parts_are_not_reused(made, root, spy, tmp_path):
    spec, path = made
    other = data.generate(spec.replace(seed=8), root=tmp_path / "other")
    for f in other.iterdir():  # replace the whole content by another dataset's
        shutil.copy(f, path / f.name)
    with pytest.raises(data.DatasetError, match="foreign manifest"):
        data.open_dataset(path)
    assert_repaired(spec, root, spy, [0, 1, 2, 3], {})


def test_flipped_bytes_anywhere_never_give_silent_wrong_data(root):
    """Flip one byte at 150 positions spread over a part: even without SHA-256 verification,
    every read either raises DatasetError or returns exactly the original numbers (a flip in
    bytes no reader uses, such as writer strings)."""
    spec = bs_spec(n_paths=3000, chunk_paths=1000)
    path = data.generate(spec, root=root)
    ref = data.open_dataset(path).load()
    f = path / "part-00001.parquet"
    orig = f.read_bytes()
    outcomes = {"error": 0, "identical": 0}
    for pos in range(0, len(orig), max(1, len(orig) // 150)):
        raw = bytearray(orig)
        raw[pos] ^= 0x10
        f.write_bytes(bytes(raw))
        with pytest.raises(data.DatasetError, match=r"part-00001\.parquet"):
            data.open_dataset(path).load()  # default: checksum verified
        try:
            ds = data.open_dataset(path, verify=False).load()
        except data.DatasetError as exc:
            assert "part-00001.parquet" in str(exc)
            outcomes["error"] += 1
            continue
        assert np.array_equal(ds.x, ref.x) and np.array_equal(ds.y, ref.y), pos
        assert np.array_equal(ds.dydx, ref.dydx), pos
        outcomes["identical"] += 1
    assert outcomes["error"] > 0.8 * sum(outcomes.values())
