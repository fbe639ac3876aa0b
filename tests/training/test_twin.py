"""Twin network: explicit backward pass against autograd (float64), activations, refusal of ReLU."""

import pytest
import torch

from training.twin import TwinNetwork


@pytest.mark.parametrize("activation", ["softplus", "elu"])
@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 4, 20), (20, 2, 8)])
def test_explicit_gradient_equals_autograd(activation, shape):
    d, layers, units = shape
    g = torch.Generator().manual_seed(3)
    net = TwinNetwork(d, layers, units, activation, generator=g)
    x = torch.randn(257, d, dtype=torch.float64, generator=g) * 2.0
    y1, g1 = net.value_and_gradient(x, "explicit")
    y2, g2 = net.value_and_gradient(x, "autograd")
    assert g1.shape == (257, d) and y1.shape == (257,)
    torch.testing.assert_close(y1, net(x), rtol=0, atol=1e-12)
    torch.testing.assert_close(g1, g2, rtol=0, atol=1e-10)


def test_explicit_parameter_gradients_equal_autograd():
    """Training differentiates through the gradient pass: both constructions give the same
    parameter gradients of a differential loss (second-order terms included)."""
    g = torch.Generator().manual_seed(0)
    net = TwinNetwork(5, 3, 10, generator=g)
    x = torch.randn(64, 5, dtype=torch.float64, generator=g)
    z = torch.randn(64, 5, dtype=torch.float64, generator=g)
    grads = []
    for method in ("explicit", "autograd"):
        net.zero_grad()
        y, dy = net.value_and_gradient(x, method)
        ((y**2).mean() + ((dy - z) ** 2).mean()).backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(1)
    net = TwinNetwork(3, generator=g)
    x = torch.randn(10, 3, dtype=torch.float64, generator=g)
    _, grad = net.value_and_gradient(x)
    h = 1e-6
    for j in range(3):
        e = torch.zeros(3, dtype=torch.float64)
        e[j] = h
        fd = (net(x + e) - net(x - e)) / (2 * h)
        torch.testing.assert_close(grad[:, j], fd, rtol=0, atol=1e-8)


def test_unknown_activation_refused():
    with pytest.raises(ValueError, match="activation"):
        TwinNetwork(2, activation="relu")
