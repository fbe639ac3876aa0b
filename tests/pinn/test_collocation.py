"""Collocation sets and quadrature weights."""

import numpy as np
import pytest

from training.pinn import (
    ClusteredGrid,
    RandomSampler,
    SobolSampler,
    UniformGrid,
    trapezoid_weights,
)
from training.pinn.collocation import (
    collocation_from_dict,
    stretched_nodes,
    trapezoid_weights_nodes,
)

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
    # The full grid's tensor trapezoid rule integrates a multilinear polynomial exactly (the
    # sets' own weights: test_set_weights_are_the_normalised_trapezoid_products_at_their_points).
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


def _hand_trapezoid(x: np.ndarray) -> np.ndarray:
    """Trapezoid weights of increasing nodes: half the distance between each node's neighbours
    (half the one interval at the ends)."""
    w = np.empty_like(x)
    w[1:-1] = 0.5 * (x[2:] - x[:-2])
    w[0], w[-1] = 0.5 * (x[1] - x[0]), 0.5 * (x[-1] - x[-2])
    return w


@pytest.mark.parametrize("grid", [UniformGrid(n_tau=6, n_space=(9, 5)),
                                  ClusteredGrid(n_tau=6, n_space=(9, 5), tau_power=2.0)])
@pytest.mark.parametrize("problem", [bs_put, basket_put])
def test_set_weights_are_the_normalised_trapezoid_products_at_their_points(grid, problem):
    """Each set's weight at a grid point is the product of the per-axis trapezoid weights of
    that point's nodes, divided by the set's sum: the tensor-product rule, renormalised per set
    (nodes recovered from the points, weights computed by hand)."""
    p = problem()
    if p.dim == 1:
        grid = type(grid)(**{**grid.__dict__, "n_space": grid.n_space[0]})
    sets = grid.build(p)
    pts = np.concatenate([s.points for s in sets.values()])
    axes = [np.unique(pts[:, k]) for k in range(pts.shape[1])]
    assert [len(a) for a in axes] == [6, 9, 5][: 1 + p.dim]
    for ps in sets.values():
        w = np.ones(len(ps))
        for k, nodes in enumerate(axes):
            w *= _hand_trapezoid(nodes)[np.searchsorted(nodes, ps.points[:, k])]
        np.testing.assert_allclose(ps.weights, w / w.sum(), rtol=1e-12, err_msg=ps.name)


def test_node_state_weights_weigh_every_state_node_alike():
    """state_weights="nodes": a set's weight at a point is the tau trapezoid weight of its tau
    node alone (times 1 per state node), renormalised per set (computed by hand); the same
    nodes as the area weights, and the clustered band at the strike gets a larger share of the
    interior loss than with area weights."""
    p = basket_put()
    area = ClusteredGrid(n_tau=6, n_space=(9, 7), stretch=0.5)
    nodes = ClusteredGrid(n_tau=6, n_space=(9, 7), stretch=0.5, state_weights="nodes")
    a, b = area.build(p), nodes.build(p)
    for name, ps in b.items():
        np.testing.assert_array_equal(ps.points, a[name].points)
        taus = np.unique(np.concatenate([s.points[:, 0] for s in b.values()]))
        w = _hand_trapezoid(taus)[np.searchsorted(taus, ps.points[:, 0])]
        np.testing.assert_allclose(ps.weights, w / w.sum(), rtol=1e-12, err_msg=name)
    band = np.all(np.abs(a["interior"].points[:, 1:] - 100.0) <= 50.0, axis=1)
    assert b["interior"].weights[band].sum() > 1.5 * a["interior"].weights[band].sum()
    assert collocation_from_dict(nodes.to_dict()) == nodes
    assert "state_weights" not in area.to_dict()  # the default, as written before the field
    with pytest.raises(ValueError, match="'state_weights' parameter of ClusteredGrid must be "
                                         "one of 'area', 'nodes'. Got 'equal' instead"):
        ClusteredGrid(state_weights="equal")


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


def test_non_uniform_trapezoid_integrates_linear_and_converges_at_second_order():
    x = stretched_nodes(17, 0.0, 400.0, 100.0, 25.0)
    w = trapezoid_weights_nodes(x)
    assert w.sum() == pytest.approx(400.0, rel=1e-15)
    assert w @ (3.0 - 0.01 * x) == pytest.approx(3.0 * 400 - 0.005 * 400**2, rel=1e-13)
    errs = []
    for n in (21, 41, 81):
        x = stretched_nodes(n, 0.0, 1.0, 0.3, 0.2)
        errs.append(abs(trapezoid_weights_nodes(x) @ np.exp(x) - (np.e - 1.0)))
    assert np.log2(errs[0] / errs[1]) == pytest.approx(2.0, abs=0.1)
    assert np.log2(errs[1] / errs[2]) == pytest.approx(2.0, abs=0.1)


def test_stretched_nodes_cluster_at_the_centre_and_keep_the_ends():
    x = stretched_nodes(41, 0.0, 400.0, 100.0, 25.0)
    assert x[0] == 0.0 and x[-1] == 400.0 and np.all(np.diff(x) > 0)
    h = np.diff(x)
    near = h[np.argmin(np.abs(x[:-1] - 100.0))]
    assert near < 400.0 / 40 / 2 < h[-1]  # finer than uniform at the strike, coarser far out
    np.testing.assert_array_equal(stretched_nodes(5, 0.0, 1.0, 0.5, None), np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="width"):
        stretched_nodes(5, 0.0, 1.0, 0.5, -1.0)


def test_clustered_grid_partitions_the_grid_and_clusters_heston_at_strike_and_zero_variance():
    p = heston_put()
    grid = ClusteredGrid(n_tau=6, n_space=(21, 11), tau_power=2.0)
    sets = grid.build(p)
    pts = np.concatenate([s.points for s in sets.values()])
    assert len(pts) == 6 * 21 * 11 and len(np.unique(pts, axis=0)) == len(pts)
    taus = np.unique(pts[:, 0])
    np.testing.assert_allclose(taus, np.linspace(0, 1, 6) ** 2, rtol=0, atol=1e-15)
    spots, variances = np.unique(pts[:, 1]), np.unique(pts[:, 2])
    assert spots[0] == 0.0 and spots[-1] == 400.0 and variances[-1] == 1.0
    assert np.diff(spots).min() < 20.0 < np.diff(spots).max()
    assert np.argmin(np.diff(variances)) == 0  # finest spacing at v = 0
    for s in sets.values():
        assert s.weights.sum() == pytest.approx(1.0)
    assert collocation_from_dict(grid.to_dict()) == grid
    with pytest.raises(ValueError, match="tau_power"):
        ClusteredGrid(tau_power=0.5)
