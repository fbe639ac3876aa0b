"""One-step transitions and their vector-Jacobian products (simulators.transition).

Every model: x_next and x_bar against torch autograd (float64) through a small re-implementation
of the step fed with the same normals (regenerated with the documented draw layout), against
central bumps on common random numbers, the conditional mean against its closed form, chunk
invariance, the date's stream, the payoff special case, and the argument checks.
"""

import math
import warnings

import numpy as np
import pytest
import torch

import simulators as sim
from simulators import rng, samplers
from simulators._kernel_args import kernel_legs
from simulators.black_scholes import bs_path
from simulators.transition import DATES, n_draws, spot_mean


def _corr3() -> np.ndarray:
    return np.array([[1.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 1.0]])


def _heston(**kw) -> sim.Heston:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Feller warning of the "heston_zero" case
        return sim.Heston(**kw)


def _model(name: str):
    if name == "bs":
        return sim.BlackScholes(vol=0.3, rate=0.03, dividend=0.01)
    if name == "bachelier":
        return sim.BachelierBasket(vols=(0.2, 0.3, 0.25), correlation=_corr3(), rate=0.01)
    if name == "bs_basket":
        return sim.BlackScholesBasket(vols=(0.2, 0.3, 0.25), correlation=_corr3(), rate=0.02,
                                      dividends=(0.0, 0.01, 0.03))
    if name == "heston_feller":  # 2 kappa theta = 0.24 > xi^2 = 0.09
        return _heston(kappa=3.0, theta=0.04, xi=0.3, rho=-0.7, rate=0.02, dividend=0.01,
                       steps_per_year=52)
    if name == "heston_zero":  # 2 kappa theta = 0.02 < xi^2 = 1: the variance hits 0
        return _heston(kappa=0.5, theta=0.02, xi=1.0, rho=-0.5, rate=0.01, steps_per_year=52)
    raise KeyError(name)


MODELS = ["bs", "bachelier", "bs_basket", "heston_feller", "heston_zero"]
DT = 0.25  # Heston: 13 steps


def _states(name: str, n: int, seed: int = 0) -> np.ndarray:
    g = np.random.default_rng(seed)
    if name == "bs":
        return g.uniform(0.5, 1.5, (n, 1))
    if name in ("bachelier", "bs_basket"):
        return g.uniform(0.7, 1.3, (n, 3))
    low_var = 0.0 if name == "heston_zero" else 0.03
    x = np.column_stack([g.uniform(0.7, 1.3, n), g.uniform(low_var, 0.06, n)])
    if name == "heston_zero":
        x[::7, 1] = 0.0  # some paths start at zero variance
    return x


def _normals(model, n: int, seed: int, date: int, first_path: int) -> np.ndarray:
    return rng.normals(seed, n, n_draws(model, DT), first_path=first_path,
                       stream=rng.STREAM_TRANSITION + date)


def _torch_step(model, x: torch.Tensor, z: torch.Tensor, dt: float) -> torch.Tensor:
    """The model's step, written independently in torch (float64), on the given normals."""
    sqt = math.sqrt(dt)
    if isinstance(model, sim.BlackScholes):
        r, q, sig = model.rate, model.dividend, model.vol
        return x * torch.exp((r - q - 0.5 * sig * sig) * dt + sig * sqt * z)
    if isinstance(model, sim.BachelierBasket):
        return x + sqt * z @ torch.tensor(model.cholesky()).T
    if isinstance(model, sim.BlackScholesBasket):
        w = z @ torch.tensor(np.linalg.cholesky(np.asarray(model.correlation))).T
        sig = torch.tensor(model.vols, dtype=torch.float64)
        q = torch.tensor(model.dividends, dtype=torch.float64)
        return x * torch.exp((model.rate - q - 0.5 * sig * sig) * dt + sig * sqt * w)
    steps = model.steps(dt)
    h = dt / steps
    kap, the, xi, rho = model.kappa, model.theta, model.xi, model.rho
    srho = math.sqrt(1.0 - rho * rho)
    xl, var = torch.log(x[:, 0]), x[:, 1]
    for k in range(steps):
        z1, z2 = z[:, 2 * k], z[:, 2 * k + 1]
        pos = var > 0.0
        vp = torch.where(pos, var, torch.zeros_like(var))
        # sqrt(v+ h), with derivative 0 on the truncated branch (no 0 * inf)
        sv = torch.where(pos, torch.sqrt(torch.where(pos, var, torch.ones_like(var)) * h),
                         torch.zeros_like(var))
        xl = xl + (model.rate - model.dividend - 0.5 * vp) * h + sv * z1
        var = var + kap * (the - vp) * h + xi * sv * (rho * z1 + srho * z2)
    return torch.stack([torch.exp(xl), torch.where(var > 0.0, var, torch.zeros_like(var))], 1)


