"""benchmarks/source_network.py: the source code's network conventions are a reparametrisation
of our MLP (same functions), initialised as Glorot-uniform, and train through the solver."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from benchmarks import pinn_source
from benchmarks.source_network import SourceMLP, solve_with_source_network
from training.pinn import PINNConfig, UniformGrid
from training.pinn.network import MLP

T, S_MAX, K = 1.0, 400.0, 100.0


def test_source_network_is_our_mlp_with_mapped_weights():
    """Inputs z / upper in [0, 1] equal ((z - c) / hw + 1) / 2 with c = hw = upper / 2, so the
    first layer (W, b) is ours with (W / 2, b + W 1 / 2); the output g (h . w) + b in price units,
    divided by K, is ours with (g w / K, b / K)."""
    torch.manual_seed(3)
    src = SourceMLP([T, S_MAX], width=7, depth=3, gain=S_MAX - K, scale=K)
    with torch.no_grad():  # non-zero biases, so the bias maps are exercised too
        for m in src.modules():
            if isinstance(m, torch.nn.Linear):
                m.bias.normal_()
    ours = MLP([0.0, 0.0], [T, S_MAX], n_out=1, width=7, depth=3)
    src_lin = [m for m in src.modules() if isinstance(m, torch.nn.Linear)]
    our_lin = [m for m in ours.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for a, b in zip(src_lin[:-1], our_lin[:-1], strict=True):
            b.weight.copy_(a.weight)
            b.bias.copy_(a.bias)
        first_src, first = src_lin[0], our_lin[0]
        first.weight.copy_(first_src.weight / 2.0)
        first.bias.copy_(first_src.bias + first_src.weight.sum(dim=1) / 2.0)
        our_lin[-1].weight.copy_(src_lin[-1].weight * (S_MAX - K) / K)
        our_lin[-1].bias.copy_(src_lin[-1].bias / K)
    rng = np.random.default_rng(0)
    z = torch.as_tensor(rng.random((200, 2)) * [T, S_MAX])
    torch.testing.assert_close(src(z), ours(z), rtol=1e-12, atol=1e-12)


def test_source_network_starts_glorot_uniform_with_zero_biases():
    torch.manual_seed(0)
    src = SourceMLP([T, S_MAX], width=40, depth=4, gain=S_MAX - K, scale=K).requires_grad_(False)
    for m in src.modules():
        if isinstance(m, torch.nn.Linear):
            fan_out, fan_in = m.weight.shape
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            assert float(m.weight.abs().max()) <= bound
            assert float(m.bias.abs().max()) == 0.0
            if fan_in * fan_out >= 1600:  # uniform on [-a, a]: variance a^2 / 3
                var = float(m.weight.var())
                assert abs(var / (bound**2 / 3.0) - 1.0) < 0.15


def test_source_network_trains_reproducibly_by_seed():
    p = pinn_source.problem()
    cfg = PINNConfig.faithful(width=8, depth=2, collocation=UniformGrid(6, 21), adam_steps=20,
                              lbfgs_iterations=20, num_threads=1)
    z = np.array([[50.0], [100.0], [150.0]])
    a = solve_with_source_network(p, cfg)
    b = solve_with_source_network(p, cfg)
    c = solve_with_source_network(p, dataclasses.replace(cfg, seed=1))
    mlp = a.model.mlp
    assert isinstance(mlp, SourceMLP)
    assert mlp.upper.tolist() == [p.maturity, p.s_max] == [1.0, 400.0]
    assert (mlp.gain, mlp.scale) == (p.s_max - p.strike, p.strike) == (300.0, 100.0)
    np.testing.assert_array_equal(a.price(z, 0.5), b.price(z, 0.5))
    assert not np.allclose(a.price(z, 0.5), c.price(z, 0.5))
    assert a.stats["steps"] == 40 and np.isfinite(a.history["loss"][-1])


@pytest.mark.parametrize("config, field", [
    (PINNConfig.best(), "config.initial_condition"),
    (PINNConfig.faithful(lstsq_rounds=3), "config.lstsq_rounds"),
    (PINNConfig.faithful(lstsq_every=100), "config.lstsq_every"),
])
def test_source_network_refuses_what_it_cannot_train(config, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        solve_with_source_network(pinn_source.problem(), config)
