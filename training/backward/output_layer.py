"""The last layer of a fitted twin network solved exactly by linear least squares.

The twin network's value ``y = a_L(x) . w + b`` and gradient ``dy/dx = J_L(x)^T w`` are linear in
the output layer (w, b), where a_L is the last hidden layer's activation and J_L = d a_L / dx its
Jacobian. Given the hidden layers that Adam found, the output layer minimising the regressor's
own loss (``alpha`` value MSE + ``beta`` lambda-weighted gradient MSE, in scaled units) is the
solution of one linear least-squares problem. Adam leaves the output layer at a noisy point of
its schedule; the exact solve removes that part of the optimisation error, the level bias of a
regression on noisy labels included (the intercept is fitted exactly).

With the hidden layers fixed, the features can be nearly collinear: the plain minimiser then
has huge weights that cancel on the training states and extrapolate wildly beyond them (a
forward over ten years predicted 4e6 instead of 3e3 at a next-step state past the date's
largest training spot, and the error ran down the recursion). A small ridge term pulls the
poorly determined directions back to Adam's layer, :data:`RIDGE` times the squared distance
from it in scaled units: it costs nothing measurable where the weights stay of order one, and
much where they run to thousands.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..twin import _activation

#: Weight of ``||(w, b) - (w, b)_Adam||^2`` added to the scaled training loss (whose size is
#: that of a mean squared error in units of the label's spread, 1e-4 to 1e-2 on these problems).
RIDGE = 1e-10


def hidden_features(net, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The last hidden activation a_L (n, h) and its input Jacobian J_L (n, h, d) at scaled
    inputs x (n, d), by forward-mode propagation through the hidden layers."""
    a = x
    jac = None
    for w, b in zip(list(net.weights)[:-1], list(net.biases)[:-1], strict=True):
        z = torch.addmm(b, a, w.t())
        a, da = _activation(net.activation, z)
        dz = w.unsqueeze(0).expand(x.shape[0], -1, -1) if jac is None else torch.einsum(
            "oi,nid->nod", w, jac)
        jac = da.unsqueeze(-1) * dz
    return a, jac


def solve_output_layer(reg, X: np.ndarray, y: np.ndarray, dydx: np.ndarray,
                       ridge: float = RIDGE) -> float:
    """Replace the output layer of the fitted ``DifferentialRegressor`` ``reg`` by the exact
    minimiser of its training loss on (X (n, d), y (n,), dydx (n, d)), hidden layers fixed,
    plus ``ridge`` (finite, >= 0; ``0``: none) times the squared distance of the weights w from
    Adam's (the intercept b is not penalised).

    Returns the loss after the solve (scaled units, without the ridge term), which is never
    above the loss before it."""
    if not (isinstance(ridge, (int, float)) and math.isfinite(ridge) and ridge >= 0.0):
        raise ValueError(f"The 'ridge' argument of solve_output_layer must be a finite number "
                         f">= 0. Got {ridge!r} instead.")
    s = reg.scaler_
    net = reg.network_
    d = X.shape[1]
    lam = float(reg.lam)
    alpha = 1.0 / (1.0 + lam * d)
    beta = 1.0 - alpha
    dev, dtype = net.weights[0].device, torch.float64
    with torch.no_grad():
        xs = torch.as_tensor(s.x(X), dtype=net.weights[0].dtype, device=dev)
        a, jac = hidden_features(net, xs)
        a = a.to(dtype).cpu().numpy()
        jac = jac.to(dtype).cpu().numpy()
    n, h = a.shape
    ys = s.y(y)
    zs = s.z(dydx)
    wv = np.sqrt(alpha / n)
    rows = [np.hstack([wv * a, np.full((n, 1), wv)])]
    rhs = [wv * ys]
    for j in range(d):
        wg = np.sqrt(beta * s.lambda_j[j] ** 2 / (n * d))
        rows.append(np.hstack([wg * jac[:, :, j], np.zeros((n, 1))]))
        rhs.append(wg * zs[:, j])
    A = np.vstack(rows)
    r = np.concatenate(rhs)
    adam = np.concatenate([net.weights[-1].detach().to(dtype).cpu().numpy().ravel(),
                           net.biases[-1].detach().to(dtype).cpu().numpy().ravel()])
    penalty = np.sqrt(ridge) * np.diag([1.0] * h + [0.0])  # the intercept stays exact
    coef, *_ = np.linalg.lstsq(np.vstack([A, penalty]), np.concatenate([r, penalty @ adam]),
                               rcond=None)
    with torch.no_grad():
        net.weights[-1].copy_(torch.as_tensor(coef[:h].reshape(1, h), dtype=net.weights[-1].dtype))
        net.biases[-1].copy_(torch.as_tensor(coef[h:], dtype=net.biases[-1].dtype))
    return float(np.sum((A @ coef - r) ** 2))
