"""Writing and reading datasets: bit-for-bit round trips, the on-disk contract, other readers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import data
from data.hashing import file_sha256
from tests.data._helpers import basket_spec, bs_spec, reference


@pytest.mark.parametrize("make", [
    lambda: bs_spec(),
    lambda: bs_spec(precision="float32", antithetic=True),
    lambda: basket_spec(),
], ids=["bs-float64", "bs-float32-antithetic", "basket7"])
def test_write_then_open_is_bit_identical(root, make):
    spec = make()
    sample = reference(spec)
    path = data.write_dataset(sample, root=root, spec=spec)
    assert path == root / spec.dirname
    ds = data.open_dataset(path)
    assert ds.inputs == sample.inputs and len(ds) == spec.n_paths
    for name in ("x", "y", "dydx", "path_id"):
        got, want = getattr(ds, name), getattr(sample, name)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want), name
    assert ds.x.flags.c_contiguous and ds.dydx.flags.c_contiguous
    assert ds.spec == spec
    back = ds.to_sample()
    assert back.model == sample.model and back.sampler == sample.sampler


def test_manifest_contract(root):
    spec = bs_spec()
    path = data.generate(spec, root=root)
    m = json.loads((path / data.MANIFEST).read_text())
    assert m["schema_version"] == data.SCHEMA_VERSION and m["format"] == "diffml.dataset"
    assert m["hash"] == spec.hash and path.name == f"bs-{spec.hash12}"
    assert m["model"] == spec.model.to_dict() and m["product"] == spec.product.to_dict()
    assert m["sampler"] == spec.sampler.to_dict() and m["xva"] is None
    assert (m["seed"], m["n_paths"], m["antithetic"], m["precision"]) == (7, 5000, False,
                                                                          "float64")
    assert m["columns"] == ["path_id", "x_spot", "y", "dydx_spot"]
    assert m["backend"] == "cpu" and m["package_version"] == "0.1.0"
    assert m["created_utc"].endswith("Z")
    assert [p["rows"] for p in m["parts"]] == [1500, 1500, 1500, 500]
    for p in m["parts"]:
        f = path / p["file"]
        assert file_sha256(f) == p["sha256"] and f.stat().st_size == p["bytes"]
    assert sorted(x.name for x in path.iterdir()) == ["_manifest.json"] + [
        f"part-0000{i}.parquet" for i in range(4)]


def test_single_part_is_self_describing(root):
    spec = basket_spec(xva=None)
    path = data.generate(spec, root=root)
    f = path / "part-00001.parquet"
    schema = pq.read_schema(f)
    meta = json.loads(schema.metadata[b"diffml"])
    assert meta["hash"] == spec.hash and meta["seed"] == 11
    assert meta["model"] == spec.model.to_dict() and meta["product"] == spec.product.to_dict()
    assert meta["part"] == {"index": 1, "first_path": 1000, "rows": 1000, "n_parts": 3}
    assert data.DatasetSpec.from_dict(meta).hash == spec.hash
    assert schema.names == ["path_id", *[f"x_spot_{j}" for j in range(7)], "y",
                            *[f"dydx_spot_{j}" for j in range(7)]]
    assert str(schema.field("path_id").type) == "int64"


def test_write_dataset_and_generate_write_the_same_bytes(root, tmp_path):
    spec = bs_spec()
    a = data.write_dataset(reference(spec), root=root, spec=spec)
    b = data.generate(spec, root=tmp_path / "other")
    pa_ = json.loads((a / data.MANIFEST).read_text())["parts"]
    pb = json.loads((b / data.MANIFEST).read_text())["parts"]
    assert [p["sha256"] for p in pa_] == [p["sha256"] for p in pb]


def test_write_dataset_refuses_a_mismatched_sample(root):
    spec = bs_spec()
    with pytest.raises(ValueError, match="field 'seed'"):
        data.write_dataset(reference(spec.replace(seed=8)), root=root, spec=spec)
    with pytest.raises(ValueError, match="field 'n_paths'"):
        data.write_dataset(reference(spec.replace(n_paths=10)), root=root, spec=spec)


def test_write_dataset_without_spec_and_existing_is_kept(root):
    sample = reference(bs_spec())
    path = data.write_dataset(sample, root=root, name="quick")
    mtime = (path / data.MANIFEST).stat().st_mtime_ns
    assert data.write_dataset(sample, root=root, name="quick") == path
    assert (path / data.MANIFEST).stat().st_mtime_ns == mtime


def test_table_pandas_torch_views(root):
    torch = pytest.importorskip("torch")
    spec = basket_spec()
    ds = data.find_or_create(spec, root)
    t = ds.table()
    assert t.num_rows == spec.n_paths and t.column_names == data.column_names(ds.inputs)
    assert np.array_equal(t.column("y").to_numpy(), ds.y)
    tens = ds.to_torch()
    assert tens["x"].shape == (spec.n_paths, 7) and tens["x"].dtype == torch.float64
    assert tens["x"].data_ptr() == ds.x.ctypes.data  # shares memory, no copy
    assert ds.to_torch(dtype=torch.float32)["dydx"].dtype == torch.float32
    parts = list(ds.iter_parts())
    assert [info.rows for info, _ in parts] == [1000, 1000, 1000]


def test_files_open_in_pandas(root):
    pd = pytest.importorskip("pandas")
    ds = data.find_or_create(basket_spec(), root)
    df = pd.concat([pd.read_parquet(f) for f in ds.files]).sort_values("path_id")
    assert np.array_equal(df["y"].to_numpy(), ds.y)
    assert np.array_equal(ds.to_pandas()["x_spot_3"].to_numpy(), ds.x[:, 3])


def test_files_open_in_pyarrow_dataset(root):
    import pyarrow.dataset as pads

    spec = bs_spec()
    ds = data.find_or_create(spec, root)
    t = pads.dataset(ds.files, format="parquet").to_table().sort_by("path_id")
    assert np.array_equal(t.column("x_spot").to_numpy(), ds.x[:, 0])
    assert ds.arrow_dataset().count_rows() == spec.n_paths


def test_files_open_in_duckdb(root):
    import duckdb

    ds = data.find_or_create(bs_spec(), root)
    n, s = duckdb.sql(
        f"select count(*), sum(y) from read_parquet('{ds.path}/part-*.parquet')").fetchall()[0]
    assert n == len(ds) and s == pytest.approx(float(ds.y.sum()), rel=1e-12)


def test_files_open_in_polars(root):
    import polars as pl

    ds = data.find_or_create(basket_spec(), root)
    df = pl.read_parquet(str(ds.path / "*.parquet")).sort("path_id")
    assert np.array_equal(df["dydx_spot_6"].to_numpy(), ds.dydx[:, 6])


def _read_directory(tool: str, path: Path) -> tuple[int, list[str], dict[str, np.ndarray]]:
    """How ``tool`` sees the dataset directory ``path``, pointed at the directory itself (or,
    for polars and DuckDB, its ``*.parquet`` glob): the row count it reports, its column names
    and its columns as NumPy arrays, rows sorted by ``path_id``."""
    d = str(path)
    if tool == "pandas":
        import pandas as pd

        df = pd.read_parquet(d)
        df = df.sort_values("path_id")
        return len(df), list(df.columns), {c: df[c].to_numpy() for c in df.columns}
    if tool == "pyarrow.dataset":
        import pyarrow.dataset as pads

        dataset = pads.dataset(d)
        t = dataset.to_table().sort_by("path_id")
        return (dataset.count_rows(), t.column_names,
                {c: t.column(c).to_numpy() for c in t.column_names})
    if tool == "polars":
        import polars as pl

        n = pl.scan_parquet(f"{d}/*.parquet").select(pl.len()).collect().item()
        df = pl.read_parquet(f"{d}/*.parquet").sort("path_id")
        return n, df.columns, {c: df[c].to_numpy() for c in df.columns}
    import duckdb

    [(n,)] = duckdb.sql(f"select count(*) from '{d}/*.parquet'").fetchall()
    rel = duckdb.sql(f"select * from read_parquet('{d}/*.parquet') order by path_id")
    return n, rel.columns, rel.fetchnumpy()


@pytest.fixture(scope="module")
def external_datasets(tmp_path_factory):
    """Two datasets written by ``generate``: a 7-input basket in 3 parts (float64) and a
    Black-Scholes one in 4 parts (float32, antithetic), each opened by ``open_dataset``."""
    root = tmp_path_factory.mktemp("external") / "datasets"
    specs = {"basket": basket_spec(),
             "bs-float32": bs_spec(precision="float32", antithetic=True)}
    return {key: data.open_dataset(data.generate(spec, root=root)).load()
            for key, spec in specs.items()}


@pytest.mark.parametrize("tool", ["pandas", "pyarrow.dataset", "polars", "duckdb"])
@pytest.mark.parametrize("which", ["basket", "bs-float32"])
def test_other_tools_read_the_dataset_directory(external_datasets, tool, which):
    ds = external_datasets[which]
    n, names, columns = _read_directory(tool, ds.path)
    assert n == ds.manifest["n_paths"] == sum(p["rows"] for p in ds.manifest["parts"])
    assert names == data.column_names(ds.inputs)
    want = {"path_id": ds.path_id, "y": ds.y}
    for j, name in enumerate(ds.inputs):
        want[f"x_{name}"], want[f"dydx_{name}"] = ds.x[:, j], ds.dydx[:, j]
    for name in names:
        got = np.asarray(columns[name])
        assert got.dtype == want[name].dtype, name
        assert np.array_equal(got, want[name]), name
    assert sorted(p.name for p in ds.path.iterdir()) == ["_manifest.json"] + [
        p["file"] for p in ds.manifest["parts"]]
