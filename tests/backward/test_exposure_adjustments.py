"""CVA, DVA, FVA and the first-order adjustment of an exposure profile against closed forms, and
the closed-form forward exposure against numerical integration over the lognormal density.

For a long option the risk-free value is >= 0 and its discounted value a martingale, so
EPE(t) = e^{rt} V_0 and ENE = 0; for a short option EPE = 0 and ENE = -e^{rt} V_0. With
lambda = lambda_B + lambda_C the integrals of ``ExposureProfile`` are then elementary:
CVA = (1 - R_C) lambda_C V_0 (1 - e^{-lambda T}) / lambda, FVA = s_F V_0 (1 - e^{-lambda T}) /
lambda, DVA = 0; the first-order adjustment is b V_0 T (long) or -a V_0 T (short).
"""

import math

import numpy as np
import pytest
from scipy import integrate

from evaluation.analytic import forward_exposure
from simulators import XVA
from training.backward.exposure import ExposureProfile

RATE, T, V0, N = 0.03, 1.0, 7.5, 12
XVA_ = XVA(lambda_b=0.2, lambda_c=0.05, recovery_b=0.3, recovery_c=0.45)
LAM = XVA_.lambda_b + XVA_.lambda_c


def _profile(sign: float) -> ExposureProfile:
    times = np.linspace(0.0, T, N + 1)
    value = sign * V0 * np.exp(RATE * times)  # E[V_t], undiscounted
    zero = np.zeros_like(times)
    return ExposureProfile(times=times, epe=np.maximum(value, 0.0), ene=np.minimum(value, 0.0),
                           epe_se=zero, ene_se=zero, pfe=value, mean=value, quantile=0.975,
                           paths=1, rate=RATE, risk_free=True)


def _survival_integral() -> tuple[float, float]:
    """int_0^T e^{-lambda t} dt and the trapezoid rule's error bound T h^2 lambda^2 / 12."""
    h = T / N
    return (1.0 - math.exp(-LAM * T)) / LAM, T * h * h * LAM * LAM / 12.0


def test_long_option_cva_fva_and_no_dva() -> None:
    prof = _profile(+1.0)
    exact, bound = _survival_integral()
    cva = (1 - XVA_.recovery_c) * XVA_.lambda_c * V0 * exact
    fva = XVA_.s_f * V0 * exact
    assert abs(prof.cva(XVA_) - cva) <= (1 - XVA_.recovery_c) * XVA_.lambda_c * V0 * bound
    assert abs(prof.fva(XVA_) - fva) <= XVA_.s_f * V0 * bound
    assert prof.cva(XVA_) == pytest.approx(cva, rel=1e-3)  # the bound is about 4e-5 relative
    assert prof.dva(XVA_) == 0.0
    # e^{-rt} EPE(t) = V_0 is constant: the trapezoid rule is exact
    b = (1 - XVA_.recovery_c) * XVA_.lambda_c + XVA_.s_f
    assert prof.first_order_adjustment(XVA_) == pytest.approx(b * V0 * T, rel=1e-13)


def test_short_option_dva_and_no_cva() -> None:
    prof = _profile(-1.0)
    exact, bound = _survival_integral()
    dva = (1 - XVA_.recovery_b) * XVA_.lambda_b * V0 * exact
    assert abs(prof.dva(XVA_) - dva) <= (1 - XVA_.recovery_b) * XVA_.lambda_b * V0 * bound
    assert prof.dva(XVA_) == pytest.approx(dva, rel=1e-3)
    assert prof.cva(XVA_) == 0.0 and prof.fva(XVA_) == 0.0
    a = (1 - XVA_.recovery_b) * XVA_.lambda_b
    assert prof.first_order_adjustment(XVA_) == pytest.approx(-a * V0 * T, rel=1e-13)


