"""Least-squares solve of the output layer (hidden layers fixed).

With the hidden layers frozen, the trial value is affine in the output layer's weights and bias
for every initial-condition treatment, and so is every loss term once the XVA source f is
linearised at the current sign of V (f is piecewise linear). The total loss ``||r(theta)||^2`` is
then a linear least-squares problem in the output parameters ``theta``, solved directly instead
of by gradient steps. A few rounds let the signs of V settle; a round is kept only if the loss
falls. On the risky Black-Scholes put this takes the loss from the L-BFGS plateau (about 3e-8)
to about 2e-10 in seconds.

The Jacobian of the residual vector in the output parameters is assembled from one forward
pass: the last hidden layer's features and their first and second input derivatives are
propagated through the tanh layers (:func:`hidden_features`), the trial value's factors
(:meth:`PINNModel.factors`) are differentiated by autograd, and the product rule gives the
derivatives of every basis function ``g_o H_k`` of the output parameters
(:func:`basis_derivatives`). Each term's residual is then differenced along each basis function
(:func:`output_jacobian`), the same difference quotient as perturbing the parameter itself, at
the cost of a few network evaluations instead of one per parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor, nn

from .derivatives import Derivatives
from .losses import (
    Faces,
    _face_choice,
    derivatives,
    term_from_derivatives,
    term_kind,
    term_weight,
)
from .options import LossType
from .problems.base import Face, PDEProblem
from .tabulated import autograd_table

#: Rows (points x parameters) per block of the Jacobian assembly: bounds its memory.
BLOCK_ROWS = 1 << 19


def output_layer(model: nn.Module) -> nn.Linear:
    """The last linear layer of a :class:`~training.pinn.network.PINNModel`."""
    return model.mlp.net[-1]


def hidden_features(mlp: nn.Module, z: Tensor, n_states: int
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The last hidden layer of an :class:`~training.pinn.network.MLP` and its input derivatives.

    Forward propagation of tangents (tanh' = 1 - t^2, tanh'' = -2 t tanh'): for z (n, 1 + d [+ m])
    returns the features H (n, W), dH/dtau (n, W), dH/dx (n, W, d) and d2H/dx2 (n, W, d, d),
    derivatives in the state columns only (d = ``n_states``).
    """
    q, d = 1 + n_states, n_states
    scale = 1.0 / mlp.half_width
    h = (z - mlp.center) * scale
    n = z.shape[0]
    dh = torch.zeros(n, z.shape[1], q, dtype=z.dtype, device=z.device)
    idx = torch.arange(q, device=z.device)
    dh[:, idx, idx] = scale[:q]
    ddh = torch.zeros(n, z.shape[1], d, d, dtype=z.dtype, device=z.device)
    layers = list(mlp.net)[:-1]
    for lin in layers[0::2]:
        a = lin(h)
        da = torch.einsum("niq,wi->nwq", dh, lin.weight)
        dda = torch.einsum("nijk,wi->nwjk", ddh, lin.weight)
        t = torch.tanh(a)
        t1 = 1.0 - t * t
        t2 = -2.0 * t * t1
        ds = da[:, :, 1:]
        ddh = (t2[..., None, None] * ds[..., :, None] * ds[..., None, :]
               + t1[..., None, None] * dda)
        dh = t1[..., None] * da
        h = t
    return h, dh[..., 0], dh[..., 1:], ddh


def _factor_derivatives(model: nn.Module, o: int, z: Tensor, d: int) -> Derivatives:
    """Autograd derivatives of the trial value's factor g_o (:meth:`PINNModel.factors`) at z,
    in tau and the d state columns (``0 * tau`` keeps a constant factor in the graph)."""
    t = autograd_table(
        lambda tau, x: model.factors(torch.cat([tau[:, None], x], dim=1))[1][:, o] + 0.0 * tau,
        z[:, 0], z[:, 1:])
    return Derivatives(value=t.value, tau=t.tau, grad=t.grad[:, :d], hess=t.hess[:, :d, :d])


def basis_derivatives(model: nn.Module, z: Tensor, n_states: int) -> Derivatives:
    """Derivatives of the trial value along each output parameter, in the order of
    ``parameters_to_vector([weight, bias])`` of the output layer (P = n_out (W + 1)): value and
    tau (n, P), grad (n, P, d), hess (n, P, d, d). The trial value is affine in these
    parameters (:meth:`PINNModel.factors`), so these are exact."""
    d = n_states
    with torch.no_grad():
        h, h_t, h_x, h_xx = hidden_features(model.mlp, z, d)
    n, w = h.shape
    one = torch.ones(n, 1, dtype=z.dtype, device=z.device)
    h = torch.cat([h, one], dim=1)  # the bias multiplies 1
    h_t = torch.cat([h_t, 0.0 * one], dim=1)
    h_x = torch.cat([h_x, z.new_zeros(n, 1, d)], dim=1)
    h_xx = torch.cat([h_xx, z.new_zeros(n, 1, d, d)], dim=1)
    n_out = model.mlp.net[-1].out_features
    parts = []
    for o in range(n_out):
        g = _factor_derivatives(model, o, z, d)
        gv, gt, gx, gxx = g.value[:, None], g.tau[:, None], g.grad[:, None, :], g.hess[:, None]
        parts.append(Derivatives(
            value=gv * h,
            tau=gt * h + gv * h_t,
            grad=gx * h[..., None] + gv[..., None] * h_x,
            hess=(gxx * h[..., None, None] + gx[..., :, None] * h_x[..., None, :]
                  + gx[..., None, :] * h_x[..., :, None] + gv[..., None, None] * h_xx),
        ))

    def order(field: str) -> Tensor:
        cols = [getattr(p_, field) for p_ in parts]
        weights = [c[:, :w] for c in cols]
        biases = [c[:, w:] for c in cols]
        return torch.cat(weights + biases, dim=1)

    return Derivatives(value=order("value"), tau=order("tau"), grad=order("grad"),
                       hess=order("hess"))


