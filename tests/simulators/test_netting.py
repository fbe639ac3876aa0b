"""Netting sets: prices and pathwise gradients, sign derivation, XVA, serialisation.

Oracles, all independent of the netting-set kernel code: the single-leg simulations of the legs
(same seed, same paths) weighted by their quantities; the payoff of terminal states rebuilt from
the model's normals (``rng.normals``) with ``NettingSet.payoff`` and slopes written out here;
closed-form Black-Scholes prices for Monte-Carlo means.
"""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pytest

import simulators as sim
from evaluation.analytic import black_scholes
from simulators import rng
from simulators.products.netting import Leg, NettingSet

XVA = sim.XVA(lambda_b=0.02, lambda_c=0.05, recovery_b=0.4, recovery_c=0.4)

COLLAR = NettingSet([Leg("call", 110.0, 1.0), Leg("put", 90.0, -1.0)], maturity=1.0)
CALL_SPREAD = NettingSet([Leg("call", 100.0, 1.0), Leg("call", 110.0, -1.0)], maturity=1.0)
SHORT_STRANGLE = NettingSet([Leg("call", 110.0, -1.0), Leg("put", 90.0, -2.0)], maturity=1.0)


def _heston() -> sim.Heston:
    return sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.7, rate=0.02, dividend=0.01,
                      steps_per_year=12,
                      inputs=("spot", "variance", "kappa", "theta", "xi", "rho", "rate"))


def _cases():
    """(name, model, netting set, sampler)."""
    bs = sim.BlackScholes(vol=0.25, rate=0.03, dividend=0.01, inputs=("spot", "vol", "rate"))
    bs_s = sim.UniformSampler([60.0, 0.1, 0.0], [140.0, 0.4, 0.05])
    yield "bs_collar", bs, COLLAR, bs_s
    yield "bs_forward", bs, NettingSet([Leg("forward", 100.0, 2.0)], maturity=0.5), bs_s
    yield "bs_forward_and_call", bs, NettingSet(
        [Leg("forward", 100.0, -1.0), Leg("call", 120.0, 1.5)], maturity=0.5), bs_s
    bach, basket_call = sim.random_bachelier_basket(3, seed=1)
    w = tuple(basket_call.weights)
    yield "bachelier_mixed", bach, NettingSet(
        [Leg("call", 1.1, 1.0, "basket", w), Leg("put", 0.95, -0.5, "worst_of"),
         Leg("call", 1.2, 2.0, "best_of"), Leg("forward", 1.0, 0.25, "basket", (1.0, 2.0, 1.0))],
        maturity=1.0), sim.ForwardSampler(spot=1.0, horizon=1.0)
    bb = sim.BlackScholesBasket(vols=(0.25, 0.35), correlation=((1.0, 0.5), (0.5, 1.0)),
                                rate=0.03, dividends=(0.0, 0.02), vol_inputs=True)
    yield "bs_basket_worst_call_short_basket_put", bb, NettingSet(
        [Leg("call", 95.0, 1.0, "worst_of"), Leg("put", 100.0, -1.0, "basket", (0.5, 0.5))],
        maturity=0.75), sim.UniformSampler([70.0, 70.0, 0.15, 0.2], [130.0, 130.0, 0.35, 0.45])
    yield "heston_collar", _heston(), COLLAR, sim.UniformSampler(
        [80, 0.01, 1.0, 0.02, 0.2, -0.95, 0.0], [120, 0.09, 2.0, 0.06, 0.4, 0.5, 0.05])


CASES = {c[0]: c[1:] for c in _cases()}


@pytest.mark.parametrize("antithetic", [False, True])
@pytest.mark.parametrize("name", list(CASES))
def test_netting_set_is_the_quantity_weighted_sum_of_its_legs_path_by_path(name, antithetic):
    model, ns, sampler = CASES[name]
    kw = {"seed": 17, "first_path": 3, "antithetic": antithetic}
    n = 300
    got = sim.simulate(model, ns, sampler, n, **kw)
    y = np.zeros(n)
    dydx = np.zeros_like(got.dydx)
    for leg in ns.legs:
        one = sim.simulate(model, leg.product(ns.maturity), sampler, n, **kw)
        np.testing.assert_array_equal(one.x, got.x)
        y += leg.quantity * one.y
        dydx += leg.quantity * one.dydx
    assert np.count_nonzero(dydx) > n  # not vacuous
    np.testing.assert_allclose(got.y, y, rtol=1e-13, atol=1e-13 * np.abs(y).max())
    np.testing.assert_allclose(got.dydx, dydx, rtol=1e-13, atol=1e-13 * np.abs(dydx).max())


