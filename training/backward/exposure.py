"""Exposure profiles along outer paths from today's state, and CVA/DVA by integration.

Along ``n`` outer paths simulated from one state x_0 by the model's own dynamics
(:func:`simulators.transition`), the value at date k is the surrogate's V_k(X_k). Per date:

    EPE_k = E[max(V_k, 0)],   ENE_k = E[min(V_k, 0)],   PFE_k = quantile_q(V_k)

(undiscounted risk-neutral expectations, units of the payoff). With the risk-free value as V
(a surrogate solved with ``xva=None``), the adjustments under risk-free close-out are, with
survival ``e^{-(lambda_B + lambda_C) t}`` and discount ``e^{-r t}`` (trapezoidal rule over the
dates):

    CVA = (1 - R_C) int lambda_C e^{-(lambda_B + lambda_C) t} e^{-r t} EPE(t) dt
    DVA = -(1 - R_B) int lambda_B e^{-(lambda_B + lambda_C) t} e^{-r t} ENE(t) dt
    FVA = s_F int e^{-(lambda_B + lambda_C) t} e^{-r t} EPE(t) dt

(the funding cost of a positive value at the spread s_F, which the PDE's b contains: with the
default s_F = (1 - R_B) lambda_B it is not small), so that V_rf - CVA + DVA - FVA is the
risk-free close-out approximation of the PDE's risky value. The trapezoidal rule over the
solve's own dates has an error of its own (about -1 % of CVA with 4 dates and -0.1 % with 12
for an at-the-money forward, whose EPE grows like sqrt(t) near 0): use more dates for
adjustments to that accuracy.

and the first-order expansion of the non-linear XVA PDE around the risk-free value (no survival
weights, the funding spread included) is

    V ~ V_rf - int e^{-r t} (b EPE(t) + a ENE(t)) dt,  a = (1 - R_B) lambda_B,
    b = (1 - R_C) lambda_C + s_F.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _validation as tv

_OWNER = "training.backward.exposure_profile"


@dataclass(frozen=True)
class ExposureProfile:
    """Per-date exposure statistics of a surrogate along outer paths.

    Attributes:
        times: t_k, years, shape (N + 1,).
        epe, ene: expected positive exposure E[max(V, 0)] (>= 0) and expected negative exposure
            E[min(V, 0)] (<= 0), shape (N + 1,).
        epe_se, ene_se: their Monte-Carlo standard errors (0 at t = 0: one state).
        pfe: the ``quantile`` of the value V itself per date (potential future exposure; it can
            be negative for a position that is mostly a liability).
        mean: E[V_k] (the discounted mean is today's value for a risk-free surrogate).
        quantile: the PFE level, e.g. 0.975.
        paths: number of outer paths.
        rate: r, the discount rate of the model.
        risk_free: whether the surrogate was the risk-free value (``xva=None``): CVA, DVA and
            FVA are the risk-free close-out numbers only then.
        mean_cov: covariance of the Monte-Carlo means (EPE_0..EPE_N, ENE_0..ENE_N), shape
            (2N + 2, 2N + 2), estimated from the same outer paths (so dates are correlated);
            None when not recorded. It gives the standard errors of CVA, DVA, FVA and the
            first-order adjustment (:meth:`standard_errors`).
    """

    times: np.ndarray
    epe: np.ndarray
    ene: np.ndarray
    epe_se: np.ndarray
    ene_se: np.ndarray
    pfe: np.ndarray
    mean: np.ndarray
    quantile: float
    paths: int
    rate: float
    risk_free: bool = True
    mean_cov: np.ndarray | None = None

    def _trapezoid(self) -> np.ndarray:
        """Coefficients a_k of the trapezoid rule on ``times``: int f dt ~ sum_k a_k f(t_k)."""
        dt = np.diff(self.times)
        a = np.zeros(len(self.times))
        a[:-1] += 0.5 * dt
        a[1:] += 0.5 * dt
        return a

    def _integral(self, weights: np.ndarray, values: np.ndarray) -> float:
        f = weights * values
        return float(np.sum(0.5 * (f[1:] + f[:-1]) * np.diff(self.times)))

    def standard_errors(self, xva) -> dict[str, float] | None:
        """Monte-Carlo standard errors of ``cva``, ``dva``, ``fva`` and
        ``first_order_adjustment`` (keys of those names): each is a linear combination c of the
        per-date means, so its variance is c' mean_cov c. None without ``mean_cov``."""
        if self.mean_cov is None:
            return None
        xva = _xva(xva, "standard_errors")
        a = self._trapezoid()
        surv = a * np.exp(-(xva.lambda_b + xva.lambda_c + self.rate) * self.times)
        disc = a * np.exp(-self.rate * self.times)
        zero = np.zeros_like(a)
        combos = {
            "cva": np.concatenate([(1.0 - xva.recovery_c) * xva.lambda_c * surv, zero]),
            "dva": np.concatenate([zero, -(1.0 - xva.recovery_b) * xva.lambda_b * surv]),
            "fva": np.concatenate([xva.s_f * surv, zero]),
            "first_order_adjustment": np.concatenate([xva.spread_positive * disc,
                                                      xva.spread_negative * disc]),
        }
        cov = np.asarray(self.mean_cov, dtype=float)
        return {k: float(math.sqrt(max(c @ cov @ c, 0.0))) for k, c in combos.items()}

    def _with_survival(self, values: np.ndarray, xva, method: str) -> float:
        """int S(t) D(t) values(t) dt, S(t) = e^{-(lambda_B + lambda_C) t}, D(t) = e^{-r t}."""
        xva = _xva(xva, method)
        w = np.exp(-(xva.lambda_b + xva.lambda_c + self.rate) * self.times)
        return self._integral(w, values)

    def cva(self, xva) -> float:
        """(1 - R_C) int lambda_C S(t) D(t) EPE(t) dt (risk-free close-out), >= 0."""
        integral = self._with_survival(self.epe, xva, "cva")
        return (1.0 - xva.recovery_c) * xva.lambda_c * integral

    def dva(self, xva) -> float:
        """-(1 - R_B) int lambda_B S(t) D(t) ENE(t) dt (risk-free close-out), >= 0."""
        integral = self._with_survival(self.ene, xva, "dva")
        return -(1.0 - xva.recovery_b) * xva.lambda_b * integral

    def fva(self, xva) -> float:
        """s_F int S(t) D(t) EPE(t) dt: the funding cost of a positive value, >= 0."""
        integral = self._with_survival(self.epe, xva, "fva")
        return xva.s_f * integral

    def first_order_adjustment(self, xva) -> float:
        """int D(t) (b EPE(t) + a ENE(t)) dt: V ~ V_rf minus this, to first order in the
        spreads (the funding spread s_F included in b)."""
        xva = _xva(xva, "first_order_adjustment")
        w = np.exp(-self.rate * self.times)
        return self._integral(w, xva.spread_positive * self.epe + xva.spread_negative * self.ene)

    def to_dict(self) -> dict:
        return {"times": self.times.tolist(), "epe": self.epe.tolist(), "ene": self.ene.tolist(),
                "epe_se": self.epe_se.tolist(), "ene_se": self.ene_se.tolist(),
                "pfe": self.pfe.tolist(), "mean": self.mean.tolist(),
                "quantile": self.quantile, "paths": self.paths, "rate": self.rate,
                "risk_free": self.risk_free,
                "mean_cov": None if self.mean_cov is None else np.asarray(self.mean_cov).tolist()}


def _xva(xva, method: str):
    from simulators import XVA

    if not isinstance(xva, XVA):
        tv.fail(f"ExposureProfile.{method}", "xva", "be a simulators.XVA",
                type(xva).__name__)
    return xva


def exposure_profile(surrogate, state, *, paths: int = 65_536, seed: int = 1,
                     quantile: float = 0.975) -> ExposureProfile:
    """EPE, ENE and PFE at every date of ``surrogate`` along ``paths`` outer paths from ``state``.

    Args:
        surrogate: a :class:`~training.backward.RiskySurrogate` (risk-free with ``xva=None``).
        state: today's state, shape (d,) in the columns of ``surrogate.inputs``.
        paths: number of outer paths, >= 2.
        seed: RNG key in [0, 2**32); date k's step uses stream ``date = 2 N + k`` of
            :func:`simulators.transition`, apart from the solve's streams.
        quantile: PFE level in (0, 1).

    Returns:
        :class:`ExposureProfile`.
    """
    from simulators.transition import transition

    from .surrogate import RiskySurrogate, check_states

    if not isinstance(surrogate, RiskySurrogate):
        tv.fail(_OWNER, "surrogate", "be a training.backward.RiskySurrogate",
                type(surrogate).__name__)
    n = tv.positive_int(_OWNER, "paths", int(paths) if isinstance(paths, np.integer) else paths,
                        2)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (
            0 <= seed < 2**32):
        tv.fail(_OWNER, "seed", "be an integer in [0, 2**32)", seed)
    q = tv.real(_OWNER, "quantile", quantile)
    if not 0.0 < q < 1.0:
        tv.fail(_OWNER, "quantile", "be in (0, 1)", quantile)
    x0 = check_states(_OWNER, "state", surrogate.model, state, single=True)[0]
    times = surrogate.times
    n_dates = len(times) - 1
    x = np.tile(x0, (n, 1))
    stats = {k: np.empty(n_dates + 1) for k in ("epe", "ene", "epe_se", "ene_se", "pfe", "mean")}
    parts = np.empty((2 * (n_dates + 1), n))  # max(V_k, 0) then min(V_k, 0), path by path
    for k in range(n_dates + 1):
        if k > 0:
            x = transition(surrogate.model, x, float(times[k] - times[k - 1]), int(seed),
                           date=2 * n_dates + k - 1)
        v = surrogate.predict(x, k)
        pos, neg = np.maximum(v, 0.0), np.minimum(v, 0.0)
        parts[k], parts[n_dates + 1 + k] = pos, neg
        stats["epe"][k], stats["ene"][k] = pos.mean(), neg.mean()
        stats["epe_se"][k] = pos.std(ddof=1) / math.sqrt(n) if k > 0 else 0.0
        stats["ene_se"][k] = neg.std(ddof=1) / math.sqrt(n) if k > 0 else 0.0
        stats["pfe"][k] = np.quantile(v, q)
        stats["mean"][k] = v.mean()
    return ExposureProfile(times=np.array(times), quantile=q, paths=n,
                           rate=float(surrogate.model.rate), risk_free=surrogate.xva is None,
                           mean_cov=np.cov(parts, ddof=1) / n, **stats)
