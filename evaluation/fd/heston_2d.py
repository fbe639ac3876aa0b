"""Heston PDE in (S, v) with the XVA source, by Hundsdorfer-Verwer ADI (In 't Hout & Foulon 2010).

In time to maturity tau, with b = rate - dividend:

    dV/dtau = 1/2 v S^2 V_SS + rho xi v S V_Sv + 1/2 xi^2 v V_vv + b S V_S + kappa (theta - v) V_v
              - r V - f(V)

on [0, S_max] x [0, v_max]. Boundaries (no values imposed): at S = 0 the PDE degenerates (S terms
vanish); at S_max linearity drops V_SS and V_Sv (V_S 3-point backward); at v = 0 the degenerate
PDE b S V_S + kappa theta V_v - r V - f(V) holds with a 3-point forward (upwind) V_v; at v_max the
Neumann condition V_v = 0 removes the V_v and V_Sv terms, V_vv uses the mirrored ghost node.
Grids: sinh in S clustered at ``center`` (default the strike, a node), sinh in v clustered at 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .. import _validation as v
from ._adi import AxisOperator, MixedOperator, hv_solve
from ._grid import (
    EXPLICIT_SOURCE_STEP,
    MAX_ITERATIONS,
    Cluster,
    auto_cluster_heston,
    cluster_fraction,
    first_derivative,
    heston_s_max,
    heston_v_cluster,
    lower_grid,
    second_derivative,
    sinh_grid,
    source_time_steps,
)
from ._solution import FDSolution, FDStats
from .basket_2d import _ints
from .black_scholes_1d import _payoff, _source

_OWNER = "heston_2d"


def heston_2d(
    *,
    strike: float,
    maturity: float,
    kind: str = "call",
    kappa: float,
    theta: float,
    xi: float,
    rho: float,
    rate: float,
    dividend: float = 0.0,
    xva=None,
    payoff: Callable[[np.ndarray], np.ndarray] | None = None,
    s_max: float | None = None,
    v_max: float = 5.0,
    n_space=(160, 80),
    n_time: int | None = None,
    cluster: Cluster = "auto",
    v_cluster: float | str | None = "auto",
    center: float | None = None,
    damping_steps: int = 2,
) -> FDSolution:
    """Solve the (risky) Heston PDE for a European payoff of S; returns an :class:`FDSolution`.

    All arguments are keyword-only: the product, the model as in :class:`simulators.Heston`,
    then the payoff, XVA and grid settings.

    Args:
        strike: K > 0.
        maturity: time to maturity T > 0, years.
        kind: ``"call"`` or ``"put"`` (ignored when ``payoff`` is given).
        kappa: mean-reversion speed > 0.
        theta: long-run variance > 0.
        xi: volatility of variance > 0.
        rho: spot/variance correlation in [-1, 1].
        rate: continuously compounded risk-free rate r.
        dividend: continuous dividend yield q (drift r - q).
        xva: a ``simulators.XVA`` for the risky value, ``None`` for risk-free.
        payoff: optional callable S -> payoff, any sign.
        s_max: upper spot bound (> center); default
            center x max(4, e^{max(0, -(r - q) T) + 5 sqrt(theta T)}) (:func:`heston_s_max`):
            five standard deviations of ln S at the long-run variance.
            States of a variance far above theta need more (K e^{5 sqrt(v T)}).
        v_max: upper variance bound > 0. The default 5 (In 't Hout & Foulon) keeps the
            Neumann boundary harmless for large vol-of-vol; with xi = 1, v_max = 1 costs 1-2 % of
            the price near the strike while v_max = 5 costs nothing measurable for xi = 0.3.
        n_space: (spot steps, variance steps), each >= 4; at most 2**24 grid nodes.
        n_time: time steps, in [1, 10**7]; None: 80, or more with an
            XVA source: c * maturity / n_time <= 0.1 (c its larger spread), refused beyond.
        cluster: sinh width in S as a fraction of the center (``None``: uniform; ``"auto"``:
            ``min(0.1, sqrt(theta T))``, narrower when that is small).
        v_cluster: sinh width in v as a fraction of v_max (``None``: uniform); "auto"
            (default) min(1/500, theta / (4 v_max)) (:func:`heston_v_cluster`).
        center: S clustering point (a node), default the strike.
        damping_steps: number of initial steps replaced by two damped Douglas half steps.

    Returns:
        :class:`FDSolution` with ``axes == (spot, variance)``, ``points`` of shape (n, 2) as
        (spot, variance); ``delta``/``gamma`` are d/dS, d2/dS2 and ``vega`` is dV/dv.
    """
    t0 = time.perf_counter()
    o = _OWNER
    k = v.positive_float(o, "strike", strike)
    tau = v.positive_float(o, "maturity", maturity)
    kap = v.positive_float(o, "kappa", kappa)
    th = v.positive_float(o, "theta", theta)
    x_i = v.positive_float(o, "xi", xi)
    rh = v.in_range_float(o, "rho", rho, -1.0, 1.0)
    r = v.finite_float(o, "rate", rate)
    q = v.finite_float(o, "dividend", dividend)
    pay = _payoff(o, payoff, kind, k)
    src = _source(o, xva)
    n = _ints(o, "n_space", n_space, 4)
    nt = source_time_steps(o, n_time, 80, xva, tau, EXPLICIT_SOURCE_STEP)
    nd = v.integer(o, "damping_steps", damping_steps, 0, MAX_ITERATIONS)
    vm = v.positive_float(o, "v_max", v_max)
    cen = k if center is None else v.positive_float(o, "center", center)
    s_hi = (heston_s_max(cen, th, tau, r - q, o) if s_max is None
            else v.positive_float(o, "s_max", s_max))
    if s_hi <= cen:
        v.fail(o, "s_max", f"> {cen:g} (the domain must contain the strike)", s_max)
    frac = cluster_fraction(o, cluster, auto_cluster_heston(th, tau))
    c_s = None if frac is None else frac * cen
    if isinstance(v_cluster, str) and v_cluster == "auto":
        c_v = heston_v_cluster(th, vm) * vm
    elif isinstance(v_cluster, str):
        v.fail(o, "v_cluster", "a number > 0, None or 'auto'", v_cluster)
    else:
        c_v = None if v_cluster is None else v.positive_float(o, "v_cluster", v_cluster) * vm

    sg = sinh_grid(0.0, s_hi, cen, n[0], c_s)
    vg = lower_grid(vm, n[1], c_v)
    s, var = np.meshgrid(sg, vg, indexing="ij")
    b = r - q
    a_s = AxisOperator(
        0,
        first_derivative(sg, left="zero", right="backward"),
        second_derivative(sg, right="zero"),
        b * s,
        0.5 * var * s * s,
        -0.5 * r,
    )
    a_v = AxisOperator(
        1,
        first_derivative(vg, left="forward", right="zero"),
        second_derivative(vg, right="neumann"),
        kap * (th - var),
        0.5 * x_i * x_i * var,
        -0.5 * r,
    )
    mixed = MixedOperator(
        first_derivative(sg, "zero", "zero"),
        first_derivative(vg, "zero", "zero"),
        rh * x_i * var * s,
    )
    u0 = np.asarray(pay(s), dtype=np.float64)
    if u0.shape != s.shape or not np.all(np.isfinite(u0)):
        v.fail(o, "payoff", "a callable returning finite values of the shape of S", payoff)
    val = hv_solve(u0, mixed, a_s, a_v, src, tau, nt, nd)
    stats = FDStats(
        method="Hundsdorfer-Verwer ADI (damped start), explicit XVA source",
        n_space=n,
        n_time=nt,
        upper=(float(sg[-1]), float(vg[-1])),
        elapsed_s=time.perf_counter() - t0,
    )
    return FDSolution(
        axes=(sg, vg), names=("spot", "variance"), values=val, stats=stats, _spot_axes=(0,)
    )
