"""GPU drivers: Numba-CUDA kernels around the same per-path functions as the CPU kernels.

One source of truth
    The per-path code is written once, in plain ``@njit`` functions: ``rng.normal_draw``,
    ``black_scholes.bs_path``, ``bachelier.bachelier_path``, ``bs_basket.bs_basket_path`` and
    ``heston.heston_path`` (which call ``rng.fill_normals`` / ``rng.normal4`` and
    ``products._payoff``). The kernels below compile the very same Python source for the CUDA
    target (``cuda.jit(device=True, inline="always")`` of each function's ``py_func``, callees
    included), one path per thread with per-thread draws. The CPU kernels (``_cpu.py``) run the
    same operations in passes over blocks of paths, so that they vectorise: normals from
    ``rng.normals_block`` (the numbers of ``rng.normal_draw``), then the pieces of the per-path
    functions (``bs_exponent`` / ``bs_terminal``, ``heston_step`` / ``heston_step_adjoint``)
    or their block forms (``bachelier_block``, ``bs_basket_block``, ``payoff_block``) in loops
    over paths. Same Philox counters (seed, path, draw), same normals, same scheme: a GPU path
    equals its CPU path up to rounding. Under Numba's CUDA simulator the two agree to the last
    bit (``tests/simulators/test_gpu.py``); on a device NVVM contracts ``a * b + c`` into
    fused multiply-adds (one rounding instead of two), so expect agreement to about 1e-14
    relative, with rare larger differences on paths sitting on a payoff kink.

Launch shape and scratch memory
    Each kernel runs a grid-stride loop over paths: thread ``t`` of ``T`` (``T`` = at most
    ``MAX_THREADS`` resident-ish threads) handles paths ``t, t + T, t + 2T, ...``. Per-path
    scratch lives in *global* memory, laid out step-major (or asset-major): element ``k`` of
    thread ``t`` is ``scratch[k, t]``, i.e. address ``k * T + t``, so the 32 threads of a warp
    touch 32 consecutive doubles at every step (coalesced). Scratch is sized by ``T``, not by the
    number of paths: Heston with 252 steps needs 252 * T * 8 bytes (2 GiB for T = 2**20),
    whatever ``n_paths`` is.

    Heston's adjoint stores the variance path v_0..v_{N-1} in that buffer during the forward
    sweep and reads it back in the reverse sweep, regenerating the normals from the counters
    (no tape of normals). We chose the stored path over checkpointing (storing every m-th
    state in registers and recomputing segments): it is the CPU algorithm unchanged (hence
    shared code and identical results), costs 2 * 8 bytes of memory traffic per path-step
    (about 0.1 s of H200 bandwidth for 1e8 x 252 path-steps), and needs no per-thread local
    array, so there is no register spilling into local memory.

Arrays
    ``x`` is sampled on the host and copied to the device once. Outputs are Numba device
    arrays; ``run`` copies them to the host, while ``device_sample`` (for
    ``device_output=True``) keeps x, y and dydx on the device and converts them to CuPy arrays
    (zero-copy, via ``__cuda_array_interface__``) when CuPy is installed.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import config, cuda
from numba.core.dispatcher import Dispatcher

from ._kernel_args import heston_columns, kernel_legs
from .bachelier import BachelierBasket, bachelier_path
from .black_scholes import BlackScholes, bs_path
from .bs_basket import BlackScholesBasket, bs_basket_path
from .heston import Heston, heston_path
from .rng import normal_draw


def numpy_overloads_error(load: Callable[[], Any] | None = None) -> str | None:
    """Why numba-cuda cannot compile under this NumPy, or None. numba-cuda 0.30 registers an
    overload of ``np.row_stack``, which NumPy 2.5 removed, so its first kernel compilation fails
    deep inside numba-cuda; ``load`` (default: import those overloads) shows it up front."""
    if hasattr(np, "row_stack") or config.ENABLE_CUDASIM:
        return None
    if load is None:
        import importlib

        def load() -> Any:
            return importlib.import_module("numba.cuda.np.arrayobj")
    try:
        load()
    except ModuleNotFoundError:  # a numba.cuda without these overloads
        return None
    except AttributeError as exc:
        return (f"numba-cuda cannot load its NumPy overloads under numpy {np.__version__} "
                f"({exc}); install numpy<2.5 (the 'gpu' extra pins it) or a numba-cuda that "
                "supports this NumPy")
    return None


if (_why := numpy_overloads_error()) is not None:
    raise ImportError(_why)

THREADS_PER_BLOCK = 128
MAX_THREADS = 1 << 20  # grid-stride threads; scratch is (rows, MAX_THREADS) at most
SCRATCH_BYTES = 1 << 31  # float64 scratch per launch: fewer threads for long Heston paths


def _device(fn: Any, _memo: dict | None = None) -> Any:
    """The Python source of an ``@njit`` function compiled as a CUDA device function.

    Every ``@njit`` function it calls is rebound, recursively, to its own device function,
    inlined into the caller (Numba-CUDA would otherwise compile a non-inlined callee such as
    ``fill_normals`` separately, which needs a device at compile time). Under Numba's CUDA
    simulator the same rebinding lets the callees take the simulator's arrays.
    """
    memo = {} if _memo is None else _memo
    if fn in memo:
        return memo[fn]
    py = fn.py_func
    scope = dict(py.__globals__)
    func = types.FunctionType(py.__code__, scope, py.__name__, py.__defaults__, py.__closure__)
    opts = {} if config.ENABLE_CUDASIM else {"inline": "always"}
    memo[fn] = dev = cuda.jit(device=True, **opts)(func)
    for name, value in py.__globals__.items():
        if isinstance(value, Dispatcher) and name in py.__code__.co_names:
            scope[name] = _device(value, memo)
    return dev


_bs_path = _device(bs_path)
_normal_draw = _device(normal_draw)
_heston_path = _device(heston_path)
_bachelier_path = _device(bachelier_path)
_bs_basket_path = _device(bs_basket_path)


@cuda.jit
def _black_scholes_kernel(x, col_vol, col_rate, vol, rate, dividend, tau, aggs, kinds, strikes,
                          quantities, weights, seed, first_path, antithetic, y, dydx):
    """x: (n, d) inputs (spot, [vol], [rate]); writes y (n,) and dydx (n, d)."""
    n = x.shape[0]
    sqt = math.sqrt(tau)
    disc0 = math.exp(-rate * tau)
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        s0 = x[i, 0]
        sig = x[i, col_vol] if col_vol >= 0 else vol
        r = x[i, col_rate] if col_rate >= 0 else rate
        disc = math.exp(-r * tau) if col_rate >= 0 else disc0
        z = _normal_draw(seed, 0, first_path + np.uint64(i), 0)
        v, d_s, d_sig, d_r = _bs_path(s0, sig, r, dividend, tau, sqt, disc, z, aggs, kinds,
                                      strikes, quantities, weights)
        if antithetic:
            v2, d_s2, d_sig2, d_r2 = _bs_path(s0, sig, r, dividend, tau, sqt, disc, -z,
                                              aggs, kinds, strikes, quantities, weights)
            v = 0.5 * (v + v2)
            d_s = 0.5 * (d_s + d_s2)
            d_sig = 0.5 * (d_sig + d_sig2)
            d_r = 0.5 * (d_r + d_r2)
        y[i] = v
        dydx[i, 0] = d_s
        if col_vol >= 0:
            dydx[i, col_vol] = d_sig
        if col_rate >= 0:
            dydx[i, col_rate] = d_r


@cuda.jit
def _bachelier_kernel(x, chol, tau, rate, aggs, kinds, strikes, quantities, weights, seed,
                      first_path, antithetic, with_gradient, zs, ss, gs, y, dydx):
    """``bachelier_path`` per path; scratch zs, ss, gs: (d, T) asset-major, column t per thread."""
    n = x.shape[0]
    t = cuda.grid(1)
    sqt = math.sqrt(tau)
    disc = math.exp(-rate * tau)
    z = zs[:, t]
    s = ss[:, t]
    g = gs[:, t]
    for i in range(t, n, cuda.gridsize(1)):
        y[i] = _bachelier_path(x[i], chol, sqt, disc, aggs, kinds, strikes, quantities,
                               weights, seed, first_path + np.uint64(i), antithetic,
                               with_gradient, z, s, g, dydx[i])


@cuda.jit
def _bs_basket_kernel(x, chol, vols, dividends, vol_inputs, rate, tau, aggs, kinds, strikes,
                      quantities, weights, seed, first_path, antithetic, zs, ws, sigs, ss, gs, y,
                      dydx):
    """``bs_basket_path`` per path; scratch (d, T) asset-major, column t per thread."""
    n = x.shape[0]
    t = cuda.grid(1)
    sqt = math.sqrt(tau)
    disc = math.exp(-rate * tau)
    z = zs[:, t]
    w = ws[:, t]
    sig = sigs[:, t]
    s = ss[:, t]
    g = gs[:, t]
    for i in range(t, n, cuda.gridsize(1)):
        y[i] = _bs_basket_path(x[i], chol, vols, dividends, vol_inputs, rate, tau, sqt, disc,
                               aggs, kinds, strikes, quantities, weights, seed,
                               first_path + np.uint64(i), antithetic, z, w, sig, s, g, dydx[i])


@cuda.jit
def _heston_kernel(x, cols, kappa0, theta0, xi0, rho0, rate0, dividend, tau, steps, aggs, kinds,
                   strikes, quantities, weights, seed, first_path, antithetic, with_gradient,
                   vs_all, y, dydx):
    """Heston forward + reverse sweep per path (``heston_path``); vs_all: (steps, T) step-major."""
    n, m = x.shape
    t = cuda.grid(1)
    vs = vs_all[:, t]
    for i in range(t, n, cuda.gridsize(1)):
        kappa = x[i, cols[0]] if cols[0] >= 0 else kappa0
        theta = x[i, cols[1]] if cols[1] >= 0 else theta0
        xi = x[i, cols[2]] if cols[2] >= 0 else xi0
        rho = x[i, cols[3]] if cols[3] >= 0 else rho0
        r = x[i, cols[4]] if cols[4] >= 0 else rate0
        out = _heston_path(x[i, 0], x[i, 1], kappa, theta, xi, rho, r, dividend, tau, steps,
                           aggs, kinds, strikes, quantities, weights, seed,
                           first_path + np.uint64(i), antithetic, with_gradient, vs)
        y[i] = out[0]
        for j in range(m):
            dydx[i, j] = 0.0
        if with_gradient:
            dydx[i, 0] = out[1]
            dydx[i, 1] = out[2]
            for c in range(5):
                if cols[c] >= 0:
                    dydx[i, cols[c]] = out[3 + c]


@cuda.jit
def _scale_cast_kernel(src, factor, dst):
    """dst = factor * src elementwise (any dtypes), src and dst flattened 1-D views."""
    for i in range(cuda.grid(1), src.shape[0], cuda.gridsize(1)):
        dst[i] = factor * src[i]


# --------------------------------------------------------------------------------------------
# Launch plans: kernel, arguments and outputs. ``alloc(shape)`` returns an uninitialised float64
# array: ``cuda.device_array`` for a launch, ``np.empty`` to compile for a device without one.


def _threads(n: int, scratch_rows: int = 0) -> tuple[int, int]:
    """(blocks, threads per block) of the grid-stride launch for ``n`` paths, each thread
    owning one column of ``scratch_rows`` float64 scratch rows: at most :data:`MAX_THREADS`
    threads, and at most :data:`SCRATCH_BYTES` of scratch (at least one block). The number of
    threads changes the speed, never the numbers: each path is computed the same way by
    whichever thread takes it."""
    tpb = THREADS_PER_BLOCK
    total = min(max(n, 1), MAX_THREADS)
    if scratch_rows > 0:
        total = min(total, max(tpb, SCRATCH_BYTES // (8 * scratch_rows) // tpb * tpb))
    blocks = (total + tpb - 1) // tpb
    return blocks, tpb


def _scratch_rows(model: Any, d: int, tau: float) -> int:
    """float64 rows of per-thread scratch the model's plan allocates (see the ``_plan_*``)."""
    if isinstance(model, Heston):
        return int(model.steps(tau))
    if isinstance(model, BlackScholesBasket):
        return 5 * model.dim
    if isinstance(model, BachelierBasket):
        return 3 * d
    return 0


