"""Differential polynomial regression and a cross-validated ridge baseline (docs/methods.md §1).

Basis Φ: all monomials of total degree ≤ p in the standardised inputs x̃ = (x − μ)/σ, with exact
derivatives ∂Φ/∂x̃_j. The differential least-squares problem

    min_β |Φβ − y|² + α Σ_j w_j |∂Φ_j β − z̃_j|²,   w_j = E[y²]/E[z̃_j²],  z̃_j = σ_j z_j

has the closed form β = (ΦᵀΦ + α Σ_j w_j ∂Φ_jᵀ∂Φ_j)⁺ (Φᵀy + α Σ_j w_j ∂Φ_jᵀ z̃_j). Since w_j z̃_j² =
(E[y²]/E[z_j²]) z_j², standardising the inputs changes nothing but the conditioning.

Solvers: ``"eigh"`` (default) eigen-decomposes the symmetric normal matrix and inverts the
eigenvalues above ``rcond × λ_max`` (a pseudo-inverse: ill-conditioned directions are dropped rather
than amplified); ``"lstsq"`` solves the stacked rows [Φ; √(α w_j) ∂Φ_j] by SVD (LAPACK gelsd),
which avoids squaring the condition number at the cost of memory m (d + 1) K.

Shapes: X (m, d), y (m,), dydx (m, d); K = C(d + p, p) basis functions.
"""

from __future__ import annotations

import warnings
from itertools import combinations_with_replacement
from math import comb
from numbers import Integral, Real
from typing import Any

import numpy as np

from ._base import BaseRegressor
from ._validation import (
    Interval,
    IsNone,
    Options,
    Predicate,
    check_X,
    check_xy,
    not_fitted,
    validate_params,
)
from .options import TrainMode
from .scaling import _mean, column_std

MAX_FEATURES = 20_000


class PolynomialBasis:
    """Monomials of total degree ≤ ``degree`` in ``n_inputs`` variables, constant first.

    ``exponents`` has shape (K, d).
    """

    def __init__(self, n_inputs: int, degree: int) -> None:
        self.n_inputs = int(n_inputs)
        self.degree = int(degree)
        k = comb(self.n_inputs + self.degree, self.degree)
        if k > MAX_FEATURES:
            raise ValueError(
                f"A degree-{degree} polynomial basis in {n_inputs} inputs has {k} terms "
                f"(more than {MAX_FEATURES}); lower the degree or reduce the inputs "
                "(e.g. with DifferentialPCA)."
            )
        rows = []
        for deg in range(self.degree + 1):
            for combo in combinations_with_replacement(range(self.n_inputs), deg):
                e = np.zeros(self.n_inputs, dtype=np.int64)
                for i in combo:
                    e[i] += 1
                rows.append(e)
        self.exponents = np.array(rows, dtype=np.int64).reshape(-1, self.n_inputs)

    @property
    def n_features(self) -> int:
        return self.exponents.shape[0]

    def _powers(self, X: np.ndarray) -> np.ndarray:
        """x_i^e for e = 0..degree: shape (degree + 1, m, d)."""
        P = np.empty((self.degree + 1,) + X.shape)
        P[0] = 1.0
        for e in range(1, self.degree + 1):
            P[e] = P[e - 1] * X
        return P

    def values(self, X: np.ndarray, P: np.ndarray | None = None) -> np.ndarray:
        """Φ(X), shape (m, K)."""
        P = self._powers(X) if P is None else P
        out = np.ones((X.shape[0], self.n_features))
        for i in range(self.n_inputs):
            out *= P[self.exponents[:, i], :, i].T
        return out

    def derivative(self, X: np.ndarray, j: int, P: np.ndarray | None = None) -> np.ndarray:
        """∂Φ/∂x_j (X), shape (m, K): e_j x_j^{e_j − 1} Π_{i≠j} x_i^{e_i}."""
        P = self._powers(X) if P is None else P
        e = self.exponents
        out = np.ones((X.shape[0], self.n_features))
        for i in range(self.n_inputs):
            if i == j:
                out *= (e[:, j][:, None] * P[np.maximum(e[:, j] - 1, 0), :, j]).T
            else:
                out *= P[e[:, i], :, i].T
        return out


