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


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"points": [100.0, 90.0], "tau": [0.5, 0.5, 0.5]},
     "The 'tau' parameter of PINNSolution must be a number or hold one per point (2). Got "
     "shape (3,) instead."),
    ({"points": ["a"]}, "The 'points' parameter of PINNSolution must hold real numbers. Got "
                        "dtype <U1 instead."),
    ({"points": [100.0], "tau": "0.5"}, "The 'tau' parameter of PINNSolution must hold real "
                                        "numbers."),
])
def test_bad_evaluation_inputs_are_one_line(solution, kwargs, message):
    """A wrongly sized tau gave NumPy's broadcast message, text spots NumPy's conversion
    error, and tau="0.5" was parsed as a number."""
    import re

    with pytest.raises(ValueError, match="^" + re.escape(message)):
        solution.price(**kwargs)
    assert solution.price([100.0, 90.0], tau=[0.5, 0.25]).shape == (2,)
