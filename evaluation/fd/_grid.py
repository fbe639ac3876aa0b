"""Non-uniform grids and finite-difference weight matrices (second order on smooth grids)."""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np
import scipy.sparse as sp

from .. import _validation as v

MAX_NODES = 2**24
"""Nodes of one FD grid, all axes together (a 2D grid of 4096 x 4096 steps): the sparse operators
and factorisations of a larger grid outgrow a machine's memory."""
MAX_TIME_STEPS = 10**7
"""Time steps of one FD solve."""
MAX_ITERATIONS = 10**6
"""Picard iterations per time step (``max_iter``) and damped start-up steps."""


Cluster = float | None | Literal["auto"]
"""A solver's ``cluster`` option: a width as a fraction of the center, None (uniform grid) or
"auto" (the solver's default, narrower when vol sqrt(T) is small)."""


def auto_cluster_1d(vol: float, maturity: float) -> float:
    """``cluster="auto"`` of :func:`~evaluation.fd.black_scholes_1d`: min(0.2, vol sqrt(T))."""
    return min(0.2, vol * math.sqrt(maturity))


def auto_cluster_basket(vols, maturity: float) -> float:
    """``cluster="auto"`` of :func:`~evaluation.fd.basket_2d`: min(0.2, max(vols) sqrt(T))."""
    return min(0.2, float(np.max(vols)) * math.sqrt(maturity))


def basket_reach(strike: float, weights) -> tuple[float, float]:
    """Per axis, the smallest S_i,max at which a basket kink ``w . S = K`` stays clear of the
    face S_i = S_i,max: twice K / w_i, where the line meets the axis (inf-free: 0 for w_i <= 0).
    Below it, the kink crosses the face, where the solver's linearity condition V_ii = 0 is
    false, and the error near there shrinks only slowly with the grid (weights (0.1, 0.9),
    K = 100, faces at 400: 19 %, 17 %, 15 % at (380, 60) on 120, 160, 320 nodes a side)."""
    return tuple(2.0 * strike / w if w > 0 else 0.0 for w in weights)  # type: ignore[return-value]


#: The largest c dtau (c the XVA source's larger spread) for the 2-D solvers, whose source is
#: explicit in the ADI stages: at 0.25 a put worth 0.037 came out at -0.0001 (c T = 6, 24 steps),
#: at 0.1 within 0.33 %.
EXPLICIT_SOURCE_STEP = 0.1
#: The largest c dtau for the 1-D solver, whose Picard iteration on the implicit source stops
#: contracting near 2.
IMPLICIT_SOURCE_STEP = 1.0


def source_time_steps(owner: str, n_time: object, default: int, xva: object,
                      maturity: float, max_step: float) -> int:
    """The number of time steps: ``n_time`` when given (refused in one line when the XVA
    source's step c dtau would exceed ``max_step``), else ``default`` raised to
    ceil(c maturity / max_step); c is the larger of the source's two spreads (0 without XVA)."""
    c = 0.0 if xva is None else max(abs(float(xva.spread(1))), abs(float(xva.spread(-1))))
    need = max(1, math.ceil(c * maturity / max_step - 1e-9))
    if need > MAX_TIME_STEPS:
        v.fail(owner, "xva", f"a spread c with c * maturity <= {max_step * MAX_TIME_STEPS:g} "
               f"(c = {c:g} over {maturity:g} years needs {need} time steps, more than "
               f"{MAX_TIME_STEPS})", xva)
    if n_time is None:
        return max(default, need)
    nt = v.integer(owner, "n_time", n_time, 1, MAX_TIME_STEPS)
    if nt < need:
        v.fail(owner, "n_time", f"at least {need} with this XVA (spread c = {c:g} over "
               f"{maturity:g} years; c * maturity / n_time <= {max_step:g}, or None for that "
               "many)", n_time)
    return nt


def auto_cluster_heston(theta: float, maturity: float) -> float:
    """``cluster="auto"`` of :func:`~evaluation.fd.heston_2d`: min(0.1, sqrt(theta T))."""
    return min(0.1, math.sqrt(theta * maturity))


