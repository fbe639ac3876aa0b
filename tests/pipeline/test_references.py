"""The pipeline's reference dispatch: analytic and FD references agree, gradients line up with
the simulator's inputs, XVA scaling applies, unsupported pairs are refused."""

import numpy as np
import pytest

import simulators as sim
from pipeline import references as refs
from pipeline.config import EvaluationSet

XVA = sim.XVA(lambda_b=0.02, lambda_c=0.05)


@pytest.mark.parametrize("case", ["bs_put_xva", "worst_of", "basket", "heston"])
def test_analytic_and_fd_agree(case):
    if case == "bs_put_xva":
        model, product, xva = (sim.BlackScholes(vol=0.25, rate=0.03, dividend=0.01),
                               sim.European(100.0, 1.0, "put"), XVA)
        x = np.array([[80.0], [100.0], [125.0]])
    elif case == "worst_of":
        model = sim.BlackScholesBasket(vols=[0.25, 0.35], correlation=[[1, 0.5], [0.5, 1]],
                                       rate=0.03)
        product, xva = sim.WorstOf(100.0, 0.5, "put"), XVA
        x = np.array([[100.0, 100.0], [90.0, 115.0]])
    elif case == "basket":
        model = sim.BlackScholesBasket(vols=[0.25, 0.35], correlation=[[1, 0.5], [0.5, 1]],
                                       rate=0.03)
        product, xva = sim.BasketOption([0.5, 0.5], 100.0, 0.5, "put"), XVA
        x = np.array([[100.0, 100.0], [90.0, 115.0]])
    else:
        model = sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.025)
        product, xva = sim.European(100.0, 1.0, "put"), None
        x = np.array([[100.0, 0.04], [90.0, 0.06]])
    a = refs.analytic(model, product, x, xva)
    f = refs.finite_difference(model, product, x, xva)
    np.testing.assert_allclose(f.price, a.price, rtol=2e-3)
    np.testing.assert_allclose(f.grad, a.grad, rtol=5e-3, atol=2e-3)
    assert a.grad.shape == x.shape


def test_gradient_columns_follow_the_model_inputs():
    model = sim.BlackScholes(vol=0.2, rate=0.01, inputs=("spot", "vol", "rate"))
    x = np.array([[1.0, 0.2, 0.01], [1.2, 0.3, 0.02]])
    ref = refs.analytic(model, sim.European(1.1, 1.0, "call"), x)
    s = sim.simulate(model, sim.European(1.1, 1.0, "call"), sim.FixedSampler(x[1]), 200_000,
                     seed=1, antithetic=True)
    g, se = s.gradient()
    assert np.all(np.abs(g - ref.grad[1]) < 4 * se)  # delta, vega, rho in simulator order


def test_risky_reference_is_scaled():
    model, product = sim.BlackScholes(vol=0.25, rate=0.03), sim.European(100.0, 1.0, "put")
    x = np.array([[100.0]])
    assert np.isclose(refs.analytic(model, product, x, XVA).price[0],
                      XVA.factor(1.0, 1) * refs.analytic(model, product, x).price[0], rtol=1e-14)


def test_unsupported_pairs_are_refused_with_a_pointer():
    model = sim.BlackScholesBasket(vols=[0.2, 0.2, 0.2], correlation=np.eye(3))
    with pytest.raises(refs.NoReference, match="no analytic reference.*'fd' or 'pinn'"):
        refs.analytic(model, sim.WorstOf(1.0, 1.0, "put"), np.ones((2, 3)))
    with pytest.raises(refs.NoReference, match="no FD reference"):
        refs.finite_difference(model, sim.WorstOf(1.0, 1.0, "put"), np.ones((2, 3)))


def test_test_inputs_grid_and_box():
    one = refs.test_inputs(sim.BlackScholes(vol=0.2), EvaluationSet(n=5, low=0.5, high=1.5))
    np.testing.assert_allclose(one[:, 0], [0.5, 0.75, 1.0, 1.25, 1.5])
    model = sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.9)
    box = refs.test_inputs(model, EvaluationSet(n=500, low=[60.0, 0.02], high=[150.0, 0.08]))
    assert box.shape == (500, 2)
    assert box[:, 0].min() >= 60 and box[:, 0].max() <= 150
    assert box[:, 1].min() >= 0.02 and box[:, 1].max() <= 0.08


# ---------------------------------------------------------------- netting sets and the registry
from pipeline import registry  # noqa: E402
from tests.evaluation import _ql  # noqa: E402

