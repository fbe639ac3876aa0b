"""The estimator base of :mod:`training` (after scikit-learn's ``BaseEstimator``).

Hyperparameters are the arguments of ``__init__``, stored unchanged under their own names;
:class:`BaseEstimator` derives ``get_params``, ``set_params``, ``clone`` and ``repr`` from them.
:class:`BaseRegressor` adds ``score``, the coefficient of determination (sklearn convention)::

    R² = 1 − Σ (y − ŷ)² / Σ (y − ȳ)²

and, for a constant target (Σ (y − ȳ)² = 0), 1.0 for a perfect prediction and 0.0 otherwise.
"""

from __future__ import annotations

import inspect
from typing import Any, Self

import numpy as np

from ._validation import check_xy


def r2_score(y: np.ndarray, p: np.ndarray) -> float:
    """R² of predictions ``p`` for targets ``y`` (both (n,)), as ``sklearn.metrics.r2_score``:
    a constant ``y`` gives 1.0 when ``p == y`` exactly and 0.0 otherwise."""
    ss_res = float(np.sum((y - p) ** 2))
    ss_tot = float(np.sum((y - np.mean(y)) ** 2))
    if ss_tot > 0:
        return 1.0 - ss_res / ss_tot
    return 1.0 if ss_res == 0 else 0.0


def _same(a: Any, b: Any) -> bool:
    """``a == b`` as one bool; False where the comparison is not one (e.g. arrays)."""
    if a is b:
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


class BaseEstimator:
    """Parameter access, cloning and repr from the signature of ``__init__``."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters, name -> value, in the order of ``__init__``."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set hyperparameters by name (validated by the next ``fit``); returns ``self``."""
        valid = self._param_names()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(
                    f"Invalid parameter {k!r} for {type(self).__name__}. Valid: {', '.join(valid)}."
                )
            setattr(self, k, v)
        return self

    def clone(self, **overrides: Any) -> Self:
        """An unfitted copy with the same hyperparameters (and ``overrides``)."""
        params = self.get_params()
        params.update(overrides)
        return type(self)(**params)

    def __repr__(self) -> str:
        """The class name and the hyperparameters that differ from their defaults."""
        defaults = {
            k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = [
            f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults.get(k))
        ]
        return f"{type(self).__name__}({', '.join(changed)})"


class BaseRegressor(BaseEstimator):
    """An estimator with ``predict`` (n,) and ``predict_gradient`` (n, d): adds ``score``."""

    def predict(self, X: Any) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def predict_gradient(self, X: Any) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def score(self, X: Any, y: Any, dydx: Any | None = None) -> float:
        """Coefficient of determination R² of the values (sklearn convention, see
        :func:`r2_score`).

        With ``dydx``, the R² of the gradients pooled over all inputs instead."""
        if dydx is not None:
            _, _, za = check_xy(X, y, dydx)
            g = self.predict_gradient(X)
            return r2_score(za.ravel(), g.ravel())
        _, ya, _ = check_xy(X, y, None)
        return r2_score(ya, self.predict(X))
