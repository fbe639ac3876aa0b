"""``DifferentialRegressor``: a scikit-learn style estimator training a twin network on values and
pathwise differentials (Huge & Savine, "Differential Machine Learning", 2020; docs/methods.md §1).

Conventions: ``X`` (n, d) inputs, ``y`` (n,) labels, ``dydx`` (n, d) differentials, float64 by
default. Loss on normalised data (see :mod:`training.scaling`)::

    L = α MSE(ŷ, ỹ) + β (1/d) Σ_j λ_j² MSE(∂ŷ/∂x̃_j, z̃_j),   α = 1/(1 + λd),  β = λd/(1 + λd)

with λ = ``lam``. ``fit(X, y)`` (no differentials) is standard training: the value term only.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import schedules as _sched
from ._base import BaseRegressor
from ._persistence import (
    as_path,
    check_folder,
    make_folder,
    read_json,
    read_weights,
    require_fields,
    save_files,
)
from ._validation import (
    SEED_RULE,
    Choice,
    InstanceOf,
    Interval,
    IsNone,
    Options,
    Predicate,
    available_device,
    check_X,
    check_xy,
    is_seed,
    not_fitted,
    on_cuda,
    param_error,
    validate_params,
)
from .options import DType, FitStatus, TrainMode
from .scaling import DifferentialScaler
from .twin import TwinNetwork

#: Layout of ``config.json``: 2 adds ``input_names`` and ``output_name``; version 1 still loads.
FORMAT_VERSION = 2

#: Hyperparameters a saved model must record: they shape its network and so its predictions.
PREDICTION_PARAMS = ("hidden_layers", "hidden_units", "activation", "dtype")
_READABLE_FORMATS = (1, 2)


@dataclass
class TrainHistory:
    """Per-epoch training record. Losses are on normalised data; ``value`` and ``gradient`` are
    the two unweighted terms, ``loss = α value + β gradient``; ``val_*`` are empty without a
    validation split; ``lr`` is the rate at the end of the epoch."""

    loss: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    gradient: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_value: list[float] = field(default_factory=list)
    val_gradient: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[float]]:
        return asdict(self)

    def __len__(self) -> int:
        return len(self.loss)


@dataclass
class TrainResult:
    """Outcome of one ``fit``: status (a :class:`~training.options.FitStatus`, "completed" or
    "early_stopped"), mode (a :class:`~training.options.TrainMode`, "differential" or
    "standard"), epochs run, best epoch (by validation loss when there is a validation split,
    else the last), timings and history. Plain strings for status and mode are converted."""

    status: FitStatus
    mode: TrainMode
    epochs_run: int
    best_epoch: int
    best_val_loss: float | None
    fit_seconds: float
    seconds_per_epoch: float
    n_samples: int
    n_inputs: int
    batch_size: int
    alpha: float
    beta: float
    history: TrainHistory

    def __post_init__(self) -> None:
        self.status = FitStatus(self.status)
        self.mode = TrainMode(self.mode)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"], d["mode"] = self.status.value, self.mode.value
        d["history"] = self.history.to_dict()
        return d


def _is_schedule(v: Any) -> bool:
    return isinstance(v, _sched.PiecewiseLinear)


@dataclass
class _TrainingData:
    """The normalised data of one fit on its device: ``x`` (n, d), ``y`` (n,), ``z`` (n, d) or
    None (standard training), the loss weights ``lam2`` = λ_j² (d,), α and β, the training and
    validation row indices and the minibatch layout."""

    x: torch.Tensor
    y: torch.Tensor
    z: torch.Tensor | None
    lam2: torch.Tensor
    alpha: float
    beta: float
    train: torch.Tensor
    val: torch.Tensor | None
    batch_size: int
    n_batches: int
    device: torch.device

    def losses(
        self, net: TwinNetwork, idx: torch.Tensor, method: str
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(α value + β gradient, value, gradient) on the rows ``idx``; the gradient term is
        zero in standard training."""
        xb = self.x[idx]
        if self.z is not None:
            yp, gp = net.value_and_gradient(xb, method)
            lv = torch.mean((yp - self.y[idx]) ** 2)
            lg = torch.mean((gp - self.z[idx]) ** 2 * self.lam2)
            return self.alpha * lv + self.beta * lg, lv, lg
        lv = torch.mean((net(xb) - self.y[idx]) ** 2)
        return lv, lv, torch.zeros((), dtype=self.x.dtype, device=self.device)


class _BestEpoch:
    """The epoch of the lowest validation loss so far, its weights, and the epochs since."""

    def __init__(self, epochs: int) -> None:
        self.loss = math.inf
        self.epoch = epochs - 1
        self.since = 0
        self.state: dict[str, torch.Tensor] | None = None

    def update(self, loss: float, epoch: int, net: TwinNetwork) -> None:
        if loss < self.loss:
            self.loss, self.epoch, self.since = loss, epoch, 0
            self.state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            self.since += 1