def lognormal_s_max(center: float, vol: float, maturity: float, carry: float = 0.0,
                    owner: str = "evaluation.fd") -> float:
    """The default upper spot bound of the Black-Scholes grids:
    center x max(4, e^{max(0, -b T) + 5 vol sqrt(T)}) with b = rate - dividend: five standard
    deviations of ln S above the spot whose forward is the center (K e^{-b T}, above the strike
    when the carry is negative); 4 x center for short, low-volatility problems. A bound past
    the float range is refused in one line naming ``owner``'s ``s_max``."""
    return _bounded(center, max(0.0, -carry * maturity) + 5.0 * vol * math.sqrt(maturity), owner)


def _bounded(center: float, exponent: float, owner: str) -> float:
    """center x max(4, e^exponent), refused in one line when beyond the float range."""
    if math.log(center) + exponent > math.log(1e300):
        v.fail(owner, "s_max", "given explicitly here: its default, center x max(4, "
               f"e^{{{exponent:.4g}}}), is beyond the float range", None)
    return center * max(4.0, math.exp(exponent))


def heston_s_max(center: float, theta: float, maturity: float, carry: float = 0.0,
                 owner: str = "heston_2d") -> float:
    """The default upper spot bound of :func:`~evaluation.fd.heston_2d`:
    center x max(4, e^{max(0, -b T) + 5 sqrt(theta T)}), b = rate - dividend: five standard
    deviations of ln S at the long-run variance above the spot whose forward is the center (as
    :func:`lognormal_s_max` with vol sqrt(theta)); 4 x center for short, low-variance problems."""
    return _bounded(center, max(0.0, -carry * maturity) + 5.0 * math.sqrt(theta * maturity),
                    owner)


def heston_v_cluster(theta: float, v_max: float) -> float:
    """``v_cluster="auto"`` of :func:`~evaluation.fd.heston_2d`: min(1/500, theta / (4 v_max)),
    a sinh width in v of at most a quarter of the long-run variance, so a low-variance problem
    keeps nodes where its variance lives (1/500 of v_max = 5, 0.01, from theta = 0.04 up)."""
    return min(1.0 / 500.0, theta / (4.0 * v_max))


def cluster_fraction(owner: str, value: object, auto: float) -> float | None:
    """The clustering width of ``value`` (a :data:`Cluster`) as a fraction of the center:
    ``auto`` for "auto", None for None, else a number > 0 (one-line ValueError otherwise)."""
    if isinstance(value, str):
        if value != "auto":
            v.fail(owner, "cluster", "a number > 0, None or 'auto'", value)
        return auto
    return None if value is None else v.positive_float(owner, "cluster", value)


#: Fewest cells of a uniform grid between its low end and its center before a warning.
MIN_UNIFORM_CELLS = 4


def sinh_grid(low: float, high: float, center: float, n: int, cluster: float | None) -> np.ndarray:
    """n + 1 nodes on [low, ~high] clustered at ``center`` by x = center + c sinh(xi), xi uniform.

    ``c = cluster`` (in the units of x); ``None`` gives a grid on exactly [low, high], uniform on
    each side of the center with m cells below it, m the nearest whole number of (high - low)
    / n steps (at least 1 and at most n - 1; one spacing when the center falls on a node of
    the uniform grid). ``center`` is always a node. With a cluster the spacing in xi is fixed by
    [low, center] and the upper end moves by less than one step (the returned grid's last node
    is the actual upper bound).
    """
    if cluster is None:
        h0 = (high - low) / n
        m = round((center - low) / h0)
        if m < MIN_UNIFORM_CELLS:
            warnings.warn(
                f"evaluation.fd: a uniform grid of {n} cells on [{low:g}, {high:g}] leaves "
                f"{max(m, 1)} cell(s) between {low:g} and the center {center:g}, too few to "
                "resolve the value there; use cluster='auto' (the default) or a smaller upper "
                "bound", RuntimeWarning, stacklevel=3)
        m = min(max(m, 1), n - 1)
        return np.concatenate([np.linspace(low, center, m + 1),
                               np.linspace(center, high, n - m + 1)[1:]])
    c = float(cluster)
    xi_lo = math.asinh((low - center) / c)
    xi_hi = math.asinh((high - center) / c)
    m = min(max(1, round(n * (-xi_lo) / (xi_hi - xi_lo))), n - 1)
    dxi = -xi_lo / m
    xi = xi_lo + dxi * np.arange(n + 1)
    x = center + c * np.sinh(xi)
    x[0] = low
    x[m] = center
    return x