def _close(got: np.ndarray, want: np.ndarray, rtol: float) -> None:
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.max(np.abs(want)))


@pytest.mark.parametrize("name", MODELS)
def test_vjp_equals_autograd_on_the_same_normals(name):
    model, n, seed, date, first_path = _model(name), 300, 11, 2, 1000
    x = _states(name, n)
    cot = np.random.default_rng(1).standard_normal(x.shape)
    x_next, x_bar = sim.transition_vjp(model, x, DT, seed, cot, date=date, first_path=first_path)
    xt = torch.tensor(x, requires_grad=True)
    zt = torch.tensor(_normals(model, n, seed, date, first_path))
    yt = _torch_step(model, xt, zt, DT)
    (gt,) = torch.autograd.grad(yt, xt, grad_outputs=torch.tensor(cot))
    _close(x_next, yt.detach().numpy(), 1e-10)
    _close(x_bar, gt.numpy(), 1e-10)
    assert np.array_equal(x_next, sim.transition(model, x, DT, seed, date=date,
                                                 first_path=first_path))
    if name == "heston_zero":  # the case is what it says: truncation happens, both ends
        assert np.mean(x_next[:, 1] == 0.0) > 0.05
        assert np.count_nonzero(x[:, 1] == 0.0) > 10


@pytest.mark.parametrize("name", ["bs", "bachelier", "bs_basket", "heston_feller"])
def test_vjp_equals_central_bumps_on_common_random_numbers(name):
    model, n, seed = _model(name), 200, 5
    x = _states(name, n, seed=3)
    cot = np.random.default_rng(2).standard_normal(x.shape)
    x_next, x_bar = sim.transition_vjp(model, x, DT, seed, cot)
    assert name != "heston_feller" or np.min(x_next[:, 1]) > 0.0  # no truncation on the way
    for j in range(x.shape[1]):
        h = 1e-6 * np.max(np.abs(x[:, j]))
        up, dn = x.copy(), x.copy()
        up[:, j] += h
        dn[:, j] -= h
        fu = np.sum(cot * sim.transition(model, up, DT, seed), axis=1)
        fd = np.sum(cot * sim.transition(model, dn, DT, seed), axis=1)
        _close(x_bar[:, j], (fu - fd) / (2 * h), 1e-6)


