"""Black-Scholes model, exact one-step scheme, with its hand-written adjoint.

S_T = S exp((r - q - sigma^2/2) tau + sigma sqrt(tau) Z), tau = product maturity (years from the
input date), discount e^{-r tau}; q = ``dividend`` (continuous yield; drift = rate - dividend).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from . import _validation as v
from . import rng
from .products._payoff import payoff_one_leg, payoff_scalar

INPUTS_ALLOWED = ("spot", "vol", "rate")


@dataclass(frozen=True)
class BlackScholes:
    """Lognormal single-asset model.

    Attributes:
        vol: sigma, annualised, > 0 (the value used when vol is not a sampled input).
        rate: r, continuously compounded, per year.
        dividend: q, continuous dividend yield, per year.
        inputs: the sampled inputs, in column order: "spot" first, then optionally "vol" and
            "rate"; their pathwise derivatives (delta, vega, rho) are the columns of ``dydx``.
    """

    #: Whether an asset can end below zero (normal dynamics), so a payoff's sign is
    #: checked over the whole real line (``NettingSet.sign_for``).
    signed_assets: ClassVar[bool] = False

    vol: float
    rate: float = 0.0
    dividend: float = 0.0
    inputs: tuple[str, ...] = ("spot",)

    def __post_init__(self) -> None:
        o = "BlackScholes"
        object.__setattr__(self, "vol", v.positive(o, "vol", self.vol))
        object.__setattr__(self, "rate", v.finite(o, "rate", self.rate))
        object.__setattr__(self, "dividend", v.finite(o, "dividend", self.dividend))
        if isinstance(self.inputs, str):  # a bare name, not split into its characters
            v.fail(o, "inputs", "a sequence of input names such as ('spot',)", self.inputs)
        inputs = tuple(self.inputs)
        if (
            not inputs
            or inputs[0] != "spot"
            or len(set(inputs)) != len(inputs)
            or any(i not in INPUTS_ALLOWED for i in inputs)
        ):
            v.fail(o, "inputs", "'spot' followed by any of 'vol', 'rate' (no repeats)", inputs)
        object.__setattr__(self, "inputs", inputs)

    dim = 1  # number of assets

    @property
    def state_inputs(self) -> tuple[str, ...]:
        return ("spot",)

    def input_bounds(self) -> dict[str, tuple[float, float]]:
        """Admissible range of each input (for sampler validation)."""
        return {"spot": (0.0, math.inf), "vol": (0.0, math.inf), "rate": (-math.inf, math.inf)}

    def forward_state(self, sampler, seed: int, first_path: int, n_paths: int) -> np.ndarray:
        """S1 = S0 exp(-v^2 T1 / 2 + v sqrt(T1) N), v = vol_mult * vol; shape (n_paths, 1)."""
        z = rng.normals(seed, n_paths, 1, first_path=first_path, stream=rng.STREAM_SAMPLER)
        vv = sampler.vol_mult * self.vol
        t1 = sampler.horizon
        return sampler.spots(1)[0] * np.exp(-0.5 * vv * vv * t1 + vv * math.sqrt(t1) * z)

    def to_dict(self) -> dict:
        return {"type": "BlackScholes", "vol": self.vol, "rate": self.rate,
                "dividend": self.dividend, "inputs": list(self.inputs)}


@njit(inline="always", cache=True)
def bs_exponent(sig, r, q, tau, sqt, z):
    """ln(S_T / S) = (r - q - sigma^2/2) tau + sigma sqrt(tau) Z."""
    return (r - q - 0.5 * sig * sig) * tau + sig * sqt * z


@njit(inline="always", cache=True)
def bs_path(s0, sig, r, q, tau, sqt, disc, z, aggs, kinds, strikes, quantities, weights):
    """One path forward and back; ``sqt`` = sqrt(tau) and ``disc`` = e^{-r tau} come from the
    caller (hoisted out of the path loop unless the rate is a sampled input). The payoff h is
    the product's legs ``(aggs, kinds, strikes, quantities, weights)`` (weights of shape (L, 1),
    see :mod:`simulators.products._payoff`).

    Returns (y, dy/dS, dy/dsigma, dy/dr) for y = e^{-r tau} h(S_T). The reverse sweep starts
    from ybar = 1: S_T-bar = e^{-r tau} h'(S_T), then dS_T/dS = S_T/S,
    dS_T/dsigma = S_T (-sigma tau + sqrt(tau) Z), dS_T/dr = S_T tau, d(disc)/dr = -tau disc.
    """
    growth = math.exp(bs_exponent(sig, r, q, tau, sqt, z))
    return bs_terminal(s0, sig, tau, sqt, disc, z, growth, aggs, kinds, strikes, quantities,
                       weights)


@njit(inline="always", cache=True)
def bs_terminal(s0, sig, tau, sqt, disc, z, growth, aggs, kinds, strikes, quantities, weights):
    """:func:`bs_path` from ``growth`` = exp(:func:`bs_exponent`) = S_T / S: the CPU kernels
    evaluate the exponentials in a pass of their own, so that the passes before and after
    (no libm calls) vectorise across paths."""
    s_t = s0 * growth
    h, dh = payoff_scalar(aggs, kinds, strikes, quantities, weights, s_t)
    return _bs_adjoint(s0, sig, tau, sqt, disc, z, s_t, h, dh)


@njit(inline="always", cache=True)
def bs_terminal_one_leg(s0, sig, tau, sqt, disc, z, growth, agg, kind, strike, quantity,
                        weight):
    """:func:`bs_terminal` for a product of one leg given as scalars (``weight`` =
    weights[0, 0]): the same result, bit for bit, with the leg hoisted out of the caller's path
    loop."""
    s_t = s0 * growth
    h, dh = payoff_one_leg(agg, kind, strike, quantity, weight, s_t)
    return _bs_adjoint(s0, sig, tau, sqt, disc, z, s_t, h, dh)


@njit(inline="always", cache=True)
def _bs_adjoint(s0, sig, tau, sqt, disc, z, s_t, h, dh):
    """(y, dy/dS, dy/dsigma, dy/dr) from the terminal spot s_t and (h, h') at s_t: the reverse
    sweep of :func:`bs_terminal_adjoint` from S_T-bar = e^{-r tau} h'(S_T), plus the discount
    factor's own d(disc)/dr = -tau disc."""
    y = disc * h
    d_s0, d_sig, d_r_st = bs_terminal_adjoint(s0, sig, tau, sqt, z, s_t, disc * dh)
    return y, d_s0, d_sig, d_r_st - tau * y


@njit(inline="always", cache=True)
def bs_terminal_adjoint(s0, sig, tau, sqt, z, s_t, st_bar):
    """The reverse sweep of S_T = S exp(:func:`bs_exponent`) from a given cotangent ``st_bar``
    of S_T: returns (S-bar, sigma-bar, r-bar) = st_bar (S_T / S, S_T (sqrt(tau) Z - sigma tau),
    S_T tau), the last through S_T only (no discounting). The payoff's adjoint calls it with
    st_bar = e^{-r tau} h'(S_T); the one-step transition's vector-Jacobian product
    (:mod:`simulators.transition`) with an arbitrary cotangent."""
    d_s0 = st_bar * s_t / s0
    d_sig = st_bar * s_t * (sqt * z - sig * tau)
    d_r = st_bar * s_t * tau
    return d_s0, d_sig, d_r
