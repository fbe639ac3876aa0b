"""One-asset Black-Scholes PDE with the non-linear XVA source, Crank-Nicolson + Rannacher.

In time to maturity tau, with b = rate - dividend:

    dV/dtau = 1/2 vol^2 S^2 V_SS + b S V_S - r V - f(V),   V(0, S) = payoff(S),
    f(V) = (1 - R_B) lambda_B min(V, 0) + ((1 - R_C) lambda_C + s_F) max(V, 0)   (f = 0 risk-free)

on S in [0, S_max]. At S = 0 the PDE degenerates to dV/dtau = -r V - f(V) (no condition imposed);
at S_max the linearity condition V_SS = 0 leaves dV/dtau = b S V_S - r V - f(V) (3-point backward
V_S). Space: 3-point differences on a sinh grid clustered at the strike (a node). Time:
Crank-Nicolson, the first ``rannacher_steps`` steps each replaced by two implicit-Euler half steps
(damps the payoff kink). The source is solved by a fixed-point (Picard) iteration inside each
step, with the linear part's LU factorisation reused: the contraction factor is about
dt/2 * max spread, so a few iterations reach ``tol``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from .. import _validation as v
from ._grid import (
    IMPLICIT_SOURCE_STEP,
    MAX_ITERATIONS,
    MAX_NODES,
    Cluster,
    auto_cluster_1d,
    cluster_fraction,
    first_derivative,
    lognormal_s_max,
    second_derivative,
    sinh_grid,
    source_time_steps,
)
from ._solution import FDSolution, FDStats

_OWNER = "black_scholes_1d"


def _payoff(owner: str, payoff, kind: str, strike: float) -> Callable[[np.ndarray], np.ndarray]:
    if payoff is None:
        omega = v.kind_sign(owner, kind)
        return lambda s: np.maximum(omega * (s - strike), 0.0)
    if not callable(payoff):
        v.fail(owner, "payoff", "a callable of the state (or None)", payoff)
    return payoff


def _source(owner: str, xva) -> Callable[[np.ndarray], np.ndarray] | None:
    if xva is None:
        return None
    if not hasattr(xva, "spread"):
        v.fail(owner, "xva", "a simulators.XVA (or None)", xva)
    pos, neg = float(xva.spread(1)), float(xva.spread(-1))
    if pos == 0.0 and neg == 0.0:
        return None

    def source(u: np.ndarray) -> np.ndarray:
        """f(V) = c- min(V, 0) + c+ max(V, 0), as ``XVA.source`` (NumPy only, no torch import)."""
        return neg * np.minimum(u, 0.0) + pos * np.maximum(u, 0.0)

    return source


#: Above this 2 |r - q| / vol^2 the drift dominates the diffusion and the solver warns.
MAX_DRIFT_RATIO = 50.0


def black_scholes_1d(
    *,
    strike: float,
    maturity: float,
    kind: str = "call",
    vol: float,
    rate: float,
    dividend: float = 0.0,
    xva=None,
    payoff: Callable[[np.ndarray], np.ndarray] | None = None,
    s_max: float | None = None,
    n_space: int = 400,
    n_time: int | None = None,
    cluster: Cluster = "auto",
    rannacher_steps: int = 2,
    tol: float = 1e-12,
    max_iter: int = 100,
    center: float | None = None,
) -> FDSolution:
    """Solve the (risky) Black-Scholes PDE for a European payoff; returns an :class:`FDSolution`.

    All arguments are keyword-only: the product, the model as in :class:`simulators.BlackScholes`,
    then the payoff, XVA and grid settings.

    Args:
        strike: K > 0; the grid is clustered at K (or ``center``), which is a node, and K sets
            the default domain size. For a payoff with several strikes pass the largest.
        maturity: time to maturity T > 0 in years (the solution is V(tau = T, S)).
        kind: ``"call"`` or ``"put"`` (ignored when ``payoff`` is given).
        vol: lognormal vol > 0.
        rate: continuously compounded risk-free rate r (discounting; drift r - dividend).
        dividend: continuous dividend yield.
        xva: a ``simulators.XVA`` for the risky value, ``None`` for risk-free.
        payoff: optional callable S -> payoff (vectorised over a NumPy array), of any sign.
        s_max: upper bound of the grid (> strike); default
            K max(4, e^{max(0, -(r - q) T) + 5 vol sqrt(T)}) (:func:`lognormal_s_max`).
        n_space: number of space steps, in [4, 2**24 - 1]; nodes = n_space + 1.
        n_time: number of time steps, in [1, 10**7]; None: 200, or more with an
            XVA source: c * maturity / n_time <= 1 (c its larger spread), refused beyond.
        cluster: sinh clustering width as a fraction of the center (``None``: uniform grid;
            ``"auto"``: ``min(0.2, vol sqrt(T))``, so that prices varying over a width of about
            vol sqrt(T) K, short maturities or low vols, are resolved).
        rannacher_steps: number of initial steps done as two implicit-Euler half steps.
        tol: sup-norm tolerance of the Picard increment, relative to max(1, max |V|).
        max_iter: maximum number of Picard iterations per step (``RuntimeError`` beyond).
        center: clustering point of the grid (a node), in (0, s_max); default the strike.

    Returns:
        :class:`FDSolution` with ``axes == (spot,)``; ``price``, ``delta``, ``gamma`` take
        points of shape (n,).

    Example:
        >>> sol = black_scholes_1d(strike=100, maturity=1, kind="put", vol=0.25, rate=0.03)
        >>> round(float(sol.price([100.0])[0]), 3)
        8.393
    """
    t0 = time.perf_counter()
    k = v.positive_float(_OWNER, "strike", strike)
    tau = v.positive_float(_OWNER, "maturity", maturity)
    sig = v.positive_float(_OWNER, "vol", vol)
    r = v.finite_float(_OWNER, "rate", rate)
    q = v.finite_float(_OWNER, "dividend", dividend)
    pay = _payoff(_OWNER, payoff, kind, k)
    src = _source(_OWNER, xva)
    n = v.integer(_OWNER, "n_space", n_space, 4, MAX_NODES - 1)
    nt = source_time_steps(_OWNER, n_time, 200, xva, tau, IMPLICIT_SOURCE_STEP)
    nr = v.integer(_OWNER, "rannacher_steps", rannacher_steps, 0, MAX_ITERATIONS)
    tol = v.positive_float(_OWNER, "tol", tol)
    max_iter = v.integer(_OWNER, "max_iter", max_iter, 1, MAX_ITERATIONS)
    peclet = 2.0 * abs(r - q) / sig / sig
    if peclet > MAX_DRIFT_RATIO:
        warnings.warn(
            f"black_scholes_1d: the drift dominates the diffusion (2 |r - q| / vol^2 = "
            f"{peclet:.3g}): central differences in S do not resolve the value away from the "
            "spot whose forward is the strike (a call with vol 0.05 and q = 0.3 over 5 years "
            "was 64 % off at S = 300); use the closed form (evaluation.analytic)",
            RuntimeWarning, stacklevel=2)
    if s_max is None:
        s_max = lognormal_s_max(k, sig, tau, r - q, _OWNER)
    s_hi = v.positive_float(_OWNER, "s_max", s_max)
    if s_hi <= k:
        v.fail(_OWNER, "s_max", f"> strike = {k:g} (the domain must contain the strike)", s_max)
    cen = k if center is None else v.positive_float(_OWNER, "center", center)
    if cen >= s_hi:
        v.fail(_OWNER, "center", f"< s_max = {s_hi:g}", center)
    frac = cluster_fraction(_OWNER, cluster, auto_cluster_1d(sig, tau))
    c = None if frac is None else frac * cen

    s = sinh_grid(0.0, s_hi, cen, n, c)
    b = r - q
    d1 = first_derivative(s, left="zero", right="backward")
    d2 = second_derivative(s, right="zero")
    a = sp.diags(0.5 * sig * sig * s * s) @ d2 + sp.diags(b * s) @ d1 - r * sp.identity(s.size)
    a = sp.csc_matrix(a)
    eye = sp.identity(s.size, format="csc")
    dt = tau / nt

    val = np.asarray(pay(s), dtype=np.float64).copy()
    if val.shape != s.shape or not np.all(np.isfinite(val)):
        v.fail(_OWNER, "payoff", "a callable returning finite values of the shape of S", payoff)

    iters, max_it, last_inc = 0, 0, 0.0

    def picard(lu, rhs_lin, guess, h):
        nonlocal iters, max_it, last_inc
        if src is None:
            return lu.solve(rhs_lin)
        x = guess
        scale = max(1.0, float(np.max(np.abs(guess))))
        for it in range(1, max_iter + 1):
            x_new = lu.solve(rhs_lin - h * src(x))
            inc = float(np.max(np.abs(x_new - x)))
            x = x_new
            if inc <= tol * scale:
                iters += it
                max_it = max(max_it, it)
                last_inc = max(last_inc, inc)
                return x
        raise RuntimeError(
            f"Picard iteration did not converge in {max_iter} iterations ({inc:.3g})"
        )

    # I - dt/2 A serves both Crank-Nicolson and the implicit-Euler half steps of dt / 2.
    lu = splu(sp.csc_matrix(eye - 0.5 * dt * a))
    explicit = sp.csr_matrix(eye + 0.5 * dt * a)
    for step in range(nt):
        if step < nr:
            for _ in range(2):  # two implicit-Euler half steps of dt / 2
                val = picard(lu, val, val, 0.5 * dt)
        else:
            rhs = explicit @ val
            if src is not None:
                rhs = rhs - 0.5 * dt * src(val)
            val = picard(lu, rhs, val, 0.5 * dt)
    stats = FDStats(
        method="Crank-Nicolson + Rannacher start-up" + (" + Picard" if src is not None else ""),
        n_space=(n,),
        n_time=nt,
        upper=(float(s[-1]),),
        elapsed_s=time.perf_counter() - t0,
        iterations=iters,
        max_iterations_per_step=max_it,
        last_increment=last_inc,
    )
    return FDSolution(axes=(s,), names=("spot",), values=val, stats=stats, _spot_axes=(0,))