class _PolyBase(BaseRegressor):
    """Shared input standardisation, prediction and gradient mapping; parameters, ``clone``,
    ``repr`` and ``score`` (R²) from :class:`~training._base.BaseRegressor`."""

    def _prepare(self, X: np.ndarray) -> None:
        self.x_mean_ = _mean(X)  # overflow-safe: inputs near the float64 limit
        s = column_std(X)
        self.x_std_ = np.where(s > 0, s, 1.0)
        self.n_inputs_ = X.shape[1]
        self.basis_ = PolynomialBasis(self.n_inputs_, self.degree)

    def _finite(self, Xs: np.ndarray, solve: Any) -> np.ndarray:
        """``solve()``'s coefficients, refused in one line when they are not finite or the
        linear algebra fails, which happens when the degree's powers of the standardised
        inputs overflow float64."""
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                coef = solve()
        except np.linalg.LinAlgError:
            coef = None
        if coef is None or not np.all(np.isfinite(coef)):
            raise ValueError(
                f"{type(self).__name__}: the degree-{self.degree} fit is not finite on these "
                f"inputs (standardised inputs reach {float(np.abs(Xs).max()):.3g}, whose "
                f"powers up to {self.degree} overflow float64 in the normal equations); lower "
                "the degree")
        return coef

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise not_fitted(type(self).__name__)

    def _finite_output(self, out: np.ndarray, Xs: np.ndarray, what: str) -> np.ndarray:
        """``out`` if finite, else ``FloatingPointError`` naming the furthest input."""
        if not np.all(np.isfinite(out)):
            raise FloatingPointError(
                f"{type(self).__name__}.{what}: the degree-{self.degree} polynomial is not "
                f"finite at these inputs (the furthest is {float(np.abs(Xs).max()):.3g} training "
                "standard deviations from the training mean, whose powers overflow float64)")
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Values, shape (n,); ``FloatingPointError`` where the polynomial overflows."""
        self._check_fitted()
        with np.errstate(over="ignore", invalid="ignore"):
            Xs = (check_X(X, self.n_inputs_) - self.x_mean_) / self.x_std_
            out = self.basis_.values(Xs) @ self.coef_
        return self._finite_output(out, Xs, "predict")

    def predict_gradient(self, X: Any) -> np.ndarray:
        """Exact gradient of the fitted polynomial in original units, shape (n, d);
        ``FloatingPointError`` where it overflows."""
        self._check_fitted()
        with np.errstate(over="ignore", invalid="ignore"):
            Xs = (check_X(X, self.n_inputs_) - self.x_mean_) / self.x_std_
            P = self.basis_._powers(Xs)
            g = np.column_stack(
                [self.basis_.derivative(Xs, j, P) @ self.coef_ for j in range(self.n_inputs_)]
            ) / self.x_std_
        return self._finite_output(g, Xs, "predict_gradient")

    def predict_value_and_gradient(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.predict(X), self.predict_gradient(X)


NORMAL_COND_MAX = 1e10
"""Largest condition number of the normal matrix that ``solver="eigh"`` solves: beyond it the
normal equations lose more than 10 of float64's 16 digits and the fit falls back to the stacked
least squares (``solver_`` says which ran)."""


def _solve_sym(A: np.ndarray, b: np.ndarray, rcond: float,
               cond_max: float = np.inf) -> np.ndarray | None:
    """Pseudo-inverse solve of a symmetric PSD system by eigen-decomposition; None when its
    condition number exceeds ``cond_max``."""
    w, V = np.linalg.eigh(A)
    top = max(float(w.max()), 0.0)
    if np.isfinite(cond_max) and (not top > 0.0 or float(w.min()) < top / cond_max):
        return None
    cutoff = rcond * top
    inv = np.where(w > cutoff, 1.0 / np.where(w > cutoff, w, 1.0), 0.0)
    return V @ (inv * (V.T @ b))


class DifferentialPolynomialRegression(_PolyBase):
    """Polynomial regression on values and differentials (closed form of the module docstring).

    Parameters
    ----------
    degree : int >= 1, default 5
    alpha : float >= 0, default 1.0
        Weight α of the differential rows (docs/methods.md uses 1). α = 0 is plain least squares.
    ridge : float >= 0, default 0.0
        Optional Tikhonov penalty ridge · m on the non-constant coefficients.
    solver : {"eigh", "lstsq"}, default "eigh"
    rcond : float in (0, 1), default 1e-12
        Relative eigenvalue (``eigh``) or singular value (``lstsq``) cutoff.

    ``fit(X, y, dydx=None)``: without ``dydx``, ordinary least squares. ``fit(X, None, dydx)`` fits
    the derivatives alone, which determine the polynomial up to its constant term; the minimum-norm
    solution sets the constant of the standardised basis to 0.

    Attributes: ``coef_`` (K,), ``basis_``, ``weights_`` (d,) the w_j, ``x_mean_``, ``x_std_``;
    ``solver_``, the solver that ran: ``"eigh"`` falls back to ``"lstsq"`` when the normal
    matrix's condition number exceeds :data:`NORMAL_COND_MAX` (high degrees square an already
    large condition number); ``rank_`` after ``"lstsq"``, which warns (RuntimeWarning) when the
    basis is numerically rank-deficient on the data.
    """

    _parameter_constraints = {
        "degree": [Interval(Integral, 1, MAX_FEATURES)],
        "alpha": [Interval(Real, 0, None)],
        "ridge": [Interval(Real, 0, None)],
        "solver": [Options(("eigh", "lstsq"))],
        "rcond": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        degree: int = 5,
        alpha: float = 1.0,
        ridge: float = 0.0,
        solver: str = "eigh",
        rcond: float = 1e-12,
    ) -> None:
        self.degree = degree
        self.alpha = alpha
        self.ridge = ridge
        self.solver = solver
        self.rcond = rcond

    def fit(self, X: Any, y: Any | None, dydx: Any | None = None):
        validate_params(type(self).__name__, self.get_params(), self._parameter_constraints)
        if y is None and dydx is None:
            raise ValueError("fit needs y, dydx or both.")
        Xa, ya, za = check_xy(X, y, dydx, require_y=False)
        self._prepare(Xa)
        Xs = (Xa - self.x_mean_) / self.x_std_
        m, d = Xs.shape
        K = self.basis_.n_features
        P = self.basis_._powers(Xs)
        use_z = za is not None and (self.alpha > 0 or ya is None)
        zs = za * self.x_std_ if use_z else None
        self.weights_ = _derivative_weights(zs, ya) if use_z else np.zeros(d)
        a = self.alpha if ya is not None else 1.0
        pen = np.full(K, self.ridge * m)
        pen[0] = 0.0
        coef = self._solve_normal(Xs, P, ya, zs, a, pen) if self.solver == "eigh" else None
        self.solver_ = "eigh" if coef is not None else "lstsq"
        self.coef_ = self._finite(Xs, lambda: coef if coef is not None else self._solve_stacked(
            Xs, P, ya, zs, a, pen))
        self.mode_ = TrainMode.DIFFERENTIAL if use_z else TrainMode.STANDARD
        return self

    def _solve_normal(
        self,
        Xs: np.ndarray,
        P: np.ndarray,
        ya: np.ndarray | None,
        zs: np.ndarray | None,
        a: float,
        pen: np.ndarray,
    ) -> np.ndarray | None:
        """``solver="eigh"``: the normal equations of the module docstring, pseudo-inverted;
        None when they are too ill-conditioned (:data:`NORMAL_COND_MAX`)."""
        B, w = self.basis_, self.weights_
        K = B.n_features
        A = np.zeros((K, K))
        rhs = np.zeros(K)
        if ya is not None:
            Phi = B.values(Xs, P)
            A += Phi.T @ Phi
            rhs += Phi.T @ ya
        if zs is not None:
            for j in range(Xs.shape[1]):
                D = B.derivative(Xs, j, P)
                A += a * w[j] * (D.T @ D)
                rhs += a * w[j] * (D.T @ zs[:, j])
        A[np.diag_indices(K)] += pen
        return _solve_sym(A, rhs, self.rcond, NORMAL_COND_MAX)

    def _solve_stacked(
        self,
        Xs: np.ndarray,
        P: np.ndarray,
        ya: np.ndarray | None,
        zs: np.ndarray | None,
        a: float,
        pen: np.ndarray,
    ) -> np.ndarray:
        """``solver="lstsq"``: the stacked rows [Φ; √(α w_j) ∂Φ_j; √pen] by SVD."""
        B, w = self.basis_, self.weights_
        blocks, targets = [], []
        if ya is not None:
            blocks.append(B.values(Xs, P))
            targets.append(ya)
        if zs is not None:
            for j in range(Xs.shape[1]):
                s = np.sqrt(a * w[j])
                blocks.append(s * B.derivative(Xs, j, P))
                targets.append(s * zs[:, j])
        if self.ridge > 0:
            blocks.append(np.diag(np.sqrt(pen)))
            targets.append(np.zeros(B.n_features))
        coef, _, rank, _ = np.linalg.lstsq(np.vstack(blocks), np.concatenate(targets),
                                           rcond=self.rcond)
        self.rank_ = int(rank)
        full = B.n_features - (1 if ya is None else 0)  # derivatives alone: no constant
        if rank < full:
            warnings.warn(
                f"{type(self).__name__}: the degree-{self.degree} basis ({B.n_features} "
                f"monomials) has numerical rank {rank} on these inputs; the fit drops "
                f"{full - rank} directions and can be far off: lower the degree or add data",
                RuntimeWarning, stacklevel=3)
        return coef


def _derivative_weights(zs: np.ndarray, ya: np.ndarray | None) -> np.ndarray:
    """w_j = E[y²]/E[z̃_j²] (d,); E[y²] is replaced by 1 without values or when it is 0, and a
    zero derivative column gets w_j = E[y²]."""
    ez2 = np.mean(zs**2, axis=0)
    scale = float(np.mean(ya**2)) if ya is not None else 1.0
    scale = scale if scale > 0 else 1.0
    return np.where(ez2 > 0, scale / np.where(ez2 > 0, ez2, 1.0), scale)


class RidgePolynomialRegression(_PolyBase):
    """Baseline: polynomial ridge regression on values only, penalty chosen by k-fold CV.

    β = (ΦᵀΦ + ρ m I')⁻¹ Φᵀy (I' leaves the constant unpenalised), ρ from ``penalties`` minimising
    the mean validation MSE over ``cv`` contiguous folds of a seeded shuffle. ``dydx`` passed to
    ``fit`` is ignored (the baseline sees values only).

    Attributes: ``coef_``, ``penalty_`` (chosen ρ), ``cv_mse_`` (len(penalties),).
    """

    _parameter_constraints = {
        "degree": [Interval(Integral, 1, MAX_FEATURES)],
        "penalties": [
            IsNone(),
            Predicate(
                lambda v: np.ndim(v) == 1 and len(v) > 0
                and bool(np.all(np.isfinite(np.asarray(v, dtype=float))))
                and bool(np.all(np.asarray(v, dtype=float) >= 0)),
                "a non-empty 1-D sequence of finite values >= 0",
            ),
        ],
        "cv": [Interval(Integral, 2, None)],
        "seed": [Interval(Integral, 0, None)],
    }

    def __init__(self, degree: int = 5, penalties=None, cv: int = 5, seed: int = 0) -> None:
        self.degree = degree
        self.penalties = penalties
        self.cv = cv
        self.seed = seed

    def fit(self, X: Any, y: Any, dydx: Any | None = None):
        validate_params(type(self).__name__, self.get_params(), self._parameter_constraints)
        Xa, ya, _ = check_xy(X, y, None)
        self._prepare(Xa)
        Xs = (Xa - self.x_mean_) / self.x_std_
        m = len(ya)
        if m < self.cv:
            raise ValueError(f"RidgePolynomialRegression needs at least cv={self.cv} samples.")
        Phi = self.basis_.values(Xs)
        K = Phi.shape[1]
        rhos = (
            np.logspace(-12, 0, 13) if self.penalties is None else np.asarray(self.penalties, float)
        )
        I = np.ones(K)
        I[0] = 0.0
        order = np.random.default_rng(self.seed).permutation(m)
        folds = np.array_split(order, self.cv)
        G_all = Phi.T @ Phi
        r_all = Phi.T @ ya
        mse = np.zeros(len(rhos))
        self._finite(Xs, lambda: G_all)
        for f in folds:
            Pf = Phi[f]
            G = G_all - Pf.T @ Pf
            r = r_all - Pf.T @ ya[f]
            mt = m - len(f)
            for i, rho in enumerate(rhos):
                A = G + np.diag(rho * mt * I)
                beta = _solve_sym(A, r, 1e-14)
                mse[i] += np.mean((Pf @ beta - ya[f]) ** 2) / self.cv
        best = int(np.argmin(mse))
        self.penalty_ = float(rhos[best])
        self.cv_mse_ = mse
        self.coef_ = self._finite(Xs, lambda: _solve_sym(G_all + np.diag(self.penalty_ * m * I),
                                                         r_all, 1e-14))
        self.mode_ = TrainMode.STANDARD
        return self
