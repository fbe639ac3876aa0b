"""The pipeline's reference dispatch: analytic and FD references agree, gradients line up with
the simulator's inputs, XVA scaling applies, unsupported pairs are refused."""

import numpy as np
import pytest

import simulators as sim
from pipeline import references as refs
from pipeline.config import EvaluationSet

XVA = sim.XVA(lambda_b=0.02, lambda_c=0.05)


@pytest.mark.parametrize("case", ["bs_put_xva", "worst_of", "basket", "heston"])
def test_analytic_and_fd_agree(case):
    if case == "bs_put_xva":
        model, product, xva = (sim.BlackScholes(vol=0.25, rate=0.03, dividend=0.01),
                               sim.European(100.0, 1.0, "put"), XVA)
        x = np.array([[80.0], [100.0], [125.0]])
    elif case == "worst_of":
        model = sim.BlackScholesBasket(vols=[0.25, 0.35], correlation=[[1, 0.5], [0.5, 1]],
                                       rate=0.03)
        product, xva = sim.WorstOf(100.0, 0.5, "put"), XVA
        x = np.array([[100.0, 100.0], [90.0, 115.0]])
    elif case == "basket":
        model = sim.BlackScholesBasket(vols=[0.25, 0.35], correlation=[[1, 0.5], [0.5, 1]],
                                       rate=0.03)
        product, xva = sim.BasketOption([0.5, 0.5], 100.0, 0.5, "put"), XVA
        x = np.array([[100.0, 100.0], [90.0, 115.0]])
    else:
        model = sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.025)
        product, xva = sim.European(100.0, 1.0, "put"), None
        x = np.array([[100.0, 0.04], [90.0, 0.06]])
    a = refs.analytic(model, product, x, xva)
    f = refs.finite_difference(model, product, x, xva)
    np.testing.assert_allclose(f.price, a.price, rtol=2e-3)
    np.testing.assert_allclose(f.grad, a.grad, rtol=5e-3, atol=2e-3)
    assert a.grad.shape == x.shape


def test_gradient_columns_follow_the_model_inputs():
    model = sim.BlackScholes(vol=0.2, rate=0.01, inputs=("spot", "vol", "rate"))
    x = np.array([[1.0, 0.2, 0.01], [1.2, 0.3, 0.02]])
    ref = refs.analytic(model, sim.European(1.1, 1.0, "call"), x)
    s = sim.simulate(model, sim.European(1.1, 1.0, "call"), sim.FixedSampler(x[1]), 200_000,
                     seed=1, antithetic=True)
    g, se = s.gradient()
    assert np.all(np.abs(g - ref.grad[1]) < 4 * se)  # delta, vega, rho in simulator order


def test_risky_reference_is_scaled():
    model, product = sim.BlackScholes(vol=0.25, rate=0.03), sim.European(100.0, 1.0, "put")
    x = np.array([[100.0]])
    assert np.isclose(refs.analytic(model, product, x, XVA).price[0],
                      XVA.factor(1.0, 1) * refs.analytic(model, product, x).price[0], rtol=1e-14)


def test_unsupported_pairs_are_refused_with_a_pointer():
    model = sim.BlackScholesBasket(vols=[0.2, 0.2, 0.2], correlation=np.eye(3))
    with pytest.raises(refs.NoReference, match="no analytic reference.*'fd' or 'pinn'"):
        refs.analytic(model, sim.WorstOf(1.0, 1.0, "put"), np.ones((2, 3)))
    with pytest.raises(refs.NoReference, match="no FD reference"):
        refs.finite_difference(model, sim.WorstOf(1.0, 1.0, "put"), np.ones((2, 3)))


def test_test_inputs_grid_and_box():
    one = refs.test_inputs(sim.BlackScholes(vol=0.2), EvaluationSet(n=5, low=0.5, high=1.5))
    np.testing.assert_allclose(one[:, 0], [0.5, 0.75, 1.0, 1.25, 1.5])
    model = sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9)
    box = refs.test_inputs(model, EvaluationSet(n=500, low=[60.0, 0.02], high=[150.0, 0.08]))
    assert box.shape == (500, 2)
    assert box[:, 0].min() >= 60 and box[:, 0].max() <= 150
    assert box[:, 1].min() >= 0.02 and box[:, 1].max() <= 0.08
