"""Parametric problems (training.pinn ParametricPDE): the PDE residual of the exact parametric
put at random parameter points, parameter Greeks against finite differences of the
evaluation.analytic closed form, collocation with parameter columns, validation, serialisation, a
short training, and the numerical parts of reuse (training ranges, nearest family, warm starts,
the residual on today's slice)."""

import math

import numpy as np
import pytest
import torch

import evaluation.analytic as an
from simulators import Leg, NettingSet
from simulators.xva import XVA
from training.pinn import (
    BlackScholesPDE,
    PINNConfig,
    PINNModel,
    PINNSolution,
    UniformGrid,
    solve,
)
from training.pinn.closed_form import black_scholes
from training.pinn.collocation import add_parameter_samples, with_parameter_values
from training.pinn.losses import residual
from training.pinn.problems import ParameterRange, ParametricPDE, problem_from_dict
from training.pinn.reuse import distance, nearest, slice_residual, training_ranges
from training.pinn.solver import PINNSolver

R_B, R_C = 0.4, 0.4
XVA_CASE = XVA(lambda_b=0.05, lambda_c=0.05, recovery_b=R_B, recovery_c=R_C)
RANGES = {"vol": (0.1, 0.4), "rate": (0.0, 0.06), "lambda_b": (0.0, 0.2),
          "lambda_c": (0.0, 0.1)}
COLLAR = NettingSet(legs=(Leg("call", 110.0), Leg("put", 90.0, -1.0)), maturity=1.0)
TINY = dict(width=8, depth=2, adam_steps=20, lbfgs_iterations=10, lstsq_rounds=1,
            collocation=UniformGrid(n_tau=6, n_space=21), num_threads=1)


def put(**kw):
    args = dict(strike=100.0, maturity=1.0, kind="put", vol=0.25, rate=0.03, dividend=0.01,
                xva=XVA_CASE)
    return BlackScholesPDE(**{**args, **kw})


def family(ranges=None, **kw):
    return ParametricPDE(problem=put(**kw), parameters=RANGES if ranges is None else ranges)


def spread(lambda_b, lambda_c):
    """c = (1 - R_C) lambda_C + s_F with s_F = (1 - R_B) lambda_B: the put's discount spread."""
    return (1.0 - R_C) * lambda_c + (1.0 - R_B) * lambda_b


def random_points(p, n, seed=0):
    """z (n, 1 + 1 + 4): tau in (0, T], spots over [0, s_max], parameters over the ranges."""
    rng = np.random.default_rng(seed)
    lo = np.array([1e-3, *p.input_lower])
    hi = np.array([p.maturity, *p.input_upper])
    z = lo + rng.random((n, len(lo))) * (hi - lo)
    z[:3, 1] = [0.0, 100.0, p.upper[0]]  # the faces and the strike among them
    return torch.as_tensor(z)


# ------------------------------------------------------------ the residual of the exact solution
def _exact(z, with_funding=True):
    """e^{-c tau} BS_put(S; vol, rate, dividend 0.01), every parameter read from its column of z
    (written here from the torch closed form, not through ParametricPDE)."""
    tau, s, vol, rate, lb, lc = z.T
    c = spread(lb, lc) if with_funding else (1.0 - R_C) * lc
    return black_scholes(s, 100.0, tau, vol, rate, 0.01, "put") * torch.exp(-c * tau) / 100.0


def test_the_exact_parametric_put_has_zero_residual_at_random_parameter_points():
    p = family()
    z = random_points(p, 400)
    r = residual(p, _exact, z).detach()
    assert r.shape == (400,)
    assert float(r.abs().max()) < 1e-10
    # the same operator sees a wrong solution: without the funding spread s_F the residual is
    # s_F u = (1 - R_B) lambda_B u, not zero
    wrong = residual(p, lambda y: _exact(y, with_funding=False), z).detach()
    expected = (1.0 - R_B) * z[:, 4] * _exact(z, with_funding=False)
    np.testing.assert_allclose(wrong.numpy(), expected.numpy(), atol=1e-10)
    assert float(wrong.abs().max()) > 1e-3


