"""Differential PCA (Huge & Savine; docs/methods.md §1): principal axes of the *differentials*.

    C_Z = Zᵀ Z / m   (non-central)   or   (Z − Z̄)ᵀ (Z − Z̄) / m   (central)
    C_Z = P Λ Pᵀ,  λ_1 ≥ λ_2 ≥ ...;   keep P_k (d, k)

k is given (``n_components``) or the smallest k whose cumulative share Σ_{i≤k} λ_i / Σ λ_i ≥ 1 − ε
(``tolerance`` = ε). Directions outside span(P_k) carry (almost) no differential: the price does not
vary along them, so inputs and differentials are reduced to L = X P_k (m, k) and S = Z P_k (m, k).
For one basket option Z = 1{a·S2 > K} a has rank one and P_1 = ±a/|a|.

Use in front of a regressor: fit the regressor on (L, y, S); a gradient g_L (n, k) in the reduced
coordinates maps back by the chain rule as dy/dx = g_L P_kᵀ (:meth:`inverse_transform_gradient`).
:class:`training.dpca.Reduced` wires this up.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np

from ._base import BaseEstimator
from ._validation import (
    InstanceOf,
    Interval,
    IsNone,
    check_X,
    check_xy,
    not_fitted,
    validate_params,
)


class DifferentialPCA(BaseEstimator):
    """Differential PCA.

    Parameters
    ----------
    n_components : int >= 1 or None
        Number of components kept. Exactly one of ``n_components`` and ``tolerance`` is used;
        ``n_components`` wins when both are given.
    tolerance : float in [0, 1), default 1e-8
        ε: keep the smallest k with cumulative share ≥ 1 − ε (used when ``n_components`` is None).
    central : bool, default False
        Subtract the mean differential before forming C_Z. This measures how the differential
        varies, not its size: a direction along which it is constant (the price is linear
        there, e.g. a forward) has no central variance and is dropped, with a RuntimeWarning
        when the mean differential outside the kept axes holds more than 0.1 % (or 10 ε) of
        E|Z|². The default keeps every direction the
        price moves along.

    Attributes: ``components_`` (k, d) rows = P_kᵀ, ``explained_variance_`` (k,),
    ``explained_variance_ratio_`` (k,), ``eigenvalues_`` (d,) all of them, ``n_components_``,
    ``z_mean_`` (d,) (zeros when non-central).
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None), IsNone()],
        "tolerance": [Interval(Real, 0, 1, closed="left")],
        "central": [InstanceOf(bool, "a bool")],
    }

    def __init__(
        self, n_components: int | None = None, tolerance: float = 1e-8, central: bool = False
    ) -> None:
        self.n_components = n_components
        self.tolerance = tolerance
        self.central = central

    def fit(self, X: Any, Z: Any) -> DifferentialPCA:
        """Fit on inputs ``X`` (m, d) and differentials ``Z`` (m, d)."""
        validate_params(type(self).__name__, self.get_params(), self._parameter_constraints)
        if Z is None:
            raise ValueError("DifferentialPCA.fit needs the differentials Z (m, d).")
        Xa, _, Za = check_xy(X, None, Z, require_y=False, dydx_name="Z")
        d = Xa.shape[1]
        if self.n_components is not None and self.n_components > d:
            raise ValueError(
                f"The 'n_components' parameter of DifferentialPCA must be <= {d} (the number of "
                f"inputs). Got {self.n_components!r} instead."
            )
        self.z_mean_ = Za.mean(axis=0) if self.central else np.zeros(d)
        Zc = Za - self.z_mean_
        C = Zc.T @ Zc / len(Zc)
        w, V = np.linalg.eigh(C)
        order = np.argsort(w)[::-1]
        w = np.clip(w[order], 0.0, None)
        V = V[:, order]
        # deterministic signs: largest-magnitude entry of each axis positive
        idx = np.argmax(np.abs(V), axis=0)
        V = V * np.sign(V[idx, np.arange(d)])
        total = float(w.sum())
        if self.n_components is not None:
            k = int(self.n_components)
        elif total == 0.0:
            k = 1
        else:
            share = np.cumsum(w) / total
            k = int(np.searchsorted(share, 1.0 - self.tolerance - 1e-15) + 1)
            k = min(max(k, 1), d)
        if self.central:
            self._warn_if_mean_slope_dropped(Za, V[:, :k])
        self.eigenvalues_ = w
        self.components_ = V[:, :k].T.copy()
        self.explained_variance_ = w[:k].copy()
        self.explained_variance_ratio_ = w[:k] / total if total > 0 else np.zeros(k)
        self.n_components_ = k
        self.n_inputs_ = d
        return self

    def _warn_if_mean_slope_dropped(self, Z: np.ndarray, P: np.ndarray) -> None:
        """RuntimeWarning when the mean differential's part outside the central axes ``P``
        (d, k), |(I − P Pᵀ) Z̄|², exceeds 0.1 % (or 10 ε) of E|Z|²: a direction along which the
        differential is constant (the price is linear there, a forward) has no central
        variance, so ``central=True`` drops it. (Directions dropped for their small variance by
        ``n_components`` or ``tolerance`` are not counted.)"""
        total = float(np.mean(np.sum(Z * Z, axis=1)))
        mean = Z.mean(axis=0)
        resid = mean - P @ (P.T @ mean)
        share = float(resid @ resid) / total if total > 0 else 0.0
        if share > max(1e-3, 10.0 * self.tolerance):
            warnings.warn(
                f"DifferentialPCA(central=True) dropped the mean differential's part outside its "
                f"axes, {share:.3g} of the differentials' mean square: the price's average slope "
                "along those directions (all of it where the differential is constant, as a "
                "forward's) is lost, since the central covariance weighs only how the "
                "differential varies; use central=False to keep it", RuntimeWarning, stacklevel=3)

    def _check(self) -> None:
        if not hasattr(self, "components_"):
            raise not_fitted(type(self).__name__)

    def transform(self, X: Any) -> np.ndarray:
        """L = X P_k, shape (n, k)."""
        self._check()
        return check_X(X, self.n_inputs_) @ self.components_.T

    def transform_gradient(self, Z: Any) -> np.ndarray:
        """S = Z P_k, shape (n, k): differentials with respect to L (exact when Z ∈ span P_k)."""
        self._check()
        return check_X(Z, self.n_inputs_, name="Z") @ self.components_.T

    def fit_transform(self, X: Any, Z: Any) -> tuple[np.ndarray, np.ndarray]:
        self.fit(X, Z)
        return self.transform(X), self.transform_gradient(Z)

    def inverse_transform(self, L: Any) -> np.ndarray:
        """X ≈ L P_kᵀ, shape (n, d) (exact for inputs in span P_k)."""
        self._check()
        return check_X(L, self.n_components_, name="L") @ self.components_

    def inverse_transform_gradient(self, G: Any) -> np.ndarray:
        """dy/dx = G P_kᵀ for a gradient G (n, k) with respect to L (chain rule), shape (n, d)."""
        self._check()
        return check_X(G, self.n_components_, name="G") @ self.components_


