"""PDE operators: exact solutions make the interior and boundary-safe residuals vanish."""

import numpy as np
import pytest
import torch

import evaluation.analytic as an
from training.pinn import UniformGrid, residual
from training.pinn.closed_form import black_scholes, stulz_min

from .conftest import XVA_CASE, basket_put, bs_put, heston_put, worst_of_put

torch.set_default_dtype(torch.float64)


def _grid_sets(problem, n_tau=9, n_space=33):
    return UniformGrid(n_tau, n_space).build(problem)


@pytest.mark.parametrize("kind", ["put", "call"])
def test_torch_black_scholes_matches_numpy_reference(kind):
    s = np.linspace(1.0, 400.0, 57)
    tau = np.linspace(0.01, 1.0, 57)
    ref = an.black_scholes(spot=s, strike=100.0, maturity=tau, vol=0.25, rate=0.03,
                           dividend=0.01, kind=kind)
    got = black_scholes(torch.tensor(s), 100.0, torch.tensor(tau), 0.25, 0.03, 0.01, kind)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-11)


@pytest.mark.parametrize("kind", ["put", "call"])
def test_exact_risky_black_scholes_zeroes_every_residual(kind):
    p = bs_put(kind=kind)
    c = XVA_CASE.spread(1)
    assert p.spread == pytest.approx(c)

    def exact(z):  # closed form times e^{-c tau}, normalised by the strike
        return black_scholes(z[:, 1], 100.0, z[:, 0], 0.25, 0.03, 0.01, kind) * torch.exp(
            -c * z[:, 0]) / 100.0

    for name, ps in _grid_sets(p).items():
        if name == "initial":
            continue
        z = torch.tensor(ps.points, requires_grad=True)
        r = residual(p, exact, z, ps.face.drop if ps.face else frozenset())
        if name == "spot_max":
            # The linearity condition drops 1/2 vol^2 S^2 V_SS, which is tiny but not zero at 4 K:
            # the reduced residual equals exactly the dropped term.
            zz = z.detach().clone().requires_grad_(True)
            v = exact(zz)
            g = torch.autograd.grad(v.sum(), zz, create_graph=True)[0][:, 1]
            vss = torch.autograd.grad(g.sum(), zz)[0][:, 1]
            dropped = 0.5 * 0.25**2 * zz[:, 1] ** 2 * vss
            np.testing.assert_allclose(r.detach(), dropped.detach(), rtol=1e-6, atol=1e-14)
            assert dropped.abs().max() < 1e-6
        else:
            assert r.abs().max().item() < 1e-13, name


def test_black_scholes_boundary_at_zero_reduces_to_discounting():
    p = bs_put()
    tau = torch.linspace(0.0, 1.0, 11)
    x = torch.zeros(11, 1)
    face = p.faces()[0]
    g = p.boundary_value(face, tau, x)
    c = XVA_CASE.spread(1)
    np.testing.assert_allclose(g, 100.0 * np.exp(-(0.03 + c) * tau.numpy()), rtol=1e-14)


def test_stulz_torch_matches_numpy_reference_and_solves_worst_of_pde():
    p = worst_of_put()
    rng = np.random.default_rng(3)
    spots = rng.uniform(20.0, 300.0, size=(64, 2))
    tau = rng.uniform(0.02, 0.5, size=64)
    ref = an.stulz_min(spots, strike=100.0, maturity=tau, kind="put", vols=(0.25, 0.35), rho=0.5,
                       rate=0.03).price
    got = stulz_min(torch.tensor(spots), 100.0, torch.tensor(tau), (0.25, 0.35), 0.03, (0.0, 0.0),
                    0.5, "put")
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-9, atol=1e-9)
    z = torch.tensor(np.column_stack([tau, spots]), requires_grad=True)
    r = residual(p, lambda zz: p.exact_value(zz[:, 0], zz[:, 1:]) / 100.0, z)
    assert r.abs().max().item() < 1e-9


# ----- manufactured solutions for the 2D operators ------------------------------------------------
A, B = 150.0, 0.7  # length scales of the manufactured function in x1 and x2


def _manufactured(z):
    """V = e^{-tau} g(x1, x2), g = sin(x1/A) cos(x2/B) + (x1/A)^2 (x2/B); takes both signs."""
    t, x1, x2 = z[:, 0], z[:, 1], z[:, 2]
    return torch.exp(-t) * (torch.sin(x1 / A) * torch.cos(x2 / B) + (x1 / A) ** 2 * (x2 / B))


def _manufactured_derivatives(z):
    t, x1, x2 = (z[:, i].detach() for i in range(3))
    e = torch.exp(-t)
    s1, c1, s2, c2 = torch.sin(x1 / A), torch.cos(x1 / A), torch.sin(x2 / B), torch.cos(x2 / B)
    v = e * (s1 * c2 + (x1 / A) ** 2 * (x2 / B))
    return {
        "V": v,
        "t": -v,
        "1": e * (c1 * c2 / A + 2 * x1 * x2 / (A**2 * B)),
        "2": e * (-s1 * s2 / B + x1**2 / (A**2 * B)),
        "11": e * (-s1 * c2 / A**2 + 2 * x2 / (A**2 * B)),
        "22": e * (-s1 * c2 / B**2),
        "12": e * (-c1 * s2 / (A * B) + 2 * x1 / (A**2 * B)),
    }