def test_each_point_of_the_family_is_the_problem_at_its_parameters():
    p = family()
    z = random_points(p, 50, seed=1)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8, dtype=torch.float64), torch.nn.Tanh(),
                                torch.nn.Linear(8, 1, dtype=torch.float64))

    def u(y):  # any smooth function of every column
        return model(y)[:, 0]

    for i in (3, 17, 42):
        prm = z[i, 2:]
        one = put(vol=float(prm[0]), rate=float(prm[1]),
                  xva=XVA(lambda_b=float(prm[2]), lambda_c=float(prm[3]), recovery_b=R_B,
                          recovery_c=R_C))
        fixed = residual(one, lambda y, prm=prm: u(torch.cat([y, prm.expand(len(y), 4)], 1)),
                         z[i:i + 1, :2])
        np.testing.assert_allclose(residual(p, u, z[i:i + 1]).detach().numpy(),
                                   fixed.detach().numpy(), rtol=1e-13, atol=1e-15)


# ------------------------------------------------------------ two assets
TWO = dict(strike=100.0, maturity=0.5, vols=(0.25, 0.35), rho=0.5, rate=0.03,
           dividends=(0.01, 0.0), xva=XVA_CASE)
TWO_RANGES = {"vol_1": (0.15, 0.4), "vol_2": (0.2, 0.5), "rho": (-0.3, 0.8),
              "lambda_b": (0.0, 0.2)}


def _two_points(p, n, seed=3):
    rng = np.random.default_rng(seed)
    lo = np.array([0.02, 0.0, 0.0, *p.input_lower[2:]])
    hi = np.array([p.maturity, 300.0, 300.0, *p.input_upper[2:]])
    return torch.as_tensor(lo + rng.random((n, len(lo))) * (hi - lo))


@pytest.mark.parametrize("which", ["basket", "worst_of"])
def test_the_exact_parametric_two_asset_put_has_zero_residual(which):
    from training.pinn import BasketPDE, WorstOfPDE
    from training.pinn.closed_form import basket_by_conditioning, stulz_min

    cls = BasketPDE if which == "basket" else WorstOfPDE
    p = ParametricPDE(problem=cls(kind="put", **TWO), parameters=TWO_RANGES)
    z = _two_points(p, 300)

    def exact(y):  # e^{-c tau} times the risk-free closed form, parameters from the columns
        tau, s, v1, v2, rho, lb = y[:, 0], y[:, 1:3], y[:, 3], y[:, 4], y[:, 5], y[:, 6]
        if which == "basket":
            v = basket_by_conditioning(s, (0.5, 0.5), 100.0, tau, (v1, v2), 0.03, (0.01, 0.0),
                                       rho, "put")
        else:
            v = stulz_min(s, 100.0, tau, (v1, v2), 0.03, (0.01, 0.0), rho, "put")
        return v * torch.exp(-spread(lb, 0.05) * tau) / 100.0

    r = residual(p, exact, z).detach()
    # the conditioning quadrature is exact to about 1e-10 K; Stulz is a closed form
    assert float(r.abs().max()) < (1e-6 if which == "basket" else 1e-9)


def test_two_asset_parameter_greeks_equal_finite_differences_of_the_closed_form():
    from training.pinn import TwoAssetPDE

    # a one-signed netting set: its sign-split base is e^{-c tau} times the basket put, exact
    leg = NettingSet(legs=(Leg("put", 100.0, 1.0, "basket", (0.5, 0.5)),), maturity=0.5)
    p = ParametricPDE(problem=TwoAssetPDE(netting=leg, **TWO), parameters=TWO_RANGES)
    sol = _untrained(p, "split")
    spots = np.array([[90.0, 110.0], [100.0, 100.0], [120.0, 85.0]])
    at = {"vol_1": 0.3, "vol_2": 0.27, "rho": 0.2, "lambda_b": 0.1}

    def ref(a):
        v = an.arithmetic_basket_2d(spots, strike=100.0, maturity=0.5, kind="put",
                                    vols=(a["vol_1"], a["vol_2"]), rho=a["rho"],
                                    weights=(0.5, 0.5), rate=0.03, dividends=(0.01, 0.0),
                                    nodes=128).price
        return np.asarray(v) * np.exp(-spread(a["lambda_b"], 0.05) * 0.5)

    g = sol.greeks(spots, params=at)
    np.testing.assert_allclose(g["price"], ref(at), rtol=1e-8)
    for name in at:
        h = 1e-4
        fd = (ref({**at, name: at[name] + h}) - ref({**at, name: at[name] - h})) / (2 * h)
        np.testing.assert_allclose(g[f"d_{name}"], fd, rtol=1e-5, atol=1e-6, err_msg=name)


