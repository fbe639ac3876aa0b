"""Least-squares solve of the output layer (hidden layers fixed).

With the hidden layers frozen, the trial value is affine in the output layer's weights and bias
for every initial-condition treatment, and so is every loss term once the XVA source f is
linearised at the current sign of V (f is piecewise linear). The total loss ``||r(theta)||^2`` is
then a linear least-squares problem in the output parameters ``theta``, solved directly instead
of by gradient steps. A few rounds let the signs of V settle; a round is kept only if the loss
falls. On the risky Black-Scholes put this takes the loss from the L-BFGS plateau (about 3e-8)
to about 2e-10 in seconds.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def output_layer(model: nn.Module) -> nn.Linear:
    """The last linear layer of a :class:`~training.pinn.network.PINNModel`."""
    return model.mlp.net[-1]


def solve_output_layer(
    layer: nn.Linear, vector: Callable[[], Tensor], rounds: int = 3, step: float = 1e-2
) -> list[float]:
    """Minimise ``||vector()||^2`` over ``layer``'s weight and bias by linear least squares.

    Args:
        layer: the output layer; its parameters are updated in place.
        vector: returns the stacked weighted residuals ``sqrt(w) r`` (shape (m,)) for the current
            parameters (see :func:`training.pinn.losses.residual_vector`).
        rounds: maximum number of solves.
        step: parameter step of the Jacobian columns. The residual is affine in the output
            parameters, so the difference quotient is exact up to rounding and sign changes of V.

    Returns:
        The loss after each accepted round (empty if no round lowered the loss).
    """
    params = [layer.weight, layer.bias]
    losses: list[float] = []
    for _ in range(rounds):
        with torch.no_grad():
            theta = nn.utils.parameters_to_vector(params).clone()
        r0 = vector().detach()
        before = float(r0 @ r0)
        cols = []
        for j in range(len(theta)):
            with torch.no_grad():
                shifted = theta.clone()
                shifted[j] += step
                nn.utils.vector_to_parameters(shifted, params)
            cols.append((vector().detach() - r0) / step)
        jac = torch.stack(cols, dim=1).cpu()
        delta = torch.linalg.lstsq(jac, -r0.cpu()[:, None], rcond=1e-13, driver="gelsd")
        new = theta + delta.solution[:, 0].to(theta)
        with torch.no_grad():
            nn.utils.vector_to_parameters(new, params)
        r1 = vector().detach()
        after = float(r1 @ r1)
        if not after < before:
            with torch.no_grad():
                nn.utils.vector_to_parameters(theta, params)
            break
        losses.append(after)
    return losses


__all__ = ["output_layer", "solve_output_layer"]
