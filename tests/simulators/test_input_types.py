"""Input types: strings, booleans and non-real arrays are refused with the standard message
(owner, field, rule, value); ints, NumPy numbers, lists and float tensors are still accepted.
``simulate`` refuses a product, sampler or xva of the wrong type with one clear TypeError, and
UniformSampler's messages name the field at fault."""

import numpy as np
import pytest

import simulators as sim

BS = sim.BlackScholes(vol=0.2)
CALL = sim.European(1.1, 1.0)
FIXED = sim.FixedSampler([1.0])


# ---------------------------------------------------------------- numbers that are not numbers
@pytest.mark.parametrize("bad", ["0.2", b"0.2", True, np.True_, np.complex128(0.2)])
def test_model_scalar_refuses_text_bool_and_complex(bad):
    with pytest.raises(ValueError, match=r"The 'vol' parameter of BlackScholes must be a real "
                                         r"number\. Got .* instead\."):
        sim.BlackScholes(vol=bad)


def test_product_maturity_refuses_a_bool():
    with pytest.raises(ValueError,
                       match=r"'maturity' parameter of European must be a real number\. Got True"):
        sim.European(1.0, True, "call")


def test_leg_quantity_refuses_a_bool():
    with pytest.raises(ValueError, match=r"'quantity' parameter of Leg must be a real number\. "
                                         r"Got True"):
        sim.Leg("call", 1.0, quantity=True)


def test_netting_set_leg_dict_refuses_a_string_strike():
    with pytest.raises(ValueError, match=r"'strike' parameter of Leg must be a real number\. "
                                         r"Got '1\.0'"):
        sim.NettingSet([{"kind": "call", "strike": "1.0"}], maturity=1.0)


@pytest.mark.parametrize("bad", ["1", b"1", [True], [1.0, True], ["1.0"],
                                 np.array([True]), np.array([1 + 0j]),
                                 np.array([1.0, True], dtype=object)])
def test_vector_refuses_text_bool_complex_and_object(bad):
    with pytest.raises(ValueError, match=r"The 'state' parameter of FixedSampler must be a "
                                         r"sequence of real numbers\. Got .* instead\."):
        sim.FixedSampler(bad)


def test_weights_refuse_booleans():
    with pytest.raises(ValueError, match=r"'weights' parameter of BasketOption must be a "
                                         r"sequence of real numbers\. Got \[True, True\]"):
        sim.BasketOption([True, True], 1.0, 1.0)


def test_correlation_refuses_a_boolean_matrix():
    with pytest.raises(ValueError, match=r"'correlation' parameter of BachelierBasket must be a "
                                         r"square matrix of real numbers"):
        sim.BachelierBasket(vols=[0.2, 0.2], correlation=np.eye(2, dtype=bool))


def test_real_numbers_of_every_kind_are_still_accepted():
    torch = pytest.importorskip("torch")
    for vol in (1, np.float32(0.25), np.int64(1), np.float64(0.2), np.array(0.2),
                torch.tensor(0.2), torch.tensor(0.2, dtype=torch.float64)):
        assert isinstance(sim.BlackScholes(vol=vol).vol, float)
    for state in ([1.0], (1,), np.array([1.0]), np.array([1], dtype=np.int32), 1.0,
                  torch.tensor([1.0]), np.array([1.0], dtype=object)):
        assert sim.FixedSampler(state).state == (1.0,)
    with pytest.raises(ValueError, match="must be a sequence of real numbers"):
        sim.FixedSampler(np.array(["1"], dtype=object))  # an object array is its elements
    assert sim.Leg("call", 1, quantity=-2).quantity == -2.0
    assert sim.BachelierBasket(vols=np.array([1, 2]), correlation=np.eye(2, dtype=int)).vols == (
        1.0, 2.0)
    sample = sim.simulate(sim.BlackScholes(vol=torch.tensor(0.2)), sim.European(1, 1),
                          sim.UniformSampler([np.float32(0.5)], [np.int64(2)]), 8, seed=1)
    assert sample.y.shape == (8,)


