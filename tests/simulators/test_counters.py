"""Counter ranges and flags are refused in one line, never wrapped around or coerced: a stream or
path index beyond its counter's width would silently repeat earlier draws."""

import numpy as np
import pytest

import simulators as sim
from data import DatasetSpec
from simulators import rng


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"stream": 2**32}, "stream"), ({"stream": -1}, "stream"), ({"first_path": 2**64}, "first_path"),
    ({"first_path": 2**64 - 2}, "below 2\\*\\*64"), ({"stream": True}, "stream")])
def test_rng_refuses_counters_out_of_range(kwargs, name):
    with pytest.raises(ValueError, match=name):
        rng.normals(1, 3, 1, **kwargs)
    with pytest.raises(ValueError, match=name):
        rng.uniforms(1, 3, 1, **kwargs)


@pytest.mark.parametrize("n_paths", [-1, 3.0, True])
def test_rng_refuses_counts_that_are_not_counts(n_paths):
    with pytest.raises(ValueError, match="'n_paths' argument of rng.normals"):
        rng.normals(1, n_paths, 1)


def test_streams_below_2_32_differ():
    assert not np.array_equal(rng.normals(1, 3, 1, stream=2**32 - 1), rng.normals(1, 3, 1))


def test_simulate_refuses_wrapping_paths_and_non_boolean_flags():
    model, product = sim.BlackScholes(vol=0.2), sim.European(1.0, 1.0, "call")
    sampler = sim.FixedSampler(state=[1.0])
    with pytest.raises(ValueError, match="first_path"):
        sim.simulate(model, product, sampler, 10, seed=1, first_path=2**64 - 5)
    for flag in ("antithetic", "device_output"):
        with pytest.raises(ValueError, match=flag):
            sim.simulate(model, product, sampler, 10, seed=1, **{flag: "no"})
    with pytest.raises(ValueError, match="antithetic"):
        DatasetSpec(name="x", model=model, product=product, sampler=sampler, seed=1,
                    n_paths=10, antithetic="no")