def test_a_two_asset_family_of_both_signs_trains_and_reports_every_parameter_greek():
    from training.pinn import TwoAssetPDE

    net = NettingSet(legs=(Leg("call", 100.0, 1.0, "worst_of"),
                           Leg("put", 100.0, -1.0, "basket", (0.5, 0.5))), maturity=0.5)
    p = ParametricPDE(problem=TwoAssetPDE(netting=net, **TWO),
                      parameters={"vol_1": (0.2, 0.3), "rho": (0.3, 0.7), "lambda_b": (0.0, 0.1)})
    cfg = PINNConfig.best(base="split", width=8, depth=2, adam_steps=5, lbfgs_iterations=3,
                          lstsq_rounds=1, collocation=UniformGrid(n_tau=4, n_space=9),
                          num_threads=1)
    sol = solve(p, cfg)
    assert np.isfinite(sol.history["loss"]).all()
    assert sol.history["loss"][-1] < sol.history["loss"][0]
    g = sol.greeks([[100.0, 100.0]], params={"rho": 0.6})
    assert {"d_vol_1", "d_rho", "d_lambda_b", "cross_gamma"} <= set(g)
    assert g["delta"].shape == (1, 2)


def test_parameter_greeks_are_named_without_clashing_with_a_correlation():
    from training.pinn import BasketPDE

    two = ParametricPDE(problem=BasketPDE(kind="put", **TWO),
                        parameters={"rate": (0.0, 0.05), "rho": (0.0, 0.8)})
    g = _untrained(two, "risk_free").greeks([[100.0, 100.0]])
    assert {"d_rate", "d_rho"} <= set(g) and "rho" not in g
    one = _untrained(family(), "split").greeks([100.0])
    assert {"vega", "rho", "d_lambda_b", "d_lambda_c"} <= set(one)


# ------------------------------------------------------------ Heston
HESTON = dict(strike=100.0, maturity=1.0, kind="put", rate=0.025, dividend=0.0, kappa=1.5,
              theta=0.04, xi=0.3, rho=-0.7, base="first_order")
HESTON_RANGES = {"kappa": (1.4, 2.0), "theta": (0.04, 0.05), "xi": (0.2, 0.3),
                 "rho": (-0.9, -0.3)}


def test_heston_families_need_a_closed_form_base_and_feller_at_every_corner():
    from training.pinn import HestonPDE

    with pytest.raises(ValueError, match="The 'base' parameter of HestonPDE must be "
                                         "'first_order' to declare parameters"):
        ParametricPDE(problem=HestonPDE(**{**HESTON, "base": "characteristic_function"}),
                      parameters={"kappa": (1.2, 2.0)})
    # each end alone keeps 2 kappa theta > xi^2, the corner (1.2, 0.34) does not
    with pytest.raises(ValueError, match="Feller condition"):
        ParametricPDE(problem=HestonPDE(**HESTON),
                      parameters={"kappa": (1.2, 2.0), "xi": (0.2, 0.34)})


def test_heston_parameter_greeks_of_the_base_equal_differences_of_the_problem_at_each_set():
    from training.pinn import HestonPDE

    p = ParametricPDE(problem=HestonPDE(**{**HESTON, "xva": None}), parameters=HESTON_RANGES)
    sol = _untrained(p, "risk_free")  # the first-order base, evaluated per point
    x = np.array([[80.0, 0.03], [100.0, 0.04], [125.0, 0.09]])
    at = {"kappa": 1.7, "theta": 0.045, "xi": 0.25, "rho": -0.5}

    def base(a):  # the validated problem at one parameter set (floats, no per-point tensors)
        q = HestonPDE(**{**HESTON, "xva": None, **a})
        return q.base_value(torch.full((3,), 0.8, dtype=torch.float64),
                            torch.as_tensor(x)).numpy()

    g = sol.greeks(x, tau=0.8, params=at)
    np.testing.assert_allclose(g["price"], base(at), rtol=1e-12)
    for name in at:
        h = 1e-5
        fd = (base({**at, name: at[name] + h}) - base({**at, name: at[name] - h})) / (2 * h)
        np.testing.assert_allclose(g[f"d_{name}"], fd, rtol=1e-6, atol=1e-8, err_msg=name)
    assert "vega" in g  # dV/dv, the state Greek, keeps its name