def _source(v):
    return XVA_CASE.source(v)


def _basket_terms(p, z, d):
    s1, s2 = z[:, 1].detach(), z[:, 2].detach()
    (v1, v2), (q1, q2), r = p.vols, p.dividends, p.rate
    return {
        "11": 0.5 * v1**2 * s1**2 * d["11"],
        "22": 0.5 * v2**2 * s2**2 * d["22"],
        "12": p.rho * v1 * v2 * s1 * s2 * d["12"],
        "1": (r - q1) * s1 * d["1"],
        "2": (r - q2) * s2 * d["2"],
    }


def _heston_terms(p, z, d):
    s, var = z[:, 1].detach(), z[:, 2].detach()
    return {
        "SS": 0.5 * var * s**2 * d["11"],
        "Sv": p.rho * p.xi * var * s * d["12"],
        "vv": 0.5 * p.xi**2 * var * d["22"],
        "S": (p.rate - p.dividend) * s * d["1"],
        "v": p.kappa * (p.theta - var) * d["2"],
    }


@pytest.mark.parametrize(
    ("make", "terms"),
    [(basket_put, _basket_terms), (worst_of_put, _basket_terms), (heston_put, _heston_terms)],
    ids=["basket", "worst_of", "heston"],
)
def test_2d_operator_on_manufactured_solution(make, terms):
    """Residual (with each face's dropped terms) equals the hand-computed source term."""
    p = make()
    for name, ps in _grid_sets(p, n_tau=5, n_space=17).items():
        if name == "initial":
            continue
        z = torch.tensor(ps.points, requires_grad=True)
        drop = ps.face.drop if ps.face else frozenset()
        got = residual(p, _manufactured, z, drop)
        d = _manufactured_derivatives(z)
        gen = sum(t for k, t in terms(p, z, d).items() if k not in drop)
        expected = d["t"] - gen + p.rate * d["V"] + _source(d["V"])
        np.testing.assert_allclose(got.detach(), expected, rtol=1e-12, atol=1e-12, err_msg=name)


def test_boundary_safe_faces_follow_methods_brief():
    assert [f.drop for f in bs_put().faces()] == [frozenset(), frozenset({"SS"})]
    assert {f.name: f.drop for f in basket_put().faces()} == {
        "spot_1_min": frozenset(), "spot_2_min": frozenset(),
        "spot_1_max": frozenset({"11"}), "spot_2_max": frozenset({"22"}),
    }
    faces = {f.name: f for f in heston_put().faces()}
    assert faces["variance_max"].drop == frozenset({"v", "Sv"})
    assert faces["variance_max"].classical == "neumann"
    assert faces["variance_min"].drop == frozenset() and faces["variance_min"].safe == "residual"


def test_heston_linear_far_field_drops_only_the_vv_term():
    faces = {f.name: f for f in heston_put(v_max_condition="linear").faces()}
    assert faces["variance_max"].drop == frozenset({"vv"})
    assert faces["variance_max"].classical == faces["variance_max"].safe == "residual"
    with pytest.raises(ValueError, match="v_max_condition.*'neumann', 'linear'"):
        heston_put(v_max_condition="dirichlet")


def test_heston_first_order_base_error_shrinks_like_xi_squared():
    """The xi-expansion base against the characteristic function (evaluation.analytic.heston):
    first order in xi, so halving xi quarters its error; exact payoff at tau = 0."""
    from training.pinn.closed_form import heston_first_order

    s = np.array([70.0, 90.0, 100.0, 110.0, 140.0])
    v = np.array([0.02, 0.04, 0.04, 0.09, 0.04])
    kw = dict(kappa=1.5, theta=0.04, rho=-0.9, rate=0.025, dividend=0.0)
    tau = torch.full((5,), 1.0, dtype=torch.float64)
    errors = []
    for xi in (0.2, 0.1, 0.05):
        ref = np.asarray(an.heston(spot=s, variance=v, strike=100.0, maturity=1.0, xi=xi,
                                   kind="put", **kw))
        base = heston_first_order(torch.tensor(s), torch.tensor(v), 100.0, tau, xi=xi,
                                  kind="put", **kw).numpy()
        errors.append(np.abs(base - ref).max())
    assert errors[0] / errors[1] == pytest.approx(4.0, rel=0.25)
    assert errors[1] / errors[2] == pytest.approx(4.0, rel=0.15)
    zero = heston_first_order(torch.tensor(s), torch.tensor(v), 100.0, torch.zeros(5), xi=0.3,
                              kind="put", **kw).numpy()
    np.testing.assert_allclose(zero, np.maximum(100.0 - s, 0.0), rtol=0, atol=1e-12)
