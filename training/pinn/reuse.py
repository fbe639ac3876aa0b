"""Reusing saved PINNs when the parameters move: today's slice, training ranges, nearest solution.

A nightly run re-prices with the day's parameters. A parametric solution
(:class:`~training.pinn.problems.ParametricPDE`) already covers a box of parameters, so:

1. if today's parameters lie inside a saved solution's ranges, the solution is retargeted to
   today's problem (:meth:`PINNSolution.at`) and checked on **today's slice**, the collocation
   set of its config with every parameter column at today's value (:func:`slice_residual`); if
   the residual is small enough it is used without training ("inside");
2. otherwise training starts from the nearest saved solution of the same family
   (:func:`nearest`, weights and input box loaded by ``PINNSolver(initial=...)``) over
   :func:`training_ranges` ("warm_start");
3. with nothing saved, training starts from a fresh network ("cold").

The cache bookkeeping (where solutions are stored, how the family is keyed) is the caller's;
this module holds the numerical parts, shared by the pipeline and the benchmarks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import torch

from .collocation import with_parameter_values
from .losses import loss_terms, resolve_faces
from .options import FaceResiduals, InitialCondition, LossType
from .problems.base import PDEProblem
from .problems.parametric import ParameterRange, ParametricPDE
from .solution import PINNSolution

#: Margin, as a fraction of the range width, left between a shifted range's end and today's value.
SHIFT_MARGIN = 0.1


class Reuse(StrEnum):
    """How the pipeline obtained a PINN (``"reuse"`` in the scenario's ``pinn`` metrics)."""

    #: today's parameters lie inside a saved solution's ranges and its residual on today's
    #: slice passed the threshold: no training.
    INSIDE = "inside"
    #: trained, starting from the nearest saved solution's weights.
    WARM_START = "warm_start"
    #: trained from a fresh network.
    COLD = "cold"


def slice_residual(sol: PINNSolution, problem: PDEProblem | None = None) -> float:
    """Root mean square of the normalised residual of every loss term on today's slice.

    The slice is the solution's own collocation set (``sol.config.collocation``, built for the
    nominal problem) with, for a parametric solution, every parameter column at ``problem``'s
    values (default: the nominal problem's). The value is ``sqrt(sum of the loss terms)``, the
    quadrature-weighted RMS of ``(V_tau - L V + r V + f(V)) / K`` over interior and faces, in
    units of the value scale per year (``sqrt(history["loss"])`` of the training, on one slice).
    The faces use the residuals chosen in training (``stats["faces"]``); with
    ``face_residuals="pointwise"`` the per-point choice is made again on the slice (the masks
    are not saved).
    """
    cfg = sol.config
    family = sol.problem
    if problem is not None and isinstance(family, ParametricPDE):
        family = family.at(problem)
    nominal = family.problem if isinstance(family, ParametricPDE) else family
    sets = cfg.collocation.build(nominal, seed=cfg.seed)
    if isinstance(family, ParametricPDE):
        sets = with_parameter_values(sets, [family.problem.parameter_value(n)
                                            for n in family.names])
    param = next(sol.model.parameters())
    tensors = {}
    for name, ps in sets.items():
        if name == "initial" and cfg.initial_condition is not InitialCondition.SOFT:
            continue
        if len(ps) == 0:
            continue
        tensors[name] = (torch.as_tensor(ps.points, dtype=param.dtype, device=param.device),
                         torch.as_tensor(ps.weights, dtype=param.dtype, device=param.device),
                         ps.face)
    faces = {k: FaceResiduals(val) for k, val in (sol.stats.get("faces") or {}).items()}
    if (cfg.face_residuals == FaceResiduals.POINTWISE and cfg.loss == LossType.BOUNDARY_SAFE
            or FaceResiduals.POINTWISE in faces.values()):  # the masks are not saved
        faces = resolve_faces(family, tensors, FaceResiduals.POINTWISE)
    # the network's base function and payoff depend on the inputs only, so the saved model
    # evaluates any member of its family
    terms = loss_terms(family, sol.model, tensors, cfg.loss, cfg.bc_weight, cfg.ic_weight,
                       faces or FaceResiduals.REDUCED)
    return math.sqrt(float(sum(t.detach() for t in terms.values())))


def training_ranges(declared: Mapping[str, Sequence[float]], problem: PDEProblem
                    ) -> tuple[ParameterRange, ...]:
    """The ranges to train on for today's ``problem``: the declared ``{name: (low, high)}``,
    each moved (same width) just enough to hold today's value with a margin of
    :data:`SHIFT_MARGIN` times the width when the value lies outside. A moved range whose lower
    end is not a valid value (a vol <= 0, a lambda < 0) starts at today's value instead."""
    out = []
    for name, bounds in declared.items():
        r = ParameterRange(name, *bounds)
        today = problem.parameter_value(name)
        low, high = r.low, r.high
        if today > high:
            high = today + SHIFT_MARGIN * r.width
            low = high - r.width
        elif today < low:
            low = today - SHIFT_MARGIN * r.width
            high = low + r.width
        try:
            problem.replace_parameters({name: low})
        except ValueError:
            low, high = today, today + r.width
        out.append(ParameterRange(name, low, high))
    return tuple(out)


def distance(ranges: Sequence[ParameterRange], problem: PDEProblem) -> float:
    """How far today's parameters are from a saved family: the largest distance of a value
    from its range, in units of the range's width (0 inside)."""
    out = 0.0
    for r in ranges:
        x = problem.parameter_value(r.name)
        out = max(out, max(r.low - x, x - r.high, 0.0) / r.width)
    return out


def nearest(candidates: Sequence[tuple[Any, Sequence[ParameterRange]]], problem: PDEProblem
            ) -> Any | None:
    """The key of the candidate ``(key, ranges)`` nearest to today's ``problem`` by
    :func:`distance` (ties: the first), or None if there is none."""
    best, best_d = None, math.inf
    for key, ranges in candidates:
        d = distance(ranges, problem)
        if d < best_d:
            best, best_d = key, d
    return best


__all__ = ["SHIFT_MARGIN", "Reuse", "distance", "nearest", "slice_residual",
           "training_ranges"]