def _plan_black_scholes(model, x, tau, legs, seed, first, antithetic, alloc, to_dev, d,
                        n_threads):
    y, dydx = alloc((x.shape[0],)), alloc((x.shape[0], d))
    col_vol = model.inputs.index("vol") if "vol" in model.inputs else -1
    col_rate = model.inputs.index("rate") if "rate" in model.inputs else -1
    args = (x, col_vol, col_rate, model.vol, model.rate, model.dividend, tau, *legs, seed,
            first, bool(antithetic), y, dydx)
    return _black_scholes_kernel, args, y, dydx


def _plan_bachelier(model, x, tau, legs, seed, first, antithetic, alloc, to_dev, d, n_threads):
    y, dydx = alloc((x.shape[0],)), alloc((x.shape[0], d))
    scratch = [alloc((d, n_threads)) for _ in range(3)]
    args = (x, to_dev(model.cholesky()), tau, float(model.rate), *legs, seed, first,
            bool(antithetic), True, *scratch, y, dydx)
    return _bachelier_kernel, args, y, dydx


def _plan_bs_basket(model, x, tau, legs, seed, first, antithetic, alloc, to_dev, d, n_threads):
    y, dydx = alloc((x.shape[0],)), alloc((x.shape[0], d))
    scratch = [alloc((model.dim, n_threads)) for _ in range(5)]
    args = (x, to_dev(model.cholesky()), to_dev(np.asarray(model.vols, dtype=np.float64)),
            to_dev(np.asarray(model.dividends, dtype=np.float64)), bool(model.vol_inputs),
            float(model.rate), tau, *legs, seed, first, bool(antithetic), *scratch, y, dydx)
    return _bs_basket_kernel, args, y, dydx


