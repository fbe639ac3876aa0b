"""Reference prices and gradients on a scenario's test inputs: analytic formulas or FD solvers.

Gradients are with respect to the model's inputs (the columns of x), in the same order as the
simulator's ``dydx``. Which reference applies to which (model, product) pair is decided by the
table in :mod:`pipeline.registry`, whose per-pair callables live in :mod:`pipeline.pricers`;
this module holds the public entry points :func:`analytic`, :func:`finite_difference` and
:func:`compute`.

XVA: analytic references are risk-free closed forms scaled by e^{-c tau}, exact for one-signed
payoffs only (``simulators.payoff_sign`` +1 or -1). A product whose value takes both signs (a
forward, a two-signed :class:`simulators.NettingSet`) has a non-linear risky value: only the PDE
references ('fd', 'pinn') give it. A netting set's risk-free closed form is the sum over its legs of
``quantity x`` the single-leg reference.
"""

from __future__ import annotations

import numpy as np

from . import registry
from .pricers import NoReference, Reference, Unsupported, _xva_scale, test_inputs

__all__ = ["NoReference", "Reference", "analytic", "compute", "finite_difference", "risk_free",
           "test_inputs"]


def _call(fn, method: str, model, product, *args, **kwargs) -> Reference:
    """``fn(model, product, *args)``; its Unsupported becomes one NoReference line naming the
    pair, why, and the methods that exist for it."""
    try:
        return fn(model, product, *args, **kwargs)
    except Unsupported as exc:
        label, rest = registry.missing(exc.method, model, product).split(";", 1)
        raise NoReference(f"{label} ({exc.why});{rest}") from None


# ---------------------------------------------------------------- entry points
def analytic(model, product, x: np.ndarray, xva=None) -> Reference:
    """Closed-form reference on x (n, d): risk-free value times e^{-c tau} under ``xva``
    (one-signed products; NoReference for two-signed ones under an XVA)."""
    fn = registry.lookup(model, product).analytic
    if fn is None:
        raise NoReference(registry.missing("analytic", model, product))
    f = _xva_scale(model, product, xva)
    ref = _call(fn, "analytic", model, product, x)
    return Reference("analytic", f * np.asarray(ref.price, float), f * np.asarray(ref.grad))


def finite_difference(model, product, x: np.ndarray, xva=None, **grid) -> Reference:
    """PDE reference by evaluation.fd (the non-linear XVA PDE when ``xva`` is given)."""
    fn = registry.lookup(model, product).fd
    if fn is None:
        raise NoReference(registry.missing("fd", model, product))
    return _call(fn, "fd", model, product, x, xva, **grid)


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
