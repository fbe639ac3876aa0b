"""Backward differential regression against independent references: the exact e^{-c tau} V_rf of
a one-signed payoff, the FD solution of the non-linear XVA PDE for a forward, closed-form
exposures of a forward, and the surrogate's persistence and argument checks."""

import numpy as np
import pytest

from evaluation.analytic import black_scholes, forward_exposure
from evaluation.fd import black_scholes_1d
from simulators import XVA, BlackScholes, Leg, NettingSet, UniformSampler
from training import DifferentialRegressor
from training.backward import RiskySurrogate, exposure_profile, solve

MODEL = BlackScholes(vol=0.25, rate=0.03)
SAMPLER = UniformSampler(low=(50.0,), high=(160.0,))
XVA_ = XVA(lambda_b=0.2, lambda_c=0.05)
FORWARD = NettingSet(legs=[Leg("forward", 100.0)], maturity=1.0)
PUT = NettingSet(legs=[Leg("put", 100.0)], maturity=1.0)
SPOTS = np.linspace(70.0, 130.0, 31)


def small(**kw):
    reg = DifferentialRegressor(hidden_layers=2, hidden_units=16, epochs=20, num_threads=1)
    opts = dict(sampler=SAMPLER, dates=3, paths_per_date=16384, regressor=reg, seed=1)
    opts.update(kw)
    return opts


def rel_rms(err, ref):
    return float(np.sqrt(np.mean(err ** 2)) / np.sqrt(np.mean(ref ** 2)))


@pytest.fixture(scope="module")
def forward_risky():
    return solve(MODEL, FORWARD, xva=XVA_, **small())


@pytest.fixture(scope="module")
def forward_risk_free():
    return solve(MODEL, FORWARD, xva=None, **small())


@pytest.mark.parametrize("options", [{}, {"control": False}, {"antithetic": False},
                                     {"output_lstsq": False}],
                         ids=["defaults", "no_control", "no_antithetic", "no_output_lstsq"])
def test_one_signed_put_is_the_discounted_risk_free_value(options):
    sur = solve(MODEL, PUT, xva=XVA_, **small(**options))
    exact = np.exp(-XVA_.spread_positive) * black_scholes(
        SPOTS, strike=100.0, maturity=1.0, kind="put", vol=0.25, rate=0.03)
    v = sur.predict(SPOTS[:, None])
    assert rel_rms(v - exact, exact) < 6e-3


def test_each_scheme_converges_to_its_own_discount_of_one_date():
    """Over one date the source step of a one-signed value discounts V_rf by 1 / (1 + c dt)
    (implicit) or (1 - c dt/2) / (1 + c dt/2) (Crank-Nicolson), against the exact e^{-c dt}:
    with c dt = 0.15 the implicit factor is 1.0 % above it, Crank-Nicolson's 0.03 % below. Each
    solve lands on its own scheme's factor, within the regression's error."""
    c = XVA_.spread_positive
    v_rf = black_scholes(SPOTS, strike=100.0, maturity=1.0, kind="put", vol=0.25, rate=0.03)
    exact = np.exp(-c) * v_rf
    implicit = solve(MODEL, PUT, xva=XVA_, **small(scheme="implicit", dates=1))
    v = implicit.predict(SPOTS[:, None])
    own = rel_rms(v - v_rf / (1.0 + c), v_rf / (1.0 + c))
    assert own < 8e-3 and own < 0.5 * rel_rms(v - exact, exact)
    crank = solve(MODEL, PUT, xva=XVA_, **small(scheme="crank_nicolson", dates=1))
    assert rel_rms(crank.predict(SPOTS[:, None]) - exact, exact) < 8e-3


def test_forward_beats_the_better_linear_approximation(forward_risky):
    fd = black_scholes_1d(strike=100.0, maturity=1.0, vol=0.25, rate=0.03, xva=XVA_,
                          payoff=FORWARD.payoff, n_space=800, n_time=400)
    ref = fd.price(SPOTS)
    v_rf = SPOTS - 100.0 * np.exp(-0.03)
    linear = min(rel_rms(np.exp(-c) * v_rf - ref, ref)
                 for c in (XVA_.spread_positive, XVA_.spread_negative))
    err = rel_rms(forward_risky.predict(SPOTS[:, None]) - ref, ref)
    assert err < linear / 3, (err, linear)
    delta = forward_risky.predict_gradient(SPOTS[:, None])[:, 0]
    assert rel_rms(delta - fd.delta(SPOTS), fd.delta(SPOTS)) < 2e-2


