"""``RiskySurrogate``: the per-date regressions of a backward solve, and their history."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _validation as tv
from .._persistence import (
    _json_value,
    as_path,
    check_folder,
    make_folder,
    read_json,
    require_fields,
    write_atomic,
    writing,
)
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
        """Write ``path/surrogate.json`` (parameters, times, scheme, history, and the SHA-256 of
        each date's ``config.json``) and one :meth:`DifferentialRegressor.save` folder per date
        (``date_000`` ...). No pickles. ``surrogate.json`` is serialised before anything is
        written (a value JSON cannot hold leaves the folder as it was) and written last, by a
        rename: a save that stops half-way over another surrogate leaves date folders that the
        old ``surrogate.json``'s hashes refuse at load, not a mixed surrogate. (The pipeline
        builds it in a private folder and publishes it by a rename.) A path that is empty, not
        a str or os.PathLike, or an existing file raises one error naming it."""
        name = type(self).__name__
        p = as_path(f"{name}.save", path)
        meta = {
            "format_version": FORMAT_VERSION,
            "class": name,
            "model": self.model.to_dict(),
            "product": self.product.to_dict(),
            "xva": None if self.xva is None else self.xva.to_dict(),
            "times": [float(t) for t in self.times],
            "scheme": str(self.scheme),
            "history": [asdict(h) for h in self.history],
            "seconds": self.seconds,
            "settings": self.settings,
        }
        try:
            json.dumps(meta, default=_json_value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Cannot save {name} to {p}: its configuration cannot be written "
                             f"as JSON ({exc}).") from None
        p = make_folder(name, p)
        for k, reg in enumerate(self.regressors):
            reg.save(p / f"date_{k:03d}")
        meta["dates_sha256"] = [
            hashlib.sha256((p / f"date_{k:03d}" / "config.json").read_bytes()).hexdigest()
            for k in range(len(self.regressors))]
        with writing(name, p):
            write_atomic(json.dumps(meta, indent=2, default=_json_value).encode(),
                         p / "surrogate.json")
        return p

    @classmethod
    def load(cls, path: str | Path) -> RiskySurrogate:
        """Read a surrogate written by :meth:`save`: ``FileNotFoundError`` for a missing folder,
        ``NotADirectoryError`` for a file, ``ValueError`` naming the folder and the
        problem for one that holds no surrogate, a damaged one (missing or malformed fields,
        times that are not a date grid, date folders another save replaced)."""
        from simulators.params import from_dict

        from ..regressor import DifferentialRegressor
        from .dates import date_grid

        name = cls.__name__
        p = check_folder(name, as_path(f"{name}.load", path))
        if not (p / "surrogate.json").is_file():
            raise ValueError(f"{p} does not hold a RiskySurrogate: surrogate.json is missing.")
        meta = read_json(name, p, "surrogate.json")
        if meta.get("class") != name or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{p} does not hold a RiskySurrogate (format {FORMAT_VERSION}).")
        require_fields(name, p, meta, ("model", "product", "xva", "times", "scheme", "history",
                                       "seconds"), "surrogate.json")
        try:
            model, product = from_dict(meta["model"]), from_dict(meta["product"])
            xva = from_dict(meta["xva"])
            times = date_grid(np.asarray(meta["times"], dtype=np.float64).tolist(),
                              product.maturity)
            scheme = src.Scheme(meta["scheme"])
            history = [DateFit(**h) for h in meta["history"]]
            seconds = float(meta["seconds"])
            settings = dict(meta.get("settings") or {})
            hashes = meta.get("dates_sha256")
            if hashes is not None and (not isinstance(hashes, list)
                                       or len(hashes) != len(times) - 1):
                raise ValueError(f"'dates_sha256' must hold {len(times) - 1} hashes")
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ValueError(f"Cannot load {name} from {p}: surrogate.json is damaged "
                             f"({type(exc).__name__}: {str(exc)[:160]}).") from None
        for k in range(len(times) - 1):
            config = p / f"date_{k:03d}" / "config.json"
            if hashes is not None and config.is_file() and \
                    hashlib.sha256(config.read_bytes()).hexdigest() != hashes[k]:
                raise ValueError(f"Cannot load {name} from {p}: date_{k:03d} is not the network "
                                 "surrogate.json was saved with (a later save into this folder "
                                 "stopped half-way); save the surrogate again.")
        regs = [DifferentialRegressor.load(p / f"date_{k:03d}") for k in range(len(times) - 1)]
        return cls(model=model, product=product, xva=xva, times=times, scheme=scheme,
                   regressors=regs, history=history, seconds=seconds, settings=settings)