def _slope(leg: Leg, u: np.ndarray) -> np.ndarray:
    """q dh/du, written out per kind."""
    if leg.kind == "call":
        return leg.quantity * (u > leg.strike)
    if leg.kind == "put":
        return -leg.quantity * (u < leg.strike)
    return np.full_like(u, leg.quantity)


def test_black_scholes_payoff_and_gradient_on_rebuilt_terminal_spots():
    r, q, vol, tau = 0.03, 0.01, 0.25, 1.0
    model = sim.BlackScholes(vol=vol, rate=r, dividend=q)
    ns = NettingSet([Leg("call", 110.0, 1.0), Leg("put", 90.0, -1.0), Leg("forward", 100.0, 0.5),
                     Leg("call", 200.0, 0.5, "basket", (2.0,))], maturity=tau)
    n, seed, first = 2000, 5, 11
    s = sim.simulate(model, ns, sim.UniformSampler([50.0], [150.0]), n, seed=seed,
                     first_path=first)
    z = rng.normals(seed, n, 1, first_path=first)[:, 0]
    s0 = s.x[:, 0]
    s_t = s0 * np.exp((r - q - 0.5 * vol * vol) * tau + vol * math.sqrt(tau) * z)
    disc = math.exp(-r * tau)
    np.testing.assert_allclose(s.y, disc * ns.payoff(s_t), rtol=1e-12, atol=1e-12)
    slope = sum(_slope(leg, leg.aggregate(s_t[:, None])) * (leg.weights or (1.0,))[0]
                for leg in ns.legs)
    np.testing.assert_allclose(s.dydx[:, 0], disc * slope * s_t / s0, rtol=1e-12, atol=1e-12)


def test_single_asset_basket_leg_uses_its_weight():
    # (2 S - 200)+ = 2 (S - 100)+: the weight of a one-asset basket leg is not dropped
    model = sim.BlackScholes(vol=0.2, rate=0.01)
    sampler = sim.UniformSampler([60.0], [140.0])
    basket = sim.simulate(model, NettingSet([Leg("call", 200.0, 1.0, "basket", (2.0,))], 1.0),
                          sampler, 500, seed=2)
    plain = sim.simulate(model, sim.European(100.0, 1.0, "call"), sampler, 500, seed=2)
    np.testing.assert_allclose(basket.y, 2.0 * plain.y, rtol=1e-14, atol=1e-12)
    np.testing.assert_allclose(basket.dydx, 2.0 * plain.dydx, rtol=1e-14, atol=1e-12)


def test_bachelier_payoff_and_gradient_on_rebuilt_terminal_states():
    model, call = sim.random_bachelier_basket(3, seed=4)
    ns = NettingSet([Leg("call", 1.05, 1.0, "basket", tuple(call.weights)),
                     Leg("put", 0.9, -0.5, "worst_of"), Leg("call", 1.2, 2.0, "best_of")],
                    maturity=1.0)
    n, seed, first = 1000, 8, 2
    s = sim.simulate(model, ns, sim.ForwardSampler(spot=1.0, horizon=1.0), n, seed=seed,
                     first_path=first)
    z = rng.normals(seed, n, 3, first_path=first)
    s_t = s.x + z @ model.cholesky().T  # maturity 1: sqrt(tau) = 1
    np.testing.assert_allclose(s.y, ns.payoff(s_t), rtol=1e-12, atol=1e-14)
    grad = np.zeros_like(s_t)
    rows = np.arange(n)
    for leg in ns.legs:
        k = _slope(leg, leg.aggregate(s_t))
        if leg.underlying == "basket":
            grad += k[:, None] * np.asarray(leg.weights)[None, :]
        else:
            arg = s_t.argmin(axis=1) if leg.underlying == "worst_of" else s_t.argmax(axis=1)
            np.add.at(grad, (rows, arg), k)
    np.testing.assert_allclose(s.dydx, grad, rtol=1e-12, atol=1e-14)


