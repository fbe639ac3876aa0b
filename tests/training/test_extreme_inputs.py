"""Inputs at the edges: constant columns, labels near float64's limits, complex numbers, huge
integers as settings, polynomial degrees whose powers overflow. Each case failed before its fix
(wrong numbers, a traceback, or silence)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training import (
    DifferentialPCA,
    DifferentialPolynomialRegression,
    DifferentialRegressor,
    DifferentialScaler,
    RidgePolynomialRegression,
    learning_curve,
)


def _with_constant_column(c: float, m: int = 400):
    s = np.random.default_rng(0).uniform(0.5, 1.5, m)
    return np.c_[s, np.full(m, c)], s**2, np.c_[2 * s, 0.3 * s]


@pytest.mark.parametrize("c", [0.1, 0.7, 2.0, 1e-300, 3e300])
def test_a_constant_input_column_is_scaled_by_one(c):
    """np.std of a column of 0.1's is 1.4e-17, not 0: it was used as the scale (lambda 1e15)."""
    X, y, z = _with_constant_column(c)
    sc = DifferentialScaler.fit(X, y, z)
    assert sc.x_std[1] == 1.0
    np.testing.assert_allclose(sc.x_std[0], np.std(X[:, 0]), rtol=1e-14)
    # lambda_j = 1/RMS(z_j x_std_j / y_std), computed here from the definition
    np.testing.assert_allclose(sc.lambda_j[1], 1 / np.sqrt(np.mean((z[:, 1] / y.std()) ** 2)),
                               rtol=1e-12)


@pytest.mark.filterwarnings("ignore:DifferentialPolynomialRegression. the degree-3 basis")
def test_polynomial_fit_with_a_constant_column_is_not_blown_up():
    X, y, z = _with_constant_column(0.1)
    p = DifferentialPolynomialRegression(degree=3).fit(X, y, np.c_[z[:, 0], 0 * z[:, 0]])
    q = np.array([[1.2, 0.1], [1.2, 0.1 + 1e-3]])
    np.testing.assert_allclose(p.predict(q), [1.44, 1.44], rtol=1e-9)  # exact: y = s**2


@pytest.mark.parametrize("k", [1.7e308, 2.0**-600])
def test_label_scale_near_float64_limits(k):
    """y = k x: the scale is k std(x) (the squares underflowed to 0 for k = 2**-600, and the
    centred labels overflowed for k = 1.7e308 with both signs)."""
    x = np.random.default_rng(1).uniform(-1, 1, (256, 1))
    x[:2, 0] = (-1.0, 1.0)  # labels of both signs at the limit: their difference overflows
    for to in (np.asarray, torch.as_tensor):  # the host and the tensor (device) paths
        sc = DifferentialScaler.fit(to(x), to(k * x[:, 0]), to(np.full_like(x, k)))
        np.testing.assert_allclose(sc.y_std, k * np.std(x[:, 0]), rtol=1e-13)
        np.testing.assert_allclose(np.asarray(sc.y(to(k * x[:, 0]))),
                                   (x[:, 0] - x.mean()) / x.std(), rtol=1e-12, atol=1e-14)


def test_labels_of_1_7e308_train_and_predict():
    x = np.random.default_rng(0).uniform(-1, 1, (256, 1))
    k = 1.7e308
    m = DifferentialRegressor(epochs=60, seed=0).fit(x, k * x[:, 0], np.full_like(x, k))
    assert abs(m.predict(np.array([[0.5]]))[0] / k - 0.5) < 0.1


@pytest.mark.parametrize("where", ["X", "y", "dydx"])
def test_complex_inputs_are_refused(where):
    X, y, z = _with_constant_column(2.0)
    args = {"X": X, "y": y, "dydx": z}
    args[where] = args[where] + 1j
    for est in (DifferentialPolynomialRegression(degree=2), DifferentialRegressor(epochs=1)):
        with pytest.raises(TypeError, match=f"{where} must hold real numbers; got dtype "
                                            "complex128"):
            est.fit(args["X"], args["y"], args["dydx"])
    if where == "dydx":
        with pytest.raises(TypeError, match="must hold real numbers"):
            DifferentialPCA().fit(X, args["dydx"])


def test_learning_curve_takes_a_one_dimensional_test_gradient():
    """(n,) against (n, 1) broadcast to (n, n): 11 'gradient RMSEs' of about 1.5 for an exact
    fit, whose RMSE is 0."""
    x = np.linspace(-1, 1, 50)[:, None]
    xt = np.linspace(-0.9, 0.9, 11)[:, None]
    train = (x, x[:, 0] ** 3, 3 * x**2)
    curve = learning_curve(DifferentialPolynomialRegression(degree=3), train,
                           (xt, xt[:, 0] ** 3, 3 * xt[:, 0] ** 2), sizes=[50], seeds=[0])
    for p in curve.points:
        assert len(p.gradient_rmse) == 1 and p.gradient_rmse[0] < 1e-12


def test_ridge_degree_whose_powers_overflow_is_one_line():
    X = np.random.default_rng(0).normal(size=(100, 1))
    with pytest.raises(ValueError, match="the degree-400 fit is not finite on these inputs"):
        RidgePolynomialRegression(degree=400).fit(X, X[:, 0] ** 2)


@pytest.mark.parametrize("penalties", [[np.inf], [1e-3, np.nan]])
def test_ridge_penalties_must_be_finite(penalties):
    X = np.random.default_rng(0).normal(size=(50, 1))
    with pytest.raises(ValueError, match="'penalties' parameter of RidgePolynomialRegression "
                                         "must be None or a non-empty 1-D sequence of finite values"):
        RidgePolynomialRegression(degree=2, penalties=penalties).fit(X, X[:, 0])


@pytest.mark.parametrize(("est", "field"), [
    (lambda v: DifferentialRegressor(epochs=v), "epochs"),
    (lambda v: DifferentialRegressor(lam=v), "lam"),
    (lambda v: DifferentialPolynomialRegression(degree=v), "degree"),
])
def test_huge_integer_settings_are_one_line(est, field):
    """float(10**400) raised OverflowError from the range check."""
    X, y, z = _with_constant_column(2.0, 32)
    with pytest.raises(ValueError, match=f"'{field}' parameter .* Got 1000000000.*"
                                         r"\(401 characters\) instead"):
        est(10**400).fit(X, y, z)


def test_cuda_device_needs_an_index():
    X, y, z = _with_constant_column(2.0, 32)
    with pytest.raises(ValueError, match="'device' parameter of DifferentialRegressor must be "
                                         ".*'cuda:<index>'. Got 'cuda:x' instead"):
        DifferentialRegressor(device="cuda:x").fit(X, y, z)
