"""The exact output-layer solve of the backward regression against independent oracles: the
regressor's loss written out with autograd (its gradient in the output layer vanishes at the
solve, and the returned loss is that loss), and the hidden features' Jacobian by
``torch.autograd.functional.jacobian``."""

import numpy as np
import pytest
import torch

from training import DifferentialRegressor
from training.backward.output_layer import RIDGE, hidden_features, solve_output_layer


def _data(n=400, seed=3):
    """Noisy labels of y = sin(x1) + x1 x2 / 2 on two inputs, with noisy gradients."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, (n, 2))
    y = np.sin(x[:, 0]) + 0.5 * x[:, 0] * x[:, 1] + 0.1 * rng.standard_normal(n)
    dydx = np.column_stack([np.cos(x[:, 0]) + 0.5 * x[:, 1], 0.5 * x[:, 0]])
    dydx += 0.1 * rng.standard_normal(dydx.shape)
    return x, y, dydx


def _loss(reg, x, y, dydx) -> torch.Tensor:
    """The regressor's training loss in scaled units, written out from its definition:
    alpha MSE(value) + beta mean_{i,j}(lambda_j^2 (g_ij - z_ij)^2), alpha = 1/(1 + lam d),
    with the gradient by autograd (not the twin network's explicit pass)."""
    s, net = reg.scaler_, reg.network_
    d = x.shape[1]
    alpha = 1.0 / (1.0 + reg.lam * d)
    xs = torch.as_tensor(s.x(x), dtype=torch.float64)
    yp, gp = net.value_and_gradient(xs, "autograd")
    ys = torch.as_tensor(s.y(y), dtype=torch.float64)
    zs = torch.as_tensor(s.z(dydx), dtype=torch.float64)
    lam2 = torch.as_tensor(s.lambda_j ** 2, dtype=torch.float64)
    return alpha * torch.mean((yp - ys) ** 2) + (1 - alpha) * torch.mean((gp - zs) ** 2 * lam2)


@pytest.fixture(scope="module")
def fitted():
    x, y, dydx = _data()
    reg = DifferentialRegressor(hidden_layers=2, hidden_units=12, epochs=8, num_threads=1,
                                seed=2).fit(x, y, dydx)
    return reg, x, y, dydx


@pytest.mark.parametrize("ridge", [0.0, RIDGE, 1e-3])
def test_solve_is_the_minimiser_of_the_regressor_loss_in_the_output_layer(ridge) -> None:
    """At the solve the gradient in (w, b) of the output layer of the loss plus
    ridge ||w - w_Adam||^2 vanishes (a stationary point of a convex quadratic, so the
    minimiser), the loss does not go up, and the returned number is the loss recomputed from its
    definition."""
    x, y, dydx = _data()
    reg = DifferentialRegressor(hidden_layers=2, hidden_units=12, epochs=8, num_threads=1,
                                seed=2).fit(x, y, dydx)
    net = reg.network_
    adam = [net.weights[-1].detach().clone(), net.biases[-1].detach().clone()]
    before = float(_loss(reg, x, y, dydx).detach())
    after = solve_output_layer(reg, x, y, dydx, ridge=ridge)
    loss = _loss(reg, x, y, dydx)
    objective = loss + ridge * torch.sum((net.weights[-1] - adam[0]) ** 2)  # b not penalised
    gw, gb = torch.autograd.grad(objective, [net.weights[-1], net.biases[-1]])
    # the loss is O(1e-2) in scaled units; Adam's 8 epochs leave a gradient far above this
    assert float(gw.abs().max()) < 1e-10 and float(gb.abs().max()) < 1e-10
    assert after == pytest.approx(float(loss.detach()), rel=1e-10)
    assert after <= before


def test_solve_uses_the_gradient_labels() -> None:
    """With lam > 0 the solve fits the differentials too: a value-only least squares leaves a
    nonzero gradient of the full loss (here well above the solve's 1e-10)."""
    x, y, dydx = _data(seed=5)
    reg = DifferentialRegressor(hidden_layers=2, hidden_units=12, epochs=4, num_threads=1,
                                seed=4).fit(x, y, dydx)
    solve_output_layer(reg, x, y, 0.0 * dydx)  # the wrong labels: zero gradients
    net = reg.network_
    gw, _ = torch.autograd.grad(_loss(reg, x, y, dydx), [net.weights[-1], net.biases[-1]])
    assert float(gw.abs().max()) > 1e-4


def test_hidden_features_and_jacobian_match_autograd(fitted) -> None:
    """a_L by the network's own layers, J_L = d a_L / dx by torch.autograd.functional.jacobian."""
    reg = fitted[0]
    net = reg.network_
    xs = torch.as_tensor(reg.scaler_.x(_data(n=7, seed=9)[0]), dtype=torch.float64)
    a, jac = hidden_features(net, xs)

    def last_hidden(row: torch.Tensor) -> torch.Tensor:
        h = row[None, :]
        for w, b in zip(list(net.weights)[:-1], list(net.biases)[:-1], strict=True):
            h = torch.nn.functional.softplus(h @ w.t() + b)
        return h[0]

    for i in range(xs.shape[0]):
        np.testing.assert_allclose(a[i].detach().numpy(), last_hidden(xs[i]).detach().numpy(),
                                   rtol=1e-13, atol=1e-15)
        ref = torch.autograd.functional.jacobian(last_hidden, xs[i])
        np.testing.assert_allclose(jac[i].detach().numpy(), ref.numpy(), rtol=1e-12,
                                   atol=1e-14)


def test_a_long_forward_does_not_blow_up_beyond_the_training_states() -> None:
    """A forward over ten years under XVA, four dates: the plain least-squares layer had
    cancelling weights of 1e6 that predicted 4e6 instead of 3e3 at a next-step state past the
    date's largest training spot, and today's value came out 438 % off the FD. Oracle: the FD
    of the non-linear XVA PDE (evaluation.fd, 1600 x 800 grid)."""
    from evaluation.fd import black_scholes_1d
    from simulators import XVA, BlackScholes, Leg, NettingSet, UniformSampler
    from training.backward import solve

    xva = XVA(0.02, 0.05)
    reg = DifferentialRegressor(hidden_layers=3, hidden_units=24, epochs=40, num_threads=1)
    sol = solve(BlackScholes(vol=0.25, rate=0.03),
                NettingSet(legs=[Leg("forward", 100.0, 1.0)], maturity=10.0), xva=xva,
                sampler=UniformSampler(low=(50.0,), high=(160.0,)), dates=4,
                paths_per_date=8192, regressor=reg, seed=0)
    spots = np.linspace(70.0, 130.0, 13)
    fd = black_scholes_1d(strike=100.0, maturity=10.0, vol=0.25, rate=0.03, xva=xva,
                          payoff=lambda s: s - 100.0, n_space=1600, n_time=800)
    ref = fd.price(spots)
    err = np.sqrt(np.mean((sol.predict(spots[:, None]) - ref) ** 2) / np.mean(ref**2))
    assert err < 1e-2


@pytest.mark.parametrize("ridge", [-1e-10, float("nan"), float("inf"), "1e-10"])
def test_a_bad_ridge_is_refused(fitted, ridge) -> None:
    reg, x, y, dydx = fitted
    with pytest.raises(ValueError, match="'ridge' argument of solve_output_layer must be a "
                       "finite number >= 0"):
        solve_output_layer(reg, x, y, dydx, ridge=ridge)
