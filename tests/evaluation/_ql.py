"""QuantLib oracles used only by the tests (maturities are whole days, Actual/365 Fixed)."""

from __future__ import annotations

import QuantLib as ql

TODAY = ql.Date(2, 1, 2024)
DC = ql.Actual365Fixed()


def _setup() -> None:
    ql.Settings.instance().evaluationDate = TODAY


def _curve(rate: float):
    return ql.YieldTermStructureHandle(ql.FlatForward(TODAY, rate, DC))


def _bsm(spot: float, vol: float, rate: float, dividend: float):
    return ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        _curve(dividend),
        _curve(rate),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(TODAY, ql.NullCalendar(), vol, DC)),
    )


def _type(kind: str):
    return ql.Option.Call if kind == "call" else ql.Option.Put


def stulz(which, kind, s1, s2, strike, days, v1, v2, rho, rate, q1, q2) -> float:
    """ql.StulzEngine price of a call/put on min or max of two assets; maturity days/365."""
    _setup()
    cls = ql.MinBasketPayoff if which == "min" else ql.MaxBasketPayoff
    opt = ql.BasketOption(
        cls(ql.PlainVanillaPayoff(_type(kind), strike)), ql.EuropeanExercise(TODAY + days)
    )
    opt.setPricingEngine(ql.StulzEngine(_bsm(s1, v1, rate, q1), _bsm(s2, v2, rate, q2), rho))
    return opt.NPV()


def heston(kind, spot, strike, days, v0, kappa, theta, xi, rho, rate, dividend) -> float:
    """ql.AnalyticHestonEngine (adaptive Gauss-Lobatto, relative tolerance 1e-14)."""
    _setup()
    proc = ql.HestonProcess(
        _curve(rate),
        _curve(dividend),
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        v0,
        kappa,
        theta,
        xi,
        rho,
    )
    opt = ql.VanillaOption(
        ql.PlainVanillaPayoff(_type(kind), strike), ql.EuropeanExercise(TODAY + days)
    )
    opt.setPricingEngine(ql.AnalyticHestonEngine(ql.HestonModel(proc), 1e-14, 1_000_000))
    return opt.NPV()


def choi_basket(kind, s1, s2, strike, days, v1, v2, rho, rate, q1, q2, w1, w2) -> float:
    """ql.ChoiBasketEngine (Choi 2018) price of an arithmetic basket option, accurate to ~1e-11."""
    _setup()
    payoff = ql.AverageBasketPayoff(ql.PlainVanillaPayoff(_type(kind), strike), [w1, w2])
    opt = ql.BasketOption(payoff, ql.EuropeanExercise(TODAY + days))
    procs = [_bsm(s1, v1, rate, q1), _bsm(s2, v2, rate, q2)]
    opt.setPricingEngine(
        ql.ChoiBasketEngine(procs, ql.Matrix([[1.0, rho], [rho, 1.0]]), 20.0, 2**20, False, False)
    )
    return opt.NPV()


def black_scholes(kind, spot, strike, days, vol, rate, dividend) -> tuple[float, float, float]:
    """ql.AnalyticEuropeanEngine (price, delta, rho) of a European call or put; maturity days/365."""
    _setup()
    opt = ql.VanillaOption(
        ql.PlainVanillaPayoff(_type(kind), strike), ql.EuropeanExercise(TODAY + days)
    )
    opt.setPricingEngine(ql.AnalyticEuropeanEngine(_bsm(spot, vol, rate, dividend)))
    return opt.NPV(), opt.delta(), opt.rho()
