"""Bad input gets a ValueError naming the field, the allowed range and the value given."""

import numpy as np
import pytest

import simulators as sim

BS = sim.BlackScholes(vol=0.2)
CALL = sim.European(1.1, 1.0)
FIXED = sim.FixedSampler([1.0])


@pytest.mark.parametrize("build,match", [
    (lambda: sim.BlackScholes(vol=-0.2), r"'vol' parameter of BlackScholes must be > 0\. Got -0\.2"),
    (lambda: sim.BlackScholes(vol=0.0), r"'vol' .* must be > 0"),
    (lambda: sim.BlackScholes(vol=float("nan")), r"'vol' .* must be finite"),
    (lambda: sim.BlackScholes(vol=0.2, inputs=("vol",)), r"'inputs' .* 'spot' followed by"),
    (lambda: sim.European(strike=1.0, maturity=0.0), r"'maturity' parameter of European must be > 0"),
    (lambda: sim.European(strike=1.0, maturity=1.0, kind="straddle"), r"'kind' .* one of 'call'"),
    (lambda: sim.BachelierBasket(vols=[0.2, 0.2], correlation=[[1, 0.5], [0.4, 1]]),
     r"'correlation' .* symmetric"),
    (lambda: sim.BachelierBasket(vols=[0.2] * 3,
                                 correlation=[[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]),
     r"'correlation' .* positive semi-definite\. Got 'smallest eigenvalue -0\.8'"),
    (lambda: sim.BachelierBasket(vols=[0.2, -0.1], correlation=np.eye(2)),
     r"'vols' .* > 0 in every entry"),
    (lambda: sim.BachelierBasket(vols=[0.2, 0.1], correlation=np.eye(3)),
     r"'correlation' .* a 2x2 matrix"),
    (lambda: sim.UniformSampler(low=[1.0], high=[0.5]), r"'high' .* >= low"),
    (lambda: sim.XVA(lambda_b=-0.1), r"'lambda_b' parameter of XVA must be >= 0"),
    (lambda: sim.XVA(recovery_c=1.5), r"'recovery_c' .* in \[0, 1\]"),
])
def test_parameter_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize("kwargs,match", [
    ({"n_paths": 0}, r"'n_paths' parameter of simulate must be an integer >= 1\. Got 0"),
    ({"n_paths": 10, "backend": "tpu"}, r"'backend' .* one of 'cpu', 'gpu', 'auto'\. Got 'tpu'"),
    ({"n_paths": 10, "seed": -5}, r"'seed' .* \[0, 2\*\*64\)"),
    ({"n_paths": 10, "first_path": -1}, r"'first_path'"),
    ({"n_paths": 10, "dtype": "float16"}, r"'dtype'"),
])
def test_simulate_argument_errors(kwargs, match):
    kwargs.setdefault("seed", 1)
    with pytest.raises(ValueError, match=match):
        sim.simulate(BS, CALL, FIXED, **kwargs)


def test_weights_of_wrong_length():
    model, _ = sim.random_bachelier_basket(3, seed=1)
    with pytest.raises(ValueError, match=r"'weights' parameter of BasketOption must be of length 3"):
        sim.simulate(model, sim.BasketOption([0.5, 0.5], 1.0, 1.0), sim.FixedSampler([1.0] * 3),
                     10, seed=1)


def test_sampler_dimension_and_range():
    with pytest.raises(ValueError, match=r"'state' parameter of FixedSampler must be of length 1"):
        sim.simulate(BS, CALL, sim.FixedSampler([1.0, 2.0]), 10, seed=1)
    with pytest.raises(ValueError, match=r"'low \(spot\)' .* > 0\.0 for BlackScholes"):
        sim.simulate(BS, CALL, sim.UniformSampler([-1.0], [1.0]), 10, seed=1)
    vol_model = sim.BlackScholes(vol=0.2, inputs=("spot", "vol"))
    with pytest.raises(ValueError, match=r"'params' .* ranges for exactly \['vol'\]"):
        sim.simulate(vol_model, CALL, sim.ForwardSampler(1.0, 1.0), 10, seed=1)


def test_european_on_a_basket_is_refused():
    model, _ = sim.random_bachelier_basket(2, seed=1)
    with pytest.raises(ValueError, match="European pays on a single asset"):
        sim.simulate(model, CALL, sim.FixedSampler([1.0, 1.0]), 10, seed=1)


def test_gpu_backend_without_cuda_is_a_clear_error():
    from simulators.simulate import _gpu_usable

    if _gpu_usable():
        pytest.skip("a CUDA device is present")
    with pytest.raises(RuntimeError, match="needs a CUDA device"):
        sim.simulate(BS, CALL, FIXED, 10, seed=1, backend="gpu")
    assert sim.simulate(BS, CALL, FIXED, 10, seed=1, backend="auto").backend == "cpu"


@pytest.mark.parametrize(("spot", "dtype", "what"), [
    (1e39, "float32", "input 'spot'"),   # past float32's range
    (1.5e308, "float64", "discounted payoff"),  # S_T = S_0 e^(σW - σ²/2) overflows float64
])
def test_overflow_is_an_error_naming_the_column(spot, dtype, what):
    import warnings

    from simulators import BlackScholes, European, ForwardSampler, simulate

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one clear error, no RuntimeWarning on the way
        with pytest.raises(OverflowError, match=f"the {what} is not finite") as info:
            simulate(BlackScholes(vol=0.2), European(strike=1.0, maturity=1.0, kind="call"),
                     ForwardSampler(spot=spot, horizon=1.0, vol_mult=1e-9), n_paths=64, seed=1,
                     dtype=dtype)
    assert dtype in str(info.value)


def test_heston_steps_per_year_has_a_documented_maximum():
    from simulators.heston import MAX_STEPS_PER_YEAR

    kw = dict(kappa=2.0, theta=0.04, xi=0.3, rho=-0.7)
    assert sim.Heston(**kw, steps_per_year=MAX_STEPS_PER_YEAR).steps_per_year == MAX_STEPS_PER_YEAR
    with pytest.raises(ValueError, match=r"steps_per_year.*\[1, 100000\].*1000000000000"):
        sim.Heston(**kw, steps_per_year=10**12)


def test_heston_paths_of_more_than_10_7_steps_are_refused_by_maturity_and_horizon():
    """100000 steps a year x 101 years would be 1.01e7 steps per path: refused before any
    allocation, naming the maturity (simulate) or the sampler's horizon (forward sampler)."""
    m = sim.Heston(kappa=2.0, theta=0.04, xi=0.3, rho=-0.7, steps_per_year=100_000)
    with pytest.raises(ValueError, match=r"^The 'maturity' parameter of Heston must be <= "
                                         r"10000000 / steps_per_year = 100 years .* Got 101\.0 "
                                         r"instead\.$"):
        sim.simulate(m, sim.European(strike=1.0, maturity=101.0),
                     sim.FixedSampler(state=(1.0, 0.04)), n_paths=4, seed=1)
    assert m.steps(100.0) == 10**7
    with pytest.raises(ValueError, match=r"^The 'horizon' parameter of ForwardSampler"):
        m.forward_state(sim.ForwardSampler(spot=1.0, horizon=101.0, variance=0.04), 1, 0, 4)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: sim.random_bachelier_basket(3, 1, basket_vol=-0.2),
     "The 'basket_vol' parameter of random_bachelier_basket must be > 0. Got -0.2 instead."),
    (lambda: sim.random_bachelier_basket(3, 1, basket_vol=float("nan")),
     "The 'basket_vol' parameter of random_bachelier_basket must be finite. Got nan instead."),
    (lambda: sim.random_bachelier_basket(3, -1),
     "The 'seed' parameter of random_bachelier_basket must be an integer >= 0. Got -1 instead."),
    (lambda: sim.BlackScholes(0.2, inputs="spot"),
     "The 'inputs' parameter of BlackScholes must be a sequence of input names such as "
     "('spot',). Got 'spot' instead."),
    (lambda: sim.Heston(kappa=2.0, theta=0.04, xi=0.3, rho=-0.7, inputs="spot"),
     "The 'inputs' parameter of Heston must be a sequence of input names such as "
     "('spot', 'variance'). Got 'spot' instead."),
    (lambda: sim.NettingSet("call", 1.0),
     "The 'legs' parameter of NettingSet must be a non-empty list of legs. Got 'call' instead."),
    (lambda: sim.simulate(sim.BlackScholes(0.2), sim.European(1.0, 1.0),
                          sim.ForwardSampler(1.0, 1.0, variance=0.5), 10, 1),
     "The 'variance' parameter of ForwardSampler must be None for BlackScholes (an initial "
     "variance is a Heston state). Got 0.5 instead."),
])
def test_bad_arguments_are_named_with_the_value_given(make, message):
    """Before: the derived vols named instead of basket_vol, NumPy's bare 'expected non-negative
    integer' for a seed, a string split into its characters ('s', 'p', 'o', 't'), and a
    ForwardSampler variance silently ignored for a model without variance."""
    import re

    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        make()
