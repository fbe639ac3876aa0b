"""Hundsdorfer-Verwer ADI for two-dimensional convection-diffusion-reaction PDEs with a source.

The semi-discrete system dU/dtau = F(U) = A0 U + A1 U + A2 U - f(U) is split into
F0 = A0 U - f(U) (mixed derivative and the non-linear XVA source, explicit), F1 = A1 U and
F2 = A2 U (all derivatives along axis 0, resp. axis 1, with half the -rU term each; implicit).
One HV step (In 't Hout & Foulon 2010, theta = 1/2 + sqrt(3)/6):

    Y0 = U + dt F(U)
    Yj = Y(j-1) + theta dt (Aj Yj - Aj U),                j = 1, 2
    Z0 = Y0 + dt/2 (F(Y2) - F(U))
    Zj = Z(j-1) + theta dt (Aj Zj - Aj Y2),               j = 1, 2
    U_next = Z2

which is second order in time for the whole F, f included. The first ``damping_steps`` steps are
each replaced by two Douglas steps with theta = 1 of size dt/2 (a first-order, strongly damped
start that smooths the payoff kink, the ADI analogue of Rannacher's start-up).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

HV_THETA = 0.5 + math.sqrt(3.0) / 6.0


class AxisOperator:
    """A_j = c2 D2 + c1 D1 + c0 I along one axis of an (n0, n1) grid, with coefficients varying on
    the whole grid; stored as a sparse matrix in the ordering where that axis is the fast index."""

    def __init__(self, axis: int, d1, d2, c1: np.ndarray, c2: np.ndarray, c0: float) -> None:
        self.axis = axis
        self.shape = c1.shape
        # Coefficients oriented (axis, other) and flattened line by line (axis fastest).
        o1 = np.moveaxis(c1, axis, 0).T.ravel()
        o2 = np.moveaxis(c2, axis, 0).T.ravel()
        n_other = self.shape[1 - axis]
        eye_o = sp.identity(n_other, format="csr")
        m = sp.diags(o2) @ sp.kron(eye_o, d2) + sp.diags(o1) @ sp.kron(eye_o, d1)
        self.matrix = sp.csr_matrix(m + c0 * sp.identity(m.shape[0]))
        self._lu: dict[float, object] = {}

    def _flat(self, u: np.ndarray) -> np.ndarray:
        return (u.T if self.axis == 0 else u).ravel()

    def _unflat(self, x: np.ndarray) -> np.ndarray:
        n0, n1 = self.shape
        return x.reshape(n1, n0).T if self.axis == 0 else x.reshape(n0, n1)

    def apply(self, u: np.ndarray) -> np.ndarray:
        return self._unflat(self.matrix @ self._flat(u))

    def solve(self, h: float, rhs: np.ndarray) -> np.ndarray:
        """(I - h A_j)^{-1} rhs, with the factorisation cached per h."""
        lu = self._lu.get(h)
        if lu is None:
            eye = sp.identity(self.matrix.shape[0], format="csc")
            lu = splu(sp.csc_matrix(eye - h * self.matrix))
            self._lu[h] = lu
        return self._unflat(lu.solve(self._flat(rhs)))


class MixedOperator:
    """A0 U = c (D1_axis0 U D1_axis1^T): central first differences, boundary rows zero."""

    def __init__(self, d1_0, d1_1, coef: np.ndarray) -> None:
        self.d0 = sp.csr_matrix(d1_0)
        self.d1 = sp.csr_matrix(d1_1)
        self.coef = coef

    def apply(self, u: np.ndarray) -> np.ndarray:
        return self.coef * (self.d1 @ (self.d0 @ u).T).T


def hv_solve(
    u0: np.ndarray,
    a0: MixedOperator,
    a1: AxisOperator,
    a2: AxisOperator,
    source: Callable[[np.ndarray], np.ndarray] | None,
    maturity: float,
    n_time: int,
    damping_steps: int = 2,
) -> np.ndarray:
    """Integrate dU/dtau = A0 U + A1 U + A2 U - f(U) from tau = 0 to ``maturity``."""
    dt = maturity / n_time

    def f0(u):
        out = a0.apply(u)
        return out if source is None else out - source(u)

    def douglas(u, h):  # theta = 1
        a1u, a2u = a1.apply(u), a2.apply(u)
        y = u + h * (f0(u) + a1u + a2u)
        y = a1.solve(h, y - h * a1u)
        return a2.solve(h, y - h * a2u)

    th = HV_THETA
    u = u0
    for step in range(n_time):
        if step < damping_steps:
            u = douglas(douglas(u, 0.5 * dt), 0.5 * dt)
            continue
        a1u, a2u = a1.apply(u), a2.apply(u)
        fu = f0(u) + a1u + a2u
        y0 = u + dt * fu
        y1 = a1.solve(th * dt, y0 - th * dt * a1u)
        y2 = a2.solve(th * dt, y1 - th * dt * a2u)
        a1y, a2y = a1.apply(y2), a2.apply(y2)
        z0 = y0 + 0.5 * dt * (f0(y2) + a1y + a2y - fu)
        z1 = a1.solve(th * dt, z0 - th * dt * a1y)
        u = a2.solve(th * dt, z1 - th * dt * a2y)
    return u
