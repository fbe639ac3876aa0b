"""NumPy generators of the docs/methods.md §1 set-ups (Huge & Savine), independent of ``simulators``.

All randomness comes from ``np.random.default_rng(seed)``; shapes: X (m, n), y (m,), dydx (m, n).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

_SQRT_2PI = np.sqrt(2.0 * np.pi)


@dataclass(frozen=True)
class Basket:
    """Random correlated Bachelier basket: weights a (n,), vols σ (n,), correlation C (n, n)."""

    weights: np.ndarray
    vols: np.ndarray
    corr: np.ndarray
    strike: float = 1.10
    t1: float = 1.0
    t2: float = 2.0
    basket_vol: float = 0.2

    @property
    def chol(self) -> np.ndarray:
        cov = self.vols[:, None] * self.corr * self.vols[None, :]
        return np.linalg.cholesky(cov)


def random_basket(n: int, seed: int) -> Basket:
    rng = np.random.default_rng(seed)
    R = rng.uniform(-1.0, 1.0, size=(2 * n, n))
    C = R.T @ R
    d = np.sqrt(np.diag(C))
    C = C / d[:, None] / d[None, :]
    a = rng.uniform(1.0, 10.0, size=n)
    a = a / a.sum()
    vols = rng.uniform(5.0, 50.0, size=n)
    av = a * vols
    vols = vols * 0.2 / np.sqrt(av @ C @ av)
    return Basket(a, vols, C)


def basket_training(
    b: Basket, m: int, seed: int, antithetic: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """S1 = 1 + 1.5 √T1 L N0, S2 = S1 + √τ L N1; y = (a·S2 − K)+, z = 1{a·S2 > K} a.

    ``antithetic``: average the paths with +N1 and −N1 (same S1), as the source does."""
    rng = np.random.default_rng(seed)
    n = len(b.weights)
    L = b.chol
    tau = b.t2 - b.t1
    s1 = 1.0 + 1.5 * np.sqrt(b.t1) * rng.standard_normal((m, n)) @ L.T
    dw = np.sqrt(tau) * rng.standard_normal((m, n)) @ L.T
    ys, zs = [], []
    for sign in (1.0, -1.0) if antithetic else (1.0,):
        bt = (s1 + sign * dw) @ b.weights
        ys.append(np.maximum(bt - b.strike, 0.0))
        zs.append((bt > b.strike)[:, None] * b.weights[None, :])
    return s1, np.mean(ys, axis=0), np.mean(zs, axis=0)


def basket_test(b: Basket, m: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test inputs U[1 − adj/2, 1 + adj/2]^n, adj = 1 + 0.5 sqrt((n−1)/12); exact price, delta."""
    rng = np.random.default_rng(seed)
    n = len(b.weights)
    adj = 1.0 + 0.5 * np.sqrt((n - 1) / 12.0)
    X = rng.uniform(1.0 - adj / 2, 1.0 + adj / 2, size=(m, n))
    v, g = bachelier_basket(X, b)
    return X, v, g


def bachelier_basket(X: np.ndarray, b: Basket) -> tuple[np.ndarray, np.ndarray]:
    """Bachelier price σ√τ (dΦ(d) + φ(d)), d = (a·x − K)/(σ√τ), and delta Φ(d) a."""
    sd = b.basket_vol * np.sqrt(b.t2 - b.t1)
    d = (X @ b.weights - b.strike) / sd
    price = sd * (d * ndtr(d) + np.exp(-0.5 * d * d) / _SQRT_2PI)
    return price, ndtr(d)[:, None] * b.weights[None, :]


BS = dict(spot=1.0, vol=0.2, t1=1.0, t2=2.0, strike=1.10, vol_mult=1.5)


def bs_training(
    m: int, seed: int, antithetic: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """S1 lognormal with vol 0.3 at T1 = 1, S2 with vol 0.2 to T2 = 2; y = (S2 − K)+,
    z = 1{S2 > K} S2/S1. ``antithetic``: average the paths with +N2 and −N2 (same S1)."""
    rng = np.random.default_rng(seed)
    v = BS["vol"] * BS["vol_mult"]
    n1 = rng.standard_normal(m)
    s1 = BS["spot"] * np.exp(-0.5 * v * v * BS["t1"] + v * np.sqrt(BS["t1"]) * n1)
    tau = BS["t2"] - BS["t1"]
    sig = BS["vol"]
    n2 = rng.standard_normal(m)
    ys, zs = [], []
    for sign in (1.0, -1.0) if antithetic else (1.0,):
        s2 = s1 * np.exp(-0.5 * sig * sig * tau + sig * np.sqrt(tau) * sign * n2)
        ys.append(np.maximum(s2 - BS["strike"], 0.0))
        zs.append(np.where(s2 > BS["strike"], s2 / s1, 0.0))
    return s1[:, None], np.mean(ys, axis=0), np.mean(zs, axis=0)[:, None]


def bs_call(
    spot: np.ndarray, strike: float, tau: float, vol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Black-Scholes call price and delta, zero rates."""
    sd = vol * np.sqrt(tau)
    d1 = (np.log(spot / strike) + 0.5 * sd * sd) / sd
    return spot * ndtr(d1) - strike * ndtr(d1 - sd), ndtr(d1)


def bs_test() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.linspace(0.35, 1.65, 100)
    p, d = bs_call(s, BS["strike"], BS["t2"] - BS["t1"], BS["vol"])
    return s[:, None], p, d[:, None]