def _plan_heston(model, x, tau, legs, seed, first, antithetic, alloc, to_dev, d, n_threads):
    y, dydx = alloc((x.shape[0],)), alloc((x.shape[0], d))
    steps = int(model.steps(tau))
    args = (x, to_dev(heston_columns(model)), model.kappa, model.theta, model.xi, model.rho,
            model.rate, model.dividend, tau, steps, *legs, seed, first, bool(antithetic),
            True, alloc((steps, n_threads)), y, dydx)
    return _heston_kernel, args, y, dydx


PLANS: dict[type, Callable[..., tuple]] = {
    BlackScholes: _plan_black_scholes, BachelierBasket: _plan_bachelier,
    BlackScholesBasket: _plan_bs_basket, Heston: _plan_heston,
}
"""Model type -> its launch plan (kernel, arguments, outputs); the GPU side of
``simulators._dispatch``'s tables."""


def plan(model: Any, product: Any, encoded: tuple, x: Any, seed: int, first_path: int,
         antithetic: bool, alloc: Callable[[tuple], Any],
         to_dev: Callable[[np.ndarray], Any] | None = None) -> tuple:
    """(kernel, args, (blocks, tpb), y, dydx) for one model.

    ``x`` (n, d) float64 is already where the kernel runs; ``encoded`` is the product's legs
    ``(aggs, kinds, strikes, quantities, weights)`` (``product.encode(model.dim)``, see
    :mod:`simulators.products._payoff`); ``alloc(shape)`` makes the outputs and the scratch
    buffers, ``to_dev`` moves small parameter arrays (Cholesky factor, the legs).
    With ``alloc=np.empty`` and no ``to_dev`` the arguments only serve to compile the kernel
    (``cuda.compile_ptx``) on a machine without a device.
    """
    make = PLANS.get(type(model))
    if make is None:
        raise TypeError(f"no GPU kernel for {type(model).__name__}")
    to_dev = to_dev or (lambda a: a)
    legs = tuple(to_dev(a) for a in kernel_legs(encoded))
    n, d = x.shape
    grid = _threads(n, _scratch_rows(model, d, float(product.maturity)))
    kernel, args, y, dydx = make(model, x, float(product.maturity), legs, np.uint64(seed),
                                 np.uint64(first_path), antithetic, alloc, to_dev, d,
                                 grid[0] * grid[1])
    return kernel, args, grid, y, dydx


