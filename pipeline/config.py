"""Run configuration: pydantic models read from YAML, with overrides and clear errors.

A run is a name, a seed, roots for outputs and datasets, a backend, Dask settings and a list of
scenarios. A scenario is one (model, product, sampler[, XVA]) with its training sizes, test set,
reference method and optional PINN settings. Model, product, sampler and XVA blocks are the
``to_dict()`` form of the ``simulators`` parameter objects (a ``type`` key plus parameters), so
every parameter check of the simulators applies, and errors name the scenario and the field. A
netting set lists its legs: ``product: {type: NettingSet, maturity: 1.0, legs: [{kind: call,
strike: 110, quantity: 1}, {kind: put, strike: 90, quantity: -1}]}`` (leg keys: kind, strike,
quantity, underlying, weights); the product must fit the model's number of assets.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")


RANDOM_BASKET = "RandomBachelierBasket"
"""Config shorthand: ``model: {type: RandomBachelierBasket, dim: 7, seed: 1}`` builds the
Huge-Savine random basket; ``product: {type: RandomBachelierBasket}`` is its basket call."""


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the scenario, field and value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DaskSettings(_Strict):
    """Where tasks run. ``address`` connects to an existing cluster; otherwise a LocalCluster
    with ``n_workers`` workers is started (threads by default: one process shares one Prefect
    API; ``processes: true`` gives process workers and exports one API URL to them)."""

    address: str | None = None
    n_workers: int = Field(2, ge=1)
    threads_per_worker: int = Field(1, ge=1)
    processes: bool = False
    enabled: bool = True


class TrainingSettings(_Strict):
    """Learning-curve settings: a DifferentialRegressor fit per (size, mode, seed)."""

    sizes: list[int] = Field(default_factory=lambda: [1024, 4096], min_length=1)
    modes: list[Literal["standard", "differential"]] = Field(
        default_factory=lambda: ["standard", "differential"], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    epochs: int = Field(100, ge=1)
    hidden_layers: int = Field(4, ge=1)
    hidden_units: int = Field(20, ge=1)
    lam: float = Field(1.0, ge=0.0)
    peak_lr: float | None = Field(None, gt=0.0)
    dtype: Literal["float64", "float32"] = "float32"

    @field_validator("sizes")
    @classmethod
    def _positive_sizes(cls, v: list[int]) -> list[int]:
        if any(m < 2 for m in v):
            raise ValueError(f"every training size must be >= 2, got {v}")
        return sorted(set(v))


class EvaluationSet(_Strict):
    """Test inputs: ``n`` points, a grid along the first input (1-D) or seeded uniform points
    in the box [low, high] (one bound per input, or one scalar for all)."""

    n: int = Field(100, ge=2)
    low: list[float] | float
    high: list[float] | float
    seed: int = 1234


class ReferenceSettings(_Strict):
    """Reference prices and Greeks on the test set: ``method`` and optional cross-checks.

    ``method: pinn`` takes them from the scenario's trained PINN (its ``pinn:`` block is then
    required); its cross-checks default to ``[fd]`` where an FD solver exists for the pair (states
    of at most two dimensions), else ``[]``. ``fd`` are keyword arguments of the FD solver."""

    method: Literal["analytic", "fd", "pinn"] = "analytic"
    cross_checks: list[Literal["analytic", "fd"]] = Field(default_factory=list)
    fd: dict[str, Any] = Field(default_factory=dict)


class PinnSettings(_Strict):
    """Boundary-safe PINN reference for the scenario's PDE (training.pinn)."""

    enabled: bool = True
    variant: Literal["boundary_safe", "classical", "best"] = "boundary_safe"
    options: dict[str, Any] = Field(default_factory=dict)


class Scenario(_Strict):
    id: str
    label: str = ""
    model: dict[str, Any]
    product: dict[str, Any]
    sampler: dict[str, Any]
    xva: dict[str, Any] | None = None
    seed: int | None = None
    antithetic: bool = False
    n_paths: int | None = Field(None, ge=2)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    test: EvaluationSet
    reference: ReferenceSettings = Field(default_factory=ReferenceSettings)
    pinn: PinnSettings | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v) or len(v) > 60:
            raise ValueError("must be 1-60 letters, digits, '_' or '.', starting with a letter or "
                             f"digit; got {v!r}")
        return v

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
                                  f"Got {block.get('type')!r}.")
            try:
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
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"scenario {self.id!r}, field '{field}': {exc}") from None
        try:  # the product fits the model (e.g. a netting set's legs on as many assets)
            out["product"].encode(out["model"].dim)
        except ValueError as exc:
            raise ConfigError(f"scenario {self.id!r}, field 'product': {exc}") from None
        return out


