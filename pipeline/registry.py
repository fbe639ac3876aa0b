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
- ``pde_problem(model, product, xva) -> training.pinn problem``: the PINN problem of the triple.

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

import simulators as sim

from . import references as _r

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


# ---------------------------------------------------------------- PINN problems (training.pinn)
def _pinn_black_scholes(model, product, xva):
    from training import pinn

    return pinn.BlackScholesPDE(strike=product.strike, maturity=product.maturity,
                                vol=model.vol, rate=model.rate, dividend=model.dividend,
                                kind=product.kind, xva=xva)


def _pinn_basket_common(model, product, xva) -> dict:
    if model.dim != 2:
        raise _r.NoReference(f"no PINN problem for {type(model).__name__} with "
                             f"{type(product).__name__} on {model.dim} assets (2 only)")
    return dict(strike=product.strike, maturity=product.maturity, vols=tuple(model.vols),
                rate=model.rate, dividends=tuple(model.dividends), rho=model.correlation[0][1],
                kind=product.kind, xva=xva)


def _pinn_basket(model, product, xva):
    from training import pinn

    return pinn.BasketPDE(weights=tuple(product.weights),
                          **_pinn_basket_common(model, product, xva))


def _pinn_worst_of(model, product, xva):
    from training import pinn

    return pinn.WorstOfPDE(**_pinn_basket_common(model, product, xva))


def _pinn_heston(model, product, xva):
    from training import pinn

    return pinn.HestonPDE(strike=product.strike, maturity=product.maturity, rate=model.rate,
                          dividend=model.dividend, kappa=model.kappa, theta=model.theta,
                          xi=model.xi, rho=model.rho, kind=product.kind, xva=xva)


# ---------------------------------------------------------------- the table
_KNOWN: dict[tuple[type, type], Entry] = {
    (sim.BlackScholes, sim.European): Entry(_r.analytic_black_scholes, _r.fd_black_scholes_1d,
                                            _pinn_black_scholes),
    (sim.BlackScholes, sim.NettingSet): Entry(_r.analytic_netting_set, _r.fd_black_scholes_1d,
                                              None),
    (sim.BachelierBasket, sim.European): Entry(_r.analytic_bachelier, None, None),
    (sim.BachelierBasket, sim.BasketOption): Entry(_r.analytic_bachelier, None, None),
    (sim.BachelierBasket, sim.NettingSet): Entry(_r.analytic_netting_set, None, None),
    (sim.BlackScholesBasket, sim.BasketOption): Entry(_r.analytic_arithmetic_basket,
                                                      _r.fd_basket_2d, _pinn_basket),
    (sim.BlackScholesBasket, sim.WorstOf): Entry(_r.analytic_stulz, _r.fd_basket_2d,
                                                 _pinn_worst_of),
    (sim.BlackScholesBasket, sim.BestOf): Entry(_r.analytic_stulz, _r.fd_basket_2d, None),
    (sim.BlackScholesBasket, sim.NettingSet): Entry(_r.analytic_netting_set, _r.fd_basket_2d,
                                                    None),
    (sim.Heston, sim.European): Entry(_r.analytic_heston, _r.fd_heston_2d, _pinn_heston),
    (sim.Heston, sim.NettingSet): Entry(_r.analytic_netting_set, _r.fd_heston_2d, None),
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
