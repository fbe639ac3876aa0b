"""The backward benchmark's free approximations against closed forms: on the Black-Scholes
forward, the FD-priced positive and negative parts are the call and the put at the strike, so the
sign-split approximation equals e^{-c+ T} C - e^{-c- T} P of the Black-Scholes formula."""

import numpy as np

import evaluation.analytic as an
from benchmarks import backward as bench


def test_sign_split_of_the_forward_is_the_discounted_call_minus_put():
    ref = bench.reference("bs_forward", 0.02)
    s = ref["x"][:, 0]
    common = dict(strike=100.0, maturity=1.0, vol=0.25, rate=0.03)
    call = an.black_scholes(s, kind="call", **common)
    put = an.black_scholes(s, kind="put", **common)
    np.testing.assert_allclose(ref["pos_v"], call, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ref["neg_v"], put, rtol=1e-4, atol=1e-4)
    free = bench.free_approximations("bs_forward", 0.02, ref)
    xv = bench.xva(0.02)
    split = np.exp(-xv.spread_positive) * call - np.exp(-xv.spread_negative) * put
    expected = np.sqrt(np.mean((split - ref["v"]) ** 2) / np.mean(ref["v"] ** 2))
    assert abs(free["split"]["value"] / expected - 1.0) < 0.05
    # the split is the better free approximation on a forward, by far
    assert free["split"]["value"] < free["linear_plus"]["value"] / 3