L = sim.Leg
DAYS = 273
TAU = DAYS / 365.0
BS = sim.BlackScholes(vol=0.25, rate=0.03, dividend=0.01)
BASKET = sim.BlackScholesBasket(vols=[0.25, 0.35], correlation=[[1, 0.5], [0.5, 1]], rate=0.03,
                                dividends=[0.01, 0.02])
HESTON = sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.7, rate=0.03, dividend=0.01)
COLLAR = sim.NettingSet([L("call", 110.0), L("put", 90.0, -1.0)], TAU)


def test_netting_set_closed_form_is_the_sum_of_its_legs_black_scholes():
    """Legs priced one by one by QuantLib; a long call and a short put at one strike is the
    forward (parity), in price and in delta / rho."""
    model = sim.BlackScholes(vol=0.25, rate=0.03, dividend=0.01, inputs=("spot", "vol", "rate"))
    ns = sim.NettingSet([L("call", 110.0, 2.0), L("put", 90.0, -1.5), L("forward", 100.0, 0.5)],
                        TAU)
    x = np.array([[80.0, 0.25, 0.03], [100.0, 0.25, 0.03], [125.0, 0.25, 0.03]])
    ref = refs.analytic(model, ns, x)
    for i, s in enumerate(x[:, 0]):
        c = _ql.black_scholes("call", s, 110.0, DAYS, 0.25, 0.03, 0.01)
        p = _ql.black_scholes("put", s, 90.0, DAYS, 0.25, 0.03, 0.01)
        fwd = s * np.exp(-0.01 * TAU) - 100.0 * np.exp(-0.03 * TAU)
        assert ref.price[i] == pytest.approx(2.0 * c[0] - 1.5 * p[0] + 0.5 * fwd, abs=1e-9)
        assert ref.grad[i, 0] == pytest.approx(2.0 * c[1] - 1.5 * p[1]
                                               + 0.5 * np.exp(-0.01 * TAU), abs=1e-10)
        assert ref.grad[i, 2] == pytest.approx(2.0 * c[2] - 1.5 * p[2]
                                               + 0.5 * 100.0 * TAU * np.exp(-0.03 * TAU),
                                               abs=1e-8)
    parity = sim.NettingSet([L("call", 100.0), L("put", 100.0, -1.0)], TAU)
    fwd = refs.analytic(BS, sim.NettingSet([L("forward", 100.0)], TAU), x[:, :1])
    both = refs.analytic(BS, parity, x[:, :1])
    np.testing.assert_allclose(both.price, fwd.price, atol=1e-10)
    np.testing.assert_allclose(both.grad, fwd.grad, atol=1e-12)
    np.testing.assert_allclose(fwd.price, x[:, 0] * np.exp(-0.01 * TAU)
                               - 100.0 * np.exp(-0.03 * TAU), atol=1e-12)


def test_netting_set_closed_form_two_assets_heston_bachelier():
    ns = sim.NettingSet([L("forward", 100.0, 1.0, "basket", (0.4, 0.6)),
                         L("put", 95.0, -2.0, "worst_of"), L("call", 110.0, 1.0, "best_of"),
                         L("call", 105.0, 0.5, "basket", (0.5, 0.5))], TAU)
    x = np.array([[100.0, 100.0], [90.0, 115.0]])
    got = refs.analytic(BASKET, ns, x).price
    q = (0.01, 0.02)
    for i, (s1, s2) in enumerate(x):
        want = (_ql.choi_basket("call", s1, s2, 100.0, DAYS, 0.25, 0.35, 0.5, 0.03, *q, 0.4, 0.6)
                - _ql.choi_basket("put", s1, s2, 100.0, DAYS, 0.25, 0.35, 0.5, 0.03, *q, 0.4, 0.6)
                - 2.0 * _ql.stulz("min", "put", s1, s2, 95.0, DAYS, 0.25, 0.35, 0.5, 0.03, *q)
                + _ql.stulz("max", "call", s1, s2, 110.0, DAYS, 0.25, 0.35, 0.5, 0.03, *q)
                + 0.5 * _ql.choi_basket("call", s1, s2, 105.0, DAYS, 0.25, 0.35, 0.5, 0.03, *q,
                                        0.5, 0.5))
        assert got[i] == pytest.approx(want, abs=1e-7)

    xh = np.array([[95.0, 0.05], [110.0, 0.03]])
    got = refs.analytic(HESTON, COLLAR, xh).price
    for i, (s, v0) in enumerate(xh):
        want = (_ql.heston("call", s, 110.0, DAYS, v0, 1.5, 0.04, 0.3, -0.7, 0.03, 0.01)
                - _ql.heston("put", s, 90.0, DAYS, v0, 1.5, 0.04, 0.3, -0.7, 0.03, 0.01))
        assert got[i] == pytest.approx(want, abs=1e-9)

    import evaluation.analytic as an

    bach = sim.BachelierBasket(vols=[10.0, 12.0], correlation=[[1, 0.3], [0.3, 1]], rate=0.03)
    ns = sim.NettingSet([L("call", 100.0, 1.0, "basket", (0.5, 0.5)),
                         L("put", 100.0, -1.0, "basket", (0.5, 0.5))], TAU)
    got = refs.analytic(bach, ns, x)
    np.testing.assert_allclose(got.price, np.exp(-0.03 * TAU) * (x @ [0.5, 0.5] - 100.0),
                               atol=1e-10)  # parity: the basket forward
    one = an.bachelier_basket(x, strike=100.0, maturity=TAU, kind="call", vols=(10.0, 12.0),
                              correlation=[[1, 0.3], [0.3, 1]], rate=0.03, weights=(0.5, 0.5))
    np.testing.assert_allclose(refs.analytic(bach, sim.NettingSet([ns.legs[0]], TAU), x).price,
                               one, atol=1e-12)


