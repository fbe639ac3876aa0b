"""The estimator base: one R² (sklearn convention), parameters, clone and repr for every estimator."""

import numpy as np
import pytest

from training import (
    DifferentialPCA,
    DifferentialPolynomialRegression,
    DifferentialRegressor,
    RidgePolynomialRegression,
)
from training._base import BaseEstimator, BaseRegressor, r2_score

CASES = [
    # (y, prediction, R² by hand)
    ([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], 1.0 - 1.0 / 2.0),  # SS_res = 1, SS_tot = 2
    ([0.0, 4.0], [1.0, 3.0], 1.0 - 2.0 / 8.0),  # SS_res = 2, SS_tot = 8
    ([2.0, 2.0, 2.0], [2.0, 2.0, 2.0], 1.0),  # constant target, perfect fit
    ([2.0, 2.0, 2.0], [2.0, 2.0, 2.5], 0.0),  # constant target, any miss
]


@pytest.mark.parametrize(("y", "p", "expected"), CASES)
def test_r2_by_hand(y, p, expected):
    assert r2_score(np.array(y), np.array(p)) == expected


@pytest.mark.parametrize(("y", "p", "expected"), CASES)
def test_r2_equals_sklearn(y, p, expected):
    from sklearn import metrics  # a dev dependency: this oracle must not skip

    assert r2_score(np.array(y), np.array(p)) == pytest.approx(metrics.r2_score(y, p), abs=1e-15)


def test_regressor_and_polynomial_share_one_score():
    assert DifferentialRegressor.score is BaseRegressor.score
    assert DifferentialPolynomialRegression.score is BaseRegressor.score
    assert RidgePolynomialRegression.score is BaseRegressor.score


def test_polynomial_score_on_a_constant_target():
    """Zero targets are fitted exactly (zero coefficients): R² is 1, not 0 as it used to be; any
    other constant target scores 0."""
    X = np.random.default_rng(0).normal(size=(40, 2))
    m = DifferentialPolynomialRegression(degree=2).fit(X, np.zeros(40))
    np.testing.assert_array_equal(m.predict(X), 0.0)
    assert m.score(X, np.zeros(40)) == 1.0
    assert m.score(X, np.ones(40)) == 0.0


def test_polynomial_gradient_score():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2))
    y, z = X[:, 0] ** 2 + X[:, 1], np.column_stack([2 * X[:, 0], np.ones(60)])
    m = DifferentialPolynomialRegression(degree=2).fit(X, y, z)
    assert m.score(X, y) == pytest.approx(1.0, abs=1e-12)
    assert m.score(X, y, z) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("est", "text"),
    [
        (DifferentialRegressor(epochs=3, dtype="float32"),
         "DifferentialRegressor(epochs=3, dtype='float32')"),
        (DifferentialPolynomialRegression(degree=3), "DifferentialPolynomialRegression(degree=3)"),
        (RidgePolynomialRegression(penalties=np.array([0.0, 1.0])),
         "RidgePolynomialRegression(penalties=array([0., 1.]))"),
        (DifferentialPCA(), "DifferentialPCA()"),
    ],
)
def test_params_clone_and_repr(est, text):
    assert isinstance(est, BaseEstimator)
    assert repr(est) == text
    params = est.get_params()
    twin = est.clone()
    assert type(twin) is type(est) and twin is not est
    assert repr(twin) == repr(est) and list(twin.get_params()) == list(params)
    name = next(iter(params))
    assert est.clone().set_params(**{name: params[name]}).get_params()[name] is params[name]
    with pytest.raises(ValueError, match=f"Invalid parameter 'nope' for {type(est).__name__}"):
        est.set_params(nope=1)
