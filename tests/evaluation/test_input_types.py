"""Input types and ranges of the reference pricers: strings, booleans and non-real arrays are
refused with the standard message (owner, field, rule, value); ints, NumPy numbers, lists and
float tensors are still accepted. ``bivariate_normal_cdf`` refuses rho outside [-1, 1], and the
Bachelier basket refuses a correlation matrix that is not one (not PSD, not symmetric, ...)."""

import numpy as np
import pytest
from scipy.special import ndtr

import evaluation.analytic as an
import evaluation.fd as fd

BS = dict(strike=100.0, maturity=1.0, vol=0.2, rate=0.01)
BASKET = dict(strike=1.0, maturity=1.0, vols=(0.2, 0.3, 0.25), weights=(0.4, 0.3, 0.3))


# ---------------------------------------------------------------- numbers that are not numbers
@pytest.mark.parametrize("bad", ["100", b"100", True, np.True_, 100 + 0j, np.complex128(100)])
def test_black_scholes_spot_refuses_text_bool_and_complex(bad):
    with pytest.raises(ValueError, match=r"The 'spot' parameter of black_scholes must be a real "
                                         r"number or an array of real numbers\. Got .* instead\."):
        an.black_scholes(bad, **BS)


@pytest.mark.parametrize("bad", [[100.0, True], ["100", "90"], np.array([True, False]),
                                 np.array([100.0, "90"], dtype=object), np.array(["100"])])
def test_black_scholes_spot_arrays_refuse_non_real_entries(bad):
    with pytest.raises(ValueError, match=r"The 'spot' parameter of black_scholes must be a real "
                                         r"number or an array of real numbers"):
        an.black_scholes(bad, **BS)


@pytest.mark.parametrize("field,bad", [("strike", "100"), ("vol", True), ("rate", "0.01"),
                                       ("maturity", np.True_)])
def test_fd_solver_refuses_text_and_bool(field, bad):
    kwargs = {**BS, "n_space": 8, "n_time": 2, field: bad}
    with pytest.raises(ValueError, match=rf"The '{field}' parameter of black_scholes_1d must be a "
                                         rf"real number or an array of real numbers\. "
                                         rf"Got {bad!r} instead\."):
        fd.black_scholes_1d(**kwargs)


def test_real_numbers_of_every_kind_are_still_accepted():
    torch = pytest.importorskip("torch")
    ref = an.black_scholes(100.0, **BS)
    for spot in (100, np.int64(100), np.float32(100), np.array(100.0), [100.0],
                 np.array([100], dtype=np.int32), np.array([100.0], dtype=object),
                 torch.tensor(100.0),
                 torch.tensor([100.0], dtype=torch.float64)):
        assert np.allclose(an.black_scholes(spot, **BS), ref)
    assert an.black_scholes(100.0, **{**BS, "vol": torch.tensor(0.2)}) == pytest.approx(ref)
    sol = fd.black_scholes_1d(strike=100, maturity=np.float32(1), vol=np.float64(0.2), rate=0,
                              n_space=16, n_time=4)
    assert np.isfinite(sol.price(torch.tensor([100.0])).item())


# ---------------------------------------------------------------- bivariate normal's rho
@pytest.mark.parametrize("rho,got", [(2.0, r"2\.0"), (1.0000001, r"1\.0000001"),
                                     (-1.5, r"-1\.5"), ([0.5, 3.0], r"3\.0"),
                                     (np.nan, "nan"), (np.inf, "inf")])
def test_bivariate_normal_refuses_rho_outside_the_unit_interval(rho, got):
    with pytest.raises(ValueError, match=rf"The 'rho' parameter of bivariate_normal_cdf must be "
                                         rf"(in \[-1\.0, 1\.0\]|finite)\. Got {got} instead\."):
        an.bivariate_normal_cdf(0.3, 0.5, rho)


@pytest.mark.parametrize("field,args", [("rho", (0.3, 0.5, "0.5")), ("rho", (0.3, 0.5, True)),
                                        ("a", ("0.3", 0.5, 0.5)), ("b", (0.3, [True], 0.5))])
def test_bivariate_normal_refuses_text_and_bool(field, args):
    with pytest.raises(ValueError, match=rf"The '{field}' parameter of bivariate_normal_cdf must "
                                         rf"be a real number or an array of real numbers"):
        an.bivariate_normal_cdf(*args)


def test_bivariate_normal_refuses_nan_limits_but_keeps_infinite_ones():
    with pytest.raises(ValueError, match=r"The 'a' parameter of bivariate_normal_cdf must be a "
                                         r"real number or \+-inf \(not NaN\)\. Got nan instead\."):
        an.bivariate_normal_cdf([0.1, np.nan], 0.5, 0.5)
    assert an.bivariate_normal_cdf(np.inf, 0.3, 1.0) == pytest.approx(ndtr(0.3), abs=1e-16)
    assert an.bivariate_normal_cdf(0.3, 0.5, -1) == pytest.approx(ndtr(0.3) - ndtr(-0.5))


