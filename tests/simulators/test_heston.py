"""Heston: price vs the characteristic function (QuantLib), bias convergence, adjoints."""

import math
import warnings

import numpy as np
import pytest
import torch

import simulators as sim
from simulators import rng
from tests.problems import within_k_se
from tests.simulators import ql_oracles as ql

# docs/methods.md parameter set (ours): Feller holds, 2 kappa theta = 0.12 > xi^2 = 0.09.
P = {"kappa": 1.5, "theta": 0.04, "xi": 0.3, "rho": -0.9, "rate": 0.025}
SPOT, VAR, STRIKE = 100.0, 0.04, 100.0


def _price(steps_per_year, n, seed, kind="put"):
    model = sim.Heston(**P, steps_per_year=steps_per_year)
    s = sim.simulate(model, sim.European(STRIKE, 1.0, kind), sim.FixedSampler([SPOT, VAR]), n,
                     seed=seed, antithetic=True)
    return s.price()


def test_discretisation_bias_shrinks_with_steps():
    exact = ql.heston(SPOT, STRIKE, 365, VAR, P["kappa"], P["theta"], P["xi"], P["rho"],
                      P["rate"], 0.0, "put")
    biases = {}
    for steps in (2, 8, 64):
        price, se = _price(steps, 150_000, seed=21)
        biases[steps] = (price - exact, se)
    (b2, se2), (b8, se8), (b64, se64) = biases[2], biases[8], biases[64]
    # measured (400k antithetic paths): bias 0.40 (2 steps/year), 0.166 (4), 0.051 (8),
    # |bias| < 0.005 from 16 steps on; the allowance at 64 steps is 0.01
    assert b2 - b8 > 4 * math.hypot(se2, se8)
    assert abs(b8) > abs(b64)
    assert within_k_se(b64, se64, 0.0, floor=0.01)


@pytest.mark.parametrize("kind,strike", [("put", 100.0), ("call", 110.0), ("put", 85.0)])
def test_default_steps_price_matches_characteristic_function(kind, strike):
    model = sim.Heston(**P)
    s = sim.simulate(model, sim.European(strike, 1.0, kind), sim.FixedSampler([SPOT, VAR]),
                     100_000, seed=4, antithetic=True)
    price, se = s.price()
    exact = ql.heston(SPOT, strike, 365, VAR, P["kappa"], P["theta"], P["xi"], P["rho"],
                      P["rate"], 0.0, kind)
    assert within_k_se(price, se, exact, floor=0.01), (price, se, exact)


def test_mean_delta_and_vega_match_bumped_characteristic_function():
    model = sim.Heston(**P, steps_per_year=64)
    s = sim.simulate(model, sim.European(STRIKE, 1.0, "put"), sim.FixedSampler([SPOT, VAR]),
                     150_000, seed=7, antithetic=True)
    g, gse = s.gradient()

    def cf(spot, var):
        return ql.heston(spot, STRIKE, 365, var, P["kappa"], P["theta"], P["xi"], P["rho"],
                         P["rate"], 0.0, "put")

    delta = (cf(SPOT + 0.01, VAR) - cf(SPOT - 0.01, VAR)) / 0.02
    vega = (cf(SPOT, VAR + 1e-5) - cf(SPOT, VAR - 1e-5)) / 2e-5
    # discretisation allowance: 1% of the Greek (64 steps; bias measured well below that)
    assert within_k_se(g[0], gse[0], delta, floor=0.01 * abs(delta)), (g[0], gse[0], delta)
    assert within_k_se(g[1], gse[1], vega, floor=0.01 * abs(vega)), (g[1], gse[1], vega)


def _torch_heston(x, z, q, tau, steps, strike, kind):
    s0, v0, kappa, theta, xi, rho, r = x.T
    dt = tau / steps
    xl, var = torch.log(s0), v0
    srho = torch.sqrt(1 - rho * rho)
    for k in range(steps):
        z1, z2 = z[:, 2 * k], z[:, 2 * k + 1]
        vp = torch.clamp(var, min=0.0)
        sv = torch.sqrt(vp * dt)
        xl = xl + (r - q - 0.5 * vp) * dt + sv * z1
        var = var + kappa * (theta - vp) * dt + xi * sv * (rho * z1 + srho * z2)
    s_t = torch.exp(xl)
    h = torch.clamp(s_t - strike, min=0.0) if kind == "call" else torch.clamp(strike - s_t, min=0.0)
    return torch.exp(-r * tau) * h


