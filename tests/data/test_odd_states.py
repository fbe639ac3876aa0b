"""Odd directory states and arguments: hidden Parquet files that other readers' globs count, a
foreign manifest.json, an entry named like ours but of the wrong kind, a damaged work-directory
plan, equal specs that must hash alike, and arguments refused before any work."""

from __future__ import annotations

import importlib
import json
import os
import shutil

import numpy as np
import pytest

import data
import simulators as sim
from data.catalog import _held
from data.manifest import migrate_manifest
from tests.data._helpers import bs_spec, reference


@pytest.fixture
def made(root):
    spec = bs_spec(n_paths=3000, chunk_paths=1000)
    return spec, data.generate(spec, root=root)


@pytest.mark.parametrize("name", ["_extra.parquet", ".hidden.parquet"])
def test_a_hidden_parquet_file_is_a_stray(made, root, name):
    """DuckDB's and polars' ``*.parquet`` globs read hidden names: 4500 rows for a 3000-row
    dataset, so such a file is refused on open and quarantined by generate."""
    import duckdb

    spec, path = made
    shutil.copy(path / "part-00000.parquet", path / name)
    glob = f"{path}/*.parquet"
    assert duckdb.sql(f"select count(*) from '{glob}'").fetchall() == [(4000,)]
    with pytest.raises(data.DatasetError, match=rf"{name}: not listed in the manifest; a stray"):
        data.open_dataset(path)
    data.generate(spec, root=root)
    assert (path / "_quarantine" / name).is_file() and not (path / name).exists()
    assert duckdb.sql(f"select count(*) from '{glob}'").fetchall() == [(3000,)]


def test_a_foreign_manifest_json_is_quarantined_not_deleted(made, root):
    spec, path = made
    notes = '{"my": "own notes"}'
    (path / "manifest.json").write_text(notes)
    with pytest.raises(data.DatasetError, match="manifest.json: not listed in the manifest"):
        data.open_dataset(path)
    data.generate(spec, root=root)
    assert (path / "_quarantine" / "manifest.json").read_text() == notes
    data.open_dataset(path).verify()


def test_an_interrupted_migration_still_finishes(made, root):
    """Both manifests, the version-1 one with the dataset's hash: the leftover of a migration
    killed before its removal, which is no stray and is removed."""
    spec, path = made
    current = json.loads((path / "_manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**current, "schema_version": 1}))
    data.open_dataset(path)  # not a stray
    assert migrate_manifest(path) is True
    assert not (path / "manifest.json").exists()


def test_a_folder_named_like_the_manifest_is_moved_aside(made, root):
    spec, path = made
    (path / "_manifest.json").unlink()
    (path / "_manifest.json").mkdir()
    (path / "_manifest.json" / "note").write_text("x")
    ds = data.generate(spec, root=root)
    assert np.array_equal(data.open_dataset(ds).y, reference(spec).y)
    assert (path / "_quarantine" / "_manifest.json" / "note").read_text() == "x"


def test_a_file_named_like_the_quarantine_is_moved_aside(made, root):
    spec, path = made
    (path / "_quarantine").write_text("not a folder")
    (path / "stray.txt").write_text("s")
    data.generate(spec, root=root)
    assert (path / "_quarantine" / "stray.txt").is_file()
    aside = [p for p in path.iterdir() if p.name.startswith("_quarantine.displaced-")]
    assert len(aside) == 1 and aside[0].read_text() == "not a folder"


@pytest.mark.parametrize("bad", [0, -5, 10**9, 3.5, True, "1000", None])
def test_a_damaged_plan_does_not_block_the_resume(root, spy, bad):
    spec = bs_spec(n_paths=3000, chunk_paths=1000)
    tmp = root / f".{spec.dirname}.tmp"
    tmp.mkdir(parents=True)
    gen = importlib.import_module("data.generate")  # the module, shadowed by the function
    gen.simulate_chunk(spec, 0, 0, 1000, 3, str(tmp))
    (tmp / ".plan.json").write_text(json.dumps({"hash": spec.hash, "chunk_paths": bad}))
    spy.calls.clear()
    path = data.generate(spec, root=root)
    assert sorted(spy.calls) == [(1000, 1000), (2000, 1000)]  # part 0 reused, chunk from it
    assert np.array_equal(data.open_dataset(path).y, reference(spec).y)


def test_a_name_with_a_trailing_newline_is_refused():
    with pytest.raises(ValueError, match="'name' parameter of DatasetSpec"):
        bs_spec(name="bs\n")


def test_minus_zero_hashes_as_zero():
    a = bs_spec(model=sim.BlackScholes(vol=0.2, rate=-0.0))
    b = bs_spec(model=sim.BlackScholes(vol=0.2, rate=0.0))
    assert a == b and a.hash == b.hash and a.dirname == b.dirname


def test_gc_dry_run_on_a_read_only_lock(made, root, monkeypatch):
    """A lock file this process may only read (a read-only store, another user's lock): the
    check that no generation holds it opens it read-only."""
    spec, _ = made
    lock = root / f".{spec.dirname}.lock"
    lock.write_text("")
    opened = []
    real = os.open

    def spy_open(path, flags, *a):
        opened.append(flags)
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, flags, *a)
    monkeypatch.setattr(os, "open", spy_open)
    assert _held(root, spec.dirname) is False
    assert root / spec.dirname in data.gc(root, keep=[], dry_run=True)
    assert opened


def test_arguments_refused_before_any_work(root, spy):
    spec = bs_spec(n_paths=3000, chunk_paths=1000)
    with pytest.raises(TypeError, match="'progress' argument of generate must be callable"):
        data.generate(spec, root=root, progress=5)
    with pytest.raises(TypeError, match="'client' argument of generate"):
        data.generate(spec, root=root, client="x")
    assert spy.calls == [] and not root.exists()
    with pytest.raises(ValueError, match="'precision'"):
        bs_spec(precision=None)
    gen = importlib.import_module("data.generate")
    for args in ((10.0, 3), (True, 1), (10, 2.0)):
        with pytest.raises(TypeError, match="argument of plan_chunks must be an int"):
            gen.plan_chunks(*args)
    with pytest.raises(TypeError, match="'directory' argument of read_manifest"):
        data.read_manifest(None)


def test_reader_arguments(made):
    _, path = made
    ds = data.open_dataset(path)
    with pytest.raises(ValueError, match="at least one column"):
        ds.table(columns=[])
    with pytest.raises(TypeError, match=r"list of column names \(str\). Got None"):
        ds.table(columns=[None])
    with pytest.raises(TypeError, match="'dtype' argument of Dataset.to_torch"):
        ds.to_torch(dtype="float32")
