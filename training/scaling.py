"""Normalisation of differential training data (Huge & Savine; docs/methods.md §1).

    x̃ = (x − μx)/σx,   ỹ = (y − μy)/σy,   z̃ = z σx/σy,   λ_j = 1/RMS(z̃_j)

and back: y = μy + σy ŷ, dy/dx = (σy/σx) dŷ/dx̃. A constant input (all its values equal) or
constant label uses scale 1; an all-zero differential column (RMS(z̃_j) = 0) gets λ_j = 1, so
the model is still asked for a zero derivative there without an infinite weight.

The constants are fitted on NumPy arrays or on torch tensors; tensors (on a GPU, say) are reduced
where they live and only the (d,) constants come to the host, and the maps apply them to either.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import is_tensor


def _mean(a: np.ndarray) -> np.ndarray:
    """Column means; entries near float64's limit (about 1e308) are divided by the column's
    largest magnitude first, so the sum does not overflow."""
    m = a.mean(axis=0)
    if np.all(np.isfinite(m)):
        return m
    s = np.max(np.abs(a), axis=0)
    s = np.where(s > 0, s, 1.0)
    return s * np.mean(a / s, axis=0)


def _rms(a: np.ndarray) -> np.ndarray:
    """Column root mean squares, computed on each column divided by its largest magnitude, so
    that the squares neither overflow nor underflow."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        s = np.max(np.abs(a), axis=0)
        s = np.where((s > 0) & np.isfinite(s), s, 1.0)
        return s * np.sqrt(np.mean((a / s) ** 2, axis=0))


