"""Network and trial-function parameterisations.

:class:`MLP` is a tanh multilayer perceptron whose inputs ``z = (tau, x)`` are mapped affinely to
[-1, 1] using the problem's domain. :class:`PINNModel` turns it into a trial value
``u = V / value_scale`` with one of three initial-condition treatments (s = tau / T):

* ``"soft"``: ``u = N(z)``; the payoff enters through a data term at tau = 0.
* ``"hard"``: ``u = payoff(x) / K + s N(z)``; the initial condition holds exactly. Only for a
  payoff without kinks (forwards): a kink of the payoff stays in u at every tau > 0, and the
  PDE residual, evaluated at points on either side of it, cannot see it, so training converges
  to a wrong value with a small loss; :class:`PINNModel` refuses it.
* ``"base"``: ``u = B(z) / K (1 + s N_a(z)) + s N_b(z)`` with ``B`` a base function exact at
  tau = 0: ``base_function="risk_free"``, the problem's risk-free closed form (or approximation)
  of the same payoff; ``"split"``, the sign-split value ``e^{-c+ tau} V_rf(P) - e^{-c- tau}
  V_rf(N)`` of the payoff's one-signed parts (:meth:`PDEProblem.split_derivatives`);
  ``"smoothed_payoff"``, the payoff smoothed by each leg's local variance, without a pricing
  formula (:mod:`training.pinn.smoothed`). The payoff
  kink and its 1/sqrt(tau) singularity sit in ``B``; the network learns a smooth correction. B
  and its derivatives are tabulated once per point set (:mod:`training.pinn.tabulated`).

  With ``leg_factors``, ``B N_a`` becomes one term per one-signed leg (a forward counts as its
  call minus its put), ``u = B / K + s sum_l B_l / K N_l(z) + s N_b(z)``, B_l the same base
  function of the leg alone (:func:`leg_problems`; the risk-free B_l sum to B). The XVA
  correction of a leg is roughly proportional to its own value, with a spread set by the leg's
  sign, so ``V - B`` is about ``-s T sum_l c_l B_l``: constants ``N_l``. One factor for the
  sum cannot tell the legs' shapes apart where they overlap (the worst-of leg's ridge along
  S_1 = S_2 under a basket put; a forward's call and put, charged different spreads).

  For a payoff of both signs (``problem.payoff_sign == 0``) the trial value has a third term,
  ``+ s h(B, s) N_c(z)``, with ``h`` the smoothed positive part of B
  (:func:`smooth_positive_part`, width ``SIGN_WIDTH sqrt(s)`` in units of K). The XVA source
  ``f(V) = a min(V, 0) + b max(V, 0)`` has a kink where V changes sign. With the risk-free base,
  for small tau the correction ``V - B`` is about ``-tau f(B)``, kinked along B = 0, which the
  smooth ``B N_a + N_b`` cannot follow, while ``-tau (a B + (b - a) h)`` is the constants
  ``N_a = -a T``, ``N_c = -(b - a) T``. The split base carries the kink at tau = 0 itself; the
  feature still helps it where the legs' exercise regions overlap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from simulators import NettingSet

from .. import _validation as v
from .options import BaseFunction, InitialCondition
from .problems.base import Derivatives, PDEProblem
from .problems.legs import one_signed_legs
from .problems.parametric import ParametricPDE
from .smoothed import SmoothedPayoff, smooth_positive_part
from .tabulated import tabulated_base

#: The strings of :class:`InitialCondition` and :class:`BaseFunction`.
INITIAL_CONDITIONS = tuple(m.value for m in InitialCondition)
BASE_FUNCTIONS = tuple(m.value for m in BaseFunction)

#: Width of the sign feature's smoothing at tau = T, in units of value_scale (K): about the
#: value's normal volatility over the maturity (sigma sqrt(T) K with sigma sqrt(T) near 0.25 for
#: the benchmark problems); the network's N_c adapts the shape around it.
SIGN_WIDTH = 0.25
#: Added to s = tau / T under the square root of the width, so that h stays differentiable at 0.
_S_FLOOR = 1e-8


@dataclass(frozen=True)
class SplitBase:
    """The sign-split base of a problem, as a hashable table source for :func:`tabulated_base`."""

    problem: PDEProblem

    def base_derivatives(self, tau: Tensor, x: Tensor) -> Derivatives:
        return self.problem.split_derivatives(tau, x)


def leg_problems(problem: PDEProblem) -> tuple[PDEProblem, ...]:
    """The problem once per one-signed leg of its netting set
    (:func:`~training.pinn.problems.legs.one_signed_legs`): same
    model, XVA and domain, the netting set reduced to that one leg (a parametric problem keeps
    its ranges). Empty for a problem without a netting set or with a single one-signed leg.
    The legs' risk-free values sum to the problem's."""
    netting = getattr(problem, "netting_set", None)
    legs = one_signed_legs(netting) if netting is not None else ()
    if len(legs) < 2:
        return ()

    def one(leg: object) -> PDEProblem:
        alone = NettingSet((leg,), netting.maturity)
        if isinstance(problem, ParametricPDE):
            return dataclasses.replace(
                problem, problem=dataclasses.replace(problem.problem, netting=alone))
        return dataclasses.replace(problem, netting=alone)

    return tuple(one(leg) for leg in legs)


def _base_source(problem: PDEProblem, base_function: BaseFunction
                 ) -> PDEProblem | SplitBase | SmoothedPayoff:
    """The table source of the base function (see :func:`tabulated_base`)."""
    if base_function is BaseFunction.SPLIT:
        return SplitBase(problem)
    if base_function is BaseFunction.SMOOTHED_PAYOFF:
        return SmoothedPayoff(problem)
    return problem


def _check_hard(problem: PDEProblem) -> None:
    """Refuse the hard initial condition for a payoff with a kink: ``payoff / K + s N`` keeps
    the kink at every tau > 0, and the PDE residual, zero on either side of it, never sees it.
    A problem without a netting set (a plain call or put) always has one."""
    netting = getattr(problem, "netting_set", None)
    if netting is None:
        where = "its payoff"
    elif netting.kinks:
        where = ", ".join(f"{u} at {k:g}" for u, _, k in netting.kinks)
    else:
        return
    raise ValueError(
        "The 'initial_condition' parameter of PINNModel must be 'soft' or 'base' for a payoff "
        f"with kinks ({type(problem).__name__}: {where}): 'hard' (payoff + tau N) keeps each "
        "kink at every tau > 0, where the PDE residual cannot see it. Got 'hard' instead.")


def _check_base(problem: PDEProblem, base_function: BaseFunction) -> None:
    """One-line errors for a "base" trial value the problem cannot supply."""
    name = type(problem).__name__
    if base_function in (BaseFunction.SMOOTHED_PAYOFF, BaseFunction.SPLIT):
        inner = getattr(problem, "problem", problem)  # a parametric family: its problem's
        if getattr(inner, "netting_set", None) is None:
            raise ValueError(
                f"The 'base_function' parameter of PINNModel must not be "
                f"'{base_function.value}' for {name}, which has no netting set (use TwoAssetPDE "
                f"or BlackScholesPDE/HestonPDE with netting=...). Got '{base_function.value}' "
                "instead."
            )
        if base_function is BaseFunction.SMOOTHED_PAYOFF:
            return
    probe = torch.zeros((1, len(problem.input_lower)), dtype=torch.float64)
    if problem.base_value(torch.zeros(1, dtype=torch.float64), probe) is None:
        raise ValueError(
            f"The 'initial_condition' parameter of PINNModel must not be 'base' for "
            f"{name}, which has no base function. Got 'base' instead."
        )


def tanh_layers(n_in: int, n_out: int, width: int, depth: int,
                init: Callable[[Tensor], Tensor]) -> nn.Sequential:
    """``depth`` tanh layers of ``width`` neurons, then a linear output layer ``n_out``, in
    float64: weights drawn by ``init`` (e.g. ``nn.init.xavier_normal_``) layer by layer from the
    torch generator, biases zero."""
    layers: list[nn.Module] = []
    for _ in range(depth):
        lin = nn.Linear(n_in, width, dtype=torch.float64)
        init(lin.weight)
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.Tanh()]
        n_in = width
    out = nn.Linear(n_in, n_out, dtype=torch.float64)
    init(out.weight)
    nn.init.zeros_(out.bias)
    return nn.Sequential(*layers, out)


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
        self.net = tanh_layers(len(lower), n_out, width, depth, nn.init.xavier_normal_)
        if zero_last:
            nn.init.zeros_(self.net[-1].weight)

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
        leg_factors: bool = False,
    ) -> None:
        super().__init__()
        base_function = v.option("PINNModel", "base_function", base_function, BaseFunction)
        initial_condition = v.option("PINNModel", "initial_condition", initial_condition,
                                     InitialCondition)
        if initial_condition is InitialCondition.BASE:
            _check_base(problem, base_function)
        if initial_condition is InitialCondition.HARD:
            _check_hard(problem)
        self.base_source = _base_source(problem, base_function)
        self.problem = problem
        self.initial_condition = initial_condition
        self.scale = problem.value_scale
        lower = [0.0, *problem.input_lower]  # tau, states, declared parameters (if any)
        upper = [problem.maturity, *problem.input_upper]
        #: the trial value has the sign feature term s h(B) N_c (see the module docstring)
        self.sign_feature = (initial_condition is InitialCondition.BASE
                             and problem.payoff_sign == 0)
        #: one base per leg (the leg's factor ``B_l (1 + s N_l)``), or () for one factor
        self.leg_sources: tuple = ()
        if initial_condition is InitialCondition.BASE and leg_factors:
            self.leg_sources = tuple(_base_source(q, base_function)
                                     for q in leg_problems(problem))
        n_out = 1
        if initial_condition is InitialCondition.BASE:
            n_out = max(1, len(self.leg_sources)) + (2 if self.sign_feature else 1)
        self.mlp = MLP(lower, upper, n_out, width, depth,
                       zero_last=initial_condition is not InitialCondition.SOFT)

    def factors(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """The trial value as ``u = u0(z) + sum_o g_o(z) out_o(z)``, out = ``self.mlp(z)``:
        returns u0 (n,) and the factors g (n, n_out). u is affine in the output layer's
        parameters with these factors (the least-squares solves use it, :mod:`.lstsq`)."""
        n = z.shape[0]
        if self.initial_condition is InitialCondition.SOFT:
            return z.new_zeros(n), z.new_ones(n, 1)
        tau, x = z[:, 0], z[:, 1:]
        s = tau / self.problem.maturity
        if self.initial_condition is InitialCondition.HARD:
            return self.problem.payoff(x) / self.scale, s[:, None]
        base = tabulated_base(self.base_source, tau, x) / self.scale
        cols = [tabulated_base(q, tau, x) / self.scale * s for q in self.leg_sources] or \
            [base * s]
        cols.append(s)
        if self.sign_feature:
            cols.append(s * smooth_positive_part(base, SIGN_WIDTH * torch.sqrt(s + _S_FLOOR)))
        return base, torch.stack(cols, dim=1)

    def forward(self, z: Tensor) -> Tensor:
        """z (n, 1 + d [+ m]) -> u (n,) = V / value_scale."""
        u0, g = self.factors(z)
        return u0 + (g * self.mlp(z)).sum(dim=1)
