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

import numpy as np
from numba import njit, prange

from . import _validation as v
from .products._payoff import payoff_scalar
from .rng import normal4

PARAM_INPUTS = ("kappa", "theta", "xi", "rho", "rate")


MAX_STEPS_PER_YEAR = 100_000
"""Upper bound of ``Heston.steps_per_year`` (about one step every 5 minutes of a 252-day year;
the Euler scheme's paths cost O(steps), so larger values would run for days)."""


@dataclass(frozen=True)
class Heston:
    """Heston model; the state inputs are (spot, variance).

    Attributes:
        kappa: mean-reversion speed, per year, > 0.
        theta: long-run variance, > 0.
        xi: volatility of variance, > 0.
        rho: correlation of spot and variance shocks, in [-1, 1].
        rate: r, continuously compounded; dividend: q, continuous yield.
        steps_per_year: time steps per year of maturity (steps = ceil(steps_per_year * tau)).
        inputs: "spot", "variance", then optionally any of kappa, theta, xi, rho, rate, whose
            pathwise derivatives then appear in dydx.
    """

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

    def steps(self, tau: float) -> int:
        return max(1, math.ceil(self.steps_per_year * tau - 1e-9))

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
                        sampler.spots(1)[0], v0, sampler.horizon, self.steps(sampler.horizon),
                        self.kappa, self.theta, self.xi, self.rho, sampler.vol_mult, out)
        return out

    def to_dict(self) -> dict:
        return {"type": "Heston", "kappa": self.kappa, "theta": self.theta, "xi": self.xi,
                "rho": self.rho, "rate": self.rate, "dividend": self.dividend,
                "steps_per_year": self.steps_per_year, "inputs": list(self.inputs)}


@njit(parallel=True, cache=True)
def _forward_kernel(seed, stream, first_path, s0, v0, horizon, steps, kappa, theta, xi, rho,
                    mult, out):
    dt = horizon / steps
    srho = math.sqrt(max(1.0 - rho * rho, 0.0))
    for i in prange(out.shape[0]):
        x = math.log(s0)
        var = v0
        z = (0.0, 0.0, 0.0, 0.0)
        for k in range(steps):
            if k % 2 == 0:
                z = normal4(seed, stream, first_path + i, k // 2)
            z1 = z[2 * (k % 2)]
            z2 = z[2 * (k % 2) + 1]
            vp = max(var, 0.0)
            sv = math.sqrt(vp * dt)
            x += -0.5 * mult * mult * vp * dt + mult * sv * z1
            var += kappa * (theta - vp) * dt + xi * sv * (rho * z1 + srho * z2)
        out[i, 0] = math.exp(x)
        out[i, 1] = max(var, 1e-8)


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
            vp = max(var, 0.0)
            sv = math.sqrt(vp * dt)
            vs[k] = sv
            xl += (r - q - 0.5 * vp) * dt + sv * z1
            var += kappa * (theta - vp) * dt + xi * sv * (rho * z1 + srho * z2)
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
            sv = vs[k]
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
                rhob += vbar * xi * sv * (z1 - rho / srho * z2)
            if sv > 0.0:  # v_k > 0: the untruncated branch
                vpb += svb * 0.5 * dt / sv
                vbar += vpb
        a_s += xbar / s0
        a_v += vbar
        a_k += kb
        a_t += tb
        a_xi += xib
        a_rho += rhob
        a_r += rb
    return (a_y / passes, a_s / passes, a_v / passes, a_k / passes, a_t / passes,
            a_xi / passes, a_rho / passes, a_r / passes)
