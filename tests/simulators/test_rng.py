"""Philox4x32-10 known answers, normality, and independence from chunking and thread count."""

import platform

import numba
import numpy as np
import pytest
from numba import njit
from scipy import stats

from simulators import rng

# Known-answer vectors of the Random123 reference implementation (docs/methods.md section 3).
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_philox_known_answers(counter, key, expected):
    assert rng.philox(counter, key) == expected


def test_normals_pass_ks_and_moments():
    z = rng.normals(2024, 50_000, 4).ravel()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    se = 1.0 / np.sqrt(z.size)
    assert abs(z.mean()) < 4 * se
    assert abs(z.var() - 1.0) < 4 * np.sqrt(2.0) * se


def test_uniforms_pass_ks():
    u = rng.uniforms(5, 40_000, 4).ravel()
    assert u.min() > 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_draws_are_pure_functions_of_seed_path_draw():
    whole = rng.normals(11, 1000, 7)
    part = rng.normals(11, 300, 7, first_path=500)
    assert np.array_equal(whole[500:800], part)
    # the single-draw accessor agrees with the block fill
    assert rng.normal_draw(np.uint64(11), np.uint64(0), np.uint64(503), 5) == whole[503, 5]


def test_streams_and_seeds_differ():
    a = rng.normals(1, 1000, 2)
    assert not np.array_equal(a, rng.normals(2, 1000, 2))
    assert not np.array_equal(a, rng.normals(1, 1000, 2, stream=1))
    # different streams are uncorrelated
    b = rng.normals(1, 20_000, 1, stream=1).ravel()
    c = rng.normals(1, 20_000, 1, stream=0).ravel()
    assert abs(np.corrcoef(b, c)[0, 1]) < 4 / np.sqrt(20_000)


def test_thread_count_does_not_change_numbers():
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = rng.normals(3, 10_000, 3)
        numba.set_num_threads(max(2, before) if numba.config.NUMBA_NUM_THREADS >= 2 else 1)
        two = rng.normals(3, 10_000, 3)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one, two)


def test_large_path_indices_use_the_high_counter_word():
    lo = rng.normals(9, 2, 4, first_path=5)
    hi = rng.normals(9, 2, 4, first_path=5 + 2**32)
    assert not np.array_equal(lo, hi)


@pytest.mark.parametrize("kwargs,match", [
    ({"seed": -1, "n_paths": 1, "n_draws": 1}, "seed"),
    ({"seed": 1, "n_paths": 1, "n_draws": 1, "first_path": -3}, "first_path"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rng.normals(**kwargs)


@pytest.mark.parametrize("draw", [0, 1, 2, 3, 5, 10])
def test_block_normals_equal_single_draws(draw):
    from numba import njit

    @njit
    def block(first, m):
        u = np.empty(m)
        z = np.empty(m)
        rng.normal_block(np.uint64(21), np.uint64(0), np.uint64(first), draw, m, u, z)
        return z

    z = block(1000, 777)
    expected = rng.normals(21, 777, draw + 1, first_path=1000)[:, draw]
    assert np.array_equal(z, expected)


@njit(error_model="numpy")
def _block_draws(seed, stream, first, m, draw0, n_draws):
    z = np.empty((n_draws, m))
    work = np.empty((rng.BLOCK_SCRATCH_ROWS, m))
    idx = np.empty(m, dtype=np.int64)
    rng.normals_block(seed, stream, first, m, draw0, z, work, idx)
    return z


@njit
def _single_draws(seed, stream, first, m, draw0, n_draws):
    z = np.empty((n_draws, m))
    for k in range(n_draws):
        for j in range(m):
            z[k, j] = rng.normal_draw(seed, stream, first + np.uint64(j), draw0 + k)
    return z


@pytest.mark.parametrize("draw0,n_draws", [(0, 1), (5, 1), (2, 1), (7, 1), (0, 4), (1, 2), (3, 6),
                                          (5, 13)])
def test_blocks_of_every_size_equal_single_draws(draw0, n_draws):
    seed, stream, first = np.uint64(2**63 + 12345), np.uint64(0), np.uint64(2**32 - 30)
    for m in range(1, 68):
        block = _block_draws(seed, stream, first, m, draw0, n_draws)
        single = _single_draws(seed, stream, first, m, draw0, n_draws)
        assert np.array_equal(block.view(np.uint64), single.view(np.uint64)), m


@njit(error_model="numpy")
def _inverse_cdf_block(u):
    m = u.shape[0]
    z = np.empty(m)
    rng.inverse_normal_cdf_block(u, z, m, np.empty(m, dtype=np.int64), np.empty(m),
                                 np.empty(m))
    return z


@njit
def _inverse_cdf_single(u):
    return np.array([rng.inverse_normal_cdf(v) for v in u])


def test_inverse_cdf_block_equals_the_scalar_function_in_every_region():
    u = np.concatenate([np.linspace(1e-6, 1 - 1e-6, 20_001), np.logspace(-300, -1, 3000),
                        1 - np.logspace(-16, -1, 3000), [2.0**-33, 1 - 2.0**-33, 0.5]])
    u = np.random.default_rng(0).permutation(u)
    assert np.array_equal(_inverse_cdf_block(u).view(np.uint64),
                          _inverse_cdf_single(u).view(np.uint64))


def test_uniform_blocks_equal_the_uniforms():
    @njit
    def block(first, m, draw0, n_draws):
        out = np.empty((n_draws, m))
        rng.uniforms_block(np.uint64(8), np.uint64(1), first, m, draw0, out, np.empty((4, m)))
        return out

    expected = rng.uniforms(8, 45, 11, first_path=70, stream=rng.STREAM_SAMPLER)
    assert np.array_equal(block(np.uint64(70), 45, 0, 11), expected.T)
    assert np.array_equal(block(np.uint64(70), 45, 3, 6), expected.T[3:9])


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 assembly")
def test_block_draws_compile_to_simd():
    """Philox runs on packed 32x32->64-bit multiplies and the inverse CDF on packed divides and
    square roots (SSE2 or wider): the loops over paths are vectorised."""
    asm = _block_draws.inspect_asm(_block_draws.signatures[0])
    assert "pmuludq" in asm   # vpmuludq / pmuludq: packed, one path per lane
    assert "divpd" in asm     # vdivpd / divpd: packed rational functions
    assert "sqrtpd" in asm    # the tails' square roots, packed
