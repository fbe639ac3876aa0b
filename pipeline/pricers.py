"""The per-pair reference callables that :mod:`pipeline.registry` points to: closed forms
(risk-free) and FD solvers on a scenario's test inputs.

Gradients are with respect to the model's inputs (the columns of x), in the same order as the
simulator's ``dydx``. A callable raises :class:`Unsupported` for a configuration of the right
types that it does not cover (e.g. Stulz's formula for 3 assets); the entry points of
:mod:`pipeline.references` turn that into a :class:`NoReference` naming the methods that exist.
"""

from __future__ import annotations

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


def _xva_scale(model, product, xva) -> float:
    if xva is None:
        return 1.0
    sign = sim.payoff_sign(product, model)
    if sign == 0:
        what = "netting set" if isinstance(product, sim.NettingSet) else type(product).__name__
        raise NoReference(f"the risky (XVA) value of a two-signed {what} is non-linear and needs "
                          "the PDE references: use reference.method 'fd' or 'pinn'")
    return xva.factor(product.maturity, sign)


class Unsupported(NoReference):
    """A callable of the registry does not cover this configuration of its (model, product)
    types; ``method`` is 'analytic' or 'fd' and ``why`` says what it covers."""

    def __init__(self, method: str, why: str) -> None:
        super().__init__(f"{method} reference: {why}")
        self.method, self.why = method, why


def _refuse(method: str, model, product, why: str) -> Unsupported:
    """Unsupported for a pair whose callable does not cover this configuration."""
    return Unsupported(method, why)


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


# ---------------------------------------------------------------- FD callables
def plain_two_asset_option(product) -> bool:
    """A basket, worst-of or best-of call or put: what ``fd_basket_2d`` prices by the
    solver's own ``kind`` and ``style`` (anything else goes through ``payoff=``, on a box
    sized by its largest kink)."""
    return (isinstance(product, (sim.BasketOption, sim.WorstOf, sim.BestOf))
            and product.kind in ("call", "put"))


def one_leg_netting(product):
    """A ``European`` or ``BasketOption`` as the one-leg netting set it is (a forward of them
    included); any other product unchanged."""
    if isinstance(product, sim.European):
        leg = sim.Leg(kind=product.kind, strike=product.strike)
    elif isinstance(product, sim.BasketOption):
        leg = sim.Leg(kind=product.kind, strike=product.strike, underlying="basket",
                      weights=tuple(product.weights))
    else:
        return product
    return sim.NettingSet(legs=(leg,), maturity=product.maturity)


def spot_kinks(product) -> list[float]:
    """Spot-level kinks of the payoff: K for asset / worst-of / best-of legs, K / sum(w) for
    basket legs (where the basket crosses its strike on the diagonal S_1 = S_2)."""
    items = ([(leg.strike, leg.weights) for leg in product.legs]
             if isinstance(product, sim.NettingSet)
             else [(product.strike, getattr(product, "weights", None))])
    return [k if w is None or sum(w) <= 0 else k / float(sum(w)) for k, w in items]


def _center_cluster(kinks: list[float], fraction: float) -> tuple[float, float]:
    """Grid centre (the median kink) and sinh width as a fraction of it: ``fraction`` (the
    solver's ``cluster="auto"`` width, narrower when vol sqrt(T) is small) or, when the kinks
    spread wider, half their range, so that every kink lies in the fine region."""
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
        center, cluster = _center_cluster(
            spot_kinks(product), fd.auto_cluster_1d(model.vol, product.maturity))
        opts = {"center": center, "cluster": cluster, **grid}
        sol = fd.black_scholes_1d(strike=max(spot_kinks(product)), payoff=_payoff_1d(product),
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
    if plain_two_asset_option(product):
        kwargs = {"weights": product.weights} if style == "arithmetic" else {}
        sol = fd.basket_2d(strike=product.strike, kind=product.kind, style=style, **common,
                           **kwargs, **grid)
    else:
        kinks = spot_kinks(product)
        tau = product.maturity
        center, cluster = _center_cluster(kinks, fd.auto_cluster_basket(model.vols, tau))
        divs = model.dividends or (0.0,) * len(model.vols)
        highs = tuple(fd.lognormal_s_max(max(kinks), s, tau, model.rate - q)
                      for s, q in zip(model.vols, divs, strict=True))
        for leg in product.legs if isinstance(product, sim.NettingSet) else ():
            if leg.underlying == "basket":  # the leg's kink clear of the far faces
                highs = tuple(max(h, r) for h, r in
                              zip(highs, fd.basket_reach(leg.strike, leg.weights), strict=True))

        def pay(s1, s2):
            return product.payoff(np.column_stack([s1.ravel(), s2.ravel()])).reshape(s1.shape)

        opts = {"center": center, "cluster": cluster, "s_max": highs, **grid}
        sol = fd.basket_2d(strike=max(kinks), payoff=pay, **common, **opts)
    hess = np.asarray(sol.gamma(x)).reshape(len(x), 2, 2)
    return Reference("fd", sol.price(x), np.asarray(sol.delta(x)).reshape(len(x), 2),
                     np.column_stack([hess[:, 0, 0], hess[:, 1, 1]]))


def fd_heston_2d(model, product, x: np.ndarray, xva=None, **grid) -> Reference:
    """Heston (S, v) PDE (HV ADI): European (call, put, forward) or a netting set of asset legs
    (``payoff=``; centre the median strike, S_max = ``fd.heston_s_max`` of the largest strike by
    default)."""
    import evaluation.fd as fd

    if model.inputs != ("spot", "variance"):
        raise _refuse("fd", model, product, "inputs (spot, variance) only")
    common = dict(maturity=product.maturity, kappa=model.kappa, theta=model.theta, xi=model.xi,
                  rho=model.rho, rate=model.rate, dividend=model.dividend, xva=xva)
    if isinstance(product, sim.European) and product.kind in ("call", "put"):
        sol = fd.heston_2d(strike=product.strike, kind=product.kind, **common, **grid)
    else:
        kinks = spot_kinks(product)
        center, cluster = _center_cluster(
            kinks, fd.auto_cluster_heston(model.theta, product.maturity))
        opts = {"center": center, "cluster": cluster,
                "s_max": fd.heston_s_max(max(kinks), model.theta, product.maturity,
                                         model.rate - model.dividend), **grid}
        sol = fd.heston_2d(strike=max(kinks), payoff=_payoff_1d(product), **common, **opts)
    grad = np.column_stack([np.asarray(sol.delta(x)).ravel(), np.asarray(sol.vega(x)).ravel()])
    return Reference("fd", sol.price(x), grad, np.asarray(sol.gamma(x)).ravel())
