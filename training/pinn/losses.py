"""Loss terms of the boundary-safe and the classical PINN.

Every term is a weighted mean square ``sum_i w_i r_i^2`` over one point set (weights sum to 1),
computed on the normalised value ``u = V / value_scale``; the PDE residual is the problem's
``dV/dtau - L V + r V + f(V)`` (divided by value_scale; f is positively homogeneous so this is the
residual of u). Terms (keys of the returned dict):

* ``"pde"``: interior PDE residual (both loss types).
* ``"ic"``: ``u(0, x) - payoff(x) / K`` (soft initial condition only).
* boundary-safe: ``"<face>"``: the reduced PDE residual on that face (weight 1), or a Dirichlet
  data term on faces whose ``safe == "dirichlet"``. With ``faces="full"`` the residual faces use
  the full PDE instead (nothing dropped). ``faces="auto"`` (see :func:`resolve_faces`) chooses per
  face: the reduced PDE where the exact risk-free solution satisfies the dropped condition (e.g.
  V_SS = 0 at s_max for Black-Scholes), the full PDE where it does not (e.g. at s_max for Heston
  at high variance, or dV/dv = 0 at v_max). The reduced PDE is a far-field condition; the full
  PDE is none, which a payoff of both signs needs. ``faces="pointwise"`` makes the same choice
  per point of a face.
* classical: ``"<face>"``: ``bc_weight`` times the Dirichlet misfit or Neumann misfit (the
  normal derivative scaled by the domain length), or the PDE residual (weight 1) on "pde" faces.
* ``"adaptive"``: PDE residual on the residual-based adaptive points, if any.

:func:`residual_vector` stacks every term as ``sqrt(weight) r``, for least-squares solves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum

import torch
from torch import Tensor

from .. import _validation as v
from .options import FaceResiduals, LossType
from .problems.base import Derivatives, Face, PDEProblem

#: The strings of :class:`LossType` and :class:`FaceResiduals`.
LOSS_TYPES = tuple(m.value for m in LossType)
FACE_RESIDUALS = tuple(m.value for m in FaceResiduals)
#: "auto" keeps a face's reduced PDE when the risk-free solution's dropped terms, integrated over
#: the maturity, stay below this fraction of the value scale on every point of the face.
FACE_TOLERANCE = 1e-5

#: One choice for every residual face, or face name -> choice ("reduced", "full" or a
#: per-point mask, True where reduced; see :func:`resolve_faces`).
Faces = FaceResiduals | str | Mapping[str, FaceResiduals | str | Tensor]

Model = Callable[[Tensor], Tensor]


def derivatives(model: Model, z: Tensor, second: bool = True, n_states: int | None = None
                ) -> Derivatives:
    """Value, dV/dtau, gradient and Hessian in x of ``model`` at z (n, 1 + d + m), by autograd.

    ``n_states`` is d, the state columns after tau (default: every column after tau); columns
    beyond them (declared parameters of a :class:`~training.pinn.problems.ParametricPDE`) get no
    derivatives here, since the PDE has none in them. ``z`` must require grad. The graph is kept
    (create_graph) so losses can be backpropagated.
    """
    value = model(z)
    g = torch.autograd.grad(value.sum(), z, create_graph=True)[0]
    d = z.shape[1] - 1 if n_states is None else n_states
    if second:
        rows = [torch.autograd.grad(g[:, 1 + i].sum(), z, create_graph=True)[0][:, 1:1 + d]
                for i in range(d)]
        hess = torch.stack(rows, dim=1)
    else:
        hess = torch.zeros(z.shape[0], d, d, dtype=z.dtype, device=z.device)
    return Derivatives(value=value, tau=g[:, 0], grad=g[:, 1:1 + d], hess=hess)


def residual(
    problem: PDEProblem, model: Model, z: Tensor, drop: frozenset[str] = frozenset()
) -> Tensor:
    """Normalised PDE residual at z (n, 1 + d + m): ``(V_tau - L V + r V + f(V)) / K``, shape
    (n,); the m parameter columns (if any) set the point's parameters.

    The model returns ``u = V / K``; since L is linear and f positively homogeneous, the residual
    of u equals the residual of V divided by K.
    """
    z = z if z.requires_grad else z.clone().requires_grad_(True)
    d = derivatives(model, z, n_states=problem.dim)
    return problem.residual(z[:, 1:], d, drop)


def _point_gaps(problem: PDEProblem, z: Tensor, face: Face) -> Tensor:
    """``T |L B - L_reduced B| / value_scale`` at each point (n,) of ``face``, with B the exact
    risk-free value (``problem.base_derivatives``)."""
    tau, x = z[:, 0].detach(), z[:, 1:].detach()
    d = problem.base_derivatives(tau, x)
    gap = problem.generator(x, d) - problem.generator(x, d, face.drop)
    return problem.maturity * gap.abs() / problem.value_scale


def _gap_faces(sets: dict[str, tuple[Tensor, Tensor, Face | None]]):
    for name, (z, _w, face) in sets.items():
        if face is None or not face.drop or face.safe != "residual" or len(z) == 0:
            continue
        yield name, z, face


def face_gaps(problem: PDEProblem, sets: dict[str, tuple[Tensor, Tensor, Face | None]]
              ) -> dict[str, float]:
    """Per residual face with dropped terms: ``T max |L B - L_reduced B| / value_scale`` over the
    face's points, with B the exact risk-free value (``problem.base_derivatives``): how far the
    reduced PDE is from what the risk-free solution satisfies there, in units of the value scale.
    """
    return {name: float(_point_gaps(problem, z, face).max())
            for name, z, face in _gap_faces(sets)}


def resolve_faces(problem: PDEProblem, sets: dict[str, tuple[Tensor, Tensor, Face | None]],
                  faces: FaceResiduals | str) -> dict[str, FaceResiduals | Tensor]:
    """Face name -> "reduced", "full" or a per-point mask for every residual face.

    ``faces="auto"`` decides per face by :func:`face_gaps` against :data:`FACE_TOLERANCE`;
    ``faces="pointwise"`` decides per point by the same gap: a face whose points all agree gets
    "reduced" or "full", a mixed face a boolean tensor (n,) that is True where the point's
    residual is the reduced PDE. Any other choice applies to every face.
    """
    faces = v.option("resolve_faces", "faces", faces, FaceResiduals)
    names = [n for n, (_z, _w, f) in sets.items() if f is not None and f.safe == "residual"]
    if faces is FaceResiduals.AUTO:
        gaps = face_gaps(problem, sets)
        return {n: (FaceResiduals.REDUCED if gaps.get(n, 0.0) <= FACE_TOLERANCE
                    else FaceResiduals.FULL) for n in names}
    if faces is FaceResiduals.POINTWISE:
        out: dict[str, FaceResiduals | Tensor] = dict.fromkeys(names, FaceResiduals.REDUCED)
        for name, z, face in _gap_faces(sets):
            reduced = _point_gaps(problem, z, face) <= FACE_TOLERANCE
            out[name] = (FaceResiduals.REDUCED if bool(reduced.all()) else
                         FaceResiduals.FULL if not bool(reduced.any()) else reduced)
        return out
    return dict.fromkeys(names, faces)


def face_summary(faces: Mapping[str, FaceResiduals | Tensor]) -> dict[str, FaceResiduals]:
    """The choices of :func:`resolve_faces` as plain options (a mask becomes "pointwise")."""
    return {n: (c if isinstance(c, FaceResiduals) else FaceResiduals.POINTWISE)
            for n, c in faces.items()}


def reduced_shares(faces: Mapping[str, FaceResiduals | Tensor]) -> dict[str, float]:
    """Fraction of each residual face's points whose residual is the reduced PDE."""
    return {n: (float(c.double().mean()) if isinstance(c, Tensor)
                else float(c is FaceResiduals.REDUCED)) for n, c in faces.items()}


