"""Typed options and statuses of the PINN package.

Each is a ``StrEnum``: a member equals its string (``PINNStatus.CONVERGED == "converged"``),
formats and serialises to JSON as that string, and plain strings are accepted wherever a member
is expected (converted once, by :func:`training._validation.option`, with the project's message
for a value outside the enumeration).
"""

from __future__ import annotations

from enum import StrEnum


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


__all__ = ["PINNStatus"]
