"""XVA-adjusted labels: exact e^{-c tau} scaling of one-signed payoffs; refusal otherwise."""

import math

import numpy as np
import pytest

import simulators as sim

XVA = sim.XVA(lambda_b=0.02, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)


def test_spreads_follow_burgard_kjaer():
    # c = (1 - R_C) lambda_C + s_F with s_F = (1 - R_B) lambda_B for a value >= 0
    assert math.isclose(XVA.spread_positive, 0.6 * 0.05 + 0.6 * 0.02, rel_tol=1e-15)
    assert math.isclose(XVA.spread_negative, 0.6 * 0.02, rel_tol=1e-15)
    assert sim.XVA(lambda_b=0.02, funding_spread=0.0).spread_positive == 0.0
    assert math.isclose(XVA.factor(1.0, +1), math.exp(-0.042), rel_tol=1e-15)


@pytest.mark.parametrize("case", ["bs_put", "worst_of_put", "heston_put", "bachelier_call"])
def test_risky_labels_are_the_risk_free_ones_times_the_factor_path_by_path(case):
    if case == "bs_put":
        model, product, state = (sim.BlackScholes(vol=0.25, rate=0.03, dividend=0.01),
                                 sim.European(100.0, 1.0, "put"), [100.0])
    elif case == "worst_of_put":
        model = sim.BlackScholesBasket(vols=[0.25, 0.35], correlation=[[1, 0.5], [0.5, 1]],
                                       rate=0.03)
        product, state = sim.WorstOf(100.0, 0.5, "put"), [100.0, 100.0]
    elif case == "heston_put":
        model = sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.025,
                           steps_per_year=20)
        product, state = sim.European(100.0, 1.0, "put"), [100.0, 0.04]
    else:
        model, product = sim.random_bachelier_basket(3, seed=1)
        state = [1.0, 1.0, 1.0]
    args = (model, product, sim.FixedSampler(state), 2000)
    free = sim.simulate(*args, seed=5)
    risky = sim.simulate(*args, seed=5, xva=XVA)
    factor = math.exp(-XVA.spread_positive * product.maturity)
    np.testing.assert_allclose(risky.y, factor * free.y, rtol=1e-15, atol=0)
    np.testing.assert_allclose(risky.dydx, factor * free.dydx, rtol=1e-15, atol=0)
    assert risky.stats["xva_factor"] == factor


def test_risky_black_scholes_put_matches_reference_number():
    # docs/methods.md: risky put at S = K by the closed form is 8.439938
    s = sim.simulate(sim.BlackScholes(vol=0.25, rate=0.03, dividend=0.01),
                     sim.European(100.0, 1.0, "put"), sim.FixedSampler([100.0]), 400_000,
                     seed=1, antithetic=True, xva=XVA)
    price, se = s.price()
    assert abs(price - 8.439938) < 4 * se


@pytest.mark.parametrize("product", [
    sim.European(1.0, 1.0, "forward"),
    sim.BasketOption([1.0, -1.0], 0.1, 1.0, "forward"),
])
def test_sign_changing_payoff_is_refused_and_points_to_the_pde(product):
    model = (sim.BlackScholes(vol=0.2) if product.dim == 1 else
             sim.BlackScholesBasket(vols=[0.2, 0.2], correlation=np.eye(2)))
    state = [1.0] * product.dim
    with pytest.raises(ValueError, match=r"can change sign.*PDE reference"):
        sim.simulate(model, product, sim.FixedSampler(state), 10, seed=1, xva=XVA)
    # without XVA the same product simulates
    assert sim.simulate(model, product, sim.FixedSampler(state), 10, seed=1).n_paths == 10


def test_a_spread_call_is_one_signed_whatever_its_weights_signs():
    # (S1 - S2 - K)+ >= 0 on every path: the risky value is e^{-c+ tau} times the risk-free one
    product = sim.BasketOption([1.0, -1.0], 0.1, 1.0, "call")
    assert product.sign == 1
    model = sim.BlackScholesBasket(vols=[0.2, 0.3], correlation=np.eye(2))
    free = sim.simulate(model, product, sim.FixedSampler([1.2, 1.0]), 1000, seed=3)
    risky = sim.simulate(model, product, sim.FixedSampler([1.2, 1.0]), 1000, seed=3, xva=XVA)
    assert np.all(free.y >= 0.0) and np.any(free.y > 0.0)
    factor = math.exp(-XVA.spread_positive * product.maturity)
    np.testing.assert_allclose(risky.y, factor * free.y, rtol=1e-15, atol=0)
    np.testing.assert_allclose(risky.dydx, factor * free.dydx, rtol=1e-15, atol=0)