# ------------------------------------------------------------ parameter Greeks
def _untrained(p, base):
    """A solution whose network output layer is zero: its value is the base function B."""
    model = PINNModel(p, 8, 2, "base", base)
    return PINNSolution(problem=p, model=model, config=PINNConfig.best(base=base, width=8,
                                                                      depth=2))


def _risky_put(spot, tau, vol, rate, lambda_b, lambda_c):
    v = an.black_scholes(spot=spot, strike=100.0, maturity=tau, vol=vol, rate=rate,
                         dividend=0.01, kind="put")
    return np.asarray(v) * np.exp(-spread(lambda_b, lambda_c) * tau)


@pytest.mark.parametrize("tau", [1.0, 0.4])
def test_parameter_greeks_equal_finite_differences_of_the_closed_form(tau):
    # for a one-signed payoff the sign-split base is e^{-c tau} BS exactly, so an untrained
    # network (zero output layer) is the exact parametric solution and its autograd Greeks are
    # those of the closed form
    p = family()
    sol = _untrained(p, "split")
    spots = np.array([70.0, 100.0, 135.0])
    at = {"vol": 0.31, "rate": 0.021, "lambda_b": 0.13, "lambda_c": 0.07}
    g = sol.greeks(spots, tau=tau, params=at)
    np.testing.assert_allclose(g["price"], _risky_put(spots, tau, **at), rtol=1e-12)
    keys = {"vol": "vega", "rate": "rho", "lambda_b": "d_lambda_b", "lambda_c": "d_lambda_c"}
    for name, key in keys.items():
        h = 1e-5
        up, down = dict(at), dict(at)
        up[name] += h
        down[name] -= h
        fd = (_risky_put(spots, tau, **up) - _risky_put(spots, tau, **down)) / (2 * h)
        np.testing.assert_allclose(g[key], fd, rtol=1e-6, atol=1e-8, err_msg=key)
    ref = an.black_scholes_greeks(spot=spots, strike=100.0, maturity=tau, vol=0.31, rate=0.021,
                                  dividend=0.01, kind="put")
    fac = math.exp(-spread(0.13, 0.07) * tau)
    np.testing.assert_allclose(g["delta"], np.asarray(ref.delta) * fac, rtol=1e-10)
    np.testing.assert_allclose(g["gamma"], np.asarray(ref.gamma) * fac, rtol=1e-9)


def test_risk_free_parametric_base_is_black_scholes_at_each_parameter():
    p = ParametricPDE(problem=put(xva=None), parameters={"vol": (0.1, 0.4),
                                                         "dividend": (0.0, 0.05)})
    sol = _untrained(p, "risk_free")
    spots = np.array([60.0, 100.0, 150.0])
    vols = np.array([0.12, 0.2, 0.38])
    got = sol.greeks(spots, tau=0.7, params={"vol": vols, "dividend": 0.03})
    ref = an.black_scholes(spot=spots, strike=100.0, maturity=0.7, vol=vols, rate=0.03,
                           dividend=0.03, kind="put")
    np.testing.assert_allclose(got["price"], ref, rtol=1e-12)
    h = 1e-5
    fd = (an.black_scholes(spot=spots, strike=100.0, maturity=0.7, vol=vols, rate=0.03,
                           dividend=0.03 + h, kind="put")
          - an.black_scholes(spot=spots, strike=100.0, maturity=0.7, vol=vols, rate=0.03,
                             dividend=0.03 - h, kind="put")) / (2 * h)
    np.testing.assert_allclose(got["d_dividend"], fd, rtol=1e-6)


@pytest.fixture(scope="module")
def short_family():
    """A short parametric training of the risky put over vol and lambda_B (seconds)."""
    p = ParametricPDE(problem=put(), parameters={"vol": (0.15, 0.35), "lambda_b": (0.0, 0.2)})
    cfg = PINNConfig.best(adam_steps=60, lbfgs_iterations=80, width=16, depth=2,
                          collocation=UniformGrid(n_tau=9, n_space=41), parameter_copies=2,
                          num_threads=1)
    return solve(p, cfg)


