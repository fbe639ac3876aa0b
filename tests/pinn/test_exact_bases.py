"""Exact base functions: the conditional-quadrature basket, the characteristic-function Heston
table, and their tabulation for autograd, each against an independent oracle."""

import numpy as np
import pytest
import torch

import evaluation.analytic as an
from tests.pinn.conftest import C_PUT, PROBLEMS, basket_put, bs_put, heston_put
from training.pinn import PINNConfig, PINNModel, UniformGrid, solve, tabulated
from training.pinn.closed_form import basket_by_conditioning
from training.pinn.heston_cf import heston_derivatives
from training.pinn.losses import derivatives, residual, term_residuals
from training.pinn.solver import PINNSolver

HESTON = dict(strike=100.0, kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.025, dividend=0.01)


# ---------------------------------------------------------------- basket by conditioning
@pytest.mark.parametrize("kind", ["put", "call"])
def test_torch_basket_matches_numpy_reference(kind):
    rng = np.random.default_rng(3)
    s = rng.uniform(0.0, 400.0, (400, 2))
    s[:3] = [[0.0, 120.0], [90.0, 0.0], [0.0, 0.0]]
    kw = dict(vols=(0.25, 0.35), rho=0.5, weights=(0.4, 0.6), rate=0.03, dividends=(0.01, 0.0))
    for tau in (0.5, 0.01):
        ref = an.arithmetic_basket_2d(s, strike=100.0, maturity=tau, kind=kind, nodes=128,
                                      **kw).price
        got = basket_by_conditioning(torch.tensor(s), kw["weights"], 100.0,
                                     torch.full((400,), tau, dtype=torch.float64), kw["vols"],
                                     kw["rate"], kw["dividends"], kw["rho"], kind).numpy()
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-7)
    zero = basket_by_conditioning(torch.tensor(s), kw["weights"], 100.0,
                                  torch.zeros(400, dtype=torch.float64), kw["vols"], kw["rate"],
                                  kw["dividends"], kw["rho"], kind).numpy()
    b = s @ np.array(kw["weights"])
    np.testing.assert_allclose(zero, np.maximum(b - 100.0 if kind == "call" else 100.0 - b, 0.0),
                               rtol=0, atol=1e-9)


def test_conditional_basket_base_solves_the_risk_free_pde():
    p = basket_put(xva=None, s_max=400.0)
    rng = np.random.default_rng(0)
    z = torch.tensor(np.column_stack([rng.uniform(0.02, 0.5, 500),
                                      rng.uniform(0.0, 400.0, (500, 2))]))
    r = residual(p, lambda zz: p.base_value(zz[:, 0], zz[:, 1:]) / p.value_scale, z)
    assert float(r.detach().abs().max()) < 1e-6  # per year, in units of the strike


@pytest.mark.parametrize("rho", [0.99, -0.95])
def test_torch_basket_solves_the_pde_by_autograd_at_high_correlation(rho):
    # The Black-Scholes PDE of the basket, written out, on autograd derivatives of the torch
    # price (nodes placed from detached values): V_tau = L V - r V, about 1e-8 K per year.
    vols, r, q, w = (0.25, 0.35), 0.03, (0.01, 0.0), (0.5, 0.5)
    rng = np.random.default_rng(4)
    s = torch.tensor(rng.uniform(40.0, 250.0, (200, 2)), requires_grad=True)
    tau = torch.tensor(rng.uniform(0.05, 1.0, 200), requires_grad=True)
    v = basket_by_conditioning(s, w, 100.0, tau, vols, r, q, rho, "put")
    (g_s, g_t) = torch.autograd.grad(v.sum(), (s, tau), create_graph=True)
    h1 = torch.autograd.grad(g_s[:, 0].sum(), s, retain_graph=True)[0]
    h2 = torch.autograd.grad(g_s[:, 1].sum(), s)[0]
    s1, s2 = s[:, 0], s[:, 1]
    gen = (0.5 * vols[0] ** 2 * s1**2 * h1[:, 0] + rho * vols[0] * vols[1] * s1 * s2 * h1[:, 1]
           + 0.5 * vols[1] ** 2 * s2**2 * h2[:, 1] + (r - q[0]) * s1 * g_s[:, 0]
           + (r - q[1]) * s2 * g_s[:, 1] - r * v)
    assert float((g_t - gen).detach().abs().max()) < 1e-6
    ref = an.arithmetic_basket_2d(s.detach().numpy()[:5], strike=100.0, maturity=1.0,
                                  kind="put", vols=vols, rho=rho, rate=r, dividends=q, weights=w)
    one = basket_by_conditioning(s.detach()[:5], w, 100.0, torch.ones(5, dtype=torch.float64),
                                 vols, r, q, rho, "put")
    np.testing.assert_allclose(one.numpy(), ref.price, rtol=0, atol=1e-10)