def test_netting_set_xva_scaling_follows_its_sign():
    x = np.array([[90.0], [100.0], [120.0]])
    strangle = sim.NettingSet([L("call", 110.0), L("put", 90.0)], TAU)
    short = sim.NettingSet([L("call", 110.0, -1.0), L("put", 90.0, -2.0)], TAU)
    assert (strangle.sign, short.sign, COLLAR.sign) == (1, -1, 0)
    for ns, sign in ((strangle, 1), (short, -1)):
        np.testing.assert_allclose(refs.analytic(BS, ns, x, XVA).price,
                                   np.exp(-XVA.spread(sign) * TAU) * refs.analytic(BS, ns, x).price,
                                   rtol=1e-14)
    with pytest.raises(refs.NoReference, match=r"two-signed netting set .*'fd' or 'pinn'"):
        refs.analytic(BS, COLLAR, x, XVA)
    with pytest.raises(refs.NoReference, match=r"two-signed European .*'fd' or 'pinn'"):
        refs.analytic(BS, sim.European(100.0, 1.0, "forward"), x, XVA)


@pytest.mark.parametrize("case", ["bs_collar", "basket_mixed", "heston_collar"])
def test_fd_netting_set_references_match_the_closed_form(case):
    """Risk-free FD against the sum of the legs' closed forms; the risky FD of a one-signed netting
    set against e^{-c tau} times it."""
    if case == "bs_collar":
        model, ns = BS, COLLAR
        x = np.array([[80.0], [95.0], [100.0], [115.0], [130.0]])
        one = sim.NettingSet([L("call", 110.0), L("put", 90.0, 0.5)], TAU)
        tol, gtol = 2e-3, 2e-3
    elif case == "basket_mixed":
        model = BASKET
        ns = sim.NettingSet([L("forward", 100.0, 1.0, "basket", (0.5, 0.5)),
                             L("put", 95.0, -2.0, "worst_of"), L("call", 110.0, 1.0, "best_of")],
                            TAU)
        one = sim.NettingSet([L("put", 95.0, 1.0, "worst_of"), L("call", 110.0, 1.0, "best_of")],
                             TAU)
        x = np.array([[100.0, 100.0], [90.0, 115.0], [120.0, 85.0]])
        tol, gtol = 1e-2, 1e-2
    else:
        model, ns = HESTON, COLLAR
        one = sim.NettingSet([L("call", 110.0, -1.0), L("put", 90.0, -1.0)], TAU)
        x = np.array([[100.0, 0.04], [90.0, 0.06], [115.0, 0.03]])
        tol, gtol = 5e-3, 1e-2  # vega (the second column) to 1 % relative
    a, f = refs.analytic(model, ns, x), refs.finite_difference(model, ns, x)
    np.testing.assert_allclose(f.price, a.price, atol=tol)
    np.testing.assert_allclose(f.grad, a.grad, rtol=1e-2, atol=gtol)
    assert f.grad.shape == x.shape
    ra, rf = refs.analytic(model, one, x, XVA), refs.finite_difference(model, one, x, XVA)
    np.testing.assert_allclose(rf.price, ra.price, atol=tol)


