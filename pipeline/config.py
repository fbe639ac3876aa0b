"""Run configuration: pydantic models read from YAML, with overrides and clear errors.

A run is a name, a seed, roots for outputs and datasets, a backend, Dask settings and a list of
scenarios. A scenario is one (model, product, sampler[, XVA]) with its training sizes, test set,
reference method and optional PINN settings. Model, product, sampler and XVA blocks are the
``to_dict()`` form of the ``simulators`` parameter objects (a ``type`` key plus parameters), so
every parameter check of the simulators applies, and errors name the scenario and the field. A
netting set lists its legs: ``product: {type: NettingSet, maturity: 1.0, legs: [{kind: call,
strike: 110, quantity: 1}, {kind: put, strike: 90, quantity: -1}]}`` (leg keys: kind, strike,
quantity, underlying, weights); the product must fit the model's number of assets.

Validation is complete: every number is bounded (:mod:`pipeline.limits`), integers are strict
(no bools, no floats), floats finite, and the YAML reader refuses duplicate keys and aliases that
expand beyond :data:`MAX_YAML_NODES` nodes. A refusal is one line per error naming the scenario,
the field, the allowed range and the value.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import limits
from .limits import (
    MAX_BACKWARD_DATES,
    MAX_BACKWARD_PATHS,
    MAX_CHUNK_PATHS,
    MAX_CURVE_ENTRIES,
    MAX_DASK_WORKERS,
    MAX_EPOCHS,
    MAX_EXPOSURE_PATHS,
    MAX_HIDDEN_LAYERS,
    MAX_HIDDEN_UNITS,
    MAX_HISTORY,
    MAX_LAMBDA,
    MAX_LEARNING_RATE,
    MAX_PARAMETER,
    MAX_PATH_CHARS,
    MAX_PATHS,
    MAX_REGRESSION_TOLERANCE,
    MAX_SCENARIOS,
    MAX_SEED,
    MAX_TEST_POINTS,
    MAX_TEXT,
    MAX_THREADS_PER_WORKER,
    MAX_TRAINING_SIZE,
    MIN_BACKWARD_PATHS,
    MIN_EXPOSURE_PATHS,
    Refused,
)

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.]{0,59}")

MAX_CONFIG_BYTES = 4 * 2**20
"""Size of a config or parameters file."""
MAX_YAML_NODES = 100_000
"""Nodes of a YAML document with every alias expanded."""
MAX_YAML_DEPTH = 64
"""Nesting depth of a YAML document."""
MAX_MESSAGE_CHARS = 1800
"""Length of a refusal message (one line per error, then "... and N more")."""
MAX_LINE_CHARS = 400

RANDOM_BASKET = "RandomBachelierBasket"
"""Config shorthand: ``model: {type: RandomBachelierBasket, dim: 7, seed: 1}`` builds the
Huge-Savine random basket; ``product: {type: RandomBachelierBasket}`` is its basket call."""

Seed = Annotated[int, Field(ge=0, lt=MAX_SEED)]
TrainingSize = Annotated[int, Field(ge=2, le=MAX_TRAINING_SIZE)]


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the scenario, field and value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class DaskSettings(_Strict):
    """Where tasks run. ``address`` connects to an existing cluster; otherwise a LocalCluster
    with ``n_workers`` workers is started (threads by default: one process shares one Prefect
    API; ``processes: true`` gives process workers and exports one API URL to them).
    ``gpu_workers: true`` starts one process worker per visible GPU instead, each seeing only its
    own device (``n_workers`` and ``processes`` then do not apply and must keep their defaults);
    it needs ``backend: gpu`` or ``auto``."""

    address: str | None = None
    n_workers: int = Field(2, ge=1, le=MAX_DASK_WORKERS)
    threads_per_worker: int = Field(1, ge=1, le=MAX_THREADS_PER_WORKER)
    processes: bool = False
    enabled: bool = True
    gpu_workers: bool = False

    @model_validator(mode="after")
    def _gpu_workers_start_a_local_cluster(self) -> DaskSettings:
        if not self.gpu_workers:
            return self
        if self.address is not None:
            raise ValueError(
                "gpu_workers starts a local cluster and address connects to an existing one "
                f"(address {limits.shown(self.address)}); give one of them (an existing "
                "cluster places its own workers on the GPUs)")
        # values, not model_fields_set: the CLI hands the flow its config dumped in full, and
        # a dump must validate again
        given = sorted(k for k in ("n_workers", "processes")
                       if getattr(self, k) != type(self).model_fields[k].default)
        if given:
            raise ValueError(
                f"gpu_workers starts one worker process per visible GPU; {' and '.join(given)} "
                "do not apply with it (got "
                + ", ".join(f"{k} {getattr(self, k)!r}" for k in given)
                + "); remove them or leave their defaults")
        return self

    @property
    def worker_processes(self) -> bool:
        """True when the local cluster's workers are processes (``processes`` or GPU workers)."""
        return self.processes or self.gpu_workers

    @field_validator("address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        why = None if v is None else limits.address_problem(v)
        if why is not None:
            raise ValueError(f"must be {why}; got {limits.shown(v)}")
        return v


class TrainingSettings(_Strict):
    """Learning-curve settings: a DifferentialRegressor fit per (size, mode, seed)."""

    sizes: list[TrainingSize] = Field(default_factory=lambda: [1024, 4096], min_length=1,
                                      max_length=MAX_CURVE_ENTRIES)
    modes: list[Literal["standard", "differential"]] = Field(
        default_factory=lambda: ["standard", "differential"], min_length=1, max_length=2)
    seeds: list[Seed] = Field(default_factory=lambda: [0], min_length=1,
                              max_length=MAX_CURVE_ENTRIES)
    epochs: int = Field(100, ge=1, le=MAX_EPOCHS)
    hidden_layers: int = Field(4, ge=1, le=MAX_HIDDEN_LAYERS)
    hidden_units: int = Field(20, ge=1, le=MAX_HIDDEN_UNITS)
    lam: float = Field(1.0, ge=0.0, le=MAX_LAMBDA)
    peak_lr: float | None = Field(None, gt=0.0, le=MAX_LEARNING_RATE)
    dtype: Literal["float64", "float32"] = "float32"

    @field_validator("sizes")
    @classmethod
    def _sorted_sizes(cls, v: list[int]) -> list[int]:
        return sorted(set(v))

    @field_validator("modes", "seeds")
    @classmethod
    def _distinct_entries(cls, v: list) -> list:
        return _distinct(v)


def _distinct(v: list) -> list:
    """``v`` if its entries are distinct (a repeated seed or mode would repeat the same fit and
    report a spread of 0 over copies), else ValueError."""
    if len(set(v)) != len(v):
        raise ValueError(f"entries must be distinct; got {v}")
    return v


def _bound(v: Any) -> Any:
    """A finite number within +-MAX_PARAMETER, or a non-empty list of them."""
    items = v if isinstance(v, list) else [v]
    rule = f"must be a finite number in [-{MAX_PARAMETER:g}, {MAX_PARAMETER:g}] or a list of them"
    if not items or len(items) > limits.MAX_ASSETS * 2:
        raise ValueError(f"{rule}; got {limits.shown(v)}")
    for x in items:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or (
                isinstance(x, float) and not math.isfinite(x)) or abs(x) > MAX_PARAMETER:
            raise ValueError(f"{rule}; got {limits.shown(v)}")
    return [float(x) for x in items] if isinstance(v, list) else float(v)


class EvaluationSet(_Strict):
    """Test inputs: ``n`` points, a grid along the first input (1-D) or seeded uniform points
    in the box [low, high] (one bound per input, or one scalar for all)."""

    n: int = Field(100, ge=2, le=MAX_TEST_POINTS)
    low: list[float] | float
    high: list[float] | float
    seed: Seed = 1234

    @field_validator("low", "high", mode="before")
    @classmethod
    def _finite_box(cls, v: Any) -> Any:
        return _bound(v)


class ReferenceSettings(_Strict):
    """Reference prices and Greeks on the test set: ``method`` and optional cross-checks.

    ``method: pinn`` takes them from the scenario's trained PINN (its ``pinn:`` block is then
    required); its cross-checks default to ``[fd]`` where an FD solver exists for the pair (states
    of at most two dimensions), else ``[]``. ``fd`` are keyword arguments of the FD solver
    (:data:`pipeline.limits.FD_OPTIONS`). ``agreement``: the largest relative RMS difference
    (over the reference's RMS on the test set) allowed between the reference and each
    cross-check, for the value and each first-order Greek; a larger one fails the scenario
    with one line naming the check, the quantity and the difference (``null``: no gate)."""

    method: Literal["analytic", "fd", "pinn"] = "analytic"
    cross_checks: list[Literal["analytic", "fd"]] = Field(default_factory=list, max_length=2)
    agreement: float | None = Field(0.01, gt=0.0, allow_inf_nan=False)
    fd: dict[str, Any] = Field(default_factory=dict)

    @field_validator("cross_checks")
    @classmethod
    def _distinct_checks(cls, v: list[str]) -> list[str]:
        return _distinct(v)

    @model_validator(mode="after")
    def _not_its_own_check(self) -> ReferenceSettings:
        if self.method in self.cross_checks:
            raise ValueError(f"cross_checks must not repeat the method {self.method!r}; got "
                             f"{self.cross_checks}")
        return self


#: ``pinn.parametric.warm_start`` keys: the PINNConfig fields a warm start may override.
WARM_START_OPTIONS = ("adam_steps", "lbfgs_iterations", "lstsq_rounds", "learning_rate",
                      "time_limit")


class PinnParametric(_Strict):
    """One PINN for a family of parameters (``training.pinn.ParametricPDE``): the parameters in
    ``ranges`` (names of the PDE problem's declarable parameters, e.g. vol, rate, lambda_b,
    lambda_c for Black-Scholes) become network inputs over ``[low, high]``; ``copies`` sampled
    parameter vectors per collocation point. A saved PINN whose ranges hold today's parameters
    is reused without training when its RMS residual on today's slice is at most
    ``residual_threshold`` (per year, in units of the value scale); otherwise training starts
    from the nearest saved PINN of the family with the ``warm_start`` overrides of
    ``pinn.options`` (default: no Adam steps), over the ranges moved to hold today's values."""

    ranges: dict[str, Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(
        min_length=1, max_length=8)
    copies: int = Field(2, ge=1, le=32)
    residual_threshold: float = Field(1e-4, gt=0.0, le=1.0)
    warm_start: dict[str, Any] = Field(default_factory=lambda: {"adam_steps": 0})

    @field_validator("ranges")
    @classmethod
    def _ranges(cls, v: dict[str, list[float]]) -> dict[str, list[float]]:
        for name, (low, high) in v.items():
            limits.real(f"ranges.{name}[0]", low, -MAX_PARAMETER, MAX_PARAMETER)
            limits.real(f"ranges.{name}[1]", high, -MAX_PARAMETER, MAX_PARAMETER)
            if not low < high:
                raise ValueError(f"ranges.{name} must be [low, high] with low < high; got "
                                 f"[{low}, {high}]")
        return v

    @field_validator("warm_start")
    @classmethod
    def _warm_start(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key, value in v.items():
            if key not in WARM_START_OPTIONS:
                raise ValueError(f"warm_start keys must be among {list(WARM_START_OPTIONS)}; "
                                 f"got {limits.shown(key)}")
            limits.PINN_OPTIONS[key](f"warm_start.{key}", value)
        return v


class PinnSettings(_Strict):
    """Boundary-safe PINN reference for the scenario's PDE (training.pinn); ``options`` are
    fields of ``training.pinn.PINNConfig`` (:data:`pipeline.limits.PINN_OPTIONS`);
    ``parametric`` trains one PINN for a family of parameters and reuses it across runs."""

    enabled: bool = True
    variant: Literal["boundary_safe", "classical", "best"] = "boundary_safe"
    options: dict[str, Any] = Field(default_factory=dict)
    parametric: PinnParametric | None = None


class BackwardExposure(_Strict):
    """Exposure profile of the netting set from today's state (``training.backward.
    exposure_profile``): EPE, ENE and PFE at every date along ``paths`` outer paths of the
    risk-free surrogate (risk-free close-out), and CVA and DVA from them. ``quantile``: the PFE
    level; ``state``: today's state, one number per model input (default: the centre of the
    scenario's test box)."""

    enabled: bool = True
    paths: int = Field(65_536, ge=MIN_EXPOSURE_PATHS, le=MAX_EXPOSURE_PATHS)
    quantile: float = Field(0.975, gt=0.5, lt=1.0)
    state: list[float] | None = Field(None, min_length=1, max_length=2 * limits.MAX_ASSETS)

    @field_validator("state", mode="before")
    @classmethod
    def _finite_state(cls, v: Any) -> Any:
        return None if v is None else _bound(v if isinstance(v, list) else [v])


class BackwardSettings(_Strict):
    """Risky (XVA) value of the scenario's product by backward differential regression
    (``training.backward.solve``): ``dates`` equal date intervals over [0, maturity], each
    fitted on ``paths_per_date`` simulated examples by a twin network (``regressor``: keys of
    :data:`pipeline.limits.BACKWARD_REGRESSOR_OPTIONS` over
    ``training.backward.default_regressor``), the XVA source integrated by ``scheme``. Without
    an ``xva`` block it is the risk-free value by the same recursion."""

    enabled: bool = True
    dates: int = Field(12, ge=1, le=MAX_BACKWARD_DATES)
    paths_per_date: int = Field(16_384, ge=MIN_BACKWARD_PATHS, le=MAX_BACKWARD_PATHS)
    scheme: Literal["crank_nicolson", "implicit"] = "crank_nicolson"
    regressor: dict[str, Any] = Field(default_factory=dict)
    exposure: BackwardExposure = Field(default_factory=BackwardExposure)


def _identifier(v: str) -> str:
    if not _ID.fullmatch(v):
        raise ValueError("must be 1-60 letters, digits, '_' or '.', starting with a letter or "
                         f"digit; got {limits.shown(v)}")
    return v


class Scenario(_Strict):
    id: str
    label: str = Field("", max_length=MAX_TEXT)
    model: dict[str, Any]
    product: dict[str, Any]
    sampler: dict[str, Any]
    xva: dict[str, Any] | None = None
    seed: Seed | None = None
    antithetic: bool = False
    n_paths: int | None = Field(None, ge=2, le=MAX_PATHS)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    test: EvaluationSet
    reference: ReferenceSettings = Field(default_factory=ReferenceSettings)
    pinn: PinnSettings | None = None
    backward: BackwardSettings | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        return _identifier(v)

    @model_validator(mode="after")
    def _enough_paths(self) -> Scenario:
        if self.n_paths is not None and self.n_paths < max(self.training.sizes):
            raise ValueError(f"n_paths must be >= the largest training size "
                             f"{max(self.training.sizes)}; got {self.n_paths}")
        return self

    @property
    def paths(self) -> int:
        """Rows to simulate: ``n_paths`` or the largest training size."""
        return self.n_paths or max(self.training.sizes)

    def objects(self) -> dict[str, Any]:
        """The simulators parameter objects: model, product, sampler, xva."""
        from data import from_dict

        out: dict[str, Any] = {}
        generated = None
        for field in ("model", "product", "sampler", "xva"):
            block = getattr(self, field)
            if block is None:
                out[field] = None
                continue
            if "type" not in block:
                raise ConfigError(f"scenario {self.id!r}, field '{field}': a 'type' key is "
                                  f"required (e.g. BlackScholes, European, ForwardSampler, XVA)")
            if field == "xva" and block.get("type") != "XVA":
                raise ConfigError(f"scenario {self.id!r}, field 'xva': type must be 'XVA'. "
                                  f"Got {limits.shown(block.get('type'))}.")
            try:
                limits.check_block(block, field)
                if block.get("type") == RANDOM_BASKET and field in ("model", "product"):
                    if field == "model":
                        import simulators

                        kwargs = {k: v for k, v in block.items() if k != "type"}
                        generated = simulators.random_bachelier_basket(**kwargs)
                    elif generated is None:
                        raise ValueError(f"product type {RANDOM_BASKET} needs a model of the "
                                         "same type")
                    out[field] = generated[0 if field == "model" else 1]
                else:
                    out[field] = from_dict(block)
            except Refused as exc:
                raise ConfigError(f"scenario {self.id!r}, {exc}") from None
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"scenario {self.id!r}, field '{field}': {exc}") from None
            allowed = _role_types().get(field)
            if allowed is not None and not isinstance(out[field], allowed):
                names = ", ".join(t.__name__ for t in allowed)
                raise ConfigError(f"scenario {self.id!r}, field '{field}': type must be one of "
                                  f"{names}. Got {limits.shown(block.get('type'))}.")
        try:  # the product fits the model (e.g. a netting set's legs on as many assets)
            out["product"].encode(out["model"].dim)
        except ValueError as exc:
            raise ConfigError(f"scenario {self.id!r}, field 'product': {exc}") from None
        try:
            limits.check_objects(out["model"], out["product"], out["sampler"], out["xva"])
        except Refused as exc:
            raise ConfigError(f"scenario {self.id!r}, {exc}") from None
        return out


def _role_types() -> dict[str, tuple[type, ...]]:
    """The classes each field of a scenario accepts (models and products: the registry's)."""
    import simulators as sim

    from .registry import MODELS, PRODUCTS

    return {"model": MODELS, "product": PRODUCTS,
            "sampler": (sim.FixedSampler, sim.UniformSampler, sim.ForwardSampler)}


def _root(v: str) -> str:
    if not v or len(v) > MAX_PATH_CHARS or any(ord(c) < 32 for c in v):
        raise ValueError(f"must be a path of 1-{MAX_PATH_CHARS} printable characters; "
                         f"got {limits.shown(v)}")
    return v


class RegressionGate(_Strict):
    """What a run is compared with, and whether a regression fails it.

    ``baseline: best`` (default) compares each error metric with its best value over the last
    ``window`` runs of the same name, so a second bad run in a row is flagged again;
    ``previous`` compares with the previous run only; ``pinned`` names a run directory to
    compare with every night (a release baseline). ``fail: true`` makes ``diffml run`` exit
    with code 3 when anything regressed (``--fail-on-regression`` does the same); a failed or
    missing scenario counts as a regression."""

    baseline: Literal["best", "previous"] = "best"
    window: int = Field(5, ge=1, le=MAX_HISTORY)
    pinned: str | None = None
    fail: bool = False

    @field_validator("pinned")
    @classmethod
    def _pinned(cls, v: str | None) -> str | None:
        return None if v is None else _root(v)


TRACKING_URI = re.compile(r"[a-z][a-z0-9+.-]{0,30}:[^\s]{1,4000}")
"""An MLflow tracking URI (``sqlite:////srv/mlflow.db``, ``http://host:5000``)."""


class MlflowSettings(_Strict):
    """Log each run to MLflow (:mod:`pipeline.tracking`; needs the ``mlflow`` extra,
    ``pip install -c constraints.txt -e '.[mlflow]'``).

    ``uri``: the tracking URI; ``None`` stores beside the runs (``sqlite:///<runs
    folder>/mlflow.db``, artifacts in ``<runs folder>/mlartifacts``). ``experiment``: ``None``
    names it ``diffml-<run name>``. A tracking failure is a warning, never a failed run."""

    enabled: bool = False
    uri: str | None = Field(None, max_length=MAX_PATH_CHARS)
    experiment: str | None = Field(None, min_length=1, max_length=MAX_TEXT)

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str | None) -> str | None:
        if v is not None and not TRACKING_URI.fullmatch(v):
            raise ValueError("must be a tracking URI such as sqlite:////srv/mlflow.db or "
                             f"http://host:5000; got {limits.shown(v)}")
        return v

    @field_validator("experiment")
    @classmethod
    def _experiment(cls, v: str | None) -> str | None:
        if v is not None and any(ord(c) < 32 for c in v):
            raise ValueError(f"must be printable text; got {limits.shown(v)}")
        return v


class TrackingSettings(_Strict):
    """Experiment trackers a finished run is logged to (MLflow only, off by default)."""

    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)


