"""The date grid of a backward solve: t_0 = 0 < t_1 < ... < t_N = maturity, in years."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .. import _validation as tv

_OWNER = "training.backward.solve"

#: The most dates (intervals) of one solve.
MAX_DATES = 10_000


def date_grid(dates: int | Sequence[float], maturity: float) -> np.ndarray:
    """t_0 = 0 < ... < t_N = maturity: ``dates`` equal intervals, or the given times (which
    must start at 0, increase strictly and end at the maturity)."""
    if isinstance(dates, (int, np.integer)) and not isinstance(dates, bool):
        n = tv.positive_int(_OWNER, "dates", int(dates))
        if n > MAX_DATES:
            tv.fail(_OWNER, "dates", f"be an int in [1, {MAX_DATES}]", dates)
        return np.linspace(0.0, maturity, n + 1)
    try:
        times = np.array(dates, dtype=np.float64)  # a copy: the caller's array is not changed
    except (TypeError, ValueError):
        tv.fail(_OWNER, "dates", "be an int >= 1 or a sequence of times", dates)
    if (times.ndim != 1 or len(times) < 2 or len(times) > MAX_DATES + 1
            or not np.all(np.isfinite(times)) or times[0] != 0.0
            or not np.all(np.diff(times) > 0) or not math.isclose(times[-1], maturity,
                                                                   rel_tol=1e-12)):
        tv.fail(_OWNER, "dates", f"be increasing times from 0 to the maturity {maturity:g}",
                dates)
    times[-1] = maturity
    return times
