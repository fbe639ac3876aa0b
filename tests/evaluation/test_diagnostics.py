"""evaluation.diagnostics: moneyness, the shape checks a product implies, and the delta hedge."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation.analytic import black_scholes_greeks
from evaluation.diagnostics import (
    check_shape,
    failed_checks,
    gbm_paths,
    hedge_pnl,
    hedge_summary,
    moneyness,
    shape_rules,
)

HESTON = {"type": "Heston", "kappa": 1.5, "theta": 0.04, "xi": 0.3, "rho": -0.9,
          "rate": 0.025, "dividend": 0.0}
PUT = {"type": "European", "strike": 100.0, "maturity": 1.0, "kind": "put"}
BS = {"type": "BlackScholes", "vol": 0.2, "rate": 0.0, "dividend": 0.0, "inputs": ["spot"]}
CALL = {"type": "European", "strike": 1.0, "maturity": 1.0, "kind": "call"}


# ----- moneyness ---------------------------------------------------------------------------------
def test_moneyness_per_product() -> None:
    x = np.array([[90.0, 110.0], [120.0, 60.0]])
    lv, what = moneyness(PUT, ["spot", "variance"], np.array([[90.0, 0.04]]))
    assert lv == pytest.approx([0.9]) and what == "spot / strike 100"
    basket = {"type": "BasketOption", "weights": [0.5, 0.5], "strike": 100.0, "maturity": 1.0,
              "kind": "put"}
    assert moneyness(basket, ["spot_0", "spot_1"], x)[0] == pytest.approx([1.0, 0.9])
    worst = {"type": "WorstOf", "strike": 100.0, "maturity": 1.0, "kind": "put"}
    assert moneyness(worst, ["spot_0", "spot_1"], x)[0] == pytest.approx([0.9, 0.6])
    collar = {"type": "NettingSet", "maturity": 1.0, "legs": [
        {"kind": "call", "strike": 110.0, "quantity": 1.0, "underlying": "asset"},
        {"kind": "put", "strike": 90.0, "quantity": -1.0, "underlying": "asset"}]}
    lv, what = moneyness(collar, ["spot"], np.array([[120.0]]))
    assert lv == pytest.approx([1.2]) and "mean leg strike" in what


# ----- shape checks ------------------------------------------------------------------------------
def _heston_put(dv_dvariance: np.ndarray):
    """Test points (spot, variance = 0.04), the price and delta of a put (Black-Scholes at vol
    0.2 stands in for Heston at variance 0.04) and the given dV/dvariance column."""
    s = np.linspace(60.0, 150.0, 10)
    x = np.column_stack([s, np.full(10, 0.04)])
    g = black_scholes_greeks(s, strike=100.0, maturity=1.0, vol=0.2, rate=0.025, kind="put")
    return x, g.price, np.column_stack([g.delta, dv_dvariance])


def test_negative_dv_dvariance_of_a_heston_put_is_flagged() -> None:
    rules, note = shape_rules(HESTON, PUT, ["spot", "variance"],
                              _heston_put(np.zeros(10))[0])
    assert "long put" in note
    assert {r.name for r in rules} >= {"dV/dvariance ≥ 0", "value ≥ 0",
                                       "convex in spot (gamma ≥ 0)"}
    ref_vega = np.linspace(10.0, 40.0, 10)
    x, price, grad = _heston_put(ref_vega)
    scale = {"value": 20.0, "greek": {"spot": 0.5, "variance": 25.0}}
    clean = check_shape(rules, predictor="reference", x=x, inputs=["spot", "variance"],
                        price=price, grad=grad, scale=scale)
    assert clean and not failed_checks(clean)  # the reference passes every rule
    bad_vega = ref_vega.copy()
    bad_vega[[2, 5]] = [-60.0, -5.0]  # the standard surrogate's dV/dvariance
    x, price, grad = _heston_put(bad_vega)
    res = check_shape(rules, predictor="standard", x=x, inputs=["spot", "variance"],
                      price=price, grad=grad, scale=scale)
    (bad,) = failed_checks(res)
    assert bad["rule"] == "dV/dvariance ≥ 0" and bad["predictor"] == "standard"
    assert bad["violations"] == 2 and bad["n"] == 10
    assert bad["worst"] == -60.0 and bad["bound"] == 0.0 and bad["at"] == [x[2, 0], 0.04]
    assert bad["tolerance"] == pytest.approx(0.02 * 25.0)


def test_tolerance_lets_noise_pass() -> None:
    rules, _ = shape_rules(HESTON, PUT, ["spot", "variance"], _heston_put(np.zeros(10))[0])
    vega = np.linspace(10.0, 40.0, 10)
    vega[3] = -0.4  # within 2 % of the scale 25: not a violation
    x, price, grad = _heston_put(vega)
    res = check_shape(rules, predictor="differential", x=x, inputs=["spot", "variance"],
                      price=price, grad=grad, scale={"value": 20.0,
                                                     "greek": {"variance": 25.0}})
    assert not failed_checks(res)


def test_call_bounds_and_convexity() -> None:
    s = np.linspace(0.5, 1.5, 11)
    x = s[:, None]
    g = black_scholes_greeks(s, strike=1.0, maturity=1.0, vol=0.2)
    rules, _ = shape_rules(BS, CALL, ["spot"], x)
    names = [r.name for r in rules]
    assert "0 ≤ delta ≤ e^(−qT) (e^(−qT) = 1)" in names
    assert "(S e^(−qT) − K e^(−rT))⁺ ≤ value ≤ S e^(−qT)" in names
    scale = {"value": 0.2, "greek": {"spot": 0.6}, "gamma": {"spot": 1.5}}
    ok = check_shape(rules, predictor="reference", x=x, inputs=["spot"], price=g.price,
                     grad=g.delta[:, None], gamma=g.gamma, scale=scale)
    assert len(ok) == len(rules) and not failed_checks(ok)
    delta = g.delta.copy()
    delta[-1] = 1.1  # above e^(-qT) = 1 by 0.1 > 0.02 * 0.6
    gamma = g.gamma.copy()
    gamma[4] = -0.5  # concave at one point
    price = g.price.copy()
    price[-1] = 0.3  # below S - K = 0.5: an arbitrage
    bad = failed_checks(check_shape(rules, predictor="standard", x=x, inputs=["spot"],
                                    price=price, grad=delta[:, None], gamma=gamma, scale=scale))
    assert {c["rule"] for c in bad} == {"0 ≤ delta ≤ e^(−qT) (e^(−qT) = 1)",
                                        "convex in spot (gamma ≥ 0)",
                                        "(S e^(−qT) − K e^(−rT))⁺ ≤ value ≤ S e^(−qT)"}
    delta_check = next(c for c in bad if c["quantity"] == "greek")
    assert delta_check["worst"] == pytest.approx(1.1) and delta_check["bound"] == 1.0
    # without a gamma, the convexity rule is skipped rather than failed
    res = check_shape(rules, predictor="PINN", x=x, inputs=["spot"], price=g.price,
                      grad=g.delta[:, None], scale=scale)
    assert all(c["quantity"] != "gamma" for c in res)


def test_products_without_rules() -> None:
    fwd = {**CALL, "kind": "forward"}
    assert shape_rules(BS, fwd, ["spot"], np.ones((2, 1))) == (
        [], "no shape rule for a European (forward): only long calls and puts imply signs")
    basket = {"type": "BasketOption", "weights": [1.0, -1.0], "strike": 1.0, "maturity": 1.0,
              "kind": "call"}
    assert shape_rules({"type": "BachelierBasket"}, basket, ["spot_0", "spot_1"],
                       np.ones((2, 2)))[0] == []
    xva = {"type": "XVA", "lambda_b": 0.01}
    rules, note = shape_rules(BS, CALL, ["spot"], np.ones((2, 1)), xva)
    assert "price bounds not checked" in note and all("⁺" not in r.name for r in rules)


# ----- hedging -----------------------------------------------------------------------------------
def test_hedge_pnl_by_hand() -> None:
    # one path 100 -> 110 -> 99 at t = 0, 0.5, 1, no rates; sold at 5, worth 0 at the end;
    # deltas 0.5 then 0.8: gains 0.5 * 10 + 0.8 * (-11) = -3.8, P&L 5 - 3.8 - 0 = 1.2
    spots, times = np.array([[100.0, 110.0, 99.0]]), np.array([0.0, 0.5, 1.0])
    pnl = hedge_pnl(spots, times, value_start=[5.0], value_end=[0.0], deltas=[[0.5, 0.8]])
    assert pnl == pytest.approx([1.2])
    # with r = 10 %, q = 2 %: X_t = e^{-(r-q)t} S_t, hedge e^{-q t_k} delta_k units of X
    r, q = 0.1, 0.02
    x0, x1, x2 = 100.0, 110.0 * math.exp(-0.08 * 0.5), 99.0 * math.exp(-0.08)
    expected = 5.0 + 0.5 * (x1 - x0) + math.exp(-0.01) * 0.8 * (x2 - x1) - math.exp(-0.1) * 3.0
    pnl = hedge_pnl(spots, times, value_start=[5.0], value_end=[3.0], deltas=[[0.5, 0.8]],
                    rate=r, dividend=q)
    assert pnl == pytest.approx([expected])


def test_zero_delta_is_unhedged_and_the_summary_and_shape_check() -> None:
    rng = np.random.default_rng(3)
    times = np.linspace(0.0, 0.25, 6)
    spots = gbm_paths(np.full(50, 100.0), times, vol=0.3, rate=0.03, normals=rng.standard_normal(
        (50, 5)))
    v0, vk = rng.uniform(5, 10, 50), rng.uniform(0, 20, 50)
    zero = hedge_pnl(spots, times, value_start=v0, value_end=vk, deltas=np.zeros((50, 5)),
                     rate=0.03)
    assert zero == pytest.approx(v0 - math.exp(-0.03 * 0.25) * vk)
    deltas = rng.uniform(0, 1, (50, 5))
    a = hedge_pnl(spots, times, value_start=v0, value_end=vk, deltas=deltas, rate=0.03)
    s = hedge_summary(a)
    assert s["rms"] == pytest.approx(math.sqrt(np.mean(a * a))) and s["paths"] == 50
    with pytest.raises(ValueError, match="'deltas' parameter of hedge_pnl must have shape"):
        hedge_pnl(spots, times, value_start=v0, value_end=vk, deltas=np.zeros((50, 4)))


def test_hedge_pnl_is_the_cash_account_of_a_self_financing_hedge() -> None:
    """Against the bookkeeping of the trade: receive V_0, hold Delta_k shares over [t_k,
    t_{k+1}] (the dividend yield q reinvested in shares, cash at the rate r), rebalance at each
    date, deliver V_K at the horizon; the P&L is the final wealth discounted to date 0."""
    rng = np.random.default_rng(5)
    r, q, n = 0.04, 0.015, 20
    times = np.array([0.0, 0.05, 0.12, 0.2, 0.31])
    spots = gbm_paths(np.full(n, 100.0), times, vol=0.3, rate=r, dividend=q,
                      normals=rng.standard_normal((n, 4)))
    v0, vk = rng.uniform(5, 10, n), rng.uniform(0, 20, n)
    deltas = rng.uniform(-1, 1, (n, 4))
    got = hedge_pnl(spots, times, value_start=v0, value_end=vk, deltas=deltas, rate=r,
                    dividend=q)
    for i in range(n):
        shares = deltas[i, 0]
        cash = v0[i] - shares * spots[i, 0]
        for k in range(1, len(times)):
            dt = times[k] - times[k - 1]
            cash *= math.exp(r * dt)
            shares *= math.exp(q * dt)
            if k < len(times) - 1:
                cash -= (deltas[i, k] - shares) * spots[i, k]
                shares = deltas[i, k]
        wealth = cash + shares * spots[i, -1] - vk[i]
        assert got[i] == pytest.approx(math.exp(-r * times[-1]) * wealth, rel=1e-12, abs=1e-12)


def test_exact_deltas_hedge_converges_at_rate_sqrt_dt() -> None:
    """Black-Scholes call with rates and dividends, exact deltas at the true time to maturity:
    the hedge error falls like sqrt(dt) (halved by 4x the dates) and has mean 0 within 4
    standard errors."""
    vol, r, q, k, t_mat, horizon, n = 0.25, 0.04, 0.01, 100.0, 1.0, 0.5, 4000
    rng = np.random.default_rng(11)
    rms = []
    for steps in (16, 64):
        times = np.linspace(0.0, horizon, steps + 1)
        z = rng.standard_normal((n, steps))
        paths = gbm_paths(np.full(n, 100.0), times, vol=vol, rate=r, dividend=q, normals=z)
        d = np.column_stack([black_scholes_greeks(paths[:, j], strike=k, maturity=t_mat - t,
                                                  vol=vol, rate=r, dividend=q).delta
                             for j, t in enumerate(times[:-1])])
        v0 = black_scholes_greeks(paths[:, 0], strike=k, maturity=t_mat, vol=vol, rate=r,
                                  dividend=q).price
        vk = black_scholes_greeks(paths[:, -1], strike=k, maturity=t_mat - horizon, vol=vol,
                                  rate=r, dividend=q).price
        pnl = hedge_pnl(paths, times, value_start=v0, value_end=vk, deltas=d, rate=r,
                        dividend=q)
        unhedged = hedge_pnl(paths, times, value_start=v0, value_end=vk,
                             deltas=np.zeros_like(d), rate=r, dividend=q)
        assert abs(pnl.mean()) < 4 * pnl.std() / math.sqrt(n)
        assert abs(unhedged.mean()) < 4 * unhedged.std() / math.sqrt(n)  # a fair price
        rms.append(hedge_summary(pnl)["rms"])
        assert rms[-1] < 0.2 * hedge_summary(unhedged)["rms"]
    assert 1.6 < rms[0] / rms[1] < 2.5


def test_gbm_paths_mean() -> None:
    n = 20000
    z = np.random.default_rng(5).standard_normal((n, 4))
    s = gbm_paths(np.full(n, 50.0), np.linspace(0, 1, 5), vol=0.2, rate=0.05, dividend=0.01,
                  normals=z)
    assert s.shape == (n, 5) and np.all(s[:, 0] == 50.0)
    fwd = 50.0 * math.exp(0.04)
    assert abs(s[:, -1].mean() - fwd) < 4 * s[:, -1].std() / math.sqrt(n)


@pytest.mark.parametrize("typ,kind,convex", [("WorstOf", "put", True), ("BestOf", "call", True),
                                             ("WorstOf", "call", False),
                                             ("BestOf", "put", False)])
def test_convexity_rules_of_worst_of_and_best_of(typ, kind, convex) -> None:
    """(K − min S)⁺ and (max S − K)⁺ are convex in the spots, (min S − K)⁺ and (K − max S)⁺ are
    not: only the first two get the gamma rules. Checked against the Stulz prices' second
    differences over a grid: the rule holds where it is stated, and is violated somewhere
    where it is not (so stating it there would be wrong, not merely loose)."""
    from evaluation.analytic import stulz_max, stulz_min

    model = {"type": "BlackScholesBasket", "vols": [0.25, 0.35], "rate": 0.03}
    product = {"type": typ, "strike": 100.0, "maturity": 0.5, "kind": kind}
    s = np.linspace(60.0, 150.0, 31)
    x = np.stack(np.meshgrid(s, s), axis=-1).reshape(-1, 2)
    rules, note = shape_rules(model, product, ["spot_0", "spot_1"], x)
    gamma_rules = [r.name for r in rules if r.quantity == "gamma"]
    assert gamma_rules == (["convex in spot_0 (gamma ≥ 0)", "convex in spot_1 (gamma ≥ 0)"]
                           if convex else []), note
    price = stulz_min if typ == "WorstOf" else stulz_max
    h = 0.5
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        v = [price(x + k * e, strike=100.0, maturity=0.5, kind=kind, vols=(0.25, 0.35),
                   rho=0.5, rate=0.03).price for k in (-1, 0, 1)]
        second = (v[0] - 2 * v[1] + v[2]) / h**2
        if convex:
            assert second.min() > -1e-8
        else:
            assert second.min() < -1e-4