class RunConfig(_Strict):
    name: str
    seed: Seed = 0
    output_root: str = "runs"
    dataset_root: str = "datasets"
    backend: Literal["cpu", "gpu", "auto"] = "cpu"
    chunk_paths: int = Field(262_144, ge=1, le=MAX_CHUNK_PATHS)
    regression_tolerance: float = Field(1.5, gt=1.0, le=MAX_REGRESSION_TOLERANCE)
    regression: RegressionGate = Field(default_factory=lambda: RegressionGate())
    history: int = Field(14, ge=1, le=MAX_HISTORY)
    dask: DaskSettings = Field(default_factory=DaskSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    scenarios: list[Scenario] = Field(min_length=1, max_length=MAX_SCENARIOS)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _identifier(v)

    @field_validator("output_root", "dataset_root")
    @classmethod
    def _roots(cls, v: str) -> str:
        return _root(v)

    @model_validator(mode="after")
    def _gpu_workers_need_a_gpu_backend(self) -> RunConfig:
        if self.dask.gpu_workers and self.dask.enabled and self.backend == "cpu":
            raise ValueError("dask.gpu_workers needs backend 'gpu' or 'auto' (the workers would "
                             "simulate on their CPUs); got backend 'cpu'")
        return self

    @model_validator(mode="after")
    def _parts_per_dataset(self) -> RunConfig:
        for s in self.scenarios:
            try:
                limits.check_parts("n_paths" if s.n_paths else "training.sizes", s.paths,
                                   self.chunk_paths)
            except Refused as exc:
                raise ValueError(f"scenario {s.id!r}, {exc}") from None
        return self

    @model_validator(mode="after")
    def _unique_ids(self) -> RunConfig:
        ids = [s.id for s in self.scenarios]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"scenario ids must be unique; repeated: {dup}")
        return self

    def scenario(self, scenario_id: str) -> Scenario:
        for s in self.scenarios:
            if s.id == scenario_id:
                return s
        raise ConfigError(f"no scenario {limits.shown(scenario_id)}; known: "
                          f"{limits.shown([s.id for s in self.scenarios], 300)}")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def join_errors(lines: list[str]) -> str:
    """One line per error (control characters escaped, each cut to :data:`MAX_LINE_CHARS`),
    at most :data:`MAX_MESSAGE_CHARS` in all, then "... and N more"."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        line = "".join(c if ord(c) >= 32 else repr(c)[1:-1] for c in line)
        if len(line) > MAX_LINE_CHARS:
            line = line[: MAX_LINE_CHARS - 3] + "..."
        if out and used + len(line) > MAX_MESSAGE_CHARS:
            out.append(f"... and {len(lines) - i} more")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _format(exc: ValidationError, raw: dict) -> str:
    lines: list[str] = []
    scenarios = raw.get("scenarios") if isinstance(raw, dict) else None
    for err in exc.errors():
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "scenarios" and isinstance(loc[1], int):
            sid = None
            if isinstance(scenarios, list) and loc[1] < len(scenarios):
                item = scenarios[loc[1]]
                sid = item.get("id") if isinstance(item, dict) else None
            ok = isinstance(sid, str) and _ID.fullmatch(sid)
            loc[1] = f"<{sid}>" if ok else f"[{loc[1]}]"
        where = ".".join(str(p) for p in loc) or "(top level)"
        value = err.get("input")
        shown = "" if err["type"] == "missing" else " (got a mapping)" \
            if isinstance(value, dict) else f" (got {limits.shown(value)})"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "literal_error":
            msg = msg.replace("Input should be", "allowed values:")
        elif err["type"] == "value_error":
            msg, shown = msg.removeprefix("Value error, "), ""
        elif err["type"] == "string_type" and isinstance(value, (int, float, dt.date)):
            shown += ("; quote it to keep it text (an unquoted 2e3 or 10 is a number, "
                      "2026-01-01 a date)")
        line = f"{where}: {msg}{shown}"
        if line not in lines:
            lines.append(line)
    return join_errors(lines)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing duplicate keys in a mapping (merge keys ``<<`` aside)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:  # an unhashable key: SafeLoader's own error follows
                    continue
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {limits.shown(key)} (first at line "
                        f"{seen[key]})", key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 (PyYAML) reads 1e-6 and 1.0e9 as strings: it wants a dot and a signed exponent.
# Read every exponent number as a float, as YAML 1.2 and every other config language do.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


class YAMLRefused(ValueError):
    """A YAML document that parses but is refused: a duplicate key, an unsafe tag, a recursive
    alias, nesting deeper than :data:`MAX_YAML_DEPTH`, or more than :data:`MAX_YAML_NODES`
    nodes once aliases are expanded (a ``--set`` value like that is an error, not text)."""


def _expanded_nodes(root: yaml.Node) -> int:
    """Nodes of the document with every alias expanded, stopping past :data:`MAX_YAML_NODES`;
    a recursive alias or nesting deeper than :data:`MAX_YAML_DEPTH` raises ``ValueError``."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise YAMLRefused(f"a recursive alias (line {node.start_mark.line + 1})")
        if depth > MAX_YAML_DEPTH:
            raise YAMLRefused(f"nested deeper than {MAX_YAML_DEPTH} levels "
                              f"(line {node.start_mark.line + 1})")
        active.add(id(node))
        children: list = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_YAML_NODES:
                break
        active.discard(id(node))
        sizes[id(node)] = total
        return total

    return size(root, 0)