def _face_choice(faces: Faces, name: str) -> FaceResiduals | Tensor | str:
    if isinstance(faces, str):
        if faces not in (FaceResiduals.REDUCED, FaceResiduals.FULL):
            raise ValueError(
                f"The 'faces' parameter of loss_terms must be 'reduced', 'full' or a mapping "
                f"from face names (resolve 'auto' and 'pointwise' with resolve_faces). "
                f"Got {faces!r} instead."
            )
        return faces
    return faces.get(name, FaceResiduals.REDUCED)


class TermKind(StrEnum):
    """What a loss term compares (see :func:`term_kind`)."""

    INITIAL = "initial"
    PDE = "pde"
    RESIDUAL = "residual"
    DIRICHLET = "dirichlet"
    NEUMANN = "neumann"


def term_kind(name: str, face: Face | None, loss: LossType) -> TermKind:
    """The kind of the loss term of point set ``name``: the initial condition, the full PDE
    (interior, adaptive points or "pde" faces), a face residual, or a Dirichlet or Neumann
    misfit."""
    if name == "initial":
        return TermKind.INITIAL
    if face is None:
        return TermKind.PDE
    kind = face.classical if loss is LossType.CLASSICAL else face.safe
    if kind not in ("residual", "pde", "dirichlet", "neumann"):  # pragma: no cover
        raise ValueError(f"Unknown boundary treatment {kind!r} on face {name!r}.")
    return TermKind(kind)


