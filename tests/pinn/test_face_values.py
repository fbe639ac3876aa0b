"""Dirichlet data on the faces of the 2-D PINN problems, and Levy's basket approximation, against
the exact solution by the closed forms of evaluation.analytic (NumPy, independent of
training.pinn.closed_form)."""

import numpy as np
import pytest
import torch

import evaluation.analytic as an
from training.pinn import UniformGrid
from training.pinn.closed_form import levy_basket

from .conftest import XVA_CASE, basket_put, heston_put, worst_of_put

torch.set_default_dtype(torch.float64)

K = 100.0
# S = 0 faces: the closed forms are exact there (quadrature to about 1e-11 K, docstring of
# arithmetic_basket_2d; 128 nodes a piece here), so the data must match to round-off.
ZERO_FACE_ATOL = 1e-12 * K
# far faces: the oracle's own error (quadrature, bivariate normal CDF, characteristic-function
# integral) on top of the bound of the dropped part derived below
ORACLE_ATOL = 1e-9 * K


def _face_points(problem, n_tau=6, n_space=33):
    """{face name: (face, tau, x)} of the problem's uniform grid, tau > 0 (the closed forms need
    a positive maturity; at tau = 0 the data is the payoff)."""
    out = {}
    for name, ps in UniformGrid(n_tau, n_space).build(problem).items():
        if ps.face is None:
            continue
        pts = ps.points[ps.points[:, 0] > 0.0]
        out[name] = (ps.face, pts[:, 0], pts[:, 1:])
    return out


def _data(problem, face, tau, x):
    return problem.boundary_value(face, torch.tensor(tau), torch.tensor(x)).numpy()


def _risky(tau):
    """e^{-c tau} of a payoff >= 0 (every problem here is long: puts and calls)."""
    return an.xva_factor(XVA_CASE, tau, sign=1)


def _bs_put(spot, tau, vol, rate, dividend, strike=K):
    return an.black_scholes(spot, strike=strike, maturity=tau, kind="put", vol=vol, rate=rate,
                            dividend=dividend)


# ---------------------------------------------------------------- two-asset problems
def _basket_exact(p, tau, x):
    """Conditioning-quadrature price (128 nodes; one call per maturity) times e^{-c tau}."""
    out = np.empty(len(tau))
    for t in np.unique(tau):
        m = tau == t
        out[m] = an.arithmetic_basket_2d(x[m], strike=p.strike, maturity=t, kind=p.kind,
                                         vols=p.vols, rho=p.rho, rate=p.rate,
                                         dividends=p.dividends, weights=p.weights,
                                         nodes=128).price
    return out * _risky(tau)


def _worst_of_exact(p, tau, x):
    """Stulz (1982) times e^{-c tau}; Stulz needs spots > 0, so a zero spot is evaluated at
    1e-300 (the price moves by O(S), far below round-off)."""
    spots = np.where(x > 0.0, x, 1e-300)
    price = an.stulz_min(spots, strike=p.strike, maturity=tau, kind=p.kind, vols=p.vols,
                         rho=p.rho, rate=p.rate, dividends=p.dividends).price
    return price * _risky(tau)


def _basket_far_bound(p, i, tau):
    """Bound of exact - data on the face S_i = s_max of the basket.

    The face condition treats V as linear in S_i there (it drops 1/2 vol_i^2 S_i^2 V_ii), and the
    data is the discounted forward intrinsic value (+-(F - K e^{-r tau}))^+, F = sum w_k S_k
    e^{-q_k tau}. By Jensen the exact price B >= that data; by parity B - data =
    min(B_call, B_put) <= B_put, and as w_j S_j(T) >= 0, B_put <= the one-asset put on w_i S_i
    (vol_i, q_i) struck at K: the part of the payoff that is not linear in S_i, worth the put
    on asset i alone at w_i s_max. So 0 <= exact - data <= e^{-c tau} P_BS(w_i s_max)."""
    return _risky(tau) * _bs_put(p.weights[i] * p.s_max, tau, p.vols[i], p.rate,
                                 p.dividends[i])


