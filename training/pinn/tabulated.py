"""Base functions as tabulated values and derivatives, memoised per point set.

The PINN's residual needs the trial value's derivatives up to second order in x and first order
in tau at fixed collocation points, many times over. The base function B of the "base" trial
value does not depend on the network's parameters, so its value, tau-derivative, gradient and
Hessian are computed once per point set (by the problem's
:meth:`~training.pinn.problems.base.PDEProblem.base_derivatives`, e.g. autograd of a torch closed
form or a characteristic-function integral) and replayed by two autograd functions:

* :func:`tabulated_base` returns B; its backward returns ``g * (dB/dtau, dB/dx)`` through a second
  function whose backward returns ``g * Hess_x B``. So first and second derivatives of
  expressions in B (double backward, as the residual needs) are exact, while derivatives of order
  three and the mixed ``d2B/dtau dx`` are taken as zero: the PDE residual never needs them.

The memo is keyed by the problem (frozen, hashable) and the bytes of the points, so a point set
is tabulated once per training however often the loss is evaluated.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from .derivatives import Derivatives

if TYPE_CHECKING:
    from .problems.base import PDEProblem

_MEMO: OrderedDict[tuple, Derivatives] = OrderedDict()
_MEMO_SIZE = 64


def autograd_table(fn: Any, tau: Tensor, x: Tensor) -> Derivatives:
    """Tabulate a differentiable torch function ``fn(tau (n,), x (n, d)) -> (n,)`` by autograd:
    value, d/dtau, gradient and Hessian in x, without autograd history."""
    with torch.enable_grad():
        t = tau.detach().clone().requires_grad_(True)
        y = x.detach().clone().requires_grad_(True)
        value = fn(t, y)
        g_t, g_x = torch.autograd.grad(value.sum(), (t, y), create_graph=True,
                                       allow_unused=True, materialize_grads=True)
        rows = [torch.autograd.grad(g_x[:, i].sum(), y, retain_graph=True,
                                    allow_unused=True, materialize_grads=True)[0]
                if g_x.requires_grad else torch.zeros_like(y) for i in range(y.shape[1])]
    return Derivatives(value.detach(), g_t.detach(), g_x.detach(),
                     torch.stack(rows, dim=1).detach())


def _digest(*tensors: Tensor) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for t in tensors:
        a = t.detach()
        h.update(str((a.dtype, tuple(a.shape), str(a.device))).encode())
        h.update(a.cpu().contiguous().numpy().tobytes())
    return h.digest()


def table_for(problem: PDEProblem, tau: Tensor, x: Tensor) -> Derivatives:
    """The problem's base table at (tau, x), computed once per distinct point set."""
    key = (problem, _digest(tau, x))
    table = _MEMO.get(key)
    if table is None:
        table = problem.base_derivatives(tau.detach(), x.detach())
        _MEMO[key] = table
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    else:
        _MEMO.move_to_end(key)
    return table


class _Slope(torch.autograd.Function):
    """(g, tau, x) -> (g dB/dtau, g dB/dx); backward uses the tabulated Hessian."""

    @staticmethod
    def forward(ctx, g, tau, x, d_tau, grad, hess):  # noqa: ANN001, ANN205
        ctx.save_for_backward(g, d_tau, grad, hess)
        return g * d_tau, g[:, None] * grad

    @staticmethod
    def backward(ctx, out_tau, out_x):  # noqa: ANN001, ANN205
        g, d_tau, grad, hess = ctx.saved_tensors
        d_g = out_tau * d_tau + (out_x * grad).sum(dim=1)
        d_x = g[:, None] * torch.einsum("nij,nj->ni", hess, out_x)
        return d_g, None, d_x, None, None, None


class _Value(torch.autograd.Function):
    """(tau, x) -> B; backward through :class:`_Slope`."""

    @staticmethod
    def forward(ctx, tau, x, value, d_tau, grad, hess):  # noqa: ANN001, ANN205
        ctx.save_for_backward(tau, x, d_tau, grad, hess)
        return value.clone()

    @staticmethod
    def backward(ctx, g):  # noqa: ANN001, ANN205
        tau, x, d_tau, grad, hess = ctx.saved_tensors
        d_tau_in, d_x = _Slope.apply(g, tau, x, d_tau, grad, hess)
        return d_tau_in, d_x, None, None, None, None


def tabulated_base(problem: PDEProblem, tau: Tensor, x: Tensor) -> Tensor:
    """B(tau, x), shape (n,), differentiable twice in x and once in tau from the memoised table.

    Args:
        problem: supplies :meth:`base_derivatives`; hashable (frozen dataclass).
        tau: (n,) times to maturity; x: (n, d) states. Both may require grad.
    """
    table = table_for(problem, tau, x)
    return _Value.apply(tau, x, table.value, table.tau, table.grad, table.hess)