def test_a_short_parametric_training_prices_held_out_parameters(short_family):
    sol = short_family
    assert sol.stats["warm_start"] is False
    rng = np.random.default_rng(5)
    t, s = np.meshgrid(np.linspace(0.05, 1.0, 11), np.linspace(0.0, 300.0, 61), indexing="ij")
    for _ in range(3):
        vol, lb = rng.uniform(0.15, 0.35), rng.uniform(0.0, 0.2)
        ref = _risky_put(s.ravel(), t.ravel(), vol, 0.03, lb, 0.05)
        got = sol.price(s.ravel(), t.ravel(), params={"vol": vol, "lambda_b": lb})
        assert np.linalg.norm(got - ref) / np.linalg.norm(ref) < 3e-3


def test_autograd_parameter_greeks_of_a_trained_network_match_its_own_differences(short_family):
    sol = short_family
    spots = np.array([80.0, 100.0, 120.0])
    at = {"vol": 0.22, "lambda_b": 0.08}
    g = sol.greeks(spots, tau=0.6, params=at)
    for name, key in (("vol", "vega"), ("lambda_b", "d_lambda_b")):
        h = 1e-5
        up = sol.price(spots, 0.6, params={**at, name: at[name] + h})
        down = sol.price(spots, 0.6, params={**at, name: at[name] - h})
        np.testing.assert_allclose(g[key], (up - down) / (2 * h), rtol=1e-6, atol=1e-7)
    # the defaults are the nominal problem's parameters (vol 0.25, lambda_B 0.05)
    np.testing.assert_allclose(sol.price(spots), sol.price(spots, params={"vol": 0.25,
                                                                          "lambda_b": 0.05}))


def test_parametric_solutions_round_trip_and_retarget(short_family, tmp_path):
    sol = short_family
    again = PINNSolution.load(sol.save(tmp_path / "fam"))
    assert again.problem == sol.problem
    spots = np.array([90.0, 100.0, 110.0])
    np.testing.assert_array_equal(again.price(spots, params={"vol": 0.3}),
                                  sol.price(spots, params={"vol": 0.3}))
    today = put(vol=0.3, xva=XVA(lambda_b=0.1, lambda_c=0.05, recovery_b=R_B, recovery_c=R_C))
    moved = again.at(today)
    assert moved.problem.nominal() == {"vol": 0.3, "lambda_b": 0.1}
    np.testing.assert_array_equal(moved.price(spots),
                                  sol.price(spots, params={"vol": 0.3, "lambda_b": 0.1}))
    with pytest.raises(ValueError, match="declared parameters \\['vol', 'lambda_b'\\] only"):
        again.at(put(strike=95.0))


# ------------------------------------------------------------ collocation and validation
def test_parameter_samples_fill_the_box_and_keep_the_quadrature():
    p = ParametricPDE(problem=put(), parameters={"vol": (0.1, 0.4), "lambda_b": (0.0, 0.2)})
    base = UniformGrid(n_tau=6, n_space=21).build(p.problem)
    sets = add_parameter_samples(p, base, copies=3, seed=2)
    again = add_parameter_samples(p, base, copies=3, seed=2)
    n_int = len(base["interior"])
    for name, ps in sets.items():
        assert ps.points.shape[1] == 1 + 1 + 2
        np.testing.assert_allclose(ps.weights.sum(), 1.0)
        np.testing.assert_array_equal(ps.points, again[name].points)
        prm = ps.points[:, 2:]
        assert (prm >= [0.1, 0.0]).all() and (prm <= [0.4, 0.2]).all()
        reps = 3 if ps.face is None else 3 * max(1, round(math.sqrt(n_int / len(base[name]))))
        assert len(ps) == reps * len(base[name])
        np.testing.assert_array_equal(ps.points[:len(base[name]), :2], base[name].points)
    # the interior's parameters are spread over the box (each quarter of each range is used)
    vol = sets["interior"].points[:, 2]
    assert np.histogram(vol, bins=4, range=(0.1, 0.4))[0].min() > 0.2 * len(vol) / 4
    fixed = with_parameter_values(base, [0.2, 0.05])
    np.testing.assert_array_equal(fixed["spot_min"].points[:, 2:],
                                  np.tile([0.2, 0.05], (len(base["spot_min"]), 1)))
    assert add_parameter_samples(p.problem, base, copies=3) is base  # no parameters: unchanged


