"""Reference prices and gradients on a scenario's test inputs: analytic formulas or FD solvers.

Gradients are with respect to the model's inputs (the columns of x), in the same order as the
simulator's ``dydx``. Which reference applies to which (model, product) pair is decided by the
table in :mod:`pipeline.registry`; this module holds the per-pair callables it points to and the
public entry points :func:`analytic`, :func:`finite_difference` and :func:`compute`.

XVA: analytic references are risk-free closed forms scaled by e^{-c tau}, exact for one-signed
payoffs only (``product.sign`` +1 or -1). A product whose value takes both signs (a forward, a
two-signed :class:`simulators.NettingSet`) has a non-linear risky value: only the PDE references
('fd', 'pinn') give it. A netting set's risk-free closed form is the sum over its legs of
``quantity x`` the single-leg reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import simulators as sim


class NoReference(ValueError):
    """No reference of the requested kind exists for this model and product."""


@dataclass(frozen=True)
class Reference:
    """Reference values on the test set: price (n,), grad (n, d) or None where unknown, and
    (PDE references) gamma, d2V/dspot2: (n,) for one spot axis, (n, 2) (d2V/dS_i^2) for two."""

    method: str
    price: np.ndarray
    grad: np.ndarray | None
    gamma: np.ndarray | None = None


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
    if xva is None:
        return 1.0
    if product.sign == 0:
        what = "netting set" if isinstance(product, sim.NettingSet) else type(product).__name__
        raise NoReference(f"the risky (XVA) value of a two-signed {what} is non-linear and needs "
                          "the PDE references: use reference.method 'fd' or 'pinn'")
    return xva.factor(product.maturity, product.sign)


def _refuse(method: str, model, product, why: str) -> NoReference:
    """NoReference for a pair whose callable does not cover this configuration."""
    from . import registry

    label, rest = registry.missing(method, model, product).split(";", 1)
    return NoReference(f"{label} ({why});{rest}")


# ---------------------------------------------------------------- analytic (risk-free) callables
def analytic_black_scholes(model, product, x: np.ndarray) -> Reference:
    """Black-Scholes European call, put or forward; columns of x follow ``model.inputs``
    ("spot" then any of "vol", "rate"); gradient columns delta, vega, rho accordingly."""
    import evaluation.analytic as an

    cols = model.inputs
    vol = x[:, cols.index("vol")] if "vol" in cols else model.vol
    rate = x[:, cols.index("rate")] if "rate" in cols else model.rate
    g = an.black_scholes_greeks(spot=x[:, 0], strike=product.strike, maturity=product.maturity,
                                vol=vol, rate=rate, dividend=model.dividend, kind=product.kind)
    by_name = {"spot": g.delta, "vol": g.vega, "rate": g.rho}
    grad = np.column_stack([np.broadcast_to(by_name[c], (len(x),)) for c in cols])
    return Reference("analytic", np.broadcast_to(np.asarray(g.price, float), (len(x),)).copy(),
                     grad)


def analytic_bachelier(model, product, x: np.ndarray) -> Reference:
    """Bachelier basket call, put or forward (a European is the basket of weight 1 on 1 asset)."""
    import evaluation.analytic as an

    weights = product.weights if isinstance(product, sim.BasketOption) else (1.0,)
    if len(weights) != model.dim:
        raise _refuse("analytic", model, product, f"{len(weights)} weight(s) for "
                      f"{model.dim} asset(s)")
    g = an.bachelier_basket_greeks(spots=x, weights=weights, vols=model.vols,
                                   correlation=model.correlation, strike=product.strike,
                                   maturity=product.maturity, rate=model.rate,
                                   kind=product.kind)
    return Reference("analytic", np.asarray(g.price), np.asarray(g.delta))


def _two_assets(method: str, model, product, what: str) -> None:
    if model.dim != 2 or model.vol_inputs:
        raise _refuse(method, model, product, f"{what} needs 2 assets without vol inputs")


def analytic_stulz(model, product, x: np.ndarray) -> Reference:
    """Stulz's worst-of / best-of call or put on 2 lognormal assets."""
    import evaluation.analytic as an

    _two_assets("analytic", model, product, "Stulz's formula")
    fn = an.stulz_min if isinstance(product, sim.WorstOf) else an.stulz_max
    g = fn(spots=x, strike=product.strike, maturity=product.maturity, vols=model.vols,
           rho=model.correlation[0][1], rate=model.rate, dividends=model.dividends,
           kind=product.kind)
    return Reference("analytic", np.asarray(g.price), np.asarray(g.delta))