def _bs_leg_price(leg: Leg, spot, tau, vol, r, q) -> float:
    if leg.kind == "forward":
        return leg.quantity * (spot * math.exp(-q * tau) - leg.strike * math.exp(-r * tau))
    return leg.quantity * black_scholes(spot, strike=leg.strike, maturity=tau, kind=leg.kind,
                                        vol=vol, rate=r, dividend=q)


@pytest.mark.parametrize("ns", [
    COLLAR,
    NettingSet([Leg("forward", 95.0, 1.0), Leg("put", 90.0, 2.0), Leg("call", 120.0, -1.0)],
               maturity=0.5),
], ids=["collar", "forward_put_short_call"])
def test_black_scholes_mean_matches_the_sum_of_closed_forms(ns):
    spot, vol, r, q = 100.0, 0.25, 0.03, 0.01
    model = sim.BlackScholes(vol=vol, rate=r, dividend=q)
    s = sim.simulate(model, ns, sim.FixedSampler([spot]), 200_000, seed=3, antithetic=True)
    price, se = s.price()
    exact = sum(_bs_leg_price(leg, spot, ns.maturity, vol, r, q) for leg in ns.legs)
    assert abs(price - exact) < 4 * se, (price, exact, se)


@pytest.mark.parametrize("legs,sign", [
    ([Leg("forward", 100.0)], 0),
    ([Leg("call", 110.0, 1.0), Leg("put", 90.0, -1.0)], 0),  # collar
    ([Leg("call", 100.0, 1.0), Leg("call", 110.0, -1.0)], 1),  # call spread
    ([Leg("call", 110.0, -1.0), Leg("put", 90.0, -1.0)], -1),  # short strangle
    ([Leg("put", 110.0, 1.0), Leg("put", 100.0, -1.0)], 1),  # put spread
    ([Leg("put", 110.0, -1.0), Leg("put", 100.0, 1.0)], -1),  # put spread sold
    ([Leg("call", 100.0, -1.0), Leg("call", 110.0, 1.0)], -1),  # call spread sold
    ([Leg("call", 100.0, 1.0), Leg("call", 110.0, -2.0)], 0),  # ratio spread: short beyond
    ([Leg("forward", 100.0, 1.0), Leg("put", 100.0, 1.0)], 1),  # forward + put = call
    ([Leg("forward", 100.0, -1.0), Leg("call", 100.0, 1.0)], 1),  # call - forward = put
    ([Leg("call", 1.0, 1.0, "basket", (0.5, 0.5)), Leg("put", 1.0, -1.0, "worst_of")], 0),
    ([Leg("call", 1.0, 1.0, "worst_of"), Leg("put", 1.0, -1.0, "worst_of")], 0),
    ([Leg("call", 1.0, 1.0, "basket", (0.5, 0.5)), Leg("put", 1.0, 1.0, "best_of")], 1),
    ([Leg("call", 1.0, 1.0, "basket", (0.5, 0.5)),
      Leg("call", 1.2, -1.0, "basket", (0.5, 0.5))], 1),  # basket call spread
    ([Leg("call", 1.0, 1.0, "basket", (0.5, 0.5)),
      Leg("call", 1.2, -1.0, "basket", (0.4, 0.6))], 0),  # other weights: another aggregate
], ids=["forward", "collar", "call_spread", "short_strangle", "put_spread", "put_spread_sold",
        "call_spread_sold", "ratio_spread", "synthetic_call", "synthetic_put", "mixed_aggregates",
        "worst_of_collar", "mixed_all_long", "basket_call_spread", "basket_other_weights"])
def test_sign_is_derived_from_the_legs(legs, sign):
    ns = NettingSet(legs, maturity=1.0)
    assert ns.sign == sign
    if sign != 0:  # an independent look at the payoff on a grid of terminal states
        u = np.linspace(0.0, 3.0 * ns.strike, 301)
        s_t = np.column_stack([u, u[::-1]]) if ns.dim != 1 else u[:, None]
        assert np.all(sign * ns.payoff(s_t) >= -1e-12)