def term_from_derivatives(problem: PDEProblem, kind: TermKind, face: Face | None, z: Tensor,
                          d: Derivatives, choice: FaceResiduals | Tensor | str
                          = FaceResiduals.REDUCED) -> Tensor:
    """Unweighted residual (n,) of one term from the trial value's derivatives ``d`` at z.

    ``choice`` applies to :attr:`TermKind.RESIDUAL` terms: "reduced", "full" or a boolean
    mask (n,) that is True where the reduced PDE applies.
    """
    x, scale = z[:, 1:], problem.value_scale
    if kind is TermKind.INITIAL:
        return d.value - problem.payoff(x) / scale
    if kind is TermKind.PDE:
        return problem.residual(x, d)
    if kind is TermKind.RESIDUAL:
        if isinstance(choice, Tensor):
            return torch.where(choice, problem.residual(x, d, face.drop),
                               problem.residual(x, d))
        if choice not in (FaceResiduals.REDUCED, FaceResiduals.FULL):
            raise ValueError(
                f"The face residual of {face.name!r} must be 'reduced', 'full' or a per-point "
                f"mask (resolve 'auto' and 'pointwise' with resolve_faces). Got {choice!r} "
                f"instead."
            )
        return problem.residual(x, d, face.drop if choice == FaceResiduals.REDUCED
                                else frozenset())
    g = problem.boundary_value(face, z[:, 0], x) / scale
    if kind is TermKind.DIRICHLET:
        return d.value - g
    length = problem.upper[face.axis] - problem.lower[face.axis]
    return length * (d.grad[:, face.axis] - g)


def _model_derivatives(problem: PDEProblem, model: Model, kind: TermKind, z: Tensor
                       ) -> Derivatives:
    """What ``kind`` needs of the model at z: the value alone, or derivatives by autograd."""
    if kind in (TermKind.INITIAL, TermKind.DIRICHLET):
        return Derivatives(value=model(z), tau=None, grad=None, hess=None)
    z = z if z.requires_grad else z.clone().requires_grad_(True)
    return derivatives(model, z, second=kind is not TermKind.NEUMANN, n_states=problem.dim)


def term_weight(kind: TermKind, loss: LossType, bc_weight: float, ic_weight: float) -> float:
    """Loss weight of a term: 1 for residuals and for every term of the boundary-safe loss;
    the classical loss's data terms carry ``bc_weight`` and ``ic_weight``."""
    if loss is not LossType.CLASSICAL:
        return 1.0
    if kind is TermKind.INITIAL:
        return ic_weight
    return bc_weight if kind in (TermKind.DIRICHLET, TermKind.NEUMANN) else 1.0


def term_name(name: str) -> str:
    """Key of a term in the loss dict: "ic", "pde" for the interior, else the set's name."""
    return {"initial": "ic", "interior": "pde"}.get(name, name)


def term_residuals(
    problem: PDEProblem,
    model: Model,
    sets: dict[str, tuple[Tensor, Tensor, Face | None]],
    loss: LossType | str = LossType.BOUNDARY_SAFE,
    bc_weight: float = 1.0,
    ic_weight: float = 1.0,
    faces: Faces = FaceResiduals.REDUCED,
) -> dict[str, tuple[Tensor, Tensor]]:
    """Per-term residuals: name -> (r (n,), quadrature weight times loss weight (n,)).

    The loss term is ``sum(weight * r**2)``; see :func:`loss_terms` for the arguments.
    """
    loss = v.option("loss_terms", "loss", loss, LossType)
    if isinstance(faces, str):
        _face_choice(faces, "")
    out: dict[str, tuple[Tensor, Tensor]] = {}
    for name, (z, w, face) in sets.items():
        kind = term_kind(name, face, loss)
        d = _model_derivatives(problem, model, kind, z)
        r = term_from_derivatives(problem, kind, face, z, d, _face_choice(faces, name))
        out[term_name(name)] = (r, term_weight(kind, loss, bc_weight, ic_weight) * w)
    return out


def loss_terms(
    problem: PDEProblem,
    model: Model,
    sets: dict[str, tuple[Tensor, Tensor, Face | None]],
    loss: LossType | str = LossType.BOUNDARY_SAFE,
    bc_weight: float = 1.0,
    ic_weight: float = 1.0,
    faces: Faces = FaceResiduals.REDUCED,
) -> dict[str, Tensor]:
    """All loss terms for one evaluation: name -> ``sum_i weight_i r_i^2``.

    Args:
        sets: name -> (points (n, 1 + d), weights (n,), face or None); "initial" present only for
            the soft initial condition.
        loss: "boundary_safe" or "classical".
        bc_weight, ic_weight: lambda weights of the classical data terms (the boundary-safe loss
            uses weight 1 everywhere, including the initial condition).
        faces: "reduced" (boundary conditions substituted) or "full" (the whole PDE) on the
            faces whose boundary-safe term is a residual, or a mapping face name -> "reduced",
            "full" or a boolean mask over the face's points, True where reduced
            (:func:`resolve_faces`; faces not in it are reduced).
    """
    terms = term_residuals(problem, model, sets, loss, bc_weight, ic_weight, faces)
    return {name: torch.sum(w * r * r) for name, (r, w) in terms.items()}


def residual_vector(
    problem: PDEProblem,
    model: Model,
    sets: dict[str, tuple[Tensor, Tensor, Face | None]],
    loss: LossType | str = LossType.BOUNDARY_SAFE,
    bc_weight: float = 1.0,
    ic_weight: float = 1.0,
    faces: Faces = FaceResiduals.REDUCED,
) -> Tensor:
    """All terms as one vector ``sqrt(weight) r`` whose squared norm is the total loss."""
    terms = term_residuals(problem, model, sets, loss, bc_weight, ic_weight, faces)
    return torch.cat([torch.sqrt(w) * r for r, w in terms.values()])