def lower_grid(high: float, n: int, cluster: float | None) -> np.ndarray:
    """n + 1 nodes on [0, high] clustered at 0 by x = c sinh(xi) (uniform for ``cluster=None``)."""
    if cluster is None:
        return np.linspace(0.0, high, n + 1)
    c = float(cluster)
    xi = np.linspace(0.0, math.asinh(high / c), n + 1)
    x = c * np.sinh(xi)
    x[0], x[-1] = 0.0, high
    return x


def _central_weights(x: np.ndarray):
    hm = x[1:-1] - x[:-2]
    hp = x[2:] - x[1:-1]
    d1 = (-hp / (hm * (hm + hp)), (hp - hm) / (hm * hp), hm / (hp * (hm + hp)))
    d2 = (2.0 / (hm * (hm + hp)), -2.0 / (hm * hp), 2.0 / (hp * (hm + hp)))
    return d1, d2


def first_derivative(
    x: np.ndarray, left: str = "forward", right: str = "backward"
) -> sp.csr_matrix:
    """D1 with central interior rows; boundary rows "forward"/"backward" (3-point) or "zero"."""
    n = x.size
    (a, b, c), _ = _central_weights(x)
    rows, cols, vals = [], [], []
    i = np.arange(1, n - 1)
    for off, w in ((-1, a), (0, b), (1, c)):
        rows.append(i)
        cols.append(i + off)
        vals.append(w)
    if left == "forward":
        h1, h2 = x[1] - x[0], x[2] - x[1]
        rows.append(np.zeros(3, dtype=int))
        cols.append(np.arange(3))
        vals.append(
            np.array(
                [-(2 * h1 + h2) / (h1 * (h1 + h2)), (h1 + h2) / (h1 * h2), -h1 / (h2 * (h1 + h2))]
            )
        )
    if right == "backward":
        h1, h2 = x[-2] - x[-3], x[-1] - x[-2]
        rows.append(np.full(3, n - 1))
        cols.append(np.arange(n - 3, n))
        vals.append(
            np.array(
                [h2 / (h1 * (h1 + h2)), -(h1 + h2) / (h1 * h2), (2 * h2 + h1) / (h2 * (h1 + h2))]
            )
        )
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )


def second_derivative(x: np.ndarray, right: str = "zero") -> sp.csr_matrix:
    """D2 with central interior rows, a zero first row; last row "zero" or "neumann" (ghost node
    mirrored, V_{N+1} = V_{N-1}: 2 (V_{N-1} - V_N) / h^2)."""
    n = x.size
    _, (a, b, c) = _central_weights(x)
    rows, cols, vals = [], [], []
    i = np.arange(1, n - 1)
    for off, w in ((-1, a), (0, b), (1, c)):
        rows.append(i)
        cols.append(i + off)
        vals.append(w)
    if right == "neumann":
        h = x[-1] - x[-2]
        rows.append(np.array([n - 1, n - 1]))
        cols.append(np.array([n - 2, n - 1]))
        vals.append(np.array([2.0 / h**2, -2.0 / h**2]))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )


def derivative_on_grid(values: np.ndarray, x: np.ndarray, axis: int, order: int) -> np.ndarray:
    """First or second derivative of grid values along ``axis`` (3-point, one-sided at the ends)."""
    v = np.moveaxis(values, axis, 0)
    if order == 1:
        d = first_derivative(x, "forward", "backward")
    else:
        d = second_derivative(x).tolil()
        # One-sided 3-point second derivatives at both ends (exact for quadratics on 3 nodes).
        for row, idx in ((0, [0, 1, 2]), (x.size - 1, [x.size - 3, x.size - 2, x.size - 1])):
            x0, x1, x2 = x[idx]
            d[row, idx[0]] = 2.0 / ((x1 - x0) * (x2 - x0))
            d[row, idx[1]] = -2.0 / ((x1 - x0) * (x2 - x1))
            d[row, idx[2]] = 2.0 / ((x2 - x0) * (x2 - x1))
        d = d.tocsr()
    out = d @ v.reshape(v.shape[0], -1)
    return np.moveaxis(out.reshape(v.shape), 0, axis)