def column_std(a: np.ndarray) -> np.ndarray:
    """Population standard deviations of the columns of ``a`` (n, d), or of ``a`` (n,) (then a
    0-d array): exactly 0 for a constant column (``np.std`` leaves rounding noise of order
    1e-16 times the value there, which as a scale would blow the column up by 1e16), and
    computed on the column divided by its largest magnitude, so that neither the squares'
    underflow (entries below about 1e-154) nor the deviations' overflow (about 1e308) loses
    the scale."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        s = np.max(np.abs(a), axis=0)
        s = np.where((s > 0) & np.isfinite(s), s, 1.0)
        std = s * np.std(a / s, axis=0)
    return np.where(np.ptp(a, axis=0) == 0, 0.0, std)


def _scales(x_std: np.ndarray, y_std: float) -> tuple[np.ndarray, float]:
    """Standard deviations used as scales: 1 where a column or the label is constant."""
    return np.where(x_std > 0, x_std, 1.0), (y_std if y_std > 0 else 1.0)


def _centred(a: Any, mean: Any, std: Any) -> Any:
    """(a − mean)/std; for NumPy entries whose difference overflows (values near float64's
    limit, about 1e308, of both signs), a/std − mean/std instead, which does not."""
    if is_tensor(a):  # no host sync: both forms, the second where the first overflowed
        import torch

        out = (a - mean) / std
        return torch.where(torch.isfinite(out), out, a / std - mean / std)
    with np.errstate(over="ignore", invalid="ignore"):
        out = (a - mean) / std
        if np.all(np.isfinite(out)) or not np.all(np.isfinite(a)):
            return out
        return np.where(np.isfinite(out), out, a / std - mean / std)


def _like(v: np.ndarray, a: Any) -> Any:
    """The constant ``v`` as ``a``'s kind of array: itself for NumPy, a tensor on ``a``'s device
    and in its dtype for torch."""
    if not is_tensor(a):
        return v
    import torch

    return torch.as_tensor(v, dtype=a.dtype, device=a.device)


@dataclass(frozen=True)
class DifferentialScaler:
    """Fitted scaling constants, all float64. Shapes: ``x_mean``, ``x_std``, ``lambda_j`` (d,)."""

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float
    lambda_j: np.ndarray

    @classmethod
    def fit(cls, X: Any, y: Any, dydx: Any | None) -> DifferentialScaler:
        """Constants of ``X`` (n, d), ``y`` (n,) and ``dydx`` (n, d) or None: NumPy arrays, or
        float64 torch tensors on one device."""
        if is_tensor(X):
            return cls._fit_tensors(X, y, dydx)
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow triggers the rescaled path
            return cls._fit(X, y, dydx)

    @classmethod
    def _fit(cls, X: np.ndarray, y: np.ndarray, dydx: np.ndarray | None) -> DifferentialScaler:
        x_std, y_std = _scales(column_std(X), float(column_std(y)))
        rms = None if dydx is None else _rms(np.asarray(dydx, dtype=np.float64) * (x_std / y_std))
        return cls._checked(_mean(X), x_std, float(_mean(y)), y_std, rms)

    @classmethod
    def _fit_tensors(cls, X: Any, y: Any, dydx: Any | None) -> DifferentialScaler:
        """The constants reduced on the tensors' device; one copy of 3d + 3 numbers (means,
        standard deviations, ranges; and d more with differentials) to the host. A column is
        constant when its range is 0. Moments beyond float64's range, or a zero standard
        deviation of a column that is not constant (its squares underflowed), take the host's
        rescaled path."""
        import torch

        with torch.no_grad():
            moments = torch.cat([X.mean(0), X.std(0, correction=0),
                                 y.mean().reshape(1), y.std(correction=0).reshape(1),
                                 X.amax(0) - X.amin(0), (y.amax() - y.amin()).reshape(1)])
            m = moments.cpu().numpy()
            d = X.shape[1]
            stds, ranges = np.r_[m[d:2 * d], m[2 * d + 1]], m[2 * d + 2:]
            if np.all(np.isfinite(m)) and not np.any((stds == 0) & (ranges != 0)):
                stds = np.where(ranges == 0, 0.0, stds)
                x_std, y_std = _scales(stds[:d], float(stds[d]))
                rms = None if dydx is None else torch.sqrt(torch.mean(
                    (dydx * torch.as_tensor(x_std / y_std, device=dydx.device)) ** 2,
                    dim=0)).cpu().numpy()
                if rms is None or np.all(np.isfinite(rms)):
                    return cls._checked(m[:d], x_std, float(m[2 * d]), y_std, rms)
        return cls.fit(*(None if a is None else a.cpu().numpy() for a in (X, y, dydx)))

    @classmethod
    def _checked(cls, x_mean: np.ndarray, x_std: np.ndarray, y_mean: float, y_std: float,
                 rms: np.ndarray | None) -> DifferentialScaler:
        """The scaler from its moments (``rms``: the RMS of the scaled differentials, or None),
        refused when a constant is outside float64's range."""
        if rms is None:
            lam = np.ones(len(x_std))
        else:
            lam = np.where(rms > 0, 1.0 / np.where(rms > 0, rms, 1.0), 1.0)
        scaler = cls(x_mean, x_std, y_mean, y_std, lam)
        for name, value in (("X mean", x_mean), ("X std", x_std), ("y mean", y_mean),
                            ("y std", y_std), ("dydx scale", lam)):
            if not np.all(np.isfinite(value)):
                raise ValueError(
                    f"DifferentialScaler: the {name} is {value!r}, outside float64's range "
                    "(about 1e308); rescale the inputs or labels")
        return scaler

    # forward maps -----------------------------------------------------------------------------
    def x(self, X: Any) -> Any:
        return _centred(X, _like(self.x_mean, X), _like(self.x_std, X))

    def y(self, y: Any) -> Any:
        return _centred(y, self.y_mean, self.y_std)

    def z(self, dydx: Any) -> Any:
        return dydx * _like(self.x_std / self.y_std, dydx)

    # inverse maps -----------------------------------------------------------------------------
    def y_inverse(self, yt: np.ndarray) -> np.ndarray:
        return self.y_mean + self.y_std * yt

    def z_inverse(self, zt: np.ndarray) -> np.ndarray:
        return zt * (self.y_std / self.x_std)

    # persistence ------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready; float repr round-trips float64 exactly."""
        return {
            "x_mean": [float(v) for v in self.x_mean],
            "x_std": [float(v) for v in self.x_std],
            "y_mean": float(self.y_mean),
            "y_std": float(self.y_std),
            "lambda_j": [float(v) for v in self.lambda_j],
        }

    @classmethod
    def from_dict(cls, d: dict, n_inputs: int | None = None) -> DifferentialScaler:
        """Inverse of :meth:`to_dict`. ValueError unless it holds finite ``x_mean``, ``x_std``
        > 0 and ``lambda_j`` of one shape (``(n_inputs,)`` when given) and finite ``y_mean``,
        ``y_std`` > 0: a mis-shaped scaler would broadcast into wrong predictions."""
        s = cls(
            np.asarray(d["x_mean"], dtype=np.float64),
            np.asarray(d["x_std"], dtype=np.float64),
            float(d["y_mean"]),
            float(d["y_std"]),
            np.asarray(d["lambda_j"], dtype=np.float64),
        )
        n = s.x_mean.shape[0] if n_inputs is None and s.x_mean.ndim == 1 else n_inputs
        if not (all(np.shape(a) == (n,) for a in (s.x_mean, s.x_std, s.lambda_j))
                and np.all(np.isfinite(s.x_mean)) and np.all(s.x_std > 0)
                and np.all(np.isfinite(s.x_std)) and np.all(np.isfinite(s.lambda_j))
                and math.isfinite(s.y_mean) and 0 < s.y_std < math.inf):
            shape = f"({n},)" if n_inputs is not None else "one shape (n,)"
            raise ValueError(f"the scaler must hold finite x_mean, x_std > 0 and lambda_j of "
                             f"shape {shape} and finite y_mean, y_std > 0")
        return s
