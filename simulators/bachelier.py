"""Correlated Bachelier (arithmetic Brownian) basket, and the Huge-Savine random construction.

S_T = S + sqrt(tau) L Z with L = chol(diag(vols) C diag(vols)): the assets are driftless (forwards);
``rate`` only discounts, y = e^{-r tau} h(S_T). dS_T/dS = identity, so the adjoint of the payoff
is the whole reverse sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from . import _validation as v
from . import rng
from ._passes import add_rows, fill_rows, gather_columns, lower_matvec, payoff_pass, scatter_columns
from .products._payoff import payoff_vector
from .products.basket import BasketOption
from .rng import fill_normals


@dataclass(frozen=True)
class BachelierBasket:
    """n correlated normal assets.

    Attributes:
        vols: absolute (normal) volatilities per asset, per sqrt(year), shape (n,), > 0.
        correlation: n x n correlation matrix (symmetric, unit diagonal, PSD).
        rate: discount rate r, continuously compounded.
    """

    #: Whether an asset can end below zero (normal dynamics), so a payoff's sign is
    #: checked over the whole real line (``NettingSet.sign_for``).
    signed_assets: ClassVar[bool] = True

    vols: tuple[float, ...]
    correlation: tuple[tuple[float, ...], ...]
    rate: float = 0.0

    def __post_init__(self) -> None:
        o = "BachelierBasket"
        vols = v.positive_vector(o, "vols", self.vols)
        object.__setattr__(self, "vols", vols)
        object.__setattr__(
            self, "correlation", v.correlation_matrix(o, "correlation", self.correlation, len(vols))
        )
        object.__setattr__(self, "rate", v.finite(o, "rate", self.rate))

    @property
    def dim(self) -> int:
        return len(self.vols)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(f"spot_{j}" for j in range(self.dim))

    @property
    def state_inputs(self) -> tuple[str, ...]:
        return self.inputs

    def input_bounds(self) -> dict[str, tuple[float, float]]:
        return {name: (-math.inf, math.inf) for name in self.inputs}

    def covariance(self) -> np.ndarray:
        """diag(vols) C diag(vols), per year, shape (n, n)."""
        s = np.asarray(self.vols)
        return s[:, None] * np.asarray(self.correlation) * s[None, :]

    def cholesky(self) -> np.ndarray:
        """Lower factor L with L L^T = covariance (zero columns for null directions)."""
        return v.psd_cholesky(self.covariance())

    def basket_vol(self, weights) -> float:
        """sqrt(w^T Sigma w): the normal volatility of sum_j w_j S_j."""
        w = np.asarray(weights, dtype=float)
        return float(math.sqrt(w @ self.covariance() @ w))

    def forward_state(self, sampler, seed: int, first_path: int, n_paths: int) -> np.ndarray:
        """S1 = S0 + vol_mult sqrt(T1) L N, shape (n_paths, dim)."""
        z = rng.normals(seed, n_paths, self.dim, first_path=first_path, stream=rng.STREAM_SAMPLER)
        return sampler.spots(self.dim) + sampler.vol_mult * math.sqrt(sampler.horizon) * (
            z @ self.cholesky().T
        )

    def to_dict(self) -> dict:
        return {"type": "BachelierBasket", "vols": list(self.vols),
                "correlation": [list(r) for r in self.correlation], "rate": self.rate}


def random_bachelier_basket(
    dim: int, seed: int, *, basket_vol: float = 0.2, strike: float = 1.10, maturity: float = 1.0
) -> tuple[BachelierBasket, BasketOption]:
    """The random basket of Huge & Savine (2020), section "Bachelier basket".

    Correlation C = R^T R for R ~ U(-1, 1) of shape (2 dim, dim), rescaled to unit diagonal;
    weights a ~ U(1, 10) normalised to sum 1; vols ~ U(5, 50) rescaled so that the basket vol
    sqrt((a*sigma)^T C (a*sigma)) equals ``basket_vol``. Returns the model and a basket call.
    The construction uses NumPy's PCG64 generator seeded with ``seed``.
    """
    o = "random_bachelier_basket"
    dim = v.positive_int(o, "dim", dim)
    seed = v.positive_int(o, "seed", seed, minimum=0)
    basket_vol = v.positive(o, "basket_vol", basket_vol)
    rng = np.random.default_rng(seed)
    r = rng.uniform(-1.0, 1.0, size=(2 * dim, dim))
    cov = r.T @ r
    d = np.sqrt(np.diag(cov))
    corr = cov / np.outer(d, d)
    np.fill_diagonal(corr, 1.0)
    corr = 0.5 * (corr + corr.T)
    a = rng.uniform(1.0, 10.0, size=dim)
    a /= a.sum()
    vols = rng.uniform(5.0, 50.0, size=dim)
    bv = math.sqrt((a * vols) @ corr @ (a * vols))
    vols *= basket_vol / bv
    model = BachelierBasket(vols=tuple(vols), correlation=corr)
    product = BasketOption(weights=tuple(a), strike=strike, maturity=maturity, kind="call")
    return model, product



@njit(inline="always", cache=True)
def bachelier_path(x, chol, sqt, disc, aggs, kinds, strikes, quantities, weights, seed, path,
                   antithetic, with_gradient, z, s, g, dydx):
    """One path (or antithetic pair) forward and back; the per-path code of every backend.

    S_T = x + sqrt(tau) L Z, y = e^{-r tau} h(S_T), dy/dx = e^{-r tau} dh/dS_T (dS_T/dx = I).
    x: (d,) inputs of the path; z, s, g: (d,) scratch (normals, terminal state, payoff
    gradient; any 1-D views); writes dy/dx into ``dydx`` (d,) and returns y. ``sqt`` =
    sqrt(tau), ``disc`` = e^{-r tau}. The payoff h is the product's legs
    ``(aggs, kinds, strikes, quantities, weights)`` (see :mod:`simulators.products._payoff`).
    Draws the path's normals (``fill_normals``), then runs :func:`bachelier_path_z`.
    """
    fill_normals(seed, 0, path, z)
    return bachelier_path_z(x, chol, sqt, disc, aggs, kinds, strikes, quantities, weights,
                            antithetic, with_gradient, z, s, g, dydx)


@njit(inline="always", cache=True)
def bachelier_path_z(x, chol, sqt, disc, aggs, kinds, strikes, quantities, weights, antithetic,
                     with_gradient, z, s, g, dydx):
    """:func:`bachelier_path` given the path's normals ``z`` (d,) (the CPU kernels draw them for
    a block of paths at a time, ``rng.normals_block``)."""
    d = x.shape[0]
    acc_y = 0.0
    for j in range(d):
        dydx[j] = 0.0
    passes = 2 if antithetic else 1
    for p in range(passes):
        sgn = 1.0 if p == 0 else -1.0
        for j in range(d):
            acc = 0.0
            for k in range(j + 1):
                acc += chol[j, k] * z[k]
            s[j] = x[j] + sgn * sqt * acc
        acc_y += payoff_vector(aggs, kinds, strikes, quantities, weights, s, g)
        if with_gradient:
            for j in range(d):
                dydx[j] += g[j]
    scale = disc / passes
    for j in range(d):
        dydx[j] *= scale
    return scale * acc_y


@njit(cache=True, error_model="numpy")
def bachelier_block(x, lo, m, chol, sqt, disc, aggs, kinds, strikes, quantities, weights,
                    antithetic, with_gradient, z, buf, arg, y, dydx):
    """:func:`bachelier_path_z` for paths ``lo .. lo + m - 1`` of ``x``, the same numbers path
    by path, as passes over the paths that vectorise (``simulators._passes``; the CPU kernel).

    z: (d, >= m) normals, one row per asset (``rng.normals_block``); buf: float64
    (4 d + 5, >= m) and arg: int64 (>= m,) scratch. Writes y[lo:lo+m] and dydx[lo:lo+m].
    """
    d = x.shape[1]
    xs = buf[0:d]
    s = buf[d:2 * d]
    g = buf[2 * d:3 * d]
    dacc = buf[3 * d:4 * d]
    e = 4 * d
    acc_y, h, u, du = buf[e:e + 1], buf[e + 1], buf[e + 2], buf[e + 3]
    gather_columns(x, lo, m, 0, xs)
    fill_rows(dacc, m, 0.0)
    fill_rows(acc_y, m, 0.0)
    passes = 2 if antithetic else 1
    for p in range(passes):
        sgn = 1.0 if p == 0 else -1.0
        lower_matvec(chol, z, m, s)
        _terminal(xs, sgn * sqt, m, s)
        payoff_pass(aggs, kinds, strikes, quantities, weights, s, m, h, g, u, du, arg)
        add_rows(buf[e + 1:e + 2], m, acc_y)
        if with_gradient:
            add_rows(g, m, dacc)
    scale = disc / passes
    for j in range(m):
        y[lo + j] = scale * acc_y[0, j]
    scatter_columns(dacc, scale, lo, m, 0, dydx)


@njit(cache=True, error_model="numpy")
def _terminal(xs, alpha, m, s):
    """``s = xs + alpha s`` row by row: S_T = S + (sgn sqrt(tau)) (L Z), as the per-path code
    ``x[j] + sgn * sqt * acc``."""
    for a in range(s.shape[0]):
        for j in range(m):
            s[a, j] = xs[a, j] + alpha * s[a, j]
