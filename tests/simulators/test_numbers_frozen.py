"""The numbers are frozen: draws, samples and dataset contents of fixed specs, bit for bit.

Every expected value below was recorded from the simulators as they stood before the CPU kernels
drew their normals in blocks (NUMBERS_VERSION "philox4x32-10/as241/1"); a change in how the
numbers are evaluated must leave them all unchanged. A change of the algorithms themselves bumps
NUMBERS_VERSION, and then these values are recorded again.
"""

import hashlib
import warnings

import numpy as np
import pytest

import data
import simulators as sim
from simulators import rng


def digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()


def corr(d: int, c: float) -> np.ndarray:
    m = np.full((d, d), c)
    np.fill_diagonal(m, 1.0)
    return m


CASES = {
    "bs_call_spot_vol_rate": lambda: (
        sim.BlackScholes(vol=0.2, rate=0.01, dividend=0.02, inputs=("spot", "vol", "rate")),
        sim.European(1.1, 1.0, "call"),
        sim.UniformSampler([0.5, 0.1, -0.01], [1.5, 0.4, 0.05])),
    "bs_forward_put_netting": lambda: (
        sim.BlackScholes(vol=0.3, rate=0.02),
        sim.NettingSet((sim.Leg("call", 1.2, 2.0), sim.Leg("put", 0.9, -1.0),
                        sim.Leg("forward", 1.0, 0.5)), 1.5),
        sim.ForwardSampler(1.0, 0.5, vol_mult=1.5)),
    "bachelier_7": lambda: (*sim.random_bachelier_basket(7, seed=1),
                            sim.ForwardSampler(1.0, 1.0, vol_mult=1.5)),
    "bachelier_2_netting": lambda: (
        sim.BachelierBasket(vols=(0.2, 0.3), correlation=corr(2, 0.5), rate=0.01),
        sim.NettingSet((sim.Leg("call", 1.0, 1.0, "basket", (0.5, 0.5)),
                        sim.Leg("put", 1.1, -2.0, "worst_of")), 0.75),
        sim.UniformSampler([0.8, 0.8], [1.2, 1.3])),
    "bs_basket_worst_of_5_vols": lambda: (
        sim.BlackScholesBasket(vols=[0.2, 0.3, 0.25, 0.15, 0.35], correlation=corr(5, 0.3),
                               rate=0.01, dividends=[0.0, 0.01, 0.02, 0.0, 0.01],
                               vol_inputs=True),
        sim.WorstOf(1.0, 1.0, "put"),
        sim.ForwardSampler(1.0, 1.0, params={f"vol_{j}": (0.1, 0.4) for j in range(5)})),
    "bs_basket_best_of_3": lambda: (
        sim.BlackScholesBasket(vols=[0.2, 0.3, 0.25], correlation=corr(3, -0.2), rate=0.02),
        sim.BestOf(1.1, 1.0, "call"), sim.FixedSampler([1.0, 0.9, 1.1])),
    "bs_basket_arithmetic_4": lambda: (
        sim.BlackScholesBasket(vols=[0.25] * 4, correlation=corr(4, 0.6)),
        sim.BasketOption([0.1, 0.2, 0.3, 0.4], 1.0, 2.0, "call"),
        sim.UniformSampler([0.7] * 4, [1.3] * 4)),
    "bs_basket_worst_of_10": lambda: (
        sim.BlackScholesBasket(vols=[0.25] * 10, correlation=corr(10, 0.3)),
        sim.WorstOf(1.0, 1.0, "put"), sim.FixedSampler([1.0] * 10)),
    "heston_params_13_steps": lambda: (
        sim.Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.7, rate=0.02, dividend=0.01,
                   steps_per_year=13, inputs=("spot", "variance", "kappa", "theta", "xi", "rho",
                                              "rate")),
        sim.European(1.0, 1.0, "put"),
        sim.ForwardSampler(1.0, 0.5, params={"kappa": (1.0, 2.0), "theta": (0.02, 0.06),
                                             "xi": (0.2, 0.4), "rho": (-0.9, 0.0),
                                             "rate": (0.0, 0.05)})),
    "heston_252_netting": lambda: (
        sim.Heston(kappa=2.0, theta=0.05, xi=0.4, rho=-0.5, steps_per_year=252),
        sim.NettingSet((sim.Leg("call", 1.1, 1.0), sim.Leg("put", 0.9, -1.0)), 0.6),
        sim.UniformSampler([0.7, 0.01], [1.3, 0.09])),
    "heston_rho_one_8_steps": lambda: (
        sim.Heston(kappa=1.0, theta=0.04, xi=0.5, rho=1.0, steps_per_year=8,
                   inputs=("spot", "variance", "xi")),
        sim.European(1.0, 1.0, "call"),
        sim.ForwardSampler(1.0, 0.25, params={"xi": (0.3, 0.6)})),
}

