"""Collocation sets and quadrature weights."""

import numpy as np
import pytest

from training.pinn import RandomSampler, SobolSampler, UniformGrid, trapezoid_weights

from .conftest import basket_put, bs_put, heston_put


@pytest.mark.parametrize("n", [2, 3, 11, 201])
def test_trapezoid_integrates_linear_polynomials_exactly(n):
    x = np.linspace(-1.0, 3.0, n)
    w = trapezoid_weights(n, -1.0, 3.0)
    assert w.sum() == pytest.approx(4.0, rel=1e-15)
    assert w @ (2.0 - 0.5 * x) == pytest.approx(2.0 * 4 - 0.25 * (9 - 1), rel=1e-14)


def test_trapezoid_error_on_quadratic_has_second_order():
    errs = []
    for n in (11, 21, 41):
        x = np.linspace(0.0, 1.0, n)
        errs.append(abs(trapezoid_weights(n, 0.0, 1.0) @ x**2 - 1.0 / 3.0))
    slope = np.polyfit(np.log([10, 20, 40]), np.log(errs), 1)[0]
    assert slope == pytest.approx(-2.0, abs=0.02)


def test_product_grid_weights_integrate_bilinear_exactly():
    p = basket_put()
    sets = UniformGrid(n_tau=7, n_space=(9, 5)).build(p)
    pts = np.concatenate([s.points for s in sets.values()])
    assert len(pts) == 7 * 9 * 5
    assert len(np.unique(pts, axis=0)) == len(pts)  # a partition: every grid point once
    inner = sets["interior"]
    t, x1, x2 = inner.points.T
    assert inner.weights.sum() == pytest.approx(1.0)
    assert t.min() > 0 and 0 < x1.min() and x1.max() < 400 and 0 < x2.min() and x2.max() < 400
    # Full-grid integral of a multilinear polynomial is exact (sum of per-set integrals).
    T, L = 0.5, 400.0
    vol = T * L * L
    f = lambda z: 1.0 + z[:, 0] * z[:, 1] / 100 - 3.0 * z[:, 2] + z[:, 0] * z[:, 1] * z[:, 2] / 1e4
    exact = vol * (1.0 + (T / 2) * (L / 2) / 100 - 3.0 * L / 2 + (T / 2) * (L / 2) ** 2 / 1e4)
    from training.pinn.collocation import trapezoid_weights as tw

    grid_w = np.einsum("i,j,k->ijk", tw(7, 0, T), tw(9, 0, L), tw(5, 0, L)).ravel()
    mesh = np.meshgrid(np.linspace(0, T, 7), np.linspace(0, L, 9), np.linspace(0, L, 5),
                       indexing="ij")
    z = np.stack([m.ravel() for m in mesh], axis=1)
    assert grid_w @ f(z) == pytest.approx(exact, rel=1e-13)


def test_grid_sets_lie_on_their_faces():
    p = heston_put()
    sets = UniformGrid(n_tau=5, n_space=(11, 6)).build(p)
    assert np.all(sets["initial"].points[:, 0] == 0.0)
    assert len(sets["initial"]) == 11 * 6
    for face in p.faces():
        ps = sets[face.name]
        bound = p.lower[face.axis] if face.side == "min" else p.upper[face.axis]
        assert np.all(ps.points[:, 1 + face.axis] == bound)
        assert np.all(ps.points[:, 0] > 0)
        assert ps.weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("sampler", [SobolSampler(64, 16, 8), RandomSampler(64, 16, 8)])
def test_samplers_fill_the_domain_and_faces(sampler):
    p = bs_put()
    sets = sampler.build(p, seed=1)
    assert len(sets["interior"]) == 64 and len(sets["initial"]) == 16
    z = sets["interior"].points
    assert np.all((z[:, 0] >= 0) & (z[:, 0] <= 1) & (z[:, 1] >= 0) & (z[:, 1] <= 400))
    assert np.all(sets["spot_max"].points[:, 1] == 400.0)
    assert np.all(sets["spot_min"].points[:, 1] == 0.0)
    again = sampler.build(p, seed=1)
    np.testing.assert_array_equal(again["interior"].points, z)
    other = sampler.build(p, seed=2)
    assert not np.array_equal(other["interior"].points, z)