def analytic_arithmetic_basket(model, product, x: np.ndarray) -> Reference:
    """Arithmetic basket call, put or forward on 2 lognormal assets (weights > 0)."""
    import evaluation.analytic as an

    _two_assets("analytic", model, product, "the arithmetic basket formula")
    if min(product.weights) <= 0.0:
        raise _refuse("analytic", model, product, "the basket formula needs weights > 0")
    g = an.arithmetic_basket_2d(spots=x, strike=product.strike, maturity=product.maturity,
                                vols=model.vols, rho=model.correlation[0][1],
                                weights=product.weights, rate=model.rate,
                                dividends=model.dividends, kind=product.kind)
    return Reference("analytic", np.asarray(g.price), np.asarray(g.delta))


def analytic_heston(model, product, x: np.ndarray) -> Reference:
    """Heston European call, put or forward; x columns (spot, variance), gradient (delta, vega)."""
    import evaluation.analytic as an

    if model.inputs != ("spot", "variance"):
        raise _refuse("analytic", model, product, "inputs (spot, variance) only")
    g = an.heston_greeks(spot=x[:, 0], strike=product.strike, maturity=product.maturity,
                         variance=x[:, 1], kappa=model.kappa, theta=model.theta, xi=model.xi,
                         rho=model.rho, rate=model.rate, dividend=model.dividend,
                         kind=product.kind)
    return Reference("analytic", np.asarray(g.price), np.column_stack([g.delta, g.vega]))


def analytic_netting_set(model, product, x: np.ndarray) -> Reference:
    """Risk-free value of a netting set: sum over legs of quantity x the single-leg reference
    (looked up in the registry for the leg's product type; NoReference names a leg without)."""
    from . import registry

    product.check_dim(model.dim)
    price, grad = np.zeros(len(x)), np.zeros((len(x), len(model.inputs)))
    for qty, leg in product.products():
        fn = registry.lookup(model, leg).analytic
        if fn is None:
            raise _refuse("analytic", model, product,
                          registry.missing("analytic", model, leg).split(";")[0] + " leg")
        ref = fn(model, leg, x)
        price = price + qty * np.asarray(ref.price, float)
        grad = grad + qty * np.asarray(ref.grad, float)
    return Reference("analytic", price, grad)


# ---------------------------------------------------------------- FD callables
def _kinks(product) -> list[float]:
    """Spot-level kinks of the payoff: K for asset / worst-of / best-of legs, K / sum(w) for
    basket legs (where the basket crosses its strike on the diagonal S_1 = S_2)."""
    items = ([(leg.strike, leg.weights) for leg in product.legs]
             if isinstance(product, sim.NettingSet)
             else [(product.strike, getattr(product, "weights", None))])
    return [k if w is None or sum(w) <= 0 else k / float(sum(w)) for k, w in items]


def _center_cluster(kinks: list[float], fraction: float) -> tuple[float, float]:
    """Grid centre (the median kink) and sinh width as a fraction of it: ``fraction`` or, when
    the kinks spread wider, half their range, so that every kink lies in the fine region."""
    center = float(np.median(kinks))
    return center, max(fraction, 0.5 * (max(kinks) - min(kinks)) / center)


def _payoff_1d(product):
    return lambda s: product.payoff(np.reshape(s, (-1, 1))).reshape(np.shape(s))


def fd_black_scholes_1d(model, product, x: np.ndarray, xva=None, **grid) -> Reference:
    """Black-Scholes 1-D PDE (Crank-Nicolson + Rannacher): European (call, put, forward) or a
    netting set of asset legs. Payoffs other than a call/put go through ``payoff=``; the grid is
    clustered at the median leg strike and sized by the largest (``strike`` argument)."""
    import evaluation.fd as fd

    if model.inputs != ("spot",):
        raise _refuse("fd", model, product, "inputs ('spot',) only")
    common = dict(maturity=product.maturity, vol=model.vol, rate=model.rate,
                  dividend=model.dividend, xva=xva)
    if isinstance(product, sim.European) and product.kind in ("call", "put"):
        sol = fd.black_scholes_1d(strike=product.strike, kind=product.kind, **common, **grid)
    else:
        center, cluster = _center_cluster(_kinks(product), 0.2)
        opts = {"center": center, "cluster": cluster, **grid}
        sol = fd.black_scholes_1d(strike=max(_kinks(product)), payoff=_payoff_1d(product),
                                  **common, **opts)
    s = x[:, 0]
    return Reference("fd", sol.price(s), np.asarray(sol.delta(s)).reshape(-1, 1),
                     np.asarray(sol.gamma(s)))