def launch(model: Any, product: Any, encoded: tuple, x_dev: Any, seed: int, first_path: int,
           antithetic: bool) -> tuple[Any, Any]:
    """Run the model's kernel on device inputs ``x_dev``; returns device arrays (y, dydx)."""
    kernel, args, (blocks, tpb), y, dydx = plan(
        model, product, encoded, x_dev, seed, first_path, antithetic,
        alloc=lambda shape: cuda.device_array(shape, dtype=np.float64), to_dev=cuda.to_device)
    kernel[blocks, tpb](*args)
    return y, dydx


def run(model: Any, product: Any, encoded: tuple, x: np.ndarray, seed: int, first_path: int,
        antithetic: bool) -> tuple[np.ndarray, np.ndarray]:
    """The ``_dispatch`` driver contract: host x in, host (y, dydx) out."""
    x_dev = cuda.to_device(np.ascontiguousarray(x, dtype=np.float64))
    y, dydx = launch(model, product, encoded, x_dev, seed, first_path, antithetic)
    return y.copy_to_host(), dydx.copy_to_host()


def _as_cupy(a: Any) -> Any:
    """A CuPy view of a Numba device array when CuPy is installed, else the array itself
    (always itself under the CUDA simulator, whose arrays live in host memory)."""
    if config.ENABLE_CUDASIM:
        return a
    try:
        import cupy
    except ImportError:
        return a
    return cupy.asarray(a)


