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

STREAM_MODEL = 0
STREAM_SAMPLER = 1


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


@njit(parallel=True, cache=True)
def _normals_kernel(seed, stream, first_path, out):
    for i in prange(out.shape[0]):
        fill_normals(seed, stream, first_path + i, out[i])


@njit(parallel=True, cache=True)
def _uniforms_kernel(seed, stream, first_path, out):
    for i in prange(out.shape[0]):
        fill_uniforms(seed, stream, first_path + i, out[i])


def _check(seed: int, first_path: int, n_paths: int, n_draws: int) -> None:
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"The 'seed' argument must be in [0, 2**64). Got {seed!r} instead.")
    if int(first_path) < 0:
        raise ValueError(f"The 'first_path' argument must be >= 0. Got {first_path!r} instead.")
    if n_paths < 0 or n_draws < 0:
        raise ValueError(f"Counts must be >= 0. Got n_paths={n_paths}, n_draws={n_draws}.")


def normals(
    seed: int, n_paths: int, n_draws: int, *, first_path: int = 0, stream: int = STREAM_MODEL
) -> np.ndarray:
    """Standard normals of paths ``first_path ..``, shape (n_paths, n_draws)."""
    _check(seed, first_path, n_paths, n_draws)
    out = np.empty((n_paths, n_draws), dtype=np.float64)
    _normals_kernel(np.uint64(seed), np.uint64(stream), np.uint64(first_path), out)
    return out


def uniforms(
    seed: int, n_paths: int, n_draws: int, *, first_path: int = 0, stream: int = STREAM_MODEL
) -> np.ndarray:
    """Uniforms in (0, 1) of paths ``first_path ..``, shape (n_paths, n_draws)."""
    _check(seed, first_path, n_paths, n_draws)
    out = np.empty((n_paths, n_draws), dtype=np.float64)
    _uniforms_kernel(np.uint64(seed), np.uint64(stream), np.uint64(first_path), out)
    return out


def philox(counter, key) -> tuple[int, int, int, int]:
    """Philox4x32-10 of a 4-word counter and a 2-word key (Python ints), for known-answer checks."""
    c = [np.uint64(int(w) & 0xFFFFFFFF) for w in counter]
    k = [np.uint64(int(w) & 0xFFFFFFFF) for w in key]
    return tuple(int(w) for w in philox4x32(c[0], c[1], c[2], c[3], k[0], k[1]))


@njit(inline="always", cache=True)
def normal_block(seed, stream, first_path, draw, m, u, z):
    """Draw ``draw`` of paths ``first_path .. first_path + m - 1`` into ``z[:m]`` (``u`` is
    scratch of the same length). The same numbers as ``normal_draw``, computed in passes over
    the block (Philox words, then the central rational function for every lane, then the tails)
    so that the compiler can vectorise across paths."""
    block = draw // 4
    lane = draw % 4
    for j in range(m):
        w0, w1, w2, w3 = _words(seed, stream, first_path + j, block)
        w = w0 if lane == 0 else (w1 if lane == 1 else (w2 if lane == 2 else w3))
        u[j] = (float(w) + 0.5) * _INV32
    for j in range(m):
        q = u[j] - 0.5
        r = 0.180625 - q * q
        z[j] = q * _poly7(_A, r) / _poly7(_B, r)
    for j in range(m):
        if abs(u[j] - 0.5) > 0.425:
            z[j] = inverse_normal_cdf(u[j])


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
