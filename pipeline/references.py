"""Reference prices and gradients on a scenario's test inputs: analytic formulas or FD solvers.

Gradients are with respect to the model's inputs (the columns of x), in the same order as the
simulator's ``dydx``; XVA scenarios are scaled by e^{-c tau} (one-signed payoffs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import simulators as sim


class NoReference(ValueError):
    """No reference of the requested kind exists for this model and product."""


@dataclass(frozen=True)
class Reference:
    """Reference values on the test set: price (n,), grad (n, d) or None where unknown."""

    method: str
    price: np.ndarray
    grad: np.ndarray | None


def test_inputs(model, test, seed_offset: int = 0) -> np.ndarray:
    """Test inputs (n, d): a grid along the input for 1-D models, else seeded uniform points."""
    d = len(model.inputs)
    low = np.broadcast_to(np.asarray(test.low, dtype=float), (d,))
    high = np.broadcast_to(np.asarray(test.high, dtype=float), (d,))
    if d == 1:
        return np.linspace(low[0], high[0], test.n)[:, None]
    rng = np.random.default_rng(test.seed + seed_offset)
    return low + (high - low) * rng.random((test.n, d))


def _xva_scale(product, xva) -> float:
    return 1.0 if xva is None else xva.factor(product.maturity, product.sign)


def analytic(model, product, x: np.ndarray, xva=None) -> Reference:
    import evaluation.analytic as an

    f = _xva_scale(product, xva)
    if isinstance(model, sim.BlackScholes) and isinstance(product, sim.European):
        cols = model.inputs
        vol = x[:, cols.index("vol")] if "vol" in cols else model.vol
        rate = x[:, cols.index("rate")] if "rate" in cols else model.rate
        g = an.black_scholes_greeks(spot=x[:, 0], strike=product.strike, maturity=product.maturity,
                                    vol=vol, rate=rate, dividend=model.dividend, kind=product.kind)
        by_name = {"spot": g.delta, "vol": g.vega, "rate": g.rho}
        grad = np.column_stack([np.broadcast_to(by_name[c], (len(x),)) for c in cols])
        return Reference("analytic", f * np.asarray(g.price, float), f * grad)
    if isinstance(model, sim.BachelierBasket) and isinstance(product, sim.BasketOption):
        g = an.bachelier_basket_greeks(spots=x, weights=product.weights, vols=model.vols,
                                       correlation=model.correlation, strike=product.strike,
                                       maturity=product.maturity, rate=model.rate,
                                       kind=product.kind)
        return Reference("analytic", f * np.asarray(g.price), f * np.asarray(g.delta))
    if (isinstance(model, sim.BlackScholesBasket) and model.dim == 2 and not model.vol_inputs
            and isinstance(product, (sim.WorstOf, sim.BestOf))):
        fn = an.stulz_min if isinstance(product, sim.WorstOf) else an.stulz_max
        g = fn(spots=x, strike=product.strike, maturity=product.maturity, vols=model.vols,
               rho=model.correlation[0][1], rate=model.rate, dividends=model.dividends,
               kind=product.kind)
        return Reference("analytic", f * np.asarray(g.price), f * np.asarray(g.delta))
    if (isinstance(model, sim.BlackScholesBasket) and model.dim == 2 and not model.vol_inputs
            and isinstance(product, sim.BasketOption) and product.kind in ("call", "put")
            and min(product.weights) > 0.0):
        g = an.arithmetic_basket_2d(spots=x, strike=product.strike, maturity=product.maturity,
                                    vols=model.vols, rho=model.correlation[0][1],
                                    weights=product.weights, rate=model.rate,
                                    dividends=model.dividends, kind=product.kind)
        return Reference("analytic", f * np.asarray(g.price), f * np.asarray(g.delta))
    if (isinstance(model, sim.Heston) and isinstance(product, sim.European)
            and model.inputs == ("spot", "variance")):
        g = an.heston_greeks(spot=x[:, 0], strike=product.strike, maturity=product.maturity,
                             variance=x[:, 1], kappa=model.kappa, theta=model.theta, xi=model.xi,
                             rho=model.rho, rate=model.rate, dividend=model.dividend,
                             kind=product.kind)
        grad = np.column_stack([g.delta, g.vega])
        return Reference("analytic", f * np.asarray(g.price), f * grad)
    raise NoReference(f"no analytic reference for {type(model).__name__} with "
                      f"{type(product).__name__}; use reference.method 'fd' or 'pinn'")


def finite_difference(model, product, x: np.ndarray, xva=None, **grid) -> Reference:
    """PDE reference by evaluation.fd (the non-linear XVA PDE when ``xva`` is given)."""
    import evaluation.fd as fd

    if isinstance(model, sim.BlackScholes) and isinstance(product, sim.European) \
            and model.inputs == ("spot",) and product.kind in ("call", "put"):
        sol = fd.black_scholes_1d(strike=product.strike, maturity=product.maturity, vol=model.vol,
                                  rate=model.rate, dividend=model.dividend, kind=product.kind,
                                  xva=xva, **grid)
        s = x[:, 0]
        return Reference("fd", sol.price(s), np.asarray(sol.delta(s)).reshape(-1, 1))
    if isinstance(model, sim.BlackScholesBasket) and model.dim == 2 and not model.vol_inputs \
            and isinstance(product, (sim.BasketOption, sim.WorstOf)) \
            and product.kind in ("call", "put"):
        style = "arithmetic" if isinstance(product, sim.BasketOption) else "worst_of"
        kwargs = {"weights": product.weights} if style == "arithmetic" else {}
        sol = fd.basket_2d(strike=product.strike, maturity=product.maturity, vols=model.vols,
                           rho=model.correlation[0][1], rate=model.rate,
                           dividends=model.dividends, kind=product.kind, style=style, xva=xva,
                           **kwargs, **grid)
        return Reference("fd", sol.price(x), np.asarray(sol.delta(x)).reshape(len(x), 2))
    if isinstance(model, sim.Heston) and isinstance(product, sim.European) \
            and model.inputs == ("spot", "variance"):
        sol = fd.heston_2d(strike=product.strike, maturity=product.maturity, kappa=model.kappa,
                           theta=model.theta, xi=model.xi, rho=model.rho, rate=model.rate,
                           dividend=model.dividend, kind=product.kind, xva=xva, **grid)
        grad = np.column_stack([np.asarray(sol.delta(x)).ravel(), np.asarray(sol.vega(x)).ravel()])
        return Reference("fd", sol.price(x), grad)
    raise NoReference(f"no FD reference for {type(model).__name__} with "
                      f"{type(product).__name__}")


def compute(method: str, model, product, x: np.ndarray, xva=None, fd_grid: dict | None = None
            ) -> Reference:
    if method == "analytic":
        return analytic(model, product, x, xva)
    if method == "fd":
        return finite_difference(model, product, x, xva, **(fd_grid or {}))
    raise NoReference(f"unknown reference method {method!r}")
