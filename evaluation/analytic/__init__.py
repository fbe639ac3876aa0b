"""Closed-form and semi-closed-form reference pricers (NumPy/SciPy only, vectorised).

Public API (see each function's docstring for conventions and shapes):

- :func:`black_scholes`, :func:`black_scholes_greeks` (:class:`BlackScholesGreeks`)
"""

from .black_scholes import BlackScholesGreeks, black_scholes, black_scholes_greeks

__all__ = ["BlackScholesGreeks", "black_scholes", "black_scholes_greeks"]