@pytest.mark.parametrize("dividend", [0.0, 0.02])
@pytest.mark.parametrize("strike", [80.0, 100.0, 125.0])
def test_forward_exposure_against_quadrature(strike: float, dividend: float) -> None:
    """EPE and ENE of a forward S_T - K at dates t: the value V(t, S_t) = S_t e^{-q tau} -
    K e^{-r tau} integrated against the lognormal density of S_t by adaptive quadrature
    (split at the zero of V), independent of the Black-Scholes formula the closed form uses."""
    s0, vol, r, q, mat = 100.0, 0.25, 0.03, dividend, 1.5
    times = np.array([0.0, 0.1, 0.5, 1.0, 1.5])
    epe, ene = forward_exposure(s0, strike=strike, maturity=mat, times=times, vol=vol, rate=r,
                                dividend=q)
    for t, e_pos, e_neg in zip(times[1:], epe[1:], ene[1:], strict=True):
        tau = mat - t

        def value(z, t=t, tau=tau):
            s = s0 * math.exp((r - q - 0.5 * vol * vol) * t + vol * math.sqrt(t) * z)
            v = s * math.exp(-q * tau) - strike * math.exp(-r * tau)
            return v * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

        z0 = (math.log(strike * math.exp(-(r - q) * tau) / s0) - (r - q - 0.5 * vol * vol) * t
              ) / (vol * math.sqrt(t))
        pos = integrate.quad(value, z0, 12.0, epsabs=1e-12, epsrel=1e-12)[0]
        neg = integrate.quad(value, -12.0, z0, epsabs=1e-12, epsrel=1e-12)[0]
        assert e_pos == pytest.approx(pos, rel=1e-9, abs=1e-10)
        assert e_neg == pytest.approx(neg, rel=1e-9, abs=1e-10)
    # today the state is known: the exposure is the value itself
    v0 = s0 * math.exp(-q * mat) - strike * math.exp(-r * mat)
    assert epe[0] == pytest.approx(max(v0, 0.0)) and ene[0] == pytest.approx(min(v0, 0.0))


# ----- standard errors of CVA, DVA, FVA and the first-order adjustment ---------------------------
def _per_path_profile(n: int = 5000, seed: int = 3):
    """A profile from per-path values V_k (a random walk of both signs, correlated across
    dates as outer paths are), with each quantity also integrated path by path."""
    rng = np.random.default_rng(seed)
    times = np.linspace(0.0, T, N + 1)
    steps = rng.standard_normal((n, N)) * math.sqrt(T / N)
    v = 0.3 + np.concatenate([np.zeros((n, 1)), np.cumsum(steps, axis=1)], axis=1)  # (n, N+1)
    pos, neg = np.maximum(v, 0.0), np.minimum(v, 0.0)
    parts = np.concatenate([pos, neg], axis=1).T
    prof = ExposureProfile(times=times, epe=pos.mean(0), ene=neg.mean(0),
                           epe_se=pos.std(0, ddof=1) / math.sqrt(n),
                           ene_se=neg.std(0, ddof=1) / math.sqrt(n), pfe=np.quantile(v, 0.975, 0),
                           mean=v.mean(0), quantile=0.975, paths=n, rate=RATE,
                           mean_cov=np.cov(parts, ddof=1) / n)

    def path_integral(weights, values):  # trapezoid along each path, written out
        f = weights * values
        return (0.5 * (f[:, 1:] + f[:, :-1]) * np.diff(times)).sum(axis=1)

    surv = np.exp(-(LAM + RATE) * times)
    disc = np.exp(-RATE * times)
    per_path = {
        "cva": (1 - XVA_.recovery_c) * XVA_.lambda_c * path_integral(surv, pos),
        "dva": -(1 - XVA_.recovery_b) * XVA_.lambda_b * path_integral(surv, neg),
        "fva": XVA_.s_f * path_integral(surv, pos),
        "first_order_adjustment": path_integral(
            disc, XVA_.spread_positive * pos + XVA_.spread_negative * neg),
    }
    return prof, per_path, n


def test_standard_errors_are_those_of_the_per_path_integrals() -> None:
    """Each quantity is the mean over paths of its per-path integral; its standard error is the
    sd of those integrals over sqrt(n), which the covariance of the per-date means gives."""
    prof, per_path, n = _per_path_profile()
    se = prof.standard_errors(XVA_)
    for key, values in per_path.items():
        assert getattr(prof, key)(XVA_) == pytest.approx(values.mean(), rel=1e-12), key
        assert se[key] == pytest.approx(values.std(ddof=1) / math.sqrt(n), rel=1e-9), key
    # the dates are correlated: the errors are far above the independent-dates sum
    independent = math.sqrt(np.sum(((1 - XVA_.recovery_c) * XVA_.lambda_c * prof._trapezoid()
                                    * np.exp(-(LAM + RATE) * prof.times) * prof.epe_se) ** 2))
    assert se["cva"] > 2.0 * independent


def test_no_covariance_no_standard_errors() -> None:
    assert _profile(+1.0).standard_errors(XVA_) is None
