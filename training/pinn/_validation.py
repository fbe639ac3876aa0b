"""Parameter checks of the PINN package: one message format for every bad parameter.

``The 'strike' parameter of BlackScholesPDE must lie inside the domain [0, 400]. Got 500 instead.``
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def fail(owner: str, field: str, rule: str, value: object) -> None:
    """Raise the package's ``ValueError`` naming owner, field, allowed range and value."""
    raise ValueError(f"The '{field}' parameter of {owner} must {rule}. Got {value!r} instead.")


def real(owner: str, field: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        fail(owner, field, "be a real number", value)
    if not math.isfinite(v):
        fail(owner, field, "be finite", value)
    return v


def positive(owner: str, field: str, value: object) -> float:
    v = real(owner, field, value)
    if v <= 0.0:
        fail(owner, field, "be > 0", value)
    return v


def non_negative(owner: str, field: str, value: object) -> float:
    v = real(owner, field, value)
    if v < 0.0:
        fail(owner, field, "be >= 0", value)
    return v


def in_range(owner: str, field: str, value: object, low: float, high: float) -> float:
    v = real(owner, field, value)
    if not low <= v <= high:
        fail(owner, field, f"lie in [{low:g}, {high:g}]", value)
    return v


def inside_domain(owner: str, field: str, value: float, low: float, high: float) -> float:
    """Strict check that a point (e.g. the strike) lies inside an open computational domain."""
    if not low < value < high:
        fail(owner, field, f"lie inside the domain [{low:g}, {high:g}]", value)
    return value


def one_of(owner: str, field: str, value: object, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        fail(owner, field, "be one of " + ", ".join(repr(a) for a in allowed), value)
    return value  # type: ignore[return-value]


def positive_int(owner: str, field: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        fail(owner, field, f"be an integer >= {minimum}", value)
    return value  # type: ignore[return-value]


def non_negative_int(owner: str, field: str, value: object) -> int:
    return positive_int(owner, field, value, minimum=0)