def _worst_of_far_bounds(p, i, j, tau, x):
    """Bounds (lo, hi) of exact - data on the face S_i = s_max of the worst-of.

    The data is the one-asset option on the other asset j, i.e. V with the dependence on S_i
    dropped (S_i -> infinity). Put: 0 <= (K - min(a, b))^+ - (K - b)^+ <= (K - a)^+, so
    0 <= exact - data <= e^{-c tau} P_BS(s_max; vol_i, q_i), the put on the dropped asset.
    Call: 0 <= (b - K)^+ - (min(a, b) - K)^+ <= (b - a)^+, so 0 <= data - exact <= e^{-c tau}
    times Margrabe's option to exchange S_i for S_j (Black-Scholes call on S_j e^{-q_j tau} struck
    at S_i e^{-q_i tau}, zero rate, vol sbar^2 = vol_i^2 + vol_j^2 - 2 rho vol_i vol_j): small
    except near the corner S_j ~ s_max, where min(S_i, S_j) still depends on S_i."""
    if p.kind == "put":
        return 0.0, _risky(tau) * _bs_put(p.s_max, tau, p.vols[i], p.rate, p.dividends[i])
    sbar = np.sqrt(p.vols[0] ** 2 + p.vols[1] ** 2 - 2.0 * p.rho * p.vols[0] * p.vols[1])
    exchange = an.black_scholes(x[:, j] * np.exp(-p.dividends[j] * tau),
                                strike=p.s_max * np.exp(-p.dividends[i] * tau), maturity=tau,
                                kind="call", vol=sbar, rate=0.0, dividend=0.0)
    return -_risky(tau) * exchange, 0.0


TWO_ASSET = {
    "basket_put": lambda: basket_put(dividends=(0.01, 0.02)),
    "basket_call": lambda: basket_put(kind="call", dividends=(0.01, 0.02), weights=(0.4, 0.6)),
    "worst_of_put": lambda: worst_of_put(dividends=(0.01, 0.02)),
    "worst_of_call": lambda: worst_of_put(kind="call", dividends=(0.01, 0.02)),
}


@pytest.mark.parametrize("case", list(TWO_ASSET))
def test_two_asset_data_at_zero_spot_is_the_exact_value(case):
    """S_i = 0 faces: data = 2-D closed form (quadrature basket / Stulz) e^{-c tau} to 1e-12."""
    p = TWO_ASSET[case]()
    exact = _basket_exact if case.startswith("basket") else _worst_of_exact
    faces = [f for f in _face_points(p).values() if f[0].side == "min"]
    assert len(faces) == 2
    for face, tau, x in faces:
        assert np.all(x[:, face.axis] == 0.0) and x[:, 1 - face.axis].max() == p.s_max
        np.testing.assert_allclose(_data(p, face, tau, x), exact(p, tau, x), rtol=1e-12,
                                   atol=ZERO_FACE_ATOL, err_msg=face.name)


@pytest.mark.parametrize("case", list(TWO_ASSET))
def test_two_asset_far_data_is_within_the_dropped_part(case):
    """S_i = s_max faces: 2-D closed form - data within the bound of the dropped part."""
    p = TWO_ASSET[case]()
    faces = [f for f in _face_points(p).values() if f[0].side == "max"]
    assert len(faces) == 2
    for face, tau, x in faces:
        i, j = face.axis, 1 - face.axis
        assert np.all(x[:, i] == p.s_max)
        if case.startswith("basket"):
            err = _basket_exact(p, tau, x) - _data(p, face, tau, x)
            lo, hi = 0.0, _basket_far_bound(p, i, tau)
        else:
            err = _worst_of_exact(p, tau, x) - _data(p, face, tau, x)
            lo, hi = _worst_of_far_bounds(p, i, j, tau, x)
        assert np.all(err >= lo - ORACLE_ATOL), (face.name, (err - lo).min())
        assert np.all(err <= hi + ORACLE_ATOL), (face.name, (err - hi).max())


def test_two_asset_data_at_maturity_is_the_payoff():
    """tau = 0 on every face: data equals the payoff (the closed forms' limit)."""
    for make in TWO_ASSET.values():
        p = make()
        for ps in UniformGrid(3, 33).build(p).values():
            if ps.face is None:
                continue
            pts = ps.points[ps.points[:, 0] == 0.0]
            x = torch.tensor(pts[:, 1:])
            np.testing.assert_allclose(
                p.boundary_value(ps.face, torch.zeros(len(pts)), x).numpy(), p.payoff(x).numpy(),
                rtol=0, atol=1e-12, err_msg=f"{type(p).__name__} {ps.face.name}")


