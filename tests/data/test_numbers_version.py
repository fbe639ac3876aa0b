"""Datasets record the random-number algorithms: a change regenerates instead of reusing."""

import json

import pytest

import data
import simulators
from tests.data._helpers import bs_spec


def test_numbers_version_enters_the_hash(monkeypatch):
    spec = bs_spec(n_paths=100, seed=1)
    before = spec.hash
    assert spec.identity()["numbers"] == simulators.NUMBERS_VERSION
    monkeypatch.setattr(simulators, "NUMBERS_VERSION", "philox4x32-10/box-muller/0")
    assert spec.hash != before


def test_manifest_without_numbers_version_is_refused(tmp_path):
    spec = bs_spec(n_paths=100, seed=2)
    path = data.generate(spec, root=tmp_path)
    manifest = json.loads((path / data.MANIFEST).read_text())
    del manifest["numbers"]
    (path / data.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(data.DatasetError, match="older diffml.*regenerate"):
        data.open_dataset(path)