MAX_HIDDEN_LAYERS = 1024
MAX_HIDDEN_UNITS = 16_384
MAX_EPOCHS = 10**7
MAX_WEIGHTS = 2**27
"""Weights and biases of one network (1 GiB in float64)."""


def n_weights(n_inputs: int, hidden_layers: int, hidden_units: int) -> int:
    """Weights and biases of an MLP with ``n_inputs`` inputs, ``hidden_layers`` x
    ``hidden_units`` hidden units and one output."""
    u = hidden_units
    return (n_inputs + 1) * u + (hidden_layers - 1) * (u + 1) * u + u + 1


class DifferentialRegressor(BaseRegressor):
    """Twin-network regressor fitted on values and (optionally) differentials.

    Parameters
    ----------
    hidden_layers, hidden_units : int, default 4, 20
        MLP depth and width (the source's 4 × 20), at most 1024 and 16384; ``fit`` also refuses a
        network of more than 2**27 weights (:data:`MAX_WEIGHTS`), whose training state (weights,
        gradients, two Adam moments) would need 4 GiB or more.
    activation : {"softplus", "elu"}, default "softplus"
        Must be C¹ for the twin network; "relu" is refused with that reason.
    lam : float >= 0, default 1.0
        Differential weight λ; α = 1/(1+λd), β = λd/(1+λd). λ = 0 ignores ``dydx``.
    epochs : int in [1, 10**7], default 100
    batch_size : int or "auto", default "auto"
        "auto" is the source's rule max(256, ⌈m/16⌉) (capped at m).
    schedule : "one_cycle", "constant" or :class:`training.schedules.PiecewiseLinear`
        "one_cycle" is the source's shape (knots at 0, 0.2, 0.6, 0.9, 1 of training) scaled to
        ``peak_lr``; interpolated at every step. A ``PiecewiseLinear`` is used as is.
    peak_lr : float > 0, default 0.05
        Peak Adam rate of "one_cycle" (or the rate of "constant"). The source uses 0.1 and reports
        a divergence to a flat output for d = 50, m = 131,072 (docs/methods.md). The measured
        comparison of 0.01, 0.05 and 0.1 is in docs/training.md ("Defaults and why").
    clip_norm : float > 0 or None, default 1.0
        Clip the global gradient norm of the parameters: a guard against loss spikes (Adam's
        normalised steps make it a safety net, not a change of the normal path).
    init : {"glorot", "lecun", "he"}, default "glorot"
        Normal weight initialisation (biases zero). Glorot keeps the first layer's weights of
        order 1/sqrt(fan_in + fan_out) for d = 50 inputs as well as d = 1 (the source's
        variance scaling is LeCun-like, 1/sqrt(fan_in)); see docs/training.md.
    validation_fraction : float in (0, 1) or None, default None
        Hold out this share of the examples (the last ones after a seeded shuffle) to monitor
        validation loss; the best epoch's weights are restored.
    patience : int or None, default None
        Stop after this many epochs without a better validation loss; needs
        ``validation_fraction`` (refused without it).
    seed : int in [0, 2**63), default 0
        Seeds weight initialisation, shuffling and the split (a private ``torch.Generator``).
    dtype : {"float64", "float32"} or :class:`~training.options.DType`, default "float64"
    device : {"cpu", "cuda", "auto"}, default "cpu"
    gradient_method : {"explicit", "autograd"}, default "explicit"
        Twin gradient construction (explicit is faster in training; see :mod:`training.twin`).
    progress : bool, default False
        Show a rich progress bar during ``fit``.
    num_threads : int or None, default None
        Torch intra-op threads while fitting (restored afterwards); None leaves torch's setting.
        On a shared 2-core machine one thread can be many times faster than two for small nets.

    Attributes (after fit)
    ----------------------
    network_ : TwinNetwork; scaler_ : DifferentialScaler; n_inputs_ : int;
    input_names_ : list[str] (d,); output_name_ : str;
    mode_ : TrainMode ("differential" | "standard"); history_ : TrainHistory;
    result_ : TrainResult.
    """

    _parameter_constraints: dict[str, list] = {
        "hidden_layers": [Interval(Integral, 1, MAX_HIDDEN_LAYERS)],
        "hidden_units": [Interval(Integral, 1, MAX_HIDDEN_UNITS)],
        "activation": [Options(("softplus", "elu"))],
        "lam": [Interval(Real, 0, None)],
        "epochs": [Interval(Integral, 1, MAX_EPOCHS)],
        "batch_size": [Interval(Integral, 1, None), Options(("auto",))],
        "schedule": [
            Options(("one_cycle", "constant")),
            Predicate(_is_schedule, "a PiecewiseLinear schedule"),
        ],
        "peak_lr": [Interval(Real, 0, None, closed="neither")],
        "clip_norm": [Interval(Real, 0, None, closed="neither"), IsNone()],
        "init": [Options(("glorot", "lecun", "he"))],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), IsNone()],
        "patience": [Interval(Integral, 1, None), IsNone()],
        "seed": [Predicate(is_seed, SEED_RULE)],
        "dtype": [Choice(DType)],
        "device": [
            Options(("cpu", "cuda", "auto")),
            Predicate(lambda v: isinstance(v, str) and v.startswith("cuda:")
                      and v[5:].isascii() and v[5:].isdigit() and len(v) <= 9,
                      "'cuda:<index>'"),
        ],
        "gradient_method": [Options(("explicit", "autograd"))],
        "progress": [InstanceOf(bool, "a bool")],
        "num_threads": [Interval(Integral, 1, None), IsNone()],
    }

    def __init__(
        self,
        hidden_layers: int = 4,
        hidden_units: int = 20,
        activation: str = "softplus",
        lam: float = 1.0,
        epochs: int = 100,
        batch_size: int | str = "auto",
        schedule: str | _sched.PiecewiseLinear = "one_cycle",
        peak_lr: float = 0.05,
        clip_norm: float | None = 1.0,
        init: str = "glorot",
        validation_fraction: float | None = None,
        patience: int | None = None,
        seed: int = 0,
        dtype: str = "float64",
        device: str = "cpu",
        gradient_method: str = "explicit",
        progress: bool = False,
        num_threads: int | None = None,
    ) -> None:
        self.hidden_layers = hidden_layers
        self.hidden_units = hidden_units
        self.activation = activation
        self.lam = lam
        self.epochs = epochs
        self.batch_size = batch_size
        self.schedule = schedule
        self.peak_lr = peak_lr
        self.clip_norm = clip_norm
        self.init = init
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.seed = seed
        self.dtype = dtype
        self.device = device
        self.gradient_method = gradient_method
        self.progress = progress
        self.num_threads = num_threads

    # helpers -------------------------------------------------------------------------------------
    def _validate(self) -> None:
        if self.activation == "relu":
            raise param_error(
                type(self).__name__,
                "activation",
                "one of 'softplus', 'elu' (a C¹ activation: the twin network differentiates the "
                "network, and ReLU's derivative is a step, so the predicted gradient would be "
                "piecewise constant)",
                self.activation,
            )
        validate_params(type(self).__name__, self.get_params(), self._parameter_constraints)

    def _torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == DType.FLOAT64 else torch.float32

    def _np_dtype(self) -> type:
        return np.float64 if self.dtype == DType.FLOAT64 else np.float32

    def _resolve_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return available_device(type(self).__name__, "device", str(self.device))

    def _schedule(self) -> _sched.PiecewiseLinear:
        if isinstance(self.schedule, _sched.PiecewiseLinear):
            return self.schedule
        if self.schedule == "constant":
            return _sched.constant(self.peak_lr)
        return _sched.one_cycle(self.peak_lr)

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise not_fitted(type(self).__name__)

    # fit --------------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any,
        dydx: Any | None = None,
        *,
        input_names: Sequence[str] | None = None,
        output_name: str | None = None,
    ) -> DifferentialRegressor:
        """Fit on ``X`` (n, d), ``y`` (n,) and optionally ``dydx`` (n, d). Returns ``self``.

        NumPy arrays, torch tensors, DLPack producers and pandas objects are accepted. With
        ``device`` "cuda" (or "auto" on a machine with a GPU), arrays already in CUDA memory
        (CuPy, CUDA torch tensors, any DLPack or CUDA-array-interface producer, such as
        ``simulate(..., backend="gpu", device_output=True)``'s sample) are validated, scaled and
        trained on where they are, without a copy to the host. Raises
        ``ValueError`` for a bad hyperparameter, mismatched shapes or NaN/Inf entries, and
        ``FloatingPointError`` if the loss becomes non-finite during training.

        ``input_names`` (d distinct non-empty strings) and ``output_name`` name the columns of
        ``X`` and the value; they are saved with the model and written into exports. By default
        they are a DataFrame's string column names and a Series' name, else ``x0..x{d-1}`` and
        ``"y"``; names given here must agree with a DataFrame's columns.
        """
        self._validate()
        if self.patience is not None and self.validation_fraction is None:
            raise param_error(type(self).__name__, "patience",
                              "None without 'validation_fraction' (early stopping watches the "
                              "validation loss)", self.patience)
        device = self._resolve_device()
        in_place = device.type == "cuda" and all(on_cuda(a) for a in (X, y, dydx)
                                                 if a is not None)
        Xa, ya, za = check_xy(X, y, dydx, dtype=np.float64, device=device if in_place else None)
        names = self._input_names(X, input_names, Xa.shape[1])
        label = self._output_name(y, output_name)
        if self.num_threads is None:
            return self._fit(Xa, ya, za, device)._name(names, label)
        previous = torch.get_num_threads()
        torch.set_num_threads(self.num_threads)
        try:
            return self._fit(Xa, ya, za, device)._name(names, label)
        finally:
            torch.set_num_threads(previous)

    @staticmethod
    def _default_names(d: int) -> list[str]:
        return [f"x{j}" for j in range(d)]

    @classmethod
    def _input_names(cls, X: Any, names: Sequence[str] | None, d: int) -> list[str]:
        """``names`` checked against d and a DataFrame's columns, else the columns, else
        ``x0..x{d-1}``."""
        owner = f"{cls.__name__}.fit"
        columns = _string_columns(X)
        if names is None:
            return columns if columns is not None else cls._default_names(d)
        if isinstance(names, str) or not isinstance(names, Iterable):
            raise param_error(owner, "input_names", f"a sequence of {d} strings", names)
        out = [str(n) if isinstance(n, str) else n for n in names]
        if len(out) != d or not all(isinstance(n, str) and n for n in out):
            raise param_error(owner, "input_names", f"{d} non-empty strings (one per column "
                              "of X)", names)
        if len(set(out)) != d:
            raise param_error(owner, "input_names", "distinct", names)
        if columns is not None and columns != out:
            raise param_error(owner, "input_names", f"the columns of X {columns}", names)
        return out

    @classmethod
    def _output_name(cls, y: Any, name: str | None) -> str:
        """``name``, else a pandas Series' string name, else "y"."""
        if name is None:
            series = getattr(y, "name", None) if type(y).__module__.startswith("pandas") else None
            return series if isinstance(series, str) and series else "y"
        if not isinstance(name, str) or not name:
            raise param_error(f"{cls.__name__}.fit", "output_name", "a non-empty string", name)
        return name

    def _name(self, input_names: list[str], output_name: str) -> DifferentialRegressor:
        self.input_names_ = input_names
        self.output_name_ = output_name
        return self

    def _fit(self, Xa: Any, ya: Any, za: Any | None, device: torch.device
             ) -> DifferentialRegressor:
        """Train on NumPy arrays, or on float64 tensors already on ``device``."""
        n_w = n_weights(Xa.shape[1], self.hidden_layers, self.hidden_units)
        if n_w > MAX_WEIGHTS:
            raise param_error(
                f"{type(self).__name__}.fit", "hidden_units",
                f"such that the network has at most {MAX_WEIGHTS} weights ({n_w} with "
                f"{Xa.shape[1]} inputs and {self.hidden_layers} hidden layers)",
                self.hidden_units)
        gen = torch.Generator().manual_seed(int(self.seed))
        train, val = self._split(len(Xa), gen)
        scaler, data = self._scale(Xa, ya, za, train, val, device)
        net = TwinNetwork(
            Xa.shape[1],
            self.hidden_layers,
            self.hidden_units,
            self.activation,
            self.init,
            generator=gen,
            dtype=self._torch_dtype(),
            device=device,
        )
        hist, best = TrainHistory(), _BestEpoch(self.epochs)
        t_start = time.perf_counter()
        status = self._train(net, data, gen, hist, best)
        if best.state is not None:
            net.load_state_dict(best.state)
        fit_seconds = time.perf_counter() - t_start
        # before any fitted attribute is set: a network broken by its last steps raises and
        # leaves the estimator as it was
        self._warn_if_not_learned(net, data, hist)

        self.network_ = net
        self.scaler_ = scaler
        self.n_inputs_ = Xa.shape[1]
        self.mode_ = TrainMode.DIFFERENTIAL if data.z is not None else TrainMode.STANDARD
        self.device_ = device
        self.history_ = hist
        self.result_ = self._result(status, data, hist, best, fit_seconds)
        return self

    def _warn_if_not_learned(self, net: TwinNetwork, data: _TrainingData,
                             hist: TrainHistory) -> None:
        """``FloatingPointError`` when the fitted network's output is not finite on the
        training rows; RuntimeWarning when it predicts a constant (spread below 1e-3 of the
        labels' on the training rows) and its last epoch's loss is no better than the best
        constant predictor's (value the labels' mean, gradient 0): a step size so large that
        the network saturated. A short training that is still learning is not flagged."""
        if not hist.loss:
            return
        rows = data.train[:65536]
        with torch.no_grad():
            y = data.y[rows]
            const = data.alpha * float(torch.mean((y - y.mean()) ** 2))
            if data.z is not None:
                const += data.beta * float(torch.mean(data.z[rows] ** 2 * data.lam2))
            out = net(data.x[rows])
            if not bool(torch.isfinite(out).all()):
                # The epoch losses are computed before each step: the last steps can break the
                # network without any of them being non-finite.
                raise FloatingPointError(
                    "DifferentialRegressor training diverged in its last steps: the fitted "
                    "network's output is not finite on the training rows; lower 'peak_lr' or "
                    "set 'clip_norm'.")
            if len(rows) < 2:
                return
            spread = float(out.std())
        if spread < 1e-3 * float(y.std()) and hist.loss[-1] >= 0.99 * const:
            warnings.warn(
                f"DifferentialRegressor: the network predicts a constant (its loss "
                f"{hist.loss[-1]:.3g} against a constant predictor's {const:.3g}): the training "
                f"saturated it (lower 'peak_lr' or set 'clip_norm')",
                RuntimeWarning, stacklevel=3)

    def _split(self, n: int, gen: torch.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """Training and validation rows: with ``validation_fraction``, a seeded shuffle whose tail
        is the validation set (it draws from ``gen``); otherwise every row trains."""
        if self.validation_fraction is None:
            return np.arange(n), None
        n_val = max(1, int(round(self.validation_fraction * n)))
        if n_val >= n:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no training examples "
                f"out of {n}."
            )
        order = torch.randperm(n, generator=gen).numpy()
        return order[: n - n_val], order[n - n_val :]

    def _batch_size(self, m: int) -> int:
        """``batch_size``, or for "auto" the source's max(256, ⌈m/16⌉); at most m."""
        bs = max(256, math.ceil(m / 16)) if self.batch_size == "auto" else int(self.batch_size)
        return min(bs, m)

    def _scale(
        self,
        Xa: Any,
        ya: Any,
        za: Any | None,
        train: np.ndarray,
        val: np.ndarray | None,
        device: torch.device,
    ) -> tuple[DifferentialScaler, _TrainingData]:
        """Fit the scaler on the training rows and move the normalised data to ``device``.

        Differentials are used when given and ``lam > 0``; then α = 1/(1 + λd), β = 1 − α."""
        differential = za is not None and self.lam > 0
        rows = slice(None) if val is None else train  # every row trains: no gathered copy
        scaler = DifferentialScaler.fit(Xa[rows], ya[rows], za[rows] if differential else None)
        tdtype = self._torch_dtype()

        def to_t(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a, dtype=tdtype).to(device)

        alpha = 1.0 / (1.0 + self.lam * Xa.shape[1]) if differential else 1.0
        bs = self._batch_size(len(train))
        data = _TrainingData(
            x=to_t(scaler.x(Xa)),
            y=to_t(scaler.y(ya)),
            z=to_t(scaler.z(za)) if differential else None,
            lam2=to_t(scaler.lambda_j**2),
            alpha=alpha,
            beta=1.0 - alpha if differential else 0.0,
            train=torch.as_tensor(train, device=device),
            val=torch.as_tensor(val, device=device) if val is not None else None,
            batch_size=bs,
            n_batches=math.ceil(len(train) / bs),
            device=device,
        )
        return scaler, data

    def _train(
        self,
        net: TwinNetwork,
        data: _TrainingData,
        gen: torch.Generator,
        hist: TrainHistory,
        best: _BestEpoch,
    ) -> FitStatus:
        """Run the epochs, recording ``hist`` and ``best``; returns the status."""
        opt = torch.optim.Adam(net.parameters(), lr=0.0)
        sched = self._schedule()
        bar = _progress_bar(self.progress, self.epochs)
        try:
            for epoch in range(self.epochs):
                t_ep = time.perf_counter()
                ep_loss, ep_v, ep_g, lr = self._epoch(net, opt, sched, data, gen, epoch)
                hist.loss.append(ep_loss)
                hist.value.append(ep_v)
                hist.gradient.append(ep_g)
                hist.lr.append(lr)
                if data.val is not None:
                    self._validation_epoch(net, data, hist, best, epoch)
                hist.seconds.append(time.perf_counter() - t_ep)
                if bar is not None:
                    bar.advance(epoch, ep_loss, hist.val_loss[-1] if hist.val_loss else None)
                if self._early_stop(data, best):
                    return FitStatus.EARLY_STOPPED
        finally:
            if bar is not None:
                bar.close()
        return FitStatus.COMPLETED

    def _epoch(
        self,
        net: TwinNetwork,
        opt: torch.optim.Optimizer,
        sched: _sched.PiecewiseLinear,
        data: _TrainingData,
        gen: torch.Generator,
        epoch: int,
    ) -> tuple[float, float, float, float]:
        """One pass over a seeded permutation of the training rows in minibatches, the rate
        interpolated at every step. Returns the epoch's (loss, value, gradient) terms, averaged
        over the batches by size, and the last rate; raises ``FloatingPointError`` on a non-finite
        loss."""
        m, bs, nb = len(data.train), data.batch_size, data.n_batches
        perm = data.train[torch.randperm(m, generator=gen).to(data.device)]
        tot = torch.zeros(3, dtype=torch.float64, device=data.device)
        lr = 0.0
        for b in range(nb):
            idx = perm[b * bs : (b + 1) * bs]
            lr = sched((epoch + b / nb) / self.epochs)
            tot += self._step(net, opt, data, idx, lr).double() * (len(idx) / m)
        ep_loss, ep_v, ep_g = (float(v) for v in tot.cpu())
        if not math.isfinite(ep_loss):
            raise FloatingPointError(
                f"DifferentialRegressor training diverged at epoch {epoch + 1} "
                f"(loss {ep_loss}); lower 'peak_lr' or set 'clip_norm'."
            )
        return ep_loss, ep_v, ep_g, lr

    def _step(
        self,
        net: TwinNetwork,
        opt: torch.optim.Optimizer,
        data: _TrainingData,
        idx: torch.Tensor,
        lr: float,
    ) -> torch.Tensor:
        """One Adam step at rate ``lr`` on the rows ``idx`` (gradient norm clipped to
        ``clip_norm``); returns the detached (loss, value, gradient) terms, shape (3,)."""
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss, lv, lg = data.losses(net, idx, self.gradient_method)
        loss.backward()
        if self.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), self.clip_norm)
        opt.step()
        return torch.stack([loss.detach(), lv.detach(), lg.detach()])

    def _validation_epoch(
        self,
        net: TwinNetwork,
        data: _TrainingData,
        hist: TrainHistory,
        best: _BestEpoch,
        epoch: int,
    ) -> None:
        """Record the validation terms of ``epoch`` and update the best epoch."""
        with torch.no_grad():
            vl, vv, vg = data.losses(net, data.val, self.gradient_method)
        vl_f = float(vl)
        hist.val_loss.append(vl_f)
        hist.val_value.append(float(vv))
        hist.val_gradient.append(float(vg))
        best.update(vl_f, epoch, net)

    def _early_stop(self, data: _TrainingData, best: _BestEpoch) -> bool:
        """True after ``patience`` epochs without a better validation loss."""
        return self.patience is not None and data.val is not None and best.since >= self.patience

    def _result(
        self,
        status: FitStatus,
        data: _TrainingData,
        hist: TrainHistory,
        best: _BestEpoch,
        fit_seconds: float,
    ) -> TrainResult:
        validated = data.val is not None
        return TrainResult(
            status=status,
            mode=self.mode_,
            epochs_run=len(hist),
            best_epoch=best.epoch if validated else len(hist) - 1,
            best_val_loss=best.loss if validated else None,
            fit_seconds=fit_seconds,
            seconds_per_epoch=fit_seconds / max(len(hist), 1),
            n_samples=len(data.train),
            n_inputs=self.n_inputs_,
            batch_size=data.batch_size,
            alpha=data.alpha,
            beta=data.beta,
            history=hist,
        )

    # predict ----------------------------------------------------------------------------
    _CHUNK = 65536

    def _predict(self, X: Any, gradient: bool) -> tuple[np.ndarray, np.ndarray | None]:
        self._check_fitted()
        self._check_columns(X)
        Xa = check_X(X, self.n_inputs_, np.float64)
        s = self.scaler_
        xt = torch.as_tensor(s.x(Xa), dtype=self._torch_dtype()).to(self.device_)
        ys, gs = [], []
        with torch.no_grad():
            for i in range(0, max(len(xt), 1), self._CHUNK):
                xb = xt[i : i + self._CHUNK]
                if gradient:
                    yb, gb = self.network_.value_and_gradient(xb, "explicit")
                    gs.append(gb.double().cpu().numpy())
                else:
                    yb = self.network_(xb)
                ys.append(yb.double().cpu().numpy())
        y = s.y_inverse(np.concatenate(ys))
        g = s.z_inverse(np.concatenate(gs)) if gradient else None
        for what, arr in (("value", y), ("gradient", g)):
            if arr is not None and not np.all(np.isfinite(arr)):
                rows = np.flatnonzero(~np.all(np.isfinite(arr.reshape(len(arr), -1)), axis=1))
                far = np.abs(s.x(Xa[rows])).max(axis=0)
                raise FloatingPointError(
                    f"DifferentialRegressor: the predicted {what} is not finite for {len(rows)} "
                    f"of {len(arr)} rows; the furthest input there is column "
                    f"{int(np.argmax(far))} at {float(far.max()):.3g} training standard "
                    "deviations from the training mean")
        return y, g

    def _check_columns(self, X: Any) -> None:
        """A DataFrame must have the columns named in fit, in that order (unless the names are
        the defaults ``x0..x{d-1}``, i.e. none were given)."""
        columns = _string_columns(X)
        names = self.input_names_
        if columns is None or columns == names or names == self._default_names(self.n_inputs_):
            return
        raise ValueError(
            f"X has columns {columns}; {type(self).__name__} was fitted on {names} (same order)."
        )

    def predict(self, X: Any) -> np.ndarray:
        """Values in original units, shape (n,)."""
        return self._predict(X, gradient=False)[0]

    def predict_gradient(self, X: Any) -> np.ndarray:
        """Input gradients dy/dx in original units, shape (n, d)."""
        return self._predict(X, gradient=True)[1]

    def predict_value_and_gradient(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Both, from one twin pass: (n,) and (n, d)."""
        y, g = self._predict(X, gradient=True)
        return y, g

    # export -----------------------------------------------------------------------------
    def export_onnx(self, path: str | Path) -> Path:
        """Write an ONNX model mapping raw ``x`` (n, d) to ``value`` (n,) and ``gradient`` (n, d)
        in original units, scaling and explicit twin pass inside the graph, batch axis dynamic,
        in the model's dtype (:mod:`training.export`). Needs the ``onnx`` package. Returns the
        path."""
        from . import export

        return export.export_onnx(self, path)

    def export_torchscript(self, path: str | Path) -> Path:
        """Write the same graph as :meth:`export_onnx` as a TorchScript file for
        ``torch.jit.load``: ``module(x)`` returns ``(value, gradient)``. Returns the path."""
        from . import export

        return export.export_torchscript(self, path)

    # persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``path/config.json`` (hyperparameters, input and output names, scaler, result)
        and ``path/weights.pt`` (``torch.save`` of the state dict). No pickled Python objects.
        Returns the directory. A path that is empty, not a str or os.PathLike, or an existing file
        raises one error naming it (:mod:`training._persistence`)."""
        self._check_fitted()
        what = type(self).__name__
        p = make_folder(what, as_path(f"{what}.save", path))
        params = self.get_params()
        if isinstance(params["schedule"], _sched.PiecewiseLinear):
            params["schedule"] = params["schedule"].to_dict()
        config = {
            "format_version": FORMAT_VERSION,
            "class": what,
            "params": params,
            "n_inputs": self.n_inputs_,
            "input_names": list(self.input_names_),
            "output_name": self.output_name_,
            "mode": self.mode_,
            "scaler": self.scaler_.to_dict(),
            "result": self.result_.to_dict(),
        }
        state = {k: v.detach().cpu() for k, v in self.network_.state_dict().items()}
        save_files(what, p, state, config)
        return p

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> DifferentialRegressor:
        """Load a model written by :meth:`save` (weights via ``torch.load(weights_only=True)``).
        Format 1 (before names were saved) loads with names ``x0..x{d-1}`` and ``"y"``.

        A missing folder or file raises ``FileNotFoundError``, a damaged one (``config.json`` not
        JSON or lacking fields, hyperparameters out of range, ``weights.pt`` not a torch file or
        not matching ``config.json``) ``ValueError``, naming the path and what is wrong."""
        what = cls.__name__
        p = check_folder(what, as_path(f"{what}.load", path))
        config = read_json(what, p)
        if (
            config.get("format_version") not in _READABLE_FORMATS
            or config.get("class") != what
        ):
            readable = ", ".join(str(v) for v in _READABLE_FORMATS)
            raise ValueError(f"{p} does not hold a {what} (formats {readable}).")
        require_fields(what, p, config, ("params", "n_inputs", "mode", "scaler", "result"))
        model = cls._from_params(p, config["params"], device)
        n_in = config["n_inputs"]
        # checked before any memory is allocated for the network a damaged file describes
        if isinstance(n_in, bool) or not isinstance(n_in, int) or not 1 <= n_in <= MAX_WEIGHTS:
            raise ValueError(f"Cannot load {what} from {p}: 'n_inputs' in config.json must be an "
                             f"integer in [1, {MAX_WEIGHTS}]; got {json.dumps(n_in)[:40]}.")
        n_w = n_weights(n_in, model.hidden_layers, model.hidden_units)
        if n_w > MAX_WEIGHTS:
            raise ValueError(f"Cannot load {what} from {p}: config.json describes a network of "
                             f"{n_w} weights (at most {MAX_WEIGHTS}).")
        names = config.get("input_names", cls._default_names(n_in))
        if not (isinstance(names, list) and len(names) == n_in
                and all(isinstance(n, str) and n for n in names) and len(set(names)) == n_in):
            raise ValueError(f"Cannot load {what} from {p}: 'input_names' in config.json must be "
                             f"a list of {n_in} distinct non-empty strings.")
        output_name = config.get("output_name", "y")
        if not isinstance(output_name, str) or not output_name:
            raise ValueError(f"Cannot load {what} from {p}: 'output_name' in config.json must "
                             "be a non-empty string.")
        dev = model._resolve_device()
        net = TwinNetwork(
            config["n_inputs"],
            model.hidden_layers,
            model.hidden_units,
            model.activation,
            model.init,
            dtype=model._torch_dtype(),
            device=dev,
        )
        net.load_state_dict(read_weights(what, p, net.state_dict(),
                                         sha256=config.get("weights_sha256")))
        model.network_ = net
        model.n_inputs_ = n_in
        model.input_names_ = list(names)
        model.output_name_ = output_name
        model.device_ = dev
        try:
            model.scaler_ = DifferentialScaler.from_dict(config["scaler"], n_in)
            model.mode_ = TrainMode(config["mode"])
            r = dict(config["result"])
            hist = TrainHistory(**r.pop("history"))
            model.result_ = TrainResult(history=hist, **r)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ValueError(f"Cannot load {what} from {p}: 'scaler', 'mode' or 'result' in "
                             f"config.json is damaged ({type(exc).__name__}: "
                             f"{str(exc)[:120]}).") from None
        model.history_ = hist
        return model

    @classmethod
    def _from_params(cls, path: Path, params: Any, device: str | None) -> DifferentialRegressor:
        """The unfitted model of the saved hyperparameters ``params`` (``device`` overrides
        theirs), checked as by ``fit``; unknown names raise ``ValueError`` naming ``path``."""
        if not isinstance(params, dict):
            raise ValueError(f"Cannot load {cls.__name__} from {path}: the 'params' field of "
                             "config.json is not a JSON object.")
        unknown = sorted(set(params) - set(cls().get_params()))
        if unknown:
            raise ValueError(f"Cannot load {cls.__name__} from {path}: config.json has unknown "
                             f"parameters {', '.join(repr(k) for k in unknown)}.")
        # The hyperparameters that shape the network's predictions must be there (a missing one
        # would silently take today's default); the others (num_threads, added later, device,
        # progress...) take their defaults.
        missing = [k for k in PREDICTION_PARAMS if k not in params]
        if missing:
            raise ValueError(f"Cannot load {cls.__name__} from {path}: the 'params' of "
                             f"config.json lack {', '.join(repr(k) for k in missing)}.")
        params = dict(params)
        if isinstance(params.get("schedule"), dict):
            try:
                params["schedule"] = _sched.from_dict(params["schedule"])
            except (TypeError, ValueError, KeyError) as exc:
                raise ValueError(f"Cannot load {cls.__name__} from {path}: the 'schedule' "
                                 f"in config.json is damaged ({type(exc).__name__}: "
                                 f"{str(exc)[:120]}).") from None
        if device is not None:
            params["device"] = device
        model = cls(**params)
        model._validate()
        return model


def _string_columns(X: Any) -> list[str] | None:
    """A DataFrame's column names when they are all strings (as scikit-learn), else None."""
    columns = getattr(X, "columns", None)
    if columns is None or not type(X).__module__.startswith("pandas"):
        return None
    names = list(columns)
    return names if all(isinstance(c, str) for c in names) else None


class _progress_bar:
    """Minimal rich progress bar (off by default); silently absent when rich is missing."""

    def __new__(cls, enabled: bool, total: int):  # type: ignore[misc]
        if not enabled:
            return None
        try:
            from rich.progress import Progress  # noqa: F401
        except ImportError:  # pragma: no cover
            return None
        return super().__new__(cls)

    def __init__(self, enabled: bool, total: int) -> None:
        from rich.progress import Progress

        self._p = Progress(transient=False)
        self._p.start()
        self._task = self._p.add_task("training", total=total)

    def advance(self, epoch: int, loss: float, val: float | None) -> None:
        desc = f"epoch {epoch + 1} loss {loss:.3e}" + (f" val {val:.3e}" if val is not None else "")
        self._p.update(self._task, advance=1, description=desc)

    def close(self) -> None:
        self._p.stop()