# SHA-256 of (x, y, dydx) in float64: 777 paths from path 1001, seed 2**40 + 3.
SAMPLES = {
    ("bs_call_spot_vol_rate", False):
        "6e43c93764f6bed09c39e7433f33feb61ab9110ab9e89f0c803b3fb67113b9d9",
    ("bs_call_spot_vol_rate", True):
        "1a1d499b1ac28449c37c463ee98691e6ed4afaa77403024b636aeb3c9aac7be2",
    ("bs_forward_put_netting", False):
        "97c5e82507dfe22ef26e614dab44654b9b2f88d5b99b1d9348e73a6973068af7",
    ("bs_forward_put_netting", True):
        "12f236c816801cf46da21e225076620f5fa9904c1829240dd8d4fe809af21d52",
    ("bachelier_7", False): "8b908935747b7d0cd328effba93d4fb8a9cf6ae773d830f1d690bd59484df0f2",
    ("bachelier_7", True): "1e15faa94de59b5517f3b4e1821bf8603ae8a0666442c0ef023b2850381e121a",
    ("bachelier_2_netting", False):
        "906a0fd958f5207c78bb7b4a3280f23467ec806af90d62c135725cd4284c30dc",
    ("bachelier_2_netting", True):
        "1c86cc7e39649c02e64a2fb704202ae364b29c29240a9d67e347a4d1ffdb86c2",
    ("bs_basket_worst_of_5_vols", False):
        "2bd2b35bc99c74747e3e46dcda180ac0da3811c734c73c1cd9abc2e5264cade7",
    ("bs_basket_worst_of_5_vols", True):
        "8b7975d8f02132744f3f15ce28c4d2b317c736b981ca108a9a81d1d020620bde",
    ("bs_basket_best_of_3", False):
        "802292e970c44d564c7c5282a530bf6c8ecaaa5e7a8672bad38a28927f3d91d6",
    ("bs_basket_best_of_3", True):
        "a72106dfb32e6024be5a2bfe04b83e470fb62480a001452295971ef207eef63b",
    ("bs_basket_arithmetic_4", False):
        "9d64d9ed6289627907cefb4b4821983d36dbad982a983335f31901caca1cd6bf",
    ("bs_basket_arithmetic_4", True):
        "95422e0ed8319456760872148cd52b40f3b149b9b67521b10a193526e0cdcf01",
    ("bs_basket_worst_of_10", False):
        "032561a4538266a4e92a1475ce31e56ddb35ca716d6b19c251ca42161518596d",
    ("bs_basket_worst_of_10", True):
        "d451a2a44643ba77a8cf69863645fa2255e9e7e861d1a59edf58a7aeffa05d7d",
    ("heston_params_13_steps", False):
        "db3f2a74bc07dc98d792284d2e060d4362bd2d9c90054ba324705e1525c21110",
    ("heston_params_13_steps", True):
        "0008c4a8b9152bd9f837d58832c1bb94b25a0f318f6bb5e51991f51576717f9c",
    ("heston_252_netting", False):
        "9143cc766e5be38e9896a2f3019041cb30d65acd1904aeabafc4c2632baf25b9",
    ("heston_252_netting", True):
        "ef7099f0e35877fd573d63a2b494dbdeaba3849e5385b8fa906559b6061b5ba2",
    ("heston_rho_one_8_steps", False):
        "e8c1c40ac1daffd9049f89c3ec71fbda63304171d49e0d3e652eca464a78b0cb",
    ("heston_rho_one_8_steps", True):
        "ec2a8bf0c0a821699f9b3ad003f5b9e59e0081507b586d975bb68b7c9b0ce7d8",
}