@pytest.mark.parametrize("kwargs, match", [
    ({"parameters": {"kappa": (1.0, 2.0)}},
     "The 'parameters' parameter of BlackScholesPDE must be among \\['vol'"),
    ({"parameters": {"vol": (0.0, 0.3)}}, "The 'vol' parameter of BlackScholesPDE must be > 0"),
    ({"parameters": {"lambda_b": (-0.1, 0.2)}}, "'lambda_b' parameter of XVA must be >= 0"),
    ({"parameters": {"vol": (0.3, 0.4)}},
     "The 'problem' parameter of ParametricPDE must have vol inside \\[0.3, 0.4\\]"),
    ({"parameters": {"vol": (0.3, 0.2)}}, "The 'high' parameter of ParameterRange must be > low"),
    ({"parameters": ()}, "must declare at least one parameter"),
    ({"parameters": {"lambda_b": (0.0, 0.2)}, "problem": put(xva=None)},
     "The 'xva' parameter of BlackScholesPDE must be set to declare the parameter 'lambda_b'"),
])
def test_parametric_problems_refuse_what_they_cannot_solve(kwargs, match):
    args = {"problem": put(), "parameters": RANGES, **kwargs}
    with pytest.raises(ValueError, match=match):
        ParametricPDE(**args)


def test_parametric_problems_serialise_with_their_ranges():
    p = ParametricPDE(problem=put(netting=COLLAR, kind="call"),
                      parameters=(ParameterRange("vol", 0.1, 0.4),
                                  ParameterRange("lambda_b", 0.0, 0.2)))
    again = problem_from_dict(p.to_dict())
    assert again == p and hash(again) == hash(p)
    assert again.input_lower == (0.0, 0.1, 0.0) and again.input_upper == (400.0, 0.4, 0.2)
    assert again.names == ("vol", "lambda_b") and again.payoff_sign == 0


# ------------------------------------------------------------ reuse: ranges, nearest, warm starts
def test_training_ranges_move_just_enough_to_hold_todays_value():
    declared = {"vol": (0.1, 0.4), "lambda_b": (0.02, 0.2)}
    same = training_ranges(declared, put(vol=0.25))
    assert [(r.low, r.high) for r in same] == [(0.1, 0.4), (0.02, 0.2)]
    up = training_ranges(declared, put(vol=0.5))[0]
    assert up.high == pytest.approx(0.53) and up.low == pytest.approx(0.23)
    low = training_ranges(declared, put(xva=XVA(lambda_b=0.0, lambda_c=0.05)))[1]
    assert low.low == 0.0 and low.high == pytest.approx(0.18)  # -0.018 is no valid lambda
    assert distance(same, put(vol=0.25)) == 0.0
    assert distance(same, put(vol=0.55)) == pytest.approx(0.5)
    assert nearest([("a", same), ("b", (up, same[1]))], put(vol=0.5)) == "b"
    assert nearest([], put()) is None


def test_a_warm_start_begins_at_the_saved_weights(short_family, monkeypatch):
    seen = {}
    build = PINNSolver._build_model

    def spy(self):
        model = build(self)
        seen["initial"] = {k: t.detach().clone() for k, t in model.state_dict().items()}
        return model

    monkeypatch.setattr(PINNSolver, "_build_model", spy)
    saved = short_family.model.state_dict()
    shifted = ParametricPDE(problem=put(vol=0.4), parameters={"vol": (0.2, 0.42),
                                                               "lambda_b": (0.0, 0.2)})
    sol = solve(shifted, short_family.config.replace(adam_steps=0, lbfgs_iterations=2),
                initial=saved)
    assert sol.stats["warm_start"] is True
    assert seen["initial"].keys() == saved.keys()
    for k, t in saved.items():
        torch.testing.assert_close(seen["initial"][k], t, rtol=0, atol=0)
    assert not torch.equal(sol.model.state_dict()["mlp.net.0.weight"], saved["mlp.net.0.weight"])


def test_the_slice_residual_is_the_training_loss_on_todays_parameters(short_family):
    sol = short_family
    res = slice_residual(sol)
    assert 0.0 < res < 1e-2
    # a far worse network (untrained, risk-free base) has a larger residual on the same slice
    worse = _untrained(sol.problem, "risk_free")
    worse.config = sol.config
    assert slice_residual(worse) > 10 * res
    # the slice follows the given problem's parameters
    assert slice_residual(sol, put(vol=0.3)) != res
