"""Normalisation of differential training data (Huge & Savine; docs/methods.md §1).

    x̃ = (x − μx)/σx,   ỹ = (y − μy)/σy,   z̃ = z σx/σy,   λ_j = 1/RMS(z̃_j)

and back: y = μy + σy ŷ, dy/dx = (σy/σx) dŷ/dx̃. A constant input (σx_j = 0) or constant label
(σy = 0) uses scale 1; an all-zero differential column (RMS(z̃_j) = 0) gets λ_j = 1, so the model is
still asked for a zero derivative there without an infinite weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    """Column root mean squares, rescaled like :func:`_mean` when the squares overflow."""
    r = np.sqrt(np.mean(a**2, axis=0))
    if np.all(np.isfinite(r)):
        return r
    s = np.max(np.abs(a), axis=0)
    s = np.where(s > 0, s, 1.0)
    return s * np.sqrt(np.mean((a / s) ** 2, axis=0))


@dataclass(frozen=True)
class DifferentialScaler:
    """Fitted scaling constants, all float64. Shapes: ``x_mean``, ``x_std``, ``lambda_j`` (d,)."""

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float
    lambda_j: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, dydx: np.ndarray | None) -> DifferentialScaler:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow triggers the rescaled path
            return cls._fit(X, y, dydx)

    @classmethod
    def _fit(cls, X: np.ndarray, y: np.ndarray, dydx: np.ndarray | None) -> DifferentialScaler:
        x_mean = _mean(X)
        x_std = X.std(axis=0)
        if not np.all(np.isfinite(x_std)):
            x_std = _rms(X - x_mean)
        x_std = np.where(x_std > 0, x_std, 1.0)
        y_mean = float(_mean(y))
        y_std = float(y.std())
        if not np.isfinite(y_std):
            y_std = float(_rms(y - y_mean))
        if not y_std > 0:
            y_std = 1.0
        if dydx is None:
            lam = np.ones(X.shape[1])
        else:
            rms = _rms(np.asarray(dydx, dtype=np.float64) * (x_std / y_std))
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
    def x(self, X: np.ndarray) -> np.ndarray:
        return (X - self.x_mean) / self.x_std

    def y(self, y: np.ndarray) -> np.ndarray:
        return (y - self.y_mean) / self.y_std

    def z(self, dydx: np.ndarray) -> np.ndarray:
        return dydx * (self.x_std / self.y_std)

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
    def from_dict(cls, d: dict) -> DifferentialScaler:
        return cls(
            np.asarray(d["x_mean"], dtype=np.float64),
            np.asarray(d["x_std"], dtype=np.float64),
            float(d["y_mean"]),
            float(d["y_std"]),
            np.asarray(d["lambda_j"], dtype=np.float64),
        )
