"""The inverse normal CDF behind every normal draw, against SciPy's ndtri."""

import numpy as np
from numba import njit
from scipy.special import ndtri

from simulators import rng


@njit(cache=False)
def _apply(u):
    out = np.empty_like(u)
    for i in range(u.shape[0]):
        out[i] = rng.inverse_normal_cdf(u[i])
    return out


def test_matches_ndtri_to_round_off_in_every_region():
    central = np.linspace(0.075, 0.925, 20_001)            # |u - 1/2| <= 0.425
    tails = np.concatenate([np.logspace(-12, np.log10(0.075), 5000),
                            1 - np.logspace(-12, np.log10(0.075), 5000)])  # r <= 5
    deep = np.logspace(-300, -12, 2000)                    # r > 5
    u = np.concatenate([central, tails, deep])
    z, ref = _apply(u), ndtri(u)
    assert np.max(np.abs(z - ref) / np.maximum(np.abs(ref), 1e-3)) < 5e-15


def test_normals_are_the_inverse_cdf_of_the_uniforms():
    u = rng.uniforms(17, 100, 8)
    z = rng.normals(17, 100, 8)
    np.testing.assert_allclose(z, ndtri(u), rtol=5e-15, atol=5e-15)
