"""Typed options and statuses of the PINN package.

Each is a ``StrEnum``: a member equals its string (``PINNStatus.CONVERGED == "converged"``),
formats and serialises to JSON as that string, and plain strings are accepted wherever a member
is expected (converted once, by :func:`training._validation.option`, with the project's message
for a value outside the enumeration).
"""

from __future__ import annotations

from enum import StrEnum


class LossType(StrEnum):
    """The PINN loss (:mod:`training.pinn.losses`)."""

    #: reduced-PDE residuals on the faces, every weight 1.
    BOUNDARY_SAFE = "boundary_safe"
    #: lambda-weighted Dirichlet/Neumann data terms on the faces.
    CLASSICAL = "classical"


class InitialCondition(StrEnum):
    """Treatment of the payoff at tau = 0 by the trial value (:mod:`training.pinn.network`)."""

    #: a data term at tau = 0: ``u = N``.
    SOFT = "soft"
    #: exact: ``u = payoff / K + s N``.
    HARD = "hard"
    #: exact, around a base function B: ``u = B / K (1 + s N_a) + s N_b``.
    BASE = "base"


class BaseFunction(StrEnum):
    """The base function B of the "base" initial condition."""

    #: the problem's risk-free value of the payoff.
    RISK_FREE = "risk_free"
    #: the sign-split value ``e^{-c+ tau} V_rf(P) - e^{-c- tau} V_rf(N)``.
    SPLIT = "split"
    #: the payoff smoothed by each leg's local variance (no pricing formula;
    #: :mod:`training.pinn.smoothed`).
    SMOOTHED_PAYOFF = "smoothed_payoff"


class FaceResiduals(StrEnum):
    """The residual of a boundary-safe face (:func:`training.pinn.losses.resolve_faces`)."""

    #: the PDE with the face's boundary condition substituted.
    REDUCED = "reduced"
    #: the whole PDE (no far-field condition).
    FULL = "full"
    #: per face, reduced where the risk-free solution satisfies the substituted condition.
    AUTO = "auto"
    #: the same choice per point of a face: reduced where the risk-free solution satisfies the
    #: substituted condition at that point, the whole PDE elsewhere.
    POINTWISE = "pointwise"


class StateWeights(StrEnum):
    """Quadrature weights of a :class:`~training.pinn.ClusteredGrid` along its state axes."""

    #: trapezoidal weights of the stretched nodes: the loss approximates the integral over the
    #: box, whatever the clustering.
    AREA = "area"
    #: every node of a state axis weighs the same: the loss weighs each region by its node
    #: density, so the clustered region (at the strike) counts more than the far field.
    NODES = "nodes"


class PINNStatus(StrEnum):
    """How a training run ended (``PINNSolution.stats["status"]``)."""

    #: every configured Adam step and L-BFGS iteration ran.
    COMPLETED = "completed"
    #: L-BFGS stalled (tolerance reached or line search failed) three restarts in a row.
    CONVERGED = "converged"
    #: ``time_limit`` stopped the gradient steps (output-layer least squares still ran).
    TIME_LIMIT = "time_limit"
    #: the loss became non-finite during L-BFGS (no least squares afterwards).
    DIVERGED = "diverged"


__all__ = ["BaseFunction", "FaceResiduals", "InitialCondition", "LossType", "PINNStatus",
           "StateWeights"]
