"""Backward differential regression of the risky value: one twin-network fit per date.

Dates ``0 = t_0 < ... < t_N = T``. From the payoff V_N, for k = N - 1 down to 0: simulate one step
from states x_k spread over the date's state distribution, label each path with the discounted
next value (and its source share, :mod:`training.backward.source`), pull the label's gradient
back to x_k through the simulator's vector-Jacobian product (:func:`simulators.transition_vjp`),
fit a twin network C_k to both, and set V_k = g^{-1}(C_k). Each state's labels are averaged
over the step and its mirror (antithetic normals), and the value labels carry a control variate
of zero conditional mean; after Adam the network's output layer is solved by least squares
(:mod:`training.backward.output_layer`). The states of date k are today's
sampled states moved forward k steps by the model's own dynamics, on a stream of their own, so
every date is fitted where the next step from the previous date lands.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import _validation as tv
from . import source as src
from .dates import date_grid
from .output_layer import solve_output_layer
from .surrogate import DateFit, RiskySurrogate

_OWNER = "training.backward.solve"


def default_regressor():
    """The twin network each date starts from (cloned with the date's seed): 3 x 24 softplus,
    differential weight 1, 40 epochs of the one-cycle schedule, one torch thread."""
    from ..regressor import DifferentialRegressor

    return DifferentialRegressor(hidden_layers=3, hidden_units=24, epochs=40, lam=1.0,
                                 num_threads=1)


def _check(model, product, sampler, xva, paths_per_date, seed, regressor, flags):
    import simulators
    from simulators.transition import MODELS

    if not isinstance(model, MODELS):
        tv.fail(_OWNER, "model", "be one of " + ", ".join(m.__name__ for m in MODELS),
                type(model).__name__)
    state = tuple(model.state_inputs)
    if tuple(model.inputs) != state:
        tv.fail(_OWNER, "model", f"be a model whose inputs are its state {state} (parameters "
                "such as vol or rate as inputs are not supported)", tuple(model.inputs))
    products = (simulators.European, simulators.BasketOption, simulators.WorstOf,
                simulators.BestOf, simulators.NettingSet)
    if not isinstance(product, products):
        tv.fail(_OWNER, "product", "be a simulators product (e.g. a NettingSet)",
                type(product).__name__)
    try:
        product.encode(model.dim)
    except ValueError as exc:  # a product on another number of assets
        tv.fail(_OWNER, "product", f"fit the model's {model.dim} asset(s) ({exc})",
                type(product).__name__)
    if xva is not None and not isinstance(xva, simulators.XVA):
        tv.fail(_OWNER, "xva", "be a simulators.XVA or None", type(xva).__name__)
    samplers = (simulators.UniformSampler, simulators.ForwardSampler, simulators.FixedSampler)
    if not isinstance(sampler, samplers):
        tv.fail(_OWNER, "sampler", "be a UniformSampler, ForwardSampler or FixedSampler",
                type(sampler).__name__)
    sampler.validate(model)
    n = tv.positive_int(_OWNER, "paths_per_date",
                        int(paths_per_date) if isinstance(paths_per_date, np.integer)
                        else paths_per_date, 16)
    if n > 50_000_000:
        tv.fail(_OWNER, "paths_per_date", "be an int in [16, 50000000]", paths_per_date)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (
            0 <= seed < 2**32):
        tv.fail(_OWNER, "seed", "be an integer in [0, 2**32)", seed)
    if regressor is not None and not all(hasattr(regressor, a) for a in (
            "clone", "fit", "predict_value_and_gradient", "save")):
        tv.fail(_OWNER, "regressor", "be a DifferentialRegressor (hyperparameters to clone per "
                "date) or None", type(regressor).__name__)
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            tv.fail(_OWNER, name, "be a bool", value)
    return n


#: Largest (1 - theta) dt max(a, b) of a step: the explicit half of the Crank-Nicolson step
#: multiplies a value by (1 - h b) / (1 + h b) per date (h = dt / 2), which is 1/3 at h b = 0.5
#: against e^{-1} = 0.37 exact, and changes sign at h b = 1.
MAX_EXPLICIT_SOURCE_STEP = 0.25


def check_steps(times: np.ndarray, source: src.Source, theta: float) -> None:
    """Refuse date intervals too long for the explicit half of the theta scheme (one
    ``ValueError`` line saying how many dates are needed)."""
    h = (1.0 - theta) * float(np.max(np.diff(times))) * max(source.neg, source.pos)
    if h > MAX_EXPLICIT_SOURCE_STEP:
        need = math.ceil((1.0 - theta) * float(times[-1]) * max(source.neg, source.pos)
                         / MAX_EXPLICIT_SOURCE_STEP)
        tv.fail(_OWNER, "dates", f"be at least {need} equal dates for the crank_nicolson "
                f"scheme with these spreads ((1 - theta) dt max(a, b) <= "
                f"{MAX_EXPLICIT_SOURCE_STEP}; or use scheme='implicit')", len(times) - 1)


def solve(model, product, *, sampler, xva=None, dates: int | Sequence[float] = 4,
          paths_per_date: int = 65_536, regressor: Any = None,
          scheme: src.Scheme | str = src.Scheme.CRANK_NICOLSON, seed: int = 0,
          progress: bool = False, antithetic: bool = True, control: bool = True,
          output_lstsq: bool = True,
          before_date: Callable[[int], None] | None = None) -> RiskySurrogate:
    """Learn the risky value of ``product`` at every date by backward differential regression.

    Args:
        model: a ``simulators`` model whose inputs are its state (BlackScholes with
            inputs ("spot",), BachelierBasket, BlackScholesBasket without vol inputs, Heston
            with ("spot", "variance")).
        product: a product of either sign (a ``NettingSet``, a forward, an option).
        sampler: today's states (``UniformSampler`` over the range where the value is wanted,
            or ``ForwardSampler``); later dates' states are these moved forward.
        xva: a ``simulators.XVA`` (``None``: the risk-free value, by the same recursion).
        dates: N equal date intervals over [0, maturity], or the times t_0 = 0 .. t_N = T.
            Every date adds one regression's error while the Crank-Nicolson source step is
            already accurate with a few dates: few dates and many paths give today's value
            best (docs/backward.md); exposure profiles want more dates.
        paths_per_date: regression examples per date (>= 16).
        regressor: a ``DifferentialRegressor`` whose hyperparameters each date clones (seed
            ``regressor.seed + k``); default :func:`default_regressor`.
        scheme: "crank_nicolson" (default, O(dt^2) in the source) or "implicit" (O(dt)).
        seed: RNG key of the simulation, in [0, 2**32). Date k's step uses stream ``date=k`` of
            :func:`simulators.transition`, the states' forward moves ``date=N + k``.
        progress: show a rich progress bar over the dates.
        antithetic: average each state's labels over the step and its mirror (negated
            normals): removes the part of the label noise that is odd in the normals.
        control: subtract the spot-martingale control variate from the value labels.
        output_lstsq: solve each network's output layer by least squares after Adam.
        before_date: called with the date index k before date k's regression (k = N-1 .. 0);
            an exception it raises stops the solve (a caller's way to abandon a long solve).

    Returns:
        A :class:`RiskySurrogate` with one fitted regressor per date and the history of fits.
    """
    from simulators.transition import transition

    n = _check(model, product, sampler, xva, paths_per_date, seed, regressor,
               {"progress": progress, "antithetic": antithetic, "control": control,
                "output_lstsq": output_lstsq})
    sch = tv.option(_OWNER, "scheme", scheme, src.Scheme)
    times = date_grid(dates, float(product.maturity))
    check_steps(times, src.Source.of(xva), sch.theta)
    n_dates = len(times) - 1
    template = default_regressor() if regressor is None else regressor
    source = src.Source.of(xva)
    theta = sch.theta
    rate = float(model.rate)
    t_start = time.perf_counter()

    states = [np.ascontiguousarray(sampler.sample(model, int(seed), 0, n), dtype=np.float64)]
    for k in range(n_dates - 1):
        dt = float(times[k + 1] - times[k])
        states.append(transition(model, states[k], dt, int(seed), date=n_dates + k))

    regs: list[Any] = [None] * n_dates
    history: list[DateFit] = []
    surrogate = RiskySurrogate(model=model, product=product, xva=xva, times=times, scheme=sch,
                               regressors=regs, history=history, settings={
                                   "seed": int(seed), "paths_per_date": n,
                                   "antithetic": bool(antithetic), "control": bool(control),
                                   "output_lstsq": bool(output_lstsq)})
    bar = _Progress(progress, n_dates)
    try:
        for k in range(n_dates - 1, -1, -1):
            if before_date is not None:
                before_date(k)
            t0 = time.perf_counter()
            dt = float(times[k + 1] - times[k])
            x = states[k]
            disc = math.exp(-rate * dt)
            labels = [_labels(surrogate, k, dt, disc, x, int(seed), mirror, control)
                      for mirror in ((False, True) if antithetic else (False,))]
            y = np.mean([lab[0] for lab in labels], axis=0)
            dydx = np.mean([lab[1] for lab in labels], axis=0)
            reg = template.clone(seed=int(template.seed) + k)
            t_fit = time.perf_counter()
            reg.fit(x, y, dydx, input_names=list(model.state_inputs), output_name=f"C_{k}")
            if output_lstsq:
                solve_output_layer(reg, x, y, dydx)
            fit_seconds = time.perf_counter() - t_fit
            regs[k] = reg
            c, gc = reg.predict_value_and_gradient(x)
            v, _ = src.inverse(source, theta, dt, c, gc)
            history.append(DateFit(
                date=k, time=float(times[k]), paths=n, seconds=time.perf_counter() - t0,
                fit_seconds=fit_seconds, label_std=float(np.std(y)),
                r2_value=_r2(y, c), r2_gradient=_r2(dydx.ravel(), gc.ravel()),
                mean_value=float(np.mean(v)), negative_share=float(np.mean(v < 0.0))))
            bar.advance(k, history[-1])
    finally:
        bar.close()
    history.sort(key=lambda h: h.date)
    surrogate.seconds = time.perf_counter() - t_start
    return surrogate


def _next_value(surrogate, k: int, x_next: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """V_{k+1} and its state gradient at x_next: the payoff at the last date."""
    return surrogate.predict_value_and_gradient(x_next, k + 1)


def _labels(surrogate, k: int, dt: float, disc: float, x: np.ndarray, seed: int, mirror: bool,
            control: bool) -> tuple[np.ndarray, np.ndarray]:
    """Value labels (n,) and differential labels (n, d) of date k from one step of x (the
    mirrored normals when ``mirror``), the control variate subtracted from the values."""
    from simulators.transition import transition, transition_vjp

    model = surrogate.model
    x_next = transition(model, x, dt, seed, date=k, antithetic=mirror)
    v_next, g_next = _next_value(surrogate, k, x_next)
    y, w = src.label(surrogate.source, surrogate.scheme.theta, dt, disc, v_next, g_next)
    if control:
        y = y - _control(surrogate, k, dt, disc, x, x_next)
    _, dydx = transition_vjp(model, x, dt, seed, w, date=k, antithetic=mirror)
    return y, dydx


def _control(surrogate, k: int, dt: float, disc: float, x: np.ndarray, x_next: np.ndarray
             ) -> np.ndarray:
    """beta(x) . (S_{k+1} - E[S_{k+1} | x]) over the spot columns, beta the label's gradient at
    the conditional mean: a control variate of zero conditional mean (beta depends on x only),
    which removes the label noise that is linear in the step's spot move."""
    from simulators.transition import spot_mean

    assets = int(surrogate.model.dim)
    m = x.copy()
    m[:, :assets] = spot_mean(surrogate.model, x[:, :assets], dt)
    v_m, g_m = _next_value(surrogate, k, m)
    _, beta = src.label(surrogate.source, surrogate.scheme.theta, dt, disc, v_m, g_m)
    return np.sum(beta[:, :assets] * (x_next[:, :assets] - m[:, :assets]), axis=1)


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    var = float(np.var(y))
    return float(1.0 - np.mean((y - p) ** 2) / var) if var > 0 else float("nan")


class _Progress:
    """A rich progress bar over the dates (a no-op when disabled)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._bar = None
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(TextColumn("backward"), BarColumn(), TextColumn("{task.fields[info]}"),
                             TimeRemainingColumn(), transient=True)
        self._task = self._bar.add_task("dates", total=total, info="")
        self._bar.start()

    def advance(self, k: int, fit: DateFit) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1,
                             info=f"date {k}: t={fit.time:.3f}, R2(grad)={fit.r2_gradient:.3f}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