def _load_yaml(text: str) -> Any:
    """Parse one YAML document: duplicate keys, recursive aliases, deep nesting and alias
    expansion beyond :data:`MAX_YAML_NODES` nodes raise ``ValueError`` (one line)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_nodes(node) > MAX_YAML_NODES:
            raise YAMLRefused(f"more than {MAX_YAML_NODES} nodes once its aliases are expanded")
        return loader.construct_document(node)
    except yaml.constructor.ConstructorError as exc:  # duplicate keys, unsafe tags
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise YAMLRefused(f"{exc.problem or exc.context}{where}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ValueError(f"{exc.problem or exc.context}{where}") from None
    except yaml.YAMLError as exc:
        raise ValueError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    except RecursionError:
        raise YAMLRefused(f"nested deeper than {MAX_YAML_DEPTH} levels") from None
    finally:
        loader.dispose()


def _parse_value(text: str) -> Any:
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"--set value longer than {MAX_CONFIG_BYTES} characters")
    try:
        return _load_yaml(text)
    except YAMLRefused as exc:  # YAML, but refused: an error, not a string
        raise ConfigError(f"--set value {limits.shown(text)}: {exc}") from None
    except ValueError:  # not YAML: the text itself (e.g. a label with a colon)
        return text


def apply_override(raw: dict, assignment: str) -> dict:
    """Apply ``path.to.key=value`` to the raw config (scenarios are addressed by id).

    Example: ``scenarios.bs_call.model.vol=0.22``. The value is parsed as YAML. A scenario id
    may itself hold dots (``scenarios.bs.v2.model.vol=0.3`` addresses the scenario ``bs.v2``):
    the longest run of parts that names a scenario is taken.
    """
    if "=" not in assignment:
        raise ConfigError(f"--set expects KEY=VALUE (e.g. scenarios.bs.model.vol=0.22). "
                          f"Got {assignment!r}.")
    key, value = assignment.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set has an empty key: {assignment!r}")
    node: Any = raw
    walked = []
    i = 0
    while i < len(parts):
        part = parts[i]
        last = i == len(parts) - 1
        if isinstance(node, list) and not all(isinstance(s, dict) and "id" in s for s in node):
            raise ConfigError(f"--set {key}: {'.'.join(walked)} is a list; set it whole, e.g. "
                              f"--set {'.'.join(walked)}=[...]")
        if isinstance(node, list):
            ids = {s.get("id") for s in node if isinstance(s, dict)}
            for j in range(len(parts), i + 1, -1):  # the longest dotted id first
                if ".".join(parts[i:j]) in ids:
                    part, i = ".".join(parts[i:j]), j - 1
                    last = i == len(parts) - 1
                    break
            match = [s for s in node if isinstance(s, dict) and s.get("id") == part]
            if not match:
                ids = [s.get("id") for s in node if isinstance(s, dict)]
                raise ConfigError(f"--set {key}: no scenario {part!r} under "
                                  f"{'.'.join(walked)}; known ids: {ids}")
            if last:
                raise ConfigError(f"--set {key}: cannot replace a whole scenario")
            node = match[0]
        elif isinstance(node, dict):
            if last:
                node[part] = _parse_value(value)
            else:
                if part not in node or node[part] is None:
                    node[part] = {}
                node = node[part]
        else:
            raise ConfigError(f"--set {key}: {'.'.join(walked)} is a value, not a section")
        walked.append(part)
        i += 1
    return raw


def merge(base: Any, patch: Any) -> Any:
    """Deep-merge ``patch`` over ``base``; lists of scenarios merge by id."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base.get(k), v) if k in base else v
        return out
    if (isinstance(base, list) and isinstance(patch, list) and base
            and all(isinstance(s, dict) and "id" in s for s in base)
            and not all(isinstance(s, dict) and "id" in s for s in patch)):
        bad = next(i for i, s in enumerate(patch) if not (isinstance(s, dict) and "id" in s))
        raise ConfigError(f"parameters file: scenarios[{bad}] has no 'id'; each entry names the "
                          f"scenario it changes, one of {[s['id'] for s in base]}")
    if (isinstance(base, list) and isinstance(patch, list)
            and all(isinstance(s, dict) and "id" in s for s in base + patch)):
        bad = next((i for i, s in enumerate(base) if not isinstance(s["id"], str)), None)
        if bad is not None:
            raise ConfigError(f"scenarios[{bad}].id must be a scenario id (a string); got "
                              f"{limits.shown(base[bad]['id'])}")
        known = limits.shown([s["id"] for s in base], 300)
        bad = next((i for i, s in enumerate(patch) if not isinstance(s["id"], str)), None)
        if bad is not None:
            raise ConfigError(f"parameters file: scenarios[{bad}].id must be a scenario id (a "
                              f"string), one of {known}; got {limits.shown(patch[bad]['id'])}")
        out = [dict(s) for s in base]
        by_id = {s["id"]: i for i, s in enumerate(out)}
        ids = [s["id"] for s in patch]
        twice = sorted({str(i) for i in ids if ids.count(i) > 1})
        if twice:
            raise ConfigError(f"parameters file names scenario ids more than once: {twice}; "
                              f"scenario ids must be unique")
        for s in patch:
            if s["id"] in by_id:
                out[by_id[s["id"]]] = merge(out[by_id[s["id"]]], s)
            else:
                raise ConfigError(f"parameters file names scenario {limits.shown(s['id'])}, "
                                  f"which the config does not have; known: {known}")
        return out
    return copy.deepcopy(patch)