# ---------------------------------------------------------------- Heston characteristic function
def test_heston_table_matches_adaptive_reference_including_small_tau_and_v():
    rng = np.random.default_rng(1)
    n = 60
    s = rng.uniform(5.0, 400.0, n)
    v = rng.uniform(0.0, 1.0, n)
    tau = rng.uniform(1.0 / 12.0, 1.0, n)
    v[:15], tau[:15] = 0.0, 1.0 / 12.0
    v[15:25] = rng.uniform(0.0, 0.01, 10)
    d = heston_derivatives(s, v, tau, kind="put", **HESTON)
    g = an.heston_greeks(s, v, strike=HESTON["strike"], maturity=tau, kind="put",
                         kappa=HESTON["kappa"], theta=HESTON["theta"], xi=HESTON["xi"],
                         rho=HESTON["rho"], rate=HESTON["rate"], dividend=HESTON["dividend"])
    for key, ref in (("price", g.price), ("S", g.delta), ("v", g.vega), ("SS", g.gamma),
                     ("Sv", g.vanna), ("vv", g.volga)):
        np.testing.assert_allclose(d[key], ref, rtol=1e-8, atol=1e-8, err_msg=key)


def test_heston_table_tau_derivative_equals_finite_difference():
    s, v, tau, h = np.array([80.0, 100.0, 130.0]), np.array([0.02, 0.04, 0.3]), 0.6, 1e-4
    d = heston_derivatives(s, v, np.full(3, tau), kind="call", **HESTON)
    up = heston_derivatives(s, v, np.full(3, tau + h), kind="call", **HESTON)["price"]
    dn = heston_derivatives(s, v, np.full(3, tau - h), kind="call", **HESTON)["price"]
    np.testing.assert_allclose(d["tau"], (up - dn) / (2 * h), rtol=1e-6, atol=1e-8)


def test_heston_table_edges_payoff_and_zero_spot():
    d = heston_derivatives(np.array([80.0, 120.0, 0.0]), np.array([0.04, 0.04, 0.04]),
                           np.array([0.0, 0.0, 0.5]), kind="put", **HESTON)
    k, r = HESTON["strike"], HESTON["rate"]
    np.testing.assert_allclose(d["price"], [20.0, 0.0, k * np.exp(-r * 0.5)], atol=1e-12)
    np.testing.assert_allclose(d["S"][:2], [-1.0, 0.0])
    assert d["tau"][2] == pytest.approx(-r * k * np.exp(-r * 0.5))