class RunConfig(_Strict):
    name: str
    seed: int = Field(0, ge=0)
    output_root: str = "runs"
    dataset_root: str = "datasets"
    backend: Literal["cpu", "gpu", "auto"] = "cpu"
    chunk_paths: int = Field(262_144, ge=1)
    regression_tolerance: float = Field(1.5, gt=1.0)
    history: int = Field(14, ge=1)
    dask: DaskSettings = Field(default_factory=DaskSettings)
    scenarios: list[Scenario] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _ID.match(v) or len(v) > 60:
            raise ValueError(f"must be 1-60 letters, digits, '_' or '.'; got {v!r}")
        return v

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
        raise ConfigError(f"no scenario {scenario_id!r}; known: {[s.id for s in self.scenarios]}")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _format(exc: ValidationError, raw: dict) -> str:
    lines = []
    scenarios = raw.get("scenarios") if isinstance(raw, dict) else None
    for err in exc.errors():
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "scenarios" and isinstance(loc[1], int):
            sid = None
            if isinstance(scenarios, list) and loc[1] < len(scenarios):
                item = scenarios[loc[1]]
                sid = item.get("id") if isinstance(item, dict) else None
            loc[1] = f"<{sid}>" if sid else f"[{loc[1]}]"
        where = ".".join(str(p) for p in loc) or "(top level)"
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "literal_error":
            msg = msg.replace("Input should be", "allowed values:")
        lines.append(f"{where}: {msg}{shown}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_override(raw: dict, assignment: str) -> dict:
    """Apply ``path.to.key=value`` to the raw config (scenarios are addressed by id).

    Example: ``scenarios.bs_call.model.vol=0.22``. The value is parsed as YAML.
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
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
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
    return raw


def merge(base: Any, patch: Any) -> Any:
    """Deep-merge ``patch`` over ``base``; lists of scenarios merge by id."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base.get(k), v) if k in base else v
        return out
    if (isinstance(base, list) and isinstance(patch, list)
            and all(isinstance(s, dict) and "id" in s for s in base + patch)):
        out = [dict(s) for s in base]
        by_id = {s["id"]: i for i, s in enumerate(out)}
        for s in patch:
            if s["id"] in by_id:
                out[by_id[s["id"]]] = merge(out[by_id[s["id"]]], s)
            else:
                raise ConfigError(f"parameters file names scenario {s['id']!r}, which the config "
                                  f"does not have; known: {list(by_id)}")
        return out
    return copy.deepcopy(patch)


def _read_yaml(path: str | Path, what: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} {str(p)!r} does not exist")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {str(p)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {str(p)!r} must hold a mapping at the top level")
    return data


def parse_config(raw: dict) -> RunConfig:
    """Validate a raw mapping (structure, then every parameter object)."""
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format(exc, raw)) from None
    resolved = []
    for s in cfg.scenarios:
        objs = s.objects()
        _check_test_box(s)
        resolved.append(_check_reference(s, objs))
    if any(r is not s for r, s in zip(resolved, cfg.scenarios, strict=True)):
        cfg = cfg.model_copy(update={"scenarios": resolved})
    return cfg


def surrogate_learns_risk_free(objs: dict[str, Any]) -> bool:
    """True for a two-signed product (``sign`` 0: a forward, a netting set of both signs) under
    an XVA: its risky value solves a non-linear PDE, the simulators give no XVA labels, so the
    surrogate learns the risk-free value and the XVA comes from the PDE references."""
    return objs["xva"] is not None and getattr(objs["product"], "sign", 1) == 0


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


def _check_test_box(s: Scenario) -> None:
    model = s.objects()["model"]
    d = len(model.inputs)
    for field in ("low", "high"):
        v = getattr(s.test, field)
        if isinstance(v, list) and len(v) not in (1, d):
            raise ConfigError(f"scenario {s.id!r}, field 'test.{field}': one bound per input "
                              f"{list(model.inputs)} ({d}) or a scalar. Got {len(v)} values.")


def load_config(path: str | Path, sets: list[str] | None = None,
                params: str | Path | None = None) -> RunConfig:
    """Read a YAML config, merge a parameters file over it, apply ``--set`` overrides."""
    raw = _read_yaml(path, "config")
    if params is not None:
        raw = merge(raw, _read_yaml(params, "parameters file"))
    for assignment in sets or []:
        raw = apply_override(raw, assignment)
    return parse_config(raw)