@pytest.mark.parametrize("antithetic", [False, True])
def test_adjoint_equals_autograd_for_all_seven_inputs(antithetic):
    inputs = ("spot", "variance", "kappa", "theta", "xi", "rho", "rate")
    model = sim.Heston(**P, dividend=0.01, steps_per_year=40, inputs=inputs)
    low = [80, 0.02, 1.0, 0.03, 0.2, -0.8, 0.0]
    high = [120, 0.06, 2.0, 0.06, 0.3, -0.2, 0.05]
    n, tau = 400, 0.5
    s = sim.simulate(model, sim.European(100.0, tau, "put"), sim.UniformSampler(low, high), n,
                     seed=12, antithetic=antithetic)
    steps = model.steps(tau)
    z = torch.tensor(rng.normals(12, n, 2 * steps))
    x = torch.tensor(s.x, requires_grad=True)
    y = _torch_heston(x, z, 0.01, tau, steps, 100.0, "put")
    if antithetic:
        y = 0.5 * (y + _torch_heston(x, -z, 0.01, tau, steps, 100.0, "put"))
    (grad,) = torch.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(s.y, y.detach().numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(s.dydx, grad.numpy(), rtol=1e-9, atol=1e-10)


def test_adjoint_equals_central_bumps():
    inputs = ("spot", "variance", "kappa", "theta", "xi", "rho", "rate")
    model = sim.Heston(**P, steps_per_year=24, inputs=inputs)
    base = np.array([100.0, 0.04, 1.5, 0.04, 0.3, -0.7, 0.02])
    product = sim.European(100.0, 1.0, "put")
    s = sim.simulate(model, product, sim.FixedSampler(base), 200, seed=3)
    live = s.y > 0.05
    for j in range(len(base)):
        h = 1e-6 * max(abs(base[j]), 0.01)
        up, dn = base.copy(), base.copy()
        up[j] += h
        dn[j] -= h
        fd = (sim.simulate(model, product, sim.FixedSampler(up), 200, seed=3).y
              - sim.simulate(model, product, sim.FixedSampler(dn), 200, seed=3).y) / (2 * h)
        # central-difference error scales with the column's size: allow 1e-7 of its largest entry
        np.testing.assert_allclose(s.dydx[live, j], fd[live], rtol=1e-5,
                                   atol=1e-7 * np.abs(fd).max())


def test_feller_violation_warns_with_numbers():
    with pytest.warns(UserWarning, match=r"Feller condition: 2 kappa theta = 0\.04 <= xi\^2 = 0\.25"):
        sim.Heston(kappa=0.5, theta=0.04, xi=0.5, rho=-0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sim.Heston(**P)


@pytest.mark.parametrize("kwargs,match", [
    ({"kappa": 0.0}, r"'kappa' parameter of Heston must be > 0"),
    ({"xi": -0.1}, r"'xi' .* > 0"),
    ({"rho": -1.2}, r"'rho' .* in \[-1\.0, 1\.0\]"),
])
def test_parameter_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sim.Heston(**{**P, **kwargs})


def test_variance_bounds_and_forward_sampler():
    model = sim.Heston(**P)
    with pytest.raises(ValueError, match=r"'low \(variance\)' .* >= 0\.0 for Heston\. Got "
                                         r"-1e-12"):
        sim.simulate(model, sim.European(100, 1.0, "put"),
                     sim.UniformSampler([80, -1e-12], [120, 0.1]), 10, seed=1)
    s = sim.simulate(model, sim.European(100, 1.0, "put"),
                     sim.ForwardSampler(spot=100.0, horizon=0.5, variance=0.04), 2000, seed=1)
    assert s.x.shape == (2000, 2) and np.all(s.x[:, 1] > 0)
    assert 0.02 < s.x[:, 1].mean() < 0.06


# ForwardSampler oracles. Feller holds with room (2 kappa theta = 0.24 > xi^2 = 0.04) and v0 is
# near theta, so the full truncation never acts (a NumPy replica of the scheme, 1e5 paths of
# these 126 steps: min v 0.0016 > 0); the untruncated Euler recursion then gives
# E[v_{k+1}] = E[v_k] (1 - kappa h) + kappa theta h exactly, E[v_k] = theta + (v0 - theta)
# (1 - kappa h)^k, whatever vol_mult (it scales the spot's diffusion only).
FWD = {"kappa": 3.0, "theta": 0.04, "xi": 0.2}
FWD_V0, FWD_T1, FWD_N = 0.06, 0.5, 200_000


def _forward_moments(rho, mult, seed):
    """Sampled (S1, v1) and the exact E[v_k], k = 0..N-1, of the Euler scheme, and h."""
    model = sim.Heston(**FWD, rho=rho, rate=0.03)  # the sampler is driftless whatever the rate
    sampler = sim.ForwardSampler(spot=SPOT, horizon=FWD_T1, vol_mult=mult, variance=FWD_V0)
    steps = model.steps(FWD_T1)
    h = FWD_T1 / steps
    ev = FWD["theta"] + (FWD_V0 - FWD["theta"]) * (1 - FWD["kappa"] * h) ** np.arange(steps + 1)
    return sampler.sample(model, seed, 0, FWD_N), ev, h


def _mean_se(a):
    return a.mean(), a.std(ddof=1) / math.sqrt(a.size)


@pytest.mark.parametrize("mult", [1.0, 1.5])
def test_forward_sampler_matches_the_euler_scheme_moments(mult):
    """Euler moments within 4 SE: E[v_N], E[S_N] = S0, E[ln S_N] = ln S0 - m^2 h sum E[v_k] / 2."""
    x, ev, h = _forward_moments(-0.7, mult, seed=5)
    assert x[:, 1].min() > 1e-3  # no path near the truncation (or the sampler's 1e-8 floor)
    v_mean, v_se = _mean_se(x[:, 1])
    assert within_k_se(v_mean, v_se, ev[-1]), (v_mean, v_se, ev[-1])
    s_mean, s_se = _mean_se(x[:, 0])
    assert within_k_se(s_mean, s_se, SPOT), (s_mean, s_se)
    # ln S_{k+1} = ln S_k - mult^2 v_k h / 2 + mult sqrt(v_k h) Z1
    log_mean, log_se = _mean_se(np.log(x[:, 0]))
    exact = math.log(SPOT) - 0.5 * mult**2 * h * ev[:-1].sum()
    assert within_k_se(log_mean, log_se, exact), (log_mean, log_se, exact)


@pytest.mark.parametrize("mult", [1.0, 2.0])
def test_forward_sampler_log_spot_variance_scales_with_vol_mult_squared(mult):
    """Var[ln S_N] within 4 SE of [m^2 E[I], m^2 E[I] + m^4 B / 4], I = h sum v_k, B >= Var(I)."""
    # Var[ln S_N] = m^2 E[I] + m^4 Var(I) / 4 exactly (m = vol_mult, rho = 0), and B bounds
    # Var(I) by the exact second moments of the untruncated Euler variance.
    x, ev, h = _forward_moments(0.0, mult, seed=9)
    # ln S_N - ln S0 = mult M - mult^2 I / 2, M = sum_k sqrt(v_k h) Z1_k: E[M^2] = E[I], and with
    # rho = 0 the Z1 are independent of the variance path, so Cov(M, I) = 0.
    # Var(I) <= (h sum_k sd(v_k))^2, with E[v_{k+1}^2] = (1 - kappa h)^2 E[v_k^2]
    # + 2 (1 - kappa h) kappa theta h E[v_k] + (kappa theta h)^2 + xi^2 h E[v_k].
    kap, the, xi = FWD["kappa"], FWD["theta"], FWD["xi"]
    m2, sd_sum = FWD_V0**2, 0.0
    for e in ev[:-1]:
        sd_sum += math.sqrt(max(m2 - e * e, 0.0))
        m2 = ((1 - kap * h) ** 2 * m2 + 2 * (1 - kap * h) * kap * the * h * e
              + (kap * the * h) ** 2 + xi**2 * h * e)
    low = mult**2 * h * ev[:-1].sum()
    high = low + 0.25 * mult**4 * (h * sd_sum) ** 2
    y = np.log(x[:, 0])
    dev2 = (y - y.mean()) ** 2
    var, se = dev2.mean(), dev2.std(ddof=1) / math.sqrt(FWD_N)
    assert low - 4 * se <= var <= high + 4 * se, (var, se, low, high)


def test_a_zero_variance_state_from_transition_is_an_input_and_rho_one_is_not():
    """``transition`` returns max(v_N, 0): such a state simulates (the derivative of sqrt(v) at
    a truncated 0 taken as 0, the kernels' convention at every step). A correlation of +-1 as
    an input is refused: d/drho of sqrt(1 - rho^2) diverges there, and the kernel would return
    a derivative of exactly 0."""
    model = sim.Heston(kappa=0.5, theta=0.04, xi=1.0, rho=-0.7, rate=0.02, steps_per_year=50)
    x = sim.transition(model, np.column_stack([np.full(400, 100.0), np.full(400, 0.04)]),
                       1.0, seed=3)
    zero = x[x[:, 1] == 0.0]
    assert len(zero) > 0
    s = sim.simulate(model, sim.European(100, 1.0, "put"), sim.FixedSampler(tuple(zero[0])),
                     1000, seed=1)
    assert np.isfinite(s.dydx).all()
    rho_in = sim.Heston(**P, inputs=("spot", "variance", "rho"))
    for low, high, field in ((-1.0, 0.5, "low"), (-0.5, 1.0, "high")):
        with pytest.raises(ValueError, match=rf"'{field} \(rho\)' parameter of UniformSampler "
                                             r"must be in \(-1\.0, 1\.0\) for Heston"):
            sim.simulate(rho_in, sim.European(100, 1.0, "put"),
                         sim.UniformSampler([90, 0.01, low], [110, 0.05, high]), 10, seed=1)
    with pytest.raises(ValueError, match=r"params\['rho'\].* in \(-1\.0, 1\.0\)"):
        sim.simulate(rho_in, sim.European(100, 1.0, "put"),
                     sim.ForwardSampler(100.0, 0.5, params={"rho": (-1.0, 0.0)}), 10, seed=1)