def _simulator_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """Every model type the simulators have a kernel for, and every product type they export
    (read from the simulators, so a new model or product fails here until it is registered)."""
    from simulators import _dispatch

    models = tuple(_dispatch._CPU)
    exported = {t for name in sim.__all__ if isinstance(t := getattr(sim, name), type)
                and hasattr(t, "inputs") and not hasattr(t, "encode")}
    assert set(models) == exported, "a simulators model without a CPU kernel"
    products = tuple(t for name in sim.__all__ if isinstance(t := getattr(sim, name), type)
                     and callable(getattr(t, "encode", None)))
    return models, products


def test_every_simulator_pair_has_a_registry_entry():
    models, products = _simulator_types()
    assert len(models) == 4 and len(products) == 5, (models, products)
    for m in models:
        for p in products:
            entry = registry.REGISTRY[(m, p)]
            assert isinstance(entry, registry.Entry)
            for slot in (entry.analytic, entry.fd, entry.pde_problem):
                assert slot is None or callable(slot)
    assert set(registry.REGISTRY) == {(m, p) for m in models for p in products}
    # NettingSet PINN problems: every model with an FD solver has one; Bachelier has neither.
    for m in models:
        entry = registry.REGISTRY[(m, sim.NettingSet)]
        assert (entry.pde_problem is None) == (m is sim.BachelierBasket)


def test_empty_slots_name_what_is_available():
    bach = sim.BachelierBasket(vols=[1.0, 1.0], correlation=[[1, 0], [0, 1]])
    with pytest.raises(refs.NoReference, match="no FD reference for BachelierBasket with "
                                                "BasketOption; use reference.method 'analytic'$"):
        refs.finite_difference(bach, sim.BasketOption([0.5, 0.5], 1.0, 1.0), np.ones((2, 2)))
    with pytest.raises(refs.NoReference, match="no analytic reference for BachelierBasket with "
                                                "WorstOf; no other reference method exists"):
        refs.analytic(bach, sim.WorstOf(1.0, 1.0, "put"), np.ones((2, 2)))
    from pipeline.pinn_step import problem_for

    with pytest.raises(ValueError, match="no PINN problem for BachelierBasket with NettingSet; "
                                         "use reference.method 'analytic'$"):
        problem_for(bach, sim.NettingSet(legs=[{"kind": "call", "strike": 1.0,
                                                "underlying": "basket", "weights": [0.5, 0.5]}],
                                         maturity=1.0), None)


def test_a_short_dated_netting_set_gets_a_grid_as_fine_as_its_maturity():
    """A one-week collar (strikes 99 and 101, vol 0.2): the FD reference's clustering follows
    vol sqrt(T) (0.028 of the strike), as the solvers' cluster="auto" does; the fixed 0.2 of
    before was 8x further from the legs' closed forms (2.1e-4 against 2.6e-5)."""
    import evaluation.analytic as an
    from pipeline import pricers

    tau, model = 1.0 / 52.0, sim.BlackScholes(vol=0.2, rate=0.03)
    collar = sim.NettingSet([sim.Leg("call", 101.0, 1.0), sim.Leg("put", 99.0, -1.0)],
                            maturity=tau)
    x = np.array([[99.0], [100.0], [101.0]])
    exact = (an.black_scholes(x[:, 0], strike=101.0, maturity=tau, kind="call", vol=0.2,
                              rate=0.03)
             - an.black_scholes(x[:, 0], strike=99.0, maturity=tau, kind="put", vol=0.2,
                                rate=0.03))
    got = pricers.fd_black_scholes_1d(model, collar, x).price
    np.testing.assert_allclose(got, exact, rtol=0, atol=5e-5)


def test_netting_set_fd_with_unequal_basket_weights_matches_the_legs_closed_forms():
    """A basket put spread on weights (0.1, 0.9): the faces sat at 4 x 133 = 533 while the put's
    kink reaches S1 = 1000 at S2 = 0, and the FD was 0.085 off the closed form at (380, 60)
    (the linearity condition is false where a kink meets a face). Oracle: the sum of the legs'
    conditioning closed forms."""
    m = sim.BlackScholesBasket(vols=(0.25, 0.35), correlation=[[1, 0.5], [0.5, 1]], rate=0.03)
    w = (0.1, 0.9)
    ns = sim.NettingSet([sim.Leg("put", 100.0, 1.0, "basket", w),
                         sim.Leg("call", 120.0, -1.0, "basket", w)], maturity=1.0)
    pts = np.array([[100.0, 100.0], [200.0, 80.0], [300.0, 70.0], [380.0, 60.0]])
    np.testing.assert_allclose(refs.finite_difference(m, ns, pts).price,
                               refs.analytic(m, ns, pts).price, atol=1e-2)
