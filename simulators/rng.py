"""Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11).

Every number is a pure function of ``(seed, stream, path, draw)``:

* key     = (seed & 0xFFFFFFFF, seed >> 32)
* counter = (draw // 4, stream, path & 0xFFFFFFFF, path >> 32)

One Philox call yields four 32-bit words, hence four uniforms ``u = (w + 0.5) / 2**32`` in (0, 1)
and four standard normals ``z = Phi^{-1}(u)`` by Wichura's algorithm AS241 (PPND16, relative error
about 1e-16; rational functions only in the central region |u - 1/2| <= 0.425, one log and one
square root in the tails). Draw ``d`` of a path is lane ``d % 4`` of block ``d // 4``.
Stream 0 carries the model's draws, streams 1 and 2 the sampler's, so a path's
numbers do not depend on chunking, thread count or device. The same functions compile for CUDA
(``numba.cuda.jit(device=True)``) since they use scalar integer arithmetic only.

With 32-bit uniforms the normals lie in [-6.23, 6.23] (Phi^{-1}(2**-33)); the inverse CDF maps
each uniform to one normal, so a path's draw d depends on one word only.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
_INV32 = 1.0 / 4294967296.0

# Identifies the algorithms that turn (seed, path, draw) into numbers; datasets hash it, so a
# change here regenerates them instead of reusing numbers made by the old algorithm.
NUMBERS_VERSION = "philox4x32-10/as241/1"


def numbers_id(backend: str) -> str:
    """The ``numbers`` a dataset made on ``backend`` ("cpu" or "gpu") records and hashes.

    The CPU's is :data:`NUMBERS_VERSION`. A CUDA device evaluates the same draws and the same
    arithmetic, but its compiler fuses ``a * b + c`` into one rounding and takes ``exp``/``log``
    from libdevice, so the last bits differ (and compound over Heston's steps): its numbers are
    ``NUMBERS_VERSION + "/cuda"``, and a GPU dataset never shares a hash with a CPU one.
    """
    if backend == "cpu":
        return NUMBERS_VERSION
    if backend == "gpu":
        return NUMBERS_VERSION + "/cuda"
    raise ValueError(f"The 'backend' argument of numbers_id must be 'cpu' or 'gpu'. Got "
                     f"{backend!r} instead.")


def backend_of_numbers(numbers: str) -> str:
    """The backend, "cpu" or "gpu", whose :func:`numbers_id` is ``numbers`` (any version)."""
    return "gpu" if numbers.endswith("/cuda") else "cpu"

STREAM_MODEL = 0
STREAM_SAMPLER = 1
# Stream 2 is the samplers' uniforms (``samplers.STREAM_UNIFORM``). The one-step transitions
# (``simulators.transition``) of date ``t`` draw on stream STREAM_TRANSITION + t, t in
# [0, 2**31 - STREAM_TRANSITION), so their streams never meet the model's or the samplers'.
STREAM_TRANSITION = 3


@njit(inline="always", cache=True)
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 block function on uint64 words holding 32-bit values."""
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        hi0 = p0 >> _SHIFT
        lo0 = p0 & _MASK
        hi1 = p1 >> _SHIFT
        lo1 = p1 & _MASK
        c0 = hi1 ^ c1 ^ k0
        c1 = lo1
        c2 = hi0 ^ c3 ^ k1
        c3 = lo0
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


@njit(inline="always", cache=True)
def _words(seed, stream, path, block):
    s = np.uint64(seed)
    p = np.uint64(path)
    return philox4x32(
        np.uint64(block) & _MASK,
        np.uint64(stream) & _MASK,
        p & _MASK,
        p >> _SHIFT,
        s & _MASK,
        s >> _SHIFT,
    )


# Wichura (1988), Algorithm AS241 PPND16: coefficients of the three rational approximations.
_A = (3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3,
      1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
      3.3430575583588128105e4, 2.5090809287301226727e3)
_B = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
      2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4,
      5.2264952788528545610e3)
