"""``payoff_and_gradient`` against the products' NumPy payoffs and central differences."""

import numpy as np
import pytest

from simulators import Leg, NettingSet
from simulators.products.gradient import payoff_and_gradient

COLLAR = NettingSet(legs=[Leg("call", 110.0, 1.0), Leg("put", 90.0, -1.0)], maturity=1.0)
BASKET_FWD = NettingSet(legs=[Leg("forward", 100.0, 1.0, "basket", (0.5, 0.5))], maturity=1.0)
WORST = NettingSet(legs=[Leg("call", 95.0, 1.0, "worst_of"),
                         Leg("put", 100.0, -1.0, "basket", (0.5, 0.5))], maturity=1.0)


@pytest.mark.parametrize("product,d", [(COLLAR, 1), (BASKET_FWD, 2), (WORST, 2)])
def test_values_and_gradients(product, d):
    rng = np.random.default_rng(0)
    s = rng.uniform(60, 140, (500, d))
    h, g = payoff_and_gradient(product, s)
    np.testing.assert_allclose(h, product.payoff(s), rtol=1e-14, atol=1e-12)
    eps = 1e-5
    for j in range(d):
        e = np.zeros(d)
        e[j] = eps
        fd = (product.payoff(s + e) - product.payoff(s - e)) / (2 * eps)
        np.testing.assert_allclose(g[:, j], fd, rtol=1e-6, atol=1e-8)


def test_bad_states_name_the_field():
    with pytest.raises(ValueError, match="'s_t' parameter of payoff_and_gradient"):
        payoff_and_gradient(COLLAR, np.array([[np.nan]]))
