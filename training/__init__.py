"""Differential machine learning on arrays: twin networks, differential polynomial regression,
differential PCA and learning curves (Huge & Savine; docs/training.md).

Public names are imported lazily, so ``import training`` does not import torch until a
torch-backed name (``DifferentialRegressor``, ``TwinNetwork``) is used. ``training.pinn`` is a
separate subpackage.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "DifferentialRegressor": "regressor",
    "TrainHistory": "regressor",
    "TrainResult": "regressor",
    "TwinNetwork": "twin",
    "DifferentialScaler": "scaling",
    "PiecewiseLinear": "schedules",
    "one_cycle": "schedules",
    "SOURCE_ONE_CYCLE": "schedules",
    "DifferentialPolynomialRegression": "poly",
    "RidgePolynomialRegression": "poly",
    "PolynomialBasis": "poly",
    "DifferentialPCA": "dpca",
    "Reduced": "dpca",
    "learning_curve": "curves",
    "LearningCurve": "curves",
    "CurvePoint": "curves",
    "DType": "options",
    "TrainMode": "options",
    "FitStatus": "options",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .curves import CurvePoint, LearningCurve, learning_curve  # noqa: F401
    from .dpca import DifferentialPCA, Reduced  # noqa: F401
    from .options import DType, FitStatus, TrainMode  # noqa: F401
    from .poly import DifferentialPolynomialRegression, PolynomialBasis, RidgePolynomialRegression  # noqa: F401
    from .regressor import DifferentialRegressor, TrainHistory, TrainResult  # noqa: F401
    from .scaling import DifferentialScaler  # noqa: F401
    from .schedules import SOURCE_ONE_CYCLE, PiecewiseLinear, one_cycle  # noqa: F401
    from .twin import TwinNetwork  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
