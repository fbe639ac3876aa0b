"""Declarative hyperparameter constraints and array checks shared by the estimators.

Each estimator declares ``_parameter_constraints: dict[str, list[Constraint]]``; ``fit`` calls
:func:`validate_params`, which accepts a value when *any* constraint of its list accepts it and
otherwise raises ``ValueError`` in the project's single message format::

    The 'lam' parameter of DifferentialRegressor must be >= 0. Got -1 instead.

The PINN package (problems, collocation, configuration) checks values directly with the helpers
of the section "direct checks" (:func:`fail`, :func:`positive`, :func:`one_of`...), in the same
format::

    The 'strike' parameter of BlackScholesPDE must lie inside the domain [0, 400]. Got 500 instead.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from numbers import Integral, Real
from typing import Any, NoReturn, TypeVar

import numpy as np


class Constraint:
    """One admissible form of a hyperparameter value."""

    def accepts(self, value: Any) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class Interval(Constraint):
    """A real (``kind=Real``) or integer (``kind=Integral``) in an interval.

    ``closed`` is one of ``"both"``, ``"left"``, ``"right"``, ``"neither"``;
    ``None`` bounds are open.
    """

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.kind is Integral:
            if not isinstance(value, Integral):
                return False
            v = value  # compared exactly: float() of 10**400 would overflow
        else:
            if not isinstance(value, Real):
                return False
            try:
                v = float(value)
            except (OverflowError, ValueError):
                return False
            if not math.isfinite(v):
                return False
        lo_closed = self.closed in ("both", "left")
        hi_closed = self.closed in ("both", "right")
        if self.low is not None and (v < self.low or (v == self.low and not lo_closed)):
            return False
        if self.high is not None and (v > self.high or (v == self.high and not hi_closed)):
            return False
        return True

    def describe(self) -> str:
        what = "an integer " if self.kind is Integral else ""
        lo_op = ">=" if self.closed in ("both", "left") else ">"
        hi_op = "<=" if self.closed in ("both", "right") else "<"
        # integer bounds in full (10000000, not 1e+07); real ones in the shortest form
        low, high = (f"{b}" if b is None or isinstance(b, int) else f"{b:g}"
                     for b in (self.low, self.high))
        if self.low is not None and self.high is not None:
            lb = "[" if lo_op == ">=" else "("
            rb = "]" if hi_op == "<=" else ")"
            return f"{what}in {lb}{low}, {high}{rb}"
        if self.low is not None:
            return f"{what}{lo_op} {low}"
        if self.high is not None:
            return f"{what}{hi_op} {high}"
        return what.strip() or "a real number"


@dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of values (compared with ``==``)."""

    values: tuple

    def accepts(self, value: Any) -> bool:
        try:
            return any(value == v and type(value) is type(v) for v in self.values)
        except Exception:  # noqa: BLE001 - exotic __eq__
            return False

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Choice(Constraint):
    """A member of the ``StrEnum`` ``kind`` or its plain string."""

    kind: type[StrEnum]

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and any(value == m.value for m in self.kind)

    def describe(self) -> str:
        return "one of " + names(m.value for m in self.kind)


@dataclass(frozen=True)
class IsNone(Constraint):
    def accepts(self, value: Any) -> bool:
        return value is None

    def describe(self) -> str:
        return "None"


@dataclass(frozen=True)
class InstanceOf(Constraint):
    kind: type | tuple[type, ...]
    label: str

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) and self.kind is not bool:
            return False
        return isinstance(value, self.kind)

    def describe(self) -> str:
        return self.label


@dataclass(frozen=True)
class Predicate(Constraint):
    func: Callable[[Any], bool]
    label: str

    def accepts(self, value: Any) -> bool:
        try:
            return bool(self.func(value))
        except Exception:  # noqa: BLE001 - a failing predicate means "not accepted"
            return False

    def describe(self) -> str:
        return self.label


def message(owner: str, field: str, rule: str, value: Any) -> str:
    """The project's one message format for a bad parameter; ``rule`` follows "must"."""
    return f"The '{field}' parameter of {owner} must {rule}. Got {_shown(value)} instead."


