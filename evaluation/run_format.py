"""The schema of a run's ``metrics.json`` (schema_version 1, docs/run-format.md) as pydantic
models, shared by the writer (``pipeline.run.write_metrics``) and the readers
(:func:`evaluation.trend.load_metrics`, the report, the CLI).

The models fix what every reader relies on: the run's name, stamp and status, each scenario's
status and error, its shape checks (which the CLI and the report flag), and the shape of a
regression. The numeric blocks of a scenario (``summary``, ``learning_curve``, ``reference``,
``pinn``...) are kept as they are (``extra="allow"``), so a new metric does not need a schema
change; the readers reach them with :func:`evaluation.trend.get_metric`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

SCHEMA_VERSION = 1


class RunStatus(StrEnum):
    """``ok``: every scenario succeeded; ``partial``: some failed; ``failed``: all failed."""

    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"


class ScenarioStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class RunInfo(_Open):
    """The ``run`` block."""

    name: str = Field(min_length=1)
    stamp: str
    status: RunStatus
    dir: str | None = None
    started: str | None = None
    finished: str | None = None
    package_version: str | None = None
    code: dict[str, Any] | None = None
    backend: str | None = None
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    previous: str | None = None
    regression_tolerance: float | None = Field(None, gt=1.0)


class CheckResult(_Open):
    """One entry of a scenario's ``checks.results`` (:func:`evaluation.diagnostics.check_shape`):
    a property of the product checked for one predictor at every test point."""

    predictor: str
    rule: str
    passed: StrictBool  # JSON true/false only: the readers test it as written
    violations: int = Field(ge=0)
    n: int = Field(ge=0)
    quantity: Literal["value", "greek", "gamma"] | None = None
    input: str | None = None


class Checks(_Open):
    """A scenario's ``checks``: the relative tolerance, what was checked, and the results."""

    tolerance: float | None = Field(None, ge=0.0)
    note: str | None = None
    results: list[CheckResult] = Field(default_factory=list)


class BackwardRow(_Open):
    """One row of a scenario's ``backward.rows`` (``pipeline.backward_step``): a value of the
    netting set (the backward surrogate, a PDE reference, the risk-free value, an
    approximation), its seconds, and ``vs``: its errors against each risky reference by method
    (``fd``, ``pinn``): ``value_relative`` (RMS error / RMS of the reference),
    ``greek_relative`` per state input, the RMSEs and ``log10_rel_l2``."""

    key: Literal["backward", "pinn", "fd", "risk_free", "surrogate", "linear_positive",
                 "linear_negative", "split", "cva_dva"]
    label: str
    seconds: float | None = None
    vs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    exact: bool | None = None
    today_only: bool = False


class DateFitRecord(_Open):
    """One entry of ``backward.history``: how the regression of date k went
    (``training.backward.DateFit``)."""

    date: int = Field(ge=0)
    time: float
    paths: int = Field(ge=1)
    seconds: float
    fit_seconds: float
    r2_value: float | None = None
    r2_gradient: float | None = None


class ExposureRecord(_Open):
    """``backward.exposure``: today's state, the outer paths and PFE level, CVA and DVA (risk-free
    close-out; absent without an XVA), and ``today``: the values at today's state. The profile's
    arrays are in ``arrays/<scenario>.npz`` as ``backward_exposure_<name>``."""

    state: list[float]
    paths: int = Field(ge=1)
    quantile: float = Field(gt=0.0, lt=1.0)
    cva: float | None = None
    dva: float | None = None
    fva: float | None = None
    seconds: float | None = None


class BackwardMetrics(_Open):
    """A scenario's ``backward`` block: the risky value by backward differential regression,
    compared with the references and approximations (``rows``), with the per-date history and
    the exposure profile."""

    xva: bool
    reused: bool
    train_seconds: float
    compared_with: str | None = None
    rows: list[BackwardRow] = Field(default_factory=list)
    history: list[DateFitRecord] = Field(default_factory=list)
    exposure: ExposureRecord | None = None


class ScenarioMetrics(_Open):
    """One entry of ``scenarios``: status, error and shape checks fixed, the metric blocks
    open."""

    status: ScenarioStatus
    error: str | None = None
    label: str | None = None
    inputs: list[str] | None = None
    checks: Checks | None = None
    backward: BackwardMetrics | None = None
    # the open blocks: their content is free, their kind (a mapping, a list of them) is not
    parameters: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None
    reference: dict[str, Any] | None = None
    mc_noise: dict[str, Any] | None = None
    learning_curve: list[dict[str, Any]] | None = None
    summary: dict[str, Any] | None = None
    hedging: dict[str, Any] | None = None
    pinn: dict[str, Any] | None = None
    stage_seconds: dict[str, Any] | None = None
    models: dict[str, Any] | None = None
    reused: dict[str, Any] | None = None


class Regression(BaseModel):
    """One entry of ``regressions`` (:func:`evaluation.trend.compare`)."""

    model_config = ConfigDict(extra="forbid")

    scenario: str | None
    metric: str
    previous: float | str | None
    current: float | str | None
    ratio: float | None
    tolerance: float


class MetricsFile(_Open):
    """A whole ``metrics.json``."""

    schema_version: Literal[1]
    run: RunInfo
    scenarios: dict[str, ScenarioMetrics]
    regressions: list[Regression] = Field(default_factory=list)


def check_metrics(data: Any, where: str = "metrics.json") -> dict[str, Any]:
    """``data`` unchanged if it follows the schema; else ``ValueError`` naming the first
    offending field (``where`` names the file in the message)."""
    try:
        MetricsFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ValueError(f"{where}: field {field!r}: {err['msg']} (got "
                         f"{err.get('input')!r:.80}){more}; see docs/run-format.md") from None
    return data