@pytest.mark.parametrize("notional", [1e-16, 1.0, 1e9])
def test_sign_does_not_depend_on_the_notional(notional):
    # q (100 - u)+ - q (u - 100) is q (100 - u) beyond the strike: negative for large u
    ns = NettingSet([Leg("put", 100.0, notional), Leg("forward", 100.0, -notional)], 1.0)
    assert ns.sign == 0
    assert NettingSet([Leg("put", 100.0, notional), Leg("forward", 100.0, notional)],
                      1.0).sign == 1  # a call


@pytest.mark.parametrize("legs", [
    [Leg("forward", 100.0)],
    [Leg("call", 110.0), Leg("put", 90.0, -1.0)],
    [Leg("call", 100.0, 2.0), Leg("put", 100.0, -2.0)],  # 2 forwards: no kink
    [Leg("call", 100.0, 2.0), Leg("put", 100.0, -1.0)],
    [Leg("forward", 100.0, -1.0), Leg("call", 100.0, 1.0)],  # a put
    [Leg("call", 100.0), Leg("call", 100.0, -1.0), Leg("forward", 90.0)],
], ids=["forward", "collar", "two_forwards", "uneven", "synthetic_put", "cancelling_calls"])
def test_kinks_are_where_the_payoff_bends(legs):
    """The strikes listed by ``kinks`` are those where the payoff's second difference on a
    fine grid of terminal spots is non-zero, and no others."""
    ns = NettingSet(legs, maturity=1.0)
    h, u = 0.5, np.arange(1.0, 200.0, 0.5)
    pay = ns.payoff(u[:, None])
    bend = np.abs(pay[2:] - 2.0 * pay[1:-1] + pay[:-2]) / h > 1e-9
    assert sorted(u[1:-1][bend].tolist()) == sorted(k for _, _, k in ns.kinks)


def test_extremum_legs_always_have_a_kink():
    """A worst-of or best-of leg bends along S_1 = S_2 even far from its strike; a basket forward
    is affine."""
    wo = NettingSet([Leg("call", 1.0, 1.0, "worst_of")], maturity=1.0)
    s1 = np.linspace(2.0, 4.0, 201)
    pay = wo.payoff(np.column_stack([s1, np.full_like(s1, 3.0)]))
    assert np.abs(np.diff(pay, 2)).max() > 1e-3  # the slope jumps from 1 to 0 at S_1 = 3
    assert wo.kinks == (("worst_of", None, 1.0),)
    assert NettingSet([Leg("forward", 1.0, 1.0, "basket", (0.5, 0.5))], 1.0).kinks == ()
    bc = NettingSet([Leg("call", 1.0, 1.0, "basket", (0.5, 0.5))], maturity=1.0)
    assert bc.kinks == (("basket", (0.5, 0.5), 1.0),)


@pytest.mark.parametrize("build,match", [
    (lambda: Leg("straddle", 100.0), r"'kind' parameter of Leg must be one of 'call', 'put', "
                                     r"'forward'\. Got 'straddle' instead\."),
    (lambda: Leg("call", -1.0), r"'strike' parameter of Leg must be > 0\. Got -1\.0"),
    (lambda: Leg("call", 100.0, 0.0), r"'quantity' parameter of Leg must be non-zero .* Got 0\.0"),
    (lambda: Leg("call", 100.0, underlying="index"),
     r"'underlying' parameter of Leg must be one of 'asset', 'basket', 'worst_of', 'best_of'\. "
     r"Got 'index'"),
    (lambda: Leg("call", 1.0, underlying="basket"), r"'weights' parameter of Leg must be given"),
    (lambda: Leg("call", 1.0, weights=(1.0,)), r"'weights' parameter of Leg must be None for "
                                               r"underlying 'asset'"),
    (lambda: NettingSet([], 1.0), r"'legs' parameter of NettingSet must be a non-empty list"),
    (lambda: NettingSet([Leg("call", 1.0)], 0.0), r"'maturity' parameter of NettingSet must be "
                                                  r"> 0"),
    (lambda: NettingSet([Leg("forward", 1.0, underlying="worst_of")], 1.0),
     r"'legs' parameter of NettingSet must be call or put legs on worst_of/best_of"),
    (lambda: NettingSet([Leg("call", 1.0), Leg("call", 1.0, underlying="basket",
                                               weights=(1.0, 1.0))], 1.0),
     r"'legs' parameter of NettingSet must be legs on the same number of assets\. Got \[1, 2\]"),
    (lambda: NettingSet([{"kind": "call", "strike": 1.0, "notional": 2.0}], 1.0),
     r"'legs' parameter of NettingSet must be dicts with 'kind', 'strike' and optionally "
     r"'quantity', 'underlying', 'weights'\. Got \{.*'notional'"),
    (lambda: sim.simulate(sim.BlackScholesBasket(vols=[0.2, 0.2], correlation=np.eye(2)),
                          NettingSet([Leg("call", 1.0, underlying="basket", weights=(1, 1, 1))],
                                     1.0), sim.FixedSampler([1.0, 1.0]), 4, seed=1),
     r"'legs' parameter of NettingSet must be legs on 2 asset\(s\), as the model\. "
     r"Got '3 asset\(s\)'"),
    (lambda: sim.simulate(sim.BlackScholes(vol=0.2),
                          NettingSet([Leg("call", 1.0, underlying="worst_of")], 1.0),
                          sim.FixedSampler([1.0]), 4, seed=1),
     r"'model' parameter of NettingSet must be a model of at least 2 assets"),
])
def test_validation_errors_are_one_line_naming_field_rule_and_value(build, match):
    with pytest.raises(ValueError, match=match) as info:
        build()
    assert "\n" not in str(info.value)


