"""Normalisation of differential training data (Huge & Savine; docs/methods.md §1).

    x̃ = (x − μx)/σx,   ỹ = (y − μy)/σy,   z̃ = z σx/σy,   λ_j = 1/RMS(z̃_j)

and back: y = μy + σy ŷ, dy/dx = (σy/σx) dŷ/dx̃. A constant input (σx_j = 0) or constant label
(σy = 0) uses scale 1; an all-zero differential column (RMS(z̃_j) = 0) gets λ_j = 1, so the model is
still asked for a zero derivative there without an infinite weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
        x_mean = X.mean(axis=0)
        x_std = X.std(axis=0)
        x_std = np.where(x_std > 0, x_std, 1.0)
        y_mean = float(y.mean())
        y_std = float(y.std())
        if not y_std > 0:
            y_std = 1.0
        if dydx is None:
            lam = np.ones(X.shape[1])
        else:
            zt = np.asarray(dydx, dtype=np.float64) * (x_std / y_std)
            rms = np.sqrt(np.mean(zt**2, axis=0))
            lam = np.where(rms > 0, 1.0 / np.where(rms > 0, rms, 1.0), 1.0)
        return cls(x_mean, x_std, y_mean, y_std, lam)

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
