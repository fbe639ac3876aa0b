"""One-step transitions of each model's state, and their vector-Jacobian products.

``transition(model, x, dt, seed)`` moves the states ``x`` (n, d), d = ``len(model.state_inputs)``,
forward by ``dt`` years under the model's risk-neutral dynamics (drift rate - dividend for the
lognormal models and Heston's spot; Bachelier's assets are driftless forwards), without
discounting. ``transition_vjp(model, x, dt, seed, cotangent)`` returns the same ``x_next``, bit
for bit (same normals, same operations), and ``x_bar[i] = cotangent[i] @ d x_next[i] / d x[i]``:
the model's adjoint seeded with an arbitrary cotangent of the next state instead of
e^{-r tau} h'(S_T). The dynamics and their adjoints are the models' own code
(``black_scholes.bs_exponent`` / ``bs_terminal_adjoint``, the basket passes of ``bs_basket`` and
``bachelier``, ``heston.heston_forward_sweep`` / ``heston_reverse_sweep`` over
``heston_step`` / ``heston_step_adjoint``); only the normals' stream differs.

Schemes (one call, row i, path p = first_path + i):

* ``BlackScholes``: S' = S exp((r - q - sigma^2/2) dt + sigma sqrt(dt) Z); S-bar = c S' / S.
* ``BlackScholesBasket``: S'_a = S_a exp((r - q_a - sigma_a^2/2) dt + sigma_a sqrt(dt) W_a),
  W = L Z, L the lower Cholesky factor of ``correlation``; S-bar_a = c_a S'_a / S_a.
* ``BachelierBasket``: S' = S + sqrt(dt) L Z, L the lower Cholesky factor of the covariance
  diag(vols) C diag(vols); dS'/dS = I, so S-bar = c.
* ``Heston``: N = ``model.steps(dt)`` log-Euler full-truncation steps of dt / N from
  (ln S, v); returns (S_N, max(v_N, 0)) (the scheme from a negative variance equals the scheme
  from 0, so a returned state is a valid input). The reverse sweep starts from
  ln S-bar = c_S S_N and v-bar = c_v where v_N > 0 (0 elsewhere), reads the stored
  sqrt(v_k+ dt / N) and regenerates the normals (no tape of normals); at a truncated v_k+ = 0
  the derivative of sqrt(v_k+) is taken as 0, as in ``heston.heston_path``.

Only the model's scalar parameters are used (``vol``, ``rate``, ``dividend``, ``vols``,
``correlation``, ``dividends``, ``kappa``, ``theta``, ``xi``, ``rho``); x holds the state columns
only, whatever extra inputs the model samples.

Draw layout. Every normal is ``rng.normals(seed, n, n_draws, first_path=first_path,
stream=rng.STREAM_TRANSITION + date)[i, k]`` (``STREAM_TRANSITION`` = 3; date in
[0, 2**31 - 3)), with draw k:

* ``BlackScholes``: n_draws = 1, k = 0 is Z.
* ``BlackScholesBasket``, ``BachelierBasket`` (d assets): n_draws = d, k = a is Z_a, the
  independent normal of asset a (before the Cholesky factor).
* ``Heston``: n_draws = 2 N, k = 2 j is Z1 (spot) and k = 2 j + 1 is Z2 (the independent part of
  the variance shock, rho Z1 + sqrt(1 - rho^2) Z2) of step j = 0 .. N - 1.

With ``antithetic=True`` every normal is negated: the mirror path of the same draws (averaging a
function over both halves its odd part, a variance reduction of conditional expectations).

:func:`n_draws` gives n_draws. Path p's numbers depend on (seed, date, p) only: calls on rows
[0, k) with first_path = f and on rows [k, n) with first_path = f + k concatenate, bit for bit,
to the call on [0, n) with first_path = f, whatever the thread count.

Kernels: Numba ``parallel=True`` loops over blocks of 256 paths (CPU only), drawing each block's
normals together (``rng.normals_block``) and running the models' passes over the block, as the
simulators' CPU kernels (``simulators._cpu``) do.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import _validation as v
from ._passes import exp_rows, fill_rows, gather_columns, lower_matvec, scatter_columns
from .bachelier import BachelierBasket
from .bachelier import _terminal as _bachelier_terminal
from .black_scholes import BlackScholes, bs_exponent, bs_terminal_adjoint
from .bs_basket import BlackScholesBasket
from .bs_basket import _exponents as _bs_basket_exponents
from .bs_basket import _gradient as _bs_basket_gradient
from .bs_basket import _terminal as _bs_basket_terminal
from .heston import Heston, heston_block_width, heston_forward_sweep, heston_reverse_sweep
from .rng import BLOCK_SCRATCH_ROWS, STREAM_TRANSITION, draw_normals_block, normals_block

__all__ = ["DATES", "n_draws", "spot_mean", "transition", "transition_vjp"]

BLOCK = 256  # paths per block of draws
DATES = 2**31 - STREAM_TRANSITION
"""``date`` lies in [0, DATES): stream STREAM_TRANSITION + date stays below 2**31."""

MODELS = (BlackScholes, BlackScholesBasket, BachelierBasket, Heston)


# ------------------------------------------------------------------------------------------------
# Public API


def transition(model, x, dt: float, seed: int, *, date: int = 0, first_path: int = 0,
               antithetic: bool = False) -> np.ndarray:
    """The states ``x`` after ``dt`` years under the model's risk-neutral dynamics.

    Args:
        model: BlackScholes, BlackScholesBasket, BachelierBasket or Heston (scalar parameters).
        x: states, shape (n, d), d = ``len(model.state_inputs)``, columns in that order; finite,
            spots > 0 for the lognormal models, variance >= 0 for Heston.
        dt: the step in years, > 0.
        seed: RNG key in [0, 2**64).
        date: index of the step's date in [0, DATES): its normals come from stream
            ``rng.STREAM_TRANSITION + date`` (see the module's draw layout).
        first_path: path index of row 0 (row i uses path first_path + i), >= 0.
        antithetic: use the negated normals of each path (the mirror of the same draws).

    Returns:
        x_next, float64 of shape (n, d), not discounted.
    """
    return _run("transition", model, x, dt, seed, None, date, first_path, antithetic)[0]


def transition_vjp(model, x, dt: float, seed: int, cotangent, *, date: int = 0,
                   first_path: int = 0, antithetic: bool = False
                   ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`transition` and its vector-Jacobian product on the same normals.

    Args:
        model, x, dt, seed, date, first_path, antithetic: as :func:`transition`.
        cotangent: c, shape (n, d) (that of x), finite: a cotangent of x_next per row.

    Returns:
        (x_next, x_bar): x_next as :func:`transition` (bit for bit) and
        ``x_bar[i, :] = c[i, :] @ d x_next[i, :] / d x[i, :]``, both float64 of shape (n, d).
    """
    return _run("transition_vjp", model, x, dt, seed, cotangent, date, first_path,
                antithetic)


def spot_mean(model, spots, dt: float) -> np.ndarray:
    """E[S' | S]: the conditional mean of the spots after :func:`transition` by ``dt`` years.

    S e^{(r - q) dt} for BlackScholes and Heston (exact for Heston's log-Euler scheme too: each
    step's e^{(r - q - v+/2) h + sqrt(v+ h) Z1} has mean e^{(r - q) h}), S_a e^{(r - q_a) dt} for
    BlackScholesBasket, S for BachelierBasket (driftless). ``spots``: shape (n, model.dim), the
    spot columns of x (finite); returns float64 (n, model.dim).
    """
    owner = "spot_mean"
    if not isinstance(model, MODELS):
        v.fail(owner, "model", "one of " + ", ".join(m.__name__ for m in MODELS),
               type(model).__name__)
    dt = v.positive(owner, "dt", dt)
    dim = int(model.dim)
    s = _array(owner, "spots", spots, f"(n, {dim})")
    if s.shape[1] != dim:
        v.fail(owner, "spots", f"a 2-D array of shape (n, {dim})", f"shape {s.shape}")
    if isinstance(model, BachelierBasket):
        return s.copy()
    if isinstance(model, BlackScholesBasket):
        return s * np.exp((model.rate - np.asarray(model.dividends)) * dt)
    return s * math.exp((model.rate - model.dividend) * dt)


def n_draws(model, dt: float) -> int:
    """Normals drawn per path by a step of ``dt`` years: 1 (Black-Scholes), the number of
    assets (baskets), 2 ``model.steps(dt)`` (Heston)."""
    if isinstance(model, Heston):
        return 2 * model.steps(dt, "dt", "n_draws")
    return len(model.state_inputs)


# ------------------------------------------------------------------------------------------------
# Validation and dispatch


def _run(owner: str, model, x, dt, seed, cotangent, date, first_path, antithetic):
    """Validates the arguments, allocates the outputs and runs the model's kernel."""
    if not isinstance(model, MODELS):
        v.fail(owner, "model", "one of " + ", ".join(m.__name__ for m in MODELS),
               type(model).__name__)
    xs = _state(owner, model, x)
    n, d = xs.shape
    dt = v.positive(owner, "dt", dt)
    seed = _integer(owner, "seed", seed, 0, 2**64, "[0, 2**64)")
    date = _integer(owner, "date", date, 0, DATES, f"[0, 2**31 - {STREAM_TRANSITION})")
    first_path = _integer(owner, "first_path", first_path, 0, 2**64 - max(n, 1) + 1,
                          f"[0, 2**64 - n] (n = {n})")
    if not isinstance(antithetic, (bool, np.bool_)):
        v.fail(owner, "antithetic", "a bool", antithetic)
    sign = -1.0 if antithetic else 1.0
    with_vjp = cotangent is not None
    cot = _cotangent(owner, cotangent, xs.shape) if with_vjp else np.empty((0, d))
    x_next = np.empty((n, d))
    x_bar = np.empty((n, d)) if with_vjp else np.empty((0, d))
    args = (np.uint64(seed), np.uint64(STREAM_TRANSITION + date), np.uint64(first_path), sign,
            cot, with_vjp, x_next, x_bar)
    if isinstance(model, BlackScholes):
        _black_scholes_kernel(xs, model.vol, model.rate, model.dividend, dt, *args)
    elif isinstance(model, BlackScholesBasket):
        _bs_basket_kernel(xs, model.cholesky(), np.asarray(model.vols, dtype=np.float64),
                          np.asarray(model.dividends, dtype=np.float64), model.rate, dt, *args)
    elif isinstance(model, BachelierBasket):
        _bachelier_kernel(xs, model.cholesky(), dt, *args[:4], x_next)
        if with_vjp:
            x_bar[:] = cot  # dS'/dS = I
    else:
        steps = model.steps(dt, "dt", owner)
        _heston_kernel(xs, model.kappa, model.theta, model.xi, model.rho, model.rate,
                       model.dividend, dt, steps, heston_block_width(steps), *args)
    return x_next, x_bar


def _integer(owner: str, field: str, value, low: int, high: int, allowed: str) -> int:
    """An integer in [low, high) (bools refused); ``allowed`` spells the range for the error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (
        low <= int(value) < high
    ):
        v.fail(owner, field, f"an integer in {allowed}", value)
    return int(value)


def _array(owner: str, field: str, value, shape_rule: str) -> np.ndarray:
    """``value`` as a C-contiguous float64 2-D array, finite."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        v.fail(owner, field, "an array of real numbers", type(value).__name__)
    if a.ndim != 2:
        v.fail(owner, field, f"a 2-D array of shape {shape_rule}", f"shape {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        v.fail(owner, field, "finite", f"{a[i, j]} at row {i}, column {j}")
    return np.ascontiguousarray(a)


def _state(owner: str, model, x) -> np.ndarray:
    """x checked against the model's state: shape (n, d), finite, spots > 0 (lognormal models),
    variance >= 0 (Heston)."""
    names = tuple(model.state_inputs)
    d = len(names)
    rule = f"(n, {d}) (columns {', '.join(names)})"
    xs = _array(owner, "x", x, rule)
    if xs.shape[1] != d:
        v.fail(owner, "x", f"a 2-D array of shape {rule}", f"shape {xs.shape}")
    lognormal = not isinstance(model, BachelierBasket)
    for j, name in enumerate(names):
        col = xs[:, j]
        if name == "variance":
            if (col < 0.0).any():
                v.fail(owner, f"x ({name})", f">= 0 for {type(model).__name__}",
                       float(col[np.argmax(col < 0.0)]))
        elif lognormal and (col <= 0.0).any():
            v.fail(owner, f"x ({name})", f"> 0 for {type(model).__name__}",
                   float(col[np.argmax(col <= 0.0)]))
    return xs


def _cotangent(owner: str, cotangent, shape: tuple[int, int]) -> np.ndarray:
    """The cotangent: finite, of the shape of x."""
    rule = f"{shape} (the shape of x)"
    c = _array(owner, "cotangent", cotangent, rule)
    if c.shape != shape:
        v.fail(owner, "cotangent", f"of shape {rule}", f"shape {c.shape}")
    return c


# ------------------------------------------------------------------------------------------------
# Kernels: x (n, d) float64 C-contiguous; seed, stream, first_path uint64; cot and x_bar (n, d)
# when with_vjp, else (0, d) and untouched; x_next (n, d) written.


@njit(parallel=True, cache=True, error_model="numpy")
def _black_scholes_kernel(x, vol, rate, dividend, dt, seed, stream, first_path, sign, cot,
                          with_vjp, x_next, x_bar):
    """Per block of paths, as ``_cpu.black_scholes_kernel``: the normals
    (``rng.normals_block``), the exponents (``bs_exponent``), their exponentials (libm), S' = S
    growth, then S-bar = ``bs_terminal_adjoint`` from S'-bar = c."""
    n = x.shape[0]
    sqt = math.sqrt(dt)
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        zs = np.empty((1, BLOCK))
        buf = np.empty((BLOCK_SCRATCH_ROWS, BLOCK))
        idx = np.empty(BLOCK, dtype=np.int64)
        normals_block(seed, stream, first_path + np.uint64(lo), m, 0, zs, buf, idx)
        z, growth = zs[0], buf[0]
        for j in range(m):
            z[j] *= sign
        for j in range(m):
            growth[j] = bs_exponent(vol, rate, dividend, dt, sqt, z[j])
        for j in range(m):
            growth[j] = math.exp(growth[j])
        for j in range(m):
            x_next[lo + j, 0] = x[lo + j, 0] * growth[j]
        if with_vjp:
            for j in range(m):
                i = lo + j
                x_bar[i, 0] = bs_terminal_adjoint(x[i, 0], vol, dt, sqt, z[j], x_next[i, 0],
                                                  cot[i, 0])[0]


@njit(inline="always", cache=True)
def _signed_normals(seed, stream, first, m, sign, zs, buf, idx):
    """The block's normals (``rng.draw_normals_block``, one row per asset) times ``sign``."""
    draw_normals_block(seed, stream, first, m, 0, zs, buf, idx)
    for a in range(zs.shape[0]):
        for j in range(m):
            zs[a, j] *= sign


@njit(parallel=True, cache=True, error_model="numpy")
def _bs_basket_kernel(x, chol, vols, dividends, rate, dt, seed, stream, first_path, sign, cot,
                      with_vjp, x_next, x_bar):
    """Per block of paths, the passes of ``bs_basket.bs_basket_block``: the normals, one row per
    asset; W = L Z; the exponents; their exponentials; S' = S exp(...); then the gradient pass
    (``bs_basket._gradient``) from S'-bar = c: S-bar_a = c_a S'_a / S_a."""
    n = x.shape[0]
    d = chol.shape[0]
    sqt = math.sqrt(dt)
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        zs = np.empty((d, BLOCK))
        buf = np.empty((max(6 * d, BLOCK_SCRATCH_ROWS), BLOCK))
        idx = np.empty(BLOCK, dtype=np.int64)
        _signed_normals(seed, stream, first_path + np.uint64(lo), m, sign, zs, buf, idx)
        xs, sig, w = buf[0:d], buf[d:2 * d], buf[2 * d:3 * d]
        s, g, acc = buf[3 * d:4 * d], buf[4 * d:5 * d], buf[5 * d:6 * d]
        gather_columns(x, lo, m, 0, xs)
        for a in range(d):
            sig[a, :m] = vols[a]
        lower_matvec(chol, zs, m, w)
        _bs_basket_exponents(w, sig, 1.0, rate, dividends, dt, sqt, m, s)
        exp_rows(s, m)
        _bs_basket_terminal(xs, m, s)
        scatter_columns(s, 1.0, lo, m, 0, x_next)
        if with_vjp:
            gather_columns(cot, lo, m, 0, g)
            fill_rows(acc, m, 0.0)
            _bs_basket_gradient(g, s, xs, w, sig, sqt, dt, False, m, acc)
            scatter_columns(acc, 1.0, lo, m, 0, x_bar)


@njit(parallel=True, cache=True, error_model="numpy")
def _bachelier_kernel(x, chol, dt, seed, stream, first_path, sign, x_next):
    """Per block of paths, the passes of ``bachelier.bachelier_block``: the normals, one row per
    asset, then S' = S + sqrt(dt) (L Z). (The vector-Jacobian product is the cotangent.)"""
    n, d = x.shape
    sqt = math.sqrt(dt)
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        m = min(n, lo + BLOCK) - lo
        zs = np.empty((d, BLOCK))
        buf = np.empty((max(2 * d, BLOCK_SCRATCH_ROWS), BLOCK))
        idx = np.empty(BLOCK, dtype=np.int64)
        _signed_normals(seed, stream, first_path + np.uint64(lo), m, sign, zs, buf, idx)
        xs, s = buf[0:d], buf[d:2 * d]
        gather_columns(x, lo, m, 0, xs)
        lower_matvec(chol, zs, m, s)
        _bachelier_terminal(xs, sqt, m, s)
        scatter_columns(s, 1.0, lo, m, 0, x_next)


_HESTON_ROWS = 17  # rows of the Heston kernel's float64 scratch


@njit(parallel=True, cache=True, error_model="numpy")
def _heston_kernel(x, kappa, theta, xi, rho, rate, dividend, dt, steps, width, seed, stream,
                   first_path, sign, cot, with_vjp, x_next, x_bar):
    """Per block of ``width`` paths (``heston.heston_block_width(steps)``), as
    ``heston.heston_block``: the forward sweep (``heston_forward_sweep``, storing the block's
    sqrt(v_k+ h), h = dt / steps: steps x width doubles, at most 4 MiB), then (S_N, max(v_N, 0)),
    then the reverse sweep (``heston_reverse_sweep``) from ln S-bar = c_S S_N and
    v-bar = c_v [v_N > 0]: S-bar = ln S-bar / S_0, v-bar of v_0."""
    n = x.shape[0]
    h = dt / steps
    for b in prange((n + width - 1) // width):
        lo = b * width
        m = min(n, lo + width) - lo
        buf = np.empty((_HESTON_ROWS, width))
        vs = np.empty((steps, width))
        zs = np.empty((4, width))
        z2 = np.empty((2, width))
        work = np.empty((BLOCK_SCRATCH_ROWS, width))
        idx = np.empty(width, dtype=np.int64)
        kap, the, xis, rhos, rs, srho = buf[0], buf[1], buf[2], buf[3], buf[4], buf[5]
        rho_srho, s0, xl, var, xbar, vbar = buf[6], buf[7], buf[8], buf[9], buf[10], buf[11]
        kb, tb, xib, rhob, rb = buf[12], buf[13], buf[14], buf[15], buf[16]
        for j in range(m):
            kap[j] = kappa
            the[j] = theta
            xis[j] = xi
            rhos[j] = rho
            rs[j] = rate
            srho[j] = math.sqrt(max(1.0 - rhos[j] * rhos[j], 0.0))
            rho_srho[j] = rhos[j] / srho[j] if srho[j] > 0.0 else 0.0
            s0[j] = x[lo + j, 0]
            xl[j] = math.log(s0[j])
            var[j] = x[lo + j, 1]
        fp = first_path + np.uint64(lo)
        heston_forward_sweep(seed, stream, fp, m, steps, sign, xl, var, vs, rs, dividend, kap,
                             the, xis, rhos, srho, h, zs, z2, work, idx)
        for j in range(m):
            x_next[lo + j, 0] = math.exp(xl[j])
            x_next[lo + j, 1] = max(var[j], 0.0)
        if not with_vjp:
            continue
        for j in range(m):
            i = lo + j
            xbar[j] = cot[i, 0] * x_next[i, 0]
            vbar[j] = cot[i, 1] if var[j] > 0.0 else 0.0
            kb[j] = 0.0
            tb[j] = 0.0
            xib[j] = 0.0
            rhob[j] = 0.0
            rb[j] = 0.0
        heston_reverse_sweep(seed, stream, fp, m, steps, sign, vs, xbar, vbar, kb, tb, xib, rhob,
                             rb, kap, the, xis, rhos, srho, rho_srho, h, zs, z2, work, idx)
        for j in range(m):
            x_bar[lo + j, 0] = xbar[j] / s0[j]
            x_bar[lo + j, 1] = vbar[j]