def test_risk_free_forward_against_its_closed_form(forward_risk_free):
    exact = SPOTS - 100.0 * np.exp(-0.03)
    v, g = forward_risk_free.predict_value_and_gradient(SPOTS[:, None])
    assert rel_rms(v - exact, exact) < 3e-3
    np.testing.assert_allclose(g[:, 0], 1.0, atol=2e-2)


def test_forward_exposure_against_the_closed_form(forward_risk_free):
    prof = exposure_profile(forward_risk_free, [100.0], paths=20_000, seed=5)
    epe, ene = forward_exposure(100.0, strike=100.0, maturity=1.0, times=prof.times, vol=0.25,
                                rate=0.03)
    # after today: within 4 standard errors of the outer simulation; today (one state, no MC
    # error): the surrogate's own error at S = 100, a few cents
    assert np.all(np.abs(prof.epe[1:] - epe[1:]) < 4 * prof.epe_se[1:]), (prof.epe, epe)
    assert np.all(np.abs(prof.ene[1:] - ene[1:]) < 4 * prof.ene_se[1:]), (prof.ene, ene)
    assert abs(prof.epe[0] - epe[0]) < 0.05 and abs(prof.ene[0] - ene[0]) < 0.05
    assert np.all(prof.pfe[1:] > prof.epe[1:])
    assert prof.cva(XVA_) > 0 and prof.dva(XVA_) > 0


