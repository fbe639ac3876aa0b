"""Network and trial-function parameterisations.

:class:`MLP` is a tanh multilayer perceptron whose inputs ``z = (tau, x)`` are mapped affinely to
[-1, 1] using the problem's domain. :class:`PINNModel` turns it into a trial value
``u = V / value_scale`` with one of three initial-condition treatments (s = tau / T):

* ``"soft"``: ``u = N(z)``; the payoff enters through a data term at tau = 0.
* ``"hard"``: ``u = payoff(x) / K + s N(z)``; the initial condition holds exactly.
* ``"base"``: ``u = B(z) / K (1 + s N_a(z)) + s N_b(z)`` with ``B`` a base function exact at
  tau = 0: ``base_function="risk_free"``, the problem's risk-free closed form (or approximation)
  of the same payoff; ``"split"``, the sign-split value ``e^{-c+ tau} V_rf(P) - e^{-c- tau}
  V_rf(N)`` of the payoff's one-signed parts (:meth:`PDEProblem.split_derivatives`). The payoff
  kink and its 1/sqrt(tau) singularity sit in ``B``; the network learns a smooth correction. B
  and its derivatives are tabulated once per point set (:mod:`training.pinn.tabulated`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .. import _validation as v
from .options import BaseFunction, InitialCondition
from .problems.base import Derivatives, PDEProblem
from .tabulated import tabulated_base

#: The strings of :class:`InitialCondition` and :class:`BaseFunction`.
INITIAL_CONDITIONS = tuple(m.value for m in InitialCondition)
BASE_FUNCTIONS = tuple(m.value for m in BaseFunction)


@dataclass(frozen=True)
class SplitBase:
    """The sign-split base of a problem, as a hashable table source for :func:`tabulated_base`."""

    problem: PDEProblem

    def base_derivatives(self, tau: Tensor, x: Tensor) -> Derivatives:
        return self.problem.split_derivatives(tau, x)


class MLP(nn.Module):
    """tanh MLP ``R^{n_in} -> R^{n_out}`` with inputs scaled from [lower, upper] to [-1, 1].

    Args:
        lower, upper: input box, length n_in.
        n_out: number of outputs.
        width: neurons per hidden layer.
        depth: number of hidden layers.
        zero_last: initialise the output layer to zero (trial value starts at its base part).
    """

    def __init__(
        self,
        lower: list[float],
        upper: list[float],
        n_out: int,
        width: int,
        depth: int,
        zero_last: bool = False,
    ) -> None:
        super().__init__()
        lo = torch.tensor(lower, dtype=torch.float64)
        hi = torch.tensor(upper, dtype=torch.float64)
        self.register_buffer("center", 0.5 * (lo + hi))
        self.register_buffer("half_width", 0.5 * (hi - lo))
        layers: list[nn.Module] = []
        n_in = len(lower)
        for _ in range(depth):
            lin = nn.Linear(n_in, width, dtype=torch.float64)
            nn.init.xavier_normal_(lin.weight)
            nn.init.zeros_(lin.bias)
            layers += [lin, nn.Tanh()]
            n_in = width
        out = nn.Linear(n_in, n_out, dtype=torch.float64)
        nn.init.xavier_normal_(out.weight)
        nn.init.zeros_(out.bias)
        if zero_last:
            nn.init.zeros_(out.weight)
        layers.append(out)
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """z (n, n_in) -> (n, n_out)."""
        return self.net((z - self.center) / self.half_width)


class PINNModel(nn.Module):
    """Trial value ``u(z) = V(tau, x) / value_scale``; z = (tau, x) of shape (n, 1 + d), or
    (tau, x, p) of shape (n, 1 + d + m) for a parametric problem (the base function is then
    evaluated at each point's parameters)."""

    def __init__(
        self,
        problem: PDEProblem,
        width: int,
        depth: int,
        initial_condition: InitialCondition | str = InitialCondition.SOFT,
        base_function: BaseFunction | str = BaseFunction.RISK_FREE,
    ) -> None:
        super().__init__()
        base_function = v.option("PINNModel", "base_function", base_function, BaseFunction)
        self.base_source = (problem if base_function is BaseFunction.RISK_FREE
                            else SplitBase(problem))
        initial_condition = v.option("PINNModel", "initial_condition", initial_condition,
                                     InitialCondition)
        if initial_condition is InitialCondition.BASE:
            probe = torch.zeros((1, len(problem.input_lower)), dtype=torch.float64)
            if problem.base_value(torch.zeros(1, dtype=torch.float64), probe) is None:
                raise ValueError(
                    f"The 'initial_condition' parameter of PINNModel must not be 'base' for "
                    f"{type(problem).__name__}, which has no base function. Got 'base' instead."
                )
        self.problem = problem
        self.initial_condition = initial_condition
        self.scale = problem.value_scale
        lower = [0.0, *problem.input_lower]  # tau, states, declared parameters (if any)
        upper = [problem.maturity, *problem.input_upper]
        n_out = 2 if initial_condition is InitialCondition.BASE else 1
        self.mlp = MLP(lower, upper, n_out, width, depth,
                       zero_last=initial_condition is not InitialCondition.SOFT)

    def forward(self, z: Tensor) -> Tensor:
        """z (n, 1 + d [+ m]) -> u (n,) = V / value_scale."""
        out = self.mlp(z)
        if self.initial_condition is InitialCondition.SOFT:
            return out[:, 0]
        tau, x = z[:, 0], z[:, 1:]
        s = tau / self.problem.maturity
        if self.initial_condition is InitialCondition.HARD:
            return self.problem.payoff(x) / self.scale + s * out[:, 0]
        base = tabulated_base(self.base_source, tau, x) / self.scale
        return base * (1.0 + s * out[:, 0]) + s * out[:, 1]
