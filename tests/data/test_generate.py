"""Chunked generation: invariance to chunk size and worker count, reuse, progress, Dask."""

from __future__ import annotations

import json

import numpy as np
import pytest

import data
from tests.data._helpers import basket_spec, bs_spec, reference


def _parts(path):
    return json.loads((path / data.MANIFEST).read_text())["parts"]


@pytest.mark.parametrize("chunk", [1, 777, 1500, 5000, 10**6])
def test_chunk_size_invariance(tmp_path, chunk):
    spec = bs_spec(n_paths=5000) if chunk != 1 else bs_spec(n_paths=40)
    ref = reference(spec)
    ds = data.open_dataset(data.generate(spec, chunk_paths=chunk, root=tmp_path))
    assert len(ds.parts) == -(-spec.n_paths // chunk)
    assert np.array_equal(ds.x, ref.x) and np.array_equal(ds.y, ref.y)
    assert np.array_equal(ds.dydx, ref.dydx)


def test_plan_chunks_covers_the_range():
    assert data.plan_chunks(10, 4) == [(0, 0, 4), (1, 4, 4), (2, 8, 2)]
    assert data.plan_chunks(3, 10) == [(0, 0, 3)]


def test_identical_spec_reuses_without_simulating(root, spy, monkeypatch):
    import data.spec as spec_module

    monkeypatch.setattr(spec_module, "_auto_backend", lambda: "cpu")  # as on a CPU machine
    spec = bs_spec()
    first = data.find_or_create(spec, root)
    assert len(spy.calls) == 4
    spy.calls.clear()
    again = data.find_or_create(bs_spec(), root)  # an equal spec built afresh
    assert spy.calls == [] and again.path == first.path
    # chunking, name and "auto" resolving to the CPU do not change the numbers: no simulation
    data.generate(spec.replace(chunk_paths=999, backend="auto"), root=root)
    assert spy.calls == []
    other = data.find_or_create(spec.replace(seed=8), root)
    assert len(spy.calls) == 4 and other.path != first.path


def test_progress_events(root):
    events = []
    data.generate(basket_spec(), root=root, progress=events.append)
    assert [e.parts_done for e in events] == [1, 2, 3]
    assert [e.rows_done for e in events] == [1000, 2000, 3000]
    assert all(e.rows_total == 3000 and e.parts_total == 3 and not e.reused for e in events)


def test_n_paths_override(root):
    path = data.generate(bs_spec(), n_paths=1234, root=root)
    assert path.name == bs_spec(n_paths=1234).dirname
    assert data.open_dataset(path).n_paths == 1234


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as c:
        yield c


def test_dask_workers_give_the_same_bytes(tmp_path, cluster):
    from distributed import Client

    spec = basket_spec(n_paths=6000, chunk_paths=1000)
    serial = data.generate(spec, root=tmp_path / "serial")
    events = []
    with Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        dist = data.generate(spec, root=tmp_path / "dask", client=client,
                             progress=events.append)
    assert sorted(e.part.index for e in events) == list(range(6))
    assert [p["sha256"] for p in _parts(dist)] == [p["sha256"] for p in _parts(serial)]
    m = json.loads((dist / data.MANIFEST).read_text())
    assert m["generation"]["workers"] == 2 and m["generation"]["parts_written"] == 6
    ref = reference(spec)
    ds = data.open_dataset(dist)
    assert np.array_equal(ds.x, ref.x) and np.array_equal(ds.dydx, ref.dydx)


def test_process_pool_and_other_chunking(tmp_path):
    """Any concurrent.futures executor runs the chunks: same bytes as one call."""
    import concurrent.futures
    import multiprocessing

    spec = bs_spec(n_paths=5000)
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        path = data.generate(spec, chunk_paths=700, root=tmp_path, client=pool)
    assert json.loads((path / data.MANIFEST).read_text())["generation"]["workers"] == 2
    ref = reference(spec)
    ds = data.open_dataset(path)
    assert len(ds.parts) == 8
    assert np.array_equal(ds.y, ref.y) and np.array_equal(ds.dydx, ref.dydx)


def test_xva_float32_antithetic_generate_matches_one_call(root):
    import simulators as sim

    spec = bs_spec(n_paths=3000, chunk_paths=700, precision="float32", antithetic=True,
                   xva=sim.XVA(lambda_b=0.01, lambda_c=0.03))
    ds = data.find_or_create(spec, root)
    ref = reference(spec)
    assert ds.x.dtype == np.float32 and ds.manifest["xva"] == spec.xva.to_dict()
    assert np.array_equal(ds.y, ref.y) and np.array_equal(ds.dydx, ref.dydx)
    assert ds.spec == spec.replace(chunk_paths=700)


def _heston_spec():
    import simulators as sim

    return data.DatasetSpec(
        name="heston", model=sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.7,
                                        steps_per_year=24),
        product=sim.European(strike=1.0, maturity=1.0, kind="put"),
        sampler=sim.ForwardSampler(spot=1.0, horizon=0.5), seed=5, n_paths=1200,
        chunk_paths=500)


def _bs_basket_spec():
    import simulators as sim

    model = sim.BlackScholesBasket(vols=(0.2, 0.3), correlation=((1.0, 0.5), (0.5, 1.0)),
                                   rate=0.01, vol_inputs=True)
    return data.DatasetSpec(name="worst-of", model=model,
                            product=sim.WorstOf(strike=1.0, maturity=1.0, kind="call"),
                            sampler=sim.ForwardSampler(spot=1.0, horizon=0.5,
                                                       params={f"vol_{j}": (0.1, 0.4)
                                                               for j in range(2)}),
                            seed=9, n_paths=1200, chunk_paths=500)


@pytest.mark.parametrize("make", [_heston_spec, _bs_basket_spec], ids=["heston", "bs-basket"])
def test_other_models_round_trip(root, make):
    spec = make()
    ds = data.find_or_create(spec, root)
    ref = reference(spec)
    assert ds.inputs == tuple(spec.model.inputs) and ds.spec == spec
    assert np.array_equal(ds.x, ref.x) and np.array_equal(ds.dydx, ref.dydx)
    assert np.array_equal(ds.y, ref.y)
