"""Argument checks shared by the analytic pricers and the finite-difference solvers.

Every failure raises ``ValueError`` with one message format naming the function, the argument,
the allowed range and the value received, e.g.
``The 'vol' parameter of black_scholes must be > 0. Got -0.2 instead.``
For arrays, the first offending entry is reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fail(owner: str, field: str, rule: str, value: object) -> None:
    """Raise the project's standard ``ValueError``."""
    raise ValueError(f"The '{field}' parameter of {owner} must be {rule}. Got {value!r} instead.")


def _scalar(x: object) -> object:
    if isinstance(x, np.generic):
        return x.item()
    return x


def array(owner: str, field: str, value: object) -> np.ndarray:
    """A float64 array of finite numbers (any shape, scalars give 0-d arrays)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(owner, field, "a real number or an array of real numbers", value)
    bad = ~np.isfinite(arr)
    if np.any(bad):
        fail(owner, field, "finite", _scalar(arr[bad].flat[0]))
    return arr


def _check(owner: str, field: str, value: object, ok, rule: str) -> np.ndarray:
    arr = array(owner, field, value)
    bad = ~ok(arr)
    if np.any(bad):
        if arr.ndim == 0:
            shown = _scalar(value) if np.ndim(value) == 0 else _scalar(arr[()])
        else:
            shown = _scalar(arr[bad].flat[0])
        fail(owner, field, rule, shown)
    return arr


def positive(owner: str, field: str, value: object) -> np.ndarray:
    return _check(owner, field, value, lambda a: a > 0.0, "> 0")


def non_negative(owner: str, field: str, value: object) -> np.ndarray:
    return _check(owner, field, value, lambda a: a >= 0.0, ">= 0")


def in_range(owner: str, field: str, value: object, low: float, high: float) -> np.ndarray:
    return _check(owner, field, value, lambda a: (a >= low) & (a <= high), f"in [{low}, {high}]")


def positive_float(owner: str, field: str, value: object) -> float:
    """A scalar > 0."""
    arr = positive(owner, field, value)
    if arr.ndim != 0:
        fail(owner, field, "a scalar", value)
    return float(arr)


def finite_float(owner: str, field: str, value: object) -> float:
    arr = array(owner, field, value)
    if arr.ndim != 0:
        fail(owner, field, "a scalar", value)
    return float(arr)


def non_negative_float(owner: str, field: str, value: object) -> float:
    arr = non_negative(owner, field, value)
    if arr.ndim != 0:
        fail(owner, field, "a scalar", value)
    return float(arr)


def in_range_float(owner: str, field: str, value: object, low: float, high: float) -> float:
    arr = in_range(owner, field, value, low, high)
    if arr.ndim != 0:
        fail(owner, field, "a scalar", value)
    return float(arr)


def integer(owner: str, field: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        fail(owner, field, f"an integer >= {minimum}", value)
    return int(value)


def choice(owner: str, field: str, value: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        fail(owner, field, "one of " + ", ".join(repr(a) for a in allowed), value)
    return value


def spot_pairs(owner: str, spots: object) -> np.ndarray:
    """Two-asset spots >= 0 as an array of shape (n, 2) (a single pair (2,) becomes (1, 2))."""
    x = non_negative(owner, "spots", spots)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != 2:
        fail(owner, "spots", "an array of shape (n, 2)", f"shape {x.shape}")
    return x


def kind_sign(owner: str, kind: str) -> float:
    """+1.0 for ``"call"``, -1.0 for ``"put"``."""
    return 1.0 if choice(owner, "kind", kind, ("call", "put")) == "call" else -1.0


def kind_sign_or_forward(owner: str, kind: str) -> float:
    """+1.0 for ``"call"``, -1.0 for ``"put"``, 0.0 for ``"forward"`` (payoff u - K)."""
    kind = choice(owner, "kind", kind, ("call", "put", "forward"))
    return {"call": 1.0, "put": -1.0, "forward": 0.0}[kind]


def out(x: np.ndarray) -> np.ndarray | float:
    """Return a Python float for 0-d results, the array otherwise."""
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x
