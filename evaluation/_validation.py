"""Argument checks shared by the analytic pricers and the finite-difference solvers.

Every failure raises ``ValueError`` with one message format naming the function, the argument,
the allowed range and the value received, e.g.
``The 'vol' parameter of black_scholes must be > 0. Got -0.2 instead.``
For arrays, the first offending entry is reported.

Numbers are real: booleans, strings, bytes, complex numbers and arrays or tensors whose elements
are not integers or floats are refused, never converted (``True`` is not 1.0, ``"100"`` not 100).
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


# The same test as simulators._validation.is_non_real, kept here because importing any
# simulators module imports the simulators package and Numba, which the pricers do not need.
_NON_REAL_SCALARS = (bool, np.bool_, str, bytes, complex, np.complexfloating)
_REAL = "a real number or an array of real numbers"


def _dtype_kind(dtype: object) -> str | None:
    """NumPy kind code of a NumPy or torch dtype ("b", "i", "u", "f", "c", ...), None if unknown."""
    try:
        return np.dtype(dtype).kind  # type: ignore[call-overload]
    except TypeError:
        pass
    if getattr(dtype, "is_floating_point", False):
        return "f"
    if getattr(dtype, "is_complex", False):
        return "c"
    name = str(dtype)
    if name.endswith("bool"):
        return "b"
    return "i" if "int" in name else None


def is_non_real(value: object) -> bool:
    """True for a bool, text, a complex number, an array or tensor whose elements are not
    integers or floats, or a (nested) list or tuple holding any of these."""
    if isinstance(value, _NON_REAL_SCALARS):
        return True
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        kind = _dtype_kind(dtype)
        if kind == "O":  # an object array: as good as its elements
            return any(is_non_real(item) for item in np.asarray(value).flat)
        return kind not in (None, "i", "u", "f")
    if isinstance(value, (list, tuple)):
        return any(is_non_real(item) for item in value)
    return False


def real(owner: str, field: str, value: object) -> np.ndarray:
    """A float64 array of real numbers, NaN and +-inf included (any shape, scalars give 0-d)."""
    if is_non_real(value):
        fail(owner, field, _REAL, value)
    try:
        return np.asarray(value, dtype=np.float64)
    except OverflowError:  # an int like 10**400
        fail(owner, field, "finite", value)
    except (TypeError, ValueError):
        fail(owner, field, _REAL, value)
    raise AssertionError  # unreachable


def array(owner: str, field: str, value: object) -> np.ndarray:
    """A float64 array of finite numbers (any shape, scalars give 0-d arrays)."""
    arr = real(owner, field, value)
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


def integer(owner: str, field: str, value: object, minimum: int = 1,
            maximum: int | None = None) -> int:
    """``value`` as an int in [minimum, maximum] (no upper bound when ``maximum`` is None)."""
    if (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum
            or (maximum is not None and value > maximum)):
        rule = (f"an integer >= {minimum}" if maximum is None
                else f"an integer in [{minimum}, {maximum}]")
        fail(owner, field, rule, value)
    return int(value)


def choice(owner: str, field: str, value: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        fail(owner, field, "one of " + ", ".join(repr(a) for a in allowed), value)
    return value


def correlation_matrix(owner: str, field: str, value: object, dim: int) -> np.ndarray:
    """A correlation matrix of shape (dim, dim): finite, symmetric, unit diagonal, entries in
    [-1, 1] and positive semi-definite (the checks of ``simulators.BachelierBasket``). A scalar is
    accepted for ``dim == 1``."""
    rule = "a square matrix of real numbers"
    if is_non_real(value):
        fail(owner, field, rule, value)
    try:
        c = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(owner, field, rule, value)
    if c.ndim == 0 and dim == 1:
        c = c.reshape(1, 1)
    if c.shape != (dim, dim):
        fail(owner, field, f"a {dim}x{dim} matrix", f"shape {c.shape}")
    if not np.all(np.isfinite(c)):
        fail(owner, field, "finite", "a matrix with NaN or Inf")
    if not np.allclose(c, c.T, rtol=0.0, atol=1e-12):
        fail(owner, field, "symmetric", f"max asymmetry {np.max(np.abs(c - c.T)):.3g}")
    if not np.allclose(np.diag(c), 1.0, rtol=0.0, atol=1e-12):
        fail(owner, field, "a unit-diagonal matrix", f"diagonal {np.diag(c).tolist()}")
    if np.any(np.abs(c) > 1.0 + 1e-12):
        fail(owner, field, "with entries in [-1, 1]", f"max |entry| {np.max(np.abs(c)):.6g}")
    lam_min = float(np.linalg.eigvalsh(0.5 * (c + c.T)).min())
    if lam_min < -1e-10:
        fail(owner, field, "positive semi-definite", f"smallest eigenvalue {lam_min:.6g}")
    return c


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