# ---------------------------------------------------------------- Bachelier basket correlation
@pytest.mark.parametrize("corr,rule,got", [
    ([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]], "positive semi-definite",
     r"'smallest eigenvalue -0\.8'"),
    ([[1, 0.5, 0], [0.4, 1, 0], [0, 0, 1]], "symmetric", r"'max asymmetry 0\.1'"),
    ([[1, 0, 0], [0, 0.9, 0], [0, 0, 1]], "a unit-diagonal matrix",
     r"'diagonal \[1\.0, 0\.9, 1\.0\]'"),
    ([[1, 0, 0], [0, 1, np.nan], [0, np.nan, 1]], "finite", r"'a matrix with NaN or Inf'"),
    (np.eye(2), r"a 3x3 matrix", r"'shape \(2, 2\)'"),
    (np.eye(3, dtype=bool), "a square matrix of real numbers", r"array\(\[\[ True"),
])
def test_bachelier_basket_refuses_a_matrix_that_is_not_a_correlation(corr, rule, got):
    for fn in (an.bachelier_basket, an.bachelier_basket_greeks):
        with pytest.raises(ValueError, match=rf"The 'correlation' parameter of {fn.__name__} must "
                                             rf"be {rule}\. Got {got}"):
            fn([1.0, 1.0, 1.0], correlation=corr, **BASKET)


def test_bachelier_basket_accepts_semi_definite_and_integer_correlations():
    singular = [[1, 1, 0], [1, 1, 0], [0, 0, 1]]  # PSD with a zero eigenvalue
    assert np.isfinite(an.bachelier_basket([1.0, 1.0, 1.0], correlation=singular, **BASKET)[0])
    eye = an.bachelier_basket([1.0, 1.0, 1.0], correlation=np.eye(3, dtype=int), **BASKET)
    assert eye[0] == pytest.approx(an.bachelier_basket([1.0, 1.0, 1.0], correlation=np.eye(3),
                                                       **BASKET)[0])
    one = an.bachelier_basket([[1.0]], strike=1.0, maturity=1.0, vols=(0.2,), weights=(1.0,),
                              correlation=1.0)
    assert one[0] == pytest.approx(0.2 / np.sqrt(2 * np.pi))


# ---------------------------------------------------------------- grid sizes beyond one machine
@pytest.mark.parametrize("field,bad,rule", [
    ("n_space", 2**24, r"an integer in \[4, 16777215\]"),
    ("n_time", 10**7 + 1, r"an integer in \[1, 10000000\]"),
    ("max_iter", 10**6 + 1, r"an integer in \[1, 1000000\]"),
    ("rannacher_steps", 10**9, r"an integer in \[0, 1000000\]"),
])
def test_fd_1d_refuses_grids_and_loops_beyond_the_caps(field, bad, rule):
    with pytest.raises(ValueError, match=rf"The '{field}' parameter of black_scholes_1d must be "
                                         rf"{rule}\. Got {bad} instead\."):
        fd.black_scholes_1d(**{**BS, "kind": "put", field: bad})


def test_fd_2d_refuses_more_than_2_24_nodes_before_allocating():
    with pytest.raises(ValueError, match=r"The 'n_space' parameter of heston_2d must be steps "
                                         r"\(n0, n1\) with \(n0 \+ 1\)\(n1 \+ 1\) <= 16777216 grid "
                                         r"nodes\. Got \(4096, 4096\) instead\."):
        fd.heston_2d(strike=100, maturity=1, kappa=1.5, theta=0.04, xi=0.3, rho=-0.9, rate=0.02,
                     n_space=(4096, 4096))
    with pytest.raises(ValueError, match=r"The 'n_time' parameter of basket_2d must be an "
                                         r"integer in \[1, 10000000\]"):
        fd.basket_2d(strike=100, maturity=1, vols=0.2, rho=0.5, rate=0.0, weights=(0.5, 0.5),
                     n_space=8, n_time=10**8)


def test_bachelier_basket_names_the_weights_when_they_are_all_zero():
    for fn in (an.bachelier_basket, an.bachelier_basket_greeks):
        with pytest.raises(ValueError, match=rf"The 'weights' parameter of {fn.__name__} must be "
                                             r"not all 0 .*Got \[0\.0, 0\.0, 0\.0\] instead"):
            fn([1.0, 1.0, 1.0], correlation=np.eye(3), **{**BASKET, "weights": (0.0, 0.0, 0.0)})


@pytest.mark.parametrize("bad", [[True, False], ["0.5", "1"], "0.5"])
def test_forward_exposure_refuses_dates_that_are_not_numbers(bad):
    with pytest.raises(ValueError, match=r"The 'times' parameter of forward_exposure must be a "
                                         r"real number or an array of real numbers"):
        an.forward_exposure(100.0, strike=100.0, maturity=1.0, times=bad, vol=0.2)