def test_heston_table_near_expiry_and_zero_variance():
    """Small tau v, where the characteristic function decays only at u ~ 1e4-1e6: near the
    money against the adaptive reference (and a Monte-Carlo check of the first point, 0.013456
    +- 0.00005 with 100k antithetic paths at 100k steps a year); far from it (the intrinsic
    shortcut) against the adaptive reference too, and the deep in-the-money delta against the
    forward's."""
    hp = {k: HESTON[k] for k in ("kappa", "theta", "xi", "rho", "rate", "dividend")}
    near = [(100.0, 1e-4, 1e-3), (100.0, 0.0, 1e-3), (100.0, 0.0, 0.01), (99.0, 0.0, 0.01),
            (102.0, 0.01, 0.002), (100.0, 0.0, 1e-4)]
    s, v, t = (np.array(c) for c in zip(*near, strict=True))
    d = heston_derivatives(s, v, t, kind="put", **HESTON)
    for i in range(len(s)):
        g = an.heston_greeks(s[i], v[i], strike=100.0, maturity=t[i], kind="put", **hp)
        assert d["price"][i] == pytest.approx(g.price, abs=1e-8), near[i]
        assert d["S"][i] == pytest.approx(g.delta, abs=1e-6), near[i]
    assert d["price"][0] == pytest.approx(0.013456, abs=2e-4)
    far = [(78.0, 0.0, 1e-3), (95.0, 0.0, 1e-4), (60.0, 0.001, 1e-3)]
    s, v, t = (np.array(c) for c in zip(*far, strict=True))
    d = heston_derivatives(s, v, t, kind="put", **HESTON)
    r, q, k = HESTON["rate"], HESTON["dividend"], HESTON["strike"]
    for i in range(len(s)):
        g = an.heston_greeks(s[i], v[i], strike=100.0, maturity=t[i], kind="put", **hp)
        assert d["price"][i] == pytest.approx(g.price, abs=1e-6), far[i]
    itm = k * np.exp(-r * t) > s * np.exp(-q * t)
    np.testing.assert_allclose(d["S"], np.where(itm, -np.exp(-q * t), 0.0), atol=1e-12)
    # A large vol-of-vol at a short maturity, 13 to 19 deviations away: the intrinsic value
    # holds to 5e-7 (absolute, K = 100) where the integral would be off by up to 1e-3
    hv = dict(kappa=0.5, theta=0.01, xi=2.0, rho=0.9, rate=r, dividend=q)
    tau, w_hi = 0.01, 4.0 * (0.01 * 0.01 - 0.01 * -np.expm1(-0.005) / 0.5) + 2.0 * 0.01 * 0.01
    for dev in (-13.0, 16.0):
        spot = 100.0 * np.exp(dev * np.sqrt(w_hi) - (r - q) * tau)
        ref = an.heston(spot, 0.0, strike=100.0, maturity=tau, kind="put", **hv)
        got = heston_derivatives(np.array([spot]), np.array([0.0]), np.array([tau]),
                                 strike=100.0, kind="put", **hv)["price"][0]
        assert got == pytest.approx(ref, abs=1e-6), dev
    # Out of the money, where the adaptive reference loses its digits (1.4e-5 at v = 0): Monte
    # Carlo from v = 1e-8, whose 20 000 paths all end out of the money
    import simulators as sim

    model = sim.Heston(**hp, steps_per_year=100_000)
    mc = sim.simulate(model, sim.European(100.0, 1e-4, "put"), sim.FixedSampler([140.0, 1e-8]),
                      20_000, seed=1)
    assert float(np.max(mc.y)) == 0.0
    d = heston_derivatives(np.array([140.0]), np.array([1e-8]), np.array([1e-4]), kind="put",
                           **HESTON)
    assert d["price"][0] == 0.0 and d["S"][0] == 0.0


def test_heston_characteristic_function_base_zeroes_every_full_face_residual():
    """The exact risk-free price solves the PDE on every face when nothing is dropped; the
    reduced s_max face (V_SS = 0) does not hold at high variance."""
    p = heston_put(xva=None, s_max=400.0)
    cfg = PINNConfig.best(collocation=UniformGrid(5, 9))
    solver = PINNSolver(p, cfg)
    solver.dtype, solver.device = torch.float64, torch.device("cpu")
    sets = solver._tensor_sets(cfg.collocation.build(p))
    model = solver._build_model()  # zero output layer: the trial value is B
    full = term_residuals(p, model, sets, faces="full")
    for name, (r, _) in full.items():
        assert float(r.detach().abs().max()) < 1e-9, name
    reduced = term_residuals(p, model, sets, faces="reduced")
    assert float(reduced["spot_max"][0].detach().abs().max()) > 1e-3


