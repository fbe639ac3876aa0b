"""Model type -> driver that allocates outputs and calls the backend's kernel.

Drivers take ``encoded = product.encode(model.dim)``, the product's legs
``(aggs, kinds, strikes, quantities, weights)`` (see :mod:`simulators.products._payoff`), and
pass the arrays through to the kernels.
"""

from __future__ import annotations

import numpy as np

from . import _validation as v
from ._kernel_args import heston_columns, kernel_legs
from .bachelier import BachelierBasket
from .black_scholes import BlackScholes
from .bs_basket import BlackScholesBasket
from .heston import Heston, heston_block_width


def _black_scholes_cpu(model, product, encoded, x, seed, first_path, antithetic):
    from . import _cpu

    n, d = x.shape
    y = np.empty(n)
    dydx = np.empty((n, d))
    col_vol = model.inputs.index("vol") if "vol" in model.inputs else -1
    col_rate = model.inputs.index("rate") if "rate" in model.inputs else -1
    _cpu.black_scholes_kernel(x, col_vol, col_rate, model.vol, model.rate, model.dividend,
                              product.maturity, *kernel_legs(encoded), np.uint64(seed),
                              np.uint64(first_path), antithetic, y, dydx)
    return y, dydx


def _bachelier_cpu(model, product, encoded, x, seed, first_path, antithetic):
    from . import _cpu

    n, d = x.shape
    y = np.empty(n)
    dydx = np.empty((n, d))
    _cpu.bachelier_kernel(x, model.cholesky(), product.maturity, model.rate, *kernel_legs(encoded),
                          np.uint64(seed), np.uint64(first_path), antithetic, True, y, dydx)
    return y, dydx


def _bs_basket_cpu(model, product, encoded, x, seed, first_path, antithetic):
    from . import _cpu

    n, d = x.shape
    y = np.empty(n)
    dydx = np.empty((n, d))
    _cpu.bs_basket_kernel(x, model.cholesky(), np.asarray(model.vols),
                          np.asarray(model.dividends), model.vol_inputs, model.rate,
                          product.maturity, *kernel_legs(encoded), np.uint64(seed),
                          np.uint64(first_path), antithetic, y, dydx)
    return y, dydx




def _heston_cpu(model, product, encoded, x, seed, first_path, antithetic, with_gradient=True):
    from . import _cpu

    n, d = x.shape
    y = np.empty(n)
    dydx = np.zeros((n, d))
    steps = model.steps(product.maturity)
    _cpu.heston_kernel(x, heston_columns(model), model.kappa, model.theta, model.xi, model.rho,
                       model.rate, model.dividend, product.maturity,
                       steps, *kernel_legs(encoded), np.uint64(seed), np.uint64(first_path),
                       antithetic, with_gradient, heston_block_width(steps), y, dydx)
    return y, dydx


_CPU = {BlackScholes: _black_scholes_cpu, BachelierBasket: _bachelier_cpu,
        BlackScholesBasket: _bs_basket_cpu, Heston: _heston_cpu}


def _gpu_driver(model, product, encoded, x, seed, first_path, antithetic):
    """GPU driver (``_gpu.run``): same contract as the CPU drivers. Imports Numba-CUDA only
    when first used."""
    from . import _gpu

    return _gpu.run(model, product, encoded, x, seed, first_path, antithetic)


_GPU = {BlackScholes: _gpu_driver, BachelierBasket: _gpu_driver,
        BlackScholesBasket: _gpu_driver, Heston: _gpu_driver}


def driver(model, backend: str):
    table = _CPU if backend == "cpu" else _GPU
    fn = table.get(type(model))
    if fn is None:
        known = sorted(t.__name__ for t in table)
        v.fail("simulate", "model", f"one of {known} on backend {backend!r}",
               type(model).__name__)
    return fn