def _mean_se(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return a.mean(axis=0), a.std(axis=0, ddof=1) / math.sqrt(a.shape[0])


@pytest.mark.parametrize("name", ["bs", "bachelier", "bs_basket", "heston_feller"])
def test_mean_matches_the_conditional_mean(name):
    model, n = _model(name), 40_000
    x0 = _states(name, 1)[0]
    x_next = sim.transition(model, np.tile(x0, (n, 1)), DT, seed=3, date=4)
    mean, se = _mean_se(x_next)
    if name == "bachelier":
        want = x0  # driftless forwards
    elif name == "bs_basket":
        want = x0 * np.exp((model.rate - np.asarray(model.dividends)) * DT)
    elif name == "bs":
        want = x0 * math.exp((model.rate - model.dividend) * DT)
    else:
        # E[S_{k+1} | v_k] = S_k e^{(r-q) h} step by step; E[v] of the Euler scheme without
        # truncation, theta + (v0 - theta)(1 - kappa h)^N (truncation is rare under Feller here)
        steps = model.steps(DT)
        h = DT / steps
        want = np.array([x0[0] * math.exp((model.rate - model.dividend) * DT),
                         model.theta + (x0[1] - model.theta) * (1 - model.kappa * h) ** steps])
    assert np.all(np.abs(mean - want) < 4 * se), (mean, want, se)
    dim = model.dim
    np.testing.assert_allclose(spot_mean(model, x0[None, :dim], DT)[0], want[:dim], rtol=1e-15)


@pytest.mark.parametrize("name", MODELS)
def test_chunks_concatenate_bit_for_bit_and_dates_differ(name):
    model, n, k, seed = _model(name), 700, 301, 9
    x = _states(name, n)
    cot = np.random.default_rng(4).standard_normal(x.shape)
    whole = sim.transition_vjp(model, x, DT, seed, cot, first_path=50)
    head = sim.transition_vjp(model, x[:k], DT, seed, cot[:k], first_path=50)
    tail = sim.transition_vjp(model, x[k:], DT, seed, cot[k:], first_path=50 + k)
    for w, a, b in zip(whole, head, tail, strict=True):
        assert np.array_equal(w, np.concatenate([a, b]))
    other = sim.transition(model, x, DT, seed, date=1, first_path=50)
    assert not np.any(np.all(other == whole[0], axis=1))


def test_streams_differ_from_the_models_and_the_samplers():
    used = {rng.STREAM_MODEL, rng.STREAM_SAMPLER, samplers.STREAM_UNIFORM}
    assert rng.STREAM_TRANSITION not in used and rng.STREAM_TRANSITION > max(used)
    assert DATES == 2**31 - rng.STREAM_TRANSITION


def test_black_scholes_payoff_is_the_special_case():
    # dt = tau and c = e^{-r tau} h'(S_T): x_bar is the pathwise delta of bs_path, same normal
    model = sim.BlackScholes(vol=0.25, rate=0.03, dividend=0.01)
    tau, strike, n, seed = 0.75, 1.0, 64, 8
    x = _states("bs", n)
    s_t = sim.transition(model, x, tau, seed)
    disc = math.exp(-model.rate * tau)
    cot = disc * (s_t > strike).astype(float)  # call: h'(S_T) = 1{S_T > K}
    x_next, x_bar = sim.transition_vjp(model, x, tau, seed, cot)
    z = rng.normals(seed, n, 1, stream=rng.STREAM_TRANSITION)[:, 0]
    legs = kernel_legs(sim.European(strike, tau, "call").encode(1))
    delta = np.array([bs_path(x[i, 0], model.vol, model.rate, model.dividend, tau,
                              math.sqrt(tau), disc, z[i], *legs)[1] for i in range(n)])
    assert 10 < np.count_nonzero(cot) < n
    assert np.array_equal(x_bar[:, 0], delta)


def test_heston_uses_the_scalar_parameters_when_the_model_samples_more_inputs():
    plain = _model("heston_feller")
    wide = _heston(kappa=3.0, theta=0.04, xi=0.3, rho=-0.7, rate=0.02, dividend=0.01,
                   steps_per_year=52, inputs=("spot", "variance", "kappa", "rate"))
    x = _states("heston_feller", 50)
    assert np.array_equal(sim.transition(plain, x, DT, 1), sim.transition(wide, x, DT, 1))


def test_empty_input_gives_empty_output():
    x_next, x_bar = sim.transition_vjp(_model("bs_basket"), np.empty((0, 3)), DT, 1,
                                       np.empty((0, 3)))
    assert x_next.shape == (0, 3) and x_bar.shape == (0, 3)


X1 = np.ones((4, 1))
BAD = [
    ("model", lambda: sim.transition("BlackScholes", X1, DT, 1)),
    ("x", lambda: sim.transition(_model("bs"), np.ones(4), DT, 1)),
    ("x", lambda: sim.transition(_model("bs"), np.ones((4, 2)), DT, 1)),
    ("x", lambda: sim.transition(_model("bs"), np.array([[1.0], [np.nan]]), DT, 1)),
    ("x", lambda: sim.transition(_model("bs"), [["a"]], DT, 1)),
    ("x (spot)", lambda: sim.transition(_model("bs"), np.array([[1.0], [0.0]]), DT, 1)),
    ("x (spot_1)", lambda: sim.transition(_model("bs_basket"), [[1.0, -1.0, 1.0]], DT, 1)),
    ("x (variance)", lambda: sim.transition(_model("heston_feller"), [[1.0, -0.01]], DT, 1)),
    ("dt", lambda: sim.transition(_model("bs"), X1, 0.0, 1)),
    ("dt", lambda: sim.transition(_model("bs"), X1, math.inf, 1)),
    ("dt", lambda: sim.transition(_model("heston_feller"), [[1.0, 0.04]], 10**6, 1)),
    ("seed", lambda: sim.transition(_model("bs"), X1, DT, -1)),
    ("seed", lambda: sim.transition(_model("bs"), X1, DT, 2**64)),
    ("seed", lambda: sim.transition(_model("bs"), X1, DT, 1.5)),
    ("date", lambda: sim.transition(_model("bs"), X1, DT, 1, date=-1)),
    ("date", lambda: sim.transition(_model("bs"), X1, DT, 1, date=2**31 - 3)),
    ("first_path", lambda: sim.transition(_model("bs"), X1, DT, 1, first_path=-1)),
    ("first_path", lambda: sim.transition(_model("bs"), X1, DT, 1, first_path=2**64 - 3)),
    ("cotangent", lambda: sim.transition_vjp(_model("bs"), X1, DT, 1, np.ones((3, 1)))),
    ("cotangent", lambda: sim.transition_vjp(_model("bs"), X1, DT, 1, np.full((4, 1), np.inf))),
]
BAD_MEAN = [
    ("model", lambda: spot_mean(None, X1, DT)),
    ("spots", lambda: spot_mean(_model("bs_basket"), X1, DT)),
    ("spots", lambda: spot_mean(_model("bs"), [[np.nan]], DT)),
    ("dt", lambda: spot_mean(_model("bs"), X1, -1.0)),
]


@pytest.mark.parametrize("field,call", BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_bad_arguments_raise_one_line_value_errors_naming_the_field(field, call):
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    assert "\n" not in msg
    assert f"The '{field}' parameter of transition" in msg, msg
    assert "Got " in msg and msg.endswith("instead."), msg


@pytest.mark.parametrize("field,call", BAD_MEAN, ids=[f for f, _ in BAD_MEAN])
def test_spot_mean_refuses_bad_arguments(field, call):
    with pytest.raises(ValueError, match=rf"^The '{field}' parameter of spot_mean must be "):
        call()


@pytest.mark.parametrize("case", ["bs", "bs_basket", "bachelier", "heston"])
def test_antithetic_uses_the_negated_normals(case):
    """The antithetic step equals the plain step of a model whose normals are negated: for
    Black-Scholes, S' S'_mirror = S^2 e^{2 (r - q - sigma^2/2) dt} exactly; for every model, a
    mirrored step differs from the plain one and its VJP matches central bumps."""
    model, x = _antithetic_case(case)
    plain = sim.transition(model, x, 0.25, 5, date=2)
    mirror = sim.transition(model, x, 0.25, 5, date=2, antithetic=True)
    assert not np.array_equal(plain, mirror)
    if case == "bs":
        drift = model.rate - model.dividend - 0.5 * model.vol ** 2
        np.testing.assert_allclose(plain * mirror, x ** 2 * np.exp(2 * drift * 0.25), rtol=1e-13)
    rng = np.random.default_rng(1)
    cot = rng.standard_normal(x.shape)
    nxt, xbar = sim.transition_vjp(model, x, 0.25, 5, cot, date=2, antithetic=True)
    np.testing.assert_array_equal(nxt, mirror)
    h = 1e-6 * np.maximum(np.abs(x), 1e-3)
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, j] = h[:, j]
        up = sim.transition(model, x + e, 0.25, 5, date=2, antithetic=True)
        dn = sim.transition(model, x - e, 0.25, 5, date=2, antithetic=True)
        fd = np.sum(cot * (up - dn), axis=1) / (2 * h[:, j])
        np.testing.assert_allclose(xbar[:, j], fd, rtol=1e-5, atol=1e-7)


def _antithetic_case(case):
    rng = np.random.default_rng(0)
    if case == "bs":
        return sim.BlackScholes(vol=0.3, rate=0.02, dividend=0.01), rng.uniform(50, 150, (64, 1))
    if case == "bs_basket":
        corr = ((1.0, 0.4, 0.2), (0.4, 1.0, 0.3), (0.2, 0.3, 1.0))
        return (sim.BlackScholesBasket(vols=(0.2, 0.3, 0.25), correlation=corr, rate=0.01),
                rng.uniform(50, 150, (64, 3)))
    if case == "bachelier":
        corr = ((1.0, 0.4), (0.4, 1.0))
        return sim.BachelierBasket(vols=(5.0, 8.0), correlation=corr), rng.uniform(50, 150, (64, 2))
    model = sim.Heston(kappa=2.0, theta=0.04, xi=0.3, rho=-0.7, rate=0.02, steps_per_year=24)
    x = np.column_stack([rng.uniform(60, 140, 64), rng.uniform(0.02, 0.08, 64)])
    return model, x
