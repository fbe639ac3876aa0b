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
from .rng import normal4

PARAM_INPUTS = ("kappa", "theta", "xi", "rho", "rate")


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
        object.__setattr__(self, "steps_per_year",
                           v.positive_int(o, "steps_per_year", self.steps_per_year))
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