_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
      3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
      2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
      1.05075007164441684324e-9)
_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
      2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
      2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
      2.04426310338993978564e-15)


@njit(inline="always", cache=True)
def _poly7(c, x):
    return ((((((c[7] * x + c[6]) * x + c[5]) * x + c[4]) * x + c[3]) * x + c[2]) * x
            + c[1]) * x + c[0]


@njit(inline="always", cache=True)
def inverse_normal_cdf(u):
    """Phi^{-1}(u) for u in (0, 1), Wichura's AS241 (relative error about 1e-16)."""
    q = u - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return q * _poly7(_A, r) / _poly7(_B, r)
    r = u if q < 0.0 else 1.0 - u
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        z = _poly7(_C, r) / _poly7(_D, r)
    else:
        r -= 5.0
        z = _poly7(_E, r) / _poly7(_F, r)
    return -z if q < 0.0 else z


@njit(inline="always", cache=True)
def _normal(w):
    return inverse_normal_cdf((float(w) + 0.5) * _INV32)


@njit(inline="always", cache=True)
def normal4(seed, stream, path, block):
    """Four standard normals: draws 4*block .. 4*block+3 of (seed, stream, path)."""
    w0, w1, w2, w3 = _words(seed, stream, path, block)
    return _normal(w0), _normal(w1), _normal(w2), _normal(w3)


@njit(inline="always", cache=True)
def uniform4(seed, stream, path, block):
    """Four uniforms in (0, 1): draws 4*block .. 4*block+3 of (seed, stream, path)."""
    w0, w1, w2, w3 = _words(seed, stream, path, block)
    return (
        (float(w0) + 0.5) * _INV32,
        (float(w1) + 0.5) * _INV32,
        (float(w2) + 0.5) * _INV32,
        (float(w3) + 0.5) * _INV32,
    )


