"""Helpers for the dataset-layer tests: small specs, a reference simulation, a simulate spy,
fault injection and the check that a dataset was repaired."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import data
import simulators as sim
from data.hashing import file_sha256


def bs_spec(name: str = "bs", n_paths: int = 5000, seed: int = 7, chunk_paths: int = 1500,
            **changes) -> data.DatasetSpec:
    """A small Black-Scholes call dataset spec (x = spot at T1, forward-sampled)."""
    spec = data.DatasetSpec(
        name=name,
        model=sim.BlackScholes(vol=0.2, rate=0.01, dividend=0.0),
        product=sim.European(strike=1.10, maturity=1.0, kind="call"),
        sampler=sim.ForwardSampler(spot=1.0, horizon=1.0, vol_mult=1.5),
        seed=seed, n_paths=n_paths, chunk_paths=chunk_paths,
    )
    return spec.replace(**changes) if changes else spec


def basket_spec(n_paths: int = 3000, chunk_paths: int = 1000, **changes) -> data.DatasetSpec:
    """A 7-asset Bachelier basket spec (Huge-Savine random basket)."""
    model, product = sim.random_bachelier_basket(dim=7, seed=1)
    spec = data.DatasetSpec(name="basket", model=model, product=product,
                            sampler=sim.ForwardSampler(spot=1.0, horizon=1.0, vol_mult=1.5),
                            seed=11, n_paths=n_paths, chunk_paths=chunk_paths)
    return spec.replace(**changes) if changes else spec


def reference(spec: data.DatasetSpec) -> sim.Sample:
    """The whole sample simulated in one call."""
    return sim.simulate(spec.model, spec.product, spec.sampler, n_paths=spec.n_paths,
                        seed=spec.seed, antithetic=spec.antithetic, xva=spec.xva,
                        dtype=spec.precision)


class SimulateSpy:
    """Wraps ``simulators.simulate`` and records the (first_path, n_paths) of each call."""

    def __init__(self, real) -> None:
        self.real = real
        self.calls: list[tuple[int, int]] = []

    def __call__(self, *args, **kwargs):
        self.calls.append((kwargs.get("first_path", 0), kwargs.get("n_paths")))
        return self.real(*args, **kwargs)


def inodes(path: Path) -> dict[str, int]:
    """Inode of each part of the dataset directory ``path``, by file name."""
    return {f.name: f.stat().st_ino for f in path.glob("part-*.parquet")}


def assert_repaired(spec, root, spy, regenerated: list[int], before: dict[str, int],
                    chunk: int = 1500) -> data.Dataset:
    """find_or_create repairs: only the listed chunks are simulated, other parts are kept,
    the numbers are the reference's and no work directory is left."""
    spy.calls.clear()
    ds = data.find_or_create(spec, root)
    assert sorted(first for first, _ in spy.calls) == [chunk * i for i in regenerated]
    after = inodes(ds.path)
    for name, ino in before.items():
        if int(name[5:10]) not in regenerated:
            assert after[name] == ino, f"good part {name} was rewritten"
    ref = reference(spec)
    assert np.array_equal(ds.x, ref.x) and np.array_equal(ds.y, ref.y)
    assert np.array_equal(ds.dydx, ref.dydx)
    assert not any(p.name.startswith(".") and p.name.endswith(".tmp") for p in root.iterdir())
    return ds


def poison_part(path: Path, index: int, column: str, row: int, value) -> None:
    """Set ``column[row]`` of part ``index`` to ``value``, keeping its footer metadata, and
    record the new file's size and SHA-256 in the manifest (so the checksum matches)."""
    f = path / data.PartInfo.from_dict(
        json.loads((path / data.MANIFEST).read_text())["parts"][index]).file
    t = pq.read_table(f)
    i = t.column_names.index(column)
    values = t.column(column).to_numpy().copy()
    values[row] = value
    t = t.set_column(i, t.schema.field(i), pa.array(values, type=t.schema.field(i).type))
    pq.write_table(t, f)
    m = json.loads((path / data.MANIFEST).read_text())
    m["parts"][index].update(sha256=file_sha256(f), bytes=f.stat().st_size)
    (path / data.MANIFEST).write_text(json.dumps(m))


def to_version_1(path: Path) -> dict:
    """Turn the dataset directory ``path`` into what diffml wrote with schema version 1: the
    same parts and manifest fields, with ``schema_version`` 1, in ``manifest.json`` (formatted
    as that version wrote it); returns that manifest."""
    manifest = json.loads((path / data.MANIFEST).read_text())
    manifest.pop("migrated", None)
    manifest["schema_version"] = 1
    text = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n"
    (path / data.LEGACY_MANIFEST).write_text(text)
    (path / data.MANIFEST).unlink()
    return manifest
