"""Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11).

Every number is a pure function of ``(seed, stream, path, draw)``:

* key     = (seed & 0xFFFFFFFF, seed >> 32)
* counter = (draw // 4, stream, path & 0xFFFFFFFF, path >> 32)

One Philox call yields four 32-bit words, hence four uniforms ``u = (w + 0.5) / 2**32`` in (0, 1)
and four standard normals by Box-Muller on the pairs (w0, w1) and (w2, w3):
``z0 = r cos(2 pi u1)``, ``z1 = r sin(2 pi u1)``, ``r = sqrt(-2 log u0)``. Draw ``d`` of a path is lane
``d % 4`` of block ``d // 4``. Stream 0 carries the model's draws, stream 1 the sampler's, so a path's
numbers do not depend on chunking, thread count or device. The same functions compile for CUDA
(``numba.cuda.jit(device=True)``) since they use scalar integer arithmetic only.

With 32-bit uniforms the largest normal Box-Muller can return is sqrt(-2 log 2**-33) ~ 6.76.
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
_TWO_PI = 2.0 * math.pi

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


@njit(inline="always", cache=True)
def _box_muller(w0, w1):
    u0 = (float(w0) + 0.5) * _INV32
    u1 = (float(w1) + 0.5) * _INV32
    r = math.sqrt(-2.0 * math.log(u0))
    a = _TWO_PI * u1
    return r * math.cos(a), r * math.sin(a)


@njit(inline="always", cache=True)
def normal4(seed, stream, path, block):
    """Four standard normals: draws 4*block .. 4*block+3 of (seed, stream, path)."""
    w0, w1, w2, w3 = _words(seed, stream, path, block)
    z0, z1 = _box_muller(w0, w1)
    z2, z3 = _box_muller(w2, w3)
    return z0, z1, z2, z3


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
    """Standard normals of paths ``first_path .. first_path + n_paths - 1``, shape (n_paths, n_draws)."""
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
def normal_draw(seed, stream, path, draw):
    """The single standard normal number ``draw`` of (seed, stream, path)."""
    w0, w1, w2, w3 = _words(seed, stream, path, draw // 4)
    lane = draw % 4
    if lane >= 2:
        w0 = w2
        w1 = w3
    u0 = (float(w0) + 0.5) * _INV32
    u1 = (float(w1) + 0.5) * _INV32
    r = math.sqrt(-2.0 * math.log(u0))
    if lane % 2 == 0:
        return r * math.cos(_TWO_PI * u1)
    return r * math.sin(_TWO_PI * u1)
