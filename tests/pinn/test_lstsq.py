"""Least-squares solve of the output layer."""

import numpy as np
import pytest
import torch
from torch import nn

from training.pinn import PINNConfig, UniformGrid, solve
from training.pinn.lstsq import solve_output_layer

from .conftest import bs_put
from .test_training import _relative_l2


def test_recovers_an_exact_linear_fit_in_one_round():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(50, 3, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([0.5, -2.0, 1.25], dtype=torch.float64) + 0.75
    layer = nn.Linear(3, 1, dtype=torch.float64)
    losses = solve_output_layer(layer, lambda: layer(x)[:, 0] - y, rounds=2)
    assert 1 <= len(losses) <= 2 and losses[0] < 1e-20
    np.testing.assert_allclose(layer.weight.detach().numpy()[0], [0.5, -2.0, 1.25], atol=1e-12)
    assert float(layer.bias.detach()[0]) == pytest.approx(0.75, abs=1e-12)


def test_keeps_the_parameters_when_the_loss_cannot_fall():
    layer = nn.Linear(2, 1, dtype=torch.float64)
    before = [t.detach().clone() for t in layer.parameters()]
    const = torch.ones(5, dtype=torch.float64)
    assert solve_output_layer(layer, lambda: const + 0.0 * layer.bias.sum(), rounds=3) == []
    for a, b in zip(before, layer.parameters(), strict=True):
        torch.testing.assert_close(a, b.detach())


def test_lowers_the_loss_and_the_error_of_a_trained_pinn():
    p = bs_put()
    cfg = PINNConfig.best(adam_steps=150, lbfgs_iterations=100, collocation=UniformGrid(16, 41),
                          num_threads=1, lstsq_rounds=0)
    plain = solve(p, cfg)
    polished = solve(p, cfg.replace(lstsq_rounds=3))
    assert plain.stats["lstsq_rounds"] == 0 and polished.stats["lstsq_rounds"] >= 1
    assert polished.history["loss"][-1] < 0.2 * plain.history["loss"][-1]
    assert _relative_l2(polished) < 0.5 * _relative_l2(plain)  # closed form x e^{-c tau}
