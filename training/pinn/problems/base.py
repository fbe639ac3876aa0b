"""Common structure of a pricing PDE in time to maturity.

Every problem solves, on ``tau in [0, maturity]`` and a box of states ``x`` (shape ``(n, d)``),

    dV/dtau = L V - r V - f(V),      V(0, x) = payoff(x),

with ``L`` the model's generator (written once per problem in :meth:`PDEProblem.generator`) and
``f`` the XVA source (zero when risk-free). Both loss types use the same generator:

* **boundary-safe**: on each face the boundary condition is substituted into the PDE, which removes
  some generator terms (``Face.drop``), and the reduced PDE's residual is that face's loss;
* **classical**: the full PDE inside, and lambda-weighted Dirichlet/Neumann data terms on the faces.
"""

from __future__ import annotations

import copy
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor

from simulators.xva import XVA

from ... import _validation
from ..derivatives import Derivatives

if TYPE_CHECKING:
    from .parametric import ParameterRange

#: Declarable parameters that live on the problem's ``xva`` (an :class:`simulators.XVA`).
XVA_PARAMETERS = ("lambda_b", "lambda_c", "recovery_b", "recovery_c")


@dataclass(frozen=True)
class Face:
    """One face of the spatial box, ``x[axis] == lower[axis]`` (side "min") or upper (side "max").

    Attributes:
        name: e.g. "spot_min", "variance_max".
        axis: index of the state variable.
        side: "min" or "max".
        drop: generator terms removed by the boundary condition in the boundary-safe residual
            (names as in the problem's generator, e.g. "SS" for the linearity condition V_SS = 0).
        classical: the classical condition, "dirichlet", "neumann", "pde" (the degenerate PDE,
            no data term) or "residual" (the reduced PDE, as the boundary-safe loss).
        safe: the boundary-safe term, "residual" (the reduced PDE) or "dirichlet" (a data term,
            only where the source needs Dirichlet data, e.g. Heston at v = 0 without Feller).
    """

    name: str
    axis: int
    side: str
    drop: frozenset[str] = field(default_factory=frozenset)
    classical: str = "dirichlet"
    safe: str = "residual"


