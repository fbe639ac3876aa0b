"""Learning-rate schedules, as frozen value objects evaluated at the training progress t ∈ [0, 1].

``t = (epoch + batch / n_batches) / epochs``: the schedule is interpolated at every optimiser step.
The source (Huge & Savine) interpolates its one-cycle schedule once per epoch at ``epoch / epochs``
through the knots (0, 1e-8), (0.2, 0.1), (0.6, 0.01), (0.9, 1e-6), (1, 1e-8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Knot shape of the source's one-cycle schedule, relative to its peak rate 0.1.
ONE_CYCLE_KNOTS: tuple[tuple[float, float], ...] = (
    (0.0, 1e-7),
    (0.2, 1.0),
    (0.6, 0.1),
    (0.9, 1e-5),
    (1.0, 1e-7),
)


@dataclass(frozen=True)
class PiecewiseLinear:
    """Learning rate linear between knots ``(t_k, lr_k)``, 0 = t_0 < ... < t_K = 1."""

    knots: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        ts = [float(t) for t, _ in self.knots]
        lrs = [float(v) for _, v in self.knots]
        if (len(ts) < 2 or ts[0] != 0.0 or ts[-1] != 1.0 or not np.all(np.isfinite(ts))
                or np.any(np.diff(ts) <= 0)):
            raise ValueError(
                "The 'knots' parameter of PiecewiseLinear must have increasing times from 0 to 1. "
                f"Got {self.knots!r} instead."
            )
        if min(lrs) < 0 or not np.all(np.isfinite(lrs)):
            raise ValueError(
                "The 'knots' parameter of PiecewiseLinear must have finite rates >= 0. "
                f"Got {self.knots!r} instead."
            )

    def __call__(self, t: float) -> float:
        ts = [k[0] for k in self.knots]
        lrs = [k[1] for k in self.knots]
        return float(np.interp(min(max(t, 0.0), 1.0), ts, lrs))

    @property
    def peak(self) -> float:
        return max(v for _, v in self.knots)

    def to_dict(self) -> dict:
        return {"kind": "piecewise_linear", "knots": [list(k) for k in self.knots]}


def one_cycle(peak_lr: float = 0.1, knots: Sequence[tuple[float, float]] = ONE_CYCLE_KNOTS):
    """The source's one-cycle shape scaled to ``peak_lr`` (``one_cycle(0.1)`` is the source's)."""
    return PiecewiseLinear(tuple((float(t), float(v) * peak_lr) for t, v in knots))


def constant(lr: float) -> PiecewiseLinear:
    return PiecewiseLinear(((0.0, float(lr)), (1.0, float(lr))))


#: The source's exact recipe: one-cycle with peak 0.1.
SOURCE_ONE_CYCLE = one_cycle(0.1)


def from_dict(d: dict) -> PiecewiseLinear:
    if d.get("kind") != "piecewise_linear":
        raise ValueError(f"unknown schedule {d!r}")
    return PiecewiseLinear(tuple((float(t), float(v)) for t, v in d["knots"]))
