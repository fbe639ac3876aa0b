"""The result of a finite-difference solve: grid values and interpolated price and Greeks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import RectBivariateSpline, make_interp_spline

from .. import _validation as v
from ._grid import derivative_on_grid


@dataclass(frozen=True)
class FDStats:
    """Solver statistics.

    Attributes:
        method: the scheme, e.g. "Crank-Nicolson + Rannacher + Picard".
        n_space: number of space steps per axis (grid nodes = n_space + 1).
        n_time: number of time steps (damping sub-steps not counted).
        upper: actual upper bound of each axis (the strike is a node, see ``sinh_grid``).
        elapsed_s: wall-clock time of the solve, seconds.
        iterations: total fixed-point (Picard) iterations on the XVA source (0 for explicit).
        max_iterations_per_step: largest number of Picard iterations in one step.
        last_increment: largest sup-norm Picard increment accepted at the end of a step.
    """

    method: str
    n_space: tuple[int, ...]
    n_time: int
    upper: tuple[float, ...]
    elapsed_s: float
    iterations: int = 0
    max_iterations_per_step: int = 0
    last_increment: float = 0.0


@dataclass(frozen=True, eq=False)
class FDSolution:
    """Grid solution at tau = maturity with cubic-spline interpolation of price and Greeks.

    Attributes:
        axes: grid nodes per state variable, e.g. ``(spot,)``, ``(spot_1, spot_2)`` or
            ``(spot, variance)``.
        names: the state variable names.
        values: prices on the grid, shape ``tuple(len(a) for a in axes)``.
        stats: :class:`FDStats`.

    Greeks are computed on the grid by 3-point non-uniform differences of ``values`` and then
    interpolated with (bi)cubic splines. ``points`` has shape (n,) for 1-D problems and (n, 2) for
    2-D ones (columns in the order of ``names``); points outside the grid raise ``ValueError``.
    """

    axes: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    values: np.ndarray
    stats: FDStats
    _spot_axes: tuple[int, ...] = field(repr=False, default=(0,))
    _splines: dict = field(repr=False, default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        grids = {"price": self.values}
        for a in range(len(self.axes)):
            grids[f"d{a}"] = derivative_on_grid(self.values, self.axes[a], a, 1)
            grids[f"d{a}{a}"] = derivative_on_grid(self.values, self.axes[a], a, 2)
        if len(self.axes) == 2:
            grids["d01"] = derivative_on_grid(grids["d0"], self.axes[1], 1, 1)
        for key, g in grids.items():
            if len(self.axes) == 1:
                self._splines[key] = make_interp_spline(self.axes[0], g, k=3)
            else:
                self._splines[key] = RectBivariateSpline(self.axes[0], self.axes[1], g, s=0)

    # ------------------------------------------------------------------ helpers
    def _points(self, points, owner: str) -> np.ndarray:
        p = v.array(owner, "points", points)
        d = len(self.axes)
        if d == 1:
            if p.ndim > 1:
                v.fail(owner, "points", "of shape (n,)", f"shape {p.shape}")
            p = p.reshape(-1, 1)
        else:
            if p.ndim == 1 and p.size == d:
                p = p.reshape(1, d)
            if p.ndim != 2 or p.shape[1] != d:
                v.fail(owner, "points", f"of shape (n, {d})", f"shape {p.shape}")
        for a, ax in enumerate(self.axes):
            bad = (p[:, a] < ax[0]) | (p[:, a] > ax[-1])
            if np.any(bad):
                rule = f"inside the grid, {self.names[a]} in [{ax[0]:g}, {ax[-1]:g}]"
                v.fail(owner, "points", rule, float(p[bad, a][0]))
        return p

    def _eval(self, key: str, p: np.ndarray) -> np.ndarray:
        s = self._splines[key]
        if len(self.axes) == 1:
            return np.asarray(s(p[:, 0]))
        return s.ev(p[:, 0], p[:, 1])

    # ------------------------------------------------------------------ public
    def price(self, points) -> np.ndarray:
        """Option value at ``points``, shape (n,)."""
        return self._eval("price", self._points(points, "FDSolution.price"))

    def delta(self, points) -> np.ndarray:
        """dV/dspot: shape (n,) with one spot axis, (n, 2) for two-asset baskets."""
        p = self._points(points, "FDSolution.delta")
        out = [self._eval(f"d{a}", p) for a in self._spot_axes]
        return out[0] if len(out) == 1 else np.stack(out, axis=-1)

    def gamma(self, points) -> np.ndarray:
        """d2V/dspot2: shape (n,) with one spot axis, the (n, 2, 2) Hessian for two assets."""
        p = self._points(points, "FDSolution.gamma")
        if len(self._spot_axes) == 1:
            a = self._spot_axes[0]
            return self._eval(f"d{a}{a}", p)
        h = np.empty((p.shape[0], 2, 2))
        h[:, 0, 0] = self._eval("d00", p)
        h[:, 1, 1] = self._eval("d11", p)
        h[:, 0, 1] = h[:, 1, 0] = self._eval("d01", p)
        return h

    def vega(self, points) -> np.ndarray:
        """dV/dvariance (Heston: the derivative with respect to the current variance), (n,)."""
        if "variance" not in self.names:
            raise ValueError("vega is only available for solutions with a 'variance' axis.")
        p = self._points(points, "FDSolution.vega")
        return self._eval(f"d{self.names.index('variance')}", p)
