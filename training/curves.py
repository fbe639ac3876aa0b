"""Learning curves: test RMSE of values and input gradients against reference values, as a function
of the training size m, for standard and differential training over several seeds.

    rmse_value = sqrt(mean_i (f̂(x_i) − v_i)²),  rmse_grad_j = sqrt(mean_i (∂_j f̂(x_i) − Δ_ij)²)

over the test inputs x_i (n_test, d) with reference prices v (n_test,) and gradients Δ (n_test, d).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ._validation import check_xy
from .options import TrainMode

#: The strings of :class:`~training.options.TrainMode`, in the order of the summaries.
MODES = tuple(m.value for m in TrainMode)

TrainData = tuple[Any, Any, Any]


@dataclass(frozen=True)
class CurvePoint:
    """One fit: ``gradient_rmse`` has one entry per input (empty without reference gradients);
    ``gradient_rmse_pooled`` is the RMSE over all inputs together."""

    size: int
    mode: str
    seed: int
    value_rmse: float
    gradient_rmse: tuple[float, ...]
    gradient_rmse_pooled: float | None
    fit_seconds: float


@dataclass
class LearningCurve:
    """All fits of :func:`learning_curve`, with summaries by (size, mode)."""

    points: list[CurvePoint] = field(default_factory=list)
    inputs: tuple[str, ...] = ()
    estimator: str = ""

    def select(self, size: int | None = None, mode: str | None = None) -> list[CurvePoint]:
        return [
            p
            for p in self.points
            if (size is None or p.size == size) and (mode is None or p.mode == mode)
        ]

    def summary(self) -> list[dict[str, Any]]:
        """Mean and sample standard deviation over seeds, one row per (size, mode)."""
        rows = []
        keys = sorted(
            {(p.size, MODES.index(p.mode) if p.mode in MODES else 9, p.mode) for p in self.points}
        )
        for size, _, mode in keys:
            pts = self.select(size, mode)
            v = np.array([p.value_rmse for p in pts])
            row: dict[str, Any] = {
                "size": size,
                "mode": mode,
                "n_seeds": len(pts),
                "value_rmse_mean": float(v.mean()),
                "value_rmse_sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                "fit_seconds_mean": float(np.mean([p.fit_seconds for p in pts])),
            }
            if pts and pts[0].gradient_rmse:
                g = np.array([p.gradient_rmse for p in pts])
                gp = np.array([p.gradient_rmse_pooled for p in pts])
                row["gradient_rmse_mean"] = [float(x) for x in g.mean(axis=0)]
                row["gradient_rmse_sd"] = (
                    [float(x) for x in g.std(axis=0, ddof=1)] if len(g) > 1 else [0.0] * g.shape[1]
                )
                row["gradient_rmse_pooled_mean"] = float(gp.mean())
                row["gradient_rmse_pooled_sd"] = float(gp.std(ddof=1)) if len(gp) > 1 else 0.0
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: estimator, inputs, every point and the summary."""
        return {
            "estimator": self.estimator,
            "inputs": list(self.inputs),
            "points": [{**asdict(p), "gradient_rmse": list(p.gradient_rmse)} for p in self.points],
            "summary": self.summary(),
        }

    def table(self, scale: float = 100.0) -> str:
        """Plain-text table of the summary, RMSE × ``scale`` (×100 = % of a unit spot)."""
        lines = [f"{'size':>8} {'mode':>13} {'value RMSE':>18} {'gradient RMSE':>18} {'fit s':>7}"]
        for r in self.summary():
            v = f"{scale * r['value_rmse_mean']:.3f} ± {scale * r['value_rmse_sd']:.3f}"
            if "gradient_rmse_pooled_mean" in r:
                g = (
                    f"{scale * r['gradient_rmse_pooled_mean']:.3f} ± "
                    f"{scale * r['gradient_rmse_pooled_sd']:.3f}"
                )
            else:
                g = "-"
            lines.append(
                f"{r['size']:>8} {r['mode']:>13} {v:>18} {g:>18} {r['fit_seconds_mean']:>7.2f}"
            )
        return "\n".join(lines)


