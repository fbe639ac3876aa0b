"""The CPU kernels' blocks of paths: the numbers do not depend on the block width, and
Heston's memory per thread stays bounded."""

import numpy as np
import pytest

import simulators as sim
from simulators import _cpu, _kernel_args
from simulators.heston import heston_block_width


def _heston_run(width: int, antithetic: bool):
    model = sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.7, rate=0.02, steps_per_year=13,
                       inputs=("spot", "variance", "kappa", "rho", "rate"))
    product = sim.European(1.0, 1.0, "put")
    x = sim.UniformSampler([0.8, 0.02, 1.0, -0.9, 0.0], [1.2, 0.06, 2.0, 0.0, 0.05]).sample(
        model, 3, 0, 301)
    y, dydx = np.empty(301), np.zeros((301, 5))
    steps = model.steps(product.maturity)
    _cpu.heston_kernel(np.ascontiguousarray(x), _kernel_args.heston_columns(model), model.kappa,
                       model.theta, model.xi, model.rho, model.rate, model.dividend,
                       product.maturity, steps, *_kernel_args.kernel_legs(product.encode(1)),
                       np.uint64(9), np.uint64(77), antithetic, True, width, y, dydx)
    return y, dydx


@pytest.mark.parametrize("antithetic", [False, True])
def test_heston_numbers_do_not_depend_on_the_block_width(antithetic):
    y0, g0 = _heston_run(256, antithetic)
    assert np.count_nonzero(g0) > 0
    for width in (1, 3, 8, 64):
        y, g = _heston_run(width, antithetic)
        assert np.array_equal(y, y0) and np.array_equal(g, g0), width


@pytest.mark.parametrize("steps", [1, 252, 2049, 100_000, 10**7])
def test_heston_block_memory_is_bounded(steps):
    width = heston_block_width(steps)
    assert 1 <= width <= 256
    assert width == 1 or width * steps * 8 <= 4 << 20
