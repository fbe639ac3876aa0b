"""Canonical test cases shared across the suite, and tolerance helpers."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

# Black-Scholes reference set-up of Huge & Savine (docs/methods.md section 1).
BS_SPOT, BS_VOL, BS_STRIKE, BS_TAU = 1.0, 0.2, 1.10, 1.0

DTYPE_RTOL = {"float64": 1e-12, "float32": 1e-6}


def bs_price(spot, strike, tau, vol, rate=0.0, dividend=0.0, kind="call"):
    """Independent closed form used as a test oracle (SciPy only)."""
    spot = np.asarray(spot, dtype=float)
    sd = vol * math.sqrt(tau)
    d1 = (np.log(spot / strike) + (rate - dividend + 0.5 * vol * vol) * tau) / sd
    d2 = d1 - sd
    fwd_disc, k_disc = spot * math.exp(-dividend * tau), strike * math.exp(-rate * tau)
    if kind == "call":
        return fwd_disc * norm.cdf(d1) - k_disc * norm.cdf(d2)
    return k_disc * norm.cdf(-d2) - fwd_disc * norm.cdf(-d1)


def bs_delta(spot, strike, tau, vol, rate=0.0, dividend=0.0, kind="call"):
    sd = vol * math.sqrt(tau)
    d1 = (np.log(np.asarray(spot) / strike) + (rate - dividend + 0.5 * vol * vol) * tau) / sd
    sign = 1.0 if kind == "call" else -1.0
    return sign * math.exp(-dividend * tau) * norm.cdf(sign * d1)


def bs_vega(spot, strike, tau, vol, rate=0.0, dividend=0.0):
    sd = vol * math.sqrt(tau)
    d1 = (np.log(np.asarray(spot) / strike) + (rate - dividend + 0.5 * vol * vol) * tau) / sd
    return np.asarray(spot) * math.exp(-dividend * tau) * norm.pdf(d1) * math.sqrt(tau)


def bs_rho(spot, strike, tau, vol, rate=0.0, dividend=0.0, kind="call"):
    sd = vol * math.sqrt(tau)
    d1 = (np.log(np.asarray(spot) / strike) + (rate - dividend + 0.5 * vol * vol) * tau) / sd
    d2 = d1 - sd
    if kind == "call":
        return strike * tau * math.exp(-rate * tau) * norm.cdf(d2)
    return -strike * tau * math.exp(-rate * tau) * norm.cdf(-d2)


def bachelier_basket_price(spots, weights, cov, strike, tau, rate=0.0, kind="call"):
    """e^{-r tau} E[(b_T - K)+] for b_T normal with mean w.S and variance w^T cov w tau."""
    w = np.asarray(weights)
    b = np.asarray(spots) @ w
    sd = math.sqrt(w @ cov @ w * tau)
    d = (b - strike) / sd
    call = sd * (d * norm.cdf(d) + norm.pdf(d))
    price = call if kind == "call" else call - (b - strike)
    return math.exp(-rate * tau) * price


def bachelier_basket_delta(spots, weights, cov, strike, tau, rate=0.0, kind="call"):
    w = np.asarray(weights)
    b = np.asarray(spots) @ w
    sd = math.sqrt(w @ cov @ w * tau)
    d = (b - strike) / sd
    dd = norm.cdf(d) if kind == "call" else norm.cdf(d) - 1.0
    return math.exp(-rate * tau) * dd * w


def within_k_se(estimate, se, exact, k=4.0, floor=0.0):
    """|estimate - exact| <= k se (+ floor), elementwise."""
    return np.all(np.abs(np.asarray(estimate) - np.asarray(exact)) <= k * np.asarray(se) + floor)
