"""``simulate``: validate once, sample the inputs, run the model's kernel, apply the XVA factor."""

from __future__ import annotations

import logging
import time

import numpy as np

from . import _validation as v
from .products import BasketOption, BestOf, European, NettingSet, WorstOf, payoff_sign
from .sample import Sample
from .samplers import FixedSampler, ForwardSampler, UniformSampler
from .xva import XVA

log = logging.getLogger(__name__)

BACKENDS = ("cpu", "gpu", "auto")
DTYPES = ("float64", "float32")


def _gpu_problem() -> str | None:
    """Why the GPU backend cannot run here (no numba-cuda, no device, or a numba-cuda that
    cannot compile under this NumPy), or None."""
    try:
        from numba import cuda

        if not cuda.is_available():
            return "no CUDA device is usable"
    except Exception as exc:  # noqa: BLE001 - any failure means no usable GPU
        return f"numba.cuda is not usable ({type(exc).__name__}: {exc})"
    try:
        from . import _gpu  # noqa: F401 - its import checks numba-cuda against NumPy
    except ImportError as exc:
        return str(exc)
    return None


def _gpu_usable() -> bool:
    return _gpu_problem() is None


def _check_finite(x, y, dydx, inputs: tuple[str, ...], dtype: str, model=None,
                  sampler=None) -> None:
    """Raise ``OverflowError`` naming the first input, payoff or gradient column that holds a
    non-finite value. One summation per array on the fast path (a finite sum means finite
    entries, except for sums past the float64 range, which the column check then clears).
    On the slow path, a sampled input outside the model's domain (a ``ForwardSampler`` whose
    spots underflow to 0) is named first, as a ``ValueError``: it is the cause."""
    xp = np
    if type(x).__module__.startswith("cupy"):  # device output as CuPy arrays
        import cupy as xp  # type: ignore[no-redef]
    elif not isinstance(x, np.ndarray):  # Numba device arrays (no CuPy): checked on the host
        x, y, dydx = x.copy_to_host(), y.copy_to_host(), dydx.copy_to_host()
    with np.errstate(over="ignore", invalid="ignore"):
        if all(np.isfinite(float(a.sum())) for a in (x, y, dydx)):
            return
    if model is not None and isinstance(x, np.ndarray):
        from .samplers import domain_rule, outside_domain

        for j, name in enumerate(inputs):
            bad = outside_domain(model, name, x[:, j])
            if bad.any():
                raise ValueError(
                    f"simulate: the {type(sampler).__name__} drew input {name!r} outside its "
                    f"domain ({domain_rule(model, name)} for {type(model).__name__}) on "
                    f"{int(bad.sum())} of {len(bad)} paths (first: {float(x[bad.argmax(), j])!r}"
                    "); check the sampler's parameters (a ForwardSampler's horizon and "
                    "vol_mult)")
    hint = ("its range is about 3.4e38: use dtype='float64' or smaller parameters"
            if dtype == "float32" else "check the model's and sampler's parameters")
    columns = ([(x[:, j], f"input {name!r}") for j, name in enumerate(inputs)]
               + [(y, "discounted payoff")]
               + [(dydx[:, j], f"pathwise derivative d payoff / d {name!r}")
                  for j, name in enumerate(inputs)])
    for values, what in columns:
        bad = int((~xp.isfinite(values)).sum())
        if bad:
            raise OverflowError(
                f"simulate: the {what} is not finite on {bad} of {len(values)} paths "
                f"({dtype}; {hint})")


def _check_objects(model, product, sampler, xva) -> None:
    """``TypeError`` naming the first of model, product, sampler and xva that has the wrong
    type."""
    from .bachelier import BachelierBasket
    from .black_scholes import BlackScholes
    from .bs_basket import BlackScholesBasket
    from .heston import Heston

    v.instance_of("simulate", "model", model,
                  (BlackScholes, BachelierBasket, BlackScholesBasket, Heston))
    v.instance_of("simulate", "product", product,
                  (European, BasketOption, WorstOf, BestOf, NettingSet))
    v.instance_of("simulate", "sampler", sampler, (FixedSampler, UniformSampler, ForwardSampler))
    if xva is not None:
        v.instance_of("simulate", "xva", xva, (XVA,))


def resolve_backend(backend: str) -> str:
    """'cpu' or 'gpu'; 'auto' picks the GPU when CUDA is usable, else the CPU (logged at INFO
    on every call that falls back)."""
    v.choice("simulate", "backend", backend, BACKENDS)
    if backend == "auto":
        if _gpu_usable():
            return "gpu"
        log.info("backend='auto': running on the CPU (%s)",
                 _gpu_problem() or "no usable CUDA device")
        return "cpu"
    if backend == "gpu" and not _gpu_usable():
        raise RuntimeError(
            "backend='gpu' needs a CUDA device and the 'gpu' extra (pip install 'diffml[gpu]'); "
            f"here: {_gpu_problem() or 'no CUDA device is usable'}. Use backend='cpu' or "
            "'auto'."
        )
    return backend