class PDEProblem(ABC):
    """Abstract pricing PDE; concrete problems are frozen dataclasses that subclass it."""

    #: Names of the state variables (spatial inputs), in column order.
    state_names: ClassVar[tuple[str, ...]]
    #: Registry of problem classes by name, for JSON round trips.
    registry: ClassVar[dict[str, type[PDEProblem]]] = {}
    #: Model and XVA parameters a :class:`~training.pinn.problems.parametric.ParametricPDE` may
    #: declare as network inputs (fields of the problem, ``vol_i`` for the i-th of ``vols``, or
    #: fields of its ``xva``).
    parameter_names: ClassVar[tuple[str, ...]] = ()

    maturity: float
    rate: float
    xva: XVA | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        PDEProblem.registry[cls.__name__] = cls

    # ----- geometry -------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Number of state variables d."""
        return len(self.state_names)

    @property
    @abstractmethod
    def lower(self) -> tuple[float, ...]:
        """Lower corner of the state box, length d."""

    @property
    @abstractmethod
    def upper(self) -> tuple[float, ...]:
        """Upper corner of the state box, length d."""

    @abstractmethod
    def faces(self) -> tuple[Face, ...]:
        """The faces carrying a boundary term, in the order used to classify corner points."""

    @property
    def value_scale(self) -> float:
        """Typical size of V (the strike): the network and the losses work on V / value_scale."""
        return float(getattr(self, "strike", 1.0))

    @property
    def parameter_ranges(self) -> tuple[ParameterRange, ...]:
        """Parameters that are network inputs (columns after the states); none for a problem at
        one parameter set (see :class:`~training.pinn.problems.parametric.ParametricPDE`)."""
        return ()

    @property
    def input_lower(self) -> tuple[float, ...]:
        """Lower corner of the network's (state, parameter) input box, length d + m."""
        return (*self.lower, *(r.low for r in self.parameter_ranges))

    @property
    def input_upper(self) -> tuple[float, ...]:
        """Upper corner of the network's (state, parameter) input box, length d + m."""
        return (*self.upper, *(r.high for r in self.parameter_ranges))

    # ----- declared parameters ----------------------------------------------------------------
    def parameter_value(self, name: str) -> float:
        """The value of the declarable parameter ``name`` (one of ``parameter_names``): a field
        of the problem, ``vol_i`` (the i-th of ``vols``) or an XVA field (``lambda_b``, ...)."""
        self._check_parameter(name)
        if name in XVA_PARAMETERS:
            return float(getattr(self.xva, name))
        if name.startswith("vol_"):
            return float(self.vols[int(name[4:]) - 1])  # type: ignore[attr-defined]
        return float(getattr(self, name))

    def with_parameters(self, values: Mapping[str, Any]) -> PDEProblem:
        """An unvalidated copy with the named parameters replaced by ``values`` (floats or
        tensors of shape (n,), one value per point), for evaluating the generator, source, base
        function and boundary data at per-point parameters. Not for constructing problems: use
        the class (or :func:`dataclasses.replace`) for that, which validates."""
        new = copy.copy(self)
        xva_values = {k: val for k, val in values.items() if k in XVA_PARAMETERS}
        for name in values:
            self._check_parameter(name)
        if xva_values:
            xva = copy.copy(self.xva)
            for k, val in xva_values.items():
                object.__setattr__(xva, k, val)
            object.__setattr__(new, "xva", xva)
        vols = {int(k[4:]) - 1: val for k, val in values.items() if k.startswith("vol_")}
        if vols:
            items = list(self.vols)  # type: ignore[attr-defined]
            for i, val in vols.items():
                items[i] = val
            object.__setattr__(new, "vols", tuple(items))
        for k, val in values.items():
            if k not in XVA_PARAMETERS and not k.startswith("vol_"):
                object.__setattr__(new, k, val)
        return new

    def replace_parameters(self, values: Mapping[str, float]) -> PDEProblem:
        """A validated copy with the named parameters set to the floats ``values`` (the class's
        own checks apply, e.g. a vol must be > 0)."""
        for name in values:
            self._check_parameter(name)
        changes: dict[str, Any] = {}
        xva_values = {k: float(val) for k, val in values.items() if k in XVA_PARAMETERS}
        if xva_values:
            changes["xva"] = dataclasses.replace(self.xva, **xva_values)
        vols = {int(k[4:]) - 1: float(val) for k, val in values.items() if k.startswith("vol_")}
        if vols:
            items = list(self.vols)  # type: ignore[attr-defined]
            for i, val in vols.items():
                items[i] = val
            changes["vols"] = tuple(items)
        changes.update({k: float(val) for k, val in values.items()
                        if k not in XVA_PARAMETERS and not k.startswith("vol_")})
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def _check_parameter(self, name: str) -> None:
        owner = type(self).__name__
        if name not in self.parameter_names:
            _validation.fail(owner, "parameters", f"be among {list(self.parameter_names)}", name)
        if name in XVA_PARAMETERS and self.xva is None:
            _validation.fail(owner, "xva", f"be set to declare the parameter {name!r}", None)

    def cluster_hints(self) -> tuple[tuple[float, float | None], ...]:
        """(centre, width) per state variable for :class:`~training.pinn.ClusteredGrid`: nodes
        cluster at the centre with spacing scaled by the width (``None``: uniform). Default:
        spots (names starting with "spot") at the strike with width K / 4, others uniform."""
        k = float(getattr(self, "strike", 1.0))
        return tuple((k, 0.25 * k) if n.startswith("spot") else (lo, None)
                     for n, lo in zip(self.state_names, self.lower, strict=True))

    # ----- equation ---------------------------------------------------------------------------
    @abstractmethod
    def payoff(self, x: Tensor) -> Tensor:
        """Payoff at tau = 0; x (n, d) -> (n,)."""

    @property
    @abstractmethod
    def payoff_sign(self) -> int:
        """+1 if the payoff is >= 0 everywhere, -1 if <= 0, 0 if it takes both signs."""

    @abstractmethod
    def generator(self, x: Tensor, d: Derivatives, drop: frozenset[str] = frozenset()) -> Tensor:
        """L V at states x (n, d), leaving out the terms named in ``drop``; returns (n,)."""

    def source(self, value: Tensor) -> Tensor:
        """The XVA source f(V) (zero when risk-free), elementwise."""
        if self.xva is None:
            return torch.zeros_like(value)
        return self.xva.source(value)

    def residual(self, x: Tensor, d: Derivatives, drop: frozenset[str] = frozenset()) -> Tensor:
        """PDE residual ``dV/dtau - L V + r V + f(V)``, with the terms in ``drop`` removed."""
        return d.tau - self.generator(x, d, drop) + self.rate * d.value + self.source(d.value)

    @property
    def spread(self) -> float:
        """Discount spread c of the one-signed closed form V_risky = e^{-c tau} V (0 if risk-free).

        For payoffs of both signs no such factor exists; 0 is returned and only boundary data
        (where the value is one-signed) use it.
        """
        if self.xva is None or self.payoff_sign == 0:
            return 0.0
        return self.xva.spread(self.payoff_sign)

    # ----- data of the classical loss and of the base-function variant ------------------------
    @abstractmethod
    def boundary_value(self, face: Face, tau: Tensor, x: Tensor) -> Tensor:
        """Classical Dirichlet value on ``face`` (or the Neumann value of the normal derivative)."""

    def base_value(self, tau: Tensor, x: Tensor) -> Tensor | None:
        """Risk-free closed-form (or approximate) value of the same payoff, exact at tau = 0.

        Used by the "base" initial-condition variant ``V = B (1 + tau N_a) + tau N_b``; ``None``
        if the problem has none.
        """
        return None

    def base_derivatives(self, tau: Tensor, x: Tensor) -> Derivatives:
        """The base function's value, dB/dtau, gradient and Hessian in x at points (tau (n,),
        x (n, d)), tabulated once per point set by :func:`~training.pinn.tabulated
        .tabulated_base`. Default: autograd of :meth:`base_value`."""
        from ..tabulated import autograd_table

        return autograd_table(self.base_value, tau, x)

    # ----- netting-set problems: unit-leg prices and the sign-split base ----------------------
    def leg_price(self, leg: Any, tau: Tensor, x: Tensor) -> Tensor:
        """Risk-free value of one unit leg (a :class:`simulators.Leg`) at (tau (n,), x (n, d))."""
        raise NotImplementedError(f"{type(self).__name__} prices no netting-set legs")

    def leg_derivatives(self, leg: Any, tau: Tensor, x: Tensor) -> Derivatives:
        """:meth:`leg_price` with its derivatives (default: autograd of the torch closed form)."""
        from ..tabulated import autograd_table

        return autograd_table(lambda t, y: self.leg_price(leg, t, y), tau, x)

    def split_derivatives(self, tau: Tensor, x: Tensor) -> Derivatives:
        """The sign-split base ``e^{-c+ tau} V_rf(P) - e^{-c- tau} V_rf(N)`` (payoff = P - N,
        both parts >= 0; see :func:`~training.pinn.problems.legs.one_signed_parts`) with its
        derivatives, from the unit legs' tables."""
        from . import legs

        parts = legs.one_signed_parts(self.netting_set)  # type: ignore[attr-defined]
        cp = 0.0 if self.xva is None else self.xva.spread_positive
        cn = 0.0 if self.xva is None else self.xva.spread_negative
        n, dim = x.shape
        acc = [torch.zeros(n, dtype=x.dtype, device=x.device),
               torch.zeros(n, dtype=x.dtype, device=x.device),
               torch.zeros(n, dim, dtype=x.dtype, device=x.device),
               torch.zeros(n, dim, dim, dtype=x.dtype, device=x.device)]
        for part, c, sign in ((parts[0], cp, 1.0), (parts[1], cn, -1.0)):
            e = sign * torch.exp(-c * tau)
            for coef, leg in part:
                if leg is None:
                    bond = torch.exp(-self.rate * tau)
                    d = Derivatives(bond, -self.rate * bond, acc[2] * 0.0, acc[3] * 0.0)
                else:
                    d = self.leg_derivatives(leg, tau, x)
                acc[0] = acc[0] + coef * e * d.value
                acc[1] = acc[1] + coef * e * (d.tau - c * d.value)
                acc[2] = acc[2] + coef * e[:, None] * d.grad
                acc[3] = acc[3] + coef * e[:, None, None] * d.hess
        return Derivatives(*acc)

    # ----- serialisation -----------------------------------------------------------------------
    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description; ``problem_from_dict`` inverts it."""


def xva_from_dict(d: dict[str, Any] | None) -> XVA | None:
    if d is None:
        return None
    d = {k: v for k, v in d.items() if k != "type"}
    return XVA(**d)


def problem_from_dict(d: dict[str, Any]) -> PDEProblem:
    """Rebuild a problem from :meth:`PDEProblem.to_dict` output."""
    d = dict(d)
    name = d.pop("type")
    if name not in PDEProblem.registry:
        raise ValueError(
            f"The 'type' parameter of problem_from_dict must be one of "
            f"{sorted(PDEProblem.registry)}. Got {name!r} instead."
        )
    cls = PDEProblem.registry[name]
    if callable(getattr(cls, "from_dict", None)):  # wrappers rebuild their nested problem
        return cls.from_dict(d)  # type: ignore[attr-defined]
    d["xva"] = xva_from_dict(d.get("xva"))
    if d.get("netting") is not None:
        from simulators import NettingSet

        n = {k: val for k, val in d["netting"].items() if k != "type"}
        d["netting"] = NettingSet(**n)
    for k, v in list(d.items()):
        if isinstance(v, list) and k != "netting":
            d[k] = tuple(v)
    return PDEProblem.registry[name](**d)