def _read_yaml(path: str | Path, what: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} {str(p)!r} does not exist" if not p.exists() else
                          f"{what} {str(p)!r} is not a file")
    try:
        too_big = p.stat().st_size > MAX_CONFIG_BYTES
    except OSError as exc:
        raise ConfigError(f"{what} {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    if too_big:
        raise ConfigError(f"{what} {str(p)!r} is larger than the limit of {MAX_CONFIG_BYTES} "
                          f"bytes")
    try:
        data = _load_yaml(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {str(p)!r} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{what} {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{what} {str(p)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {str(p)!r} must hold a mapping at the top level")
    return data


def parse_config(raw: dict) -> RunConfig:
    """Validate a raw mapping: its structure, then each scenario's parameter objects, test box,
    reference and solver options (every error, one line each, in one ``ConfigError``)."""
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format(exc, raw)) from None
    resolved, errors = [], []
    for s in cfg.scenarios:
        try:
            objs = s.objects()
            _check_test_box(s, objs)
            checked = _check_reference(s, objs)
            _check_options(checked, objs)
            _check_backward(checked, objs, cfg.seed if s.seed is None else s.seed)
            resolved.append(checked)
        except ConfigError as exc:
            errors.append(str(exc))
    if cfg.regression.pinned is not None:
        from evaluation.trend import load_metrics

        try:
            load_metrics(cfg.regression.pinned)
        except (OSError, ValueError) as exc:
            errors.append(f"field 'regression.pinned': a run directory with a readable "
                          f"metrics.json; {limits.shown(cfg.regression.pinned)}: "
                          f"{str(exc).splitlines()[0]}")
    if errors:
        raise ConfigError(join_errors(errors))
    if any(r is not s for r, s in zip(resolved, cfg.scenarios, strict=True)):
        cfg = cfg.model_copy(update={"scenarios": resolved})
    return cfg


def surrogate_learns_risk_free(objs: dict[str, Any]) -> bool:
    """True for a two-signed product (``sign`` 0: a forward, a netting set of both signs) under
    an XVA: its risky value solves a non-linear PDE, the simulators give no XVA labels, so the
    surrogate learns the risk-free value and the XVA comes from the PDE references."""
    if objs["xva"] is None:
        return False
    import simulators as sim

    return sim.payoff_sign(objs["product"], objs["model"]) == 0


def _check_reference(s: Scenario, objs: dict[str, Any]) -> Scenario:
    """Refuse reference settings that cannot run (one line naming scenario, field and reason);
    returns the scenario with the default cross-checks of ``method: pinn`` filled in."""
    from . import registry

    ref = s.reference
    model, product = objs["model"], objs["product"]
    pair = f"{type(model).__name__} with {type(product).__name__}"
    available = registry.lookup(model, product).available()

    def fail(field: str, why: str) -> None:
        raise ConfigError(f"scenario {s.id!r}, field {field!r}: {why}")

    if ref.method == "pinn":
        if s.pinn is None or not s.pinn.enabled:
            fail("pinn", "reference.method 'pinn' needs an enabled 'pinn' block (the PINN's "
                 "settings, e.g. {variant: best, options: {time_limit: 60}})")
        if "pinn" not in available:
            fail("reference.method", registry.missing("pinn", model, product))
    if surrogate_learns_risk_free(objs):
        what = ("two-signed netting set" if type(product).__name__ == "NettingSet"
                else f"two-signed {type(product).__name__} (kind {product.kind!r})")
        pdes = [m for m in ("fd", "pinn") if m in available]
        hint = (f"use reference.method {' or '.join(repr(m) for m in pdes)}" if pdes
                else f"no PDE reference exists for {pair}")
        why = (f"the risky (XVA) value of a {what} is non-linear and has no closed form; "
               f"{hint}")
        if ref.method not in pdes:
            fail("reference.method", why if ref.method == "analytic" else
                 f"{registry.missing(ref.method, model, product)} (a {what} under XVA needs "
                 "a PDE reference)")
        if "analytic" in ref.cross_checks:
            fail("reference.cross_checks", f"the risky (XVA) value of a {what} is non-linear "
                 "and has no closed form; cross-check with 'fd' (or none)")
    if ref.method == "pinn" and "cross_checks" not in ref.model_fields_set:
        checks = ["fd"] if "fd" in available and len(model.inputs) <= 2 else []
        return s.model_copy(update={"reference": ref.model_copy(update={"cross_checks": checks})})
    return s


def _check_test_box(s: Scenario, objs: dict[str, Any]) -> None:
    """One bound per input (or a scalar), low <= high, inside the model's admissible range;
    the dataset's rows within :data:`pipeline.limits.MAX_DATASET_BYTES`."""
    import numpy as np

    from simulators.samplers import domain_rule, outside_domain

    model = objs["model"]
    d = len(model.inputs)
    for field in ("low", "high"):
        v = getattr(s.test, field)
        if isinstance(v, list) and len(v) not in (1, d):
            raise ConfigError(f"scenario {s.id!r}, field 'test.{field}': one bound per input "
                              f"{list(model.inputs)} ({d}) or a scalar. Got {len(v)} values.")
    lows, highs = _box(s.test.low, d), _box(s.test.high, d)
    for name, lo, hi in zip(model.inputs, lows, highs, strict=True):
        if lo > hi:
            raise ConfigError(f"scenario {s.id!r}, field 'test.low' ({name}): must be <= "
                              f"test.high {hi:g}. Got {lo:g} instead.")
        bad_lo, bad_hi = outside_domain(model, name, np.array([lo, hi]))
        if bad_lo or bad_hi:
            bad, field = (lo, "low") if bad_lo else (hi, "high")
            raise ConfigError(f"scenario {s.id!r}, field 'test.{field}' ({name}): must be "
                              f"{domain_rule(model, name, 'g')} for {type(model).__name__}. "
                              f"Got {bad:g} instead.")
    try:
        limits.check_dataset_size("n_paths" if s.n_paths else "training.sizes", s.paths, d)
    except Refused as exc:
        raise ConfigError(f"scenario {s.id!r}, {exc}") from None


def _box(v: list[float] | float, d: int) -> list[float]:
    return [float(x) for x in (v * d if len(v) == 1 else v)] if isinstance(v, list) else [v] * d


def _check_options(s: Scenario, objs: dict[str, Any]) -> None:
    """``reference.fd`` and ``pinn.options`` against their solvers' tables, the test box inside
    the FD grid when an FD reference runs, and the PINN problem of an enabled ``pinn`` block."""
    from . import registry

    model, product = objs["model"], objs["product"]
    entry = registry.lookup(model, product)
    solver = None if entry.fd is None else entry.fd.__name__
    try:
        limits.check_fd(s.reference.fd, solver, len(model.inputs), product.strike)
    except Refused as exc:
        raise ConfigError(f"scenario {s.id!r}, {exc}") from None
    methods = (s.reference.method, *s.reference.cross_checks)
    if solver is None and "fd" in methods:
        field = "reference.method" if s.reference.method == "fd" else "reference.cross_checks"
        raise ConfigError(f"scenario {s.id!r}, field {field!r}: "
                          f"{registry.missing('fd', model, product)}")
    if solver is not None and "fd" in methods:
        _check_fd_inputs(s, model, product, solver)
        _check_fd_domain(s, model, product, solver)
    if "analytic" in methods:
        _check_analytic(s, objs)
    if s.pinn is None or not s.pinn.enabled:
        return
    if entry.pde_problem is None:
        raise ConfigError(f"scenario {s.id!r}, field 'pinn': "
                          f"{registry.missing('pinn', model, product)}")
    try:
        problem = entry.pde_problem(model, product, objs["xva"])
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"scenario {s.id!r}, field 'pinn': {exc}") from None
    try:
        limits.check_pinn(s.pinn.options, s.pinn.variant, problem.dim)
    except Refused as exc:
        raise ConfigError(f"scenario {s.id!r}, {exc}") from None
    _check_pinn_fit(s, problem)
    if s.pinn.parametric is not None:
        from training.pinn.problems import ParametricPDE
        from training.pinn.reuse import training_ranges

        try:  # the names are the problem's declarable parameters, the ranges valid values
            ParametricPDE(problem=problem,
                          parameters=training_ranges(s.pinn.parametric.ranges, problem))
        except ValueError as exc:
            raise ConfigError(f"scenario {s.id!r}, field 'pinn.parametric': {exc}") from None


def _check_pinn_fit(s: Scenario, problem: Any) -> None:
    """``pinn`` settings the problem can take: a sign-split or smoothed-payoff base needs a
    netting set (not BasketPDE or WorstOfPDE); ``parameter_copies`` is ``parametric.copies``'s
    in a parametric run; the test box inside the PINN's domain (its evaluation refuses points
    outside, after the training)."""
    def fail(field: str, why: str) -> None:
        raise ConfigError(f"scenario {s.id!r}, field {field!r}: {why}")

    base = s.pinn.options.get("base")
    if base in ("split", "smoothed_payoff") and getattr(problem, "netting_set", None) is None:
        fail("pinn.options.base", f"the {base!r} base needs a netting set, which "
             f"{type(problem).__name__} has not; use 'risk_free' (or null)")
    if s.pinn.parametric is not None and "parameter_copies" in s.pinn.options:
        fail("pinn.options.parameter_copies", "left out in a parametric run: "
             "pinn.parametric.copies sets it")
    d = len(problem.state_names)
    highs = _box(s.test.high, d)
    for i, (name, top) in enumerate(zip(problem.state_names, problem.upper, strict=True)):
        if highs[i] > top:
            fail("test.high", f"must be <= {top:g} for {name}, the upper bound of the domain "
                 f"the PINN solves on (its evaluation refuses points beyond); got "
                 f"{highs[i]:g}")


def _check_backward(s: Scenario, objs: dict[str, Any], seed: int) -> None:
    """An enabled ``backward`` block: a model whose inputs are its state, the regressor's keys,
    the states in memory, a seed the solve takes, and today's state of the exposure inside the
    model's admissible inputs."""
    b = s.backward
    if b is None or not b.enabled:
        return
    from .limits import MAX_BACKWARD_SEED

    model = objs["model"]
    state = tuple(getattr(model, "state_inputs", ()))

    def fail(field: str, why: str) -> None:
        raise ConfigError(f"scenario {s.id!r}, field {field!r}: {why}")

    if not state or tuple(model.inputs) != state:
        fail("backward", f"must be on a model whose inputs are its state {state} (the backward "
             "solve takes no parameter inputs such as vol or rate). Got inputs "
             f"{tuple(model.inputs)} instead.")
    try:
        limits.check_backward(b.regressor, b.dates, b.paths_per_date, len(state))
    except Refused as exc:
        raise ConfigError(f"scenario {s.id!r}, {exc}") from None
    if seed >= MAX_BACKWARD_SEED:
        fail("seed", f"must be an integer in [0, {MAX_BACKWARD_SEED - 1}] with a backward block "
             f"(the solve's RNG key; the scenario's seed, else the run's). Got {seed} instead.")
    from training.backward import Source, date_grid
    from training.backward.solver import check_steps

    try:  # the Crank-Nicolson step's limit on dt x spread
        check_steps(date_grid(b.dates, float(objs["product"].maturity)),
                    Source.of(objs["xva"]), 0.5 if b.scheme == "crank_nicolson" else 1.0)
    except ValueError as exc:
        fail("backward.dates", str(exc).split(" must ", 1)[-1].replace("be ", "must be ", 1))
    x0 = b.exposure.state
    if b.exposure.enabled and x0 is not None:
        if len(x0) != len(state):
            fail("backward.exposure.state", f"must be one number per input {list(state)} "
                 f"({len(state)}). Got {len(x0)} values instead.")
        import numpy as np

        from simulators.samplers import domain_rule, outside_domain

        for name, v in zip(state, x0, strict=True):
            if outside_domain(model, name, np.array(v)):
                fail("backward.exposure.state", f"({name}) must be "
                     f"{domain_rule(model, name, 'g')} for {type(model).__name__}. "
                     f"Got {v:g} instead.")


def exposure_state(s: Scenario, d: int) -> list[float]:
    """Today's state of the exposure profile: ``backward.exposure.state``, else the centre of
    the test box (one number per input)."""
    given = None if s.backward is None else s.backward.exposure.state
    if given is not None:
        return [float(v) for v in given]
    lows, highs = _box(s.test.low, d), _box(s.test.high, d)
    return [0.5 * (lo + hi) for lo, hi in zip(lows, highs, strict=True)]


def _check_fd_inputs(s: Scenario, model: Any, product: Any, solver: str) -> None:
    """The FD solvers' states: the spot (1-D), two spots without vol inputs, (spot, variance)."""
    from . import registry

    if solver == "fd_basket_2d":
        ok, states = model.dim == 2 and not getattr(model, "vol_inputs", False), "2 spots"
    elif solver == "fd_heston_2d":
        ok, states = tuple(model.inputs) == ("spot", "variance"), "inputs (spot, variance)"
    else:
        ok, states = tuple(model.inputs) == ("spot",), "inputs ('spot',)"
    if not ok:
        field = "reference.method" if s.reference.method == "fd" else "reference.cross_checks"
        label = registry.missing("fd", model, product).split(";")[0]
        raise ConfigError(f"scenario {s.id!r}, field {field!r}: {label}: the FD solver takes "
                          f"{states} only; the model's inputs are {tuple(model.inputs)}")


def _check_analytic(s: Scenario, objs: dict[str, Any]) -> None:
    """The closed form accepts this configuration: evaluated at the test box's corners."""
    import numpy as np

    from . import references

    d = len(objs["model"].inputs)
    x = np.array([_box(s.test.low, d), _box(s.test.high, d)])
    field = "reference.method" if s.reference.method == "analytic" else "reference.cross_checks"
    try:
        references.analytic(objs["model"], objs["product"], x, objs["xva"])
    except ValueError as exc:  # a NoReference, or a parameter the closed form refuses
        raise ConfigError(f"scenario {s.id!r}, field {field!r}: {exc}") from None


def _check_fd_domain(s: Scenario, model: Any, product: Any, solver: str) -> None:
    """The test box inside the FD grid: spots below ``s_max`` (the solver's default when not
    given), the Heston variance below ``v_max``."""
    from .pricers import plain_two_asset_option, spot_kinks

    opts = s.reference.fd
    d = len(model.inputs)
    highs = _box(s.test.high, d)
    k = max(spot_kinks(product))  # the FD references' scale, in spot units
    tau = product.maturity
    if solver == "fd_heston_2d":
        from evaluation.fd import heston_s_max

        plain = type(product).__name__ == "European" and product.kind in ("call", "put")
        center = opts.get("center") or k if plain else k  # as pipeline.pricers.fd_heston_2d
        carry = model.rate - model.dividend
        tops = {0: ("s_max", opts.get("s_max") or heston_s_max(center, model.theta, tau, carry)),
                1: ("v_max", opts.get("v_max") or 5.0)}
    elif solver == "fd_basket_2d":
        given = opts.get("s_max")
        if given is not None:
            pair = given if isinstance(given, list) else [given, given]
        else:
            center = opts.get("center")
            netting = type(product).__name__ == "NettingSet"
            # a payoff other than a plain basket/worst-of/best-of call or put: the box from the
            # largest kink whatever the centre (pipeline.pricers.fd_basket_2d)
            centers = ([k] * 2 if not plain_two_asset_option(product) or center is None
                       else center if isinstance(center, list) else [center] * 2)
            from evaluation.fd import lognormal_s_max

            pair = [lognormal_s_max(c, v, tau, model.rate - q)
                    for c, v, q in zip(centers, model.vols,
                                       model.dividends or (0.0,) * len(model.vols), strict=True)]
            if netting:
                basket_legs = [leg for leg in product.legs if leg.underlying == "basket"]
            elif type(product).__name__ == "BasketOption" and product.kind in ("call", "put"):
                basket_legs = [product]
            else:
                basket_legs = []
            if basket_legs:  # as the solvers: each basket kink kept off the far faces
                from evaluation.fd import basket_reach

                for leg in basket_legs:
                    pair = [max(p, r) for p, r in
                            zip(pair, basket_reach(leg.strike, leg.weights), strict=True)]
        tops = {0: ("s_max", pair[0]), 1: ("s_max", pair[1])}
    else:
        from evaluation.fd import lognormal_s_max

        tops = {0: ("s_max", opts.get("s_max")
                    or lognormal_s_max(k, model.vol, tau, model.rate - model.dividend))}
    for i, (name, top) in tops.items():
        if i < d and highs[i] > top:
            raise ConfigError(
                f"scenario {s.id!r}, field 'test.high' ({model.inputs[i]}): must be <= the FD "
                f"grid's {name} {top:g} (set reference.fd.{name}, or lower test.high). "
                f"Got {highs[i]:g} instead.")


def load_config(path: str | Path, sets: list[str] | None = None,
                params: str | Path | None = None) -> RunConfig:
    """Read a YAML config, merge a parameters file over it, apply ``--set`` overrides."""
    raw = _read_yaml(path, "config")
    if params is not None:
        raw = merge(raw, _read_yaml(params, "parameters file"))
    for assignment in sets or []:
        raw = apply_override(raw, assignment)
    return parse_config(raw)
