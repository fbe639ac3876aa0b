"""The value and its derivatives at a set of points: what the losses and base functions share."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class Derivatives:
    """Autograd derivatives of the value at the collocation points.

    Attributes:
        value: V, shape (n,).
        tau: dV/dtau, shape (n,).
        grad: dV/dx, shape (n, d).
        hess: d2V/dx_i dx_j, shape (n, d, d) (symmetric).
    """

    value: Tensor
    tau: Tensor
    grad: Tensor
    hess: Tensor