# ---------------------------------------------------------------- simulate's object arguments
@pytest.mark.parametrize("kwargs,field,got", [
    ({"model": "BlackScholes"}, "model", r"'BlackScholes'"),
    ({"model": None}, "model", r"None"),
    ({"model": CALL}, "model", r"European\("),
    ({"product": "call"}, "product", r"'call'"),
    ({"product": BS}, "product", r"BlackScholes\("),
    ({"sampler": [1.0]}, "sampler", r"\[1\.0\]"),
    ({"sampler": CALL}, "sampler", r"European\("),
    ({"xva": "cva"}, "xva", r"'cva'"),
    ({"xva": 0.01}, "xva", r"0\.01"),
])
def test_simulate_refuses_objects_of_the_wrong_type(kwargs, field, got):
    args = {"model": BS, "product": CALL, "sampler": FIXED, **kwargs}
    with pytest.raises(TypeError, match=rf"The '{field}' parameter of simulate must be .*\. "
                                        rf"Got {got}.* instead\."):
        sim.simulate(args["model"], args["product"], args["sampler"], 8, seed=1,
                     xva=args.get("xva"))


def test_simulate_accepts_every_product_and_sampler_type():
    model, _ = sim.random_bachelier_basket(2, seed=1)
    products = [sim.BasketOption([0.5, 0.5], 1.0, 1.0), sim.WorstOf(1.0, 1.0),
                sim.BestOf(1.0, 1.0),
                sim.NettingSet([sim.Leg("call", 1.0, underlying="worst_of")], 1.0)]
    samplers = [sim.FixedSampler([1.0, 1.0]), sim.UniformSampler([0.9, 0.9], [1.1, 1.1]),
                sim.ForwardSampler(1.0, 0.5)]
    for product in products:
        for sampler in samplers:
            assert sim.simulate(model, product, sampler, 4, seed=1).y.shape == (4,)
    assert sim.simulate(BS, CALL, FIXED, 4, seed=1, xva=sim.XVA(lambda_c=0.1)).y.shape == (4,)


# ---------------------------------------------------------------- UniformSampler's messages
def test_uniform_sampler_high_shorter_than_low_names_the_mismatch():
    with pytest.raises(ValueError, match=r"The 'high' parameter of UniformSampler must be of the "
                                         r"same length as low \(2\)\. Got \(2\.0,\) instead\."):
        sim.UniformSampler([1.0, 2.0], [2.0])


def test_uniform_sampler_low_above_high_names_the_entry():
    with pytest.raises(ValueError, match=r"The 'high' parameter of UniformSampler must be >= low "
                                         r"in every entry \(entry 1: low 3\.0\)\. "
                                         r"Got \(2\.0, 2\.5\) instead\."):
        sim.UniformSampler([1.0, 3.0], [2.0, 2.5])


@pytest.mark.parametrize("low,high,field,rule,got", [
    ([-1.0], [1.0], r"low \(spot\)", r"> 0\.0", r"-1\.0"),
    ([0.0], [1.0], r"low \(spot\)", r"> 0\.0", r"0\.0"),
    ([1.0, 2.0], [2.0, 3.0], "low", r"of length 1 \('spot',\)", r"\(1\.0, 2\.0\)"),
])
def test_uniform_sampler_model_checks_name_the_field(low, high, field, rule, got):
    with pytest.raises(ValueError, match=rf"The '{field}' parameter of UniformSampler must be "
                                         rf"{rule}.*\. Got {got} instead\."):
        sim.simulate(BS, CALL, sim.UniformSampler(low, high), 8, seed=1)


@pytest.mark.parametrize("low,high,field,got", [
    ([1.0, 0.04, -1.5], [2.0, 0.05, 0.5], r"low \(rho\)", r"-1\.5"),
    ([1.0, 0.04, -0.5], [2.0, 0.05, 1.5], r"high \(rho\)", r"1\.5"),
    ([1.0, -0.01, -0.5], [2.0, 0.05, 0.5], r"low \(variance\)", r"-0\.01"),
])
def test_uniform_sampler_heston_bounds_name_the_field(low, high, field, got):
    model = sim.Heston(2.0, 0.04, 0.3, -0.7, inputs=("spot", "variance", "rho"))
    with pytest.raises(ValueError, match=rf"The '{field}' parameter of UniformSampler must be .* "
                                         rf"for Heston\. Got {got} instead\."):
        sim.UniformSampler(low, high).validate(model)
