"""The pipeline's side of the desk diagnostics (:mod:`evaluation.diagnostics`): gammas of
references and surrogates, moneyness buckets, shape checks and the delta-hedging experiment,
evaluated on a scenario's objects and trained models.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

import numpy as np

from evaluation import diagnostics as dg
from evaluation.metrics import spot_inputs

from .config import Scenario, surrogate_learns_risk_free

log = logging.getLogger("diffml.pipeline")

#: Hedging horizon in years (capped at half the maturity), rebalancing dates, and simulated
#: paths per test point.
HEDGE_HORIZON = 1.0 / 12.0
HEDGE_STEPS = 21
HEDGE_PATHS_PER_POINT = 32

#: Relative step of the central differences that give gammas (times the RMS of the input).
_H_ANALYTIC = 1e-4
_H_SURROGATE = 1e-3


def _steps(x: np.ndarray, cols: list[int], rel: float) -> np.ndarray:
    return rel * np.maximum(np.sqrt(np.mean(np.square(x[:, cols]), axis=0)), 1e-12)


def central_gamma(grad_fn, x: np.ndarray, inputs: list[str], rel: float) -> np.ndarray | None:
    """d²V/dspot_i² (n, k) by central differences of ``grad_fn(x) -> (n, d)`` along each spot
    input (step ``rel`` times the input's RMS over x); ``None`` without spot inputs."""
    names = list(inputs)
    cols = [names.index(s) for s in spot_inputs(names)]
    if not cols:
        return None
    h = _steps(x, cols, rel)
    out = np.empty((x.shape[0], len(cols)))
    for j, (c, hc) in enumerate(zip(cols, h, strict=True)):
        up, dn = x.copy(), x.copy()
        up[:, c] += hc
        dn[:, c] -= hc
        out[:, j] = (np.asarray(grad_fn(up))[:, c] - np.asarray(grad_fn(dn))[:, c]) / (2 * hc)
    return out


def target_gamma(scenario: Scenario, target: dict, x: np.ndarray) -> np.ndarray | None:
    """Gamma (n, k) of the reference the surrogates are scored against: central differences of
    the closed-form delta for an analytic target, the solver's own gamma for FD and PINN
    targets; ``None`` where neither exists."""
    from . import references as refs

    if target.get("gamma") is not None:
        return np.asarray(target["gamma"], float).reshape(len(x), -1)
    if target.get("method") != "analytic":
        return None
    objs = scenario.objects()
    xva = None if target.get("risk_free") else objs["xva"]
    try:
        return central_gamma(lambda z: refs.analytic(objs["model"], objs["product"], z, xva).grad,
                             np.asarray(x, float), list(objs["model"].inputs), _H_ANALYTIC)
    except refs.NoReference:
        return None


def surrogate_gamma(reg, x: np.ndarray, inputs: list[str]) -> np.ndarray | None:
    """The surrogate's gamma (n, k): central differences of its predicted gradient."""
    return central_gamma(lambda z: reg.predict_value_and_gradient(z)[1], np.asarray(x, float),
                         list(inputs), _H_SURROGATE)


def moneyness(scenario: Scenario, x: np.ndarray) -> tuple[np.ndarray, str] | None:
    objs = scenario.objects()
    return dg.moneyness(objs["product"].to_dict(), list(objs["model"].inputs), x)


def shape_checks(scenario: Scenario, x: np.ndarray, predictors: dict[str, tuple],
                 scale: dict) -> dict:
    """The product's shape rules checked for each predictor ``{name: (price, grad, gamma)}``
    (the reference first): ``{"tolerance", "note", "results": [...]}``."""
    objs = scenario.objects()
    inputs = list(objs["model"].inputs)
    xva = None if objs["xva"] is None or surrogate_learns_risk_free(objs) \
        else objs["xva"].to_dict()
    rules, note = dg.shape_rules(objs["model"].to_dict(), objs["product"].to_dict(), inputs, x,
                                 xva)
    results = []
    for name, (price, grad, gamma) in predictors.items():
        results += dg.check_shape(rules, predictor=name, x=x, inputs=inputs, price=price,
                                  grad=grad, gamma=gamma, scale=scale)
    return {"tolerance": dg.CHECK_TOLERANCE, "note": note, "results": results}


def hedging(scenario: Scenario, target: dict, x: np.ndarray, regs: dict, seed: int
            ) -> dict | None:
    """Discrete delta hedge of the scenario's option from each test spot over a short horizon,
    with the reference's and each surrogate's deltas (:func:`evaluation.diagnostics.hedge_pnl`).

    Black-Scholes scenarios on one asset (inputs ``("spot",)``) whose surrogate target is a
    risk-free value with a closed form (European options and forwards, netting sets of asset
    legs; under an XVA only where the surrogate learns the risk-free value: a risky value
    accrues the XVA rate, which no delta hedges). Horizon H = min(1 month, T / 2), 21 rebalancing
    dates, 32 paths per test spot under the pricing measure. The surrogates know the value at
    the scenario's maturity T only, so both hedges take the delta at time to maturity T at the
    current spot (frozen over the short horizon); the difference between the two hedges is the
    surrogate's Greek error. ``None`` for other scenarios.
    """
    from . import references as refs

    objs = scenario.objects()
    model, product = objs["model"], objs["product"]
    if type(model).__name__ != "BlackScholes" or tuple(model.inputs) != ("spot",):
        return None
    if objs["xva"] is not None and not target.get("risk_free"):
        return None
    t = float(product.maturity)
    horizon = min(HEDGE_HORIZON, 0.5 * t)
    times = np.linspace(0.0, horizon, HEDGE_STEPS + 1)
    s0 = np.repeat(np.asarray(x, float)[:, 0], HEDGE_PATHS_PER_POINT)
    z = np.random.default_rng(seed).standard_normal((s0.size, HEDGE_STEPS))
    paths = dg.gbm_paths(s0, times, vol=model.vol, rate=model.rate, dividend=model.dividend,
                         normals=z)
    try:
        later = dataclasses.replace(product, maturity=t - horizon)
        v0 = refs.analytic(model, product, s0[:, None]).price
        vk = refs.analytic(model, later, paths[:, -1:]).price
        states = paths[:, :-1].reshape(-1, 1)
        ref_delta = refs.analytic(model, product, states).grad[:, 0]
    except (refs.NoReference, TypeError, ValueError) as exc:
        log.info("scenario %s: no hedging diagnostic (%s)", scenario.id, exc)
        return None
    common = dict(value_start=v0, value_end=vk, rate=model.rate, dividend=model.dividend)
    ref_pnl = dg.hedge_pnl(paths, times, deltas=ref_delta.reshape(paths.shape[0], -1), **common)
    out: dict[str, Any] = {
        "horizon": horizon, "steps": HEDGE_STEPS, "paths": int(s0.size),
        "greeks_at": "time to maturity T at the current spot, frozen over the horizon",
        "unhedged": dg.hedge_summary(dg.hedge_pnl(paths, times, deltas=np.zeros(
            (paths.shape[0], HEDGE_STEPS)), **common)),
        "reference": dg.hedge_summary(ref_pnl),
    }
    for mode, reg in regs.items():
        d = np.asarray(reg.predict_value_and_gradient(states)[1], float)[:, 0]
        pnl = dg.hedge_pnl(paths, times, deltas=d.reshape(paths.shape[0], -1), **common)
        out[mode] = {**dg.hedge_summary(pnl),
                     "vs_reference_rms": float(np.sqrt(np.mean((pnl - ref_pnl) ** 2)))}
    if not all(math.isfinite(v["rms"]) for k, v in out.items() if isinstance(v, dict)):
        log.warning("scenario %s: non-finite hedging P&L", scenario.id)
    return out
