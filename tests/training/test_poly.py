"""Differential polynomial regression and the ridge baseline, against hand-written polynomials."""

import numpy as np
import pytest

from training import DifferentialPolynomialRegression, RidgePolynomialRegression


def cubic(X):
    """f(x) = 0.7 + 2 x0 − x1 x2 + 0.5 x0³ + x1² x2 − 0.3 x2², with its gradient written by hand."""
    x0, x1, x2 = X.T
    f = 0.7 + 2 * x0 - x1 * x2 + 0.5 * x0**3 + x1**2 * x2 - 0.3 * x2**2
    g = np.column_stack([2 + 1.5 * x0**2, -x2 + 2 * x1 * x2, -x1 + x1**2 - 0.6 * x2])
    return f, g


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(1.0, 2.0, size=(300, 3))
    Xt = rng.uniform(-3, 4, size=(200, 3))
    return X, Xt


@pytest.mark.parametrize("solver", ["eigh", "lstsq"])
@pytest.mark.parametrize("degree", [3, 4])
def test_recovers_polynomial_from_values_and_derivatives(data, solver, degree):
    X, Xt = data
    y, z = cubic(X)
    m = DifferentialPolynomialRegression(degree=degree, solver=solver).fit(X, y, z)
    ft, gt = cubic(Xt)
    scale = np.abs(ft).max()
    np.testing.assert_allclose(m.predict(Xt), ft, rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(m.predict_gradient(Xt), gt, rtol=0, atol=1e-8 * np.abs(gt).max())
    assert m.mode_ == "differential"


def test_recovers_polynomial_from_derivatives_alone_up_to_constant(data):
    X, Xt = data
    _, z = cubic(X)
    m = DifferentialPolynomialRegression(degree=3).fit(X, None, z)
    ft, gt = cubic(Xt)
    diff = m.predict(Xt) - ft
    assert np.ptp(diff) < 1e-8 * np.abs(ft).max()  # constant offset only
    np.testing.assert_allclose(m.predict_gradient(Xt), gt, rtol=0, atol=1e-8 * np.abs(gt).max())


def test_derivatives_determine_more_than_values_with_few_points():
    """With fewer points than basis functions values alone are underdetermined; differentials
    (d + 1 equations per point) pin the polynomial down."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 3))  # degree-3 basis in 3 inputs has 20 terms
    y, z = cubic(X)
    Xt = rng.normal(size=(50, 3))
    ft, _ = cubic(Xt)
    diff_err = np.abs(DifferentialPolynomialRegression(3).fit(X, y, z).predict(Xt) - ft).max()
    with pytest.warns(RuntimeWarning, match="numerical rank 12"):  # 12 points, 20 monomials
        std = DifferentialPolynomialRegression(3).fit(X, y)
    std_err = np.abs(std.predict(Xt) - ft).max()
    assert diff_err < 1e-7 * np.abs(ft).max()
    assert std_err > 1e-2


def test_weights_follow_methods_formula(data):
    """w_j = E[y²]/E[z_j²] in original units (standardisation is invisible)."""
    X, _ = data
    y, z = cubic(X)
    m = DifferentialPolynomialRegression(3).fit(X, y, z)
    w_orig = np.mean(y**2) / np.mean(z**2, axis=0)
    # weights_ are on standardised derivatives z̃_j = σ_j z_j
    np.testing.assert_allclose(m.weights_ * X.std(axis=0) ** 2, w_orig, rtol=1e-12)


def test_ridge_cv_recovers_noiseless_polynomial_and_regularises_noise(data):
    X, Xt = data
    y, _ = cubic(X)
    ft, gt = cubic(Xt)
    m = RidgePolynomialRegression(degree=3).fit(X, y)
    assert m.penalty_ <= 1e-8
    np.testing.assert_allclose(m.predict(Xt), ft, atol=1e-5 * np.abs(ft).max())
    rng = np.random.default_rng(5)
    Xs = rng.uniform(-1, 1, size=(60, 3))
    ys = cubic(Xs)[0] + rng.normal(0, 3.0, size=60)
    noisy = RidgePolynomialRegression(degree=5).fit(Xs, ys)
    assert noisy.penalty_ > 1e-8
    assert len(noisy.cv_mse_) == 13


def test_bad_inputs():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="must have the shape of X"):
        DifferentialPolynomialRegression().fit(X, np.zeros(10), np.zeros((10, 3)))
    msg = (r"The 'degree' parameter of DifferentialPolynomialRegression must be an integer in "
           r"\[1, 20000\]")
    with pytest.raises(ValueError, match=msg):
        DifferentialPolynomialRegression(degree=0).fit(X, np.zeros(10))
    with pytest.raises(RuntimeError, match="not fitted"):
        DifferentialPolynomialRegression().predict(X)
    with pytest.raises(ValueError, match="terms"):
        DifferentialPolynomialRegression(degree=5).fit(np.zeros((10, 50)), np.zeros(10))


def test_high_degree_stays_accurate_or_warns():
    """Black-Scholes call (K 1.10, T 1, vol 0.2) from 4096 simulated paths against the closed
    form on S in [0.6, 1.5]: degree 12 by the default solver is as accurate as degree 5 (the
    normal equations, too ill-conditioned there, fall back to the stacked least squares); degree
    20 is numerically rank-deficient on these inputs and says so."""
    import simulators as sim
    from evaluation.analytic import black_scholes

    s = sim.simulate(sim.BlackScholes(vol=0.2), sim.European(strike=1.1, maturity=1.0, kind="call"),
                     sim.ForwardSampler(spot=1.0, horizon=1.0, vol_mult=1.5), 4096, seed=7)
    x = np.linspace(0.6, 1.5, 50)
    ref = black_scholes(x, strike=1.1, maturity=1.0, vol=0.2)
    low = DifferentialPolynomialRegression(degree=5).fit(s.x, s.y, s.dydx)
    high = DifferentialPolynomialRegression(degree=12).fit(s.x, s.y, s.dydx)
    assert low.solver_ == "eigh" and high.solver_ == "lstsq"
    err5 = np.abs(low.predict(x[:, None]) - ref).max()
    err12 = np.abs(high.predict(x[:, None]) - ref).max()
    assert err5 < 0.01 and err12 < 1.5 * err5, (err5, err12)
    with pytest.warns(RuntimeWarning, match="numerical rank"):
        DifferentialPolynomialRegression(degree=20).fit(s.x, s.y, s.dydx)
