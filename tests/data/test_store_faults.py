"""Faults of the store around a dataset: a read-only store, parts whose content (not bytes) is
bad, stray files, a file where the dataset directory should be, and racing publishers."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads
import pytest

import data
from tests.data._helpers import (
    assert_repaired,
    bs_spec,
    inodes,
    poison_part,
    reference,
    to_version_1,
)


@pytest.fixture
def made(root):
    """A complete 4-part dataset (parts of 1500, 1500, 1500, 500 rows) and its spec."""
    spec = bs_spec()
    return spec, data.generate(spec, root=root)


def _chmod_tree(top: Path, writable: bool) -> None:
    w = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for p in [top, *top.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod((mode | stat.S_IWUSR) if writable else (mode & ~w))


@pytest.fixture
def read_only(monkeypatch):
    """Makes a store read-only: ``chmod -R a-w``; as root (which ignores modes), opening the
    lock file fails with EACCES instead, as it would there."""
    made_read_only = []

    def apply(store: Path) -> None:
        if os.geteuid() == 0:
            def refuse(path):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))

            monkeypatch.setattr(data.writer, "_open_lock", refuse)
        else:
            _chmod_tree(store, writable=False)
            made_read_only.append(store)

    yield apply
    for store in made_read_only:
        _chmod_tree(store, writable=True)


def _copy_store(path: Path, store: Path) -> Path:
    """A copy of the dataset directory ``path`` in a new store (no lock file)."""
    store.mkdir()
    return Path(shutil.copytree(path, store / path.name))


def test_read_only_store_serves_a_complete_dataset(made, tmp_path, read_only, spy):
    spec, path = made
    store = tmp_path / "read-only"
    copy = _copy_store(path, store)
    read_only(store)
    ds = data.find_or_create(spec, store)
    assert ds.path == copy and spy.calls == []
    ref = reference(spec)
    assert np.array_equal(ds.y, ref.y) and np.array_equal(ds.dydx, ref.dydx)
    assert data.generate(spec, root=store) == copy
    assert data.write_dataset(ref, store, spec) == copy
    assert sorted(p.name for p in store.iterdir()) == [copy.name]  # no lock file made


def test_read_only_store_serves_a_version_1_dataset_as_it_is(made, tmp_path, read_only, spy,
                                                              caplog):
    spec, path = made
    store = tmp_path / "read-only"
    copy = _copy_store(path, store)
    old = to_version_1(copy)
    ref = reference(spec)
    spy.calls.clear()
    read_only(store)
    with caplog.at_level(logging.WARNING, logger="data.writer"):
        ds = data.find_or_create(spec, store)
        assert data.write_dataset(ref, store, spec) == copy
    assert ds.path == copy and ds.manifest == old and spy.calls == []
    assert np.array_equal(ds.y, ref.y) and np.array_equal(ds.dydx, ref.dydx)
    assert "left as a version-1 dataset" in caplog.text and "read-only" in caplog.text
    assert sorted(p.name for p in copy.iterdir()) == ["manifest.json"] + [
        f"part-0000{i}.parquet" for i in range(4)]
    assert sorted(p.name for p in store.iterdir()) == [copy.name]  # no lock file made


def test_read_only_store_with_an_incomplete_dataset_gives_one_clear_error(made, tmp_path,
                                                                        read_only):
    spec, path = made
    store = tmp_path / "read-only"
    copy = _copy_store(path, store)
    (copy / "part-00001.parquet").unlink()
    read_only(store)
    with pytest.raises(data.DatasetError, match=rf"{copy.name}: it needs repair \(.*"
                       r"part-00001\.parquet: part missing.*\), but the store .* is read-only"):
        data.find_or_create(spec, store)
    other = spec.replace(seed=8)
    with pytest.raises(data.DatasetError, match=rf"{other.dirname}: it does not exist yet, but "
                       r"the store .* is read-only \(cannot open the lock"):
        data.find_or_create(other, store)
    assert sorted(p.name for p in store.iterdir()) == [copy.name]


@pytest.mark.parametrize("column, row, value, match", [
    ("y", 7, np.nan, r"column 'y' holds a non-finite value \(nan\) at path_id 3007"),
    ("dydx_spot", 0, np.inf, r"column 'dydx_spot' holds a non-finite value \(inf\)"),
    ("path_id", 3, 17, r"column 'path_id' is not the range \[3000, 4500\)"),
])
def test_part_with_bad_content_and_matching_checksum_is_repaired(made, root, spy, column, row,
                                                                  value, match):
    spec, path = made
    poison_part(path, 2, column, row, value)
    before = inodes(path)
    with pytest.raises(data.DatasetError, match=r"part-00002\.parquet: " + match):
        data.open_dataset(path).verify()
    # the manifest's checksums become the work directory's sidecars, which the bad part
    # matches: only the content checks keep it from being reused
    ds = assert_repaired(spec, root, spy, [2], before)
    ds.verify()


@pytest.fixture
def big(root):
    """A 40,000-row dataset in 4 parts of 10,000 rows."""
    spec = bs_spec(name="big", n_paths=40_000, chunk_paths=10_000)
    return spec, data.generate(spec, root=root)


def _recipe_rows(path: Path) -> int:
    """Rows seen by the documented external-reader recipe (docs/datasets.md)."""
    return pads.dataset(path, format="parquet", exclude_invalid_files=True).count_rows()


def _add_stray(path: Path, kind: str) -> str:
    part = path / "part-00000.parquet"
    if kind == "misnamed part":
        shutil.copy(part, path / "part-0000.parquet")
        return "part-0000.parquet"
    if kind == "unlisted part":
        shutil.copy(part, path / "part-00009.parquet")
        return "part-00009.parquet"
    if kind == "folder":
        (path / "extra").mkdir()
        shutil.copy(part, path / "extra" / "old.parquet")
        return "extra"
    (path / "notes.txt").write_text("not data")
    return "notes.txt"


@pytest.mark.parametrize("kind, recipe_extra", [
    ("misnamed part", 10_000), ("unlisted part", 10_000), ("folder", 10_000), ("text", 0)])
def test_stray_is_refused_by_readers_and_quarantined_by_generate(big, root, spy, caplog, kind,
                                                                 recipe_extra):
    spec, path = big
    opened = data.open_dataset(path)
    assert _recipe_rows(path) == opened.n_paths == 40_000
    before = inodes(path)
    name = _add_stray(path, kind)
    assert _recipe_rows(path) == 40_000 + recipe_extra  # what a reader would wrongly count
    message = rf"{name}: not listed in the manifest; a stray .* moves strays into _quarantine/"
    with pytest.raises(data.DatasetError, match=message):
        data.open_dataset(path)
    with pytest.raises(data.DatasetError, match=message):
        opened.verify()
    [info] = data.list_datasets(root)
    assert info.status == "damaged" and name in info.error

    spy.calls.clear()
    with caplog.at_level(logging.WARNING, logger="data"):
        assert data.generate(spec, root=root) == path
    assert spy.calls == [] and inodes(path) == before
    assert (path / data.QUARANTINE / name).exists() and not (path / name).exists()
    assert any("stray" in r.getMessage() and name in r.getMessage() for r in caplog.records)
    ds = data.open_dataset(path).verify()
    assert _recipe_rows(path) == ds.n_paths == sum(p.rows for p in ds.parts) == 40_000
    assert data.list_datasets(root)[0].status == "complete"


def test_quarantine_keeps_every_stray_and_survives_a_repair(big, root, spy):
    spec, path = big
    for _ in range(2):
        (path / "notes.txt").write_text("stray")
        data.generate(spec, root=root)
    assert sorted(p.name for p in (path / data.QUARANTINE).iterdir()) == ["notes.txt",
                                                                          "notes.txt-2"]
    (path / "part-00003.parquet").unlink()  # a repair moves the directory and back
    assert_repaired(spec, root, spy, [3], inodes(path), chunk=10_000)
    assert sorted(p.name for p in (path / data.QUARANTINE).iterdir()) == ["notes.txt",
                                                                          "notes.txt-2"]
    assert _recipe_rows(path) == 40_000


@pytest.mark.parametrize("where", ["dataset", "work directory"])
def test_file_in_place_of_the_folder_is_moved_aside(root, spy, caplog, where):
    spec = bs_spec()
    root.mkdir(parents=True)
    blocker = root / (spec.dirname if where == "dataset" else f".{spec.dirname}.tmp")
    blocker.write_text("somebody's file")
    if where == "dataset":
        with pytest.raises(data.DatasetError, match=r"not a directory \(a file where the "
                           r"dataset directory should be\); data.generate moves it aside"):
            data.open_dataset(blocker)
    with caplog.at_level(logging.WARNING, logger="data"):
        ds = data.find_or_create(spec, root)
    assert ds.path == root / spec.dirname and ds.path.is_dir()
    [moved] = root.glob(f"{blocker.name}.displaced-*")
    assert moved.read_text() == "somebody's file"
    assert any("moved it aside" in r.getMessage() and str(moved) in r.getMessage()
               for r in caplog.records)
    assert [i.status for i in data.list_datasets(root)] == ["complete"]
    assert np.array_equal(ds.y, reference(spec).y)


def test_write_dataset_moves_a_file_aside(root):
    spec = bs_spec(n_paths=100, chunk_paths=100)
    root.mkdir(parents=True)
    (root / spec.dirname).write_text("x")
    path = data.write_dataset(reference(spec), root, spec)
    assert data.open_dataset(path).n_paths == 100
    assert len(list(root.glob(f"{spec.dirname}.displaced-*"))) == 1


def test_publish_dir_keeps_the_first_and_discards_the_others(tmp_path):
    final = tmp_path / "cache" / "entry"
    works = [data.private_work_dir(final) for _ in range(3)]
    assert len(set(works)) == 3 and all(w.parent == final.parent for w in works)
    for k, w in enumerate(works):
        (w / "who").write_text(str(k))
    assert [data.publish_dir(w, final) for w in works] == [True, False, False]
    assert (final / "who").read_text() == "0"
    assert sorted(p.name for p in final.parent.iterdir()) == ["entry"]


def test_a_damaged_dataset_behind_a_link_is_rebuilt_here_not_written_through(root, tmp_path):
    """A dataset folder that is a link to a damaged dataset elsewhere: the repair moves the link
    aside and writes a real folder under the root; nothing is written where the link pointed."""
    spec = bs_spec()
    victim = data.generate(spec, root=tmp_path / "elsewhere")
    (victim / data.MANIFEST).unlink()
    (victim / "notes.txt").write_text("mine")
    before = sorted(p.name for p in victim.iterdir())
    link = root / spec.dirname
    root.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim, target_is_directory=True)
    path = data.generate(spec, root=root)
    assert path == link and path.is_dir() and not path.is_symlink()
    assert len(data.open_dataset(path)) == spec.n_paths
    assert sorted(p.name for p in victim.iterdir()) == before  # untouched
    moved = [p for p in root.iterdir() if p.name.startswith(f"{spec.dirname}.displaced-")]
    assert len(moved) == 1 and moved[0].is_symlink()


def test_a_version_1_dataset_behind_a_link_is_read_not_migrated(root, tmp_path):
    spec = bs_spec()
    victim = data.generate(spec, root=tmp_path / "elsewhere")
    to_version_1(victim)
    before = sorted(p.name for p in victim.iterdir())
    root.mkdir(parents=True, exist_ok=True)
    (root / spec.dirname).symlink_to(victim, target_is_directory=True)
    path = data.generate(spec, root=root)
    assert path.is_symlink() and len(data.open_dataset(path)) == spec.n_paths
    assert sorted(p.name for p in victim.iterdir()) == before  # still version 1, untouched