def _subset(train: TrainData | Callable[[int, int], TrainData], m: int, seed: int) -> TrainData:
    if callable(train):
        return train(m, seed)
    X, y, z = train
    n = len(X)
    if m > n:
        raise ValueError(f"training size {m} exceeds the {n} training examples given.")
    idx = np.sort(np.random.default_rng(seed).choice(n, size=m, replace=False)) if m < n else None
    if idx is None:
        return X, y, z
    return _rows(X, idx), _rows(y, idx), (None if z is None else _rows(z, idx))


def _rows(a: Any, idx: np.ndarray) -> Any:
    """Rows ``idx`` of an array, a tensor or a pandas frame or series (by position)."""
    return a.iloc[idx] if hasattr(a, "iloc") else a[idx]


def _clone(estimator: Any, seed: int) -> Any:
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    kwargs = {"seed": seed} if "seed" in params else {}
    if hasattr(estimator, "clone"):
        return estimator.clone(**kwargs)
    return type(estimator)(**{**params, **kwargs})


def learning_curve(
    estimator: Any,
    train: TrainData | Callable[[int, int], TrainData],
    test: tuple[Any, Any] | tuple[Any, Any, Any],
    sizes: Sequence[int],
    modes: Sequence[str] = MODES,
    seeds: Sequence[int] = (0, 1, 2),
    inputs: Sequence[str] | None = None,
) -> LearningCurve:
    """Fit ``estimator`` clones for every (size, mode, seed) and measure test RMSE.

    Parameters
    ----------
    estimator : an unfitted estimator with ``fit(X, y, dydx=None)``, ``predict`` and (for gradient
        errors) ``predict_gradient``, and ``clone(**overrides)`` or ``get_params()``; its ``seed``
        hyperparameter, if any, is set to each seed.
    train : ``(X, y, dydx)`` arrays (each fit uses a seeded random subset of ``size`` rows; all rows
        when ``size`` equals their number) or a callable ``(size, seed) -> (X, y, dydx)`` that
        generates fresh data.
    test : ``(X_test, y_ref)`` or ``(X_test, y_ref, dydx_ref)``: reference prices (n_test,) and
        gradients (n_test, d), e.g. closed forms, not Monte-Carlo labels.
    sizes, modes, seeds : the grid; modes from ("standard", "differential").
    inputs : optional input names for reports.

    Returns a :class:`LearningCurve`.
    """
    for mode in modes:
        if mode not in MODES:
            raise ValueError(
                f"The 'modes' parameter of learning_curve must hold values among {MODES}. "
                f"Got {mode!r} instead."
            )
    Xt, vt, gt = check_xy(test[0], test[1],
                          test[2] if len(test) > 2 and test[2] is not None else None)
    curve = LearningCurve(
        inputs=tuple(inputs) if inputs is not None else tuple(f"x{j}" for j in range(Xt.shape[1])),
        estimator=repr(estimator),
    )
    for size in sizes:
        for seed in seeds:
            X, y, z = _subset(train, int(size), int(seed))
            for mode in modes:
                if mode == "differential" and z is None:
                    raise ValueError("differential mode needs training differentials dydx.")
                model = _clone(estimator, int(seed))
                t0 = time.perf_counter()
                if getattr(model, "needs_dydx", False):
                    # Reduced: the differential PCA always needs dydx; the standard mode is its
                    # regressor's, fitted on values only.
                    model.standard = mode == "standard"
                    model.fit(X, y, z)
                else:
                    model.fit(X, y, z if mode == "differential" else None)
                secs = time.perf_counter() - t0
                if gt is not None:
                    if hasattr(model, "predict_value_and_gradient"):
                        p, g = model.predict_value_and_gradient(Xt)
                    else:
                        p, g = model.predict(Xt), model.predict_gradient(Xt)
                    gr = tuple(float(v) for v in np.sqrt(np.mean((g - gt) ** 2, axis=0)))
                    pooled: float | None = float(np.sqrt(np.mean((g - gt) ** 2)))
                else:
                    p = model.predict(Xt)
                    gr, pooled = (), None
                curve.points.append(
                    CurvePoint(
                        size=int(size),
                        mode=mode,
                        seed=int(seed),
                        value_rmse=float(np.sqrt(np.mean((p - vt) ** 2))),
                        gradient_rmse=gr,
                        gradient_rmse_pooled=pooled,
                        fit_seconds=secs,
                    )
                )
    return curve
