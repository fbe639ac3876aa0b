"""Version-1 datasets (manifest in ``manifest.json``): read and verified as they are, and
migrated in place to ``_manifest.json`` (version 2) by ``generate`` / ``find_or_create`` /
``write_dataset``, atomically, with the same hash, parts and numbers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

import data
from tests.data._helpers import assert_repaired, bs_spec, inodes, reference, to_version_1

PARTS = [f"part-0000{i}.parquet" for i in range(4)]


class Crash(BaseException):
    """Stands for the process being killed at the point where it is raised."""


@pytest.fixture
def v1(root):
    """A complete version-1 dataset of ``bs_spec()`` (4 parts): spec, directory, manifest."""
    spec = bs_spec()
    path = data.generate(spec, root=root)
    return spec, path, to_version_1(path)


def _snapshot(path: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every entry of ``path``, by name."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in path.iterdir()}


def _assert_same_numbers(ds: data.Dataset, want) -> None:
    for name in ("x", "y", "dydx", "path_id"):
        got, expected = getattr(ds, name), getattr(want, name)
        assert got.dtype == expected.dtype and np.array_equal(got, expected), name


def _assert_migrated(path: Path, old: dict, spec: data.DatasetSpec) -> dict:
    """``path`` holds ``_manifest.json`` (version 2) and the parts, nothing else; the manifest
    is the version-1 one but for the version and the migration record."""
    assert sorted(p.name for p in path.iterdir()) == ["_manifest.json", *PARTS]
    new = json.loads((path / "_manifest.json").read_text())
    assert new["schema_version"] == data.SCHEMA_VERSION == 2
    record = new.pop("migrated")
    assert record["from_schema_version"] == 1 and record["utc"].endswith("Z")
    assert {**new, "schema_version": 1} == old
    assert new["hash"] == spec.hash and path.name == spec.dirname
    return new


def test_version_1_is_read_and_verified_without_change(v1, root):
    spec, path, old = v1
    before = _snapshot(path)
    assert sorted(before) == ["manifest.json", *PARTS]
    ds = data.open_dataset(path).verify()
    assert ds.manifest == old and ds.manifest["schema_version"] == 1
    assert ds.hash == spec.hash and ds.spec == spec
    _assert_same_numbers(ds, reference(spec))
    assert data.read_manifest(path) == old
    assert data.find_manifest(path) == path / "manifest.json"
    [info] = data.list_datasets(root)
    assert info.status == "complete" and info.hash == spec.hash and info.n_paths == 5000
    assert data.gc(root, keep=[spec], dry_run=False) == []
    assert _snapshot(path) == before  # reading, listing and gc leave it as it is


def test_find_or_create_migrates_in_place(v1, root, spy):
    spec, path, old = v1
    with pytest.raises(pa.ArrowInvalid):  # why version 2 exists: other readers fail on it
        pads.dataset(path).count_rows()
    want = data.open_dataset(path).load()
    parts = inodes(path)
    ds = data.find_or_create(spec, root)
    assert ds.path == path and spy.calls == []
    new = _assert_migrated(path, old, spec)
    assert ds.manifest == {**new, "migrated": ds.manifest["migrated"]}
    assert inodes(path) == parts  # the parts are the same files
    assert ds.hash == want.hash == spec.hash and ds.parts == want.parts
    _assert_same_numbers(ds.verify(), want)
    assert pads.dataset(path).count_rows() == spec.n_paths
    again = _snapshot(path)
    data.find_or_create(spec, root)  # nothing left to do
    assert _snapshot(path) == again and spy.calls == []


@pytest.mark.parametrize("how", ["generate", "write_dataset"])
def test_generate_and_write_dataset_migrate(v1, root, spy, how):
    spec, path, old = v1
    if how == "generate":
        assert data.generate(spec, root=root, verify=False) == path
        assert spy.calls == []
    else:
        assert data.write_dataset(reference(spec), root, spec) == path
    _assert_migrated(path, old, spec)
    _assert_same_numbers(data.open_dataset(path), reference(spec))


def test_crash_after_writing_the_new_manifest_leaves_a_readable_dataset(v1, root, spy,
                                                                        monkeypatch):
    spec, path, old = v1
    unlink = Path.unlink

    def crash_on_old_manifest(self, *args, **kwargs):
        if self.name == "manifest.json":
            raise Crash
        return unlink(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", crash_on_old_manifest)
    with pytest.raises(Crash):
        data.find_or_create(spec, root)
    monkeypatch.undo()
    assert sorted(p.name for p in path.iterdir()) == ["_manifest.json", "manifest.json", *PARTS]
    ds = data.open_dataset(path).verify()  # the old manifest is not a stray
    assert ds.manifest["schema_version"] == 2 and ds.hash == spec.hash
    _assert_same_numbers(ds, reference(spec))
    assert [i.status for i in data.list_datasets(root)] == ["complete"]
    migrated = (path / "_manifest.json").read_bytes()
    data.find_or_create(spec, root)  # finishes the migration: removes manifest.json
    _assert_migrated(path, old, spec)
    assert (path / "_manifest.json").read_bytes() == migrated and spy.calls == []


def test_crash_before_the_new_manifest_is_in_place_leaves_version_1(v1, root, spy, monkeypatch):
    spec, path, old = v1
    replace = os.replace

    def crash_on_new_manifest(src, dst, *args, **kwargs):
        if Path(dst).name == "_manifest.json":
            # what a kill leaves behind: the hidden temporary file, half written
            Path(src).write_bytes(Path(src).read_bytes()[:50])
            os.rename(src, path / "._manifest.json.999-deadbeef.tmp")
            raise Crash
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", crash_on_new_manifest)
    with pytest.raises(Crash):
        data.find_or_create(spec, root)
    monkeypatch.undo()
    assert sorted(p.name for p in path.iterdir()) == [
        "._manifest.json.999-deadbeef.tmp", "manifest.json", *PARTS]
    ds = data.open_dataset(path).verify()
    assert ds.manifest == old
    data.find_or_create(spec, root)  # migrates and removes the leftover
    _assert_migrated(path, old, spec)
    assert spy.calls == []


def test_damaged_version_1_is_repaired_as_version_2(v1, root, spy):
    spec, path, old = v1
    before = inodes(path)
    f = path / "part-00001.parquet"
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 3] ^= 0x01
    f.write_bytes(bytes(raw))
    with pytest.raises(data.DatasetError, match=r"part-00001\.parquet: SHA-256 .* corrupt"):
        data.open_dataset(path).verify()  # checked against the version-1 manifest
    ds = assert_repaired(spec, root, spy, [1], before)
    assert sorted(p.name for p in path.iterdir()) == ["_manifest.json", *PARTS]
    assert ds.manifest["schema_version"] == 2 and "migrated" not in ds.manifest
    assert ds.hash == old["hash"]


def test_strays_of_a_version_1_dataset_are_quarantined_but_not_its_manifest(v1, root):
    spec, path, old = v1
    (path / "notes.txt").write_text("not data")
    with pytest.raises(data.DatasetError, match=r"notes\.txt: not listed in the manifest"):
        data.open_dataset(path)
    data.find_or_create(spec, root)
    assert sorted(p.name for p in (path / data.QUARANTINE).iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in path.iterdir()) == ["_manifest.json", "_quarantine", *PARTS]


@pytest.mark.parametrize("name, version", [("manifest.json", 2), ("_manifest.json", 1)])
def test_file_name_and_version_must_agree(v1, root, spy, name, version):
    spec, path, old = v1
    (path / "manifest.json").unlink()
    (path / name).write_text(json.dumps({**old, "schema_version": version}))
    with pytest.raises(data.DatasetError, match=rf"/{name}: schema version {version} is not "
                       rf"supported in {name} \(this diffml reads version 2 in "
                       r"_manifest\.json and version 1 in manifest\.json\)"):
        data.open_dataset(path)
    ds = data.find_or_create(spec, root)  # repaired: every part is reused
    assert spy.calls == [] and ds.manifest["schema_version"] == 2
    assert sorted(p.name for p in path.iterdir()) == ["_manifest.json", *PARTS]


def test_a_reader_racing_a_migration_reads_the_new_manifest(v1, monkeypatch):
    """The migration completes between a reader's look for ``_manifest.json`` (absent) and its
    reading of ``manifest.json`` (gone by then): the reader takes ``_manifest.json``."""
    from data.manifest import migrate_manifest

    spec, path, old = v1
    read_text = Path.read_text
    raced = []

    def migrate_first(self, *args, **kwargs):
        if self.name == "manifest.json" and not raced:
            raced.append(self)
            assert migrate_manifest(path)
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", migrate_first)
    ds = data.open_dataset(path)
    monkeypatch.undo()
    assert raced and ds.manifest["schema_version"] == 2 and ds.hash == spec.hash
    _assert_migrated(path, old, spec)
    _assert_same_numbers(ds, reference(spec))
