"""Correlated Black-Scholes basket, exact one-step scheme, with its hand-written adjoint.

S_T,i = S_i exp((r - q_i - sigma_i^2/2) tau + sigma_i sqrt(tau) W_i), W = L Z with L the Cholesky
factor of the correlation matrix; y = e^{-r tau} h(S_T). Reverse sweep from ybar = 1:
S_T-bar = e^{-r tau} dh/dS_T, dy/dS_i = S_T-bar_i S_T,i / S_i,
dy/dsigma_i = S_T-bar_i S_T,i (sqrt(tau) W_i - sigma_i tau).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from . import _validation as v
from . import rng
from ._passes import (
    add_rows,
    exp_rows,
    fill_rows,
    gather_columns,
    lower_matvec,
    payoff_pass,
    scatter_columns,
)
from .products._payoff import payoff_vector
from .rng import fill_normals


@dataclass(frozen=True)
class BlackScholesBasket:
    """n correlated lognormal assets.

    Attributes:
        vols: sigma_i, annualised, shape (n,), > 0.
        correlation: n x n correlation of the Brownian motions (symmetric, unit diagonal, PSD).
        rate: r, continuously compounded (drift and discounting).
        dividends: q_i, continuous yields, shape (n,); None means zeros.
        vol_inputs: if True the vols are sampled inputs too (columns vol_0..vol_{n-1} after the
            spots), and dydx holds the per-asset vegas.
    """

    #: Whether an asset can end below zero (normal dynamics), so a payoff's sign is
    #: checked over the whole real line (``NettingSet.sign_for``).
    signed_assets: ClassVar[bool] = False

    vols: tuple[float, ...]
    correlation: tuple[tuple[float, ...], ...]
    rate: float = 0.0
    dividends: tuple[float, ...] | None = None
    vol_inputs: bool = False

    def __post_init__(self) -> None:
        o = "BlackScholesBasket"
        vols = v.positive_vector(o, "vols", self.vols)
        object.__setattr__(self, "vols", vols)
        object.__setattr__(
            self, "correlation", v.correlation_matrix(o, "correlation", self.correlation, len(vols))
        )
        object.__setattr__(self, "rate", v.finite(o, "rate", self.rate))
        divs = (0.0,) * len(vols) if self.dividends is None else self.dividends
        object.__setattr__(self, "dividends", v.vector(o, "dividends", divs, len(vols)))
        if not isinstance(self.vol_inputs, (bool, np.bool_)):
            v.fail(o, "vol_inputs", "True or False", self.vol_inputs)
        object.__setattr__(self, "vol_inputs", bool(self.vol_inputs))

    @property
    def dim(self) -> int:
        return len(self.vols)

    @property
    def state_inputs(self) -> tuple[str, ...]:
        return tuple(f"spot_{j}" for j in range(self.dim))

    @property
    def inputs(self) -> tuple[str, ...]:
        extra = tuple(f"vol_{j}" for j in range(self.dim)) if self.vol_inputs else ()
        return self.state_inputs + extra

    def input_bounds(self) -> dict[str, tuple[float, float]]:
        return {name: (0.0, math.inf) for name in self.inputs}

    def cholesky(self) -> np.ndarray:
        """Lower factor of the correlation matrix, shape (n, n)."""
        return v.psd_cholesky(np.asarray(self.correlation))

    def forward_state(self, sampler, seed: int, first_path: int, n_paths: int) -> np.ndarray:
        """S1_i = S0_i exp(-v_i^2 T1/2 + v_i sqrt(T1) (L N)_i), v = vol_mult vols; (n_paths, n)."""
        z = rng.normals(seed, n_paths, self.dim, first_path=first_path, stream=rng.STREAM_SAMPLER)
        w = z @ self.cholesky().T
        vv = sampler.vol_mult * np.asarray(self.vols)
        t1 = sampler.horizon
        return sampler.spots(self.dim) * np.exp(-0.5 * vv * vv * t1 + vv * math.sqrt(t1) * w)

    def to_dict(self) -> dict:
        return {"type": "BlackScholesBasket", "vols": list(self.vols),
                "correlation": [list(r) for r in self.correlation], "rate": self.rate,
                "dividends": list(self.dividends), "vol_inputs": self.vol_inputs}


@njit(inline="always", cache=True)
def bs_basket_path(x, chol, vols, dividends, vol_inputs, rate, tau, sqt, disc, aggs, kinds,
                   strikes, quantities, weights, seed, path, antithetic, z, w, sig, s, g, dydx):
    """One path (or antithetic pair) forward and back; the per-path code of every backend.

    x: (d,) spots, then (d,) vols when ``vol_inputs``; z, w, sig, s, g: (d,) scratch (normals,
    correlated normals W = L Z, vols, terminal spots, payoff gradient; any 1-D views). Writes
    dy/dx into ``dydx`` (d or 2d) and returns y. ``sqt`` = sqrt(tau), ``disc`` = e^{-r tau}.
    The payoff h is the product's legs ``(aggs, kinds, strikes, quantities, weights)`` (see
    :mod:`simulators.products._payoff`).
    """
    fill_normals(seed, 0, path, z)
    return bs_basket_path_z(x, chol, vols, dividends, vol_inputs, rate, tau, sqt, disc, aggs,
                            kinds, strikes, quantities, weights, antithetic, z, w, sig, s, g,
                            dydx)


@njit(inline="always", cache=True)
def bs_basket_path_z(x, chol, vols, dividends, vol_inputs, rate, tau, sqt, disc, aggs, kinds,
                     strikes, quantities, weights, antithetic, z, w, sig, s, g, dydx):
    """:func:`bs_basket_path` given the path's normals ``z`` (d,) (the CPU kernels draw them
    for a block of paths at a time, ``rng.normals_block``)."""
    d = chol.shape[0]
    m = dydx.shape[0]
    for j in range(m):
        dydx[j] = 0.0
    for j in range(d):
        sig[j] = x[d + j] if vol_inputs else vols[j]
    acc_y = 0.0
    passes = 2 if antithetic else 1
    for p in range(passes):
        sgn = 1.0 if p == 0 else -1.0
        for j in range(d):
            acc = 0.0
            for k in range(j + 1):
                acc += chol[j, k] * z[k]
            w[j] = sgn * acc
            s[j] = x[j] * math.exp((rate - dividends[j] - 0.5 * sig[j] * sig[j]) * tau
                                   + sig[j] * sqt * w[j])
        acc_y += payoff_vector(aggs, kinds, strikes, quantities, weights, s, g)
        for j in range(d):
            dydx[j] += g[j] * s[j] / x[j]
            if vol_inputs:
                dydx[d + j] += g[j] * s[j] * (sqt * w[j] - sig[j] * tau)
    scale = disc / passes
    for j in range(m):
        dydx[j] *= scale
    return scale * acc_y


@njit(cache=True, error_model="numpy")
def bs_basket_block(x, lo, m, chol, vols, dividends, vol_inputs, rate, tau, sqt, disc, aggs,
                    kinds, strikes, quantities, weights, antithetic, z, buf, arg, y, dydx):
    """:func:`bs_basket_path_z` for paths ``lo .. lo + m - 1`` of ``x``, the same numbers path
    by path, as passes over the paths (``simulators._passes``; the CPU kernel): the
    exponentials in a pass of their own (libm), every other pass vectorised.

    z: (d, >= m) normals, one row per asset (``rng.normals_block``); buf: float64
    (8 d + 5, >= m) and arg: int64 (>= m,) scratch. Writes y[lo:lo+m] and dydx[lo:lo+m].
    """
    d = chol.shape[0]
    xs = buf[0:d]
    sig = buf[d:2 * d]
    w = buf[2 * d:3 * d]
    s = buf[3 * d:4 * d]
    g = buf[4 * d:5 * d]
    n_out = 2 * d if vol_inputs else d
    dacc = buf[5 * d:5 * d + n_out]
    e = 7 * d
    acc_y, h, u, du = buf[e:e + 1], buf[e + 1], buf[e + 2], buf[e + 3]
    gather_columns(x, lo, m, 0, xs)
    if vol_inputs:
        gather_columns(x, lo, m, d, sig)
    else:
        for a in range(d):
            sig[a, :m] = vols[a]
    fill_rows(dacc, m, 0.0)
    fill_rows(acc_y, m, 0.0)
    passes = 2 if antithetic else 1
    for p in range(passes):
        sgn = 1.0 if p == 0 else -1.0
        lower_matvec(chol, z, m, w)
        _exponents(w, sig, sgn, rate, dividends, tau, sqt, m, s)
        exp_rows(s, m)
        _terminal(xs, m, s)
        payoff_pass(aggs, kinds, strikes, quantities, weights, s, m, h, g, u, du, arg)
        add_rows(buf[e + 1:e + 2], m, acc_y)
        _gradient(g, s, xs, w, sig, sqt, tau, vol_inputs, m, dacc)
    scale = disc / passes
    for j in range(m):
        y[lo + j] = scale * acc_y[0, j]
    scatter_columns(dacc, scale, lo, m, 0, dydx)


@njit(cache=True, error_model="numpy")
def _exponents(w, sig, sgn, rate, dividends, tau, sqt, m, s):
    """W = sgn (L Z) in place, then ln(S_T / S) = (r - q - sigma^2/2) tau + sigma sqrt(tau) W
    into ``s``, row by row (the per-path expressions)."""
    for a in range(w.shape[0]):
        mu = rate - dividends[a]
        for j in range(m):
            w[a, j] = sgn * w[a, j]
            s[a, j] = (mu - 0.5 * sig[a, j] * sig[a, j]) * tau + sig[a, j] * sqt * w[a, j]


@njit(cache=True, error_model="numpy")
def _terminal(xs, m, s):
    """S_T = S exp(...): ``s = xs * s`` row by row."""
    for a in range(s.shape[0]):
        for j in range(m):
            s[a, j] = xs[a, j] * s[a, j]


@njit(cache=True, error_model="numpy")
def _gradient(g, s, xs, w, sig, sqt, tau, vol_inputs, m, dacc):
    """Adds the pass's dy/dS_i = h_i S_T,i / S_i (and dy/dsigma_i = h_i S_T,i (sqrt(tau) W_i -
    sigma_i tau) when the vols are inputs) to ``dacc``, row by row."""
    d = g.shape[0]
    for a in range(d):
        for j in range(m):
            dacc[a, j] += g[a, j] * s[a, j] / xs[a, j]
    if vol_inputs:
        for a in range(d):
            for j in range(m):
                dacc[d + a, j] += g[a, j] * s[a, j] * (sqt * w[a, j] - sig[a, j] * tau)