# ---------------------------------------------------------------- Heston spot faces
@pytest.mark.parametrize("kind", ["put", "call"])
def test_heston_spot_face_data(kind):
    """S = 0: K e^{-(r+c) tau} or 0 exactly; S = s_max: CF value - data in [0, CF put at s_max]."""
    p = heston_put(kind=kind, dividend=0.01)
    pts = _face_points(p, n_tau=5, n_space=9)
    face, tau, x = pts["spot_min"]
    assert np.all(x[:, 0] == 0.0)
    # S = 0 is absorbing: S_T = 0 on every variance path, so the put pays K and the call 0
    want = K * np.exp(-p.rate * tau) * _risky(tau) if kind == "put" else np.zeros(len(tau))
    np.testing.assert_allclose(_data(p, face, tau, x), want, rtol=1e-12, atol=ZERO_FACE_ATOL)
    face, tau, x = pts["spot_max"]
    assert np.all(x[:, 0] == p.s_max)
    # The data (0 for the put, the forward S e^{-q tau} - K e^{-r tau} for the call) is linear in
    # S and independent of v, so it solves the Heston PDE exactly; exact - data then solves it
    # with payoff minus its linear part, (K - S)^+ for both kinds (parity): the dropped part is
    # exactly the Heston put at s_max, e^{-c tau} P_H(s_max, v, tau) >= 0. It is tiny at low v
    # and reaches a few percent of K only at v ~ v_max = 1 with tau ~ 1.
    cf = dict(spot=x[:, 0], variance=x[:, 1], strike=K, maturity=tau, kappa=p.kappa,
              theta=p.theta, xi=p.xi, rho=p.rho, rate=p.rate, dividend=p.dividend)
    exact = an.heston(kind=kind, **cf) * _risky(tau)
    dropped = an.heston(kind="put", **cf) * _risky(tau)
    err = exact - _data(p, face, tau, x)
    assert np.all(err >= -ORACLE_ATOL), err.min()
    assert np.all(err <= dropped + ORACLE_ATOL), (err - dropped).max()
    # the band is tight on the v = 0 edge (the variance starts at 0 and reverts towards theta)
    assert dropped[x[:, 1] == 0.0].max() < 1e-3


# ---------------------------------------------------------------- Levy's basket approximation
LEVY = dict(vols=(0.25, 0.35), rho=0.5, rate=0.03, dividends=(0.01, 0.02), weights=(0.4, 0.6))
LEVY_SPOTS = np.array([[100.0, 100.0], [80.0, 120.0], [130.0, 90.0], [60.0, 70.0], [150.0, 40.0]])


def _levy(spots, tau, kind):
    n = len(spots)
    return levy_basket(torch.tensor(spots), LEVY["weights"], K, torch.full((n,), tau),
                       LEVY["vols"], LEVY["rate"], LEVY["dividends"], LEVY["rho"], kind).numpy()


@pytest.mark.parametrize("kind", ["put", "call"])
def test_levy_basket_is_within_its_stated_accuracy_of_the_quadrature_price(kind):
    """Levy within 1e-3 K of the conditioning-quadrature price (arithmetic_basket_2d)."""
    # BasketPDE documents Levy's base as "about 1e-3 relative off": relative to the strike K,
    # the scale of the problem (relative to the price it fails far out of the money, where both
    # are tiny). Its error grows with the total variance, so the check runs up to tau = 1, twice
    # the basket problem's maturity (measured: at most 6e-4 K there, 7e-6 K at tau = 0.05).
    for tau in (0.05, 0.5, 1.0):
        ref = an.arithmetic_basket_2d(LEVY_SPOTS, strike=K, maturity=tau, kind=kind, nodes=128,
                                      **LEVY).price
        np.testing.assert_allclose(_levy(LEVY_SPOTS, tau, kind), ref, rtol=0, atol=1e-3 * K,
                                   err_msg=f"tau={tau}")


@pytest.mark.parametrize("kind", ["put", "call"])
def test_levy_basket_is_the_payoff_at_maturity(kind):
    """tau = 0: Levy's approximation is the payoff max(+-(w.S - K), 0) (basket at K too)."""
    spots = np.vstack([LEVY_SPOTS, [[100.0, 100.0], [0.0, 0.0], [250.0, 0.0]]])
    b = spots @ np.array(LEVY["weights"])
    want = np.maximum(b - K if kind == "call" else K - b, 0.0)
    np.testing.assert_allclose(_levy(spots, 0.0, kind), want, rtol=0, atol=1e-12)
