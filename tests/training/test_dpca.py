"""Differential PCA on baskets: the differentials span the basket weights."""

import warnings

import numpy as np
import pytest

from training import DifferentialPCA, DifferentialPolynomialRegression, Reduced


def basket_differentials(weights, strikes, m=4000, n=10, seed=0):
    """Sum of basket calls Σ_k (a_k·x − K_k)+: X (m, n), y (m,), Z = Σ_k 1{a_k·x > K_k} a_k."""
    rng = np.random.default_rng(seed)
    X = rng.normal(1.0, 0.3, size=(m, n))
    y = np.zeros(m)
    Z = np.zeros((m, n))
    for a, k in zip(weights, strikes, strict=True):
        b = X @ a
        y += np.maximum(b - k, 0.0)
        Z += (b > k)[:, None] * a[None, :]
    return X, y, Z


@pytest.mark.parametrize("central", [False, True])
def test_single_basket_one_component_equal_to_normalised_weights(central):
    rng = np.random.default_rng(2)
    a = rng.uniform(1, 10, size=10)
    a /= a.sum()
    X, _, Z = basket_differentials([a], [1.0])
    p = DifferentialPCA(central=central).fit(X, Z)
    assert p.n_components_ == 1
    u = p.components_[0]
    np.testing.assert_allclose(np.abs(u @ a) / np.linalg.norm(a), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(u), np.abs(a) / np.linalg.norm(a), atol=1e-12)
    np.testing.assert_allclose(p.explained_variance_ratio_, [1.0], atol=1e-12)


def test_three_baskets_three_components_spanning_weights():
    rng = np.random.default_rng(3)
    W = [rng.uniform(0, 1, size=10) for _ in range(3)]
    X, _, Z = basket_differentials(W, [5.0, 3.0, 4.0], m=6000)
    p = DifferentialPCA(tolerance=1e-10).fit(X, Z)
    assert p.n_components_ == 3
    P = p.components_.T  # (n, 3), orthonormal
    np.testing.assert_allclose(P.T @ P, np.eye(3), atol=1e-12)
    for a in W:
        residual = a - P @ (P.T @ a)
        assert np.linalg.norm(residual) < 1e-10 * np.linalg.norm(a)
    assert p.eigenvalues_[3:].max() < 1e-12 * p.eigenvalues_[0]


def test_selection_by_count_and_roundtrip():
    rng = np.random.default_rng(4)
    W = [rng.uniform(0, 1, size=6) for _ in range(3)]
    X, _, Z = basket_differentials(W, [2.0, 1.5, 2.0], n=6)
    p = DifferentialPCA(n_components=2).fit(X, Z)
    assert p.components_.shape == (2, 6)
    L = p.transform(X)
    assert L.shape == (len(X), 2)
    # inverse_transform is the orthogonal projection onto span(P_k): idempotent
    Xp = p.inverse_transform(L)
    np.testing.assert_allclose(p.transform(Xp), L, atol=1e-12)


def test_reduced_regression_gradient_along_weights():
    """In front of a regressor: fit on L = X P_1, map gradients back; they are multiples of a."""
    rng = np.random.default_rng(6)
    a = rng.uniform(1, 10, size=8)
    a /= a.sum()
    X, y, Z = basket_differentials([a], [1.0], n=8)
    model = Reduced(DifferentialPCA(), DifferentialPolynomialRegression(degree=5)).fit(X, y, Z)
    assert model.dpca.n_components_ == 1
    g = model.predict_gradient(X[:50])
    cross = g - np.outer(g @ a / (a @ a), a)
    assert np.abs(cross).max() < 1e-12
    assert model.predict(X[:50]).shape == (50,)


def test_bad_parameters():
    X = np.zeros((5, 3))
    with pytest.raises(ValueError, match="The 'tolerance' parameter of DifferentialPCA must be"):
        DifferentialPCA(tolerance=-1).fit(X, X)
    with pytest.raises(ValueError, match="n_components"):
        DifferentialPCA(n_components=4).fit(X, X)
    with pytest.raises(RuntimeError, match="not fitted"):
        DifferentialPCA().transform(X)


def test_reduced_in_learning_curve():
    from training import learning_curve

    rng = np.random.default_rng(7)
    a = rng.uniform(1, 10, size=5)
    a /= a.sum()
    X, y, Z = basket_differentials([a], [1.0], m=600, n=5)
    Xt, yt, Zt = basket_differentials([a], [1.0], m=200, n=5, seed=1)
    model = Reduced(DifferentialPCA(n_components=1), DifferentialPolynomialRegression(degree=3))
    curve = learning_curve(
        model, (X, y, Z), (Xt, yt, Zt), sizes=[600], modes=["differential"], seeds=[0]
    )
    assert len(curve.points) == 1 and np.isfinite(curve.points[0].value_rmse)


def test_central_warns_when_it_drops_a_direction_of_constant_differential():
    """A call on one basket plus a forward on another: Z = 1{a·x > 1} a + b. The central
    covariance sees only a (b is constant), so central=True keeps one axis and the price's
    linear part along b is lost; it says so. The default keeps both."""
    rng = np.random.default_rng(4)
    a, b = rng.uniform(0, 1, size=4), np.array([1.0, -1.0, 0.5, 0.0])
    X, _, Z = basket_differentials([a], [1.0], m=3000, n=4)
    Z = Z + b
    assert DifferentialPCA().fit(X, Z).n_components_ == 2
    with pytest.warns(RuntimeWarning, match=r"central=True\) dropped the mean differential"):
        p = DifferentialPCA(central=True).fit(X, Z)
    assert p.n_components_ == 1
    # differentials that vary in every direction, with no mean slope along the directions
    # n_components drops: no warning
    W = np.column_stack([np.sin(X[:, 0]), 0.2 * (X[:, 1] - X[:, 1].mean()),
                         0.01 * (X[:, 2] - X[:, 2].mean()), np.zeros(len(X))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DifferentialPCA(n_components=1, central=True).fit(X, W)


def test_messages_name_the_argument_given():
    X, _, Z = basket_differentials([np.ones(3) / 3], [1.0], m=50, n=3)
    p = DifferentialPCA(n_components=2).fit(X, Z)
    with pytest.raises(ValueError, match=r"^Z must have shape \(n_samples, 3\)"):
        p.transform_gradient(Z[:, :2])
    with pytest.raises(ValueError, match=r"^L must have shape \(n_samples, 2\)"):
        p.inverse_transform(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"^G contains NaN"):
        p.inverse_transform_gradient(np.full((1, 2), np.nan))
    with pytest.raises(ValueError, match=r"^Z contains NaN"):
        DifferentialPCA().fit(X, np.where(Z > 0, np.nan, Z))
