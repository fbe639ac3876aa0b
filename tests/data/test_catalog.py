"""list_datasets and gc."""

from __future__ import annotations

import json

import pytest

import data
from data.writer import dataset_lock
from tests.data._helpers import bs_spec


@pytest.fixture
def three(root):
    """Three complete datasets (seeds 1, 2, 3) and one damaged one (seed 4)."""
    specs = [bs_spec(n_paths=500, seed=s) for s in (1, 2, 3, 4)]
    for s in specs:
        data.generate(s, root=root)
    (root / specs[3].dirname / data.MANIFEST).unlink()
    (root / "notes.txt").write_text("not a dataset")
    (root / "my-own-dir").mkdir()
    # named like a dataset (a 12-digit stamp is 12 hex digits) but holding none of its files
    (root / "backup-202611271530").mkdir()
    (root / "backup-202611271530" / "important.txt").write_text("precious")
    (root / "other-000000000000").mkdir()
    (root / "export-202611271530").mkdir()  # another tool's parquet output
    (root / "export-202611271530" / "part-0.parquet").write_bytes(b"PAR1")
    (root / "webapp-202611271530").mkdir()
    (root / "webapp-202611271530" / "manifest.json").write_text("{}")
    return specs


def test_list_datasets(root, three):
    infos = data.list_datasets(root)
    assert [i.dirname for i in infos] == sorted(s.dirname for s in three)
    by = {i.dirname: i for i in infos}
    assert by[three[0].dirname].status == "complete"
    assert by[three[0].dirname].n_paths == 500 and by[three[0].dirname].hash == three[0].hash
    d = by[three[0].dirname].to_dict()
    assert d["complete"] and d["dirname"] == three[0].dirname
    assert d["model"]["type"] == "BlackScholes" and d["product"]["type"] == "European"
    assert json.loads(json.dumps(d)) == d
    assert by[three[3].dirname].status == "damaged"
    assert "manifest missing" in by[three[3].dirname].error
    assert data.list_datasets(root / "nowhere") == []


def test_gc_dry_run_then_remove(root, three):
    keep = [three[0], three[1].hash12]
    would = data.gc(root, keep)
    assert sorted(p.name for p in would) == sorted(
        [three[2].dirname, three[3].dirname, f".{three[2].dirname}.lock",
         f".{three[3].dirname}.lock"])
    assert all(p.exists() for p in would)  # dry run by default
    removed = data.gc(root, keep, dry_run=False)
    assert sorted(removed) == sorted(would) and not any(p.exists() for p in removed)
    left = {i.dirname for i in data.list_datasets(root)}
    assert left == {three[0].dirname, three[1].dirname}
    assert (root / "notes.txt").exists() and (root / "my-own-dir").exists()
    assert (root / "backup-202611271530" / "important.txt").read_text() == "precious"
    assert (root / "other-000000000000").is_dir()
    assert (root / "export-202611271530" / "part-0.parquet").is_file()
    assert (root / "webapp-202611271530" / "manifest.json").is_file()
    assert not [p for p in root.iterdir() if ".trash-" in p.name]


def test_gc_keeps_by_dirname_full_hash_and_name(root, three):
    assert data.gc(root, [three[0].dirname, three[1].hash, three[2].hash12, three[3].hash12]
                   ) == []
    assert data.gc(root, ["bs"]) == []  # a bare name keeps every dataset of that name
    with pytest.raises(TypeError, match="collection"):
        data.gc(root, "bs")


def test_gc_skips_a_dataset_being_written(root, three):
    with dataset_lock(root, three[2]):
        removed = data.gc(root, [three[0], three[1], three[3]], dry_run=False)
    assert removed == [] and (root / three[2].dirname).exists()


def test_gc_removes_a_link_not_what_it_points_to(root, three, tmp_path):
    """An unreferenced dataset name that is a link to a dataset elsewhere: the link is removed,
    its target is kept, and gc goes on with the others. A link named like a dataset to a folder
    holding none of a dataset's files is not one, and is left alone."""
    outside = tmp_path / "outside"
    elsewhere = data.generate(bs_spec(n_paths=500, seed=9), root=outside)
    link = root / elsewhere.name
    link.symlink_to(elsewhere, target_is_directory=True)
    folder = tmp_path / "somefolder"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    (root / "other-0123456789ab").symlink_to(folder, target_is_directory=True)
    removed = data.gc(root, [three[0], three[1]], dry_run=False)
    assert link in removed and not link.exists() and not link.is_symlink()
    # a link named like a dataset to a folder holding none of a dataset's files: not ours, kept
    assert (root / "other-0123456789ab").is_symlink()
    assert (folder / "keep.txt").read_text() == "keep"
    assert len(data.open_dataset(elsewhere)) == 500
    assert not (root / three[2].dirname).exists()  # the others removed too
