"""Heston stochastic volatility: log-Euler with full truncation, and its hand-written adjoint.

Per step k (dt = tau / steps, v+ = max(v_k, 0), Z1, Z2 independent normals, draws 2k and 2k+1):
    ln S_{k+1} = ln S_k + (r - q - v+/2) dt + sqrt(v+ dt) Z1
    v_{k+1}    = v_k + kappa (theta - v+) dt + xi sqrt(v+ dt) (rho Z1 + sqrt(1 - rho^2) Z2)
y = e^{-r tau} h(S_N). The reverse sweep reads the stored variance path v_0..v_{N-1} and
regenerates Z from the counter-based RNG: no tape of normals. At v+ = 0 the derivative of
sqrt(v+ dt) is taken as 0 (the truncated branch), so pathwise dV/dv0 is well defined but
heavy-tailed when the Feller condition 2 kappa theta > xi^2 fails.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit, prange

from . import _validation as v
from .products._payoff import payoff_scalar
from .rng import BLOCK_SCRATCH_ROWS, draw_normals_block, normal4

PARAM_INPUTS = ("kappa", "theta", "xi", "rho", "rate")


MAX_STEPS_PER_YEAR = 100_000
"""Upper bound of ``Heston.steps_per_year`` (about one step every 5 minutes of a 252-day year;
the Euler scheme's paths cost O(steps), so larger values would run for days)."""

MAX_PATH_STEPS = 10**7
"""Upper bound of the time steps of one path (``steps_per_year`` x maturity, horizon or
``dt``): a path of 10**7 steps already takes about a second of one core."""


@dataclass(frozen=True)
class Heston:
    """Heston model; the state inputs are (spot, variance).

    Attributes:
        kappa: mean-reversion speed, per year, > 0.
        theta: long-run variance, > 0.
        xi: volatility of variance, > 0.
        rho: correlation of spot and variance shocks, in [-1, 1] (in (-1, 1) as an input).
        rate: r, continuously compounded; dividend: q, continuous yield.
        steps_per_year: time steps per year of maturity (steps = ceil(steps_per_year * tau)).
        inputs: "spot", "variance", then optionally any of kappa, theta, xi, rho, rate, whose
            pathwise derivatives then appear in dydx.
    """

    #: Whether an asset can end below zero (normal dynamics), so a payoff's sign is
    #: checked over the whole real line (``NettingSet.sign_for``).
    signed_assets: ClassVar[bool] = False
    #: Inputs whose bounds are not "0 open, the rest closed" (``samplers.input_domain``): a
    #: variance of 0 is a state the scheme reaches (``transition`` returns it); a correlation of
    #: +-1 as an input has no pathwise derivative (d/drho of sqrt(1 - rho^2) diverges).
    open_ends: ClassVar[dict[str, tuple[bool, bool]]] = {"variance": (False, False),
                                                         "rho": (True, True)}

    kappa: float
    theta: float
    xi: float
    rho: float
    rate: float = 0.0
    dividend: float = 0.0
    steps_per_year: int = 252
    inputs: tuple[str, ...] = ("spot", "variance")

    def __post_init__(self) -> None:
        o = "Heston"
        for name in ("kappa", "theta", "xi"):
            object.__setattr__(self, name, v.positive(o, name, getattr(self, name)))
        object.__setattr__(self, "rho", v.in_range(o, "rho", self.rho, -1.0, 1.0))
        object.__setattr__(self, "rate", v.finite(o, "rate", self.rate))
        object.__setattr__(self, "dividend", v.finite(o, "dividend", self.dividend))
        steps = v.positive_int(o, "steps_per_year", self.steps_per_year)
        if steps > MAX_STEPS_PER_YEAR:
            v.fail(o, "steps_per_year", f"an int in [1, {MAX_STEPS_PER_YEAR}]", steps)
        object.__setattr__(self, "steps_per_year", steps)
        if isinstance(self.inputs, str):  # a bare name, not split into its characters
            v.fail(o, "inputs", "a sequence of input names such as ('spot', 'variance')",
                   self.inputs)
        inputs = tuple(self.inputs)
        if (inputs[:2] != ("spot", "variance") or len(set(inputs)) != len(inputs)
                or any(i not in PARAM_INPUTS for i in inputs[2:])):
            v.fail(o, "inputs", f"'spot', 'variance' followed by any of {PARAM_INPUTS}", inputs)
        object.__setattr__(self, "inputs", inputs)
        if not self.feller:
            warnings.warn(
                f"Heston parameters violate the Feller condition: 2 kappa theta = "
                f"{2 * self.kappa * self.theta:.6g} <= xi^2 = {self.xi ** 2:.6g}. The variance "
                "reaches 0 and the pathwise derivative dV/dv0 becomes heavy-tailed; sample "
                "training parameters inside the Feller region for stable differentials.",
                stacklevel=3,
            )

    dim = 1

    @property
    def feller(self) -> bool:
        """True when 2 kappa theta > xi^2 (the variance stays positive)."""
        return 2.0 * self.kappa * self.theta > self.xi ** 2

    @property
    def state_inputs(self) -> tuple[str, ...]:
        return ("spot", "variance")

    def steps(self, tau: float, field: str = "maturity", owner: str = "Heston") -> int:
        """Time steps of a path over ``tau`` years: ceil(steps_per_year x tau), at least 1.
        Raises ValueError naming ``field`` of ``owner`` when that exceeds
        :data:`MAX_PATH_STEPS`."""
        n = max(1, math.ceil(self.steps_per_year * tau - 1e-9))
        if n > MAX_PATH_STEPS:
            v.fail(owner, field, f"<= {MAX_PATH_STEPS} / steps_per_year = "
                   f"{MAX_PATH_STEPS / self.steps_per_year:g} years (at most {MAX_PATH_STEPS} "
                   "time steps per path)", tau)
        return n

    def input_bounds(self) -> dict[str, tuple[float, float]]:
        return {"spot": (0.0, math.inf), "variance": (0.0, math.inf), "kappa": (0.0, math.inf),
                "theta": (0.0, math.inf), "xi": (0.0, math.inf), "rho": (-1.0, 1.0),
                "rate": (-math.inf, math.inf)}

    def forward_state(self, sampler, seed: int, first_path: int, n_paths: int) -> np.ndarray:
        """(S1, v1): the model's scheme run to T1 from (spot, variance) on the sampler stream,
        with the spot's diffusion scaled by vol_mult (driftless in ln S); shape (n_paths, 2)."""
        from .rng import STREAM_SAMPLER

        v0 = self.theta if sampler.variance is None else sampler.variance
        out = np.empty((n_paths, 2))
        _forward_kernel(np.uint64(seed), np.uint64(STREAM_SAMPLER), np.uint64(first_path),
                        sampler.spots(1)[0], v0, sampler.horizon,
                        self.steps(sampler.horizon, "horizon", "ForwardSampler"),
                        self.kappa, self.theta, self.xi, self.rho, sampler.vol_mult, out)
        return out

    def to_dict(self) -> dict:
        return {"type": "Heston", "kappa": self.kappa, "theta": self.theta, "xi": self.xi,
                "rho": self.rho, "rate": self.rate, "dividend": self.dividend,
                "steps_per_year": self.steps_per_year, "inputs": list(self.inputs)}


@njit(parallel=True, cache=True, error_model="numpy")
def _forward_kernel(seed, stream, first_path, s0, v0, horizon, steps, kappa, theta, xi, rho,
                    mult, out):
    """The sampler's scheme to T1 (``forward_state``), a block of 256 paths at a time: per two
    steps the block's four normals (``rng.draw_normals_block``), then the steps, vectorised
    across paths (``_sampler_steps``). The numbers of the per-path loop, path by path."""
    dt = horizon / steps
    srho = math.sqrt(max(1.0 - rho * rho, 0.0))
    n = out.shape[0]
    width = 256
    for b in prange((n + width - 1) // width):
        lo = b * width
        m = min(n, lo + width) - lo
        xs = np.empty(width)
        var = np.empty(width)
        z4 = np.empty((4, width))
        z2 = np.empty((2, width))  # the last block of an odd number of steps
        work = np.empty((BLOCK_SCRATCH_ROWS, width))
        idx = np.empty(width, dtype=np.int64)
        x0 = math.log(s0)
        for j in range(m):
            xs[j] = x0
            var[j] = v0
        for bk in range((steps + 1) // 2):
            zs = z4 if 2 * steps - 4 * bk >= 4 else z2
            draw_normals_block(seed, stream, first_path + np.uint64(lo), m, 4 * bk, zs, work,
                               idx)
            for kk in range(2):
                if 2 * bk + kk < steps:
                    _sampler_steps(zs[2 * kk], zs[2 * kk + 1], xs, var, kappa, theta, xi, rho,
                                   srho, mult, dt, m)
        for j in range(m):
            out[lo + j, 0] = math.exp(xs[j])
            out[lo + j, 1] = max(var[j], 1e-8)


@njit(cache=True, error_model="numpy")
def _sampler_steps(z1s, z2s, xs, var, kappa, theta, xi, rho, srho, mult, dt, m):
    """One step of the sampler's scheme (the spot's diffusion scaled by ``mult``, driftless in
    ln S) for the paths j < m of a block."""
    for j in range(m):
        z1 = z1s[j]
        vp = max(var[j], 0.0)
        sv = math.sqrt(vp * dt)
        xs[j] += -0.5 * mult * mult * vp * dt + mult * sv * z1
        var[j] += kappa * (theta - vp) * dt + xi * sv * (rho * z1 + srho * z2s[j])


@njit(inline="always", cache=True)
def heston_step(xl, var, z1, z2, r, q, kappa, theta, xi, rho, srho, dt):
    """One log-Euler full-truncation step from (ln S_k, v_k) with normals (z1, z2); returns
    (ln S_{k+1}, v_{k+1}, sqrt(v_k+ dt)). ``srho`` = sqrt(max(1 - rho^2, 0))."""
    vp = max(var, 0.0)
    sv = math.sqrt(vp * dt)
    xl += (r - q - 0.5 * vp) * dt + sv * z1
    var += kappa * (theta - vp) * dt + xi * sv * (rho * z1 + srho * z2)
    return xl, var, sv


@njit(inline="always", cache=True)
def heston_step_adjoint(sv, z1, z2, xbar, vbar, kb, tb, xib, rhob, rb, kappa, theta, xi, rho,
                        srho, rho_srho, dt):
    """The reverse of :func:`heston_step` given its stored sqrt(v_k+ dt) ``sv`` and its normals:
    from the adjoints of step k + 1 (``xbar`` of ln S, which the scheme leaves constant,
    ``vbar`` of v) accumulates those of kappa, theta, xi, rho and r and returns
    (vbar_k, kb, tb, xib, rhob, rb). ``rho_srho`` = rho / srho (when srho > 0), hoisted out of
    the step loop by the caller. Written without loops or calls, so that a loop over paths
    vectorises (the branches become selects)."""
    vp = sv * sv / dt
    wv = rho * z1 + srho * z2
    # ln S_{k+1} = ln S_k + (r - q - vp/2) dt + sv z1
    rb += xbar * dt
    vpb = -0.5 * dt * xbar
    svb = xbar * z1
    # v_{k+1} = v_k + kappa (theta - vp) dt + xi sv (rho z1 + srho z2)
    kb += vbar * (theta - vp) * dt
    tb += vbar * kappa * dt
    vpb -= vbar * kappa * dt
    xib += vbar * sv * wv
    svb += vbar * xi * wv
    if srho > 0.0:
        rhob += vbar * xi * sv * (z1 - rho_srho * z2)
    if sv > 0.0:  # v_k > 0: the untruncated branch
        vpb += svb * 0.5 * dt / sv
        vbar += vpb
    return vbar, kb, tb, xib, rhob, rb


@njit(inline="always", cache=True)
def heston_path(s0, v0, kappa, theta, xi, rho, r, q, tau, steps, aggs, kinds, strikes,
                quantities, weights, seed, path, antithetic, with_gradient, vs):
    """One path (or antithetic pair) forward and back; the per-path code of every backend.

    The payoff h is the product's legs ``(aggs, kinds, strikes, quantities, weights)``
    (weights of shape (L, 1), see :mod:`simulators.products._payoff`).

    ``vs`` is scratch for the variance path (any 1-D view of length >= steps: a thread-local
    array on the CPU, a strided column of a step-major global buffer on the GPU). The forward
    sweep stores sqrt(v_k+ dt), from which the reverse sweep recovers v_k+ = sv^2 / dt and the
    truncation branch (v_k > 0 exactly when sv > 0), so it needs no square root; it regenerates
    the normals (draws 2k, 2k+1 of ``path``) from the counter-based RNG.

    Returns (y, dy/dS, dy/dv0, dy/dkappa, dy/dtheta, dy/dxi, dy/drho, dy/dr), each averaged
    over the antithetic pair when ``antithetic``; the derivatives are 0 when not
    ``with_gradient``.
    """
    dt = tau / steps
    srho = math.sqrt(max(1.0 - rho * rho, 0.0))
    rho_srho = rho / srho if srho > 0.0 else 0.0
    disc = math.exp(-r * tau)
    a_y = 0.0
    a_s = 0.0
    a_v = 0.0
    a_k = 0.0
    a_t = 0.0
    a_xi = 0.0
    a_rho = 0.0
    a_r = 0.0
    passes = 2 if antithetic else 1
    for p in range(passes):
        sgn = 1.0 if p == 0 else -1.0
        xl = math.log(s0)
        var = v0
        z = (0.0, 0.0, 0.0, 0.0)
        for k in range(steps):
            if k % 2 == 0:
                z = normal4(seed, 0, path, k // 2)
            z1 = sgn * z[2 * (k % 2)]
            z2 = sgn * z[2 * (k % 2) + 1]
            xl, var, sv = heston_step(xl, var, z1, z2, r, q, kappa, theta, xi, rho, srho, dt)
            vs[k] = sv
        s_t = math.exp(xl)
        h, dh = payoff_scalar(aggs, kinds, strikes, quantities, weights, s_t)
        yv = disc * h
        a_y += yv
        if not with_gradient:
            continue
        xbar = disc * dh * s_t
        vbar = 0.0
        kb = 0.0
        tb = 0.0
        xib = 0.0
        rhob = 0.0
        rb = -tau * yv
        for k in range(steps - 1, -1, -1):
            if k == steps - 1 or k % 2 == 1:
                z = normal4(seed, 0, path, k // 2)
            z1 = sgn * z[2 * (k % 2)]
            z2 = sgn * z[2 * (k % 2) + 1]
            vbar, kb, tb, xib, rhob, rb = heston_step_adjoint(
                vs[k], z1, z2, xbar, vbar, kb, tb, xib, rhob, rb, kappa, theta, xi, rho, srho,
                rho_srho, dt)
        a_s += xbar / s0
        a_v += vbar
        a_k += kb
        a_t += tb
        a_xi += xib
        a_rho += rhob
        a_r += rb
    return (a_y / passes, a_s / passes, a_v / passes, a_k / passes, a_t / passes,
            a_xi / passes, a_rho / passes, a_r / passes)


@njit(cache=True, error_model="numpy")
def _forward_steps(z1s, z2s, sgn, xl, var, vk, rs, q, kap, the, xis, rhos, srho, dt, m):
    """:func:`heston_step` for the paths j < m of a block (one step; vectorised); stores
    sqrt(v_k+ dt) into ``vk``. Compiled on its own (see ``rng.draw_normals_block``)."""
    for j in range(m):
        xl[j], var[j], vk[j] = heston_step(xl[j], var[j], sgn * z1s[j], sgn * z2s[j], rs[j], q,
                                           kap[j], the[j], xis[j], rhos[j], srho[j], dt)


@njit(cache=True, error_model="numpy")
def _adjoint_steps(z1s, z2s, sgn, vk, xbar, vbar, kb, tb, xib, rhob, rb, kap, the, xis, rhos,
                   srho, rho_srho, dt, m):
    """:func:`heston_step_adjoint` for the paths j < m of a block (one step; vectorised)."""
    for j in range(m):
        vbar[j], kb[j], tb[j], xib[j], rhob[j], rb[j] = heston_step_adjoint(
            vk[j], sgn * z1s[j], sgn * z2s[j], xbar[j], vbar[j], kb[j], tb[j], xib[j], rhob[j],
            rb[j], kap[j], the[j], xis[j], rhos[j], srho[j], rho_srho[j], dt)


@njit(inline="always", cache=True)
def heston_forward_sweep(seed, stream, fp, m, steps, sgn, xl, var, vs, rs, q, kap, the, xis, rhos,
                         srho, dt, zs, z2, work, idx):
    """The forward sweep of paths ``fp .. fp + m - 1`` (normals of ``stream``, multiplied by
    ``sgn``): ``steps`` steps of :func:`heston_step` from (ln S_0, v_0) in ``xl``, ``var`` (rows
    of length >= m, updated in place to step N), storing sqrt(v_k+ dt) into ``vs[k]``. Every
    two steps the block's four normals (draws 4b .. 4b + 3: z1, z2 of step 2b, then of step
    2b + 1) are drawn together into ``zs`` (4, w), or ``z2`` (2, w) for the last step of an odd
    number; ``work``, ``idx``: the scratch of ``rng.normals_block``. Per-path parameters are
    rows (``rs``, ``kap``, ``the``, ``xis``, ``rhos``, ``srho``); ``q`` and ``dt`` scalars."""
    for bk in range((steps + 1) // 2):
        zb = zs if 2 * steps - 4 * bk >= 4 else z2
        draw_normals_block(seed, stream, fp, m, 4 * bk, zb, work, idx)
        for kk in range(2):
            k = 2 * bk + kk
            if k < steps:
                _forward_steps(zb[2 * kk], zb[2 * kk + 1], sgn, xl, var, vs[k], rs, q, kap, the,
                               xis, rhos, srho, dt, m)


@njit(inline="always", cache=True)
def heston_reverse_sweep(seed, stream, fp, m, steps, sgn, vs, xbar, vbar, kb, tb, xib, rhob, rb,
                         kap, the, xis, rhos, srho, rho_srho, dt, zs, z2, work, idx):
    """The reverse of :func:`heston_forward_sweep` from given cotangents of step N: ``xbar`` (of
    ln S_N, constant through the steps) and ``vbar`` (of v_N), rows updated in place to those
    of (ln S_0, v_0); the parameters' adjoints accumulate into ``kb``, ``tb``, ``xib``,
    ``rhob``, ``rb``. Reads the stored ``vs`` and regenerates the normals, block by block
    backwards (:func:`heston_step_adjoint` per step). The payoff's adjoint starts it from
    xbar = e^{-r tau} h'(S_N) S_N, vbar = 0; the one-step transition's vector-Jacobian product
    (:mod:`simulators.transition`) from an arbitrary cotangent of (S_N, v_N)."""
    for bk in range((steps + 1) // 2 - 1, -1, -1):
        zb = zs if 2 * steps - 4 * bk >= 4 else z2
        draw_normals_block(seed, stream, fp, m, 4 * bk, zb, work, idx)
        for kk in range(1, -1, -1):
            k = 2 * bk + kk
            if k < steps:
                _adjoint_steps(zb[2 * kk], zb[2 * kk + 1], sgn, vs[k], xbar, vbar, kb, tb, xib,
                               rhob, rb, kap, the, xis, rhos, srho, rho_srho, dt, m)


def heston_block_width(steps: int) -> int:
    """Paths per block of the CPU kernel: 256, fewer for long paths, so that the block's
    variance path (steps x width doubles) stays within 4 MiB (a multiple of 8 down to 8 paths,
    then down to a single path, the memory of the per-path function)."""
    w = (4 << 20) // (8 * steps)
    return int(min(256, w // 8 * 8) if w >= 8 else max(1, w))


HESTON_BLOCK_ROWS = 27
"""Rows of the float64 scratch of :func:`heston_block` (per-path parameters, state, adjoints)."""


@njit(inline="always", cache=True)
def heston_block(x, lo, m, cols, kappa0, theta0, xi0, rho0, rate0, q, tau, steps, aggs, kinds,
                 strikes, quantities, weights, seed, first_path, antithetic, with_gradient, buf,
                 vs, zs, work, idx, y, dydx):
    """:func:`heston_path` for paths ``lo .. lo + m - 1`` of ``x``, the same numbers path by
    path, with the loops swapped: steps outside, paths inside (vectorised; the CPU kernel).

    Every two steps the four normals of the block's paths are drawn together
    (``rng.normals_block``, rows z1, z2 of step 2b and of step 2b + 1); the reverse sweep
    regenerates them the same way, block by block backwards, so no normal is stored. Each pass
    over the block's paths is a function compiled on its own (``_forward_steps``,
    ``_adjoint_steps``, ``rng.draw_normals_block``), so that it vectorises. Scratch: buf float64
    (HESTON_BLOCK_ROWS, w); vs float64 (steps, w), the variance path as sqrt(v_k+ dt) (as in
    ``heston_path``); zs float64 (4, w); work float64 (rng.BLOCK_SCRATCH_ROWS, w) and idx int64
    (w,), the scratch of ``rng.normals_block``; w >= m. Writes y[lo:lo+m] and, with
    ``with_gradient``, the derivatives into dydx[lo:lo+m] (spot, variance, declared parameters).
    """
    dt = tau / steps
    kap, the, xis, rhos, rs, srho, disc = buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6]
    s0, xl, var, xbar, vbar = buf[7], buf[8], buf[9], buf[10], buf[11]
    kb, tb, xib, rhob, rb = buf[12], buf[13], buf[14], buf[15], buf[16]
    a_y, a_s, a_v, a_k, a_t = buf[17], buf[18], buf[19], buf[20], buf[21]
    a_xi, a_rho, a_r, v0, rho_srho = buf[22], buf[23], buf[24], buf[25], buf[26]
    for j in range(m):
        i = lo + j
        s0[j] = x[i, 0]
        v0[j] = x[i, 1]
        kap[j] = x[i, cols[0]] if cols[0] >= 0 else kappa0
        the[j] = x[i, cols[1]] if cols[1] >= 0 else theta0
        xis[j] = x[i, cols[2]] if cols[2] >= 0 else xi0
        rhos[j] = x[i, cols[3]] if cols[3] >= 0 else rho0
        rs[j] = x[i, cols[4]] if cols[4] >= 0 else rate0
    for j in range(m):
        srho[j] = math.sqrt(max(1.0 - rhos[j] * rhos[j], 0.0))
        rho_srho[j] = rhos[j] / srho[j] if srho[j] > 0.0 else 0.0
        a_y[j] = 0.0
        a_s[j] = 0.0
        a_v[j] = 0.0
        a_k[j] = 0.0
        a_t[j] = 0.0
        a_xi[j] = 0.0
        a_rho[j] = 0.0
        a_r[j] = 0.0
    for j in range(m):
        disc[j] = math.exp(-rs[j] * tau)
    z2 = np.empty((2, zs.shape[1]))  # the last block of an odd number of steps
    fp = first_path + np.uint64(lo)
    passes = 2 if antithetic else 1
    for p in range(passes):
        sgn = 1.0 if p == 0 else -1.0
        for j in range(m):
            xl[j] = math.log(s0[j])
            var[j] = v0[j]
        heston_forward_sweep(seed, 0, fp, m, steps, sgn, xl, var, vs, rs, q, kap, the, xis, rhos,
                             srho, dt, zs, z2, work, idx)
        for j in range(m):
            s_t = math.exp(xl[j])
            h, dh = payoff_scalar(aggs, kinds, strikes, quantities, weights, s_t)
            yv = disc[j] * h
            a_y[j] += yv
            xbar[j] = disc[j] * dh * s_t
            rb[j] = -tau * yv
        if not with_gradient:
            continue
        for j in range(m):
            vbar[j] = 0.0
            kb[j] = 0.0
            tb[j] = 0.0
            xib[j] = 0.0
            rhob[j] = 0.0
        heston_reverse_sweep(seed, 0, fp, m, steps, sgn, vs, xbar, vbar, kb, tb, xib, rhob, rb,
                             kap, the, xis, rhos, srho, rho_srho, dt, zs, z2, work, idx)
        for j in range(m):
            a_s[j] += xbar[j] / s0[j]
            a_v[j] += vbar[j]
            a_k[j] += kb[j]
            a_t[j] += tb[j]
            a_xi[j] += xib[j]
            a_rho[j] += rhob[j]
            a_r[j] += rb[j]
    for j in range(m):
        i = lo + j
        y[i] = a_y[j] / passes
        if with_gradient:
            dydx[i, 0] = a_s[j] / passes
            dydx[i, 1] = a_v[j] / passes
            if cols[0] >= 0:
                dydx[i, cols[0]] = a_k[j] / passes
            if cols[1] >= 0:
                dydx[i, cols[1]] = a_t[j] / passes
            if cols[2] >= 0:
                dydx[i, cols[2]] = a_xi[j] / passes
            if cols[3] >= 0:
                dydx[i, cols[3]] = a_rho[j] / passes
            if cols[4] >= 0:
                dydx[i, cols[4]] = a_r[j] / passes