def fd_basket_2d(model, product, x: np.ndarray, xva=None, **grid) -> Reference:
    """Two-asset Black-Scholes PDE (HV ADI): basket, worst-of, best-of, or a netting set of any
    legs (``payoff=``; centre the median spot-level kink, domain from the largest)."""
    import evaluation.fd as fd

    _two_assets("fd", model, product, "the 2-D solver")
    common = dict(maturity=product.maturity, vols=model.vols, rho=model.correlation[0][1],
                  rate=model.rate, dividends=model.dividends, xva=xva)
    style = {sim.BasketOption: "arithmetic", sim.WorstOf: "worst_of",
             sim.BestOf: "best_of"}.get(type(product))
    if style is not None and product.kind in ("call", "put"):
        kwargs = {"weights": product.weights} if style == "arithmetic" else {}
        sol = fd.basket_2d(strike=product.strike, kind=product.kind, style=style, **common,
                           **kwargs, **grid)
    else:
        kinks = _kinks(product)
        center, cluster = _center_cluster(kinks, 0.2)
        tau = product.maturity
        highs = tuple(max(kinks) * max(4.0, math.exp(5.0 * s * math.sqrt(tau)))
                      for s in model.vols)

        def pay(s1, s2):
            return product.payoff(np.column_stack([s1.ravel(), s2.ravel()])).reshape(s1.shape)

        opts = {"center": center, "cluster": cluster, "s_max": highs, **grid}
        sol = fd.basket_2d(strike=max(kinks), payoff=pay, **common, **opts)
    hess = np.asarray(sol.gamma(x)).reshape(len(x), 2, 2)
    return Reference("fd", sol.price(x), np.asarray(sol.delta(x)).reshape(len(x), 2),
                     np.column_stack([hess[:, 0, 0], hess[:, 1, 1]]))


def fd_heston_2d(model, product, x: np.ndarray, xva=None, **grid) -> Reference:
    """Heston (S, v) PDE (HV ADI): European (call, put, forward) or a netting set of asset legs
    (``payoff=``; centre the median strike, S_max = 4 x the largest strike by default)."""
    import evaluation.fd as fd

    if model.inputs != ("spot", "variance"):
        raise _refuse("fd", model, product, "inputs (spot, variance) only")
    common = dict(maturity=product.maturity, kappa=model.kappa, theta=model.theta, xi=model.xi,
                  rho=model.rho, rate=model.rate, dividend=model.dividend, xva=xva)
    if isinstance(product, sim.European) and product.kind in ("call", "put"):
        sol = fd.heston_2d(strike=product.strike, kind=product.kind, **common, **grid)
    else:
        kinks = _kinks(product)
        center, cluster = _center_cluster(kinks, 0.1)
        opts = {"center": center, "cluster": cluster, "s_max": 4.0 * max(kinks), **grid}
        sol = fd.heston_2d(strike=max(kinks), payoff=_payoff_1d(product), **common, **opts)
    grad = np.column_stack([np.asarray(sol.delta(x)).ravel(), np.asarray(sol.vega(x)).ravel()])
    return Reference("fd", sol.price(x), grad, np.asarray(sol.gamma(x)).ravel())


# ---------------------------------------------------------------- entry points
def analytic(model, product, x: np.ndarray, xva=None) -> Reference:
    """Closed-form reference on x (n, d): risk-free value times e^{-c tau} under ``xva``
    (one-signed products; NoReference for two-signed ones under an XVA)."""
    from . import registry

    fn = registry.lookup(model, product).analytic
    if fn is None:
        raise NoReference(registry.missing("analytic", model, product))
    f = _xva_scale(product, xva)
    ref = fn(model, product, x)
    return Reference("analytic", f * np.asarray(ref.price, float), f * np.asarray(ref.grad))


def finite_difference(model, product, x: np.ndarray, xva=None, **grid) -> Reference:
    """PDE reference by evaluation.fd (the non-linear XVA PDE when ``xva`` is given)."""
    from . import registry

    fn = registry.lookup(model, product).fd
    if fn is None:
        raise NoReference(registry.missing("fd", model, product))
    return fn(model, product, x, xva, **grid)


def risk_free(method: str, model, product, x: np.ndarray, fd_grid: dict | None = None
              ) -> Reference:
    """Risk-free reference on x: ``method`` ('analytic' or 'fd'); for 'pinn' the closed form
    (a netting set: the sum of its legs) where one exists, else the FD without XVA."""
    if method != "pinn":
        return compute(method, model, product, x, None, fd_grid)
    try:
        return analytic(model, product, x)
    except NoReference:
        return finite_difference(model, product, x, **(fd_grid or {}))


def compute(method: str, model, product, x: np.ndarray, xva=None, fd_grid: dict | None = None
            ) -> Reference:
    """Reference by 'analytic' or 'fd' (the 'pinn' reference is trained: pipeline.pinn_step)."""
    if method == "analytic":
        return analytic(model, product, x, xva)
    if method == "fd":
        return finite_difference(model, product, x, xva, **(fd_grid or {}))
    raise NoReference(f"unknown reference method {method!r}")
