"""One table of what each (model type, product type) pair of the simulators has as a reference.

``REGISTRY[(ModelType, ProductType)]`` is an :class:`Entry` with three slots, each a callable or
``None`` ("no such reference exists for this pair"):

- ``analytic(model, product, x) -> Reference``: the **risk-free** closed form on test inputs
  x of shape (n, d) (d = ``len(model.inputs)``): price (n,), gradient (n, d) in the order of
  ``model.inputs``. :func:`pipeline.references.analytic` applies the XVA factor e^{-c tau}
  (one-signed products only).
- ``fd(model, product, x, xva, **grid) -> Reference``: the finite-difference solution of the
  (risky, when ``xva`` is given) pricing PDE, interpolated at x; ``grid`` are keyword arguments of
  the ``evaluation.fd`` solver (``n_space``, ``n_time``, ``s_max``, ``cluster``, ``center``...).
- ``pde_problem(model, product, xva) -> training.pinn problem``: the PINN problem of the triple
  (a netting set: ``BlackScholesPDE`` / ``HestonPDE`` / ``TwoAssetPDE`` with ``netting=product``
  and, as the scale, the largest leg strike in units of one asset's spot: K / sum(w) for a
  basket leg).

A callable may still refuse a model of the right type whose configuration it does not cover
(e.g. Stulz's formula for 3 assets, or sampled vol inputs): it raises
:class:`pipeline.references.NoReference` saying why. The table covers every pair of
``BlackScholes``, ``BachelierBasket``, ``BlackScholesBasket``, ``Heston`` x ``European``,
``BasketOption``, ``WorstOf``, ``BestOf``, ``NettingSet``; pairs the simulators refuse (e.g.
``BlackScholes`` with ``WorstOf``) have an entry with every slot ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import simulators as sim

from . import pricers as _r

MODELS: tuple[type, ...] = (sim.BlackScholes, sim.BachelierBasket, sim.BlackScholesBasket,
                            sim.Heston)
PRODUCTS: tuple[type, ...] = (sim.European, sim.BasketOption, sim.WorstOf, sim.BestOf,
                              sim.NettingSet)
METHODS: tuple[str, ...] = ("analytic", "fd", "pinn")


@dataclass(frozen=True)
class Entry:
    """The references of one (model type, product type) pair; ``None``: none exists."""

    analytic: Callable | None = None
    fd: Callable | None = None
    pde_problem: Callable | None = None

    def available(self) -> tuple[str, ...]:
        """Reference methods with a callable, in the order of :data:`METHODS`."""
        slots = (self.analytic, self.fd, self.pde_problem)
        return tuple(m for m, s in zip(METHODS, slots, strict=True) if s is not None)


# ---------------------------------------------------------------- netting sets
def analytic_netting_set(model, product, x: np.ndarray) -> _r.Reference:
    """Risk-free value of a netting set: sum over legs of quantity x the single-leg reference
    (looked up in the registry for the leg's product type; NoReference names a leg without)."""
    product.check_dim(model.dim)
    price, grad = np.zeros(len(x)), np.zeros((len(x), len(model.inputs)))
    for qty, leg in product.products():
        fn = lookup(model, leg).analytic
        if fn is None:
            raise _r.Unsupported("analytic",
                                 missing("analytic", model, leg).split(";")[0] + " leg")
        ref = fn(model, leg, x)
        price = price + qty * np.asarray(ref.price, float)
        grad = grad + qty * np.asarray(ref.grad, float)
    return _r.Reference("analytic", price, grad)


# ---------------------------------------------------------------- PINN problems (training.pinn)
def _pinn_inputs(model, product, states: tuple[str, ...]) -> None:
    """The PINN's states are the model's inputs: refuse extra inputs (sampled vol, rate...)."""
    if tuple(model.inputs) != states:
        raise _r.NoReference(f"no PINN problem for {type(model).__name__} with "
                             f"{type(product).__name__} and inputs {tuple(model.inputs)} "
                             f"(inputs {states} only)")


def _pinn_black_scholes(model, product, xva):
    """European call, put or forward, or a netting set of single-asset legs (``netting=``; the
    largest leg strike in spot units sets the scale)."""
    from training import pinn

    _pinn_inputs(model, product, ("spot",))
    common = dict(strike=_spot_strike(product), maturity=product.maturity, vol=model.vol,
                  rate=model.rate, dividend=model.dividend, xva=xva)
    if isinstance(product, sim.NettingSet):
        return pinn.BlackScholesPDE(netting=product, **common)
    return pinn.BlackScholesPDE(kind=product.kind, **common)


def _pinn_basket_common(model, product, xva) -> dict:
    if model.dim != 2:
        raise _r.NoReference(f"no PINN problem for {type(model).__name__} with "
                             f"{type(product).__name__} on {model.dim} assets (2 only)")
    if len(model.inputs) != 2:  # sampled vols are inputs the PDE does not have
        _pinn_inputs(model, product, tuple(model.inputs[:2]))
    return dict(strike=_spot_strike(product), maturity=product.maturity, vols=tuple(model.vols),
                rho=model.correlation[0][1], rate=model.rate, dividends=tuple(model.dividends),
                xva=xva)


def _spot_strike(product) -> float:
    """The product's largest strike in units of one asset's spot, the scale of a two-asset
    PINN's domain (s_max = 4 of it): a basket strike K on ``w . S`` is K / sum(w) there."""
    return max(_r.spot_kinks(product))


def _pinn_basket(model, product, xva):
    from training import pinn

    common = _pinn_basket_common(model, product, xva)
    if product.kind == "forward":  # BasketPDE prices calls and puts: a one-leg netting set
        return pinn.TwoAssetPDE(netting=_r.one_leg_netting(product), **common)
    # BasketPDE's strike is the basket's own (units of w . S); its default box is in spot units
    return pinn.BasketPDE(weights=tuple(product.weights), kind=product.kind,
                          **{**common, "strike": product.strike})


def _pinn_worst_of(model, product, xva):
    from training import pinn

    return pinn.WorstOfPDE(kind=product.kind, **_pinn_basket_common(model, product, xva))


def _pinn_two_asset_netting(model, product, xva):
    """A netting set of basket, worst-of and best-of legs on 2 assets (TwoAssetPDE)."""
    from training import pinn

    return pinn.TwoAssetPDE(netting=product, **_pinn_basket_common(model, product, xva))


def _pinn_heston(model, product, xva):
    """European call, put or forward, or a netting set of single-asset legs; inputs
    (spot, variance)."""
    from training import pinn

    _pinn_inputs(model, product, ("spot", "variance"))
    common = dict(strike=_spot_strike(product), maturity=product.maturity, kappa=model.kappa,
                  theta=model.theta, xi=model.xi, rho=model.rho, rate=model.rate,
                  dividend=model.dividend, xva=xva)
    if isinstance(product, sim.NettingSet):
        return pinn.HestonPDE(netting=product, **common)
    return pinn.HestonPDE(kind=product.kind, **common)


# ---------------------------------------------------------------- the table
_KNOWN: dict[tuple[type, type], Entry] = {
    (sim.BlackScholes, sim.European): Entry(_r.analytic_black_scholes, _r.fd_black_scholes_1d,
                                            _pinn_black_scholes),
    (sim.BlackScholes, sim.NettingSet): Entry(analytic_netting_set, _r.fd_black_scholes_1d,
                                              _pinn_black_scholes),
    (sim.BachelierBasket, sim.European): Entry(_r.analytic_bachelier, None, None),
    (sim.BachelierBasket, sim.BasketOption): Entry(_r.analytic_bachelier, None, None),
    (sim.BachelierBasket, sim.NettingSet): Entry(analytic_netting_set, None, None),
    (sim.BlackScholesBasket, sim.BasketOption): Entry(_r.analytic_arithmetic_basket,
                                                      _r.fd_basket_2d, _pinn_basket),
    (sim.BlackScholesBasket, sim.WorstOf): Entry(_r.analytic_stulz, _r.fd_basket_2d,
                                                 _pinn_worst_of),
    (sim.BlackScholesBasket, sim.BestOf): Entry(_r.analytic_stulz, _r.fd_basket_2d, None),
    (sim.BlackScholesBasket, sim.NettingSet): Entry(analytic_netting_set, _r.fd_basket_2d,
                                                    _pinn_two_asset_netting),
    (sim.Heston, sim.European): Entry(_r.analytic_heston, _r.fd_heston_2d, _pinn_heston),
    (sim.Heston, sim.NettingSet): Entry(analytic_netting_set, _r.fd_heston_2d,
                                        _pinn_heston),
}

REGISTRY: dict[tuple[type, type], Entry] = {
    (m, p): _KNOWN.get((m, p), Entry()) for m in MODELS for p in PRODUCTS
}


def lookup(model, product) -> Entry:
    """The entry of ``(type(model), type(product))`` (the first match along both MROs)."""
    for m in type(model).__mro__:
        for p in type(product).__mro__:
            entry = REGISTRY.get((m, p))
            if entry is not None:
                return entry
    raise _r.NoReference(f"no registry entry for {type(model).__name__} with "
                         f"{type(product).__name__}")


def missing(method: str, model, product) -> str:
    """One-line message for an empty slot, naming the methods that exist for the pair."""
    label = {"analytic": "analytic reference", "fd": "FD reference", "pinn": "PINN problem"}[method]
    others = [m for m in lookup(model, product).available() if m != method]
    hint = (f"use reference.method {' or '.join(repr(m) for m in others)}" if others
            else "no other reference method exists for this pair")
    return f"no {label} for {type(model).__name__} with {type(product).__name__}; {hint}"


def pde_problem(model, product, xva):
    """The training.pinn problem of a (model, product, XVA) triple (NoReference if none)."""
    entry = lookup(model, product)
    if entry.pde_problem is None:
        raise _r.NoReference(missing("pinn", model, product))
    return entry.pde_problem(model, product, xva)