def _shown(value: Any, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters (an integer of 10**400 is 401 digits, and
    one past 4300 digits has no repr at all)."""
    try:
        text = repr(value)
    except ValueError:
        return f"an integer of {value.bit_length()} bits"
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def param_error(owner: str, name: str, rule: str, value: Any) -> ValueError:
    """A ``ValueError`` in the one format, for a ``rule`` that follows "must be"."""
    return ValueError(message(owner, name, f"be {rule}", value))


def validate_params(
    owner: str, params: dict[str, Any], constraints: dict[str, list[Constraint]]
) -> None:
    """Raise ``ValueError`` for the first parameter that no constraint of its list accepts."""
    for name, rules in constraints.items():
        value = params[name]
        if any(rule.accepts(value) for rule in rules):
            continue
        rule = " or ".join(r.describe() for r in rules)
        raise param_error(owner, name, rule, value)


# ----------------------------------------------------------------------------------------------
# direct checks: each returns the checked value or raises the ValueError of :func:`fail`


def keys_of(owner: str, cls: type, d: Any) -> dict[str, Any]:
    """``d`` as keyword arguments of the dataclass ``cls``: a mapping with no unknown key and
    every required field (``ValueError`` naming them; ``TypeError`` for a non-mapping), so that
    a stored configuration fails in one line rather than in ``cls.__init__``."""
    if not isinstance(d, Mapping):
        raise TypeError(f"{owner} needs a mapping of {cls.__name__}'s fields. Got "
                        f"{type(d).__name__} instead.")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(str(k) for k in d if k not in fields)
    missing = sorted(name for name, f in fields.items() if name not in d
                     and f.default is dataclasses.MISSING
                     and f.default_factory is dataclasses.MISSING)
    if unknown or missing:
        parts = ([f"unknown keys {names(unknown)}"] if unknown else []) + \
                ([f"missing keys {names(missing)}"] if missing else [])
        raise ValueError(f"{owner}: {'; '.join(parts)} for {cls.__name__} (its fields: "
                         f"{names(fields)}).")
    return dict(d)


def fail(owner: str, field: str, rule: str, value: object) -> NoReturn:
    """Raise the ``ValueError`` naming owner, field, allowed range (``rule`` follows "must") and
    value."""
    raise ValueError(message(owner, field, rule, value))


def real(owner: str, field: str, value: object) -> float:
    """``value`` as a finite float; bools and text are refused (``True`` is not the number 1
    here, and ``"1e-3"`` is a typo's way of hiding a number)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        fail(owner, field, "be a real number", value)
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int like 10**400
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
        fail(owner, field, "be one of " + names(allowed), value)
    return value  # type: ignore[return-value]


E = TypeVar("E", bound=StrEnum)


def option(owner: str, field: str, value: object, kind: type[E]) -> E:
    """``value``, a member of the ``StrEnum`` ``kind`` or its plain string, as the member; any
    other value raises the ``ValueError`` naming the field, the allowed strings and the value."""
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    fail(owner, field, "be one of " + names(m.value for m in kind), value)


def positive_int(owner: str, field: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        fail(owner, field, f"be an integer >= {minimum}", value)
    return value  # type: ignore[return-value]


def non_negative_int(owner: str, field: str, value: object) -> int:
    return positive_int(owner, field, value, minimum=0)


def boolean(owner: str, field: str, value: object) -> bool:
    """``value`` if it is ``True`` or ``False`` (not a truthy string such as 'no')."""
    if not isinstance(value, bool):
        fail(owner, field, "be true or false", value)
    return value


#: Seeds lie in [0, SEED_BOUND): torch's and NumPy's generators take them, and they fit a signed
#: 64-bit integer (beyond, torch fails with "Overflow when unpacking long long").
SEED_BOUND = 2**63
SEED_RULE = "an integer in [0, 2**63)"


def is_seed(value: object) -> bool:
    """True for an integer (not a bool) in [0, :data:`SEED_BOUND`)."""
    return (isinstance(value, Integral) and not isinstance(value, bool)
            and 0 <= int(value) < SEED_BOUND)


def seed(owner: str, field: str, value: object) -> int:
    """``value`` as an int if it is a seed (:func:`is_seed`)."""
    if not is_seed(value):
        fail(owner, field, "be " + SEED_RULE, value)
    return int(value)  # type: ignore[call-overload]


#: The device types a model can run on.
DEVICE_TYPES = ("cpu", "cuda")


def device_name(owner: str, field: str, value: object) -> str:
    """A torch device string of type 'cpu' or 'cuda' ('cpu', 'cuda', 'cuda:1'), parsed by
    ``torch.device``; a ``torch.device`` is accepted and written as its string. Whether CUDA is
    available is checked when the device is used (:func:`available_device`), so that a saved
    GPU configuration still loads on a CPU machine."""
    import torch

    rule = "be a torch device string of type 'cpu' or 'cuda' (e.g. 'cpu', 'cuda', 'cuda:0')"
    if isinstance(value, torch.device):
        value = str(value)
    if not isinstance(value, str):
        fail(owner, field, rule, value)
    try:
        parsed = torch.device(value)
    except RuntimeError:
        fail(owner, field, rule, value)
    if parsed.type not in DEVICE_TYPES:
        fail(owner, field, rule, value)
    return value


def available_device(owner: str, field: str, value: str) -> Any:
    """The ``torch.device`` of a device string checked by :func:`device_name`; ``RuntimeError``
    when it names CUDA and CUDA is not available or has no such device index."""
    import torch

    parsed = torch.device(value)
    if parsed.type != "cuda":
        return parsed
    if not torch.cuda.is_available():
        raise RuntimeError(message(owner, field, "name an available device: "
                                   "torch.cuda.is_available() is False, use 'cpu'", value))
    count = torch.cuda.device_count()
    if parsed.index is not None and parsed.index >= count:
        raise RuntimeError(message(owner, field,
                                   f"name an available device: there are {count} CUDA devices",
                                   value))
    return parsed


# ----------------------------------------------------------------------------------------------
# arrays


def is_tensor(a: Any) -> bool:
    """True for a torch tensor, without importing torch when it is not loaded yet."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(a, torch.Tensor)


def as_numpy(a: Any, name: str, dtype: np.dtype | type = np.float64) -> np.ndarray:
    """Convert NumPy arrays, torch tensors and DLPack producers (CuPy, JAX...) to a NumPy array."""
    if is_tensor(a):
        arr = a.detach().to("cpu").numpy()
    elif hasattr(a, "__dlpack__") and not isinstance(a, np.ndarray):
        try:
            arr = np.from_dlpack(a)
        except (BufferError, RuntimeError, TypeError):  # device memory: go through torch
            import torch

            arr = torch.from_dlpack(a).detach().to("cpu").numpy()
    else:
        try:
            arr = np.asarray(a)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be array-like; got {type(a).__name__}.") from exc
    if arr.dtype == object or np.issubdtype(arr.dtype, np.complexfloating) or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}.")
    return np.ascontiguousarray(arr, dtype=dtype)


#: DLPack device types of CUDA memory: kDLCUDA and kDLCUDAManaged.
_DLPACK_CUDA = (2, 13)


def on_cuda(a: Any) -> bool:
    """True for a CUDA torch tensor or an array in CUDA memory (a DLPack producer such as CuPy or
    JAX, or a ``__cuda_array_interface__`` holder such as a Numba device array)."""
    if a is None or isinstance(a, np.ndarray):
        return False
    if is_tensor(a):
        return bool(a.is_cuda)
    if hasattr(a, "__cuda_array_interface__"):
        return True
    device = getattr(a, "__dlpack_device__", None)
    try:
        return device is not None and int(device()[0]) in _DLPACK_CUDA
    except (TypeError, ValueError, BufferError, RuntimeError):
        return False


def as_tensor(a: Any, name: str, device: Any) -> Any:
    """A float64 torch tensor on ``device`` (a ``torch.device``) from a tensor or a CUDA array,
    sharing its memory when it is already a contiguous float64 array there (DLPack or the CUDA
    array interface: no copy, no trip through the host); otherwise cast or moved by torch."""
    import torch

    if not is_tensor(a) and any(st < 0 for st in getattr(a, "strides", None) or ()):
        a = a.copy()  # a reversed view: torch's DLPack import aborts on negative strides
    if is_tensor(a):
        t = a.detach()
    elif hasattr(a, "__dlpack__"):
        t = torch.from_dlpack(a)
    else:
        try:
            t = torch.as_tensor(a, device=device)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"{name} must be array-like; got {type(a).__name__}.") from exc
    if t.is_complex():
        raise TypeError(f"{name} must hold real numbers; got dtype {t.dtype}.")
    return t.to(device=device, dtype=torch.float64).contiguous()


def check_finite(arr: Any, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` and the count of NaN or infinite entries of a NumPy
    array or a torch tensor (reduced where the tensor lives)."""
    if is_tensor(arr):
        import torch

        finite = torch.isfinite(arr)
        bad = 0 if bool(finite.all()) else int((~finite).sum())
    else:
        finite = np.isfinite(arr)
        bad = 0 if np.all(finite) else int(np.size(arr) - np.count_nonzero(finite))
    if bad:
        raise ValueError(f"{name} contains NaN or infinite values ({bad} entries).")


def check_xy(
    X: Any,
    y: Any | None,
    dydx: Any | None,
    dtype: np.dtype | type = np.float64,
    require_y: bool = True,
    *,
    device: Any = None,
    dydx_name: str = "dydx",
) -> tuple[Any, Any, Any]:
    """Validate training arrays: ``X`` (n, d), ``y`` (n,) or (n, 1), ``dydx`` (n, d).

    Returns NumPy arrays in ``dtype`` with ``y`` flattened to (n,); with ``device`` (a
    ``torch.device``), float64 torch tensors there instead (see :func:`as_tensor`), checked where
    they live. Raises ``ValueError`` with the offending shapes on any mismatch, and on NaN or
    infinite entries.
    """
    if device is None:
        def convert(a: Any, name: str) -> Any:
            return as_numpy(a, name, dtype)
    else:
        def convert(a: Any, name: str) -> Any:
            return as_tensor(a, name, device)
    Xa = convert(X, "X")
    shape = tuple(Xa.shape)
    if Xa.ndim == 1:
        raise ValueError(
            f"X must be 2-D with shape (n_samples, n_inputs); got shape {shape}. "
            "Reshape with X.reshape(-1, 1) for a single input."
        )
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D with shape (n_samples, n_inputs); got shape {shape}.")
    n, d = shape
    if n == 0 or d == 0:
        raise ValueError(f"X must have at least one sample and one input; got shape {shape}.")
    check_finite(Xa, "X")
    if y is None and require_y:
        raise ValueError("y is required.")
    ya = None if y is None else _check_y(convert(y, "y"), shape)
    za = None if dydx is None else _check_dydx(convert(dydx, dydx_name), shape, dydx_name)
    return Xa, ya, za


def _check_y(ya: Any, shape: tuple[int, int]) -> Any:
    """Labels (n,) or (n, 1) for X of ``shape`` (n, d), flattened to (n,)."""
    n = shape[0]
    if ya.ndim == 2 and ya.shape[1] == 1:
        ya = ya[:, 0]
    if ya.ndim != 1 or ya.shape[0] != n:
        raise ValueError(
            f"y must have shape ({n},) to match X of shape {shape}; got shape {tuple(ya.shape)}."
        )
    check_finite(ya, "y")
    return ya


def _check_dydx(za: Any, shape: tuple[int, int], name: str = "dydx") -> Any:
    """Differentials of X's ``shape`` (n, d); (n,) is accepted for d = 1."""
    n, d = shape
    if za.ndim == 1 and d == 1 and za.shape[0] == n:
        za = za[:, None]
    if tuple(za.shape) != (n, d):
        raise ValueError(f"{name} must have the shape of X {shape}; got shape "
                         f"{tuple(za.shape)}.")
    check_finite(za, name)
    return za


def check_X(X: Any, n_inputs: int, dtype: np.dtype | type = np.float64,
            name: str = "X") -> np.ndarray:
    """Validate prediction inputs against the number of inputs seen in ``fit`` (``name``: the
    argument's name in the messages)."""
    Xa = as_numpy(X, name, dtype)
    if Xa.ndim != 2 or Xa.shape[1] != n_inputs:
        raise ValueError(
            f"{name} must have shape (n_samples, {n_inputs}) as in fit; got shape {Xa.shape}."
        )
    check_finite(Xa, name)
    return Xa


def not_fitted(owner: str) -> RuntimeError:
    return RuntimeError(
        f"This {owner} instance is not fitted yet. Call 'fit' with appropriate arguments first."
    )


def names(items: Iterable[str]) -> str:
    return ", ".join(repr(i) for i in items)
