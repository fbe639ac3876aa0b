"""QuantLib prices used as independent test oracles (test-only dependency)."""

from __future__ import annotations

import QuantLib as ql

DAYS = 365


def _setup(days: int):
    today = ql.Date(15, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    return today, today + int(days), dc


def _curve(today, rate, dc):
    return ql.YieldTermStructureHandle(ql.FlatForward(today, rate, dc))


def _process(today, dc, spot, vol, rate, dividend):
    return ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)), _curve(today, dividend, dc), _curve(today, rate, dc),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), vol, dc)))


def _type(kind):
    return ql.Option.Call if kind == "call" else ql.Option.Put


def stulz(spots, strike, days, vols, rho, rate, dividends, kind="call", extremum="min"):
    """Price of a European call/put on min (or max) of two assets, QuantLib StulzEngine."""
    today, expiry, dc = _setup(days)
    p1 = _process(today, dc, spots[0], vols[0], rate, dividends[0])
    p2 = _process(today, dc, spots[1], vols[1], rate, dividends[1])
    payoff = (ql.MinBasketPayoff if extremum == "min" else ql.MaxBasketPayoff)(
        ql.PlainVanillaPayoff(_type(kind), strike))
    opt = ql.BasketOption(payoff, ql.EuropeanExercise(expiry))
    opt.setPricingEngine(ql.StulzEngine(p1, p2, rho))
    return opt.NPV()


def choi_basket(spots, weights, strike, days, vols, correlation, rate, dividends, kind="call"):
    """Arithmetic basket option price, QuantLib ChoiBasketEngine (accurate quadrature)."""
    today, expiry, dc = _setup(days)
    procs = [_process(today, dc, s, v, rate, q) for s, v, q in zip(spots, vols, dividends,
                                                                  strict=True)]
    m = ql.Matrix(len(spots), len(spots))
    for i in range(len(spots)):
        for j in range(len(spots)):
            m[i][j] = correlation[i][j]
    payoff = ql.AverageBasketPayoff(ql.PlainVanillaPayoff(_type(kind), strike), list(weights))
    opt = ql.BasketOption(payoff, ql.EuropeanExercise(expiry))
    opt.setPricingEngine(ql.ChoiBasketEngine(procs, m, 20.0))
    return opt.NPV()


def heston(spot, strike, days, variance, kappa, theta, xi, rho, rate, dividend, kind="put"):
    """Heston price by QuantLib AnalyticHestonEngine (adaptive Gauss-Lobatto, tight tolerance)."""
    today, expiry, dc = _setup(days)
    proc = ql.HestonProcess(_curve(today, rate, dc), _curve(today, dividend, dc),
                            ql.QuoteHandle(ql.SimpleQuote(spot)), variance, kappa, theta, xi, rho)
    engine = ql.AnalyticHestonEngine(ql.HestonModel(proc), 1e-12, 100_000)
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(_type(kind), strike), ql.EuropeanExercise(expiry))
    opt.setPricingEngine(engine)
    return opt.NPV()
