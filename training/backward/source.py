"""The XVA source term over one date interval: the theta-scheme step and its inverse.

The risky value solves ``dV/dt + L V - r V = f(V)`` in calendar time t, with
``f(v) = a min(v, 0) + b max(v, 0)``, ``a = (1 - R_B) lambda_B`` and
``b = (1 - R_C) lambda_C + s_F`` (:class:`simulators.XVA`). Integrating from t_k to t_{k+1}
along the discounted risk-neutral expectation and treating the source by the theta rule:

    V_k + theta dt f(V_k) = E[ D (V_{k+1} - (1 - theta) dt f(V_{k+1})) | x_k ],  D = e^{-r dt}.

The right-hand side is what a regression learns (a conditional expectation, C_k); the left-hand
side ``g(v) = v + theta dt f(v)`` is piecewise linear, increasing and zero at zero, so
``V_k = g^{-1}(C_k)`` in closed form: ``c / (1 + theta dt b)`` for c >= 0 and
``c / (1 + theta dt a)`` otherwise. theta = 1 is the implicit scheme (first order in dt),
theta = 1/2 the Crank-Nicolson (trapezoidal) scheme (second order).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Scheme(StrEnum):
    """How the source term is integrated over a date interval."""

    #: theta = 1: V_k + dt f(V_k) = E[D V_{k+1}]; error O(dt).
    IMPLICIT = "implicit"
    #: theta = 1/2: the trapezoidal rule; error O(dt^2).
    CRANK_NICOLSON = "crank_nicolson"

    @property
    def theta(self) -> float:
        return 1.0 if self is Scheme.IMPLICIT else 0.5


@dataclass(frozen=True)
class Source:
    """f(v) = neg min(v, 0) + pos max(v, 0), per year.

    Attributes:
        neg: a = (1 - R_B) lambda_B, the spread of a value <= 0.
        pos: b = (1 - R_C) lambda_C + s_F, the spread of a value >= 0.
    """

    neg: float = 0.0
    pos: float = 0.0

    @classmethod
    def of(cls, xva) -> Source:
        """The source of a :class:`simulators.XVA` (``None``: risk-free, f = 0)."""
        if xva is None:
            return cls()
        return cls(neg=float(xva.spread_negative), pos=float(xva.spread_positive))

    @property
    def linear(self) -> bool:
        """True when f is linear (a = b): the risky value is then e^{-a tau} V_rf."""
        return self.neg == self.pos

    def value(self, v: np.ndarray) -> np.ndarray:
        """f(v), same shape as v."""
        return self.neg * np.minimum(v, 0.0) + self.pos * np.maximum(v, 0.0)

    def slope(self, v: np.ndarray) -> np.ndarray:
        """f'(v): pos where v > 0, neg elsewhere (the kink at 0 takes the left slope)."""
        return np.where(v > 0.0, self.pos, self.neg)


def label(source: Source, theta: float, dt: float, discount: float, v_next: np.ndarray,
          grad_next: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The regression label ``D (v - (1 - theta) dt f(v))`` at the next date's state and the
    cotangent of that state, ``D (1 - (1 - theta) dt f'(v)) grad v``.

    Args:
        v_next: V_{k+1} at the simulated states, shape (n,).
        grad_next: its gradient with respect to the state, shape (n, d).

    Returns:
        (y (n,), w (n, d)); w is pulled back to x_k by the transition's vector-Jacobian product.
    """
    h = (1.0 - theta) * dt
    y = discount * (v_next - h * source.value(v_next))
    scale = discount * (1.0 - h * source.slope(v_next))
    return y, scale[:, None] * grad_next


def inverse(source: Source, theta: float, dt: float, c: np.ndarray,
            grad_c: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """V = g^{-1}(C) for g(v) = v + theta dt f(v), and grad V = grad C / g'(V).

    Args:
        c: the regression's values C_k, shape (n,).
        grad_c: their state gradients, shape (n, d), or None.

    Returns:
        (v (n,), grad v (n, d) or None). g keeps the sign, so the branch is that of c.
    """
    h = theta * dt
    denom = np.where(c >= 0.0, 1.0 + h * source.pos, 1.0 + h * source.neg)
    v = c / denom
    return v, (None if grad_c is None else grad_c / denom[:, None])


def forward(source: Source, theta: float, dt: float, v: np.ndarray) -> np.ndarray:
    """g(v) = v + theta dt f(v) (the map :func:`inverse` undoes)."""
    return v + theta * dt * source.value(v)
