"""One argument convention across simulators, evaluation.analytic, evaluation.fd and training.pinn
(docs/pricers.md, "One argument convention"): the state positional (analytic pricers only), then
keyword-only the product (strike, maturity, kind), the model's parameters in the order of its
simulators class, then the rest; and one default kind."""

import dataclasses
import inspect

import pytest

import evaluation.analytic as an
import evaluation.fd as fd
import simulators as sim
from training import pinn

PRODUCT = ("strike", "maturity", "kind")
DEFAULT_KIND = "call"
# Fields of the simulators' model classes that are settings, not model parameters.
SETTINGS = {"inputs", "steps_per_year", "vol_inputs"}

# model: (simulators class, its parameters as the two-asset pricers name them, the pricers).
MODELS = {
    "black_scholes": (sim.BlackScholes, {}, [an.black_scholes, an.black_scholes_greeks,
                                             fd.black_scholes_1d, pinn.BlackScholesPDE]),
    "heston": (sim.Heston, {}, [an.heston, an.heston_greeks, fd.heston_2d, pinn.HestonPDE]),
    "two_lognormal_assets": (sim.BlackScholesBasket, {"correlation": "rho"},
                             [an.stulz_min, an.stulz_max, an.arithmetic_basket_2d, fd.basket_2d,
                              pinn.BasketPDE, pinn.WorstOfPDE, pinn.TwoAssetPDE]),
    "bachelier_basket": (sim.BachelierBasket, {},
                         [an.bachelier_basket, an.bachelier_basket_greeks]),
}
EXPECTED = {
    "black_scholes": ("vol", "rate", "dividend"),
    "heston": ("kappa", "theta", "xi", "rho", "rate", "dividend"),
    "two_lognormal_assets": ("vols", "rho", "rate", "dividends"),
    "bachelier_basket": ("vols", "correlation", "rate"),
}
# Positional state arguments (analytic pricers only; FD solvers and PINN problems take none).
STATE = {
    an.black_scholes: ("spot",), an.black_scholes_greeks: ("spot",),
    an.heston: ("spot", "variance"), an.heston_greeks: ("spot", "variance"),
    an.stulz_min: ("spots",), an.stulz_max: ("spots",), an.arithmetic_basket_2d: ("spots",),
    an.bachelier_basket: ("spots",), an.bachelier_basket_greeks: ("spots",),
}
PRICERS = [(model, p) for model, (_, _, pricers) in MODELS.items() for p in pricers]
PRODUCTS = [sim.European, sim.BasketOption, sim.WorstOf, sim.BestOf]


def _name(obj) -> str:
    return getattr(obj, "__qualname__", repr(obj))


def _model_parameters(model: str) -> tuple[str, ...]:
    cls, alias, _ = MODELS[model]
    names = [f.name for f in dataclasses.fields(cls) if f.name not in SETTINGS]
    return tuple(alias.get(n, n) for n in names)


@pytest.mark.parametrize("model", list(MODELS))
def test_simulators_define_the_order(model):
    assert _model_parameters(model) == EXPECTED[model]


@pytest.mark.parametrize(("model", "pricer"), PRICERS, ids=lambda x: _name(x) if callable(x) else x)
def test_state_positional_then_product_then_model_keyword_only(model, pricer):
    params = list(inspect.signature(pricer).parameters.values())
    state = STATE.get(pricer, ())
    head, rest = params[: len(state)], params[len(state):]
    assert tuple(p.name for p in head) == state
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in head)
    assert all(p.kind is p.KEYWORD_ONLY for p in rest), [p.name for p in rest
                                                        if p.kind is not p.KEYWORD_ONLY]
    names = tuple(p.name for p in rest)
    model_names = _model_parameters(model)
    assert names[: len(PRODUCT) + len(model_names)] == PRODUCT + model_names


@pytest.mark.parametrize("model", list(MODELS))
def test_model_parameters_in_the_same_relative_order_in_every_api(model):
    order = _model_parameters(model)
    for pricer in MODELS[model][2]:
        names = [n for n in inspect.signature(pricer).parameters if n in order]
        assert tuple(names) == order, _name(pricer)


@pytest.mark.parametrize("product", PRODUCTS, ids=_name)
def test_products_end_with_strike_maturity_kind(product):
    names = tuple(f.name for f in dataclasses.fields(product))
    assert names[-len(PRODUCT):] == PRODUCT


def test_one_default_kind_everywhere():
    defaults = {_name(p): inspect.signature(p).parameters["kind"].default
                for _, p in PRICERS}
    defaults |= {_name(p): inspect.signature(p).parameters["kind"].default for p in PRODUCTS}
    assert set(defaults.values()) == {DEFAULT_KIND}, defaults


@pytest.mark.parametrize(("make", "field"), [
    (lambda v: sim.BlackScholes(vol=v), "vol"),
    (lambda v: sim.XVA(lambda_b=v), "lambda_b"),
    (lambda v: sim.BachelierBasket(vols=(v, 1.0), correlation=((1, 0), (0, 1))), "vols"),
    (lambda v: fd.black_scholes_1d(strike=v, maturity=1.0, vol=0.2, rate=0.0), "strike"),
    (lambda v: pinn.BlackScholesPDE(strike=v, maturity=1.0, vol=0.2), "strike"),
    (lambda v: pinn.PINNConfig(learning_rate=v), "learning_rate"),
])
def test_an_integer_beyond_float64_is_one_line(make, field):
    """float(10**400) raises OverflowError, which the validators did not catch: a traceback
    instead of the one line naming the field."""
    with pytest.raises(ValueError, match=f"The '{field}' parameter of .* Got \\(?1000"):
        make(10**400)
