"""Closed-form and semi-closed-form reference pricers (NumPy/SciPy only, vectorised).

Argument convention (shared with ``simulators``, ``evaluation.fd`` and ``training.pinn``; see
docs/pricers.md): the state is positional (``spot``, or ``spots`` for baskets, or ``spot,
variance`` for Heston); everything else is keyword-only, the product first (``strike``,
``maturity``, ``kind``, default ``"call"``), then the model's parameters in the order of its
``simulators`` class (Black-Scholes ``vol, rate, dividend``; Heston ``kappa, theta, xi, rho, rate,
dividend``; two lognormal assets ``vols, rho, rate, dividends``; Bachelier ``vols, correlation,
rate``), then the rest (``weights``, numerical settings).

Conventions: ``maturity`` is the time to maturity tau in years; rates are continuously compounded;
``dividend``/``dividends`` are continuous yields; ``kind`` is ``"call"`` or ``"put"``, and also
``"forward"`` (payoff u - K, of either sign) for :func:`black_scholes`, :func:`bachelier_basket`,
:func:`arithmetic_basket_2d` and :func:`heston` (not for Stulz's worst-of/best-of). Every pricer
validates its arguments and raises ``ValueError`` naming the argument, the allowed range and the
value received.

- :func:`black_scholes`, :func:`black_scholes_greeks` -> :class:`BlackScholesGreeks`
  (price, delta, gamma, vega, theta, rho).
- :func:`bachelier_basket`, :func:`bachelier_basket_greeks` -> :class:`BasketGreeks`
  (price (n,), delta (n, d)): normal-model basket option.
- :func:`stulz_min`, :func:`stulz_max` -> :class:`BasketGreeks`: two-asset worst-of / best-of.
- :func:`arithmetic_basket_2d` -> :class:`BasketGreeks`: two-asset lognormal arithmetic basket.
- :func:`heston`, :func:`heston_greeks` -> :class:`HestonGreeks` (price, delta, vega = d/dv0, gamma,
  vanna, volga); :func:`heston_cf_terms`: its characteristic-function terms.
- :func:`forward_exposure`: EPE and ENE of a Black-Scholes forward (closed form).
- :func:`xva_factor`: e^{-c tau}, risky / risk-free value of a one-signed payoff.
- :func:`bivariate_normal_cdf`: M(a, b; rho) (Genz / Drezner-Wesolowsky).
"""

from ._bivariate import bivariate_normal_cdf
from ._results import BasketGreeks
from .bachelier import bachelier_basket, bachelier_basket_greeks
from .basket import arithmetic_basket_2d
from .black_scholes import BlackScholesGreeks, black_scholes, black_scholes_greeks
from .exposure import forward_exposure
from .heston import HestonGreeks, heston, heston_cf_terms, heston_greeks
from .stulz import stulz_max, stulz_min
from .xva import xva_factor

__all__ = [
    "arithmetic_basket_2d",
    "BasketGreeks",
    "BlackScholesGreeks",
    "HestonGreeks",
    "bachelier_basket",
    "bachelier_basket_greeks",
    "bivariate_normal_cdf",
    "black_scholes",
    "black_scholes_greeks",
    "forward_exposure",
    "heston",
    "heston_cf_terms",
    "heston_greeks",
    "stulz_max",
    "stulz_min",
    "xva_factor",
]
