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