# (spec hash, SHA-256 of the dataset's (x, y, dydx) read back): 2000 antithetic paths, seed 5,
# chunks of 700.
DATASETS = {
    "bs_call_spot_vol_rate": (
        "4b07214b56165c8c5d7a054a79b5a0d0f4e6e460c941d478d276794ed65a66e4",
        "862be73e1f8dfbe46011e45193925caf82cb7920260cc22ffff748d575802b63"),
    "bachelier_7": (
        "eafff31d81d398f2916f392acd0d5fb6d609943d32a6fce01d32c7de30f552cf",
        "a1f8d48bc15c913418edf6d98e6659fdd1dc13461df425f5af0e1240e56aad3a"),
    "bs_basket_worst_of_5_vols": (
        "b862a53a770a132d5fd56f11a23227359779d93dd666be0fc4e21141b1126187",
        "58d1ddcb854a6081dd761c71156460caf2f740b9d7ba9a2b100210facf90b955"),
    "heston_params_13_steps": (
        "6a1298115003194e6f3f585e4d0a963290b4218df1a1d1650d23dce0b2e8f1c1",
        "2c980d481faefc62e28ffb15bfb234ce0f86579644a296a31a4cc85572a45b0f"),
}


def _case(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Feller warning of heston_rho_one_8_steps
        return CASES[name]()


def test_numbers_version_is_unchanged():
    assert sim.NUMBERS_VERSION == "philox4x32-10/as241/1"


def test_draws_are_unchanged():
    z = rng.normals(123456789, 67, 13, first_path=2**32 - 17)
    u = rng.uniforms(987654321, 33, 9, first_path=5, stream=rng.STREAM_SAMPLER)
    assert digest(z) == "09e008270d4ebc977b230f65cab5b6245d6e4432a7b30877c384ffa355e337be"
    assert digest(u) == "6a4ef902f36e03247261c2b37d725a675f1c6b03770553e2c99346955d3caca7"
    expected = {(0, 0): "-0x1.5d96644002125p-2", (0, 12): "-0x1.27fea126145c0p+0",
                (16, 3): "0x1.554a5a28eb66dp-1", (17, 0): "0x1.6e4961dd27c4cp+0",
                (66, 12): "-0x1.e290e4773edf9p+0", (37, 5): "-0x1.7e01a21cb140fp+1"}
    for (i, j), value in expected.items():
        assert z[i, j] == float.fromhex(value), (i, j)
    # a draw deep in the tail (the log branch of the inverse CDF)
    tail = rng.normals(3, 1, 1, first_path=138027)[0, 0]
    assert tail == float.fromhex("0x1.33f42a79c5f6ap+2")


@pytest.mark.parametrize("word,value", [
    (0, "-0x1.95a1198fcf3d5p+2"), (1, "-0x1.8aa6c7fe07fdep+2"),
    (2**31 - 1, "-0x1.40d931ff62707p-32"), (2**31, "0x1.40d931ff62707p-32"),
    (2**32 - 2, "0x1.8aa6c7fe07fdep+2"), (2**32 - 1, "0x1.95a1198fcf3d5p+2"),
    (1234567, "-0x1.b8ba86cdf58a4p+1"),
])
def test_normal_of_extreme_words_is_unchanged(word, value):
    u = (word + 0.5) / 2**32
    assert rng.inverse_normal_cdf(u) == float.fromhex(value)


@pytest.mark.parametrize("case,antithetic", sorted(SAMPLES))
def test_samples_are_unchanged(case, antithetic):
    model, product, sampler = _case(case)
    s = sim.simulate(model, product, sampler, 777, seed=2**40 + 3, first_path=1001,
                     antithetic=antithetic)
    assert digest(s.x, s.y, s.dydx) == SAMPLES[case, antithetic]


@pytest.mark.parametrize("case", sorted(DATASETS))
def test_dataset_hash_and_contents_are_unchanged(case, tmp_path):
    model, product, sampler = _case(case)
    spec = data.DatasetSpec(name="frozen", model=model, product=product, sampler=sampler, seed=5,
                            n_paths=2000, chunk_paths=700, antithetic=True)
    spec_hash, contents = DATASETS[case]
    assert spec.hash == spec_hash
    ds = data.open_dataset(data.generate(spec, root=tmp_path))
    assert ds.hash == spec_hash
    assert digest(*ds.arrays()) == contents