class Reduced:
    """A regressor fitted on DPCA-reduced inputs: ``Reduced(DifferentialPCA(...), regressor)``.

    ``fit(X, y, dydx)`` fits the DPCA on (X, dydx) then the regressor on (L, y, S); ``dydx`` is
    required (DPCA needs it) but the regressor may be told to ignore it with ``standard=True``.
    ``predict`` (n,), ``predict_gradient`` (n, d) in the original inputs.
    """

    #: ``learning_curve`` passes dydx in both modes and switches ``standard`` instead.
    needs_dydx = True

    def __init__(self, dpca: DifferentialPCA, regressor: Any, standard: bool = False) -> None:
        self.dpca = dpca
        self.regressor = regressor
        self.standard = standard

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params: dict[str, Any] = {
            "dpca": self.dpca,
            "regressor": self.regressor,
            "standard": self.standard,
        }
        if hasattr(self.regressor, "seed"):
            params["seed"] = self.regressor.seed
        return params

    def clone(self, **overrides: Any) -> Reduced:
        """Unfitted copy; a ``seed`` override goes to the regressor (for learning curves)."""
        reg_over = {"seed": overrides.pop("seed")} if "seed" in overrides else {}
        if overrides:
            raise ValueError(f"Reduced.clone accepts only 'seed'; got {sorted(overrides)}.")
        return Reduced(
            DifferentialPCA(**self.dpca.get_params()),
            self.regressor.clone(**reg_over),
            self.standard,
        )

    def fit(self, X: Any, y: Any, dydx: Any) -> Reduced:
        Xa, ya, za = check_xy(X, y, dydx)
        if za is None:
            raise ValueError("Reduced.fit needs dydx: the differential PCA is fitted on it.")
        L, S = self.dpca.fit_transform(Xa, za)
        self.regressor.fit(L, ya, None if self.standard else S)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self.regressor.predict(self.dpca.transform(X))

    def predict_gradient(self, X: Any) -> np.ndarray:
        return self.dpca.inverse_transform_gradient(
            self.regressor.predict_gradient(self.dpca.transform(X))
        )

    def predict_value_and_gradient(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.predict(X), self.predict_gradient(X)