def _scaled(a: Any, factor: float, dtype: str) -> Any:
    """factor * a on the device, in ``dtype`` (a new device array unless nothing changes)."""
    if factor == 1.0 and dtype == "float64":
        return a
    out = cuda.device_array(a.shape, dtype=np.dtype(dtype))
    flat_in, flat_out = a.reshape(a.size), out.reshape(out.size)
    blocks, tpb = _threads(a.size)
    _scale_cast_kernel[blocks, tpb](flat_in, float(factor), flat_out)
    return out


def device_sample(model: Any, product: Any, encoded: tuple, x: np.ndarray, seed: int,
                  first_path: int, antithetic: bool, factor: float,
                  dtype: str) -> tuple[Any, Any, Any]:
    """Device (x, y, dydx) for ``simulate(..., device_output=True)``: x is copied to the device
    once (float64, the kernels' input) and cast there; the XVA factor is applied and the dtype
    cast on the device; CuPy arrays when CuPy is installed."""
    x_dev = cuda.to_device(np.ascontiguousarray(x, dtype=np.float64))
    y, dydx = launch(model, product, encoded, x_dev, seed, first_path, antithetic)
    return tuple(_as_cupy(_scaled(a, f, dtype)) for a, f in ((x_dev, 1.0), (y, factor),
                                                             (dydx, factor)))
