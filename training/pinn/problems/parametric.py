"""Parametric problems: model and XVA parameters as network inputs over declared ranges.

A :class:`ParametricPDE` wraps a problem at one parameter set (its *nominal* problem) and
declares some of its parameters (``problem.parameter_names``: e.g. ``vol``, ``rate``,
``lambda_b``, ``lambda_c`` for Black-Scholes) over ranges ``[low, high]``. The network's input is
then ``z = (tau, x, p)``, shape ``(n, 1 + d + m)``: time to maturity, the d states and the m
declared parameters in declaration order. At every point the PDE

    dV/dtau = L_p V - r_p V - f_p(V),   V(0, x) = payoff(x),

is the nominal problem's with that point's parameter values p (:meth:`PDEProblem.with_parameters`
replaces the fields by per-point tensors), so one training solves the whole family and the loss
is the residual integrated over states, time and the parameter box (the collocation points get
sampled parameter values: :func:`training.pinn.collocation.add_parameter_samples`). Greeks with
respect to the parameters (vega, rho, dV/dlambda) are autograd derivatives in the p columns, like
the state Greeks (:meth:`training.pinn.PINNSolution.greeks`).

Base functions are evaluated with the point's parameters too: the risk-free closed form (or the
sign-split value) of the nominal problem, called with tensors of shape (n,) for the declared
parameters, and tabulated with its derivatives in every input column, so the parameter Greeks
of the trial value are exact through the base. Fields that are not declared (strike, maturity,
recoveries unless declared, the netting set, s_max) are the nominal problem's and fixed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from ... import _validation as v
from ..tabulated import autograd_table
from . import legs
from .base import Derivatives, Face, PDEProblem


@dataclass(frozen=True)
class ParameterRange:
    """A declared parameter ``name`` over ``[low, high]`` (``low < high``, both finite)."""

    name: str
    low: float
    high: float

    def __post_init__(self) -> None:
        o = "ParameterRange"
        if not isinstance(self.name, str) or not self.name:
            v.fail(o, "name", "be a parameter name", self.name)
        object.__setattr__(self, "low", v.real(o, "low", self.low))
        object.__setattr__(self, "high", v.real(o, "high", self.high))
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            v.fail(o, "low", "and 'high' be finite", (self.low, self.high))
        if not self.low < self.high:
            v.fail(o, "high", f"be > low = {self.low:g}", self.high)

    @property
    def width(self) -> float:
        return self.high - self.low

    def contains(self, value: float) -> bool:
        """``low <= value <= high``."""
        return self.low <= value <= self.high

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "low": self.low, "high": self.high}


def _ranges(owner: str, parameters: Any) -> tuple[ParameterRange, ...]:
    """ParameterRanges from a tuple of them, dicts or ``{name: (low, high)}``."""
    if isinstance(parameters, Mapping):
        items = [ParameterRange(k, *bounds) for k, bounds in parameters.items()]
    else:
        items = [p if isinstance(p, ParameterRange) else ParameterRange(**p)
                 for p in parameters]
    if not items:
        v.fail(owner, "parameters", "declare at least one parameter", parameters)
    names = [p.name for p in items]
    if len(set(names)) != len(names):
        v.fail(owner, "parameters", "name each parameter once", names)
    return tuple(items)


@dataclass(frozen=True, kw_only=True)
class ParametricPDE(PDEProblem):
    """A problem whose declared parameters are network inputs over ranges.

    Attributes:
        problem: the nominal problem (one parameter set). Its declared parameters' values are
            the defaults when the solution is evaluated (today's parameters in the pipeline) and
            must lie inside the ranges; every other field is fixed.
        parameters: the declared ranges, a tuple of :class:`ParameterRange` (or a mapping
            ``{name: (low, high)}``), names among ``problem.parameter_names``. Each end, and each
            corner of the box, must be a valid value for the problem (e.g. vol > 0,
            lambda >= 0, Heston's Feller condition unless ``v0_dirichlet`` is set).

    Input columns: ``(tau, *problem.state_names, *names)`` with ``names`` in declaration order.
    """

    problem: PDEProblem
    parameters: tuple[ParameterRange, ...]

    def __post_init__(self) -> None:
        o = type(self).__name__
        if not isinstance(self.problem, PDEProblem) or isinstance(self.problem, ParametricPDE):
            v.fail(o, "problem", "be a PDE problem at one parameter set", self.problem)
        ranges = _ranges(o, self.parameters)
        object.__setattr__(self, "parameters", ranges)
        for r in ranges:
            self.problem.replace_parameters({r.name: r.low})  # the class's own checks
            self.problem.replace_parameters({r.name: r.high})
            value = self.problem.parameter_value(r.name)
            if not r.contains(value):
                v.fail(o, "problem", f"have {r.name} inside [{r.low:g}, {r.high:g}]", value)
        if len(ranges) > 1:  # joint conditions (Heston's Feller condition) at every corner
            for corner in itertools.product(*((r.low, r.high) for r in ranges)):
                self.problem.replace_parameters(dict(zip(self.names, corner, strict=True)))

    # ----- the nominal problem's geometry --------------------------------------------------
    @property
    def state_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.problem.state_names

    @property
    def maturity(self) -> float:  # type: ignore[override]
        return self.problem.maturity

    @property
    def rate(self) -> float:  # type: ignore[override]
        return self.problem.rate

    @property
    def xva(self) -> Any:  # type: ignore[override]
        return self.problem.xva

    @property
    def strike(self) -> float:
        return float(self.problem.value_scale)

    @property
    def value_scale(self) -> float:
        return self.problem.value_scale

    @property
    def lower(self) -> tuple[float, ...]:
        return self.problem.lower

    @property
    def upper(self) -> tuple[float, ...]:
        return self.problem.upper

    def faces(self) -> tuple[Face, ...]:
        return self.problem.faces()

    def cluster_hints(self) -> tuple[tuple[float, float | None], ...]:
        return self.problem.cluster_hints()

    @property
    def payoff_sign(self) -> int:
        return self.problem.payoff_sign

    @property
    def netting_set(self) -> Any:
        return self.problem.netting_set  # type: ignore[attr-defined]

    @property
    def parameter_ranges(self) -> tuple[ParameterRange, ...]:
        return self.parameters

    @property
    def names(self) -> tuple[str, ...]:
        """The declared parameters, in input-column order."""
        return tuple(r.name for r in self.parameters)

    def nominal(self) -> dict[str, float]:
        """The nominal problem's values of the declared parameters."""
        return {n: self.problem.parameter_value(n) for n in self.names}

    def contains(self, problem: PDEProblem) -> bool:
        """Whether ``problem``'s values of the declared parameters lie inside the ranges."""
        return all(r.contains(problem.parameter_value(r.name)) for r in self.parameters)

    def at(self, values: Mapping[str, float] | PDEProblem) -> ParametricPDE:
        """The same family with another nominal problem: ``values`` of declared parameters
        (floats), or a problem that differs from the nominal one in declared parameters only."""
        if isinstance(values, PDEProblem):
            nominal = values
            if family_dict(nominal, self.names) != family_dict(self.problem, self.names):
                v.fail(type(self).__name__, "problem", "differ from the nominal problem in "
                       f"declared parameters {list(self.names)} only", type(nominal).__name__)
        else:
            nominal = self.problem.replace_parameters(values)
        return ParametricPDE(problem=nominal, parameters=self.parameters)

    # ----- per-point parameters -------------------------------------------------------------
    def split(self, x: Tensor) -> tuple[Tensor, PDEProblem]:
        """States ``x[:, :d]`` and the nominal problem with each declared parameter replaced by
        its column of ``x`` (n, d + m)."""
        d = self.dim
        values = {r.name: x[:, d + j] for j, r in enumerate(self.parameters)}
        return x[:, :d], self.problem.with_parameters(values)

    def _states(self, d: Derivatives) -> Derivatives:
        n = self.dim
        return Derivatives(d.value, d.tau, d.grad[:, :n], d.hess[:, :n, :n])

    # ----- equation -------------------------------------------------------------------------
    def payoff(self, x: Tensor) -> Tensor:
        return self.problem.payoff(x[:, :self.dim])

    def generator(self, x: Tensor, d: Derivatives, drop: frozenset[str] = frozenset()) -> Tensor:
        xs, view = self.split(x)
        return view.generator(xs, self._states(d), drop)

    def residual(self, x: Tensor, d: Derivatives, drop: frozenset[str] = frozenset()) -> Tensor:
        xs, view = self.split(x)
        return view.residual(xs, self._states(d), drop)

    def boundary_value(self, face: Face, tau: Tensor, x: Tensor) -> Tensor:
        xs, view = self.split(x)
        return view.boundary_value(face, tau, xs)

    def base_value(self, tau: Tensor, x: Tensor) -> Tensor | None:
        """The nominal problem's base function at each point's parameters."""
        xs, view = self.split(x)
        return view.base_value(tau, xs)

    def base_derivatives(self, tau: Tensor, x: Tensor) -> Derivatives:
        """The base table with gradient and Hessian in every input column (n, d + m)."""
        return autograd_table(self.base_value, tau, x)

    def leg_price(self, leg: Any, tau: Tensor, x: Tensor) -> Tensor:
        xs, view = self.split(x)
        return view.leg_price(leg, tau, xs)

    def split_value(self, tau: Tensor, x: Tensor) -> Tensor:
        """The sign-split base at each point's parameters (spreads and legs alike)."""
        xs, view = self.split(x)
        return legs.split_value(view.netting_set, view.xva,  # type: ignore[attr-defined]
                                view.leg_price, view.rate, tau, xs)

    def split_derivatives(self, tau: Tensor, x: Tensor) -> Derivatives:
        return autograd_table(self.split_value, tau, x)

    def exact_value(self, tau: Tensor, x: Tensor) -> Tensor:
        """The nominal problem's exact value (one-signed payoffs) at each point's parameters."""
        xs, view = self.split(x)
        return view.exact_value(tau, xs)  # type: ignore[attr-defined]

    # ----- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "problem": self.problem.to_dict(),
                "parameters": [r.to_dict() for r in self.parameters]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ParametricPDE:
        from .base import problem_from_dict

        return cls(problem=problem_from_dict(d["problem"]),
                   parameters=tuple(ParameterRange(**r) for r in d["parameters"]))


def family_dict(problem: PDEProblem, names: Sequence[str]) -> dict[str, Any]:
    """``problem.to_dict()`` without the values of the parameters ``names``: what two problems
    of one parametric family share."""
    d = problem.to_dict()
    for name in names:
        if name in ("lambda_b", "lambda_c", "recovery_b", "recovery_c"):
            d["xva"] = {**d["xva"], name: None}
        elif name.startswith("vol_"):
            vols = list(d["vols"])
            vols[int(name[4:]) - 1] = None
            d["vols"] = vols
        else:
            d[name] = None
    return d


__all__ = ["ParameterRange", "ParametricPDE", "family_dict"]