def test_last_date_is_the_payoff_and_save_load_round_trip(forward_risky, tmp_path):
    x = SPOTS[:, None]
    np.testing.assert_array_equal(forward_risky.predict(x, forward_risky.n_dates),
                                  FORWARD.payoff(x))
    path = forward_risky.save(tmp_path / "sur")
    back = RiskySurrogate.load(path)
    for k in range(back.n_dates + 1):
        np.testing.assert_array_equal(back.predict_gradient(x, k),
                                      forward_risky.predict_gradient(x, k))
    assert back.xva == XVA_ and back.product == FORWARD and back.history == forward_risky.history
    assert [h.date for h in back.history] == [0, 1, 2]  # date order, today first
    with pytest.raises(FileNotFoundError, match=r"Cannot load RiskySurrogate from .*: no such "
                                                r"folder"):
        RiskySurrogate.load(tmp_path / "missing")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(NotADirectoryError, match="it is a file, not the folder written by save"):
        RiskySurrogate.load(tmp_path / "a-file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="does not hold a RiskySurrogate"):
        RiskySurrogate.load(tmp_path / "empty")


@pytest.mark.parametrize("kwargs,field", [
    (dict(dates=0), "dates"),
    (dict(dates=[0.0, 0.7]), "dates"),
    (dict(paths_per_date=3), "paths_per_date"),
    (dict(scheme="euler"), "scheme"),
    (dict(seed=-1), "seed"),
    (dict(regressor="net"), "regressor"),
])
def test_bad_arguments_name_the_field(kwargs, field):
    opts = small()
    opts.update(kwargs)
    with pytest.raises(ValueError, match=f"'{field}' parameter"):
        solve(MODEL, FORWARD, xva=XVA_, **opts)


def test_models_with_parameter_inputs_are_refused():
    with pytest.raises(ValueError, match="'model' parameter"):
        solve(BlackScholes(vol=0.2, inputs=("spot", "vol")), FORWARD, **small())


def test_bad_date_and_shape_in_predict(forward_risky):
    with pytest.raises(ValueError, match="'date' parameter"):
        forward_risky.predict(SPOTS[:, None], 9)
    with pytest.raises(ValueError, match="'x' parameter"):
        forward_risky.predict(np.ones((3, 2)))


def collar_epe_oracle(times, spot=100.0, vol=0.25, rate=0.03, big_t=1.0):
    """EPE of the collar C(110) - P(90) at each date by FD: E[max(V_rf(t, S_t), 0)] is e^{r t}
    times the value today of the payoff max(V_rf(t, .), 0) paid at t (a linear PDE solve)."""
    out = []
    for t in times:
        tau = big_t - t

        def positive_part(s, tau=tau):
            s = np.asarray(s, dtype=float)
            if tau <= 0:
                v = np.maximum(s - 110.0, 0.0) - np.maximum(90.0 - s, 0.0)
            else:
                safe = np.maximum(s, 1e-12)
                v = (black_scholes(safe, strike=110.0, maturity=tau, vol=vol, rate=rate)
                     - black_scholes(safe, strike=90.0, maturity=tau, kind="put", vol=vol,
                                     rate=rate))
            return np.maximum(v, 0.0)

        if t == 0:
            out.append(float(positive_part(np.array([spot]))[0]))
            continue
        sol = black_scholes_1d(strike=110.0, maturity=t, vol=vol, rate=rate,
                               payoff=positive_part, n_space=800, n_time=200)
        out.append(float(np.exp(rate * t) * sol.price([spot])[0]))
    return np.array(out)


def test_collar_exposure_against_the_linear_pde():
    collar = NettingSet(legs=[Leg("call", 110.0, 1.0), Leg("put", 90.0, -1.0)], maturity=1.0)
    reg = DifferentialRegressor(hidden_layers=3, hidden_units=24, epochs=40, num_threads=1)
    sur = solve(MODEL, collar, xva=None, **small(dates=4, paths_per_date=65_536, regressor=reg))
    prof = exposure_profile(sur, [100.0], paths=20_000, seed=7)
    exact = collar_epe_oracle(prof.times)
    # the outer paths' MC error plus the surrogate's own (a few cents on a value of about 3)
    assert np.all(np.abs(prof.epe - exact) < 4 * prof.epe_se + 0.05), (prof.epe, exact)


def test_long_crank_nicolson_steps_are_refused_with_the_dates_needed():
    call = NettingSet(legs=[Leg("call", 100.0)], maturity=10.0)
    with pytest.raises(ValueError, match=r"'dates' parameter .* at least 6 equal dates"):
        solve(MODEL, call, xva=XVA(lambda_c=0.5), **small(dates=1))
    from training.backward import Source, date_grid
    from training.backward.solver import check_steps

    check_steps(date_grid(1, 10.0), Source.of(XVA(lambda_c=0.5)), 1.0)  # implicit: any step


def test_wrong_types_and_states_give_one_line_errors(forward_risky):
    with pytest.raises(ValueError, match="'xva' parameter .* must be a simulators.XVA"):
        solve(MODEL, FORWARD, xva={"lambda_b": 0.1}, **small())
    with pytest.raises(ValueError, match="'antithetic' parameter .* must be a bool"):
        solve(MODEL, FORWARD, antithetic="no", **small())
    with pytest.raises(ValueError, match=r"'x' parameter of RiskySurrogate must have finite spot"):
        forward_risky.predict([[-5.0]])
    with pytest.raises(ValueError, match="'state' parameter"):
        exposure_profile(forward_risky, "abc")
    prof = exposure_profile(forward_risky, [100.0], paths=100)
    with pytest.raises(ValueError, match="'xva' parameter of ExposureProfile.cva"):
        prof.cva(None)
    times = np.array([0.0, 0.5, 0.999999999999999])
    from training.backward import date_grid

    date_grid(times, 1.0)
    assert times[-1] == 0.999999999999999  # the caller's array is not changed


def test_fva_is_the_funding_share_of_the_positive_exposure(forward_risk_free):
    prof = exposure_profile(forward_risk_free, [100.0], paths=2000, seed=3)
    x = XVA_
    assert prof.risk_free and prof.epe_se[0] == 0.0
    w = np.exp(-(x.lambda_b + x.lambda_c + 0.03) * prof.times)
    f = w * prof.epe
    expected = x.s_f * float(np.sum(0.5 * (f[1:] + f[:-1]) * np.diff(prof.times)))
    assert prof.fva(x) == pytest.approx(expected, rel=1e-12) and prof.fva(x) > 0
    assert prof.cva(x) / prof.fva(x) == pytest.approx(
        (1 - x.recovery_c) * x.lambda_c / x.s_f, rel=1e-12)


def _grid(low, high, n=5):
    axes = [np.linspace(lo, hi, n) for lo, hi in zip(low, high, strict=True)]
    return np.stack(np.meshgrid(*axes), axis=-1).reshape(-1, len(low))


def test_heston_put_is_the_discounted_characteristic_function_price():
    """Two state variables (spot, variance) and the spot-column control variate: the one-signed
    put's risky value is e^{-c T} times its characteristic-function price."""
    from evaluation.analytic import heston
    from simulators import Heston

    model = Heston(kappa=1.5, theta=0.04, xi=0.3, rho=-0.7, rate=0.03, steps_per_year=52)
    sur = solve(model, PUT, xva=XVA_, **small(
        sampler=UniformSampler(low=(60.0, 0.02), high=(150.0, 0.08))))
    x = _grid((80.0, 0.03), (125.0, 0.06))
    exact = np.exp(-XVA_.spread_positive) * heston(
        x[:, 0], x[:, 1], strike=100.0, maturity=1.0, kind="put", kappa=1.5, theta=0.04, xi=0.3,
        rho=-0.7, rate=0.03)
    # without the XVA factor e^{-0.15} the error would be 16 %
    assert rel_rms(sur.predict(x) - exact, exact) < 0.03


def test_worst_of_put_is_the_discounted_stulz_price():
    """Two correlated Black-Scholes assets: e^{-c T} times the Stulz worst-of put."""
    from evaluation.analytic import stulz_min
    from simulators import BlackScholesBasket

    model = BlackScholesBasket(vols=(0.25, 0.35), correlation=((1.0, 0.5), (0.5, 1.0)),
                               rate=0.03)
    product = NettingSet(legs=[Leg("put", 100.0, 1.0, "worst_of")], maturity=0.5)
    sur = solve(model, product, xva=XVA_, **small(
        sampler=UniformSampler(low=(60.0, 60.0), high=(150.0, 150.0))))
    x = _grid((80.0, 80.0), (125.0, 125.0))
    exact = np.exp(-0.5 * XVA_.spread_positive) * stulz_min(
        x, strike=100.0, maturity=0.5, kind="put", vols=(0.25, 0.35), rho=0.5, rate=0.03).price
    assert rel_rms(sur.predict(x) - exact, exact) < 0.015


def test_a_save_that_fails_leaves_the_old_surrogate_and_a_half_save_is_refused(
        forward_risky, tmp_path, monkeypatch):
    import json

    import training.regressor as reg_module

    path = forward_risky.save(tmp_path / "sur")
    x = SPOTS[:, None]
    before = forward_risky.predict(x, 0)
    # a value JSON cannot hold: refused before anything is written
    bad = RiskySurrogate(**{**forward_risky.__dict__, "settings": {"seed": object()}})
    with pytest.raises(ValueError, match=r"Cannot save RiskySurrogate to .*cannot be written "
                                         r"as JSON"):
        bad.save(path)
    np.testing.assert_array_equal(RiskySurrogate.load(path).predict(x, 0), before)
    # a save into the same folder that stops after its first date's network
    other = RiskySurrogate(**{**forward_risky.__dict__,
                              "regressors": [forward_risky.regressors[1]] * 2})
    real_save, calls = reg_module.DifferentialRegressor.save, []

    def stop_after_one(self, p):
        if calls:
            raise OSError(28, "No space left on device", str(p))
        calls.append(p)
        return real_save(self, p)

    monkeypatch.setattr(reg_module.DifferentialRegressor, "save", stop_after_one)
    with pytest.raises(OSError):
        other.save(path)
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"date_000 is not the network surrogate\.json was saved "
                                         r"with"):
        RiskySurrogate.load(path)
    # damaged surrogate.json: one line naming the folder
    forward_risky.save(path)
    meta = json.loads((path / "surrogate.json").read_text())
    for field, value in (("times", None), ("times", [0.0, 0.7, 0.3]), ("times", [0.0, 1.0]),
                         ("scheme", "euler"), ("history", [{"evil": 1}])):
        damaged = {k: v for k, v in meta.items() if k != field} if value is None else \
            {**meta, field: value}
        (path / "surrogate.json").write_text(json.dumps(damaged))
        with pytest.raises(ValueError, match=r"Cannot load RiskySurrogate from .*(lacks the fields "
                                             r"'times'|surrogate\.json is damaged|hashes)"):
            RiskySurrogate.load(path)
    (path / "surrogate.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="does not hold a JSON object"):
        RiskySurrogate.load(path)