@njit(cache=True)
def fill_normals(seed, stream, path, out):
    """Write draws 0 .. len(out)-1 of one path into ``out`` (a 1-D float64 array)."""
    n = out.shape[0]
    for b in range((n + 3) // 4):
        z0, z1, z2, z3 = normal4(seed, stream, path, b)
        j = 4 * b
        out[j] = z0
        if j + 1 < n:
            out[j + 1] = z1
        if j + 2 < n:
            out[j + 2] = z2
        if j + 3 < n:
            out[j + 3] = z3


@njit(cache=True)
def fill_uniforms(seed, stream, path, out):
    n = out.shape[0]
    for b in range((n + 3) // 4):
        u0, u1, u2, u3 = uniform4(seed, stream, path, b)
        j = 4 * b
        out[j] = u0
        if j + 1 < n:
            out[j + 1] = u1
        if j + 2 < n:
            out[j + 2] = u2
        if j + 3 < n:
            out[j + 3] = u3


def _check(seed: int, first_path: int, n_paths: int, n_draws: int, stream: int,
           owner: str) -> None:
    """One-line ValueErrors naming ``owner`` and the argument: integers (not bools) in range,
    and paths within the 2**64 counters, which would otherwise wrap around silently."""
    for name, value, top in (("seed", seed, 2**64), ("stream", stream, 2**32),
                             ("first_path", first_path, 2**64), ("n_paths", n_paths, 2**64),
                             ("n_draws", n_draws, 2**32)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (
                0 <= int(value) < top):
            raise ValueError(f"The '{name}' argument of rng.{owner} must be an integer in "
                             f"[0, 2**{top.bit_length() - 1}). Got {value!r} instead.")
    if int(first_path) + int(n_paths) > 2**64:
        raise ValueError(f"The paths of rng.{owner} must lie below 2**64: first_path "
                         f"{first_path} + n_paths {n_paths} exceeds it.")


def normals(
    seed: int, n_paths: int, n_draws: int, *, first_path: int = 0, stream: int = STREAM_MODEL
) -> np.ndarray:
    """Standard normals of paths ``first_path ..``, shape (n_paths, n_draws)."""
    _check(seed, first_path, n_paths, n_draws, stream, "normals")
    out = np.empty((n_paths, n_draws), dtype=np.float64)
    _normals_kernel(np.uint64(seed), np.uint64(stream), np.uint64(first_path), out)
    return out


def uniforms(
    seed: int, n_paths: int, n_draws: int, *, first_path: int = 0, stream: int = STREAM_MODEL
) -> np.ndarray:
    """Uniforms in (0, 1) of paths ``first_path ..``, shape (n_paths, n_draws)."""
    _check(seed, first_path, n_paths, n_draws, stream, "uniforms")
    out = np.empty((n_paths, n_draws), dtype=np.float64)
    _uniforms_kernel(np.uint64(seed), np.uint64(stream), np.uint64(first_path), out)
    return out


def philox(counter, key) -> tuple[int, int, int, int]:
    """Philox4x32-10 of a 4-word counter and a 2-word key (Python ints), for known-answer checks."""
    c = [np.uint64(int(w) & 0xFFFFFFFF) for w in counter]
    k = [np.uint64(int(w) & 0xFFFFFFFF) for w in key]
    return tuple(int(w) for w in philox4x32(c[0], c[1], c[2], c[3], k[0], k[1]))


# ------------------------------------------------------------------------------------------------
# Blocks of draws (CPU kernels). The same numbers as the per-path functions above, computed in
# passes over a block of paths: straight-line loops that LLVM turns into SIMD code (packed 32x32
# -> 64-bit multiplies for Philox, packed divides and square roots for the inverse CDF). Only
# the tails' logarithm stays a scalar libm call, so that every bit matches ``math.log``.
# Kernels that call these functions compile with ``error_model="numpy"``: Numba's default
# ("python") guards every division with a zero test, which stops the vectoriser (the guard
# never fires here; the divisors are positive).


@njit(inline="always", cache=True)
def philox_uniforms_block(seed, stream, first_path, block, m, ub):
    """``ub[l, j]`` = uniform of lane ``l`` (draw ``4 * block + l``) of path ``first_path + j``,
    for ``j < m`` (``ub``: float64 (4, >= m)). Philox4x32-10 on uint64 lanes holding 32-bit
    words, one path per SIMD lane; the key schedule is the same for every path."""
    s = np.uint64(seed)
    fp = np.uint64(first_path)
    b = np.uint64(block) & _MASK
    c1 = np.uint64(stream) & _MASK
    k0 = s & _MASK
    k1 = s >> _SHIFT
    for j in range(m):
        p = fp + np.uint64(j)
        w0, w1, w2, w3 = philox4x32(b, c1, p & _MASK, p >> _SHIFT, k0, k1)
        ub[0, j] = (float(w0) + 0.5) * _INV32
        ub[1, j] = (float(w1) + 0.5) * _INV32
        ub[2, j] = (float(w2) + 0.5) * _INV32
        ub[3, j] = (float(w3) + 0.5) * _INV32


@njit(inline="always", cache=True)
def _lane_words(seed, stream, first_path, block, lane, m, u):
    """``u[j]`` = uniform of lane ``lane`` of Philox block ``block`` of path ``first_path + j``.
    Called with a literal ``lane``, so that the word's selection folds away and the loop
    vectorises (a selection on a run-time lane compiles to a switch, which does not)."""
    s = np.uint64(seed)
    fp = np.uint64(first_path)
    b = np.uint64(block) & _MASK
    c1 = np.uint64(stream) & _MASK
    k0 = s & _MASK
    k1 = s >> _SHIFT
    for j in range(m):
        p = fp + np.uint64(j)
        w0, w1, w2, w3 = philox4x32(b, c1, p & _MASK, p >> _SHIFT, k0, k1)
        w = w0 if lane == 0 else (w1 if lane == 1 else (w2 if lane == 2 else w3))
        u[j] = (float(w) + 0.5) * _INV32


@njit(inline="always", cache=True)
def philox_uniform_lane_block(seed, stream, first_path, draw, m, u):
    """``u[j]`` = uniform draw ``draw`` of path ``first_path + j``, for ``j < m``: one lane of
    :func:`philox_uniforms_block` (the other three words are computed, not converted)."""
    block = draw // 4
    lane = draw % 4
    if lane == 0:
        _lane_words(seed, stream, first_path, block, 0, m, u)
    elif lane == 1:
        _lane_words(seed, stream, first_path, block, 1, m, u)
    elif lane == 2:
        _lane_words(seed, stream, first_path, block, 2, m, u)
    else:
        _lane_words(seed, stream, first_path, block, 3, m, u)


@njit(inline="always", cache=True)
def inverse_normal_cdf_block(u, z, m, idx, tr, tz):
    """``z[j] = inverse_normal_cdf(u[j])`` for ``j < m``, bit for bit, in five passes: the
    central rational function for every lane (vectorised; the tail lanes are overwritten
    later) with the tail flags (bytes over ``tz``), the tail lanes' indices (branch-free
    compaction into ``idx``), their logarithms (scalar libm ``log``, as in
    ``inverse_normal_cdf``), their square roots and rational functions (vectorised, over the
    compacted lanes), and the scatter back with the sign. ``idx`` (int64), ``tr`` and ``tz``
    (float64, contiguous) are scratch of length >= m. The deep tail r > 5 (u < 1.4e-11, never
    reached by 32-bit uniforms, whose smallest is 2**-33 with r = 4.78) is evaluated in the
    scatter pass."""
    tail = tz.view(np.uint8)  # tail flags, computed with the central pass
    for j in range(m):
        q = u[j] - 0.5
        r = 0.180625 - q * q
        z[j] = q * _poly7(_A, r) / _poly7(_B, r)
        tail[j] = abs(q) > 0.425
    nt = 0
    for j in range(m):
        idx[nt] = j
        nt += tail[j]
    for t in range(nt):
        uj = u[idx[t]]
        tr[t] = math.log(uj if uj - 0.5 < 0.0 else 1.0 - uj)
    for t in range(nt):
        r = math.sqrt(-tr[t])
        tr[t] = r
        r -= 1.6
        tz[t] = _poly7(_C, r) / _poly7(_D, r)
    for t in range(nt):
        j = idx[t]
        v = tz[t]
        if tr[t] > 5.0:
            r = tr[t] - 5.0
            v = _poly7(_E, r) / _poly7(_F, r)
        z[j] = -v if u[j] - 0.5 < 0.0 else v


BLOCK_SCRATCH_ROWS = 6
"""Rows of the float64 scratch of :func:`normals_block` (4 lanes of uniforms, 2 for the tails)."""


@njit(inline="always", cache=True)
def normals_block(seed, stream, first_path, m, draw0, z, work, idx):
    """``z[k, j]`` = draw ``draw0 + k`` of path ``first_path + j`` (the number of
    :func:`normal_draw`), for ``k < z.shape[0]`` and ``j < m``: one row per draw, contiguous
    over paths. ``work``: float64 (BLOCK_SCRATCH_ROWS, >= m) and ``idx``: int64 (>= m) scratch.
    Each Philox block (four draws of every path) is computed once."""
    nd = z.shape[0]
    if nd == 0 or m == 0:
        return
    if nd == 1:  # one word of the Philox block
        philox_uniform_lane_block(seed, stream, first_path, draw0, m, work[0])
        inverse_normal_cdf_block(work[0], z[0], m, idx, work[4], work[5])
        return
    for b in range(draw0 // 4, (draw0 + nd - 1) // 4 + 1):
        philox_uniforms_block(seed, stream, first_path, b, m, work)
        for lane in range(4):
            k = 4 * b + lane - draw0
            if 0 <= k < nd:
                inverse_normal_cdf_block(work[lane], z[k], m, idx, work[4], work[5])


@njit(cache=True, error_model="numpy")
def draw_normals_block(seed, stream, first_path, m, draw0, z, work, idx):
    """:func:`normals_block` compiled on its own, for kernels whose loops are large: called
    rather than inlined, it is optimised (and vectorised) on its own, whatever surrounds it."""
    normals_block(seed, stream, first_path, m, draw0, z, work, idx)


@njit(inline="always", cache=True)
def uniforms_block(seed, stream, first_path, m, draw0, out, work):
    """``out[k, j]`` = uniform draw ``draw0 + k`` of path ``first_path + j`` (as
    :func:`uniform4`), for ``k < out.shape[0]``, ``j < m``; ``work``: float64 (4, >= m)."""
    nd = out.shape[0]
    if nd == 0 or m == 0:
        return
    for b in range(draw0 // 4, (draw0 + nd - 1) // 4 + 1):
        philox_uniforms_block(seed, stream, first_path, b, m, work)
        for lane in range(4):
            k = 4 * b + lane - draw0
            if 0 <= k < nd:
                for j in range(m):
                    out[k, j] = work[lane, j]


@njit(inline="always", cache=True)
def normal_block(seed, stream, first_path, draw, m, u, z):
    """Draw ``draw`` of paths ``first_path .. first_path + m - 1`` into ``z[:m]`` (``u`` is
    scratch of the same length): :func:`normals_block` for a single draw."""
    work = np.empty((2, m))
    idx = np.empty(m, dtype=np.int64)
    philox_uniform_lane_block(seed, stream, first_path, draw, m, u)
    inverse_normal_cdf_block(u, z, m, idx, work[0], work[1])


KERNEL_BLOCK = 256  # paths per block of draws in the CPU kernels


@njit(parallel=True, cache=True, error_model="numpy")
def _normals_kernel(seed, stream, first_path, out):
    n, nd = out.shape
    for b in prange((n + KERNEL_BLOCK - 1) // KERNEL_BLOCK):
        lo = b * KERNEL_BLOCK
        m = min(n, lo + KERNEL_BLOCK) - lo
        z = np.empty((nd, KERNEL_BLOCK))
        work = np.empty((BLOCK_SCRATCH_ROWS, KERNEL_BLOCK))
        idx = np.empty(KERNEL_BLOCK, dtype=np.int64)
        normals_block(seed, stream, first_path + np.uint64(lo), m, 0, z, work, idx)
        for j in range(m):
            for k in range(nd):
                out[lo + j, k] = z[k, j]


@njit(parallel=True, cache=True, error_model="numpy")
def _uniforms_kernel(seed, stream, first_path, out):
    n, nd = out.shape
    for b in prange((n + KERNEL_BLOCK - 1) // KERNEL_BLOCK):
        lo = b * KERNEL_BLOCK
        m = min(n, lo + KERNEL_BLOCK) - lo
        u = np.empty((nd, KERNEL_BLOCK))
        work = np.empty((4, KERNEL_BLOCK))
        uniforms_block(seed, stream, first_path + np.uint64(lo), m, 0, u, work)
        for j in range(m):
            for k in range(nd):
                out[lo + j, k] = u[k, j]


@njit(inline="always", cache=True)
def normal_draw(seed, stream, path, draw):
    """The single standard normal number ``draw`` of (seed, stream, path)."""
    w0, w1, w2, w3 = _words(seed, stream, path, draw // 4)
    lane = draw % 4
    if lane == 0:
        return _normal(w0)
    if lane == 1:
        return _normal(w1)
    if lane == 2:
        return _normal(w2)
    return _normal(w3)
