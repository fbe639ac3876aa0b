"""The payoff smoothed by each leg's local variance: a base function without a pricing formula.

A payoff kink smooths over a width of order ``sigma_u u sqrt(tau)`` as tau grows, and the hard
initial condition ``V = payoff + tau N`` leaves that to the network: ``(V - payoff) / tau`` grows
like ``1 / sqrt(tau)`` at the kink, which a network cannot follow. This base replaces each
call or put leg on a linear aggregate u (one asset or a basket ``w . S``) by its expectation
under a normal shock of the aggregate,

    E[h(u + eta Z)],   eta = K sigma_u(x) sqrt(tau),   sigma_u^2 = grad(u)' A(x) grad(u) / u^2,

where K is the leg's strike, A the diffusion matrix of the problem's generator (read off
:meth:`PDEProblem.generator` applied to ``(grad(u) . (y - x))^2 / 2``) and sigma_u the
aggregate's local lognormal volatility (sigma for Black-Scholes, sqrt(v) for Heston). It is the
leading term of the solution near the kink, so ``(V - B) / tau`` stays bounded there; it uses
the payoff and the generator only, no closed-form price. Forward legs (no kink) and legs on the
minimum or maximum of the assets enter unsmoothed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .closed_form import norm_cdf
from .derivatives import Derivatives
from .problems import legs as legs_mod

if TYPE_CHECKING:
    from simulators import Leg

    from .problems.base import PDEProblem

#: Relative floor of the smoothing width (units of the strike), so the table stays finite at
#: tau = 0; the initial condition then holds to about 0.4e-7 K.
_ETA_FLOOR = 1e-7


def smooth_positive_part(b: Tensor, width: Tensor) -> Tensor:
    """``E[(b + width Z)^+]`` for standard normal Z (the Bachelier call on b), elementwise:
    ``b Phi(b / width) + width phi(b / width)``; tends to ``max(b, 0)`` as width -> 0 and is
    smooth for width > 0. Shapes broadcast; width > 0."""
    q = b / width
    return b * norm_cdf(q) + width * torch.exp(-0.5 * q * q) / math.sqrt(2.0 * math.pi)


def aggregate_gradient(leg: Leg, dim: int, like: Tensor) -> Tensor | None:
    """grad(u) of a leg's aggregate (constant), shape (dim,); None for worst-of/best-of legs."""
    g = torch.zeros(dim, dtype=like.dtype, device=like.device)
    if leg.underlying == "asset":
        g[0] = 1.0
        return g
    if leg.underlying == "basket":
        g[: len(leg.weights)] = torch.as_tensor(leg.weights, dtype=like.dtype)
        return g
    return None


def local_variance_rate(problem: PDEProblem, g: Tensor, x: Tensor) -> Tensor:
    """``g' A(x) g`` for the problem's diffusion matrix A at states x (n, d + m) -> (n,): twice
    the generator applied to ``(g . (y - x))^2 / 2`` at y = x (value and gradient 0, Hessian
    ``g g'``)."""
    n, d = x.shape[0], problem.dim
    zero = torch.zeros(n, dtype=x.dtype, device=x.device)
    hess = torch.outer(g, g).expand(n, d, d)
    probe = Derivatives(value=zero, tau=zero, grad=torch.zeros(n, d, dtype=x.dtype,
                                                                device=x.device), hess=hess)
    return 2.0 * problem.generator(x, probe)


def smoothed_payoff(problem: PDEProblem, tau: Tensor, x: Tensor) -> Tensor:
    """The smoothed payoff B(tau, x) (see the module docstring): tau (n,) time to maturity in
    years, x (n, d + m) the d states and, for a parametric problem, its m parameter columns ->
    (n,), in the payoff's units. Differentiable in tau and x by autograd; equals the payoff at
    tau = 0 up to 0.4e-7 K per unit leg."""
    netting = problem.netting_set
    states = x[:, :problem.dim]
    out = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for leg in netting.legs:
        u = legs_mod.aggregate(leg, states)
        g = aggregate_gradient(leg, problem.dim, x)
        if leg.kind == "forward" or g is None:
            out = out + leg.quantity * legs_mod.leg_payoff(leg, u)
            continue
        k = leg.strike
        rate = local_variance_rate(problem, g, x) / (u * u).clamp(min=(1e-3 * k) ** 2)
        eta = torch.sqrt(k * k * rate.clamp(min=0.0) * tau + (_ETA_FLOOR * k) ** 2)
        moneyness = u - k if leg.kind == "call" else k - u
        out = out + leg.quantity * smooth_positive_part(moneyness, eta)
    return out


@dataclass(frozen=True)
class SmoothedPayoff:
    """The smoothed payoff of a problem, as a hashable table source for
    :func:`~training.pinn.tabulated.tabulated_base`."""

    problem: PDEProblem

    def base_derivatives(self, tau: Tensor, x: Tensor) -> Derivatives:
        """Value, dB/dtau, gradient and Hessian in x of :func:`smoothed_payoff` at (tau (n,),
        x (n, d + m)), by autograd."""
        from .tabulated import autograd_table

        return autograd_table(lambda t, y: smoothed_payoff(self.problem, t, y), tau, x)


__all__ = ["SmoothedPayoff", "aggregate_gradient", "local_variance_rate", "smooth_positive_part",
           "smoothed_payoff"]
