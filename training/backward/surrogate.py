"""``RiskySurrogate``: the per-date regressions of a backward solve, and their history."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _validation as tv
from .._persistence import as_path, check_folder, make_folder, writing
from . import source as src

FORMAT_VERSION = 1


def check_states(owner: str, field: str, model, x: Any, single: bool = False) -> np.ndarray:
    """States as float64 (n, d) in the model's state columns, finite and inside the model's
    input bounds (spots > 0 for the lognormal models, variance >= 0): one ``ValueError`` line
    naming ``field`` otherwise. ``single``: one state of shape (d,), returned as (1, d)."""
    names = tuple(model.state_inputs)
    d = len(names)
    want = f"({d},)" if single else f"(n, {d})"
    try:
        xa = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        tv.fail(owner, field, f"be numbers of shape {want} ({', '.join(names)})",
                type(x).__name__)
    if single:
        xa = xa.reshape(1, -1) if xa.ndim <= 1 else xa
        if xa.shape != (1, d):
            tv.fail(owner, field, f"be {d} numbers ({', '.join(names)})", x)
    elif xa.ndim == 1 and d == 1:
        xa = xa[:, None]
    if xa.ndim != 2 or xa.shape[1] != d:
        tv.fail(owner, field, f"have shape {want} (columns {', '.join(names)})",
                f"shape {xa.shape}")
    from simulators.samplers import domain_rule, input_domain, outside_domain

    for j, name in enumerate(names):
        col = xa[:, j]
        bad = ~np.isfinite(col) | outside_domain(model, name, col)
        if np.any(bad):
            rule = domain_rule(model, name, "g") if np.isfinite(input_domain(model, name)[0]) \
                else "finite"
            tv.fail(owner, field, f"have finite {name} values {rule}",
                    float(col[np.argmax(bad)]))
    return xa


@dataclass(frozen=True)
class DateFit:
    """How the regression of one date went.

    Attributes:
        date: index k of the date (0 = today).
        time: t_k in years from today.
        paths: number of regression examples.
        seconds: wall time of the date (simulation, labels and fit).
        fit_seconds: wall time of the regression's fit alone.
        label_std: standard deviation of the value labels (units of the payoff).
        r2_value: R^2 of the fitted C_k against the (noisy) value labels; low values are normal
            for short steps, whose labels are mostly noise.
        r2_gradient: R^2 of the fitted gradient against the differential labels.
        mean_value: mean of V_k over the date's states.
        negative_share: share of the date's states where V_k < 0 (0 or 1: one-signed).
    """

    date: int
    time: float
    paths: int
    seconds: float
    fit_seconds: float
    label_std: float
    r2_value: float
    r2_gradient: float
    mean_value: float
    negative_share: float


@dataclass
class RiskySurrogate:
    """The risky value V(t_k, x) of a product at every date of a backward solve.

    ``V_k = g^{-1}(C_k)`` where C_k is the date's fitted regressor (a twin network) and g the
    scheme's source step (:mod:`training.backward.source`); at the last date V_N is the payoff.
    With ``xva=None`` it is the risk-free value.

    Attributes:
        model, product, xva: the ``simulators`` parameter objects of the solve.
        times: t_0 = 0 < ... < t_N = maturity, years, shape (N + 1,).
        scheme: the source scheme.
        regressors: the fitted C_k, k = 0 .. N - 1.
        history: one :class:`DateFit` per date, in date order (``history[0]`` is today's
            fit; the dates were solved from the last to the first).
        seconds: total wall time of the solve.
        settings: how it was solved (seed, dates, paths per date, scheme and the variance
            reduction flags), saved with it.
    """

    model: Any
    product: Any
    xva: Any
    times: np.ndarray
    scheme: src.Scheme
    regressors: list
    history: list[DateFit] = field(default_factory=list)
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    @property
    def source(self) -> src.Source:
        return src.Source.of(self.xva)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names of the state columns of x, e.g. ("spot",) or ("spot", "variance")."""
        return tuple(self.model.state_inputs)

    @property
    def n_dates(self) -> int:
        """N: the number of date intervals (dates 0 .. N)."""
        return len(self.times) - 1

    def _date(self, date: int) -> int:
        if isinstance(date, bool) or not isinstance(date, (int, np.integer)) or not (
                0 <= date <= self.n_dates):
            raise ValueError(f"The 'date' parameter of RiskySurrogate must be an integer in "
                             f"[0, {self.n_dates}]. Got {date!r} instead.")
        return int(date)

    def _check_x(self, x: Any) -> np.ndarray:
        return check_states("RiskySurrogate", "x", self.model, x)

    def predict_value_and_gradient(self, x: Any, date: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """V(t_date, x) (n,) and its state gradient (n, d); x (n, d) in the columns of
        :attr:`inputs`. At the last date: the payoff and its pathwise gradient."""
        k = self._date(date)
        xa = self._check_x(x)
        if k == self.n_dates:
            from simulators.products.gradient import payoff_and_gradient

            assets = int(self.model.dim)
            h, dh = payoff_and_gradient(self.product, xa[:, :assets])
            grad = np.zeros_like(xa)
            grad[:, :assets] = dh
            return h, grad
        c, gc = self.regressors[k].predict_value_and_gradient(xa)
        dt = float(self.times[k + 1] - self.times[k])
        v, g = src.inverse(self.source, self.scheme.theta, dt, c, gc)
        return v, g

    def predict(self, x: Any, date: int = 0) -> np.ndarray:
        """V(t_date, x), shape (n,)."""
        return self.predict_value_and_gradient(x, date)[0]

    def predict_gradient(self, x: Any, date: int = 0) -> np.ndarray:
        """dV/dx at t_date, shape (n, d)."""
        return self.predict_value_and_gradient(x, date)[1]

    # persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``path/surrogate.json`` (parameters, times, scheme, history) and one
        :meth:`DifferentialRegressor.save` folder per date (``date_000`` ...). No pickles.
        (The pipeline builds it in a private folder and publishes it by a rename.) A path that is
        empty, not a str or os.PathLike, or an existing file raises one error naming it."""
        p = make_folder(type(self).__name__, as_path(f"{type(self).__name__}.save", path))
        for k, reg in enumerate(self.regressors):
            reg.save(p / f"date_{k:03d}")
        meta = {
            "format_version": FORMAT_VERSION,
            "class": type(self).__name__,
            "model": self.model.to_dict(),
            "product": self.product.to_dict(),
            "xva": None if self.xva is None else self.xva.to_dict(),
            "times": [float(t) for t in self.times],
            "scheme": str(self.scheme),
            "history": [asdict(h) for h in self.history],
            "seconds": self.seconds,
            "settings": self.settings,
        }
        with writing(type(self).__name__, p):
            (p / "surrogate.json").write_text(json.dumps(meta, indent=2))
        return p

    @classmethod
    def load(cls, path: str | Path) -> RiskySurrogate:
        """Read a surrogate written by :meth:`save`: ``FileNotFoundError`` for a missing folder,
        ``NotADirectoryError`` for a file, ``ValueError`` for a folder that holds no surrogate."""
        from simulators.params import from_dict

        from ..regressor import DifferentialRegressor

        p = check_folder(cls.__name__, as_path(f"{cls.__name__}.load", path))
        try:
            meta = json.loads((p / "surrogate.json").read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{p} does not hold a RiskySurrogate: {exc}") from None
        if meta.get("class") != cls.__name__ or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{p} does not hold a RiskySurrogate (format {FORMAT_VERSION}).")
        times = np.asarray(meta["times"], dtype=np.float64)
        regs = [DifferentialRegressor.load(p / f"date_{k:03d}") for k in range(len(times) - 1)]
        return cls(model=from_dict(meta["model"]), product=from_dict(meta["product"]),
                   xva=from_dict(meta["xva"]), times=times, scheme=src.Scheme(meta["scheme"]),
                   regressors=regs, history=[DateFit(**h) for h in meta["history"]],
                   seconds=float(meta["seconds"]), settings=dict(meta.get("settings") or {}))