# ---------------------------------------------------------------- tabulation for autograd
@pytest.mark.parametrize("name", ["bs", "basket", "worst_of"])
def test_tabulated_base_equals_autograd_of_the_closed_form(name):
    p = PROBLEMS[name]()
    torch.manual_seed(0)
    model = PINNModel(p, 12, 2, "base")
    torch.nn.init.normal_(model.mlp.net[-1].weight, std=0.3)  # a non-trivial correction
    rng = np.random.default_rng(2)
    z = torch.tensor(np.column_stack([rng.uniform(0.05, p.maturity, 200),
                                      rng.uniform(1.0, 300.0, (200, p.dim))]))

    def direct(zz):
        out = model.mlp(zz)
        tau, x, s = zz[:, 0], zz[:, 1:], zz[:, 0] / p.maturity
        return p.base_value(tau, x) / model.scale * (1 + s * out[:, 0]) + s * out[:, 1]

    a = derivatives(model, z.clone().requires_grad_(True))
    b = derivatives(direct, z.clone().requires_grad_(True))
    for key in ("value", "tau", "grad", "hess"):
        torch.testing.assert_close(getattr(a, key), getattr(b, key), rtol=1e-9, atol=1e-12)
    grads = []
    for f in (model, direct):
        model.zero_grad()
        (residual(p, f, z) ** 2).mean().backward()
        grads.append([q.grad.clone() for q in model.parameters()])
    for ga, gb in zip(*grads, strict=True):
        torch.testing.assert_close(ga, gb, rtol=1e-9, atol=1e-12)


def test_tabulation_is_computed_once_per_point_set(monkeypatch):
    p = bs_put()
    calls = []
    original = type(p).base_derivatives

    def counting(self, tau, x):
        calls.append(len(tau))
        return original(self, tau, x)

    monkeypatch.setattr(type(p), "base_derivatives", counting)
    tabulated._MEMO.clear()
    model = PINNModel(p, 8, 1, "base")
    z = torch.tensor([[0.5, 90.0], [0.7, 110.0]], dtype=torch.float64)
    for _ in range(3):
        residual(p, model, z)
    assert calls == [2]
    residual(p, model, z + 1.0)
    assert calls == [2, 2]


def test_best_variant_with_exact_heston_base_small_budget():
    """Risky Heston put: exp(-c tau) times the characteristic-function price is exact."""
    p = heston_put(s_max=400.0)
    cfg = PINNConfig.best(adam_steps=20, lbfgs_iterations=20, lstsq_rounds=1,
                          collocation=UniformGrid(5, 11))
    sol = solve(p, cfg)
    x = np.array([[80.0, 0.04], [100.0, 0.04], [120.0, 0.09]])
    ref = np.asarray(an.heston(x[:, 0], x[:, 1], strike=100.0, maturity=1.0, kind="put", kappa=1.5,
                               theta=0.04, xi=0.3, rho=-0.9, rate=0.025)) * np.exp(-C_PUT)
    np.testing.assert_allclose(sol.price(x), ref, rtol=1e-3)


@pytest.mark.parametrize("rho", [0.95, -0.99, 0.99, -0.999, 0.999])
def test_torch_stulz_at_strong_correlation(rho):
    """Plackett's integral in r lost accuracy as |rho| -> 1 (a worst-of call of -0.022 at
    rho = -0.999, against +0.0097). Oracle: evaluation.analytic.stulz_min (NumPy)."""
    import evaluation.analytic as an
    from training.pinn.closed_form import stulz_min

    pts = np.array([[100.0, 100.0], [90.0, 120.0], [130.0, 80.0]])
    for vols in ((0.2, 0.2), (0.25, 0.35)):
        for kind in ("call", "put"):
            got = stulz_min(torch.as_tensor(pts), 100.0, torch.tensor(0.5, dtype=torch.float64),
                            vols, 0.03, (0.0, 0.0), rho, kind).detach().numpy()
            ref = an.stulz_min(pts, strike=100.0, maturity=0.5, kind=kind, vols=vols, rho=rho,
                               rate=0.03).price
            np.testing.assert_allclose(got, ref, atol=1e-6, rtol=0)
            assert np.all(got >= 0.0)
