"""Chunking and thread-count invariance of every model."""

import numba
import numpy as np
import pytest

import simulators as sim

CASES = {
    "black_scholes": lambda: (sim.BlackScholes(vol=0.2, inputs=("spot", "vol")),
                              sim.European(1.1, 1.0),
                              sim.ForwardSampler(1.0, 1.0, params={"vol": (0.1, 0.3)})),
    "bachelier": lambda: (*sim.random_bachelier_basket(7, seed=1),
                          sim.ForwardSampler(1.0, 1.0)),
    "bs_basket_worst_of": lambda: (sim.BlackScholesBasket(vols=[0.2, 0.3, 0.25],
                                                          correlation=np.eye(3), vol_inputs=True),
                                   sim.WorstOf(1.0, 1.0, "put"),
                                   sim.ForwardSampler(1.0, 1.0, params={f"vol_{j}": (0.1, 0.4)
                                                                        for j in range(3)})),
    "heston": lambda: (sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, steps_per_year=30,
                                  inputs=("spot", "variance", "kappa")),
                       sim.European(1.0, 1.0, "put"),
                       sim.ForwardSampler(1.0, 0.5, params={"kappa": (1.0, 2.0)})),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("antithetic", [False, True])
def test_chunks_concatenate_to_the_whole(case, antithetic):
    model, product, sampler = CASES[case]()
    n, k = 3001, 1234
    whole = sim.simulate(model, product, sampler, n, seed=42, antithetic=antithetic)
    a = sim.simulate(model, product, sampler, k, seed=42, antithetic=antithetic)
    b = sim.simulate(model, product, sampler, n - k, seed=42, first_path=k, antithetic=antithetic)
    for name in ("x", "y", "dydx"):
        assert np.array_equal(getattr(whole, name),
                              np.concatenate([getattr(a, name), getattr(b, name)]))


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_and_two_threads_agree(case):
    model, product, sampler = CASES[case]()
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = sim.simulate(model, product, sampler, 5000, seed=1)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = sim.simulate(model, product, sampler, 5000, seed=1)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one.y, two.y) and np.array_equal(one.dydx, two.dydx)
