"""Two-asset Black-Scholes PDE (arithmetic basket, worst-of, best-of) with the XVA source, by ADI.

In time to maturity tau, with carries b_i = rate - dividends[i]:

    dV/dtau = sum_i [1/2 vol_i^2 S_i^2 V_ii + b_i S_i V_i] + rho vol_1 vol_2 S_1 S_2 V_12
              - r V - f(V)

on [0, S1_max] x [0, S2_max]. On S_i = 0 the PDE collapses to the one-asset PDE in the other asset
(no condition imposed: the coefficients vanish); on S_i = S_i,max the linearity condition drops
V_ii (and the mixed term), V_i by a 3-point backward difference. That condition is exact for
payoffs linear in the far field, of either sign (forwards, short puts, basket calls); for a call on
the maximum or minimum of the assets the value is not linear in S_i near the corner
S_1 = S_1,max, S_2 = S_2,max (the payoff's kink runs along the diagonal into it), so points there
carry a boundary error that refinement does not remove: keep test points well inside the domain
or enlarge ``s_max``. Grids: sinh, clustered at
``center`` (default: the strike divided by the sum of the weights for the basket, the strike for
worst-of/best-of), which is a node of each axis. Time: Hundsdorfer-Verwer ADI (see ``_adi``),
the source f explicit in the predictor and corrector stages, with a damped (Douglas theta = 1)
start.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np

from .. import _validation as v
from ._adi import AxisOperator, MixedOperator, hv_solve
from ._grid import (
    EXPLICIT_SOURCE_STEP,
    MAX_ITERATIONS,
    MAX_NODES,
    Cluster,
    auto_cluster_basket,
    basket_reach,
    cluster_fraction,
    first_derivative,
    lognormal_s_max,
    second_derivative,
    sinh_grid,
    source_time_steps,
)
from ._solution import FDSolution, FDStats
from .black_scholes_1d import _source

_OWNER = "basket_2d"


def _pair(owner: str, field: str, value, check) -> tuple[float, float]:
    arr = check(owner, field, value).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, 2)
    if arr.size != 2:
        v.fail(owner, field, "a scalar or a pair", arr.tolist())
    return float(arr[0]), float(arr[1])


def _ints(owner: str, field: str, value, minimum: int) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        v.fail(owner, field, "an integer or a pair of integers", value)
    n0 = v.integer(owner, field, value[0], minimum)
    n1 = v.integer(owner, field, value[1], minimum)
    if (n0 + 1) * (n1 + 1) > MAX_NODES:
        v.fail(owner, field, f"steps (n0, n1) with (n0 + 1)(n1 + 1) <= {MAX_NODES} grid nodes",
               (n0, n1))
    return n0, n1


#: Correlations beyond which the diffusion runs nearly along the payoff's kink (the line
#: w . S = K of a basket of positive weights as rho -> -1, the diagonal S_1 = S_2 of a worst-of
#: or best-of as rho -> 1), which the axis-aligned grid and the central cross-difference resolve
#: at first order. Measured on the default grid against the closed forms (put, K 100, T 1,
#: vols 0.2 / 0.3): basket 0.9 % off at rho = -0.9, 4.1 % at -0.95 (0.12 % at -0.8); worst-of
#: 0.5 % at rho = 0.99 (0.14 % at 0.95).
KINK_RHO = {"arithmetic": -0.8, "worst_of": 0.95, "best_of": 0.95}


def _warn_if_diffusion_runs_along_the_kink(style: str, w: tuple[float, float], rho: float
                                           ) -> None:
    """RuntimeWarning beyond :data:`KINK_RHO` (see there)."""
    if style == "arithmetic":
        near = w[0] * w[1] > 0 and rho < KINK_RHO[style]
    else:
        near = rho > KINK_RHO[style]
    if near:
        warnings.warn(
            f"basket_2d: at rho = {rho:g} the diffusion runs nearly along the {style} payoff's "
            "kink, which this grid resolves at first order (a basket put on the default grid: "
            "0.9 % off at rho = -0.9, 4 % at -0.95; a worst-of put 0.5 % at 0.99); refine "
            "n_space or use the closed form (evaluation.analytic)", RuntimeWarning, stacklevel=3)


def basket_2d(
    *,
    strike: float,
    maturity: float,
    kind: str = "call",
    vols,
    rho: float,
    rate: float,
    dividends=(0.0, 0.0),
    weights=(0.5, 0.5),
    style: str = "arithmetic",
    xva=None,
    payoff: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    s_max=None,
    n_space=(120, 120),
    n_time: int | None = None,
    cluster: Cluster = "auto",
    center=None,
    damping_steps: int = 2,
) -> FDSolution:
    """Solve the two-asset (risky) Black-Scholes PDE; returns an :class:`FDSolution`.

    All arguments are keyword-only: the product, the model as in
    :class:`simulators.BlackScholesBasket` (``rho`` for its correlation), then the basket weights,
    the style, the payoff, XVA and grid settings.

    Args:
        strike: K > 0.
        maturity: time to maturity T > 0, years.
        kind: ``"call"`` or ``"put"`` (ignored when ``payoff`` is given).
        vols: (vol_1, vol_2) > 0 (a scalar is used for both).
        rho: correlation in [-1, 1].
        rate: continuously compounded risk-free rate.
        dividends: continuous dividend yields (q_1, q_2).
        weights: basket weights (w_1, w_2) for ``style="arithmetic"``.
        style: ``"arithmetic"`` (payoff on w . S), ``"worst_of"`` (on min S_i) or ``"best_of"``
            (on max S_i); ignored when ``payoff`` is given.
        xva: a ``simulators.XVA`` for the risky value, ``None`` for risk-free.
        payoff: optional callable (S1, S2) -> payoff on 2-D arrays, any sign.
        s_max: upper bound(s) of the spots (scalar or pair), > center; default
            center max(4, e^{max(0, -b_i T) + 5 vol_i sqrt(T)}) (:func:`lognormal_s_max`),
            and for an arithmetic basket without ``payoff`` at least 2 K / w_i
            (:func:`~evaluation.fd.basket_reach`).
        n_space: space steps per axis (int or pair, each >= 4; at most 2**24 grid nodes).
        n_time: time steps, in [1, 10**7]; None: 60, or more with an
            XVA source: c * maturity / n_time <= 0.1 (c its larger spread), refused beyond.
        cluster: sinh clustering width as a fraction of the center (``None``: uniform;
            ``"auto"``: ``min(0.2, max(vols) sqrt(T))``, narrower when that is small).
        center: clustering point (scalar or pair), a node of each axis; see the module docstring.
        damping_steps: number of initial steps replaced by two damped Douglas half steps.

    Returns:
        :class:`FDSolution` with ``axes == (spot_1, spot_2)``; ``points`` of shape (n, 2);
        ``delta`` (n, 2), ``gamma`` (n, 2, 2).
    """
    t0 = time.perf_counter()
    o = _OWNER
    k = v.positive_float(o, "strike", strike)
    tau = v.positive_float(o, "maturity", maturity)
    sig = _pair(o, "vols", vols, v.positive)
    rh = v.in_range_float(o, "rho", rho, -1.0, 1.0)
    r = v.finite_float(o, "rate", rate)
    q = _pair(o, "dividends", dividends, v.array)
    w = _pair(o, "weights", weights, v.array)
    omega = v.kind_sign(o, kind)
    style = v.choice(o, "style", style, ("arithmetic", "worst_of", "best_of"))
    src = _source(o, xva)
    n = _ints(o, "n_space", n_space, 4)
    nt = source_time_steps(o, n_time, 60, xva, tau, EXPLICIT_SOURCE_STEP)
    nd = v.integer(o, "damping_steps", damping_steps, 0, MAX_ITERATIONS)
    if payoff is None:
        if style == "arithmetic":
            if w[0] <= 0 and w[1] <= 0:
                v.fail(o, "weights", "with at least one entry > 0", w)
            pay = lambda s1, s2: np.maximum(omega * (w[0] * s1 + w[1] * s2 - k), 0.0)
        elif style == "worst_of":
            pay = lambda s1, s2: np.maximum(omega * (np.minimum(s1, s2) - k), 0.0)
        else:
            pay = lambda s1, s2: np.maximum(omega * (np.maximum(s1, s2) - k), 0.0)
    elif not callable(payoff):
        v.fail(o, "payoff", "a callable of (S1, S2) (or None)", payoff)
    else:
        pay = payoff
    if payoff is None:
        _warn_if_diffusion_runs_along_the_kink(style, w, rh)
    if center is None:
        wsum = w[0] + w[1]
        c0 = k / wsum if (style == "arithmetic" and payoff is None and wsum > 0) else k
        centers = (c0, c0)
    else:
        centers = _pair(o, "center", center, v.positive)
    if s_max is None:
        highs = tuple(lognormal_s_max(centers[i], sig[i], tau, r - q[i], o) for i in range(2))
        if style == "arithmetic" and payoff is None:  # the kink clear of the far faces
            highs = tuple(max(h, r) for h, r in zip(highs, basket_reach(k, w), strict=True))
    else:
        highs = _pair(o, "s_max", s_max, v.positive)
    for i in range(2):
        if highs[i] <= centers[i]:
            rule = f"> {centers[i]:g} (the domain must contain the strike region)"
            v.fail(o, "s_max", rule, highs[i])
    cl = cluster_fraction(o, cluster, auto_cluster_basket(sig, tau))

    axes = tuple(
        sinh_grid(0.0, highs[i], centers[i], n[i], None if cl is None else cl * centers[i])
        for i in range(2)
    )
    s1, s2 = np.meshgrid(axes[0], axes[1], indexing="ij")
    ops = []
    for i, si in enumerate((s1, s2)):
        d1 = first_derivative(axes[i], left="zero", right="backward")
        d2 = second_derivative(axes[i], right="zero")
        ops.append(AxisOperator(i, d1, d2, (r - q[i]) * si, 0.5 * sig[i] ** 2 * si * si, -0.5 * r))
    mixed = MixedOperator(
        first_derivative(axes[0], "zero", "zero"),
        first_derivative(axes[1], "zero", "zero"),
        rh * sig[0] * sig[1] * s1 * s2,
    )
    u0 = np.asarray(pay(s1, s2), dtype=np.float64)
    if u0.shape != s1.shape or not np.all(np.isfinite(u0)):
        v.fail(o, "payoff", "a callable returning finite values of the grid's shape", payoff)
    val = hv_solve(u0, mixed, ops[0], ops[1], src, tau, nt, nd)
    stats = FDStats(
        method="Hundsdorfer-Verwer ADI (damped start), explicit XVA source",
        n_space=n,
        n_time=nt,
        upper=(float(axes[0][-1]), float(axes[1][-1])),
        elapsed_s=time.perf_counter() - t0,
    )
    return FDSolution(
        axes=axes, names=("spot_1", "spot_2"), values=val, stats=stats, _spot_axes=(0, 1)
    )
