"""A trained PINN answers only inside the domain it was solved on."""

import numpy as np
import pytest

from training.pinn import PINNConfig, solve

from .conftest import bs_put


@pytest.fixture(scope="module")
def solution():
    return solve(bs_put(), PINNConfig(adam_steps=5, lbfgs_iterations=0, width=8, depth=2))


@pytest.mark.parametrize(("points", "tau", "name"), [
    ([1000.0], None, "spot"), ([-1.0], None, "spot"), ([np.nan], None, "spot"),
    ([100.0], -1.0, "tau"), ([100.0], 2.0, "tau"), ([100.0], np.inf, "tau")])
def test_outside_the_domain_is_refused(solution, points, tau, name):
    with pytest.raises(ValueError, match=f"PINNSolution: {name} must lie in the solved domain"):
        solution.price(points, tau)
    with pytest.raises(ValueError, match=name):
        solution.greeks(points, tau)


def test_the_box_edges_are_inside(solution):
    p = solution.problem
    edges = [p.lower[0], p.upper[0], p.upper[0] * (1 + 1e-12)]
    assert np.all(np.isfinite(solution.price(edges, p.maturity)))
    assert np.all(np.isfinite(solution.price(edges, 0.0)))
