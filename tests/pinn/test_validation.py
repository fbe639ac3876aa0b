"""Clear ValueErrors naming the field, the allowed range and the value."""

import re

import pytest

from training.pinn import (
    BasketPDE,
    BlackScholesPDE,
    HestonPDE,
    PINNConfig,
    UniformGrid,
    WorstOfPDE,
    solve,
)

from .conftest import bs_put, heston_put


def test_strike_outside_domain():
    msg = ("The 'strike' parameter of BlackScholesPDE must lie inside the domain [0, 400]. "
           "Got 500 instead.")
    with pytest.raises(ValueError, match=re.escape(msg)):
        BlackScholesPDE(strike=500, maturity=1.0, vol=0.2, s_max=400)


def test_basket_strike_outside_basket_range():
    with pytest.raises(ValueError, match=r"'strike' parameter of BasketPDE must lie inside the "
                                         r"domain \[0, 40\]"):
        BasketPDE(strike=50, maturity=1.0, vols=(0.2, 0.3), s_max=40, weights=(0.5, 0.5))
    with pytest.raises(ValueError, match=r"'strike' parameter of WorstOfPDE must lie inside"):
        WorstOfPDE(strike=50, maturity=1.0, vols=(0.2, 0.3), s_max=40)


def test_heston_without_feller_needs_dirichlet_data():
    with pytest.raises(ValueError, match=r"'v0_dirichlet' parameter of HestonPDE must be given .*"
                                         r"Feller condition 2 kappa theta > xi\^2 fails .*"
                                         r"Got None instead"):
        heston_put(kappa=0.5, theta=0.04, xi=0.5)
    p = heston_put(kappa=0.5, theta=0.04, xi=0.5, v0_dirichlet="effective_variance")
    faces = {f.name: f for f in p.faces()}
    assert faces["variance_min"].safe == "dirichlet"
    assert not p.feller and heston_put().feller


@pytest.mark.parametrize("cls", [BlackScholesPDE, HestonPDE])
def test_unknown_payoff(cls):
    with pytest.raises(ValueError, match=r"'kind' parameter of \w+ must be one of 'call', 'put', 'forward'. "
                                         r"Got 'digital' instead"):
        cls(strike=100, maturity=1.0, **({"vol": 0.2} if cls is BlackScholesPDE else {}),
            kind="digital")


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [("vol", -0.2, "be > 0"), ("maturity", 0.0, "be > 0")],
)
def test_parameter_ranges(field, value, rule):
    with pytest.raises(ValueError, match=f"'{field}' parameter of BlackScholesPDE must {rule}"):
        bs_put(**{field: value})


def test_rho_range():
    with pytest.raises(ValueError, match=r"'rho' parameter of HestonPDE must lie in \(-1, 1\)"):
        heston_put(rho=-1.0)


@pytest.mark.parametrize(
    ("kw", "pattern"),
    [
        ({"loss": "weighted"}, r"'loss' parameter of PINNConfig must be one of"),
        ({"initial_condition": "exact"}, r"'initial_condition' parameter of PINNConfig"),
        ({"dtype": "float16"}, r"'dtype' parameter of PINNConfig must be one of"),
        ({"width": 0}, r"'width' parameter of PINNConfig must be an integer >= 1"),
        ({"checkpoint_every": 5}, r"'checkpoint_dir' parameter of PINNConfig must be set"),
    ],
)
def test_config_errors(kw, pattern):
    with pytest.raises(ValueError, match=pattern):
        PINNConfig(**kw)


def test_grid_dimension_mismatch():
    with pytest.raises(ValueError, match=r"'n_space' parameter of UniformGrid must have one entry"):
        UniformGrid(n_tau=3, n_space=(5, 5)).build(bs_put())


def test_points_shape_error():
    sol = solve(bs_put(), PINNConfig(width=4, depth=1, adam_steps=1, lbfgs_iterations=0,
                                     collocation=UniformGrid(3, 5)))
    with pytest.raises(ValueError, match=r"'points' parameter of PINNSolution must have shape "
                                         r"\(n, 1\)"):
        sol.price([[1.0, 2.0]])