def simulate(
    model,
    product,
    sampler,
    n_paths: int,
    seed: int,
    *,
    first_path: int = 0,
    antithetic: bool = False,
    xva=None,
    backend: str = "cpu",
    dtype: str = "float64",
    device_output: bool = False,
) -> Sample:
    """Simulate ``n_paths`` training examples (x, y, dy/dx).

    Args:
        model: BlackScholes, BachelierBasket, BlackScholesBasket or Heston.
        product: European, BasketOption, WorstOf, BestOf or NettingSet; ``product.maturity`` is
            the time from the input date to expiry in years.
        sampler: FixedSampler, UniformSampler or ForwardSampler giving the inputs x.
        n_paths: number of rows, >= 1.
        seed: RNG key in [0, 2**64).
        first_path: index of the first path, so that [0, k) and [k, n) concatenate to [0, n).
        antithetic: average each path with its mirror (normals negated, same x).
        xva: optional ``XVA`` (None: risk-free); labels and differentials of a one-signed payoff
            (``product.sign`` = +1 or -1, e.g. a call spread netting set) are multiplied by
            e^{-c tau}. A payoff that can change sign (``product.sign`` = 0: a forward, a collar
            netting set) is refused: its risky value solves a non-linear PDE.
        backend: "cpu", "gpu" or "auto".
        dtype: "float64" (default) or "float32" (computed in float64, stored in float32).
        device_output: on the GPU, keep x, y and dydx on the device (CuPy arrays when CuPy is
            installed, else Numba device arrays; ``Sample.to_numpy()`` copies them back; hand
            them to torch with ``torch.from_dlpack``, see docs/gpu.md). Ignored when
            backend="auto" falls back to the CPU; refused with backend="cpu".

    Returns:
        A ``Sample`` with x (n, d), y (n,), dydx (n, d); y is discounted to the input date.

    Raises:
        TypeError: model, product, sampler or xva is not one of the classes above.
        ValueError: any other argument out of its range (the message names it).
    """
    from . import _dispatch

    _check_objects(model, product, sampler, xva)
    n_paths = v.positive_int("simulate", "n_paths", n_paths)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        v.fail("simulate", "seed", "an integer in [0, 2**64)", seed)
    if isinstance(first_path, bool) or not isinstance(first_path, (int, np.integer)) or (
        first_path < 0
    ):
        v.fail("simulate", "first_path", "an integer >= 0", first_path)
    if int(first_path) + n_paths > 2**64:
        v.fail("simulate", "first_path", f"at most 2**64 - n_paths ({n_paths}): path indices are "
               "64-bit counters", first_path)
    for flag, value in (("antithetic", antithetic), ("device_output", device_output)):
        if not isinstance(value, (bool, np.bool_)):
            v.fail("simulate", flag, "True or False", value)
    v.choice("simulate", "dtype", dtype, DTYPES)
    if device_output and backend == "cpu":
        v.fail("simulate", "device_output", "False with backend='cpu' (device arrays need "
               "backend='gpu' or 'auto')", device_output)
    backend = resolve_backend(backend)
    device_output = bool(device_output) and backend == "gpu"
    driver = _dispatch.driver(model, backend)
    encoded = product.encode(model.dim)
    sampler.validate(model)
    factor = 1.0
    if xva is not None:
        sign = payoff_sign(product, model)
        if sign == 0:
            raise ValueError(
                f"XVA-adjusted Monte-Carlo labels need a payoff of one sign; {product!r} can "
                "change sign (sign 0), so the risky value is non-linear in the payoff. Use the "
                "non-linear PDE references instead (evaluation.fd or training.pinn with the same "
                "XVA)."
            )
        factor = xva.factor(product.maturity, sign)

    t0 = time.perf_counter()
    x = np.ascontiguousarray(sampler.sample(model, int(seed), int(first_path), n_paths),
                             dtype=np.float64)
    t1 = time.perf_counter()
    if device_output:  # x copied once; XVA factor and dtype applied on the device
        from . import _gpu

        x, y, dydx = _gpu.device_sample(model, product, encoded, x, int(seed), int(first_path),
                                        bool(antithetic), factor, dtype)
        t2 = time.perf_counter()
    else:
        y, dydx = driver(model, product, encoded, x, int(seed), int(first_path),
                         bool(antithetic))
        t2 = time.perf_counter()
        if factor != 1.0:
            y *= factor
            dydx *= factor
        if dtype == "float32":
            with np.errstate(over="ignore"):  # an overflow is reported by _check_finite
                x, y, dydx = (x.astype(np.float32), y.astype(np.float32),
                              dydx.astype(np.float32))
    _check_finite(x, y, dydx, tuple(model.inputs), dtype, model, sampler)
    stats = {"sample_seconds": t1 - t0, "simulate_seconds": t2 - t1, "xva_factor": factor}
    return Sample(x=x, y=y, dydx=dydx, inputs=tuple(model.inputs), model=model, product=product,
                  sampler=sampler, seed=int(seed), first_path=int(first_path),
                  antithetic=bool(antithetic), xva=xva, backend=backend, stats=stats)