def test_existing_products_encode_as_one_leg_of_unit_quantity():
    for product, dim in ((sim.European(1.1, 1.0, "put"), 1),
                         (sim.BasketOption((0.2, 0.8), 1.0, 1.0, "forward"), 2),
                         (sim.WorstOf(1.0, 1.0, "call"), 3), (sim.BestOf(1.0, 1.0, "put"), 3)):
        aggs, kinds, strikes, quantities, weights = product.encode(dim)
        assert aggs.dtype == kinds.dtype == np.int64 and aggs.shape == kinds.shape == (1,)
        assert strikes.tolist() == [product.strike] and quantities.tolist() == [1.0]
        assert weights.shape == (1, dim) and weights.dtype == np.float64


def test_xva_refuses_a_netting_set_of_both_signs_and_names_the_pde_references():
    with pytest.raises(ValueError, match=r"can change sign.*non-linear PDE.*evaluation\.fd.*"
                                         r"training\.pinn"):
        sim.simulate(sim.BlackScholes(vol=0.2), COLLAR, sim.FixedSampler([100.0]), 10, seed=1,
                     xva=XVA)


@pytest.mark.parametrize("ns,spread", [(CALL_SPREAD, XVA.spread_positive),
                                       (SHORT_STRANGLE, XVA.spread_negative)],
                         ids=["call_spread", "short_strangle"])
def test_xva_factor_of_one_signed_netting_sets(ns, spread):
    model = sim.BlackScholes(vol=0.25, rate=0.03, inputs=("spot", "vol"))
    args = (model, ns, sim.UniformSampler([70.0, 0.1], [130.0, 0.4]), 500)
    free = sim.simulate(*args, seed=5)
    risky = sim.simulate(*args, seed=5, xva=XVA)
    factor = math.exp(-spread * ns.maturity)
    np.testing.assert_allclose(risky.y, factor * free.y, rtol=1e-15, atol=0)
    np.testing.assert_allclose(risky.dydx, factor * free.dydx, rtol=1e-15, atol=0)
    assert risky.stats["xva_factor"] == factor
    assert np.all(ns.sign * free.y >= 0.0) and np.any(free.y != 0.0)


def test_dict_round_trips_through_data_specs():
    from data import DatasetSpec, from_dict

    d = {"type": "NettingSet", "maturity": 1.0,
         "legs": [{"kind": "call", "strike": 110, "quantity": 1},
                  {"kind": "put", "strike": 90, "quantity": -1}]}
    ns = from_dict(d)
    assert ns == COLLAR
    assert from_dict(json.loads(json.dumps(ns.to_dict()))) == ns
    basket = NettingSet([Leg("call", 1.0, 2.0, "basket", (0.3, 0.7)),
                         Leg("put", 0.9, -1.0, "worst_of")], maturity=0.5)
    assert from_dict(json.loads(json.dumps(basket.to_dict()))) == basket
    spec = DatasetSpec(name="collar", model=sim.BlackScholes(vol=0.2), product=COLLAR,
                       sampler=sim.FixedSampler([100.0]), seed=1, n_paths=10)
    again = DatasetSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.identity() == spec.identity()


