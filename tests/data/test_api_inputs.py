"""Bad input to the dataset API gets one clear error naming the owner, the field, the rule and
the value, before anything is simulated, read or removed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import data
import simulators as sim
from data.spec import MAX_CHUNK_PATHS, max_chunk_paths
from tests.data._helpers import bs_spec


@pytest.fixture
def small(root) -> data.Dataset:
    """A two-part dataset of 100 rows."""
    return data.find_or_create(bs_spec(n_paths=100, chunk_paths=50), root)


@pytest.fixture
def a_file(tmp_path) -> Path:
    """A regular file."""
    path = tmp_path / "a-file"
    path.write_text("not a directory")
    return path


# ------------------------------------------------------------------ DatasetSpec: objects fit
@pytest.mark.parametrize("change, match", [
    (dict(sampler=sim.FixedSampler([1.0, 2.0])),
     r"The 'sampler' parameter of DatasetSpec must fit the model BlackScholes .*'state' "
     r"parameter of FixedSampler must be of length 1 .*Got \(1\.0, 2\.0\) instead"),
    (dict(sampler=sim.UniformSampler(low=[-1.0], high=[1.0])),
     r"'sampler' parameter of DatasetSpec must fit .*'low \(spot\)' parameter of UniformSampler"),
    (dict(product=sim.WorstOf(1.0, 1.0, "call")),
     r"The 'product' parameter of DatasetSpec must fit the model BlackScholes \(1 asset"
     r".*WorstOf must be a model of at least 2 assets"),
    (dict(product=sim.BasketOption(weights=[0.5, 0.5], strike=1.0, maturity=1.0)),
     r"'product' parameter of DatasetSpec must fit .*'weights' parameter of BasketOption"),
    (dict(product=sim.European(strike=1.0, maturity=1.0, kind="forward"),
          xva=sim.XVA(lambda_b=0.01, lambda_c=0.02)),
     r"The 'xva' parameter of DatasetSpec must be None for European, whose payoff can change "
     r"sign"),
], ids=["sampler-length", "sampler-bounds", "product-worst-of", "product-weights", "xva-sign"])
def test_spec_refuses_objects_that_do_not_fit_the_model(change, match):
    with pytest.raises(ValueError, match=match):
        bs_spec(**change)


def test_spec_refuses_a_single_asset_product_on_a_basket():
    model, product = sim.random_bachelier_basket(dim=3, seed=1)
    with pytest.raises(ValueError, match=r"'product' parameter of DatasetSpec must fit the "
                                         r"model BachelierBasket \(3 asset\(s\).*European"):
        bs_spec(model=model)


@pytest.mark.parametrize("field, value, kind", [
    ("model", sim.European(strike=1.0, maturity=1.0), "a model"),
    ("product", sim.BlackScholes(vol=0.2), "a product"),
    ("sampler", sim.XVA(lambda_b=0.01, lambda_c=0.02), "a sampler"),
    ("xva", sim.FixedSampler([1.0]), "None or an XVA"),
])
def test_spec_refuses_an_object_in_the_wrong_role(field, value, kind):
    with pytest.raises(TypeError, match=rf"The '{field}' parameter of DatasetSpec must be "
                                        rf"{kind}.*Got {type(value).__name__} instead"):
        bs_spec(**{field: value})


def test_spec_from_a_stored_manifest_still_builds(small):
    assert small.spec == bs_spec(n_paths=100, chunk_paths=50)
    record = {**small.manifest, "chunk_paths": 10**9}  # written before the bound
    spec = data.DatasetSpec.from_dict(record)
    assert spec.chunk_paths == MAX_CHUNK_PATHS and spec.hash == small.hash


# ------------------------------------------------------------------ DatasetSpec: sizes
def test_n_paths_is_bounded_by_the_number_of_parts():
    with pytest.raises(ValueError, match=r"The 'n_paths' parameter of DatasetSpec must be an "
                                         r"integer in \[1, 100000000000\] \(at most 100000 "
                                         r"parts of chunk_paths = 1000000 rows; a larger "
                                         r"chunk_paths, up to 100000000, allows more\)\. Got "
                                         r"1000000000000000 instead\."):
        bs_spec(n_paths=10**15, chunk_paths=10**6)
    with pytest.raises(ValueError, match=r"'n_paths' .* \[1, 10000000000000\] \(at most "
                                         r"100000 parts of chunk_paths = 100000000 rows\)\. Got"):
        bs_spec(n_paths=10**15, chunk_paths=10**8)
    assert bs_spec(n_paths=10**13, chunk_paths=10**8).n_paths == 10**13  # nothing allocated
    with pytest.raises(ValueError, match=r"The 'n_paths' parameter of DatasetSpec must be an "
                                         r"integer in \[1, 150000000\].*Got 0 instead\."):
        bs_spec(n_paths=0)


def test_chunk_paths_is_bounded_so_that_one_chunk_fits_in_memory():
    with pytest.raises(ValueError, match=r"The 'chunk_paths' parameter of DatasetSpec must be "
                                         r"an integer in \[1, 100000000\] \(one chunk is held "
                                         r"in memory: .*16 GiB .*1 input\(s\)\)\. Got "
                                         r"1000000000 instead\."):
        bs_spec(chunk_paths=10**9)
    model, product = sim.random_bachelier_basket(dim=100, seed=1)
    top = max_chunk_paths(100)
    assert top == 16 * 2**30 // (201 * 8) < MAX_CHUNK_PATHS
    with pytest.raises(ValueError, match=rf"'chunk_paths' .* \[1, {top}\] .*100 input\(s\)"):
        bs_spec(model=model, product=product, chunk_paths=top + 1)
    assert bs_spec(model=model, product=product, chunk_paths=top).chunk_paths == top


def test_plan_chunks_refuses_more_parts_than_names():
    with pytest.raises(ValueError, match=r"'n_paths' argument of plan_chunks must be at most "
                                         r"100000 parts of chunk_paths = 1 rows"):
        data.plan_chunks(10**15, 1)


def test_generate_applies_n_paths_and_chunk_paths_together(root):
    spec = bs_spec(n_paths=10, chunk_paths=1)  # 100001 rows would need 100001 parts of 1 row
    path = data.generate(spec, n_paths=100_001, chunk_paths=50_001, root=root)
    assert len(data.open_dataset(path).parts) == 2


# ------------------------------------------------------------------ write_dataset
def test_write_dataset_refuses_what_is_not_a_sample(root):
    with pytest.raises(TypeError, match=r"The 'sample' argument of write_dataset must be a "
                                        r"simulators\.Sample .*Got ndarray instead\."):
        data.write_dataset(np.zeros((3, 1)), root)
    with pytest.raises(TypeError, match=r"'sample' argument of DatasetSpec\.from_sample .*Got "
                                        r"dict instead"):
        data.DatasetSpec.from_sample({"x": 1}, "d")
    spec = bs_spec(n_paths=10, chunk_paths=10)
    sample = sim.simulate(spec.model, spec.product, spec.sampler, n_paths=10, seed=spec.seed)
    with pytest.raises(TypeError, match=r"The 'spec' argument of write_dataset must be None "
                                        r"or a DatasetSpec\. Got dict instead\."):
        data.write_dataset(sample, root, spec=spec.to_dict())
    assert not root.exists()


# ------------------------------------------------------------------ gc
@pytest.mark.parametrize("keep, match", [
    (None, r"The 'keep' argument of gc must be a collection of references .*Got None instead"),
    (5, r"The 'keep' argument of gc must be a collection .*Got 5 instead"),
    ("bs", r"not a single string\. Got 'bs' instead"),
    ([b"bs"], r"The 'keep\[0\]' entry of gc must be a DatasetSpec .*Got bytes b'bs' instead"),
], ids=["none", "int", "string", "bytes-entry"])
def test_gc_refuses_keep_that_is_not_a_collection_of_references(small, keep, match):
    with pytest.raises(TypeError, match=match):
        data.gc(small.path.parent, keep, dry_run=False)
    assert small.path.is_dir()


@pytest.mark.parametrize("as_given", [lambda p: p, str, lambda p: str(p) + "/",
                                      lambda p: p.name])
def test_gc_keeps_a_dataset_named_by_its_path(small, as_given):
    """A Path, the same path as a string (with or without a trailing slash) or the directory
    name: each keeps the dataset (a string path matched nothing and gc removed it)."""
    assert data.gc(small.path.parent, [as_given(small.path)], dry_run=False) == []
    assert small.path.is_dir()


# ------------------------------------------------------------------ reading columns
def test_table_names_a_missing_column_and_lists_the_others(small):
    with pytest.raises(ValueError, match=r"The 'columns' argument of Dataset\.table must name "
                                         r"columns of bs-[0-9a-f]{12} \(one of \['path_id', "
                                         r"'x_spot', 'y', 'dydx_spot'\]\)\. Got 'nope' "
                                         r"instead\."):
        small.table(columns=["y", "nope"])
    with pytest.raises(TypeError, match=r"'columns' argument of Dataset\.table must be a list "
                                        r"of column names, not a single string"):
        small.table(columns="y")
    assert small.table(columns=["y", "x_spot"]).column_names == ["y", "x_spot"]


# ------------------------------------------------------------------ roots and paths
ROOT_TAKERS = {
    "find_or_create": lambda root: data.find_or_create(bs_spec(n_paths=10, chunk_paths=10), root),
    "generate": lambda root: data.generate(bs_spec(n_paths=10, chunk_paths=10), root=root),
    "write_dataset": lambda root: data.write_dataset(
        sim.simulate(sim.BlackScholes(vol=0.2), sim.European(1.0, 1.0), sim.FixedSampler([1.0]),
                     n_paths=10, seed=1), root),
    "list_datasets": lambda root: data.list_datasets(root),
    "gc": lambda root: data.gc(root, []),
}


@pytest.mark.parametrize("owner", sorted(ROOT_TAKERS))
@pytest.mark.parametrize("bad", [None, "", 3])
def test_root_that_is_not_a_path(owner, bad):
    with pytest.raises(TypeError, match=rf"The 'root' argument of {owner} must be a non-empty "
                                        rf"path \(str or os\.PathLike\)\. Got {bad!r} instead\."):
        ROOT_TAKERS[owner](bad)


@pytest.mark.parametrize("owner", sorted(ROOT_TAKERS))
def test_root_that_is_a_file(owner, a_file):
    with pytest.raises(data.DatasetError, match=rf"{re.escape(str(a_file))}: a file, so it "
                                                r"cannot be the "
                                                rf"datasets root \(the 'root' argument of "
                                                rf"{owner} must be a directory"):
        ROOT_TAKERS[owner](a_file)
    assert a_file.read_text() == "not a directory"


@pytest.mark.parametrize("owner", ["find_or_create", "generate", "write_dataset"])
def test_root_that_cannot_be_created(owner, a_file):
    below = a_file / "datasets"
    with pytest.raises(data.DatasetError, match=rf"{re.escape(str(below))}: the datasets "
                                                r"root cannot be "
                                                r"created \(Not a directory\), so .* cannot be "
                                                "written"):
        ROOT_TAKERS[owner](below)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_root_under_proc_cannot_be_created():
    with pytest.raises(data.DatasetError, match=r"/proc/no-such-root: the datasets root cannot "
                                                r"be created \(.*\)"):
        ROOT_TAKERS["generate"]("/proc/no-such-root")


def test_missing_root_lists_nothing_and_open_dataset_needs_a_path(tmp_path):
    assert data.list_datasets(tmp_path / "nowhere") == []
    assert data.gc(tmp_path / "nowhere", []) == []
    with pytest.raises(TypeError, match=r"The 'path' argument of open_dataset must be a "
                                        r"non-empty path .*Got None instead\."):
        data.open_dataset(None)


def test_the_default_chunk_fits_a_model_of_many_inputs():
    """10**6 rows of 1,200 inputs would be 38 GiB in memory: the default is lowered to the bound
    (an explicit chunk_paths above it is refused, as above)."""
    d = 1200
    model = sim.BachelierBasket(vols=[0.2] * d, correlation=np.eye(d))
    spec = data.DatasetSpec(name="wide", model=model,
                            product=sim.BasketOption([1.0 / d] * d, 1.0, 1.0, "call"),
                            sampler=sim.FixedSampler([1.0] * d), seed=1, n_paths=10)
    assert spec.chunk_paths == max_chunk_paths(d) == 16 * 2**30 // ((1 + 2 * d) * 8)
    assert spec.chunk_paths < 10**6
