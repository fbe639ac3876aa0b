"""learning_curve: grid of fits, RMSE against references, JSON-ready result."""

import json

import numpy as np
import pytest

from tests.training import problems as pb
from training import DifferentialPolynomialRegression, DifferentialRegressor, learning_curve


def test_learning_curve_polynomial_on_basket():
    basket = pb.random_basket(3, seed=2)
    train = pb.basket_training(basket, 4000, seed=0)
    test = pb.basket_test(basket, 500, seed=1)
    curve = learning_curve(
        DifferentialPolynomialRegression(degree=4),
        train,
        test,
        sizes=[200, 2000],
        seeds=[0, 1],
    )
    assert len(curve.points) == 2 * 2 * 2
    p = curve.points[0]
    assert len(p.gradient_rmse) == 3 and p.value_rmse > 0
    # oracle check of one point: refit by hand and recompute the RMSE
    rng = np.random.default_rng(p.seed)
    idx = np.sort(rng.choice(4000, size=p.size, replace=False))
    X, y, z = (a[idx] for a in train)
    m = DifferentialPolynomialRegression(degree=4).fit(
        X, y, z if p.mode == "differential" else None
    )
    np.testing.assert_allclose(p.value_rmse, np.sqrt(np.mean((m.predict(test[0]) - test[1]) ** 2)))
    summary = {(r["size"], r["mode"]): r for r in curve.summary()}
    # differentials help most with little data
    assert (
        summary[(200, "differential")]["value_rmse_mean"]
        < summary[(200, "standard")]["value_rmse_mean"]
    )
    d = json.loads(json.dumps(curve.to_dict()))
    assert len(d["points"]) == 8 and len(d["summary"]) == 4
    assert "size" in curve.table()


def test_learning_curve_regressor_with_generator_and_seeds():
    def gen(m, seed):
        return pb.bs_training(m, seed=seed)

    curve = learning_curve(
        DifferentialRegressor(epochs=2, hidden_units=4),
        gen,
        pb.bs_test(),
        sizes=[256],
        modes=["differential"],
        seeds=[3, 4],
    )
    assert [p.seed for p in curve.points] == [3, 4]
    assert all(np.isfinite(p.value_rmse) for p in curve.points)


def test_bad_mode():
    with pytest.raises(ValueError, match="The 'modes' parameter of learning_curve"):
        learning_curve(
            DifferentialPolynomialRegression(),
            pb.bs_training(10, 0),
            pb.bs_test(),
            sizes=[10],
            modes=["twin"],
        )


def test_learning_curve_of_a_reduced_model_in_both_modes_and_on_pandas_data():
    """A Reduced model always fits its differential PCA on dydx; the standard mode is its
    regressor's (fitted on values). Pandas frames are subset by row position."""
    import pandas as pd

    from training import DifferentialPCA, Reduced

    basket = pb.random_basket(3, seed=2)
    X, y, z = pb.basket_training(basket, 1000, seed=0)
    test = pb.basket_test(basket, 200, seed=1)
    model = Reduced(DifferentialPCA(n_components=1), DifferentialPolynomialRegression(degree=3))
    curve = learning_curve(model, (X, y, z), test, sizes=[100], seeds=[0])
    by_mode = {p.mode: p for p in curve.points}
    assert set(by_mode) == {"standard", "differential"}
    idx = np.sort(np.random.default_rng(0).choice(1000, size=100, replace=False))
    for mode, standard in (("standard", True), ("differential", False)):
        by_hand = Reduced(DifferentialPCA(n_components=1),
                          DifferentialPolynomialRegression(degree=3), standard=standard)
        by_hand.fit(X[idx], y[idx], z[idx])
        np.testing.assert_allclose(
            by_mode[mode].value_rmse,
            np.sqrt(np.mean((by_hand.predict(test[0]) - test[1]) ** 2)), rtol=1e-12)
    frame = (pd.DataFrame(X), pd.Series(y), pd.DataFrame(z))
    on_pandas = learning_curve(DifferentialPolynomialRegression(degree=2), frame, test,
                               sizes=[100], seeds=[0], modes=["differential"])
    on_numpy = learning_curve(DifferentialPolynomialRegression(degree=2), (X, y, z), test,
                              sizes=[100], seeds=[0], modes=["differential"])
    assert on_pandas.points[0].value_rmse == on_numpy.points[0].value_rmse


def test_polynomial_predictions_that_overflow_are_refused_in_one_line():
    X = np.linspace(0.0, 1.0, 50)[:, None]
    m = DifferentialPolynomialRegression(degree=5).fit(X, X[:, 0] ** 2, 2 * X)
    with pytest.raises(FloatingPointError, match=r"predict: the degree-5 polynomial is not "
                                                 r"finite at these inputs"):
        m.predict(np.array([[1e70], [-1e70]]))
    with pytest.raises(FloatingPointError, match=r"predict_gradient: the degree-5"):
        m.predict_gradient(np.array([[1e100]]))
