"""Typed options and statuses of :mod:`training`.

Each is a ``StrEnum``: a member equals its string (``TrainMode.DIFFERENTIAL == "differential"``),
formats and serialises to JSON as that string, and plain strings are accepted wherever a member
is expected, checked once against the enumeration (:func:`training._validation.option` and the
:class:`~training._validation.Choice` constraint) with the project's message::

    The 'dtype' parameter of PINNConfig must be one of 'float64', 'float32'. Got 'float16' instead.
"""

from __future__ import annotations

from enum import StrEnum


class DType(StrEnum):
    """Floating-point precision of a network and its training."""

    FLOAT64 = "float64"
    FLOAT32 = "float32"


class TrainMode(StrEnum):
    """What a regressor was fitted on: values only, or values and differentials."""

    STANDARD = "standard"
    DIFFERENTIAL = "differential"


class FitStatus(StrEnum):
    """How a :class:`~training.DifferentialRegressor` fit ended (``result_.status``)."""

    #: every epoch ran.
    COMPLETED = "completed"
    #: ``patience`` epochs without a better validation loss.
    EARLY_STOPPED = "early_stopped"


__all__ = ["DType", "FitStatus", "TrainMode"]