def _blocks(n: int, p: int) -> Iterator[slice]:
    rows = max(1, BLOCK_ROWS // max(p, 1))
    for i in range(0, n, rows):
        yield slice(i, min(n, i + rows))


def output_jacobian(
    problem: PDEProblem,
    model: nn.Module,
    sets: dict[str, tuple[Tensor, Tensor, Face | None]],
    loss: LossType | str = LossType.BOUNDARY_SAFE,
    bc_weight: float = 1.0,
    ic_weight: float = 1.0,
    faces: Faces = "reduced",
    step: float = 1e-2,
) -> Tensor:
    """Jacobian (m, P) of :func:`~training.pinn.losses.residual_vector` in the output layer's
    parameters, rows in its order. Each term's residual is differenced along each basis
    function: ``(r(D + step D_j) - r(D)) / step`` with D the model's derivatives, the same
    quotient as a parameter step of ``step``: exact up to rounding for the terms that are affine
    in the value, and for the XVA source wherever the step does not change the sign of V (a
    secant of the source's kink where it does). Points are processed in blocks of about
    :data:`BLOCK_ROWS` rows of points times parameters."""
    loss = LossType(loss)
    d = problem.dim
    n_out = model.mlp.net[-1].out_features
    p = n_out * (model.mlp.net[-1].in_features + 1)
    rows = []
    for name, (z, w, face) in sets.items():
        kind = term_kind(name, face, loss)
        choice = _face_choice(faces, name)
        sw = torch.sqrt(term_weight(kind, loss, bc_weight, ic_weight) * w)
        out = []
        for b in _blocks(len(z), p):  # the basis and the moved rows exist for one block at once
            zb = z[b].detach()
            cb = choice[b] if isinstance(choice, Tensor) else choice
            d0 = derivatives(model, zb.clone().requires_grad_(True), second=True, n_states=d)
            d0 = Derivatives(value=d0.value.detach(), tau=d0.tau.detach(),
                             grad=d0.grad.detach(), hess=d0.hess.detach())
            basis = basis_derivatives(model, zb, d)
            r0 = term_from_derivatives(problem, kind, face, zb, d0, cb)
            zr = zb.repeat_interleave(p, dim=0)
            cr = cb.repeat_interleave(p) if isinstance(cb, Tensor) else cb
            r1 = term_from_derivatives(problem, kind, face, zr, _moved(d0, basis, step), cr)
            out.append((r1.reshape(-1, p) - r0[:, None]) / step)
        rows.append(sw[:, None] * torch.cat(out, dim=0))
    return torch.cat(rows, dim=0).detach()


def _moved(d0: Derivatives, basis: Derivatives, step: float) -> Derivatives:
    """``d0 + step basis_j`` for every parameter j, flattened to (n P,) rows (point-major)."""
    p = basis.value.shape[1]

    def flat(a: Tensor, b: Tensor) -> Tensor:
        return (a[:, None] + step * b).reshape(a.shape[0] * p, *a.shape[1:])

    return Derivatives(value=flat(d0.value, basis.value), tau=flat(d0.tau, basis.tau),
                       grad=flat(d0.grad, basis.grad), hess=flat(d0.hess, basis.hess))


def solve_output_layer(
    layer: nn.Linear, vector: Callable[[], Tensor], rounds: int = 3, step: float = 1e-2,
    jacobian: Callable[[], Tensor] | None = None,
) -> list[float]:
    """Minimise ``||vector()||^2`` over ``layer``'s weight and bias by linear least squares.

    Args:
        layer: the output layer; its parameters are updated in place.
        vector: returns the stacked weighted residuals ``sqrt(w) r`` (shape (m,)) for the current
            parameters (see :func:`training.pinn.losses.residual_vector`).
        rounds: maximum number of solves.
        step: parameter step of the Jacobian columns (unused with ``jacobian``). The residual is
            affine in the output parameters, so the difference quotient is exact up to rounding
            and sign changes of V.
        jacobian: returns the Jacobian (m, n_params) of ``vector()`` at the current parameters
            (e.g. :func:`output_jacobian`); None: one ``vector()`` call per parameter.

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
        if jacobian is not None:
            jac = jacobian().cpu()
        else:
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


__all__ = ["basis_derivatives", "hidden_features", "output_jacobian", "output_layer",
           "solve_output_layer"]
