"""Parameter checks shared by every parameter object.

Every failure raises ``ValueError`` with one message format, naming the owner, the field, the
allowed range and the value received, e.g.
``The 'vol' parameter of BlackScholes must be > 0. Got -0.2 instead.``
(:func:`instance_of` raises ``TypeError`` in the same format.)

Numbers are real: booleans, strings, bytes, complex numbers and arrays or tensors whose elements
are not integers or floats are refused, never converted (``True`` is not 1.0, ``"0.2"`` not 0.2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _message(owner: str, field: str, rule: str, value: object) -> str:
    return f"The '{field}' parameter of {owner} must be {rule}. Got {value!r} instead."


def fail(owner: str, field: str, rule: str, value: object) -> None:
    raise ValueError(_message(owner, field, rule, value))


def instance_of(owner: str, field: str, value: object, types: tuple[type, ...]) -> object:
    """``value`` if it is an instance of one of ``types``, else a ``TypeError`` in the standard
    format naming the expected classes."""
    if not isinstance(value, types):
        names = [t.__name__ for t in types]
        rule = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise TypeError(_message(owner, field, f"an instance of {rule}", value))
    return value


_NON_REAL_SCALARS = (bool, np.bool_, str, bytes, complex, np.complexfloating)


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


def finite(owner: str, field: str, value: float) -> float:
    if is_non_real(value):
        fail(owner, field, "a real number", value)
    try:
        v = float(value)
    except OverflowError:  # an int like 10**400
        fail(owner, field, "finite", value)
    except (TypeError, ValueError):
        fail(owner, field, "a real number", value)
    if not math.isfinite(v):
        fail(owner, field, "finite", value)
    return v


def positive(owner: str, field: str, value: float) -> float:
    v = finite(owner, field, value)
    if v <= 0.0:
        fail(owner, field, "> 0", value)
    return v


def non_negative(owner: str, field: str, value: float) -> float:
    v = finite(owner, field, value)
    if v < 0.0:
        fail(owner, field, ">= 0", value)
    return v


def in_range(owner: str, field: str, value: float, low: float, high: float) -> float:
    v = finite(owner, field, value)
    if not low <= v <= high:
        fail(owner, field, f"in [{low}, {high}]", value)
    return v


def positive_int(owner: str, field: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        fail(owner, field, f"an integer >= {minimum}", value)
    return int(value)


def choice(owner: str, field: str, value: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        fail(owner, field, "one of " + ", ".join(repr(a) for a in allowed), value)
    return value


def vector(owner: str, field: str, value, length: int | None = None) -> tuple[float, ...]:
    """A 1-D sequence of finite floats, optionally of a given length, returned as a tuple."""
    if is_non_real(value):
        fail(owner, field, "a sequence of real numbers", value)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        fail(owner, field, "a sequence of real numbers", value)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        fail(owner, field, "a non-empty 1-D sequence", value)
    if length is not None and arr.size != length:
        fail(owner, field, f"of length {length}", value)
    if not np.all(np.isfinite(arr)):
        fail(owner, field, "finite", value)
    return tuple(float(a) for a in arr)


def positive_vector(owner: str, field: str, value, length: int | None = None) -> tuple[float, ...]:
    vec = vector(owner, field, value, length)
    if min(vec) <= 0.0:
        fail(owner, field, "> 0 in every entry", value)
    return vec


def correlation_matrix(owner: str, field: str, value, dim: int) -> tuple[tuple[float, ...], ...]:
    """A symmetric positive semi-definite matrix with unit diagonal, returned as nested tuples."""
    if is_non_real(value):
        fail(owner, field, "a square matrix of real numbers", value)
    try:
        c = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(owner, field, "a square matrix of real numbers", value)
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
    return tuple(tuple(float(v) for v in row) for row in c)


def psd_cholesky(matrix: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a PSD matrix (pivot-free; zero columns for null pivots, those
    below 1e-14 of the largest diagonal entry: relative, so a covariance of small volatilities
    keeps its directions)."""
    a = np.asarray(matrix, dtype=np.float64)
    n = a.shape[0]
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        pass
    low = np.zeros_like(a)
    scale = float(np.max(np.abs(np.diag(a))))
    for j in range(n):
        d = a[j, j] - low[j, :j] @ low[j, :j]
        if d <= 1e-14 * scale:
            continue
        low[j, j] = math.sqrt(d)
        for i in range(j + 1, n):
            low[i, j] = (a[i, j] - low[i, :j] @ low[j, :j]) / low[j, j]
    return low