def test_pipeline_config_builds_a_netting_set_and_checks_it_against_the_model(tmp_path):
    from pipeline.config import ConfigError, load_config

    path = tmp_path / "ns.yaml"
    path.write_text(textwrap.dedent("""\
        name: ns
        scenarios:
          - id: collar
            model: {type: BlackScholes, vol: 0.2}
            product:
              type: NettingSet
              maturity: 1.0
              legs: [{kind: call, strike: 110, quantity: 1}, {kind: put, strike: 90, quantity: -1}]
            sampler: {type: ForwardSampler, spot: 100.0, horizon: 1.0}
            test: {n: 50, low: 50, high: 150}
        """))
    assert load_config(path).scenario("collar").objects()["product"] == COLLAR
    bad = "scenarios.collar.product.legs=[{kind: call, strike: 1, underlying: worst_of}]"
    with pytest.raises(ConfigError, match=r"scenario 'collar', field 'product': The 'model' "
                                          r"parameter of NettingSet must be a model of at least 2"):
        load_config(path, [bad])
    with pytest.raises(ConfigError, match=r"field 'product': The 'kind' parameter of Leg must be "
                                          r"one of 'call', 'put', 'forward'\. Got 'cal'"):
        load_config(path, ["scenarios.collar.product.legs=[{kind: cal, strike: 1}]"])



@pytest.mark.parametrize("legs", [
    [Leg("put", 3.0, 1.0, "basket", (0.5, 0.5)), Leg("forward", 1.0, 2.0, "basket", (0.5, 0.5))],
    [Leg("put", 3.0, 1.0), Leg("put", 1.0, -2.0)],
    [Leg("put", 3.0, 2.0, "worst_of"), Leg("put", 1.0, -2.5, "worst_of")],
    [Leg("call", 1.0), Leg("call", 2.0, -1.0)],
    [Leg("put", 2.0), Leg("put", 1.0, -1.0)],
    [Leg("call", 1.0, -1.0), Leg("put", 1.0, -1.0)],
], ids=["put_plus_forward", "put_ratio", "worst_of_ratio", "call_spread", "put_spread",
        "short_straddle"])
def test_sign_under_bachelier_covers_negative_terminal_values(legs):
    """Bachelier assets can end below zero: ``sign`` only looked at u >= 0, so a payoff that is
    negative for u < 0 was called one-signed and simulate multiplied it by e^(-c tau). The
    oracle: the payoff on a grid of u over [-20, 20] (it is linear beyond the strikes), every
    asset at u (then a basket of weights summing to 1, a worst-of and an asset are all u)."""
    ns = NettingSet(legs, maturity=1.0)
    dim = 2 if ns.dim is None else ns.dim
    model = sim.BachelierBasket(vols=(1.0,) * dim, correlation=np.eye(dim).tolist())
    u = np.linspace(-20.0, 20.0, 4001)
    pay = ns.payoff(np.repeat(u[:, None], dim, axis=1))
    expected = 1 if np.all(pay >= 0) else -1 if np.all(pay <= 0) else 0
    assert ns.sign_for(model) == sim.payoff_sign(ns, model) == expected
    assert ns.sign_for(sim.BlackScholes(vol=0.2)) == ns.sign  # u >= 0 there
    if expected == 0:  # every layer that decides on the sign sees the model's
        from data.spec import DatasetSpec
        from pipeline.config import surrogate_learns_risk_free

        with pytest.raises(ValueError, match="can change sign"):
            sim.simulate(model, ns, sim.FixedSampler([0.5] * dim), 10, seed=1, xva=XVA)
        with pytest.raises(ValueError, match="'xva' parameter of DatasetSpec must be None"):
            DatasetSpec(name="x", model=model, product=ns, sampler=sim.FixedSampler([0.5] * dim),
                        seed=1, n_paths=10, xva=XVA)
        assert surrogate_learns_risk_free({"xva": XVA, "product": ns, "model": model})
